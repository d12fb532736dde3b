/* SPDX-License-Identifier: MIT */
#ifndef PD_ALERTMSG_H
#define PD_ALERTMSG_H

/*
 * alertmsg - the text of an alert mail (RFC 5322 headers and a plain-text UTF-8 body) and
 * the one-line form of an alert item for the persistent queue. Pure: no I/O, no clock, no
 * logging; the caller passes the time and owns every returned buffer.
 *
 * Everything that comes from a request or an event (mailbox, reason, rules, who) is
 * untrusted: it never reaches a header except through alertmsg_clean() and RFC 2047
 * encoding, and never brings a line ending, a control character, a bidi override or an
 * invalid UTF-8 sequence into the body.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALERTMSG_MAILBOX_CLIP 256   /* bytes of a mailbox shown in the body */
#define ALERTMSG_SUBJECT_CLIP 100   /* bytes of a mailbox shown in the Subject */
#define ALERTMSG_FIELD_CLIP 200     /* bytes of reason, by, condition */
#define ALERTMSG_RULES_CLIP 2000    /* bytes of the rules (evidence) text */
#define ALERTMSG_REF_MAX 32         /* bytes of a reference id */
#define ALERTMSG_LIST_MAX 500       /* items listed in one digest or wave mail */
#define ALERTMSG_PACK_MAX 16384     /* bytes of one packed item */
#define ALERTMSG_NETS_MAX 8         /* client networks shown in a block or hold mail */

enum alertmsg_kind {
    ALERTMSG_BLOCK = 1,   /* one mailbox blocked */
    ALERTMSG_UNBLOCK = 2, /* one mailbox's sending restored */
    ALERTMSG_DIGEST = 3,  /* several events of one partner, past its hourly cap */
    ALERTMSG_WAVE = 4,    /* many blocks across the service: mass compromise */
    ALERTMSG_HOLD = 5,    /* one mailbox's mail held for review (one item) */
    ALERTMSG_DAILY = 6,   /* a partner's daily digest: still blocked, unblocked lately */
};

struct alerttpl;

/* One block or unblock. Strings are NUL-terminated, any bytes; NULL reads as "". */
struct alertmsg_item {
    bool unblock;
    const char *mailbox;
    const char *ref;
    const char *reason;    /* block: compromise | rate | manual | weak-password */
    const char *rules;     /* block: the evidence, "VOL-2 +3 text; NOV-1 +3 text" */
    const char *by;        /* auto, import, ldap, or an operator's name */
    const char *condition; /* block: how it lifts; unblock: why it was lifted */
    int score;
    int64_t at; /* unix seconds */
};

/* A client network the mailbox was seen from (unix seconds). */
struct alertmsg_net {
    const char *net; /* "192.0.2.0/24" */
    int64_t last, first;
};

/* What Redis holds about a blocked mailbox besides the event (block and hold mails). */
struct alertmsg_detail {
    long long refused; /* recipients refused since the block; < 0: unknown */
    long long held;    /* messages held; < 0: unknown */
    const struct alertmsg_net *nets; /* most recent first */
    size_t nnets;
};

struct alertmsg_in {
    enum alertmsg_kind kind;
    const char *from;          /* a checked address (partnermap_check_address) */
    const char *const *to;     /* checked addresses for the To: header */
    size_t nto;
    const char *helpdesk;      /* contact text for the body; "" or NULL: none */
    const char *partner;       /* digest: what the recipients are partner for ("example.com") */
    bool unblock_mail;         /* block: the partner will be told when the block lifts */
    int64_t now;               /* unix seconds, for Date: */
    int64_t window;            /* digest and wave: seconds the events span */
    long long cap;             /* digest: the hourly cap that was passed; wave: threshold */
    const struct alertmsg_item *items; /* block and unblock: exactly one */
    size_t nitems;
    size_t more;               /* digest and wave: events not listed */
    const struct alertmsg_detail *detail; /* block and hold: NULL when unknown */
    const struct alerttpl *tpl; /* the operator's template for this kind; NULL: built-in */
    const char *date;          /* daily: the digest's day ("2026-11-23") */
    const long long *refused;  /* daily: per item, recipients refused (0: not shown); or NULL */
    const long long *held;     /* daily: per item, messages held (0: not shown); or NULL */
};

/* The placeholders a template may use (NULL-terminated); alertmsg_build fills those that
 * the mail's kind knows and leaves the others empty. */
extern const char *const alertmsg_tpl_names[];

enum {
    ALERTMSG_ERR_ARG = -1,  /* missing from/to, wrong item count, unknown kind */
    ALERTMSG_ERR_PACK = -2, /* a packed item that does not parse */
};

/* alertmsg_build - the whole message, LF line ends, in a malloc'ed buffer (*out). */
int alertmsg_build(const struct alertmsg_in *in, char **out, size_t *outlen);

/* alertmsg_clean - src as printable UTF-8: controls, bidi overrides, line separators and
 * invalid sequences become '?'; clipped at a character boundary to fit dstlen - 4 bytes,
 * then "..." (dstlen >= 4). Returns dst. */
char *alertmsg_clean(char *dst, size_t dstlen, const char *src);

/* alertmsg_subject - the Subject of a block or unblock mail, cleaned but not encoded. */
void alertmsg_subject(const struct alertmsg_in *in, char *out, size_t outlen);

/* alertmsg_encode_header - "Name: value\n" with value RFC 2047-encoded when it is not plain
 * ASCII (or contains "=?"), folded to 76 columns; value must be clean (alertmsg_clean). */
char *alertmsg_encode_header(const char *name, const char *value, size_t *outlen);

/* Items in the persistent queue: one line of printable ASCII (percent-encoded fields).
 * unpack fills item with pointers into *storage (malloc'ed; the caller frees it). */
int alertmsg_item_pack(const struct alertmsg_item *item, char **out, size_t *outlen);
int alertmsg_item_unpack(const char *buf, size_t len, struct alertmsg_item *item,
                         char **storage);

const char *alertmsg_strerror(int err);

#endif
