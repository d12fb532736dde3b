/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      ldapesc - LDAP filter templates and RFC 4515 value escaping
 * SYNOPSIS
 *      ldapesc_filter_value(in, len, out, outsz, &outlen)
 *      ldapesc_template_check(tmpl)
 *      ldapesc_expand(tmpl, tlen, mailbox, mlen, escape, out, outsz, &outlen)
 *      ldapesc_keys(tmpl, keys, &n)
 *      ldapesc_strerror(err)
 * DESCRIPTION
 *      ldapesc_filter_value() writes a value for an assertion of a search filter: the
 *      octets RFC 4515 requires to be escaped ('*', '(', ')', '\' and NUL) and every byte
 *      outside printable ASCII (controls, DEL, each byte of UTF-8) become "\xx" (lower-case
 *      hex), so no mailbox can change the shape of a filter, and the filter stays ASCII.
 *
 *      ldapesc_template_check() accepts a filter template (ldap_query_filter): one filter
 *      in parentheses by RFC 4515's grammar (&, |, ! and items, nested at most
 *      LDAPESC_DEPTH_MAX deep), '\' only as "\XX", '%' only as %s, %u, %d or %%, and only
 *      inside values, at least one placeholder, and at least one key item. A key item is
 *      an equality item "(attr=value)" whose value holds a placeholder and no '*': the
 *      poller requests those attributes and compares them with the expanded value, to
 *      tell which entry of a batched OR-search answers which mailbox.
 *
 *      ldapesc_expand() fills in a template (or a part of one, e.g. a key item's value):
 *      with escape, placeholders are escaped as above and the template's own text copied
 *      as written (a filter to send); without, placeholders go in raw and the template's
 *      "\XX" escapes are decoded (the attribute value an entry must have).
 *
 *      Outputs are NUL-terminated. When out is too small (or NULL with outsz 0), nothing
 *      past outsz is written, *outlen still gets the full length and the result is
 *      LDAPESC_ERR_SPACE, so a caller can size its buffer with a first call.
 *
 *      Pure: no I/O, no allocation, no logging.
 * DIAGNOSTICS
 *      0 or a negative LDAPESC_ERR_*; ldapesc_template_check() returns NULL or a static
 *      message saying what is wrong.
 * SEE ALSO
 *      RFC 4515 (filters), RFC 4526 (absolute true/false), postfix ldap_table(5)
 */
#include <string.h>

#include "ldap/ldapesc.h"

#define LDAPESC_DEPTH_MAX 32

static const char ldapesc_hex[] = "0123456789abcdef";

/* A bounded writer that keeps counting past the end of its buffer. */
struct ldapesc_out {
    char *buf;
    size_t size;
    size_t len;
};

static void ldapesc_put(struct ldapesc_out *o, char c)
{
    if (o->buf != NULL && o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static int ldapesc_finish(struct ldapesc_out *o, size_t *outlen)
{
    *outlen = o->len;
    if (o->buf != NULL && o->size > 0)
        o->buf[o->len < o->size ? o->len : o->size - 1] = '\0';
    return o->len + 1 > o->size ? LDAPESC_ERR_SPACE : 0;
}

static bool ldapesc_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned ldapesc_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (unsigned)(c - 'a' + 10);
    return (unsigned)(c - 'A' + 10);
}

/* ldapesc_put_value - one substituted value, escaped or raw. */
static void ldapesc_put_value(struct ldapesc_out *o, const char *in, size_t len, bool escape)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (escape && (c < 0x20 || c >= 0x7f || c == '*' || c == '(' || c == ')' || c == '\\')) {
            ldapesc_put(o, '\\');
            ldapesc_put(o, ldapesc_hex[c >> 4]);
            ldapesc_put(o, ldapesc_hex[c & 15]);
        } else {
            ldapesc_put(o, (char)c);
        }
    }
}

int ldapesc_filter_value(const char *in, size_t len, char *out, size_t outsz, size_t *outlen)
{
    struct ldapesc_out o = {out, outsz, 0};

    ldapesc_put_value(&o, in, len, true);
    return ldapesc_finish(&o, outlen);
}

/* ldapesc_split - the local part and domain of a mailbox (at its last '@'). */
static bool ldapesc_split(const char *m, size_t mlen, size_t *local_len, const char **dom,
                          size_t *dom_len)
{
    size_t i = mlen;

    while (i > 0 && m[i - 1] != '@')
        i--;
    if (i == 0) {
        *local_len = mlen;
        *dom = NULL;
        *dom_len = 0;
        return false;
    }
    *local_len = i - 1;
    *dom = m + i;
    *dom_len = mlen - i;
    return true;
}

int ldapesc_expand(const char *tmpl, size_t tlen, const char *mailbox, size_t mlen, bool escape,
                   char *out, size_t outsz, size_t *outlen)
{
    struct ldapesc_out o = {out, outsz, 0};
    size_t i, local_len, dom_len;
    const char *dom;
    bool has_dom = ldapesc_split(mailbox, mlen, &local_len, &dom, &dom_len);

    *outlen = 0;
    for (i = 0; i < tlen; i++) {
        char c = tmpl[i];

        if (c == '%') {
            char p = i + 1 < tlen ? tmpl[++i] : '\0';

            if (p == 's')
                ldapesc_put_value(&o, mailbox, mlen, escape);
            else if (p == 'u')
                ldapesc_put_value(&o, mailbox, local_len, escape);
            else if (p == 'd' && has_dom)
                ldapesc_put_value(&o, dom, dom_len, escape);
            else if (p == 'd')
                return LDAPESC_ERR_NO_DOMAIN;
            else if (p == '%')
                ldapesc_put(&o, '%');
            else
                return LDAPESC_ERR_TEMPLATE;
        } else if (c == '\\') {
            if (i + 2 >= tlen || !ldapesc_is_hex(tmpl[i + 1]) || !ldapesc_is_hex(tmpl[i + 2]))
                return LDAPESC_ERR_TEMPLATE;
            if (escape) {
                ldapesc_put(&o, c);
                ldapesc_put(&o, tmpl[i + 1]);
                ldapesc_put(&o, tmpl[i + 2]);
            } else {
                ldapesc_put(&o,
                            (char)(ldapesc_hexval(tmpl[i + 1]) << 4 | ldapesc_hexval(tmpl[i + 2])));
            }
            i += 2;
        } else {
            ldapesc_put(&o, c);
        }
    }
    return ldapesc_finish(&o, outlen);
}

/* ---- template grammar ----------------------------------------------------------- */

struct ldapesc_parse {
    const char *why;
    unsigned placeholders;
    struct ldapesc_key *keys; /* NULL: not collected */
    size_t nkeys;
};

static bool ldapesc_is_attr_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == ';' || c == '.';
}

static const char *ldapesc_fail(struct ldapesc_parse *ps, const char *why)
{
    if (ps->why == NULL)
        ps->why = why;
    return NULL;
}

/* ldapesc_item_end - the ')' that ends an item starting at p, checking its bytes. */
static const char *ldapesc_item_end(struct ldapesc_parse *ps, const char *p, const char **eq,
                                    bool *star, unsigned *ph)
{
    *eq = NULL;
    *star = false;
    *ph = 0;
    for (; *p != ')'; p++) {
        unsigned char c = (unsigned char)*p;

        if (c == '\0' || c == '(')
            return ldapesc_fail(ps, "unbalanced parentheses");
        if (c < 0x20 || c >= 0x7f)
            return ldapesc_fail(ps, "control or non-ASCII byte: write it as \\XX");
        if (c == '\\') {
            if (!ldapesc_is_hex(p[1]) || !ldapesc_is_hex(p[2]))
                return ldapesc_fail(ps, "a backslash must start a \\XX escape");
            p += 2;
        } else if (c == '%') {
            if (p[1] != 's' && p[1] != 'u' && p[1] != 'd' && p[1] != '%')
                return ldapesc_fail(ps, "'%' must be followed by s, u, d or %");
            if (p[1] != '%' && *eq == NULL)
                return ldapesc_fail(ps, "placeholders belong in values, after '='");
            if (p[1] != '%')
                ++*ph;
            p++;
        } else if (c == '=' && *eq == NULL) {
            *eq = p;
        } else if (c == '*' && *eq != NULL) {
            *star = true;
        }
    }
    return p;
}

/* ldapesc_item - "attr<op>value" up to its ')': checked, and noted as a key if it is one. */
static const char *ldapesc_item(struct ldapesc_parse *ps, const char *p)
{
    const char *eq, *end, *a;
    bool star, plain;
    unsigned ph;

    if ((end = ldapesc_item_end(ps, p, &eq, &star, &ph)) == NULL)
        return NULL;
    if (eq == NULL)
        return ldapesc_fail(ps, "an item without '=' (expected attr=value)");
    if (eq == p)
        return ldapesc_fail(ps, "an item without an attribute name");
    plain = eq > p && strchr("~<>:", eq[-1]) == NULL;
    if (plain || eq[-1] == '~' || eq[-1] == '<' || eq[-1] == '>') {
        for (a = p; a < eq - !plain; a++)
            if (!ldapesc_is_attr_char(*a))
                return ldapesc_fail(ps, "bad attribute name in an item");
        if (a == p)
            return ldapesc_fail(ps, "an item without an attribute name");
    }
    ps->placeholders += ph;
    if (plain && ph > 0 && !star && ps->keys != NULL && ps->nkeys < LDAPESC_KEYS_MAX) {
        struct ldapesc_key *k = &ps->keys[ps->nkeys++];

        k->attr = p;
        k->attr_len = (size_t)(eq - p);
        k->value = eq + 1;
        k->value_len = (size_t)(end - eq - 1);
    } else if (plain && ph > 0 && !star && ps->keys == NULL) {
        ps->nkeys++;
    }
    return end;
}

/* ldapesc_filter - "(" filtercomp ")" at p; returns the byte after the ')'. */
static const char *ldapesc_filter(struct ldapesc_parse *ps, const char *p, unsigned depth)
{
    if (depth > LDAPESC_DEPTH_MAX)
        return ldapesc_fail(ps, "filter nested too deeply");
    if (*p != '(')
        return ldapesc_fail(ps, "expected '(' (a filter is written in parentheses)");
    p++;
    if (*p == '&' || *p == '|') {
        for (p++; *p == '(';)
            if ((p = ldapesc_filter(ps, p, depth + 1)) == NULL)
                return NULL;
    } else if (*p == '!') {
        if ((p = ldapesc_filter(ps, p + 1, depth + 1)) == NULL)
            return NULL;
    } else if ((p = ldapesc_item(ps, p)) == NULL) {
        return NULL;
    }
    if (*p != ')')
        return ldapesc_fail(ps, *p == '\0' ? "unbalanced parentheses" : "expected ')'");
    return p + 1;
}

static const char *ldapesc_parse_all(struct ldapesc_parse *ps, const char *tmpl)
{
    const char *end;

    if (tmpl[0] == '\0')
        return "empty filter";
    if (strlen(tmpl) > LDAPESC_TEMPLATE_MAX)
        return "filter longer than 1024 bytes";
    if ((end = ldapesc_filter(ps, tmpl, 0)) == NULL)
        return ps->why;
    if (*end != '\0')
        return "text after the filter's closing ')': wrap several in (&...) or (|...)";
    if (ps->placeholders == 0)
        return "no placeholder: write %s (mailbox), %u (local part) or %d (domain)";
    if (ps->nkeys == 0)
        return "needs an equality item with a placeholder and no '*', e.g. (mail=%s), "
               "to tell which entry belongs to which mailbox";
    return NULL;
}

const char *ldapesc_template_check(const char *tmpl)
{
    struct ldapesc_parse ps = {NULL, 0, NULL, 0};

    return ldapesc_parse_all(&ps, tmpl);
}

int ldapesc_keys(const char *tmpl, struct ldapesc_key keys[LDAPESC_KEYS_MAX], size_t *n)
{
    struct ldapesc_parse ps = {NULL, 0, keys, 0};

    *n = 0;
    if (ldapesc_parse_all(&ps, tmpl) != NULL)
        return LDAPESC_ERR_TEMPLATE;
    *n = ps.nkeys;
    return 0;
}

const char *ldapesc_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case LDAPESC_ERR_SPACE:
        return "output buffer too small";
    case LDAPESC_ERR_TEMPLATE:
        return "bad filter template";
    case LDAPESC_ERR_NO_DOMAIN:
        return "the template uses %d and the mailbox has no domain";
    }
    return "unknown error";
}
