/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_signals - libFuzzer target for the tracking script's reply into rl_signals
 * SYNOPSIS
 *      build/fuzz/fuzz_signals [libFuzzer options] CORPUS...
 *      build/tests/replay_signals FILE...
 * DESCRIPTION
 *      The input is a sequence of pairs, each: a type byte, a name, a value.
 *        type & 0x80   the name is the known signal (type & 0x3f) % N, else a length
 *                      byte and that many raw bytes follow;
 *        type & 0x40   the value is an integer (8 bytes, big-endian), else a length byte
 *                      (doubled when type & 0x20, so values past SIGNALS_STR_MAX occur)
 *                      and that many raw bytes.
 *      Each pair goes to signals_set_int or signals_set_str, as decide.c does, and is
 *      checked against a model: known names are exactly those of the X-macro lists;
 *      an unknown name or a refused value leaves the struct byte-for-byte unchanged;
 *      an integer lands in its field and nowhere else; a string is clipped to
 *      SIGNALS_STR_MAX - 1 and NUL-terminated in its field; decimal text for an integer
 *      signal is accepted exactly when a strict reference parser accepts it, with the
 *      same value. Any violation aborts.
 * SEE ALSO
 *      ratelimit/signals.c, tests/unit/test_signals.c, tests/fuzz/corpus/signals/
 */
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit/signals.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_name {
    const char *name;
    size_t off;
    bool is_str;
};

static const struct fz_name fz_names[] = {
#define FZ_INT_ROW(n) {#n, offsetof(struct rl_signals, n), false},
    SIGNALS_INTS(FZ_INT_ROW)
#undef FZ_INT_ROW
#define FZ_STR_ROW(n) {#n, offsetof(struct rl_signals, n), true},
        SIGNALS_STRS(FZ_STR_ROW)
#undef FZ_STR_ROW
};

#define FZ_NNAMES (sizeof(fz_names) / sizeof(fz_names[0]))

struct fz_in {
    const uint8_t *p;
    size_t n;
};

static void require(bool ok)
{
    if (!ok)
        abort();
}

static uint8_t fz_byte(struct fz_in *in)
{
    uint8_t b;

    if (in->n == 0)
        return 0;
    b = *in->p++;
    in->n--;
    return b;
}

/* fz_bytes - up to want bytes of the input (fewer at its end). */
static const char *fz_bytes(struct fz_in *in, size_t want, size_t *got)
{
    const char *p = (const char *)in->p;

    *got = want < in->n ? want : in->n;
    in->p += *got;
    in->n -= *got;
    return p;
}

/* fz_lookup - the model's row for [name, name + len), or NULL. */
static const struct fz_name *fz_lookup(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < FZ_NNAMES; i++)
        if (strlen(fz_names[i].name) == len && memcmp(fz_names[i].name, name, len) == 0)
            return &fz_names[i];
    return NULL;
}

/* fz_parse - the reference: optional '-', 1+ ASCII digits, under 24 bytes, in range. */
static bool fz_parse(const char *s, size_t len, long long *out)
{
    unsigned long long acc = 0, lim;
    bool neg;
    size_t i;

    if (len == 0 || len >= 24)
        return false;
    neg = s[0] == '-';
    if (len == (size_t)neg)
        return false;
    lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (i = neg; i < len; i++) {
        unsigned d;

        if (s[i] < '0' || s[i] > '9')
            return false;
        d = (unsigned)(s[i] - '0');
        if (acc > (lim - d) / 10)
            return false;
        acc = acc * 10 + d;
    }
    if (neg)
        *out = acc == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)acc;
    else
        *out = (long long)acc;
    return true;
}

/* unchanged_except - a and b agree outside [off, off + len). */
static bool unchanged_except(const struct rl_signals *a, const struct rl_signals *b, size_t off,
                             size_t len)
{
    return memcmp(a, b, off) == 0 &&
           memcmp((const char *)a + off + len, (const char *)b + off + len,
                  sizeof(*a) - off - len) == 0;
}

/* check_strings - every string field stays NUL-terminated inside its array. */
static void check_strings(const struct rl_signals *s)
{
    size_t i;

    for (i = 0; i < FZ_NNAMES; i++)
        if (fz_names[i].is_str)
            require(memchr((const char *)s + fz_names[i].off, '\0', SIGNALS_STR_MAX) != NULL);
}

/* fz_pair - one name/value pair against the model. */
static void fz_pair(struct rl_signals *s, struct fz_in *in)
{
    struct rl_signals before = *s;
    uint8_t type = fz_byte(in);
    const struct fz_name *row;
    const char *name, *v;
    size_t nlen, vlen, i;
    bool ok;

    if (type & 0x80) {
        row = &fz_names[(type & 0x3f) % FZ_NNAMES];
        name = row->name;
        nlen = strlen(name);
    } else {
        name = fz_bytes(in, fz_byte(in), &nlen);
        row = fz_lookup(name, nlen);
    }
    if (type & 0x40) {
        unsigned long long u = 0;
        long long x;

        for (i = 0; i < 8; i++)
            u = u << 8 | fz_byte(in);
        memcpy(&x, &u, sizeof(x));
        ok = signals_set_int(s, name, nlen, x);
        require(ok == (row != NULL && !row->is_str));
        if (ok) {
            long long got;

            memcpy(&got, (const char *)s + row->off, sizeof(got));
            require(got == x);
            require(unchanged_except(s, &before, row->off, sizeof(long long)));
        } else {
            require(memcmp(s, &before, sizeof(*s)) == 0);
        }
        return;
    }
    v = fz_bytes(in, (size_t)fz_byte(in) * (type & 0x20 ? 2 : 1), &vlen);
    ok = signals_set_str(s, name, nlen, v, vlen);
    if (row == NULL) {
        require(!ok && memcmp(s, &before, sizeof(*s)) == 0);
    } else if (row->is_str) {
        size_t want = vlen < SIGNALS_STR_MAX - 1 ? vlen : SIGNALS_STR_MAX - 1;
        const char *dst = (const char *)s + row->off;

        require(ok);
        require(memcmp(dst, v, want) == 0 && dst[want] == '\0');
        require(unchanged_except(s, &before, row->off, SIGNALS_STR_MAX));
    } else {
        long long want = 0, got;
        bool parses = fz_parse(v, vlen, &want);

        require(ok == parses);
        if (ok) {
            memcpy(&got, (const char *)s + row->off, sizeof(got));
            require(got == want);
            require(unchanged_except(s, &before, row->off, sizeof(long long)));
        } else {
            require(memcmp(s, &before, sizeof(*s)) == 0);
        }
    }
}

/* fz_positional - signals_set_at(i) does exactly what the named setters do with the
 * name of signal i, and nothing beyond SIGNALS_N. */
static void fz_positional(const struct rl_signals *s, struct fz_in *in)
{
    struct rl_signals a = *s, b = *s;
    size_t i = fz_byte(in), vlen;
    const char *name = signals_name(i, NULL), *v;
    bool is_int = fz_byte(in) & 1, ok_a, ok_b;
    long long x = (int8_t)fz_byte(in);

    v = fz_bytes(in, fz_byte(in), &vlen);
    ok_a = signals_set_at(&a, i, is_int, x, v, vlen);
    if (name == NULL) {
        require(i >= SIGNALS_N && !ok_a && memcmp(&a, s, sizeof(a)) == 0);
        return;
    }
    if (is_int)
        ok_b = signals_set_int(&b, name, strlen(name), x);
    else
        ok_b = signals_set_str(&b, name, strlen(name), v, vlen);
    require(ok_a == ok_b && memcmp(&a, &b, sizeof(a)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    struct rl_signals s;
    int pairs = 0;

    signals_clear(&s);
    while (in.n > 0 && pairs++ < 1000) {
        fz_pair(&s, &in);
        check_strings(&s);
        fz_positional(&s, &in);
    }
    return 0;
}
