/* SPDX-License-Identifier: MIT */
#ifndef PD_HTTPMETRICS_H
#define PD_HTTPMETRICS_H

/*
 * httpmetrics - GET /metrics over HTTP on metrics_listen (loopback), for Prometheus: the
 * text of status_metrics(). libmicrohttpd in external-polling mode, driven by the libuv
 * loop (see httpmetrics.c for the contract).
 *
 * Life cycle, driven by main: httpmetrics_new() and httpmetrics_listen() before
 * privileges are dropped (the port is bound then; an empty metrics_listen binds
 * nothing); httpmetrics_start() once the status socket has started; httpmetrics_stop()
 * at SIGTERM; httpmetrics_free() after the loop has drained.
 */

#include <stddef.h>

#include <uv.h>

struct status;
struct httpmetrics;

struct httpmetrics *httpmetrics_new(uv_loop_t *loop, struct status *st);
int httpmetrics_listen(struct httpmetrics *hm, const char *spec, char *err, size_t errlen);
void httpmetrics_start(struct httpmetrics *hm);
void httpmetrics_stop(struct httpmetrics *hm);
struct httpmetrics *httpmetrics_free(struct httpmetrics *hm);

#endif
