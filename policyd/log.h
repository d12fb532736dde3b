/* SPDX-License-Identifier: MIT */
#ifndef PD_LOG_H
#define PD_LOG_H

/*
 * log - syslog (facility mail, ident policyd) or stderr in the foreground.
 * Severities mean what they mean in Postfix: warn = a peer or dependency problem, keep
 * running; fatal = bad config or exhausted resources at start-up, exit 1; panic = a broken
 * invariant, abort(). Pure modules never log.
 */

#include <stdbool.h>

#define PD_PRINTF(a, b) __attribute__((format(printf, a, b)))

int log_open(const char *ident, const char *facility, bool to_stderr, int verbose);
void log_close(void);
int log_facility_code(const char *name); /* -1 when unknown */
bool log_debug_enabled(void);
void log_debug(const char *fmt, ...) PD_PRINTF(1, 2);
void log_info(const char *fmt, ...) PD_PRINTF(1, 2);
void log_warn(const char *fmt, ...) PD_PRINTF(1, 2);
void log_fatal(const char *fmt, ...) PD_PRINTF(1, 2) __attribute__((noreturn));
void log_panic(const char *fmt, ...) PD_PRINTF(1, 2) __attribute__((noreturn));

#endif
