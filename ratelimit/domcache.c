/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      domcache - the per-domain and per-mailbox overrides in force
 * SYNOPSIS
 *      #include "ratelimit/domcache.h"
 *
 *      dc = domcache_new(loop, track, cfg, get_key, key_arg, &err)
 *      domcache_reconfigure(dc, cfg)
 *      bool domcache_lookup(dc, domain, len, &settings)
 *      bool domcache_apply(dc, mailbox, len, now, &trackargs_in)
 *      domcache_seed_mailboxes(dc); domcache_stats(dc, &stats)
 *      domcache_shutdown(dc); dc = domcache_free(dc)
 * DESCRIPTION
 *      Domains. The domain entries of overrides_file (read at start and at every
 *      domcache_reconfigure(), i.e. SIGHUP) and those of the Redis hash
 *      "<prefix>1:domains" (field = domain, value = overrides_format() text, written by
 *      the status socket), read again every DOMCACHE_POLL_MS with HLEN + HGETALL. A
 *      domain in Redis replaces the file's entry for it as a whole (no field merge).
 *      domcache_lookup() is two O(1) hash lookups and copies the settings out, so
 *      nothing it returns dangles after a reload. While Redis cannot be read, the domains
 *      last read from it stay in force. See BUGS for the size of the Redis hash.
 *
 *      Mailboxes. track.lua reads a mailbox's overrides from its own "ovr" hash, so the
 *      file's mailbox entries are written there, once Redis is up and the recipient hash
 *      key (it names overlong mailboxes) is known: at start, after every reload, and on
 *      domcache_seed_mailboxes(). First the index "<prefix>1:ovr_file" (a sorted set of
 *      the mailboxes the file wrote) is read, in pages of TRACK_MAX_PAIRS; then, per
 *      mailbox, the field "file" of its ovr hash (the overrides_format() text the file
 *      wrote last time) is read, and overrides_hash_change() from that text to the entry
 *      gives the writes: HDEL of what the file no longer sets, one HSET of what it sets
 *      together with the new "file" text, ZADD to the index. A mailbox in the index but
 *      no longer in the file loses what its "file" text names, and leaves the index. So
 *      the file wins for what it states, at every start and reload; a setting of the
 *      status socket (override_set.lua) on a field the file does not state is left
 *      alone, also when the mailbox leaves the file. The ovr hash gets no TTL, as with
 *      override_set.lua: an operator's setting stays until an operator (or the file)
 *      removes it; a raise ends by its raise_until. One batch of DOMCACHE_SEED_BATCH
 *      mailboxes is in flight at a time, so these writes never crowd out the requests
 *      sharing the Redis connection; a failed batch is sent again at the next tick.
 *
 *      Ownership: domcache owns its one uv_timer_t, its tables and copies of the config
 *      values it uses (no config pointer is kept). It holds a reference for the timer
 *      (until its close callback) and one per command in flight; domcache_free() drops
 *      the owner's, and the struct goes with the last one. At stop: domcache_shutdown()
 *      (closes the timer; later answers are ignored), track_shutdown() answers what
 *      waits, the loop drains, domcache_free(). overrides_file is read on the loop
 *      thread, at start and SIGHUP only.
 * DIAGNOSTICS
 *      domcache_new() returns NULL with "file:line: message" in err->msg (err->line 0)
 *      when overrides_file cannot be read or parsed: fatal at start-up for the caller.
 *      A bad file at reload is logged and the previous entries stay. State changes are
 *      logged once: entries loaded, domains in force from Redis, Redis entries refused,
 *      the hash being too large, mailbox overrides written, writing failing or working
 *      again.
 * BUGS
 *      The whole domains hash is read every DOMCACHE_POLL_MS (one HGETALL, up to
 *      TRACK_MAX_REPLY_PAIRS entries; beyond that the rest is logged once): fine for
 *      thousands of domains, wasteful for hundreds of thousands, which belong in
 *      overrides_file. The mailbox index is read in pages of TRACK_MAX_PAIRS. This file
 *      holds two jobs (the domain cache, writing mailboxes) that could be split.
 * SEE ALSO
 *      overrides(3), track(3), keys(3), ratelimit/lua/track.lua, override_set.lua.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "policyd/config.h"
#include "policyd/log.h"
#include "policyd/sanitize.h"
#include "policyd/util.h"
#include "ratelimit/domcache.h"
#include "ratelimit/keys.h"
#include "ratelimit/track.h"
#include "ratelimit/trackargs.h"

#define DOMCACHE_ARGS (4 + 2 * OVERRIDES_HASH_FIELDS)
#define DOMCACHE_NOTE_MAX 256
#define DOMCACHE_GLOBAL_KEY (KEYS_PREFIX_MAX + 16)

enum domcache_phase {
    DOMCACHE_IDLE = 0, /* every mailbox is written */
    DOMCACHE_SCAN,     /* reading the index for mailboxes that left the file */
    DOMCACHE_WRITE,    /* writing: those first, then the file's mailboxes */
};

struct domcache {
    uv_loop_t *loop;
    struct track *track;
    domcache_key_fn get_key;
    void *key_arg;
    uv_timer_t timer;
    unsigned refs; /* the owner, the timer until closed, each command in flight */
    bool stopping;
    char *path;   /* overrides_file; "" = none */
    char *prefix; /* redis_key_prefix */
    char *default_domain;
    char domains_key[DOMCACHE_GLOBAL_KEY];
    char index_key[DOMCACHE_GLOBAL_KEY];
    struct overrides *file;  /* mailboxes and domains of overrides_file */
    struct overrides *redis; /* domains of the Redis hash; NULL until first read */
    /* the poll of the domains hash */
    bool poll_inflight;
    bool poll_failing; /* logged: the hash could not be read */
    long long hlen;    /* HLEN of the poll in flight; -1 unknown */
    uint64_t next_poll;
    char redis_note[DOMCACHE_NOTE_MAX]; /* refused entries and size, as last logged */
    size_t redis_bad;
    bool redis_truncated;
    /* the file's mailboxes into their ovr hashes: one job, restarted by a reload */
    enum domcache_phase phase;
    unsigned gen;  /* bumped when the job starts over */
    bool inflight; /* a batch of the current job is out */
    bool failing;  /* logged: a batch failed */
    uint64_t retry_at;
    size_t scan_from; /* next index position to read */
    char **stale;     /* index members no longer in the file */
    size_t nstale, stale_cap;
    size_t pos; /* next item: stale first, then file entries */
    size_t job_written, job_removed;
    uint64_t seeded;
};

/* One batch in flight: an index page, or up to DOMCACHE_SEED_BATCH mailboxes. */
struct domcache_batch {
    struct domcache *dc;
    unsigned gen;
    unsigned pending; /* commands not answered, plus one while sending */
    size_t start;     /* pos of its first item */
    size_t written, removed;
    bool failed;
    bool more; /* an index page that was full: read the next one */
};

/* One mailbox of a batch, waiting for its "file" field. */
struct domcache_item {
    struct domcache_batch *b;
    bool listed; /* in the file: s is its entry; else it left the file */
    struct overrides_settings s;
    size_t klen, mlen;
    char key[KEYS_NAME_SIZE];
    char mailbox[OVERRIDES_KEY_MAX + 1];
};

static void domcache_step(struct domcache *dc);

/* ---- lifetime ---------------------------------------------------------------------- */

static void domcache_stale_clear(struct domcache *dc)
{
    size_t i;

    for (i = 0; i < dc->nstale; i++)
        free(dc->stale[i]);
    free(dc->stale);
    dc->stale = NULL;
    dc->nstale = dc->stale_cap = 0;
}

/* domcache_unref - the struct goes with its last reference. */
static void domcache_unref(struct domcache *dc)
{
    if (--dc->refs > 0)
        return;
    domcache_stale_clear(dc);
    dc->file = overrides_free(dc->file);
    dc->redis = overrides_free(dc->redis);
    free(dc->path);
    free(dc->prefix);
    free(dc->default_domain);
    free(dc);
}

static void domcache_on_close(uv_handle_t *h)
{
    domcache_unref(h->data);
}

void domcache_shutdown(struct domcache *dc)
{
    if (dc == NULL || dc->stopping)
        return;
    dc->stopping = true;
    uv_timer_stop(&dc->timer);
    uv_close((uv_handle_t *)&dc->timer, domcache_on_close);
}

struct domcache *domcache_free(struct domcache *dc)
{
    if (dc == NULL)
        return NULL;
    domcache_shutdown(dc);
    domcache_unref(dc);
    return NULL;
}

/* ---- the file ---------------------------------------------------------------------- */

/* domcache_read - a regular file of at most DOMCACHE_FILE_MAX bytes; message in err. */
static char *domcache_read(const char *path, size_t *len, struct pd_err *err)
{
    struct stat st;
    char *buf = NULL;
    ssize_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    *len = 0;
    if (fd < 0) {
        snprintf(err->msg, sizeof(err->msg), "%.200s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > DOMCACHE_FILE_MAX) {
        snprintf(err->msg, sizeof(err->msg), "%.200s: not a regular file of at most %ld bytes",
                 path, (long)DOMCACHE_FILE_MAX);
        close(fd);
        return NULL;
    }
    buf = xmalloc((size_t)st.st_size + 1);
    while (*len < (size_t)st.st_size + 1) {
        n = read(fd, buf + *len, (size_t)st.st_size + 1 - *len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        *len += (size_t)n;
    }
    if (n < 0 || *len > (size_t)st.st_size) {
        snprintf(err->msg, sizeof(err->msg), "%.200s: %s", path,
                 n < 0 ? strerror(errno) : "file changed while it was read");
        free(buf);
        buf = NULL;
    }
    close(fd);
    return buf;
}

/* domcache_load - the entries of path ("" = none); NULL with err->msg on error. */
static struct overrides *domcache_load(const char *path, struct pd_err *err)
{
    struct overrides *o = NULL;
    struct pd_err perr;
    size_t len;
    char *text;

    err->msg[0] = '\0';
    err->line = 0;
    if (path[0] == '\0')
        return overrides_new();
    if ((text = domcache_read(path, &len, err)) == NULL)
        return NULL;
    if (overrides_parse(text, len, &o, &perr) < 0)
        snprintf(err->msg, sizeof(err->msg), "%.120s:%d: %.120s", path, perr.line, perr.msg);
    free(text);
    return o;
}

static void domcache_count(const struct overrides *o, size_t *mailboxes, size_t *domains)
{
    size_t i, n = overrides_count(o);

    *mailboxes = 0;
    for (i = 0; i < n; i++)
        *mailboxes += overrides_at(o, i)->is_mailbox;
    *domains = n - *mailboxes;
}

static void domcache_log_loaded(const struct domcache *dc)
{
    size_t mb, dom;

    if (dc->path[0] == '\0')
        return;
    domcache_count(dc->file, &mb, &dom);
    log_info("overrides: %s: %zu mailboxes, %zu domains", dc->path, mb, dom);
}

/* domcache_settings - copy what domcache uses from a config. */
static void domcache_settings(struct domcache *dc, const struct pd_config *cfg)
{
    free(dc->path);
    free(dc->prefix);
    free(dc->default_domain);
    dc->path = xstrdup(cfg->overrides_file != NULL ? cfg->overrides_file : "");
    dc->prefix = xstrdup(cfg->redis_key_prefix);
    dc->default_domain =
        xstrdup(cfg->mailbox_default_domain != NULL ? cfg->mailbox_default_domain : "");
    snprintf(dc->domains_key, sizeof(dc->domains_key), "%.*s%s:%s", KEYS_PREFIX_MAX, dc->prefix,
             KEYS_SCHEMA, DOMCACHE_DOMAINS);
    snprintf(dc->index_key, sizeof(dc->index_key), "%.*s%s:%s", KEYS_PREFIX_MAX, dc->prefix,
             KEYS_SCHEMA, DOMCACHE_INDEX);
}

/* ---- lookups ----------------------------------------------------------------------- */

bool domcache_lookup(const struct domcache *dc, const char *domain, size_t len,
                     struct overrides_settings *out)
{
    const struct overrides_entry *e = overrides_find(dc->redis, domain, len);

    if (e == NULL || e->is_mailbox)
        e = overrides_find(dc->file, domain, len);
    if (e == NULL || e->is_mailbox)
        return false;
    *out = e->s;
    return true;
}

/* domcache_apply - the settings of a normalised mailbox's domain into its track call. */
bool domcache_apply(const struct domcache *dc, const char *mailbox, size_t len, long long now,
                    struct trackargs_in *in)
{
    struct overrides_settings s;
    const char *at = memrchr(mailbox, '@', len);
    size_t dlen;

    if (at == NULL)
        return false;
    dlen = len - (size_t)(at + 1 - mailbox);
    if (!domcache_lookup(dc, at + 1, dlen, &s))
        return false;
    overrides_apply_domain(&s, now, in);
    return true;
}

void domcache_stats(const struct domcache *dc, struct domcache_stats *st)
{
    memset(st, 0, sizeof(*st));
    domcache_count(dc->file, &st->file_mailboxes, &st->file_domains);
    st->redis_domains = overrides_count(dc->redis);
    st->redis_bad = dc->redis_bad;
    st->redis_truncated = dc->redis_truncated;
    st->seed_done = dc->phase == DOMCACHE_IDLE;
    st->seeded = dc->seeded;
}

/* ---- the domains hash -------------------------------------------------------------- */

static void domcache_on_hlen(void *arg, int status, const struct track_reply *rep)
{
    struct domcache *dc = arg;

    if (status == TRACK_OK && rep->npairs == 1 && rep->pairs[0].is_int)
        dc->hlen = rep->pairs[0].ival;
    domcache_unref(dc);
}

/* domcache_redis_table - the domains of an HGETALL reply; refused ones counted in *bad,
 * the first described in note. */
static struct overrides *domcache_redis_table(const struct track_reply *rep, size_t *bad,
                                              char *note, size_t notelen)
{
    struct overrides *o = overrides_new();
    struct overrides_settings s;
    char q[SANITIZE_BUF];
    struct pd_err err;
    size_t i;

    *bad = 0;
    note[0] = '\0';
    for (i = 0; i < rep->npairs; i++) {
        const struct track_pair *p = &rep->pairs[i];
        int rc = 0;

        snprintf(err.msg, sizeof(err.msg), "a mailbox, not a domain");
        if (p->name_len == 0 || (memchr(p->name, '@', p->name_len) != NULL && p->name[0] != '@'))
            rc = OVERRIDES_ERR_KEY;
        if (rc == 0)
            rc = overrides_parse_settings(p->sval, p->sval_len, &s, &err);
        if (rc == 0)
            rc = overrides_add(o, p->name, p->name_len, &s, 0, &err);
        if (rc < 0 && (*bad)++ == 0)
            snprintf(note, notelen, "first \"%.100s\": %.140s",
                     sanitize_log(q, sizeof(q), p->name, p->name_len),
                     p->name_len == 0 ? "empty field" : err.msg);
    }
    return o;
}

/* domcache_same - whether two tables hold the same domains with the same settings. */
static bool domcache_same(const struct overrides *a, const struct overrides *b)
{
    size_t i, n = overrides_count(a);

    if (a == NULL || b == NULL || n != overrides_count(b))
        return false;
    for (i = 0; i < n; i++) {
        const struct overrides_entry *x = overrides_at(a, i);
        const struct overrides_entry *y = overrides_find(b, x->key, x->key_len);

        if (y == NULL || !overrides_settings_equal(&x->s, &y->s))
            return false;
    }
    return true;
}

/* domcache_redis_notes - log refused entries and an oversized hash once per change. */
static void domcache_redis_notes(struct domcache *dc, size_t bad, const char *note, size_t npairs)
{
    char now[DOMCACHE_NOTE_MAX];

    dc->redis_bad = bad;
    dc->redis_truncated = dc->hlen > (long long)npairs;
    snprintf(now, sizeof(now), "%zu %s %d", bad, note, dc->redis_truncated);
    if (strcmp(now, dc->redis_note) == 0)
        return;
    snprintf(dc->redis_note, sizeof(dc->redis_note), "%s", now);
    if (bad > 0)
        log_warn("overrides: %s: %zu entries refused, %s", dc->domains_key, bad, note);
    if (dc->redis_truncated)
        log_warn("overrides: %s has %lld domains, only %zu can be read (TRACK_MAX_REPLY_PAIRS); "
                 "keep large tables in overrides_file",
                 dc->domains_key, dc->hlen, npairs);
}

static void domcache_on_hgetall(void *arg, int status, const struct track_reply *rep)
{
    struct domcache *dc = arg;
    char note[DOMCACHE_NOTE_MAX];
    struct overrides *o;
    size_t bad;

    dc->poll_inflight = false;
    if (dc->stopping) {
        domcache_unref(dc);
        return;
    }
    if (status != TRACK_OK || (rep->npairs == 1 && rep->pairs[0].name_len == 0)) {
        if (!dc->poll_failing && status != TRACK_ERR_SHUTDOWN)
            log_warn("overrides: cannot read %s: %s; the domains read before stay in force",
                     dc->domains_key, status != TRACK_OK ? track_strerror(status) : "not a hash");
        dc->poll_failing = true;
        if (dc->redis == NULL) /* never read yet: try again soon */
            dc->next_poll = uv_now(dc->loop) + DOMCACHE_TICK_MS;
        domcache_unref(dc);
        return;
    }
    if (dc->poll_failing)
        log_info("overrides: %s readable again", dc->domains_key);
    dc->poll_failing = false;
    o = domcache_redis_table(rep, &bad, note, sizeof(note));
    domcache_redis_notes(dc, bad, note, rep->npairs);
    if (!domcache_same(o, dc->redis))
        log_info("overrides: %s: %zu domains in force (was %zu)", dc->domains_key,
                 overrides_count(o), overrides_count(dc->redis));
    overrides_free(dc->redis);
    dc->redis = o;
    domcache_unref(dc);
}

/* domcache_poll - HLEN and HGETALL of the domains hash, pipelined. */
static void domcache_poll(struct domcache *dc)
{
    const char *hlen[2] = {"HLEN", dc->domains_key}, *all[2] = {"HGETALL", dc->domains_key};
    size_t hl[2] = {4, strlen(dc->domains_key)}, al[2] = {7, hl[1]};

    if (dc->poll_inflight || !track_is_up(dc->track))
        return;
    dc->poll_inflight = true;
    dc->hlen = -1;
    dc->next_poll = uv_now(dc->loop) + DOMCACHE_POLL_MS;
    dc->refs += 2;
    track_command(dc->track, 2, hlen, hl, domcache_on_hlen, dc);
    track_command(dc->track, 2, all, al, domcache_on_hgetall, dc);
}

/* ---- the file's mailboxes into their ovr hashes ------------------------------------ */

/* domcache_ovr_key - the ovr key of a mailbox; false (logged) when it has none. */
static bool domcache_ovr_key(const struct domcache *dc, const uint8_t *hkey, const char *mb,
                             size_t mlen, char out[KEYS_NAME_SIZE], size_t *outlen)
{
    char norm[KEYS_MAILBOX_MAX + 1], enc[KEYS_ENC_SIZE], q[SANITIZE_BUF];
    size_t nlen, elen;
    int rc;

    if ((rc = keys_normalise(mb, mlen, dc->default_domain, norm, sizeof(norm), &nlen)) < 0 ||
        (rc = keys_encode(norm, nlen, hkey, enc, sizeof(enc), &elen)) < 0 ||
        (rc = keys_name(dc->prefix, enc, elen, KEYS_SUFFIX_OVR, out, KEYS_NAME_SIZE, outlen)) < 0) {
        log_warn("overrides: mailbox %s: %s; skipped", sanitize_log(q, sizeof(q), mb, mlen),
                 keys_strerror(rc));
        return false;
    }
    return true;
}

static struct domcache_batch *domcache_batch_new(struct domcache *dc)
{
    struct domcache_batch *b = xcalloc(1, sizeof(*b));

    b->dc = dc;
    b->gen = dc->gen;
    b->pending = 1; /* held while sending: an answer at once must not end the batch */
    b->start = dc->pos;
    dc->inflight = true;
    return b;
}

/* domcache_send - one more command of a batch. */
static void domcache_send(struct domcache_batch *b, size_t argc, const char **argv,
                          const size_t *lens, track_cb cb, void *arg)
{
    b->pending++;
    b->dc->refs++;
    track_command(b->dc->track, (int)argc, argv, lens, cb, arg);
}

/* domcache_seed_done - every item is written: log the job once. */
static void domcache_seed_done(struct domcache *dc)
{
    if (dc->job_written > 0 || dc->job_removed > 0)
        log_info("overrides: %zu mailbox overrides written to redis, %zu removed", dc->job_written,
                 dc->job_removed);
    if (dc->failing)
        log_info("overrides: writing mailbox overrides to redis works again");
    dc->failing = false;
    dc->phase = DOMCACHE_IDLE;
    domcache_stale_clear(dc);
}

/* domcache_batch_end - every command of a batch is answered: the next step of the job. */
static void domcache_batch_end(struct domcache_batch *b)
{
    struct domcache *dc = b->dc;

    if (dc->stopping || b->gen != dc->gen)
        return; /* a batch of a job that has started over */
    dc->inflight = false;
    if (b->failed) {
        if (!dc->failing)
            log_warn("overrides: writing mailbox overrides to redis failed; retrying");
        dc->failing = true;
        dc->pos = b->start;
        dc->retry_at = uv_now(dc->loop) + DOMCACHE_TICK_MS;
        return;
    }
    if (dc->phase == DOMCACHE_SCAN) {
        if (b->more) {
            dc->scan_from += TRACK_MAX_PAIRS;
        } else {
            dc->phase = DOMCACHE_WRITE;
            dc->pos = 0;
        }
    } else {
        dc->seeded += b->written;
        dc->job_written += b->written;
        dc->job_removed += b->removed;
        if (dc->pos >= dc->nstale + overrides_count(dc->file)) {
            domcache_seed_done(dc);
            return;
        }
    }
    domcache_step(dc);
}

static void domcache_batch_release(struct domcache_batch *b)
{
    if (--b->pending > 0)
        return;
    domcache_batch_end(b);
    free(b);
}

/* domcache_batch_cb - a write whose answer only counts. */
static void domcache_batch_cb(void *arg, int status, const struct track_reply *rep)
{
    struct domcache_batch *b = arg;
    struct domcache *dc = b->dc;

    (void)rep;
    if (status != TRACK_OK)
        b->failed = true;
    domcache_batch_release(b);
    domcache_unref(dc);
}

/* domcache_scan_member - an index member that is no longer a mailbox of the file. */
static void domcache_scan_member(struct domcache *dc, const char *name, size_t len)
{
    const struct overrides_entry *e;

    if (len == 0 || len > OVERRIDES_KEY_MAX || memchr(name, '\0', len) != NULL)
        return; /* not something this module wrote */
    if ((e = overrides_find(dc->file, name, len)) != NULL && e->is_mailbox)
        return;
    if (dc->nstale == dc->stale_cap) {
        dc->stale_cap = dc->stale_cap == 0 ? 64 : dc->stale_cap * 2;
        dc->stale = xrealloc(dc->stale, dc->stale_cap * sizeof(*dc->stale));
    }
    dc->stale[dc->nstale++] = xstrndup(name, len);
}

static void domcache_scan_cb(void *arg, int status, const struct track_reply *rep)
{
    struct domcache_batch *b = arg;
    struct domcache *dc = b->dc;
    size_t i;

    if (status != TRACK_OK) {
        b->failed = true;
    } else if (!dc->stopping && b->gen == dc->gen) {
        for (i = 0; i < rep->npairs; i++)
            domcache_scan_member(dc, rep->pairs[i].name, rep->pairs[i].name_len);
        b->more = rep->npairs == TRACK_MAX_PAIRS;
    }
    domcache_batch_release(b);
    domcache_unref(dc);
}

/* domcache_scan_page - the next TRACK_MAX_PAIRS members of the index, with scores (so
 * that the reply is exactly name/value pairs). */
static void domcache_scan_page(struct domcache *dc)
{
    char from[24], to[24];
    const char *argv[5] = {"ZRANGE", dc->index_key, from, to, "WITHSCORES"};
    size_t lens[5], i;
    struct domcache_batch *b = domcache_batch_new(dc);

    snprintf(from, sizeof(from), "%zu", dc->scan_from);
    snprintf(to, sizeof(to), "%zu", dc->scan_from + TRACK_MAX_PAIRS - 1);
    for (i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    domcache_send(b, 5, argv, lens, domcache_scan_cb, b);
    domcache_batch_release(b);
}

/* domcache_arg - append one argument. */
static void domcache_arg(const char **argv, size_t *lens, size_t *n, const char *s, size_t len)
{
    argv[*n] = s;
    lens[*n] = len;
    (*n)++;
}

/* domcache_item_write - from what the file wrote last time (old) to the entry, or, for a
 * mailbox that left the file, to nothing. */
static void domcache_item_write(struct domcache_item *it, const struct overrides_settings *old)
{
    struct domcache_batch *b = it->b;
    const char *argv[DOMCACHE_ARGS];
    size_t lens[DOMCACHE_ARGS], n = 0, i;
    char text[OVERRIDES_TEXT_MAX];
    struct overrides_hash h;
    int tlen;

    overrides_hash_change(old, it->listed ? &it->s : NULL, &h);
    domcache_arg(argv, lens, &n, "HDEL", 4);
    domcache_arg(argv, lens, &n, it->key, it->klen);
    for (i = 0; i < h.ndel; i++)
        domcache_arg(argv, lens, &n, h.del_name[i], strlen(h.del_name[i]));
    if (!it->listed)
        domcache_arg(argv, lens, &n, DOMCACHE_FILE_FIELD, strlen(DOMCACHE_FILE_FIELD));
    if (n > 2)
        domcache_send(b, n, argv, lens, domcache_batch_cb, b);
    if (it->listed && (tlen = overrides_format(&it->s, text, sizeof(text))) > 0) {
        n = 0;
        domcache_arg(argv, lens, &n, "HSET", 4);
        domcache_arg(argv, lens, &n, it->key, it->klen);
        for (i = 0; i < h.nset; i++) {
            domcache_arg(argv, lens, &n, h.set_name[i], strlen(h.set_name[i]));
            domcache_arg(argv, lens, &n, h.set_value[i], h.set_len[i]);
        }
        domcache_arg(argv, lens, &n, DOMCACHE_FILE_FIELD, strlen(DOMCACHE_FILE_FIELD));
        domcache_arg(argv, lens, &n, text, (size_t)tlen);
        domcache_send(b, n, argv, lens, domcache_batch_cb, b);
    }
    n = 0;
    domcache_arg(argv, lens, &n, it->listed ? "ZADD" : "ZREM", 4);
    domcache_arg(argv, lens, &n, b->dc->index_key, strlen(b->dc->index_key));
    if (it->listed)
        domcache_arg(argv, lens, &n, "0", 1);
    domcache_arg(argv, lens, &n, it->mailbox, it->mlen);
    domcache_send(b, n, argv, lens, domcache_batch_cb, b);
    if (it->listed)
        b->written++;
    else
        b->removed++;
}

/* domcache_item_cb - the "file" field of a mailbox's ovr hash: then its writes. */
static void domcache_item_cb(void *arg, int status, const struct track_reply *rep)
{
    struct domcache_item *it = arg;
    struct domcache_batch *b = it->b;
    struct domcache *dc = b->dc;
    struct overrides_settings old;
    struct pd_err err;

    if (status != TRACK_OK) {
        b->failed = true;
    } else if (!dc->stopping && b->gen == dc->gen) {
        memset(&old, 0, sizeof(old));
        if (rep->npairs == 1 && rep->pairs[0].name_len == 0 && !rep->pairs[0].is_int &&
            overrides_parse_settings(rep->pairs[0].sval, rep->pairs[0].sval_len, &old, &err) < 0)
            memset(&old, 0, sizeof(old)); /* not a text the file wrote: nothing known */
        domcache_item_write(it, &old);
    }
    free(it);
    domcache_batch_release(b);
    domcache_unref(dc);
}

/* domcache_item_start - item pos of the job (a mailbox that left the file, or a file
 * entry; domains are skipped): read its "file" field. Returns whether it sent anything. */
static bool domcache_item_start(struct domcache_batch *b, const uint8_t *hkey, size_t pos)
{
    struct domcache *dc = b->dc;
    const struct overrides_entry *e = NULL;
    const char *mb, *argv[3] = {"HGET", NULL, DOMCACHE_FILE_FIELD};
    struct domcache_item *it;
    size_t mlen, lens[3];

    if (pos < dc->nstale) {
        mb = dc->stale[pos];
        mlen = strlen(mb);
    } else {
        e = overrides_at(dc->file, pos - dc->nstale);
        if (e == NULL || !e->is_mailbox)
            return false;
        mb = e->key;
        mlen = e->key_len;
    }
    it = xcalloc(1, sizeof(*it));
    if (!domcache_ovr_key(dc, hkey, mb, mlen, it->key, &it->klen)) {
        free(it);
        return false;
    }
    it->b = b;
    it->listed = e != NULL;
    if (e != NULL)
        it->s = e->s;
    memcpy(it->mailbox, mb, mlen);
    it->mlen = mlen;
    argv[1] = it->key;
    lens[0] = 4, lens[1] = it->klen, lens[2] = strlen(DOMCACHE_FILE_FIELD);
    domcache_send(b, 3, argv, lens, domcache_item_cb, it);
    return true;
}

/* domcache_step - the job's next batch, when Redis is there and nothing is in flight;
 * else the next tick tries again. Writing also needs the recipient hash key. */
static void domcache_step(struct domcache *dc)
{
    size_t total = dc->nstale + overrides_count(dc->file), sent = 0;
    const uint8_t *hkey;
    struct domcache_batch *b;

    if (dc->stopping || dc->phase == DOMCACHE_IDLE || dc->inflight || !track_is_up(dc->track) ||
        uv_now(dc->loop) < dc->retry_at)
        return;
    if (dc->phase == DOMCACHE_SCAN) {
        domcache_scan_page(dc);
        return;
    }
    if ((hkey = dc->get_key(dc->key_arg)) == NULL)
        return;
    b = domcache_batch_new(dc);
    while (sent < DOMCACHE_SEED_BATCH && dc->pos < total)
        sent += domcache_item_start(b, hkey, dc->pos++);
    domcache_batch_release(b);
}

void domcache_seed_mailboxes(struct domcache *dc)
{
    if (dc->stopping)
        return;
    dc->gen++; /* what the old job has in flight is ignored when it is answered */
    dc->phase = DOMCACHE_SCAN;
    dc->inflight = false;
    dc->retry_at = 0;
    dc->scan_from = 0;
    dc->pos = 0;
    dc->job_written = dc->job_removed = 0;
    domcache_stale_clear(dc);
    domcache_step(dc);
}

/* ---- the timer, start, reload ------------------------------------------------------ */

static void domcache_on_tick(uv_timer_t *t)
{
    struct domcache *dc = t->data;

    if (uv_now(dc->loop) >= dc->next_poll)
        domcache_poll(dc);
    domcache_step(dc);
}

struct domcache *domcache_new(uv_loop_t *loop, struct track *track, const struct pd_config *cfg,
                              domcache_key_fn get_key, void *key_arg, struct pd_err *err)
{
    struct domcache *dc = xcalloc(1, sizeof(*dc));

    dc->loop = loop;
    dc->track = track;
    dc->get_key = get_key;
    dc->key_arg = key_arg;
    dc->refs = 1;
    domcache_settings(dc, cfg);
    if ((dc->file = domcache_load(dc->path, err)) == NULL) {
        domcache_unref(dc);
        return NULL;
    }
    domcache_log_loaded(dc);
    uv_timer_init(loop, &dc->timer);
    dc->timer.data = dc;
    dc->refs++; /* the timer's, until its close callback */
    uv_timer_start(&dc->timer, domcache_on_tick, 0, DOMCACHE_TICK_MS);
    domcache_seed_mailboxes(dc);
    return dc;
}

/* domcache_reconfigure - SIGHUP: the file read again (a bad one is logged and the old
 * entries stay), the new prefix and default domain, and the mailboxes written again. */
void domcache_reconfigure(struct domcache *dc, const struct pd_config *cfg)
{
    struct overrides *o;
    struct pd_err err;
    bool prefix_changed = strcmp(dc->prefix, cfg->redis_key_prefix) != 0;

    domcache_settings(dc, cfg);
    if ((o = domcache_load(dc->path, &err)) == NULL) {
        log_warn("overrides: %s; keeping the previous entries", err.msg);
    } else {
        overrides_free(dc->file);
        dc->file = o;
        domcache_log_loaded(dc);
    }
    if (prefix_changed) { /* another installation's keys: read them afresh */
        dc->redis = overrides_free(dc->redis);
        dc->redis_note[0] = '\0';
        dc->next_poll = 0;
    }
    domcache_seed_mailboxes(dc);
}
