/* SPDX-License-Identifier: MIT */
#ifndef PD_OVERRIDES_H
#define PD_OVERRIDES_H

/*
 * overrides - per-mailbox and per-domain exceptions to the caps and rules: the
 * overrides_file format, the compact text of one domain's settings (the values of the
 * Redis hash "<prefix>1:domains"), and the fields of a mailbox's "ovr" hash as
 * ratelimit/lua/track.lua reads them. Pure: no I/O, no logging; memory from xmalloc.
 *
 *   # comment
 *   alice@example.com  rcpt_hour=1000 rcpt_day=5000 msg_hour=300 msg_day=2000
 *                      exempt=yes profile=bulk
 *   example.com        rcpt_hour=2000 profile=outreach
 *   bob@example.com    raise_rcpt_hour=5000 raise_until=2026-12-01T00:00:00Z
 */

#include <stdbool.h>
#include <stddef.h>

#include "policyd/config.h"
#include "ratelimit/rules.h"
#include "ratelimit/trackargs.h"

#define OVERRIDES_KEY_MAX 1024            /* longest key, as KEYS_MAILBOX_MAX */
#define OVERRIDES_LINE_MAX 4096           /* one entry, continuation lines included */
#define OVERRIDES_ENTRIES_MAX 2000000     /* entries in one file */
#define OVERRIDES_CAP_MAX 10000000        /* as limit_* in policyd.conf; 0 = no cap */
#define OVERRIDES_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */
#define OVERRIDES_TEXT_MAX 512            /* overrides_format() never needs more */
#define OVERRIDES_NCAPS 4
#define OVERRIDES_HASH_FIELDS 11 /* fields of the ovr hash that track.lua reads */
#define OVERRIDES_VALUE_MAX 24   /* one ovr hash value, with its NUL */

/* The caps, in the order of track.lua's ARGV[11..14] and struct trackargs_in. */
enum overrides_cap {
    OVERRIDES_RCPT_HOUR = 0,
    OVERRIDES_RCPT_DAY,
    OVERRIDES_MSG_HOUR,
    OVERRIDES_MSG_DAY,
};

/* Bits of struct overrides_settings.has: which settings an entry gives. */
#define OVERRIDES_HAS_CAP(i) (1u << (i))
#define OVERRIDES_HAS_RAISE(i) (1u << (4 + (i)))
#define OVERRIDES_HAS_RAISE_UNTIL (1u << 8)
#define OVERRIDES_HAS_EXEMPT (1u << 9)
#define OVERRIDES_HAS_PROFILE (1u << 10)
#define OVERRIDES_HAS_ANY_RAISE (0xfu << 4)
#define OVERRIDES_HAS_ALL 0x7ffu

struct overrides_settings {
    unsigned has;
    long long cap[OVERRIDES_NCAPS];   /* 0..OVERRIDES_CAP_MAX; 0 = no cap */
    long long raise[OVERRIDES_NCAPS]; /* the caps while raise_until is in the future */
    long long raise_until;            /* unix seconds */
    bool exempt;
    enum rules_profile profile; /* RULES_PROF_NONE .. RULES_PROF_TRAVELLER */
};

struct overrides_entry {
    const char *key; /* lower case, NUL-terminated; a mailbox holds '@', a domain does not */
    size_t key_len;
    bool is_mailbox;
    int line; /* where it was defined; 0 when not from a file */
    struct overrides_settings s;
};

/* A set of entries with O(1) lookup by key. Opaque; owned by whoever made it. */
struct overrides;

/* Writes to a mailbox's ovr hash: HSET set_name/set_value, HDEL del_name. Names point at
 * static strings. */
struct overrides_hash {
    size_t nset, ndel;
    const char *set_name[OVERRIDES_HASH_FIELDS];
    char set_value[OVERRIDES_HASH_FIELDS][OVERRIDES_VALUE_MAX];
    size_t set_len[OVERRIDES_HASH_FIELDS];
    const char *del_name[OVERRIDES_HASH_FIELDS];
};

enum overrides_err {
    OVERRIDES_ERR_SYNTAX = -1,    /* NUL byte, overlong entry, bad line structure, no '=' */
    OVERRIDES_ERR_KEY = -2,       /* a key that is empty, too long or has a forbidden byte */
    OVERRIDES_ERR_VALUE = -3,     /* unknown setting, bad or out-of-range value */
    OVERRIDES_ERR_DUPLICATE = -4, /* a key or a setting given twice */
    OVERRIDES_ERR_SPACE = -5,     /* an output buffer too small, too many entries */
};

int overrides_parse(const char *text, size_t len, struct overrides **out, struct pd_err *err);
struct overrides *overrides_new(void);
int overrides_add(struct overrides *o, const char *key, size_t key_len,
                  const struct overrides_settings *s, int line, struct pd_err *err);
const struct overrides_entry *overrides_find(const struct overrides *o, const char *key,
                                             size_t key_len);
size_t overrides_count(const struct overrides *o);
const struct overrides_entry *overrides_at(const struct overrides *o, size_t i);
struct overrides *overrides_free(struct overrides *o);

int overrides_key(const char *key, size_t len, char *out, size_t outsz, size_t *outlen,
                  bool *is_mailbox, struct pd_err *err);
int overrides_parse_settings(const char *text, size_t len, struct overrides_settings *s,
                             struct pd_err *err);
int overrides_format(const struct overrides_settings *s, char *buf, size_t len);
bool overrides_settings_equal(const struct overrides_settings *a,
                              const struct overrides_settings *b);
void overrides_to_hash(const struct overrides_settings *s, struct overrides_hash *out);
void overrides_hash_change(const struct overrides_settings *old,
                           const struct overrides_settings *new_, struct overrides_hash *out);
void overrides_apply_domain(const struct overrides_settings *s, long long now,
                            struct trackargs_in *in);
bool overrides_profile_parse(const char *name, size_t len, enum rules_profile *out);
const char *overrides_profile_text(enum rules_profile p);
const char *overrides_strerror(int err);

#endif
