/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      test_siphash - unit tests of SipHash-2-4 against the reference vectors
 * SYNOPSIS
 *      build/tests/test_siphash
 * DESCRIPTION
 *      The 64 test vectors of the reference implementation (github.com/veorq/SipHash,
 *      vectors.h: key 00..0f, message 00..n-1 for n = 0..63) for both the 64-bit and the
 *      128-bit output, one-shot and incremental (every split point, and byte by byte);
 *      the paper's worked example; the length byte beyond 255 bytes; the outlen flag
 *      really separates the two variants; key sensitivity.
 * DIAGNOSTICS
 *      Aborts on the first failed assertion; prints "N passed, 0 failed" at the end.
 * SEE ALSO
 *      ratelimit/siphash.c, tests/unit/testlib.h
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ratelimit/siphash.h"
#include "tests/unit/testlib.h"

#define NVEC 64

/* vectors_sip64 of vectors.h: the reference's 8 output bytes, in order, as hex. */
static const char *const vec64[NVEC] = {
    "310e0edd47db6f72", "fd67dc93c539f874", "5a4fa9d909806c0d", "2d7efbd796666785",
    "b7877127e09427cf", "8da699cd64557618", "cee3fe586e46c9cb", "37d1018bf50002ab",
    "6224939a79f5f593", "b0e4a90bdf82009e", "f3b9dd94c5bb5d7a", "a7ad6b22462fb3f4",
    "fbe50e86bc8f1e75", "903d84c02756ea14", "eef27a8e90ca23f7", "e545be4961ca29a1",
    "db9bc2577fcc2a3f", "9447be2cf5e99a69", "9cd38d96f0b3c14b", "bd6179a71dc96dbb",
    "98eea21af25cd6be", "c7673b2eb0cbf2d0", "883ea3e395675393", "c8ce5ccd8c030ca8",
    "94af49f6c650adb8", "eab8858ade92e1bc", "f315bb5bb835d817", "adcf6b0763612e2f",
    "a5c91da7acaa4dde", "716595876650a2a6", "28ef495c53a387ad", "42c341d8fa92d832",
    "ce7cf2722f512771", "e37859f94623f3a7", "381205bb1ab0e012", "ae97a10fd434e015",
    "b4a31508beff4d31", "81396229f0907902", "4d0cf49ee5d4dcca", "5c73336a76d8bf9a",
    "d0a704536ba93e0e", "925958fcd6420cad", "a915c29bc8067318", "952b79f3bc0aa6d4",
    "f21df2e41d4535f9", "87577519048f53a9", "10a56cf5dfcd9adb", "eb75095ccd986cd0",
    "51a9cb9ecba312e6", "96afadfc2ce666c7", "72fe52975a4364ee", "5a1645b276d592a1",
    "b274cb8ebf87870a", "6f9bb4203de7b381", "eaecb2a30b22a87f", "9924a43cc1315724",
    "bd838d3aafbf8db7", "0b1a2a3265d51aea", "135079a3231ce660", "932b2846e4d70666",
    "e1915f5cb1eca46c", "f325965ca16d629f", "575ff28e60381be5", "724506eb4c328a95",
};

/* vectors_sip128 of vectors.h: the reference's 16 output bytes, in order, as hex. */
static const char *const vec128[NVEC] = {
    "a3817f04ba25a8e66df67214c7550293", "da87c1d86b99af44347659119b22fc45",
    "8177228da4a45dc7fca38bdef60affe4", "9c70b60c5267a94e5f33b6b02985ed51",
    "f88164c12d9c8faf7d0f6e7c7bcd5579", "1368875980776f8854527a07690e9627",
    "14eeca338b208613485ea0308fd7a15e", "a1f1ebbed8dbc153c0b84aa61ff08239",
    "3b62a9ba6258f5610f83e264f31497b4", "264499060ad9baabc47f8b02bb6d71ed",
    "00110dc378146956c95447d3f3d0fbba", "0151c568386b6677a2b4dc6f81e5dc18",
    "d626b266905ef35882634df68532c125", "9869e247e9c08b10d029934fc4b952f7",
    "31fcefac66d7de9c7ec7485fe4494902", "5493e99933b0a8117e08ec0f97cfc3d9",
    "6ee2a4ca67b054bbfd3315bf85230577", "473d06e8738db89854c066c47ae47740",
    "a426e5e423bf4885294da481feaef723", "78017731cf65fab074d5208952512eb1",
    "9e25fc833f2290733e9344a5e83839eb", "568e495abe525a218a2214cd3e071d12",
    "4a29b54552d16b9a469c10528eff0aae", "c9d184ddd5a9f5e0cf8ce29a9abf691c",
    "2db479ae78bd50d8882a8a178a6132ad", "8ece5f042d5e447b5051b9eacb8d8f6f",
    "9c0b53b4b3c307e87eaee08678141f66", "abf248af69a6eae4bfd3eb2f129eeb94",
    "0664da1668574b88b935f3027358aef4", "aa4b9dc4bf337de90cd4fd3c467c6ab7",
    "ea5c7f471faf6bde2b1ad7d4686d2287", "2939b0183223fafc1723de4f52c43d35",
    "7c3956ca5eeafc3e363e9d556546eb68", "77c6077146f01c32b6b69d5f4ea9ffcf",
    "37a6986cb8847edf0925f0f1309b54de", "a705f0e69da9a8f907241a2e923c8cc8",
    "3dc47d1f29c448461e9e76ed904f6711", "0d62bf01e6fc0e1a0d3c4751c5d3692b",
    "8c03468bca7c669ee4fd5e084bbee7b5", "528a5bb93baf2c9c4473cce5d0d22bd9",
    "df6a301e95c95dad97ae0cc8c6913bd8", "801189902c857f39e73591285e70b6db",
    "e617346ac9c231bb3650ae34ccca0c5b", "27d93437efb721aa401821dcec5adf89",
    "89237d9ded9c5e78d8b1c9b166cc7342", "4a6d8091bf5e7d651189fa94a250b14c",
    "0e33f96055e7ae893ffc0e3dcf492902", "e61c432b720b19d18ec8d84bdc63151b",
    "f7e5aef549f782cf379055a608269b16", "438d030fd0b7a54fa837f2ad201a6403",
    "a590d3ee4fbf04e3247e0d27f286423f", "5fe2c1a172fe93c4b15cd37caef9f538",
    "2c97325cbd06b36eb2133dd08b3a017c", "92c814227a6bca949ff0659f002ad39e",
    "dce850110bd8328cfbd50841d6911d87", "67f14984c7da791248e32bb5922583da",
    "1938f2cf72d54ee97e94166fa91d2a36", "74481e9646ed49fe0f6224301604698e",
    "57fca5de98a9d6d8006438d0583d8a1d", "9fecde1cefdc1cbed4763674d9575359",
    "e3040c00eb28f15366ca73cbd872e740", "7697009a6a831dfecca91c5993670f7a",
    "5853542321f567a005d547a4f04759bd", "5150d1772f50834a503e069a973fbd7c",
};

static uint8_t key[SIPHASH_KEY_LEN];
static uint8_t msg[NVEC];

/* hex - n bytes as lower-case hex into out (2n + 1 bytes). */
static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char dig[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = dig[b[i] >> 4];
        out[2 * i + 1] = dig[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* hex64 - a 64-bit result as the reference's output bytes (little-endian). */
static void hex64(uint64_t v, char out[17])
{
    uint8_t b[8];
    int i;

    for (i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    hex(b, 8, out);
}

static void test_vectors_64(void)
{
    char got[17];
    size_t n;

    for (n = 0; n < NVEC; n++) {
        hex64(siphash_64(key, msg, n), got);
        if (strcmp(got, vec64[n]) != 0)
            fprintf(stderr, "sip64 length %zu\n", n);
        ASSERT_STR_EQ(got, vec64[n]);
    }
    TEST_PASS("sip64 reference vectors, lengths 0..63");
}

static void test_vectors_128(void)
{
    uint8_t out[16];
    char got[33];
    size_t n;

    for (n = 0; n < NVEC; n++) {
        siphash_128(key, msg, n, out);
        hex(out, 16, got);
        if (strcmp(got, vec128[n]) != 0)
            fprintf(stderr, "sip128 length %zu\n", n);
        ASSERT_STR_EQ(got, vec128[n]);
    }
    TEST_PASS("sip128 reference vectors, lengths 0..63");
}

/* The incremental interface must give the one-shot result for every split of every
 * vector into two parts, and when fed byte by byte. */
static void test_incremental(void)
{
    struct siphash_state st;
    uint8_t out[16], ref[16];
    size_t n, cut, i;

    for (n = 0; n < NVEC; n++) {
        for (cut = 0; cut <= n; cut++) {
            siphash_init(&st, key, 8);
            siphash_update(&st, msg, cut);
            siphash_update(&st, msg + cut, n - cut);
            ASSERT_EQ(siphash_final64(&st), siphash_64(key, msg, n));

            siphash_init(&st, key, 16);
            siphash_update(&st, msg, cut);
            siphash_update(&st, msg + cut, n - cut);
            siphash_final128(&st, out);
            siphash_128(key, msg, n, ref);
            ASSERT_TRUE(memcmp(out, ref, 16) == 0);
        }
        siphash_init(&st, key, 8);
        for (i = 0; i < n; i++) {
            siphash_update(&st, msg + i, 1);
            siphash_update(&st, msg + i, 0); /* empty updates change nothing */
        }
        ASSERT_EQ(siphash_final64(&st), siphash_64(key, msg, n));
    }
    TEST_PASS("incremental = one-shot at every split and byte by byte");
}

/* The paper's example (appendix A): 15-byte message, output 0xa129ca6149be45e5. */
static void test_paper_example(void)
{
    ASSERT_TRUE(siphash_64(key, msg, 15) == UINT64_C(0xa129ca6149be45e5));
    TEST_PASS("paper example a129ca6149be45e5");
}

/* Lengths past 255: only the low byte of the length is mixed in, as in the reference;
 * the message still differs, so must the hash. Also checks long incremental feeds. */
static void test_long_inputs(void)
{
    static uint8_t big[4096];
    struct siphash_state st;
    size_t i;

    for (i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + 3);
    ASSERT_TRUE(siphash_64(key, big, 256) != siphash_64(key, big, 0));
    ASSERT_TRUE(siphash_64(key, big, 257) != siphash_64(key, big, 1));
    ASSERT_TRUE(siphash_64(key, big, 4096) != siphash_64(key, big, 4095));
    siphash_init(&st, key, 8);
    for (i = 0; i < sizeof(big); i += 13)
        siphash_update(&st, big + i, sizeof(big) - i < 13 ? sizeof(big) - i : 13);
    ASSERT_EQ(siphash_final64(&st), siphash_64(key, big, sizeof(big)));
    TEST_PASS("long inputs, length byte wraps");
}

/* The 64- and 128-bit variants are different functions, and every key bit matters. */
static void test_variants_and_keys(void)
{
    uint8_t k2[SIPHASH_KEY_LEN], out[16];
    uint64_t lo;
    int i, b;

    siphash_128(key, msg, 8, out);
    lo = 0;
    for (i = 7; i >= 0; i--)
        lo = lo << 8 | out[i];
    ASSERT_TRUE(lo != siphash_64(key, msg, 8));
    for (i = 0; i < SIPHASH_KEY_LEN; i++) {
        for (b = 0; b < 8; b++) {
            memcpy(k2, key, sizeof(k2));
            k2[i] ^= (uint8_t)(1u << b);
            ASSERT_TRUE(siphash_64(k2, msg, 8) != siphash_64(key, msg, 8));
        }
    }
    TEST_PASS("64/128 variants differ; every key bit changes the hash");
}

int main(void)
{
    size_t i;

    for (i = 0; i < SIPHASH_KEY_LEN; i++)
        key[i] = (uint8_t)i;
    for (i = 0; i < NVEC; i++)
        msg[i] = (uint8_t)i;
    test_vectors_64();
    test_vectors_128();
    test_incremental();
    test_paper_example();
    test_long_inputs();
    test_variants_and_keys();
    TEST_SUMMARY();
    return 0;
}
