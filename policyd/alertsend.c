/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      alertsend - run the local sendmail once, without a shell
 * SYNOPSIS
 *      #include "policyd/alertsend.h"
 *
 *      int alertsend_start(uv_loop_t *loop, const char *path, const char *from,
 *                          const char *const *rcpt, size_t nrcpt, const char *msg,
 *                          size_t len, uint64_t timeout_ms, alertsend_cb cb, void *arg,
 *                          struct alertsend **out)
 *      void alertsend_cancel(struct alertsend *s)
 *      const char *alertsend_strerror(int status)
 * DESCRIPTION
 *      uv_spawn()s path with the argv "path -i -f FROM -- RCPT...": -i so that a line
 *      with a single '.' does not end the message, "--" so that no recipient can pass
 *      for an option, and explicit recipients rather than -t so that nothing in the
 *      message text can add one. The environment is policyd's own (MAIL_CONFIG, if set,
 *      selects Postfix's configuration directory). The message goes to the child's
 *      standard input, which is then closed; standard output is discarded; up to
 *      ALERTSEND_DETAIL_MAX bytes of standard error are kept for the failure detail.
 *
 *      A child still running at timeout_ms is killed (SIGKILL). After it exits, its
 *      stderr is read until EOF or for at most 200 ms more (a grandchild may hold it).
 *
 *      alertsend_start copies everything it needs and always answers through cb,
 *      exactly once, from the loop, after its four handles (process, two pipes, timer)
 *      are closed and before its memory is freed; *out is valid until then, for
 *      alertsend_cancel(). A start that fails (no such file, permissions) is reported
 *      the same way, with ALERTSEND_ERR_SPAWN.
 * DIAGNOSTICS
 *      Nothing is logged here: the status and a one-line printable detail go to cb.
 * SEE ALSO
 *      Postfix sendmail(1), alert(3), uv_spawn(3).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "policyd/alertsend.h"
#include "policyd/util.h"

#define AS_STDERR_GRACE_MS 200
#define AS_FIXED_ARGS 5 /* path -i -f FROM -- */

struct alertsend {
    uv_process_t proc;
    uv_pipe_t in, err;
    uv_timer_t timer;
    uv_write_t wr;
    int open; /* handles not closed yet */
    bool exited, timed_out;
    int spawn_rc;
    int64_t exit_status;
    int term_signal;
    char errbuf[ALERTSEND_DETAIL_MAX];
    size_t errlen;
    char scratch[256];
    char *msg;
    size_t len;
    char *argv[AS_FIXED_ARGS + ALERTSEND_RCPT_MAX + 1];
    alertsend_cb cb;
    void *arg;
};

/* as_stderr_line - the first line of stderr, printable ASCII only. */
static void as_stderr_line(const struct alertsend *s, char *out, size_t outlen)
{
    size_t i, o = 0;

    for (i = 0; i < s->errlen && s->errbuf[i] != '\n' && o + 1 < outlen; i++) {
        unsigned char c = (unsigned char)s->errbuf[i];

        if (c == '\r')
            continue;
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[o] = '\0';
}

static void as_finish(struct alertsend *s)
{
    char detail[ALERTSEND_DETAIL_MAX + 64], line[ALERTSEND_DETAIL_MAX];
    int status = ALERTSEND_OK;
    size_t i;

    detail[0] = '\0';
    as_stderr_line(s, line, sizeof(line));
    if (s->spawn_rc < 0) {
        status = ALERTSEND_ERR_SPAWN;
        snprintf(detail, sizeof(detail), "cannot run %.100s: %s", s->argv[0],
                 uv_strerror(s->spawn_rc));
    } else if (s->timed_out) {
        status = ALERTSEND_ERR_TIMEOUT;
        snprintf(detail, sizeof(detail), "no exit before the timeout: killed");
    } else if (s->term_signal != 0) {
        status = ALERTSEND_ERR_SIGNAL;
        snprintf(detail, sizeof(detail), "killed by signal %d", s->term_signal);
    } else if (s->exit_status != 0) {
        status = ALERTSEND_ERR_EXIT;
        snprintf(detail, sizeof(detail), "exit status %lld%s%s", (long long)s->exit_status,
                 line[0] != '\0' ? ": " : "", line);
    }
    s->cb(s->arg, status, detail);
    for (i = 0; s->argv[i] != NULL; i++)
        free(s->argv[i]);
    free(s->msg);
    free(s);
}

static void as_on_close(uv_handle_t *h)
{
    struct alertsend *s = h->data;

    if (--s->open == 0)
        as_finish(s);
}

static void as_close(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, as_on_close);
}

/* as_settle - after the exit, once stderr is done, the timer goes too. */
static void as_settle(struct alertsend *s)
{
    if (s->exited && uv_is_closing((uv_handle_t *)&s->err))
        as_close((uv_handle_t *)&s->timer);
}

static void as_on_timer(uv_timer_t *t);

static void as_on_exit(uv_process_t *p, int64_t exit_status, int term_signal)
{
    struct alertsend *s = p->data;

    s->exited = true;
    s->exit_status = exit_status;
    s->term_signal = term_signal;
    as_close((uv_handle_t *)&s->proc);
    as_close((uv_handle_t *)&s->in);
    if (!uv_is_closing((uv_handle_t *)&s->timer))
        uv_timer_start(&s->timer, as_on_timer, AS_STDERR_GRACE_MS, 0);
    as_settle(s);
}

static void as_on_timer(uv_timer_t *t)
{
    struct alertsend *s = t->data;

    if (!s->exited) {
        s->timed_out = true;
        uv_process_kill(&s->proc, SIGKILL);
        return;
    }
    as_close((uv_handle_t *)&s->err); /* stderr grace is over */
    as_settle(s);
}

static void as_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct alertsend *s = h->data;

    (void)suggested;
    if (s->errlen < sizeof(s->errbuf)) {
        buf->base = s->errbuf + s->errlen;
        buf->len = sizeof(s->errbuf) - s->errlen;
    } else {
        buf->base = s->scratch; /* what does not fit in errbuf is read and dropped */
        buf->len = sizeof(s->scratch);
    }
}

static void as_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct alertsend *s = st->data;

    if (n > 0 && buf->base == s->errbuf + s->errlen)
        s->errlen += (size_t)n;
    if (n < 0) {
        as_close((uv_handle_t *)&s->err);
        as_settle(s);
    }
}

static void as_on_write(uv_write_t *w, int status)
{
    struct alertsend *s = w->data;

    (void)status; /* a child that exits early shows in its status */
    as_close((uv_handle_t *)&s->in);
}

int alertsend_start(uv_loop_t *loop, const char *path, const char *from,
                    const char *const *rcpt, size_t nrcpt, const char *msg, size_t len,
                    uint64_t timeout_ms, alertsend_cb cb, void *arg, struct alertsend **out)
{
    struct alertsend *s;
    uv_process_options_t opt;
    uv_stdio_container_t io[3];
    uv_buf_t b;
    size_t i;

    *out = NULL;
    if (nrcpt == 0 || nrcpt > ALERTSEND_RCPT_MAX)
        return ALERTSEND_ERR_ARG;
    s = xcalloc(1, sizeof(*s));
    s->cb = cb;
    s->arg = arg;
    s->msg = xmalloc(len + 1);
    memcpy(s->msg, msg, len);
    s->len = len;
    s->argv[0] = xstrdup(path);
    s->argv[1] = xstrdup("-i");
    s->argv[2] = xstrdup("-f");
    s->argv[3] = xstrdup(from);
    s->argv[4] = xstrdup("--");
    for (i = 0; i < nrcpt; i++)
        s->argv[AS_FIXED_ARGS + i] = xstrdup(rcpt[i]);
    uv_pipe_init(loop, &s->in, 0);
    uv_pipe_init(loop, &s->err, 0);
    uv_timer_init(loop, &s->timer);
    s->proc.data = s->in.data = s->err.data = s->timer.data = s->wr.data = s;
    s->open = 4;
    memset(&opt, 0, sizeof(opt));
    io[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    io[0].data.stream = (uv_stream_t *)&s->in;
    io[1].flags = UV_IGNORE;
    io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[2].data.stream = (uv_stream_t *)&s->err;
    opt.file = s->argv[0];
    opt.args = s->argv;
    opt.stdio = io;
    opt.stdio_count = 3;
    opt.exit_cb = as_on_exit;
    *out = s;
    if ((s->spawn_rc = uv_spawn(loop, &s->proc, &opt)) < 0) {
        s->proc.data = s;
        as_close((uv_handle_t *)&s->proc);
        as_close((uv_handle_t *)&s->in);
        as_close((uv_handle_t *)&s->err);
        as_close((uv_handle_t *)&s->timer);
        s->exited = true;
        return 0;
    }
    uv_timer_start(&s->timer, as_on_timer, timeout_ms, 0);
    uv_read_start((uv_stream_t *)&s->err, as_alloc, as_on_read);
    b = uv_buf_init(s->msg, (unsigned)len);
    if (uv_write(&s->wr, (uv_stream_t *)&s->in, &b, 1, as_on_write) < 0)
        as_close((uv_handle_t *)&s->in);
    return 0;
}

void alertsend_cancel(struct alertsend *s)
{
    if (s != NULL && !s->exited)
        uv_process_kill(&s->proc, SIGTERM);
}

const char *alertsend_strerror(int status)
{
    switch (status) {
    case ALERTSEND_OK:
        return "success";
    case ALERTSEND_ERR_SPAWN:
        return "cannot run sendmail";
    case ALERTSEND_ERR_EXIT:
        return "sendmail failed";
    case ALERTSEND_ERR_SIGNAL:
        return "sendmail killed";
    case ALERTSEND_ERR_TIMEOUT:
        return "sendmail timed out";
    case ALERTSEND_ERR_ARG:
        return "bad recipients";
    default:
        return "unknown error";
    }
}
