/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_alertmsg - unit tests of the alert mail text
 * DESCRIPTION
 *      Every message built here goes through check_message(), which parses it the way a
 *      mail reader would: no CR, NUL or control byte anywhere, headers in ASCII with
 *      exactly the expected names (so no injected header), lines within 998 bytes and
 *      encoded lines within 76, a body of valid UTF-8. The Subject is unfolded and its
 *      RFC 2047 encoded-words decoded, and must equal alertmsg_subject(). Hostile
 *      mailboxes, reasons and rules (CR/LF, NUL-free controls, escape sequences, bidi
 *      overrides, invalid and overlong UTF-8, encoded-word look-alikes, 1 KB and more)
 *      are table cases. Also: alertmsg_clean, the header encoder, the queue form of an
 *      item, summaries and wave mails, and argument errors.
 * SEE ALSO
 *      policyd/alertmsg.c, tests/unit/testlib.h
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/alertmsg.h"
#include "tests/unit/testlib.h"

#define T0 1704700800 /* Mon, 08 Jan 2024 08:00:00 +0000 */
#define MAXH 32

static const char *const to2[] = {"ops@partner.example", "noc@partner.example"};

/* ---- a small mail reader ------------------------------------------------------------- */

struct parsed {
    size_t nh;
    char name[MAXH][64];
    char *value[MAXH]; /* unfolded */
    const char *body;
};

/* utf8_ok - valid UTF-8 with no control byte but LF (in the body) */
static bool utf8_ok(const unsigned char *s, size_t n, bool allow_lf)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t k, j;

        if (c < 0x80) {
            if ((c < 0x20 && !(allow_lf && c == '\n')) || c == 0x7f)
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

static int b64v(char c)
{
    const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(t, c) : NULL;

    return p ? (int)(p - t) : -1;
}

/* b64dec - decode n base64 chars into out; returns bytes */
static size_t b64dec(const char *s, size_t n, unsigned char *out)
{
    size_t i, o = 0;
    uint32_t acc = 0;
    int bits = 0;

    for (i = 0; i < n && s[i] != '='; i++) {
        int v = b64v(s[i]);

        ASSERT_TRUE(v >= 0);
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    return o;
}

/* decode_2047 - unfolded header value with B encoded-words; each word must hold whole
 * UTF-8 characters on its own. */
static char *decode_2047(const char *v)
{
    char *out = malloc(strlen(v) + 1);
    size_t o = 0;

    while (*v) {
        if (strncmp(v, "=?UTF-8?B?", 10) == 0) {
            const char *end = strstr(v + 10, "?=");
            size_t n;

            ASSERT_TRUE(end != NULL);
            ASSERT_TRUE(end - v + 2 <= 75); /* RFC 2047: at most 75 characters */
            n = b64dec(v + 10, (size_t)(end - v - 10), (unsigned char *)out + o);
            ASSERT_TRUE(utf8_ok((unsigned char *)out + o, n, false));
            o += n;
            v = end + 2;
            while (*v == ' ' && strncmp(v + 1, "=?UTF-8?B?", 10) == 0)
                v++; /* white space between encoded-words is not text */
        } else {
            out[o++] = *v++;
        }
    }
    out[o] = '\0';
    return out;
}

/* has_text - phrase in text, any run of white space (a wrapped line) matching one space. */
static bool has_text(const char *text, const char *phrase)
{
    const char *t, *q;

    for (; *text; text++) {
        for (t = text, q = phrase; *q; q++) {
            if (*q == ' ') {
                if (*t != ' ' && *t != '\n')
                    break;
                while (*t == ' ' || *t == '\n')
                    t++;
            } else if (*t++ != *q) {
                break;
            }
        }
        if (*q == '\0')
            return true;
    }
    return false;
}

static const char *hdr(const struct parsed *p, const char *name)
{
    size_t i;

    for (i = 0; i < p->nh; i++)
        if (strcmp(p->name[i], name) == 0)
            return p->value[i];
    return NULL;
}

static void parsed_free(struct parsed *p)
{
    size_t i;

    for (i = 0; i < p->nh; i++)
        free(p->value[i]);
}

/* check_message - parse msg; every invariant a mail reader relies on must hold. */
static void check_message(const char *msg, size_t len, const char *const *names,
                          struct parsed *p)
{
    const char *s = msg, *end = msg + len, *sep = strstr(msg, "\n\n");
    size_t i, j;

    memset(p, 0, sizeof(*p));
    ASSERT_EQ(strlen(msg), len);
    ASSERT_TRUE(memchr(msg, '\r', len) == NULL);
    ASSERT_TRUE(sep != NULL);
    p->body = sep + 2;
    while (s < sep + 1) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = (size_t)(nl - s);

        ASSERT_TRUE(n <= 998);
        if (memmem(s, n, "=?", 2) != NULL)
            ASSERT_TRUE(n <= 76);
        for (i = 0; i < n; i++)
            ASSERT_TRUE((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f);
        if (s[0] == ' ' || s[0] == '\t') { /* folded: continues the previous header */
            size_t have;

            ASSERT_TRUE(p->nh > 0);
            have = strlen(p->value[p->nh - 1]);
            p->value[p->nh - 1] = realloc(p->value[p->nh - 1], have + n + 1);
            memcpy(p->value[p->nh - 1] + have, s, n);
            p->value[p->nh - 1][have + n] = '\0';
        } else {
            const char *colon = memchr(s, ':', n);

            ASSERT_TRUE(colon != NULL && p->nh < MAXH);
            ASSERT_TRUE((size_t)(colon - s) < sizeof(p->name[0]));
            for (i = 0; s + i < colon; i++)
                ASSERT_TRUE((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
                            (s[i] >= '0' && s[i] <= '9') || s[i] == '-');
            memcpy(p->name[p->nh], s, (size_t)(colon - s));
            p->name[p->nh][colon - s] = '\0';
            p->value[p->nh] = strndup(colon + 1 + (colon[1] == ' '),
                                      n - (size_t)(colon - s) - 1 - (colon[1] == ' '));
            p->nh++;
        }
        s = nl + 1;
    }
    /* exactly the expected headers, each once */
    for (i = 0; names[i] != NULL; i++) {
        size_t seen = 0;

        for (j = 0; j < p->nh; j++)
            seen += strcmp(p->name[j], names[i]) == 0;
        if (seen != 1)
            fprintf(stderr, "header %s seen %zu times\n", names[i], seen);
        ASSERT_EQ(seen, 1);
    }
    if (p->nh != i)
        fprintf(stderr, "%zu headers, want %zu (extra: %s)\n", p->nh, i, p->name[p->nh - 1]);
    ASSERT_EQ(p->nh, i);
    /* the body: UTF-8 text, short lines */
    ASSERT_TRUE(utf8_ok((const unsigned char *)p->body, (size_t)(end - p->body), true));
    for (s = p->body; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));

        ASSERT_TRUE(nl != NULL); /* ends with a newline */
        ASSERT_TRUE(nl - s <= 998);
        ASSERT_TRUE(strncasecmp(s, "Bcc:", 4) != 0 && strncasecmp(s, "Subject:", 8) != 0);
        s = nl + 1;
    }
}

static const char *const single_headers[] = {
    "Date", "From", "To", "Subject", "Message-ID", "Auto-Submitted", "X-Auto-Response-Suppress",
    "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "X-Policyd-Event",
    "X-Policyd-Ref", NULL};
static const char *const summary_headers[] = {
    "Date", "From", "To", "Subject", "Message-ID", "Auto-Submitted", "X-Auto-Response-Suppress",
    "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "X-Policyd-Event", NULL};

static struct alertmsg_item block_item(const char *mailbox)
{
    struct alertmsg_item it = {false,
                               mailbox,
                               "PD-1A2B3C4D",
                               "compromise",
                               "VOL-2 +3 120 recipients in 60 min, 12x the busiest hour; "
                               "NOV-1 +3 95 never-mailed recipients (95%); NET-3 +3 4 "
                               "never-seen networks in 60 min: 192.0.2.0/24 198.51.100.0/24 "
                               "203.0.113.0/24 10.0.0.0/24",
                               "auto",
                               "password-change",
                               9,
                               T0 - 60};
    return it;
}

static struct alertmsg_in msg_in(enum alertmsg_kind kind, const struct alertmsg_item *items,
                                 size_t n)
{
    struct alertmsg_in in;

    memset(&in, 0, sizeof(in));
    in.kind = kind;
    in.from = "policyd@isp.example";
    in.to = to2;
    in.nto = 2;
    in.helpdesk = "helpdesk@isp.example, +44 20 7946 0000";
    in.partner = "example.com";
    in.unblock_mail = true;
    in.now = T0;
    in.items = items;
    in.nitems = n;
    return in;
}

/* build_checked - build, check, and return the decoded Subject (caller frees both). */
static char *build_checked(const struct alertmsg_in *in, const char *const *names,
                           struct parsed *p, char **msg)
{
    char want[1024];
    size_t len;
    char *subject;

    ASSERT_EQ(alertmsg_build(in, msg, &len), 0);
    check_message(*msg, len, names, p);
    subject = decode_2047(hdr(p, "Subject"));
    alertmsg_subject(in, want, sizeof(want));
    if (strcmp(subject, want) != 0)
        fprintf(stderr, "subject %s\n   want %s\n", subject, want);
    ASSERT_STR_EQ(subject, want);
    ASSERT_TRUE(utf8_ok((unsigned char *)subject, strlen(subject), false));
    return subject;
}

/* ---- the mails ----------------------------------------------------------------------- */

static void test_block(void)
{
    struct alertmsg_item it = block_item("alice@example.com");
    struct alertmsg_in in = msg_in(ALERTMSG_BLOCK, &it, 1);
    struct parsed p;
    char *msg, *subj = build_checked(&in, single_headers, &p, &msg);

    ASSERT_STR_EQ(subj, "[policyd] alice@example.com blocked: suspected compromise (ref "
                        "PD-1A2B3C4D)");
    ASSERT_STR_EQ(hdr(&p, "Date"), "Mon, 08 Jan 2024 08:00:00 +0000");
    ASSERT_STR_EQ(hdr(&p, "From"), "policyd@isp.example");
    ASSERT_STR_EQ(hdr(&p, "To"), "ops@partner.example, noc@partner.example");
    ASSERT_STR_EQ(hdr(&p, "Message-ID"), "<policyd.block.PD-1A2B3C4D@isp.example>");
    ASSERT_STR_EQ(hdr(&p, "Auto-Submitted"), "auto-generated");
    ASSERT_STR_EQ(hdr(&p, "Content-Type"), "text/plain; charset=utf-8");
    ASSERT_STR_EQ(hdr(&p, "X-Policyd-Event"), "block");
    ASSERT_STR_EQ(hdr(&p, "X-Policyd-Ref"), "PD-1A2B3C4D");
    ASSERT_TRUE(strstr(p.body, "  Mailbox:     alice@example.com\n") != NULL);
    ASSERT_TRUE(strstr(p.body, "  Reference:   PD-1A2B3C4D\n") != NULL);
    ASSERT_TRUE(strstr(p.body, "  Score:       9\n") != NULL);
    ASSERT_TRUE(strstr(p.body, "  Blocked by:  automatic detection\n") != NULL);
    /* one rule per line, a long one wrapped with a deeper indent */
    ASSERT_TRUE(strstr(p.body, "\n    VOL-2 +3 120 recipients in 60 min, 12x the busiest hour\n"));
    ASSERT_TRUE(strstr(p.body, "\n    NOV-1 +3 95 never-mailed recipients (95%)\n"));
    ASSERT_TRUE(strstr(p.body, "\n    NET-3 +3 4 never-seen networks in 60 min:"));
    ASSERT_TRUE(strstr(p.body, "\n      10.0.0.0/24\n") || strstr(p.body, " 10.0.0.0/24\n"));
    ASSERT_TRUE(strstr(p.body, "Change the mailbox's password") != NULL);
    ASSERT_TRUE(has_text(p.body, "restored by itself"));
    ASSERT_TRUE(has_text(p.body, "You will get a mail when it is."));
    ASSERT_TRUE(has_text(p.body, "Questions: helpdesk@isp.example, +44 20 7946 0000, quoting "
                                 "the reference PD-1A2B3C4D."));
    ASSERT_TRUE(strstr(p.body, "  When:        2024-01-08 07:59:00 UTC\n") != NULL);
    free(subj);
    free(msg);
    parsed_free(&p);
    /* without unblock mails, the promise is not made; a manual block lifts by hand */
    in.unblock_mail = false;
    it.condition = "operator";
    it.reason = "manual";
    it.by = "jdoe";
    it.rules = "";
    subj = build_checked(&in, single_headers, &p, &msg);
    ASSERT_STR_EQ(subj, "[policyd] alice@example.com blocked: blocked by an operator (ref "
                        "PD-1A2B3C4D)");
    ASSERT_TRUE(strstr(p.body, "You will get a mail") == NULL);
    ASSERT_TRUE(strstr(p.body, "lifted by the helpdesk (condition: operator)") != NULL);
    ASSERT_TRUE(strstr(p.body, "  Blocked by:  jdoe\n") != NULL);
    ASSERT_TRUE(strstr(p.body, "    (none recorded)\n") != NULL);
    free(subj);
    free(msg);
    parsed_free(&p);
    TEST_PASS("block mail: headers, ref, rules one per line, what to do");
}

static void test_unblock(void)
{
    struct alertmsg_item it = block_item("alice@example.com");
    struct alertmsg_in in = msg_in(ALERTMSG_UNBLOCK, &it, 1);
    struct parsed p;
    char *msg, *subj;

    it.unblock = true;
    it.by = "ldap";
    it.rules = "";
    subj = build_checked(&in, single_headers, &p, &msg);
    ASSERT_STR_EQ(subj, "[policyd] alice@example.com unblocked: sending restored (ref "
                        "PD-1A2B3C4D)");
    ASSERT_STR_EQ(hdr(&p, "Message-ID"), "<policyd.unblock.PD-1A2B3C4D@isp.example>");
    ASSERT_STR_EQ(hdr(&p, "X-Policyd-Event"), "unblock");
    ASSERT_TRUE(strstr(p.body, "has been restored") != NULL);
    ASSERT_TRUE(strstr(p.body, "  When:        2024-01-08 07:59:00 UTC\n") != NULL);
    ASSERT_TRUE(strstr(p.body, "  How:         the password was changed\n") != NULL);
    ASSERT_TRUE(strstr(p.body, "  Cleared by:  ldap\n") != NULL);
    free(subj);
    free(msg);
    parsed_free(&p);
    it.condition = "expiry";
    subj = build_checked(&in, single_headers, &p, &msg);
    ASSERT_TRUE(strstr(p.body, "the block expired") != NULL);
    free(subj);
    free(msg);
    parsed_free(&p);
    TEST_PASS("unblock mail: how it was cleared, its own Message-ID");
}

/* Hostile mailbox names: the mail stays valid, the Subject decodes to the cleaned text. */
struct hostile_case {
    const char *name;
    const char *mailbox;
    const char *want_clean; /* alertmsg_clean(mailbox) when short enough, NULL: not checked */
};

static const struct hostile_case hostile[] = {
    {"CRLF and Bcc", "alice\r\nBcc: evil@x.example\r\n@example.com",
     "alice??Bcc: evil@x.example??@example.com"},
    {"LF and a header", "bob\nSubject: you won\n@example.com", "bob?Subject: you won?@example.com"},
    {"lone CR", "c\rd@example.com", "c?d@example.com"},
    {"blank line, body forgery", "x\n\nChange nothing, all is fine\n@example.com",
     "x??Change nothing, all is fine?@example.com"},
    {"dot line", "x\n.\n@example.com", "x?.?@example.com"},
    {"escape sequence", "\x1b[31mred\x1b[0m@example.com", "?[31mred?[0m@example.com"},
    {"tab and DEL", "a\tb\x7f@example.com", "a?b?@example.com"},
    {"C1 NEL", "a\xc2\x85" "b@example.com", "a?b@example.com"},
    {"UTF-8", "j\xc3\xbcrgen.m\xc3\xbcller@example.com", "j\xc3\xbcrgen.m\xc3\xbcller@example.com"},
    {"CJK and emoji", "\xe7\x94\xa8\xe6\x88\xb7\xf0\x9f\x98\x80@\xe4\xbe\x8b\xe3\x81\x88.jp",
     "\xe7\x94\xa8\xe6\x88\xb7\xf0\x9f\x98\x80@\xe4\xbe\x8b\xe3\x81\x88.jp"},
    {"invalid UTF-8", "\xff\xfe\x80@example.com", "???@example.com"},
    {"overlong slash", "a\xc0\xaf" "b@example.com", "a??b@example.com"},
    {"surrogate", "a\xed\xa0\x80" "b@example.com", "a???b@example.com"},
    {"truncated sequence", "a\xe2\x82@example.com", "a??@example.com"},
    {"bidi override", "moc.elpmaxe@\xe2\x80\xae" "ecila", "moc.elpmaxe@?ecila"},
    {"line separator", "a\xe2\x80\xa8" "b@example.com", "a?b@example.com"},
    {"encoded-word look-alike", "=?utf-8?q?Bcc=3A_evil=40x.example?=@example.com",
     "=?utf-8?q?Bcc=3A_evil=40x.example?=@example.com"},
    {"encoded-word B look-alike", "=?UTF-8?B?QmNjOiBldmlsQHguZXhhbXBsZQ==?=@x.example",
     "=?UTF-8?B?QmNjOiBldmlsQHguZXhhbXBsZQ==?=@x.example"},
    {"percent and quotes", "a%0d%0a\"b\"<c>@example.com", "a%0d%0a\"b\"<c>@example.com"},
    {"empty", "", ""},
    {NULL, NULL, NULL},
};

static void check_hostile(const char *mailbox, const char *want_clean, const char *what)
{
    struct alertmsg_item it = block_item(mailbox);
    struct alertmsg_in in = msg_in(ALERTMSG_BLOCK, &it, 1);
    char clean[ALERTMSG_MAILBOX_CLIP + 4], *msg, *subj, line[ALERTMSG_MAILBOX_CLIP + 32];
    struct parsed p;

    subj = build_checked(&in, single_headers, &p, &msg);
    alertmsg_clean(clean, sizeof(clean), mailbox);
    if (want_clean != NULL) {
        if (strcmp(clean, want_clean) != 0)
            fprintf(stderr, "%s: clean \"%s\" want \"%s\"\n", what, clean, want_clean);
        ASSERT_STR_EQ(clean, want_clean);
    }
    snprintf(line, sizeof(line), "\n  Mailbox:     %s\n", clean);
    ASSERT_TRUE(strstr(p.body, line) != NULL);
    ASSERT_TRUE(strstr(subj, "\n") == NULL && strstr(subj, "\r") == NULL);
    /* the reason, rules and helpdesk cannot inject either */
    free(subj);
    free(msg);
    parsed_free(&p);
    it.reason = "x\r\nBcc: evil@x.example";
    it.rules = "A-1 +1 one\r\n\r\nBcc: evil@x.example; B-2 +2 \x1b[2Jtwo\n.\n";
    it.by = "op\r\nX-Evil: 1";
    it.condition = "cond\nX-Evil: 2";
    in.helpdesk = "call\r\nBcc: evil@x.example";
    subj = build_checked(&in, single_headers, &p, &msg);
    ASSERT_TRUE(strstr(p.body, "A-1 +1 one????Bcc: evil@x.example\n") != NULL);
    ASSERT_TRUE(strstr(p.body, "B-2 +2 ?[2Jtwo?.?\n") != NULL);
    free(subj);
    free(msg);
    parsed_free(&p);
}

static void test_hostile(void)
{
    char big[1100], huge[5000];
    size_t i;

    for (i = 0; hostile[i].name != NULL; i++) {
        check_hostile(hostile[i].mailbox, hostile[i].want_clean, hostile[i].name);
        TEST_PASS(hostile[i].name);
    }
    /* 1 KB of ASCII, of two-byte characters, of CR LF; 5 KB rules */
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    check_hostile(big, NULL, "1 KB ASCII");
    for (i = 0; i + 2 < sizeof(big); i += 2)
        big[i] = '\xc3', big[i + 1] = '\xa9';
    big[i] = '\0';
    check_hostile(big, NULL, "1 KB of e-acute");
    for (i = 0; i + 2 < sizeof(big); i += 2)
        big[i] = '\r', big[i + 1] = '\n';
    check_hostile(big, NULL, "1 KB of CRLF");
    for (i = 0; i + 1 < sizeof(big); i++)
        big[i] = (char)(1 + i % 255); /* every byte value but NUL */
    check_hostile(big, NULL, "every byte value");
    {
        struct alertmsg_item it = block_item("alice@example.com");
        struct alertmsg_in in = msg_in(ALERTMSG_BLOCK, &it, 1);
        struct parsed p;
        char *msg, *subj;

        memset(huge, 'r', sizeof(huge) - 1);
        huge[sizeof(huge) - 1] = '\0';
        for (i = 100; i < sizeof(huge) - 1; i += 100)
            huge[i] = i % 300 == 0 ? ';' : ' ';
        it.rules = huge;
        subj = build_checked(&in, single_headers, &p, &msg);
        ASSERT_TRUE(strlen(p.body) < ALERTMSG_RULES_CLIP + 2000);
        ASSERT_TRUE(strstr(p.body, "...") != NULL);
        free(subj);
        free(msg);
        parsed_free(&p);
        /* one unbreakable word of 3000 bytes (e-acute): cut, no line over 998 bytes */
        for (i = 0; i + 2 < sizeof(huge) && i < 3000; i += 2)
            huge[i] = '\xc3', huge[i + 1] = '\xa9';
        huge[i] = '\0';
        it.rules = huge;
        in.helpdesk = huge;
        subj = build_checked(&in, single_headers, &p, &msg);
        free(subj);
        free(msg);
        parsed_free(&p);
    }
    TEST_PASS("1 KB mailboxes, every byte value, 5 KB rules");
}

static void test_subject_folding(void)
{
    struct alertmsg_item it = block_item("a-rather-long-mailbox-name.with-several-parts@"
                                         "customer-domain.example.com");
    struct alertmsg_in in = msg_in(ALERTMSG_BLOCK, &it, 1);
    struct parsed p;
    char *msg, *subj, *s;
    size_t nlines = 0;

    subj = build_checked(&in, single_headers, &p, &msg);
    s = strstr(msg, "\nSubject:") + 1;
    while (1) {
        char *nl = strchr(s, '\n');

        ASSERT_TRUE(nl - s <= 78);
        nlines++;
        if (nl[1] != ' ')
            break;
        s = nl + 1;
    }
    ASSERT_TRUE(nlines >= 2);
    free(subj);
    free(msg);
    parsed_free(&p);
    /* encoded: many lines, each <= 76, every word whole characters (checked when decoded) */
    it.mailbox = "\xe7\x94\xa8\xe6\x88\xb7\xe7\x94\xa8\xe6\x88\xb7\xe7\x94\xa8\xe6\x88\xb7\xe7"
                 "\x94\xa8\xe6\x88\xb7\xe7\x94\xa8\xe6\x88\xb7\xe7\x94\xa8\xe6\x88\xb7\xe7\x94"
                 "\xa8\xe6\x88\xb7\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80@example.com";
    subj = build_checked(&in, single_headers, &p, &msg);
    ASSERT_TRUE(strstr(msg, "Subject: =?UTF-8?B?") != NULL);
    ASSERT_TRUE(strstr(msg, "\n =?UTF-8?B?") != NULL);
    free(subj);
    free(msg);
    parsed_free(&p);
    TEST_PASS("Subject folding, plain and encoded");
}

static void test_summary(void)
{
    struct alertmsg_item items[ALERTMSG_LIST_MAX + 10];
    struct alertmsg_in in;
    struct parsed p;
    char *msg, *subj, mb[ALERTMSG_LIST_MAX + 10][32];
    size_t i;

    for (i = 0; i < 3; i++) {
        snprintf(mb[i], sizeof(mb[i]), "user%zu@example.com", i);
        items[i] = block_item(mb[i]);
    }
    items[2].unblock = true;
    items[2].condition = "password-change";
    in = msg_in(ALERTMSG_DIGEST, items, 3);
    in.window = 900;
    in.cap = 10;
    subj = build_checked(&in, summary_headers, &p, &msg);
    ASSERT_STR_EQ(subj, "[policyd] summary for example.com: 2 blocked, 1 restored");
    ASSERT_TRUE(strncmp(hdr(&p, "Message-ID"), "<policyd.digest.PD-1A2B3C4D.3.", 30) == 0);
    ASSERT_TRUE(has_text(p.body, "More than 10 alerts for example.com within one hour: the "
                                 "events of the last 15 minutes are summarised"));
    ASSERT_TRUE(strstr(p.body, "Blocked (2):\n  - user0@example.com (ref PD-1A2B3C4D, "
                               "2024-01-08 07:59:00 UTC)\n      VOL-2 +3") != NULL);
    ASSERT_TRUE(strstr(p.body, "Restored (1):\n  - user2@example.com") != NULL);
    ASSERT_TRUE(strstr(p.body, "more not listed") == NULL);
    free(subj);
    free(msg);
    parsed_free(&p);
    in.more = 5;
    subj = build_checked(&in, summary_headers, &p, &msg);
    ASSERT_STR_EQ(subj, "[policyd] summary for example.com: 8 alerts");
    ASSERT_TRUE(strstr(p.body, "... and 5 more not listed here.") != NULL);
    free(subj);
    free(msg);
    parsed_free(&p);
    for (i = 0; i < ALERTMSG_LIST_MAX + 10; i++) {
        snprintf(mb[i], sizeof(mb[i]), "u%zu@example.com", i);
        items[i] = block_item(mb[i]);
        items[i].rules = "";
    }
    in.nitems = ALERTMSG_LIST_MAX + 10;
    in.more = 0;
    subj = build_checked(&in, summary_headers, &p, &msg);
    ASSERT_TRUE(strstr(p.body, "... and 10 more not listed here.") != NULL);
    ASSERT_TRUE(strstr(p.body, "u499@example.com") != NULL);
    ASSERT_TRUE(strstr(p.body, "u500@example.com") == NULL);
    free(subj);
    free(msg);
    parsed_free(&p);
    TEST_PASS("summary mail: blocked and restored lists, 'and N more'");
}

static void test_wave(void)
{
    struct alertmsg_item items[3];
    struct alertmsg_in in;
    struct parsed p;
    char *msg, *subj;
    const char *desk[] = {"abuse@isp.example"};

    items[0] = block_item("a@one.example");
    items[1] = block_item("b@two.example");
    items[2] = block_item("c\r\nBcc: x@three.example");
    in = msg_in(ALERTMSG_WAVE, items, 3);
    in.to = desk;
    in.nto = 1;
    in.window = 600;
    in.cap = 100;
    in.more = 117;
    subj = build_checked(&in, summary_headers, &p, &msg);
    ASSERT_STR_EQ(subj, "[policyd] mass compromise event: 120 mailboxes blocked in 10 minutes");
    ASSERT_STR_EQ(hdr(&p, "To"), "abuse@isp.example");
    ASSERT_STR_EQ(hdr(&p, "X-Policyd-Event"), "wave");
    ASSERT_TRUE(has_text(p.body, "120 mailboxes were blocked across the service within 10 "
                                 "minutes (the threshold is 100)"));
    ASSERT_TRUE(strstr(p.body, "  - c??Bcc: x@three.example (ref") != NULL);
    ASSERT_TRUE(strstr(p.body, "... and 117 more not listed here.") != NULL);
    free(subj);
    free(msg);
    parsed_free(&p);
    TEST_PASS("wave mail");
}

static void test_args(void)
{
    struct alertmsg_item it = block_item("a@example.com");
    struct alertmsg_in in = msg_in(ALERTMSG_BLOCK, &it, 1);
    char *msg = (char *)&in;
    size_t len = 7;

    in.nto = 0;
    ASSERT_EQ(alertmsg_build(&in, &msg, &len), ALERTMSG_ERR_ARG);
    ASSERT_TRUE(msg == NULL && len == 0);
    in = msg_in(ALERTMSG_BLOCK, &it, 0);
    ASSERT_EQ(alertmsg_build(&in, &msg, &len), ALERTMSG_ERR_ARG);
    in = msg_in(ALERTMSG_BLOCK, &it, 2);
    ASSERT_EQ(alertmsg_build(&in, &msg, &len), ALERTMSG_ERR_ARG);
    in = msg_in((enum alertmsg_kind)0, &it, 1);
    ASSERT_EQ(alertmsg_build(&in, &msg, &len), ALERTMSG_ERR_ARG);
    in = msg_in(ALERTMSG_BLOCK, &it, 1);
    in.from = NULL;
    ASSERT_EQ(alertmsg_build(&in, &msg, &len), ALERTMSG_ERR_ARG);
    in = msg_in(ALERTMSG_DIGEST, NULL, 0); /* an empty summary is still a mail */
    ASSERT_EQ(alertmsg_build(&in, &msg, &len), 0);
    free(msg);
    ASSERT_STR_EQ(alertmsg_strerror(ALERTMSG_ERR_ARG), "bad arguments");
    TEST_PASS("argument errors");
}

/* ---- helpers ------------------------------------------------------------------------- */

struct clean_case {
    const char *in;
    size_t dstlen;
    const char *want;
};

static const struct clean_case cleans[] = {
    {"plain", 64, "plain"},
    {"a\r\nb", 64, "a??b"},
    {"\t\x01\x1f\x7f", 64, "????"},
    {"caf\xc3\xa9", 64, "caf\xc3\xa9"},
    {"\xc3", 64, "?"},
    {"\xc3\x28", 64, "?("},
    {"\xe2\x80\xae\xe2\x81\xa6\xe2\x80\x8f\xd8\x9c", 64, "????"},
    {"\xef\xbb\xbfx", 64, "?x"},
    {"\xf4\x90\x80\x80", 64, "????"}, /* above U+10FFFF */
    {"\xf0\x9f\x98\x80", 64, "\xf0\x9f\x98\x80"},
    {"abcdefghij", 8, "abcd..."},
    {"ab\xc3\xa9\xc3\xa9", 8, "ab\xc3\xa9..."}, /* never half a character */
    {"abcd", 8, "abcd"},
    {"", 4, ""},
    {"x", 4, "..."},
    {NULL, 64, ""},
    {NULL, 0, NULL},
};

static void test_clean(void)
{
    char out[64];
    size_t i;

    for (i = 0; cleans[i].want != NULL; i++) {
        alertmsg_clean(out, cleans[i].dstlen, cleans[i].in);
        if (strcmp(out, cleans[i].want) != 0)
            fprintf(stderr, "clean case %zu: \"%s\" want \"%s\"\n", i, out, cleans[i].want);
        ASSERT_STR_EQ(out, cleans[i].want);
        ASSERT_TRUE(strlen(out) < cleans[i].dstlen);
    }
    TEST_PASS("alertmsg_clean table");
}

static void test_encode_header(void)
{
    char *h, word[300];
    size_t n, i;

    h = alertmsg_encode_header("Subject", "hello world", &n);
    ASSERT_STR_EQ(h, "Subject: hello world\n");
    ASSERT_EQ(n, strlen(h));
    free(h);
    h = alertmsg_encode_header("Subject", "", &n);
    ASSERT_STR_EQ(h, "Subject: \n");
    free(h);
    h = alertmsg_encode_header("X", "a =? b", &n);
    ASSERT_STR_EQ(h, "X: =?UTF-8?B?YSA9PyBi?=\n");
    free(h);
    /* an unbreakable 200-byte word keeps its own line */
    memset(word, 'w', 200);
    word[200] = '\0';
    h = alertmsg_encode_header("Subject", word, &n);
    ASSERT_EQ(n, 9 + 200 + 1);
    free(h);
    /* many words: folded before 76 columns */
    for (i = 0, n = 0; i < 40; i++)
        n += (size_t)snprintf(word + n, sizeof(word) - n, "word%zu ", i);
    h = alertmsg_encode_header("Subject", word, &n);
    {
        char *s = h, *nl;

        while ((nl = strchr(s, '\n')) != NULL) {
            ASSERT_TRUE(nl - s <= 76);
            s = nl + 1;
        }
    }
    free(h);
    TEST_PASS("header encoder: plain, empty, '=?', long word, folding");
}

static void test_pack(void)
{
    char all[300], *packed, *store;
    struct alertmsg_item it = block_item("x"), back;
    size_t len, i;

    for (i = 0; i < 255; i++)
        all[i] = (char)(i + 1);
    all[255] = '\0';
    it.mailbox = all;
    it.rules = "VOL-2 +3 a; b % c";
    it.score = -3;
    it.at = 1099511627776LL;
    it.unblock = true;
    ASSERT_EQ(alertmsg_item_pack(&it, &packed, &len), 0);
    ASSERT_EQ(strlen(packed), len);
    for (i = 0; i < len; i++)
        ASSERT_TRUE(packed[i] >= 0x20 && packed[i] < 0x7f && packed[i] != '\n');
    ASSERT_EQ(alertmsg_item_unpack(packed, len, &back, &store), 0);
    ASSERT_STR_EQ(back.mailbox, all);
    ASSERT_STR_EQ(back.rules, it.rules);
    ASSERT_STR_EQ(back.ref, it.ref);
    ASSERT_STR_EQ(back.reason, it.reason);
    ASSERT_STR_EQ(back.by, it.by);
    ASSERT_STR_EQ(back.condition, it.condition);
    ASSERT_EQ(back.score, -3);
    ASSERT_EQ(back.at, 1099511627776LL);
    ASSERT_TRUE(back.unblock);
    free(store);
    free(packed);
    {
        struct alertmsg_item empty = {false, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0};

        ASSERT_EQ(alertmsg_item_pack(&empty, &packed, &len), 0);
        ASSERT_STR_EQ(packed, "I1 b 0 0 = = = = = =");
        ASSERT_EQ(alertmsg_item_unpack(packed, len, &back, &store), 0);
        ASSERT_STR_EQ(back.mailbox, "");
        free(store);
        free(packed);
    }
    TEST_PASS("queue form: every byte round-trips, printable one line");
}

static const char *const bad_packs[] = {
    "",
    "I1",
    "I2 b 0 0 = = = = = =",
    "I1 x 0 0 = = = = = =",
    "I1 b 0 0 = = = = =",
    "I1 b 0 0 = = = = = = =",
    "I1 b 0 0 = = = = = = ",
    "I1 b 0 0 = = = = = x",
    "I1 b 0 0 = = = = =  =",
    "I1 b zero 0 = = = = = =",
    "I1 b 0 -1 = = = = = =",
    "I1 b 0 99999999999999999999 = = = = = =",
    "I1 b 9999999 0 = = = = = =",
    "I1 b 0 0 =%0 = = = = =",
    "I1 b 0 0 =%zz = = = = =",
    "I1 b 0 0 =%00 = = = = =",
    "I1 b 0 0 =% = = = = =",
    "I1  b 0 0 = = = = = =",
    NULL,
};

static void test_unpack_bad(void)
{
    struct alertmsg_item it;
    char *store = (char *)&it;
    size_t i;

    for (i = 0; bad_packs[i] != NULL; i++) {
        int rc = alertmsg_item_unpack(bad_packs[i], strlen(bad_packs[i]), &it, &store);

        if (rc != ALERTMSG_ERR_PACK)
            fprintf(stderr, "accepted: \"%s\"\n", bad_packs[i]);
        ASSERT_EQ(rc, ALERTMSG_ERR_PACK);
        ASSERT_TRUE(store == NULL);
    }
    ASSERT_EQ(alertmsg_item_unpack("I1 b 0 0 = = = = = =\0", 21, &it, &store),
              ALERTMSG_ERR_PACK);
    TEST_PASS("queue form: malformed lines refused");
}

int main(void)
{
    test_clean();
    test_encode_header();
    test_block();
    test_unblock();
    test_hostile();
    test_subject_folding();
    test_summary();
    test_wave();
    test_args();
    test_pack();
    test_unpack_bad();
    TEST_SUMMARY();
    return 0;
}
