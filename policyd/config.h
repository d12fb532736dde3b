/* SPDX-License-Identifier: MIT */
#ifndef PD_CONFIG_H
#define PD_CONFIG_H

/*
 * config - table-driven policyd.conf (Postfix-style "name = value", "#" comments).
 *
 * Pure: cfg_parse_buf() does no I/O and never logs. cfg_load() reads the file (and the
 * secret files it names) and then calls the pure parser. A loaded config is immutable;
 * a reload builds a new one and the owner swaps the pointer (see cfg_ref/cfg_unref).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ratelimit/rules_params.h"

#define CFG_DEFAULT_PATH "/etc/policyd/policyd.conf"

/* Filled by the parser on error: "file:line: message" is built from these. */
struct pd_err {
    char msg[256];
    int line; /* 0 when the error is not tied to a line */
};

/* pd_err_set - fill err (message formatted, line) and return code: the one error helper of
 * every parser that reports "file:line: message". */
int pd_err_set(struct pd_err *err, int code, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A list value: "a, b c" -> {"a","b","c"}. */
struct cfg_list {
    char **v;
    size_t n;
};

struct pd_config {
    unsigned refs; /* owner-managed reference count, see cfg_ref/cfg_unref */
    char *path;    /* the file it was loaded from ("" when parsed from a buffer) */

    /* server */
    struct cfg_list listen;     /* "inet:HOST:PORT" and "unix:PATH" */
    unsigned unix_socket_mode;  /* octal, e.g. 0660 */
    char *unix_socket_group;    /* "" = the run user's group */
    char *run_user;             /* "" = do not change user */
    long long max_connections;
    int64_t idle_timeout_ms;
    char *syslog_facility;      /* "mail", "local0".."local7", ... */
    char *syslog_name;

    /* redis (tracking issue) */
    char *redis_server;         /* "HOST:PORT" or "unix:PATH" */
    char *redis_password_file;  /* "" = no AUTH */
    char *redis_password;       /* read from redis_password_file by cfg_load; never printed */
    int64_t redis_timeout_ms;
    char *redis_fail_action;    /* a policy action, e.g. "DUNNO" */
    char *redis_key_prefix;
    bool redis_use_module;         /* PD.TRACK of the pdtrack module when loaded */
    char *recipient_hash_key_file; /* "" = a shared random key kept in Redis */
    char *recipient_hash_key;      /* read from the file above; never printed */

    /* identity and accounting */
    char *mailbox_default_domain;  /* appended to a sasl_username without '@' */
    long long network_prefix_v4;   /* 8..32 */
    long long network_prefix_v6;   /* 16..128 */
    char *sender_login_match;      /* "none" | "address" | "domain" | "map" */
    char *sender_login_maps;       /* file, with sender_login_match = map */
    bool trust_request_time;       /* test/replay only: honour policyd_time= */

    /* rate caps (0 = off) */
    long long limit_recipients_per_hour;
    long long limit_recipients_per_day;
    long long limit_messages_per_hour;
    long long limit_messages_per_day;
    char *rate_limit_action;       /* e.g. "DEFER_IF_PERMIT 4.7.1 ..."; never states thresholds */
    char *overrides_file;

    /* detection and blocking (detection issue) */
    char *mode;                    /* "enforce" | "observe" */
    bool observe_prepend;          /* observe mode: PREPEND an X-Policyd-Verdict header */
    char *block_reject_text;       /* "%r" expands to the reference id */
    bool hold_enabled;
    char *hold_text;
    int64_t learning_period_ms;
    long long learning_min_messages;
    int64_t probation_period_ms;
    struct rules_params rules;     /* one key per threshold, see ratelimit/rules_params.h */

    /* status socket (helpdesk issue) */
    struct cfg_list status_listen; /* "unix:PATH" and "inet:LOOPBACK:PORT"; empty = off */
    unsigned status_socket_mode;   /* octal, e.g. 0660 */
    char *status_socket_group;     /* "" = the run user's group */
    char *status_admin_group;      /* unix peers in it may change things ("" = root, run_user) */
    char *status_token_file;       /* admin bearer token, e.g. for TCP callers; "" = none */
    char *status_token;            /* read from status_token_file; never printed */
    char *status_read_token_file;  /* read-only bearer token; "" = none */
    char *status_read_token;       /* read from status_read_token_file; never printed */
    long long status_audit_max;    /* entries kept in the audit stream */
    char *metrics_listen;          /* "inet:LOOPBACK:PORT" of GET /metrics; "" = off */

    /* partner alerts (alert issue) */
    bool alert_enabled;
    char *alert_partner_map;           /* domain -> partner addresses file; "" = none */
    struct cfg_list alert_abuse_desk;  /* a copy of every alert, and the wave alerts */
    char *alert_from;                  /* envelope sender and From: */
    char *alert_helpdesk;              /* contact text in the body; "" = none */
    char *alert_sendmail_path;
    int64_t alert_sendmail_timeout_ms;
    bool alert_on_block;
    bool alert_on_unblock;
    long long alert_partner_hourly_cap; /* single alerts per partner and hour (0 = no cap) */
    int64_t alert_digest_window_ms;    /* past the cap, events gathered this long: one mail */
    long long alert_wave_threshold;    /* this many blocks across the service (0 = off) ... */
    int64_t alert_wave_window_ms;      /* ... within this time: one mail to the abuse desk */
    long long alert_retry_max;         /* delivery attempts of one alert */
    int64_t alert_retry_delay_ms;      /* before the first retry; doubles up to 1 h */
    bool alert_on_hold;                /* mail the partner when a mailbox's mail is held */
    bool alert_on_digest;              /* the daily digest per partner (alert_digest_time) */
    char *alert_digest_time;           /* "HH:MM" local time of the daily digest; "" = off */
    char *alert_template_dir;          /* block.txt, unblock.txt, ...; "" = built-in texts */

    /* LDAP / Active Directory poller (password-change issue) */
    struct cfg_list ldap_uri;          /* ldap://, ldaps://, ldapi://, tried in order; empty = off */
    bool ldap_start_tls;
    char *ldap_ca_file;                /* "" = the system's CAs */
    char *ldap_bind_dn;                /* "" = anonymous */
    char *ldap_bind_password_file;
    char *ldap_bind_password;          /* read from ldap_bind_password_file; never printed */
    char *ldap_search_base;
    char *ldap_query_filter;           /* template with %s %u %d, see ldap/ldapesc.h */
    char *ldap_password_time_attribute; /* auto | pwdLastSet | pwdChangedTime | shadowLastChange */
    int64_t ldap_poll_interval_ms;
    long long ldap_batch_size;
    int64_t ldap_timeout_ms;
    int64_t ldap_clock_skew_ms;
    bool ldap_trust_admin_reset;
};

/* Return codes (0 = success). cfg_strerror() names them. */
enum {
    CFG_ERR_SYNTAX = -1,  /* a line that is not "name = value", a NUL byte */
    CFG_ERR_UNKNOWN = -2, /* unknown parameter name */
    CFG_ERR_VALUE = -3,   /* bad value or value out of range */
    CFG_ERR_CHECK = -4,   /* parameters that contradict each other (cfg_check) */
    CFG_ERR_IO = -5,      /* the file or a secret file cannot be read, or is too big */
    CFG_ERR_SECRET = -6,  /* a secret file is readable by others, empty or malformed */
};

int cfg_parse_buf(struct pd_config *cfg, const char *buf, size_t len, struct pd_err *err);
int cfg_set(struct pd_config *cfg, const char *name, const char *value, struct pd_err *err);
int cfg_load(struct pd_config **out, const char *path, struct pd_err *err);
/* cfg_load plus Postfix-style "-o name=value" strings, applied after the file and before
 * cfg_check and the secret files, so "-o redis_password_file=..." works. */
int cfg_load_overrides(struct pd_config **out, const char *path, const char *const *overrides,
                       size_t n_overrides, struct pd_err *err);
/* cfg_reload - as cfg_load_overrides, but a secret whose file name is unchanged is taken
 * from prev instead of read again (the run user may not be able to read it). */
int cfg_reload(struct pd_config **out, const char *path, const char *const *overrides,
               size_t n_overrides, const struct pd_config *prev, struct pd_err *err);
void cfg_defaults(struct pd_config *cfg);
int cfg_check(const struct pd_config *cfg, struct pd_err *err);
void cfg_print(const struct pd_config *cfg, FILE *out, bool non_default_only);
struct pd_config *cfg_ref(struct pd_config *cfg);
struct pd_config *cfg_unref(struct pd_config *cfg);
void cfg_free_fields(struct pd_config *cfg);
int cfg_parse_duration(const char *s, int64_t *ms);
bool cfg_is_known_key(const char *name);
const char *cfg_strerror(int err);

#endif
