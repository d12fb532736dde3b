/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      proto - pure codec for the Postfix SMTP access policy delegation protocol
 * SYNOPSIS
 *      #include "policyd/proto.h"
 *
 *      void proto_init(struct proto_parser *p)
 *      void proto_reset(struct proto_parser *p)
 *      int proto_feed(struct proto_parser *p, const char *data, size_t len, size_t *consumed)
 *      const struct proto_request *proto_request(const struct proto_parser *p)
 *      bool proto_in_progress(const struct proto_parser *p)
 *      const char *proto_attr_name(enum proto_attr a)
 *      int proto_format_reply(char *out, size_t outlen, const char *action, size_t action_len)
 *      const char *proto_strerror(int err)
 * DESCRIPTION
 *      A request is a sequence of "name=value\n" lines ended by an empty line. proto_feed()
 *      takes bytes as they arrive, in chunks of any size, and consumes them up to and
 *      including the empty line that ends a request. It then returns PROTO_REQUEST and sets
 *      *consumed to the bytes it used; the caller keeps the rest (pipelined bytes of the next
 *      request) and feeds them again after proto_reset(). When all of data was consumed
 *      without completing a request, it returns PROTO_NEED_MORE. The outcome never depends on
 *      how the input was split into chunks.
 *
 *      A "\r" right before "\n" is stripped (people test with telnet); a "\r" anywhere else
 *      is a byte of the value. The name is everything before the first '='; neither name
 *      nor value is trimmed, so "sender =x" is an unknown attribute named "sender ".
 *      Unknown attribute names are counted in nunknown and ignored, because Postfix keeps
 *      adding attributes. Every attribute line, known or not, counts against PD_MAX_ATTRS.
 *      An empty line before any attribute (a stray "\n") is an empty request, which lacks
 *      request= and so fails with PROTO_ERR_BAD_REQUEST.
 *
 *      Values of known attributes are stored NUL-terminated in the parser's own buffer.
 *      The pointers returned by proto_request() stay valid until proto_reset() or
 *      proto_init(). An absent attribute is NULL, "name=" gives "". The parser is embedded
 *      by the caller: no allocation, no I/O, no logging, no globals.
 *
 *      proto_format_reply() writes exactly "action=<text>\n\n" into out, without a NUL
 *      terminator, and returns its length.
 * DIAGNOSTICS
 *      proto_feed() returns PROTO_REQUEST, PROTO_NEED_MORE or a negative PROTO_ERR_* code.
 *      A protocol error is sticky: later calls return the same code, consuming nothing,
 *      until proto_reset(). Calling proto_feed() while a request is held (before
 *      proto_reset()) returns PROTO_ERR_STATE and changes nothing. The first offending byte
 *      decides the error: at one byte NUL beats a long line, which beats a large request;
 *      errors about a whole line (no '=', empty name, too many attributes, duplicate) and
 *      about the whole request (bad request=) are reported at its newline.
 *      proto_format_reply() returns PROTO_ERR_REPLY_BAD_CHAR, _EMPTY or _TOO_LONG.
 *      Nothing here is fatal.
 * SEE ALSO
 *      SMTPD_POLICY_README (Postfix), attr_scan_plain.c (Postfix), policyd/conn.c
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "policyd/proto.h"

#define REQUEST_NAME "smtpd_access_policy"
#define REPLY_PREFIX "action="

/* Wire names, in enum proto_attr order. */
static const char *const proto_attr_names[PROTO_A_COUNT] = {
    [PROTO_A_REQUEST] = "request",
    [PROTO_A_PROTOCOL_STATE] = "protocol_state",
    [PROTO_A_PROTOCOL_NAME] = "protocol_name",
    [PROTO_A_HELO_NAME] = "helo_name",
    [PROTO_A_QUEUE_ID] = "queue_id",
    [PROTO_A_SENDER] = "sender",
    [PROTO_A_RECIPIENT] = "recipient",
    [PROTO_A_RECIPIENT_COUNT] = "recipient_count",
    [PROTO_A_CLIENT_ADDRESS] = "client_address",
    [PROTO_A_CLIENT_NAME] = "client_name",
    [PROTO_A_REVERSE_CLIENT_NAME] = "reverse_client_name",
    [PROTO_A_CLIENT_PORT] = "client_port",
    [PROTO_A_INSTANCE] = "instance",
    [PROTO_A_SASL_METHOD] = "sasl_method",
    [PROTO_A_SASL_USERNAME] = "sasl_username",
    [PROTO_A_SASL_SENDER] = "sasl_sender",
    [PROTO_A_SIZE] = "size",
    [PROTO_A_SERVER_ADDRESS] = "server_address",
    [PROTO_A_SERVER_PORT] = "server_port",
    [PROTO_A_POLICY_CONTEXT] = "policy_context",
    [PROTO_A_STRESS] = "stress",
    [PROTO_A_POLICYD_TIME] = "policyd_time",
};

/* attr_check - a if name[0..len) is the wire name of a, else -1 */
static int attr_check(const char *name, size_t len, enum proto_attr a)
{
    return memcmp(name, proto_attr_names[a], len) == 0 ? (int)a : -1;
}

/*
 * attr_lookup - the enum proto_attr of an attribute name, or -1 if unknown
 *
 * On the hot path (about 30 lines per request): the length and at most two bytes pick
 * the single candidate, and one memcmp() confirms it. tests/unit/test_proto.c checks
 * every name, so a new attribute only needs its case here.
 */
static int attr_lookup(const char *s, size_t n)
{
    switch (n) {
    case 4:
        return attr_check(s, n, PROTO_A_SIZE);
    case 6:
        return attr_check(s, n, s[1] == 'e' ? PROTO_A_SENDER : PROTO_A_STRESS);
    case 7:
        return attr_check(s, n, PROTO_A_REQUEST);
    case 8:
        return attr_check(s, n, s[0] == 'q' ? PROTO_A_QUEUE_ID : PROTO_A_INSTANCE);
    case 9:
        return attr_check(s, n, s[0] == 'h' ? PROTO_A_HELO_NAME : PROTO_A_RECIPIENT);
    case 11:
        if (s[0] == 'c')
            return attr_check(s, n, s[7] == 'n' ? PROTO_A_CLIENT_NAME : PROTO_A_CLIENT_PORT);
        if (s[1] == 'e')
            return attr_check(s, n, PROTO_A_SERVER_PORT);
        return attr_check(s, n, s[5] == 'm' ? PROTO_A_SASL_METHOD : PROTO_A_SASL_SENDER);
    case 12:
        return attr_check(s, n, PROTO_A_POLICYD_TIME);
    case 13:
        return attr_check(s, n, s[0] == 'p' ? PROTO_A_PROTOCOL_NAME : PROTO_A_SASL_USERNAME);
    case 14:
        if (s[0] == 'c')
            return attr_check(s, n, PROTO_A_CLIENT_ADDRESS);
        if (s[0] == 's')
            return attr_check(s, n, PROTO_A_SERVER_ADDRESS);
        return attr_check(s, n, s[1] == 'r' ? PROTO_A_PROTOCOL_STATE : PROTO_A_POLICY_CONTEXT);
    case 15:
        return attr_check(s, n, PROTO_A_RECIPIENT_COUNT);
    case 19:
        return attr_check(s, n, PROTO_A_REVERSE_CLIENT_NAME);
    default:
        return -1;
    }
}

/* proto_init - prepare an embedded parser; no allocation */
void proto_init(struct proto_parser *p)
{
    proto_reset(p);
}

/*
 * proto_reset - forget the held request or error and start a new request
 *
 * Only the header is cleared; buf is overwritten as bytes arrive.
 */
void proto_reset(struct proto_parser *p)
{
    p->line_start = 0;
    p->line_len = 0;
    p->req_bytes = 0;
    p->status = PROTO_NEED_MORE;
    memset(&p->req, 0, sizeof(p->req));
}

/* request_done - the empty line arrived: check request= and publish the request */
static int request_done(struct proto_parser *p)
{
    const char *r = p->req.attr[PROTO_A_REQUEST];

    if (r == NULL || p->req.attr_len[PROTO_A_REQUEST] != sizeof(REQUEST_NAME) - 1 ||
        memcmp(r, REQUEST_NAME, sizeof(REQUEST_NAME) - 1) != 0)
        return PROTO_ERR_BAD_REQUEST;
    return PROTO_REQUEST;
}

/*
 * line_done - a newline ended the line held at buf + line_start
 *
 * A known attribute keeps its bytes in buf, its newline replaced by the value's NUL, and
 * the next line starts after it; an unknown one is dropped and its room reused. So buf
 * never holds more than the request's wire bytes and cannot overflow.
 */
static int line_done(struct proto_parser *p)
{
    char *line = p->buf + p->line_start;
    size_t len = p->line_len;
    const char *eq;
    int a;

    if (len > 0 && line[len - 1] == '\r')
        len--;
    p->line_len = 0;
    if (len == 0)
        return request_done(p);
    if ((eq = memchr(line, '=', len)) == NULL)
        return PROTO_ERR_NO_EQUALS;
    if (eq == line)
        return PROTO_ERR_EMPTY_NAME;
    if (++p->req.nattrs > PD_MAX_ATTRS)
        return PROTO_ERR_TOO_MANY_ATTRS;
    if ((a = attr_lookup(line, (size_t)(eq - line))) < 0) {
        p->req.nunknown++;
        return PROTO_NEED_MORE;
    }
    if (p->req.attr[a] != NULL)
        return PROTO_ERR_DUPLICATE;
    line[len] = '\0';
    p->req.attr[a] = eq + 1;
    p->req.attr_len[a] = len - (size_t)(eq + 1 - line);
    p->line_start += len + 1;
    return PROTO_NEED_MORE;
}

/*
 * first_bad_byte - index of the first byte of s[0..m) that breaks a byte limit, or m
 *
 * s[0..n) is part of one line; s[n], when m == n + 1, is its newline. *err receives the
 * code for the returned index. A line may reach PD_MAX_LINE + 1 bytes only if that last
 * byte is a '\r' which its newline will strip.
 */
static size_t first_bad_byte(const struct proto_parser *p, const char *s, size_t n, size_t m,
                             int *err)
{
    const char *nul = memchr(s, '\0', n);
    size_t bad = nul != NULL ? (size_t)(nul - s) : m;
    size_t at;

    *err = PROTO_ERR_NUL;
    if (p->line_len > PD_MAX_LINE)
        at = 0;
    else if ((at = PD_MAX_LINE - p->line_len) < n && s[at] == '\r')
        at++;
    if (at < n && at < bad) {
        bad = at;
        *err = PROTO_ERR_LINE_TOO_LONG;
    }
    at = PD_MAX_REQUEST - p->req_bytes;
    if (at < bad) {
        bad = at;
        *err = PROTO_ERR_REQUEST_TOO_LARGE;
    }
    return bad;
}

/*
 * feed_loop - consume data piece by piece until a request, an error or the end of data
 *
 * A piece is the bytes up to and including the next newline (or up to the end of data):
 * it is checked with memchr(), copied with one memcpy(), and its newline ends the line.
 */
static int feed_loop(struct proto_parser *p, const char *data, size_t len, size_t *consumed)
{
    size_t off = 0;

    while (off < len) {
        const char *s = data + off;
        const char *nl = memchr(s, '\n', len - off);
        size_t n = nl != NULL ? (size_t)(nl - s) : len - off;
        size_t m = n + (nl != NULL);
        int err;
        size_t bad = first_bad_byte(p, s, n, m, &err);

        if (bad < m) {
            *consumed = off + bad + 1;
            return err;
        }
        memcpy(p->buf + p->line_start + p->line_len, s, n);
        p->line_len += n;
        p->req_bytes += m;
        off += m;
        if (nl != NULL && (err = line_done(p)) != PROTO_NEED_MORE) {
            *consumed = off;
            return err;
        }
    }
    *consumed = off;
    return PROTO_NEED_MORE;
}

/* proto_feed - parse bytes; see DESCRIPTION and DIAGNOSTICS above */
int proto_feed(struct proto_parser *p, const char *data, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (p->status == PROTO_REQUEST)
        return PROTO_ERR_STATE;
    if (p->status < 0)
        return p->status;
    p->status = feed_loop(p, data, len, consumed);
    return p->status;
}

/* proto_request - the complete request held by p, or NULL if there is none */
const struct proto_request *proto_request(const struct proto_parser *p)
{
    return p->status == PROTO_REQUEST ? &p->req : NULL;
}

/* proto_in_progress - true when bytes of an unfinished request have been fed */
bool proto_in_progress(const struct proto_parser *p)
{
    return p->status == PROTO_NEED_MORE && p->req_bytes > 0;
}

/* proto_attr_name - the wire name of a, or "?" for a value outside the enum */
const char *proto_attr_name(enum proto_attr a)
{
    return (unsigned)a < PROTO_A_COUNT ? proto_attr_names[a] : "?";
}

/*
 * proto_format_reply - write "action=<text>\n\n" into out[0..outlen)
 *
 * The text comes from rules and configuration, so it is checked, never trusted: a CR, LF
 * or NUL would let it inject lines, and an empty action means OK to Postfix.
 */
int proto_format_reply(char *out, size_t outlen, const char *action, size_t action_len)
{
    size_t i, total = sizeof(REPLY_PREFIX) - 1 + action_len + 2;
    bool blank = true;

    if (action_len > PD_MAX_REPLY) /* also keeps total from wrapping */
        return PROTO_ERR_REPLY_TOO_LONG;
    for (i = 0; i < action_len; i++) {
        char c = action[i];

        if (c == '\r' || c == '\n' || c == '\0')
            return PROTO_ERR_REPLY_BAD_CHAR;
        if (c != ' ' && c != '\t')
            blank = false;
    }
    if (blank)
        return PROTO_ERR_REPLY_EMPTY;
    if (total > PD_MAX_REPLY || total > outlen)
        return PROTO_ERR_REPLY_TOO_LONG;
    memcpy(out, REPLY_PREFIX, sizeof(REPLY_PREFIX) - 1);
    memcpy(out + sizeof(REPLY_PREFIX) - 1, action, action_len);
    out[total - 2] = '\n';
    out[total - 1] = '\n';
    return (int)total;
}

/* proto_strerror - short English text for a proto_feed() or proto_format_reply() code */
const char *proto_strerror(int err)
{
    switch (err) {
    case PROTO_NEED_MORE:
        return "incomplete request";
    case PROTO_REQUEST:
        return "request complete";
    case PROTO_ERR_LINE_TOO_LONG:
        return "line too long";
    case PROTO_ERR_TOO_MANY_ATTRS:
        return "too many attributes";
    case PROTO_ERR_REQUEST_TOO_LARGE:
        return "request too large";
    case PROTO_ERR_NUL:
        return "NUL byte in request";
    case PROTO_ERR_NO_EQUALS:
        return "line without '='";
    case PROTO_ERR_EMPTY_NAME:
        return "empty attribute name";
    case PROTO_ERR_DUPLICATE:
        return "duplicate attribute";
    case PROTO_ERR_BAD_REQUEST:
        return "request= missing or not smtpd_access_policy";
    case PROTO_ERR_STATE:
        return "request fed before the previous one was reset";
    case PROTO_ERR_REPLY_EMPTY:
        return "empty reply action";
    case PROTO_ERR_REPLY_BAD_CHAR:
        return "CR, LF or NUL in reply action";
    case PROTO_ERR_REPLY_TOO_LONG:
        return "reply action too long";
    default:
        return "unknown protocol error";
    }
}
