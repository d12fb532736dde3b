/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      alert - partner alert mails: one per incident, routed per domain, storm-proof
 * SYNOPSIS
 *      #include "policyd/alert.h"
 *
 *      struct alert *alert_new(uv_loop_t *loop, struct pd_config *cfg, struct track *track)
 *      void alert_reconfigure(struct alert *a, struct pd_config *cfg)
 *      void alert_stop(struct alert *a)
 *      struct alert *alert_free(struct alert *a)
 *      void alert_get_stats(const struct alert *a, struct alert_stats *out)
 * DESCRIPTION
 *      The alert mailer subscribes to the block and unblock events (events.h) and works
 *      off the request path: an event only starts Redis commands and, later, a sendmail
 *      run (alertq(3)).
 *
 *      Routing. The partner map (partnermap(3), alert_partner_map) names the partner
 *      addresses of the mailbox's domain; they are the To: of the mail. The abuse desk
 *      (alert_abuse_desk) gets every mail as an extra envelope recipient, and is the To:
 *      when no partner (and no "*" entry) covers the domain. Nobody at all: a warning.
 *
 *      One mail per incident. The node that wins "SET <p>1:{alert}:inc:<type>:<ref>:<h>
 *      NX EX 30d" (h: a digest of the mailbox) mails; any other node, or a repeated event,
 *      counts a duplicate. Block and unblock are separate incidents of one reference.
 *      (Events are already unique per node, first writer and compare-and-delete; this is
 *      the second line of defence, and what a replay or a future emitter relies on.)
 *
 *      Storm control. INCR <p>1:{alert}:cap:<partner>:<hour> counts the single mails of a
 *      partner's hour across all nodes. Past alert_partner_hourly_cap (or with
 *      ALERT_QUEUE_MAX mails already waiting) an event joins the partner's batch on this
 *      node, sent as one summary mail alert_digest_window after the batch began. And
 *      every block is added to the sorted set <p>1:{alert}:wave (score: wall-clock time);
 *      when it holds alert_wave_threshold blocks of the last alert_wave_window, the node
 *      that wins SET <p>1:{alert}:wave-sent NX PX <window> mails the abuse desk one
 *      mass-compromise summary (the newest ALERT_WAVE_LIST blocks listed).
 *
 *      Holds (PD_EVENT_HOLD, alert_on_hold): one mail per mailbox and day (incident id
 *      "hold:<ref>:<h>:<day>"), routed and capped like blocks; past the cap a hold is
 *      only logged (a summary lists blocks and unblocks). Every unblock event is also
 *      kept for the daily digests (alertdigest(3)).
 *
 *      Content. Before a block or hold mail is built, alert_detail.lua reads the block
 *      record's refused and held counts and the newest client networks of the mailbox in
 *      one call (key names from keys_encode with decide_hash_key). Templates: the files
 *      of alert_template_dir (block.txt, unblock.txt, summary.txt, wave.txt, hold.txt,
 *      digest.txt; alerttpl(3)) are read at start (fatal when bad) and on SIGHUP (the old
 *      ones kept when bad); a missing file keeps the built-in text.
 *
 *      Nothing lost on restart. Mails wait in the node's pending hash
 *      <p>1:{alert}:pending:<node> (node: host name and first listener; see alertq(3)).
 *      A batch is the entry "batch:<partner>" = "B1 <partner> <to> <rcpts>" there, and its
 *      events are appended, one packed line each (alertmsg_item_pack), to the string
 *      <p>1:{alert}:batch:<node>:<partner>; both go when the summary is queued. At start
 *      the queue reads the hash back and hands each batch entry here to be rebuilt. With
 *      Redis down, events are still mailed, unpersisted and unchecked for duplicates, and
 *      that state change is logged once.
 *
 *      Ownership: the alert holds a reference on its config and owns its map, queue and
 *      batches. It must be stopped before the loop's final run and freed after it.
 *
 *      The file is a little over the style guide's 800 lines: intake, routing, the cap,
 *      the batches and the wave detector share the per-event state (struct alert_ev) and
 *      the key names; the queue and sendmail runs are apart (alertq, alertsend).
 * DIAGNOSTICS
 *      Info: each duplicate, each event put in a summary. Warn: events with no recipient,
 *      mass-compromise events, Redis unavailable or back (once per change), a partner map
 *      that does not load on SIGHUP (the old one stays). Fatal: a partner map that does
 *      not load at start. Mailbox names are sanitised and clipped. alertq(3) logs the
 *      deliveries.
 * SEE ALSO
 *      alertq(3), alertmsg(3), alertsend(3), alerttpl(3), alertdigest(3), partnermap(3),
 *      events.h, track(3).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "policyd/alert.h"
#include "policyd/alertmsg.h"
#include "policyd/alertpriv.h"
#include "policyd/alertq.h"
#include "policyd/alerttpl.h"
#include "policyd/alertsend.h"
#include "policyd/config.h"
#include "policyd/decide.h"
#include "policyd/events.h"
#include "policyd/log.h"
#include "policyd/partnermap.h"
#include "policyd/sanitize.h"
#include "policyd/util.h"
#include "ratelimit/keys.h"
#include "ratelimit/sha1.h"
#include "ratelimit/track.h"

#define ALERT_QUEUE_MAX 1000      /* single mails waiting; past it events are batched */
#define ALERT_BATCH_MAX 2000      /* events kept for one summary; more are only counted */
#define ALERT_DEDUP_TTL "2592000" /* 30 days: an incident is alerted once */
#define ALERT_CAP_TTL "7200"      /* the hourly counters outlive their hour */
#define ALERT_MAP_MAX (16 * 1024 * 1024)
#define ALERT_WAVE_LIST 120       /* blocks listed in a wave mail (< TRACK_MAX_PAIRS) */
#define ALERT_ID_MAX 160
#define ALERT_PATH_MAX 4200       /* alert_template_dir and a file name */
#define ALERT_HOLD_TTL "90000"    /* a hold is alerted once per mailbox and day */

/* One partner's events past the cap, for one summary mail. */
struct alert_batch {
    struct alert_batch *next;
    char *partner, *to, *rcpts;
    char **packed; /* alertmsg_item_pack lines */
    size_t n, more;
    uint64_t due;
};

/* One event on its way through the Redis checks. */
struct alert_ev {
    struct alert *a;
    struct alertmsg_item it; /* points into storage */
    char *storage;
    char *packed;
    size_t packed_len;
    char *partner, *to, *rcpts;
    char id[ALERT_ID_MAX];          /* "block:PD-XXXXXXXX:<digest>" */
    char user[SANITIZE_BUF];        /* sanitised for the log */
    char ref[ALERTMSG_REF_MAX + 8]; /* sanitised for the log and key names */
    enum alertmsg_kind kind;        /* BLOCK, UNBLOCK or HOLD */
    bool persist;
};

static void alert_arm(struct alert *a);

static void alert_noop(void *arg, int status, const struct track_reply *rep)
{
    (void)arg;
    (void)status;
    (void)rep;
}

/* ---- small helpers ------------------------------------------------------------------- */

int64_t alert_wall(void)
{
    uv_timeval64_t tv;

    uv_gettimeofday(&tv);
    return (int64_t)tv.tv_sec;
}

/* alert_key - "<prefix>1:{alert}:<suffix>"; every alert key shares one Cluster slot. */
const char *alert_key(const struct alert *a, char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(out, len, "%s%s:{alert}:", a->cfg->redis_key_prefix, KEYS_SCHEMA);

    va_start(ap, fmt);
    vsnprintf(out + n, len - (size_t)n, fmt, ap);
    va_end(ap);
    return out;
}

void alert_cmd(struct alert *a, track_cb cb, void *arg, int argc, const char **argv,
                      const size_t *lens)
{
    alertq_command(a->track, cb, arg, argc, argv, lens);
}

/* alert_redis_state - log "unavailable" and "available again" once per change. */
static void alert_redis_state(struct alert *a, int status)
{
    bool down = status == TRACK_ERR_DOWN || status == TRACK_ERR_TIMEOUT;

    if (down && !a->redis_down)
        log_warn("alert: redis unavailable (%s): alerts are sent without de-duplication and "
                 "are not kept across a restart", track_strerror(status));
    else if (status == TRACK_OK && a->redis_down)
        log_info("alert: redis available again");
    if (down || status == TRACK_OK)
        a->redis_down = down;
}

/* alert_add_addr - append addr to a comma-separated list unless it is there already. */
void alert_add_addr(char **list, const char *addr)
{
    size_t n = strlen(addr), have = *list != NULL ? strlen(*list) : 0;
    const char *p = *list;

    while (p != NULL && *p != '\0') {
        size_t k = strcspn(p, ",");

        if (k == n && strncasecmp(p, addr, n) == 0)
            return;
        p += k + (p[k] == ',');
    }
    *list = xrealloc(*list, have + n + 2);
    if (have > 0)
        (*list)[have++] = ',';
    memcpy(*list + have, addr, n + 1);
}

/* ---- single mails and summaries ------------------------------------------------------ */

int alert_build_in(struct alert *a, struct alertmsg_in *in, const char *to, char **msg,
                   size_t *len)
{
    const char *tov[ALERTSEND_RCPT_MAX];
    char *list = xstrdup(to);
    int rc;

    in->from = a->cfg->alert_from;
    in->to = tov;
    in->nto = alertq_split(list, tov, ALERTSEND_RCPT_MAX);
    in->helpdesk = a->cfg->alert_helpdesk;
    in->unblock_mail = a->cfg->alert_on_unblock;
    in->now = alert_wall();
    in->tpl = in->kind < ALERT_TPL_KINDS ? a->tpl[in->kind] : NULL;
    rc = alertmsg_build(in, msg, len);
    free(list);
    return rc;
}

/* alert_build - a message of kind to the comma-separated to list. */
static int alert_build(struct alert *a, enum alertmsg_kind kind, const char *to,
                       const struct alertmsg_item *items, size_t n, size_t more,
                       const char *partner, int64_t window, long long cap, char **msg,
                       size_t *len)
{
    struct alertmsg_in in;

    memset(&in, 0, sizeof(in));
    in.kind = kind;
    in.partner = partner;
    in.window = window;
    in.cap = cap;
    in.items = items;
    in.nitems = n;
    in.more = more;
    return alert_build_in(a, &in, to, msg, len);
}

static const char *alert_kind_name(enum alertmsg_kind k)
{
    return k == ALERTMSG_UNBLOCK ? "unblock" : k == ALERTMSG_HOLD ? "hold" : "block";
}

static void alert_single(struct alert *a, struct alert_ev *ev, const struct alertmsg_detail *d)
{
    char what[ALERT_ID_MAX + SANITIZE_BUF + 32], id[ALERT_ID_MAX + 8], *msg;
    struct alertmsg_in in;
    size_t len;

    snprintf(what, sizeof(what), "%s ref=%s user=%s", alert_kind_name(ev->kind), ev->ref,
             ev->user);
    memset(&in, 0, sizeof(in));
    in.kind = ev->kind;
    in.partner = ev->partner;
    in.items = &ev->it;
    in.nitems = 1;
    in.detail = d;
    if (alert_build_in(a, &in, ev->to, &msg, &len) < 0) {
        log_warn("alert: %s: cannot build the message", what);
        return;
    }
    snprintf(id, sizeof(id), "msg:%s", ev->id);
    alertq_add(a->queue, id, ev->rcpts, msg, len, what, ev->persist);
}

bool alert_detail_keys(const struct alert *a, const char *mailbox, char *blk, char *net,
                       size_t len)
{
    const uint8_t *hk = a->decide != NULL ? decide_hash_key(a->decide) : NULL;
    char enc[KEYS_ENC_SIZE];
    size_t n, k;

    return hk != NULL &&
           keys_encode(mailbox, strlen(mailbox), hk, enc, sizeof(enc), &n) == 0 &&
           keys_name(a->cfg->redis_key_prefix, enc, n, KEYS_SUFFIX_BLOCK, blk, len, &k) == 0 &&
           keys_name(a->cfg->redis_key_prefix, enc, n, KEYS_SUFFIX_NETS, net, len, &k) == 0;
}

static struct alert_ev *alert_ev_free(struct alert_ev *ev);

/* alert_on_detail - the mailbox's networks and counts (alert_detail.lua): the mail. */
static void alert_on_detail(void *arg, int status, const struct track_reply *rep)
{
    struct alert_ev *ev = arg;
    struct alertmsg_net nets[ALERTMSG_NETS_MAX];
    struct alertmsg_detail d = {-1, -1, nets, 0};
    char *names[ALERTMSG_NETS_MAX];
    size_t i;

    if (ev->a->stopping) {
        alert_ev_free(ev);
        return;
    }
    for (i = 0; status == TRACK_OK && i < rep->npairs; i++) {
        const struct track_pair *p = &rep->pairs[i];
        char *sp;

        if (p->name_len == 7 && memcmp(p->name, "refused", 7) == 0 && p->is_int)
            d.refused = p->ival;
        else if (p->name_len == 4 && memcmp(p->name, "held", 4) == 0 && p->is_int)
            d.held = p->ival;
        else if (p->name_len == 3 && memcmp(p->name, "net", 3) == 0 &&
                 d.nnets < ALERTMSG_NETS_MAX) {
            names[d.nnets] = xstrndup(p->sval, p->sval_len);
            nets[d.nnets].net = names[d.nnets];
            nets[d.nnets].last = nets[d.nnets].first = 0;
            if ((sp = strchr(names[d.nnets], ' ')) != NULL) {
                *sp = '\0';
                nets[d.nnets].last = strtoll(sp + 1, &sp, 10) * 300;
                nets[d.nnets].first = strtoll(sp, NULL, 10) * 300;
            }
            d.nnets++;
        }
    }
    if (ev->kind == ALERTMSG_HOLD)
        d.refused = -1; /* the block record of an earlier block says nothing here */
    alert_single(ev->a, ev, status == TRACK_OK ? &d : NULL);
    for (i = 0; i < d.nnets; i++)
        free(names[i]);
    alert_ev_free(ev);
}

/* alert_detail - block and hold mails tell what Redis holds besides the event (one
 * script call); without the hash key or the script the mail goes without it. */
static void alert_detail(struct alert *a, struct alert_ev *ev)
{
    char blk[KEYS_NAME_SIZE], net[KEYS_NAME_SIZE], max[8];
    const char *argv[4] = {"2", blk, net, max};
    size_t lens[4];

    if (a->s_detail < 0 || ev->kind == ALERTMSG_UNBLOCK ||
        !alert_detail_keys(a, ev->it.mailbox, blk, net, sizeof(blk))) {
        alert_single(a, ev, NULL);
        alert_ev_free(ev);
        return;
    }
    snprintf(max, sizeof(max), "%d", ALERTMSG_NETS_MAX);
    lens[0] = 1, lens[1] = strlen(blk), lens[2] = strlen(net), lens[3] = strlen(max);
    track_eval(a->track, a->s_detail, 4, argv, lens, alert_on_detail, ev);
}

static struct alert_batch *alert_batch_free(struct alert_batch *b)
{
    size_t i;

    for (i = 0; i < b->n; i++)
        free(b->packed[i]);
    free(b->packed);
    free(b->partner);
    free(b->to);
    free(b->rcpts);
    free(b);
    return NULL;
}

/* alert_batch_get - the partner's batch; a new one is kept in Redis when persist. */
static struct alert_batch *alert_batch_get(struct alert *a, const char *partner, const char *to,
                                           const char *rcpts, bool persist)
{
    struct alert_batch *b;
    char key[ALERT_KEY_MAX], field[PARTNERMAP_DOMAIN_MAX + 16], *val;
    const char *argv[4] = {"HSET", key, field, NULL};

    for (b = a->batches; b != NULL; b = b->next)
        if (strcmp(b->partner, partner) == 0)
            return b;
    b = xcalloc(1, sizeof(*b));
    b->partner = xstrdup(partner);
    b->to = xstrdup(to);
    b->rcpts = xstrdup(rcpts);
    b->packed = xcalloc(ALERT_BATCH_MAX, sizeof(char *));
    b->due = uv_now(a->loop) + (uint64_t)a->cfg->alert_digest_window_ms;
    b->next = a->batches;
    a->batches = b;
    if (persist) {
        val = xmalloc(strlen(partner) + strlen(to) + strlen(rcpts) + 8);
        sprintf(val, "B1 %s %s %s", partner, to, rcpts);
        argv[3] = val;
        snprintf(field, sizeof(field), "batch:%s", partner);
        alert_key(a, key, sizeof(key), "pending:%s", a->node);
        alert_cmd(a, alert_noop, NULL, 4, argv, NULL);
        free(val);
    }
    return b;
}

/* alert_batch_add - past the cap: the event waits for its partner's summary. */
static void alert_batch_add(struct alert *a, struct alert_ev *ev, const char *why)
{
    struct alert_batch *b = alert_batch_get(a, ev->partner, ev->to, ev->rcpts, ev->persist);
    char key[ALERT_KEY_MAX], *line;
    const char *argv[3] = {"APPEND", key, NULL};
    size_t lens[3];

    a->stats.digested++;
    if (b->n == ALERT_BATCH_MAX) {
        b->more++;
    } else {
        b->packed[b->n++] = xstrndup(ev->packed, ev->packed_len);
        if (ev->persist) {
            line = xmalloc(ev->packed_len + 1);
            memcpy(line, ev->packed, ev->packed_len);
            line[ev->packed_len] = '\n';
            argv[2] = line;
            alert_key(a, key, sizeof(key), "batch:%s:%s", a->node, b->partner);
            lens[0] = 6, lens[1] = strlen(key), lens[2] = ev->packed_len + 1;
            alert_cmd(a, alert_noop, NULL, 3, argv, lens);
            free(line);
        }
    }
    log_info("alert: %s ref=%s user=%s for %s: %s: into the summary",
             ev->it.unblock ? "unblock" : "block", ev->ref, ev->user, b->partner, why);
    alert_arm(a);
}

/* alert_batch_forget - the batch's entry and events leave Redis. */
static void alert_batch_forget(struct alert *a, const struct alert_batch *b)
{
    char key[ALERT_KEY_MAX], pkey[ALERT_KEY_MAX], field[PARTNERMAP_DOMAIN_MAX + 16];
    const char *del[2] = {"DEL", key}, *hdel[3] = {"HDEL", pkey, field};

    alert_key(a, key, sizeof(key), "batch:%s:%s", a->node, b->partner);
    alert_cmd(a, alert_noop, NULL, 2, del, NULL);
    alert_key(a, pkey, sizeof(pkey), "pending:%s", a->node);
    snprintf(field, sizeof(field), "batch:%s", b->partner);
    alert_cmd(a, alert_noop, NULL, 3, hdel, NULL);
}

/* alert_batch_flush - the summary mail of one batch; the batch goes. */
static void alert_batch_flush(struct alert *a, struct alert_batch *b)
{
    struct alertmsg_item *items = xcalloc(b->n + 1, sizeof(*items));
    char **store = xcalloc(b->n + 1, sizeof(char *));
    char id[PARTNERMAP_DOMAIN_MAX + 64], what[PARTNERMAP_DOMAIN_MAX + 64], *msg;
    size_t i, n = 0, len;

    for (i = 0; i < b->n; i++)
        if (alertmsg_item_unpack(b->packed[i], strlen(b->packed[i]), &items[n], &store[n]) == 0)
            n++;
    snprintf(what, sizeof(what), "summary partner=%s events=%zu", b->partner, n + b->more);
    if (alert_build(a, ALERTMSG_DIGEST, b->to, items, n, b->more, b->partner,
                    a->cfg->alert_digest_window_ms / 1000, a->cfg->alert_partner_hourly_cap,
                    &msg, &len) == 0) {
        snprintf(id, sizeof(id), "msg:digest:%s:%llu", b->partner,
                 (unsigned long long)uv_now(a->loop));
        alertq_add(a->queue, id, b->rcpts, msg, len, what, true);
    }
    alert_batch_forget(a, b);
    for (i = 0; i < n; i++)
        free(store[i]);
    free(store);
    free(items);
    alert_batch_free(b);
}

/* alert_flush_due - every batch whose window has passed. */
static void alert_flush_due(struct alert *a)
{
    struct alert_batch **p = &a->batches, *b;
    uint64_t now = uv_now(a->loop);

    while ((b = *p) != NULL) {
        if (b->due <= now) {
            *p = b->next;
            alert_batch_flush(a, b);
        } else {
            p = &b->next;
        }
    }
}

/* ---- the wave detector --------------------------------------------------------------- */

/* alert_on_wave_list - the newest blocks ("<ref> <mailbox>" with their time): the mail. */
static void alert_on_wave_list(void *arg, int status, const struct track_reply *rep)
{
    struct alert *a = arg;
    struct alertmsg_item items[ALERT_WAVE_LIST];
    char *names[ALERT_WAVE_LIST], *desk = NULL, *msg, what[64], id[64];
    size_t i, n = 0, len;
    long long total = a->wave_count, win = a->cfg->alert_wave_window_ms / 1000;

    log_warn("alert: mass compromise: %lld mailboxes blocked within %lld s (threshold %lld)",
             total, win, a->cfg->alert_wave_threshold);
    if (a->stopping || status != TRACK_OK)
        return;
    for (i = 0; i < a->cfg->alert_abuse_desk.n; i++)
        alert_add_addr(&desk, a->cfg->alert_abuse_desk.v[i]);
    if (desk == NULL) {
        log_warn("alert: no alert_abuse_desk to tell about the mass compromise");
        return;
    }
    for (i = 0; i < rep->npairs && n < ALERT_WAVE_LIST; i++) {
        char *sp;

        names[n] = xstrndup(rep->pairs[i].name, rep->pairs[i].name_len);
        memset(&items[n], 0, sizeof(items[n]));
        sp = strchr(names[n], ' ');
        items[n].ref = names[n];
        items[n].mailbox = sp != NULL ? sp + 1 : "";
        if (sp != NULL)
            *sp = '\0';
        items[n].at = strtoll(rep->pairs[i].sval, NULL, 10);
        n++;
    }
    snprintf(what, sizeof(what), "mass-compromise blocks=%lld", total);
    if (alert_build(a, ALERTMSG_WAVE, desk, items, n, total > (long long)n ? (size_t)total - n : 0,
                    "", win, a->cfg->alert_wave_threshold, &msg, &len) == 0) {
        a->stats.waves++;
        snprintf(id, sizeof(id), "msg:wave:%lld", (long long)alert_wall());
        alertq_add(a->queue, id, desk, msg, len, what, true);
    }
    for (i = 0; i < n; i++)
        free(names[i]);
    free(desk);
}

static void alert_on_wave_won(void *arg, int status, const struct track_reply *rep)
{
    struct alert *a = arg;
    char key[ALERT_KEY_MAX], stop[16];
    const char *argv[5] = {"ZREVRANGE", key, "0", stop, "WITHSCORES"};

    if (a->stopping || status != TRACK_OK || rep->npairs != 1 || rep->pairs[0].sval_len != 2)
        return; /* another node tells the abuse desk */
    snprintf(stop, sizeof(stop), "%d", ALERT_WAVE_LIST - 1);
    alert_key(a, key, sizeof(key), "wave");
    alert_cmd(a, alert_on_wave_list, a, 5, argv, NULL);
}

static void alert_on_wave_count(void *arg, int status, const struct track_reply *rep)
{
    struct alert *a = arg;
    char key[ALERT_KEY_MAX], px[24];
    const char *argv[6] = {"SET", key, a->node, "NX", "PX", px};

    if (a->stopping || status != TRACK_OK || rep->npairs != 1 || !rep->pairs[0].is_int ||
        rep->pairs[0].ival < a->cfg->alert_wave_threshold)
        return;
    a->wave_count = rep->pairs[0].ival;
    snprintf(px, sizeof(px), "%lld", (long long)a->cfg->alert_wave_window_ms);
    alert_key(a, key, sizeof(key), "wave-sent");
    alert_cmd(a, alert_on_wave_won, a, 6, argv, NULL);
}

/* alert_wave_add - count a block in the service-wide window (wall-clock scores). */
static void alert_wave_add(struct alert *a, const struct alert_ev *ev)
{
    char key[ALERT_KEY_MAX], now[24], old[24], ttl[24], *member;
    int64_t t = alert_wall(), win = a->cfg->alert_wave_window_ms / 1000;
    const char *zadd[4] = {"ZADD", key, now, NULL};
    const char *zrem[4] = {"ZREMRANGEBYSCORE", key, "-inf", old};
    const char *exp[3] = {"EXPIRE", key, ttl}, *zcard[2] = {"ZCARD", key};
    size_t lens[4];

    member = xmalloc(strlen(ev->it.ref) + strlen(ev->it.mailbox) + 2);
    sprintf(member, "%s %s", ev->it.ref, ev->it.mailbox);
    zadd[3] = member;
    alert_key(a, key, sizeof(key), "wave");
    snprintf(now, sizeof(now), "%lld", (long long)t);
    snprintf(old, sizeof(old), "(%lld", (long long)(t - win));
    snprintf(ttl, sizeof(ttl), "%lld", (long long)win + 60);
    lens[0] = 4, lens[1] = strlen(key), lens[2] = strlen(now), lens[3] = strlen(member);
    alert_cmd(a, alert_noop, NULL, 4, zadd, lens);
    alert_cmd(a, alert_noop, NULL, 4, zrem, NULL);
    alert_cmd(a, alert_noop, NULL, 3, exp, NULL);
    alert_cmd(a, alert_on_wave_count, a, 2, zcard, NULL);
    free(member);
}

/* ---- events -------------------------------------------------------------------------- */

static struct alert_ev *alert_ev_free(struct alert_ev *ev)
{
    free(ev->storage);
    free(ev->packed);
    free(ev->partner);
    free(ev->to);
    free(ev->rcpts);
    free(ev);
    return NULL;
}

/* alert_route_mailbox - To: the partner (else the abuse desk); envelope: both. */
bool alert_route_mailbox(struct alert *a, const char *mb, char **partner, char **to,
                         char **rcpts)
{
    const struct partnermap_entry *e = partnermap_lookup_mailbox(a->map, mb, strlen(mb));
    const struct cfg_list *desk = &a->cfg->alert_abuse_desk;
    size_t i;

    *partner = *to = *rcpts = NULL;
    if (e != NULL)
        for (i = 0; i < e->nrcpt; i++)
            alert_add_addr(to, e->rcpt[i]);
    else
        for (i = 0; i < desk->n; i++)
            alert_add_addr(to, desk->v[i]);
    if (*to == NULL)
        return false;
    *rcpts = xstrdup(*to);
    for (i = 0; i < desk->n; i++)
        alert_add_addr(rcpts, desk->v[i]);
    *partner = xstrdup(e != NULL ? e->key : "-");
    return true;
}

static bool alert_route(struct alert *a, struct alert_ev *ev)
{
    return alert_route_mailbox(a, ev->it.mailbox, &ev->partner, &ev->to, &ev->rcpts);
}

static void alert_on_cap(void *arg, int status, const struct track_reply *rep)
{
    struct alert_ev *ev = arg;
    struct alert *a = ev->a;

    bool over = status == TRACK_OK && rep->npairs == 1 && rep->pairs[0].is_int &&
                rep->pairs[0].ival > a->cfg->alert_partner_hourly_cap;
    bool full = alertq_length(a->queue) >= ALERT_QUEUE_MAX;

    if (!a->stopping && ev->kind == ALERTMSG_HOLD && (over || full)) {
        /* a summary lists blocks and unblocks; a hold past the cap is only logged */
        a->stats.holds_capped++;
        log_info("alert: hold ref=%s user=%s for %s: %s: not mailed", ev->ref, ev->user,
                 ev->partner, over ? "over the hourly cap" : "the queue is full");
    } else if (!a->stopping && (over || full)) {
        alert_batch_add(a, ev, over ? "over the hourly cap" : "the queue is full");
    } else if (!a->stopping) {
        alert_detail(a, ev); /* takes ev */
        return;
    }
    alert_ev_free(ev);
}

static void alert_on_dedup(void *arg, int status, const struct track_reply *rep)
{
    struct alert_ev *ev = arg;
    struct alert *a = ev->a;
    char key[ALERT_KEY_MAX], hour[24];
    const char *incr[2] = {"INCR", key}, *exp[3] = {"EXPIRE", key, ALERT_CAP_TTL};

    alert_redis_state(a, status);
    if (a->stopping) {
        alert_ev_free(ev);
        return;
    }
    if (status == TRACK_OK && !(rep->npairs == 1 && rep->pairs[0].sval_len == 2 &&
                                memcmp(rep->pairs[0].sval, "OK", 2) == 0)) {
        a->stats.duplicates++;
        log_info("alert: %s ref=%s user=%s: already alerted", alert_kind_name(ev->kind),
                 ev->ref, ev->user);
        alert_ev_free(ev);
        return;
    }
    ev->persist = status == TRACK_OK;
    if (ev->persist && ev->kind == ALERTMSG_BLOCK && a->cfg->alert_wave_threshold > 0)
        alert_wave_add(a, ev);
    if (!ev->persist || a->cfg->alert_partner_hourly_cap == 0) {
        alert_on_cap(ev, TRACK_ERR_DOWN, NULL);
        return;
    }
    snprintf(hour, sizeof(hour), "%lld", (long long)(alert_wall() / 3600));
    alert_key(a, key, sizeof(key), "cap:%s:%s", ev->partner, hour);
    alert_cmd(a, alert_on_cap, ev, 2, incr, NULL);
    alert_cmd(a, alert_noop, NULL, 3, exp, NULL);
}

/* alert_ev_new - a private copy of the event (through its packed form) and its route. */
static struct alert_ev *alert_ev_new(struct alert *a, const struct pd_event *pe)
{
    struct alert_ev *ev = xcalloc(1, sizeof(*ev));
    struct alertmsg_item it = {pe->type == PD_EVENT_UNBLOCK, pe->mailbox, pe->ref, pe->reason,
                               pe->rules, pe->by, pe->condition, pe->score, pe->at};
    char sha[41], day[24] = "";

    ev->a = a;
    ev->kind = pe->type == PD_EVENT_UNBLOCK ? ALERTMSG_UNBLOCK
               : pe->type == PD_EVENT_HOLD  ? ALERTMSG_HOLD
                                            : ALERTMSG_BLOCK;
    if (alertmsg_item_pack(&it, &ev->packed, &ev->packed_len) < 0 ||
        alertmsg_item_unpack(ev->packed, ev->packed_len, &ev->it, &ev->storage) < 0) {
        log_warn("alert: event for user=%s cannot be kept (too long): dropped",
                 sanitize_log(ev->user, sizeof(ev->user), pe->mailbox,
                              pe->mailbox != NULL ? strlen(pe->mailbox) : 0));
        return alert_ev_free(ev);
    }
    sanitize_log(ev->user, sizeof(ev->user), ev->it.mailbox, strlen(ev->it.mailbox));
    sanitize_log(ev->ref, sizeof(ev->ref), ev->it.ref, strlen(ev->it.ref));
    sha1_hex(ev->it.mailbox, strlen(ev->it.mailbox), sha);
    if (ev->kind == ALERTMSG_HOLD) /* one hold incident per mailbox and day */
        snprintf(day, sizeof(day), ":%lld", (long long)(ev->it.at / 86400));
    snprintf(ev->id, sizeof(ev->id), "%s:%s:%.12s%s", alert_kind_name(ev->kind), ev->ref, sha,
             day);
    if (!alert_route(a, ev)) {
        a->stats.no_rcpt++;
        log_warn("alert: %s ref=%s user=%s: no partner and no alert_abuse_desk: nobody told",
                 alert_kind_name(ev->kind), ev->ref, ev->user);
        return alert_ev_free(ev);
    }
    return ev;
}

static void alert_on_event(void *arg, const struct pd_event *pe)
{
    struct alert *a = arg;
    const struct pd_config *cfg = a->cfg;
    struct alert_ev *ev;
    char key[ALERT_KEY_MAX];
    const char *argv[6] = {"SET", key, a->node, "NX", "EX", ALERT_DEDUP_TTL};

    if (a->stopping || !cfg->alert_enabled)
        return;
    if (pe->type == PD_EVENT_UNBLOCK) { /* for the daily digests of any node */
        struct alertmsg_item it = {true, pe->mailbox, pe->ref, pe->reason, pe->rules,
                                   pe->by, pe->condition, pe->score, pe->at};

        alertdigest_note_unblock(a, &it);
    }
    if ((pe->type == PD_EVENT_BLOCK && !cfg->alert_on_block) ||
        (pe->type == PD_EVENT_UNBLOCK && !cfg->alert_on_unblock) ||
        (pe->type == PD_EVENT_HOLD && !cfg->alert_on_hold) ||
        (pe->type != PD_EVENT_BLOCK && pe->type != PD_EVENT_UNBLOCK &&
         pe->type != PD_EVENT_HOLD))
        return;
    a->stats.events++;
    if ((ev = alert_ev_new(a, pe)) == NULL)
        return;
    if (ev->kind == ALERTMSG_HOLD)
        argv[5] = ALERT_HOLD_TTL;
    alert_key(a, key, sizeof(key), "inc:%s", ev->id);
    alert_cmd(a, alert_on_dedup, ev, 6, argv, NULL);
}

/* ---- batches of an earlier run ------------------------------------------------------- */

/* Batch restore context: the GET of a batch's events. */
struct alert_restore {
    struct alert *a;
    char *partner, *to, *rcpts;
};

static struct alert_restore *alert_restore_free(struct alert_restore *r)
{
    free(r->partner);
    free(r->to);
    free(r->rcpts);
    free(r);
    return NULL;
}

/* alert_on_batch_restore - the stored events; they replace what this run has of the
 * batch when they are at least as many (the stored list holds this run's appends too). */
static void alert_on_batch_restore(void *arg, int status, const struct track_reply *rep)
{
    struct alert_restore *r = arg;
    struct alert *a = r->a;
    struct alert_batch *b;
    const char *s, *end, *nl;
    size_t n = 0;

    if (a->stopping || status != TRACK_OK || rep->npairs != 1 || rep->pairs[0].is_int) {
        alert_restore_free(r);
        return;
    }
    b = alert_batch_get(a, r->partner, r->to, r->rcpts, false);
    end = rep->pairs[0].sval + rep->pairs[0].sval_len;
    for (s = rep->pairs[0].sval; s < end; s = nl + 1) {
        if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
            nl = end;
        n += nl > s;
    }
    if (n >= b->n) {
        a->stats.restored += n - b->n;
        while (b->n > 0)
            free(b->packed[--b->n]);
        for (s = rep->pairs[0].sval; s < end && b->n < ALERT_BATCH_MAX; s = nl + 1) {
            if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
                nl = end;
            if (nl > s)
                b->packed[b->n++] = xstrndup(s, (size_t)(nl - s));
        }
    }
    alert_arm(a);
    alert_restore_free(r);
}

/* alert_tok - the next space-separated word of a strtok_r scan, copied ("" at the end). */
static char *alert_tok(char **save)
{
    const char *t = strtok_r(NULL, " ", save);

    return xstrdup(t != NULL ? t : "");
}

/* alert_restore_batch - alertq's other(): "B1 <partner> <to> <rcpts>", fetch its events.
 * false for anything else (the queue then drops the entry). */
static bool alert_restore_batch(void *arg, const char *v, size_t len)
{
    struct alert *a = arg;
    struct alert_restore *r;
    char *copy, *save = NULL, key[ALERT_KEY_MAX];
    const char *argv[2] = {"GET", key};

    if (len < 4 || memcmp(v, "B1 ", 3) != 0 || memchr(v, '\0', len) != NULL)
        return false;
    r = xcalloc(1, sizeof(*r));
    copy = xstrndup(v, len);
    r->a = a;
    strtok_r(copy, " ", &save);
    r->partner = alert_tok(&save);
    r->to = alert_tok(&save);
    r->rcpts = alert_tok(&save);
    free(copy);
    if (r->partner[0] == '\0' || r->to[0] == '\0' || r->rcpts[0] == '\0') {
        alert_restore_free(r);
        return false;
    }
    alert_key(a, key, sizeof(key), "batch:%s:%s", a->node, r->partner);
    alert_cmd(a, alert_on_batch_restore, r, 2, argv, NULL);
    return true;
}

/* ---- the timer ----------------------------------------------------------------------- */

static void alert_on_wake(uv_timer_t *t)
{
    struct alert *a = t->data;

    if (a->stopping)
        return;
    alert_flush_due(a);
    alert_arm(a);
}

/* alert_arm - wake when the next batch is due. */
static void alert_arm(struct alert *a)
{
    uint64_t now = uv_now(a->loop), next = UINT64_MAX;
    const struct alert_batch *b;

    if (a->stopping)
        return;
    for (b = a->batches; b != NULL; b = b->next)
        next = b->due < next ? b->due : next;
    if (next == UINT64_MAX)
        uv_timer_stop(&a->wake);
    else
        uv_timer_start(&a->wake, alert_on_wake, next > now ? next - now : 0, 0);
}

/* ---- life cycle ---------------------------------------------------------------------- */

/* alert_load_map - the partner map file; 0, or -1 and a message. */
static int alert_load_map(const char *path, struct partnermap **out, char *msg, size_t len)
{
    struct pd_err err = {{0}, 0};
    struct stat st;
    char *buf;
    ssize_t n = 0, got;
    int fd, rc;

    *out = NULL;
    if (path[0] == '\0')
        return 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 || fstat(fd, &st) < 0 ||
        !S_ISREG(st.st_mode) || st.st_size > ALERT_MAP_MAX) {
        snprintf(msg, len, "alert_partner_map %s: %s", path,
                 fd < 0 ? strerror(errno) : "not a regular file of at most 16 MB");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    buf = xmalloc((size_t)st.st_size + 1);
    while (n < st.st_size && ((got = read(fd, buf + n, (size_t)(st.st_size - n))) > 0 ||
                              (got < 0 && errno == EINTR)))
        n += got > 0 ? got : 0;
    close(fd);
    rc = partnermap_parse(buf, (size_t)n, out, &err);
    free(buf);
    if (rc < 0) {
        snprintf(msg, len, "alert_partner_map %s:%d: %s", path, err.line, err.msg);
        return -1;
    }
    return 0;
}

/* The template file of each mail kind (alert_template_dir). */
static const char *const alert_tpl_files[ALERT_TPL_KINDS] = {
    NULL, "block.txt", "unblock.txt", "summary.txt", "wave.txt", "hold.txt", "digest.txt"};

/* alert_load_templates - the files of dir (a missing one: the built-in text); 0, or -1
 * and a message (out then holds nothing). */
static int alert_load_templates(const char *dir, struct alerttpl **out, char *msg, size_t len)
{
    char path[ALERT_PATH_MAX], *buf;
    struct pd_err err;
    struct stat st;
    ssize_t n, got;
    size_t k;
    int fd, i, rc;

    memset(out, 0, ALERT_TPL_KINDS * sizeof(*out));
    for (i = 1; i < ALERT_TPL_KINDS && dir[0] != '\0'; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, alert_tpl_files[i]);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0 &&
            errno == ENOENT)
            continue;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
            st.st_size > ALERTTPL_FILE_MAX) {
            snprintf(msg, len, "alert template %.300s: %s", path,
                     fd < 0 ? strerror(errno) : "not a regular file of at most 64 KB");
            rc = -1;
        } else {
            buf = xmalloc((size_t)st.st_size + 1);
            for (n = 0; n < st.st_size;) {
                if ((got = read(fd, buf + n, (size_t)(st.st_size - n))) < 0 && errno == EINTR)
                    continue;
                if (got <= 0)
                    break;
                n += got;
            }
            rc = alerttpl_parse(buf, (size_t)n, alertmsg_tpl_names, &out[i], &err);
            free(buf);
            if (rc < 0)
                snprintf(msg, len, "alert template %.300s:%d: %.150s", path, err.line, err.msg);
        }
        if (fd >= 0)
            close(fd);
        if (rc < 0) {
            for (k = 0; k < ALERT_TPL_KINDS; k++)
                out[k] = alerttpl_free(out[k]);
            return -1;
        }
    }
    return 0;
}

static void alert_set_templates(struct alert *a, struct alerttpl **tpl)
{
    size_t i;

    a->stats.templates = 0;
    for (i = 0; i < ALERT_TPL_KINDS; i++) {
        alerttpl_free(a->tpl[i]);
        a->tpl[i] = tpl[i];
        a->stats.templates += tpl[i] != NULL;
    }
}

/* alert_node_name - this node's name in the pending key: host and first listener. */
static char *alert_node_name(const struct pd_config *cfg)
{
    char host[256], *out;

    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    out = xmalloc(strlen(host) + 2 + (cfg->listen.n > 0 ? strlen(cfg->listen.v[0]) : 1));
    sprintf(out, "%s/%s", host, cfg->listen.n > 0 ? cfg->listen.v[0] : "-");
    return out;
}

struct alert *alert_new(uv_loop_t *loop, struct pd_config *cfg, struct decide *decide)
{
    struct alert *a = xcalloc(1, sizeof(*a));
    struct alerttpl *tpl[ALERT_TPL_KINDS];
    char msg[512], key[ALERT_KEY_MAX];

    a->loop = loop;
    a->cfg = cfg_ref(cfg);
    a->decide = decide;
    a->track = decide_track(decide);
    a->s_detail = track_script_index(a->track, "alert_detail");
    a->node = alert_node_name(cfg);
    if (alert_load_map(cfg->alert_partner_map, &a->map, msg, sizeof(msg)) < 0)
        log_fatal("%s", msg);
    if (alert_load_templates(cfg->alert_template_dir, tpl, msg, sizeof(msg)) < 0)
        log_fatal("%s", msg);
    alert_set_templates(a, tpl);
    uv_timer_init(loop, &a->wake);
    a->wake.data = a;
    a->queue = alertq_new(loop, a->track, alert_key(a, key, sizeof(key), "pending:%s", a->node),
                          alert_restore_batch, a);
    alertq_reconfigure(a->queue, a->cfg);
    if (events_subscribe(alert_on_event, a) < 0)
        log_panic("alert: no room for another event subscriber");
    alertdigest_start(a);
    if (cfg->alert_enabled)
        log_info("alert: partner alerts on: %zu map entries, abuse desk %s, node %s",
                 partnermap_count(a->map), cfg->alert_abuse_desk.n > 0 ? "set" : "unset",
                 a->node);
    return a;
}

void alert_reconfigure(struct alert *a, struct pd_config *cfg)
{
    struct alerttpl *tpl[ALERT_TPL_KINDS];
    struct partnermap *map;
    char msg[512];

    if (alert_load_templates(cfg->alert_template_dir, tpl, msg, sizeof(msg)) < 0)
        log_warn("reload: %s; keeping the previous templates", msg);
    else
        alert_set_templates(a, tpl);
    if (alert_load_map(cfg->alert_partner_map, &map, msg, sizeof(msg)) < 0) {
        log_warn("reload: %s; keeping the previous partner map", msg);
    } else {
        partnermap_free(a->map);
        a->map = map;
    }
    cfg_ref(cfg);
    alertq_reconfigure(a->queue, cfg);
    cfg_unref(a->cfg);
    a->cfg = cfg;
    alert_arm(a);
}

void alert_get_stats(const struct alert *a, struct alert_stats *out)
{
    struct alertq_stats q;

    alertq_get_stats(a->queue, &q);
    *out = a->stats;
    out->sent = q.sent;
    out->failures = q.failures;
    out->given_up = q.given_up;
    out->restored += q.restored;
}

void alert_stop(struct alert *a)
{
    const struct alert_batch *b;
    struct alert_stats st;
    size_t waiting = 0;

    if (a == NULL || a->stopping)
        return;
    for (b = a->batches; b != NULL; b = b->next)
        waiting += b->n;
    a->stopping = true;
    events_unsubscribe(alert_on_event, a);
    uv_timer_stop(&a->wake);
    uv_close((uv_handle_t *)&a->wake, NULL);
    alertdigest_stop(a);
    alertq_stop(a->queue);
    alert_get_stats(a, &st);
    log_info("alert: stopped: %llu sent, %llu failed attempts, %llu given up, %llu duplicates, "
             "%llu summarised; %zu mails and %zu summary events left for the next start",
             (unsigned long long)st.sent, (unsigned long long)st.failures,
             (unsigned long long)st.given_up, (unsigned long long)st.duplicates,
             (unsigned long long)st.digested, alertq_length(a->queue), waiting);
}

struct alert *alert_free(struct alert *a)
{
    struct alert_batch *b;
    size_t i;

    if (a == NULL)
        return NULL;
    a->queue = alertq_free(a->queue);
    while ((b = a->batches) != NULL) {
        a->batches = b->next;
        alert_batch_free(b);
    }
    partnermap_free(a->map);
    for (i = 0; i < ALERT_TPL_KINDS; i++)
        a->tpl[i] = alerttpl_free(a->tpl[i]);
    cfg_unref(a->cfg);
    free(a->node);
    free(a);
    return NULL;
}
