/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      statusshow - the status socket's "show" (policyctl status USER): one mailbox
 * SYNOPSIS
 *      #include "policyd/statuscmd.h"
 *
 *      void statusshow_run(struct status_op *op)
 * DESCRIPTION
 *      Answers one mailbox in three Redis calls, each started from the previous one's
 *      callback; the reply being built is op->acc (owned by the op):
 *
 *      1. status_show.lua: the block record, probation, overrides, history (newest
 *         first).
 *      2. HGET of "<prefix>1:domains": the domain's overrides. "limits" gets each cap
 *         with its source (default, domain, domain-raise, mailbox, raise), worked out
 *         as track.lua works it out.
 *      3. track.lua itself, read-only: protocol_state "" counts nothing and writes
 *         nothing, and returns every signal as the next request would see it. Its argv
 *         is built with trackargs(3) exactly as decide builds it (same key names, the
 *         domain's caps applied with overrides_apply_domain()), so the figures are the
 *         detector's own. One key differs: KEYS[6] (the block record) is a key of the
 *         mailbox that nobody writes (STATUSSHOW_NOBLK), because track.lua answers a
 *         blocked mailbox with its block alone, and a blocked mailbox is exactly the
 *         one the helpdesk wants the counters of. From its reply: "counters" (per
 *         window, 1h and 24h), "baseline" (the learned daily and hourly maxima, days
 *         learned, first seen), "known" (networks and correspondents remembered), and
 *         each cap's "value" in "limits" is replaced by the one track.lua applies.
 *         When this call fails the reply still goes out, with "signals_error".
 *
 *      The domain's overrides come from Redis only: a domain entry of overrides_file
 *      lives in decide's domain cache and is not seen here.
 * DIAGNOSTICS
 *      A failure of call 1 is answered {"ok": false, "error": "redis"}; later failures
 *      are reported inside the reply. Nothing is logged.
 * SEE ALSO
 *      statuscmd.c, ratelimit/lua/status_show.lua, ratelimit/lua/track.lua,
 *      trackargs(3), overrides(3)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policyd/config.h"
#include "policyd/decide.h"
#include "policyd/server.h"
#include "policyd/status.h"
#include "policyd/statuscmd.h"
#include "policyd/util.h"
#include "ratelimit/domcache.h"
#include "ratelimit/overrides.h"
#include "ratelimit/signals.h"
#include "ratelimit/track.h"
#include "ratelimit/trackargs.h"

#define STATUS_HISTORY_SHOW 20   /* history entries "show" returns */
#define STATUSSHOW_NOBLK "noblk" /* a suffix no writer uses: see DESCRIPTION */
#define STATUSSHOW_BLK_ARG 6     /* argv index of KEYS[6] (argv[0] is numkeys) */

static const char *const statusshow_caps[OVERRIDES_NCAPS] = {"rcpt_hour", "rcpt_day", "msg_hour",
                                                             "msg_day"};

/* Where each signal of track.lua's reply goes in the reply: group, then field name. */
static const struct {
    const char *signal, *group, *field;
} statusshow_fields[] = {
    {"rcpt_1h", "counters", "rcpt_1h"},
    {"rcpt_24h", "counters", "rcpt_24h"},
    {"msgs_1h", "counters", "msgs_1h"},
    {"msgs_24h", "counters", "msgs_24h"},
    {"refused_1h", "counters", "refused_1h"},
    {"refused_24h", "counters", "refused_24h"},
    {"distinct_rcpt_1h", "counters", "distinct_rcpt_1h"},
    {"distinct_rcpt_24h", "counters", "distinct_rcpt_24h"},
    {"new_rcpt_1h", "counters", "new_rcpt_1h"},
    {"new_rcpt_24h", "counters", "new_rcpt_24h"},
    {"distinct_dom_1h", "counters", "distinct_dom_1h"},
    {"new_dom_1h", "counters", "new_dom_1h"},
    {"new_dom_24h", "counters", "new_dom_24h"},
    {"distinct_nets_1h", "counters", "distinct_nets_1h"},
    {"distinct_nets_24h", "counters", "distinct_nets_24h"},
    {"new_nets_1h", "counters", "new_nets_1h"},
    {"new_nets_24h", "counters", "new_nets_24h"},
    {"sender_mismatch_1h", "counters", "sender_mismatch_1h"},
    {"base_max_hour_rcpt", "baseline", "max_hour_rcpt"},
    {"base_max_day_rcpt", "baseline", "max_day_rcpt"},
    {"base_max_msg_rcpt", "baseline", "max_msg_rcpt"},
    {"base_days", "baseline", "days"},
    {"base_msgs", "baseline", "msgs"},
    {"first_seen", "baseline", "first_seen"},
    {"known_nets", "known", "networks"},
    {"known_rcpts", "known", "correspondents"},
};

/* statusshow_group - out[name], made when missing. */
static json_t *statusshow_group(json_t *out, const char *name)
{
    json_t *g = json_object_get(out, name);

    if (g == NULL) {
        g = json_object();
        json_object_set_new(out, name, g);
    }
    return g;
}

/* statusshow_limit - track.lua's value of one cap into limits[cap].value. */
static void statusshow_limit(json_t *limits, const char *cap, const struct track_pair *p)
{
    json_t *c = json_object_get(limits, cap);

    if (json_is_object(c) && p->is_int)
        json_object_set_new(c, "value", json_integer(p->ival));
}

/* statusshow_on_signals - track.lua's signals: the reply is complete. */
static void statusshow_on_signals(void *arg, int rc, const struct track_reply *rep)
{
    struct status_op *op = arg;
    json_t *out = op->acc, *limits = json_object_get(out, "limits");
    char name[32];
    size_t i, k;

    op->acc = NULL;
    if (rc != TRACK_OK) {
        json_object_set_new(out, "signals_error",
                            json_pack("{s:s, s:s?}", "error", track_strerror(rc), "message",
                                      rep != NULL ? rep->error : NULL));
        status_op_done(op, out);
        return;
    }
    for (i = 0; i < rep->npairs; i++) {
        const struct track_pair *p = &rep->pairs[i];

        for (k = 0; k < sizeof(statusshow_fields) / sizeof(statusshow_fields[0]); k++)
            if (statuscmd_pair_is(rep, i, statusshow_fields[k].signal))
                json_object_set_new(statusshow_group(out, statusshow_fields[k].group),
                                    statusshow_fields[k].field, statuscmd_value(p));
        for (k = 0; k < OVERRIDES_NCAPS; k++) {
            snprintf(name, sizeof(name), "lim_%s", statusshow_caps[k]);
            if (statuscmd_pair_is(rep, i, name))
                statusshow_limit(limits, statusshow_caps[k], p);
        }
        if (statuscmd_pair_is(rep, i, "exempt") && json_is_object(limits))
            json_object_set_new(limits, "exempt", json_boolean(p->is_int && p->ival == 1));
    }
    status_op_done(op, out);
}

/* statusshow_signals - track.lua with protocol_state "": read, never count (see
 * DESCRIPTION for the one key that differs from decide's call). */
static void statusshow_signals(struct status_op *op, const struct overrides_settings *dom)
{
    const struct pd_config *cfg = op->cfg;
    struct trackargs_in in;
    struct trackargs *ta = xmalloc(sizeof(*ta)); /* ~11 KB: not on the stack */
    char noblk[KEYS_NAME_SIZE];
    size_t len;

    memset(&in, 0, sizeof(in));
    in.mailbox = op->mailbox;
    in.mailbox_len = op->mailbox_len;
    in.hash_key = decide_hash_key(op->st->srv->decide);
    in.prefix = cfg->redis_key_prefix;
    in.now_ms = (int64_t)op->now * 1000;
    in.protocol_state = "";
    in.lim_rcpt_hour = cfg->limit_recipients_per_hour;
    in.lim_rcpt_day = cfg->limit_recipients_per_day;
    in.lim_msg_hour = cfg->limit_messages_per_hour;
    in.lim_msg_day = cfg->limit_messages_per_day;
    in.limit_src = SIGNALS_SRC_DEFAULT;
    overrides_apply_domain(dom, op->now, &in);
    len = statuscmd_key(op, STATUSSHOW_NOBLK, noblk, sizeof(noblk));
    if (in.hash_key == NULL || len == 0 || trackargs_build(ta, &in, NULL) < 0) {
        free(ta);
        statusshow_on_signals(op, TRACK_ERR_REPLY, NULL);
        return;
    }
    ta->argv[STATUSSHOW_BLK_ARG] = noblk;
    ta->argvlen[STATUSSHOW_BLK_ARG] = len;
    track_eval(status_track(op->st), op->st->s_track, ta->argc, ta->argv, ta->argvlen,
               statusshow_on_signals, op);
    free(ta);
}

/* statusshow_effective - the caps as track.lua applies them: a raise (until raise_until)
 * over the mailbox's own cap over the domain's (its raise first) over the default. */
static json_t *statusshow_effective(const struct status_op *op, json_t *ovr,
                                    const struct overrides_settings *dom)
{
    const char *const *names = statusshow_caps;
    const struct pd_config *cfg = op->cfg;
    long long def[OVERRIDES_NCAPS] = {cfg->limit_recipients_per_hour, cfg->limit_recipients_per_day,
                                      cfg->limit_messages_per_hour, cfg->limit_messages_per_day};
    bool dom_raise = (dom->has & OVERRIDES_HAS_RAISE_UNTIL) && dom->raise_until > op->now;
    json_t *until = json_object_get(ovr, "raise_until"), *out = json_object(), *v;
    bool raise = json_is_integer(until) && json_integer_value(until) > op->now;
    char field[32];
    int i;

    for (i = 0; i < OVERRIDES_NCAPS; i++) {
        long long val = def[i];
        const char *src = "default";

        if (dom_raise && (dom->has & OVERRIDES_HAS_RAISE(i)))
            val = dom->raise[i], src = "domain-raise";
        else if (dom->has & OVERRIDES_HAS_CAP(i))
            val = dom->cap[i], src = "domain";
        snprintf(field, sizeof(field), "lim_%s", names[i]);
        if (json_is_integer(v = json_object_get(ovr, field)))
            val = json_integer_value(v), src = "mailbox";
        snprintf(field, sizeof(field), "raise_%s", names[i]);
        if (raise && json_is_integer(v = json_object_get(ovr, field)))
            val = json_integer_value(v), src = "raise";
        json_object_set_new(out, names[i],
                            json_pack("{s:I, s:s}", "value", (json_int_t)val, "source", src));
    }
    v = json_object_get(ovr, "exempt");
    json_object_set_new(out, "exempt",
                        json_boolean(v != NULL ? json_integer_value(v) == 1
                                               : (dom->has & OVERRIDES_HAS_EXEMPT) && dom->exempt));
    v = json_object_get(ovr, "profile");
    json_object_set_new(out, "profile",
                        json_string(v != NULL && json_is_string(v) ? json_string_value(v)
                                    : (dom->has & OVERRIDES_HAS_PROFILE)
                                        ? overrides_profile_text(dom->profile)
                                        : ""));
    return out;
}

/* statusshow_on_domain - the domain's overrides: the reply is complete. */
static void statusshow_on_domain(void *arg, int rc, const struct track_reply *rep)
{
    struct status_op *op = arg;
    json_t *out = op->acc, *ovr = json_object_get(out, "overrides");
    struct overrides_settings dom;
    struct pd_err err;
    const char *text = "";
    size_t len = 0;

    op->acc = NULL;
    if (rc == TRACK_OK && rep->npairs == 1 && !rep->pairs[0].is_int)
        text = rep->pairs[0].sval, len = rep->pairs[0].sval_len;
    memset(&dom, 0, sizeof(dom));
    if (rc != TRACK_OK || (len > 0 && overrides_parse_settings(text, len, &dom, &err) < 0)) {
        memset(&dom, 0, sizeof(dom));
        json_object_set_new(out, "domain_error",
                            json_string(rc != TRACK_OK ? track_strerror(rc) : err.msg));
    }
    if (rc == TRACK_OK && len == 0 && op->st->srv->decide != NULL) {
        /* no helpdesk entry in Redis: the overrides_file entry decide applies, if any */
        const char *at = memchr(op->mailbox, '@', op->mailbox_len);
        const char *dn = at != NULL ? at + 1 : op->mailbox + op->mailbox_len;

        if (domcache_lookup(decide_domcache(op->st->srv->decide), dn,
                            (size_t)(op->mailbox + op->mailbox_len - dn), &dom))
            json_object_set_new(out, "domain_overrides_from", json_string("overrides_file"));
    }
    json_object_set_new(out, "domain_overrides", statuscmd_json_bytes(text, len));
    json_object_set_new(out, "limits", statusshow_effective(op, ovr, &dom));
    op->acc = out;
    statusshow_signals(op, &dom);
}

/* statusshow_reply - status_show.lua's pairs into the reply's objects. */
static json_t *statusshow_reply(struct status_op *op, const struct track_reply *rep)
{
    json_t *blk = json_object(), *ovr = json_object(), *hist = json_array(), *e;
    long long probation = 0;
    bool blocked;
    size_t i;

    for (i = 0; i < rep->npairs; i++) {
        const struct track_pair *p = &rep->pairs[i];

        if (p->name_len > 4 && memcmp(p->name, "blk.", 4) == 0) {
            statuscmd_set(blk, p->name + 4, p->name_len - 4, statuscmd_value(p));
        } else if (p->name_len > 4 && memcmp(p->name, "ovr.", 4) == 0) {
            statuscmd_set(ovr, p->name + 4, p->name_len - 4, statuscmd_value(p));
        } else if (statuscmd_pair_is(rep, i, "probation_until")) {
            probation = p->ival;
        } else if (statuscmd_pair_is(rep, i, "hist")) {
            e = json_loadb(p->sval, p->sval_len, 0, NULL);
            json_array_append_new(hist, e != NULL ? e : statuscmd_json_bytes(p->sval, p->sval_len));
        }
    }
    if (!(blocked = json_object_size(blk) > 0)) {
        json_decref(blk);
        blk = json_null();
    }
    return json_pack("{s:o, s:b, s:o, s:I, s:b, s:o, s:o}", "user",
                     statuscmd_json_bytes(op->mailbox, op->mailbox_len), "blocked", blocked,
                     "block", blk, "probation_until", (json_int_t)probation, "on_probation",
                     probation > op->now, "overrides", ovr, "history", hist);
}

static void statusshow_on_show(void *arg, int rc, const struct track_reply *rep)
{
    struct status_op *op = arg;
    const char *at = memchr(op->mailbox, '@', op->mailbox_len);
    const char *argv[3] = {"HGET", NULL, NULL};
    char dkey[KEYS_PREFIX_MAX + 16];
    size_t lens[3];

    if (rc != TRACK_OK) {
        statuscmd_redis_error(op, rc, rep);
        return;
    }
    op->acc = statusshow_reply(op, rep);
    statuscmd_global_key(op, "domains", dkey, sizeof(dkey));
    at = at != NULL ? at + 1 : op->mailbox + op->mailbox_len;
    json_object_set_new(op->acc, "domain",
                        statuscmd_json_bytes(at, (size_t)(op->mailbox + op->mailbox_len - at)));
    argv[1] = dkey, argv[2] = at;
    lens[0] = 4, lens[1] = strlen(dkey), lens[2] = (size_t)(op->mailbox + op->mailbox_len - at);
    track_command(status_track(op->st), 3, argv, lens, statusshow_on_domain, op);
}

void statusshow_run(struct status_op *op)
{
    char blk[KEYS_NAME_SIZE], hist[KEYS_NAME_SIZE], ovr[KEYS_NAME_SIZE], st[KEYS_NAME_SIZE];
    char n[8];
    const char *argv[6] = {"4", blk, hist, ovr, st, n};
    size_t lens[6];
    int i;

    if (statuscmd_mailbox(op) < 0)
        return;
    statuscmd_key(op, KEYS_SUFFIX_BLOCK, blk, sizeof(blk));
    statuscmd_key(op, "hist", hist, sizeof(hist));
    statuscmd_key(op, KEYS_SUFFIX_OVR, ovr, sizeof(ovr));
    statuscmd_key(op, KEYS_SUFFIX_STATE, st, sizeof(st));
    snprintf(n, sizeof(n), "%d", STATUS_HISTORY_SHOW);
    for (i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    track_eval(status_track(op->st), op->st->s_show, 6, argv, lens, statusshow_on_show, op);
}
