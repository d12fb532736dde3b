/* SPDX-License-Identifier: MIT */
#ifndef PD_PQJSON_H
#define PD_PQJSON_H

/*
 * pqjson - pure parsers of what Postfix's queue tools print, for "policyctl queue":
 * one line of "postqueue -j" (a JSON object per queued message) into struct pqjson_msg,
 * the SASL login recorded in a queue file ("postcat -e -q ID"), and the "ID: removed"
 * lines of "postsuper -d". No I/O, no logging, no globals; no jansson object survives a
 * call.
 */

#include <stdbool.h>
#include <stddef.h>

#include "policyd/config.h" /* struct pd_err */

#define PQJSON_ID_MAX 32      /* a queue id: short ids are ~11, long ids ~15 characters */
#define PQJSON_QUEUE_MAX 16   /* a queue name: maildrop, incoming, active, deferred, hold */
#define PQJSON_ADDR_MAX 1024  /* an envelope sender or login, as JSONREQ_USER_MAX */

enum {
    PQJSON_ERR_JSON = -1,     /* not one JSON object (syntax, bad UTF-8, \u0000, duplicates) */
    PQJSON_ERR_FIELD = -2,    /* a member missing or of the wrong type */
    PQJSON_ERR_QUEUE_ID = -3, /* a queue id that is not 1..PQJSON_ID_MAX of [0-9A-Za-z] */
    PQJSON_ERR_TOO_LONG = -4, /* a queue name or sender longer than its buffer */
};

/* One queued message as "postqueue -j" describes it. Strings are NUL-terminated copies;
 * sender is "" for a bounce (null sender). */
struct pqjson_msg {
    char queue_name[PQJSON_QUEUE_MAX + 1];
    char queue_id[PQJSON_ID_MAX + 1];
    char sender[PQJSON_ADDR_MAX + 1];
    long long arrival_time; /* unix seconds; -1 when absent */
    long long message_size; /* bytes; -1 when absent */
    size_t nrcpt;           /* recipients still to be delivered */
    bool forced_expire;
};

/* pqjson_parse - one line (without its newline) into *msg; 0 or a PQJSON_ERR_* code with
 * one line of printable ASCII in err->msg (err->line is left as the caller set it). */
int pqjson_parse(const char *line, size_t len, struct pqjson_msg *msg, struct pd_err *err);

/* True when id is 1..PQJSON_ID_MAX bytes of [0-9A-Za-z]: safe as one line of postsuper's
 * standard input and as an argv element. */
bool pqjson_valid_id(const char *id, size_t len);

/* True when a and b are the same address, ASCII letters compared without case. */
bool pqjson_addr_eq(const char *a, const char *b);

/* pqjson_postcat_login - the value of the first "named_attribute: sasl_username=" line of
 * "postcat -e" output into out (cap bytes): 1 found, 0 no such line (the message was not
 * submitted with SMTP AUTH), PQJSON_ERR_TOO_LONG. */
int pqjson_postcat_login(const char *text, size_t len, char *out, size_t cap);

/* pqjson_postsuper_removed - the queue id of a "postsuper: ID: removed" line (the
 * "postsuper: " prefix is optional) into id (PQJSON_ID_MAX + 1 bytes): true when the
 * line is one. */
bool pqjson_postsuper_removed(const char *line, size_t len, char *id);
/* pqjson_postsuper_done - the same for any report "postsuper: ID<suffix>", e.g. suffix
 * ": released from hold" for postsuper -H. */
bool pqjson_postsuper_done(const char *line, size_t len, const char *suffix, char *id);

const char *pqjson_strerror(int err);

#endif
