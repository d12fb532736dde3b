/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      policyctl - the helpdesk's command line for policyd's status socket
 * SYNOPSIS
 *      policyctl [-s SOCKET | -H HOST:PORT] [-t TOKEN_FILE] [-j] [-T SECONDS] COMMAND ...
 * DESCRIPTION
 *      Sends one JSON request per command to policyd's status socket (status_listen) and
 *      prints the answer as text, or as the raw JSON line with -j/--json.
 *
 *      -s SOCKET    the unix socket (default $POLICYD_STATUS_SOCKET, else
 *                   /run/policyd/status.sock)
 *      -H HOST:PORT a loopback TCP listener instead (needs -t)
 *      -t FILE      a file holding a bearer token (status_token_file or
 *                   status_read_token_file of policyd)
 *      -j, --json   print the daemon's JSON reply as it is
 *      -T SECONDS   how long to wait for the daemon (default 10)
 *
 *      Commands (each takes --help):
 *      ping, status (or stats), metrics, show USER (or status USER), history USER,
 *      list [--reason R] [--domain D] [--offset N] [--limit N] [--all],
 *      block USER --reason TEXT, unblock USER --reason TEXT [--false-positive] [--ref REF],
 *      override USER|--domain DOMAIN [NAME=VALUE ...] [NAME= ...] [--clear],
 *      audit [--offset N] [--limit N], raw (JSON lines from standard input),
 *      queue list|purge USER [-c CONFIG_DIR] [--sasl] [--dry-run].
 *      Writes carry the operator's name: --operator NAME, else $SUDO_USER when run as root
 *      through sudo, else the login name.
 *
 *      "queue" does not talk to policyd: it finds USER's messages in a Postfix queue, to
 *      list them or to delete them once the mailbox is blocked. It runs postqueue -j,
 *      postcat and postsuper from PD_POSTFIX_SBIN (/usr/sbin) with posix_spawn and an argv
 *      (no shell), on the instance named by -c CONFIG_DIR, else $MAIL_CONFIG, else
 *      Postfix's default. A message is USER's when its envelope sender is USER (letters
 *      compared without case). That misses an attacker who forged another sender; --sasl
 *      also selects a message whose queue file records USER as the SASL login (smtpd's
 *      "sasl_username" attribute, read with one postcat -e -q ID per message: slower).
 *      purge hands the selected ids, each checked to be [0-9A-Za-z]+, to postsuper -d -
 *      and prints each id postsuper reports removed; --dry-run only lists. With -j, list
 *      prints postqueue's own JSON line of each selected message, purge one JSON summary.
 *      Postfix lets only root use another instance's config directory. Queue ids can be
 *      reused after a message left the queue; enable_long_queue_ids = yes makes a purge
 *      that races a delivery safe.
 * DIAGNOSTICS
 *      Exit status: 0 success; 1 the daemon answered with an error (not blocked, bad
 *      value, Redis unavailable, ...); 2 usage; 3 cannot connect or no usable answer;
 *      4 permission denied (the socket's permissions, the caller's role, or the token).
 *      Messages go to standard error as "policyctl: ...". queue exits 1 when postqueue,
 *      postcat or postsuper failed or a queue line could not be read (the selection may
 *      then be incomplete).
 *
 *      This file is longer than the ~800 lines of the style guide: the Makefile builds
 *      policyctl from this one file (plus the pure modules, pqjson among them), and its
 *      transport, printers and commands are one small program that is easier to read whole.
 * SEE ALSO
 *      status(3), jsonreq(3), pqjson(3), policyd.conf (status_*), docs/ARCHITECTURE.md,
 *      postqueue(1), postsuper(1), postcat(1)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <jansson.h>

#include "policyd/jsonreq.h"
#include "policyd/pqjson.h"

#define CTL_DEFAULT_SOCKET "/run/policyd/status.sock"
#define CTL_REPLY_MAX (16 * 1024 * 1024) /* bytes of one reply line */
#define CTL_TOKEN_MAX 4096

enum ctl_exit { CTL_OK = 0, CTL_ERR = 1, CTL_USAGE = 2, CTL_IO = 3, CTL_DENIED = 4 };

struct ctl {
    const char *socket_path;
    const char *hostport;
    char *token;
    bool json;
    int timeout_s;
    int fd;
    char *rbuf; /* bytes read after the last reply line */
    size_t rlen;
};

struct ctl_cmd {
    const char *name;
    const char *usage;
    int (*run)(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);
};

static int ctl_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int ctl_fail(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("policyctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/* ---- transport ---------------------------------------------------------------------- */

static int ctl_connect_unix(struct ctl *c)
{
    struct sockaddr_un sa;

    if (strlen(c->socket_path) >= sizeof(sa.sun_path))
        return ctl_fail(CTL_USAGE, "socket path too long: %s", c->socket_path);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, c->socket_path);
    if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;

        return ctl_fail(e == EACCES || e == EPERM ? CTL_DENIED : CTL_IO,
                        "cannot connect to %s: %s%s", c->socket_path, strerror(e),
                        e == ENOENT || e == ECONNREFUSED
                            ? " (is policyd running, with this status_listen?)"
                            : e == EACCES ? " (status_socket_mode/status_socket_group)" : "");
    }
    return CTL_OK;
}

static int ctl_connect_tcp(struct ctl *c)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    const char *colon = strrchr(c->hostport, ':');
    char host[64];
    size_t hl = colon != NULL ? (size_t)(colon - c->hostport) : 0;
    int port = colon != NULL ? atoi(colon + 1) : 0;

    memset(&ss, 0, sizeof(ss));
    if (hl == 0 || hl >= sizeof(host) || port <= 0 || port > 65535)
        return ctl_fail(CTL_USAGE, "-H wants HOST:PORT or [IPv6]:PORT, not %s", c->hostport);
    memcpy(host, c->hostport, hl);
    host[hl] = '\0';
    if (host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        host[hl - 1] = '\0';
        s6->sin6_family = AF_INET6, s6->sin6_port = htons((uint16_t)port), sl = sizeof(*s6);
        if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
            return ctl_fail(CTL_USAGE, "bad IPv6 address in -H %s", c->hostport);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        s4->sin_family = AF_INET, s4->sin_port = htons((uint16_t)port), sl = sizeof(*s4);
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            return ctl_fail(CTL_USAGE, "bad IPv4 address in -H %s", c->hostport);
    }
    if ((c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(c->fd, (struct sockaddr *)&ss, sl) != 0)
        return ctl_fail(CTL_IO, "cannot connect to %s: %s", c->hostport, strerror(errno));
    return CTL_OK;
}

static int ctl_connect(struct ctl *c)
{
    struct timeval tv = {c->timeout_s, 0};
    int rc;

    if (c->fd >= 0)
        return CTL_OK;
    rc = c->hostport != NULL ? ctl_connect_tcp(c) : ctl_connect_unix(c);
    if (rc != CTL_OK)
        return rc;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return CTL_OK;
}

static int ctl_write_all(struct ctl *c, const char *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        if ((w = send(c->fd, p, n, MSG_NOSIGNAL)) < 0) {
            if (errno == EINTR)
                continue;
            return ctl_fail(CTL_IO, "cannot send: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return CTL_OK;
}

/* ctl_read_line - one reply line (without its newline) into *line, malloc'd. */
static int ctl_read_line(struct ctl *c, char **line)
{
    size_t cap = c->rlen + 65536;
    char *nl;
    ssize_t n;

    for (;;) {
        if (c->rlen > 0 && (nl = memchr(c->rbuf, '\n', c->rlen)) != NULL) {
            size_t len = (size_t)(nl - c->rbuf);

            *line = malloc(len + 1);
            memcpy(*line, c->rbuf, len);
            (*line)[len] = '\0';
            memmove(c->rbuf, nl + 1, c->rlen - len - 1);
            c->rlen -= len + 1;
            return CTL_OK;
        }
        if (c->rlen > CTL_REPLY_MAX)
            return ctl_fail(CTL_IO, "reply longer than %d bytes", CTL_REPLY_MAX);
        if ((c->rbuf = realloc(c->rbuf, cap)) == NULL)
            return ctl_fail(CTL_IO, "out of memory");
        n = recv(c->fd, c->rbuf + c->rlen, cap - c->rlen, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ctl_fail(CTL_IO, "%s",
                            n == 0 ? "the daemon closed the connection without an answer"
                            : errno == EAGAIN ? "no answer in time (-T)"
                                              : strerror(errno));
        c->rlen += (size_t)n;
        cap = c->rlen + 65536;
    }
}

/* ctl_call - send one request (req is taken), wait for its answer. */
static int ctl_call(struct ctl *c, json_t *req, char **raw, json_t **reply)
{
    char *text;
    json_error_t jerr;
    int rc;

    if (c->token != NULL)
        json_object_set_new(req, "token", json_string(c->token));
    text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (text == NULL)
        return ctl_fail(CTL_USAGE, "cannot encode the request (is every argument UTF-8?)");
    if ((rc = ctl_connect(c)) == CTL_OK && (rc = ctl_write_all(c, text, strlen(text))) == CTL_OK)
        rc = ctl_write_all(c, "\n", 1);
    free(text);
    if (rc == CTL_OK)
        rc = ctl_read_line(c, raw);
    if (rc != CTL_OK)
        return rc;
    if ((*reply = json_loads(*raw, 0, &jerr)) == NULL || !json_is_object(*reply)) {
        json_decref(*reply);
        free(*raw);
        return ctl_fail(CTL_IO, "the daemon's answer is not a JSON object");
    }
    return CTL_OK;
}

/*
 * ctl_request - call, then either print the raw line (--json) or hand the reply to the
 * printer. An error reply is printed to stderr and gives exit 1 (4 when denied).
 */
static int ctl_request(struct ctl *c, json_t *req, void (*print)(json_t *reply))
{
    json_t *reply = NULL, *ok;
    char *raw = NULL;
    int rc = ctl_call(c, req, &raw, &reply);

    if (rc != CTL_OK)
        return rc;
    ok = json_object_get(reply, "ok");
    if (c->json)
        printf("%s\n", raw);
    if (!json_is_true(ok)) {
        const char *code = json_string_value(json_object_get(reply, "error"));
        const char *msg = json_string_value(json_object_get(reply, "message"));

        if (!c->json)
            ctl_fail(CTL_ERR, "%s: %s", code != NULL ? code : "error", msg != NULL ? msg : "");
        rc = code != NULL && strcmp(code, "denied") == 0 ? CTL_DENIED : CTL_ERR;
    } else if (!c->json && print != NULL) {
        print(reply);
    }
    json_decref(reply);
    free(raw);
    return rc;
}

/* ---- formatting --------------------------------------------------------------------- */

static const char *ctl_time_s(long long s, char *buf, size_t len)
{
    time_t t = (time_t)s;
    struct tm tm;

    if (t <= 0)
        return "-";
    strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", localtime_r(&t, &tm));
    return buf;
}

static const char *ctl_time(json_t *v, char *buf, size_t len)
{
    return json_is_integer(v) ? ctl_time_s(json_integer_value(v), buf, len) : "-";
}

/* ctl_str - a string or integer member as text ("-" when absent), in the caller's buf. */
static const char *ctl_str(json_t *obj, const char *key, char *buf, size_t len)
{
    json_t *v = json_object_get(obj, key);

    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_boolean(v))
        return json_is_true(v) ? "yes" : "no";
    return "-";
}

static long long ctl_int(json_t *obj, const char *path1, const char *path2)
{
    json_t *v = json_object_get(obj, path1);

    if (path2 != NULL)
        v = json_object_get(v, path2);
    return json_integer_value(v);
}

static void ctl_print_duration(long long s)
{
    if (s >= 86400)
        printf("%lldd%02lldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        printf("%lldh%02lldm", s / 3600, s % 3600 / 60);
    else
        printf("%lldm%02llds", s / 60, s % 60);
}

static void ctl_print_ping(json_t *r)
{
    char b[32];

    printf("pong (your role: %s)\n", ctl_str(r, "role", b, sizeof(b)));
}

static void ctl_print_pairs(json_t *obj);

/* ctl_print_stats - verdicts, latency, LDAP and alerts of a status reply. */
static void ctl_print_stats(json_t *r)
{
    json_t *lat = json_object_get(r, "latency"), *b, *ldap = json_object_get(r, "ldap");
    size_t i;

    printf("verdicts:       ");
    ctl_print_pairs(json_object_get(r, "verdicts"));
    printf("latency:        %lld decisions, mean %.2f ms;", ctl_int(r, "latency", "count"),
           json_number_value(json_object_get(lat, "mean_ms")));
    json_array_foreach(json_object_get(lat, "buckets"), i, b) {
        json_t *le = json_object_get(b, "le_ms");

        if (json_is_number(le))
            printf(" <=%gms %lld", json_number_value(le), ctl_int(b, "count", NULL));
        else
            printf(" more %lld", ctl_int(b, "count", NULL));
    }
    printf("\n");
    if (json_is_object(ldap))
        printf("ldap:           %s (rounds %lld, errors %lld, unblocked %lld)\n",
               json_is_true(json_object_get(ldap, "up")) ? "up" : "DOWN",
               ctl_int(ldap, "rounds", NULL), ctl_int(ldap, "errors", NULL),
               ctl_int(ldap, "unblocked", NULL));
    else
        printf("ldap:           not configured\n");
    if (json_is_object(json_object_get(r, "alerts")))
        printf("alerts:         %lld sent, %lld failures, %lld given up\n",
               ctl_int(r, "alerts", "sent"), ctl_int(r, "alerts", "failures"),
               ctl_int(r, "alerts", "given_up"));
    else
        printf("alerts:         not running\n");
}

static void ctl_print_status(json_t *r)
{
    json_t *blocked = json_object_get(r, "blocked");
    char b1[32], b2[32], b3[32];

    printf("policyd %s, pid %s, mode %s, up ", ctl_str(r, "version", b1, sizeof(b1)),
           ctl_str(r, "pid", b2, sizeof(b2)), ctl_str(r, "mode", b3, sizeof(b3)));
    ctl_print_duration(ctl_int(r, "uptime", NULL));
    printf(", your role: %s\n", ctl_str(r, "role", b1, sizeof(b1)));
    printf("redis:          %s, tracking by %s (calls %lld, timeouts %lld, errors %lld)\n",
           json_is_true(json_object_get(json_object_get(r, "redis"), "up")) ? "up" : "DOWN",
           json_string_value(json_object_get(json_object_get(r, "redis"), "tracking"))
               ? json_string_value(json_object_get(json_object_get(r, "redis"), "tracking"))
               : "?",
           ctl_int(r, "redis", "calls"), ctl_int(r, "redis", "timeouts"),
           ctl_int(r, "redis", "errors"));
    printf("policy clients: %lld connected, %lld accepted, %lld requests, %lld protocol errors\n",
           ctl_int(r, "server", "connections"), ctl_int(r, "server", "conns_accepted"),
           ctl_int(r, "server", "requests"), ctl_int(r, "server", "proto_errors"));
    printf("status socket:  %lld connected, %lld requests, %lld errors, %lld denied\n",
           ctl_int(r, "status_socket", "connections"), ctl_int(r, "status_socket", "requests"),
           ctl_int(r, "status_socket", "errors"), ctl_int(r, "status_socket", "denied"));
    if (json_is_integer(blocked))
        printf("blocked:        %lld mailbox(es)\n", (long long)json_integer_value(blocked));
    else
        printf("blocked:        unknown (Redis did not answer)\n");
    ctl_print_stats(r);
}

/* ctl_print_history_entry - one block or unblock of a mailbox's history. */
static void ctl_print_history_entry(json_t *e)
{
    char t[64], b1[64], b2[64], b3[64];
    const char *ev = ctl_str(e, "event", b1, sizeof(b1));

    printf("  %s  %-7s %s by %s", ctl_time(json_object_get(e, "at"), t, sizeof(t)), ev,
           ctl_str(e, "ref", b2, sizeof(b2)), ctl_str(e, "by", b3, sizeof(b3)));
    if (strcmp(ev, "block") == 0)
        printf(" (%s, score %s): %s\n", ctl_str(e, "reason", b1, sizeof(b1)),
               ctl_str(e, "score", b2, sizeof(b2)), ctl_str(e, "rules", b3, sizeof(b3)));
    else
        printf(" (%s%s): %s\n", ctl_str(e, "how", b1, sizeof(b1)),
               json_is_true(json_object_get(e, "false_positive")) ? ", false positive" : "",
               ctl_str(e, "detail", b2, sizeof(b2)));
}

static void ctl_print_history(json_t *r)
{
    json_t *h = json_object_get(r, "history"), *e;
    size_t i;

    if (json_array_size(h) == 0)
        printf("  (no blocks or unblocks recorded)\n");
    json_array_foreach(h, i, e)
        ctl_print_history_entry(e);
}

static void ctl_print_history_only(json_t *r)
{
    char b[256];

    printf("history of %s (newest first):\n", ctl_str(r, "user", b, sizeof(b)));
    ctl_print_history(r);
}

/* ctl_print_pairs - "name=value ..." of an object, or "(none)". */
static void ctl_print_pairs(json_t *obj)
{
    const char *k;
    json_t *v;
    char b[64];
    int n = 0;

    json_object_foreach(obj, k, v) {
        printf("%s%s=%s", n++ ? " " : "", k,
               json_string_length(v) > 0 || !json_is_string(v) ? ctl_str(obj, k, b, sizeof(b))
                                                                : "(none)");
    }
    printf("%s\n", n == 0 ? "(none)" : "");
}

static void ctl_print_limits(json_t *lim)
{
    static const char *const names[] = {"rcpt_hour", "rcpt_day", "msg_hour", "msg_day"};
    char b1[32], b2[32];
    size_t i;

    printf("caps:        ");
    for (i = 0; i < 4; i++) {
        json_t *l = json_object_get(lim, names[i]);

        printf("%s%s %s (%s)", i ? ", " : "", names[i], ctl_str(l, "value", b1, sizeof(b1)),
               ctl_str(l, "source", b2, sizeof(b2)));
    }
    printf("\n             exempt %s, profile %s\n", ctl_str(lim, "exempt", b1, sizeof(b1)),
           json_string_length(json_object_get(lim, "profile")) > 0
               ? ctl_str(lim, "profile", b2, sizeof(b2))
               : "none");
}

static void ctl_print_show(json_t *r)
{
    json_t *blk = json_object_get(r, "block");
    char t[64], b1[256], b2[64], b3[64];

    printf("user:        %s\n", ctl_str(r, "user", b1, sizeof(b1)));
    if (json_is_object(blk)) {
        printf("state:       BLOCKED since %s, ref %s\n",
               ctl_time(json_object_get(blk, "created"), t, sizeof(t)),
               ctl_str(blk, "ref", b1, sizeof(b1)));
        printf("             reason %s, score %s, by %s; unblocked by: %s\n",
               ctl_str(blk, "reason", b1, sizeof(b1)), ctl_str(blk, "score", b2, sizeof(b2)),
               ctl_str(blk, "created_by", b3, sizeof(b3)),
               ctl_str(blk, "unblock", t, sizeof(t)));
        printf("             evidence: %s\n", ctl_str(blk, "rules", b1, sizeof(b1)));
        printf("             refused since: %s attempts\n",
               ctl_str(blk, "refused", b2, sizeof(b2)));
    } else {
        printf("state:       not blocked\n");
    }
    if (json_is_true(json_object_get(r, "on_probation")))
        printf("probation:   until %s\n",
               ctl_time(json_object_get(r, "probation_until"), t, sizeof(t)));
    ctl_print_limits(json_object_get(r, "limits"));
    if (json_is_object(json_object_get(r, "known"))) {
        printf("known:       %lld networks, %lld correspondents\n",
               ctl_int(r, "known", "networks"), ctl_int(r, "known", "correspondents"));
        printf("counters:    ");
        ctl_print_pairs(json_object_get(r, "counters"));
        printf("baseline:    ");
        ctl_print_pairs(json_object_get(r, "baseline"));
    } else if (json_object_get(r, "signals_error") != NULL) {
        printf("counters:    unavailable (%s)\n",
               json_string_value(json_object_get(json_object_get(r, "signals_error"), "error")));
    }
    printf("overrides:   ");
    ctl_print_pairs(json_object_get(r, "overrides"));
    printf("domain:      %s: %s\n", ctl_str(r, "domain", b1, sizeof(b1)),
           json_string_length(json_object_get(r, "domain_overrides")) > 0
               ? ctl_str(r, "domain_overrides", b2, sizeof(b2))
               : "(no overrides)");
    printf("history (newest first):\n");
    ctl_print_history(r);
}

static void ctl_print_list(json_t *r)
{
    json_t *page = json_object_get(r, "blocked"), *e, *next = json_object_get(r, "next_offset");
    char t[64], b1[64], b2[64], b3[64], b4[256];
    size_t i;

    if (json_array_size(page) > 0)
        printf("%-25s %-12s %-14s %-12s %s\n", "SINCE", "REF", "REASON", "BY", "USER");
    json_array_foreach(page, i, e) {
        printf("%-25s %-12s %-14s %-12s %s\n",
               ctl_time(json_object_get(e, "created"), t, sizeof(t)),
               ctl_str(e, "ref", b1, sizeof(b1)), ctl_str(e, "reason", b2, sizeof(b2)),
               ctl_str(e, "created_by", b3, sizeof(b3)), ctl_str(e, "user", b4, sizeof(b4)));
    }
    printf("%zu shown, %lld blocked in all", json_array_size(page), ctl_int(r, "total", NULL));
    if (json_is_integer(next))
        printf("; more: --offset %lld", (long long)json_integer_value(next));
    printf("\n");
}

static void ctl_print_block(json_t *r)
{
    char t[64], b1[256], b2[64], b3[64];

    if (json_is_true(json_object_get(r, "created")))
        printf("blocked %s: ref %s\n", ctl_str(r, "user", b1, sizeof(b1)),
               ctl_str(r, "ref", b2, sizeof(b2)));
    else
        printf("%s was already blocked: ref %s, reason %s, since %s\n",
               ctl_str(r, "user", b1, sizeof(b1)), ctl_str(r, "ref", b2, sizeof(b2)),
               ctl_str(r, "reason", b3, sizeof(b3)),
               ctl_time(json_object_get(r, "created_at"), t, sizeof(t)));
}

static void ctl_print_unblock(json_t *r)
{
    char t[64], b1[256], b2[64], b3[64];

    printf("unblocked %s (ref %s, reason %s%s)", ctl_str(r, "user", b1, sizeof(b1)),
           ctl_str(r, "ref", b2, sizeof(b2)), ctl_str(r, "reason", b3, sizeof(b3)),
           json_is_true(json_object_get(r, "false_positive")) ? ", marked a false positive"
                                                              : "");
    if (ctl_int(r, "probation_until", NULL) > 0)
        printf("; on probation until %s",
               ctl_time(json_object_get(r, "probation_until"), t, sizeof(t)));
    printf("\n");
}

static void ctl_print_override(json_t *r)
{
    json_t *who = json_object_get(r, "user");
    char b[256];
    const char *name = json_is_string(who) ? ctl_str(r, "user", b, sizeof(b))
                                           : ctl_str(r, "domain", b, sizeof(b));
    json_t *cur = json_object_get(r, "overrides");

    if (cur != NULL) {
        printf("%s: ", name);
        if (json_is_string(cur))
            printf("%s\n", json_string_length(cur) > 0 ? json_string_value(cur) : "(none)");
        else
            ctl_print_pairs(cur);
        return;
    }
    printf("%s\n  before: ", name);
    if (json_is_string(json_object_get(r, "before")))
        printf("%s\n  after:  %s\n", ctl_str(r, "before", b, sizeof(b)),
               ctl_str(r, "after", b, sizeof(b)));
    else {
        ctl_print_pairs(json_object_get(r, "before"));
        printf("  after:  ");
        ctl_print_pairs(json_object_get(r, "after"));
    }
}

static void ctl_print_metrics(json_t *r)
{
    const char *text = json_string_value(json_object_get(r, "text"));

    fputs(text != NULL ? text : "", stdout);
}

/* ctl_compact - an override's state (text or object) as one short string. */
static const char *ctl_compact(json_t *v, char *buf, size_t len)
{
    const char *k;
    json_t *x;
    size_t o = 0;

    if (json_is_string(v))
        return json_string_length(v) > 0 ? json_string_value(v) : "(none)";
    buf[0] = '\0';
    json_object_foreach(v, k, x) {
        int n = snprintf(buf + o, len - o, "%s%s=%s", o ? " " : "", k,
                         json_is_string(x) ? json_string_value(x) : "?");

        if (n < 0 || (size_t)n >= len - o)
            break;
        o += (size_t)n;
    }
    return o > 0 ? buf : "(none)";
}

static void ctl_print_audit(json_t *r)
{
    json_t *e;
    char t[64], b1[32], b2[256], b3[96], b4[64], b5[64], b6[256], b7[256];
    size_t i;

    json_array_foreach(json_object_get(r, "entries"), i, e) {
        printf("%s  %-8s %s by %s (%s) ", ctl_time(json_object_get(e, "at"), t, sizeof(t)),
               ctl_str(e, "action", b1, sizeof(b1)),
               json_is_string(json_object_get(e, "user")) ? ctl_str(e, "user", b2, sizeof(b2))
                                                          : ctl_str(e, "domain", b2, sizeof(b2)),
               ctl_str(e, "by", b3, sizeof(b3)), ctl_str(e, "peer", b4, sizeof(b4)));
        if (json_object_get(e, "after") != NULL)
            printf("%s -> %s\n", ctl_compact(json_object_get(e, "before"), b6, sizeof(b6)),
                   ctl_compact(json_object_get(e, "after"), b7, sizeof(b7)));
        else
            printf("%s%s%s\n", ctl_str(e, "ref", b5, sizeof(b5)),
                   json_is_string(json_object_get(e, "text")) ? ": " : "",
                   json_is_string(json_object_get(e, "text")) ? ctl_str(e, "text", b6, sizeof(b6))
                                                              : "");
    }
    printf("%lld entries in all\n", ctl_int(r, "total", NULL));
}

/* ---- commands ----------------------------------------------------------------------- */

struct ctl;
static int ctl_queue_run(struct ctl *c, const char *user, char *config_dir, bool sasl,
                         bool purge, bool release, bool dry_run);

/* Options of the commands; each command says which it takes. */
enum ctl_opt {
    O_REASON = 1 << 0,
    O_DOMAIN = 1 << 1,
    O_REF = 1 << 2,
    O_OPERATOR = 1 << 3,
    O_OFFSET = 1 << 4,
    O_LIMIT = 1 << 5,
    O_ALL = 1 << 6,
    O_CLEAR = 1 << 7,
    O_FP = 1 << 8,
    O_BLOCKED = 1 << 9,
    O_CONFIG = 1 << 10,
    O_SASL = 1 << 11,
    O_DRYRUN = 1 << 12,
    O_PURGEQ = 1 << 13,
    O_RELEASE = 1 << 14,
};

struct ctl_args {
    unsigned seen;
    const char *reason, *domain, *ref, *oper;
    char *config_dir; /* queue -c: handed on in an argv */
    long long offset, limit;
    char **pos; /* positional arguments */
    int npos;
};

static const struct option ctl_longopts[] = {
    {"reason", required_argument, NULL, 'r'},  {"domain", required_argument, NULL, 'd'},
    {"ref", required_argument, NULL, 'R'},     {"operator", required_argument, NULL, 'o'},
    {"offset", required_argument, NULL, 'O'},  {"limit", required_argument, NULL, 'l'},
    {"all", no_argument, NULL, 'a'},           {"clear", no_argument, NULL, 'C'},
    {"false-positive", no_argument, NULL, 'F'}, {"blocked", no_argument, NULL, 'B'},
    {"config", required_argument, NULL, 'c'}, {"sasl", no_argument, NULL, 'S'},
    {"dry-run", no_argument, NULL, 'n'},       {"help", no_argument, NULL, 'h'},
    {"purge-queue", no_argument, NULL, 'P'},   {"release-held", no_argument, NULL, 'H'},
    {NULL, 0, NULL, 0},
};

static unsigned ctl_opt_bit(int ch)
{
    switch (ch) {
    case 'r':
        return O_REASON;
    case 'd':
        return O_DOMAIN;
    case 'R':
        return O_REF;
    case 'o':
        return O_OPERATOR;
    case 'O':
        return O_OFFSET;
    case 'l':
        return O_LIMIT;
    case 'a':
        return O_ALL;
    case 'C':
        return O_CLEAR;
    case 'F':
        return O_FP;
    case 'B':
        return O_BLOCKED;
    case 'c':
        return O_CONFIG;
    case 'S':
        return O_SASL;
    case 'n':
        return O_DRYRUN;
    case 'P':
        return O_PURGEQ;
    case 'H':
        return O_RELEASE;
    }
    return 0;
}

static bool ctl_number(const char *s, long long *out)
{
    char *end;

    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && *out >= 0;
}

/* ctl_parse - a command's options and positional arguments; CTL_OK, CTL_USAGE, or -1
 * for --help (already printed). */
static int ctl_parse(const struct ctl_cmd *cmd, unsigned allowed, int argc, char **argv,
                     struct ctl_args *a)
{
    int ch;

    memset(a, 0, sizeof(*a));
    optind = 0; /* glibc: a full restart (the global options were parsed with "+") */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":hc:", ctl_longopts, NULL)) != -1) {
        unsigned bit = ctl_opt_bit(ch);

        if (ch == 'h') {
            printf("usage: policyctl [global options] %s\n", cmd->usage);
            return -1;
        }
        if (bit == 0 || !(allowed & bit))
            return ctl_fail(CTL_USAGE, "%s: unknown or misplaced option %s; usage: %s",
                            cmd->name, argv[optind - 1], cmd->usage);
        a->seen |= bit;
        if ((ch == 'O' && !ctl_number(optarg, &a->offset)) ||
            (ch == 'l' && !ctl_number(optarg, &a->limit)))
            return ctl_fail(CTL_USAGE, "%s: %s wants a number", cmd->name, argv[optind - 1]);
        if (ch == 'r')
            a->reason = optarg;
        else if (ch == 'd')
            a->domain = optarg;
        else if (ch == 'R')
            a->ref = optarg;
        else if (ch == 'o')
            a->oper = optarg;
        else if (ch == 'c')
            a->config_dir = optarg;
    }
    a->pos = argv + optind;
    a->npos = argc - optind;
    return CTL_OK;
}

/* ctl_operator - --operator, else $SUDO_USER under sudo, else the login name. */
static void ctl_set_operator(json_t *req, const struct ctl_args *a)
{
    const char *sudo = getenv("SUDO_USER");
    struct passwd *pw;
    char uid[32];

    if (a->oper != NULL) {
        json_object_set_new(req, "operator", json_string(a->oper));
    } else if (getuid() == 0 && sudo != NULL && sudo[0] != '\0') {
        json_object_set_new(req, "operator", json_string(sudo));
    } else if ((pw = getpwuid(getuid())) != NULL) {
        json_object_set_new(req, "operator", json_string(pw->pw_name));
    } else {
        snprintf(uid, sizeof(uid), "uid:%u", (unsigned)getuid());
        json_object_set_new(req, "operator", json_string(uid));
    }
}

static json_t *ctl_req(const char *cmd)
{
    return json_pack("{s:s}", "cmd", cmd);
}

static int ctl_want_args(const struct ctl_cmd *cmd, const struct ctl_args *a, int n)
{
    if (a->npos != n)
        return ctl_fail(CTL_USAGE, "%s: %s; usage: %s", cmd->name,
                        a->npos < n ? "missing argument" : "too many arguments", cmd->usage);
    return CTL_OK;
}

static int ctl_cmd_simple(struct ctl *c, const struct ctl_cmd *cmd, const char *wire, int argc,
                          char **argv, void (*print)(json_t *))
{
    struct ctl_args a;
    int rc = ctl_parse(cmd, 0, argc, argv, &a);

    if (rc != CTL_OK)
        return rc < 0 ? CTL_OK : rc;
    if ((rc = ctl_want_args(cmd, &a, 0)) != CTL_OK)
        return rc;
    return ctl_request(c, ctl_req(wire), print);
}

static int ctl_ping(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
    return ctl_cmd_simple(c, cmd, "ping", argc, argv, ctl_print_ping);
}

/* ctl_status - the daemon's status; "status USER" is "show USER", as the issue spells it. */
static int ctl_status(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
    if (argc == 2 && argv[1][0] != '-')
        return ctl_request(c, json_pack("{s:s, s:s}", "cmd", "show", "user", argv[1]),
                           ctl_print_show);
    return ctl_cmd_simple(c, cmd, "status", argc, argv, ctl_print_status);
}

static int ctl_metrics(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
    return ctl_cmd_simple(c, cmd, "metrics", argc, argv, ctl_print_metrics);
}

/* ctl_show - show USER, and history USER (the same request, printed in part). */
static int ctl_show(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
    struct ctl_args a;
    int rc = ctl_parse(cmd, 0, argc, argv, &a);

    if (rc != CTL_OK)
        return rc < 0 ? CTL_OK : rc;
    if ((rc = ctl_want_args(cmd, &a, 1)) != CTL_OK)
        return rc;
    return ctl_request(c, json_pack("{s:s, s:s}", "cmd", "show", "user", a.pos[0]),
                       strcmp(cmd->name, "history") == 0 ? ctl_print_history_only
                                                         : ctl_print_show);
}

/* ctl_list - one page, or with --all every page (--json prints one line per page). */
static int ctl_list(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
    struct ctl_args a;
    json_t *req, *reply;
    char *raw;
    int rc = ctl_parse(cmd, O_REASON | O_DOMAIN | O_OFFSET | O_LIMIT | O_ALL | O_BLOCKED, argc,
                       argv, &a);

    if (rc != CTL_OK)
        return rc < 0 ? CTL_OK : rc;
    if ((rc = ctl_want_args(cmd, &a, 0)) != CTL_OK)
        return rc;
    for (;;) {
        req = json_pack("{s:s, s:I}", "cmd", "list", "offset", (json_int_t)a.offset);
        if (a.reason != NULL)
            json_object_set_new(req, "reason", json_string(a.reason));
        if (a.domain != NULL)
            json_object_set_new(req, "domain", json_string(a.domain));
        if (a.seen & O_LIMIT)
            json_object_set_new(req, "limit", json_integer(a.limit));
        if (!(a.seen & O_ALL))
            return ctl_request(c, req, ctl_print_list);
        if ((rc = ctl_call(c, req, &raw, &reply)) != CTL_OK)
            return rc;
        if (c->json)
            printf("%s\n", raw);
        free(raw);
        if (!json_is_true(json_object_get(reply, "ok"))) {
            json_decref(reply);
            return ctl_fail(CTL_ERR, "list failed (see --json)");
        }
        if (!c->json)
            ctl_print_list(reply);
        rc = json_is_integer(json_object_get(reply, "next_offset"));
        a.offset = ctl_int(reply, "next_offset", NULL);
        json_decref(reply);
        if (!rc)
            return CTL_OK;
    }
}

static int ctl_block(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
    bool unblock = strcmp(cmd->name, "unblock") == 0;
    struct ctl_args a;
    json_t *req;
    int rc = ctl_parse(cmd,
                       O_REASON | O_OPERATOR | O_CONFIG |
                           (unblock ? O_REF | O_FP | O_RELEASE : O_PURGEQ),
                       argc, argv, &a);

    if (rc != CTL_OK)
        return rc < 0 ? CTL_OK : rc;
    if ((rc = ctl_want_args(cmd, &a, 1)) != CTL_OK)
        return rc;
    if (a.reason == NULL)
        return ctl_fail(CTL_USAGE, "%s: --reason is required (it goes into the audit trail)",
                        cmd->name);
    req = json_pack("{s:s, s:s, s:s}", "cmd", cmd->name, "user", a.pos[0], "reason", a.reason);
    if (a.ref != NULL)
        json_object_set_new(req, "ref", json_string(a.ref));
    if (a.seen & O_FP)
        json_object_set_new(req, "false_positive", json_true());
    ctl_set_operator(req, &a);
    rc = ctl_request(c, req, unblock ? ctl_print_unblock : ctl_print_block);
    /* then the queue: the blocked mailbox's spam out of it, or the freed mailbox's held
     * mail released; by sender and by SASL login (an attacker forges the sender) */
    if (rc == CTL_OK && (a.seen & (O_PURGEQ | O_RELEASE)))
        rc = ctl_queue_run(c, a.pos[0], a.config_dir, true, true, unblock, false);
    return rc;
}

/* ctl_override_arg - "name=value" into set, "name=" into clear; the overrides_file names
 * (rcpt_hour, ...) are taken for the lim_* fields. */
static int ctl_override_arg(const char *arg, json_t *set, json_t *clear)
{
    static const char *const alias[][2] = {{"rcpt_hour", "lim_rcpt_hour"},
                                           {"rcpt_day", "lim_rcpt_day"},
                                           {"msg_hour", "lim_msg_hour"},
                                           {"msg_day", "lim_msg_day"}};
    const char *eq = strchr(arg, '=');
    char name[64];
    size_t i, n = eq != NULL ? (size_t)(eq - arg) : 0;

    if (eq == NULL || n == 0 || n >= sizeof(name))
        return ctl_fail(CTL_USAGE, "override: expected NAME=VALUE or NAME=, not \"%s\"", arg);
    memcpy(name, arg, n);
    name[n] = '\0';
    for (i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
        if (strcmp(name, alias[i][0]) == 0)
            snprintf(name, sizeof(name), "%s", alias[i][1]);
    if (jsonreq_ovr_lookup(name, strlen(name)) < 0)
        return ctl_fail(CTL_USAGE, "override: no setting \"%s\"", name);
    if (eq[1] == '\0')
        json_array_append_new(clear, json_string(name));
    else
        json_object_set_new(set, name, json_string(eq + 1));
    return CTL_OK;
}

static int ctl_override(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
    struct ctl_args a;
    json_t *req, *set = json_object(), *clear = json_array();
    int rc = ctl_parse(cmd, O_DOMAIN | O_CLEAR | O_OPERATOR, argc, argv, &a), i, first;

    first = a.domain != NULL ? 0 : 1;
    if (rc == CTL_OK && a.domain == NULL && a.npos < 1)
        rc = ctl_fail(CTL_USAGE, "override: which mailbox (or --domain)? usage: %s", cmd->usage);
    for (i = first; rc == CTL_OK && i < a.npos; i++)
        rc = ctl_override_arg(a.pos[i], set, clear);
    if (rc != CTL_OK) {
        json_decref(set);
        json_decref(clear);
        return rc < 0 ? CTL_OK : rc;
    }
    req = a.domain != NULL ? json_pack("{s:s, s:s}", "cmd", "override", "domain", a.domain)
                           : json_pack("{s:s, s:s}", "cmd", "override", "user", a.pos[0]);
    if (json_object_size(set) > 0)
        json_object_set(req, "set", set);
    if (a.seen & O_CLEAR)
        json_object_set_new(req, "clear", json_true());
    else if (json_array_size(clear) > 0)
        json_object_set(req, "clear", clear);
    if (json_object_size(set) > 0 || json_array_size(clear) > 0 || (a.seen & O_CLEAR))
        ctl_set_operator(req, &a);
    json_decref(set);
    json_decref(clear);
    return ctl_request(c, req, ctl_print_override);
}

static int ctl_audit(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
    struct ctl_args a;
    json_t *req;
    int rc = ctl_parse(cmd, O_OFFSET | O_LIMIT, argc, argv, &a);

    if (rc != CTL_OK)
        return rc < 0 ? CTL_OK : rc;
    if ((rc = ctl_want_args(cmd, &a, 0)) != CTL_OK)
        return rc;
    req = json_pack("{s:s, s:I}", "cmd", "audit", "offset", (json_int_t)a.offset);
    if (a.seen & O_LIMIT)
        json_object_set_new(req, "limit", json_integer(a.limit));
    return ctl_request(c, req, ctl_print_audit);
}

/* ctl_raw - every line of standard input as a request; each answer line is printed. The
 * exit status is that of the last answer (for scripts and tests). */
static int ctl_raw(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
    char *line = NULL, *reply = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = CTL_OK;

    (void)cmd;
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: policyctl [global options] %s\n", cmd->usage);
        return CTL_OK;
    }
    if ((rc = ctl_connect(c)) != CTL_OK)
        return rc;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] != '\n')
            line[n++] = '\n'; /* getline leaves room for the NUL it wrote */
        if ((rc = ctl_write_all(c, line, (size_t)n)) != CTL_OK ||
            (rc = ctl_read_line(c, &reply)) != CTL_OK)
            break;
        printf("%s\n", reply);
        rc = strstr(reply, "\"ok\":true") != NULL ? CTL_OK : CTL_ERR;
        free(reply);
    }
    free(line);
    return rc;
}

/* ---- queue: the attacker's messages in Postfix's queue ------------------------------ */

/*
 * "queue list USER" and "queue purge USER" run Postfix's own tools with posix_spawn and
 * an argv, never a shell: postqueue -j (one JSON line per queued message, parsed by
 * pqjson), with --sasl postcat -e -q ID for each message whose sender is not USER, and
 * postsuper -d - with the selected queue ids on its standard input. A message is USER's
 * when its envelope sender is USER (ASCII case ignored); with --sasl also when its queue
 * file records USER as the SASL login (an attacker who forges the envelope sender). The
 * Postfix instance is MAIL_CONFIG's, or -c CONFIG_DIR's (passed on as -c). Postfix lets
 * only root use a non-default config directory with these tools.
 */

#ifndef PD_POSTFIX_SBIN
#define PD_POSTFIX_SBIN "/usr/sbin"
#endif
#define CTL_POSTCAT_MAX (16 * 1024 * 1024) /* bytes of one postcat -e output */

extern char **environ;

struct ctl_queue {
    const char *user;
    char *config_dir;       /* NULL: MAIL_CONFIG or Postfix's default */
    bool sasl, dry_run, json, purge;
    bool release;           /* postsuper -H of the hold queue's messages, not -d */
    char **ids;             /* the selected queue ids, malloc'd */
    size_t nids, cap;
    size_t total, skipped, vanished, nrcpt;
};

/* ctl_spawn - run PD_POSTFIX_SBIN/prog with args (NULL-terminated, after the -c option;
 * not const: posix_spawn's argv is char *const[] and -Wcast-qual forbids a cast):
 * stdin from in_fd, stdout to out_fd, stderr to err_fd (-1: inherit; in_fd -1: /dev/null).
 * The child's pid, or -1 with a message. */
static pid_t ctl_spawn(const struct ctl_queue *q, char *prog, char **args, int in_fd,
                       int out_fd, int err_fd)
{
    posix_spawn_file_actions_t fa;
    char path[256], opt_c[] = "-c", *argv[16];
    size_t n = 0;
    pid_t pid = -1;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", PD_POSTFIX_SBIN, prog);
    argv[n++] = prog;
    if (q->config_dir != NULL) {
        argv[n++] = opt_c;
        argv[n++] = q->config_dir;
    }
    while (*args != NULL && n < sizeof(argv) / sizeof(argv[0]) - 1)
        argv[n++] = *args++;
    argv[n] = NULL;
    posix_spawn_file_actions_init(&fa);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    if (err_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    rc = posix_spawn(&pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        ctl_fail(CTL_ERR, "cannot run %s: %s", path, strerror(rc));
        return -1;
    }
    return pid;
}

/* ctl_wait - reap pid; true when it exited 0, else a message naming prog. */
static bool ctl_wait(pid_t pid, const char *prog)
{
    int st;

    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return ctl_fail(CTL_ERR, "waitpid %s: %s", prog, strerror(errno)), false;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return true;
    if (WIFEXITED(st))
        ctl_fail(CTL_ERR, "%s exited with status %d", prog, WEXITSTATUS(st));
    else
        ctl_fail(CTL_ERR, "%s killed by signal %d", prog, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return false;
}

/* ctl_read_fd - everything from fd (at most max bytes; more is an error) into *out. */
static int ctl_read_fd(int fd, size_t max, char **out, size_t *len)
{
    size_t cap = 65536;
    ssize_t n;

    if ((*out = malloc(cap)) == NULL)
        abort();
    *len = 0;
    for (;;) {
        n = read(fd, *out + *len, cap - *len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ctl_fail(CTL_ERR, "read: %s", strerror(errno));
        if (n == 0)
            break;
        *len += (size_t)n;
        if (*len > max)
            return ctl_fail(CTL_ERR, "more than %zu bytes of output", max);
        if (cap - *len < 2 && (*out = realloc(*out, cap *= 2)) == NULL)
            abort(); /* out of memory: nothing sensible is left to do */
    }
    (*out)[*len] = '\0';
    return CTL_OK;
}

/* ctl_queue_login - whether the queue file of m records user as its SASL login. A
 * message that left the queue since postqueue listed it counts as vanished; postcat that
 * cannot run or whose output cannot be read counts as skipped (the list may be short). */
static bool ctl_queue_login(struct ctl_queue *q, const struct pqjson_msg *m)
{
    char prog[] = "postcat", opt_e[] = "-e", opt_q[] = "-q", id[PQJSON_ID_MAX + 1];
    char *args[] = {opt_e, opt_q, id, NULL}, login[PQJSON_ADDR_MAX + 1], *text = NULL;
    int p[2], null, st = 0, rc = CTL_ERR;
    size_t len = 0;
    pid_t pid = -1;
    bool ok = false;

    memcpy(id, m->queue_id, sizeof(id));
    if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0 || pipe2(p, O_CLOEXEC) != 0) {
        ctl_fail(CTL_ERR, "postcat: %s", strerror(errno));
        if (null >= 0)
            close(null);
        q->skipped++;
        return false;
    }
    pid = ctl_spawn(q, prog, args, -1, p[1], null); /* its complaints go to /dev/null */
    close(p[1]);
    close(null);
    if (pid > 0)
        rc = ctl_read_fd(p[0], CTL_POSTCAT_MAX, &text, &len);
    close(p[0]);
    while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
        continue;
    if (rc != CTL_OK)
        q->skipped++;
    else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        q->vanished++; /* delivered or deleted since postqueue listed it */
    else
        ok = pqjson_postcat_login(text, len, login, sizeof(login)) == 1 &&
             pqjson_addr_eq(login, q->user);
    free(text);
    return ok;
}

/* ctl_queue_print - one selected message: the postqueue line (-j) or a table row. */
static void ctl_queue_print(const struct ctl_queue *q, const struct pqjson_msg *m,
                            const char *line, bool by_login)
{
    char t[64], who[PQJSON_ADDR_MAX + 1];
    size_t i;

    if (q->json) {
        if (!q->purge) /* purge -j prints one summary object instead */
            printf("%s\n", line);
        return;
    }
    if (q->nids == 1)
        printf("%-16s %-9s %-25s %9s %6s %s\n", "QUEUE_ID", "QUEUE", "ARRIVED", "SIZE",
               "RCPTS", "SENDER");
    for (i = 0; m->sender[i] != '\0'; i++) /* peer data: printable ASCII only */
        who[i] = m->sender[i] > 0x20 && m->sender[i] < 0x7f ? m->sender[i] : '?';
    who[i] = '\0';
    printf("%-16s %-9s %-25s %9lld %6zu %s%s\n", m->queue_id, m->queue_name,
           ctl_time_s(m->arrival_time, t, sizeof(t)), m->message_size, m->nrcpt,
           i > 0 ? who : "<>", by_login ? " (SASL login matches)" : "");
}

/* ctl_queue_line - one postqueue -j line: parsed, matched, remembered and printed. */
static void ctl_queue_line(struct ctl_queue *q, const char *line, size_t len)
{
    struct pqjson_msg m;
    struct pd_err err;
    bool by_sender, by_login = false;
    char *copy;

    q->total++;
    if (pqjson_parse(line, len, &m, &err) < 0) {
        q->skipped++;
        ctl_fail(CTL_ERR, "postqueue line %zu skipped: %s", q->total, err.msg);
        return;
    }
    if (q->release && strcmp(m.queue_name, "hold") != 0)
        return; /* only held messages can be released */
    by_sender = pqjson_addr_eq(m.sender, q->user);
    if (!by_sender && q->sasl)
        by_login = ctl_queue_login(q, &m);
    if (!by_sender && !by_login)
        return;
    if (q->nids == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        if ((q->ids = realloc(q->ids, q->cap * sizeof(*q->ids))) == NULL)
            abort(); /* out of memory: nothing sensible is left to do */
    }
    if ((copy = strdup(m.queue_id)) == NULL)
        abort();
    q->ids[q->nids++] = copy;
    q->nrcpt += m.nrcpt;
    copy = strndup(line, len);
    ctl_queue_print(q, &m, copy != NULL ? copy : "", by_login);
    free(copy);
}

/* ctl_queue_scan - run postqueue -j and select USER's messages, line by line. */
static int ctl_queue_scan(struct ctl_queue *q)
{
    char prog[] = "postqueue", opt_j[] = "-j", *args[] = {opt_j, NULL}, *buf = NULL, *nl;
    size_t len = 0, cap = 0, start;
    ssize_t n;
    int p[2], rc = CTL_OK;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) != 0)
        return ctl_fail(CTL_ERR, "pipe: %s", strerror(errno));
    pid = ctl_spawn(q, prog, args, -1, p[1], -1);
    close(p[1]);
    for (;;) {
        if (pid < 0)
            break;
        if (cap - len < 65536 && (buf = realloc(buf, cap = cap * 2 + 65536)) == NULL)
            abort();
        if ((n = read(p[0], buf + len, cap - len)) < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (len > 0) /* a last line without its newline */
                ctl_queue_line(q, buf, len);
            break;
        }
        len += (size_t)n;
        for (start = 0; (nl = memchr(buf + start, '\n', len - start)) != NULL;) {
            ctl_queue_line(q, buf + start, (size_t)(nl - (buf + start)));
            start = (size_t)(nl - buf) + 1;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        if (len > CTL_REPLY_MAX) {
            rc = ctl_fail(CTL_ERR, "a postqueue line longer than %d bytes", CTL_REPLY_MAX);
            kill(pid, SIGTERM);
            break;
        }
    }
    close(p[0]);
    free(buf);
    if (pid < 0 || !ctl_wait(pid, "postqueue"))
        rc = CTL_ERR;
    return rc;
}

/* ctl_queue_purge - postsuper -d - (or -H - to release) with the selected ids on its
 * standard input (a temp file, as its report goes to another: no pipe can fill up and
 * deadlock); prints every id it reports removed (released). */
static int ctl_queue_purge(struct ctl_queue *q, size_t *removed)
{
    char prog[] = "postsuper", opt_d[] = "-d", opt_h[] = "-H", dash[] = "-";
    char *args[] = {q->release ? opt_h : opt_d, dash, NULL};
    const char *done = q->release ? ": released from hold" : ": removed";
    FILE *in = tmpfile(), *out = tmpfile();
    char *line = NULL, id[PQJSON_ID_MAX + 1];
    size_t cap = 0, i;
    ssize_t n;
    pid_t pid = -1;
    int rc = CTL_ERR;

    *removed = 0;
    if (in == NULL || out == NULL) {
        ctl_fail(CTL_ERR, "cannot create a temporary file: %s", strerror(errno));
        goto done;
    }
    for (i = 0; i < q->nids; i++)
        if (pqjson_valid_id(q->ids[i], strlen(q->ids[i]))) /* checked twice: never a '\n' */
            fprintf(in, "%s\n", q->ids[i]);
    if (fflush(in) != 0 || fseek(in, 0, SEEK_SET) != 0) {
        ctl_fail(CTL_ERR, "temporary file: %s", strerror(errno));
        goto done;
    }
    fflush(stdout);
    if ((pid = ctl_spawn(q, prog, args, fileno(in), fileno(out), fileno(out))) < 0)
        goto done;
    rc = ctl_wait(pid, "postsuper") ? CTL_OK : CTL_ERR;
    rewind(out);
    while ((n = getline(&line, &cap, out)) > 0) {
        n -= line[n - 1] == '\n';
        if (pqjson_postsuper_done(line, (size_t)n, done, id)) {
            ++*removed;
            if (!q->json)
                printf("%s %s\n", q->release ? "released" : "removed", id);
        } else if (rc != CTL_OK || strstr(line, "warning") != NULL || strstr(line, "fatal")) {
            fprintf(stderr, "%.*s\n", (int)n, line); /* postsuper's own complaint */
        }
    }
done:
    free(line);
    if (in != NULL)
        fclose(in);
    if (out != NULL)
        fclose(out);
    return rc;
}

/* ctl_queue_summary - the closing line (or, with -j and purge, one JSON object). */
static void ctl_queue_summary(const struct ctl_queue *q, bool purge, size_t removed)
{
    char who[128];
    size_t i;

    for (i = 0; q->user[i] != '\0' && i < sizeof(who) - 1; i++)
        who[i] = q->user[i] > 0x20 && q->user[i] < 0x7f ? q->user[i] : '?';
    who[i] = '\0';
    if (q->json && purge) {
        json_t *ids = json_array(), *o;
        char *text;

        for (i = 0; i < q->nids; i++)
            json_array_append_new(ids, json_string(q->ids[i]));
        o = json_pack("{s:s, s:o, s:b, s:I, s:I, s:I}", "user", q->user, "selected", ids,
                      "dry_run", q->dry_run, q->release ? "released" : "removed",
                      (json_int_t)removed, "queued",
                      (json_int_t)q->total, "skipped", (json_int_t)(q->skipped + q->vanished));
        if (o != NULL && (text = json_dumps(o, JSON_COMPACT)) != NULL) {
            printf("%s\n", text);
            free(text);
        }
        json_decref(o);
        return;
    }
    if (q->json)
        return;
    printf("%zu message(s) of %s (%zu recipient(s)) among %zu queued", q->nids, who, q->nrcpt,
           q->total);
    if (q->vanished > 0)
        printf("; %zu left the queue while being read", q->vanished);
    if (purge)
        printf(q->dry_run     ? (q->release ? "; dry run: nothing released"
                                            : "; dry run: nothing removed")
               : q->release ? "; %zu released from hold"
                            : "; %zu removed",
               removed);
    printf("\n");
}

static int ctl_queue(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
    struct ctl_args a;
    bool purge, release;
    int rc = ctl_parse(cmd, O_CONFIG | O_SASL | O_DRYRUN, argc, argv, &a);

    if (rc != CTL_OK)
        return rc < 0 ? CTL_OK : rc;
    if ((rc = ctl_want_args(cmd, &a, 2)) != CTL_OK)
        return rc;
    release = strcmp(a.pos[0], "release") == 0;
    purge = release || strcmp(a.pos[0], "purge") == 0;
    if (!purge && strcmp(a.pos[0], "list") != 0)
        return ctl_fail(CTL_USAGE, "queue: list, purge or release, not \"%s\"; usage: %s",
                        a.pos[0], cmd->usage);
    if ((a.seen & O_DRYRUN) && !purge)
        return ctl_fail(CTL_USAGE, "queue: --dry-run goes with purge or release");
    if (a.pos[1][0] == '\0' || strlen(a.pos[1]) > PQJSON_ADDR_MAX ||
        strchr(a.pos[1], '@') == NULL)
        return ctl_fail(CTL_USAGE, "queue: USER is a whole address (the envelope sender)");
    if (a.config_dir != NULL && a.config_dir[0] != '/')
        return ctl_fail(CTL_USAGE, "queue: -c wants an absolute directory");
    return ctl_queue_run(c, a.pos[1], a.config_dir, (a.seen & O_SASL) != 0, purge, release,
                         (a.seen & O_DRYRUN) != 0);
}

/* ctl_queue_run - list, purge or release USER's messages (also for block --purge-queue
 * and unblock --release-held). */
static int ctl_queue_run(struct ctl *c, const char *user, char *config_dir, bool sasl,
                         bool purge, bool release, bool dry_run)
{
    struct ctl_queue q;
    size_t removed = 0, i;
    int rc;

    memset(&q, 0, sizeof(q));
    q.user = user;
    q.config_dir = config_dir;
    q.sasl = sasl;
    q.dry_run = dry_run;
    q.json = c->json;
    q.purge = purge;
    q.release = release;
    /* postqueue failed: no summary, nothing removed. Unreadable lines: what was selected
     * is still USER's and is purged, but the exit status says the list may be short. */
    if ((rc = ctl_queue_scan(&q)) == CTL_OK) {
        if (q.skipped > 0)
            rc = ctl_fail(CTL_ERR, "%zu line(s) of the queue could not be read: the "
                          "selection may be incomplete", q.skipped);
        if (purge && !q.dry_run && q.nids > 0 && ctl_queue_purge(&q, &removed) != CTL_OK)
            rc = CTL_ERR;
        ctl_queue_summary(&q, purge, removed);
    }
    for (i = 0; i < q.nids; i++)
        free(q.ids[i]);
    free(q.ids);
    return rc;
}

static const struct ctl_cmd ctl_cmds[] = {
    {"ping", "ping", ctl_ping},
    {"status", "status [USER]   (with USER: as show)", ctl_status},
    {"stats", "stats   (as status)", ctl_status},
    {"show", "show USER", ctl_show},
    {"history", "history USER", ctl_show},
    {"list", "list [--reason compromise|rate|manual|weak-password] [--domain DOMAIN] "
             "[--offset N] [--limit N] [--all]",
     ctl_list},
    {"blocked", "blocked [--reason R] [--domain DOMAIN] [--offset N] [--limit N] [--all]",
     ctl_list},
    {"block", "block USER --reason TEXT [--operator NAME] [--purge-queue [-c CONFIG_DIR]]\n"
              "       --purge-queue: then delete USER's messages from the Postfix queue",
     ctl_block},
    {"unblock", "unblock USER --reason TEXT [--false-positive] [--ref REF] [--operator NAME]\n"
                "       [--release-held [-c CONFIG_DIR]]: then release USER's held messages",
     ctl_block},
    {"override", "override USER|--domain DOMAIN [NAME=VALUE ...] [NAME= ...] [--clear] "
                 "[--operator NAME]\n"
                 "       NAME: exempt (yes/no), profile (none, bulk, outreach, system, "
                 "traveller),\n"
                 "       lim_rcpt_hour lim_rcpt_day lim_msg_hour lim_msg_day (or rcpt_hour "
                 "...), raise_until\n"
                 "       (unix time or +DURATION, e.g. +2h), raise_rcpt_hour raise_rcpt_day "
                 "raise_msg_hour\n"
                 "       raise_msg_day. NAME= deletes a setting; no NAME shows the settings.",
     ctl_override},
    {"metrics", "metrics", ctl_metrics},
    {"audit", "audit [--offset N] [--limit N]", ctl_audit},
    {"queue", "queue list|purge|release USER [-c CONFIG_DIR] [--sasl] [--dry-run]\n"
              "       release: the USER's messages on the hold queue (postsuper -H)",
     ctl_queue},
    {"raw", "raw   (JSON requests on standard input, one per line; answers on standard "
            "output)",
     ctl_raw},
};

#define CTL_NCMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

static void ctl_usage(FILE *out)
{
    size_t i;

    fprintf(out, "usage: policyctl [-s SOCKET | -H HOST:PORT] [-t TOKEN_FILE] [-j|--json] "
                 "[-T SECONDS] COMMAND ...\n\ncommands:\n");
    for (i = 0; i < CTL_NCMDS; i++)
        fprintf(out, "  %s\n", ctl_cmds[i].usage);
    fprintf(out, "\n\"policyctl COMMAND --help\" shows one command. The socket defaults to "
                 "$POLICYD_STATUS_SOCKET,\nelse " CTL_DEFAULT_SOCKET ". Exit status: 0 ok, "
                 "1 the daemon answered an error, 2 usage,\n3 cannot connect or no answer, "
                 "4 permission denied.\n");
}

/* ctl_read_token - the first line of a token file. */
static int ctl_read_token(struct ctl *c, const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[CTL_TOKEN_MAX + 2];
    size_t n;

    if (f == NULL)
        return ctl_fail(errno == EACCES ? CTL_DENIED : CTL_USAGE, "cannot read %s: %s", path,
                        strerror(errno));
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (buf[0] == '\0')
        return ctl_fail(CTL_USAGE, "%s: empty token", path);
    c->token = strdup(buf);
    explicit_bzero(buf, sizeof(buf));
    return CTL_OK;
}

/* ctl_global - the options before the command; the index of the command, or -1. */
static int ctl_global(struct ctl *c, int argc, char **argv, int *rc)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch;

    *rc = CTL_OK;
    while ((ch = getopt_long(argc, argv, "+s:H:t:jT:h", opts, NULL)) != -1) {
        if (ch == 's')
            c->socket_path = optarg;
        else if (ch == 'H')
            c->hostport = optarg;
        else if (ch == 't')
            *rc = ctl_read_token(c, optarg);
        else if (ch == 'j')
            c->json = true;
        else if (ch == 'T')
            c->timeout_s = atoi(optarg) > 0 ? atoi(optarg) : 10;
        else if (ch == 'h')
            ctl_usage(stdout), *rc = -1;
        else
            *rc = CTL_USAGE;
        if (*rc != CTL_OK)
            return -1;
    }
    if (optind >= argc) {
        ctl_usage(stderr);
        *rc = CTL_USAGE;
        return -1;
    }
    return optind;
}

int main(int argc, char **argv)
{
    struct ctl c = {NULL, NULL, NULL, false, 10, -1, NULL, 0};
    const char *env = getenv("POLICYD_STATUS_SOCKET");
    int first, rc;
    size_t i;

    c.socket_path = env != NULL && env[0] != '\0' ? env : CTL_DEFAULT_SOCKET;
    if ((first = ctl_global(&c, argc, argv, &rc)) < 0)
        return rc < 0 ? CTL_OK : rc == CTL_USAGE ? (ctl_usage(stderr), CTL_USAGE) : rc;
    for (i = 0; i < CTL_NCMDS; i++)
        if (strcmp(argv[first], ctl_cmds[i].name) == 0)
            break;
    if (i == CTL_NCMDS) {
        ctl_fail(CTL_USAGE, "unknown command \"%s\"", argv[first]);
        ctl_usage(stderr);
        return CTL_USAGE;
    }
    rc = ctl_cmds[i].run(&c, &ctl_cmds[i], argc - first, argv + first);
    if (c.fd >= 0)
        close(c.fd);
    if (c.token != NULL)
        explicit_bzero(c.token, strlen(c.token));
    free(c.token);
    free(c.rbuf);
    return rc;
}
