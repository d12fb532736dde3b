/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      trackcli - drive ratelimit/lua/track.lua, or the module's PD.TRACK, from the command
 *      line (test tool)
 * SYNOPSIS
 *      trackcli [options] key USER SUFFIX
 *      trackcli [options] net ADDRESS
 *      trackcli [options] track NAME=VALUE...
 *      trackcli [options] batch < lines of NAME=VALUE...
 * DESCRIPTION
 *      Builds the script's call with the daemon's pure code (keys_normalise, keys_encode,
 *      keys_recipient, keys_network, trackargs_build), sends it with the synchronous
 *      hiredis API (allowed here: this is a test tool, never on the daemon's loop), and
 *      prints the reply as it lands in struct rl_signals: one "name=value" line per
 *      signal. "key" and "net" print a key name or a network and need no Redis.
 *
 *      With -m the call is "PD.TRACK 6 KEYS ARGV" of the Redis module
 *      (ratelimit/module/pdtrack.c, loaded with redis-server --loadmodule): the same keys
 *      and arguments as the script's "EVALSHA <sha> 6 ...", and the same reply. No script
 *      is read or loaded then; PD.API must answer the argv layout version TRACKARGS_API.
 *
 *      Options: -s SOCKET or -h HOST -p PORT (Redis), -f FILE (the script, default
 *      ratelimit/lua/track.lua; loaded with SCRIPT LOAD), -m (the module instead of the
 *      script; -f is then ignored), -P PREFIX (key prefix),
 *      -K HEX (32 hex digits of hash key; default 000102...0f), -D DOMAIN (default
 *      mailbox domain), -4 BITS, -6 BITS (network prefixes; 24 and 48).
 *
 *      Request names: user, now (ms), state (default RCPT), instance, rcpt, client,
 *      mismatch, size, count (recipient_count), lim_rcpt_hour, lim_rcpt_day,
 *      lim_msg_hour, lim_msg_day, src (0 default, 1 domain), dom_exempt, dom_profile,
 *      memory_days, rcpt_max, dom_max, nets_max, state_days.
 *
 *      batch reads one request per line and pipelines them, printing each reply's
 *      signals followed by an empty line; "-q" prints nothing but errors (load runs).
 * DIAGNOSTICS
 *      Exit 0 on success; 1 with "trackcli: ..." on stderr for a bad request, a Redis
 *      error reply, a lost connection, or (-m) a Redis without the module or with another
 *      argv version; 2 for bad usage.
 * SEE ALSO
 *      scripts/bench/script-diff.sh, scripts/bench/script-cost.sh, scripts/measure-memory.sh,
 *      tests/integ/test_module.sh, docs/ARCHITECTURE.md (Redis key schema).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "ratelimit/keys.h"
#include "ratelimit/signals.h"
#include "ratelimit/trackargs.h"

#define TRACKCLI_LINE_MAX 8192
#define TRACKCLI_PIPELINE 256

struct trackcli {
    const char *sock, *host, *script, *prefix, *domain;
    int port, v4, v6;
    bool quiet, module;
    uint8_t key[SIPHASH_KEY_LEN];
    redisContext *rc;
    char sha[41];
};

/* One request's own copies of the texts trackargs points at. */
struct trackcli_req {
    struct trackargs_in in;
    char mailbox[KEYS_MAILBOX_MAX + 1];
    char net[KEYS_NET_SIZE];
    char user[TRACKCLI_LINE_MAX], rcpt[TRACKCLI_LINE_MAX], client[TRACKCLI_LINE_MAX];
    char state[TRACKARGS_FIELD_MAX + 1], instance[TRACKARGS_FIELD_MAX + 1];
    char profile[TRACKARGS_FIELD_MAX + 1];
};

static void trackcli_die(const char *msg, const char *detail)
{
    fprintf(stderr, "trackcli: %s%s%s\n", msg, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static int trackcli_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void trackcli_parse_key(struct trackcli *c, const char *hex)
{
    int i, hi, lo;

    if (strlen(hex) != 2 * SIPHASH_KEY_LEN)
        trackcli_die("-K wants 32 hex digits", hex);
    for (i = 0; i < SIPHASH_KEY_LEN; i++) {
        if ((hi = trackcli_hexval(hex[2 * i])) < 0 || (lo = trackcli_hexval(hex[2 * i + 1])) < 0)
            trackcli_die("-K wants 32 hex digits", hex);
        c->key[i] = (uint8_t)(hi << 4 | lo);
    }
}

static void trackcli_copy(char *dst, size_t size, const char *v)
{
    if (strlen(v) >= size)
        trackcli_die("value too long", v);
    strcpy(dst, v);
}

static long long trackcli_ll(const char *name, const char *v)
{
    char *end;
    long long n = strtoll(v, &end, 10);

    if (*v == '\0' || *end != '\0')
        trackcli_die("not a number", name);
    return n;
}

/* trackcli_set - one NAME=VALUE of a request. */
static void trackcli_set(struct trackcli_req *r, const char *name, const char *v)
{
    struct trackargs_in *in = &r->in;
    static const struct {
        const char *name;
        size_t off;
    } nums[] = {
        {"now", offsetof(struct trackargs_in, now_ms)},
        {"size", offsetof(struct trackargs_in, size)},
        {"count", offsetof(struct trackargs_in, recipient_count)},
        {"lim_rcpt_hour", offsetof(struct trackargs_in, lim_rcpt_hour)},
        {"lim_rcpt_day", offsetof(struct trackargs_in, lim_rcpt_day)},
        {"lim_msg_hour", offsetof(struct trackargs_in, lim_msg_hour)},
        {"lim_msg_day", offsetof(struct trackargs_in, lim_msg_day)},
        {"memory_days", offsetof(struct trackargs_in, tuning.memory_days)},
        {"rcpt_max", offsetof(struct trackargs_in, tuning.rcpt_memory_max)},
        {"dom_max", offsetof(struct trackargs_in, tuning.dom_memory_max)},
        {"nets_max", offsetof(struct trackargs_in, tuning.nets_max)},
        {"state_days", offsetof(struct trackargs_in, tuning.state_days)},
    };
    size_t i;

    for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (strcmp(name, nums[i].name) == 0) {
            long long n = trackcli_ll(name, v);

            if (nums[i].off == offsetof(struct trackargs_in, now_ms))
                in->now_ms = n;
            else
                memcpy((char *)in + nums[i].off, &n, sizeof(n));
            return;
        }
    }
    if (strcmp(name, "user") == 0)
        trackcli_copy(r->user, sizeof(r->user), v);
    else if (strcmp(name, "state") == 0)
        trackcli_copy(r->state, sizeof(r->state), v);
    else if (strcmp(name, "instance") == 0)
        trackcli_copy(r->instance, sizeof(r->instance), v);
    else if (strcmp(name, "rcpt") == 0)
        trackcli_copy(r->rcpt, sizeof(r->rcpt), v);
    else if (strcmp(name, "client") == 0)
        trackcli_copy(r->client, sizeof(r->client), v);
    else if (strcmp(name, "dom_profile") == 0)
        trackcli_copy(r->profile, sizeof(r->profile), v);
    else if (strcmp(name, "mismatch") == 0)
        in->sender_mismatch = trackcli_ll(name, v) != 0;
    else if (strcmp(name, "dom_exempt") == 0)
        in->dom_exempt = trackcli_ll(name, v) != 0;
    else if (strcmp(name, "src") == 0)
        in->limit_src = (int)trackcli_ll(name, v);
    else
        trackcli_die("unknown request name", name);
}

/* trackcli_request - parse NAME=VALUE words into a request, derive hashes and network. */
static void trackcli_request(const struct trackcli *c, struct trackcli_req *r, int n,
                             char **words)
{
    size_t len;
    int i, rc;

    memset(r, 0, sizeof(*r));
    strcpy(r->state, "RCPT");
    for (i = 0; i < n; i++) {
        char *eq = strchr(words[i], '=');

        if (eq == NULL)
            trackcli_die("want NAME=VALUE", words[i]);
        *eq = '\0';
        trackcli_set(r, words[i], eq + 1);
    }
    rc = keys_normalise(r->user, strlen(r->user), c->domain, r->mailbox, sizeof(r->mailbox),
                        &len);
    if (rc < 0)
        trackcli_die("user", keys_strerror(rc));
    r->in.mailbox = r->mailbox;
    r->in.mailbox_len = len;
    r->in.hash_key = c->key;
    r->in.prefix = c->prefix;
    r->in.protocol_state = r->state;
    r->in.instance = r->instance;
    r->in.dom_profile = r->profile;
    if (r->rcpt[0] != '\0')
        r->in.have_rcpt = keys_recipient(r->rcpt, strlen(r->rcpt), c->key, &r->in.rcpt_hash,
                                         &r->in.dom_hash, &r->in.have_dom) == 0;
    keys_network(r->client, strlen(r->client), c->v4, c->v6, r->net);
    r->in.network = r->net;
}

/* trackcli_module_check - -m: PD.API must answer our argv layout version. */
static void trackcli_module_check(const struct trackcli *c)
{
    redisReply *rep = redisCommand(c->rc, "PD.API");

    if (rep == NULL)
        trackcli_die("connection lost", c->rc->errstr);
    if (rep->type == REDIS_REPLY_ERROR)
        trackcli_die("PD.API failed (is pdtrack.so loaded?)", rep->str);
    if (rep->type != REDIS_REPLY_INTEGER || rep->integer != strtoll(TRACKARGS_API, NULL, 10))
        trackcli_die("PD.API: not argv version " TRACKARGS_API, NULL);
    freeReplyObject(rep);
}

static void trackcli_connect(struct trackcli *c)
{
    struct timeval tv = {5, 0};
    FILE *f;
    char *src;
    long n;
    redisReply *rep;

    c->rc = c->sock ? redisConnectUnixWithTimeout(c->sock, tv)
                    : redisConnectWithTimeout(c->host, c->port, tv);
    if (c->rc == NULL || c->rc->err)
        trackcli_die("cannot connect to redis", c->rc ? c->rc->errstr : NULL);
    if (c->module) {
        trackcli_module_check(c);
        return;
    }
    if ((f = fopen(c->script, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
        (n = ftell(f)) < 0)
        trackcli_die("cannot read", c->script);
    rewind(f);
    src = malloc((size_t)n + 1);
    if (src == NULL || fread(src, 1, (size_t)n, f) != (size_t)n)
        trackcli_die("cannot read", c->script);
    fclose(f);
    rep = redisCommand(c->rc, "SCRIPT LOAD %b", src, (size_t)n);
    if (rep == NULL || rep->type != REDIS_REPLY_STRING || rep->len != 40)
        trackcli_die("SCRIPT LOAD failed", rep ? rep->str : c->rc->errstr);
    memcpy(c->sha, rep->str, 40);
    c->sha[40] = '\0';
    freeReplyObject(rep);
    free(src);
}

/* trackcli_print - map the reply with signals_set_* and print every signal. */
static void trackcli_print(const struct trackcli *c, redisReply *rep)
{
    struct rl_signals s;
    size_t i;

    if (rep == NULL)
        trackcli_die("connection lost", c->rc->errstr);
    if (rep->type == REDIS_REPLY_ERROR)
        trackcli_die("error reply", rep->str);
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0)
        trackcli_die("unexpected reply", NULL);
    signals_clear(&s);
    if (rep->element[0]->type == REDIS_REPLY_STRING &&
        signals_is_mark(rep->element[0]->str, rep->element[0]->len)) { /* every signal */
        if (rep->elements != 1 + SIGNALS_N)
            trackcli_die("unexpected reply", "a positional reply of another length");
        for (i = 1; i < rep->elements; i++) {
            const redisReply *v = rep->element[i];

            if (!signals_set_at(&s, i - 1, v->type == REDIS_REPLY_INTEGER, v->integer,
                                v->str != NULL ? v->str : "", v->str != NULL ? v->len : 0))
                trackcli_die("unexpected value of", signals_name(i - 1, NULL));
        }
    } else { /* name/value pairs: a blocked mailbox */
        if (rep->elements % 2 != 0)
            trackcli_die("unexpected reply", NULL);
        for (i = 0; i + 1 < rep->elements; i += 2) {
            redisReply *k = rep->element[i], *v = rep->element[i + 1];

            if (v->type == REDIS_REPLY_INTEGER)
                signals_set_int(&s, k->str, k->len, v->integer);
            else if (v->type == REDIS_REPLY_STRING)
                signals_set_str(&s, k->str, k->len, v->str, v->len);
        }
    }
    if (c->quiet)
        return;
#define TRACKCLI_PRINT_INT(n) printf("%s=%lld\n", #n, s.n);
    SIGNALS_INTS(TRACKCLI_PRINT_INT)
#undef TRACKCLI_PRINT_INT
#define TRACKCLI_PRINT_STR(n) printf("%s=%s\n", #n, s.n);
    SIGNALS_STRS(TRACKCLI_PRINT_STR)
#undef TRACKCLI_PRINT_STR
}

/* trackcli_send - queue one call: EVALSHA <sha> 6 ..., or with -m PD.TRACK 6 ... */
static void trackcli_send(const struct trackcli *c, struct trackcli_req *r)
{
    struct trackargs ta;
    const char *argv[TRACKARGS_MAX_ARGS];
    size_t argvlen[TRACKARGS_MAX_ARGS];
    int rc = trackargs_build(&ta, &r->in, c->module ? NULL : c->sha);

    if (rc < 0)
        trackcli_die("trackargs", trackargs_strerror(rc));
    if (c->module) { /* ta.argv starts at numkeys: 2 slots of EVALSHA <sha> left over */
        argv[0] = "PD.TRACK";
        argvlen[0] = strlen(argv[0]);
        memcpy(argv + 1, ta.argv, (size_t)ta.argc * sizeof(argv[0]));
        memcpy(argvlen + 1, ta.argvlen, (size_t)ta.argc * sizeof(argvlen[0]));
        rc = redisAppendCommandArgv(c->rc, ta.argc + 1, argv, argvlen);
    } else {
        rc = redisAppendCommandArgv(c->rc, ta.argc, ta.argv, ta.argvlen);
    }
    if (rc != REDIS_OK)
        trackcli_die("cannot send", c->rc->errstr);
}

static void trackcli_receive(const struct trackcli *c)
{
    void *rep = NULL;

    if (redisGetReply(c->rc, &rep) != REDIS_OK)
        trackcli_die("connection lost", c->rc->errstr);
    trackcli_print(c, rep);
    freeReplyObject(rep);
}

/* trackcli_batch - one request per stdin line, TRACKCLI_PIPELINE of them in flight. */
static void trackcli_batch(const struct trackcli *c)
{
    char *line = malloc(TRACKCLI_LINE_MAX);
    struct trackcli_req *r = malloc(sizeof(*r));
    char *words[64], *save;
    int n, pending = 0;

    if (line == NULL || r == NULL)
        trackcli_die("out of memory", NULL);
    while (fgets(line, TRACKCLI_LINE_MAX, stdin) != NULL) {
        n = 0;
        for (char *w = strtok_r(line, " \t\r\n", &save); w != NULL && n < 64;
             w = strtok_r(NULL, " \t\r\n", &save))
            words[n++] = w;
        if (n == 0)
            continue;
        trackcli_request(c, r, n, words);
        trackcli_send(c, r);
        if (++pending == TRACKCLI_PIPELINE) {
            for (; pending > 0; pending--) {
                trackcli_receive(c);
                if (!c->quiet)
                    printf("\n");
            }
        }
    }
    for (; pending > 0; pending--) {
        trackcli_receive(c);
        if (!c->quiet)
            printf("\n");
    }
    free(r);
    free(line);
}

static void trackcli_usage(void)
{
    fprintf(stderr, "usage: trackcli [-s SOCKET | -h HOST -p PORT] [-f SCRIPT | -m] "
                    "[-P PREFIX] [-K HEX] [-D DOMAIN] [-4 BITS] [-6 BITS] [-q]\n"
                    "                key USER SUFFIX | net ADDRESS | track NAME=VALUE... | batch\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct trackcli c = {.host = "127.0.0.1", .port = 6379, .script = "ratelimit/lua/track.lua",
                         .v4 = 24, .v6 = 48};
    int opt, i;

    for (i = 0; i < SIPHASH_KEY_LEN; i++)
        c.key[i] = (uint8_t)i;
    while ((opt = getopt(argc, argv, "s:h:p:f:mP:K:D:4:6:q")) != -1) {
        switch (opt) {
        case 's': c.sock = optarg; break;
        case 'h': c.host = optarg; break;
        case 'p': c.port = atoi(optarg); break;
        case 'f': c.script = optarg; break;
        case 'm': c.module = true; break;
        case 'P': c.prefix = optarg; break;
        case 'K': trackcli_parse_key(&c, optarg); break;
        case 'D': c.domain = optarg; break;
        case '4': c.v4 = atoi(optarg); break;
        case '6': c.v6 = atoi(optarg); break;
        case 'q': c.quiet = true; break;
        default: trackcli_usage();
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 1)
        trackcli_usage();
    if (strcmp(argv[0], "key") == 0 && argc == 3) {
        char mb[KEYS_MAILBOX_MAX + 1], enc[KEYS_ENC_SIZE], name[KEYS_NAME_SIZE];
        size_t mlen, elen, nlen;
        int rc;

        if ((rc = keys_normalise(argv[1], strlen(argv[1]), c.domain, mb, sizeof(mb), &mlen)) < 0 ||
            (rc = keys_encode(mb, mlen, c.key, enc, sizeof(enc), &elen)) < 0 ||
            (rc = keys_name(c.prefix, enc, elen, argv[2], name, sizeof(name), &nlen)) < 0)
            trackcli_die("key", keys_strerror(rc));
        printf("%s\n", name);
        return 0;
    }
    if (strcmp(argv[0], "net") == 0 && argc == 2) {
        char net[KEYS_NET_SIZE];

        keys_network(argv[1], strlen(argv[1]), c.v4, c.v6, net);
        printf("%s\n", net);
        return 0;
    }
    if (strcmp(argv[0], "track") == 0) {
        struct trackcli_req *r = malloc(sizeof(*r));

        trackcli_connect(&c);
        trackcli_request(&c, r, argc - 1, argv + 1);
        trackcli_send(&c, r);
        trackcli_receive(&c);
        free(r);
    } else if (strcmp(argv[0], "batch") == 0 && argc == 1) {
        trackcli_connect(&c);
        trackcli_batch(&c);
    } else {
        trackcli_usage();
    }
    redisFree(c.rc);
    return 0;
}
