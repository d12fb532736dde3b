/* SPDX-License-Identifier: MIT */
#ifndef PD_PT_H
#define PD_PT_H

/*
 * pt - what the files of the pdtrack Redis module share (pdtrack.c: the command;
 * ptstate.c: the rings, st and the messages; ptmem.c: the memories and the networks;
 * ptutil.c: Lua-compatible numbers, field access, packing). Arrays are indexed from 1,
 * like track.lua's tables, so that each function reads beside the Lua one it mirrors.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ratelimit/module/rmapi.h"

#define PT_API 1 /* ARGV[1] of track.lua; PD.API's answer */
#define PT_NARGS 22
#define PT_SLOT_MAX 16777215 /* what 3 bytes hold */
#define PT_REC 7             /* bytes per record of a memory */
#define PT_M_LEN 44          /* field m: 11 x I4, then the network */
#define PT_POOL 192          /* strings of one call, freed at its end */

/* counters of the 'f' and 'h' rings: total at v[1 + i], current bucket at v[8 + i] */
enum { RCPT = 1, MSGS, REFUSED, NEW_RCPT, NEW_DOM, NEW_NET, MISMATCH };
/* the day field: today's counters at d[1 + i], baseline at d[5 + i] */
enum { D_RCPT = 1, D_MSGS, D_MAX_HOUR, D_MAX_MSG };
enum { B_MAX_HOUR = 1, B_MAX_DAY, B_MAX_MSG, B_DAYS, B_MSGS };
enum { D_FIRST_SEEN = 11, D_C0 = 12, D_C1 = 13 };

struct pt_str {
    const char *p; /* NULL: absent (Lua nil) */
    size_t n;
};

struct pt_args {
    int64_t now; /* seconds */
    struct pt_str state, instance, rcpt, dom, net, profile;
    char instance_sha[41];
    bool mismatch, dom_exempt;
    double rcpt_count, caps[5], src, memory_days, rcpt_max, dom_max, nets_max;
    long long state_ttl, memory_ttl;
};

struct pt_limits {
    double caps[5], srcs[5], src;
    bool exempt;
    struct pt_str profile;
};

struct pt_net {
    char *name;
    size_t len;
    double last, first;
    bool gone;
};

struct pt_nets {
    struct pt_net *v;
    int n, cap;
};

struct pt_state {
    RedisModuleKey *key;
    int64_t f[16], h[16], d[14];
    struct pt_str i0, i1, m;
    double probation_until;
    bool history, moved, msgs_changed;
    char *m_new;
    size_t m_new_len;
    const char *set_field[4];
    unsigned char set_val[4][21];
    size_t set_len[4];
    int nset;
    const char *del[96];
    int ndel;
};

struct pt_out {
    int64_t msg_new, rcpt_this_msg, capped, cap_value;
    double cap_limit, cap_src;
    bool counted, rcpt_new, rcpt_dom_new, net_new;
    struct pt_str kr, kd; /* the memories as written by this call */
    struct pt_nets *nets; /* read by this call */
    double net_first;     /* of this request's network; 0 = none */
    bool nets_cached;
    int64_t nc[10]; /* field m as mem_cached read it, when nets_cached */
};

/* one call's context: the strings and buffers it created, freed at its end */
struct pt {
    RedisModuleCtx *ctx;
    RedisModuleString *pool[PT_POOL];
    int npool;
    void *bufs[8];
    int nbufs;
    struct pt_nets nets;
    bool wrote;
    const char *err;
};

int64_t pt_fdiv(int64_t a, int64_t b);
int64_t pt_min(int64_t a, int64_t b);
int64_t pt_max(int64_t a, int64_t b);
bool pt_tonumber(const char *p, double *out);
bool pt_eq(struct pt_str a, struct pt_str b);
bool pt_is(struct pt_str a, const char *lit);
struct pt_str pt_of(const RedisModuleString *s);
void *pt_alloc(struct pt *pt, size_t n);
RedisModuleString *pt_hget(struct pt *pt, RedisModuleKey *k, const char *field);
void pt_hset(struct pt *pt, RedisModuleKey *k, const char *field, const void *val, size_t len);
void pt_hdel(struct pt *pt, RedisModuleKey *k, const char *field);
bool pt_type_ok(struct pt *pt, RedisModuleKey *k, int type);
uint32_t pt_u32(const unsigned char *p);
void pt_put32(unsigned char *p, int64_t v);
void pt_put24(unsigned char *p, int64_t v);
int64_t pt_u24(const unsigned char *p);
bool pt_state_load(struct pt *pt, struct pt_state *st, RedisModuleKey *key, int64_t now);
void pt_state_save(struct pt *pt, struct pt_state *st, int64_t now, long long ttl);
void pt_count(struct pt_state *st, int i, int64_t n);
int pt_msg_slot(const struct pt_state *st, struct pt_str instance);
int64_t pt_msg_add(struct pt_state *st, struct pt_str instance);
void pt_unpack32(int64_t *v, const struct pt_str *s, int n);
bool pt_hash4(struct pt_str hex, unsigned char out[4]);
size_t pt_mem_since(struct pt_str m, double from);
bool pt_mem_get(struct pt *pt, RedisModuleKey *k, struct pt_str *out);
bool pt_mem_see(struct pt *pt, RedisModuleKey *k, const unsigned char h4[4], int64_t b,
                double oldest, double max, long long ttl, bool *known, struct pt_str *now);
bool pt_nets_see(struct pt *pt, RedisModuleKey *k, struct pt_str net, int64_t b, bool add,
                 double max, long long ttl, bool *is_new, double *first);

#endif
