/*
 * Hostile input, row by row: every row of the table in docs/errors.md is one entry of
 * `rows` below, with the same name, function, status and "state unchanged" column, and a
 * function that makes the calls and checks exactly that. The program prints the table as
 * it ran it, and (when it can read docs/errors.md from the source tree) checks that every
 * row name appears there, so the document and the test cannot drift apart silently.
 *
 * The fixture: two interfaces (m1 on a counting platform, tests/fake_platform.h, so that
 * destroy is seen to release everything; m2 a second, independent one for cross-interface
 * cases) with every region kind: System free list + reserve, Video/Audio buddy, Pool
 * classes, Temporary linear, Stack, and Network on the platform heap (System strategy).
 * "Unchanged" is checked with a snapshot of every statistic (memory_test_util.h), plus
 * fl_memory_validate and, for pointer cases, the victim block's bytes.
 */
#include "memory_test_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static fake_platform fake;
static fl_memory *m1, *m2;

static fl_memory_config fixture_config(bool thread_safe)
{
    fl_memory_config c = small_config();
    c.strategy[FL_MEMORY_NETWORK] = FL_ALLOCATOR_SYSTEM; /* the platform heap */
    c.capacity[FL_MEMORY_NETWORK] = 1 * MIB;
    c.thread_safe = thread_safe;
    return c;
}

static void setup(bool thread_safe)
{
    fake_platform_init(&fake, fl_platform_default());
    fl_memory_config c = fixture_config(thread_safe);
    c.platform = &fake.hooks;
    m1 = make_memory(&c);
    c.platform = NULL;
    m2 = make_memory(&c);
}

static void teardown(void)
{
    check_identities(m1);
    CHECK_OK(fl_memory_validate(m1));
    CHECK_OK(fl_memory_validate(m2));
    fl_memory_destroy(m1);
    fl_memory_destroy(m2);
    m1 = m2 = NULL;
    CHECK(fake_live_clean(&fake));
}

/* One live block of each region kind. */
typedef struct kind {
    const char *name;
    fl_memory_type type;
    size_t size;
    fl_allocator_type expect;
} kind;

static const kind kinds[] = {
    {"System free list", FL_MEMORY_SYSTEM, 1000, FL_ALLOCATOR_FREELIST},
    {"Video buddy", FL_MEMORY_VIDEO, 1000, FL_ALLOCATOR_BUDDY},
    {"Pool class", FL_MEMORY_POOL, 100, FL_ALLOCATOR_POOL},
    {"Temporary linear", FL_MEMORY_TEMPORARY, 100, FL_ALLOCATOR_LINEAR},
    {"Stack", FL_MEMORY_STACK, 100, FL_ALLOCATOR_STACK},
    {"Network heap", FL_MEMORY_NETWORK, 100, FL_ALLOCATOR_SYSTEM},
};
#define KINDS (sizeof kinds / sizeof kinds[0])

static fl_allocation alloc_kind(fl_memory *m, const kind *k)
{
    fl_allocation a;
    CHECK_OK(fl_memory_allocate_typed(m, k->size, k->type, 0, 0, &a));
    CHECK_MSG(a.allocator == k->expect, "%s served by %s", k->name, fl_allocator_type_str(a.allocator));
    memset(a.ptr, 0xC3, a.size);
    return a;
}

static void check_bytes(const fl_allocation *a)
{
    const unsigned char *p = (const unsigned char *)a->ptr;
    for (size_t i = 0; i < a->size; i++) CHECK_MSG(p[i] == 0xC3, "byte %zu of %p changed", i, a->ptr);
}

/* `expr` on m returns `status` and changes no statistic; validate still passes. */
#define EXPECT_UNCHANGED(m, expr, status)                                                       \
    do {                                                                                        \
        CHECK_UNCHANGED(m, expr, status);                                                       \
        CHECK_OK(fl_memory_validate(m));                                                        \
    } while (0)

/* ---- sizes ---------------------------------------------------------------------------------- */

static void row_size_zero(void)
{
    setup(false);
    fl_allocation a;
    EXPECT_UNCHANGED(m1, fl_memory_allocate(m1, 0, 0, &a), FL_ERR_INVALID_PARAMETERS);
    EXPECT_UNCHANGED(m1, fl_memory_allocate_typed(m1, 0, FL_MEMORY_VIDEO, 0, 0, &a), FL_ERR_INVALID_PARAMETERS);
    teardown();
}

static void row_size_max(void)
{
    setup(false);
    fl_allocation a;
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        EXPECT_UNCHANGED(m1, fl_memory_allocate_typed(m1, SIZE_MAX, (fl_memory_type)t, 0, 0, &a),
                         FL_ERR_INVALID_PARAMETERS);
        EXPECT_UNCHANGED(m1, fl_memory_allocate_typed(m1, SIZE_MAX - 1, (fl_memory_type)t, 64, 0, &a),
                         FL_ERR_INVALID_PARAMETERS);
    }
    EXPECT_UNCHANGED(m1, fl_memory_allocate(m1, SIZE_MAX, 0, &a), FL_ERR_INVALID_PARAMETERS);
    teardown();
}

/* The rounding limit: SIZE_MAX - FL_ALIGN_MAX is the largest size that size + alignment - 1
 * cannot overflow for any accepted alignment; one more is refused as bad input. */
static void row_size_alignment_overflow(void)
{
    setup(false);
    fl_allocation a;
    EXPECT_UNCHANGED(m1, fl_memory_allocate(m1, SIZE_MAX - FL_ALIGN_MAX + 1, FL_ALIGN_MAX, &a),
                     FL_ERR_INVALID_PARAMETERS);
    fl_alloc_request q = fl_make_allocation_request(SIZE_MAX - FL_ALIGN_MAX + 1, FL_MEMORY_SYSTEM, 16, 0);
    EXPECT_UNCHANGED(m1, fl_memory_allocate_request(m1, &q, &a), FL_ERR_INVALID_PARAMETERS);
    teardown();
}

/* Exactly at the limit the request is well formed, and simply too large: out of memory,
 * counted as a failed allocation of the type and nothing else. */
static void row_size_at_limit(void)
{
    setup(false);
    fl_allocation a;
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        if (t == FL_MEMORY_SHARED) continue; /* no Shared region in the fixture: NotSupported */
        memory_snapshot before = snapshot(m1);
        CHECK_STATUS(fl_memory_allocate_typed(m1, SIZE_MAX - FL_ALIGN_MAX, (fl_memory_type)t, FL_ALIGN_MAX, 0, &a),
                     FL_ERR_OUT_OF_MEMORY);
        memory_snapshot after = snapshot(m1);
        CHECK(after.global.failed_allocations == before.global.failed_allocations + 1);
        CHECK(after.global.used_bytes == before.global.used_bytes &&
              after.global.allocation_count == before.global.allocation_count);
        CHECK_OK(fl_memory_validate(m1));
    }
    teardown();
}

static void row_size_above_max_allocation(void)
{
    fl_memory_config c = fixture_config(false);
    c.max_allocation = 4096;
    fl_memory *m = make_memory(&c);
    fl_allocation a;
    EXPECT_UNCHANGED(m, fl_memory_allocate(m, 4097, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_OK(fl_memory_allocate(m, 4096, 0, &a));
    fl_allocation b;
    EXPECT_UNCHANGED(m, fl_memory_reallocate(m, a.ptr, 4097, &b), FL_ERR_INVALID_PARAMETERS);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    fl_memory_destroy(m);
}

static void row_reallocate_hostile_size(void)
{
    setup(false);
    for (size_t k = 0; k < KINDS; k++) {
        fl_allocation a = alloc_kind(m1, &kinds[k]), b;
        EXPECT_UNCHANGED(m1, fl_memory_reallocate(m1, a.ptr, 0, &b), FL_ERR_INVALID_PARAMETERS);
        EXPECT_UNCHANGED(m1, fl_memory_reallocate(m1, a.ptr, SIZE_MAX, &b), FL_ERR_INVALID_PARAMETERS);
        EXPECT_UNCHANGED(m1, fl_memory_reallocate(m1, a.ptr, SIZE_MAX - FL_ALIGN_MAX + 1, &b),
                         FL_ERR_INVALID_PARAMETERS);
        check_bytes(&a);
        CHECK_OK(fl_memory_deallocate(m1, a.ptr));
    }
    teardown();
}

static void row_allocator_size_max(void)
{
    static unsigned char buffer[64 * 1024];
    for (int t = 0; t < FL_ALLOCATOR_TYPE_COUNT; t++) {
        fl_allocator_config c;
        memset(&c, 0, sizeof c);
        c.type = (fl_allocator_type)t;
        c.buffer = t == FL_ALLOCATOR_SYSTEM ? NULL : buffer;
        c.size = sizeof buffer;
        c.block_size = 64;
        fl_allocator *a = NULL;
        CHECK_OK(fl_allocator_create(&c, &a));
        fl_allocator_stats before, after;
        fl_allocator_get_stats(a, &before);
        void *p = (void *)(uintptr_t)1;
        fl_status st = fl_allocator_allocate(a, SIZE_MAX, 16, &p);
        CHECK_MSG(st == FL_ERR_INVALID_PARAMETERS || st == FL_ERR_OUT_OF_MEMORY, "%s: %s",
                  fl_allocator_type_str((fl_allocator_type)t), fl_status_str(st));
        st = fl_allocator_allocate(a, SIZE_MAX - FL_ALIGN_MAX + 1, FL_ALIGN_MAX, &p);
        CHECK_MSG(st == FL_ERR_INVALID_PARAMETERS || st == FL_ERR_OUT_OF_MEMORY, "%s: %s",
                  fl_allocator_type_str((fl_allocator_type)t), fl_status_str(st));
        CHECK(p == (void *)(uintptr_t)1);
        fl_allocator_get_stats(a, &after);
        CHECK(after.used_bytes == before.used_bytes && after.allocation_count == before.allocation_count);
        CHECK_OK(fl_allocator_validate(a));
        fl_allocator_destroy(a);
    }
}

static void row_capacity_overflow(void)
{
    fl_memory_config c = fixture_config(false);
    c.capacity[FL_MEMORY_SYSTEM] = SIZE_MAX;
    c.capacity[FL_MEMORY_VIDEO] = SIZE_MAX;
    fl_memory *m = (fl_memory *)(uintptr_t)0x5A5A5A50u;
    CHECK_STATUS(fl_memory_create(&c, &m), FL_ERR_INVALID_PARAMETERS);
    size_t need = 7;
    CHECK_STATUS(fl_memory_backing_size(&c, &need), FL_ERR_INVALID_PARAMETERS);
    CHECK(m == (fl_memory *)(uintptr_t)0x5A5A5A50u && need == 7);
    size_t cap = 7;
    CHECK_STATUS(fl_memory_size_region(FL_ALLOCATOR_FREELIST, SIZE_MAX, SIZE_MAX / 2, 1, &cap),
                 FL_ERR_INVALID_PARAMETERS);
    CHECK(cap == 7);
}

static void row_backing_too_small(void)
{
    fl_memory_config c = fixture_config(false);
    c.strategy[FL_MEMORY_NETWORK] = FL_ALLOCATOR_AUTO;
    size_t need = 0;
    CHECK_OK(fl_memory_backing_size(&c, &need));
    void *block = malloc(need);
    CHECK(block != NULL);
    c.backing_memory = block;
    c.backing_size = need - 1;
    fl_memory *m = (fl_memory *)(uintptr_t)0x5A5A5A50u;
    fl_status st = fl_memory_create(&c, &m);
    free(block);
    CHECK_STATUS(st, FL_ERR_INVALID_PARAMETERS);
    CHECK(m == (fl_memory *)(uintptr_t)0x5A5A5A50u);
}

/* ---- alignment ------------------------------------------------------------------------------ */

static void row_alignment_not_power_of_two(void)
{
    setup(false);
    fl_allocation a;
    static const size_t bad[] = {3, 6, 24, 48, 100, FL_ALIGN_MAX - 1, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++)
            EXPECT_UNCHANGED(m1, fl_memory_allocate_typed(m1, 64, (fl_memory_type)t, bad[i], 0, &a),
                             FL_ERR_INVALID_PARAMETERS);
    teardown();
}

static void row_alignment_above_max(void)
{
    setup(false);
    fl_allocation a;
    EXPECT_UNCHANGED(m1, fl_memory_allocate(m1, 64, FL_ALIGN_MAX * 2, &a), FL_ERR_INVALID_PARAMETERS);
    EXPECT_UNCHANGED(m1, fl_memory_allocate(m1, 64, (size_t)1 << (sizeof(size_t) * 8 - 1), &a),
                     FL_ERR_INVALID_PARAMETERS);
    /* At the limit it is served. */
    CHECK_OK(fl_memory_allocate(m1, 64, FL_ALIGN_MAX, &a));
    CHECK(((uintptr_t)a.ptr & (FL_ALIGN_MAX - 1)) == 0);
    CHECK_OK(fl_memory_deallocate(m1, a.ptr));
    teardown();
}

/* ---- bad enum values -------------------------------------------------------------------- */

static const int bad_types[] = {FL_MEMORY_TYPE_COUNT, FL_MEMORY_TYPE_COUNT + 1, 200, -1, 0x7FFFFFFF};
#define BAD_TYPES (sizeof bad_types / sizeof bad_types[0])

static void row_bad_memory_type(void)
{
    setup(false);
    fl_allocation a;
    fl_memory_stats s;
    fl_pressure_info pi;
    for (size_t i = 0; i < BAD_TYPES; i++) {
        fl_memory_type t = (fl_memory_type)bad_types[i];
        EXPECT_UNCHANGED(m1, fl_memory_allocate_typed(m1, 64, t, 0, 0, &a), FL_ERR_INVALID_PARAMETERS);
        fl_alloc_request q = fl_make_allocation_request(64, t, 0, 0);
        EXPECT_UNCHANGED(m1, fl_memory_allocate_request(m1, &q, &a), FL_ERR_INVALID_PARAMETERS);
        EXPECT_UNCHANGED(m1, fl_memory_get_type_stats(m1, t, &s), FL_ERR_INVALID_PARAMETERS);
        EXPECT_UNCHANGED(m1, fl_memory_rewind(m1, t, (fl_marker){0, 0, 0}), FL_ERR_INVALID_PARAMETERS);
        fl_marker mk = fl_memory_mark(m1, t);
        CHECK(mk.offset == 0 && mk.count == 0 && mk.last == 0);
        CHECK(fl_last_error()->category == FL_ERR_INVALID_PARAMETERS);
        if (bad_types[i] != FL_MEMORY_TYPE_COUNT) /* FL_MEMORY_ALL_TYPES is a valid pressure query */
            EXPECT_UNCHANGED(m1, fl_memory_get_pressure(m1, t, &pi), FL_ERR_INVALID_PARAMETERS);
        CHECK(strcmp(fl_memory_type_str(t), "Unknown") == 0);
    }
    teardown();
}

static void row_bad_allocator_type(void)
{
    setup(false);
    static const int bad[] = {FL_ALLOCATOR_TYPE_COUNT, 7, 0xFE, 0x100, -1};
    fl_allocation a;
    fl_allocator *h = (fl_allocator *)(uintptr_t)0x5A5A5A50u;
    fl_allocator_stats as;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_allocator_type t = (fl_allocator_type)bad[i];
        fl_alloc_request q = fl_make_allocation_request(64, FL_MEMORY_SYSTEM, 0, 0);
        q.preferred_allocator = t;
        EXPECT_UNCHANGED(m1, fl_memory_allocate_request(m1, &q, &a), FL_ERR_INVALID_PARAMETERS);
        EXPECT_UNCHANGED(m1, fl_memory_get_allocator(m1, t, &h), FL_ERR_INVALID_PARAMETERS);
        EXPECT_UNCHANGED(m1, fl_memory_get_allocator_stats(m1, t, &as), FL_ERR_INVALID_PARAMETERS);
        size_t cap = 7;
        CHECK_STATUS(fl_memory_size_region(t, 4096, 64, 1, &cap), FL_ERR_INVALID_PARAMETERS);
        fl_allocator_config c;
        memset(&c, 0, sizeof c);
        c.type = t;
        c.size = 4096;
        CHECK_STATUS(fl_allocator_create(&c, &h), FL_ERR_INVALID_PARAMETERS);
        fl_memory_config mc = fixture_config(false);
        mc.strategy[FL_MEMORY_VIDEO] = t;
        CHECK_STATUS(fl_memory_create(&mc, (fl_memory **)(void *)&h), FL_ERR_INVALID_PARAMETERS);
        CHECK(h == (fl_allocator *)(uintptr_t)0x5A5A5A50u && cap == 7);
        CHECK(strcmp(fl_allocator_type_str(t), "Unknown") == 0);
    }
    /* AUTO is a request's "any allocator", never a strategy one can ask about. */
    EXPECT_UNCHANGED(m1, fl_memory_get_allocator(m1, FL_ALLOCATOR_AUTO, &h), FL_ERR_INVALID_PARAMETERS);
    teardown();
}

static void row_bad_flags(void)
{
    setup(false);
    fl_allocation a;
    for (unsigned bit = 6; bit < 32; bit++) {
        EXPECT_UNCHANGED(m1, fl_memory_allocate_typed(m1, 64, FL_MEMORY_SYSTEM, 0, (fl_memory_flags)1u << bit, &a),
                         FL_ERR_INVALID_PARAMETERS);
        fl_alloc_request q = fl_make_allocation_request(64, FL_MEMORY_SYSTEM, 0, (fl_memory_flags)1u << bit);
        EXPECT_UNCHANGED(m1, fl_memory_allocate_request(m1, &q, &a), FL_ERR_INVALID_PARAMETERS);
    }
    teardown();
}

static void row_relocatable_without_callback(void)
{
    setup(false);
    fl_allocation a;
    fl_alloc_request q = fl_make_allocation_request(64, FL_MEMORY_SYSTEM, 0, FL_FLAG_RELOCATABLE);
    EXPECT_UNCHANGED(m1, fl_memory_allocate_request(m1, &q, &a), FL_ERR_INVALID_PARAMETERS);
    /* allocate_typed has no way to pass the callback: always refused. */
    EXPECT_UNCHANGED(m1, fl_memory_allocate_typed(m1, 64, FL_MEMORY_SYSTEM, 0, FL_FLAG_RELOCATABLE, &a),
                     FL_ERR_INVALID_PARAMETERS);
    teardown();
}

static void pressure_noop(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    (void)level, (void)info, (void)user;
}

static void row_bad_pressure_level(void)
{
    setup(false);
    static const int bad[] = {FL_PRESSURE_NONE, FL_PRESSURE_CRITICAL + 1, 99, -1};
    uint32_t id = 77;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_UNCHANGED(m1, fl_memory_register_pressure_callback(m1, (fl_pressure_level)bad[i], pressure_noop, NULL, &id),
                         FL_ERR_INVALID_PARAMETERS);
    EXPECT_UNCHANGED(m1, fl_memory_register_pressure_callback(m1, FL_PRESSURE_LOW, NULL, NULL, &id),
                     FL_ERR_INVALID_PARAMETERS);
    EXPECT_UNCHANGED(m1, fl_memory_unregister_pressure_callback(m1, 0), FL_ERR_INVALID_PARAMETERS);
    EXPECT_UNCHANGED(m1, fl_memory_unregister_pressure_callback(m1, 12345), FL_ERR_INVALID_PARAMETERS);
    CHECK(id == 77);
    CHECK(strcmp(fl_pressure_level_str((fl_pressure_level)99), "Unknown") == 0);
    teardown();
}

static void row_bad_platform(void)
{
    fl_memory_config c;
    memset(&c, 0x5A, sizeof c);
    fl_memory_config copy = c;
    CHECK_STATUS(fl_memory_config_default((fl_platform)99, &c), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_config_default((fl_platform)-1, &c), FL_ERR_INVALID_PARAMETERS);
    CHECK(memcmp(&c, &copy, sizeof c) == 0);
    CHECK(strcmp(fl_platform_str((fl_platform)99), "Unknown") == 0);
}

/* ---- pointers ------------------------------------------------------------------------------ */

/* Each probe of a live block of each kind: free, reallocate and info refuse it, and
 * is_valid_pointer says false; the block and the statistics are untouched. */
static void probe_block(fl_memory *m, uintptr_t p, const fl_allocation *victim)
{
    fl_allocation b;
    EXPECT_UNCHANGED(m, fl_memory_deallocate(m, (void *)p), FL_ERR_INVALID_PARAMETERS);
    EXPECT_UNCHANGED(m, fl_memory_reallocate(m, (void *)p, 64, &b), FL_ERR_INVALID_PARAMETERS);
    EXPECT_UNCHANGED(m, fl_memory_get_allocation_info(m, (void *)p, &b), FL_ERR_INVALID_PARAMETERS);
    const char *tag;
    EXPECT_UNCHANGED(m, fl_memory_get_allocation_tag(m, (void *)p, &tag), FL_ERR_INVALID_PARAMETERS);
    CHECK(!fl_memory_is_valid_pointer(m, (void *)p));
    if (victim) check_bytes(victim);
}

static void row_pointer_one_inside(void)
{
    setup(false);
    for (size_t k = 0; k < KINDS; k++) {
        fl_allocation a = alloc_kind(m1, &kinds[k]);
        probe_block(m1, (uintptr_t)a.ptr + 1, &a);
        probe_block(m1, (uintptr_t)a.ptr + a.size - 1, &a);
        CHECK_OK(fl_memory_deallocate(m1, a.ptr));
    }
    teardown();
}

static void row_pointer_one_before(void)
{
    setup(false);
    for (size_t k = 0; k < KINDS; k++) {
        fl_allocation a = alloc_kind(m1, &kinds[k]);
        probe_block(m1, (uintptr_t)a.ptr - 1, &a);
        CHECK_OK(fl_memory_deallocate(m1, a.ptr));
    }
    teardown();
}

/* One byte past the end: with the block alone in its region nothing starts there. */
static void row_pointer_one_past(void)
{
    setup(false);
    for (size_t k = 0; k < KINDS; k++) {
        fl_allocation a = alloc_kind(m1, &kinds[k]);
        probe_block(m1, (uintptr_t)a.ptr + a.size, &a);
        CHECK_OK(fl_memory_deallocate(m1, a.ptr));
    }
    teardown();
}

static void row_pointer_region_edges(void)
{
    setup(false);
    fl_memory_region r[16];
    size_t n = fl_memory_get_regions(m1, r, 16);
    CHECK(n <= 16);
    for (size_t i = 0; i < n; i++) {
        if (r[i].base == NULL) continue; /* the heap region has no address range */
        uintptr_t base = (uintptr_t)r[i].base;
        probe_block(m1, base - 1, NULL);
        probe_block(m1, base, NULL); /* nothing live yet: not a block either */
        probe_block(m1, base + r[i].size, NULL);
        probe_block(m1, base + r[i].size - 1, NULL);
    }
    int local = 0;
    probe_block(m1, (uintptr_t)&local, NULL);
    probe_block(m1, (uintptr_t)&fake, NULL);
    EXPECT_UNCHANGED(m1, fl_memory_deallocate(m1, NULL), FL_ERR_INVALID_PARAMETERS);
    teardown();
}

static void row_double_free(void)
{
    setup(false);
    for (size_t k = 0; k < KINDS; k++) {
        fl_allocation keep = alloc_kind(m1, &kinds[k]); /* keeps the region non-empty */
        fl_allocation a = alloc_kind(m1, &kinds[k]);
        CHECK_OK(fl_memory_deallocate(m1, a.ptr));
        EXPECT_UNCHANGED(m1, fl_memory_deallocate(m1, a.ptr), FL_ERR_INVALID_PARAMETERS);
        fl_allocation b;
        EXPECT_UNCHANGED(m1, fl_memory_reallocate(m1, a.ptr, 8, &b), FL_ERR_INVALID_PARAMETERS);
        CHECK(!fl_memory_is_valid_pointer(m1, a.ptr));
        check_bytes(&keep);
        CHECK_OK(fl_memory_deallocate(m1, keep.ptr));
        EXPECT_UNCHANGED(m1, fl_memory_deallocate(m1, keep.ptr), FL_ERR_INVALID_PARAMETERS);
    }
    teardown();
}

static void row_stack_not_top(void)
{
    setup(false);
    fl_allocation a = alloc_kind(m1, &kinds[4]), b = alloc_kind(m1, &kinds[4]);
    EXPECT_UNCHANGED(m1, fl_memory_deallocate(m1, a.ptr), FL_ERR_INVALID_STATE);
    CHECK(fl_memory_is_valid_pointer(m1, a.ptr));
    CHECK_OK(fl_memory_deallocate(m1, b.ptr));
    CHECK_OK(fl_memory_deallocate(m1, a.ptr));
    teardown();
}

/* Found by fuzz_memory (docs/errors.md): a reallocate that must move a Stack block is
 * refused with FL_ERR_INVALID_STATE before any trial allocation (a stack frees only its top
 * and the new block would land above the old one), so nothing changes at all. */
static void row_stack_reallocate(void)
{
    setup(false);
    fl_allocation a = alloc_kind(m1, &kinds[4]), b;
    EXPECT_UNCHANGED(m1, fl_memory_reallocate(m1, a.ptr, 4 * a.size, &b), FL_ERR_INVALID_STATE);
    CHECK(fl_memory_is_valid_pointer(m1, a.ptr));
    check_bytes(&a);
    CHECK_OK(fl_memory_validate(m1));
    CHECK_OK(fl_memory_deallocate(m1, a.ptr));
    teardown();
}

static void row_cross_interface_free(void)
{
    setup(false);
    for (size_t k = 0; k < KINDS; k++) {
        fl_allocation a = alloc_kind(m1, &kinds[k]), b;
        memory_snapshot s1 = snapshot(m1);
        EXPECT_UNCHANGED(m2, fl_memory_deallocate(m2, a.ptr), FL_ERR_INVALID_PARAMETERS);
        EXPECT_UNCHANGED(m2, fl_memory_reallocate(m2, a.ptr, 8, &b), FL_ERR_INVALID_PARAMETERS);
        EXPECT_UNCHANGED(m2, fl_memory_get_allocation_info(m2, a.ptr, &b), FL_ERR_INVALID_PARAMETERS);
        CHECK(!fl_memory_is_valid_pointer(m2, a.ptr));
        memory_snapshot s1after = snapshot(m1);
        CHECK(snapshot_equal(&s1, &s1after));
        check_bytes(&a);
        CHECK_OK(fl_memory_deallocate(m1, a.ptr));
    }
    teardown();
}

static void row_cross_handle_free(void)
{
    setup(false);
    fl_allocation a = alloc_kind(m1, &kinds[0]); /* free list */
    fl_allocator *buddy = NULL, *other = NULL;
    CHECK_OK(fl_memory_get_allocator(m1, FL_ALLOCATOR_BUDDY, &buddy));
    CHECK_OK(fl_memory_get_allocator(m2, FL_ALLOCATOR_FREELIST, &other));
    EXPECT_UNCHANGED(m1, fl_allocator_deallocate(buddy, a.ptr), FL_ERR_INVALID_PARAMETERS);
    EXPECT_UNCHANGED(m1, fl_allocator_deallocate(other, a.ptr), FL_ERR_INVALID_PARAMETERS);
    CHECK(!fl_allocator_owns(buddy, a.ptr) && !fl_allocator_owns(other, a.ptr));
    check_bytes(&a);
    CHECK_OK(fl_memory_deallocate(m1, a.ptr));
    teardown();
}

static void row_cross_interface_marker(void)
{
    setup(false);
    fl_allocation a;
    CHECK_OK(fl_memory_allocate_typed(m1, 512, FL_MEMORY_TEMPORARY, 0, 0, &a));
    fl_marker mk = fl_memory_mark(m1, FL_MEMORY_TEMPORARY);
    /* m2's Temporary region is empty: a marker above its top cannot be its own. */
    EXPECT_UNCHANGED(m2, fl_memory_rewind(m2, FL_MEMORY_TEMPORARY, mk), FL_ERR_INVALID_PARAMETERS);
    /* A marker of another region kind of the same interface: refused too. */
    EXPECT_UNCHANGED(m1, fl_memory_rewind(m1, FL_MEMORY_STACK, mk), FL_ERR_INVALID_PARAMETERS);
    EXPECT_UNCHANGED(m1, fl_memory_rewind(m1, FL_MEMORY_SYSTEM, mk), FL_ERR_NOT_SUPPORTED);
    CHECK_OK(fl_memory_rewind(m1, FL_MEMORY_TEMPORARY, (fl_marker){0, 0, 0}));
    teardown();
}

/* Found by fuzz_memory: a marker whose offset lies inside a live allocation passed the
 * allocator's checks (top and counts; it keeps no allocation boundaries), and the rewind
 * cut the live block in two, after which the interface's liveness bitmaps were read past
 * their end. Now refused, for the Temporary (linear) and the Stack region alike; the true
 * marker right beside it still works. */
static void row_marker_inside_live_block(void)
{
    setup(false);
    static const fl_memory_type frame_types[2] = {FL_MEMORY_TEMPORARY, FL_MEMORY_STACK};
    for (int k = 0; k < 2; k++) {
        fl_memory_type t = frame_types[k];
        fl_allocation a, b;
        CHECK_OK(fl_memory_allocate_typed(m1, 64, t, 0, 0, &a));
        fl_marker mk = fl_memory_mark(m1, t); /* between a and b */
        CHECK_OK(fl_memory_allocate_typed(m1, 512, t, 0, 0, &b));
        memset(b.ptr, 0xC3, b.size);
        fl_marker forged = mk;
        for (size_t into = 16; into < 512; into += 112) {
            forged.offset = mk.offset + into; /* inside b, whatever the header layout */
            EXPECT_UNCHANGED(m1, fl_memory_rewind(m1, t, forged), FL_ERR_INVALID_PARAMETERS);
            CHECK(fl_memory_is_valid_pointer(m1, b.ptr));
            fl_allocation info;
            CHECK_OK(fl_memory_get_allocation_info(m1, b.ptr, &info));
            CHECK(info.size == b.size);
            check_bytes(&b);
        }
        CHECK_OK(fl_memory_rewind(m1, t, mk)); /* the true marker releases b alone */
        CHECK(!fl_memory_is_valid_pointer(m1, b.ptr) && fl_memory_is_valid_pointer(m1, a.ptr));
        CHECK_OK(fl_memory_rewind(m1, t, (fl_marker){0, 0, 0}));
        CHECK(!fl_memory_is_valid_pointer(m1, a.ptr));
    }
    teardown();
}

/* Found by fuzz_memory: a stale Stack marker (taken, rewound below, the stack grown
 * again differently) whose offset fell in a new allocation's padding, where the old
 * header's bytes still lay, passed the stack's best-effort check; the rewind then left the
 * stack's header chain broken (validate failed). The interface checks stack markers
 * exactly against its bitmaps now. The exact layout that fooled the stack is replayed by
 * fuzz/regressions/memory/stale_stack_marker_in_padding.bin (scripts/test.sh fuzz); this
 * row pins the behaviour on the fixture's Stack region. */
static void row_stale_stack_marker(void)
{
    setup(false);
    fl_allocation a, b;
    CHECK_OK(fl_memory_allocate_typed(m1, 1, FL_MEMORY_STACK, 0, 0, &a));
    CHECK_OK(fl_memory_allocate_typed(m1, 127, FL_MEMORY_STACK, 1024, 0, &b));
    fl_marker stale = fl_memory_mark(m1, FL_MEMORY_STACK);
    CHECK_OK(fl_memory_rewind(m1, FL_MEMORY_STACK, (fl_marker){0, 0, 0}));
    CHECK_OK(fl_memory_allocate_typed(m1, 1, FL_MEMORY_STACK, 0, 0, &a));
    CHECK_OK(fl_memory_allocate_typed(m1, 234, FL_MEMORY_STACK, 4096, 0, &b)); /* its padding covers stale */
    memset(b.ptr, 0xC3, b.size);
    EXPECT_UNCHANGED(m1, fl_memory_rewind(m1, FL_MEMORY_STACK, stale), FL_ERR_INVALID_PARAMETERS);
    check_bytes(&b);
    CHECK_OK(fl_memory_rewind(m1, FL_MEMORY_STACK, (fl_marker){0, 0, 0}));
    /* A true offset and last with a forged count (the stack only bounds-checks counts). */
    fl_allocation c;
    CHECK_OK(fl_memory_allocate_typed(m1, 16, FL_MEMORY_STACK, 0, 0, &a));
    CHECK_OK(fl_memory_allocate_typed(m1, 16, FL_MEMORY_STACK, 0, 0, &c));
    fl_marker forged = fl_memory_mark(m1, FL_MEMORY_STACK);
    CHECK_OK(fl_memory_allocate_typed(m1, 256, FL_MEMORY_STACK, 0, 0, &b));
    memset(b.ptr, 0xC3, b.size);
    forged.count += 1;
    EXPECT_UNCHANGED(m1, fl_memory_rewind(m1, FL_MEMORY_STACK, forged), FL_ERR_INVALID_PARAMETERS);
    check_bytes(&b);
    forged.count -= 1; /* the true marker */
    CHECK_OK(fl_memory_rewind(m1, FL_MEMORY_STACK, forged));
    CHECK(!fl_memory_is_valid_pointer(m1, b.ptr) && fl_memory_is_valid_pointer(m1, c.ptr));
    CHECK_OK(fl_memory_deallocate(m1, c.ptr));
    CHECK_OK(fl_memory_deallocate(m1, a.ptr));
    teardown();
}

static void row_null_interface(void)
{
    fl_allocation a;
    fl_memory_stats s;
    fl_pressure_info pi;
    fl_allocator *h;
    fl_allocator_stats as;
    uint32_t id;
    size_t released;
    int x;
    fl_alloc_request q = fl_make_allocation_request(64, FL_MEMORY_SYSTEM, 0, 0);
    CHECK_STATUS(fl_memory_allocate(NULL, 64, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_allocate_typed(NULL, 64, FL_MEMORY_SYSTEM, 0, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_allocate_request(NULL, &q, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_reallocate(NULL, &x, 64, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_deallocate(NULL, &x), FL_ERR_INVALID_PARAMETERS);
    CHECK(!fl_memory_is_valid_pointer(NULL, &x));
    CHECK_STATUS(fl_memory_get_allocation_info(NULL, &x, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_validate(NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_stats(NULL, &s), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_type_stats(NULL, FL_MEMORY_SYSTEM, &s), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_register_pressure_callback(NULL, FL_PRESSURE_LOW, pressure_noop, NULL, &id),
                 FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_unregister_pressure_callback(NULL, 1), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_pressure(NULL, FL_MEMORY_SYSTEM, &pi), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_trim(NULL, &released), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_gc_hint(NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_allocator(NULL, FL_ALLOCATOR_POOL, &h), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_allocator_stats(NULL, FL_ALLOCATOR_POOL, &as), FL_ERR_INVALID_PARAMETERS);
    CHECK(fl_memory_get_available_allocators(NULL, NULL, 0) == 0);
    CHECK(fl_memory_get_regions(NULL, NULL, 0) == 0);
    fl_marker mk = fl_memory_mark(NULL, FL_MEMORY_TEMPORARY);
    CHECK(mk.offset == 0 && mk.count == 0 && mk.last == 0);
    CHECK_STATUS(fl_memory_rewind(NULL, FL_MEMORY_TEMPORARY, mk), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_create(NULL, (fl_memory **)(void *)&h), FL_ERR_INVALID_PARAMETERS);
    fl_memory_destroy(NULL);
    /* And NULL outputs on a real interface. */
    setup(false);
    EXPECT_UNCHANGED(m1, fl_memory_allocate(m1, 64, 0, NULL), FL_ERR_INVALID_PARAMETERS);
    EXPECT_UNCHANGED(m1, fl_memory_allocate_request(m1, NULL, &a), FL_ERR_INVALID_PARAMETERS);
    EXPECT_UNCHANGED(m1, fl_memory_get_stats(m1, NULL), FL_ERR_INVALID_PARAMETERS);
    EXPECT_UNCHANGED(m1, fl_memory_register_pressure_callback(m1, FL_PRESSURE_LOW, pressure_noop, NULL, NULL),
                     FL_ERR_INVALID_PARAMETERS);
    teardown();
}

/* ---- callbacks that re-enter ------------------------------------------------------------ */

/* From inside a pressure callback: every public function but destroy (see the doc), on
 * the interface whose call raised the pressure. The lock is not held (thread_safe would
 * deadlock otherwise), so each call must work and the outer call must finish cleanly. */
static unsigned reentries;

static void json_count(const char *text, size_t length, void *user)
{
    (void)text;
    *(size_t *)user += length;
}

static void reenter_everything(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    (void)level, (void)info;
    fl_memory *m = (fl_memory *)user;
    if (reentries++ > 8) return; /* the allocations below may raise pressure again */
    fl_allocation a, b, c;
    fl_memory_stats s;
    fl_pressure_info pi;
    fl_allocator *h;
    fl_allocator_stats as;
    fl_allocator_type types[FL_ALLOCATOR_TYPE_COUNT];
    fl_memory_region regions[16];
    size_t released = 0, json = 0;
    uint32_t id = 0;
    const char *tag = NULL;
    if (fl_memory_allocate(m, 64, 0, &a) != FL_OK) return; /* full: nothing else to try */
    CHECK_OK(fl_memory_get_allocation_info(m, a.ptr, &b));
    CHECK_OK(fl_memory_get_allocation_tag(m, a.ptr, &tag));
    CHECK(fl_memory_is_valid_pointer(m, a.ptr));
    fl_status st = fl_memory_reallocate(m, a.ptr, 32, &b);
    CHECK_OK(st);
    CHECK_OK(fl_memory_deallocate(m, b.ptr));
    st = fl_memory_allocate_typed(m, 100, FL_MEMORY_TEMPORARY, 0, 0, &c);
    CHECK(st == FL_OK || st == FL_ERR_OUT_OF_MEMORY);
    fl_marker mk = fl_memory_mark(m, FL_MEMORY_STACK);
    if (fl_memory_allocate_typed(m, 16, FL_MEMORY_STACK, 0, 0, &c) == FL_OK)
        CHECK_OK(fl_memory_rewind(m, FL_MEMORY_STACK, mk));
    fl_alloc_request q = fl_make_allocation_request(48, FL_MEMORY_POOL, 0, 0);
    q.tag = "from a callback";
    if (fl_memory_allocate_request(m, &q, &c) == FL_OK) CHECK_OK(fl_memory_deallocate(m, c.ptr));
    CHECK_OK(fl_memory_validate(m));
    CHECK_OK(fl_memory_get_stats(m, &s));
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SYSTEM, &s));
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_ALL_TYPES, &pi));
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_HIGH, pressure_noop, NULL, &id));
    CHECK_OK(fl_memory_unregister_pressure_callback(m, id));
    CHECK_OK(fl_memory_trim(m, &released));
    CHECK_OK(fl_memory_gc_hint(m));
    CHECK_OK(fl_memory_get_allocator(m, FL_ALLOCATOR_FREELIST, &h));
    CHECK_OK(fl_memory_get_allocator_stats(m, FL_ALLOCATOR_FREELIST, &as));
    CHECK(fl_memory_get_available_allocators(m, types, FL_ALLOCATOR_TYPE_COUNT) > 0);
    CHECK(fl_memory_get_regions(m, regions, 16) > 0);
    CHECK_OK(fl_memory_dump_json(m, json_count, &json));
    CHECK(json > 0);
}

static void reentry_run(bool thread_safe, bool unregister_self)
{
    setup(thread_safe);
    reentries = 0;
    uint32_t id = 0;
    CHECK_OK(fl_memory_register_pressure_callback(m1, FL_PRESSURE_LOW, reenter_everything, m1, &id));
    fl_allocation blocks[64];
    size_t n = 0;
    /* Fill the System region past half: the Low callback runs from inside allocate. */
    while (reentries == 0 && n < 64) {
        CHECK_OK(fl_memory_allocate_typed(m1, 32 * KIB, FL_MEMORY_SYSTEM, 0, 0, &blocks[n]));
        n++;
    }
    CHECK(reentries > 0);
    if (unregister_self) CHECK_OK(fl_memory_unregister_pressure_callback(m1, id));
    CHECK_OK(fl_memory_validate(m1));
    check_identities(m1);
    while (n) CHECK_OK(fl_memory_deallocate(m1, blocks[--n].ptr));
    /* Everything the callback left behind goes with a rewind of the frame regions. */
    CHECK_OK(fl_memory_rewind(m1, FL_MEMORY_TEMPORARY, (fl_marker){0, 0, 0}));
    CHECK_OK(fl_memory_rewind(m1, FL_MEMORY_STACK, (fl_marker){0, 0, 0}));
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_stats(m1, &s));
    CHECK_EQ_SIZE(s.allocation_count, 0);
    teardown();
}

static void row_pressure_callback_reentry(void)
{
    reentry_run(false, false);
    reentry_run(true, true);
}

/* The JSON writer runs outside the lock too: reading from inside it is allowed. */
static void json_reader(const char *text, size_t length, void *user)
{
    (void)text, (void)length;
    fl_memory *m = (fl_memory *)user;
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_stats(m, &s));
    CHECK_OK(fl_memory_validate(m));
}

static void row_json_writer_reentry(void)
{
    setup(true);
    fl_allocation a = alloc_kind(m1, &kinds[0]);
    CHECK_OK(fl_memory_dump_json(m1, json_reader, m1));
    CHECK_OK(fl_memory_deallocate(m1, a.ptr));
    teardown();
}

/* ---- destroy with live allocations ---------------------------------------------------- */

static void row_destroy_with_live(void)
{
    setup(false);
    fl_allocation live[KINDS];
    for (size_t k = 0; k < KINDS; k++) live[k] = alloc_kind(m1, &kinds[k]);
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_stats(m1, &s));
    fl_memory_destroy(m1);
    m1 = NULL;
    CHECK(fl_last_error()->category == FL_ERR_INVALID_STATE);
    char want[96];
    snprintf(want, sizeof want, "%zu allocations (%zu bytes) were still live", s.allocation_count, s.used_bytes);
    CHECK_MSG(message_has(want), "message: %s", fl_last_error()->message);
    CHECK(fake_live_clean(&fake)); /* released all the same: heap blocks included */
    /* With nothing live, destroy leaves the last error alone. */
    (void)fl_memory_allocate(m2, 0, 0, &live[0]); /* sets InvalidParameters */
    fl_memory_destroy(m2);
    m2 = NULL;
    CHECK(fl_last_error()->category == FL_ERR_INVALID_PARAMETERS);
}

/* ---- the table -------------------------------------------------------------------------------- */

typedef struct row {
    const char *name, *function, *status, *unchanged;
    void (*run)(void);
} row;

static const row rows[] = {
    {"size 0", "allocate, allocate_typed", "InvalidParameters", "yes", row_size_zero},
    {"size SIZE_MAX", "allocate*, every type", "InvalidParameters", "yes", row_size_max},
    {"size + alignment overflows", "allocate, allocate_request", "InvalidParameters", "yes",
     row_size_alignment_overflow},
    {"size SIZE_MAX - FL_ALIGN_MAX", "allocate_typed, every type", "OutOfMemory", "yes (failed_allocations + 1)",
     row_size_at_limit},
    {"size above max_allocation", "allocate, reallocate", "InvalidParameters", "yes", row_size_above_max_allocation},
    {"reallocate to 0 or SIZE_MAX", "reallocate", "InvalidParameters", "yes, block intact",
     row_reallocate_hostile_size},
    {"allocator size SIZE_MAX", "fl_allocator_allocate, six types", "InvalidParameters or OutOfMemory", "yes",
     row_allocator_size_max},
    {"capacities overflow size_t", "create, backing_size, size_region", "InvalidParameters", "yes, *out untouched",
     row_capacity_overflow},
    {"backing memory one byte short", "create", "InvalidParameters", "yes, *out untouched", row_backing_too_small},
    {"alignment not a power of two", "allocate_typed, every type", "InvalidParameters", "yes",
     row_alignment_not_power_of_two},
    {"alignment above FL_ALIGN_MAX", "allocate", "InvalidParameters", "yes", row_alignment_above_max},
    {"bad memory type", "allocate_typed/request, type_stats, mark, rewind, pressure", "InvalidParameters", "yes",
     row_bad_memory_type},
    {"bad allocator type", "request, get_allocator(_stats), size_region, create", "InvalidParameters", "yes",
     row_bad_allocator_type},
    {"unknown flag bit", "allocate_typed, allocate_request", "InvalidParameters", "yes", row_bad_flags},
    {"RELOCATABLE without on_relocate", "allocate_request, allocate_typed", "InvalidParameters", "yes",
     row_relocatable_without_callback},
    {"bad pressure level or callback id", "register/unregister_pressure_callback", "InvalidParameters", "yes",
     row_bad_pressure_level},
    {"bad platform", "config_default", "InvalidParameters", "yes, *out untouched", row_bad_platform},
    {"pointer one byte inside", "deallocate, reallocate, info, tag, is_valid", "InvalidParameters / false",
     "yes, block intact", row_pointer_one_inside},
    {"pointer one byte before", "deallocate, reallocate, info, tag, is_valid", "InvalidParameters / false",
     "yes, block intact", row_pointer_one_before},
    {"pointer one byte past the end", "deallocate, reallocate, info, tag, is_valid", "InvalidParameters / false",
     "yes, block intact", row_pointer_one_past},
    {"region edges and foreign pointers", "deallocate, reallocate, info, tag, is_valid",
     "InvalidParameters / false", "yes", row_pointer_region_edges},
    {"double free", "deallocate, reallocate", "InvalidParameters", "yes", row_double_free},
    {"free below a stack's top", "deallocate", "InvalidState", "yes", row_stack_not_top},
    {"reallocate below a stack's top", "reallocate", "InvalidState", "yes",
     row_stack_reallocate},
    {"cross-interface free", "deallocate, reallocate, info on the other", "InvalidParameters", "yes, both",
     row_cross_interface_free},
    {"free through another handle", "fl_allocator_deallocate", "InvalidParameters", "yes", row_cross_handle_free},
    {"marker of another interface or region", "rewind", "InvalidParameters / NotSupported", "yes",
     row_cross_interface_marker},
    {"marker inside a live allocation", "rewind (Temporary, Stack)", "InvalidParameters", "yes, block intact",
     row_marker_inside_live_block},
    {"stale or forged stack marker", "rewind (Stack)", "InvalidParameters", "yes, block intact",
     row_stale_stack_marker},
    {"NULL interface or output", "every function", "InvalidParameters / false / 0", "yes", row_null_interface},
    {"pressure callback re-enters", "every function but destroy", "Ok", "consistent", row_pressure_callback_reentry},
    {"JSON writer re-enters (read-only)", "dump_json", "Ok", "yes", row_json_writer_reentry},
    {"destroy with live allocations", "destroy", "reported: last error InvalidState", "all released",
     row_destroy_with_live},
};
#define ROWS (sizeof rows / sizeof rows[0])

/* docs/errors.md names every row (when the source tree is readable from here). */
static void test_doc_names_every_row(void)
{
#ifdef FLMEM_SOURCE_DIR
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/errors.md", FLMEM_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        printf("docs/errors.md not readable here (%s): skipped\n", path);
        return;
    }
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    for (size_t i = 0; i < ROWS; i++) {
        char cell[128];
        snprintf(cell, sizeof cell, "| %s |", rows[i].name);
        CHECK_MSG(strstr(text, cell) != NULL, "docs/errors.md has no row \"%s\"", rows[i].name);
    }
#endif
}

int main(void)
{
    printf("| case | function | status | state unchanged? |\n|---|---|---|---|\n");
    for (size_t i = 0; i < ROWS; i++) {
        printf("| %s | %s | %s | %s |\n", rows[i].name, rows[i].function, rows[i].status, rows[i].unchanged);
        harness_run(rows[i].run, rows[i].name);
        if (m1) fl_memory_destroy(m1); /* after a failed check: keep the next rows independent */
        if (m2) fl_memory_destroy(m2);
        m1 = m2 = NULL;
    }
    RUN(test_doc_names_every_row);
    return harness_finish();
}
