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

struct pd_server;
struct status;

#define STATUS_VERSION "0.1.0"

struct status *status_new(struct pd_server *srv);
int status_listen(struct status *st, char *err, size_t errlen);
void status_start(struct status *st);
void status_stop(struct status *st);
struct status *status_free(struct status *st);

#endif
