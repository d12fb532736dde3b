/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_keys - libFuzzer target for mailbox normalisation, key names, recipient
 *      hashes, client networks and the tracking script's argv
 * SYNOPSIS
 *      build/fuzz/fuzz_keys [libFuzzer options] CORPUS...
 *      build/tests/replay_keys FILE...
 * DESCRIPTION
 *      Input: three header bytes (flags, IPv4 prefix, IPv6 prefix as signed bytes), then
 *      up to five fields separated by "|#|": login, recipient, client address, default
 *      domain, key prefix. Missing fields are empty; the default domain and prefix are
 *      cut at their first NUL (they are C strings in the daemon). Checks:
 *        - keys_normalise: NUL-terminated, within KEYS_MAILBOX_MAX, no ASCII capital, no
 *          ASCII whitespace at either end, idempotent, blind to ASCII case of the login;
 *          refuses only empty or overlong logins;
 *        - keys_encode: keys_enc_is_safe holds; a literal encoding decodes back to the
 *          mailbox (so it is injective); a longer one is exactly "h~" + SipHash-128;
 *        - keys_name: for every suffix, with the default and with the fuzzed prefix,
 *          exactly one '{' and one '}', only printable non-space ASCII, and the layout
 *          "<prefix>1:{<enc>}:<suffix>"; a prefix is refused iff it is bad; the raw
 *          login passed as an encoding is refused unless it is safe;
 *        - keys_recipient: blind to ASCII case, has_dom iff something follows the last
 *          '@', the domain hash is the recipient hash of the domain alone;
 *        - keys_network: "unknown" or "<address>/<bits>" that parses back, with the bits
 *          clamped, and that maps to itself;
 *        - trackargs_build: a valid mailbox always builds, with 29 arguments whose six
 *          key names obey the hash-tag rule and whose lengths match.
 *      Any violation aborts; the sanitisers catch memory and UB errors.
 * SEE ALSO
 *      ratelimit/keys.c, ratelimit/trackargs.c, tests/unit/test_keys.c,
 *      tests/fuzz/corpus/keys/
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit/keys.h"
#include "ratelimit/signals.h"
#include "ratelimit/siphash.h"
#include "ratelimit/trackargs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_SEP "|#|"
#define FZ_NFIELDS 5
#define FZ_TEXT_MAX 2048 /* default domain and prefix: C strings, cut here */

enum { FZ_LOGIN, FZ_RCPT, FZ_ADDR, FZ_DOMAIN, FZ_PREFIX };

static const uint8_t fz_key[SIPHASH_KEY_LEN] = {0xde, 0xad, 0xbe, 0xef, 1, 2,  3,  4,
                                                5,    6,    7,    8,    9, 10, 11, 12};

static const char *const fz_suffixes[] = {
    KEYS_SUFFIX_STATE, KEYS_SUFFIX_RCPTS, KEYS_SUFFIX_DOMS,
    KEYS_SUFFIX_NETS,  KEYS_SUFFIX_OVR,   KEYS_SUFFIX_BLOCK,
};

struct fz_field {
    const char *p;
    size_t n;
};

static void require(bool ok)
{
    if (!ok)
        abort();
}

static bool fz_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* fz_flip_case - the ASCII letters of [s, s + n) in the other case, into out. */
static void fz_flip_case(const char *s, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 32);
        else if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        out[i] = (char)c;
    }
}

/* fz_cstr - a field as the daemon would see a C string: up to its first NUL, capped. */
static void fz_cstr(const struct fz_field *f, char *out, size_t outsz)
{
    size_t n = f->n < outsz - 1 ? f->n : outsz - 1;
    const char *nul = memchr(f->p, '\0', n);

    if (nul != NULL)
        n = (size_t)(nul - f->p);
    memcpy(out, f->p, n);
    out[n] = '\0';
}

/* fz_trimmed_len - the length of s once ASCII whitespace is trimmed from both ends. */
static size_t fz_trimmed_len(const char *s, size_t n)
{
    size_t a = 0;

    while (a < n && fz_space((unsigned char)s[a]))
        a++;
    while (n > a && fz_space((unsigned char)s[n - 1]))
        n--;
    return n - a;
}

/* check_key_name - the hash-tag rule and the layout of one key name. */
static void check_key_name(const char *k, size_t len, const char *prefix, const char *enc,
                           size_t enc_len, const char *suffix)
{
    size_t i, open = 0, close = 0, plen = strlen(prefix), slen = strlen(suffix);

    require(len < KEYS_NAME_SIZE && strlen(k) == len);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)k[i];

        require(c > 0x20 && c < 0x7f);
        open += c == '{';
        close += c == '}';
    }
    require(open == 1 && close == 1);
    require(len == plen + 3 + enc_len + 2 + slen);
    require(memcmp(k, prefix, plen) == 0);
    require(memcmp(k + plen, KEYS_SCHEMA ":{", 3) == 0);
    require(memcmp(k + plen + 3, enc, enc_len) == 0);
    require(memcmp(k + plen + 3 + enc_len, "}:", 2) == 0);
    require(strcmp(k + len - slen, suffix) == 0);
}

/* fz_prefix_ok - the prefix rule of keys_name, restated. */
static bool fz_prefix_ok(const char *p)
{
    size_t i, n = strlen(p);

    if (n > KEYS_PREFIX_MAX)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c <= 0x20 || c >= 0x7f || c == '{' || c == '}')
            return false;
    }
    return true;
}

static int fz_hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* check_encode - keys_encode of one mailbox, and its key names. */
static void check_encode(const char *m, size_t mlen, const char *prefix)
{
    char enc[KEYS_ENC_SIZE], dec[KEYS_ENC_SIZE], name[KEYS_NAME_SIZE];
    size_t elen, nlen, i, d = 0, s;
    bool prefix_ok = fz_prefix_ok(prefix);
    int rc;

    require(keys_encode(m, mlen, fz_key, enc, sizeof(enc), &elen) == 0);
    require(elen > 0 && elen <= KEYS_ENC_LITERAL_MAX && enc[elen] == '\0');
    require(keys_enc_is_safe(enc, elen));
    if (elen == KEYS_ENC_HASHED_LEN && enc[0] == 'h' && enc[1] == '~') {
        uint8_t h[16];
        static const char dig[] = "0123456789abcdef";

        siphash_128(fz_key, m, mlen, h);
        for (i = 0; i < 16; i++)
            require(enc[2 + 2 * i] == dig[h[i] >> 4] && enc[3 + 2 * i] == dig[h[i] & 15]);
    } else {
        /* a literal encoding: decode it back */
        require(memchr(enc, '~', elen) == NULL);
        for (i = 0; i < elen; d++) {
            if (enc[i] == '%') {
                int hi, lo;

                require(i + 2 < elen);
                hi = fz_hexval(enc[i + 1]);
                lo = fz_hexval(enc[i + 2]);
                require(hi >= 0 && lo >= 0);
                dec[d] = (char)(hi << 4 | lo);
                i += 3;
            } else {
                dec[d] = enc[i++];
            }
        }
        require(d == mlen && memcmp(dec, m, mlen) == 0);
    }
    for (s = 0; s < sizeof(fz_suffixes) / sizeof(fz_suffixes[0]); s++) {
        require(keys_name(NULL, enc, elen, fz_suffixes[s], name, sizeof(name), &nlen) == 0);
        check_key_name(name, nlen, KEYS_PREFIX_DEFAULT, enc, elen, fz_suffixes[s]);
        rc = keys_name(prefix, enc, elen, fz_suffixes[s], name, sizeof(name), &nlen);
        require((rc == 0) == prefix_ok);
        if (rc == 0)
            check_key_name(name, nlen, prefix, enc, elen, fz_suffixes[s]);
    }
}

/* check_normalise - keys_normalise of the login, then encode and name the mailbox. */
static void check_normalise(const struct fz_field *login, const char *dom, const char *prefix,
                            char *mbox, size_t *mlen)
{
    char again[KEYS_MAILBOX_MAX + 1], *flip = malloc(login->n + 1);
    size_t i, alen, tlen = fz_trimmed_len(login->p, login->n);
    int rc = keys_normalise(login->p, login->n, dom, mbox, KEYS_MAILBOX_MAX + 1, mlen);

    require(flip != NULL);
    if (tlen == 0)
        require(rc == KEYS_ERR_EMPTY);
    else if (tlen > KEYS_MAILBOX_MAX)
        require(rc == KEYS_ERR_TOO_LONG);
    else
        require(rc == 0 || rc == KEYS_ERR_TOO_LONG); /* too long with the default domain */
    fz_flip_case(login->p, login->n, flip);
    if (rc == 0) {
        require(*mlen > 0 && *mlen <= KEYS_MAILBOX_MAX && mbox[*mlen] == '\0');
        require(*mlen >= tlen);
        require(!fz_space((unsigned char)mbox[0]) && !fz_space((unsigned char)mbox[*mlen - 1]));
        for (i = 0; i < *mlen; i++)
            require(!(mbox[i] >= 'A' && mbox[i] <= 'Z'));
        /* idempotent */
        require(keys_normalise(mbox, *mlen, dom, again, sizeof(again), &alen) == 0);
        require(alen == *mlen && memcmp(again, mbox, alen) == 0);
        /* blind to ASCII case */
        require(keys_normalise(flip, login->n, dom, again, sizeof(again), &alen) == 0);
        require(alen == *mlen && memcmp(again, mbox, alen) == 0);
        check_encode(mbox, *mlen, prefix);
    } else {
        require(keys_normalise(flip, login->n, dom, again, sizeof(again), &alen) == rc);
        *mlen = 0;
    }
    free(flip);
}

/* check_raw_enc - the login handed to keys_name as if it were an encoding. */
static void check_raw_enc(const struct fz_field *login)
{
    char name[KEYS_NAME_SIZE];
    size_t nlen;
    int rc = keys_name(NULL, login->p, login->n, "st", name, sizeof(name), &nlen);

    if (!keys_enc_is_safe(login->p, login->n))
        require(rc < 0);
    else
        require(rc == 0);
    if (rc == 0)
        check_key_name(name, nlen, KEYS_PREFIX_DEFAULT, login->p, login->n, "st");
}

/* check_recipient - keys_recipient, its case blindness and its domain hash. */
static void check_recipient(const struct fz_field *r)
{
    uint64_t rh, dh, rh2, dh2, ddh, ddh2;
    bool has, has2, has3;
    char *flip = malloc(r->n + 1);
    size_t tlen = fz_trimmed_len(r->p, r->n);
    int rc = keys_recipient(r->p, r->n, fz_key, &rh, &dh, &has);
    const char *at, *end;

    require(flip != NULL);
    require(rc == (tlen == 0 ? KEYS_ERR_EMPTY : 0));
    if (rc == 0) {
        fz_flip_case(r->p, r->n, flip);
        require(keys_recipient(flip, r->n, fz_key, &rh2, &dh2, &has2) == 0);
        require(rh == rh2 && dh == dh2 && has == has2);
        /* the domain is what follows the last '@' once the end is trimmed */
        at = memrchr(r->p, '@', r->n);
        end = r->p + r->n;
        while (end > r->p && fz_space((unsigned char)end[-1]))
            end--;
        require(has == (at != NULL && at + 1 < end));
        if (!has) {
            require(dh == 0);
        } else if (!fz_space((unsigned char)at[1])) {
            /* and it hashes as a recipient of its own (unless leading whitespace, kept in
             * the domain hash, would be trimmed by the second call) */
            require(keys_recipient(at + 1, (size_t)(end - at - 1), fz_key, &ddh, &ddh2, &has3) ==
                    0);
            require(ddh == dh);
        }
    }
    free(flip);
}

/* check_network - keys_network of the address: "unknown" or a network that parses back
 * and maps to itself. */
static void check_network(const struct fz_field *a, int v4, int v6, char out[KEYS_NET_SIZE])
{
    char again[KEYS_NET_SIZE], addr[KEYS_NET_SIZE];
    unsigned char bin[16];
    const char *slash;
    int bits, w4 = v4 < 0 ? 0 : v4 > 32 ? 32 : v4, w6 = v6 < 0 ? 0 : v6 > 128 ? 128 : v6;
    size_t n;

    memset(out, 'Z', KEYS_NET_SIZE);
    keys_network(a->p, a->n, v4, v6, out);
    require(memchr(out, '\0', KEYS_NET_SIZE) != NULL);
    if (strcmp(out, "unknown") == 0)
        return;
    slash = strchr(out, '/');
    require(slash != NULL);
    n = (size_t)(slash - out);
    memcpy(addr, out, n);
    addr[n] = '\0';
    bits = atoi(slash + 1);
    if (inet_pton(AF_INET, addr, bin) == 1)
        require(bits == w4);
    else
        require(inet_pton(AF_INET6, addr, bin) == 1 && bits == w6);
    keys_network(addr, n, v4, v6, again);
    require(strcmp(again, out) == 0);
}

/* check_trackargs - a mailbox that normalised always builds a well-formed argv. */
static void check_trackargs(const char *mbox, size_t mlen, const char *net,
                            const struct fz_field *rcpt, const struct fz_field *addr)
{
    static const char sha[] = "0123456789abcdef0123456789abcdef01234567";
    struct trackargs *ta = malloc(sizeof(*ta));
    struct trackargs_in in;
    char state[TRACKARGS_FIELD_MAX + 2];
    int i, rc;

    require(ta != NULL);
    memset(&in, 0, sizeof(in));
    in.mailbox = mbox;
    in.mailbox_len = mlen;
    in.hash_key = fz_key;
    in.network = net;
    fz_cstr(rcpt, state, sizeof(state)); /* any text as the state: at most 257 bytes */
    in.protocol_state = state;
    in.instance = "ABCDEF";
    in.have_rcpt = rcpt->n > 0;
    in.rcpt_hash = rcpt->n;
    in.size = (long long)addr->n;
    rc = trackargs_build(ta, &in, rcpt->n % 2 ? sha : NULL);
    if (strlen(state) > TRACKARGS_FIELD_MAX) {
        require(rc == TRACKARGS_ERR_FIELD);
    } else {
        int base = rcpt->n % 2 ? 3 : 1;

        require(rc == 0);
        require(ta->argc == base + TRACKARGS_NKEYS + TRACKARGS_NARGV);
        for (i = 0; i < ta->argc; i++)
            require(ta->argvlen[i] == strlen(ta->argv[i]));
        for (i = 0; i < TRACKARGS_NKEYS; i++) {
            const char *k = ta->argv[base + i], *o = strchr(k, '{'), *c = strchr(k, '}');

            require(o != NULL && c != NULL && o < c);
            require(strchr(o + 1, '{') == NULL && strchr(c + 1, '}') == NULL);
            require(strcmp(c + 2, fz_suffixes[i]) == 0);
        }
        require(strcmp(ta->argv[base + TRACKARGS_NKEYS + 6], net) == 0);
    }
    free(ta);
}

/* fz_split - the fields of the input after the header. */
static void fz_split(const char *p, size_t n, struct fz_field f[FZ_NFIELDS])
{
    size_t k;

    for (k = 0; k < FZ_NFIELDS; k++) {
        const char *sep = k + 1 < FZ_NFIELDS ? memmem(p, n, FZ_SEP, 3) : NULL;
        size_t len = sep != NULL ? (size_t)(sep - p) : n;

        f[k].p = p;
        f[k].n = len;
        if (sep == NULL) {
            p += n;
            n = 0;
        } else {
            p += len + 3;
            n -= len + 3;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_field f[FZ_NFIELDS];
    char mbox[KEYS_MAILBOX_MAX + 1], net[KEYS_NET_SIZE];
    char dom[FZ_TEXT_MAX], prefix[FZ_TEXT_MAX];
    size_t mlen = 0;
    uint8_t flags;
    int v4, v6;

    if (size < 3)
        return 0;
    flags = data[0];
    /* mostly the usual prefixes, sometimes any value (clamping) */
    v4 = flags & 1 ? (int)(int8_t)data[1] : 24 + (data[1] % 9);
    v6 = flags & 2 ? (int)(int8_t)data[2] * 2 : 48 + (data[2] % 81);
    fz_split((const char *)data + 3, size - 3, f);
    fz_cstr(&f[FZ_DOMAIN], dom, sizeof(dom));
    fz_cstr(&f[FZ_PREFIX], prefix, sizeof(prefix));
    if (f[FZ_PREFIX].n == 0 && !(flags & 4))
        strcpy(prefix, KEYS_PREFIX_DEFAULT);

    check_normalise(&f[FZ_LOGIN], flags & 8 ? NULL : dom, prefix, mbox, &mlen);
    check_raw_enc(&f[FZ_LOGIN]);
    check_recipient(&f[FZ_RCPT]);
    check_network(&f[FZ_ADDR], v4, v6, net);
    if (mlen > 0)
        check_trackargs(mbox, mlen, net, &f[FZ_RCPT], &f[FZ_ADDR]);
    return 0;
}
