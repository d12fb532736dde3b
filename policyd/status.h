/* SPDX-License-Identifier: MIT */
#ifndef PD_STATUS_H
#define PD_STATUS_H

/*
 * status - the helpdesk's JSON socket: line-delimited JSON requests and replies on the
 * unix sockets and loopback TCP ports of status_listen, answered from Redis through the
 * daemon's shared client (decide_track()). policyctl(1) is its command-line client;
 * jsonreq(3) parses the requests.
 *
 * Life cycle, driven by main: status_new() and status_listen() before privileges are
 * dropped (sockets are created and handed to run_user then); status_start() once decide
 * exists; status_stop() first thing at SIGTERM (listeners and connections close,
 * commands in flight complete their writes); status_free() after the loop has drained.
 */

#include <stddef.h>

struct alert;
struct pd_server;
struct poller;
struct status;

#define STATUS_VERSION "0.1.0"

struct status *status_new(struct pd_server *srv);
int status_listen(struct status *st, char *err, size_t errlen);
void status_start(struct status *st);
void status_stop(struct status *st);
struct status *status_free(struct status *st);

/* status_attach - the background modules whose health "status" (policyctl stats) and
 * the metrics report: the LDAP poller and the alert mailer, either NULL. Borrowed: they
 * must outlive the status socket's last request (main frees them after the loop). */
void status_attach(struct status *st, struct poller *poller, struct alert *alert);

/* status_metrics - the Prometheus text, once the number of blocked mailboxes has been
 * read from Redis (left out when Redis does not answer). cb(arg, text) is called exactly
 * once, maybe before status_metrics() returns; text is the callee's, to free(). */
typedef void (*status_metrics_cb)(void *arg, char *text);
void status_metrics(struct status *st, status_metrics_cb cb, void *arg);

#endif
