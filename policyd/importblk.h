/* SPDX-License-Identifier: MIT */
#ifndef PD_IMPORTBLK_H
#define PD_IMPORTBLK_H

/*
 * importblk - "policyd -c FILE --import-blocks LIST [--reason REASON]": pre-emptive blocks
 * for a list of mailboxes (e.g. the weak passwords an audit found), written exactly as
 * decide writes a block, so every node refuses them at RCPT with their reference id. A
 * one-shot command: it runs its own event loop and returns; the daemon never calls it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ratelimit/siphash.h"

struct pd_config;

#define IMPORTBLK_REASON_DEFAULT "weak-password"

enum importblk_err {
    IMPORTBLK_ERR_LIST = -1,    /* the list cannot be read */
    IMPORTBLK_ERR_REDIS = -2,   /* Redis cannot be reached, or a command failed */
    IMPORTBLK_ERR_REASON = -3,  /* --reason is not a block reason */
    IMPORTBLK_ERR_HASHKEY = -4, /* the shared recipient hash key in Redis is malformed */
};

/* What one line of a list holds. */
enum importblk_line {
    IMPORTBLK_LINE_EMPTY = 0,       /* blank or a comment */
    IMPORTBLK_LINE_MAILBOX = 1,     /* a mailbox: [*start, *start + *len) */
    IMPORTBLK_LINE_NUL = -1,        /* a NUL byte */
    IMPORTBLK_LINE_SPACE = -2,      /* white space or a control byte inside the name */
    IMPORTBLK_LINE_EMPTY_PART = -3, /* "@domain" or "local@" */
};

int importblk_run(const struct pd_config *cfg, const char *list_path, const char *reason,
                  int verbose);
bool importblk_reason_ok(const char *reason);
int importblk_parse_line(const char *line, size_t len, size_t *start, size_t *mlen);
const char *importblk_line_error(int code);
void importblk_key_from_text(const char *text, size_t len, uint8_t key[SIPHASH_KEY_LEN]);
const char *importblk_strerror(int err);

#endif
