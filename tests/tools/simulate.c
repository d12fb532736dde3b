/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      simulate - detection quality: synthetic outbound mail through a real policyd
 * SYNOPSIS
 *      simulate (-t HOST:PORT | -u PATH) [-c CONNS] [--mailboxes N] [--learn-days D]
 *               [--eval-days D] [--episodes K] [--stress K] [--seed S] [--epoch SECONDS]
 *               [--cgnat-pool N] [--home-churn P] [--eom] [--log FILE] [--timeout MS]
 *               [--quiet]
 *      simulate --write-overrides FILE [--mailboxes N] [--seed S] ...
 * DESCRIPTION
 *      Generates the synthetic traffic of research/detection.md section 4 and replays it
 *      through a running policyd (trust_request_time = yes: every request carries its
 *      simulated time in policyd_time) over the policy protocol, then reports how well
 *      policyd caught the compromised mailboxes and how often it stopped honest ones.
 *
 *      Population: N mailboxes in customer domains of log-normal size; 20 % near-dormant,
 *      70 % regular, 8 % heavy, 2 % bulk (monthly newsletter). Messages per workday
 *      log-normal across users and from day to day, weekends at 12 %, sessions started
 *      by a diurnal profile, each a cascade of Geometric(3) messages ~2 min apart.
 *      Address books of log-normal size with Zipf(1) popularity, colleagues among them;
 *      a share of new recipients per user from Beta(2,14), 5 % outreach users at
 *      25-45 %; announcements to 20-80 recipients. Networks: the customer's office /24,
 *      a home line (70 %) that moves to another /24 of its ISP now and then, mobile
 *      sessions (40 % of users) from a random /24 of the carrier's CGNAT pool, webmail
 *      through the provider's webmail host, trips abroad (2 % of users a week) with
 *      conference follow-ups, a carrier change now and then, sender aliases missing
 *      from the login map (1 % of users).
 *
 *      Attack scenarios (section 4.2), each on its own randomly chosen non-dormant
 *      victim, starting at a random time of the evaluation period while the owner keeps
 *      working: A burst through rotating proxies, B contact-list scam, C slow and low
 *      through many countries, D slow and low through domestic residential proxies,
 *      E webmail without a client address. Benign stress: a first newsletter from the
 *      office, new employees (no history), an all-staff announcement.
 *
 *      Replay: every mailbox is one lane whose requests go out strictly in its own time
 *      order, one message (all its RCPTs) on one connection, one request in flight per
 *      connection as Postfix does; many lanes run at once over many connections. Lanes
 *      advance together in epochs of simulated time (--epoch): every lane sends what falls
 *      in the epoch before any lane goes on. policyd keeps no state across mailboxes
 *      that its verdicts read, so the result does not depend on the interleaving: each
 *      lane draws from its own random streams and sees only its own replies. A run is
 *      reproducible from --seed (given a fixed recipient hash key; scripts/simulate.sh
 *      writes one).
 *
 *      Replies: REJECT = blocked (sticky: the lane then stops, owner and attacker alike),
 *      HOLD = the whole message is held (contained), DEFER = a cap (an attacker then
 *      drops the message and backs off 10 min, doubling to 1 h), DUNNO = accepted.
 *
 *      --write-overrides FILE writes the overrides file of the population (the bulk
 *      senders with profile=bulk and raised caps, as a provider would configure its
 *      known newsletter accounts) and exits; pass the same population options.
 *
 *      --log FILE reads policyd's log after the run (the verdict=HOLD / verdict=BLOCK
 *      lines, in order) and adds the rules behind each wrongful HOLD or BLOCK and behind
 *      each first containment of an episode.
 *
 *      The file is over the 800-line guide: tests/tools builds one binary per .c, and the
 *      model, the replay and the report share most of their types.
 * DIAGNOSTICS
 *      The report goes to stdout, progress to stderr. Usage errors exit 2; a connection
 *      error, a protocol error or a reply timeout ends the run with exit 1 (a partial
 *      simulation means nothing).
 * SEE ALSO
 *      docs/SIMULATOR.md, scripts/simulate.sh, tests/tools/loadgen.c,
 *      /work/shared/research/detection.md section 4
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <uv.h>

#define SIM_T0 1704067200.0 /* Monday 2024-01-01 00:00 UTC: day 0 of every run */
#define SIM_DAY 86400.0
#define SIM_HOUR 3600.0
#define SIM_MAX_DAYS 128     /* per-day bitmaps of two words */
#define SIM_MAX_CONNS 1024
#define SIM_MAX_REQ 2048     /* one request; ours are about 600 bytes */
#define SIM_MAX_REPLY 1024
#define SIM_MAX_RCPT 1000    /* recipients of one message */
#define SIM_RCPT_GAP 0.05    /* seconds between the RCPTs of one message */
#define SIM_ISPS 8           /* domestic fixed-line ISPs */
#define SIM_ISP_POOL 16384   /* /24s of one of them */
#define SIM_CARRIERS 4       /* mobile carriers */
#define SIM_PARTNERS 15      /* partner domains of a mailbox */
#define SIM_NET_WEBMAIL ((10u << 16) | (20u << 8)) /* the provider's webmail host: 10.20.0.5 */
#define SIM_TOP_RULES 6      /* rule combinations shown per category */
#define SIM_LIST_BLOCKS 20   /* wrongful blocks listed one by one */

enum sim_class { CL_DORMANT, CL_REGULAR, CL_HEAVY, CL_BULK, CL_NEWHIRE, CL_COUNT };

/* Episodes: the five attacks first, then the benign stress cases. */
enum sim_scen {
    SC_BURST, SC_CONTACTS, SC_SLOW_GLOBAL, SC_SLOW_LOCAL, SC_WEBMAIL,
    SC_NEWSLETTER, SC_NEWHIRE, SC_ALLSTAFF, SC_COUNT, SC_NONE = SC_COUNT
};
#define SC_NATTACK 5

enum sim_kind { MK_NORMAL, MK_ANNOUNCE, MK_BULK, MK_FOLLOWUP, MK_STRESS_NL, MK_ALLSTAFF,
                MK_INTRO, MK_ATTACK };
enum sim_rtype { RT_CONTACT, RT_COLLEAGUE, RT_SUBSCRIBER, RT_STRANGER, RT_HARVESTED };
enum sim_nkind { NK_OFFICE, NK_HOME, NK_MOBILE, NK_WEBMAIL, NK_HOTEL, NK_PROXY };
enum sim_act { A_DUNNO, A_HOLD, A_REJECT, A_DEFER, A_OTHER, A_COUNT };

/* The category of a HOLD/REJECT reply, for the log join (--log). */
enum sim_tag { TG_SKIP, TG_FP_HOLD, TG_FP_BLOCK, TG_LEARN_HOLD, TG_LEARN_BLOCK, TG_CONTAIN,
               TG_BLOCK, TG_COUNT };

static const char *const sim_scen_names[SC_COUNT] = {
    "A burst, rotating proxies", "B contact-list scam", "C slow+low, many countries",
    "D slow+low, domestic proxies", "E webmail, no client address", "L first newsletter",
    "new employee", "all-staff announcement",
};
static const char *const sim_class_names[CL_COUNT] = {"dormant", "regular", "heavy", "bulk",
                                                      "new employee"};
static const char *const sim_act_names[A_COUNT] = {"DUNNO", "HOLD", "REJECT", "DEFER", "other"};

static const char *const sim_freemail[] = {"gmail.com", "yahoo.com", "hotmail.com",
                                           "outlook.com", "gmx.net", "web.de", "aol.com",
                                           "icloud.com", "mail.ru", "orange.fr"};
static const uint8_t sim_freemail_cum[] = {30, 50, 62, 72, 80, 86, 90, 94, 97, 100};

/* Hourly weights of session starts: workdays, then weekends. */
static const double sim_diurnal[2][24] = {
    {0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 4, 7, 8, 7.5, 5, 6, 7.5, 7, 6, 4, 2.5, 2, 2, 1.8,
     1.2, 0.6},
    {0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.5, 2.5, 3, 3, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5,
     2.5, 2.5, 2, 1.5, 0.8},
};

struct sim_opts {
    const char *tcp, *unix_path, *overrides, *log;
    uint32_t conns, mailboxes, learn_days, eval_days, episodes, stress, timeout_ms, cgnat_pool;
    double epoch, home_churn;
    uint64_t seed;
    bool eom, quiet, detail;
};

struct sim_net {
    uint32_t net; /* the /24 as a 24-bit number a.b.c */
    uint8_t host, kind;
};

/* One message of a lane's plan (legitimate traffic), or the attack's next one. */
struct sim_msg {
    double t;
    struct sim_net net;
    uint8_t kind;
    bool alias;
    uint16_t nrcpt;
    uint32_t arg; /* MK_BULK: first subscriber */
};

struct sim_rcpt {
    uint8_t type;
    uint32_t id;
    uint64_t rnd;
};

/* What happened to an episode (an attack, or a benign stress case). */
struct sim_ep {
    double first_t, contain_t, block_t, end_t; /* -1 = not (yet) */
    uint32_t leaked_before, leaked_total, attempted, accepted, held_rcpt, deferred, msgs;
    bool void_ep; /* the lane was blocked before the episode began */
};

/* The attacker's state machine (one per victim). */
struct sim_attack {
    uint8_t scen;
    bool done;
    double start, end, next, net_until, rate, backoff;
    struct sim_net net;
    int sess_left;
    uint32_t target, reached; /* B: recipients to reach, reached */
    uint32_t *order, norder, pos; /* B: the victim's book, shuffled */
};

struct sim_box {
    uint32_t id, dom;
    uint8_t cls, scen, isp, carrier;
    bool outreach, mobile, alias, has_home, stopped, queued;
    float rate, new_share, mobile_share, webmail_share;
    uint32_t home_net;
    uint32_t *book, nbook, capbook, init_contacts, next_contact, next_harvest;
    uint64_t rng, arng;
    int day, start_day, ev_day; /* last planned day; first active day; the stress day */
    int trip_start, trip_end;   /* [start, end) in days, -1 none */
    struct sim_net trip_net[2];
    int nl_day;                 /* bulk: the newsletter's day of the 28-day cycle */
    uint32_t nl_size0;
    struct sim_msg *plan;
    uint32_t nplan, iplan, capplan, nmsg;
    struct sim_attack *atk;
    struct sim_ep ep;
    bool has_ep;
    uint64_t held_days[2], defer_days[2], trip_days[2];
    int block_day; /* -1 = never */
    uint8_t *tags;
    uint32_t ntags, captags, tagpos;
};

struct sim_dom {
    uint32_t first, n;
};

enum sim_cstate { CS_CONNECTING, CS_IDLE, CS_BUSY };

struct sim_conn {
    union {
        uv_handle_t h;
        uv_stream_t s;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } io;
    uv_connect_t creq;
    uv_write_t wreq;
    struct sim_run *run;
    enum sim_cstate state;
    bool writing, resume;
    struct sim_box *box; /* the lane whose message is in flight, or NULL */
    struct sim_msg msg;
    bool attack, episode, pre_contain, aborted, eom_done;
    uint32_t nrcpt, next;
    uint32_t n[A_COUNT]; /* replies to this message's RCPTs */
    char sender[96], inst[32];
    uint64_t sent_ns;
    size_t rlen;
    char rbuf[SIM_MAX_REPLY];
    char wbuf[SIM_MAX_REQ];
    struct sim_rcpt rcpt[SIM_MAX_RCPT];
};

struct sim_run {
    struct sim_opts o;
    uv_loop_t *loop;
    uv_timer_t tick;
    uv_signal_t sigint;
    struct sockaddr_storage addr;
    struct sim_box *box;
    uint32_t nbox, npop;
    struct sim_dom *dom;
    uint32_t ndom;
    struct sim_conn *conns;
    uint32_t *ready, rhead, rcount;
    uint32_t connected, idle;
    int days, learn, day_shown;
    double epoch_end, end_t;
    bool finished, failed;
    uint64_t requests, acts[A_COUNT], msgs, start_ns;
};

static void conn_pump(struct sim_conn *c);

/* ---- random numbers ------------------------------------------------------------------ */

/* rnd_next - splitmix64: one stream per lane and purpose, seeded from the run's seed. */
static uint64_t rnd_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t mix64(uint64_t x)
{
    return rnd_next(&x);
}

static double rnd_unit(uint64_t *s)
{
    return (double)(rnd_next(s) >> 11) * 0x1p-53;
}

static double rnd_uni(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * rnd_unit(s);
}

/* rnd_int - uniform in [lo, hi], both included. */
static uint32_t rnd_int(uint64_t *s, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)(rnd_next(s) % ((uint64_t)hi - lo + 1));
}

static double rnd_gauss(uint64_t *s)
{
    double u = rnd_unit(s), v = rnd_unit(s);

    return sqrt(-2.0 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

static double rnd_lognormal(uint64_t *s, double median, double sigma)
{
    return median * exp(sigma * rnd_gauss(s));
}

static double rnd_expo(uint64_t *s, double mean)
{
    double u = rnd_unit(s);

    return -mean * log(u > 0 ? u : 1e-300);
}

static uint32_t rnd_poisson(uint64_t *s, double lambda)
{
    double l, p = 1;
    uint32_t k = 0;

    if (lambda > 30) {
        double x = lambda + sqrt(lambda) * rnd_gauss(s) + 0.5;
        return x < 0 ? 0 : (uint32_t)x;
    }
    for (l = exp(-lambda);; k++) {
        p *= rnd_unit(s);
        if (p <= l)
            return k;
    }
}

/* rnd_geom - Geometric on 1, 2, ... with the given mean. */
static uint32_t rnd_geom(uint64_t *s, double mean)
{
    double u = rnd_unit(s);

    return 1 + (uint32_t)(log(u > 0 ? u : 1e-300) / log(1 - 1 / mean));
}

/* rnd_beta_2_14 - Beta(2, 14) as Gamma(2) / (Gamma(2) + Gamma(14)). */
static double rnd_beta_2_14(uint64_t *s)
{
    double a = 0, b = 0;
    int i;

    for (i = 0; i < 2; i++)
        a += rnd_expo(s, 1);
    for (i = 0; i < 14; i++)
        b += rnd_expo(s, 1);
    return a / (a + b);
}

/* ---- networks ------------------------------------------------------------------------ */

static struct sim_net net_make(uint32_t net, uint64_t *g, uint8_t kind)
{
    struct sim_net n = {net, (uint8_t)rnd_int(g, 2, 254), kind};

    return n;
}

static uint32_t net_isp(uint64_t *g, unsigned isp)
{
    return ((81u + isp) << 16) + rnd_int(g, 0, SIM_ISP_POOL - 1);
}

static uint32_t net_carrier(const struct sim_run *r, uint64_t *g, unsigned carrier)
{
    return ((100u + carrier) << 16) + rnd_int(g, 0, r->o.cgnat_pool - 1);
}

static uint32_t net_office(uint32_t dom)
{
    return (150u << 16) + dom;
}

static uint32_t net_foreign(uint64_t *g)
{
    return (rnd_int(g, 160, 223) << 16) | rnd_int(g, 0, 65535);
}

/* ---- time ---------------------------------------------------------------------------- */

static int t_day(double t)
{
    return (int)floor(t / SIM_DAY);
}

static bool day_weekend(int d)
{
    return d % 7 >= 5;
}

/* t_business - t, or the next workday morning (8:00 to 8:30) when t is outside 8-18 h
 * on a workday. */
static double t_business(double t, uint64_t *g)
{
    int d = t_day(t);
    double h = (t - d * SIM_DAY) / SIM_HOUR;

    if (!day_weekend(d) && h >= 8 && h < 18)
        return t;
    if (h >= 8)
        d++;
    while (day_weekend(d))
        d++;
    return d * SIM_DAY + 8 * SIM_HOUR + rnd_uni(g, 0, 1800);
}

static double t_diurnal(uint64_t *g, bool weekend)
{
    const double *w = sim_diurnal[weekend];
    double sum = 0, u;
    int h;

    for (h = 0; h < 24; h++)
        sum += w[h];
    u = rnd_unit(g) * sum;
    for (h = 0; h < 23 && u >= w[h]; h++)
        u -= w[h];
    return h * SIM_HOUR + rnd_uni(g, 0, SIM_HOUR);
}

static void bit_set(uint64_t m[2], int d)
{
    if (d >= 0 && d < SIM_MAX_DAYS)
        m[d / 64] |= 1ULL << (d % 64);
}

static bool bit_get(const uint64_t m[2], int d)
{
    return d >= 0 && d < SIM_MAX_DAYS && (m[d / 64] >> (d % 64) & 1);
}

/* ---- the population ------------------------------------------------------------------ */

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL) {
        fputs("simulate: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static void book_add(struct sim_box *b, uint32_t entry)
{
    if (b->nbook == b->capbook) {
        b->capbook = b->capbook ? 2 * b->capbook : 64;
        b->book = xrealloc(b->book, b->capbook * sizeof(*b->book));
    }
    b->book[b->nbook++] = entry;
}

#define SIM_COLLEAGUE 0x80000000u /* a book entry that is a colleague's mailbox id */

/* box_book - the initial address book: log-normal size, a fifth colleagues when the
 * company has any. */
static void box_book(struct sim_run *r, struct sim_box *b, double median)
{
    const struct sim_dom *d = &r->dom[b->dom];
    uint32_t n = (uint32_t)fmax(3, rnd_lognormal(&b->rng, median, 0.8)), i;

    for (i = 0; i < n; i++) {
        if (d->n > 1 && rnd_unit(&b->rng) < 0.2) {
            uint32_t k = d->first + rnd_int(&b->rng, 0, d->n - 1);
            if (k != b->id) {
                book_add(b, SIM_COLLEAGUE | k);
                continue;
            }
        }
        book_add(b, b->next_contact++);
    }
    b->init_contacts = b->next_contact;
}

/* box_init - the habits of one mailbox, from its own random stream. */
static void box_init(struct sim_run *r, struct sim_box *b, uint8_t cls)
{
    static const float webmail[] = {0, 0, 0.1f, 0.3f, 0.9f};
    uint64_t *g = &b->rng;

    b->cls = cls;
    b->scen = SC_NONE;
    b->day = -1;
    b->block_day = -1;
    b->ev_day = -1;
    b->trip_start = b->trip_end = -1;
    b->ep.first_t = b->ep.contain_t = b->ep.block_t = b->ep.end_t = -1;
    switch (cls) {
    case CL_DORMANT:
        b->rate = 0.2f; /* 0.15 a day on average, weekends included */
        break;
    case CL_HEAVY:
        b->rate = (float)rnd_lognormal(g, 40, 0.6);
        break;
    case CL_BULK:
        b->rate = (float)rnd_lognormal(g, 4, 0.9);
        b->nl_day = (int)rnd_int(g, 0, 27);
        b->nl_size0 = rnd_int(g, 200, 1500);
        break;
    default:
        b->rate = (float)rnd_lognormal(g, 8, 0.9);
        break;
    }
    b->outreach = (cls == CL_REGULAR || cls == CL_HEAVY) && rnd_unit(g) < 0.05;
    b->new_share = (float)(b->outreach ? rnd_uni(g, 0.25, 0.45) : rnd_beta_2_14(g));
    b->has_home = rnd_unit(g) < 0.7;
    b->isp = (uint8_t)rnd_int(g, 0, SIM_ISPS - 1);
    b->home_net = net_isp(g, b->isp);
    b->mobile = rnd_unit(g) < 0.4;
    b->carrier = (uint8_t)rnd_int(g, 0, SIM_CARRIERS - 1);
    b->mobile_share = b->mobile ? (float)rnd_uni(g, 0.1, 0.5) : 0;
    b->webmail_share = webmail[rnd_int(g, 0, 4)];
    b->alias = rnd_unit(g) < 0.01;
    box_book(r, b, cls == CL_HEAVY ? 120 : 60);
}

static uint8_t pop_class(uint64_t *g)
{
    double u = rnd_unit(g);

    return u < 0.20 ? CL_DORMANT : u < 0.90 ? CL_REGULAR : u < 0.98 ? CL_HEAVY : CL_BULK;
}

static void pop_shuffle(uint32_t *a, uint32_t n, uint64_t *g)
{
    uint32_t i, j, t;

    for (i = n; i > 1; i--) {
        j = (uint32_t)(rnd_next(g) % i);
        t = a[i - 1], a[i - 1] = a[j], a[j] = t;
    }
}

/* pop_day - a workday of the evaluation period on which an event of 'len' days fits. */
static int pop_day(const struct sim_run *r, uint64_t *g, int len)
{
    int last = r->days - len, d;

    d = (int)rnd_int(g, (uint32_t)r->learn, (uint32_t)(last > r->learn ? last : r->learn));
    while (day_weekend(d) && d > r->learn)
        d--;
    while (day_weekend(d))
        d++;
    return d;
}

static void attack_init(struct sim_run *r, struct sim_box *b, uint8_t scen);

/* pop_assign - the episodes: shuffled non-dormant, non-bulk mailboxes become victims, K
 * per attack scenario, then the first-newsletter senders, then all-staff senders (in
 * companies of at least 20 mailboxes). */
static void pop_assign(struct sim_run *r, uint64_t *g)
{
    uint32_t *el = xrealloc(NULL, r->npop * sizeof(*el)), n = 0, i, k, s, want;

    for (i = 0; i < r->npop; i++)
        if (r->box[i].cls == CL_REGULAR || r->box[i].cls == CL_HEAVY)
            el[n++] = i;
    pop_shuffle(el, n, g);
    k = 0;
    for (s = 0; s < SC_NATTACK; s++)
        for (want = 0; want < r->o.episodes && k < n; want++)
            attack_init(r, &r->box[el[k++]], (uint8_t)s);
    for (want = 0; want < r->o.stress && k < n; k++) {
        struct sim_box *b = &r->box[el[k]];
        if (b->cls != CL_REGULAR || b->webmail_share > 0.3f)
            continue; /* "from a known network": people who work at the office */
        b->scen = SC_NEWSLETTER;
        b->has_ep = true;
        b->ev_day = pop_day(r, g, 1);
        want++;
    }
    for (want = 0; want < r->o.stress && k < n; k++) {
        struct sim_box *b = &r->box[el[k]];
        if (b->scen != SC_NONE || r->dom[b->dom].n < 20)
            continue;
        b->scen = SC_ALLSTAFF;
        b->has_ep = true;
        b->ev_day = pop_day(r, g, 1);
        want++;
    }
    free(el);
}

/* pop_build - domains, mailboxes, episodes and the new employees: all from the seed. */
static void pop_build(struct sim_run *r)
{
    uint64_t g = mix64(r->o.seed ^ 0x5151);
    uint32_t i, left = r->o.mailboxes, cap = 64;

    r->npop = r->o.mailboxes;
    r->nbox = r->npop + r->o.stress;
    r->box = calloc(r->nbox, sizeof(*r->box));
    r->dom = xrealloc(NULL, cap * sizeof(*r->dom));
    if (r->box == NULL)
        exit(1);
    while (left > 0) {
        uint32_t n = (uint32_t)fmin(fmin(1 + floor(rnd_lognormal(&g, 5, 1.1)), 400), left);
        if (r->ndom == cap)
            r->dom = xrealloc(r->dom, (cap *= 2) * sizeof(*r->dom));
        r->dom[r->ndom].first = r->o.mailboxes - left;
        r->dom[r->ndom++].n = n;
        left -= n;
    }
    for (i = 0; i < r->ndom; i++) {
        uint32_t k;
        for (k = r->dom[i].first; k < r->dom[i].first + r->dom[i].n; k++) {
            r->box[k].id = k;
            r->box[k].dom = i;
            r->box[k].rng = mix64(r->o.seed * 0x100000001b3ULL + k);
            r->box[k].arng = mix64(r->o.seed * 0x100000001b3ULL + k + (1ULL << 40));
            box_init(r, &r->box[k], pop_class(&g));
        }
    }
    pop_assign(r, &g);
    for (i = r->npop; i < r->nbox; i++) { /* new employees of companies of 3 or more */
        struct sim_box *b = &r->box[i];
        uint32_t d;
        do
            d = rnd_int(&g, 0, r->ndom - 1);
        while (r->dom[d].n < 3 && r->ndom > 1 && rnd_unit(&g) < 0.95);
        b->id = i;
        b->dom = d;
        b->rng = mix64(r->o.seed * 0x100000001b3ULL + i);
        b->arng = mix64(r->o.seed * 0x100000001b3ULL + i + (1ULL << 40));
        box_init(r, b, CL_NEWHIRE);
        b->scen = SC_NEWHIRE;
        b->has_ep = true;
        b->start_day = pop_day(r, &g, 3);
        b->ev_day = b->start_day + (int)rnd_int(&g, 0, 3); /* the hello-everyone mail */
    }
}

static int box_name(const struct sim_box *b, char *out, size_t len)
{
    return snprintf(out, len, "u%u@c%u.example", b->id, b->dom);
}

/* ---- recipients ---------------------------------------------------------------------- */

static const char *freemail_pick(uint64_t h)
{
    unsigned u = (unsigned)(h % 100), i = 0;

    while (u >= sim_freemail_cum[i])
        i++;
    return sim_freemail[i];
}

/* rcpt_format - the address of a recipient; stable for a (mailbox, recipient) pair. */
static void rcpt_format(const struct sim_run *r, const struct sim_box *b,
                        const struct sim_rcpt *x, char *out, size_t len)
{
    uint64_t h = mix64(((uint64_t)b->id << 32 | x->id) ^ x->rnd ^ ((uint64_t)x->type << 60));

    switch (x->type) {
    case RT_CONTACT:
        if (h % 100 < (x->id < b->init_contacts ? 30u : 40u))
            snprintf(out, len, "c%u.%u@%s", x->id, b->id, freemail_pick(h >> 8));
        else if (x->id >= b->init_contacts && (h >> 16) % 100 < 12)
            snprintf(out, len, "c%u@n%u-%u.example", x->id, x->id, b->id);
        else
            snprintf(out, len, "c%u.%u@p%u-c%u.example", x->id, b->id,
                     (unsigned)((h >> 24) % SIM_PARTNERS), b->dom);
        break;
    case RT_COLLEAGUE:
        box_name(&r->box[x->id], out, len);
        break;
    case RT_SUBSCRIBER:
        if (h % 100 < 60)
            snprintf(out, len, "s%u.%u@%s", x->id, b->id, freemail_pick(h >> 8));
        else
            snprintf(out, len, "s%u@b%05x.example", x->id, (unsigned)((h >> 8) & 0xfffff));
        break;
    case RT_HARVESTED:
        if (h % 100 < 40)
            snprintf(out, len, "h%u.%u@%s", x->id, b->id, freemail_pick(h >> 8));
        else
            snprintf(out, len, "h%u@q%u-%u.example", x->id, (unsigned)((h >> 8) % 50), b->id);
        break;
    default: /* RT_STRANGER */
        if (x->rnd % 100 < 50)
            snprintf(out, len, "x%016llx@%s", (unsigned long long)x->rnd,
                     freemail_pick(x->rnd >> 8));
        else
            snprintf(out, len, "x%08x@d%06x.example", (unsigned)(x->rnd >> 16),
                     (unsigned)(x->rnd >> 40));
        break;
    }
}

static bool rcpt_has(const struct sim_conn *c, uint8_t type, uint32_t id)
{
    uint32_t i;

    for (i = 0; i < c->nrcpt; i++)
        if (c->rcpt[i].type == type && c->rcpt[i].id == id)
            return true;
    return false;
}

static void rcpt_push(struct sim_conn *c, uint8_t type, uint32_t id, uint64_t rnd)
{
    if (c->nrcpt < SIM_MAX_RCPT) {
        c->rcpt[c->nrcpt].type = type;
        c->rcpt[c->nrcpt].id = id;
        c->rcpt[c->nrcpt++].rnd = rnd;
    }
}

/* rcpt_book - one book entry into the message, unless it is there already. */
static void rcpt_book(struct sim_conn *c, uint32_t entry)
{
    uint8_t type = entry & SIM_COLLEAGUE ? RT_COLLEAGUE : RT_CONTACT;
    uint32_t id = entry & ~SIM_COLLEAGUE;

    if (!rcpt_has(c, type, id))
        rcpt_push(c, type, id, 0);
}

static void rcpt_new_contact(struct sim_conn *c, struct sim_box *b)
{
    uint32_t id = b->next_contact++;

    book_add(b, id);
    rcpt_push(c, RT_CONTACT, id, 0);
}

/* rcpt_zipf - a book entry by Zipf(1) popularity (continuous approximation). */
static uint32_t rcpt_zipf(struct sim_box *b)
{
    double k = floor(exp(rnd_unit(&b->rng) * log(b->nbook + 1.0)));
    uint32_t i = k < 1 ? 0 : (uint32_t)k - 1;

    return b->book[i < b->nbook ? i : b->nbook - 1];
}

static void rcpt_colleagues(const struct sim_run *r, struct sim_conn *c, const struct sim_box *b)
{
    const struct sim_dom *d = &r->dom[b->dom];
    uint32_t k;

    for (k = d->first; k < d->first + d->n; k++)
        if (k != b->id)
            rcpt_push(c, RT_COLLEAGUE, k, 0);
}

/* rcpt_legit - the recipients of one of the owner's messages. */
static void rcpt_legit(const struct sim_run *r, struct sim_conn *c, struct sim_box *b)
{
    const struct sim_msg *m = &c->msg;
    uint32_t i, tries;

    switch (m->kind) {
    case MK_BULK:
        for (i = 0; i < m->nrcpt; i++)
            rcpt_push(c, RT_SUBSCRIBER, m->arg + i, 0);
        return;
    case MK_STRESS_NL:
        for (i = 0; i < m->nrcpt; i++)
            rcpt_push(c, RT_STRANGER, 0, rnd_next(&b->rng));
        return;
    case MK_ALLSTAFF:
    case MK_INTRO:
        rcpt_colleagues(r, c, b);
        return;
    case MK_FOLLOWUP:
        rcpt_new_contact(c, b);
        return;
    case MK_ANNOUNCE: /* 40 % new, the rest distinct picks from the book */
        for (i = 0; i < m->nrcpt; i++) {
            if (rnd_unit(&b->rng) < 0.4) {
                rcpt_new_contact(c, b);
                continue;
            }
            for (tries = 0; tries < 4; tries++) {
                uint32_t e = b->book[rnd_int(&b->rng, 0, b->nbook - 1)];
                if (!rcpt_has(c, e & SIM_COLLEAGUE ? RT_COLLEAGUE : RT_CONTACT,
                              e & ~SIM_COLLEAGUE)) {
                    rcpt_book(c, e);
                    break;
                }
            }
        }
        return;
    default:
        for (i = 0; i < m->nrcpt; i++) {
            if (rnd_unit(&b->rng) < b->new_share)
                rcpt_new_contact(c, b);
            else
                rcpt_book(c, rcpt_zipf(b));
        }
        return;
    }
}

/* ---- the owner's traffic: one day's plan --------------------------------------------- */

static void plan_add(struct sim_box *b, double t, struct sim_net net, uint8_t kind,
                     uint32_t nrcpt, uint32_t arg)
{
    struct sim_msg *m;

    if (b->nplan == b->capplan) {
        b->capplan = b->capplan ? 2 * b->capplan : 32;
        b->plan = xrealloc(b->plan, b->capplan * sizeof(*b->plan));
    }
    m = &b->plan[b->nplan++];
    m->t = t;
    m->net = net;
    m->kind = kind;
    m->nrcpt = (uint16_t)(nrcpt < SIM_MAX_RCPT ? nrcpt : SIM_MAX_RCPT);
    m->arg = arg;
    m->alias = b->alias && kind == MK_NORMAL && rnd_unit(&b->rng) < 0.05;
}

static int plan_cmp(const void *a, const void *b)
{
    double x = ((const struct sim_msg *)a)->t, y = ((const struct sim_msg *)b)->t;

    return x < y ? -1 : x > y;
}

static bool box_on_trip(const struct sim_box *b, int d)
{
    return d >= b->trip_start && d < b->trip_end;
}

/* plan_channel - where a session of the owner comes from. */
static struct sim_net plan_channel(const struct sim_run *r, struct sim_box *b, int d, double t)
{
    uint64_t *g = &b->rng;
    bool weekend = day_weekend(d);
    double h = (t - d * SIM_DAY) / SIM_HOUR;

    if (b->webmail_share > 0 && rnd_unit(g) < b->webmail_share)
        return net_make(SIM_NET_WEBMAIL, g, NK_WEBMAIL);
    if (b->mobile && rnd_unit(g) < b->mobile_share)
        return net_make(net_carrier(r, g, b->carrier), g, NK_MOBILE);
    if (box_on_trip(b, d))
        return b->trip_net[rnd_unit(g) < 0.7 ? 0 : 1];
    if (!weekend && h >= 8 && h < 18 && (rnd_unit(g) < 0.9 || !b->has_home))
        return net_make(net_office(b->dom), g, NK_OFFICE);
    if (b->has_home)
        return net_make(b->home_net, g, NK_HOME);
    if (b->mobile)
        return net_make(net_carrier(r, g, b->carrier), g, NK_MOBILE);
    if (b->webmail_share > 0)
        return net_make(SIM_NET_WEBMAIL, g, NK_WEBMAIL);
    return net_make(net_office(b->dom), g, NK_OFFICE);
}

/* plan_life - the day's changes: a new home address, a new carrier, a trip this week. */
static void plan_life(const struct sim_run *r, struct sim_box *b, int d)
{
    uint64_t *g = &b->rng;

    if (b->has_home && rnd_unit(g) < r->o.home_churn)
        b->home_net = net_isp(g, b->isp);
    if (b->mobile && rnd_unit(g) < 0.01 / 30)
        b->carrier = (uint8_t)((b->carrier + rnd_int(g, 1, SIM_CARRIERS - 1)) % SIM_CARRIERS);
    if (d % 7 == 0 && b->cls != CL_DORMANT && rnd_unit(g) < 0.02) {
        b->trip_start = d + (int)rnd_int(g, 0, 4);
        b->trip_end = b->trip_start + (int)rnd_int(g, 3, 5);
        b->trip_net[0] = net_make(net_foreign(g), g, NK_HOTEL);
        b->trip_net[1] = net_make(net_foreign(g), g, NK_HOTEL);
    }
    if (box_on_trip(b, d))
        bit_set(b->trip_days, d);
}

static uint32_t plan_nrcpt(uint64_t *g)
{
    double u = rnd_unit(g);

    if (u < 0.72)
        return 1;
    if (u < 0.86)
        return 2;
    if (u < 0.92)
        return 3;
    return u < 0.99 ? rnd_int(g, 4, 9) : rnd_int(g, 10, 30);
}

/* plan_batches - a list mailed in batches of 50 from the office, 'gap' minutes apart. */
static void plan_batches(struct sim_box *b, double t, uint32_t n, uint8_t kind, double gap_lo,
                         double gap_hi)
{
    uint32_t i;

    for (i = 0; i < n; i += 50) {
        plan_add(b, t, net_make(net_office(b->dom), &b->rng, NK_OFFICE), kind,
                 n - i < 50 ? n - i : 50, i);
        t += 60 * rnd_uni(&b->rng, gap_lo, gap_hi);
    }
}

/* plan_extras - the day's special messages: announcements, newsletters, follow-ups from
 * a conference, and the stress episodes' events. */
static void plan_extras(const struct sim_run *r, struct sim_box *b, int d)
{
    uint64_t *g = &b->rng;
    double day0 = d * SIM_DAY, t;

    if (!day_weekend(d) && b->cls != CL_DORMANT && b->cls != CL_BULK &&
        rnd_unit(g) < 0.3 / 21) {
        t = day0 + t_diurnal(g, false);
        plan_add(b, t, plan_channel(r, b, d, t), MK_ANNOUNCE, rnd_int(g, 20, 80), 0);
    }
    if (b->cls == CL_BULK && d % 28 == b->nl_day)
        plan_batches(b, day0 + 10 * SIM_HOUR + rnd_uni(g, 0, 2 * SIM_HOUR),
                     (uint32_t)(b->nl_size0 * pow(1.03, d / 30.0)), MK_BULK, 2, 5);
    if (box_on_trip(b, d) && d == b->trip_end - 1 && rnd_unit(g) < 0.3) {
        uint32_t i, n = rnd_int(g, 10, 30);
        for (t = day0 + rnd_uni(g, 8, 20) * SIM_HOUR, i = 0; i < n; i++) {
            plan_add(b, t, b->trip_net[0], MK_FOLLOWUP, 1, 0);
            t += 60 * rnd_uni(g, 2, 6);
        }
    }
    if (d != b->ev_day)
        return;
    t = day0 + 9 * SIM_HOUR + rnd_uni(g, 0, 5 * SIM_HOUR);
    if (b->scen == SC_NEWSLETTER) {
        plan_batches(b, t, rnd_int(g, 300, 800), MK_STRESS_NL, 1, 5);
    } else if (b->scen == SC_ALLSTAFF) {
        plan_add(b, t, net_make(net_office(b->dom), g, NK_OFFICE), MK_ALLSTAFF,
                 r->dom[b->dom].n - 1, 0);
    } else if (b->scen == SC_NEWHIRE && r->dom[b->dom].n >= 3 && rnd_unit(g) < 0.5) {
        plan_add(b, t, net_make(net_office(b->dom), g, NK_OFFICE), MK_INTRO,
                 r->dom[b->dom].n, 0);
    }
}

/* plan_day - the owner's messages of day d, in time order (messages past midnight are
 * kept on the day's last second: the next plan starts after them). */
static void plan_day(const struct sim_run *r, struct sim_box *b, int d)
{
    uint64_t *g = &b->rng;
    bool weekend = day_weekend(d);
    double lambda, t, end = (d + 1) * SIM_DAY - 1;
    uint32_t n, s, i;

    b->day = d;
    b->nplan = b->iplan = 0;
    if (d < b->start_day)
        return;
    plan_life(r, b, d);
    lambda = b->rate * (weekend ? 0.12 : 1.0) * exp(0.6 * rnd_gauss(g));
    for (n = rnd_poisson(g, lambda); n > 0; n -= s) {
        struct sim_net net;
        s = rnd_geom(g, 3);
        s = s < n ? s : n;
        t = d * SIM_DAY + t_diurnal(g, weekend);
        net = plan_channel(r, b, d, t);
        for (i = 0; i < s; i++, t += rnd_expo(g, 120))
            plan_add(b, t, net, MK_NORMAL, plan_nrcpt(g), 0);
    }
    plan_extras(r, b, d);
    for (i = 0; i < b->nplan; i++)
        b->plan[i].t = fmin(b->plan[i].t, end);
    qsort(b->plan, b->nplan, sizeof(*b->plan), plan_cmp);
}

/* ---- attacks ------------------------------------------------------------------------- */

static const double sim_atk_days[SC_NATTACK] = {1, 3, 5, 7, 1}; /* longest run, days */

/* attack_init - make b a victim of scen: when it starts, how fast it sends. */
static void attack_init(struct sim_run *r, struct sim_box *b, uint8_t scen)
{
    struct sim_attack *a = calloc(1, sizeof(*a));
    uint64_t *g = &b->arng;
    double lo = r->learn * SIM_DAY, hi = r->days * SIM_DAY - sim_atk_days[scen] * SIM_DAY;

    if (a == NULL)
        exit(1);
    b->atk = a;
    b->scen = scen;
    b->has_ep = true;
    a->scen = scen;
    a->start = rnd_uni(g, lo, hi > lo ? hi : lo);
    switch (scen) {
    case SC_BURST:
        a->end = a->start + rnd_uni(g, 0.5, 24) * SIM_HOUR;
        break;
    case SC_CONTACTS:
        a->start = t_business(a->start, g);
        a->end = a->start + 3 * SIM_DAY;
        a->target = rnd_int(g, 150, 500);
        break;
    case SC_SLOW_GLOBAL:
        a->rate = rnd_uni(g, 10, 40);
        a->end = a->start + 5 * SIM_DAY;
        break;
    case SC_SLOW_LOCAL:
        a->start = t_business(a->start, g);
        a->rate = rnd_uni(g, 5, 15);
        a->end = a->start + 7 * SIM_DAY;
        break;
    default: /* SC_WEBMAIL */
        a->rate = rnd_uni(g, 20, 60);
        a->end = a->start + SIM_DAY;
        a->net = net_make(SIM_NET_WEBMAIL, g, NK_WEBMAIL);
        break;
    }
    a->end = fmin(a->end, r->days * SIM_DAY - 1);
    a->next = a->start;
}

/* attack_after - the attacker's next message after one sent at t. */
static void attack_after(struct sim_box *b, double t, bool deferred)
{
    struct sim_attack *a = b->atk;
    uint64_t *g = &b->arng;
    double nt;

    switch (a->scen) {
    case SC_BURST:
        nt = t + (a->sess_left > 0 ? rnd_uni(g, 2, 10) : rnd_uni(g, 5, 60));
        break;
    case SC_CONTACTS:
        nt = t_business(t + rnd_uni(g, 60, 600), g);
        break;
    case SC_SLOW_LOCAL:
        nt = t_business(t + rnd_expo(g, SIM_HOUR / a->rate), g);
        break;
    default:
        nt = t + rnd_expo(g, SIM_HOUR / a->rate);
        break;
    }
    a->backoff = deferred ? (a->backoff > 0 ? fmin(2 * a->backoff, SIM_HOUR) : 600) : 0;
    a->next = fmax(nt, t + a->backoff);
    if (a->next > a->end || (a->scen == SC_CONTACTS && a->reached >= a->target))
        a->done = true;
}

/* attack_contacts - B's next BCC message: the victim's book as it was when the attack
 * began, shuffled, then addresses harvested from the inbox (never mailed). */
static void attack_contacts(struct sim_conn *c, struct sim_box *b)
{
    struct sim_attack *a = b->atk;
    uint64_t *g = &b->arng;
    uint32_t n, i;

    if (a->order == NULL) {
        a->norder = b->nbook;
        a->order = xrealloc(NULL, (b->nbook + 1) * sizeof(*a->order));
        memcpy(a->order, b->book, b->nbook * sizeof(*a->order));
        pop_shuffle(a->order, a->norder, g);
        a->net = net_make(net_foreign(g), g, NK_PROXY);
    }
    n = rnd_int(g, 20, 100);
    n = n < a->target - a->reached ? n : a->target - a->reached;
    for (i = 0; i < n; i++) {
        if (a->pos < a->norder)
            rcpt_book(c, a->order[a->pos++]);
        else
            rcpt_push(c, RT_HARVESTED, b->next_harvest++, 0);
    }
    a->reached += n;
}

/* attack_message - the attacker's next message into c: network and recipients. */
static void attack_message(const struct sim_run *r, struct sim_conn *c, struct sim_box *b)
{
    struct sim_attack *a = b->atk;
    uint64_t *g = &b->arng;
    uint32_t n = 0, i;
    double known = 0;

    c->msg.t = a->next;
    c->msg.kind = MK_ATTACK;
    c->msg.alias = false;
    switch (a->scen) {
    case SC_BURST:
        if (a->sess_left <= 0) {
            a->sess_left = (int)rnd_int(g, 5, 30);
            a->net = net_make(net_foreign(g), g, NK_PROXY);
        }
        a->sess_left--;
        n = rnd_int(g, 1, 50);
        known = 0.03;
        break;
    case SC_CONTACTS:
        attack_contacts(c, b);
        break;
    case SC_SLOW_GLOBAL:
        a->net = net_make(net_foreign(g), g, NK_PROXY);
        n = rnd_int(g, 1, 3);
        break;
    case SC_SLOW_LOCAL:
        if (c->msg.t >= a->net_until) { /* a sticky residential exit for 10-30 min */
            unsigned isp = b->has_home && rnd_unit(g) < 0.3 ? (unsigned)b->isp : rnd_int(g, 0, 7);
            a->net = net_make(net_isp(g, isp), g, NK_PROXY);
            a->net_until = c->msg.t + rnd_uni(g, 600, 1800);
        }
        n = 1;
        break;
    default: /* SC_WEBMAIL */
        n = rnd_int(g, 1, 10);
        known = 0.10;
        break;
    }
    c->msg.net = a->net;
    if (a->scen != SC_CONTACTS)
        for (i = 0; i < n; i++) {
            if (rnd_unit(g) < known && b->nbook > 0)
                rcpt_book(c, b->book[rnd_int(g, 0, b->nbook - 1)]);
            else
                rcpt_push(c, RT_STRANGER, 0, rnd_next(g));
        }
    c->msg.nrcpt = (uint16_t)c->nrcpt;
}

/* ---- lanes and epochs ---------------------------------------------------------------- */

/* lane_peek - when the lane's next message is due (INFINITY: nothing left). Plans the
 * owner's next days on the way. */
static double lane_peek(const struct sim_run *r, struct sim_box *b)
{
    double tl = INFINITY, ta = INFINITY;

    if (b->stopped)
        return INFINITY;
    while (b->iplan >= b->nplan && b->day + 1 < r->days)
        plan_day(r, b, b->day + 1);
    if (b->iplan < b->nplan)
        tl = b->plan[b->iplan].t;
    if (b->atk != NULL && !b->atk->done)
        ta = b->atk->next;
    return tl < ta ? tl : ta;
}

static void ready_push(struct sim_run *r, struct sim_box *b)
{
    if (b->queued)
        return;
    b->queued = true;
    r->ready[(r->rhead + r->rcount++) % r->nbox] = b->id;
}

static struct sim_box *ready_pop(struct sim_run *r)
{
    struct sim_box *b;

    if (r->rcount == 0)
        return NULL;
    b = &r->box[r->ready[r->rhead]];
    r->rhead = (r->rhead + 1) % r->nbox;
    r->rcount--;
    b->queued = false;
    return b;
}

static void sim_stop(struct sim_run *r);

/* epoch_advance - every connection is idle and nothing is ready: open the next epoch
 * that has work, wake the connections; at the end of time, stop. */
static void epoch_advance(struct sim_run *r)
{
    uint32_t i;

    while (r->rcount == 0 && r->epoch_end < r->end_t) {
        int d;
        r->epoch_end += r->o.epoch;
        for (i = 0; i < r->nbox; i++)
            if (lane_peek(r, &r->box[i]) < r->epoch_end)
                ready_push(r, &r->box[i]);
        d = t_day(r->epoch_end - 1);
        if (!r->o.quiet && d != r->day_shown) {
            double secs = (double)(uv_hrtime() - r->start_ns) / 1e9;
            fprintf(stderr, "simulate: day %d/%d, %llu requests in %.0f s (%.0f/s)\n", d + 1,
                    r->days, (unsigned long long)r->requests, secs,
                    secs > 0 ? r->requests / secs : 0.0);
            r->day_shown = d;
        }
    }
    if (r->rcount == 0) {
        sim_stop(r);
        return;
    }
    for (i = 0; i < r->o.conns && r->rcount > 0; i++) {
        struct sim_conn *c = &r->conns[i];
        if (c->state == CS_IDLE && c->box == NULL) {
            r->idle--;
            c->state = CS_BUSY; /* conn_pump marks it idle again if it finds nothing */
            conn_pump(c);
        }
    }
}

/* ---- messages ------------------------------------------------------------------------ */

/* msg_begin - the lane's next message (the owner's or the attacker's) into c. */
static void msg_begin(struct sim_run *r, struct sim_conn *c, struct sim_box *b)
{
    double tl = b->iplan < b->nplan ? b->plan[b->iplan].t : INFINITY;
    bool attack = b->atk != NULL && !b->atk->done && b->atk->next < tl;

    c->box = b;
    c->nrcpt = c->next = 0;
    memset(c->n, 0, sizeof(c->n));
    c->aborted = c->eom_done = false;
    c->attack = attack;
    if (attack) {
        attack_message(r, c, b);
    } else {
        c->msg = b->plan[b->iplan++];
        rcpt_legit(r, c, b);
    }
    c->episode = attack || (b->scen == SC_NEWHIRE) ||
                 (b->scen == SC_NEWSLETTER && c->msg.kind == MK_STRESS_NL) ||
                 (b->scen == SC_ALLSTAFF && c->msg.kind == MK_ALLSTAFF);
    if (c->episode && b->ep.first_t < 0)
        b->ep.first_t = c->msg.t;
    c->pre_contain = b->ep.contain_t < 0;
    b->nmsg++;
    r->msgs++;
    snprintf(c->inst, sizeof(c->inst), "%x.%x", b->id, b->nmsg);
    if (c->msg.alias)
        snprintf(c->sender, sizeof(c->sender), "u%u@c%u-brand.example", b->id, b->dom);
    else
        box_name(b, c->sender, sizeof(c->sender));
}

static void tag_push(struct sim_box *b, uint8_t tag)
{
    if (b->ntags == b->captags) {
        b->captags = b->captags ? 2 * b->captags : 16;
        b->tags = xrealloc(b->tags, b->captags);
    }
    b->tags[b->ntags++] = tag;
}

/* box_before_episode - the owner's mail before the mailbox's episode began: attack-free
 * traffic like anyone's (new employees have their own row). */
static bool box_before_episode(const struct sim_box *b)
{
    return b->has_ep && b->scen != SC_NEWHIRE && b->ep.first_t < 0;
}

/* msg_reply - account for the reply to RCPT number c->next (already counted). */
static void msg_reply(struct sim_run *r, struct sim_conn *c, enum sim_act a)
{
    struct sim_box *b = c->box;
    double t = c->msg.t + (c->next - 1) * SIM_RCPT_GAP;
    int d = t_day(t);
    bool eval = d >= r->learn;
    uint8_t tag = TG_SKIP;

    c->n[a]++;
    if (a == A_HOLD || a == A_REJECT) {
        if (c->episode && b->ep.contain_t < 0) {
            b->ep.contain_t = t;
            tag = TG_CONTAIN;
        } else if (a == A_REJECT && b->has_ep && b->ep.first_t >= 0) {
            tag = TG_BLOCK;
        } else if (!c->episode && (b->scen == SC_NONE || !eval || box_before_episode(b))) {
            bool first = a == A_REJECT || !bit_get(b->held_days, d);
            tag = !first ? TG_SKIP
                  : eval ? (a == A_HOLD ? TG_FP_HOLD : TG_FP_BLOCK)
                         : (a == A_HOLD ? TG_LEARN_HOLD : TG_LEARN_BLOCK);
        }
        tag_push(b, tag);
    }
    if (!c->episode && !c->attack) {
        if (a == A_HOLD)
            bit_set(b->held_days, d);
        else if (a == A_DEFER)
            bit_set(b->defer_days, d);
    }
    if (a == A_REJECT) {
        b->stopped = true;
        c->aborted = true;
        if (b->block_day < 0)
            b->block_day = d;
        if (b->has_ep && b->ep.first_t >= 0 && b->ep.block_t < 0) {
            b->ep.block_t = t;
            if (b->ep.contain_t < 0)
                b->ep.contain_t = t;
        }
        if (b->has_ep && b->ep.first_t < 0)
            b->ep.void_ep = true;
        if (b->atk != NULL && !b->atk->done) {
            b->atk->done = true;
            b->ep.end_t = t;
        }
    }
    if (a == A_DEFER && c->attack)
        c->aborted = true; /* the spam tool drops the message and comes back later */
}

/* msg_end - the message is done: episode accounting, then the lane goes back to the
 * ready ring if it has more in this epoch. */
static void msg_end(struct sim_run *r, struct sim_conn *c)
{
    struct sim_box *b = c->box;
    struct sim_ep *e = &b->ep;
    bool held = c->n[A_HOLD] > 0;

    if (c->episode) {
        e->msgs++;
        e->attempted += c->next;
        e->accepted += c->n[A_DUNNO];
        e->deferred += c->n[A_DEFER];
        if (held) {
            e->held_rcpt += c->n[A_DUNNO] + c->n[A_HOLD];
        } else {
            e->leaked_total += c->n[A_DUNNO];
            if (c->pre_contain)
                e->leaked_before += c->n[A_DUNNO];
        }
    }
    if (c->attack && !b->atk->done) {
        attack_after(b, c->msg.t, c->n[A_DEFER] > 0);
        if (b->atk->done)
            e->end_t = b->atk->end;
    }
    c->box = NULL;
    if (lane_peek(r, b) < r->epoch_end)
        ready_push(r, b);
}

/* ---- requests ------------------------------------------------------------------------ */

/* req_build - one request of Postfix 3.x's attribute set, with policyd_time. */
static size_t req_build(const struct sim_run *r, struct sim_conn *c, bool eom)
{
    const struct sim_box *b = c->box;
    const struct sim_net *n = &c->msg.net;
    char rcpt[128] = "", user[96], ip[24];
    double t = c->msg.t + (eom ? c->nrcpt * SIM_RCPT_GAP + 1 : c->next * SIM_RCPT_GAP);
    uint32_t accepted = c->n[A_DUNNO] + c->n[A_HOLD];
    int len;

    if (!eom || accepted == 1)
        rcpt_format(r, b, &c->rcpt[eom ? 0 : c->next], rcpt, sizeof(rcpt));
    box_name(b, user, sizeof(user));
    snprintf(ip, sizeof(ip), "%u.%u.%u.%u", n->net >> 16, (n->net >> 8) & 255, n->net & 255,
             n->host);
    len = snprintf(c->wbuf, sizeof(c->wbuf),
                   "request=smtpd_access_policy\nprotocol_state=%s\nprotocol_name=ESMTP\n"
                   "client_address=%s\nclient_name=unknown\nclient_port=%u\n"
                   "reverse_client_name=unknown\nserver_address=192.0.2.1\nserver_port=587\n"
                   "helo_name=%s\nsender=%s\nrecipient=%s\nrecipient_count=%u\n"
                   "queue_id=%s%s\ninstance=%s\nsize=%u\nsasl_method=PLAIN\n"
                   "sasl_username=%s\nsasl_sender=\nencryption_protocol=TLSv1.3\n"
                   "policy_context=\npolicyd_time=%.3f\n\n",
                   eom ? "END-OF-MESSAGE" : "RCPT", ip, 1024 + (unsigned)(mix64(c->msg.t) % 60000),
                   c->attack ? "User" : "ws.lan", c->sender, rcpt, eom ? accepted : 0,
                   c->next > 0 || eom ? "Q" : "", c->next > 0 || eom ? c->inst : "", c->inst,
                   (unsigned)(20000 + mix64(b->nmsg) % 200000), user, SIM_T0 + t);
    return len < 0 ? 0 : (size_t)len < sizeof(c->wbuf) ? (size_t)len : sizeof(c->wbuf) - 1;
}

static void sim_fail(struct sim_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sim_fail(struct sim_run *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("simulate: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    r->failed = true;
    sim_stop(r);
}

static void on_write(uv_write_t *req, int status)
{
    struct sim_conn *c = req->data;

    c->writing = false;
    if (status < 0) {
        if (status != UV_ECANCELED)
            sim_fail(c->run, "write: %s", uv_strerror(status));
    } else if (c->resume) {
        c->resume = false;
        conn_pump(c);
    }
}

static void conn_send(struct sim_conn *c, bool eom)
{
    uv_buf_t buf = uv_buf_init(c->wbuf, (unsigned)req_build(c->run, c, eom));
    int n;

    c->state = CS_BUSY;
    c->sent_ns = uv_hrtime();
    c->run->requests++;
    n = uv_try_write(&c->io.s, &buf, 1);
    if (n == (int)buf.len)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        sim_fail(c->run, "write: %s", uv_strerror(n));
        return;
    }
    n = n < 0 ? 0 : n;
    buf = uv_buf_init(c->wbuf + n, buf.len - (unsigned)n);
    if (uv_write(&c->wreq, &c->io.s, &buf, 1, on_write) < 0)
        sim_fail(c->run, "write failed");
    else
        c->writing = true;
}

/* conn_pump - give the connection its next request: the next RCPT of its message, the
 * message's END-OF-MESSAGE, or the first RCPT of the next lane's message. */
static void conn_pump(struct sim_conn *c)
{
    struct sim_run *r = c->run;
    struct sim_box *b;

    while (!r->finished) {
        if (c->box != NULL) {
            if (!c->aborted && c->next < c->nrcpt) {
                conn_send(c, false);
                c->next++;
                return;
            }
            if (r->o.eom && !c->aborted && !c->eom_done &&
                c->n[A_DUNNO] + c->n[A_HOLD] > 0) {
                c->eom_done = true;
                conn_send(c, true);
                return;
            }
            msg_end(r, c);
            continue;
        }
        if ((b = ready_pop(r)) == NULL) {
            c->state = CS_IDLE;
            r->idle++;
            if (r->idle == r->o.conns)
                epoch_advance(r);
            return;
        }
        msg_begin(r, c, b);
    }
}

static enum sim_act reply_action(const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len, *nl;

    for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1) {
        if (nl - p < 7 || memcmp(p, "action=", 7) != 0)
            continue;
        p += 7;
        if (strncmp(p, "DUNNO", 5) == 0)
            return A_DUNNO;
        if (strncmp(p, "HOLD", 4) == 0)
            return A_HOLD;
        if (strncmp(p, "REJECT", 6) == 0)
            return A_REJECT;
        if (strncmp(p, "DEFER", 5) == 0)
            return A_DEFER;
        return A_OTHER;
    }
    return A_COUNT;
}

/* conn_reply - a whole reply: account for it, then the next request. */
static void conn_reply(struct sim_conn *c, size_t end)
{
    struct sim_run *r = c->run;
    enum sim_act a = reply_action(c->rbuf, end);

    if (end != c->rlen || a == A_COUNT) {
        sim_fail(r, "protocol error: unexpected reply \"%.*s\"", (int)c->rlen, c->rbuf);
        return;
    }
    c->rlen = 0;
    r->acts[a]++;
    if (!c->eom_done)
        msg_reply(r, c, a);
    if (c->writing)
        c->resume = true;
    else
        conn_pump(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct sim_conn *c = h->data;

    (void)hint;
    *buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(SIM_MAX_REPLY - c->rlen));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct sim_conn *c = s->data;
    const char *e;

    (void)buf;
    if (nread < 0) {
        sim_fail(c->run, "connection closed by policyd: %s", uv_strerror((int)nread));
        return;
    }
    c->rlen += (size_t)nread;
    e = memmem(c->rbuf, c->rlen, "\n\n", 2);
    if (e != NULL)
        conn_reply(c, (size_t)(e - c->rbuf) + 2);
    else if (c->rlen == SIM_MAX_REPLY)
        sim_fail(c->run, "protocol error: overlong reply");
}

static void on_connect(uv_connect_t *req, int status)
{
    struct sim_conn *c = req->data;
    struct sim_run *r = c->run;

    if (status < 0) {
        sim_fail(r, "connect: %s", uv_strerror(status));
        return;
    }
    uv_read_start(&c->io.s, on_alloc, on_read);
    c->state = CS_IDLE;
    r->idle++;
    if (++r->connected == r->o.conns) {
        r->start_ns = uv_hrtime();
        epoch_advance(r);
    }
}

static void on_close_any(uv_handle_t *h)
{
    (void)h;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, on_close_any);
}

static void sim_stop(struct sim_run *r)
{
    if (r->finished)
        return;
    r->finished = true;
    uv_walk(r->loop, close_walk, NULL);
}

/* on_tick - a request unanswered for --timeout ms ends the run. */
static void on_tick(uv_timer_t *t)
{
    struct sim_run *r = t->data;
    uint64_t now = uv_hrtime(), limit = (uint64_t)r->o.timeout_ms * 1000000;
    uint32_t i;

    for (i = 0; i < r->o.conns; i++)
        if (r->conns[i].state == CS_BUSY && r->conns[i].box != NULL &&
            now - r->conns[i].sent_ns > limit) {
            sim_fail(r, "no reply within %u ms", r->o.timeout_ms);
            return;
        }
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    sim_fail(s->data, "interrupted");
}

static void sim_start(struct sim_run *r)
{
    uint32_t i;

    r->loop = uv_default_loop();
    uv_timer_init(r->loop, &r->tick);
    r->tick.data = r;
    uv_timer_start(&r->tick, on_tick, 1000, 1000);
    uv_signal_init(r->loop, &r->sigint);
    r->sigint.data = r;
    uv_signal_start(&r->sigint, on_signal, SIGINT);
    for (i = 0; i < r->o.conns; i++) {
        struct sim_conn *c = &r->conns[i];
        c->run = r;
        c->wreq.data = c;
        c->creq.data = c;
        c->state = CS_CONNECTING;
        if (r->o.unix_path != NULL) {
            uv_pipe_init(r->loop, &c->io.pipe, 0);
            c->io.h.data = c;
            uv_pipe_connect(&c->creq, &c->io.pipe, r->o.unix_path, on_connect);
        } else {
            uv_tcp_init(r->loop, &c->io.tcp);
            c->io.h.data = c;
            uv_tcp_nodelay(&c->io.tcp, 1);
            if (uv_tcp_connect(&c->creq, &c->io.tcp, (const struct sockaddr *)&r->addr,
                               on_connect) < 0)
                sim_fail(r, "connect failed");
        }
    }
}

/* ---- report -------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* pct - the p-quantile (nearest rank) of n sorted values. */
static double pct(const double *v, size_t n, double p)
{
    size_t k;

    if (n == 0)
        return NAN;
    k = (size_t)ceil(p * (double)n);
    return v[k > 0 ? k - 1 : 0];
}

static const char *fmt_dur(double s, char *buf, size_t len)
{
    if (isnan(s))
        snprintf(buf, len, "-");
    else if (isinf(s))
        snprintf(buf, len, "never");
    else if (s < 90)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 90 * 60)
        snprintf(buf, len, "%.1fm", s / 60);
    else
        snprintf(buf, len, "%.1fh", s / SIM_HOUR);
    return buf;
}

static const char *fmt_num(double x, char *buf, size_t len)
{
    if (isnan(x))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.0f", x);
    return buf;
}

/* The figures of one scenario, for the table and the targets. */
struct sim_row {
    uint32_t n, voids, contained, blocked, within24;
    double leak[3];      /* median, p90, max of recipients leaked before containment */
    double tcont[2], tblock[2]; /* median, p90 */
    double leak_total_med;
};

static void row_compute(const struct sim_run *r, int scen, struct sim_row *w)
{
    double *leak = xrealloc(NULL, (r->nbox + 1) * sizeof(double));
    double *tc = xrealloc(NULL, (r->nbox + 1) * sizeof(double));
    double *tb = xrealloc(NULL, (r->nbox + 1) * sizeof(double));
    double *lt = xrealloc(NULL, (r->nbox + 1) * sizeof(double));
    uint32_t i;

    memset(w, 0, sizeof(*w));
    for (i = 0; i < r->nbox; i++) {
        const struct sim_box *b = &r->box[i];
        const struct sim_ep *e = &b->ep;
        if (b->scen != scen)
            continue;
        if (e->void_ep || e->first_t < 0) {
            w->voids++;
            continue;
        }
        leak[w->n] = e->leaked_before;
        lt[w->n] = e->leaked_total;
        tc[w->n] = e->contain_t >= 0 ? e->contain_t - e->first_t : INFINITY;
        tb[w->n] = e->block_t >= 0 ? e->block_t - e->first_t : INFINITY;
        w->contained += e->contain_t >= 0;
        w->blocked += e->block_t >= 0;
        w->within24 += e->contain_t >= 0 && e->contain_t - e->first_t <= SIM_DAY;
        w->n++;
    }
    qsort(leak, w->n, sizeof(double), cmp_double);
    qsort(lt, w->n, sizeof(double), cmp_double);
    qsort(tc, w->n, sizeof(double), cmp_double);
    qsort(tb, w->n, sizeof(double), cmp_double);
    w->leak[0] = pct(leak, w->n, 0.5);
    w->leak[1] = pct(leak, w->n, 0.9);
    w->leak[2] = w->n > 0 ? leak[w->n - 1] : NAN;
    w->leak_total_med = pct(lt, w->n, 0.5);
    w->tcont[0] = pct(tc, w->n, 0.5);
    w->tcont[1] = pct(tc, w->n, 0.9);
    w->tblock[0] = pct(tb, w->n, 0.5);
    w->tblock[1] = pct(tb, w->n, 0.9);
    free(leak);
    free(tc);
    free(tb);
    free(lt);
}

static double share(uint32_t a, uint32_t n)
{
    return n > 0 ? 100.0 * a / n : NAN;
}

static void report_episodes(const struct sim_run *r, struct sim_row rows[SC_COUNT])
{
    char b[8][16];
    int s;

    for (s = 0; s < SC_COUNT; s++)
        row_compute(r, s, &rows[s]);
    printf("\nAttack scenarios (times from the first attack recipient; leaked = accepted and "
           "not held)\n");
    printf("%-31s %4s %9s %8s %9s | %-18s | %-15s | %-15s | %s\n", "scenario", "N", "contained",
           "blocked", "cont<=24h", "leaked before cont", "time to contain", "time to block",
           "leaked");
    printf("%-31s %4s %9s %8s %9s | %5s %5s %6s | %7s %7s | %7s %7s | %s\n", "", "", "", "", "",
           "med", "p90", "max", "med", "p90", "med", "p90", "in all, med");
    for (s = 0; s < SC_NATTACK; s++) {
        const struct sim_row *w = &rows[s];
        printf("%-31s %4u %8.1f%% %7.1f%% %8.1f%% | %5s %5s %6s | %7s %7s | %7s %7s | %s\n",
               sim_scen_names[s], w->n, share(w->contained, w->n), share(w->blocked, w->n),
               share(w->within24, w->n), fmt_num(w->leak[0], b[0], 16),
               fmt_num(w->leak[1], b[1], 16), fmt_num(w->leak[2], b[2], 16),
               fmt_dur(w->tcont[0], b[3], 16), fmt_dur(w->tcont[1], b[4], 16),
               fmt_dur(w->tblock[0], b[5], 16), fmt_dur(w->tblock[1], b[6], 16),
               fmt_num(w->leak_total_med, b[7], 16));
        if (w->voids > 0)
            printf("%-31s      (%u more episodes void: blocked before they began)\n", "",
                   w->voids);
    }
    printf("\nBenign stress (the owner's own mail; held is acceptable, blocked is not)\n");
    printf("%-31s %4s %9s %8s | %-25s | %s\n", "scenario", "N", "held", "blocked",
           "recipients before the hold", "time to hold");
    printf("%-31s %4s %9s %8s | %7s %7s %9s | %7s %7s\n", "", "", "", "", "med", "p90", "max",
           "med", "p90");
    for (s = SC_NEWSLETTER; s < SC_COUNT; s++) {
        const struct sim_row *w = &rows[s];
        printf("%-31s %4u %8.1f%% %7.1f%% | %7s %7s %9s | %7s %7s\n", sim_scen_names[s], w->n,
               share(w->contained, w->n), share(w->blocked, w->n), fmt_num(w->leak[0], b[0], 16),
               fmt_num(w->leak[1], b[1], 16), fmt_num(w->leak[2], b[2], 16),
               fmt_dur(w->tcont[0], b[3], 16), fmt_dur(w->tcont[1], b[4], 16));
    }
    printf("  (new employee: all of the newcomer's mail from the first day; a hello-everyone "
           "mail to the company on one of the first days for half of them)\n");
}

/* report_detail - every attack episode that was not blocked, and every benign stress
 * episode that was blocked, one line each (--detail). */
static void report_detail(const struct sim_run *r)
{
    char b[4][16];
    uint32_t i;

    printf("\nEpisodes not blocked (attacks) or blocked (benign stress)\n");
    for (i = 0; i < r->nbox; i++) {
        const struct sim_box *x = &r->box[i];
        const struct sim_ep *e = &x->ep;
        bool attack = x->scen < SC_NATTACK;
        if (!x->has_ep || e->first_t < 0 || (attack == (e->block_t >= 0)))
            continue;
        printf("  %.1s u%-6u %-8s rate %5.1f book %4u web %.1f%s | from day %d %s | sent %u "
               "accepted %u held %u deferred %u leaked %u | contain %s block %s\n",
               sim_scen_names[x->scen], x->id, sim_class_names[x->cls], x->rate, x->nbook,
               x->webmail_share, x->mobile ? " mobile" : "", t_day(e->first_t),
               fmt_dur(fmod(e->first_t, SIM_DAY), b[0], 16), e->attempted, e->accepted,
               e->held_rcpt, e->deferred, e->leaked_total,
               fmt_dur(e->contain_t >= 0 ? e->contain_t - e->first_t : INFINITY, b[1], 16),
               fmt_dur(e->block_t >= 0 ? e->block_t - e->first_t : INFINITY, b[2], 16));
    }
}

/* A group of user-days for the false-positive table. */
struct sim_fp {
    const char *name;
    uint32_t boxes;
    uint64_t days, hold_days, blocks, defer_days;
};

static void fp_add(struct sim_fp *f, const struct sim_box *b, int from, int to, bool trip_only)
{
    int d, n = 0;

    for (d = from; d < to; d++) {
        if (trip_only && !bit_get(b->trip_days, d))
            continue;
        if (b->block_day >= 0 && d > b->block_day)
            break;
        n++;
        f->days++;
        f->hold_days += bit_get(b->held_days, d);
        f->defer_days += bit_get(b->defer_days, d);
        f->blocks += d == b->block_day;
    }
    f->boxes += n > 0;
}

static void fp_print(const struct sim_fp *f)
{
    double k = f->days > 0 ? 10000.0 / (double)f->days : NAN;

    printf("%-26s %9u %10llu %8.2f %8.2f %8.2f   (%llu blocks, %llu hold-days)\n", f->name,
           f->boxes, (unsigned long long)f->days, (double)f->blocks * k,
           (double)f->hold_days * k, (double)f->defer_days * k,
           (unsigned long long)f->blocks, (unsigned long long)f->hold_days);
}

static void report_fp(const struct sim_run *r, struct sim_fp *all)
{
    struct sim_fp cls[CL_BULK + 1], attr[6], learn = {"learning period, everyone", 0, 0, 0, 0, 0};
    struct sim_fp hires = {"new employees, own days", 0, 0, 0, 0, 0};
    static const char *const attr_names[6] = {"  mobile users", "  outreach users",
                                              "  sender alias users", "  webmail >= 30%",
                                              "  travelling (trip days)", "  home line"};
    uint32_t i;
    int c, k;

    memset(cls, 0, sizeof(cls));
    memset(attr, 0, sizeof(attr));
    for (c = 0; c <= CL_BULK; c++)
        cls[c].name = sim_class_names[c];
    for (k = 0; k < 6; k++)
        attr[k].name = attr_names[k];
    memset(all, 0, sizeof(*all));
    all->name = "all";
    for (i = 0; i < r->nbox; i++) {
        const struct sim_box *b = &r->box[i];
        int to = r->days; /* victims and stress senders: the days before their episode */
        if (b->cls == CL_NEWHIRE) {
            fp_add(&hires, b, b->start_day, r->days, false);
            continue;
        }
        fp_add(&learn, b, 0, r->learn, false);
        if (b->has_ep && b->ep.first_t >= 0)
            to = t_day(b->ep.first_t);
        fp_add(&cls[b->cls], b, r->learn, to, false);
        fp_add(all, b, r->learn, to, false);
        if (b->mobile)
            fp_add(&attr[0], b, r->learn, to, false);
        if (b->outreach)
            fp_add(&attr[1], b, r->learn, to, false);
        if (b->alias)
            fp_add(&attr[2], b, r->learn, to, false);
        if (b->webmail_share >= 0.3f)
            fp_add(&attr[3], b, r->learn, to, false);
        fp_add(&attr[4], b, r->learn, to, true);
        if (b->has_home)
            fp_add(&attr[5], b, r->learn, to, false);
    }
    printf("\nAttack-free traffic, evaluation days (victims and stress senders until their "
           "episode's day): wrongful actions per 10,000 user-days\n");
    printf("%-26s %9s %10s %8s %8s %8s\n", "class", "mailboxes", "user-days", "BLOCK", "HOLD",
           "DEFER");
    for (c = 0; c <= CL_BULK; c++)
        fp_print(&cls[c]);
    fp_print(all);
    for (k = 0; k < 6; k++)
        fp_print(&attr[k]);
    fp_print(&learn);
    fp_print(&hires);
}

/* ---- the log join (--log) ------------------------------------------------------------ */

struct sim_combo {
    uint8_t cat, scen;
    uint32_t n;
    char rules[160];
};

struct sim_combos {
    struct sim_combo *v;
    size_t n, cap;
};

/* rules_ids - "NET-1(+1) new net; NOV-1(+3) ..." -> "NET-1+NOV-1". */
static void rules_ids(const char *p, size_t len, char *out, size_t outlen)
{
    size_t o = 0, i = 0;

    out[0] = '\0';
    while (i < len) {
        size_t s = i;
        while (i < len && p[i] != '(' && p[i] != ';' && p[i] != ' ')
            i++;
        if (i > s && o + (i - s) + 2 < outlen) {
            if (o > 0)
                out[o++] = '+';
            memcpy(out + o, p + s, i - s);
            o += i - s;
            out[o] = '\0';
        }
        while (i < len && !(p[i] == ';' && i + 1 < len && p[i + 1] == ' '))
            i++;
        i += 2;
    }
}

static void combo_add(struct sim_combos *cs, uint8_t cat, uint8_t scen, const char *rules)
{
    size_t i;

    for (i = 0; i < cs->n; i++)
        if (cs->v[i].cat == cat && cs->v[i].scen == scen && strcmp(cs->v[i].rules, rules) == 0) {
            cs->v[i].n++;
            return;
        }
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? 2 * cs->cap : 64;
        cs->v = xrealloc(cs->v, cs->cap * sizeof(*cs->v));
    }
    cs->v[cs->n].cat = cat;
    cs->v[cs->n].scen = scen;
    cs->v[cs->n].n = 1;
    snprintf(cs->v[cs->n++].rules, sizeof(cs->v[0].rules), "%s", rules);
}

static int combo_cmp(const void *a, const void *b)
{
    const struct sim_combo *x = a, *y = b;

    if (x->cat != y->cat)
        return x->cat - y->cat;
    if (x->scen != y->scen)
        return x->scen - y->scen;
    return x->n > y->n ? -1 : x->n < y->n;
}

/* log_line - one verdict=HOLD/BLOCK line: whose, which rules; its tag is the lane's next. */
static void log_line(struct sim_run *r, const char *ln, struct sim_combos *cs, uint32_t *blocks,
                     uint64_t *unmatched)
{
    const char *u = strstr(ln, " user=u"), *ru = strstr(ln, " rules=\""), *q;
    char ids[160];
    unsigned id;
    struct sim_box *b;
    uint8_t tag;

    if (u == NULL || sscanf(u + 7, "%u@", &id) != 1 || id >= r->nbox) {
        (*unmatched)++;
        return;
    }
    b = &r->box[id];
    if (b->tagpos >= b->ntags) {
        (*unmatched)++;
        return;
    }
    tag = b->tags[b->tagpos++];
    if (tag == TG_SKIP || ru == NULL || (q = strchr(ru + 8, '"')) == NULL)
        return;
    rules_ids(ru + 8, (size_t)(q - ru - 8), ids, sizeof(ids));
    combo_add(cs, tag, tag == TG_CONTAIN || tag == TG_BLOCK ? b->scen : SC_NONE, ids);
    if ((tag == TG_FP_BLOCK || tag == TG_LEARN_BLOCK) && (*blocks)++ < SIM_LIST_BLOCKS)
        printf("  wrongful BLOCK on day %d: u%u (%s%s%s%s%s), rules %s\n", b->block_day, b->id,
               sim_class_names[b->cls], b->mobile ? ", mobile" : "",
               b->alias ? ", sender alias" : "", b->outreach ? ", outreach" : "",
               bit_get(b->trip_days, b->block_day) ? ", travelling" : "", ids);
}

/* log_settle - wait until policyd's filtered log stops growing (its last lines pass a
 * pipe and grep after our last reply). */
static void log_settle(const char *path)
{
    struct timespec ts = {0, 100000000};
    struct stat st;
    off_t last = -1;
    int i, same = 0;

    for (i = 0; i < 100 && same < 3; i++) {
        if (stat(path, &st) != 0)
            return;
        same = st.st_size == last ? same + 1 : 0;
        last = st.st_size;
        nanosleep(&ts, NULL);
    }
}

static void report_log(struct sim_run *r)
{
    static const char *const cat_names[TG_COUNT] = {
        "", "wrongful HOLD (first of its day)", "wrongful BLOCK",
        "HOLD while learning (first of its day)", "BLOCK while learning",
        "first containment", "BLOCK after containment"};
    FILE *f;
    struct sim_combos cs = {NULL, 0, 0};
    char *line = NULL;
    size_t cap = 0, i, shown = 0;
    uint32_t blocks = 0;
    uint64_t unmatched = 0, fails = 0;
    char why[8][32];
    uint64_t whyn[8] = {0};
    int cat = -1, scen = -1, nwhy = 0, w;

    log_settle(r->o.log);
    if ((f = fopen(r->o.log, "r")) == NULL) {
        printf("\n(policyd log %s: cannot open)\n", r->o.log);
        return;
    }
    printf("\nRules behind the actions (policyd log)\n");
    while (getline(&line, &cap, f) > 0) {
        if (strstr(line, " verdict=FAIL") != NULL) {
            const char *rz = strstr(line, " redis=");
            char reason[32] = "?";
            fails++;
            if (rz != NULL)
                sscanf(rz + 7, "%31s", reason);
            for (w = 0; w < nwhy && strcmp(why[w], reason) != 0; w++)
                ;
            if (w == nwhy && nwhy < 8)
                snprintf(why[nwhy++], sizeof(why[0]), "%s", reason);
            if (w < nwhy)
                whyn[w]++;
        }
        else if (strstr(line, " verdict=HOLD ") != NULL || strstr(line, " verdict=BLOCK ") != NULL)
            log_line(r, line, &cs, &blocks, &unmatched);
    }
    free(line);
    fclose(f);
    qsort(cs.v, cs.n, sizeof(*cs.v), combo_cmp);
    for (i = 0; i < cs.n; i++) {
        const struct sim_combo *c = &cs.v[i];
        if (c->cat != cat || c->scen != scen) {
            cat = c->cat, scen = c->scen, shown = 0;
            printf("  %s%s%s:\n", cat_names[cat], scen < SC_COUNT ? ", " : "",
                   scen < SC_COUNT ? sim_scen_names[scen] : "");
        }
        if (shown++ < SIM_TOP_RULES)
            printf("    %6u  %s\n", c->n, c->rules);
    }
    if (unmatched > 0 || fails > 0)
        printf("  (%llu log lines not matched to a reply; %llu requests answered with "
               "redis_fail_action)\n",
               (unsigned long long)unmatched, (unsigned long long)fails);
    for (w = 0; w < nwhy; w++)
        printf("  (redis_fail_action: %llu x redis=%s)\n", (unsigned long long)whyn[w], why[w]);
    free(cs.v);
}

/* report_targets - the issue's targets, met or missed. */
static void report_targets(const struct sim_row rows[SC_COUNT], const struct sim_fp *all)
{
    const struct sim_row *a = &rows[SC_BURST], *bc = &rows[SC_CONTACTS];
    const struct sim_row *c = &rows[SC_SLOW_GLOBAL], *d = &rows[SC_SLOW_LOCAL];
    const struct sim_row *l = &rows[SC_NEWSLETTER];
    double k = all->days > 0 ? 10000.0 / (double)all->days : NAN;
    struct {
        const char *what;
        bool ok;
        char got[64];
    } t[8];
    int n = 0, i;

#define TARGET(w, cond, ...)                                                                 \
    do {                                                                                     \
        t[n].what = (w);                                                                     \
        t[n].ok = (cond);                                                                    \
        snprintf(t[n].got, sizeof(t[n].got), __VA_ARGS__);                                   \
        n++;                                                                                 \
    } while (0)
    TARGET("burst: >= 99.5% blocked", share(a->blocked, a->n) >= 99.5, "%.1f%%",
           share(a->blocked, a->n));
    TARGET("burst: median <= 20 recipients leaked", a->leak[0] <= 20, "%.0f", a->leak[0]);
    TARGET("burst: median time to block <= 2 min", a->tblock[0] <= 120, "%.0f s", a->tblock[0]);
    TARGET("contact-list scam: >= 90% contained", share(bc->contained, bc->n) >= 90, "%.1f%%",
           share(bc->contained, bc->n));
    TARGET("slow+low global: >= 85% contained in 24 h", share(c->within24, c->n) >= 85,
           "%.1f%%", share(c->within24, c->n));
    TARGET("slow+low domestic: >= 85% contained in 24 h", share(d->within24, d->n) >= 85,
           "%.1f%%", share(d->within24, d->n));
    TARGET("wrongful BLOCKs <= 0.5 per 10k user-days", (double)all->blocks * k <= 0.5,
           "%.2f", (double)all->blocks * k);
    TARGET("wrongful HOLDs <= 5 per 10k user-days", (double)all->hold_days * k <= 5, "%.2f",
           (double)all->hold_days * k);
#undef TARGET
    printf("\nTargets (issue 8)\n");
    for (i = 0; i < n; i++)
        printf("  %-4s %-46s %s\n", t[i].ok ? "MET" : "MISS", t[i].what, t[i].got);
    printf("  %-4s %-46s %u of %u blocked\n", l->blocked == 0 ? "MET" : "MISS",
           "first newsletter from the office never BLOCKed", l->blocked, l->n);
}

static void report(struct sim_run *r)
{
    double secs = (double)(uv_hrtime() - r->start_ns) / 1e9;
    struct sim_row rows[SC_COUNT];
    struct sim_fp all;
    int a;

    printf("policyd traffic simulation: seed %llu, %u mailboxes in %u domains (+%u new "
           "employees), %u learning + %u evaluation days\n",
           (unsigned long long)r->o.seed, r->npop, r->ndom, r->nbox - r->npop, r->o.learn_days,
           r->o.eval_days);
    printf("replayed %llu requests (%llu messages) in %.0f s, %.0f requests/s over %u "
           "connections; replies:",
           (unsigned long long)r->requests, (unsigned long long)r->msgs, secs,
           secs > 0 ? r->requests / secs : 0.0, r->o.conns);
    for (a = 0; a < A_COUNT; a++)
        if (r->acts[a] > 0)
            printf(" %s=%llu", sim_act_names[a], (unsigned long long)r->acts[a]);
    printf("\n");
    if (r->acts[A_OTHER] > 0)
        printf("WARNING: %llu replies were neither DUNNO, HOLD, REJECT nor DEFER (Redis "
               "unavailable?): the figures below undercount\n",
               (unsigned long long)r->acts[A_OTHER]);
    report_episodes(r, rows);
    if (r->o.detail)
        report_detail(r);
    report_fp(r, &all);
    if (r->o.log != NULL)
        report_log(r);
    report_targets(rows, &all);
}

/* ---- overrides ----------------------------------------------------------------------- */

/* write_overrides - the bulk senders as a provider would register them. */
static int write_overrides(const struct sim_run *r)
{
    FILE *f = fopen(r->o.overrides, "w");
    char name[96];
    uint32_t i, n = 0;

    if (f == NULL) {
        perror(r->o.overrides);
        return 1;
    }
    fprintf(f, "# written by simulate --write-overrides (seed %llu, %u mailboxes): the bulk\n"
               "# senders, registered as newsletter accounts\n",
            (unsigned long long)r->o.seed, r->o.mailboxes);
    for (i = 0; i < r->npop; i++)
        if (r->box[i].cls == CL_BULK) {
            box_name(&r->box[i], name, sizeof(name));
            fprintf(f, "%s profile=bulk rcpt_hour=2000 rcpt_day=5000\n", name);
            n++;
        }
    if (fclose(f) != 0) {
        perror(r->o.overrides);
        return 1;
    }
    fprintf(stderr, "simulate: %u bulk senders written to %s\n", n, r->o.overrides);
    return 0;
}

/* ---- options ------------------------------------------------------------------------- */

enum sim_otype { OT_STR, OT_U32, OT_U64, OT_DBL, OT_FLAG };

static const struct sim_optdef {
    const char *name;
    int key;
    enum sim_otype type;
    size_t off;
    double min, max;
} sim_optdefs[] = {
#define O(f) offsetof(struct sim_opts, f)
    {"tcp", 't', OT_STR, O(tcp), 0, 0},
    {"unix", 'u', OT_STR, O(unix_path), 0, 0},
    {"connections", 'c', OT_U32, O(conns), 1, SIM_MAX_CONNS},
    {"mailboxes", 256, OT_U32, O(mailboxes), 10, 1000000},
    {"learn-days", 257, OT_U32, O(learn_days), 1, 100},
    {"eval-days", 258, OT_U32, O(eval_days), 7, 27},
    {"episodes", 259, OT_U32, O(episodes), 0, 100000},
    {"stress", 260, OT_U32, O(stress), 0, 100000},
    {"seed", 261, OT_U64, O(seed), 0, 1e18},
    {"epoch", 262, OT_DBL, O(epoch), 60, 86400},
    {"cgnat-pool", 263, OT_U32, O(cgnat_pool), 1, 65536},
    {"home-churn", 264, OT_DBL, O(home_churn), 0, 1},
    {"eom", 265, OT_FLAG, O(eom), 0, 0},
    {"log", 266, OT_STR, O(log), 0, 0},
    {"timeout", 267, OT_U32, O(timeout_ms), 100, 600000},
    {"quiet", 'q', OT_FLAG, O(quiet), 0, 0},
    {"write-overrides", 268, OT_STR, O(overrides), 0, 0},
    {"detail", 269, OT_FLAG, O(detail), 0, 0},
#undef O
};
#define SIM_NOPTS (sizeof(sim_optdefs) / sizeof(sim_optdefs[0]))

static void sim_usage(void)
{
    size_t i;

    fputs("usage: simulate (-t HOST:PORT | -u PATH) [options]\n"
          "       simulate --write-overrides FILE [population options]\noptions:",
          stderr);
    for (i = 0; i < SIM_NOPTS; i++)
        fprintf(stderr, "%s --%s", i % 6 ? "" : "\n ", sim_optdefs[i].name);
    fputs("\nsee docs/SIMULATOR.md\n", stderr);
    exit(2);
}

static int opt_set(struct sim_opts *o, const struct sim_optdef *d, const char *arg)
{
    char *f = (char *)o + d->off, *end;
    double v;

    if (d->type == OT_STR)
        memcpy(f, &arg, sizeof(arg));
    else if (d->type == OT_FLAG)
        *(bool *)f = true;
    if (d->type == OT_STR || d->type == OT_FLAG)
        return 0;
    v = strtod(arg, &end);
    if (end == arg || *end != '\0' || !(v >= d->min && v <= d->max))
        return -1;
    if (d->type == OT_U32)
        *(uint32_t *)f = (uint32_t)v;
    else if (d->type == OT_U64)
        *(uint64_t *)f = (uint64_t)v;
    else
        *(double *)f = v;
    return 0;
}

static void opt_parse(struct sim_opts *o, int argc, char **argv)
{
    struct option lo[SIM_NOPTS + 2] = {{"help", no_argument, NULL, 'h'}};
    size_t i;
    int key;

    *o = (struct sim_opts){.conns = 64, .mailboxes = 2000, .learn_days = 28, .eval_days = 14,
                           .episodes = 100, .stress = 50, .seed = 1, .epoch = 3600,
                           .cgnat_pool = 256, .home_churn = 0.03, .timeout_ms = 30000};
    for (i = 0; i < SIM_NOPTS; i++)
        lo[i + 1] = (struct option){sim_optdefs[i].name,
                                    sim_optdefs[i].type == OT_FLAG ? no_argument
                                                                   : required_argument,
                                    NULL, sim_optdefs[i].key};
    while ((key = getopt_long(argc, argv, "t:u:c:qh", lo, NULL)) != -1) {
        for (i = 0; i < SIM_NOPTS && sim_optdefs[i].key != key; i++)
            ;
        if (i == SIM_NOPTS)
            sim_usage();
        if (opt_set(o, &sim_optdefs[i], optarg) < 0) {
            fprintf(stderr, "simulate: --%s: bad value '%s' (%g..%g)\n", sim_optdefs[i].name,
                    optarg, sim_optdefs[i].min, sim_optdefs[i].max);
            exit(2);
        }
    }
    if (optind != argc || (o->overrides == NULL && !o->tcp == !o->unix_path))
        sim_usage();
    if (o->learn_days + o->eval_days > SIM_MAX_DAYS) {
        fprintf(stderr, "simulate: at most %d days\n", SIM_MAX_DAYS);
        exit(2);
    }
}

/* sim_target - HOST:PORT with a numeric loopback address (no DNS). */
static int sim_target(struct sim_run *r, const char *arg)
{
    char host[64], *end;
    const char *colon = strrchr(arg, ':');
    size_t hl = colon ? (size_t)(colon - arg) : 0;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    struct sockaddr_in *sin = (struct sockaddr_in *)&r->addr;

    if (!colon || end == colon + 1 || *end || port < 1 || port > 65535 || hl >= sizeof(host))
        return -1;
    memcpy(host, arg, hl);
    host[hl] = '\0';
    if (uv_ip4_addr(host, (int)port, sin) != 0 || (ntohl(sin->sin_addr.s_addr) >> 24) != 127)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    static struct sim_run run;
    struct sim_run *r = &run;
    uint32_t i;
    int rc;

    opt_parse(&r->o, argc, argv);
    r->learn = (int)r->o.learn_days;
    r->days = (int)(r->o.learn_days + r->o.eval_days);
    r->end_t = r->days * SIM_DAY;
    r->day_shown = -1;
    pop_build(r);
    if (r->o.overrides != NULL)
        return write_overrides(r);
    if (r->o.tcp != NULL && sim_target(r, r->o.tcp) < 0) {
        fprintf(stderr, "simulate: -t %s: want 127.x.x.x:PORT\n", r->o.tcp);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    r->conns = calloc(r->o.conns, sizeof(*r->conns));
    r->ready = calloc(r->nbox, sizeof(*r->ready));
    if (r->conns == NULL || r->ready == NULL)
        return 1;
    sim_start(r);
    uv_run(r->loop, UV_RUN_DEFAULT);
    if ((rc = uv_loop_close(r->loop)) != 0)
        fprintf(stderr, "simulate: uv_loop_close: %s\n", uv_strerror(rc));
    if (!r->failed)
        report(r);
    for (i = 0; i < r->nbox; i++) {
        free(r->box[i].book);
        free(r->box[i].plan);
        free(r->box[i].tags);
        if (r->box[i].atk != NULL)
            free(r->box[i].atk->order);
        free(r->box[i].atk);
    }
    free(r->box);
    free(r->dom);
    free(r->conns);
    free(r->ready);
    return r->failed ? 1 : 0;
}
