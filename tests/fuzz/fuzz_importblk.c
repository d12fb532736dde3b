/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_importblk - libFuzzer target for the block-list parser of policyd --import-blocks
 * SYNOPSIS
 *      build/fuzz/fuzz_importblk [libFuzzer options] CORPUS...
 *      build/tests/replay_importblk FILE...
 * DESCRIPTION
 *      The list parser (importblk_parse_line) is pure code, but it lives in
 *      policyd/importblk.c beside the libuv/track(3) loop that writes the blocks, and the
 *      fuzz and replay rules link only the pure modules. So this target includes
 *      importblk.c itself and satisfies the loop's references (uv_*, track_*, log_*) with
 *      stubs that abort: the parsing path must never reach them. Moving the parser into a
 *      pure file of its own would make the stubs unnecessary.
 *
 *      Input: byte 0 selects the default domain ("" or "example.org"); the rest is a list
 *      file, split into lines as getline(3) does. Each line goes through what
 *      importblk_add() does: importblk_parse_line, then keys_normalise, then, for a
 *      malformed line, sanitize_log. Checks:
 *        - the code is EMPTY, MAILBOX or a known error with a message;
 *        - a MAILBOX span lies inside the line, is not empty, holds no byte <= 0x20, 0x7f or
 *          '#'-after-space, and does not start or end with '@';
 *        - a span that normalises is at most KEYS_MAILBOX_MAX bytes with no upper-case
 *          ASCII, and normalising it again gives itself (idempotent: the import and decide
 *          agree on the key);
 *        - the sanitised form of any line is printable ASCII and NUL-terminated within
 *          SANITIZE_BUF;
 *        - importblk_key_from_text is deterministic.
 *      Any violation aborts; the sanitisers catch memory and UB errors.
 * DIAGNOSTICS
 *      abort() when an invariant breaks.
 * SEE ALSO
 *      policyd/importblk.c, ratelimit/keys.c, tests/fuzz/replay.c
 */
#include "policyd/importblk.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The loop side of importblk.c, never reached by the parser. An asm label gives each stub
 * the library's symbol name without redeclaring the library's prototype. */
#define FUZZ_STUB(sym)                                                                     \
    void fuzz_stub_##sym(void) __asm__(#sym);                                              \
    void fuzz_stub_##sym(void)                                                             \
    {                                                                                      \
        abort();                                                                           \
    }
FUZZ_STUB(log_close)
FUZZ_STUB(log_fatal)
FUZZ_STUB(log_open)
FUZZ_STUB(log_panic)
FUZZ_STUB(log_warn)
FUZZ_STUB(track_command)
FUZZ_STUB(track_eval)
FUZZ_STUB(track_free)
FUZZ_STUB(track_is_up)
FUZZ_STUB(track_new)
FUZZ_STUB(track_script_index)
FUZZ_STUB(track_shutdown)
FUZZ_STUB(track_strerror)
FUZZ_STUB(uv_close)
FUZZ_STUB(uv_gettimeofday)
FUZZ_STUB(uv_hrtime)
FUZZ_STUB(uv_loop_close)
FUZZ_STUB(uv_loop_init)
FUZZ_STUB(uv_now)
FUZZ_STUB(uv_run)
FUZZ_STUB(uv_strerror)
FUZZ_STUB(uv_timer_init)
FUZZ_STUB(uv_timer_start)
FUZZ_STUB(uv_timer_stop)

static bool fuzz_bad_byte(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

static void fuzz_line(const char *line, size_t len, const char *domain)
{
    char mb[KEYS_MAILBOX_MAX + 1], again[KEYS_MAILBOX_MAX + 1], shown[SANITIZE_BUF];
    size_t start = (size_t)-1, mlen = (size_t)-1, n = 0, n2 = 0, i;
    int rc = importblk_parse_line(line, len, &start, &mlen);

    sanitize_log(shown, sizeof(shown), line, len);
    if (memchr(shown, '\0', sizeof(shown)) == NULL)
        abort();
    for (i = 0; shown[i] != '\0'; i++)
        if ((unsigned char)shown[i] < 0x20 || (unsigned char)shown[i] > 0x7e)
            abort();
    if (rc == IMPORTBLK_LINE_EMPTY)
        return;
    if (rc < 0) {
        if (rc < IMPORTBLK_LINE_EMPTY_PART || strcmp(importblk_line_error(rc), "malformed") == 0)
            abort();
        return;
    }
    if (rc != IMPORTBLK_LINE_MAILBOX || mlen == 0 || start > len || mlen > len - start)
        abort();
    for (i = start; i < start + mlen; i++)
        if (fuzz_bad_byte((unsigned char)line[i]))
            abort();
    if (line[start] == '@' || line[start + mlen - 1] == '@' || line[start] == '#')
        abort();
    if (keys_normalise(line + start, mlen, domain, mb, sizeof(mb), &n) < 0)
        return;
    if (n == 0 || n > KEYS_MAILBOX_MAX)
        abort();
    for (i = 0; i < n; i++)
        if (mb[i] >= 'A' && mb[i] <= 'Z')
            abort();
    if (keys_normalise(mb, n, domain, again, sizeof(again), &n2) < 0 || n2 != n ||
        memcmp(mb, again, n) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *domain, *p, *end;
    uint8_t k1[SIPHASH_KEY_LEN], k2[SIPHASH_KEY_LEN];

    if (size < 1)
        return 0;
    domain = (data[0] & 1) ? "example.org" : "";
    p = (const char *)data + 1;
    end = (const char *)data + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p); /* with its '\n' */

        fuzz_line(p, len, domain);
        p += len;
    }
    importblk_key_from_text((const char *)data, size, k1);
    importblk_key_from_text((const char *)data, size, k2);
    if (memcmp(k1, k2, sizeof(k1)) != 0)
        abort();
    return 0;
}
