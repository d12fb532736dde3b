/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      pollnote - the LDAP poller's memory of what it logged about each block
 * SYNOPSIS
 *      pollnote_init(t); pollnote_free(t)
 *      pollnote_key(ref, ref_len, mailbox, len)
 *      pollnote_set(t, key, note, gen); pollnote_sweep(t, gen)
 * DESCRIPTION
 *      pollnote_set() records note (0 = nothing worth a log line) for the block key
 *      (pollnote_key(): FNV-1a over the reference id and the mailbox, never 0) in round
 *      gen, and answers whether that is news: a note other than 0 that differs from the
 *      last one recorded. The table doubles when half full, keeping everything;
 *      pollnote_sweep() at the end of a round keeps only the blocks seen in round gen, so
 *      a cleared block is forgotten and one blocked again is logged again.
 * DIAGNOSTICS
 *      None; memory exhaustion aborts (xmalloc).
 * SEE ALSO
 *      poller(3)
 */
#include <stdlib.h>
#include <string.h>

#include "ldap/pollnote.h"
#include "policyd/util.h"

#define POLLNOTE_MIN_CAP 64 /* a power of two */

static void pollnote_alloc(struct pollnote *t, size_t cap)
{
    t->cap = cap;
    t->used = 0;
    t->hash = xcalloc(cap, sizeof(*t->hash));
    t->note = xcalloc(cap, sizeof(*t->note));
    t->gen = xcalloc(cap, sizeof(*t->gen));
}

void pollnote_init(struct pollnote *t)
{
    pollnote_alloc(t, POLLNOTE_MIN_CAP);
}

void pollnote_free(struct pollnote *t)
{
    free(t->hash);
    free(t->note);
    free(t->gen);
    memset(t, 0, sizeof(*t));
}

uint64_t pollnote_key(const char *ref, size_t ref_len, const char *mailbox, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;

    for (i = 0; i < ref_len; i++)
        h = (h ^ (unsigned char)ref[i]) * 1099511628211ULL;
    h = (h ^ 0x100) * 1099511628211ULL; /* a separator no byte can be */
    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)mailbox[i]) * 1099511628211ULL;
    return h != 0 ? h : 1;
}

/* pollnote_slot - the slot of key: its own, or the empty one where it would go. */
static size_t pollnote_slot(const struct pollnote *t, uint64_t key)
{
    size_t i = (size_t)key & (t->cap - 1);

    while (t->hash[i] != 0 && t->hash[i] != key)
        i = (i + 1) & (t->cap - 1);
    return i;
}

/* pollnote_rebuild - a table of capacity cap with the notes of round gen (all: every). */
static void pollnote_rebuild(struct pollnote *t, size_t cap, bool all, uint32_t gen)
{
    struct pollnote old = *t;
    size_t i;

    pollnote_alloc(t, cap);
    for (i = 0; i < old.cap; i++) {
        if (old.hash[i] != 0 && (all || old.gen[i] == gen)) {
            size_t s = pollnote_slot(t, old.hash[i]);

            t->hash[s] = old.hash[i];
            t->note[s] = old.note[i];
            t->gen[s] = old.gen[i];
            t->used++;
        }
    }
    pollnote_free(&old);
}

void pollnote_sweep(struct pollnote *t, uint32_t gen)
{
    size_t i, live = 0, cap = POLLNOTE_MIN_CAP;

    for (i = 0; i < t->cap; i++)
        live += t->hash[i] != 0 && t->gen[i] == gen;
    while (cap < live * 2 + POLLNOTE_MIN_CAP)
        cap *= 2;
    pollnote_rebuild(t, cap, false, gen);
}

bool pollnote_set(struct pollnote *t, uint64_t key, uint8_t note, uint32_t gen)
{
    size_t s;
    bool news;

    if (t->used * 2 >= t->cap)
        pollnote_rebuild(t, t->cap * 2, true, 0);
    s = pollnote_slot(t, key);
    if (t->hash[s] == 0) {
        t->hash[s] = key;
        t->note[s] = 0;
        t->used++;
    }
    news = note != 0 && t->note[s] != note;
    t->note[s] = note;
    t->gen[s] = gen;
    return news;
}
