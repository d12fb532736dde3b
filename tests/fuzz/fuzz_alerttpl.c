/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_alerttpl - libFuzzer target for the alert mail templates
 * SYNOPSIS
 *      build/fuzz/fuzz_alerttpl SCRATCH_DIR tests/fuzz/corpus/alerttpl
 *      build/tests/replay_alerttpl tests/fuzz/corpus/alerttpl/...
 * DESCRIPTION
 *      The input is a template, then (after the first "\n--\n", if any) a value given to
 *      every placeholder. A template that fails must come with a known code and one line
 *      of printable ASCII. One that parses must expand to valid UTF-8 with no control
 *      byte but LF and TAB, no body line over ALERTTPL_LINE_MAX bytes, and a one-line
 *      Subject within ALERTTPL_SUBJECT_MAX + 3 bytes. The whole block mail built with it
 *      (and the value as the mailbox) must have exactly the header fields of the
 *      built-in mail, no CR and no line over 998 bytes.
 *
 *      Fuzzing runs with -max_len=2048 unless the command line gives one (maxlen.h):
 *      a template and a value of up to 2 kB pass every line limit (ALERTTPL_LINE_MAX 900,
 *      ALERTTPL_SUBJECT_MAX 400); with the 8 kB seeds libFuzzer grew inputs to 8 kB and
 *      ran 3 times slower (2,000 against 6,700 runs/s).
 * DIAGNOSTICS
 *      abort() when an invariant breaks; sanitisers report memory errors and leaks.
 * SEE ALSO
 *      policyd/alerttpl.c, policyd/alertmsg.c, tests/fuzz/replay.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/alertmsg.h"
#include "policyd/alerttpl.h"
#include "tests/fuzz/maxlen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_utf8_text - valid UTF-8 without controls (LF, TAB allowed), lines within max. */
static void fuzz_utf8_text(const char *s, size_t len, size_t max, bool one_line)
{
    size_t i = 0, col = 0;

    if (strlen(s) != len)
        abort();
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2, j;

        if (c == '\n') {
            if (one_line)
                abort();
            col = 0;
            i++;
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f || (c >= 0x80 && c < 0xC2) || c > 0xF4 ||
            i + k > len)
            abort();
        for (j = 1; j < k; j++)
            if (((unsigned char)s[i + j] & 0xC0) != 0x80)
                abort();
        col += k;
        if (col > max)
            abort();
        i += k;
    }
}

/* fuzz_fields - the header field names of a message, ';'-separated. */
static char *fuzz_fields(const char *msg)
{
    const char *end = strstr(msg, "\n\n"), *p = msg;
    char *out;
    size_t o = 0;

    if (end == NULL)
        abort();
    out = malloc((size_t)(end - msg) + 1);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl != NULL ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(e - p));

        if (*p != ' ') {
            if (colon == NULL)
                abort();
            memcpy(out + o, p, (size_t)(colon - p));
            o += (size_t)(colon - p);
            out[o++] = ';';
        }
        p = e + 1;
    }
    out[o] = '\0';
    return out;
}

/* fuzz_build - the block mail with value everywhere, with template t (NULL: built in). */
static char *fuzz_build(const struct alerttpl *t, const char *value)
{
    static const char *const to[] = {"ops@partner.example"};
    const struct alertmsg_item it = {false, value, value, value, value, value, value, 1, 1};
    const struct alertmsg_net net = {value, 1, 1};
    const struct alertmsg_detail d = {1, 1, &net, 1};
    struct alertmsg_in in;
    char *m;
    size_t n;

    memset(&in, 0, sizeof(in));
    in.kind = ALERTMSG_BLOCK;
    in.from = "policyd@isp.example";
    in.to = to;
    in.nto = 1;
    in.helpdesk = value;
    in.items = &it;
    in.nitems = 1;
    in.detail = &d;
    in.tpl = t;
    if (alertmsg_build(&in, &m, &n) != 0 || strlen(m) != n)
        abort();
    return m;
}

/* fuzz_mail - the mail built with t has the built-in mail's header fields (computed once:
 * fuzz_alertmsg checks that no value changes them), no CR, no line over 998 bytes. */
static void fuzz_mail(const struct alerttpl *t, const char *value)
{
    static char *builtin;
    char *b, *fb, *p;
    size_t col = 0;

    if (builtin == NULL) {
        char *a = fuzz_build(NULL, "alice@example.com");

        builtin = fuzz_fields(a);
        free(a);
    }
    b = fuzz_build(t, value);
    fb = fuzz_fields(b);
    if (strcmp(builtin, fb) != 0)
        abort();
    for (p = b; *p; p++) {
        if (*p == '\r')
            abort();
        col = *p == '\n' ? 0 : col + 1;
        if (col > 998)
            abort();
    }
    free(b);
    free(fb);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return fuzz_default_max_len(argc, argv, "-max_len=2048");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *sep = size >= 4 ? memmem(data, size, "\n--\n", 4) : NULL;
    size_t tlen = sep != NULL ? (size_t)(sep - (const char *)data) : size, n, i;
    char *value, *out;
    struct alerttpl *t = NULL;
    struct alerttpl_var vars[32];
    struct pd_err err;
    const char *p;
    int rc;

    value = malloc(size - tlen + 1);
    if (sep != NULL)
        memcpy(value, sep + 4, size - tlen - 4);
    value[sep != NULL ? size - tlen - 4 : 0] = '\0';
    rc = alerttpl_parse((const char *)data, tlen, alertmsg_tpl_names, &t, &err);
    if (rc < 0) {
        if (rc < ALERTTPL_ERR_PLACEHOLDER || t != NULL || err.msg[0] == '\0')
            abort();
        for (p = err.msg; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                abort();
        free(value);
        return 0;
    }
    for (i = 0; alertmsg_tpl_names[i] != NULL && i < 32; i++)
        vars[i].name = alertmsg_tpl_names[i], vars[i].value = value;
    if (alerttpl_expand(t, false, vars, i, &out, &n) == 0) {
        fuzz_utf8_text(out, n, ALERTTPL_LINE_MAX, false);
        free(out);
    }
    if (alerttpl_expand(t, true, vars, i, &out, &n) != 0)
        abort();
    if (n > ALERTTPL_SUBJECT_MAX + 3)
        abort();
    fuzz_utf8_text(out, n, ALERTTPL_SUBJECT_MAX + 3, true);
    free(out);
    fuzz_mail(t, value);
    alerttpl_free(t);
    free(value);
    return 0;
}
