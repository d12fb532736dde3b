/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_keys - unit tests of mailbox normalisation, key names, recipient hashes and
 *      client networks
 * SYNOPSIS
 *      build/tests/test_keys
 * DESCRIPTION
 *      keys_normalise: what is folded (ASCII letters of the whole login, local part
 *      included; the default domain too; no Unicode folding), what is trimmed (ASCII
 *      whitespace at both ends only), when the default domain is appended (no '@' at
 *      all), the adversarial logins (braces, spaces, CR/LF, NUL inside, UTF-8, invalid
 *      UTF-8, 500/1024/1025 bytes, empty, "@", several '@') and the output size.
 *      keys_encode, keys_enc_is_safe, keys_name: the escapes, the 200-byte literal limit
 *      and the "h~" hashed form, the hash tag invariant (exactly one '{' and one '}', no
 *      control byte or space) for every adversarial login, injectivity (every 1- and
 *      2-byte mailbox, near-collisions, logins sharing a 200-byte prefix), refused
 *      prefixes, suffixes and encodings. keys_recipient: recipient and domain hashes.
 *      keys_network: IPv4, IPv6, IPv4-mapped, prefix lengths, zones, garbage, overlong
 *      text. keys_hex64 and keys_strerror.
 * DIAGNOSTICS
 *      Aborts on the first failed assertion; prints "N passed, 0 failed" at the end.
 * SEE ALSO
 *      ratelimit/keys.c, tests/fuzz/fuzz_keys.c, tests/unit/testlib.h
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit/keys.h"
#include "ratelimit/siphash.h"
#include "tests/unit/testlib.h"

/* A byte string with its length, so NULs inside count. */
#define B(s) s, sizeof(s) - 1

static const uint8_t hkey[SIPHASH_KEY_LEN] = {0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
                                              0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

static const char *const suffixes[] = {
    KEYS_SUFFIX_STATE, KEYS_SUFFIX_RCPTS, KEYS_SUFFIX_DOMS,
    KEYS_SUFFIX_NETS,  KEYS_SUFFIX_OVR,   KEYS_SUFFIX_BLOCK,
};

#define NSUFFIX (sizeof(suffixes) / sizeof(suffixes[0]))

/* ---- helpers ----------------------------------------------------------------------- */

/* key_of - login -> normalise -> encode -> name; rc of the first step that failed. */
static int key_of(const char *login, size_t len, const char *dom, const char *prefix,
                  const char *suffix, char *out, size_t outsz, size_t *outlen)
{
    char mbox[KEYS_MAILBOX_MAX + 1], enc[KEYS_ENC_SIZE];
    size_t mlen, elen;
    int rc;

    if ((rc = keys_normalise(login, len, dom, mbox, sizeof(mbox), &mlen)) < 0)
        return rc;
    if ((rc = keys_encode(mbox, mlen, hkey, enc, sizeof(enc), &elen)) < 0)
        return rc;
    ASSERT_EQ(strlen(enc), elen);
    ASSERT_TRUE(keys_enc_is_safe(enc, elen));
    return keys_name(prefix, enc, elen, suffix, out, outsz, outlen);
}

/* assert_key_shape - one '{', one '}', printable non-space ASCII, "<prefix>1:{...}:<sfx>". */
static void assert_key_shape(const char *k, size_t len, const char *prefix, const char *suffix)
{
    size_t i, open = 0, close = 0, plen = strlen(prefix), slen = strlen(suffix);

    ASSERT_EQ(strlen(k), len);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)k[i];

        ASSERT_TRUE(c > 0x20 && c < 0x7f);
        open += c == '{';
        close += c == '}';
    }
    ASSERT_EQ(open, 1);
    ASSERT_EQ(close, 1);
    ASSERT_TRUE(len >= plen + 3 + 1 + 2 + slen); /* "1:{" enc "}:" suffix */
    ASSERT_TRUE(memcmp(k, prefix, plen) == 0);
    ASSERT_TRUE(memcmp(k + plen, KEYS_SCHEMA ":{", 3) == 0);
    ASSERT_TRUE(memcmp(k + len - slen - 2, "}:", 2) == 0);
    ASSERT_STR_EQ(k + len - slen, suffix);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- keys_normalise ---------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *in;
    size_t in_len;
    const char *dom;
    int rc;
    const char *want; /* compared over want_len bytes, NULs included */
    size_t want_len;
} norm_cases[] = {
    {"plain", B("anna@x.tld"), NULL, 0, B("anna@x.tld")},
    {"domain folded", B("anna@X.TLD"), NULL, 0, B("anna@x.tld")},
    {"local part folded too", B("AnNa@x.tld"), NULL, 0, B("anna@x.tld")},
    {"trim spaces and tabs", B(" \t anna@x.tld \t "), NULL, 0, B("anna@x.tld")},
    {"trim CR LF VT FF", B("\r\n\v\fanna@x.tld\r\n\v\f"), NULL, 0, B("anna@x.tld")},
    {"default domain", B("anna"), "x.tld", 0, B("anna@x.tld")},
    {"default domain folded", B("ANNA"), "X.Tld", 0, B("anna@x.tld")},
    {"default domain trimmed", B("anna "), " x.tld\n", 0, B("anna@x.tld")},
    {"default ignored with @", B("anna@y.tld"), "x.tld", 0, B("anna@y.tld")},
    {"no default domain", B("anna"), NULL, 0, B("anna")},
    {"empty default domain", B("anna"), "", 0, B("anna")},
    {"blank default domain", B("anna"), " \t", 0, B("anna")},
    {"empty", B(""), NULL, KEYS_ERR_EMPTY, B("")},
    {"empty with default", B(""), "x.tld", KEYS_ERR_EMPTY, B("")},
    {"only whitespace", B(" \t\r\n\v\f"), "x.tld", KEYS_ERR_EMPTY, B("")},
    /* kept as they are: a mailbox, not an address parser; encode makes them safe */
    {"only @", B("@"), NULL, 0, B("@")},
    {"only @ with default", B("@"), "x.tld", 0, B("@")},
    {"empty domain part", B("anna@"), "x.tld", 0, B("anna@")},
    {"empty local part", B("@x.tld"), "y.tld", 0, B("@x.tld")},
    {"multiple @", B("a@b@X.tld"), "y.tld", 0, B("a@b@x.tld")},
    {"braces", B("{Anna}@x.tld"), NULL, 0, B("{anna}@x.tld")},
    {"hash tag inside", B("a}{b"), "x.tld", 0, B("a}{b@x.tld")},
    {"inner space", B("an na@x.tld"), NULL, 0, B("an na@x.tld")},
    {"inner CR LF", B("anna\r\nQUIT@x.tld"), NULL, 0, B("anna\r\nquit@x.tld")},
    {"NUL inside", B("an\0na@x.tld"), NULL, 0, B("an\0na@x.tld")},
    {"trailing NUL not trimmed", B("anna\0"), "x.tld", 0, B("anna\0@x.tld")},
    {"leading NUL not trimmed", B("\0anna"), NULL, 0, B("\0anna")},
    {"UTF-8 kept, not folded", B("\xc3\x81nna@X.tld"), NULL, 0, B("\xc3\x81nna@x.tld")},
    {"NBSP not trimmed",
     B("\xc2\xa0"
       "anna"),
     NULL, 0,
     B("\xc2\xa0"
       "anna")},
    {"invalid UTF-8", B("\xff\xfe\xc3@x.tld"), NULL, 0, B("\xff\xfe\xc3@x.tld")},
    {"percent", B("a%40b"), "x.tld", 0, B("a%40b@x.tld")},
    {"DEL and high bytes", B("\x7f\x80"), NULL, 0, B("\x7f\x80")},
};

static void test_normalise_table(void)
{
    char out[KEYS_MAILBOX_MAX + 1];
    size_t i, olen;

    for (i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
        int rc;

        olen = 9999;
        rc = keys_normalise(norm_cases[i].in, norm_cases[i].in_len, norm_cases[i].dom, out,
                            sizeof(out), &olen);
        if (rc != norm_cases[i].rc)
            fprintf(stderr, "case %s\n", norm_cases[i].name);
        ASSERT_EQ(rc, norm_cases[i].rc);
        if (rc == 0) {
            if (olen != norm_cases[i].want_len || memcmp(out, norm_cases[i].want, olen) != 0)
                fprintf(stderr, "case %s: got %zu bytes \"%.*s\"\n", norm_cases[i].name, olen,
                        (int)olen, out);
            ASSERT_EQ(olen, norm_cases[i].want_len);
            ASSERT_TRUE(memcmp(out, norm_cases[i].want, olen) == 0);
            ASSERT_EQ(out[olen], '\0');
        }
        TEST_PASS(norm_cases[i].name);
    }
}

/* Every ASCII capital folds; nothing else does. */
static void test_normalise_fold_all_bytes(void)
{
    char in[1], out[8];
    size_t olen;
    int c;

    for (c = 0; c < 256; c++) {
        in[0] = (char)c;
        if (c == ' ' || (c >= '\t' && c <= '\r')) {
            ASSERT_EQ(keys_normalise(in, 1, NULL, out, sizeof(out), &olen), KEYS_ERR_EMPTY);
            continue;
        }
        ASSERT_EQ(keys_normalise(in, 1, NULL, out, sizeof(out), &olen), 0);
        ASSERT_EQ(olen, 1);
        ASSERT_EQ((unsigned char)out[0], c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    TEST_PASS("normalise: only A-Z fold, only ASCII whitespace trims");
}

static void test_normalise_lengths(void)
{
    static char in[4096], out[KEYS_MAILBOX_MAX + 1];
    char small[16];
    size_t olen;

    memset(in, 'A', sizeof(in));
    /* a 500-byte login must work */
    ASSERT_EQ(keys_normalise(in, 500, NULL, out, sizeof(out), &olen), 0);
    ASSERT_EQ(olen, 500);
    ASSERT_EQ(out[0], 'a');
    ASSERT_EQ(out[499], 'a');
    ASSERT_EQ(out[500], '\0');
    ASSERT_EQ(keys_normalise(in, 500, "x.tld", out, sizeof(out), &olen), 0);
    ASSERT_EQ(olen, 506);
    TEST_PASS("normalise: 500-byte login");
    ASSERT_EQ(keys_normalise(in, KEYS_MAILBOX_MAX, NULL, out, sizeof(out), &olen), 0);
    ASSERT_EQ(olen, KEYS_MAILBOX_MAX);
    ASSERT_EQ(keys_normalise(in, KEYS_MAILBOX_MAX + 1, NULL, out, sizeof(out), &olen),
              KEYS_ERR_TOO_LONG);
    ASSERT_EQ(keys_normalise(in, sizeof(in), NULL, out, sizeof(out), &olen), KEYS_ERR_TOO_LONG);
    TEST_PASS("normalise: 1024 bytes fit, 1025 are refused, not cut");
    /* the default domain counts: 1018 + "@" + "x.tld" = 1024, one more is too long */
    ASSERT_EQ(keys_normalise(in, 1018, "x.tld", out, sizeof(out), &olen), 0);
    ASSERT_EQ(olen, 1024);
    ASSERT_EQ(keys_normalise(in, 1019, "x.tld", out, sizeof(out), &olen), KEYS_ERR_TOO_LONG);
    TEST_PASS("normalise: default domain counts towards the limit");
    /* trimming happens before the length check */
    memset(in, ' ', 2000);
    memcpy(in + 1000, "anna", 4);
    ASSERT_EQ(keys_normalise(in, 2000, NULL, out, sizeof(out), &olen), 0);
    ASSERT_EQ(olen, 4);
    TEST_PASS("normalise: whitespace padding is trimmed before the limit");
    /* the output buffer: exactly enough, one byte short */
    ASSERT_EQ(keys_normalise("anna", 4, "x.tld", small, 11, &olen), 0);
    ASSERT_STR_EQ(small, "anna@x.tld");
    ASSERT_EQ(keys_normalise("anna", 4, "x.tld", small, 10, &olen), KEYS_ERR_SPACE);
    ASSERT_EQ(keys_normalise("anna", 4, NULL, small, 0, &olen), KEYS_ERR_SPACE);
    TEST_PASS("normalise: output buffer size");
    /* reads only len bytes: no NUL needed after the login */
    memcpy(small, "annaXXXXXXXXXXXX", 16);
    ASSERT_EQ(keys_normalise(small, 4, NULL, out, sizeof(out), &olen), 0);
    ASSERT_STR_EQ(out, "anna");
    TEST_PASS("normalise: length-delimited input");
}

/* ---- keys_encode, keys_enc_is_safe ------------------------------------------------- */

static const struct {
    const char *name;
    const char *in;
    size_t in_len;
    const char *want;
} enc_cases[] = {
    {"plain", B("anna@x.tld"), "anna@x.tld"},
    {"literal set", B("az09@._+-"), "az09@._+-"},
    {"open brace", B("{"), "%7B"},
    {"close brace", B("}"), "%7D"},
    {"hash tag", B("a}{b@x.tld"), "a%7D%7Bb@x.tld"},
    {"space", B("a b"), "a%20b"},
    {"CR LF", B("a\r\nb"), "a%0D%0Ab"},
    {"NUL", B("a\0b"), "a%00b"},
    {"percent is escaped", B("%41"), "%2541"},
    {"tilde is escaped", B("h~00"), "h%7E00"},
    {"capital (not normalised)", B("A"), "%41"},
    {"colon", B("pd:1"), "pd%3A1"},
    {"star and question", B("*?[]"), "%2A%3F%5B%5D"},
    {"quote and backslash", B("\"\\"), "%22%5C"},
    {"UTF-8", B("\xc3\x81"), "%C3%81"},
    {"invalid UTF-8", B("\xff\xfe"), "%FF%FE"},
    {"DEL", B("\x7f"), "%7F"},
    {"slash comma equals", B("/,="), "%2F%2C%3D"},
};

static void test_encode_table(void)
{
    char out[KEYS_ENC_SIZE];
    size_t i, olen;

    for (i = 0; i < sizeof(enc_cases) / sizeof(enc_cases[0]); i++) {
        ASSERT_EQ(keys_encode(enc_cases[i].in, enc_cases[i].in_len, hkey, out, sizeof(out), &olen),
                  0);
        ASSERT_STR_EQ(out, enc_cases[i].want);
        ASSERT_EQ(olen, strlen(enc_cases[i].want));
        ASSERT_TRUE(keys_enc_is_safe(out, olen));
        TEST_PASS(enc_cases[i].name);
    }
}

/* hashed - the expected "h~<32 hex>" of a mailbox. */
static void hashed(const char *m, size_t len, char out[KEYS_ENC_HASHED_LEN + 1])
{
    static const char dig[] = "0123456789abcdef";
    uint8_t h[16];
    size_t i;

    siphash_128(hkey, m, len, h);
    out[0] = 'h';
    out[1] = '~';
    for (i = 0; i < 16; i++) {
        out[2 + 2 * i] = dig[h[i] >> 4];
        out[3 + 2 * i] = dig[h[i] & 15];
    }
    out[KEYS_ENC_HASHED_LEN] = '\0';
}

static void test_encode_limits(void)
{
    char in[KEYS_MAILBOX_MAX], out[KEYS_ENC_SIZE], want[KEYS_ENC_HASHED_LEN + 1];
    size_t olen;

    memset(in, 'a', sizeof(in));
    ASSERT_EQ(keys_encode(in, KEYS_ENC_LITERAL_MAX, hkey, out, sizeof(out), &olen), 0);
    ASSERT_EQ(olen, KEYS_ENC_LITERAL_MAX);
    ASSERT_TRUE(memcmp(out, in, olen) == 0);
    ASSERT_EQ(keys_encode(in, KEYS_ENC_LITERAL_MAX + 1, hkey, out, sizeof(out), &olen), 0);
    ASSERT_EQ(olen, KEYS_ENC_HASHED_LEN);
    hashed(in, KEYS_ENC_LITERAL_MAX + 1, want);
    ASSERT_STR_EQ(out, want);
    ASSERT_TRUE(keys_enc_is_safe(out, olen));
    TEST_PASS("encode: 200 literal bytes stay, 201 become h~<siphash128>");
    /* the limit is on the encoding, not the mailbox: 66 braces + 2 = 200, 67 = 201 */
    memset(in, '{', 67);
    memcpy(in + 66, "ab", 2);
    ASSERT_EQ(keys_encode(in, 68, hkey, out, sizeof(out), &olen), 0);
    ASSERT_EQ(olen, 200);
    ASSERT_EQ(out[0], '%');
    memset(in, '{', 67);
    ASSERT_EQ(keys_encode(in, 67, hkey, out, sizeof(out), &olen), 0);
    ASSERT_EQ(olen, KEYS_ENC_HASHED_LEN);
    ASSERT_TRUE(memcmp(out, "h~", 2) == 0);
    TEST_PASS("encode: the limit applies to the escaped length");
    memset(in, 'b', sizeof(in));
    ASSERT_EQ(keys_encode(in, sizeof(in), hkey, out, sizeof(out), &olen), 0);
    hashed(in, sizeof(in), want);
    ASSERT_STR_EQ(out, want);
    TEST_PASS("encode: 1024-byte mailbox hashed");
    /* output buffer */
    ASSERT_EQ(keys_encode("a{", 2, hkey, out, 5, &olen), 0);
    ASSERT_STR_EQ(out, "a%7B");
    ASSERT_EQ(keys_encode("a{", 2, hkey, out, 4, &olen), KEYS_ERR_SPACE);
    memset(in, 'a', sizeof(in));
    ASSERT_EQ(keys_encode(in, 300, hkey, out, KEYS_ENC_HASHED_LEN + 1, &olen), 0);
    ASSERT_EQ(keys_encode(in, 300, hkey, out, KEYS_ENC_HASHED_LEN, &olen), KEYS_ERR_SPACE);
    TEST_PASS("encode: output buffer size");
    /* an empty mailbox has no key: "{}" would be shared by every such caller */
    ASSERT_EQ(keys_encode("", 0, hkey, out, sizeof(out), &olen), KEYS_ERR_EMPTY);
    TEST_PASS("encode: empty mailbox refused");
}

static void test_enc_is_safe(void)
{
    char big[KEYS_ENC_LITERAL_MAX + 1];

    ASSERT_TRUE(keys_enc_is_safe("anna@x.tld", 10));
    ASSERT_TRUE(keys_enc_is_safe("a%7Bb", 5));
    ASSERT_TRUE(keys_enc_is_safe("h~0123456789abcdef0123456789abcdef", 34));
    ASSERT_TRUE(!keys_enc_is_safe("", 0));
    ASSERT_TRUE(!keys_enc_is_safe("{", 1));
    ASSERT_TRUE(!keys_enc_is_safe("}", 1));
    ASSERT_TRUE(!keys_enc_is_safe("a b", 3));
    ASSERT_TRUE(!keys_enc_is_safe("a\0b", 3));
    ASSERT_TRUE(!keys_enc_is_safe("a\r\n", 3));
    ASSERT_TRUE(keys_enc_is_safe("ABCDEF", 6)); /* the hex digits of escapes */
    ASSERT_TRUE(!keys_enc_is_safe("G", 1));
    ASSERT_TRUE(!keys_enc_is_safe(":", 1));
    ASSERT_TRUE(!keys_enc_is_safe("\xc3\x81", 2));
    memset(big, 'a', sizeof(big));
    ASSERT_TRUE(keys_enc_is_safe(big, KEYS_ENC_LITERAL_MAX));
    ASSERT_TRUE(!keys_enc_is_safe(big, KEYS_ENC_LITERAL_MAX + 1));
    TEST_PASS("enc_is_safe");
}

/* Every mailbox of 1 or 2 bytes (65792 of them) encodes differently, and safely. */
static void test_encode_injective_short(void)
{
    size_t n = 256 + 65536, k = 0, i, olen;
    char **all = malloc(n * sizeof(*all));
    unsigned a, b;

    ASSERT_TRUE(all != NULL);
    for (a = 0; a < 256; a++) {
        char in[2] = {(char)a, 0}, out[KEYS_ENC_SIZE];

        ASSERT_EQ(keys_encode(in, 1, hkey, out, sizeof(out), &olen), 0);
        ASSERT_TRUE(keys_enc_is_safe(out, olen));
        all[k++] = strdup(out);
        for (b = 0; b < 256; b++) {
            in[1] = (char)b;
            ASSERT_EQ(keys_encode(in, 2, hkey, out, sizeof(out), &olen), 0);
            ASSERT_TRUE(keys_enc_is_safe(out, olen));
            all[k++] = strdup(out);
        }
    }
    ASSERT_EQ(k, n);
    qsort(all, n, sizeof(*all), cmp_str);
    for (i = 1; i < n; i++)
        ASSERT_TRUE(strcmp(all[i - 1], all[i]) != 0);
    for (i = 0; i < n; i++)
        free(all[i]);
    free(all);
    TEST_PASS("encode: injective over every 1- and 2-byte mailbox");
}

/* ---- keys_name --------------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *prefix; /* NULL = default */
    const char *enc;
    size_t enc_len;
    const char *suffix;
    int rc;
    const char *want;
} name_cases[] = {
    {"default prefix", NULL, B("anna@x.tld"), "st", 0, "pd:1:{anna@x.tld}:st"},
    {"given prefix", "mx:", B("anna@x.tld"), "kr", 0, "mx:1:{anna@x.tld}:kr"},
    {"empty prefix", "", B("a"), "net", 0, "1:{a}:net"},
    {"escaped enc", "pd:", B("a%7Db"), "blk", 0, "pd:1:{a%7Db}:blk"},
    {"hashed enc", "pd:", B("h~0123456789abcdef0123456789abcdef"), "ovr", 0,
     "pd:1:{h~0123456789abcdef0123456789abcdef}:ovr"},
    {"8-letter suffix", "pd:", B("a"), "abcdefgh", 0, "pd:1:{a}:abcdefgh"},
    {"prefix with {", "p{", B("a"), "st", KEYS_ERR_PREFIX, NULL},
    {"prefix with }", "p}", B("a"), "st", KEYS_ERR_PREFIX, NULL},
    {"prefix with space", "p d:", B("a"), "st", KEYS_ERR_PREFIX, NULL},
    {"prefix with tab", "p\t", B("a"), "st", KEYS_ERR_PREFIX, NULL},
    {"prefix with CR LF", "p\r\n", B("a"), "st", KEYS_ERR_PREFIX, NULL},
    {"prefix with DEL", "p\x7f", B("a"), "st", KEYS_ERR_PREFIX, NULL},
    {"prefix with high byte", "p\xc3\x81", B("a"), "st", KEYS_ERR_PREFIX, NULL},
    {"prefix 65 bytes", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", B("a"),
     "st", KEYS_ERR_TOO_LONG, NULL},
    {"prefix 64 bytes", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", B("a"),
     "st", 0, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1:{a}:st"},
    {"empty suffix", "pd:", B("a"), "", KEYS_ERR_SUFFIX, NULL},
    {"9-letter suffix", "pd:", B("a"), "abcdefghi", KEYS_ERR_SUFFIX, NULL},
    {"capital suffix", "pd:", B("a"), "ST", KEYS_ERR_SUFFIX, NULL},
    {"digit suffix", "pd:", B("a"), "s1", KEYS_ERR_SUFFIX, NULL},
    {"brace suffix", "pd:", B("a"), "s}", KEYS_ERR_SUFFIX, NULL},
    /* an enc keys_encode could not have produced is refused, whatever it holds */
    {"empty enc", "pd:", B(""), "st", KEYS_ERR_EMPTY, NULL},
    {"enc with }", "pd:", B("a}b"), "st", KEYS_ERR_EMPTY, NULL},
    {"enc with {", "pd:", B("{a"), "st", KEYS_ERR_EMPTY, NULL},
    {"enc with space", "pd:", B("a b"), "st", KEYS_ERR_EMPTY, NULL},
    {"enc with NUL", "pd:", B("a\0}"), "st", KEYS_ERR_EMPTY, NULL},
    {"enc with LF", "pd:", B("a\n"), "st", KEYS_ERR_EMPTY, NULL},
};

static void test_name_table(void)
{
    char out[KEYS_NAME_SIZE];
    size_t i, olen;

    for (i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
        int rc = keys_name(name_cases[i].prefix, name_cases[i].enc, name_cases[i].enc_len,
                           name_cases[i].suffix, out, sizeof(out), &olen);

        if (rc != name_cases[i].rc)
            fprintf(stderr, "case %s\n", name_cases[i].name);
        ASSERT_EQ(rc, name_cases[i].rc);
        if (rc == 0) {
            ASSERT_STR_EQ(out, name_cases[i].want);
            ASSERT_EQ(olen, strlen(name_cases[i].want));
        }
        TEST_PASS(name_cases[i].name);
    }
}

static void test_name_limits(void)
{
    char enc[KEYS_ENC_LITERAL_MAX + 1], out[KEYS_NAME_SIZE], prefix[KEYS_PREFIX_MAX + 1];
    size_t olen, want;

    memset(enc, 'a', sizeof(enc));
    memset(prefix, ':', KEYS_PREFIX_MAX);
    prefix[KEYS_PREFIX_MAX] = '\0';
    ASSERT_EQ(keys_name(prefix, enc, KEYS_ENC_LITERAL_MAX + 1, "st", out, sizeof(out), &olen),
              KEYS_ERR_TOO_LONG);
    /* the longest name fits KEYS_NAME_SIZE */
    ASSERT_EQ(keys_name(prefix, enc, KEYS_ENC_LITERAL_MAX, "abcdefgh", out, sizeof(out), &olen), 0);
    want = KEYS_PREFIX_MAX + strlen(KEYS_SCHEMA) + 2 + KEYS_ENC_LITERAL_MAX + 2 + 8;
    ASSERT_EQ(olen, want);
    ASSERT_TRUE(olen < KEYS_NAME_SIZE);
    assert_key_shape(out, olen, prefix, "abcdefgh");
    TEST_PASS("name: the longest name fits KEYS_NAME_SIZE");
    ASSERT_EQ(keys_name("pd:", "a", 1, "st", out, 13, &olen), 0);
    ASSERT_STR_EQ(out, "pd:1:{a}:st");
    ASSERT_EQ(keys_name("pd:", "a", 1, "st", out, 12, &olen), 0);
    ASSERT_EQ(keys_name("pd:", "a", 1, "st", out, 11, &olen), KEYS_ERR_SPACE);
    ASSERT_EQ(keys_name("pd:", "a", 1, "st", out, 0, &olen), KEYS_ERR_SPACE);
    TEST_PASS("name: output buffer size, nothing cut");
}

/* The hostile logins: whatever they hold, every key name has one hash tag. */
static const struct {
    const char *in;
    size_t len;
} hostile[] = {
    {B("{")},
    {B("}")},
    {B("{}")},
    {B("}{")},
    {B("{anna}")},
    {B("a}:{b")},
    {B("anna@x.tld}:st")},
    {B("pd:1:{x}:st")},
    {B("a b")},
    {B("a\r\nb")},
    {B("a\0b")},
    {B("\0")},
    {B("@")},
    {B("@@@")},
    {B("a@b@c")},
    {B("\xc3\x81nna")},
    {B("\xff\xfe\xfd")},
    {B("%7B")},
    {B("h~0123456789abcdef0123456789abcdef")},
    {B("\x1b[31mred")},
    {B("*")},
    {B("\"quoted\"@x.tld")},
    {B("a\tb")},
};

static void test_hash_tag_invariant(void)
{
    static char big[1100];
    static const char *const prefixes[] = {"pd:", "x", "", "pd:{"};
    char out[KEYS_NAME_SIZE];
    size_t i, s, n, olen;

    for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        for (s = 0; s < NSUFFIX; s++) {
            ASSERT_EQ(key_of(hostile[i].in, hostile[i].len, "x.tld", "pd:", suffixes[s], out,
                             sizeof(out), &olen),
                      0);
            assert_key_shape(out, olen, "pd:", suffixes[s]);
            ASSERT_EQ(key_of(hostile[i].in, hostile[i].len, NULL, "", suffixes[s], out, sizeof(out),
                             &olen),
                      0);
            assert_key_shape(out, olen, "", suffixes[s]);
        }
    }
    /* every length up to the limit, braces all the way: literal and hashed forms */
    memset(big, '{', sizeof(big));
    for (n = 1; n <= KEYS_MAILBOX_MAX; n += 7) {
        ASSERT_EQ(key_of(big, n, NULL, "pd:", "st", out, sizeof(out), &olen), 0);
        assert_key_shape(out, olen, "pd:", "st");
    }
    ASSERT_EQ(key_of(big, 1025, NULL, "pd:", "st", out, sizeof(out), &olen), KEYS_ERR_TOO_LONG);
    /* prefixes that would break the tag are refused */
    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        int rc = key_of("anna", 4, NULL, prefixes[i], "st", out, sizeof(out), &olen);

        if (strchr(prefixes[i], '{') != NULL) {
            ASSERT_EQ(rc, KEYS_ERR_PREFIX);
        } else {
            ASSERT_EQ(rc, 0);
            assert_key_shape(out, olen, prefixes[i], "st");
        }
    }
    TEST_PASS("name: one '{', one '}', no space or control byte for hostile logins");
}

/* Logins that normalise equal share a key; all others must not. */
static const struct {
    int group; /* same group = same mailbox */
    const char *in;
    size_t len;
} near[] = {
    {1, B("anna@x.tld")},
    {1, B("ANNA@X.TLD")},
    {1, B(" Anna@x.Tld\r\n")},
    {1, B("anna")},
    {1, B("\tanna ")},
    {2, B("anna@x.tld.")},
    {3, B("anna@x.tl")},
    {4, B("anna@xtld")},
    {5, B("anna.@x.tld")},
    {6, B("anna@@x.tld")},
    {7, B("anna@x.tld\0")},
    {8, B("anna\0@x.tld")},
    {9, B("an na@x.tld")},
    {10, B("anna%40x.tld")},
    {11, B("anna%40x%2Etld")},
    {12, B("anna@x%2etld")},
    {13, B("\xc3\x81nna@x.tld")},
    {14, B("\xc3\xa1nna@x.tld")},
    {15, B("anna@x.tld@x.tld")},
    {16, B("anna@")},
    {17, B("@x.tld")},
    {18, B("anna@y.tld")},
    {19, B("%61nna@x.tld")},
    {20, B("anna+tag@x.tld")},
    {21, B("anna-@x.tld")},
    {22, B("anna_@x.tld")},
    {23, B("anna{}@x.tld")},
    {24, B("anna}{@x.tld")},
    {25, B("h~anna@x.tld")},
    {26, B("anna\n@x.tld")},
    {27, B("anna\r@x.tld")},
    {28, B("a\xa0nna@x.tld")},
    {29, B("%7Banna@x.tld")},
    {30, B("{anna@x.tld")},
};

static void test_near_collisions(void)
{
    size_t n = sizeof(near) / sizeof(near[0]), i, j, len[sizeof(near) / sizeof(near[0])];
    char keys[sizeof(near) / sizeof(near[0])][KEYS_NAME_SIZE];

    for (i = 0; i < n; i++)
        ASSERT_EQ(
            key_of(near[i].in, near[i].len, "x.tld", NULL, "st", keys[i], KEYS_NAME_SIZE, &len[i]),
            0);
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            bool same = len[i] == len[j] && memcmp(keys[i], keys[j], len[i]) == 0;

            if (same != (near[i].group == near[j].group))
                fprintf(stderr, "near %zu vs %zu: %s / %s\n", i, j, keys[i], keys[j]);
            ASSERT_EQ(same, near[i].group == near[j].group);
        }
    }
    ASSERT_STR_EQ(keys[0], "pd:1:{anna@x.tld}:st");
    TEST_PASS("name: case/trim/default-domain variants collide, near-misses do not");
}

/* Long logins sharing a 200-byte (and a 1000-byte) prefix are hashed and still differ;
 * a literal encoding never equals a hashed one. */
static void test_long_prefix_collisions(void)
{
    enum { N = 600 };
    static char login[KEYS_MAILBOX_MAX];
    char **all = malloc(N * sizeof(*all)), out[KEYS_NAME_SIZE];
    size_t i, k = 0, olen;

    ASSERT_TRUE(all != NULL);
    memset(login, 'a', sizeof(login));
    /* 198 bytes + 2 varying = 200 literal; 201..203 and 1000..1024 are hashed */
    for (i = 0; i < 100; i++) {
        login[198] = (char)('a' + i % 26);
        login[199] = (char)('0' + i / 26);
        ASSERT_EQ(key_of(login, 200, NULL, NULL, "st", out, sizeof(out), &olen), 0);
        ASSERT_TRUE(strstr(out, "h~") == NULL);
        all[k++] = strdup(out);
        ASSERT_EQ(key_of(login, 201, NULL, NULL, "st", out, sizeof(out), &olen), 0);
        ASSERT_TRUE(strstr(out, "{h~") != NULL);
        all[k++] = strdup(out);
    }
    memset(login, 'a', sizeof(login));
    for (i = 0; i < 200; i++) {
        login[200] = (char)('a' + i % 26);
        login[202] = (char)('a' + i / 26);
        ASSERT_EQ(key_of(login, 203, NULL, NULL, "st", out, sizeof(out), &olen), 0);
        all[k++] = strdup(out);
    }
    memset(login, 'b', sizeof(login));
    for (i = 0; i < 200; i++) {
        login[1000] = (char)i;
        ASSERT_EQ(key_of(login, 1001 + i % 24, NULL, NULL, "st", out, sizeof(out), &olen), 0);
        all[k++] = strdup(out);
    }
    ASSERT_EQ(k, N);
    qsort(all, k, sizeof(*all), cmp_str);
    for (i = 1; i < k; i++)
        ASSERT_TRUE(strcmp(all[i - 1], all[i]) != 0);
    for (i = 0; i < k; i++)
        free(all[i]);
    free(all);
    /* case variants of a long login still collide (they are the same mailbox) */
    {
        char up[300], k1[KEYS_NAME_SIZE], k2[KEYS_NAME_SIZE];
        size_t l1, l2;

        memset(login, 'q', 300);
        memset(up, 'Q', 300);
        ASSERT_EQ(key_of(login, 300, NULL, NULL, "st", k1, sizeof(k1), &l1), 0);
        ASSERT_EQ(key_of(up, 300, NULL, NULL, "st", k2, sizeof(k2), &l2), 0);
        ASSERT_STR_EQ(k1, k2);
    }
    TEST_PASS("name: long logins sharing a 200/1000-byte prefix differ");
}

/* ---- keys_recipient ---------------------------------------------------------------- */

static void rcpt(const char *s, size_t len, uint64_t *r, uint64_t *d, bool *has)
{
    *r = *d = 12345;
    ASSERT_EQ(keys_recipient(s, len, hkey, r, d, has), 0);
}

static void test_recipient(void)
{
    uint64_t r1, d1, r2, d2;
    bool h1, h2;
    static char big[5000], low[5000];
    size_t i;
    uint8_t k2[SIPHASH_KEY_LEN];

    rcpt(B("bob@x.tld"), &r1, &d1, &h1);
    ASSERT_TRUE(h1);
    ASSERT_TRUE(r1 == siphash_64(hkey, "bob@x.tld", 9));
    ASSERT_TRUE(d1 == siphash_64(hkey, "x.tld", 5));
    TEST_PASS("recipient: the hashes are SipHash-2-4-64 of address and domain");

    rcpt(B("carol@x.tld"), &r2, &d2, &h2);
    ASSERT_TRUE(r1 != r2);
    ASSERT_TRUE(d1 == d2);
    TEST_PASS("recipient: same domain, same domain hash");

    rcpt(B("Bob@X.TLD"), &r2, &d2, &h2);
    ASSERT_TRUE(r1 == r2 && d1 == d2);
    rcpt(B("carol@X.Tld"), &r2, &d2, &h2);
    ASSERT_TRUE(d1 == d2);
    TEST_PASS("recipient: case-insensitive (domain, and the local part too)");

    rcpt(B(" \tbob@x.tld\r\n"), &r2, &d2, &h2);
    ASSERT_TRUE(r1 == r2 && d1 == d2);
    TEST_PASS("recipient: trimmed");

    rcpt(B("bob"), &r2, &d2, &h2);
    ASSERT_TRUE(!h2);
    ASSERT_TRUE(d2 == 0);
    ASSERT_TRUE(r2 == siphash_64(hkey, "bob", 3));
    rcpt(B("bob@"), &r2, &d2, &h2);
    ASSERT_TRUE(!h2 && d2 == 0);
    TEST_PASS("recipient: no '@' or nothing after it: no domain");

    rcpt(B("\"a@b\"@x.tld"), &r2, &d2, &h2);
    ASSERT_TRUE(h2 && d2 == d1);
    rcpt(B("\"bob smith\"@x.tld"), &r2, &d2, &h2);
    ASSERT_TRUE(h2 && d2 == d1 && r2 != r1);
    rcpt(B("a@b@x.tld"), &r2, &d2, &h2);
    ASSERT_TRUE(h2 && d2 == d1);
    TEST_PASS("recipient: quoted local parts; the domain follows the last '@'");

    rcpt(B("b\0ob@x.tld"), &r2, &d2, &h2);
    ASSERT_TRUE(r2 != r1 && d2 == d1);
    rcpt(B("bob@x.tld."), &r2, &d2, &h2);
    ASSERT_TRUE(r2 != r1 && d2 != d1);
    TEST_PASS("recipient: NUL inside and trailing dot are different addresses");

    ASSERT_EQ(keys_recipient("", 0, hkey, &r2, &d2, &h2), KEYS_ERR_EMPTY);
    ASSERT_EQ(keys_recipient(" \r\n", 3, hkey, &r2, &d2, &h2), KEYS_ERR_EMPTY);
    TEST_PASS("recipient: empty refused");

    /* longer than the lowering chunk: case-folding across chunk boundaries */
    for (i = 0; i < sizeof(big); i++) {
        low[i] = (char)('a' + i % 26);
        big[i] = i % 3 ? (char)(low[i] - 32) : low[i];
    }
    big[4000] = low[4000] = '@';
    rcpt(big, sizeof(big), &r1, &d1, &h1);
    ASSERT_TRUE(h1);
    ASSERT_TRUE(r1 == siphash_64(hkey, low, sizeof(low)));
    ASSERT_TRUE(d1 == siphash_64(hkey, low + 4001, sizeof(low) - 4001));
    TEST_PASS("recipient: 5000-byte address folded across chunks");

    memcpy(k2, hkey, sizeof(k2));
    k2[0] ^= 1;
    rcpt(B("bob@x.tld"), &r1, &d1, &h1);
    ASSERT_EQ(keys_recipient("bob@x.tld", 9, k2, &r2, &d2, &h2), 0);
    ASSERT_TRUE(r1 != r2 && d1 != d2);
    TEST_PASS("recipient: keyed");
}

/* ---- keys_network ------------------------------------------------------------------ */

static const struct {
    const char *name;
    const char *addr;
    size_t len; /* 0 = strlen */
    int v4, v6;
    const char *want;
} net_cases[] = {
    {"v4 /24", "192.0.2.55", 0, 24, 48, "192.0.2.0/24"},
    {"v4 trimmed", " \t192.0.2.55\r\n", 0, 24, 48, "192.0.2.0/24"},
    {"v4 /32", "192.0.2.55", 0, 32, 48, "192.0.2.55/32"},
    {"v4 /25", "203.0.113.200", 0, 25, 48, "203.0.113.128/25"},
    {"v4 /23", "203.0.113.200", 0, 23, 48, "203.0.112.0/23"},
    {"v4 /20", "192.0.2.55", 0, 20, 48, "192.0.0.0/20"},
    {"v4 /16", "192.0.2.55", 0, 16, 48, "192.0.0.0/16"},
    {"v4 /1", "192.0.2.55", 0, 1, 48, "128.0.0.0/1"},
    {"v4 /0", "192.0.2.55", 0, 0, 48, "0.0.0.0/0"},
    {"v4 prefix clamped high", "192.0.2.55", 0, 99, 48, "192.0.2.55/32"},
    {"v4 prefix clamped low", "192.0.2.55", 0, -7, 48, "0.0.0.0/0"},
    {"v4 broadcast", "255.255.255.255", 0, 24, 48, "255.255.255.0/24"},
    {"v4 length-delimited", "192.0.2.55XYZ", 10, 24, 48, "192.0.2.0/24"},
    {"v6 /48", "2001:db8:abcd:1234::1", 0, 24, 48, "2001:db8:abcd::/48"},
    {"v6 upper case", "2001:DB8:ABCD:1234::1", 0, 24, 48, "2001:db8:abcd::/48"},
    {"v6 /64", "2001:db8:abcd:1234:5678::1", 0, 24, 64, "2001:db8:abcd:1234::/64"},
    {"v6 /56", "2001:db8:abcd:12ff::1", 0, 24, 56, "2001:db8:abcd:1200::/56"},
    {"v6 /52", "2001:db8:abcd:12ff::1", 0, 24, 52, "2001:db8:abcd:1000::/52"},
    {"v6 /128", "2001:db8::1", 0, 24, 128, "2001:db8::1/128"},
    {"v6 /0", "2001:db8::1", 0, 24, 0, "::/0"},
    {"v6 prefix clamped high", "2001:db8::1", 0, 24, 999, "2001:db8::1/128"},
    {"v6 prefix clamped low", "2001:db8::1", 0, 24, -1, "::/0"},
    {"v6 full form", "2001:0db8:0001:0002:0003:0004:0005:0006", 0, 24, 48, "2001:db8:1::/48"},
    {"v6 loopback", "::1", 0, 24, 48, "::/48"},
    {"v6 any", "::", 0, 24, 48, "::/48"},
    {"v6 zone", "fe80::1%eth0", 0, 24, 64, "fe80::/64"},
    {"v6 long zone",
     "fe80::1%aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0,
     24, 64, "fe80::/64"},
    {"v4-mapped", "::ffff:192.0.2.55", 0, 24, 48, "192.0.2.0/24"},
    {"v4-mapped upper", "::FFFF:192.0.2.55", 0, 24, 48, "192.0.2.0/24"},
    {"v4-mapped hex", "::ffff:c000:0237", 0, 24, 48, "192.0.2.0/24"},
    {"v4-mapped uses v4 prefix", "::ffff:192.0.2.55", 0, 16, 128, "192.0.0.0/16"},
    {"v4-compatible is v6", "::192.0.2.55", 0, 24, 48, "::/48"},
    {"empty", "", 0, 24, 48, "unknown"},
    {"blank", "  \t", 0, 24, 48, "unknown"},
    {"postfix unknown", "unknown", 0, 24, 48, "unknown"},
    {"hostname", "mail.example.com", 0, 24, 48, "unknown"},
    {"three octets", "192.0.2", 0, 24, 48, "unknown"},
    {"five octets", "192.0.2.1.5", 0, 24, 48, "unknown"},
    {"octet 256", "192.0.2.256", 0, 24, 48, "unknown"},
    {"leading zero octet", "192.0.02.1", 0, 24, 48, "unknown"},
    {"cidr given", "192.0.2.1/24", 0, 24, 48, "unknown"},
    {"inner space", "192.0.2.1 x", 0, 24, 48, "unknown"},
    {"bracketed v6", "[2001:db8::1]", 0, 24, 48, "unknown"},
    {"two ::", "2001::db8::1", 0, 24, 48, "unknown"},
    {"v6 too many groups", "1:2:3:4:5:6:7:8:9", 0, 24, 48, "unknown"},
    {"only zone", "%eth0", 0, 24, 48, "unknown"},
    {"percent", "%", 0, 24, 48, "unknown"},
    {"NUL inside", "192.0.2.1\0junk", 14, 24, 48, "unknown"},
    {"NUL first",
     "\0"
     "192.0.2.1",
     10, 24, 48, "unknown"},
    {"hex v4", "0xc0.0.2.1", 0, 24, 48, "unknown"},
    {"short v4", "127.1", 0, 24, 48, "unknown"},
    {"CR LF inside", "192.0.2.1\r\nx", 0, 24, 48, "unknown"},
    {"braces", "{192.0.2.1}", 0, 24, 48, "unknown"},
    {"63 bytes", "000000000000000000000000000000000000000000000000000000000000000", 0, 24, 48,
     "unknown"},
    {"64 bytes", "0000000000000000000000000000000000000000000000000000000000000000", 0, 24, 48,
     "unknown"},
};

static void test_network_table(void)
{
    char out[KEYS_NET_SIZE];
    size_t i;

    for (i = 0; i < sizeof(net_cases) / sizeof(net_cases[0]); i++) {
        size_t len = net_cases[i].len ? net_cases[i].len : strlen(net_cases[i].addr);

        memset(out, 'X', sizeof(out));
        keys_network(net_cases[i].addr, len, net_cases[i].v4, net_cases[i].v6, out);
        if (strcmp(out, net_cases[i].want) != 0)
            fprintf(stderr, "case %s\n", net_cases[i].name);
        ASSERT_STR_EQ(out, net_cases[i].want);
        TEST_PASS(net_cases[i].name);
    }
}

static void test_network_overlong(void)
{
    static char big[100000];
    char out[KEYS_NET_SIZE];
    size_t n;

    memset(big, '1', sizeof(big));
    keys_network(big, sizeof(big), 24, 48, out);
    ASSERT_STR_EQ(out, "unknown");
    /* whitespace padding does not count */
    memset(big, ' ', sizeof(big));
    memcpy(big + 50000, "192.0.2.9", 9);
    keys_network(big, sizeof(big), 24, 48, out);
    ASSERT_STR_EQ(out, "192.0.2.0/24");
    /* the longest IPv6 text and the longest output fit */
    keys_network("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 45, 24, 128, out);
    ASSERT_STR_EQ(out, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
    /* an IPv4 address followed by anything, at every length, is never accepted */
    memset(big, 'x', 200);
    memcpy(big, "10.1.2.3", 8);
    for (n = 9; n < 200; n++) {
        keys_network(big, n, 24, 48, out);
        ASSERT_STR_EQ(out, "unknown");
    }
    TEST_PASS("network: overlong and padded input");
}

/* ---- keys_hex64, keys_strerror ----------------------------------------------------- */

static void test_hex64_strerror(void)
{
    char out[KEYS_HEX64_SIZE];
    static const int codes[] = {KEYS_ERR_EMPTY, KEYS_ERR_TOO_LONG, KEYS_ERR_SPACE, KEYS_ERR_SUFFIX,
                                KEYS_ERR_PREFIX};
    size_t i, j;

    keys_hex64(0, out);
    ASSERT_STR_EQ(out, "0000000000000000");
    keys_hex64(UINT64_C(0x0123456789abcdef), out);
    ASSERT_STR_EQ(out, "0123456789abcdef");
    keys_hex64(UINT64_MAX, out);
    ASSERT_STR_EQ(out, "ffffffffffffffff");
    TEST_PASS("hex64");
    ASSERT_STR_EQ(keys_strerror(0), "success");
    ASSERT_STR_EQ(keys_strerror(-99), "unknown keys error");
    ASSERT_STR_EQ(keys_strerror(1), "unknown keys error");
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        ASSERT_TRUE(strcmp(keys_strerror(codes[i]), "unknown keys error") != 0);
        for (j = 0; j < i; j++)
            ASSERT_TRUE(strcmp(keys_strerror(codes[i]), keys_strerror(codes[j])) != 0);
    }
    TEST_PASS("strerror: every code named, each differently");
}

int main(void)
{
    test_normalise_table();
    test_normalise_fold_all_bytes();
    test_normalise_lengths();
    test_encode_table();
    test_encode_limits();
    test_enc_is_safe();
    test_encode_injective_short();
    test_name_table();
    test_name_limits();
    test_hash_tag_invariant();
    test_near_collisions();
    test_long_prefix_collisions();
    test_recipient();
    test_network_table();
    test_network_overlong();
    test_hex64_strerror();
    TEST_SUMMARY();
    return 0;
}
