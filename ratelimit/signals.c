/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      signals - the tracking script's reply mapped onto struct rl_signals
 * SYNOPSIS
 *      signals_clear(s)
 *      signals_set_int(s, name, name_len, v)
 *      signals_set_str(s, name, name_len, v, v_len)
 *      signals_cap_name(cap); signals_src_name(src)
 * DESCRIPTION
 *      track.lua returns alternating names and values; the caller feeds each pair here.
 *      The name tables are generated from the X-macro lists of signals.h, so a signal
 *      added there is understood here without further code.
 *
 *      signals_set_int stores an integer signal. signals_set_str stores a string signal;
 *      it also accepts an integer signal rendered as decimal text (a script may return a
 *      number as a string). A string longer than SIGNALS_STR_MAX - 1 bytes is cut there:
 *      these are display values written by our own scripts (reference ids, reasons,
 *      profile names), and a shortened one is better than none.
 *
 *      Pure: no I/O, no allocation, no global mutable state.
 * DIAGNOSTICS
 *      signals_set_* return false for a name they do not know (a newer script talking to
 *      an older binary), or for a value of the wrong type; the struct is left unchanged.
 * SEE ALSO
 *      ratelimit/signals.h, ratelimit/lua/track.lua, docs/ARCHITECTURE.md (Redis key schema).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit/signals.h"

struct signals_field {
    const char *name;
    size_t len;
    size_t off;
};

static const struct signals_field signals_ints[] = {
#define SIGNALS_INT_ROW(n) {#n, sizeof(#n) - 1, offsetof(struct rl_signals, n)},
    SIGNALS_INTS(SIGNALS_INT_ROW)
#undef SIGNALS_INT_ROW
};

static const struct signals_field signals_strs[] = {
#define SIGNALS_STR_ROW(n) {#n, sizeof(#n) - 1, offsetof(struct rl_signals, n)},
    SIGNALS_STRS(SIGNALS_STR_ROW)
#undef SIGNALS_STR_ROW
};

#define SIGNALS_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* signals_find - the row called [name, name + len), or NULL. */
static const struct signals_field *signals_find(const struct signals_field *t, size_t n,
                                                const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (t[i].len == len && memcmp(t[i].name, name, len) == 0)
            return &t[i];
    return NULL;
}

void signals_clear(struct rl_signals *s)
{
    memset(s, 0, sizeof(*s));
}

bool signals_set_int(struct rl_signals *s, const char *name, size_t name_len, long long v)
{
    const struct signals_field *f;

    f = signals_find(signals_ints, SIGNALS_COUNT(signals_ints), name, name_len);
    if (f == NULL)
        return false;
    memcpy((char *)s + f->off, &v, sizeof(v));
    return true;
}

/* signals_parse_ll - a whole decimal integer (optional '-'), nothing else. The value is
 * length-delimited: a NUL inside it would end strtoll's view early ("12\0x" read as 12),
 * so it is refused first. */
static bool signals_parse_ll(const char *v, size_t len, long long *out)
{
    char buf[24], *end;
    long long n;

    if (len == 0 || len >= sizeof(buf) || memchr(v, '\0', len) != NULL)
        return false;
    memcpy(buf, v, len);
    buf[len] = '\0';
    if (!(buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9')))
        return false;
    errno = 0;
    n = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = n;
    return true;
}

/* signals_store_str - text into a string field, cut to SIGNALS_STR_MAX - 1 bytes. */
static void signals_store_str(struct rl_signals *s, const struct signals_field *f, const char *v,
                              size_t v_len)
{
    char *dst = (char *)s + f->off;

    if (v_len > SIGNALS_STR_MAX - 1)
        v_len = SIGNALS_STR_MAX - 1;
    memcpy(dst, v, v_len);
    dst[v_len] = '\0';
}

bool signals_set_str(struct rl_signals *s, const char *name, size_t name_len, const char *v,
                     size_t v_len)
{
    const struct signals_field *f;
    long long n;

    f = signals_find(signals_strs, SIGNALS_COUNT(signals_strs), name, name_len);
    if (f == NULL) {
        if (signals_find(signals_ints, SIGNALS_COUNT(signals_ints), name, name_len) == NULL ||
            !signals_parse_ll(v, v_len, &n))
            return false;
        return signals_set_int(s, name, name_len, n);
    }
    signals_store_str(s, f, v, v_len);
    return true;
}

bool signals_set_at(struct rl_signals *s, size_t i, bool is_int, long long iv, const char *sv,
                    size_t sv_len)
{
    const struct signals_field *f;

    if (i < SIGNALS_COUNT(signals_ints)) {
        f = &signals_ints[i];
        if (!is_int && !signals_parse_ll(sv, sv_len, &iv))
            return false;
        memcpy((char *)s + f->off, &iv, sizeof(iv));
        return true;
    }
    i -= SIGNALS_COUNT(signals_ints);
    if (i >= SIGNALS_COUNT(signals_strs) || is_int)
        return false;
    signals_store_str(s, &signals_strs[i], sv, sv_len);
    return true;
}

const char *signals_name(size_t i, size_t *len)
{
    const struct signals_field *f = NULL;

    if (i < SIGNALS_COUNT(signals_ints))
        f = &signals_ints[i];
    else if (i - SIGNALS_COUNT(signals_ints) < SIGNALS_COUNT(signals_strs))
        f = &signals_strs[i - SIGNALS_COUNT(signals_ints)];
    if (len != NULL)
        *len = f != NULL ? f->len : 0;
    return f != NULL ? f->name : NULL;
}

bool signals_is_mark(const char *s, size_t len)
{
    return len == sizeof(SIGNALS_MARK) - 1 && memcmp(s, SIGNALS_MARK, len) == 0;
}

const char *signals_cap_name(int cap)
{
    switch (cap) {
    case SIGNALS_CAP_NONE:
        return "none";
    case SIGNALS_CAP_RCPT_HOUR:
        return "rcpt_hour";
    case SIGNALS_CAP_RCPT_DAY:
        return "rcpt_day";
    case SIGNALS_CAP_MSG_HOUR:
        return "msg_hour";
    case SIGNALS_CAP_MSG_DAY:
        return "msg_day";
    default:
        return "unknown";
    }
}

const char *signals_src_name(int src)
{
    switch (src) {
    case SIGNALS_SRC_DEFAULT:
        return "default";
    case SIGNALS_SRC_DOMAIN:
        return "domain";
    case SIGNALS_SRC_MAILBOX:
        return "mailbox";
    case SIGNALS_SRC_RAISE:
        return "raise";
    default:
        return "unknown";
    }
}
