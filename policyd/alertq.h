/* SPDX-License-Identifier: MIT */
#ifndef PD_ALERTQ_H
#define PD_ALERTQ_H

/*
 * alertq - the alert mails waiting for sendmail: one run at a time, retries with backoff,
 * every mail kept in a Redis hash (the node's pending hash) until it is delivered or given
 * up, and read back at start. Part of the alert mailer; see alertq.c.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ratelimit/track.h"

struct pd_config;
struct alertq;

/* A pending entry that is not a mail (the alert mailer's "B1 ..." batch entries); false:
 * not understood either, and the queue deletes it. */
typedef bool (*alertq_other_fn)(void *arg, const char *value, size_t len);

struct alertq_stats {
    uint64_t sent;     /* mails sendmail accepted */
    uint64_t failures; /* failed sendmail runs */
    uint64_t given_up; /* mails dropped after alert_retry_max attempts */
    uint64_t restored; /* mails read back from Redis */
};

/* alertq_new - pending_key is the node's hash; other gets its non-mail entries. */
struct alertq *alertq_new(uv_loop_t *loop, struct track *track, const char *pending_key,
                          alertq_other_fn other, void *arg);
/* alertq_reconfigure - the config in use; borrowed: the caller keeps it alive. */
void alertq_reconfigure(struct alertq *q, const struct pd_config *cfg);
/* alertq_add - a mail for the comma-separated rcpts; msg is taken over. With persist, it
 * is kept in Redis under field id until it is delivered or given up. */
void alertq_add(struct alertq *q, const char *id, const char *rcpts, char *msg, size_t len,
                const char *what, bool persist);
size_t alertq_length(const struct alertq *q);
void alertq_get_stats(const struct alertq *q, struct alertq_stats *out);
/* alertq_stop - close the timer and cancel a running sendmail; the rest stays in Redis. */
void alertq_stop(struct alertq *q);
/* alertq_free - after alertq_stop() and after the loop has drained. */
struct alertq *alertq_free(struct alertq *q);

/* alertq_split - a comma-separated list, split in place, into at most max strings. */
size_t alertq_split(char *s, const char **v, size_t max);
/* alertq_command - track_command(); lens NULL: every argument is a C string (argc <= 16). */
void alertq_command(struct track *t, track_cb cb, void *arg, int argc, const char **argv,
                    const size_t *lens);

#endif
