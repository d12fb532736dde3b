/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      pqjson - parsers of Postfix's queue tools' output (postqueue -j, postcat, postsuper)
 * SYNOPSIS
 *      #include "policyd/pqjson.h"
 *
 *      int pqjson_parse(const char *line, size_t len, struct pqjson_msg *msg,
 *                       struct pd_err *err)
 *      bool pqjson_valid_id(const char *id, size_t len)
 *      bool pqjson_addr_eq(const char *a, const char *b)
 *      int pqjson_postcat_login(const char *text, size_t len, char *out, size_t cap)
 *      bool pqjson_postsuper_removed(const char *line, size_t len, char *id)
 *      const char *pqjson_strerror(int err)
 * DESCRIPTION
 *      "postqueue -j" (Postfix 3.1 and later) prints one JSON object per queued message:
 *
 *        {"queue_name": "deferred", "queue_id": "4C630A7A326", "arrival_time": 1795433388,
 *         "message_size": 296, "forced_expire": false, "sender": "alice@example.com",
 *         "recipients": [{"address": "x@example.net", "delay_reason": "..."}]}
 *
 *      pqjson_parse() takes one such line. queue_name, queue_id, sender (a string) and
 *      recipients (an array) are required; arrival_time, message_size (integers) and
 *      forced_expire (a boolean) are optional, and members it does not know are ignored,
 *      as later Postfix versions may add some. The queue id must be 1..PQJSON_ID_MAX
 *      characters of [0-9A-Za-z] (Postfix's short and long ids), so that whatever this
 *      module hands back is safe to write, one per line, to "postsuper -d -". Duplicate
 *      members, invalid UTF-8 and "\u0000" are refused by jansson.
 *
 *      pqjson_postcat_login() reads the envelope records that "postcat -e -q ID" prints;
 *      Postfix's smtpd stores the SASL login of an authenticated submission there as
 *      "named_attribute: sasl_username=LOGIN". Only lines before the first "*** " line
 *      after the envelope header count, so message content cannot pose as the attribute.
 *
 *      Pure: no I/O, no logging, no globals; results are copied into the caller's memory.
 * DIAGNOSTICS
 *      pqjson_parse returns 0 or a negative PQJSON_ERR_* code and writes one line of
 *      printable ASCII to err->msg.
 * SEE ALSO
 *      postqueue(1), postcat(1), postsuper(1), policyd/policyctl.c (queue command)
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "policyd/pqjson.h"

static int pqjson_fail(struct pd_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int pqjson_fail(struct pd_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    for (p = err->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    return code;
}

bool pqjson_valid_id(const char *id, size_t len)
{
    size_t i;

    if (len == 0 || len > PQJSON_ID_MAX)
        return false;
    for (i = 0; i < len; i++) {
        char c = id[i];

        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return false;
    }
    return true;
}

static char pqjson_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool pqjson_addr_eq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++)
        if (pqjson_lower(*a) != pqjson_lower(*b))
            return false;
    return *a == *b;
}

/* pqjson_copy - a required string member into buf (cap bytes, NUL included). */
static int pqjson_copy(json_t *root, const char *name, char *buf, size_t cap, struct pd_err *err)
{
    json_t *v = json_object_get(root, name);
    size_t n;

    if (!json_is_string(v))
        return pqjson_fail(err, PQJSON_ERR_FIELD, "%s: %s", name,
                           v == NULL ? "missing" : "not a string");
    n = json_string_length(v);
    if (n >= cap)
        return pqjson_fail(err, PQJSON_ERR_TOO_LONG, "%s: longer than %zu bytes", name,
                           cap - 1);
    memcpy(buf, json_string_value(v), n + 1); /* jansson refused \u0000: no NUL inside */
    return 0;
}

/* pqjson_number - an optional integer member; -1 when absent. */
static int pqjson_number(json_t *root, const char *name, long long *out, struct pd_err *err)
{
    json_t *v = json_object_get(root, name);

    *out = -1;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return pqjson_fail(err, PQJSON_ERR_FIELD, "%s: not a non-negative integer", name);
    *out = (long long)json_integer_value(v);
    return 0;
}

/* pqjson_fields - the members of a parsed object into msg. */
static int pqjson_fields(json_t *root, struct pqjson_msg *msg, struct pd_err *err)
{
    json_t *rcpts = json_object_get(root, "recipients");
    json_t *fe = json_object_get(root, "forced_expire");
    json_t *id = json_object_get(root, "queue_id");
    int rc;

    if ((rc = pqjson_copy(root, "queue_name", msg->queue_name, sizeof(msg->queue_name),
                          err)) < 0)
        return rc;
    if (msg->queue_name[0] == '\0')
        return pqjson_fail(err, PQJSON_ERR_FIELD, "queue_name: empty");
    if (!json_is_string(id))
        return pqjson_fail(err, PQJSON_ERR_FIELD, "queue_id: %s",
                           id == NULL ? "missing" : "not a string");
    if (!pqjson_valid_id(json_string_value(id), json_string_length(id)))
        return pqjson_fail(err, PQJSON_ERR_QUEUE_ID,
                           "queue_id: not 1..%d characters of [0-9A-Za-z]", PQJSON_ID_MAX);
    memcpy(msg->queue_id, json_string_value(id), json_string_length(id) + 1);
    if ((rc = pqjson_copy(root, "sender", msg->sender, sizeof(msg->sender), err)) < 0 ||
        (rc = pqjson_number(root, "arrival_time", &msg->arrival_time, err)) < 0 ||
        (rc = pqjson_number(root, "message_size", &msg->message_size, err)) < 0)
        return rc;
    if (!json_is_array(rcpts))
        return pqjson_fail(err, PQJSON_ERR_FIELD, "recipients: %s",
                           rcpts == NULL ? "missing" : "not an array");
    msg->nrcpt = json_array_size(rcpts);
    if (fe != NULL && !json_is_boolean(fe))
        return pqjson_fail(err, PQJSON_ERR_FIELD, "forced_expire: not a boolean");
    msg->forced_expire = json_is_true(fe);
    return 0;
}

int pqjson_parse(const char *line, size_t len, struct pqjson_msg *msg, struct pd_err *err)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    memset(msg, 0, sizeof(*msg));
    msg->arrival_time = msg->message_size = -1;
    err->msg[0] = '\0';
    if ((root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
        return pqjson_fail(err, PQJSON_ERR_JSON, "not JSON: %s (column %d)", jerr.text,
                           jerr.column);
    if (!json_is_object(root))
        rc = pqjson_fail(err, PQJSON_ERR_JSON, "not a JSON object");
    else
        rc = pqjson_fields(root, msg, err);
    json_decref(root);
    if (rc < 0) {
        struct pd_err keep = *err;

        memset(msg, 0, sizeof(*msg)); /* nothing half-filled reaches a caller */
        msg->arrival_time = msg->message_size = -1;
        *err = keep;
    }
    return rc;
}

/* pqjson_line - the line at *pos (without its newline); advances *pos past it. */
static const char *pqjson_line(const char *text, size_t len, size_t *pos, size_t *n)
{
    const char *s = text + *pos, *nl = memchr(s, '\n', len - *pos);

    *n = nl != NULL ? (size_t)(nl - s) : len - *pos;
    *pos += *n + (nl != NULL ? 1 : 0);
    return s;
}

int pqjson_postcat_login(const char *text, size_t len, char *out, size_t cap)
{
    static const char attr[] = "named_attribute: sasl_username=";
    const size_t alen = sizeof(attr) - 1;
    size_t pos = 0, n, lines = 0;
    const char *s;

    if (cap > 0)
        out[0] = '\0';
    while (pos < len) {
        s = pqjson_line(text, len, &pos, &n);
        /* "*** ENVELOPE RECORDS queue/ID ***" opens; the next "*** " line ends them */
        if (n >= 4 && memcmp(s, "*** ", 4) == 0 && lines++ > 0)
            return 0;
        if (n < alen || memcmp(s, attr, alen) != 0)
            continue;
        n -= alen;
        if (n > 0 && s[alen + n - 1] == '\r')
            n--;
        if (n >= cap || memchr(s + alen, '\0', n) != NULL)
            return PQJSON_ERR_TOO_LONG;
        memcpy(out, s + alen, n);
        out[n] = '\0';
        return 1;
    }
    return 0;
}

bool pqjson_postsuper_removed(const char *line, size_t len, char *id)
{
    return pqjson_postsuper_done(line, len, ": removed", id);
}

bool pqjson_postsuper_done(const char *line, size_t len, const char *suffix, char *id)
{
    static const char prefix[] = "postsuper: ";
    const size_t plen = sizeof(prefix) - 1, slen = strlen(suffix);

    id[0] = '\0';
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len >= plen && memcmp(line, prefix, plen) == 0)
        line += plen, len -= plen;
    if (len <= slen || memcmp(line + len - slen, suffix, slen) != 0)
        return false;
    len -= slen;
    if (!pqjson_valid_id(line, len))
        return false;
    memcpy(id, line, len);
    id[len] = '\0';
    return true;
}

const char *pqjson_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case PQJSON_ERR_JSON:
        return "not a JSON object";
    case PQJSON_ERR_FIELD:
        return "a member is missing or has the wrong type";
    case PQJSON_ERR_QUEUE_ID:
        return "bad queue id";
    case PQJSON_ERR_TOO_LONG:
        return "a string is too long";
    }
    return "unknown error";
}
