/* The Shared memory type (src/memory/memory.c, profiles.c, trim.c): a region in an
 * operating-system shared-memory object that a forked child writes and its parent reads;
 * its statistics, validate and pressure; and the cases where the type has capacity 0 (no
 * shared_map hook, backing_memory) or cannot be created. */
#define _POSIX_C_SOURCE 200809L /* fork, waitpid */

#include "memory_test_util.h"
#include "platform_caps.h"

#include <errno.h>
#include <stdlib.h>

#if CAPS_FORK
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

static fake_platform fake;

#define SHARED_CAPACITY (256 * KIB)
#define HAS_SHARED (fli_has_shared(fl_platform_default()))
#define NO_SHARED_WHY "the platform has no shared memory (shared_map is NULL): the Shared type has capacity 0 here"

/* small_config with a Shared region, created through the counting fake. */
static fl_memory *make_shared(size_t capacity)
{
    fake_platform_init(&fake, fl_platform_default());
    fl_memory_config c = small_config();
    c.capacity[FL_MEMORY_SHARED] = capacity;
    c.platform = &fake.hooks;
    return make_memory(&c);
}

static const fl_memory_region *find_region(const fl_memory_region *regions, size_t n, fl_memory_type t)
{
    for (size_t i = 0; i < n; i++)
        if (regions[i].type == t && strcmp(regions[i].name, "Emergency reserve") != 0) return &regions[i];
    return NULL;
}

/* ---- the region ---------------------------------------------------------------------------- */

static void test_shared_region_layout(void)
{
    SKIP_UNLESS(HAS_SHARED, NO_SHARED_WHY);
    fl_memory *m = make_shared(SHARED_CAPACITY);
    /* One shared object, mapped once, of the capacity rounded to pages. */
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SHARED_MAP), 1);
    size_t page = fli_page_size(fl_platform_default());
    CHECK_EQ_SIZE(fake_live_shared_bytes(&fake), (SHARED_CAPACITY + page - 1) / page * page);

    fl_memory_region regions[16];
    size_t n = fl_memory_get_regions(m, regions, 16);
    const fl_memory_region *shared = find_region(regions, n, FL_MEMORY_SHARED);
    CHECK(shared != NULL);
    CHECK(shared->base != NULL);
    CHECK_EQ_SIZE(shared->size, SHARED_CAPACITY);
    CHECK(shared->allocator == FL_ALLOCATOR_FREELIST);
    CHECK(strcmp(shared->name, "Shared") == 0);
    for (size_t i = 0; i < n; i++) /* disjoint from every other region */
        if (&regions[i] != shared && regions[i].base != NULL)
            CHECK((unsigned char *)regions[i].base + regions[i].size <= (unsigned char *)shared->base ||
                  (unsigned char *)shared->base + shared->size <= (unsigned char *)regions[i].base);

    fl_memory_stats s;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SHARED, &s));
    /* The free list's control block and bitmap come out of the capacity. */
    CHECK(s.total_bytes < SHARED_CAPACITY && s.total_bytes > SHARED_CAPACITY - 8 * KIB);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    /* largest_free_block is a size that is really served (alignment 1). */
    CHECK(s.largest_free_block > s.total_bytes - 4 * KIB && s.largest_free_block <= s.total_bytes);
    fl_allocation a;
    CHECK_OK(fl_memory_allocate_typed(m, s.largest_free_block, FL_MEMORY_SHARED, 1, 0, &a));
    CHECK(a.type == FL_MEMORY_SHARED);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    fl_pressure_info p;
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_SHARED, &p));
    CHECK_EQ_SIZE(p.total_bytes, s.total_bytes);
    CHECK(p.level == FL_PRESSURE_NONE);
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SHARED_UNMAP), 1);
}

/* A child forked after the allocation writes a pattern into it and exits; the parent
 * reads the pattern. A private (System) allocation written the same way stays as the
 * parent left it: what the parent sees really went through shared memory. */
static void test_shared_across_fork(void)
{
    SKIP_UNLESS(CAPS_FORK, "no fork() on this platform");
    SKIP_UNLESS(HAS_SHARED, NO_SHARED_WHY);
#if CAPS_FORK
    fl_memory *m = make_shared(SHARED_CAPACITY);
    fl_allocation shared, private_block;
    const size_t size = 3000;
    CHECK_OK(fl_memory_allocate_typed(m, size, FL_MEMORY_SHARED, 64, 0, &shared));
    CHECK(shared.type == FL_MEMORY_SHARED && shared.allocator == FL_ALLOCATOR_FREELIST);
    CHECK(((uintptr_t)shared.ptr & 63u) == 0);
    CHECK(shared.size >= size);
    CHECK_OK(fl_memory_allocate_typed(m, size, FL_MEMORY_SYSTEM, 0, 0, &private_block));
    CHECK(private_block.type == FL_MEMORY_SYSTEM);
    harness_fill(shared.ptr, size, 1);
    harness_fill(private_block.ptr, size, 1);
    fflush(stdout);
    fflush(stderr);

    pid_t child = fork();
    if (child < 0) {
        printf("SKIPPED %s on %s: fork failed (%s)\n", __func__, CAPS_PLATFORM_NAME, strerror(errno));
        fl_memory_destroy(m);
        return;
    }
    if (child == 0) {
        /* The child: it must see what the parent wrote before the fork, then overwrites it.
         * _exit: no atexit handlers, no sanitizer report, no stdio flush of the parent's. */
        int code = harness_pattern_ok(shared.ptr, size, 1) && harness_pattern_ok(private_block.ptr, size, 1) ? 0 : 3;
        harness_fill(shared.ptr, size, 2);
        harness_fill(private_block.ptr, size, 2);
        _exit(code);
    }
    int status = 0;
    pid_t waited;
    do {
        waited = waitpid(child, &status, 0);
    } while (waited < 0 && errno == EINTR);
    CHECK(waited == child);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", (unsigned)status);
    CHECK(harness_pattern_ok(shared.ptr, size, 2));        /* the child's bytes */
    CHECK(harness_pattern_ok(private_block.ptr, size, 1)); /* still the parent's own */

    /* The interface's view of the Shared type is untouched by the child. */
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SHARED, &s));
    CHECK_EQ_SIZE(s.allocation_count, 1);
    CHECK(s.used_bytes >= size);
    CHECK(fl_memory_is_valid_pointer(m, shared.ptr));
    CHECK_OK(fl_memory_validate(m));
    CHECK_OK(fl_memory_deallocate(m, shared.ptr));
    CHECK_OK(fl_memory_deallocate(m, private_block.ptr));
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));
#endif
}

/* Random allocations in Shared with patterns: statistics exact, validate after each phase,
 * the type has no fallback, pointer queries exact, reallocate stays in Shared. */
static void test_shared_statistics(void)
{
    SKIP_UNLESS(HAS_SHARED, NO_SHARED_WHY);
    fl_memory *m = make_shared(SHARED_CAPACITY);
    harness_rng rng = harness_rng_seeded("shared statistics", 0x5A4ED);
    enum { LIVE = 64 };
    fl_allocation live[LIVE];
    uint64_t id[LIVE];
    size_t allocations = 0, frees = 0, failed = 0;
    memset(live, 0, sizeof live);
    uint64_t ops = harness_scaled(20000);
    for (uint64_t k = 0; k < ops; k++) {
        size_t i = harness_range(&rng, 0, LIVE - 1);
        if (live[i].ptr != NULL) {
            CHECK(harness_pattern_ok(live[i].ptr, live[i].size, id[i]));
            fl_allocation info;
            CHECK_OK(fl_memory_get_allocation_info(m, live[i].ptr, &info));
            CHECK(info.type == FL_MEMORY_SHARED && info.size == live[i].size);
            CHECK(!fl_memory_is_valid_pointer(m, (char *)live[i].ptr + 8));
            if (harness_range(&rng, 0, 3) == 0) {
                /* grow (or keep) it: the bytes move along, the block stays Shared */
                fl_allocation grown;
                size_t before = live[i].size;
                fl_status st = fl_memory_reallocate(m, live[i].ptr, before + harness_range(&rng, 0, 4000), &grown);
                if (st == FL_ERR_OUT_OF_MEMORY) {
                    failed++;
                    continue;
                }
                CHECK_OK(st);
                CHECK(grown.type == FL_MEMORY_SHARED);
                CHECK(harness_pattern_ok(grown.ptr, before, id[i]));
                if (grown.ptr != live[i].ptr) allocations++, frees++;
                live[i] = grown;
                harness_fill(live[i].ptr, live[i].size, id[i]);
                continue;
            }
            CHECK_OK(fl_memory_deallocate(m, live[i].ptr));
            CHECK(!fl_memory_is_valid_pointer(m, live[i].ptr));
            CHECK_STATUS(fl_memory_deallocate(m, live[i].ptr), FL_ERR_INVALID_PARAMETERS);
            live[i].ptr = NULL;
            frees++;
            continue;
        }
        size_t size = harness_range(&rng, 1, harness_range(&rng, 0, 7) == 0 ? 32 * KIB : 600);
        size_t align = (size_t)1 << harness_range(&rng, 0, 8);
        fl_status st = fl_memory_allocate_typed(m, size, FL_MEMORY_SHARED, align, 0, &live[i]);
        if (st == FL_ERR_OUT_OF_MEMORY) {
            failed++;
            live[i].ptr = NULL;
            continue;
        }
        CHECK_OK(st);
        CHECK(live[i].type == FL_MEMORY_SHARED && live[i].allocator == FL_ALLOCATOR_FREELIST);
        CHECK(((uintptr_t)live[i].ptr & (align - 1)) == 0 && live[i].size >= size);
        id[i] = k;
        harness_fill(live[i].ptr, live[i].size, id[i]);
        allocations++;
        if (k % 2000 == 0) CHECK_OK(fl_memory_validate(m));
    }
    CHECK_OK(fl_memory_validate(m));
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SHARED, &s));
    size_t count = 0;
    for (size_t i = 0; i < LIVE; i++) count += live[i].ptr != NULL;
    CHECK_EQ_SIZE(s.allocation_count, count);
    CHECK(s.total_allocations == allocations && s.total_deallocations == frees);
    CHECK(s.failed_allocations == failed);
    check_identities(m);
    printf("shared statistics: %llu ops, %zu allocations, %zu out of memory, %zu live\n", (unsigned long long)ops,
           allocations, failed, count);

    /* No fallback out of Shared: a request larger than what is free fails there even with
     * allow_fallback, and is counted as the Shared type's failure. */
    fl_alloc_request req = fl_make_allocation_request(SHARED_CAPACITY, FL_MEMORY_SHARED, 0, 0);
    req.allow_fallback = true;
    fl_allocation big;
    CHECK_STATUS(fl_memory_allocate_request(m, &req, &big), FL_ERR_OUT_OF_MEMORY);
    fl_memory_stats after;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SHARED, &after));
    CHECK(after.failed_allocations == s.failed_allocations + 1);

    for (size_t i = 0; i < LIVE; i++) {
        if (live[i].ptr == NULL) continue;
        CHECK(harness_pattern_ok(live[i].ptr, live[i].size, id[i]));
        CHECK_OK(fl_memory_deallocate(m, live[i].ptr));
    }
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SHARED, &s));
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK(s.peak_used_bytes > 0);
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));
}

/* A configuration whose only region is Shared gets nothing released by trim. */
static void test_shared_not_trimmed(void)
{
    SKIP_UNLESS(HAS_SHARED, NO_SHARED_WHY);
    fake_platform_init(&fake, fl_platform_default());
    fl_memory_config c = small_config();
    memset(c.capacity, 0, sizeof c.capacity);
    c.emergency_reserve = 0;
    c.capacity[FL_MEMORY_SHARED] = 1 * MIB;
    c.platform = &fake.hooks;
    fl_memory *m = make_memory(&c);
    fl_allocation a;
    CHECK_OK(fl_memory_allocate_typed(m, 100, FL_MEMORY_SHARED, 0, FL_FLAG_ZERO, &a));
    for (size_t i = 0; i < 100; i++) CHECK(((unsigned char *)a.ptr)[i] == 0);
    size_t released = 1;
    CHECK_OK(fl_memory_trim(m, &released));
    CHECK_EQ_SIZE(released, 0);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_RELEASE_PAGES), 0);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));
}

/* ---- capacity 0 --------------------------------------------------------------------------- */

/* The Shared type of m does not exist: statistics 0, requests FL_ERR_NOT_SUPPORTED and
 * not counted, no region listed. */
static void check_no_shared(fl_memory *m)
{
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SHARED, &s));
    CHECK_EQ_SIZE(s.total_bytes, 0);
    fl_allocation a;
    CHECK_UNCHANGED(m, fl_memory_allocate_typed(m, 64, FL_MEMORY_SHARED, 0, 0, &a), FL_ERR_NOT_SUPPORTED);
    CHECK(message_has("Shared"));
    fl_memory_region regions[16];
    size_t n = fl_memory_get_regions(m, regions, 16);
    CHECK(find_region(regions, n, FL_MEMORY_SHARED) == NULL);
    fl_pressure_info p;
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_SHARED, &p));
    CHECK(p.total_bytes == 0 && p.level == FL_PRESSURE_NONE);
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
}

static void test_capacity_zero_without_shared_map(void)
{
    fake_platform_init(&fake, fl_platform_default());
    fake.hooks.shared_map = NULL; /* the platform lacks the capability */
    fl_memory_config c = small_config();
    c.capacity[FL_MEMORY_SHARED] = SHARED_CAPACITY;
    c.platform = &fake.hooks;
    fl_memory *m = make_memory(&c); /* accepted: the type is simply absent */
    check_no_shared(m);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_SHARED_MAP), 0);
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));

    /* Shared alone: nothing would remain, which create refuses, saying why. */
    memset(c.capacity, 0, sizeof c.capacity);
    c.emergency_reserve = 0;
    c.capacity[FL_MEMORY_SHARED] = SHARED_CAPACITY;
    m = (fl_memory *)(uintptr_t)0x1;
    CHECK_STATUS(fl_memory_create(&c, &m), FL_ERR_INVALID_PARAMETERS);
    CHECK(m == (fl_memory *)(uintptr_t)0x1);
    CHECK(message_has("this platform does not provide"));
    CHECK(fake_live_clean(&fake));
}

static void test_capacity_zero_with_backing_memory(void)
{
    fake_platform_init(&fake, fl_platform_default());
    fl_memory_config c = small_config();
    c.platform = &fake.hooks;
    size_t without = 0, with = 0;
    CHECK_OK(fl_memory_backing_size(&c, &without));
    c.capacity[FL_MEMORY_SHARED] = SHARED_CAPACITY;
    CHECK_OK(fl_memory_backing_size(&c, &with));
    CHECK_EQ_SIZE(with, without); /* the Shared capacity takes nothing from the block */
    unsigned char *block = malloc(with);
    CHECK(block != NULL);
    c.backing_memory = block;
    c.backing_size = with;
    fl_memory *m = make_memory(&c);
    check_no_shared(m);
    CHECK_EQ_SIZE(fake_total_calls(&fake), 0); /* not even shared_map: backing memory promises none */
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));

    memset(c.capacity, 0, sizeof c.capacity);
    c.emergency_reserve = 0;
    c.capacity[FL_MEMORY_SHARED] = SHARED_CAPACITY;
    CHECK_STATUS(fl_memory_backing_size(&c, &with), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("backing_memory leaves out"));
    m = NULL;
    CHECK_STATUS(fl_memory_create(&c, &m), FL_ERR_INVALID_PARAMETERS);
    CHECK(m == NULL);
    free(block);
}

static void test_profiles(void)
{
    static const fl_platform all[] = {FL_PLATFORM_HOST, FL_PLATFORM_DREAMCAST, FL_PLATFORM_PSP, FL_PLATFORM_WEB,
                                      FL_PLATFORM_DESKTOP};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        fl_memory_config c;
        CHECK_OK(fl_memory_config_default(all[i], &c));
        bool host = all[i] == FL_PLATFORM_HOST || all[i] == FL_PLATFORM_DESKTOP;
        size_t expected = host && HAS_SHARED ? c.capacity[FL_MEMORY_SYSTEM] / 128 : 0;
        CHECK_MSG(c.capacity[FL_MEMORY_SHARED] == expected, "%s: Shared %zu, expected %zu", fl_platform_str(all[i]),
                  c.capacity[FL_MEMORY_SHARED], expected);
        CHECK(c.fallback[FL_MEMORY_SHARED] == FL_MEMORY_TYPE_COUNT); /* nothing else is shared */
    }
    /* DESKTOP as created: its Shared region is there (where the platform has one). */
    fl_memory_config c;
    CHECK_OK(fl_memory_config_default(FL_PLATFORM_DESKTOP, &c));
    fake_platform_init(&fake, fl_platform_default());
    c.platform = &fake.hooks;
    fl_memory *m = make_memory(&c);
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SHARED, &s));
    /* The free list keeps a bitmap of 1/128 of its buffer and a control block. */
    CHECK(HAS_SHARED ? s.total_bytes > c.capacity[FL_MEMORY_SHARED] - c.capacity[FL_MEMORY_SHARED] / 64
                     : s.total_bytes == 0);
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));
}

/* ---- creation failures ----------------------------------------------------------------------- */

static void test_create_failures(void)
{
    fl_memory *m = (fl_memory *)(uintptr_t)0x1;
    fl_memory_config c = small_config();
    c.capacity[FL_MEMORY_SHARED] = SHARED_CAPACITY;
    c.strategy[FL_MEMORY_SHARED] = FL_ALLOCATOR_SYSTEM; /* heap blocks are not shared */
    CHECK_STATUS(fl_memory_create(&c, &m), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("Shared type cannot use the System strategy"));
    CHECK(m == (fl_memory *)(uintptr_t)0x1);

    if (!HAS_SHARED) return;
    /* The platform refuses the shared object: nothing is left behind. */
    fake_platform_init(&fake, fl_platform_default());
    c = small_config();
    c.capacity[FL_MEMORY_SHARED] = SHARED_CAPACITY;
    c.platform = &fake.hooks;
    fake_fail_nth(&fake, FAKE_SHARED_MAP, 1);
    CHECK_STATUS(fl_memory_create(&c, &m), FL_ERR_OUT_OF_MEMORY);
    CHECK(message_has("shared memory for the Shared region"));
    CHECK(m == (fl_memory *)(uintptr_t)0x1);
    CHECK(fake_live_clean(&fake));
    /* A later region's failure unmaps the shared object too. */
    for (long n = 1; n < 40; n++) {
        fake_platform_init(&fake, fl_platform_default());
        c.platform = &fake.hooks;
        fake_fail_nth(&fake, FAKE_ANY_FALLIBLE, n);
        fl_status st = fl_memory_create(&c, &m);
        CHECK(fake_live_clean(&fake) || st == FL_OK);
        if (st == FL_OK) {
            fl_memory_destroy(m);
            CHECK(fake_live_clean(&fake));
            break;
        }
        m = (fl_memory *)(uintptr_t)0x1;
    }

    /* Another strategy inside the shared mapping works: the buddy. */
    fake_platform_init(&fake, fl_platform_default());
    c.platform = &fake.hooks;
    c.strategy[FL_MEMORY_SHARED] = FL_ALLOCATOR_BUDDY;
    m = make_memory(&c);
    fl_allocation a;
    CHECK_OK(fl_memory_allocate_typed(m, 1000, FL_MEMORY_SHARED, 0, 0, &a));
    CHECK(a.type == FL_MEMORY_SHARED && a.allocator == FL_ALLOCATOR_BUDDY);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));
}

int main(void)
{
    RUN(test_shared_region_layout);
    RUN(test_shared_across_fork);
    RUN(test_shared_statistics);
    RUN(test_shared_not_trimmed);
    RUN(test_capacity_zero_without_shared_map);
    RUN(test_capacity_zero_with_backing_memory);
    RUN(test_profiles);
    RUN(test_create_failures);
    return harness_finish();
}
