/* SPDX-License-Identifier: MIT */
#ifndef PD_LDAPESC_H
#define PD_LDAPESC_H

/*
 * ldapesc - LDAP search filters built from a template and a mailbox, safely: RFC 4515
 * escaping of every substituted value, the template's syntax check, and the template's
 * "key items" that tell which entry answers which mailbox. Pure: no I/O, no logging, no
 * allocation.
 *
 * Template placeholders, as in Postfix's ldap_table(5) query_filter:
 *   %s  the whole mailbox          %u  its local part (the whole mailbox without '@')
 *   %d  its domain (after the last '@'; a mailbox without '@' cannot be looked up)
 *   %%  a literal '%'
 */

#include <stdbool.h>
#include <stddef.h>

#define LDAPESC_KEYS_MAX 8        /* key items used to map entries back to mailboxes */
#define LDAPESC_TEMPLATE_MAX 1024 /* bytes in a filter template */

enum ldapesc_err {
    LDAPESC_ERR_SPACE = -1,     /* the output buffer is too small (*outlen says how big) */
    LDAPESC_ERR_TEMPLATE = -2,  /* ldapesc_template_check() would refuse the template */
    LDAPESC_ERR_NO_DOMAIN = -3, /* %d with a mailbox that has no '@' */
};

/* One "(attr=value)" equality item of the template whose value holds a placeholder;
 * both point into the template (not NUL-terminated). */
struct ldapesc_key {
    const char *attr;
    size_t attr_len;
    const char *value;
    size_t value_len;
};

int ldapesc_filter_value(const char *in, size_t len, char *out, size_t outsz, size_t *outlen);
const char *ldapesc_template_check(const char *tmpl);
int ldapesc_expand(const char *tmpl, size_t tlen, const char *mailbox, size_t mlen, bool escape,
                   char *out, size_t outsz, size_t *outlen);
int ldapesc_keys(const char *tmpl, struct ldapesc_key keys[LDAPESC_KEYS_MAX], size_t *n);
const char *ldapesc_strerror(int err);

#endif
