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
struct domcache;

struct decide *decide_new(struct pd_server *srv);
void decide_request(struct decide *d, struct pd_conn *conn, const struct proto_request *req);
void decide_reconfigure(struct decide *d, struct pd_config *cfg);
void decide_shutdown(struct decide *d); /* close backend handles; the loop then drains */
struct decide *decide_free(struct decide *d);

/* Counters since start, for the status socket's metrics. by_action is indexed by enum
 * rules_action (PASS, WATCH, DEFER, HOLD, BLOCK); lat_le[i] counts decisions answered
 * within decide_lat_bounds_ms[i] (not cumulative; the last bucket is +Inf). */
#define DECIDE_ACTIONS 5
#define DECIDE_LAT_BUCKETS 10
extern const double decide_lat_bounds_ms[DECIDE_LAT_BUCKETS - 1];
struct decide_stats {
    uint64_t unauthenticated; /* no sasl_username: DUNNO without Redis */
    uint64_t not_counted;     /* a protocol state policyd does not count */
    uint64_t fail_action;     /* answered with redis_fail_action */
    uint64_t by_action[DECIDE_ACTIONS];
    uint64_t blocks_written;  /* new block records written by this node */
    uint64_t lat_le[DECIDE_LAT_BUCKETS];
    uint64_t lat_count;
    double lat_sum_s;
};
const struct decide_stats *decide_get_stats(const struct decide *d);

/* For the background modules (LDAP poller, status socket, import): the shared Redis
 * client, and the recipient/overlong-mailbox hash key (NULL until it is known). */
struct track *decide_track(struct decide *d);
const uint8_t *decide_hash_key(const struct decide *d);
/* the domain overrides in force (overrides_file merged with Redis), for policyctl show */
struct domcache *decide_domcache(const struct decide *d);

#endif
