/* SPDX-License-Identifier: MIT */
#ifndef PD_TESTLIB_H
#define PD_TESTLIB_H

/*
 * testlib - the tiny assertion kit of the unit tests. A failed assertion prints the
 * expression and both values, then aborts (so a sanitiser or core shows where).
 * Each test binary ends with TEST_SUMMARY(), which prints "N passed, 0 failed".
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned testlib_passed;

#define ASSERT_TRUE(c)                                                                     \
    do {                                                                                   \
        if (!(c)) {                                                                        \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #c);      \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#define ASSERT_EQ(a, b)                                                                    \
    do {                                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                                \
        if (a_ != b_) {                                                                    \
            fprintf(stderr, "%s:%d: %s == %s: %lld != %lld\n", __FILE__, __LINE__, #a, #b, \
                    a_, b_);                                                               \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                                \
    do {                                                                                   \
        const char *a_ = (a), *b_ = (b);                                                   \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                             \
            fprintf(stderr, "%s:%d: %s == %s: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, \
                    #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                           \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* One named case has passed: counted for the summary line. */
#define TEST_PASS(name)                                                                    \
    do {                                                                                   \
        testlib_passed++;                                                                  \
        if (getenv("TEST_VERBOSE"))                                                        \
            fprintf(stderr, "ok %s\n", (name));                                            \
    } while (0)

#define TEST_SUMMARY()                                                                     \
    do {                                                                                   \
        printf("%s: %u passed, 0 failed\n", __FILE__, testlib_passed);                     \
    } while (0)

#endif
