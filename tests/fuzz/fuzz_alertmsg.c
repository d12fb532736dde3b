/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_alertmsg - libFuzzer target for the alert mail text and the queue form
 * SYNOPSIS
 *      build/fuzz/fuzz_alertmsg SCRATCH_DIR tests/fuzz/corpus/alertmsg
 *      build/tests/replay_alertmsg tests/fuzz/corpus/alertmsg/...
 * DESCRIPTION
 *      The first byte picks the kind of mail; the rest, split at NUL bytes, gives the
 *      mailbox, reason, rules, by, condition, reference, helpdesk text and partner of the
 *      event(s). Whatever they hold, the message must be what a mail reader can trust:
 *      no CR or NUL, headers of printable ASCII with only the known names and each
 *      once, header lines within 998 bytes (76 when they carry encoded-words), a body of
 *      valid UTF-8 without control bytes but LF, body lines within 998 bytes. The item
 *      also round-trips through its queue form, the raw input is given to the unpacker,
 *      and alertmsg_clean's output is checked the same way.
 *
 *      Fuzzing runs with -max_len=2048 unless the command line gives one (maxlen.h):
 *      fields of up to 2 kB pass every limit one input reaches (a header line of 998
 *      bytes, AM_WORD_MAX 300); ALERTMSG_PACK_MAX is covered by the unit test.
 * DIAGNOSTICS
 *      abort() when an invariant breaks; sanitisers report memory errors and leaks.
 * SEE ALSO
 *      policyd/alertmsg.c, tests/unit/test_alertmsg.c, tests/fuzz/replay.c
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/alertmsg.h"
#include "tests/fuzz/maxlen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FIELDS 8

static const char *const fuzz_names[] = {
    "Date", "From", "To", "Subject", "Message-ID", "Auto-Submitted", "X-Auto-Response-Suppress",
    "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "X-Policyd-Event",
    "X-Policyd-Ref", NULL};

/* fuzz_text_ok - valid UTF-8, no control byte (LF allowed when lf). */
static bool fuzz_text_ok(const unsigned char *s, size_t n, bool lf)
{
    size_t i = 0, k, j;

    while (i < n) {
        unsigned char c = s[i];

        if (c < 0x80) {
            if ((c < 0x20 && !(lf && c == '\n')) || c == 0x7f)
                return false;
            i++;
            continue;
        }
        k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (k == 0 || c > 0xF4 || i + k > n)
            return false;
        for (j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) ||
            (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
            return false;
        i += k;
    }
    return true;
}

static void fuzz_check_headers(const char *msg, const char *end)
{
    unsigned seen[16] = {0};
    const char *s = msg;
    size_t i;

    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n;

        if (nl == NULL)
            abort();
        n = (size_t)(nl - s);
        if (n > 998 || (memmem(s, n, "=?", 2) != NULL && n > 76))
            abort();
        for (i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
                abort();
        if (s[0] != ' ') {
            for (i = 0; fuzz_names[i] != NULL; i++) {
                size_t l = strlen(fuzz_names[i]);

                if (n > l && memcmp(s, fuzz_names[i], l) == 0 && s[l] == ':')
                    break;
            }
            if (fuzz_names[i] == NULL || ++seen[i] > 1)
                abort();
        }
        s = nl + 1;
    }
}

static void fuzz_check_message(const char *msg, size_t len)
{
    const char *sep = strstr(msg, "\n\n"), *s, *end = msg + len;

    if (strlen(msg) != len || memchr(msg, '\r', len) != NULL || sep == NULL)
        abort();
    fuzz_check_headers(msg, sep + 1);
    if (!fuzz_text_ok((const unsigned char *)sep + 2, (size_t)(end - sep - 2), true))
        abort();
    for (s = sep + 2; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));

        if (nl == NULL || nl - s > 998)
            abort();
        s = nl + 1;
    }
}

static void fuzz_round_trip(const struct alertmsg_item *it)
{
    struct alertmsg_item back;
    char *packed, *store;
    size_t len;

    if (alertmsg_item_pack(it, &packed, &len) < 0)
        return; /* over ALERTMSG_PACK_MAX */
    if (alertmsg_item_unpack(packed, len, &back, &store) != 0 ||
        strcmp(back.mailbox, it->mailbox) != 0 || strcmp(back.rules, it->rules) != 0 ||
        strcmp(back.ref, it->ref) != 0 || strcmp(back.condition, it->condition) != 0 ||
        back.score != it->score || back.at != it->at || back.unblock != it->unblock)
        abort();
    free(store);
    free(packed);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return fuzz_default_max_len(argc, argv, "-max_len=2048");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const to[] = {"ops@partner.example", "abuse@isp.example"};
    const char *f[FUZZ_FIELDS] = {"", "", "", "", "", "", "", ""};
    char *copy = malloc(size + 1), *msg, *store, clean[64];
    struct alertmsg_item items[3], back;
    struct alertmsg_in in;
    size_t i, n = 0, len, pos = 1;

    memcpy(copy, data, size);
    copy[size] = '\0';
    while (pos < size && n < FUZZ_FIELDS) {
        f[n++] = copy + pos;
        pos += strlen(copy + pos) + 1;
    }
    for (i = 0; i < 3; i++) {
        struct alertmsg_item it = {size > 0 && (data[0] & 0x10) && i == 1, f[0], f[5], f[1],
                                   f[2], f[3], f[4], (int)(size % 50) - 5,
                                   1704700800 + (int64_t)size};
        items[i] = it;
    }
    memset(&in, 0, sizeof(in));
    in.kind = (enum alertmsg_kind)(size > 0 ? 1 + data[0] % 4 : 1);
    in.from = "policyd@isp.example";
    in.to = to;
    in.nto = 2;
    in.helpdesk = f[6];
    in.partner = f[7];
    in.unblock_mail = size % 2 == 0;
    in.now = 1704700800;
    in.window = (int64_t)(size * 7);
    in.cap = 10;
    in.items = items;
    in.nitems = in.kind <= ALERTMSG_UNBLOCK ? 1 : 3;
    in.more = size % 3;
    if (in.kind == ALERTMSG_UNBLOCK)
        items[0].unblock = true;
    if (alertmsg_build(&in, &msg, &len) != 0)
        abort();
    fuzz_check_message(msg, len);
    free(msg);
    fuzz_round_trip(&items[0]);
    alertmsg_clean(clean, sizeof(clean), f[0]);
    if (strlen(clean) >= sizeof(clean) ||
        !fuzz_text_ok((const unsigned char *)clean, strlen(clean), false))
        abort();
    if (alertmsg_item_unpack((const char *)data, size, &back, &store) == 0) {
        fuzz_round_trip(&back);
        free(store);
    }
    free(copy);
    return 0;
}
