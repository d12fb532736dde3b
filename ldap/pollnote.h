/* SPDX-License-Identifier: MIT */
#ifndef PD_POLLNOTE_H
#define PD_POLLNOTE_H

/*
 * pollnote - what the LDAP poller last said about each block, so that a block kept for
 * the same reason round after round is logged once: an open-addressing table keyed by a
 * hash of the block's mailbox and reference id, swept of the blocks a round did not see.
 * No I/O, no logging; allocation aborts on exhaustion (xmalloc).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pollnote {
    uint64_t *hash; /* 0 = empty slot */
    uint8_t *note;
    uint32_t *gen;
    size_t cap, used;
};

void pollnote_init(struct pollnote *t);
uint64_t pollnote_key(const char *ref, size_t ref_len, const char *mailbox, size_t len);
bool pollnote_set(struct pollnote *t, uint64_t key, uint8_t note, uint32_t gen);
void pollnote_sweep(struct pollnote *t, uint32_t gen);
void pollnote_free(struct pollnote *t);

#endif
