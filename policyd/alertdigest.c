/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      alertdigest - the daily digest mail of each partner
 * SYNOPSIS
 *      #include "policyd/alertpriv.h"
 *
 *      void alertdigest_start(struct alert *a)
 *      void alertdigest_stop(struct alert *a)
 *      void alertdigest_note_unblock(struct alert *a, const struct alertmsg_item *it)
 * DESCRIPTION
 *      Once a day, at alert_digest_time (local time, "HH:MM"; empty: never) and with
 *      alert_on_digest, every partner (and the abuse desk, for domains no partner covers)
 *      gets one mail listing its mailboxes that are still blocked (the index
 *      <p>1:blocked, with each block record's reference, reason and refused and held
 *      counts from alert_detail.lua) and those unblocked in the last 24 hours. Nothing
 *      to say: no mail.
 *
 *      The unblocks come from the sorted set <p>1:{alert}:unblocked (score: the unblock
 *      time, member: the packed item), which every node's alert mailer adds each unblock
 *      event to; entries older than two days are dropped. (The mailboxes' history lists
 *      cannot be found once the mailbox has left the index, and the audit trail only
 *      exists with the status socket and leaves out automatic events.)
 *
 *      The clock is checked every ALERT_DIGEST_TICK_MS. A node that is up at the digest
 *      time, or starts later that day, gathers the digest once for the day; the node that
 *      wins "SET <p>1:{alert}:daily:<partner>:<day> NX" for a partner queues its mail
 *      (persistently, alertq(3)), so each partner gets one digest a day however many nodes
 *      run or restart. A run that fails (Redis down) is tried again at the next tick.
 *
 *      Ownership: a run (struct alert_daily) lives while Redis answers are outstanding and
 *      frees itself when the last one is in; the alert points to it meanwhile.
 * DIAGNOSTICS
 *      Info: each digest queued, and each run with its counts. Warn: a run that could not
 *      read the index (once per failed attempt). Mailbox names never reach the log.
 * SEE ALSO
 *      alert(3), alertmsg(3), alertq(3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "policyd/alertmsg.h"
#include "policyd/alertpriv.h"
#include "policyd/alertq.h"
#include "policyd/config.h"
#include "policyd/log.h"
#include "policyd/util.h"
#include "ratelimit/keys.h"
#include "ratelimit/track.h"

#define ALERT_DIGEST_TICK_MS 15000   /* how often the clock is compared with the digest time */
#define ALERT_DIGEST_FIRST_MS 1000   /* the first check after start */
#define ALERT_DIGEST_MAX 5000        /* blocked mailboxes read for one digest */
#define ALERT_DIGEST_KEEP 172800     /* seconds an unblock is kept for the digests */
#define ALERT_DIGEST_DAY_TTL "172800" /* the per-partner "sent" marks */

struct alert_daily_item {
    struct alertmsg_item it;
    long long refused, held;
    char *mailbox, *ref, *reason, *storage;
    char *partner, *to, *rcpts;
    bool drop; /* the block record was gone */
};

struct alert_daily {
    struct alert *a;
    char day[40];
    struct alert_daily_item *items;
    size_t n, cap;
    size_t pending; /* outstanding Redis answers, plus one while a step is issuing */
    size_t queued;
    bool failed, sending;
};

/* One detail call (by index: the item array may grow meanwhile). */
struct alert_daily_ref {
    struct alert_daily *d;
    size_t i;
};

/* One partner's "sent" mark. */
struct alert_daily_part {
    struct alert_daily *d;
    size_t first, n; /* a run of d->items, sorted by partner */
};

static void alert_daily_done(struct alert_daily *d);

static void alert_daily_item_free(struct alert_daily_item *x)
{
    free(x->mailbox);
    free(x->ref);
    free(x->reason);
    free(x->storage);
    free(x->partner);
    free(x->to);
    free(x->rcpts);
}

static struct alert_daily *alert_daily_free(struct alert_daily *d)
{
    size_t i;

    for (i = 0; i < d->n; i++)
        alert_daily_item_free(&d->items[i]);
    free(d->items);
    free(d);
    return NULL;
}

/* alert_daily_add - a new item routed for mailbox; NULL when nobody is to be told. */
static struct alert_daily_item *alert_daily_add(struct alert_daily *d, const char *mailbox)
{
    struct alert_daily_item *x;

    if (d->n == d->cap) {
        d->cap = d->cap < 64 ? 64 : d->cap * 2;
        d->items = xrealloc(d->items, d->cap * sizeof(*d->items));
    }
    x = &d->items[d->n];
    memset(x, 0, sizeof(*x));
    if (!alert_route_mailbox(d->a, mailbox, &x->partner, &x->to, &x->rcpts))
        return NULL;
    d->n++;
    return x;
}

static void alert_daily_unref(struct alert_daily *d)
{
    if (--d->pending == 0)
        alert_daily_done(d);
}

/* ---- gathering ----------------------------------------------------------------------- */

static void alert_daily_str(const struct track_pair *p, char **out)
{
    free(*out);
    *out = xstrndup(p->sval, p->sval_len);
}

static void alert_on_daily_detail(void *arg, int status, const struct track_reply *rep)
{
    struct alert_daily_ref *r = arg;
    struct alert_daily *d = r->d;
    struct alert_daily_item *x = &d->items[r->i];
    size_t i;

    for (i = 0; status == TRACK_OK && i < rep->npairs; i++) {
        const struct track_pair *p = &rep->pairs[i];

        if (p->name_len == 7 && memcmp(p->name, "blocked", 7) == 0)
            x->drop = !(p->is_int && p->ival == 1);
        else if (p->name_len == 3 && memcmp(p->name, "ref", 3) == 0)
            alert_daily_str(p, &x->ref);
        else if (p->name_len == 6 && memcmp(p->name, "reason", 6) == 0)
            alert_daily_str(p, &x->reason);
        else if (p->name_len == 7 && memcmp(p->name, "refused", 7) == 0 && p->is_int)
            x->refused = p->ival;
        else if (p->name_len == 4 && memcmp(p->name, "held", 4) == 0 && p->is_int)
            x->held = p->ival;
    }
    x->it.ref = x->ref != NULL ? x->ref : "";
    x->it.reason = x->reason != NULL ? x->reason : "";
    free(r);
    alert_daily_unref(d);
}

/* alert_on_daily_unblocked - the unblocks of the last 24 hours (packed items). */
static void alert_on_daily_unblocked(void *arg, int status, const struct track_reply *rep)
{
    struct alert_daily *d = arg;
    struct alert_daily_item *x;
    struct alertmsg_item it;
    char *storage;
    size_t i;

    if (status != TRACK_OK)
        d->failed = true;
    for (i = 0; status == TRACK_OK && i < rep->npairs; i++) {
        const struct track_pair *p = &rep->pairs[i]; /* member, score */

        if (alertmsg_item_unpack(p->name, p->name_len, &it, &storage) < 0)
            continue;
        if (!it.unblock || (x = alert_daily_add(d, it.mailbox)) == NULL) {
            free(storage);
            continue;
        }
        x->it = it;
        x->storage = storage;
    }
    alert_daily_unref(d);
}

/* alert_daily_details - one alert_detail.lua call per still-blocked item. */
static void alert_daily_details(struct alert_daily *d)
{
    struct alert *a = d->a;
    char blk[KEYS_NAME_SIZE], net[KEYS_NAME_SIZE];
    const char *argv[4] = {"2", blk, net, "0"};
    size_t i, n = d->n, lens[4];

    for (i = 0; i < n; i++) {
        struct alert_daily_ref *r;

        if (a->s_detail < 0 || !alert_detail_keys(a, d->items[i].mailbox, blk, net, sizeof(blk)))
            continue;
        r = xcalloc(1, sizeof(*r));
        r->d = d;
        r->i = i;
        d->pending++;
        lens[0] = 1, lens[1] = strlen(blk), lens[2] = strlen(net), lens[3] = 1;
        track_eval(a->track, a->s_detail, 4, argv, lens, alert_on_daily_detail, r);
    }
}

/* alert_on_daily_index - the still-blocked mailboxes (member: mailbox, score: since). */
static void alert_on_daily_index(void *arg, int status, const struct track_reply *rep)
{
    struct alert_daily *d = arg;
    struct alert *a = d->a;
    struct alert_daily_item *x;
    char key[ALERT_KEY_MAX], from[24];
    const char *argv[5] = {"ZRANGEBYSCORE", key, from, "+inf", "WITHSCORES"};
    size_t i;

    if (status != TRACK_OK || a->stopping) {
        d->failed = true;
        alert_daily_unref(d);
        return;
    }
    for (i = 0; i < rep->npairs; i++) {
        const struct track_pair *p = &rep->pairs[i];
        char *mb = xstrndup(p->name, p->name_len);

        if ((x = alert_daily_add(d, mb)) == NULL) {
            free(mb);
            continue;
        }
        x->mailbox = mb;
        x->it.mailbox = mb;
        x->it.ref = x->it.reason = "";
        x->it.at = strtoll(p->sval, NULL, 10);
    }
    alert_daily_details(d);
    snprintf(from, sizeof(from), "%lld", (long long)(alert_wall() - 86400));
    alert_key(a, key, sizeof(key), "unblocked");
    d->pending++;
    alert_cmd(a, alert_on_daily_unblocked, d, 5, argv, NULL);
    alert_daily_unref(d);
}

/* ---- sending ------------------------------------------------------------------------- */

static void alert_on_daily_mark(void *arg, int status, const struct track_reply *rep)
{
    struct alert_daily_part *pt = arg;
    struct alert_daily *d = pt->d;
    struct alert *a = d->a;
    const struct alert_daily_item *x0 = &d->items[pt->first];
    struct alertmsg_item *items;
    long long *refused, *held;
    struct alertmsg_in in;
    char id[ALERT_KEY_MAX], what[64], *msg;
    size_t i, n = 0, len;

    if (status != TRACK_OK)
        d->failed = true;
    if (a->stopping || status != TRACK_OK || rep->npairs != 1 || rep->pairs[0].sval_len != 2) {
        free(pt);
        alert_daily_unref(d); /* another node (or an earlier run) mailed this partner */
        return;
    }
    items = xcalloc(pt->n, sizeof(*items));
    refused = xcalloc(pt->n, sizeof(*refused));
    held = xcalloc(pt->n, sizeof(*held));
    for (i = 0; i < pt->n && n < ALERTMSG_LIST_MAX; i++, n++) {
        items[n] = d->items[pt->first + i].it;
        refused[n] = d->items[pt->first + i].refused;
        held[n] = d->items[pt->first + i].held;
    }
    memset(&in, 0, sizeof(in));
    in.kind = ALERTMSG_DAILY;
    in.partner = strcmp(x0->partner, "-") == 0 ? "domains without a partner" : x0->partner;
    in.items = items;
    in.nitems = n;
    in.more = pt->n - n;
    in.date = d->day;
    in.refused = refused;
    in.held = held;
    if (alert_build_in(a, &in, x0->to, &msg, &len) == 0) {
        snprintf(what, sizeof(what), "daily digest items=%zu", pt->n);
        snprintf(id, sizeof(id), "msg:daily:%s:%s", x0->partner, d->day);
        alertq_add(a->queue, id, x0->rcpts, msg, len, what, true);
        a->stats.digests++;
        d->queued++;
    }
    free(items);
    free(refused);
    free(held);
    free(pt);
    alert_daily_unref(d);
}

static int alert_daily_cmp(const void *x, const void *y)
{
    const struct alert_daily_item *p = x, *q = y;
    int c = strcmp(p->partner, q->partner);

    if (c != 0)
        return c;
    if (p->it.unblock != q->it.unblock)
        return p->it.unblock ? 1 : -1;
    return p->it.at < q->it.at ? -1 : p->it.at > q->it.at;
}

/* alert_daily_send - every partner with something to say: its mark, then its mail. */
static void alert_daily_send(struct alert_daily *d)
{
    struct alert *a = d->a;
    char key[ALERT_KEY_MAX];
    const char *argv[6] = {"SET", key, a->node, "NX", "EX", ALERT_DIGEST_DAY_TTL};
    size_t i, j, k = 0;

    for (i = 0; i < d->n; i++) { /* drop the blocks lifted meanwhile */
        if (!d->items[i].drop)
            d->items[k++] = d->items[i];
        else
            alert_daily_item_free(&d->items[i]);
    }
    d->n = k;
    if (d->n > 0)
        qsort(d->items, d->n, sizeof(*d->items), alert_daily_cmp);
    d->pending++;
    for (i = 0; i < d->n; i = j) {
        struct alert_daily_part *pt = xcalloc(1, sizeof(*pt));

        for (j = i + 1; j < d->n && strcmp(d->items[j].partner, d->items[i].partner) == 0; j++)
            continue;
        pt->d = d;
        pt->first = i;
        pt->n = j - i;
        alert_key(a, key, sizeof(key), "daily:%s:%s", d->items[i].partner, d->day);
        d->pending++;
        alert_cmd(a, alert_on_daily_mark, pt, 6, argv, NULL);
    }
    alert_daily_unref(d);
}

/* alert_daily_done - all answers are in: send (first time), or end the run. */
static void alert_daily_done(struct alert_daily *d)
{
    struct alert *a = d->a;

    if (!d->failed && !a->stopping && !d->sending) {
        d->sending = true;
        alert_daily_send(d);
        return;
    }
    if (!d->failed) {
        snprintf(a->digest_day, sizeof(a->digest_day), "%s", d->day);
        log_info("alert: daily digest %s: %zu entries, %zu mails queued by this node", d->day,
                 d->n, d->queued);
    } else if (!a->stopping) {
        log_warn("alert: daily digest %s: redis did not answer; trying again", d->day);
    }
    a->daily = NULL;
    alert_daily_free(d);
}

/* ---- the clock ----------------------------------------------------------------------- */

/* alertdigest_due - today's local date into day when the digest time has passed. */
static bool alertdigest_due(const struct alert *a, char *day, size_t len)
{
    const char *t = a->cfg->alert_digest_time;
    time_t now = (time_t)alert_wall();
    struct tm tm;

    if (!a->cfg->alert_enabled || !a->cfg->alert_on_digest || strlen(t) != 5 ||
        localtime_r(&now, &tm) == NULL)
        return false;
    if (tm.tm_hour * 60 + tm.tm_min < atoi(t) * 60 + atoi(t + 3))
        return false;
    snprintf(day, len, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return strcmp(day, a->digest_day) != 0;
}

static void alertdigest_on_tick(uv_timer_t *t)
{
    struct alert *a = t->data;
    struct alert_daily *d;
    char key[KEYS_PREFIX_MAX + 16], day[40], max[24];
    const char *argv[8] = {"ZRANGEBYSCORE", key, "-inf", "+inf", "WITHSCORES", "LIMIT", "0",
                           max};

    if (a->stopping || a->daily != NULL || !alertdigest_due(a, day, sizeof(day)))
        return;
    d = a->daily = xcalloc(1, sizeof(*d));
    d->a = a;
    a->stats.digest_runs++;
    snprintf(d->day, sizeof(d->day), "%s", day);
    snprintf(key, sizeof(key), "%s%s:blocked", a->cfg->redis_key_prefix, KEYS_SCHEMA);
    snprintf(max, sizeof(max), "%d", ALERT_DIGEST_MAX);
    d->pending = 1;
    alert_cmd(a, alert_on_daily_index, d, 8, argv, NULL);
}

static void alertdigest_noop(void *arg, int status, const struct track_reply *rep)
{
    (void)arg;
    (void)status;
    (void)rep;
}

void alertdigest_note_unblock(struct alert *a, const struct alertmsg_item *it)
{
    char key[ALERT_KEY_MAX], at[24], old[24], ttl[24], *packed;
    const char *zadd[4] = {"ZADD", key, at, NULL};
    const char *zrem[4] = {"ZREMRANGEBYSCORE", key, "-inf", old};
    const char *exp[3] = {"EXPIRE", key, ttl};
    size_t lens[4];

    if (alertmsg_item_pack(it, &packed, &lens[3]) < 0)
        return;
    zadd[3] = packed;
    alert_key(a, key, sizeof(key), "unblocked");
    snprintf(at, sizeof(at), "%lld", (long long)it->at);
    snprintf(old, sizeof(old), "(%lld", (long long)(alert_wall() - ALERT_DIGEST_KEEP));
    snprintf(ttl, sizeof(ttl), "%d", ALERT_DIGEST_KEEP);
    lens[0] = 4, lens[1] = strlen(key), lens[2] = strlen(at);
    alert_cmd(a, alertdigest_noop, NULL, 4, zadd, lens);
    alert_cmd(a, alertdigest_noop, NULL, 4, zrem, NULL);
    alert_cmd(a, alertdigest_noop, NULL, 3, exp, NULL);
    free(packed);
}

void alertdigest_start(struct alert *a)
{
    uv_timer_init(a->loop, &a->digest_tick);
    a->digest_tick.data = a;
    uv_timer_start(&a->digest_tick, alertdigest_on_tick, ALERT_DIGEST_FIRST_MS,
                   ALERT_DIGEST_TICK_MS);
}

void alertdigest_stop(struct alert *a)
{
    uv_timer_stop(&a->digest_tick);
    uv_close((uv_handle_t *)&a->digest_tick, NULL);
}
