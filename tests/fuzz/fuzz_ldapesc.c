/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_ldapesc - libFuzzer target for RFC 4515 escaping and LDAP filter templates
 * SYNOPSIS
 *      build/fuzz/fuzz_ldapesc [libFuzzer options] CORPUS...
 *      build/tests/replay_ldapesc FILE...
 * DESCRIPTION
 *      Input: a filter template, "|#|", then a mailbox (any bytes, NUL included); without
 *      the separator the whole input is the mailbox and "(mail=%s)" the template. The
 *      template is cut at its first NUL (it is a C string in the daemon). Checks:
 *        - ldapesc_filter_value: printable ASCII without '*', '(' or ')', every '\'
 *          followed by two hex digits, decoding back to the mailbox; the measuring call
 *          (NULL buffer) and a one-byte-short buffer agree on the length;
 *        - ldapesc_template_check and ldapesc_keys agree; an accepted template has
 *          between 1 and LDAPESC_KEYS_MAX keys that point inside it;
 *        - the expansion of an accepted template for the mailbox (unless the mailbox has
 *          no domain and %d is used) has exactly the template's skeleton: the same
 *          sequence of unescaped '(', ')' and '*' outside placeholders, so no mailbox
 *          changes the shape of the filter or adds a wildcard;
 *        - every key value expands raw without error (or with the no-domain error).
 *      Any violation aborts; the sanitisers catch memory and UB errors.
 * SEE ALSO
 *      ldap/ldapesc.c, tests/unit/test_ldapesc.c, tests/fuzz/corpus/ldapesc/
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldap/ldapesc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_SEP "|#|"

static bool fz_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned fz_hex(char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

static void fz_value(const char *m, size_t mlen)
{
    size_t n = 0, n2 = 0, i, o = 0;
    char *out, *back;

    if (ldapesc_filter_value(m, mlen, NULL, 0, &n) != LDAPESC_ERR_SPACE || n < mlen || n > 3 * mlen)
        abort();
    out = malloc(n + 1);
    back = malloc(mlen + 1);
    if (n > 0 && (ldapesc_filter_value(m, mlen, out, n, &n2) != LDAPESC_ERR_SPACE || n2 != n ||
                  out[n - 1] != '\0'))
        abort();
    if (ldapesc_filter_value(m, mlen, out, n + 1, &n2) != 0 || n2 != n || out[n] != '\0')
        abort();
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];

        if (c < 0x20 || c >= 0x7f || c == '*' || c == '(' || c == ')')
            abort();
        if (c == '\\') {
            if (i + 2 >= n || !fz_is_hex(out[i + 1]) || !fz_is_hex(out[i + 2]))
                abort();
            back[o++] = (char)(fz_hex(out[i + 1]) << 4 | fz_hex(out[i + 2]));
            i += 2;
        } else {
            back[o++] = (char)c;
        }
    }
    if (o != mlen || memcmp(back, m, mlen) != 0)
        abort();
    free(out);
    free(back);
}

/* fz_skeleton - the structural bytes of a filter (or template: placeholders skipped). */
static size_t fz_skeleton(const char *s, size_t len, bool tmpl, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '\\') {
            i += 2;
        } else if (tmpl && s[i] == '%') {
            i++;
        } else if (s[i] == '(' || s[i] == ')' || s[i] == '*') {
            out[o++] = s[i];
        }
    }
    return o;
}

static void fz_template(const char *tmpl, const char *m, size_t mlen)
{
    struct ldapesc_key keys[LDAPESC_KEYS_MAX];
    size_t nkeys = 0, tlen = strlen(tmpl), n = 0, i, s1, s2;
    const char *why = ldapesc_template_check(tmpl);
    char *out, *sk1, *sk2;
    int rc = ldapesc_keys(tmpl, keys, &nkeys);

    if ((why == NULL) != (rc == 0))
        abort();
    if (why != NULL) {
        if (nkeys != 0 || why[0] == '\0')
            abort();
        return;
    }
    if (nkeys < 1 || nkeys > LDAPESC_KEYS_MAX)
        abort();
    for (i = 0; i < nkeys; i++) {
        size_t vl = 0;

        if (keys[i].attr < tmpl || keys[i].value + keys[i].value_len > tmpl + tlen ||
            keys[i].attr_len == 0)
            abort();
        rc = ldapesc_expand(keys[i].value, keys[i].value_len, m, mlen, false, NULL, 0, &vl);
        if (rc != LDAPESC_ERR_SPACE && rc != LDAPESC_ERR_NO_DOMAIN)
            abort();
    }
    rc = ldapesc_expand(tmpl, tlen, m, mlen, true, NULL, 0, &n);
    if (rc == LDAPESC_ERR_NO_DOMAIN)
        return;
    if (rc != LDAPESC_ERR_SPACE)
        abort();
    out = malloc(n + 1);
    if (ldapesc_expand(tmpl, tlen, m, mlen, true, out, n + 1, &n) != 0)
        abort();
    sk1 = malloc(tlen + 1);
    sk2 = malloc(n + 1);
    s1 = fz_skeleton(tmpl, tlen, true, sk1);
    s2 = fz_skeleton(out, n, false, sk2);
    if (s1 != s2 || memcmp(sk1, sk2, s1) != 0)
        abort();
    free(sk1);
    free(sk2);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *sep = memmem(in, size, FZ_SEP, 3);
    size_t tlen = sep != NULL ? (size_t)(sep - in) : 0;
    size_t mlen = sep != NULL ? size - tlen - 3 : size;
    char *tmpl = malloc(tlen + 1), *m = malloc(mlen + 1);

    if (sep != NULL) {
        memcpy(tmpl, in, tlen);
        tmpl[tlen] = '\0';
        memcpy(m, sep + 3, mlen);
    } else {
        free(tmpl);
        tmpl = strdup("(mail=%s)");
        memcpy(m, in, mlen);
    }
    fz_value(m, mlen);
    fz_template(tmpl, m, mlen);
    free(tmpl);
    free(m);
    return 0;
}
