/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      statuscmd - the read commands of the status socket, and the dispatch
 * SYNOPSIS
 *      #include "policyd/statuscmd.h"
 *
 *      void statuscmd_run(struct status_op *op)
 *      enum status_reason statuscmd_reason(const char *s); statuscmd_reason_name(r)
 *      helpers of every command: statuscmd_mailbox(op), statuscmd_key(op, suffix, out, len),
 *      statuscmd_global_key(op, name, out, len), statuscmd_json_bytes(s, len),
 *      statuscmd_pair_is(rep, i, name), statuscmd_noop_cb
 * DESCRIPTION
 *      statuscmd_run() runs an authorised request and answers it (status_op_done or
 *      status_op_error), at once or from a Redis callback:
 *
 *      ping     {"pong": true}
 *      status   (policyctl stats) version, pid, uptime, the caller's role, mode, the
 *               policy server's counters (struct pd_stats), Redis (up, calls, timeouts,
 *               errors), the status socket's counters, the number of blocked mailboxes
 *               (ZCARD of the index; null when Redis does not answer), verdicts by action
 *               and the decision latency (decide_get_stats: count, mean, histogram with
 *               upper bounds in ms, the last null = +Inf), the LDAP poller's health and
 *               the alert mailer's counters (null when not running)
 *      metrics  {"text": Prometheus text exposition} (metrics.c)
 *      show     one mailbox (statusshow.c)
 *      list     the index "<prefix>1:blocked" oldest first, from "offset": each member's
 *               block record is read (HGETALL), entries whose record is gone are skipped
 *               (counted as "stale"), "reason" and "domain" filter; a filtered page scans
 *               at most STATUS_LIST_SCAN entries and says where to go on ("next_offset",
 *               null at the end)
 *      audit    a page of the stream "<prefix>1:audit", newest first (audit_read.lua:
 *               XREVRANGE); each entry gets its stream "id"
 *
 *      Writes (block, unblock, override with changes) go to statuswrite.c.
 * DIAGNOSTICS
 *      Redis failures are answered {"ok": false, "error": "redis"} with track's reason;
 *      nothing is logged for reads.
 * SEE ALSO
 *      status(3), statuswrite.c, ratelimit/lua/status_show.lua, audit_read.lua
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ldap/poller.h"
#include "policyd/alert.h"
#include "policyd/config.h"
#include "policyd/decide.h"
#include "policyd/server.h"
#include "policyd/statuscmd.h"
#include "policyd/status.h"
#include "policyd/util.h"
#include "ratelimit/overrides.h"
#include "ratelimit/track.h"

#define STATUS_LIST_CHUNK 100  /* index entries read per round with a filter (< TRACK_MAX_PAIRS) */
#define STATUS_LIST_SCAN 2000  /* index entries one filtered list request reads at most */

/* One index entry of a list page being built. */
struct status_item {
    struct status_op *op;
    long long pos; /* position in the index */
    char member[KEYS_MAILBOX_MAX + 1];
    size_t member_len;
    long long created;
    json_t *entry; /* the block record; NULL when it is gone (a stale index entry) */
};

static const char *const statuscmd_reasons[STATUS_NREASONS] = {
    "compromise", "rate", "manual", "weak-password", "other"};

enum status_reason statuscmd_reason(const char *s)
{
    int i;

    for (i = 0; i < STATUS_R_OTHER; i++)
        if (s != NULL && strcmp(s, statuscmd_reasons[i]) == 0)
            return (enum status_reason)i;
    return STATUS_R_OTHER;
}

const char *statuscmd_reason_name(enum status_reason r)
{
    return (unsigned)r < STATUS_NREASONS ? statuscmd_reasons[r] : "other";
}

/* statuscmd_redis_error - a Redis call failed: say so and why. */
void statuscmd_redis_error(struct status_op *op, int rc, const struct track_reply *rep)
{
    status_op_error(op, "redis", "Redis: %s%s%.200s", track_strerror(rc),
                    rep != NULL && rep->error != NULL ? ": " : "",
                    rep != NULL && rep->error != NULL ? rep->error : "");
}

/* statuscmd_value - a Redis value as JSON: an integer when it is one, else a string. */
json_t *statuscmd_value(const struct track_pair *p)
{
    char *end;
    long long v;
    char buf[24];

    if (p->is_int)
        return json_integer(p->ival);
    if (p->sval_len > 0 && p->sval_len < sizeof(buf)) {
        memcpy(buf, p->sval, p->sval_len);
        buf[p->sval_len] = '\0';
        v = strtoll(buf, &end, 10);
        if (*end == '\0' && (buf[0] != '0' || p->sval_len == 1) && buf[0] != '+')
            return json_integer(v);
    }
    return statuscmd_json_bytes(p->sval, p->sval_len);
}

/* statuscmd_set - obj[name] = value, for a name that comes from Redis (bytes). */
void statuscmd_set(json_t *obj, const char *name, size_t len, json_t *v)
{
    char key[64];

    if (len >= sizeof(key) || memchr(name, '\0', len) != NULL) {
        json_decref(v);
        return;
    }
    memcpy(key, name, len);
    key[len] = '\0';
    json_object_set_new(obj, key, v);
}

/* ---- helpers of every command ------------------------------------------------------ */

/* statuscmd_mailbox - normalise and encode req.user; answers the op and returns -1 when
 * that is not possible. */
int statuscmd_mailbox(struct status_op *op)
{
    const uint8_t *key = decide_hash_key(op->st->srv->decide);
    int rc;

    if (key == NULL) {
        status_op_error(op, "unavailable", "Redis has not been reached yet; try again");
        return -1;
    }
    rc = keys_normalise(op->req.user, op->req.user_len, op->cfg->mailbox_default_domain,
                        op->mailbox, sizeof(op->mailbox), &op->mailbox_len);
    if (rc == 0)
        rc = keys_encode(op->mailbox, op->mailbox_len, key, op->enc, sizeof(op->enc),
                         &op->enc_len);
    if (rc < 0) {
        status_op_error(op, "bad-value", "user: %s", keys_strerror(rc));
        return -1;
    }
    sanitize_log(op->user_log, sizeof(op->user_log), op->mailbox, op->mailbox_len);
    return 0;
}

/* statuscmd_key - one of the op's mailbox keys ("" when it cannot be built). */
size_t statuscmd_key(const struct status_op *op, const char *suffix, char *out, size_t len)
{
    size_t n = 0;

    if (keys_name(op->cfg->redis_key_prefix, op->enc, op->enc_len, suffix, out, len, &n) < 0)
        out[0] = '\0';
    return n;
}

/* statuscmd_global_key - "<prefix><schema>:<name>", e.g. "pd:1:blocked". */
void statuscmd_global_key(const struct status_op *op, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s%s:%s", op->cfg->redis_key_prefix, KEYS_SCHEMA, name);
}

/* statuscmd_json_bytes - a JSON string of bytes that may not be UTF-8 (a login): as they
 * are when they are, else with every byte outside printable ASCII as %XX. */
json_t *statuscmd_json_bytes(const char *s, size_t len)
{
    json_t *j = memchr(s, '\0', len) == NULL ? json_stringn(s, len) : NULL;
    char *buf;
    size_t i, o = 0;

    if (j != NULL)
        return j;
    buf = xmalloc(3 * len + 1);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x20 && c < 0x7f && c != '%')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, 4, "%%%02X", c);
    }
    j = json_stringn(buf, o);
    free(buf);
    return j;
}

bool statuscmd_pair_is(const struct track_reply *rep, size_t i, const char *name)
{
    size_t n = strlen(name);

    return rep->pairs[i].name_len == n && memcmp(rep->pairs[i].name, name, n) == 0;
}

void statuscmd_noop_cb(void *arg, int rc, const struct track_reply *rep)
{
    (void)arg;
    (void)rc;
    (void)rep;
}

/* ---- status and metrics ------------------------------------------------------------ */

static json_t *statuscmd_server(const struct status *st)
{
    const struct pd_server *srv = st->srv;

    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "connections", (json_int_t)srv->nconns,
                     "conns_accepted", (json_int_t)srv->stats.conns_accepted, "conns_deferred",
                     (json_int_t)srv->stats.conns_deferred, "requests",
                     (json_int_t)srv->stats.requests, "proto_errors",
                     (json_int_t)srv->stats.proto_errors, "idle_closed",
                     (json_int_t)srv->stats.idle_closed);
}

static json_t *statuscmd_status(const struct status_op *op, long long blocked, bool known)
{
    const struct status *st = op->st;
    struct track *t = status_track(st);
    uint64_t calls, timeouts, errors;

    track_stats(t, &calls, &timeouts, &errors);
    return json_pack(
        "{s:s, s:I, s:I, s:I, s:s, s:s, s:o, s:{s:b, s:s, s:I, s:I, s:I}, "
        "s:{s:I, s:I, s:I, s:I, s:I}, s:o}",
        "version", STATUS_VERSION, "pid", (json_int_t)getpid(), "started_at",
        (json_int_t)st->started_at, "uptime", (json_int_t)(op->now - st->started_at), "role",
        jsonreq_role_name(op->role), "mode", op->cfg->mode, "server", statuscmd_server(st),
        "redis", "up", track_is_up(t), "tracking",
        track_is_native(t) ? "module" : "script", "calls", (json_int_t)calls, "timeouts",
        (json_int_t)timeouts, "errors", (json_int_t)errors, "status_socket", "connections",
        (json_int_t)st->nconns, "accepted", (json_int_t)st->stats.conns_accepted, "requests",
        (json_int_t)st->stats.requests, "errors", (json_int_t)st->stats.errors, "denied",
        (json_int_t)st->stats.denied, "blocked",
        known ? json_integer(blocked) : json_null());
}

/* statuscmd_decide - verdicts by action and the decision latency (decide_get_stats). */
static json_t *statuscmd_decide(const struct decide_stats *d)
{
    static const char *const actions[DECIDE_ACTIONS] = {"pass", "watch", "defer", "hold",
                                                         "block"};
    json_t *v = json_object(), *buckets = json_array();
    int i;

    for (i = 0; i < DECIDE_ACTIONS; i++)
        json_object_set_new(v, actions[i], json_integer((json_int_t)d->by_action[i]));
    json_object_set_new(v, "unauthenticated", json_integer((json_int_t)d->unauthenticated));
    json_object_set_new(v, "not_counted", json_integer((json_int_t)d->not_counted));
    json_object_set_new(v, "fail_action", json_integer((json_int_t)d->fail_action));
    json_object_set_new(v, "blocks_written", json_integer((json_int_t)d->blocks_written));
    for (i = 0; i < DECIDE_LAT_BUCKETS; i++)
        json_array_append_new(
            buckets, json_pack("{s:o, s:I}", "le_ms",
                               i < DECIDE_LAT_BUCKETS - 1 ? json_real(decide_lat_bounds_ms[i])
                                                          : json_null(),
                               "count", (json_int_t)d->lat_le[i]));
    return json_pack("{s:o, s:{s:I, s:f, s:o}}", "verdicts", v, "latency", "count",
                     (json_int_t)d->lat_count, "mean_ms",
                     d->lat_count > 0 ? d->lat_sum_s * 1000.0 / (double)d->lat_count : 0.0,
                     "buckets", buckets);
}

static json_t *statuscmd_ldap(const struct poller *p)
{
    struct poller_stats ps;

    poller_get_stats(p, &ps);
    return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "up", ps.directory_up,
                     "rounds", (json_int_t)ps.rounds, "errors", (json_int_t)ps.errors,
                     "unblocked", (json_int_t)ps.unblocked, "last_blocked",
                     (json_int_t)ps.last_blocked, "last_waiting", (json_int_t)ps.last_waiting,
                     "last_kept", (json_int_t)ps.last_kept, "last_ms", ps.last_ms);
}

static json_t *statuscmd_alerts(const struct alert *a)
{
    struct alert_stats as;

    alert_get_stats(a, &as);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "events", (json_int_t)as.events,
                     "sent", (json_int_t)as.sent, "failures", (json_int_t)as.failures,
                     "given_up", (json_int_t)as.given_up, "digested", (json_int_t)as.digested,
                     "waves", (json_int_t)as.waves, "duplicates", (json_int_t)as.duplicates);
}

/* statuscmd_stats - the health of what stands behind the answers: verdicts, latency,
 * LDAP poller (null without ldap_uri), alert mailer (null when not running). */
static void statuscmd_stats(const struct status *st, json_t *out)
{
    json_t *d = st->srv->decide != NULL ? statuscmd_decide(decide_get_stats(st->srv->decide))
                                        : NULL;

    if (d != NULL) {
        json_object_set(out, "verdicts", json_object_get(d, "verdicts"));
        json_object_set(out, "latency", json_object_get(d, "latency"));
        json_decref(d);
    }
    json_object_set_new(out, "ldap", st->poller != NULL && st->srv->cfg->ldap_uri.n > 0
                                         ? statuscmd_ldap(st->poller)
                                         : json_null());
    json_object_set_new(out, "alerts",
                        st->alert != NULL ? statuscmd_alerts(st->alert) : json_null());
}

/* statuscmd_on_count - ZCARD of the index answered: status or metrics can be built. */
static void statuscmd_on_count(void *arg, int rc, const struct track_reply *rep)
{
    struct status_op *op = arg;
    bool known = rc == TRACK_OK && rep->npairs == 1 && rep->pairs[0].is_int;
    long long n = known ? rep->pairs[0].ival : 0;
    char *text;

    json_t *reply;

    if (op->req.cmd == JSONREQ_STATUS) {
        reply = statuscmd_status(op, n, known);
        statuscmd_stats(op->st, reply);
        status_op_done(op, reply);
        return;
    }
    text = metrics_format(op->st, n, known);
    status_op_done(op, json_pack("{s:s}", "text", text));
    free(text);
}

static void statuscmd_count_blocked(struct status_op *op)
{
    char idx[KEYS_PREFIX_MAX + 16];
    const char *argv[2] = {"ZCARD", idx};
    size_t lens[2];

    statuscmd_global_key(op, "blocked", idx, sizeof(idx));
    lens[0] = 5, lens[1] = strlen(idx);
    track_command(status_track(op->st), 2, argv, lens, statuscmd_on_count, op);
}

/* ---- list -------------------------------------------------------------------------- */

static void statuscmd_list_chunk(struct status_op *op);

/* statuscmd_list_take - one item of the chunk into the page; false when the page is full. */
static bool statuscmd_list_take(struct status_op *op, struct status_item *it, json_t *page)
{
    json_t *reason;

    if (it->entry == NULL) {
        op->stale++;
        return true;
    }
    reason = json_object_get(it->entry, "reason");
    if (op->req.filter_reason[0] != '\0' &&
        !(json_is_string(reason) && strcmp(json_string_value(reason), op->req.filter_reason) == 0))
        return true;
    json_object_set_new(it->entry, "user", statuscmd_json_bytes(it->member, it->member_len));
    json_object_set_new(it->entry, "indexed_at", json_integer(it->created));
    json_object_del(it->entry, "mailbox");
    json_array_append(page, it->entry);
    return (long long)json_array_size(page) < op->req.limit;
}

/* statuscmd_list_done - every record of the chunk is in: fill the page, go on or answer. */
static void statuscmd_list_done(struct status_op *op)
{
    long long next = -1;
    json_t *reply;
    size_t i;

    for (i = 0; i < op->nitems && next < 0; i++)
        if (!statuscmd_list_take(op, &op->items[i], op->acc))
            next = op->items[i].pos + 1;
    for (i = 0; i < op->nitems; i++)
        json_decref(op->items[i].entry);
    free(op->items);
    op->items = NULL;
    op->nitems = 0;
    op->scan_offset += (long long)op->chunk_len;
    if (next < 0 && (long long)op->chunk_len == op->chunk_size) {
        if (op->scan_offset - op->req.offset < STATUS_LIST_SCAN) {
            statuscmd_list_chunk(op);
            return;
        }
        next = op->scan_offset;
    }
    if (next >= op->total)
        next = -1;
    reply = json_pack("{s:o, s:o, s:I, s:I}", "blocked", op->acc, "next_offset",
                      next >= 0 ? json_integer(next) : json_null(), "total",
                      (json_int_t)op->total, "stale", (json_int_t)op->stale);
    op->acc = NULL;
    status_op_done(op, reply);
}

/* statuscmd_on_record - one member's block record (HGETALL): NULL entry when it is gone. */
static void statuscmd_on_record(void *arg, int rc, const struct track_reply *rep)
{
    struct status_item *it = arg;
    struct status_op *op = it->op;
    size_t i;

    if (rc == TRACK_OK && rep->npairs > 0 && rep->pairs[0].name_len > 0) {
        it->entry = json_object();
        for (i = 0; i < rep->npairs; i++)
            statuscmd_set(it->entry, rep->pairs[i].name, rep->pairs[i].name_len,
                          statuscmd_value(&rep->pairs[i]));
    } else if (rc != TRACK_OK) {
        it->entry = json_pack("{s:s}", "error", track_strerror(rc));
    }
    if (--op->pending == 0)
        statuscmd_list_done(op);
}

/* statuscmd_domain_match - a member in the filter's domain (exactly, after the '@'). */
static bool statuscmd_domain_match(const struct status_op *op, const char *m, size_t len)
{
    size_t dl = strlen(op->req.domain);

    return dl == 0 || (len > dl + 1 && m[len - dl - 1] == '@' &&
                       memcmp(m + len - dl, op->req.domain, dl) == 0);
}

/* statuscmd_fetch - HGETALL of the block record of one item. */
static void statuscmd_fetch(struct status_op *op, struct status_item *it, const uint8_t *key)
{
    char blk[KEYS_NAME_SIZE], enc[KEYS_ENC_SIZE];
    const char *argv[2] = {"HGETALL", blk};
    size_t lens[2] = {7, 0}, enc_len;

    if (keys_encode(it->member, it->member_len, key, enc, sizeof(enc), &enc_len) < 0 ||
        keys_name(op->cfg->redis_key_prefix, enc, enc_len, KEYS_SUFFIX_BLOCK, blk, sizeof(blk),
                  &lens[1]) < 0) {
        statuscmd_on_record(it, TRACK_OK, NULL); /* cannot be a key of ours: stale */
        return;
    }
    track_command(status_track(op->st), 2, argv, lens, statuscmd_on_record, it);
}

/* statuscmd_on_range - a chunk of the index (member, score pairs): read the records. */
static void statuscmd_on_range(void *arg, int rc, const struct track_reply *rep)
{
    struct status_op *op = arg;
    const uint8_t *key = decide_hash_key(op->st->srv->decide);
    size_t i, n;

    if (rc != TRACK_OK || key == NULL) {
        statuscmd_redis_error(op, rc, rep);
        return;
    }
    n = rep->npairs == 1 && rep->pairs[0].name_len == 0 ? 0 : rep->npairs;
    op->chunk_len = n;
    op->items = xcalloc(n > 0 ? n : 1, sizeof(*op->items));
    for (i = 0; i < n; i++) {
        const struct track_pair *p = &rep->pairs[i];
        struct status_item *it = &op->items[op->nitems];

        if (p->name_len > KEYS_MAILBOX_MAX || !statuscmd_domain_match(op, p->name, p->name_len))
            continue;
        it->op = op;
        it->pos = op->scan_offset + (long long)i;
        memcpy(it->member, p->name, p->name_len);
        it->member_len = p->name_len;
        it->created = strtoll(p->sval, NULL, 10);
        op->nitems++;
    }
    /* one extra count while sending: a call answered at once must not finish the chunk */
    op->pending = op->nitems + 1;
    for (i = 0, n = op->nitems; i < n; i++)
        statuscmd_fetch(op, &op->items[i], key);
    if (--op->pending == 0)
        statuscmd_list_done(op);
}

static void statuscmd_list_chunk(struct status_op *op)
{
    char idx[KEYS_PREFIX_MAX + 16], start[24], stop[24];
    const char *argv[5] = {"ZRANGE", idx, start, stop, "WITHSCORES"};
    size_t lens[5];
    int i;

    op->chunk_size = op->req.filter_reason[0] != '\0' || op->req.domain[0] != '\0'
                         ? STATUS_LIST_CHUNK
                         : op->req.limit;
    statuscmd_global_key(op, "blocked", idx, sizeof(idx));
    snprintf(start, sizeof(start), "%lld", op->scan_offset);
    snprintf(stop, sizeof(stop), "%lld", op->scan_offset + op->chunk_size - 1);
    for (i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    track_command(status_track(op->st), 5, argv, lens, statuscmd_on_range, op);
}

static void statuscmd_on_total(void *arg, int rc, const struct track_reply *rep)
{
    struct status_op *op = arg;

    if (rc == TRACK_OK && rep->npairs == 1 && rep->pairs[0].is_int)
        op->total = rep->pairs[0].ival;
}

/* statuscmd_list - ZCARD and the first chunk, pipelined (Redis answers in order). */
static void statuscmd_list(struct status_op *op)
{
    char idx[KEYS_PREFIX_MAX + 16];
    const char *argv[2] = {"ZCARD", idx};
    size_t lens[2];

    if (decide_hash_key(op->st->srv->decide) == NULL) {
        status_op_error(op, "unavailable", "Redis has not been reached yet; try again");
        return;
    }
    op->acc = json_array();
    op->scan_offset = op->req.offset;
    statuscmd_global_key(op, "blocked", idx, sizeof(idx));
    lens[0] = 5, lens[1] = strlen(idx);
    track_command(status_track(op->st), 2, argv, lens, statuscmd_on_total, op);
    statuscmd_list_chunk(op);
}

/* ---- audit ------------------------------------------------------------------------- */

static void statuscmd_on_audit(void *arg, int rc, const struct track_reply *rep)
{
    struct status_op *op = arg;
    json_t *entries = json_array(), *e, *id = NULL;
    long long total = 0;
    size_t i;

    if (rc != TRACK_OK) {
        json_decref(entries);
        statuscmd_redis_error(op, rc, rep);
        return;
    }
    for (i = 0; i < rep->npairs; i++) {
        const struct track_pair *p = &rep->pairs[i];

        if (statuscmd_pair_is(rep, i, "total")) {
            total = p->ival;
        } else if (statuscmd_pair_is(rep, i, "id")) {
            json_decref(id);
            id = statuscmd_json_bytes(p->sval, p->sval_len);
        } else if (statuscmd_pair_is(rep, i, "entry")) {
            e = json_loadb(p->sval, p->sval_len, 0, NULL);
            if (!json_is_object(e)) {
                json_decref(e);
                e = json_pack("{s:o}", "text", statuscmd_json_bytes(p->sval, p->sval_len));
            }
            if (id != NULL)
                json_object_set_new(e, "id", id);
            id = NULL;
            json_array_append_new(entries, e);
        }
    }
    json_decref(id);
    status_op_done(op, json_pack("{s:I, s:o}", "total", (json_int_t)total, "entries", entries));
}

static void statuscmd_audit(struct status_op *op)
{
    char key[KEYS_PREFIX_MAX + 16], off[24], lim[24];
    const char *argv[4] = {"1", key, off, lim};
    size_t lens[4];
    int i;

    statuscmd_global_key(op, "audit", key, sizeof(key));
    snprintf(off, sizeof(off), "%lld", op->req.offset);
    snprintf(lim, sizeof(lim), "%lld", op->req.limit);
    for (i = 0; i < 4; i++)
        lens[i] = strlen(argv[i]);
    track_eval(status_track(op->st), op->st->s_audit_read, 4, argv, lens, statuscmd_on_audit, op);
}

/* ---- dispatch ---------------------------------------------------------------------- */

void statuscmd_run(struct status_op *op)
{
    switch (op->req.cmd) {
    case JSONREQ_PING:
        status_op_done(op, json_pack("{s:b, s:s}", "pong", 1, "role",
                                     jsonreq_role_name(op->role)));
        return;
    case JSONREQ_STATUS:
    case JSONREQ_METRICS:
        statuscmd_count_blocked(op);
        return;
    case JSONREQ_SHOW:
        statusshow_run(op);
        return;
    case JSONREQ_LIST:
        statuscmd_list(op);
        return;
    case JSONREQ_AUDIT:
        statuscmd_audit(op);
        return;
    case JSONREQ_BLOCK:
        statuswrite_block(op);
        return;
    case JSONREQ_UNBLOCK:
        statuswrite_unblock(op);
        return;
    case JSONREQ_OVERRIDE:
        statuswrite_override(op);
        return;
    case JSONREQ_NCMDS:
        break;
    }
    status_op_error(op, "internal", "command not implemented");
}
