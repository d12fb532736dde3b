/* SPDX-License-Identifier: MIT */
#ifndef PD_UTIL_H
#define PD_UTIL_H

/* util - allocation wrappers that abort on exhaustion, so callers need no NULL checks. */

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
