/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_loginmap - unit tests of the sender_login_maps reader
 * SYNOPSIS
 *      build/tests/test_loginmap      (run from the repository root)
 * DESCRIPTION
 *      Table-driven ownership lookups over one map (exact address before "@domain",
 *      case, blanks, comma and space separated logins, continuation lines, CRLF), what
 *      postmap tolerates (duplicate keys: the first wins; keys without logins; indented
 *      first lines), errors (NUL and control bytes, overlong entries, keys and logins),
 *      10,000 entries, and loginmap_load() on real files in a mkdtemp directory.
 * DIAGNOSTICS
 *      Aborts on the first failed assertion; prints "N passed, 0 failed" at the end.
 * SEE ALSO
 *      policyd/loginmap.c, tests/unit/testlib.h
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policyd/loginmap.h"
#include "tests/unit/testlib.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static bool msg_is_clean(const char *msg)
{
    for (; *msg; msg++)
        if ((unsigned char)*msg < 0x20 || (unsigned char)*msg >= 0x7f)
            return false;
    return true;
}

static int parse(const char *text, struct loginmap **m, struct pd_err *err)
{
    return loginmap_parse(text, strlen(text), m, err);
}

static bool owns(const struct loginmap *m, const char *sender, const char *login)
{
    return loginmap_owns(m, sender, strlen(sender), login, strlen(login));
}

/* ---- lookups ----------------------------------------------------------------------- */

static const char map_text[] = "# smtpd_sender_login_maps source, as postmap reads it\n"
                               "alice@example.com      alice\n"
                               "sales@example.com      alice, bob,carol  dave\n"
                               "@example.com           admin@example.com\n"
                               "Shared@Example.ORG     Eve@Example.org,\n"
                               "                       frank\n"
                               "# a comment between continuation lines\n"
                               "\n"
                               "                       grace\r\n"
                               "noreply                robot\n"
                               "@example.net           ,, ivan ,\n"
                               "plain@example.net      judy\n";

static const struct {
    const char *name;
    const char *sender;
    const char *login;
    bool owns;
    bool has_owner;
} owns_cases[] = {
    {"exact address", "alice@example.com", "alice", true, true},
    {"not the owner", "alice@example.com", "bob", false, true},
    {"exact entry hides @domain", "alice@example.com", "admin@example.com", false, true},
    {"list with comma", "sales@example.com", "bob", true, true},
    {"list with comma, no space", "sales@example.com", "carol", true, true},
    {"list with space only", "sales@example.com", "dave", true, true},
    {"first of list", "sales@example.com", "alice", true, true},
    {"login is no prefix", "sales@example.com", "al", false, true},
    {"login is no extension", "sales@example.com", "alicex", false, true},
    {"@domain fallback", "someone@example.com", "admin@example.com", true, true},
    {"@domain fallback, not owner", "someone@example.com", "alice", false, true},
    {"sender case", "SOMEONE@EXAMPLE.COM", "admin@example.com", true, true},
    {"login case", "alice@example.com", "ALICE", true, true},
    {"key case", "shared@example.org", "eve@example.org", true, true},
    {"continuation", "shared@example.org", "frank", true, true},
    {"continuation after comment and CR", "shared@example.org", "grace", true, true},
    {"local part only key", "noreply", "robot", true, true},
    {"local part key is not @domain", "noreply@example.com", "robot", false, true},
    {"empty list items", "x@example.net", "ivan", true, true},
    {"exact beats domain", "plain@example.net", "ivan", false, true},
    {"no entry", "alice@example.org", "alice", false, false},
    {"subdomain is not domain", "a@sub.example.com", "admin@example.com", false, false},
    {"null sender", "", "alice", false, false},
    {"blank sender", "  \t", "alice", false, false},
    {"blanks around", " alice@example.com\t", " alice ", true, true},
    {"empty login", "alice@example.com", "", false, true},
    {"trailing @", "alice@", "alice", false, false},
    {"leading @ is a key", "@example.com", "admin@example.com", true, true},
};

static void test_owns(void)
{
    struct loginmap *m = NULL;
    struct loginmap_stats st;
    struct pd_err err;
    size_t i;

    ASSERT_EQ(parse(map_text, &m, &err), 0);
    for (i = 0; i < N_OF(owns_cases); i++) {
        const char *s = owns_cases[i].sender;

        if (owns(m, s, owns_cases[i].login) != owns_cases[i].owns ||
            loginmap_has_owner(m, s, strlen(s)) != owns_cases[i].has_owner) {
            fprintf(stderr, "%s: wrong answer\n", owns_cases[i].name);
            abort();
        }
        TEST_PASS(owns_cases[i].name);
    }
    ASSERT_TRUE(!loginmap_owns(m, "alice@example.com", 17, NULL, 0));
    ASSERT_TRUE(!loginmap_owns(NULL, "alice@example.com", 17, "alice", 5));
    ASSERT_TRUE(!loginmap_has_owner(NULL, "alice@example.com", 17));
    /* lengths are honoured: no NUL terminator needed */
    ASSERT_TRUE(loginmap_owns(m, "alice@example.comXX", 17, "aliceYY", 5));
    loginmap_stats(m, &st);
    ASSERT_EQ(st.entries, 7);
    ASSERT_EQ(st.logins, 12);
    ASSERT_EQ(st.duplicates, 0);
    ASSERT_EQ(st.ignored, 0);
    loginmap_stats(NULL, &st);
    ASSERT_EQ(st.entries, 0);
    m = loginmap_free(m);
    ASSERT_TRUE(m == NULL);
    TEST_PASS("map edges and stats");
}

/* ---- what postmap tolerates -------------------------------------------------------- */

static void test_tolerated(void)
{
    static const char text[] = "a@x  first\n"
                               "b@x  one\n"
                               "A@X  second\n"
                               "a@x  third\n"
                               "lonely@x\n"
                               "lonely2@x   ,  , \n";
    static const char indented[] = "   stray@x  who\n# c\n\t more\nreal@x  owner\n";
    struct loginmap *m = NULL;
    struct loginmap_stats st;
    struct pd_err err;

    ASSERT_EQ(parse(text, &m, &err), 0);
    ASSERT_TRUE(owns(m, "a@x", "first"));
    ASSERT_TRUE(!owns(m, "a@x", "second"));
    ASSERT_TRUE(!owns(m, "a@x", "third"));
    ASSERT_TRUE(!loginmap_has_owner(m, "lonely@x", 8));
    ASSERT_TRUE(!loginmap_has_owner(m, "lonely2@x", 9));
    loginmap_stats(m, &st);
    ASSERT_EQ(st.entries, 2);
    ASSERT_EQ(st.duplicates, 2);
    ASSERT_EQ(st.first_duplicate_line, 3);
    ASSERT_EQ(st.ignored, 2);
    ASSERT_EQ(st.first_ignored_line, 5);
    m = loginmap_free(m);
    TEST_PASS("duplicate keys: the first entry wins, counted");

    ASSERT_EQ(parse(indented, &m, &err), 0);
    ASSERT_TRUE(!loginmap_has_owner(m, "stray@x", 7));
    ASSERT_TRUE(owns(m, "real@x", "owner"));
    loginmap_stats(m, &st);
    ASSERT_EQ(st.ignored, 2);
    ASSERT_EQ(st.first_ignored_line, 1);
    m = loginmap_free(m);
    TEST_PASS("indented lines continuing nothing are ignored, counted");

    ASSERT_EQ(parse("", &m, &err), 0);
    ASSERT_TRUE(!loginmap_has_owner(m, "a@x", 3));
    m = loginmap_free(m);
    ASSERT_EQ(parse("# only\n\n  # comments\n", &m, &err), 0);
    m = loginmap_free(m);
    TEST_PASS("empty and comment-only maps");
}

/* ---- errors ------------------------------------------------------------------------ */

static void expect_error(const char *text, size_t len, int rc, int line, const char *msg)
{
    struct loginmap *m = (struct loginmap *)&len; /* must come back NULL */
    struct pd_err err;
    int got = loginmap_parse(text, len, &m, &err);

    if (got != rc || err.line != line || strstr(err.msg, msg) == NULL) {
        fprintf(stderr, "rc %d line %d msg \"%s\"\n", got, err.line, err.msg);
        abort();
    }
    ASSERT_TRUE(m == NULL);
    ASSERT_TRUE(msg_is_clean(err.msg));
    ASSERT_TRUE(strlen(loginmap_strerror(rc)) > 0);
}

static const struct {
    const char *name;
    const char *input;
    int line;
    const char *msg;
} bad_cases[] = {
    {"control byte in key", "a\001@x  b\n", 1, "control byte in line"},
    {"control byte in login", "a@x  b\033[0m\n", 1, "control byte"},
    {"control byte in comment", "a@x b\n# \007 bell\n", 2, "control byte"},
    {"DEL byte", "a@x  b\177\n", 1, "control byte"},
    {"escape in continuation", "a@x  b\n  \033c\n", 2, "control byte"},
};

static void test_errors(void)
{
    static const char nul[] = "a@x  alice\nb@x  b\0ob\n";
    size_t n = 2 * LOGINMAP_LINE_MAX, i;
    char *big = malloc(n + 64);

    for (i = 0; i < N_OF(bad_cases); i++) {
        expect_error(bad_cases[i].input, strlen(bad_cases[i].input), LOGINMAP_ERR_SYNTAX,
                     bad_cases[i].line, bad_cases[i].msg);
        TEST_PASS(bad_cases[i].name);
    }
    expect_error(nul, sizeof(nul) - 1, LOGINMAP_ERR_SYNTAX, 2, "NUL byte in line");
    expect_error("\0", 1, LOGINMAP_ERR_SYNTAX, 1, "NUL byte");
    TEST_PASS("NUL bytes");

    memset(big, 'k', LOGINMAP_KEY_MAX + 1);
    strcpy(big + LOGINMAP_KEY_MAX + 1, " who");
    expect_error(big, strlen(big), LOGINMAP_ERR_KEY, 1, "key longer than 1024 bytes");
    memcpy(big, "a@x ", 4);
    memset(big + 4, 'l', LOGINMAP_LOGIN_MAX + 1);
    strcpy(big + 5 + LOGINMAP_LOGIN_MAX, "\n");
    expect_error(big, strlen(big), LOGINMAP_ERR_VALUE, 1, "login longer than 1024 bytes");
    big[4 + LOGINMAP_LOGIN_MAX] = '\n';
    big[5 + LOGINMAP_LOGIN_MAX] = '\0';
    {
        struct loginmap *m = NULL;
        struct pd_err err;

        ASSERT_EQ(parse(big, &m, &err), 0); /* exactly at the limits */
        m = loginmap_free(m);
    }
    TEST_PASS("key and login length limits");

    memcpy(big, "# c\nsender@x ", 13);
    for (i = 13; i + 10 < n; i += 10)
        memcpy(big + i, "l, \n  ll, ", 10);
    expect_error(big, i, LOGINMAP_ERR_SYNTAX, 2, "entry longer than 65536 bytes");
    memset(big, 'x', n);
    expect_error(big, n, LOGINMAP_ERR_SYNTAX, 1, "entry longer than");
    TEST_PASS("overlong entries");
    free(big);
}

/* ---- size -------------------------------------------------------------------------- */

static void test_many(void)
{
    size_t n = 10000, cap = n * 64, len = 0, i;
    char *text = malloc(cap), key[64], login[64];
    struct loginmap *m = NULL;
    struct loginmap_stats st;
    struct pd_err err;

    for (i = 0; i < n; i++)
        len +=
            (size_t)snprintf(text + len, cap - len, "user%zu@example.com user%zu, shared\n", i, i);
    ASSERT_EQ(loginmap_parse(text, len, &m, &err), 0);
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "user%zu@example.com", i);
        snprintf(login, sizeof(login), "USER%zu", i);
        ASSERT_TRUE(owns(m, key, login));
        ASSERT_TRUE(owns(m, key, "shared"));
        snprintf(login, sizeof(login), "user%zu", i + 1);
        ASSERT_TRUE(!owns(m, key, login));
    }
    loginmap_stats(m, &st);
    ASSERT_EQ(st.entries, n);
    ASSERT_EQ(st.logins, 2 * n);
    m = loginmap_free(m);
    free(text);
    TEST_PASS("10k entries");
}

/* ---- files ------------------------------------------------------------------------- */

static void test_load(void)
{
    char dir[] = "/tmp/test_loginmap.XXXXXX", path[64];
    struct loginmap *m = (struct loginmap *)dir;
    struct pd_err err;
    FILE *f;

    ASSERT_TRUE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/sender_login", dir);
    ASSERT_EQ(loginmap_load(path, &m, &err), LOGINMAP_ERR_IO);
    ASSERT_TRUE(m == NULL && strstr(err.msg, "cannot open") != NULL);
    ASSERT_EQ(loginmap_load(dir, &m, &err), LOGINMAP_ERR_IO);
    ASSERT_TRUE(strstr(err.msg, "not a regular file") != NULL);
    f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    fputs("a@x alice\nb@x bob\n", f);
    fclose(f);
    ASSERT_EQ(loginmap_load(path, &m, &err), 0);
    ASSERT_TRUE(owns(m, "b@x", "bob"));
    m = loginmap_free(m);
    f = fopen(path, "w");
    fputs("a@x alice\nb@x \001\n", f);
    fclose(f);
    ASSERT_EQ(loginmap_load(path, &m, &err), LOGINMAP_ERR_SYNTAX);
    ASSERT_TRUE(m == NULL && err.line == 2);
    ASSERT_EQ(unlink(path), 0);
    ASSERT_EQ(rmdir(dir), 0);
    ASSERT_STR_EQ(loginmap_strerror(-99), "unknown loginmap error");
    TEST_PASS("loginmap_load");
}

int main(void)
{
    test_owns();
    test_tolerated();
    test_errors();
    test_many();
    test_load();
    TEST_SUMMARY();
    return 0;
}
