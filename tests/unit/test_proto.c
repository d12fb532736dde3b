/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_proto - unit tests of the policy-protocol codec
 * SYNOPSIS
 *      build/tests/test_proto      (run from the repository root)
 * DESCRIPTION
 *      Table-driven cases for every error code, the limits (at and one over), a real
 *      Postfix 3.7 RCPT request field by field, the same request split at every byte,
 *      pipelining, CRLF and reply formatting; then every golden pair tests/unit/proto/
 *      NAME.in / NAME.want, each fed whole, one byte at a time and in 7-byte chunks.
 *
 *      The .want format, one line per event, in input order:
 *          request nattrs=N nunknown=M     a complete request, followed by one line
 *          NAME=VALUE                      per known attribute present, in enum order;
 *                                          bytes outside 0x20..0x7e and '\' are \xHH
 *          error PROTO_ERR_...             a protocol error (the last line)
 *          incomplete                      input ended inside a request
 *          end                             input ended between requests
 *      TEST_GOLDEN_WRITE=1 rewrites the .want files from the current output (review the diff).
 * DIAGNOSTICS
 *      Prints "N passed, 0 failed"; a failed assertion prints both values and aborts.
 * SEE ALSO
 *      policyd/proto.c, tests/fuzz/fuzz_proto.c
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/proto.h"
#include "tests/unit/testlib.h"

#define GOLDEN_DIR "tests/unit/proto"
#define REQ_LINE "request=smtpd_access_policy\n"

/* The first RCPT of a real Postfix 3.7 capture (test-stack.md): 29 lines, 8 unknown. */
static const char rcpt37[] = "request=smtpd_access_policy\n"
                             "protocol_state=RCPT\n"
                             "protocol_name=ESMTP\n"
                             "client_address=127.0.0.1\n"
                             "client_name=localhost\n"
                             "client_port=58042\n"
                             "reverse_client_name=localhost\n"
                             "server_address=127.0.0.1\n"
                             "server_port=10587\n"
                             "helo_name=vm\n"
                             "sender=alice@example.com\n"
                             "recipient=one@example.org\n"
                             "recipient_count=0\n"
                             "queue_id=\n"
                             "instance=1186.6b02ce4a.31de0.0\n"
                             "size=0\n"
                             "etrn_domain=\n"
                             "stress=\n"
                             "sasl_method=PLAIN\n"
                             "sasl_username=alice@example.com\n"
                             "sasl_sender=\n"
                             "ccert_subject=\n"
                             "ccert_issuer=\n"
                             "ccert_fingerprint=\n"
                             "ccert_pubkey_fingerprint=\n"
                             "encryption_protocol=\n"
                             "encryption_cipher=\n"
                             "encryption_keysize=0\n"
                             "policy_context=\n"
                             "\n";

static const struct {
    enum proto_attr a;
    const char *want; /* NULL: absent */
} rcpt37_want[] = {
    {PROTO_A_REQUEST, "smtpd_access_policy"},
    {PROTO_A_PROTOCOL_STATE, "RCPT"},
    {PROTO_A_PROTOCOL_NAME, "ESMTP"},
    {PROTO_A_HELO_NAME, "vm"},
    {PROTO_A_QUEUE_ID, ""},
    {PROTO_A_SENDER, "alice@example.com"},
    {PROTO_A_RECIPIENT, "one@example.org"},
    {PROTO_A_RECIPIENT_COUNT, "0"},
    {PROTO_A_CLIENT_ADDRESS, "127.0.0.1"},
    {PROTO_A_CLIENT_NAME, "localhost"},
    {PROTO_A_REVERSE_CLIENT_NAME, "localhost"},
    {PROTO_A_CLIENT_PORT, "58042"},
    {PROTO_A_INSTANCE, "1186.6b02ce4a.31de0.0"},
    {PROTO_A_SASL_METHOD, "PLAIN"},
    {PROTO_A_SASL_USERNAME, "alice@example.com"},
    {PROTO_A_SASL_SENDER, ""},
    {PROTO_A_SIZE, "0"},
    {PROTO_A_SERVER_ADDRESS, "127.0.0.1"},
    {PROTO_A_SERVER_PORT, "10587"},
    {PROTO_A_POLICY_CONTEXT, ""},
    {PROTO_A_STRESS, ""},
    {PROTO_A_POLICYD_TIME, NULL},
};

/* ---- a growable text buffer for rendering outcomes ---- */

struct text {
    char *buf;
    size_t len, cap;
};

static void text_add(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->buf = realloc(t->buf, t->cap);
        ASSERT_TRUE(t->buf != NULL);
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void text_str(struct text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

static const char *code_name(int code)
{
    static const char *const names[] = {
        "PROTO_NEED_MORE",
        "PROTO_ERR_LINE_TOO_LONG",
        "PROTO_ERR_TOO_MANY_ATTRS",
        "PROTO_ERR_REQUEST_TOO_LARGE",
        "PROTO_ERR_NUL",
        "PROTO_ERR_NO_EQUALS",
        "PROTO_ERR_EMPTY_NAME",
        "PROTO_ERR_DUPLICATE",
        "PROTO_ERR_BAD_REQUEST",
        "PROTO_ERR_STATE",
        "PROTO_ERR_REPLY_EMPTY",
        "PROTO_ERR_REPLY_BAD_CHAR",
        "PROTO_ERR_REPLY_TOO_LONG",
    };

    if (code == PROTO_REQUEST)
        return "PROTO_REQUEST";
    return code <= 0 && -code < (int)(sizeof(names) / sizeof(names[0])) ? names[-code] : "?";
}

static void render_request(struct text *t, const struct proto_request *r)
{
    char tmp[64];
    int a;

    snprintf(tmp, sizeof(tmp), "request nattrs=%u nunknown=%u\n", r->nattrs, r->nunknown);
    text_str(t, tmp);
    for (a = 0; a < PROTO_A_COUNT; a++) {
        size_t i;

        if (r->attr[a] == NULL)
            continue;
        ASSERT_EQ(r->attr[a][r->attr_len[a]], '\0');
        ASSERT_EQ(strlen(r->attr[a]), r->attr_len[a]);
        text_str(t, proto_attr_name((enum proto_attr)a));
        text_str(t, "=");
        for (i = 0; i < r->attr_len[a]; i++) {
            unsigned char c = (unsigned char)r->attr[a][i];

            if (c < 0x20 || c > 0x7e || c == '\\') {
                snprintf(tmp, sizeof(tmp), "\\x%02x", c);
                text_str(t, tmp);
            } else {
                text_add(t, (const char *)&c, 1);
            }
        }
        text_str(t, "\n");
    }
}

/*
 * run - feed data in chunks of at most chunk bytes (0: all at once) and render every
 * event as in the .want format. Chunks never span a request boundary's pipelined rest
 * differently from a server: after a request, the unconsumed bytes are fed again.
 */
static void run(struct text *t, struct proto_parser *p, const char *data, size_t len, size_t chunk)
{
    size_t off = 0;

    t->len = 0;
    text_str(t, "");
    proto_init(p);
    while (off < len) {
        size_t n = chunk == 0 || len - off < chunk ? len - off : chunk;
        size_t used;
        int rc = proto_feed(p, data + off, n, &used);

        ASSERT_TRUE(used <= n);
        off += used;
        if (rc == PROTO_REQUEST) {
            render_request(t, proto_request(p));
            ASSERT_TRUE(!proto_in_progress(p));
            proto_reset(p);
        } else if (rc < 0) {
            text_str(t, "error ");
            text_str(t, code_name(rc));
            text_str(t, "\n");
            return;
        } else {
            ASSERT_EQ(used, n);
            ASSERT_TRUE(proto_request(p) == NULL);
        }
    }
    text_str(t, proto_in_progress(p) ? "incomplete\n" : "end\n");
}

/* feed_one - feed data at once into a fresh parser; return the code and *used */
static int feed_one(struct proto_parser *p, const char *data, size_t len, size_t *used)
{
    proto_init(p);
    return proto_feed(p, data, len, used);
}

/* ---- builders for the limit cases ---- */

/* add a line "name=<value of vlen 'v's>\n" */
static void add_line(struct text *t, const char *name, size_t vlen)
{
    text_str(t, name);
    text_str(t, "=");
    while (vlen-- > 0)
        text_add(t, "v", 1);
    text_str(t, "\n");
}

/* a request of exactly total bytes: the request line, then unknown attributes */
static void build_request_of(struct text *t, size_t total)
{
    size_t rem = total - sizeof(REQ_LINE); /* minus the request line and the final "\n" */

    t->len = 0;
    text_str(t, REQ_LINE);
    while (rem > 0) {
        size_t line = rem < PD_MAX_LINE + 1 ? rem : PD_MAX_LINE + 1;

        if (rem - line > 0 && rem - line < 3)
            line -= 3; /* leave at least "x=\n" */
        add_line(t, "x", line - 3);
        rem -= line;
    }
    text_str(t, "\n");
    ASSERT_EQ(t->len, total);
}

/* ---- the tests ---- */

static void test_rcpt37(struct proto_parser *p)
{
    size_t used, i;
    const struct proto_request *r;

    ASSERT_EQ(feed_one(p, rcpt37, sizeof(rcpt37) - 1, &used), PROTO_REQUEST);
    ASSERT_EQ(used, sizeof(rcpt37) - 1);
    r = proto_request(p);
    ASSERT_TRUE(r != NULL);
    ASSERT_EQ(r->nattrs, 29);
    ASSERT_EQ(r->nunknown, 8);
    for (i = 0; i < sizeof(rcpt37_want) / sizeof(rcpt37_want[0]); i++) {
        const char *v = r->attr[rcpt37_want[i].a];

        if (rcpt37_want[i].want == NULL) {
            ASSERT_TRUE(v == NULL);
            continue;
        }
        ASSERT_STR_EQ(v, rcpt37_want[i].want);
        ASSERT_EQ(r->attr_len[rcpt37_want[i].a], strlen(rcpt37_want[i].want));
    }
    TEST_PASS("rcpt37 field by field");
}

static void test_split(struct proto_parser *p)
{
    struct text whole = {0}, got = {0};
    size_t len = sizeof(rcpt37) - 1, cut;

    run(&whole, p, rcpt37, len, 0);
    for (cut = 0; cut <= len; cut++) {
        size_t used1, used2;
        int rc;

        proto_init(p);
        rc = proto_feed(p, rcpt37, cut, &used1);
        ASSERT_EQ(rc, cut == len ? PROTO_REQUEST : PROTO_NEED_MORE);
        ASSERT_EQ(used1, cut);
        ASSERT_EQ(proto_in_progress(p), cut > 0 && cut < len);
        if (rc == PROTO_NEED_MORE) {
            ASSERT_EQ(proto_feed(p, rcpt37 + cut, len - cut, &used2), PROTO_REQUEST);
            ASSERT_EQ(used2, len - cut);
        }
        got.len = 0;
        render_request(&got, proto_request(p));
        text_str(&got, "end\n");
        ASSERT_STR_EQ(got.buf, whole.buf);
    }
    TEST_PASS("rcpt37 split in two at every byte boundary");
    run(&got, p, rcpt37, len, 1);
    ASSERT_STR_EQ(got.buf, whole.buf);
    TEST_PASS("rcpt37 fed one byte at a time");
    free(whole.buf);
    free(got.buf);
}

static void test_pipelined(struct proto_parser *p)
{
    static const char three[] = REQ_LINE "sasl_username=a\nprotocol_state=RCPT\n\n" REQ_LINE
                                         "sasl_username=b\r\nprotocol_state=DATA\r\n\r\n" REQ_LINE
                                         "sasl_username=c\nprotocol_state=END-OF-MESSAGE\n\n"
                                         "request=smtpd";
    static const char *const users[] = {"a", "b", "c"};
    static const char *const states[] = {"RCPT", "DATA", "END-OF-MESSAGE"};
    size_t off = 0, len = sizeof(three) - 1, used;
    int i;

    proto_init(p);
    for (i = 0; i < 3; i++) {
        ASSERT_EQ(proto_feed(p, three + off, len - off, &used), PROTO_REQUEST);
        ASSERT_TRUE(used < len - off);
        off += used;
        ASSERT_STR_EQ(proto_request(p)->attr[PROTO_A_SASL_USERNAME], users[i]);
        ASSERT_STR_EQ(proto_request(p)->attr[PROTO_A_PROTOCOL_STATE], states[i]);
        ASSERT_EQ(proto_feed(p, three + off, len - off, &used), PROTO_ERR_STATE);
        ASSERT_EQ(used, 0);
        proto_reset(p);
    }
    ASSERT_EQ(proto_feed(p, three + off, len - off, &used), PROTO_NEED_MORE);
    ASSERT_EQ(used, len - off);
    ASSERT_TRUE(proto_in_progress(p));
    TEST_PASS("three pipelined requests in one buffer");
}

static void test_errors(struct proto_parser *p)
{
    static const struct {
        const char *name;
        const char *in;
        size_t len; /* 0: strlen(in) */
        int want;
        size_t want_used;
    } cases[] = {
        {"NUL in value", "request=smtpd\0_access_policy\n\n", 30, PROTO_ERR_NUL, 14},
        {"NUL as a line", REQ_LINE "\0\n\n", 31, PROTO_ERR_NUL, 29},
        {"no equals", REQ_LINE "sender\n\n", 0, PROTO_ERR_NO_EQUALS, 35},
        {"CR line", REQ_LINE "\r\r\n\n", 0, PROTO_ERR_NO_EQUALS, 31},
        {"empty name", REQ_LINE "=x\n\n", 0, PROTO_ERR_EMPTY_NAME, 31},
        {"duplicate", "sender=a\nsender=a\n" REQ_LINE "\n", 0, PROTO_ERR_DUPLICATE, 18},
        {"duplicate empty", REQ_LINE "stress=\nstress=\n\n", 0, PROTO_ERR_DUPLICATE, 44},
        {"duplicate request", REQ_LINE REQ_LINE "\n", 0, PROTO_ERR_DUPLICATE, 56},
        {"request missing", "sender=a\n\n", 0, PROTO_ERR_BAD_REQUEST, 10},
        {"request empty", "request=\n\n", 0, PROTO_ERR_BAD_REQUEST, 10},
        {"request other", "request=junk_policy\n\n", 0, PROTO_ERR_BAD_REQUEST, 21},
        {"request prefix", "request=smtpd_access_polic\n\n", 0, PROTO_ERR_BAD_REQUEST, 28},
        {"request suffix", "request=smtpd_access_policyy\n\n", 0, PROTO_ERR_BAD_REQUEST, 30},
        {"request space", "request=smtpd_access_policy \n\n", 0, PROTO_ERR_BAD_REQUEST, 30},
        {"request case", "request=SMTPD_ACCESS_POLICY\n\n", 0, PROTO_ERR_BAD_REQUEST, 29},
        {"stray empty line", "\n" REQ_LINE "\n", 0, PROTO_ERR_BAD_REQUEST, 1},
        {"stray CRLF", "\r\n", 0, PROTO_ERR_BAD_REQUEST, 2},
    };
    size_t i, used;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        int rc = feed_one(p, cases[i].in, len, &used);

        if (rc != cases[i].want)
            fprintf(stderr, "case %s\n", cases[i].name);
        ASSERT_EQ(rc, cases[i].want);
        ASSERT_EQ(used, cases[i].want_used);
        ASSERT_TRUE(proto_request(p) == NULL);
        /* sticky until reset */
        ASSERT_EQ(proto_feed(p, REQ_LINE "\n", 29, &used), cases[i].want);
        ASSERT_EQ(used, 0);
        proto_reset(p);
        ASSERT_EQ(proto_feed(p, REQ_LINE "\n", 29, &used), PROTO_REQUEST);
        TEST_PASS(cases[i].name);
    }
}

static void test_limits(struct proto_parser *p)
{
    struct text t = {0};
    size_t used;
    int i;

    /* line: PD_MAX_LINE bytes without the newline is fine, one more is not; CR is free */
    for (i = 0; i < 4; i++) {
        bool over = i & 1, crlf = i & 2;

        t.len = 0;
        text_str(&t, REQ_LINE "sender=");
        while (t.len - 28 < (size_t)PD_MAX_LINE + over)
            text_add(&t, "s", 1);
        text_str(&t, crlf ? "\r\n\n" : "\n\n");
        ASSERT_EQ(feed_one(p, t.buf, t.len, &used), over ? PROTO_ERR_LINE_TOO_LONG : PROTO_REQUEST);
        if (over)
            ASSERT_EQ(used, 28 + PD_MAX_LINE + 1);
        else
            ASSERT_EQ(proto_request(p)->attr_len[PROTO_A_SENDER], PD_MAX_LINE - 7);
        TEST_PASS("line length at and over PD_MAX_LINE");
    }
    /* a CR that is not before the newline counts */
    t.len = 0;
    add_line(&t, "sender", PD_MAX_LINE - 7);
    t.buf[t.len - 1] = '\r';
    text_str(&t, "x\n");
    ASSERT_EQ(feed_one(p, t.buf, t.len, &used), PROTO_ERR_LINE_TOO_LONG);
    ASSERT_EQ(used, PD_MAX_LINE + 2);
    TEST_PASS("line over PD_MAX_LINE by a CR inside");

    /* attributes: PD_MAX_ATTRS lines in all, the request line and unknown ones included */
    for (i = 0; i < 2; i++) {
        int n;

        t.len = 0;
        text_str(&t, REQ_LINE);
        for (n = 1; n < PD_MAX_ATTRS + i; n++)
            text_str(&t, "x=\n");
        text_str(&t, "\n");
        ASSERT_EQ(feed_one(p, t.buf, t.len, &used), i ? PROTO_ERR_TOO_MANY_ATTRS : PROTO_REQUEST);
        if (i == 0) {
            ASSERT_EQ(proto_request(p)->nattrs, PD_MAX_ATTRS);
            ASSERT_EQ(proto_request(p)->nunknown, PD_MAX_ATTRS - 1);
        } else {
            ASSERT_EQ(used, t.len - 1);
        }
        TEST_PASS("attribute count at and over PD_MAX_ATTRS");
    }

    /* request: PD_MAX_REQUEST bytes, newlines included; one over fails at that byte */
    for (i = 0; i < 2; i++) {
        struct text got = {0};

        build_request_of(&t, PD_MAX_REQUEST + i);
        ASSERT_EQ(feed_one(p, t.buf, t.len, &used),
                  i ? PROTO_ERR_REQUEST_TOO_LARGE : PROTO_REQUEST);
        ASSERT_EQ(used, t.len);
        run(&got, p, t.buf, t.len, 1);
        ASSERT_STR_EQ(got.buf, i ? "error PROTO_ERR_REQUEST_TOO_LARGE\n"
                                 : "request nattrs=5 nunknown=4\n"
                                   "request=smtpd_access_policy\nend\n");
        free(got.buf);
        TEST_PASS("request size at and over PD_MAX_REQUEST");
    }

    /* request size with known values: everything stored fits the buffer */
    t.len = 0;
    text_str(&t, REQ_LINE);
    for (i = PROTO_A_PROTOCOL_STATE; i <= PROTO_A_POLICY_CONTEXT; i++)
        add_line(&t, proto_attr_name((enum proto_attr)i), 700);
    text_str(&t, "\n");
    ASSERT_TRUE(t.len <= PD_MAX_REQUEST);
    ASSERT_EQ(feed_one(p, t.buf, t.len, &used), PROTO_REQUEST);
    ASSERT_EQ(proto_request(p)->attr_len[PROTO_A_POLICY_CONTEXT], 700);
    TEST_PASS("large known values");
    free(t.buf);
}

static void test_values(struct proto_parser *p)
{
    static const struct {
        const char *name;
        const char *in;
        enum proto_attr a;
        const char *want; /* NULL: absent */
        unsigned nunknown;
    } cases[] = {
        {"empty value", REQ_LINE "sasl_username=\n\n", PROTO_A_SASL_USERNAME, "", 0},
        {"absent value", REQ_LINE "\n", PROTO_A_SASL_USERNAME, NULL, 0},
        {"equals in value", REQ_LINE "sender=a=b=\n\n", PROTO_A_SENDER, "a=b=", 0},
        {"CRLF stripped", REQ_LINE "sender=a\r\n\r\n", PROTO_A_SENDER, "a", 0},
        {"inner CR kept", REQ_LINE "sender=a\rb\n\n", PROTO_A_SENDER, "a\rb", 0},
        {"only one CR stripped", REQ_LINE "sender=a\r\r\n\n", PROTO_A_SENDER, "a\r", 0},
        {"CRLF request line", "request=smtpd_access_policy\r\n\n", PROTO_A_REQUEST,
         "smtpd_access_policy", 0},
        {"8-bit value", REQ_LINE "sender=j\xc3\xb6rg@ex\xff\n\n", PROTO_A_SENDER,
         "j\xc3\xb6rg@ex\xff", 0},
        {"unknown ignored", REQ_LINE "tls_sni=x\ncompatibility_level=3.6\n\n", PROTO_A_SENDER, NULL,
         2},
        {"unknown duplicate", REQ_LINE "mail_version=1\nmail_version=2\n\n", PROTO_A_SENDER, NULL,
         2},
        {"name not trimmed", REQ_LINE "sender =x\n\n", PROTO_A_SENDER, NULL, 1},
        {"name case matters", REQ_LINE "Sender=x\n\n", PROTO_A_SENDER, NULL, 1},
        {"space value", REQ_LINE "helo_name= \n\n", PROTO_A_HELO_NAME, " ", 0},
        {"policyd_time", REQ_LINE "policyd_time=1700000000\n\n", PROTO_A_POLICYD_TIME, "1700000000",
         0},
    };
    size_t i, used;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct proto_request *r;

        ASSERT_EQ(feed_one(p, cases[i].in, strlen(cases[i].in), &used), PROTO_REQUEST);
        ASSERT_EQ(used, strlen(cases[i].in));
        r = proto_request(p);
        if (cases[i].want == NULL) {
            ASSERT_TRUE(r->attr[cases[i].a] == NULL);
        } else {
            ASSERT_STR_EQ(r->attr[cases[i].a], cases[i].want);
            ASSERT_EQ(r->attr_len[cases[i].a], strlen(cases[i].want));
        }
        ASSERT_EQ(r->nunknown, cases[i].nunknown);
        TEST_PASS(cases[i].name);
    }
}

/* every known name is recognised, and its near misses are not */
static void test_names(struct proto_parser *p)
{
    struct text t = {0};
    size_t used;
    int a, v;

    for (a = 0; a < PROTO_A_COUNT; a++) {
        const char *name = proto_attr_name((enum proto_attr)a);
        size_t n = strlen(name);

        ASSERT_TRUE(n > 0);
        t.len = 0;
        text_str(&t, a == PROTO_A_REQUEST ? "" : REQ_LINE);
        text_str(&t, name);
        text_str(&t, a == PROTO_A_REQUEST ? "=smtpd_access_policy\n\n" : "=val\n\n");
        ASSERT_EQ(feed_one(p, t.buf, t.len, &used), PROTO_REQUEST);
        ASSERT_TRUE(proto_request(p)->attr[a] != NULL);
        ASSERT_EQ(proto_request(p)->nunknown, 0);
        for (v = 0; v < 4 && a != PROTO_A_REQUEST; v++) {
            t.len = 0;
            text_str(&t, REQ_LINE);
            text_add(&t, name, v == 0 ? n - 1 : n); /* v0: a prefix */
            if (v == 1)
                text_str(&t, "x"); /* longer */
            if (v == 2)
                t.buf[t.len - 1] ^= 0x20; /* last byte changed */
            if (v == 3)
                t.buf[t.len - n] ^= 0x20; /* first byte changed */
            text_str(&t, "=val\n\n");
            ASSERT_EQ(feed_one(p, t.buf, t.len, &used), PROTO_REQUEST);
            ASSERT_EQ(proto_request(p)->nunknown, 1);
        }
    }
    ASSERT_STR_EQ(proto_attr_name(PROTO_A_SASL_USERNAME), "sasl_username");
    ASSERT_STR_EQ(proto_attr_name(PROTO_A_COUNT), "?");
    free(t.buf);
    TEST_PASS("attribute names and near misses");
}

static void test_state(struct proto_parser *p)
{
    size_t used;

    proto_init(p);
    ASSERT_TRUE(!proto_in_progress(p));
    ASSERT_TRUE(proto_request(p) == NULL);
    ASSERT_EQ(proto_feed(p, "", 0, &used), PROTO_NEED_MORE);
    ASSERT_EQ(used, 0);
    ASSERT_TRUE(!proto_in_progress(p));
    ASSERT_EQ(proto_feed(p, "req", 3, &used), PROTO_NEED_MORE);
    ASSERT_TRUE(proto_in_progress(p));
    ASSERT_EQ(proto_feed(p, "uest=smtpd_access_policy\n", 25, &used), PROTO_NEED_MORE);
    ASSERT_TRUE(proto_in_progress(p));
    ASSERT_EQ(proto_feed(p, "\nrest", 5, &used), PROTO_REQUEST);
    ASSERT_EQ(used, 1);
    ASSERT_TRUE(!proto_in_progress(p));
    proto_reset(p);
    ASSERT_TRUE(!proto_in_progress(p));
    ASSERT_TRUE(proto_request(p) == NULL);
    TEST_PASS("in-progress and state");
}

static void test_reply(void)
{
    static const struct {
        const char *name;
        const char *action;
        size_t len; /* 0: strlen(action) */
        size_t outlen;
        int want; /* > 0: bytes written */
    } cases[] = {
        {"DUNNO", "DUNNO", 0, 64, 14},
        {"reject", "REJECT 5.7.1 mailbox blocked, ref 8f2c", 0, 64, 47},
        {"defer", "DEFER_IF_PERMIT 4.7.1 rate limit", 0, 64, 41},
        {"explicit code", "450 4.7.1 Try again later", 0, 64, 34},
        {"HOLD", "HOLD compromised", 0, 64, 25},
        {"exact fit", "DUNNO", 0, 14, 14},
        {"one short", "DUNNO", 0, 13, PROTO_ERR_REPLY_TOO_LONG},
        {"empty", "", 0, 64, PROTO_ERR_REPLY_EMPTY},
        {"spaces", "   ", 0, 64, PROTO_ERR_REPLY_EMPTY},
        {"tab", "\t ", 0, 64, PROTO_ERR_REPLY_EMPTY},
        {"LF", "DUNNO\n", 0, 64, PROTO_ERR_REPLY_BAD_CHAR},
        {"LF injection", "DUNNO\n\naction=OK", 0, 64, PROTO_ERR_REPLY_BAD_CHAR},
        {"CR", "REJECT a\rb", 0, 64, PROTO_ERR_REPLY_BAD_CHAR},
        {"NUL", "REJECT a\0b", 10, 64, PROTO_ERR_REPLY_BAD_CHAR},
        {"lone LF", "\n", 0, 64, PROTO_ERR_REPLY_BAD_CHAR},
    };
    char out[PD_MAX_REPLY + 16], big[PD_MAX_REPLY + 16];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].action);
        int rc;

        memset(out, '#', sizeof(out));
        rc = proto_format_reply(out, cases[i].outlen, cases[i].action, len);
        ASSERT_EQ(rc, cases[i].want);
        if (rc > 0) {
            ASSERT_EQ(rc, len + 9);
            ASSERT_TRUE(memcmp(out, "action=", 7) == 0);
            ASSERT_TRUE(memcmp(out + 7, cases[i].action, len) == 0);
            ASSERT_TRUE(memcmp(out + 7 + len, "\n\n", 2) == 0);
        }
        ASSERT_EQ(out[rc > 0 ? rc : 0], '#'); /* nothing beyond */
        TEST_PASS(cases[i].name);
    }
    memset(big, 'A', sizeof(big));
    ASSERT_EQ(proto_format_reply(out, sizeof(out), big, PD_MAX_REPLY - 9), PD_MAX_REPLY);
    ASSERT_EQ(proto_format_reply(out, sizeof(out), big, PD_MAX_REPLY - 8),
              PROTO_ERR_REPLY_TOO_LONG);
    ASSERT_EQ(proto_format_reply(out, sizeof(out), big, (size_t)-1), PROTO_ERR_REPLY_TOO_LONG);
    TEST_PASS("reply at and over PD_MAX_REPLY");
}

static void test_strerror(void)
{
    int a, b;

    for (a = PROTO_REQUEST; a >= PROTO_ERR_REPLY_TOO_LONG; a--) {
        const char *s = proto_strerror(a);

        ASSERT_TRUE(s != NULL && *s != '\0');
        ASSERT_TRUE(strcmp(s, proto_strerror(-100)) != 0);
        for (b = a - 1; b >= PROTO_ERR_REPLY_TOO_LONG; b--)
            ASSERT_TRUE(strcmp(s, proto_strerror(b)) != 0);
    }
    ASSERT_STR_EQ(proto_strerror(PROTO_ERR_LINE_TOO_LONG), "line too long");
    ASSERT_STR_EQ(proto_strerror(42), "unknown protocol error");
    TEST_PASS("strerror for every code");
}

/* ---- golden files ---- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0) {
        rewind(f);
        buf = malloc((size_t)n + 1);
        ASSERT_TRUE(buf != NULL);
        ASSERT_EQ(fread(buf, 1, (size_t)n, f), n);
        buf[n] = '\0';
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

static void golden_one(struct proto_parser *p, const char *name)
{
    static const size_t chunks[] = {0, 1, 7, 4096};
    char path[512];
    struct text got = {0}, again = {0};
    char *in, *want;
    size_t inlen, wantlen, i;

    snprintf(path, sizeof(path), GOLDEN_DIR "/%s.in", name);
    in = slurp(path, &inlen);
    ASSERT_TRUE(in != NULL);
    run(&got, p, in, inlen, 0);
    snprintf(path, sizeof(path), GOLDEN_DIR "/%s.want", name);
    if (getenv("TEST_GOLDEN_WRITE") != NULL) {
        FILE *f = fopen(path, "wb");

        ASSERT_TRUE(f != NULL && fwrite(got.buf, 1, got.len, f) == got.len);
        fclose(f);
    }
    want = slurp(path, &wantlen);
    if (want == NULL || strcmp(want, got.buf) != 0)
        fprintf(stderr, "golden %s: got:\n%s", name, got.buf);
    ASSERT_TRUE(want != NULL);
    ASSERT_STR_EQ(got.buf, want);
    for (i = 1; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        run(&again, p, in, inlen, chunks[i]);
        ASSERT_STR_EQ(again.buf, want);
    }
    free(in);
    free(want);
    free(got.buf);
    free(again.buf);
    TEST_PASS(name);
}

static void test_golden(struct proto_parser *p)
{
    DIR *d = opendir(GOLDEN_DIR);
    struct dirent *e;
    int n = 0;

    ASSERT_TRUE(d != NULL);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char name[256];

        if (len < 4 || len - 3 >= sizeof(name) || strcmp(e->d_name + len - 3, ".in") != 0)
            continue;
        memcpy(name, e->d_name, len - 3);
        name[len - 3] = '\0';
        golden_one(p, name);
        n++;
    }
    closedir(d);
    ASSERT_TRUE(n >= 12);
}

int main(void)
{
    struct proto_parser *p = malloc(sizeof(*p));

    ASSERT_TRUE(p != NULL);
    test_rcpt37(p);
    test_split(p);
    test_pipelined(p);
    test_errors(p);
    test_limits(p);
    test_values(p);
    test_names(p);
    test_state(p);
    test_reply();
    test_strerror();
    test_golden(p);
    free(p);
    TEST_SUMMARY();
    return 0;
}
