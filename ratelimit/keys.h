/* SPDX-License-Identifier: MIT */
#ifndef PD_KEYS_H
#define PD_KEYS_H

/*
 * keys - who a request is about, in the form Redis stores it: the normalised mailbox, its
 * hash-tagged key names, the keyed hashes of the recipient and its domain, and the client
 * network. Pure: no I/O, no logging, no allocation; every output goes to a caller buffer.
 * The key schema is documented in docs/ARCHITECTURE.md (Redis key schema).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ratelimit/siphash.h"

#define KEYS_PREFIX_DEFAULT "pd:"
#define KEYS_SCHEMA "1"          /* bumped when the layout of any per-mailbox key changes */
#define KEYS_PREFIX_MAX 64       /* longest configurable prefix */
#define KEYS_MAILBOX_MAX 1024    /* longest normalised mailbox (a 500-byte login must work) */
#define KEYS_ENC_LITERAL_MAX 200 /* longer literal encodings become "h~<32 hex>" */
#define KEYS_ENC_HASHED_LEN 34   /* "h~" + 32 hex digits */
#define KEYS_ENC_SIZE (KEYS_ENC_LITERAL_MAX + 1)
#define KEYS_SUFFIX_MAX 8
/* "<prefix><schema>:{<enc>}:<suffix>" with its NUL */
#define KEYS_NAME_SIZE (KEYS_PREFIX_MAX + sizeof(KEYS_SCHEMA) + 2 + KEYS_ENC_LITERAL_MAX + 2 + \
                        KEYS_SUFFIX_MAX + 1)
#define KEYS_NET_SIZE 64         /* "unknown", "192.0.2.0/24", "2001:db8:1::/48" */
#define KEYS_HEX64_SIZE 17

/* The per-mailbox keys (the part after the hash tag); see docs/ARCHITECTURE.md (Redis key schema). */
#define KEYS_SUFFIX_STATE "st"  /* hash: counters, rings, baseline, recent messages */
#define KEYS_SUFFIX_RCPTS "kr"  /* string: known recipients (hash + last-seen bucket) */
#define KEYS_SUFFIX_DOMS "kd"   /* string: known recipient domains */
#define KEYS_SUFFIX_NETS "net"  /* hash: client network -> last-seen bucket */
#define KEYS_SUFFIX_OVR "ovr"   /* hash: the mailbox's overrides (read by track.lua) */
#define KEYS_SUFFIX_BLOCK "blk" /* hash: the block record (read by track.lua) */

enum keys_err {
    KEYS_ERR_EMPTY = -1,    /* nothing left after trimming */
    KEYS_ERR_TOO_LONG = -2, /* over KEYS_MAILBOX_MAX, or a prefix over KEYS_PREFIX_MAX */
    KEYS_ERR_SPACE = -3,    /* the output buffer is too small */
    KEYS_ERR_SUFFIX = -4,   /* a key suffix that is empty, too long or not [a-z] */
    KEYS_ERR_PREFIX = -5,   /* a prefix with '{', '}', a space or a control byte */
};

int keys_normalise(const char *user, size_t len, const char *default_domain, char *out,
                   size_t outsz, size_t *outlen);
int keys_encode(const char *mailbox, size_t len, const uint8_t key[SIPHASH_KEY_LEN], char *out,
                size_t outsz, size_t *outlen);
bool keys_enc_is_safe(const char *enc, size_t len);
int keys_name(const char *prefix, const char *enc, size_t enc_len, const char *suffix,
              char *out, size_t outsz, size_t *outlen);
int keys_recipient(const char *rcpt, size_t len, const uint8_t key[SIPHASH_KEY_LEN],
                   uint64_t *rcpt_hash, uint64_t *dom_hash, bool *has_dom);
void keys_network(const char *addr, size_t len, int v4_prefix, int v6_prefix,
                  char out[KEYS_NET_SIZE]);
void keys_hex64(uint64_t v, char out[KEYS_HEX64_SIZE]);
const char *keys_strerror(int err);

#endif
