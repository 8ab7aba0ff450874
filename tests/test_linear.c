/* The linear (bump) allocator: every statement of linear.c's header, bad input for every
 * call, and several threads on one thread-safe instance. The randomized model test is
 * test_linear_model.c. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include "allocators/allocator.h" /* only to corrupt counters and see validate notice */

#include <pthread.h>

#define ARENA_BYTES ((size_t)1 << 20)
static _Alignas(64) unsigned char arena[ARENA_BYTES];

static fl_allocator *make_linear(void *buffer, size_t size, bool thread_safe)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_LINEAR;
    cfg.buffer = buffer;
    cfg.size = size;
    cfg.thread_safe = thread_safe;
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    CHECK(a != NULL);
    return a;
}

/* The region's first byte: an alignment-1 allocation on an empty allocator lands there. */
static unsigned char *region_start(fl_allocator *a)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 1, 1, &p));
    CHECK_OK(fl_allocator_deallocate(a, p));
    fl_allocator_get_stats(a, &s);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    return (unsigned char *)p;
}

static fl_allocator_stats stats_of(const fl_allocator *a)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    return s;
}

/* Every field equal, except failed_allocations which must have grown by `failed_more`. */
static void check_stats_unchanged(const fl_allocator *a, const fl_allocator_stats *before, uint64_t failed_more)
{
    fl_allocator_stats now = stats_of(a);
    CHECK_EQ_SIZE(now.total_capacity, before->total_capacity);
    CHECK_EQ_SIZE(now.used_bytes, before->used_bytes);
    CHECK_EQ_SIZE(now.free_bytes, before->free_bytes);
    CHECK_EQ_SIZE(now.peak_used_bytes, before->peak_used_bytes);
    CHECK_EQ_SIZE(now.allocation_count, before->allocation_count);
    CHECK_EQ_SIZE(now.largest_free_block, before->largest_free_block);
    CHECK(now.allocation_efficiency == before->allocation_efficiency);
    CHECK(now.fragmentation_ratio == before->fragmentation_ratio);
    CHECK(now.total_allocations == before->total_allocations);
    CHECK(now.total_deallocations == before->total_deallocations);
    CHECK(now.failed_allocations == before->failed_allocations + failed_more);
    CHECK_OK(fl_allocator_validate(a));
}

static void test_create(void)
{
    fl_allocator *a = NULL;
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_LINEAR;
    cfg.buffer = arena;

    /* The smallest buffer that works holds the control block and a one-byte region. */
    size_t smallest = 0;
    for (size_t size = 1; size <= 4096 && smallest == 0; size++) {
        cfg.size = size;
        fl_status st = fl_allocator_create(&cfg, &a);
        if (st == FL_OK) smallest = size;
        else CHECK_STATUS(st, FL_ERR_INVALID_PARAMETERS);
    }
    CHECK(smallest > 1);
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.total_capacity, 1);
    CHECK_EQ_SIZE(s.free_bytes, 1);
    CHECK_EQ_SIZE(s.largest_free_block, 1);
    CHECK_EQ_SIZE(s.allocation_overhead, 0);
    CHECK(!s.supports_defrag);
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 1, 1, &p));
    CHECK(fl_allocator_owns(a, p));
    CHECK_STATUS(fl_allocator_allocate(a, 1, 1, &p), FL_ERR_OUT_OF_MEMORY);
    CHECK(strcmp(fl_allocator_name(a), "Linear") == 0);
    CHECK(fl_allocator_kind(a) == FL_ALLOCATOR_LINEAR);
    fl_allocator_destroy(a);

    /* The capacity is what the control block leaves. */
    cfg.size = 4096;
    cfg.name = "frame";
    CHECK_OK(fl_allocator_create(&cfg, &a));
    CHECK_EQ_SIZE(stats_of(a).total_capacity, 4096 - (smallest - 1));
    CHECK(strcmp(fl_allocator_name(a), "frame") == 0);
    fl_allocator_destroy(a);

    /* Without a buffer the memory comes from platform pages. */
    cfg.buffer = NULL;
    cfg.size = 100000;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    s = stats_of(a);
    CHECK(s.total_capacity >= 100000 - smallest && s.total_capacity < 100000 + 65536);
    CHECK_OK(fl_allocator_allocate(a, s.total_capacity, 1, &p));
    memset(p, 0xCD, s.total_capacity);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
}

static void test_alignment_honored(void)
{
    fl_allocator *a = make_linear(arena, ARENA_BYTES, false);
    unsigned char *start = region_start(a);
    for (size_t align = 1; align <= FL_ALIGN_MAX; align *= 2) {
        static const size_t sizes[] = {1, 3, 17, 4096};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            void *skew = NULL, *p = NULL;
            CHECK_OK(fl_allocator_allocate(a, 1, 1, &skew)); /* leave top misaligned */
            size_t before = stats_of(a).used_bytes;
            CHECK_OK(fl_allocator_allocate(a, sizes[i], align, &p));
            CHECK_MSG(((uintptr_t)p & (align - 1)) == 0, "%p not aligned to %zu", p, align);
            CHECK(p >= (void *)(start + before));
            size_t used = stats_of(a).used_bytes;
            /* consumed is padding + size: used is exactly the top's offset. */
            CHECK_EQ_SIZE(used, (size_t)((unsigned char *)p - start) + sizes[i]);
            CHECK((size_t)((unsigned char *)p - start) - before < align);
            harness_fill(p, sizes[i], align + i);
            CHECK(harness_pattern_ok(p, sizes[i], align + i));
            size_t usable = 0;
            CHECK_OK(fl_allocator_usable_size(a, p, &usable));
            CHECK_EQ_SIZE(usable, sizes[i]);
        }
        CHECK_OK(fl_allocator_validate(a));
        harness_check_stats_identities(a);
        fl_allocator_reset(a);
    }
    /* Alignment 0 means FL_ALIGN_DEFAULT. */
    void *skew = NULL, *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 1, 1, &skew));
    CHECK_OK(fl_allocator_allocate(a, 8, 0, &p));
    CHECK(((uintptr_t)p & (FL_ALIGN_DEFAULT - 1)) == 0);
    fl_allocator_destroy(a);
}

static void test_out_of_memory_is_clean(void)
{
    fl_allocator *a = make_linear(arena, 4096, false);
    size_t cap = stats_of(a).total_capacity;
    void *p = NULL, *q = NULL;
    CHECK_OK(fl_allocator_allocate(a, 100, 1, &p));

    void *untouched = (void *)&q;
    void *out = untouched;
    fl_allocator_stats before = stats_of(a);
    CHECK_STATUS(fl_allocator_allocate(a, cap - 99, 1, &out), FL_ERR_OUT_OF_MEMORY);
    CHECK(out == untouched);
    CHECK(fl_last_error()->category == FL_ERR_OUT_OF_MEMORY);
    check_stats_unchanged(a, &before, 1);

    /* Sizes near SIZE_MAX must not wrap into a "fit". */
    before = stats_of(a);
    CHECK_STATUS(fl_allocator_allocate(a, SIZE_MAX, 1, &out), FL_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(fl_allocator_allocate(a, SIZE_MAX - 5, FL_ALIGN_MAX, &out), FL_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(fl_allocator_allocate(a, SIZE_MAX / 2 + 1, 64, &out), FL_ERR_OUT_OF_MEMORY);
    CHECK(out == untouched);
    check_stats_unchanged(a, &before, 3);

    /* Exactly what is left fits; then nothing does. */
    size_t largest = stats_of(a).largest_free_block;
    CHECK_EQ_SIZE(largest, cap - 100);
    CHECK_OK(fl_allocator_allocate(a, largest, 1, &q));
    CHECK(q == (unsigned char *)p + 100);
    CHECK_EQ_SIZE(stats_of(a).free_bytes, 0);
    CHECK_EQ_SIZE(stats_of(a).largest_free_block, 0);
    before = stats_of(a);
    CHECK_STATUS(fl_allocator_allocate(a, 1, 1, &out), FL_ERR_OUT_OF_MEMORY);
    check_stats_unchanged(a, &before, 1);
    /* Padding counts: a one-byte region left after alignment cannot serve an aligned byte. */
    CHECK_OK(fl_allocator_deallocate(a, q));
    CHECK_OK(fl_allocator_allocate(a, cap - 101, 1, &q));
    size_t left = stats_of(a).free_bytes;
    CHECK_EQ_SIZE(left, 1);
    if (((uintptr_t)((unsigned char *)q + cap - 101) & 1) != 0) {
        before = stats_of(a);
        CHECK_STATUS(fl_allocator_allocate(a, 1, 2, &out), FL_ERR_OUT_OF_MEMORY);
        check_stats_unchanged(a, &before, 1);
    }
    CHECK_OK(fl_allocator_allocate(a, 1, 1, &out));
    fl_allocator_destroy(a);
}

static void test_bad_input_changes_nothing(void)
{
    fl_allocator *a = make_linear(arena, 8192, false);
    void *p = NULL, *q = NULL, *r = NULL;
    CHECK_OK(fl_allocator_allocate(a, 40, 1, &p));
    CHECK_OK(fl_allocator_allocate(a, 24, 1, &q));
    CHECK_OK(fl_allocator_allocate(a, 64, 64, &r)); /* the last, maybe with padding */
    fl_allocator_stats before = stats_of(a);
    unsigned char *top = (unsigned char *)r + 64;
    int local = 0;
    size_t n = 0;

    void *out = NULL;
    CHECK_STATUS(fl_allocator_allocate(a, 0, 1, &out), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 16, 3, &out), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 16, 48, &out), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 16, FL_ALIGN_MAX * 2, &out), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 16, 1, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(NULL, 16, 1, &out), FL_ERR_INVALID_PARAMETERS);
    CHECK(out == NULL);

    CHECK_STATUS(fl_allocator_deallocate(a, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_deallocate(NULL, p), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_deallocate(a, &local), FL_ERR_INVALID_PARAMETERS);        /* foreign */
    CHECK_STATUS(fl_allocator_deallocate(a, (void *)a), FL_ERR_INVALID_PARAMETERS);     /* control block */
    CHECK_STATUS(fl_allocator_deallocate(a, top), FL_ERR_INVALID_PARAMETERS);           /* at the top */
    CHECK_STATUS(fl_allocator_deallocate(a, top + 100), FL_ERR_INVALID_PARAMETERS);     /* free span */
    CHECK_STATUS(fl_allocator_deallocate(a, (unsigned char *)r + 1), FL_ERR_INVALID_PARAMETERS); /* interior */
    CHECK_STATUS(fl_allocator_deallocate(a, (unsigned char *)r + 63), FL_ERR_INVALID_PARAMETERS);
    if ((unsigned char *)r != (unsigned char *)q + 24) /* inside r's padding */
        CHECK_STATUS(fl_allocator_deallocate(a, (unsigned char *)r - 1), FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "Linear") != NULL);

    CHECK_STATUS(fl_allocator_usable_size(a, NULL, &n), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_usable_size(a, r, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_usable_size(NULL, r, &n), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_usable_size(a, &local, &n), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_usable_size(a, top, &n), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_usable_size(a, (unsigned char *)r + 8, &n), FL_ERR_INVALID_PARAMETERS);
    CHECK_EQ_SIZE(n, 0);

    CHECK_STATUS(fl_allocator_walk(a, NULL, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_walk(NULL, NULL, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK(!fl_allocator_owns(a, NULL));
    CHECK(!fl_allocator_owns(NULL, p));
    CHECK(!fl_allocator_owns(a, &local));
    fl_allocator_get_stats(a, NULL);
    fl_marker none = fl_allocator_mark(NULL);
    CHECK(none.offset == 0 && none.count == 0 && none.last == 0);
    CHECK_STATUS(fl_allocator_rewind(NULL, none), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_validate(NULL), FL_ERR_INVALID_PARAMETERS);

    check_stats_unchanged(a, &before, 0);
    /* The three allocations are intact: r is still the last and frees. */
    CHECK_OK(fl_allocator_deallocate(a, r));
    CHECK_EQ_SIZE(stats_of(a).used_bytes, (size_t)((unsigned char *)q + 24 - (unsigned char *)p));
    fl_allocator_destroy(a);
}

static void test_last_free_gives_bytes_back(void)
{
    fl_allocator *a = make_linear(arena, 8192, false);
    unsigned char *start = region_start(a);
    void *p = NULL, *q = NULL, *r = NULL;
    CHECK_OK(fl_allocator_allocate(a, 3, 1, &p));
    CHECK_OK(fl_allocator_allocate(a, 10, 256, &q)); /* up to 255 bytes of padding */
    size_t q_offset = (size_t)((((uintptr_t)start + 3 + 255) & ~(uintptr_t)255) - (uintptr_t)start);
    CHECK(q == start + q_offset);
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, q_offset + 10);
    CHECK_EQ_SIZE(s.allocation_count, 2);

    CHECK_OK(fl_allocator_deallocate(a, q)); /* padding included */
    s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 3);
    CHECK_EQ_SIZE(s.allocation_count, 1);
    CHECK(s.total_deallocations == 2); /* region_start made and freed one */
    CHECK_EQ_SIZE(s.peak_used_bytes, q_offset + 10);
    /* Freed twice: q is now at/above the top. */
    fl_allocator_stats before = stats_of(a);
    CHECK_STATUS(fl_allocator_deallocate(a, q), FL_ERR_INVALID_PARAMETERS);
    check_stats_unchanged(a, &before, 0);

    /* One level only: p is not known as the last any more, so its free is a no-op. */
    CHECK_OK(fl_allocator_deallocate(a, p));
    check_stats_unchanged(a, &before, 0);
    size_t n = 0;
    CHECK_STATUS(fl_allocator_usable_size(a, p, &n), FL_ERR_NOT_SUPPORTED);
    CHECK(strstr(fl_last_error()->message, "keeps no sizes") != NULL);

    /* The bytes given back are served again. */
    CHECK_OK(fl_allocator_allocate(a, 5, 1, &r));
    CHECK(r == start + 3);
    CHECK_OK(fl_allocator_usable_size(a, r, &n));
    CHECK_EQ_SIZE(n, 5);
    CHECK_OK(fl_allocator_deallocate(a, r));
    CHECK_EQ_SIZE(stats_of(a).used_bytes, 3);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
}

static void test_older_free_is_a_noop(void)
{
    fl_allocator *a = make_linear(arena, 8192, false);
    void *p[4];
    for (int i = 0; i < 4; i++) {
        CHECK_OK(fl_allocator_allocate(a, 32, 8, &p[i]));
        harness_fill(p[i], 32, (uint64_t)i);
    }
    fl_allocator_stats before = stats_of(a);
    for (int i = 0; i < 3; i++) CHECK_OK(fl_allocator_deallocate(a, p[i]));
    check_stats_unchanged(a, &before, 0); /* still counted live */
    for (int i = 0; i < 4; i++) CHECK(harness_pattern_ok(p[i], 32, (uint64_t)i));
    CHECK_OK(fl_allocator_deallocate(a, p[3]));
    CHECK_EQ_SIZE(stats_of(a).allocation_count, 3);
    CHECK_EQ_SIZE(stats_of(a).used_bytes, before.used_bytes - 32);
    fl_allocator_destroy(a);
}

static void test_mark_rewind(void)
{
    fl_allocator *a = make_linear(arena, 1 << 16, false);
    unsigned char *start = region_start(a);
    fl_marker m0 = fl_allocator_mark(a);
    CHECK(m0.offset == 0 && m0.count == 0 && m0.last == 0);
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 100, 1, &p));
    fl_marker m1 = fl_allocator_mark(a);
    CHECK_EQ_SIZE(m1.offset, 100);
    CHECK_EQ_SIZE(m1.count, 1);
    CHECK_EQ_SIZE(m1.last, 0);
    /* A mark is a floor: p, made before it, is no longer the freeable last. */
    CHECK_OK(fl_allocator_deallocate(a, p));
    CHECK_EQ_SIZE(stats_of(a).used_bytes, 100);

    void *q = NULL;
    for (int i = 0; i < 5; i++) CHECK_OK(fl_allocator_allocate(a, 10, 16, &q));
    fl_marker m2 = fl_allocator_mark(a);
    CHECK_EQ_SIZE(m2.offset, (size_t)((unsigned char *)q - start) + 10);
    CHECK_EQ_SIZE(m2.count, 6);
    for (int i = 0; i < 3; i++) CHECK_OK(fl_allocator_allocate(a, 7, 1, &q));

    uint64_t deallocs = stats_of(a).total_deallocations;
    CHECK_OK(fl_allocator_rewind(a, m2));
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, m2.offset);
    CHECK_EQ_SIZE(s.allocation_count, 6);
    CHECK(s.total_deallocations == deallocs + 3);
    CHECK_OK(fl_allocator_validate(a));
    /* After a rewind nothing is the known last: older frees are no-ops. */
    CHECK_OK(fl_allocator_deallocate(a, q = start + 100));
    CHECK_EQ_SIZE(stats_of(a).allocation_count, 6);
    CHECK_OK(fl_allocator_rewind(a, m2)); /* rewinding to the current state is a no-op */
    CHECK_EQ_SIZE(stats_of(a).used_bytes, m2.offset);

    CHECK_OK(fl_allocator_rewind(a, m1));
    CHECK_EQ_SIZE(stats_of(a).used_bytes, 100);
    CHECK_EQ_SIZE(stats_of(a).allocation_count, 1);
    /* m2 is stale now: above the top. */
    fl_allocator_stats before = stats_of(a);
    CHECK_STATUS(fl_allocator_rewind(a, m2), FL_ERR_INVALID_PARAMETERS);
    check_stats_unchanged(a, &before, 0);
    /* The next allocation reuses the rewound bytes. */
    CHECK_OK(fl_allocator_allocate(a, 1, 1, &q));
    CHECK(q == start + 100);
    fl_marker zero = {0, 0, 0};
    CHECK_OK(fl_allocator_rewind(a, zero));
    s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK(s.total_allocations == s.total_deallocations);
    CHECK_OK(fl_allocator_validate(a));
    CHECK_STATUS(fl_allocator_rewind(a, m1), FL_ERR_INVALID_PARAMETERS);
    fl_allocator_destroy(a);
}

static void test_forged_markers_rejected(void)
{
    fl_allocator *a = make_linear(arena, 1 << 16, false);
    void *p = NULL;
    for (int i = 0; i < 4; i++) CHECK_OK(fl_allocator_allocate(a, 50, 1, &p)); /* top 200, count 4 */
    fl_allocator_stats before = stats_of(a);
    const fl_marker bad[] = {
        {201, 4, 0},        /* above the top */
        {100, 5, 0},        /* above the count */
        {100, 2, 8},        /* linear markers have no `last` */
        {3, 4, 0},          /* four allocations cannot fit in three bytes */
        {2, 3, 0},          /* nor three in two */
        {50, 0, 0},         /* bytes in use but no allocation */
        {0, 1, 0},          /* an allocation in no bytes */
        {199, 1, 0},        /* three allocations above in one byte */
        {200, 3, 0},        /* at the top, but a different count */
        {150, 4, 0},        /* below the top with the same count */
        {SIZE_MAX, 0, 0},
        {SIZE_MAX, SIZE_MAX, SIZE_MAX},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(fl_allocator_rewind(a, bad[i]) == FL_ERR_INVALID_PARAMETERS, "marker %zu accepted", i);
        check_stats_unchanged(a, &before, 0);
    }
    const fl_marker good = {100, 2, 0};
    CHECK_OK(fl_allocator_rewind(a, good));
    CHECK_EQ_SIZE(stats_of(a).used_bytes, 100);
    fl_allocator_destroy(a);
}

static void test_usable_size_owns_largest(void)
{
    fl_allocator *a = make_linear(arena, 4096, false);
    unsigned char *start = region_start(a);
    size_t cap = stats_of(a).total_capacity;
    CHECK(fl_allocator_owns(a, start));
    CHECK(fl_allocator_owns(a, start + cap - 1));
    CHECK(!fl_allocator_owns(a, start + cap));
    CHECK(!fl_allocator_owns(a, start - 1));
    CHECK(!fl_allocator_owns(a, (void *)a));
    CHECK_EQ_SIZE(stats_of(a).largest_free_block, cap);

    void *p = NULL, *q = NULL;
    CHECK_OK(fl_allocator_allocate(a, 13, 1, &p));
    CHECK_OK(fl_allocator_allocate(a, 20, 32, &q));
    size_t n = 0;
    CHECK_OK(fl_allocator_usable_size(a, q, &n));
    CHECK_EQ_SIZE(n, 20);
    CHECK_STATUS(fl_allocator_usable_size(a, p, &n), FL_ERR_NOT_SUPPORTED);
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.largest_free_block, cap - (size_t)((unsigned char *)q + 20 - start));
    CHECK_EQ_SIZE(s.largest_free_block, s.free_bytes);
    CHECK(s.fragmentation_ratio == 0.0);
    fl_allocator_destroy(a);
}

typedef struct walk_log {
    const void *block[8];
    size_t size[8];
    bool used[8];
    int n;
} walk_log;

static void log_block(const void *block, size_t size, bool used, void *user)
{
    walk_log *w = (walk_log *)user;
    if (w->n < 8) {
        w->block[w->n] = block;
        w->size[w->n] = size;
        w->used[w->n] = used;
    }
    w->n++;
}

static void test_walk(void)
{
    fl_allocator *a = make_linear(arena, 4096, false);
    unsigned char *start = region_start(a);
    size_t cap = stats_of(a).total_capacity;
    walk_log w;
    memset(&w, 0, sizeof w);
    CHECK_OK(fl_allocator_walk(a, log_block, &w));
    CHECK(w.n == 1 && w.block[0] == start && w.size[0] == cap && !w.used[0]);

    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 10, 1, &p));
    CHECK_OK(fl_allocator_allocate(a, 10, 16, &p));
    size_t used = stats_of(a).used_bytes;
    memset(&w, 0, sizeof w);
    CHECK_OK(fl_allocator_walk(a, log_block, &w));
    CHECK(w.n == 2);
    CHECK(w.block[0] == start && w.size[0] == used && w.used[0]);
    CHECK(w.block[1] == start + used && w.size[1] == cap - used && !w.used[1]);

    CHECK_OK(fl_allocator_allocate(a, cap - used, 1, &p));
    memset(&w, 0, sizeof w);
    CHECK_OK(fl_allocator_walk(a, log_block, &w));
    CHECK(w.n == 1 && w.block[0] == start && w.size[0] == cap && w.used[0]);
    fl_allocator_destroy(a);
}

static void test_validate_detects_corruption(void)
{
    fl_allocator *a = make_linear(arena, 4096, false);
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 64, 1, &p));
    CHECK_OK(fl_allocator_validate(a));
    a->counters.used_bytes += 1;
    a->counters.peak_used_bytes += 1;
    CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
    CHECK(strstr(fl_last_error()->message, "used bytes 65 differ from top 64") != NULL);
    a->counters.used_bytes -= 1;
    CHECK_OK(fl_allocator_validate(a));
    /* 65 allocations cannot fit in 64 bytes. */
    a->counters.allocation_count = 65;
    a->counters.total_allocations = 65;
    CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
    a->counters.allocation_count = 1;
    a->counters.total_allocations = 1;
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
}

static void test_reset_and_stats(void)
{
    fl_allocator *a = make_linear(arena, 8192, false);
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 1, 1, &p));
    CHECK_OK(fl_allocator_allocate(a, 3, 4, &p)); /* 3 bytes padding + 3 */
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 7);
    CHECK(s.allocation_efficiency > 4.0 / 7.0 - 1e-9 && s.allocation_efficiency < 4.0 / 7.0 + 1e-9);
    harness_check_stats_identities(a);

    fl_allocator_reset(a);
    s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK_EQ_SIZE(s.peak_used_bytes, 7);
    CHECK(s.allocation_efficiency == 1.0);
    CHECK(s.total_allocations == 2 && s.total_deallocations == 2);
    CHECK_EQ_SIZE(s.free_bytes, s.total_capacity);
    CHECK_STATUS(fl_allocator_deallocate(a, p), FL_ERR_INVALID_PARAMETERS); /* above the top now */
    CHECK_OK(fl_allocator_validate(a));
    harness_check_stats_identities(a);
    fl_allocator_destroy(a);
}

/* ---- several threads on one thread-safe allocator ------------------------------------ */

#define THREADS 4
#define PER_THREAD 3000

typedef struct thread_job {
    fl_allocator *a;
    unsigned id;
    void *kept[PER_THREAD];
    size_t kept_size[PER_THREAD];
    uint64_t kept_id[PER_THREAD];
    int kept_n;
    int frees;
    int errors;
} thread_job;

static void *hammer(void *arg)
{
    thread_job *job = (thread_job *)arg;
    harness_rng rng = {0x1234u + job->id};
    for (int i = 0; i < PER_THREAD; i++) {
        size_t size = harness_range(&rng, 1, 64), align = (size_t)1 << harness_range(&rng, 0, 6);
        void *p = NULL;
        if (fl_allocator_allocate(job->a, size, align, &p) != FL_OK || ((uintptr_t)p & (align - 1)) != 0) {
            job->errors++;
            continue;
        }
        uint64_t id = (uint64_t)job->id * 1000000u + (uint64_t)i;
        harness_fill(p, size, id);
        size_t n = 0;
        fl_status st = fl_allocator_usable_size(job->a, p, &n);
        if (!(st == FL_OK && n == size) && st != FL_ERR_NOT_SUPPORTED) job->errors++;
        if (harness_next(&rng) % 4 == 0) {
            /* Its bytes come back only if no other thread allocated since. */
            if (fl_allocator_deallocate(job->a, p) != FL_OK) job->errors++;
            job->frees++;
        } else {
            job->kept[job->kept_n] = p;
            job->kept_id[job->kept_n] = id;
            job->kept_size[job->kept_n++] = size;
        }
        if (i % 256 == 0) {
            fl_allocator_stats s;
            fl_allocator_get_stats(job->a, &s);
            if (s.used_bytes + s.free_bytes != s.total_capacity) job->errors++;
            if (fl_allocator_validate(job->a) != FL_OK) job->errors++;
        }
    }
    return NULL;
}

static thread_job jobs[THREADS];

static void test_thread_safe(void)
{
    fl_allocator *a = make_linear(NULL, (size_t)2 << 20, true);
    pthread_t threads[THREADS];
    for (unsigned t = 0; t < THREADS; t++) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        jobs[t].a = a;
        jobs[t].id = t + 1;
        CHECK(pthread_create(&threads[t], NULL, hammer, &jobs[t]) == 0);
    }
    for (unsigned t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
    size_t kept = 0, frees = 0;
    for (unsigned t = 0; t < THREADS; t++) {
        CHECK_MSG(jobs[t].errors == 0, "thread %u saw %d errors", t, jobs[t].errors);
        /* No block was handed out twice: every kept pattern survived the other threads. */
        for (int i = 0; i < jobs[t].kept_n; i++)
            CHECK(harness_pattern_ok(jobs[t].kept[i], jobs[t].kept_size[i], jobs[t].kept_id[i]));
        kept += (size_t)jobs[t].kept_n;
        frees += (size_t)jobs[t].frees;
    }
    fl_allocator_stats s = stats_of(a);
    CHECK(s.total_allocations == THREADS * PER_THREAD);
    CHECK(s.total_deallocations <= frees);
    CHECK(s.allocation_count >= kept);
    CHECK_OK(fl_allocator_validate(a));
    harness_check_stats_identities(a);
    fl_allocator_destroy(a);
}

int main(void)
{
    RUN(test_create);
    RUN(test_alignment_honored);
    RUN(test_out_of_memory_is_clean);
    RUN(test_bad_input_changes_nothing);
    RUN(test_last_free_gives_bytes_back);
    RUN(test_older_free_is_a_noop);
    RUN(test_mark_rewind);
    RUN(test_forged_markers_rejected);
    RUN(test_usable_size_owns_largest);
    RUN(test_walk);
    RUN(test_validate_detects_corruption);
    RUN(test_reset_and_stats);
    RUN(test_thread_safe);
    return harness_finish();
}
