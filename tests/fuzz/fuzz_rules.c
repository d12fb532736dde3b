/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_rules - libFuzzer target for the detection rule engine
 * SYNOPSIS
 *      build/fuzz/fuzz_rules [libFuzzer options] [corpus dirs]
 * DESCRIPTION
 *      Builds signals, parameters and settings from the input bytes (mostly small counts,
 *      times around "now", sometimes any 64-bit value; strings without a NUL), evaluates
 *      them and checks the verdict's invariants:
 *        - the action is one of the five; at most RULES_MAX_FIRED rules; every id set and
 *          every text NUL-terminated inside its array; the score is the sum of the
 *          points, no family over its cap; families and agreeing match the fired rules;
 *        - blocked gives BLOCK with one rule; exempt gives PASS with none; a cap gives
 *          DEFER or BLOCK; BLOCK needs a tripwire or (block score, agreeing families,
 *          NET or ID points); HOLD needs hold_enabled;
 *        - monotony: one more never-seen network, probation (when NET-1 is worth at least
 *          1 in it) and enabling HOLD never lower the verdict; learning never raises it;
 *        - the evidence line fits RULES_EVIDENCE_MAX, and in any smaller buffer it is
 *          NUL-terminated and reports the cut.
 *      Any violation aborts.
 * SEE ALSO
 *      ratelimit/rules.c, tests/fuzz/replay.c
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_NOW 1700000000LL

struct fz_in {
    const uint8_t *p;
    size_t n;
};

static uint8_t fz_byte(struct fz_in *in)
{
    uint8_t b;

    if (in->n == 0)
        return 0;
    b = *in->p++;
    in->n--;
    return b;
}

/* fz_count - mostly small counts, sometimes larger, sometimes any 64-bit value. */
static long long fz_count(struct fz_in *in)
{
    uint8_t b = fz_byte(in);
    unsigned long long u = 0;
    int i;

    if (b < 160)
        return b;
    if (b < 224)
        return (long long)(b - 160) * 25;
    if (b < 248)
        return (long long)fz_byte(in) << 8 | fz_byte(in);
    for (i = 0; i < 8; i++)
        u = u << 8 | fz_byte(in);
    return (long long)u;
}

/* fz_time - a moment near now (hours or days away), 0, or any value. */
static long long fz_time(struct fz_in *in)
{
    uint8_t b = fz_byte(in);
    int8_t d = (int8_t)fz_byte(in);

    switch (b & 3) {
    case 0:
        return 0;
    case 1:
        return FZ_NOW + (long long)d * 3600;
    case 2:
        return FZ_NOW + (long long)d * 86400;
    default:
        return fz_count(in);
    }
}

static bool fz_is_time(size_t off)
{
    return off == offsetof(struct rl_signals, first_seen) ||
           off == offsetof(struct rl_signals, probation_until) ||
           off == offsetof(struct rl_signals, net_first_seen) ||
           off == offsetof(struct rl_signals, block_created);
}

static void fz_string(struct fz_in *in, char *dst, size_t len)
{
    static const char *const names[] = {"", "bulk", "outreach", "system", "traveller", "vip"};
    uint8_t b = fz_byte(in);
    size_t i;

    if (b < 6 * 32) {
        memset(dst, 0, len);
        memcpy(dst, names[b / 32], strlen(names[b / 32]));
        return;
    }
    for (i = 0; i < len; i++) /* raw, not NUL-terminated */
        dst[i] = (char)fz_byte(in);
}

static void fz_signals(struct fz_in *in, struct rl_signals *s)
{
    size_t off;

    memset(s, 0, sizeof(*s));
#define FZ_INT(n)                                                                                  \
    off = offsetof(struct rl_signals, n);                                                          \
    s->n = fz_is_time(off) ? fz_time(in) : fz_count(in);
    SIGNALS_INTS(FZ_INT)
#undef FZ_INT
    /* rare states stay rare, so the scoring paths get most of the inputs */
    s->blocked = s->blocked > 150 ? s->blocked : 0;
    s->exempt = s->exempt > 150 ? s->exempt : 0;
    s->capped = s->capped > 100 ? s->capped - 100 : 0;
    fz_string(in, s->profile, sizeof(s->profile));
    fz_string(in, s->block_ref, sizeof(s->block_ref));
    fz_string(in, s->block_reason, sizeof(s->block_reason));
}

/* fz_params - each row its default, or a value in [min, max] near min, or max. */
static void fz_params(struct fz_in *in, struct rules_params *p)
{
    uint8_t b;

#define FZ_PARAM(f, def, lo, hi)                                                                   \
    b = fz_byte(in);                                                                               \
    p->f = b < 128 ? (def) : b == 255 ? (hi) : (lo) + (b - 128) > (hi) ? (hi) : (lo) + (b - 128);
    RULES_PARAMS(FZ_PARAM)
#undef FZ_PARAM
}

static int fz_rank(enum rules_action a)
{
    return (int)a; /* PASS < WATCH < DEFER < HOLD < BLOCK */
}

static void fz_check_texts(const struct rules_verdict *v)
{
    size_t i;

    if (v->nfired > RULES_MAX_FIRED || memchr(v->ref, '\0', sizeof(v->ref)) == NULL)
        abort();
    for (i = 0; i < v->nfired; i++) {
        const struct rules_fired *f = &v->fired[i];

        if (f->id == NULL || memchr(f->brief, '\0', sizeof(f->brief)) == NULL ||
            memchr(f->text, '\0', sizeof(f->text)) == NULL)
            abort();
        if (f->points < 0 || f->points > f->nominal || (unsigned)f->family >= RULES_FAM_COUNT)
            abort();
    }
}

/* fz_check_sums - score, families and agreeing follow from the fired rules and caps. */
static void fz_check_sums(const struct rules_verdict *v, const struct rules_params *p)
{
    int fam[RULES_FAM_COUNT] = {0}, score = 0, agreeing = 0, f;
    unsigned mask = 0;
    size_t i;

    for (i = 0; i < v->nfired; i++) {
        fam[v->fired[i].family] += v->fired[i].points;
        score += v->fired[i].points;
        mask |= RULES_FAMBIT(v->fired[i].family);
    }
    for (f = 0; f < RULES_FAM_COUNT; f++)
        agreeing += (RULES_SCORING_FAMS & RULES_FAMBIT(f)) && fam[f] > 0;
    if (score != v->score || mask != v->families || agreeing != v->agreeing)
        abort();
    if (fam[RULES_FAM_NOV] > p->nov_cap || fam[RULES_FAM_NET] > p->net_cap ||
        fam[RULES_FAM_SHP] > p->shp_cap || fam[RULES_FAM_TRIP] != 0 || fam[RULES_FAM_CAP] != 0)
        abort();
}

static void fz_check_ladder(const struct rules_verdict *v, const struct rl_signals *s,
                            const struct rules_input *in)
{
    bool agree = v->agreeing >= in->params->min_families;
    bool third = false;
    size_t i;

    for (i = 0; i < v->nfired; i++)
        third |= v->fired[i].points > 0 &&
                 (v->fired[i].family == RULES_FAM_NET || v->fired[i].family == RULES_FAM_ID);
    if ((unsigned)v->action > RULES_BLOCK)
        abort();
    if (s->blocked > 0) {
        if (v->action != RULES_BLOCK || v->nfired != 1 || !rules_fired_has(v, "BLOCKED"))
            abort();
        return;
    }
    if (s->exempt > 0 && (v->action != RULES_PASS || v->nfired != 0))
        abort();
    if (s->exempt <= 0 && s->capped > 0 && v->action != RULES_DEFER && v->action != RULES_BLOCK)
        abort();
    if (v->action == RULES_BLOCK && !(v->families & RULES_FAMBIT(RULES_FAM_TRIP)) &&
        !(agree && third && v->score >= v->block_score))
        abort();
    if (v->action == RULES_HOLD && (!in->hold_enabled || !((agree && v->score >= v->hold_score) ||
                                                           rules_fired_has(v, "SYS-NET"))))
        abort();
    if (v->action == RULES_DEFER && s->capped <= 0)
        abort();
}

static void fz_check_format(const struct rules_verdict *v, struct fz_in *in)
{
    char buf[RULES_EVIDENCE_MAX];
    size_t len = 1 + fz_byte(in) % 80;
    int rc;

    if (rules_format_evidence(v, buf, sizeof(buf)) != 0 || strlen(buf) >= sizeof(buf))
        abort();
    rc = rules_format_evidence(v, buf, len);
    if ((rc != 0 && rc != RULES_ERR_SPACE) || memchr(buf, '\0', len) == NULL)
        abort();
    if (rules_format_families(v->families, buf, sizeof(buf)) != 0 ||
        (rc = rules_format_families(v->families, buf, len), rc != 0 && rc != RULES_ERR_SPACE) ||
        memchr(buf, '\0', len) == NULL)
        abort();
}

static enum rules_action fz_eval(const struct rl_signals *s, const struct rules_input *in)
{
    struct rules_verdict v;

    if (rules_eval(s, in, &v) != 0)
        abort();
    return v.action;
}

/* fz_check_monotony - changes that may only raise (or only lower) the verdict. */
static void fz_check_monotony(const struct rl_signals *s, const struct rules_input *in,
                              enum rules_action base)
{
    struct rl_signals t = *s;
    struct rules_input j = *in;

    if (s->new_nets_1h >= 0 && s->new_nets_1h < (1LL << 40)) {
        t.new_nets_1h++;
        if (fz_rank(fz_eval(&t, in)) < fz_rank(base))
            abort();
        t = *s;
    }
    if (in->params->probation_net1_points >= 1) {
        t.probation_until = 0;
        j.now = in->now < (1LL << 40) ? in->now : (1LL << 40);
        {
            enum rules_action off = fz_eval(&t, &j);

            t.probation_until = j.now + 1;
            if (fz_rank(fz_eval(&t, &j)) < fz_rank(off))
                abort();
        }
        t = *s;
        j = *in;
    }
    j.hold_enabled = true;
    if (in->hold_enabled == false && fz_rank(fz_eval(s, &j)) < fz_rank(base))
        abort();
    j = *in;
    j.learning_period = j.learning_min_messages = 1LL << 50; /* surely learning */
    {
        enum rules_action learning = fz_eval(s, &j);

        j.learning_period = j.learning_min_messages = 0; /* surely not */
        if (fz_rank(learning) > fz_rank(fz_eval(s, &j)))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size};
    struct rl_signals s;
    struct rules_params p;
    struct rules_input ri;
    struct rules_verdict v;
    uint8_t flags = fz_byte(&in);

    rules_params_defaults(&p);
    if (flags & 1)
        fz_params(&in, &p);
    ri.now = flags & 2 ? FZ_NOW : fz_time(&in);
    ri.params = &p;
    ri.learning_period = flags & 4 ? 28 * 86400 : fz_count(&in);
    ri.learning_min_messages = flags & 8 ? 50 : fz_count(&in);
    ri.hold_enabled = (flags & 16) == 0;
    fz_signals(&in, &s);
    if (rules_eval(&s, &ri, &v) != 0)
        abort();
    fz_check_texts(&v);
    fz_check_sums(&v, &p);
    fz_check_ladder(&v, &s, &ri);
    fz_check_format(&v, &in);
    fz_check_monotony(&s, &ri, v.action);
    return 0;
}
