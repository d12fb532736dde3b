/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      loadgen - Postfix policy-protocol load generator (closed and open loop)
 * SYNOPSIS
 *      loadgen (-t HOST:PORT | -u PATH) [-c CONNS] [-d SECONDS] [-n REQUESTS] [-r RATE]
 *              [--pace-us Q] [--timeout MS] [--mailboxes M] [--domains D] [--recipients R]
 *              [--zipf S] [--new-share P] [--networks K] [--attack-share P] [--attackers A]
 *              [--rcpt-per-msg N:W,...] [--eom] [--time-attr] [--speedup X] [--time-step S]
 *              [--start-time T] [--seed N] [--json] [--strict]
 * DESCRIPTION
 *      Opens CONNS persistent connections to a policy server on loopback and sends it
 *      Postfix 3.7 RCPT (and with --eom END-OF-MESSAGE) requests, one in flight per
 *      connection as Postfix does. Each connection plays one smtpd: messages one after the
 *      other, each from one mailbox with 1..N recipients, one instance id, and an empty
 *      queue_id on its first RCPT. Recipients come from the mailbox's address book
 *      (Zipf-ranked) or, for --new-share of them, are never-seen addresses; an attack
 *      message (--attack-share of messages) comes from one of a few mailboxes, from a
 *      random network, to new recipients only. The population derives from the mailbox
 *      number alone, so it is the same in every run; --seed changes only the choices.
 *
 *      Closed loop (default) sends the next request as soon as a reply arrives. Open loop
 *      (-r) sends at fixed intended times (a timerfd gives sub-millisecond times) through
 *      whichever connection is idle; latency runs from the intended time, so a stalled
 *      server is not hidden (coordinated omission), and a send more than LG_LATE_NS after
 *      its time counts as late. A run ends after -d seconds or -n requests, whichever is
 *      first, then waits up to --timeout for the requests in flight; SIGINT/SIGTERM end
 *      it early (a second one at once), with a report.
 *
 *      The hot path does not allocate: a template compiled once holds the constant text,
 *      and the varying fields of a connection are copied in between, into the
 *      connection's own buffer. Latencies go into a log-linear histogram (1.6% precision).
 *      The file is a little over the 800-line guide: the tools are built one .c per
 *      binary, and splitting the model, the I/O and the report would need a shared header.
 * DIAGNOSTICS
 *      The report goes to stdout (--json: one JSON object). Usage errors and a target that
 *      is not loopback (127.0.0.0/8, ::1 or a unix socket) exit 2; with --strict any
 *      error (connect, closed, protocol, timeout) exits 1; otherwise 0.
 * SEE ALSO
 *      docs/LOADGEN.md, tests/tools/ceiling.c, Postfix SMTPD_POLICY_README
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#define LG_MAX_CONNS 4096
#define LG_MAX_REQ 4096       /* one built request; ours are about 800 bytes */
#define LG_MAX_REPLY 1024     /* one reply, like PD_MAX_REPLY */
#define LG_TPL_TEXT 2048      /* constant text of the template */
#define LG_TPL_PIECES 40
#define LG_FIELD_MAX 120      /* one varying value */
#define LG_MAX_ACTIONS 16     /* distinct action words counted; more go to OTHER */
#define LG_ACTION_LEN 32
#define LG_MAX_DIST 16        /* entries of --rcpt-per-msg */
#define LG_HIST_BITS 6        /* 64 sub-buckets per power of two */
#define LG_HIST_LEN (64 * 59) /* covers every uint64_t */
#define LG_LATE_NS 1000000    /* an open-loop send this late counts as late */
#define LG_SLACK_NS 20000     /* an open-loop send may go this early */
#define LG_TICK_MS 10         /* deadline and timeout checks */
#define LG_RECONNECT_MS 100
#define LG_NS 1000000000.0

enum lg_field { F_STATE, F_CLIENT, F_CNAME, F_PORT, F_HELO, F_SENDER, F_RCPT, F_RCOUNT,
                F_QID, F_INST, F_SIZE, F_TIME, F_COUNT, F_NONE = F_COUNT };
enum lg_err { E_CONNECT, E_CLOSED, E_PROTOCOL, E_TIMEOUT, E_COUNT };
enum lg_cstate { C_DOWN, C_CONNECTING, C_IDLE, C_BUSY, C_CLOSING };

static const char *const lg_err_names[E_COUNT] = {"connect", "closed", "protocol", "timeout"};

/* What Postfix 3.7 sends (the capture in shared/research/test-stack.md), in its order.
 * F_NONE rows are constant; policyd_time comes last and only with --time-attr. */
static const struct lg_attr {
    const char *name;
    enum lg_field field;
    const char *value;
} lg_attrs[] = {
    {"request", F_NONE, "smtpd_access_policy"}, {"protocol_state", F_STATE, NULL},
    {"protocol_name", F_NONE, "ESMTP"}, {"client_address", F_CLIENT, NULL},
    {"client_name", F_CNAME, NULL}, {"client_port", F_PORT, NULL},
    {"reverse_client_name", F_CNAME, NULL}, {"server_address", F_NONE, "127.0.0.1"},
    {"server_port", F_NONE, "587"}, {"helo_name", F_HELO, NULL}, {"sender", F_SENDER, NULL},
    {"recipient", F_RCPT, NULL}, {"recipient_count", F_RCOUNT, NULL},
    {"queue_id", F_QID, NULL}, {"instance", F_INST, NULL}, {"size", F_SIZE, NULL},
    {"etrn_domain", F_NONE, ""}, {"stress", F_NONE, ""}, {"sasl_method", F_NONE, "PLAIN"},
    {"sasl_username", F_SENDER, NULL}, {"sasl_sender", F_NONE, ""},
    {"ccert_subject", F_NONE, ""}, {"ccert_issuer", F_NONE, ""},
    {"ccert_fingerprint", F_NONE, ""}, {"ccert_pubkey_fingerprint", F_NONE, ""},
    {"encryption_protocol", F_NONE, "TLSv1.3"},
    {"encryption_cipher", F_NONE, "TLS_AES_256_GCM_SHA384"},
    {"encryption_keysize", F_NONE, "256"}, {"policy_context", F_NONE, ""},
    {"policyd_time", F_TIME, NULL},
};

struct lg_opts {
    const char *tcp, *unix_path, *dist;
    uint32_t conns, timeout_ms, pace_us, mailboxes, domains, recipients, networks, attackers;
    double duration, rate, new_share, attack_share, zipf, speedup, time_step, start_time;
    uint64_t nmax, seed;
    bool eom, time_attr, json, strict;
};

struct lg_val {
    size_t len;
    char s[LG_FIELD_MAX];
};

struct lg_msg {
    bool active, attack;
    uint32_t mailbox;
    unsigned nrcpt, done;
    uint64_t size;
    char qid[12];
};

struct lg_conn {
    union {
        uv_handle_t h;
        uv_stream_t s;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } io;
    uv_timer_t timer; /* reconnect delay */
    uv_connect_t creq;
    uv_write_t wreq;
    struct lg_run *run;
    unsigned id;
    enum lg_cstate state;
    bool writing, resume; /* a uv_write is pending; a reply came before its callback */
    bool in_idle;         /* in the open-loop idle pool */
    uint64_t rng, intended, sent_at, nmsg;
    struct lg_msg msg;
    struct lg_val f[F_COUNT];
    size_t rlen;
    char rbuf[LG_MAX_REPLY];
    char wbuf[LG_MAX_REQ];
};

struct lg_tpl {
    char text[LG_TPL_TEXT];
    size_t len;
    struct { uint16_t off, len; uint8_t field; } piece[LG_TPL_PIECES];
    unsigned npieces;
};

struct lg_run {
    struct lg_opts o;
    uv_loop_t *loop;
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    uv_poll_t pacer; /* open loop: watches tfd */
    int tfd;
    struct sockaddr_storage addr;
    char target[160];
    struct lg_conn *conns, **idle;
    unsigned nidle;
    struct lg_tpl tpl;
    double *zipf_cdf;
    unsigned dist_n[LG_MAX_DIST], ndist;
    uint32_t dist_cum[LG_MAX_DIST];
    uint64_t start_ns, deadline_ns, drain_ns, last_reply_ns, end_ns;
    uint64_t next_due, interval_ns, armed_ns;
    bool draining, stopping;
    uint64_t sent, completed, inflight, late, messages, err[E_COUNT];
    struct { char word[LG_ACTION_LEN]; uint64_t n; } action[LG_MAX_ACTIONS];
    unsigned nactions;
    uint64_t hist[LG_HIST_LEN], lat_max, lat_sum;
};

static void conn_schedule(struct lg_conn *c);
static void conn_fail(struct lg_conn *c, enum lg_err why);

/* ---- helpers and population model ---------------------------------------------------- */

/* lg_rand - splitmix64 step: fast, good enough for workload choices. */
static uint64_t lg_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double lg_unit(uint64_t *s)
{
    return (double)(lg_rand(s) >> 11) * 0x1p-53;
}

/* lg_mix - stateless hash of a population key: the same in every run. */
static uint64_t lg_mix(uint64_t key)
{
    uint64_t s = key * 0x2545f4914f6cdd1dULL;
    return lg_rand(&s);
}

/* val_fmt - set a field. Fields are bounded by construction (numbers, hex, fixed words);
 * vsnprintf's clip only guards the buffer. No allocation. */
__attribute__((format(printf, 2, 3))) static void val_fmt(struct lg_val *v, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(v->s, sizeof v->s, fmt, ap);
    va_end(ap);
    v->len = n < 0 ? 0 : (size_t)n < sizeof v->s ? (size_t)n : sizeof v->s - 1;
}

/* model_dist_parse - "N:W,N:W,..." recipients per message, with integer weights. */
static int model_dist_parse(struct lg_run *r, const char *p)
{
    unsigned n, w;
    int used;

    for (r->ndist = 0; *p; r->ndist++, p += used + (p[used] == ',')) {
        if (r->ndist == LG_MAX_DIST || sscanf(p, "%4u:%7u%n", &n, &w, &used) != 2 ||
            (p[used] && p[used] != ',') || n < 1 || n > 1000 || w > 1000000)
            return -1;
        r->dist_n[r->ndist] = n;
        r->dist_cum[r->ndist] = w + (r->ndist ? r->dist_cum[r->ndist - 1] : 0);
    }
    return r->ndist > 0 && r->dist_cum[r->ndist - 1] > 0 ? 0 : -1;
}

static unsigned model_nrcpt(const struct lg_run *r, uint64_t *rng)
{
    uint32_t u = (uint32_t)(lg_rand(rng) % r->dist_cum[r->ndist - 1]);
    unsigned i = 0;
    while (u >= r->dist_cum[i])
        i++;
    return r->dist_n[i];
}

/* model_zipf_init - cumulative weights 1/rank^s of one address book (shared by all). */
static void model_zipf_init(struct lg_run *r)
{
    double sum = 0;
    r->zipf_cdf = malloc(r->o.recipients * sizeof *r->zipf_cdf);
    if (!r->zipf_cdf)
        abort();
    for (uint32_t k = 0; k < r->o.recipients; k++)
        r->zipf_cdf[k] = (sum += pow(k + 1.0, -r->o.zipf));
    for (uint32_t k = 0; k < r->o.recipients; k++)
        r->zipf_cdf[k] /= sum;
}

static uint32_t model_zipf_pick(const struct lg_run *r, double u)
{
    uint32_t lo = 0, hi = r->o.recipients - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->zipf_cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* model_client - the client of a new message: one of the mailbox's networks (a /24 from
 * the population hash), or for an attack a random one; first octet 1..223, never 10/127. */
static void model_client(struct lg_run *r, struct lg_conn *c)
{
    struct lg_msg *m = &c->msg;
    uint64_t h = lg_mix((uint64_t)m->mailbox << 8 | lg_rand(&c->rng) % r->o.networks);
    uint64_t net = m->attack ? lg_rand(&c->rng) : h;
    unsigned a = 1 + (unsigned)(net % 223), b = (net >> 16) & 255, n = (net >> 24) & 255;
    unsigned d = 2 + (unsigned)(lg_rand(&c->rng) % 250);

    a += a == 10 || a == 127;
    val_fmt(&c->f[F_CLIENT], "%u.%u.%u.%u", a, b, n, d);
    val_fmt(&c->f[F_PORT], "%u", 1024 + (unsigned)(lg_rand(&c->rng) % 64000));
    if (m->attack) {
        val_fmt(&c->f[F_CNAME], "unknown");
        val_fmt(&c->f[F_HELO], "User");
    } else {
        val_fmt(&c->f[F_CNAME], "dyn-%u-%u-%u-%u.isp%u.example", a, b, n, d,
                (unsigned)(h >> 40) % 50);
        val_fmt(&c->f[F_HELO], "ws%u.lan", m->mailbox);
    }
}

/* model_msg_start - a new message on this connection: mailbox, client, instance, size. */
static void model_msg_start(struct lg_run *r, struct lg_conn *c)
{
    struct lg_msg *m = &c->msg;
    m->attack = r->o.attack_share > 0 && lg_unit(&c->rng) < r->o.attack_share;
    if (m->attack) /* attackers are spread over the population */
        m->mailbox = (uint32_t)((lg_rand(&c->rng) % r->o.attackers) * 2654435761u %
                                r->o.mailboxes);
    else
        m->mailbox = (uint32_t)(lg_rand(&c->rng) % r->o.mailboxes);
    m->nrcpt = model_nrcpt(r, &c->rng);
    m->done = 0;
    m->active = true;
    m->size = 800 + (uint64_t)exp(lg_unit(&c->rng) * 12.0); /* 800 B .. 160 KB */
    snprintf(m->qid, sizeof m->qid, "%011llX",
             (unsigned long long)(lg_rand(&c->rng) & 0xfffffffffffULL));
    val_fmt(&c->f[F_SENDER], "user%u@dom%u.example", m->mailbox, m->mailbox % r->o.domains);
    val_fmt(&c->f[F_INST], "%u.%08llx.%05llx.0", 1000 + c->id,
            (unsigned long long)r->o.start_time, (unsigned long long)++c->nmsg);
    model_client(r, c);
    r->messages++;
}

/* model_recipient - from the address book (Zipf) or, for new/attack, never seen before. */
static void model_recipient(struct lg_run *r, struct lg_conn *c)
{
    if (c->msg.attack || lg_unit(&c->rng) < r->o.new_share) {
        val_fmt(&c->f[F_RCPT], "n%016llx@x%u.example", (unsigned long long)lg_rand(&c->rng),
                (unsigned)(lg_rand(&c->rng) % 1000));
    } else {
        uint32_t k = model_zipf_pick(r, lg_unit(&c->rng));
        uint64_t h = lg_mix((uint64_t)c->msg.mailbox * r->o.recipients + k + (1ULL << 40));
        val_fmt(&c->f[F_RCPT], "c%08x@p%u.example", (unsigned)h, (unsigned)(h >> 32) % 500);
    }
}

/* model_time - policyd_time: start plus elapsed time times --speedup, or a fixed step per
 * request; "at" is the intended send time. */
static void model_time(struct lg_run *r, struct lg_conn *c, uint64_t at)
{
    double t = r->o.time_step > 0
                   ? r->o.start_time + (double)r->sent * r->o.time_step
                   : r->o.start_time + (double)(at - r->start_ns) / LG_NS * r->o.speedup;
    unsigned long long us = (unsigned long long)(t * 1e6);
    val_fmt(&c->f[F_TIME], "%llu.%06llu", us / 1000000, us % 1000000);
}

/* model_next - the varying fields of this connection's next request. */
static void model_next(struct lg_run *r, struct lg_conn *c, uint64_t at)
{
    struct lg_msg *m = &c->msg;
    if (!m->active)
        model_msg_start(r, c);
    if (m->done < m->nrcpt) {
        val_fmt(&c->f[F_STATE], "RCPT");
        model_recipient(r, c);
        val_fmt(&c->f[F_RCOUNT], "0");
        /* the queue file exists once the first RCPT was accepted */
        val_fmt(&c->f[F_QID], "%s", m->done++ > 0 ? m->qid : "");
        val_fmt(&c->f[F_SIZE], "%llu", (unsigned long long)m->size);
        m->active = m->done < m->nrcpt || r->o.eom;
    } else {
        val_fmt(&c->f[F_STATE], "END-OF-MESSAGE");
        if (m->nrcpt != 1) /* recipient= only when exactly one was accepted */
            c->f[F_RCPT].len = 0;
        val_fmt(&c->f[F_RCOUNT], "%u", m->nrcpt);
        val_fmt(&c->f[F_QID], "%s", m->qid);
        val_fmt(&c->f[F_SIZE], "%llu", (unsigned long long)m->size + 600); /* + headers */
        m->active = false;
    }
    if (r->o.time_attr)
        model_time(r, c, at);
}

/* ---- request template ----------------------------------------------------------------- */

static void tpl_text(struct lg_tpl *t, const char *s)
{
    size_t n = strlen(s);
    memcpy(t->text + t->len, s, n); /* bounded: lg_attrs is far below LG_TPL_TEXT */
    t->len += n;
}

static void tpl_cut(struct lg_tpl *t, enum lg_field field, size_t *start)
{
    t->piece[t->npieces].off = (uint16_t)*start;
    t->piece[t->npieces].len = (uint16_t)(t->len - *start);
    t->piece[t->npieces++].field = (uint8_t)field;
    *start = t->len;
}

/* tpl_compile - turn lg_attrs into constant pieces, each followed by one varying field. */
static void tpl_compile(struct lg_tpl *t, bool time_attr)
{
    size_t start = 0, n = sizeof lg_attrs / sizeof lg_attrs[0] - (time_attr ? 0 : 1);
    for (size_t i = 0; i < n; i++) {
        tpl_text(t, lg_attrs[i].name);
        tpl_text(t, "=");
        if (lg_attrs[i].field == F_NONE) {
            tpl_text(t, lg_attrs[i].value);
        } else {
            tpl_cut(t, lg_attrs[i].field, &start);
        }
        tpl_text(t, "\n");
    }
    tpl_text(t, "\n");
    tpl_cut(t, F_NONE, &start);
}

/* tpl_build - the request into out (LG_MAX_REQ bytes: the text plus 14 fields fit). */
static size_t tpl_build(const struct lg_tpl *t, const struct lg_conn *c, char *out)
{
    size_t n = 0;
    for (unsigned i = 0; i < t->npieces; i++) {
        memcpy(out + n, t->text + t->piece[i].off, t->piece[i].len);
        n += t->piece[i].len;
        if (t->piece[i].field != F_NONE) {
            const struct lg_val *v = &c->f[t->piece[i].field];
            memcpy(out + n, v->s, v->len);
            n += v->len;
        }
    }
    return n;
}

/* ---- latency histogram (HDR-style log-linear, microseconds) --------------------------- */

static unsigned hist_index(uint64_t v)
{
    unsigned msb = v ? 63u - (unsigned)__builtin_clzll(v) : 0;
    unsigned shift = msb > LG_HIST_BITS ? msb - LG_HIST_BITS : 0;
    return shift * (1u << LG_HIST_BITS) + (unsigned)(v >> shift);
}

/* hist_high - the highest value that lands in bucket idx. */
static uint64_t hist_high(unsigned idx)
{
    unsigned half = 1u << LG_HIST_BITS;
    unsigned shift = idx < 2 * half ? 0 : idx / half - 1;
    return ((uint64_t)(idx - shift * half + 1) << shift) - 1;
}

static void hist_record(struct lg_run *r, uint64_t us)
{
    r->hist[hist_index(us)]++;
    r->lat_sum += us;
    if (us > r->lat_max)
        r->lat_max = us;
}

static uint64_t hist_pct(const struct lg_run *r, double pct)
{
    uint64_t want = (uint64_t)ceil(pct / 100.0 * (double)r->completed), seen = 0;
    for (unsigned i = 0; i < LG_HIST_LEN && want > 0; i++)
        if ((seen += r->hist[i]) >= want)
            return hist_high(i) < r->lat_max ? hist_high(i) : r->lat_max;
    return r->lat_max;
}

/* ---- replies -------------------------------------------------------------------------- */

static unsigned reply_slot(const struct lg_run *r, const char *w)
{
    unsigned i = 0;
    while (i < r->nactions && strcmp(r->action[i].word, w) != 0)
        i++;
    return i;
}

/* reply_count - count the action word, uppercased. An odd word, or a new one once the
 * table is full but for its last slot, counts as OTHER. The value ends at a '\n' inside
 * rbuf, so strspn stops within the reply. */
static void reply_count(struct lg_run *r, const char *a, size_t len)
{
    char w[LG_ACTION_LEN] = "OTHER";
    size_t n = strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
    unsigned i;

    if (n > 0 && n < sizeof w && (n == len || a[n] == ' ' || a[n] == '\t')) {
        for (i = 0; i < n; i++)
            w[i] = a[i] >= 'a' && a[i] <= 'z' ? (char)(a[i] - 32) : a[i];
        w[n] = '\0';
    }
    i = reply_slot(r, w);
    if (i == r->nactions && r->nactions >= LG_MAX_ACTIONS - 1)
        i = reply_slot(r, strcpy(w, "OTHER"));
    if (i == r->nactions)
        memcpy(r->action[r->nactions++].word, w, strlen(w) + 1);
    r->action[i].n++;
}

/* reply_action - find "action=" among the reply's lines (extra attributes are allowed). */
static int reply_action(const char *buf, size_t len, const char **val, size_t *vlen)
{
    const char *p = buf, *end = buf + len, *nl;
    for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1) {
        if (nl - p >= 7 && memcmp(p, "action=", 7) == 0) {
            *val = p + 7;
            *vlen = (size_t)(nl - p - 7);
            return 0;
        }
    }
    return -1;
}

/* conn_reply - a complete reply of end bytes in rbuf: account for it, then go idle. A
 * reply needs action=; bytes after it answer nothing and are a protocol error. */
static void conn_reply(struct lg_conn *c, size_t end)
{
    struct lg_run *r = c->run;
    uint64_t now = uv_hrtime(), from = c->intended < c->sent_at ? c->intended : c->sent_at;
    const char *val;
    size_t vlen;

    if (end != c->rlen || reply_action(c->rbuf, end, &val, &vlen) < 0) {
        conn_fail(c, E_PROTOCOL);
        return;
    }
    reply_count(r, val, vlen);
    hist_record(r, (now - from) / 1000);
    r->completed++;
    r->inflight--;
    r->last_reply_ns = now;
    c->rlen = 0;
    c->state = C_IDLE;
    if (c->writing)
        c->resume = true; /* the write callback schedules */
    else
        conn_schedule(c);
}

/* ---- connections and pacing ------------------------------------------------------------ */

static bool lg_may_send(const struct lg_run *r)
{
    return !r->draining && (r->o.nmax == 0 || r->sent < r->o.nmax);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct lg_conn *c = h->data;
    *buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(LG_MAX_REPLY - c->rlen));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct lg_conn *c = s->data;
    const char *e;

    if (nread <= 0) {
        if (nread < 0)
            conn_fail(c, nread == UV_ENOBUFS ? E_PROTOCOL : E_CLOSED);
        return;
    }
    if (c->state != C_BUSY) { /* bytes nobody asked for */
        conn_fail(c, E_PROTOCOL);
        return;
    }
    c->rlen += (size_t)nread;
    e = memmem(c->rbuf, c->rlen, "\n\n", 2);
    if (e)
        conn_reply(c, (size_t)(e - c->rbuf) + 2);
    else if (c->rlen == LG_MAX_REPLY)
        conn_fail(c, E_PROTOCOL);
}

static void on_write(uv_write_t *req, int status)
{
    struct lg_conn *c = req->data;
    c->writing = false;
    if (status < 0) {
        if (status != UV_ECANCELED)
            conn_fail(c, E_CLOSED);
    } else if (c->resume) {
        c->resume = false;
        conn_schedule(c);
    }
}

/* conn_send - build the next request into wbuf and write it; a write request is needed
 * only when the socket does not take it whole at once (rare). */
static void conn_send(struct lg_conn *c, uint64_t intended, uint64_t now)
{
    struct lg_run *r = c->run;
    uv_buf_t buf;
    int n;

    model_next(r, c, intended);
    buf = uv_buf_init(c->wbuf, (unsigned)tpl_build(&r->tpl, c, c->wbuf));
    c->intended = intended;
    c->sent_at = now;
    r->late += now > intended + LG_LATE_NS;
    c->state = C_BUSY;
    r->sent++;
    r->inflight++;
    n = uv_try_write(&c->io.s, &buf, 1);
    if (n == (int)buf.len)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        conn_fail(c, E_CLOSED);
        return;
    }
    n = n < 0 ? 0 : n;
    buf = uv_buf_init(c->wbuf + n, buf.len - (unsigned)n);
    if (uv_write(&c->wreq, &c->io.s, &buf, 1, on_write) < 0)
        conn_fail(c, E_CLOSED);
    else
        c->writing = true;
}

static void pace_arm(struct lg_run *r, uint64_t at)
{
    struct itimerspec its = {{0, 0}, {(time_t)(at / 1000000000), (long)(at % 1000000000)}};
    if (at != r->armed_ns && timerfd_settime(r->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        r->armed_ns = at;
}

/* pace_run - open loop: hand each request that is due to an idle connection (any of them,
 * as Postfix uses whichever smtpd is free), then arm the timer for the next one. With no
 * idle connection the schedule runs on; the backlog goes out as connections free up.
 * With --pace-us Q wake-ups fall on multiples of Q and send what is due within Q/2:
 * fewer wake-ups (less CPU), arrivals bunched at that scale. */
static void pace_run(struct lg_run *r)
{
    uint64_t q = (uint64_t)r->o.pace_us * 1000, slack = q / 2 > LG_SLACK_NS ? q / 2 : LG_SLACK_NS;
    while (r->nidle > 0 && lg_may_send(r)) {
        uint64_t now = uv_hrtime();
        struct lg_conn *c;
        if (r->next_due > now + slack) {
            uint64_t at = r->next_due - slack;
            pace_arm(r, q ? (at + q - 1) / q * q : at);
            return;
        }
        c = r->idle[--r->nidle];
        c->in_idle = false;
        if (c->state == C_IDLE) { /* else it failed while waiting */
            conn_send(c, r->next_due, now);
            r->next_due += r->interval_ns;
        }
    }
}

static void on_pacer(uv_poll_t *p, int status, int events)
{
    struct lg_run *r = p->data;
    uint64_t expirations;
    if (read(r->tfd, &expirations, sizeof expirations) < 0)
        return; /* spurious wake-up: nothing expired */
    r->armed_ns = 0;
    pace_run(r);
}

/* conn_schedule - an idle connection: send now (closed loop) or join the idle pool. */
static void conn_schedule(struct lg_conn *c)
{
    struct lg_run *r = c->run;
    uint64_t now;

    if (c->state != C_IDLE || !lg_may_send(r))
        return;
    if (r->o.rate <= 0) {
        now = uv_hrtime();
        conn_send(c, now, now);
        return;
    }
    if (!c->in_idle) {
        c->in_idle = true;
        r->idle[r->nidle++] = c;
    }
    pace_run(r);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct lg_conn *c = req->data;
    if (c->state != C_CONNECTING)
        return;
    if (status < 0) {
        conn_fail(c, E_CONNECT);
        return;
    }
    c->state = C_IDLE;
    uv_read_start(&c->io.s, on_alloc, on_read);
    conn_schedule(c);
}

static void conn_open(struct lg_conn *c)
{
    struct lg_run *r = c->run;
    int rc = 0;

    c->creq.data = c;
    c->state = C_CONNECTING;
    if (r->o.unix_path) {
        uv_pipe_init(r->loop, &c->io.pipe, 0);
        c->io.h.data = c;
        uv_pipe_connect(&c->creq, &c->io.pipe, r->o.unix_path, on_connect);
    } else {
        uv_tcp_init(r->loop, &c->io.tcp);
        c->io.h.data = c;
        uv_tcp_nodelay(&c->io.tcp, 1);
        rc = uv_tcp_connect(&c->creq, &c->io.tcp, (const struct sockaddr *)&r->addr,
                            on_connect);
    }
    if (rc < 0)
        conn_fail(c, E_CONNECT);
}

static void on_reconnect(uv_timer_t *t)
{
    conn_open(t->data);
}

static void on_io_close(uv_handle_t *h)
{
    struct lg_conn *c = h->data;
    c->state = C_DOWN;
    c->rlen = 0;
    c->writing = c->resume = false;
    c->msg.active = false; /* the next connection starts a new message */
    if (!c->run->draining && !c->run->stopping)
        uv_timer_start(&c->timer, on_reconnect, LG_RECONNECT_MS, 0);
}

/* conn_fail - count the error and close; the close callback arranges a reconnect. */
static void conn_fail(struct lg_conn *c, enum lg_err why)
{
    /* lg_stop may have closed the handle already (a write then completes with
     * UV_ECANCELED): never close it twice */
    if (c->state == C_DOWN || c->state == C_CLOSING || uv_is_closing(&c->io.h))
        return;
    c->run->err[why]++;
    if (c->state == C_BUSY)
        c->run->inflight--;
    c->state = C_CLOSING;
    uv_close(&c->io.h, on_io_close);
}

/* ---- run control ---------------------------------------------------------------------- */

static void on_close_any(uv_handle_t *h)
{
}

static void close_walk(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, on_close_any);
}

static void lg_stop(struct lg_run *r)
{
    r->stopping = true;
    r->end_ns = uv_hrtime();
    uv_walk(r->loop, close_walk, NULL);
}

/* on_tick - deadline, drain and per-request timeouts. */
static void on_tick(uv_timer_t *t)
{
    struct lg_run *r = t->data;
    uint64_t now = uv_hrtime(), limit = (uint64_t)r->o.timeout_ms * 1000000;

    if (!r->draining && (now >= r->deadline_ns || !lg_may_send(r))) {
        r->draining = true;
        r->drain_ns = now;
    }
    for (unsigned i = 0; i < r->o.conns; i++) {
        struct lg_conn *c = &r->conns[i];
        if (c->state == C_BUSY && now - c->sent_at > limit)
            conn_fail(c, E_TIMEOUT);
    }
    if (r->draining && (r->inflight == 0 || now - r->drain_ns > limit))
        lg_stop(r);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct lg_run *r = s->data;
    if (r->deadline_ns == 0)
        lg_stop(r); /* a second signal: stop without waiting */
    r->deadline_ns = 0;
}

static void lg_start_pacer(struct lg_run *r)
{
    r->interval_ns = (uint64_t)(LG_NS / r->o.rate);
    r->next_due = r->start_ns;
    r->idle = calloc(r->o.conns, sizeof *r->idle);
    r->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (!r->idle || r->tfd < 0 || uv_poll_init(r->loop, &r->pacer, r->tfd) < 0) {
        perror("loadgen: timerfd");
        exit(2);
    }
    r->pacer.data = r;
    uv_poll_start(&r->pacer, UV_READABLE, on_pacer);
}

static void lg_start(struct lg_run *r)
{
    r->start_ns = uv_hrtime();
    r->deadline_ns = r->start_ns + (uint64_t)(r->o.duration * LG_NS);
    uv_timer_init(r->loop, &r->tick);
    r->tick.data = r;
    uv_timer_start(&r->tick, on_tick, LG_TICK_MS, LG_TICK_MS);
    uv_signal_init(r->loop, &r->sigint);
    uv_signal_init(r->loop, &r->sigterm);
    r->sigint.data = r->sigterm.data = r;
    uv_signal_start(&r->sigint, on_signal, SIGINT);
    uv_signal_start(&r->sigterm, on_signal, SIGTERM);
    if (r->o.rate > 0)
        lg_start_pacer(r);
    for (unsigned i = 0; i < r->o.conns; i++) {
        struct lg_conn *c = &r->conns[i];
        c->run = r;
        c->id = i;
        c->rng = r->o.seed * 0x100000001b3ULL + i;
        c->wreq.data = c;
        uv_timer_init(r->loop, &c->timer);
        c->timer.data = c;
        conn_open(c);
    }
}

/* ---- options -------------------------------------------------------------------------- */

enum lg_otype { OT_STR, OT_U32, OT_U64, OT_DBL, OT_FLAG };

/* One row per option: getopt_long's table, parsing and bounds all come from here. */
static const struct lg_optdef {
    const char *name;
    int key;
    enum lg_otype type;
    size_t off;
    double min, max;
} lg_optdefs[] = {
#define O(f) offsetof(struct lg_opts, f)
    {"tcp", 't', OT_STR, O(tcp), 0, 0}, {"unix", 'u', OT_STR, O(unix_path), 0, 0},
    {"connections", 'c', OT_U32, O(conns), 1, LG_MAX_CONNS},
    {"duration", 'd', OT_DBL, O(duration), 0.01, 86400},
    {"requests", 'n', OT_U64, O(nmax), 1, 1e15}, {"rate", 'r', OT_DBL, O(rate), 1, 1e7},
    {"pace-us", 256, OT_U32, O(pace_us), 0, 100000},
    {"timeout", 257, OT_U32, O(timeout_ms), 1, 600000},
    {"mailboxes", 258, OT_U32, O(mailboxes), 1, 1e8}, {"domains", 259, OT_U32, O(domains), 1, 1e8},
    {"recipients", 260, OT_U32, O(recipients), 1, 1e7}, {"zipf", 261, OT_DBL, O(zipf), 0, 5},
    {"new-share", 262, OT_DBL, O(new_share), 0, 1}, {"networks", 263, OT_U32, O(networks), 1, 256},
    {"attack-share", 264, OT_DBL, O(attack_share), 0, 1},
    {"attackers", 265, OT_U32, O(attackers), 1, 1e6}, {"rcpt-per-msg", 266, OT_STR, O(dist), 0, 0},
    {"eom", 267, OT_FLAG, O(eom), 0, 0}, {"time-attr", 268, OT_FLAG, O(time_attr), 0, 0},
    {"speedup", 269, OT_DBL, O(speedup), 1e-6, 1e9},
    {"time-step", 270, OT_DBL, O(time_step), 0, 1e6},
    {"start-time", 271, OT_DBL, O(start_time), 0, 4e9}, {"seed", 272, OT_U64, O(seed), 0, 1e18},
    {"json", 273, OT_FLAG, O(json), 0, 0}, {"strict", 274, OT_FLAG, O(strict), 0, 0},
#undef O
};
#define LG_NOPTS (sizeof lg_optdefs / sizeof lg_optdefs[0])

static void lg_usage(void)
{
    fputs("usage: loadgen (-t HOST:PORT | -u PATH) [-c CONNS] [-d SECONDS] [-n REQUESTS]\n"
          "               [-r RATE] [--OPTION VALUE ...] [--json] [--strict]\noptions:",
          stderr);
    for (size_t i = 0; i < LG_NOPTS; i++)
        fprintf(stderr, "%s --%s", i % 6 ? "" : "\n ", lg_optdefs[i].name);
    fputs("\nsee docs/LOADGEN.md\n", stderr);
    exit(2);
}

/* opt_set - parse one option value into its field, within the row's bounds. */
static int opt_set(struct lg_opts *o, const struct lg_optdef *d, const char *arg)
{
    char *f = (char *)o + d->off, *end;
    double v;

    if (d->type == OT_STR)
        memcpy(f, &arg, sizeof arg);
    else if (d->type == OT_FLAG)
        *(bool *)f = true;
    if (d->type == OT_STR || d->type == OT_FLAG)
        return 0;
    v = strtod(arg, &end);
    if (end == arg || *end || !(v >= d->min && v <= d->max))
        return -1;
    if (d->type == OT_U32)
        *(uint32_t *)f = (uint32_t)v;
    else if (d->type == OT_U64)
        *(uint64_t *)f = (uint64_t)v;
    else
        *(double *)f = v;
    return 0;
}

static void opt_parse(struct lg_opts *o, int argc, char **argv)
{
    struct option lo[LG_NOPTS + 2] = {{"help", no_argument, NULL, 'h'}};
    int key;

    *o = (struct lg_opts){.conns = 4, .duration = 10, .timeout_ms = 2000, .mailboxes = 1000,
                          .domains = 10, .recipients = 50, .zipf = 1.0, .new_share = 0.05,
                          .networks = 2, .attackers = 3, .dist = "1:80,2:10,3:5,5:3,20:2",
                          .speedup = 1, .start_time = (double)time(NULL), .seed = 1};
    for (size_t i = 0; i < LG_NOPTS; i++)
        lo[i + 1] = (struct option){lg_optdefs[i].name,
                                    lg_optdefs[i].type == OT_FLAG ? no_argument
                                                                  : required_argument,
                                    NULL, lg_optdefs[i].key};
    while ((key = getopt_long(argc, argv, "t:u:c:d:n:r:h", lo, NULL)) != -1) {
        size_t i = 0;
        while (i < LG_NOPTS && lg_optdefs[i].key != key)
            i++;
        if (i == LG_NOPTS)
            lg_usage();
        if (opt_set(o, &lg_optdefs[i], optarg) < 0) {
            fprintf(stderr, "loadgen: --%s: bad value '%s' (%g..%g)\n", lg_optdefs[i].name,
                    optarg, lg_optdefs[i].min, lg_optdefs[i].max);
            exit(2);
        }
    }
    if (optind != argc || !o->tcp == !o->unix_path)
        lg_usage();
    if (o->attackers > o->mailboxes)
        o->attackers = o->mailboxes;
}

/* lg_target - parse HOST:PORT or [V6]:PORT: -1 malformed, -2 not loopback. No DNS. */
static int lg_target(struct lg_run *r, const char *arg)
{
    char host[64], *end;
    const char *colon = strrchr(arg, ':');
    size_t hl = colon ? (size_t)(colon - arg) : 0;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    struct sockaddr_in *sin = (struct sockaddr_in *)&r->addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r->addr;

    if (!colon || end == colon + 1 || *end || port < 1 || port > 65535 || hl >= sizeof host)
        return -1;
    if (arg[0] == '[' && hl >= 2 && arg[hl - 1] == ']')
        arg++, hl -= 2;
    memcpy(host, arg, hl);
    host[hl] = '\0';
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (uv_ip4_addr(host, (int)port, sin) == 0)
        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127 ? 0 : -2;
    if (uv_ip6_addr(host, (int)port, sin6) == 0)
        return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ? 0 : -2;
    return -1;
}

/* ---- report --------------------------------------------------------------------------- */

static const double lg_pcts[] = {50, 90, 99, 99.9};
static const char *const lg_pct_names[] = {"p50", "p90", "p99", "p99.9"};

/* lg_backlog - open loop: requests whose intended time came before the run stopped
 * sending but that never went out (all connections were busy). */
static uint64_t lg_backlog(const struct lg_run *r)
{
    uint64_t stop = r->draining ? r->drain_ns : r->end_ns, due;
    if (r->o.rate <= 0 || stop < r->start_ns)
        return 0;
    due = (stop - r->start_ns) / r->interval_ns + 1;
    if (r->o.nmax && due > r->o.nmax)
        due = r->o.nmax;
    return due > r->sent ? due - r->sent : 0;
}

/* lg_report_json - every figure of the run in one object (the text report prints it). */
static json_t *lg_report_json(const struct lg_run *r)
{
    uint64_t end = r->last_reply_ns ? r->last_reply_ns : r->end_ns, nerr = 0;
    double secs = (double)(end - r->start_ns) / LG_NS, wall = (r->end_ns - r->start_ns) / LG_NS;
    double cpu, n = (double)r->completed;
    json_t *lat = json_object(), *errs = json_object(), *acts = json_object();
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
          (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    for (size_t i = 0; i < sizeof lg_pcts / sizeof lg_pcts[0]; i++)
        json_object_set_new(lat, lg_pct_names[i],
                            json_integer((json_int_t)hist_pct(r, lg_pcts[i])));
    json_object_set_new(lat, "max", json_integer((json_int_t)r->lat_max));
    json_object_set_new(lat, "mean", json_real(n > 0 ? (double)r->lat_sum / n : 0));
    for (int i = 0; i < E_COUNT; i++) {
        nerr += r->err[i];
        json_object_set_new(errs, lg_err_names[i], json_integer((json_int_t)r->err[i]));
    }
    json_object_set_new(errs, "total", json_integer((json_int_t)nerr));
    for (unsigned i = 0; i < r->nactions; i++)
        json_object_set_new(acts, r->action[i].word, json_integer((json_int_t)r->action[i].n));
    return json_pack("{s:s, s:s, s:i, s:f, s:I, s:I, s:I, s:f, s:f, s:I, s:I, s:o, s:o, s:o, "
                     "s:f, s:f}",
                     "target", r->target, "mode", r->o.rate > 0 ? "open" : "closed",
                     "connections", (int)r->o.conns, "offered_rate", r->o.rate,
                     "requests", (json_int_t)r->completed, "sent", (json_int_t)r->sent,
                     "messages", (json_int_t)r->messages, "duration_s", secs,
                     "requests_per_s", secs > 0 ? n / secs : 0.0, "late_sends",
                     (json_int_t)r->late, "backlog", (json_int_t)lg_backlog(r),
                     "latency_us", lat, "errors", errs, "actions", acts,
                     "cpu_s", cpu, "cpu_pct", wall > 0 ? 100.0 * cpu / wall : 0.0);
}

/* lg_print_value - one value of the report: nested objects as "k=v k=v". */
static void lg_print_value(json_t *v)
{
    const char *k;
    json_t *e;

    if (json_is_object(v)) {
        json_object_foreach(v, k, e) {
            printf("%s=", k);
            lg_print_value(e);
            putchar(' ');
        }
    } else if (json_is_real(v)) {
        printf("%.2f", json_real_value(v));
    } else if (json_is_integer(v)) {
        printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else {
        printf("%s", json_string_value(v));
    }
}

/* lg_report_text - the same figures as --json, one "name: value" line each. */
static void lg_report_text(json_t *o)
{
    const char *k;
    json_t *v;

    json_object_foreach(o, k, v) {
        printf("%-16s", k);
        lg_print_value(v);
        putchar('\n');
    }
}

/* lg_report - print the report; returns the number of errors. */
static json_int_t lg_report(const struct lg_run *r)
{
    json_t *o = lg_report_json(r);
    json_int_t nerr;
    char *s;

    if (!o)
        abort();
    nerr = json_integer_value(json_object_get(json_object_get(o, "errors"), "total"));
    if (r->o.json) {
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        if (!s)
            abort();
        puts(s);
        free(s);
    } else {
        lg_report_text(o);
    }
    json_decref(o);
    fflush(stdout);
    return nerr;
}

int main(int argc, char **argv)
{
    static struct lg_run run; /* large (histogram); lives for the whole process */
    struct lg_run *r = &run;
    int rc;

    opt_parse(&r->o, argc, argv);
    if (model_dist_parse(r, r->o.dist) < 0) {
        fprintf(stderr, "loadgen: --rcpt-per-msg: want N:WEIGHT,... ('%s')\n", r->o.dist);
        return 2;
    }
    if (r->o.tcp && (rc = lg_target(r, r->o.tcp)) < 0) {
        fprintf(stderr, "loadgen: -t %s: %s\n", r->o.tcp,
                rc == -2 ? "refused: not a loopback address (127.0.0.0/8 or ::1)"
                         : "want HOST:PORT with a numeric loopback address");
        return 2;
    }
    snprintf(r->target, sizeof r->target, "%s %s", r->o.tcp ? "tcp" : "unix",
             r->o.tcp ? r->o.tcp : r->o.unix_path);
    signal(SIGPIPE, SIG_IGN);
    model_zipf_init(r);
    tpl_compile(&r->tpl, r->o.time_attr);
    r->conns = calloc(r->o.conns, sizeof *r->conns);
    if (!r->conns)
        abort();
    r->loop = uv_default_loop();
    lg_start(r);
    uv_run(r->loop, UV_RUN_DEFAULT);
    if ((rc = uv_loop_close(r->loop)) != 0)
        fprintf(stderr, "loadgen: uv_loop_close: %s\n", uv_strerror(rc));
    if (r->o.rate > 0)
        close(r->tfd);
    rc = lg_report(r) > 0 && r->o.strict ? 1 : 0;
    free(r->idle);
    free(r->conns);
    free(r->zipf_cdf);
    return rc;
}
