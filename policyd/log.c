/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      log - syslog or stderr logging with Postfix severities
 * SYNOPSIS
 *      log_open(ident, facility, to_stderr, verbose); log_close()
 *      log_debug, log_info, log_warn, log_fatal, log_panic
 * DESCRIPTION
 *      By default messages go to syslog (facility mail, ident policyd, LOG_PID), the way
 *      Postfix logs; in the foreground (-f) they go to stderr with a "policyd: " style
 *      prefix instead. Messages are formatted by the caller's format string; callers pass
 *      peer data through sanitize_log() first. The logger holds the only mutable globals of
 *      the daemon besides the loop: which sink to use and the debug level, set once at
 *      start-up by main.
 * DIAGNOSTICS
 *      log_fatal() exits 1, log_panic() aborts. Nothing is returned to callers.
 * SEE ALSO
 *      Postfix msg(3), msg_syslog(3).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "policyd/log.h"

static struct {
    int to_stderr;
    int verbose;
    char ident[64];
} log_state = {1, 0, "policyd"};

static const struct {
    const char *name;
    int code;
} log_facilities[] = {
    {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},
    {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}, {NULL, 0},
};

int log_facility_code(const char *name)
{
    int i;

    for (i = 0; log_facilities[i].name != NULL; i++)
        if (strcmp(log_facilities[i].name, name) == 0)
            return log_facilities[i].code;
    return -1;
}

int log_open(const char *ident, const char *facility, bool to_stderr, int verbose)
{
    int code = log_facility_code(facility);

    if (code < 0)
        return -1;
    snprintf(log_state.ident, sizeof(log_state.ident), "%s", ident);
    log_state.to_stderr = to_stderr;
    log_state.verbose = verbose;
    if (!to_stderr) {
        closelog();
        openlog(log_state.ident, LOG_PID | LOG_NDELAY, code);
    }
    return 0;
}

void log_close(void)
{
    if (!log_state.to_stderr)
        closelog();
}

bool log_debug_enabled(void)
{
    return log_state.verbose > 0;
}

/* log_emit - one message to the selected sink, with Postfix's severity prefix. */
static void log_emit(int prio, const char *prefix, const char *fmt, va_list ap)
{
    char buf[2048];

    vsnprintf(buf, sizeof(buf), fmt, ap);
    if (log_state.to_stderr) {
        struct timespec ts;
        struct tm tm;
        char when[32];

        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof(when), "%b %d %H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ld %s: %s%s\n", when, ts.tv_nsec / 1000000, log_state.ident,
                prefix, buf);
    } else {
        syslog(prio, "%s%s", prefix, buf);
    }
}

void log_debug(const char *fmt, ...)
{
    va_list ap;

    if (log_state.verbose <= 0)
        return;
    va_start(ap, fmt);
    log_emit(LOG_DEBUG, "", fmt, ap);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_INFO, "", fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_WARNING, "warning: ", fmt, ap);
    va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_CRIT, "fatal: ", fmt, ap);
    va_end(ap);
    exit(1);
}

void log_panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_CRIT, "panic: ", fmt, ap);
    va_end(ap);
    abort();
}
