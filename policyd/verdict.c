/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      verdict - the reply text for a rule verdict, and the sender/login check
 * SYNOPSIS
 *      verdict_action(cfg, action, ref, families, at_rcpt, out, outlen)
 *      verdict_expand_ref(text, ref, out, outlen)
 *      verdict_sender_mismatch(match, mailbox, sender, sender_len)
 * DESCRIPTION
 *      verdict_action() turns a rules verdict into the access(5) action Postfix gets:
 *      PASS and WATCH -> DUNNO; DEFER -> rate_limit_action; HOLD -> "HOLD hold_text" (or
 *      DUNNO when hold_enabled = no); BLOCK -> "REJECT block_reject_text" with "%r"
 *      replaced by the reference id. In observe mode every verdict answers DUNNO, or, with
 *      observe_prepend and at RCPT (PREPEND is ignored at END-OF-MESSAGE), a header
 *      "X-Policyd-Verdict: ACTION families" for anything above PASS. Texts come from the
 *      configuration, which refuses CR and LF; they never carry thresholds (those go to
 *      the log).
 *
 *      verdict_sender_mismatch() applies sender_login_match: "none" never mismatches;
 *      "address" compares the envelope sender with the normalised login; "domain"
 *      compares their domains (case-insensitive). A null sender (bounces) never
 *      mismatches. "map" (sender_login_maps) is resolved by the caller.
 *
 *      Pure: no I/O, writes only into the caller's buffer.
 * DIAGNOSTICS
 *      Returns the length written, or VERDICT_ERR_SPACE when out is too small.
 * SEE ALSO
 *      rules(3), access(5), policyd.conf.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "policyd/config.h"
#include "policyd/verdict.h"

#define VERDICT_ERR_SPACE (-1)

const char *verdict_strerror(int err)
{
    return err == VERDICT_ERR_SPACE ? "reply text does not fit" : "unknown error";
}

/* verdict_expand_ref - copy text with "%r" -> ref and "%%" -> "%". */
int verdict_expand_ref(const char *text, const char *ref, char *out, size_t outlen)
{
    size_t o = 0, rl = strlen(ref);
    const char *p;

    for (p = text; *p != '\0'; p++) {
        if (p[0] == '%' && (p[1] == 'r' || p[1] == '%')) {
            const char *src = p[1] == 'r' ? ref : "%";
            size_t n = p[1] == 'r' ? rl : 1;

            if (o + n >= outlen)
                return VERDICT_ERR_SPACE;
            memcpy(out + o, src, n);
            o += n;
            p++;
            continue;
        }
        if (o + 1 >= outlen)
            return VERDICT_ERR_SPACE;
        out[o++] = *p;
    }
    out[o] = '\0';
    return (int)o;
}

/* verdict_print - snprintf that reports a cut as VERDICT_ERR_SPACE. */
static int verdict_print(char *out, size_t outlen, const char *a, const char *b)
{
    int n = snprintf(out, outlen, "%s%s", a, b);

    return n < 0 || (size_t)n >= outlen ? VERDICT_ERR_SPACE : n;
}

int verdict_action(const struct pd_config *cfg, enum rules_action action, const char *ref,
                   const char *families, bool at_rcpt, char *out, size_t outlen)
{
    static const char *const names[] = {"PASS", "WATCH", "DEFER", "HOLD", "BLOCK"};
    char text[VERDICT_ACTION_MAX];
    int n;

    if (strcmp(cfg->mode, "observe") == 0) {
        if (action == RULES_PASS || !cfg->observe_prepend || !at_rcpt)
            return verdict_print(out, outlen, "DUNNO", "");
        n = snprintf(out, outlen, "PREPEND X-Policyd-Verdict: %s %s", names[action],
                     families[0] != '\0' ? families : "-");
        return n < 0 || (size_t)n >= outlen ? VERDICT_ERR_SPACE : n;
    }
    switch (action) {
    case RULES_DEFER:
        return verdict_print(out, outlen, cfg->rate_limit_action, "");
    case RULES_HOLD:
        if (!cfg->hold_enabled)
            return verdict_print(out, outlen, "DUNNO", "");
        return verdict_print(out, outlen, "HOLD ", cfg->hold_text);
    case RULES_BLOCK:
        if (verdict_expand_ref(cfg->block_reject_text, ref, text, sizeof(text)) < 0)
            return VERDICT_ERR_SPACE;
        return verdict_print(out, outlen, "REJECT ", text);
    default:
        return verdict_print(out, outlen, "DUNNO", "");
    }
}

/* verdict_domain - the part after the last '@', or "" when there is none. */
static const char *verdict_domain(const char *addr, size_t len, size_t *dlen)
{
    const char *at = NULL;
    size_t i;

    for (i = 0; i < len; i++)
        if (addr[i] == '@')
            at = addr + i;
    if (at == NULL) {
        *dlen = 0;
        return "";
    }
    *dlen = len - (size_t)(at + 1 - addr);
    return at + 1;
}

bool verdict_sender_mismatch(const char *match, const char *mailbox, const char *sender,
                             size_t sender_len)
{
    size_t ml = strlen(mailbox), sdl, mdl;
    const char *sd, *md;

    if (sender == NULL || sender_len == 0 || strcmp(match, "none") == 0)
        return false;
    if (strcmp(match, "address") == 0)
        return sender_len != ml || strncasecmp(sender, mailbox, ml) != 0;
    sd = verdict_domain(sender, sender_len, &sdl);
    md = verdict_domain(mailbox, ml, &mdl);
    if (mdl == 0)
        return false; /* a login without a domain cannot be compared by domain */
    return sdl != mdl || strncasecmp(sd, md, mdl) != 0;
}
