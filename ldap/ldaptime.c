/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      ldaptime - password-change times from LDAP and Active Directory
 * SYNOPSIS
 *      ldaptime_filetime(s, len, &unix, &must_change)
 *      ldaptime_generalized(s, len, &unix)
 *      ldaptime_days(s, len, &unix, &must_change); ldaptime_bool(s, len, &b)
 *      ldaptime_judge(entry, created, policy, &result)
 *      ldaptime_iso(unix, out); ldaptime_to_generalized(unix, out)
 *      ldaptime_to_filetime(unix, &filetime)
 *      ldaptime_attr_parse(name, &attr); ldaptime_attr_name(attr)
 *      ldaptime_verdict_name(v); ldaptime_strerror(err)
 * DESCRIPTION
 *      The three ways directories record the last password change, as unix seconds:
 *
 *      pwdLastSet (Active Directory, Samba): a FILETIME, 100 ns intervals since
 *      1601-01-01 UTC, as a decimal string; unix = value / 10^7 - 11644473600 (rounded
 *      down). 0 means "must change the password at next logon" (an administrator's
 *      reset): must_change is set and unix is 0.
 *
 *      pwdChangedTime (OpenLDAP ppolicy, 389-DS, PingDS): GeneralizedTime per RFC 4517
 *      3.3.13: YYYYMMDDHH[MM[SS]][(.|,)fraction](Z|(+|-)HH[MM]). A fraction belongs to
 *      the last element given (of an hour, a minute or a second) and is rounded down to
 *      whole seconds; the differential is subtracted to get UTC; a leap second (:60) is
 *      the next minute's :00. Dates are checked (no February 30th).
 *
 *      shadowLastChange (NIS schema, pam_ldap): days since 1970-01-01, so the change is
 *      taken as 00:00 UTC of that day; 0 means "must change", as in shadow(5).
 *
 *      Values are (pointer, length) and may hold any bytes; more than LDAPTIME_VALUE_MAX
 *      bytes are refused unread. A result before 1970 or after 9999-12-31 is a range
 *      error, as is a negative number; nothing overflows on the way.
 *
 *      ldaptime_judge() is the whole decision of the poller for one entry: pick the
 *      attribute (policy->attr; with AUTO the first the entry has of pwdLastSet,
 *      pwdChangedTime, shadowLastChange), parse it, and answer UNBLOCK only when the
 *      change is later than created + skew (a created-at that is not a positive time
 *      up to 9999 never compares). An administrator's reset (pwdLastSet = 0,
 *      shadowLastChange = 0, or pwdReset TRUE beside pwdChangedTime) keeps the block
 *      until the user's own change, unless the policy trusts such resets. A missing or
 *      malformed value keeps the block.
 *
 *      ldaptime_iso() formats unix seconds for a log line (ISO 8601, UTC);
 *      ldaptime_to_generalized() and ldaptime_to_filetime() are the inverses of the
 *      parsers, for filters and tests.
 * DIAGNOSTICS
 *      0 or a negative LDAPTIME_ERR_*; outputs are unspecified after an error.
 * SEE ALSO
 *      RFC 4517 3.3.13, MS-ADA3 pwdLastSet, slapo-ppolicy(5), shadow(5), ldap/poller.c
 */
#include <stdio.h>
#include <strings.h>

#include "ldap/ldaptime.h"

#define LDAPTIME_TICKS_PER_SEC 10000000LL
#define LDAPTIME_SEC_PER_DAY 86400LL
#define LDAPTIME_FRACTION_DIGITS 9 /* digits of a fraction that can matter (ns) */

/* ldaptime_days_from_civil - days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t ldaptime_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* ldaptime_civil_from_days - the inverse, for days in [0, 9999-12-31]. */
static void ldaptime_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool ldaptime_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static unsigned ldaptime_month_days(int64_t y, unsigned m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* ldaptime_integer - an optionally negative decimal integer that fits int64_t.
 * Leading zeros are accepted; a sign alone, a '+', or any other byte is a syntax error. */
static int ldaptime_integer(const char *s, size_t len, int64_t *out)
{
    bool neg = false;
    uint64_t v = 0;
    size_t i = 0;

    if (s == NULL || len == 0 || len > LDAPTIME_VALUE_MAX)
        return LDAPTIME_ERR_SYNTAX;
    if (s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == len)
        return LDAPTIME_ERR_SYNTAX;
    for (; i < len; i++)
        if (!ldaptime_is_digit(s[i]))
            return LDAPTIME_ERR_SYNTAX;
    if (neg)
        return LDAPTIME_ERR_RANGE; /* no password was ever changed before 1970 */
    for (i = 0; i < len; i++) {
        unsigned dig = (unsigned)(s[i] - '0');

        if (v > ((uint64_t)INT64_MAX - dig) / 10)
            return LDAPTIME_ERR_RANGE;
        v = v * 10 + dig;
    }
    *out = (int64_t)v;
    return 0;
}

int ldaptime_filetime(const char *s, size_t len, int64_t *unix_out, bool *must_change)
{
    int64_t v;
    int rc = ldaptime_integer(s, len, &v);

    if (rc < 0)
        return rc;
    *must_change = v == 0;
    *unix_out = 0;
    if (v == 0)
        return 0;
    if (v < LDAPTIME_FILETIME_EPOCH)
        return LDAPTIME_ERR_RANGE;
    v = (v - LDAPTIME_FILETIME_EPOCH) / LDAPTIME_TICKS_PER_SEC;
    if (v > LDAPTIME_MAX_UNIX)
        return LDAPTIME_ERR_RANGE;
    *unix_out = v;
    return 0;
}

int ldaptime_days(const char *s, size_t len, int64_t *unix_out, bool *must_change)
{
    int64_t v;
    int rc = ldaptime_integer(s, len, &v);

    if (rc < 0)
        return rc;
    if (v > LDAPTIME_MAX_UNIX / LDAPTIME_SEC_PER_DAY)
        return LDAPTIME_ERR_RANGE;
    *must_change = v == 0;
    *unix_out = v * LDAPTIME_SEC_PER_DAY;
    return 0;
}

int ldaptime_bool(const char *s, size_t len, bool *out)
{
    if (s != NULL && len == 4 && strncasecmp(s, "TRUE", 4) == 0)
        *out = true;
    else if (s != NULL && len == 5 && strncasecmp(s, "FALSE", 5) == 0)
        *out = false;
    else
        return LDAPTIME_ERR_SYNTAX;
    return 0;
}

/* ldaptime_two - two digits at s[*i] in lo..hi; advances *i. */
static bool ldaptime_two(const char *s, size_t len, size_t *i, unsigned lo, unsigned hi,
                         unsigned *out)
{
    unsigned v;

    if (*i + 2 > len || !ldaptime_is_digit(s[*i]) || !ldaptime_is_digit(s[*i + 1]))
        return false;
    v = (unsigned)(s[*i] - '0') * 10 + (unsigned)(s[*i + 1] - '0');
    if (v < lo || v > hi)
        return false;
    *out = v;
    *i += 2;
    return true;
}

/* ldaptime_fraction - "(.|,)digits" of one unit (3600, 60 or 1 s), rounded down. */
static bool ldaptime_fraction(const char *s, size_t len, size_t *i, int64_t unit, int64_t *secs)
{
    int64_t num = 0, den = 1;
    size_t start;

    *secs = 0;
    if (*i >= len || (s[*i] != '.' && s[*i] != ','))
        return true;
    start = ++*i;
    for (; *i < len && ldaptime_is_digit(s[*i]); ++*i) {
        if (*i - start < LDAPTIME_FRACTION_DIGITS) {
            num = num * 10 + (s[*i] - '0');
            den *= 10;
        }
    }
    if (*i == start)
        return false;
    *secs = num * unit / den;
    return true;
}

/* ldaptime_zone - "Z" or "(+|-)HH[MM]" ending the value; the offset in seconds. */
static bool ldaptime_zone(const char *s, size_t len, size_t i, int64_t *offset)
{
    unsigned hh, mm = 0;
    int sign;

    if (i + 1 == len && s[i] == 'Z') {
        *offset = 0;
        return true;
    }
    if (i >= len || (s[i] != '+' && s[i] != '-'))
        return false;
    sign = s[i++] == '-' ? -1 : 1;
    if (!ldaptime_two(s, len, &i, 0, 23, &hh))
        return false;
    if (i < len && !ldaptime_two(s, len, &i, 0, 59, &mm))
        return false;
    if (i != len)
        return false;
    *offset = sign * (int64_t)(hh * 3600 + mm * 60);
    return true;
}

int ldaptime_generalized(const char *s, size_t len, int64_t *unix_out)
{
    unsigned cc, yy, mon, day, hh, mi = 0, ss = 0;
    int64_t year, t, frac, offset, unit = 3600;
    size_t i = 0;

    if (s == NULL || len == 0 || len > LDAPTIME_VALUE_MAX)
        return LDAPTIME_ERR_SYNTAX;
    if (!ldaptime_two(s, len, &i, 0, 99, &cc) || !ldaptime_two(s, len, &i, 0, 99, &yy) ||
        !ldaptime_two(s, len, &i, 1, 12, &mon) || !ldaptime_two(s, len, &i, 1, 31, &day) ||
        !ldaptime_two(s, len, &i, 0, 23, &hh))
        return LDAPTIME_ERR_SYNTAX;
    year = (int64_t)cc * 100 + yy;
    if (day > ldaptime_month_days(year, mon))
        return LDAPTIME_ERR_SYNTAX;
    if (i < len && ldaptime_is_digit(s[i])) {
        if (!ldaptime_two(s, len, &i, 0, 59, &mi))
            return LDAPTIME_ERR_SYNTAX;
        unit = 60;
        if (i < len && ldaptime_is_digit(s[i])) {
            if (!ldaptime_two(s, len, &i, 0, 60, &ss))
                return LDAPTIME_ERR_SYNTAX;
            unit = 1;
        }
    }
    if (!ldaptime_fraction(s, len, &i, unit, &frac) || !ldaptime_zone(s, len, i, &offset))
        return LDAPTIME_ERR_SYNTAX;
    t = ldaptime_days_from_civil(year, mon, day) * LDAPTIME_SEC_PER_DAY + hh * 3600 + mi * 60 + ss +
        frac - offset;
    if (t < 0 || t > LDAPTIME_MAX_UNIX)
        return LDAPTIME_ERR_RANGE;
    *unix_out = t;
    return 0;
}

/* ldaptime_pick - the attribute the verdict rests on; AUTO when the entry has none. */
static enum ldaptime_attr ldaptime_pick(const struct ldaptime_entry *e, enum ldaptime_attr a)
{
    if (a != LDAPTIME_AUTO)
        return a;
    if (e->pwd_last_set.val != NULL)
        return LDAPTIME_PWDLASTSET;
    if (e->pwd_changed_time.val != NULL)
        return LDAPTIME_PWDCHANGEDTIME;
    if (e->shadow_last_change.val != NULL)
        return LDAPTIME_SHADOWLASTCHANGE;
    return LDAPTIME_AUTO;
}

/* ldaptime_parse_used - the chosen attribute's value: 0, or a parse error. */
static int ldaptime_parse_used(const struct ldaptime_entry *e, enum ldaptime_attr a, int64_t *t,
                               bool *reset)
{
    bool flag = false;
    int rc;

    *reset = false;
    switch (a) {
    case LDAPTIME_PWDLASTSET:
        return ldaptime_filetime(e->pwd_last_set.val, e->pwd_last_set.len, t, reset);
    case LDAPTIME_SHADOWLASTCHANGE:
        return ldaptime_days(e->shadow_last_change.val, e->shadow_last_change.len, t, reset);
    case LDAPTIME_PWDCHANGEDTIME:
        rc = ldaptime_generalized(e->pwd_changed_time.val, e->pwd_changed_time.len, t);
        if (rc == 0 && e->pwd_reset.val != NULL)
            rc = ldaptime_bool(e->pwd_reset.val, e->pwd_reset.len, &flag);
        *reset = flag;
        return rc;
    case LDAPTIME_AUTO:
        break;
    }
    return LDAPTIME_ERR_SYNTAX;
}

static const struct ldaptime_val *ldaptime_value_of(const struct ldaptime_entry *e,
                                                    enum ldaptime_attr a)
{
    switch (a) {
    case LDAPTIME_PWDLASTSET:
        return &e->pwd_last_set;
    case LDAPTIME_PWDCHANGEDTIME:
        return &e->pwd_changed_time;
    case LDAPTIME_SHADOWLASTCHANGE:
        return &e->shadow_last_change;
    case LDAPTIME_AUTO:
        break;
    }
    return NULL;
}

void ldaptime_judge(const struct ldaptime_entry *e, int64_t created,
                    const struct ldaptime_policy *pol, struct ldaptime_result *out)
{
    const struct ldaptime_val *v;
    int64_t t = 0, skew = pol->skew;
    bool reset;

    out->used = ldaptime_pick(e, pol->attr);
    out->changed = 0;
    out->admin_reset = false;
    v = ldaptime_value_of(e, out->used);
    if (v == NULL || v->val == NULL) {
        out->verdict = LDAPTIME_KEEP_NO_ATTR;
        return;
    }
    if (ldaptime_parse_used(e, out->used, &t, &reset) < 0) {
        out->verdict = LDAPTIME_KEEP_BAD_VALUE;
        return;
    }
    out->changed = t;
    out->admin_reset = reset;
    if (reset && !pol->trust_admin_reset) {
        out->verdict = LDAPTIME_KEEP_MUST_CHANGE;
        return;
    }
    if (reset && t == 0) { /* pwdLastSet/shadowLastChange 0, trusted: no time to compare */
        out->verdict = LDAPTIME_UNBLOCK;
        return;
    }
    if (skew < 0)
        skew = 0;
    if (skew > LDAPTIME_MAX_UNIX)
        skew = LDAPTIME_MAX_UNIX;
    /* a block without a sane created-at can be compared with nothing: it stays */
    out->verdict = created > 0 && created <= LDAPTIME_MAX_UNIX && t - skew > created
                       ? LDAPTIME_UNBLOCK
                       : LDAPTIME_KEEP_OLDER;
}

void ldaptime_iso(int64_t unix_time, char out[LDAPTIME_ISO_SIZE])
{
    int64_t y, days, rem;
    unsigned m, d;

    if (unix_time < 0 || unix_time > LDAPTIME_MAX_UNIX) {
        snprintf(out, LDAPTIME_ISO_SIZE, "@%lld", (long long)unix_time);
        return;
    }
    days = unix_time / LDAPTIME_SEC_PER_DAY;
    rem = unix_time % LDAPTIME_SEC_PER_DAY;
    ldaptime_civil_from_days(days, &y, &m, &d);
    snprintf(out, LDAPTIME_ISO_SIZE, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
             (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
}

int ldaptime_to_generalized(int64_t unix_time, char out[LDAPTIME_GT_SIZE])
{
    int64_t y, rem;
    unsigned m, d;

    if (unix_time < 0 || unix_time > LDAPTIME_MAX_UNIX)
        return LDAPTIME_ERR_RANGE;
    rem = unix_time % LDAPTIME_SEC_PER_DAY;
    ldaptime_civil_from_days(unix_time / LDAPTIME_SEC_PER_DAY, &y, &m, &d);
    snprintf(out, LDAPTIME_GT_SIZE, "%04u%02u%02u%02u%02u%02uZ", (unsigned)y, m, d,
             (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
    return 0;
}

int ldaptime_to_filetime(int64_t unix_time, int64_t *filetime)
{
    if (unix_time < 0 || unix_time > LDAPTIME_MAX_UNIX)
        return LDAPTIME_ERR_RANGE;
    *filetime = unix_time * LDAPTIME_TICKS_PER_SEC + LDAPTIME_FILETIME_EPOCH;
    return 0;
}

static const char *const ldaptime_attr_names[] = {"auto", "pwdLastSet", "pwdChangedTime",
                                                  "shadowLastChange"};

int ldaptime_attr_parse(const char *name, enum ldaptime_attr *out)
{
    unsigned i;

    for (i = 0; i < sizeof(ldaptime_attr_names) / sizeof(ldaptime_attr_names[0]); i++) {
        if (strcasecmp(name, ldaptime_attr_names[i]) == 0) {
            *out = (enum ldaptime_attr)i;
            return 0;
        }
    }
    return LDAPTIME_ERR_SYNTAX;
}

const char *ldaptime_attr_name(enum ldaptime_attr a)
{
    return (unsigned)a < 4 ? ldaptime_attr_names[a] : "unknown";
}

const char *ldaptime_verdict_name(enum ldaptime_verdict v)
{
    switch (v) {
    case LDAPTIME_UNBLOCK:
        return "changed";
    case LDAPTIME_KEEP_OLDER:
        return "not changed since the block";
    case LDAPTIME_KEEP_MUST_CHANGE:
        return "reset by an administrator, waiting for the user's own change";
    case LDAPTIME_KEEP_NO_ATTR:
        return "no password-change attribute";
    case LDAPTIME_KEEP_BAD_VALUE:
        return "malformed password-change attribute";
    }
    return "unknown";
}

const char *ldaptime_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case LDAPTIME_ERR_SYNTAX:
        return "syntax error";
    case LDAPTIME_ERR_RANGE:
        return "out of range";
    }
    return "unknown error";
}
