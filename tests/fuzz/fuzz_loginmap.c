/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_loginmap - libFuzzer target for the sender_login_maps reader
 * SYNOPSIS
 *      build/fuzz/fuzz_loginmap SCRATCH_DIR tests/fuzz/corpus/loginmap
 *      build/tests/replay_loginmap tests/fuzz/corpus/loginmap/...
 * DESCRIPTION
 *      Feeds the input to loginmap_parse() and checks: an error is one clean line with
 *      its line number and no map; a map's counts add up; every line that starts an
 *      entry with a login on that line has an owner afterwards; the map's first entry,
 *      when its first line has a login, is owned by that login (a duplicate never
 *      wins); owning implies having an owner. Raw lines are also tried as queries.
 * DIAGNOSTICS
 *      abort() when an invariant breaks; sanitisers report memory errors and leaks.
 * SEE ALSO
 *      policyd/loginmap.c, tests/fuzz/replay.c
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/loginmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_err(int rc, const struct pd_err *err)
{
    const char *p;

    if (rc == 0)
        return;
    if (rc < LOGINMAP_ERR_IO || rc > LOGINMAP_ERR_SYNTAX || err->msg[0] == '\0' || err->line < 1)
        abort();
    if (memchr(err->msg, '\0', sizeof(err->msg)) == NULL)
        abort();
    for (p = err->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            abort();
}

static bool fuzz_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool fuzz_sep(char c)
{
    return c == ',' || fuzz_blank(c);
}

/* fuzz_line - a line that starts an entry: its key, and its first login on that line. */
static void fuzz_line(const struct loginmap *m, const char *l, size_t n, bool *first)
{
    size_t k = 0, a, b;
    bool owner, owned;

    while (k < n && !fuzz_blank(l[k]))
        k++;
    for (a = k; a < n && fuzz_sep(l[a]); a++)
        continue;
    for (b = a; b < n && !fuzz_sep(l[b]); b++)
        continue;
    owner = loginmap_has_owner(m, l, k);
    owned = loginmap_owns(m, l, k, l + a, b - a);
    if (owned && !owner)
        abort();
    if (a < n && !owner)
        abort(); /* an entry with a login exists for this key */
    if (a < n && *first && !owned)
        abort(); /* the map's first entry is the first for its key */
    *first = false;
    (void)loginmap_owns(m, l, n, l, k); /* a query from raw bytes */
}

static void fuzz_queries(const struct loginmap *m, const char *text, size_t size)
{
    struct loginmap_stats st;
    size_t pos = 0, lines = 0;
    bool first = true;

    while (pos < size) {
        const char *l = text + pos, *nl = memchr(l, '\n', size - pos);
        size_t n = nl != NULL ? (size_t)(nl - l) : size - pos;
        size_t t = n;

        pos += n + (nl != NULL);
        lines++;
        while (t > 0 && fuzz_blank(l[t - 1]))
            t--;
        if (t > 0 && !fuzz_blank(l[0]) && l[0] != '#')
            fuzz_line(m, l, t, &first);
    }
    loginmap_stats(m, &st);
    if (st.entries > lines || st.logins < st.entries || st.duplicates > lines ||
        st.ignored > lines || (st.duplicates > 0 && st.first_duplicate_line < 1) ||
        (st.ignored > 0 && st.first_ignored_line < 1))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct loginmap *m = NULL;
    struct pd_err err;
    int rc = loginmap_parse((const char *)data, size, &m, &err);

    fuzz_check_err(rc, &err);
    if ((rc == 0) != (m != NULL))
        abort();
    if (rc == 0)
        fuzz_queries(m, (const char *)data, size);
    m = loginmap_free(m);
    return 0;
}
