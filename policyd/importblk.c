/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      importblk - pre-emptive blocks from a list of mailboxes (policyd --import-blocks)
 * SYNOPSIS
 *      importblk_run(cfg, list_path, reason, verbose)
 *      importblk_reason_ok(reason)
 *      importblk_parse_line(line, len, &start, &mlen); importblk_line_error(code)
 *      importblk_key_from_text(text, len, key)
 *      importblk_strerror(err)
 * DESCRIPTION
 *      importblk_run() reads the list first (one mailbox a line; blank lines, "#" comment
 *      lines and " # trailing comments" are skipped; white space around a name is
 *      trimmed), normalises every name the way decide does (keys_normalise with
 *      mailbox_default_domain), then blocks each one with block.lua: reason (default
 *      weak-password), score 0, evidence "", created_by "import", unblock condition
 *      password-change, no expiry; the history entry and its limits are decide's. A
 *      mailbox block.lua created is then added to the "<prefix>1:blocked" index (ZADD,
 *      score = the block's creation time, as decide does). A mailbox that is already
 *      blocked (by anyone, or earlier in the same list) is counted and left untouched:
 *      the import is idempotent. It emits no events and writes nothing else.
 *
 *      Key names: a long mailbox's keys carry a keyed hash of it, so the import needs the
 *      recipient hash key the nodes use: from recipient_hash_key_file when set, else from
 *      Redis exactly as decide gets it (SET NX of a random 32-hex-digit key, then GET of
 *      the one that won), through importblk_key_from_text(), which derives the 16 key
 *      bytes as decide_key_from_text() does (the first 16 bytes of the SHA-1 of the text).
 *
 *      Why an event loop: the import runs its own libuv loop with track(3), the daemon's
 *      Redis client, instead of synchronous hiredis. redis_server forms (HOST:PORT,
 *      [IPv6]:PORT, unix:PATH), AUTH from redis_password_file, the embedded block.lua
 *      with EVALSHA and its NOSCRIPT retry, redis_timeout and the "redis unavailable"
 *      diagnostics then stay in track.c, the only file that includes hiredis. The price
 *      is a callback chain for a sequence of commands. Up to IMPORTBLK_WINDOW blocks are
 *      in flight at once, so a long list takes seconds.
 *
 *      Ownership: the list's entries, the loop and the track client belong to one
 *      importblk_run() call and are freed before it returns.
 * DIAGNOSTICS
 *      On stdout, once: "imported: N blocked, M already blocked, K malformed". On stderr:
 *      each malformed line as "policyd: import: LIST:LINE: malformed mailbox "...": why"
 *      (peer-style data sanitised and clipped), and what went wrong. importblk_run()
 *      returns 0, or IMPORTBLK_ERR_LIST (the list cannot be read: nothing is written),
 *      IMPORTBLK_ERR_REASON, IMPORTBLK_ERR_REDIS (Redis unreachable within
 *      IMPORTBLK_CONNECT_MS, or a command failed: the summary says what was done) or
 *      IMPORTBLK_ERR_HASHKEY. Malformed lines are not an error.
 * SEE ALSO
 *      decide(3), track(3), keys(3), ratelimit/lua/block.lua, docs/ARCHITECTURE.md (Redis key schema).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <unistd.h>

#include <uv.h>

#include "policyd/config.h"
#include "policyd/importblk.h"
#include "policyd/log.h"
#include "policyd/sanitize.h"
#include "policyd/util.h"
#include "ratelimit/keys.h"
#include "ratelimit/sha1.h"
#include "ratelimit/signals.h"
#include "ratelimit/track.h"

#define IMPORTBLK_WINDOW 32                   /* block.lua calls in flight at once */
#define IMPORTBLK_CONNECT_MS 3000             /* how long to wait for Redis before giving up */
#define IMPORTBLK_POLL_MS 10                  /* how often to look whether Redis is there yet */
#define IMPORTBLK_HISTORY_MAX 50              /* = decide's DECIDE_HISTORY_MAX */
#define IMPORTBLK_HISTORY_TTL (400LL * 86400) /* = decide's DECIDE_HISTORY_TTL */
#define IMPORTBLK_HASHKEY_HEX 32 /* a shared key in Redis: at least this many characters */

/* One mailbox of the list, normalised; its own callback argument. */
struct importblk_entry {
    struct importblk *ib;
    char *mailbox;
    size_t len;
    size_t line;
};

struct importblk {
    const struct pd_config *cfg;
    const char *reason;
    uv_loop_t loop;
    uv_timer_t timer; /* waits for the connection */
    uint64_t started;
    struct track *track;
    int s_block;
    uint8_t key[SIPHASH_KEY_LEN];
    struct importblk_entry *v;
    size_t n, next, inflight;
    size_t blocked, already, malformed;
    bool reached; /* Redis answered at least once */
    bool stopping;
    int err;
    uint64_t rnd; /* fallback reference ids when getrandom fails */
};

static const char *const importblk_reasons[] = {"compromise", "rate", "manual", "weak-password",
                                                NULL}; /* block.lua's reasons */

const char *importblk_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case IMPORTBLK_ERR_LIST:
        return "the list cannot be read";
    case IMPORTBLK_ERR_REDIS:
        return "redis cannot be reached or failed";
    case IMPORTBLK_ERR_REASON:
        return "unknown block reason";
    case IMPORTBLK_ERR_HASHKEY:
        return "the recipient hash key in redis is malformed";
    default:
        return "unknown import error";
    }
}

bool importblk_reason_ok(const char *reason)
{
    int i;

    for (i = 0; reason != NULL && importblk_reasons[i] != NULL; i++)
        if (strcmp(reason, importblk_reasons[i]) == 0)
            return true;
    return false;
}

/* ---- the list (pure) ------------------------------------------------------------------- */

static bool importblk_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

const char *importblk_line_error(int code)
{
    switch (code) {
    case IMPORTBLK_LINE_NUL:
        return "NUL byte";
    case IMPORTBLK_LINE_SPACE:
        return "white space or a control character inside the name";
    case IMPORTBLK_LINE_EMPTY_PART:
        return "empty local part or domain";
    default:
        return "malformed";
    }
}

/*
 * importblk_parse_line - where the mailbox of one list line is: the line without its
 * comment ("#" at the start or after white space) and the white space around it. A name
 * must not contain white space, control bytes or NUL, nor start or end with '@'. Length
 * and case are keys_normalise's business.
 */
int importblk_parse_line(const char *line, size_t len, size_t *start, size_t *mlen)
{
    size_t i, b = 0, e;

    if (memchr(line, '\0', len) != NULL)
        return IMPORTBLK_LINE_NUL;
    for (i = 0; i < len; i++) {
        if (line[i] == '#' && (i == 0 || importblk_is_space((unsigned char)line[i - 1]))) {
            len = i;
            break;
        }
    }
    while (b < len && importblk_is_space((unsigned char)line[b]))
        b++;
    e = len;
    while (e > b && importblk_is_space((unsigned char)line[e - 1]))
        e--;
    if (e == b)
        return IMPORTBLK_LINE_EMPTY;
    for (i = b; i < e; i++) {
        unsigned char c = (unsigned char)line[i];

        if (c <= 0x20 || c == 0x7f)
            return IMPORTBLK_LINE_SPACE;
    }
    if (line[b] == '@' || line[e - 1] == '@')
        return IMPORTBLK_LINE_EMPTY_PART;
    *start = b;
    *mlen = e - b;
    return IMPORTBLK_LINE_MAILBOX;
}

/* importblk_key_from_text - 16 key bytes from a secret of any form: the first 16 bytes of
 * its SHA-1, as decide_key_from_text() derives them. Pure. */
void importblk_key_from_text(const char *text, size_t len, uint8_t key[SIPHASH_KEY_LEN])
{
    char hex[41];
    int i;

    sha1_hex(text, len, hex);
    for (i = 0; i < SIPHASH_KEY_LEN; i++) {
        unsigned v;

        sscanf(hex + 2 * i, "%2x", &v);
        key[i] = (uint8_t)v;
    }
}

/* importblk_malformed - report one line that names no usable mailbox. */
static void importblk_malformed(struct importblk *ib, const char *path, size_t lineno,
                                const char *line, size_t len, const char *why)
{
    char shown[SANITIZE_BUF];

    ib->malformed++;
    sanitize_log(shown, sizeof(shown), line, len);
    fprintf(stderr, "policyd: import: %s:%zu: malformed mailbox \"%s\": %s\n", path, lineno, shown,
            why);
}

/* importblk_add - one line of the list: skipped, reported, or a normalised entry. */
static void importblk_add(struct importblk *ib, const char *path, size_t lineno, const char *line,
                          size_t len, size_t *cap)
{
    char mb[KEYS_MAILBOX_MAX + 1];
    size_t start = 0, mlen = 0, n = 0;
    int rc = importblk_parse_line(line, len, &start, &mlen), krc;
    struct importblk_entry *e;

    if (rc == IMPORTBLK_LINE_EMPTY)
        return;
    if (rc < 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--; /* shown without its line end */
        importblk_malformed(ib, path, lineno, line, len, importblk_line_error(rc));
        return;
    }
    krc = keys_normalise(line + start, mlen, ib->cfg->mailbox_default_domain, mb, sizeof(mb), &n);
    if (krc < 0) {
        importblk_malformed(ib, path, lineno, line + start, mlen, keys_strerror(krc));
        return;
    }
    if (ib->n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        ib->v = xrealloc(ib->v, *cap * sizeof(*ib->v));
    }
    e = &ib->v[ib->n++];
    e->ib = ib;
    e->mailbox = xstrndup(mb, n);
    e->len = n;
    e->line = lineno;
}

/* importblk_read - the whole list ("-" is stdin) before anything is written. */
static int importblk_read(struct importblk *ib, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL;
    size_t linecap = 0, cap = 0, lineno = 0;
    ssize_t got;
    int rc = 0;

    if (f == NULL) {
        fprintf(stderr, "policyd: import: %s: %s\n", path, strerror(errno));
        return IMPORTBLK_ERR_LIST;
    }
    errno = 0;
    while ((got = getline(&line, &linecap, f)) >= 0)
        importblk_add(ib, path, ++lineno, line, (size_t)got, &cap);
    if (ferror(f)) {
        fprintf(stderr, "policyd: import: %s: %s\n", path, strerror(errno ? errno : EIO));
        rc = IMPORTBLK_ERR_LIST;
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* ---- Redis ----------------------------------------------------------------------------- */

static void importblk_pump(struct importblk *ib);

/* importblk_stop - no more commands: close the client and the timer; the loop ends. */
static void importblk_stop(struct importblk *ib)
{
    if (ib->stopping)
        return;
    ib->stopping = true;
    uv_timer_stop(&ib->timer);
    uv_close((uv_handle_t *)&ib->timer, NULL);
    track_shutdown(ib->track);
}

/* importblk_fail - the first failure stops the import once what is in flight returns. */
static void importblk_fail(struct importblk *ib, int err, const char *what, int status,
                           const struct track_reply *rep)
{
    if (ib->err == 0) {
        ib->err = err;
        fprintf(stderr, "policyd: import: %s: %s%s%.200s\n", what, track_strerror(status),
                rep != NULL && rep->error != NULL ? ": " : "",
                rep != NULL && rep->error != NULL ? rep->error : "");
    }
}

/* importblk_ref - "PD-" and 8 upper-case hex digits from the kernel's random source. */
static void importblk_ref(struct importblk *ib, char out[SIGNALS_STR_MAX])
{
    uint32_t r;

    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        ib->rnd ^= ib->rnd << 13; /* xorshift, seeded in importblk_run */
        ib->rnd ^= ib->rnd >> 7;
        ib->rnd ^= ib->rnd << 17;
        r = (uint32_t)(ib->rnd >> 32);
    }
    snprintf(out, SIGNALS_STR_MAX, "PD-%08X", (unsigned)r);
}

static void importblk_on_zadd(void *arg, int status, const struct track_reply *rep)
{
    struct importblk_entry *e = arg;
    struct importblk *ib = e->ib;

    ib->inflight--;
    if (status != TRACK_OK)
        importblk_fail(ib, IMPORTBLK_ERR_REDIS, "ZADD blocked index", status, rep);
    importblk_pump(ib);
}

/* importblk_index - the ZADD decide does after a block it created; keeps the slot. */
static void importblk_index(struct importblk_entry *e, long long created_at)
{
    struct importblk *ib = e->ib;
    char idx[KEYS_PREFIX_MAX + 16], score[24];
    const char *argv[4] = {"ZADD", idx, score, e->mailbox};
    size_t lens[4];

    snprintf(idx, sizeof(idx), "%s%s:blocked", ib->cfg->redis_key_prefix, KEYS_SCHEMA);
    snprintf(score, sizeof(score), "%lld", created_at);
    lens[0] = 4, lens[1] = strlen(idx), lens[2] = strlen(score), lens[3] = e->len;
    track_command(ib->track, 4, argv, lens, importblk_on_zadd, e);
}

/* importblk_on_block - block.lua answered: created (then index it) or already there. */
static void importblk_on_block(void *arg, int status, const struct track_reply *rep)
{
    struct importblk_entry *e = arg;
    struct importblk *ib = e->ib;
    long long created = -1, created_at = 0;
    size_t i;

    if (status == TRACK_OK) {
        for (i = 0; i < rep->npairs; i++) {
            const struct track_pair *p = &rep->pairs[i];

            if (p->name_len == 7 && memcmp(p->name, "created", 7) == 0 && p->is_int)
                created = p->ival;
            else if (p->name_len == 10 && memcmp(p->name, "created_at", 10) == 0 && p->is_int)
                created_at = p->ival;
        }
    }
    if (status != TRACK_OK || created < 0) {
        ib->inflight--;
        importblk_fail(ib, IMPORTBLK_ERR_REDIS, "block.lua",
                       status != TRACK_OK ? status : TRACK_ERR_REPLY, rep);
        importblk_pump(ib);
        return;
    }
    ib->reached = true;
    if (created == 0) {
        ib->already++;
        ib->inflight--;
        importblk_pump(ib);
        return;
    }
    ib->blocked++;
    importblk_index(e, created_at); /* its answer releases the slot */
}

/* importblk_send - block.lua for one entry, with decide's arguments but the import's
 * reason, score 0, no evidence, created_by "import". */
static void importblk_send(struct importblk *ib, struct importblk_entry *e)
{
    char enc[KEYS_ENC_SIZE], blk[KEYS_NAME_SIZE], hist[KEYS_NAME_SIZE], ref[SIGNALS_STR_MAX];
    char now[24], hmax[24], httl[24];
    const char *argv[14];
    size_t lens[14], enc_len = 0, n = 0;
    uv_timeval64_t tv;
    int i;

    if (keys_encode(e->mailbox, e->len, ib->key, enc, sizeof(enc), &enc_len) < 0 ||
        keys_name(ib->cfg->redis_key_prefix, enc, enc_len, KEYS_SUFFIX_BLOCK, blk, sizeof(blk),
                  &n) < 0 ||
        keys_name(ib->cfg->redis_key_prefix, enc, enc_len, "hist", hist, sizeof(hist), &n) < 0)
        log_panic("import: no key names for a normalised mailbox (line %zu)", e->line);
    importblk_ref(ib, ref);
    uv_gettimeofday(&tv);
    snprintf(now, sizeof(now), "%lld", (long long)tv.tv_sec);
    snprintf(hmax, sizeof(hmax), "%d", IMPORTBLK_HISTORY_MAX);
    snprintf(httl, sizeof(httl), "%lld", IMPORTBLK_HISTORY_TTL);
    argv[0] = "2", argv[1] = blk, argv[2] = hist, argv[3] = ref, argv[4] = ib->reason;
    argv[5] = "0", argv[6] = "", argv[7] = now, argv[8] = "import";
    argv[9] = "password-change", argv[10] = "0", argv[11] = e->mailbox, argv[12] = hmax;
    argv[13] = httl;
    for (i = 0; i < 14; i++)
        lens[i] = i == 11 ? e->len : strlen(argv[i]);
    track_eval(ib->track, ib->s_block, 14, argv, lens, importblk_on_block, e);
}

/* importblk_pump - keep IMPORTBLK_WINDOW blocks in flight; stop when all came back. A
 * callback may run inside track_eval (not connected): the loop then sees the error. */
static void importblk_pump(struct importblk *ib)
{
    while (!ib->stopping && ib->err == 0 && ib->inflight < IMPORTBLK_WINDOW && ib->next < ib->n) {
        ib->inflight++;
        importblk_send(ib, &ib->v[ib->next++]);
    }
    if (!ib->stopping && ib->inflight == 0 && (ib->err != 0 || ib->next >= ib->n))
        importblk_stop(ib);
}

static void importblk_noop(void *arg, int status, const struct track_reply *rep)
{
    (void)arg;
    (void)status;
    (void)rep;
}

/* importblk_on_key - the shared key that won the SET NX: derive, then block. */
static void importblk_on_key(void *arg, int status, const struct track_reply *rep)
{
    struct importblk *ib = arg;

    ib->inflight--;
    if (status != TRACK_OK) {
        importblk_fail(ib, IMPORTBLK_ERR_REDIS, "GET recipient hash key", status, rep);
    } else if (rep->npairs != 1 || rep->pairs[0].is_int ||
               rep->pairs[0].sval_len < IMPORTBLK_HASHKEY_HEX) {
        ib->err = IMPORTBLK_ERR_HASHKEY;
        fprintf(stderr,
                "policyd: import: the recipient hash key %s%s:hashkey in redis is "
                "missing or too short\n",
                ib->cfg->redis_key_prefix, KEYS_SCHEMA);
    } else {
        ib->reached = true;
        importblk_key_from_text(rep->pairs[0].sval, rep->pairs[0].sval_len, ib->key);
    }
    importblk_pump(ib);
}

/* importblk_fetch_key - decide_fetch_key's two pipelined commands. */
static void importblk_fetch_key(struct importblk *ib)
{
    char name[KEYS_PREFIX_MAX + 32], val[IMPORTBLK_HASHKEY_HEX + 1];
    uint8_t rnd[IMPORTBLK_HASHKEY_HEX / 2];
    const char *set[4] = {"SET", name, val, "NX"}, *get[2] = {"GET", name};
    size_t setl[4], getl[2];
    int i;

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        log_fatal("getrandom: cannot make a recipient hash key");
    for (i = 0; i < (int)sizeof(rnd); i++)
        snprintf(val + 2 * i, 3, "%02x", rnd[i]);
    snprintf(name, sizeof(name), "%s%s:hashkey", ib->cfg->redis_key_prefix, KEYS_SCHEMA);
    setl[0] = 3, setl[1] = strlen(name), setl[2] = IMPORTBLK_HASHKEY_HEX, setl[3] = 2;
    getl[0] = 3, getl[1] = setl[1];
    ib->inflight++;
    track_command(ib->track, 4, set, setl, importblk_noop, NULL);
    track_command(ib->track, 2, get, getl, importblk_on_key, ib);
}

/* importblk_on_timer - wait for the connection, then the key, then the blocks. */
static void importblk_on_timer(uv_timer_t *t)
{
    struct importblk *ib = t->data;

    if (track_is_up(ib->track)) {
        uv_timer_stop(t);
        if (ib->cfg->recipient_hash_key != NULL && ib->cfg->recipient_hash_key[0] != '\0') {
            importblk_key_from_text(ib->cfg->recipient_hash_key,
                                    strlen(ib->cfg->recipient_hash_key), ib->key);
            importblk_pump(ib);
        } else {
            importblk_fetch_key(ib);
        }
        return;
    }
    if (uv_now(&ib->loop) - ib->started >= IMPORTBLK_CONNECT_MS) {
        ib->err = IMPORTBLK_ERR_REDIS;
        fprintf(stderr, "policyd: import: cannot reach redis at %s within %d ms\n",
                ib->cfg->redis_server, IMPORTBLK_CONNECT_MS);
        importblk_stop(ib);
    }
}

/* importblk_redis - the loop: connect, key, blocks; returns when everything is closed. */
static void importblk_redis(struct importblk *ib)
{
    int rc;

    if ((rc = uv_loop_init(&ib->loop)) != 0)
        log_fatal("uv_loop_init: %s", uv_strerror(rc));
    ib->track = track_new(&ib->loop, ib->cfg);
    ib->s_block = track_script_index(ib->track, "block");
    if (ib->s_block < 0)
        log_panic("embedded Lua script block.lua missing");
    uv_timer_init(&ib->loop, &ib->timer);
    ib->timer.data = ib;
    ib->started = uv_now(&ib->loop);
    uv_timer_start(&ib->timer, importblk_on_timer, 0, IMPORTBLK_POLL_MS);
    uv_run(&ib->loop, UV_RUN_DEFAULT);
    ib->track = track_free(ib->track);
    if ((rc = uv_loop_close(&ib->loop)) != 0)
        log_warn("import: event loop closed with handles open: %s", uv_strerror(rc));
}

int importblk_run(const struct pd_config *cfg, const char *list_path, const char *reason,
                  int verbose)
{
    struct importblk ib;
    size_t i;
    int rc;

    memset(&ib, 0, sizeof(ib));
    ib.cfg = cfg;
    ib.reason = reason != NULL ? reason : IMPORTBLK_REASON_DEFAULT;
    ib.rnd = 0x9E3779B97F4A7C15ULL ^ uv_hrtime() ^ (uint64_t)getpid();
    if (!importblk_reason_ok(ib.reason)) {
        fprintf(stderr,
                "policyd: import: --reason %s: not one of compromise, rate, manual, "
                "weak-password\n",
                ib.reason);
        return IMPORTBLK_ERR_REASON;
    }
    rc = importblk_read(&ib, list_path);
    if (rc == 0) {
        log_open(cfg->syslog_name, cfg->syslog_facility, true, verbose);
        importblk_redis(&ib);
        if (ib.reached || ib.err == 0)
            printf("imported: %zu blocked, %zu already blocked, %zu malformed\n", ib.blocked,
                   ib.already, ib.malformed);
        if (ib.err != 0 && ib.reached && ib.next < ib.n)
            fprintf(stderr, "policyd: import: stopped after %zu of %zu mailboxes\n",
                    ib.blocked + ib.already, ib.n);
        rc = ib.err;
        log_close();
    }
    for (i = 0; i < ib.n; i++)
        free(ib.v[i].mailbox);
    free(ib.v);
    return rc;
}
