/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      poller - auto-unblock after a password change (LDAP, Active Directory)
 * SYNOPSIS
 *      poller_new(srv); poller_stop(p); poller_get_stats(p, &stats); poller_free(p)
 * DESCRIPTION
 *      A round, every ldap_poll_interval (start to start) while ldap_uri is set:
 *
 *      1. Lock: ldaplock.lua takes (or renews) "<prefix>1:ldappoll" for this host and
 *         config file, so that of several policyd nodes sharing one Redis one polls the
 *         directory. A node that dies lets the lock lapse after twice the interval plus
 *         ldap_timeout; the same node restarted takes it back at once.
 *      2. List: the index of blocked mailboxes ("<prefix>1:blocked", member = mailbox,
 *         score = created) is read POLLER_PAGE members at a time (a track reply holds at
 *         most TRACK_MAX_PAIRS pairs), then each block record with HGETALL, at most
 *         POLLER_WINDOW in flight, so the request path's commands never queue behind a
 *         burst. Blocks waiting for "password-change" are kept; an index member without
 *         a record is dropped from the index (index_remove.lua, compare on the score).
 *      3. Query: ldap_batch_size mailboxes per batch go to a libuv worker thread, where
 *         ldapdir does one paged OR-search (blocking libldap calls, off the loop).
 *      4. Decide: back on the loop thread, ldaptime_judge() says for each entry whether
 *         the password changed after the block's created-at plus ldap_clock_skew. Each
 *         such block is cleared with unblock.lua (compare-and-delete on its reference
 *         id: a newer block is never cleared by an answer about an older one), which
 *         writes the history and starts probation; then the mailbox leaves the index,
 *         PD_EVENT_UNBLOCK goes out, and "unblocked: user=... ref=...
 *         reason=password-change changed=<time>" is logged. Then the next batch.
 *
 *      Nothing is ever unblocked on an error. A missing, ambiguous, attribute-less or
 *      admin-reset entry keeps its block and is logged once per block (pollnote(3)). A
 *      directory failure ends the round: "ldap unavailable" is logged once, the next
 *      round comes after a backoff (1 s doubling up to the interval), and "ldap
 *      available again" is logged once. Redis trouble ends the round quietly (track logs
 *      it) until the next interval.
 *
 *      The file is above the style guide's ~800 lines: the round is one state machine
 *      (lock, list, read, query, decide, unblock) whose steps share struct poller_round;
 *      splitting it would mean a private header for that struct and little else.
 *
 *      Each round takes a reference on the current config (a reload applies from the
 *      next round; ldapdir reconnects when the connection settings changed) and copies
 *      what the worker needs, so the worker thread never touches the config, Redis or
 *      the log. One worker job is in flight at most; the LDAP handle is only used there.
 *
 *      Ownership: main owns the poller. poller_stop() (on SIGTERM) stops the timer and
 *      raises the stop flag that makes the worker abandon its search within 100 ms; calls
 *      in flight still complete (track answers every call). poller_free() runs after the
 *      loop has ended, and unbinds.
 * DIAGNOSTICS
 *      Logs as above; the summary of a round at info level when it unblocked or noted
 *      something, else at debug: "ldap poll: blocked=N waiting=N batches=N searches=N
 *      entries=N unblocked=N kept=N time=Xms (redis Xms, ldap Xms)".
 * SEE ALSO
 *      ldapdir(3), ldaptime(3), ldapesc(3), ratelimit/lua/unblock.lua, index_remove.lua,
 *      ldaplock.lua, docs/ldap.md
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "ldap/ldapdir.h"
#include "ldap/ldaptime.h"
#include "ldap/pollnote.h"
#include "ldap/poller.h"
#include "policyd/config.h"
#include "policyd/decide.h"
#include "policyd/events.h"
#include "policyd/log.h"
#include "policyd/sanitize.h"
#include "policyd/server.h"
#include "policyd/util.h"
#include "ratelimit/keys.h"
#include "ratelimit/track.h"

#define POLLER_FIRST_MS 1000       /* the first round, after start-up */
#define POLLER_NOT_READY_MS 1000   /* Redis or the hash key not there yet */
#define POLLER_PAGE 127            /* index members per ZRANGE (pairs per reply - 1) */
#define POLLER_WINDOW 32           /* block-record reads in flight */
#define POLLER_MAX_BLOCKED 1000000 /* index members read per round */
#define POLLER_HISTORY_MAX 50      /* as decide.c writes it */
#define POLLER_HISTORY_TTL (400LL * 86400)
#define POLLER_BACKOFF_MIN_MS 1000
#define POLLER_REF_MAX 64
#define POLLER_FIELD_MAX 32

enum poller_phase { POLLER_LOCK, POLLER_LIST, POLLER_READ, POLLER_QUERY };

/* Why a block was kept, noted so that it is logged once per block. */
enum poller_note {
    POLLER_NOTE_NONE = 0,
    POLLER_NOTE_MISSING,
    POLLER_NOTE_AMBIGUOUS,
    POLLER_NOTE_NO_LOOKUP,
    POLLER_NOTE_NO_ATTR,
    POLLER_NOTE_BAD_VALUE,
    POLLER_NOTE_MUST_CHANGE,
};

struct poller_cand {
    char *mailbox;
    size_t len;
    char score[POLLER_FIELD_MAX]; /* the index score as read: index_remove compares it */
    char ref[POLLER_REF_MAX];
    char reason[POLLER_FIELD_MAX];
    int64_t created;
    int64_t changed; /* the password change that unblocks it (-1: an admin reset) */
    bool waiting;    /* the record is there and waits for a password change */
};

struct poller_round {
    struct pd_config *cfg; /* referenced for the round */
    struct track *track;
    uint8_t hash_key[SIPHASH_KEY_LEN];
    struct ldapdir_params params;
    struct ldaptime_policy pol;
    enum poller_phase phase;
    struct poller_cand *c;
    size_t n, cap, next_read;
    size_t list_pos; /* index members listed so far (kept or not) */
    size_t *wait;    /* indexes of the waiting candidates */
    size_t nwait, batch_start;
    unsigned pending; /* Redis calls not answered yet */
    bool job_busy;
    bool failed;      /* Redis failed: finish what is in flight, then end */
    bool ldap_failed; /* the directory failed: end, retry after the backoff */
    bool list_done;
    uint64_t started;
    uint64_t read_ns; /* lock, list and read: the Redis part */
    uint64_t ldap_ns; /* the worker jobs, summed */
    unsigned batches, searches, entries, unblocked, kept, noted;
};

struct poller_job {
    uv_work_t req;
    struct poller *p;
    struct ldapdir *dir;                 /* used by the worker only while the job runs */
    const struct ldapdir_params *params; /* the round's, immutable while the job runs */
    const atomic_bool *stop;
    struct ldapdir_item *items;
    size_t n;
    int rc;
    uint64_t ns; /* time in the worker */
    struct ldapdir_report rep;
};

struct poller {
    struct pd_server *srv;
    uv_timer_t timer;
    struct ldapdir *dir;
    atomic_bool stop_flag;
    bool stopping;
    bool advancing, again;
    struct poller_round *round;
    struct pollnote notes;
    uint32_t gen;
    char token[320]; /* the lock value: this host and config file */
    unsigned backoff_ms;
    bool dir_up; /* the state last logged */
    uint64_t down_since;
    int s_unblock, s_unindex, s_lock;
    struct poller_stats stats;
};

static void poller_advance(struct poller *p);
static void poller_tick(uv_timer_t *t);

static int64_t poller_wall_s(void)
{
    uv_timeval64_t tv;

    uv_gettimeofday(&tv);
    return (int64_t)tv.tv_sec;
}

static bool poller_eq(const struct track_pair *pr, const char *name)
{
    return pr->name_len == strlen(name) && memcmp(pr->name, name, pr->name_len) == 0;
}

static void poller_copy(char *dst, size_t size, const struct track_pair *pr)
{
    snprintf(dst, size, "%.*s", (int)pr->sval_len, pr->sval);
}

/* poller_int - a decimal field of a record; 0 when it is not one. */
static int64_t poller_int(const struct track_pair *pr)
{
    char buf[POLLER_FIELD_MAX], *end;
    long long v;

    if (pr->is_int)
        return pr->ival;
    if (pr->sval_len == 0 || pr->sval_len >= sizeof(buf))
        return 0;
    poller_copy(buf, sizeof(buf), pr);
    v = strtoll(buf, &end, 10);
    return *end == '\0' ? v : 0;
}

/* poller_note - record why c is kept; true when that is news (to be logged). */
static bool poller_note(struct poller *p, const struct poller_cand *c, enum poller_note note)
{
    uint64_t key = pollnote_key(c->ref, strlen(c->ref), c->mailbox, c->len);

    return pollnote_set(&p->notes, key, (uint8_t)note, p->gen);
}

/* ---- directory state ----------------------------------------------------------------- */

static void poller_dir_down(struct poller *p, const struct poller_round *r, const char *err)
{
    unsigned max = (unsigned)(r->cfg->ldap_poll_interval_ms > 0 ? r->cfg->ldap_poll_interval_ms
                                                                : POLLER_BACKOFF_MIN_MS);

    p->stats.errors++;
    p->stats.directory_up = false;
    p->backoff_ms = p->backoff_ms == 0 ? POLLER_BACKOFF_MIN_MS : p->backoff_ms * 2;
    if (p->backoff_ms > max)
        p->backoff_ms = max;
    if (!p->dir_up)
        return;
    p->dir_up = false;
    p->down_since = uv_now(p->srv->loop);
    log_warn("ldap unavailable: %s: %s; blocks are kept, retrying with backoff", r->params.uri,
             err);
}

static void poller_dir_ok(struct poller *p, const struct poller_round *r)
{
    p->backoff_ms = 0;
    p->stats.directory_up = true;
    if (p->dir_up)
        return;
    p->dir_up = true;
    log_info("ldap available again at %s after %llu s", r->params.uri,
             (unsigned long long)((uv_now(p->srv->loop) - p->down_since) / 1000));
}

/* ---- the round ------------------------------------------------------------------------ */

static char *poller_join(const struct cfg_list *l)
{
    size_t i, len = 1;
    char *s;

    for (i = 0; i < l->n; i++)
        len += strlen(l->v[i]) + 1;
    s = xcalloc(1, len);
    for (i = 0; i < l->n; i++) {
        if (i > 0)
            strcat(s, " ");
        strcat(s, l->v[i]);
    }
    return s;
}

static struct poller_round *poller_round_new(struct poller *p, struct pd_config *cfg,
                                             struct track *track, const uint8_t *key)
{
    struct poller_round *r = xcalloc(1, sizeof(*r));
    enum ldaptime_attr attr = LDAPTIME_AUTO;

    r->cfg = cfg_ref(cfg);
    r->track = track;
    memcpy(r->hash_key, key, SIPHASH_KEY_LEN);
    (void)ldaptime_attr_parse(cfg->ldap_password_time_attribute, &attr);
    r->params.uri = poller_join(&cfg->ldap_uri);
    r->params.start_tls = cfg->ldap_start_tls;
    r->params.ca_file = xstrdup(cfg->ldap_ca_file);
    r->params.bind_dn = xstrdup(cfg->ldap_bind_dn);
    r->params.bind_pw = xstrdup(cfg->ldap_bind_password != NULL ? cfg->ldap_bind_password : "");
    r->params.base = xstrdup(cfg->ldap_search_base);
    r->params.filter = xstrdup(cfg->ldap_query_filter);
    r->params.attr = attr;
    r->params.timeout_ms = cfg->ldap_timeout_ms;
    r->pol.attr = attr;
    r->pol.skew = cfg->ldap_clock_skew_ms / 1000;
    r->pol.trust_admin_reset = cfg->ldap_trust_admin_reset;
    r->started = uv_hrtime();
    p->gen++;
    return r;
}

static void poller_round_free(struct poller_round *r)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        free(r->c[i].mailbox);
    free(r->c);
    free(r->wait);
    ldapdir_params_free(&r->params);
    cfg_unref(r->cfg);
    free(r);
}

static void poller_schedule(struct poller *p, uint64_t ms)
{
    if (!p->stopping && !uv_is_closing((uv_handle_t *)&p->timer))
        uv_timer_start(&p->timer, poller_tick, ms, 0);
}

/* poller_summary - the stats and the one log line of a round that reached its end. */
static void poller_summary(struct poller *p, const struct poller_round *r, double ms)
{
    char line[320];

    p->stats.rounds++;
    p->stats.last_blocked = r->n;
    p->stats.last_waiting = r->nwait;
    p->stats.last_searches = r->searches;
    p->stats.last_kept = r->kept;
    p->stats.last_ms = ms;
    snprintf(line, sizeof(line),
             "ldap poll: blocked=%zu waiting=%zu batches=%u searches=%u entries=%u "
             "unblocked=%u kept=%u time=%.1fms (redis %.1fms, ldap %.1fms)",
             r->n, r->nwait, r->batches, r->searches, r->entries, r->unblocked, r->kept, ms,
             (double)r->read_ns / 1e6, (double)r->ldap_ns / 1e6);
    if (r->unblocked > 0 || r->noted > 0)
        log_info("%s", line);
    else
        log_debug("%s", line);
}

/* poller_round_end - summary, notes sweep, next round. */
static void poller_round_end(struct poller *p)
{
    struct poller_round *r = p->round;
    double ms = (double)(uv_hrtime() - r->started) / 1e6;
    uint64_t interval = (uint64_t)r->cfg->ldap_poll_interval_ms, next;

    p->round = NULL;
    if (r->phase == POLLER_QUERY && !r->failed && !r->ldap_failed) {
        poller_summary(p, r, ms);
        pollnote_sweep(&p->notes, p->gen);
    }
    next = (uint64_t)ms < interval ? interval - (uint64_t)ms : 0;
    if (r->ldap_failed)
        next = p->backoff_ms;
    poller_round_free(r);
    poller_schedule(p, next);
}

/* A Redis call of the round: the round and one candidate. */
struct poller_call {
    struct poller *p;
    size_t idx;
};

static void poller_send(struct poller *p, int script, int argc, const char **argv, track_cb cb,
                        size_t idx)
{
    struct poller_call *call = xmalloc(sizeof(*call));
    size_t lens[16];
    int i;

    for (i = 0; i < argc && i < 16; i++)
        lens[i] = strlen(argv[i]);
    call->p = p;
    call->idx = idx;
    p->round->pending++;
    if (script < 0)
        track_command(p->round->track, argc, argv, lens, cb, call);
    else
        track_eval(p->round->track, script, argc, argv, lens, cb, call);
}

/* poller_done - a Redis answer arrived: the round goes on (or ends). */
static struct poller_round *poller_done(struct poller_call *call, int status)
{
    struct poller *p = call->p;
    struct poller_round *r = p->round;

    free(call);
    r->pending--;
    if (status != TRACK_OK)
        r->failed = true;
    return r;
}

static void poller_noop(void *arg, int status, const struct track_reply *rep)
{
    (void)arg;
    (void)status;
    (void)rep;
}

static void poller_index_name(const struct poller_round *r, char *out, size_t len)
{
    snprintf(out, len, "%s%s:blocked", r->cfg->redis_key_prefix, KEYS_SCHEMA);
}

/* poller_unindex - drop c from the index unless a newer block re-added it. */
static void poller_unindex(struct poller *p, const struct poller_cand *c)
{
    struct poller_round *r = p->round;
    char idx[KEYS_PREFIX_MAX + 16];
    const char *argv[4];
    size_t lens[4];

    poller_index_name(r, idx, sizeof(idx));
    argv[0] = "1", argv[1] = idx, argv[2] = c->mailbox, argv[3] = c->score;
    lens[0] = 1, lens[1] = strlen(idx), lens[2] = c->len, lens[3] = strlen(c->score);
    track_eval(r->track, p->s_unindex, 4, argv, lens, poller_noop, NULL);
}

/* poller_key - one of c's key names; false when the mailbox cannot have keys. */
static bool poller_key(const struct poller_round *r, const struct poller_cand *c,
                       const char *suffix, char out[KEYS_NAME_SIZE])
{
    char enc[KEYS_ENC_SIZE];
    size_t enc_len, n;

    return keys_encode(c->mailbox, c->len, r->hash_key, enc, sizeof(enc), &enc_len) == 0 &&
           keys_name(r->cfg->redis_key_prefix, enc, enc_len, suffix, out, KEYS_NAME_SIZE, &n) == 0;
}

/* ---- 1. lock, 2. list and read ------------------------------------------------------ */

static void poller_on_list(void *arg, int status, const struct track_reply *rep);

static void poller_list_page(struct poller *p)
{
    struct poller_round *r = p->round;
    char idx[KEYS_PREFIX_MAX + 16], start[24], stop[24];
    const char *argv[5] = {"ZRANGE", idx, start, stop, "WITHSCORES"};

    poller_index_name(r, idx, sizeof(idx));
    snprintf(start, sizeof(start), "%zu", r->list_pos);
    snprintf(stop, sizeof(stop), "%zu", r->list_pos + POLLER_PAGE - 1);
    poller_send(p, -1, 5, argv, poller_on_list, 0);
}

static void poller_on_lock(void *arg, int status, const struct track_reply *rep)
{
    struct poller *p = ((struct poller_call *)arg)->p;
    struct poller_round *r = poller_done(arg, status);
    size_t i;
    bool owner = false;

    for (i = 0; status == TRACK_OK && i < rep->npairs; i++)
        if (poller_eq(&rep->pairs[i], "owner"))
            owner = rep->pairs[i].ival == 1;
    if (status == TRACK_OK && !owner) {
        log_debug("ldap poll: another node holds the poll lock; skipping this round");
        r->failed = true;
    }
    r->phase = POLLER_LIST;
    poller_advance(p);
}

static void poller_on_list(void *arg, int status, const struct track_reply *rep)
{
    struct poller *p = ((struct poller_call *)arg)->p;
    struct poller_round *r = poller_done(arg, status);
    size_t i;

    if (status == TRACK_OK)
        r->list_pos += rep->npairs;
    for (i = 0; status == TRACK_OK && i < rep->npairs && r->n < POLLER_MAX_BLOCKED; i++) {
        const struct track_pair *pr = &rep->pairs[i];
        struct poller_cand *c;

        if (pr->name_len == 0 || pr->name_len > KEYS_MAILBOX_MAX)
            continue;
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 256;
            r->c = xrealloc(r->c, r->cap * sizeof(*r->c));
        }
        c = &r->c[r->n++];
        memset(c, 0, sizeof(*c));
        c->mailbox = xmalloc(pr->name_len + 1);
        memcpy(c->mailbox, pr->name, pr->name_len);
        c->mailbox[pr->name_len] = '\0';
        c->len = pr->name_len;
        poller_copy(c->score, sizeof(c->score), pr);
    }
    if (status != TRACK_OK || rep->npairs < POLLER_PAGE || r->n >= POLLER_MAX_BLOCKED)
        r->list_done = true;
    poller_advance(p);
}

static void poller_on_read(void *arg, int status, const struct track_reply *rep)
{
    struct poller_call *call = arg;
    struct poller *p = call->p;
    size_t idx = call->idx, i;
    struct poller_round *r = poller_done(call, status);
    struct poller_cand *c = &r->c[idx];
    bool pw = false;

    if (status == TRACK_OK && rep->npairs == 0) { /* no record: the index entry is stale */
        poller_unindex(p, c);
    } else if (status == TRACK_OK) {
        for (i = 0; i < rep->npairs; i++) {
            const struct track_pair *pr = &rep->pairs[i];

            if (poller_eq(pr, "ref") && pr->sval_len < sizeof(c->ref) &&
                memchr(pr->sval, '\0', pr->sval_len) == NULL)
                poller_copy(c->ref, sizeof(c->ref), pr);
            else if (poller_eq(pr, "reason"))
                poller_copy(c->reason, sizeof(c->reason), pr);
            else if (poller_eq(pr, "created"))
                c->created = poller_int(pr);
            else if (poller_eq(pr, "unblock"))
                pw = pr->sval_len == 15 && memcmp(pr->sval, "password-change", 15) == 0;
        }
        c->waiting = pw && c->ref[0] != '\0' && c->created > 0;
    }
    poller_advance(p);
}

/* poller_read_pump - keep POLLER_WINDOW block-record reads in flight. */
static void poller_read_pump(struct poller *p)
{
    struct poller_round *r = p->round;

    while (!r->failed && r->pending < POLLER_WINDOW && r->next_read < r->n) {
        size_t idx = r->next_read++;
        char blk[KEYS_NAME_SIZE];
        const char *argv[2] = {"HGETALL", blk};

        if (!poller_key(r, &r->c[idx], KEYS_SUFFIX_BLOCK, blk))
            continue;
        poller_send(p, -1, 2, argv, poller_on_read, idx);
    }
}

/* ---- 3. query ---------------------------------------------------------------------- */

static void poller_work(uv_work_t *req)
{
    struct poller_job *job = req->data;
    uint64_t t0 = uv_hrtime();

    job->rc = ldapdir_search(job->dir, job->params, job->items, job->n, job->stop, &job->rep);
    job->ns = uv_hrtime() - t0;
}

static void poller_after_work(uv_work_t *req, int status);

static void poller_start_batch(struct poller *p)
{
    struct poller_round *r = p->round;
    struct poller_job *job = xcalloc(1, sizeof(*job));
    size_t i, n = r->nwait - r->batch_start;

    if (n > (size_t)r->cfg->ldap_batch_size)
        n = (size_t)r->cfg->ldap_batch_size;
    job->p = p;
    job->dir = p->dir;
    job->params = &r->params;
    job->stop = &p->stop_flag;
    job->n = n;
    job->items = xcalloc(n, sizeof(*job->items));
    for (i = 0; i < n; i++) {
        const struct poller_cand *c = &r->c[r->wait[r->batch_start + i]];

        job->items[i].mailbox = c->mailbox;
        job->items[i].mailbox_len = c->len;
    }
    job->req.data = job;
    r->batches++;
    if (uv_queue_work(p->srv->loop, &job->req, poller_work, poller_after_work) != 0) {
        free(job->items);
        free(job);
        r->failed = true;
        return;
    }
    r->job_busy = true;
}

/* ---- 4. decide and unblock ------------------------------------------------------------ */

static void poller_on_unblock(void *arg, int status, const struct track_reply *rep);

/* poller_unblock - unblock.lua for candidate idx, whose password changed at changed. */
static void poller_unblock(struct poller *p, size_t idx, const struct ldaptime_result *res)
{
    struct poller_round *r = p->round;
    struct poller_cand *c = &r->c[idx];
    char blk[KEYS_NAME_SIZE], hist[KEYS_NAME_SIZE], st[KEYS_NAME_SIZE], now[24], prob[24];
    char detail[160], when[LDAPTIME_ISO_SIZE], seen[LDAPTIME_ISO_SIZE], hmax[24], httl[24];
    const char *argv[13];
    int64_t t = poller_wall_s();

    if (!poller_key(r, c, KEYS_SUFFIX_BLOCK, blk) || !poller_key(r, c, "hist", hist) ||
        !poller_key(r, c, KEYS_SUFFIX_STATE, st))
        return;
    ldaptime_iso(res->changed, when);
    ldaptime_iso(t, seen);
    if (res->admin_reset && res->changed == 0)
        snprintf(detail, sizeof(detail), "password reset by an administrator (%s = 0), seen at %s",
                 ldaptime_attr_name(res->used), seen);
    else
        snprintf(detail, sizeof(detail), "password changed at %s (%s), seen at %s", when,
                 ldaptime_attr_name(res->used), seen);
    snprintf(now, sizeof(now), "%lld", (long long)t);
    snprintf(prob, sizeof(prob), "%lld", (long long)(r->cfg->probation_period_ms / 1000));
    snprintf(hmax, sizeof(hmax), "%d", POLLER_HISTORY_MAX);
    snprintf(httl, sizeof(httl), "%lld", POLLER_HISTORY_TTL);
    argv[0] = "3", argv[1] = blk, argv[2] = hist, argv[3] = st, argv[4] = c->ref;
    argv[5] = now, argv[6] = "ldap", argv[7] = "password-change", argv[8] = detail;
    argv[9] = prob, argv[10] = "0", argv[11] = hmax, argv[12] = httl;
    c->changed = res->admin_reset && res->changed == 0 ? -1 : res->changed;
    poller_send(p, p->s_unblock, 13, argv, poller_on_unblock, idx);
}

static void poller_on_unblock(void *arg, int status, const struct track_reply *rep)
{
    struct poller *p = ((struct poller_call *)arg)->p;
    size_t idx = ((struct poller_call *)arg)->idx, i;
    struct poller_round *r = poller_done(arg, status);
    struct poller_cand *c = &r->c[idx];
    char user[SANITIZE_BUF], changed[LDAPTIME_ISO_SIZE], why[64] = "";
    bool cleared = false;
    struct pd_event ev;

    for (i = 0; status == TRACK_OK && i < rep->npairs; i++) {
        if (poller_eq(&rep->pairs[i], "cleared"))
            cleared = rep->pairs[i].ival == 1;
        else if (poller_eq(&rep->pairs[i], "why"))
            poller_copy(why, sizeof(why), &rep->pairs[i]);
    }
    sanitize_log(user, sizeof(user), c->mailbox, c->len);
    if (!cleared) {
        log_info("ldap: user=%s ref=%s: not unblocked (%s)", user, c->ref,
                 status == TRACK_OK ? why : track_strerror(status));
        poller_advance(p);
        return;
    }
    r->unblocked++;
    p->stats.unblocked++;
    if (c->changed < 0)
        snprintf(changed, sizeof(changed), "admin-reset");
    else
        ldaptime_iso(c->changed, changed);
    log_warn("unblocked: user=%s ref=%s reason=password-change changed=%s", user, c->ref, changed);
    poller_unindex(p, c);
    memset(&ev, 0, sizeof(ev));
    ev.type = PD_EVENT_UNBLOCK;
    ev.mailbox = c->mailbox;
    ev.ref = c->ref;
    ev.reason = c->reason;
    ev.rules = "";
    ev.by = "ldap";
    ev.condition = "password-change";
    ev.at = poller_wall_s();
    events_emit(&ev);
    poller_advance(p);
}

/* poller_keep - c keeps its block for a reason worth a look: logged once per block. */
static void poller_keep(struct poller *p, const struct poller_cand *c,
                        const struct ldapdir_item *it, enum poller_note note,
                        const struct ldaptime_result *res)
{
    struct poller_round *r = p->round;
    char user[SANITIZE_BUF], dn[SANITIZE_BUF], val[SANITIZE_BUF];
    const struct ldapdir_value *v = NULL;
    const char *attr = res != NULL ? ldaptime_attr_name(res->used) : "";

    r->kept++;
    if (!poller_note(p, c, note))
        return;
    r->noted++;
    sanitize_log(user, sizeof(user), c->mailbox, c->len);
    sanitize_log(dn, sizeof(dn), it->dn != NULL ? it->dn : "", it->dn != NULL ? strlen(it->dn) : 0);
    if (res != NULL && res->used == LDAPTIME_PWDLASTSET)
        v = &it->pwd_last_set;
    else if (res != NULL && res->used == LDAPTIME_PWDCHANGEDTIME)
        v = &it->pwd_changed_time;
    else if (res != NULL && res->used == LDAPTIME_SHADOWLASTCHANGE)
        v = &it->shadow_last_change;
    sanitize_log(val, sizeof(val), v != NULL && v->val != NULL ? v->val : "",
                 v != NULL ? v->len : 0);
    switch (note) {
    case POLLER_NOTE_MISSING:
        log_warn("ldap: user=%s ref=%s: no directory entry matches ldap_query_filter; "
                 "the block stays",
                 user, c->ref);
        break;
    case POLLER_NOTE_AMBIGUOUS:
        log_warn("ldap: user=%s ref=%s: several directory entries match (dn=%s, ...); "
                 "the block stays",
                 user, c->ref, dn);
        break;
    case POLLER_NOTE_NO_LOOKUP:
        log_warn("ldap: user=%s ref=%s: ldap_query_filter needs a domain (%%d) and the "
                 "mailbox has none; the block stays",
                 user, c->ref);
        break;
    case POLLER_NOTE_NO_ATTR:
        log_warn("ldap: user=%s ref=%s dn=%s: the entry has no %s; the block stays", user, c->ref,
                 dn,
                 res != NULL && res->used != LDAPTIME_AUTO
                     ? attr
                     : "pwdLastSet, pwdChangedTime or shadowLastChange");
        break;
    case POLLER_NOTE_BAD_VALUE:
        log_warn("ldap: user=%s ref=%s dn=%s: %s \"%s\" does not parse; the block stays", user,
                 c->ref, dn, attr, val);
        break;
    case POLLER_NOTE_MUST_CHANGE:
        log_info("ldap: user=%s ref=%s dn=%s: password reset by an administrator (%s); the "
                 "block stays until the user sets a password (ldap_trust_admin_reset = no)",
                 user, c->ref, dn,
                 res != NULL && res->used == LDAPTIME_PWDCHANGEDTIME ? "pwdReset: TRUE"
                                                                     : "value 0");
        break;
    case POLLER_NOTE_NONE:
        break;
    }
}

static struct ldaptime_val poller_val(const struct ldapdir_value *v)
{
    struct ldaptime_val out = {v->val, v->len};

    return out;
}

/* poller_judge - the directory's answer for candidate idx: unblock, or keep and why. */
static void poller_judge(struct poller *p, size_t idx, const struct ldapdir_item *it)
{
    struct poller_round *r = p->round;
    struct poller_cand *c = &r->c[idx];
    struct ldaptime_entry e;
    struct ldaptime_result res;

    if (it->found != LDAPDIR_FOUND) {
        poller_keep(p, c, it,
                    it->found == LDAPDIR_AMBIGUOUS   ? POLLER_NOTE_AMBIGUOUS
                    : it->found == LDAPDIR_NO_LOOKUP ? POLLER_NOTE_NO_LOOKUP
                                                     : POLLER_NOTE_MISSING,
                    NULL);
        return;
    }
    e.pwd_last_set = poller_val(&it->pwd_last_set);
    e.pwd_changed_time = poller_val(&it->pwd_changed_time);
    e.pwd_reset = poller_val(&it->pwd_reset);
    e.shadow_last_change = poller_val(&it->shadow_last_change);
    ldaptime_judge(&e, c->created, &r->pol, &res);
    switch (res.verdict) {
    case LDAPTIME_UNBLOCK:
        (void)poller_note(p, c, POLLER_NOTE_NONE);
        poller_unblock(p, idx, &res);
        break;
    case LDAPTIME_KEEP_OLDER:
        (void)poller_note(p, c, POLLER_NOTE_NONE);
        break;
    case LDAPTIME_KEEP_MUST_CHANGE:
        poller_keep(p, c, it, POLLER_NOTE_MUST_CHANGE, &res);
        break;
    case LDAPTIME_KEEP_NO_ATTR:
        poller_keep(p, c, it, POLLER_NOTE_NO_ATTR, &res);
        break;
    case LDAPTIME_KEEP_BAD_VALUE:
        poller_keep(p, c, it, POLLER_NOTE_BAD_VALUE, &res);
        break;
    }
}

static void poller_after_work(uv_work_t *req, int status)
{
    struct poller_job *job = req->data;
    struct poller *p = job->p;
    struct poller_round *r = p->round;
    size_t i;

    r->job_busy = false;
    r->ldap_ns += job->ns;
    r->searches += job->rep.searches;
    r->entries += job->rep.entries;
    p->stats.searches += job->rep.searches;
    if (status == UV_ECANCELED || job->rc == LDAPDIR_ERR_STOPPED || p->stopping) {
        r->failed = true;
    } else if (job->rc < 0) {
        poller_dir_down(p, r, job->rep.err);
        r->ldap_failed = true;
    } else {
        poller_dir_ok(p, r);
        if (job->rep.unmapped > 0)
            log_debug("ldap poll: %u entries matched no mailbox of their batch", job->rep.unmapped);
        for (i = 0; i < job->n; i++)
            poller_judge(p, r->wait[r->batch_start + i], &job->items[i]);
        r->batch_start += job->n;
    }
    for (i = 0; i < job->n; i++)
        ldapdir_item_clear(&job->items[i]);
    free(job->items);
    free(job);
    poller_advance(p);
}

/* ---- the round's state machine ---------------------------------------------------------- */

static void poller_collect_waiting(struct poller_round *r)
{
    size_t i;

    r->wait = xcalloc(r->n > 0 ? r->n : 1, sizeof(*r->wait));
    for (i = 0; i < r->n; i++)
        if (r->c[i].waiting)
            r->wait[r->nwait++] = i;
}

/* poller_step - the next thing the round can do now (never waits). */
static void poller_step(struct poller *p)
{
    struct poller_round *r = p->round;

    if (r == NULL || r->job_busy)
        return;
    if (r->failed || r->ldap_failed || p->stopping) {
        if (r->pending == 0)
            poller_round_end(p);
        return;
    }
    switch (r->phase) {
    case POLLER_LOCK:
        return; /* poller_on_lock moves on */
    case POLLER_LIST:
        if (r->pending > 0)
            return;
        if (!r->list_done) {
            poller_list_page(p);
            return;
        }
        r->phase = POLLER_READ;
        /* fall through */
    case POLLER_READ:
        poller_read_pump(p);
        if (r->pending > 0 || r->failed)
            return;
        poller_collect_waiting(r);
        r->read_ns = uv_hrtime() - r->started;
        r->phase = POLLER_QUERY;
        /* fall through */
    case POLLER_QUERY:
        if (r->pending > 0)
            return;
        if (r->batch_start >= r->nwait)
            poller_round_end(p);
        else
            poller_start_batch(p);
        return;
    }
}

/* poller_advance - run poller_step; a call from inside it (an answer that came at once)
 * only asks for another step, so the round is never freed under a running step. */
static void poller_advance(struct poller *p)
{
    if (p->advancing) {
        p->again = true;
        return;
    }
    p->advancing = true;
    do {
        p->again = false;
        poller_step(p);
    } while (p->again);
    p->advancing = false;
}

static void poller_tick(uv_timer_t *t)
{
    struct poller *p = t->data;
    struct pd_config *cfg = p->srv->cfg;
    struct track *track = p->srv->decide != NULL ? decide_track(p->srv->decide) : NULL;
    const uint8_t *key = p->srv->decide != NULL ? decide_hash_key(p->srv->decide) : NULL;
    char lock[KEYS_PREFIX_MAX + 16], ttl[24];
    const char *argv[4] = {"1", lock, p->token, ttl};

    if (p->stopping || p->round != NULL)
        return;
    if (cfg->ldap_uri.n == 0) {
        poller_schedule(p, (uint64_t)cfg->ldap_poll_interval_ms);
        return;
    }
    if (track == NULL || key == NULL || !track_is_up(track)) {
        poller_schedule(p, POLLER_NOT_READY_MS);
        return;
    }
    p->round = poller_round_new(p, cfg, track, key);
    snprintf(lock, sizeof(lock), "%s%s:ldappoll", cfg->redis_key_prefix, KEYS_SCHEMA);
    snprintf(ttl, sizeof(ttl), "%lld",
             (long long)(2 * cfg->ldap_poll_interval_ms + cfg->ldap_timeout_ms));
    poller_send(p, p->s_lock, 4, argv, poller_on_lock, 0);
    poller_advance(p);
}

struct poller *poller_new(struct pd_server *srv)
{
    struct poller *p = xcalloc(1, sizeof(*p));
    struct track *track = decide_track(srv->decide);
    char host[256] = "";

    p->srv = srv;
    p->dir = ldapdir_new();
    atomic_init(&p->stop_flag, false);
    p->dir_up = true;
    p->stats.directory_up = true;
    pollnote_init(&p->notes);
    p->s_unblock = track_script_index(track, "unblock");
    p->s_unindex = track_script_index(track, "index_remove");
    p->s_lock = track_script_index(track, "ldaplock");
    if (p->s_unblock < 0 || p->s_unindex < 0 || p->s_lock < 0)
        log_panic("embedded Lua scripts missing (unblock, index_remove, ldaplock)");
    /* stable across restarts, so a restarted node takes its own lock back at once */
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "unknown");
    snprintf(p->token, sizeof(p->token), "%.200s:%.100s", host,
             srv->cfg->path != NULL ? srv->cfg->path : "");
    uv_timer_init(srv->loop, &p->timer);
    p->timer.data = p;
    uv_unref((uv_handle_t *)&p->timer);
    uv_timer_start(&p->timer, poller_tick, POLLER_FIRST_MS, 0);
    if (srv->cfg->ldap_uri.n > 0)
        log_info("ldap poller: every %lld s, %s, attribute %s, batches of %lld",
                 (long long)(srv->cfg->ldap_poll_interval_ms / 1000), srv->cfg->ldap_uri.v[0],
                 srv->cfg->ldap_password_time_attribute, srv->cfg->ldap_batch_size);
    return p;
}

void poller_stop(struct poller *p)
{
    if (p == NULL || p->stopping)
        return;
    p->stopping = true;
    atomic_store(&p->stop_flag, true);
    uv_timer_stop(&p->timer);
    if (!uv_is_closing((uv_handle_t *)&p->timer))
        uv_close((uv_handle_t *)&p->timer, NULL);
}

void poller_get_stats(const struct poller *p, struct poller_stats *out)
{
    *out = p->stats;
}

struct poller *poller_free(struct poller *p)
{
    if (p == NULL)
        return NULL;
    if (p->round != NULL)
        poller_round_free(p->round);
    p->dir = ldapdir_free(p->dir);
    pollnote_free(&p->notes);
    free(p);
    return NULL;
}
