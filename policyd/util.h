/* SPDX-License-Identifier: MIT */
#ifndef PD_UTIL_H
#define PD_UTIL_H

/* util - allocation wrappers that abort on exhaustion, so callers need no NULL checks;
 * decimal formatting for the request path. */

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#define UTIL_DEC_MAX 21 /* bytes util_lltoa writes at most: "-9223372036854775808" + 1 */

/* util_utoa, util_lltoa - v in decimal at p, no NUL; returns the bytes written. */
size_t util_utoa(char *p, unsigned long long v);
size_t util_lltoa(char *p, long long v);

#endif
