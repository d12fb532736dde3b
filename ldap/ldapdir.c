/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      ldapdir - LDAP connection and batched password-time searches (worker thread)
 * SYNOPSIS
 *      ldapdir_new(); ldapdir_free(d)
 *      ldapdir_search(d, params, items, n, stop, &report)
 *      ldapdir_item_clear(item); ldapdir_params_free(params)
 * DESCRIPTION
 *      ldapdir_search() answers, for each mailbox of a batch, which directory entry is
 *      its own and what its password-change attributes hold, with one subtree search:
 *      the filter template expanded for every mailbox (values escaped per RFC 4515) and
 *      joined in "(|...)", paged with the Simple Paged Results control (RFC 2696,
 *      LDAPDIR_PAGE_SIZE entries a page, non-critical), asking only for the template's
 *      key attributes and the time attributes (pwdChangedTime and pwdReset are
 *      operational: they are asked for by name). Each entry is given to the mailboxes
 *      whose expanded key values it holds (ASCII case-insensitive, as mail, uid and
 *      userPrincipalName match); a mailbox matched by two entries is AMBIGUOUS.
 *
 *      The connection is made on first use and kept; it is remade when the parameters
 *      change (a reload), and once at once when a kept connection turns out dead (AD
 *      drops idle connections after MaxConnIdleTime). libldap tries the URIs in order.
 *      StartTLS and ldaps:// demand a valid certificate (ca_file, or the system's CAs).
 *      After any error the connection is dropped, so the next call starts afresh.
 *
 *      Every wait is cut into 100 ms slices that watch the stop flag and the deadline
 *      (timeout_ms for the bind, and again for the whole batch search); an abandoned
 *      operation is abandoned on the server too. The connect itself is bounded by
 *      LDAP_OPT_NETWORK_TIMEOUT and StartTLS by LDAP_OPT_TIMEOUT.
 *
 *      Ownership: ldapdir owns its LDAP handle and a copy of the parameters it connected
 *      with (the password wiped when freed). Items belong to the caller; the search
 *      fills dn and the values with malloc'd copies that ldapdir_item_clear() frees.
 *      After an error the items' results are cleared: a partial answer must never be
 *      read as "not in the directory".
 * DIAGNOSTICS
 *      0 or a negative LDAPDIR_ERR_*, with a one-line message in report->err (libldap's
 *      text and the server's diagnostic message). Never logs: it runs off the loop thread.
 * SEE ALSO
 *      ldap(3), ldap_search_ext(3), RFC 2696, RFC 4515, ldapesc(3), poller(3)
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldap.h>

#include "ldap/ldapdir.h"
#include "ldap/ldapesc.h"
#include "policyd/util.h"

#define LDAPDIR_SLICE_MS 100
#define LDAPDIR_ATTRS_MAX (LDAPESC_KEYS_MAX + 5)

struct ldapdir {
    LDAP *ld;
    struct ldapdir_params conn; /* what ld was connected with (uri, tls, bind) */
};

/* One expected key value of one mailbox: an entry with it belongs to that mailbox. */
struct ldapdir_expect {
    unsigned key;
    char *val; /* raw, ASCII-lowercased */
    size_t len;
    size_t item;
};

/* The state of one batch search. */
struct ldapdir_batch {
    const struct ldapdir_params *p;
    struct ldapdir_item *items;
    size_t n;
    struct ldapesc_key keys[LDAPESC_KEYS_MAX];
    char *key_attr[LDAPESC_KEYS_MAX];
    size_t nkeys;
    struct ldapdir_expect *exp;
    size_t nexp;
    char *filter;
    char *attrs[LDAPDIR_ATTRS_MAX];
};

static uint64_t ldapdir_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *ldapdir_dup(const char *s)
{
    return xstrdup(s != NULL ? s : "");
}

static void ldapdir_wipe(char **s)
{
    if (*s != NULL)
        explicit_bzero(*s, strlen(*s));
    free(*s);
    *s = NULL;
}

void ldapdir_params_free(struct ldapdir_params *p)
{
    free(p->uri);
    free(p->ca_file);
    free(p->bind_dn);
    ldapdir_wipe(&p->bind_pw);
    free(p->base);
    free(p->filter);
    memset(p, 0, sizeof(*p));
}

static void ldapdir_value_clear(struct ldapdir_value *v)
{
    free(v->val);
    v->val = NULL;
    v->len = 0;
}

void ldapdir_item_clear(struct ldapdir_item *it)
{
    free(it->dn);
    it->dn = NULL;
    it->found = LDAPDIR_MISSING;
    ldapdir_value_clear(&it->pwd_last_set);
    ldapdir_value_clear(&it->pwd_changed_time);
    ldapdir_value_clear(&it->pwd_reset);
    ldapdir_value_clear(&it->shadow_last_change);
}

struct ldapdir *ldapdir_new(void)
{
    return xcalloc(1, sizeof(struct ldapdir));
}

static void ldapdir_disconnect(struct ldapdir *d)
{
    if (d->ld != NULL)
        ldap_unbind_ext(d->ld, NULL, NULL);
    d->ld = NULL;
    ldapdir_params_free(&d->conn);
}

struct ldapdir *ldapdir_free(struct ldapdir *d)
{
    if (d == NULL)
        return NULL;
    ldapdir_disconnect(d);
    free(d);
    return NULL;
}

static int ldapdir_fail(struct ldapdir_report *rep, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ldapdir_fail - rc, with a one-line message in rep->err (clipped to fit). */
static int ldapdir_fail(struct ldapdir_report *rep, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rep->err, sizeof(rep->err), fmt, ap);
    va_end(ap);
    return rc;
}

/* ldapdir_wait - ldap_result() in slices until msgid answers, the deadline passes or the
 * stop flag goes up; *res is the caller's to free. Returns the message type or an error. */
static int ldapdir_wait(LDAP *ld, int msgid, uint64_t deadline, const atomic_bool *stop,
                        LDAPMessage **res, struct ldapdir_report *rep)
{
    for (;;) {
        uint64_t now = ldapdir_now_ms(), left;
        struct timeval tv;
        int rc, code = LDAP_OTHER;

        *res = NULL;
        if (atomic_load(stop) || now >= deadline) {
            ldap_abandon_ext(ld, msgid, NULL, NULL);
            if (atomic_load(stop))
                return ldapdir_fail(rep, LDAPDIR_ERR_STOPPED, "stopped");
            return ldapdir_fail(rep, LDAPDIR_ERR_TIMEOUT, "no answer within ldap_timeout");
        }
        left = deadline - now < LDAPDIR_SLICE_MS ? deadline - now : LDAPDIR_SLICE_MS;
        tv.tv_sec = 0;
        tv.tv_usec = (suseconds_t)(left * 1000);
        rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, res);
        if (rc == 0)
            continue;
        if (rc > 0)
            return rc;
        ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &code);
        return ldapdir_fail(rep, LDAPDIR_ERR_LOST, "%s", ldap_err2string(code));
    }
}

/* ldapdir_result - the result code of a final message, with the server's diagnostic. */
static int ldapdir_result(LDAP *ld, LDAPMessage *msg, LDAPControl ***ctrls, int errcode,
                          const char *what, struct ldapdir_report *rep)
{
    char *diag = NULL, text[LDAPDIR_ERR_MAX];
    int code = LDAP_OTHER, rc;

    rc = ldap_parse_result(ld, msg, &code, NULL, &diag, NULL, ctrls, 0);
    if (rc != LDAP_SUCCESS)
        code = rc;
    if (code != LDAP_SUCCESS) {
        snprintf(text, sizeof(text), "%s%s%.120s", ldap_err2string(code),
                 diag != NULL && diag[0] != '\0' ? ": " : "", diag != NULL ? diag : "");
        ldap_memfree(diag);
        if (ctrls != NULL && *ctrls != NULL)
            ldap_controls_free(*ctrls);
        if (ctrls != NULL)
            *ctrls = NULL;
        return ldapdir_fail(rep, errcode, "%s: %.200s", what, text);
    }
    ldap_memfree(diag);
    return 0;
}

/* ldapdir_bind - a simple bind (anonymous when no DN), waited for in slices. */
static int ldapdir_bind(LDAP *ld, const struct ldapdir_params *p, const atomic_bool *stop,
                        struct ldapdir_report *rep)
{
    struct berval cred;
    LDAPMessage *res = NULL;
    int msgid = -1, rc;

    cred.bv_val = p->bind_pw;
    cred.bv_len = strlen(p->bind_pw);
    rc = ldap_sasl_bind(ld, p->bind_dn[0] != '\0' ? p->bind_dn : NULL, LDAP_SASL_SIMPLE, &cred,
                        NULL, NULL, &msgid);
    if (rc != LDAP_SUCCESS)
        return ldapdir_fail(rep, LDAPDIR_ERR_CONNECT, "bind: %s", ldap_err2string(rc));
    rc = ldapdir_wait(ld, msgid, ldapdir_now_ms() + (uint64_t)p->timeout_ms, stop, &res, rep);
    if (rc < 0)
        return rc == LDAPDIR_ERR_STOPPED ? rc : LDAPDIR_ERR_CONNECT;
    rc = ldapdir_result(ld, res, NULL, LDAPDIR_ERR_CONNECT, "bind", rep);
    ldap_msgfree(res);
    return rc;
}

/* ldapdir_connect - a new handle with our options, StartTLS, bind. */
static int ldapdir_connect(struct ldapdir *d, const struct ldapdir_params *p,
                           const atomic_bool *stop, struct ldapdir_report *rep)
{
    int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, rc;
    struct timeval tv;
    LDAP *ld = NULL;

    ldapdir_disconnect(d);
    if ((rc = ldap_initialize(&ld, p->uri)) != LDAP_SUCCESS)
        return ldapdir_fail(rep, LDAPDIR_ERR_CONNECT, "%s", ldap_err2string(rc));
    tv.tv_sec = (time_t)(p->timeout_ms / 1000);
    tv.tv_usec = (suseconds_t)(p->timeout_ms % 1000 * 1000);
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
    if (p->start_tls || strcasestr(p->uri, "ldaps://") != NULL) {
        ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
        if (p->ca_file[0] != '\0')
            ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, p->ca_file);
        ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
    }
    d->ld = ld;
    if (p->start_tls && (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
        ldapdir_disconnect(d);
        return ldapdir_fail(rep, LDAPDIR_ERR_CONNECT, "StartTLS: %s", ldap_err2string(rc));
    }
    if ((rc = ldapdir_bind(ld, p, stop, rep)) < 0) {
        ldapdir_disconnect(d);
        return rc;
    }
    d->conn.uri = ldapdir_dup(p->uri);
    d->conn.start_tls = p->start_tls;
    d->conn.ca_file = ldapdir_dup(p->ca_file);
    d->conn.bind_dn = ldapdir_dup(p->bind_dn);
    d->conn.bind_pw = ldapdir_dup(p->bind_pw);
    rep->connected = true;
    return 0;
}

static bool ldapdir_same_conn(const struct ldapdir *d, const struct ldapdir_params *p)
{
    return d->ld != NULL && strcmp(d->conn.uri, p->uri) == 0 && d->conn.start_tls == p->start_tls &&
           strcmp(d->conn.ca_file, p->ca_file) == 0 && strcmp(d->conn.bind_dn, p->bind_dn) == 0 &&
           strcmp(d->conn.bind_pw, p->bind_pw) == 0;
}

/* ---- one batch -------------------------------------------------------------------- */

static void ldapdir_lower(char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
}

static int ldapdir_expect_cmp(const void *a, const void *b)
{
    const struct ldapdir_expect *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c;

    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if ((c = memcmp(x->val, y->val, n)) != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* ldapdir_expand - the template (or a part) for one mailbox, in a new buffer. */
static int ldapdir_expand(const char *tmpl, size_t tlen, const struct ldapdir_item *it, bool escape,
                          char **out, size_t *outlen)
{
    int rc = ldapesc_expand(tmpl, tlen, it->mailbox, it->mailbox_len, escape, NULL, 0, outlen);

    *out = NULL;
    if (rc != LDAPESC_ERR_SPACE && rc != 0)
        return rc;
    *out = xmalloc(*outlen + 1);
    return ldapesc_expand(tmpl, tlen, it->mailbox, it->mailbox_len, escape, *out, *outlen + 1,
                          outlen);
}

/* ldapdir_expect_item - the expected key values of item i (raw, lowercased). */
static void ldapdir_expect_item(struct ldapdir_batch *b, size_t i)
{
    size_t k;

    for (k = 0; k < b->nkeys; k++) {
        struct ldapdir_expect *e = &b->exp[b->nexp];

        if (ldapdir_expand(b->keys[k].value, b->keys[k].value_len, &b->items[i], false, &e->val,
                           &e->len) < 0) {
            free(e->val);
            continue;
        }
        ldapdir_lower(e->val, e->len);
        e->key = (unsigned)k;
        e->item = i;
        b->nexp++;
    }
}

/* ldapdir_prepare_filter - "(|" + the template for each mailbox + ")", and what each
 * mailbox's entry must hold. A mailbox that cannot be looked up is marked NO_LOOKUP. */
static int ldapdir_prepare_filter(struct ldapdir_batch *b, struct ldapdir_report *rep)
{
    char **parts = xcalloc(b->n, sizeof(char *));
    size_t *plen = xcalloc(b->n, sizeof(size_t)), i, flen = 2, used = 0;
    int rc = 0;

    for (i = 0; i < b->n; i++) {
        int erc = ldapdir_expand(b->p->filter, strlen(b->p->filter), &b->items[i], true, &parts[i],
                                 &plen[i]);

        if (erc == LDAPESC_ERR_NO_DOMAIN) {
            b->items[i].found = LDAPDIR_NO_LOOKUP;
            continue;
        }
        if (erc < 0) {
            rc = ldapdir_fail(rep, LDAPDIR_ERR_FILTER, "ldap_query_filter: %s",
                              ldapesc_strerror(erc));
            break;
        }
        flen += plen[i];
        used++;
        ldapdir_expect_item(b, i);
    }
    if (rc == 0 && used > 0) {
        b->filter = xmalloc(flen + 2);
        memcpy(b->filter, "(|", 2);
        for (i = 0, flen = 2; i < b->n; i++) {
            if (parts[i] != NULL && b->items[i].found != LDAPDIR_NO_LOOKUP) {
                memcpy(b->filter + flen, parts[i], plen[i]);
                flen += plen[i];
            }
        }
        memcpy(b->filter + flen, ")", 2);
    }
    for (i = 0; i < b->n; i++)
        free(parts[i]);
    free(parts);
    free(plen);
    qsort(b->exp, b->nexp, sizeof(*b->exp), ldapdir_expect_cmp);
    return rc;
}

/* ldapdir_prepare - the key items, the OR-filter, the attributes to ask for. */
static int ldapdir_prepare(struct ldapdir_batch *b, struct ldapdir_report *rep)
{
    size_t k, na = 0;

    if (ldapesc_keys(b->p->filter, b->keys, &b->nkeys) < 0 || b->nkeys == 0)
        return ldapdir_fail(rep, LDAPDIR_ERR_FILTER, "bad ldap_query_filter");
    b->exp = xcalloc(b->n * b->nkeys + 1, sizeof(*b->exp));
    for (k = 0; k < b->nkeys; k++) {
        b->key_attr[k] = xstrndup(b->keys[k].attr, b->keys[k].attr_len);
        b->attrs[na++] = b->key_attr[k];
    }
    if (b->p->attr == LDAPTIME_AUTO || b->p->attr == LDAPTIME_PWDLASTSET)
        b->attrs[na++] = "pwdLastSet";
    if (b->p->attr == LDAPTIME_AUTO || b->p->attr == LDAPTIME_PWDCHANGEDTIME) {
        b->attrs[na++] = "pwdChangedTime";
        b->attrs[na++] = "pwdReset";
    }
    if (b->p->attr == LDAPTIME_AUTO || b->p->attr == LDAPTIME_SHADOWLASTCHANGE)
        b->attrs[na++] = "shadowLastChange";
    b->attrs[na] = NULL;
    return ldapdir_prepare_filter(b, rep);
}

static void ldapdir_batch_free(struct ldapdir_batch *b)
{
    size_t i;

    for (i = 0; i < b->nexp; i++)
        free(b->exp[i].val);
    free(b->exp);
    for (i = 0; i < b->nkeys; i++)
        free(b->key_attr[i]);
    free(b->filter);
}

/* ldapdir_copy_value - the first value of attr in entry e into v (replacing v). */
static void ldapdir_copy_value(LDAP *ld, LDAPMessage *e, const char *attr, struct ldapdir_value *v)
{
    struct berval **vals = ldap_get_values_len(ld, e, attr);

    ldapdir_value_clear(v);
    if (vals != NULL && vals[0] != NULL) {
        v->val = xmalloc(vals[0]->bv_len + 1);
        if (vals[0]->bv_len > 0)
            memcpy(v->val, vals[0]->bv_val, vals[0]->bv_len);
        v->val[vals[0]->bv_len] = '\0';
        v->len = vals[0]->bv_len;
    }
    ldap_value_free_len(vals);
}

/* ldapdir_assign - entry e (dn) belongs to item it. */
static void ldapdir_assign(LDAP *ld, LDAPMessage *e, const char *dn, struct ldapdir_item *it)
{
    if (it->found == LDAPDIR_FOUND && strcmp(it->dn, dn) != 0) {
        it->found = LDAPDIR_AMBIGUOUS;
        return;
    }
    if (it->found != LDAPDIR_MISSING)
        return;
    it->found = LDAPDIR_FOUND;
    it->dn = xstrdup(dn);
    ldapdir_copy_value(ld, e, "pwdLastSet", &it->pwd_last_set);
    ldapdir_copy_value(ld, e, "pwdChangedTime", &it->pwd_changed_time);
    ldapdir_copy_value(ld, e, "pwdReset", &it->pwd_reset);
    ldapdir_copy_value(ld, e, "shadowLastChange", &it->shadow_last_change);
}

/* ldapdir_entry - give one entry to every mailbox whose key value it holds. */
static void ldapdir_entry(struct ldapdir_batch *b, LDAP *ld, LDAPMessage *e,
                          struct ldapdir_report *rep)
{
    char *dn = ldap_get_dn(ld, e);
    bool mapped = false;
    size_t k, j;

    rep->entries++;
    for (k = 0; dn != NULL && k < b->nkeys; k++) {
        struct berval **vals = ldap_get_values_len(ld, e, b->key_attr[k]);

        for (j = 0; vals != NULL && vals[j] != NULL; j++) {
            struct ldapdir_expect want, *hit;
            size_t lo;

            want.key = (unsigned)k;
            want.len = vals[j]->bv_len;
            want.val = xmalloc(want.len + 1);
            if (want.len > 0)
                memcpy(want.val, vals[j]->bv_val, want.len);
            ldapdir_lower(want.val, want.len);
            hit = bsearch(&want, b->exp, b->nexp, sizeof(*b->exp), ldapdir_expect_cmp);
            if (hit != NULL) {
                lo = (size_t)(hit - b->exp);
                while (lo > 0 && ldapdir_expect_cmp(&b->exp[lo - 1], &want) == 0)
                    lo--;
                for (; lo < b->nexp && ldapdir_expect_cmp(&b->exp[lo], &want) == 0; lo++) {
                    ldapdir_assign(ld, e, dn, &b->items[b->exp[lo].item]);
                    mapped = true;
                }
            }
            free(want.val);
        }
        ldap_value_free_len(vals);
    }
    if (!mapped)
        rep->unmapped++;
    ldap_memfree(dn);
}

/* ldapdir_page - one page: send, wait, map entries, read the paging cookie. */
static int ldapdir_page(struct ldapdir_batch *b, LDAP *ld, struct berval *cookie, uint64_t deadline,
                        const atomic_bool *stop, struct ldapdir_report *rep)
{
    LDAPControl *page = NULL, *sctrls[2] = {NULL, NULL}, **rctrls = NULL, *pr;
    LDAPMessage *res = NULL, *m;
    struct timeval limit;
    int msgid = -1, rc;
    ber_int_t count = 0;

    if ((rc = ldap_create_page_control(ld, LDAPDIR_PAGE_SIZE, cookie, 0, &page)) != LDAP_SUCCESS)
        return ldapdir_fail(rep, LDAPDIR_ERR_SEARCH, "paging: %s", ldap_err2string(rc));
    sctrls[0] = page;
    limit.tv_sec = (time_t)((b->p->timeout_ms + 999) / 1000);
    limit.tv_usec = 0;
    rc = ldap_search_ext(ld, b->p->base, LDAP_SCOPE_SUBTREE, b->filter, b->attrs, 0, sctrls, NULL,
                         &limit, 0, &msgid);
    ldap_control_free(page);
    if (rc != LDAP_SUCCESS)
        return ldapdir_fail(rep, rc == LDAP_SERVER_DOWN ? LDAPDIR_ERR_LOST : LDAPDIR_ERR_SEARCH,
                            "search: %s", ldap_err2string(rc));
    rep->searches++;
    if ((rc = ldapdir_wait(ld, msgid, deadline, stop, &res, rep)) < 0)
        return rc;
    rc = 1; /* until the final result arrives */
    for (m = ldap_first_message(ld, res); m != NULL; m = ldap_next_message(ld, m)) {
        int type = ldap_msgtype(m);

        if (type == LDAP_RES_SEARCH_ENTRY) {
            ldapdir_entry(b, ld, m, rep);
        } else if (type == LDAP_RES_SEARCH_RESULT) {
            rc = ldapdir_result(ld, m, &rctrls, LDAPDIR_ERR_SEARCH, "search", rep);
            break;
        }
    }
    if (rc == 1)
        rc = ldapdir_fail(rep, LDAPDIR_ERR_SEARCH, "search: no final result");
    ber_memfree(cookie->bv_val);
    cookie->bv_val = NULL;
    cookie->bv_len = 0;
    if (rc == 0 && rctrls != NULL &&
        (pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL)) != NULL &&
        ldap_parse_pageresponse_control(ld, pr, &count, cookie) != LDAP_SUCCESS)
        rc = ldapdir_fail(rep, LDAPDIR_ERR_SEARCH, "paging: bad response control");
    ldap_controls_free(rctrls);
    ldap_msgfree(res);
    return rc;
}

/* ldapdir_run - the whole batch on a connected handle. */
static int ldapdir_run(struct ldapdir *d, const struct ldapdir_params *p,
                       struct ldapdir_item *items, size_t n, const atomic_bool *stop,
                       struct ldapdir_report *rep)
{
    struct ldapdir_batch b;
    struct berval cookie = {0, NULL};
    uint64_t deadline = ldapdir_now_ms() + (uint64_t)p->timeout_ms;
    size_t i;
    int rc;

    memset(&b, 0, sizeof(b));
    b.p = p;
    b.items = items;
    b.n = n;
    for (i = 0; i < n; i++)
        ldapdir_item_clear(&items[i]);
    rc = ldapdir_prepare(&b, rep);
    while (rc == 0 && b.filter != NULL) {
        rc = ldapdir_page(&b, d->ld, &cookie, deadline, stop, rep);
        if (cookie.bv_val == NULL || cookie.bv_len == 0)
            break;
    }
    ber_memfree(cookie.bv_val);
    ldapdir_batch_free(&b);
    if (rc < 0)
        for (i = 0; i < n; i++)
            ldapdir_item_clear(&items[i]);
    return rc;
}

int ldapdir_search(struct ldapdir *d, const struct ldapdir_params *p, struct ldapdir_item *items,
                   size_t n, const atomic_bool *stop, struct ldapdir_report *rep)
{
    bool fresh = false;
    int rc;

    memset(rep, 0, sizeof(*rep));
    if (!ldapdir_same_conn(d, p)) {
        if ((rc = ldapdir_connect(d, p, stop, rep)) < 0)
            return rc;
        fresh = true;
    }
    rc = ldapdir_run(d, p, items, n, stop, rep);
    if (rc == LDAPDIR_ERR_LOST && !fresh) {
        /* a kept connection may have been dropped by the server while idle: once more */
        if ((rc = ldapdir_connect(d, p, stop, rep)) < 0)
            return rc;
        rc = ldapdir_run(d, p, items, n, stop, rep);
    }
    if (rc < 0 && rc != LDAPDIR_ERR_FILTER)
        ldapdir_disconnect(d);
    return rc == LDAPDIR_ERR_LOST ? LDAPDIR_ERR_SEARCH : rc;
}
