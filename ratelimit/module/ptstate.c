/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      ptstate - pdtrack's rings of buckets, the st hash, the two latest messages
 * DESCRIPTION
 *      Part of the pdtrack Redis module (ratelimit/module/pdtrack.c has the contract);
 *      each function mirrors the function of ratelimit/lua/track.lua named in its comment.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit/module/pt.h"

static const char *const pt_slots_f[] = {"f0", "f1", "f2", "f3", "f4",  "f5",
                                         "f6", "f7", "f8", "f9", "f10", "f11"};
static const char *const pt_slots_h[] = {"h0",  "h1",  "h2",  "h3",  "h4",  "h5",  "h6",  "h7",
                                         "h8",  "h9",  "h10", "h11", "h12", "h13", "h14", "h15",
                                         "h16", "h17", "h18", "h19", "h20", "h21", "h22", "h23"};
static const char *const pt_slots_d[] = {
    "d0",  "d1",  "d2",  "d3",  "d4",  "d5",  "d6",  "d7",  "d8",  "d9",  "d10", "d11",
    "d12", "d13", "d14", "d15", "d16", "d17", "d18", "d19", "d20", "d21", "d22", "d23",
    "d24", "d25", "d26", "d27", "d28", "d29", "d30", "d31", "d32", "d33", "d34"};
/* ------------------------------------------------------------------ rings */

struct pt_plan {
    int64_t b, t;
    int n;
    bool fresh, reset;
    const char *const *slots;
};

/* ring_plan - where a ring moves for 'now'. */
static void pt_ring_plan(struct pt_plan *p, int64_t t, int64_t now, int64_t width, int n,
                         const char *const *slots)
{
    p->b = pt_fdiv(now, width);
    p->t = t;
    p->n = n;
    p->slots = slots;
    p->fresh = p->reset = false;
    if (t == 0)
        p->fresh = true;
    else if (p->b <= t)
        p->b = t; /* not moved; a node whose clock is behind counts into the newest bucket */
    else if (p->b - t >= n)
        p->reset = true; /* idle longer than the ring */
}

static void pt_del(struct pt_state *st, const char *field)
{
    if (st->ndel < (int)(sizeof(st->del) / sizeof(st->del[0])))
        st->del[st->ndel++] = field;
}

static void pt_set(struct pt_state *st, const char *field, const unsigned char *val, size_t n)
{
    st->set_field[st->nset] = field;
    memcpy(st->set_val[st->nset], val, n);
    st->set_len[st->nset++] = n;
}

/* ring_move - the finished bucket goes to its slot; slots that left the window are
 * subtracted from the total and deleted. */
static bool pt_ring_move(struct pt *pt, struct pt_state *st, int64_t *v, const struct pt_plan *p)
{
    unsigned char slot[21];
    int64_t k;
    int i;

    if (p->b == p->t)
        return true;
    v[1] = p->b;
    if (p->fresh)
        return true;
    if (p->reset) {
        /* the slots still stored sum to total - current: when that is 0, there are none */
        if (v[2] + v[3] + v[4] + v[5] + v[6] + v[7] + v[8] >
            v[9] + v[10] + v[11] + v[12] + v[13] + v[14] + v[15])
            for (i = 0; i < p->n; i++)
                pt_del(st, p->slots[i]);
        for (i = 2; i <= 15; i++)
            v[i] = 0;
        return true;
    }
    if (v[9] + v[10] + v[11] + v[12] + v[13] + v[14] + v[15] > 0) {
        for (i = 0; i < 7; i++)
            pt_put24(slot + 3 * i, v[9 + i]);
        pt_set(st, p->slots[p->t % p->n], slot, sizeof(slot));
    }
    for (k = p->t + 1; k <= p->b; k++) {
        const char *f = p->slots[k % p->n];
        struct pt_str s = pt_of(pt_hget(pt, st->key, f));

        if (s.p == NULL)
            continue;
        if (s.n < 21) {
            pt->err = "ERR pd.track: a stored field is too short";
            return false;
        }
        for (i = 1; i <= 7; i++)
            v[1 + i] = pt_max(v[1 + i] - pt_u24((const unsigned char *)s.p + 3 * (i - 1)), 0);
        pt_del(st, f);
    }
    for (i = 9; i <= 15; i++)
        v[i] = 0;
    return pt->err == NULL;
}

/* day_move - yesterday goes to its slot; the baseline of the 28 days before today. */
static bool pt_day_move(struct pt *pt, struct pt_state *st, const struct pt_plan *p,
                        bool frozen_set, double frozen)
{
    int64_t *d = st->d, base[6] = {0, 0, 0, 0, 0, 0}, v[5], day, k;
    struct pt_str vals[35];
    unsigned char slot[12];
    bool learn, have;
    int i;

    if (p->b == p->t)
        return true;
    d[1] = p->b;
    if (p->fresh)
        return true;
    /* a day on which the mailbox was held or blocked is not learned */
    learn = !(frozen_set && frozen == (double)p->t);
    memset(vals, 0, sizeof(vals));
    if (!p->reset)
        for (i = 0; i < 35; i++)
            vals[i] = pt_of(pt_hget(pt, st->key, pt_slots_d[i]));
    for (day = p->b - 28; day <= p->b - 1; day++) {
        have = false;
        if (day == p->t) {
            if (learn) {
                for (i = 1; i <= 4; i++)
                    v[i] = d[1 + i];
                have = true;
            }
        } else if (!p->reset && day < p->t && day > p->t - p->n && vals[day % p->n].p != NULL) {
            const struct pt_str *s = &vals[day % p->n];

            if (s->n < 12) {
                pt->err = "ERR pd.track: a stored field is too short";
                return false;
            }
            for (i = 1; i <= 4; i++)
                v[i] = pt_u24((const unsigned char *)s->p + 3 * (i - 1));
            have = true;
        }
        if (have) {
            base[B_MAX_HOUR] = pt_max(base[B_MAX_HOUR], v[D_MAX_HOUR]);
            base[B_MAX_DAY] = pt_max(base[B_MAX_DAY], v[D_RCPT]);
            base[B_MAX_MSG] = pt_max(base[B_MAX_MSG], v[D_MAX_MSG]);
            if (v[D_RCPT] + v[D_MSGS] > 0)
                base[B_DAYS]++;
            base[B_MSGS] += v[D_MSGS];
        }
    }
    if (!p->reset && learn && d[2] + d[3] > 0) {
        for (i = 0; i < 4; i++)
            pt_put24(slot + 3 * i, d[2 + i]);
        pt_set(st, pt_slots_d[p->t % p->n], slot, sizeof(slot));
    }
    if (p->reset) {
        for (i = 0; i < 35; i++)
            pt_del(st, pt_slots_d[i]);
    } else {
        for (k = p->t + 1; k <= p->b; k++)
            if (vals[k % p->n].p != NULL)
                pt_del(st, pt_slots_d[k % p->n]);
    }
    for (i = 1; i <= 4; i++)
        d[1 + i] = 0;
    for (i = 1; i <= 5; i++)
        d[5 + i] = base[i];
    return pt->err == NULL;
}

/* ------------------------------------------------------------------ state */

void pt_unpack32(int64_t *v, const struct pt_str *s, int n)
{
    int i;

    for (i = 0; i < n; i++)
        v[1 + i] = pt_u32((const unsigned char *)s->p + 4 * i);
}

/* state_load - st with every ring moved to 'now' (in memory only). */
bool pt_state_load(struct pt *pt, struct pt_state *st, RedisModuleKey *key, int64_t now)
{
    RedisModuleString *raw[9] = {NULL};
    struct pt_str f, h, d, nl;
    struct pt_plan pf, ph, pd;
    double frozen = 0;
    bool frozen_set;
    int i;

    memset(st, 0, sizeof(*st));
    st->key = key;
    if (!pt_type_ok(pt, key, REDISMODULE_KEYTYPE_HASH))
        return false;
    if (pt->npool + 8 > PT_POOL) {
        pt->err = "ERR pd.track: too many fields read";
        return false;
    }
    RedisModule_HashGet(key, REDISMODULE_HASH_CFIELDS, "f", &raw[1], "h", &raw[2], "d", &raw[3],
                        "i0", &raw[4], "i1", &raw[5], "probation_until", &raw[6], "nl", &raw[7],
                        "m", &raw[8], NULL);
    for (i = 1; i <= 8; i++)
        if (raw[i] != NULL)
            pt->pool[pt->npool++] = raw[i];
    f = pt_of(raw[1]), h = pt_of(raw[2]), d = pt_of(raw[3]), nl = pt_of(raw[7]);
    /* a field of another length is not ours (or an older layout): start it again */
    if (f.n == 60 && f.p != NULL)
        pt_unpack32(st->f, &f, 15);
    if (h.n == 60 && h.p != NULL)
        pt_unpack32(st->h, &h, 15);
    if (d.n == 52 && d.p != NULL)
        pt_unpack32(st->d, &d, 13);
    st->i0 = pt_of(raw[4]);
    st->i1 = pt_of(raw[5]);
    if (!pt_tonumber(pt_of(raw[6]).p, &st->probation_until))
        st->probation_until = 0;
    st->m = pt_of(raw[8]);
    st->history = st->d[D_FIRST_SEEN] > 0;
    if (st->f[1] != 0 && st->h[1] != 0 && st->d[1] != 0 && pt_fdiv(now, 300) <= st->f[1] &&
        pt_fdiv(now, 3600) <= st->h[1] && pt_fdiv(now, 86400) <= st->d[1])
        return true; /* every ring is at its newest bucket already (most requests) */
    st->moved = true;
    pt_ring_plan(&pf, st->f[1], now, 300, 12, pt_slots_f);
    pt_ring_plan(&ph, st->h[1], now, 3600, 24, pt_slots_h);
    pt_ring_plan(&pd, st->d[1], now, 86400, 35, pt_slots_d);
    frozen_set = pt_tonumber(nl.p, &frozen);
    return pt_ring_move(pt, st, st->f, &pf) && pt_ring_move(pt, st, st->h, &ph) &&
           pt_day_move(pt, st, &pd, frozen_set, frozen);
}

/* state_save - write back the rings, their slots, the messages; TTL when a ring moved. */
void pt_state_save(struct pt *pt, struct pt_state *st, int64_t now, long long ttl)
{
    unsigned char buf[60];
    int i;

    if (st->d[D_FIRST_SEEN] == 0)
        st->d[D_FIRST_SEEN] = now;
    for (i = 0; i < st->ndel; i++)
        pt_hdel(pt, st->key, st->del[i]);
    for (i = 0; i < st->nset; i++)
        pt_hset(pt, st->key, st->set_field[i], st->set_val[i], st->set_len[i]);
    for (i = 0; i < 15; i++)
        pt_put32(buf + 4 * i, st->f[1 + i]);
    pt_hset(pt, st->key, "f", buf, 60);
    for (i = 0; i < 15; i++)
        pt_put32(buf + 4 * i, st->h[1 + i]);
    pt_hset(pt, st->key, "h", buf, 60);
    for (i = 0; i < 13; i++)
        pt_put32(buf + 4 * i, st->d[1 + i]);
    pt_hset(pt, st->key, "d", buf, 52);
    if (st->msgs_changed) {
        if (st->i0.p != NULL)
            pt_hset(pt, st->key, "i0", st->i0.p, st->i0.n);
        if (st->i1.p != NULL)
            pt_hset(pt, st->key, "i1", st->i1.p, st->i1.n);
    }
    if (st->m_new != NULL)
        pt_hset(pt, st->key, "m", st->m_new, st->m_new_len);
    /* the TTL is refreshed when a ring moves, at most once per 5-minute bucket */
    if (st->moved)
        RedisModule_SetExpire(st->key, ttl);
}

/* count - n more of counter i in both rings (the current bucket and the window total). */
void pt_count(struct pt_state *st, int i, int64_t n)
{
    st->f[1 + i] += n;
    st->f[8 + i] += n;
    st->h[1 + i] += n;
    st->h[8 + i] += n;
}

/* ------------------------------------------------------------------ messages */

/* msg_slot - 0 or 1 when instance is one of the two most recent messages, else -1. */
int pt_msg_slot(const struct pt_state *st, struct pt_str instance)
{
    if (pt_eq(st->i0, instance))
        return 0;
    if (pt_eq(st->i1, instance))
        return 1;
    return -1;
}

/* msg_add - one more recipient of 'instance'; returns its recipients so far. */
int64_t pt_msg_add(struct pt_state *st, struct pt_str instance)
{
    int64_t *d = st->d, c;
    int slot = pt_msg_slot(st, instance);
    struct pt_str s;

    if (slot != 0) {
        st->msgs_changed = true;
        if (slot == 1) {
            s = st->i0, st->i0 = st->i1, st->i1 = s;
            c = d[D_C0], d[D_C0] = d[D_C1], d[D_C1] = c;
        } else {
            st->i1 = st->i0, d[D_C1] = d[D_C0];
            st->i0 = instance, d[D_C0] = 0;
        }
    }
    return ++d[D_C0];
}
