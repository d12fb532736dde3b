/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      sha1 - SHA-1 digest in hex
 * SYNOPSIS
 *      void sha1_hex(const void *data, size_t len, char out[41])
 * DESCRIPTION
 *      FIPS 180-4 SHA-1, used only to name Lua scripts the way Redis does (EVALSHA), so a
 *      script can be called right after connecting without waiting for SCRIPT LOAD's
 *      answer. Not used for anything that needs collision resistance. Pure.
 * DIAGNOSTICS
 *      None.
 * SEE ALSO
 *      Redis SCRIPT LOAD, RFC 3174 (test vectors in tests/unit/test_sha1.c).
 */
#include <stdint.h>
#include <string.h>

#include "ratelimit/sha1.h"

#define SHA1_ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

/* sha1_block - one 64-byte block into the state. */
static void sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80], a, b, c, d, e, f, k, t;
    int i;

    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (i = 16; i < 80; i++)
        w[i] = SHA1_ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (i = 0; i < 80; i++) {
        if (i < 20)
            f = (b & c) | (~b & d), k = 0x5A827999;
        else if (i < 40)
            f = b ^ c ^ d, k = 0x6ED9EBA1;
        else if (i < 60)
            f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
        else
            f = b ^ c ^ d, k = 0xCA62C1D6;
        t = SHA1_ROL(a, 5) + f + e + k + w[i];
        e = d, d = c, c = SHA1_ROL(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

void sha1_hex(const void *data, size_t len, char out[41])
{
    static const char hex[] = "0123456789abcdef";
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    const unsigned char *p = data;
    unsigned char tail[128];
    size_t full = len / 64 * 64, rest = len - full, tl, i;
    uint64_t bits = (uint64_t)len * 8;

    for (i = 0; i < full; i += 64)
        sha1_block(h, p + i);
    memset(tail, 0, sizeof(tail));
    if (rest > 0)
        memcpy(tail, p + full, rest);
    tail[rest] = 0x80;
    tl = rest + 1 + 8 <= 64 ? 64 : 128;
    for (i = 0; i < 8; i++)
        tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (i = 0; i < tl; i += 64)
        sha1_block(h, tail + i);
    for (i = 0; i < 20; i++) {
        unsigned char byte = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
        out[2 * i] = hex[byte >> 4];
        out[2 * i + 1] = hex[byte & 15];
    }
    out[40] = '\0';
}
