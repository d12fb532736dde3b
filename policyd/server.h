/* SPDX-License-Identifier: MIT */
#ifndef PD_SERVER_H
#define PD_SERVER_H

/*
 * server - listeners (TCP and unix), accept, the connection cap, the idle sweep, and the
 * orderly stop. One struct pd_server is owned by main and passed down; it is the only
 * mutable state of the daemon.
 */

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "policyd/config.h"

struct pd_conn;
struct decide;

struct pd_listener {
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
        uv_stream_t stream;
        uv_handle_t handle;
    } h;
    struct pd_server *srv;
    char *spec;      /* "inet:HOST:PORT" or "unix:PATH", as configured */
    char *unix_path; /* unlinked at stop; NULL for TCP */
    bool pending;    /* a connection waits in the kernel: we are at the cap */
    bool open;       /* the handle is initialised and not yet closed */
};

/* Counters since start; read by the status socket and logged at stop. */
struct pd_stats {
    uint64_t conns_accepted;
    uint64_t conns_deferred;   /* times the cap held back an accept */
    uint64_t requests;
    uint64_t proto_errors;
    uint64_t idle_closed;
};

struct pd_server {
    uv_loop_t *loop;
    struct pd_config *cfg; /* current config; requests hold their own reference */
    struct pd_listener *listeners;
    size_t nlisteners;
    struct pd_conn *conns; /* doubly linked list of live connections */
    size_t nconns;
    size_t nconns_peak;    /* most connections at once since the last heap trim */
    unsigned trim_sweeps;  /* sweeps that still trim the heap after a drop */
    uint32_t next_conn_id;
    uv_timer_t sweep;      /* once a second: idle timeouts, memory of idle conns */
    uv_timer_t stop_timer; /* hard deadline of an orderly stop */
    bool stopping;
    struct decide *decide;
    char *readbuf; /* shared read buffer: bytes are parsed before the callback returns */
    size_t readbuf_len;
    struct pd_stats stats;
};

int server_init(struct pd_server *srv, uv_loop_t *loop, struct pd_config *cfg);
int server_listen(struct pd_server *srv, char *err, size_t errlen);
int server_chown_sockets(struct pd_server *srv, unsigned uid, unsigned gid, char *err,
                         size_t errlen);
void server_start(struct pd_server *srv);
void server_reconfigure(struct pd_server *srv, struct pd_config *cfg);
void server_stop(struct pd_server *srv, unsigned grace_ms);
void server_conn_gone(struct pd_server *srv, struct pd_conn *conn);
void server_free(struct pd_server *srv);

#endif
