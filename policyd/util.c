/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      util - allocation wrappers, decimal formatting
 * SYNOPSIS
 *      xmalloc, xcalloc, xrealloc, xstrdup, xstrndup, util_utoa, util_lltoa
 * DESCRIPTION
 *      Thin wrappers around the libc allocator. The caller owns what they return and
 *      frees it with free(). No I/O except the final message before abort().
 *
 *      util_utoa and util_lltoa write a number in decimal, without a NUL, and return
 *      the bytes written (at most 20): on the request path, where snprintf(3) cost a
 *      few hundred instructions per number.
 * DIAGNOSTICS
 *      Out of memory is a resource exhaustion the daemon cannot recover from: a message
 *      on stderr, then abort().
 * SEE ALSO
 *      Postfix mymalloc(3), Redis zmalloc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/util.h"

/* util_oom - report and abort; never returns. */
static void util_oom(size_t n)
{
    fprintf(stderr, "policyd: panic: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        util_oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        util_oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL)
        util_oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

size_t util_utoa(char *p, unsigned long long v)
{
    char tmp[UTIL_DEC_MAX];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    for (i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

size_t util_lltoa(char *p, long long v)
{
    if (v >= 0)
        return util_utoa(p, (unsigned long long)v);
    p[0] = '-';
    return 1 + util_utoa(p + 1, 0ULL - (unsigned long long)v);
}
