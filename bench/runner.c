/*
 * Running one backend over one workload: map and pre-fault its arena, create the allocator
 * in it, replay once to warm up (and to learn whether the allocator exists yet), then
 * replay cfg->reps times, each on a freshly created allocator, and summarise.
 */
#define _GNU_SOURCE /* mmap's MAP_ANONYMOUS, sysconf, vsnprintf */

#include "bench.h"

#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(MAP_ANONYMOUS) && defined(MAP_ANON)
#define MAP_ANONYMOUS MAP_ANON
#endif

void bench_run_fail(bench_run *run, const char *what, const void *ptr, size_t size, fl_status status)
{
    if (run->failed) return; /* the first error is the one worth reading */
    run->failed = true;
    if (status != FL_OK)
        snprintf(run->error, sizeof run->error, "%s (size %zu, pointer %p): %s: %s", what, size, ptr,
                 fl_status_str(status), fl_last_error()->message);
    else
        snprintf(run->error, sizeof run->error, "%s %p (size %zu) is not aligned to %zu", what, ptr, size,
                 (size_t)BENCH_ALIGN);
}

static void row_note(bench_row *row, bench_row_state state, const char *fmt, ...)
{
    row->state = state;
    va_list args;
    va_start(args, fmt);
    vsnprintf(row->note, sizeof row->note, fmt, args);
    va_end(args);
}

/* A field of /proc/self/status in bytes ("VmRSS:", "VmHWM:"), 0 when unknown. */
static size_t proc_status_bytes(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return 0;
    char line[256];
    size_t n = strlen(field), kib = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, n) == 0) {
            kib = (size_t)strtoull(line + n, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib * 1024u;
}

size_t bench_rss_reset_peak(void)
{
    /* "5" resets VmHWM to the current RSS (Linux 4.0+); without it the peak is not ours. */
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f == NULL) return 0;
    bool ok = fputs("5", f) >= 0;
    ok = fclose(f) == 0 && ok;
    if (!ok) return 0;
    return proc_status_bytes("VmRSS:");
}

size_t bench_rss_peak(void) { return proc_status_bytes("VmHWM:"); }

/* Anonymous pages with every page written once, so that no replay pays a page fault
 * inside an allocator's arena ("pre-faulted"); W5 (footprint) leaves them untouched, so
 * that only the pages an allocator writes become resident. */
static unsigned char *arena_map(size_t bytes, bool prefault)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (!prefault) return (unsigned char *)p;
    volatile unsigned char *pages = p;
    long page = sysconf(_SC_PAGESIZE);
    size_t step = page > 0 ? (size_t)page : 4096u;
    for (size_t offset = 0; offset < bytes; offset += step) pages[offset] = 0;
    return (unsigned char *)p;
}

static void arena_unmap(unsigned char *arena, size_t bytes)
{
    if (arena != NULL) munmap(arena, bytes);
}

/* One replay on a fresh allocator. 0: measured; 1: the allocator does not exist yet
 * (FL_ERR_NOT_SUPPORTED); -1: a real error, written into the row. */
static int replay_once(const bench_backend *backend, unsigned char *arena, bench_replay_fn replay,
                       const void *workload, bench_rep *rep, bench_run *run, bench_row *row)
{
    memset(run, 0, sizeof *run);
    run->backend = backend;
    if (backend->memory) {
        fl_status status = bench_memory_create(backend, arena, run);
        if (status != FL_OK) {
            row_note(row, status == FL_ERR_NOT_SUPPORTED ? BENCH_ROW_NA : BENCH_ROW_ERROR, "fl_memory_create: %s: %s",
                     fl_status_str(status), fl_last_error()->message);
            return status == FL_ERR_NOT_SUPPORTED ? 1 : -1;
        }
    } else if (backend->cold_lines) {
        run->arena = arena;
        run->arena_bytes = backend->arena_bytes;
    } else if (!backend->libc) {
        fl_allocator_config config;
        memset(&config, 0, sizeof config);
        config.type = backend->type;
        config.name = backend->label;
        config.buffer = arena;
        config.size = backend->arena_bytes;
        config.block_size = backend->block_size;
        fl_status status = fl_allocator_create(&config, &run->a);
        if (status == FL_ERR_NOT_SUPPORTED) {
            row_note(row, BENCH_ROW_NA, "%s", fl_last_error()->message);
            return 1;
        }
        if (status != FL_OK) {
            row_note(row, BENCH_ROW_ERROR, "create failed: %s: %s", fl_status_str(status),
                     fl_last_error()->message);
            return -1;
        }
    }
    memset(rep, 0, sizeof *rep);
    replay(run, workload, rep);
    if (run->a != NULL) {
        /* The replay leaves its last live blocks in place: a structural check with them. */
        if (!run->failed && fl_allocator_validate(run->a) != FL_OK) {
            run->failed = true;
            snprintf(run->error, sizeof run->error, "validate after the replay: %s", fl_last_error()->message);
        }
        fl_allocator_destroy(run->a);
        run->a = NULL;
    }
    if (run->m != NULL) {
        /* Its live blocks too: every region and counter checked, then all of it goes. */
        if (!run->failed && fl_memory_validate(run->m) != FL_OK) {
            run->failed = true;
            snprintf(run->error, sizeof run->error, "fl_memory_validate after the replay: %s",
                     fl_last_error()->message);
        }
        fl_memory_destroy(run->m);
        run->m = NULL;
    }
    if (run->failed) {
        row_note(row, BENCH_ROW_ERROR, "%s", run->error);
        return -1;
    }
    return 0;
}

void bench_measure(const bench_config *cfg, const bench_backend *backend, bench_replay_fn replay,
                   const void *workload, bool latency, bench_row *row)
{
    row->allocator = backend->label;
    row->state = BENCH_ROW_OK;
    row->note[0] = '\0';
    row->ratio = -1.0;
    row->arena_bytes = backend->arena_bytes;
    row->reps = 0;
    row->footprint = -1.0;
    row->peak_held = row->peak_live = 0;

    unsigned char *arena = NULL;
    if (backend->arena_bytes != 0) {
        arena = arena_map(backend->arena_bytes, !cfg->footprint);
        if (arena == NULL) {
            row_note(row, BENCH_ROW_ERROR, "could not map a %zu-byte arena", backend->arena_bytes);
            return;
        }
    }

    bench_run run;
    bench_rep rep;
    if (cfg->footprint) {
        /* W5: one replay on untouched pages; what it made resident is what it held. */
        size_t before = bench_rss_reset_peak();
        int status = replay_once(backend, arena, replay, workload, &rep, &run, row);
        size_t peak = bench_rss_peak();
        arena_unmap(arena, backend->arena_bytes);
        if (status != 0) return;
        row->reps = 1;
        row->ooms = run.ooms;
        row->checksum = run.checksum;
        row->pairs = rep.pairs;
        row->median_ns = row->min_ns = row->max_ns = rep.ns_per_pair;
        if (before == 0 || peak < before) {
            row_note(row, BENCH_ROW_NA, "resident memory is not measurable here (needs Linux /proc)");
            return;
        }
        row->peak_held = peak - before;
        return;
    }
    /* The warm-up: caches, branch predictors, the C library's heap, and a first answer to
     * "does this allocator exist yet". Its numbers are dropped. */
    if (replay_once(backend, arena, replay, workload, &rep, &run, row) != 0) {
        arena_unmap(arena, backend->arena_bytes);
        return;
    }

    double pairs[64], pct[BENCH_PCT_COUNT][64];
    int reps = cfg->reps < 64 ? cfg->reps : 64;
    uint64_t checksum = run.checksum;
    row->ooms = run.ooms;
    for (int r = 0; r < reps; r++) {
        if (replay_once(backend, arena, replay, workload, &rep, &run, row) != 0) {
            arena_unmap(arena, backend->arena_bytes);
            return;
        }
        /* The same ops give the same bytes: a replay that differs from the warm-up without
         * an OOM to explain it handed out overlapping blocks. */
        if (run.checksum != checksum && run.ooms == 0 && row->ooms == 0) {
            row_note(row, BENCH_ROW_ERROR, "checksum 0x%llx differs from the warm-up's 0x%llx",
                     (unsigned long long)run.checksum, (unsigned long long)checksum);
            arena_unmap(arena, backend->arena_bytes);
            return;
        }
        if (run.ooms > row->ooms) row->ooms = run.ooms;
        pairs[r] = rep.ns_per_pair;
        for (int p = 0; p < BENCH_PCT_COUNT; p++) pct[p][r] = rep.pct_ns[p];
    }
    arena_unmap(arena, backend->arena_bytes);

    row->reps = reps;
    row->checksum = checksum;
    row->pairs = rep.pairs;
    row->min_ns = row->max_ns = pairs[0];
    for (int r = 1; r < reps; r++) {
        if (pairs[r] < row->min_ns) row->min_ns = pairs[r];
        if (pairs[r] > row->max_ns) row->max_ns = pairs[r];
    }
    row->median_ns = bench_median(pairs, (size_t)reps);
    if (latency) {
        /* The maximum is the worst of all replays; the percentiles their medians. */
        double worst = 0.0;
        for (int r = 0; r < reps; r++)
            if (pct[BENCH_PMAX][r] > worst) worst = pct[BENCH_PMAX][r];
        row->p9999_min_ns = row->p9999_max_ns = pct[BENCH_P9999][0];
        for (int r = 1; r < reps; r++) {
            if (pct[BENCH_P9999][r] < row->p9999_min_ns) row->p9999_min_ns = pct[BENCH_P9999][r];
            if (pct[BENCH_P9999][r] > row->p9999_max_ns) row->p9999_max_ns = pct[BENCH_P9999][r];
        }
        for (int p = 0; p < BENCH_PMAX; p++) row->pct_ns[p] = bench_median(pct[p], (size_t)reps);
        row->pct_ns[BENCH_PMAX] = worst;
    }
}

void bench_table_finish(bench_table *table)
{
    for (size_t i = 0; i < table->count; i++) {
        bench_row *row = &table->rows[i];
        if (row->state != BENCH_ROW_OK) continue;
        /* The C library's row with the same workload label is the reference. */
        const bench_row *ref = NULL;
        for (size_t j = 0; j < table->count; j++) {
            const bench_row *r = &table->rows[j];
            if (strcmp(r->allocator, BENCH_LIBC_LABEL) == 0 && strcmp(r->workload, row->workload) == 0 &&
                r->state == BENCH_ROW_OK)
                ref = r;
        }
        if (ref == NULL) continue;
        if (ref->median_ns > 0.0) row->ratio = row->median_ns / ref->median_ns;
        if (row->ooms == 0 && ref->ooms == 0 && row->checksum != ref->checksum)
            row_note(row, BENCH_ROW_ERROR,
                     "checksum 0x%llx differs from %s's 0x%llx: live blocks overlapped",
                     (unsigned long long)row->checksum, BENCH_LIBC_LABEL, (unsigned long long)ref->checksum);
    }
}
