/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      conn - one policy client connection: read, parse, evaluate, reply
 * SYNOPSIS
 *      conn_accept(srv, listener, is_unix)
 *      conn_reply(conn, action, len)
 *      conn_close(conn, why); conn_ref(conn); conn_unref(conn)
 *      conn_sweep(conn, now_ms, idle_ms)
 * DESCRIPTION
 *      A connection cycles CONN_READING -> CONN_EVALUATING -> CONN_WRITING -> CONN_READING
 *      and ends in CONN_CLOSING; only conn_set_state() changes the state, and it checks the
 *      transition against a table. One request is outstanding at a time: bytes that arrive
 *      while decide evaluates a request (pipelining) are kept in conn->pending and parsed
 *      once its reply is written. Reading stays on meanwhile (see conn_reading) and stops
 *      only when more than CONN_PENDING_MAX bytes wait, or at the peer's EOF, which is
 *      acted on once the reply is out.
 *
 *      Ownership: the struct embeds the uv handle and is freed when its last reference
 *      goes: the handle holds one until its close callback, and decide holds one per
 *      request it has not answered yet. conn_close() is idempotent and is the only
 *      teardown path. The parser and write buffer (struct conn_active, ~17 KB) exist only
 *      while the connection is busy, in pages mapped for them alone; conn_sweep() unmaps
 *      them when it has been idle for a while, so thousands of idle Postfix connections
 *      cost a few hundred bytes each.
 *
 *      Reads use the server's shared buffer: every byte is parsed (or copied to pending)
 *      before the read callback returns.
 * DIAGNOSTICS
 *      Protocol errors (limits, NUL, duplicates, bad request=) are logged as warnings and
 *      the connection is closed without a reply, as the protocol asks. Nothing a peer sends
 *      is fatal. An illegal state transition is a panic.
 * SEE ALSO
 *      proto(3), decide(3), server(3), Postfix SMTPD_POLICY_README.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <uv.h>

#include "policyd/conn.h"
#include "policyd/config.h"
#include "policyd/decide.h"
#include "policyd/log.h"
#include "policyd/server.h"
#include "policyd/util.h"

/* A request must arrive whole within this time of its first byte (slow-client guard). */
#define CONN_REQUEST_TIMEOUT_MS 60000
/* An idle connection gives its parser and write buffer back after this time. */
#define CONN_SHRINK_AFTER_MS 10000
/* Pipelined bytes kept while a request is evaluated before reading stops (back-pressure). */
#define CONN_PENDING_MAX PD_MAX_REQUEST

static const bool conn_legal[4][4] = {
    /* to:          READING EVALUATING WRITING CLOSING */
    [CONN_READING] = {false, true, false, true},
    [CONN_EVALUATING] = {true, false, true, true},
    [CONN_WRITING] = {true, false, false, true},
    [CONN_CLOSING] = {false, false, false, false},
};

static void conn_feed(struct pd_conn *conn, const char *data, size_t len);
static void conn_resume(struct pd_conn *conn);

const char *conn_state_name(enum conn_state s)
{
    static const char *const names[] = {"READING", "EVALUATING", "WRITING", "CLOSING"};

    return (unsigned)s < 4 ? names[s] : "?";
}

/* conn_set_state - the one place that changes conn->state. */
static void conn_set_state(struct pd_conn *conn, enum conn_state to)
{
    if (!conn_legal[conn->state][to])
        log_panic("conn=%08x illegal transition %s -> %s", conn->id,
                  conn_state_name(conn->state), conn_state_name(to));
    if (log_debug_enabled())
        log_debug("conn=%08x %s -> %s", conn->id, conn_state_name(conn->state),
                  conn_state_name(to));
    conn->state = to;
}

/* conn_alloc_cb - every read lands in the server's shared buffer. */
static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct pd_conn *conn = h->data;

    buf->base = conn->srv->readbuf;
    buf->len = conn->srv->readbuf_len;
}

static void conn_reading(struct pd_conn *conn, bool on);
static void conn_keep_pending(struct pd_conn *conn, const char *data, size_t len);

/*
 * conn_active_new - a connection's parser and write buffer, in pages of their own. From
 * the malloc heap, a freed conn_active stays resident between the connections' own
 * structs (glibc can only give back the top of the heap): 10,000 connections idle after
 * a request each held 75 MB. Unmapped, their pages go back to the kernel at once. The
 * price, an mmap(2) and a munmap(2) per busy period, is paid by idle connections only.
 */
static struct conn_active *conn_active_new(void)
{
    void *p = mmap(NULL, sizeof(struct conn_active), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        log_panic("out of memory mapping %zu bytes for a connection", sizeof(struct conn_active));
    return p;
}

/* conn_active_free - give a conn_active's pages back; returns NULL. */
static struct conn_active *conn_active_free(struct conn_active *act)
{
    if (act != NULL)
        munmap(act, sizeof(*act));
    return NULL;
}

static void conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct pd_conn *conn = s->data;

    if (nread == 0)
        return;
    if (nread == UV_EOF && conn->state != CONN_READING) {
        /* libuv has stopped reading; a client that half-closes after its request still
         * gets its answer: conn_resume closes once the reply is out */
        conn->reading = false;
        conn->peer_eof = true;
        return;
    }
    if (nread < 0) {
        bool mid = conn->act != NULL && proto_in_progress(&conn->act->parser);

        if (nread != UV_EOF)
            log_warn("conn=%08x client=%s read error: %s; closing", conn->id, conn->peer,
                     uv_strerror((int)nread));
        conn_close(conn, mid ? "client closed mid-request" : "client closed");
        return;
    }
    conn->last_active_ms = uv_now(conn->srv->loop);
    if (conn->state != CONN_READING) {
        conn_keep_pending(conn, buf->base, (size_t)nread); /* parsed after the reply */
        conn_reading(conn, conn->pending_len <= CONN_PENDING_MAX);
        return;
    }
    conn_feed(conn, buf->base, (size_t)nread);
}

/*
 * conn_reading - start or stop reading. Reading is not stopped for the time a request is
 * evaluated, as the style guide's per-request uv_read_stop would have it: with libuv each
 * stop and start pair costs two epoll_ctl(2) calls (ADD fails with EEXIST, then MOD),
 * a third of policyd's system calls per request, while Postfix sends nothing until it has
 * its answer. What a client pipelines meanwhile waits in conn->pending, bounded by
 * CONN_PENDING_MAX: beyond that reading stops until the reply is written.
 */
static void conn_reading(struct pd_conn *conn, bool on)
{
    if (conn->state == CONN_CLOSING || conn->peer_eof || on == conn->reading)
        return;
    conn->reading = on;
    if (on)
        uv_read_start(&conn->h.stream, conn_alloc_cb, conn_read_cb);
    else
        uv_read_stop(&conn->h.stream);
}

/* conn_keep_pending - remember bytes that arrived behind the request being evaluated. */
static void conn_keep_pending(struct pd_conn *conn, const char *data, size_t len)
{
    char *p = xmalloc(conn->pending_len + len);

    if (conn->pending_len > 0)
        memcpy(p, conn->pending, conn->pending_len);
    memcpy(p + conn->pending_len, data, len);
    free(conn->pending);
    conn->pending = p;
    conn->pending_len += len;
}

/* conn_evaluate - hand a complete request to decide; it may answer before returning. */
static void conn_evaluate(struct pd_conn *conn)
{
    struct pd_server *srv = conn->srv;

    conn_set_state(conn, CONN_EVALUATING);
    conn->nrequests++;
    srv->stats.requests++;
    conn->cfg = cfg_ref(srv->cfg);
    decide_request(srv->decide, conn, proto_request(&conn->act->parser));
}

/*
 * conn_feed - parse bytes while the connection is reading. A request answered at once
 * lets the loop go on with the rest of the bytes; one answered later leaves them pending.
 */
static void conn_feed(struct pd_conn *conn, const char *data, size_t len)
{
    uint64_t now = uv_now(conn->srv->loop);

    if (conn->act == NULL) {
        conn->act = conn_active_new();
        proto_init(&conn->act->parser);
    }
    while (len > 0 && conn->state == CONN_READING) {
        size_t used = 0;
        int rc;

        if (!proto_in_progress(&conn->act->parser))
            conn->request_start_ms = now;
        rc = proto_feed(&conn->act->parser, data, len, &used);
        data += used;
        len -= used;
        if (rc < 0) {
            log_warn("conn=%08x client=%s protocol error: %s; closing without reply",
                     conn->id, conn->peer, proto_strerror(rc));
            conn->srv->stats.proto_errors++;
            conn_close(conn, "protocol error");
            return;
        }
        if (rc == PROTO_REQUEST)
            conn_evaluate(conn);
    }
    if (len > 0 && conn->state != CONN_CLOSING)
        conn_keep_pending(conn, data, len);
    conn_reading(conn, conn->pending_len <= CONN_PENDING_MAX);
}

/* conn_resume - after a reply: parse what is pending, then read again. */
static void conn_resume(struct pd_conn *conn)
{
    char *p = conn->pending;
    size_t n = conn->pending_len;

    conn_set_state(conn, CONN_READING);
    proto_reset(&conn->act->parser);
    conn->last_active_ms = uv_now(conn->srv->loop);
    if (conn->srv->stopping) {
        conn_close(conn, "shutting down");
        return;
    }
    conn->pending = NULL;
    conn->pending_len = 0;
    if (n > 0)
        conn_feed(conn, p, n);
    else
        conn_reading(conn, true);
    free(p);
    if (conn->peer_eof && conn->state == CONN_READING)
        conn_close(conn, proto_in_progress(&conn->act->parser) ? "client closed mid-request"
                                                                : "client closed");
}

static void conn_write_cb(uv_write_t *req, int status)
{
    struct pd_conn *conn = req->data;

    if (conn->state == CONN_CLOSING)
        return;
    if (status < 0) {
        log_warn("conn=%08x client=%s write error: %s; closing", conn->id, conn->peer,
                 uv_strerror(status));
        conn_close(conn, "write error");
        return;
    }
    conn_resume(conn);
}

/* conn_reply_text - format the reply; a text proto refuses becomes DUNNO, loudly. */
static int conn_reply_text(struct pd_conn *conn, const char *action, size_t len)
{
    int n = proto_format_reply(conn->act->wbuf, sizeof(conn->act->wbuf), action, len);

    if (n < 0) {
        log_warn("conn=%08x refusing to send reply text (%s); answering DUNNO", conn->id,
                 proto_strerror(n));
        n = proto_format_reply(conn->act->wbuf, sizeof(conn->act->wbuf), "DUNNO", 5);
    }
    return n;
}

/*
 * conn_reply - send "action=<text>" for the request being evaluated. Tries to write at
 * once (the usual case for a short reply); otherwise queues the rest and waits for the
 * write callback. Called by decide exactly once per request.
 */
void conn_reply(struct pd_conn *conn, const char *action, size_t len)
{
    uv_buf_t buf;
    int n, w;

    if (conn->state == CONN_CLOSING)
        return;
    if (conn->state != CONN_EVALUATING)
        log_panic("conn=%08x reply in state %s", conn->id, conn_state_name(conn->state));
    conn->cfg = cfg_unref(conn->cfg);
    n = conn_reply_text(conn, action, len);
    buf = uv_buf_init(conn->act->wbuf, (unsigned)n);
    w = uv_try_write(&conn->h.stream, &buf, 1);
    if (w == n) {
        conn_resume(conn);
        return;
    }
    if (w < 0 && w != UV_EAGAIN) {
        log_warn("conn=%08x client=%s write error: %s; closing", conn->id, conn->peer,
                 uv_strerror(w));
        conn_close(conn, "write error");
        return;
    }
    if (w > 0)
        buf = uv_buf_init(conn->act->wbuf + w, (unsigned)(n - w));
    conn_set_state(conn, CONN_WRITING);
    conn->act->wreq.data = conn;
    if ((w = uv_write(&conn->act->wreq, &conn->h.stream, &buf, 1, conn_write_cb)) < 0) {
        log_warn("conn=%08x write error: %s; closing", conn->id, uv_strerror(w));
        conn_close(conn, "write error");
    }
}

void conn_ref(struct pd_conn *conn)
{
    conn->refs++;
}

/* conn_unref - drop a reference; the last one frees the connection. */
void conn_unref(struct pd_conn *conn)
{
    if (conn->refs == 0)
        log_panic("conn=%08x reference count underflow", conn->id);
    if (--conn->refs > 0)
        return;
    conn->cfg = cfg_unref(conn->cfg);
    conn->act = conn_active_free(conn->act);
    free(conn->pending);
    free(conn);
}

static void conn_close_cb(uv_handle_t *h)
{
    struct pd_conn *conn = h->data;

    server_conn_gone(conn->srv, conn);
    conn_unref(conn);
}

bool conn_is_closing(const struct pd_conn *conn)
{
    return conn->state == CONN_CLOSING;
}

/* conn_is_idle - reading, with no partial request and nothing pending. */
bool conn_is_idle(const struct pd_conn *conn)
{
    return conn->state == CONN_READING && conn->pending_len == 0 &&
           (conn->act == NULL || !proto_in_progress(&conn->act->parser));
}

/* conn_close - the only teardown path; safe to call more than once. */
void conn_close(struct pd_conn *conn, const char *why)
{
    if (conn->state == CONN_CLOSING)
        return;
    log_debug("conn=%08x client=%s closing: %s after %llu requests", conn->id, conn->peer,
              why, (unsigned long long)conn->nrequests);
    conn_set_state(conn, CONN_CLOSING);
    uv_close(&conn->h.handle, conn_close_cb);
}

/* conn_sweep - once a second from the server: idle timeout, slow clients, memory. */
void conn_sweep(struct pd_conn *conn, uint64_t now_ms, uint64_t idle_ms)
{
    if (conn->state != CONN_READING)
        return;
    if (conn->act != NULL && proto_in_progress(&conn->act->parser) &&
        now_ms - conn->request_start_ms > CONN_REQUEST_TIMEOUT_MS) {
        log_warn("conn=%08x client=%s request not complete after %ds; closing", conn->id,
                 conn->peer, CONN_REQUEST_TIMEOUT_MS / 1000);
        conn_close(conn, "request timeout");
        return;
    }
    if (now_ms - conn->last_active_ms > idle_ms) {
        conn->srv->stats.idle_closed++;
        conn_close(conn, "idle timeout");
        return;
    }
    if (conn->act != NULL && conn_is_idle(conn) &&
        now_ms - conn->last_active_ms > CONN_SHRINK_AFTER_MS)
        conn->act = conn_active_free(conn->act);
}

/* conn_peer_name - "ip:port" for TCP, "unix" for a unix socket. */
static void conn_peer_name(struct pd_conn *conn, bool is_unix)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    snprintf(conn->peer, sizeof(conn->peer), "unix");
    if (is_unix || uv_tcp_getpeername(&conn->h.tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        snprintf(conn->peer, sizeof(conn->peer), "%s:%d", ip, port);
    } else if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        snprintf(conn->peer, sizeof(conn->peer), "[%s]:%d", ip, port);
    }
}

/*
 * conn_accept - accept one waiting connection from a listener and start reading.
 * Returns 0, or a negative libuv error (the connection, if any, is then closed).
 */
int conn_accept(struct pd_server *srv, uv_stream_t *listener, bool is_unix)
{
    struct pd_conn *conn = xcalloc(1, sizeof(*conn));
    int rc;

    conn->srv = srv;
    conn->refs = 1;
    conn->id = ++srv->next_conn_id;
    conn->state = CONN_READING;
    rc = is_unix ? uv_pipe_init(srv->loop, &conn->h.pipe, 0)
                 : uv_tcp_init(srv->loop, &conn->h.tcp);
    if (rc < 0) {
        free(conn);
        return rc;
    }
    conn->h.handle.data = conn;
    conn->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = conn;
    srv->conns = conn;
    srv->nconns++;
    if (srv->nconns > srv->nconns_peak)
        srv->nconns_peak = srv->nconns;
    if ((rc = uv_accept(listener, &conn->h.stream)) < 0) {
        conn_close(conn, "accept failed");
        return rc;
    }
    if (!is_unix)
        uv_tcp_nodelay(&conn->h.tcp, 1);
    conn_peer_name(conn, is_unix);
    conn->last_active_ms = uv_now(srv->loop);
    srv->stats.conns_accepted++;
    log_debug("conn=%08x client=%s connected", conn->id, conn->peer);
    conn_reading(conn, true);
    return 0;
}
