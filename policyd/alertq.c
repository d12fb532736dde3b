/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      alertq - the alert mails waiting for sendmail, kept in Redis until delivered
 * SYNOPSIS
 *      #include "policyd/alertq.h"
 *
 *      struct alertq *alertq_new(uv_loop_t *loop, struct track *track,
 *                                const char *pending_key, alertq_other_fn other, void *arg)
 *      void alertq_reconfigure(struct alertq *q, const struct pd_config *cfg)
 *      void alertq_add(struct alertq *q, const char *id, const char *rcpts, char *msg,
 *                      size_t len, const char *what, bool persist)
 *      size_t alertq_length(const struct alertq *q)
 *      void alertq_get_stats(const struct alertq *q, struct alertq_stats *out)
 *      void alertq_stop(struct alertq *q)
 *      struct alertq *alertq_free(struct alertq *q)
 *      size_t alertq_split(char *s, const char **v, size_t max)
 *      void alertq_command(struct track *t, track_cb cb, void *arg, int argc,
 *                          const char **argv, const size_t *lens)
 * DESCRIPTION
 *      Mails are sent in arrival order, one sendmail run at a time (alertsend(3)). A
 *      failed run (missing binary, non-zero exit, timeout) is logged with sendmail's own
 *      words and retried after alert_retry_delay, doubling up to ALERTQ_RETRY_CAP_MS,
 *      alert_retry_max attempts in all; meanwhile later mails go ahead.
 *
 *      Persistence: a mail added with persist is stored in the hash pending_key, field
 *      id, value "J1 <rcpts>\n<message>", and deleted from it once delivered or given
 *      up. With alert_enabled, the hash is read back (HGETALL) as soon as Redis answers
 *      after a start; mails this run does not hold yet are queued again, other entries
 *      go to the caller's other() callback, unreadable ones are deleted. A reply holds at
 *      most TRACK_MAX_PAIRS entries: when it was full, the hash is read again once the
 *      queue is empty (what was sent is gone from it by then).
 *
 *      A stop cancels the running sendmail (Postfix's sendmail then queues nothing) and
 *      leaves its mail in Redis: the next start sends it. Delivery is therefore at least
 *      once; a mail whose delivery crossed a stop is sent again with the same Message-ID.
 *
 *      Ownership: the queue owns its mails (msg is taken over by alertq_add) and its
 *      timer; the config is borrowed (the caller keeps it alive across reconfigure).
 *      Stop before the loop's final run, free after it.
 * DIAGNOSTICS
 *      Info: "alert: sent WHAT to RCPTS", pending entries found at start. Warn: every
 *      failed run with its detail and the next attempt, a mail given up, an unreadable
 *      pending entry. Nothing else; Redis failures of the bookkeeping are silent (the
 *      alert mailer logs Redis state changes).
 * SEE ALSO
 *      alert(3), alertsend(3), track(3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "policyd/alertq.h"
#include "policyd/alertsend.h"
#include "policyd/config.h"
#include "policyd/log.h"
#include "policyd/util.h"

#define ALERTQ_RETRY_CAP_MS 3600000ULL /* the longest wait between two attempts */
#define ALERTQ_DRAIN_RETRY_MS 100      /* Redis not up yet at start: try again */
#define ALERTQ_CMD_ARGS 16

/* One mail to send. */
struct alertq_job {
    struct alertq_job *next;
    char *id;     /* its field in the pending hash; NULL: never kept */
    char *rcpts;  /* envelope recipients, comma-separated */
    char *msg;
    size_t len;
    char *what;   /* for the log */
    int attempts;
    uint64_t due; /* loop time (ms) of the next attempt */
};

struct alertq {
    uv_loop_t *loop;
    struct track *track;
    const struct pd_config *cfg;
    char *key;             /* the pending hash */
    alertq_other_fn other;
    void *other_arg;
    struct alertq_job *jobs; /* in arrival order */
    size_t njobs;
    struct alertsend *running;
    struct alertq_job *current;
    uv_timer_t timer;
    bool stopping, drained, draining, drain_more;
    uint64_t drain_next;
    struct alertq_stats stats;
};

static void alertq_kick(struct alertq *q);
static void alertq_arm(struct alertq *q);

static void alertq_noop(void *arg, int status, const struct track_reply *rep)
{
    (void)arg;
    (void)status;
    (void)rep;
}

void alertq_command(struct track *t, track_cb cb, void *arg, int argc, const char **argv,
                    const size_t *lens)
{
    size_t l[ALERTQ_CMD_ARGS];
    int i;

    if (lens == NULL) {
        for (i = 0; i < argc && i < ALERTQ_CMD_ARGS; i++)
            l[i] = strlen(argv[i]);
        lens = l;
    }
    track_command(t, argc, argv, lens, cb, arg);
}

size_t alertq_split(char *s, const char **v, size_t max)
{
    size_t n = 0;
    char *save = NULL, *tok;

    for (tok = strtok_r(s, ",", &save); tok != NULL && n < max; tok = strtok_r(NULL, ",", &save))
        v[n++] = tok;
    return n;
}

/* ---- jobs ---------------------------------------------------------------------------- */

static struct alertq_job *alertq_job_free(struct alertq_job *j)
{
    free(j->id);
    free(j->rcpts);
    free(j->msg);
    free(j->what);
    free(j);
    return NULL;
}

/* alertq_persist - HSET the pending entry "J1 <rcpts>\n<message>" of a job. */
static void alertq_persist(struct alertq *q, const struct alertq_job *j)
{
    size_t hl = strlen(j->rcpts) + 4, lens[4];
    char *val = xmalloc(hl + j->len + 1);
    const char *argv[4] = {"HSET", q->key, j->id, val};

    snprintf(val, hl + 1, "J1 %s\n", j->rcpts);
    memcpy(val + hl, j->msg, j->len);
    lens[0] = 4, lens[1] = strlen(q->key), lens[2] = strlen(j->id), lens[3] = hl + j->len;
    alertq_command(q->track, alertq_noop, NULL, 4, argv, lens);
    free(val);
}

void alertq_add(struct alertq *q, const char *id, const char *rcpts, char *msg, size_t len,
                const char *what, bool persist)
{
    struct alertq_job *j = xcalloc(1, sizeof(*j)), **tail = &q->jobs;

    j->id = id != NULL ? xstrdup(id) : NULL;
    j->rcpts = xstrdup(rcpts);
    j->msg = msg;
    j->len = len;
    j->what = xstrdup(what);
    j->due = uv_now(q->loop);
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = j;
    q->njobs++;
    if (persist && j->id != NULL)
        alertq_persist(q, j);
    alertq_kick(q);
}

/* alertq_done - delivered or given up: out of the queue and out of Redis. */
static void alertq_done(struct alertq *q, struct alertq_job *j)
{
    struct alertq_job **p = &q->jobs;

    while (*p != NULL && *p != j)
        p = &(*p)->next;
    if (*p == j) {
        *p = j->next;
        q->njobs--;
    }
    if (j->id != NULL) {
        const char *argv[3] = {"HDEL", q->key, j->id};

        alertq_command(q->track, alertq_noop, NULL, 3, argv, NULL);
    }
    alertq_job_free(j);
    if (q->drain_more && q->njobs == 0) {
        q->drained = q->drain_more = false; /* read what did not fit in the first reply */
        q->drain_next = uv_now(q->loop);
    }
}

/* ---- delivery ------------------------------------------------------------------------ */

/* alertq_failed - a failed run: retry later, or give up after alert_retry_max. */
static void alertq_failed(struct alertq *q, struct alertq_job *j, int status, const char *detail)
{
    int shift = j->attempts < 21 ? j->attempts : 21;
    uint64_t delay;

    q->stats.failures++;
    if (++j->attempts >= q->cfg->alert_retry_max) {
        q->stats.given_up++;
        log_warn("alert: giving up on %s after %d attempts: %s", j->what, j->attempts, detail);
        alertq_done(q, j);
        return;
    }
    delay = (uint64_t)q->cfg->alert_retry_delay_ms << shift;
    delay = delay < ALERTQ_RETRY_CAP_MS ? delay : ALERTQ_RETRY_CAP_MS;
    j->due = uv_now(q->loop) + delay;
    log_warn("alert: %s: %s (attempt %d of %lld): %s; retry in %llu ms", j->what,
             alertsend_strerror(status), j->attempts, q->cfg->alert_retry_max, detail,
             (unsigned long long)delay);
}

static void alertq_on_sent(void *arg, int status, const char *detail)
{
    struct alertq *q = arg;
    struct alertq_job *j = q->current;

    q->running = NULL;
    q->current = NULL;
    if (status == ALERTSEND_OK) {
        q->stats.sent++;
        log_info("alert: sent %s to %s", j->what, j->rcpts);
        alertq_done(q, j);
    } else if (q->stopping) {
        log_info("alert: %s not sent before the stop (%s): kept for the next start", j->what,
                 detail);
        return;
    } else {
        alertq_failed(q, j, status, detail);
    }
    alertq_kick(q);
}

/* alertq_kick - start sendmail for the first job that is due, unless one runs. */
static void alertq_kick(struct alertq *q)
{
    uint64_t now = uv_now(q->loop);
    const char *rcpt[ALERTSEND_RCPT_MAX];
    struct alertq_job *j;
    char *list;
    int rc;

    if (q->stopping || q->running != NULL)
        return;
    for (j = q->jobs; j != NULL && j->due > now; j = j->next)
        continue;
    if (j == NULL) {
        alertq_arm(q);
        return;
    }
    list = xstrdup(j->rcpts);
    q->current = j;
    rc = alertsend_start(q->loop, q->cfg->alert_sendmail_path, q->cfg->alert_from, rcpt,
                         alertq_split(list, rcpt, ALERTSEND_RCPT_MAX), j->msg, j->len,
                         (uint64_t)q->cfg->alert_sendmail_timeout_ms, alertq_on_sent, q,
                         &q->running);
    free(list);
    if (rc < 0) {
        q->current = NULL;
        log_warn("alert: %s: %s: dropped", j->what, alertsend_strerror(rc));
        alertq_done(q, j);
        alertq_kick(q);
    }
}

/* ---- reading back -------------------------------------------------------------------- */

/* alertq_known - a pending entry this run already holds. */
static bool alertq_known(const struct alertq *q, const char *id, size_t len)
{
    const struct alertq_job *j;

    for (j = q->jobs; j != NULL; j = j->next)
        if (j->id != NULL && strlen(j->id) == len && memcmp(j->id, id, len) == 0)
            return true;
    return false;
}

/* alertq_restore - "J1 <rcpts>\n<message>" under field id: queued again. */
static bool alertq_restore(struct alertq *q, const char *id, size_t idlen, const char *v,
                           size_t len)
{
    const char *nl = memchr(v, '\n', len);
    size_t mlen = nl != NULL ? len - (size_t)(nl + 1 - v) : 0;
    char *rcpts, *fid, *msg, what[160];

    if (nl == NULL || nl - v < 4 || memchr(id, '\0', idlen) != NULL)
        return false;
    rcpts = xstrndup(v + 3, (size_t)(nl - v - 3));
    fid = xstrndup(id, idlen);
    msg = xmalloc(mlen + 1);
    memcpy(msg, nl + 1, mlen);
    snprintf(what, sizeof(what), "%.100s (pending)", fid + (strncmp(fid, "msg:", 4) == 0 ? 4 : 0));
    alertq_add(q, fid, rcpts, msg, mlen, what, false);
    q->stats.restored++;
    free(rcpts);
    free(fid);
    return true;
}

static void alertq_on_drain(void *arg, int status, const struct track_reply *rep)
{
    struct alertq *q = arg;
    size_t i, mails = 0;

    q->draining = false;
    if (q->stopping)
        return;
    if (status != TRACK_OK) {
        q->drain_next = uv_now(q->loop) + ALERTQ_DRAIN_RETRY_MS;
        alertq_arm(q);
        return;
    }
    q->drained = true;
    q->drain_more = rep->npairs >= TRACK_MAX_PAIRS;
    for (i = 0; i < rep->npairs; i++) {
        const struct track_pair *p = &rep->pairs[i];

        if (p->sval_len > 3 && memcmp(p->sval, "J1 ", 3) == 0) {
            if (alertq_known(q, p->name, p->name_len))
                continue;
            if (alertq_restore(q, p->name, p->name_len, p->sval, p->sval_len)) {
                mails++;
                continue;
            }
        } else if (q->other != NULL && q->other(q->other_arg, p->sval, p->sval_len)) {
            continue;
        }
        {
            const char *argv[3] = {"HDEL", q->key, p->name};
            size_t lens[3] = {4, strlen(q->key), p->name_len};

            log_warn("alert: unreadable pending entry: dropped");
            alertq_command(q->track, alertq_noop, NULL, 3, argv, lens);
        }
    }
    if (rep->npairs > 0)
        log_info("alert: %zu pending entries found in redis (%zu mails)", rep->npairs, mails);
    alertq_kick(q);
    alertq_arm(q);
}

/* alertq_drain - read back what an earlier run (or this one, past the first reply) left. */
static void alertq_drain(struct alertq *q)
{
    const char *argv[2] = {"HGETALL", q->key};

    if (!track_is_up(q->track)) {
        q->drain_next = uv_now(q->loop) + ALERTQ_DRAIN_RETRY_MS;
        return;
    }
    q->draining = true;
    alertq_command(q->track, alertq_on_drain, q, 2, argv, NULL);
}

/* ---- the timer ----------------------------------------------------------------------- */

static bool alertq_drain_due(const struct alertq *q)
{
    return q->cfg != NULL && q->cfg->alert_enabled && !q->drained && !q->draining;
}

static void alertq_on_timer(uv_timer_t *t)
{
    struct alertq *q = t->data;

    if (q->stopping)
        return;
    if (alertq_drain_due(q) && uv_now(q->loop) >= q->drain_next)
        alertq_drain(q);
    alertq_kick(q);
    alertq_arm(q);
}

/* alertq_arm - wake at the next due time: a drain or a retry. */
static void alertq_arm(struct alertq *q)
{
    uint64_t now = uv_now(q->loop), next = UINT64_MAX;
    const struct alertq_job *j;

    if (q->stopping)
        return;
    if (alertq_drain_due(q))
        next = q->drain_next;
    for (j = q->jobs; j != NULL && q->running == NULL; j = j->next)
        next = j->due < next ? j->due : next;
    if (next == UINT64_MAX)
        uv_timer_stop(&q->timer);
    else
        uv_timer_start(&q->timer, alertq_on_timer, next > now ? next - now : 0, 0);
}

/* ---- life cycle ---------------------------------------------------------------------- */

struct alertq *alertq_new(uv_loop_t *loop, struct track *track, const char *pending_key,
                          alertq_other_fn other, void *arg)
{
    struct alertq *q = xcalloc(1, sizeof(*q));

    q->loop = loop;
    q->track = track;
    q->key = xstrdup(pending_key);
    q->other = other;
    q->other_arg = arg;
    q->drain_next = uv_now(loop);
    uv_timer_init(loop, &q->timer);
    q->timer.data = q;
    return q;
}

void alertq_reconfigure(struct alertq *q, const struct pd_config *cfg)
{
    q->cfg = cfg;
    alertq_arm(q);
}

size_t alertq_length(const struct alertq *q)
{
    return q->njobs;
}

void alertq_get_stats(const struct alertq *q, struct alertq_stats *out)
{
    *out = q->stats;
}

void alertq_stop(struct alertq *q)
{
    if (q == NULL || q->stopping)
        return;
    q->stopping = true;
    uv_timer_stop(&q->timer);
    uv_close((uv_handle_t *)&q->timer, NULL);
    alertsend_cancel(q->running);
}

struct alertq *alertq_free(struct alertq *q)
{
    if (q == NULL)
        return NULL;
    while (q->jobs != NULL) {
        struct alertq_job *j = q->jobs;

        q->jobs = j->next;
        alertq_job_free(j);
    }
    free(q->key);
    free(q);
    return NULL;
}
