/* SPDX-License-Identifier: MIT */
/* test_sha1 - FIPS 180 / RFC 3174 vectors, and the name Redis gives a script. */
#include <stdlib.h>
#include <string.h>

#include "ratelimit/sha1.h"
#include "tests/unit/testlib.h"

static const struct {
    const char *name, *in, *want;
} cases[] = {
    {"empty", "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    {"abc", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
    {"448 bits", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    {"redis script", "return 1", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"},
    {"55 bytes", "0123456789012345678901234567890123456789012345678901234",
     "9f3a4ce7f66b1b74c34da2c5d732c39f81e0f8df"},
};

int main(void)
{
    char out[41], *big;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sha1_hex(cases[i].in, strlen(cases[i].in), out);
        ASSERT_STR_EQ(out, cases[i].want);
        TEST_PASS(cases[i].name);
    }
    big = malloc(1000000);
    memset(big, 'a', 1000000);
    sha1_hex(big, 1000000, out);
    ASSERT_STR_EQ(out, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(big);
    TEST_PASS("one million a");
    TEST_SUMMARY();
    return 0;
}
