/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      ceiling - the trivial policy server: every request is answered DUNNO
 * SYNOPSIS
 *      ceiling (-l HOST:PORT | -u PATH) [-q]
 * DESCRIPTION
 *      A stateless server for the Postfix policy protocol on one libuv loop, the upper
 *      bound to compare policyd with: it only frames requests (a request ends at an empty
 *      line that follows at least one non-empty line) and answers each complete one with
 *      "action=DUNNO\n\n". It looks at no attribute and keeps no request in memory, so
 *      lines of any length cost nothing. Pipelined requests are answered in order, in one
 *      write per read; the replies are written straight from one immutable buffer, so
 *      nothing is allocated per request. While a write is pending (the peer does not read
 *      its replies) the connection stops reading.
 *
 *      Only loopback: -l takes 127.0.0.0/8 or ::1 (port 0 picks a free port), -u a unix
 *      socket path (a stale socket there is replaced). Once listening it prints
 *      "ceiling: listening on ADDRESS" to stdout. SIGTERM or SIGINT closes every handle
 *      and exits 0.
 * DIAGNOSTICS
 *      Exit 2 on usage errors or a non-loopback address, 1 when it cannot listen, 0 after a
 *      signal; on exit "ceiling: N requests, M connections" goes to stderr unless -q.
 * SEE ALSO
 *      tests/tools/loadgen.c, docs/LOADGEN.md
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#define CE_REPLY "action=DUNNO\n\n"
#define CE_REPLY_LEN (sizeof CE_REPLY - 1)
#define CE_BATCH 4096     /* replies in the shared buffer: the most one write sends */
#define CE_READ_BUF 65536 /* per connection */
#define CE_BACKLOG 1024

struct ce_server {
    uv_loop_t *loop;
    union {
        uv_handle_t h;
        uv_stream_t s;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } listener;
    uv_signal_t sigint, sigterm;
    bool is_unix;
    char replies[CE_BATCH * CE_REPLY_LEN]; /* CE_BATCH copies of CE_REPLY, never changed */
    uint64_t requests, conns;
};

struct ce_conn {
    union {
        uv_handle_t h;
        uv_stream_t s;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } io;
    uv_write_t wreq;
    struct ce_server *srv;
    bool at_line_start, have_content, writing;
    uint64_t pending; /* replies owed */
    char rbuf[CE_READ_BUF];
};

static void ce_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void ce_on_close(uv_handle_t *h)
{
    free(h->data); /* a connection; the server's handles have data == NULL */
}

static void ce_close(struct ce_conn *c)
{
    if (!uv_is_closing(&c->io.h))
        uv_close(&c->io.h, ce_on_close);
}

/* ce_frame - count the requests that end in data; the state carries across reads. */
static uint64_t ce_frame(struct ce_conn *c, const char *data, size_t len)
{
    const char *p = data, *end = data + len, *nl;
    uint64_t n = 0;

    while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        if (nl > p) {
            c->have_content = true;
        } else if (c->at_line_start && c->have_content) {
            n++;
            c->have_content = false;
        }
        c->at_line_start = true;
        p = nl + 1;
    }
    if (p < end) {
        c->at_line_start = false;
        c->have_content = true;
    }
    return n;
}

static void ce_on_write(uv_write_t *req, int status);

/* ce_flush - write the replies owed; stop reading while the socket does not take them. */
static void ce_flush(struct ce_conn *c)
{
    while (c->pending > 0 && !c->writing) {
        uint64_t k = c->pending < CE_BATCH ? c->pending : CE_BATCH;
        uv_buf_t b = uv_buf_init(c->srv->replies, (unsigned)(k * CE_REPLY_LEN));
        int n = uv_try_write(&c->io.s, &b, 1);

        if (n == UV_EAGAIN)
            n = 0;
        if (n < 0) {
            ce_close(c);
            return;
        }
        c->pending -= k;
        if ((unsigned)n == b.len)
            continue;
        /* Every reply is the same, so the rest of the batch is a suffix of the buffer. */
        b = uv_buf_init(c->srv->replies + n, b.len - (unsigned)n);
        if (uv_write(&c->wreq, &c->io.s, &b, 1, ce_on_write) < 0) {
            ce_close(c);
            return;
        }
        c->writing = true;
        uv_read_stop(&c->io.s);
    }
}

static void ce_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct ce_conn *c = h->data;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void ce_on_write(uv_write_t *req, int status)
{
    struct ce_conn *c = req->data;
    c->writing = false;
    if (status < 0) {
        ce_close(c);
        return;
    }
    ce_flush(c);
    if (!c->writing && !uv_is_closing(&c->io.h))
        uv_read_start(&c->io.s, ce_alloc, ce_on_read);
}

static void ce_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct ce_conn *c = s->data;
    uint64_t n;

    if (nread < 0) {
        ce_close(c);
        return;
    }
    n = ce_frame(c, buf->base, (size_t)nread);
    if (n == 0)
        return;
    c->srv->requests += n;
    c->pending += n;
    ce_flush(c);
}

static void ce_on_connection(uv_stream_t *listener, int status)
{
    struct ce_server *srv = listener->loop->data;
    struct ce_conn *c;

    if (status < 0)
        return;
    c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->srv = srv;
    c->at_line_start = true;
    c->wreq.data = c;
    if (srv->is_unix)
        uv_pipe_init(srv->loop, &c->io.pipe, 0);
    else
        uv_tcp_init(srv->loop, &c->io.tcp);
    c->io.h.data = c;
    if (uv_accept(listener, &c->io.s) < 0) {
        ce_close(c);
        return;
    }
    if (!srv->is_unix)
        uv_tcp_nodelay(&c->io.tcp, 1);
    srv->conns++;
    uv_read_start(&c->io.s, ce_alloc, ce_on_read);
}

static void ce_close_walk(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, ce_on_close);
}

static void ce_on_signal(uv_signal_t *s, int signum)
{
    sigset_t set;

    /* Closing the last uv_signal_t of a signal restores its default action, and
     * timeout(1) sends SIGTERM to its child and again to its process group: block both
     * signals so a second one cannot kill us on the way out. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    uv_walk(s->loop, ce_close_walk, NULL);
}

/* ce_parse_addr - HOST:PORT or [V6]:PORT with a numeric loopback host (or localhost). */
static int ce_parse_addr(const char *arg, struct sockaddr_storage *ss)
{
    char host[64], *end;
    const char *colon = strrchr(arg, ':');
    size_t hl = colon ? (size_t)(colon - arg) : 0;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

    if (!colon || end == colon + 1 || *end || port < 0 || port > 65535 || hl >= sizeof host)
        return -1;
    if (arg[0] == '[' && hl >= 2 && arg[hl - 1] == ']')
        arg++, hl -= 2;
    memcpy(host, arg, hl);
    host[hl] = '\0';
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (uv_ip4_addr(host, (int)port, sin) == 0)
        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127 ? 0 : -2;
    if (uv_ip6_addr(host, (int)port, sin6) == 0)
        return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ? 0 : -2;
    return -1;
}

/* ce_listen_tcp - bind, listen and print the bound address (the port may be 0). */
static int ce_listen_tcp(struct ce_server *srv, const struct sockaddr_storage *ss)
{
    struct sockaddr_storage bound;
    int len = sizeof bound, rc;
    char ip[INET6_ADDRSTRLEN];

    uv_tcp_init(srv->loop, &srv->listener.tcp);
    if ((rc = uv_tcp_bind(&srv->listener.tcp, (const struct sockaddr *)ss, 0)) < 0 ||
        (rc = uv_listen(&srv->listener.s, CE_BACKLOG, ce_on_connection)) < 0 ||
        (rc = uv_tcp_getsockname(&srv->listener.tcp, (struct sockaddr *)&bound, &len)) < 0)
        return rc;
    if (bound.ss_family == AF_INET6) {
        const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)&bound;
        uv_ip6_name(b6, ip, sizeof ip);
        printf("ceiling: listening on [%s]:%d\n", ip, ntohs(b6->sin6_port));
    } else {
        const struct sockaddr_in *b4 = (const struct sockaddr_in *)&bound;
        uv_ip4_name(b4, ip, sizeof ip);
        printf("ceiling: listening on %s:%d\n", ip, ntohs(b4->sin_port));
    }
    return 0;
}

/* ce_listen_unix - replace a stale socket (never another kind of file) and listen. */
static int ce_listen_unix(struct ce_server *srv, const char *path)
{
    struct stat st;
    int rc;

    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    srv->is_unix = true;
    uv_pipe_init(srv->loop, &srv->listener.pipe, 0);
    if ((rc = uv_pipe_bind(&srv->listener.pipe, path)) < 0 ||
        (rc = uv_listen(&srv->listener.s, CE_BACKLOG, ce_on_connection)) < 0)
        return rc;
    printf("ceiling: listening on %s\n", path);
    return 0;
}

static void ce_usage(void)
{
    fputs("usage: ceiling (-l HOST:PORT | -u PATH) [-q]\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    static struct ce_server srv; /* holds the reply buffer; lives for the whole process */
    const char *tcp = NULL, *path = NULL;
    struct sockaddr_storage ss;
    bool quiet = false;
    int opt, rc;

    while ((opt = getopt(argc, argv, "l:u:qh")) != -1) {
        if (opt == 'l')
            tcp = optarg;
        else if (opt == 'u')
            path = optarg;
        else if (opt == 'q')
            quiet = true;
        else
            ce_usage();
    }
    if (optind != argc || !tcp == !path)
        ce_usage();
    if (tcp && (rc = ce_parse_addr(tcp, &ss)) < 0) {
        fprintf(stderr, "ceiling: -l %s: %s\n", tcp,
                rc == -2 ? "refused: not a loopback address" : "want HOST:PORT");
        return 2;
    }
    for (size_t i = 0; i < CE_BATCH; i++)
        memcpy(srv.replies + i * CE_REPLY_LEN, CE_REPLY, CE_REPLY_LEN);
    signal(SIGPIPE, SIG_IGN);
    srv.loop = uv_default_loop();
    srv.loop->data = &srv;
    rc = tcp ? ce_listen_tcp(&srv, &ss) : ce_listen_unix(&srv, path);
    if (rc < 0) {
        fprintf(stderr, "ceiling: listen on %s: %s\n", tcp ? tcp : path, uv_strerror(rc));
        return 1;
    }
    fflush(stdout);
    uv_signal_init(srv.loop, &srv.sigint);
    uv_signal_init(srv.loop, &srv.sigterm);
    uv_signal_start(&srv.sigint, ce_on_signal, SIGINT);
    uv_signal_start(&srv.sigterm, ce_on_signal, SIGTERM);
    uv_run(srv.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(srv.loop);
    /* a second SIGTERM may be pending (blocked in ce_on_signal): ignoring discards it, so
     * it cannot be delivered on the way out (LeakSanitizer's exit scan uses a thread with
     * its own signal mask) */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    if (path)
        unlink(path);
    if (!quiet)
        fprintf(stderr, "ceiling: %llu requests, %llu connections%s\n",
                (unsigned long long)srv.requests, (unsigned long long)srv.conns,
                rc == 0 ? "" : " (loop not closed cleanly)");
    return rc == 0 ? 0 : 1;
}
