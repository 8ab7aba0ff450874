/*
 * What the machine a test program runs on can do, for the few tests that need more than
 * the library's contract: the POSIX backend as fl_platform_default(), fork(), memory
 * protection (mprotect that really faults), and how many threads may run at once.
 * Everything else in the suite runs everywhere.
 *
 * A test function that needs a capability starts with
 *     SKIP_UNLESS(CAPS_FORK, "why the test cannot run without it");
 * which, when the capability is missing, prints "SKIPPED <test> on <platform>: <why>" and
 * returns (the harness counts the function as passed; the line is the record). Platform
 * conditionals stay here, not in the test files.
 */
#ifndef FLMEM_TEST_PLATFORM_CAPS_H
#define FLMEM_TEST_PLATFORM_CAPS_H

#include <stdio.h>

#if defined(__EMSCRIPTEN__)
/* wasm32 under node: one process, one linear memory without protection (Emscripten's
 * mprotect succeeds and does nothing, fork fails with ENOSYS), and its own platform table
 * (src/platform/emscripten.c, checked by test_platform_emscripten). */
#define CAPS_PLATFORM_NAME "wasm32 (Emscripten)"
#define CAPS_POSIX_TABLE 0
#define CAPS_FORK 0
#define CAPS_MEMORY_PROTECTION 0
/* Workers come from a pool of 4 made at start (-sPTHREAD_POOL_SIZE=4, the toolchain file):
 * a fifth pthread_create would wait for the main thread to yield, which a test never does. */
#define CAPS_THREADS_MAX 4
#else
#define CAPS_PLATFORM_NAME "POSIX"
#define CAPS_POSIX_TABLE 1
#define CAPS_FORK 1
#define CAPS_MEMORY_PROTECTION 1
#define CAPS_THREADS_MAX 64 /* more threads than a test starts */
#endif

#define SKIP_UNLESS(capability, reason)                                                         \
    do {                                                                                        \
        if (!(capability)) {                                                                    \
            printf("SKIPPED %s on %s: %s\n", __func__, CAPS_PLATFORM_NAME, reason);            \
            return;                                                                             \
        }                                                                                       \
    } while (0)

#endif /* FLMEM_TEST_PLATFORM_CAPS_H */
