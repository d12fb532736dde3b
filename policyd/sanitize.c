/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      sanitize - peer data made fit for a log line
 * SYNOPSIS
 *      char *sanitize_log(char *dst, size_t dstlen, const char *src, size_t srclen)
 * DESCRIPTION
 *      Copies src into dst, replacing every byte outside printable ASCII (and the space,
 *      which would split a key=value log field) with '?', and clipping to dstlen - 4
 *      bytes followed by "...". A NULL src yields "". Pure: no I/O, no allocation.
 * DIAGNOSTICS
 *      None; always returns dst, NUL-terminated. dstlen must be at least 4.
 * SEE ALSO
 *      Postfix printable(3).
 */
#include <stddef.h>

#include "policyd/sanitize.h"

char *sanitize_log(char *dst, size_t dstlen, const char *src, size_t srclen)
{
    size_t i, room = dstlen - 4, o = 0;

    if (src == NULL) {
        dst[0] = '\0';
        return dst;
    }
    for (i = 0; i < srclen && o < room; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[o++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (i < srclen) {
        dst[o++] = '.';
        dst[o++] = '.';
        dst[o++] = '.';
    }
    dst[o] = '\0';
    return dst;
}
