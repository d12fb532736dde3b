/* SPDX-License-Identifier: MIT */
#ifndef PD_SIPHASH_H
#define PD_SIPHASH_H

/*
 * siphash - SipHash-2-4 (Aumasson & Bernstein), the keyed hash that keeps recipient
 * addresses out of Redis and shortens overlong mailbox names in key names. 64-bit and
 * 128-bit outputs, one-shot or incremental. Pure: no I/O, no allocation.
 */

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

/* Incremental state: siphash_init, any number of siphash_update, one final call. */
struct siphash_state {
    uint64_t v0, v1, v2, v3;
    uint8_t tail[8]; /* bytes not yet absorbed */
    size_t ntail;
    uint64_t total; /* bytes absorbed so far, for the length byte */
};

void siphash_init(struct siphash_state *st, const uint8_t key[SIPHASH_KEY_LEN], int outlen);
void siphash_update(struct siphash_state *st, const void *in, size_t len);
uint64_t siphash_final64(struct siphash_state *st);
void siphash_final128(struct siphash_state *st, uint8_t out[16]);

uint64_t siphash_64(const uint8_t key[SIPHASH_KEY_LEN], const void *in, size_t len);
void siphash_128(const uint8_t key[SIPHASH_KEY_LEN], const void *in, size_t len,
                 uint8_t out[16]);

#endif
