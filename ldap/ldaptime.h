/* SPDX-License-Identifier: MIT */
#ifndef PD_LDAPTIME_H
#define PD_LDAPTIME_H

/*
 * ldaptime - the password-change times a directory returns, and the one decision made
 * from them: has the password changed since the block? Pure: no I/O, no logging, no
 * allocation. Every value is a (pointer, length) pair as it arrives in a berval, not
 * NUL-terminated, and may be anything a hostile or broken directory sends.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 100 ns intervals between 1601-01-01 and 1970-01-01 (AD FILETIME epoch). */
#define LDAPTIME_FILETIME_EPOCH 116444736000000000LL
#define LDAPTIME_MAX_UNIX 253402300799LL /* 9999-12-31T23:59:59Z */
#define LDAPTIME_ISO_SIZE 32             /* "-292277022657-01-27T08:29:52Z" and a NUL */
#define LDAPTIME_GT_SIZE 16              /* "YYYYMMDDHHMMSSZ" and a NUL */
#define LDAPTIME_VALUE_MAX 64            /* longer values are refused unread */

enum ldaptime_err {
    LDAPTIME_ERR_SYNTAX = -1, /* not a value of the attribute's syntax */
    LDAPTIME_ERR_RANGE = -2,  /* well-formed, but negative, before 1970 or after 9999 */
};

/* Which attribute holds the time of the last password change. */
enum ldaptime_attr {
    LDAPTIME_AUTO = 0,         /* per entry: pwdLastSet, else pwdChangedTime, else shadow */
    LDAPTIME_PWDLASTSET,       /* AD: FILETIME as a decimal string; 0 = must change */
    LDAPTIME_PWDCHANGEDTIME,   /* OpenLDAP ppolicy: GeneralizedTime, with pwdReset */
    LDAPTIME_SHADOWLASTCHANGE, /* days since 1970-01-01; 0 = must change */
};

/* What to do with one blocked mailbox, given its entry. */
enum ldaptime_verdict {
    LDAPTIME_UNBLOCK = 1,      /* changed after the block (plus the skew margin) */
    LDAPTIME_KEEP_OLDER,       /* the last change is not after created + skew */
    LDAPTIME_KEEP_MUST_CHANGE, /* admin reset, the user has not chosen a password yet */
    LDAPTIME_KEEP_NO_ATTR,     /* the entry has none of the attributes asked for */
    LDAPTIME_KEEP_BAD_VALUE,   /* the attribute is there but does not parse */
};

/* A value as the directory sent it; val == NULL when the entry lacks the attribute. */
struct ldaptime_val {
    const char *val;
    size_t len;
};

struct ldaptime_entry {
    struct ldaptime_val pwd_last_set, pwd_changed_time, pwd_reset, shadow_last_change;
};

struct ldaptime_policy {
    enum ldaptime_attr attr;
    int64_t skew;           /* seconds: a change counts when at > created + skew */
    bool trust_admin_reset; /* pwdLastSet=0 / pwdReset=TRUE counts as a change */
};

struct ldaptime_result {
    enum ldaptime_verdict verdict;
    enum ldaptime_attr used; /* the attribute the verdict rests on (AUTO: none found) */
    int64_t changed;         /* unix seconds of the change; 0 with must-change */
    bool admin_reset;        /* an administrator's reset (pwdLastSet 0, pwdReset TRUE) */
};

int ldaptime_filetime(const char *s, size_t len, int64_t *unix_out, bool *must_change);
int ldaptime_generalized(const char *s, size_t len, int64_t *unix_out);
int ldaptime_days(const char *s, size_t len, int64_t *unix_out, bool *must_change);
int ldaptime_bool(const char *s, size_t len, bool *out);
void ldaptime_judge(const struct ldaptime_entry *e, int64_t created,
                    const struct ldaptime_policy *pol, struct ldaptime_result *out);
void ldaptime_iso(int64_t unix_time, char out[LDAPTIME_ISO_SIZE]);
int ldaptime_to_generalized(int64_t unix_time, char out[LDAPTIME_GT_SIZE]);
int ldaptime_to_filetime(int64_t unix_time, int64_t *filetime);
int ldaptime_attr_parse(const char *name, enum ldaptime_attr *out);
const char *ldaptime_attr_name(enum ldaptime_attr a);
const char *ldaptime_verdict_name(enum ldaptime_verdict v);
const char *ldaptime_strerror(int err);

#endif
