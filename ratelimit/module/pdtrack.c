/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      pdtrack - ratelimit/lua/track.lua as a native Redis command (PD.TRACK)
 * SYNOPSIS
 *      redis-server --loadmodule /usr/lib/policyd/pdtrack.so
 *      PD.TRACK 6 st kr kd net ovr blk api now_ms state instance ... state_days
 *      PD.API
 * DESCRIPTION
 *      PD.TRACK takes what follows the SHA-1 in "EVALSHA <sha> 6 ..." of track.lua, the
 *      same six keys of one mailbox and the same 22 arguments (trackargs.c), and does
 *      exactly what the script does: it reads and writes the same keys, field by field
 *      and byte by byte, and replies the same array. The script's header is the
 *      contract (the keys, the arguments, the reply, the ring and memory layouts); each
 *      function here carries the name of the Lua function it mirrors, and the arrays
 *      are indexed from 1 like the script's tables so that the two read side by side.
 *      scripts/bench/script-diff.sh ratelimit/lua/track.lua module compares them on
 *      every reply and the whole keyspace (tests/integ/test_module.sh, in make test).
 *
 *      Why: the script costs Redis some 356,000 instructions per call, most of it the
 *      Lua interpreter, its tables and strings, and the conversions of every redis.call
 *      and of the reply (docs/BENCHMARKS.md); Redis is what saturates first. Here the
 *      same work is key lookups, a few field copies and a memcpy: 65,400 instructions
 *      per call against 356,000 (scripts/bench/script-cost.sh), 10 us of Redis CPU
 *      against 40.
 *
 *      The files: pdtrack.c (this: arguments, limits, the request, the reply, the
 *      commands, loading), ptstate.c (rings, st, messages), ptmem.c (memories, networks),
 *      ptutil.c (numbers, fields, packing), pt.h, rmapi.h (the module API used).
 *
 *      PD.API answers the argv layout this module speaks (PT_API): policyd asks it once
 *      per connection and uses PD.TRACK only on an exact match, else the script. A
 *      Redis without the module, or another version of it, is served by the script.
 *
 *      Writes replicate verbatim (the command itself, as scripts did before Redis 5):
 *      it is deterministic, since it reads no clock (now_ms is an argument), so a
 *      replica or an AOF replay that loads the module computes the same. A replica or an
 *      AOF must therefore load the module as well (docs: README, Operations).
 *
 *      Number semantics follow Lua's where the script's results depend on them:
 *      arguments and stored numbers are read like Lua 5.1's tonumber (strtod), caps and
 *      counts compared as doubles, and numbers replied as Redis converts a Lua number
 *      (truncated to an integer).
 * DIAGNOSTICS
 *      Error replies: "ERR pd.track: argv layout ..." (another policyd version),
 *      "ERR pd.track: a numeric argument is not a number", "ERR pd.track: a stored
 *      field is too short" (a slot field that is not ours), WRONGTYPE.
 * SEE ALSO
 *      ratelimit/lua/track.lua, ratelimit/track.c, ratelimit/module/rmapi.h
 */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit/module/pt.h"
#include "ratelimit/sha1.h"

/* ------------------------------------------------------------------ arguments */

/* parse_args */
static bool pt_parse_args(struct pt *pt, RedisModuleString **argv, struct pt_args *a)
{
    static const int nums[] = {2, 8, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22};
    double v[23];
    struct pt_str s;
    size_t i;

    s = pt_of(argv[0]);
    if (!pt_is(s, "1")) {
        pt->err = "ERR pd.track: argv layout not 1";
        return false;
    }
    for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (!pt_tonumber(pt_of(argv[nums[i] - 1]).p, &v[nums[i]])) {
            pt->err = "ERR pd.track: a numeric argument is not a number";
            return false;
        }
    a->now = (int64_t)floor(v[2] / 1000);
    a->state = pt_of(argv[2]);
    a->instance = pt_of(argv[3]);
    a->rcpt = pt_of(argv[4]);
    a->dom = pt_of(argv[5]);
    a->net = pt_of(argv[6]);
    a->mismatch = v[8] == 1;
    a->rcpt_count = v[10];
    for (i = 1; i <= 4; i++)
        a->caps[i] = v[10 + i];
    a->src = v[15];
    a->dom_exempt = v[16] == 1;
    a->profile = pt_of(argv[16]);
    a->memory_days = v[18];
    a->rcpt_max = v[19];
    a->dom_max = v[20];
    a->nets_max = v[21];
    a->state_ttl = (long long)(v[22] * 86400000);
    a->memory_ttl = (long long)(v[18] * 86400000);
    /* long ids would bloat the st hash (and convert it out of its listpack form) */
    if (a->instance.n > 40) {
        sha1_hex(a->instance.p, a->instance.n, a->instance_sha);
        a->instance.p = a->instance_sha;
        a->instance.n = 40;
    }
    return true;
}

/* ------------------------------------------------------------------ limits */

/* default_limits */
static void pt_default_limits(const struct pt_args *a, struct pt_limits *lim)
{
    int i;

    for (i = 1; i <= 4; i++)
        lim->caps[i] = a->caps[i], lim->srcs[i] = a->src;
    lim->src = a->src;
    lim->exempt = a->dom_exempt;
    lim->profile = a->profile;
}

/* effective_limits - mailbox override > domain or default; a raise wins until it ends. */
static bool pt_effective_limits(struct pt *pt, const struct pt_args *a, RedisModuleKey *k,
                                struct pt_limits *lim)
{
    static const char *const names[] = {NULL,
                                        "exempt",
                                        "profile",
                                        "lim_rcpt_hour",
                                        "lim_rcpt_day",
                                        "lim_msg_hour",
                                        "lim_msg_day",
                                        "raise_until",
                                        "raise_rcpt_hour",
                                        "raise_rcpt_day",
                                        "raise_msg_hour",
                                        "raise_msg_day"};
    RedisModuleString *o[12];
    double until = 0, mailbox, raised;
    bool raise_on, any = false, has_mailbox, has_raised;
    int i;

    pt_default_limits(a, lim);
    if (!pt_type_ok(pt, k, REDISMODULE_KEYTYPE_HASH))
        return false;
    for (i = 1; i <= 11; i++) {
        o[i] = pt_hget(pt, k, names[i]);
        if (i <= 7 && o[i] != NULL)
            any = true;
    }
    if (pt->err != NULL)
        return false;
    if (!any)
        return true;
    if (!pt_tonumber(pt_of(o[7]).p, &until))
        until = 0;
    raise_on = until > (double)a->now;
    for (i = 1; i <= 4; i++) {
        has_mailbox = pt_tonumber(pt_of(o[2 + i]).p, &mailbox);
        has_raised = raise_on && pt_tonumber(pt_of(o[7 + i]).p, &raised);
        lim->caps[i] = has_raised ? raised : has_mailbox ? mailbox : a->caps[i];
        if (has_raised)
            lim->srcs[i] = 3;
        else if (has_mailbox)
            lim->srcs[i] = 2;
        if (lim->srcs[i] > lim->src)
            lim->src = lim->srcs[i];
    }
    if (o[1] != NULL)
        lim->exempt = pt_is(pt_of(o[1]), "1");
    if (o[2] != NULL)
        lim->profile = pt_of(o[2]);
    return true;
}

/* ------------------------------------------------------------------ requests */

/* mem_cached - field m as {.., distinct_rcpt_1h, distinct_rcpt_24h, distinct_dom_1h,
 * nets_1h, nets_24h, known_nets, known_rcpts, net_first, recorded} (c[1..9]) when it was
 * written in the current buckets for this request's network. */
static bool pt_mem_cached(const struct pt_args *a, const struct pt_state *st, int64_t c[10])
{
    int64_t v[12];

    if (st->m.p == NULL || st->m.n < PT_M_LEN)
        return false;
    pt_unpack32(v, &st->m, 11);
    if (v[1] != st->f[1] || v[2] != st->h[1] || st->m.n - PT_M_LEN != a->net.n ||
        memcmp(st->m.p + PT_M_LEN, a->net.p, a->net.n) != 0)
        return false;
    memcpy(c + 1, v + 3, 9 * sizeof(*c));
    return true;
}

/* mem_signals - ms[1..8]: distinct_rcpt_1h, distinct_rcpt_24h, distinct_dom_1h, nets_1h,
 * nets_24h, known_nets, known_rcpts, net_first (5-minute bucket); *fresh: read afresh. */
static bool pt_mem_signals(struct pt *pt, const struct pt_args *a, const struct pt_state *st,
                           RedisModuleKey **keys, struct pt_out *out, double ms[9], bool *fresh)
{
    int64_t c[10], from_1h = st->f[1] - 11, from_24h = (st->h[1] - 23) * 12;
    double nets_1h = 0, nets_24h = 0, known_nets = 0, net_first = out->net_first;
    struct pt_str kr = out->kr, kd = out->kd;
    bool is_new;
    int i;

    *fresh = false;
    if (!out->counted && pt_mem_cached(a, st, c)) {
        for (i = 1; i <= 8; i++)
            ms[i] = (double)c[i];
        return true;
    }
    *fresh = true;
    if (kr.p == NULL && !pt_mem_get(pt, keys[2], &kr))
        return false;
    if (kd.p == NULL && !pt_mem_get(pt, keys[3], &kd))
        return false;
    if (out->nets_cached) {
        nets_1h = (double)out->nc[4], nets_24h = (double)out->nc[5];
        known_nets = (double)out->nc[6], net_first = (double)out->nc[8];
    } else {
        if (out->nets == NULL) {
            if (!pt_nets_see(pt, keys[4], a->net, st->f[1], false, 0, 0, &is_new, &net_first))
                return false;
            out->nets = &pt->nets;
        }
        for (i = 0; i < out->nets->n; i++) {
            const struct pt_net *e = &out->nets->v[i];

            if (e->gone)
                continue;
            known_nets++;
            if (e->last >= (double)from_1h)
                nets_1h++;
            if (e->last >= (double)from_24h)
                nets_24h++;
        }
    }
    ms[1] = (double)pt_mem_since(kr, (double)from_1h);
    ms[2] = (double)pt_mem_since(kr, (double)from_24h);
    ms[3] = (double)pt_mem_since(kd, (double)from_1h);
    ms[4] = nets_1h, ms[5] = nets_24h, ms[6] = known_nets;
    ms[7] = (double)(kr.n / PT_REC);
    ms[8] = net_first;
    return true;
}

/* mem_keep - the memory signals go into field m with the next write of st. */
static bool pt_mem_keep(struct pt *pt, const struct pt_args *a, struct pt_state *st,
                        const double ms[9], const struct pt_out *out)
{
    unsigned char *m = pt_alloc(pt, PT_M_LEN + a->net.n);
    int i;

    if (m == NULL) {
        pt->err = "ERR pd.track: out of buffers";
        return false;
    }
    pt_put32(m, st->f[1]);
    pt_put32(m + 4, st->h[1]);
    for (i = 1; i <= 8; i++)
        pt_put32(m + 4 + 4 * i, (int64_t)ms[i]);
    pt_put32(m + 40, out->counted ? 1 : 0);
    memcpy(m + PT_M_LEN, a->net.p, a->net.n);
    st->m_new = (char *)m;
    st->m_new_len = PT_M_LEN + a->net.n;
    return true;
}

/* cap_hit - the first cap (enum signals_cap) this request would cross, or 0. */
static int pt_cap_hit(const struct pt_state *st, const double caps[5], bool msg_new)
{
    int64_t counts[5] = {0, st->f[1 + RCPT], st->h[1 + RCPT], st->f[1 + MSGS], st->h[1 + MSGS]};
    int i;

    for (i = 1; i <= 4; i++)
        if (caps[i] > 0 && (i <= 2 || msg_new) && (double)(counts[i] + 1) > caps[i])
            return i;
    return 0;
}

/* count_rcpt - an accepted recipient: every window, the message, the memories. */
static bool pt_count_rcpt(struct pt *pt, const struct pt_args *a, struct pt_state *st,
                          RedisModuleKey **keys, struct pt_out *out)
{
    int64_t *d = st->d, b5 = st->f[1], c[10];
    double oldest = (double)b5 - a->memory_days * 288;
    unsigned char h4[4];
    bool known, is_new;

    pt_count(st, RCPT, 1);
    if (out->msg_new == 1) {
        pt_count(st, MSGS, 1);
        d[1 + D_MSGS]++;
    }
    out->rcpt_this_msg = pt_msg_add(st, a->instance);
    d[1 + D_RCPT]++;
    if (st->h[8 + RCPT] > d[1 + D_MAX_HOUR])
        d[1 + D_MAX_HOUR] = st->h[8 + RCPT];
    if (out->rcpt_this_msg > d[1 + D_MAX_MSG])
        d[1 + D_MAX_MSG] = out->rcpt_this_msg;
    if (a->mismatch)
        pt_count(st, MISMATCH, 1);
    if (pt_hash4(a->rcpt, h4)) {
        if (!pt_mem_see(pt, keys[2], h4, b5, oldest, a->rcpt_max, a->memory_ttl, &known, &out->kr))
            return false;
        if (st->history && !known) {
            out->rcpt_new = true;
            pt_count(st, NEW_RCPT, 1);
        }
    }
    if (pt_hash4(a->dom, h4)) {
        if (!pt_mem_see(pt, keys[3], h4, b5, oldest, a->dom_max, a->memory_ttl, &known, &out->kd))
            return false;
        if (st->history && !known) {
            out->rcpt_dom_new = true;
            pt_count(st, NEW_DOM, 1);
        }
    }
    /* the network: not read again when this bucket's counted request from it wrote m */
    if (pt_mem_cached(a, st, c) && c[9] == 1) {
        out->nets_cached = true;
        memcpy(out->nc, c, sizeof(c));
    } else {
        if (!pt_nets_see(pt, keys[4], a->net, b5, true, a->nets_max, a->memory_ttl, &is_new,
                         &out->net_first))
            return false;
        out->nets = &pt->nets;
        if (st->history && is_new) {
            out->net_new = true;
            pt_count(st, NEW_NET, 1);
        }
    }
    out->counted = true;
    return true;
}

/* record_final - DATA / END-OF-MESSAGE: Postfix's own recipient count makes the day's
 * largest message exact. Returns whether st must be written. */
static bool pt_record_final(const struct pt_args *a, struct pt_state *st, struct pt_out *out)
{
    int64_t *d = st->d;
    double n = a->rcpt_count;
    int slot = pt_msg_slot(st, a->instance);
    bool changed = false;

    if (slot >= 0 && n > 0 && (double)d[D_C0 + slot] != n) {
        d[D_C0 + slot] = (int64_t)n;
        changed = true;
    }
    if (slot >= 0)
        out->rcpt_this_msg = d[D_C0 + slot];
    if (n > (double)d[1 + D_MAX_MSG]) {
        d[1 + D_MAX_MSG] = (int64_t)n;
        return true;
    }
    return slot >= 0 && n > 0 && (changed || st->moved || d[D_FIRST_SEEN] == 0);
}

/* ------------------------------------------------------------------ reply */

static void pt_reply_str(RedisModuleCtx *ctx, struct pt_str s)
{
    RedisModule_ReplyWithStringBuffer(ctx, s.p != NULL ? s.p : "", s.p != NULL ? s.n : 0);
}

/* reply - "@" and every signal of signals.h in its order, as track.lua's reply(). */
static void pt_reply(RedisModuleCtx *ctx, const struct pt_state *st, const struct pt_limits *lim,
                     const struct pt_out *out, const double ms[9])
{
    const int64_t *f = st->f, *h = st->h, *d = st->d;
    long long v[45] = {
        0,                                                  /* blocked */
        0,                                                  /* block_created */
        (long long)st->probation_until,                     /* probation_until */
        lim->exempt ? 1 : 0,                                /* exempt */
        out->capped,                                        /* capped */
        out->capped ? (long long)out->cap_limit : 0,        /* cap_limit */
        out->capped ? out->cap_value : 0,                   /* cap_value */
        (long long)(out->capped ? out->cap_src : lim->src), /* limit_src */
        (long long)lim->caps[1],                            /* lim_rcpt_hour */
        (long long)lim->caps[2],                            /* lim_rcpt_day */
        (long long)lim->caps[3],                            /* lim_msg_hour */
        (long long)lim->caps[4],                            /* lim_msg_day */
        out->counted ? 1 : 0,                               /* counted */
        out->msg_new,                                       /* msg_new */
        out->rcpt_this_msg,                                 /* rcpt_this_msg */
        out->rcpt_new ? 1 : 0,                              /* rcpt_new */
        out->rcpt_dom_new ? 1 : 0,                          /* rcpt_dom_new */
        out->net_new ? 1 : 0,                               /* net_new */
        (long long)(ms[8] * 300),                           /* net_first_seen */
        f[1 + RCPT],                                        /* rcpt_1h */
        h[1 + RCPT],                                        /* rcpt_24h */
        f[1 + MSGS],                                        /* msgs_1h */
        h[1 + MSGS],                                        /* msgs_24h */
        f[1 + REFUSED],                                     /* refused_1h */
        h[1 + REFUSED],                                     /* refused_24h */
        (long long)ms[1],                                   /* distinct_rcpt_1h */
        (long long)ms[2],                                   /* distinct_rcpt_24h */
        f[1 + NEW_RCPT],                                    /* new_rcpt_1h */
        h[1 + NEW_RCPT],                                    /* new_rcpt_24h */
        (long long)ms[3],                                   /* distinct_dom_1h */
        f[1 + NEW_DOM],                                     /* new_dom_1h */
        h[1 + NEW_DOM],                                     /* new_dom_24h */
        (long long)ms[4],                                   /* distinct_nets_1h */
        (long long)ms[5],                                   /* distinct_nets_24h */
        f[1 + NEW_NET],                                     /* new_nets_1h */
        h[1 + NEW_NET],                                     /* new_nets_24h */
        (long long)ms[6],                                   /* known_nets */
        (long long)ms[7],                                   /* known_rcpts */
        f[1 + MISMATCH],                                    /* sender_mismatch_1h */
        d[5 + B_MAX_HOUR],                                  /* base_max_hour_rcpt */
        d[5 + B_MAX_DAY],                                   /* base_max_day_rcpt */
        d[5 + B_MAX_MSG],                                   /* base_max_msg_rcpt */
        d[5 + B_DAYS],                                      /* base_days */
        d[5 + B_MSGS],                                      /* base_msgs */
        d[D_FIRST_SEEN],                                    /* first_seen */
    };
    int i;

    RedisModule_ReplyWithArray(ctx, 49);
    RedisModule_ReplyWithStringBuffer(ctx, "@", 1);
    for (i = 0; i < 45; i++)
        RedisModule_ReplyWithLongLong(ctx, v[i]);
    RedisModule_ReplyWithStringBuffer(ctx, "", 0); /* block_ref */
    RedisModule_ReplyWithStringBuffer(ctx, "", 0); /* block_reason */
    pt_reply_str(ctx, lim->profile);               /* profile */
}

/* ------------------------------------------------------------------ main */

/* the block branch: count the refused attempt, answer with the block, nothing else */
static bool pt_blocked(struct pt *pt, const struct pt_args *a, RedisModuleKey **keys,
                       RedisModuleString *const blk[4], bool counting)
{
    struct pt_state st;
    double created = 0;
    long long refused = 0;
    char buf[24];
    int len;

    if (counting) {
        struct pt_str r;
        char *end;

        if (!pt_state_load(pt, &st, keys[1], a->now))
            return false;
        pt_count(&st, REFUSED, 1);
        pt_state_save(pt, &st, a->now, a->state_ttl);
        /* HINCRBY blk refused 1: the block's own tally (alerts) */
        r = pt_of(pt_hget(pt, keys[6], "refused"));
        if (r.p != NULL) {
            refused = strtoll(r.p, &end, 10);
            if (r.n == 0 || end != r.p + r.n || isspace((unsigned char)r.p[0]) || r.p[0] == '+' ||
                (r.n > 1 && r.p[0] == '0')) {
                pt->err = "ERR hash value is not an integer";
                return false;
            }
        }
        len = snprintf(buf, sizeof(buf), "%lld", refused + 1);
        pt_hset(pt, keys[6], "refused", buf, (size_t)len);
    }
    if (!pt_tonumber(pt_of(blk[3]).p, &created))
        created = 0;
    RedisModule_ReplyWithArray(pt->ctx, 8);
    RedisModule_ReplyWithStringBuffer(pt->ctx, "blocked", 7);
    RedisModule_ReplyWithLongLong(pt->ctx, 1);
    RedisModule_ReplyWithStringBuffer(pt->ctx, "block_ref", 9);
    pt_reply_str(pt->ctx, pt_of(blk[1]));
    RedisModule_ReplyWithStringBuffer(pt->ctx, "block_reason", 12);
    pt_reply_str(pt->ctx, pt_of(blk[2]));
    RedisModule_ReplyWithStringBuffer(pt->ctx, "block_created", 13);
    RedisModule_ReplyWithLongLong(pt->ctx, (long long)created);
    return true;
}

/* pt_track - main() of track.lua; false with pt->err set when it fails */
static bool pt_track(struct pt *pt, RedisModuleKey **keys, RedisModuleString **args)
{
    RedisModuleString *blk[4] = {NULL, NULL, NULL, NULL};
    struct pt_args a;
    struct pt_limits lim;
    struct pt_state st;
    struct pt_out out;
    double ms[9];
    bool counting, dirty, fresh, defaults = false;
    int slot, cap;

    if (!pt_parse_args(pt, args, &a))
        return false;
    counting = pt_is(a.state, "RCPT");
    /* 1. a blocked mailbox (most have neither a block nor overrides) */
    if (RedisModule_KeyType(keys[6]) == REDISMODULE_KEYTYPE_EMPTY &&
        RedisModule_KeyType(keys[5]) == REDISMODULE_KEYTYPE_EMPTY) {
        pt_default_limits(&a, &lim);
        defaults = true;
    } else {
        if (!pt_type_ok(pt, keys[6], REDISMODULE_KEYTYPE_HASH))
            return false;
        blk[1] = pt_hget(pt, keys[6], "ref");
        blk[2] = pt_hget(pt, keys[6], "reason");
        blk[3] = pt_hget(pt, keys[6], "created");
    }
    if (blk[1] != NULL || blk[2] != NULL || blk[3] != NULL)
        return pt_blocked(pt, &a, keys, blk, counting);
    /* 2. the caps in force, and whether this request would cross one */
    if (!defaults && !pt_effective_limits(pt, &a, keys[5], &lim))
        return false;
    if (!pt_state_load(pt, &st, keys[1], a.now))
        return false;
    slot = pt_msg_slot(&st, a.instance);
    memset(&out, 0, sizeof(out));
    out.rcpt_this_msg = slot >= 0 ? st.d[D_C0 + slot] : 0;
    dirty = counting;
    if (counting) {
        out.msg_new = slot < 0 ? 1 : 0;
        cap = lim.exempt ? 0 : pt_cap_hit(&st, lim.caps, slot < 0);
        if (cap != 0) {
            int64_t counts[5] = {0, st.f[1 + RCPT], st.h[1 + RCPT], st.f[1 + MSGS], st.h[1 + MSGS]};

            out.capped = cap;
            out.cap_limit = lim.caps[cap];
            out.cap_value = counts[cap];
            out.cap_src = lim.srcs[cap];
            pt_count(&st, REFUSED, 1);
        } else if (!pt_count_rcpt(pt, &a, &st, keys, &out)) {
            return false;
        }
    } else if (pt_is(a.state, "DATA") || pt_is(a.state, "END-OF-MESSAGE")) {
        dirty = pt_record_final(&a, &st, &out);
    }
    /* 4. the memory signals; st is written only when something changed */
    if (!pt_mem_signals(pt, &a, &st, keys, &out, ms, &fresh))
        return false;
    if (dirty) {
        if (fresh && !pt_mem_keep(pt, &a, &st, ms, &out))
            return false;
        pt_state_save(pt, &st, a.now, a.state_ttl);
    }
    /* 5. the signals */
    pt_reply(pt->ctx, &st, &lim, &out, ms);
    return true;
}

/* PD.TRACK 6 st kr kd net ovr blk <22 arguments> */
static int pt_cmd_track(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    static const int modes[7] = {0,
                                 REDISMODULE_READ | REDISMODULE_WRITE,
                                 REDISMODULE_READ | REDISMODULE_WRITE,
                                 REDISMODULE_READ | REDISMODULE_WRITE,
                                 REDISMODULE_READ | REDISMODULE_WRITE,
                                 REDISMODULE_READ,
                                 REDISMODULE_READ | REDISMODULE_WRITE};
    RedisModuleKey *keys[7] = {NULL};
    struct pt *pt;
    bool ok;
    int i;

    if (argc < 2 + 6 + PT_NARGS)
        return RedisModule_WrongArity(ctx);
    if (!pt_is(pt_of(argv[1]), "6"))
        return RedisModule_ReplyWithError(ctx, "ERR pd.track: the number of keys must be 6");
    pt = RedisModule_Alloc(sizeof(*pt));
    memset(pt, 0, sizeof(*pt));
    pt->ctx = ctx;
    for (i = 1; i <= 6; i++)
        keys[i] = RedisModule_OpenKey(ctx, argv[1 + i], modes[i]);
    ok = pt_track(pt, keys, argv + 8);
    if (!ok)
        RedisModule_ReplyWithError(ctx, pt->err != NULL ? pt->err : "ERR pd.track: failed");
    if (pt->wrote)
        RedisModule_ReplicateVerbatim(ctx);
    for (i = 1; i <= 6; i++)
        RedisModule_CloseKey(keys[i]);
    for (i = 0; i < pt->npool; i++)
        RedisModule_FreeString(ctx, pt->pool[i]);
    for (i = 0; i < pt->nbufs; i++)
        RedisModule_Free(pt->bufs[i]);
    for (i = 0; i < pt->nets.n; i++)
        RedisModule_Free(pt->nets.v[i].name);
    RedisModule_Free(pt->nets.v);
    RedisModule_Free(pt);
    return REDISMODULE_OK;
}

#define RMAPI_DEFINE(type, name, params) type(*RedisModule_##name) params;
RMAPI_FUNCS(RMAPI_DEFINE)
#undef RMAPI_DEFINE

/*
 * rm_init - what RedisModule_Init of redismodule.h does: the first word of the load
 * context is Redis' GetApi, which fills each pointer by its name. A name this Redis does
 * not have fails the load (IsModuleNameBusy excepted: Redis < 6.2).
 */
int rm_init(RedisModuleCtx *ctx, const char *name, int ver)
{
    int (*get_api)(const char *, void *) =
        (int (*)(const char *, void *))(uintptr_t)((void **)ctx)[0];

#define RMAPI_GET(type, fname, params)                                                             \
    if (get_api("RedisModule_" #fname, (void *)&RedisModule_##fname) != REDISMODULE_OK &&          \
        strcmp(#fname, "IsModuleNameBusy") != 0)                                                   \
        return REDISMODULE_ERR;
    RMAPI_FUNCS(RMAPI_GET)
#undef RMAPI_GET
    if (RedisModule_IsModuleNameBusy != NULL && RedisModule_IsModuleNameBusy(name))
        return REDISMODULE_ERR;
    RedisModule_SetModuleAttribs(ctx, name, ver, REDISMODULE_APIVER_1);
    return REDISMODULE_OK;
}

/* PD.API - the argv layout PD.TRACK speaks */
static int pt_cmd_api(RedisModuleCtx *ctx, RedisModuleString **argv, int argc)
{
    (void)argv;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    return RedisModule_ReplyWithLongLong(ctx, PT_API);
}

int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

__attribute__((visibility("default"))) int RedisModule_OnLoad(RedisModuleCtx *ctx,
                                                              RedisModuleString **argv, int argc)
{
    (void)argv, (void)argc;
    if (rm_init(ctx, "pdtrack", PT_API) != REDISMODULE_OK)
        return REDISMODULE_ERR;
    if (RedisModule_CreateCommand(ctx, "pd.track", pt_cmd_track, "write deny-oom", 2, 7, 1) !=
        REDISMODULE_OK)
        return REDISMODULE_ERR;
    if (RedisModule_CreateCommand(ctx, "pd.api", pt_cmd_api, "readonly fast", 0, 0, 0) !=
        REDISMODULE_OK)
        return REDISMODULE_ERR;
    return REDISMODULE_OK;
}
