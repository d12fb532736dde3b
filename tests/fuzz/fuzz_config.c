/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      fuzz_config - libFuzzer target for the policyd.conf parser
 * SYNOPSIS
 *      build/fuzz/fuzz_config SCRATCH_DIR tests/fuzz/corpus/config
 *      build/tests/replay_config tests/fuzz/corpus/config/...
 * DESCRIPTION
 *      Feeds the input to cfg_parse_buf() on top of the defaults, then checks what a
 *      postmaster relies on: the error message is one clean line of printable ASCII, and
 *      whatever the parser stored (also after an error) prints with cfg_print() and reads
 *      back to exactly the same output (the non-default lines for every input, the full
 *      print of the defaults once). The first line of the input is also tried as a
 *      "-o name=value" with cfg_set(), and as a duration.
 * DIAGNOSTICS
 *      abort() when an invariant breaks; sanitisers report memory errors and leaks.
 * SEE ALSO
 *      policyd/config.c, tests/fuzz/replay.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_LINE_MAX 8192

static void fuzz_check_err(int rc, const struct pd_err *err)
{
    const char *p;

    if (rc == 0)
        return;
    if (rc < CFG_ERR_SECRET || rc > CFG_ERR_SYNTAX || err->msg[0] == '\0' || err->line < 0)
        abort();
    if (memchr(err->msg, '\0', sizeof(err->msg)) == NULL)
        abort();
    for (p = err->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            abort();
}

static char *fuzz_print(const struct pd_config *cfg, bool non_default_only)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        abort();
    cfg_print(cfg, f, non_default_only);
    fclose(f);
    return buf;
}

/* fuzz_reparse - text parses without error on top of the defaults into *again, which
 * prints (full or non-default) exactly as text. */
static void fuzz_reparse(const char *text, bool non_default_only, struct pd_config *again)
{
    struct pd_err err;
    char *out;

    cfg_defaults(again);
    if (cfg_parse_buf(again, text, strlen(text), &err) != 0) {
        fprintf(stderr, "printed config does not parse: %d: %s\n", err.line, err.msg);
        abort();
    }
    out = fuzz_print(again, non_default_only);
    if (strcmp(text, out) != 0)
        abort();
    free(out);
}

/* fuzz_round_trip - what "policyd -n" prints parses without error on top of the defaults
 * and prints the same again, and both configs print the same in full. The lines a full
 * print adds are the defaults, constant text whose own round trip fuzz_init checks once;
 * parsing them again for every input made the target three times slower. */
static void fuzz_round_trip(const struct pd_config *cfg)
{
    struct pd_config again;
    char *nd = fuzz_print(cfg, true), *out, *out2;

    fuzz_reparse(nd, true, &again);
    out = fuzz_print(cfg, false);
    out2 = fuzz_print(&again, false);
    if (strcmp(out, out2) != 0)
        abort();
    free(out2);
    free(out);
    free(nd);
    cfg_free_fields(&again);
}

/* fuzz_init - the full print of the defaults parses and prints the same, once. */
static void fuzz_init(void)
{
    static bool done;
    struct pd_config def, again;
    char *out;

    if (done)
        return;
    done = true;
    cfg_defaults(&def);
    out = fuzz_print(&def, false);
    fuzz_reparse(out, false, &again);
    free(out);
    cfg_free_fields(&again);
    cfg_free_fields(&def);
}

/* fuzz_first_line - the first line as "-o name=value" and as a duration. */
static void fuzz_first_line(const uint8_t *data, size_t size)
{
    struct pd_config cfg;
    struct pd_err err;
    char *line, *eq;
    size_t n = 0;
    int64_t ms;

    while (n < size && n < FUZZ_LINE_MAX && data[n] != '\n' && data[n] != '\0')
        n++;
    line = malloc(n + 1);
    memcpy(line, data, n);
    line[n] = '\0';
    (void)cfg_parse_duration(line, &ms);
    (void)cfg_is_known_key(line);
    if ((eq = strchr(line, '=')) != NULL) {
        *eq = '\0';
        cfg_defaults(&cfg);
        fuzz_check_err(cfg_set(&cfg, line, eq + 1, &err), &err);
        fuzz_round_trip(&cfg);
        cfg_free_fields(&cfg);
    }
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pd_config cfg;
    struct pd_err err;
    int rc;

    fuzz_init();
    cfg_defaults(&cfg);
    rc = cfg_parse_buf(&cfg, (const char *)data, size, &err);
    fuzz_check_err(rc, &err);
    if (rc == 0)
        fuzz_check_err(cfg_check(&cfg, &err), &err);
    fuzz_round_trip(&cfg);
    if (cfg.redis_password != NULL || cfg.recipient_hash_key != NULL)
        abort(); /* secrets never come from the parser */
    cfg_free_fields(&cfg);
    fuzz_first_line(data, size);
    return 0;
}
