/*
 * Helpers shared by the tests/test_memory_*.c programs: a compact configuration with every
 * kind of region, snapshots of every statistic (to prove a failed call changed nothing),
 * the identities of API.md checked in one call, and a counting platform hooks table.
 */
#ifndef FLMEM_MEMORY_TEST_UTIL_H
#define FLMEM_MEMORY_TEST_UTIL_H

#include "harness.h"

#include "fake_platform.h"
#include "platform/platform.h"

#include <stdatomic.h>
#include <string.h>

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)

/* Every strategy once: System free list (with a reserve), Pool classes 16..256, Temporary
 * linear, Stack, Network free list, Video and Audio buddy. Ratio pressure thresholds. */
static inline fl_memory_config small_config(void)
{
    fl_memory_config c;
    CHECK_OK(fl_memory_config_default(FL_PLATFORM_DESKTOP, &c));
    memset(c.capacity, 0, sizeof c.capacity);
    memset(c.pressure, 0, sizeof c.pressure);
    memset(&c.total_pressure, 0, sizeof c.total_pressure);
    c.capacity[FL_MEMORY_SYSTEM] = 1 * MIB;
    c.capacity[FL_MEMORY_POOL] = 256 * KIB;
    c.capacity[FL_MEMORY_TEMPORARY] = 256 * KIB;
    c.capacity[FL_MEMORY_STACK] = 64 * KIB;
    c.capacity[FL_MEMORY_NETWORK] = 64 * KIB;
    c.capacity[FL_MEMORY_VIDEO] = 256 * KIB;
    c.capacity[FL_MEMORY_AUDIO] = 128 * KIB;
    c.emergency_reserve = 64 * KIB;
    size_t classes[] = {16, 32, 64, 128, 256};
    memset(c.pool_classes, 0, sizeof c.pool_classes);
    memcpy(c.pool_classes, classes, sizeof classes);
    c.max_allocation = 0;
    c.thread_safe = false;
    return c;
}

static inline fl_memory *make_memory(const fl_memory_config *c)
{
    fl_memory *m = NULL;
    CHECK_OK(fl_memory_create(c, &m));
    CHECK(m != NULL);
    return m;
}

/* ---- snapshots ------------------------------------------------------------------------ */

typedef struct memory_snapshot {
    fl_memory_stats global;
    fl_memory_stats type[FL_MEMORY_TYPE_COUNT];
    fl_allocator_stats strategy[FL_ALLOCATOR_TYPE_COUNT];
    bool has_strategy[FL_ALLOCATOR_TYPE_COUNT];
    fl_pressure_info pressure[FL_MEMORY_TYPE_COUNT + 1];
} memory_snapshot;

static inline memory_snapshot snapshot(fl_memory *m)
{
    memory_snapshot s;
    memset(&s, 0, sizeof s);
    CHECK_OK(fl_memory_get_stats(m, &s.global));
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) CHECK_OK(fl_memory_get_type_stats(m, (fl_memory_type)t, &s.type[t]));
    /* Only the strategies in use: asking for the others would overwrite the last error. */
    fl_allocator_type used[FL_ALLOCATOR_TYPE_COUNT];
    size_t n = fl_memory_get_available_allocators(m, used, FL_ALLOCATOR_TYPE_COUNT);
    for (size_t i = 0; i < n; i++) {
        s.has_strategy[used[i]] = true;
        CHECK_OK(fl_memory_get_allocator_stats(m, used[i], &s.strategy[used[i]]));
    }
    for (int t = 0; t <= FL_MEMORY_TYPE_COUNT; t++) CHECK_OK(fl_memory_get_pressure(m, (fl_memory_type)t, &s.pressure[t]));
    return s;
}

static inline bool stats_equal(const fl_memory_stats *a, const fl_memory_stats *b)
{
    return a->total_bytes == b->total_bytes && a->used_bytes == b->used_bytes && a->free_bytes == b->free_bytes &&
           a->peak_used_bytes == b->peak_used_bytes && a->allocation_count == b->allocation_count &&
           a->total_allocations == b->total_allocations && a->total_deallocations == b->total_deallocations &&
           a->failed_allocations == b->failed_allocations && a->largest_free_block == b->largest_free_block &&
           a->fragmentation_pct == b->fragmentation_pct && a->allocation_efficiency == b->allocation_efficiency;
}

static inline bool snapshot_equal(const memory_snapshot *a, const memory_snapshot *b)
{
    if (!stats_equal(&a->global, &b->global)) return false;
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++)
        if (!stats_equal(&a->type[t], &b->type[t])) return false;
    for (int s = 0; s < FL_ALLOCATOR_TYPE_COUNT; s++) {
        if (a->has_strategy[s] != b->has_strategy[s]) return false;
        if (a->has_strategy[s] && memcmp(&a->strategy[s], &b->strategy[s], sizeof a->strategy[s]) != 0) return false;
    }
    for (int t = 0; t <= FL_MEMORY_TYPE_COUNT; t++)
        if (a->pressure[t].level != b->pressure[t].level ||
            a->pressure[t].available_bytes != b->pressure[t].available_bytes)
            return false;
    return true;
}

/* `expr` must fail with `status` and leave every statistic as it was. */
#define CHECK_UNCHANGED(m, expr, status)                                                                   \
    do {                                                                                                   \
        memory_snapshot before_ = snapshot(m);                                                             \
        CHECK_STATUS(expr, status);                                                                        \
        memory_snapshot after_ = snapshot(m);                                                              \
        CHECK(snapshot_equal(&before_, &after_));                                                          \
    } while (0)

static inline bool message_has(const char *what) { return strstr(fl_last_error()->message, what) != NULL; }

/* API.md's identities, for the whole and every type, and the types adding up. */
static inline void check_identities(fl_memory *m)
{
    fl_memory_stats g, t;
    CHECK_OK(fl_memory_get_stats(m, &g));
    size_t total = 0, used = 0, count = 0;
    uint64_t allocs = 0, frees = 0, failed = 0;
    size_t largest = 0;
    for (int i = 0; i < FL_MEMORY_TYPE_COUNT; i++) {
        CHECK_OK(fl_memory_get_type_stats(m, (fl_memory_type)i, &t));
        CHECK_EQ_SIZE(t.used_bytes + t.free_bytes, t.total_bytes);
        CHECK(t.peak_used_bytes >= t.used_bytes);
        CHECK(t.total_allocations - t.total_deallocations == (uint64_t)t.allocation_count);
        CHECK(t.fragmentation_pct >= 0.0 && t.fragmentation_pct <= 100.0);
        CHECK(t.allocation_efficiency > 0.0 && t.allocation_efficiency <= 1.0);
        CHECK(t.largest_free_block <= t.free_bytes);
        total += t.total_bytes;
        used += t.used_bytes;
        count += t.allocation_count;
        allocs += t.total_allocations;
        frees += t.total_deallocations;
        failed += t.failed_allocations;
        if (t.largest_free_block > largest) largest = t.largest_free_block;
    }
    CHECK_EQ_SIZE(g.used_bytes + g.free_bytes, g.total_bytes);
    CHECK(g.peak_used_bytes >= g.used_bytes);
    CHECK_EQ_SIZE(g.total_bytes, total);
    CHECK_EQ_SIZE(g.used_bytes, used);
    CHECK_EQ_SIZE(g.allocation_count, count);
    CHECK(g.total_allocations == allocs && g.total_deallocations == frees && g.failed_allocations == failed);
    CHECK_EQ_SIZE(g.largest_free_block, largest);
    CHECK(g.fragmentation_pct >= 0.0 && g.fragmentation_pct <= 100.0);
    CHECK(g.allocation_efficiency > 0.0 && g.allocation_efficiency <= 1.0);
}

/* ---- platform accounting (tests/fake_platform.h) ------------------------------------------ */

/* Every hook call the fake counted, whatever the hook. */
static inline size_t fake_total_calls(const fake_platform *f)
{
    size_t n = 0;
    for (int i = 0; i < FAKE_HOOK_COUNT; i++) n += fake_calls(f, (fake_hook)i);
    return n;
}

/* A release_pages that leaves 0xA5 garbage instead of zeroes, counting what it was given:
 * if any bookkeeping lived in released pages, validate or the next allocation would see. */
static atomic_size_t garbage_released_bytes;
static inline void garbage_release(void *user, void *pages, size_t size)
{
    fake_platform *f = user;
    atomic_fetch_add(&f->calls[FAKE_RELEASE_PAGES], 1);
    atomic_fetch_add(&garbage_released_bytes, size);
    memset(pages, 0xA5, size);
}

#endif /* FLMEM_MEMORY_TEST_UTIL_H */
