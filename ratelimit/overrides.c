/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      overrides - per-mailbox and per-domain exceptions to the caps and rules
 * SYNOPSIS
 *      #include "ratelimit/overrides.h"
 *
 *      int overrides_parse(text, len, &o, &err); o = overrides_free(o)
 *      o = overrides_new(); overrides_add(o, key, key_len, &settings, line, &err)
 *      overrides_find(o, key, key_len); overrides_count(o); overrides_at(o, i)
 *      overrides_key(key, len, out, outsz, &outlen, &is_mailbox, &err)
 *      overrides_parse_settings(text, len, &settings, &err)
 *      overrides_format(&settings, buf, len); overrides_settings_equal(&a, &b)
 *      overrides_to_hash(&settings, &hash); overrides_hash_change(&old, &new, &hash)
 *      overrides_apply_domain(&settings, now, &trackargs_in)
 *      overrides_profile_parse(name, len, &profile); overrides_profile_text(profile)
 *      overrides_strerror(err)
 * DESCRIPTION
 *      overrides_file has the syntax of a Postfix lookup table source: one entry per
 *      logical line, "key setting=value ...". Blank lines and lines whose first non-blank
 *      byte is '#' are ignored (also between continuation lines, as in Postfix); a line
 *      that starts with white space continues the entry above; CR is white space (CRLF
 *      files work). A key with '@' is a mailbox, else a domain ("example.com", or
 *      "@example.com" as Postfix writes it). Keys are lower-cased; a key may not be
 *      empty, longer than OVERRIDES_KEY_MAX, or hold a control byte, a space, '{', '}'
 *      or '='. A key given twice is an error, as is a setting given twice in one entry:
 *      two lines for one mailbox are a mistake, not something to settle by position.
 *
 *      Settings (one table, overrides_fields[], drives parsing, formatting and the ovr
 *      hash): rcpt_hour, rcpt_day, msg_hour, msg_day (0..OVERRIDES_CAP_MAX, 0 = no cap),
 *      exempt (yes|no), profile (none or a profile of rules(3): the names come from
 *      rules_profile_name(), so the list lives in rules.c alone), and a temporary raise:
 *      raise_rcpt_hour, raise_rcpt_day, raise_msg_hour, raise_msg_day, which need
 *      raise_until (unix seconds, "YYYY-MM-DDTHH:MM:SSZ", or "+HH:MM"/"-HH:MM" instead of
 *      "Z"), and the other way round.
 *
 *      overrides_format() writes settings as the same tokens (times in the Z form), which
 *      overrides_parse_settings() reads back: the value of one domain in the Redis hash
 *      "<prefix>1:domains". An empty text is no settings (has == 0); the file and
 *      overrides_add() refuse an entry without settings. overrides_to_hash() gives a
 *      mailbox's ovr hash as track.lua reads it: exempt "1"/"0", profile "" for none,
 *      numbers in decimal, raise_until in unix seconds, and every field not set listed
 *      for HDEL. overrides_hash_change() gives the writes from one set of settings to
 *      another: HSET what the new one sets, HDEL what only the old one set.
 *      overrides_apply_domain() puts a domain's settings into a track call.
 *
 *      Ownership: a struct overrides owns its entries and keys; pointers from
 *      overrides_find() and overrides_at() are valid until the next overrides_add() or
 *      overrides_free(). Pure: no I/O, no logging, no globals; xmalloc aborts when memory
 *      is exhausted. Lookup is an open-addressing hash table (FNV-1a: the keys are
 *      operator data) kept at most half full. The file is a little over the ~800 lines
 *      of the style guide: the time syntax (~90 lines) could move to a module of its own.
 * DIAGNOSTICS
 *      0 or a negative OVERRIDES_ERR_*; struct pd_err gets a one-line message of printable
 *      ASCII and the line of the entry (0 for text that is not from a file): callers
 *      print "file:line: message". On error nothing is returned and nothing leaks.
 * SEE ALSO
 *      domcache(3), rules(3), trackargs(3), ratelimit/lua/track.lua, policyd.conf.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policyd/sanitize.h"
#include "policyd/util.h"
#include "ratelimit/overrides.h"
#include "ratelimit/signals.h"

#define OVERRIDES_QUOTE 64     /* room for a quoted value in a message */
#define OVERRIDES_MIN_SLOTS 64 /* first size of the hash table */
#define OVERRIDES_DAY 86400LL

enum overrides_kind {
    OVERRIDES_K_CAP,
    OVERRIDES_K_RAISE,
    OVERRIDES_K_UNTIL,
    OVERRIDES_K_EXEMPT,
    OVERRIDES_K_PROFILE,
};

/* One setting: its name in the file, its field in the ovr hash. In track.lua's order. */
struct overrides_field {
    const char *token;
    const char *hash;
    enum overrides_kind kind;
    int idx; /* enum overrides_cap for caps and raises */
    unsigned bit;
};

static const struct overrides_field overrides_fields[OVERRIDES_HASH_FIELDS] = {
    {"exempt", "exempt", OVERRIDES_K_EXEMPT, 0, OVERRIDES_HAS_EXEMPT},
    {"profile", "profile", OVERRIDES_K_PROFILE, 0, OVERRIDES_HAS_PROFILE},
    {"rcpt_hour", "lim_rcpt_hour", OVERRIDES_K_CAP, 0, OVERRIDES_HAS_CAP(0)},
    {"rcpt_day", "lim_rcpt_day", OVERRIDES_K_CAP, 1, OVERRIDES_HAS_CAP(1)},
    {"msg_hour", "lim_msg_hour", OVERRIDES_K_CAP, 2, OVERRIDES_HAS_CAP(2)},
    {"msg_day", "lim_msg_day", OVERRIDES_K_CAP, 3, OVERRIDES_HAS_CAP(3)},
    {"raise_until", "raise_until", OVERRIDES_K_UNTIL, 0, OVERRIDES_HAS_RAISE_UNTIL},
    {"raise_rcpt_hour", "raise_rcpt_hour", OVERRIDES_K_RAISE, 0, OVERRIDES_HAS_RAISE(0)},
    {"raise_rcpt_day", "raise_rcpt_day", OVERRIDES_K_RAISE, 1, OVERRIDES_HAS_RAISE(1)},
    {"raise_msg_hour", "raise_msg_hour", OVERRIDES_K_RAISE, 2, OVERRIDES_HAS_RAISE(2)},
    {"raise_msg_day", "raise_msg_day", OVERRIDES_K_RAISE, 3, OVERRIDES_HAS_RAISE(3)},
};

struct overrides {
    struct overrides_entry *v;
    size_t n, cap;
    uint32_t *slot; /* entry index + 1; 0 = empty */
    size_t nslot;   /* a power of two, 0 before the first entry */
};

/* One entry being collected from its lines. */
struct overrides_reader {
    struct overrides *o;
    int line; /* where the pending entry starts; 0 = none pending */
    size_t len;
    char buf[OVERRIDES_LINE_MAX + 1];
};

/* ---- small helpers ----------------------------------------------------------------- */

static bool overrides_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static char overrides_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* overrides_quote - s made printable and clipped, for a message. */
static const char *overrides_quote(char q[OVERRIDES_QUOTE], const char *s, size_t len)
{
    return sanitize_log(q, OVERRIDES_QUOTE, s, len);
}

/* ---- time -------------------------------------------------------------------------- */

/* overrides_days - days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long long overrides_days(long long y, int m, int d)
{
    long long era, yoe, doy, doe;

    y -= m <= 2;
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* overrides_civil - the date of a day number (the inverse of overrides_days). */
static void overrides_civil(long long z, long long *y, int *m, int *d)
{
    long long era, doe, yoe, doy, mp;

    z += 719468;
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int overrides_mdays(long long y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* overrides_digits - n decimal digits at s; -1 unless all are digits. */
static long long overrides_digits(const char *s, size_t n)
{
    long long v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* overrides_iso - "YYYY-MM-DDTHH:MM:SS" then "Z" or "+HH:MM" / "-HH:MM"; -1 if not. */
static long long overrides_iso(const char *s, size_t n)
{
    long long y, t;
    int mo, d, h, mi, sec, off = 0;

    if ((n != 20 && n != 25) || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':')
        return -1;
    y = overrides_digits(s, 4);
    mo = (int)overrides_digits(s + 5, 2);
    d = (int)overrides_digits(s + 8, 2);
    h = (int)overrides_digits(s + 11, 2);
    mi = (int)overrides_digits(s + 14, 2);
    sec = (int)overrides_digits(s + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > overrides_mdays(y, mo) || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || sec < 0 || sec > 59)
        return -1;
    if (n == 20 && s[19] != 'Z' && s[19] != 'z')
        return -1;
    if (n == 25) {
        long long oh = overrides_digits(s + 20, 2), om = overrides_digits(s + 23, 2);

        if ((s[19] != '+' && s[19] != '-') || s[22] != ':' || oh < 0 || oh > 23 || om < 0 ||
            om > 59)
            return -1;
        off = (int)((oh * 60 + om) * 60) * (s[19] == '-' ? -1 : 1);
    }
    t = overrides_days(y, mo, d) * OVERRIDES_DAY + h * 3600LL + mi * 60LL + sec - off;
    return t < 0 || t > OVERRIDES_TIME_MAX ? -1 : t;
}

/* overrides_time - unix seconds or an ISO 8601 time in 0..OVERRIDES_TIME_MAX; -1 if not. */
static long long overrides_time(const char *s, size_t n)
{
    long long t;

    if (n == 0)
        return -1;
    if (n <= 12 && (t = overrides_digits(s, n)) >= 0)
        return t <= OVERRIDES_TIME_MAX ? t : -1;
    return overrides_iso(s, n);
}

/* overrides_time_text - the Z form of unix seconds t (0..OVERRIDES_TIME_MAX). */
static void overrides_time_text(long long t, char out[OVERRIDES_VALUE_MAX])
{
    unsigned secs = (unsigned)(t % OVERRIDES_DAY);
    long long y;
    int m, d;

    overrides_civil(t / OVERRIDES_DAY, &y, &m, &d);
    /* the modulos only tell the compiler the widths: t is in range */
    snprintf(out, OVERRIDES_VALUE_MAX, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)y % 10000u,
             (unsigned)m % 100u, (unsigned)d % 100u, secs / 3600 % 100u, secs / 60 % 60, secs % 60);
}

/* ---- settings ---------------------------------------------------------------------- */

bool overrides_profile_parse(const char *name, size_t len, enum rules_profile *out)
{
    int p;

    for (p = RULES_PROF_NONE; p < RULES_PROF_UNKNOWN; p++) {
        const char *s = rules_profile_name((enum rules_profile)p);

        if (strlen(s) == len && strncasecmp(s, name, len) == 0) {
            *out = (enum rules_profile)p;
            return true;
        }
    }
    return false;
}

const char *overrides_profile_text(enum rules_profile p)
{
    if (p <= RULES_PROF_NONE || p >= RULES_PROF_UNKNOWN)
        return "";
    return rules_profile_name(p);
}

static const struct overrides_field *overrides_field_find(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < OVERRIDES_HASH_FIELDS; i++)
        if (strlen(overrides_fields[i].token) == len &&
            memcmp(overrides_fields[i].token, name, len) == 0)
            return &overrides_fields[i];
    return NULL;
}

/* overrides_value - one "name=value" value into s; false when it does not parse. */
static bool overrides_value(const struct overrides_field *f, const char *v, size_t n,
                            struct overrides_settings *s)
{
    long long x;

    switch (f->kind) {
    case OVERRIDES_K_CAP:
    case OVERRIDES_K_RAISE:
        if (n == 0 || n > 9 || (x = overrides_digits(v, n)) < 0 || x > OVERRIDES_CAP_MAX)
            return false;
        if (f->kind == OVERRIDES_K_CAP)
            s->cap[f->idx] = x;
        else
            s->raise[f->idx] = x;
        return true;
    case OVERRIDES_K_UNTIL:
        return (s->raise_until = overrides_time(v, n)) >= 0;
    case OVERRIDES_K_EXEMPT:
        s->exempt = n == 3 && strncasecmp(v, "yes", 3) == 0;
        return s->exempt || (n == 2 && strncasecmp(v, "no", 2) == 0);
    case OVERRIDES_K_PROFILE:
        return overrides_profile_parse(v, n, &s->profile);
    }
    return false;
}

/* overrides_expected - what a value of kind k must look like, for a message. */
static const char *overrides_expected(enum overrides_kind k)
{
    static const char *const text[] = {
        [OVERRIDES_K_CAP] = "an integer 0..10000000",
        [OVERRIDES_K_RAISE] = "an integer 0..10000000",
        [OVERRIDES_K_UNTIL] = "unix seconds or YYYY-MM-DDTHH:MM:SSZ",
        [OVERRIDES_K_EXEMPT] = "yes or no",
        [OVERRIDES_K_PROFILE] = "none, bulk, outreach, system or traveller",
    };

    return text[k];
}

/* overrides_token - one "name=value" token of a settings text. */
static int overrides_token(const char *t, size_t n, struct overrides_settings *s,
                           struct pd_err *err)
{
    const char *eq = memchr(t, '=', n);
    const struct overrides_field *f;
    char q[OVERRIDES_QUOTE];
    size_t nl;

    if (eq == NULL)
        return pd_err_set(err, OVERRIDES_ERR_SYNTAX, 0, "missing '=' in \"%s\"",
                              overrides_quote(q, t, n));
    nl = (size_t)(eq - t);
    if ((f = overrides_field_find(t, nl)) == NULL)
        return pd_err_set(err, OVERRIDES_ERR_VALUE, 0, "unknown setting \"%s\"",
                              overrides_quote(q, t, nl));
    if (s->has & f->bit)
        return pd_err_set(err, OVERRIDES_ERR_DUPLICATE, 0, "%s given twice", f->token);
    if (!overrides_value(f, eq + 1, n - nl - 1, s))
        return pd_err_set(err, OVERRIDES_ERR_VALUE, 0, "bad value for %s: \"%s\": expected %s",
                              f->token, overrides_quote(q, eq + 1, n - nl - 1),
                              overrides_expected(f->kind));
    s->has |= f->bit;
    return 0;
}

/* overrides_check - settings that make sense together; err->line is left at 0. */
static int overrides_check(const struct overrides_settings *s, struct pd_err *err)
{
    if ((s->has & OVERRIDES_HAS_ANY_RAISE) && !(s->has & OVERRIDES_HAS_RAISE_UNTIL))
        return pd_err_set(err, OVERRIDES_ERR_VALUE, 0, "a raise_* cap needs raise_until");
    if ((s->has & OVERRIDES_HAS_RAISE_UNTIL) && !(s->has & OVERRIDES_HAS_ANY_RAISE))
        return pd_err_set(err, OVERRIDES_ERR_VALUE, 0, "raise_until needs a raise_* cap");
    return 0;
}

int overrides_parse_settings(const char *text, size_t len, struct overrides_settings *s,
                             struct pd_err *err)
{
    size_t i = 0, j;
    int rc;

    memset(s, 0, sizeof(*s));
    s->profile = RULES_PROF_NONE;
    err->msg[0] = '\0';
    err->line = 0;
    for (j = 0; j < len; j++)
        if (((unsigned char)text[j] < 0x20 && !overrides_is_blank(text[j])) || text[j] == 0x7f)
            return pd_err_set(err, OVERRIDES_ERR_SYNTAX, 0, "%s in settings",
                                  text[j] == '\0' ? "NUL byte" : "control byte");
    while (i < len) {
        while (i < len && overrides_is_blank(text[i]))
            i++;
        for (j = i; j < len && !overrides_is_blank(text[j]); j++)
            continue;
        if (j > i && (rc = overrides_token(text + i, j - i, s, err)) < 0)
            return rc;
        i = j;
    }
    return overrides_check(s, err);
}

/* overrides_render - one field's value: the file form, or the ovr hash form. */
static void overrides_render(const struct overrides_field *f, const struct overrides_settings *s,
                             bool hash, char out[OVERRIDES_VALUE_MAX])
{
    switch (f->kind) {
    case OVERRIDES_K_CAP:
        snprintf(out, OVERRIDES_VALUE_MAX, "%lld", s->cap[f->idx]);
        break;
    case OVERRIDES_K_RAISE:
        snprintf(out, OVERRIDES_VALUE_MAX, "%lld", s->raise[f->idx]);
        break;
    case OVERRIDES_K_UNTIL:
        if (hash)
            snprintf(out, OVERRIDES_VALUE_MAX, "%lld", s->raise_until);
        else
            overrides_time_text(s->raise_until, out);
        break;
    case OVERRIDES_K_EXEMPT:
        snprintf(out, OVERRIDES_VALUE_MAX, "%s",
                 hash ? (s->exempt ? "1" : "0") : (s->exempt ? "yes" : "no"));
        break;
    case OVERRIDES_K_PROFILE:
        snprintf(out, OVERRIDES_VALUE_MAX, "%s",
                 hash ? overrides_profile_text(s->profile) : rules_profile_name(s->profile));
        break;
    }
}

/* overrides_in_range - every value a parser could have stored (for settings built by hand). */
static bool overrides_in_range(const struct overrides_settings *s)
{
    int i;

    for (i = 0; i < OVERRIDES_NCAPS; i++)
        if (s->cap[i] < 0 || s->cap[i] > OVERRIDES_CAP_MAX || s->raise[i] < 0 ||
            s->raise[i] > OVERRIDES_CAP_MAX)
            return false;
    return s->raise_until >= 0 && s->raise_until <= OVERRIDES_TIME_MAX &&
           s->profile >= RULES_PROF_NONE && s->profile < RULES_PROF_UNKNOWN &&
           (s->has & ~OVERRIDES_HAS_ALL) == 0;
}

int overrides_format(const struct overrides_settings *s, char *buf, size_t len)
{
    char v[OVERRIDES_VALUE_MAX];
    size_t i, o = 0;
    int n;

    if (len == 0 || !overrides_in_range(s))
        return OVERRIDES_ERR_SPACE;
    buf[0] = '\0';
    for (i = 0; i < OVERRIDES_HASH_FIELDS; i++) {
        const struct overrides_field *f = &overrides_fields[i];

        if (!(s->has & f->bit))
            continue;
        overrides_render(f, s, false, v);
        n = snprintf(buf + o, len - o, "%s%s=%s", o > 0 ? " " : "", f->token, v);
        if (n < 0 || (size_t)n >= len - o)
            return OVERRIDES_ERR_SPACE;
        o += (size_t)n;
    }
    return (int)o;
}

bool overrides_settings_equal(const struct overrides_settings *a,
                              const struct overrides_settings *b)
{
    char va[OVERRIDES_VALUE_MAX], vb[OVERRIDES_VALUE_MAX];
    size_t i;

    if (a->has != b->has)
        return false;
    for (i = 0; i < OVERRIDES_HASH_FIELDS; i++) {
        if (!(a->has & overrides_fields[i].bit))
            continue;
        overrides_render(&overrides_fields[i], a, true, va);
        overrides_render(&overrides_fields[i], b, true, vb);
        if (strcmp(va, vb) != 0)
            return false;
    }
    return true;
}

void overrides_hash_change(const struct overrides_settings *old,
                           const struct overrides_settings *new_, struct overrides_hash *out)
{
    unsigned had = old != NULL ? old->has : 0, has = new_ != NULL ? new_->has : 0;
    size_t i;

    out->nset = out->ndel = 0;
    for (i = 0; i < OVERRIDES_HASH_FIELDS; i++) {
        const struct overrides_field *f = &overrides_fields[i];

        if (has & f->bit) {
            out->set_name[out->nset] = f->hash;
            overrides_render(f, new_, true, out->set_value[out->nset]);
            out->set_len[out->nset] = strlen(out->set_value[out->nset]);
            out->nset++;
        } else if (had & f->bit) {
            out->del_name[out->ndel++] = f->hash;
        }
    }
}

void overrides_to_hash(const struct overrides_settings *s, struct overrides_hash *out)
{
    struct overrides_settings all;

    memset(&all, 0, sizeof(all));
    all.has = OVERRIDES_HAS_ALL;
    overrides_hash_change(&all, s, out);
}

/* overrides_apply_domain - a domain's caps (its raise while raise_until > now), exemption
 * and profile over the defaults already in the track call; limit_src becomes "domain"
 * when the domain set a cap. */
void overrides_apply_domain(const struct overrides_settings *s, long long now,
                            struct trackargs_in *in)
{
    long long *lim[OVERRIDES_NCAPS] = {&in->lim_rcpt_hour, &in->lim_rcpt_day, &in->lim_msg_hour,
                                       &in->lim_msg_day};
    bool raised = (s->has & OVERRIDES_HAS_RAISE_UNTIL) && s->raise_until > now;
    int i;

    for (i = 0; i < OVERRIDES_NCAPS; i++) {
        if (raised && (s->has & OVERRIDES_HAS_RAISE(i)))
            *lim[i] = s->raise[i];
        else if (s->has & OVERRIDES_HAS_CAP(i))
            *lim[i] = s->cap[i];
        else
            continue;
        in->limit_src = SIGNALS_SRC_DOMAIN;
    }
    if (s->has & OVERRIDES_HAS_EXEMPT)
        in->dom_exempt = s->exempt;
    if (s->has & OVERRIDES_HAS_PROFILE)
        in->dom_profile = overrides_profile_text(s->profile);
}

/* ---- keys -------------------------------------------------------------------------- */

int overrides_key(const char *key, size_t len, char *out, size_t outsz, size_t *outlen,
                  bool *is_mailbox, struct pd_err *err)
{
    char q[OVERRIDES_QUOTE];
    const char *at;
    size_t i;

    if (len > 0 && key[0] == '@' && memchr(key + 1, '@', len - 1) == NULL)
        key++, len--; /* "@example.com": a domain, as Postfix writes it */
    if (len == 0)
        return pd_err_set(err, OVERRIDES_ERR_KEY, 0, "empty key");
    if (len > OVERRIDES_KEY_MAX)
        return pd_err_set(err, OVERRIDES_ERR_KEY, 0, "key longer than %d bytes",
                              OVERRIDES_KEY_MAX);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];

        if (c <= 0x20 || c == 0x7f || c == '{' || c == '}' || c == '=')
            return pd_err_set(err, OVERRIDES_ERR_KEY, 0,
                                  "bad key \"%s\": control byte, space, '{', '}' or '='",
                                  overrides_quote(q, key, len));
    }
    at = memrchr(key, '@', len);
    if (at != NULL && (key[0] == '@' || at == key + len - 1))
        return pd_err_set(err, OVERRIDES_ERR_KEY, 0,
                              "bad key \"%s\": a mailbox needs a local part and a domain",
                              overrides_quote(q, key, len));
    if (len + 1 > outsz)
        return pd_err_set(err, OVERRIDES_ERR_SPACE, 0, "key does not fit");
    for (i = 0; i < len; i++)
        out[i] = overrides_lower(key[i]);
    out[len] = '\0';
    *outlen = len;
    *is_mailbox = at != NULL;
    return 0;
}

/* ---- the table --------------------------------------------------------------------- */

/* overrides_hash_key - FNV-1a of the lower-cased key. */
static uint64_t overrides_hash_key(const char *k, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)overrides_lower(k[i]);
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* overrides_slot - the slot holding key (lower-cased on the fly), or the empty slot where
 * it would go. The table is never full. */
static size_t overrides_slot(const struct overrides *o, const char *k, size_t n)
{
    size_t mask = o->nslot - 1, i = (size_t)overrides_hash_key(k, n) & mask, j;

    for (;; i = (i + 1) & mask) {
        const struct overrides_entry *e;

        if (o->slot[i] == 0)
            return i;
        e = &o->v[o->slot[i] - 1];
        if (e->key_len != n)
            continue;
        for (j = 0; j < n && e->key[j] == overrides_lower(k[j]); j++)
            continue;
        if (j == n)
            return i;
    }
}

/* overrides_grow - double the slots and place every entry again. */
static void overrides_grow(struct overrides *o)
{
    size_t i;

    free(o->slot);
    o->nslot = o->nslot == 0 ? OVERRIDES_MIN_SLOTS : o->nslot * 2;
    o->slot = xcalloc(o->nslot, sizeof(*o->slot));
    for (i = 0; i < o->n; i++)
        o->slot[overrides_slot(o, o->v[i].key, o->v[i].key_len)] = (uint32_t)(i + 1);
}

struct overrides *overrides_new(void)
{
    return xcalloc(1, sizeof(struct overrides));
}

int overrides_add(struct overrides *o, const char *key, size_t key_len,
                  const struct overrides_settings *s, int line, struct pd_err *err)
{
    char k[OVERRIDES_KEY_MAX + 1], q[OVERRIDES_QUOTE];
    struct overrides_entry *e;
    size_t klen, i;
    bool mailbox;
    int rc;

    if ((rc = overrides_key(key, key_len, k, sizeof(k), &klen, &mailbox, err)) < 0 ||
        (rc = overrides_check(s, err)) < 0) {
        err->line = line;
        return rc;
    }
    if (s->has == 0)
        return pd_err_set(err, OVERRIDES_ERR_VALUE, line, "no settings");
    if (!overrides_in_range(s))
        return pd_err_set(err, OVERRIDES_ERR_VALUE, line, "value out of range");
    if (o->n >= OVERRIDES_ENTRIES_MAX)
        return pd_err_set(err, OVERRIDES_ERR_SPACE, line, "more than %d entries",
                              OVERRIDES_ENTRIES_MAX);
    if ((o->n + 1) * 2 > o->nslot)
        overrides_grow(o);
    i = overrides_slot(o, k, klen);
    if (o->slot[i] != 0)
        return pd_err_set(err, OVERRIDES_ERR_DUPLICATE, line,
                              "duplicate entry for %s (first at line %d)",
                              overrides_quote(q, k, klen), o->v[o->slot[i] - 1].line);
    if (o->n == o->cap) {
        o->cap = o->cap == 0 ? 16 : o->cap * 2;
        o->v = xrealloc(o->v, o->cap * sizeof(*o->v));
    }
    e = &o->v[o->n];
    e->key = xstrndup(k, klen);
    e->key_len = klen;
    e->is_mailbox = mailbox;
    e->line = line;
    e->s = *s;
    o->slot[i] = (uint32_t)++o->n;
    return 0;
}

const struct overrides_entry *overrides_find(const struct overrides *o, const char *key,
                                             size_t key_len)
{
    size_t i;

    if (o == NULL || o->nslot == 0 || key_len == 0 || key_len > OVERRIDES_KEY_MAX)
        return NULL;
    i = overrides_slot(o, key, key_len);
    return o->slot[i] != 0 ? &o->v[o->slot[i] - 1] : NULL;
}

size_t overrides_count(const struct overrides *o)
{
    return o != NULL ? o->n : 0;
}

const struct overrides_entry *overrides_at(const struct overrides *o, size_t i)
{
    return o != NULL && i < o->n ? &o->v[i] : NULL;
}

struct overrides *overrides_free(struct overrides *o)
{
    size_t i;

    if (o == NULL)
        return NULL;
    for (i = 0; i < o->n; i++)
        free((char *)(uintptr_t)o->v[i].key);
    free(o->v);
    free(o->slot);
    free(o);
    return NULL;
}

/* ---- the file ---------------------------------------------------------------------- */

/* overrides_flush - the pending entry: its key, then its settings. */
static int overrides_flush(struct overrides_reader *r, struct pd_err *err)
{
    struct overrides_settings s;
    char q[OVERRIDES_QUOTE];
    size_t k = 0;
    int line = r->line, rc;

    if (line == 0)
        return 0;
    r->line = 0;
    while (k < r->len && !overrides_is_blank(r->buf[k]))
        k++;
    if (k == r->len)
        return pd_err_set(err, OVERRIDES_ERR_VALUE, line, "no settings for \"%s\"",
                              overrides_quote(q, r->buf, k));
    if ((rc = overrides_parse_settings(r->buf + k, r->len - k, &s, err)) < 0) {
        err->line = line;
        return rc;
    }
    return overrides_add(r->o, r->buf, k, &s, line, err);
}

/* overrides_append - text of a line to the pending entry, after one space. */
static int overrides_append(struct overrides_reader *r, const char *s, size_t n, struct pd_err *err)
{
    size_t sep = r->len > 0;

    if (r->len + sep + n > OVERRIDES_LINE_MAX)
        return pd_err_set(err, OVERRIDES_ERR_SYNTAX, r->line, "entry longer than %d bytes",
                              OVERRIDES_LINE_MAX);
    if (sep)
        r->buf[r->len++] = ' ';
    memcpy(r->buf + r->len, s, n);
    r->len += n;
    r->buf[r->len] = '\0';
    return 0;
}

/* overrides_feed_line - one physical line, without its newline. */
static int overrides_feed_line(struct overrides_reader *r, const char *l, size_t n, int line,
                               struct pd_err *err)
{
    const char *s = l, *end = l + n;
    int rc;

    if (memchr(l, '\0', n) != NULL)
        return pd_err_set(err, OVERRIDES_ERR_SYNTAX, line, "NUL byte in line");
    while (s < end && overrides_is_blank(*s))
        s++;
    while (end > s && overrides_is_blank(end[-1]))
        end--;
    if (s == end || *s == '#')
        return 0;
    if (s != l) {
        if (r->line == 0)
            return pd_err_set(err, OVERRIDES_ERR_SYNTAX, line,
                                  "line starts with white space but continues no entry");
        return overrides_append(r, s, (size_t)(end - s), err);
    }
    if ((rc = overrides_flush(r, err)) < 0)
        return rc;
    r->line = line;
    r->len = 0;
    return overrides_append(r, s, (size_t)(end - s), err);
}

int overrides_parse(const char *text, size_t len, struct overrides **out, struct pd_err *err)
{
    struct overrides_reader *r = xmalloc(sizeof(*r));
    size_t pos = 0;
    int line = 0, rc = 0;

    err->msg[0] = '\0';
    err->line = 0;
    r->o = overrides_new();
    r->line = 0;
    r->len = 0;
    while (rc == 0 && pos < len) {
        const char *l = text + pos, *nl = memchr(l, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - l) : len - pos;

        pos += n + (nl != NULL);
        if (line == INT32_MAX - 1)
            rc = pd_err_set(err, OVERRIDES_ERR_SPACE, line, "too many lines");
        else
            rc = overrides_feed_line(r, l, n, ++line, err);
    }
    if (rc == 0)
        rc = overrides_flush(r, err);
    *out = rc == 0 ? r->o : overrides_free(r->o);
    free(r);
    return rc;
}

const char *overrides_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case OVERRIDES_ERR_SYNTAX:
        return "syntax error";
    case OVERRIDES_ERR_KEY:
        return "bad key";
    case OVERRIDES_ERR_VALUE:
        return "bad setting";
    case OVERRIDES_ERR_DUPLICATE:
        return "duplicate";
    case OVERRIDES_ERR_SPACE:
        return "too large";
    default:
        return "unknown overrides error";
    }
}
