/* SPDX-License-Identifier: MIT */
#ifndef PD_RULES_H
#define PD_RULES_H

/*
 * rules - the detection rule engine: one mailbox's signals (ratelimit/signals.h) and its
 * effective settings in, a verdict with evidence out. Pure: no I/O, no logging, no
 * allocation, no global mutable state; the verdict lives in the caller's struct and holds
 * no pointers into the inputs (rule ids point at static strings).
 *
 * Evidence texts are for the log and the helpdesk. They carry thresholds and counts and
 * must NEVER be copied into an SMTP reply (a spammer would tune to them).
 */

#include <stdbool.h>
#include <stddef.h>

#include "ratelimit/rules_params.h"
#include "ratelimit/signals.h"

#define RULES_MAX_FIRED 16 /* more rules than can fire at once (15) */
#define RULES_BRIEF_MAX 64 /* one rule's terse log form, with its NUL */
#define RULES_TEXT_MAX 192 /* one rule's helpdesk sentence, with its NUL */
#define RULES_REF_MAX SIGNALS_STR_MAX
/* rules_format_evidence() never needs more than this (every rule at its longest) */
#define RULES_EVIDENCE_MAX (RULES_MAX_FIRED * (16 + 16 + RULES_BRIEF_MAX) + 128)

/* Ordered by severity, except that DEFER (a cap) is not on the scoring ladder. */
enum rules_action {
    RULES_PASS = 0, /* nothing (or nothing worth a log line) */
    RULES_WATCH,    /* log only */
    RULES_DEFER,    /* over a cap: temporary refusal of this recipient */
    RULES_HOLD,     /* park the message on the hold queue */
    RULES_BLOCK,    /* refuse everything from the mailbox until a password change */
};

/* A fired rule's family; families up to RULES_FAM_ID score and agree. */
enum rules_family {
    RULES_FAM_VOL = 0, /* volume against the mailbox's own baseline */
    RULES_FAM_NOV,     /* never-mailed recipients and domains */
    RULES_FAM_NET,     /* never-seen client networks */
    RULES_FAM_SHP,     /* shape: recipients per message */
    RULES_FAM_ID,      /* envelope sender not owned by the login */
    RULES_FAM_TRIP,    /* tripwires: BLOCK alone */
    RULES_FAM_CAP,     /* a hard cap (DEFER) */
    RULES_FAM_STATE,   /* an existing block record */
    RULES_FAM_COUNT
};
#define RULES_FAMBIT(f) (1u << (f))
#define RULES_SCORING_FAMS                                                                         \
    (RULES_FAMBIT(RULES_FAM_VOL) | RULES_FAMBIT(RULES_FAM_NOV) | RULES_FAMBIT(RULES_FAM_NET) |     \
     RULES_FAMBIT(RULES_FAM_SHP) | RULES_FAMBIT(RULES_FAM_ID))

enum rules_profile {
    RULES_PROF_NONE = 0,
    RULES_PROF_BULK,      /* newsletters: VOL and SHP thresholds x bulk_mult, NOV off */
    RULES_PROF_OUTREACH,  /* sales: NOV counts x outreach_mult */
    RULES_PROF_SYSTEM,    /* pinned networks: any never-seen network holds at least */
    RULES_PROF_TRAVELLER, /* one never-seen network is ignored; rotation still counts */
    RULES_PROF_UNKNOWN,   /* a profile name this version does not know: treated as none */
};

struct rules_fired {
    const char *id; /* "NOV-1", "TRIP-NET", ...: static storage, never NULL */
    enum rules_family family;
    int points;                  /* what counted toward the score (after the family cap) */
    int nominal;                 /* the rule's own points (0 for tripwires, caps, state) */
    enum rules_action force;     /* the action the rule forces by itself, else RULES_PASS */
    long long observed[2];       /* e.g. new recipients, all recipients (0 when unused) */
    long long threshold[2];      /* e.g. 40, 80 (%) (0 when unused) */
    char brief[RULES_BRIEF_MAX]; /* "138/143 new rcpt 60m>=40&80%" */
    char text[RULES_TEXT_MAX];   /* "138 of 143 recipients (96%) in 60 min never ..." */
};

struct rules_verdict {
    enum rules_action action;
    int score;         /* sum of points over the scoring families, after caps */
    unsigned families; /* RULES_FAMBIT() of every fired rule's family */
    int agreeing;      /* scoring families that contributed points */
    bool learning;     /* the mailbox was in its learning period */
    bool probation;    /* thresholds were tightened (after an unblock) */
    enum rules_profile profile;
    int watch_score, hold_score, block_score; /* the ladder as applied (probation) */
    size_t nfired;
    struct rules_fired fired[RULES_MAX_FIRED];
    char ref[RULES_REF_MAX]; /* an existing block's reference, else "" */
};

/* The settings of one evaluation (the mode is not here: observe mode is the caller's). */
struct rules_input {
    long long now; /* unix seconds */
    const struct rules_params *params;
    long long learning_period; /* seconds */
    long long learning_min_messages;
    bool hold_enabled; /* else a HOLD verdict becomes WATCH */
};

enum rules_err {
    RULES_ERR_ARG = -1,   /* a NULL pointer or a zero-length buffer */
    RULES_ERR_SPACE = -2, /* the evidence did not fit: the line was cut, ending in "..." */
};

void rules_params_defaults(struct rules_params *p);
int rules_eval(const struct rl_signals *sig, const struct rules_input *in, struct rules_verdict *v);
int rules_format_evidence(const struct rules_verdict *v, char *buf, size_t len);
int rules_format_families(unsigned families, char *buf, size_t len);
bool rules_fired_has(const struct rules_verdict *v, const char *id);
const char *rules_action_name(enum rules_action a);
const char *rules_family_name(enum rules_family f);
const char *rules_profile_name(enum rules_profile p);
const char *rules_strerror(int err);

#endif
