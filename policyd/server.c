/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      server - listeners, accept, the connection cap, the idle sweep, orderly stop
 * SYNOPSIS
 *      server_init(srv, loop, cfg); server_listen(srv, err, errlen)
 *      server_chown_sockets(srv, uid, gid, err, errlen); server_start(srv)
 *      server_reconfigure(srv, cfg); server_stop(srv, grace_ms); server_free(srv)
 *      server_conn_gone(srv, conn)
 * DESCRIPTION
 *      Binds every "inet:HOST:PORT" (IPv4 or [IPv6]) and "unix:PATH" of the listen key
 *      (numeric addresses only: no resolver on the loop), then accepts connections and
 *      hands each to conn. At max_connections it stops accepting: a connection callback
 *      that does not call uv_accept() makes libuv stop polling that listener, so the
 *      kernel backlog holds further clients and the loop does not spin; the first
 *      connection that goes resumes accepting. A one-second sweep applies idle timeouts.
 *
 *      server_stop() closes the listeners (unlinking unix sockets), closes idle
 *      connections, lets requests in flight be answered, and closes whatever is left when
 *      grace_ms runs out; once no connection is left it shuts decide down, so the loop
 *      drains and uv_run() returns.
 *
 *      The server owns its listeners, timers, the shared read buffer and the list of
 *      connections; it holds one reference on the current config.
 * DIAGNOSTICS
 *      server_listen() returns a negative libuv code and a message in err. Runtime
 *      problems (accept errors, the cap) are logged, each state change once.
 * SEE ALSO
 *      conn(3), Postfix master(8) and postscreen(8) for the stress-mode logging style.
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "policyd/conn.h"
#include "policyd/decide.h"
#include "policyd/log.h"
#include "policyd/server.h"
#include "policyd/util.h"

#define SERVER_READBUF (64 * 1024)
#define SERVER_BACKLOG 511
/* connections gone since the peak that make the sweep give free heap pages back */
#define SERVER_TRIM_DROP 1000
#define SERVER_TRIM_AFTER 3 /* sweeps (seconds) that trim again after a drop */

int server_init(struct pd_server *srv, uv_loop_t *loop, struct pd_config *cfg)
{
    memset(srv, 0, sizeof(*srv));
    srv->loop = loop;
    srv->cfg = cfg_ref(cfg);
    srv->readbuf_len = SERVER_READBUF;
    srv->readbuf = xmalloc(srv->readbuf_len);
    uv_timer_init(loop, &srv->sweep);
    uv_timer_init(loop, &srv->stop_timer);
    srv->sweep.data = srv;
    srv->stop_timer.data = srv;
    return 0;
}

static bool server_is_unix(const struct pd_listener *l)
{
    return l->unix_path != NULL;
}

/* server_accept_one - accept unless at the cap; at the cap leave it in the kernel. */
static void server_accept_one(struct pd_server *srv, struct pd_listener *l)
{
    int rc;

    if ((long long)srv->nconns >= srv->cfg->max_connections) {
        if (!l->pending) {
            srv->stats.conns_deferred++;
            log_warn("connection limit %lld reached on %s: new clients wait in the backlog",
                     srv->cfg->max_connections, l->spec);
        }
        l->pending = true;
        return;
    }
    if (l->pending)
        log_info("below the connection limit again on %s: accepting", l->spec);
    l->pending = false;
    if ((rc = conn_accept(srv, &l->h.stream, server_is_unix(l))) < 0 && rc != UV_EAGAIN)
        log_warn("accept on %s: %s", l->spec, uv_strerror(rc));
}

static void server_on_connection(uv_stream_t *s, int status)
{
    struct pd_listener *l = s->data;

    if (status < 0) {
        log_warn("listener %s: %s", l->spec, uv_strerror(status));
        return;
    }
    if (l->srv->stopping)
        return;
    server_accept_one(l->srv, l);
}

/* server_bind_inet - "HOST:PORT" with HOST numeric IPv4 or "[IPv6]". */
static int server_bind_inet(struct pd_server *srv, struct pd_listener *l, const char *hp,
                            char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = strrchr(hp, ':');
    size_t hl;
    int port, rc;

    if (colon == NULL || (hl = (size_t)(colon - hp)) == 0 || hl >= sizeof(host) ||
        (port = atoi(colon + 1)) <= 0 || port > 65535) {
        snprintf(err, errlen, "bad listen address \"%s\"", l->spec);
        return UV_EINVAL;
    }
    memcpy(host, hp, hl);
    host[hl] = '\0';
    if (host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        rc = uv_ip6_addr(host + 1, port, (struct sockaddr_in6 *)&ss);
    } else {
        rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    }
    if (rc == 0)
        rc = uv_tcp_init(srv->loop, &l->h.tcp);
    if (rc == 0) {
        l->open = true;
        rc = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss, 0);
    }
    if (rc == 0)
        rc = uv_listen(&l->h.stream, SERVER_BACKLOG, server_on_connection);
    if (rc < 0)
        snprintf(err, errlen, "cannot listen on %s: %s", l->spec, uv_strerror(rc));
    return rc;
}

/* server_bind_unix - replaces a stale socket file, never any other kind of file. */
static int server_bind_unix(struct pd_server *srv, struct pd_listener *l, char *err,
                            size_t errlen)
{
    struct stat st;
    int rc;

    if (lstat(l->unix_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "cannot listen on %s: exists and is not a socket", l->spec);
            return UV_EEXIST;
        }
        unlink(l->unix_path);
    }
    if ((rc = uv_pipe_init(srv->loop, &l->h.pipe, 0)) == 0) {
        l->open = true;
        rc = uv_pipe_bind(&l->h.pipe, l->unix_path);
    }
    if (rc == 0 && chmod(l->unix_path, srv->cfg->unix_socket_mode) != 0)
        rc = -errno;
    if (rc == 0)
        rc = uv_listen(&l->h.stream, SERVER_BACKLOG, server_on_connection);
    if (rc < 0)
        snprintf(err, errlen, "cannot listen on %s: %s", l->spec, uv_strerror(rc));
    return rc;
}

/* server_listen - bind every configured listener; the first failure is returned. */
int server_listen(struct pd_server *srv, char *err, size_t errlen)
{
    const struct cfg_list *ls = &srv->cfg->listen;
    size_t i;
    int rc = 0;

    srv->listeners = xcalloc(ls->n, sizeof(*srv->listeners));
    srv->nlisteners = ls->n;
    for (i = 0; i < ls->n && rc == 0; i++) {
        struct pd_listener *l = &srv->listeners[i];

        l->srv = srv;
        l->spec = xstrdup(ls->v[i]);
        l->h.handle.data = l;
        if (strncmp(l->spec, "unix:", 5) == 0) {
            l->unix_path = xstrdup(l->spec + 5);
            rc = server_bind_unix(srv, l, err, errlen);
        } else if (strncmp(l->spec, "inet:", 5) == 0) {
            rc = server_bind_inet(srv, l, l->spec + 5, err, errlen);
        } else {
            snprintf(err, errlen, "bad listen address \"%s\"", l->spec);
            rc = UV_EINVAL;
        }
        if (l->open)
            l->h.handle.data = l;
    }
    return rc;
}

/* server_chown_sockets - give unix sockets to the run user before privileges go. */
int server_chown_sockets(struct pd_server *srv, unsigned uid, unsigned gid, char *err,
                         size_t errlen)
{
    size_t i;

    for (i = 0; i < srv->nlisteners; i++) {
        const char *p = srv->listeners[i].unix_path;

        if (p != NULL && chown(p, uid, gid) != 0) {
            snprintf(err, errlen, "chown %s: %s", p, strerror(errno));
            return -errno;
        }
    }
    return 0;
}

/*
 * server_trim - after a burst of connections has gone, give the heap's free pages back.
 * Their structs, pending bytes and requests were freed, but glibc keeps freed memory
 * in its arenas: 10,000 connections that came and went left 55 MB resident. malloc_trim
 * releases every whole free page (not only the top of the heap); it runs once per such
 * drop and at the SERVER_TRIM_AFTER sweeps after it, never per request: what the burst
 * left in flight (the Redis calls of requests answered by redis_timeout, whose replies
 * come later) is freed in the seconds after the connections went.
 */
static void server_trim(struct pd_server *srv)
{
    if (srv->nconns_peak >= srv->nconns + SERVER_TRIM_DROP) {
        srv->nconns_peak = srv->nconns;
        srv->trim_sweeps = 1 + SERVER_TRIM_AFTER;
    }
    if (srv->trim_sweeps == 0)
        return;
    srv->trim_sweeps--;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static void server_sweep_cb(uv_timer_t *t)
{
    struct pd_server *srv = t->data;
    uint64_t now = uv_now(srv->loop);
    struct pd_conn *c, *next;

    for (c = srv->conns; c != NULL; c = next) {
        next = c->next;
        conn_sweep(c, now, (uint64_t)srv->cfg->idle_timeout_ms);
    }
    server_trim(srv);
}

void server_start(struct pd_server *srv)
{
    size_t i;

    uv_timer_start(&srv->sweep, server_sweep_cb, 1000, 1000);
    for (i = 0; i < srv->nlisteners; i++)
        log_info("listening on %s", srv->listeners[i].spec);
}

/* server_same_listen - whether two configs listen on the same addresses. */
static bool server_same_listen(const struct cfg_list *a, const struct cfg_list *b)
{
    size_t i;

    if (a->n != b->n)
        return false;
    for (i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

/* server_reconfigure - take a new config; listeners change only with a restart. */
void server_reconfigure(struct pd_server *srv, struct pd_config *cfg)
{
    if (!server_same_listen(&srv->cfg->listen, &cfg->listen))
        log_warn("listen changed: the new addresses take effect after a restart");
    cfg_unref(srv->cfg);
    srv->cfg = cfg_ref(cfg);
    decide_reconfigure(srv->decide, cfg);
}

static void server_listener_closed(uv_handle_t *h)
{
    (void)h;
}

/* server_finish - no connection is left: let every remaining handle go. */
static void server_finish(struct pd_server *srv)
{
    uv_timer_stop(&srv->sweep);
    uv_timer_stop(&srv->stop_timer);
    if (!uv_is_closing((uv_handle_t *)&srv->sweep))
        uv_close((uv_handle_t *)&srv->sweep, NULL);
    if (!uv_is_closing((uv_handle_t *)&srv->stop_timer))
        uv_close((uv_handle_t *)&srv->stop_timer, NULL);
    decide_shutdown(srv->decide);
}

static void server_stop_deadline(uv_timer_t *t)
{
    struct pd_server *srv = t->data;
    struct pd_conn *c;
    unsigned n = 0;

    for (c = srv->conns; c != NULL; c = c->next)
        if (!conn_is_closing(c)) {
            conn_close(c, "shutdown deadline");
            n++;
        }
    if (n > 0)
        log_warn("stop: closed %u connections still busy at the deadline", n);
}

/* server_conn_gone - a connection's handle has closed. */
void server_conn_gone(struct pd_server *srv, struct pd_conn *conn)
{
    size_t i;

    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        srv->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
    srv->nconns--;
    if (srv->stopping) {
        if (srv->nconns == 0)
            server_finish(srv);
        return;
    }
    for (i = 0; i < srv->nlisteners; i++)
        if (srv->listeners[i].pending)
            server_accept_one(srv, &srv->listeners[i]);
}

/* server_stop - stop accepting, finish what is in flight, leave within grace_ms. */
void server_stop(struct pd_server *srv, unsigned grace_ms)
{
    struct pd_conn *c;
    size_t i;

    if (srv->stopping)
        return;
    srv->stopping = true;
    for (i = 0; i < srv->nlisteners; i++) {
        struct pd_listener *l = &srv->listeners[i];

        if (l->open && !uv_is_closing(&l->h.handle))
            uv_close(&l->h.handle, server_listener_closed);
        if (l->unix_path != NULL)
            unlink(l->unix_path);
    }
    /* A half-received request is not in flight: Postfix sends whole requests and retries. */
    for (c = srv->conns; c != NULL; c = c->next)
        if (c->state == CONN_READING)
            conn_close(c, "shutting down");
    if (srv->nconns == 0) {
        server_finish(srv);
        return;
    }
    uv_timer_start(&srv->stop_timer, server_stop_deadline, grace_ms, 0);
}

/* server_free - after the loop has drained. */
void server_free(struct pd_server *srv)
{
    size_t i;

    for (i = 0; i < srv->nlisteners; i++) {
        free(srv->listeners[i].spec);
        free(srv->listeners[i].unix_path);
    }
    free(srv->listeners);
    free(srv->readbuf);
    srv->decide = decide_free(srv->decide);
    srv->cfg = cfg_unref(srv->cfg);
}
