/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      alerttpl - alert mail templates with safe placeholders
 * SYNOPSIS
 *      #include "policyd/alerttpl.h"
 *
 *      int alerttpl_parse(const char *buf, size_t len, const char *const *known,
 *                         struct alerttpl **out, struct pd_err *err)
 *      struct alerttpl *alerttpl_free(struct alerttpl *t)
 *      bool alerttpl_has_subject(const struct alerttpl *t)
 *      int alerttpl_expand(const struct alerttpl *t, bool subject,
 *                          const struct alerttpl_var *vars, size_t nvars, char **out,
 *                          size_t *outlen)
 *      const char *alerttpl_strerror(int err)
 * DESCRIPTION
 *      A template file is UTF-8 text. When its first line starts with "Subject:" (any
 *      case), the rest of that line is the Subject template and the body starts on the
 *      next line (one empty line after it is skipped). Placeholders are "{name}", name
 *      made of [a-z_] and listed in the caller's known names; "{{" writes a '{'; a '}'
 *      alone is literal. Anything else after '{' is a syntax error, found at parse time,
 *      so that an operator's typo is reported when the file is loaded and not mailed.
 *
 *      Safety does not depend on the template or the values: both are cleaned (CRLF to
 *      LF, any other control byte except TAB, bidi overrides, line separators and
 *      invalid UTF-8 to '?'), the Subject is always one line, and body lines are broken
 *      before ALERTTPL_LINE_MAX bytes at a character boundary. alertmsg puts the body
 *      after its own header block and encodes the Subject, so no template and no value
 *      can add a header.
 *
 *      Ownership: alerttpl_parse copies what it keeps; alerttpl_expand returns a malloc'ed
 *      buffer that the caller frees. Pure: no I/O, no logging; allocation failure aborts.
 * DIAGNOSTICS
 *      0 or a negative ALERTTPL_ERR_* code; parse errors fill struct pd_err (line number,
 *      one line of printable ASCII).
 * SEE ALSO
 *      alertmsg(3), alert(3).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policyd/alerttpl.h"
#include "policyd/util.h"

#define TPL_INDENT_MAX 64 /* leading white space repeated on a value's continuation lines */

struct alerttpl {
    char *subject; /* cleaned, NULL when the file has no Subject line */
    char *body;    /* cleaned */
};

struct tpl_buf {
    char *p;
    size_t len, cap;
    size_t line; /* offset where the current line starts */
};

static void tpl_put(struct tpl_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2 < 256 ? 256 : (b->len + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* tpl_utf8 - length of the valid UTF-8 sequence at s (0: invalid) and its code point. */
static size_t tpl_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len, i;
    uint32_t v, min;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2, v = s[0] & 0x1F, min = 0x80;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3, v = s[0] & 0x0F, min = 0x800;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4, v = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

/* tpl_cp_ok - printable (TAB allowed): as alertmsg_clean, which keeps the same set. */
static bool tpl_cp_ok(uint32_t cp)
{
    if (cp == '\t')
        return true;
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
        return false;
    if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF)
        return false;
    if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E ||
        cp == 0x200F || cp == 0x061C)
        return false;
    return true;
}

/* tpl_next - the next character of s[0..n) as bytes to write (*put, return value) and the
 * bytes it consumes (*used): CRLF and LF give "\n", anything unsafe gives "?". */
static size_t tpl_next(const char *s, size_t n, const char **put, size_t *used)
{
    uint32_t cp = 0;
    size_t k;

    if (s[0] == '\n' || (s[0] == '\r' && n > 1 && s[1] == '\n')) {
        *put = "\n";
        *used = s[0] == '\r' ? 2 : 1;
        return 1;
    }
    k = tpl_utf8((const unsigned char *)s, n, &cp);
    if (k == 0 || !tpl_cp_ok(cp)) {
        *put = "?";
        *used = k == 0 ? 1 : k;
        return 1;
    }
    *put = s;
    *used = k;
    return k;
}

/* tpl_clean - s[0..n) cleaned (see tpl_next), NUL-terminated, malloc'ed. */
static char *tpl_clean(const char *s, size_t n)
{
    struct tpl_buf b = {NULL, 0, 0, 0};
    size_t i = 0, used, k;
    const char *put;

    tpl_put(&b, "", 0);
    while (i < n) {
        k = tpl_next(s + i, n - i, &put, &used);
        tpl_put(&b, put, k);
        i += used;
    }
    return b.p;
}

static bool tpl_known(const char *name, size_t n, const char *const *known)
{
    for (; known != NULL && *known != NULL; known++)
        if (strlen(*known) == n && memcmp(*known, name, n) == 0)
            return true;
    return false;
}

/* tpl_name - at s (just after '{'): the length of "[a-z_]+}" without the brace, or 0. */
static size_t tpl_name(const char *s)
{
    size_t n = 0;

    while (n <= ALERTTPL_NAME_MAX && ((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_'))
        n++;
    return n > 0 && n <= ALERTTPL_NAME_MAX && s[n] == '}' ? n : 0;
}

/* tpl_check - every '{' of text opens "{{" or a known placeholder. */
static int tpl_check(const char *text, int line0, const char *const *known, struct pd_err *err)
{
    const char *s;
    int line = line0;

    for (s = text; *s != '\0'; s++) {
        size_t n;

        line += *s == '\n';
        if (*s != '{')
            continue;
        if (s[1] == '{') {
            s++;
            continue;
        }
        if ((n = tpl_name(s + 1)) == 0) {
            err->line = line;
            snprintf(err->msg, sizeof(err->msg),
                     "'{' opens no placeholder (write \"{{\" for a brace)");
            return ALERTTPL_ERR_SYNTAX;
        }
        if (!tpl_known(s + 1, n, known)) {
            err->line = line;
            snprintf(err->msg, sizeof(err->msg), "unknown placeholder {%.*s}", (int)n, s + 1);
            return ALERTTPL_ERR_PLACEHOLDER;
        }
        s += n + 1;
    }
    return 0;
}

int alerttpl_parse(const char *buf, size_t len, const char *const *known, struct alerttpl **out,
                   struct pd_err *err)
{
    struct alerttpl *t;
    const char *nul;
    char *text, *body;
    int rc, line0 = 1;

    *out = NULL;
    err->msg[0] = '\0';
    err->line = 0;
    if (len == 0 || len > ALERTTPL_FILE_MAX) {
        snprintf(err->msg, sizeof(err->msg), "a template must hold 1 to %d bytes",
                 ALERTTPL_FILE_MAX);
        return ALERTTPL_ERR_SIZE;
    }
    if ((nul = memchr(buf, '\0', len)) != NULL) {
        for (err->line = 1; buf < nul; buf++)
            err->line += *buf == '\n';
        snprintf(err->msg, sizeof(err->msg), "NUL byte in a template");
        return ALERTTPL_ERR_NUL;
    }
    text = tpl_clean(buf, len);
    t = xcalloc(1, sizeof(*t));
    body = text;
    if (strncasecmp(text, "Subject:", 8) == 0) {
        char *nl = strchr(text, '\n'), *s = text + 8;

        body = nl != NULL ? nl + 1 : text + strlen(text);
        while (*s == ' ' || *s == '\t')
            s++;
        t->subject = xstrndup(s, (size_t)(body - s) - (nl != NULL));
        line0 = 2;
        if (*body == '\n')
            body++, line0 = 3;
        if ((rc = tpl_check(t->subject, 1, known, err)) < 0)
            goto fail;
    }
    t->body = xstrdup(body);
    if ((rc = tpl_check(t->body, line0, known, err)) < 0)
        goto fail;
    free(text);
    *out = t;
    return 0;
fail:
    free(text);
    alerttpl_free(t);
    return rc;
}

struct alerttpl *alerttpl_free(struct alerttpl *t)
{
    if (t == NULL)
        return NULL;
    free(t->subject);
    free(t->body);
    free(t);
    return NULL;
}

bool alerttpl_has_subject(const struct alerttpl *t)
{
    return t != NULL && t->subject != NULL;
}

/* ---- expansion ----------------------------------------------------------------------- */

/* tpl_emit - one cleaned character into the result: a line break first when the line is
 * full (body), or a space for a line end (subject). */
static void tpl_emit(struct tpl_buf *b, bool subject, const char *c, size_t n)
{
    if (c[0] == '\n') {
        if (subject) {
            tpl_put(b, " ", 1);
            return;
        }
        tpl_put(b, "\n", 1);
        b->line = b->len;
        return;
    }
    if (!subject && b->len - b->line + n > ALERTTPL_LINE_MAX) {
        tpl_put(b, "\n", 1);
        b->line = b->len;
    }
    tpl_put(b, c, n);
}

/* tpl_indent - the leading white space of the current line (for a value's next lines). */
static size_t tpl_indent(const struct tpl_buf *b, char *out)
{
    size_t n = 0;

    while (b->line + n < b->len && n < TPL_INDENT_MAX &&
           (b->p[b->line + n] == ' ' || b->p[b->line + n] == '\t')) {
        out[n] = b->p[b->line + n];
        n++;
    }
    return n;
}

/* tpl_value - a value, cleaned again; its continuation lines indented like the line. */
static void tpl_value(struct tpl_buf *b, bool subject, const char *v)
{
    char ind[TPL_INDENT_MAX];
    size_t nind = subject ? 0 : tpl_indent(b, ind), n = strlen(v), i = 0, used, k;
    const char *put;

    while (i < n) {
        k = tpl_next(v + i, n - i, &put, &used);
        i += used;
        tpl_emit(b, subject, put, k);
        if (put[0] == '\n' && !subject && i < n && nind > 0)
            tpl_put(b, ind, nind);
    }
}

static const char *tpl_lookup(const struct alerttpl_var *vars, size_t nvars, const char *name,
                              size_t n)
{
    size_t i;

    for (i = 0; i < nvars; i++)
        if (vars[i].name != NULL && strlen(vars[i].name) == n &&
            memcmp(vars[i].name, name, n) == 0)
            return vars[i].value != NULL ? vars[i].value : "";
    return "";
}

/* tpl_clip - the Subject within ALERTTPL_SUBJECT_MAX bytes, cut at a character. */
static void tpl_clip(struct tpl_buf *b)
{
    size_t n = ALERTTPL_SUBJECT_MAX;

    if (b->len <= ALERTTPL_SUBJECT_MAX)
        return;
    while (n > 0 && ((unsigned char)b->p[n] & 0xC0) == 0x80)
        n--;
    b->len = n;
    b->p[n] = '\0';
    tpl_put(b, "...", 3);
}

int alerttpl_expand(const struct alerttpl *t, bool subject, const struct alerttpl_var *vars,
                    size_t nvars, char **out, size_t *outlen)
{
    struct tpl_buf b = {NULL, 0, 0, 0};
    const char *s = subject ? t->subject : t->body, *put;
    size_t n, used, k;

    *out = NULL;
    *outlen = 0;
    tpl_put(&b, "", 0);
    s = s != NULL ? s : "";
    while (*s != '\0') {
        if (b.len > ALERTTPL_OUT_MAX) {
            free(b.p);
            return ALERTTPL_ERR_SIZE;
        }
        if (s[0] == '{' && s[1] == '{') {
            tpl_emit(&b, subject, "{", 1);
            s += 2;
        } else if (s[0] == '{' && (n = tpl_name(s + 1)) > 0) {
            tpl_value(&b, subject, tpl_lookup(vars, nvars, s + 1, n));
            s += n + 2;
        } else {
            k = tpl_next(s, strlen(s), &put, &used);
            tpl_emit(&b, subject, put, k);
            s += used;
        }
    }
    if (b.len > ALERTTPL_OUT_MAX) {
        free(b.p);
        return ALERTTPL_ERR_SIZE;
    }
    if (subject)
        tpl_clip(&b);
    *out = b.p;
    *outlen = b.len;
    return 0;
}

const char *alerttpl_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case ALERTTPL_ERR_SIZE:
        return "template or result too large (or empty)";
    case ALERTTPL_ERR_NUL:
        return "NUL byte in a template";
    case ALERTTPL_ERR_SYNTAX:
        return "'{' that opens no placeholder";
    case ALERTTPL_ERR_PLACEHOLDER:
        return "unknown placeholder";
    default:
        return "unknown error";
    }
}
