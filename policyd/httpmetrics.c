/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      httpmetrics - the Prometheus scrape endpoint: GET /metrics over HTTP
 * SYNOPSIS
 *      #include "policyd/httpmetrics.h"
 *
 *      hm = httpmetrics_new(loop, st); httpmetrics_listen(hm, spec, err, errlen)
 *      httpmetrics_start(hm); httpmetrics_stop(hm); hm = httpmetrics_free(hm)
 * DESCRIPTION
 *      Serves metrics_listen ("inet:127.0.0.1:PORT" or "inet:[::1]:PORT"; config(3)
 *      refuses anything but loopback, because a scrape carries no credentials). GET
 *      /metrics answers 200 with the text of status_metrics() (Content-Type "text/plain;
 *      version=0.0.4"); any other method or path answers 404. The HTTP side is
 *      libmicrohttpd: no HTTP parsing of our own (docs/ARCHITECTURE.md).
 *
 *      Threads: none. libmicrohttpd runs in external-polling mode with its epoll
 *      back-end, so all of its sockets sit behind one epoll fd. One uv_poll_t watches
 *      that fd and one uv_timer_t wakes at MHD_get_timeout() (connection timeouts, and 0
 *      while connections still have buffered work); both call MHD_run() on the loop
 *      thread, and the timer is re-armed after every run. The access handler therefore
 *      runs on the loop thread and reads the daemon's counters without locks.
 *
 *      A scrape needs the number of blocked mailboxes from Redis: the connection is
 *      suspended (MHD_suspend_connection) until status_metrics() calls back, then
 *      resumed and answered. A struct httpmetrics_req has two references: libmicrohttpd's
 *      (dropped in the request-completed callback) and the pending status_metrics()
 *      call's (dropped in its callback, which status(3) guarantees); it is freed by the
 *      last. Suspended requests are listed so that httpmetrics_stop() can resume them
 *      (answered 503) before MHD_stop_daemon(), which refuses to stop with suspended
 *      connections.
 *
 *      Ownership: struct httpmetrics is owned by main. httpmetrics_stop() stops and
 *      closes the poll and timer handles, then stops the libmicrohttpd daemon (which
 *      closes the epoll fd, after libuv has let go of it) and its connections;
 *      httpmetrics_free() frees the struct after the loop has drained (the handles'
 *      close callbacks have run) and after every status_metrics() call has answered.
 * DIAGNOSTICS
 *      httpmetrics_listen() returns a negative errno-style code with a message (bad
 *      address, port in use). libmicrohttpd's own messages are logged as warnings.
 *      Nothing a scraper sends is fatal.
 * SEE ALSO
 *      status(3), metrics.c, config(3) metrics_listen, libmicrohttpd(3).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <uv.h>

#include "policyd/httpmetrics.h"
#include "policyd/log.h"
#include "policyd/status.h"
#include "policyd/util.h"

#define HTTPMETRICS_CONN_LIMIT 16 /* scrapers connected at the same time */
#define HTTPMETRICS_TIMEOUT_S 15  /* an idle or stuck connection is closed after this */
#define HTTPMETRICS_HOST_MAX 64
#define HTTPMETRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"
#define HTTPMETRICS_PATH "/metrics"

struct httpmetrics_req;

struct httpmetrics {
    uv_loop_t *loop;
    struct status *st;
    struct MHD_Daemon *daemon; /* NULL when metrics_listen is empty, or after stop */
    uv_poll_t poll;            /* MHD's epoll fd */
    uv_timer_t timer;          /* MHD_get_timeout() */
    bool handles_open;
    bool stopping;
    char spec[HTTPMETRICS_HOST_MAX + 16];
    struct httpmetrics_req *suspended; /* doubly linked */
    unsigned pending;                  /* status_metrics() calls not answered yet */
};

struct httpmetrics_req {
    struct httpmetrics *hm;
    struct MHD_Connection *conn;
    struct httpmetrics_req *prev, *next; /* in hm->suspended while suspended */
    unsigned refs;
    bool suspended;
    bool answered; /* status_metrics() called back */
    char *text;    /* its text; NULL when the daemon stopped first */
};

static void httpmetrics_run(struct httpmetrics *hm);

static void httpmetrics_req_unref(struct httpmetrics_req *r)
{
    if (r->refs == 0)
        log_panic("httpmetrics: request reference count underflow");
    if (--r->refs > 0)
        return;
    free(r->text);
    free(r);
}

static void httpmetrics_unlink(struct httpmetrics_req *r)
{
    struct httpmetrics *hm = r->hm;

    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        hm->suspended = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    r->suspended = false;
}

/* httpmetrics_on_text - status_metrics() answered: resume the scrape that waits for it. */
static void httpmetrics_on_text(void *arg, char *text)
{
    struct httpmetrics_req *r = arg;
    struct httpmetrics *hm = r->hm;

    hm->pending--;
    r->answered = true;
    r->text = text;
    if (r->suspended && hm->daemon != NULL) {
        httpmetrics_unlink(r);
        MHD_resume_connection(r->conn);
        httpmetrics_run(hm);
    }
    httpmetrics_req_unref(r);
}

/* httpmetrics_reply - a static or owned body with its status code. */
static enum MHD_Result httpmetrics_reply(struct MHD_Connection *conn, unsigned code,
                                         const char *ctype, char *body, bool owned)
{
    struct MHD_Response *resp;
    enum MHD_Result ok;

    resp = MHD_create_response_from_buffer(strlen(body), body,
                                           owned ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    ok = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return ok;
}

/*
 * httpmetrics_access - libmicrohttpd's request handler, on the loop thread. The first
 * call of a GET /metrics starts status_metrics() and suspends the connection unless the
 * text is already there; the call after the resume answers.
 */
static enum MHD_Result httpmetrics_access(void *cls, struct MHD_Connection *conn, const char *url,
                                          const char *method, const char *version,
                                          const char *upload, size_t *upload_size, void **ctx)
{
    static char not_found[] = "not found; try GET /metrics\n";
    static char stopping[] = "policyd is stopping\n";
    struct httpmetrics *hm = cls;
    struct httpmetrics_req *r = *ctx;

    (void)version;
    (void)upload;
    if (r == NULL) {
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 || strcmp(url, HTTPMETRICS_PATH) != 0)
            return httpmetrics_reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", not_found, false);
        r = xcalloc(1, sizeof(*r));
        r->hm = hm;
        r->conn = conn;
        r->refs = 2; /* MHD's, until the completed callback; status_metrics()'s */
        *ctx = r;
        hm->pending++;
        status_metrics(hm->st, httpmetrics_on_text, r);
        if (!r->answered) {
            MHD_suspend_connection(conn);
            r->suspended = true;
            r->next = hm->suspended;
            if (hm->suspended != NULL)
                hm->suspended->prev = r;
            hm->suspended = r;
            return MHD_YES;
        }
    }
    if (*upload_size != 0) { /* a body on a GET: ignored */
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->answered)
        return MHD_YES;
    if (r->text == NULL)
        return httpmetrics_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", stopping, false);
    return httpmetrics_reply(conn, MHD_HTTP_OK, HTTPMETRICS_CTYPE, r->text, true);
}

/* httpmetrics_completed - libmicrohttpd is done with a request: drop its reference. */
static void httpmetrics_completed(void *cls, struct MHD_Connection *conn, void **ctx,
                                  enum MHD_RequestTerminationCode why)
{
    struct httpmetrics_req *r = *ctx;

    (void)cls;
    (void)conn;
    (void)why;
    if (r == NULL)
        return;
    *ctx = NULL;
    if (r->suspended)
        httpmetrics_unlink(r);
    r->conn = NULL;
    httpmetrics_req_unref(r);
}

/* httpmetrics_log - libmicrohttpd's messages (bind errors, peers that misbehave). */
static void httpmetrics_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("metrics: %s", msg);
}

/* ---- the loop side ------------------------------------------------------------------ */

static void httpmetrics_timer_cb(uv_timer_t *t)
{
    httpmetrics_run(t->data);
}

static void httpmetrics_poll_cb(uv_poll_t *p, int status, int events)
{
    struct httpmetrics *hm = p->data;

    (void)events;
    if (status < 0)
        log_warn("metrics: poll: %s", uv_strerror(status));
    httpmetrics_run(hm);
}

/* httpmetrics_run - let libmicrohttpd work, then wake again when it asks to. */
static void httpmetrics_run(struct httpmetrics *hm)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;

    if (hm->daemon == NULL || !hm->handles_open)
        return;
    MHD_run(hm->daemon);
    if (MHD_get_timeout(hm->daemon, &ms) == MHD_YES)
        uv_timer_start(&hm->timer, httpmetrics_timer_cb, (uint64_t)ms, 0);
    else
        uv_timer_stop(&hm->timer);
}

struct httpmetrics *httpmetrics_new(uv_loop_t *loop, struct status *st)
{
    struct httpmetrics *hm = xcalloc(1, sizeof(*hm));

    hm->loop = loop;
    hm->st = st;
    return hm;
}

/* httpmetrics_addr - "inet:HOST:PORT" (numeric host, [v6] in brackets) as a sockaddr. */
static int httpmetrics_addr(const char *spec, struct sockaddr_storage *ss, bool *v6)
{
    const char *hp = spec + 5, *colon = strrchr(hp, ':');
    char host[HTTPMETRICS_HOST_MAX];
    size_t hl = colon != NULL ? (size_t)(colon - hp) : 0;

    if (strncmp(spec, "inet:", 5) != 0 || hl == 0 || hl >= sizeof(host))
        return UV_EINVAL;
    memcpy(host, hp, hl);
    host[hl] = '\0';
    memset(ss, 0, sizeof(*ss));
    *v6 = host[0] == '[' && host[hl - 1] == ']';
    if (*v6) {
        host[hl - 1] = '\0';
        return uv_ip6_addr(host + 1, atoi(colon + 1), (struct sockaddr_in6 *)ss);
    }
    return uv_ip4_addr(host, atoi(colon + 1), (struct sockaddr_in *)ss);
}

/* httpmetrics_listen - bind metrics_listen ("" = off), before privileges are dropped. */
int httpmetrics_listen(struct httpmetrics *hm, const char *spec, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    bool v6 = false;
    int rc;

    if (spec[0] == '\0')
        return 0;
    snprintf(hm->spec, sizeof(hm->spec), "%s", spec);
    if ((rc = httpmetrics_addr(spec, &ss, &v6)) < 0) {
        snprintf(err, errlen, "metrics_listen %s: not inet:HOST:PORT", spec);
        return rc;
    }
    if (v6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    hm->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, httpmetrics_access, hm, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTPMETRICS_CONN_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTPMETRICS_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED,
        httpmetrics_completed, hm, MHD_OPTION_EXTERNAL_LOGGER, httpmetrics_log, hm, MHD_OPTION_END);
    if (hm->daemon == NULL) {
        rc = errno != 0 ? -errno : UV_EADDRINUSE;
        snprintf(err, errlen, "cannot listen on metrics_listen %s: %s", spec, uv_strerror(rc));
        return rc;
    }
    return 0;
}

/* httpmetrics_start - watch libmicrohttpd's epoll fd from the loop. */
void httpmetrics_start(struct httpmetrics *hm)
{
    const union MHD_DaemonInfo *info;

    if (hm == NULL || hm->daemon == NULL)
        return;
    info = MHD_get_daemon_info(hm->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL || uv_poll_init(hm->loop, &hm->poll, info->epoll_fd) != 0)
        log_panic("metrics: libmicrohttpd has no usable epoll fd");
    uv_timer_init(hm->loop, &hm->timer);
    hm->poll.data = hm->timer.data = hm;
    hm->handles_open = true;
    uv_poll_start(&hm->poll, UV_READABLE, httpmetrics_poll_cb);
    httpmetrics_run(hm);
    log_info("metrics: listening on %s (GET %s)", hm->spec, HTTPMETRICS_PATH);
}

/*
 * httpmetrics_stop - close the handles, answer the suspended scrapes 503, stop the
 * daemon. libuv lets go of the epoll fd (uv_close) before MHD_stop_daemon() closes it.
 */
void httpmetrics_stop(struct httpmetrics *hm)
{
    if (hm == NULL || hm->stopping)
        return;
    hm->stopping = true;
    if (hm->handles_open) {
        uv_close((uv_handle_t *)&hm->poll, NULL);
        uv_close((uv_handle_t *)&hm->timer, NULL);
        hm->handles_open = false;
    }
    if (hm->daemon == NULL)
        return;
    while (hm->suspended != NULL) {
        struct httpmetrics_req *r = hm->suspended;

        httpmetrics_unlink(r);
        r->answered = true; /* with no text: 503, if the daemon still writes it */
        MHD_resume_connection(r->conn);
    }
    MHD_stop_daemon(hm->daemon);
    hm->daemon = NULL;
}

/* httpmetrics_free - after httpmetrics_stop() and after the loop has drained. */
struct httpmetrics *httpmetrics_free(struct httpmetrics *hm)
{
    if (hm == NULL)
        return NULL;
    if (hm->daemon != NULL || hm->handles_open || hm->pending > 0)
        log_panic("metrics: freed while running (%u scrapes pending)", hm->pending);
    free(hm);
    return NULL;
}
