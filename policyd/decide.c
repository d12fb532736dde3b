/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      decide - from a parsed request to its reply
 * SYNOPSIS
 *      decide_new(srv); decide_request(d, conn, req); decide_reconfigure(d, cfg)
 *      decide_shutdown(d); decide_free(d)
 * DESCRIPTION
 *      The decision step. This version answers every request DUNNO and logs one line
 *      per decision; the tracking and detection modules plug in here.
 * DIAGNOSTICS
 *      One info line per decision:
 *      "conn=... user=... client=... rcpt=... state=... action=..."; peer data sanitised.
 * SEE ALSO
 *      conn(3), proto(3).
 */
#include <stdlib.h>
#include <string.h>

#include "policyd/conn.h"
#include "policyd/decide.h"
#include "policyd/log.h"
#include "policyd/sanitize.h"
#include "policyd/server.h"
#include "policyd/util.h"

struct decide {
    struct pd_server *srv;
};

struct decide *decide_new(struct pd_server *srv)
{
    struct decide *d = xcalloc(1, sizeof(*d));

    d->srv = srv;
    return d;
}

/* decide_attr - a request attribute sanitised for the log ("" when absent). */
static const char *decide_attr(char *buf, size_t len, const struct proto_request *req,
                               enum proto_attr a)
{
    return sanitize_log(buf, len, req->attr[a], req->attr_len[a]);
}

void decide_request(struct decide *d, struct pd_conn *conn, const struct proto_request *req)
{
    char user[SANITIZE_BUF], client[SANITIZE_BUF], rcpt[SANITIZE_BUF], state[SANITIZE_BUF];

    (void)d;
    log_info("conn=%08x user=%s client=%s rcpt=%s state=%s action=DUNNO", conn->id,
             decide_attr(user, sizeof(user), req, PROTO_A_SASL_USERNAME),
             decide_attr(client, sizeof(client), req, PROTO_A_CLIENT_ADDRESS),
             decide_attr(rcpt, sizeof(rcpt), req, PROTO_A_RECIPIENT),
             decide_attr(state, sizeof(state), req, PROTO_A_PROTOCOL_STATE));
    conn_reply(conn, "DUNNO", 5);
}

void decide_reconfigure(struct decide *d, struct pd_config *cfg)
{
    (void)d;
    (void)cfg;
}

void decide_shutdown(struct decide *d)
{
    (void)d;
}

struct decide *decide_free(struct decide *d)
{
    free(d);
    return NULL;
}
