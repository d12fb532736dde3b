/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_rules - unit tests of the detection rule engine
 * SYNOPSIS
 *      build/tests/test_rules [-v]
 * DESCRIPTION
 *      A table of cases {name, signals, settings, want action, want fired rule ids}: every
 *      rule at, just below and just above its threshold, floors, family caps, two-family
 *      agreement, BLOCK needing NET or ID evidence, tripwires, learning, probation,
 *      profiles, exempt, caps and existing blocks. Then the evidence texts, and four
 *      scenarios replayed recipient by recipient through signals computed the way
 *      track.lua counts them: a burst through rotating proxies (BLOCK by recipient 40),
 *      a legitimate mailbox doubling its volume (never held), a first newsletter (HOLD,
 *      never BLOCK), a contact-list scam from one foreign network, slow rotation, and
 *      slow list spam from one new network (HOLD, never BLOCK). With -v the scenarios
 *      print the recipient at which each was contained.
 * SEE ALSO
 *      ratelimit/rules.c, tests/unit/testlib.h
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ratelimit/rules.h"
#include "tests/unit/testlib.h"

#define NOW 1700000000LL
#define HOUR 3600LL
#define DAY 86400LL
#define MAX_SET 10

static int verbose;

/* One signal set by a case: the field's offset and value. */
struct set {
    size_t off;
    long long v;
};
#define S(f, v)                                                                                    \
    {                                                                                              \
        offsetof(struct rl_signals, f) + 1, (v)                                                    \
    } /* +1: 0 ends the list */

/* Situations a case starts from (flags). */
enum {
    E_FRESH = 1,     /* brand-new mailbox: first seen 2 h ago, no baseline, learning */
    E_PROBATION = 2, /* probation until an hour from now */
    E_NOHOLD = 4,    /* hold_enabled = no */
};

struct rcase {
    const char *name;
    struct set set[MAX_SET];
    const char *profile;
    unsigned env;
    void (*tweak)(struct rules_params *p);
    enum rules_action want;
    const char *want_ids; /* the fired ids in the engine's order, space-separated */
    int want_score;       /* -1: not checked */
};

/* An established mailbox: 60 days old, 20 active days, busiest hour 10, busiest day 50,
 * largest message 4, from its usual network; nothing sent yet this hour. So VOL-1 > 60,
 * VOL-2 > 200, VOL-3 > 400, SHP-1 >= 25, SHP-2 >= 50 (the floors). */
static void established(struct rl_signals *s)
{
    memset(s, 0, sizeof(*s));
    s->first_seen = NOW - 60 * DAY;
    s->base_days = 20;
    s->base_msgs = 300;
    s->base_max_hour_rcpt = 10;
    s->base_max_day_rcpt = 50;
    s->base_max_msg_rcpt = 4;
    s->known_nets = 3;
    s->known_rcpts = 200;
    s->counted = 1;
    s->net_first_seen = NOW - 40 * DAY;
}

static void fresh(struct rl_signals *s)
{
    memset(s, 0, sizeof(*s));
    s->first_seen = NOW - 2 * HOUR;
    s->known_nets = 1;
    s->counted = 1;
    s->net_first_seen = NOW - 2 * HOUR;
}

static void tw_min_families_1(struct rules_params *p)
{
    p->min_families = 1;
}

static void tw_learning_default_30(struct rules_params *p)
{
    p->default_busiest_hour = 30;
}

static void tw_net1_off_window(struct rules_params *p)
{
    p->net1_recent_hours = 0;
}

static void tw_cheap_net1_probation(struct rules_params *p)
{
    p->probation_net1_points = 0;
}

static void tw_nov_min_days_0(struct rules_params *p)
{
    p->nov_min_days = 0;
}

static void tw_id1_block_pct_0(struct rules_params *p)
{
    p->id1_block_pct = 0;
}

static void tw_newnet_floors_off(struct rules_params *p)
{
    p->newnet_floors = 0;
}

/* clang-format off */
static const struct rcase cases[] = {
    /* VOL: floors (busiest hour 10: 4 x 10 < 60) and the mailbox's own baseline */
    {"vol1 at floor", {S(rcpt_1h, 60), S(rcpt_24h, 60)}, "", 0, NULL, RULES_PASS, "", 0},
    {"vol1 above floor", {S(rcpt_1h, 61), S(rcpt_24h, 61)}, "", 0, NULL, RULES_PASS, "VOL-1", 2},
    {"vol quiet mailbox sends 10", {S(rcpt_1h, 10), S(base_max_hour_rcpt, 2)}, "", 0, NULL,
     RULES_PASS, "", 0},
    {"vol1 relative at", {S(rcpt_1h, 120), S(base_max_hour_rcpt, 30)}, "", 0, NULL, RULES_PASS,
     "", 0},
    {"vol1 relative above", {S(rcpt_1h, 121), S(base_max_hour_rcpt, 30)}, "", 0, NULL,
     RULES_PASS, "VOL-1", 2},
    {"vol2 at floor", {S(rcpt_1h, 150)}, "", 0, NULL, RULES_PASS, "VOL-1", 2},
    {"vol2 above floor", {S(rcpt_1h, 151)}, "", 0, NULL, RULES_WATCH, "VOL-2", 3},
    {"vol2 relative", {S(rcpt_1h, 301), S(base_max_hour_rcpt, 30)}, "", 0, NULL, RULES_WATCH,
     "VOL-2", 3},
    {"vol2 relative at", {S(rcpt_1h, 300), S(base_max_hour_rcpt, 30)}, "", 0, NULL,
     RULES_PASS, "VOL-1", 2},
    {"vol3 at floor", {S(rcpt_24h, 400)}, "", 0, NULL, RULES_PASS, "", 0},
    {"vol3 above floor", {S(rcpt_24h, 401)}, "", 0, NULL, RULES_PASS, "VOL-3", 2},
    {"vol3 relative", {S(rcpt_24h, 481), S(base_max_day_rcpt, 120)}, "", 0, NULL, RULES_PASS,
     "VOL-3", 2},
    {"vol3 relative at", {S(rcpt_24h, 480), S(base_max_day_rcpt, 120)}, "", 0, NULL,
     RULES_PASS, "", 0},
    {"vol family uncapped", {S(rcpt_1h, 450), S(rcpt_24h, 450)}, "", 0, NULL, RULES_WATCH,
     "VOL-2 VOL-3", 5},

    /* NOV: count and share */
    {"nov1 at", {S(new_rcpt_1h, 25), S(distinct_rcpt_1h, 31)}, "", 0, NULL, RULES_WATCH,
     "NOV-1", 3},
    {"nov1 count below", {S(new_rcpt_1h, 24), S(distinct_rcpt_1h, 25)}, "", 0, NULL,
     RULES_PASS, "", 0},
    {"nov1 share below", {S(new_rcpt_1h, 25), S(distinct_rcpt_1h, 32)}, "", 0, NULL,
     RULES_PASS, "", 0},
    {"nov1 distinct undercounted", {S(new_rcpt_1h, 45), S(distinct_rcpt_1h, 3)}, "", 0, NULL,
     RULES_WATCH, "NOV-1", 3},
    {"nov2 at", {S(new_rcpt_24h, 50), S(distinct_rcpt_24h, 71)}, "", 0, NULL, RULES_PASS,
     "NOV-2", 2},
    {"nov2 count below", {S(new_rcpt_24h, 49), S(distinct_rcpt_24h, 50)}, "", 0, NULL,
     RULES_PASS, "", 0},
    {"nov2 share below", {S(new_rcpt_24h, 50), S(distinct_rcpt_24h, 72)}, "", 0, NULL,
     RULES_PASS, "", 0},
    {"nov3 at", {S(new_dom_1h, 20), S(distinct_dom_1h, 28)}, "", 0, NULL, RULES_PASS, "NOV-3",
     1},
    {"nov3 count below", {S(new_dom_1h, 19), S(distinct_dom_1h, 19)}, "", 0, NULL, RULES_PASS,
     "", 0},
    {"nov3 share below", {S(new_dom_1h, 20), S(distinct_dom_1h, 29)}, "", 0, NULL, RULES_PASS,
     "", 0},
    {"nov4 at", {S(new_rcpt_24h, 150), S(distinct_rcpt_24h, 166)}, "", 0, NULL, RULES_WATCH,
     "NOV-2 NOV-4", 4},
    {"nov4 count below", {S(new_rcpt_24h, 149), S(distinct_rcpt_24h, 149)}, "", 0, NULL,
     RULES_PASS, "NOV-2", 2},
    {"nov4 share below", {S(new_rcpt_24h, 150), S(distinct_rcpt_24h, 167)}, "", 0, NULL,
     RULES_PASS, "NOV-2", 2},
    {"nov4 outreach x3", {S(new_rcpt_24h, 449), S(distinct_rcpt_24h, 449)}, "outreach", 0,
     NULL, RULES_PASS, "NOV-2", 2},
    {"nov4 probation half", {S(new_rcpt_24h, 75), S(distinct_rcpt_24h, 75)}, "", E_PROBATION,
     NULL, RULES_WATCH, "NOV-2 NOV-4", 4},
    {"nov4 learning off", {S(new_rcpt_24h, 300), S(distinct_rcpt_24h, 300)}, "", E_FRESH, NULL,
     RULES_PASS, "", 0},
    {"nov family cap 4", {S(new_rcpt_1h, 60), S(distinct_rcpt_1h, 60), S(new_rcpt_24h, 60),
     S(distinct_rcpt_24h, 60), S(new_dom_1h, 30), S(distinct_dom_1h, 30)}, "", 0, NULL,
     RULES_WATCH, "NOV-1 NOV-2 NOV-3", 4},

    /* NET */
    {"net1 first request from a new net", {S(net_new, 1), S(new_nets_1h, 1),
     S(new_nets_24h, 1), S(net_first_seen, NOW)}, "", 0, NULL, RULES_PASS, "NET-1", 1},
    {"net1 same net 23 h later", {S(new_nets_24h, 1), S(net_first_seen, NOW - 23 * HOUR)}, "",
     0, NULL, RULES_PASS, "NET-1", 1},
    {"net1 same net 24 h later", {S(net_first_seen, NOW - 24 * HOUR)}, "", 0, NULL,
     RULES_PASS, "", 0},
    {"net1 without first-seen signal", {S(net_first_seen, 0), S(new_nets_24h, 1)}, "", 0,
     NULL, RULES_PASS, "", 0},
    {"net1 derived: every net of 24 h new", {S(net_first_seen, 0), S(new_nets_24h, 1),
     S(distinct_nets_24h, 1)}, "", 0, NULL, RULES_PASS, "NET-1", 1},
    {"net1 derived: two new nets of two", {S(net_first_seen, 0), S(new_nets_24h, 2),
     S(distinct_nets_24h, 2)}, "", 0, NULL, RULES_PASS, "NET-1", 1},
    {"net1 derived: a usual net used too", {S(net_first_seen, 0), S(new_nets_24h, 1),
     S(distinct_nets_24h, 2)}, "", 0, NULL, RULES_PASS, "", 0},
    {"net1 derived: no nets in 24 h", {S(net_first_seen, 0), S(new_nets_24h, 0),
     S(distinct_nets_24h, 0)}, "", 0, NULL, RULES_PASS, "", 0},
    {"net1 derived: request not counted", {S(net_first_seen, 0), S(new_nets_24h, 1),
     S(distinct_nets_24h, 1), S(counted, 0)}, "", 0, NULL, RULES_PASS, "", 0},
    {"net1 derived: window under 24 h", {S(net_first_seen, 0), S(new_nets_24h, 1),
     S(distinct_nets_24h, 1)}, "", 0, tw_net1_off_window, RULES_PASS, "", 0},
    {"net1 derived: fresh mailbox", {S(net_first_seen, 0), S(new_nets_24h, 1),
     S(distinct_nets_24h, 1)}, "", E_FRESH, NULL, RULES_PASS, "", 0},
    {"net1 derived: traveller", {S(net_first_seen, 0), S(new_nets_24h, 1),
     S(distinct_nets_24h, 1)}, "traveller", 0, NULL, RULES_PASS, "", 0},
    {"net1 derived: signal wins", {S(net_first_seen, NOW - 30 * HOUR), S(new_nets_24h, 1),
     S(distinct_nets_24h, 1)}, "", 0, NULL, RULES_PASS, "", 0},
    {"net1 derived + slow novelty holds", {S(net_first_seen, 0), S(new_nets_24h, 1),
     S(distinct_nets_24h, 1), S(new_rcpt_24h, 150), S(distinct_rcpt_24h, 150)}, "", 0, NULL,
     RULES_HOLD, "NET-1 NOV-2 NOV-4", 5},
    {"slow novelty alone watches", {S(new_rcpt_24h, 300), S(distinct_rcpt_24h, 300)}, "", 0,
     NULL, RULES_WATCH, "NOV-2 NOV-4", 4},
    {"net1 window 0: only net_new", {S(net_first_seen, NOW - 60)}, "", 0, tw_net1_off_window,
     RULES_PASS, "", 0},
    {"net2 at", {S(new_nets_24h, 5)}, "", 0, NULL, RULES_PASS, "NET-2", 2},
    {"net2 below", {S(new_nets_24h, 4)}, "", 0, NULL, RULES_PASS, "", 0},
    {"net3 at (one family: watch)", {S(new_nets_1h, 4), S(new_nets_24h, 5)}, "", 0, NULL,
     RULES_WATCH, "NET-2 NET-3", 5},
    {"net3 below", {S(new_nets_1h, 3), S(new_nets_24h, 4)}, "", 0, NULL, RULES_PASS, "", 0},
    {"net family cap 6", {S(net_new, 1), S(net_first_seen, NOW), S(new_nets_1h, 5),
     S(new_nets_24h, 5)}, "", E_PROBATION, NULL, RULES_WATCH, "NET-1 NET-2 NET-3", 6},
    {"net fresh mailbox: no net-1/net-2", {S(net_new, 1), S(net_first_seen, NOW),
     S(new_nets_1h, 2), S(new_nets_24h, 3)}, "", E_FRESH, NULL, RULES_PASS, "", 0},
    {"net fresh mailbox: rotation counts", {S(new_nets_1h, 4), S(new_nets_24h, 4)}, "",
     E_FRESH, NULL, RULES_WATCH, "NET-3", 3},
    {"net history by age alone", {S(base_days, 0), S(first_seen, NOW - 2 * DAY), S(net_new, 1),
     S(net_first_seen, NOW)}, "", 0, NULL, RULES_PASS, "NET-1", 1},
    {"net history: first seen 23 h ago", {S(base_days, 0), S(first_seen, NOW - 23 * HOUR),
     S(net_new, 1), S(net_first_seen, NOW)}, "", 0, NULL, RULES_PASS, "", 0},

    /* tripwires */
    {"trip-net at", {S(new_nets_1h, 10), S(new_nets_24h, 10), S(rcpt_1h, 20), S(rcpt_24h, 20)},
     "", 0, NULL, RULES_BLOCK, "TRIP-NET NET-2 NET-3", 5},
    {"trip-net nets below", {S(new_nets_1h, 9), S(new_nets_24h, 9), S(rcpt_1h, 20),
     S(rcpt_24h, 20)}, "", 0, NULL, RULES_WATCH, "NET-2 NET-3", 5},
    {"trip-net: a mature mailbox mailing its contacts", {S(new_nets_1h, 12),
     S(new_nets_24h, 12), S(rcpt_1h, 40), S(rcpt_24h, 40), S(new_rcpt_1h, 11),
     S(distinct_rcpt_1h, 40)}, "", 0, NULL, RULES_WATCH, "NET-2 NET-3", 5},
    {"trip-net: a young mailbox stays armed", {S(new_nets_1h, 10), S(new_nets_24h, 10),
     S(rcpt_1h, 20), S(rcpt_24h, 20), S(new_rcpt_1h, 2), S(distinct_rcpt_1h, 20)}, "",
     E_FRESH, NULL, RULES_BLOCK, "TRIP-NET NET-3", 3},
    {"trip-net recipients below", {S(new_nets_1h, 10), S(new_nets_24h, 10), S(rcpt_1h, 19),
     S(rcpt_24h, 19)}, "", 0, NULL, RULES_WATCH, "NET-2 NET-3", 5},
    {"trip-net on a fresh mailbox", {S(new_nets_1h, 10), S(new_nets_24h, 10), S(rcpt_1h, 20),
     S(rcpt_24h, 20)}, "", E_FRESH, NULL, RULES_BLOCK, "TRIP-NET NET-3", 3},
    {"trip-net24 at", {S(new_nets_24h, 16), S(rcpt_24h, 20), S(rcpt_1h, 2),
     S(new_rcpt_24h, 14), S(distinct_rcpt_24h, 20)}, "", 0, NULL, RULES_BLOCK,
     "TRIP-NET24 NET-2", 2},
    {"trip-net24 to correspondents", {S(new_nets_24h, 40), S(rcpt_24h, 60),
     S(new_rcpt_24h, 9), S(distinct_rcpt_24h, 20)}, "", 0, NULL, RULES_PASS, "NET-2", 2},
    {"trip-net24 young mailbox", {S(new_nets_24h, 16), S(rcpt_24h, 20),
     S(new_rcpt_24h, 20), S(distinct_rcpt_24h, 20), S(first_seen, NOW - 14 * DAY + 1)}, "", 0,
     NULL, RULES_PASS, "NET-2", 2},
    {"trip-net24 nets below", {S(new_nets_24h, 15), S(rcpt_24h, 20)}, "", 0, NULL,
     RULES_PASS, "NET-2", 2},
    {"trip-net24 recipients below", {S(new_nets_24h, 16), S(rcpt_24h, 19)}, "", 0, NULL,
     RULES_PASS, "NET-2", 2},
    {"both tripwires", {S(new_nets_1h, 20), S(new_nets_24h, 20), S(rcpt_1h, 30),
     S(rcpt_24h, 30), S(new_rcpt_24h, 30)}, "", 0, NULL, RULES_BLOCK,
     "TRIP-NET TRIP-NET24 NET-2 NET-3", 5},

    /* SHP */
    {"shp1 below", {S(rcpt_this_msg, 24)}, "", 0, NULL, RULES_PASS, "", 0},
    {"shp1 at floor", {S(rcpt_this_msg, 25)}, "", 0, NULL, RULES_PASS, "SHP-1", 1},
    {"shp2 below", {S(rcpt_this_msg, 49)}, "", 0, NULL, RULES_PASS, "SHP-1", 1},
    {"shp2 at floor", {S(rcpt_this_msg, 50)}, "", 0, NULL, RULES_PASS, "SHP-2", 2},
    {"shp1 relative below", {S(rcpt_this_msg, 59), S(base_max_msg_rcpt, 20)}, "", 0, NULL,
     RULES_PASS, "", 0},
    {"shp1 relative at", {S(rcpt_this_msg, 60), S(base_max_msg_rcpt, 20)}, "", 0, NULL,
     RULES_PASS, "SHP-1", 1},
    {"shp2 relative at", {S(rcpt_this_msg, 100), S(base_max_msg_rcpt, 20)}, "", 0, NULL,
     RULES_PASS, "SHP-2", 2},

    /* new-network floors: the mailbox's own allowances are not applied from a new net */
    {"newnet: busiest hour not applied to vol2", {S(base_max_hour_rcpt, 100),
     S(rcpt_1h, 151), S(net_new, 1), S(net_first_seen, NOW)}, "", 0, NULL, RULES_WATCH,
     "NET-1 VOL-2", 4},
    {"newnet: vol1 keeps the busiest hour", {S(base_max_hour_rcpt, 100), S(rcpt_1h, 150),
     S(net_new, 1), S(net_first_seen, NOW)}, "", 0, NULL, RULES_PASS, "NET-1", 1},
    {"newnet: vol3 keeps the busiest day", {S(base_max_day_rcpt, 300), S(rcpt_24h, 1200),
     S(net_new, 1), S(net_first_seen, NOW)}, "", 0, NULL, RULES_PASS, "NET-1", 1},
    {"newnet: largest message not applied", {S(base_max_msg_rcpt, 40), S(rcpt_this_msg, 50),
     S(net_first_seen, NOW - 2 * HOUR)}, "", 0, NULL, RULES_WATCH, "NET-1 SHP-2", 3},
    {"newnet: known net keeps the baseline", {S(base_max_hour_rcpt, 100), S(rcpt_1h, 201),
     S(base_max_msg_rcpt, 40), S(rcpt_this_msg, 50)}, "", 0, NULL, RULES_PASS, "", 0},
    {"newnet: floors off", {S(base_max_hour_rcpt, 100), S(rcpt_1h, 201), S(net_new, 1),
     S(net_first_seen, NOW)}, "", 0, tw_newnet_floors_off, RULES_PASS, "NET-1", 1},
    {"newnet: traveller keeps the baseline", {S(base_max_hour_rcpt, 100), S(rcpt_1h, 201),
     S(net_new, 1), S(net_first_seen, NOW), S(new_nets_24h, 1)}, "traveller", 0, NULL,
     RULES_PASS, "", 0},

    /* ID */
    {"id1 at", {S(sender_mismatch_1h, 1)}, "", 0, NULL, RULES_WATCH, "ID-1", 3},
    {"id1 below", {S(sender_mismatch_1h, 0)}, "", 0, NULL, RULES_PASS, "", 0},

    /* the ladder: agreement of families, BLOCK needs NET or ID */
    {"two families reach hold", {S(rcpt_1h, 61), S(new_rcpt_1h, 45), S(distinct_rcpt_1h, 50)},
     "", 0, NULL, RULES_HOLD, "NOV-1 VOL-1", 5},
    {"one family over hold score", {S(new_nets_1h, 4), S(new_nets_24h, 5), S(net_new, 1),
     S(net_first_seen, NOW)}, "", 0, NULL, RULES_WATCH, "NET-1 NET-2 NET-3", 6},
    {"hold disabled gives watch", {S(rcpt_1h, 61), S(new_rcpt_1h, 45),
     S(distinct_rcpt_1h, 50)}, "", E_NOHOLD, NULL, RULES_WATCH, "NOV-1 VOL-1", 5},
    {"one family, min_families 1", {S(new_nets_1h, 4), S(new_nets_24h, 5)}, "", 0,
     tw_min_families_1, RULES_HOLD, "NET-2 NET-3", 5},
    {"block score without NET or ID holds", {S(rcpt_1h, 300), S(new_rcpt_1h, 300),
     S(distinct_rcpt_1h, 300), S(new_rcpt_24h, 300), S(distinct_rcpt_24h, 300),
     S(rcpt_this_msg, 50)}, "", 0, NULL, RULES_HOLD, "NOV-1 NOV-2 NOV-4 VOL-2 SHP-2", 9},
    {"block with NET", {S(new_nets_1h, 4), S(new_nets_24h, 5), S(new_rcpt_1h, 40),
     S(distinct_rcpt_1h, 40)}, "", 0, NULL, RULES_BLOCK, "NET-2 NET-3 NOV-1", 8},
    {"block with ID", {S(net_first_seen, 0), S(sender_mismatch_1h, 31), S(new_rcpt_1h, 40), S(distinct_rcpt_1h, 40),
     S(rcpt_1h, 61)}, "", 0, NULL, RULES_BLOCK, "ID-1 NOV-1 VOL-1", 8},
    {"ID at 50% of the hour blocks", {S(net_first_seen, 0), S(sender_mismatch_1h, 30), S(new_rcpt_1h, 40),
     S(distinct_rcpt_1h, 40), S(rcpt_1h, 60), S(rcpt_this_msg, 60)}, "", 0, NULL, RULES_BLOCK,
     "ID-1 NOV-1 SHP-2", 8},
    {"a few alias recipients in a newsletter hour hold", {S(net_first_seen, 0), S(sender_mismatch_1h, 5),
     S(new_rcpt_1h, 40), S(distinct_rcpt_1h, 40), S(rcpt_1h, 61)}, "", 0, NULL, RULES_HOLD,
     "ID-1 NOV-1 VOL-1", 8},
    {"ID from a long-known network holds", {S(sender_mismatch_1h, 61), S(new_rcpt_1h, 40),
     S(distinct_rcpt_1h, 40), S(rcpt_1h, 61), S(net_first_seen, NOW - 30 * DAY)}, "", 0, NULL,
     RULES_HOLD, "ID-1 NOV-1 VOL-1", 8},
    {"ID from a network of today blocks", {S(sender_mismatch_1h, 61), S(new_rcpt_1h, 40),
     S(distinct_rcpt_1h, 40), S(rcpt_1h, 61), S(net_first_seen, NOW - 2 * HOUR)}, "", 0, NULL,
     RULES_BLOCK, "NET-1 ID-1 NOV-1 VOL-1", 9},
    {"ID share 0: any mismatch blocks", {S(net_first_seen, 0), S(sender_mismatch_1h, 1), S(new_rcpt_1h, 40),
     S(distinct_rcpt_1h, 40), S(rcpt_1h, 61)}, "", 0, tw_id1_block_pct_0, RULES_BLOCK,
     "ID-1 NOV-1 VOL-1", 8},
    {"score 7 with NET holds", {S(net_new, 1), S(net_first_seen, NOW), S(new_rcpt_1h, 40),
     S(distinct_rcpt_1h, 40), S(rcpt_1h, 201)}, "", 0, NULL, RULES_HOLD, "NET-1 NOV-1 VOL-2",
     7},
    {"net-2 alone is no third party: holds", {S(new_nets_24h, 5), S(new_rcpt_1h, 40),
     S(distinct_rcpt_1h, 40), S(rcpt_1h, 61), S(rcpt_this_msg, 50)}, "", 0, NULL, RULES_HOLD,
     "NET-2 NOV-1 VOL-1 SHP-2", 9},
    {"new net to a stranger blocks", {S(new_nets_24h, 5), S(net_new, 1), S(rcpt_new, 1),
     S(rcpt_dom_new, 1), S(net_first_seen, NOW), S(new_rcpt_1h, 40), S(distinct_rcpt_1h, 40),
     S(rcpt_1h, 61)}, "", 0, NULL, RULES_BLOCK, "NET-1 NET-2 NOV-1 VOL-1", 8},
    {"new net to a stranger at a known domain holds", {S(new_nets_24h, 5), S(net_new, 1),
     S(rcpt_new, 1), S(net_first_seen, NOW), S(new_rcpt_1h, 40), S(distinct_rcpt_1h, 40),
     S(rcpt_1h, 61)}, "", 0, NULL, RULES_HOLD, "NET-1 NET-2 NOV-1 VOL-1", 8},
    {"rotation to correspondents holds", {S(new_nets_1h, 4), S(new_nets_24h, 5),
     S(rcpt_1h, 61), S(rcpt_this_msg, 50), S(new_rcpt_1h, 4), S(distinct_rcpt_1h, 8)}, "", 0,
     NULL, RULES_HOLD, "NET-2 NET-3 VOL-1 SHP-2", 9},
    {"rotation to strangers blocks", {S(new_nets_1h, 4), S(new_nets_24h, 5), S(rcpt_1h, 61),
     S(rcpt_this_msg, 50), S(new_rcpt_1h, 7), S(distinct_rcpt_1h, 10)}, "", 0, NULL,
     RULES_BLOCK, "NET-2 NET-3 VOL-1 SHP-2", 9},
    {"rotation, strangers below 70%", {S(new_nets_1h, 4), S(new_nets_24h, 5), S(rcpt_1h, 61),
     S(rcpt_this_msg, 50), S(new_rcpt_1h, 7), S(distinct_rcpt_1h, 11)}, "", 0, NULL,
     RULES_HOLD, "NET-2 NET-3 VOL-1 SHP-2", 9},
    {"rotation, strangers below 5", {S(new_nets_1h, 4), S(new_nets_24h, 5), S(rcpt_1h, 61),
     S(rcpt_this_msg, 50), S(new_rcpt_1h, 4), S(distinct_rcpt_1h, 4)}, "", 0, NULL,
     RULES_HOLD, "NET-2 NET-3 VOL-1 SHP-2", 9},
    {"new net to a correspondent holds", {S(new_nets_24h, 5), S(net_new, 1),
     S(net_first_seen, NOW), S(new_rcpt_1h, 40), S(distinct_rcpt_1h, 40), S(rcpt_1h, 61)}, "",
     0, NULL, RULES_HOLD, "NET-1 NET-2 NOV-1 VOL-1", 8},
    {"block ignores hold_enabled", {S(new_nets_1h, 4), S(new_nets_24h, 5), S(new_rcpt_1h, 40),
     S(distinct_rcpt_1h, 40)}, "", E_NOHOLD, NULL, RULES_BLOCK, "NET-2 NET-3 NOV-1", 8},

    /* learning: NOV off, VOL and SHP on population defaults, NET and tripwires on */
    {"learning: nov off", {S(new_rcpt_1h, 45), S(distinct_rcpt_1h, 45), S(rcpt_1h, 45)}, "",
     E_FRESH, NULL, RULES_PASS, "", 0},
    {"learning: vol default floor", {S(rcpt_1h, 61), S(rcpt_24h, 61)}, "", E_FRESH, NULL,
     RULES_PASS, "VOL-1", 2},
    {"learning: default baseline 30", {S(rcpt_1h, 100)}, "", E_FRESH, tw_learning_default_30,
     RULES_PASS, "", 0},
    {"learned: own baseline 0", {S(rcpt_1h, 100), S(base_max_hour_rcpt, 0)}, "", 0,
     tw_learning_default_30, RULES_PASS, "VOL-1", 2},
    {"learning: shp on", {S(rcpt_this_msg, 25)}, "", E_FRESH, NULL, RULES_PASS, "SHP-1", 1},
    {"learning ends at 50 messages", {S(base_msgs, 50), S(first_seen, NOW - 14 * DAY),
     S(net_first_seen, NOW - 14 * DAY), S(new_rcpt_1h, 45), S(distinct_rcpt_1h, 45)}, "",
     E_FRESH, NULL, RULES_WATCH, "NOV-1", 3},
    {"learned by messages, nov waits 14 days", {S(base_msgs, 50),
     S(first_seen, NOW - 14 * DAY + 1), S(net_first_seen, NOW - 14 * DAY + 1),
     S(new_rcpt_1h, 45), S(distinct_rcpt_1h, 45)}, "", E_FRESH, NULL, RULES_PASS, "", 0},
    {"nov min days 0", {S(base_msgs, 50), S(new_rcpt_1h, 45), S(distinct_rcpt_1h, 45)}, "",
     E_FRESH, tw_nov_min_days_0, RULES_WATCH, "NOV-1", 3},
    {"learning at 49 messages", {S(base_msgs, 49), S(new_rcpt_1h, 45),
     S(distinct_rcpt_1h, 45)}, "", E_FRESH, NULL, RULES_PASS, "", 0},
    {"learning ends at 28 days", {S(first_seen, NOW - 28 * DAY), S(net_first_seen, NOW - 28 * DAY), S(new_rcpt_1h, 45),
     S(distinct_rcpt_1h, 45)}, "", E_FRESH, NULL, RULES_WATCH, "NOV-1", 3},
    {"learning at 27 days", {S(first_seen, NOW - 27 * DAY), S(net_first_seen, NOW - 27 * DAY), S(new_rcpt_1h, 45),
     S(distinct_rcpt_1h, 45)}, "", E_FRESH, NULL, RULES_PASS, "", 0},

    /* probation: floors, counts and ladder at 50 %, NET-1 worth 2 */
    {"probation: vol1 floor 30", {S(rcpt_1h, 31), S(base_max_hour_rcpt, 5)}, "", E_PROBATION, NULL, RULES_WATCH,
     "VOL-1", 2},
    {"probation: vol1 at 30", {S(rcpt_1h, 30), S(base_max_hour_rcpt, 5)}, "", E_PROBATION, NULL, RULES_PASS, "", 0},
    {"probation: new net + vol1 blocks", {S(rcpt_1h, 31), S(net_new, 1), S(net_first_seen, NOW),
     S(base_max_hour_rcpt, 5), S(rcpt_new, 1), S(rcpt_dom_new, 1), S(new_rcpt_1h, 3)},
     "", E_PROBATION, NULL, RULES_BLOCK, "NET-1 VOL-1", 4},
    {"probation: net1 points 0", {S(rcpt_1h, 31), S(net_new, 1), S(net_first_seen, NOW), S(base_max_hour_rcpt, 5)}, "",
     E_PROBATION, tw_cheap_net1_probation, RULES_WATCH, "NET-1 VOL-1", 2},
    {"probation: a NET-1 worth 0 points is no third party", {S(rcpt_1h, 31), S(net_new, 1),
     S(net_first_seen, NOW), S(base_max_hour_rcpt, 5), S(rcpt_new, 1), S(rcpt_dom_new, 1),
     S(new_rcpt_1h, 13), S(distinct_rcpt_1h, 13)}, "", E_PROBATION, tw_cheap_net1_probation,
     RULES_HOLD, "NET-1 NOV-1 VOL-1", 5},
    {"probation: nov1 at 13", {S(new_rcpt_1h, 13), S(distinct_rcpt_1h, 13)}, "", E_PROBATION,
     NULL, RULES_WATCH, "NOV-1", 3},
    {"probation: nov1 below 13", {S(new_rcpt_1h, 12), S(distinct_rcpt_1h, 12)}, "",
     E_PROBATION, NULL, RULES_PASS, "", 0},
    {"probation: hold at 3", {S(new_rcpt_1h, 20), S(distinct_rcpt_1h, 20),
     S(rcpt_this_msg, 13)}, "", E_PROBATION, NULL, RULES_HOLD, "NOV-1 SHP-1", 4},
    {"probation: trip-net at 5", {S(new_nets_1h, 5), S(new_nets_24h, 5), S(rcpt_1h, 10),
     S(rcpt_24h, 10)}, "", E_PROBATION, NULL, RULES_BLOCK, "TRIP-NET NET-2 NET-3", 5},
    {"probation over", {S(probation_until, NOW), S(rcpt_1h, 31), S(base_max_hour_rcpt, 5)}, "", 0, NULL, RULES_PASS, "",
     0},

    /* profiles */
    {"bulk: vol x10", {S(rcpt_1h, 600), S(rcpt_24h, 600)}, "bulk", 0, NULL, RULES_PASS, "", 0},
    {"bulk: vol1 above x10", {S(rcpt_1h, 601), S(rcpt_24h, 601)}, "bulk", 0, NULL, RULES_PASS,
     "VOL-1", 2},
    {"bulk: nov off, shp x10", {S(new_rcpt_1h, 300), S(distinct_rcpt_1h, 300),
     S(rcpt_this_msg, 249)}, "bulk", 0, NULL, RULES_PASS, "", 0},
    {"bulk: net unchanged", {S(new_nets_1h, 10), S(new_nets_24h, 10), S(rcpt_1h, 20)}, "bulk",
     0, NULL, RULES_BLOCK, "TRIP-NET NET-2 NET-3", 5},
    {"outreach: nov1 x3 below", {S(new_rcpt_1h, 74), S(distinct_rcpt_1h, 74)}, "outreach", 0,
     NULL, RULES_PASS, "", 0},
    {"outreach: nov1 x3 at", {S(new_rcpt_1h, 75), S(distinct_rcpt_1h, 75)}, "outreach", 0,
     NULL, RULES_WATCH, "NOV-1", 3},
    {"system: new net holds", {S(net_new, 1), S(net_first_seen, NOW), S(new_nets_24h, 1)},
     "system", 0, NULL, RULES_HOLD, "NET-1 SYS-NET", 1},
    {"system: new net earlier today holds", {S(new_nets_24h, 1)}, "system", 0, NULL,
     RULES_HOLD, "SYS-NET", 0},
    {"system: hold disabled", {S(new_nets_24h, 1)}, "system", E_NOHOLD, NULL, RULES_WATCH,
     "SYS-NET", 0},
    {"system: known nets pass", {S(rcpt_1h, 30)}, "system", 0, NULL, RULES_PASS, "", 0},
    {"system: fresh mailbox", {S(new_nets_24h, 1), S(net_new, 1)}, "system", E_FRESH, NULL,
     RULES_PASS, "", 0},
    {"traveller: one new net ignored", {S(net_new, 1), S(net_first_seen, NOW),
     S(new_nets_1h, 1), S(new_nets_24h, 1)}, "traveller", 0, NULL, RULES_PASS, "", 0},
    {"traveller: 3 new nets count as 2", {S(new_nets_1h, 3), S(new_nets_24h, 3)},
     "traveller", 0, NULL, RULES_PASS, "", 0},
    {"traveller: rotation counts", {S(new_nets_1h, 5), S(new_nets_24h, 6)}, "traveller", 0,
     NULL, RULES_WATCH, "NET-2 NET-3", 5},
    {"traveller: trip at 11", {S(new_nets_1h, 11), S(new_nets_24h, 11), S(rcpt_1h, 20)},
     "traveller", 0, NULL, RULES_BLOCK, "TRIP-NET NET-2 NET-3", 5},
    {"unknown profile counts as none", {S(rcpt_1h, 61)}, "vip", 0, NULL, RULES_PASS, "VOL-1",
     2},

    /* states */
    {"exempt passes everything", {S(exempt, 1), S(new_nets_1h, 50), S(new_nets_24h, 50),
     S(rcpt_1h, 900), S(sender_mismatch_1h, 9)}, "", 0, NULL, RULES_PASS, "", 0},
    {"capped defers", {S(capped, 1), S(cap_limit, 500), S(cap_value, 500), S(counted, 0)}, "",
     0, NULL, RULES_DEFER, "CAP-H", 0},
    {"capped day", {S(capped, 2), S(cap_limit, 2000), S(cap_value, 2000)}, "", 0, NULL,
     RULES_DEFER, "CAP-D", 0},
    {"capped messages", {S(capped, 4), S(cap_limit, 1000), S(cap_value, 1000)}, "", 0, NULL,
     RULES_DEFER, "CAP-MD", 0},
    {"capped unknown kind", {S(capped, 9), S(cap_limit, 1), S(cap_value, 1)}, "", 0, NULL,
     RULES_DEFER, "CAP", 0},
    {"capped while hold-worthy defers", {S(capped, 1), S(rcpt_1h, 500), S(new_rcpt_1h, 400),
     S(distinct_rcpt_1h, 400)}, "", 0, NULL, RULES_DEFER, "CAP-H NOV-1 VOL-2", 6},
    {"capped with tripwire blocks", {S(capped, 1), S(new_nets_1h, 12), S(new_nets_24h, 12),
     S(rcpt_1h, 500)}, "", 0, NULL, RULES_BLOCK, "CAP-H TRIP-NET NET-2 NET-3 VOL-2", 8},
    {"exempt is never capped", {S(exempt, 1), S(capped, 1)}, "", 0, NULL, RULES_PASS, "", 0},
    {"blocked", {S(blocked, 1), S(block_created, NOW - 60), S(new_nets_1h, 0)}, "", 0, NULL,
     RULES_BLOCK, "BLOCKED", 0},
    {"blocked beats exempt", {S(blocked, 1), S(exempt, 1)}, "", 0, NULL, RULES_BLOCK,
     "BLOCKED", 0},
};
/* clang-format on */

static void apply(struct rl_signals *s, const struct set *set)
{
    size_t i;

    for (i = 0; i < MAX_SET && set[i].off != 0; i++)
        memcpy((char *)s + set[i].off - 1, &set[i].v, sizeof(set[i].v));
}

/* fired_ids - the fired ids in order, space-separated. */
static void fired_ids(const struct rules_verdict *v, char *buf, size_t len)
{
    size_t i;

    buf[0] = '\0';
    for (i = 0; i < v->nfired; i++) {
        if (i > 0)
            strncat(buf, " ", len - strlen(buf) - 1);
        strncat(buf, v->fired[i].id, len - strlen(buf) - 1);
    }
}

static void eval_env(struct rl_signals *s, unsigned env, const struct rules_params *p,
                     struct rules_verdict *v)
{
    struct rules_input in = {NOW, p, 28 * DAY, 50, !(env & E_NOHOLD)};

    ASSERT_EQ(rules_eval(s, &in, v), 0);
}

static void run_case(const struct rcase *c)
{
    struct rl_signals s;
    struct rules_params p;
    struct rules_verdict v;
    char ids[256];

    if (c->env & E_FRESH)
        fresh(&s);
    else
        established(&s);
    if (c->env & E_PROBATION)
        s.probation_until = NOW + HOUR;
    snprintf(s.profile, sizeof(s.profile), "%s", c->profile);
    apply(&s, c->set);
    rules_params_defaults(&p);
    if (c->tweak != NULL)
        c->tweak(&p);
    eval_env(&s, c->env, &p, &v);
    fired_ids(&v, ids, sizeof(ids));
    if (v.action != c->want || strcmp(ids, c->want_ids) != 0 ||
        (c->want_score >= 0 && v.score != c->want_score)) {
        char ev[RULES_EVIDENCE_MAX];

        rules_format_evidence(&v, ev, sizeof(ev));
        fprintf(stderr, "case \"%s\": got %s score %d [%s]: %s\n", c->name,
                rules_action_name(v.action), v.score, ids, ev);
    }
    ASSERT_STR_EQ(rules_action_name(v.action), rules_action_name(c->want));
    ASSERT_STR_EQ(ids, c->want_ids);
    if (c->want_score >= 0)
        ASSERT_EQ(v.score, c->want_score);
    TEST_PASS(c->name);
}

static void test_table(void)
{
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
}

/* ---- evidence -------------------------------------------------------------------------- */

static void eval_default(struct rl_signals *s, struct rules_verdict *v)
{
    struct rules_params p;

    rules_params_defaults(&p);
    eval_env(s, 0, &p, v);
}

static void test_texts(void)
{
    struct rl_signals s;
    struct rules_verdict v;
    char buf[RULES_EVIDENCE_MAX];

    established(&s);
    s.rcpt_1h = s.rcpt_24h = s.distinct_rcpt_1h = 143;
    s.new_rcpt_1h = 138;
    eval_default(&s, &v);
    ASSERT_EQ(v.action, RULES_HOLD);
    ASSERT_STR_EQ(v.fired[0].text, "138 of 143 recipients (96%) in 60 min never mailed before "
                                   "(threshold 25 and 80%)");
    ASSERT_EQ(v.fired[0].observed[0], 138);
    ASSERT_EQ(v.fired[0].observed[1], 143);
    ASSERT_EQ(v.fired[0].threshold[0], 25);
    ASSERT_EQ(v.fired[0].threshold[1], 80);
    ASSERT_STR_EQ(v.fired[1].text, "143 recipients in 60 min; busiest hour of the last 28 "
                                   "days: 10 (threshold 60)");
    ASSERT_EQ(rules_format_evidence(&v, buf, sizeof(buf)), 0);
    ASSERT_STR_EQ(buf, "NOV-1(+3) 138/143 new rcpt 60m>=25&80%; VOL-1(+2) 143 rcpt 60m>60");
    ASSERT_EQ(rules_format_families(v.families, buf, sizeof(buf)), 0);
    ASSERT_STR_EQ(buf, "VOL+NOV");
    ASSERT_TRUE(rules_fired_has(&v, "NOV-1"));
    ASSERT_TRUE(!rules_fired_has(&v, "NOV-2"));
    ASSERT_TRUE(!rules_fired_has(NULL, "NOV-1"));
    TEST_PASS("helpdesk text and log line");

    /* the cut line: NUL-terminated, ends in "...", and says so */
    ASSERT_EQ(rules_format_evidence(&v, buf, 20), RULES_ERR_SPACE);
    ASSERT_STR_EQ(buf, "NOV-1(+3) ..."); /* cut between pieces, never inside one */
    ASSERT_EQ(rules_format_evidence(&v, buf, 13), RULES_ERR_SPACE);
    ASSERT_STR_EQ(buf, "NOV-1(+3)...");
    ASSERT_EQ(rules_format_evidence(&v, buf, 3), RULES_ERR_SPACE);
    ASSERT_STR_EQ(buf, "");
    ASSERT_EQ(rules_format_evidence(&v, buf, 0), RULES_ERR_ARG);
    ASSERT_EQ(rules_format_evidence(NULL, buf, 10), RULES_ERR_ARG);
    ASSERT_EQ(rules_format_families(0, buf, sizeof(buf)), 0);
    ASSERT_STR_EQ(buf, "");
    TEST_PASS("evidence cut to the buffer");
}

static void test_texts_states(void)
{
    struct rl_signals s;
    struct rules_verdict v;
    char buf[RULES_EVIDENCE_MAX];

    established(&s);
    s.blocked = 1;
    snprintf(s.block_ref, sizeof(s.block_ref), "PD-7F3A\x01\n9C21");
    snprintf(s.block_reason, sizeof(s.block_reason), "compromise");
    eval_default(&s, &v);
    ASSERT_STR_EQ(v.ref, "PD-7F3A??9C21");
    ASSERT_EQ(rules_format_evidence(&v, buf, sizeof(buf)), 0);
    ASSERT_STR_EQ(buf, "BLOCKED(block) ref PD-7F3A??9C21 compromise");
    memset(s.block_ref, 'A', sizeof(s.block_ref)); /* not NUL-terminated */
    eval_default(&s, &v);
    ASSERT_EQ(strlen(v.ref), RULES_REF_MAX - 1);
    TEST_PASS("blocked: reference copied, sanitised, bounded");

    established(&s);
    s.capped = 1;
    s.cap_limit = 500;
    s.cap_value = 500;
    s.limit_src = SIGNALS_SRC_MAILBOX;
    s.probation_until = NOW + 10;
    snprintf(s.profile, sizeof(s.profile), "bulk");
    eval_default(&s, &v);
    ASSERT_EQ(rules_format_evidence(&v, buf, sizeof(buf)), 0);
    ASSERT_STR_EQ(buf, "CAP-H(defer) rcpt 60m 500, cap 500 (mailbox) [probation profile=bulk]");
    ASSERT_STR_EQ(v.fired[0].text, "recipients per 60 min limit 500 (mailbox) reached with 500; "
                                   "this recipient was refused and not counted");
    TEST_PASS("cap evidence and context");

    established(&s);
    s.new_nets_1h = s.new_nets_24h = 12;
    s.rcpt_1h = s.rcpt_24h = 37;
    s.new_rcpt_24h = 24; /* 70 % of the day's 34 (TRIP-NET24), under NOV-2's 25 */
    s.distinct_rcpt_24h = 34;
    s.net_new = 1;
    s.net_first_seen = NOW;
    s.probation_until = NOW + 1;
    eval_default(&s, &v);
    ASSERT_EQ(rules_format_evidence(&v, buf, sizeof(buf)), 0);
    ASSERT_STR_EQ(buf, "TRIP-NET(block) 12 new nets 60m>=5, 37 rcpt; TRIP-NET24(block) 12 new "
                       "nets 24h>=8, 37 rcpt; NET-1(+2) new net; NET-2(+2) 12 new nets 24h>=3; "
                       "NET-3(+2/3) 12 new nets 60m>=2 [probation]");
    TEST_PASS("tripwire evidence, family cap shown");

    established(&s);
    s.net_first_seen = 0;
    s.new_nets_24h = s.distinct_nets_24h = 1;
    s.new_rcpt_24h = s.distinct_rcpt_24h = 180;
    s.rcpt_24h = 181;
    eval_default(&s, &v);
    ASSERT_EQ(v.action, RULES_HOLD);
    ASSERT_EQ(rules_format_evidence(&v, buf, sizeof(buf)), 0);
    ASSERT_STR_EQ(buf, "NET-1(+1) net new in 24h (1 of 1 nets); NOV-2(+2) 180/180 new rcpt "
                       "24h>=50&70%; NOV-4(+2) 180/180 new rcpt 24h>=150&90%");
    ASSERT_STR_EQ(v.fired[0].text, "this request comes from a network first used in the last "
                                   "24 h: the 1 network(s) this mailbox used in the last 24 h "
                                   "are all new to it");
    ASSERT_EQ(v.fired[0].observed[0], 1);
    ASSERT_EQ(v.fired[0].observed[1], 1);
    ASSERT_STR_EQ(v.fired[2].text, "180 of 180 recipients (100%) in 24 h never mailed before "
                                   "(threshold 150 and 90%)");
    TEST_PASS("NET-1 without first-seen signal and NOV-4 evidence");
}

static void test_names(void)
{
    struct rules_verdict v;
    struct rl_signals s;
    struct rules_params p;
    struct rules_input in = {NOW, NULL, 0, 0, true};

    ASSERT_STR_EQ(rules_action_name(RULES_PASS), "PASS");
    ASSERT_STR_EQ(rules_action_name(RULES_BLOCK), "BLOCK");
    ASSERT_STR_EQ(rules_action_name((enum rules_action)77), "UNKNOWN");
    ASSERT_STR_EQ(rules_family_name(RULES_FAM_ID), "ID");
    ASSERT_STR_EQ(rules_profile_name(RULES_PROF_TRAVELLER), "traveller");
    ASSERT_STR_EQ(rules_profile_name(RULES_PROF_NONE), "none");
    ASSERT_STR_EQ(rules_strerror(RULES_ERR_SPACE), "evidence text does not fit the buffer");
    ASSERT_STR_EQ(rules_strerror(-99), "unknown rules error");
    established(&s);
    ASSERT_EQ(rules_eval(&s, &in, &v), RULES_ERR_ARG);
    ASSERT_EQ(v.action, RULES_PASS);
    rules_params_defaults(&p);
    in.params = &p;
    ASSERT_EQ(rules_eval(NULL, &in, &v), RULES_ERR_ARG);
    ASSERT_EQ(rules_eval(&s, &in, NULL), RULES_ERR_ARG);
    ASSERT_EQ(p.hold_score, 5);
    ASSERT_EQ(p.block_score, 8);
    ASSERT_EQ(p.trip_nets_1h, 10);
    TEST_PASS("names, errors, defaults");
}

static void test_extremes(void)
{
    struct rl_signals s;
    struct rules_verdict v;
    struct rules_params p;
    char buf[RULES_EVIDENCE_MAX];
    size_t i;

    memset(&s, 0xff, sizeof(s)); /* every count -1, strings without a NUL */
    eval_default(&s, &v);
    ASSERT_EQ(v.action, RULES_PASS); /* every -1 clamps to 0, "blocked" included */
    ASSERT_EQ(v.nfired, 0);
    ASSERT_EQ(v.profile, RULES_PROF_UNKNOWN);
#define BIG_FIELD(n) s.n = 0x7fffffffffffffffLL;
    SIGNALS_INTS(BIG_FIELD)
#undef BIG_FIELD
    s.blocked = s.exempt = 0;
    rules_params_defaults(&p);
#define MAX_PARAM(f, d, lo, hi) p.f = (hi);
    RULES_PARAMS(MAX_PARAM)
#undef MAX_PARAM
    eval_env(&s, 0, &p, &v);
    ASSERT_TRUE(v.nfired <= RULES_MAX_FIRED);
    for (i = 0; i < v.nfired; i++) {
        ASSERT_TRUE(memchr(v.fired[i].brief, '\0', sizeof(v.fired[i].brief)) != NULL);
        ASSERT_TRUE(memchr(v.fired[i].text, '\0', sizeof(v.fired[i].text)) != NULL);
    }
    ASSERT_TRUE(rules_format_evidence(&v, buf, sizeof(buf)) == 0);
    TEST_PASS("extreme signals and parameters");
}

/* ---- scenarios ------------------------------------------------------------------------- */

/* One recipient of a simulated stream, as track.lua would count it. */
struct ev {
    long long t;
    int net;         /* 0..KNOWN_NETS-1: the mailbox's usual networks */
    int msg;         /* message number */
    bool rnew;       /* recipient never mailed before */
    bool dnew;       /* its domain never mailed before */
    bool first;      /* (prepared) the first use of a never-seen network */
    long long net_t; /* (prepared) when its network was first used */
};

#define KNOWN_NETS 3
#define MAX_EV 800
#define SIM_NETS (MAX_EV + KNOWN_NETS + 1)
#define SIM_PHONE (SIM_NETS - 1) /* a never-seen network used before the stream */

struct sim {
    struct rl_signals base; /* the mailbox before the stream (counts are added to it) */
    struct ev ev[MAX_EV];
    int n;
    bool first_seen_signal; /* the script returns net_first_seen */
    int prior[2];           /* networks the mailbox used earlier in the last 24 h */
    int nprior;
};

static void sim_init(struct sim *m, int n, bool first_seen_signal)
{
    memset(m, 0, sizeof(*m));
    established(&m->base);
    m->n = n;
    m->first_seen_signal = first_seen_signal;
}

/* sim_prepare - which recipients were the first from a never-seen network, and when each
 * recipient's network was first used. */
static void sim_prepare(struct sim *m)
{
    int i, j;

    for (i = 0; i < m->n; i++) {
        struct ev *e = &m->ev[i];

        e->first = e->net >= KNOWN_NETS;
        e->net_t = e->net < KNOWN_NETS ? NOW - 30 * DAY : e->t;
        for (j = 0; j < i && e->net >= KNOWN_NETS; j++) {
            if (m->ev[j].net == e->net) {
                e->first = false;
                e->net_t = m->ev[j].t;
                break;
            }
        }
    }
}

/* sim_signals - the signals after recipient k (0-based) of the stream. */
static void sim_signals(const struct sim *m, int k, struct rl_signals *s)
{
    static bool used[SIM_NETS];
    const struct ev *e = &m->ev[k];
    int i;

    *s = m->base;
    memset(used, 0, sizeof(used));
    s->distinct_nets_24h = m->nprior;
    for (i = 0; i < m->nprior; i++)
        used[m->prior[i]] = true;
    for (i = 0; i <= k; i++) {
        const struct ev *x = &m->ev[i];
        bool in1h = x->t > e->t - HOUR;

        if (x->t > e->t - DAY && !used[x->net]) {
            used[x->net] = true;
            s->distinct_nets_24h++;
        }

        s->rcpt_1h += in1h;
        s->rcpt_24h++;
        s->distinct_rcpt_1h += in1h;
        s->distinct_rcpt_24h++;
        s->new_rcpt_1h += in1h && x->rnew;
        s->new_rcpt_24h += x->rnew;
        s->new_dom_1h += in1h && x->dnew;
        s->distinct_dom_1h += in1h && x->dnew;
        s->new_nets_1h += in1h && x->first;
        s->new_nets_24h += x->first;
        s->rcpt_this_msg += x->msg == e->msg;
    }
    s->net_new = e->first;
    s->rcpt_new = e->rnew;
    s->rcpt_dom_new = e->dnew;
    s->net_first_seen = m->first_seen_signal ? e->net_t : 0;
}

/* sim_run - evaluate after every recipient: the first recipient (1-based) at which the
 * verdict reached HOLD and BLOCK (0 = never), and the highest action seen. */
static enum rules_action sim_run(struct sim *m, bool hold, int *at_hold, int *at_block)
{
    struct rules_params p;
    struct rules_input in = {0, &p, 28 * DAY, 50, hold};
    enum rules_action top = RULES_PASS;
    int k;

    rules_params_defaults(&p);
    sim_prepare(m);
    *at_hold = *at_block = 0;
    for (k = 0; k < m->n; k++) {
        struct rl_signals s;
        struct rules_verdict v;

        sim_signals(m, k, &s);
        in.now = m->ev[k].t;
        ASSERT_EQ(rules_eval(&s, &in, &v), 0);
        if (v.action > top)
            top = v.action;
        if (v.action >= RULES_HOLD && *at_hold == 0)
            *at_hold = k + 1;
        if (v.action == RULES_BLOCK && *at_block == 0) {
            *at_block = k + 1;
            if (verbose > 1) {
                char ev[RULES_EVIDENCE_MAX];

                rules_format_evidence(&v, ev, sizeof(ev));
                printf("    blocked at %d: %s\n", k + 1, ev);
            }
        }
    }
    return top;
}

/* Scenario 1: a burst through rotating proxies. Messages of msg_size recipients, one
 * recipient every 2 s, a new network every 'every' recipients, every recipient and half
 * of the domains never mailed before. */
static void build_burst(struct sim *m, int every, int msg_size, bool fs)
{
    int i;

    sim_init(m, 200, fs);
    m->base.rcpt_24h = m->base.distinct_rcpt_24h = 8; /* the owner's morning */
    m->prior[m->nprior++] = 0;                        /* at the office */
    for (i = 0; i < m->n; i++) {
        m->ev[i].t = NOW + 2LL * i;
        m->ev[i].net = KNOWN_NETS + i / every;
        m->ev[i].msg = i / msg_size;
        m->ev[i].rnew = true;
        m->ev[i].dnew = i % 2 == 0;
    }
}

static void test_scenario_burst(void)
{
    static const int every[] = {1, 2, 3, 4, 5, 8, 10, 13, 20, 40};
    static const int sizes[] = {1, 5, 20, 50};
    size_t i, j;
    int fs;

    for (fs = 0; fs <= 1; fs++) {
        for (i = 0; i < sizeof(every) / sizeof(every[0]); i++) {
            for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
                static struct sim m;
                int at_hold, at_block;

                build_burst(&m, every[i], sizes[j], fs);
                sim_run(&m, true, &at_hold, &at_block);
                if (verbose)
                    printf("  burst: new net every %2d rcpt, %2d rcpt/msg, net_first_seen %s: "
                           "HOLD at %3d, BLOCK at %3d\n",
                           every[i], sizes[j], fs ? "yes" : "no ", at_hold, at_block);
                /* Held from recipient 41 at the latest (the messages stay in the hold
                 * queue: nothing more leaks), at any rotation rate. Blocked by 41 when a
                 * new network comes every 13 recipients or faster (every 26 s), by 125
                 * when slower: NET-2 needs 5 never-seen networks in 24 h and NET-3 4 in
                 * 60 min, the defaults the simulator chose (docs/SIMULATOR.md: with 3
                 * and 3, phones behind carrier-grade NAT were held more often, for a
                 * block one network earlier here). */
                ASSERT_TRUE(at_hold > 0 && at_hold <= 41);
                ASSERT_TRUE(at_block > 0 && at_block <= (every[i] <= 13 ? 41 : 125));
            }
        }
    }
    TEST_PASS("scenario 1: rotating-proxy burst held by recipient 41, blocked by 41 (fast rotation) or 125");
}

/* Scenario 2: a mailbox whose busiest hour is 30 doubles it: 60 recipients in an hour,
 * 1-3 per message, 10 % of them new, from its usual network. */
static void test_scenario_doubling(void)
{
    static struct sim m;
    int i, at_hold, at_block;
    enum rules_action top;

    sim_init(&m, 60, true);
    m.base.base_max_hour_rcpt = 30;
    m.base.base_max_day_rcpt = 150;
    m.base.rcpt_24h = m.base.distinct_rcpt_24h = 60;
    m.prior[m.nprior++] = 0;
    m.prior[m.nprior++] = 1;
    m.base.distinct_dom_1h = 8;
    for (i = 0; i < m.n; i++) {
        m.ev[i].t = NOW + 55LL * i;
        m.ev[i].net = i % 2;
        m.ev[i].msg = i / 2;
        m.ev[i].rnew = i % 10 == 0;
        m.ev[i].dnew = i % 20 == 0;
    }
    top = sim_run(&m, true, &at_hold, &at_block);
    if (verbose)
        printf("  doubling: highest verdict %s\n", rules_action_name(top));
    ASSERT_TRUE(top <= RULES_WATCH);
    TEST_PASS("scenario 2: doubling to known correspondents passes");
}

/* Scenario 3: a first newsletter, 300 new recipients in messages of 50, from the office
 * network; 60 % of the domains new; the owner's phone used a new network this morning. */
static void build_newsletter(struct sim *m)
{
    int i;

    sim_init(m, 300, true);
    m->base.rcpt_24h = m->base.distinct_rcpt_24h = 10;
    m->base.distinct_dom_1h = 5;
    m->base.new_nets_24h = 1; /* the phone, this morning */
    m->prior[m->nprior++] = SIM_PHONE;
    for (i = 0; i < m->n; i++) {
        m->ev[i].t = NOW + 3LL * i + (i / 50) * 120;
        m->ev[i].net = 0;
        m->ev[i].msg = i / 50;
        m->ev[i].rnew = true;
        m->ev[i].dnew = i % 5 < 3;
    }
}

static void test_scenario_newsletter(void)
{
    static struct sim m;
    int at_hold, at_block;
    enum rules_action top;

    build_newsletter(&m);
    top = sim_run(&m, true, &at_hold, &at_block);
    if (verbose)
        printf("  newsletter: highest %s, HOLD at %d\n", rules_action_name(top), at_hold);
    ASSERT_EQ(top, RULES_HOLD);
    ASSERT_EQ(at_block, 0);
    ASSERT_TRUE(at_hold > 0 && at_hold <= 50);
    top = sim_run(&m, false, &at_hold, &at_block);
    ASSERT_EQ(top, RULES_WATCH);
    TEST_PASS("scenario 3: first newsletter holds, never blocks");
}

/* Scenario 4: a contact-list scam: the attacker on one new foreign network sends BCC
 * messages of 50 of the victim's own contacts (3 % new) every 3 minutes. */
static void build_contacts(struct sim *m, bool fs, bool owner_today)
{
    int i;

    sim_init(m, 500, fs);
    m->base.rcpt_24h = m->base.distinct_rcpt_24h = 12;
    m->base.distinct_dom_1h = 10;
    if (owner_today)
        m->prior[m->nprior++] = 0;
    for (i = 0; i < m->n; i++) {
        m->ev[i].t = NOW + (i / 50) * 180LL + (i % 50);
        m->ev[i].net = KNOWN_NETS; /* one foreign network */
        m->ev[i].msg = i / 50;
        m->ev[i].rnew = i % 33 == 0;
        m->ev[i].dnew = false;
    }
}

static void test_scenario_contacts(void)
{
    static struct sim m;
    int at_hold, at_block, fs, owner;
    enum rules_action top;

    for (owner = 0; owner <= 1; owner++) {
        for (fs = 1; fs >= 0; fs--) {
            build_contacts(&m, fs, owner);
            top = sim_run(&m, true, &at_hold, &at_block);
            if (verbose)
                printf("  contact scam, net_first_seen %s, owner at the office today %s: "
                       "highest %s, HOLD at %d, BLOCK at %d\n",
                       fs ? "yes" : "no ", owner ? "yes" : "no ", rules_action_name(top), at_hold,
                       at_block);
            ASSERT_TRUE(at_hold > 0);
            /* NET-1 lasts all day: from the signal, or (owner away) from "every network
             * of the day is new" */
            if (fs || !owner)
                ASSERT_TRUE(at_hold <= 100);
        }
    }
    TEST_PASS("scenario 4: contact-list scam held");
}

/* Scenario 5 (detection.md 4.2 C/D on one network): list spam from ONE never-seen
 * network, 30 one-recipient messages an hour for 24 h, every recipient never mailed
 * before: under NOV-1's hourly count. Contained by NET-1 + NOV-2 + NOV-4 (HOLD) when
 * NET-1 is known all day, else by NOV + VOL-3; never blocked (no rotation, no ID). */
static void test_scenario_slow_one_net(void)
{
    static struct sim m;
    int i, at_hold, at_block, fs, owner;
    enum rules_action top;

    for (owner = 0; owner <= 1; owner++) {
        for (fs = 1; fs >= 0; fs--) {
            sim_init(&m, 720, fs);
            if (owner)
                m.prior[m.nprior++] = 0;
            for (i = 0; i < m.n; i++) {
                m.ev[i].t = NOW + 120LL * i;
                m.ev[i].net = KNOWN_NETS;
                m.ev[i].msg = i;
                m.ev[i].rnew = true;
                m.ev[i].dnew = i % 2 == 0;
            }
            top = sim_run(&m, true, &at_hold, &at_block);
            if (verbose)
                printf("  slow one network, net_first_seen %s, owner at the office today %s: "
                       "highest %s, HOLD at %d, BLOCK at %d\n",
                       fs ? "yes" : "no ", owner ? "yes" : "no ", rules_action_name(top), at_hold,
                       at_block);
            ASSERT_EQ(at_block, 0);
            ASSERT_TRUE(at_hold > 0 && at_hold <= (fs || !owner ? 150 : 401));
        }
    }
    TEST_PASS("scenario 5: slow list spam from one new network held, not blocked");
}

/* Slow rotation (detection.md 4.2 C and D): one recipient per message, a new network per
 * message, 10 messages per hour. */
static void test_scenario_slow(void)
{
    static struct sim m;
    int i, at_hold, at_block, per_hour;

    for (per_hour = 10; per_hour <= 30; per_hour += 20) {
        sim_init(&m, 100, true);
        for (i = 0; i < m.n; i++) {
            m.ev[i].t = NOW + (HOUR / per_hour) * i;
            m.ev[i].net = KNOWN_NETS + i;
            m.ev[i].msg = i;
            m.ev[i].rnew = true;
            m.ev[i].dnew = true;
        }
        sim_run(&m, true, &at_hold, &at_block);
        if (verbose)
            printf("  slow rotation, %d msgs/h: HOLD at %d, BLOCK at %d\n", per_hour, at_hold,
                   at_block);
        ASSERT_TRUE(at_block > 0 && at_block <= 20);
    }
    TEST_PASS("slow rotation blocked by recipient 20");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        verbose = strcmp(argv[1], "-vv") == 0 ? 2 : strcmp(argv[1], "-v") == 0;
    test_table();
    test_texts();
    test_texts_states();
    test_names();
    test_extremes();
    test_scenario_burst();
    test_scenario_doubling();
    test_scenario_newsletter();
    test_scenario_contacts();
    test_scenario_slow();
    test_scenario_slow_one_net();
    TEST_SUMMARY();
    return 0;
}
