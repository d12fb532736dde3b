/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      ptmem - pdtrack's memories of recipients and domains, and the mailbox's networks
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

/* ------------------------------------------------------------------ memories */

/* hash4 - the first 8 hex digits of the keyed hash as 4 bytes, big-endian. */
bool pt_hash4(struct pt_str hex, unsigned char out[4])
{
    unsigned long v;
    char buf[9];
    int i;

    if (hex.p == NULL || hex.n < 8)
        return false;
    for (i = 0; i < 8; i++)
        if (!isxdigit((unsigned char)hex.p[i]))
            return false;
    memcpy(buf, hex.p, 8);
    buf[8] = '\0';
    v = strtoul(buf, NULL, 16);
    out[0] = (unsigned char)(v >> 24), out[1] = (unsigned char)(v >> 16);
    out[2] = (unsigned char)(v >> 8), out[3] = (unsigned char)v;
    return true;
}

static int64_t pt_mem_bucket(const unsigned char *blob, size_t i)
{
    const unsigned char *r = blob + i * PT_REC + 4;

    return ((int64_t)r[0] << 16) | ((int64_t)r[1] << 8) | r[2];
}

/* mem_since - how many records were seen in bucket 'from' or later. */
size_t pt_mem_since(struct pt_str m, double from)
{
    size_t lo = 0, hi = m.n / PT_REC, n = hi, mid;

    while (lo < hi) {
        mid = (lo + hi) / 2;
        if ((double)pt_mem_bucket((const unsigned char *)m.p, mid) < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return n - lo;
}

/* mem_get - a memory as stored ('' when absent or not ours); NULL p on a wrong type. */
bool pt_mem_get(struct pt *pt, RedisModuleKey *k, struct pt_str *out)
{
    out->p = "", out->n = 0;
    if (!pt_type_ok(pt, k, REDISMODULE_KEYTYPE_STRING))
        return false;
    if (RedisModule_KeyType(k) == REDISMODULE_KEYTYPE_EMPTY)
        return true;
    out->p = RedisModule_StringDMA(k, &out->n, REDISMODULE_READ);
    if (out->p == NULL || out->n % PT_REC != 0)
        out->p = "", out->n = 0;
    return true;
}

/* mem_see - record that h4 was seen in bucket b, forgetting what was last seen before
 * 'oldest' and the least recently seen beyond 'max'; write the key if it changed.
 * *known: whether h4 was known; *now: the memory as it is now (owned by pt). */
bool pt_mem_see(struct pt *pt, RedisModuleKey *k, const unsigned char h4[4], int64_t b,
                double oldest, double max, long long ttl, bool *known, struct pt_str *now)
{
    struct pt_str orig;
    const unsigned char *blob;
    unsigned char *out, *w;
    size_t n, gone = 0, i, found = (size_t)-1, cut = 0;

    if (!pt_mem_get(pt, k, &orig))
        return false;
    blob = (const unsigned char *)orig.p;
    n = orig.n / PT_REC;
    if (n > 0 && (double)pt_mem_bucket(blob, 0) < oldest)
        gone = n - pt_mem_since(orig, oldest);
    blob += gone * PT_REC;
    n -= gone;
    if (n > 0 && pt_mem_bucket(blob, n - 1) > b)
        b = pt_mem_bucket(blob, n - 1); /* keep the order */
    for (i = 0; i < n; i++)
        if (memcmp(blob + i * PT_REC, h4, 4) == 0) {
            found = i;
            break;
        }
    *known = found != (size_t)-1;
    out = pt_alloc(pt, (n + 1) * PT_REC);
    if (out == NULL) {
        pt->err = "ERR pd.track: out of buffers";
        return false;
    }
    if (*known && pt_mem_bucket(blob, found) == b) {
        memcpy(out, blob, n * PT_REC); /* same bucket: the records after it are too */
        w = out + n * PT_REC;
    } else {
        if (!*known && (double)n >= max)
            cut = (size_t)((double)n - max + 1) > n ? n : (size_t)((double)n - max + 1);
        w = out;
        for (i = cut; i < n; i++)
            if (i != found) {
                memcpy(w, blob + i * PT_REC, PT_REC);
                w += PT_REC;
            }
        memcpy(w, h4, 4);
        w[4] = (unsigned char)(b >> 16), w[5] = (unsigned char)(b >> 8), w[6] = (unsigned char)b;
        w += PT_REC;
    }
    now->p = (const char *)out;
    now->n = (size_t)(w - out);
    if (now->n != orig.n || memcmp(now->p, orig.p, now->n) != 0) {
        RedisModuleString *s = RedisModule_CreateString(pt->ctx, now->p, now->n);

        RedisModule_StringSet(k, s);
        RedisModule_FreeString(pt->ctx, s);
        RedisModule_SetExpire(k, ttl);
        pt->wrote = true;
    }
    return true;
}

/* ------------------------------------------------------------------ networks */

/* pt_net_value - "last:first" (or a plain "last"); anything else reads as 0, 0. */
static void pt_net_value(const char *p, size_t n, double *last, double *first)
{
    size_t i = 0, j, f0;
    char buf[64];

    *last = *first = 0;
    while (i < n && isdigit((unsigned char)p[i]))
        i++;
    if (i == 0)
        return;
    j = i;
    if (j < n && p[j] == ':')
        j++;
    f0 = j;
    while (j < n && isdigit((unsigned char)p[j]))
        j++;
    if (j != n || i >= sizeof(buf) || j - f0 >= sizeof(buf))
        return;
    memcpy(buf, p, i);
    buf[i] = '\0';
    *last = *first = strtod(buf, NULL);
    if (j > f0) {
        memcpy(buf, p + f0, j - f0);
        buf[j - f0] = '\0';
        *first = strtod(buf, NULL);
    }
}

static void pt_nets_cb(RedisModuleKey *key, RedisModuleString *field, RedisModuleString *value,
                       void *privdata)
{
    struct pt_nets *ns = privdata;
    struct pt_str f = pt_of(field), v = pt_of(value);
    struct pt_net *e;
    int i;

    (void)key;
    for (i = 0; i < ns->n; i++) /* a rehashing table may show a field twice */
        if (ns->v[i].len == f.n && memcmp(ns->v[i].name, f.p, f.n) == 0)
            return;
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? 2 * ns->cap : 16;
        ns->v = RedisModule_Realloc(ns->v, (size_t)ns->cap * sizeof(*ns->v));
    }
    e = &ns->v[ns->n++];
    e->name = RedisModule_Alloc(f.n + 1);
    memcpy(e->name, f.p, f.n);
    e->name[f.n] = '\0';
    e->len = f.n;
    e->gone = false;
    pt_net_value(v.p, v.n, &e->last, &e->first);
}

static struct pt_net *pt_nets_find(struct pt_nets *ns, struct pt_str net)
{
    int i;

    for (i = 0; i < ns->n; i++)
        if (!ns->v[i].gone && ns->v[i].len == net.n && memcmp(ns->v[i].name, net.p, net.n) == 0)
            return &ns->v[i];
    return NULL;
}

static int pt_nets_count(const struct pt_nets *ns)
{
    int i, n = 0;

    for (i = 0; i < ns->n; i++)
        n += !ns->v[i].gone;
    return n;
}

/* nets_see - the mailbox's networks, with this request's network added when 'add'.
 * *is_new: whether it was new; *first: its first bucket (0 when it has none). */
bool pt_nets_see(struct pt *pt, RedisModuleKey *k, struct pt_str net, int64_t b, bool add,
                 double max, long long ttl, bool *is_new, double *first)
{
    struct pt_nets *ns = &pt->nets;
    struct pt_net *e, *oldest = NULL;
    RedisModuleScanCursor *c;
    char val[64];
    int i, len;

    if (!pt_type_ok(pt, k, REDISMODULE_KEYTYPE_HASH))
        return false;
    if (RedisModule_KeyType(k) != REDISMODULE_KEYTYPE_EMPTY) {
        c = RedisModule_ScanCursorCreate();
        while (RedisModule_ScanKey(k, c, pt_nets_cb, ns))
            ;
        RedisModule_ScanCursorDestroy(c);
    }
    e = pt_nets_find(ns, net);
    *is_new = false;
    *first = e != NULL ? e->first : 0;
    if (!add || pt_is(net, "unknown") || net.n == 0)
        return true;
    if (e == NULL && (double)pt_nets_count(ns) >= max) {
        /* full: forget the least recently seen (ties: the lowest name, as Lua's '<') */
        for (i = 0; i < ns->n; i++)
            if (!ns->v[i].gone &&
                (oldest == NULL || ns->v[i].last < oldest->last ||
                 (ns->v[i].last == oldest->last && strcoll(ns->v[i].name, oldest->name) < 0)))
                oldest = &ns->v[i];
        if (oldest != NULL) {
            pt_hdel(pt, k, oldest->name);
            oldest->gone = true;
        }
    }
    if (e == NULL || e->last < (double)b) {
        if (e == NULL) {
            struct pt_str name = net;
            RedisModuleString *field = RedisModule_CreateString(pt->ctx, net.p, net.n);
            RedisModuleString *dummy = RedisModule_CreateString(pt->ctx, "", 0);

            pt_nets_cb(k, field, dummy, ns);
            RedisModule_FreeString(pt->ctx, field);
            RedisModule_FreeString(pt->ctx, dummy);
            e = pt_nets_find(ns, name);
            e->first = (double)b;
            *is_new = true;
        }
        e->last = (double)b;
        len = snprintf(val, sizeof(val), "%.14g:%.14g", e->last, e->first);
        {
            RedisModuleString *field = RedisModule_CreateString(pt->ctx, net.p, net.n);
            RedisModuleString *s = RedisModule_CreateString(pt->ctx, val, (size_t)len);

            RedisModule_HashSet(k, REDISMODULE_HASH_NONE, field, s, NULL);
            RedisModule_FreeString(pt->ctx, field);
            RedisModule_FreeString(pt->ctx, s);
        }
        RedisModule_SetExpire(k, ttl);
        pt->wrote = true;
        *first = e->first;
    }
    return true;
}
