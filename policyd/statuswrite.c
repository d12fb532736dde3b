/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      statuswrite - the writes of the status socket: block, unblock, overrides, audit
 * SYNOPSIS
 *      #include "policyd/statuscmd.h"
 *
 *      void statuswrite_block(struct status_op *op)
 *      void statuswrite_unblock(struct status_op *op)
 *      void statuswrite_override(struct status_op *op)
 *      void statuswrite_subscribe(struct status *st)
 *      void statuswrite_unsubscribe(struct status *st)
 * DESCRIPTION
 *      block    block.lua with reason "manual", the operator's words as its evidence,
 *               created_by = the operator, unblock condition "operator": first writer
 *               wins, so a mailbox already blocked keeps its record and the reply says so
 *               ("created": false, with the existing reference). A new block is added to
 *               the index "<prefix>1:blocked" (score = created) and emitted as
 *               PD_EVENT_BLOCK (by = the operator).
 *      unblock  reads the record (HGETALL), refuses when the operator named another
 *               reference ("ref"), then unblock.lua with the record's reference
 *               (compare-and-delete: a block written meanwhile is never cleared), the
 *               probation of probation_period and the false-positive mark; then
 *               index_remove.lua (only the index entry of that block) and
 *               PD_EVENT_UNBLOCK.
 *      override a mailbox: override_set.lua changes its ovr hash atomically and returns
 *               the fields before and after; profile "none" is stored as "" (no profile,
 *               even if the domain has one); raise_until "+N" becomes now + N; "clear"
 *               deletes the override fields only (the overrides file's "file" field stays).
 *               A domain: its value in "<prefix>1:domains" is read, parsed and changed with
 *               overrides(3), checked by parsing the new text again (the domain cache
 *               reads it), and written with hash_cas.lua; if another writer changed it
 *               meanwhile, the read-change-write is repeated (3 rounds at most).
 *               Without "set" or "clear" the current overrides are returned.
 *
 *      Audit: the subscriber of events(3) appends every block and unblock not made by
 *      the detector itself (by != "auto": operators, the LDAP poller, imports) to the
 *      Redis stream "<prefix>1:audit" (audit_add.lua: XADD MAXLEN ~ status_audit_max),
 *      with the operator's peer, words and the record before and after when the status
 *      socket made it; override changes are appended directly. An entry's stream
 *      fields are at, action, by (the operator), peer, target (mailbox or domain) and
 *      entry (the whole entry as JSON). It also counts events by type
 *      and reason for the metrics.
 * DIAGNOSTICS
 *      Every write is logged once at info: "status: op=block user=... by=... peer=...
 *      ref=...", user and operator sanitised. An audit entry that cannot be written is a
 *      warning and counted.
 * SEE ALSO
 *      statuscmd.c, events(3), overrides(3), ratelimit/lua/block.lua, unblock.lua,
 *      index_remove.lua, override_set.lua, hash_cas.lua, audit_add.lua
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policyd/config.h"
#include "policyd/events.h"
#include "policyd/log.h"
#include "policyd/server.h"
#include "policyd/statuscmd.h"
#include "policyd/util.h"
#include "ratelimit/overrides.h"
#include "ratelimit/track.h"

/* As decide.c writes them: the same history for automatic and manual blocks. */
#define STATUSWRITE_HISTORY_MAX 50
#define STATUSWRITE_HISTORY_TTL (400LL * 86400)
#define STATUSWRITE_CAS_ROUNDS 3

/* statuswrite_str - a pair's value copied into a buffer (clipped: references, reasons). */
static void statuswrite_str(const struct track_pair *p, char *out, size_t len)
{
    snprintf(out, len, "%.*s", (int)(p->sval_len < len ? p->sval_len : len - 1), p->sval);
}

static void statuswrite_on_audit(void *arg, int rc, const struct track_reply *rep)
{
    struct status *st = arg;

    if (rc == TRACK_OK) {
        st->stats.audit_written++;
        return;
    }
    st->stats.audit_failed++;
    log_warn("status: audit entry not written: %s%s%.200s", track_strerror(rc),
             rep != NULL && rep->error != NULL ? ": " : "",
             rep != NULL && rep->error != NULL ? rep->error : "");
}

/* statuswrite_field - a string field of an audit entry, "" when it has none. */
static const char *statuswrite_field(json_t *entry, const char *name)
{
    const char *v = json_string_value(json_object_get(entry, name));

    return v != NULL ? v : "";
}

/*
 * statuswrite_audit - append one entry (taken) to the audit stream: who ("by", "peer"),
 * when ("at"), what ("action", "target") as stream fields that redis-cli XREVRANGE shows
 * as they are, and the whole entry (before and after included) as JSON in "entry".
 */
static void statuswrite_audit(struct status *st, const struct pd_config *cfg, json_t *entry)
{
    char key[KEYS_PREFIX_MAX + 16], old[KEYS_PREFIX_MAX + 24], max[24], at[24];
    char *text = json_dumps(entry, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_t *target = json_object_get(entry, "user");
    const char *argv[16] = {"2", key, old, max, "at", at, "action", NULL, "by", NULL,
                            "peer", NULL, "target", NULL, "entry", text};
    size_t lens[16];
    int i;

    if (text == NULL) {
        json_decref(entry);
        st->stats.audit_failed++;
        return;
    }
    if (target == NULL)
        target = json_object_get(entry, "domain");
    snprintf(key, sizeof(key), "%s%s:audit", cfg->redis_key_prefix, KEYS_SCHEMA);
    snprintf(old, sizeof(old), "%s%s:audit:list", cfg->redis_key_prefix, KEYS_SCHEMA);
    snprintf(max, sizeof(max), "%lld", cfg->status_audit_max);
    snprintf(at, sizeof(at), "%lld", (long long)json_integer_value(json_object_get(entry, "at")));
    argv[7] = statuswrite_field(entry, "action");
    argv[9] = statuswrite_field(entry, "by");
    argv[11] = statuswrite_field(entry, "peer");
    argv[13] = json_is_string(target) ? json_string_value(target) : "";
    for (i = 0; i < 16; i++)
        lens[i] = strlen(argv[i]);
    track_eval(status_track(st), st->s_audit_add, 16, argv, lens, statuswrite_on_audit, st);
    free(text);
    json_decref(entry);
}

/* statuswrite_emit - an event of this op: the subscriber adds the op's details. */
static void statuswrite_emit(struct status_op *op, const struct pd_event *ev)
{
    op->st->emitting = op;
    events_emit(ev);
    op->st->emitting = NULL;
}

/* ---- block ------------------------------------------------------------------------- */

/* statuswrite_new_ref - "PD-" and 8 hex digits, as decide makes them. */
static void statuswrite_new_ref(struct status *st, char *out, size_t len)
{
    uint64_t x = st->ref_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    st->ref_state = x;
    snprintf(out, len, "PD-%08X", (unsigned)(x >> 32));
}

static void statuswrite_index_add(struct status_op *op, long long created)
{
    char idx[KEYS_PREFIX_MAX + 16], score[24];
    const char *argv[4] = {"ZADD", idx, score, op->mailbox};
    size_t lens[4];

    statuscmd_global_key(op, "blocked", idx, sizeof(idx));
    snprintf(score, sizeof(score), "%lld", created);
    lens[0] = 4, lens[1] = strlen(idx), lens[2] = strlen(score), lens[3] = op->mailbox_len;
    track_command(status_track(op->st), 4, argv, lens, statuscmd_noop_cb, NULL);
}

static void statuswrite_on_block(void *arg, int rc, const struct track_reply *rep)
{
    struct status_op *op = arg;
    char by[JSONREQ_OPERATOR_MAX + 1] = "", cond[32] = "";
    long long created = 0, created_at = 0;
    struct pd_event ev;
    size_t i;

    if (rc != TRACK_OK) {
        statuscmd_redis_error(op, rc, rep);
        return;
    }
    for (i = 0; i < rep->npairs; i++) {
        const struct track_pair *p = &rep->pairs[i];

        if (statuscmd_pair_is(rep, i, "created"))
            created = p->ival;
        else if (statuscmd_pair_is(rep, i, "created_at"))
            created_at = p->ival;
        else if (statuscmd_pair_is(rep, i, "ref"))
            statuswrite_str(p, op->ref, sizeof(op->ref));
        else if (statuscmd_pair_is(rep, i, "reason"))
            statuswrite_str(p, op->reason, sizeof(op->reason));
        else if (statuscmd_pair_is(rep, i, "created_by"))
            statuswrite_str(p, by, sizeof(by));
        else if (statuscmd_pair_is(rep, i, "unblock"))
            statuswrite_str(p, cond, sizeof(cond));
    }
    if (!created) {
        status_op_done(op, json_pack("{s:o, s:b, s:s, s:s, s:I, s:s, s:s}", "user",
                                     statuscmd_json_bytes(op->mailbox, op->mailbox_len), "created",
                                     0, "ref", op->ref, "reason", op->reason, "created_at",
                                     (json_int_t)created_at, "created_by", by, "unblock", cond));
        return;
    }
    statuswrite_index_add(op, created_at);
    log_info("status: op=block user=%s by=%s peer=%s ref=%s", op->user_log, op->by_log, op->peer,
             op->ref);
    memset(&ev, 0, sizeof(ev));
    ev.type = PD_EVENT_BLOCK, ev.mailbox = op->mailbox, ev.ref = op->ref, ev.reason = "manual";
    ev.rules = "", ev.by = op->req.oper, ev.condition = "operator", ev.at = created_at;
    statuswrite_emit(op, &ev);
    status_op_done(op, json_pack("{s:o, s:b, s:s, s:s, s:I, s:s}", "user",
                                 statuscmd_json_bytes(op->mailbox, op->mailbox_len), "created", 1,
                                 "ref", op->ref, "reason", "manual", "created_at",
                                 (json_int_t)created_at, "unblock", "operator"));
}

void statuswrite_block(struct status_op *op)
{
    char blk[KEYS_NAME_SIZE], hist[KEYS_NAME_SIZE], now[24], hmax[24], httl[24];
    const char *argv[14];
    size_t lens[14];
    int i;

    if (statuscmd_mailbox(op) < 0)
        return;
    statuswrite_new_ref(op->st, op->ref, sizeof(op->ref));
    statuscmd_key(op, KEYS_SUFFIX_BLOCK, blk, sizeof(blk));
    statuscmd_key(op, "hist", hist, sizeof(hist));
    snprintf(now, sizeof(now), "%lld", (long long)op->now);
    snprintf(hmax, sizeof(hmax), "%d", STATUSWRITE_HISTORY_MAX);
    snprintf(httl, sizeof(httl), "%lld", STATUSWRITE_HISTORY_TTL);
    argv[0] = "2", argv[1] = blk, argv[2] = hist, argv[3] = op->ref, argv[4] = "manual";
    argv[5] = "0", argv[6] = op->req.text, argv[7] = now, argv[8] = op->req.oper;
    argv[9] = "operator", argv[10] = "0", argv[11] = op->mailbox, argv[12] = hmax;
    argv[13] = httl;
    for (i = 0; i < 14; i++)
        lens[i] = strlen(argv[i]);
    lens[11] = op->mailbox_len;
    track_eval(status_track(op->st), op->st->s_block, 14, argv, lens, statuswrite_on_block, op);
}

/* ---- unblock ----------------------------------------------------------------------- */

static void statuswrite_on_unblock(void *arg, int rc, const struct track_reply *rep)
{
    struct status_op *op = arg;
    long long probation = op->cfg->probation_period_ms / 1000, cleared = 0;
    char idx[KEYS_PREFIX_MAX + 16], created[24], why[64] = "";
    const char *argv[4] = {"1", idx, op->mailbox, created};
    size_t lens[4], i;
    struct pd_event ev;

    if (rc != TRACK_OK) {
        statuscmd_redis_error(op, rc, rep);
        return;
    }
    for (i = 0; i < rep->npairs; i++) {
        if (statuscmd_pair_is(rep, i, "cleared"))
            cleared = rep->pairs[i].ival;
        else if (statuscmd_pair_is(rep, i, "why"))
            statuswrite_str(&rep->pairs[i], why, sizeof(why));
    }
    if (!cleared) {
        status_op_error(op, strcmp(why, "not blocked") == 0 ? "not-blocked" : "ref-mismatch",
                        "not unblocked: %s", why);
        return;
    }
    statuscmd_global_key(op, "blocked", idx, sizeof(idx));
    snprintf(created, sizeof(created), "%lld", op->created);
    lens[0] = 1, lens[1] = strlen(idx), lens[2] = op->mailbox_len, lens[3] = strlen(created);
    track_eval(status_track(op->st), op->st->s_index_remove, 4, argv, lens, statuscmd_noop_cb,
               NULL);
    log_info("status: op=unblock user=%s by=%s peer=%s ref=%s false_positive=%s", op->user_log,
             op->by_log, op->peer, op->ref, op->req.false_positive ? "yes" : "no");
    memset(&ev, 0, sizeof(ev));
    ev.type = PD_EVENT_UNBLOCK, ev.mailbox = op->mailbox, ev.ref = op->ref;
    ev.reason = op->reason, ev.rules = "", ev.by = op->req.oper, ev.condition = "operator";
    ev.at = op->now;
    statuswrite_emit(op, &ev);
    status_op_done(op, json_pack("{s:o, s:b, s:s, s:s, s:I, s:b}", "user",
                                 statuscmd_json_bytes(op->mailbox, op->mailbox_len), "cleared", 1,
                                 "ref", op->ref, "reason", op->reason, "probation_until",
                                 (json_int_t)(probation > 0 ? op->now + probation : 0),
                                 "false_positive", op->req.false_positive));
}

/* statuswrite_unblock_send - unblock.lua, compare-and-delete on the record's reference. */
static void statuswrite_unblock_send(struct status_op *op)
{
    char blk[KEYS_NAME_SIZE], hist[KEYS_NAME_SIZE], st[KEYS_NAME_SIZE];
    char now[24], prob[24], hmax[24], httl[24];
    const char *argv[13];
    size_t lens[13];
    int i;

    statuscmd_key(op, KEYS_SUFFIX_BLOCK, blk, sizeof(blk));
    statuscmd_key(op, "hist", hist, sizeof(hist));
    statuscmd_key(op, KEYS_SUFFIX_STATE, st, sizeof(st));
    snprintf(now, sizeof(now), "%lld", (long long)op->now);
    snprintf(prob, sizeof(prob), "%lld", (long long)(op->cfg->probation_period_ms / 1000));
    snprintf(hmax, sizeof(hmax), "%d", STATUSWRITE_HISTORY_MAX);
    snprintf(httl, sizeof(httl), "%lld", STATUSWRITE_HISTORY_TTL);
    argv[0] = "3", argv[1] = blk, argv[2] = hist, argv[3] = st, argv[4] = op->ref;
    argv[5] = now, argv[6] = op->req.oper, argv[7] = "operator", argv[8] = op->req.text;
    argv[9] = prob, argv[10] = op->req.false_positive ? "1" : "0", argv[11] = hmax;
    argv[12] = httl;
    for (i = 0; i < 13; i++)
        lens[i] = strlen(argv[i]);
    track_eval(status_track(op->st), op->st->s_unblock, 13, argv, lens, statuswrite_on_unblock,
               op);
}

/* statuswrite_on_record - the record before the unblock: its reference and created-at. */
static void statuswrite_on_record(void *arg, int rc, const struct track_reply *rep)
{
    struct status_op *op = arg;
    json_t *before;
    size_t i;

    if (rc != TRACK_OK) {
        statuscmd_redis_error(op, rc, rep);
        return;
    }
    before = json_object();
    for (i = 0; i < rep->npairs && rep->pairs[i].name_len > 0; i++) {
        const struct track_pair *p = &rep->pairs[i];
        char name[32];

        if (statuscmd_pair_is(rep, i, "ref"))
            statuswrite_str(p, op->ref, sizeof(op->ref));
        else if (statuscmd_pair_is(rep, i, "reason"))
            statuswrite_str(p, op->reason, sizeof(op->reason));
        else if (statuscmd_pair_is(rep, i, "created"))
            op->created = strtoll(p->sval, NULL, 10);
        if (p->name_len < sizeof(name) && !statuscmd_pair_is(rep, i, "mailbox")) {
            snprintf(name, sizeof(name), "%.*s", (int)p->name_len, p->name);
            json_object_set_new(before, name, statuscmd_json_bytes(p->sval, p->sval_len));
        }
    }
    op->acc = before; /* for the audit entry */
    if (op->ref[0] == '\0') {
        status_op_error(op, "not-blocked", "%s is not blocked", op->user_log);
        return;
    }
    if (op->req.ref[0] != '\0' && strcmp(op->req.ref, op->ref) != 0) {
        status_op_error(op, "ref-mismatch", "the block of %s is %s, not %s", op->user_log,
                        op->ref, op->req.ref);
        return;
    }
    statuswrite_unblock_send(op);
}

void statuswrite_unblock(struct status_op *op)
{
    char blk[KEYS_NAME_SIZE];
    const char *argv[2] = {"HGETALL", blk};
    size_t lens[2];

    if (statuscmd_mailbox(op) < 0)
        return;
    lens[0] = 7;
    lens[1] = statuscmd_key(op, KEYS_SUFFIX_BLOCK, blk, sizeof(blk));
    track_command(status_track(op->st), 2, argv, lens, statuswrite_on_record, op);
}

/* ---- overrides --------------------------------------------------------------------- */

/* statuswrite_profile - a profile name as overrides(3) knows it; "none" is allowed. */
static bool statuswrite_profile(const char *v)
{
    enum rules_profile p;

    return strcmp(v, "none") == 0 || overrides_profile_parse(v, strlen(v), &p);
}

/* statuswrite_ovr_check - the request's values that jsonreq cannot check alone. */
static int statuswrite_ovr_check(struct status_op *op)
{
    const char *v = op->req.ovr_val[JSONREQ_OVR_PROFILE];

    if (op->req.ovr_set[JSONREQ_OVR_PROFILE] && v[0] != '\0' && !statuswrite_profile(v)) {
        status_op_error(op, "bad-value",
                        "override profile: no profile \"%s\" (none, bulk, outreach, system, "
                        "traveller)",
                        v);
        return -1;
    }
    return 0;
}

/* statuswrite_time - raise_until as unix seconds ("+N" is relative to now). */
static long long statuswrite_time(const struct status_op *op, const char *v)
{
    return v[0] == '+' ? op->now + strtoll(v + 1, NULL, 10) : strtoll(v, NULL, 10);
}

/* statuswrite_ovr_pairs - "before.x"/"after.x" pairs into two objects. */
static json_t *statuswrite_ovr_pairs(const struct track_reply *rep, const char *which)
{
    json_t *obj = json_object();
    size_t wl = strlen(which), i;
    char name[40];

    for (i = 0; i < rep->npairs; i++) {
        const struct track_pair *p = &rep->pairs[i];

        if (p->name_len <= wl || p->name_len - wl >= sizeof(name) ||
            memcmp(p->name, which, wl) != 0)
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)(p->name_len - wl), p->name + wl);
        json_object_set_new(obj, name, statuscmd_json_bytes(p->sval, p->sval_len));
    }
    return obj;
}

/* statuswrite_ovr_logged - log, audit and answer a change: target is "user" or "domain". */
static void statuswrite_ovr_logged(struct status_op *op, const char *target, json_t *who,
                                   json_t *before, json_t *after)
{
    size_t flags = JSON_COMPACT | JSON_ENSURE_ASCII | JSON_SORT_KEYS | JSON_ENCODE_ANY;
    char *b = json_dumps(before, flags), *a = json_dumps(after, flags);
    char bl[SANITIZE_BUF], al[SANITIZE_BUF];

    log_info("status: op=override %s=%s by=%s peer=%s before=%s after=%s", target,
             strcmp(target, "user") == 0 ? op->user_log : op->req.domain, op->by_log, op->peer,
             sanitize_log(bl, sizeof(bl), b, b != NULL ? strlen(b) : 0),
             sanitize_log(al, sizeof(al), a, a != NULL ? strlen(a) : 0));
    free(b);
    free(a);
    statuswrite_audit(op->st, op->cfg,
                      json_pack("{s:I, s:s, s:O, s:s, s:s, s:O, s:O}", "at", (json_int_t)op->now,
                                "action", "override", target, who, "by", op->req.oper, "peer",
                                op->peer, "before", before, "after", after));
    status_op_done(op, json_pack("{s:o, s:o, s:o}", target, who, "before", before, "after",
                                 after));
}

static void statuswrite_on_ovr_get(void *arg, int rc, const struct track_reply *rep)
{
    struct status_op *op = arg;
    json_t *obj;
    size_t i;
    char name[40];

    if (rc != TRACK_OK) {
        statuscmd_redis_error(op, rc, rep);
        return;
    }
    obj = json_object();
    for (i = 0; i < rep->npairs && rep->pairs[i].name_len > 0; i++) {
        const struct track_pair *p = &rep->pairs[i];

        if (p->name_len < sizeof(name)) {
            snprintf(name, sizeof(name), "%.*s", (int)p->name_len, p->name);
            json_object_set_new(obj, name, statuscmd_json_bytes(p->sval, p->sval_len));
        }
    }
    status_op_done(op, json_pack("{s:o, s:o}", "user",
                                 statuscmd_json_bytes(op->mailbox, op->mailbox_len), "overrides",
                                 obj));
}

static void statuswrite_on_ovr_set(void *arg, int rc, const struct track_reply *rep)
{
    struct status_op *op = arg;

    if (rc != TRACK_OK) {
        statuscmd_redis_error(op, rc, rep);
        return;
    }
    statuswrite_ovr_logged(op, "user", statuscmd_json_bytes(op->mailbox, op->mailbox_len),
                           statuswrite_ovr_pairs(rep, "before."),
                           statuswrite_ovr_pairs(rep, "after."));
}

/* statuswrite_ovr_mailbox - override_set.lua on the mailbox's ovr hash (or HGETALL). */
static void statuswrite_ovr_mailbox(struct status_op *op)
{
    char key[KEYS_NAME_SIZE], vals[JSONREQ_OVR_N][JSONREQ_VALUE_MAX + 3];
    const char *argv[2 + 2 * JSONREQ_OVR_N] = {"1", key};
    size_t lens[2 + 2 * JSONREQ_OVR_N];
    int i, n = 2;

    if (statuscmd_mailbox(op) < 0)
        return;
    statuscmd_key(op, KEYS_SUFFIX_OVR, key, sizeof(key));
    if (!jsonreq_is_write(&op->req)) {
        argv[0] = "HGETALL";
        lens[0] = 7, lens[1] = strlen(key);
        track_command(status_track(op->st), 2, argv, lens, statuswrite_on_ovr_get, op);
        return;
    }
    for (i = 0; i < JSONREQ_OVR_N; i++) {
        const char *v = op->req.ovr_val[i];

        if (!op->req.ovr_set[i] && !op->req.ovr_clear_all)
            continue;
        if (v[0] == '\0')
            snprintf(vals[i], sizeof(vals[i]), "d:");
        else if (i == JSONREQ_OVR_RAISE_UNTIL)
            snprintf(vals[i], sizeof(vals[i]), "s:%lld", statuswrite_time(op, v));
        else
            snprintf(vals[i], sizeof(vals[i]), "s:%s", strcmp(v, "none") == 0 ? "" : v);
        argv[n++] = jsonreq_ovr_name(i);
        argv[n++] = vals[i];
    }
    for (i = 0; i < n; i++)
        lens[i] = strlen(argv[i]);
    track_eval(status_track(op->st), op->st->s_override_set, n, argv, lens,
               statuswrite_on_ovr_set, op);
}

/* statuswrite_apply - one requested change to a domain's settings. */
static void statuswrite_apply(const struct status_op *op, struct overrides_settings *s, int f)
{
    const char *v = op->req.ovr_val[f];
    unsigned bit;
    long long n = strtoll(v, NULL, 10);

    if (f == JSONREQ_OVR_EXEMPT)
        bit = OVERRIDES_HAS_EXEMPT, s->exempt = n == 1;
    else if (f == JSONREQ_OVR_PROFILE)
        bit = OVERRIDES_HAS_PROFILE;
    else if (f == JSONREQ_OVR_RAISE_UNTIL)
        bit = OVERRIDES_HAS_RAISE_UNTIL, s->raise_until = v[0] ? statuswrite_time(op, v) : 0;
    else if (f < JSONREQ_OVR_RAISE_UNTIL)
        bit = OVERRIDES_HAS_CAP(f - JSONREQ_OVR_LIM_RCPT_HOUR),
        s->cap[f - JSONREQ_OVR_LIM_RCPT_HOUR] = n;
    else
        bit = OVERRIDES_HAS_RAISE(f - JSONREQ_OVR_RAISE_RCPT_HOUR),
        s->raise[f - JSONREQ_OVR_RAISE_RCPT_HOUR] = n;
    /* a domain has nothing to inherit a profile from: "none" is no setting */
    if (f == JSONREQ_OVR_PROFILE && v[0] != '\0' && strcmp(v, "none") != 0)
        overrides_profile_parse(v, strlen(v), &s->profile);
    if (v[0] == '\0' || (f == JSONREQ_OVR_PROFILE && strcmp(v, "none") == 0))
        s->has &= ~bit;
    else
        s->has |= bit;
}

/* statuswrite_domain_text - the new text of a domain from its old text; -1 (answered)
 * when the old text does not parse (unless everything is cleared) or the new one would
 * not. */
static int statuswrite_domain_text(struct status_op *op, const char *old, size_t len,
                                   char *out, size_t outlen)
{
    struct overrides_settings s, check;
    struct pd_err err;
    int i, n;

    memset(&s, 0, sizeof(s));
    if (len > 0 && !op->req.ovr_clear_all && overrides_parse_settings(old, len, &s, &err) < 0) {
        status_op_error(op, "bad-value",
                        "the stored overrides of %s do not parse (%s): clear them first",
                        op->req.domain, err.msg);
        return -1;
    }
    if (op->req.ovr_clear_all)
        memset(&s, 0, sizeof(s));
    for (i = 0; i < JSONREQ_OVR_N; i++)
        if (op->req.ovr_set[i])
            statuswrite_apply(op, &s, i);
    out[0] = '\0';
    if (s.has == 0)
        return 0;
    if ((n = overrides_format(&s, out, outlen)) < 0 ||
        overrides_parse_settings(out, (size_t)n, &check, &err) < 0) {
        status_op_error(op, "bad-value", "overrides of %s: %s", op->req.domain,
                        n < 0 ? overrides_strerror(n) : err.msg);
        return -1;
    }
    return 0;
}

static void statuswrite_domain_read(struct status_op *op);

static void statuswrite_on_cas(void *arg, int rc, const struct track_reply *rep)
{
    struct status_op *op = arg;
    json_t *before = json_object_get(op->acc, "before"), *after = json_object_get(op->acc, "after");

    if (rc != TRACK_OK) {
        statuscmd_redis_error(op, rc, rep);
        return;
    }
    if (!(rep->npairs > 0 && statuscmd_pair_is(rep, 0, "done") && rep->pairs[0].ival == 1)) {
        if (++op->attempts < STATUSWRITE_CAS_ROUNDS) {
            statuswrite_domain_read(op);
            return;
        }
        status_op_error(op, "conflict", "the overrides of %s keep changing; try again",
                        op->req.domain);
        return;
    }
    json_incref(before);
    json_incref(after);
    statuswrite_ovr_logged(op, "domain", json_string(op->req.domain), before, after);
}

/* statuswrite_on_domain - the domain's current text: answer a get, or change and CAS. */
static void statuswrite_on_domain(void *arg, int rc, const struct track_reply *rep)
{
    struct status_op *op = arg;
    char key[KEYS_PREFIX_MAX + 16], text[OVERRIDES_TEXT_MAX], newv[OVERRIDES_TEXT_MAX + 1];
    char *expect;
    const char *old = "", *argv[5] = {"1", key, op->req.domain, NULL, newv};
    size_t len = 0, lens[5];
    bool present;

    if (rc != TRACK_OK) {
        statuscmd_redis_error(op, rc, rep);
        return;
    }
    present = rep->npairs == 1 && rep->pairs[0].name_len == 0 && !rep->pairs[0].is_int &&
              rep->pairs[0].sval_len > 0;
    if (present)
        old = rep->pairs[0].sval, len = rep->pairs[0].sval_len;
    if (!jsonreq_is_write(&op->req)) {
        status_op_done(op, json_pack("{s:s, s:o}", "domain", op->req.domain, "overrides",
                                     statuscmd_json_bytes(old, len)));
        return;
    }
    if (statuswrite_domain_text(op, old, len, text, sizeof(text)) < 0)
        return;
    json_decref(op->acc);
    op->acc = json_pack("{s:o, s:s}", "before", statuscmd_json_bytes(old, len), "after", text);
    statuscmd_global_key(op, "domains", key, sizeof(key));
    /* hash_cas.lua: "1" + value, or "0" for absent (expected) and delete (new) */
    expect = xmalloc(len + 2);
    expect[0] = present ? '1' : '0';
    memcpy(expect + 1, old, len);
    snprintf(newv, sizeof(newv), "%s%s", text[0] != '\0' ? "1" : "0", text);
    argv[3] = expect;
    lens[0] = 1, lens[1] = strlen(key), lens[2] = strlen(op->req.domain);
    lens[3] = 1 + len, lens[4] = strlen(newv);
    track_eval(status_track(op->st), op->st->s_hash_cas, 5, argv, lens, statuswrite_on_cas, op);
    free(expect);
}

static void statuswrite_domain_read(struct status_op *op)
{
    char key[KEYS_PREFIX_MAX + 16];
    const char *argv[3] = {"HGET", key, op->req.domain};
    size_t lens[3];

    statuscmd_global_key(op, "domains", key, sizeof(key));
    lens[0] = 4, lens[1] = strlen(key), lens[2] = strlen(op->req.domain);
    track_command(status_track(op->st), 3, argv, lens, statuswrite_on_domain, op);
}

void statuswrite_override(struct status_op *op)
{
    if (statuswrite_ovr_check(op) < 0)
        return;
    if (op->req.domain[0] != '\0')
        statuswrite_domain_read(op);
    else
        statuswrite_ovr_mailbox(op);
}

/* ---- events: counters and the audit trail ---------------------------------------- */

static void statuswrite_on_event(void *arg, const struct pd_event *ev)
{
    struct status *st = arg;
    const struct status_op *op = st->emitting;
    json_t *e;

    if (ev->type == PD_EVENT_BLOCK || ev->type == PD_EVENT_UNBLOCK)
        st->stats.events[ev->type][statuscmd_reason(ev->reason)]++;
    if (ev->by != NULL && strcmp(ev->by, "auto") == 0)
        return;
    e = json_pack("{s:I, s:s, s:o, s:s, s:s, s:s, s:s}", "at", (json_int_t)ev->at, "action",
                  events_type_name(ev->type), "user",
                  statuscmd_json_bytes(ev->mailbox, strlen(ev->mailbox)), "by",
                  ev->by != NULL ? ev->by : "", "ref", ev->ref != NULL ? ev->ref : "", "reason",
                  ev->reason != NULL ? ev->reason : "", "condition",
                  ev->condition != NULL ? ev->condition : "");
    if (e == NULL)
        return;
    if (op != NULL) {
        json_object_set_new(e, "peer", json_string(op->peer));
        json_object_set_new(e, "text", json_string(op->req.text));
        if (ev->type == PD_EVENT_UNBLOCK) {
            json_object_set_new(e, "false_positive", json_boolean(op->req.false_positive));
            json_object_set(e, "before", op->acc != NULL ? op->acc : json_null());
        }
    }
    statuswrite_audit(st, st->srv->cfg, e);
}

void statuswrite_subscribe(struct status *st)
{
    if (events_subscribe(statuswrite_on_event, st) < 0)
        log_panic("events: no room for the status socket's subscriber");
    st->subscribed = true;
}

void statuswrite_unsubscribe(struct status *st)
{
    if (st->subscribed)
        events_unsubscribe(statuswrite_on_event, st);
    st->subscribed = false;
}
