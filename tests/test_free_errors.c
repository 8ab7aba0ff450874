/* Double and invalid frees are always detected, in every build and without debug options:
 * every allocator on its own and every region kind of the memory interface answers a
 * second free, an interior pointer, a foreign pointer and NULL with
 * FL_ERR_INVALID_PARAMETERS, and nothing changes (statistics, validate, the other blocks'
 * bytes). The one documented exception: a linear allocator on its own cannot tell an older
 * allocation freed twice, nor an interior pointer below its top (its frees of anything but
 * the newest are no-ops); the memory
 * interface's linear regions can (exact liveness bitmaps, src/memory/track.c). */
#include "harness.h"
#include "memory_test_util.h"

#include <string.h>

static _Alignas(64) unsigned char arena[1 << 16];

static bool allocator_stats_equal(const fl_allocator_stats *a, const fl_allocator_stats *b)
{
    return a->used_bytes == b->used_bytes && a->free_bytes == b->free_bytes &&
           a->allocation_count == b->allocation_count && a->total_deallocations == b->total_deallocations &&
           a->largest_free_block == b->largest_free_block;
}

/* `expr` fails with FL_ERR_INVALID_PARAMETERS and the allocator is as it was. */
#define CHECK_REFUSED(a, expr)                                                                              \
    do {                                                                                                    \
        fl_allocator_stats before_, after_;                                                                 \
        fl_allocator_get_stats(a, &before_);                                                                \
        CHECK_STATUS(expr, FL_ERR_INVALID_PARAMETERS);                                                      \
        fl_allocator_get_stats(a, &after_);                                                                 \
        CHECK(allocator_stats_equal(&before_, &after_));                                                    \
        CHECK_OK(fl_allocator_validate(a));                                                                 \
    } while (0)

static void check_allocator(fl_allocator_type type)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = type;
    cfg.buffer = type == FL_ALLOCATOR_SYSTEM ? NULL : arena;
    cfg.size = type == FL_ALLOCATOR_SYSTEM ? 0 : sizeof arena;
    cfg.block_size = 64;
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    void *p[3];
    for (int i = 0; i < 3; i++) {
        CHECK_OK(fl_allocator_allocate(a, 64, 0, &p[i]));
        harness_fill(p[i], 64, (uint64_t)i);
    }
    /* The newest is freed (the only one a stack or a linear allocator really frees). */
    CHECK_OK(fl_allocator_deallocate(a, p[2]));
    CHECK_REFUSED(a, fl_allocator_deallocate(a, p[2]));
    /* Interior (a linear allocator on its own accepts any pointer below its top as a no-op). */
    if (type != FL_ALLOCATOR_LINEAR) CHECK_REFUSED(a, fl_allocator_deallocate(a, (unsigned char *)p[1] + 8));
    int local = 0;
    CHECK_REFUSED(a, fl_allocator_deallocate(a, &local)); /* foreign */
    CHECK_REFUSED(a, fl_allocator_deallocate(a, NULL));
    if (type != FL_ALLOCATOR_LINEAR && type != FL_ALLOCATOR_STACK) {
        /* An older block, freed twice. */
        CHECK_OK(fl_allocator_deallocate(a, p[0]));
        CHECK_REFUSED(a, fl_allocator_deallocate(a, p[0]));
    }
    CHECK(harness_pattern_ok(p[1], 64, 1));
    fl_allocator_destroy(a);
}

static void test_every_allocator(void)
{
    for (int t = 0; t < FL_ALLOCATOR_TYPE_COUNT; t++) check_allocator((fl_allocator_type)t);
}

/* Every region kind of the interface, with and without debug options. */
static void check_interface(uint32_t debug)
{
    fl_memory_config c = small_config();
    c.debug = debug;
    fl_memory *m = make_memory(&c);
    static const fl_memory_type types[] = {FL_MEMORY_SYSTEM, FL_MEMORY_POOL,    FL_MEMORY_TEMPORARY,
                                           FL_MEMORY_STACK,  FL_MEMORY_NETWORK, FL_MEMORY_VIDEO};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        fl_allocation a[3];
        for (int k = 0; k < 3; k++) {
            CHECK_OK(fl_memory_allocate_typed(m, 48, types[i], 0, FL_FLAG_NONE, &a[k]));
            harness_fill(a[k].ptr, 48, (uint64_t)k);
        }
        CHECK_OK(fl_memory_deallocate(m, a[2].ptr));
        CHECK_UNCHANGED(m, fl_memory_deallocate(m, a[2].ptr), FL_ERR_INVALID_PARAMETERS);
        CHECK_UNCHANGED(m, fl_memory_deallocate(m, (unsigned char *)a[1].ptr + 16), FL_ERR_INVALID_PARAMETERS);
        int local = 0;
        CHECK_UNCHANGED(m, fl_memory_deallocate(m, &local), FL_ERR_INVALID_PARAMETERS);
        CHECK_UNCHANGED(m, fl_memory_deallocate(m, NULL), FL_ERR_INVALID_PARAMETERS);
        if (types[i] != FL_MEMORY_STACK) {
            /* An older allocation freed twice: exact in every region, the linear one too. */
            CHECK_OK(fl_memory_deallocate(m, a[0].ptr));
            CHECK_UNCHANGED(m, fl_memory_deallocate(m, a[0].ptr), FL_ERR_INVALID_PARAMETERS);
            CHECK(!fl_memory_is_valid_pointer(m, a[0].ptr));
        } else {
            CHECK_STATUS(fl_memory_deallocate(m, a[0].ptr), FL_ERR_INVALID_STATE); /* not the top */
        }
        CHECK(harness_pattern_ok(a[1].ptr, 48, 1));
        CHECK_OK(fl_memory_validate(m));
        check_identities(m);
    }
    fl_memory_destroy(m);
}

static void test_interface_plain(void) { check_interface(0); }
static void test_interface_debug(void)
{
    fl_memory_config c = small_config();
    c.debug = FL_DEBUG_ALL;
    fl_memory *m = NULL;
    fl_status st = fl_memory_create(&c, &m);
    fl_memory_destroy(m);
    if (st == FL_ERR_NOT_SUPPORTED) return; /* FLMEM_DEBUG=OFF */
    check_interface(FL_DEBUG_ALL);
}

int main(void)
{
    RUN(test_every_allocator);
    RUN(test_interface_plain);
    RUN(test_interface_debug);
    return harness_finish();
}
