/*
 * The memory interface in the bench (issue #3): its configuration for the workloads, its
 * backend rows, and the cost of its statistics reads.
 *
 * The interface lives in the row's pre-faulted arena (backing_memory), like the single
 * allocators, so no row pays page faults the others do not. Its configuration is the
 * HOST profile's strategies (System free list, Pool classes 16..2048, Temporary linear)
 * with capacities for the workloads instead of a share of the machine: System as the
 * workload asks (W3: 4x its live bytes, as the free list row gets), Pool 16 MiB (2 MiB
 * per class: W1's 10 k 64-byte blocks and W3's small ones), Temporary 8 MiB (a W2 frame
 * is at most 2.5 MiB). Pressure thresholds stay the ratio table, so every call also
 * keeps the pressure levels up to date, as it would in a game.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime in bench.h */

#include "bench.h"

#include <string.h>

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)

void bench_memory_config(size_t system_bytes, bool thread_safe, fl_memory_config *out)
{
    fl_memory_config c;
    fl_memory_config_default(FL_PLATFORM_HOST, &c); /* cannot fail for a known profile */
    memset(c.capacity, 0, sizeof c.capacity);
    c.capacity[FL_MEMORY_SYSTEM] = system_bytes;
    c.capacity[FL_MEMORY_POOL] = 16 * MIB;
    c.capacity[FL_MEMORY_TEMPORARY] = 8 * MIB;
    c.capacity[FL_MEMORY_STACK] = 256 * KIB;
    c.capacity[FL_MEMORY_NETWORK] = 256 * KIB;
    c.emergency_reserve = 256 * KIB;
    c.max_allocation = 0;
    c.thread_safe = thread_safe;
    *out = c;
}

bench_backend bench_memory_backend(const char *label, fl_memory_type type, size_t system_bytes, bool thread_safe)
{
    bench_backend b;
    memset(&b, 0, sizeof b);
    b.label = label;
    b.type = FL_ALLOCATOR_AUTO;
    b.memory = true;
    b.memory_type = type;
    b.memory_system_bytes = system_bytes;
    b.memory_thread_safe = thread_safe;
    fl_memory_config c;
    bench_memory_config(system_bytes, thread_safe, &c);
    /* 0 on failure: bench_memory_create then reports why. */
    if (fl_memory_backing_size(&c, &b.arena_bytes) != FL_OK) b.arena_bytes = 0;
    return b;
}

fl_status bench_memory_create(const bench_backend *backend, unsigned char *arena, bench_run *run)
{
    fl_memory_config c;
    bench_memory_config(backend->memory_system_bytes, backend->memory_thread_safe, &c);
    c.backing_memory = arena;
    c.backing_size = backend->arena_bytes;
    run->memory_type = backend->memory_type;
    return fl_memory_create(&c, &run->m);
}

/* ---- statistics reads --------------------------------------------------------------------- */

/* What one read measurement does, `calls` times. */
typedef enum read_kind { READ_STATS, READ_TYPE_STATS, READ_PRESSURE, READ_STATS_AFTER_CHANGE } read_kind;

typedef struct read_case {
    const char *name;
    read_kind kind;
    bool targeted; /* the "<= 20 ns a call" applies */
} read_case;

static const read_case read_cases[] = {
    {"fl_memory_get_stats", READ_STATS, true},
    {"fl_memory_get_pressure", READ_PRESSURE, true},
    {"fl_memory_get_type_stats", READ_TYPE_STATS, false},
    {"get_stats after a change", READ_STATS_AFTER_CHANGE, false},
};

#define READ_TARGET_NS 20.0

static volatile size_t read_sink; /* every result is folded in: no call can be dropped */

/* ns per call of one case; a negative value on error. READ_STATS_AFTER_CHANGE times a
 * pool allocate + free + get_stats and subtracts the same loop without the read: a read
 * that must first bring its cache up to date (the state changed since the last one). */
static double time_reads(fl_memory *m, read_kind kind, size_t calls)
{
    fl_memory_stats s;
    fl_pressure_info p;
    fl_allocation a;
    size_t sink = 0;
    uint64_t start = bench_now_ns();
    switch (kind) {
    case READ_STATS:
        for (size_t i = 0; i < calls; i++) {
            if (fl_memory_get_stats(m, &s) != FL_OK) return -1.0;
            sink += s.used_bytes;
        }
        break;
    case READ_TYPE_STATS:
        for (size_t i = 0; i < calls; i++) {
            if (fl_memory_get_type_stats(m, FL_MEMORY_POOL, &s) != FL_OK) return -1.0;
            sink += s.used_bytes;
        }
        break;
    case READ_PRESSURE:
        for (size_t i = 0; i < calls; i++) {
            if (fl_memory_get_pressure(m, FL_MEMORY_SYSTEM, &p) != FL_OK) return -1.0;
            sink += p.available_bytes;
        }
        break;
    case READ_STATS_AFTER_CHANGE: {
        for (size_t i = 0; i < calls; i++) {
            if (fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &a) != FL_OK) return -1.0;
            if (fl_memory_get_stats(m, &s) != FL_OK) return -1.0;
            sink += s.used_bytes;
            if (fl_memory_deallocate(m, a.ptr) != FL_OK) return -1.0;
        }
        uint64_t middle = bench_now_ns();
        for (size_t i = 0; i < calls; i++) {
            if (fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &a) != FL_OK) return -1.0;
            sink += (size_t)(uintptr_t)a.ptr;
            if (fl_memory_deallocate(m, a.ptr) != FL_OK) return -1.0;
        }
        uint64_t end = bench_now_ns();
        read_sink += sink;
        double with = (double)(middle - start), without = (double)(end - middle);
        return with > without ? (with - without) / (double)calls : 0.0;
    }
    }
    uint64_t end = bench_now_ns();
    read_sink += sink;
    return (double)(end - start) / (double)calls;
}

/* An interface with some of everything live: 10 k pool blocks, 1 k System blocks. */
static fl_memory *populated(bool thread_safe, unsigned char *arena, size_t arena_bytes, void **live, size_t n)
{
    fl_memory_config c;
    bench_memory_config(16 * MIB, thread_safe, &c);
    c.backing_memory = arena;
    c.backing_size = arena_bytes;
    fl_memory *m = NULL;
    if (fl_memory_create(&c, &m) != FL_OK) return NULL;
    for (size_t i = 0; i < n; i++) {
        fl_allocation a;
        size_t size = i % 10 == 0 ? 3000 : 16 + (i % 7) * 40;
        if (fl_memory_allocate_typed(m, size, FL_MEMORY_SYSTEM, 0, 0, &a) != FL_OK) {
            fl_memory_destroy(m);
            return NULL;
        }
        live[i] = a.ptr;
    }
    return m;
}

bool bench_memory_reads(const bench_config *cfg)
{
    enum { LIVE = 11000 };
    static void *live[LIVE];
    size_t calls = cfg->quick ? 200000 : 2000000;
    printf("\nfl_memory statistics reads: ns per call, median (min..max) of %d runs of %zu calls each, on an "
           "interface with %u live allocations (10 k in pools); \"after a change\" = (pool allocate + get_stats + "
           "free) - (pool allocate + free)\n",
           cfg->reps, calls, (unsigned)LIVE);
    printf("  %-26s %-13s %9s %17s\n", "call", "interface", "ns/call", "min..max");
    fl_memory_config c;
    bench_memory_config(16 * MIB, true, &c);
    size_t arena_bytes = 0;
    if (fl_memory_backing_size(&c, &arena_bytes) != FL_OK) {
        printf("  ERROR: %s\n", fl_last_error()->message);
        return false;
    }
    unsigned char *arena = malloc(arena_bytes);
    if (arena == NULL) {
        printf("  ERROR: no %zu bytes for the interface\n", arena_bytes);
        return false;
    }
    bool ok = true;
    double results[2][sizeof read_cases / sizeof read_cases[0]];
    for (int locked = 0; locked < 2 && ok; locked++) {
        fl_memory *m = populated(locked != 0, arena, arena_bytes, live, LIVE);
        if (m == NULL) {
            printf("  ERROR: setting up the interface: %s\n", fl_last_error()->message);
            ok = false;
            break;
        }
        for (size_t k = 0; k < sizeof read_cases / sizeof read_cases[0] && ok; k++) {
            double runs[64];
            int reps = cfg->reps < 64 ? cfg->reps : 64;
            (void)time_reads(m, read_cases[k].kind, calls / 10); /* warm-up */
            for (int r = 0; r < reps && ok; r++) {
                runs[r] = time_reads(m, read_cases[k].kind, calls);
                ok = runs[r] >= 0.0;
            }
            if (!ok) {
                printf("  ERROR: %s: %s\n", read_cases[k].name, fl_last_error()->message);
                break;
            }
            double lo = runs[0], hi = runs[0];
            for (int r = 1; r < reps; r++) {
                if (runs[r] < lo) lo = runs[r];
                if (runs[r] > hi) hi = runs[r];
            }
            double median = bench_median(runs, (size_t)reps);
            results[locked][k] = median;
            char range[32];
            snprintf(range, sizeof range, "%.2f..%.2f", lo, hi);
            const char *name = locked ? "thread_safe" : "single-thread";
            printf("  %-26s %-13s %9.2f %17s\n", read_cases[k].name, name, median, range);
            if (cfg->csv != NULL)
                fprintf(cfg->csv, "reads,%s,%s,ns,%.3f,%.3f,%.3f,,%d,0,0x0,%zu,ok,\"%s\"\n",
                        locked ? "fl_memory-mt" : "fl_memory", read_cases[k].name, median, lo, hi, reps, arena_bytes,
                        read_cases[k].targeted ? "target <= 20 ns" : "");
        }
        if (ok && fl_memory_validate(m) != FL_OK) {
            printf("  ERROR: validate: %s\n", fl_last_error()->message);
            ok = false;
        }
        fl_memory_destroy(m);
    }
    free(arena);
    if (!ok) return false;
    for (size_t k = 0; k < sizeof read_cases / sizeof read_cases[0]; k++) {
        if (!read_cases[k].targeted) continue;
        printf("  target reads: %s <= %.0f ns:", read_cases[k].name, READ_TARGET_NS);
        for (int locked = 0; locked < 2; locked++) {
            double v = results[locked][k];
            printf("%s %s ", locked ? ";" : "", locked ? "thread_safe" : "single-thread");
            if (v <= READ_TARGET_NS)
                printf("%.2f ns MET", v);
            else
                printf("%.2f ns MISSED by %.2f ns", v, v - READ_TARGET_NS);
        }
        printf("\n");
    }
    fflush(stdout);
    return true;
}
