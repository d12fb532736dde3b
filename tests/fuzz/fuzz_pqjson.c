/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_pqjson - libFuzzer target for the parsers behind "policyctl queue"
 * SYNOPSIS
 *      build/fuzz/fuzz_pqjson SCRATCH_DIR tests/fuzz/corpus/pqjson
 *      build/tests/replay_pqjson tests/fuzz/corpus/pqjson/...
 * DESCRIPTION
 *      Every line of the input goes through pqjson_parse() as a "postqueue -j" line. A
 *      refused line must come with a known code and one line of printable ASCII, and
 *      leave the result empty. An accepted line must give a queue id that
 *      pqjson_valid_id() accepts (so it can never put a second line, a path or an option
 *      into postsuper's input), NUL-terminated strings within their buffers, and
 *      non-negative numbers or -1. The whole input is also read as "postcat -e" output
 *      (a login found must fit its buffer and hold no newline) and each line as a
 *      postsuper report (an id found must be valid). pqjson_addr_eq must be symmetric and
 *      reflexive.
 * DIAGNOSTICS
 *      abort() when an invariant breaks; sanitisers report memory errors and leaks.
 * SEE ALSO
 *      policyd/pqjson.c, tests/fuzz/replay.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/pqjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_printable(const char *s)
{
    if (s[0] == '\0')
        abort();
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            abort();
}

static void fuzz_line(const char *line, size_t len)
{
    struct pqjson_msg m;
    struct pd_err err;
    char id[PQJSON_ID_MAX + 1];
    int rc = pqjson_parse(line, len, &m, &err);

    if (rc < 0) {
        if (rc < PQJSON_ERR_TOO_LONG || memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
            abort();
        fuzz_printable(err.msg);
        if (m.queue_id[0] != '\0' || m.sender[0] != '\0' || m.queue_name[0] != '\0' ||
            m.nrcpt != 0)
            abort();
    } else {
        if (rc != 0 || memchr(m.queue_id, '\0', sizeof(m.queue_id)) == NULL ||
            memchr(m.sender, '\0', sizeof(m.sender)) == NULL ||
            memchr(m.queue_name, '\0', sizeof(m.queue_name)) == NULL)
            abort();
        if (!pqjson_valid_id(m.queue_id, strlen(m.queue_id)) || m.queue_name[0] == '\0')
            abort();
        if (m.arrival_time < -1 || m.message_size < -1)
            abort();
        if (!pqjson_addr_eq(m.sender, m.sender))
            abort();
    }
    if (pqjson_postsuper_removed(line, len, id) &&
        (!pqjson_valid_id(id, strlen(id)) || memchr(line, '\n', len) != NULL))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char login[64], *a, *b;
    size_t pos = 0, half = size / 2;
    int rc;

    while (pos <= size) {
        const char *nl = memchr(s + pos, '\n', size - pos);
        size_t n = nl != NULL ? (size_t)(nl - (s + pos)) : size - pos;

        fuzz_line(s + pos, n);
        pos += n + 1;
    }
    rc = pqjson_postcat_login(s, size, login, sizeof(login));
    if (rc == 1 && (memchr(login, '\0', sizeof(login)) == NULL || strchr(login, '\n') != NULL))
        abort();
    if (rc != 0 && rc != 1 && rc != PQJSON_ERR_TOO_LONG)
        abort();
    a = malloc(half + 1);
    b = malloc(size - half + 1);
    memcpy(a, s, half);
    a[half] = '\0';
    memcpy(b, s + half, size - half);
    b[size - half] = '\0';
    if (pqjson_addr_eq(a, b) != pqjson_addr_eq(b, a) || !pqjson_addr_eq(a, a))
        abort();
    free(a);
    free(b);
    return 0;
}
