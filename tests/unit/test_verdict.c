/* SPDX-License-Identifier: MIT */
/* test_verdict - the reply each verdict gives, in enforce and observe mode, and the
 * sender/login check. What a blocked user reads must carry the reference, never numbers. */
#include <stdlib.h>
#include <string.h>

#include "policyd/config.h"
#include "policyd/verdict.h"
#include "tests/unit/testlib.h"

static void test_actions(void)
{
    struct pd_config cfg;
    char out[VERDICT_ACTION_MAX];
    static const struct {
        const char *name;
        enum rules_action action;
        const char *want;
    } cases[] = {
        {"pass", RULES_PASS, "DUNNO"},
        {"watch is log only", RULES_WATCH, "DUNNO"},
        {"defer uses rate_limit_action", RULES_DEFER,
         "DEFER_IF_PERMIT 4.7.1 Sending rate limit reached, please try again later"},
        {"hold", RULES_HOLD, "HOLD message held for review"},
        {"block names the reference", RULES_BLOCK,
         "REJECT 5.7.1 Sending from this mailbox is suspended because it appears to be used "
         "by someone else; change your password to restore it (ref PD-0A1B2C3D)"},
    };
    size_t i;

    cfg_defaults(&cfg);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ASSERT_TRUE(verdict_action(&cfg, cases[i].action, "PD-0A1B2C3D", "NET+NOV", true, out,
                                   sizeof(out)) > 0);
        ASSERT_STR_EQ(out, cases[i].want);
        TEST_PASS(cases[i].name);
    }
    cfg.hold_enabled = false;
    verdict_action(&cfg, RULES_HOLD, "", "VOL+NOV", true, out, sizeof(out));
    ASSERT_STR_EQ(out, "DUNNO");
    TEST_PASS("hold_enabled = no answers DUNNO");

    free(cfg.mode);
    cfg.mode = strdup("observe");
    verdict_action(&cfg, RULES_BLOCK, "PD-1", "NET+NOV", true, out, sizeof(out));
    ASSERT_STR_EQ(out, "DUNNO");
    TEST_PASS("observe mode never rejects");
    cfg.observe_prepend = true;
    verdict_action(&cfg, RULES_BLOCK, "PD-1", "NET+NOV", true, out, sizeof(out));
    ASSERT_STR_EQ(out, "PREPEND X-Policyd-Verdict: BLOCK NET+NOV");
    TEST_PASS("observe_prepend adds a header at RCPT");
    verdict_action(&cfg, RULES_BLOCK, "PD-1", "NET+NOV", false, out, sizeof(out));
    ASSERT_STR_EQ(out, "DUNNO");
    TEST_PASS("no PREPEND outside RCPT (ignored at END-OF-MESSAGE)");
    verdict_action(&cfg, RULES_PASS, "", "", true, out, sizeof(out));
    ASSERT_STR_EQ(out, "DUNNO");
    TEST_PASS("observe_prepend leaves PASS alone");
    ASSERT_TRUE(verdict_action(&cfg, RULES_BLOCK, "PD-1", "NET", true, out, 10) < 0);
    TEST_PASS("a reply that does not fit is refused, not cut");
    cfg_free_fields(&cfg);
}

static void test_expand(void)
{
    char out[64];

    ASSERT_EQ(verdict_expand_ref("ref %r, 100%% sure", "PD-1", out, sizeof(out)), 19);
    ASSERT_STR_EQ(out, "ref PD-1, 100% sure");
    ASSERT_TRUE(verdict_expand_ref("%r%r%r", "PD-12345678", out, 20) < 0);
    ASSERT_EQ(verdict_expand_ref("50%x", "PD-1", out, sizeof(out)), 4);
    ASSERT_STR_EQ(out, "50%x");
    TEST_PASS("%r and %% expansion");
}

static void test_sender(void)
{
    static const struct {
        const char *match, *mailbox, *sender;
        bool want;
    } cases[] = {
        {"domain", "alice@example.com", "alice@example.com", false},
        {"domain", "alice@example.com", "bob@EXAMPLE.com", false},
        {"domain", "alice@example.com", "ceo@bank.example", true},
        {"domain", "alice@example.com", "", false},
        {"domain", "alice", "x@y.example", false},
        {"address", "alice@example.com", "Alice@Example.com", false},
        {"address", "alice@example.com", "bob@example.com", true},
        {"none", "alice@example.com", "ceo@bank.example", false},
        {"domain", "alice@example.com", "alice@example.com.evil", true},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ASSERT_EQ(verdict_sender_mismatch(cases[i].match, cases[i].mailbox, cases[i].sender,
                                          strlen(cases[i].sender)),
                  cases[i].want);
    }
    TEST_PASS("sender_login_match none/address/domain");
}

int main(void)
{
    test_actions();
    test_expand();
    test_sender();
    TEST_SUMMARY();
    return 0;
}
