/*
 * flmem_debug_cost: what each debug option of the memory interface costs
 * (docs/debugging.md has the figures and the commands).
 *
 * Two workloads through fl_memory, each run with debug = 0, FL_DEBUG_RECORD_ALL,
 * FL_DEBUG_GUARDS, FL_DEBUG_FILL and FL_DEBUG_ALL:
 *   pool64  allocate/free churn of 64-byte System requests (served by the pool), 256 live
 *   mixed   16..1024-byte System requests (pools and the free list), 1024 live, random
 *           frees
 * Each prints nanoseconds per allocate+free pair (the best of --reps runs) and the factor
 * against debug = 0. The cost of the memory-checker poisoning is measured by running the
 * same program from two builds (-DFLMEM_VALGRIND=ON and OFF): its first line says which.
 *
 * Usage: flmem_debug_cost [--ops N] [--reps R] [--only WORKLOAD DEBUG]
 *   --only pool64|mixed <debug mask>: that one run, once (for instruction counts under
 *   callgrind, which the machine's load does not disturb: docs/debugging.md).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <flight/memory.h>

#include "core/poison.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#define LIVE_MAX 1024

/* ns per allocate+free pair, or -1 when the interface cannot be made. */
static double run(uint32_t debug, int mixed, long ops)
{
    fl_memory_config c;
    fl_memory_config_default(FL_PLATFORM_DESKTOP, &c);
    c.thread_safe = false;
    c.debug = debug;
    fl_memory *m = NULL;
    if (fl_memory_create(&c, &m) != FL_OK) return -1.0;
    void *live[LIVE_MAX];
    size_t n = 0, target = mixed ? LIVE_MAX : 256;
    rng_state = 12345;
    double t0 = now_ns();
    long pairs = 0;
    for (long op = 0; op < ops; op++) {
        if (n < target) {
            size_t size = mixed ? 16 + (size_t)(next() % 1009) : 64;
            fl_allocation a;
            if (fl_memory_allocate_typed(m, size, FL_MEMORY_SYSTEM, 0, FL_FLAG_NONE, &a) != FL_OK) {
                fprintf(stderr, "allocation failed: %s\n", fl_last_error()->message);
                exit(1);
            }
            ((unsigned char *)a.ptr)[0] = 1;
            live[n++] = a.ptr;
        }
        if (n == target) { /* steady state: free one, allocate one */
            size_t i = mixed ? (size_t)(next() % n) : n - 1;
            fl_memory_deallocate(m, live[i]);
            live[i] = live[--n];
            pairs++;
        }
    }
    double t = now_ns() - t0;
    fl_memory_destroy(m);
    return t / (double)(pairs ? pairs : 1);
}

int main(int argc, char **argv)
{
    long ops = 2000000;
    int reps = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--ops") == 0) ops = atol(argv[i + 1]);
        if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--only") == 0 && i + 2 < argc) {
            int mixed = strcmp(argv[i + 1], "mixed") == 0;
            double v = run((uint32_t)strtoul(argv[i + 2], NULL, 0), mixed, ops);
            printf("%s debug=%s: %.1f ns/pair\n", mixed ? "mixed" : "pool64", argv[i + 2], v);
            return v < 0 ? 1 : 0;
        }
    }
#if defined(FLI_ASAN)
    printf("build: AddressSanitizer (poisoning on)\n");
#else
    printf("build: plain (Valgrind client requests are compiled into the library when FLMEM_VALGRIND=ON)\n");
#endif
    static const struct {
        const char *name;
        uint32_t debug;
    } options[] = {{"none", 0},
                   {"RECORD_ALL", FL_DEBUG_RECORD_ALL},
                   {"GUARDS", FL_DEBUG_GUARDS},
                   {"FILL", FL_DEBUG_FILL},
                   {"ALL", FL_DEBUG_ALL}};
    printf("%-8s %-11s %12s %8s\n", "workload", "debug", "ns/pair", "factor");
    for (int mixed = 0; mixed < 2; mixed++) {
        double base = 0;
        for (size_t o = 0; o < sizeof options / sizeof options[0]; o++) {
            double best = -1;
            for (int r = 0; r < reps; r++) {
                double v = run(options[o].debug, mixed, ops);
                if (v < 0) break;
                if (best < 0 || v < best) best = v;
            }
            if (best < 0) {
                printf("%-8s %-11s %12s\n", mixed ? "mixed" : "pool64", options[o].name, "compiled out");
                continue;
            }
            if (o == 0) base = best;
            printf("%-8s %-11s %12.1f %8.2f\n", mixed ? "mixed" : "pool64", options[o].name, best, best / base);
        }
    }
    return 0;
}
