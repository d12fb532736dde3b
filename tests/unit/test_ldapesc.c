/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_ldapesc - unit tests of RFC 4515 escaping and LDAP filter templates
 * SYNOPSIS
 *      build/tests/test_ldapesc
 * DESCRIPTION
 *      ldapesc_filter_value: the five specials ('*', '(', ')', '\', NUL), controls, DEL,
 *      UTF-8 and invalid UTF-8 bytes, the public injection payloads, every one of the 256
 *      byte values (printable ASCII out, decodes back to the input), the buffer-size
 *      contract (exact fit, one short, NULL). ldapesc_template_check: accepted templates
 *      (AD, OpenLDAP, extensible match, ordering and approximate items, %%, escapes) and
 *      refused ones, each with its message; ldapesc_keys; ldapesc_expand with escaping
 *      (a filter) and raw (an expected attribute value), %s %u %d with zero, one and two
 *      '@', NUL inside the mailbox; and a pseudo-random property test: for any mailbox,
 *      the expanded "(mail=%s)" is one item whose value holds no unescaped special.
 * DIAGNOSTICS
 *      Aborts on the first failed assertion; prints "N passed, 0 failed" at the end.
 * SEE ALSO
 *      ldap/ldapesc.c, tests/unit/testlib.h, RFC 4515
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ldap/ldapesc.h"
#include "tests/unit/testlib.h"

#define B(s) s, sizeof(s) - 1

struct esc_case {
    const char *in;
    size_t len;
    const char *want;
};

static void test_filter_value(void)
{
    static const struct esc_case cases[] = {
        {B("alice@example.com"), "alice@example.com"},
        {B("*"), "\\2a"},
        {B("("), "\\28"},
        {B(")"), "\\29"},
        {B("\\"), "\\5c"},
        {B("\0"), "\\00"},
        {B("a\0b"), "a\\00b"},
        {B("\xc3\xa9l\xc3\xa8ve@\xc3\xa9"
           "cole.fr"),
         "\\c3\\a9l\\c3\\a8ve@\\c3\\a9cole.fr"},
        {B("\xff\xfe\x80"), "\\ff\\fe\\80"},
        {B("\n\r\t\x1f\x7f"), "\\0a\\0d\\09\\1f\\7f"},
        {B("first last@x"), "first last@x"},
        {B("*)(pwdLastSet>=0)(|(sAMAccountName=*"),
         "\\2a\\29\\28pwdLastSet>=0\\29\\28|\\28sAMAccountName=\\2a"},
        {B("admin*)((|userPassword=*)"), "admin\\2a\\29\\28\\28|userPassword=\\2a\\29"},
        {B("\\2a"), "\\5c2a"},
        {B(""), ""},
    };
    char out[256];
    size_t i, n;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ASSERT_EQ(ldapesc_filter_value(cases[i].in, cases[i].len, out, sizeof(out), &n), 0);
        ASSERT_STR_EQ(out, cases[i].want);
        ASSERT_EQ(n, strlen(cases[i].want));
        TEST_PASS(cases[i].want);
    }
    /* the size contract: exact fit, one short, measuring with NULL */
    ASSERT_EQ(ldapesc_filter_value(B("a*"), out, 5, &n), 0);
    ASSERT_STR_EQ(out, "a\\2a");
    memset(out, 'x', sizeof(out));
    ASSERT_EQ(ldapesc_filter_value(B("a*"), out, 4, &n), LDAPESC_ERR_SPACE);
    ASSERT_EQ(n, 4);
    ASSERT_EQ(out[3], '\0');
    ASSERT_EQ(out[4], 'x');
    ASSERT_EQ(ldapesc_filter_value(B("a*"), NULL, 0, &n), LDAPESC_ERR_SPACE);
    ASSERT_EQ(n, 4);
    ASSERT_EQ(ldapesc_filter_value(B("a*"), out, 1, &n), LDAPESC_ERR_SPACE);
    ASSERT_STR_EQ(out, "");
    TEST_PASS("buffer sizes");
}

/* unescape - decode \xx escapes (the filter value back to bytes). */
static size_t unescape(const char *s, size_t len, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '\\') {
            unsigned v;

            ASSERT_TRUE(i + 2 < len);
            ASSERT_EQ(sscanf(s + i + 1, "%2x", &v), 1);
            out[o++] = (char)v;
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

static void test_all_bytes(void)
{
    char in[256], out[1024], back[256];
    size_t i, n, m;

    for (i = 0; i < 256; i++)
        in[i] = (char)i;
    ASSERT_EQ(ldapesc_filter_value(in, 256, out, sizeof(out), &n), 0);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];

        ASSERT_TRUE(c >= 0x20 && c < 0x7f);
        ASSERT_TRUE(c != '*' && c != '(' && c != ')');
        if (c == '\\')
            i += 2;
    }
    m = unescape(out, n, back);
    ASSERT_EQ(m, 256);
    ASSERT_TRUE(memcmp(back, in, 256) == 0);
    TEST_PASS("all 256 bytes: printable output that decodes back");
}

struct tmpl_case {
    const char *tmpl;
    const char *why; /* NULL = accepted; else a substring of the message */
    size_t nkeys;
};

static void test_templates(void)
{
    static const struct tmpl_case cases[] = {
        {"(mail=%s)", NULL, 1},
        {"(|(mail=%s)(userPrincipalName=%s))", NULL, 2},
        {"(&(objectClass=user)(sAMAccountName=%u))", NULL, 1},
        {"(&(objectCategory=person)(|(mail=%s)(proxyAddresses=smtp:%s)))", NULL, 2},
        {"(&(mail=%s)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))", NULL, 1},
        {"(&(uid=%u)(associatedDomain=%d))", NULL, 2},
        {"(&(mail=%s)(pwdLastSet>=1)(cn~=x)(o<=z))", NULL, 1},
        {"(&(mail=%s)(mail>=%s))", NULL, 1},
        {"(mail=%s\\2a)", NULL, 1},
        {"(mail=100%%-%s)", NULL, 1},
        {"(mail;lang-en=%s)", NULL, 1},
        {"(1.2.840.113556.1.4.656=%s)", NULL, 1},
        {"(&(mail=%s)(:dn:2.5.13.5:=x))", NULL, 1},
        {"(&(|(a=%s)(b=%s)(c=%s)(d=%s)(e=%s))(|(f=%s)(g=%s)(h=%s)(i=%s)(j=%s)))", NULL, 8},
        {"", "empty", 0},
        {"mail=%s", "expected '('", 0},
        {"(mail=%s", "unbalanced", 0},
        {"(mail=%s))", "text after", 0},
        {"(mail=%s)(uid=%s)", "text after", 0},
        {" (mail=%s)", "expected '('", 0},
        {"(mail=*)", "no placeholder", 0},
        {"(mail=x)", "no placeholder", 0},
        {"(mail=%s*)", "equality item", 0},
        {"(mail=*%s)", "equality item", 0},
        {"(mail>=%s)", "equality item", 0},
        {"(mail~=%s)", "equality item", 0},
        {"(mail:caseExactMatch:=%s)", "equality item", 0},
        {"(%s=x)", "placeholders belong in values", 0},
        {"(mail=%x)", "'%' must be followed", 0},
        {"(mail=%)", "'%' must be followed", 0},
        {"(mail=%s%)", "'%' must be followed", 0},
        {"(mail=\\zz%s)", "backslash", 0},
        {"(mail=\\2%s)", "backslash", 0},
        {"(mail=%s\\)", "backslash", 0},
        {"()", "without '='", 0},
        {"(=%s)", "without an attribute", 0},
        {"(>=%s)", "without an attribute", 0},
        {"(ma il=%s)", "bad attribute", 0},
        {"(ma*il=%s)", "bad attribute", 0},
        {"(&)", "no placeholder", 0},
        {"(|)", "no placeholder", 0},
        {"(!(mail=%s)(uid=%s))", "expected ')'", 0},
        {"(!mail=%s)", "expected '('", 0},
        {"(&(mail=%s)uid=%s)", "expected ')'", 0},
        {"(mail=(%s))", "unbalanced", 0},
        {"(mail=%s\n)", "control", 0},
        {"(mail=\xc3\xa9%s)", "non-ASCII", 0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct tmpl_case *c = &cases[i];
        const char *why = ldapesc_template_check(c->tmpl);
        struct ldapesc_key keys[LDAPESC_KEYS_MAX];
        size_t n = 99;

        if ((why == NULL) != (c->why == NULL) || (why != NULL && !strstr(why, c->why)))
            fprintf(stderr, "template %s: %s\n", c->tmpl, why ? why : "accepted");
        ASSERT_TRUE((why == NULL) == (c->why == NULL));
        if (why != NULL)
            ASSERT_TRUE(strstr(why, c->why) != NULL);
        ASSERT_EQ(ldapesc_keys(c->tmpl, keys, &n), why == NULL ? 0 : LDAPESC_ERR_TEMPLATE);
        ASSERT_EQ(n, c->nkeys);
        TEST_PASS(c->tmpl);
    }
}

static void test_template_limits(void)
{
    char deep[512], big[LDAPESC_TEMPLATE_MAX + 2];
    size_t i, o = 0;

    for (i = 0; i < 40; i++)
        o += (size_t)snprintf(deep + o, sizeof(deep) - o, "(&");
    o += (size_t)snprintf(deep + o, sizeof(deep) - o, "(mail=%%s)");
    for (i = 0; i < 40; i++)
        deep[o++] = ')';
    deep[o] = '\0';
    ASSERT_TRUE(strstr(ldapesc_template_check(deep), "nested") != NULL);
    memset(big, 'a', sizeof(big));
    memcpy(big, "(mail=%s", 8);
    big[sizeof(big) - 2] = ')';
    big[sizeof(big) - 1] = '\0';
    ASSERT_TRUE(strstr(ldapesc_template_check(big), "longer") != NULL);
    big[sizeof(big) - 3] = ')';
    big[sizeof(big) - 2] = '\0';
    ASSERT_TRUE(ldapesc_template_check(big) == NULL);
    TEST_PASS("nesting and length limits");
}

static void test_keys(void)
{
    struct ldapesc_key k[LDAPESC_KEYS_MAX];
    size_t n;
    const char *t = "(&(objectClass=user)(|(mail=%s)(proxyAddresses=smtp:%s)))";

    ASSERT_EQ(ldapesc_keys(t, k, &n), 0);
    ASSERT_EQ(n, 2);
    ASSERT_TRUE(k[0].attr_len == 4 && memcmp(k[0].attr, "mail", 4) == 0);
    ASSERT_TRUE(k[0].value_len == 2 && memcmp(k[0].value, "%s", 2) == 0);
    ASSERT_TRUE(k[1].attr_len == 14 && memcmp(k[1].attr, "proxyAddresses", 14) == 0);
    ASSERT_TRUE(k[1].value_len == 7 && memcmp(k[1].value, "smtp:%s", 7) == 0);
    ASSERT_EQ(ldapesc_keys("(|(a=%s)(b=%s)(c=%s)(d=%s)(e=%s)(f=%s)(g=%s)(h=%s)(i=%s))", k, &n), 0);
    ASSERT_EQ(n, LDAPESC_KEYS_MAX);
    TEST_PASS("key items");
}

struct exp_case {
    const char *tmpl;
    const char *mbox;
    size_t mlen;
    bool escape;
    int rc;
    const char *want;
    size_t want_len;
};

static void test_expand(void)
{
    static const struct exp_case cases[] = {
        {"(mail=%s)", B("alice@example.com"), true, 0, B("(mail=alice@example.com)")},
        {"(|(mail=%s)(uid=%u)(dc=%d))", B("a*b@ex(am)ple.com"), true, 0,
         B("(|(mail=a\\2ab@ex\\28am\\29ple.com)(uid=a\\2ab)(dc=ex\\28am\\29ple.com))")},
        {"(uid=%u)", B("jane"), true, 0, B("(uid=jane)")},
        {"(uid=%u)", B("a@b@c"), true, 0, B("(uid=a@b)")},
        {"(dc=%d)", B("a@b@c"), true, 0, B("(dc=c)")},
        {"(dc=%d)", B("a@"), true, 0, B("(dc=)")},
        {"(uid=%u)", B("@c"), true, 0, B("(uid=)")},
        {"(dc=%d)", B("jane"), true, LDAPESC_ERR_NO_DOMAIN, B("")},
        {"(mail=100%%%s)", B("x"), true, 0, B("(mail=100%x)")},
        {"(mail=%s\\2a)", B("x"), true, 0, B("(mail=x\\2a)")},
        {"(mail=%s)", B("x\0y"), true, 0, B("(mail=x\\00y)")},
        {"(mail=%s)", B("\xc3\xa9@x"), true, 0, B("(mail=\\c3\\a9@x)")},
        {"(mail=%s)", B(")(|(mail=*"), true, 0, B("(mail=\\29\\28|\\28mail=\\2a)")},
        {"smtp:%s\\2a", B("x@y"), false, 0, B("smtp:x@y*")},
        {"%s", B("x\0y*("), false, 0, B("x\0y*(")},
        {"%u-%d\\5C", B("a@b"), false, 0, B("a-b\\")},
        {"(mail=%s)%", B("x"), true, LDAPESC_ERR_TEMPLATE, B("")},
        {"(mail=%q)", B("x"), true, LDAPESC_ERR_TEMPLATE, B("")},
        {"(mail=%s)\\", B("x"), false, LDAPESC_ERR_TEMPLATE, B("")},
        {"(mail=%s)\\4", B("x"), true, LDAPESC_ERR_TEMPLATE, B("")},
        {"(mail=%s)\\4g", B("x"), true, LDAPESC_ERR_TEMPLATE, B("")},
    };
    char out[256];
    size_t i, n;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct exp_case *c = &cases[i];
        int rc = ldapesc_expand(c->tmpl, strlen(c->tmpl), c->mbox, c->mlen, c->escape, out,
                                sizeof(out), &n);

        if (rc != c->rc)
            fprintf(stderr, "expand %s: %d\n", c->tmpl, rc);
        ASSERT_EQ(rc, c->rc);
        if (rc == 0) {
            ASSERT_EQ(n, c->want_len);
            ASSERT_TRUE(memcmp(out, c->want, n) == 0);
            ASSERT_EQ(out[n], '\0');
        }
        TEST_PASS(c->tmpl);
    }
    /* a part of a template (a key's value) is expanded on its own */
    ASSERT_EQ(ldapesc_expand("smtp:%s)junk", 7, "a@b", 3, false, out, sizeof(out), &n), 0);
    ASSERT_STR_EQ(out, "smtp:a@b");
    ASSERT_EQ(ldapesc_expand("(mail=%s)", 9, "a*c", 3, true, out, 12, &n), LDAPESC_ERR_SPACE);
    ASSERT_EQ(n, 12);
    ASSERT_EQ(ldapesc_expand("(mail=%s)", 9, "a*c", 3, true, out, 13, &n), 0);
    ASSERT_STR_EQ(out, "(mail=a\\2ac)");
    ASSERT_EQ(ldapesc_expand("(mail=%s)", 9, "a*c", 3, true, NULL, 0, &n), LDAPESC_ERR_SPACE);
    ASSERT_EQ(n, 12);
    ASSERT_STR_EQ(ldapesc_strerror(LDAPESC_ERR_NO_DOMAIN),
                  "the template uses %d and the mailbox has no domain");
    ASSERT_STR_EQ(ldapesc_strerror(42), "unknown error");
    TEST_PASS("expand: parts, sizes, messages");
}

/* Any mailbox in "(mail=%s)" gives one item: no unescaped special after "(mail=". */
static void test_injection_property(void)
{
    static const char alphabet[] = "*()\\\0@a.\xc3\xa9=|&!~<>%";
    uint64_t x = 0x2545F4914F6CDD1DULL;
    char mbox[64], out[512];
    unsigned i;

    for (i = 0; i < 100000; i++) {
        size_t len, j, n;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        len = 1 + x % 40;
        for (j = 0; j < len; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            mbox[j] = alphabet[x % (sizeof(alphabet) - 1)];
        }
        ASSERT_EQ(ldapesc_expand("(mail=%s)", 9, mbox, len, true, out, sizeof(out), &n), 0);
        ASSERT_TRUE(memcmp(out, "(mail=", 6) == 0 && out[n - 1] == ')');
        for (j = 6; j < n - 1; j++) {
            unsigned char c = (unsigned char)out[j];

            ASSERT_TRUE(c >= 0x20 && c < 0x7f && c != '*' && c != '(' && c != ')');
            if (c == '\\') {
                ASSERT_TRUE(strchr("0123456789abcdef", out[j + 1]) != NULL);
                ASSERT_TRUE(strchr("0123456789abcdef", out[j + 2]) != NULL);
                j += 2;
            }
        }
    }
    TEST_PASS("100,000 hostile mailboxes stay inside their item");
}

int main(void)
{
    test_filter_value();
    test_all_bytes();
    test_templates();
    test_template_limits();
    test_keys();
    test_expand();
    test_injection_property();
    TEST_SUMMARY();
    return 0;
}
