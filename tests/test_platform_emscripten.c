/*
 * The Web platform table (src/platform/emscripten.c), built and run only on Emscripten
 * (under node). This program is linked with its own, smaller heap cap (FLMEM_TEST_HEAP_MAX,
 * tests/CMakeLists.txt) so that it can grow the linear memory all the way to it quickly:
 * - the table's shape: pages and heap, no release_pages, no shared memory, no pressure
 *   stall, locks and condition variables exactly when the build has threads;
 * - pages zeroed (recycled ones too) and aligned to the 4 KiB page; heap alignment;
 * - physical_memory is the heap's maximum; system_memory's total is the same, and its
 *   available bytes are total - (break - malloc's free bytes), move with every allocation,
 *   shrink step by step as the memory grows toward the cap (near zero when malloc refuses)
 *   and come back when the blocks are freed;
 * - now_ns is monotonic and agrees with a sleep;
 * - allocators take their pages and heap blocks from this table.
 */
#define _GNU_SOURCE 1 /* sbrk, nanosleep */
#include "harness.h"

#include "core/core.h"
#include "platform/platform.h"

#include <emscripten/emscripten.h>
#include <emscripten/heap.h>
#include <emscripten/threading.h>
#include <errno.h>
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
#define MS ((uint64_t)1000000) /* nanoseconds */

static const fl_platform_hooks *web(void) { return fl_platform_default(); }

static int all_bytes_are(const void *p, size_t n, unsigned char value)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != value) return 0;
    return 1;
}

/* Available bytes as the platform reports them; the check fails when it cannot. */
static uint64_t available_now(uint64_t *total)
{
    uint64_t available = 0, t = 0;
    CHECK(fli_system_memory(web(), &available, &t));
    if (total != NULL) *total = t;
    return available;
}

/* ---- the table ------------------------------------------------------------------------------ */

static void test_table_shape(void)
{
    const fl_platform_hooks *p = web();
    CHECK(p != NULL && p == fl_platform_default() && p != fli_platform_freestanding());
    CHECK(fli_page_size(p) == FL_ALIGN_PAGE);
    CHECK(fli_has_pages(p) && p->release_pages == NULL);
    CHECK(fli_has_heap(p));
    CHECK(!fli_has_shared(p) && p->shared_map == NULL && p->shared_unmap == NULL);
    CHECK(p->pressure_stall == NULL);
    CHECK(p->system_memory != NULL && p->physical_memory != NULL && p->now_ns != NULL);
    /* Locks are pthreads in a -pthread build and absent otherwise (stubs would not lock). */
    bool threads = emscripten_has_threading_support() != 0;
    CHECK(fli_has_locks(p) == threads && fli_has_conds(p) == threads);
    printf("web table: threads %s, heap max %zu, heap now %zu\n", threads ? "yes" : "no", emscripten_get_heap_max(),
           emscripten_get_heap_size());
}

static void test_pages(void)
{
    const fl_platform_hooks *p = web();
    size_t page = fli_page_size(p);
    unsigned char *a = (unsigned char *)fli_map_pages(p, page);
    unsigned char *b = (unsigned char *)fli_map_pages(p, 3 * MIB);
    CHECK(a != NULL && b != NULL && a != b);
    CHECK(fli_is_aligned(a, page) && fli_is_aligned(b, page));
    CHECK(all_bytes_are(a, page, 0) && all_bytes_are(b, 3 * MIB, 0));
    CHECK((uintptr_t)a + page <= (uintptr_t)b || (uintptr_t)b + 3 * MIB <= (uintptr_t)a);

    /* No memory goes back: release answers false and leaves the bytes alone. */
    memset(a, 0x5A, page);
    CHECK(!fli_release_pages(p, a, page));
    CHECK(all_bytes_are(a, page, 0x5A));

    /* Pages given back are reused by malloc; whatever map hands out next reads zero,
     * even where it overlaps the dirty bytes of the pages unmapped just before. */
    memset(b, 0xC3, 3 * MIB);
    fli_unmap_pages(p, b, 3 * MIB);
    unsigned char *c = (unsigned char *)fli_map_pages(p, 3 * MIB);
    CHECK(c != NULL && fli_is_aligned(c, page));
    CHECK(all_bytes_are(c, 3 * MIB, 0));
    fli_unmap_pages(p, c, 3 * MIB);
    fli_unmap_pages(p, a, page);

    /* A size past the heap's maximum is refused, not a trap. */
    CHECK(fli_map_pages(p, fli_align_down(emscripten_get_heap_max(), page)) == NULL);
}

static void test_heap(void)
{
    const fl_platform_hooks *p = web();
    static const size_t sizes[] = {1, 24, 1000, 70000};
    for (size_t alignment = sizeof(void *); alignment <= FL_ALIGN_MAX; alignment *= 2) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            unsigned char *block = (unsigned char *)fli_heap_alloc(p, sizes[k], alignment);
            CHECK(block != NULL);
            CHECK_MSG(fli_is_aligned(block, alignment), "%p not aligned to %zu", (void *)block, alignment);
            harness_fill(block, sizes[k], alignment + k);
            CHECK(harness_pattern_ok(block, sizes[k], alignment + k));
            fli_heap_free(p, block);
        }
    }
    CHECK(fli_heap_alloc(p, emscripten_get_heap_max(), 16) == NULL);
}

/* ---- memory facts ---------------------------------------------------------------------------- */

static void test_physical_memory_is_the_heap_cap(void)
{
    uint64_t physical = fli_physical_memory(web());
    CHECK(physical == (uint64_t)emscripten_get_heap_max());
    CHECK_MSG(physical == (uint64_t)FLMEM_TEST_HEAP_MAX, "heap max %llu, linked with -sMAXIMUM_MEMORY=%llu",
              (unsigned long long)physical, (unsigned long long)FLMEM_TEST_HEAP_MAX);
    CHECK(physical % fli_page_size(web()) == 0);
    CHECK(emscripten_get_heap_size() <= emscripten_get_heap_max());

    /* The system allocator's default budget follows it. */
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_SYSTEM;
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    CHECK_EQ_SIZE(s.total_capacity, (size_t)physical);
    fl_allocator_destroy(a);
}

static void test_available_is_what_malloc_can_still_hand_out(void)
{
    /* Nothing else runs now, so the platform's reading and this one see the same heap. */
    uint64_t total = 0;
    uint64_t available = available_now(&total);
    struct mallinfo info = mallinfo();
    uint64_t in_use = (uint64_t)(uintptr_t)sbrk(0) - (uint64_t)(unsigned)info.fordblks;
    CHECK(total == (uint64_t)emscripten_get_heap_max());
    CHECK_MSG(available == total - in_use, "available %llu, total %llu, in use %llu", (unsigned long long)available,
              (unsigned long long)total, (unsigned long long)in_use);
    /* The static data and the 5 MiB stack are in use from the start. */
    CHECK(available < total - 5 * MIB && available > total / 2);
    printf("system memory at start: %llu of %llu bytes available\n", (unsigned long long)available,
           (unsigned long long)total);
}

static void test_available_moves_with_allocations(void)
{
    enum { BLOCKS = 4 };
    const size_t size = 12 * MIB;
    const size_t slack = 64 * KIB; /* malloc's headers and rounding */
    uint64_t before = available_now(NULL);
    size_t heap_before = emscripten_get_heap_size();
    void *blocks[BLOCKS];
    uint64_t last = before;
    for (int i = 0; i < BLOCKS; i++) {
        blocks[i] = fli_heap_alloc(web(), size, 16); /* malloc itself: the compiler may drop it */
        CHECK(blocks[i] != NULL);
        memset(blocks[i], i + 1, size);
        uint64_t now = available_now(NULL);
        CHECK_MSG(now <= last - size && now + slack >= last - size, "available %llu -> %llu after %zu bytes",
                  (unsigned long long)last, (unsigned long long)now, size);
        last = now;
    }
    CHECK(emscripten_get_heap_size() > heap_before); /* 48 MiB do not fit the 32 MiB start */

    /* Freed blocks are malloc's to reuse: available comes back although the memory stays. */
    size_t heap_grown = emscripten_get_heap_size();
    for (int i = 0; i < BLOCKS; i++) fli_heap_free(web(), blocks[i]);
    uint64_t after = available_now(NULL);
    CHECK(emscripten_get_heap_size() == heap_grown);
    CHECK_MSG(after + slack >= before && after <= before + slack, "available %llu before, %llu after freeing",
              (unsigned long long)before, (unsigned long long)after);
}

/* Grows the heap step by step until malloc refuses: available falls with every step, the
 * share of the total still available (1 - pressure) with it, and it is nearly gone at the
 * end; the memory is then usable again. */
static void test_available_shrinks_toward_the_cap(void)
{
    enum { MAX_STEPS = 4096 };
    static void *blocks[MAX_STEPS];
    const size_t step = 4 * MIB;
    uint64_t total = 0;
    uint64_t start = available_now(&total);
    uint64_t last = start;
    size_t heap_last = emscripten_get_heap_size();
    size_t steps = 0;
    while (steps < MAX_STEPS) {
        void *block = malloc(step);
        if (block == NULL) break;
        blocks[steps++] = block;
        ((unsigned char *)block)[step - 1] = 1; /* touch it: it must really be there */
        uint64_t now = available_now(NULL);
        CHECK_MSG(now + step <= last, "step %zu: available %llu -> %llu", steps, (unsigned long long)last,
                  (unsigned long long)now);
        CHECK((double)now / (double)total < (double)last / (double)total);
        CHECK(emscripten_get_heap_size() >= heap_last);
        last = now;
        heap_last = emscripten_get_heap_size();
    }
    CHECK(steps < MAX_STEPS);
    size_t expected_steps = (size_t)(start / step);
    CHECK_MSG(steps + 1 >= expected_steps && steps <= expected_steps, "%zu steps of %zu bytes from %llu available",
              steps, step, (unsigned long long)start);
    /* malloc refused a step: less than two steps are left, and the heap is at its cap. */
    CHECK_MSG(last < 2 * step, "%llu bytes still available when malloc refused %zu", (unsigned long long)last, step);
    CHECK(emscripten_get_heap_size() + 2 * step > emscripten_get_heap_max());
    printf("grew to %zu of %zu bytes in %zu steps; %llu bytes available at the cap\n", emscripten_get_heap_size(),
           emscripten_get_heap_max(), steps, (unsigned long long)last);

    /* Page mappings and heap blocks are refused at the cap too, and work again after. */
    CHECK(fli_map_pages(web(), 2 * step) == NULL);
    CHECK(fli_heap_alloc(web(), 2 * step, 64) == NULL);
    for (size_t i = 0; i < steps; i++) free(blocks[i]);
    uint64_t after = available_now(NULL);
    CHECK(after + 64 * KIB >= start);
    void *pages = fli_map_pages(web(), 2 * step);
    CHECK(pages != NULL && all_bytes_are(pages, 2 * step, 0));
    fli_unmap_pages(web(), pages, 2 * step);
}

/* ---- time ------------------------------------------------------------------------------------ */

static void test_clock(void)
{
    const fl_platform_hooks *p = web();
    uint64_t previous = fli_now_ns(p);
    CHECK(previous > 0);
    for (int i = 0; i < 100000; i++) {
        uint64_t now = fli_now_ns(p);
        CHECK(now >= previous);
        previous = now;
    }
    double js_before = emscripten_get_now();
    uint64_t before = fli_now_ns(p);
    struct timespec t = {0, 30 * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
    uint64_t slept = fli_now_ns(p) - before;
    double js_slept_ms = emscripten_get_now() - js_before;
    CHECK_MSG(slept >= 30 * MS && slept < 5000 * MS, "30 ms of sleep measured as %llu ns", (unsigned long long)slept);
    /* The same clock as performance.now(), to within a millisecond. */
    CHECK(js_slept_ms * 1e6 + 1e6 >= (double)slept && (double)slept + 1e6 >= js_slept_ms * 1e6);
}

/* ---- allocators on this table ------------------------------------------------------------------ */

static void test_allocators_use_the_web_table(void)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_BUDDY;
    cfg.size = 2 * MIB;
    cfg.thread_safe = emscripten_has_threading_support() != 0;
    uint64_t before = available_now(NULL);
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a)); /* 2 MiB of pages from malloc */
    CHECK(available_now(NULL) + 2 * MIB <= before);
    void *block = NULL;
    CHECK_OK(fl_allocator_allocate(a, 1000, 0, &block));
    harness_fill(block, 1000, 7);
    CHECK(harness_pattern_ok(block, 1000, 7));
    CHECK_OK(fl_allocator_deallocate(a, block));
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);

    /* The system allocator: small blocks from the heap, large ones as pages. */
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_SYSTEM;
    cfg.size = 64 * MIB;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    void *small = NULL, *large = NULL;
    CHECK_OK(fl_allocator_allocate(a, 100, 0, &small));
    CHECK_OK(fl_allocator_allocate(a, 5 * MIB, FL_ALIGN_PAGE, &large));
    CHECK(fli_is_aligned(large, FL_ALIGN_PAGE));
    memset(large, 0xAB, 5 * MIB);
    CHECK(fl_allocator_owns(a, small) && fl_allocator_owns(a, large));
    CHECK_OK(fl_allocator_deallocate(a, large));
    CHECK_OK(fl_allocator_deallocate(a, small));
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
    CHECK(available_now(NULL) + 64 * KIB >= before);
}

int main(void)
{
    RUN(test_table_shape);
    RUN(test_pages);
    RUN(test_heap);
    RUN(test_physical_memory_is_the_heap_cap);
    RUN(test_available_is_what_malloc_can_still_hand_out);
    RUN(test_available_moves_with_allocations);
    RUN(test_available_shrinks_toward_the_cap);
    RUN(test_clock);
    RUN(test_allocators_use_the_web_table);
    return harness_finish();
}
