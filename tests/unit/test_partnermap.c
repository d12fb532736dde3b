/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_partnermap - unit tests of the alert mailer's partner map
 * DESCRIPTION
 *      Table-driven: the address and domain checks, maps that parse (comments, blank
 *      lines, CRLF, continuations, wildcards, the default) with the lookups a partner
 *      relies on (exact, nearest parent, default, case, hostile mailboxes), and maps that
 *      must fail with the right code and line (duplicates, bad keys, bad or
 *      option-looking addresses, NUL and control bytes, overlong entries, too many
 *      addresses). Every error message must be one line of printable ASCII.
 * SEE ALSO
 *      policyd/partnermap.c, tests/unit/testlib.h
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/partnermap.h"
#include "tests/unit/testlib.h"

static void check_msg(const struct pd_err *err)
{
    const char *p;

    ASSERT_TRUE(err->msg[0] != '\0');
    for (p = err->msg; *p; p++)
        ASSERT_TRUE((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

/* ---- address and domain checks ------------------------------------------------------- */

static void test_check_address(void)
{
    static const char *const good[] = {
        "a@b", "ops@partner.example", "first.last+tag@sub.example.co.uk", "o'brien@x.ie",
        "x@localhost", "abuse@xn--mller-kva.example", "a!#$%&'*+/=?^_`{|}~b@x.example",
        "UPPER@EXAMPLE.COM", NULL};
    static const char *const bad[] = {
        "", "nobody", "@example.com", "a@", "a@b@", "-oQ/tmp/x@example.com", "-f@x.example",
        "a b@example.com", "\"quoted\"@example.com", "<a@example.com>", "Name <a@x.example>",
        ".a@example.com", "a.@example.com", "a..b@example.com", "a@example..com",
        "a@.example.com", "a@example.com.", "a@-x.example", "a@x-.example", "a@ex_ample.com",
        "j\xc3\xbcrgen@example.com", "a@m\xc3\xbcller.example", "a\r\n@example.com",
        "a@example.com\r\nBcc: evil@x.example", "a,b@example.com", "a@[127.0.0.1]",
        "a@exa mple.com", NULL};
    char longlocal[80], longaddr[300], longlabel[100];
    size_t i;

    for (i = 0; good[i] != NULL; i++) {
        if (partnermap_check_address(good[i]) != NULL)
            fprintf(stderr, "good address refused: %s: %s\n", good[i],
                    partnermap_check_address(good[i]));
        ASSERT_TRUE(partnermap_check_address(good[i]) == NULL);
    }
    for (i = 0; bad[i] != NULL; i++) {
        if (partnermap_check_address(bad[i]) == NULL)
            fprintf(stderr, "bad address accepted: %s\n", bad[i]);
        ASSERT_TRUE(partnermap_check_address(bad[i]) != NULL);
    }
    memset(longlocal, 'a', 65);
    strcpy(longlocal + 65, "@x.example");
    ASSERT_TRUE(partnermap_check_address(longlocal) != NULL);
    longlocal[64] = '@', longlocal[65] = 'x', longlocal[66] = '\0';
    ASSERT_TRUE(partnermap_check_address(longlocal + 1) == NULL); /* 63 + "@x" */
    memset(longaddr, 'b', sizeof(longaddr));
    memcpy(longaddr, "a@", 2);
    for (i = 60; i < 250; i += 61)
        longaddr[i] = '.';
    longaddr[255] = '\0'; /* 255 bytes: one too many */
    ASSERT_TRUE(partnermap_check_address(longaddr) != NULL);
    memset(longlabel, 'c', sizeof(longlabel));
    memcpy(longlabel, "a@", 2);
    longlabel[2 + 64] = '\0'; /* a 64-byte label */
    ASSERT_TRUE(partnermap_check_address(longlabel) != NULL);
    longlabel[2 + 63] = '\0';
    ASSERT_TRUE(partnermap_check_address(longlabel) == NULL);
    TEST_PASS("address check");
}

static void test_check_domain(void)
{
    static const char *const good[] = {"example.com", "a", "xn--mller-kva.example", "a-b.c-d",
                                       "1.2.3.example", NULL};
    static const char *const bad[] = {"", ".", "a..b", ".a", "a.", "-a", "a-", "a_b", "*",
                                      "*.a", "a b", "m\xc3\xbcller.example", NULL};
    size_t i;

    for (i = 0; good[i] != NULL; i++)
        ASSERT_TRUE(partnermap_check_domain(good[i], strlen(good[i])) == NULL);
    for (i = 0; bad[i] != NULL; i++) {
        if (partnermap_check_domain(bad[i], strlen(bad[i])) == NULL)
            fprintf(stderr, "bad domain accepted: %s\n", bad[i]);
        ASSERT_TRUE(partnermap_check_domain(bad[i], strlen(bad[i])) != NULL);
    }
    TEST_PASS("domain check");
}

/* ---- maps that parse ----------------------------------------------------------------- */

struct lookup_case {
    const char *query; /* a domain, or a mailbox when it holds '@' */
    const char *want;  /* the entry's key, NULL for none */
    const char *rcpt0; /* its first address (when want is set) */
};

static const char map_text[] =
    "# partner map\n"
    "\n"
    "   # an indented comment\n"
    "example.com        ops@partner-a.example, noc@partner-a.example\n"
    "Example.ORG\tdesk@partner-b.example\r\n"
    "*.shop.example     shops@partner-c.example\n"
    ".example.net       nets@partner-d.example\n"
    "a.b.c.example      abc@partner-e.example\n"
    "*.b.c.example      bc@partner-f.example\n"
    "*.c.example        c@partner-g.example\n"
    "wrapped.example    one@partner-h.example,\n"
    "                   two@partner-h.example\n"
    "\t                 three@partner-h.example\n"
    "hash.example       a#b@partner-i.example\n"
    "*                  default@isp.example\n";

static const struct lookup_case lookups[] = {
    {"example.com", "example.com", "ops@partner-a.example"},
    {"EXAMPLE.COM", "example.com", "ops@partner-a.example"},
    {"example.com.", "example.com", "ops@partner-a.example"},
    {"example.org", "example.org", "desk@partner-b.example"},
    {"sub.example.com", "*", "default@isp.example"}, /* no wildcard for example.com */
    {"shop.example", "*", "default@isp.example"},    /* "*.x" is not x itself */
    {"a.shop.example", "*.shop.example", "shops@partner-c.example"},
    {"x.y.shop.example", "*.shop.example", "shops@partner-c.example"},
    {"www.example.net", "*.example.net", "nets@partner-d.example"},
    {"a.b.c.example", "a.b.c.example", "abc@partner-e.example"}, /* exact beats wildcard */
    {"x.a.b.c.example", "*.b.c.example", "bc@partner-f.example"}, /* nearest parent */
    {"x.b.c.example", "*.b.c.example", "bc@partner-f.example"},
    {"b.c.example", "*.c.example", "c@partner-g.example"},
    {"c.example", "*", "default@isp.example"},
    {"wrapped.example", "wrapped.example", "one@partner-h.example"},
    {"hash.example", "hash.example", "a#b@partner-i.example"},
    {"", "*", "default@isp.example"},
    {".", "*", "default@isp.example"},
    {"unknown.example", "*", "default@isp.example"},
    /* mailboxes: the domain after the last '@' */
    {"alice@example.com", "example.com", "ops@partner-a.example"},
    {"Alice@Example.Com", "example.com", "ops@partner-a.example"},
    {"a@b@example.org", "example.org", "desk@partner-b.example"},
    {"bob@www.shop.example", "*.shop.example", "shops@partner-c.example"},
    {"evil\r\nBcc: x@example.com", "example.com", "ops@partner-a.example"},
    {"x@example.com\r\nBcc: y@evil.example", "*", "default@isp.example"},
    {"x@exa\xc3\xa9mple.com", "*", "default@isp.example"},
    {"nodomain@", "*", "default@isp.example"},
    {NULL, NULL, NULL},
};

static const struct partnermap_entry *lookup(const struct partnermap *m, const char *q)
{
    if (strchr(q, '@') != NULL)
        return partnermap_lookup_mailbox(m, q, strlen(q));
    return partnermap_lookup(m, q, strlen(q));
}

static void test_parse_ok(void)
{
    struct partnermap *m = NULL;
    struct pd_err err;
    const struct partnermap_entry *e;
    size_t i;

    if (partnermap_parse(map_text, strlen(map_text), &m, &err) != 0)
        fprintf(stderr, "line %d: %s\n", err.line, err.msg);
    ASSERT_TRUE(m != NULL);
    ASSERT_EQ(partnermap_count(m), 10);
    for (i = 0; lookups[i].query != NULL; i++) {
        e = lookup(m, lookups[i].query);
        if (lookups[i].want == NULL) {
            ASSERT_TRUE(e == NULL);
            continue;
        }
        if (e == NULL || strcmp(e->key, lookups[i].want) != 0)
            fprintf(stderr, "lookup %s: got %s want %s\n", lookups[i].query,
                    e ? e->key : "(none)", lookups[i].want);
        ASSERT_TRUE(e != NULL);
        ASSERT_STR_EQ(e->key, lookups[i].want);
        ASSERT_STR_EQ(e->rcpt[0], lookups[i].rcpt0);
    }
    e = partnermap_lookup(m, "wrapped.example", 15);
    ASSERT_EQ(e->nrcpt, 3);
    ASSERT_STR_EQ(e->rcpt[2], "three@partner-h.example");
    e = partnermap_lookup(m, "example.com", 11);
    ASSERT_EQ(e->nrcpt, 2);
    ASSERT_STR_EQ(e->rcpt[1], "noc@partner-a.example");
    /* a query with a NUL inside, or far too long, gets the default */
    ASSERT_STR_EQ(partnermap_lookup(m, "example.com\0x", 13)->key, "*");
    {
        char big[600];

        memset(big, 'a', sizeof(big));
        memcpy(big + sizeof(big) - 12, ".example.com", 12);
        ASSERT_STR_EQ(partnermap_lookup(m, big, sizeof(big))->key, "*");
    }
    m = partnermap_free(m);
    ASSERT_TRUE(m == NULL);
    ASSERT_TRUE(partnermap_lookup(NULL, "example.com", 11) == NULL);
    ASSERT_TRUE(partnermap_lookup_mailbox(NULL, "a@example.com", 13) == NULL);
    ASSERT_EQ(partnermap_count(NULL), 0);
    TEST_PASS("map parses; lookups: exact, nearest parent, default, case, mailboxes");
}

static void test_no_default(void)
{
    static const char text[] = "example.com a@x.example\n*.example.org b@x.example\n";
    struct partnermap *m;
    struct pd_err err;

    ASSERT_EQ(partnermap_parse(text, strlen(text), &m, &err), 0);
    ASSERT_TRUE(partnermap_lookup(m, "other.example", 13) == NULL);
    ASSERT_TRUE(partnermap_lookup_mailbox(m, "nobody", 6) == NULL);
    ASSERT_TRUE(partnermap_lookup_mailbox(m, "x@example.org", 13) == NULL);
    ASSERT_STR_EQ(partnermap_lookup_mailbox(m, "x@www.example.org", 17)->key, "*.example.org");
    partnermap_free(m);
    /* empty input and comment-only input are empty maps */
    ASSERT_EQ(partnermap_parse("", 0, &m, &err), 0);
    ASSERT_EQ(partnermap_count(m), 0);
    partnermap_free(m);
    ASSERT_EQ(partnermap_parse("# nothing\n\n  \n", 14, &m, &err), 0);
    ASSERT_EQ(partnermap_count(m), 0);
    partnermap_free(m);
    /* no final newline */
    ASSERT_EQ(partnermap_parse("x.example a@b.example", 21, &m, &err), 0);
    ASSERT_EQ(partnermap_count(m), 1);
    partnermap_free(m);
    TEST_PASS("map without a default; empty maps; no final newline");
}

/* ---- maps that fail ------------------------------------------------------------------ */

struct bad_case {
    const char *name;
    const char *text;
    size_t len; /* 0: strlen */
    int code;
    int line;
};

static const struct bad_case bad[] = {
    {"no value", "example.com\n", 0, PARTNERMAP_ERR_ADDRESS, 1},
    {"only separators", "example.com , ,\n", 0, PARTNERMAP_ERR_ADDRESS, 1},
    {"space in key", "exa mple.com a@b.example\n", 0, PARTNERMAP_ERR_ADDRESS, 1},
    {"underscore key", "ok.example a@b.example\nex_ample.com a@b.example\n", 0,
     PARTNERMAP_ERR_DOMAIN, 2},
    {"double wildcard", "*.*.example.com a@b.example\n", 0, PARTNERMAP_ERR_DOMAIN, 1},
    {"star inside", "a*.example.com a@b.example\n", 0, PARTNERMAP_ERR_DOMAIN, 1},
    {"lone dot", ". a@b.example\n", 0, PARTNERMAP_ERR_DOMAIN, 1},
    {"trailing dot key", "example.com. a@b.example\n", 0, PARTNERMAP_ERR_DOMAIN, 1},
    {"non-ascii key", "m\xc3\xbcller.example a@b.example\n", 0, PARTNERMAP_ERR_DOMAIN, 1},
    {"leading hyphen", "-x.example a@b.example\n", 0, PARTNERMAP_ERR_DOMAIN, 1},
    {"duplicate key", "example.com a@b.example\n# c\nEXAMPLE.com c@d.example\n", 0,
     PARTNERMAP_ERR_DUPLICATE, 3},
    {"duplicate key, reversed order", "z.example a@b.example\na.example c@d.example\n"
     "z.example e@f.example\n", 0, PARTNERMAP_ERR_DUPLICATE, 3},
    {"duplicate wildcard", "*.example.com a@b.example\n.example.com c@d.example\n", 0,
     PARTNERMAP_ERR_DUPLICATE, 2},
    {"duplicate default", "* a@b.example\n* c@d.example\n", 0, PARTNERMAP_ERR_DUPLICATE, 2},
    {"duplicate address", "example.com a@b.example, A@B.EXAMPLE\n", 0,
     PARTNERMAP_ERR_DUPLICATE, 1},
    {"option-looking address", "example.com -oQ/tmp@x.example\n", 0, PARTNERMAP_ERR_ADDRESS, 1},
    {"quoted local part", "example.com \"a b\"@x.example\n", 0, PARTNERMAP_ERR_ADDRESS, 1},
    {"angle brackets", "example.com <a@x.example>\n", 0, PARTNERMAP_ERR_ADDRESS, 1},
    {"display name", "example.com Ops <a@x.example>\n", 0, PARTNERMAP_ERR_ADDRESS, 1},
    {"trailing comment", "example.com a@x.example # partner A\n", 0, PARTNERMAP_ERR_ADDRESS,
     1},
    {"non-ascii address", "example.com j\xc3\xbcrgen@x.example\n", 0, PARTNERMAP_ERR_ADDRESS, 1},
    {"bad address domain", "example.com a@x..example\n", 0, PARTNERMAP_ERR_ADDRESS, 1},
    {"header injection", "example.com a@x.example\r\nBcc: evil@y.example\n", 0,
     PARTNERMAP_ERR_DOMAIN, 2},
    {"NUL byte", "example.com a@x.example\0b@y.example\n", 37, PARTNERMAP_ERR_SYNTAX, 1},
    {"control byte", "ok.example a@b.example\nexample.com a@x.\x01example\n", 0,
     PARTNERMAP_ERR_SYNTAX, 2},
    {"escape sequence", "example.com \x1b[31ma@x.example\n", 0, PARTNERMAP_ERR_SYNTAX, 1},
    {"stray continuation", "   a@x.example\n", 0, PARTNERMAP_ERR_SYNTAX, 1},
    {"continuation after comment only", "# c\n\ta@x.example\n", 0, PARTNERMAP_ERR_SYNTAX, 2},
    {NULL, NULL, 0, 0, 0},
};

static void test_parse_bad(void)
{
    struct partnermap *m;
    struct pd_err err;
    size_t i;

    for (i = 0; bad[i].name != NULL; i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
        int rc;

        m = (struct partnermap *)&err; /* must be reset to NULL */
        rc = partnermap_parse(bad[i].text, len, &m, &err);
        if (rc != bad[i].code || err.line != bad[i].line)
            fprintf(stderr, "%s: rc %d line %d (%s), want %d line %d\n", bad[i].name, rc,
                    err.line, err.msg, bad[i].code, bad[i].line);
        ASSERT_EQ(rc, bad[i].code);
        ASSERT_EQ(err.line, bad[i].line);
        ASSERT_TRUE(m == NULL);
        check_msg(&err);
        ASSERT_TRUE(strcmp(partnermap_strerror(rc), "unknown error") != 0);
        TEST_PASS(bad[i].name);
    }
}

static void test_limits(void)
{
    char buf[PARTNERMAP_LINE_MAX * 2];
    struct partnermap *m;
    struct pd_err err;
    size_t n, i;

    /* PARTNERMAP_RCPT_MAX addresses pass; one more does not */
    n = (size_t)snprintf(buf, sizeof(buf), "example.com");
    for (i = 0; i < PARTNERMAP_RCPT_MAX; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, " a%zu@x.example", i);
    ASSERT_EQ(partnermap_parse(buf, n, &m, &err), 0);
    ASSERT_EQ(partnermap_lookup(m, "example.com", 11)->nrcpt, PARTNERMAP_RCPT_MAX);
    partnermap_free(m);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",last@x.example");
    ASSERT_EQ(partnermap_parse(buf, n, &m, &err), PARTNERMAP_ERR_TOO_MANY);
    check_msg(&err);
    /* an entry whose continuations pass PARTNERMAP_LINE_MAX */
    n = (size_t)snprintf(buf, sizeof(buf), "example.com a@x.example\n");
    while (n < PARTNERMAP_LINE_MAX + 100)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s\n",
                              "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    ASSERT_EQ(partnermap_parse(buf, n, &m, &err), PARTNERMAP_ERR_SYNTAX);
    ASSERT_EQ(err.line, 1);
    check_msg(&err);
    /* one physical line over the limit */
    memset(buf, 'a', PARTNERMAP_LINE_MAX + 10);
    memcpy(buf, "example.com ", 12);
    ASSERT_EQ(partnermap_parse(buf, PARTNERMAP_LINE_MAX + 10, &m, &err), PARTNERMAP_ERR_SYNTAX);
    check_msg(&err);
    TEST_PASS("limits: addresses per entry, entry length");
}

/* A large map: lookups stay exact (sorted, binary search) and duplicates are found. */
static void test_large(void)
{
    size_t cap = 20000 * 48, n = 0, i;
    char *buf = malloc(cap), q[64];
    struct partnermap *m;
    struct pd_err err;

    for (i = 0; i < 20000; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%scust%zu.example p%zu@partner.example\n",
                              i % 3 == 0 ? "*." : "", i, i % 97);
    ASSERT_EQ(partnermap_parse(buf, n, &m, &err), 0);
    ASSERT_EQ(partnermap_count(m), 20000);
    for (i = 0; i < 20000; i += 7) {
        char want[64];

        snprintf(q, sizeof(q), "user@%scust%zu.example", i % 3 == 0 ? "www." : "", i);
        snprintf(want, sizeof(want), "p%zu@partner.example", i % 97);
        ASSERT_STR_EQ(partnermap_lookup_mailbox(m, q, strlen(q))->rcpt[0], want);
    }
    ASSERT_TRUE(partnermap_lookup(m, "cust0.example", 13) == NULL); /* only *.cust0 */
    partnermap_free(m);
    n += (size_t)snprintf(buf + n, cap - n, "CUST1.example x@y.example\n");
    ASSERT_EQ(partnermap_parse(buf, n, &m, &err), PARTNERMAP_ERR_DUPLICATE);
    ASSERT_EQ(err.line, 20001);
    free(buf);
    TEST_PASS("20000 entries: lookups and a late duplicate");
}

int main(void)
{
    test_check_address();
    test_check_domain();
    test_parse_ok();
    test_no_default();
    test_parse_bad();
    test_limits();
    test_large();
    TEST_SUMMARY();
    return 0;
}
