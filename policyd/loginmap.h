/* SPDX-License-Identifier: MIT */
#ifndef PD_LOGINMAP_H
#define PD_LOGINMAP_H

/*
 * loginmap - sender_login_maps: which SASL logins own which envelope senders, read from
 * the source text of a Postfix smtpd_sender_login_maps table ("sender  login1, login2").
 * loginmap_parse() is pure (no I/O, no logging); loginmap_load() only reads the file and
 * hands it to the parser, as cfg_load() does for policyd.conf.
 */

#include <stdbool.h>
#include <stddef.h>

#include "policyd/config.h"

#define LOGINMAP_KEY_MAX 1024         /* longest sender key */
#define LOGINMAP_LOGIN_MAX 1024       /* longest login, as KEYS_MAILBOX_MAX */
#define LOGINMAP_LINE_MAX 65536       /* one entry, continuation lines included */
#define LOGINMAP_ENTRIES_MAX 2000000  /* entries in one file */
#define LOGINMAP_FILE_MAX (64L << 20) /* bytes loginmap_load() reads at most */

/* Opaque; immutable once parsed, so one map can be shared until it is freed. */
struct loginmap;

/* What the parser tolerated, as postmap(1) does with a warning: the daemon logs it. */
struct loginmap_stats {
    size_t entries;
    size_t logins;
    size_t duplicates; /* entries for a key seen before: the first one counts */
    int first_duplicate_line;
    size_t ignored; /* a key without logins, or an indented line continuing none */
    int first_ignored_line;
};

enum loginmap_err {
    LOGINMAP_ERR_SYNTAX = -1, /* NUL or control byte, an entry over LOGINMAP_LINE_MAX */
    LOGINMAP_ERR_KEY = -2,    /* a sender key over LOGINMAP_KEY_MAX */
    LOGINMAP_ERR_VALUE = -3,  /* a login over LOGINMAP_LOGIN_MAX */
    LOGINMAP_ERR_SPACE = -4,  /* too many entries or lines */
    LOGINMAP_ERR_IO = -5,     /* loginmap_load: the file cannot be read, or is too big */
};

int loginmap_parse(const char *text, size_t len, struct loginmap **out, struct pd_err *err);
int loginmap_load(const char *path, struct loginmap **out, struct pd_err *err);
bool loginmap_owns(const struct loginmap *m, const char *sender, size_t sender_len,
                   const char *login, size_t login_len);
bool loginmap_has_owner(const struct loginmap *m, const char *sender, size_t sender_len);
void loginmap_stats(const struct loginmap *m, struct loginmap_stats *st);
struct loginmap *loginmap_free(struct loginmap *m);
const char *loginmap_strerror(int err);

#endif
