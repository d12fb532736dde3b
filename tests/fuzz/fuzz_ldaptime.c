/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_ldaptime - libFuzzer target for the password-change time parsers and the
 *      unblock decision
 * SYNOPSIS
 *      build/fuzz/fuzz_ldaptime [libFuzzer options] CORPUS...
 *      build/tests/replay_ldaptime FILE...
 * DESCRIPTION
 *      Input: one flags byte (attribute mode, trusted resets, skew), eight bytes of the
 *      block's created-at (little-endian int64), then up to four values separated by
 *      "|#|": pwdLastSet, pwdChangedTime, pwdReset, shadowLastChange (an empty field is
 *      an absent attribute). Every value goes through every parser. Checks:
 *        - a parser answers 0, SYNTAX or RANGE; a time is within 1970..9999;
 *        - FILETIME: must-change iff the value is zero; the time written back as a
 *          FILETIME parses to itself; digit strings of up to 18 digits agree with a
 *          plain reference computation;
 *        - GeneralizedTime: the time written back parses to itself; the plain
 *          "YYYYMMDDHHMMSSZ" form agrees with timegm();
 *        - shadowLastChange: a whole number of days;
 *        - the decision is a known verdict on a known attribute, and UNBLOCK (other
 *          than a trusted reset without a time) means changed > created + skew with a
 *          sane created-at;
 *        - ldaptime_iso() of any int64 fits its buffer.
 *      Any violation aborts; the sanitisers catch memory and UB errors.
 * SEE ALSO
 *      ldap/ldaptime.c, tests/unit/test_ldaptime.c, tests/fuzz/corpus/ldaptime/
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ldap/ldaptime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_SEP "|#|"
#define FZ_HEADER 9

static void fz_rc(int rc)
{
    if (rc != 0 && rc != LDAPTIME_ERR_SYNTAX && rc != LDAPTIME_ERR_RANGE)
        abort();
}

static void fz_time(int64_t t)
{
    if (t < 0 || t > LDAPTIME_MAX_UNIX)
        abort();
}

static void fz_filetime(const char *s, size_t len)
{
    int64_t t = -1, back = -1, f;
    bool mc = false, mc2 = true, digits = len > 0 && len <= 18;
    char buf[32];
    size_t i;
    int rc = ldaptime_filetime(s, len, &t, &mc);

    fz_rc(rc);
    for (i = 0; i < len && digits; i++)
        digits = s[i] >= '0' && s[i] <= '9';
    if (digits) {
        long long v = 0;

        for (i = 0; i < len; i++)
            v = v * 10 + (s[i] - '0');
        if (v == 0 && (rc != 0 || !mc || t != 0))
            abort();
        if (v > 0 && v < LDAPTIME_FILETIME_EPOCH && rc != LDAPTIME_ERR_RANGE)
            abort();
        if (v >= LDAPTIME_FILETIME_EPOCH &&
            (rc != 0 || mc || t != (v - LDAPTIME_FILETIME_EPOCH) / 10000000))
            abort();
    }
    if (rc != 0)
        return;
    fz_time(t);
    {
        bool zeros = true;

        for (i = 0; i < len; i++)
            zeros = zeros && s[i] == '0';
        if (mc != zeros)
            abort();
    }
    if (mc)
        return;
    if (ldaptime_to_filetime(t, &f) != 0)
        abort();
    snprintf(buf, sizeof(buf), "%lld", (long long)f);
    if (ldaptime_filetime(buf, strlen(buf), &back, &mc2) != 0 || back != t || mc2)
        abort();
}

/* fz_plain_form - "YYYYMMDDHHMMSSZ" exactly. */
static bool fz_plain_form(const char *s, size_t len)
{
    size_t i;

    if (len != 15 || s[14] != 'Z')
        return false;
    for (i = 0; i < 14; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static void fz_generalized(const char *s, size_t len)
{
    char gt[LDAPTIME_GT_SIZE];
    int64_t t = -1, back = -1;
    int rc = ldaptime_generalized(s, len, &t);

    fz_rc(rc);
    if (rc != 0)
        return;
    fz_time(t);
    if (ldaptime_to_generalized(t, gt) != 0 || ldaptime_generalized(gt, 15, &back) != 0 ||
        back != t)
        abort();
    if (fz_plain_form(s, len)) {
        struct tm tm;

        memset(&tm, 0, sizeof(tm));
        tm.tm_year =
            (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + s[3] - '0' - 1900;
        tm.tm_mon = (s[4] - '0') * 10 + s[5] - '0' - 1;
        tm.tm_mday = (s[6] - '0') * 10 + s[7] - '0';
        tm.tm_hour = (s[8] - '0') * 10 + s[9] - '0';
        tm.tm_min = (s[10] - '0') * 10 + s[11] - '0';
        tm.tm_sec = (s[12] - '0') * 10 + s[13] - '0';
        if ((int64_t)timegm(&tm) != t)
            abort();
    }
}

static void fz_days(const char *s, size_t len)
{
    int64_t t = -1;
    bool mc = false, b = false;
    int rc = ldaptime_days(s, len, &t, &mc);

    fz_rc(rc);
    if (rc == 0) {
        fz_time(t);
        if (t % 86400 != 0 || mc != (t == 0))
            abort();
    }
    rc = ldaptime_bool(s, len, &b);
    if (rc != 0 && rc != LDAPTIME_ERR_SYNTAX)
        abort();
}

/* fz_field - the i-th "|#|"-separated field of the body; NULL when empty or absent. */
static void fz_fields(const char *body, size_t len, struct ldaptime_val v[4])
{
    size_t start = 0, i = 0, n;

    memset(v, 0, 4 * sizeof(*v));
    while (i < 4 && start <= len) {
        const char *sep = memmem(body + start, len - start, FZ_SEP, 3);

        n = sep != NULL ? (size_t)(sep - (body + start)) : len - start;
        if (n > 0) {
            v[i].val = body + start;
            v[i].len = n;
        }
        i++;
        if (sep == NULL)
            break;
        start += n + 3;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t skews[4] = {0, 10, 3600, -5};
    struct ldaptime_val v[4];
    struct ldaptime_entry e;
    struct ldaptime_policy pol;
    struct ldaptime_result r;
    char iso[LDAPTIME_ISO_SIZE];
    int64_t created;
    char *body;
    size_t len, i;

    if (size < FZ_HEADER)
        return 0;
    memcpy(&created, data + 1, 8);
    len = size - FZ_HEADER;
    body = malloc(len + 1); /* copied, so a read past a field's end is caught */
    memcpy(body, data + FZ_HEADER, len);
    body[len] = '\0';
    fz_fields(body, len, v);
    for (i = 0; i < 4; i++) {
        char *one;

        if (v[i].val == NULL)
            continue;
        one = malloc(v[i].len);
        memcpy(one, v[i].val, v[i].len);
        fz_filetime(one, v[i].len);
        fz_generalized(one, v[i].len);
        fz_days(one, v[i].len);
        free(one);
    }
    e.pwd_last_set = v[0], e.pwd_changed_time = v[1], e.pwd_reset = v[2];
    e.shadow_last_change = v[3];
    pol.attr = (enum ldaptime_attr)(data[0] & 3);
    pol.trust_admin_reset = (data[0] & 4) != 0;
    pol.skew = skews[(data[0] >> 3) & 3];
    if (data[0] & 0x20)
        created = created % (LDAPTIME_MAX_UNIX + 1); /* mostly sane created-at values */
    ldaptime_judge(&e, created, &pol, &r);
    if (r.verdict < LDAPTIME_UNBLOCK || r.verdict > LDAPTIME_KEEP_BAD_VALUE ||
        (unsigned)r.used > LDAPTIME_SHADOWLASTCHANGE)
        abort();
    if (pol.attr != LDAPTIME_AUTO && r.used != pol.attr)
        abort();
    if (r.verdict == LDAPTIME_UNBLOCK && !(r.admin_reset && r.changed == 0)) {
        int64_t skew = pol.skew < 0 ? 0 : pol.skew;

        if (created <= 0 || r.changed - skew <= created)
            abort();
    }
    if (r.verdict == LDAPTIME_UNBLOCK && r.admin_reset && !pol.trust_admin_reset)
        abort();
    ldaptime_iso(created, iso);
    if (strlen(iso) >= sizeof(iso))
        abort();
    (void)ldaptime_verdict_name(r.verdict);
    free(body);
    return 0;
}
