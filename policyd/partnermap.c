/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      partnermap - the alert mailer's domain -> partner address map
 * SYNOPSIS
 *      #include "policyd/partnermap.h"
 *
 *      int partnermap_parse(const char *buf, size_t len, struct partnermap **out,
 *                           struct pd_err *err)
 *      const struct partnermap_entry *partnermap_lookup(const struct partnermap *m,
 *                                                       const char *domain, size_t len)
 *      const struct partnermap_entry *partnermap_lookup_mailbox(const struct partnermap *m,
 *                                                       const char *mailbox, size_t len)
 *      struct partnermap *partnermap_free(struct partnermap *m)
 *      size_t partnermap_count(const struct partnermap *m)
 *      const char *partnermap_check_address(const char *addr)
 *      const char *partnermap_check_domain(const char *name, size_t len)
 *      const char *partnermap_strerror(int err)
 * DESCRIPTION
 *      The file follows Postfix lookup-table source files: one "key  value" per line,
 *      key and value separated by white space; blank lines and lines whose first
 *      non-blank byte is '#' are ignored; a line that starts with white space continues
 *      the previous one. A '#' elsewhere belongs to the text (it is legal in an address).
 *      A trailing CR is ignored, so a file saved with CRLF line ends works.
 *
 *      Keys:
 *        example.com      that domain only
 *        *.example.com    every subdomain of example.com (".example.com" is the same)
 *        *                the default contact, for a domain that nothing else matches
 *      A lookup tries the exact domain, then "*.parent" from the nearest parent up, then
 *      "*". Keys are case-insensitive ASCII domain names; an internationalised domain is
 *      written in its xn-- form.
 *
 *      Values: one to PARTNERMAP_RCPT_MAX plain addresses (local@domain, dot-atom local
 *      part, no quoting, no "Name <addr>" form), separated by commas and/or white space.
 *      An address may not start with '-', so none can pass for a sendmail option even if
 *      a sendmail without "--" support is configured. What passes is fit for an argv and
 *      for a To: header as it is.
 *
 *      The parser is strict: any bad line, a key given twice or an address given twice
 *      in one entry fails the whole map with the line number, so a typo never routes an
 *      alert silently to the wrong partner. The caller keeps its previous map.
 *
 *      Pure: no I/O, no logging. A map owns all of its strings; partnermap_free() frees
 *      it and returns NULL. Lookups return pointers into the map.
 * DIAGNOSTICS
 *      partnermap_parse returns 0 or a negative PARTNERMAP_ERR_* code and fills err with
 *      one line of printable ASCII and the (first physical) line number.
 * SEE ALSO
 *      postmap(1), alert(3), RFC 5322 section 3.4.1.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policyd/partnermap.h"
#include "policyd/util.h"

#define PM_QUOTE_MAX 60

struct pm_item {
    struct partnermap_entry e;
    char *name;  /* the domain (exact) or the parent domain (wildcard), lowercase */
    bool wild;
    char **rcpt; /* owned; e.rcpt points here */
    int line;
};

struct partnermap {
    struct pm_item *items; /* sorted by (wild, name) */
    size_t n, cap;
    struct pm_item *def;   /* the "*" entry, or NULL */
};

/* ---- helpers -------------------------------------------------------------------------- */

static bool pm_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static bool pm_is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char pm_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* pm_quote - at most PM_QUOTE_MAX bytes of s for a message: '?' outside printable ASCII. */
static const char *pm_quote(char *dst, size_t dstlen, const char *s, size_t n)
{
    size_t i, o = 0, room = dstlen - 4 < PM_QUOTE_MAX ? dstlen - 4 : PM_QUOTE_MAX;

    for (i = 0; i < n && o < room; i++)
        dst[o++] = ((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f) ? s[i] : '?';
    if (i < n) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
    return dst;
}

/* ---- syntax checks ------------------------------------------------------------------- */

const char *partnermap_check_domain(const char *name, size_t len)
{
    size_t i, label = 0;

    if (len == 0)
        return "empty domain";
    if (len > PARTNERMAP_DOMAIN_MAX)
        return "domain longer than 253 bytes";
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c == '.') {
            if (label == 0)
                return "empty label in domain";
            if (name[i - 1] == '-')
                return "a domain label must not end with '-'";
            label = 0;
        } else if (pm_is_alnum(c) || c == '-') {
            if (label == 0 && c == '-')
                return "a domain label must not start with '-'";
            if (++label > 63)
                return "domain label longer than 63 bytes";
        } else if (c >= 0x80) {
            return "non-ASCII domain: write it in its xn-- form";
        } else {
            return "only letters, digits, '-' and '.' are allowed in a domain";
        }
    }
    if (label == 0)
        return "domain must not end with '.'";
    if (name[len - 1] == '-')
        return "a domain label must not end with '-'";
    return NULL;
}

static bool pm_atext(unsigned char c)
{
    return pm_is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

const char *partnermap_check_address(const char *addr)
{
    const char *at = strrchr(addr, '@');
    size_t len = strlen(addr), llen, i;

    if (len == 0)
        return "empty address";
    if (len > PARTNERMAP_ADDR_MAX)
        return "address longer than 254 bytes";
    if (at == NULL)
        return "expected local@domain";
    llen = (size_t)(at - addr);
    if (llen == 0)
        return "empty local part";
    if (llen > PARTNERMAP_LOCAL_MAX)
        return "local part longer than 64 bytes";
    if (addr[0] == '-')
        return "an address must not start with '-'";
    for (i = 0; i < llen; i++) {
        unsigned char c = (unsigned char)addr[i];

        if (c == '.') {
            if (i == 0 || i + 1 == llen || addr[i + 1] == '.')
                return "misplaced '.' in the local part";
        } else if (!pm_atext(c)) {
            return c >= 0x80 ? "non-ASCII local part"
                             : "only letters, digits, '.' and !#$%&'*+-/=?^_`{|}~ are allowed "
                               "in a local part (no quoting)";
        }
    }
    return partnermap_check_domain(at + 1, len - llen - 1);
}

/* ---- building ------------------------------------------------------------------------ */

static void pm_item_free(struct pm_item *it)
{
    size_t i;

    for (i = 0; i < it->e.nrcpt; i++)
        free(it->rcpt[i]);
    free(it->rcpt);
    free(it->name);
    free((char *)(uintptr_t)it->e.key);
}

/* pm_key - a key into it->name / wild / e.key; "*" is the default. */
static int pm_key(struct pm_item *it, const char *k, size_t n, int line, struct pd_err *err)
{
    char q[PM_QUOTE_MAX + 4], *key;
    const char *why;
    size_t i, skip = 0;

    if (n == 1 && k[0] == '*') {
        it->e.key = xstrdup("*");
        it->name = xstrdup("");
        return 0;
    }
    if (n >= 2 && k[0] == '*' && k[1] == '.')
        skip = 2;
    else if (n >= 1 && k[0] == '.')
        skip = 1;
    it->wild = skip > 0;
    if ((why = partnermap_check_domain(k + skip, n - skip)) != NULL)
        return pd_err_set(err, PARTNERMAP_ERR_DOMAIN, line, "bad key \"%s\": %s",
                       pm_quote(q, sizeof(q), k, n), why);
    it->name = xstrndup(k + skip, n - skip);
    for (i = 0; it->name[i]; i++)
        it->name[i] = pm_lower(it->name[i]);
    key = xmalloc(n - skip + 3);
    snprintf(key, n - skip + 3, "%s%s", it->wild ? "*." : "", it->name);
    it->e.key = key;
    return 0;
}

/* pm_value - the address list of one entry. */
static int pm_value(struct pm_item *it, const char *s, const char *end, int line,
                    struct pd_err *err)
{
    char q[PM_QUOTE_MAX + 4], *a;
    const char *why;
    size_t n, i;

    it->rcpt = xcalloc(PARTNERMAP_RCPT_MAX, sizeof(char *));
    for (;;) {
        while (s < end && (pm_is_blank(*s) || *s == ','))
            s++;
        if (s == end)
            break;
        for (n = 0; s + n < end && !pm_is_blank(s[n]) && s[n] != ','; n++)
            continue;
        if (it->e.nrcpt == PARTNERMAP_RCPT_MAX)
            return pd_err_set(err, PARTNERMAP_ERR_TOO_MANY, line,
                           "%s: more than %d addresses", it->e.key, PARTNERMAP_RCPT_MAX);
        a = xstrndup(s, n);
        it->rcpt[it->e.nrcpt++] = a;
        if (strlen(a) != n || (why = partnermap_check_address(a)) != NULL)
            return pd_err_set(err, PARTNERMAP_ERR_ADDRESS, line, "%s: bad address \"%s\": %s",
                           it->e.key, pm_quote(q, sizeof(q), s, n),
                           strlen(a) != n ? "NUL byte" : why);
        for (i = 0; i + 1 < it->e.nrcpt; i++)
            if (strcasecmp(it->rcpt[i], a) == 0)
                return pd_err_set(err, PARTNERMAP_ERR_DUPLICATE, line,
                               "%s: address %s given twice", it->e.key, a);
        s += n;
    }
    if (it->e.nrcpt == 0)
        return pd_err_set(err, PARTNERMAP_ERR_ADDRESS, line, "%s: no address", it->e.key);
    it->e.rcpt = (const char *const *)it->rcpt;
    return 0;
}

/* pm_entry - one logical line "key value" (trimmed, not a comment). */
static int pm_entry(struct partnermap *m, const char *s, size_t len, int line,
                    struct pd_err *err)
{
    struct pm_item it;
    size_t klen = 0;
    int rc;

    memset(&it, 0, sizeof(it));
    it.line = line;
    while (klen < len && !pm_is_blank(s[klen]))
        klen++;
    rc = pm_key(&it, s, klen, line, err);
    if (rc == 0)
        rc = pm_value(&it, s + klen, s + len, line, err);
    if (rc == 0 && it.name[0] == '\0' && m->def != NULL)
        rc = pd_err_set(err, PARTNERMAP_ERR_DUPLICATE, line, "key * given twice (first at line %d)",
                     m->def->line);
    if (rc < 0) {
        pm_item_free(&it);
        return rc;
    }
    if (it.name[0] == '\0') {
        m->def = xmalloc(sizeof(*m->def));
        *m->def = it;
        return 0;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 16;
        m->items = xrealloc(m->items, m->cap * sizeof(*m->items));
    }
    m->items[m->n++] = it;
    return 0;
}

static int pm_cmp(const void *a, const void *b)
{
    const struct pm_item *x = a, *y = b;

    if (x->wild != y->wild)
        return x->wild ? 1 : -1;
    return strcmp(x->name, y->name);
}

static int pm_cmp_line(const struct pm_item *x, const struct pm_item *y)
{
    return x->line - y->line;
}

/* pm_finish - sort for lookups and refuse duplicate keys. */
static int pm_finish(struct partnermap *m, struct pd_err *err)
{
    size_t i;

    if (m->n > 1)
        qsort(m->items, m->n, sizeof(*m->items), pm_cmp);
    for (i = 1; i < m->n; i++) {
        const struct pm_item *a = &m->items[i - 1], *b = &m->items[i];

        if (pm_cmp(a, b) == 0) {
            if (pm_cmp_line(a, b) > 0) {
                const struct pm_item *t = a;

                a = b;
                b = t;
            }
            return pd_err_set(err, PARTNERMAP_ERR_DUPLICATE, b->line,
                           "key %s given twice (first at line %d)", b->e.key, a->line);
        }
    }
    return 0;
}

/* One logical line being collected: its text with continuations, and where it began. */
struct pm_pending {
    char buf[PARTNERMAP_LINE_MAX + 1];
    size_t len;
    int line; /* 0: nothing pending */
};

static int pm_flush(struct partnermap *m, struct pm_pending *p, struct pd_err *err)
{
    int line = p->line;

    if (line == 0)
        return 0;
    p->line = 0;
    return pm_entry(m, p->buf, p->len, line, err);
}

/* pm_line - one physical line without its newline. */
static int pm_line(struct partnermap *m, struct pm_pending *p, const char *l, size_t n, int line,
                   struct pd_err *err)
{
    const char *s = l, *end = l + n;
    size_t i, sep;
    int rc;

    for (i = 0; i < n; i++)
        if ((unsigned char)l[i] < 0x20 && !pm_is_blank(l[i]))
            return pd_err_set(err, PARTNERMAP_ERR_SYNTAX, line, "%s byte 0x%02x in line",
                           l[i] == '\0' ? "NUL" : "control", (unsigned char)l[i]);
    while (s < end && pm_is_blank(*s))
        s++;
    while (end > s && pm_is_blank(end[-1]))
        end--;
    if (s == end || *s == '#')
        return 0;
    if (s == l) {
        if ((rc = pm_flush(m, p, err)) < 0)
            return rc;
        p->line = line;
        p->len = 0;
    } else if (p->line == 0) {
        return pd_err_set(err, PARTNERMAP_ERR_SYNTAX, line,
                       "line starts with white space but continues no entry");
    }
    sep = p->len > 0;
    if (p->len + sep + (size_t)(end - s) > PARTNERMAP_LINE_MAX)
        return pd_err_set(err, PARTNERMAP_ERR_SYNTAX, p->line, "entry longer than %d bytes",
                       PARTNERMAP_LINE_MAX);
    if (sep)
        p->buf[p->len++] = ' ';
    memcpy(p->buf + p->len, s, (size_t)(end - s));
    p->len += (size_t)(end - s);
    return 0;
}

int partnermap_parse(const char *buf, size_t len, struct partnermap **out, struct pd_err *err)
{
    struct partnermap *m = xcalloc(1, sizeof(*m));
    struct pm_pending *p = xcalloc(1, sizeof(*p));
    size_t pos = 0;
    int line = 0, rc = 0;

    *out = NULL;
    err->msg[0] = '\0';
    err->line = 0;
    while (rc == 0 && pos < len) {
        const char *l = buf + pos, *nl = memchr(l, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - l) : len - pos;

        pos += n + (nl != NULL);
        rc = pm_line(m, p, l, n, ++line, err);
    }
    if (rc == 0)
        rc = pm_flush(m, p, err);
    if (rc == 0)
        rc = pm_finish(m, err);
    free(p);
    if (rc < 0) {
        partnermap_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

struct partnermap *partnermap_free(struct partnermap *m)
{
    size_t i;

    if (m == NULL)
        return NULL;
    for (i = 0; i < m->n; i++)
        pm_item_free(&m->items[i]);
    free(m->items);
    if (m->def != NULL)
        pm_item_free(m->def);
    free(m->def);
    free(m);
    return NULL;
}

size_t partnermap_count(const struct partnermap *m)
{
    return m == NULL ? 0 : m->n + (m->def != NULL);
}

/* ---- lookups ------------------------------------------------------------------------- */

static const struct partnermap_entry *pm_find(const struct partnermap *m, const char *name,
                                              bool wild)
{
    struct pm_item key;
    const struct pm_item *hit;

    if (m->n == 0)
        return NULL;
    key.name = (char *)(uintptr_t)name;
    key.wild = wild;
    hit = bsearch(&key, m->items, m->n, sizeof(*m->items), pm_cmp);
    return hit != NULL ? &hit->e : NULL;
}

const struct partnermap_entry *partnermap_lookup(const struct partnermap *m, const char *domain,
                                                 size_t len)
{
    char d[PARTNERMAP_DOMAIN_MAX + 1];
    const struct partnermap_entry *e;
    size_t i;

    if (m == NULL)
        return NULL;
    if (len > 0 && domain[len - 1] == '.')
        len--;
    if (len == 0 || len > PARTNERMAP_DOMAIN_MAX || memchr(domain, '\0', len) != NULL)
        return m->def != NULL ? &m->def->e : NULL;
    for (i = 0; i < len; i++)
        d[i] = pm_lower(domain[i]);
    d[len] = '\0';
    if ((e = pm_find(m, d, false)) != NULL)
        return e;
    for (i = 0; i < len; i++)
        if (d[i] == '.' && i + 1 < len && (e = pm_find(m, d + i + 1, true)) != NULL)
            return e;
    return m->def != NULL ? &m->def->e : NULL;
}

const struct partnermap_entry *partnermap_lookup_mailbox(const struct partnermap *m,
                                                         const char *mailbox, size_t len)
{
    size_t at = len;

    while (at > 0 && mailbox[at - 1] != '@')
        at--;
    if (at == 0)
        return m != NULL && m->def != NULL ? &m->def->e : NULL;
    return partnermap_lookup(m, mailbox + at, len - at);
}

const char *partnermap_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case PARTNERMAP_ERR_SYNTAX:
        return "syntax error";
    case PARTNERMAP_ERR_DOMAIN:
        return "bad key";
    case PARTNERMAP_ERR_ADDRESS:
        return "bad address";
    case PARTNERMAP_ERR_DUPLICATE:
        return "duplicate";
    case PARTNERMAP_ERR_TOO_MANY:
        return "too many addresses";
    default:
        return "unknown error";
    }
}
