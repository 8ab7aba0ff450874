/* The stack allocator: every statement of stack.c's header, bad input for every call, and
 * several threads on one thread-safe instance. The randomized model test is
 * test_stack_model.c. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "core/poison.h"

#include "allocators/allocator.h" /* only to corrupt counters and see validate notice */

#include <pthread.h>

#define W (sizeof(size_t))
#define ARENA_BYTES ((size_t)1 << 20)
static _Alignas(64) unsigned char arena[ARENA_BYTES];

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

static fl_allocator *make_stack(void *buffer, size_t size, bool thread_safe)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_STACK;
    cfg.buffer = buffer;
    cfg.size = size;
    cfg.thread_safe = thread_safe;
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    CHECK(a != NULL);
    return a;
}

/* The region's first byte: an empty stack's first payload sits one header word past it. */
static unsigned char *region_start(fl_allocator *a)
{
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 1, 1, &p));
    CHECK_OK(fl_allocator_deallocate(a, p));
    return (unsigned char *)p - W;
}

static fl_allocator_stats stats_of(const fl_allocator *a)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    return s;
}

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
    cfg.type = FL_ALLOCATOR_STACK;
    cfg.buffer = arena;

    /* The smallest buffer that works holds the control block, a header and one word. */
    size_t smallest = 0;
    for (size_t size = 1; size <= 4096 && smallest == 0; size++) {
        cfg.size = size;
        fl_status st = fl_allocator_create(&cfg, &a);
        if (st == FL_OK) smallest = size;
        else CHECK_STATUS(st, FL_ERR_INVALID_PARAMETERS);
    }
    CHECK(smallest > 2 * W);
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.total_capacity, 2 * W);
    CHECK_EQ_SIZE(s.largest_free_block, W);
    CHECK_EQ_SIZE(s.allocation_overhead, W);
    CHECK(!s.supports_defrag);
    void *p = NULL, *q = NULL;
    CHECK_OK(fl_allocator_allocate(a, W, 1, &p));
    CHECK_EQ_SIZE(stats_of(a).used_bytes, 2 * W);
    CHECK_STATUS(fl_allocator_allocate(a, 1, 1, &q), FL_ERR_OUT_OF_MEMORY);
    CHECK(strcmp(fl_allocator_name(a), "Stack") == 0);
    CHECK(fl_allocator_kind(a) == FL_ALLOCATOR_STACK);
    fl_allocator_destroy(a);

    /* Capacity is a whole number of words. */
    cfg.size = 4096 + 3;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    CHECK_EQ_SIZE(stats_of(a).total_capacity % W, 0);
    CHECK_EQ_SIZE(stats_of(a).total_capacity, (4096 + 3 - (smallest - 2 * W)) / W * W);
    fl_allocator_destroy(a);

    cfg.buffer = NULL;
    cfg.size = 100000;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    s = stats_of(a);
    CHECK(s.total_capacity >= 100000 - smallest);
    CHECK_OK(fl_allocator_allocate(a, s.largest_free_block, 1, &p));
    memset(p, 0xCD, s.largest_free_block);
    CHECK_OK(fl_allocator_validate(a));
    CHECK_OK(fl_allocator_deallocate(a, p));
    fl_allocator_destroy(a);
}

static void test_alignment_honored(void)
{
    fl_allocator *a = make_stack(arena, ARENA_BYTES, false);
    unsigned char *start = region_start(a);
    CHECK(((uintptr_t)start & (W - 1)) == 0);
    for (size_t align = 1; align <= FL_ALIGN_MAX; align *= 2) {
        static const size_t sizes[] = {1, 3, 17, 4096};
        void *ptrs[4];
        for (size_t i = 0; i < 4; i++) {
            void *skew = NULL;
            CHECK_OK(fl_allocator_allocate(a, 1, 1, &skew));
            size_t before = stats_of(a).used_bytes;
            CHECK_OK(fl_allocator_allocate(a, sizes[i], align, &ptrs[i]));
            unsigned char *p = (unsigned char *)ptrs[i];
            CHECK_MSG(((uintptr_t)p & (align - 1)) == 0 && ((uintptr_t)p & (W - 1)) == 0, "%p, align %zu",
                      (void *)p, align);
            /* The payload is the first aligned address past one header word. */
            uintptr_t a_eff = align < W ? W : align;
            uintptr_t expect = ((uintptr_t)start + before + W + a_eff - 1) & ~(a_eff - 1);
            CHECK((uintptr_t)p == expect);
            size_t used = stats_of(a).used_bytes;
            CHECK_EQ_SIZE(used, (size_t)(p - start) + round_up(sizes[i], W));
            size_t usable = 0;
            CHECK_OK(fl_allocator_usable_size(a, p, &usable));
            CHECK_EQ_SIZE(usable, round_up(sizes[i], W));
            harness_fill(p, usable, align + i);
        }
        CHECK_OK(fl_allocator_validate(a));
        for (size_t i = 4; i-- > 0;) {
            CHECK(harness_pattern_ok(ptrs[i], round_up(sizes[i], W), align + i));
            CHECK_OK(fl_allocator_deallocate(a, ptrs[i]));
            /* The skew allocation made just before it is the top now. */
            fl_marker m = fl_allocator_mark(a);
            CHECK((unsigned char *)ptrs[i] > start + m.last);
            CHECK_EQ_SIZE(m.last + W, m.offset); /* a one-byte payload rounded to a word */
            CHECK_OK(fl_allocator_deallocate(a, start + m.last));
        }
        CHECK_EQ_SIZE(stats_of(a).used_bytes, 0);
        harness_check_stats_identities(a);
    }
    fl_allocator_destroy(a);
}

static void test_lifo_violations_change_nothing(void)
{
    fl_allocator *a = make_stack(arena, 8192, false);
    unsigned char *start = region_start(a);
    void *p[3];
    CHECK_OK(fl_allocator_allocate(a, 24, 1, &p[0]));
    CHECK_OK(fl_allocator_allocate(a, 40, 64, &p[1]));
    CHECK_OK(fl_allocator_allocate(a, 16, 256, &p[2]));
    for (int i = 0; i < 3; i++) harness_fill(p[i], 16, (uint64_t)i);
    static unsigned char snapshot[8192];
    FLI_OPEN(start, 8192 - 1024); /* the whole region, free part included, for memory checkers */
    memcpy(snapshot, start, 8192 - 1024);
    fl_allocator_stats before = stats_of(a);

    CHECK_STATUS(fl_allocator_deallocate(a, p[0]), FL_ERR_INVALID_STATE);
    CHECK(strstr(fl_last_error()->message, "LIFO") != NULL);
    CHECK_STATUS(fl_allocator_deallocate(a, p[1]), FL_ERR_INVALID_STATE);
    /* Not a possible allocation start at all: parameters, not state. */
    int local = 0;
    unsigned char *top = (unsigned char *)p[2] + 16;
    CHECK_STATUS(fl_allocator_deallocate(a, &local), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_deallocate(a, (void *)a), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_deallocate(a, start - 1), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_deallocate(a, top), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_deallocate(a, top + 64), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_deallocate(a, (unsigned char *)p[2] + W), FL_ERR_INVALID_PARAMETERS); /* interior */
    CHECK_STATUS(fl_allocator_deallocate(a, (unsigned char *)p[2] + 1), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_deallocate(a, (unsigned char *)p[2] - W), FL_ERR_INVALID_PARAMETERS); /* header */
    CHECK_STATUS(fl_allocator_deallocate(a, (unsigned char *)p[2] - 2 * W), FL_ERR_INVALID_PARAMETERS); /* pad */
    CHECK_STATUS(fl_allocator_deallocate(a, (unsigned char *)p[0] + 1), FL_ERR_INVALID_PARAMETERS);
    size_t n = 0;
    CHECK_STATUS(fl_allocator_usable_size(a, p[0], &n), FL_ERR_NOT_SUPPORTED);
    CHECK_STATUS(fl_allocator_usable_size(a, (unsigned char *)p[2] + W, &n), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_usable_size(a, top, &n), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_usable_size(a, &local, &n), FL_ERR_INVALID_PARAMETERS);
    CHECK_EQ_SIZE(n, 0);

    check_stats_unchanged(a, &before, 0);
    FLI_OPEN(start, 8192 - 1024);
    CHECK(memcmp(snapshot, start, 8192 - 1024) == 0); /* no header was touched */
    for (int i = 2; i >= 0; i--) {
        CHECK(harness_pattern_ok(p[i], 16, (uint64_t)i));
        CHECK_OK(fl_allocator_deallocate(a, p[i]));
        before = stats_of(a);
        CHECK_STATUS(fl_allocator_deallocate(a, p[i]), FL_ERR_INVALID_PARAMETERS); /* freed twice */
        check_stats_unchanged(a, &before, 0);
    }
    CHECK_EQ_SIZE(stats_of(a).used_bytes, 0);
    CHECK_EQ_SIZE(stats_of(a).allocation_count, 0);
    fl_allocator_destroy(a);
}

static void test_bad_input_and_oom(void)
{
    fl_allocator *a = make_stack(arena, 4096, false);
    size_t cap = stats_of(a).total_capacity;
    void *p = NULL, *q = NULL;
    CHECK_OK(fl_allocator_allocate(a, 100, 1, &p));
    fl_allocator_stats before = stats_of(a);
    void *untouched = (void *)&q;
    void *out = untouched;
    CHECK_STATUS(fl_allocator_allocate(a, 0, 1, &out), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 8, 12, &out), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 8, FL_ALIGN_MAX * 2, &out), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 8, 1, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, SIZE_MAX, 1, &out), FL_ERR_INVALID_PARAMETERS); /* rounding overflows */
    CHECK(strstr(fl_last_error()->message, "overflows") != NULL);
    CHECK_STATUS(fl_allocator_deallocate(a, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_walk(a, NULL, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_usable_size(a, p, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_rewind(NULL, fl_allocator_mark(a)), FL_ERR_INVALID_PARAMETERS);
    CHECK(!fl_allocator_owns(a, NULL));
    fl_allocator_get_stats(a, NULL);
    CHECK(out == untouched);
    check_stats_unchanged(a, &before, 0);

    CHECK_STATUS(fl_allocator_allocate(a, SIZE_MAX - 2 * W, 1, &out), FL_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(fl_allocator_allocate(a, SIZE_MAX - FL_ALIGN_MAX, FL_ALIGN_MAX, &out), FL_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(fl_allocator_allocate(a, cap, 1, &out), FL_ERR_OUT_OF_MEMORY);
    CHECK(fl_last_error()->category == FL_ERR_OUT_OF_MEMORY);
    CHECK(out == untouched);
    check_stats_unchanged(a, &before, 3);
    fl_allocator_destroy(a);
}

static void test_largest_free_is_exact(void)
{
    fl_allocator *a = make_stack(arena, 8192, false);
    harness_rng rng = {42};
    for (int round = 0; round < 200; round++) {
        fl_marker m = fl_allocator_mark(a);
        void *p = NULL;
        /* A random top, then exactly the largest block the stats promise. */
        for (size_t k = harness_range(&rng, 0, 6); k > 0; k--)
            if (fl_allocator_allocate(a, harness_range(&rng, 1, 300), (size_t)1 << harness_range(&rng, 0, 8), &p) !=
                FL_OK)
                break;
        fl_allocator_stats s = stats_of(a);
        if (s.largest_free_block == 0) {
            CHECK(s.free_bytes <= W);
            CHECK_STATUS(fl_allocator_allocate(a, 1, 1, &p), FL_ERR_OUT_OF_MEMORY);
        } else {
            CHECK_EQ_SIZE(s.largest_free_block, s.free_bytes - W);
            CHECK_STATUS(fl_allocator_allocate(a, s.largest_free_block + 1, 1, &p), FL_ERR_OUT_OF_MEMORY);
            CHECK_OK(fl_allocator_allocate(a, s.largest_free_block, 1, &p));
            memset(p, 0x77, s.largest_free_block);
            CHECK_EQ_SIZE(stats_of(a).free_bytes, 0);
            CHECK_EQ_SIZE(stats_of(a).largest_free_block, 0);
        }
        CHECK(stats_of(a).fragmentation_ratio == 0.0);
        CHECK_OK(fl_allocator_validate(a));
        CHECK_OK(fl_allocator_rewind(a, m));
        if (round % 50 == 49) fl_allocator_reset(a);
    }
    fl_allocator_destroy(a);
}

static void test_mark_rewind_nesting(void)
{
    fl_allocator *a = make_stack(arena, 1 << 16, false);
    unsigned char *start = region_start(a);
    fl_marker m0 = fl_allocator_mark(a);
    CHECK(m0.offset == 0 && m0.count == 0 && m0.last == 0);
    void *p = NULL, *q = NULL;
    CHECK_OK(fl_allocator_allocate(a, 100, 1, &p));
    fl_marker m1 = fl_allocator_mark(a);
    CHECK_EQ_SIZE(m1.offset, W + round_up(100, W));
    CHECK_EQ_SIZE(m1.count, 1);
    CHECK(start + m1.last == p);
    for (int i = 0; i < 5; i++) CHECK_OK(fl_allocator_allocate(a, 10, 32, &q));
    fl_marker m2 = fl_allocator_mark(a);
    CHECK(start + m2.last == q);
    CHECK_EQ_SIZE(m2.count, 6);
    for (int i = 0; i < 3; i++) CHECK_OK(fl_allocator_allocate(a, 7, 1, &p));
    fl_marker m3 = fl_allocator_mark(a);
    CHECK_OK(fl_allocator_allocate(a, 7, 1, &p));

    uint64_t deallocs = stats_of(a).total_deallocations;
    CHECK_OK(fl_allocator_rewind(a, m2));
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, m2.offset);
    CHECK_EQ_SIZE(s.allocation_count, 6);
    CHECK(s.total_deallocations == deallocs + 4);
    CHECK_OK(fl_allocator_validate(a));
    /* The top is m2's newest allocation again: it frees, then the one below it. */
    CHECK_STATUS(fl_allocator_deallocate(a, start + m1.last), FL_ERR_INVALID_STATE);
    CHECK_OK(fl_allocator_deallocate(a, q));
    CHECK_OK(fl_allocator_rewind(a, m1));
    CHECK_EQ_SIZE(stats_of(a).used_bytes, m1.offset);
    CHECK_EQ_SIZE(stats_of(a).allocation_count, 1);
    CHECK_OK(fl_allocator_rewind(a, m1)); /* to the current state: nothing happens */
    fl_allocator_stats before = stats_of(a);
    CHECK_STATUS(fl_allocator_rewind(a, m2), FL_ERR_INVALID_PARAMETERS); /* stale: above the top */
    CHECK_STATUS(fl_allocator_rewind(a, m3), FL_ERR_INVALID_PARAMETERS);
    check_stats_unchanged(a, &before, 0);
    CHECK_OK(fl_allocator_deallocate(a, start + m1.last));
    /* Popped below m1 and grown differently: no allocation begins at m1's offset. */
    CHECK_OK(fl_allocator_allocate(a, 40, 1, &p));
    CHECK_OK(fl_allocator_allocate(a, 200, 1, &q));
    memset(q, 0x3C, 200); /* the old headers' bytes are gone (the check is best-effort) */
    before = stats_of(a);
    CHECK_STATUS(fl_allocator_rewind(a, m1), FL_ERR_INVALID_PARAMETERS);
    check_stats_unchanged(a, &before, 0);
    fl_allocator_reset(a);
    fl_marker zero = {0, 0, 0};
    CHECK_OK(fl_allocator_rewind(a, zero));
    CHECK_OK(fl_allocator_allocate(a, 1, 1, &p));
    CHECK(p == start + W);
    CHECK_OK(fl_allocator_rewind(a, m0));
    s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK(s.total_allocations == s.total_deallocations);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
}

static void test_forged_markers_rejected(void)
{
    fl_allocator *a = make_stack(arena, 1 << 16, false);
    void *p[4];
    for (int i = 0; i < 4; i++) {
        CHECK_OK(fl_allocator_allocate(a, 4 * W, i == 2 ? 64 : 1, &p[i]));
        memset(p[i], i == 3 ? 0xFF : 0, 4 * W);
    }
    /* The true markers after one and two allocations: [header][4 words] each. */
    const fl_marker m1 = {5 * W, 1, W}, m2 = {10 * W, 2, 6 * W};
    fl_marker now = fl_allocator_mark(a);
    CHECK_EQ_SIZE(now.count, 4);
    fl_allocator_stats before = stats_of(a);
    const fl_marker bad[] = {
        {now.offset + W, 4, now.last},     /* above the top */
        {m2.offset, 5, m2.last},           /* above the count */
        {m2.offset + 1, 2, m2.last},       /* not word-aligned */
        {m2.offset, 2, m2.last + 1},       /* last not word-aligned */
        {m2.offset, 2, m2.offset},         /* last not below the offset */
        {m2.offset, 2, m2.last + W},       /* last inside m2's payload: its "header" is zeros */
        {m2.offset, 1, m2.last},           /* the count disagrees with the header chain */
        {m2.offset, 2, 0},                 /* offset but no allocation */
        {0, 0, m1.last},                   /* an allocation but no offset */
        {m1.offset, 1, m1.last + 2 * W},   /* payload of zeros read as a header */
        {now.offset, 3, now.last},         /* at the top with another count */
        {now.offset, 4, m2.last},          /* at the top with another newest allocation */
        {now.offset - W, 4, now.last - W}, /* below the top with the same count */
        {now.offset - W, 3, now.last},     /* three allocations above in one word */
        {now.offset - 2 * W, 3, now.last + W}, /* last inside the 0xFF payload: reserved bits */
        {3 * W, 1, W},                     /* no allocation begins at 3W (inside the first payload) */
        {11 * W, 2, 6 * W},                /* no allocation begins at 11W */
        {m2.offset, 2, m1.last},           /* the allocation at m2.offset links to 6W, not W */
        {SIZE_MAX - W + 1, 0, 0},
        {SIZE_MAX, SIZE_MAX, SIZE_MAX},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(fl_allocator_rewind(a, bad[i]) == FL_ERR_INVALID_PARAMETERS, "marker %zu accepted", i);
        check_stats_unchanged(a, &before, 0);
    }
    CHECK(strstr(fl_last_error()->message, "marker") != NULL);
    CHECK_OK(fl_allocator_rewind(a, m2));
    CHECK_EQ_SIZE(stats_of(a).used_bytes, 10 * W);
    CHECK_OK(fl_allocator_deallocate(a, p[1]));
    CHECK_OK(fl_allocator_rewind(a, m1));
    CHECK_OK(fl_allocator_deallocate(a, p[0]));
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
}

typedef struct walk_log {
    const void *block[16];
    size_t size[16];
    bool used[16];
    int n;
} walk_log;

static void log_block(const void *block, size_t size, bool used, void *user)
{
    walk_log *w = (walk_log *)user;
    if (w->n < 16) {
        w->block[w->n] = block;
        w->size[w->n] = size;
        w->used[w->n] = used;
    }
    w->n++;
}

static void test_walk_in_address_order(void)
{
    fl_allocator *a = make_stack(arena, 1 << 16, false);
    unsigned char *start = region_start(a);
    size_t cap = stats_of(a).total_capacity;
    walk_log w;
    memset(&w, 0, sizeof w);
    CHECK_OK(fl_allocator_walk(a, log_block, &w));
    CHECK(w.n == 1 && w.block[0] == start && w.size[0] == cap && !w.used[0]);

    static const size_t sizes[] = {5, 64, 1, 300, 9};
    static const size_t aligns[] = {1, 128, 4096, 1, 32};
    unsigned char *begin[5];
    void *p[5];
    for (int i = 0; i < 5; i++) {
        begin[i] = start + stats_of(a).used_bytes;
        CHECK_OK(fl_allocator_allocate(a, sizes[i], aligns[i], &p[i]));
    }
    size_t used = stats_of(a).used_bytes;
    for (int pass = 0; pass < 2; pass++) { /* twice: the first walk must leave the chain intact */
        memset(&w, 0, sizeof w);
        CHECK_OK(fl_allocator_walk(a, log_block, &w));
        CHECK(w.n == 6);
        for (int i = 0; i < 5; i++) {
            unsigned char *end = i < 4 ? begin[i + 1] : start + used;
            CHECK(w.block[i] == begin[i] && w.used[i]);
            CHECK_EQ_SIZE(w.size[i], (size_t)(end - begin[i]));
            CHECK_EQ_SIZE(w.size[i], (size_t)((unsigned char *)p[i] - begin[i]) + round_up(sizes[i], W));
        }
        CHECK(w.block[5] == start + used && w.size[5] == cap - used && !w.used[5]);
        CHECK_OK(fl_allocator_validate(a));
    }
    for (int i = 4; i >= 0; i--) CHECK_OK(fl_allocator_deallocate(a, p[i]));
    CHECK_EQ_SIZE(stats_of(a).used_bytes, 0);
    fl_allocator_destroy(a);
}

static void test_validate_detects_corruption(void)
{
    fl_allocator *a = make_stack(arena, 4096, false);
    void *p = NULL, *q = NULL;
    CHECK_OK(fl_allocator_allocate(a, 16, 1, &p));
    CHECK_OK(fl_allocator_allocate(a, 16, 64, &q));
    CHECK_OK(fl_allocator_validate(a));
    size_t *qh = (size_t *)q - 1, *qpad = (size_t *)q - 2;
    size_t saved = *qh;
    CHECK((saved & 1) == 1 || (uintptr_t)q % 64 == 0); /* padded unless it landed aligned */
    *qh = saved | 2;                                   /* reserved bit */
    CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
    CHECK(strstr(fl_last_error()->message, "reserved") != NULL);
    walk_log w;
    memset(&w, 0, sizeof w);
    CHECK_STATUS(fl_allocator_walk(a, log_block, &w), FL_ERR_INVALID_STATE); /* checked before written */
    CHECK(w.n == 0);
    CHECK(*qh == (saved | 2));
    *qh = (size_t)((unsigned char *)q - ((unsigned char *)p - W)) | (saved & 1); /* links to itself */
    CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
    *qh = saved;
    CHECK_OK(fl_allocator_validate(a));
    if (saved & 1) {
        size_t pad = *qpad;
        *qpad = pad + 1;
        CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
        *qpad = pad;
    }
    a->counters.used_bytes += W;
    a->counters.peak_used_bytes += W;
    CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
    a->counters.used_bytes -= W;
    a->counters.allocation_count++;
    a->counters.total_allocations++;
    CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
    a->counters.allocation_count--;
    a->counters.total_allocations--;
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
}

static void test_reset_and_stats(void)
{
    fl_allocator *a = make_stack(arena, 8192, false);
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 1, 1, &p));
    CHECK_OK(fl_allocator_allocate(a, W + 1, 1, &p));
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 5 * W); /* (W + W) + (W + 2W) */
    double eff = (double)(W + 2) / (double)(5 * W);
    CHECK(s.allocation_efficiency == eff);
    CHECK_EQ_SIZE(s.allocation_overhead, W);
    harness_check_stats_identities(a);
    fl_allocator_reset(a);
    s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK_EQ_SIZE(s.peak_used_bytes, 5 * W);
    CHECK(s.allocation_efficiency == 1.0);
    CHECK(s.total_allocations == 2 && s.total_deallocations == 2);
    CHECK_STATUS(fl_allocator_deallocate(a, p), FL_ERR_INVALID_PARAMETERS);
    CHECK_OK(fl_allocator_validate(a));
    unsigned char *start = region_start(a);
    CHECK(fl_allocator_owns(a, start));
    CHECK(fl_allocator_owns(a, start + s.total_capacity - 1));
    CHECK(!fl_allocator_owns(a, start + s.total_capacity));
    CHECK(!fl_allocator_owns(a, start - 1));
    CHECK(!fl_allocator_owns(a, (void *)a));
    fl_allocator_destroy(a);
}

/* ---- several threads on one thread-safe stack -------------------------------------------
 * Each thread holds one allocation at a time and frees it as soon as it is on top again;
 * the thread whose block is on top never waits, so all of them finish. */

#define THREADS 4
#define PER_THREAD 3000

typedef struct thread_job {
    fl_allocator *a;
    unsigned id;
    int errors, lifo_refusals;
} thread_job;

static void *hammer(void *arg)
{
    thread_job *job = (thread_job *)arg;
    harness_rng rng = {0x5151u + job->id};
    for (int i = 0; i < PER_THREAD; i++) {
        size_t size = harness_range(&rng, 1, 64), align = (size_t)1 << harness_range(&rng, 0, 7);
        void *p = NULL;
        if (fl_allocator_allocate(job->a, size, align, &p) != FL_OK) {
            job->errors++;
            return NULL; /* stop: a block left behind would make the others wait forever */
        }
        if (((uintptr_t)p & (align - 1)) != 0) job->errors++;
        uint64_t id = (uint64_t)job->id * 1000000u + (uint64_t)i;
        harness_fill(p, size, id);
        if (i % 128 == 0 && fl_allocator_validate(job->a) != FL_OK) job->errors++;
        if (!harness_pattern_ok(p, size, id)) job->errors++;
        for (uint64_t tries = 0;; tries++) {
            fl_status st = fl_allocator_deallocate(job->a, p);
            if (st == FL_OK) break;
            if (st != FL_ERR_INVALID_STATE || tries > 100000000u) { /* broken, not slow */
                job->errors++;
                return NULL;
            }
            job->lifo_refusals++;
        }
    }
    return NULL;
}

static thread_job jobs[THREADS];

static void test_thread_safe(void)
{
    fl_allocator *a = make_stack(NULL, 1 << 16, true);
    pthread_t threads[THREADS];
    for (unsigned t = 0; t < THREADS; t++) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        jobs[t].a = a;
        jobs[t].id = t + 1;
        CHECK(pthread_create(&threads[t], NULL, hammer, &jobs[t]) == 0);
    }
    for (unsigned t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
    for (unsigned t = 0; t < THREADS; t++) CHECK_MSG(jobs[t].errors == 0, "thread %u: %d errors", t, jobs[t].errors);
    fl_allocator_stats s = stats_of(a);
    CHECK(s.total_allocations == THREADS * PER_THREAD);
    CHECK(s.total_deallocations == THREADS * PER_THREAD);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_OK(fl_allocator_validate(a));
    harness_check_stats_identities(a);
    fl_allocator_destroy(a);
}

int main(void)
{
    RUN(test_create);
    RUN(test_alignment_honored);
    RUN(test_lifo_violations_change_nothing);
    RUN(test_bad_input_and_oom);
    RUN(test_largest_free_is_exact);
    RUN(test_mark_rewind_nesting);
    RUN(test_forged_markers_rejected);
    RUN(test_walk_in_address_order);
    RUN(test_validate_detects_corruption);
    RUN(test_reset_and_stats);
    RUN(test_thread_safe);
    return harness_finish();
}
