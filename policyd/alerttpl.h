/* SPDX-License-Identifier: MIT */
#ifndef PD_ALERTTPL_H
#define PD_ALERTTPL_H

/*
 * alerttpl - operator-supplied text for alert mails (alert_template_dir): a body, and an
 * optional first line "Subject: ..." that replaces the built-in Subject text. Placeholders
 * are "{name}" (name: [a-z_], one of the names alertmsg knows); "{{" is a literal '{'.
 * Pure: no I/O, no logging. A template only ever becomes body text or Subject text; the
 * headers are built by alertmsg, which cleans and encodes the Subject.
 */

#include <stdbool.h>
#include <stddef.h>

#include "policyd/config.h"

#define ALERTTPL_FILE_MAX 65536      /* bytes of one template file */
#define ALERTTPL_NAME_MAX 24         /* bytes of a placeholder name */
#define ALERTTPL_SUBJECT_MAX 400     /* bytes of an expanded Subject (then "...") */
#define ALERTTPL_OUT_MAX (4u << 20)  /* bytes of an expanded body */
#define ALERTTPL_LINE_MAX 900        /* a longer body line is broken (RFC 5322: 998) */

enum alerttpl_err {
    ALERTTPL_ERR_SIZE = -1,        /* an empty or oversized file, or an oversized result */
    ALERTTPL_ERR_NUL = -2,         /* a NUL byte */
    ALERTTPL_ERR_SYNTAX = -3,      /* '{' that opens no placeholder, or an unclosed one */
    ALERTTPL_ERR_PLACEHOLDER = -4, /* a name that is not in the known list */
};

/* One placeholder's value: text that the caller has cleaned already (alertmsg_clean);
 * LF separates the lines of a multi-line value. NULL reads as "". */
struct alerttpl_var {
    const char *name;
    const char *value;
};

struct alerttpl;

/* alerttpl_parse - buf (any bytes) into a template; every placeholder must be in known
 * (a NULL-terminated list). CRLF reads as LF; invalid UTF-8 and control bytes other than
 * LF and TAB become '?'. 0 and *out (free with alerttpl_free), or a negative code and
 * err (line of the problem, one line of printable ASCII). */
int alerttpl_parse(const char *buf, size_t len, const char *const *known, struct alerttpl **out,
                   struct pd_err *err);
struct alerttpl *alerttpl_free(struct alerttpl *t);
bool alerttpl_has_subject(const struct alerttpl *t);

/* alerttpl_expand - the body (subject false) or the Subject (subject true) with each
 * placeholder replaced by its value in vars ("" when absent). Values are cleaned again:
 * controls and invalid UTF-8 become '?'. In the Subject a value's line ends become spaces
 * and the result is one line, clipped at ALERTTPL_SUBJECT_MAX bytes; in the body the
 * continuation lines of a multi-line value repeat the leading white space of the line
 * the placeholder is on, and no line passes ALERTTPL_LINE_MAX bytes. The result is
 * valid UTF-8 with LF line ends only, in a malloc'ed *out (the caller frees it). */
int alerttpl_expand(const struct alerttpl *t, bool subject, const struct alerttpl_var *vars,
                    size_t nvars, char **out, size_t *outlen);

const char *alerttpl_strerror(int err);

#endif
