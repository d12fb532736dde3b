/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      ptutil - Lua-compatible numbers, hash fields, little-endian packing for pdtrack
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
/* ------------------------------------------------------------------ helpers */

int64_t pt_fdiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t pt_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}
int64_t pt_max(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* pt_tonumber - Lua 5.1's tonumber of a string: strtod, hexadecimal, trailing space. */
bool pt_tonumber(const char *p, double *out)
{
    char *end;
    double v;

    if (p == NULL)
        return false;
    v = strtod(p, &end);
    if (end == p)
        return false;
    if (*end == 'x' || *end == 'X')
        v = (double)strtoul(p, &end, 16);
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0')
        return false;
    *out = v;
    return true;
}

bool pt_eq(struct pt_str a, struct pt_str b)
{
    return a.p != NULL && b.p != NULL && a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

bool pt_is(struct pt_str a, const char *lit)
{
    return a.p != NULL && a.n == strlen(lit) && memcmp(a.p, lit, a.n) == 0;
}

struct pt_str pt_of(const RedisModuleString *s)
{
    struct pt_str r = {NULL, 0};

    if (s != NULL)
        r.p = RedisModule_StringPtrLen(s, &r.n);
    return r;
}

void *pt_alloc(struct pt *pt, size_t n)
{
    void *b;

    if (pt->nbufs == (int)(sizeof(pt->bufs) / sizeof(pt->bufs[0])))
        return NULL;
    b = RedisModule_Alloc(n > 0 ? n : 1);
    pt->bufs[pt->nbufs++] = b;
    return b;
}

/* pt_hget - one field (NULL when absent), kept until the end of the call. */
RedisModuleString *pt_hget(struct pt *pt, RedisModuleKey *k, const char *field)
{
    RedisModuleString *v = NULL;

    if (k == NULL) /* a key opened for reading only that does not exist */
        return NULL;
    if (pt->npool == PT_POOL) {
        pt->err = "ERR pd.track: too many fields read";
        return NULL;
    }
    RedisModule_HashGet(k, REDISMODULE_HASH_CFIELDS, field, &v, NULL);
    if (v != NULL)
        pt->pool[pt->npool++] = v;
    return v;
}

void pt_hset(struct pt *pt, RedisModuleKey *k, const char *field, const void *val, size_t len)
{
    RedisModuleString *s = RedisModule_CreateString(pt->ctx, val, len);

    RedisModule_HashSet(k, REDISMODULE_HASH_CFIELDS, field, s, NULL);
    RedisModule_FreeString(pt->ctx, s);
    pt->wrote = true;
}

void pt_hdel(struct pt *pt, RedisModuleKey *k, const char *field)
{
    RedisModule_HashSet(k, REDISMODULE_HASH_CFIELDS, field, REDISMODULE_HASH_DELETE, NULL);
    pt->wrote = true;
}

/* pt_type_ok - the key is empty or of type 'type'; else the WRONGTYPE error. */
bool pt_type_ok(struct pt *pt, RedisModuleKey *k, int type)
{
    int t = RedisModule_KeyType(k);

    if (t == REDISMODULE_KEYTYPE_EMPTY || t == type)
        return true;
    pt->err = REDISMODULE_ERRORMSG_WRONGTYPE;
    return false;
}

uint32_t pt_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void pt_put32(unsigned char *p, int64_t v)
{
    uint32_t u = (uint32_t)v;

    p[0] = (unsigned char)u, p[1] = (unsigned char)(u >> 8);
    p[2] = (unsigned char)(u >> 16), p[3] = (unsigned char)(u >> 24);
}

void pt_put24(unsigned char *p, int64_t v)
{
    uint32_t u = (uint32_t)pt_min(v, PT_SLOT_MAX);

    p[0] = (unsigned char)u, p[1] = (unsigned char)(u >> 8), p[2] = (unsigned char)(u >> 16);
}

int64_t pt_u24(const unsigned char *p)
{
    return (int64_t)p[0] | (int64_t)p[1] << 8 | (int64_t)p[2] << 16;
}
