/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_overrides - unit tests of the overrides file and domain-settings parser
 * SYNOPSIS
 *      build/tests/test_overrides     (run from the repository root)
 * DESCRIPTION
 *      Table-driven cases: valid files (each checked through overrides_format(), the
 *      canonical text of an entry's settings), invalid files with the error code, line
 *      and message, adversarial input (NUL bytes, CR, overlong lines and keys, 10,000
 *      and 100,000 entries, duplicate keys in every spelling), times, the compact domain
 *      text round trip, the ovr hash fields (checked against the HMGET in
 *      ratelimit/lua/track.lua itself), applying a domain to a track call, lookups.
 * DIAGNOSTICS
 *      Aborts on the first failed assertion; prints "N passed, 0 failed" at the end.
 * SEE ALSO
 *      ratelimit/overrides.c, tests/unit/testlib.h
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit/overrides.h"
#include "ratelimit/signals.h"
#include "tests/unit/testlib.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ----------------------------------------------------------------------- */

static bool msg_is_clean(const char *msg)
{
    for (; *msg; msg++)
        if ((unsigned char)*msg < 0x20 || (unsigned char)*msg >= 0x7f)
            return false;
    return true;
}

static int parse(const char *text, struct overrides **o, struct pd_err *err)
{
    return overrides_parse(text, strlen(text), o, err);
}

/* formatted - the canonical text of key's settings in o, "-" when absent. */
static const char *formatted(const struct overrides *o, const char *key, char *buf, size_t len)
{
    const struct overrides_entry *e = overrides_find(o, key, strlen(key));

    if (e == NULL)
        return "-";
    ASSERT_TRUE(overrides_format(&e->s, buf, len) >= 0);
    return buf;
}

/* ---- valid files ------------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *input;
    const char *key;
    const char *want; /* overrides_format() of its settings, "-" when not found */
    size_t n;         /* entries */
} valid_cases[] = {
    {"full mailbox",
     "alice@example.com  rcpt_hour=1000 rcpt_day=5000 msg_hour=300 msg_day=2000 exempt=yes "
     "profile=bulk\n",
     "alice@example.com",
     "exempt=yes profile=bulk rcpt_hour=1000 rcpt_day=5000 msg_hour=300 msg_day=2000", 1},
    {"domain", "example.com        rcpt_hour=2000 profile=outreach\n", "example.com",
     "profile=outreach rcpt_hour=2000", 1},
    {"@domain is a domain", "@Example.COM rcpt_day=7\n", "example.com", "rcpt_day=7", 1},
    {"domain is not the mailbox", "example.com rcpt_day=7\n", "a@example.com", "-", 1},
    {"mailbox lower-cased", "Alice@Example.COM exempt=no\n", "alice@example.com", "exempt=no", 1},
    {"lookup ignores case", "alice@example.com exempt=no\n", "ALICE@example.Com", "exempt=no", 1},
    {"raise in unix seconds", "bob@example.com    raise_rcpt_hour=5000 raise_until=1796083200\n",
     "bob@example.com", "raise_until=2026-12-01T00:00:00Z raise_rcpt_hour=5000", 1},
    {"raise in ISO", "bob@example.com raise_rcpt_hour=5000 raise_until=2026-12-01T00:00:00Z",
     "bob@example.com", "raise_until=2026-12-01T00:00:00Z raise_rcpt_hour=5000", 1},
    {"ISO with offset", "b@x raise_msg_day=1 raise_until=2026-12-01T01:30:00+01:30\n", "b@x",
     "raise_until=2026-12-01T00:00:00Z raise_msg_day=1", 1},
    {"ISO lower case t and z", "b@x raise_msg_day=1 raise_until=2028-02-29t12:30:15z", "b@x",
     "raise_until=2028-02-29T12:30:15Z raise_msg_day=1", 1},
    {"every raise",
     "b@x raise_until=0 raise_rcpt_hour=1 raise_rcpt_day=2 raise_msg_hour=3 "
     "raise_msg_day=4",
     "b@x",
     "raise_until=1970-01-01T00:00:00Z raise_rcpt_hour=1 raise_rcpt_day=2 raise_msg_hour=3 "
     "raise_msg_day=4",
     1},
    {"latest time", "b@x raise_msg_day=1 raise_until=9999-12-31T23:59:59Z", "b@x",
     "raise_until=9999-12-31T23:59:59Z raise_msg_day=1", 1},
    {"zero and bounds", "x.org rcpt_hour=0 rcpt_day=10000000 msg_hour=007", "x.org",
     "rcpt_hour=0 rcpt_day=10000000 msg_hour=7", 1},
    {"profile none", "x.org profile=none", "x.org", "profile=none", 1},
    {"profile case", "x.org profile=Traveller exempt=YES", "x.org", "exempt=yes profile=traveller",
     1},
    {"continuation lines", "a@x rcpt_hour=1\n  rcpt_day=2\n\tmsg_hour=3\nb@x msg_day=4\n", "a@x",
     "rcpt_hour=1 rcpt_day=2 msg_hour=3", 2},
    {"key alone then continuation", "a@x\n    exempt=yes\n", "a@x", "exempt=yes", 1},
    {"comment and blank between continuations", "a@x rcpt_hour=1\n# note\n\n   \n  rcpt_day=2\n",
     "a@x", "rcpt_hour=1 rcpt_day=2", 1},
    {"comments and blank lines",
     "# overrides\n\n   # indented comment\n\t\nsys.example "
     "profile=system\n",
     "sys.example", "profile=system", 1},
    {"CRLF", "a@x rcpt_hour=1\r\nb@x rcpt_hour=2\r\n", "b@x", "rcpt_hour=2", 2},
    {"CR is white space", "a@x\rrcpt_hour=1\r\r", "a@x", "rcpt_hour=1", 1},
    {"tabs and runs of blanks", "a@x\t\t rcpt_hour=1 \t  msg_day=2   ", "a@x",
     "rcpt_hour=1 msg_day=2", 1},
    {"no newline at end", "a@x rcpt_hour=1", "a@x", "rcpt_hour=1", 1},
    {"empty file", "", "a@x", "-", 0},
    {"only comments", "# nothing\n   # here\n\n", "a@x", "-", 0},
    {"utf-8 key", "j\xc3\xb8rn@example.no exempt=yes", "J\xc3\xb8rn@example.no", "exempt=yes", 1},
    {"multiple @ is a mailbox", "a@b@x exempt=yes", "a@b@x", "exempt=yes", 1},
};

static void test_valid(void)
{
    size_t i;
    char buf[OVERRIDES_TEXT_MAX];

    for (i = 0; i < N_OF(valid_cases); i++) {
        struct overrides *o = NULL;
        struct pd_err err;
        int rc = parse(valid_cases[i].input, &o, &err);

        if (rc != 0) {
            fprintf(stderr, "%s: rc %d line %d: %s\n", valid_cases[i].name, rc, err.line, err.msg);
            abort();
        }
        ASSERT_STR_EQ(formatted(o, valid_cases[i].key, buf, sizeof(buf)), valid_cases[i].want);
        ASSERT_EQ(overrides_count(o), valid_cases[i].n);
        o = overrides_free(o);
        ASSERT_TRUE(o == NULL);
        TEST_PASS(valid_cases[i].name);
    }
}

/* ---- invalid files ----------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *input;
    int rc;
    int line;
    const char *msg; /* a substring of the message */
} invalid_cases[] = {
    {"key without settings", "example.com\n", OVERRIDES_ERR_VALUE, 1, "no settings for"},
    {"key with blanks only", "a@x rcpt_hour=1\nexample.com   \t\n", OVERRIDES_ERR_VALUE, 2,
     "no settings for \"example.com\""},
    {"missing =", "a@x rcpt_hour 5", OVERRIDES_ERR_SYNTAX, 1, "missing '=' in \"rcpt_hour\""},
    {"trailing comment is a token", "a@x rcpt_hour=5 # why", OVERRIDES_ERR_SYNTAX, 1,
     "missing '=' in \"#\""},
    {"settings before the key", "rcpt_hour=5 exempt=yes", OVERRIDES_ERR_KEY, 1, "'='"},
    {"unknown setting", "a@x rcpt_hours=5", OVERRIDES_ERR_VALUE, 1,
     "unknown setting \"rcpt_hours\""},
    {"hash field name is no setting", "a@x lim_rcpt_hour=5", OVERRIDES_ERR_VALUE, 1,
     "unknown setting"},
    {"setting case matters", "a@x RCPT_HOUR=5", OVERRIDES_ERR_VALUE, 1, "unknown setting"},
    {"setting twice", "a@x rcpt_hour=5 rcpt_hour=6", OVERRIDES_ERR_DUPLICATE, 1,
     "rcpt_hour given twice"},
    {"setting twice over lines", "a@x rcpt_hour=5\n  exempt=no\n  exempt=no",
     OVERRIDES_ERR_DUPLICATE, 1, "exempt given twice"},
    {"empty value", "a@x rcpt_hour=", OVERRIDES_ERR_VALUE, 1, "bad value for rcpt_hour: \"\""},
    {"negative", "a@x rcpt_hour=-1", OVERRIDES_ERR_VALUE, 1, "expected an integer 0..10000000"},
    {"plus sign", "a@x rcpt_hour=+1", OVERRIDES_ERR_VALUE, 1, "bad value for rcpt_hour"},
    {"over the maximum", "a@x rcpt_day=10000001", OVERRIDES_ERR_VALUE, 1, "rcpt_day"},
    {"huge", "a@x msg_day=99999999999999999999999", OVERRIDES_ERR_VALUE, 1, "msg_day"},
    {"hex", "a@x msg_hour=0x10", OVERRIDES_ERR_VALUE, 1, "msg_hour"},
    {"exponent", "a@x msg_hour=1e3", OVERRIDES_ERR_VALUE, 1, "msg_hour"},
    {"exempt maybe", "a@x exempt=maybe", OVERRIDES_ERR_VALUE, 1, "expected yes or no"},
    {"exempt 1", "a@x exempt=1", OVERRIDES_ERR_VALUE, 1, "expected yes or no"},
    {"unknown profile", "a@x profile=spammer", OVERRIDES_ERR_VALUE, 1,
     "none, bulk, outreach, system or traveller"},
    {"profile unknown is not a name", "a@x profile=unknown", OVERRIDES_ERR_VALUE, 1, "profile"},
    {"empty profile", "a@x profile=", OVERRIDES_ERR_VALUE, 1, "profile"},
    {"raise without until", "a@x raise_rcpt_hour=5", OVERRIDES_ERR_VALUE, 1, "needs raise_until"},
    {"until without raise", "a@x raise_until=1796083200 rcpt_hour=5", OVERRIDES_ERR_VALUE, 1,
     "raise_until needs a raise_* cap"},
    {"month 13", "a@x raise_msg_day=1 raise_until=2026-13-01T00:00:00Z", OVERRIDES_ERR_VALUE, 1,
     "unix seconds or YYYY-MM-DDTHH:MM:SSZ"},
    {"february 30", "a@x raise_msg_day=1 raise_until=2028-02-30T00:00:00Z", OVERRIDES_ERR_VALUE, 1,
     "raise_until"},
    {"no leap day", "a@x raise_msg_day=1 raise_until=2027-02-29T00:00:00Z", OVERRIDES_ERR_VALUE, 1,
     "raise_until"},
    {"hour 24", "a@x raise_msg_day=1 raise_until=2026-12-01T24:00:00Z", OVERRIDES_ERR_VALUE, 1,
     "raise_until"},
    {"no zone", "a@x raise_msg_day=1 raise_until=2026-12-01T00:00:00", OVERRIDES_ERR_VALUE, 1,
     "raise_until"},
    {"date only", "a@x raise_msg_day=1 raise_until=2026-12-01", OVERRIDES_ERR_VALUE, 1,
     "raise_until"},
    {"bad offset", "a@x raise_msg_day=1 raise_until=2026-12-01T00:00:00+24:00", OVERRIDES_ERR_VALUE,
     1, "raise_until"},
    {"before 1970", "a@x raise_msg_day=1 raise_until=1969-12-31T23:59:59Z", OVERRIDES_ERR_VALUE, 1,
     "raise_until"},
    {"offset past the epoch", "a@x raise_msg_day=1 raise_until=1970-01-01T00:00:00+00:01",
     OVERRIDES_ERR_VALUE, 1, "raise_until"},
    {"offset past the end", "a@x raise_msg_day=1 raise_until=9999-12-31T23:59:59-00:01",
     OVERRIDES_ERR_VALUE, 1, "raise_until"},
    {"seconds past the end", "a@x raise_msg_day=1 raise_until=253402300800", OVERRIDES_ERR_VALUE, 1,
     "raise_until"},
    {"13 digits", "a@x raise_msg_day=1 raise_until=1000000000000", OVERRIDES_ERR_VALUE, 1,
     "raise_until"},
    {"brace in key", "a{b}@x exempt=yes", OVERRIDES_ERR_KEY, 1, "'{', '}'"},
    {"closing brace in domain", "x}.org exempt=yes", OVERRIDES_ERR_KEY, 1, "bad key"},
    {"control byte in key", "a\001@x exempt=yes", OVERRIDES_ERR_KEY, 1, "control byte"},
    {"DEL in key", "a\177@x exempt=yes", OVERRIDES_ERR_KEY, 1, "bad key \"a?@x\""},
    {"vertical tab splits", "a@x\vexempt=yes\nb\f@x exempt=no", OVERRIDES_ERR_SYNTAX, 2,
     "missing '='"},
    {"control byte in settings", "a@x exempt=yes\002", OVERRIDES_ERR_SYNTAX, 1,
     "control byte in settings"},
    {"mailbox without domain", "alice@ exempt=yes", OVERRIDES_ERR_KEY, 1,
     "needs a local part and a domain"},
    {"bare @", "@ exempt=yes", OVERRIDES_ERR_KEY, 1, "empty key"},
    {"@@domain", "@@x exempt=yes", OVERRIDES_ERR_KEY, 1, "local part"},
    {"@a@b", "@a@b exempt=yes", OVERRIDES_ERR_KEY, 1, "local part"},
    {"duplicate key", "a@x exempt=yes\nb@x exempt=no\na@x exempt=no\n", OVERRIDES_ERR_DUPLICATE, 3,
     "duplicate entry for a@x (first at line 1)"},
    {"duplicate key in other case", "x.org exempt=yes\n# c\nX.ORG exempt=no\n",
     OVERRIDES_ERR_DUPLICATE, 3, "first at line 1"},
    {"duplicate domain as @domain", "x.org exempt=yes\n@x.org exempt=no\n", OVERRIDES_ERR_DUPLICATE,
     2, "duplicate entry for x.org"},
    {"leading blank first", "  a@x exempt=yes", OVERRIDES_ERR_SYNTAX, 1, "continues no entry"},
    {"leading blank after comment", "# c\n\ta@x exempt=yes", OVERRIDES_ERR_SYNTAX, 2,
     "continues no entry"},
    {"error in continuation has the entry's line", "a@x rcpt_hour=1\n\n  bogus=1\n",
     OVERRIDES_ERR_VALUE, 1, "unknown setting \"bogus\""},
    {"first error wins", "a@x rcpt_hour=x\nb@x nope=1", OVERRIDES_ERR_VALUE, 1, "rcpt_hour"},
    {"error at end without newline", "a@x rcpt_hour=1\nb@x rcpt_hour=x", OVERRIDES_ERR_VALUE, 2,
     "rcpt_hour"},
    {"quoted value is clean", "a@x profile=\xff\xfe\033[31m", OVERRIDES_ERR_SYNTAX, 1,
     "control byte"},
    {"high bytes quoted", "a@x profile=\xff\xfe", OVERRIDES_ERR_VALUE, 1,
     "bad value for profile: \"??\""},
};

static void test_invalid(void)
{
    size_t i;

    for (i = 0; i < N_OF(invalid_cases); i++) {
        struct overrides *o = (struct overrides *)&i; /* must come back NULL */
        struct pd_err err;
        int rc = parse(invalid_cases[i].input, &o, &err);

        if (rc != invalid_cases[i].rc || err.line != invalid_cases[i].line ||
            strstr(err.msg, invalid_cases[i].msg) == NULL) {
            fprintf(stderr, "%s: rc %d line %d msg \"%s\"\n", invalid_cases[i].name, rc, err.line,
                    err.msg);
            abort();
        }
        ASSERT_TRUE(o == NULL);
        ASSERT_TRUE(msg_is_clean(err.msg));
        ASSERT_TRUE(strlen(overrides_strerror(rc)) > 0);
        TEST_PASS(invalid_cases[i].name);
    }
}

/* ---- adversarial sizes and bytes --------------------------------------------------- */

static void expect_error(const char *text, size_t len, int rc, int line, const char *msg)
{
    struct overrides *o = NULL;
    struct pd_err err;
    int got = overrides_parse(text, len, &o, &err);

    if (got != rc || err.line != line || strstr(err.msg, msg) == NULL) {
        fprintf(stderr, "rc %d line %d msg \"%s\"\n", got, err.line, err.msg);
        abort();
    }
    ASSERT_TRUE(o == NULL);
    ASSERT_TRUE(msg_is_clean(err.msg));
}

static void test_nul(void)
{
    static const char nul_key[] = "a@x exempt=yes\nb\0@x exempt=no\n";
    static const char nul_comment[] = "# a comment \0 with NUL\na@x exempt=yes\n";
    static const char nul_value[] = "a@x\n exempt=y\0es\n";

    expect_error(nul_key, sizeof(nul_key) - 1, OVERRIDES_ERR_SYNTAX, 2, "NUL byte in line");
    TEST_PASS("NUL in a key");
    expect_error(nul_comment, sizeof(nul_comment) - 1, OVERRIDES_ERR_SYNTAX, 1, "NUL byte");
    TEST_PASS("NUL in a comment");
    expect_error(nul_value, sizeof(nul_value) - 1, OVERRIDES_ERR_SYNTAX, 2, "NUL byte");
    TEST_PASS("NUL in a continuation");
    expect_error("\0", 1, OVERRIDES_ERR_SYNTAX, 1, "NUL byte");
    TEST_PASS("a lone NUL");
}

static void test_long(void)
{
    size_t n = 2 * OVERRIDES_LINE_MAX + 10, i;
    char *big = malloc(n + 64);
    struct overrides *o = NULL;
    struct pd_err err;

    /* a key of exactly OVERRIDES_KEY_MAX bytes is fine, one more is not */
    memset(big, 'k', OVERRIDES_KEY_MAX);
    strcpy(big + OVERRIDES_KEY_MAX, " exempt=yes");
    ASSERT_EQ(parse(big, &o, &err), 0);
    ASSERT_EQ(overrides_find(o, big, OVERRIDES_KEY_MAX)->key_len, OVERRIDES_KEY_MAX);
    o = overrides_free(o);
    memset(big, 'k', OVERRIDES_KEY_MAX + 1);
    strcpy(big + OVERRIDES_KEY_MAX + 1, " exempt=yes");
    expect_error(big, strlen(big), OVERRIDES_ERR_KEY, 1, "key longer than 1024 bytes");
    TEST_PASS("key length limit");

    /* one physical line over the entry limit */
    memcpy(big, "a@x ", 4);
    for (i = 4; i + 12 < n; i += 12)
        memcpy(big + i, "exempt=yes  ", 12);
    expect_error(big, i, OVERRIDES_ERR_SYNTAX, 1, "entry longer than 4096 bytes");
    TEST_PASS("overlong line");

    /* continuation lines that add up past the limit report the entry's first line */
    memcpy(big, "# c\na@x exempt=yes\n", 19);
    for (i = 19; i + 44 < n; i += 44)
        memcpy(big + i, "   xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", 44);
    expect_error(big, i, OVERRIDES_ERR_SYNTAX, 2, "entry longer than");
    TEST_PASS("overlong continuation");

    /* an overlong comment is ignored */
    big[0] = '#';
    memset(big + 1, 'c', n - 1);
    memcpy(big + n - 15, "\na@x exempt=yes", 15);
    ASSERT_EQ(overrides_parse(big, n, &o, &err), 0);
    ASSERT_EQ(overrides_count(o), 1);
    o = overrides_free(o);
    TEST_PASS("overlong comment");
    free(big);
}

/* many - n mailboxes and n domains; every one is found, one miss is not. */
static void many(size_t n)
{
    size_t cap = n * 80 + 1, len = 0, i;
    char *text = malloc(cap), key[64];
    struct overrides *o = NULL;
    struct pd_err err;

    for (i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "user%zu@Example.com rcpt_hour=%zu\nd%zu.example profile=bulk\n", i,
                                i % 1000, i);
    ASSERT_EQ(overrides_parse(text, len, &o, &err), 0);
    ASSERT_EQ(overrides_count(o), 2 * n);
    for (i = 0; i < n; i++) {
        const struct overrides_entry *e;

        snprintf(key, sizeof(key), "USER%zu@example.com", i);
        e = overrides_find(o, key, strlen(key));
        ASSERT_TRUE(e != NULL && e->is_mailbox);
        ASSERT_EQ(e->s.cap[OVERRIDES_RCPT_HOUR], i % 1000);
        ASSERT_EQ(e->line, (int)(2 * i + 1));
        snprintf(key, sizeof(key), "d%zu.example", i);
        e = overrides_find(o, key, strlen(key));
        ASSERT_TRUE(e != NULL && !e->is_mailbox && e->s.profile == RULES_PROF_BULK);
    }
    ASSERT_TRUE(overrides_find(o, "user0@example.co", 16) == NULL);
    ASSERT_TRUE(overrides_at(o, 2 * n) == NULL);
    o = overrides_free(o);
    /* the same text once more: the first duplicate is reported */
    memcpy(text + len, text, 40);
    len += (size_t)(strchr(text, '\n') - text) + 1;
    expect_error(text, len, OVERRIDES_ERR_DUPLICATE, (int)(2 * n + 1), "first at line 1");
    free(text);
}

static void test_many(void)
{
    many(10000);
    TEST_PASS("10k mailboxes and 10k domains");
    many(100000);
    TEST_PASS("100k mailboxes and 100k domains");
}

/* ---- the table without a file ------------------------------------------------------ */

static void test_table(void)
{
    struct overrides *o = overrides_new();
    struct overrides_settings s, bad;
    struct pd_err err;

    ASSERT_TRUE(overrides_find(NULL, "x", 1) == NULL);
    ASSERT_EQ(overrides_count(NULL), 0);
    ASSERT_TRUE(overrides_at(NULL, 0) == NULL);
    ASSERT_TRUE(overrides_find(o, "x", 1) == NULL);
    ASSERT_TRUE(overrides_find(o, "", 0) == NULL);
    ASSERT_EQ(overrides_parse_settings("exempt=yes", 10, &s, &err), 0);
    ASSERT_EQ(overrides_add(o, "X.org", 5, &s, 0, &err), 0);
    ASSERT_EQ(overrides_add(o, "@x.ORG", 6, &s, 7, &err), OVERRIDES_ERR_DUPLICATE);
    ASSERT_EQ(err.line, 7);
    ASSERT_TRUE(strstr(err.msg, "first at line 0") != NULL);
    ASSERT_EQ(overrides_add(o, "a b", 3, &s, 3, &err), OVERRIDES_ERR_KEY);
    ASSERT_EQ(err.line, 3);
    memset(&bad, 0, sizeof(bad));
    ASSERT_EQ(overrides_add(o, "y.org", 5, &bad, 4, &err), OVERRIDES_ERR_VALUE);
    ASSERT_TRUE(strstr(err.msg, "no settings") != NULL && err.line == 4);
    bad = s;
    bad.cap[0] = -1;
    bad.has |= OVERRIDES_HAS_CAP(0);
    ASSERT_EQ(overrides_add(o, "y.org", 5, &bad, 4, &err), OVERRIDES_ERR_VALUE);
    bad = s;
    bad.profile = RULES_PROF_UNKNOWN;
    ASSERT_EQ(overrides_add(o, "y.org", 5, &bad, 4, &err), OVERRIDES_ERR_VALUE);
    ASSERT_EQ(overrides_count(o), 1);
    ASSERT_STR_EQ(overrides_at(o, 0)->key, "x.org");
    ASSERT_TRUE(overrides_find(o, "x.OrG", 5) == overrides_at(o, 0));
    o = overrides_free(o);
    ASSERT_TRUE(overrides_free(NULL) == NULL);
    TEST_PASS("table without a file");
}

static const struct {
    const char *in;
    int rc;
    const char *out; /* the key as stored */
    bool mailbox;
} key_cases[] = {
    {"Example.COM", 0, "example.com", false},
    {"@Example.com", 0, "example.com", false},
    {"A@B", 0, "a@b", true},
    {"a+tag@x.org", 0, "a+tag@x.org", true},
    {"", OVERRIDES_ERR_KEY, NULL, false},
    {"@", OVERRIDES_ERR_KEY, NULL, false},
    {"a@", OVERRIDES_ERR_KEY, NULL, false},
    {"@a@", OVERRIDES_ERR_KEY, NULL, false},
    {"a =b", OVERRIDES_ERR_KEY, NULL, false},
    {"a{b", OVERRIDES_ERR_KEY, NULL, false},
    {"a\nb", OVERRIDES_ERR_KEY, NULL, false},
    {"a\tb", OVERRIDES_ERR_KEY, NULL, false},
};

static void test_keys(void)
{
    char out[OVERRIDES_KEY_MAX + 1];
    struct pd_err err;
    size_t i, len;
    bool mb;

    for (i = 0; i < N_OF(key_cases); i++) {
        int rc = overrides_key(key_cases[i].in, strlen(key_cases[i].in), out, sizeof(out), &len,
                               &mb, &err);

        ASSERT_EQ(rc, key_cases[i].rc);
        if (rc == 0) {
            ASSERT_STR_EQ(out, key_cases[i].out);
            ASSERT_EQ(len, strlen(key_cases[i].out));
            ASSERT_EQ(mb, key_cases[i].mailbox);
        } else {
            ASSERT_TRUE(msg_is_clean(err.msg));
        }
    }
    ASSERT_EQ(overrides_key("abc", 3, out, 3, &len, &mb, &err), OVERRIDES_ERR_SPACE);
    TEST_PASS("keys");
}

/* ---- the ovr hash ------------------------------------------------------------------ */

/* track_hmget_fields - the field names of effective_limits()' HMGET in track.lua. */
static size_t track_hmget_fields(char names[][32], size_t max)
{
    FILE *f = fopen("ratelimit/lua/track.lua", "r");
    static const char anchor[] = "redis.call('HMGET', key, ";
    char *text = calloc(1, 1 << 20), *p, *end;
    size_t n = 0;

    ASSERT_TRUE(f != NULL && text != NULL);
    (void)!fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    p = strstr(strstr(text, "local function effective_limits"), anchor);
    ASSERT_TRUE(p != NULL);
    end = strchr(p, ')');
    for (p += sizeof(anchor) - 1; p < end && n < max; p++) {
        char *q;

        if (*p != '\'')
            continue;
        q = strchr(p + 1, '\'');
        ASSERT_TRUE(q != NULL && q - p - 1 < 32);
        memcpy(names[n], p + 1, (size_t)(q - p - 1));
        names[n++][q - p - 1] = '\0';
        p = q;
    }
    free(text);
    return n;
}

static void test_hash(void)
{
    static const char full[] = "a@x rcpt_hour=1000 rcpt_day=5000 msg_hour=300 msg_day=2000 "
                               "exempt=yes profile=bulk raise_until=2026-12-01T00:00:00Z "
                               "raise_rcpt_hour=5000 raise_rcpt_day=6000 raise_msg_hour=700 "
                               "raise_msg_day=8000";
    static const char *const want[][2] = {
        {"exempt", "1"},
        {"profile", "bulk"},
        {"lim_rcpt_hour", "1000"},
        {"lim_rcpt_day", "5000"},
        {"lim_msg_hour", "300"},
        {"lim_msg_day", "2000"},
        {"raise_until", "1796083200"},
        {"raise_rcpt_hour", "5000"},
        {"raise_rcpt_day", "6000"},
        {"raise_msg_hour", "700"},
        {"raise_msg_day", "8000"},
    };
    char names[16][32];
    struct overrides *o = NULL;
    struct overrides_hash h;
    struct pd_err err;
    size_t i, n = track_hmget_fields(names, 16);

    ASSERT_EQ(n, OVERRIDES_HASH_FIELDS);
    ASSERT_EQ(parse(full, &o, &err), 0);
    overrides_to_hash(&overrides_at(o, 0)->s, &h);
    ASSERT_EQ(h.nset, OVERRIDES_HASH_FIELDS);
    ASSERT_EQ(h.ndel, 0);
    for (i = 0; i < n; i++) {
        ASSERT_STR_EQ(h.set_name[i], names[i]); /* exactly what track.lua reads, in order */
        ASSERT_STR_EQ(h.set_name[i], want[i][0]);
        ASSERT_STR_EQ(h.set_value[i], want[i][1]);
        ASSERT_EQ(h.set_len[i], strlen(want[i][1]));
    }
    o = overrides_free(o);
    TEST_PASS("ovr hash: every field, names as track.lua reads them");

    ASSERT_EQ(parse("a@x exempt=no profile=none msg_day=0", &o, &err), 0);
    overrides_to_hash(&overrides_at(o, 0)->s, &h);
    ASSERT_EQ(h.nset, 3);
    ASSERT_EQ(h.ndel, OVERRIDES_HASH_FIELDS - 3);
    ASSERT_STR_EQ(h.set_name[0], "exempt");
    ASSERT_STR_EQ(h.set_value[0], "0");
    ASSERT_STR_EQ(h.set_name[1], "profile");
    ASSERT_STR_EQ(h.set_value[1], ""); /* none: overrides a domain's profile */
    ASSERT_EQ(h.set_len[1], 0);
    ASSERT_STR_EQ(h.set_name[2], "lim_msg_day");
    ASSERT_STR_EQ(h.set_value[2], "0");
    ASSERT_STR_EQ(h.del_name[0], "lim_rcpt_hour");
    ASSERT_STR_EQ(h.del_name[h.ndel - 1], "raise_msg_day");
    o = overrides_free(o);
    TEST_PASS("ovr hash: unset fields are deleted, none is empty");
}

/* hash_change_cases - from what the file wrote last time to what it says now. */
static const struct {
    const char *old, *new_; /* NULL new_: the mailbox left the file */
    const char *set, *del;  /* field names, space separated */
} change_cases[] = {
    {"", "exempt=yes rcpt_hour=10", "exempt lim_rcpt_hour", ""},
    {"rcpt_day=3 exempt=no", "exempt=yes rcpt_hour=10", "exempt lim_rcpt_hour", "lim_rcpt_day"},
    {"raise_until=5 raise_msg_day=1", "msg_day=2", "lim_msg_day", "raise_until raise_msg_day"},
    {"exempt=yes profile=bulk", NULL, "", "exempt profile"},
    {"", NULL, "", ""},
    {"msg_day=1", "msg_day=1", "lim_msg_day", ""},
};

static void names_of(char *out, size_t len, const char *const *names, size_t n)
{
    size_t i, o = 0;

    out[0] = '\0';
    for (i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, len - o, "%s%s", i > 0 ? " " : "", names[i]);
}

static void test_change(void)
{
    struct overrides_settings old, new_;
    struct overrides_hash h;
    struct pd_err err;
    char got[256];
    size_t i;

    for (i = 0; i < N_OF(change_cases); i++) {
        const char *nt = change_cases[i].new_;

        ASSERT_EQ(
            overrides_parse_settings(change_cases[i].old, strlen(change_cases[i].old), &old, &err),
            0);
        if (nt != NULL)
            ASSERT_EQ(overrides_parse_settings(nt, strlen(nt), &new_, &err), 0);
        overrides_hash_change(&old, nt != NULL ? &new_ : NULL, &h);
        names_of(got, sizeof(got), h.set_name, h.nset);
        ASSERT_STR_EQ(got, change_cases[i].set);
        names_of(got, sizeof(got), h.del_name, h.ndel);
        ASSERT_STR_EQ(got, change_cases[i].del);
    }
    overrides_hash_change(NULL, NULL, &h);
    ASSERT_EQ(h.nset + h.ndel, 0);
    TEST_PASS("hash change: HSET what is set now, HDEL what only the old text set");
}

/* ---- the compact domain text ------------------------------------------------------- */

static const struct {
    const char *in;
    int rc;
    const char *out;
} text_cases[] = {
    {"rcpt_hour=2000 profile=outreach", 0, "profile=outreach rcpt_hour=2000"},
    {"  exempt=yes\t", 0, "exempt=yes"},
    {"raise_until=1796083200 raise_rcpt_day=9", 0,
     "raise_until=2026-12-01T00:00:00Z raise_rcpt_day=9"},
    {"", 0, ""}, /* no settings: the caller decides whether that is an error */
    {"   ", 0, ""},
    {"exempt=yes\nprofile=bulk", OVERRIDES_ERR_SYNTAX, "control byte"},
    {"exempt=yes extra", OVERRIDES_ERR_SYNTAX, "missing '='"},
    {"exempt=yes exempt=yes", OVERRIDES_ERR_DUPLICATE, "given twice"},
};

static void test_text(void)
{
    struct overrides_settings s, back;
    char buf[OVERRIDES_TEXT_MAX];
    struct pd_err err;
    size_t i;

    for (i = 0; i < N_OF(text_cases); i++) {
        int rc = overrides_parse_settings(text_cases[i].in, strlen(text_cases[i].in), &s, &err);

        ASSERT_EQ(rc, text_cases[i].rc);
        ASSERT_EQ(err.line, 0);
        if (rc < 0) {
            ASSERT_TRUE(strstr(err.msg, text_cases[i].out) != NULL);
            continue;
        }
        ASSERT_EQ(overrides_format(&s, buf, sizeof(buf)), (int)strlen(text_cases[i].out));
        ASSERT_STR_EQ(buf, text_cases[i].out);
        ASSERT_EQ(overrides_parse_settings(buf, strlen(buf), &back, &err), 0);
        ASSERT_TRUE(overrides_settings_equal(&s, &back));
    }
    ASSERT_EQ(overrides_parse_settings("exempt=y\0s", 10, &s, &err), OVERRIDES_ERR_SYNTAX);
    ASSERT_TRUE(strstr(err.msg, "NUL byte") != NULL);
    TEST_PASS("domain text: parse, format, round trip");

    ASSERT_EQ(overrides_parse_settings("rcpt_hour=1 exempt=yes", 22, &s, &err), 0);
    ASSERT_EQ(overrides_format(&s, buf, 10), OVERRIDES_ERR_SPACE);
    ASSERT_EQ(overrides_format(&s, buf, 0), OVERRIDES_ERR_SPACE);
    ASSERT_EQ(overrides_format(&s, buf, 23), 22);
    ASSERT_EQ(overrides_format(&s, buf, 22), OVERRIDES_ERR_SPACE);
    back = s;
    back.cap[0] = 2;
    ASSERT_TRUE(!overrides_settings_equal(&s, &back));
    back = s;
    back.cap[1] = 2; /* a value that is not set does not count */
    ASSERT_TRUE(overrides_settings_equal(&s, &back));
    back.raise_until = -5;
    ASSERT_EQ(overrides_format(&back, buf, sizeof(buf)), OVERRIDES_ERR_SPACE);
    TEST_PASS("domain text: buffer sizes, equality");
}

/* ---- a domain in the track call ---------------------------------------------------- */

static void defaults(struct trackargs_in *in)
{
    memset(in, 0, sizeof(*in));
    in->lim_rcpt_hour = 500;
    in->lim_rcpt_day = 2000;
    in->lim_msg_hour = 200;
    in->lim_msg_day = 1000;
    in->limit_src = SIGNALS_SRC_DEFAULT;
}

static void test_apply(void)
{
    static const char text[] = "rcpt_hour=2000 exempt=yes profile=outreach raise_until=1000 "
                               "raise_rcpt_hour=9000 raise_msg_day=0";
    struct overrides_settings s;
    struct trackargs_in in;
    struct pd_err err;

    ASSERT_EQ(overrides_parse_settings(text, strlen(text), &s, &err), 0);
    defaults(&in);
    overrides_apply_domain(&s, 999, &in); /* raised */
    ASSERT_EQ(in.lim_rcpt_hour, 9000);
    ASSERT_EQ(in.lim_rcpt_day, 2000);
    ASSERT_EQ(in.lim_msg_hour, 200);
    ASSERT_EQ(in.lim_msg_day, 0);
    ASSERT_EQ(in.limit_src, SIGNALS_SRC_DOMAIN);
    ASSERT_TRUE(in.dom_exempt);
    ASSERT_STR_EQ(in.dom_profile, "outreach");
    defaults(&in);
    overrides_apply_domain(&s, 1000, &in); /* the raise has ended */
    ASSERT_EQ(in.lim_rcpt_hour, 2000);
    ASSERT_EQ(in.lim_msg_day, 1000);
    ASSERT_EQ(in.limit_src, SIGNALS_SRC_DOMAIN);
    TEST_PASS("apply: caps, raise until its end");

    ASSERT_EQ(overrides_parse_settings("profile=none exempt=no", 22, &s, &err), 0);
    defaults(&in);
    in.dom_exempt = true;
    overrides_apply_domain(&s, 0, &in);
    ASSERT_EQ(in.limit_src, SIGNALS_SRC_DEFAULT); /* no cap from the domain */
    ASSERT_EQ(in.lim_rcpt_hour, 500);
    ASSERT_TRUE(!in.dom_exempt);
    ASSERT_STR_EQ(in.dom_profile, "");
    TEST_PASS("apply: no caps keeps the default source, none is empty");
}

/* ---- profiles, errors -------------------------------------------------------------- */

static void test_profiles(void)
{
    enum rules_profile p;
    int i;

    for (i = RULES_PROF_BULK; i < RULES_PROF_UNKNOWN; i++) {
        const char *name = rules_profile_name((enum rules_profile)i);

        ASSERT_TRUE(overrides_profile_parse(name, strlen(name), &p));
        ASSERT_EQ(p, i);
        ASSERT_STR_EQ(overrides_profile_text(p), name);
    }
    ASSERT_TRUE(overrides_profile_parse("none", 4, &p) && p == RULES_PROF_NONE);
    ASSERT_TRUE(!overrides_profile_parse("", 0, &p));
    ASSERT_TRUE(!overrides_profile_parse("bulkx", 5, &p));
    ASSERT_TRUE(!overrides_profile_parse("bul", 3, &p));
    ASSERT_STR_EQ(overrides_profile_text(RULES_PROF_NONE), "");
    ASSERT_STR_EQ(overrides_profile_text(RULES_PROF_UNKNOWN), "");
    ASSERT_STR_EQ(overrides_profile_text((enum rules_profile)99), "");
    for (i = OVERRIDES_ERR_SPACE; i <= 0; i++)
        ASSERT_TRUE(strlen(overrides_strerror(i)) > 0);
    ASSERT_STR_EQ(overrides_strerror(-99), "unknown overrides error");
    TEST_PASS("profiles come from rules; strerror");
}

int main(void)
{
    test_valid();
    test_invalid();
    test_nul();
    test_long();
    test_many();
    test_table();
    test_keys();
    test_hash();
    test_change();
    test_text();
    test_apply();
    test_profiles();
    TEST_SUMMARY();
    return 0;
}
