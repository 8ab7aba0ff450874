/* Requests through the memory interface: routing rules, fallback and budgets,
 * capabilities, alignment, FL_FLAG_ZERO, max_allocation, the emergency reserve, pool class
 * overflow, deallocate and the exact pointer queries, mark/rewind, reallocate, records,
 * and every kind of bad input (src/memory/route.c, track.c, registry.c). */
#include "memory_test_util.h"

#include <time.h>

static fl_allocation take(fl_memory *m, size_t size, fl_memory_type type, size_t align, fl_memory_flags flags)
{
    fl_allocation a;
    CHECK_OK(fl_memory_allocate_typed(m, size, type, align, flags, &a));
    CHECK(a.ptr != NULL);
    CHECK(a.size >= size);
    CHECK(((uintptr_t)a.ptr & ((align ? align : FL_ALIGN_DEFAULT) - 1)) == 0);
    memset(a.ptr, 0x5A, a.size); /* every usable byte is writable (ASan would tell) */
    return a;
}

/* What get_allocation_info says agrees with what the allocate call said. */
static void check_info(fl_memory *m, const fl_allocation *a)
{
    fl_allocation info;
    CHECK(fl_memory_is_valid_pointer(m, a->ptr));
    CHECK_OK(fl_memory_get_allocation_info(m, a->ptr, &info));
    CHECK(info.ptr == a->ptr);
    CHECK_EQ_SIZE(info.size, a->size);
    CHECK(info.type == a->type && info.allocator == a->allocator);
    CHECK(info.alignment >= a->alignment);
    CHECK(((uintptr_t)info.ptr & (info.alignment - 1)) == 0);
}

static void test_default_routes(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    fl_allocation a;
    /* A general request that fits a pool class is served by the Pool region. */
    CHECK_OK(fl_memory_allocate(m, 100, 0, &a));
    CHECK(a.type == FL_MEMORY_POOL && a.allocator == FL_ALLOCATOR_POOL);
    CHECK_EQ_SIZE(a.size, 128);
    CHECK_EQ_SIZE(a.alignment, FL_ALIGN_DEFAULT);
    CHECK(a.flags == (FL_FLAG_CACHEABLE | FL_FLAG_DMA_CAPABLE));
    check_info(m, &a);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    /* Larger: the System free list. */
    CHECK_OK(fl_memory_allocate(m, 1000, 0, &a));
    CHECK(a.type == FL_MEMORY_SYSTEM && a.allocator == FL_ALLOCATOR_FREELIST);
    check_info(m, &a);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    /* Each type is served by its strategy. */
    static const fl_allocator_type expected[FL_MEMORY_TYPE_COUNT] = {
        FL_ALLOCATOR_FREELIST, FL_ALLOCATOR_BUDDY,  FL_ALLOCATOR_BUDDY, FL_ALLOCATOR_FREELIST,
        FL_ALLOCATOR_AUTO,     FL_ALLOCATOR_LINEAR, FL_ALLOCATOR_STACK, FL_ALLOCATOR_POOL};
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        if (t == FL_MEMORY_SHARED) {
            memory_snapshot before = snapshot(m);
            CHECK_STATUS(fl_memory_allocate_typed(m, 64, FL_MEMORY_SHARED, 0, 0, &a), FL_ERR_NOT_SUPPORTED);
            memory_snapshot after = snapshot(m);
            CHECK(snapshot_equal(&before, &after)); /* not even counted as a failure */
            continue;
        }
        a = take(m, t == FL_MEMORY_SYSTEM ? 3000 : 200, (fl_memory_type)t, 0, 0);
        CHECK(a.type == (fl_memory_type)t);
        CHECK(a.allocator == expected[t]);
        check_info(m, &a);
        CHECK_OK(fl_memory_deallocate(m, a.ptr));
        CHECK(!fl_memory_is_valid_pointer(m, a.ptr));
    }
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
    fl_memory_destroy(m);
}

static void test_alignment_everywhere(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        if (t == FL_MEMORY_SHARED) continue;
        size_t max_align = t == FL_MEMORY_POOL ? 256 : FL_ALIGN_PAGE;
        for (size_t align = 1; align <= max_align; align *= 2) {
            for (size_t size = 1; size <= (t == FL_MEMORY_POOL ? 256u : 300u); size += 85) {
                fl_allocation a = take(m, size, (fl_memory_type)t, align, 0);
                CHECK_EQ_SIZE(a.alignment, align);
                check_info(m, &a);
                CHECK_OK(fl_memory_deallocate(m, a.ptr));
            }
        }
    }
    /* An alignment no pool class holds is a request the Pool region cannot serve. */
    fl_allocation a;
    CHECK_STATUS(fl_memory_allocate_typed(m, 16, FL_MEMORY_POOL, 512, 0, &a), FL_ERR_OUT_OF_MEMORY);
    /* A System request for it skips the pools. */
    CHECK_OK(fl_memory_allocate_typed(m, 16, FL_MEMORY_SYSTEM, 512, 0, &a));
    CHECK(a.type == FL_MEMORY_SYSTEM);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

static void test_temporary_flag_and_preferences(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    fl_allocation a;
    /* FL_FLAG_TEMPORARY lets a System request use the frame allocator. */
    CHECK_OK(fl_memory_allocate_typed(m, 5000, FL_MEMORY_SYSTEM, 0, FL_FLAG_TEMPORARY, &a));
    CHECK(a.type == FL_MEMORY_TEMPORARY && a.allocator == FL_ALLOCATOR_LINEAR);
    CHECK(a.flags & FL_FLAG_TEMPORARY);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));

    fl_alloc_request r = fl_make_allocation_request(64, FL_MEMORY_SYSTEM, FL_ALIGN_CACHE, FL_FLAG_NONE);
    CHECK(r.preferred_allocator == FL_ALLOCATOR_AUTO && r.timeout_ms == 0 && !r.allow_fallback && r.tag == NULL);
    CHECK(r.on_relocate == NULL && r.relocate_user == NULL && r.size == 64 && r.alignment == FL_ALIGN_CACHE);
    /* A preference for a sibling strategy of main memory is honoured... */
    r.preferred_allocator = FL_ALLOCATOR_LINEAR;
    CHECK_OK(fl_memory_allocate_request(m, &r, &a));
    CHECK(a.allocator == FL_ALLOCATOR_LINEAR && a.type == FL_MEMORY_TEMPORARY);
    r.preferred_allocator = FL_ALLOCATOR_STACK;
    CHECK_OK(fl_memory_allocate_request(m, &r, &a));
    CHECK(a.allocator == FL_ALLOCATOR_STACK && a.type == FL_MEMORY_STACK);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    r.preferred_allocator = FL_ALLOCATOR_POOL;
    CHECK_OK(fl_memory_allocate_request(m, &r, &a));
    CHECK(a.allocator == FL_ALLOCATOR_POOL);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    /* ...and one nobody can honour for this type is not binding: fl_allocation says what served. */
    r.preferred_allocator = FL_ALLOCATOR_BUDDY;
    r.size = 4000;
    CHECK_OK(fl_memory_allocate_request(m, &r, &a));
    CHECK(a.allocator == FL_ALLOCATOR_FREELIST && a.type == FL_MEMORY_SYSTEM);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    r = fl_make_allocation_request(4000, FL_MEMORY_VIDEO, 0, 0);
    r.preferred_allocator = FL_ALLOCATOR_FREELIST;
    CHECK_OK(fl_memory_allocate_request(m, &r, &a));
    CHECK(a.allocator == FL_ALLOCATOR_BUDDY && a.type == FL_MEMORY_VIDEO);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    CHECK_OK(fl_memory_rewind(m, FL_MEMORY_TEMPORARY, (fl_marker){0, 0, 0}));
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

static void test_fallback_and_budgets(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    fl_memory_stats temp;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_TEMPORARY, &temp));
    /* Fill the Temporary region. */
    fl_allocation a;
    size_t n = 0;
    while (fl_memory_allocate_typed(m, 4096, FL_MEMORY_TEMPORARY, 0, 0, &a) == FL_OK) n++;
    CHECK(n >= 60);
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_TEMPORARY, &temp));
    CHECK(temp.failed_allocations == 1);
    CHECK(temp.used_bytes <= temp.total_bytes);
    /* Without fallback it fails; with it, the profile's chain (Temporary -> System) serves. */
    fl_alloc_request r = fl_make_allocation_request(4096, FL_MEMORY_TEMPORARY, 0, 0);
    CHECK_STATUS(fl_memory_allocate_request(m, &r, &a), FL_ERR_OUT_OF_MEMORY);
    r.allow_fallback = true;
    CHECK_OK(fl_memory_allocate_request(m, &r, &a));
    CHECK(a.type == FL_MEMORY_SYSTEM);
    fl_memory_stats sys;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SYSTEM, &sys));
    CHECK_EQ_SIZE(sys.allocation_count, 1);
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_TEMPORARY, &temp));
    CHECK_EQ_SIZE(temp.allocation_count, n);
    CHECK(temp.failed_allocations == 2);
    /* Budgets hold through fallback: keep asking until everything reachable is full. */
    size_t served = 0;
    while (fl_memory_allocate_request(m, &r, &a) == FL_OK) served++;
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        fl_memory_stats s;
        CHECK_OK(fl_memory_get_type_stats(m, (fl_memory_type)t, &s));
        CHECK(s.used_bytes <= s.total_bytes);
    }
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SYSTEM, &sys));
    CHECK(sys.free_bytes < 4096 + 64 * KIB + 64); /* full but for the reserve */
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);

    /* A cyclic fallback chain ends: every type is tried once. */
    c = small_config();
    c.fallback[FL_MEMORY_NETWORK] = FL_MEMORY_AUDIO;
    c.fallback[FL_MEMORY_AUDIO] = FL_MEMORY_NETWORK;
    c.capacity[FL_MEMORY_AUDIO] = 512 * KIB;
    m = make_memory(&c);
    r = fl_make_allocation_request(300 * KIB, FL_MEMORY_NETWORK, 0, 0);
    r.allow_fallback = true;
    CHECK_STATUS(fl_memory_allocate_request(m, &r, &a), FL_ERR_OUT_OF_MEMORY);
    r.size = 100 * KIB; /* too big for Network (64 KiB), fits Audio */
    CHECK_OK(fl_memory_allocate_request(m, &r, &a));
    CHECK(a.type == FL_MEMORY_AUDIO);
    fl_memory_destroy(m);
}

static void test_capabilities(void)
{
    fl_memory_config c = small_config();
    c.capabilities[FL_MEMORY_SYSTEM] = FL_FLAG_CACHEABLE;
    c.capabilities[FL_MEMORY_POOL] = FL_FLAG_CACHEABLE;
    c.capabilities[FL_MEMORY_AUDIO] = FL_FLAG_DMA_CAPABLE;
    c.fallback[FL_MEMORY_SYSTEM] = FL_MEMORY_AUDIO;
    fl_memory *m = make_memory(&c);
    fl_allocation a;
    CHECK_UNCHANGED(m, fl_memory_allocate_typed(m, 64, FL_MEMORY_SYSTEM, 0, FL_FLAG_DMA_CAPABLE, &a),
                    FL_ERR_NOT_SUPPORTED);
    CHECK(message_has("capabilities"));
    fl_alloc_request r = fl_make_allocation_request(64, FL_MEMORY_SYSTEM, 0, FL_FLAG_DMA_CAPABLE);
    r.allow_fallback = true;
    CHECK_OK(fl_memory_allocate_request(m, &r, &a));
    CHECK(a.type == FL_MEMORY_AUDIO && (a.flags & FL_FLAG_DMA_CAPABLE));
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    CHECK_OK(fl_memory_allocate_typed(m, 64, FL_MEMORY_SYSTEM, 0, FL_FLAG_CACHEABLE, &a));
    CHECK(a.type == FL_MEMORY_POOL && (a.flags & FL_FLAG_CACHEABLE));
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    fl_memory_destroy(m);
}

static void test_zero_flag(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        if (t == FL_MEMORY_SHARED) continue;
        /* Dirty a block, free it, and take the same size back zeroed (LIFO reuse). */
        fl_allocation a = take(m, 200, (fl_memory_type)t, 0, 0);
        CHECK_OK(fl_memory_deallocate(m, a.ptr));
        fl_allocation z = take(m, 200, (fl_memory_type)t, 0, 0);
        CHECK_OK(fl_memory_deallocate(m, z.ptr));
        CHECK_OK(fl_memory_allocate_typed(m, 200, (fl_memory_type)t, 0, FL_FLAG_ZERO, &z));
        CHECK(z.flags & FL_FLAG_ZERO);
        const unsigned char *b = z.ptr;
        for (size_t i = 0; i < z.size; i++) CHECK(b[i] == 0);
        CHECK_OK(fl_memory_deallocate(m, z.ptr));
    }
    fl_memory_destroy(m);
}

static void test_max_allocation(void)
{
    fl_memory_config c = small_config();
    c.max_allocation = 10000;
    fl_memory *m = make_memory(&c);
    fl_allocation a;
    CHECK_UNCHANGED(m, fl_memory_allocate(m, 10001, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("10001") && message_has("max_allocation"));
    CHECK_UNCHANGED(m, fl_memory_allocate_typed(m, 20000, FL_MEMORY_VIDEO, 0, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_OK(fl_memory_allocate(m, 10000, 0, &a));
    CHECK_UNCHANGED(m, fl_memory_reallocate(m, a.ptr, 10001, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    fl_memory_destroy(m);
}

static void test_emergency_reserve(void)
{
    fl_memory_config c = small_config();
    c.capacity[FL_MEMORY_POOL] = 0; /* everything small goes to the System free list */
    fl_memory *m = make_memory(&c);
    fl_memory_region regions[10];
    size_t n = fl_memory_get_regions(m, regions, 10);
    const fl_memory_region *reserve = &regions[n - 1];
    CHECK(strcmp(reserve->name, "Emergency reserve") == 0 && reserve->type == FL_MEMORY_SYSTEM);
    /* Fill System with ordinary requests. */
    fl_allocation a;
    void *held[4096];
    size_t count = 0;
    while (fl_memory_allocate_typed(m, 1000, FL_MEMORY_SYSTEM, 0, 0, &a) == FL_OK) held[count++] = a.ptr;
    fl_memory_stats sys;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SYSTEM, &sys));
    CHECK(sys.free_bytes >= 60 * KIB); /* the reserve is free, and no ordinary request got it */
    CHECK(sys.largest_free_block < 1000 + 64);
    fl_pressure_info p;
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_SYSTEM, &p));
    CHECK(p.available_bytes < 2000); /* the reserve is not available to ordinary requests */
    CHECK(p.level == FL_PRESSURE_CRITICAL);
    /* A critical request draws on it; every other flag combination does not. */
    CHECK_STATUS(fl_memory_allocate_typed(m, 1000, FL_MEMORY_SYSTEM, 0, FL_FLAG_ZERO | FL_FLAG_CACHEABLE, &a),
                 FL_ERR_OUT_OF_MEMORY);
    CHECK_OK(fl_memory_allocate_typed(m, 1000, FL_MEMORY_SYSTEM, 0, FL_FLAG_CRITICAL, &a));
    CHECK((unsigned char *)a.ptr >= (unsigned char *)reserve->base &&
          (unsigned char *)a.ptr < (unsigned char *)reserve->base + reserve->size);
    CHECK(a.type == FL_MEMORY_SYSTEM && a.allocator == FL_ALLOCATOR_FREELIST && (a.flags & FL_FLAG_CRITICAL));
    check_info(m, &a);
    fl_memory_stats after;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SYSTEM, &after));
    CHECK(after.used_bytes > sys.used_bytes && after.allocation_count == sys.allocation_count + 1);
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_SYSTEM, &p));
    CHECK(p.available_bytes < 2000); /* the reserve's use is not ordinary pressure either */
    /* A critical Video request never reaches System memory (its route has no System). */
    fl_allocation v;
    CHECK_OK(fl_memory_allocate_typed(m, 100 * KIB, FL_MEMORY_VIDEO, 0, 0, &v));
    CHECK_STATUS(fl_memory_allocate_typed(m, 100 * KIB, FL_MEMORY_VIDEO, 0, FL_FLAG_CRITICAL, &a), FL_ERR_OUT_OF_MEMORY);
    CHECK_OK(fl_memory_deallocate(m, v.ptr));
    /* With fallback to System, a critical Temporary request can. */
    fl_allocation t;
    while (fl_memory_allocate_typed(m, 8 * KIB, FL_MEMORY_TEMPORARY, 0, 0, &t) == FL_OK) {}
    while (fl_memory_allocate_typed(m, 16, FL_MEMORY_TEMPORARY, 0, 0, &t) == FL_OK) {}
    fl_alloc_request r = fl_make_allocation_request(1000, FL_MEMORY_TEMPORARY, 0, FL_FLAG_CRITICAL);
    r.allow_fallback = true;
    fl_allocation e;
    CHECK_OK(fl_memory_allocate_request(m, &r, &e));
    CHECK(e.type == FL_MEMORY_SYSTEM);
    CHECK((unsigned char *)e.ptr >= (unsigned char *)reserve->base);
    CHECK_OK(fl_memory_validate(m));
    CHECK_OK(fl_memory_deallocate(m, e.ptr));
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    for (size_t i = 0; i < count; i++) CHECK_OK(fl_memory_deallocate(m, held[i]));
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SYSTEM, &after));
    CHECK_EQ_SIZE(after.used_bytes, 0);
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
    fl_memory_destroy(m);
}

static void test_pool_overflow_once(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    /* Fill the 64-byte class: its requests then go to the 128-byte class, never further. */
    fl_allocation a;
    size_t in64 = 0, in128 = 0;
    for (;;) {
        if (fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &a) != FL_OK) break;
        if (a.size == 64) in64++;
        else if (a.size == 128) in128++;
        else CHECK_MSG(false, "64-byte request served by a %zu-byte block", a.size);
    }
    CHECK(in64 > 100 && in128 > 100);
    /* The 256-byte class is untouched and still serves its own size. */
    CHECK_OK(fl_memory_allocate_typed(m, 256, FL_MEMORY_POOL, 0, 0, &a));
    CHECK_EQ_SIZE(a.size, 256);
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_POOL, &s));
    CHECK_EQ_SIZE(s.used_bytes, in64 * 64 + in128 * 128 + 256);
    CHECK_EQ_SIZE(s.allocation_count, in64 + in128 + 1);
    CHECK(s.failed_allocations == 1);
    CHECK_EQ_SIZE(s.largest_free_block, 256);
    /* A System request that fits the (full) classes goes on to the free list. */
    CHECK_OK(fl_memory_allocate(m, 64, 0, &a));
    CHECK(a.type == FL_MEMORY_SYSTEM);
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

static void test_bad_frees(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    int on_stack = 0;
    CHECK_UNCHANGED(m, fl_memory_deallocate(m, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_deallocate(NULL, &on_stack), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_deallocate(m, &on_stack), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("not owned"));
    void *heap = malloc(32);
    CHECK_UNCHANGED(m, fl_memory_deallocate(m, heap), FL_ERR_INVALID_PARAMETERS);
    free(heap);
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        if (t == FL_MEMORY_SHARED) continue;
        fl_allocation x = take(m, 100, (fl_memory_type)t, 0, 0);
        fl_allocation a = take(m, 100, (fl_memory_type)t, 0, 0);
        for (size_t off = 1; off < a.size; off += 7) {
            CHECK(!fl_memory_is_valid_pointer(m, (char *)a.ptr + off));
            CHECK_UNCHANGED(m, fl_memory_deallocate(m, (char *)a.ptr + off), FL_ERR_INVALID_PARAMETERS);
            fl_allocation info;
            CHECK_STATUS(fl_memory_get_allocation_info(m, (char *)a.ptr + off, &info), FL_ERR_INVALID_PARAMETERS);
        }
        if (t == FL_MEMORY_STACK) {
            /* LIFO: the older allocation cannot go first. */
            CHECK_UNCHANGED(m, fl_memory_deallocate(m, x.ptr), FL_ERR_INVALID_STATE);
            CHECK(fl_memory_is_valid_pointer(m, x.ptr));
        }
        CHECK_OK(fl_memory_deallocate(m, a.ptr));
        CHECK_UNCHANGED(m, fl_memory_deallocate(m, a.ptr), FL_ERR_INVALID_PARAMETERS); /* double free */
        CHECK(!fl_memory_is_valid_pointer(m, a.ptr));
        CHECK_OK(fl_memory_deallocate(m, x.ptr));
        CHECK_UNCHANGED(m, fl_memory_deallocate(m, x.ptr), FL_ERR_INVALID_PARAMETERS);
    }
    /* A linear allocation that is not the newest: freed (no longer valid), bytes kept. */
    fl_allocation l1 = take(m, 64, FL_MEMORY_TEMPORARY, 0, 0);
    fl_allocation l2 = take(m, 64, FL_MEMORY_TEMPORARY, 0, 0);
    fl_memory_stats before, after;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_TEMPORARY, &before));
    CHECK_OK(fl_memory_deallocate(m, l1.ptr));
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_TEMPORARY, &after));
    CHECK_EQ_SIZE(after.used_bytes, before.used_bytes);
    CHECK_EQ_SIZE(after.allocation_count, before.allocation_count - 1);
    CHECK(!fl_memory_is_valid_pointer(m, l1.ptr));
    CHECK_UNCHANGED(m, fl_memory_deallocate(m, l1.ptr), FL_ERR_INVALID_PARAMETERS);
    CHECK(fl_memory_is_valid_pointer(m, l2.ptr));
    CHECK_OK(fl_memory_deallocate(m, l2.ptr)); /* the newest: its bytes come back */
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_TEMPORARY, &after));
    CHECK(after.used_bytes < before.used_bytes);
    /* Queries with bad input. */
    fl_allocation info;
    CHECK(!fl_memory_is_valid_pointer(NULL, l2.ptr));
    CHECK(!fl_memory_is_valid_pointer(m, NULL));
    CHECK_STATUS(fl_memory_get_allocation_info(NULL, l2.ptr, &info), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_allocation_info(m, NULL, &info), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_allocation_info(m, l2.ptr, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
    fl_memory_destroy(m);
}

static void test_bad_requests(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    fl_allocation a;
    fl_alloc_request r = fl_make_allocation_request(64, FL_MEMORY_SYSTEM, 0, 0);
    CHECK_UNCHANGED(m, fl_memory_allocate(NULL, 64, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_allocate(m, 64, 0, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_allocate(m, 0, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("size 0"));
    CHECK_UNCHANGED(m, fl_memory_allocate(m, SIZE_MAX, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_allocate(m, SIZE_MAX - 100, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_allocate(m, 64, 24, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("24"));
    CHECK_UNCHANGED(m, fl_memory_allocate(m, 64, FL_ALIGN_MAX * 2, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_allocate_typed(m, 64, FL_MEMORY_TYPE_COUNT, 0, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_allocate_typed(m, 64, (fl_memory_type)-1, 0, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0x40, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("unknown bits"));
    CHECK_UNCHANGED(m, fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, FL_FLAG_RELOCATABLE, &a),
                    FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("on_relocate"));
    CHECK_UNCHANGED(m, fl_memory_allocate_typed(NULL, 64, FL_MEMORY_POOL, 0, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_allocate_request(NULL, &r, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_allocate_request(m, NULL, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_allocate_request(m, &r, NULL), FL_ERR_INVALID_PARAMETERS);
    r.preferred_allocator = (fl_allocator_type)6;
    CHECK_UNCHANGED(m, fl_memory_allocate_request(m, &r, &a), FL_ERR_INVALID_PARAMETERS);
    r.preferred_allocator = (fl_allocator_type)0x80;
    CHECK_UNCHANGED(m, fl_memory_allocate_request(m, &r, &a), FL_ERR_INVALID_PARAMETERS);
    r = fl_make_allocation_request(64, (fl_memory_type)9, 0, 0);
    CHECK_UNCHANGED(m, fl_memory_allocate_request(m, &r, &a), FL_ERR_INVALID_PARAMETERS);
    r = fl_make_allocation_request(64, FL_MEMORY_SYSTEM, 3, 0);
    CHECK_UNCHANGED(m, fl_memory_allocate_request(m, &r, &a), FL_ERR_INVALID_PARAMETERS);
    fl_memory_destroy(m);
}

static void test_mark_and_rewind(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    for (int pass = 0; pass < 2; pass++) {
        fl_memory_type t = pass ? FL_MEMORY_STACK : FL_MEMORY_TEMPORARY;
        fl_allocation keep = take(m, 100, t, 0, 0);
        fl_memory_stats s0, s1;
        CHECK_OK(fl_memory_get_type_stats(m, t, &s0));
        fl_marker mark = fl_memory_mark(m, t);
        void *frame[50];
        for (int i = 0; i < 50; i++) frame[i] = take(m, 16 + (size_t)i * 13, t, i % 3 ? 0 : 64, 0).ptr;
        if (t == FL_MEMORY_TEMPORARY) CHECK_OK(fl_memory_deallocate(m, frame[10])); /* freed before the rewind */
        CHECK_OK(fl_memory_rewind(m, t, mark));
        for (int i = 0; i < 50; i++) CHECK(!fl_memory_is_valid_pointer(m, frame[i]));
        CHECK(fl_memory_is_valid_pointer(m, keep.ptr));
        CHECK_OK(fl_memory_get_type_stats(m, t, &s1));
        CHECK_EQ_SIZE(s1.used_bytes, s0.used_bytes);
        CHECK_EQ_SIZE(s1.allocation_count, s0.allocation_count);
        CHECK(s1.total_deallocations == s0.total_deallocations + 50);
        CHECK(s1.total_allocations == s0.total_allocations + 50);
        CHECK_OK(fl_memory_validate(m));
        /* A marker from beyond the top cannot be this region's. */
        fl_marker bogus = {s1.used_bytes + 4096, 1, 0};
        CHECK_UNCHANGED(m, fl_memory_rewind(m, t, bogus), FL_ERR_INVALID_PARAMETERS);
        /* {0}: everything. */
        CHECK_OK(fl_memory_rewind(m, t, (fl_marker){0, 0, 0}));
        CHECK(!fl_memory_is_valid_pointer(m, keep.ptr));
        CHECK_OK(fl_memory_get_type_stats(m, t, &s1));
        CHECK_EQ_SIZE(s1.used_bytes, 0);
        CHECK_EQ_SIZE(s1.allocation_count, 0);
    }
    fl_marker zero = fl_memory_mark(m, FL_MEMORY_SYSTEM);
    CHECK(zero.offset == 0 && zero.count == 0);
    CHECK(fl_last_error()->category == FL_ERR_NOT_SUPPORTED);
    CHECK_UNCHANGED(m, fl_memory_rewind(m, FL_MEMORY_SYSTEM, zero), FL_ERR_NOT_SUPPORTED);
    CHECK_UNCHANGED(m, fl_memory_rewind(m, FL_MEMORY_SHARED, zero), FL_ERR_NOT_SUPPORTED);
    CHECK_UNCHANGED(m, fl_memory_rewind(m, (fl_memory_type)20, zero), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_rewind(NULL, FL_MEMORY_TEMPORARY, zero), FL_ERR_INVALID_PARAMETERS);
    zero = fl_memory_mark(NULL, FL_MEMORY_TEMPORARY);
    CHECK(zero.offset == 0 && fl_last_error()->category == FL_ERR_INVALID_PARAMETERS);
    check_identities(m);
    fl_memory_destroy(m);
}

static void test_reallocate(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    fl_allocation a, b;
    CHECK_OK(fl_memory_allocate(m, 40, 0, &a));
    CHECK(a.type == FL_MEMORY_POOL);
    harness_fill(a.ptr, 40, 7);
    /* Within its usable size: stays. */
    CHECK_OK(fl_memory_reallocate(m, a.ptr, a.size, &b));
    CHECK(b.ptr == a.ptr && b.size == a.size);
    /* Beyond: moves (out of the pool, through Pool's fallback to System), bytes intact. */
    CHECK_OK(fl_memory_reallocate(m, a.ptr, 5000, &b));
    CHECK(b.ptr != a.ptr && b.size >= 5000 && b.type == FL_MEMORY_SYSTEM);
    CHECK(harness_pattern_ok(b.ptr, 40, 7));
    CHECK(!fl_memory_is_valid_pointer(m, a.ptr));
    CHECK(fl_memory_is_valid_pointer(m, b.ptr));
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_stats(m, &s));
    CHECK_EQ_SIZE(s.allocation_count, 1);
    /* Shrinking never moves. */
    CHECK_OK(fl_memory_reallocate(m, b.ptr, 10, &a));
    CHECK(a.ptr == b.ptr);
    /* A tagged allocation keeps its record when it moves. */
    fl_alloc_request r = fl_make_allocation_request(100, FL_MEMORY_NETWORK, 0, 0);
    r.tag = "packet";
    fl_allocation t;
    CHECK_OK(fl_memory_allocate_request(m, &r, &t));
    harness_fill(t.ptr, 100, 9);
    CHECK_OK(fl_memory_reallocate(m, t.ptr, 20000, &t));
    const char *tag = NULL;
    CHECK_OK(fl_memory_get_allocation_tag(m, t.ptr, &tag));
    CHECK(tag != NULL && strcmp(tag, "packet") == 0);
    CHECK(harness_pattern_ok(t.ptr, 100, 9));
    CHECK(t.type == FL_MEMORY_NETWORK);
    /* Failure leaves the old block as it was. */
    fl_allocation big;
    CHECK_STATUS(fl_memory_reallocate(m, t.ptr, 10 * MIB, &big), FL_ERR_OUT_OF_MEMORY);
    CHECK(fl_memory_is_valid_pointer(m, t.ptr) && harness_pattern_ok(t.ptr, 100, 9));
    /* Bad input. */
    int x;
    CHECK_UNCHANGED(m, fl_memory_reallocate(m, &x, 100, &big), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_reallocate(m, (char *)t.ptr + 8, 100, &big), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_reallocate(m, t.ptr, 0, &big), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_reallocate(m, NULL, 10, &big), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_reallocate(NULL, t.ptr, 10, &big), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_reallocate(m, t.ptr, 10, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_reallocate(m, t.ptr, SIZE_MAX, &big), FL_ERR_INVALID_PARAMETERS);
    CHECK_OK(fl_memory_deallocate(m, t.ptr));
    CHECK_OK(fl_memory_deallocate(m, b.ptr));
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
    fl_memory_destroy(m);
}

static void on_move(void *old_ptr, void *new_ptr, size_t size, void *user)
{
    (void)old_ptr; (void)new_ptr; (void)size; (void)user;
}

static void test_records(void)
{
    fl_memory_config c = small_config();
    c.max_records = 3;
    fl_memory *m = make_memory(&c);
    fl_alloc_request r = fl_make_allocation_request(48, FL_MEMORY_TEMPORARY, FL_ALIGN_CACHE, FL_FLAG_ZERO);
    r.tag = "frame";
    fl_allocation a, b, d, x;
    CHECK_OK(fl_memory_allocate_request(m, &r, &a));
    fl_allocation info;
    CHECK_OK(fl_memory_get_allocation_info(m, a.ptr, &info));
    CHECK_EQ_SIZE(info.alignment, FL_ALIGN_CACHE); /* from the record: what was asked */
    CHECK(info.flags & FL_FLAG_ZERO);
    r = fl_make_allocation_request(48, FL_MEMORY_POOL, 0, FL_FLAG_RELOCATABLE);
    r.on_relocate = on_move;
    CHECK_OK(fl_memory_allocate_request(m, &r, &b));
    CHECK(b.flags & FL_FLAG_RELOCATABLE);
    r.tag = "third";
    CHECK_OK(fl_memory_allocate_request(m, &r, &d));
    /* The table holds 3: a fourth tagged request fails; a plain one does not. */
    CHECK_STATUS(fl_memory_allocate_request(m, &r, &x), FL_ERR_OUT_OF_MEMORY);
    CHECK(message_has("record table"));
    CHECK_OK(fl_memory_allocate_typed(m, 48, FL_MEMORY_POOL, 0, 0, &x));
    const char *tag = (const char *)1;
    CHECK_OK(fl_memory_get_allocation_tag(m, x.ptr, &tag));
    CHECK(tag == NULL);
    CHECK_OK(fl_memory_get_allocation_tag(m, a.ptr, &tag));
    CHECK(strcmp(tag, "frame") == 0);
    CHECK_STATUS(fl_memory_get_allocation_tag(m, (char *)a.ptr + 1, &tag), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_allocation_tag(m, a.ptr, NULL), FL_ERR_INVALID_PARAMETERS);
    /* Records go with their allocations: free, and rewind. */
    CHECK_OK(fl_memory_deallocate(m, b.ptr));
    CHECK_OK(fl_memory_allocate_request(m, &r, &b));
    CHECK_OK(fl_memory_rewind(m, FL_MEMORY_TEMPORARY, (fl_marker){0, 0, 0}));
    CHECK_OK(fl_memory_validate(m));
    CHECK_OK(fl_memory_allocate_request(m, &r, &a)); /* room again */
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

static void test_timeout_fails_at_once(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    fl_alloc_request r = fl_make_allocation_request(4 * MIB, FL_MEMORY_SYSTEM, 0, 0);
    r.timeout_ms = 1000;
    fl_allocation a;
    clock_t start = clock();
    CHECK_STATUS(fl_memory_allocate_request(m, &r, &a), FL_ERR_OUT_OF_MEMORY);
    CHECK((double)(clock() - start) / CLOCKS_PER_SEC < 0.5);
    fl_memory_destroy(m);
}

int main(void)
{
    RUN(test_default_routes);
    RUN(test_alignment_everywhere);
    RUN(test_temporary_flag_and_preferences);
    RUN(test_fallback_and_budgets);
    RUN(test_capabilities);
    RUN(test_zero_flag);
    RUN(test_max_allocation);
    RUN(test_emergency_reserve);
    RUN(test_pool_overflow_once);
    RUN(test_bad_frees);
    RUN(test_bad_requests);
    RUN(test_mark_and_rewind);
    RUN(test_reallocate);
    RUN(test_records);
    RUN(test_timeout_fails_at_once);
    return harness_finish();
}
