/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      decide - from a parsed request to its reply
 * SYNOPSIS
 *      decide_new(srv); decide_request(d, conn, req); decide_reconfigure(d, cfg)
 *      decide_shutdown(d); decide_free(d)
 * DESCRIPTION
 *      The decision step, the only module that joins tracking, rules and blocks:
 *
 *      1. A request without sasl_username, or at a protocol state we do not count, is
 *         answered DUNNO at once (counted as unauthenticated).
 *      2. The login is normalised (keys), the recipient hashed with the shared key, the
 *         client network computed, the sender checked against the login, and ONE
 *         EVALSHA of track.lua is sent (trackargs, track).
 *      3. The signals it returns go through rules; the verdict becomes the reply
 *         (verdict). A new BLOCK, in enforce mode, is written with block.lua first (a
 *         second round trip, on this path only): the first writer's reference id is the
 *         one every node answers with.
 *      4. If Redis does not answer within redis_timeout, redis_fail_action is the reply.
 *
 *      While a request waits for Redis, decide holds a reference on its connection; a
 *      connection that closed in the meantime gets no reply. A request's config is the
 *      one its connection took when the request arrived.
 *
 *      The recipient hash key comes from recipient_hash_key_file, or else from Redis
 *      (SET NX of a random key at the first connection, shared by every node). Until it
 *      is known, requests get redis_fail_action.
 * DIAGNOSTICS
 *      One info line per decision, greppable per user:
 *      "conn=... user=... client=... rcpt=... state=... action=... verdict=... score=...
 *      rules=...", peer data sanitised and clipped. A block is logged once with its
 *      reference id and evidence ("blocked: user=... ref=...").
 * SEE ALSO
 *      conn(3), track(3), rules(3), verdict(3), ratelimit/lua/track.lua, block.lua.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <uv.h>

#include "policyd/config.h"
#include "policyd/conn.h"
#include "policyd/decide.h"
#include "policyd/events.h"
#include "policyd/log.h"
#include "policyd/loginmap.h"
#include "policyd/sanitize.h"
#include "policyd/server.h"
#include "policyd/util.h"
#include "policyd/verdict.h"
#include "ratelimit/domcache.h"
#include "ratelimit/keys.h"
#include "ratelimit/rules.h"
#include "ratelimit/sha1.h"
#include "ratelimit/signals.h"
#include "ratelimit/track.h"
#include "ratelimit/trackargs.h"

#define DECIDE_KEY_RETRY_MS 50
#define DECIDE_KEY_CHECK_MS 30000 /* re-check the shared key: Redis may have lost it */
#define DECIDE_HISTORY_MAX 50
#define DECIDE_HISTORY_TTL (400LL * 86400)

_Static_assert(RULES_BLOCK + 1 == DECIDE_ACTIONS, "decide_stats.by_action covers rules_action");

const double decide_lat_bounds_ms[DECIDE_LAT_BUCKETS - 1] = {0.5, 1, 2, 5, 10, 25, 50, 100, 250};

struct decide {
    struct pd_server *srv;
    struct track *track;
    int s_track, s_block, s_unblock;
    uint8_t hash_key[SIPHASH_KEY_LEN];
    bool key_ready;
    bool key_from_file;
    char key_text[33]; /* the shared key as Redis holds it (32 hex digits) */
    uv_timer_t key_timer;
    uint64_t ref_state; /* xorshift state for reference ids */
    struct domcache *domcache; /* per-domain overrides; the file's mailbox entries */
    struct loginmap *loginmap; /* sender_login_maps, with sender_login_match = map */
    struct decide_stats stats;
};

/* One request waiting for Redis. */
struct decide_req {
    struct decide *d;
    struct pd_conn *conn;
    const struct pd_config *cfg;
    uint64_t started;
    int64_t now_ms;
    bool at_rcpt;
    char mailbox[KEYS_MAILBOX_MAX + 1];
    size_t mailbox_len;
    char enc[KEYS_ENC_SIZE];
    size_t enc_len;
    char user_log[SANITIZE_BUF], client_log[SANITIZE_BUF], rcpt_log[SANITIZE_BUF];
    char state_log[SANITIZE_BUF];
    struct rl_signals sig;
    struct rules_verdict v;
};

static void decide_fetch_key(uv_timer_t *t);

static void decide_noop(void *arg, int status, const struct track_reply *rep)
{
    (void)arg;
    (void)status;
    (void)rep;
}

/* decide_ref - a new reference id, "PD-" and 8 hex digits. */
static void decide_ref(struct decide *d, char out[SIGNALS_STR_MAX])
{
    uint64_t x = d->ref_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    d->ref_state = x;
    snprintf(out, SIGNALS_STR_MAX, "PD-%08X", (unsigned)(x >> 32));
}

/* decide_key_from_text - 16 key bytes from a secret of any form. */
static void decide_key_from_text(struct decide *d, const char *text, size_t len)
{
    char hex[41];
    int i;

    sha1_hex(text, len, hex);
    for (i = 0; i < SIPHASH_KEY_LEN; i++) {
        unsigned v;

        sscanf(hex + 2 * i, "%2x", &v);
        d->hash_key[i] = (uint8_t)v;
    }
    d->key_ready = true;
}

/*
 * decide_on_key - the shared key as Redis holds it. Every node must hash with the same
 * key: a Redis that lost its data (restart without persistence, FLUSHALL, failover to an
 * empty replica) gets our key back with SET NX, so nodes started later adopt it; if
 * Redis holds another key (another node won the race after the loss), we adopt that one.
 */
static void decide_on_key(void *arg, int status, const struct track_reply *rep)
{
    struct decide *d = arg;
    uint64_t next = DECIDE_KEY_RETRY_MS;

    if (status == TRACK_OK && rep->npairs == 1 && !rep->pairs[0].is_int &&
        rep->pairs[0].sval_len == 32) {
        const char *v = rep->pairs[0].sval;

        if (!d->key_ready) {
            log_info("recipient hash key: shared key from Redis in use");
        } else if (memcmp(v, d->key_text, 32) != 0) {
            log_warn("recipient hash key: Redis holds another shared key than ours (Redis "
                     "lost its data and another node wrote first?): adopting it");
        }
        memcpy(d->key_text, v, 32);
        d->key_text[32] = '\0';
        decide_key_from_text(d, v, 32);
        next = DECIDE_KEY_CHECK_MS;
    } else if (status == TRACK_OK && d->key_ready) {
        next = DECIDE_KEY_CHECK_MS; /* not a key we wrote: keep ours, try again later */
        log_warn("recipient hash key: unexpected value in Redis; keeping ours");
    } else if (d->key_ready) {
        next = DECIDE_KEY_CHECK_MS;
    }
    if (!uv_is_closing((uv_handle_t *)&d->key_timer))
        uv_timer_start(&d->key_timer, decide_fetch_key, next, 0);
}

/* decide_on_redis_up - Redis is back: check at once that it still holds our key. */
static void decide_on_redis_up(void *arg)
{
    struct decide *d = arg;

    if (!d->key_from_file && !uv_is_closing((uv_handle_t *)&d->key_timer))
        uv_timer_start(&d->key_timer, decide_fetch_key, 0, 0);
}

/* decide_fetch_key - SET NX a random key, then GET the one that won (pipelined). */
static void decide_fetch_key(uv_timer_t *t)
{
    struct decide *d = t->data;
    const struct pd_config *cfg = d->srv->cfg;
    char name[KEYS_PREFIX_MAX + 32], val[33];
    uint8_t rnd[16];
    const char *set[5] = {"SET", name, val, "NX"}, *get[2] = {"GET", name};
    size_t setl[5], getl[2];
    int i;

    if (d->key_ready) {
        memcpy(val, d->key_text, sizeof(val)); /* ours, in case Redis lost it */
    } else {
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            log_fatal("getrandom: cannot make a recipient hash key");
        for (i = 0; i < 16; i++)
            snprintf(val + 2 * i, 3, "%02x", rnd[i]);
    }
    snprintf(name, sizeof(name), "%s%s:hashkey", cfg->redis_key_prefix, KEYS_SCHEMA);
    setl[0] = 3, setl[1] = strlen(name), setl[2] = 32, setl[3] = 2;
    getl[0] = 3, getl[1] = setl[1];
    track_command(d->track, 4, set, setl, decide_noop, NULL);
    track_command(d->track, 2, get, getl, decide_on_key, d);
}

static const uint8_t *decide_key_fn(void *arg)
{
    return decide_hash_key(arg);
}

/* decide_load_loginmap - sender_login_maps, when sender_login_match = map. At start a
 * bad file is fatal; at a reload it is logged and the old map kept. */
static void decide_load_loginmap(struct decide *d, const struct pd_config *cfg, bool fatal)
{
    struct loginmap *m = NULL;
    struct loginmap_stats st;
    struct pd_err err;

    if (strcmp(cfg->sender_login_match, "map") != 0 || cfg->sender_login_maps == NULL ||
        cfg->sender_login_maps[0] == '\0') {
        d->loginmap = loginmap_free(d->loginmap);
        return;
    }
    if (loginmap_load(cfg->sender_login_maps, &m, &err) < 0) {
        if (fatal)
            log_fatal("sender_login_maps %s: %s", cfg->sender_login_maps, err.msg);
        log_warn("sender_login_maps %s: %s; keeping the previous map", cfg->sender_login_maps,
                  err.msg);
        return;
    }
    loginmap_stats(m, &st);
    if (st.duplicates > 0 || st.ignored > 0)
        log_warn("sender_login_maps %s: %zu duplicate keys (first at line %d, the first "
                 "entry counts), %zu lines ignored (first at line %d)",
                 cfg->sender_login_maps, st.duplicates, st.first_duplicate_line, st.ignored,
                 st.first_ignored_line);
    log_info("sender_login_maps %s: %zu senders, %zu logins", cfg->sender_login_maps,
             st.entries, st.logins);
    loginmap_free(d->loginmap);
    d->loginmap = m;
}

struct decide *decide_new(struct pd_server *srv)
{
    struct pd_err err;
    struct decide *d = xcalloc(1, sizeof(*d));
    const struct pd_config *cfg = srv->cfg;

    d->srv = srv;
    if (getrandom(&d->ref_state, sizeof(d->ref_state), 0) != sizeof(d->ref_state) ||
        d->ref_state == 0)
        d->ref_state = 0x9E3779B97F4A7C15ULL ^ (uint64_t)uv_hrtime();
    d->track = track_new(srv->loop, cfg);
    d->s_track = track_script_index(d->track, "track");
    d->s_block = track_script_index(d->track, "block");
    d->s_unblock = track_script_index(d->track, "unblock");
    track_on_up(d->track, decide_on_redis_up, d);
    if (d->s_track < 0 || d->s_block < 0 || d->s_unblock < 0)
        log_panic("embedded Lua scripts missing (track, block, unblock)");
    uv_timer_init(srv->loop, &d->key_timer);
    d->key_timer.data = d;
    if (cfg->recipient_hash_key != NULL && cfg->recipient_hash_key[0] != '\0') {
        decide_key_from_text(d, cfg->recipient_hash_key, strlen(cfg->recipient_hash_key));
        d->key_from_file = true;
    } else {
        uv_timer_start(&d->key_timer, decide_fetch_key, 0, 0);
    }
    d->domcache = domcache_new(srv->loop, d->track, cfg, decide_key_fn, d, &err);
    if (d->domcache == NULL)
        log_fatal("overrides_file %s", err.msg);
    decide_load_loginmap(d, cfg, true);
    return d;
}

/* decide_attr - a request attribute sanitised for the log ("" when absent). */
static const char *decide_attr(char *buf, size_t len, const struct proto_request *req,
                               enum proto_attr a)
{
    return sanitize_log(buf, len, req->attr[a], req->attr_len[a]);
}

static const char *decide_val(const struct proto_request *req, enum proto_attr a)
{
    return req->attr[a] != NULL ? req->attr[a] : "";
}

/* decide_now_ms - the wall clock, or the request's policyd_time when trusted (tests). */
static int64_t decide_now_ms(const struct pd_config *cfg, const struct proto_request *req)
{
    uv_timeval64_t tv;

    if (cfg->trust_request_time && req->attr[PROTO_A_POLICYD_TIME] != NULL) {
        char *end;
        double t = strtod(req->attr[PROTO_A_POLICYD_TIME], &end);

        if (end != req->attr[PROTO_A_POLICYD_TIME] && *end == '\0' && t > 0 && t < 1e11)
            return (int64_t)(t * 1000.0);
    }
    uv_gettimeofday(&tv);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* decide_finish - reply, log, and let go of the request. */
static void decide_finish(struct decide_req *r, const char *action, const char *verdict,
                          const char *extra)
{
    double ms = (double)(uv_hrtime() - r->started) / 1e6;
    struct decide_stats *st = &r->d->stats;
    int b = 0;

    while (b < DECIDE_LAT_BUCKETS - 1 && ms > decide_lat_bounds_ms[b])
        b++;
    st->lat_le[b]++;
    st->lat_count++;
    st->lat_sum_s += ms / 1000.0;

    log_info("conn=%08x user=%s client=%s rcpt=%s state=%s action=%s%s%s delay=%.1fms",
             r->conn->id, r->user_log, r->client_log, r->rcpt_log, r->state_log, action,
             verdict, extra, ms);
    conn_reply(r->conn, action, strlen(action));
    conn_unref(r->conn);
    free(r);
}

/* decide_fail - Redis did not answer usefully: the configured fail action. */
static void decide_fail(struct decide_req *r, int status)
{
    char extra[64];

    r->d->stats.fail_action++;
    snprintf(extra, sizeof(extra), " redis=%s", track_strerror(status));
    decide_finish(r, r->cfg->redis_fail_action, " verdict=FAIL", extra);
}

/* decide_reply_verdict - the action for a verdict, with its evidence in the log line. */
static void decide_reply_verdict(struct decide_req *r, const char *ref)
{
    char action[VERDICT_ACTION_MAX], fams[96], evidence[RULES_EVIDENCE_MAX];
    char extra[RULES_EVIDENCE_MAX + 256];

    rules_format_families(r->v.families, fams, sizeof(fams));
    if (verdict_action(r->cfg, r->v.action, ref, fams, r->at_rcpt, action, sizeof(action)) < 0)
        snprintf(action, sizeof(action), "DUNNO");
    r->d->stats.by_action[r->v.action]++;
    if (r->v.action == RULES_PASS) {
        snprintf(extra, sizeof(extra), " rcpt_1h=%lld rcpt_24h=%lld", r->sig.rcpt_1h,
                 r->sig.rcpt_24h);
    } else {
        rules_format_evidence(&r->v, evidence, sizeof(evidence));
        snprintf(extra, sizeof(extra), " score=%d families=%s%s%s rules=\"%s\"%s", r->v.score,
                 fams, ref[0] != '\0' ? " ref=" : "", ref, evidence,
                 strcmp(r->cfg->mode, "observe") == 0 ? " mode=observe" : "");
    }
    if (r->v.action == RULES_HOLD && strncmp(action, "HOLD", 4) == 0) {
        /* the message really went to the hold queue: tell the alert mailer (it keeps one
         * mail per mailbox and day) */
        struct pd_event ev = {
            .type = PD_EVENT_HOLD, .mailbox = r->mailbox, .ref = ref, .reason = "hold",
            .rules = evidence, .by = "auto", .condition = "review", .score = r->v.score,
            .at = r->now_ms / 1000,
        };

        events_emit(&ev);
    }
    {
        char verdict[32];

        snprintf(verdict, sizeof(verdict), " verdict=%s", rules_action_name(r->v.action));
        decide_finish(r, action, verdict, extra);
    }
}

/* decide_key - one of the mailbox's key names. */
static size_t decide_key(const struct decide_req *r, const char *suffix, char *out, size_t len)
{
    size_t n = 0;

    if (keys_name(r->cfg->redis_key_prefix, r->enc, r->enc_len, suffix, out, len, &n) < 0)
        out[0] = '\0';
    return n;
}

/* decide_on_block - block.lua answered: the winning reference id goes to the client. */
static void decide_on_block(void *arg, int status, const struct track_reply *rep)
{
    struct decide_req *r = arg;
    char ref[SIGNALS_STR_MAX] = "", evidence[RULES_EVIDENCE_MAX], idx[KEYS_PREFIX_MAX + 16];
    long long created = 0, created_at = 0;
    size_t i;

    if (conn_is_closing(r->conn)) {
        conn_unref(r->conn);
        free(r);
        return;
    }
    if (status != TRACK_OK) {
        decide_fail(r, status);
        return;
    }
    for (i = 0; i < rep->npairs; i++) {
        const struct track_pair *p = &rep->pairs[i];

        if (p->name_len == 7 && memcmp(p->name, "created", 7) == 0)
            created = p->ival;
        else if (p->name_len == 10 && memcmp(p->name, "created_at", 10) == 0)
            created_at = p->ival;
        else if (p->name_len == 3 && memcmp(p->name, "ref", 3) == 0)
            snprintf(ref, sizeof(ref), "%.*s", (int)p->sval_len, p->sval);
    }
    if (created) {
        const char *zadd[4] = {"ZADD", idx, "", r->mailbox};
        char score[24];
        size_t zl[4];

        r->d->stats.blocks_written++;
        snprintf(idx, sizeof(idx), "%s%s:blocked", r->cfg->redis_key_prefix, KEYS_SCHEMA);
        snprintf(score, sizeof(score), "%lld", created_at);
        zadd[2] = score;
        zl[0] = 4, zl[1] = strlen(idx), zl[2] = strlen(score), zl[3] = r->mailbox_len;
        track_command(r->d->track, 4, zadd, zl, decide_noop, NULL);
        rules_format_evidence(&r->v, evidence, sizeof(evidence));
        log_warn("blocked: user=%s ref=%s reason=compromise score=%d client=%s rules=\"%s\" "
                 "unblock=password-change",
                 r->user_log, ref, r->v.score, r->client_log, evidence);
        {
            struct pd_event ev = {
                .type = PD_EVENT_BLOCK, .mailbox = r->mailbox, .ref = ref,
                .reason = "compromise", .rules = evidence, .by = "auto",
                .condition = "password-change", .score = r->v.score, .at = created_at,
            };

            events_emit(&ev);
        }
    }
    decide_reply_verdict(r, ref);
}

/* decide_write_block - the second round trip, only when a new BLOCK is enforced. */
static void decide_write_block(struct decide_req *r)
{
    char blk[KEYS_NAME_SIZE], hist[KEYS_NAME_SIZE], ref[SIGNALS_STR_MAX];
    char score[24], now[24], evidence[RULES_EVIDENCE_MAX], hmax[24], httl[24];
    const char *argv[14];
    size_t lens[14];
    int i;

    decide_ref(r->d, ref);
    rules_format_evidence(&r->v, evidence, sizeof(evidence));
    snprintf(score, sizeof(score), "%d", r->v.score);
    snprintf(now, sizeof(now), "%lld", (long long)(r->now_ms / 1000));
    snprintf(hmax, sizeof(hmax), "%d", DECIDE_HISTORY_MAX);
    snprintf(httl, sizeof(httl), "%lld", DECIDE_HISTORY_TTL);
    decide_key(r, KEYS_SUFFIX_BLOCK, blk, sizeof(blk));
    decide_key(r, "hist", hist, sizeof(hist));
    argv[0] = "2", argv[1] = blk, argv[2] = hist, argv[3] = ref, argv[4] = "compromise";
    argv[5] = score, argv[6] = evidence, argv[7] = now, argv[8] = "auto";
    argv[9] = "password-change", argv[10] = "0", argv[11] = r->mailbox, argv[12] = hmax;
    argv[13] = httl;
    for (i = 0; i < 14; i++)
        lens[i] = strlen(argv[i]);
    track_eval(r->d->track, r->d->s_block, 14, argv, lens, decide_on_block, r);
}

/* decide_signals - the script's values (positional) or name/value pairs (a blocked
 * mailbox) into struct rl_signals. */
static void decide_signals(struct rl_signals *sig, const struct track_reply *rep)
{
    size_t i;

    signals_clear(sig);
    for (i = 0; i < rep->npairs; i++) {
        const struct track_pair *p = &rep->pairs[i];

        if (rep->positional)
            signals_set_at(sig, i, p->is_int, p->ival, p->sval, p->sval_len);
        else if (p->is_int)
            signals_set_int(sig, p->name, p->name_len, p->ival);
        else
            signals_set_str(sig, p->name, p->name_len, p->sval, p->sval_len);
    }
}

/* decide_freeze_day - a HOLD or BLOCK verdict: today is left out of the mailbox's baseline
 * (track.lua reads the st field "nl" when the day rolls over), so an attack does not
 * teach the rules that it is normal. Fire and forget, on the rare path only. */
static void decide_freeze_day(struct decide_req *r)
{
    char st[KEYS_NAME_SIZE], day[24];
    const char *argv[4] = {"HSET", st, "nl", day};
    size_t lens[4];

    if (decide_key(r, KEYS_SUFFIX_STATE, st, sizeof(st)) == 0)
        return;
    snprintf(day, sizeof(day), "%lld", (long long)(r->now_ms / 86400000));
    lens[0] = 4, lens[1] = strlen(st), lens[2] = 2, lens[3] = strlen(day);
    track_command(r->d->track, 4, argv, lens, decide_noop, NULL);
}

/* decide_on_track - track.lua answered: rules, then the reply (or the block first). */
static void decide_on_track(void *arg, int status, const struct track_reply *rep)
{
    struct decide_req *r = arg;
    struct rules_input in;

    if (conn_is_closing(r->conn)) {
        conn_unref(r->conn);
        free(r);
        return;
    }
    if (status != TRACK_OK) {
        decide_fail(r, status);
        return;
    }
    decide_signals(&r->sig, rep);
    memset(&in, 0, sizeof(in));
    in.now = r->now_ms / 1000;
    in.params = &r->cfg->rules;
    in.learning_period = r->cfg->learning_period_ms / 1000;
    in.learning_min_messages = r->cfg->learning_min_messages;
    in.hold_enabled = r->cfg->hold_enabled;
    rules_eval(&r->sig, &in, &r->v);
    if (r->v.action == RULES_HOLD || r->v.action == RULES_BLOCK)
        decide_freeze_day(r);
    if (r->v.action == RULES_BLOCK && r->v.ref[0] == '\0' &&
        strcmp(r->cfg->mode, "enforce") == 0) {
        decide_write_block(r);
        return;
    }
    decide_reply_verdict(r, r->v.ref);
}

/* decide_prepare - everything a track call needs from the request; false: answer DUNNO. */
static bool decide_prepare(struct decide_req *r, const struct proto_request *req,
                           struct trackargs_in *in, char network[KEYS_NET_SIZE])
{
    const struct pd_config *cfg = r->cfg;
    const char *rcpt = decide_val(req, PROTO_A_RECIPIENT);
    const char *size = decide_val(req, PROTO_A_SIZE);
    const char *count = decide_val(req, PROTO_A_RECIPIENT_COUNT);

    if (keys_normalise(req->attr[PROTO_A_SASL_USERNAME], req->attr_len[PROTO_A_SASL_USERNAME],
                       cfg->mailbox_default_domain, r->mailbox, sizeof(r->mailbox),
                       &r->mailbox_len) < 0 ||
        keys_encode(r->mailbox, r->mailbox_len, r->d->hash_key, r->enc, sizeof(r->enc),
                    &r->enc_len) < 0)
        return false;
    memset(in, 0, sizeof(*in));
    in->mailbox = r->mailbox;
    in->mailbox_len = r->mailbox_len;
    in->hash_key = r->d->hash_key;
    in->prefix = cfg->redis_key_prefix;
    in->now_ms = r->now_ms;
    in->protocol_state = decide_val(req, PROTO_A_PROTOCOL_STATE);
    in->instance = decide_val(req, PROTO_A_INSTANCE);
    if (rcpt[0] != '\0' && r->at_rcpt)
        in->have_rcpt = keys_recipient(rcpt, strlen(rcpt), r->d->hash_key, &in->rcpt_hash,
                                       &in->dom_hash, &in->have_dom) == 0;
    keys_network(decide_val(req, PROTO_A_CLIENT_ADDRESS),
                 req->attr_len[PROTO_A_CLIENT_ADDRESS], (int)cfg->network_prefix_v4,
                 (int)cfg->network_prefix_v6, network);
    in->network = network;
    in->sender_mismatch = verdict_sender_mismatch(cfg->sender_login_match, r->mailbox,
                                                  req->attr[PROTO_A_SENDER],
                                                  req->attr_len[PROTO_A_SENDER]);
    in->size = strtoll(size, NULL, 10) > 0 ? strtoll(size, NULL, 10) : 0;
    in->recipient_count = strtoll(count, NULL, 10) > 0 ? strtoll(count, NULL, 10) : 0;
    in->lim_rcpt_hour = cfg->limit_recipients_per_hour;
    in->lim_rcpt_day = cfg->limit_recipients_per_day;
    in->lim_msg_hour = cfg->limit_messages_per_hour;
    in->lim_msg_day = cfg->limit_messages_per_day;
    in->limit_src = SIGNALS_SRC_DEFAULT;
    /* the mailbox's domain overrides the defaults (the mailbox's own ovr hash, read by
     * track.lua, overrides both) */
    domcache_apply(r->d->domcache, r->mailbox, r->mailbox_len, r->now_ms / 1000, in);
    if (strcmp(cfg->sender_login_match, "map") == 0 && r->d->loginmap != NULL) {
        size_t slen = req->attr_len[PROTO_A_SENDER];
        const char *login = req->attr[PROTO_A_SASL_USERNAME];
        size_t llen = req->attr_len[PROTO_A_SASL_USERNAME];

        /* the null sender has no owner and is never a mismatch; Postfix compares the
         * login as given, policyd also accepts the normalised mailbox */
        in->sender_mismatch =
            slen > 0 &&
            !loginmap_owns(r->d->loginmap, req->attr[PROTO_A_SENDER], slen, login, llen) &&
            !loginmap_owns(r->d->loginmap, req->attr[PROTO_A_SENDER], slen, r->mailbox,
                           r->mailbox_len);
    }
    return true;
}

/* decide_counted_state - the protocol states whose requests reach Redis. */
static bool decide_counted_state(const char *s)
{
    return strcmp(s, "RCPT") == 0 || strcmp(s, "DATA") == 0 ||
           strcmp(s, "END-OF-MESSAGE") == 0;
}

void decide_request(struct decide *d, struct pd_conn *conn, const struct proto_request *req)
{
    struct decide_req *r = xmalloc(sizeof(*r));
    struct trackargs_in in;
    struct trackargs ta;
    char network[KEYS_NET_SIZE];
    const char *state = decide_val(req, PROTO_A_PROTOCOL_STATE);

    r->d = d;
    r->conn = conn;
    r->cfg = conn->cfg;
    r->started = uv_hrtime();
    r->at_rcpt = strcmp(state, "RCPT") == 0;
    conn_ref(conn);
    decide_attr(r->user_log, sizeof(r->user_log), req, PROTO_A_SASL_USERNAME);
    decide_attr(r->client_log, sizeof(r->client_log), req, PROTO_A_CLIENT_ADDRESS);
    decide_attr(r->rcpt_log, sizeof(r->rcpt_log), req, PROTO_A_RECIPIENT);
    decide_attr(r->state_log, sizeof(r->state_log), req, PROTO_A_PROTOCOL_STATE);
    if (req->attr_len[PROTO_A_SASL_USERNAME] == 0) {
        d->stats.unauthenticated++;
        decide_finish(r, "DUNNO", " verdict=UNAUTHENTICATED", "");
        return;
    }
    if (!decide_counted_state(state)) {
        d->stats.not_counted++;
        decide_finish(r, "DUNNO", " verdict=NOT-COUNTED", "");
        return;
    }
    if (!d->key_ready) {
        decide_fail(r, TRACK_ERR_DOWN);
        return;
    }
    r->now_ms = decide_now_ms(r->cfg, req);
    if (!decide_prepare(r, req, &in, network)) {
        decide_finish(r, "DUNNO", " verdict=BAD-LOGIN", "");
        return;
    }
    /* log the mailbox as it is counted, so one grep finds all of its lines */
    sanitize_log(r->user_log, sizeof(r->user_log), r->mailbox, r->mailbox_len);
    if (trackargs_build(&ta, &in, NULL) < 0) {
        decide_finish(r, "DUNNO", " verdict=BAD-REQUEST", "");
        return;
    }
    track_eval(d->track, d->s_track, ta.argc, ta.argv, ta.argvlen, decide_on_track, r);
}

void decide_reconfigure(struct decide *d, struct pd_config *cfg)
{
    track_reconfigure(d->track, cfg);
    domcache_reconfigure(d->domcache, cfg);
    decide_load_loginmap(d, cfg, false);
    if (cfg->recipient_hash_key != NULL && cfg->recipient_hash_key[0] != '\0')
        decide_key_from_text(d, cfg->recipient_hash_key, strlen(cfg->recipient_hash_key));
}

void decide_shutdown(struct decide *d)
{
    uv_timer_stop(&d->key_timer);
    uv_close((uv_handle_t *)&d->key_timer, NULL);
    domcache_shutdown(d->domcache); /* before track: its writes would fail noisily */
    track_shutdown(d->track);
}

struct decide *decide_free(struct decide *d)
{
    if (d == NULL)
        return NULL;
    d->domcache = domcache_free(d->domcache);
    d->loginmap = loginmap_free(d->loginmap);
    d->track = track_free(d->track);
    free(d);
    return NULL;
}

struct track *decide_track(struct decide *d)
{
    return d->track;
}

const uint8_t *decide_hash_key(const struct decide *d)
{
    return d->key_ready ? d->hash_key : NULL;
}

const struct decide_stats *decide_get_stats(const struct decide *d)
{
    return &d->stats;
}

struct domcache *decide_domcache(const struct decide *d)
{
    return d->domcache;
}
