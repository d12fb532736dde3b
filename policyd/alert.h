/* SPDX-License-Identifier: MIT */
#ifndef PD_ALERT_H
#define PD_ALERT_H

/*
 * alert - the partner alert mailer: subscribes to block and unblock events, sends one
 * mail per incident to the partner of the mailbox's domain (and the abuse desk) through
 * the local sendmail, never on the request path. See alert.c for the whole contract.
 */

#include <stdint.h>

#include <uv.h>

struct pd_config;
struct decide;
struct alert;

/* Counters since start, for the log at stop and the status socket. */
struct alert_stats {
    uint64_t events;     /* block/unblock events taken (after the per-event toggles) */
    uint64_t duplicates; /* events another node (or an earlier event) already alerted */
    uint64_t no_rcpt;    /* events with nobody to tell */
    uint64_t digested;   /* events that went into a summary mail */
    uint64_t sent;       /* mails sendmail accepted (single, summary and wave) */
    uint64_t failures;   /* failed sendmail runs (each retried) */
    uint64_t given_up;   /* mails dropped after alert_retry_max attempts */
    uint64_t waves;      /* mass-compromise mails */
    uint64_t restored;   /* pending alerts taken back from Redis at start */
    uint64_t holds_capped; /* hold events past the hourly cap (logged, not mailed) */
    uint64_t digests;    /* daily digest mails queued by this node */
    uint64_t digest_runs; /* daily digests gathered by this node (one a day, or at start) */
    uint64_t templates;  /* template files in force */
};

/* alert_new - subscribe to events; the partner map and the templates are read now (fatal
 * when bad). decide gives the shared Redis client (decide_track) and the hash key of the
 * per-mailbox key names; it must outlive the alert's stop. */
struct alert *alert_new(uv_loop_t *loop, struct pd_config *cfg, struct decide *decide);
/* alert_reconfigure - the new config; the partner map and templates are read again (the
 * old ones kept when bad). */
void alert_reconfigure(struct alert *a, struct pd_config *cfg);
/* alert_stop - unsubscribe, stop the timer and cancel a running sendmail; what was not
 * sent stays in Redis for the next start. */
void alert_stop(struct alert *a);
/* alert_free - after alert_stop() and after the loop has drained. */
struct alert *alert_free(struct alert *a);
/* alert_get_stats - the counters, for metrics and the status socket. */
void alert_get_stats(const struct alert *a, struct alert_stats *out);

#endif
