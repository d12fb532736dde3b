/* SPDX-License-Identifier: MIT */
#ifndef PD_PROTO_H
#define PD_PROTO_H

/*
 * proto - pure codec for the Postfix SMTP access policy delegation protocol.
 *
 * No I/O, no logging, no globals, no libuv: bytes in, requests out; replies are
 * formatted into a caller-provided buffer. See proto.c for the contract.
 */

#include <stdbool.h>
#include <stddef.h>

/* Named limits. Exceeding any of them is a protocol error: warn and close. */
#define PD_MAX_LINE 4096     /* one "name=value" line, without its newline */
#define PD_MAX_ATTRS 128     /* attribute lines in one request, unknown ones included */
#define PD_MAX_REQUEST 16384 /* bytes of one request, newlines included */
#define PD_MAX_REPLY 1024    /* bytes of one formatted reply, "action=" and "\n\n" included */

/* Attributes we understand. Everything else is counted and ignored. */
enum proto_attr {
    PROTO_A_REQUEST,
    PROTO_A_PROTOCOL_STATE,
    PROTO_A_PROTOCOL_NAME,
    PROTO_A_HELO_NAME,
    PROTO_A_QUEUE_ID,
    PROTO_A_SENDER,
    PROTO_A_RECIPIENT,
    PROTO_A_RECIPIENT_COUNT,
    PROTO_A_CLIENT_ADDRESS,
    PROTO_A_CLIENT_NAME,
    PROTO_A_REVERSE_CLIENT_NAME,
    PROTO_A_CLIENT_PORT,
    PROTO_A_INSTANCE,
    PROTO_A_SASL_METHOD,
    PROTO_A_SASL_USERNAME,
    PROTO_A_SASL_SENDER,
    PROTO_A_SIZE,
    PROTO_A_SERVER_ADDRESS,
    PROTO_A_SERVER_PORT,
    PROTO_A_POLICY_CONTEXT,
    PROTO_A_STRESS,
    PROTO_A_POLICYD_TIME, /* ours: test/replay clock, honoured only with trust_request_time */
    PROTO_A_COUNT
};

/* Return codes of proto_feed(); errors are negative. */
enum proto_status {
    PROTO_NEED_MORE = 0, /* all input consumed, request not complete yet */
    PROTO_REQUEST = 1,   /* a complete request is available; see *consumed */
    PROTO_ERR_LINE_TOO_LONG = -1,
    PROTO_ERR_TOO_MANY_ATTRS = -2,
    PROTO_ERR_REQUEST_TOO_LARGE = -3,
    PROTO_ERR_NUL = -4,
    PROTO_ERR_NO_EQUALS = -5,   /* a non-empty line without '=' */
    PROTO_ERR_EMPTY_NAME = -6,  /* "=value" */
    PROTO_ERR_DUPLICATE = -7,   /* a known attribute given twice */
    PROTO_ERR_BAD_REQUEST = -8, /* request= missing or not smtpd_access_policy */
    PROTO_ERR_STATE = -9,       /* proto_feed() called while a request is held (no reset) */
    PROTO_ERR_REPLY_EMPTY = -10,
    PROTO_ERR_REPLY_BAD_CHAR = -11, /* CR, LF or NUL in the action text */
    PROTO_ERR_REPLY_TOO_LONG = -12,
};

/*
 * A parsed request. Values point into the parser's own buffer and stay valid until
 * proto_reset(). An attribute that was absent is NULL; one sent empty ("name=") is "".
 */
struct proto_request {
    const char *attr[PROTO_A_COUNT];
    size_t attr_len[PROTO_A_COUNT];
    unsigned nattrs;   /* attribute lines seen, unknown ones included */
    unsigned nunknown; /* attribute lines with a name we do not know */
};

/*
 * Incremental parser state. Embed it (no allocation); initialise with proto_init().
 * The line in progress and the values of the current request live in buf.
 */
struct proto_parser {
    char buf[PD_MAX_REQUEST + 1];
    size_t line_start; /* buf[0..line_start) holds the stored values, NUL-terminated */
    size_t line_len;   /* bytes of the line in progress */
    size_t req_bytes;  /* bytes of the request so far, newlines included */
    int status;        /* PROTO_NEED_MORE, PROTO_REQUEST or an error (sticky until reset) */
    struct proto_request req;
};

void proto_init(struct proto_parser *p);
void proto_reset(struct proto_parser *p);
int proto_feed(struct proto_parser *p, const char *data, size_t len, size_t *consumed);
const struct proto_request *proto_request(const struct proto_parser *p);
bool proto_in_progress(const struct proto_parser *p);
const char *proto_attr_name(enum proto_attr a);
int proto_format_reply(char *out, size_t outlen, const char *action, size_t action_len);
const char *proto_strerror(int err);

#endif
