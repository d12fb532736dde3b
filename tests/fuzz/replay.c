/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      replay - run a libFuzzer target over corpus files without clang
 * SYNOPSIS
 *      replay_<target> FILE...
 * DESCRIPTION
 *      Calls LLVMFuzzerTestOneInput() once per file, so every test run replays the
 *      checked-in corpus (and past crashers) under the normal and sanitiser builds.
 * DIAGNOSTICS
 *      Exit 0 when every input ran; a crash aborts the process. Exit 2 on an unreadable file.
 * SEE ALSO
 *      jansson's standaloneengine.cc, tests/fuzz/fuzz_*.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        uint8_t *buf;
        long n;

        if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
            fprintf(stderr, "replay: cannot read %s\n", argv[i]);
            return 2;
        }
        rewind(f);
        buf = malloc((size_t)n + 1);
        if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
            fprintf(stderr, "replay: cannot read %s\n", argv[i]);
            return 2;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        free(buf);
    }
    printf("replayed %d inputs\n", argc - 1);
    return 0;
}
