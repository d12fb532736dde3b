/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      jsonreq - parse and validate one request of the status socket
 * SYNOPSIS
 *      #include "policyd/jsonreq.h"
 *
 *      int jsonreq_parse(const char *line, size_t len, struct jsonreq *out,
 *                        char *err, size_t errlen)
 *      enum jsonreq_role jsonreq_role_needed(const struct jsonreq *req)
 *      bool jsonreq_is_write(const struct jsonreq *req)
 *      const char *jsonreq_cmd_name(enum jsonreq_cmd cmd)
 *      const char *jsonreq_ovr_name(enum jsonreq_ovr f)
 *      int jsonreq_ovr_lookup(const char *name, size_t len)
 *      const char *jsonreq_role_name(enum jsonreq_role r)
 *      const char *jsonreq_strerror(int err)
 * DESCRIPTION
 *      jsonreq_parse() takes one line (without its newline; a trailing CR is ignored) and
 *      fills *out. Before jansson sees the line, a scan rejects NUL bytes and nesting
 *      deeper than JSONREQ_MAX_DEPTH, so no hostile line makes the parser build a deep
 *      tree. jansson then parses with JSON_REJECT_DUPLICATES (valid UTF-8, no "\u0000").
 *      The object must have a "cmd" string naming a command; every other field must be
 *      one that command takes (a table below), of the right type and within its limits.
 *      "id" (an integer) and "token" (a string) are accepted with every command.
 *
 *      Commands and their fields:
 *          ping, status, metrics           -
 *          show        user
 *          list        [offset] [limit] [reason] [domain]     reason/domain filter
 *          audit       [offset] [limit]
 *          block       user reason operator
 *          unblock     user reason operator [ref] [false_positive]
 *          override    user|domain [set {name: value|null}] [clear true|[name...]]
 *                      [operator] (required when set or clear is given)
 *
 *      Override values: exempt takes true/false, 0/1 or "yes"/"no"; profile a name of
 *      [a-z0-9_-]; the limits 0..JSONREQ_LIMIT_MAX as a number or a decimal string;
 *      raise_until a unix time, or "+DURATION" (e.g. "+2h", as in policyd.conf) from now.
 *      null deletes a field.
 *
 *      Pure: no I/O, no logging, no globals; out and err are the caller's. The jansson
 *      tree is freed before the call returns.
 * DIAGNOSTICS
 *      0, or a negative JSONREQ_ERR_* code with a one-line message in err that names the
 *      field; messages are printable ASCII (peer bytes in them are clipped and anything
 *      else becomes '?'), safe for a log line and a JSON reply.
 *      out->has_id and out->id are set as soon as the id is known, so an error reply can
 *      carry it.
 * SEE ALSO
 *      status(3), policyctl(1), tests/unit/test_jsonreq.c, tests/fuzz/fuzz_jsonreq.c
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "policyd/config.h"
#include "policyd/jsonreq.h"

#define JSONREQ_QUOTE_MAX 40          /* bytes of a name echoed in a message */
#define JSONREQ_OFFSET_MAX 1000000000 /* a page offset */

enum jsonreq_field {
    F_CMD,
    F_ID,
    F_TOKEN,
    F_OPERATOR,
    F_USER,
    F_DOMAIN,
    F_REASON,
    F_REF,
    F_FALSE_POSITIVE,
    F_OFFSET,
    F_LIMIT,
    F_SET,
    F_CLEAR,
    F_N
};

#define B(f) (1u << (f))
#define F_COMMON (B(F_CMD) | B(F_ID) | B(F_TOKEN))

static const char *const jsonreq_field_names[F_N] = {
    "cmd",  "id",  "token",          "operator", "user",  "domain", "reason",
    "ref",  "false_positive", "offset", "limit", "set", "clear",
};

static const struct {
    const char *name;
    unsigned allowed; /* besides F_COMMON */
    unsigned required;
    enum jsonreq_role role; /* override: READ to get, ADMIN to change */
} jsonreq_cmds[JSONREQ_NCMDS] = {
    [JSONREQ_PING] = {"ping", 0, 0, JSONREQ_ROLE_NONE},
    [JSONREQ_STATUS] = {"status", 0, 0, JSONREQ_ROLE_READ},
    [JSONREQ_METRICS] = {"metrics", 0, 0, JSONREQ_ROLE_READ},
    [JSONREQ_SHOW] = {"show", B(F_USER), B(F_USER), JSONREQ_ROLE_READ},
    [JSONREQ_LIST] = {"list", B(F_OFFSET) | B(F_LIMIT) | B(F_REASON) | B(F_DOMAIN), 0,
                      JSONREQ_ROLE_READ},
    [JSONREQ_AUDIT] = {"audit", B(F_OFFSET) | B(F_LIMIT), 0, JSONREQ_ROLE_READ},
    [JSONREQ_BLOCK] = {"block", B(F_USER) | B(F_REASON) | B(F_OPERATOR),
                       B(F_USER) | B(F_REASON) | B(F_OPERATOR), JSONREQ_ROLE_ADMIN},
    [JSONREQ_UNBLOCK] = {"unblock",
                         B(F_USER) | B(F_REASON) | B(F_OPERATOR) | B(F_REF) | B(F_FALSE_POSITIVE),
                         B(F_USER) | B(F_REASON) | B(F_OPERATOR), JSONREQ_ROLE_ADMIN},
    [JSONREQ_OVERRIDE] = {"override", B(F_USER) | B(F_DOMAIN) | B(F_SET) | B(F_CLEAR) |
                                          B(F_OPERATOR),
                          0, JSONREQ_ROLE_READ},
};

/* What values an override field takes. */
enum jsonreq_vtype { V_BOOL, V_PROFILE, V_COUNT, V_TIME };

static const struct {
    const char *name;
    enum jsonreq_vtype type;
} jsonreq_ovrs[JSONREQ_OVR_N] = {
    [JSONREQ_OVR_EXEMPT] = {"exempt", V_BOOL},
    [JSONREQ_OVR_PROFILE] = {"profile", V_PROFILE},
    [JSONREQ_OVR_LIM_RCPT_HOUR] = {"lim_rcpt_hour", V_COUNT},
    [JSONREQ_OVR_LIM_RCPT_DAY] = {"lim_rcpt_day", V_COUNT},
    [JSONREQ_OVR_LIM_MSG_HOUR] = {"lim_msg_hour", V_COUNT},
    [JSONREQ_OVR_LIM_MSG_DAY] = {"lim_msg_day", V_COUNT},
    [JSONREQ_OVR_RAISE_UNTIL] = {"raise_until", V_TIME},
    [JSONREQ_OVR_RAISE_RCPT_HOUR] = {"raise_rcpt_hour", V_COUNT},
    [JSONREQ_OVR_RAISE_RCPT_DAY] = {"raise_rcpt_day", V_COUNT},
    [JSONREQ_OVR_RAISE_MSG_HOUR] = {"raise_msg_hour", V_COUNT},
    [JSONREQ_OVR_RAISE_MSG_DAY] = {"raise_msg_day", V_COUNT},
};

static const char *const jsonreq_block_reasons[] = {"compromise", "rate", "manual",
                                                    "weak-password", NULL};

static int jsonreq_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int jsonreq_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;

    if (errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* jsonreq_quote - a name from the peer, made printable and clipped for a message. */
static const char *jsonreq_quote(char *dst, size_t dstlen, const char *s, size_t len)
{
    size_t i, o = 0, room = dstlen - 4;

    if (room > JSONREQ_QUOTE_MAX)
        room = JSONREQ_QUOTE_MAX;
    for (i = 0; i < len && o < room; i++)
        dst[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (i < len) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
    return dst;
}

/* jsonreq_scan - NUL bytes and the nesting depth, before any parser sees the line. */
static int jsonreq_scan(const char *s, size_t len, char *err, size_t errlen)
{
    bool in_str = false, esc = false;
    unsigned depth = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        char c = s[i];

        if (c == '\0')
            return jsonreq_fail(err, errlen, JSONREQ_ERR_NUL, "NUL byte at offset %zu", i);
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > JSONREQ_MAX_DEPTH)
                return jsonreq_fail(err, errlen, JSONREQ_ERR_DEPTH,
                                    "nested deeper than %d levels at offset %zu",
                                    JSONREQ_MAX_DEPTH, i);
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

/* jsonreq_has_ctl - a control byte (C0 or DEL): never in names, reasons or tokens. */
static bool jsonreq_has_ctl(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

/* jsonreq_string - a string field of 1..max bytes, copied NUL-terminated into dst. */
static int jsonreq_string(json_t *v, const char *name, size_t max, bool ctl_ok, char *dst,
                          size_t *dstlen, char *err, size_t errlen)
{
    size_t n;

    if (!json_is_string(v))
        return jsonreq_fail(err, errlen, JSONREQ_ERR_TYPE, "\"%s\" must be a string", name);
    n = json_string_length(v);
    if (n == 0)
        return jsonreq_fail(err, errlen, JSONREQ_ERR_VALUE, "\"%s\" is empty", name);
    if (n > max)
        return jsonreq_fail(err, errlen, JSONREQ_ERR_VALUE, "\"%s\" is longer than %zu bytes",
                            name, max);
    if (!ctl_ok && jsonreq_has_ctl(json_string_value(v), n))
        return jsonreq_fail(err, errlen, JSONREQ_ERR_VALUE,
                            "\"%s\" contains a control character", name);
    memcpy(dst, json_string_value(v), n);
    dst[n] = '\0';
    if (dstlen != NULL)
        *dstlen = n;
    return 0;
}

/* jsonreq_int - an integer field in lo..hi. */
static int jsonreq_int(json_t *v, const char *name, long long lo, long long hi, long long *out,
                       char *err, size_t errlen)
{
    if (!json_is_integer(v))
        return jsonreq_fail(err, errlen, JSONREQ_ERR_TYPE, "\"%s\" must be an integer", name);
    if (json_integer_value(v) < lo || json_integer_value(v) > hi)
        return jsonreq_fail(err, errlen, JSONREQ_ERR_VALUE, "\"%s\" must be %lld..%lld", name,
                            lo, hi);
    *out = json_integer_value(v);
    return 0;
}

/* jsonreq_domain - 1..253 bytes of [a-z0-9.-] after lowercasing, no dot at either end. */
static int jsonreq_domain(json_t *v, char *dst, char *err, size_t errlen)
{
    size_t n, i;
    int rc = jsonreq_string(v, "domain", JSONREQ_DOMAIN_MAX, false, dst, &n, err, errlen);

    if (rc < 0)
        return rc;
    for (i = 0; i < n; i++) {
        char c = dst[i];

        if (c >= 'A' && c <= 'Z')
            dst[i] = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return jsonreq_fail(err, errlen, JSONREQ_ERR_VALUE,
                                "\"domain\" may only hold letters, digits, '.' and '-'");
    }
    if (dst[0] == '.' || dst[n - 1] == '.' || strstr(dst, "..") != NULL)
        return jsonreq_fail(err, errlen, JSONREQ_ERR_VALUE, "\"domain\" is not a domain name");
    return 0;
}

/* jsonreq_word - a string made only of [A-Za-z0-9_-] (profiles, reference ids). */
static bool jsonreq_word(const char *s, bool lower_only)
{
    for (; *s; s++) {
        char c = *s;

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              (!lower_only && c >= 'A' && c <= 'Z')))
            return false;
    }
    return true;
}

/* jsonreq_decimal - a decimal string of at most 12 digits as a number; -1 when it is not. */
static long long jsonreq_decimal(const char *s)
{
    long long v = 0;
    size_t i;

    if (s[0] == '\0' || strlen(s) > 12)
        return -1;
    for (i = 0; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* jsonreq_ovr_bool - exempt: true/false, 0/1, or the words policyd.conf takes. */
static int jsonreq_ovr_bool(json_t *v, char *dst)
{
    static const char *const yes[] = {"1", "yes", "true", NULL};
    static const char *const no[] = {"0", "no", "false", NULL};
    const char *s = json_string_value(v);
    size_t i;

    if (json_is_boolean(v) || (json_is_integer(v) && (json_integer_value(v) & ~1LL) == 0)) {
        strcpy(dst, json_is_true(v) || json_integer_value(v) == 1 ? "1" : "0");
        return 0;
    }
    for (i = 0; s != NULL && yes[i] != NULL; i++) {
        if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
            strcpy(dst, strcmp(s, yes[i]) == 0 ? "1" : "0");
            return 0;
        }
    }
    return -1;
}

/* jsonreq_ovr_number - a count (0..JSONREQ_LIMIT_MAX) or a time, as decimal text. */
static int jsonreq_ovr_number(json_t *v, enum jsonreq_vtype type, char *dst)
{
    long long n = -1, max = type == V_TIME ? JSONREQ_TIME_MAX : JSONREQ_LIMIT_MAX;
    int64_t ms;

    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);

        if (type == V_TIME && s[0] == '+') {
            if (cfg_parse_duration(s + 1, &ms) < 0 || ms < 1000 ||
                ms / 1000 > JSONREQ_RAISE_MAX_S)
                return -1;
            snprintf(dst, JSONREQ_VALUE_MAX + 1, "+%lld", (long long)(ms / 1000));
            return 0;
        }
        n = jsonreq_decimal(s);
    }
    if (n < 0 || n > max)
        return -1;
    snprintf(dst, JSONREQ_VALUE_MAX + 1, "%lld", n);
    return 0;
}

/* jsonreq_ovr_value - one "set" member: the value as the ovr hash stores it. */
static int jsonreq_ovr_value(struct jsonreq *out, int f, json_t *v, char *err, size_t errlen)
{
    const char *name = jsonreq_ovrs[f].name;
    char *dst = out->ovr_val[f];
    int rc = -1;

    out->ovr_set[f] = true;
    if (json_is_null(v)) {
        dst[0] = '\0';
        return 0;
    }
    switch (jsonreq_ovrs[f].type) {
    case V_BOOL:
        rc = jsonreq_ovr_bool(v, dst);
        break;
    case V_PROFILE:
        if (json_is_string(v) && json_string_length(v) >= 1 &&
            json_string_length(v) <= JSONREQ_PROFILE_MAX &&
            strlen(json_string_value(v)) == json_string_length(v) &&
            jsonreq_word(json_string_value(v), true)) {
            strcpy(dst, json_string_value(v));
            rc = 0;
        }
        break;
    case V_COUNT:
    case V_TIME:
        rc = jsonreq_ovr_number(v, jsonreq_ovrs[f].type, dst);
        break;
    }
    if (rc < 0)
        return jsonreq_fail(err, errlen, JSONREQ_ERR_VALUE, "override %s: %s", name,
                            jsonreq_ovrs[f].type == V_BOOL      ? "expected true or false"
                            : jsonreq_ovrs[f].type == V_PROFILE ? "expected a name of [a-z0-9_-]"
                            : jsonreq_ovrs[f].type == V_TIME
                                ? "expected a unix time or +DURATION (e.g. +2h)"
                                : "expected a number 0..10000000");
    return 0;
}

/* jsonreq_set - "set": {name: value, ...}. */
static int jsonreq_set(struct jsonreq *out, json_t *obj, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    char q[JSONREQ_QUOTE_MAX + 4];
    int f, rc;

    if (!json_is_object(obj))
        return jsonreq_fail(err, errlen, JSONREQ_ERR_TYPE, "\"set\" must be an object");
    if (json_object_size(obj) == 0)
        return jsonreq_fail(err, errlen, JSONREQ_ERR_VALUE, "\"set\" is empty");
    json_object_foreach(obj, key, v) {
        if ((f = jsonreq_ovr_lookup(key, strlen(key))) < 0)
            return jsonreq_fail(err, errlen, JSONREQ_ERR_VALUE, "no override named \"%s\"",
                                jsonreq_quote(q, sizeof(q), key, strlen(key)));
        if ((rc = jsonreq_ovr_value(out, f, v, err, errlen)) < 0)
            return rc;
    }
    return 0;
}

/* jsonreq_clear - "clear": true (every field) or ["name", ...]. */
static int jsonreq_clear(struct jsonreq *out, json_t *v, char *err, size_t errlen)
{
    char q[JSONREQ_QUOTE_MAX + 4];
    size_t i;
    json_t *e;
    int f;

    if (json_is_true(v)) {
        out->ovr_clear_all = true;
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return jsonreq_fail(err, errlen, JSONREQ_ERR_TYPE,
                            "\"clear\" must be true or a non-empty list of override names");
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return jsonreq_fail(err, errlen, JSONREQ_ERR_TYPE,
                                "\"clear\" must list override names (strings)");
        if ((f = jsonreq_ovr_lookup(json_string_value(e), json_string_length(e))) < 0)
            return jsonreq_fail(err, errlen, JSONREQ_ERR_VALUE, "no override named \"%s\"",
                                jsonreq_quote(q, sizeof(q), json_string_value(e),
                                              json_string_length(e)));
        if (out->ovr_set[f])
            return jsonreq_fail(err, errlen, JSONREQ_ERR_VALUE,
                                "override %s is both set and cleared", jsonreq_ovrs[f].name);
        out->ovr_set[f] = true;
        out->ovr_val[f][0] = '\0';
    }
    return 0;
}

/* jsonreq_reason - block/unblock: the operator's words; list: a block reason to filter on. */
static int jsonreq_reason(struct jsonreq *out, json_t *v, char *err, size_t errlen)
{
    size_t i;

    if (out->cmd != JSONREQ_LIST)
        return jsonreq_string(v, "reason", JSONREQ_TEXT_MAX, false, out->text, NULL, err,
                              errlen);
    for (i = 0; json_is_string(v) && jsonreq_block_reasons[i] != NULL; i++) {
        if (strcmp(json_string_value(v), jsonreq_block_reasons[i]) == 0) {
            strcpy(out->filter_reason, jsonreq_block_reasons[i]);
            return 0;
        }
    }
    return jsonreq_fail(err, errlen, json_is_string(v) ? JSONREQ_ERR_VALUE : JSONREQ_ERR_TYPE,
                        "\"reason\" must be compromise, rate, manual or weak-password");
}

/* jsonreq_field - one member of the request object, already known to be allowed. */
static int jsonreq_field(struct jsonreq *out, enum jsonreq_field f, json_t *v, char *err,
                         size_t errlen)
{
    long long n;
    int rc;

    switch (f) {
    case F_CMD:
    case F_ID:
    case F_N:
        return 0; /* read before the loop */
    case F_TOKEN:
        out->has_token = true;
        return jsonreq_string(v, "token", JSONREQ_TOKEN_MAX, false, out->token, NULL, err,
                              errlen);
    case F_OPERATOR:
        return jsonreq_string(v, "operator", JSONREQ_OPERATOR_MAX, false, out->oper, NULL, err,
                              errlen);
    case F_USER:
        return jsonreq_string(v, "user", JSONREQ_USER_MAX, true, out->user, &out->user_len,
                              err, errlen);
    case F_DOMAIN:
        return jsonreq_domain(v, out->domain, err, errlen);
    case F_REASON:
        return jsonreq_reason(out, v, err, errlen);
    case F_REF:
        rc = jsonreq_string(v, "ref", JSONREQ_REF_MAX, false, out->ref, NULL, err, errlen);
        if (rc == 0 && !jsonreq_word(out->ref, false))
            rc = jsonreq_fail(err, errlen, JSONREQ_ERR_VALUE,
                              "\"ref\" is a reference id such as PD-0A1B2C3D");
        return rc;
    case F_FALSE_POSITIVE:
        if (!json_is_boolean(v))
            return jsonreq_fail(err, errlen, JSONREQ_ERR_TYPE,
                                "\"false_positive\" must be true or false");
        out->false_positive = json_is_true(v);
        return 0;
    case F_OFFSET:
        return jsonreq_int(v, "offset", 0, JSONREQ_OFFSET_MAX, &out->offset, err, errlen);
    case F_LIMIT:
        rc = jsonreq_int(v, "limit", 1, JSONREQ_PAGE_MAX, &n, err, errlen);
        if (rc == 0)
            out->limit = n;
        return rc;
    case F_SET:
        return jsonreq_set(out, v, err, errlen);
    case F_CLEAR:
        return jsonreq_clear(out, v, err, errlen);
    }
    return 0;
}

static int jsonreq_field_lookup(const char *name)
{
    int i;

    for (i = 0; i < F_N; i++)
        if (strcmp(jsonreq_field_names[i], name) == 0)
            return i;
    return -1;
}

/* jsonreq_command - "cmd" (and "id" first, so that any error reply can carry it). */
static int jsonreq_command(json_t *root, struct jsonreq *out, char *err, size_t errlen)
{
    json_t *id = json_object_get(root, "id"), *cmd = json_object_get(root, "cmd");
    char q[JSONREQ_QUOTE_MAX + 4];
    int i;

    if (id != NULL) {
        if (!json_is_integer(id))
            return jsonreq_fail(err, errlen, JSONREQ_ERR_TYPE, "\"id\" must be an integer");
        out->has_id = true;
        out->id = json_integer_value(id);
    }
    if (cmd == NULL)
        return jsonreq_fail(err, errlen, JSONREQ_ERR_MISSING, "missing \"cmd\"");
    if (!json_is_string(cmd))
        return jsonreq_fail(err, errlen, JSONREQ_ERR_TYPE, "\"cmd\" must be a string");
    for (i = 0; i < JSONREQ_NCMDS; i++) {
        if (strlen(jsonreq_cmds[i].name) == json_string_length(cmd) &&
            strcmp(jsonreq_cmds[i].name, json_string_value(cmd)) == 0) {
            out->cmd = (enum jsonreq_cmd)i;
            return 0;
        }
    }
    return jsonreq_fail(err, errlen, JSONREQ_ERR_COMMAND, "unknown command \"%s\"",
                        jsonreq_quote(q, sizeof(q), json_string_value(cmd),
                                      json_string_length(cmd)));
}

/* jsonreq_fields - every member: allowed for the command, then parsed; then the required. */
static int jsonreq_fields(json_t *root, struct jsonreq *out, char *err, size_t errlen)
{
    unsigned allowed = jsonreq_cmds[out->cmd].allowed | F_COMMON, seen = 0, missing;
    const char *key;
    json_t *v;
    char q[JSONREQ_QUOTE_MAX + 4];
    int f, rc;

    json_object_foreach(root, key, v) {
        if ((f = jsonreq_field_lookup(key)) < 0)
            return jsonreq_fail(err, errlen, JSONREQ_ERR_FIELD, "unknown field \"%s\"",
                                jsonreq_quote(q, sizeof(q), key, strlen(key)));
        if (!(allowed & B(f)))
            return jsonreq_fail(err, errlen, JSONREQ_ERR_FIELD,
                                "command %s takes no \"%s\"", jsonreq_cmds[out->cmd].name,
                                jsonreq_field_names[f]);
        seen |= B(f);
        if ((rc = jsonreq_field(out, (enum jsonreq_field)f, v, err, errlen)) < 0)
            return rc;
    }
    missing = jsonreq_cmds[out->cmd].required & ~seen;
    if (out->cmd == JSONREQ_OVERRIDE) {
        if ((seen & B(F_USER)) && (seen & B(F_DOMAIN)))
            return jsonreq_fail(err, errlen, JSONREQ_ERR_VALUE,
                                "override takes \"user\" or \"domain\", not both");
        if (!(seen & (B(F_USER) | B(F_DOMAIN))))
            missing |= B(F_USER);
        if ((seen & (B(F_SET) | B(F_CLEAR))) && !(seen & B(F_OPERATOR)))
            missing |= B(F_OPERATOR);
    }
    for (f = 0; f < F_N; f++)
        if (missing & B(f))
            return jsonreq_fail(err, errlen, JSONREQ_ERR_MISSING, "command %s needs \"%s\"",
                                jsonreq_cmds[out->cmd].name, jsonreq_field_names[f]);
    return 0;
}

/*
 * jsonreq_parse - one request line into *out. The line may end in CR; it holds no newline
 * (the caller splits lines). Returns 0 or a JSONREQ_ERR_* code with a message in err.
 */
int jsonreq_parse(const char *line, size_t len, struct jsonreq *out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    out->limit = JSONREQ_PAGE_DEFAULT;
    if (errlen > 0)
        err[0] = '\0';
    if (len > JSONREQ_MAX_LINE)
        return jsonreq_fail(err, errlen, JSONREQ_ERR_TOO_LONG,
                            "request longer than %d bytes", JSONREQ_MAX_LINE);
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
        continue;
    if (i == len)
        return jsonreq_fail(err, errlen, JSONREQ_ERR_EMPTY, "empty request");
    if ((rc = jsonreq_scan(line, len, err, errlen)) < 0)
        return rc;
    if ((root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
        char text[sizeof(jerr.text)];

        /* jansson quotes the bytes near the error: make them printable ASCII */
        for (i = 0; jerr.text[i] != '\0' && i < sizeof(text) - 1; i++)
            text[i] = jerr.text[i] >= 0x20 && jerr.text[i] < 0x7f ? jerr.text[i] : '?';
        text[i] = '\0';
        return jsonreq_fail(err, errlen, JSONREQ_ERR_SYNTAX, "not JSON: %s (column %d)", text,
                            jerr.column);
    }
    if (!json_is_object(root))
        rc = jsonreq_fail(err, errlen, JSONREQ_ERR_TYPE, "a request is a JSON object");
    if (rc == 0)
        rc = jsonreq_command(root, out, err, errlen);
    if (rc == 0)
        rc = jsonreq_fields(root, out, err, errlen);
    json_decref(root);
    return rc;
}

/* jsonreq_is_write - whether the request changes anything. */
bool jsonreq_is_write(const struct jsonreq *req)
{
    int i;

    if (req->cmd == JSONREQ_BLOCK || req->cmd == JSONREQ_UNBLOCK)
        return true;
    if (req->cmd != JSONREQ_OVERRIDE)
        return false;
    for (i = 0; i < JSONREQ_OVR_N; i++)
        if (req->ovr_set[i])
            return true;
    return req->ovr_clear_all;
}

/* jsonreq_role_needed - the least role that may run the request. */
enum jsonreq_role jsonreq_role_needed(const struct jsonreq *req)
{
    if (jsonreq_is_write(req))
        return JSONREQ_ROLE_ADMIN;
    return jsonreq_cmds[req->cmd].role;
}

const char *jsonreq_cmd_name(enum jsonreq_cmd cmd)
{
    return (unsigned)cmd < JSONREQ_NCMDS ? jsonreq_cmds[cmd].name : "?";
}

const char *jsonreq_ovr_name(enum jsonreq_ovr f)
{
    return (unsigned)f < JSONREQ_OVR_N ? jsonreq_ovrs[f].name : "?";
}

int jsonreq_ovr_lookup(const char *name, size_t len)
{
    int i;

    for (i = 0; i < JSONREQ_OVR_N; i++)
        if (strlen(jsonreq_ovrs[i].name) == len && memcmp(jsonreq_ovrs[i].name, name, len) == 0)
            return i;
    return -1;
}

const char *jsonreq_role_name(enum jsonreq_role r)
{
    return r == JSONREQ_ROLE_ADMIN ? "admin" : r == JSONREQ_ROLE_READ ? "read" : "none";
}

const char *jsonreq_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case JSONREQ_ERR_EMPTY:
        return "empty";
    case JSONREQ_ERR_TOO_LONG:
        return "too-long";
    case JSONREQ_ERR_NUL:
        return "nul-byte";
    case JSONREQ_ERR_DEPTH:
        return "too-deep";
    case JSONREQ_ERR_SYNTAX:
        return "syntax";
    case JSONREQ_ERR_TYPE:
        return "wrong-type";
    case JSONREQ_ERR_COMMAND:
        return "unknown-command";
    case JSONREQ_ERR_FIELD:
        return "unknown-field";
    case JSONREQ_ERR_MISSING:
        return "missing-field";
    case JSONREQ_ERR_VALUE:
        return "bad-value";
    }
    return "unknown-error";
}
