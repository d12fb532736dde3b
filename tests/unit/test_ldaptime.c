/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_ldaptime - unit tests of the password-change time parsers and the unblock
 *      decision
 * SYNOPSIS
 *      build/tests/test_ldaptime
 * DESCRIPTION
 *      Tables of {input, want} for pwdLastSet (FILETIME: 0 = must change, the 1601 and
 *      1970 epochs, sub-second truncation, negative, overflow, int64 limits, leading
 *      zeros, signs, spaces, NUL, overlong), pwdChangedTime (GeneralizedTime: optional
 *      minutes and seconds, fractions of hour/minute/second with '.' and ',', offsets,
 *      leap years and leap seconds, every field out of range, missing or lower-case zone,
 *      trailing bytes, ISO 8601 look-alikes, the 1970 and 9999 limits), shadowLastChange
 *      and pwdReset. Then ldaptime_judge() over every attribute mode, with the block's
 *      created-at, the skew margin (strictly later), admin resets trusted or not, missing
 *      and malformed values; the formatters, and round trips of pseudo-random times
 *      through GeneralizedTime and FILETIME.
 * DIAGNOSTICS
 *      Aborts on the first failed assertion; prints "N passed, 0 failed" at the end.
 * SEE ALSO
 *      ldap/ldaptime.c, tests/fuzz/fuzz_ldaptime.c, tests/unit/testlib.h
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ldap/ldaptime.h"
#include "tests/unit/testlib.h"

#define T0 1706702400LL /* 2024-01-31T12:00:00Z */
#define MAXU LDAPTIME_MAX_UNIX
#define OK 0
#define SYN LDAPTIME_ERR_SYNTAX
#define RNG LDAPTIME_ERR_RANGE

struct num_case {
    const char *in;
    size_t len; /* 0 = strlen */
    int rc;
    int64_t want;
    bool must_change;
};

static size_t len_of(const char *s, size_t len)
{
    return len != 0 ? len : strlen(s);
}

static const struct num_case filetime_cases[] = {
    {"0", 0, OK, 0, true},
    {"000", 0, OK, 0, true},
    {"116444736000000000", 0, OK, 0, false},
    {"116444736010000000", 0, OK, 1, false},
    {"116444736019999999", 0, OK, 1, false},
    {"133500000000000000", 0, OK, 1705526400, false},
    {"0000000133500000000000000", 0, OK, 1705526400, false},
    {"2650467743990000000", 0, OK, MAXU, false},
    {"2650467744000000000", 0, RNG, 0, false},
    {"116444735999999999", 0, RNG, 0, false},
    {"1", 0, RNG, 0, false},
    {"9223372036854775807", 0, RNG, 0, false},
    {"9223372036854775808", 0, RNG, 0, false},
    {"18446744073709551616", 0, RNG, 0, false},
    {"99999999999999999999999999999999", 0, RNG, 0, false},
    {"-1", 0, RNG, 0, false},
    {"-0", 0, RNG, 0, false},
    {"-9223372036854775808", 0, RNG, 0, false},
    {"-", 0, SYN, 0, false},
    {"", 0, SYN, 0, false},
    {"+1", 0, SYN, 0, false},
    {" 133500000000000000", 0, SYN, 0, false},
    {"133500000000000000 ", 0, SYN, 0, false},
    {"1335e17", 0, SYN, 0, false},
    {"0x1da3f", 0, SYN, 0, false},
    {"1335000000\0000000000", 18, SYN, 0, false},
    {"\xc3\xa9", 0, SYN, 0, false},
    {"--1", 0, SYN, 0, false},
    {"1-1", 0, SYN, 0, false},
    {"00000000000000000000000000000000000000000000000000000000000000001", 0, SYN, 0, false},
};

static const struct num_case gt_cases[] = {
    {"20240131120000Z", 0, OK, T0, false},
    {"202401311200Z", 0, OK, T0, false},
    {"2024013112Z", 0, OK, T0, false},
    {"20240131120000.5Z", 0, OK, T0, false},
    {"20240131120000,999Z", 0, OK, T0, false},
    {"20240131120000.123456789012345678901234567890Z", 0, OK, T0, false},
    {"2024013112.5Z", 0, OK, T0 + 1800, false},
    {"2024013112,25Z", 0, OK, T0 + 900, false},
    {"2024013112.999999999999Z", 0, OK, T0 + 3599, false},
    {"202401311200.25Z", 0, OK, T0 + 15, false},
    {"202401311200.999Z", 0, OK, T0 + 59, false},
    {"20240131120000+0100", 0, OK, T0 - 3600, false},
    {"20240131120000+01", 0, OK, T0 - 3600, false},
    {"20240131120000-0530", 0, OK, T0 + 19800, false},
    {"20240131120000.5-0530", 0, OK, T0 + 19800, false},
    {"2024013112+2359", 0, OK, T0 - 86340, false},
    {"20161231235960Z", 0, OK, 1483228800, false},
    {"20240229000000Z", 0, OK, 1709164800, false},
    {"20000229000000Z", 0, OK, 951782400, false},
    {"19700101000000Z", 0, OK, 0, false},
    {"99991231235959Z", 0, OK, MAXU, false},
    {"19691231235959Z", 0, RNG, 0, false},
    {"19700101000000+0100", 0, RNG, 0, false},
    {"99991231235960Z", 0, RNG, 0, false},
    {"99991231235959-0100", 0, RNG, 0, false},
    {"00000101000000Z", 0, RNG, 0, false},
    {"20230229000000Z", 0, SYN, 0, false},
    {"21000229000000Z", 0, SYN, 0, false},
    {"20240431000000Z", 0, SYN, 0, false},
    {"20241301000000Z", 0, SYN, 0, false},
    {"20240001000000Z", 0, SYN, 0, false},
    {"20240100000000Z", 0, SYN, 0, false},
    {"20240132000000Z", 0, SYN, 0, false},
    {"20240131240000Z", 0, SYN, 0, false},
    {"20240131126000Z", 0, SYN, 0, false},
    {"20240131120061Z", 0, SYN, 0, false},
    {"20240131120000", 0, SYN, 0, false},
    {"20240131120000z", 0, SYN, 0, false},
    {"20240131120000Z ", 0, SYN, 0, false},
    {"20240131120000ZZ", 0, SYN, 0, false},
    {"20240131120000+2400", 0, SYN, 0, false},
    {"20240131120000+0160", 0, SYN, 0, false},
    {"20240131120000+1", 0, SYN, 0, false},
    {"20240131120000+01000", 0, SYN, 0, false},
    {"20240131120000+", 0, SYN, 0, false},
    {"20240131120000.Z", 0, SYN, 0, false},
    {"20240131120000..5Z", 0, SYN, 0, false},
    {"20240131120000.5.5Z", 0, SYN, 0, false},
    {"202401311Z", 0, SYN, 0, false},
    {"2024013112000Z", 0, SYN, 0, false},
    {"20240131Z", 0, SYN, 0, false},
    {"20240131", 0, SYN, 0, false},
    {"2024-01-31T12:00:00Z", 0, SYN, 0, false},
    {"1706702400", 0, SYN, 0, false},
    {"", 0, SYN, 0, false},
    {"Z", 0, SYN, 0, false},
    {" 20240131120000Z", 0, SYN, 0, false},
    {"20240131120000\0Z", 16, SYN, 0, false},
    {"2024013112\xc3\xa9Z", 0, SYN, 0, false},
    {"-20240131120000Z", 0, SYN, 0, false},
    {"20240131120000.00000000000000000000000000000000000000000000000001Z", 0, SYN, 0, false},
};

static const struct num_case days_cases[] = {
    {"0", 0, OK, 0, true},
    {"1", 0, OK, 86400, false},
    {"19753", 0, OK, 19753LL * 86400, false},
    {"2932896", 0, OK, 2932896LL * 86400, false},
    {"2932897", 0, RNG, 0, false},
    {"9223372036854775807", 0, RNG, 0, false},
    {"99999999999999999999", 0, RNG, 0, false},
    {"-1", 0, RNG, 0, false},
    {"", 0, SYN, 0, false},
    {"1.5", 0, SYN, 0, false},
    {"abc", 0, SYN, 0, false},
};

static void test_filetime(void)
{
    size_t i;

    for (i = 0; i < sizeof(filetime_cases) / sizeof(filetime_cases[0]); i++) {
        const struct num_case *c = &filetime_cases[i];
        int64_t t = -7;
        bool mc = false;
        int rc = ldaptime_filetime(c->in, len_of(c->in, c->len), &t, &mc);

        if (rc != c->rc)
            fprintf(stderr, "filetime case %zu (%s)\n", i, c->in);
        ASSERT_EQ(rc, c->rc);
        if (rc == OK) {
            ASSERT_EQ(t, c->want);
            ASSERT_EQ(mc, c->must_change);
        }
        TEST_PASS(c->in);
    }
    ASSERT_EQ(ldaptime_filetime(NULL, 0, &(int64_t){0}, &(bool){false}), SYN);
    TEST_PASS("filetime NULL");
}

static void test_generalized(void)
{
    size_t i;

    for (i = 0; i < sizeof(gt_cases) / sizeof(gt_cases[0]); i++) {
        const struct num_case *c = &gt_cases[i];
        int64_t t = -7;
        int rc = ldaptime_generalized(c->in, len_of(c->in, c->len), &t);

        if (rc != c->rc || (rc == OK && t != c->want))
            fprintf(stderr, "generalized case %zu (%s)\n", i, c->in);
        ASSERT_EQ(rc, c->rc);
        if (rc == OK)
            ASSERT_EQ(t, c->want);
        TEST_PASS(c->in);
    }
    ASSERT_EQ(ldaptime_generalized(NULL, 0, &(int64_t){0}), SYN);
    /* a value not NUL-terminated: only len bytes are read */
    ASSERT_EQ(ldaptime_generalized("20240131120000Zjunk", 15, &(int64_t){0}), OK);
    ASSERT_EQ(ldaptime_generalized("20240131120000Zjunk", 14, &(int64_t){0}), SYN);
    TEST_PASS("generalized NULL and length");
}

static void test_days_bool(void)
{
    size_t i;
    bool b = false;

    for (i = 0; i < sizeof(days_cases) / sizeof(days_cases[0]); i++) {
        const struct num_case *c = &days_cases[i];
        int64_t t = -7;
        bool mc = false;
        int rc = ldaptime_days(c->in, len_of(c->in, c->len), &t, &mc);

        ASSERT_EQ(rc, c->rc);
        if (rc == OK) {
            ASSERT_EQ(t, c->want);
            ASSERT_EQ(mc, c->must_change);
        }
        TEST_PASS(c->in);
    }
    ASSERT_EQ(ldaptime_bool("TRUE", 4, &b), OK);
    ASSERT_TRUE(b);
    ASSERT_EQ(ldaptime_bool("false", 5, &b), OK);
    ASSERT_TRUE(!b);
    ASSERT_EQ(ldaptime_bool("True", 4, &b), OK);
    ASSERT_TRUE(b);
    ASSERT_EQ(ldaptime_bool("TRUE ", 5, &b), SYN);
    ASSERT_EQ(ldaptime_bool("1", 1, &b), SYN);
    ASSERT_EQ(ldaptime_bool("", 0, &b), SYN);
    ASSERT_EQ(ldaptime_bool(NULL, 0, &b), SYN);
    ASSERT_EQ(ldaptime_bool("TRUEX", 4, &b), OK); /* length-delimited */
    TEST_PASS("pwdReset booleans");
}

/* ---- the decision ------------------------------------------------------------------ */

#define V(s)                                                                                       \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
#define NONE                                                                                       \
    {                                                                                              \
        NULL, 0                                                                                    \
    }
#define CREATED T0

/* FILETIME text of T0 + d seconds. */
static const char *ft(int64_t d, char *buf, size_t len)
{
    int64_t f;

    ASSERT_EQ(ldaptime_to_filetime(T0 + d, &f), 0);
    snprintf(buf, len, "%lld", (long long)f);
    return buf;
}

struct judge_case {
    const char *name;
    enum ldaptime_attr attr;
    struct ldaptime_val pls, pct, reset, shadow;
    int64_t skew;
    bool trust;
    enum ldaptime_verdict want;
    enum ldaptime_attr used;
    int64_t changed;
};

static void judge_one(const struct judge_case *c, int64_t created)
{
    struct ldaptime_entry e = {c->pls, c->pct, c->reset, c->shadow};
    struct ldaptime_policy pol = {c->attr, c->skew, c->trust};
    struct ldaptime_result r;

    memset(&r, 0x5a, sizeof(r));
    ldaptime_judge(&e, created, &pol, &r);
    if (r.verdict != c->want || r.used != c->used)
        fprintf(stderr, "judge case %s: verdict %s used %s\n", c->name,
                ldaptime_verdict_name(r.verdict), ldaptime_attr_name(r.used));
    ASSERT_EQ(r.verdict, c->want);
    ASSERT_EQ(r.used, c->used);
    if (c->want == LDAPTIME_UNBLOCK || c->want == LDAPTIME_KEEP_OLDER)
        ASSERT_EQ(r.changed, c->changed);
    TEST_PASS(c->name);
}

static void test_judge(void)
{
    char after[32], before[32], at[32], atskew[32], justafter[32];
    const enum ldaptime_attr PLS = LDAPTIME_PWDLASTSET, PCT = LDAPTIME_PWDCHANGEDTIME;
    const enum ldaptime_attr SH = LDAPTIME_SHADOWLASTCHANGE, AUTO = LDAPTIME_AUTO;
    const enum ldaptime_verdict UB = LDAPTIME_UNBLOCK, OLD = LDAPTIME_KEEP_OLDER;
    const enum ldaptime_verdict MC = LDAPTIME_KEEP_MUST_CHANGE, NA = LDAPTIME_KEEP_NO_ATTR;
    const enum ldaptime_verdict BAD = LDAPTIME_KEEP_BAD_VALUE;
    struct ldaptime_val a, b, eq, sk, ja;
    size_t i;

    a.val = ft(3600, after, sizeof(after)), a.len = strlen(after);
    b.val = ft(-3600, before, sizeof(before)), b.len = strlen(before);
    eq.val = ft(0, at, sizeof(at)), eq.len = strlen(at);
    sk.val = ft(10, atskew, sizeof(atskew)), sk.len = strlen(atskew);
    ja.val = ft(11, justafter, sizeof(justafter)), ja.len = strlen(justafter);
    {
        const struct judge_case cases[] = {
            {"pls after", PLS, a, NONE, NONE, NONE, 10, false, UB, PLS, T0 + 3600},
            {"pls before", PLS, b, NONE, NONE, NONE, 10, false, OLD, PLS, T0 - 3600},
            {"pls same second", PLS, eq, NONE, NONE, NONE, 0, false, OLD, PLS, T0},
            {"pls at created+skew", PLS, sk, NONE, NONE, NONE, 10, false, OLD, PLS, T0 + 10},
            {"pls 1s past skew", PLS, ja, NONE, NONE, NONE, 10, false, UB, PLS, T0 + 11},
            {"pls skew 0", PLS, sk, NONE, NONE, NONE, 0, false, UB, PLS, T0 + 10},
            {"pls negative skew", PLS, sk, NONE, NONE, NONE, -100, false, UB, PLS, T0 + 10},
            {"pls huge skew", PLS, a, NONE, NONE, NONE, INT64_MAX, false, OLD, PLS, T0 + 3600},
            {"pls must change", PLS, V("0"), NONE, NONE, NONE, 10, false, MC, PLS, 0},
            {"pls trusted reset", PLS, V("0"), NONE, NONE, NONE, 10, true, UB, PLS, 0},
            {"pls missing", PLS, NONE, a, NONE, NONE, 10, false, NA, PLS, 0},
            {"pls garbage", PLS, V("yesterday"), NONE, NONE, NONE, 10, false, BAD, PLS, 0},
            {"pls -1", PLS, V("-1"), NONE, NONE, NONE, 10, true, BAD, PLS, 0},
            {"pls overflow", PLS, V("99999999999999999999"), NONE, NONE, NONE, 10, false, BAD, PLS,
             0},
            {"pls went down", PLS, V("116444736010000000"), NONE, NONE, NONE, 10, false, OLD, PLS,
             1},
            {"pct after", PCT, NONE, V("20240131130000Z"), NONE, NONE, 10, false, UB, PCT,
             T0 + 3600},
            {"pct before", PCT, NONE, V("20240131110000Z"), NONE, NONE, 10, false, OLD, PCT,
             T0 - 3600},
            {"pct after, offset", PCT, NONE, V("20240131130000+0200"), NONE, NONE, 10, false, OLD,
             PCT, T0 - 3600},
            {"pct reset", PCT, NONE, V("20240131130000Z"), V("TRUE"), NONE, 10, false, MC, PCT, 0},
            {"pct reset trusted", PCT, NONE, V("20240131130000Z"), V("TRUE"), NONE, 10, true, UB,
             PCT, T0 + 3600},
            {"pct reset trusted old", PCT, NONE, V("20240131110000Z"), V("TRUE"), NONE, 10, true,
             OLD, PCT, T0 - 3600},
            {"pct reset false", PCT, NONE, V("20240131130000Z"), V("FALSE"), NONE, 10, false, UB,
             PCT, T0 + 3600},
            {"pct reset garbage", PCT, NONE, V("20240131130000Z"), V("maybe"), NONE, 10, false, BAD,
             PCT, 0},
            {"pct missing", PCT, a, NONE, NONE, NONE, 10, false, NA, PCT, 0},
            {"pct garbage", PCT, NONE, V("2024-01-31"), NONE, NONE, 10, false, BAD, PCT, 0},
            {"shadow next day", SH, NONE, NONE, NONE, V("19754"), 10, false, UB, SH,
             19754LL * 86400},
            {"shadow same day", SH, NONE, NONE, NONE, V("19753"), 10, false, OLD, SH,
             19753LL * 86400},
            {"shadow zero", SH, NONE, NONE, NONE, V("0"), 10, false, MC, SH, 0},
            {"auto prefers pwdLastSet", AUTO, b, V("20240131130000Z"), NONE, NONE, 10, false, OLD,
             PLS, T0 - 3600},
            {"auto pwdChangedTime", AUTO, NONE, V("20240131130000Z"), NONE, V("1"), 10, false, UB,
             PCT, T0 + 3600},
            {"auto shadow", AUTO, NONE, NONE, NONE, V("19754"), 10, false, UB, SH, 19754LL * 86400},
            {"auto nothing", AUTO, NONE, NONE, V("TRUE"), NONE, 10, false, NA, AUTO, 0},
            {"auto must change", AUTO, V("0"), V("20240131130000Z"), NONE, NONE, 10, false, MC, PLS,
             0},
        };

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
            judge_one(&cases[i], CREATED);
    }
    {
        /* a block without a sane created-at never compares */
        const struct judge_case c0 = {"created 0", PLS,   a,   NONE, NONE,     NONE,
                                      10,          false, OLD, PLS,  T0 + 3600};
        const struct judge_case trusted = {
            "created 0, trusted reset", PLS, V("0"), NONE, NONE, NONE, 10, true, UB, PLS, 0};

        judge_one(&c0, 0);
        judge_one(&c0, -1);
        judge_one(&c0, INT64_MIN);
        judge_one(&c0, INT64_MAX);
        judge_one(&c0, MAXU + 1);
        judge_one(&trusted, 0);
    }
}

/* ---- formatting and round trips ------------------------------------------------------- */

static void test_format(void)
{
    char iso[LDAPTIME_ISO_SIZE], gt[LDAPTIME_GT_SIZE];
    enum ldaptime_attr a;
    int64_t f;

    ldaptime_iso(0, iso);
    ASSERT_STR_EQ(iso, "1970-01-01T00:00:00Z");
    ldaptime_iso(T0 + 59, iso);
    ASSERT_STR_EQ(iso, "2024-01-31T12:00:59Z");
    ldaptime_iso(MAXU, iso);
    ASSERT_STR_EQ(iso, "9999-12-31T23:59:59Z");
    ldaptime_iso(-1, iso);
    ASSERT_STR_EQ(iso, "@-1");
    ldaptime_iso(INT64_MIN, iso);
    ASSERT_STR_EQ(iso, "@-9223372036854775808");
    ldaptime_iso(INT64_MAX, iso);
    ASSERT_STR_EQ(iso, "@9223372036854775807");
    ASSERT_EQ(ldaptime_to_generalized(T0, gt), 0);
    ASSERT_STR_EQ(gt, "20240131120000Z");
    ASSERT_EQ(ldaptime_to_generalized(MAXU, gt), 0);
    ASSERT_STR_EQ(gt, "99991231235959Z");
    ASSERT_EQ(ldaptime_to_generalized(-1, gt), RNG);
    ASSERT_EQ(ldaptime_to_generalized(MAXU + 1, gt), RNG);
    ASSERT_EQ(ldaptime_to_filetime(0, &f), 0);
    ASSERT_EQ(f, LDAPTIME_FILETIME_EPOCH);
    ASSERT_EQ(ldaptime_to_filetime(-1, &f), RNG);
    ASSERT_EQ(ldaptime_to_filetime(MAXU + 1, &f), RNG);
    ASSERT_EQ(ldaptime_attr_parse("PWDLASTSET", &a), 0);
    ASSERT_EQ(a, LDAPTIME_PWDLASTSET);
    ASSERT_EQ(ldaptime_attr_parse("pwdChangedTime", &a), 0);
    ASSERT_EQ(a, LDAPTIME_PWDCHANGEDTIME);
    ASSERT_EQ(ldaptime_attr_parse("auto", &a), 0);
    ASSERT_EQ(a, LDAPTIME_AUTO);
    ASSERT_EQ(ldaptime_attr_parse("shadowlastchange", &a), 0);
    ASSERT_EQ(a, LDAPTIME_SHADOWLASTCHANGE);
    ASSERT_EQ(ldaptime_attr_parse("modifyTimestamp", &a), SYN);
    ASSERT_STR_EQ(ldaptime_attr_name(LDAPTIME_PWDLASTSET), "pwdLastSet");
    ASSERT_STR_EQ(ldaptime_attr_name((enum ldaptime_attr)99), "unknown");
    ASSERT_STR_EQ(ldaptime_strerror(RNG), "out of range");
    ASSERT_STR_EQ(ldaptime_strerror(-99), "unknown error");
    ASSERT_STR_EQ(ldaptime_verdict_name(LDAPTIME_UNBLOCK), "changed");
    TEST_PASS("formatters and names");
}

static void test_round_trips(void)
{
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    unsigned i;

    for (i = 0; i < 200000; i++) {
        char gt[LDAPTIME_GT_SIZE], fts[32], iso[LDAPTIME_ISO_SIZE];
        int64_t t, back = -1, f;
        bool mc = true;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        t = i < 1000 ? (int64_t)i * 86399 : (int64_t)(x % (uint64_t)(MAXU + 1));
        ASSERT_EQ(ldaptime_to_generalized(t, gt), 0);
        ASSERT_EQ(ldaptime_generalized(gt, strlen(gt), &back), 0);
        ASSERT_EQ(back, t);
        ASSERT_EQ(ldaptime_to_filetime(t, &f), 0);
        snprintf(fts, sizeof(fts), "%lld", (long long)(f + (int64_t)(x % 10000000)));
        ASSERT_EQ(ldaptime_filetime(fts, strlen(fts), &back, &mc), 0);
        ASSERT_EQ(back, t);
        ASSERT_TRUE(t == 0 || !mc);
        ldaptime_iso(t, iso);
        ASSERT_EQ(strlen(iso), 20);
        ASSERT_TRUE(memcmp(iso, gt, 4) == 0 && memcmp(iso + 5, gt + 4, 2) == 0);
    }
    TEST_PASS("200,000 round trips through GeneralizedTime and FILETIME");
}

int main(void)
{
    test_filetime();
    test_generalized();
    test_days_bool();
    test_judge();
    test_format();
    test_round_trips();
    TEST_SUMMARY();
    return 0;
}
