/* Free-list hardening (CMake -DFLMEM_HARDEN_FREELIST=ON; scripts/test.sh builds its asan
 * stage that way): a write after free into a free block's links is refused with
 * FL_ERR_INVALID_STATE by the allocation that would take the block, by the frees that would
 * merge with it and by validate, with nothing changed; the links are stored encoded. In a
 * default build the links are plain pointers, which is checked too. */
#include "harness.h"

#include "core/poison.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HEAP_BYTES ((size_t)64 << 10)

static fl_allocator *make(void *buffer)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_FREELIST;
    cfg.buffer = buffer;
    cfg.size = HEAP_BYTES;
    fl_allocator *a = NULL;
    CHECK_STATUS(fl_allocator_create(&cfg, &a), FL_OK);
    return a;
}

static fl_allocator_stats stats_of(const fl_allocator *a)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    return s;
}

/* Neighbours A, B, C of one size class with B freed; `link` (0: next, 1: previous) of B is
 * what the test overwrites.
 * - next: B is alone in its list, so both its links are "none".
 * - previous: a list's head keeps no previous link (list_pop_head), so B must not be the
 *   head: D (after C, kept apart from the rest of the heap by E) is freed after B and heads
 *   the list, and B's previous link points at it. Taking D then checks B's link back. */
static void run_case(int link)
{
    void *buffer = malloc(HEAP_BYTES);
    CHECK(buffer != NULL);
    fl_allocator *a = make(buffer);
    void *pa = NULL, *pb = NULL, *pc = NULL, *pd = NULL, *pe = NULL;
    CHECK_STATUS(fl_allocator_allocate(a, 64, 0, &pa), FL_OK);
    CHECK_STATUS(fl_allocator_allocate(a, 64, 0, &pb), FL_OK);
    CHECK_STATUS(fl_allocator_allocate(a, 64, 0, &pc), FL_OK);
    CHECK_STATUS(fl_allocator_allocate(a, 64, 0, &pd), FL_OK);
    CHECK_STATUS(fl_allocator_allocate(a, 64, 0, &pe), FL_OK);
    memset(pa, 0xAA, 64);
    memset(pc, 0xCC, 64);
    CHECK_STATUS(fl_allocator_deallocate(a, pb), FL_OK);
    if (link == 1) CHECK_STATUS(fl_allocator_deallocate(a, pd), FL_OK);
    CHECK_STATUS(fl_allocator_validate(a), FL_OK);

    uintptr_t words[2];
    /* Freed blocks are poisoned for memory checkers, which would report this write after
     * free themselves; the hardening is for the builds without them. Open the links. */
    FLI_OPEN(pb, sizeof words);
    memcpy(words, pb, sizeof words); /* the links live in the free block's first two words */
#ifdef FLMEM_HARDEN_FREELIST
    /* "None" is stored XOR the heap's secret, never as 0. */
    CHECK(words[0] != 0 && words[1] != 0);
#else
    CHECK(words[0] == 0 && (link == 1 ? words[1] == (uintptr_t)pd - sizeof(size_t) : words[1] == 0));
#endif

    /* The write after free. */
    uintptr_t bad = (uintptr_t)0x4141414141414141u;
    memcpy((unsigned char *)pb + link * sizeof(uintptr_t), &bad, sizeof bad);
#ifdef FLMEM_HARDEN_FREELIST
    fl_allocator_stats before = stats_of(a);
    void *p = NULL;
    /* The allocation that would take B (next) or D, whose successor B links back (prev). */
    CHECK_STATUS(fl_allocator_allocate(a, 64, 0, &p), FL_ERR_INVALID_STATE);
    CHECK(p == NULL);
    CHECK(strstr(fl_last_error()->message, "corrupted") != NULL);
    /* The frees that would merge with B, from above and from below. */
    CHECK_STATUS(fl_allocator_deallocate(a, pa), FL_ERR_INVALID_STATE);
    CHECK_STATUS(fl_allocator_deallocate(a, pc), FL_ERR_INVALID_STATE);
    fl_allocator_stats after = stats_of(a);
    CHECK_EQ_SIZE(after.used_bytes, before.used_bytes);
    CHECK_EQ_SIZE(after.allocation_count, before.allocation_count);
    CHECK_EQ_SIZE(after.total_allocations, before.total_allocations);
    CHECK_EQ_SIZE(after.total_deallocations, before.total_deallocations);
    CHECK(fl_allocator_owns(a, pa) && fl_allocator_owns(a, pc));
    size_t usable = 0;
    CHECK_STATUS(fl_allocator_usable_size(a, pa, &usable), FL_OK); /* still live */
    CHECK_STATUS(fl_allocator_usable_size(a, pc, &usable), FL_OK);
    CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
    /* Other size classes are served meanwhile (their lists are intact). */
    void *big = NULL;
    CHECK_STATUS(fl_allocator_allocate(a, 4096, 0, &big), FL_OK);
    CHECK_STATUS(fl_allocator_deallocate(a, big), FL_OK);
#endif
    /* Undo the damage: everything works again, contents intact. */
    memcpy(pb, words, sizeof words);
    CHECK_STATUS(fl_allocator_validate(a), FL_OK);
    unsigned char *bytes = pa;
    for (size_t i = 0; i < 64; i++) CHECK(bytes[i] == 0xAA);
    bytes = pc;
    for (size_t i = 0; i < 64; i++) CHECK(bytes[i] == 0xCC);
    void *again = NULL;
    CHECK_STATUS(fl_allocator_allocate(a, 64, 0, &again), FL_OK);
    CHECK(again == (link == 1 ? pd : pb)); /* the head of the class's list */
    if (link == 1) {
        void *then = NULL;
        CHECK_STATUS(fl_allocator_allocate(a, 64, 0, &then), FL_OK);
        CHECK(then == pb); /* B, now the head, whose previous link went stale: not read */
        CHECK_STATUS(fl_allocator_validate(a), FL_OK);
        CHECK_STATUS(fl_allocator_deallocate(a, then), FL_OK);
    }
    CHECK_STATUS(fl_allocator_deallocate(a, pa), FL_OK);
    CHECK_STATUS(fl_allocator_deallocate(a, pc), FL_OK);
    CHECK_STATUS(fl_allocator_deallocate(a, again), FL_OK);
    CHECK_STATUS(fl_allocator_deallocate(a, pe), FL_OK);
    if (link == 0) CHECK_STATUS(fl_allocator_deallocate(a, pd), FL_OK);
    CHECK_STATUS(fl_allocator_validate(a), FL_OK);
    CHECK_EQ_SIZE(stats_of(a).used_bytes, 0u);
    fl_allocator_destroy(a);
    free(buffer);
}

/* A list head's previous link is never read or written through, so a write after free
 * into it harms nothing: validate passes and the block is handed out as usual. */
static void test_head_prev_link_unused(void)
{
    void *buffer = malloc(HEAP_BYTES);
    CHECK(buffer != NULL);
    fl_allocator *a = make(buffer);
    void *pa = NULL, *pb = NULL, *pc = NULL;
    CHECK_STATUS(fl_allocator_allocate(a, 64, 0, &pa), FL_OK);
    CHECK_STATUS(fl_allocator_allocate(a, 64, 0, &pb), FL_OK);
    CHECK_STATUS(fl_allocator_allocate(a, 64, 0, &pc), FL_OK);
    CHECK_STATUS(fl_allocator_deallocate(a, pb), FL_OK); /* B heads its list alone */
    uintptr_t bad = (uintptr_t)0x4141414141414141u;
    FLI_OPEN(pb, 2 * sizeof(uintptr_t));
    memcpy((unsigned char *)pb + sizeof(uintptr_t), &bad, sizeof bad);
    CHECK_STATUS(fl_allocator_validate(a), FL_OK);
    void *again = NULL;
    CHECK_STATUS(fl_allocator_allocate(a, 64, 0, &again), FL_OK);
    CHECK(again == pb);
    CHECK_STATUS(fl_allocator_deallocate(a, pa), FL_OK);
    CHECK_STATUS(fl_allocator_deallocate(a, pc), FL_OK);
    CHECK_STATUS(fl_allocator_deallocate(a, again), FL_OK);
    CHECK_STATUS(fl_allocator_validate(a), FL_OK);
    CHECK_EQ_SIZE(stats_of(a).used_bytes, 0u);
    fl_allocator_destroy(a);
    free(buffer);
}

static void test_next_link_overwritten(void) { run_case(0); }
static void test_prev_link_overwritten(void) { run_case(1); }

int main(void)
{
#ifdef FLMEM_HARDEN_FREELIST
    printf("free-list hardening compiled in\n");
#else
    printf("free-list hardening not compiled in (FLMEM_HARDEN_FREELIST=OFF): links must be plain\n");
#endif
    RUN(test_next_link_overwritten);
    RUN(test_prev_link_overwritten);
    RUN(test_head_prev_link_unused);
    return harness_finish();
}
