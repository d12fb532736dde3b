/* SPDX-License-Identifier: MIT */
#ifndef PD_LDAPDIR_H
#define PD_LDAPDIR_H

/*
 * ldapdir - the directory side of the LDAP poller: one libldap connection (URI failover,
 * StartTLS or ldaps with a CA file, simple or anonymous bind) and the batched, paged
 * OR-search that finds the entries of a batch of mailboxes and their password-change
 * attributes. Blocking: it runs on a libuv worker thread, never on the loop thread, and
 * one struct ldapdir is used by one thread at a time. It never logs: errors come back
 * as text in struct ldapdir_report.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ldap/ldaptime.h"

#define LDAPDIR_PAGE_SIZE 500 /* entries per page: below AD's MaxPageSize of 1000 */
#define LDAPDIR_ERR_MAX 256

enum ldapdir_err {
    LDAPDIR_ERR_CONNECT = -1, /* initialize, StartTLS or bind failed: the directory is down */
    LDAPDIR_ERR_SEARCH = -2,  /* the search failed (result code, lost connection) */
    LDAPDIR_ERR_TIMEOUT = -3, /* no answer within the timeout */
    LDAPDIR_ERR_STOPPED = -4, /* the stop flag was raised */
    LDAPDIR_ERR_FILTER = -5,  /* the filter template does not expand */
    LDAPDIR_ERR_LOST = -6,    /* internal: the connection broke (reported as SEARCH) */
};

/* Everything a search needs, copied from the config on the loop thread. */
struct ldapdir_params {
    char *uri; /* space-separated URIs, tried in order (ldap_initialize) */
    bool start_tls;
    char *ca_file; /* "" = the system's CAs */
    char *bind_dn; /* "" = anonymous */
    char *bind_pw; /* "" with an anonymous bind */
    char *base;
    char *filter; /* the template, see ldapesc(3) */
    enum ldaptime_attr attr;
    int64_t timeout_ms;
};

enum ldapdir_found {
    LDAPDIR_MISSING = 0, /* no entry matched */
    LDAPDIR_FOUND,       /* exactly one entry */
    LDAPDIR_AMBIGUOUS,   /* two or more entries (dn is the first) */
    LDAPDIR_NO_LOOKUP,   /* the template needs a domain and the mailbox has none */
};

struct ldapdir_value {
    char *val; /* NUL-terminated copy, NULL when the entry lacks the attribute */
    size_t len;
};

/* One mailbox of a batch: mailbox is the caller's, the rest is filled by the search. */
struct ldapdir_item {
    const char *mailbox;
    size_t mailbox_len;
    enum ldapdir_found found;
    char *dn;
    struct ldapdir_value pwd_last_set, pwd_changed_time, pwd_reset, shadow_last_change;
};

struct ldapdir_report {
    unsigned searches; /* search operations sent (one per page) */
    unsigned entries;  /* entries returned */
    unsigned unmapped; /* entries that matched no mailbox of the batch */
    bool connected;    /* a new connection was made */
    char err[LDAPDIR_ERR_MAX];
};

struct ldapdir;

struct ldapdir *ldapdir_new(void);
int ldapdir_search(struct ldapdir *d, const struct ldapdir_params *p, struct ldapdir_item *items,
                   size_t n, const atomic_bool *stop, struct ldapdir_report *rep);
void ldapdir_item_clear(struct ldapdir_item *it);
void ldapdir_params_free(struct ldapdir_params *p);
struct ldapdir *ldapdir_free(struct ldapdir *d);

#endif
