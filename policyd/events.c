/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      events - block and unblock events, from their emitters to their subscribers
 * SYNOPSIS
 *      events_subscribe(fn, arg); events_unsubscribe(fn, arg); events_emit(ev)
 * DESCRIPTION
 *      A fixed table of subscribers, called in order, synchronously, in the loop thread.
 *      Emitting with no subscriber does nothing. A subscriber must not subscribe or
 *      unsubscribe from inside its callback.
 * DIAGNOSTICS
 *      events_subscribe returns -1 when the table is full.
 */
#include <stddef.h>

#include "policyd/events.h"

static struct {
    pd_event_fn fn;
    void *arg;
} events_subs[EVENTS_MAX_SUBS];

int events_subscribe(pd_event_fn fn, void *arg)
{
    size_t i;

    for (i = 0; i < EVENTS_MAX_SUBS; i++) {
        if (events_subs[i].fn == NULL) {
            events_subs[i].fn = fn;
            events_subs[i].arg = arg;
            return 0;
        }
    }
    return -1;
}

void events_unsubscribe(pd_event_fn fn, void *arg)
{
    size_t i;

    for (i = 0; i < EVENTS_MAX_SUBS; i++)
        if (events_subs[i].fn == fn && events_subs[i].arg == arg)
            events_subs[i].fn = NULL, events_subs[i].arg = NULL;
}

void events_emit(const struct pd_event *ev)
{
    size_t i;

    for (i = 0; i < EVENTS_MAX_SUBS; i++)
        if (events_subs[i].fn != NULL)
            events_subs[i].fn(events_subs[i].arg, ev);
}

const char *events_type_name(enum pd_event_type t)
{
    return t == PD_EVENT_BLOCK     ? "block"
           : t == PD_EVENT_UNBLOCK ? "unblock"
           : t == PD_EVENT_HOLD    ? "hold"
                                   : "unknown";
}
