/* SPDX-License-Identifier: MIT */
#ifndef PD_SIGNALS_H
#define PD_SIGNALS_H

/*
 * signals - what the tracking script tells us about one mailbox after counting one
 * request: the contract between ratelimit/lua/track.lua (producer), track.c (transport)
 * and rules.c (consumer).
 *
 * The script returns a flat array of alternating names and values
 * ("rcpt_1h", 143, "block_ref", "PD-7F3A9C21", ...). signals_set_int/signals_set_str map
 * each name onto the field below; an unknown name is ignored (a newer script with an
 * older binary), a missing one stays 0 / "". Counts include the request just counted.
 * Times are unix seconds.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum signals_cap {
    SIGNALS_CAP_NONE = 0,
    SIGNALS_CAP_RCPT_HOUR,
    SIGNALS_CAP_RCPT_DAY,
    SIGNALS_CAP_MSG_HOUR,
    SIGNALS_CAP_MSG_DAY,
};

enum signals_limit_src {
    SIGNALS_SRC_DEFAULT = 0,
    SIGNALS_SRC_DOMAIN,
    SIGNALS_SRC_MAILBOX,
    SIGNALS_SRC_RAISE, /* a temporary raise that has not expired */
};

#define SIGNALS_STR_MAX 64

/* X(name) for every integer signal; the name is also the key the script returns. */
#define SIGNALS_INTS(X)                                                                    \
    X(blocked)           /* 1: a block record exists; nothing below was counted */         \
    X(block_created)     /* when that block was written */                                 \
    X(probation_until)   /* after an unblock: tighter thresholds until then; 0 = none */   \
    X(exempt)            /* mailbox or domain exemption: counted, never capped or scored */\
    X(capped)            /* enum signals_cap: this request was over a cap, NOT counted */  \
    X(cap_limit)         /* the limit that capped it */                                    \
    X(cap_value)         /* the count that hit it */                                       \
    X(limit_src)         /* enum signals_limit_src of the effective caps */                \
    X(lim_rcpt_hour) X(lim_rcpt_day) X(lim_msg_hour) X(lim_msg_day) /* effective caps */   \
    X(counted)           /* 1: this request was counted as accepted */                     \
    X(msg_new)           /* first request of this message (instance) */                    \
    X(rcpt_this_msg)     /* recipients of this message so far */                           \
    X(rcpt_new)          /* this recipient was never mailed before by this mailbox */      \
    X(rcpt_dom_new)      /* nor was its domain */                                          \
    X(net_new)           /* this client network was never seen for this mailbox */         \
    X(net_first_seen)    /* when this request's network was first seen for this mailbox */ \
                         /* (= now when net_new; 0 = no client network, or not tracked) */ \
    X(rcpt_1h) X(rcpt_24h)               /* accepted recipients */                         \
    X(msgs_1h) X(msgs_24h)               /* messages (distinct instances) */               \
    X(refused_1h) X(refused_24h)         /* attempts refused by us (caps, blocks) */       \
    X(distinct_rcpt_1h) X(distinct_rcpt_24h)                                               \
    X(new_rcpt_1h) X(new_rcpt_24h)       /* never-seen recipients */                       \
    X(distinct_dom_1h) X(new_dom_1h) X(new_dom_24h)                                        \
    X(distinct_nets_1h) X(distinct_nets_24h)                                               \
    X(new_nets_1h) X(new_nets_24h)       /* never-seen client networks */                  \
    X(known_nets)        /* networks in the mailbox's memory */                            \
    X(known_rcpts)       /* correspondents in the mailbox's memory (approximate) */        \
    X(sender_mismatch_1h)                /* requests whose sender is not the login's */    \
    X(base_max_hour_rcpt)  /* busiest hour, last 28 days, today excluded */                \
    X(base_max_day_rcpt)   /* busiest day, same window */                                  \
    X(base_max_msg_rcpt)   /* largest message (recipients), same window */                 \
    X(base_days)           /* days with traffic in that window */                          \
    X(base_msgs)           /* messages in that window */                                   \
    X(first_seen)          /* first tracked request of this mailbox */

#define SIGNALS_STRS(X)                                                                    \
    X(block_ref)    /* "PD-..." of the block, when blocked */                              \
    X(block_reason) /* "compromise", "rate", "manual", "weak-password" */                  \
    X(profile)      /* override profile: "", "bulk", "system", "outreach", "traveller" */

struct rl_signals {
#define SIGNALS_INT_FIELD(n) long long n;
    SIGNALS_INTS(SIGNALS_INT_FIELD)
#undef SIGNALS_INT_FIELD
#define SIGNALS_STR_FIELD(n) char n[SIGNALS_STR_MAX];
    SIGNALS_STRS(SIGNALS_STR_FIELD)
#undef SIGNALS_STR_FIELD
};

/* track.lua's reply: SIGNALS_MARK, then the value of every signal in the order of the
 * lists above (SIGNALS_INTS, then SIGNALS_STRS): signal i of SIGNALS_N. A blocked
 * mailbox's reply is name/value pairs instead. */
#define SIGNALS_MARK "@"
#define SIGNALS_N_INTS (0 SIGNALS_INTS(SIGNALS_ONE))
#define SIGNALS_N_STRS (0 SIGNALS_STRS(SIGNALS_ONE))
#define SIGNALS_ONE(n) +1
#define SIGNALS_N (SIGNALS_N_INTS + SIGNALS_N_STRS)

void signals_clear(struct rl_signals *s);
/* signals_set_at - signal i of the positional reply, an integer (is_int) or text (a
 * number in text for an integer signal); false when i or the value does not fit. */
bool signals_set_at(struct rl_signals *s, size_t i, bool is_int, long long iv, const char *sv,
                    size_t sv_len);
/* signals_name - the name of signal i (its length in *len unless len is NULL), or NULL. */
const char *signals_name(size_t i, size_t *len);
/* signals_is_mark - [s, s + len) is SIGNALS_MARK: the reply is positional. */
bool signals_is_mark(const char *s, size_t len);
bool signals_set_int(struct rl_signals *s, const char *name, size_t name_len, long long v);
bool signals_set_str(struct rl_signals *s, const char *name, size_t name_len, const char *v,
                     size_t v_len);
const char *signals_cap_name(int cap);
const char *signals_src_name(int src);

#endif
