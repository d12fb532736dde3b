/* SPDX-License-Identifier: MIT */
/*
 * test_jsonreq - the status socket's request parser: every command and field, and an
 * adversarial list (not JSON, truncated, deep nesting, huge strings, wrong types, NUL
 * bytes raw and escaped, bad UTF-8, duplicate keys, unknown commands and fields). A bad
 * request must give its own error code and a message naming the problem; none may crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/jsonreq.h"
#include "tests/unit/testlib.h"

struct rc_case {
    const char *name;
    const char *input;
    int want;                /* 0 or a JSONREQ_ERR_* code */
    int cmd;                 /* with want == 0: the command */
    enum jsonreq_role role;  /* with want == 0: the role it needs */
    const char *msg_part;    /* with want < 0: a part of the message, or NULL */
};

#define OK(n, in, c, r) {n, in, 0, c, r, NULL}
#define BAD(n, in, code, part) {n, in, code, 0, 0, part}

static const struct rc_case rc_cases[] = {
    /* every command, minimal */
    OK("ping", "{\"cmd\":\"ping\"}", JSONREQ_PING, JSONREQ_ROLE_NONE),
    OK("status", "{\"cmd\":\"status\"}", JSONREQ_STATUS, JSONREQ_ROLE_READ),
    OK("metrics", "{\"cmd\":\"metrics\"}", JSONREQ_METRICS, JSONREQ_ROLE_READ),
    OK("show", "{\"cmd\":\"show\",\"user\":\"alice@example.com\"}", JSONREQ_SHOW,
       JSONREQ_ROLE_READ),
    OK("list", "{\"cmd\":\"list\"}", JSONREQ_LIST, JSONREQ_ROLE_READ),
    OK("list with every filter",
       "{\"cmd\":\"list\",\"offset\":10,\"limit\":100,\"reason\":\"manual\",\"domain\":\"x.org\"}",
       JSONREQ_LIST, JSONREQ_ROLE_READ),
    OK("audit", "{\"cmd\":\"audit\",\"limit\":5}", JSONREQ_AUDIT, JSONREQ_ROLE_READ),
    OK("block", "{\"cmd\":\"block\",\"user\":\"a@b\",\"reason\":\"phished\",\"operator\":\"bob\"}",
       JSONREQ_BLOCK, JSONREQ_ROLE_ADMIN),
    OK("unblock with ref and false_positive",
       "{\"cmd\":\"unblock\",\"user\":\"a@b\",\"reason\":\"ok\",\"operator\":\"bob\","
       "\"ref\":\"PD-0A1B2C3D\",\"false_positive\":true}",
       JSONREQ_UNBLOCK, JSONREQ_ROLE_ADMIN),
    OK("override get (mailbox) is a read", "{\"cmd\":\"override\",\"user\":\"a@b\"}",
       JSONREQ_OVERRIDE, JSONREQ_ROLE_READ),
    OK("override get (domain) is a read", "{\"cmd\":\"override\",\"domain\":\"Example.COM\"}",
       JSONREQ_OVERRIDE, JSONREQ_ROLE_READ),
    OK("override set is a write",
       "{\"cmd\":\"override\",\"user\":\"a@b\",\"operator\":\"o\",\"set\":{\"lim_rcpt_hour\":100,"
       "\"exempt\":true,\"profile\":\"bulk\",\"raise_until\":\"+2h\",\"raise_rcpt_day\":\"900\"}}",
       JSONREQ_OVERRIDE, JSONREQ_ROLE_ADMIN),
    OK("override clear all", "{\"cmd\":\"override\",\"domain\":\"x.org\",\"operator\":\"o\","
                             "\"clear\":true}",
       JSONREQ_OVERRIDE, JSONREQ_ROLE_ADMIN),
    OK("override clear some", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                              "\"clear\":[\"profile\",\"exempt\"]}",
       JSONREQ_OVERRIDE, JSONREQ_ROLE_ADMIN),
    OK("null in set deletes", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                              "\"set\":{\"profile\":null}}",
       JSONREQ_OVERRIDE, JSONREQ_ROLE_ADMIN),
    OK("id and token with any command", "{\"id\":7,\"token\":\"s3cret\",\"cmd\":\"status\"}",
       JSONREQ_STATUS, JSONREQ_ROLE_READ),
    OK("white space and CRLF around", "  \t{ \"cmd\" : \"ping\" }\t \r", JSONREQ_PING,
       JSONREQ_ROLE_NONE),
    OK("brackets inside strings are not nesting",
       "{\"cmd\":\"show\",\"user\":\"[[[[[{{{{{\\\"]]]\"}", JSONREQ_SHOW, JSONREQ_ROLE_READ),
    OK("UTF-8 login", "{\"cmd\":\"show\",\"user\":\"j\xc3\xb6rg@example.de\"}", JSONREQ_SHOW,
       JSONREQ_ROLE_READ),
    OK("login with braces and spaces", "{\"cmd\":\"show\",\"user\":\"{a} b@c\"}", JSONREQ_SHOW,
       JSONREQ_ROLE_READ),

    /* not a request at all */
    BAD("empty line", "", JSONREQ_ERR_EMPTY, "empty"),
    BAD("blanks only", " \t \r", JSONREQ_ERR_EMPTY, NULL),
    BAD("not JSON", "hello", JSONREQ_ERR_SYNTAX, "not JSON"),
    BAD("truncated object", "{\"cmd\":\"pi", JSONREQ_ERR_SYNTAX, NULL),
    BAD("truncated after colon", "{\"cmd\":", JSONREQ_ERR_SYNTAX, NULL),
    BAD("open brace only", "{", JSONREQ_ERR_SYNTAX, NULL),
    BAD("single quotes", "{'cmd':'ping'}", JSONREQ_ERR_SYNTAX, NULL),
    BAD("trailing garbage", "{\"cmd\":\"ping\"} x", JSONREQ_ERR_SYNTAX, NULL),
    BAD("two objects on a line", "{\"cmd\":\"ping\"}{\"cmd\":\"ping\"}", JSONREQ_ERR_SYNTAX,
        NULL),
    BAD("trailing comma", "{\"cmd\":\"ping\",}", JSONREQ_ERR_SYNTAX, NULL),
    BAD("a bare string", "\"ping\"", JSONREQ_ERR_SYNTAX, NULL),
    BAD("bytes quoted in jansson's message are made printable", "\x1b[2J\xff\xfe",
        JSONREQ_ERR_SYNTAX, "not JSON"),
    BAD("a number", "42", JSONREQ_ERR_SYNTAX, NULL),
    BAD("an array", "[\"ping\"]", JSONREQ_ERR_TYPE, "object"),
    BAD("duplicate key", "{\"cmd\":\"ping\",\"cmd\":\"status\"}", JSONREQ_ERR_SYNTAX,
        "duplicate"),
    BAD("escaped NUL in a value", "{\"cmd\":\"show\",\"user\":\"a\\u0000b\"}",
        JSONREQ_ERR_SYNTAX, NULL),
    BAD("escaped NUL in a key", "{\"cmd\":\"ping\",\"a\\u0000\":1}", JSONREQ_ERR_SYNTAX, NULL),
    BAD("bad UTF-8", "{\"cmd\":\"show\",\"user\":\"\xff\xfe\"}", JSONREQ_ERR_SYNTAX, NULL),
    BAD("overlong UTF-8 encoding", "{\"cmd\":\"show\",\"user\":\"\xc0\xaf\"}",
        JSONREQ_ERR_SYNTAX, NULL),
    BAD("lone surrogate escape", "{\"cmd\":\"show\",\"user\":\"\\ud800\"}", JSONREQ_ERR_SYNTAX,
        NULL),

    /* nesting */
    BAD("three levels", "{\"cmd\":\"override\",\"user\":\"a\",\"set\":{\"x\":{}}}",
        JSONREQ_ERR_DEPTH, "nested"),
    BAD("deep arrays", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", JSONREQ_ERR_DEPTH, NULL),
    BAD("deep objects", "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}", JSONREQ_ERR_DEPTH, NULL),

    /* commands */
    BAD("unknown command", "{\"cmd\":\"shutdown\"}", JSONREQ_ERR_COMMAND, "shutdown"),
    BAD("commands are case-sensitive", "{\"cmd\":\"PING\"}", JSONREQ_ERR_COMMAND, NULL),
    BAD("empty command", "{\"cmd\":\"\"}", JSONREQ_ERR_COMMAND, NULL),
    BAD("command with a prefix match", "{\"cmd\":\"pingx\"}", JSONREQ_ERR_COMMAND, NULL),
    BAD("no command", "{\"user\":\"a\"}", JSONREQ_ERR_MISSING, "cmd"),
    BAD("empty object", "{}", JSONREQ_ERR_MISSING, NULL),
    BAD("command is a number", "{\"cmd\":1}", JSONREQ_ERR_TYPE, "cmd"),
    BAD("command is null", "{\"cmd\":null}", JSONREQ_ERR_TYPE, NULL),
    BAD("command is a list", "{\"cmd\":[\"ping\"]}", JSONREQ_ERR_TYPE, NULL),
    BAD("unprintable command name is quoted",
        "{\"cmd\":\"\\u001b[31mred\"}", JSONREQ_ERR_COMMAND, "?[31mred"),

    /* fields */
    BAD("unknown field", "{\"cmd\":\"ping\",\"force\":1}", JSONREQ_ERR_FIELD, "force"),
    BAD("field the command does not take", "{\"cmd\":\"status\",\"user\":\"a\"}",
        JSONREQ_ERR_FIELD, "status takes no \"user\""),
    BAD("show without user", "{\"cmd\":\"show\"}", JSONREQ_ERR_MISSING, "user"),
    BAD("block without operator", "{\"cmd\":\"block\",\"user\":\"a\",\"reason\":\"r\"}",
        JSONREQ_ERR_MISSING, "operator"),
    BAD("block without reason", "{\"cmd\":\"block\",\"user\":\"a\",\"operator\":\"o\"}",
        JSONREQ_ERR_MISSING, "reason"),
    BAD("unblock without user", "{\"cmd\":\"unblock\",\"reason\":\"r\",\"operator\":\"o\"}",
        JSONREQ_ERR_MISSING, "user"),
    BAD("override without target", "{\"cmd\":\"override\"}", JSONREQ_ERR_MISSING, "user"),
    BAD("override of user and domain", "{\"cmd\":\"override\",\"user\":\"a\",\"domain\":\"b\"}",
        JSONREQ_ERR_VALUE, "not both"),
    BAD("override write without operator",
        "{\"cmd\":\"override\",\"user\":\"a\",\"set\":{\"exempt\":1}}", JSONREQ_ERR_MISSING,
        "operator"),

    /* types */
    BAD("id a string", "{\"cmd\":\"ping\",\"id\":\"7\"}", JSONREQ_ERR_TYPE, "id"),
    BAD("id a real", "{\"cmd\":\"ping\",\"id\":1.5}", JSONREQ_ERR_TYPE, NULL),
    BAD("user a number", "{\"cmd\":\"show\",\"user\":5}", JSONREQ_ERR_TYPE, "user"),
    BAD("user null", "{\"cmd\":\"show\",\"user\":null}", JSONREQ_ERR_TYPE, NULL),
    BAD("user an object", "{\"cmd\":\"show\",\"user\":{}}", JSONREQ_ERR_TYPE, NULL),
    BAD("user empty", "{\"cmd\":\"show\",\"user\":\"\"}", JSONREQ_ERR_VALUE, "empty"),
    BAD("limit a string", "{\"cmd\":\"list\",\"limit\":\"10\"}", JSONREQ_ERR_TYPE, "limit"),
    BAD("limit zero", "{\"cmd\":\"list\",\"limit\":0}", JSONREQ_ERR_VALUE, "1..100"),
    BAD("limit over the page", "{\"cmd\":\"list\",\"limit\":101}", JSONREQ_ERR_VALUE, NULL),
    BAD("offset negative", "{\"cmd\":\"audit\",\"offset\":-1}", JSONREQ_ERR_VALUE, NULL),
    BAD("offset huge", "{\"cmd\":\"audit\",\"offset\":99999999999999999999}",
        JSONREQ_ERR_SYNTAX, NULL),
    BAD("false_positive a string",
        "{\"cmd\":\"unblock\",\"user\":\"a\",\"reason\":\"r\",\"operator\":\"o\","
        "\"false_positive\":\"yes\"}",
        JSONREQ_ERR_TYPE, "false_positive"),
    BAD("set a list", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\",\"set\":[]}",
        JSONREQ_ERR_TYPE, "set"),
    BAD("set empty", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\",\"set\":{}}",
        JSONREQ_ERR_VALUE, "empty"),
    BAD("clear a string", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                          "\"clear\":\"all\"}",
        JSONREQ_ERR_TYPE, "clear"),
    BAD("clear false", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\",\"clear\":false}",
        JSONREQ_ERR_TYPE, NULL),
    BAD("clear an empty list", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                               "\"clear\":[]}",
        JSONREQ_ERR_TYPE, NULL),
    BAD("clear of numbers", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                            "\"clear\":[1]}",
        JSONREQ_ERR_TYPE, NULL),

    /* values */
    BAD("list reason not a block reason", "{\"cmd\":\"list\",\"reason\":\"other\"}",
        JSONREQ_ERR_VALUE, "compromise"),
    BAD("domain with a space", "{\"cmd\":\"list\",\"domain\":\"exa mple.org\"}",
        JSONREQ_ERR_VALUE, "domain"),
    BAD("domain with dots only", "{\"cmd\":\"override\",\"domain\":\"..\"}", JSONREQ_ERR_VALUE,
        NULL),
    BAD("domain with a leading dot", "{\"cmd\":\"override\",\"domain\":\".x.org\"}",
        JSONREQ_ERR_VALUE, NULL),
    BAD("domain with a newline", "{\"cmd\":\"override\",\"domain\":\"x.org\\n\"}",
        JSONREQ_ERR_VALUE, "control"),
    BAD("ref with a space", "{\"cmd\":\"unblock\",\"user\":\"a\",\"reason\":\"r\","
                            "\"operator\":\"o\",\"ref\":\"PD 1\"}",
        JSONREQ_ERR_VALUE, "ref"),
    BAD("reason with a newline (log injection)",
        "{\"cmd\":\"block\",\"user\":\"a\",\"reason\":\"x\\nstatus: op=unblock\","
        "\"operator\":\"o\"}",
        JSONREQ_ERR_VALUE, "control"),
    BAD("operator with a tab", "{\"cmd\":\"block\",\"user\":\"a\",\"reason\":\"r\","
                               "\"operator\":\"o\\t\"}",
        JSONREQ_ERR_VALUE, "operator"),
    BAD("unknown override", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                            "\"set\":{\"lim_rcpt_week\":1}}",
        JSONREQ_ERR_VALUE, "lim_rcpt_week"),
    BAD("exempt maybe", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                        "\"set\":{\"exempt\":\"maybe\"}}",
        JSONREQ_ERR_VALUE, "exempt"),
    BAD("exempt 2", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                    "\"set\":{\"exempt\":2}}",
        JSONREQ_ERR_VALUE, NULL),
    BAD("profile with capitals", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                                 "\"set\":{\"profile\":\"Bulk\"}}",
        JSONREQ_ERR_VALUE, "profile"),
    BAD("profile with a space (token injection)",
        "{\"cmd\":\"override\",\"domain\":\"x.org\",\"operator\":\"o\","
        "\"set\":{\"profile\":\"bulk exempt=1\"}}",
        JSONREQ_ERR_VALUE, NULL),
    BAD("limit negative", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                          "\"set\":{\"lim_rcpt_hour\":-1}}",
        JSONREQ_ERR_VALUE, "lim_rcpt_hour"),
    BAD("limit too big", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                         "\"set\":{\"lim_msg_day\":10000001}}",
        JSONREQ_ERR_VALUE, NULL),
    BAD("limit a real", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                        "\"set\":{\"lim_msg_day\":1.5}}",
        JSONREQ_ERR_VALUE, NULL),
    BAD("limit as words", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                          "\"set\":{\"lim_msg_day\":\"ten\"}}",
        JSONREQ_ERR_VALUE, NULL),
    BAD("raise of zero seconds", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                                 "\"set\":{\"raise_until\":\"+0s\"}}",
        JSONREQ_ERR_VALUE, "raise_until"),
    BAD("raise with a bad unit", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                                 "\"set\":{\"raise_until\":\"+2x\"}}",
        JSONREQ_ERR_VALUE, NULL),
    BAD("raise longer than a year", "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\","
                                    "\"set\":{\"raise_until\":\"+400d\"}}",
        JSONREQ_ERR_VALUE, NULL),
    BAD("set and clear the same field",
        "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\",\"set\":{\"exempt\":1},"
        "\"clear\":[\"exempt\"]}",
        JSONREQ_ERR_VALUE, "both"),
};

static void test_rc_table(void)
{
    size_t i;

    for (i = 0; i < sizeof(rc_cases) / sizeof(rc_cases[0]); i++) {
        const struct rc_case *c = &rc_cases[i];
        struct jsonreq r;
        char err[256];
        int rc = jsonreq_parse(c->input, strlen(c->input), &r, err, sizeof(err));

        if (rc != c->want)
            fprintf(stderr, "case \"%s\": rc %d (%s) message \"%s\"\n", c->name, rc,
                    jsonreq_strerror(rc), err);
        ASSERT_EQ(rc, c->want);
        if (rc == 0) {
            ASSERT_EQ(r.cmd, c->cmd);
            ASSERT_EQ(jsonreq_role_needed(&r), c->role);
        } else {
            size_t j;

            ASSERT_TRUE(err[0] != '\0');
            for (j = 0; err[j] != '\0'; j++)
                ASSERT_TRUE(err[j] >= 0x20 && err[j] < 0x7f); /* safe for logs and JSON */
            if (c->msg_part != NULL && strstr(err, c->msg_part) == NULL) {
                fprintf(stderr, "case \"%s\": message \"%s\" lacks \"%s\"\n", c->name, err,
                        c->msg_part);
                abort();
            }
        }
        TEST_PASS(c->name);
    }
}

/* What the fields hold after a good parse. */
static void test_values(void)
{
    struct jsonreq r;
    char err[256];
    const char *in;

    in = "{\"id\":-3,\"cmd\":\"unblock\",\"user\":\" Alice@Example.COM \",\"reason\":\"called "
         "her\",\"operator\":\"bob\",\"ref\":\"PD-0A1B2C3D\",\"false_positive\":true,"
         "\"token\":\"t0k\"}";
    ASSERT_EQ(jsonreq_parse(in, strlen(in), &r, err, sizeof(err)), 0);
    ASSERT_TRUE(r.has_id);
    ASSERT_EQ(r.id, -3);
    ASSERT_STR_EQ(r.user, " Alice@Example.COM "); /* normalised by the caller, as decide does */
    ASSERT_EQ(r.user_len, 19);
    ASSERT_STR_EQ(r.text, "called her");
    ASSERT_STR_EQ(r.oper, "bob");
    ASSERT_STR_EQ(r.ref, "PD-0A1B2C3D");
    ASSERT_TRUE(r.false_positive);
    ASSERT_TRUE(r.has_token);
    ASSERT_STR_EQ(r.token, "t0k");
    ASSERT_TRUE(jsonreq_is_write(&r));
    TEST_PASS("unblock fields");

    in = "{\"cmd\":\"list\",\"reason\":\"weak-password\",\"domain\":\"Example.ORG\"}";
    ASSERT_EQ(jsonreq_parse(in, strlen(in), &r, err, sizeof(err)), 0);
    ASSERT_STR_EQ(r.filter_reason, "weak-password");
    ASSERT_STR_EQ(r.domain, "example.org");
    ASSERT_EQ(r.offset, 0);
    ASSERT_EQ(r.limit, JSONREQ_PAGE_DEFAULT);
    ASSERT_TRUE(!r.has_id);
    ASSERT_TRUE(!jsonreq_is_write(&r));
    TEST_PASS("list filters, domain lowercased, default page");

    in = "{\"cmd\":\"override\",\"user\":\"a@b\",\"operator\":\"o\",\"set\":{\"exempt\":\"yes\","
         "\"lim_rcpt_hour\":\"0\",\"raise_until\":\"+90m\",\"raise_msg_day\":10000000,"
         "\"profile\":null},\"clear\":[\"lim_msg_day\"]}";
    ASSERT_EQ(jsonreq_parse(in, strlen(in), &r, err, sizeof(err)), 0);
    ASSERT_TRUE(r.ovr_set[JSONREQ_OVR_EXEMPT]);
    ASSERT_STR_EQ(r.ovr_val[JSONREQ_OVR_EXEMPT], "1");
    ASSERT_STR_EQ(r.ovr_val[JSONREQ_OVR_LIM_RCPT_HOUR], "0");
    ASSERT_STR_EQ(r.ovr_val[JSONREQ_OVR_RAISE_UNTIL], "+5400");
    ASSERT_STR_EQ(r.ovr_val[JSONREQ_OVR_RAISE_MSG_DAY], "10000000");
    ASSERT_TRUE(r.ovr_set[JSONREQ_OVR_PROFILE]);
    ASSERT_STR_EQ(r.ovr_val[JSONREQ_OVR_PROFILE], "");
    ASSERT_TRUE(r.ovr_set[JSONREQ_OVR_LIM_MSG_DAY]);
    ASSERT_STR_EQ(r.ovr_val[JSONREQ_OVR_LIM_MSG_DAY], "");
    ASSERT_TRUE(!r.ovr_set[JSONREQ_OVR_LIM_MSG_HOUR]);
    ASSERT_TRUE(!r.ovr_clear_all);
    TEST_PASS("override values as the ovr hash stores them; null and clear delete");

    in = "{\"cmd\":\"override\",\"user\":\"a\",\"operator\":\"o\",\"set\":{\"exempt\":false,"
         "\"raise_until\":1700000000}}";
    ASSERT_EQ(jsonreq_parse(in, strlen(in), &r, err, sizeof(err)), 0);
    ASSERT_STR_EQ(r.ovr_val[JSONREQ_OVR_EXEMPT], "0");
    ASSERT_STR_EQ(r.ovr_val[JSONREQ_OVR_RAISE_UNTIL], "1700000000");
    TEST_PASS("exempt false, absolute raise_until");

    in = "{\"id\":99,\"cmd\":\"nope\"}";
    ASSERT_EQ(jsonreq_parse(in, strlen(in), &r, err, sizeof(err)), JSONREQ_ERR_COMMAND);
    ASSERT_TRUE(r.has_id);
    ASSERT_EQ(r.id, 99);
    TEST_PASS("the id is known even when the command is not");
}

/* Limits: exactly at them passes, one byte over fails; a huge line fails early. */
static void test_limits(void)
{
    size_t big = JSONREQ_MAX_LINE + 100, n;
    char *buf = malloc(big + 1), err[256];
    struct jsonreq r;

    n = (size_t)snprintf(buf, big, "{\"cmd\":\"show\",\"user\":\"");
    memset(buf + n, 'u', JSONREQ_USER_MAX);
    strcpy(buf + n + JSONREQ_USER_MAX, "\"}");
    ASSERT_EQ(jsonreq_parse(buf, strlen(buf), &r, err, sizeof(err)), 0);
    ASSERT_EQ(r.user_len, JSONREQ_USER_MAX);
    TEST_PASS("a login of JSONREQ_USER_MAX bytes");

    memset(buf + n, 'u', JSONREQ_USER_MAX + 1);
    strcpy(buf + n + JSONREQ_USER_MAX + 1, "\"}");
    ASSERT_EQ(jsonreq_parse(buf, strlen(buf), &r, err, sizeof(err)), JSONREQ_ERR_VALUE);
    ASSERT_TRUE(strstr(err, "longer than 1024") != NULL);
    TEST_PASS("a login one byte longer");

    n = (size_t)snprintf(buf, big, "{\"cmd\":\"block\",\"user\":\"a\",\"operator\":\"o\","
                                   "\"reason\":\"");
    memset(buf + n, 'r', JSONREQ_TEXT_MAX + 1);
    strcpy(buf + n + JSONREQ_TEXT_MAX + 1, "\"}");
    ASSERT_EQ(jsonreq_parse(buf, strlen(buf), &r, err, sizeof(err)), JSONREQ_ERR_VALUE);
    TEST_PASS("a reason over JSONREQ_TEXT_MAX");

    n = (size_t)snprintf(buf, big, "{\"cmd\":\"ping\",\"token\":\"");
    memset(buf + n, 't', JSONREQ_TOKEN_MAX + 1);
    strcpy(buf + n + JSONREQ_TOKEN_MAX + 1, "\"}");
    ASSERT_EQ(jsonreq_parse(buf, strlen(buf), &r, err, sizeof(err)), JSONREQ_ERR_VALUE);
    TEST_PASS("a token over JSONREQ_TOKEN_MAX");

    n = (size_t)snprintf(buf, big, "{\"cmd\":\"show\",\"user\":\"");
    memset(buf + n, 'x', big - n);
    buf[big] = '\0';
    ASSERT_EQ(jsonreq_parse(buf, big, &r, err, sizeof(err)), JSONREQ_ERR_TOO_LONG);
    ASSERT_EQ(jsonreq_parse(buf, JSONREQ_MAX_LINE + 1, &r, err, sizeof(err)),
              JSONREQ_ERR_TOO_LONG);
    TEST_PASS("a line over JSONREQ_MAX_LINE");

    memset(buf, '[', big);
    ASSERT_EQ(jsonreq_parse(buf, JSONREQ_MAX_LINE, &r, err, sizeof(err)), JSONREQ_ERR_DEPTH);
    TEST_PASS("65536 nested arrays stop at the scan");
    free(buf);
}

/* Raw NUL bytes: anywhere in the line, including inside a string and after the object. */
static void test_nul(void)
{
    static const char a[] = "{\"cmd\":\"show\",\"user\":\"al\0ice\"}";
    static const char b[] = "{\"cmd\":\"ping\"}\0";
    static const char c[] = "\0{\"cmd\":\"ping\"}";
    struct jsonreq r;
    char err[256];

    ASSERT_EQ(jsonreq_parse(a, sizeof(a) - 1, &r, err, sizeof(err)), JSONREQ_ERR_NUL);
    ASSERT_TRUE(strstr(err, "offset 24") != NULL);
    ASSERT_EQ(jsonreq_parse(b, sizeof(b) - 1, &r, err, sizeof(err)), JSONREQ_ERR_NUL);
    ASSERT_EQ(jsonreq_parse(c, sizeof(c) - 1, &r, err, sizeof(err)), JSONREQ_ERR_NUL);
    TEST_PASS("raw NUL bytes");
}

/* The names: every command and override round-trips; error codes are distinct. */
static void test_names(void)
{
    int i, j;
    char line[128], err[256];
    struct jsonreq r;

    for (i = 0; i < JSONREQ_NCMDS; i++) {
        snprintf(line, sizeof(line), "{\"cmd\":\"%s\"}", jsonreq_cmd_name(i));
        ASSERT_TRUE(jsonreq_parse(line, strlen(line), &r, err, sizeof(err)) !=
                    JSONREQ_ERR_COMMAND);
    }
    for (i = 0; i < JSONREQ_OVR_N; i++)
        ASSERT_EQ(jsonreq_ovr_lookup(jsonreq_ovr_name(i), strlen(jsonreq_ovr_name(i))), i);
    ASSERT_EQ(jsonreq_ovr_lookup("exemp", 5), -1);
    ASSERT_EQ(jsonreq_ovr_lookup("exempt\0", 7), -1);
    for (i = JSONREQ_ERR_VALUE; i <= 0; i++)
        for (j = JSONREQ_ERR_VALUE; j < i; j++)
            ASSERT_TRUE(strcmp(jsonreq_strerror(i), jsonreq_strerror(j)) != 0);
    ASSERT_STR_EQ(jsonreq_strerror(-99), "unknown-error");
    ASSERT_STR_EQ(jsonreq_role_name(JSONREQ_ROLE_ADMIN), "admin");
    ASSERT_STR_EQ(jsonreq_cmd_name(JSONREQ_NCMDS), "?");
    TEST_PASS("names and error codes");
}

int main(void)
{
    test_rc_table();
    test_values();
    test_limits();
    test_nul();
    test_names();
    TEST_SUMMARY();
    return 0;
}
