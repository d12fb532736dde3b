/* SPDX-License-Identifier: MIT */
#ifndef PD_STATUSCMD_H
#define PD_STATUSCMD_H

/*
 * statuscmd - the inside of the status socket, shared by its files only (status.c: the
 * transport; statuscmd.c: the read commands; statusshow.c: show; statuswrite.c: block, unblock, overrides and
 * the audit trail; metrics.c: the Prometheus text). Not for other modules: they use
 * status.h.
 *
 * One struct status_op is one request being answered. status.c makes it (the request
 * parsed, the caller's role known) and hands it to statuscmd_run(); the command answers
 * exactly once with status_op_done() or status_op_error(), now or from a Redis callback,
 * which writes the reply (unless the connection has gone) and frees the op. The op holds
 * a reference on its connection and on the config it started with.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "policyd/jsonreq.h"
#include "policyd/sanitize.h"
#include "ratelimit/keys.h"

struct pd_server;
struct pd_config;
struct status_conn;
struct status_listener;
struct track_reply;

/* The block reasons of block.lua, for counters; anything else counts as "other". */
enum status_reason {
    STATUS_R_COMPROMISE,
    STATUS_R_RATE,
    STATUS_R_MANUAL,
    STATUS_R_WEAK_PASSWORD,
    STATUS_R_OTHER,
    STATUS_NREASONS
};

struct status_stats {
    uint64_t conns_accepted;
    uint64_t conns_refused;  /* over STATUS_MAX_CONNS */
    uint64_t requests;
    uint64_t by_cmd[JSONREQ_NCMDS];
    uint64_t errors;         /* requests answered with an error, denials included */
    uint64_t denied;         /* beyond the caller's role, or a wrong token */
    uint64_t audit_written, audit_failed;
    uint64_t events[3][STATUS_NREASONS]; /* [PD_EVENT_BLOCK or _UNBLOCK][reason] */
};

struct status {
    struct pd_server *srv;
    uv_loop_t *loop;
    struct status_listener *ls;
    size_t nls;
    struct status_conn *conns; /* doubly linked */
    size_t nconns;
    uint32_t next_id;
    uv_timer_t sweep;
    bool sweep_open;
    bool at_cap;               /* "too many status connections" logged */
    bool stopping;
    bool subscribed;
    bool have_admin_gid;
    unsigned admin_gid;
    int64_t started_at;        /* unix seconds */
    uint64_t ref_state;        /* xorshift state for reference ids */
    int s_track,
        s_block, s_unblock, s_show, s_index_remove, s_override_set, s_hash_cas, s_audit_add,
        s_audit_read;
    struct poller *poller;     /* borrowed (status_attach); NULL = no LDAP poller */
    struct alert *alert;       /* borrowed (status_attach); NULL = no alert mailer */
    const struct status_op *emitting; /* the op whose event is being emitted */
    struct status_stats stats;
};

struct status_op {
    struct status *st;
    struct status_conn *conn;
    struct pd_config *cfg;   /* a reference: the config the request started with */
    struct jsonreq req;
    enum jsonreq_role role;
    char peer[64];           /* "uid=0,pid=42" or "127.0.0.1:5000" */
    char by_log[SANITIZE_BUF];
    char user_log[SANITIZE_BUF];
    int64_t now;             /* unix seconds */
    char mailbox[KEYS_MAILBOX_MAX + 1];
    size_t mailbox_len;
    char enc[KEYS_ENC_SIZE];
    size_t enc_len;
    /* command scratch */
    char ref[JSONREQ_REF_MAX + 1];
    char reason[32];
    long long created;
    json_t *acc;             /* a reply or list being built; owned by the op */
    long long scan_offset;   /* list: where the next chunk starts */
    long long chunk_size;    /* list: entries asked for per chunk */
    size_t chunk_len;        /* list: entries the chunk had */
    long long total;         /* list: entries in the index */
    long long stale;         /* list: index entries without a block record */
    size_t pending;          /* list: replies still awaited */
    struct status_item *items;
    size_t nitems;
    int attempts;            /* override: compare-and-set rounds */
};

/* status.c */
void status_op_done(struct status_op *op, json_t *reply);
void status_op_error(struct status_op *op, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct track *status_track(const struct status *st);

/* statuscmd.c */
void statuscmd_run(struct status_op *op);
int statuscmd_mailbox(struct status_op *op);
size_t statuscmd_key(const struct status_op *op, const char *suffix, char *out, size_t len);
void statuscmd_global_key(const struct status_op *op, const char *name, char *out, size_t len);
json_t *statuscmd_json_bytes(const char *s, size_t len);
bool statuscmd_pair_is(const struct track_reply *rep, size_t i, const char *name);
struct track_pair;
json_t *statuscmd_value(const struct track_pair *p);
void statuscmd_set(json_t *obj, const char *name, size_t len, json_t *v);
void statuscmd_noop_cb(void *arg, int status, const struct track_reply *rep);
void statuscmd_redis_error(struct status_op *op, int rc, const struct track_reply *rep);
enum status_reason statuscmd_reason(const char *s);
const char *statuscmd_reason_name(enum status_reason r);

/* statusshow.c */
void statusshow_run(struct status_op *op);

/* statuswrite.c */
void statuswrite_block(struct status_op *op);
void statuswrite_unblock(struct status_op *op);
void statuswrite_override(struct status_op *op);
void statuswrite_subscribe(struct status *st);
void statuswrite_unsubscribe(struct status *st);

/* metrics.c */
char *metrics_format(const struct status *st, long long blocked, bool blocked_known);

#endif
