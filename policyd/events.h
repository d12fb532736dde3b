/* SPDX-License-Identifier: MIT */
#ifndef PD_EVENTS_H
#define PD_EVENTS_H

/*
 * events - the daemon's internal queue of block and unblock events. decide (a new block),
 * the LDAP poller (an unblock after a password change), the import and the status socket
 * (an operator's block or unblock) emit; the alert mailer and the status socket's audit
 * trail subscribe. Delivery is synchronous, in the loop thread, in subscription order; a
 * subscriber copies what it keeps (the event's strings are borrowed for the call only).
 * No I/O here.
 */

#include <stdint.h>

enum pd_event_type {
    PD_EVENT_BLOCK = 1,   /* a block record was written by this node */
    PD_EVENT_UNBLOCK = 2, /* a block record was removed by this node */
    PD_EVENT_HOLD = 3,    /* a message of the mailbox was answered HOLD by this node */
};

struct pd_event {
    enum pd_event_type type;
    const char *mailbox;   /* normalised, raw bytes: escape for your context */
    const char *ref;       /* "PD-XXXXXXXX" */
    const char *reason;    /* block: compromise | rate | manual | weak-password */
    const char *rules;     /* block: the evidence line ("" for manual/import) */
    const char *by;        /* "auto", "import", "ldap", or the operator's name */
    const char *condition; /* block: unblock condition; unblock: why (password-change, operator, expiry) */
    int score;
    int64_t at;            /* unix seconds */
};

typedef void (*pd_event_fn)(void *arg, const struct pd_event *ev);

/* events_subscribe - call fn(arg, ev) for every later event; at most EVENTS_MAX_SUBS. */
#define EVENTS_MAX_SUBS 8
int events_subscribe(pd_event_fn fn, void *arg);
void events_unsubscribe(pd_event_fn fn, void *arg);
void events_emit(const struct pd_event *ev);
const char *events_type_name(enum pd_event_type t);

#endif
