/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      keys - mailbox normalisation, key names, recipient hashes, client networks
 * SYNOPSIS
 *      keys_normalise(user, len, default_domain, out, outsz, &outlen)
 *      keys_encode(mailbox, len, key, out, outsz, &outlen)
 *      keys_enc_is_safe(enc, len)
 *      keys_name(prefix, enc, enc_len, suffix, out, outsz, &outlen)
 *      keys_recipient(rcpt, len, key, &rcpt_hash, &dom_hash, &has_dom)
 *      keys_network(addr, len, v4_prefix, v6_prefix, out)
 *      keys_hex64(v, out); keys_strerror(err)
 * DESCRIPTION
 *      keys_normalise turns a sasl_username into the mailbox everything is counted under:
 *      ASCII whitespace trimmed at both ends, ASCII letters lowercased (other bytes kept
 *      as they are), and "@" + default_domain appended when the login has no '@' and a
 *      default domain is given (it is trimmed and lowercased the same way).
 *
 *      keys_encode makes the mailbox safe inside a Redis Cluster hash tag: bytes of
 *      [a-z0-9@._+-] are kept and every other byte becomes "%XX" (upper-case hex), so the
 *      encoding is injective and never contains '{', '}', '~', a space or a control byte.
 *      An encoding longer than KEYS_ENC_LITERAL_MAX is replaced by "h~" and the 32 hex
 *      digits of the keyed SipHash-2-4-128 of the mailbox; '~' never occurs in a literal
 *      encoding, so the two forms cannot collide.
 *      An empty mailbox has no encoding (KEYS_ERR_EMPTY): "{}" would be one key for all.
 *
 *      keys_name builds "<prefix><schema>:{<enc>}:<suffix>", e.g. "pd:1:{anna@x.tld}:st".
 *      It refuses an enc that keys_enc_is_safe rejects, so whatever a caller passes, a
 *      key name holds exactly one '{' and one '}' and no space or control byte.
 *
 *      keys_recipient trims and lowercases a recipient address and returns the keyed
 *      SipHash-2-4-64 of it and of its domain (the part after the last '@'; has_dom is
 *      false when there is none). Redis only ever sees these hashes.
 *
 *      keys_network reduces client_address to its network (IPv4 /v4_prefix, IPv6
 *      /v6_prefix, IPv4-mapped IPv6 as IPv4), as text such as "192.0.2.0/24" or
 *      "2001:db8:1::/48"; anything that does not parse gives "unknown".
 *
 *      Pure: no I/O, no allocation, no logging; every output is a caller buffer.
 * DIAGNOSTICS
 *      Functions return 0 or a negative KEYS_ERR_* code (keys_strerror names it); the
 *      output is unspecified after an error. Nothing is truncated.
 * SEE ALSO
 *      docs/ARCHITECTURE.md (Redis key schema), siphash(3), trackargs(3), ratelimit/lua/track.lua.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "ratelimit/keys.h"

#define KEYS_ADDR_MAX 64 /* longest client_address text worth parsing */
#define KEYS_HASH_CHUNK 64

static const char keys_hexdig[] = "0123456789abcdef";
static const char keys_hexdig_upper[] = "0123456789ABCDEF";

static bool keys_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static unsigned char keys_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* keys_trim - shrink [*s, *s + *len) to exclude leading and trailing ASCII whitespace. */
static void keys_trim(const char **s, size_t *len)
{
    while (*len > 0 && keys_is_space((unsigned char)(*s)[0])) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && keys_is_space((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

/* keys_is_literal - the bytes an encoding keeps as they are. */
static bool keys_is_literal(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '@' || c == '.' ||
           c == '_' || c == '+' || c == '-';
}

int keys_normalise(const char *user, size_t len, const char *default_domain, char *out,
                   size_t outsz, size_t *outlen)
{
    const char *dom = default_domain != NULL ? default_domain : "";
    size_t dlen = strlen(dom), total, i;

    keys_trim(&user, &len);
    keys_trim(&dom, &dlen);
    if (len == 0)
        return KEYS_ERR_EMPTY;
    if (dlen > 0 && memchr(user, '@', len) == NULL)
        total = len + 1 + dlen;
    else
        total = len, dlen = 0;
    if (total > KEYS_MAILBOX_MAX)
        return KEYS_ERR_TOO_LONG;
    if (total + 1 > outsz)
        return KEYS_ERR_SPACE;
    for (i = 0; i < len; i++)
        out[i] = (char)keys_lower((unsigned char)user[i]);
    if (dlen > 0) {
        out[len] = '@';
        for (i = 0; i < dlen; i++)
            out[len + 1 + i] = (char)keys_lower((unsigned char)dom[i]);
    }
    out[total] = '\0';
    *outlen = total;
    return 0;
}

/* keys_literal_len - the length of the literal encoding of [s, s + len). */
static size_t keys_literal_len(const char *s, size_t len)
{
    size_t n = 0, i;

    for (i = 0; i < len; i++)
        n += keys_is_literal((unsigned char)s[i]) ? 1 : 3;
    return n;
}

int keys_encode(const char *mailbox, size_t len, const uint8_t key[SIPHASH_KEY_LEN], char *out,
                size_t outsz, size_t *outlen)
{
    size_t n = keys_literal_len(mailbox, len), i, o = 0;
    uint8_t h[16];

    if (len == 0) /* "{}" would be one key shared by every caller that got here */
        return KEYS_ERR_EMPTY;
    if (n > KEYS_ENC_LITERAL_MAX) {
        if (outsz < KEYS_ENC_HASHED_LEN + 1)
            return KEYS_ERR_SPACE;
        siphash_128(key, mailbox, len, h);
        out[o++] = 'h';
        out[o++] = '~';
        for (i = 0; i < sizeof(h); i++) {
            out[o++] = keys_hexdig[h[i] >> 4];
            out[o++] = keys_hexdig[h[i] & 15];
        }
    } else {
        if (outsz < n + 1)
            return KEYS_ERR_SPACE;
        for (i = 0; i < len; i++) {
            unsigned char c = (unsigned char)mailbox[i];

            if (keys_is_literal(c)) {
                out[o++] = (char)c;
            } else {
                out[o++] = '%';
                out[o++] = keys_hexdig_upper[c >> 4];
                out[o++] = keys_hexdig_upper[c & 15];
            }
        }
    }
    out[o] = '\0';
    *outlen = o;
    return 0;
}

/* keys_enc_is_safe - true if enc could be keys_encode's output: only bytes that cannot end
 * or open a hash tag, split a command line or hide in a log. */
bool keys_enc_is_safe(const char *enc, size_t len)
{
    size_t i;

    if (len == 0 || len > KEYS_ENC_LITERAL_MAX)
        return false;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)enc[i];

        if (!keys_is_literal(c) && c != '%' && c != '~' && !(c >= 'A' && c <= 'F'))
            return false;
    }
    return true;
}

/* keys_prefix_ok - a prefix must not open or close a hash tag, nor hide in a log. */
static bool keys_prefix_ok(const char *prefix, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)prefix[i];

        if (c <= 0x20 || c >= 0x7f || c == '{' || c == '}')
            return false;
    }
    return true;
}

static bool keys_suffix_ok(const char *suffix, size_t len)
{
    size_t i;

    if (len == 0 || len > KEYS_SUFFIX_MAX)
        return false;
    for (i = 0; i < len; i++)
        if (suffix[i] < 'a' || suffix[i] > 'z')
            return false;
    return true;
}

int keys_name(const char *prefix, const char *enc, size_t enc_len, const char *suffix,
              char *out, size_t outsz, size_t *outlen)
{
    size_t plen, slen, schema_len, n;
    char *p;

    if (prefix == NULL)
        prefix = KEYS_PREFIX_DEFAULT;
    plen = strlen(prefix);
    slen = strlen(suffix);
    if (plen > KEYS_PREFIX_MAX || enc_len > KEYS_ENC_LITERAL_MAX)
        return KEYS_ERR_TOO_LONG;
    /* Not keys_encode's output: a '{', '}' or NUL in it would move or end the hash tag.
     * There is no dedicated code in keys.h; "empty name" is the nearest (there is no
     * usable name to build). */
    if (!keys_enc_is_safe(enc, enc_len))
        return KEYS_ERR_EMPTY;
    if (!keys_prefix_ok(prefix, plen))
        return KEYS_ERR_PREFIX;
    if (!keys_suffix_ok(suffix, slen))
        return KEYS_ERR_SUFFIX;
    /* prefix KEYS_SCHEMA ":{" enc "}:" suffix, by hand: snprintf took ~1,000
     * instructions per name, six names per request */
    schema_len = sizeof(KEYS_SCHEMA) - 1;
    n = plen + schema_len + 2 + enc_len + 2 + slen;
    if (n >= outsz)
        return KEYS_ERR_SPACE;
    p = mempcpy(out, prefix, plen);
    p = mempcpy(p, KEYS_SCHEMA ":{", schema_len + 2);
    p = mempcpy(p, enc, enc_len);
    p = mempcpy(p, "}:", 2);
    p = mempcpy(p, suffix, slen);
    *p = '\0';
    *outlen = n;
    return 0;
}

/* keys_hash_lower - feed [s, s + len) lowercased into a SipHash state, a chunk at a time. */
static void keys_hash_lower(struct siphash_state *st, const char *s, size_t len)
{
    char buf[KEYS_HASH_CHUNK];
    size_t i, n;

    while (len > 0) {
        n = len < sizeof(buf) ? len : sizeof(buf);
        for (i = 0; i < n; i++)
            buf[i] = (char)keys_lower((unsigned char)s[i]);
        siphash_update(st, buf, n);
        s += n;
        len -= n;
    }
}

int keys_recipient(const char *rcpt, size_t len, const uint8_t key[SIPHASH_KEY_LEN],
                   uint64_t *rcpt_hash, uint64_t *dom_hash, bool *has_dom)
{
    struct siphash_state st;
    const char *at;
    size_t dlen;

    keys_trim(&rcpt, &len);
    if (len == 0)
        return KEYS_ERR_EMPTY;
    siphash_init(&st, key, 8);
    keys_hash_lower(&st, rcpt, len);
    *rcpt_hash = siphash_final64(&st);
    at = memrchr(rcpt, '@', len);
    dlen = at != NULL ? len - (size_t)(at + 1 - rcpt) : 0;
    *has_dom = dlen > 0;
    *dom_hash = 0;
    if (*has_dom) {
        siphash_init(&st, key, 8);
        keys_hash_lower(&st, at + 1, dlen);
        *dom_hash = siphash_final64(&st);
    }
    return 0;
}

/* keys_mask - keep the first 'bits' bits of an address of 'n' bytes, zero the rest. */
static void keys_mask(unsigned char *a, size_t n, int bits)
{
    size_t i;

    for (i = 0; i < n; i++) {
        int keep = bits - (int)(8 * i);

        if (keep <= 0)
            a[i] = 0;
        else if (keep < 8)
            a[i] &= (unsigned char)(0xff << (8 - keep));
    }
}

static int keys_clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void keys_network(const char *addr, size_t len, int v4_prefix, int v6_prefix,
                  char out[KEYS_NET_SIZE])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char buf[KEYS_ADDR_MAX], txt[INET6_ADDRSTRLEN];
    unsigned char a[16];
    const char *pct;

    strcpy(out, "unknown");
    keys_trim(&addr, &len);
    if ((pct = memchr(addr, '%', len)) != NULL) /* an IPv6 zone: "fe80::1%eth0" */
        len = (size_t)(pct - addr);
    if (len == 0 || len >= sizeof(buf) || memchr(addr, '\0', len) != NULL)
        return;
    memcpy(buf, addr, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, a) == 1) {
        v4_prefix = keys_clamp(v4_prefix, 0, 32);
    } else if (inet_pton(AF_INET6, buf, a) == 1) {
        if (memcmp(a, mapped, sizeof(mapped)) != 0) {
            v6_prefix = keys_clamp(v6_prefix, 0, 128);
            keys_mask(a, 16, v6_prefix);
            if (inet_ntop(AF_INET6, a, txt, sizeof(txt)) != NULL)
                snprintf(out, KEYS_NET_SIZE, "%s/%d", txt, v6_prefix);
            return;
        }
        memmove(a, a + 12, 4);
        v4_prefix = keys_clamp(v4_prefix, 0, 32);
    } else {
        return;
    }
    keys_mask(a, 4, v4_prefix);
    snprintf(out, KEYS_NET_SIZE, "%u.%u.%u.%u/%d", a[0], a[1], a[2], a[3], v4_prefix);
}

void keys_hex64(uint64_t v, char out[KEYS_HEX64_SIZE])
{
    int i;

    for (i = 15; i >= 0; i--, v >>= 4)
        out[i] = keys_hexdig[v & 15];
    out[16] = '\0';
}

const char *keys_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case KEYS_ERR_EMPTY:
        return "empty name";
    case KEYS_ERR_TOO_LONG:
        return "name too long";
    case KEYS_ERR_SPACE:
        return "output buffer too small";
    case KEYS_ERR_SUFFIX:
        return "bad key suffix";
    case KEYS_ERR_PREFIX:
        return "bad key prefix";
    default:
        return "unknown keys error";
    }
}
