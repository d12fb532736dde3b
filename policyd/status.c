/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      status - the helpdesk's JSON socket: listeners, connections, roles, replies
 * SYNOPSIS
 *      #include "policyd/status.h"
 *
 *      st = status_new(srv); status_listen(st, err, errlen); status_attach(st, poller, alert)
 *      status_start(st)
 *      status_stop(st); st = status_free(st)
 * DESCRIPTION
 *      Listens on every "unix:PATH" and loopback "inet:HOST:PORT" of status_listen. A
 *      unix socket gets status_socket_mode and, when policyd starts as root, run_user and
 *      status_socket_group as owner; a missing parent directory is created (0755).
 *
 *      Each connection reads newline-terminated JSON requests and answers each with one
 *      line of JSON, in order: {"ok": true, ...} or {"ok": false, "error": CODE,
 *      "message": TEXT}, with the request's "id" when it had one. A connection cycles
 *      READING -> WORKING -> WRITING -> READING and ends in CLOSING; only
 *      status_set_state() changes the state, against a table. One request is answered
 *      at a time: reading stops while a command runs, and lines that arrived behind it
 *      wait in the connection's buffer. A line longer than JSONREQ_MAX_LINE is skipped to
 *      its newline and answered "too-long"; a malformed request is answered with its
 *      error; the connection stays usable in both cases.
 *
 *      Roles (jsonreq_role_needed() says what a request needs): a unix peer is "admin"
 *      when the kernel's credentials (SO_PEERCRED, SO_PEERGROUPS) show root, run_user or
 *      a member of status_admin_group, else "read" (the socket's mode and group decide
 *      who may connect at all). A TCP peer has no role. A request's "token" equal to the
 *      content of status_token_file gives "admin", to status_read_token_file "read"
 *      (compared in constant time); any other token is refused.
 *
 *      Ownership: struct status is owned by main. A connection embeds its uv handle and
 *      is freed when its last reference goes: the handle holds one until its close
 *      callback, an op one until it has answered. A reply is one uv_write of a
 *      struct status_wreq, freed in its callback. status_conn_close() is idempotent and
 *      the only teardown path. Commands in flight when a connection or the daemon stops
 *      still finish their Redis writes (a block is indexed and audited); only the reply
 *      is dropped.
 * DIAGNOSTICS
 *      status_listen() returns a negative libuv or errno code with a message. Runtime:
 *      every refused request is logged once ("status: denied ..."), peer problems are
 *      warnings, the connection cap is logged when reached and when left. Peer data in
 *      the log is sanitised.
 * SEE ALSO
 *      jsonreq(3), statuscmd.c, statusshow.c, statuswrite.c, metrics.c, httpmetrics(3),
 *      policyctl(1), server(3).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "policyd/config.h"
#include "policyd/decide.h"
#include "policyd/log.h"
#include "policyd/server.h"
#include "policyd/status.h"
#include "policyd/statuscmd.h"
#include "policyd/util.h"
#include "ratelimit/track.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59 /* Linux 4.13 */
#endif

#define STATUS_MAX_CONNS 64          /* status connections at the same time */
#define STATUS_BUF (JSONREQ_MAX_LINE + 1) /* a whole request line and its newline */
#define STATUS_IDLE_MS (10 * 60 * 1000)   /* an idle connection is closed after this */
#define STATUS_LINE_MS (60 * 1000)        /* a started line must end within this */
#define STATUS_SWEEP_MS 1000
#define STATUS_BACKLOG 64
#define STATUS_GROUPS_MAX 65536      /* NGROUPS_MAX of Linux */
#define STATUS_PATH_MAX 4096         /* a unix socket's directory */

enum status_state { STATUS_READING, STATUS_WORKING, STATUS_WRITING, STATUS_CLOSING };

static const bool status_legal[4][4] = {
    /* to:              READING WORKING WRITING CLOSING */
    [STATUS_READING] = {false, true, false, true},
    [STATUS_WORKING] = {false, false, true, true},
    [STATUS_WRITING] = {true, false, false, true},
    [STATUS_CLOSING] = {false, false, false, false},
};

struct status_listener {
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
        uv_stream_t stream;
        uv_handle_t handle;
    } h;
    struct status *st;
    char *spec;      /* as configured */
    char *unix_path; /* NULL for TCP */
    bool open;
};

struct status_conn {
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
        uv_stream_t stream;
        uv_handle_t handle;
    } h;
    struct status *st;
    struct status_conn *prev, *next;
    enum status_state state;
    uint32_t id;
    unsigned refs;
    enum jsonreq_role peer_role;
    char peer[64];
    char *buf;           /* STATUS_BUF bytes once the first byte arrives */
    size_t len;
    bool discarding;     /* skipping the rest of an overlong line */
    uint64_t last_active;
    uint64_t line_started;
    uint64_t nrequests;
};

struct status_wreq {
    uv_write_t req;
    struct status_conn *conn;
    size_t len;
    char buf[];
};

static void status_process(struct status_conn *c);

static const char *status_state_name(enum status_state s)
{
    static const char *const names[] = {"READING", "WORKING", "WRITING", "CLOSING"};

    return (unsigned)s < 4 ? names[s] : "?";
}

/* status_set_state - the one place that changes a connection's state. */
static void status_set_state(struct status_conn *c, enum status_state to)
{
    if (!status_legal[c->state][to])
        log_panic("status conn=%08x illegal transition %s -> %s", c->id,
                  status_state_name(c->state), status_state_name(to));
    if (log_debug_enabled())
        log_debug("status conn=%08x %s -> %s", c->id, status_state_name(c->state),
                  status_state_name(to));
    c->state = to;
}

static void status_conn_unref(struct status_conn *c)
{
    if (c->refs == 0)
        log_panic("status conn=%08x reference count underflow", c->id);
    if (--c->refs > 0)
        return;
    free(c->buf);
    free(c);
}

static void status_conn_closed(uv_handle_t *h)
{
    struct status_conn *c = h->data;
    struct status *st = c->st;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        st->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    st->nconns--;
    status_conn_unref(c);
}

/* status_conn_close - the only teardown path; safe to call more than once. */
static void status_conn_close(struct status_conn *c, const char *why)
{
    if (c->state == STATUS_CLOSING)
        return;
    log_debug("status conn=%08x peer=%s closing: %s after %llu requests", c->id, c->peer, why,
              (unsigned long long)c->nrequests);
    status_set_state(c, STATUS_CLOSING);
    uv_close(&c->h.handle, status_conn_closed);
}

/* ---- replies ---------------------------------------------------------------------- */

static void status_write_cb(uv_write_t *req, int rc)
{
    struct status_wreq *w = (struct status_wreq *)req;
    struct status_conn *c = w->conn;

    free(w);
    if (c->state == STATUS_CLOSING)
        return;
    if (rc < 0) {
        log_warn("status conn=%08x peer=%s write error: %s", c->id, c->peer, uv_strerror(rc));
        status_conn_close(c, "write error");
        return;
    }
    status_set_state(c, STATUS_READING);
    c->last_active = uv_now(c->st->loop);
    status_process(c);
}

/* status_send - one reply line; the connection is WORKING and becomes WRITING. */
static void status_send(struct status_conn *c, json_t *reply)
{
    char *text = json_dumps(reply, JSON_COMPACT | JSON_ENSURE_ASCII);
    size_t n = text != NULL ? strlen(text) : 0;
    struct status_wreq *w;
    uv_buf_t b;
    int rc;

    if (text == NULL) {
        text = xstrdup("{\"ok\":false,\"error\":\"internal\",\"message\":\"cannot encode\"}");
        n = strlen(text);
    }
    w = xmalloc(sizeof(*w) + n + 1);
    memcpy(w->buf, text, n);
    w->buf[n] = '\n';
    w->len = n + 1;
    w->conn = c;
    free(text);
    status_set_state(c, STATUS_WRITING);
    b = uv_buf_init(w->buf, (unsigned)w->len);
    if ((rc = uv_write(&w->req, &c->h.stream, &b, 1, status_write_cb)) < 0) {
        free(w);
        log_warn("status conn=%08x write error: %s", c->id, uv_strerror(rc));
        status_conn_close(c, "write error");
    }
}

/* status_op_done - the answer to a request (reply is taken); frees the op. */
void status_op_done(struct status_op *op, json_t *reply)
{
    struct status_conn *c = op->conn;

    if (json_object_get(reply, "ok") == NULL)
        json_object_set_new(reply, "ok", json_true());
    if (op->req.has_id)
        json_object_set_new(reply, "id", json_integer(op->req.id));
    if (c->state == STATUS_WORKING)
        status_send(c, reply);
    json_decref(reply);
    json_decref(op->acc);
    free(op->items);
    cfg_unref(op->cfg);
    free(op);
    status_conn_unref(c);
}

/* status_op_error - {"ok": false, "error": code, "message": ...}; frees the op. */
void status_op_error(struct status_op *op, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    op->st->stats.errors++;
    status_op_done(op, json_pack("{s:b, s:s, s:s}", "ok", 0, "error", code, "message", msg));
}

/* ---- roles ------------------------------------------------------------------------ */

/* status_token_equal - constant time in the length of the secret. */
static bool status_token_equal(const char *secret, const char *given)
{
    size_t ls = strlen(secret), lg = strlen(given), i;
    unsigned char diff = (unsigned char)(ls != lg);

    for (i = 0; i < ls; i++)
        diff |= (unsigned char)(secret[i] ^ (i < lg ? given[i] : 0));
    return diff == 0;
}

/* status_role - the caller's role for this request; -1 for a token that matches none. */
static int status_role(const struct status_op *op, enum jsonreq_role peer_role)
{
    const struct pd_config *cfg = op->cfg;

    if (!op->req.has_token)
        return (int)peer_role;
    if (cfg->status_token != NULL && status_token_equal(cfg->status_token, op->req.token))
        return JSONREQ_ROLE_ADMIN;
    if (cfg->status_read_token != NULL &&
        status_token_equal(cfg->status_read_token, op->req.token))
        return peer_role > JSONREQ_ROLE_READ ? (int)peer_role : JSONREQ_ROLE_READ;
    return -1;
}

/* status_in_groups - whether gid is among the peer's supplementary groups. */
static bool status_in_groups(int fd, unsigned gid)
{
    gid_t small[64], *g = small;
    socklen_t len = sizeof(small);
    bool found = false;
    size_t i;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) != 0) {
        if (errno != ERANGE || len > STATUS_GROUPS_MAX * sizeof(gid_t))
            return false;
        g = xmalloc(len);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) != 0)
            len = 0;
    }
    for (i = 0; i < len / sizeof(gid_t) && !found; i++)
        found = g[i] == (gid_t)gid;
    if (g != small)
        free(g);
    return found;
}

/* status_peer_cred - a unix peer's identity and role from the kernel. */
static void status_peer_cred(struct status_conn *c)
{
    struct ucred uc;
    socklen_t len = sizeof(uc);
    uv_os_fd_t fd;

    c->peer_role = JSONREQ_ROLE_NONE;
    snprintf(c->peer, sizeof(c->peer), "unix");
    if (uv_fileno(&c->h.handle, &fd) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0)
        return;
    snprintf(c->peer, sizeof(c->peer), "uid=%u,pid=%d", (unsigned)uc.uid, (int)uc.pid);
    c->peer_role = JSONREQ_ROLE_READ;
    if (uc.uid == 0 || uc.uid == geteuid() ||
        (c->st->have_admin_gid &&
         (uc.gid == (gid_t)c->st->admin_gid || status_in_groups(fd, c->st->admin_gid))))
        c->peer_role = JSONREQ_ROLE_ADMIN;
}

static void status_peer_inet(struct status_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[64] = "?";

    c->peer_role = JSONREQ_ROLE_NONE;
    snprintf(c->peer, sizeof(c->peer), "tcp");
    if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "%s:%d", ip,
                 ntohs(((struct sockaddr_in *)&ss)->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "[%s]:%d", ip,
                 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    }
}

/* ---- requests --------------------------------------------------------------------- */

/* status_authorise - false (and the op answered) when the caller may not do this. */
static bool status_authorise(struct status_op *op)
{
    enum jsonreq_role need = jsonreq_role_needed(&op->req);
    int role = status_role(op, op->conn->peer_role);

    if (role >= (int)need) {
        op->role = (enum jsonreq_role)role;
        return true;
    }
    op->st->stats.denied++;
    log_warn("status: denied: cmd=%s peer=%s role=%s%s", jsonreq_cmd_name(op->req.cmd),
             op->peer, role < 0 ? "none" : jsonreq_role_name((enum jsonreq_role)role),
             role < 0 ? " (wrong token)" : "");
    if (role < 0)
        status_op_error(op, "denied", "the token is not valid");
    else
        status_op_error(op, "denied", "%s needs the %s role; this caller has the %s role%s",
                        jsonreq_cmd_name(op->req.cmd), jsonreq_role_name(need),
                        jsonreq_role_name((enum jsonreq_role)role),
                        role == JSONREQ_ROLE_NONE ? " (TCP callers need a token)" : "");
    return false;
}

/* status_op_new - a request begins: the connection works until the op answers. */
static struct status_op *status_op_new(struct status_conn *c)
{
    struct status *st = c->st;
    struct status_op *op = xcalloc(1, sizeof(*op));
    uv_timeval64_t tv;

    status_set_state(c, STATUS_WORKING);
    c->nrequests++;
    c->refs++;
    st->stats.requests++;
    op->st = st;
    op->conn = c;
    op->cfg = cfg_ref(st->srv->cfg);
    uv_gettimeofday(&tv);
    op->now = tv.tv_sec;
    snprintf(op->peer, sizeof(op->peer), "%s", c->peer);
    return op;
}

/* status_request - one complete line: parse, authorise, run. The op answers it. */
static void status_request(struct status_conn *c, const char *line, size_t len)
{
    struct status_op *op = status_op_new(c);
    char err[256];
    int rc;

    if ((rc = jsonreq_parse(line, len, &op->req, err, sizeof(err))) < 0) {
        log_warn("status conn=%08x peer=%s bad request: %s", c->id, c->peer, err);
        status_op_error(op, jsonreq_strerror(rc), "%s", err);
        return;
    }
    c->st->stats.by_cmd[op->req.cmd]++;
    sanitize_log(op->by_log, sizeof(op->by_log), op->req.oper, strlen(op->req.oper));
    if (status_authorise(op))
        statuscmd_run(op);
}

/* status_too_long - the end of an overlong line has been found: answer it. */
static void status_too_long(struct status_conn *c)
{
    log_warn("status conn=%08x peer=%s request longer than %d bytes", c->id, c->peer,
             JSONREQ_MAX_LINE);
    status_op_error(status_op_new(c), jsonreq_strerror(JSONREQ_ERR_TOO_LONG),
                    "request longer than %d bytes", JSONREQ_MAX_LINE);
}

static void status_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void status_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

/*
 * status_process - handle what is buffered while the connection is reading: complete
 * lines become requests, an overlong line is skipped to its newline. Reading runs only
 * in READING; it is stopped around each batch, so a request never races a read.
 */
static void status_process(struct status_conn *c)
{
    char *nl;
    size_t used;

    while (c->state == STATUS_READING && c->len > 0) {
        if ((nl = memchr(c->buf, '\n', c->len)) == NULL) {
            if (c->len == STATUS_BUF) {
                c->discarding = true; /* no newline within the longest line we take */
                c->len = 0;
            }
            break;
        }
        used = (size_t)(nl - c->buf) + 1;
        if (c->discarding) {
            c->discarding = false;
            status_too_long(c);
        } else {
            status_request(c, c->buf, used - 1);
        }
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        c->line_started = uv_now(c->st->loop);
    }
    if (c->state != STATUS_READING)
        return;
    if (c->st->stopping)
        status_conn_close(c, "shutting down");
    else
        uv_read_start(&c->h.stream, status_alloc_cb, status_read_cb);
}

static void status_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct status_conn *c = h->data;

    (void)suggested;
    if (c->buf == NULL)
        c->buf = xmalloc(STATUS_BUF);
    *b = uv_buf_init(c->buf + c->len, (unsigned)(STATUS_BUF - c->len));
}

static void status_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct status_conn *c = s->data;

    (void)b;
    if (n == 0)
        return;
    if (n < 0) {
        if (n != UV_EOF)
            log_warn("status conn=%08x peer=%s read error: %s", c->id, c->peer,
                     uv_strerror((int)n));
        status_conn_close(c, "peer closed");
        return;
    }
    c->last_active = uv_now(c->st->loop);
    if (c->len == 0)
        c->line_started = c->last_active;
    c->len += (size_t)n;
    uv_read_stop(&c->h.stream);
    status_process(c);
}

/* ---- accept ------------------------------------------------------------------------ */

/* status_accept - take one connection; over the cap it is closed at once. */
static void status_accept(struct status_listener *l)
{
    struct status *st = l->st;
    struct status_conn *c = xcalloc(1, sizeof(*c));
    bool is_unix = l->unix_path != NULL;
    int rc;

    c->st = st;
    c->refs = 1;
    c->id = ++st->next_id;
    c->state = STATUS_READING;
    rc = is_unix ? uv_pipe_init(st->loop, &c->h.pipe, 0) : uv_tcp_init(st->loop, &c->h.tcp);
    if (rc < 0) {
        free(c);
        log_warn("status: %s: %s", l->spec, uv_strerror(rc));
        return;
    }
    c->h.handle.data = c;
    c->next = st->conns;
    if (st->conns != NULL)
        st->conns->prev = c;
    st->conns = c;
    st->nconns++;
    if ((rc = uv_accept(&l->h.stream, &c->h.stream)) < 0) {
        log_warn("status: accept on %s: %s", l->spec, uv_strerror(rc));
        status_conn_close(c, "accept failed");
        return;
    }
    if (is_unix)
        status_peer_cred(c);
    else
        status_peer_inet(c);
    if (st->nconns > STATUS_MAX_CONNS || st->stopping) {
        st->stats.conns_refused++;
        if (!st->at_cap)
            log_warn("status: %d connections: refusing more", STATUS_MAX_CONNS);
        st->at_cap = true;
        status_conn_close(c, "too many connections");
        return;
    }
    if (st->at_cap)
        log_info("status: below %d connections again", STATUS_MAX_CONNS);
    st->at_cap = false;
    st->stats.conns_accepted++;
    c->last_active = uv_now(st->loop);
    log_debug("status conn=%08x peer=%s role=%s connected", c->id, c->peer,
              jsonreq_role_name(c->peer_role));
    uv_read_start(&c->h.stream, status_alloc_cb, status_read_cb);
}

static void status_on_connection(uv_stream_t *s, int rc)
{
    struct status_listener *l = s->data;

    if (rc < 0) {
        log_warn("status: listener %s: %s", l->spec, uv_strerror(rc));
        return;
    }
    status_accept(l);
}

/* ---- listeners --------------------------------------------------------------------- */

/* status_mkdir - the socket's directory, when it is missing (only the last level). */
static int status_mkdir(const char *path)
{
    char dir[STATUS_PATH_MAX];
    const char *slash = strrchr(path, '/');
    struct stat sb;

    if (slash == NULL || slash == path || (size_t)(slash - path) >= sizeof(dir))
        return 0;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    if (stat(dir, &sb) == 0 || errno != ENOENT)
        return 0;
    return mkdir(dir, 0755) == 0 ? 0 : -errno;
}

/* status_chown - a unix socket to run_user and status_socket_group, when root. */
static int status_chown(const struct pd_config *cfg, const char *path, char *err, size_t errlen)
{
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    struct passwd *pw;
    struct group *gr;

    if (geteuid() != 0)
        return 0;
    if (cfg->run_user[0] != '\0' && (pw = getpwnam(cfg->run_user)) != NULL) {
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    }
    if (cfg->status_socket_group[0] != '\0') {
        if ((gr = getgrnam(cfg->status_socket_group)) == NULL) {
            snprintf(err, errlen, "status_socket_group %s: no such group",
                     cfg->status_socket_group);
            return UV_EINVAL;
        }
        gid = gr->gr_gid;
    }
    if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) != 0) {
        snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
        return -errno;
    }
    return 0;
}

static int status_bind_unix(struct status *st, struct status_listener *l, char *err,
                            size_t errlen)
{
    const struct pd_config *cfg = st->srv->cfg;
    struct stat sb;
    int rc;

    if (lstat(l->unix_path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode)) {
            snprintf(err, errlen, "cannot listen on %s: exists and is not a socket", l->spec);
            return UV_EEXIST;
        }
        unlink(l->unix_path);
    }
    if ((rc = status_mkdir(l->unix_path)) < 0) {
        snprintf(err, errlen, "cannot create the directory of %s: %s", l->spec, strerror(-rc));
        return rc;
    }
    if ((rc = uv_pipe_init(st->loop, &l->h.pipe, 0)) == 0) {
        l->open = true;
        rc = uv_pipe_bind(&l->h.pipe, l->unix_path);
    }
    if (rc == 0 && chmod(l->unix_path, cfg->status_socket_mode) != 0)
        rc = -errno;
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", l->spec, uv_strerror(rc));
        return rc;
    }
    if ((rc = status_chown(cfg, l->unix_path, err, errlen)) < 0)
        return rc;
    if ((rc = uv_listen(&l->h.stream, STATUS_BACKLOG, status_on_connection)) < 0)
        snprintf(err, errlen, "cannot listen on %s: %s", l->spec, uv_strerror(rc));
    return rc;
}

/* status_bind_inet - "inet:HOST:PORT", numeric loopback (config checked it). */
static int status_bind_inet(struct status *st, struct status_listener *l, char *err,
                            size_t errlen)
{
    struct sockaddr_storage ss;
    const char *hp = l->spec + 5, *colon = strrchr(hp, ':');
    char host[64];
    size_t hl = colon != NULL ? (size_t)(colon - hp) : 0;
    int rc = UV_EINVAL;

    if (hl > 0 && hl < sizeof(host)) {
        memcpy(host, hp, hl);
        host[hl] = '\0';
        if (host[0] == '[' && host[hl - 1] == ']') {
            host[hl - 1] = '\0';
            rc = uv_ip6_addr(host + 1, atoi(colon + 1), (struct sockaddr_in6 *)&ss);
        } else {
            rc = uv_ip4_addr(host, atoi(colon + 1), (struct sockaddr_in *)&ss);
        }
    }
    if (rc == 0 && (rc = uv_tcp_init(st->loop, &l->h.tcp)) == 0) {
        l->open = true;
        rc = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss, 0);
    }
    if (rc == 0)
        rc = uv_listen(&l->h.stream, STATUS_BACKLOG, status_on_connection);
    if (rc < 0)
        snprintf(err, errlen, "cannot listen on %s: %s", l->spec, uv_strerror(rc));
    return rc;
}

struct status *status_new(struct pd_server *srv)
{
    struct status *st = xcalloc(1, sizeof(*st));
    uv_timeval64_t tv;

    st->srv = srv;
    st->loop = srv->loop;
    uv_gettimeofday(&tv);
    st->started_at = tv.tv_sec;
    if (getrandom(&st->ref_state, sizeof(st->ref_state), GRND_NONBLOCK) !=
            (ssize_t)sizeof(st->ref_state) ||
        st->ref_state == 0)
        st->ref_state = 0x9E3779B97F4A7C15ULL ^ uv_hrtime();
    return st;
}

/* status_listen - bind every status listener, before privileges are dropped. */
int status_listen(struct status *st, char *err, size_t errlen)
{
    const struct pd_config *cfg = st->srv->cfg;
    const struct cfg_list *ls = &cfg->status_listen;
    struct group *gr;
    size_t i;
    int rc = 0;

    if (cfg->status_admin_group[0] != '\0') {
        if ((gr = getgrnam(cfg->status_admin_group)) == NULL) {
            snprintf(err, errlen, "status_admin_group %s: no such group",
                     cfg->status_admin_group);
            return UV_EINVAL;
        }
        st->have_admin_gid = true;
        st->admin_gid = (unsigned)gr->gr_gid;
    }
    st->ls = xcalloc(ls->n > 0 ? ls->n : 1, sizeof(*st->ls));
    st->nls = ls->n;
    for (i = 0; i < ls->n && rc == 0; i++) {
        struct status_listener *l = &st->ls[i];

        l->st = st;
        l->spec = xstrdup(ls->v[i]);
        l->h.handle.data = l;
        if (strncmp(l->spec, "unix:", 5) == 0) {
            l->unix_path = xstrdup(l->spec + 5);
            rc = status_bind_unix(st, l, err, errlen);
        } else {
            rc = status_bind_inet(st, l, err, errlen);
        }
        l->h.handle.data = l;
    }
    return rc;
}

/* status_sweep_cb - idle connections and lines that never end. */
static void status_sweep_cb(uv_timer_t *t)
{
    struct status *st = t->data;
    uint64_t now = uv_now(st->loop);
    struct status_conn *c, *next;

    for (c = st->conns; c != NULL; c = next) {
        next = c->next;
        if (c->state != STATUS_READING)
            continue;
        if (c->len > 0 && now - c->line_started > STATUS_LINE_MS) {
            log_warn("status conn=%08x peer=%s request not complete after %d s; closing",
                     c->id, c->peer, STATUS_LINE_MS / 1000);
            status_conn_close(c, "request timeout");
        } else if (now - c->last_active > STATUS_IDLE_MS) {
            status_conn_close(c, "idle timeout");
        }
    }
}

/* status_start - the Redis client exists now: scripts, events, the sweep. */
void status_start(struct status *st)
{
    struct track *t = status_track(st);
    size_t i;

    st->s_block = track_script_index(t, "block");
    st->s_unblock = track_script_index(t, "unblock");
    st->s_track = track_script_index(t, "track");
    st->s_show = track_script_index(t, "status_show");
    st->s_index_remove = track_script_index(t, "index_remove");
    st->s_override_set = track_script_index(t, "override_set");
    st->s_hash_cas = track_script_index(t, "hash_cas");
    st->s_audit_add = track_script_index(t, "audit_add");
    st->s_audit_read = track_script_index(t, "audit_read");
    if (st->s_track < 0 || st->s_block < 0 || st->s_unblock < 0 || st->s_show < 0 || st->s_index_remove < 0 ||
        st->s_override_set < 0 || st->s_hash_cas < 0 || st->s_audit_add < 0 ||
        st->s_audit_read < 0)
        log_panic("embedded Lua scripts of the status socket missing");
    uv_timer_init(st->loop, &st->sweep);
    st->sweep.data = st;
    st->sweep_open = true;
    uv_timer_start(&st->sweep, status_sweep_cb, STATUS_SWEEP_MS, STATUS_SWEEP_MS);
    statuswrite_subscribe(st);
    for (i = 0; i < st->nls; i++)
        log_info("status: listening on %s", st->ls[i].spec);
}

/* status_stop - close the listeners and every connection not busy with a request; busy
 * ones close after their reply. */
void status_stop(struct status *st)
{
    struct status_conn *c, *next;
    size_t i;

    if (st == NULL || st->stopping)
        return;
    st->stopping = true;
    for (i = 0; i < st->nls; i++) {
        struct status_listener *l = &st->ls[i];

        if (l->open && !uv_is_closing(&l->h.handle))
            uv_close(&l->h.handle, NULL);
        if (l->unix_path != NULL)
            unlink(l->unix_path);
    }
    if (st->sweep_open && !uv_is_closing((uv_handle_t *)&st->sweep))
        uv_close((uv_handle_t *)&st->sweep, NULL);
    for (c = st->conns; c != NULL; c = next) {
        next = c->next;
        if (c->state == STATUS_READING)
            status_conn_close(c, "shutting down");
    }
}

/* status_free - after the loop has drained (every handle closed, every op answered). */
struct status *status_free(struct status *st)
{
    size_t i;

    if (st == NULL)
        return NULL;
    statuswrite_unsubscribe(st);
    for (i = 0; i < st->nls; i++) {
        free(st->ls[i].spec);
        free(st->ls[i].unix_path);
    }
    free(st->ls);
    free(st);
    return NULL;
}

void status_attach(struct status *st, struct poller *poller, struct alert *alert)
{
    st->poller = poller;
    st->alert = alert;
}

struct track *status_track(const struct status *st)
{
    return decide_track(st->srv->decide);
}
