/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_jsonreq - libFuzzer target for the status socket's request parser
 * SYNOPSIS
 *      build/fuzz/fuzz_jsonreq [libFuzzer options] CORPUS...
 *      build/tests/replay_jsonreq FILE...
 * DESCRIPTION
 *      Splits the input at newlines, as the status socket does, and parses every line
 *      (and the whole input as one line). Each result is checked: the return code is 0 or
 *      a known JSONREQ_ERR_*, an error has a printable ASCII message and a code name, a
 *      good request has a
 *      known command, NUL-terminated fields within their limits, a page within 1..100, a
 *      role, override values of the documented forms; parsing the same line twice gives
 *      the same result. An input without a newline is a single line, checked once (the
 *      per-line pass would only repeat the whole-input check). A line longer than
 *      JSONREQ_MAX_LINE, made by repeating the input, is checked on every run, so the
 *      limit is tested although the fuzzer's inputs are shorter.
 *
 *      Speed: every line costs two jansson parses (allocations under ASan), every byte a
 *      few traced comparisons, so the cost of one run grows with the input. libFuzzer
 *      takes its -max_len from the largest corpus file (too_long, 70 kB), and the
 *      scratch corpus then fills with 20..68 kB inputs of thousands of lines: 160..1,100
 *      runs/s. LLVMFuzzerInitialize() therefore adds -max_len=4096 (libFuzzer's own
 *      default, far above every field limit) when fuzzing directories without a
 *      -max_len option; give -max_len=N (e.g. in FUZZ_ARGS) to change it.
 * DIAGNOSTICS
 *      abort() on any violated invariant.
 * SEE ALSO
 *      policyd/jsonreq.c, tests/fuzz/replay.c, tests/fuzz/corpus/jsonreq/
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/jsonreq.h"
#include "tests/fuzz/maxlen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_LEN "-max_len=4096"

static void require(bool ok)
{
    if (!ok)
        abort();
}

/* field_ok - NUL-terminated within its buffer, as long as recorded. */
static void field_ok(const char *s, size_t cap)
{
    require(memchr(s, '\0', cap) != NULL);
}

static void check_ovr(const struct jsonreq *r)
{
    int i;

    for (i = 0; i < JSONREQ_OVR_N; i++) {
        const char *v = r->ovr_val[i];
        size_t n = strlen(v), j;

        field_ok(v, sizeof(r->ovr_val[i]));
        if (!r->ovr_set[i]) {
            require(n == 0);
            continue;
        }
        if (n == 0)
            continue; /* a deletion */
        if (i == JSONREQ_OVR_EXEMPT)
            require(strcmp(v, "0") == 0 || strcmp(v, "1") == 0);
        else if (i == JSONREQ_OVR_PROFILE)
            require(n <= JSONREQ_PROFILE_MAX &&
                    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n);
        else
            for (j = (i == JSONREQ_OVR_RAISE_UNTIL && v[0] == '+') ? 1 : 0; j < n; j++)
                require(v[j] >= '0' && v[j] <= '9');
    }
}

static void check_one(const char *line, size_t len)
{
    struct jsonreq a, b;
    char err[256], err2[256];
    int rc = jsonreq_parse(line, len, &a, err, sizeof(err));

    require(rc <= 0 && rc >= JSONREQ_ERR_VALUE);
    require(jsonreq_parse(line, len, &b, err2, sizeof(err2)) == rc);
    require(strcmp(err, err2) == 0);
    require(memcmp(&a, &b, sizeof(a)) == 0);
    require(strcmp(jsonreq_strerror(rc), "unknown-error") != 0);
    if (rc < 0) {
        size_t i;

        require(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
        for (i = 0; err[i] != '\0'; i++)
            require(err[i] >= 0x20 && err[i] < 0x7f);
        return;
    }
    require(a.cmd < JSONREQ_NCMDS);
    field_ok(a.token, sizeof(a.token));
    field_ok(a.oper, sizeof(a.oper));
    field_ok(a.domain, sizeof(a.domain));
    field_ok(a.text, sizeof(a.text));
    field_ok(a.filter_reason, sizeof(a.filter_reason));
    field_ok(a.ref, sizeof(a.ref));
    require(a.user_len <= JSONREQ_USER_MAX && a.user[a.user_len] == '\0');
    require(a.limit >= 1 && a.limit <= JSONREQ_PAGE_MAX && a.offset >= 0);
    require(jsonreq_role_needed(&a) <= JSONREQ_ROLE_ADMIN);
    if (jsonreq_is_write(&a))
        require(jsonreq_role_needed(&a) == JSONREQ_ROLE_ADMIN && a.oper[0] != '\0');
    if (a.cmd == JSONREQ_SHOW || a.cmd == JSONREQ_BLOCK || a.cmd == JSONREQ_UNBLOCK)
        require(a.user_len > 0);
    if (a.cmd == JSONREQ_OVERRIDE)
        require((a.user_len > 0) != (a.domain[0] != '\0'));
    check_ovr(&a);
}

/* check_too_long - a line over the limit, of the input repeated, is refused as too long. */
static void check_too_long(const uint8_t *data, size_t size)
{
    static char line[JSONREQ_MAX_LINE + 64];
    size_t len = JSONREQ_MAX_LINE + 1 + size % 63, have;

    if (size == 0) {
        memset(line, '{', len);
    } else {
        have = size < len ? size : len;
        memcpy(line, data, have);
        for (; have < len; have *= 2)
            memcpy(line + have, line, have < len - have ? have : len - have);
    }
    require(jsonreq_parse(line, len, &(struct jsonreq){0}, NULL, 0) == JSONREQ_ERR_TOO_LONG);
    check_one(line, len);
}

/* LLVMFuzzerInitialize - -max_len=4096 unless the command line says otherwise (maxlen.h). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return fuzz_default_max_len(argc, argv, FUZZ_MAX_LEN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size, *nl;

    check_one(p, size);
    check_too_long(data, size);
    if (memchr(p, '\n', size) == NULL)
        return 0; /* one line: the whole input, just checked */
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            nl = end;
        check_one(p, (size_t)(nl - p));
        p = nl + 1;
    }
    return 0;
}
