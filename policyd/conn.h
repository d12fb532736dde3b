/* SPDX-License-Identifier: MIT */
#ifndef PD_CONN_H
#define PD_CONN_H

/*
 * conn - one policy client connection and its state machine:
 *
 *     CONN_READING -> CONN_EVALUATING -> CONN_WRITING -> CONN_READING
 *     any state -> CONN_CLOSING (terminal)
 *
 * One request is outstanding per connection, as Postfix does: reading stops while a
 * request is evaluated and resumes after the reply has been written. Pipelined bytes stay
 * buffered and are parsed next.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "policyd/proto.h"

struct pd_server;
struct pd_config;

enum conn_state {
    CONN_READING,
    CONN_EVALUATING,
    CONN_WRITING,
    CONN_CLOSING,
};

/* What a connection needs only while it is busy; freed when it has been idle a while. */
struct conn_active {
    struct proto_parser parser;
    uv_write_t wreq;
    char wbuf[PD_MAX_REPLY];
};

struct pd_conn {
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
        uv_stream_t stream;
        uv_handle_t handle;
    } h;
    struct pd_server *srv;
    struct pd_conn *prev, *next;
    enum conn_state state;
    uint32_t id;
    unsigned refs;             /* the handle's own + one per in-flight evaluation */
    struct conn_active *act;   /* NULL while idle */
    char *pending;             /* pipelined bytes not yet fed to the parser */
    size_t pending_len;
    uint64_t last_active_ms;   /* loop time of the last byte read or reply written */
    uint64_t request_start_ms; /* loop time of the first byte of the request being read */
    struct pd_config *cfg;     /* config of the request being evaluated (a reference) */
    uint64_t nrequests;
    bool reading;              /* uv_read_start is in force (conn_reading) */
    bool peer_eof;             /* EOF seen while a request was evaluated */
    char peer[64];
};

int conn_accept(struct pd_server *srv, uv_stream_t *listener, bool is_unix);
void conn_reply(struct pd_conn *conn, const char *action, size_t len);
void conn_close(struct pd_conn *conn, const char *why);
void conn_ref(struct pd_conn *conn);
void conn_unref(struct pd_conn *conn);
bool conn_is_closing(const struct pd_conn *conn);
bool conn_is_idle(const struct pd_conn *conn);
void conn_sweep(struct pd_conn *conn, uint64_t now_ms, uint64_t idle_ms);
const char *conn_state_name(enum conn_state s);

#endif
