/* SPDX-License-Identifier: MIT */
#ifndef PD_DOMCACHE_H
#define PD_DOMCACHE_H

/*
 * domcache - the overrides in force: per-domain settings in memory (overrides_file,
 * merged with the Redis hash "<prefix>1:domains", Redis winning), and the file's
 * per-mailbox entries written to each mailbox's ovr hash for track.lua. A daemon module:
 * libuv timer, Redis through track_command(), logging. See domcache.c for the contract.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ratelimit/overrides.h"

struct pd_config;
struct pd_err;
struct track;
struct trackargs_in;
struct domcache;

#define DOMCACHE_TICK_MS 1000         /* the one timer's period */
#define DOMCACHE_POLL_MS 10000        /* re-read of the domains hash */
#define DOMCACHE_SEED_BATCH 64        /* mailboxes per round trip */
#define DOMCACHE_FILE_MAX (64L << 20) /* bytes of overrides_file */
#define DOMCACHE_DOMAINS "domains"    /* hash "<prefix>1:domains": domain -> settings text */
#define DOMCACHE_INDEX "ovr_file"     /* zset "<prefix>1:ovr_file": mailboxes the file wrote */
#define DOMCACHE_FILE_FIELD "file"    /* ovr hash field: the settings text the file wrote */

/* The recipient hash key (SIPHASH_KEY_LEN bytes), or NULL while it is not known yet:
 * e.g. a wrapper around decide_hash_key(). */
typedef const uint8_t *(*domcache_key_fn)(void *arg);

struct domcache_stats {
    size_t file_mailboxes, file_domains; /* entries of overrides_file */
    size_t redis_domains;                /* entries of the domains hash in use */
    size_t redis_bad;                    /* entries of the domains hash refused */
    bool redis_truncated;                /* the hash had more than one reply carries */
    bool seed_done;                      /* every mailbox entry is in Redis */
    uint64_t seeded;                     /* mailbox ovr hashes written since start */
};

struct domcache *domcache_new(uv_loop_t *loop, struct track *track, const struct pd_config *cfg,
                              domcache_key_fn get_key, void *key_arg, struct pd_err *err);
void domcache_reconfigure(struct domcache *dc, const struct pd_config *cfg);
bool domcache_lookup(const struct domcache *dc, const char *domain, size_t len,
                     struct overrides_settings *out);
bool domcache_apply(const struct domcache *dc, const char *mailbox, size_t len, long long now,
                    struct trackargs_in *in);
void domcache_seed_mailboxes(struct domcache *dc);
void domcache_stats(const struct domcache *dc, struct domcache_stats *st);
void domcache_shutdown(struct domcache *dc);
struct domcache *domcache_free(struct domcache *dc);

#endif
