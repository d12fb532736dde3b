/* SPDX-License-Identifier: MIT */
#ifndef PD_DECIDE_H
#define PD_DECIDE_H

/*
 * decide - the decision step between a parsed request and its reply. conn hands over a
 * complete request; decide answers through conn_reply(), now or later (after Redis), and
 * never talks to sockets itself. While the answer is pending decide holds a reference on
 * the connection (conn_ref/conn_unref); a connection that closed in the meantime gets no
 * reply.
 */

#include <stdint.h>

#include "policyd/proto.h"

struct pd_server;
struct pd_conn;
struct pd_config;
struct decide;
struct track;

struct decide *decide_new(struct pd_server *srv);
void decide_request(struct decide *d, struct pd_conn *conn, const struct proto_request *req);
void decide_reconfigure(struct decide *d, struct pd_config *cfg);
void decide_shutdown(struct decide *d); /* close backend handles; the loop then drains */
struct decide *decide_free(struct decide *d);

/* For the background modules (LDAP poller, status socket, import): the shared Redis
 * client, and the recipient/overlong-mailbox hash key (NULL until it is known). */
struct track *decide_track(struct decide *d);
const uint8_t *decide_hash_key(const struct decide *d);

#endif
