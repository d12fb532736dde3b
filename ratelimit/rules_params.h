/* SPDX-License-Identifier: MIT */
#ifndef PD_RULES_PARAMS_H
#define PD_RULES_PARAMS_H

/*
 * rules_params - every rule threshold as one row, so the rule engine, the config table
 * and the documentation stay in step. Each row becomes a policyd.conf key named
 * "rule_<field>" holding an integer in [min, max].
 *
 * X(field, default, min, max)
 *
 * Owned by the rules module: add a row here, use it in rules.c, document the key in the
 * rules section of policyd.conf. config.c picks the rows up by itself.
 *
 * Units: counts of recipients, networks or points; *_mult are plain factors applied to
 * the mailbox's own baseline; *_pct are percentages (0..100). The bounds keep every
 * product the engine forms far from overflow (and rules.c saturates anyway).
 */

#define RULES_PARAMS(X)                                                                    \
    /* the ladder */                                                                       \
    X(watch_score, 3, 1, 1000)                                                             \
    X(hold_score, 5, 1, 1000)                                                              \
    X(block_score, 8, 1, 1000)                                                             \
    X(min_families, 2, 1, 5)                                                               \
    /* VOL: recipients against the mailbox's busiest hour / day */                         \
    X(vol1_floor, 60, 1, 10000000)                                                         \
    X(vol1_mult, 4, 1, 1000)                                                               \
    X(vol2_floor, 150, 1, 10000000)                                                        \
    X(vol2_mult, 10, 1, 1000)                                                              \
    X(vol3_floor, 400, 1, 10000000)                                                        \
    X(vol3_mult, 4, 1, 1000)                                                               \
    /* 1: from a never-seen network (NET-1), VOL and SHP use their floors alone */         \
    X(newnet_floors, 1, 0, 1)                                                              \
    /* baselines assumed while a mailbox is learning */                                    \
    X(default_busiest_hour, 10, 0, 1000000)                                                \
    X(default_busiest_day, 40, 0, 1000000)                                                 \
    X(default_largest_msg, 5, 0, 1000000)                                                  \
    /* NOV: never-mailed recipients and domains, count and share */                        \
    X(nov1_min, 25, 1, 10000000)                                                           \
    X(nov1_pct, 80, 0, 100)                                                                \
    X(nov2_min, 50, 1, 10000000)                                                           \
    X(nov2_pct, 70, 0, 100)                                                                \
    X(nov3_min, 20, 1, 10000000)                                                           \
    X(nov3_pct, 70, 0, 100)                                                                \
    X(nov4_min, 150, 1, 10000000)                                                          \
    X(nov4_pct, 90, 0, 100)                                                                \
    X(nov_cap, 4, 1, 100)                                                                  \
    X(nov_min_days, 14, 0, 365)                                                             \
    /* NET: never-seen client networks (/24, /48) */                                       \
    X(net1_recent_hours, 24, 0, 720)                                                       \
    X(net2_nets_24h, 5, 1, 10000)                                                          \
    X(net3_nets_1h, 4, 1, 10000)                                                           \
    X(net_cap, 6, 1, 100)                                                                  \
    /* NET-1/NET-3 are evidence of a third party (BLOCK) only while the mailbox writes to */\
    /* strangers: never-mailed recipients in 60 min, count and share */                   \
    X(block_new_rcpt_1h, 5, 0, 10000000)                                                   \
    X(block_new_pct, 70, 0, 100)                                                           \
    /* SHP: recipients of one message against the mailbox's largest message */             \
    X(shp1_floor, 25, 1, 10000000)                                                         \
    X(shp1_mult, 3, 1, 1000)                                                               \
    X(shp2_floor, 50, 1, 10000000)                                                         \
    X(shp2_mult, 5, 1, 1000)                                                               \
    X(shp_cap, 2, 1, 100)                                                                  \
    /* ID: envelope sender not owned by the login */                                       \
    X(id1_min, 1, 1, 10000000)                                                             \
    /* ID-1 is evidence of a third party (BLOCK) at this share of the hour's recipients */ \
    X(id1_block_pct, 50, 0, 100)                                                           \
    /* tripwires: BLOCK on their own */                                                    \
    X(trip_nets_1h, 10, 2, 10000)                                                          \
    X(trip_nets_1h_rcpt, 20, 0, 10000000)                                                  \
    X(trip_nets_24h, 16, 2, 10000)                                                         \
    X(trip_nets_24h_rcpt, 20, 0, 10000000)                                                 \
    /* probation and profiles */                                                           \
    X(probation_pct, 50, 1, 100)                                                           \
    X(probation_net1_points, 2, 0, 100)                                                    \
    X(bulk_mult, 10, 1, 1000)                                                              \
    X(outreach_mult, 3, 1, 1000)

struct rules_params {
#define RULES_PARAM_FIELD(field, def, min, max) long long field;
    RULES_PARAMS(RULES_PARAM_FIELD)
#undef RULES_PARAM_FIELD
};

#endif
