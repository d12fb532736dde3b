/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_config - unit tests of the table-driven policyd.conf parser
 * SYNOPSIS
 *      build/tests/test_config        (run from the repository root)
 * DESCRIPTION
 *      Table-driven cases for every value type (valid, invalid, bounds), durations,
 *      lists, continuation lines and comments, error lines and messages, cfg_print and
 *      its -n form, cfg_set (policyd -o), cfg_check, secret files (in a mkdtemp directory
 *      under /tmp), reference counting, and the repository's policyd.conf: it must yield
 *      exactly the defaults and document every key of the table as "#name = default".
 * DIAGNOSTICS
 *      Aborts on the first failed assertion; prints "N passed, 0 failed" at the end.
 * SEE ALSO
 *      policyd/config.c, tests/unit/testlib.h
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policyd/config.h"
#include "tests/unit/testlib.h"

#define MS_S 1000LL
#define MS_D (86400LL * MS_S)

/* ---- helpers ----------------------------------------------------------------------- */

static int parse(struct pd_config *c, const char *text, struct pd_err *err)
{
    cfg_defaults(c);
    return cfg_parse_buf(c, text, strlen(text), err);
}

/* printed - cfg_print into a malloc'd string. */
static char *printed(const struct pd_config *c, bool non_default_only)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    ASSERT_TRUE(f != NULL);
    cfg_print(c, f, non_default_only);
    fclose(f);
    return buf;
}

/* has_line - whether text holds line as one whole line. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    const char *p = text;

    while ((p = strstr(p, line)) != NULL) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
        p += 1;
    }
    return false;
}

/* value_of - the printed value of key ("" when empty), in a static-free malloc'd string. */
static char *value_of(const struct pd_config *c, const char *key)
{
    char *all = printed(c, false), *p = all, *v = NULL;
    size_t klen = strlen(key);

    while (p != NULL && *p) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ' ' && p[klen + 1] == '=') {
            char *s = p + klen + 2, *e = strchr(s, '\n');
            if (*s == ' ')
                s++;
            v = strndup(s, (size_t)(e - s));
            break;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    free(all);
    ASSERT_TRUE(v != NULL);
    return v;
}

static bool msg_is_clean(const char *msg)
{
    for (; *msg; msg++)
        if ((unsigned char)*msg < 0x20 || (unsigned char)*msg >= 0x7f)
            return false;
    return true;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    ASSERT_TRUE(f != NULL);
    fputs(text, f);
    fclose(f);
    ASSERT_EQ(chmod(path, mode), 0);
}

/* ---- defaults ---------------------------------------------------------------------- */

static void test_defaults(void)
{
    struct pd_config c;

    cfg_defaults(&c);
    ASSERT_EQ(c.refs, 1);
    ASSERT_EQ(c.listen.n, 1);
    ASSERT_STR_EQ(c.listen.v[0], "inet:127.0.0.1:10040");
    ASSERT_EQ(c.unix_socket_mode, 0660);
    ASSERT_STR_EQ(c.unix_socket_group, "");
    ASSERT_STR_EQ(c.run_user, "nobody");
    ASSERT_EQ(c.max_connections, 4096);
    ASSERT_EQ(c.idle_timeout_ms, 900 * MS_S);
    ASSERT_STR_EQ(c.syslog_facility, "mail");
    ASSERT_STR_EQ(c.syslog_name, "policyd");
    ASSERT_STR_EQ(c.redis_server, "127.0.0.1:6379");
    ASSERT_STR_EQ(c.redis_password_file, "");
    ASSERT_TRUE(c.redis_password == NULL);
    ASSERT_EQ(c.redis_timeout_ms, 200);
    ASSERT_STR_EQ(c.redis_fail_action, "DUNNO");
    ASSERT_STR_EQ(c.redis_key_prefix, "pd:");
    ASSERT_STR_EQ(c.recipient_hash_key_file, "");
    ASSERT_TRUE(c.recipient_hash_key == NULL);
    ASSERT_STR_EQ(c.mailbox_default_domain, "");
    ASSERT_EQ(c.network_prefix_v4, 24);
    ASSERT_EQ(c.network_prefix_v6, 48);
    ASSERT_STR_EQ(c.sender_login_match, "domain");
    ASSERT_STR_EQ(c.sender_login_maps, "");
    ASSERT_EQ(c.trust_request_time, false);
    ASSERT_EQ(c.limit_recipients_per_hour, 500);
    ASSERT_EQ(c.limit_recipients_per_day, 2000);
    ASSERT_EQ(c.limit_messages_per_hour, 200);
    ASSERT_EQ(c.limit_messages_per_day, 1000);
    ASSERT_STR_EQ(c.rate_limit_action,
                  "DEFER_IF_PERMIT 4.7.1 Sending rate limit reached, please try again later");
    ASSERT_STR_EQ(c.overrides_file, "");
    ASSERT_STR_EQ(c.mode, "enforce");
    ASSERT_EQ(c.observe_prepend, false);
    ASSERT_STR_EQ(c.block_reject_text,
                  "5.7.1 Sending from this mailbox is suspended because it appears to be used "
                  "by someone else; change your password to restore it (ref %r)");
    ASSERT_EQ(c.hold_enabled, true);
    ASSERT_STR_EQ(c.hold_text, "message held for review");
    ASSERT_EQ(c.learning_period_ms, 28 * MS_D);
    ASSERT_EQ(c.learning_min_messages, 50);
    ASSERT_EQ(c.probation_period_ms, 7 * MS_D);
    ASSERT_EQ(cfg_check(&c, &(struct pd_err){{0}, 0}), 0);
    cfg_free_fields(&c);
    TEST_PASS("defaults");
}

/* ---- every type: valid values ------------------------------------------------------ */

static const struct {
    const char *name, *input, *key, *want;
} valid_cases[] = {
    {"bool yes", "trust_request_time = yes", "trust_request_time", "yes"},
    {"bool true", "trust_request_time = true", "trust_request_time", "yes"},
    {"bool 1", "trust_request_time = 1", "trust_request_time", "yes"},
    {"bool YES", "trust_request_time = YES", "trust_request_time", "yes"},
    {"bool no", "hold_enabled = no", "hold_enabled", "no"},
    {"bool false", "hold_enabled = false", "hold_enabled", "no"},
    {"bool 0", "hold_enabled = 0", "hold_enabled", "no"},
    {"int min", "max_connections = 1", "max_connections", "1"},
    {"int max", "max_connections = 1000000", "max_connections", "1000000"},
    {"int zero is off", "limit_messages_per_hour = 0", "limit_messages_per_hour", "0"},
    {"int limit max", "limit_recipients_per_day = 10000000", "limit_recipients_per_day",
     "10000000"},
    {"prefix v4 min", "network_prefix_v4 = 8", "network_prefix_v4", "8"},
    {"prefix v6 max", "network_prefix_v6 = 128", "network_prefix_v6", "128"},
    {"duration ms min", "redis_timeout = 10ms", "redis_timeout", "10ms"},
    {"duration 60s max", "redis_timeout = 60s", "redis_timeout", "1m"},
    {"duration bare", "redis_timeout = 2", "redis_timeout", "2s"},
    {"duration 1500ms", "redis_timeout = 1500ms", "redis_timeout", "1500ms"},
    {"duration 1d", "idle_timeout = 1d", "idle_timeout", "1d"},
    {"duration 5m", "idle_timeout = 5m", "idle_timeout", "5m"},
    {"duration 2w", "learning_period = 2w", "learning_period", "2w"},
    {"duration 0", "probation_period = 0", "probation_period", "0s"},
    {"duration 36h", "probation_period = 36h", "probation_period", "36h"},
    {"list one", "listen = unix:/run/policyd/policyd.sock", "listen",
     "unix:/run/policyd/policyd.sock"},
    {"list mixed", "listen = inet:127.0.0.1:1,unix:/run/p.sock  inet:[::1]:2 ,\tinet:0.0.0.0:3",
     "listen", "inet:127.0.0.1:1, unix:/run/p.sock, inet:[::1]:2, inet:0.0.0.0:3"},
    {"list v6 full", "listen = inet:[2001:db8::1]:65535", "listen", "inet:[2001:db8::1]:65535"},
    {"mode 0600", "unix_socket_mode = 0600", "unix_socket_mode", "0600"},
    {"mode 660", "unix_socket_mode = 660", "unix_socket_mode", "0660"},
    {"mode 0", "unix_socket_mode = 0", "unix_socket_mode", "0000"},
    {"mode 0777", "unix_socket_mode = 0777", "unix_socket_mode", "0777"},
    {"enum local7", "syslog_facility = local7", "syslog_facility", "local7"},
    {"enum any case", "syslog_facility = LOCAL3", "syslog_facility", "local3"},
    {"enum daemon", "syslog_facility = daemon", "syslog_facility", "daemon"},
    {"enum login none", "sender_login_match = none", "sender_login_match", "none"},
    {"enum login address", "sender_login_match = address", "sender_login_match", "address"},
    {"enum observe", "mode = observe", "mode", "observe"},
    {"action DUNNO", "redis_fail_action = DUNNO", "redis_fail_action", "DUNNO"},
    {"action defer text", "redis_fail_action = DEFER_IF_PERMIT 4.3.0 try later",
     "redis_fail_action", "DEFER_IF_PERMIT 4.3.0 try later"},
    {"action code", "rate_limit_action = 451 4.7.1 slow down", "rate_limit_action",
     "451 4.7.1 slow down"},
    {"action 5xx", "rate_limit_action = 550 5.7.1 no", "rate_limit_action", "550 5.7.1 no"},
    {"action lower case", "redis_fail_action = reject", "redis_fail_action", "reject"},
    {"action prepend", "redis_fail_action = PREPEND X-Policyd: redis down", "redis_fail_action",
     "PREPEND X-Policyd: redis down"},
    {"action hold", "rate_limit_action = HOLD", "rate_limit_action", "HOLD"},
    {"redis unix", "redis_server = unix:/run/redis/redis.sock", "redis_server",
     "unix:/run/redis/redis.sock"},
    {"redis host name", "redis_server = redis.example.com:6380", "redis_server",
     "redis.example.com:6380"},
    {"redis v6", "redis_server = [::1]:6379", "redis_server", "[::1]:6379"},
    {"prefix chars", "redis_key_prefix = a:b_c.d-1", "redis_key_prefix", "a:b_c.d-1"},
    {"prefix 32", "redis_key_prefix = abcdefghijklmnopqrstuvwxyz012345", "redis_key_prefix",
     "abcdefghijklmnopqrstuvwxyz012345"},
    {"domain", "mailbox_default_domain = mail.example.org", "mailbox_default_domain",
     "mail.example.org"},
    {"empty string", "run_user =", "run_user", ""},
    {"group", "unix_socket_group = postfix", "unix_socket_group", "postfix"},
    {"path", "overrides_file = /etc/policyd/overrides", "overrides_file",
     "/etc/policyd/overrides"},
    {"secret path", "redis_password_file = /etc/policyd/redis.pw", "redis_password_file",
     "/etc/policyd/redis.pw"},
    {"hash in value", "hold_text = held # see ticket", "hold_text", "held # see ticket"},
    {"spaces kept inside", "hold_text = a   b", "hold_text", "a   b"},
    {"ref text %%", "block_reject_text = 5.7.1 100%% blocked (ref %r)", "block_reject_text",
     "5.7.1 100%% blocked (ref %r)"},
    {"syslog name", "syslog_name = postfix/policyd", "syslog_name", "postfix/policyd"},
    {"no blanks around =", "max_connections=77", "max_connections", "77"},
    {"tabs around =", "max_connections\t=\t78\t", "max_connections", "78"},
    {"last wins", "max_connections = 5\nmax_connections = 6", "max_connections", "6"},
    {"crlf", "max_connections = 9\r\nrun_user = x\r\n", "max_connections", "9"},
    {"rule key", "rule_hold_score = 7", "rule_hold_score", "7"},
};

static void test_valid(void)
{
    size_t i;

    for (i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        struct pd_config c;
        struct pd_err err;
        char *v;

        if (parse(&c, valid_cases[i].input, &err) != 0) {
            fprintf(stderr, "%s: %d: %s\n", valid_cases[i].name, err.line, err.msg);
            abort();
        }
        v = value_of(&c, valid_cases[i].key);
        ASSERT_STR_EQ(v, valid_cases[i].want);
        free(v);
        cfg_free_fields(&c);
        TEST_PASS(valid_cases[i].name);
    }
}

/* ---- every type: invalid values and syntax errors ---------------------------------- */

static const struct {
    const char *name, *input;
    int rc, line;
    const char *msg; /* substring of the message */
} invalid_cases[] = {
    {"bool maybe", "hold_enabled = maybe", CFG_ERR_VALUE, 1,
     "bad value for hold_enabled: \"maybe\": expected yes or no"},
    {"bool empty", "hold_enabled =", CFG_ERR_VALUE, 1, "expected yes or no"},
    {"int text", "max_connections = many", CFG_ERR_VALUE, 1, "expected an integer"},
    {"int suffix", "max_connections = 12x", CFG_ERR_VALUE, 1, "expected an integer"},
    {"int empty", "max_connections =", CFG_ERR_VALUE, 1, "expected an integer"},
    {"int plus", "max_connections = +5", CFG_ERR_VALUE, 1, "expected an integer"},
    {"int hex", "max_connections = 0x10", CFG_ERR_VALUE, 1, "expected an integer"},
    {"int below", "max_connections = 0", CFG_ERR_VALUE, 1,
     "bad value for max_connections: \"0\": out of range (1..1000000)"},
    {"int above", "max_connections = 1000001", CFG_ERR_VALUE, 1, "out of range (1..1000000)"},
    {"int negative", "limit_messages_per_day = -1", CFG_ERR_VALUE, 1, "out of range (0..10000000)"},
    {"int limit above", "limit_recipients_per_hour = 10000001", CFG_ERR_VALUE, 1, "out of range"},
    {"int overflow", "max_connections = 99999999999999999999", CFG_ERR_VALUE, 1, "out of range"},
    {"int neg overflow", "max_connections = -99999999999999999999", CFG_ERR_VALUE, 1,
     "out of range"},
    {"v4 prefix 7", "network_prefix_v4 = 7", CFG_ERR_VALUE, 1, "out of range (8..32)"},
    {"v4 prefix 33", "network_prefix_v4 = 33", CFG_ERR_VALUE, 1, "out of range (8..32)"},
    {"v6 prefix 15", "network_prefix_v6 = 15", CFG_ERR_VALUE, 1, "out of range (16..128)"},
    {"v6 prefix 129", "network_prefix_v6 = 129", CFG_ERR_VALUE, 1, "out of range (16..128)"},
    {"duration 5x", "idle_timeout = 5x", CFG_ERR_VALUE, 1,
     "bad value for idle_timeout: \"5x\": expected a number with an optional unit"},
    {"duration unit only", "idle_timeout = s", CFG_ERR_VALUE, 1, "expected a number"},
    {"duration space", "idle_timeout = 5 s", CFG_ERR_VALUE, 1, "expected a number"},
    {"duration upper", "idle_timeout = 5M", CFG_ERR_VALUE, 1, "expected a number"},
    {"duration fraction", "idle_timeout = 1.5h", CFG_ERR_VALUE, 1, "expected a number"},
    {"duration negative", "probation_period = -1d", CFG_ERR_VALUE, 1, "expected a number"},
    {"duration overflow", "learning_period = 99999999999999999999w", CFG_ERR_VALUE, 1,
     "out of range (0s..365d)"},
    {"duration too short", "redis_timeout = 9ms", CFG_ERR_VALUE, 1, "out of range (10ms..1m)"},
    {"duration too long", "redis_timeout = 61s", CFG_ERR_VALUE, 1, "out of range (10ms..1m)"},
    {"idle below", "idle_timeout = 999ms", CFG_ERR_VALUE, 1, "out of range (1s..1d)"},
    {"idle above", "idle_timeout = 2d", CFG_ERR_VALUE, 1, "out of range (1s..1d)"},
    {"listen host name", "listen = inet:localhost:10040", CFG_ERR_VALUE, 1,
     "\"inet:localhost:10040\": host must be an IPv4 address or [IPv6] address"},
    {"listen port 0", "listen = inet:127.0.0.1:0", CFG_ERR_VALUE, 1, "port must be a number"},
    {"listen port big", "listen = inet:127.0.0.1:65536", CFG_ERR_VALUE, 1, "port must be"},
    {"listen port text", "listen = inet:127.0.0.1:smtp", CFG_ERR_VALUE, 1, "port must be"},
    {"listen no port", "listen = inet:127.0.0.1", CFG_ERR_VALUE, 1,
     "bad value for listen: \"inet:127.0.0.1\": expected HOST:PORT"},
    {"listen bad v4", "listen = inet:127.0.0.256:1", CFG_ERR_VALUE, 1, "host must be"},
    {"listen v6 no bracket", "listen = inet:::1:10040", CFG_ERR_VALUE, 1, "host must be"},
    {"listen v6 open", "listen = inet:[::1:5", CFG_ERR_VALUE, 1, "expected [IPv6]:PORT"},
    {"listen bad v6", "listen = inet:[::g]:5", CFG_ERR_VALUE, 1, "bad IPv6 address"},
    {"listen empty host", "listen = inet::5", CFG_ERR_VALUE, 1, "bad host"},
    {"listen relative unix", "listen = unix:run/p.sock", CFG_ERR_VALUE, 1, "must be absolute"},
    {"listen second bad", "listen = inet:127.0.0.1:1, tcp:1.2.3.4:5", CFG_ERR_VALUE, 1,
     "tcp:1.2.3.4:5: expected inet:HOST:PORT or unix:/PATH"},
    {"listen long unix",
     "listen = unix:/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock",
     CFG_ERR_VALUE, 1, "unix socket path too long"},
    {"mode 8", "unix_socket_mode = 0668", CFG_ERR_VALUE, 1, "expected an octal mode"},
    {"mode big", "unix_socket_mode = 1777", CFG_ERR_VALUE, 1, "out of range (0000..0777)"},
    {"mode text", "unix_socket_mode = rw", CFG_ERR_VALUE, 1, "expected an octal mode"},
    {"mode empty", "unix_socket_mode =", CFG_ERR_VALUE, 1, "expected an octal mode"},
    {"enum local8", "syslog_facility = local8", CFG_ERR_VALUE, 1,
     "expected one of mail, daemon, user, local0"},
    {"enum login", "sender_login_match = maps", CFG_ERR_VALUE, 1,
     "expected one of none, address, domain, map"},
    {"enum mode", "mode = test", CFG_ERR_VALUE, 1, "expected one of enforce, observe"},
    {"enum empty", "mode =", CFG_ERR_VALUE, 1, "expected one of"},
    {"action empty", "redis_fail_action =", CFG_ERR_VALUE, 1, "must not be empty"},
    {"action ACCEPT", "redis_fail_action = ACCEPT", CFG_ERR_VALUE, 1,
     "expected an access(5) action"},
    {"action prefix word", "redis_fail_action = REJECTED", CFG_ERR_VALUE, 1, "access(5)"},
    {"action 6xx", "rate_limit_action = 650 no", CFG_ERR_VALUE, 1, "access(5)"},
    {"action 2 digits", "rate_limit_action = 45 no", CFG_ERR_VALUE, 1, "access(5)"},
    {"action 4 digits", "rate_limit_action = 4500 no", CFG_ERR_VALUE, 1, "access(5)"},
    {"action CR", "redis_fail_action = REJECT a\rb", CFG_ERR_VALUE, 1,
     "control or non-ASCII character"},
    {"action too long",
     "rate_limit_action = REJECT "
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
     CFG_ERR_VALUE, 1, "too long (max 450 characters)"},
    {"non-ascii text", "hold_text = h\xc3\xa9ld", CFG_ERR_VALUE, 1, "\"h??ld\""},
    {"ref text %s", "block_reject_text = 5.7.1 blocked %s", CFG_ERR_VALUE, 1,
     "'%' must be followed by 'r'"},
    {"ref text % at end", "block_reject_text = 5.7.1 blocked %", CFG_ERR_VALUE, 1,
     "'%' must be followed"},
    {"prefix empty", "redis_key_prefix =", CFG_ERR_VALUE, 1, "must not be empty"},
    {"prefix long", "redis_key_prefix = abcdefghijklmnopqrstuvwxyz0123456", CFG_ERR_VALUE, 1,
     "too long (max 32 characters)"},
    {"prefix bad char", "redis_key_prefix = pd{x}", CFG_ERR_VALUE, 1, "only letters, digits"},
    {"prefix space", "redis_key_prefix = p d", CFG_ERR_VALUE, 1, "only letters"},
    {"redis empty", "redis_server =", CFG_ERR_VALUE, 1, "must not be empty"},
    {"redis no port", "redis_server = localhost", CFG_ERR_VALUE, 1, "expected HOST:PORT"},
    {"redis bad port", "redis_server = 127.0.0.1:0", CFG_ERR_VALUE, 1, "port must be"},
    {"redis bad name", "redis_server = red_is:6379", CFG_ERR_VALUE, 1, "bad host name"},
    {"redis relative unix", "redis_server = unix:redis.sock", CFG_ERR_VALUE, 1,
     "must be absolute"},
    {"path relative", "sender_login_maps = senders", CFG_ERR_VALUE, 1,
     "bad value for sender_login_maps: \"senders\": must be an absolute path"},
    {"secret path relative", "redis_password_file = pw", CFG_ERR_VALUE, 1, "absolute path"},
    {"user dash", "run_user = -root", CFG_ERR_VALUE, 1, "must not start with '-'"},
    {"user colon", "run_user = a:b", CFG_ERR_VALUE, 1, "only letters"},
    {"group long", "unix_socket_group = abcdefghijklmnopqrstuvwxyz0123456", CFG_ERR_VALUE, 1,
     "too long"},
    {"domain space", "mailbox_default_domain = exa mple.org", CFG_ERR_VALUE, 1, "only letters"},
    {"domain empty label", "mailbox_default_domain = a..b", CFG_ERR_VALUE, 1, "empty label"},
    {"domain trailing dot", "mailbox_default_domain = a.b.", CFG_ERR_VALUE, 1, "must not end"},
    {"domain at", "mailbox_default_domain = @example.org", CFG_ERR_VALUE, 1, "only letters"},
    {"syslog name empty", "syslog_name =", CFG_ERR_VALUE, 1, "must not be empty"},
    {"syslog name space", "syslog_name = po licyd", CFG_ERR_VALUE, 1, "only letters"},
    {"rule below", "rule_hold_score = 0", CFG_ERR_VALUE, 1, "bad value for rule_hold_score"},
    {"unknown key", "# c\n\nmax_connections = 5\nmax_conections = 5\n", CFG_ERR_UNKNOWN, 4,
     "unknown parameter max_conections"},
    {"secret is no key", "redis_password = hunter2", CFG_ERR_UNKNOWN, 1,
     "unknown parameter redis_password"},
    {"hash key is no key", "recipient_hash_key = k", CFG_ERR_UNKNOWN, 1,
     "unknown parameter recipient_hash_key"},
    {"upper case key", "MAX_CONNECTIONS = 5", CFG_ERR_UNKNOWN, 1, "unknown parameter"},
    {"no equals", "max_connections = 5\n\nmax_connections 5\n", CFG_ERR_SYNTAX, 3,
     "missing '=' in \"max_connections 5\""},
    {"no name", "= 5", CFG_ERR_SYNTAX, 1, "missing parameter name"},
    {"leading blank first", "  max_connections = 5", CFG_ERR_SYNTAX, 1,
     "line starts with white space but continues no parameter"},
    {"leading blank after comment", "# x\n\tmax_connections = 5", CFG_ERR_SYNTAX, 2,
     "continues no parameter"},
    {"bad value in continuation", "run_user = x\nlisten = inet:127.0.0.1:1,\n  bogus\n",
     CFG_ERR_VALUE, 2, "bogus: expected inet:HOST:PORT"},
    {"second error not reached", "mode = x\nnope = 1", CFG_ERR_VALUE, 1, "bad value for mode"},
    {"error at eof no newline", "max_connections = 5\nmode = x", CFG_ERR_VALUE, 2, "mode"},
};

static void test_invalid(void)
{
    size_t i;

    for (i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
        struct pd_config c;
        struct pd_err err;
        int rc = parse(&c, invalid_cases[i].input, &err);

        if (rc != invalid_cases[i].rc || err.line != invalid_cases[i].line ||
            strstr(err.msg, invalid_cases[i].msg) == NULL) {
            fprintf(stderr, "%s: rc %d line %d msg \"%s\"\n", invalid_cases[i].name, rc,
                    err.line, err.msg);
            abort();
        }
        ASSERT_TRUE(msg_is_clean(err.msg));
        ASSERT_TRUE(strlen(cfg_strerror(rc)) > 0);
        cfg_free_fields(&c);
        TEST_PASS(invalid_cases[i].name);
    }
}

/* ---- special inputs: NUL, list size, value size, messages -------------------------- */

static void test_special(void)
{
    static const char nul[] = "max_connections = 5\nrun_user = a\0b\n";
    struct pd_config c;
    struct pd_err err;
    char *big;
    size_t i, n;

    cfg_defaults(&c);
    ASSERT_EQ(cfg_parse_buf(&c, nul, sizeof(nul) - 1, &err), CFG_ERR_SYNTAX);
    ASSERT_EQ(err.line, 2);
    ASSERT_STR_EQ(err.msg, "NUL byte in line");
    cfg_free_fields(&c);
    TEST_PASS("NUL byte");

    /* 64 listeners are fine, 65 are not. */
    big = malloc(65 * 32 + 32);
    for (n = 64; n <= 65; n++) {
        strcpy(big, "listen =");
        for (i = 0; i < n; i++)
            sprintf(big + strlen(big), " inet:127.0.0.1:%zu", 1000 + i);
        ASSERT_EQ(parse(&c, big, &err), n == 64 ? 0 : CFG_ERR_VALUE);
        if (n == 64)
            ASSERT_EQ(c.listen.n, 64);
        else
            ASSERT_TRUE(strstr(err.msg, "more than 64 elements") != NULL);
        cfg_free_fields(&c);
    }
    free(big);
    TEST_PASS("list size limit");

    /* A value built from continuation lines may not grow past 4096 bytes. */
    big = malloc(300 * 32);
    strcpy(big, "hold_text = x\n");
    for (i = 0; i < 250; i++)
        strcat(big, "  continued continued\n");
    ASSERT_EQ(parse(&c, big, &err), CFG_ERR_VALUE);
    ASSERT_EQ(err.line, 1);
    ASSERT_TRUE(strstr(err.msg, "bad value for hold_text: value too long") != NULL);
    cfg_free_fields(&c);
    free(big);
    TEST_PASS("value size limit");

    /* Messages never echo control characters and clip long values. */
    cfg_defaults(&c);
    ASSERT_EQ(cfg_set(&c, "hold_text", "a\x1b[31mred\x01\nREJECT", &err), CFG_ERR_VALUE);
    ASSERT_TRUE(msg_is_clean(err.msg));
    ASSERT_TRUE(strstr(err.msg, "\"a?[31mred??REJECT\"") != NULL);
    ASSERT_EQ(cfg_set(&c, "max_connections",
                      "1234567890123456789012345678901234567890123456789012345678901234567890",
                      &err),
              CFG_ERR_VALUE);
    ASSERT_TRUE(strstr(err.msg, "\"123456789012345678901234567890123456789012345678901234567890"
                                "...\"") != NULL);
    ASSERT_EQ(cfg_set(&c, "x\x01y", "1", &err), CFG_ERR_UNKNOWN);
    ASSERT_STR_EQ(err.msg, "unknown parameter x?y");
    ASSERT_EQ(c.max_connections, 4096); /* a failed set leaves the old value */
    ASSERT_STR_EQ(c.hold_text, "message held for review");
    cfg_free_fields(&c);
    TEST_PASS("messages sanitised");
}

/* ---- durations ---------------------------------------------------------------------- */

static const struct {
    const char *in;
    int rc;
    int64_t ms;
} duration_cases[] = {
    {"200ms", 0, 200},
    {"60s", 0, 60 * MS_S},
    {"5m", 0, 300 * MS_S},
    {"1h", 0, 3600 * MS_S},
    {"1d", 0, MS_D},
    {"2w", 0, 14 * MS_D},
    {"30", 0, 30 * MS_S},
    {"0", 0, 0},
    {"0ms", 0, 0},
    {"007s", 0, 7 * MS_S},
    {"9223372036854775807ms", 0, INT64_MAX},
    {"9223372036854775000", 0, 0}, /* rc checked below: overflow */
    {"5x", -1, 0},
    {"", -1, 0},
    {"s", -1, 0},
    {"ms", -1, 0},
    {"5S", -1, 0},
    {"5 s", -1, 0},
    {" 5s", -1, 0},
    {"5s ", -1, 0},
    {"-5s", -1, 0},
    {"+5s", -1, 0},
    {"1.5h", -1, 0},
    {"5mss", -1, 0},
    {"5sm", -1, 0},
    {"9223372036854775808ms", -2, 0},
    {"9223372036854775807s", -2, 0},
    {"99999999999999999999", -2, 0},
    {"15250284453w", -2, 0},
    {"15250284452w", 0, 15250284452LL * 7 * MS_D},
};

static void test_durations(void)
{
    size_t i;

    for (i = 0; i < sizeof(duration_cases) / sizeof(duration_cases[0]); i++) {
        int64_t ms = -42;
        int rc = cfg_parse_duration(duration_cases[i].in, &ms);
        int want = duration_cases[i].rc;

        if (strcmp(duration_cases[i].in, "9223372036854775000") == 0)
            want = -2;
        if (rc != want) {
            fprintf(stderr, "duration \"%s\": rc %d want %d\n", duration_cases[i].in, rc, want);
            abort();
        }
        if (want == 0)
            ASSERT_EQ(ms, duration_cases[i].ms);
        else
            ASSERT_EQ(ms, -42); /* untouched on error */
        TEST_PASS(duration_cases[i].in);
    }
}

/* ---- continuation lines and comments ----------------------------------------------- */

static void test_continuation(void)
{
    static const char text[] = "# policyd.conf\n"
                               "   # an indented comment\n"
                               "listen = inet:127.0.0.1:1,\n"
                               "# a comment between continuation lines, as in Postfix\n"
                               "    inet:127.0.0.1:2\n"
                               "\n"
                               "\tunix:/run/x.sock\n"
                               "hold_text =\n"
                               "  held for\n"
                               "  review  \n"
                               "run_user = a\n"
                               "    \n"
                               "max_connections = 5\n"
                               "max_connections = 7\n"
                               "#max_connections = 9\n";
    struct pd_config c;
    struct pd_err err;

    ASSERT_EQ(parse(&c, text, &err), 0);
    ASSERT_EQ(c.listen.n, 3);
    ASSERT_STR_EQ(c.listen.v[0], "inet:127.0.0.1:1");
    ASSERT_STR_EQ(c.listen.v[1], "inet:127.0.0.1:2");
    ASSERT_STR_EQ(c.listen.v[2], "unix:/run/x.sock");
    ASSERT_STR_EQ(c.hold_text, "held for review");
    ASSERT_STR_EQ(c.run_user, "a");
    ASSERT_EQ(c.max_connections, 7);
    cfg_free_fields(&c);
    TEST_PASS("continuation lines and comments");

    ASSERT_EQ(parse(&c, "", &err), 0);
    ASSERT_EQ(c.max_connections, 4096);
    cfg_free_fields(&c);
    ASSERT_EQ(parse(&c, "\n\n# only comments\n   \n", &err), 0);
    cfg_free_fields(&c);
    TEST_PASS("empty and comment-only files");
}

/* ---- cfg_print ---------------------------------------------------------------------- */

static void test_print(void)
{
    struct pd_config c, c2;
    struct pd_err err;
    char *out, *out2;

    ASSERT_EQ(parse(&c,
                    "max_connections = 10\n"
                    "idle_timeout = 15m\n" /* equal to the default 900s */
                    "mode = OBSERVE\n"
                    "redis_timeout = 1500ms\n"
                    "listen = inet:127.0.0.1:10040 unix:/run/p.sock\n"
                    "unix_socket_mode = 600\n"
                    "hold_enabled = false\n"
                    "rule_block_score = 9\n"
                    "redis_password_file = /etc/policyd/redis.pw\n",
                    &err),
              0);
    out = printed(&c, true);
    ASSERT_STR_EQ(out, "listen = inet:127.0.0.1:10040, unix:/run/p.sock\n"
                       "unix_socket_mode = 0600\n"
                       "max_connections = 10\n"
                       "redis_password_file = /etc/policyd/redis.pw\n"
                       "redis_timeout = 1500ms\n"
                       "mode = observe\n"
                       "hold_enabled = no\n"
                       "rule_block_score = 9\n");
    free(out);
    TEST_PASS("print -n");

    out = printed(&c, false);
    ASSERT_TRUE(has_line(out, "idle_timeout = 900s"));
    ASSERT_TRUE(has_line(out, "unix_socket_group ="));
    ASSERT_TRUE(has_line(out, "redis_key_prefix = pd:"));
    ASSERT_TRUE(has_line(out, "max_connections = 10"));
    ASSERT_TRUE(strstr(out, "redis_password =") == NULL);
    ASSERT_TRUE(strstr(out, "recipient_hash_key =") == NULL);
    TEST_PASS("print all");

    /* The full output reads back into the same configuration. */
    ASSERT_EQ(parse(&c2, out, &err), 0);
    out2 = printed(&c2, false);
    ASSERT_STR_EQ(out2, out);
    free(out);
    free(out2);
    cfg_free_fields(&c2);
    cfg_free_fields(&c);
    TEST_PASS("print round trip");

    cfg_defaults(&c);
    out = printed(&c, true);
    ASSERT_STR_EQ(out, "");
    free(out);
    cfg_free_fields(&c);
    TEST_PASS("print -n of defaults is empty");
}

/* ---- cfg_set (policyd -o) ----------------------------------------------------------- */

static const struct {
    const char *name, *value;
    int rc;
    const char *key, *want; /* printed value after a successful set */
} set_cases[] = {
    {"max_connections", "12", 0, "max_connections", "12"},
    {" max_connections ", " 13 ", 0, "max_connections", "13"},
    {"mode", "observe", 0, "mode", "observe"},
    {"listen", "unix:/tmp/p.sock, inet:[::1]:1", 0, "listen", "unix:/tmp/p.sock, inet:[::1]:1"},
    {"idle_timeout", "1h", 0, "idle_timeout", "1h"},
    {"rule_hold_score", "3", 0, "rule_hold_score", "3"},
    {"run_user", "", 0, "run_user", ""},
    {"nope", "1", CFG_ERR_UNKNOWN, NULL, NULL},
    {"", "1", CFG_ERR_UNKNOWN, NULL, NULL},
    {"redis_password", "x", CFG_ERR_UNKNOWN, NULL, NULL},
    {"max_connections", "0", CFG_ERR_VALUE, NULL, NULL},
    {"redis_fail_action", "DUNNO\naction=OK", CFG_ERR_VALUE, NULL, NULL},
    {"hold_text", "a\tb", 0, "hold_text", "a\tb"},
};

static void test_set(void)
{
    size_t i;

    for (i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
        struct pd_config c;
        struct pd_err err;
        char *v;

        cfg_defaults(&c);
        ASSERT_EQ(cfg_set(&c, set_cases[i].name, set_cases[i].value, &err), set_cases[i].rc);
        ASSERT_EQ(err.line, 0);
        if (set_cases[i].rc == 0) {
            v = value_of(&c, set_cases[i].key);
            ASSERT_STR_EQ(v, set_cases[i].want);
            free(v);
        } else {
            ASSERT_TRUE(msg_is_clean(err.msg));
        }
        cfg_free_fields(&c);
        TEST_PASS(set_cases[i].name);
    }
}

/* The rows of RULES_PARAMS, so every threshold is tested as the rules module adds it. */
static const struct {
    const char *name;
    long long def, lo, hi;
    size_t off;
} rule_rows[] = {
#define RULE_ROW(f, d, l, h) {"rule_" #f, (d), (l), (h), offsetof(struct pd_config, rules.f)},
    RULES_PARAMS(RULE_ROW)
#undef RULE_ROW
};

static long long rule_value(const struct pd_config *c, size_t i)
{
    return *(const long long *)((const char *)c + rule_rows[i].off);
}

/* Every rule threshold has its default, accepts its bounds and rejects one step beyond. */
static void test_rules(void)
{
    char num[32];
    struct pd_config c;
    struct pd_err err;
    size_t i, j;

    cfg_defaults(&c);
    for (i = 0; i < sizeof(rule_rows) / sizeof(rule_rows[0]); i++) {
        const struct {
            long long v;
            int rc;
        } tries[] = {{rule_rows[i].lo, 0},
                     {rule_rows[i].hi, 0},
                     {rule_rows[i].lo - 1, CFG_ERR_VALUE},
                     {rule_rows[i].hi + 1, CFG_ERR_VALUE}};

        ASSERT_TRUE(cfg_is_known_key(rule_rows[i].name));
        ASSERT_EQ(rule_value(&c, i), rule_rows[i].def);
        for (j = 0; j < sizeof(tries) / sizeof(tries[0]); j++) {
            snprintf(num, sizeof(num), "%lld", tries[j].v);
            ASSERT_EQ(cfg_set(&c, rule_rows[i].name, num, &err), tries[j].rc);
            if (tries[j].rc == 0)
                ASSERT_EQ(rule_value(&c, i), tries[j].v);
        }
        TEST_PASS(rule_rows[i].name);
    }
    cfg_free_fields(&c);
}

/* known_keys_all - every key of the full print is known, and found as itself. */
static void known_keys_all(void)
{
    struct pd_config c;
    char *buf = NULL, *line, *save = NULL, *sp;
    size_t len = 0, n = 0;
    FILE *f = open_memstream(&buf, &len);

    cfg_defaults(&c);
    cfg_print(&c, f, false);
    fclose(f);
    for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        sp = strchr(line, ' ');
        ASSERT_TRUE(sp != NULL);
        *sp = '\0';
        ASSERT_TRUE(cfg_is_known_key(line));
        n++;
    }
    ASSERT_TRUE(n > 100);
    free(buf);
    cfg_free_fields(&c);
}

static void test_known_keys(void)
{
    ASSERT_TRUE(cfg_is_known_key("listen"));
    ASSERT_TRUE(cfg_is_known_key("probation_period"));
    ASSERT_TRUE(cfg_is_known_key("rule_hold_score"));
    ASSERT_TRUE(!cfg_is_known_key("redis_password"));
    ASSERT_TRUE(!cfg_is_known_key("recipient_hash_key"));
    ASSERT_TRUE(!cfg_is_known_key("listen "));
    ASSERT_TRUE(!cfg_is_known_key(""));
    ASSERT_TRUE(!cfg_is_known_key(NULL));
    /* the lookup is a binary search: prefixes, extensions and neighbours of real names */
    ASSERT_TRUE(!cfg_is_known_key("liste"));
    ASSERT_TRUE(!cfg_is_known_key("listenx"));
    ASSERT_TRUE(!cfg_is_known_key("a"));
    ASSERT_TRUE(!cfg_is_known_key("~"));
    ASSERT_TRUE(!cfg_is_known_key("rule_"));
    known_keys_all();
    ASSERT_STR_EQ(cfg_strerror(0), "success");
    ASSERT_STR_EQ(cfg_strerror(CFG_ERR_UNKNOWN), "unknown parameter");
    ASSERT_STR_EQ(cfg_strerror(-999), "unknown error");
    TEST_PASS("known keys");
}

/* ---- cfg_check ---------------------------------------------------------------------- */

static const struct {
    const char *name, *input;
    int rc;
    const char *msg;
} check_cases[] = {
    {"defaults", "", 0, ""},
    {"no listener", "listen =", CFG_ERR_CHECK, "listen must name at least one listener"},
    {"listener only commas", "listen = , ,", CFG_ERR_CHECK,
     "listen must name at least one listener"},
    {"map without maps", "sender_login_match = map", CFG_ERR_CHECK,
     "sender_login_match = map needs sender_login_maps"},
    {"map with maps", "sender_login_match = map\nsender_login_maps = /etc/postfix/senders", 0, ""},
    {"hour above day", "limit_recipients_per_hour = 3000", CFG_ERR_CHECK,
     "limit_recipients_per_hour (3000) exceeds limit_recipients_per_day (2000)"},
    {"hour above day off", "limit_recipients_per_hour = 3000\nlimit_recipients_per_day = 0", 0,
     ""},
    {"messages hour above day", "limit_messages_per_hour = 1001", CFG_ERR_CHECK,
     "limit_messages_per_hour (1001) exceeds limit_messages_per_day (1000)"},
    {"hour off", "limit_messages_per_hour = 0", 0, ""},
};

static void test_check(void)
{
    size_t i;

    for (i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
        struct pd_config c;
        struct pd_err err;

        ASSERT_EQ(parse(&c, check_cases[i].input, &err), 0);
        ASSERT_EQ(cfg_check(&c, &err), check_cases[i].rc);
        ASSERT_STR_EQ(err.msg, check_cases[i].msg);
        ASSERT_EQ(err.line, 0);
        cfg_free_fields(&c);
        TEST_PASS(check_cases[i].name);
    }
}

/* ---- cfg_load, secret files, overrides, references --------------------------------- */

struct tmp {
    char dir[64];
    char conf[128], pw[128], key[128];
};

static void load_expect(const struct tmp *t, const char *conf, int rc, const char *msg)
{
    struct pd_config *c = (struct pd_config *)1;
    struct pd_err err;
    int got;

    write_file(t->conf, conf, 0644);
    got = cfg_load(&c, t->conf, &err);
    if (got != rc || strstr(err.msg, msg) == NULL) {
        fprintf(stderr, "load \"%s\": rc %d msg \"%s\"\n", conf, got, err.msg);
        abort();
    }
    ASSERT_TRUE(c == NULL || rc == 0);
    c = cfg_unref(c);
}

static void test_secrets(struct tmp *t)
{
    struct pd_config *c;
    struct pd_err err;
    char conf[512], *out;

    snprintf(conf, sizeof(conf), "redis_password_file = %s\nrecipient_hash_key_file = %s\n",
             t->pw, t->key);
    write_file(t->conf, conf, 0644);
    write_file(t->pw, "s3cret pass\n", 0600);
    write_file(t->key, "0123456789abcdef\r\n", 0400);
    ASSERT_EQ(cfg_load(&c, t->conf, &err), 0);
    ASSERT_STR_EQ(c->path, t->conf);
    ASSERT_STR_EQ(c->redis_password, "s3cret pass");
    ASSERT_STR_EQ(c->recipient_hash_key, "0123456789abcdef");
    out = printed(c, false);
    ASSERT_TRUE(strstr(out, "s3cret") == NULL && strstr(out, "0123456789abcdef") == NULL);
    free(out);
    c = cfg_unref(c);
    ASSERT_TRUE(c == NULL);
    TEST_PASS("secret files read, newline stripped, never printed");

    write_file(t->pw, "two\n\n", 0600);
    ASSERT_EQ(cfg_load(&c, t->conf, &err), 0);
    ASSERT_STR_EQ(c->redis_password, "two\n");
    c = cfg_unref(c);
    write_file(t->pw, "no newline", 0600);
    ASSERT_EQ(cfg_load(&c, t->conf, &err), 0);
    ASSERT_STR_EQ(c->redis_password, "no newline");
    c = cfg_unref(c);
    TEST_PASS("only one trailing newline stripped");

    write_file(t->pw, "x\n", 0640);
    load_expect(t, conf, CFG_ERR_SECRET, "must not be readable by others (mode 0600)");
    write_file(t->pw, "x\n", 0604);
    load_expect(t, conf, CFG_ERR_SECRET, "must not be readable by others (mode 0600)");
    write_file(t->pw, "x\n", 0620);
    load_expect(t, conf, CFG_ERR_SECRET, "redis_password_file");
    write_file(t->pw, "x\n", 0600);
    write_file(t->key, "k\n", 0644);
    load_expect(t, conf, CFG_ERR_SECRET, "recipient_hash_key_file");
    TEST_PASS("secret file mode");

    write_file(t->key, "\n", 0600);
    load_expect(t, conf, CFG_ERR_SECRET, "empty");
    write_file(t->key, "", 0600);
    load_expect(t, conf, CFG_ERR_SECRET, "empty");
    unlink(t->key);
    load_expect(t, conf, CFG_ERR_IO, "cannot open: No such file or directory");
    ASSERT_EQ(mkdir(t->key, 0700), 0);
    load_expect(t, conf, CFG_ERR_SECRET, "not a regular file");
    ASSERT_EQ(rmdir(t->key), 0);
    if (geteuid() != 0) {
        write_file(t->key, "k\n", 0000);
        load_expect(t, conf, CFG_ERR_IO, "Permission denied");
    }
    unlink(t->key);
    TEST_PASS("secret file missing, empty or unreadable");
}

static void test_load(struct tmp *t)
{
    struct pd_config *c, *c2;
    struct pd_err err;
    const char *ov[] = {"max_connections=9", " mode = observe ", NULL};
    char *big;

    load_expect(t, "max_connections = 5\n\nbogus = 1\n", CFG_ERR_UNKNOWN, "unknown parameter");
    ASSERT_EQ(cfg_load(&c, t->conf, &err), CFG_ERR_UNKNOWN);
    ASSERT_EQ(err.line, 3);
    load_expect(t, "listen =\n", CFG_ERR_CHECK, "at least one listener");
    load_expect(t, "max_connections = 0\n", CFG_ERR_VALUE, "out of range");
    ASSERT_EQ(cfg_load(&c, "/nonexistent/policyd.conf", &err), CFG_ERR_IO);
    ASSERT_TRUE(c == NULL);
    ASSERT_EQ(cfg_load(&c, t->dir, &err), CFG_ERR_IO);
    ASSERT_STR_EQ(err.msg, "not a regular file");
    TEST_PASS("load errors");

    big = malloc(1024 * 1024 + 2);
    memset(big, '#', 1024 * 1024 + 1);
    big[1024 * 1024 + 1] = '\0';
    load_expect(t, big, CFG_ERR_IO, "larger than 1048576 bytes");
    big[1024 * 1024] = '\0';
    load_expect(t, big, 0, "");
    free(big);
    TEST_PASS("load size limit");

    write_file(t->conf, "max_connections = 5\nmode = enforce\n", 0644);
    ASSERT_EQ(cfg_load_overrides(&c, t->conf, ov, 2, &err), 0);
    ASSERT_EQ(c->max_connections, 9);
    ASSERT_STR_EQ(c->mode, "observe");
    c = cfg_unref(c);
    ov[0] = "max_connections";
    ASSERT_EQ(cfg_load_overrides(&c, t->conf, ov, 1, &err), CFG_ERR_SYNTAX);
    ASSERT_STR_EQ(err.msg, "-o: missing '=' (expected name=value)");
    ov[0] = "max_connection=1";
    ASSERT_EQ(cfg_load_overrides(&c, t->conf, ov, 1, &err), CFG_ERR_UNKNOWN);
    ASSERT_STR_EQ(err.msg, "-o: unknown parameter max_connection");
    ov[0] = "listen=";
    ASSERT_EQ(cfg_load_overrides(&c, t->conf, ov, 1, &err), CFG_ERR_CHECK);
    ASSERT_TRUE(c == NULL);
    TEST_PASS("load with -o overrides");

    /* -o names the secret file: it is read after the overrides. */
    write_file(t->pw, "pw\n", 0600);
    big = malloc(256);
    snprintf(big, 256, "redis_password_file=%s", t->pw);
    ov[0] = big;
    ASSERT_EQ(cfg_load_overrides(&c, t->conf, ov, 1, &err), 0);
    ASSERT_STR_EQ(c->redis_password, "pw");
    free(big);
    TEST_PASS("-o redis_password_file");

    ASSERT_EQ(c->refs, 1);
    c2 = cfg_ref(c);
    ASSERT_TRUE(c2 == c);
    ASSERT_EQ(c->refs, 2);
    c2 = cfg_unref(c2);
    ASSERT_TRUE(c2 == NULL);
    ASSERT_EQ(c->refs, 1);
    ASSERT_EQ(c->max_connections, 5);
    c = cfg_unref(c);
    ASSERT_TRUE(c == NULL);
    ASSERT_TRUE(cfg_unref(NULL) == NULL);
    unlink(t->pw);
    TEST_PASS("ref and unref");
}

/* ---- the repository's policyd.conf -------------------------------------------------- */

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    ASSERT_TRUE(f != NULL);
    ASSERT_EQ(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    ASSERT_EQ(fread(buf, 1, (size_t)n, f), n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The shipped file parses to exactly the defaults, and documents every key of the table
 * (enumerated through cfg_print, so new rule rows are checked as they appear) as
 * "#name = default". */
static void test_repo_conf(void)
{
    struct pd_config c;
    struct pd_err err;
    char *text = read_all("policyd.conf"), *defaults, *line, *next, *diff;
    unsigned missing = 0, keys = 0;

    if (parse(&c, text, &err) != 0) {
        fprintf(stderr, "policyd.conf:%d: %s\n", err.line, err.msg);
        abort();
    }
    diff = printed(&c, true);
    if (diff[0] != '\0')
        fprintf(stderr, "policyd.conf sets non-default values:\n%s", diff);
    ASSERT_STR_EQ(diff, "");
    free(diff);
    defaults = printed(&c, false);
    for (line = defaults; *line; line = next) {
        char want[1024];

        next = strchr(line, '\n');
        *next++ = '\0';
        snprintf(want, sizeof(want), "#%s", line);
        keys++;
        if (!has_line(text, want)) {
            fprintf(stderr, "policyd.conf does not document: %s\n", want);
            missing++;
        }
    }
    ASSERT_EQ(missing, 0);
    ASSERT_TRUE(keys > 30);
    free(defaults);
    free(text);
    cfg_free_fields(&c);
    TEST_PASS("policyd.conf matches the table");
}

int main(void)
{
    struct tmp t;

    test_defaults();
    test_valid();
    test_invalid();
    test_special();
    test_durations();
    test_continuation();
    test_print();
    test_set();
    test_rules();
    test_known_keys();
    test_check();

    strcpy(t.dir, "/tmp/test_config.XXXXXX");
    ASSERT_TRUE(mkdtemp(t.dir) != NULL);
    snprintf(t.conf, sizeof(t.conf), "%s/policyd.conf", t.dir);
    snprintf(t.pw, sizeof(t.pw), "%s/redis.pw", t.dir);
    snprintf(t.key, sizeof(t.key), "%s/hash.key", t.dir);
    test_secrets(&t);
    test_load(&t);
    unlink(t.conf);
    ASSERT_EQ(rmdir(t.dir), 0);

    test_repo_conf();
    TEST_SUMMARY();
    return 0;
}
