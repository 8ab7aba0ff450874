/* The allocator handles of fl_memory_get_allocator (src/memory/views.c), fl_memory_trim /
 * gc_hint (trim.c), the sizing helper (sizing.c) and a thread-safe interface shared by
 * several threads. */
#include "memory_test_util.h"

#include <pthread.h>

/* ---- handles ---------------------------------------------------------------------------- */

static void count_block(const void *block, size_t size, bool used, void *user)
{
    (void)block;
    size_t *c = user;
    if (used) c[0]++;
    c[1] += size;
}

static void test_handles(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    fl_allocator_type kinds[FL_ALLOCATOR_TYPE_COUNT];
    size_t n = fl_memory_get_available_allocators(m, kinds, FL_ALLOCATOR_TYPE_COUNT);
    CHECK_EQ_SIZE(n, 5);
    CHECK_EQ_SIZE(fl_memory_get_available_allocators(m, NULL, 0), 5);
    CHECK_EQ_SIZE(fl_memory_get_available_allocators(NULL, kinds, 5), 0);
    for (size_t i = 0; i < n; i++) {
        fl_allocator *h = NULL;
        CHECK_OK(fl_memory_get_allocator(m, kinds[i], &h));
        CHECK(fl_allocator_kind(h) == kinds[i]);
        CHECK(strcmp(fl_allocator_name(h), fl_allocator_type_str(kinds[i])) == 0);
        CHECK_OK(fl_allocator_validate(h));
    }
    fl_allocator *h;
    CHECK_STATUS(fl_memory_get_allocator(m, FL_ALLOCATOR_SYSTEM, &h), FL_ERR_NOT_SUPPORTED);
    CHECK_STATUS(fl_memory_get_allocator(m, FL_ALLOCATOR_AUTO, &h), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_allocator(m, (fl_allocator_type)7, &h), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_allocator(m, FL_ALLOCATOR_POOL, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_allocator(NULL, FL_ALLOCATOR_POOL, &h), FL_ERR_INVALID_PARAMETERS);

    /* The specification's example: the pool handle serves 256 bytes aligned to 16. */
    fl_allocator *pool, *heap;
    CHECK_OK(fl_memory_get_allocator(m, FL_ALLOCATOR_POOL, &pool));
    CHECK_OK(fl_memory_get_allocator(m, FL_ALLOCATOR_FREELIST, &heap));
    void *p, *q;
    CHECK_OK(fl_allocator_allocate(pool, 256, 16, &p));
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_POOL, &s));
    CHECK_EQ_SIZE(s.allocation_count, 1); /* counted by the interface */
    CHECK(fl_allocator_owns(pool, p) && !fl_allocator_owns(heap, p));
    size_t usable;
    CHECK_OK(fl_allocator_usable_size(pool, p, &usable));
    CHECK_EQ_SIZE(usable, 256);
    CHECK_STATUS(fl_allocator_allocate(pool, 300, 16, &q), FL_ERR_OUT_OF_MEMORY); /* no class holds it */
    CHECK_OK(fl_allocator_allocate(heap, 5000, 64, &q));
    CHECK_STATUS(fl_allocator_deallocate(pool, q), FL_ERR_INVALID_PARAMETERS); /* not the pool's */
    CHECK_STATUS(fl_allocator_usable_size(pool, q, &usable), FL_ERR_INVALID_PARAMETERS);
    CHECK(fl_memory_is_valid_pointer(m, q));
    CHECK_OK(fl_memory_deallocate(m, q)); /* any pointer goes back through the interface */
    CHECK_OK(fl_allocator_deallocate(pool, p));
    CHECK_STATUS(fl_allocator_deallocate(pool, p), FL_ERR_INVALID_PARAMETERS);

    /* Statistics through the handle are the interface's. */
    fl_allocator_stats hs, ms;
    fl_allocator_get_stats(pool, &hs);
    CHECK_OK(fl_memory_get_allocator_stats(m, FL_ALLOCATOR_POOL, &ms));
    CHECK(memcmp(&hs, &ms, sizeof hs) == 0);
    CHECK(hs.total_allocations == 1 && hs.total_deallocations == 1 && hs.failed_allocations == 1);

    /* Reset through the handle frees every pool allocation. */
    void *held[20];
    for (int i = 0; i < 20; i++) {
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_typed(m, 10 + (size_t)i * 10, FL_MEMORY_POOL, 0, 0, &a));
        held[i] = a.ptr;
    }
    size_t walked[2] = {0, 0};
    CHECK_OK(fl_allocator_walk(pool, count_block, walked));
    CHECK_EQ_SIZE(walked[0], 20);
    fl_allocator_reset(pool);
    for (int i = 0; i < 20; i++) CHECK(!fl_memory_is_valid_pointer(m, held[i]));
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_POOL, &s));
    CHECK(s.allocation_count == 0 && s.used_bytes == 0 && s.total_deallocations == 21);
    fl_allocator_get_stats(pool, &hs);
    CHECK(hs.used_bytes == 0 && hs.allocation_count == 0);
    CHECK_OK(fl_memory_validate(m));

    /* Markers through the linear handle are the Temporary region's. */
    fl_allocator *lin;
    CHECK_OK(fl_memory_get_allocator(m, FL_ALLOCATOR_LINEAR, &lin));
    fl_marker mark = fl_allocator_mark(lin);
    CHECK_OK(fl_allocator_allocate(lin, 100, 0, &p));
    fl_allocation info;
    CHECK_OK(fl_memory_get_allocation_info(m, p, &info));
    CHECK(info.type == FL_MEMORY_TEMPORARY);
    CHECK_OK(fl_allocator_rewind(lin, mark));
    CHECK(!fl_memory_is_valid_pointer(m, p));
    CHECK_STATUS(fl_allocator_rewind(pool, mark), FL_ERR_NOT_SUPPORTED);

    fl_allocator_destroy(pool); /* the handle belongs to the interface: nothing happens */
    CHECK_OK(fl_allocator_allocate(pool, 64, 0, &p));
    CHECK_OK(fl_memory_deallocate(m, p));
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
    fl_memory_destroy(m);
}

/* ---- trim ---------------------------------------------------------------------------------- */

static fake_platform fake;

static void test_trim(void)
{
    fake_platform_init(&fake, fl_platform_default());
    fake.hooks.release_pages = garbage_release; /* released pages read back as 0xA5 */
    atomic_store(&garbage_released_bytes, 0);
    fl_memory_config c = small_config();
    c.platform = &fake.hooks;
    fl_memory *m = make_memory(&c);
    fl_allocation keep[8], a;
    fl_memory_type types[] = {FL_MEMORY_SYSTEM, FL_MEMORY_VIDEO, FL_MEMORY_AUDIO, FL_MEMORY_NETWORK,
                              FL_MEMORY_TEMPORARY, FL_MEMORY_STACK, FL_MEMORY_POOL, FL_MEMORY_SYSTEM};
    for (int i = 0; i < 8; i++) {
        CHECK_OK(fl_memory_allocate_typed(m, types[i] == FL_MEMORY_POOL ? 200 : 3000, types[i], 0, 0, &keep[i]));
        harness_fill(keep[i].ptr, keep[i].size, (uint64_t)i);
    }
    /* Big free holes: allocate and free large blocks. */
    void *big[6];
    for (int i = 0; i < 3; i++) {
        CHECK_OK(fl_memory_allocate_typed(m, 100 * KIB, FL_MEMORY_SYSTEM, 0, 0, &a));
        big[i] = a.ptr;
        harness_fill(a.ptr, a.size, 99);
    }
    for (int i = 0; i < 3; i++) CHECK_OK(fl_memory_deallocate(m, big[i]));
    size_t released = 0;
    CHECK_OK(fl_memory_trim(m, &released));
    CHECK(released > 0);
    CHECK(released == atomic_load(&garbage_released_bytes));
    CHECK(released % fli_page_size(&fake.hooks) == 0);
    CHECK(fake_calls(&fake, FAKE_RELEASE_PAGES) > 0);
    CHECK_OK(fl_memory_validate(m));
    for (int i = 0; i < 8; i++) CHECK(harness_pattern_ok(keep[i].ptr, keep[i].size, (uint64_t)i));
    /* Everything still works after the pages came back as garbage. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 8; i++) {
            fl_memory_type t = types[i] == FL_MEMORY_STACK ? FL_MEMORY_SYSTEM : types[i];
            CHECK_OK(fl_memory_allocate_typed(m, types[i] == FL_MEMORY_POOL ? 100 : 50 * KIB, t, 0, FL_FLAG_ZERO, &a));
            for (size_t k = 0; k < a.size; k++) CHECK(((unsigned char *)a.ptr)[k] == 0);
            CHECK_OK(fl_memory_deallocate(m, a.ptr));
        }
        CHECK_OK(fl_memory_gc_hint(m));
        CHECK_OK(fl_memory_validate(m));
    }
    for (int i = 7; i >= 0; i--) CHECK_OK(fl_memory_deallocate(m, keep[i].ptr));
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));

    /* Without release_pages nothing is given back. */
    fake_platform_init(&fake, fl_platform_default());
    fake.hooks.release_pages = NULL;
    c = small_config();
    c.platform = &fake.hooks;
    m = make_memory(&c);
    CHECK_OK(fl_memory_allocate_typed(m, 200 * KIB, FL_MEMORY_SYSTEM, 0, 0, &a));
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    released = 7;
    CHECK_OK(fl_memory_trim(m, &released));
    CHECK_EQ_SIZE(released, 0);
    CHECK_OK(fl_memory_gc_hint(m));
    CHECK_STATUS(fl_memory_trim(NULL, &released), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_gc_hint(NULL), FL_ERR_INVALID_PARAMETERS);
    fl_memory_destroy(m);
}

/* ---- sizing -------------------------------------------------------------------------------- */

static fl_memory *region_of_capacity(fl_memory_type type, fl_allocator_type strategy, size_t capacity, size_t block)
{
    fl_memory_config c = small_config();
    memset(c.capacity, 0, sizeof c.capacity);
    c.emergency_reserve = 0;
    c.capacity[type] = capacity;
    c.strategy[type] = strategy;
    if (strategy == FL_ALLOCATOR_POOL) {
        memset(c.pool_classes, 0, sizeof c.pool_classes);
        c.pool_classes[0] = block;
    }
    return make_memory(&c);
}

/* Random requests in [smallest, largest], with frees, keeping at most `peak` bytes live:
 * nothing may fail in a region the helper sized. */
static void random_within(fl_memory *m, fl_memory_type type, size_t peak, size_t smallest, size_t largest,
                          harness_rng *rng, bool frees)
{
    void *ptr[4096];
    size_t size[4096], n = 0, live = 0;
    for (int op = 0; op < 20000; op++) {
        if (frees && n > 0 && harness_range(rng, 0, 1)) {
            size_t i = harness_range(rng, 0, n - 1);
            CHECK_OK(fl_memory_deallocate(m, ptr[i]));
            live -= size[i];
            ptr[i] = ptr[--n];
            size[i] = size[n];
            continue;
        }
        size_t s = harness_range(rng, smallest, largest);
        if (live + s > peak || n == 4096) {
            if (!frees) break;
            continue;
        }
        fl_allocation a;
        CHECK_MSG(fl_memory_allocate_typed(m, s, type, 1, 0, &a) == FL_OK,
                  "%s: %zu bytes failed with %zu live (peak %zu)", fl_memory_type_str(type), s, live, peak);
        ptr[n] = a.ptr;
        size[n++] = s;
        live += s;
    }
}

static void test_sizing(void)
{
    size_t cap;
    harness_rng rng = harness_rng_seeded("sizing", 0x512e);
    /* Linear: every request until the peak, smallest first then largest. */
    CHECK_OK(fl_memory_size_region(FL_ALLOCATOR_LINEAR, 100 * KIB, 1000, 1, &cap));
    fl_memory *m = region_of_capacity(FL_MEMORY_TEMPORARY, FL_ALLOCATOR_LINEAR, cap, 0);
    for (size_t live = 0; live + 1 <= 100 * KIB; live++) {
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_typed(m, 1, FL_MEMORY_TEMPORARY, 1, 0, &a));
    }
    fl_memory_destroy(m);
    /* Stack: the same worst case. */
    CHECK_OK(fl_memory_size_region(FL_ALLOCATOR_STACK, 50 * KIB, 1000, 1, &cap));
    m = region_of_capacity(FL_MEMORY_STACK, FL_ALLOCATOR_STACK, cap, 0);
    for (size_t live = 0; live + 1 <= 50 * KIB; live++) {
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_typed(m, 1, FL_MEMORY_STACK, 1, 0, &a));
    }
    fl_memory_destroy(m);
    /* Pool: one class of block `largest`, ceil(peak / smallest) blocks. */
    CHECK_OK(fl_memory_size_region(FL_ALLOCATOR_POOL, 64 * KIB, 96, 40, &cap));
    m = region_of_capacity(FL_MEMORY_POOL, FL_ALLOCATOR_POOL, cap, 96);
    for (size_t i = 0; i < (64 * KIB + 39) / 40; i++) {
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_typed(m, 40, FL_MEMORY_POOL, 1, 0, &a));
    }
    fl_memory_destroy(m);
    /* Buddy and free list: random sequences within the demand never fail. */
    CHECK_OK(fl_memory_size_region(FL_ALLOCATOR_BUDDY, 256 * KIB, 8 * KIB, 16, &cap));
    m = region_of_capacity(FL_MEMORY_AUDIO, FL_ALLOCATOR_BUDDY, cap, 0);
    random_within(m, FL_MEMORY_AUDIO, 256 * KIB, 16, 8 * KIB, &rng, true);
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
    m = region_of_capacity(FL_MEMORY_VIDEO, FL_ALLOCATOR_BUDDY, cap, 0); /* 256-byte units */
    random_within(m, FL_MEMORY_VIDEO, 256 * KIB, 16, 8 * KIB, &rng, true);
    fl_memory_destroy(m);
    CHECK_OK(fl_memory_size_region(FL_ALLOCATOR_FREELIST, 128 * KIB, 2 * KIB, 64, &cap));
    m = region_of_capacity(FL_MEMORY_NETWORK, FL_ALLOCATOR_FREELIST, cap, 0);
    random_within(m, FL_MEMORY_NETWORK, 128 * KIB, 64, 2 * KIB, &rng, true);
    fl_memory_destroy(m);
    /* The bounds grow as documented. */
    size_t a, b;
    CHECK_OK(fl_memory_size_region(FL_ALLOCATOR_FREELIST, 1 * MIB, 4 * KIB, 64, &a));
    CHECK_OK(fl_memory_size_region(FL_ALLOCATOR_FREELIST, 1 * MIB, 64 * KIB, 64, &b));
    CHECK(b > a && a > 1 * MIB);
    CHECK_OK(fl_memory_size_region(FL_ALLOCATOR_POOL, 1 * MIB, 64, 64, &a));
    CHECK(a >= 1 * MIB && a < 1 * MIB + 64 * KIB);
    CHECK_OK(fl_memory_size_region(FL_ALLOCATOR_SYSTEM, 1 * MIB, 64, 64, &a));
    CHECK(a >= 1 * MIB);
    /* Bad input. */
    CHECK_STATUS(fl_memory_size_region(FL_ALLOCATOR_POOL, 0, 1, 1, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_size_region(FL_ALLOCATOR_POOL, 100, 0, 1, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_size_region(FL_ALLOCATOR_POOL, 100, 10, 20, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_size_region(FL_ALLOCATOR_POOL, 100, 200, 1, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_size_region(FL_ALLOCATOR_AUTO, 100, 10, 1, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_size_region(FL_ALLOCATOR_POOL, 100, 10, 1, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_size_region(FL_ALLOCATOR_FREELIST, SIZE_MAX / 4, SIZE_MAX / 8, 1, &a),
                 FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("size_t"));
}

/* ---- threads ------------------------------------------------------------------------------- */

typedef struct worker {
    fl_memory *m;
    unsigned seed;
    uint64_t allocs, frees, failed;
    int errors;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    harness_rng rng = {w->seed};
    static const fl_memory_type types[] = {FL_MEMORY_SYSTEM, FL_MEMORY_POOL, FL_MEMORY_VIDEO, FL_MEMORY_NETWORK,
                                           FL_MEMORY_AUDIO};
    void *ptr[256];
    size_t size[256];
    uint64_t id[256];
    size_t n = 0;
    uint64_t ops = harness_scaled(60000);
    for (uint64_t op = 0; op < ops; op++) {
        if (n > 0 && (n == 256 || harness_range(&rng, 0, 1))) {
            size_t i = harness_range(&rng, 0, n - 1);
            if (!harness_pattern_ok(ptr[i], size[i], id[i])) w->errors++;
            if (fl_memory_deallocate(w->m, ptr[i]) != FL_OK) w->errors++;
            w->frees++;
            n--;
            ptr[i] = ptr[n];
            size[i] = size[n];
            id[i] = id[n];
        } else {
            fl_memory_type t = types[harness_range(&rng, 0, 4)];
            fl_allocation a;
            fl_status st = fl_memory_allocate_typed(w->m, harness_range(&rng, 1, t == FL_MEMORY_POOL ? 256 : 2000), t,
                                                    0, 0, &a);
            if (st == FL_OK) {
                ptr[n] = a.ptr;
                size[n] = a.size;
                id[n] = op * 16 + w->seed;
                harness_fill(a.ptr, a.size, id[n]);
                n++;
                w->allocs++;
            } else if (st == FL_ERR_OUT_OF_MEMORY) {
                w->failed++;
            } else {
                w->errors++;
            }
        }
    }
    while (n > 0) {
        n--;
        if (!harness_pattern_ok(ptr[n], size[n], id[n])) w->errors++;
        if (fl_memory_deallocate(w->m, ptr[n]) != FL_OK) w->errors++;
        w->frees++;
    }
    return NULL;
}

static void test_threads(void)
{
    fl_memory_config c = small_config();
    c.capacity[FL_MEMORY_SYSTEM] = 4 * MIB;
    c.thread_safe = true;
    fl_memory *m = make_memory(&c);
    worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].m = m;
        w[i].seed = 1000u + (unsigned)i;
        CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0);
    }
    uint64_t allocs = 0, frees = 0, failed = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].errors == 0);
        allocs += w[i].allocs;
        frees += w[i].frees;
        failed += w[i].failed;
    }
    fl_memory_stats g;
    CHECK_OK(fl_memory_get_stats(m, &g));
    CHECK(g.total_allocations == allocs && g.total_deallocations == frees && g.failed_allocations == failed);
    CHECK_EQ_SIZE(g.allocation_count, 0);
    CHECK_EQ_SIZE(g.used_bytes, 0);
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
    fl_memory_destroy(m);
}

int main(void)
{
    RUN(test_handles);
    RUN(test_trim);
    RUN(test_sizing);
    RUN(test_threads);
    return harness_finish();
}
