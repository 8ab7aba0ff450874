/*
 * config.region_memory: a region placed in memory the game owns (the Dreamcast's VRAM from
 * pvr_mem_malloc, sound RAM, the PSP's eDRAM; docs/porting.md). Simulated here with static
 * blocks standing in for VRAM and sound RAM:
 * - allocations of that type land inside the game's block (aligned as asked, also when the
 *   block itself starts off a 64-byte boundary), and get_regions reports its address;
 * - with platform pages, the external regions take no mapping, and destroy gives back
 *   everything it mapped without touching the game's block (whose bytes outside what the
 *   allocator used stay as the game left them);
 * - with backing_memory, fl_memory_backing_size leaves the external regions out, and the
 *   interface fits in exactly that;
 * - refusals (nothing mapped): region_memory for a type without capacity, for Shared, and
 *   for a type on the System strategy (the platform heap).
 */
#include "memory_test_util.h"

#include "core/core.h"

#include <stdlib.h>

#define VRAM_BYTES (512 * KIB)
#define SOUND_BYTES (128 * KIB)

static _Alignas(256) unsigned char vram[VRAM_BYTES + 256];
static _Alignas(64) unsigned char sound_ram[SOUND_BYTES + 64];

static bool inside(const void *p, size_t n, const unsigned char *block, size_t size)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)block;
    return a >= b && a + n <= b + size;
}

static fl_memory_config console_config(void)
{
    fl_memory_config c = small_config();
    c.capacity[FL_MEMORY_VIDEO] = VRAM_BYTES;
    c.capacity[FL_MEMORY_AUDIO] = SOUND_BYTES;
    c.region_memory[FL_MEMORY_VIDEO] = vram;
    c.region_memory[FL_MEMORY_AUDIO] = sound_ram + 8; /* a block off the usual boundaries */
    return c;
}

static void check_regions_report(fl_memory *m)
{
    fl_memory_region regions[FL_MEMORY_TYPE_COUNT + 1];
    size_t n = fl_memory_get_regions(m, regions, FL_MEMORY_TYPE_COUNT + 1);
    bool video = false, audio = false;
    for (size_t i = 0; i < n; i++) {
        if (regions[i].type == FL_MEMORY_VIDEO && regions[i].base == vram) video = regions[i].size == VRAM_BYTES;
        if (regions[i].type == FL_MEMORY_AUDIO && regions[i].base == sound_ram + 8) audio = regions[i].size == SOUND_BYTES;
    }
    CHECK(video && audio);
}

/* Fill both external types with blocks until full; each inside its block and aligned. */
static void check_allocations(fl_memory *m)
{
    enum { MAX = 64 };
    void *live[MAX];
    size_t n = 0;
    fl_allocation a;
    while (n < MAX && fl_memory_allocate_typed(m, 16 * KIB, FL_MEMORY_VIDEO, FL_ALIGN_GPU, 0, &a) == FL_OK) {
        CHECK(inside(a.ptr, 16 * KIB, vram, VRAM_BYTES));
        CHECK(fli_is_aligned(a.ptr, FL_ALIGN_GPU));
        live[n++] = a.ptr;
    }
    CHECK(n >= 8); /* most of 512 KiB in 16 KiB blocks, bookkeeping aside */
    size_t video_blocks = n;
    while (n < MAX && fl_memory_allocate_typed(m, 4 * KIB, FL_MEMORY_AUDIO, 64, 0, &a) == FL_OK) {
        CHECK(inside(a.ptr, 4 * KIB, sound_ram + 8, SOUND_BYTES));
        CHECK(fli_is_aligned(a.ptr, 64));
        live[n++] = a.ptr;
    }
    CHECK(n - video_blocks >= 8);
    /* Video and Audio do not fall back elsewhere on a console: Video is full. */
    fl_alloc_request req;
    memset(&req, 0, sizeof req);
    req.size = 16 * KIB;
    req.preferred_type = FL_MEMORY_VIDEO;
    req.preferred_allocator = FL_ALLOCATOR_AUTO;
    CHECK_STATUS(fl_memory_allocate_request(m, &req, &a), FL_ERR_OUT_OF_MEMORY);
    for (size_t i = 0; i < n; i++) CHECK_OK(fl_memory_deallocate(m, live[i]));
    CHECK_OK(fl_memory_validate(m));
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_VIDEO, &s));
    CHECK(s.used_bytes == 0 && s.total_bytes > 0 && s.total_bytes <= VRAM_BYTES);
}

static void test_with_pages(void)
{
    static fake_platform fake;
    fake_platform_init(&fake, fl_platform_default());
    fl_memory_config c = console_config();
    c.platform = &fake.hooks;
    /* The same configuration without region_memory maps more: the two regions' pages. */
    fl_memory_config plain = c;
    plain.region_memory[FL_MEMORY_VIDEO] = NULL;
    plain.region_memory[FL_MEMORY_AUDIO] = NULL;
    fl_memory *m = make_memory(&plain);
    size_t plain_maps = fake_calls(&fake, FAKE_MAP_PAGES), plain_bytes = fake_live_map_bytes(&fake);
    fl_memory_destroy(m);

    memset(vram, 0xA5, sizeof vram);
    memset(sound_ram, 0x5A, sizeof sound_ram);
    size_t maps0 = fake_calls(&fake, FAKE_MAP_PAGES);
    m = make_memory(&c);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_MAP_PAGES) - maps0, plain_maps - 2);
    CHECK(fake_live_map_bytes(&fake) <= plain_bytes - VRAM_BYTES - SOUND_BYTES);
    check_regions_report(m);
    check_allocations(m);
    /* Trim never releases the game's memory (released pages would read back zero), and the
     * Video and Audio buddies keep their bookkeeping in the control part: after allocations
     * that wrote no data, every byte of VRAM and sound RAM is as the game left it. */
    size_t released = 0;
    CHECK_OK(fl_memory_trim(m, &released));
    size_t pattern = 0;
    for (size_t i = 0; i < VRAM_BYTES; i++) pattern += vram[i] == 0xA5;
    CHECK_MSG(pattern == VRAM_BYTES, "%zu of %zu VRAM bytes keep the pattern", pattern, (size_t)VRAM_BYTES);
    pattern = 0;
    for (size_t i = 0; i < sizeof sound_ram; i++) pattern += sound_ram[i] == 0x5A;
    CHECK_MSG(pattern == sizeof sound_ram, "%zu of %zu sound RAM bytes keep the pattern", pattern, sizeof sound_ram);
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));
    /* The last 256 bytes past the region were never written. */
    bool untouched = true;
    for (size_t i = VRAM_BYTES; i < sizeof vram; i++) untouched = untouched && vram[i] == 0xA5;
    CHECK(untouched);
}

static void test_with_backing(void)
{
    fl_memory_config c = console_config();
    fl_memory_config plain = c;
    plain.region_memory[FL_MEMORY_VIDEO] = NULL;
    plain.region_memory[FL_MEMORY_AUDIO] = NULL;
    size_t need = 0, need_plain = 0;
    CHECK_OK(fl_memory_backing_size(&c, &need));
    CHECK_OK(fl_memory_backing_size(&plain, &need_plain));
    CHECK(need + VRAM_BYTES + SOUND_BYTES <= need_plain);
    static fake_platform fake;
    fake_platform_init(&fake, fl_platform_default());
    unsigned char *block = (unsigned char *)malloc(need);
    CHECK(block != NULL);
    c.backing_memory = block;
    c.backing_size = need;
    c.platform = &fake.hooks;
    fl_memory *m = make_memory(&c);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_MAP_PAGES), 0);
    check_regions_report(m);
    check_allocations(m);
    /* Ordinary types live in the backing block. */
    fl_allocation a;
    CHECK_OK(fl_memory_allocate_typed(m, 1000, FL_MEMORY_NETWORK, 0, 0, &a));
    CHECK(inside(a.ptr, 1000, block, need));
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));
    free(block);
    /* One byte short of that size is refused. */
    block = (unsigned char *)malloc(need);
    CHECK(block != NULL);
    c.backing_memory = block;
    c.backing_size = need - 1;
    fl_memory *none = NULL;
    CHECK_STATUS(fl_memory_create(&c, &none), FL_ERR_INVALID_PARAMETERS);
    CHECK(none == NULL);
    free(block);
}

static void test_refusals(void)
{
    static fake_platform fake;
    fake_platform_init(&fake, fl_platform_default());
    fl_memory *m = NULL;

    fl_memory_config c = console_config();
    c.platform = &fake.hooks;
    c.capacity[FL_MEMORY_AUDIO] = 0;
    CHECK_STATUS(fl_memory_create(&c, &m), FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "region_memory of the Audio type") != NULL);

    c = console_config();
    c.platform = &fake.hooks;
    c.capacity[FL_MEMORY_SHARED] = 64 * KIB;
    c.region_memory[FL_MEMORY_SHARED] = sound_ram;
    CHECK_STATUS(fl_memory_create(&c, &m), FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "shared memory") != NULL);

    c = console_config();
    c.platform = &fake.hooks;
    c.strategy[FL_MEMORY_AUDIO] = FL_ALLOCATOR_SYSTEM;
    CHECK_STATUS(fl_memory_create(&c, &m), FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "platform heap") != NULL);
    size_t need;
    CHECK_STATUS(fl_memory_backing_size(&c, &need), FL_ERR_INVALID_PARAMETERS);

    CHECK(m == NULL);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_MAP_PAGES), 0);
    CHECK(fake_live_clean(&fake));
}

int main(void)
{
    RUN(test_with_pages);
    RUN(test_with_backing);
    RUN(test_refusals);
    return harness_finish();
}
