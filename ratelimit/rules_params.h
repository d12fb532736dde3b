/* SPDX-License-Identifier: MIT */
#ifndef PD_RULES_PARAMS_H
#define PD_RULES_PARAMS_H

/*
 * rules_params - every rule threshold as one row, so the rule engine, the config table
 * and the documentation stay in step. Each row becomes a policyd.conf key named
 * "rule_<field>" holding an integer in [min, max].
 *
 * X(field, default, min, max)
 *
 * Owned by the rules module: add a row here, use it in rules.c, document the key in the
 * rules section of policyd.conf. config.c picks the rows up by itself.
 */

#define RULES_PARAMS(X)                                                                    \
    X(hold_score, 5, 1, 1000)                                                              \
    X(block_score, 8, 1, 1000)

struct rules_params {
#define RULES_PARAM_FIELD(field, def, min, max) long long field;
    RULES_PARAMS(RULES_PARAM_FIELD)
#undef RULES_PARAM_FIELD
};

#endif
