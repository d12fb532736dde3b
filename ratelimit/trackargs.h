/* SPDX-License-Identifier: MIT */
#ifndef PD_TRACKARGS_H
#define PD_TRACKARGS_H

/*
 * trackargs - the argument vector of one call of ratelimit/lua/track.lua:
 * "EVALSHA <sha> 6 KEYS[1..6] ARGV[1..22]", built from plain inputs into one owned buffer.
 * Pure: no I/O, no allocation. The layout is documented in docs/ARCHITECTURE.md (Redis key schema) and at the top
 * of track.lua; TRACKARGS_API is its version, checked by the script.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ratelimit/keys.h"

#define TRACKARGS_API "1"
#define TRACKARGS_NKEYS 6
#define TRACKARGS_NARGV 22
/* EVALSHA, sha, numkeys, keys, argv */
#define TRACKARGS_MAX_ARGS (3 + TRACKARGS_NKEYS + TRACKARGS_NARGV)
#define TRACKARGS_FIELD_MAX 256 /* longest state, instance, network or profile */
#define TRACKARGS_BUF_SIZE                                                                 \
    (TRACKARGS_NKEYS * KEYS_NAME_SIZE + 4 * (TRACKARGS_FIELD_MAX + 1) + 41 +              \
     (TRACKARGS_NARGV + 1) * 24)

/* Defaults of the tuning knobs (a zero in struct trackargs_tuning means "default"). */
#define TRACKARGS_MEMORY_DAYS 180       /* forget recipients and networks after this */
#define TRACKARGS_RCPT_MEMORY_MAX 5000  /* recipients remembered: 35 KB at most */
#define TRACKARGS_DOM_MEMORY_MAX 1000   /* recipient domains remembered: 7 KB at most */
#define TRACKARGS_NETS_MAX 64           /* client networks remembered */
#define TRACKARGS_STATE_DAYS 36         /* the daily ring spans 35 days, plus one */

struct trackargs_tuning {
    long long memory_days;
    long long rcpt_memory_max;
    long long dom_memory_max;
    long long nets_max;
    long long state_days;
};

struct trackargs_in {
    const char *mailbox;      /* normalised (keys_normalise) */
    size_t mailbox_len;
    const uint8_t *hash_key;  /* SIPHASH_KEY_LEN bytes: names overlong mailboxes */
    const char *prefix;       /* key prefix; NULL = KEYS_PREFIX_DEFAULT */
    int64_t now_ms;
    const char *protocol_state; /* "RCPT", "DATA", "END-OF-MESSAGE", ... */
    const char *instance;     /* NULL = "" */
    bool have_rcpt;           /* rcpt_hash is set (keys_recipient) */
    uint64_t rcpt_hash;
    bool have_dom;            /* dom_hash is set */
    uint64_t dom_hash;
    const char *network;      /* keys_network text; NULL = "unknown" */
    bool sender_mismatch;
    long long size;
    long long recipient_count;
    /* the caps of the mailbox's domain, else the defaults; 0 = off */
    long long lim_rcpt_hour, lim_rcpt_day, lim_msg_hour, lim_msg_day;
    int limit_src;            /* SIGNALS_SRC_DEFAULT or SIGNALS_SRC_DOMAIN */
    bool dom_exempt;
    const char *dom_profile;  /* NULL = none */
    struct trackargs_tuning tuning;
};

/*
 * The built call. argv[i] points into buf: the struct must not be copied (copy the
 * inputs and build again instead). With sha == NULL, argv starts at numkeys, for
 * track_eval(), which adds "EVALSHA <sha>" itself.
 */
struct trackargs {
    int argc;
    const char *argv[TRACKARGS_MAX_ARGS];
    size_t argvlen[TRACKARGS_MAX_ARGS];
    size_t used;
    char buf[TRACKARGS_BUF_SIZE];
};

enum trackargs_err {
    TRACKARGS_ERR_MAILBOX = -1, /* empty or overlong mailbox, or no hash key */
    TRACKARGS_ERR_PREFIX = -2,  /* a prefix keys_name refuses */
    TRACKARGS_ERR_FIELD = -3,   /* a text field over TRACKARGS_FIELD_MAX, or a NUL in it */
    TRACKARGS_ERR_VALUE = -4,   /* a negative number, an unknown limit_src, a bad sha */
};

int trackargs_build(struct trackargs *ta, const struct trackargs_in *in, const char *sha);
const char *trackargs_strerror(int err);

#endif
