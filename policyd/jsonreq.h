/* SPDX-License-Identifier: MIT */
#ifndef PD_JSONREQ_H
#define PD_JSONREQ_H

/*
 * jsonreq - pure parser and validator of one request line of the status socket:
 *
 *     {"cmd": "block", "user": "alice@example.com", "reason": "phished", "operator": "bob"}
 *
 * One JSON object per line. Every field is checked for type, length and syntax; unknown
 * commands and fields, duplicate keys, NUL bytes and nesting deeper than the commands
 * need are errors with a clear message. No I/O, no logging, no globals: the result is
 * copied into struct jsonreq and no jansson object survives the call.
 */

#include <stdbool.h>
#include <stddef.h>

/* Named limits. */
#define JSONREQ_MAX_LINE 65536    /* bytes of one request, newline excluded */
#define JSONREQ_MAX_DEPTH 2       /* {"set": {...}} and {"clear": [...]} need two levels */
#define JSONREQ_USER_MAX 1024     /* a login, as KEYS_MAILBOX_MAX */
#define JSONREQ_DOMAIN_MAX 253    /* a DNS name */
#define JSONREQ_TEXT_MAX 200      /* the operator's reason */
#define JSONREQ_OPERATOR_MAX 64   /* the operator's name */
#define JSONREQ_TOKEN_MAX 256     /* a bearer token */
#define JSONREQ_REF_MAX 32        /* a block reference id ("PD-0A1B2C3D") */
#define JSONREQ_VALUE_MAX 32      /* an override value as text */
#define JSONREQ_PROFILE_MAX 32    /* an override profile name */
#define JSONREQ_PAGE_MAX 100      /* entries of one list or audit page */
#define JSONREQ_PAGE_DEFAULT 50
#define JSONREQ_LIMIT_MAX 10000000LL     /* a rate cap, as the limit_* config keys */
#define JSONREQ_RAISE_MAX_S (365LL * 86400) /* the longest relative raise ("+365d") */
#define JSONREQ_TIME_MAX 100000000000LL  /* a unix time in seconds */

enum jsonreq_cmd {
    JSONREQ_PING,
    JSONREQ_STATUS,   /* the daemon: uptime, counters, Redis */
    JSONREQ_METRICS,  /* Prometheus text exposition */
    JSONREQ_SHOW,     /* one mailbox: block record, overrides, probation, history */
    JSONREQ_LIST,     /* the blocked mailboxes, oldest first, paged */
    JSONREQ_AUDIT,    /* recent operator actions */
    JSONREQ_BLOCK,
    JSONREQ_UNBLOCK,
    JSONREQ_OVERRIDE, /* get, set or clear a mailbox's or a domain's overrides */
    JSONREQ_NCMDS
};

enum jsonreq_role {
    JSONREQ_ROLE_NONE = 0, /* may only ping */
    JSONREQ_ROLE_READ = 1,
    JSONREQ_ROLE_ADMIN = 2,
};

/* The override fields, as track.lua reads them from the mailbox's ovr hash. */
enum jsonreq_ovr {
    JSONREQ_OVR_EXEMPT,
    JSONREQ_OVR_PROFILE,
    JSONREQ_OVR_LIM_RCPT_HOUR,
    JSONREQ_OVR_LIM_RCPT_DAY,
    JSONREQ_OVR_LIM_MSG_HOUR,
    JSONREQ_OVR_LIM_MSG_DAY,
    JSONREQ_OVR_RAISE_UNTIL,
    JSONREQ_OVR_RAISE_RCPT_HOUR,
    JSONREQ_OVR_RAISE_RCPT_DAY,
    JSONREQ_OVR_RAISE_MSG_HOUR,
    JSONREQ_OVR_RAISE_MSG_DAY,
    JSONREQ_OVR_N
};

enum jsonreq_err {
    JSONREQ_ERR_EMPTY = -1,    /* nothing but white space */
    JSONREQ_ERR_TOO_LONG = -2, /* over JSONREQ_MAX_LINE */
    JSONREQ_ERR_NUL = -3,      /* a NUL byte in the line */
    JSONREQ_ERR_DEPTH = -4,    /* nested deeper than JSONREQ_MAX_DEPTH */
    JSONREQ_ERR_SYNTAX = -5,   /* not JSON, or a duplicate key, or not UTF-8 */
    JSONREQ_ERR_TYPE = -6,     /* not an object, or a field of the wrong type */
    JSONREQ_ERR_COMMAND = -7,  /* no such command */
    JSONREQ_ERR_FIELD = -8,    /* a field the command does not take */
    JSONREQ_ERR_MISSING = -9,  /* a required field is absent */
    JSONREQ_ERR_VALUE = -10,   /* a value out of range or of bad syntax */
};

struct jsonreq {
    enum jsonreq_cmd cmd;
    bool has_id; /* "id": an integer echoed in the reply (set even when parsing fails later) */
    long long id;
    bool has_token;
    char token[JSONREQ_TOKEN_MAX + 1];
    char oper[JSONREQ_OPERATOR_MAX + 1];  /* "operator" */
    char user[JSONREQ_USER_MAX + 1];      /* the login as given; normalised by the caller */
    size_t user_len;
    char domain[JSONREQ_DOMAIN_MAX + 1];  /* lowercased; override target or list filter */
    char text[JSONREQ_TEXT_MAX + 1];      /* block/unblock: "reason", the operator's words */
    char filter_reason[16];               /* list: "reason", one of the block reasons */
    char ref[JSONREQ_REF_MAX + 1];        /* unblock: the reference the operator saw */
    bool false_positive;                  /* unblock */
    long long offset, limit;              /* list, audit */
    /* override: ovr_set[i] with ovr_val[i] = the new value, or "" to delete the field.
     * raise_until is absolute unix seconds, or "+N" seconds from now. */
    bool ovr_set[JSONREQ_OVR_N];
    char ovr_val[JSONREQ_OVR_N][JSONREQ_VALUE_MAX + 1];
    bool ovr_clear_all;
};

int jsonreq_parse(const char *line, size_t len, struct jsonreq *out, char *err, size_t errlen);
enum jsonreq_role jsonreq_role_needed(const struct jsonreq *req);
bool jsonreq_is_write(const struct jsonreq *req);
const char *jsonreq_cmd_name(enum jsonreq_cmd cmd);
const char *jsonreq_ovr_name(enum jsonreq_ovr f);
int jsonreq_ovr_lookup(const char *name, size_t len); /* an enum jsonreq_ovr or -1 */
const char *jsonreq_role_name(enum jsonreq_role r);
const char *jsonreq_strerror(int err); /* a short code: "syntax", "unknown-command", ... */

#endif
