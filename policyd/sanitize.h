/* SPDX-License-Identifier: MIT */
#ifndef PD_SANITIZE_H
#define PD_SANITIZE_H

/* sanitize - make peer data safe for one log line: printable ASCII only, clipped. */

#include <stddef.h>

/* Room for a value clipped to SANITIZE_CLIP bytes plus the "..." marker and a NUL. */
#define SANITIZE_CLIP 100
#define SANITIZE_BUF (SANITIZE_CLIP + 4)

char *sanitize_log(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif
