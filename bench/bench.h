/*
 * flmem_bench: the benchmark of issue #2 (not a test).
 *
 * Every workload is a precomputed sequence of operations (fixed seed) replayed, unchanged,
 * over each relevant flight-memory allocator and over the C library's malloc/free in the
 * same process. What a row measures is the time of that replay divided by the number of
 * allocate+free pairs in it; the row shows the median over the repetitions, the range, and
 * the ratio to the C library's median.
 *
 * Files:
 *   main.c       flags, the order of the workloads, the exit status
 *   workloads.c  W1..W4: generating the op sequences and replaying them
 *   runner.c     arenas, creating the allocator under test, warm-up and repetitions
 *   timing.c     the clock, its overhead, CPU pinning, medians and percentiles
 *   report.c     the text tables, the CSV rows and the target lines
 *   memory.c     the memory interface (fl_memory) as a backend, and its statistics reads
 *   (workloads.c also has the thread-scaling rows: 1, 2, 4, 8 threads on a thread-safe fl_memory)
 *
 * Comparing with other malloc implementations (mimalloc, jemalloc, tcmalloc) is the job of
 * scripts/bench_compare.py: it runs this program once per peer, each in a process of its own
 * with the peer preloaded (the "glibc" row then measures the peer), alternating the
 * processes, and reads their CSV. Under valgrind --tool=callgrind --collect-atstart=no only
 * the timed loops are counted (BENCH_COLLECT_TOGGLE), which gives instructions per pair.
 *
 * So that the compiler cannot drop any work, every block gets one byte written when it is
 * allocated and that byte is read back (summed into a checksum) before the block is freed.
 * As the op sequence and the byte values are the same for every allocator, so is the
 * checksum: a different one means two live blocks overlapped (an allocator bug).
 */
#ifndef FLMEM_BENCH_H
#define FLMEM_BENCH_H

/* clock_gettime needs POSIX: each bench .c file defines the feature macro before any
 * #include (the library itself is built as plain C11). */
#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#error "define _POSIX_C_SOURCE 200809L (or _GNU_SOURCE) before including bench.h"
#endif

#include <flight/memory.h>
#include <flight/memory_fast.h> /* the "-inline" rows */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Under callgrind (valgrind --tool=callgrind --collect-atstart=no) each replay switches
 * collection on at the start of its timed loop and off at its end, so that the counts are
 * the loop's alone; outside valgrind the request costs a few instructions, outside the
 * timed region. Without valgrind's header: nothing. */
#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define BENCH_COLLECT_TOGGLE() CALLGRIND_TOGGLE_COLLECT
#endif
#endif
#ifndef BENCH_COLLECT_TOGGLE
#define BENCH_COLLECT_TOGGLE() ((void)0)
#endif

/* The label of the C library's allocator in tables and CSV rows. */
#ifdef __GLIBC__
#define BENCH_LIBC_LABEL "glibc"
#else
#define BENCH_LIBC_LABEL "libc"
#endif

/* Every pointer the bench receives must be aligned at least this much (alignment 0). */
#define BENCH_ALIGN FL_ALIGN_DEFAULT

/* ---- configuration (main.c) ------------------------------------------------------------ */

enum {
    BENCH_W1 = 1u << 0,
    BENCH_W2 = 1u << 1,
    BENCH_W3 = 1u << 2,
    BENCH_W4 = 1u << 3,
    BENCH_STATS = 1u << 4, /* fl_memory_get_stats / get_pressure per call */
    BENCH_W5 = 1u << 5,    /* footprint: peak resident bytes / peak live bytes over W3 */
    BENCH_THREADS = 1u << 6, /* 1, 2, 4, 8 threads on a thread-safe fl_memory and the C library */
    BENCH_ALL = BENCH_W1 | BENCH_W2 | BENCH_W3 | BENCH_W4 | BENCH_STATS | BENCH_W5 | BENCH_THREADS
};

typedef struct bench_config {
    bool quick;          /* scaled-down op counts and arenas for CI smoke runs */
    int reps;            /* measured repetitions per row (after one warm-up run) */
    unsigned workloads;  /* BENCH_W* bits */
    uint64_t seed;       /* of every op sequence */
    bool pin;            /* pin the process to one CPU (Linux) */
    FILE *csv;           /* NULL: no CSV output */
    double timer_overhead_ns; /* median cost of one clock read pair, subtracted in W4 */
    const char *only;    /* NULL, or comma-separated row labels: measure just those (ratios
                            need the C library's row); for profiling one row with callgrind */
    size_t w3_live_mib;  /* 0: W3's default live set; else this many MiB (the scaling runs) */
    uint64_t w3_ops;     /* 0: W3's default op count; else this many replacements */
    bool footprint;      /* set by W5 only: arenas not pre-faulted, one replay, RSS measured */
} bench_config;

/* True when --only is absent or names `label`. */
bool bench_selected(const bench_config *cfg, const char *label);

/* ---- the clock (timing.c) -------------------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. Inline so that W4's per-allocation reads cost little. */
static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bench_timer_overhead_ns(void);
double bench_timer_resolution_ns(void);
int bench_pin_to_one_cpu(void); /* the CPU now used, or -1 when not pinned */
double bench_median(double *values, size_t count); /* sorts values */

/* Latency percentiles of W4, in this order; the last is the maximum. */
enum {
    BENCH_P50,
    BENCH_P90,
    BENCH_P99,
    BENCH_P999,
    BENCH_P9999,
    BENCH_PMAX,
    BENCH_PCT_COUNT
};
extern const char *const bench_pct_names[BENCH_PCT_COUNT];
/* Nearest-rank percentiles of `count` samples in nanoseconds (samples are not changed). */
void bench_percentiles(const uint32_t *samples, size_t count, double out[BENCH_PCT_COUNT]);

/* ---- what is measured (runner.c) ------------------------------------------------------- */

/* How a row calls the allocator: the fl_allocator_* functions, or the inline fast paths
 * of <flight/memory_fast.h> (rows labelled "pool-inline", "linear-inline"). */
typedef enum bench_path {
    BENCH_CALL,        /* fl_allocator_allocate / fl_allocator_deallocate */
    BENCH_POOL_FAST,   /* fl_pool_allocate_fast / fl_pool_deallocate_fast */
    BENCH_LINEAR_FAST, /* fl_linear_allocate_fast (frees: fl_allocator_deallocate) */
    /* The floor (row "pool-floor"): a bare LIFO list whose head lives in bench_run, with no
     * check and no statistic, over a pool's blocks (the pool serves only what the list
     * cannot). Not an allocator anyone should use: what this harness costs with the least
     * a free list can do, so that a row's distance to it can be read off the table. */
    BENCH_FLOOR
} bench_path;

/* One column of a table: an allocator and how the bench sets it up. */
typedef struct bench_backend {
    const char *label;       /* "pool", "glibc", "fl_memory/pool", ... */
    bool libc;               /* malloc/free rather than a flight-memory allocator */
    fl_allocator_type type;
    size_t arena_bytes;      /* the caller buffer given at create; 0: none (libc, system) */
    size_t block_size;       /* pool: the block size */
    bool frees_by_reset;     /* W2: a frame is freed with one fl_allocator_reset (linear), or
                              * for the memory interface with fl_memory_mark / fl_memory_rewind */
    bench_path path;
    /* The memory interface instead of one allocator: every request is
     * fl_memory_allocate_typed(memory_type), every free fl_memory_deallocate, on an
     * interface created from bench_memory_config(memory_system_bytes, memory_thread_safe)
     * inside the arena (backing_memory; arena_bytes is its fl_memory_backing_size). */
    bool memory;
    fl_memory_type memory_type;
    size_t memory_system_bytes;
    bool memory_thread_safe;
    /* Not an allocator (row "cold-lines", W4): the replay gets the pre-faulted arena in
     * bench_run and times three writes to random cache lines per allocation instead. */
    bool cold_lines;
} bench_backend;

/* The state of one replay: the allocator under test and what the replay observed. */
typedef struct bench_run {
    const bench_backend *backend;
    fl_allocator *a;   /* NULL: the C library or the memory interface */
    fl_memory *m;      /* non-NULL: the memory interface */
    fl_memory_type memory_type;
    void *floor_head;  /* BENCH_FLOOR: the bare list's first block, or NULL */
    unsigned char *arena; /* cold_lines rows: the arena, arena_bytes long */
    size_t arena_bytes;
    uint64_t checksum; /* sum of the bytes read back from blocks before they are freed */
    uint64_t ooms;     /* allocations refused for lack of memory */
    bool failed;       /* a real error: see `error` */
    char error[256];
} bench_run;

/* Records the first real error of a replay (the replay carries on; the row is an error). */
void bench_run_fail(bench_run *run, const char *what, const void *ptr, size_t size, fl_status status);

/* Forced inline: each replay loop gets a copy specialised to its constant `path` (and the
 * inline rows' allocator code inside it). */
#if defined(__GNUC__) || defined(__clang__)
#define BENCH_INLINE static inline __attribute__((always_inline))
#define BENCH_NOINLINE static __attribute__((noinline))
#else
#define BENCH_INLINE static inline
#define BENCH_NOINLINE static
#endif

/* Allocates `size` bytes; NULL when refused (counted as an OOM, or recorded as an error).
 * `path` is a constant wherever this is inlined, so each replay loop calls one function. */
BENCH_INLINE unsigned char *bench_alloc_via(bench_run *run, size_t size, bench_path path)
{
    void *p = NULL;
    if (run->m != NULL) {
        fl_allocation a;
        fl_status status = fl_memory_allocate_typed(run->m, size, run->memory_type, 0, FL_FLAG_NONE, &a);
        if (status != FL_OK) {
            if (status == FL_ERR_OUT_OF_MEMORY)
                run->ooms++;
            else
                bench_run_fail(run, "fl_memory_allocate_typed failed", NULL, size, status);
            return NULL;
        }
        p = a.ptr;
    } else if (run->a == NULL) {
        p = malloc(size);
        if (p == NULL) {
            run->ooms++;
            return NULL;
        }
    } else if (path == BENCH_FLOOR && run->floor_head != NULL) {
        p = run->floor_head;
        memcpy(&run->floor_head, p, sizeof run->floor_head);
    } else {
        fl_status status = path == BENCH_POOL_FAST     ? fl_pool_allocate_fast(run->a, size, 0, &p)
                           : path == BENCH_LINEAR_FAST ? fl_linear_allocate_fast(run->a, size, 0, &p)
                                                       : fl_allocator_allocate(run->a, size, 0, &p);
        if (status != FL_OK) {
            if (status == FL_ERR_OUT_OF_MEMORY)
                run->ooms++;
            else
                bench_run_fail(run, "allocate failed", NULL, size, status);
            return NULL;
        }
    }
    if (((uintptr_t)p & (BENCH_ALIGN - 1)) != 0) bench_run_fail(run, "misaligned pointer", p, size, FL_OK);
    return (unsigned char *)p;
}

static inline unsigned char *bench_alloc(bench_run *run, size_t size) { return bench_alloc_via(run, size, BENCH_CALL); }

/* Reads the block's byte into the checksum, then frees the block. */
BENCH_INLINE void bench_release_via(bench_run *run, unsigned char *p, bench_path path)
{
    run->checksum += *p;
    if (run->m != NULL) {
        fl_status status = fl_memory_deallocate(run->m, p);
        if (status != FL_OK) bench_run_fail(run, "fl_memory_deallocate failed", p, 0, status);
    } else if (run->a == NULL) {
        free(p);
    } else if (path == BENCH_FLOOR) {
        memcpy(p, &run->floor_head, sizeof run->floor_head);
        run->floor_head = p;
    } else {
        fl_status status = path == BENCH_POOL_FAST ? fl_pool_deallocate_fast(run->a, p)
                                                   : fl_allocator_deallocate(run->a, p);
        if (status != FL_OK) bench_run_fail(run, "deallocate failed", p, 0, status);
    }
}

static inline void bench_release(bench_run *run, unsigned char *p) { bench_release_via(run, p, BENCH_CALL); }

/* End of a replay: the byte goes into the checksum; only the C library frees one by one
 * (an allocator's blocks all go when it is destroyed, which the stack needs: its frees
 * must be LIFO). Not timed. */
static inline void bench_teardown(bench_run *run, unsigned char *p)
{
    run->checksum += *p;
    if (run->a == NULL && run->m == NULL) free(p);
}

/* What one replay measured. */
typedef struct bench_rep {
    double ns_per_pair;               /* W1..W3 */
    uint64_t pairs;                   /* allocate+free pairs in the timed loop */
    double pct_ns[BENCH_PCT_COUNT];   /* W4 */
} bench_rep;

/* Replays a workload once over run->a (or the C library). */
typedef void (*bench_replay_fn)(bench_run *run, const void *workload, bench_rep *out);

/* One line of a table. */
typedef enum bench_row_state { BENCH_ROW_OK, BENCH_ROW_NA, BENCH_ROW_ERROR } bench_row_state;

typedef struct bench_row {
    char workload[16]; /* "W1", "W2-reverse", ... */
    const char *allocator;
    bench_row_state state;
    char note[320];    /* why n/a, or the error */
    int reps;
    double median_ns, min_ns, max_ns; /* per allocate+free pair */
    double ratio;                      /* median / the C library's median; < 0: none */
    double pct_ns[BENCH_PCT_COUNT];    /* W4: median over the reps (max: the largest) */
    double p9999_min_ns, p9999_max_ns; /* W4: range of p99.99 over the reps */
    uint64_t ooms;                     /* per replay (the largest over the reps) */
    uint64_t checksum;
    size_t arena_bytes;
    uint64_t pairs;                    /* per replay, in the timed loop */
    /* W5: peak resident bytes the replay added (VmHWM - VmRSS before it) and the peak of the
     * live requested bytes; footprint = held / live (< 0: not measured). */
    size_t peak_held, peak_live;
    double footprint;
} bench_row;

/* Measures one backend: arena, warm-up, cfg->reps replays; fills `row`. */
void bench_measure(const bench_config *cfg, const bench_backend *backend, bench_replay_fn replay,
                   const void *workload, bool latency, bench_row *row);

/* ---- tables (workloads.c fills them, report.c prints them) ----------------------------- */

#define BENCH_MAX_ROWS 24

typedef struct bench_table {
    const char *name;  /* "W1" */
    char title[256];   /* what the workload does, with its counts */
    bool latency;      /* W4: percentile columns instead of ns per pair */
    bool footprint;    /* W5: footprint columns */
    size_t peak_live;  /* W5: the op sequence's peak live requested bytes */
    bench_row rows[BENCH_MAX_ROWS];
    size_t count;
} bench_table;

/* Ratios to the C library's row of the same workload label, and the checksum cross-check
 * (a differing checksum without OOMs turns the row into an error). */
void bench_table_finish(bench_table *table);

/* Workloads (workloads.c): each fills a table; false when the bench itself ran out of memory. */
bool bench_w1(const bench_config *cfg, bench_table *table);
bool bench_w2(const bench_config *cfg, bench_table *table);
bool bench_w3_w4(const bench_config *cfg, bench_table *w3, bench_table *w4, bench_table *w5);
/* Threads (workloads.c): rows T1, T2, T4, T8. */
bool bench_threads(const bench_config *cfg, bench_table *table);

/* Resident memory (runner.c, Linux /proc): resets the peak and returns the resident bytes
 * now, or 0 when the platform cannot; and the peak since the reset (0: unknown). */
size_t bench_rss_reset_peak(void);
size_t bench_rss_peak(void);

/* The memory interface (memory.c). */
/* A configuration for the workloads: the HOST profile's strategies with capacities sized
 * for them (System system_bytes, Pool 16 MiB, Temporary 8 MiB; no Video, Audio or Shared). */
void bench_memory_config(size_t system_bytes, bool thread_safe, fl_memory_config *out);
/* A backend row for the memory interface: label, the type every request names, and the
 * System capacity its interface gets; arena_bytes = fl_memory_backing_size. */
bench_backend bench_memory_backend(const char *label, fl_memory_type type, size_t system_bytes, bool thread_safe);
/* Creates run->m inside arena (backing memory). */
fl_status bench_memory_create(const bench_backend *backend, unsigned char *arena, bench_run *run);
/* Times fl_memory_get_stats, _get_type_stats and _get_pressure per call and prints them
 * with the target (<= 20 ns); false on a real error. */
bool bench_memory_reads(const bench_config *cfg);

/* Report (report.c). */
void bench_report_table(const bench_config *cfg, const bench_table *table);
void bench_report_csv_header(FILE *csv);
void bench_report_csv(FILE *csv, const bench_table *table);
bool bench_table_has_error(const bench_table *table);

#endif /* FLMEM_BENCH_H */
