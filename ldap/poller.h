/* SPDX-License-Identifier: MIT */
#ifndef PD_POLLER_H
#define PD_POLLER_H

/*
 * poller - unblock a mailbox once its password has changed: every ldap_poll_interval it
 * reads the mailboxes blocked until a password change from Redis, asks the directory in
 * batches on a worker thread (ldapdir), and clears each block whose password changed
 * after it (unblock.lua, compare-and-delete on the reference id). Never on the request
 * path; the loop thread only does Redis calls and bookkeeping.
 */

#include <stdbool.h>
#include <stdint.h>

struct pd_server;
struct poller;

/* Counters for the status socket (since start, or of the last round). */
struct poller_stats {
    uint64_t rounds;        /* rounds that reached the directory */
    uint64_t unblocked;     /* blocks cleared after a password change */
    uint64_t searches;      /* LDAP search operations (pages) */
    uint64_t errors;        /* rounds cut short by the directory */
    bool directory_up;      /* the last attempt reached the directory */
    uint64_t last_blocked;  /* last round: members of the index read */
    uint64_t last_waiting;  /* ... of them blocked until a password change */
    uint64_t last_searches; /* ... search operations */
    uint64_t last_kept;     /* ... kept for a reason worth a look (missing, ambiguous,
                               no attribute, admin reset) */
    double last_ms;         /* ... wall time of the round */
};

struct poller *poller_new(struct pd_server *srv);
void poller_stop(struct poller *p);
void poller_get_stats(const struct poller *p, struct poller_stats *out);
struct poller *poller_free(struct poller *p);

#endif
