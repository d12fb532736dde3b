/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      util - allocation wrappers
 * SYNOPSIS
 *      xmalloc, xcalloc, xrealloc, xstrdup, xstrndup
 * DESCRIPTION
 *      Thin wrappers around the libc allocator. The caller owns what they return and
 *      frees it with free(). No I/O except the final message before abort().
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
