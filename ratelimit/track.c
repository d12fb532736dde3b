/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      track - the Redis client of policyd
 * SYNOPSIS
 *      track_new(loop, cfg); track_reconfigure(t, cfg); track_shutdown(t); track_free(t)
 *      track_script_index(t, name)
 *      track_eval(t, script, argc, argv, lens, cb, arg)
 * DESCRIPTION
 *      One asynchronous hiredis connection attached to the libuv loop, to redis_server
 *      ("HOST:PORT", "[IPv6]:PORT" or "unix:PATH"). On every (re)connect it sends AUTH
 *      (when a password is configured) and SCRIPT LOAD for every embedded script,
 *      pipelined: commands queue behind them, so a call can go out at once. Scripts are
 *      called with EVALSHA under their SHA-1, computed here; a NOSCRIPT answer (SCRIPT
 *      FLUSH, a failover) reloads the script and retries the call once.
 *
 *      The script "track" has a native twin: the PD.TRACK command of the pdtrack Redis
 *      module (ratelimit/module/pdtrack.c), same arguments, same reply, same keys, some
 *      a fifth of the script's instructions in Redis. With redis_use_module (the default), every
 *      connection asks PD.API after the SCRIPT LOADs; when Redis answers this policyd's
 *      argv layout (TRACKARGS_API), "track" calls go out as PD.TRACK, else as EVALSHA.
 *      An "unknown command" answer (the module unloaded) resends the call as EVALSHA,
 *      once, and the connection stays with the script.
 *
 *      Every call is answered exactly once, within redis_timeout: requests wait in a FIFO
 *      (Redis answers in order, and they share one timeout, so the head has the earliest
 *      deadline) watched by a single timer. A request whose time is up is answered
 *      TRACK_ERR_TIMEOUT and abandoned; its late reply is dropped. When nothing has come
 *      back for TRACK_STALL_MS while requests wait, the connection is dropped and
 *      re-established with backoff (100 ms doubling to 5 s, back to 100 ms at the first
 *      reply); so is a connection attempt that has not completed after TRACK_CONNECT_MS.
 *      While disconnected, calls are answered TRACK_ERR_DOWN at once.
 *
 *      hiredis is attached to the loop by track_ev_attach, not hiredis' own libuv adapter,
 *      which restarts its uv_poll (an epoll_ctl DEL and ADD) for every command queued and
 *      every write: here the poll watches readability for the life of the connection, and
 *      the commands queued during one loop iteration go out in one write(2) at the start of
 *      the next (an idle handle, which also keeps the loop from blocking meanwhile); only a
 *      connect in progress or a full socket buffer waits for writability. Replies are read
 *      into one allocation each (track_rb_*), not hiredis' one or two per element, and
 *      commands are formatted by track_format. This glue to hiredis takes the file past the
 *      800 lines of the style guide: it stays here so that hiredis stays in one file.
 *
 *      Ownership: track owns the hiredis context, the timers, and each request until both
 *      its answer and hiredis' callback have happened. Replies are handed to callers as
 *      borrowed views (struct track_reply) valid during the callback only.
 * DIAGNOSTICS
 *      "redis unavailable: ..." once when it goes away, "redis available again after N
 *      ms (M requests answered with redis_fail_action)" once when it comes back, which is
 *      when Redis first replies (not when TCP connects: a stopped server still accepts).
 *      "script NAME missing (NOSCRIPT)" once per reload, however many calls it serves.
 * SEE ALSO
 *      hiredis async.h and adapters/libuv.h, ratelimit/lua/, decide(3).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "policyd/config.h"
#include "policyd/log.h"
#include "policyd/util.h"
#include "ratelimit/scripts.h"
#include "ratelimit/sha1.h"
#include "ratelimit/signals.h"
#include "ratelimit/track.h"
#include "ratelimit/trackargs.h"

#define TRACK_STALL_MS 1000
#define TRACK_CONNECT_MS 1000 /* a connect that has not completed by then is given up */
#define TRACK_BACKOFF_MIN_MS 100
#define TRACK_BACKOFF_MAX_MS 5000
#define TRACK_MAX_ARGS 64
#define TRACK_NATIVE "PD.TRACK"

struct track_req {
    struct track *t;
    struct track_req *next; /* FIFO of requests not yet answered */
    track_cb cb;
    void *arg;
    uint64_t deadline;
    int script;
    bool answered;
    bool retried;
    bool native; /* sent as PD.TRACK */
    char *cmd; /* the formatted EVALSHA or PD.TRACK, kept for one retry */
    size_t cmd_len;
};

struct track_script {
    const char *name;
    const char *src;
    char sha[41];
    bool reloading; /* a SCRIPT LOAD after NOSCRIPT is on its way */
};

struct track {
    uv_loop_t *loop;
    redisAsyncContext *ac;
    bool connected;
    bool up;              /* last state logged; up again only once Redis replies */
    bool stopping;
    uint64_t down_since;
    uint64_t failed_while_down;
    uint64_t last_reply;  /* loop time of the last reply */
    uint64_t connect_started;
    unsigned inflight;    /* sent and not called back by hiredis, abandoned ones included */
    unsigned backoff_ms;
    uv_timer_t timeout_timer;
    uv_timer_t reconnect_timer;
    struct track_req *head, *tail;
    struct track_script *scripts;
    int nscripts;
    char *server;
    char *password;
    int64_t timeout_ms;
    uint64_t calls, timeouts, errors;
    bool use_module;      /* redis_use_module */
    bool native;          /* this connection's Redis has PD.TRACK of our argv layout */
    bool announce;        /* say so at the next PD.TRACK */
    int native_script;    /* the script PD.TRACK replaces ("track"), or -1 */
    void (*on_up)(void *arg); /* track_on_up */
    void *on_up_arg;
};

static void track_connect(struct track *t);
static void track_on_reconnect(uv_timer_t *h);

/*
 * Reply objects. hiredis' own make one or two allocations per element: for track.lua's
 * answer of 90 elements, 137 malloc(3) and as many free(3) per request. A reply is only
 * ever freed whole (hiredis frees the root, after the callback), so here its parts are
 * carved from one block sized when the root arrives; what does not fit is allocated
 * apart (spill) and freed with it. Roots and arrays are track_rnode: they know their
 * block, which children and freeObject find from them.
 */
#define TRACK_RB_STR_EST 32 /* bytes reserved per array element for its string */

struct track_spill {
    struct track_spill *next;
    max_align_t data[];
};

struct track_rbuf {
    struct track_spill *spill;
    size_t size, used;
    max_align_t data[];
};

struct track_rnode {
    struct track_rbuf *buf;
    redisReply r;
};

static void *track_rb_alloc(struct track_rbuf *b, size_t n)
{
    struct track_spill *s;
    void *p;

    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (b->size - b->used >= n) {
        p = (char *)b->data + b->used;
        b->used += n;
        return p;
    }
    s = xmalloc(sizeof(*s) + n);
    s->next = b->spill;
    b->spill = s;
    return s->data;
}

static struct track_rnode *track_rb_of(void *reply)
{
    return (struct track_rnode *)((char *)reply - offsetof(struct track_rnode, r));
}

/* track_rb_node - a new reply of 'type': a root starts a block big enough for 'bytes' of
 * its own and 'elements' children; anything else joins its parent's block. */
static redisReply *track_rb_node(const redisReadTask *task, int type, size_t bytes,
                                 size_t elements, struct track_rbuf **bp)
{
    struct track_rbuf *b;
    struct track_rnode *n;
    redisReply *r;

    if (task->parent == NULL) {
        size_t size = 2 * sizeof(struct track_rnode) + bytes +
                      elements * (2 * sizeof(redisReply) + sizeof(redisReply *) + TRACK_RB_STR_EST);

        b = xmalloc(sizeof(*b) + size);
        b->spill = NULL;
        b->size = size;
        b->used = 0;
        n = track_rb_alloc(b, sizeof(*n));
        n->buf = b;
        r = &n->r;
    } else {
        struct track_rnode *parent = track_rb_of(task->parent->obj);

        b = parent->buf;
        if (type == REDIS_REPLY_ARRAY) {
            n = track_rb_alloc(b, sizeof(*n));
            n->buf = b;
            r = &n->r;
        } else {
            r = track_rb_alloc(b, sizeof(*r));
        }
        parent->r.element[task->idx] = r;
    }
    memset(r, 0, sizeof(*r));
    r->type = type;
    *bp = b;
    return r;
}

static void *track_rb_string(const redisReadTask *task, char *str, size_t len)
{
    struct track_rbuf *b;
    redisReply *r = track_rb_node(task, task->type, len + 1, 0, &b);

    r->str = track_rb_alloc(b, len + 1);
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static void *track_rb_array(const redisReadTask *task, int elements)
{
    struct track_rbuf *b;
    size_t n = elements > 0 ? (size_t)elements : 0;
    redisReply *r = track_rb_node(task, REDIS_REPLY_ARRAY, 0, n, &b);

    r->elements = n;
    if (n > 0) {
        r->element = track_rb_alloc(b, n * sizeof(*r->element));
        memset(r->element, 0, n * sizeof(*r->element));
    }
    return r;
}

static void *track_rb_integer(const redisReadTask *task, long long value)
{
    struct track_rbuf *b;
    redisReply *r = track_rb_node(task, REDIS_REPLY_INTEGER, 0, 0, &b);

    r->integer = value;
    return r;
}

static void *track_rb_nil(const redisReadTask *task)
{
    struct track_rbuf *b;

    return track_rb_node(task, REDIS_REPLY_NIL, 0, 0, &b);
}

/* track_rb_free - hiredis frees roots only: the block, with what spilled out of it. */
static void track_rb_free(void *reply)
{
    struct track_rbuf *b = track_rb_of(reply)->buf;

    while (b->spill != NULL) {
        struct track_spill *s = b->spill;

        b->spill = s->next;
        free(s);
    }
    free(b);
}

static redisReplyObjectFunctions track_rb_fns = {
    track_rb_string, track_rb_array, track_rb_integer, track_rb_nil, track_rb_free,
};

/*
 * The event hooks of one hiredis context (ac->ev). Freed when both handles have closed,
 * after hiredis' cleanup call; ac is NULL from that call on.
 */
struct track_ev {
    redisAsyncContext *ac;
    uv_poll_t poll;
    uv_idle_t flush; /* active while commands wait to be written */
    bool read;       /* hiredis wants readability (always, once connected) */
    bool poll_write; /* waiting for writability: connecting, or the socket buffer was full */
    bool writing;    /* inside redisAsyncHandleWrite from track_ev_flush */
    int events;      /* what the poll was last started with */
    int open;        /* handles not closed yet */
};

static void track_ev_poll_cb(uv_poll_t *h, int status, int events)
{
    struct track_ev *e = h->data;

    if (status < 0) /* as hiredis' adapter: the stall and connect timers deal with it */
        return;
    if (e->ac != NULL && (events & UV_READABLE))
        redisAsyncHandleRead(e->ac);
    if (e->ac != NULL && (events & UV_WRITABLE))
        redisAsyncHandleWrite(e->ac);
}

/* track_ev_update - make the poll watch what is wanted; no system call when it already does. */
static void track_ev_update(struct track_ev *e)
{
    int want = (e->read ? UV_READABLE : 0) | (e->poll_write ? UV_WRITABLE : 0);

    if (want == 0) {
        uv_poll_stop(&e->poll);
    } else if (want != e->events || !uv_is_active((uv_handle_t *)&e->poll)) {
        uv_poll_start(&e->poll, want, track_ev_poll_cb); /* libuv stops a poll on error */
    }
    e->events = want;
}

static void track_ev_add_read(void *arg)
{
    struct track_ev *e = arg;

    e->read = true;
    track_ev_update(e);
}

static void track_ev_del_read(void *arg)
{
    struct track_ev *e = arg;

    e->read = false;
    track_ev_update(e);
}

static void track_ev_flush(uv_idle_t *h)
{
    struct track_ev *e = h->data;

    uv_idle_stop(&e->flush);
    if (e->ac == NULL)
        return;
    e->writing = true;
    redisAsyncHandleWrite(e->ac); /* may free the context: then e->ac is NULL */
    e->writing = false;
}

/* track_ev_add_write - output is buffered: write it at the next loop iteration, or, while
 * connecting or when a write did not take everything, when the socket is writable. */
static void track_ev_add_write(void *arg)
{
    struct track_ev *e = arg;

    if (e->writing || !(e->ac->c.flags & REDIS_CONNECTED)) {
        e->poll_write = true;
        track_ev_update(e);
    } else if (!e->poll_write) {
        uv_idle_start(&e->flush, track_ev_flush);
    }
}

static void track_ev_del_write(void *arg)
{
    struct track_ev *e = arg;

    uv_idle_stop(&e->flush);
    if (e->poll_write) {
        e->poll_write = false;
        track_ev_update(e);
    }
}

static void track_ev_closed(uv_handle_t *h)
{
    struct track_ev *e = h->data;

    if (--e->open == 0)
        free(e);
}

static void track_ev_cleanup(void *arg)
{
    struct track_ev *e = arg;

    e->ac = NULL;
    uv_close((uv_handle_t *)&e->poll, track_ev_closed);
    uv_close((uv_handle_t *)&e->flush, track_ev_closed);
}

/* track_ev_attach - hook a new context into the loop; false when its socket cannot be
 * polled (the context is then the caller's to free). */
static bool track_ev_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    struct track_ev *e = xcalloc(1, sizeof(*e));

    if (uv_poll_init(loop, &e->poll, ac->c.fd) != 0) {
        free(e);
        return false;
    }
    uv_idle_init(loop, &e->flush);
    e->ac = ac;
    e->open = 2;
    e->poll.data = e;
    e->flush.data = e;
    ac->ev.data = e;
    ac->ev.addRead = track_ev_add_read;
    ac->ev.delRead = track_ev_del_read;
    ac->ev.addWrite = track_ev_add_write;
    ac->ev.delWrite = track_ev_del_write;
    ac->ev.cleanup = track_ev_cleanup;
    ac->c.reader->fn = &track_rb_fns; /* no reply has been read yet */
    return true;
}

const char *track_strerror(int status)
{
    switch (status) {
    case TRACK_OK:
        return "ok";
    case TRACK_ERR_TIMEOUT:
        return "timeout";
    case TRACK_ERR_DOWN:
        return "not connected";
    case TRACK_ERR_REPLY:
        return "error reply";
    case TRACK_ERR_SHUTDOWN:
        return "shutting down";
    case TRACK_ERR_SCRIPT:
        return "no such script";
    }
    return "unknown error";
}

/* track_set_up - log the change of availability once, not per request. */
static void track_set_up(struct track *t, bool up, const char *why)
{
    uint64_t now = uv_now(t->loop);

    if (up == t->up)
        return;
    t->up = up;
    if (!up) {
        t->down_since = now;
        t->failed_while_down = 0;
        log_warn("redis unavailable: %s: %s; answering with redis_fail_action", t->server, why);
    } else {
        log_info("redis available again at %s after %llu ms (%llu requests answered with "
                 "redis_fail_action)",
                 t->server, (unsigned long long)(now - t->down_since),
                 (unsigned long long)t->failed_while_down);
        if (t->on_up != NULL)
            t->on_up(t->on_up_arg);
    }
}

/*
 * track_alive - a reply came back. Only this makes Redis available again: a TCP connect
 * alone succeeds against a stopped (SIGSTOP) or wedged server, whose kernel still accepts,
 * and would log a recovery that is not one.
 */
static bool track_loading(const redisReply *rr)
{
    return rr != NULL && rr->type == REDIS_REPLY_ERROR && strncmp(rr->str, "LOADING", 7) == 0;
}

static void track_alive(struct track *t, const redisReply *rr)
{
    /* a Redis still loading its data set answers every command with -LOADING: it is
     * reachable, not available */
    if (track_loading(rr))
        return;
    t->last_reply = uv_now(t->loop);
    t->backoff_ms = TRACK_BACKOFF_MIN_MS;
    track_set_up(t, true, NULL);
}

/* track_schedule - reconnect after the current backoff, which doubles up to its cap until
 * a reply resets it. */
static void track_schedule(struct track *t)
{
    if (t->stopping || uv_is_active((uv_handle_t *)&t->reconnect_timer))
        return;
    uv_timer_start(&t->reconnect_timer, track_on_reconnect, t->backoff_ms, 0);
    t->backoff_ms = t->backoff_ms * 2 > TRACK_BACKOFF_MAX_MS ? TRACK_BACKOFF_MAX_MS
                                                             : t->backoff_ms * 2;
}

/* track_answer - the one place a caller's callback runs. */
static void track_answer(struct track_req *r, int status, const struct track_reply *rep)
{
    struct track *t = r->t;

    r->answered = true;
    if (status == TRACK_ERR_TIMEOUT)
        t->timeouts++;
    else if (status != TRACK_OK)
        t->errors++;
    /* script calls only: the background's plain commands (key checks, the domain
     * overrides poll) are not requests answered with redis_fail_action */
    if (status != TRACK_OK && !t->up && r->script >= 0)
        t->failed_while_down++;
    r->cb(r->arg, status, rep);
}

/* track_unlink - take a request out of the FIFO (usually the head). */
static void track_unlink(struct track *t, struct track_req *r)
{
    struct track_req **pp, *prev = NULL;

    for (pp = &t->head; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            if (t->tail == r)
                t->tail = prev;
            r->next = NULL;
            return;
        }
    }
}

static void track_req_free(struct track_req *r)
{
    free(r->cmd);
    free(r);
}

/* track_value - one reply element as the value of a pair. */
static void track_value(const redisReply *v, struct track_pair *p)
{
    p->is_int = v->type == REDIS_REPLY_INTEGER;
    p->ival = v->integer;
    p->sval = v->str != NULL ? v->str : "";
    p->sval_len = v->str != NULL ? v->len : 0;
}

/* track_pairs - flatten an array reply {name, value, ...}, a script's positional one
 * {SIGNALS_MARK, value, ...} (pair i is signal i, named after signals.h; never a plain
 * command's reply, whose first element is data) or a scalar into a view. */
static int track_pairs(const redisReply *rr, bool script, struct track_reply *out)
{
    const redisReply *first =
        rr->type == REDIS_REPLY_ARRAY && rr->elements > 0 ? rr->element[0] : NULL;
    size_t i, n;

    out->npairs = 0;
    out->positional = false;
    out->error = NULL;
    out->pairs = out->inline_pairs;
    if (rr->type == REDIS_REPLY_ERROR) {
        out->error = rr->str;
        return TRACK_ERR_REPLY;
    }
    if (rr->type != REDIS_REPLY_ARRAY) {
        struct track_pair *p = &out->pairs[out->npairs++];

        memset(p, 0, sizeof(*p));
        track_value(rr, p);
        return TRACK_OK;
    }
    out->positional = script && first != NULL && first->type == REDIS_REPLY_STRING &&
                      signals_is_mark(first->str, first->len);
    n = out->positional ? rr->elements - 1 : rr->elements / 2;
    if (n > TRACK_MAX_REPLY_PAIRS)
        n = TRACK_MAX_REPLY_PAIRS;
    if (n > TRACK_MAX_PAIRS)
        out->pairs = xcalloc(n, sizeof(*out->pairs));
    for (i = 0; i < n; i++) {
        struct track_pair *p = &out->pairs[i];

        if (out->positional) {
            p->name = signals_name(i, &p->name_len);
            track_value(rr->element[i + 1], p);
        } else {
            const redisReply *name = rr->element[2 * i];

            if (name->type != REDIS_REPLY_STRING && name->type != REDIS_REPLY_STATUS)
                return TRACK_ERR_REPLY;
            p->name = name->str;
            p->name_len = name->len;
            track_value(rr->element[2 * i + 1], p);
        }
        out->npairs++;
    }
    return TRACK_OK;
}

static void track_on_reply(redisAsyncContext *ac, void *reply, void *privdata);
static void track_on_load(redisAsyncContext *ac, void *reply, void *privdata);

/* track_unnative - PD.TRACK is gone from this Redis (MODULE UNLOAD): the connection
 * goes back to the script, and r's command becomes the same call as EVALSHA. */
static bool track_unnative(struct track *t, struct track_req *r)
{
    const char *rest, *end = r->cmd + r->cmd_len;
    char head[96], *cmd;
    long argc;
    int n;

    if (t->native)
        log_warn("redis: %s is not available any more: using script %s", TRACK_NATIVE,
                 t->scripts[r->script].name);
    t->native = false;
    /* "*N\r\n$8\r\nPD.TRACK\r\n" + the arguments; becomes "*N+1 EVALSHA sha" + them */
    argc = strtol(r->cmd + 1, NULL, 10);
    rest = memmem(r->cmd, r->cmd_len, TRACK_NATIVE "\r\n", sizeof(TRACK_NATIVE) + 1);
    if (r->cmd[0] != '*' || argc < 1 || rest == NULL)
        return false;
    rest += sizeof(TRACK_NATIVE) + 1;
    n = snprintf(head, sizeof(head), "*%ld\r\n$7\r\nEVALSHA\r\n$40\r\n%s\r\n", argc + 1,
                 t->scripts[r->script].sha);
    cmd = xmalloc((size_t)n + (size_t)(end - rest));
    memcpy(cmd, head, (size_t)n);
    memcpy(cmd + n, rest, (size_t)(end - rest));
    free(r->cmd);
    r->cmd = cmd;
    r->cmd_len = (size_t)n + (size_t)(end - rest);
    r->native = false;
    return true;
}

/* track_retry - NOSCRIPT: load the script again and resend the same call, once. The
 * requests in flight when the scripts went away (SCRIPT FLUSH, a failover) all get
 * NOSCRIPT: one SCRIPT LOAD and one warning serve them all, since each resent call
 * queues behind that SCRIPT LOAD. */
static bool track_retry(struct track *t, struct track_req *r)
{
    struct track_script *s = &t->scripts[r->script];

    if (r->retried || t->ac == NULL || !t->connected)
        return false;
    r->retried = true;
    if (r->native) {
        if (!track_unnative(t, r))
            return false;
    } else if (!s->reloading) {
        log_warn("redis: script %s missing (NOSCRIPT): loading it again", s->name);
        s->reloading = redisAsyncCommand(t->ac, track_on_load, s, "SCRIPT LOAD %s", s->src) ==
                       REDIS_OK; /* cleared by track_on_load, which hiredis always calls */
    }
    if (redisAsyncFormattedCommand(t->ac, track_on_reply, r, r->cmd, r->cmd_len) != REDIS_OK)
        return false;
    t->inflight++;
    return true;
}

/* track_on_reply - hiredis' callback; reply is NULL after a disconnect. */
static void track_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct track_req *r = privdata;
    struct track *t = r->t;
    const redisReply *rr = reply;
    struct track_reply view;
    int status;

    (void)ac;
    t->inflight--;
    if (rr != NULL)
        track_alive(t, rr);
    if (r->answered) {
        track_req_free(r);
        return;
    }
    if (rr != NULL && rr->type == REDIS_REPLY_ERROR && r->script >= 0 &&
        (r->native ? strncmp(rr->str, "ERR unknown command", 19) == 0
                   : strncmp(rr->str, "NOSCRIPT", 8) == 0) &&
        track_retry(t, r))
        return;
    track_unlink(t, r);
    if (rr == NULL) {
        track_answer(r, t->stopping ? TRACK_ERR_SHUTDOWN : TRACK_ERR_DOWN, NULL);
    } else {
        status = track_pairs(rr, r->script >= 0, &view);
        if (status == TRACK_ERR_REPLY && view.error != NULL)
            log_warn("redis: %s: %.200s", r->script >= 0 ? t->scripts[r->script].name : "command",
                     view.error);
        track_answer(r, status, &view);
        if (view.pairs != view.inline_pairs)
            free(view.pairs);
    }
    track_req_free(r);
}

static void track_on_timeout(uv_timer_t *h);

/* track_arm_timer - wake at the head's deadline, or to notice a stalled server. */
static void track_arm_timer(struct track *t)
{
    uint64_t now = uv_now(t->loop), next = UINT64_MAX;

    if (t->head != NULL)
        next = t->head->deadline;
    if (t->inflight > 0 && t->ac != NULL && t->last_reply + TRACK_STALL_MS < next)
        next = t->last_reply + TRACK_STALL_MS;
    if (t->ac != NULL && !t->connected && t->connect_started + TRACK_CONNECT_MS < next)
        next = t->connect_started + TRACK_CONNECT_MS;
    if (next == UINT64_MAX)
        uv_timer_stop(&t->timeout_timer);
    else
        uv_timer_start(&t->timeout_timer, track_on_timeout, next > now ? next - now : 0, 0);
}

/* track_drop - give up on the connection; hiredis answers what waits with NULL. */
static void track_drop(struct track *t, const char *why)
{
    track_set_up(t, false, why);
    if (t->ac != NULL) {
        redisAsyncContext *ac = t->ac;

        t->ac = NULL;
        t->connected = false;
        redisAsyncFree(ac);
    }
    track_schedule(t);
}

static void track_on_timeout(uv_timer_t *h)
{
    struct track *t = h->data;
    uint64_t now = uv_now(t->loop);
    struct track_req *r;

    while ((r = t->head) != NULL && r->deadline <= now) {
        track_unlink(t, r);
        track_answer(r, TRACK_ERR_TIMEOUT, NULL);
        /* hiredis still holds r: freed when it calls back, after a reply or a drop */
    }
    if (t->ac != NULL && t->inflight > 0 && now - t->last_reply >= TRACK_STALL_MS)
        track_drop(t, "no reply for 1 s");
    else if (t->ac != NULL && !t->connected && now - t->connect_started >= TRACK_CONNECT_MS)
        track_drop(t, "connect timed out");
    track_arm_timer(t);
}

/*
 * track_format - argv as a RESP array in one malloc'd buffer (for free()); returns its
 * length. The same bytes as hiredis' redisFormatCommandArgv, which formats each
 * argument's header with sprintf(3): that was a fifth of policyd's instructions per
 * request, for an EVALSHA of 31 arguments.
 */
static size_t track_format(char **out, int argc, const char **argv, const size_t *lens)
{
    size_t total = 1 + 20 + 2, len;
    char *cmd, *p;
    int i;

    for (i = 0; i < argc; i++)
        total += 1 + 20 + 2 + lens[i] + 2;
    p = cmd = xmalloc(total + 1);
    *p++ = '*';
    p += util_utoa(p, (size_t)argc);
    *p++ = '\r';
    *p++ = '\n';
    for (i = 0; i < argc; i++) {
        *p++ = '$';
        p += util_utoa(p, lens[i]);
        *p++ = '\r';
        *p++ = '\n';
        memcpy(p, argv[i], lens[i]);
        p += lens[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    *p = '\0';
    len = (size_t)(p - cmd);
    *out = cmd;
    return len;
}

/*
 * track_send - queue one command: EVALSHA of a script (script >= 0, argv after the SHA) or
 * a plain command (script < 0, argv complete). Answered exactly once, within the timeout.
 */
static void track_send(struct track *t, int script, int argc, const char **argv,
                       const size_t *lens, track_cb cb, void *arg)
{
    const char *av[TRACK_MAX_ARGS + 2];
    size_t al[TRACK_MAX_ARGS + 2];
    bool native = script >= 0 && script == t->native_script && t->native;
    int pre = native ? 1 : script >= 0 ? 2 : 0;
    struct track_req *r;
    size_t n;

    t->calls++;
    if (script >= t->nscripts || argc > TRACK_MAX_ARGS || argc + pre == 0) {
        cb(arg, TRACK_ERR_SCRIPT, NULL);
        return;
    }
    if (t->ac == NULL || !t->connected || t->stopping) {
        t->errors++;
        if (script >= 0)
            t->failed_while_down++;
        cb(arg, t->stopping ? TRACK_ERR_SHUTDOWN : TRACK_ERR_DOWN, NULL);
        return;
    }
    r = xcalloc(1, sizeof(*r));
    r->t = t;
    r->cb = cb;
    r->arg = arg;
    r->script = script;
    r->native = native;
    if (native && t->announce) {
        t->announce = false;
        log_info("redis: the pdtrack module is loaded: %s replaces script %s", TRACK_NATIVE,
                 t->scripts[script].name);
    }
    if (native) {
        av[0] = TRACK_NATIVE, al[0] = sizeof(TRACK_NATIVE) - 1;
    } else if (pre > 0) {
        av[0] = "EVALSHA", al[0] = 7;
        av[1] = t->scripts[script].sha, al[1] = 40;
    }
    memcpy(av + pre, argv, (size_t)argc * sizeof(*argv));
    memcpy(al + pre, lens, (size_t)argc * sizeof(*lens));
    n = track_format(&r->cmd, argc + pre, av, al);
    if (redisAsyncFormattedCommand(t->ac, track_on_reply, r, r->cmd, n) != REDIS_OK) {
        track_req_free(r);
        cb(arg, TRACK_ERR_DOWN, NULL);
        return;
    }
    r->cmd_len = n;
    r->deadline = uv_now(t->loop) + (uint64_t)t->timeout_ms;
    if (t->inflight++ == 0)
        t->last_reply = uv_now(t->loop); /* a stall is measured from the first wait */
    if (t->head == NULL) {
        t->head = t->tail = r;
        track_arm_timer(t);
    } else {
        t->tail->next = r;
        t->tail = r;
    }
}

void track_eval(struct track *t, int script, int argc, const char **argv, const size_t *lens,
                track_cb cb, void *arg)
{
    if (script < 0) {
        t->calls++;
        cb(arg, TRACK_ERR_SCRIPT, NULL);
        return;
    }
    track_send(t, script, argc, argv, lens, cb, arg);
}

void track_command(struct track *t, int argc, const char **argv, const size_t *lens,
                   track_cb cb, void *arg)
{
    track_send(t, -1, argc, argv, lens, cb, arg);
}

/* track_on_load - SCRIPT LOAD's answer: the SHA-1 Redis computed must be ours. */
static void track_on_load(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct track *t = ac->data;
    const redisReply *rr = reply;
    struct track_script *s = privdata;

    s->reloading = false;
    if (rr == NULL || t == NULL)
        return;
    if (track_loading(rr)) {
        /* The scripts are not loaded and nothing else would try again before the next
         * request: close, and the backoff timer connects (and loads) once more. */
        if (!(ac->c.flags & REDIS_DISCONNECTING))
            redisAsyncDisconnect(ac);
        return;
    }
    track_alive(t, rr);
    if (rr->type == REDIS_REPLY_ERROR)
        log_warn("redis: SCRIPT LOAD %s: %.200s", s->name, rr->str);
    else if (rr->type == REDIS_REPLY_STRING && strcmp(rr->str, s->sha) != 0)
        log_panic("redis: script %s loaded as %s, expected %s", s->name, rr->str, s->sha);
}

/* track_on_api - PD.API's answer: PD.TRACK is used when it speaks our argv layout. */
static void track_on_api(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct track *t = ac->data;
    const redisReply *rr = reply;
    bool native;

    (void)privdata;
    if (rr == NULL || t == NULL || t->ac != ac)
        return;
    /* an error says nothing of availability: a Redis still loading its data answers an
     * unknown command with "unknown command" before it says LOADING */
    if (rr->type != REDIS_REPLY_ERROR)
        track_alive(t, rr);
    native = t->use_module && t->native_script >= 0 && rr->type == REDIS_REPLY_INTEGER &&
             rr->integer == atoll(TRACKARGS_API);
    if (native && !t->native)
        t->announce = true; /* logged with the first call: a policyd --import-blocks makes
                             * none, and says nothing of it */
    else if (rr->type == REDIS_REPLY_INTEGER && rr->integer != atoll(TRACKARGS_API))
        log_warn("redis: the pdtrack module speaks argv layout %lld, this policyd %s: using "
                 "script %s (load the module of this version)", rr->integer, TRACKARGS_API,
                 t->native_script >= 0 ? t->scripts[t->native_script].name : "track");
    t->native = native;
}

/* track_probe - ask whether this Redis has PD.TRACK (answered after the SCRIPT LOADs). */
static void track_probe(struct track *t)
{
    if (t->ac != NULL && t->use_module && t->native_script >= 0)
        redisAsyncCommand(t->ac, track_on_api, NULL, "PD.API");
}

/* track_on_auth - a refused password is a configuration problem: say it clearly. */
static void track_on_auth(redisAsyncContext *ac, void *reply, void *privdata)
{
    const redisReply *rr = reply;

    (void)privdata;
    if (rr != NULL && ac->data != NULL)
        track_alive(ac->data, rr);
    if (rr != NULL && rr->type == REDIS_REPLY_ERROR)
        log_warn("redis: AUTH refused: %.200s (check redis_password_file)", rr->str);
}

static void track_on_connect(const redisAsyncContext *ac, int status)
{
    struct track *t = ac->data;

    if (t == NULL || t->ac != ac)
        return;
    if (status != REDIS_OK) {
        t->ac = NULL; /* hiredis frees the context after this callback */
        t->connected = false;
        track_set_up(t, false, ac->errstr);
        track_schedule(t);
        return;
    }
    t->connected = true; /* available again only with the first reply: track_alive() */
}

static void track_on_disconnect(const redisAsyncContext *ac, int status)
{
    struct track *t = ac->data;

    if (t == NULL || t->ac != ac)
        return;
    t->ac = NULL; /* freed by hiredis after this callback */
    t->connected = false;
    if (t->stopping)
        return;
    track_set_up(t, false, status == REDIS_OK ? "connection closed" : ac->errstr);
    track_schedule(t);
}

/* track_open - a new context for redis_server; NULL with the reason logged. */
static redisAsyncContext *track_open(struct track *t)
{
    redisAsyncContext *ac;
    char host[256];
    const char *colon;
    size_t hl;

    if (strncmp(t->server, "unix:", 5) == 0)
        return redisAsyncConnectUnix(t->server + 5);
    colon = strrchr(t->server, ':');
    if (colon == NULL || (hl = (size_t)(colon - t->server)) == 0 || hl >= sizeof(host))
        return NULL;
    memcpy(host, t->server, hl);
    host[hl] = '\0';
    if (host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    ac = redisAsyncConnect(host, atoi(colon + 1));
    return ac;
}

/* track_connect - connect, then queue AUTH and every SCRIPT LOAD ahead of any call. */
static void track_connect(struct track *t)
{
    redisAsyncContext *ac;
    int i;

    if (t->stopping || t->ac != NULL)
        return;
    ac = track_open(t);
    if (ac == NULL || ac->err) {
        track_set_up(t, false, ac != NULL ? ac->errstr : "bad redis_server");
        if (ac != NULL)
            redisAsyncFree(ac);
        track_schedule(t);
        return;
    }
    if (!track_ev_attach(ac, t->loop)) {
        track_set_up(t, false, "cannot poll the redis socket");
        redisAsyncFree(ac);
        track_schedule(t);
        return;
    }
    ac->data = t;
    t->ac = ac;
    redisAsyncSetConnectCallback(ac, track_on_connect);
    redisAsyncSetDisconnectCallback(ac, track_on_disconnect);
    /* A connect that never completes (a server that drops SYNs; or a refused one with
     * hiredis 0.14, whose libuv adapter ignores poll errors and never calls back) is
     * given up by track_on_timeout after TRACK_CONNECT_MS. */
    t->connect_started = uv_now(t->loop);
    track_arm_timer(t);
    if (t->password != NULL && t->password[0] != '\0')
        redisAsyncCommand(ac, track_on_auth, NULL, "AUTH %s", t->password);
    for (i = 0; i < t->nscripts; i++)
        redisAsyncCommand(ac, track_on_load, &t->scripts[i], "SCRIPT LOAD %s",
                          t->scripts[i].src);
    t->native = false;
    track_probe(t);
}

/* track_on_reconnect - the reconnect timer: its handle is embedded in struct track. */
static void track_on_reconnect(uv_timer_t *h)
{
    track_connect(h->data);
}

/* track_settings - copy what track needs from a config; true when the server changed. */
static bool track_settings(struct track *t, const struct pd_config *cfg)
{
    bool changed = t->server == NULL || strcmp(t->server, cfg->redis_server) != 0 ||
                   strcmp(t->password ? t->password : "",
                          cfg->redis_password ? cfg->redis_password : "") != 0;
    bool probe = cfg->redis_use_module && !t->use_module && !changed && t->connected;

    if (changed) {
        free(t->server);
        free(t->password);
        t->server = xstrdup(cfg->redis_server);
        t->password = cfg->redis_password ? xstrdup(cfg->redis_password) : NULL;
    }
    t->timeout_ms = cfg->redis_timeout_ms;
    t->use_module = cfg->redis_use_module;
    if (!t->use_module)
        t->native = false;
    if (probe)
        track_probe(t); /* turned on by a reload: ask now, not at the next connect */
    return changed;
}

struct track *track_new(uv_loop_t *loop, const struct pd_config *cfg)
{
    struct track *t = xcalloc(1, sizeof(*t));
    int i;

    t->loop = loop;
    t->up = true; /* so that a first failure is logged */
    t->backoff_ms = TRACK_BACKOFF_MIN_MS;
    for (t->nscripts = 0; lua_scripts[t->nscripts].name != NULL; t->nscripts++)
        ;
    t->scripts = xcalloc((size_t)t->nscripts + 1, sizeof(*t->scripts));
    for (i = 0; i < t->nscripts; i++) {
        t->scripts[i].name = lua_scripts[i].name;
        t->scripts[i].src = lua_scripts[i].src;
        sha1_hex(t->scripts[i].src, strlen(t->scripts[i].src), t->scripts[i].sha);
    }
    t->native_script = -1;
    for (i = 0; i < t->nscripts; i++)
        if (strcmp(t->scripts[i].name, "track") == 0)
            t->native_script = i;
    uv_timer_init(loop, &t->timeout_timer);
    uv_timer_init(loop, &t->reconnect_timer);
    t->timeout_timer.data = t;
    t->reconnect_timer.data = t;
    track_settings(t, cfg);
    track_connect(t);
    return t;
}

/* track_reconfigure - a new timeout applies at once; a new server means a new connection. */
void track_reconfigure(struct track *t, const struct pd_config *cfg)
{
    if (!track_settings(t, cfg))
        return;
    log_info("redis: now using %s", t->server);
    if (t->ac != NULL) {
        redisAsyncContext *ac = t->ac;

        t->ac = NULL;
        t->connected = false;
        redisAsyncFree(ac);
    }
    uv_timer_stop(&t->reconnect_timer);
    t->backoff_ms = TRACK_BACKOFF_MIN_MS;
    track_connect(t);
}

int track_script_index(const struct track *t, const char *name)
{
    int i;

    for (i = 0; i < t->nscripts; i++)
        if (strcmp(t->scripts[i].name, name) == 0)
            return i;
    return -1;
}

bool track_is_native(const struct track *t)
{
    return t->native && t->connected;
}

bool track_is_up(const struct track *t)
{
    return t->up && t->connected;
}

void track_stats(const struct track *t, uint64_t *calls, uint64_t *timeouts, uint64_t *errors)
{
    *calls = t->calls;
    *timeouts = t->timeouts;
    *errors = t->errors;
}

/* track_shutdown - answer what waits, close the connection and the timers. */
void track_shutdown(struct track *t)
{
    struct track_req *r;

    t->stopping = true;
    while ((r = t->head) != NULL) {
        track_unlink(t, r);
        track_answer(r, TRACK_ERR_SHUTDOWN, NULL);
    }
    if (t->ac != NULL) {
        redisAsyncContext *ac = t->ac;

        t->ac = NULL;
        t->connected = false;
        redisAsyncFree(ac); /* calls back every request with NULL: they free themselves */
    }
    uv_close((uv_handle_t *)&t->timeout_timer, NULL);
    uv_close((uv_handle_t *)&t->reconnect_timer, NULL);
}

/* track_free - after track_shutdown() and the loop has drained. */
struct track *track_free(struct track *t)
{
    if (t == NULL)
        return NULL;
    free(t->scripts);
    free(t->server);
    free(t->password);
    free(t);
    return NULL;
}

void track_on_up(struct track *t, void (*fn)(void *arg), void *arg)
{
    t->on_up = fn;
    t->on_up_arg = arg;
}
