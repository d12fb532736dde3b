/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_trackargs - unit tests of the argv of the tracking script
 * SYNOPSIS
 *      build/tests/test_trackargs     (run from the repository root)
 * DESCRIPTION
 *      trackargs_build: argc with and without "EVALSHA <sha>"; the order of KEYS and ARGV
 *      checked against the SYNOPSIS and the "[n] name" lines at the top of
 *      ratelimit/lua/track.lua (read from the file, so the two cannot drift apart); every
 *      value rendered as the script expects; the defaults of NULL texts and of the tuning
 *      knobs; hostile and overlong mailboxes; every error code (bad mailbox, bad prefix,
 *      overlong field, negative number, unknown limit_src, bad sha); the largest inputs
 *      fit the buffer and nothing is truncated; argvlen matches every argument.
 * DIAGNOSTICS
 *      Aborts on the first failed assertion; prints "N passed, 0 failed" at the end.
 * SEE ALSO
 *      ratelimit/trackargs.c, ratelimit/lua/track.lua, tests/unit/testlib.h
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/util.h"
#include "ratelimit/keys.h"
#include "ratelimit/signals.h"
#include "ratelimit/trackargs.h"
#include "tests/unit/testlib.h"

#define TRACK_LUA "ratelimit/lua/track.lua"
#define SHA "0123456789abcdef0123456789abcdef01234567"
#define NNAMES (TRACKARGS_NKEYS + TRACKARGS_NARGV)

static const uint8_t hkey[SIPHASH_KEY_LEN] = {1, 2,  3,  4,  5,  6,  7,  8,
                                              9, 10, 11, 12, 13, 14, 15, 16};

/* The names of KEYS[1..6] and ARGV[1..22], in the order trackargs.c writes them, and the
 * text each gets from full_input(). */
static const struct {
    const char *name, *want;
} layout[NNAMES] = {
    {"st", "pd:1:{anna@x.tld}:st"},
    {"kr", "pd:1:{anna@x.tld}:kr"},
    {"kd", "pd:1:{anna@x.tld}:kd"},
    {"net", "pd:1:{anna@x.tld}:net"},
    {"ovr", "pd:1:{anna@x.tld}:ovr"},
    {"blk", "pd:1:{anna@x.tld}:blk"},
    {"api", TRACKARGS_API},
    {"now_ms", "1700000000123"},
    {"state", "RCPT"},
    {"instance", "4F2A1C0D9B"},
    {"rcpt_hash", "0123456789abcdef"},
    {"dom_hash", "fedcba9876543210"},
    {"network", "192.0.2.0/24"},
    {"sender_mismatch", "1"},
    {"size", "12345"},
    {"recipient_count", "7"},
    {"lim_rcpt_hour", "101"},
    {"lim_rcpt_day", "102"},
    {"lim_msg_hour", "103"},
    {"lim_msg_day", "104"},
    {"limit_src", "1"},
    {"dom_exempt", "1"},
    {"dom_profile", "bulk"},
    {"memory_days", "11"},
    {"rcpt_memory_max", "12"},
    {"dom_memory_max", "13"},
    {"nets_max", "14"},
    {"state_days", "15"},
};

/* ---- helpers ----------------------------------------------------------------------- */

static void full_input(struct trackargs_in *in)
{
    memset(in, 0, sizeof(*in));
    in->mailbox = "anna@x.tld";
    in->mailbox_len = 10;
    in->hash_key = hkey;
    in->prefix = "pd:";
    in->now_ms = 1700000000123LL;
    in->protocol_state = "RCPT";
    in->instance = "4F2A1C0D9B";
    in->have_rcpt = true;
    in->rcpt_hash = UINT64_C(0x0123456789abcdef);
    in->have_dom = true;
    in->dom_hash = UINT64_C(0xfedcba9876543210);
    in->network = "192.0.2.0/24";
    in->sender_mismatch = true;
    in->size = 12345;
    in->recipient_count = 7;
    in->lim_rcpt_hour = 101;
    in->lim_rcpt_day = 102;
    in->lim_msg_hour = 103;
    in->lim_msg_day = 104;
    in->limit_src = SIGNALS_SRC_DOMAIN;
    in->dom_exempt = true;
    in->dom_profile = "bulk";
    in->tuning.memory_days = 11;
    in->tuning.rcpt_memory_max = 12;
    in->tuning.dom_memory_max = 13;
    in->tuning.nets_max = 14;
    in->tuning.state_days = 15;
}

/* minimal_input - only what is required; everything else zero / NULL. */
static void minimal_input(struct trackargs_in *in)
{
    memset(in, 0, sizeof(*in));
    in->mailbox = "anna@x.tld";
    in->mailbox_len = 10;
    in->hash_key = hkey;
}

/* assert_well_formed - argvlen matches, every argument lies inside buf, NUL-terminated. */
static void assert_well_formed(const struct trackargs *ta)
{
    int i;

    ASSERT_TRUE(ta->used <= sizeof(ta->buf));
    for (i = 0; i < ta->argc; i++) {
        ASSERT_TRUE(ta->argv[i] >= ta->buf && ta->argv[i] + ta->argvlen[i] < ta->buf + ta->used);
        ASSERT_EQ(ta->argv[i][ta->argvlen[i]], '\0');
        ASSERT_EQ(strlen(ta->argv[i]), ta->argvlen[i]);
    }
}

/* arg - the argument called name (layout order), for a vector with or without the sha. */
static const char *arg(const struct trackargs *ta, bool with_sha, const char *name)
{
    int base = with_sha ? 3 : 1, i;

    for (i = 0; i < NNAMES; i++)
        if (strcmp(layout[i].name, name) == 0)
            return ta->argv[base + i];
    fprintf(stderr, "no argument %s\n", name);
    abort();
}

static struct trackargs ta; /* 3 KB: keep it off the stack */

/* ---- layout ------------------------------------------------------------------------ */

static void test_full_with_sha(void)
{
    struct trackargs_in in;
    int i;

    full_input(&in);
    ASSERT_EQ(trackargs_build(&ta, &in, SHA), 0);
    ASSERT_EQ(ta.argc, TRACKARGS_MAX_ARGS);
    ASSERT_EQ(ta.argc, 3 + TRACKARGS_NKEYS + TRACKARGS_NARGV);
    assert_well_formed(&ta);
    ASSERT_STR_EQ(ta.argv[0], "EVALSHA");
    ASSERT_STR_EQ(ta.argv[1], SHA);
    ASSERT_STR_EQ(ta.argv[2], "6");
    for (i = 0; i < NNAMES; i++) {
        if (strcmp(ta.argv[3 + i], layout[i].want) != 0)
            fprintf(stderr, "argument %s\n", layout[i].name);
        ASSERT_STR_EQ(ta.argv[3 + i], layout[i].want);
    }
    TEST_PASS("EVALSHA sha 6 KEYS[1..6] ARGV[1..22], every value");
}

static void test_full_without_sha(void)
{
    struct trackargs_in in;
    int i;

    full_input(&in);
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), 0);
    ASSERT_EQ(ta.argc, 1 + TRACKARGS_NKEYS + TRACKARGS_NARGV);
    assert_well_formed(&ta);
    ASSERT_STR_EQ(ta.argv[0], "6");
    for (i = 0; i < NNAMES; i++)
        ASSERT_STR_EQ(ta.argv[1 + i], layout[i].want);
    TEST_PASS("sha NULL: the vector starts at numkeys");
}

/* The names of the SYNOPSIS of track.lua, and its "[n] name" ARGV lines, must be the
 * layout this test checks trackargs against. */
static void test_layout_matches_track_lua(void)
{
    FILE *f = fopen(TRACK_LUA, "r");
    char line[512], *tok, *save;
    const char *names[NNAMES + 8];
    char words[4096] = "";
    int n = 0, i, idx, seen = 0, nkeys = 0;
    bool in_syn = false;

    ASSERT_TRUE(f != NULL);
    while (fgets(line, sizeof(line), f) != NULL) {
        char nm[64];

        if (strncmp(line, "SYNOPSIS", 8) == 0) {
            in_syn = true;
            continue;
        }
        if (in_syn && strncmp(line, "KEYS", 4) == 0)
            in_syn = false;
        if (in_syn && strlen(words) + strlen(line) < sizeof(words))
            strcat(words, line);
        /* "    KEYS[1] st   hash ..." */
        if (sscanf(line, " KEYS[%d] %63s", &idx, nm) == 2) {
            ASSERT_TRUE(idx >= 1 && idx <= TRACKARGS_NKEYS);
            ASSERT_STR_EQ(nm, layout[idx - 1].name);
            nkeys++;
        }
        /* "    [7]  network          ..." (ranges such as "[11..14]" do not match) */
        if (sscanf(line, " [%d] %63s", &idx, nm) == 2 && strstr(line, "..") == NULL) {
            ASSERT_TRUE(idx >= 1 && idx <= TRACKARGS_NARGV);
            ASSERT_STR_EQ(nm, layout[TRACKARGS_NKEYS + idx - 1].name);
            seen++;
        }
        if (strncmp(line, "]]", 2) == 0)
            break;
    }
    fclose(f);
    ASSERT_EQ(nkeys, TRACKARGS_NKEYS);
    ASSERT_TRUE(seen >= TRACKARGS_NARGV - 4); /* all but the [11..14] range */
    /* SYNOPSIS: "EVALSHA <sha> 6 st kr ... state_days" */
    for (tok = strtok_r(words, " \t\n", &save); tok != NULL; tok = strtok_r(NULL, " \t\n", &save))
        if (n < (int)(sizeof(names) / sizeof(names[0])))
            names[n++] = tok;
    ASSERT_EQ(n, 3 + NNAMES);
    ASSERT_STR_EQ(names[0], "EVALSHA");
    ASSERT_STR_EQ(names[1], "<sha>");
    ASSERT_STR_EQ(names[2], "6");
    for (i = 0; i < NNAMES; i++)
        ASSERT_STR_EQ(names[3 + i], layout[i].name);
    TEST_PASS("the layout is the one documented at the top of track.lua");
}

/* ---- defaults ---------------------------------------------------------------------- */

static void test_defaults(void)
{
    struct trackargs_in in;
    char num[32];

    minimal_input(&in);
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), 0);
    assert_well_formed(&ta);
    ASSERT_STR_EQ(arg(&ta, false, "st"), "pd:1:{anna@x.tld}:st"); /* NULL prefix */
    ASSERT_STR_EQ(arg(&ta, false, "api"), "1");
    ASSERT_STR_EQ(arg(&ta, false, "now_ms"), "0");
    ASSERT_STR_EQ(arg(&ta, false, "state"), "");
    ASSERT_STR_EQ(arg(&ta, false, "instance"), "");
    ASSERT_STR_EQ(arg(&ta, false, "rcpt_hash"), "");
    ASSERT_STR_EQ(arg(&ta, false, "dom_hash"), "");
    ASSERT_STR_EQ(arg(&ta, false, "network"), "unknown");
    ASSERT_STR_EQ(arg(&ta, false, "sender_mismatch"), "0");
    ASSERT_STR_EQ(arg(&ta, false, "size"), "0");
    ASSERT_STR_EQ(arg(&ta, false, "recipient_count"), "0");
    ASSERT_STR_EQ(arg(&ta, false, "lim_rcpt_hour"), "0");
    ASSERT_STR_EQ(arg(&ta, false, "lim_msg_day"), "0");
    ASSERT_STR_EQ(arg(&ta, false, "limit_src"), "0");
    ASSERT_STR_EQ(arg(&ta, false, "dom_exempt"), "0");
    ASSERT_STR_EQ(arg(&ta, false, "dom_profile"), "");
    snprintf(num, sizeof(num), "%d", TRACKARGS_MEMORY_DAYS);
    ASSERT_STR_EQ(arg(&ta, false, "memory_days"), num);
    snprintf(num, sizeof(num), "%d", TRACKARGS_RCPT_MEMORY_MAX);
    ASSERT_STR_EQ(arg(&ta, false, "rcpt_memory_max"), num);
    snprintf(num, sizeof(num), "%d", TRACKARGS_DOM_MEMORY_MAX);
    ASSERT_STR_EQ(arg(&ta, false, "dom_memory_max"), num);
    snprintf(num, sizeof(num), "%d", TRACKARGS_NETS_MAX);
    ASSERT_STR_EQ(arg(&ta, false, "nets_max"), num);
    snprintf(num, sizeof(num), "%d", TRACKARGS_STATE_DAYS);
    ASSERT_STR_EQ(arg(&ta, false, "state_days"), num);
    /* the documented values, not only the macros */
    ASSERT_STR_EQ(arg(&ta, false, "memory_days"), "180");
    ASSERT_STR_EQ(arg(&ta, false, "rcpt_memory_max"), "5000");
    ASSERT_STR_EQ(arg(&ta, false, "dom_memory_max"), "1000");
    ASSERT_STR_EQ(arg(&ta, false, "nets_max"), "64");
    ASSERT_STR_EQ(arg(&ta, false, "state_days"), "36");
    TEST_PASS("defaults: NULL texts, zero tuning knobs");
}

static void test_partial_values(void)
{
    struct trackargs_in in;

    /* a recipient without a domain; hashes that are 0 still print when present */
    minimal_input(&in);
    in.have_rcpt = true;
    in.rcpt_hash = 0;
    in.have_dom = false;
    in.dom_hash = 99; /* ignored: have_dom is false */
    in.tuning.nets_max = 1;
    in.limit_src = SIGNALS_SRC_DEFAULT;
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), 0);
    ASSERT_STR_EQ(arg(&ta, false, "rcpt_hash"), "0000000000000000");
    ASSERT_STR_EQ(arg(&ta, false, "dom_hash"), "");
    ASSERT_STR_EQ(arg(&ta, false, "nets_max"), "1");
    ASSERT_STR_EQ(arg(&ta, false, "memory_days"), "180");
    TEST_PASS("partial: zero hash printed, absent hash empty, one knob set");
}

/* ---- mailboxes and prefixes -------------------------------------------------------- */

static void test_mailboxes(void)
{
    static char big[KEYS_MAILBOX_MAX + 1];
    struct trackargs_in in;
    int i;

    minimal_input(&in);
    in.mailbox = "{a} b\r\n\0c";
    in.mailbox_len = 9;
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), 0);
    ASSERT_STR_EQ(arg(&ta, false, "st"), "pd:1:{%7Ba%7D%20b%0D%0A%00c}:st");
    ASSERT_STR_EQ(arg(&ta, false, "blk"), "pd:1:{%7Ba%7D%20b%0D%0A%00c}:blk");
    TEST_PASS("mailbox: hostile bytes escaped in all six keys");

    memset(big, 'z', sizeof(big));
    in.mailbox = big;
    in.mailbox_len = KEYS_MAILBOX_MAX;
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), 0);
    for (i = 0; i < TRACKARGS_NKEYS; i++) {
        ASSERT_TRUE(strncmp(ta.argv[1 + i], "pd:1:{h~", 8) == 0);
        ASSERT_EQ(ta.argvlen[1 + i], 6 + KEYS_ENC_HASHED_LEN + 2 + strlen(layout[i].name));
    }
    TEST_PASS("mailbox: 1024 bytes, hashed in the key names");

    in.mailbox_len = KEYS_MAILBOX_MAX + 1;
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), TRACKARGS_ERR_MAILBOX);
    in.mailbox_len = 0;
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), TRACKARGS_ERR_MAILBOX);
    in.mailbox = NULL;
    in.mailbox_len = 4;
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), TRACKARGS_ERR_MAILBOX);
    minimal_input(&in);
    in.hash_key = NULL;
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), TRACKARGS_ERR_MAILBOX);
    TEST_PASS("mailbox: 1025 bytes, empty, NULL, no hash key refused");
}

static const struct {
    const char *name, *prefix;
    int rc;
} prefix_cases[] = {
    {"prefix plain", "mx:", 0},
    {"prefix empty", "", 0},
    {"prefix 64", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},
    {"prefix 65", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     TRACKARGS_ERR_PREFIX},
    {"prefix brace", "pd:{", TRACKARGS_ERR_PREFIX},
    {"prefix close brace", "}pd:", TRACKARGS_ERR_PREFIX},
    {"prefix space", "p d:", TRACKARGS_ERR_PREFIX},
    {"prefix LF", "pd:\n", TRACKARGS_ERR_PREFIX},
    {"prefix high byte", "p\xe9:", TRACKARGS_ERR_PREFIX},
};

static void test_prefixes(void)
{
    struct trackargs_in in;
    size_t i;

    for (i = 0; i < sizeof(prefix_cases) / sizeof(prefix_cases[0]); i++) {
        minimal_input(&in);
        in.prefix = prefix_cases[i].prefix;
        ASSERT_EQ(trackargs_build(&ta, &in, NULL), prefix_cases[i].rc);
        if (prefix_cases[i].rc == 0) {
            ASSERT_TRUE(strncmp(ta.argv[1], in.prefix, strlen(in.prefix)) == 0);
            ASSERT_STR_EQ(ta.argv[1] + strlen(in.prefix), "1:{anna@x.tld}:st");
        }
        TEST_PASS(prefix_cases[i].name);
    }
}

/* ---- text fields ------------------------------------------------------------------- */

static void test_text_fields(void)
{
    static char f256[TRACKARGS_FIELD_MAX + 1], f257[TRACKARGS_FIELD_MAX + 2];
    static const char *const fields[] = {"state", "instance", "network", "dom_profile"};
    struct trackargs_in in;
    size_t i;

    memset(f256, 'x', TRACKARGS_FIELD_MAX);
    memset(f257, 'y', TRACKARGS_FIELD_MAX + 1);
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char **p;

        minimal_input(&in);
        p = i == 0   ? &in.protocol_state
            : i == 1 ? &in.instance
            : i == 2 ? &in.network
                     : &in.dom_profile;
        *p = f256;
        ASSERT_EQ(trackargs_build(&ta, &in, NULL), 0);
        ASSERT_STR_EQ(arg(&ta, false, fields[i]), f256); /* whole, not cut */
        *p = f257;
        ASSERT_EQ(trackargs_build(&ta, &in, NULL), TRACKARGS_ERR_FIELD);
        TEST_PASS(fields[i]);
    }
    /* binary-safe transport: CR, LF, braces and spaces are passed as they are */
    minimal_input(&in);
    in.instance = "a\r\nb {c}";
    in.protocol_state = "RCPT\r\nDEL x";
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), 0);
    ASSERT_STR_EQ(arg(&ta, false, "instance"), "a\r\nb {c}");
    ASSERT_STR_EQ(arg(&ta, false, "state"), "RCPT\r\nDEL x");
    TEST_PASS("text fields are passed as they are (argv is binary-safe)");
}

/* The largest accepted input fits the buffer, and nothing is cut. */
static void test_largest_fits(void)
{
    static char f256[4][TRACKARGS_FIELD_MAX + 1], big[KEYS_MAILBOX_MAX];
    char prefix[KEYS_PREFIX_MAX + 1], num[32];
    struct trackargs_in in;
    int i;

    for (i = 0; i < 4; i++)
        memset(f256[i], 'a' + i, TRACKARGS_FIELD_MAX);
    memset(prefix, ':', KEYS_PREFIX_MAX);
    prefix[KEYS_PREFIX_MAX] = '\0';
    /* 200 bytes literal: the longest key names */
    memset(big, 'm', sizeof(big));
    full_input(&in);
    in.mailbox = big;
    in.mailbox_len = KEYS_ENC_LITERAL_MAX;
    in.prefix = prefix;
    in.protocol_state = f256[0];
    in.instance = f256[1];
    in.network = f256[2];
    in.dom_profile = f256[3];
    in.now_ms = INT64_MAX;
    in.size = in.recipient_count = LLONG_MAX;
    in.lim_rcpt_hour = in.lim_rcpt_day = in.lim_msg_hour = in.lim_msg_day = LLONG_MAX;
    in.tuning.memory_days = in.tuning.rcpt_memory_max = LLONG_MAX;
    in.tuning.dom_memory_max = in.tuning.nets_max = in.tuning.state_days = LLONG_MAX;
    ASSERT_EQ(trackargs_build(&ta, &in, SHA), 0);
    ASSERT_EQ(ta.argc, TRACKARGS_MAX_ARGS);
    assert_well_formed(&ta);
    ASSERT_EQ(ta.argvlen[3], KEYS_PREFIX_MAX + 3 + KEYS_ENC_LITERAL_MAX + 2 + 2);
    ASSERT_STR_EQ(arg(&ta, true, "state"), f256[0]);
    ASSERT_STR_EQ(arg(&ta, true, "dom_profile"), f256[3]);
    snprintf(num, sizeof(num), "%lld", LLONG_MAX);
    ASSERT_STR_EQ(arg(&ta, true, "now_ms"), num);
    ASSERT_STR_EQ(arg(&ta, true, "state_days"), num);
    ASSERT_STR_EQ(arg(&ta, true, "lim_msg_day"), num);
    TEST_PASS("the largest input fits TRACKARGS_BUF_SIZE, nothing cut");
}

/* ---- numbers and the sha ----------------------------------------------------------- */

enum num_field {
    F_NOW,
    F_SIZE,
    F_COUNT,
    F_LRH,
    F_LRD,
    F_LMH,
    F_LMD,
    F_MEM,
    F_RMAX,
    F_DMAX,
    F_NETS,
    F_SDAYS,
    F_NFIELDS
};

static void set_num(struct trackargs_in *in, int f, long long v)
{
    switch (f) {
    case F_NOW:
        in->now_ms = v;
        break;
    case F_SIZE:
        in->size = v;
        break;
    case F_COUNT:
        in->recipient_count = v;
        break;
    case F_LRH:
        in->lim_rcpt_hour = v;
        break;
    case F_LRD:
        in->lim_rcpt_day = v;
        break;
    case F_LMH:
        in->lim_msg_hour = v;
        break;
    case F_LMD:
        in->lim_msg_day = v;
        break;
    case F_MEM:
        in->tuning.memory_days = v;
        break;
    case F_RMAX:
        in->tuning.rcpt_memory_max = v;
        break;
    case F_DMAX:
        in->tuning.dom_memory_max = v;
        break;
    case F_NETS:
        in->tuning.nets_max = v;
        break;
    default:
        in->tuning.state_days = v;
        break;
    }
}

static void test_negative_numbers(void)
{
    static const long long bad[] = {-1, -1000, LLONG_MIN};
    struct trackargs_in in;
    size_t b;
    int f;

    for (f = 0; f < F_NFIELDS; f++) {
        for (b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
            full_input(&in);
            set_num(&in, f, bad[b]);
            ASSERT_EQ(trackargs_build(&ta, &in, SHA), TRACKARGS_ERR_VALUE);
            ASSERT_EQ(trackargs_build(&ta, &in, NULL), TRACKARGS_ERR_VALUE);
        }
        full_input(&in);
        set_num(&in, f, 0);
        ASSERT_EQ(trackargs_build(&ta, &in, NULL), 0);
    }
    TEST_PASS("every negative number refused; zero accepted");
}

static void test_limit_src(void)
{
    struct trackargs_in in;

    full_input(&in);
    in.limit_src = SIGNALS_SRC_DEFAULT;
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), 0);
    ASSERT_STR_EQ(arg(&ta, false, "limit_src"), "0");
    in.limit_src = SIGNALS_SRC_DOMAIN;
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), 0);
    ASSERT_STR_EQ(arg(&ta, false, "limit_src"), "1");
    /* mailbox and raise are the script's own conclusions, never an input */
    in.limit_src = SIGNALS_SRC_MAILBOX;
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), TRACKARGS_ERR_VALUE);
    in.limit_src = SIGNALS_SRC_RAISE;
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), TRACKARGS_ERR_VALUE);
    in.limit_src = -1;
    ASSERT_EQ(trackargs_build(&ta, &in, NULL), TRACKARGS_ERR_VALUE);
    TEST_PASS("limit_src: default or domain only");
}

static const struct {
    const char *name, *sha;
    int rc;
} sha_cases[] = {
    {"sha valid", SHA, 0},
    {"sha all f", "ffffffffffffffffffffffffffffffffffffffff", 0},
    {"sha upper case", "0123456789ABCDEF0123456789abcdef01234567", TRACKARGS_ERR_VALUE},
    {"sha 39", "0123456789abcdef0123456789abcdef0123456", TRACKARGS_ERR_VALUE},
    {"sha 41", "0123456789abcdef0123456789abcdef012345678", TRACKARGS_ERR_VALUE},
    {"sha empty", "", TRACKARGS_ERR_VALUE},
    {"sha short", "abc", TRACKARGS_ERR_VALUE},
    {"sha non-hex", "0123456789abcdef0123456789abcdef0123456g", TRACKARGS_ERR_VALUE},
    {"sha space", "0123456789abcdef 123456789abcdef01234567", TRACKARGS_ERR_VALUE},
    {"sha NUL inside",
     "0123456789abcdef\0"
     "123456789abcdef01234567",
     TRACKARGS_ERR_VALUE},
    {"sha newline", "0123456789abcdef0123456789abcdef01234567\n", TRACKARGS_ERR_VALUE},
};

static void test_sha(void)
{
    struct trackargs_in in;
    size_t i;

    for (i = 0; i < sizeof(sha_cases) / sizeof(sha_cases[0]); i++) {
        full_input(&in);
        ASSERT_EQ(trackargs_build(&ta, &in, sha_cases[i].sha), sha_cases[i].rc);
        if (sha_cases[i].rc == 0) {
            ASSERT_STR_EQ(ta.argv[1], sha_cases[i].sha);
            ASSERT_EQ(ta.argvlen[1], 40);
        }
        TEST_PASS(sha_cases[i].name);
    }
}

/* A failed build leaves nothing behind: the next build starts from scratch. */
static void test_reuse_after_error(void)
{
    struct trackargs_in in;
    int i;

    full_input(&in);
    in.size = -1;
    ASSERT_EQ(trackargs_build(&ta, &in, SHA), TRACKARGS_ERR_VALUE);
    full_input(&in);
    in.instance = "";
    in.prefix = "pd:{";
    ASSERT_EQ(trackargs_build(&ta, &in, SHA), TRACKARGS_ERR_PREFIX);
    full_input(&in);
    ASSERT_EQ(trackargs_build(&ta, &in, SHA), 0);
    ASSERT_EQ(ta.argc, TRACKARGS_MAX_ARGS);
    for (i = 0; i < NNAMES; i++)
        ASSERT_STR_EQ(ta.argv[3 + i], layout[i].want);
    ASSERT_EQ(trackargs_build(&ta, &in, SHA), 0); /* twice in a row: same result */
    ASSERT_EQ(ta.argc, TRACKARGS_MAX_ARGS);
    TEST_PASS("rebuild after an error");
}

static void test_strerror(void)
{
    static const int codes[] = {TRACKARGS_ERR_MAILBOX, TRACKARGS_ERR_PREFIX, TRACKARGS_ERR_FIELD,
                                TRACKARGS_ERR_VALUE};
    size_t i, j;

    ASSERT_STR_EQ(trackargs_strerror(0), "success");
    ASSERT_STR_EQ(trackargs_strerror(-42), "unknown trackargs error");
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        ASSERT_TRUE(strcmp(trackargs_strerror(codes[i]), "unknown trackargs error") != 0);
        for (j = 0; j < i; j++)
            ASSERT_TRUE(strcmp(trackargs_strerror(codes[i]), trackargs_strerror(codes[j])) != 0);
    }
    TEST_PASS("strerror: every code named, each differently");
}

/* test_decimal - util_lltoa and util_utoa write what printf("%lld") / ("%llu") does. */
static void test_decimal(void)
{
    static const long long v[] = {0,
                                  1,
                                  9,
                                  10,
                                  99,
                                  100,
                                  -1,
                                  -9,
                                  -10,
                                  1234567890,
                                  1795430012345LL,
                                  LLONG_MAX,
                                  LLONG_MIN,
                                  LLONG_MIN + 1,
                                  -1000000000000LL};
    char got[UTIL_DEC_MAX + 1], want[32];
    unsigned long long u;
    size_t i, n;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        memset(got, 'x', sizeof(got));
        n = util_lltoa(got, v[i]);
        snprintf(want, sizeof(want), "%lld", v[i]);
        ASSERT_EQ(n, strlen(want));
        ASSERT_TRUE(memcmp(got, want, n) == 0 && got[n] == 'x');
    }
    for (u = 1; u != 0 && u <= ULLONG_MAX / 3; u = u * 3 + 1) {
        n = util_utoa(got, u);
        snprintf(want, sizeof(want), "%llu", u);
        ASSERT_TRUE(n == strlen(want) && memcmp(got, want, n) == 0);
    }
    n = util_utoa(got, ULLONG_MAX);
    ASSERT_TRUE(n == 20 && memcmp(got, "18446744073709551615", 20) == 0);
    TEST_PASS("decimal numbers as printf writes them, no NUL");
}

int main(void)
{
    test_full_with_sha();
    test_full_without_sha();
    test_layout_matches_track_lua();
    test_defaults();
    test_partial_values();
    test_mailboxes();
    test_prefixes();
    test_text_fields();
    test_largest_fits();
    test_negative_numbers();
    test_limit_src();
    test_sha();
    test_reuse_after_error();
    test_strerror();
    test_decimal();
    TEST_SUMMARY();
    return 0;
}
