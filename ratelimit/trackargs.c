/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      trackargs - the argv of one call of the tracking script
 * SYNOPSIS
 *      trackargs_build(ta, in, sha)
 *      trackargs_strerror(err)
 * DESCRIPTION
 *      Builds "EVALSHA <sha> 6 KEYS[1..6] ARGV[1..22]" for ratelimit/lua/track.lua from
 *      a struct of plain inputs: the six key names of the mailbox (keys_encode +
 *      keys_name), the recipient and domain hashes as 16 hex digits, the caps and the
 *      tuning knobs (zeros become the TRACKARGS_* defaults) as decimal text. Everything is
 *      written into ta->buf; ta->argv[] and ta->argvlen[] point into it, ready for
 *      redisCommandArgv or redisAsyncCommandArgv. With sha == NULL the vector starts at
 *      numkeys, for track_eval(), which adds "EVALSHA <sha>" itself.
 *
 *      The order of KEYS and ARGV is the script's contract, written in docs/ARCHITECTURE.md (Redis key schema) and
 *      at the top of track.lua; ARGV[1] is TRACKARGS_API so a mismatch fails loudly.
 *
 *      Pure: no I/O, no allocation, no logging.
 * DIAGNOSTICS
 *      0, or a negative TRACKARGS_ERR_* (trackargs_strerror); ta is unusable after an
 *      error. Nothing is truncated: an overlong text field is an error.
 * SEE ALSO
 *      keys(3), track(3), ratelimit/lua/track.lua, docs/ARCHITECTURE.md (Redis key schema).
 */
#include <string.h>

#include "policyd/util.h"
#include "ratelimit/signals.h"
#include "ratelimit/trackargs.h"

static const char *const trackargs_suffixes[TRACKARGS_NKEYS] = {
    KEYS_SUFFIX_STATE, KEYS_SUFFIX_RCPTS, KEYS_SUFFIX_DOMS,
    KEYS_SUFFIX_NETS,  KEYS_SUFFIX_OVR,   KEYS_SUFFIX_BLOCK,
};

/* trackargs_push - append [s, s + len) as the next argument. */
static int trackargs_push(struct trackargs *ta, const char *s, size_t len)
{
    char *dst = ta->buf + ta->used;

    if (ta->argc >= TRACKARGS_MAX_ARGS || len + 1 > sizeof(ta->buf) - ta->used)
        return TRACKARGS_ERR_FIELD;
    memcpy(dst, s, len);
    dst[len] = '\0';
    ta->argv[ta->argc] = dst;
    ta->argvlen[ta->argc] = len;
    ta->argc++;
    ta->used += len + 1;
    return 0;
}

/* trackargs_text - a C string argument of at most TRACKARGS_FIELD_MAX bytes. */
static int trackargs_text(struct trackargs *ta, const char *s)
{
    size_t len = s != NULL ? strnlen(s, TRACKARGS_FIELD_MAX + 1) : 0;

    if (len > TRACKARGS_FIELD_MAX)
        return TRACKARGS_ERR_FIELD;
    return trackargs_push(ta, s != NULL ? s : "", len);
}

static int trackargs_num(struct trackargs *ta, long long v)
{
    char num[UTIL_DEC_MAX];

    return trackargs_push(ta, num, util_lltoa(num, v));
}

static int trackargs_hash(struct trackargs *ta, bool have, uint64_t h)
{
    char hex[KEYS_HEX64_SIZE];

    if (!have)
        return trackargs_push(ta, "", 0);
    keys_hex64(h, hex);
    return trackargs_push(ta, hex, 16);
}

/* trackargs_keys - numkeys and the six key names of the mailbox. */
static int trackargs_keys(struct trackargs *ta, const struct trackargs_in *in)
{
    char enc[KEYS_ENC_SIZE], name[KEYS_NAME_SIZE];
    size_t enc_len, name_len;
    int i, rc;

    if (in->mailbox == NULL || in->mailbox_len == 0 || in->mailbox_len > KEYS_MAILBOX_MAX ||
        in->hash_key == NULL)
        return TRACKARGS_ERR_MAILBOX;
    if (keys_encode(in->mailbox, in->mailbox_len, in->hash_key, enc, sizeof(enc), &enc_len) < 0)
        return TRACKARGS_ERR_MAILBOX;
    if ((rc = trackargs_num(ta, TRACKARGS_NKEYS)) < 0)
        return rc;
    for (i = 0; i < TRACKARGS_NKEYS; i++) {
        if (keys_name(in->prefix, enc, enc_len, trackargs_suffixes[i], name, sizeof(name),
                      &name_len) < 0)
            return TRACKARGS_ERR_PREFIX;
        if ((rc = trackargs_push(ta, name, name_len)) < 0)
            return rc;
    }
    return 0;
}

/* trackargs_tuned - a tuning knob, or its default when zero. */
static long long trackargs_tuned(long long v, long long def)
{
    return v != 0 ? v : def;
}

static bool trackargs_in_ok(const struct trackargs_in *in)
{
    const struct trackargs_tuning *t = &in->tuning;

    return in->now_ms >= 0 && in->size >= 0 && in->recipient_count >= 0 &&
           in->lim_rcpt_hour >= 0 && in->lim_rcpt_day >= 0 && in->lim_msg_hour >= 0 &&
           in->lim_msg_day >= 0 &&
           (in->limit_src == SIGNALS_SRC_DEFAULT || in->limit_src == SIGNALS_SRC_DOMAIN) &&
           t->memory_days >= 0 && t->rcpt_memory_max >= 0 && t->dom_memory_max >= 0 &&
           t->nets_max >= 0 && t->state_days >= 0;
}

static bool trackargs_sha_ok(const char *sha)
{
    size_t i;

    for (i = 0; i < 40; i++)
        if (!((sha[i] >= '0' && sha[i] <= '9') || (sha[i] >= 'a' && sha[i] <= 'f')))
            return false;
    return sha[40] == '\0';
}

int trackargs_build(struct trackargs *ta, const struct trackargs_in *in, const char *sha)
{
    const struct trackargs_tuning *t = &in->tuning;
    const long long nums[] = {
        in->lim_rcpt_hour, in->lim_rcpt_day, in->lim_msg_hour, in->lim_msg_day,
        in->limit_src, in->dom_exempt ? 1 : 0,
    };
    const long long tuning[] = {
        trackargs_tuned(t->memory_days, TRACKARGS_MEMORY_DAYS),
        trackargs_tuned(t->rcpt_memory_max, TRACKARGS_RCPT_MEMORY_MAX),
        trackargs_tuned(t->dom_memory_max, TRACKARGS_DOM_MEMORY_MAX),
        trackargs_tuned(t->nets_max, TRACKARGS_NETS_MAX),
        trackargs_tuned(t->state_days, TRACKARGS_STATE_DAYS),
    };
    size_t i;
    int rc = 0;

    ta->argc = 0;
    ta->used = 0;
    if (!trackargs_in_ok(in) || (sha != NULL && !trackargs_sha_ok(sha)))
        return TRACKARGS_ERR_VALUE;
    if (sha != NULL && ((rc = trackargs_push(ta, "EVALSHA", 7)) < 0 ||
                        (rc = trackargs_push(ta, sha, 40)) < 0))
        return rc;
    if ((rc = trackargs_keys(ta, in)) < 0)
        return rc;
    /* ARGV[1..10]: api, now_ms, state, instance, rcpt_hash, dom_hash, network,
     * sender_mismatch, size, recipient_count */
    if ((rc = trackargs_text(ta, TRACKARGS_API)) < 0 || (rc = trackargs_num(ta, in->now_ms)) < 0 ||
        (rc = trackargs_text(ta, in->protocol_state)) < 0 ||
        (rc = trackargs_text(ta, in->instance)) < 0 ||
        (rc = trackargs_hash(ta, in->have_rcpt, in->rcpt_hash)) < 0 ||
        (rc = trackargs_hash(ta, in->have_dom, in->dom_hash)) < 0 ||
        (rc = trackargs_text(ta, in->network != NULL ? in->network : "unknown")) < 0 ||
        (rc = trackargs_num(ta, in->sender_mismatch ? 1 : 0)) < 0 ||
        (rc = trackargs_num(ta, in->size)) < 0 || (rc = trackargs_num(ta, in->recipient_count)) < 0)
        return rc;
    /* ARGV[11..16]: the four caps, limit_src, dom_exempt; ARGV[17]: dom_profile */
    for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if ((rc = trackargs_num(ta, nums[i])) < 0)
            return rc;
    if ((rc = trackargs_text(ta, in->dom_profile)) < 0)
        return rc;
    /* ARGV[18..22]: memory_days, rcpt_memory_max, dom_memory_max, nets_max, state_days */
    for (i = 0; i < sizeof(tuning) / sizeof(tuning[0]); i++)
        if ((rc = trackargs_num(ta, tuning[i])) < 0)
            return rc;
    return 0;
}

const char *trackargs_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case TRACKARGS_ERR_MAILBOX:
        return "bad mailbox";
    case TRACKARGS_ERR_PREFIX:
        return "bad key prefix";
    case TRACKARGS_ERR_FIELD:
        return "text field too long";
    case TRACKARGS_ERR_VALUE:
        return "value out of range";
    default:
        return "unknown trackargs error";
    }
}
