/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_alerttpl - unit tests of the alert mail templates
 * DESCRIPTION
 *      Table-driven: templates that parse and what they expand to (placeholders, "{{",
 *      a Subject line, multi-line values indented like their line, hostile values with
 *      CR, LF, NUL-free controls, bidi overrides and invalid UTF-8, overlong lines and
 *      subjects); templates that must fail with the right code and line (unknown or
 *      malformed placeholders, a NUL byte, empty or oversized files). Then whole mails
 *      built by alertmsg with a hostile template and hostile values: the header block is
 *      exactly the built-in one (no header added), the Subject is encoded on one logical
 *      line, no line passes 998 bytes and the message is valid UTF-8 with LF line ends.
 *      Also the block mail's client networks and counts, the hold and daily kinds.
 * SEE ALSO
 *      policyd/alerttpl.c, policyd/alertmsg.c, tests/unit/testlib.h
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/alertmsg.h"
#include "policyd/alerttpl.h"
#include "tests/unit/testlib.h"

static const char *const known[] = {"mailbox", "ref", "rules", "networks", "helpdesk",
                                    "subject", NULL};

static const struct alerttpl_var vars[] = {
    {"mailbox", "alice@example.com"},
    {"ref", "PD-0000ABCD"},
    {"rules", "VOL-2 +3 volume\nNOV-1 +3 new recipients"},
    {"networks", "192.0.2.0/24\n198.51.100.0/24"},
    {"helpdesk", "helpdesk@isp.example\r\nBcc: evil@x.example"},
};

/* valid_text - UTF-8, no control byte but LF and TAB, lines within the limit. */
static void valid_text(const char *s, size_t max_line)
{
    size_t col = 0;

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        ASSERT_TRUE(c != '\r');
        ASSERT_TRUE(c >= 0x20 || c == '\n' || c == '\t');
        ASSERT_TRUE(c != 0x7f);
        col = c == '\n' ? 0 : col + 1;
        ASSERT_TRUE(col <= max_line);
    }
}

static void test_expand(void)
{
    static const struct {
        const char *name, *tpl, *body, *subject;
    } cases[] = {
        {"plain", "Hello {mailbox}.\n", "Hello alice@example.com.\n", NULL},
        {"braces", "{{x} {{{ref}}}\n", "{x} {PD-0000ABCD}}\n", NULL},
        {"lone close", "a } b\n", "a } b\n", NULL},
        {"subject", "Subject: {mailbox} ref {ref}\n\nBody {ref}\n", "Body PD-0000ABCD\n",
         "alice@example.com ref PD-0000ABCD"},
        {"subject no blank", "SUBJECT:x\nBody\n", "Body\n", "x"},
        {"indent", "Rules:\n    {rules}\nend\n",
         "Rules:\n    VOL-2 +3 volume\n    NOV-1 +3 new recipients\nend\n", NULL},
        {"hostile value", "Help: {helpdesk}\n",
         "Help: helpdesk@isp.example\nBcc: evil@x.example\n", NULL},
        {"hostile value subject", "Subject: {helpdesk}\nx",
         "x", "helpdesk@isp.example Bcc: evil@x.example"},
        {"crlf template", "a\r\nb\rc\r\n", "a\nb?c\n", NULL},
        {"controls", "a\x01\x1b[31m\xe2\x80\xae\xff\xc3(b\tc\n", "a??[31m??" "?(b\tc\n", NULL},
        {"absent var", "[{networks}]", "[192.0.2.0/24\n198.51.100.0/24]", NULL},
    };
    size_t i, n;
    char *out;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct alerttpl *t = NULL;
        struct pd_err err;

        ASSERT_EQ(alerttpl_parse(cases[i].tpl, strlen(cases[i].tpl), known, &t, &err), 0);
        ASSERT_EQ(alerttpl_expand(t, false, vars, 5, &out, &n), 0);
        ASSERT_STR_EQ(out, cases[i].body);
        ASSERT_EQ(n, strlen(out));
        valid_text(out, ALERTTPL_LINE_MAX);
        free(out);
        ASSERT_EQ(alerttpl_has_subject(t), cases[i].subject != NULL);
        if (cases[i].subject != NULL) {
            ASSERT_EQ(alerttpl_expand(t, true, vars, 5, &out, &n), 0);
            ASSERT_STR_EQ(out, cases[i].subject);
            ASSERT_TRUE(strchr(out, '\n') == NULL);
            free(out);
        }
        t = alerttpl_free(t);
        TEST_PASS(cases[i].name);
    }
}

static void test_errors(void)
{
    static const struct {
        const char *name, *tpl;
        size_t len;
        int rc, line;
    } cases[] = {
        {"empty", "", 0, ALERTTPL_ERR_SIZE, 0},
        {"nul", "ab\ncd\0ef", 8, ALERTTPL_ERR_NUL, 2},
        {"unknown", "a\nb {nope}\n", 0, ALERTTPL_ERR_PLACEHOLDER, 2},
        {"upper", "{Mailbox}", 0, ALERTTPL_ERR_SYNTAX, 1},
        {"unclosed", "x {mailbox", 0, ALERTTPL_ERR_SYNTAX, 1},
        {"space", "{ mailbox }", 0, ALERTTPL_ERR_SYNTAX, 1},
        {"lone open", "a { b", 0, ALERTTPL_ERR_SYNTAX, 1},
        {"at end", "a {", 0, ALERTTPL_ERR_SYNTAX, 1},
        {"subject unknown", "Subject: {x}\n\nbody", 0, ALERTTPL_ERR_PLACEHOLDER, 1},
        {"body line after subject", "Subject: s\n\nok\n{bad", 0, ALERTTPL_ERR_SYNTAX, 4},
        {"long name", "{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}", 0, ALERTTPL_ERR_SYNTAX, 1},
    };
    size_t i;
    const char *p;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct alerttpl *t = NULL;
        struct pd_err err;
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].tpl);

        ASSERT_EQ(alerttpl_parse(cases[i].tpl, len, known, &t, &err), cases[i].rc);
        ASSERT_TRUE(t == NULL);
        ASSERT_EQ(err.line, cases[i].line);
        ASSERT_TRUE(err.msg[0] != '\0');
        for (p = err.msg; *p; p++)
            ASSERT_TRUE((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
        ASSERT_TRUE(strcmp(alerttpl_strerror(cases[i].rc), "unknown error") != 0);
        TEST_PASS(cases[i].name);
    }
    {
        char *big = malloc(ALERTTPL_FILE_MAX + 2);
        struct alerttpl *t = NULL;
        struct pd_err err;

        memset(big, 'a', ALERTTPL_FILE_MAX + 1);
        big[ALERTTPL_FILE_MAX + 1] = '\0';
        ASSERT_EQ(alerttpl_parse(big, ALERTTPL_FILE_MAX + 1, known, &t, &err),
                  ALERTTPL_ERR_SIZE);
        free(big);
        TEST_PASS("oversized");
    }
}

/* test_long - long lines are broken, a long Subject clipped, both at characters. */
static void test_long(void)
{
    char *tpl = malloc(20000), *val = malloc(20000), *out;
    struct alerttpl_var v[1] = {{"mailbox", val}};
    struct alerttpl *t = NULL;
    struct pd_err err;
    size_t i, n;

    strcpy(tpl, "Subject: ");
    for (i = 0; i < 3000; i++)
        strcat(tpl, "\xc3\xa9"); /* é */
    strcat(tpl, "{mailbox}\n\n{mailbox}\n");
    for (i = 0; i + 2 < 19000; i += 2)
        memcpy(val + i, "\xc3\xa9", 2);
    val[i] = '\0';
    ASSERT_EQ(alerttpl_parse(tpl, strlen(tpl), known, &t, &err), 0);
    ASSERT_EQ(alerttpl_expand(t, false, v, 1, &out, &n), 0);
    valid_text(out, ALERTTPL_LINE_MAX);
    ASSERT_TRUE(strstr(out, "\xc3\n") == NULL); /* never inside a character */
    free(out);
    ASSERT_EQ(alerttpl_expand(t, true, v, 1, &out, &n), 0);
    ASSERT_TRUE(n <= ALERTTPL_SUBJECT_MAX + 3);
    ASSERT_TRUE(strcmp(out + n - 3, "...") == 0);
    ASSERT_TRUE(((unsigned char)out[n - 4] & 0xC0) != 0xC0);
    free(out);
    alerttpl_free(t);
    free(tpl);
    free(val);
    TEST_PASS("long lines and subject");
}

/* ---- whole mails --------------------------------------------------------------------- */

static const char *const to1[] = {"ops@partner.example"};

static struct alertmsg_in mail_in(enum alertmsg_kind kind, const struct alertmsg_item *it,
                                  size_t n)
{
    struct alertmsg_in in;

    memset(&in, 0, sizeof(in));
    in.kind = kind;
    in.from = "policyd@isp.example";
    in.to = to1;
    in.nto = 1;
    in.helpdesk = "+1 555 0100";
    in.partner = "example.com";
    in.now = 1700000000;
    in.items = it;
    in.nitems = n;
    in.window = 900;
    in.cap = 10;
    in.date = "2023-11-14";
    return in;
}

/* headers_of - the header block's field names, one per line, for comparison. */
static void headers_of(const char *msg, char *out, size_t len)
{
    const char *end = strstr(msg, "\n\n"), *p = msg;
    size_t o = 0;

    ASSERT_TRUE(end != NULL);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *colon = memchr(p, ':', (size_t)((nl != NULL ? nl : end) - p));

        if (*p != ' ' && *p != '\t') {
            ASSERT_TRUE(colon != NULL);
            ASSERT_TRUE(o + (size_t)(colon - p) + 2 < len);
            memcpy(out + o, p, (size_t)(colon - p));
            o += (size_t)(colon - p);
            out[o++] = ';';
        }
        p = nl != NULL ? nl + 1 : end;
    }
    out[o] = '\0';
}

static void valid_message(const char *msg)
{
    size_t col = 0;
    const char *s;

    for (s = msg; *s; s++) {
        ASSERT_TRUE(*s != '\r');
        col = *s == '\n' ? 0 : col + 1;
        ASSERT_TRUE(col <= 998);
    }
}

static void test_mail_template(void)
{
    static const char hostile[] =
        "Subject: {subject}\r\nBcc: evil@x.example\n\n"
        "Bcc: evil@x.example\nTo: {mailbox}\n\n{rules}\n{networks}\n{refused} {held}\n";
    const struct alertmsg_item it = {false, "bob\r\nBcc: evil@x.example\xe2\x80\xae@example.com",
                                     "PD-1\r\nX: y", "compromise", "VOL-2 +3 a\r\nB: c; NOV-1 +1 d",
                                     "auto", "password-change", 7, 1700000000};
    const struct alertmsg_net nets[2] = {{"192.0.2.0/24\r\nX-Evil: 1", 1700000000, 1690000000},
                                         {"2001:db8::/48", 1699990000, 1699990000}};
    const struct alertmsg_detail d = {3, 2, nets, 2};
    struct alertmsg_in in = mail_in(ALERTMSG_BLOCK, &it, 1);
    struct alerttpl *t = NULL;
    struct pd_err err;
    char *plain, *templ, h1[512], h2[512];
    size_t n;

    ASSERT_EQ(alerttpl_parse(hostile, strlen(hostile), alertmsg_tpl_names, &t, &err), 0);
    in.detail = &d;
    ASSERT_EQ(alertmsg_build(&in, &plain, &n), 0);
    in.tpl = t;
    ASSERT_EQ(alertmsg_build(&in, &templ, &n), 0);
    headers_of(plain, h1, sizeof(h1));
    headers_of(templ, h2, sizeof(h2));
    ASSERT_STR_EQ(h1, h2); /* same header fields: nothing added */
    ASSERT_TRUE(strstr(h2, "Bcc") == NULL);
    valid_message(plain);
    valid_message(templ);
    ASSERT_TRUE(strstr(templ, "\nBcc: evil@x.example\nTo: bob??Bcc") != NULL); /* in the body */
    ASSERT_TRUE(strstr(templ, "192.0.2.0/24??X-Evil: 1 (last seen") != NULL);
    ASSERT_TRUE(strstr(templ, "\n3 2\n") != NULL);
    ASSERT_TRUE(strstr(plain, "Recipients refused since the block: 3\n") != NULL);
    ASSERT_TRUE(strstr(plain, "Messages held for review: 2\n") != NULL);
    ASSERT_TRUE(strstr(plain, "    2001:db8::/48 (last seen 2023-11-14") != NULL);
    free(plain);
    free(templ);
    alerttpl_free(t);
    TEST_PASS("hostile template and values: no header added");
}

static void test_mail_kinds(void)
{
    const struct alertmsg_item items[3] = {
        {false, "a@example.com", "PD-AAAA0001", "compromise", "", "auto", "password-change", 5,
         1699990000},
        {true, "b@example.com", "PD-AAAA0002", "compromise", "", "ldap", "password-change", 0,
         1699995000},
        {false, "c@example.com", "PD-AAAA0003", "weak-password", "", "import", "password-change",
         0, 1699000000},
    };
    const long long refused[3] = {12, 0, 0}, held[3] = {0, 0, 4};
    struct alertmsg_in in = mail_in(ALERTMSG_DAILY, items, 3);
    char *msg;
    size_t n;

    in.refused = refused;
    in.held = held;
    ASSERT_EQ(alertmsg_build(&in, &msg, &n), 0);
    valid_message(msg);
    ASSERT_TRUE(strstr(msg, "Subject: [policyd] daily digest for example.com, 2023-11-14: 2 "
                            "still\n blocked, 1 restored\n") != NULL);
    ASSERT_TRUE(strstr(msg, "X-Policyd-Event: daily\n") != NULL);
    ASSERT_TRUE(strstr(msg, "Still blocked (2):\n  - a@example.com (ref PD-AAAA0001") != NULL);
    ASSERT_TRUE(strstr(msg, "; 12 recipients refused") != NULL);
    ASSERT_TRUE(strstr(msg, "; 4 messages held") != NULL);
    ASSERT_TRUE(strstr(msg, "Restored in the last 24 hours (1):\n  - b@example.com") != NULL);
    free(msg);
    TEST_PASS("daily digest");

    in = mail_in(ALERTMSG_HOLD, items, 1);
    ASSERT_EQ(alertmsg_build(&in, &msg, &n), 0);
    ASSERT_TRUE(strstr(msg, "Subject: [policyd] a@example.com: mail held for review (ref "
                            "PD-AAAA0001)\n") != NULL);
    ASSERT_TRUE(strstr(msg, "X-Policyd-Event: hold\nX-Policyd-Ref: PD-AAAA0001\n") != NULL);
    free(msg);
    TEST_PASS("hold");

    in = mail_in(ALERTMSG_HOLD, items, 2);
    ASSERT_EQ(alertmsg_build(&in, &msg, &n), ALERTMSG_ERR_ARG);
    in = mail_in((enum alertmsg_kind)7, items, 1);
    ASSERT_EQ(alertmsg_build(&in, &msg, &n), ALERTMSG_ERR_ARG);
    TEST_PASS("kinds checked");
}

int main(void)
{
    test_expand();
    test_errors();
    test_long();
    test_mail_template();
    test_mail_kinds();
    TEST_SUMMARY();
    return 0;
}
