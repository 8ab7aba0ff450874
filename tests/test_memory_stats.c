/* Statistics of the memory interface: exact identities at every step, counts that match
 * the calls, a largest free block that is really served, efficiency and fragmentation,
 * the per-strategy view, and reads that cost tens of nanoseconds (src/memory/stats.c). */
#include "memory_test_util.h"

#include <time.h>

#define LIVE_MAX 512

typedef struct live_block {
    void *ptr;
    fl_memory_type type;
} live_block;

static const fl_memory_type usable_types[] = {FL_MEMORY_SYSTEM, FL_MEMORY_VIDEO,     FL_MEMORY_AUDIO, FL_MEMORY_NETWORK,
                                              FL_MEMORY_TEMPORARY, FL_MEMORY_POOL};

/* Random allocations and frees in every type (the stack aside: it frees in order), with
 * the identities and the model's counts checked after every call. */
static void test_identities_at_every_step(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    harness_rng rng = harness_rng_seeded("stats identities", 0x57a75);
    live_block live[LIVE_MAX];
    size_t n = 0;
    uint64_t calls_ok = 0, frees_ok = 0, failed = 0;
    size_t steps = (size_t)harness_scaled(4000);
    for (size_t step = 0; step < steps; step++) {
        if (n > 0 && (n == LIVE_MAX || harness_range(&rng, 0, 99) < 45)) {
            size_t i = harness_range(&rng, 0, n - 1);
            CHECK_OK(fl_memory_deallocate(m, live[i].ptr));
            live[i] = live[--n];
            frees_ok++;
        } else {
            fl_memory_type t = usable_types[harness_range(&rng, 0, 5)];
            size_t size = harness_range(&rng, 1, t == FL_MEMORY_POOL ? 256 : 6000);
            fl_allocation a;
            fl_status st = fl_memory_allocate_typed(m, size, t, (size_t)1 << harness_range(&rng, 0, 6), 0, &a);
            if (st == FL_OK) {
                live[n].ptr = a.ptr;
                live[n++].type = t;
                calls_ok++;
            } else {
                CHECK_STATUS(st, FL_ERR_OUT_OF_MEMORY);
                failed++;
            }
        }
        if (step % harness_range(&rng, 1, 8) == 0) check_identities(m);
        if (step % 500 == 0) CHECK_OK(fl_memory_validate(m));
        if (step % 1000 == 999) {
            /* A frame ends: the Temporary region is released in bulk. */
            size_t before = n, released = 0;
            for (size_t i = 0; i < n;)
                if (live[i].type == FL_MEMORY_TEMPORARY) {
                    live[i] = live[--n];
                    released++;
                } else {
                    i++;
                }
            CHECK_OK(fl_memory_rewind(m, FL_MEMORY_TEMPORARY, (fl_marker){0, 0, 0}));
            frees_ok += released;
            CHECK(before - n == released);
        }
    }
    fl_memory_stats g;
    CHECK_OK(fl_memory_get_stats(m, &g));
    CHECK_EQ_SIZE(g.allocation_count, n);
    CHECK(g.total_allocations == calls_ok);
    CHECK(g.total_deallocations == frees_ok);
    CHECK(g.failed_allocations == failed);
    check_identities(m);
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

/* An allocation of exactly largest_free_block bytes, alignment 1, succeeds in each type. */
static void test_largest_free_is_served(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    harness_rng rng = harness_rng_seeded("largest free", 0x1a56e);
    live_block live[LIVE_MAX];
    size_t n = 0;
    for (int round = 0; round < 60; round++) {
        for (int k = 0; k < 20 && n < LIVE_MAX; k++) {
            fl_memory_type t = usable_types[harness_range(&rng, 0, 5)];
            fl_allocation a;
            size_t size = harness_range(&rng, 1, t == FL_MEMORY_POOL ? 256 : 20000);
            if (fl_memory_allocate_typed(m, size, t, 0, 0, &a) == FL_OK) {
                live[n].ptr = a.ptr;
                live[n++].type = t;
            }
        }
        for (int k = 0; k < 12 && n > 0; k++) {
            size_t i = harness_range(&rng, 0, n - 1);
            CHECK_OK(fl_memory_deallocate(m, live[i].ptr));
            live[i] = live[--n];
        }
        for (size_t i = 0; i < sizeof usable_types / sizeof usable_types[0]; i++) {
            fl_memory_type t = usable_types[i];
            fl_memory_stats s;
            CHECK_OK(fl_memory_get_type_stats(m, t, &s));
            if (s.largest_free_block == 0) continue;
            fl_allocation a;
            CHECK_MSG(fl_memory_allocate_typed(m, s.largest_free_block, t, 1, 0, &a) == FL_OK,
                      "%s: largest free block %zu was not served", fl_memory_type_str(t), s.largest_free_block);
            CHECK_OK(fl_memory_deallocate(m, a.ptr));
        }
        fl_memory_stats g;
        CHECK_OK(fl_memory_get_stats(m, &g));
        bool served = false;
        for (size_t i = 0; i < sizeof usable_types / sizeof usable_types[0] && !served; i++) {
            fl_allocation a;
            if (fl_memory_allocate_typed(m, g.largest_free_block, usable_types[i], 1, 0, &a) == FL_OK) {
                served = true;
                CHECK_OK(fl_memory_deallocate(m, a.ptr));
            }
        }
        CHECK(served || g.largest_free_block == 0);
    }
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

static void test_efficiency_and_fragmentation(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_POOL, &s));
    CHECK(s.allocation_efficiency == 1.0); /* nothing served yet */
    /* Pool: requested / blocks, computable exactly. */
    static const size_t classes[] = {16, 32, 64, 128, 256};
    uint64_t requested = 0, consumed = 0;
    void *held[300];
    for (size_t i = 0; i < 300; i++) {
        size_t size = 1 + (i * 37) % 256;
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_typed(m, size, FL_MEMORY_POOL, 1, 0, &a));
        size_t block = 0;
        for (int k = 0; k < 5 && block == 0; k++)
            if (classes[k] >= size) block = classes[k];
        CHECK_EQ_SIZE(a.size, block);
        requested += size;
        consumed += block;
        held[i] = a.ptr;
    }
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_POOL, &s));
    double expected = (double)requested / (double)consumed;
    CHECK(s.allocation_efficiency > expected - 1e-12 && s.allocation_efficiency < expected + 1e-12);
    CHECK_EQ_SIZE(s.used_bytes, consumed);
    /* Holes in a pool are not fragmentation: any free block serves its class. */
    for (size_t i = 0; i < 300; i += 2) CHECK_OK(fl_memory_deallocate(m, held[i]));
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_POOL, &s));
    CHECK(s.fragmentation_pct == 0.0);
    /* Holes in a free list are. */
    void *sys[40];
    for (int i = 0; i < 40; i++) {
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_typed(m, 4000, FL_MEMORY_SYSTEM, 0, 0, &a));
        sys[i] = a.ptr;
    }
    for (int i = 0; i < 40; i += 2) CHECK_OK(fl_memory_deallocate(m, sys[i]));
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SYSTEM, &s));
    CHECK(s.fragmentation_pct > 0.0 && s.fragmentation_pct < 100.0);
    check_identities(m);
    fl_memory_destroy(m);
}

/* The per-strategy statistics are the sums of the regions each strategy serves. */
static void test_allocator_stats(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    fl_allocation a;
    CHECK_OK(fl_memory_allocate_typed(m, 3000, FL_MEMORY_SYSTEM, 0, 0, &a));
    CHECK_OK(fl_memory_allocate_typed(m, 3000, FL_MEMORY_NETWORK, 0, 0, &a));
    CHECK_OK(fl_memory_allocate_typed(m, 3000, FL_MEMORY_SYSTEM, 0, FL_FLAG_CRITICAL, &a));
    CHECK_OK(fl_memory_allocate_typed(m, 3000, FL_MEMORY_VIDEO, 0, 0, &a));
    CHECK_OK(fl_memory_allocate_typed(m, 100, FL_MEMORY_POOL, 0, 0, &a));
    fl_memory_stats sys, net, vid, aud, pool;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SYSTEM, &sys));
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_NETWORK, &net));
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_VIDEO, &vid));
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_AUDIO, &aud));
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_POOL, &pool));
    fl_allocator_stats fl, bd, pl, via_handle;
    CHECK_OK(fl_memory_get_allocator_stats(m, FL_ALLOCATOR_FREELIST, &fl));
    CHECK_OK(fl_memory_get_allocator_stats(m, FL_ALLOCATOR_BUDDY, &bd));
    CHECK_OK(fl_memory_get_allocator_stats(m, FL_ALLOCATOR_POOL, &pl));
    CHECK_EQ_SIZE(fl.used_bytes, sys.used_bytes + net.used_bytes); /* the reserve included */
    CHECK_EQ_SIZE(fl.total_capacity, sys.total_bytes + net.total_bytes);
    CHECK_EQ_SIZE(fl.allocation_count, 3);
    CHECK(fl.total_allocations == 3);
    CHECK_EQ_SIZE(fl.allocation_overhead, sizeof(size_t));
    CHECK_EQ_SIZE(bd.used_bytes, vid.used_bytes + aud.used_bytes);
    CHECK_EQ_SIZE(bd.total_capacity, vid.total_bytes + aud.total_bytes);
    CHECK_EQ_SIZE(bd.allocation_overhead, 0);
    CHECK_EQ_SIZE(pl.used_bytes, 128);
    CHECK_EQ_SIZE(pl.largest_free_block, 256);
    CHECK(pl.fragmentation_ratio == 0.0);
    CHECK(!pl.supports_defrag);
    CHECK(fl.used_bytes + fl.free_bytes == fl.total_capacity && fl.peak_used_bytes >= fl.used_bytes);
    fl_allocator *h;
    CHECK_OK(fl_memory_get_allocator(m, FL_ALLOCATOR_FREELIST, &h));
    fl_allocator_get_stats(h, &via_handle);
    CHECK(memcmp(&via_handle, &fl, sizeof fl) == 0);
    fl_memory_stats unused;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SHARED, &unused));
    CHECK(unused.total_bytes == 0 && unused.used_bytes == 0 && unused.allocation_efficiency == 1.0);
    CHECK_STATUS(fl_memory_get_allocator_stats(m, FL_ALLOCATOR_SYSTEM, &fl), FL_ERR_NOT_SUPPORTED);
    CHECK_STATUS(fl_memory_get_allocator_stats(m, FL_ALLOCATOR_AUTO, &fl), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_allocator_stats(m, FL_ALLOCATOR_POOL, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_allocator_stats(NULL, FL_ALLOCATOR_POOL, &fl), FL_ERR_INVALID_PARAMETERS);
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

/* Failures are counted only for requests that were valid and could not be served. */
static void test_failed_counts(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    fl_allocation a;
    CHECK_STATUS(fl_memory_allocate_typed(m, 0, FL_MEMORY_POOL, 0, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_allocate_typed(m, 64, FL_MEMORY_SHARED, 0, 0, &a), FL_ERR_NOT_SUPPORTED);
    CHECK_STATUS(fl_memory_allocate_typed(m, 300, FL_MEMORY_POOL, 0, 0, &a), FL_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(fl_memory_allocate_typed(m, 2 * MIB, FL_MEMORY_VIDEO, 0, 0, &a), FL_ERR_OUT_OF_MEMORY);
    fl_memory_stats g, pool, video;
    CHECK_OK(fl_memory_get_stats(m, &g));
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_POOL, &pool));
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_VIDEO, &video));
    CHECK(g.failed_allocations == 2 && pool.failed_allocations == 1 && video.failed_allocations == 1);
    CHECK(g.total_allocations == 0);
    fl_memory_destroy(m);
}

static void test_bad_input(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    fl_memory_stats s;
    CHECK_STATUS(fl_memory_get_stats(NULL, &s), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_stats(m, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_type_stats(m, FL_MEMORY_TYPE_COUNT, &s), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_type_stats(m, (fl_memory_type)-3, &s), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_type_stats(NULL, FL_MEMORY_POOL, &s), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_type_stats(m, FL_MEMORY_POOL, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_validate(NULL), FL_ERR_INVALID_PARAMETERS);
    fl_memory_destroy(m);
}

static double now_ns(void)
{
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* The cheapest of 10 batches of `reads` calls, in ns per call: a batch that a preemption or
 * another process's burst hit (this suite runs on shared machines) does not count. */
static double fastest_batch(fl_memory *m, int reads, bool pressure_read)
{
    double best = 1e300;
    fl_memory_stats s;
    fl_pressure_info p;
    for (int batch = 0; batch < 10; batch++) {
        double t0 = now_ns();
        if (pressure_read)
            for (int i = 0; i < reads; i++) fl_memory_get_pressure(m, FL_MEMORY_POOL, &p);
        else
            for (int i = 0; i < reads; i++) fl_memory_get_stats(m, &s);
        double per = (now_ns() - t0) / reads;
        if (per < best) best = per;
    }
    return best;
}

/* Reads are O(1): a loop over the types and pool classes, never over blocks. Their cost
 * does not grow with the number of live allocations. */
static void test_read_cost(void)
{
    fl_memory_config c = small_config();
    c.thread_safe = true;
    fl_memory *m = make_memory(&c);
    const int reads = 20000;
    double empty_stats = fastest_batch(m, reads, false);
    for (int i = 0; i < 4000; i++) {
        fl_allocation a;
        fl_memory_type t = usable_types[i % 6];
        if (fl_memory_allocate_typed(m, 1 + (size_t)(i * 7) % 200, t, 0, 0, &a) != FL_OK) break;
    }
    double full_stats = fastest_batch(m, reads, false);
    double pressure = fastest_batch(m, reads, true);
    printf("get_stats %.1f ns (empty) / %.1f ns (4000 live), get_pressure %.1f ns (fastest of 10 batches)\n",
           empty_stats, full_stats, pressure);
    /* Printed, not asserted: a shared machine makes any time bound either flaky or unable
     * to fail. The cost is measured against glibc by the benchmark (flmem_bench's stats and
     * pressure rows); what this test asserts is that the reads stay exact with 4000 live. */
    check_identities(m);
    fl_memory_destroy(m);
}

int main(void)
{
    RUN(test_identities_at_every_step);
    RUN(test_largest_free_is_served);
    RUN(test_efficiency_and_fragmentation);
    RUN(test_allocator_stats);
    RUN(test_failed_counts);
    RUN(test_bad_input);
    RUN(test_read_cost);
    return harness_finish();
}
