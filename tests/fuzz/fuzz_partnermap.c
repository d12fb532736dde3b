/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_partnermap - libFuzzer target for the alert mailer's partner map
 * SYNOPSIS
 *      build/fuzz/fuzz_partnermap SCRATCH_DIR tests/fuzz/corpus/partnermap
 *      build/tests/replay_partnermap tests/fuzz/corpus/partnermap/...
 * DESCRIPTION
 *      Parses the input as a map file. A failure must come with a known code, a line
 *      number within the input and one line of printable ASCII. A map that parses must
 *      only ever route to what the checks accept: every entry a lookup returns has a
 *      key that is "*", a domain or "*." and a domain, and one to PARTNERMAP_RCPT_MAX
 *      addresses that partnermap_check_address accepts (so they are safe in a sendmail
 *      argv and a To: header). Lookups are made with the first word of every input line
 *      (as a domain and as a mailbox) and with fixed hostile queries. The whole input is
 *      also given to the address and domain checks: what they accept must be printable
 *      ASCII without white space that does not start with '-'.
 * DIAGNOSTICS
 *      abort() when an invariant breaks; sanitisers report memory errors and leaks.
 * SEE ALSO
 *      policyd/partnermap.c, tests/fuzz/replay.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/partnermap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_QUERY_MAX 600

static void fuzz_check_entry(const struct partnermap_entry *e)
{
    const char *k;
    size_t i;

    if (e == NULL)
        return;
    k = e->key;
    if (strcmp(k, "*") != 0) {
        if (strncmp(k, "*.", 2) == 0)
            k += 2;
        if (partnermap_check_domain(k, strlen(k)) != NULL)
            abort();
    }
    if (e->nrcpt == 0 || e->nrcpt > PARTNERMAP_RCPT_MAX)
        abort();
    for (i = 0; i < e->nrcpt; i++)
        if (partnermap_check_address(e->rcpt[i]) != NULL)
            abort();
}

/* fuzz_safe_text - what a check accepted: printable ASCII, no space, no leading '-'. */
static void fuzz_safe_text(const char *s)
{
    if (s[0] == '-')
        abort();
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == ',')
            abort();
}

static void fuzz_lookups(const struct partnermap *m, const uint8_t *data, size_t size)
{
    static const char *const fixed[] = {
        "", ".", "example.com", "EXAMPLE.COM.", "a.b.c.d.e.f.example", "x@example.com",
        "x\r\nBcc: y@example.com", "@", "a@", "a@b@c", "\xff\xfe", "*", "*.example.com", NULL};
    char q[FUZZ_QUERY_MAX + 1];
    size_t pos = 0, i;

    for (i = 0; fixed[i] != NULL; i++) {
        fuzz_check_entry(partnermap_lookup(m, fixed[i], strlen(fixed[i])));
        fuzz_check_entry(partnermap_lookup_mailbox(m, fixed[i], strlen(fixed[i])));
    }
    while (pos < size) {
        size_t n = 0;

        while (pos < size && (data[pos] == ' ' || data[pos] == '\t'))
            pos++;
        while (pos < size && data[pos] != '\n' && data[pos] != ' ' && data[pos] != '\t' &&
               n < FUZZ_QUERY_MAX)
            q[n++] = (char)data[pos++];
        q[n] = '\0';
        fuzz_check_entry(partnermap_lookup(m, q, n));
        fuzz_check_entry(partnermap_lookup_mailbox(m, q, n));
        if (n > 2 && q[0] == '*' && q[1] == '.') /* a wildcard key: one of its subdomains */
            fuzz_check_entry(partnermap_lookup(m, q + 1, n - 1));
        while (pos < size && data[pos] != '\n')
            pos++;
        pos++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct partnermap *m = NULL;
    struct pd_err err;
    char *text;
    const char *p;
    int rc = partnermap_parse((const char *)data, size, &m, &err);

    if (rc < 0) {
        if (rc < PARTNERMAP_ERR_TOO_MANY || m != NULL || err.msg[0] == '\0' || err.line < 0 ||
            (size_t)err.line > size + 1)
            abort();
        if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
            abort();
        for (p = err.msg; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                abort();
    } else {
        if (rc != 0 || m == NULL || partnermap_count(m) > size / 2 + 1)
            abort();
        fuzz_lookups(m, data, size);
        m = partnermap_free(m);
    }
    text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    if (partnermap_check_address(text) == NULL)
        fuzz_safe_text(text);
    if (partnermap_check_domain(text, strlen(text)) == NULL)
        fuzz_safe_text(text);
    free(text);
    return 0;
}
