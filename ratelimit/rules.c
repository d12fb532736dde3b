/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      rules - the detection rule engine: signals and settings in, a verdict out
 * SYNOPSIS
 *      rules_params_defaults(&params)
 *      rules_eval(&signals, &input, &verdict)
 *      rules_format_evidence(&verdict, buf, len); rules_format_families(mask, buf, len)
 *      rules_fired_has(&verdict, id)
 *      rules_action_name(a); rules_family_name(f); rules_profile_name(p)
 *      rules_strerror(err)
 * DESCRIPTION
 *      Explainable additive points in families (research/detection.md section 3): every
 *      rule that fires adds its points to its family, a family is capped, and the score is
 *      the sum. The verdict climbs a ladder:
 *
 *        any tripwire                                              BLOCK
 *        score >= block_score from >= min_families families, with
 *              evidence of a third party: ID-1 on at least
 *              id1_block_pct % of the hour's recipients, not
 *              from a long-known network, or NET-1 on a
 *              request to a never-mailed recipient at a never-
 *              mailed domain or NET-3 (rotation), while the
 *              mailbox writes to strangers                        BLOCK
 *        score >= hold_score from >= min_families families         HOLD (WATCH if disabled)
 *        system profile and a never-seen network                   HOLD (WATCH if disabled)
 *        score >= watch_score                                      WATCH
 *        else                                                      PASS
 *
 *      So "sent a lot to new people" (a first newsletter) holds at most: BLOCK needs
 *      evidence of third-party access (a never-seen network or a foreign sender address).
 *
 *      "Writes to strangers": at least block_new_rcpt_1h never-mailed recipients in the
 *      last 60 min, and at least block_new_pct % of the hour's recipients (0 and 0: no
 *      such condition), in a mailbox first seen at least nov_min_days ago (before that,
 *      every recipient is a stranger to its young memory, and network evidence alone
 *      never blocks: only ID-1 and the tripwires do). Behind carrier-grade NAT a phone
 *      shows up from a new /24 every session, so network counts alone cannot tell the
 *      owner's phone from a proxy; what the owner's phone does not do is mail mostly
 *      strangers. NET-2 alone (never-seen networks elsewhere today) adds points but is
 *      never that evidence. So a heavy sender's phone churning through carrier addresses
 *      in a busy hour of known correspondents is held at most, while rotating proxies or
 *      a new network mailing strangers are blocked. NET-1 also needs the request itself to
 *      go to a stranger at a never-mailed domain (list spam), so the owner's phone writing
 *      to one new contact at a partner company in the hour of a first newsletter from the
 *      office does not count either.
 *
 *      Rules and points (thresholds are RULES_PARAMS rows, "rule_<field>" in policyd.conf):
 *        VOL-1 +2  rcpt_1h > max(vol1_floor, vol1_mult x busiest hour)
 *        VOL-2 +3  rcpt_1h > max(vol2_floor, vol2_mult x busiest hour), instead of VOL-1
 *        VOL-3 +2  rcpt_24h > max(vol3_floor, vol3_mult x busiest day)
 *        NOV-1 +3  never-mailed recipients in 60 min >= nov1_min and >= nov1_pct % of them
 *        NOV-2 +2  the same over 24 h (nov2_*)
 *        NOV-3 +1  never-mailed recipient domains in 60 min (nov3_*)
 *        NOV-4 +2  sustained novelty: never-mailed recipients in 24 h >= nov4_min and
 *                  >= nov4_pct % of them (slow list spam); NOV capped at nov_cap
 *        NET-1 +1  this request comes from a network the mailbox first used less than
 *                  net1_recent_hours ago (+probation_net1_points in probation)
 *        NET-2 +2  >= net2_nets_24h never-seen networks in 24 h
 *        NET-3 +3  >= net3_nets_1h never-seen networks in 60 min; NET capped at net_cap
 *        SHP-1 +1  recipients of this message >= max(shp1_floor, shp1_mult x largest message)
 *        SHP-2 +2  the same with shp2_*, instead of SHP-1; SHP capped at shp_cap
 *        ID-1  +3  >= id1_min recipients in 60 min with a sender not owned by the login
 *        TRIP-NET    >= trip_nets_1h never-seen networks and >= trip_nets_1h_rcpt
 *                    recipients in 60 min, unless a mature mailbox wrote mostly to
 *                    known correspondents in that hour: BLOCK
 *        TRIP-NET24  the same over 24 h (trip_nets_24h*), with at least block_new_pct %
 *                    of the day's recipients never mailed before: BLOCK
 *        SYS-NET     system profile, a never-seen network in 24 h: HOLD at least
 *
 *      Before the rules: an existing block record gives BLOCK with its reference and
 *      nothing is evaluated (rule BLOCKED); an exempt mailbox gives PASS. After them: a
 *      request the script refused over a cap gives DEFER (rule CAP-H, CAP-D, CAP-MH or
 *      CAP-MD), unless the rules say BLOCK, which wins.
 *
 *      Never-seen networks. The script never counts a mailbox's very first network as
 *      new. NET-1, NET-2 and SYS-NET also need network history: traffic on an earlier day
 *      of the baseline window, or a first request more than a day ago; so a brand-new
 *      mailbox's first day of office, home and phone networks is not "never seen". NET-3
 *      and the tripwires count rotation, which is evidence on any day, and stay on.
 *
 *      When the script does not say when this request's network was first used
 *      (net_first_seen 0), NET-1 still knows it is recent in one case: a counted request
 *      while every network the mailbox used in the last 24 h is one it had never seen
 *      before (new_nets_24h >= distinct_nets_24h >= 1), with net1_recent_hours >= 24. The
 *      request's own network is then one of those new ones. (Its usual networks in use
 *      the same day make the case ambiguous, and NET-1 then stays off.)
 *
 *      Learning: while a mailbox is younger than learning_period AND has sent fewer than
 *      learning_min_messages messages in its baseline window (it leaves learning at the
 *      first of the two, as policyd.conf documents), the NOV rules are off and VOL and SHP
 *      use at least the default_* baselines. NET, ID, tripwires and caps stay on. The NOV
 *      rules also wait until the mailbox was first seen nov_min_days ago: a busy mailbox
 *      leaves learning by its message count within a day or two, when its memory of
 *      correspondents is still too young to tell a stranger from a friend.
 *
 *      New-network floors (newnet_floors = 1): when NET-1 fires (this request comes from
 *      a network the mailbox first used less than net1_recent_hours ago), SHP and VOL-2
 *      compare with their floors alone, not with the mailbox's own largest message and
 *      busiest hour: those allowances were earned by the owner on the owner's networks,
 *      and a heavy sender's contact-list scam (big BCC messages, hundreds an hour) from a
 *      foreign network is then judged like anyone's. VOL-1 and VOL-3, the everyday busy
 *      hour and day, keep the allowance: a busy owner's phone behind carrier-grade NAT is
 *      a new network every session. The traveller profile keeps every allowance.
 *
 *      Probation (now < probation_until): every floor, minimum count, network count and
 *      ladder score is multiplied by probation_pct % (rounded up, at least 1), and NET-1
 *      is worth probation_net1_points. Multipliers, shares and caps are unchanged.
 *
 *      Profiles: bulk multiplies VOL and SHP thresholds by bulk_mult and turns NOV off;
 *      outreach multiplies the NOV counts by outreach_mult; system holds on any never-seen
 *      network; traveller ignores NET-1 and one never-seen network in every NET count.
 *      An unknown profile name counts as none.
 *
 *      Every signal is clamped to [0, 2^40] and every product saturates, so no input can
 *      overflow. Evidence texts of absurd values may be cut at RULES_BRIEF_MAX or
 *      RULES_TEXT_MAX; they are always NUL-terminated. Block reference, reason and profile
 *      strings are copied with non-printable bytes replaced by '?'.
 *
 *      Pure: no I/O, no logging, no allocation, no global mutable state.
 * DIAGNOSTICS
 *      rules_eval returns 0, or RULES_ERR_ARG for a NULL argument (the verdict, when
 *      given, is then PASS). rules_format_* return 0, RULES_ERR_ARG, or RULES_ERR_SPACE
 *      when the text was cut (it then ends in "..." and is NUL-terminated).
 * SEE ALSO
 *      ratelimit/signals.h, ratelimit/rules_params.h, ratelimit/lua/track.lua,
 *      policyd.conf (detection rules), /work/shared/research/detection.md.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ratelimit/rules.h"

#define RULES_SIG_MAX (1LL << 40)    /* signals are clamped to [0, this] */
#define RULES_SAT 1000000000000000LL /* products saturate here (1e15) */
#define RULES_MINUTE 60LL
#define RULES_HOUR 3600LL
#define RULES_DAY 86400LL
#define RULES_VOL_CAP 5 /* VOL-2 + VOL-3: VOL needs no cap row */
#define RULES_ID_CAP 3

/* Every rule the engine knows: its id, family, points, and an action it forces. */
/* clang-format off */
enum rules_rule {
    R_BLOCKED, R_CAP_H, R_CAP_D, R_CAP_MH, R_CAP_MD, R_CAP, R_TRIP_NET, R_TRIP_NET24,
    R_NET1, R_NET2, R_NET3, R_SYS_NET, R_ID1, R_NOV1, R_NOV2, R_NOV3, R_NOV4,
    R_VOL1, R_VOL2, R_VOL3, R_SHP1, R_SHP2,
};
/* clang-format on */

static const struct rules_def {
    const char *id;
    enum rules_family family;
    int points;
    enum rules_action force;
} rules_defs[] = {
    [R_BLOCKED] = {"BLOCKED", RULES_FAM_STATE, 0, RULES_BLOCK},
    [R_CAP_H] = {"CAP-H", RULES_FAM_CAP, 0, RULES_DEFER},
    [R_CAP_D] = {"CAP-D", RULES_FAM_CAP, 0, RULES_DEFER},
    [R_CAP_MH] = {"CAP-MH", RULES_FAM_CAP, 0, RULES_DEFER},
    [R_CAP_MD] = {"CAP-MD", RULES_FAM_CAP, 0, RULES_DEFER},
    [R_CAP] = {"CAP", RULES_FAM_CAP, 0, RULES_DEFER},
    [R_TRIP_NET] = {"TRIP-NET", RULES_FAM_TRIP, 0, RULES_BLOCK},
    [R_TRIP_NET24] = {"TRIP-NET24", RULES_FAM_TRIP, 0, RULES_BLOCK},
    [R_NET1] = {"NET-1", RULES_FAM_NET, 1, RULES_PASS},
    [R_NET2] = {"NET-2", RULES_FAM_NET, 2, RULES_PASS},
    [R_NET3] = {"NET-3", RULES_FAM_NET, 3, RULES_PASS},
    [R_SYS_NET] = {"SYS-NET", RULES_FAM_NET, 0, RULES_HOLD},
    [R_ID1] = {"ID-1", RULES_FAM_ID, 3, RULES_PASS},
    [R_NOV1] = {"NOV-1", RULES_FAM_NOV, 3, RULES_PASS},
    [R_NOV2] = {"NOV-2", RULES_FAM_NOV, 2, RULES_PASS},
    [R_NOV3] = {"NOV-3", RULES_FAM_NOV, 1, RULES_PASS},
    [R_NOV4] = {"NOV-4", RULES_FAM_NOV, 2, RULES_PASS},
    [R_VOL1] = {"VOL-1", RULES_FAM_VOL, 2, RULES_PASS},
    [R_VOL2] = {"VOL-2", RULES_FAM_VOL, 3, RULES_PASS},
    [R_VOL3] = {"VOL-3", RULES_FAM_VOL, 2, RULES_PASS},
    [R_SHP1] = {"SHP-1", RULES_FAM_SHP, 1, RULES_PASS},
    [R_SHP2] = {"SHP-2", RULES_FAM_SHP, 2, RULES_PASS},
};

static const char *const rules_profile_names[] = {"",          "bulk",   "outreach", "system",
                                                  "traveller", "unknown"}; /* enum rules_profile */

/* One evaluation: the clamped signals, the settings and the verdict being built. */
struct rules_ctx {
    struct rl_signals s;
    const struct rules_params *p;
    long long now;
    bool net_history;  /* the mailbox had networks before today (see DESCRIPTION) */
    bool net_recent;   /* this request's network was first used within net1_recent_hours */
    bool net_all_new;  /* ... known from "every network of the last 24 h is new" */
    long long net_age; /* since then, seconds (0 for a never-seen one) */
    long long nets_1h, nets_24h; /* never-seen networks, one fewer for a traveller */
    bool hold_enabled;
    bool newnet;      /* VOL and SHP on their floors: NET-1 conditions, newnet_floors on */
    bool net_here;    /* NET-1 fired on a request to a stranger at a never-mailed domain */
    bool rotating;    /* NET-3 fired: several never-seen networks within the hour */
    bool strangers;   /* writing to strangers: block_new_rcpt_1h and block_new_pct */
    bool mature;      /* first seen at least nov_min_days ago: novelty means something */
    bool known_net;   /* this request's network was in use before net1_recent_hours */
    bool forced_hold; /* SYS-NET fired */
    bool tripped;     /* a tripwire fired */
    int fam_points[RULES_FAM_COUNT];
    struct rules_verdict *v;
};

/* ---- arithmetic ---------------------------------------------------------------------- */

static long long rules_clamp(long long x)
{
    return x < 0 ? 0 : x > RULES_SIG_MAX ? RULES_SIG_MAX : x;
}

static long long rules_max(long long a, long long b)
{
    return a > b ? a : b;
}

/* rules_mul - a x b for non-negative operands, saturating at RULES_SAT. */
static long long rules_mul(long long a, long long b)
{
    if (a <= 0 || b <= 0)
        return 0;
    if (a > RULES_SAT / b)
        return RULES_SAT;
    return a * b;
}

/* rules_tight - a floor or minimum count as applied: in probation probation_pct % of it,
 * rounded up, never below 1 (unless it was 0, which stays 0: "no minimum"). */
static long long rules_tight(const struct rules_ctx *c, long long x)
{
    long long pct = c->p->probation_pct, t;

    if (!c->v->probation || x <= 0 || pct >= 100)
        return x;
    if (pct < 1)
        pct = 1;
    t = (rules_mul(x, pct) + 99) / 100;
    return t < 1 ? 1 : t;
}

/* rules_pct - the share a of b in whole percent (b >= a >= 0, b > 0). */
static long long rules_pct(long long a, long long b)
{
    return b > 0 ? rules_mul(a, 100) / b : 0;
}

/* rules_share_ok - a >= pct % of b, computed without division. */
static bool rules_share_ok(long long a, long long b, long long pct)
{
    return rules_mul(a, 100) >= rules_mul(b, pct);
}

/* ---- strings ------------------------------------------------------------------------- */

/* rules_copy_printable - a bounded copy of a signal string (maybe not NUL-terminated)
 * with non-printable bytes as '?'. */
static void rules_copy_printable(char *dst, size_t dstsz, const char *src, size_t srcmax)
{
    size_t n = strnlen(src, srcmax), i;

    if (n >= dstsz)
        n = dstsz - 1;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)src[i];

        dst[i] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
    }
    dst[n] = '\0';
}

static enum rules_profile rules_profile_parse(const char *name, size_t max)
{
    size_t n = strnlen(name, max);
    int i;

    if (n == 0)
        return RULES_PROF_NONE;
    for (i = RULES_PROF_BULK; i < RULES_PROF_UNKNOWN; i++)
        if (strlen(rules_profile_names[i]) == n && memcmp(rules_profile_names[i], name, n) == 0)
            return (enum rules_profile)i;
    return RULES_PROF_UNKNOWN;
}

/* ---- firing -------------------------------------------------------------------------- */

/* rules_brief, rules_text - a fired rule's log form and helpdesk sentence; a NULL rule
 * (the list is full) is ignored, and a text of absurd numbers is cut, NUL-terminated. */
static void rules_brief(struct rules_fired *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void rules_text(struct rules_fired *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void rules_brief(struct rules_fired *f, const char *fmt, ...)
{
    va_list ap;

    if (f == NULL)
        return;
    va_start(ap, fmt);
    if (vsnprintf(f->brief, sizeof(f->brief), fmt, ap) < 0)
        f->brief[0] = '\0';
    va_end(ap);
}

static void rules_text(struct rules_fired *f, const char *fmt, ...)
{
    va_list ap;

    if (f == NULL)
        return;
    va_start(ap, fmt);
    if (vsnprintf(f->text, sizeof(f->text), fmt, ap) < 0)
        f->text[0] = '\0';
    va_end(ap);
}

static int rules_fam_cap(const struct rules_ctx *c, enum rules_family f)
{
    switch (f) {
    case RULES_FAM_VOL:
        return RULES_VOL_CAP;
    case RULES_FAM_NOV:
        return (int)c->p->nov_cap;
    case RULES_FAM_NET:
        return (int)c->p->net_cap;
    case RULES_FAM_SHP:
        return (int)c->p->shp_cap;
    case RULES_FAM_ID:
        return RULES_ID_CAP;
    default:
        return 0;
    }
}

/* rules_fire_pts - record rule r worth 'points' with its numbers; the points count up to
 * the family's cap. Returns the entry for its texts, or NULL when the list is full (cannot
 * happen: at most 15 rules fire at once, see RULES_MAX_FIRED). */
static struct rules_fired *rules_fire_pts(struct rules_ctx *c, enum rules_rule r, int points,
                                          long long o0, long long o1, long long t0, long long t1)
{
    const struct rules_def *d = &rules_defs[r];
    struct rules_verdict *v = c->v;
    struct rules_fired *f;
    int room;

    if (v->nfired >= RULES_MAX_FIRED)
        return NULL;
    f = &v->fired[v->nfired++];
    memset(f, 0, sizeof(*f));
    f->id = d->id;
    f->family = d->family;
    f->nominal = points;
    f->force = d->force;
    room = rules_fam_cap(c, d->family) - c->fam_points[d->family];
    f->points = points < room ? points : room > 0 ? room : 0;
    c->fam_points[d->family] += f->points;
    f->observed[0] = o0;
    f->observed[1] = o1;
    f->threshold[0] = t0;
    f->threshold[1] = t1;
    v->families |= RULES_FAMBIT(d->family);
    return f;
}

/* rules_fire - the same with the rule's own points. */
static struct rules_fired *rules_fire(struct rules_ctx *c, enum rules_rule r, long long o0,
                                      long long o1, long long t0, long long t1)
{
    return rules_fire_pts(c, r, rules_defs[r].points, o0, o1, t0, t1);
}

/* ---- families ------------------------------------------------------------------------ */

/* A counting window or population as it reads in a helpdesk text and in the log. */
struct rules_label {
    const char *text;  /* "recipients", "60 min" */
    const char *brief; /* "rcpt", "60m" */
};

static const struct rules_label rules_rcpts = {"recipients", "rcpt"};
static const struct rules_label rules_doms = {"recipient domains", "dom"};
static const struct rules_label rules_1h = {"60 min", "60m"};
static const struct rules_label rules_24h = {"24 h", "24h"};

/* rules_net - NET-1..3 and SYS-NET. The traveller profile ignores one never-seen network
 * in every count and NET-1 altogether. */
static void rules_net(struct rules_ctx *c)
{
    const struct rl_signals *s = &c->s;
    const struct rules_params *p = c->p;
    enum rules_profile prof = c->v->profile;
    long long n1 = c->nets_1h, n24 = c->nets_24h, age = c->net_age, t;
    struct rules_fired *f;

    if (c->net_history && c->net_recent && prof != RULES_PROF_TRAVELLER) {
        int pts = c->v->probation ? (int)p->probation_net1_points : rules_defs[R_NET1].points;

        f = c->net_all_new
                ? rules_fire_pts(c, R_NET1, pts, s->new_nets_24h, s->distinct_nets_24h,
                                 p->net1_recent_hours, 0)
                : rules_fire_pts(c, R_NET1, pts, age / RULES_MINUTE, 0, p->net1_recent_hours, 0);
        /* a NET-1 worth nothing (probation_net1_points 0) is no evidence of a third party */
        c->net_here = f != NULL && f->points > 0 && s->rcpt_new != 0 && s->rcpt_dom_new != 0;
        if (f != NULL && s->net_new) {
            rules_brief(f, "new net");
            rules_text(f, "this request comes from a network this mailbox never used before%s",
                       c->v->probation ? " (probation)" : "");
        } else if (f != NULL && c->net_all_new) {
            rules_brief(f, "net new in 24h (%lld of %lld nets)", s->new_nets_24h,
                        s->distinct_nets_24h);
            rules_text(f,
                       "this request comes from a network first used in the last 24 h: the "
                       "%lld network(s) this mailbox used in the last 24 h are all new to it%s",
                       s->distinct_nets_24h, c->v->probation ? " (probation)" : "");
        } else if (f != NULL) {
            rules_brief(f, "net first seen %lldm ago", age / RULES_MINUTE);
            rules_text(f,
                       "this request comes from a network this mailbox first used %lld min ago "
                       "(new for %lld h)%s",
                       age / RULES_MINUTE, p->net1_recent_hours,
                       c->v->probation ? " (probation)" : "");
        }
    }
    t = rules_tight(c, p->net2_nets_24h);
    if (c->net_history && n24 >= t && (f = rules_fire(c, R_NET2, n24, 0, t, 0)) != NULL) {
        rules_brief(f, "%lld new nets 24h>=%lld", n24, t);
        rules_text(f, "%lld never-seen networks in 24 h (threshold %lld)", n24, t);
    }
    t = rules_tight(c, p->net3_nets_1h);
    c->rotating = n1 >= t;
    if (c->rotating && (f = rules_fire(c, R_NET3, n1, 0, t, 0)) != NULL) {
        rules_brief(f, "%lld new nets 60m>=%lld", n1, t);
        rules_text(f,
                   "%lld never-seen networks in 60 min, as with rotating proxies (threshold %lld)",
                   n1, t);
    }
    if (prof == RULES_PROF_SYSTEM && c->net_history && (s->new_nets_24h > 0 || c->net_recent) &&
        (f = rules_fire(c, R_SYS_NET, s->new_nets_24h, 0, 1, 0)) != NULL) {
        c->forced_hold = true;
        rules_brief(f, "system account, %lld new nets 24h", s->new_nets_24h);
        rules_text(f, "system account (pinned networks) used %lld never-seen network(s) in 24 h",
                   s->new_nets_24h);
    }
}

/* rules_trip_one - one network tripwire: n never-seen networks and rcpt recipients in
 * the window, against the tightened thresholds. */
static void rules_trip_one(struct rules_ctx *c, enum rules_rule r, const struct rules_label *win,
                           long long n, long long nmin, long long rcpt, long long rmin)
{
    struct rules_fired *f;

    nmin = rules_tight(c, nmin);
    rmin = rules_tight(c, rmin);
    if (n < nmin || rcpt < rmin || (f = rules_fire(c, r, n, rcpt, nmin, rmin)) == NULL)
        return;
    c->tripped = true;
    rules_brief(f, "%lld new nets %s>=%lld, %lld rcpt", n, win->brief, nmin, rcpt);
    rules_text(f,
               "%lld never-seen networks and %lld recipients in %s (tripwire %lld networks "
               "with at least %lld recipients)",
               n, rcpt, win->text, nmin, rmin);
}

/* rules_trip - the tripwires. A phone behind carrier-grade NAT can show up from a dozen
 * /24s in a busy hour and dozens in a busy day, but it mails its owner's correspondents:
 * TRIP-NET holds its fire when a mature mailbox wrote mostly to people it knows in the
 * hour (a young mailbox cannot tell, so it stays armed), and slow rotation (TRIP-NET24)
 * needs a day of mostly strangers in a mature mailbox. */
static void rules_trip(struct rules_ctx *c)
{
    const struct rl_signals *s = &c->s;
    bool known_1h =
        c->mature && !rules_share_ok(s->new_rcpt_1h, rules_max(s->distinct_rcpt_1h, s->new_rcpt_1h),
                                     c->p->block_new_pct);

    if (!known_1h)
        rules_trip_one(c, R_TRIP_NET, &rules_1h, c->nets_1h, c->p->trip_nets_1h, s->rcpt_1h,
                       c->p->trip_nets_1h_rcpt);
    if (c->mature &&
        rules_share_ok(s->new_rcpt_24h, rules_max(s->distinct_rcpt_24h, s->new_rcpt_24h),
                       c->p->block_new_pct))
        rules_trip_one(c, R_TRIP_NET24, &rules_24h, c->nets_24h, c->p->trip_nets_24h, s->rcpt_24h,
                       c->p->trip_nets_24h_rcpt);
}

static void rules_id(struct rules_ctx *c)
{
    long long n = c->s.sender_mismatch_1h, t = rules_tight(c, c->p->id1_min);
    struct rules_fired *f;

    if (n < t || (f = rules_fire(c, R_ID1, n, 0, t, 0)) == NULL)
        return;
    rules_brief(f, "%lld sender!=login 60m>=%lld", n, t);
    rules_text(f,
               "%lld recipients in 60 min with an envelope sender that does not belong to the "
               "login (threshold %lld)",
               n, t);
}

/* rules_nov_one - one novelty rule: n never-mailed of all (distinct) in the window, at
 * least min of them and pct % of all. */
static void rules_nov_one(struct rules_ctx *c, enum rules_rule r, const struct rules_label *what,
                          const struct rules_label *win, long long n, long long all, long long min,
                          long long pct)
{
    struct rules_fired *f;

    all = rules_max(all, n); /* a trimmed memory may undercount the distinct ones */
    if (n < min || !rules_share_ok(n, all, pct))
        return;
    f = rules_fire(c, r, n, all, min, pct);
    if (f == NULL)
        return;
    rules_brief(f, "%lld/%lld new %s %s>=%lld&%lld%%", n, all, what->brief, win->brief, min, pct);
    rules_text(f, "%lld of %lld %s (%lld%%) in %s never mailed before (threshold %lld and %lld%%)",
               n, all, what->text, rules_pct(n, all), win->text, min, pct);
}

static void rules_nov(struct rules_ctx *c)
{
    const struct rl_signals *s = &c->s;
    const struct rules_params *p = c->p;
    long long m = c->v->profile == RULES_PROF_OUTREACH ? p->outreach_mult : 1;

    if (c->v->learning || c->v->profile == RULES_PROF_BULK || !c->mature)
        return;
    rules_nov_one(c, R_NOV1, &rules_rcpts, &rules_1h, s->new_rcpt_1h, s->distinct_rcpt_1h,
                  rules_mul(rules_tight(c, p->nov1_min), m), p->nov1_pct);
    rules_nov_one(c, R_NOV2, &rules_rcpts, &rules_24h, s->new_rcpt_24h, s->distinct_rcpt_24h,
                  rules_mul(rules_tight(c, p->nov2_min), m), p->nov2_pct);
    rules_nov_one(c, R_NOV3, &rules_doms, &rules_1h, s->new_dom_1h, s->distinct_dom_1h,
                  rules_mul(rules_tight(c, p->nov3_min), m), p->nov3_pct);
    rules_nov_one(c, R_NOV4, &rules_rcpts, &rules_24h, s->new_rcpt_24h, s->distinct_rcpt_24h,
                  rules_mul(rules_tight(c, p->nov4_min), m), p->nov4_pct);
}

/* rules_threshold - max(floor tightened, mult x base), times the bulk multiplier. */
static long long rules_threshold(const struct rules_ctx *c, long long floor, long long mult,
                                 long long base)
{
    long long t = rules_max(rules_tight(c, floor), rules_mul(mult, base));

    return c->v->profile == RULES_PROF_BULK ? rules_mul(t, c->p->bulk_mult) : t;
}

/* rules_base - the mailbox's own baseline, at least the default while it is learning. */
static long long rules_base(const struct rules_ctx *c, long long own, long long def)
{
    return c->v->learning ? rules_max(own, def) : own;
}

/* rules_applied - the baseline a threshold multiplies: none from a new network (VOL-1
 * keeps it: 'everyday' is false for it). */
static long long rules_applied(const struct rules_ctx *c, long long base, bool everyday)
{
    return c->newnet && !everyday ? 0 : base;
}

/* A baseline's remark in a helpdesk text when it was not applied. */
static const char *rules_newnet_note(const struct rules_ctx *c, bool everyday)
{
    return c->newnet && !everyday ? ", not applied to a never-seen network" : "";
}

static void rules_vol(struct rules_ctx *c)
{
    const struct rl_signals *s = &c->s;
    const struct rules_params *p = c->p;
    const char *lbl = c->v->learning ? "assumed while learning" : "of the last 28 days";
    long long hb = rules_base(c, s->base_max_hour_rcpt, p->default_busiest_hour);
    long long db = rules_base(c, s->base_max_day_rcpt, p->default_busiest_day);
    long long t1 = rules_threshold(c, p->vol1_floor, p->vol1_mult, rules_applied(c, hb, true));
    long long t2 = rules_threshold(c, p->vol2_floor, p->vol2_mult, rules_applied(c, hb, false));
    long long t3 = rules_threshold(c, p->vol3_floor, p->vol3_mult, rules_applied(c, db, true));
    struct rules_fired *f = NULL;
    enum rules_rule r = s->rcpt_1h > t2 ? R_VOL2 : R_VOL1;
    long long t = r == R_VOL2 ? t2 : t1;

    if (s->rcpt_1h > t)
        f = rules_fire(c, r, s->rcpt_1h, hb, t, 0);
    if (f != NULL) {
        rules_brief(f, "%lld rcpt 60m>%lld", s->rcpt_1h, t);
        rules_text(f, "%lld recipients in 60 min; busiest hour %s: %lld%s (threshold %lld)",
                   s->rcpt_1h, lbl, hb, rules_newnet_note(c, r == R_VOL1), t);
    }
    if (s->rcpt_24h > t3 && (f = rules_fire(c, R_VOL3, s->rcpt_24h, db, t3, 0)) != NULL) {
        rules_brief(f, "%lld rcpt 24h>%lld", s->rcpt_24h, t3);
        rules_text(f, "%lld recipients in 24 h; busiest day %s: %lld%s (threshold %lld)",
                   s->rcpt_24h, lbl, db, rules_newnet_note(c, true), t3);
    }
}

static void rules_shp(struct rules_ctx *c)
{
    const struct rl_signals *s = &c->s;
    const struct rules_params *p = c->p;
    long long mb = rules_base(c, s->base_max_msg_rcpt, p->default_largest_msg);
    long long t1 = rules_threshold(c, p->shp1_floor, p->shp1_mult, rules_applied(c, mb, false));
    long long t2 = rules_threshold(c, p->shp2_floor, p->shp2_mult, rules_applied(c, mb, false));
    long long n = s->rcpt_this_msg;
    enum rules_rule r = n >= t2 ? R_SHP2 : R_SHP1;
    long long t = r == R_SHP2 ? t2 : t1;
    struct rules_fired *f;

    if (n < t || (f = rules_fire(c, r, n, mb, t, 0)) == NULL)
        return;
    rules_brief(f, "%lld rcpt/msg>=%lld", n, t);
    rules_text(f, "one message to %lld recipients; largest message %s: %lld%s (threshold %lld)", n,
               c->v->learning ? "assumed while learning" : "of the last 28 days", mb,
               rules_newnet_note(c, false), t);
}

/* ---- states that stop or override the evaluation ------------------------------------- */

static void rules_blocked(struct rules_ctx *c, const struct rl_signals *raw)
{
    char reason[SIGNALS_STR_MAX];
    struct rules_fired *f;

    rules_copy_printable(c->v->ref, sizeof(c->v->ref), raw->block_ref, sizeof(raw->block_ref));
    rules_copy_printable(reason, sizeof(reason), raw->block_reason, sizeof(raw->block_reason));
    c->v->action = RULES_BLOCK;
    f = rules_fire(c, R_BLOCKED, c->s.block_created, 0, 0, 0);
    if (f == NULL)
        return;
    rules_brief(f, "ref %.24s%s%.24s", c->v->ref, reason[0] ? " " : "", reason);
    rules_text(f, "the mailbox is blocked (ref %s, reason %.32s); request refused, not evaluated",
               c->v->ref[0] ? c->v->ref : "none", reason[0] ? reason : "none");
}

static void rules_capped(struct rules_ctx *c)
{
    static const struct {
        enum rules_rule r;
        const char *what;
        const char *brief;
    } caps[] = {
        {R_CAP, "sending", "sent"},
        {R_CAP_H, "recipients per 60 min", "rcpt 60m"},
        {R_CAP_D, "recipients per 24 h", "rcpt 24h"},
        {R_CAP_MH, "messages per 60 min", "msgs 60m"},
        {R_CAP_MD, "messages per 24 h", "msgs 24h"},
    };
    static const char *const srcs[] = {"default", "domain", "mailbox", "raised"};
    const struct rl_signals *s = &c->s;
    size_t i = s->capped < (long long)(sizeof(caps) / sizeof(caps[0])) ? (size_t)s->capped : 0;
    const char *src = s->limit_src < 4 ? srcs[s->limit_src] : "unknown";
    struct rules_fired *f = rules_fire(c, caps[i].r, s->cap_value, 0, s->cap_limit, 0);

    if (f == NULL)
        return;
    rules_brief(f, "%s %lld, cap %lld (%s)", caps[i].brief, s->cap_value, s->cap_limit, src);
    rules_text(f,
               "%s limit %lld (%s) reached with %lld; this recipient was refused and not counted",
               caps[i].what, s->cap_limit, src, s->cap_value);
}

/* ---- evaluation ---------------------------------------------------------------------- */

/* rules_only_new_nets - without net_first_seen: a counted request whose mailbox used only
 * never-seen networks in the last 24 h comes from one of them (see DESCRIPTION). */
static bool rules_only_new_nets(const struct rules_ctx *c)
{
    const struct rl_signals *s = &c->s;

    return s->counted && s->distinct_nets_24h > 0 && s->new_nets_24h >= s->distinct_nets_24h &&
           c->p->net1_recent_hours >= 24;
}

/* rules_setup - the clamped signals and the mailbox's situation (learning, probation,
 * network history, profile, the ladder as applied). */
static void rules_setup(struct rules_ctx *c, const struct rl_signals *raw,
                        const struct rules_input *in, struct rules_verdict *v)
{
    const struct rl_signals *s = &c->s;
    long long lp = rules_clamp(in->learning_period);

    memset(c, 0, sizeof(*c));
    c->s = *raw;
#define RULES_CLAMP_FIELD(n) c->s.n = rules_clamp(raw->n);
    SIGNALS_INTS(RULES_CLAMP_FIELD)
#undef RULES_CLAMP_FIELD
    c->p = in->params;
    c->now = rules_clamp(in->now);
    c->hold_enabled = in->hold_enabled;
    c->v = v;
    v->profile = rules_profile_parse(raw->profile, sizeof(raw->profile));
    v->probation = s->probation_until > c->now;
    v->learning = (s->first_seen <= 0 || c->now - s->first_seen < lp) &&
                  s->base_msgs < rules_clamp(in->learning_min_messages);
    c->net_history =
        s->base_days >= 1 || (s->first_seen > 0 && c->now - s->first_seen >= RULES_DAY);
    c->net_recent = s->net_new != 0;
    if (!c->net_recent && s->net_first_seen > 0) {
        c->net_age = rules_max(c->now - s->net_first_seen, 0);
        c->net_recent = c->net_age < rules_mul(c->p->net1_recent_hours, RULES_HOUR);
    } else if (!c->net_recent) {
        c->net_all_new = rules_only_new_nets(c);
        c->net_recent = c->net_all_new;
    }
    c->known_net = c->net_history && !c->net_recent && s->net_first_seen > 0;
    c->newnet = c->p->newnet_floors && c->net_history && c->net_recent &&
                v->profile != RULES_PROF_TRAVELLER;
    c->mature =
        s->first_seen > 0 && c->now - s->first_seen >= rules_mul(c->p->nov_min_days, RULES_DAY);
    c->strangers = c->mature && s->new_rcpt_1h >= rules_tight(c, c->p->block_new_rcpt_1h) &&
                   rules_share_ok(s->new_rcpt_1h, rules_max(s->distinct_rcpt_1h, s->new_rcpt_1h),
                                  c->p->block_new_pct);
    c->nets_1h = s->new_nets_1h;
    c->nets_24h = s->new_nets_24h;
    if (v->profile == RULES_PROF_TRAVELLER) { /* one new network is the trip itself */
        c->nets_1h = rules_max(c->nets_1h - 1, 0);
        c->nets_24h = rules_max(c->nets_24h - 1, 0);
    }
    v->watch_score = (int)rules_tight(c, c->p->watch_score);
    v->hold_score = (int)rules_tight(c, c->p->hold_score);
    v->block_score = (int)rules_tight(c, c->p->block_score);
}

/* rules_ladder - the action for the points, families and forced rules collected. */
static enum rules_action rules_ladder(const struct rules_ctx *c)
{
    const struct rules_verdict *v = c->v;
    bool third_party =
        ((c->net_here || c->rotating) && c->strangers) ||
        (c->fam_points[RULES_FAM_ID] > 0 && !c->known_net &&
         rules_share_ok(c->s.sender_mismatch_1h, rules_max(c->s.rcpt_1h, c->s.sender_mismatch_1h),
                        c->p->id1_block_pct));
    bool agree = v->agreeing >= c->p->min_families;

    if (c->tripped || (agree && third_party && v->score >= v->block_score))
        return RULES_BLOCK;
    if ((agree && v->score >= v->hold_score) || c->forced_hold)
        return c->hold_enabled ? RULES_HOLD : RULES_WATCH;
    if (v->score >= v->watch_score)
        return RULES_WATCH;
    return RULES_PASS;
}

void rules_params_defaults(struct rules_params *p)
{
#define RULES_PARAM_DEFAULT(field, def, min, max) p->field = (def);
    RULES_PARAMS(RULES_PARAM_DEFAULT)
#undef RULES_PARAM_DEFAULT
}

int rules_eval(const struct rl_signals *sig, const struct rules_input *in, struct rules_verdict *v)
{
    struct rules_ctx c;
    int f;

    if (v != NULL)
        memset(v, 0, sizeof(*v));
    if (sig == NULL || in == NULL || in->params == NULL || v == NULL)
        return RULES_ERR_ARG;
    rules_setup(&c, sig, in, v);
    if (c.s.blocked) {
        rules_blocked(&c, sig);
        return 0;
    }
    if (c.s.exempt)
        return 0;
    if (c.s.capped)
        rules_capped(&c);
    rules_trip(&c);
    rules_net(&c);
    rules_id(&c);
    rules_nov(&c);
    rules_vol(&c);
    rules_shp(&c);
    for (f = 0; f < RULES_FAM_COUNT; f++) {
        v->score += c.fam_points[f];
        if ((RULES_SCORING_FAMS & RULES_FAMBIT(f)) && c.fam_points[f] > 0)
            v->agreeing++;
    }
    v->action = rules_ladder(&c);
    if (c.s.capped && v->action != RULES_BLOCK)
        v->action = RULES_DEFER; /* the recipient is refused anyway: never held */
    return 0;
}

/* ---- text ---------------------------------------------------------------------------- */

/* A bounded appender: remembers whether anything did not fit. */
struct rules_out {
    char *buf;
    size_t len, pos;
    bool cut;
};

static void rules_put(struct rules_out *o, const char *s)
{
    size_t n = strlen(s);

    if (o->cut)
        return;
    if (n >= o->len - o->pos) {
        o->cut = true;
        return;
    }
    memcpy(o->buf + o->pos, s, n + 1);
    o->pos += n;
}

/* rules_finish - NUL-terminate; a cut text ends in "..." where there is room for it. */
static int rules_finish(struct rules_out *o)
{
    if (!o->cut)
        return 0;
    if (o->len >= 4) {
        size_t at = o->pos < o->len - 4 ? o->pos : o->len - 4;

        memcpy(o->buf + at, "...", 4);
    } else {
        o->buf[0] = '\0';
    }
    return RULES_ERR_SPACE;
}

static void rules_put_points(struct rules_out *o, const struct rules_fired *f)
{
    char tmp[48];

    if (f->force != RULES_PASS && f->nominal == 0)
        snprintf(tmp, sizeof(tmp), "(%s)",
                 f->force == RULES_BLOCK   ? "block"
                 : f->force == RULES_HOLD  ? "hold"
                 : f->force == RULES_DEFER ? "defer"
                                           : "-");
    else if (f->points == f->nominal)
        snprintf(tmp, sizeof(tmp), "(+%d)", f->points);
    else
        snprintf(tmp, sizeof(tmp), "(+%d/%d)", f->points, f->nominal);
    rules_put(o, tmp);
}

int rules_format_evidence(const struct rules_verdict *v, char *buf, size_t len)
{
    struct rules_out o = {buf, len, 0, false};
    char brief[RULES_BRIEF_MAX];
    size_t i, n;

    if (v == NULL || buf == NULL || len == 0)
        return RULES_ERR_ARG;
    buf[0] = '\0';
    n = v->nfired < RULES_MAX_FIRED ? v->nfired : RULES_MAX_FIRED;
    for (i = 0; i < n; i++) {
        const struct rules_fired *f = &v->fired[i];

        rules_put(&o, i > 0 ? "; " : "");
        rules_put(&o, f->id != NULL ? f->id : "?");
        rules_put_points(&o, f);
        rules_put(&o, " ");
        rules_copy_printable(brief, sizeof(brief), f->brief, sizeof(f->brief));
        rules_put(&o, brief);
    }
    if (v->learning || v->probation || v->profile != RULES_PROF_NONE) {
        rules_put(&o, n > 0 ? " [" : "[");
        rules_put(&o, v->learning ? "learning" : "");
        rules_put(&o, v->learning && v->probation ? " " : "");
        rules_put(&o, v->probation ? "probation" : "");
        rules_put(&o, (v->learning || v->probation) && v->profile != RULES_PROF_NONE ? " " : "");
        rules_put(&o, v->profile != RULES_PROF_NONE ? "profile=" : "");
        rules_put(&o, v->profile != RULES_PROF_NONE ? rules_profile_name(v->profile) : "");
        rules_put(&o, "]");
    }
    return rules_finish(&o);
}

int rules_format_families(unsigned families, char *buf, size_t len)
{
    struct rules_out o = {buf, len, 0, false};
    int f;
    bool first = true;

    if (buf == NULL || len == 0)
        return RULES_ERR_ARG;
    buf[0] = '\0';
    for (f = 0; f < RULES_FAM_COUNT; f++) {
        if (!(families & RULES_FAMBIT(f)))
            continue;
        rules_put(&o, first ? "" : "+");
        rules_put(&o, rules_family_name((enum rules_family)f));
        first = false;
    }
    return rules_finish(&o);
}

bool rules_fired_has(const struct rules_verdict *v, const char *id)
{
    size_t i;

    for (i = 0; v != NULL && id != NULL && i < v->nfired && i < RULES_MAX_FIRED; i++)
        if (v->fired[i].id != NULL && strcmp(v->fired[i].id, id) == 0)
            return true;
    return false;
}

const char *rules_action_name(enum rules_action a)
{
    static const char *const names[] = {"PASS", "WATCH", "DEFER", "HOLD", "BLOCK"};

    return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "UNKNOWN";
}

const char *rules_family_name(enum rules_family f)
{
    static const char *const names[] = {"VOL", "NOV", "NET", "SHP", "ID", "TRIP", "CAP", "BLK"};

    return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "?";
}

const char *rules_profile_name(enum rules_profile p)
{
    if ((unsigned)p > RULES_PROF_UNKNOWN)
        return "unknown";
    return p == RULES_PROF_NONE ? "none" : rules_profile_names[p];
}

const char *rules_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case RULES_ERR_ARG:
        return "bad argument";
    case RULES_ERR_SPACE:
        return "evidence text does not fit the buffer";
    default:
        return "unknown rules error";
    }
}
