/*
 * The system strategy (src/allocators/system.c): the budget, heap and page blocks, every
 * alignment, the ownership table growing and shrinking, bad input, platform refusals, and
 * that reset and destroy give back every heap block and page (counted by the fake
 * platform every allocator here runs on, tests/fake_platform.h, which also fails calls on
 * demand; LeakSanitizer checks the heap again under -fsanitize=address).
 */
#include "harness.h"

#include "allocators/allocator.h"
#include "fake_platform.h"
#include "platform/platform.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
#define LARGE_THRESHOLD (256 * KIB) /* system.c: blocks from here on are mapped */

/* Every allocator of this file calls the platform through this fake (set up in main). */
static fake_platform fake;

static size_t host_page_size(void) { return fli_page_size(fl_platform_default()); }

static size_t large_threshold(void)
{
    return host_page_size() > LARGE_THRESHOLD ? host_page_size() : LARGE_THRESHOLD;
}

/* What system.c accounts for a block: the rounded heap size, or the whole mapping. */
static size_t expected_consumed(size_t size, size_t alignment)
{
    size_t page = host_page_size();
    if (alignment == 0) alignment = FL_ALIGN_DEFAULT;
    if (size < large_threshold() && alignment < page) {
        size_t heap_alignment = alignment < sizeof(void *) ? sizeof(void *) : alignment;
        return (size + heap_alignment - 1) / heap_alignment * heap_alignment;
    }
    size_t pages = (size + page - 1) / page * page;
    return pages + (alignment > page ? alignment - page : 0);
}

/* Equal up to rounding: x87 (i386) may hold one side in extended precision. */
static int same_ratio(double x, double y)
{
    return x - y < 1e-12 && y - x < 1e-12;
}

static fl_allocator *make_system(size_t budget, bool thread_safe)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_SYSTEM;
    cfg.size = budget;
    cfg.thread_safe = thread_safe;
    cfg.platform = &fake.hooks;
    fl_allocator *a = NULL;
    if (fl_allocator_create(&cfg, &a) != FL_OK) return NULL;
    return a;
}

static fl_allocator_stats stats_of(const fl_allocator *a)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    return s;
}

/* The statistics are what they were, except one more failed allocation when `failed`. */
static void check_stats_unchanged(const fl_allocator *a, const fl_allocator_stats *before, int failed)
{
    fl_allocator_stats now = stats_of(a);
    CHECK(now.failed_allocations == before->failed_allocations + (uint64_t)failed);
    now.failed_allocations = before->failed_allocations;
    CHECK(memcmp(&now, before, sizeof now) == 0);
}

static void test_create_rules(void)
{
    size_t pages_before = fake_live_map_bytes(&fake), heap_before = fake_live_heap_blocks(&fake);
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_SYSTEM;
    cfg.platform = &fake.hooks;
    char buffer[4096];
    cfg.buffer = buffer;
    cfg.size = sizeof buffer;
    fl_allocator *a = NULL;
    CHECK_STATUS(fl_allocator_create(&cfg, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(a == NULL);
    CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages_before);

    /* Budget 0: the machine's memory, capped at half the address space. */
    a = make_system(0, false);
    CHECK(a != NULL);
    uint64_t physical = fli_physical_memory(fl_platform_default());
    size_t expected = physical == 0 || physical > (uint64_t)(SIZE_MAX / 2) ? SIZE_MAX / 2 : (size_t)physical;
    CHECK_EQ_SIZE(stats_of(a).total_capacity, expected);
    CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages_before + host_page_size()); /* the control page only */
    fl_allocator_destroy(a);

    a = make_system(12345, false);
    CHECK(a != NULL);
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.total_capacity, 12345);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_EQ_SIZE(s.free_bytes, 12345);
    CHECK_EQ_SIZE(s.allocation_overhead, 0);
    CHECK_EQ_SIZE(s.largest_free_block, 12344 / sizeof(void *) * sizeof(void *));
    CHECK(s.fragmentation_ratio == 0.0 && s.allocation_efficiency == 1.0 && !s.supports_defrag);
    CHECK(strcmp(fl_allocator_name(a), "System") == 0);
    CHECK(fl_allocator_kind(a) == FL_ALLOCATOR_SYSTEM);
    fl_marker m = fl_allocator_mark(a);
    CHECK(m.offset == 0 && m.count == 0 && m.last == 0);
    CHECK_STATUS(fl_allocator_rewind(a, m), FL_ERR_NOT_SUPPORTED);
    CHECK_OK(fl_allocator_validate(a));
    harness_check_stats_identities(a);
    fl_allocator_destroy(a);
    CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages_before);
    CHECK_EQ_SIZE(fake_live_heap_blocks(&fake), heap_before);
}

static void test_budget_is_exact(void)
{
    fl_allocator *a = make_system(64 * KIB, false);
    CHECK(a != NULL);
    void *blocks[1024];
    for (size_t i = 0; i < 1024; i++) {
        CHECK_OK(fl_allocator_allocate(a, 64, 0, &blocks[i]));
        CHECK_EQ_SIZE(stats_of(a).used_bytes, (i + 1) * 64);
    }
    CHECK_EQ_SIZE(stats_of(a).free_bytes, 0);
    CHECK_EQ_SIZE(stats_of(a).largest_free_block, 0);

    /* One byte more fails, names both numbers, and changes nothing else. */
    fl_allocator_stats before = stats_of(a);
    void *p = NULL;
    CHECK_STATUS(fl_allocator_allocate(a, 1, 1, &p), FL_ERR_OUT_OF_MEMORY);
    CHECK(strstr(fl_last_error()->message, "65536") != NULL);
    CHECK(p == NULL);
    check_stats_unchanged(a, &before, 1);

    CHECK_OK(fl_allocator_deallocate(a, blocks[7]));
    CHECK_OK(fl_allocator_allocate(a, 64, 64, &blocks[7]));
    CHECK_STATUS(fl_allocator_allocate(a, 1, 1, &p), FL_ERR_OUT_OF_MEMORY);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);

    /* A budget that is no multiple of a word: largest_free is what alignment 1 can get. */
    a = make_system(1001, false);
    CHECK(a != NULL);
    size_t largest = stats_of(a).largest_free_block;
    CHECK_EQ_SIZE(largest, 1000 / sizeof(void *) * sizeof(void *));
    CHECK_OK(fl_allocator_allocate(a, largest, 1, &p));
    CHECK_EQ_SIZE(stats_of(a).used_bytes, largest);
    CHECK_EQ_SIZE(stats_of(a).largest_free_block, 0);
    CHECK_STATUS(fl_allocator_allocate(a, 1, 1, &p), FL_ERR_OUT_OF_MEMORY);
    harness_check_stats_identities(a);
    fl_allocator_destroy(a);

    /* Past the threshold requests round to pages, and so does largest_free. */
    a = make_system(large_threshold() + 3 * host_page_size() + 100, false);
    CHECK(a != NULL);
    largest = stats_of(a).largest_free_block;
    CHECK_EQ_SIZE(largest, large_threshold() + 3 * host_page_size());
    CHECK_OK(fl_allocator_allocate(a, largest, 1, &p));
    memset(p, 0xA5, largest);
    CHECK_EQ_SIZE(stats_of(a).used_bytes, largest);
    CHECK_EQ_SIZE(stats_of(a).free_bytes, 100);
    CHECK_EQ_SIZE(stats_of(a).largest_free_block, 100 / sizeof(void *) * sizeof(void *));
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
}

static void test_small_and_large_blocks(void)
{
    static const size_t sizes[] = {1, 7, 8, 100, 4095, 4096, 100000, LARGE_THRESHOLD - 1, LARGE_THRESHOLD,
                                   LARGE_THRESHOLD + 1, 3 * MIB + 5};
    enum { N = sizeof sizes / sizeof sizes[0] };
    size_t heap_before = fake_live_heap_blocks(&fake);
    fl_allocator *a = make_system(0, false);
    CHECK(a != NULL);
    size_t pages_after_create = fake_live_map_bytes(&fake);
    void *blocks[N];
    size_t used = 0, heap_blocks = 0, mapped_bytes = 0;
    uint64_t requested = 0;
    for (size_t i = 0; i < N; i++) {
        size_t alignment = i % 2 ? 1 : 0;
        CHECK_OK(fl_allocator_allocate(a, sizes[i], alignment, &blocks[i]));
        size_t consumed = expected_consumed(sizes[i], alignment);
        used += consumed;
        requested += sizes[i];
        if (sizes[i] < large_threshold()) heap_blocks++;
        else mapped_bytes += consumed;
        size_t usable = 0;
        CHECK_OK(fl_allocator_usable_size(a, blocks[i], &usable));
        CHECK_EQ_SIZE(usable, consumed); /* heap: the rounded size; pages: whole pages, no head */
        harness_fill(blocks[i], usable, i);
        CHECK(fl_allocator_owns(a, blocks[i]));
        CHECK_EQ_SIZE(stats_of(a).used_bytes, used);
    }
    CHECK_EQ_SIZE(fake_live_heap_blocks(&fake), heap_before + heap_blocks);
    CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages_after_create + mapped_bytes);
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.allocation_count, N);
    CHECK(same_ratio(s.allocation_efficiency, (double)requested / (double)used));
    CHECK_OK(fl_allocator_validate(a));
    harness_check_stats_identities(a);
    for (size_t i = N; i-- > 0;) {
        size_t usable = 0;
        CHECK_OK(fl_allocator_usable_size(a, blocks[i], &usable));
        CHECK(harness_pattern_ok(blocks[i], usable, i));
        CHECK_OK(fl_allocator_deallocate(a, blocks[i]));
        CHECK(!fl_allocator_owns(a, blocks[i]));
    }
    s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_EQ_SIZE(s.peak_used_bytes, used);
    CHECK_EQ_SIZE(fake_live_heap_blocks(&fake), heap_before);
    CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages_after_create);
    fl_allocator_destroy(a);
}

static void test_alignments(void)
{
    static const size_t sizes[] = {1, 24, 5000, 300000};
    fl_allocator *a = make_system(0, false);
    CHECK(a != NULL);
    void *blocks[17 * 4];
    size_t n = 0, used = 0;
    for (size_t alignment = 1; alignment <= FL_ALIGN_MAX; alignment *= 2) {
        for (size_t k = 0; k < 4; k++) {
            void *p = NULL;
            CHECK_OK(fl_allocator_allocate(a, sizes[k], alignment, &p));
            CHECK_MSG(((uintptr_t)p & (alignment - 1)) == 0, "%p not aligned to %zu", p, alignment);
            size_t consumed = expected_consumed(sizes[k], alignment), usable = 0;
            used += consumed;
            CHECK_EQ_SIZE(stats_of(a).used_bytes, used);
            CHECK_OK(fl_allocator_usable_size(a, p, &usable));
            CHECK(usable >= sizes[k] && usable <= consumed);
            /* An over-aligned mapping keeps its head: the block runs to the mapping's end. */
            if (alignment > host_page_size()) CHECK((((uintptr_t)p + usable) & (host_page_size() - 1)) == 0);
            memset(p, (int)(n & 0xFF), usable);
            blocks[n++] = p;
        }
    }
    CHECK_OK(fl_allocator_validate(a));
    harness_check_stats_identities(a);
    for (size_t i = 0; i < n; i++) {
        CHECK(((unsigned char *)blocks[i])[0] == (unsigned char)(i & 0xFF));
        CHECK_OK(fl_allocator_deallocate(a, blocks[i]));
    }
    CHECK_EQ_SIZE(stats_of(a).used_bytes, 0);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
}

static void shuffle(void **items, size_t n, harness_rng *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = harness_range(rng, 0, i - 1);
        void *t = items[i - 1];
        items[i - 1] = items[j];
        items[j] = t;
    }
}

static void test_table_grows_and_shrinks(void)
{
    enum { N = 30000 };
    void **blocks = (void **)calloc(N, sizeof *blocks);
    CHECK(blocks != NULL);
    harness_rng rng = harness_rng_seeded("table growth", 0x5157E3);
    fl_allocator *a = make_system(0, false);
    CHECK(a != NULL);
    size_t pages_empty = fake_live_map_bytes(&fake);
    for (size_t i = 0; i < N; i++) {
        CHECK_OK(fl_allocator_allocate(a, 16, 0, &blocks[i]));
        if (i % 5000 == 0) CHECK_OK(fl_allocator_validate(a));
    }
    /* 30000 entries at most 70% full: at least 32768 slots, mapped beside the control page. */
    size_t pages_full = fake_live_map_bytes(&fake);
    CHECK(pages_full >= pages_empty + 32768 * 2 * sizeof(void *));
    CHECK_EQ_SIZE(stats_of(a).allocation_count, N);
    CHECK_OK(fl_allocator_validate(a));
    for (size_t i = 0; i < N; i++) CHECK(fl_allocator_owns(a, blocks[i]));

    shuffle(blocks, N, &rng);
    for (size_t i = 0; i < N; i++) {
        CHECK_OK(fl_allocator_deallocate(a, blocks[i]));
        if (i % 3000 == 0) {
            CHECK_OK(fl_allocator_validate(a));
            /* Deletion must keep every later entry reachable. */
            for (size_t j = i + 1; j < N; j += 97) CHECK(fl_allocator_owns(a, blocks[j]));
        }
        if (i == N - N / 50) CHECK(fake_live_map_bytes(&fake) < pages_full); /* shrunk on the way */
    }
    CHECK_OK(fl_allocator_validate(a));
    CHECK_EQ_SIZE(stats_of(a).allocation_count, 0);
    CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages_empty); /* back in the control page */
    fl_allocator_destroy(a);
    free((void *)blocks);
}

static void test_bad_input_changes_nothing(void)
{
    fl_allocator *a = make_system(0, false);
    fl_allocator *other = make_system(0, false);
    CHECK(a != NULL && other != NULL);
    void *small = NULL, *large = NULL, *freed = NULL, *theirs = NULL;
    CHECK_OK(fl_allocator_allocate(a, 100, 0, &small));
    CHECK_OK(fl_allocator_allocate(a, MIB, 0, &large));
    CHECK_OK(fl_allocator_allocate(a, 48, 0, &freed));
    CHECK_OK(fl_allocator_deallocate(a, freed));
    CHECK_OK(fl_allocator_allocate(other, 100, 0, &theirs));
    void *foreign_heap = malloc(64);
    CHECK(foreign_heap != NULL);
    int on_stack = 0;
    size_t pages = fake_live_map_bytes(&fake), heap = fake_live_heap_blocks(&fake);
    fl_allocator_stats before = stats_of(a);

    void *p = NULL;
    CHECK_STATUS(fl_allocator_allocate(a, 0, 0, &p), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 16, 3, &p), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 16, FL_ALIGN_MAX * 2, &p), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 16, 0, NULL), FL_ERR_INVALID_PARAMETERS);
    check_stats_unchanged(a, &before, 0);

    void *bad[] = {freed, theirs, foreign_heap, &on_stack, (char *)small + 1, (char *)small + 8,
                   (char *)large + 1, (char *)large + 4096, (char *)large + MIB - 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t usable = 77;
        CHECK_STATUS(fl_allocator_deallocate(a, bad[i]), FL_ERR_INVALID_PARAMETERS);
        CHECK(strstr(fl_last_error()->message, "not the start of a live block") != NULL);
        CHECK_STATUS(fl_allocator_usable_size(a, bad[i], &usable), FL_ERR_INVALID_PARAMETERS);
        CHECK_EQ_SIZE(usable, 77);
        CHECK(!fl_allocator_owns(a, bad[i]));
        check_stats_unchanged(a, &before, 0);
    }
    CHECK_STATUS(fl_allocator_deallocate(a, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_usable_size(a, small, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_walk(a, NULL, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK(!fl_allocator_owns(a, NULL));
    CHECK(fl_allocator_owns(a, small) && fl_allocator_owns(a, large));
    CHECK_STATUS(fl_allocator_rewind(a, fl_allocator_mark(a)), FL_ERR_NOT_SUPPORTED);
    check_stats_unchanged(a, &before, 0);

    /* Sizes no address space holds: out of memory, nothing else changes. */
    CHECK_STATUS(fl_allocator_allocate(a, SIZE_MAX, 1, &p), FL_ERR_OUT_OF_MEMORY);
    check_stats_unchanged(a, &before, 1);
    before = stats_of(a);
    /* Whole pages that fit, until the over-mapping for the alignment is added. */
    CHECK_STATUS(fl_allocator_allocate(a, SIZE_MAX - 2 * host_page_size() + 1, FL_ALIGN_MAX, &p),
                 FL_ERR_OUT_OF_MEMORY);
    CHECK(strstr(fl_last_error()->message, "address space") != NULL);
    check_stats_unchanged(a, &before, 1);
    before = stats_of(a);
    CHECK_STATUS(fl_allocator_allocate(a, SIZE_MAX / 2 + 1, 0, &p), FL_ERR_OUT_OF_MEMORY);
    check_stats_unchanged(a, &before, 1);
    CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages);
    CHECK_EQ_SIZE(fake_live_heap_blocks(&fake), heap);
    CHECK_OK(fl_allocator_validate(a));

    CHECK_OK(fl_allocator_deallocate(a, small));
    CHECK_STATUS(fl_allocator_deallocate(a, small), FL_ERR_INVALID_PARAMETERS); /* double free */
    CHECK_OK(fl_allocator_deallocate(a, large));
    CHECK_STATUS(fl_allocator_deallocate(a, large), FL_ERR_INVALID_PARAMETERS);
    free(foreign_heap);
    fl_allocator_destroy(a);
    fl_allocator_destroy(other);
}

static void test_platform_refusals(void)
{
    fl_allocator *a = make_system(0, false);
    CHECK(a != NULL);
    size_t pages = fake_live_map_bytes(&fake), heap = fake_live_heap_blocks(&fake);
    fl_allocator_stats before = stats_of(a);
    void *p = NULL;

    fake_fail_nth(&fake, FAKE_HEAP_ALLOC, 1);
    CHECK_STATUS(fl_allocator_allocate(a, 100, 0, &p), FL_ERR_OUT_OF_MEMORY);
    CHECK(strstr(fl_last_error()->message, "heap refused") != NULL);
    check_stats_unchanged(a, &before, 1);
    before = stats_of(a);
    fake_fail_nth(&fake, FAKE_MAP_PAGES, 1);
    CHECK_STATUS(fl_allocator_allocate(a, 2 * MIB, 0, &p), FL_ERR_OUT_OF_MEMORY);
    CHECK(strstr(fl_last_error()->message, "refused to map") != NULL);
    check_stats_unchanged(a, &before, 1);
    CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages);
    CHECK_EQ_SIZE(fake_live_heap_blocks(&fake), heap);

    /* A real refusal: a quarter of a 64-bit address space is more than any machine maps. */
    if (sizeof(size_t) == 8) {
        fl_allocator *huge = make_system(SIZE_MAX / 2, false);
        CHECK(huge != NULL);
        fl_allocator_stats huge_before = stats_of(huge);
        CHECK_STATUS(fl_allocator_allocate(huge, SIZE_MAX / 4, 0, &p), FL_ERR_OUT_OF_MEMORY);
        check_stats_unchanged(huge, &huge_before, 1);
        fl_allocator_destroy(huge);
    }

    /* The ownership table cannot grow: heap blocks map no pages, so the first map call is
     * the table's. The block is given back and the statistics stay. */
    fake_fail_nth(&fake, FAKE_MAP_PAGES, 1);
    fl_status status = FL_OK;
    size_t made = 0;
    for (; made < 100000; made++) {
        before = stats_of(a);
        heap = fake_live_heap_blocks(&fake);
        pages = fake_live_map_bytes(&fake);
        status = fl_allocator_allocate(a, 32, 0, &p);
        if (status != FL_OK) break;
    }
    CHECK_STATUS(status, FL_ERR_OUT_OF_MEMORY);
    CHECK(strstr(fl_last_error()->message, "ownership table") != NULL);
    check_stats_unchanged(a, &before, 1);
    CHECK_EQ_SIZE(fake_live_heap_blocks(&fake), heap);
    CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages);
    CHECK_OK(fl_allocator_validate(a));

    /* The same with a mapped block: its map succeeds, the table's fails, the pages go back. */
    before = stats_of(a);
    fake_fail_nth(&fake, FAKE_MAP_PAGES, 2);
    CHECK_STATUS(fl_allocator_allocate(a, MIB, 0, &p), FL_ERR_OUT_OF_MEMORY);
    check_stats_unchanged(a, &before, 1);
    CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages);
    CHECK_OK(fl_allocator_validate(a));

    /* Disarmed (the countdown fired), the same request succeeds and the table grows. */
    CHECK_OK(fl_allocator_allocate(a, MIB, 0, &p));
    CHECK(fake_live_map_bytes(&fake) > pages + MIB);
    CHECK_EQ_SIZE(stats_of(a).allocation_count, made + 1);
    CHECK_OK(fl_allocator_validate(a));
    fake_fail_nth(&fake, FAKE_MAP_PAGES, 0);
    fake_fail_nth(&fake, FAKE_HEAP_ALLOC, 0);
    fl_allocator_destroy(a);
}

typedef struct walk_tally {
    size_t blocks, bytes;
    const void *wanted;
    size_t wanted_size;
    int wanted_seen;
} walk_tally;

static void tally_block(const void *block, size_t size, bool used, void *user)
{
    walk_tally *t = (walk_tally *)user;
    t->blocks++;
    t->bytes += size;
    if (!used) t->blocks += 1000000; /* the system allocator reports no free blocks */
    const char *start = (const char *)block;
    const char *wanted = (const char *)t->wanted;
    if (wanted >= start && wanted < start + size && size == t->wanted_size) t->wanted_seen++;
}

static void test_walk_reports_every_block(void)
{
    fl_allocator *a = make_system(0, false);
    CHECK(a != NULL);
    void *p = NULL;
    for (size_t i = 0; i < 500; i++) CHECK_OK(fl_allocator_allocate(a, 1 + i * 13, (size_t)1 << (i % 8), &p));
    void *aligned = NULL;
    CHECK_OK(fl_allocator_allocate(a, 10, FL_ALIGN_MAX, &aligned));
    walk_tally t = {0, 0, aligned, expected_consumed(10, FL_ALIGN_MAX), 0};
    CHECK_OK(fl_allocator_walk(a, tally_block, &t));
    CHECK_EQ_SIZE(t.blocks, 501);
    CHECK_EQ_SIZE(t.bytes, stats_of(a).used_bytes); /* each block as the memory it holds */
    CHECK(t.wanted_seen == 1);
    fl_allocator_reset(a);
    walk_tally empty = {0, 0, NULL, 0, 0};
    CHECK_OK(fl_allocator_walk(a, tally_block, &empty));
    CHECK_EQ_SIZE(empty.blocks, 0);
    fl_allocator_destroy(a);
}

static void test_reset_and_destroy_leave_nothing(void)
{
    size_t pages_before = fake_live_map_bytes(&fake), heap_before = fake_live_heap_blocks(&fake);
    fl_allocator *a = make_system(0, false);
    CHECK(a != NULL);
    void *p = NULL;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 5000; i++) CHECK_OK(fl_allocator_allocate(a, 1 + i % 700, 0, &p));
        for (size_t i = 0; i < 20; i++) CHECK_OK(fl_allocator_allocate(a, MIB + i, i % 2 ? 0 : 16 * KIB, &p));
        CHECK(fake_live_heap_blocks(&fake) == heap_before + 5000);
        fl_allocator_stats s = stats_of(a);
        CHECK(s.used_bytes > 20 * MIB);
        fl_allocator_reset(a);
        s = stats_of(a);
        CHECK_EQ_SIZE(s.used_bytes, 0);
        CHECK_EQ_SIZE(s.allocation_count, 0);
        CHECK(s.peak_used_bytes > 20 * MIB);
        CHECK(s.total_allocations == s.total_deallocations);
        CHECK(s.allocation_efficiency == 1.0);
        CHECK_EQ_SIZE(fake_live_heap_blocks(&fake), heap_before);
        CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages_before + host_page_size());
        CHECK_OK(fl_allocator_validate(a));
        harness_check_stats_identities(a);
    }
    /* Destroy with blocks alive, the table mapped, and a big-aligned mapping. */
    for (size_t i = 0; i < 3000; i++) CHECK_OK(fl_allocator_allocate(a, 24, 0, &p));
    CHECK_OK(fl_allocator_allocate(a, 3 * MIB, FL_ALIGN_MAX, &p));
    fl_allocator_destroy(a);
    CHECK_EQ_SIZE(fake_live_heap_blocks(&fake), heap_before);
    CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages_before);
}

static void test_validate_catches_broken_counters(void)
{
    fl_allocator *a = make_system(0, false);
    CHECK(a != NULL);
    void *p = NULL;
    for (size_t i = 0; i < 10; i++) CHECK_OK(fl_allocator_allocate(a, 40, 0, &p));
    CHECK_OK(fl_allocator_validate(a));
    a->counters.used_bytes += 8;
    a->counters.peak_used_bytes += 8;
    CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
    CHECK(strstr(fl_last_error()->message, "consume") != NULL);
    a->counters.used_bytes -= 8;
    a->counters.peak_used_bytes -= 8;
    a->counters.allocation_count++;
    a->counters.total_allocations++;
    CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
    CHECK(strstr(fl_last_error()->message, "table holds 10") != NULL);
    a->counters.allocation_count--;
    a->counters.total_allocations--;
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
}

static void test_statistics(void)
{
    fl_allocator *a = make_system(MIB, false);
    CHECK(a != NULL);
    void *p = NULL, *q = NULL;
    CHECK_OK(fl_allocator_allocate(a, 10, 1, &p));
    size_t word = sizeof(void *);
    size_t consumed = (10 + word - 1) / word * word;
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, consumed);
    CHECK(same_ratio(s.allocation_efficiency, 10.0 / (double)consumed));
    CHECK_OK(fl_allocator_allocate(a, 100, 64, &q));
    s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, consumed + 128);
    CHECK(same_ratio(s.allocation_efficiency, 110.0 / (double)(consumed + 128)));
    /* Budget left past the threshold: what alignment 1 gets is whole pages. */
    CHECK_EQ_SIZE(s.largest_free_block, (MIB - consumed - 128) / host_page_size() * host_page_size());
    CHECK(s.total_allocations == 2 && s.total_deallocations == 0 && s.failed_allocations == 0);
    CHECK_OK(fl_allocator_deallocate(a, q));
    s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, consumed);
    CHECK_EQ_SIZE(s.peak_used_bytes, consumed + 128);
    CHECK(s.total_deallocations == 1);
    harness_check_stats_identities(a);
    fl_allocator_destroy(a);
}

/* ---- threads ------------------------------------------------------------------------------ */

enum { THREADS = 4, THREAD_LIVE = 64 };

typedef struct thread_job {
    fl_allocator *a;
    uint64_t seed, ops;
    int failures;
} thread_job;

static void *hammer(void *arg)
{
    thread_job *job = (thread_job *)arg;
    harness_rng rng = {job->seed};
    void *live[THREAD_LIVE] = {0};
    size_t sizes[THREAD_LIVE] = {0};
    for (uint64_t op = 0; op < job->ops; op++) {
        size_t k = harness_range(&rng, 0, THREAD_LIVE - 1);
        uint64_t id = job->seed * 1000003u + k;
        if (live[k]) {
            if (!harness_pattern_ok(live[k], sizes[k], id)) job->failures++;
            if (fl_allocator_deallocate(job->a, live[k]) != FL_OK) job->failures++;
            live[k] = NULL;
        } else {
            sizes[k] = harness_range(&rng, 0, 99) == 0 ? harness_range(&rng, 256 * KIB, 600 * KIB)
                                                      : harness_range(&rng, 1, 2000);
            if (fl_allocator_allocate(job->a, sizes[k], (size_t)1 << harness_range(&rng, 0, 8), &live[k]) != FL_OK) {
                job->failures++;
                live[k] = NULL;
                continue;
            }
            harness_fill(live[k], sizes[k] < 256 ? sizes[k] : 256, id);
            sizes[k] = sizes[k] < 256 ? sizes[k] : 256;
        }
    }
    for (size_t k = 0; k < THREAD_LIVE; k++)
        if (live[k] && fl_allocator_deallocate(job->a, live[k]) != FL_OK) job->failures++;
    return NULL;
}

static void test_threads(void)
{
    fl_allocator *a = make_system(0, true);
    CHECK(a != NULL);
    pthread_t threads[THREADS];
    thread_job jobs[THREADS];
    uint64_t ops = harness_scaled(40000);
    for (int t = 0; t < THREADS; t++) {
        jobs[t].a = a;
        jobs[t].seed = 0xC0FFEEu + (uint64_t)t;
        jobs[t].ops = ops;
        jobs[t].failures = 0;
        CHECK(pthread_create(&threads[t], NULL, hammer, &jobs[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
    for (int t = 0; t < THREADS; t++) CHECK(jobs[t].failures == 0);
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK(s.total_allocations == s.total_deallocations && s.total_allocations > ops);
    CHECK_OK(fl_allocator_validate(a));
    harness_check_stats_identities(a);
    fl_allocator_destroy(a);
}

/* After every test: nothing mapped, allocated or locked is left behind. */
static void test_fake_platform_left_clean(void)
{
    CHECK_EQ_SIZE(fake_live_map_bytes(&fake), 0);
    CHECK_EQ_SIZE(fake_live_heap_blocks(&fake), 0);
    CHECK_EQ_SIZE(fake_live_locks(&fake), 0);
    CHECK(fake_live_clean(&fake));
    CHECK(fake_calls(&fake, FAKE_HEAP_ALLOC) > 0 && fake_calls(&fake, FAKE_LOCK_INIT) > 0);
}

int main(void)
{
    fake_platform_init(&fake, fl_platform_default());
    RUN(test_create_rules);
    RUN(test_budget_is_exact);
    RUN(test_small_and_large_blocks);
    RUN(test_alignments);
    RUN(test_table_grows_and_shrinks);
    RUN(test_bad_input_changes_nothing);
    RUN(test_platform_refusals);
    RUN(test_walk_reports_every_block);
    RUN(test_reset_and_destroy_leave_nothing);
    RUN(test_validate_catches_broken_counters);
    RUN(test_statistics);
    RUN(test_threads);
    RUN(test_fake_platform_left_clean);
    return harness_finish();
}
