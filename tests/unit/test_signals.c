/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_signals - unit tests of the tracking script's reply into struct rl_signals
 * SYNOPSIS
 *      build/tests/test_signals       (run from the repository root)
 * DESCRIPTION
 *      Every integer and string signal of signals.h (the X-macro lists, so a new one is
 *      covered without editing this file) is set from a name/value pair and touches its
 *      own field only; integer signals also arrive as decimal text; unknown, truncated,
 *      extended and wrong-case names are ignored and leave the struct unchanged; a value
 *      of the wrong type is refused; overlong strings are clipped inside their field; the
 *      integer parser refuses hostile text (signs, spaces, hex, exponents, overflow, NUL
 *      inside, 24+ bytes); every name the reply of ratelimit/lua/track.lua returns is one
 *      signals.c knows; signals_cap_name and signals_src_name.
 * DIAGNOSTICS
 *      Aborts on the first failed assertion; prints "N passed, 0 failed" at the end.
 * SEE ALSO
 *      ratelimit/signals.c, ratelimit/lua/track.lua, tests/unit/testlib.h
 */
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit/signals.h"
#include "tests/unit/testlib.h"

#define TRACK_LUA "ratelimit/lua/track.lua"

/* B - a byte string and its length, NULs included. */
#define B(s) s, sizeof(s) - 1

static const struct {
    const char *name;
    size_t off;
} ints[] = {
#define INT_ROW(n) {#n, offsetof(struct rl_signals, n)},
    SIGNALS_INTS(INT_ROW)
#undef INT_ROW
};

static const struct {
    const char *name;
    size_t off;
} strs[] = {
#define STR_ROW(n) {#n, offsetof(struct rl_signals, n)},
    SIGNALS_STRS(STR_ROW)
#undef STR_ROW
};

#define NINTS (sizeof(ints) / sizeof(ints[0]))
#define NSTRS (sizeof(strs) / sizeof(strs[0]))

static long long int_at(const struct rl_signals *s, size_t off)
{
    long long v;

    memcpy(&v, (const char *)s + off, sizeof(v));
    return v;
}

static const char *str_at(const struct rl_signals *s, size_t off)
{
    return (const char *)s + off;
}

/* same_except - a and b are byte-equal outside [off, off + len). */
static bool same_except(const struct rl_signals *a, const struct rl_signals *b, size_t off,
                        size_t len)
{
    return memcmp(a, b, off) == 0 &&
           memcmp((const char *)a + off + len, (const char *)b + off + len,
                  sizeof(*a) - off - len) == 0;
}

/* filled - a struct whose every byte is 0x5a, so untouched fields are visible. */
static void filled(struct rl_signals *s)
{
    memset(s, 0x5a, sizeof(*s));
}

/* ---- clear and every name ---------------------------------------------------------- */

static void test_clear(void)
{
    struct rl_signals s;
    size_t i;

    filled(&s);
    signals_clear(&s);
    for (i = 0; i < NINTS; i++)
        ASSERT_EQ(int_at(&s, ints[i].off), 0);
    for (i = 0; i < NSTRS; i++)
        ASSERT_STR_EQ(str_at(&s, strs[i].off), "");
    TEST_PASS("clear: every int 0, every string empty");
}

static void test_every_int(void)
{
    static const long long vals[] = {1, 0, -1, 143, LLONG_MAX, LLONG_MIN};
    struct rl_signals s, before;
    size_t i, v;

    ASSERT_TRUE(NINTS >= 40);
    for (i = 0; i < NINTS; i++) {
        for (v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
            filled(&s);
            before = s;
            ASSERT_TRUE(signals_set_int(&s, ints[i].name, strlen(ints[i].name), vals[v]));
            ASSERT_EQ(int_at(&s, ints[i].off), vals[v]);
            ASSERT_TRUE(same_except(&s, &before, ints[i].off, sizeof(long long)));
        }
        TEST_PASS(ints[i].name);
    }
}

static void test_every_int_as_text(void)
{
    static const struct {
        const char *text;
        long long want;
    } vals[] = {{"0", 0},
                {"-0", 0},
                {"7", 7},
                {"-42", -42},
                {"0000000000000000000007", 7},
                {"9223372036854775807", LLONG_MAX},
                {"-9223372036854775808", LLONG_MIN}};
    struct rl_signals s, before;
    size_t i, v;

    for (i = 0; i < NINTS; i++) {
        for (v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
            filled(&s);
            before = s;
            ASSERT_TRUE(signals_set_str(&s, ints[i].name, strlen(ints[i].name), vals[v].text,
                                        strlen(vals[v].text)));
            ASSERT_EQ(int_at(&s, ints[i].off), vals[v].want);
            ASSERT_TRUE(same_except(&s, &before, ints[i].off, sizeof(long long)));
        }
    }
    TEST_PASS("every int signal also accepted as decimal text");
}

static void test_every_str(void)
{
    struct rl_signals s, before;
    size_t i;

    ASSERT_EQ(NSTRS, 3);
    for (i = 0; i < NSTRS; i++) {
        filled(&s);
        before = s;
        ASSERT_TRUE(signals_set_str(&s, strs[i].name, strlen(strs[i].name), "PD-7F3A9C21", 11));
        ASSERT_STR_EQ(str_at(&s, strs[i].off), "PD-7F3A9C21");
        ASSERT_TRUE(same_except(&s, &before, strs[i].off, SIGNALS_STR_MAX));
        ASSERT_TRUE(signals_set_str(&s, strs[i].name, strlen(strs[i].name), "", 0));
        ASSERT_STR_EQ(str_at(&s, strs[i].off), "");
        /* a string signal is never an integer */
        before = s;
        ASSERT_TRUE(!signals_set_int(&s, strs[i].name, strlen(strs[i].name), 5));
        ASSERT_TRUE(memcmp(&s, &before, sizeof(s)) == 0);
        TEST_PASS(strs[i].name);
    }
}

/* A whole reply, as decide.c feeds it: pairs in any order, later pairs win. */
static void test_reply_sequence(void)
{
    struct rl_signals s;

    signals_clear(&s);
    ASSERT_TRUE(signals_set_int(&s, B("blocked"), 1));
    ASSERT_TRUE(signals_set_str(&s, B("block_ref"), B("PD-7F3A9C21")));
    ASSERT_TRUE(signals_set_str(&s, B("block_reason"), B("compromise")));
    ASSERT_TRUE(signals_set_int(&s, B("block_created"), 1700000000));
    ASSERT_TRUE(!signals_set_int(&s, B("some_future_signal"), 3));
    ASSERT_TRUE(signals_set_int(&s, B("rcpt_1h"), 143));
    ASSERT_TRUE(signals_set_int(&s, B("rcpt_1h"), 144));
    ASSERT_TRUE(signals_set_str(&s, B("profile"), B("bulk")));
    ASSERT_EQ(s.blocked, 1);
    ASSERT_EQ(s.block_created, 1700000000);
    ASSERT_EQ(s.rcpt_1h, 144);
    ASSERT_STR_EQ(s.block_ref, "PD-7F3A9C21");
    ASSERT_STR_EQ(s.block_reason, "compromise");
    ASSERT_STR_EQ(s.profile, "bulk");
    ASSERT_EQ(s.rcpt_24h, 0);
    TEST_PASS("a reply: pairs in order, the last one wins, unknown ignored");
}

/* ---- unknown names ----------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t len;
} unknown[] = {
    {B("")},
    {B("blockedx")},
    {B("blocke")},
    {B("Blocked")},
    {B("BLOCKED")},
    {B(" blocked")},
    {B("blocked ")},
    {B("blocked\0")},
    {B("\0blocked")},
    {B("rcpt_1h\n")},
    {B("rcpt-1h")},
    {B("block_ref_")},
    {B("profil")},
    {B("profiles")},
    {B("block_reason\r")},
    {B("blocked\0x")},
    {B("lim_rcpt_hour lim_rcpt_day")},
    {B("\xff\xfe")},
    {B("rcpt_1h\xc2\xa0")},
    {B("signals_clear")},
    {B("x")},
};

static void test_unknown_names(void)
{
    struct rl_signals s, before;
    size_t i;

    for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        filled(&s);
        before = s;
        ASSERT_TRUE(!signals_set_int(&s, unknown[i].name, unknown[i].len, 1));
        ASSERT_TRUE(!signals_set_str(&s, unknown[i].name, unknown[i].len, "1", 1));
        ASSERT_TRUE(!signals_set_str(&s, unknown[i].name, unknown[i].len, "x", 1));
        ASSERT_TRUE(memcmp(&s, &before, sizeof(s)) == 0);
    }
    TEST_PASS("unknown, near-miss and wrong-case names ignored, struct unchanged");
}

/* Names are length-delimited: the bytes after name_len are never read as part of it. */
static void test_length_delimited_names(void)
{
    struct rl_signals s;
    char name[32];

    signals_clear(&s);
    memcpy(name, "rcpt_1hXXXXXXXX", 16);
    ASSERT_TRUE(signals_set_int(&s, name, 7, 9));
    ASSERT_EQ(s.rcpt_1h, 9);
    ASSERT_TRUE(signals_set_int(&s, name, 6, 9) == false); /* "rcpt_1" */
    memcpy(name, "profileZZZ", 10);
    ASSERT_TRUE(signals_set_str(&s, name, 7, "outreachQQQ", 8));
    ASSERT_STR_EQ(s.profile, "outreach");
    TEST_PASS("names and values are length-delimited");
}

/* ---- strings ----------------------------------------------------------------------- */

static void test_string_clipping(void)
{
    static char big[10000];
    struct rl_signals s, before;
    size_t i, n;
    static const size_t lens[] = {
        SIGNALS_STR_MAX - 2, SIGNALS_STR_MAX - 1, SIGNALS_STR_MAX, SIGNALS_STR_MAX + 1, 1000,
        sizeof(big)};

    for (i = 0; i < sizeof(big); i++)
        big[i] = (char)('A' + i % 26);
    for (i = 0; i < NSTRS; i++) {
        for (n = 0; n < sizeof(lens) / sizeof(lens[0]); n++) {
            size_t want = lens[n] < SIGNALS_STR_MAX ? lens[n] : SIGNALS_STR_MAX - 1;

            filled(&s);
            before = s;
            ASSERT_TRUE(signals_set_str(&s, strs[i].name, strlen(strs[i].name), big, lens[n]));
            ASSERT_EQ(strlen(str_at(&s, strs[i].off)), want);
            ASSERT_TRUE(memcmp(str_at(&s, strs[i].off), big, want) == 0);
            ASSERT_TRUE(same_except(&s, &before, strs[i].off, SIGNALS_STR_MAX));
        }
    }
    TEST_PASS("overlong strings clipped to SIGNALS_STR_MAX - 1 inside their field");
}

static void test_string_bytes(void)
{
    struct rl_signals s;

    signals_clear(&s);
    /* stored as they are: rules.c copies them out printable-only, logs sanitise */
    ASSERT_TRUE(signals_set_str(&s, B("block_reason"), B("rate\r\naction=OK")));
    ASSERT_STR_EQ(s.block_reason, "rate\r\naction=OK");
    /* a NUL inside ends the C string there; nothing past the field is touched */
    ASSERT_TRUE(signals_set_str(&s, B("block_ref"), B("PD-1\0hidden")));
    ASSERT_STR_EQ(s.block_ref, "PD-1");
    ASSERT_TRUE(signals_set_str(&s, B("profile"), B("\xff\xfe\xc3")));
    ASSERT_STR_EQ(s.profile, "\xff\xfe\xc3");
    TEST_PASS("string bytes stored as given, NUL-terminated");
}

/* ---- integers from text ------------------------------------------------------------ */

static const struct {
    const char *name;
    const char *text;
    size_t len;
} bad_ints[] = {
    {"empty", B("")},
    {"plus sign", B("+1")},
    {"leading space", B(" 1")},
    {"trailing space", B("1 ")},
    {"trailing LF", B("1\n")},
    {"CR LF", B("1\r\n")},
    {"hex", B("0x10")},
    {"exponent", B("1e3")},
    {"fraction", B("1.5")},
    {"minus only", B("-")},
    {"double minus", B("--1")},
    {"minus space", B("- 1")},
    {"letters", B("abc")},
    {"digits then letters", B("12abc")},
    {"NUL inside", B("12\0"
                     "34")},
    {"NUL after", B("12\0")},
    {"NUL before", B("\0"
                     "12")},
    {"overflow", B("9223372036854775808")},
    {"underflow", B("-9223372036854775809")},
    {"huge", B("99999999999999999999999")},
    {"24 bytes of zeros", B("000000000000000000000001")},
    {"very long", B("1111111111111111111111111111111111111111111111111111111111111111")},
    {"arabic digit", B("\xd9\xa3")},
    {"fullwidth digit", B("\xef\xbc\x91")},
    {"inf", B("inf")},
    {"nan", B("nan")},
    {"comma", B("1,000")},
};

static void test_bad_int_text(void)
{
    struct rl_signals s, before;
    size_t i;

    for (i = 0; i < sizeof(bad_ints) / sizeof(bad_ints[0]); i++) {
        filled(&s);
        before = s;
        if (signals_set_str(&s, B("rcpt_1h"), bad_ints[i].text, bad_ints[i].len))
            fprintf(stderr, "case %s accepted\n", bad_ints[i].name);
        ASSERT_TRUE(!signals_set_str(&s, B("rcpt_1h"), bad_ints[i].text, bad_ints[i].len));
        ASSERT_TRUE(memcmp(&s, &before, sizeof(s)) == 0);
        TEST_PASS(bad_ints[i].name);
    }
}

/* ---- the script's reply names ------------------------------------------------------ */

/* Every quoted name in the table reply() returns, and in the blocked answer of main(),
 * must be a signal this binary understands (the values there are never quoted text,
 * except the empty '' fallbacks). */
/* track_lua_positional - a line of reply()'s positional table: its value's "-- name"
 * must be signal i. Returns whether the line held one. */
static bool track_lua_positional(const char *line, size_t i)
{
    const char *c = strstr(line, " -- "), *want;
    size_t len, wlen;
    bool same;

    if (c == NULL)
        return false;
    c += 4;
    len = strcspn(c, " \r\n");
    want = signals_name(i, &wlen);
    same = want != NULL && wlen == len && memcmp(want, c, len) == 0;
    if (!same)
        fprintf(stderr, "track.lua: value %zu is %.*s, signals.h has %s there\n", i, (int)len, c,
                want != NULL ? want : "nothing");
    ASSERT_TRUE(same);
    return true;
}

/* test_track_lua_names - reply()'s positional table lists every signal in the order of
 * signals.h (one value per line, named by its comment), and the blocked reply's names
 * are known signals. */
static void test_track_lua_names(void)
{
    FILE *f = fopen(TRACK_LUA, "r");
    char line[512];
    bool in_reply = false, in_table = false;
    size_t values = 0;
    int names = 0, tables = 0;
    struct rl_signals s;

    ASSERT_TRUE(f != NULL);
    signals_clear(&s);
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = line, *q;

        if (strncmp(line, "local function reply(", 21) == 0)
            in_reply = true;
        else if (strncmp(line, "end", 3) == 0)
            in_reply = false;
        if (in_reply && strstr(line, "return {") != NULL) {
            ASSERT_TRUE(fgets(line, sizeof(line), f) != NULL);
            ASSERT_TRUE(strstr(line, "'" SIGNALS_MARK "',") != NULL);
            while (fgets(line, sizeof(line), f) != NULL && strchr(line, '}') == NULL)
                if (track_lua_positional(line, values))
                    values++;
            tables++;
            continue;
        }
        if (strstr(line, "return {'blocked'") != NULL) {
            in_table = true;
            tables++;
        }
        if (!in_table)
            continue;
        while ((p = strchr(p, '\'')) != NULL && (q = strchr(p + 1, '\'')) != NULL) {
            size_t len = (size_t)(q - p - 1);

            if (len > 0) {
                if (!signals_set_int(&s, p + 1, len, 0) && !signals_set_str(&s, p + 1, len, "", 0))
                    fprintf(stderr, "track.lua returns unknown signal %.*s\n", (int)len, p + 1);
                ASSERT_TRUE(signals_set_int(&s, p + 1, len, 0) ||
                            signals_set_str(&s, p + 1, len, "", 0));
                names++;
            }
            p = q + 1;
        }
        if (strchr(line, '}') != NULL)
            in_table = false;
    }
    fclose(f);
    ASSERT_EQ(tables, 2);
    ASSERT_EQ(values, (size_t)SIGNALS_N);
    ASSERT_EQ(names, 4);
    TEST_PASS("track.lua returns every signal in the order of signals.h");
}

/* test_positional - signals_set_at: signal i of SIGNALS_N, integers also as text, the
 * strings only as text, nothing beyond. */
static void test_positional(void)
{
    struct rl_signals s;
    size_t i;

    signals_clear(&s);
    ASSERT_EQ((size_t)SIGNALS_N, (size_t)SIGNALS_N_INTS + SIGNALS_N_STRS);
    ASSERT_STR_EQ(signals_name(0, NULL), "blocked");
    ASSERT_STR_EQ(signals_name(SIGNALS_N - 1, NULL), "profile");
    ASSERT_TRUE(signals_name(SIGNALS_N, NULL) == NULL);
    ASSERT_TRUE(signals_set_at(&s, 0, true, 1, "", 0));
    ASSERT_EQ(s.blocked, 1);
    for (i = 0; i < SIGNALS_N_INTS; i++) {
        struct rl_signals t;
        size_t len;
        const char *name = signals_name(i, &len);

        ASSERT_TRUE(name != NULL && len == strlen(name));
        signals_clear(&t);
        ASSERT_TRUE(signals_set_at(&t, i, true, (long long)i + 7, "", 0));
        signals_clear(&s);
        ASSERT_TRUE(signals_set_int(&s, name, len, (long long)i + 7));
        ASSERT_TRUE(memcmp(&s, &t, sizeof(s)) == 0);
        ASSERT_TRUE(signals_set_at(&t, i, false, 0, B("-12")));
        ASSERT_TRUE(!signals_set_at(&t, i, false, 0, B("12x")));
        ASSERT_TRUE(!signals_set_at(&t, i, false, 0, B("")));
    }
    signals_clear(&s);
    ASSERT_TRUE(signals_set_at(&s, SIGNALS_N - 1, false, 0, B("bulk")));
    ASSERT_STR_EQ(s.profile, "bulk");
    ASSERT_TRUE(!signals_set_at(&s, SIGNALS_N - 1, true, 5, "", 0));
    ASSERT_STR_EQ(s.profile, "bulk");
    ASSERT_TRUE(signals_set_at(&s, SIGNALS_N_INTS, false, 0, B("PD-1")));
    ASSERT_STR_EQ(s.block_ref, "PD-1");
    ASSERT_TRUE(!signals_set_at(&s, SIGNALS_N, false, 0, B("x")));
    ASSERT_TRUE(!signals_set_at(&s, SIGNALS_N, true, 1, "", 0));
    ASSERT_TRUE(!signals_set_at(&s, (size_t)-1, true, 1, "", 0));
    TEST_PASS("positional reply: signal i of signals.h, integers also as text");
}

/* ---- names of enums ---------------------------------------------------------------- */

static void test_enum_names(void)
{
    ASSERT_STR_EQ(signals_cap_name(SIGNALS_CAP_NONE), "none");
    ASSERT_STR_EQ(signals_cap_name(SIGNALS_CAP_RCPT_HOUR), "rcpt_hour");
    ASSERT_STR_EQ(signals_cap_name(SIGNALS_CAP_RCPT_DAY), "rcpt_day");
    ASSERT_STR_EQ(signals_cap_name(SIGNALS_CAP_MSG_HOUR), "msg_hour");
    ASSERT_STR_EQ(signals_cap_name(SIGNALS_CAP_MSG_DAY), "msg_day");
    ASSERT_STR_EQ(signals_cap_name(-1), "unknown");
    ASSERT_STR_EQ(signals_cap_name(5), "unknown");
    ASSERT_STR_EQ(signals_cap_name(INT_MIN), "unknown");
    TEST_PASS("cap names");
    ASSERT_STR_EQ(signals_src_name(SIGNALS_SRC_DEFAULT), "default");
    ASSERT_STR_EQ(signals_src_name(SIGNALS_SRC_DOMAIN), "domain");
    ASSERT_STR_EQ(signals_src_name(SIGNALS_SRC_MAILBOX), "mailbox");
    ASSERT_STR_EQ(signals_src_name(SIGNALS_SRC_RAISE), "raise");
    ASSERT_STR_EQ(signals_src_name(4), "unknown");
    ASSERT_STR_EQ(signals_src_name(INT_MAX), "unknown");
    TEST_PASS("limit source names");
}

int main(void)
{
    test_clear();
    test_every_int();
    test_every_int_as_text();
    test_every_str();
    test_reply_sequence();
    test_unknown_names();
    test_length_delimited_names();
    test_string_clipping();
    test_string_bytes();
    test_bad_int_text();
    test_track_lua_names();
    test_positional();
    test_enum_names();
    TEST_SUMMARY();
    return 0;
}
