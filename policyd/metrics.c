/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      metrics - the daemon's counters in the Prometheus text exposition format
 * SYNOPSIS
 *      #include "policyd/statuscmd.h"
 *
 *      static void metrics_ldap(struct metrics_buf *b, const struct poller *p)
{
    struct poller_stats ps;

    poller_get_stats(p, &ps);
    metrics_one(b, "ldap_up", "gauge", "1 when the last LDAP poller round reached the directory.",
                ps.directory_up);
    metrics_one(b, "ldap_rounds_total", "counter", "LDAP poller rounds that reached the directory.",
                ps.rounds);
    metrics_one(b, "ldap_errors_total", "counter", "LDAP poller rounds cut short by the directory.",
                ps.errors);
    metrics_one(b, "ldap_unblocked_total", "counter",
                "Blocks cleared by the LDAP poller after a password change.", ps.unblocked);
}

static void metrics_alerts(struct metrics_buf *b, const struct alert *a)
{
    struct alert_stats as;

    alert_get_stats(a, &as);
    metrics_one(b, "alerts_sent_total", "counter", "Alert mails sendmail accepted.", as.sent);
    metrics_one(b, "alerts_failed_total", "counter", "Failed sendmail runs (each retried).",
                as.failures);
    metrics_one(b, "alerts_given_up_total", "counter",
                "Alert mails dropped after alert_retry_max attempts.", as.given_up);
}

char *metrics_format(const struct status *st, long long blocked, bool blocked_known)
 *
 *      #include "policyd/status.h"
 *
 *      void status_metrics(struct status *st, status_metrics_cb cb, void *arg)
 * DESCRIPTION
 *      Formats, from the counters in memory: the policy server's connections and requests
 *      (struct pd_stats), the Redis client (up, calls, timeouts, errors), the status
 *      socket (connections, requests by command, errors, denials, audit writes), block
 *      and unblock events seen by this process by reason, uptime, and the number of
 *      blocked mailboxes (the index's size, which the caller read; left out when Redis
 *      did not answer), the LDAP poller (directory up, rounds, errors, unblocks) and the
 *      alert mailer (sent, failed, given up) when main attached them. Counters are
 *      "_total" and start at 0 when the process starts.
 *      Format 0.0.4: "# HELP", "# TYPE", then "name{labels} value" lines.
 *
 *      The caller owns the returned string (free()). No I/O, no logging.
 *
 *      status_metrics() is the entry point of the other transports (httpmetrics(3)): one
 *      ZCARD of the index of blocked mailboxes, then metrics_format(); the callback owns
 *      the text.
 * DIAGNOSTICS
 *      None: allocation failure aborts (xmalloc).
 * SEE ALSO
 *      statuscmd.c, https://prometheus.io/docs/instrumenting/exposition_formats/
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "ldap/poller.h"
#include "policyd/alert.h"
#include "policyd/config.h"
#include "policyd/decide.h"
#include "policyd/events.h"
#include "policyd/server.h"
#include "policyd/status.h"
#include "policyd/statuscmd.h"
#include "policyd/util.h"
#include "ratelimit/track.h"

struct metrics_buf {
    char *s;
    size_t len, cap;
};

static void metrics_printf(struct metrics_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void metrics_printf(struct metrics_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (n > 0 ? (size_t)n : 0);
        b->s = xrealloc(b->s, b->cap);
    }
}

/* metrics_head - the HELP and TYPE lines of one metric. */
static void metrics_head(struct metrics_buf *b, const char *name, const char *type,
                         const char *help)
{
    metrics_printf(b, "# HELP policyd_%s %s\n# TYPE policyd_%s %s\n", name, help, name, type);
}

static void metrics_one(struct metrics_buf *b, const char *name, const char *type,
                        const char *help, unsigned long long v)
{
    metrics_head(b, name, type, help);
    metrics_printf(b, "policyd_%s %llu\n", name, v);
}

static void metrics_server(struct metrics_buf *b, const struct pd_server *srv)
{
    metrics_one(b, "connections", "gauge", "Policy clients (Postfix smtpd) connected now.",
                srv->nconns);
    metrics_one(b, "connections_accepted_total", "counter", "Policy connections accepted.",
                srv->stats.conns_accepted);
    metrics_one(b, "connections_deferred_total", "counter",
                "Times max_connections held new policy clients back.", srv->stats.conns_deferred);
    metrics_one(b, "requests_total", "counter", "Policy requests answered or in flight.",
                srv->stats.requests);
    metrics_one(b, "protocol_errors_total", "counter", "Policy connections closed for errors.",
                srv->stats.proto_errors);
    metrics_one(b, "idle_closed_total", "counter", "Policy connections closed when idle.",
                srv->stats.idle_closed);
}

static void metrics_redis(struct metrics_buf *b, const struct track *t)
{
    uint64_t calls, timeouts, errors;

    track_stats(t, &calls, &timeouts, &errors);
    metrics_one(b, "redis_up", "gauge", "1 while the Redis connection is up.", track_is_up(t));
    metrics_one(b, "redis_module", "gauge",
                "1 while tracking runs as PD.TRACK of the pdtrack Redis module (else track.lua).",
                track_is_native(t));
    metrics_one(b, "redis_calls_total", "counter", "Redis calls made.", calls);
    metrics_one(b, "redis_timeouts_total", "counter", "Redis calls that timed out.", timeouts);
    metrics_one(b, "redis_errors_total", "counter",
                "Redis calls answered with an error or while disconnected.", errors);
}

/* metrics_decide - verdicts by action and the decision latency histogram. */
static void metrics_decide(struct metrics_buf *b, const struct decide_stats *d)
{
    static const char *const actions[DECIDE_ACTIONS] = {"pass", "watch", "defer", "hold",
                                                         "block"};
    unsigned long long cum = 0;
    int i;

    metrics_head(b, "verdicts_total", "counter",
                 "Counted requests by verdict (in observe mode too, where the answer is DUNNO).");
    for (i = 0; i < DECIDE_ACTIONS; i++)
        metrics_printf(b, "policyd_verdicts_total{verdict=\"%s\"} %llu\n", actions[i],
                       (unsigned long long)d->by_action[i]);
    metrics_one(b, "unauthenticated_total", "counter",
                "Requests without sasl_username (answered DUNNO, not counted).",
                d->unauthenticated);
    metrics_one(b, "fail_action_total", "counter",
                "Requests answered with redis_fail_action (Redis down or slow).", d->fail_action);
    metrics_one(b, "blocks_written_total", "counter",
                "Block records written by this node's detection.", d->blocks_written);
    metrics_head(b, "decision_seconds", "histogram",
                 "Time from a complete request to its answer.");
    for (i = 0; i < DECIDE_LAT_BUCKETS - 1; i++) {
        cum += d->lat_le[i];
        metrics_printf(b, "policyd_decision_seconds_bucket{le=\"%g\"} %llu\n",
                       decide_lat_bounds_ms[i] / 1000.0, cum);
    }
    cum += d->lat_le[DECIDE_LAT_BUCKETS - 1];
    metrics_printf(b, "policyd_decision_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    metrics_printf(b, "policyd_decision_seconds_sum %.6f\n", d->lat_sum_s);
    metrics_printf(b, "policyd_decision_seconds_count %llu\n",
                   (unsigned long long)d->lat_count);
}

static void metrics_status(struct metrics_buf *b, const struct status *st)
{
    const struct status_stats *s = &st->stats;
    int i;

    metrics_one(b, "status_connections", "gauge", "Status socket clients connected now.",
                st->nconns);
    metrics_one(b, "status_connections_refused_total", "counter",
                "Status socket connections refused at the connection cap.", s->conns_refused);
    metrics_head(b, "status_requests_total", "counter", "Status socket requests by command.");
    for (i = 0; i < JSONREQ_NCMDS; i++)
        metrics_printf(b, "policyd_status_requests_total{command=\"%s\"} %llu\n",
                       jsonreq_cmd_name((enum jsonreq_cmd)i), (unsigned long long)s->by_cmd[i]);
    metrics_one(b, "status_errors_total", "counter",
                "Status socket requests answered with an error.", s->errors);
    metrics_one(b, "status_denied_total", "counter",
                "Status socket requests refused for the caller's role or token.", s->denied);
    metrics_one(b, "audit_written_total", "counter", "Audit entries written.", s->audit_written);
    metrics_one(b, "audit_failed_total", "counter", "Audit entries that could not be written.",
                s->audit_failed);
}

static void metrics_events(struct metrics_buf *b, const struct status *st)
{
    static const enum pd_event_type types[] = {PD_EVENT_BLOCK, PD_EVENT_UNBLOCK};
    size_t t;
    int r;

    metrics_head(b, "events_total", "counter",
                 "Block and unblock events of this process, by reason of the block.");
    for (t = 0; t < sizeof(types) / sizeof(types[0]); t++)
        for (r = 0; r < STATUS_NREASONS; r++)
            metrics_printf(b, "policyd_events_total{type=\"%s\",reason=\"%s\"} %llu\n",
                           events_type_name(types[t]),
                           statuscmd_reason_name((enum status_reason)r),
                           (unsigned long long)st->stats.events[types[t]][r]);
}

static void metrics_ldap(struct metrics_buf *b, const struct poller *p)
{
    struct poller_stats ps;

    poller_get_stats(p, &ps);
    metrics_one(b, "ldap_up", "gauge", "1 when the last LDAP poller round reached the directory.",
                ps.directory_up);
    metrics_one(b, "ldap_rounds_total", "counter", "LDAP poller rounds that reached the directory.",
                ps.rounds);
    metrics_one(b, "ldap_errors_total", "counter", "LDAP poller rounds cut short by the directory.",
                ps.errors);
    metrics_one(b, "ldap_unblocked_total", "counter",
                "Blocks cleared by the LDAP poller after a password change.", ps.unblocked);
}

static void metrics_alerts(struct metrics_buf *b, const struct alert *a)
{
    struct alert_stats as;

    alert_get_stats(a, &as);
    metrics_one(b, "alerts_sent_total", "counter", "Alert mails sendmail accepted.", as.sent);
    metrics_one(b, "alerts_failed_total", "counter", "Failed sendmail runs (each retried).",
                as.failures);
    metrics_one(b, "alerts_given_up_total", "counter",
                "Alert mails dropped after alert_retry_max attempts.", as.given_up);
}

char *metrics_format(const struct status *st, long long blocked, bool blocked_known)
{
    struct metrics_buf b = {xmalloc(4096), 0, 4096};
    uv_timeval64_t tv;

    uv_gettimeofday(&tv);
    b.s[0] = '\0';
    metrics_one(&b, "uptime_seconds", "gauge", "Seconds since policyd started.",
                (unsigned long long)(tv.tv_sec - st->started_at));
    metrics_server(&b, st->srv);
    metrics_redis(&b, status_track(st));
    if (st->srv->decide != NULL)
        metrics_decide(&b, decide_get_stats(st->srv->decide));
    if (st->poller != NULL && st->srv->cfg->ldap_uri.n > 0)
        metrics_ldap(&b, st->poller);
    if (st->alert != NULL)
        metrics_alerts(&b, st->alert);
    metrics_status(&b, st);
    metrics_events(&b, st);
    if (blocked_known)
        metrics_one(&b, "blocked_mailboxes", "gauge",
                    "Mailboxes in the index of blocked mailboxes (all nodes).",
                    (unsigned long long)blocked);
    return b.s;
}

/* One status_metrics() call waiting for the index's size. */
struct metrics_req {
    struct status *st;
    status_metrics_cb cb;
    void *arg;
};

static void metrics_on_count(void *arg, int rc, const struct track_reply *rep)
{
    struct metrics_req *r = arg;
    bool known = rc == TRACK_OK && rep->npairs == 1 && rep->pairs[0].is_int;

    r->cb(r->arg, metrics_format(r->st, known ? rep->pairs[0].ival : 0, known));
    free(r);
}

void status_metrics(struct status *st, status_metrics_cb cb, void *arg)
{
    struct metrics_req *r = xmalloc(sizeof(*r));
    char idx[KEYS_PREFIX_MAX + 16];
    const char *argv[2] = {"ZCARD", idx};
    size_t lens[2];

    r->st = st, r->cb = cb, r->arg = arg;
    snprintf(idx, sizeof(idx), "%s%s:blocked", st->srv->cfg->redis_key_prefix, KEYS_SCHEMA);
    lens[0] = 5, lens[1] = strlen(idx);
    track_command(status_track(st), 2, argv, lens, metrics_on_count, r);
}
