/* SPDX-License-Identifier: MIT */
/*
 * NAME
 *      maxlen.h - a default -max_len for a libFuzzer target
 * SYNOPSIS
 *      #include "tests/fuzz/maxlen.h"
 *      int LLVMFuzzerInitialize(int *argc, char ***argv)
 *      { return fuzz_default_max_len(argc, argv, "-max_len=2048"); }
 * DESCRIPTION
 *      libFuzzer takes its -max_len from the largest corpus file. A few long seeds (there
 *      to reach a limit once) then make it grow every scratch input towards that size, and
 *      a target whose cost grows with the input slows down several times over without
 *      finding anything new. fuzz_default_max_len() adds the given option when the command
 *      line fuzzes directories and has no -max_len of its own; a command line naming a
 *      file (running one input) is left alone. Choose a length above every limit of the
 *      parser that one input can reach, so no limit goes unfuzzed.
 *
 *      Only libFuzzer calls LLVMFuzzerInitialize(); the replay binaries never do.
 */
#ifndef PD_TESTS_FUZZ_MAXLEN_H
#define PD_TESTS_FUZZ_MAXLEN_H

#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);

static inline int fuzz_default_max_len(int *argc, char ***argv, char *option)
{
    static char *args[256];
    struct stat st;
    int i;

    if (*argc < 1 || *argc >= (int)(sizeof(args) / sizeof(args[0])) - 1)
        return 0;
    for (i = 1; i < *argc; i++) {
        const char *a = (*argv)[i];

        if (strncmp(a, "-max_len=", 9) == 0)
            return 0;
        if (a[0] != '-' && (stat(a, &st) != 0 || !S_ISDIR(st.st_mode)))
            return 0;
    }
    args[0] = (*argv)[0];
    args[1] = option;
    for (i = 1; i < *argc; i++)
        args[i + 1] = (*argv)[i];
    args[*argc + 1] = NULL;
    *argc += 1;
    *argv = args;
    return 0;
}

#endif
