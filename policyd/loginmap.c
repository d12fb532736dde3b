/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      loginmap - the logins allowed to use each envelope sender (sender_login_maps)
 * SYNOPSIS
 *      #include "policyd/loginmap.h"
 *
 *      int loginmap_parse(text, len, &map, &err)
 *      int loginmap_load(path, &map, &err)
 *      bool loginmap_owns(map, sender, sender_len, login, login_len)
 *      bool loginmap_has_owner(map, sender, sender_len)
 *      void loginmap_stats(map, &stats); map = loginmap_free(map)
 *      const char *loginmap_strerror(err)
 * DESCRIPTION
 *      Reads the source text of a Postfix smtpd_sender_login_maps table, so policyd can
 *      use the very file Postfix uses: one entry per logical line, "sender login, ...".
 *      The logins are separated by commas and/or white space. Blank lines and lines whose
 *      first non-blank byte is '#' are ignored (also between continuation lines); a line
 *      that starts with white space continues the entry above. CR is white space. Keys
 *      and logins compare without regard to ASCII case, as Postfix does.
 *
 *      What postmap(1) accepts with a warning is accepted here and counted in struct
 *      loginmap_stats for the caller to log: a key given twice (the FIRST entry counts,
 *      as in postmap), a key without logins and an indented line that continues no entry
 *      (both ignored). What postmap would never see in a text file is an error: a NUL or
 *      other control byte, an entry over LOGINMAP_LINE_MAX, a key or login that is too
 *      long, more than LOGINMAP_ENTRIES_MAX entries.
 *
 *      loginmap_owns() looks the sender up as Postfix does for an address: the whole
 *      address first, then "@domain"; true when login is one of the owners listed there.
 *      A sender without an entry, and the null sender, have no owner: loginmap_owns() is
 *      false and loginmap_has_owner() tells the two cases apart. Compare the login
 *      Postfix compares, the sasl_username as sent (not a mailbox with a default domain
 *      appended). Address extensions (user+tag@) are not stripped.
 *
 *      Ownership: the map owns its strings; it is immutable after parsing and freed with
 *      loginmap_free(). loginmap_parse() is pure: no I/O, no logging, no globals; xmalloc
 *      aborts when memory is exhausted. loginmap_load() opens and reads one regular file of
 *      at most LOGINMAP_FILE_MAX bytes and does nothing else.
 * DIAGNOSTICS
 *      0 or a negative LOGINMAP_ERR_*; struct pd_err gets a one-line message of printable
 *      ASCII and the line (0 when none applies). On error nothing is returned and nothing
 *      leaks.
 * SEE ALSO
 *      postconf(5) smtpd_sender_login_maps, postmap(1), verdict(3), policyd.conf.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policyd/loginmap.h"
#include "policyd/util.h"

#define LOGINMAP_MIN_SLOTS 64

struct loginmap_entry {
    char *key; /* lower case */
    size_t key_len;
    int line;
    size_t nlogins;
    char *logins; /* nlogins NUL-terminated lower-case strings, back to back */
};

struct loginmap {
    struct loginmap_entry *v;
    size_t n, cap;
    uint32_t *slot; /* entry index + 1; 0 = empty */
    size_t nslot;   /* a power of two, 0 before the first entry */
    struct loginmap_stats st;
};

/* One entry being collected from its lines. */
struct loginmap_reader {
    struct loginmap *m;
    int line; /* where the pending entry starts; 0 = none pending */
    size_t len;
    char buf[LOGINMAP_LINE_MAX + 1];
};

static bool loginmap_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static char loginmap_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* loginmap_trim - shrink [*s, *s + *n) to exclude blanks at both ends. */
static void loginmap_trim(const char **s, size_t *n)
{
    while (*n > 0 && loginmap_is_blank(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && loginmap_is_blank((*s)[*n - 1]))
        (*n)--;
}

/* loginmap_ignored - a line postmap would warn about and skip. */
static void loginmap_ignored(struct loginmap *m, int line)
{
    if (m->st.ignored++ == 0)
        m->st.first_ignored_line = line;
}

/* ---- the table --------------------------------------------------------------------- */

/* loginmap_hash - FNV-1a of the lower-cased key. */
static uint64_t loginmap_hash(const char *k, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)loginmap_lower(k[i]);
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* loginmap_slot - the slot of key (lower-cased on the fly), or the empty one where it
 * would go. The table is never full. */
static size_t loginmap_slot(const struct loginmap *m, const char *k, size_t n)
{
    size_t mask = m->nslot - 1, i = (size_t)loginmap_hash(k, n) & mask, j;

    for (;; i = (i + 1) & mask) {
        const struct loginmap_entry *e;

        if (m->slot[i] == 0)
            return i;
        e = &m->v[m->slot[i] - 1];
        if (e->key_len != n)
            continue;
        for (j = 0; j < n && e->key[j] == loginmap_lower(k[j]); j++)
            continue;
        if (j == n)
            return i;
    }
}

static void loginmap_grow(struct loginmap *m)
{
    size_t i;

    free(m->slot);
    m->nslot = m->nslot == 0 ? LOGINMAP_MIN_SLOTS : m->nslot * 2;
    m->slot = xcalloc(m->nslot, sizeof(*m->slot));
    for (i = 0; i < m->n; i++)
        m->slot[loginmap_slot(m, m->v[i].key, m->v[i].key_len)] = (uint32_t)(i + 1);
}

static const struct loginmap_entry *loginmap_find(const struct loginmap *m, const char *k, size_t n)
{
    size_t i;

    if (m == NULL || m->nslot == 0 || n == 0 || n > LOGINMAP_KEY_MAX)
        return NULL;
    i = loginmap_slot(m, k, n);
    return m->slot[i] != 0 ? &m->v[m->slot[i] - 1] : NULL;
}

/* ---- entries ----------------------------------------------------------------------- */

static bool loginmap_is_sep(char c)
{
    return c == ',' || loginmap_is_blank(c);
}

/* loginmap_logins - the logins of s (comma or blank separated), lower-cased and packed
 * into one buffer; counts them in *n. NULL when there are none. */
static int loginmap_logins(const char *s, size_t len, int line, char **out, size_t *n,
                           struct pd_err *err)
{
    char *buf = xmalloc(len + 1);
    size_t i = 0, j, o = 0, k;

    *n = 0;
    while (i < len) {
        while (i < len && loginmap_is_sep(s[i]))
            i++;
        for (j = i; j < len && !loginmap_is_sep(s[j]); j++)
            continue;
        if (j - i > LOGINMAP_LOGIN_MAX) {
            free(buf);
            return pd_err_set(err, LOGINMAP_ERR_VALUE, line, "login longer than %d bytes",
                                 LOGINMAP_LOGIN_MAX);
        }
        if (j > i) {
            for (k = i; k < j; k++)
                buf[o++] = loginmap_lower(s[k]);
            buf[o++] = '\0';
            (*n)++;
        }
        i = j;
    }
    if (*n == 0) {
        free(buf);
        buf = NULL;
    }
    *out = buf;
    return 0;
}

/* loginmap_flush - the pending entry: its key, then its logins. */
static int loginmap_flush(struct loginmap_reader *r, struct pd_err *err)
{
    struct loginmap *m = r->m;
    struct loginmap_entry *e;
    char *logins = NULL;
    size_t k = 0, n, i;
    int line = r->line, rc;

    if (line == 0)
        return 0;
    r->line = 0;
    while (k < r->len && !loginmap_is_blank(r->buf[k]))
        k++;
    if (k > LOGINMAP_KEY_MAX)
        return pd_err_set(err, LOGINMAP_ERR_KEY, line, "key longer than %d bytes",
                             LOGINMAP_KEY_MAX);
    if ((rc = loginmap_logins(r->buf + k, r->len - k, line, &logins, &n, err)) < 0)
        return rc;
    if (n == 0) {
        loginmap_ignored(m, line);
        return 0;
    }
    if (m->n >= LOGINMAP_ENTRIES_MAX) {
        free(logins);
        return pd_err_set(err, LOGINMAP_ERR_SPACE, line, "more than %d entries",
                             LOGINMAP_ENTRIES_MAX);
    }
    if ((m->n + 1) * 2 > m->nslot)
        loginmap_grow(m);
    i = loginmap_slot(m, r->buf, k);
    if (m->slot[i] != 0) {
        if (m->st.duplicates++ == 0)
            m->st.first_duplicate_line = line;
        free(logins);
        return 0;
    }
    if (m->n == m->cap) {
        m->cap = m->cap == 0 ? 16 : m->cap * 2;
        m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
    }
    e = &m->v[m->n];
    e->key = xstrndup(r->buf, k);
    for (i = 0; i < k; i++)
        e->key[i] = loginmap_lower(e->key[i]);
    e->key_len = k;
    e->line = line;
    e->nlogins = n;
    e->logins = logins;
    m->st.logins += n;
    m->slot[loginmap_slot(m, e->key, k)] = (uint32_t)++m->n;
    return 0;
}

/* loginmap_append - text of a line to the pending entry, after one space. */
static int loginmap_append(struct loginmap_reader *r, const char *s, size_t n, struct pd_err *err)
{
    size_t sep = r->len > 0;

    if (r->len + sep + n > LOGINMAP_LINE_MAX)
        return pd_err_set(err, LOGINMAP_ERR_SYNTAX, r->line, "entry longer than %d bytes",
                             LOGINMAP_LINE_MAX);
    if (sep)
        r->buf[r->len++] = ' ';
    memcpy(r->buf + r->len, s, n);
    r->len += n;
    return 0;
}

/* loginmap_bad_byte - the first NUL or control byte (other than a blank), or NULL. */
static const char *loginmap_bad_byte(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (((unsigned char)s[i] < 0x20 && !loginmap_is_blank(s[i])) || s[i] == 0x7f)
            return s + i;
    return NULL;
}

/* loginmap_feed_line - one physical line, without its newline. */
static int loginmap_feed_line(struct loginmap_reader *r, const char *l, size_t n, int line,
                              struct pd_err *err)
{
    const char *s = l, *bad = loginmap_bad_byte(l, n);
    size_t len = n;
    int rc;

    if (bad != NULL)
        return pd_err_set(err, LOGINMAP_ERR_SYNTAX, line, "%s in line",
                             *bad == '\0' ? "NUL byte" : "control byte");
    loginmap_trim(&s, &len);
    if (len == 0 || *s == '#')
        return 0;
    if (s != l) {
        if (r->line == 0) { /* postmap: "logical line must not start with white space" */
            loginmap_ignored(r->m, line);
            return 0;
        }
        return loginmap_append(r, s, len, err);
    }
    if ((rc = loginmap_flush(r, err)) < 0)
        return rc;
    r->line = line;
    r->len = 0;
    return loginmap_append(r, s, len, err);
}

int loginmap_parse(const char *text, size_t len, struct loginmap **out, struct pd_err *err)
{
    struct loginmap_reader *r = xmalloc(sizeof(*r));
    size_t pos = 0;
    int line = 0, rc = 0;

    err->msg[0] = '\0';
    err->line = 0;
    r->m = xcalloc(1, sizeof(*r->m));
    r->line = 0;
    r->len = 0;
    while (rc == 0 && pos < len) {
        const char *l = text + pos, *nl = memchr(l, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - l) : len - pos;

        pos += n + (nl != NULL);
        if (line == INT32_MAX - 1)
            rc = pd_err_set(err, LOGINMAP_ERR_SPACE, line, "too many lines");
        else
            rc = loginmap_feed_line(r, l, n, ++line, err);
    }
    if (rc == 0)
        rc = loginmap_flush(r, err);
    r->m->st.entries = r->m->n;
    *out = rc == 0 ? r->m : loginmap_free(r->m);
    free(r);
    return rc;
}

/* ---- lookups ----------------------------------------------------------------------- */

/* loginmap_entry_for - the entry of the whole address, else that of "@domain". */
static const struct loginmap_entry *loginmap_entry_for(const struct loginmap *m, const char *sender,
                                                       size_t len)
{
    const struct loginmap_entry *e;
    char key[LOGINMAP_KEY_MAX + 1];
    const char *at;
    size_t dlen;

    loginmap_trim(&sender, &len);
    if (m == NULL || len == 0 || len > LOGINMAP_KEY_MAX)
        return NULL;
    if ((e = loginmap_find(m, sender, len)) != NULL)
        return e;
    if ((at = memrchr(sender, '@', len)) == NULL || at == sender)
        return NULL;
    dlen = len - (size_t)(at - sender); /* "@domain" */
    memcpy(key, at, dlen);
    return loginmap_find(m, key, dlen);
}

bool loginmap_has_owner(const struct loginmap *m, const char *sender, size_t sender_len)
{
    return loginmap_entry_for(m, sender, sender_len) != NULL;
}

bool loginmap_owns(const struct loginmap *m, const char *sender, size_t sender_len,
                   const char *login, size_t login_len)
{
    const struct loginmap_entry *e = loginmap_entry_for(m, sender, sender_len);
    const char *p;
    size_t i, j;

    if (e == NULL || login == NULL)
        return false;
    loginmap_trim(&login, &login_len);
    if (login_len == 0)
        return false;
    for (i = 0, p = e->logins; i < e->nlogins; i++, p += strlen(p) + 1) {
        for (j = 0; j < login_len && p[j] != '\0' && p[j] == loginmap_lower(login[j]); j++)
            continue;
        if (j == login_len && p[j] == '\0')
            return true;
    }
    return false;
}

void loginmap_stats(const struct loginmap *m, struct loginmap_stats *st)
{
    if (m == NULL)
        memset(st, 0, sizeof(*st));
    else
        *st = m->st;
}

struct loginmap *loginmap_free(struct loginmap *m)
{
    size_t i;

    if (m == NULL)
        return NULL;
    for (i = 0; i < m->n; i++) {
        free(m->v[i].key);
        free(m->v[i].logins);
    }
    free(m->v);
    free(m->slot);
    free(m);
    return NULL;
}

/* ---- the file ---------------------------------------------------------------------- */

/* loginmap_read - a regular file of at most LOGINMAP_FILE_MAX bytes. */
static int loginmap_read(int fd, char **out, size_t *outlen, struct pd_err *err)
{
    struct stat st;
    size_t len = 0;
    ssize_t n;
    char *buf;

    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return pd_err_set(err, LOGINMAP_ERR_IO, 0, "not a regular file");
    if (st.st_size > LOGINMAP_FILE_MAX)
        return pd_err_set(err, LOGINMAP_ERR_IO, 0, "larger than %ld bytes",
                             (long)LOGINMAP_FILE_MAX);
    buf = xmalloc((size_t)st.st_size + 1);
    while (len <= (size_t)st.st_size) { /* a file that grows is cut at its stat size + 1 */
        n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break;
        if (n < 0) {
            free(buf);
            return pd_err_set(err, LOGINMAP_ERR_IO, 0, "cannot read: %s", strerror(errno));
        }
        len += (size_t)n;
    }
    if (len > (size_t)st.st_size) {
        free(buf);
        return pd_err_set(err, LOGINMAP_ERR_IO, 0, "file changed while it was read");
    }
    *out = buf;
    *outlen = len;
    return 0;
}

int loginmap_load(const char *path, struct loginmap **out, struct pd_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    int fd, rc;

    *out = NULL;
    err->msg[0] = '\0';
    err->line = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
        return pd_err_set(err, LOGINMAP_ERR_IO, 0, "cannot open: %s", strerror(errno));
    rc = loginmap_read(fd, &buf, &len, err);
    close(fd);
    if (rc < 0)
        return rc;
    rc = loginmap_parse(buf, len, out, err);
    free(buf);
    return rc;
}

const char *loginmap_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case LOGINMAP_ERR_SYNTAX:
        return "syntax error";
    case LOGINMAP_ERR_KEY:
        return "bad key";
    case LOGINMAP_ERR_VALUE:
        return "bad login";
    case LOGINMAP_ERR_SPACE:
        return "too large";
    case LOGINMAP_ERR_IO:
        return "cannot read the file";
    default:
        return "unknown loginmap error";
    }
}
