/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      siphash - SipHash-2-4 keyed hash, 64- and 128-bit output
 * SYNOPSIS
 *      siphash_64(key, in, len); siphash_128(key, in, len, out)
 *      siphash_init(st, key, outlen); siphash_update(st, in, len)
 *      siphash_final64(st); siphash_final128(st, out)
 * DESCRIPTION
 *      The algorithm of the reference implementation (github.com/veorq/SipHash), written
 *      incrementally so a caller can hash a transformed string (lowercased, trimmed)
 *      without copying it first. siphash_init's outlen is 8 or 16 and must match the
 *      final call. The 64-bit value is the little-endian reading of the reference's
 *      8 output bytes; the 128-bit output is the reference's 16 bytes.
 *
 *      Pure: no I/O, no allocation, no global state.
 * DIAGNOSTICS
 *      None. Verified against the reference test vectors in tests/unit/test_siphash.c.
 * SEE ALSO
 *      Aumasson, Bernstein: "SipHash: a fast short-input PRF" (2012); keys(3).
 */
#include <string.h>

#include "ratelimit/siphash.h"

#define SIPHASH_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* siphash_le64 - 8 bytes as a little-endian integer, whatever the host order. */
static uint64_t siphash_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static void siphash_put_le64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void siphash_rounds(struct siphash_state *st, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        st->v0 += st->v1;
        st->v1 = SIPHASH_ROTL(st->v1, 13);
        st->v1 ^= st->v0;
        st->v0 = SIPHASH_ROTL(st->v0, 32);
        st->v2 += st->v3;
        st->v3 = SIPHASH_ROTL(st->v3, 16);
        st->v3 ^= st->v2;
        st->v0 += st->v3;
        st->v3 = SIPHASH_ROTL(st->v3, 21);
        st->v3 ^= st->v0;
        st->v2 += st->v1;
        st->v1 = SIPHASH_ROTL(st->v1, 17);
        st->v1 ^= st->v2;
        st->v2 = SIPHASH_ROTL(st->v2, 32);
    }
}

/* siphash_block - absorb one 8-byte message word (2 compression rounds). */
static void siphash_block(struct siphash_state *st, uint64_t m)
{
    st->v3 ^= m;
    siphash_rounds(st, 2);
    st->v0 ^= m;
}

void siphash_init(struct siphash_state *st, const uint8_t key[SIPHASH_KEY_LEN], int outlen)
{
    uint64_t k0 = siphash_le64(key), k1 = siphash_le64(key + 8);

    st->v0 = UINT64_C(0x736f6d6570736575) ^ k0;
    st->v1 = UINT64_C(0x646f72616e646f6d) ^ k1;
    st->v2 = UINT64_C(0x6c7967656e657261) ^ k0;
    st->v3 = UINT64_C(0x7465646279746573) ^ k1;
    if (outlen == 16)
        st->v1 ^= 0xee;
    st->ntail = 0;
    st->total = 0;
}

void siphash_update(struct siphash_state *st, const void *in, size_t len)
{
    const uint8_t *p = in;

    st->total += len;
    if (st->ntail > 0) {
        while (len > 0 && st->ntail < 8) {
            st->tail[st->ntail++] = *p++;
            len--;
        }
        if (st->ntail < 8)
            return;
        siphash_block(st, siphash_le64(st->tail));
        st->ntail = 0;
    }
    for (; len >= 8; p += 8, len -= 8)
        siphash_block(st, siphash_le64(p));
    memcpy(st->tail, p, len);
    st->ntail = len;
}

/* siphash_finish - absorb the last word (tail and length byte) and run finalisation. */
static void siphash_finish(struct siphash_state *st, uint8_t v2_xor)
{
    uint64_t b = (st->total & 0xff) << 56;
    size_t i;

    for (i = 0; i < st->ntail; i++)
        b |= (uint64_t)st->tail[i] << (8 * i);
    siphash_block(st, b);
    st->v2 ^= v2_xor;
    siphash_rounds(st, 4);
}

uint64_t siphash_final64(struct siphash_state *st)
{
    siphash_finish(st, 0xff);
    return st->v0 ^ st->v1 ^ st->v2 ^ st->v3;
}

void siphash_final128(struct siphash_state *st, uint8_t out[16])
{
    siphash_finish(st, 0xee);
    siphash_put_le64(out, st->v0 ^ st->v1 ^ st->v2 ^ st->v3);
    st->v1 ^= 0xdd;
    siphash_rounds(st, 4);
    siphash_put_le64(out + 8, st->v0 ^ st->v1 ^ st->v2 ^ st->v3);
}

uint64_t siphash_64(const uint8_t key[SIPHASH_KEY_LEN], const void *in, size_t len)
{
    struct siphash_state st;

    siphash_init(&st, key, 8);
    siphash_update(&st, in, len);
    return siphash_final64(&st);
}

void siphash_128(const uint8_t key[SIPHASH_KEY_LEN], const void *in, size_t len,
                 uint8_t out[16])
{
    struct siphash_state st;

    siphash_init(&st, key, 16);
    siphash_update(&st, in, len);
    siphash_final128(&st, out);
}
