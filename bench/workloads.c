/*
 * The workloads of issue #2. Each is generated once from the seed into plain arrays (slot
 * indices, sizes, free orders) and then replayed, identically, by every backend: the
 * replay loops below only read those arrays, call the allocator and touch one byte.
 *
 *   W1  64-byte blocks, 10 k live, 10 M random replacements (free one live slot, allocate
 *       into it again): the pool's home ground.
 *   W2  frames of 5,000 allocations of 16..512 B, then the whole frame freed: in reverse
 *       order or in random order. The linear allocator frees a frame with one reset (both
 *       variants: the order matters only to allocators that free block by block).
 *   W3  a general heap: sizes log-uniform 16 B .. 64 KiB, 1 % log-uniform 256 KiB .. 4 MiB,
 *       about 64 MiB live, 5 M random replacements.
 *   W4  W3 again, timing every allocation on its own, for latency percentiles.
 *
 * Rows labelled "-inline" replay the same ops through <flight/memory_fast.h> (pool in W1,
 * linear in W2), in a loop of their own so that a profile tells the two paths apart.
 * "pool-floor" (W1) is the harness's floor: the same loop over a bare LIFO list of the
 * pool's blocks with no check and no statistic (bench.h, BENCH_FLOOR). "cold-lines" (W4)
 * is a reference for the tail: three writes to random cache lines of the arena per
 * allocation, no allocator (w4_replay_cold_lines).
 *
 * W1..W3 also run through the memory interface (issue #3), in the same run as the C
 * library: W1 as Pool-type requests, W2 as Temporary-type requests with a frame freed by
 * fl_memory_mark / fl_memory_rewind, W3 as System-type requests (which the interface
 * routes to its pools when they fit a class, else to the System free list). The rows
 * "fl_memory/..." use an interface without a lock (one thread, like a console profile);
 * "fl_memory-mt/..." the same with thread_safe (one mutex per call).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime in bench.h */

#include "bench.h"

#include <math.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)

/* Full-size counts; --quick divides the op counts by QUICK_DIVISOR and W3's live bytes
 * by 4 so that a CI smoke run takes seconds. */
#define QUICK_DIVISOR 50

#define W1_LIVE 10000u
#define W1_OPS 10000000u
#define W1_BLOCK 64u

#define W2_FRAME 5000u
#define W2_FRAMES 1000u
#define W2_MIN 16u
#define W2_MAX 512u
#define W2_PATTERNS 64u /* distinct frames, replayed in turn */

#define W3_LIVE (64u * MIB)
#define W3_OPS 5000000u
#define W3_SMALL_MIN 16.0
#define W3_SMALL_MAX 65536.0
#define W3_LARGE_MIN (256.0 * 1024.0)
#define W3_LARGE_MAX (4.0 * 1024.0 * 1024.0)
#define W3_LARGE_SHARE 0.01

/* A backend row of one allocator (or the C library): the memory-interface fields unused. */
#define ROW(...) {__VA_ARGS__, BENCH_CALL, false, FL_MEMORY_SYSTEM, 0, false, false}
/* The same, called through <flight/memory_fast.h> (path: BENCH_POOL_FAST, BENCH_LINEAR_FAST). */
#define ROW_VIA(path, ...) {__VA_ARGS__, path, false, FL_MEMORY_SYSTEM, 0, false, false}

/* A buddy allocator manages a power-of-two span: the extra sixteenth leaves room for its
 * control block and metadata beside a span of the nominal size. */
#define BUDDY_ARENA(bytes) ((bytes) + (bytes) / 16u)

/* ---- the seeded generator (splitmix64) ------------------------------------------------- */

typedef struct bench_rng {
    uint64_t state;
} bench_rng;

static uint64_t rng_next(bench_rng *rng)
{
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), from the top 53 bits. */
static double rng_unit(bench_rng *rng) { return (double)(rng_next(rng) >> 11) * (1.0 / 9007199254740992.0); }

static size_t rng_below(bench_rng *rng, size_t n) { return (size_t)(rng_unit(rng) * (double)n); }

/* Each workload has its own stream, so that selecting fewer workloads changes nothing. */
static bench_rng rng_for(const bench_config *cfg, unsigned workload)
{
    bench_rng rng = {cfg->seed ^ (0xA24BAED4963EE407u * (uint64_t)workload)};
    return rng;
}

static void *checked_calloc(size_t count, size_t size)
{
    void *p = calloc(count, size);
    if (p == NULL) fprintf(stderr, "flmem_bench: out of memory for %zu x %zu bytes of op data\n", count, size);
    return p;
}

static size_t scaled(const bench_config *cfg, size_t full) { return cfg->quick ? full / QUICK_DIVISOR : full; }

static bench_table *table_start(bench_table *table, const char *name)
{
    memset(table, 0, sizeof *table);
    table->name = name;
    return table;
}

static bench_row *table_row(bench_table *table, const char *workload)
{
    bench_row *row = &table->rows[table->count++];
    memset(row, 0, sizeof *row);
    snprintf(row->workload, sizeof row->workload, "%s", workload);
    return row;
}

static void measure_all(const bench_config *cfg, bench_table *table, const char *workload,
                        const bench_backend *backends, size_t count, bench_replay_fn replay,
                        const void *data)
{
    bool progress = isatty(STDERR_FILENO) != 0; /* a live "now measuring" line on terminals */
    for (size_t i = 0; i < count && table->count < BENCH_MAX_ROWS; i++) {
        if (!bench_selected(cfg, backends[i].label)) continue;
        if (progress) fprintf(stderr, "  measuring %s %s ...\r", workload, backends[i].label);
        bench_measure(cfg, &backends[i], replay, data, table->latency, table_row(table, workload));
        if (progress) fprintf(stderr, "%50s\r", "");
    }
}

/* ---- W1 -------------------------------------------------------------------------------- */

typedef struct w1_data {
    size_t live, ops, block;
    uint32_t *op_slot;    /* ops: the slot each replacement frees and refills */
    unsigned char **slot; /* live: scratch of the replay */
} w1_data;

/* BENCH_INLINE (bench.h): each caller below gets a copy specialised to its constant path. */
BENCH_INLINE void w1_replay_via(bench_run *run, const void *data, bench_rep *out, bench_path path)
{
    const w1_data *w = data;
    unsigned char **slot = w->slot;
    for (size_t i = 0; i < w->live; i++) {
        unsigned char *p = bench_alloc_via(run, w->block, path);
        if (p != NULL) *p = (unsigned char)i;
        slot[i] = p;
    }
    uint64_t start = bench_now_ns();
    BENCH_COLLECT_TOGGLE(); /* callgrind: count the timed loop only */
    for (size_t k = 0; k < w->ops; k++) {
        uint32_t i = w->op_slot[k];
        if (slot[i] != NULL) bench_release_via(run, slot[i], path);
        unsigned char *p = bench_alloc_via(run, w->block, path);
        if (p != NULL) *p = (unsigned char)k;
        slot[i] = p;
    }
    BENCH_COLLECT_TOGGLE();
    uint64_t end = bench_now_ns();
    for (size_t i = 0; i < w->live; i++)
        if (slot[i] != NULL) bench_teardown(run, slot[i]);
    out->ns_per_pair = (double)(end - start) / (double)w->ops;
    out->pairs = w->ops;
}

/* Separate functions, so that a profile (callgrind) tells the paths apart. */
BENCH_NOINLINE void w1_replay_call(bench_run *run, const void *data, bench_rep *out)
{
    w1_replay_via(run, data, out, BENCH_CALL);
}

BENCH_NOINLINE void w1_replay_pool_fast(bench_run *run, const void *data, bench_rep *out)
{
    w1_replay_via(run, data, out, BENCH_POOL_FAST);
}

BENCH_NOINLINE void w1_replay_floor(bench_run *run, const void *data, bench_rep *out)
{
    w1_replay_via(run, data, out, BENCH_FLOOR);
}

static void w1_replay(bench_run *run, const void *data, bench_rep *out)
{
    if (run->backend->path == BENCH_POOL_FAST)
        w1_replay_pool_fast(run, data, out);
    else if (run->backend->path == BENCH_FLOOR)
        w1_replay_floor(run, data, out);
    else
        w1_replay_call(run, data, out);
}

bool bench_w1(const bench_config *cfg, bench_table *table)
{
    table_start(table, "W1");
    w1_data w = {W1_LIVE, scaled(cfg, W1_OPS), W1_BLOCK, NULL, NULL};
    snprintf(table->title, sizeof table->title,
             "W1: %zu-byte blocks, %zu live, %zu random free+allocate replacements", w.block, w.live, w.ops);
    w.op_slot = checked_calloc(w.ops, sizeof *w.op_slot);
    w.slot = checked_calloc(w.live, sizeof *w.slot);
    if (w.op_slot == NULL || w.slot == NULL) {
        free(w.op_slot);
        free(w.slot);
        return false;
    }
    bench_rng rng = rng_for(cfg, 1);
    for (size_t k = 0; k < w.ops; k++) w.op_slot[k] = (uint32_t)rng_below(&rng, w.live);

    const bench_backend backends[] = {
        ROW("pool", false, FL_ALLOCATOR_POOL, 2 * MIB, W1_BLOCK, false),
        ROW_VIA(BENCH_POOL_FAST, "pool-inline", false, FL_ALLOCATOR_POOL, 2 * MIB, W1_BLOCK, false),
        ROW_VIA(BENCH_FLOOR, "pool-floor", false, FL_ALLOCATOR_POOL, 2 * MIB, W1_BLOCK, false),
        ROW("freelist", false, FL_ALLOCATOR_FREELIST, 4 * MIB, 0, false),
        ROW("buddy", false, FL_ALLOCATOR_BUDDY, BUDDY_ARENA(4 * MIB), 0, false),
        ROW("system", false, FL_ALLOCATOR_SYSTEM, 0, 0, false),
        ROW(BENCH_LIBC_LABEL, true, FL_ALLOCATOR_SYSTEM, 0, 0, false),
        bench_memory_backend("fl_memory/pool", FL_MEMORY_POOL, 16 * MIB, false),
        bench_memory_backend("fl_memory-mt/pool", FL_MEMORY_POOL, 16 * MIB, true),
    };
    measure_all(cfg, table, "W1", backends, sizeof backends / sizeof backends[0], w1_replay, &w);
    bench_table_finish(table);
    free(w.op_slot);
    free(w.slot);
    return true;
}

/* ---- W2 -------------------------------------------------------------------------------- */

typedef struct w2_data {
    size_t frame, frames, patterns;
    const uint16_t *sizes;         /* patterns x frame: the sizes of each distinct frame */
    const uint16_t *random_order;  /* patterns x frame: a permutation of the frame's blocks */
    const uint16_t *reverse_order; /* frame: frame-1 .. 0 */
    bool random;                   /* which of the two free orders this variant uses */
    unsigned char **slot;          /* frame: scratch */
} w2_data;

BENCH_INLINE void w2_replay_via(bench_run *run, const void *data, bench_rep *out, bench_path path)
{
    const w2_data *w = data;
    unsigned char **slot = w->slot;
    bool by_reset = run->backend->frees_by_reset;
    fl_marker frame_start = {0, 0, 0};
    uint64_t start = bench_now_ns();
    BENCH_COLLECT_TOGGLE(); /* callgrind: count the timed loop only */
    for (size_t f = 0; f < w->frames; f++) {
        size_t pattern = f % w->patterns;
        if (by_reset && run->m != NULL) frame_start = fl_memory_mark(run->m, run->memory_type);
        const uint16_t *size = w->sizes + pattern * w->frame;
        const uint16_t *order = w->random ? w->random_order + pattern * w->frame : w->reverse_order;
        for (size_t i = 0; i < w->frame; i++) {
            unsigned char *p = bench_alloc_via(run, size[i], path);
            if (p != NULL) *p = (unsigned char)(i + f);
            slot[i] = p;
        }
        if (by_reset) {
            /* A reset frees the frame at once, so the free order means nothing here: the
             * bytes are read back in allocation order (the cheapest for the caches, as the
             * reads are the bench's work, not the allocator's), then one rewind. */
            for (size_t i = 0; i < w->frame; i++) {
                const unsigned char *p = slot[i];
                if (p != NULL) run->checksum += *p;
            }
            if (run->m != NULL) {
                fl_status status = fl_memory_rewind(run->m, run->memory_type, frame_start);
                if (status != FL_OK) bench_run_fail(run, "fl_memory_rewind failed", NULL, 0, status);
            } else {
                fl_allocator_reset(run->a);
            }
        } else {
            for (size_t k = 0; k < w->frame; k++) {
                unsigned char *p = slot[order[k]];
                if (p != NULL) bench_release(run, p);
            }
        }
    }
    BENCH_COLLECT_TOGGLE();
    uint64_t end = bench_now_ns();
    out->ns_per_pair = (double)(end - start) / (double)(w->frames * w->frame);
    out->pairs = (uint64_t)w->frames * w->frame;
}

BENCH_NOINLINE void w2_replay_call(bench_run *run, const void *data, bench_rep *out)
{
    w2_replay_via(run, data, out, BENCH_CALL);
}

BENCH_NOINLINE void w2_replay_linear_fast(bench_run *run, const void *data, bench_rep *out)
{
    w2_replay_via(run, data, out, BENCH_LINEAR_FAST);
}

static void w2_replay(bench_run *run, const void *data, bench_rep *out)
{
    if (run->backend->path == BENCH_LINEAR_FAST)
        w2_replay_linear_fast(run, data, out);
    else
        w2_replay_call(run, data, out);
}

bool bench_w2(const bench_config *cfg, bench_table *table)
{
    table_start(table, "W2");
    size_t frame = W2_FRAME, patterns = W2_PATTERNS;
    size_t frames = cfg->quick ? W2_FRAMES / QUICK_DIVISOR : W2_FRAMES;
    snprintf(table->title, sizeof table->title,
             "W2: %zu frames of %zu allocations of %u..%u B, then all freed (reverse or random order; "
             "linear: one reset)",
             frames, frame, W2_MIN, W2_MAX);
    uint16_t *sizes = checked_calloc(patterns * frame, sizeof *sizes);
    uint16_t *random_order = checked_calloc(patterns * frame, sizeof *random_order);
    uint16_t *reverse_order = checked_calloc(frame, sizeof *reverse_order);
    unsigned char **slot = checked_calloc(frame, sizeof *slot);
    bool ok = sizes && random_order && reverse_order && slot;
    if (ok) {
        bench_rng rng = rng_for(cfg, 2);
        for (size_t p = 0; p < patterns; p++) {
            uint16_t *size = sizes + p * frame, *order = random_order + p * frame;
            for (size_t i = 0; i < frame; i++) {
                size[i] = (uint16_t)(W2_MIN + rng_below(&rng, W2_MAX - W2_MIN + 1));
                order[i] = (uint16_t)i;
            }
            for (size_t i = frame - 1; i > 0; i--) { /* Fisher-Yates */
                size_t j = rng_below(&rng, i + 1);
                uint16_t t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        for (size_t i = 0; i < frame; i++) reverse_order[i] = (uint16_t)(frame - 1 - i);

        w2_data w = {frame, frames, patterns, sizes, random_order, reverse_order, false, slot};
        bench_backend temp = bench_memory_backend("fl_memory/temp", FL_MEMORY_TEMPORARY, 16 * MIB, false);
        bench_backend temp_mt = bench_memory_backend("fl_memory-mt/temp", FL_MEMORY_TEMPORARY, 16 * MIB, true);
        temp.frees_by_reset = temp_mt.frees_by_reset = true;
        /* Reverse order: the stack frees LIFO, the linear allocator resets. */
        const bench_backend reverse[] = {
            ROW("linear", false, FL_ALLOCATOR_LINEAR, 8 * MIB, 0, true),
            ROW_VIA(BENCH_LINEAR_FAST, "linear-inline", false, FL_ALLOCATOR_LINEAR, 8 * MIB, 0, true),
            ROW("stack", false, FL_ALLOCATOR_STACK, 8 * MIB, 0, false),
            ROW("freelist", false, FL_ALLOCATOR_FREELIST, 8 * MIB, 0, false),
            ROW("buddy", false, FL_ALLOCATOR_BUDDY, BUDDY_ARENA(16 * MIB), 0, false),
            ROW(BENCH_LIBC_LABEL, true, FL_ALLOCATOR_SYSTEM, 0, 0, false),
            temp,
            temp_mt,
        };
        measure_all(cfg, table, "W2-reverse", reverse, sizeof reverse / sizeof reverse[0], w2_replay, &w);
        /* Random order: no stack (its frees must be LIFO). */
        w.random = true;
        const bench_backend random[] = {
            ROW("linear", false, FL_ALLOCATOR_LINEAR, 8 * MIB, 0, true),
            ROW_VIA(BENCH_LINEAR_FAST, "linear-inline", false, FL_ALLOCATOR_LINEAR, 8 * MIB, 0, true),
            ROW("freelist", false, FL_ALLOCATOR_FREELIST, 8 * MIB, 0, false),
            ROW("buddy", false, FL_ALLOCATOR_BUDDY, BUDDY_ARENA(16 * MIB), 0, false),
            ROW(BENCH_LIBC_LABEL, true, FL_ALLOCATOR_SYSTEM, 0, 0, false),
            temp,
            temp_mt,
        };
        measure_all(cfg, table, "W2-random", random, sizeof random / sizeof random[0], w2_replay, &w);
        bench_table_finish(table);
    }
    free(sizes);
    free(random_order);
    free(reverse_order);
    free(slot);
    return ok;
}

/* ---- W3 and W4 --------------------------------------------------------------------------- */

typedef struct w3_data {
    size_t slots, ops;
    const uint32_t *fill_size; /* slots: the sizes of the initial live set */
    const uint32_t *op_slot;   /* ops: the slot each replacement frees and refills */
    const uint32_t *op_size;   /* ops: the size of the refill */
    unsigned char **slot;      /* slots: scratch */
    uint32_t *latency;         /* ops: W4's samples, in ns */
    uint64_t overhead_ns;      /* W4: subtracted from every sample */
} w3_data;

/* Log-uniform in [lo, hi]: every octave is equally likely. */
static uint32_t log_uniform(bench_rng *rng, double lo, double hi)
{
    double v = exp(log(lo) + rng_unit(rng) * (log(hi) - log(lo)));
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    return (uint32_t)v;
}

static uint32_t w3_size(bench_rng *rng)
{
    if (rng_unit(rng) < W3_LARGE_SHARE) return log_uniform(rng, W3_LARGE_MIN, W3_LARGE_MAX);
    return log_uniform(rng, W3_SMALL_MIN, W3_SMALL_MAX);
}

static void w3_fill(bench_run *run, const w3_data *w)
{
    for (size_t i = 0; i < w->slots; i++) {
        unsigned char *p = bench_alloc(run, w->fill_size[i]);
        if (p != NULL) *p = (unsigned char)i;
        w->slot[i] = p;
    }
}

static void w3_teardown(bench_run *run, const w3_data *w)
{
    for (size_t i = 0; i < w->slots; i++)
        if (w->slot[i] != NULL) bench_teardown(run, w->slot[i]);
}

static void w3_replay(bench_run *run, const void *data, bench_rep *out)
{
    const w3_data *w = data;
    unsigned char **slot = w->slot;
    w3_fill(run, w);
    uint64_t start = bench_now_ns();
    BENCH_COLLECT_TOGGLE(); /* callgrind: count the timed loop only */
    for (size_t k = 0; k < w->ops; k++) {
        uint32_t i = w->op_slot[k];
        if (slot[i] != NULL) bench_release(run, slot[i]);
        unsigned char *p = bench_alloc(run, w->op_size[k]);
        if (p != NULL) *p = (unsigned char)k;
        slot[i] = p;
    }
    BENCH_COLLECT_TOGGLE();
    uint64_t end = bench_now_ns();
    w3_teardown(run, w);
    out->ns_per_pair = (double)(end - start) / (double)w->ops;
    out->pairs = w->ops;
}

/* W5: W3's ops, each block written on every page (a program uses what it asks for), so
 * that resident memory reflects the blocks; not timed for the tables. */
static unsigned char *w5_touch(unsigned char *p, size_t size, unsigned char value)
{
    if (p == NULL) return NULL;
    for (size_t at = 0; at < size; at += 4096u) p[at] = value;
    p[size - 1] = value;
    *p = value; /* the byte the checksum reads */
    return p;
}

static void w5_replay(bench_run *run, const void *data, bench_rep *out)
{
    const w3_data *w = data;
    unsigned char **slot = w->slot;
    for (size_t i = 0; i < w->slots; i++)
        slot[i] = w5_touch(bench_alloc(run, w->fill_size[i]), w->fill_size[i], (unsigned char)i);
    uint64_t start = bench_now_ns();
    for (size_t k = 0; k < w->ops; k++) {
        uint32_t i = w->op_slot[k];
        if (slot[i] != NULL) bench_release(run, slot[i]);
        slot[i] = w5_touch(bench_alloc(run, w->op_size[k]), w->op_size[k], (unsigned char)k);
    }
    uint64_t end = bench_now_ns();
    w3_teardown(run, w);
    out->ns_per_pair = (double)(end - start) / (double)w->ops;
    out->pairs = w->ops;
}

/*
 * A reference for W4, not an allocator (row "cold-lines"): each slot owns one cache line of
 * the arena (the slots spread evenly over all of it); a timed "allocation" writes two
 * random lines of the arena and returns the slot's line, which the loop then writes like
 * any block: three lines per allocation, none of them likely to be cached. Its latencies
 * are what cold memory costs on this machine (caches, TLB, the virtual machine under it)
 * in an arena this size: an allocator's tail should grow with the live set no faster than
 * this row's does. The same bytes are read and written as in every other row, so the
 * checksum matches.
 */
static void w4_replay_cold_lines(bench_run *run, const w3_data *w, bench_rep *out)
{
    unsigned char **slot = w->slot;
    uint32_t *latency = w->latency;
    const uint64_t overhead = w->overhead_ns;
    size_t lines = run->arena_bytes / 64u, spread = lines / w->slots ? lines / w->slots : 1u;
    uint64_t x = 0x9E3779B97F4A7C15u; /* xorshift64: a few instructions per draw */
    for (size_t i = 0; i < w->slots; i++) {
        slot[i] = run->arena + (i * spread % lines) * 64u;
        *slot[i] = (unsigned char)i;
    }
    uint64_t start = bench_now_ns();
    for (size_t k = 0; k < w->ops; k++) {
        uint32_t i = w->op_slot[k];
        run->checksum += *slot[i]; /* as bench_release reads a block before freeing it */
        uint64_t t0 = bench_now_ns();
        for (int touch = 0; touch < 2; touch++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            run->arena[(x % lines) * 64u + 32u]++; /* byte 32: never a slot's checksum byte */
        }
        unsigned char *p = slot[i]; /* the slot's own line, as at the start */
        uint64_t t1 = bench_now_ns();
        uint64_t ns = t1 - t0 > overhead ? t1 - t0 - overhead : 0;
        latency[k] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
        *p = (unsigned char)k;
    }
    uint64_t end = bench_now_ns();
    for (size_t i = 0; i < w->slots; i++) run->checksum += *slot[i];
    out->ns_per_pair = (double)(end - start) / (double)w->ops;
    out->pairs = w->ops;
    bench_percentiles(latency, w->ops, out->pct_ns);
}

/* W3's ops with a clock read around each allocation (the frees are not timed). */
static void w4_replay(bench_run *run, const void *data, bench_rep *out)
{
    const w3_data *w = data;
    if (run->backend->cold_lines) {
        w4_replay_cold_lines(run, w, out);
        return;
    }
    unsigned char **slot = w->slot;
    uint32_t *latency = w->latency;
    const uint64_t overhead = w->overhead_ns;
    w3_fill(run, w);
    uint64_t start = bench_now_ns();
    BENCH_COLLECT_TOGGLE(); /* callgrind: count the timed loop only */
    for (size_t k = 0; k < w->ops; k++) {
        uint32_t i = w->op_slot[k];
        if (slot[i] != NULL) bench_release(run, slot[i]);
        uint64_t t0 = bench_now_ns();
        unsigned char *p = bench_alloc(run, w->op_size[k]);
        uint64_t t1 = bench_now_ns();
        uint64_t ns = t1 - t0 > overhead ? t1 - t0 - overhead : 0;
        latency[k] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
        if (p != NULL) *p = (unsigned char)k;
        slot[i] = p;
    }
    BENCH_COLLECT_TOGGLE();
    uint64_t end = bench_now_ns();
    w3_teardown(run, w);
    out->ns_per_pair = (double)(end - start) / (double)w->ops;
    out->pairs = w->ops;
    bench_percentiles(latency, w->ops, out->pct_ns);
}

bool bench_w3_w4(const bench_config *cfg, bench_table *w3, bench_table *w4, bench_table *w5)
{
    size_t live_target = cfg->quick ? W3_LIVE / 4 : W3_LIVE;
    if (cfg->w3_live_mib != 0) live_target = cfg->w3_live_mib * MIB;
    size_t ops = cfg->w3_ops != 0 ? (size_t)cfg->w3_ops : scaled(cfg, W3_OPS);
    bench_rng rng = rng_for(cfg, 3);

    /* The initial live set: sizes drawn until their sum reaches the target. */
    size_t capacity = 1024, slots = 0, live = 0;
    uint32_t *fill_size = malloc(capacity * sizeof *fill_size);
    while (fill_size != NULL && live < live_target) {
        if (slots == capacity) {
            uint32_t *grown = realloc(fill_size, 2 * capacity * sizeof *fill_size);
            if (grown == NULL) {
                free(fill_size);
                fill_size = NULL;
                break;
            }
            fill_size = grown;
            capacity *= 2;
        }
        fill_size[slots] = w3_size(&rng);
        live += fill_size[slots++];
    }
    uint32_t *op_slot = checked_calloc(ops, sizeof *op_slot);
    uint32_t *op_size = checked_calloc(ops, sizeof *op_size);
    unsigned char **slot = checked_calloc(slots, sizeof *slot);
    uint32_t *latency = w4 ? checked_calloc(ops, sizeof *latency) : NULL;
    bool ok = fill_size && op_slot && op_size && slot && (w4 == NULL || latency);
    if (ok) {
        /* The ops, and the live bytes they lead to (for the arena sizes and the title). */
        uint32_t *size_of_slot = checked_calloc(slots, sizeof *size_of_slot);
        ok = size_of_slot != NULL;
        size_t peak = live, start_live = live;
        if (ok) {
            memcpy(size_of_slot, fill_size, slots * sizeof *size_of_slot);
            for (size_t k = 0; k < ops; k++) {
                op_slot[k] = (uint32_t)rng_below(&rng, slots);
                op_size[k] = w3_size(&rng);
                live = live - size_of_slot[op_slot[k]] + op_size[k];
                size_of_slot[op_slot[k]] = op_size[k];
                if (live > peak) peak = live;
            }
            free(size_of_slot);
        }
        w3_data w = {slots, ops, fill_size, op_slot, op_size, slot, latency, 0};
        /* Arenas: the free list gets 4x the target live bytes, the buddy 8x (its power-of-two
         * rounding alone can double a block); for live sets from 256 MiB (the scaling runs)
         * 2x the peak, and 4x for the buddy, so that 2 GiB live fits a host's memory. */
        size_t fl_arena = 4 * live_target, buddy_arena = BUDDY_ARENA(8 * live_target);
        if (live_target >= 256 * MIB) {
            fl_arena = 2 * peak + 16 * MIB;
            buddy_arena = BUDDY_ARENA(4 * peak);
        }
        if (ok && w3 != NULL) {
            table_start(w3, "W3");
            snprintf(w3->title, sizeof w3->title,
                     "W3: %zu random replacements over %zu live slots (%.1f MiB live at start, peak %.1f MiB); "
                     "sizes log-uniform 16 B..64 KiB, 1 %% 256 KiB..4 MiB",
                     ops, slots, (double)start_live / (double)MIB, (double)peak / (double)MIB);
            const bench_backend backends[] = {
                ROW("freelist", false, FL_ALLOCATOR_FREELIST, fl_arena, 0, false),
                ROW("buddy", false, FL_ALLOCATOR_BUDDY, buddy_arena, 0, false),
                ROW("system", false, FL_ALLOCATOR_SYSTEM, 0, 0, false),
                ROW(BENCH_LIBC_LABEL, true, FL_ALLOCATOR_SYSTEM, 0, 0, false),
                bench_memory_backend("fl_memory/system", FL_MEMORY_SYSTEM, fl_arena, false),
                bench_memory_backend("fl_memory-mt/system", FL_MEMORY_SYSTEM, fl_arena, true),
            };
            measure_all(cfg, w3, "W3", backends, sizeof backends / sizeof backends[0], w3_replay, &w);
            bench_table_finish(w3);
        }
        if (ok && w4 != NULL) {
            table_start(w4, "W4");
            w4->latency = true;
            w.overhead_ns = (uint64_t)(cfg->timer_overhead_ns + 0.5);
            snprintf(w4->title, sizeof w4->title,
                     "W4: latency of each allocation in W3 (%zu samples per replay), ns, timer overhead %llu ns "
                     "subtracted; pre-faulted arenas",
                     ops, (unsigned long long)w.overhead_ns);
            const bench_backend backends[] = {
                ROW("freelist", false, FL_ALLOCATOR_FREELIST, fl_arena, 0, false),
                ROW("buddy", false, FL_ALLOCATOR_BUDDY, buddy_arena, 0, false),
                ROW(BENCH_LIBC_LABEL, true, FL_ALLOCATOR_SYSTEM, 0, 0, false),
                bench_memory_backend("fl_memory/system", FL_MEMORY_SYSTEM, fl_arena, false),
                {.label = "cold-lines", .type = FL_ALLOCATOR_AUTO, .arena_bytes = fl_arena, .path = BENCH_CALL,
                 .memory_type = FL_MEMORY_SYSTEM, .cold_lines = true},
            };
            measure_all(cfg, w4, "W4", backends, sizeof backends / sizeof backends[0], w4_replay, &w);
            bench_table_finish(w4);
        }
        if (ok && w5 != NULL) {
            /* W5: the same replay once per row, arenas not pre-faulted: the resident memory
             * it adds at its peak over the peak of the live requested bytes. Run it in a
             * process of its own per allocator (scripts/bench_compare.py does) for the C
             * library's figure: a heap that earlier workloads grew is already resident. */
            table_start(w5, "W5");
            w5->footprint = true;
            w5->peak_live = peak;
            snprintf(w5->title, sizeof w5->title,
                     "W5: footprint over W3 (%zu replacements, peak %.1f MiB live): peak resident bytes the replay "
                     "added / peak live requested bytes; arenas not pre-faulted",
                     ops, (double)peak / (double)MIB);
            bench_config once = *cfg;
            once.footprint = true;
            const bench_backend backends[] = {
                ROW("freelist", false, FL_ALLOCATOR_FREELIST, fl_arena, 0, false),
                ROW("buddy", false, FL_ALLOCATOR_BUDDY, buddy_arena, 0, false),
                ROW("system", false, FL_ALLOCATOR_SYSTEM, 0, 0, false),
                ROW(BENCH_LIBC_LABEL, true, FL_ALLOCATOR_SYSTEM, 0, 0, false),
                bench_memory_backend("fl_memory/system", FL_MEMORY_SYSTEM, fl_arena, false),
            };
            measure_all(&once, w5, "W5", backends, sizeof backends / sizeof backends[0], w5_replay, &w);
            for (size_t i = 0; i < w5->count; i++) {
                bench_row *row = &w5->rows[i];
                row->peak_live = peak;
                if (row->state == BENCH_ROW_OK && peak > 0) row->footprint = (double)row->peak_held / (double)peak;
            }
            bench_table_finish(w5);
        }
    }
    free(fill_size);
    free(op_slot);
    free(op_size);
    free(slot);
    free(latency);
    return ok;
}

/* ---- threads ----------------------------------------------------------------------------- */

/* Every thread replays its own W3-like churn of small objects (log-uniform 16 B .. 1 KiB,
 * 2,048 live per thread) on the one allocator under test: a thread-safe fl_memory (System
 * requests, served by its pools and its free list, one lock per call) or the C library.
 * The total work is fixed (4 M replacements, split between the threads), so on a machine
 * with enough cores the wall time per pair falls as threads are added; with 2 cores it
 * shows what contention costs. The rows are T1, T2, T4, T8. */
#define T_LIVE 2048u
#define T_OPS 4000000u
#define T_SIZE_MIN 16.0
#define T_SIZE_MAX 1024.0
#define T_MAX_THREADS 8u

typedef struct t_data {
    unsigned threads;
    size_t ops;               /* per thread */
    const uint32_t *op_slot;  /* threads * ops: thread t's ops start at t * ops */
    const uint32_t *op_size;
    const uint32_t *fill_size; /* T_MAX_THREADS * T_LIVE */
    unsigned char **slot;      /* T_MAX_THREADS * T_LIVE: scratch */
} t_data;

typedef struct t_arg {
    bench_run run; /* a copy of the replay's run with counters of its own */
    const t_data *w;
    unsigned index;
    pthread_barrier_t *ready;
} t_arg;

static void *t_thread(void *p)
{
    t_arg *arg = p;
    const t_data *w = arg->w;
    bench_run *run = &arg->run;
    unsigned char **slot = w->slot + (size_t)arg->index * T_LIVE;
    const uint32_t *fill = w->fill_size + (size_t)arg->index * T_LIVE;
    const uint32_t *op_slot = w->op_slot + (size_t)arg->index * w->ops;
    const uint32_t *op_size = w->op_size + (size_t)arg->index * w->ops;
    for (size_t i = 0; i < T_LIVE; i++) {
        unsigned char *q = bench_alloc(run, fill[i]);
        if (q != NULL) *q = (unsigned char)i;
        slot[i] = q;
    }
    pthread_barrier_wait(arg->ready); /* the clock starts when every thread has its live set */
    for (size_t k = 0; k < w->ops; k++) {
        uint32_t i = op_slot[k];
        if (slot[i] != NULL) bench_release(run, slot[i]);
        unsigned char *q = bench_alloc(run, op_size[k]);
        if (q != NULL) *q = (unsigned char)k;
        slot[i] = q;
    }
    for (size_t i = 0; i < T_LIVE; i++)
        if (slot[i] != NULL) bench_teardown(run, slot[i]);
    return NULL;
}

static void t_replay(bench_run *run, const void *data, bench_rep *out)
{
    const t_data *w = data;
    t_arg args[T_MAX_THREADS];
    pthread_t ids[T_MAX_THREADS];
    pthread_barrier_t ready;
    if (pthread_barrier_init(&ready, NULL, w->threads + 1u) != 0) {
        bench_run_fail(run, "pthread_barrier_init failed", NULL, 0, FL_OK);
        return;
    }
    unsigned started = 0;
    for (unsigned t = 0; t < w->threads; t++) {
        args[t].run = *run;
        args[t].run.checksum = 0;
        args[t].run.ooms = 0;
        args[t].run.failed = false;
        args[t].w = w;
        args[t].index = t;
        args[t].ready = &ready;
        if (pthread_create(&ids[t], NULL, t_thread, &args[t]) != 0) break;
        started++;
    }
    if (started != w->threads) {
        /* The barrier cannot open: nothing to measure. Report it and stop the process. */
        fprintf(stderr, "flmem_bench: could not start %u threads\n", w->threads);
        exit(1);
    }
    pthread_barrier_wait(&ready);
    uint64_t start = bench_now_ns();
    BENCH_COLLECT_TOGGLE(); /* callgrind: count the timed part only */
    for (unsigned t = 0; t < w->threads; t++) pthread_join(ids[t], NULL);
    BENCH_COLLECT_TOGGLE();
    uint64_t end = bench_now_ns();
    pthread_barrier_destroy(&ready);
    for (unsigned t = 0; t < w->threads; t++) {
        run->checksum += args[t].run.checksum;
        run->ooms += args[t].run.ooms;
        if (args[t].run.failed && !run->failed) {
            run->failed = true;
            memcpy(run->error, args[t].run.error, sizeof run->error);
        }
    }
    uint64_t pairs = (uint64_t)w->ops * w->threads;
    /* The timed part includes each thread's teardown of its live set (a few % of a replay). */
    out->ns_per_pair = (double)(end - start) / (double)pairs;
    out->pairs = pairs;
}

bool bench_threads(const bench_config *cfg, bench_table *table)
{
    table_start(table, "threads");
    size_t total = scaled(cfg, T_OPS);
    /* Thread t of n replays ops [t * total / n, (t + 1) * total / n). */
    uint32_t *op_slot = checked_calloc(total, sizeof *op_slot);
    uint32_t *op_size = checked_calloc(total, sizeof *op_size);
    uint32_t *fill_size = checked_calloc((size_t)T_MAX_THREADS * T_LIVE, sizeof *fill_size);
    unsigned char **slot = checked_calloc((size_t)T_MAX_THREADS * T_LIVE, sizeof *slot);
    bool ok = op_slot && op_size && fill_size && slot;
    if (ok) {
        snprintf(table->title, sizeof table->title,
                 "threads: %zu replacements in all, split over N threads (%u live per thread, sizes log-uniform "
                 "16 B..1 KiB); wall ns per pair; ratio to %s with the same N; this host has %ld CPU(s) online%s",
                 total, T_LIVE, BENCH_LIBC_LABEL, sysconf(_SC_NPROCESSORS_ONLN),
                 cfg->pin ? " but the process is pinned to one" : "");
        static const unsigned counts[] = {1, 2, 4, 8};
        static const char *const labels[] = {"T1", "T2", "T4", "T8"};
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            unsigned n = counts[c];
            size_t per = total / n;
            bench_rng rng = rng_for(cfg, 10 + n);
            for (size_t t = 0; t < n; t++) {
                for (size_t i = 0; i < T_LIVE; i++) fill_size[t * T_LIVE + i] = log_uniform(&rng, T_SIZE_MIN, T_SIZE_MAX);
                for (size_t k = 0; k < per; k++) {
                    op_slot[t * per + k] = (uint32_t)rng_below(&rng, T_LIVE);
                    op_size[t * per + k] = log_uniform(&rng, T_SIZE_MIN, T_SIZE_MAX);
                }
            }
            t_data w = {n, per, op_slot, op_size, fill_size, slot};
            const bench_backend backends[] = {
                ROW(BENCH_LIBC_LABEL, true, FL_ALLOCATOR_SYSTEM, 0, 0, false),
                bench_memory_backend("fl_memory-mt/system", FL_MEMORY_SYSTEM, 64 * MIB, true),
            };
            measure_all(cfg, table, labels[c], backends, sizeof backends / sizeof backends[0], t_replay, &w);
        }
        bench_table_finish(table);
    }
    free(op_slot);
    free(op_size);
    free(fill_size);
    free(slot);
    return ok;
}
