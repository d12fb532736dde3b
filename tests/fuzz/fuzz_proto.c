/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_proto - libFuzzer target for the policy-protocol codec
 * SYNOPSIS
 *      build/fuzz/fuzz_proto [libFuzzer options] CORPUS...
 *      build/tests/replay_proto FILE...
 * DESCRIPTION
 *      Feeds the input to a parser twice: all at once, then in chunks whose sizes come
 *      from the input's own bytes, resetting after each request as the server does. Both
 *      runs must see the same requests and end the same way at the same offset. Every
 *      request is checked (values NUL-terminated, inside the parser's buffer, lengths
 *      matching, limits respected, request=smtpd_access_policy), errors must be sticky,
 *      and replies are formatted from request values and from the raw input, then checked
 *      against a simple model of proto_format_reply().
 * DIAGNOSTICS
 *      abort() on any violated invariant.
 * SEE ALSO
 *      policyd/proto.c, tests/fuzz/replay.c, tests/fuzz/corpus/proto/
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The outcome of one pass over the input, to compare whole against chunked feeding. */
struct outcome {
    uint64_t hash; /* FNV-1a over every request's attributes */
    unsigned nreq; /* complete requests */
    int last;      /* final proto_feed() code */
    size_t end;    /* input offset where the pass stopped */
    bool in_progress;
};

static void require(bool ok)
{
    if (!ok)
        abort();
}

static uint64_t fnv(uint64_t h, const void *s, size_t n)
{
    const unsigned char *c = s;

    while (n-- > 0)
        h = (h ^ *c++) * 0x100000001b3ULL;
    return h;
}

/* check_reply - proto_format_reply() against a model of its contract */
static void check_reply(const char *action, size_t len, size_t outlen)
{
    char out[PD_MAX_REPLY + 64];
    size_t i, cap = outlen < sizeof(out) - 16 ? outlen : sizeof(out) - 16;
    bool blank = true, bad = false;
    int want, rc;

    for (i = 0; i < len && len <= PD_MAX_REPLY; i++) {
        bad |= action[i] == '\r' || action[i] == '\n' || action[i] == '\0';
        blank &= action[i] == ' ' || action[i] == '\t';
    }
    if (len > PD_MAX_REPLY)
        want = PROTO_ERR_REPLY_TOO_LONG;
    else if (bad)
        want = PROTO_ERR_REPLY_BAD_CHAR;
    else if (blank)
        want = PROTO_ERR_REPLY_EMPTY;
    else if (len + 9 > cap || len + 9 > PD_MAX_REPLY)
        want = PROTO_ERR_REPLY_TOO_LONG;
    else
        want = (int)(len + 9);
    memset(out, '#', sizeof(out));
    rc = proto_format_reply(out, cap, action, len);
    require(rc == want);
    require(proto_strerror(rc) != NULL);
    if (rc > 0) {
        require(memcmp(out, "action=", 7) == 0 && memcmp(out + 7, action, len) == 0);
        require(out[rc - 2] == '\n' && out[rc - 1] == '\n');
        require(memchr(out, '\0', (size_t)rc) == NULL);
    }
    require(out[rc > 0 ? rc : 0] == '#');
}

/* check_request - invariants of a complete request; returns the hash extended by it */
static uint64_t check_request(const struct proto_parser *p, uint64_t h)
{
    const struct proto_request *r = proto_request(p);
    unsigned known = 0;
    int a;

    require(r != NULL && !proto_in_progress(p));
    require(r->nattrs <= PD_MAX_ATTRS && r->nunknown <= r->nattrs);
    require(r->attr[PROTO_A_REQUEST] != NULL &&
            strcmp(r->attr[PROTO_A_REQUEST], "smtpd_access_policy") == 0);
    for (a = 0; a < PROTO_A_COUNT; a++) {
        const char *v = r->attr[a];
        size_t n = r->attr_len[a];

        if (v == NULL) {
            require(n == 0);
            h = fnv(h, "-", 1);
            continue;
        }
        known++;
        require(v >= p->buf && v + n < p->buf + sizeof(p->buf));
        require(v[n] == '\0' && strlen(v) == n && memchr(v, '\n', n) == NULL);
        require(n + strlen(proto_attr_name((enum proto_attr)a)) + 1 <= PD_MAX_LINE);
        h = fnv(h, &n, sizeof(n));
        h = fnv(h, v, n);
        check_reply(v, n, n + 9 + (n & 1)); /* exact fit, or one byte to spare */
        check_reply(v, n, n + 8);           /* one byte short */
    }
    require(known + r->nunknown <= r->nattrs);
    h = fnv(h, &r->nattrs, sizeof(r->nattrs));
    return fnv(h, &r->nunknown, sizeof(r->nunknown));
}

/* next_chunk - a chunk size in 1..len taken from the input itself */
static size_t next_chunk(const uint8_t *data, size_t size, size_t off, size_t len)
{
    uint8_t b = data[(off * 31 + 7) % size];
    size_t n = b & 0x80 ? ((size_t)b << 5) : (size_t)(b & 0x1f) + 1;

    return n < len ? n : len;
}

/* pass - feed data whole (chunked false) or in chunks, as the server would */
static void pass(struct proto_parser *p, const uint8_t *data, size_t size, bool chunked,
                 struct outcome *o)
{
    const char *in = (const char *)data;
    size_t off = 0;

    memset(o, 0, sizeof(*o));
    o->hash = 0xcbf29ce484222325ULL;
    proto_init(p);
    while (off < size) {
        size_t n = chunked ? next_chunk(data, size, off, size - off) : size - off;
        size_t used = n + 1, again = 1;
        int rc = proto_feed(p, in + off, n, &used);

        require(used <= n);
        off += used;
        o->last = rc;
        if (rc == PROTO_REQUEST) {
            require(used > 0);
            o->hash = check_request(p, o->hash);
            o->nreq++;
            require(proto_feed(p, in + off, size - off, &again) == PROTO_ERR_STATE);
            require(again == 0 && proto_request(p) != NULL);
            proto_reset(p);
        } else if (rc < 0) {
            require(rc >= PROTO_ERR_STATE && rc != PROTO_ERR_STATE);
            require(proto_request(p) == NULL && !proto_in_progress(p));
            require(proto_feed(p, in, size, &again) == rc && again == 0);
            break;
        } else {
            require(rc == PROTO_NEED_MORE && used == n && proto_request(p) == NULL);
        }
    }
    o->end = off;
    o->in_progress = proto_in_progress(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_parser *p = malloc(sizeof(*p));
    struct outcome whole, chunked;

    require(p != NULL);
    pass(p, data, size, false, &whole);
    if (size > 0) {
        pass(p, data, size, true, &chunked);
        require(whole.hash == chunked.hash && whole.nreq == chunked.nreq);
        require(whole.last == chunked.last && whole.end == chunked.end);
        require(whole.in_progress == chunked.in_progress);
    }
    check_reply((const char *)data, size, PD_MAX_REPLY + (size & 7));
    free(p);
    return 0;
}
