/* The memory interface's profiles, configuration checks, layout (platform pages or one
 * backing block), creation failures and destruction (src/memory/memory.c, profiles.c). */
#include "memory_test_util.h"

#include <stdlib.h>

static size_t main_ram_sum(const fl_memory_config *c, bool with_audio)
{
    size_t s = c->capacity[FL_MEMORY_SYSTEM] + c->capacity[FL_MEMORY_POOL] + c->capacity[FL_MEMORY_TEMPORARY] +
               c->capacity[FL_MEMORY_STACK] + c->capacity[FL_MEMORY_NETWORK] + c->capacity[FL_MEMORY_SHARED];
    return with_audio ? s + c->capacity[FL_MEMORY_AUDIO] : s;
}

static void test_dreamcast_profile(void)
{
    fl_memory_config c;
    CHECK_OK(fl_memory_config_default(FL_PLATFORM_DREAMCAST, &c));
    CHECK(c.profile == FL_PLATFORM_DREAMCAST);
    /* 16 MiB main RAM: the interface's share is 12 MiB, split as docs/platforms.md says. */
    CHECK_EQ_SIZE(main_ram_sum(&c, false), 12 * MIB);
    CHECK(main_ram_sum(&c, false) <= 16 * MIB);
    CHECK_EQ_SIZE(c.capacity[FL_MEMORY_SYSTEM], 6 * MIB);
    CHECK_EQ_SIZE(c.capacity[FL_MEMORY_POOL], 3 * MIB);
    CHECK_EQ_SIZE(c.capacity[FL_MEMORY_TEMPORARY], 2 * MIB);
    CHECK_EQ_SIZE(c.capacity[FL_MEMORY_STACK], 512 * KIB);
    CHECK_EQ_SIZE(c.capacity[FL_MEMORY_NETWORK], 512 * KIB);
    CHECK_EQ_SIZE(c.capacity[FL_MEMORY_VIDEO], 8 * MIB);
    CHECK_EQ_SIZE(c.capacity[FL_MEMORY_AUDIO], 2 * MIB);
    CHECK_EQ_SIZE(c.capacity[FL_MEMORY_SHARED], 0);
    CHECK_EQ_SIZE(c.emergency_reserve, 512 * KIB);
    CHECK_EQ_SIZE(c.max_allocation, 4 * MIB);
    CHECK_EQ_SIZE(c.total_pressure.medium, 8 * MIB);
    CHECK_EQ_SIZE(c.total_pressure.high, 2 * MIB);
    CHECK_EQ_SIZE(c.total_pressure.low, 12 * MIB);
    CHECK_EQ_SIZE(c.total_pressure.critical, 512 * KIB);
    CHECK(!c.thread_safe);
    CHECK(c.strategy[FL_MEMORY_VIDEO] == FL_ALLOCATOR_AUTO && c.strategy[FL_MEMORY_TEMPORARY] == FL_ALLOCATOR_AUTO);
    CHECK(c.capabilities[FL_MEMORY_VIDEO] == FL_FLAG_DMA_CAPABLE);
    CHECK(c.fallback[FL_MEMORY_VIDEO] == FL_MEMORY_TYPE_COUNT && c.fallback[FL_MEMORY_AUDIO] == FL_MEMORY_TYPE_COUNT);

    fl_memory *m = make_memory(&c);
    fl_memory_region regions[16];
    size_t n = fl_memory_get_regions(m, regions, 16);
    CHECK_EQ_SIZE(n, 8); /* 7 types and the reserve */
    bool pools = false, linear = false;
    for (size_t i = 0; i < n; i++) {
        if (regions[i].type == FL_MEMORY_POOL) pools = regions[i].allocator == FL_ALLOCATOR_POOL;
        if (regions[i].type == FL_MEMORY_TEMPORARY) linear = regions[i].allocator == FL_ALLOCATOR_LINEAR;
        if (regions[i].type == FL_MEMORY_VIDEO) CHECK(regions[i].allocator == FL_ALLOCATOR_BUDDY);
        if (regions[i].type == FL_MEMORY_VIDEO) CHECK_EQ_SIZE(regions[i].size, 8 * MIB);
    }
    CHECK(pools && linear);
    CHECK(strcmp(regions[n - 1].name, "Emergency reserve") == 0);
    CHECK_EQ_SIZE(regions[n - 1].size, 512 * KIB);
    fl_allocation a;
    CHECK_UNCHANGED(m, fl_memory_allocate_typed(m, 4 * MIB + 1, FL_MEMORY_VIDEO, 0, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_OK(fl_memory_allocate_typed(m, 4 * MIB, FL_MEMORY_VIDEO, 0, 0, &a));
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

static void test_psp_profile(void)
{
    fl_memory_config c;
    CHECK_OK(fl_memory_config_default(FL_PLATFORM_PSP, &c));
    /* Audio lives in main RAM on the PSP: 20 MiB of the 24 MiB the game gets. */
    CHECK_EQ_SIZE(main_ram_sum(&c, true), 20 * MIB);
    CHECK(main_ram_sum(&c, true) <= 24 * MIB);
    CHECK_EQ_SIZE(c.capacity[FL_MEMORY_VIDEO], 2 * MIB);
    CHECK(c.strategy[FL_MEMORY_AUDIO] == FL_ALLOCATOR_FREELIST);
    CHECK(c.capabilities[FL_MEMORY_AUDIO] & FL_FLAG_CACHEABLE);
    CHECK(c.fallback[FL_MEMORY_AUDIO] == FL_MEMORY_SYSTEM);
    CHECK(c.fallback[FL_MEMORY_VIDEO] == FL_MEMORY_TYPE_COUNT);
    fl_memory *m = make_memory(&c);
    fl_allocator_type kinds[8];
    size_t n = fl_memory_get_available_allocators(m, kinds, 8);
    CHECK_EQ_SIZE(n, 5); /* linear, stack, pool, buddy, free list */
    CHECK(kinds[0] == FL_ALLOCATOR_LINEAR && kinds[4] == FL_ALLOCATOR_FREELIST);
    fl_memory_destroy(m);
}

static fake_platform fake;

static void test_web_profile(void)
{
    fl_memory_config c;
    CHECK_OK(fl_memory_config_default(FL_PLATFORM_WEB, &c));
    CHECK(c.strategy[FL_MEMORY_SYSTEM] == FL_ALLOCATOR_SYSTEM); /* grows on demand up to its cap */
    CHECK_EQ_SIZE(c.capacity[FL_MEMORY_SYSTEM], 64 * MIB);
    fake_platform_init(&fake, fl_platform_default());
    c.platform = &fake.hooks;
    fl_memory *m = make_memory(&c);
    size_t heap_made = fake_live_heap_blocks(&fake), pages_made = fake_live_map_bytes(&fake);
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_stats(m, &s));
    CHECK(s.total_bytes < 128 * MIB); /* the specification's "memory constrained" branch */
    /* A large System allocation comes from the heap, on demand. */
    fl_allocation a;
    CHECK_OK(fl_memory_allocate_typed(m, 1 * MIB, FL_MEMORY_SYSTEM, 0, 0, &a));
    CHECK(a.allocator == FL_ALLOCATOR_SYSTEM && a.type == FL_MEMORY_SYSTEM);
    CHECK(fake_live_heap_blocks(&fake) > heap_made || fake_live_map_bytes(&fake) > pages_made);
    CHECK(fl_memory_is_valid_pointer(m, a.ptr));
    CHECK(!fl_memory_is_valid_pointer(m, (char *)a.ptr + 16));
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    CHECK(!fl_memory_is_valid_pointer(m, a.ptr));
    /* The cap holds: more than the budget fails. */
    CHECK_STATUS(fl_memory_allocate_typed(m, 32 * MIB, FL_MEMORY_SYSTEM, 0, 0, &a), FL_OK);
    fl_allocation b;
    CHECK_STATUS(fl_memory_allocate_typed(m, 32 * MIB, FL_MEMORY_SYSTEM, 0, 0, &b), FL_ERR_OUT_OF_MEMORY);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));
}

static void test_host_and_desktop_profiles(void)
{
    fl_memory_config c;
    CHECK_OK(fl_memory_config_default(FL_PLATFORM_HOST, &c));
    uint64_t physical = fli_physical_memory(fl_platform_default());
    if (physical == 0) physical = (uint64_t)4 << 30;
    uint64_t expected = physical / 4, cap = sizeof(size_t) >= 8 ? (uint64_t)4 << 30 : (uint64_t)512 << 20;
    if (expected > cap) expected = cap;
    if (expected < 64u * MIB) expected = 64u * MIB;
    expected &= ~(uint64_t)(MIB - 1);
    CHECK(c.capacity[FL_MEMORY_SYSTEM] == (size_t)expected);
    CHECK(c.capacity[FL_MEMORY_POOL] == c.capacity[FL_MEMORY_SYSTEM] / 8);
    CHECK(c.thread_safe);
    CHECK(c.max_allocation == 0);
    fake_platform_init(&fake, fl_platform_default());
    c.platform = &fake.hooks;
    fl_memory *m = make_memory(&c);
    CHECK(fake_live_map_bytes(&fake) >= c.capacity[FL_MEMORY_SYSTEM]);
    CHECK_EQ_SIZE(fake_live_locks(&fake), 1);
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));

    CHECK_OK(fl_memory_config_default(FL_PLATFORM_DESKTOP, &c));
    CHECK(c.capacity[FL_MEMORY_SYSTEM] == (sizeof(size_t) >= 8 ? 1024 * MIB : 256 * MIB));
    c.platform = &fake.hooks;
    m = make_memory(&c);
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));
}

static void test_config_default_bad_input(void)
{
    fl_memory_config c;
    CHECK_STATUS(fl_memory_config_default(FL_PLATFORM_HOST, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_config_default((fl_platform)17, &c), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("17"));
}

/* Creating from `c` fails with `status` and a message containing `what`, leaking nothing. */
static void expect_create_fails(const fl_memory_config *config, fl_status status, const char *what)
{
    fl_memory_config c = *config;
    if (c.platform == NULL) {
        fake_platform_init(&fake, fl_platform_default());
        c.platform = &fake.hooks;
    }
    fl_memory *m = (fl_memory *)(uintptr_t)0x1;
    CHECK_STATUS(fl_memory_create(&c, &m), status);
    CHECK(m == (fl_memory *)(uintptr_t)0x1);
    CHECK_MSG(message_has(what), "message \"%s\" lacks \"%s\"", fl_last_error()->message, what);
    CHECK(fake_live_clean(&fake));
}

static void test_config_checks(void)
{
    fl_memory *m;
    fl_memory_config c = small_config();
    CHECK_STATUS(fl_memory_create(NULL, &m), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_create(&c, NULL), FL_ERR_INVALID_PARAMETERS);

    c = small_config();
    memset(c.capacity, 0, sizeof c.capacity);
    c.emergency_reserve = 0;
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "no memory type");
    c = small_config();
    c.strategy[FL_MEMORY_NETWORK] = (fl_allocator_type)9;
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "Network");
    c = small_config();
    c.capabilities[FL_MEMORY_AUDIO] = FL_FLAG_ZERO;
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "capabilities");
    c = small_config();
    c.fallback[FL_MEMORY_POOL] = (fl_memory_type)12;
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "fallback 12");
    c = small_config();
    c.pressure[FL_MEMORY_VIDEO].medium = 100;
    c.pressure[FL_MEMORY_VIDEO].low = 10;
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "Video pressure thresholds");
    c = small_config();
    c.total_pressure.critical = 5;
    c.total_pressure.high = 3; /* below Critical */
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "total pressure");
    c = small_config();
    c.pool_classes[2] = 24; /* 16, 32, 24: not ascending */
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "ascend");
    c = small_config();
    c.pool_classes[0] = 2;
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "below a pointer");
    c = small_config();
    c.pool_class_bytes[0] = 1 * MIB;
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "pool_class_bytes");
    c = small_config();
    c.capacity[FL_MEMORY_SYSTEM] = 0;
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "needs a System type");
    c = small_config();
    c.emergency_reserve = c.capacity[FL_MEMORY_SYSTEM];
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "smaller than the System capacity");
    c = small_config();
    c.capacity[FL_MEMORY_SHARED] = 64 * KIB;
    c.strategy[FL_MEMORY_SHARED] = FL_ALLOCATOR_SYSTEM; /* test_memory_shared.c has the rest */
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "Shared");
    c = small_config();
    c.capacity[FL_MEMORY_STACK] = 8; /* too small for any stack */
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "Stack region");
    c = small_config();
    c.capacity[FL_MEMORY_POOL] = 512; /* 5 classes of ~100 bytes each */
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "pool class");
    c = small_config();
    c.profile = (fl_platform)40;
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "profile 40");
    c = small_config();
    c.max_records = SIZE_MAX / 2;
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "max_records");
    c = small_config();
    c.strategy[FL_MEMORY_SYSTEM] = FL_ALLOCATOR_SYSTEM;
    unsigned char block[64];
    c.backing_memory = block;
    c.backing_size = sizeof block;
    expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "backing_memory excludes");
    size_t need;
    CHECK_STATUS(fl_memory_backing_size(&c, &need), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_backing_size(NULL, &need), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_backing_size(&c, NULL), FL_ERR_INVALID_PARAMETERS);
    if (sizeof(size_t) == 4) {
        c = small_config();
        c.capacity[FL_MEMORY_SYSTEM] = SIZE_MAX / 2;
        c.capacity[FL_MEMORY_VIDEO] = SIZE_MAX / 2;
        expect_create_fails(&c, FL_ERR_INVALID_PARAMETERS, "size_t");
    }
}

/* Every region lies inside the caller's block, and after create nothing calls the
 * platform for memory or locks: allocate, free, reallocate, stats, pressure, callbacks,
 * rewind, trim, validate and destroy. */
static int pressure_calls;
static void count_pressure(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    (void)level; (void)info; (void)user;
    pressure_calls++;
}

static void test_backing_memory_only(void)
{
    fake_platform_init(&fake, fl_platform_default());
    fl_memory_config c;
    CHECK_OK(fl_memory_config_default(FL_PLATFORM_DREAMCAST, &c));
    c.platform = &fake.hooks;
    size_t need;
    CHECK_OK(fl_memory_backing_size(&c, &need));
    CHECK(need >= 12 * MIB + 10 * MIB);
    CHECK(need < 12 * MIB + 10 * MIB + 1 * MIB); /* bookkeeping well under 1 MiB */
    unsigned char *block = malloc(need + 1);
    CHECK(block != NULL);
    c.backing_memory = block + 1; /* any address works */
    c.backing_size = need - 1;
    fl_memory *m = NULL;
    CHECK_STATUS(fl_memory_create(&c, &m), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("backing_size"));
    c.backing_size = need;
    m = make_memory(&c);
    CHECK_EQ_SIZE(fake_total_calls(&fake), 0); /* not even at create */
    CHECK((unsigned char *)m >= block && (unsigned char *)m < block + need + 1);
    fl_memory_region regions[16];
    size_t n = fl_memory_get_regions(m, regions, 16);
    for (size_t i = 0; i < n; i++) {
        unsigned char *base = regions[i].base;
        CHECK(base >= block + 1 && base + regions[i].size <= block + 1 + need);
        for (size_t j = 0; j < i; j++) /* disjoint */
            CHECK((unsigned char *)regions[j].base + regions[j].size <= base ||
                  base + regions[i].size <= (unsigned char *)regions[j].base);
    }

    uint32_t id;
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_LOW, count_pressure, NULL, &id));
    void *live[64];
    int count = 0;
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        if (t == FL_MEMORY_SHARED) continue;
        fl_allocation a;
        for (size_t size = 16; size <= (t == FL_MEMORY_POOL ? 2 * KIB : 64 * KIB); size *= 4) {
            CHECK_OK(fl_memory_allocate_typed(m, size, (fl_memory_type)t, 0, FL_FLAG_ZERO, &a));
            live[count++] = a.ptr;
        }
    }
    fl_allocation big, texture;
    CHECK_OK(fl_memory_allocate_typed(m, 4 * MIB, FL_MEMORY_VIDEO, 0, 0, &texture)); /* Video rises to Low */
    CHECK(pressure_calls == 1);
    CHECK_OK(fl_memory_allocate_typed(m, 2 * MIB, FL_MEMORY_SYSTEM, 0, 0, &big));
    CHECK_OK(fl_memory_reallocate(m, big.ptr, 2 * MIB + 100, &big));
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_stats(m, &s));
    fl_pressure_info info;
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_ALL_TYPES, &info));
    size_t released = 1;
    CHECK_OK(fl_memory_trim(m, &released));
    CHECK_EQ_SIZE(released, 0); /* the caller's memory is not the platform's to take back */
    CHECK_OK(fl_memory_validate(m));
    for (int i = count - 1; i >= 0; i--) {
        fl_status st = fl_memory_deallocate(m, live[i]);
        CHECK(st == FL_OK);
    }
    CHECK_OK(fl_memory_rewind(m, FL_MEMORY_TEMPORARY, (fl_marker){0, 0, 0}));
    CHECK_OK(fl_memory_deallocate(m, big.ptr));
    CHECK_OK(fl_memory_deallocate(m, texture.ptr));
    CHECK_OK(fl_memory_unregister_pressure_callback(m, id));
    fl_memory_destroy(m);
    for (int i = 0; i < FAKE_HOOK_COUNT; i++)
        CHECK_MSG(fake_calls(&fake, (fake_hook)i) == 0, "hook %d was called %zu times", i, fake_calls(&fake, (fake_hook)i));
    free(block);
}

/* Without backing memory: one mapping for the control part and one per region, all given
 * back at destroy, through the configuration's hooks. */
static void test_platform_pages_through_hooks(void)
{
    fake_platform_init(&fake, fl_platform_default());
    fl_memory_config c = small_config();
    c.platform = &fake.hooks;
    c.thread_safe = true;
    fl_memory *m = make_memory(&c);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_MAP_PAGES), 1 + 8); /* control + 7 regions + reserve */
    CHECK_EQ_SIZE(fake_live_locks(&fake), 1);
    size_t maps = fake_calls(&fake, FAKE_MAP_PAGES), heap = fake_calls(&fake, FAKE_HEAP_ALLOC);
    fl_allocation a;
    CHECK_OK(fl_memory_allocate(m, 100, 0, &a));
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    CHECK(fake_calls(&fake, FAKE_MAP_PAGES) == maps && fake_calls(&fake, FAKE_HEAP_ALLOC) == heap);
    CHECK(fake_calls(&fake, FAKE_LOCK_ACQUIRE) >= 2); /* thread_safe: one lock per call */
    fl_memory_destroy(m);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_UNMAP_PAGES), 9);
    CHECK(fake_live_clean(&fake));

    /* A platform without locks cannot make a thread-safe interface. */
    fake.hooks.lock_init = NULL;
    CHECK_STATUS(fl_memory_create(&c, &m), FL_ERR_PLATFORM);
    CHECK(fake_live_clean(&fake));
    /* A platform without pages cannot map regions. */
    fake_platform_init(&fake, fl_platform_default());
    fake.hooks.map_pages = NULL;
    c.thread_safe = false;
    CHECK_STATUS(fl_memory_create(&c, &m), FL_ERR_OUT_OF_MEMORY);
    CHECK(fake_live_clean(&fake));
}

/* Each mapping the platform refuses fails create cleanly, with nothing leaked. */
static void test_platform_refusals(void)
{
    fl_memory_config c = small_config();
    c.thread_safe = true;
    c.platform = &fake.hooks;
    for (long n = 1; n <= 10; n++) {
        fake_platform_init(&fake, fl_platform_default());
        fake_fail_nth(&fake, FAKE_ANY_FALLIBLE, n);
        fl_memory *m = NULL;
        fl_status st = fl_memory_create(&c, &m);
        if (n <= 9) {
            CHECK_STATUS(st, FL_ERR_OUT_OF_MEMORY);
            CHECK(message_has("could not map"));
        } else {
            CHECK_STATUS(st, FL_ERR_PLATFORM); /* the lock */
        }
        CHECK(fake_live_clean(&fake));
    }
    fl_memory_destroy(NULL); /* ignored */
}

static void test_regions_listing(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    CHECK_EQ_SIZE(fl_memory_get_regions(m, NULL, 0), 8);
    fl_memory_region r[3];
    memset(r, 0, sizeof r);
    CHECK_EQ_SIZE(fl_memory_get_regions(m, r, 2), 8); /* writes only 2 */
    CHECK(r[0].type == FL_MEMORY_SYSTEM && strcmp(r[0].name, "System") == 0);
    CHECK(r[0].allocator == FL_ALLOCATOR_FREELIST);
    CHECK_EQ_SIZE(r[0].size, 1 * MIB - 64 * KIB);
    CHECK(r[1].type == FL_MEMORY_VIDEO && r[1].capabilities == (FL_FLAG_CACHEABLE | FL_FLAG_DMA_CAPABLE));
    CHECK(r[2].name == NULL);
    CHECK_EQ_SIZE(fl_memory_get_regions(NULL, r, 3), 0);
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_stats(m, &s));
    CHECK(s.total_bytes <= 1 * MIB + 256 * KIB * 3 + 64 * KIB * 2 + 128 * KIB);
    CHECK(s.total_bytes > (1 * MIB + 256 * KIB * 3 + 64 * KIB * 2 + 128 * KIB) * 9 / 10);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    /* Fresh: the free lists and the linear and stack regions are one free block each; a
     * buddy area that is not a power of two is several top-level blocks. */
    fl_memory_stats t;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SYSTEM, &t));
    CHECK(t.fragmentation_pct < 0.1);
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_TEMPORARY, &t));
    CHECK(t.fragmentation_pct < 0.1);
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_VIDEO, &t));
    double formula = 100.0 * (1.0 - (double)t.largest_free_block / (double)t.free_bytes);
    CHECK(t.fragmentation_pct > formula - 1e-9 && t.fragmentation_pct < formula + 1e-9);
    fl_memory_destroy(m);
}

int main(void)
{
    RUN(test_dreamcast_profile);
    RUN(test_psp_profile);
    RUN(test_web_profile);
    RUN(test_host_and_desktop_profiles);
    RUN(test_config_default_bad_input);
    RUN(test_config_checks);
    RUN(test_backing_memory_only);
    RUN(test_platform_pages_through_hooks);
    RUN(test_platform_refusals);
    RUN(test_regions_listing);
    return harness_finish();
}
