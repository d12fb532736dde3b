/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      config - table-driven policyd.conf
 * SYNOPSIS
 *      #include "policyd/config.h"
 *
 *      void cfg_defaults(struct pd_config *cfg)
 *      int cfg_parse_buf(struct pd_config *cfg, const char *buf, size_t len,
 *                        struct pd_err *err)
 *      int cfg_set(struct pd_config *cfg, const char *name, const char *value,
 *                  struct pd_err *err)
 *      int cfg_check(const struct pd_config *cfg, struct pd_err *err)
 *      int cfg_load(struct pd_config **out, const char *path, struct pd_err *err)
 *      int cfg_load_overrides(struct pd_config **out, const char *path,
 *                             const char *const *overrides, size_t n, struct pd_err *err)
 *      void cfg_print(const struct pd_config *cfg, FILE *out, bool non_default_only)
 *      struct pd_config *cfg_ref(struct pd_config *cfg)
 *      struct pd_config *cfg_unref(struct pd_config *cfg)
 *      void cfg_free_fields(struct pd_config *cfg)
 *      int cfg_parse_duration(const char *s, int64_t *ms)
 *      bool cfg_is_known_key(const char *name)
 *      const char *cfg_strerror(int err)
 * DESCRIPTION
 *      One static table, cfg_table[], lists every parameter: name, type, default (as
 *      text), bounds, offset in struct pd_config, flags. It drives the defaults, the
 *      parser, the bounds checks and cfg_print(). The rule thresholds are generated from
 *      RULES_PARAMS in ratelimit/rules_params.h, one integer "rule_<field>" per row.
 *
 *      Syntax is that of Postfix main.cf: "name = value"; blank lines and lines whose
 *      first non-blank character is '#' are ignored; a line that starts with white space
 *      continues the previous value (joined with one space). A '#' anywhere else is part
 *      of the value. A parameter given twice keeps the last value, as in Postfix.
 *
 *      cfg_defaults() initialises a struct (old contents are overwritten, not freed) with
 *      refs = 1. cfg_parse_buf() and cfg_set() apply settings on top of it; they are pure
 *      (no I/O, no logging) and on error leave only valid, owned values behind, so the
 *      struct is freed as usual. cfg_load() alone reads files: the configuration (at most
 *      CFG_FILE_MAX bytes), then the secret files named by redis_password_file and
 *      recipient_hash_key_file (no group or other permissions; one trailing newline is
 *      stripped). Secrets are not parameters: never parsed from the file, never printed,
 *      wiped before they are freed.
 *
 *      Strings belong to the struct: cfg_free_fields() frees them; cfg_unref() frees a
 *      heap struct from cfg_load() when its last reference goes (the count is not atomic:
 *      one thread owns it). A loaded config is never modified: a reload builds a new one
 *      and the owner swaps the pointer.
 *
 *      This file is longer than the ~800 lines of the style guide: the table, its eight
 *      value types and their syntax checks are one unit, and struct cfg_entry must stay
 *      private to it. The file I/O at the end (cfg_load*, secrets) could move out.
 * DIAGNOSTICS
 *      0 or a negative CFG_ERR_* code; struct pd_err gets a one-line message and the line
 *      (0 when no line applies). Messages name the parameter and quote the value with
 *      control characters replaced by '?' and clipped. A table default that does not
 *      parse is a broken invariant: abort().
 * SEE ALSO
 *      postconf(5), postconf(1) -n, policyd.conf, ratelimit/rules_params.h
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ldap/ldapesc.h"
#include "policyd/config.h"
#include "policyd/partnermap.h"
#include "policyd/util.h"

#define CFG_FILE_MAX (1024 * 1024) /* bytes in policyd.conf */
#define CFG_SECRET_MAX 4096        /* bytes in a secret file */
#define CFG_VALUE_MAX 4096         /* bytes in one value, continuation lines included */
#define CFG_LIST_MAX 64            /* elements in one list */
#define CFG_TEXT_MAX 450           /* reply texts: an SMTP reply line is at most 512 */
#define CFG_PATH_MAX 4095          /* a file name */
#define CFG_UNIX_PATH_MAX 107      /* sizeof(sun_path) minus the NUL */
#define CFG_USER_MAX 32            /* a user or group name */
#define CFG_QUOTE_MAX 60           /* value bytes echoed in an error message */
#define CFG_WHY_MAX 160            /* the reason part of an error message */

#define MS_PER_S 1000LL
#define MS_PER_DAY (86400LL * MS_PER_S)

enum cfg_type {
    CFG_STRING,   /* char *, min..max = length, optional syntax check */
    CFG_BOOL,     /* bool: yes/no/true/false/1/0 */
    CFG_INT,      /* long long in min..max */
    CFG_DURATION, /* int64_t ms in min..max ms */
    CFG_LIST,     /* struct cfg_list, at most max elements, each passes the check */
    CFG_MODE,     /* unsigned, octal digits, at most max */
    CFG_ENUM,     /* char *, one of words[] */
    CFG_ACTION,   /* char *, a Postfix access(5) action, min..max = length */
};

#define CFG_F_RULE 0x1 /* default is the number idef, from RULES_PARAMS */

struct cfg_entry {
    const char *name;
    enum cfg_type type;
    const char *def; /* default as text; NULL with CFG_F_RULE */
    long long min, max;
    size_t off; /* offsetof(struct pd_config, field) */
    unsigned flags;
    /* syntax of a string or of each list element: NULL when fine, else why not */
    const char *(*check)(const char *value);
    const char *const *words; /* CFG_ENUM */
    long long idef;           /* CFG_F_RULE */
};

union cfg_value {
    char *s;
    bool b;
    long long i;
    int64_t ms;
    unsigned mode;
    struct cfg_list list;
};

static const char *cfg_chk_listen(const char *v);
static const char *cfg_chk_status_listen(const char *v);
static const char *cfg_chk_metrics_listen(const char *v);
static const char *cfg_chk_redis(const char *v);
static const char *cfg_chk_prefix(const char *v);
static const char *cfg_chk_abspath(const char *v);
static const char *cfg_chk_hhmm(const char *v);
static const char *cfg_chk_user(const char *v);
static const char *cfg_chk_domain(const char *v);
static const char *cfg_chk_ident(const char *v);
static const char *cfg_chk_reftext(const char *v);
static const char *cfg_chk_ldap_uri(const char *v);
static const char *cfg_chk_ldap_filter(const char *v);

static const char *const cfg_facilities[] = {"mail",   "daemon", "user",   "local0", "local1",
                                             "local2", "local3", "local4", "local5", "local6",
                                             "local7", NULL};
static const char *const cfg_login_match[] = {"none", "address", "domain", "map", NULL};
static const char *const cfg_modes[] = {"enforce", "observe", NULL};
static const char *const cfg_ldap_time_attrs[] = {"auto", "pwdLastSet", "pwdChangedTime",
                                                  "shadowLastChange", NULL};

/* Table rows by type; F is the field, for most keys the parameter's own name. */
#define OFF(f) offsetof(struct pd_config, f)
#define STR(n, def, lo, hi, chk) {#n, CFG_STRING, def, lo, hi, OFF(n), 0, chk, NULL, 0}
#define PATH(n) {#n, CFG_STRING, "", 0, CFG_PATH_MAX, OFF(n), 0, cfg_chk_abspath, NULL, 0}
#define INT(n, def, lo, hi) {#n, CFG_INT, def, lo, hi, OFF(n), 0, NULL, NULL, 0}
#define DUR(n, def, lo, hi, f) {#n, CFG_DURATION, def, lo, hi, OFF(f), 0, NULL, NULL, 0}
#define BOOL(n, def) {#n, CFG_BOOL, def, 0, 1, OFF(n), 0, NULL, NULL, 0}
#define ENUM(n, def, w) {#n, CFG_ENUM, def, 0, 0, OFF(n), 0, NULL, w, 0}
#define ACTION(n, def) {#n, CFG_ACTION, def, 1, CFG_TEXT_MAX, OFF(n), 0, NULL, NULL, 0}
#define RULE(f, def, lo, hi)                                                               \
    {"rule_" #f, CFG_INT, NULL, lo, hi, OFF(rules.f), CFG_F_RULE, NULL, NULL, def},

/* The parameters, in the order cfg_print() shows them. */
static const struct cfg_entry cfg_table[] = {
    /* server */
    {"listen", CFG_LIST, "inet:127.0.0.1:10040", 0, CFG_LIST_MAX, OFF(listen), 0, cfg_chk_listen,
     NULL, 0},
    {"unix_socket_mode", CFG_MODE, "0660", 0, 0777, OFF(unix_socket_mode), 0, NULL, NULL, 0},
    STR(unix_socket_group, "", 0, CFG_USER_MAX, cfg_chk_user),
    STR(run_user, "nobody", 0, CFG_USER_MAX, cfg_chk_user),
    INT(max_connections, "4096", 1, 1000000),
    DUR(idle_timeout, "900s", MS_PER_S, MS_PER_DAY, idle_timeout_ms),
    ENUM(syslog_facility, "mail", cfg_facilities),
    STR(syslog_name, "policyd", 1, 64, cfg_chk_ident),
    /* redis and tracking */
    STR(redis_server, "127.0.0.1:6379", 1, CFG_PATH_MAX, cfg_chk_redis),
    PATH(redis_password_file),
    DUR(redis_timeout, "200ms", 10, 60 * MS_PER_S, redis_timeout_ms),
    ACTION(redis_fail_action, "DUNNO"),
    STR(redis_key_prefix, "pd:", 1, 32, cfg_chk_prefix),
    BOOL(redis_use_module, "yes"),
    PATH(recipient_hash_key_file),
    STR(mailbox_default_domain, "", 0, 253, cfg_chk_domain),
    INT(network_prefix_v4, "24", 8, 32),
    INT(network_prefix_v6, "48", 16, 128),
    ENUM(sender_login_match, "domain", cfg_login_match),
    PATH(sender_login_maps),
    BOOL(trust_request_time, "no"),
    INT(limit_recipients_per_hour, "500", 0, 10000000),
    INT(limit_recipients_per_day, "2000", 0, 10000000),
    INT(limit_messages_per_hour, "200", 0, 10000000),
    INT(limit_messages_per_day, "1000", 0, 10000000),
    ACTION(rate_limit_action,
           "DEFER_IF_PERMIT 4.7.1 Sending rate limit reached, please try again later"),
    PATH(overrides_file),
    /* detection and blocking */
    ENUM(mode, "enforce", cfg_modes),
    BOOL(observe_prepend, "no"),
    STR(block_reject_text,
        "5.7.1 Sending from this mailbox is suspended because it appears to be used by someone "
        "else; change your password to restore it (ref %r)",
        0, CFG_TEXT_MAX, cfg_chk_reftext),
    BOOL(hold_enabled, "yes"),
    STR(hold_text, "message held for review", 0, CFG_TEXT_MAX, NULL),
    DUR(learning_period, "28d", 0, 365 * MS_PER_DAY, learning_period_ms),
    INT(learning_min_messages, "50", 0, 1000000),
    DUR(probation_period, "7d", 0, 365 * MS_PER_DAY, probation_period_ms),
    /* rule thresholds: one integer per row of RULES_PARAMS */
    RULES_PARAMS(RULE)
    /* status socket */
    {"status_listen", CFG_LIST, "unix:/run/policyd/status.sock", 0, CFG_LIST_MAX,
     OFF(status_listen), 0, cfg_chk_status_listen, NULL, 0},
    {"status_socket_mode", CFG_MODE, "0660", 0, 0777, OFF(status_socket_mode), 0, NULL, NULL, 0},
    STR(status_socket_group, "", 0, CFG_USER_MAX, cfg_chk_user),
    STR(status_admin_group, "", 0, CFG_USER_MAX, cfg_chk_user),
    PATH(status_token_file),
    PATH(status_read_token_file),
    INT(status_audit_max, "10000", 10, 1000000),
    STR(metrics_listen, "", 0, 64, cfg_chk_metrics_listen),
    /* partner alerts */
    BOOL(alert_enabled, "no"),
    PATH(alert_partner_map),
    {"alert_abuse_desk", CFG_LIST, "", 0, PARTNERMAP_RCPT_MAX, OFF(alert_abuse_desk), 0,
     partnermap_check_address, NULL, 0},
    STR(alert_from, "policyd@localhost", 1, PARTNERMAP_ADDR_MAX, partnermap_check_address),
    STR(alert_helpdesk, "", 0, 200, NULL),
    STR(alert_sendmail_path, "/usr/sbin/sendmail", 1, CFG_PATH_MAX, cfg_chk_abspath),
    DUR(alert_sendmail_timeout, "60s", MS_PER_S, 3600 * MS_PER_S, alert_sendmail_timeout_ms),
    BOOL(alert_on_block, "yes"),
    BOOL(alert_on_unblock, "yes"),
    INT(alert_partner_hourly_cap, "10", 0, 1000000),
    DUR(alert_digest_window, "15m", MS_PER_S, MS_PER_DAY, alert_digest_window_ms),
    INT(alert_wave_threshold, "100", 0, 1000000),
    DUR(alert_wave_window, "10m", MS_PER_S, MS_PER_DAY, alert_wave_window_ms),
    INT(alert_retry_max, "8", 1, 100),
    DUR(alert_retry_delay, "1m", 100, 3600 * MS_PER_S, alert_retry_delay_ms),
    BOOL(alert_on_hold, "no"),
    BOOL(alert_on_digest, "yes"),
    STR(alert_digest_time, "", 0, 5, cfg_chk_hhmm),
    PATH(alert_template_dir),
    /* LDAP / Active Directory poller */
    {"ldap_uri", CFG_LIST, "", 0, 16, OFF(ldap_uri), 0, cfg_chk_ldap_uri, NULL, 0},
    BOOL(ldap_start_tls, "no"),
    PATH(ldap_ca_file),
    STR(ldap_bind_dn, "", 0, 1024, NULL),
    PATH(ldap_bind_password_file),
    STR(ldap_search_base, "", 0, 1024, NULL),
    STR(ldap_query_filter, "(mail=%s)", 1, LDAPESC_TEMPLATE_MAX, cfg_chk_ldap_filter),
    ENUM(ldap_password_time_attribute, "auto", cfg_ldap_time_attrs),
    DUR(ldap_poll_interval, "60s", MS_PER_S, MS_PER_DAY, ldap_poll_interval_ms),
    INT(ldap_batch_size, "500", 1, 1000),
    DUR(ldap_timeout, "10s", 100, 300 * MS_PER_S, ldap_timeout_ms),
    DUR(ldap_clock_skew, "10s", 0, 3600 * MS_PER_S, ldap_clock_skew_ms),
    BOOL(ldap_trust_admin_reset, "no"),
};

#undef OFF
#undef STR
#undef PATH
#undef INT
#undef DUR
#undef BOOL
#undef ENUM
#undef ACTION
#undef RULE

#define CFG_NKEYS (sizeof(cfg_table) / sizeof(cfg_table[0]))

/* Postfix access(5) actions that may start a configured action text. */
static const char *const cfg_actions[] = {
    "DUNNO", "OK", "REJECT", "DEFER", "DEFER_IF_PERMIT", "DEFER_IF_REJECT", "HOLD", "DISCARD",
    "WARN",  "INFO", "PREPEND", NULL};

/* Time units of a duration, as in Postfix; ms first so "5m" and "5ms" differ. */
static const struct {
    const char *unit;
    int64_t ms;
} cfg_units[] = {{"ms", 1},
                 {"s", MS_PER_S},
                 {"m", 60 * MS_PER_S},
                 {"h", 3600 * MS_PER_S},
                 {"d", MS_PER_DAY},
                 {"w", 7 * MS_PER_DAY}};

#define CFG_NUNITS (sizeof(cfg_units) / sizeof(cfg_units[0]))

/* ---- small helpers ------------------------------------------------------------------ */

static bool cfg_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool cfg_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool cfg_is_alnum(char c)
{
    return cfg_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void *cfg_field(struct pd_config *cfg, const struct cfg_entry *e)
{
    return (char *)cfg + e->off;
}

static const void *cfg_cfield(const struct pd_config *cfg, const struct cfg_entry *e)
{
    return (const char *)cfg + e->off;
}

/* cfg_is_text - the row's field is a char * the config owns. */
static bool cfg_is_text(const struct cfg_entry *e)
{
    return e->type == CFG_STRING || e->type == CFG_ENUM || e->type == CFG_ACTION;
}

/* cfg_by_name - qsort order of the table's rows: by name. */
static int cfg_by_name(const void *a, const void *b)
{
    return strcmp((*(const struct cfg_entry *const *)a)->name,
                  (*(const struct cfg_entry *const *)b)->name);
}

/* cfg_lookup - the row named by name[0..len) (not NUL-terminated), or NULL: a binary
 * search in an index of the rows sorted by name, built at the first call (config is
 * only ever parsed on the loop thread). */
static const struct cfg_entry *cfg_lookup(const char *name, size_t len)
{
    static const struct cfg_entry *idx[CFG_NKEYS];
    static bool built;
    size_t lo = 0, hi = CFG_NKEYS, i;
    int c;

    if (!built) {
        for (i = 0; i < CFG_NKEYS; i++)
            idx[i] = &cfg_table[i];
        qsort(idx, CFG_NKEYS, sizeof(idx[0]), cfg_by_name);
        built = true;
    }
    if (memchr(name, '\0', len) != NULL)
        return NULL; /* no name has a NUL; without one, strncmp below sees all of name */
    while (lo < hi) {
        i = lo + (hi - lo) / 2;
        c = strncmp(idx[i]->name, name, len);
        if (c == 0 && idx[i]->name[len] != '\0')
            c = 1; /* name is a prefix of the row's name: the row sorts after it */
        if (c == 0)
            return idx[i];
        if (c < 0)
            lo = i + 1;
        else
            hi = i;
    }
    return NULL;
}

/* cfg_quote - copy at most CFG_QUOTE_MAX bytes of s for a message: '?' for anything
 * outside printable ASCII, "..." when clipped. */
static char *cfg_quote(char *dst, size_t dstlen, const char *s, size_t len)
{
    size_t i, o = 0, room = dstlen - 4;

    if (room > CFG_QUOTE_MAX)
        room = CFG_QUOTE_MAX;
    for (i = 0; i < len && o < room; i++)
        dst[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (i < len) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
    return dst;
}

/* pd_err_set - fill err and return code (declared in config.h, shared by the parsers). */
int pd_err_set(struct pd_err *err, int code, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->line = line;
    return code;
}

static void cfg_list_free(struct cfg_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* ---- value syntax checks ---------------------------------------------------------- */

/* cfg_port_ok - a decimal port 1..65535, nothing else. */
static bool cfg_port_ok(const char *s)
{
    long port = 0;

    if (*s == '\0' || strlen(s) > 5)
        return false;
    for (; *s; s++) {
        if (!cfg_is_digit(*s))
            return false;
        port = port * 10 + (*s - '0');
    }
    return port >= 1 && port <= 65535;
}

/* cfg_hostport - "IPv4:PORT", "[IPv6]:PORT" or, with names_ok, "hostname:PORT". */
static const char *cfg_hostport(const char *s, bool names_ok)
{
    char host[256];
    const char *colon, *h = s;
    size_t hlen;
    unsigned char addr[16];

    if (*s == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return "expected [IPv6]:PORT";
        h = s + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return "expected HOST:PORT";
        hlen = (size_t)(colon - s);
    }
    if (!cfg_port_ok(colon + 1))
        return "port must be a number 1..65535";
    if (hlen == 0 || hlen >= sizeof(host))
        return "bad host";
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (h != s)
        return inet_pton(AF_INET6, host, addr) == 1 ? NULL : "bad IPv6 address";
    if (inet_pton(AF_INET, host, addr) == 1)
        return NULL;
    if (!names_ok)
        return "host must be an IPv4 address or [IPv6] address";
    return cfg_chk_domain(host) == NULL ? NULL : "bad host name";
}

static const char *cfg_unix_path(const char *path)
{
    if (path[0] != '/')
        return "unix socket path must be absolute";
    if (strlen(path) > CFG_UNIX_PATH_MAX)
        return "unix socket path too long (max 107 bytes)";
    if (strpbrk(path, " \t,") != NULL)
        return "unix socket path must not contain white space or commas";
    return NULL;
}

/* cfg_chk_listen - one listener: inet:HOST:PORT with a numeric host, or unix:/PATH. */
static const char *cfg_chk_listen(const char *v)
{
    if (strncmp(v, "inet:", 5) == 0)
        return cfg_hostport(v + 5, false);
    if (strncmp(v, "unix:", 5) == 0)
        return cfg_unix_path(v + 5);
    return "expected inet:HOST:PORT or unix:/PATH";
}

/* cfg_chk_status_listen - as listen, but TCP only on a loopback address: the status
 * socket speaks plain text and its tokens must not cross a network. */
static const char *cfg_chk_status_listen(const char *v)
{
    const char *bad = cfg_chk_listen(v);

    if (bad != NULL || strncmp(v, "inet:", 5) != 0)
        return bad;
    if (strncmp(v + 5, "127.", 4) != 0 && strncmp(v + 5, "[::1]:", 6) != 0)
        return "the status socket listens on loopback only (127.0.0.0/8 or [::1])";
    return NULL;
}

/* cfg_chk_metrics_listen - the Prometheus endpoint: inet:HOST:PORT on loopback only
 * (the scrape carries no authentication), as status_listen's TCP entries. */
static const char *cfg_chk_metrics_listen(const char *v)
{
    if (v[0] == '\0')
        return NULL;
    if (strncmp(v, "inet:", 5) != 0)
        return "expected inet:127.0.0.1:PORT or inet:[::1]:PORT";
    return cfg_chk_status_listen(v);
}

/* cfg_chk_redis - HOST:PORT (a host name is allowed) or unix:/PATH. */
static const char *cfg_chk_redis(const char *v)
{
    if (strncmp(v, "unix:", 5) == 0)
        return cfg_unix_path(v + 5);
    return cfg_hostport(v, true);
}

static const char *cfg_chk_prefix(const char *v)
{
    for (; *v; v++)
        if (!cfg_is_alnum(*v) && strchr(":_.-", *v) == NULL)
            return "only letters, digits and : _ . - are allowed";
    return NULL;
}

static const char *cfg_chk_abspath(const char *v)
{
    return v[0] == '/' ? NULL : "must be an absolute path";
}

/* cfg_chk_hhmm - "" or a local time of day "HH:MM" (00:00 to 23:59). */
static const char *cfg_chk_hhmm(const char *v)
{
    if (v[0] == '\0')
        return NULL;
    if (strlen(v) != 5 || v[2] != ':' || !cfg_is_digit(v[0]) || !cfg_is_digit(v[1]) ||
        !cfg_is_digit(v[3]) || !cfg_is_digit(v[4]) || (v[0] - '0') * 10 + (v[1] - '0') > 23 ||
        v[3] > '5')
        return "must be empty or a time of day HH:MM (00:00 to 23:59)";
    return NULL;
}

static const char *cfg_chk_user(const char *v)
{
    if (v[0] == '-')
        return "must not start with '-'";
    for (; *v; v++)
        if (!cfg_is_alnum(*v) && strchr("_.-", *v) == NULL)
            return "only letters, digits and _ . - are allowed";
    return NULL;
}

/* cfg_chk_domain - dot-separated labels of letters, digits and '-', 1..63 bytes each. */
static const char *cfg_chk_domain(const char *v)
{
    size_t label = 0;

    for (; *v; v++) {
        if (*v == '.') {
            if (label == 0)
                return "empty label in domain name";
            label = 0;
        } else if (cfg_is_alnum(*v) || *v == '-') {
            if (++label > 63)
                return "domain label longer than 63 bytes";
        } else {
            return "only letters, digits, '-' and '.' are allowed in a domain name";
        }
    }
    return label == 0 ? "domain name must not end with '.'" : NULL;
}

static const char *cfg_chk_ident(const char *v)
{
    for (; *v; v++)
        if (!cfg_is_alnum(*v) && strchr("_.-/", *v) == NULL)
            return "only letters, digits and _ . - / are allowed";
    return NULL;
}

/* cfg_chk_reftext - a reply text where '%' only appears as "%r" (reference) or "%%". */
static const char *cfg_chk_reftext(const char *v)
{
    for (; *v; v++) {
        if (*v != '%')
            continue;
        if (v[1] != 'r' && v[1] != '%')
            return "'%' must be followed by 'r' (reference id) or '%'";
        v++;
    }
    return NULL;
}

/* cfg_chk_ldap_uri - one LDAP URI; libldap parses the rest when it connects. */
static const char *cfg_chk_ldap_uri(const char *v)
{
    if (strncasecmp(v, "ldap://", 7) != 0 && strncasecmp(v, "ldaps://", 8) != 0 &&
        strncasecmp(v, "ldapi://", 8) != 0)
        return "expected ldap://HOST[:PORT], ldaps://HOST[:PORT] or ldapi://PATH";
    return NULL;
}

/* cfg_chk_ldap_filter - a filter template with %s, %u, %d (see ldap/ldapesc.c). */
static const char *cfg_chk_ldap_filter(const char *v)
{
    return ldapesc_template_check(v);
}

/* cfg_chk_action - a Postfix access(5) action: a known first word or a 4xx/5xx code. */
static const char *cfg_chk_action(const char *v)
{
    size_t n = strcspn(v, " \t"), i;

    if (n == 3 && (v[0] == '4' || v[0] == '5') && cfg_is_digit(v[1]) && cfg_is_digit(v[2]))
        return NULL;
    for (i = 0; cfg_actions[i] != NULL; i++)
        if (strlen(cfg_actions[i]) == n && strncasecmp(v, cfg_actions[i], n) == 0)
            return NULL;
    return "expected an access(5) action: DUNNO, OK, REJECT, DEFER, DEFER_IF_PERMIT, "
           "DEFER_IF_REJECT, HOLD, DISCARD, WARN, INFO, PREPEND or a 4xx/5xx code";
}

/* ---- value parsers ------------------------------------------------------------------ */

/* cfg_parse_ll - an optionally negative decimal integer, the whole string, no overflow. */
static int cfg_parse_ll(const char *s, long long *out)
{
    bool neg = (*s == '-');
    unsigned long long v = 0, lim = neg ? (unsigned long long)INT64_MAX + 1 : INT64_MAX;

    if (neg)
        s++;
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (!cfg_is_digit(*s))
            return -1;
        if (v > (lim - (unsigned)(*s - '0')) / 10)
            return -2;
        v = v * 10 + (unsigned)(*s - '0');
    }
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 0;
}

/* cfg_parse_duration - "<digits>[unit]", unit one of ms s m h d w; bare digits are
 * seconds. Returns 0, -1 on bad syntax, -2 when the result overflows int64 ms. */
int cfg_parse_duration(const char *s, int64_t *ms)
{
    const char *unit = s;
    int64_t mult = MS_PER_S, v = 0;
    size_t i;

    while (cfg_is_digit(*unit))
        unit++;
    if (unit == s)
        return -1;
    if (*unit != '\0') {
        for (i = 0; i < CFG_NUNITS && strcmp(unit, cfg_units[i].unit) != 0; i++)
            continue;
        if (i == CFG_NUNITS)
            return -1;
        mult = cfg_units[i].ms;
    }
    for (; s < unit; s++) {
        if (v > (INT64_MAX - (*s - '0')) / 10)
            return -2;
        v = v * 10 + (*s - '0');
    }
    if (v > INT64_MAX / mult)
        return -2;
    *ms = v * mult;
    return 0;
}

/* cfg_format_duration - ms in the largest unit that divides it exactly. */
static char *cfg_format_duration(char *buf, size_t len, int64_t ms)
{
    size_t i = CFG_NUNITS - 1;

    while (i > 0 && (ms == 0 ? cfg_units[i].ms != MS_PER_S : ms % cfg_units[i].ms != 0))
        i--;
    snprintf(buf, len, "%lld%s", (long long)(ms / cfg_units[i].ms), cfg_units[i].unit);
    return buf;
}

static int cfg_parse_bool(const char *s, bool *out)
{
    if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = true;
    else if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

static int cfg_parse_mode(const char *s, long long max, unsigned *out)
{
    unsigned v = 0;

    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '7')
            return -1;
        v = v * 8 + (unsigned)(*s - '0');
        if (v > max)
            return -2;
    }
    *out = v;
    return 0;
}

/* cfg_parse_list - split on commas and white space; each element passes e->check. */
static int cfg_parse_list(const struct cfg_entry *e, const char *s, struct cfg_list *out,
                          char *why, size_t wlen)
{
    char q[CFG_QUOTE_MAX + 4];
    const char *bad, *all = s;

    out->v = NULL;
    out->n = 0;
    for (;;) {
        size_t n;
        char *item;

        s += strspn(s, ", \t");
        if (*s == '\0')
            return 0;
        n = strcspn(s, ", \t");
        if (out->n >= (size_t)e->max) {
            snprintf(why, wlen, "more than %lld elements", e->max);
            return -1;
        }
        item = xstrndup(s, n);
        out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
        out->v[out->n++] = item;
        if (e->check != NULL && (bad = e->check(item)) != NULL) {
            if (strcmp(item, all) == 0) /* the value already names it */
                snprintf(why, wlen, "%s", bad);
            else
                snprintf(why, wlen, "%s: %s", cfg_quote(q, sizeof(q), item, n), bad);
            return -1;
        }
        s += n;
    }
}

/* cfg_parse_number - CFG_INT, CFG_DURATION and CFG_MODE, with their bounds. */
static int cfg_parse_number(const struct cfg_entry *e, const char *s, union cfg_value *v,
                            char *why, size_t wlen)
{
    char lo[32], hi[32];
    long long n = 0;
    int rc;

    if (e->type == CFG_INT) {
        rc = cfg_parse_ll(s, &v->i);
        n = v->i;
    } else if (e->type == CFG_DURATION) {
        rc = cfg_parse_duration(s, &v->ms);
        n = v->ms;
    } else {
        rc = cfg_parse_mode(s, e->max, &v->mode);
        n = v->mode;
    }
    if (rc == -1) {
        snprintf(why, wlen, "%s",
                 e->type == CFG_INT        ? "expected an integer"
                 : e->type == CFG_DURATION ? "expected a number with an optional unit ms, s, "
                                             "m, h, d or w"
                                           : "expected an octal mode such as 0660");
        return -1;
    }
    if (rc == 0 && n >= e->min && n <= e->max)
        return 0;
    if (e->type == CFG_DURATION)
        snprintf(why, wlen, "out of range (%s..%s)", cfg_format_duration(lo, sizeof(lo), e->min),
                 cfg_format_duration(hi, sizeof(hi), e->max));
    else if (e->type == CFG_MODE)
        snprintf(why, wlen, "out of range (%04llo..%04llo)", e->min, e->max);
    else
        snprintf(why, wlen, "out of range (%lld..%lld)", e->min, e->max);
    return -1;
}

/* cfg_parse_enum - one of e->words, any case; stores the table's spelling. */
static int cfg_parse_enum(const struct cfg_entry *e, const char *s, union cfg_value *v,
                          char *why, size_t wlen)
{
    size_t i, used;

    for (i = 0; e->words[i] != NULL; i++) {
        if (strcasecmp(s, e->words[i]) == 0) {
            v->s = xstrdup(e->words[i]);
            return 0;
        }
    }
    used = (size_t)snprintf(why, wlen, "expected one of");
    for (i = 0; e->words[i] != NULL && used < wlen; i++)
        used += (size_t)snprintf(why + used, wlen - used, "%s%s", i ? ", " : " ", e->words[i]);
    return -1;
}

/* cfg_parse_string - CFG_STRING and CFG_ACTION: length bounds, then the syntax check. */
static int cfg_parse_string(const struct cfg_entry *e, const char *s, union cfg_value *v,
                            char *why, size_t wlen)
{
    size_t len = strlen(s);
    const char *bad = NULL;

    if (len < (size_t)e->min) {
        bad = "must not be empty";
    } else if (len > (size_t)e->max) {
        snprintf(why, wlen, "too long (max %lld characters)", e->max);
        return -1;
    } else if (len > 0 && e->type == CFG_ACTION) {
        bad = cfg_chk_action(s);
    } else if (len > 0 && e->check != NULL) {
        bad = e->check(s);
    }
    if (bad != NULL) {
        snprintf(why, wlen, "%s", bad);
        return -1;
    }
    v->s = xstrdup(s);
    return 0;
}

/* cfg_parse_value - parse s for entry e into v (zeroed first). On error v owns nothing
 * except, for a list, the elements read so far (freed here) and why says what is wrong. */
static int cfg_parse_value(const struct cfg_entry *e, const char *s, union cfg_value *v,
                           char *why, size_t wlen)
{
    const unsigned char *p;
    int rc = -1;

    memset(v, 0, sizeof(*v));
    for (p = (const unsigned char *)s; *p; p++) {
        if ((*p < 0x20 && *p != '\t') || *p >= 0x7f) {
            snprintf(why, wlen, "control or non-ASCII character");
            return -1;
        }
    }
    if (strlen(s) > CFG_VALUE_MAX) {
        snprintf(why, wlen, "too long (max %d bytes)", CFG_VALUE_MAX);
        return -1;
    }
    switch (e->type) {
    case CFG_BOOL:
        rc = cfg_parse_bool(s, &v->b);
        if (rc < 0)
            snprintf(why, wlen, "expected yes or no");
        break;
    case CFG_INT:
    case CFG_DURATION:
    case CFG_MODE:
        rc = cfg_parse_number(e, s, v, why, wlen);
        break;
    case CFG_LIST:
        rc = cfg_parse_list(e, s, &v->list, why, wlen);
        if (rc < 0)
            cfg_list_free(&v->list);
        break;
    case CFG_ENUM:
        rc = cfg_parse_enum(e, s, v, why, wlen);
        break;
    case CFG_STRING:
    case CFG_ACTION:
        rc = cfg_parse_string(e, s, v, why, wlen);
        break;
    }
    return rc;
}

/* cfg_store - move v into the field of e, freeing what was there. */
static void cfg_store(struct pd_config *cfg, const struct cfg_entry *e, union cfg_value *v)
{
    void *f = cfg_field(cfg, e);

    switch (e->type) {
    case CFG_BOOL:
        *(bool *)f = v->b;
        break;
    case CFG_INT:
        *(long long *)f = v->i;
        break;
    case CFG_DURATION:
        *(int64_t *)f = v->ms;
        break;
    case CFG_MODE:
        *(unsigned *)f = v->mode;
        break;
    case CFG_LIST:
        cfg_list_free(f);
        *(struct cfg_list *)f = v->list;
        break;
    case CFG_ENUM:
    case CFG_STRING:
    case CFG_ACTION:
        free(*(char **)f);
        *(char **)f = v->s;
        break;
    }
}

/* cfg_apply - parse and store one value; the message names the key and quotes the value. */
static int cfg_apply(struct pd_config *cfg, const struct cfg_entry *e, const char *value,
                     int line, struct pd_err *err)
{
    char why[CFG_WHY_MAX], q[CFG_QUOTE_MAX + 4];
    union cfg_value v;

    why[0] = '\0';
    if (cfg_parse_value(e, value, &v, why, sizeof(why)) < 0)
        return pd_err_set(err, CFG_ERR_VALUE, line, "bad value for %s: \"%s\": %s", e->name,
                        cfg_quote(q, sizeof(q), value, strlen(value)), why);
    cfg_store(cfg, e, &v);
    return 0;
}

/* ---- defaults, freeing, printing -------------------------------------------------- */

static void cfg_panic(const struct cfg_entry *e, const char *why)
{
    fprintf(stderr, "policyd: panic: config table: default of %s: %s\n", e->name, why);
    abort();
}

/* cfg_default_text - the default as it is written in policyd.conf. */
static const char *cfg_default_text(const struct cfg_entry *e, char *buf, size_t len)
{
    if ((e->flags & CFG_F_RULE) == 0)
        return e->def;
    snprintf(buf, len, "%lld", e->idef);
    return buf;
}

/* cfg_template - the defaults, parsed once (the table is constant); cfg_defaults copies
 * them and cfg_print compares with them. Fields outside the table stay zero. */
static const struct pd_config *cfg_template(void)
{
    static struct pd_config t;
    static bool done;
    char why[CFG_WHY_MAX], num[32];
    union cfg_value v;
    size_t i;

    if (done)
        return &t;
    for (i = 0; i < CFG_NKEYS; i++) {
        const struct cfg_entry *e = &cfg_table[i];

        why[0] = '\0';
        if (cfg_parse_value(e, cfg_default_text(e, num, sizeof(num)), &v, why, sizeof(why)) < 0)
            cfg_panic(e, why);
        cfg_store(&t, e, &v);
    }
    done = true;
    return &t;
}

void cfg_defaults(struct pd_config *cfg)
{
    const struct pd_config *t = cfg_template();
    size_t i, j;

    memcpy(cfg, t, sizeof(*cfg));
    cfg->refs = 1;
    cfg->path = xstrdup("");
    for (i = 0; i < CFG_NKEYS; i++) {
        const struct cfg_entry *e = &cfg_table[i];
        void *f = cfg_field(cfg, e);
        struct cfg_list *l = f;

        if (e->type == CFG_LIST) {
            const struct cfg_list *tl = cfg_cfield(t, e);

            l->v = tl->n > 0 ? xcalloc(tl->n, sizeof(*l->v)) : NULL;
            for (j = 0; j < tl->n; j++)
                l->v[j] = xstrdup(tl->v[j]);
        } else if (cfg_is_text(e) && *(char **)f != NULL) {
            *(char **)f = xstrdup(*(char **)f);
        }
    }
}

static void cfg_wipe(char **secret)
{
    if (*secret != NULL)
        explicit_bzero(*secret, strlen(*secret));
    free(*secret);
    *secret = NULL;
}

void cfg_free_fields(struct pd_config *cfg)
{
    size_t i;

    for (i = 0; i < CFG_NKEYS; i++) {
        const struct cfg_entry *e = &cfg_table[i];
        void *f = cfg_field(cfg, e);

        if (e->type == CFG_LIST) {
            cfg_list_free(f);
        } else if (cfg_is_text(e)) {
            free(*(char **)f);
            *(char **)f = NULL;
        }
    }
    free(cfg->path);
    cfg->path = NULL;
    cfg_wipe(&cfg->redis_password);
    cfg_wipe(&cfg->recipient_hash_key);
    cfg_wipe(&cfg->status_token);
    cfg_wipe(&cfg->status_read_token);
    cfg_wipe(&cfg->ldap_bind_password);
}

struct pd_config *cfg_ref(struct pd_config *cfg)
{
    cfg->refs++;
    return cfg;
}

/* cfg_unref - drop one reference; the last one frees the struct. Always returns NULL. */
struct pd_config *cfg_unref(struct pd_config *cfg)
{
    if (cfg == NULL)
        return NULL;
    if (cfg->refs == 0) {
        fprintf(stderr, "policyd: panic: cfg_unref: reference count is already 0\n");
        abort();
    }
    if (--cfg->refs == 0) {
        cfg_free_fields(cfg);
        free(cfg);
    }
    return NULL;
}

static bool cfg_str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* cfg_equal - whether a and b hold the same value for e. */
static bool cfg_equal(const struct pd_config *a, const struct pd_config *b,
                      const struct cfg_entry *e)
{
    const void *fa = cfg_cfield(a, e), *fb = cfg_cfield(b, e);
    const struct cfg_list *la = fa, *lb = fb;
    size_t i;

    switch (e->type) {
    case CFG_BOOL:
        return *(const bool *)fa == *(const bool *)fb;
    case CFG_INT:
        return *(const long long *)fa == *(const long long *)fb;
    case CFG_DURATION:
        return *(const int64_t *)fa == *(const int64_t *)fb;
    case CFG_MODE:
        return *(const unsigned *)fa == *(const unsigned *)fb;
    case CFG_LIST:
        for (i = 0; la->n == lb->n && i < la->n; i++)
            if (strcmp(la->v[i], lb->v[i]) != 0)
                return false;
        return la->n == lb->n;
    case CFG_ENUM:
    case CFG_STRING:
    case CFG_ACTION:
        break;
    }
    return cfg_str_eq(*(char *const *)fa, *(char *const *)fb);
}

/* cfg_print_value - " value" as the parser reads it back; nothing for an empty value. */
static void cfg_print_value(const struct pd_config *cfg, const struct cfg_entry *e, FILE *out)
{
    const void *f = cfg_cfield(cfg, e);
    const struct cfg_list *l = f;
    const char *s;
    char buf[32];
    size_t i;

    switch (e->type) {
    case CFG_BOOL:
        fputs(*(const bool *)f ? " yes" : " no", out);
        return;
    case CFG_INT:
        fprintf(out, " %lld", *(const long long *)f);
        return;
    case CFG_DURATION:
        fprintf(out, " %s", cfg_format_duration(buf, sizeof(buf), *(const int64_t *)f));
        return;
    case CFG_MODE:
        fprintf(out, " %04o", *(const unsigned *)f);
        return;
    case CFG_LIST:
        for (i = 0; i < l->n; i++)
            fprintf(out, "%s%s", i ? ", " : " ", l->v[i]);
        return;
    case CFG_ENUM:
    case CFG_STRING:
    case CFG_ACTION:
        break;
    }
    s = *(char *const *)f;
    if (s != NULL && *s != '\0')
        fprintf(out, " %s", s);
}

/* cfg_print - "name = value" per parameter, as postconf(1); with non_default_only only
 * those that differ from the default (postconf -n). A value equal to its default is
 * shown as the default's text. Secrets are not parameters and are never shown. */
void cfg_print(const struct pd_config *cfg, FILE *out, bool non_default_only)
{
    const struct pd_config *def = cfg_template();
    char num[32];
    size_t i;

    for (i = 0; i < CFG_NKEYS; i++) {
        const struct cfg_entry *e = &cfg_table[i];
        const char *text;

        if (!cfg_equal(cfg, def, e)) {
            fprintf(out, "%s =", e->name);
            cfg_print_value(cfg, e, out);
            fputc('\n', out);
        } else if (!non_default_only) {
            text = cfg_default_text(e, num, sizeof(num));
            fprintf(out, "%s =%s%s\n", e->name, *text ? " " : "", text);
        }
    }
}

bool cfg_is_known_key(const char *name)
{
    return name != NULL && cfg_lookup(name, strlen(name)) != NULL;
}

/* ---- the parser -------------------------------------------------------------------- */

/* One logical line being collected: a parameter and its value with continuations. */
struct cfg_pending {
    const struct cfg_entry *e; /* NULL: nothing pending */
    int line;                  /* where the parameter starts */
    char *buf;
    size_t len, cap;
};

/* cfg_pending_add - append text, after one space unless the value is still empty. */
static int cfg_pending_add(struct cfg_pending *p, const char *s, size_t n, struct pd_err *err)
{
    size_t sep = (p->len > 0 && n > 0);

    if (p->len + sep + n > CFG_VALUE_MAX)
        return pd_err_set(err, CFG_ERR_VALUE, p->line, "bad value for %s: value too long (max %d "
                        "bytes)", p->e->name, CFG_VALUE_MAX);
    if (p->len + sep + n + 1 > p->cap) {
        p->cap = p->len + sep + n + 1 < 128 ? 128 : 2 * (p->len + sep + n + 1);
        p->buf = xrealloc(p->buf, p->cap);
    }
    if (sep)
        p->buf[p->len++] = ' ';
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
    return 0;
}

static int cfg_flush(struct pd_config *cfg, struct cfg_pending *p, struct pd_err *err)
{
    const struct cfg_entry *e = p->e;

    if (e == NULL)
        return 0;
    p->e = NULL;
    return cfg_apply(cfg, e, p->len ? p->buf : "", p->line, err);
}

/* cfg_start - a line "name = value" (trimmed, non-empty) starts a new parameter. */
static int cfg_start(struct cfg_pending *p, const char *s, const char *end, int line,
                     struct pd_err *err)
{
    const char *eq = memchr(s, '=', (size_t)(end - s)), *name_end, *v;
    char q[CFG_QUOTE_MAX + 4];

    if (eq == NULL)
        return pd_err_set(err, CFG_ERR_SYNTAX, line, "missing '=' in \"%s\"",
                        cfg_quote(q, sizeof(q), s, (size_t)(end - s)));
    for (name_end = eq; name_end > s && cfg_is_blank(name_end[-1]); name_end--)
        continue;
    if (name_end == s)
        return pd_err_set(err, CFG_ERR_SYNTAX, line, "missing parameter name before '='");
    p->e = cfg_lookup(s, (size_t)(name_end - s));
    if (p->e == NULL)
        return pd_err_set(err, CFG_ERR_UNKNOWN, line, "unknown parameter %s",
                        cfg_quote(q, sizeof(q), s, (size_t)(name_end - s)));
    for (v = eq + 1; v < end && cfg_is_blank(*v); v++)
        continue;
    p->line = line;
    p->len = 0;
    return cfg_pending_add(p, v, (size_t)(end - v), err);
}

/* cfg_feed_line - one physical line (without its newline). */
static int cfg_feed_line(struct pd_config *cfg, struct cfg_pending *p, const char *l, size_t n,
                         int line, struct pd_err *err)
{
    const char *s = l, *end = l + n;
    int rc;

    if (memchr(l, '\0', n) != NULL)
        return pd_err_set(err, CFG_ERR_SYNTAX, line, "NUL byte in line");
    while (s < end && cfg_is_blank(*s))
        s++;
    while (end > s && cfg_is_blank(end[-1]))
        end--;
    if (s == end || *s == '#')
        return 0;
    if (s != l) {
        if (p->e == NULL)
            return pd_err_set(err, CFG_ERR_SYNTAX, line,
                            "line starts with white space but continues no parameter");
        return cfg_pending_add(p, s, (size_t)(end - s), err);
    }
    if ((rc = cfg_flush(cfg, p, err)) < 0)
        return rc;
    return cfg_start(p, s, end, line, err);
}

int cfg_parse_buf(struct pd_config *cfg, const char *buf, size_t len, struct pd_err *err)
{
    struct cfg_pending p = {NULL, 0, NULL, 0, 0};
    size_t pos = 0;
    int line = 0, rc = 0;

    err->msg[0] = '\0';
    err->line = 0;
    while (rc == 0 && pos < len) {
        const char *l = buf + pos, *nl = memchr(l, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - l) : len - pos;

        pos += n + (nl != NULL);
        rc = cfg_feed_line(cfg, &p, l, n, ++line, err);
    }
    if (rc == 0)
        rc = cfg_flush(cfg, &p, err);
    free(p.buf);
    return rc;
}

/* cfg_set - one "name = value" from outside the file (policyd -o); blanks around the name
 * and the value are ignored. */
int cfg_set(struct pd_config *cfg, const char *name, const char *value, struct pd_err *err)
{
    const struct cfg_entry *e;
    const char *end;
    char q[CFG_QUOTE_MAX + 4], *v;
    int rc;

    err->msg[0] = '\0';
    err->line = 0;
    while (cfg_is_blank(*name))
        name++;
    for (end = name + strlen(name); end > name && cfg_is_blank(end[-1]); end--)
        continue;
    if ((e = cfg_lookup(name, (size_t)(end - name))) == NULL)
        return pd_err_set(err, CFG_ERR_UNKNOWN, 0, "unknown parameter %s",
                        cfg_quote(q, sizeof(q), name, (size_t)(end - name)));
    while (cfg_is_blank(*value))
        value++;
    for (end = value + strlen(value); end > value && cfg_is_blank(end[-1]); end--)
        continue;
    v = xstrndup(value, (size_t)(end - value));
    rc = cfg_apply(cfg, e, v, 0, err);
    free(v);
    return rc;
}

/* cfg_check_ldap - the LDAP poller's keys that depend on each other. */
static int cfg_check_ldap(const struct pd_config *cfg, struct pd_err *err)
{
    size_t i;

    if (cfg->ldap_bind_dn[0] != '\0' && cfg->ldap_bind_password_file[0] == '\0')
        return pd_err_set(err, CFG_ERR_CHECK, 0,
                        "ldap_bind_dn needs ldap_bind_password_file (a DN without a password "
                        "is an unauthenticated bind)");
    if (cfg->ldap_bind_dn[0] == '\0' && cfg->ldap_bind_password_file[0] != '\0')
        return pd_err_set(err, CFG_ERR_CHECK, 0, "ldap_bind_password_file needs ldap_bind_dn");
    if (cfg->ldap_uri.n > 0 && cfg->ldap_search_base[0] == '\0')
        return pd_err_set(err, CFG_ERR_CHECK, 0, "ldap_uri needs ldap_search_base");
    for (i = 0; cfg->ldap_start_tls && i < cfg->ldap_uri.n; i++)
        if (strncasecmp(cfg->ldap_uri.v[i], "ldaps://", 8) == 0)
            return pd_err_set(err, CFG_ERR_CHECK, 0,
                            "ldap_start_tls = yes with an ldaps:// URI (ldaps is TLS already)");
    return 0;
}

/* cfg_check - parameters that are fine alone but contradict each other. */
int cfg_check(const struct pd_config *cfg, struct pd_err *err)
{
    int rc;

    err->msg[0] = '\0';
    err->line = 0;
    if (cfg->listen.n == 0)
        return pd_err_set(err, CFG_ERR_CHECK, 0, "listen must name at least one listener");
    if (strcmp(cfg->sender_login_match, "map") == 0 && cfg->sender_login_maps[0] == '\0')
        return pd_err_set(err, CFG_ERR_CHECK, 0, "sender_login_match = map needs sender_login_maps");
    if (cfg->alert_enabled && cfg->alert_partner_map[0] == '\0' && cfg->alert_abuse_desk.n == 0)
        return pd_err_set(err, CFG_ERR_CHECK, 0,
                        "alert_enabled = yes needs alert_partner_map or alert_abuse_desk");
    if ((rc = cfg_check_ldap(cfg, err)) < 0)
        return rc;
    if (cfg->limit_recipients_per_hour > 0 && cfg->limit_recipients_per_day > 0 &&
        cfg->limit_recipients_per_hour > cfg->limit_recipients_per_day)
        return pd_err_set(err, CFG_ERR_CHECK, 0,
                        "limit_recipients_per_hour (%lld) exceeds limit_recipients_per_day (%lld)",
                        cfg->limit_recipients_per_hour, cfg->limit_recipients_per_day);
    if (cfg->limit_messages_per_hour > 0 && cfg->limit_messages_per_day > 0 &&
        cfg->limit_messages_per_hour > cfg->limit_messages_per_day)
        return pd_err_set(err, CFG_ERR_CHECK, 0,
                        "limit_messages_per_hour (%lld) exceeds limit_messages_per_day (%lld)",
                        cfg->limit_messages_per_hour, cfg->limit_messages_per_day);
    return 0;
}

/* ---- files ------------------------------------------------------------------------- */

/* cfg_read_fd - read a regular file of at most max bytes into a NUL-terminated buffer.
 * Returns 0, -1 with errno set, or -2 when the file is larger than max. */
static int cfg_read_fd(int fd, size_t max, char **out, size_t *outlen)
{
    char *buf = xmalloc(max + 2);
    size_t len = 0;
    ssize_t n;

    while (len <= max) {
        n = read(fd, buf + len, max + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                break;
            explicit_bzero(buf, len);
            free(buf);
            return -1;
        }
        len += (size_t)n;
    }
    if (len > max) {
        explicit_bzero(buf, len);
        free(buf);
        return -2;
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}

/* cfg_read_file - the configuration itself; the caller prefixes messages with the path. */
static int cfg_read_file(const char *path, char **buf, size_t *len, struct pd_err *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc;

    if (fd < 0)
        return pd_err_set(err, CFG_ERR_IO, 0, "cannot open: %s", strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pd_err_set(err, CFG_ERR_IO, 0, "not a regular file");
    }
    rc = cfg_read_fd(fd, CFG_FILE_MAX, buf, len);
    if (rc == -1)
        rc = pd_err_set(err, CFG_ERR_IO, 0, "cannot read: %s", strerror(errno));
    else if (rc == -2)
        rc = pd_err_set(err, CFG_ERR_IO, 0, "larger than %d bytes", CFG_FILE_MAX);
    close(fd);
    return rc;
}

/* cfg_read_secret - the secret in the file named by parameter key (skipped when unset).
 * The file must allow no group or other access; one trailing newline is stripped. */
static int cfg_read_secret(const char *key, const char *path, char **out, struct pd_err *err)
{
    struct stat st;
    char *buf;
    size_t len;
    int fd, rc;

    if (path == NULL || path[0] == '\0')
        return 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
        return pd_err_set(err, CFG_ERR_IO, 0, "%s %.120s: cannot open: %s", key, path,
                        strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pd_err_set(err, CFG_ERR_SECRET, 0, "%s %.120s: not a regular file", key, path);
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return pd_err_set(err, CFG_ERR_SECRET, 0,
                        "%s %.120s must not be readable by others (mode 0600)", key, path);
    }
    rc = cfg_read_fd(fd, CFG_SECRET_MAX, &buf, &len);
    close(fd);
    if (rc < 0)
        return pd_err_set(err, CFG_ERR_IO, 0, "%s %.120s: %s", key, path,
                        rc == -2 ? "larger than 4096 bytes" : strerror(errno));
    if (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    if (len > 0 && buf[len - 1] == '\r')
        buf[--len] = '\0';
    if (len == 0 || memchr(buf, '\0', len) != NULL) {
        explicit_bzero(buf, len);
        free(buf);
        return pd_err_set(err, CFG_ERR_SECRET, 0, "%s %.120s: %s", key, path,
                        len == 0 ? "empty" : "contains a NUL byte");
    }
    cfg_wipe(out);
    *out = buf;
    return 0;
}

/* cfg_set_option - "name=value" as given to policyd -o. */
static int cfg_set_option(struct pd_config *cfg, const char *opt, struct pd_err *err)
{
    const char *eq = strchr(opt, '=');
    char *name;
    size_t n;
    int rc;

    if (eq == NULL) {
        rc = pd_err_set(err, CFG_ERR_SYNTAX, 0, "missing '=' (expected name=value)");
    } else {
        name = xstrndup(opt, (size_t)(eq - opt));
        rc = cfg_set(cfg, name, eq + 1, err);
        free(name);
    }
    if (rc < 0) {
        n = strnlen(err->msg, sizeof(err->msg) - 5);
        memmove(err->msg + 4, err->msg, n);
        memcpy(err->msg, "-o: ", 4);
        err->msg[n + 4] = '\0';
    }
    return rc;
}

/* cfg_keep_secret - on reload, a secret file that did not change is not read again: after
 * dropping privileges the run user usually cannot read it (mode 0600, owned by root). */
static bool cfg_keep_secret(const char *path, const char *prev_path, const char *prev_secret,
                            char **out)
{
    if (prev_secret == NULL || path[0] == '\0' || strcmp(path, prev_path) != 0)
        return false;
    cfg_wipe(out);
    *out = xstrdup(prev_secret);
    return true;
}

int cfg_load_overrides(struct pd_config **out, const char *path, const char *const *overrides,
                       size_t n_overrides, struct pd_err *err)
{
    return cfg_reload(out, path, overrides, n_overrides, NULL, err);
}

int cfg_reload(struct pd_config **out, const char *path, const char *const *overrides,
               size_t n_overrides, const struct pd_config *prev, struct pd_err *err)
{
    struct pd_config *cfg = xmalloc(sizeof(*cfg));
    char *buf = NULL;
    size_t len = 0, i;
    int rc;

    *out = NULL;
    cfg_defaults(cfg);
    free(cfg->path);
    cfg->path = xstrdup(path);
    rc = cfg_read_file(path, &buf, &len, err);
    if (rc == 0)
        rc = cfg_parse_buf(cfg, buf, len, err);
    for (i = 0; rc == 0 && i < n_overrides; i++)
        rc = cfg_set_option(cfg, overrides[i], err);
    if (rc == 0)
        rc = cfg_check(cfg, err);
    if (rc == 0 && !(prev != NULL && cfg_keep_secret(cfg->redis_password_file,
                                                     prev->redis_password_file,
                                                     prev->redis_password, &cfg->redis_password)))
        rc = cfg_read_secret("redis_password_file", cfg->redis_password_file,
                             &cfg->redis_password, err);
    if (rc == 0 &&
        !(prev != NULL && cfg_keep_secret(cfg->recipient_hash_key_file,
                                          prev->recipient_hash_key_file,
                                          prev->recipient_hash_key, &cfg->recipient_hash_key)))
        rc = cfg_read_secret("recipient_hash_key_file", cfg->recipient_hash_key_file,
                             &cfg->recipient_hash_key, err);
    if (rc == 0 && !(prev != NULL && cfg_keep_secret(cfg->status_token_file,
                                                     prev->status_token_file,
                                                     prev->status_token, &cfg->status_token)))
        rc = cfg_read_secret("status_token_file", cfg->status_token_file, &cfg->status_token,
                             err);
    if (rc == 0 &&
        !(prev != NULL && cfg_keep_secret(cfg->status_read_token_file,
                                          prev->status_read_token_file, prev->status_read_token,
                                          &cfg->status_read_token)))
        rc = cfg_read_secret("status_read_token_file", cfg->status_read_token_file,
                             &cfg->status_read_token, err);
    if (rc == 0 &&
        !(prev != NULL && cfg_keep_secret(cfg->ldap_bind_password_file,
                                          prev->ldap_bind_password_file, prev->ldap_bind_password,
                                          &cfg->ldap_bind_password)))
        rc = cfg_read_secret("ldap_bind_password_file", cfg->ldap_bind_password_file,
                             &cfg->ldap_bind_password, err);
    free(buf);
    if (rc < 0) {
        cfg_unref(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int cfg_load(struct pd_config **out, const char *path, struct pd_err *err)
{
    return cfg_load_overrides(out, path, NULL, 0, err);
}

const char *cfg_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case CFG_ERR_SYNTAX:
        return "syntax error";
    case CFG_ERR_UNKNOWN:
        return "unknown parameter";
    case CFG_ERR_VALUE:
        return "bad value";
    case CFG_ERR_CHECK:
        return "inconsistent parameters";
    case CFG_ERR_IO:
        return "cannot read file";
    case CFG_ERR_SECRET:
        return "unsafe or malformed secret file";
    default:
        return "unknown error";
    }
}
