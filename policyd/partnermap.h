/* SPDX-License-Identifier: MIT */
#ifndef PD_PARTNERMAP_H
#define PD_PARTNERMAP_H

/*
 * partnermap - which partner hears about a mailbox: the domain -> address(es) map file of
 * the alert mailer, in Postfix map style ("example.com  ops@partner.example, noc@..."),
 * with "*.domain" (or ".domain") for every subdomain and "*" for the default contact.
 *
 * Pure: partnermap_parse() takes the file's bytes, never logs and does no I/O. A parsed
 * map is immutable; entries and their strings live as long as the map.
 */

#include <stdbool.h>
#include <stddef.h>

#include "policyd/config.h" /* struct pd_err */

#define PARTNERMAP_LINE_MAX 4096  /* one logical line, continuation lines included */
#define PARTNERMAP_RCPT_MAX 16    /* addresses of one entry */
#define PARTNERMAP_DOMAIN_MAX 253 /* a domain name */
#define PARTNERMAP_ADDR_MAX 254   /* an address (RFC 5321 path limit minus the brackets) */
#define PARTNERMAP_LOCAL_MAX 64   /* the local part of an address */

enum {
    PARTNERMAP_ERR_SYNTAX = -1,    /* NUL or control byte, overlong line, stray continuation */
    PARTNERMAP_ERR_DOMAIN = -2,    /* a key that is not a domain, "*.domain", ".domain" or "*" */
    PARTNERMAP_ERR_ADDRESS = -3,   /* a value that is not a plain address list */
    PARTNERMAP_ERR_DUPLICATE = -4, /* a key or an address of one entry given twice */
    PARTNERMAP_ERR_TOO_MANY = -5,  /* more than PARTNERMAP_RCPT_MAX addresses */
};

/* One line of the map. key is the normalised key: "example.com", "*.example.com" or "*". */
struct partnermap_entry {
    const char *key;
    const char *const *rcpt;
    size_t nrcpt;
};

struct partnermap;

int partnermap_parse(const char *buf, size_t len, struct partnermap **out, struct pd_err *err);
struct partnermap *partnermap_free(struct partnermap *m);
size_t partnermap_count(const struct partnermap *m);

/* The entry for a domain: exact key, then "*.parent" from the nearest parent up, then "*";
 * NULL when none applies. Any bytes are accepted; letters are compared without case. */
const struct partnermap_entry *partnermap_lookup(const struct partnermap *m, const char *domain,
                                                 size_t len);
/* The same for the domain of a mailbox (after its last '@'; none: the default entry). */
const struct partnermap_entry *partnermap_lookup_mailbox(const struct partnermap *m,
                                                         const char *mailbox, size_t len);

/* NULL when addr is a plain address fit for a sendmail argv and a header, else why not. */
const char *partnermap_check_address(const char *addr);
/* NULL when name is a domain name of letters, digits and '-' labels, else why not. */
const char *partnermap_check_domain(const char *name, size_t len);
const char *partnermap_strerror(int err);

#endif
