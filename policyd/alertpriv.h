/* SPDX-License-Identifier: MIT */
#ifndef PD_ALERTPRIV_H
#define PD_ALERTPRIV_H

/*
 * alertpriv - what alert.c shares with alertdigest.c (the daily digest) and nobody else:
 * the mailer's state and its small helpers. Not a public interface: see alert.h.
 */

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "policyd/alert.h"
#include "policyd/alertmsg.h"
#include "ratelimit/track.h"

#define ALERT_KEY_MAX 1024
#define ALERT_TPL_KINDS (ALERTMSG_DAILY + 1) /* templates indexed by enum alertmsg_kind */

struct alert_batch;
struct alert_daily;
struct alerttpl;
struct decide;

struct alert {
    uv_loop_t *loop;
    struct pd_config *cfg;
    struct track *track;
    struct decide *decide; /* for the shared hash key (per-mailbox key names) */
    struct partnermap *map;
    struct alerttpl *tpl[ALERT_TPL_KINDS]; /* NULL: the built-in text */
    char *node;
    struct alertq *queue; /* the mails */
    struct alert_batch *batches;
    uv_timer_t wake;      /* the next batch is due */
    uv_timer_t digest_tick; /* the daily digest's clock */
    char digest_day[40];  /* the local day whose digest this node has done */
    struct alert_daily *daily; /* the digest being gathered, or NULL */
    int s_detail;         /* the alert_detail script */
    bool stopping, redis_down;
    long long wave_count;
    struct alert_stats stats;
};

int64_t alert_wall(void);
const char *alert_key(const struct alert *a, char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void alert_cmd(struct alert *a, track_cb cb, void *arg, int argc, const char **argv,
               const size_t *lens);
void alert_add_addr(char **list, const char *addr);
/* alert_route_mailbox - the partner key ("-": none), To: and envelope recipients of a
 * mailbox (malloc'ed); false when nobody is to be told. */
bool alert_route_mailbox(struct alert *a, const char *mailbox, char **partner, char **to,
                         char **rcpts);
/* alert_build_in - in (kind, items, partner, ...) completed with from, To:, helpdesk,
 * the clock and the template, then built. */
int alert_build_in(struct alert *a, struct alertmsg_in *in, const char *to, char **msg,
                   size_t *len);
/* alert_detail_keys - the block record and networks keys of a mailbox; false without the
 * shared hash key (Redis not seen yet). */
bool alert_detail_keys(const struct alert *a, const char *mailbox, char *blk, char *net,
                       size_t len);

/* alertdigest.c: the daily digest. */
void alertdigest_start(struct alert *a);
void alertdigest_stop(struct alert *a);
/* alertdigest_note_unblock - remember an unblock for the next digests (Redis). */
void alertdigest_note_unblock(struct alert *a, const struct alertmsg_item *it);

#endif
