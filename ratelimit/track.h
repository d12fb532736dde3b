/* SPDX-License-Identifier: MIT */
#ifndef PD_TRACK_H
#define PD_TRACK_H

/*
 * track - the Redis client: one async hiredis connection on the libuv loop, the Lua
 * scripts of ratelimit/lua/ (SCRIPT LOAD at every connect, EVALSHA, reload once on
 * NOSCRIPT), a per-request timeout, reconnect with backoff, and "redis unavailable" /
 * "redis available again" logged once per change. The only file that includes hiredis.
 *
 * A reply reaches the caller as a flat list of name/value pairs (the scripts' convention:
 * {"name", value, "name", value, ...}) or as a single scalar (pairs[0] with name_len 0),
 * borrowed for the duration of the callback only: copy what you keep.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct pd_config;
struct track;

enum track_status {
    TRACK_OK = 0,
    TRACK_ERR_TIMEOUT = -1,  /* no answer within redis_timeout */
    TRACK_ERR_DOWN = -2,     /* not connected: answered at once */
    TRACK_ERR_REPLY = -3,    /* an error reply or an unexpected reply type */
    TRACK_ERR_SHUTDOWN = -4, /* the client is stopping */
    TRACK_ERR_SCRIPT = -5,   /* no such script */
};

/* Pairs held inline in a reply view; a larger reply (HGETALL of a big hash) is viewed
 * from the heap, up to TRACK_MAX_REPLY_PAIRS. Paged readers ask for TRACK_MAX_PAIRS at a
 * time. */
#define TRACK_MAX_PAIRS 128
#define TRACK_MAX_REPLY_PAIRS (1u << 20)

struct track_pair {
    const char *name;
    size_t name_len;
    bool is_int;
    long long ival;
    const char *sval; /* for strings (and integers rendered as text: never NULL) */
    size_t sval_len;
};

struct track_reply {
    size_t npairs;
    bool positional; /* {SIGNALS_MARK, value, ...}: pair i is signal i, named by signals.h */
    struct track_pair *pairs; /* npairs of them: inline_pairs, or the heap */
    struct track_pair inline_pairs[TRACK_MAX_PAIRS];
    const char *error; /* the Redis error text with TRACK_ERR_REPLY, else NULL */
};

/* Called exactly once per track_eval(), maybe before it returns (TRACK_ERR_DOWN). */
typedef void (*track_cb)(void *arg, int status, const struct track_reply *reply);

struct track *track_new(uv_loop_t *loop, const struct pd_config *cfg);
void track_reconfigure(struct track *t, const struct pd_config *cfg);
int track_script_index(const struct track *t, const char *name);
void track_eval(struct track *t, int script, int argc, const char **argv, const size_t *lens,
                track_cb cb, void *arg);
void track_command(struct track *t, int argc, const char **argv, const size_t *lens,
                   track_cb cb, void *arg);
bool track_is_up(const struct track *t);
/* track_is_native - "track" calls go out as PD.TRACK (the pdtrack module) */
bool track_is_native(const struct track *t);
/* track_on_up - call fn(arg) each time Redis answers again after being unavailable (not
 * at the first connection): e.g. to re-check shared state a restarted Redis may have lost. */
void track_on_up(struct track *t, void (*fn)(void *arg), void *arg);
void track_stats(const struct track *t, uint64_t *calls, uint64_t *timeouts, uint64_t *errors);
void track_shutdown(struct track *t);
struct track *track_free(struct track *t);
const char *track_strerror(int status);

#endif
