/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_overrides - libFuzzer target for the overrides file and domain-text parser
 * SYNOPSIS
 *      build/fuzz/fuzz_overrides SCRATCH_DIR tests/fuzz/corpus/overrides
 *      build/tests/replay_overrides tests/fuzz/corpus/overrides/...
 * DESCRIPTION
 *      Feeds the input to overrides_parse() and checks what the daemon relies on: an
 *      error is one clean line with the line it happened on and no table; a table holds
 *      only valid lower-case keys, each found again (in any case); every entry's
 *      settings format into OVERRIDES_TEXT_MAX bytes and read back the same; the ovr hash
 *      names every field track.lua reads exactly once; a domain applied to a track call
 *      gives an argv trackargs_build() accepts. The whole input is also tried as one
 *      domain's text (the Redis hash value) and as a key.
 * DIAGNOSTICS
 *      abort() when an invariant breaks; sanitisers report memory errors and leaks.
 * SEE ALSO
 *      ratelimit/overrides.c, tests/fuzz/replay.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit/overrides.h"
#include "ratelimit/signals.h"
#include "ratelimit/trackargs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_APPLY_MAX 4 /* entries per input that go through trackargs_build */

static void fuzz_check_err(int rc, const struct pd_err *err, int min_line)
{
    const char *p;

    if (rc == 0)
        return;
    if (rc < OVERRIDES_ERR_SPACE || rc > OVERRIDES_ERR_SYNTAX || err->msg[0] == '\0' ||
        err->line < min_line)
        abort();
    if (memchr(err->msg, '\0', sizeof(err->msg)) == NULL)
        abort();
    for (p = err->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            abort();
}

/* fuzz_key_ok - a stored key: lower case, no byte a key may not hold. */
static void fuzz_key_ok(const char *key, size_t len, bool mailbox)
{
    size_t i;

    if (len == 0 || len > OVERRIDES_KEY_MAX || strlen(key) != len ||
        mailbox != (memchr(key, '@', len) != NULL))
        abort();
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];

        if (c <= 0x20 || c == 0x7f || c == '{' || c == '}' || c == '=' || (c >= 'A' && c <= 'Z'))
            abort();
    }
}

/* fuzz_round_trip - settings format, parse back to the same, and make a valid ovr hash. */
static void fuzz_round_trip(const struct overrides_settings *s)
{
    char buf[OVERRIDES_TEXT_MAX];
    struct overrides_settings back;
    struct overrides_hash h;
    struct pd_err err;
    int n = overrides_format(s, buf, sizeof(buf)), i;

    if (n < 0 || (size_t)n != strlen(buf))
        abort();
    if (overrides_parse_settings(buf, (size_t)n, &back, &err) != 0 ||
        !overrides_settings_equal(s, &back))
        abort();
    overrides_to_hash(s, &h);
    if (h.nset + h.ndel != OVERRIDES_HASH_FIELDS)
        abort();
    for (i = 0; i < (int)h.nset; i++)
        if (h.set_len[i] != strlen(h.set_value[i]) || h.set_len[i] >= OVERRIDES_VALUE_MAX)
            abort();
}

/* fuzz_apply - a domain's settings in a track call that trackargs accepts. */
static void fuzz_apply(const struct overrides_settings *s)
{
    static const uint8_t key[SIPHASH_KEY_LEN] = {1, 2, 3};
    struct trackargs_in in;
    struct trackargs *ta = malloc(sizeof(*ta));

    memset(&in, 0, sizeof(in));
    in.mailbox = "a@example.com";
    in.mailbox_len = 13;
    in.hash_key = key;
    in.now_ms = 1796083200000LL;
    in.protocol_state = "RCPT";
    in.lim_rcpt_hour = 500;
    overrides_apply_domain(s, in.now_ms / 1000, &in);
    if (trackargs_build(ta, &in, NULL) != 0)
        abort();
    if (in.limit_src != SIGNALS_SRC_DEFAULT && in.limit_src != SIGNALS_SRC_DOMAIN)
        abort();
    free(ta);
}

static void fuzz_table(const struct overrides *o)
{
    size_t i, n = overrides_count(o), applied = 0;
    char upper[OVERRIDES_KEY_MAX];

    for (i = 0; i < n; i++) {
        const struct overrides_entry *e = overrides_at(o, i);
        size_t j;

        fuzz_key_ok(e->key, e->key_len, e->is_mailbox);
        if (e->line < 1 || overrides_find(o, e->key, e->key_len) != e)
            abort();
        for (j = 0; j < e->key_len; j++)
            upper[j] = (e->key[j] >= 'a' && e->key[j] <= 'z') ? (char)(e->key[j] - 32) : e->key[j];
        if (overrides_find(o, upper, e->key_len) != e)
            abort();
        fuzz_round_trip(&e->s);
        if (!e->is_mailbox && applied++ < FUZZ_APPLY_MAX)
            fuzz_apply(&e->s);
    }
    if (overrides_at(o, n) != NULL)
        abort();
}

/* fuzz_whole - the input as one domain's text, and as one key. */
static void fuzz_whole(const uint8_t *data, size_t size)
{
    struct overrides_settings s;
    char key[OVERRIDES_KEY_MAX + 1];
    struct pd_err err;
    size_t len;
    bool mb;
    int rc = overrides_parse_settings((const char *)data, size, &s, &err);

    fuzz_check_err(rc, &err, 0);
    if (err.line != 0)
        abort();
    if (rc == 0) {
        fuzz_round_trip(&s);
        fuzz_apply(&s);
    }
    rc = overrides_key((const char *)data, size, key, sizeof(key), &len, &mb, &err);
    fuzz_check_err(rc, &err, 0);
    if (rc == 0)
        fuzz_key_ok(key, len, mb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct overrides *o = NULL;
    struct pd_err err;
    int rc = overrides_parse((const char *)data, size, &o, &err);

    fuzz_check_err(rc, &err, 1);
    if ((rc == 0) != (o != NULL))
        abort();
    if (rc == 0)
        fuzz_table(o);
    o = overrides_free(o);
    fuzz_whole(data, size);
    return 0;
}
