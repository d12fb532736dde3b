/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_pqjson - unit tests of the parsers behind "policyctl queue"
 * DESCRIPTION
 *      Table-driven: real "postqueue -j" lines of Postfix 3.7 (deferred, hold, a bounce with
 *      the null sender, several recipients, a UTF-8 sender), lines that must be refused
 *      with the right code (not JSON, not an object, missing or mistyped members, queue
 *      ids that could smuggle a second line or a path into postsuper's input, overlong
 *      strings, duplicate members, "\u0000", invalid UTF-8, trailing garbage), the queue
 *      id check, address comparison, the SASL login in "postcat -e" output (and message
 *      content that must not pose as it), and postsuper's "removed" lines. Every error
 *      message must be one line of printable ASCII, and a refused line leaves no
 *      half-filled result.
 * SEE ALSO
 *      policyd/pqjson.c, tests/unit/testlib.h
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/pqjson.h"
#include "tests/unit/testlib.h"

static void check_msg(const struct pd_err *err)
{
    const char *p;

    ASSERT_TRUE(err->msg[0] != '\0');
    for (p = err->msg; *p; p++)
        ASSERT_TRUE((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

/* ---- lines that parse ---------------------------------------------------------------- */

struct good_case {
    const char *name, *line;
    const char *queue, *id, *sender;
    long long arrival, size;
    size_t nrcpt;
    bool expired;
};

static const struct good_case good[] = {
    {"deferred, two recipients",
     "{\"queue_name\": \"deferred\", \"queue_id\": \"4C630A7A326\", \"arrival_time\": "
     "1795433388, \"message_size\": 296, \"forced_expire\": false, \"sender\": "
     "\"alice@example.com\", \"recipients\": [{\"address\": \"x1@victim.example\", "
     "\"delay_reason\": \"deferred transport\"}, {\"address\": \"x2@victim.example\", "
     "\"delay_reason\": \"deferred transport\"}]}",
     "deferred", "4C630A7A326", "alice@example.com", 1795433388, 296, 2, false},
    {"hold queue, no delay reason",
     "{\"queue_name\": \"hold\", \"queue_id\": \"3211FA7A2AF\", \"arrival_time\": 1795433582, "
     "\"message_size\": 318, \"forced_expire\": false, \"sender\": \"billing@evil.example\", "
     "\"recipients\": [{\"address\": \"x2@victim.example\"}]}",
     "hold", "3211FA7A2AF", "billing@evil.example", 1795433582, 318, 1, false},
    {"bounce: the null sender",
     "{\"queue_name\": \"active\", \"queue_id\": \"ABCDEF012\", \"arrival_time\": 1, "
     "\"message_size\": 2000, \"forced_expire\": true, \"sender\": \"\", \"recipients\": "
     "[{\"address\": \"bob@example.com\"}]}",
     "active", "ABCDEF012", "", 1, 2000, 1, true},
    {"long queue id, unknown members ignored, optional members absent",
     "{\"queue_name\": \"incoming\", \"queue_id\": \"4Lq7vW2m0Xz9kTy\", \"sender\": "
     "\"a@b\", \"recipients\": [], \"future_member\": {\"x\": [1, 2]}}",
     "incoming", "4Lq7vW2m0Xz9kTy", "a@b", -1, -1, 0, false},
    {"UTF-8 sender (SMTPUTF8), escaped in JSON",
     "{\"queue_name\": \"deferred\", \"queue_id\": \"A1\", \"sender\": "
     "\"j\\u00fcrgen@m\\u00fcller.example\", \"recipients\": [{\"address\": \"x@y\"}]}",
     "deferred", "A1", "j\xc3\xbcrgen@m\xc3\xbcller.example", -1, -1, 1, false},
    {"white space around the object",
     "  {\"queue_name\":\"maildrop\",\"queue_id\":\"Z\",\"sender\":\"s@t\","
     "\"recipients\":[{},{},{}]}  ",
     "maildrop", "Z", "s@t", -1, -1, 3, false},
};

static void test_good(void)
{
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const struct good_case *c = &good[i];
        struct pqjson_msg m;
        struct pd_err err;
        int rc = pqjson_parse(c->line, strlen(c->line), &m, &err);

        if (rc != 0)
            fprintf(stderr, "%s: %s\n", c->name, err.msg);
        ASSERT_EQ(rc, 0);
        ASSERT_STR_EQ(m.queue_name, c->queue);
        ASSERT_STR_EQ(m.queue_id, c->id);
        ASSERT_STR_EQ(m.sender, c->sender);
        ASSERT_EQ(m.arrival_time, c->arrival);
        ASSERT_EQ(m.message_size, c->size);
        ASSERT_EQ(m.nrcpt, c->nrcpt);
        ASSERT_EQ(m.forced_expire, c->expired);
        TEST_PASS(c->name);
    }
}

/* ---- lines that must be refused -------------------------------------------------------- */

struct bad_case {
    const char *name;
    const char *line;
    size_t len; /* 0: strlen */
    int want;
};

#define OKREST "\"sender\": \"a@b\", \"recipients\": []"
#define OKHEAD "\"queue_name\": \"deferred\", \"queue_id\": \"ABC123\""
#define NULLINE "{\"queue_name\": \"deferred\", \"queue_id\": \"A\0B\", " OKREST "}"

static const struct bad_case bad[] = {
    {"empty line", "", 0, PQJSON_ERR_JSON},
    {"not JSON", "postqueue: fatal: Queue report unavailable", 0, PQJSON_ERR_JSON},
    {"an array", "[1, 2]", 0, PQJSON_ERR_JSON},
    {"a string", "\"deferred\"", 0, PQJSON_ERR_JSON},
    {"truncated object", "{\"queue_name\": \"deferred\", \"queue_id\": \"AB", 0,
     PQJSON_ERR_JSON},
    {"two objects on one line", "{" OKHEAD ", " OKREST "}{" OKHEAD ", " OKREST "}", 0,
     PQJSON_ERR_JSON},
    {"duplicate queue_id",
     "{\"queue_name\": \"deferred\", \"queue_id\": \"ABC\", \"queue_id\": \"DEF\", " OKREST "}",
     0, PQJSON_ERR_JSON},
    {"\\u0000 in the sender", "{" OKHEAD ", \"sender\": \"a\\u0000@b\", \"recipients\": []}", 0,
     PQJSON_ERR_JSON},
    {"raw NUL byte in the queue id", NULLINE, sizeof(NULLINE) - 1, PQJSON_ERR_JSON},
    {"invalid UTF-8", "{" OKHEAD ", \"sender\": \"\xff\xfe@b\", \"recipients\": []}", 0,
     PQJSON_ERR_JSON},
    {"queue_name missing", "{\"queue_id\": \"ABC\", " OKREST "}", 0, PQJSON_ERR_FIELD},
    {"queue_name empty", "{\"queue_name\": \"\", \"queue_id\": \"ABC\", " OKREST "}", 0,
     PQJSON_ERR_FIELD},
    {"queue_name a number", "{\"queue_name\": 1, \"queue_id\": \"ABC\", " OKREST "}", 0,
     PQJSON_ERR_FIELD},
    {"queue_name too long",
     "{\"queue_name\": \"deferreddeferreddeferred\", \"queue_id\": \"ABC\", " OKREST "}", 0,
     PQJSON_ERR_TOO_LONG},
    {"queue_id missing", "{\"queue_name\": \"hold\", " OKREST "}", 0, PQJSON_ERR_FIELD},
    {"queue_id a number", "{\"queue_name\": \"hold\", \"queue_id\": 123, " OKREST "}", 0,
     PQJSON_ERR_FIELD},
    {"queue_id empty", "{\"queue_name\": \"hold\", \"queue_id\": \"\", " OKREST "}", 0,
     PQJSON_ERR_QUEUE_ID},
    {"queue_id with a newline (a second postsuper line)",
     "{\"queue_name\": \"hold\", \"queue_id\": \"ABC\\nALL\", " OKREST "}", 0,
     PQJSON_ERR_QUEUE_ID},
    {"queue_id ALL with a space", "{\"queue_name\": \"hold\", \"queue_id\": \"ALL \", " OKREST
                                  "}",
     0, PQJSON_ERR_QUEUE_ID},
    {"queue_id a path", "{\"queue_name\": \"hold\", \"queue_id\": \"../../etc\", " OKREST "}", 0,
     PQJSON_ERR_QUEUE_ID},
    {"queue_id an option", "{\"queue_name\": \"hold\", \"queue_id\": \"-d\", " OKREST "}", 0,
     PQJSON_ERR_QUEUE_ID},
    {"queue_id too long",
     "{\"queue_name\": \"hold\", \"queue_id\": \"0123456789abcdef0123456789abcdef0\", " OKREST
     "}",
     0, PQJSON_ERR_QUEUE_ID},
    {"queue_id non-ASCII", "{\"queue_name\": \"hold\", \"queue_id\": \"AB\\u00c9\", " OKREST "}",
     0, PQJSON_ERR_QUEUE_ID},
    {"sender missing", "{" OKHEAD ", \"recipients\": []}", 0, PQJSON_ERR_FIELD},
    {"sender null", "{" OKHEAD ", \"sender\": null, \"recipients\": []}", 0, PQJSON_ERR_FIELD},
    {"recipients missing", "{" OKHEAD ", \"sender\": \"a@b\"}", 0, PQJSON_ERR_FIELD},
    {"recipients an object", "{" OKHEAD ", \"sender\": \"a@b\", \"recipients\": {}}", 0,
     PQJSON_ERR_FIELD},
    {"arrival_time a string", "{" OKHEAD ", " OKREST ", \"arrival_time\": \"1\"}", 0,
     PQJSON_ERR_FIELD},
    {"arrival_time negative", "{" OKHEAD ", " OKREST ", \"arrival_time\": -5}", 0,
     PQJSON_ERR_FIELD},
    {"message_size a real", "{" OKHEAD ", " OKREST ", \"message_size\": 1.5}", 0,
     PQJSON_ERR_FIELD},
    {"forced_expire a string", "{" OKHEAD ", " OKREST ", \"forced_expire\": \"no\"}", 0,
     PQJSON_ERR_FIELD},
};

static void test_bad(void)
{
    char longsender[PQJSON_ADDR_MAX + 200];
    struct pqjson_msg m;
    struct pd_err err;
    size_t i;
    int rc;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct bad_case *c = &bad[i];

        memset(&m, 'x', sizeof(m));
        rc = pqjson_parse(c->line, c->len ? c->len : strlen(c->line), &m, &err);
        if (rc != c->want)
            fprintf(stderr, "%s: got %d (%s), want %d\n", c->name, rc, err.msg, c->want);
        ASSERT_EQ(rc, c->want);
        check_msg(&err);
        ASSERT_STR_EQ(m.queue_id, ""); /* nothing half-filled */
        ASSERT_STR_EQ(m.sender, "");
        ASSERT_EQ(m.nrcpt, 0);
        TEST_PASS(c->name);
    }
    /* a sender one byte over the buffer, then one that fits exactly */
    for (i = 0; i < 2; i++) {
        size_t n = PQJSON_ADDR_MAX + 1 - i;
        int o = snprintf(longsender, sizeof(longsender), "{" OKHEAD ", \"sender\": \"");

        memset(longsender + o, 'a', n);
        snprintf(longsender + o + n, sizeof(longsender) - o - n, "\", \"recipients\": []}");
        rc = pqjson_parse(longsender, strlen(longsender), &m, &err);
        ASSERT_EQ(rc, i == 0 ? PQJSON_ERR_TOO_LONG : 0);
        ASSERT_EQ(strlen(m.sender), i == 0 ? 0 : PQJSON_ADDR_MAX);
    }
    TEST_PASS("sender length limit");
    ASSERT_TRUE(strcmp(pqjson_strerror(PQJSON_ERR_QUEUE_ID), "unknown error") != 0);
    ASSERT_STR_EQ(pqjson_strerror(-99), "unknown error");
    TEST_PASS("strerror");
}

/* ---- the small helpers --------------------------------------------------------------- */

static void test_ids_and_addresses(void)
{
    static const char *const ok[] = {"A", "4C630A7A326", "4Lq7vW2m0Xz9kTy",
                                     "0123456789abcdef0123456789abcdef", NULL};
    static const char *const no[] = {"", " ", "A B", "A\n", "-d", "ALL\n", "a/b", "..", "A.B",
                                     "0123456789abcdef0123456789abcdef0", "\xc3\x89", NULL};
    static const struct {
        const char *a, *b;
        bool eq;
    } addr[] = {
        {"alice@example.com", "alice@example.com", true},
        {"Alice@EXAMPLE.com", "alice@example.com", true},
        {"alice@example.com", "alice@example.co", false},
        {"alice@example.co", "alice@example.com", false},
        {"", "", true},
        {"", "a", false},
        {"\xc3\x89@x", "\xc3\xa9@x", false}, /* only ASCII letters fold */
        {"a@x.example", "a@x-example", false},
    };
    size_t i;

    for (i = 0; ok[i] != NULL; i++)
        ASSERT_TRUE(pqjson_valid_id(ok[i], strlen(ok[i])));
    for (i = 0; no[i] != NULL; i++)
        ASSERT_TRUE(!pqjson_valid_id(no[i], strlen(no[i])));
    ASSERT_TRUE(!pqjson_valid_id("AB\0CD", 5));
    TEST_PASS("queue ids");
    for (i = 0; i < sizeof(addr) / sizeof(addr[0]); i++) {
        ASSERT_EQ(pqjson_addr_eq(addr[i].a, addr[i].b), addr[i].eq);
        ASSERT_EQ(pqjson_addr_eq(addr[i].b, addr[i].a), addr[i].eq);
    }
    TEST_PASS("addresses");
}

static void test_postcat(void)
{
    static const char real[] =
        "*** ENVELOPE RECORDS deferred/4/4C630A7A326 ***\n"
        "message_size:             296             784               2               0\n"
        "named_attribute: log_ident=4C630A7A326\n"
        "named_attribute: sasl_method=PLAIN\n"
        "named_attribute: sasl_username=alice@example.com\n"
        "sender: billing@evil.example\n"
        "named_attribute: client_address=45.1.2.3\n"
        "recipient: x1@victim.example\n";
    static const char none[] = "*** ENVELOPE RECORDS deferred/4/AB ***\n"
                               "sender: bob@example.com\nrecipient: y@z.example\n"
                               "*** MESSAGE CONTENTS deferred/4/AB ***\n"
                               "named_attribute: sasl_username=alice@example.com\n";
    static const char crlf[] = "named_attribute: sasl_username=carol@example.com\r\n";
    static const char last[] = "x\nnamed_attribute: sasl_username=dave@example.com";
    static const char empty[] = "named_attribute: sasl_username=\n";
    char out[PQJSON_ADDR_MAX + 1], small[8];

    ASSERT_EQ(pqjson_postcat_login(real, sizeof(real) - 1, out, sizeof(out)), 1);
    ASSERT_STR_EQ(out, "alice@example.com");
    TEST_PASS("postcat: the SASL login of a real queue file");
    ASSERT_EQ(pqjson_postcat_login(none, sizeof(none) - 1, out, sizeof(out)), 0);
    ASSERT_STR_EQ(out, "");
    TEST_PASS("postcat: no login; message content does not pose as the attribute");
    ASSERT_EQ(pqjson_postcat_login(crlf, sizeof(crlf) - 1, out, sizeof(out)), 1);
    ASSERT_STR_EQ(out, "carol@example.com");
    ASSERT_EQ(pqjson_postcat_login(last, sizeof(last) - 1, out, sizeof(out)), 1);
    ASSERT_STR_EQ(out, "dave@example.com");
    ASSERT_EQ(pqjson_postcat_login(empty, sizeof(empty) - 1, out, sizeof(out)), 1);
    ASSERT_STR_EQ(out, "");
    ASSERT_EQ(pqjson_postcat_login(real, sizeof(real) - 1, small, sizeof(small)),
              PQJSON_ERR_TOO_LONG);
    ASSERT_EQ(pqjson_postcat_login("", 0, out, sizeof(out)), 0);
    TEST_PASS("postcat: CRLF, no final newline, empty value, too small a buffer");
}

static void test_postsuper(void)
{
    static const struct {
        const char *line, *id;
    } cases[] = {
        {"postsuper: 4C630A7A326: removed", "4C630A7A326"},
        {"4C630A7A326: removed", "4C630A7A326"},
        {"postsuper: 4Lq7vW2m0Xz9kTy: removed\r", "4Lq7vW2m0Xz9kTy"},
        {"postsuper: Deleted: 1 message", NULL},
        {"postsuper: warning: invalid mail queue id: bad/id", NULL},
        {"postsuper: bad/id: removed", NULL},
        {"postsuper: : removed", NULL},
        {": removed", NULL},
        {"postsuper: 4C63 0A: removed", NULL},
        {"", NULL},
    };
    char id[PQJSON_ID_MAX + 1];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = pqjson_postsuper_removed(cases[i].line, strlen(cases[i].line), id);

        ASSERT_EQ(got, cases[i].id != NULL);
        ASSERT_STR_EQ(id, cases[i].id != NULL ? cases[i].id : "");
    }
    TEST_PASS("postsuper removed lines");
}

int main(void)
{
    test_good();
    test_bad();
    test_ids_and_addresses();
    test_postcat();
    test_postsuper();
    TEST_SUMMARY();
    return 0;
}
