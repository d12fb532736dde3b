/* SPDX-License-Identifier: MIT */
#ifndef PD_VERDICT_H
#define PD_VERDICT_H

/*
 * verdict - the reply Postfix gets for a rule verdict: pure, so what a blocked user sees
 * is unit-tested. Texts come from the config and never state thresholds.
 */

#include <stdbool.h>
#include <stddef.h>

#include "ratelimit/rules.h"

struct pd_config;

#define VERDICT_ACTION_MAX 512

int verdict_action(const struct pd_config *cfg, enum rules_action action, const char *ref,
                   const char *families, bool at_rcpt, char *out, size_t outlen);
int verdict_expand_ref(const char *text, const char *ref, char *out, size_t outlen);
bool verdict_sender_mismatch(const char *match, const char *mailbox, const char *sender,
                             size_t sender_len);
const char *verdict_strerror(int err);

#endif
