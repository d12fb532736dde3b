/* SPDX-License-Identifier: MIT */
#ifndef PD_ALERTSEND_H
#define PD_ALERTSEND_H

/*
 * alertsend - one run of the local sendmail for the alert mailer: an argv and no shell
 * ("sendmail -i -f FROM -- RCPT..."), the message on its standard input, a deadline, and
 * the first line of what it wrote to stderr. The callback runs exactly once, after every
 * handle is closed; the caller's strings are copied, so they may go at once.
 */

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define ALERTSEND_RCPT_MAX 32   /* envelope recipients of one run */
#define ALERTSEND_DETAIL_MAX 200 /* bytes of the failure detail */

enum {
    ALERTSEND_OK = 0,
    ALERTSEND_ERR_SPAWN = -1,   /* could not start (missing binary, permissions) */
    ALERTSEND_ERR_EXIT = -2,    /* exited with a non-zero status */
    ALERTSEND_ERR_SIGNAL = -3,  /* killed by a signal (also alertsend_cancel) */
    ALERTSEND_ERR_TIMEOUT = -4, /* still running at the deadline: killed */
    ALERTSEND_ERR_ARG = -5,     /* no or too many recipients */
};

/* detail: "" on success, else a printable one-line reason (exit status, stderr). */
typedef void (*alertsend_cb)(void *arg, int status, const char *detail);

struct alertsend;

int alertsend_start(uv_loop_t *loop, const char *path, const char *from,
                    const char *const *rcpt, size_t nrcpt, const char *msg, size_t len,
                    uint64_t timeout_ms, alertsend_cb cb, void *arg, struct alertsend **out);
/* alertsend_cancel - SIGTERM the child (Postfix's sendmail then queues nothing). */
void alertsend_cancel(struct alertsend *s);
const char *alertsend_strerror(int status);

#endif
