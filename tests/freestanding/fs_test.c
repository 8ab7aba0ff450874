/*
 * The allocator tests that run on the Dreamcast's CPU (SH-4, under qemu-sh4) with no C
 * library at all, and on the host as part of the ordinary suite. Every strategy that works
 * inside caller memory gets a randomized run against a model of its live blocks: each block
 * carries a byte pattern checked before it is freed, validate() and the statistics
 * identities are checked every few hundred operations, and bad frees must be refused.
 * The platform-backed paths must fail cleanly: there are no pages, heap or locks here
 * (the freestanding table has a page size and nothing else). The memory interface runs
 * the way a console port sets it up (docs/porting.md): backing memory for main RAM and
 * region_memory blocks for VRAM and sound RAM.
 */
#include "fs.h"

#include <flight/memory.h>

#include <stdint.h>

#ifndef FS_OPS
#define FS_OPS 20000
#endif
#define ARENA_BYTES (256u * 1024u)
#define MAX_LIVE 192

static _Alignas(64) unsigned char arena[ARENA_BYTES];
static int failures;
static int checks_passed, checks_failed;

/* ---- text output without printf --------------------------------------------------------- */

static size_t text_length(const char *s)
{
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

static void say(const char *s) { fs_write(s, text_length(s)); }

static void say_number(unsigned long v)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    char out[24];
    for (int i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    fs_write(out, (size_t)n);
}

#define EXPECT(cond)                                                                           \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            say("  check failed at line ");                                                    \
            say_number((unsigned long)__LINE__);                                               \
            say(": " #cond "\n    last error: ");                                              \
            say(fl_last_error()->message);                                                     \
            say("\n");                                                                         \
            failures++;                                                                        \
            return;                                                                            \
        }                                                                                      \
    } while (0)

/* ---- model ------------------------------------------------------------------------------ */

typedef struct live_block {
    unsigned char *ptr;
    size_t size;
    uint32_t id;
} live_block;

static live_block live[MAX_LIVE];
static int live_count;
static uint32_t rng_state = 0x2545F491u;

static uint32_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static unsigned char pattern(uint32_t id, size_t i) { return (unsigned char)(id * 31u + i * 7u + 0x5Au); }

static void fill(live_block *b)
{
    for (size_t i = 0; i < b->size; i++) b->ptr[i] = pattern(b->id, i);
}

static int intact(const live_block *b)
{
    for (size_t i = 0; i < b->size; i++)
        if (b->ptr[i] != pattern(b->id, i)) return 0;
    return 1;
}

static int stats_hold(const fl_allocator *a)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    return s.used_bytes + s.free_bytes == s.total_capacity && s.peak_used_bytes >= s.used_bytes &&
           s.largest_free_block <= s.free_bytes && s.allocation_count == (size_t)live_count &&
           s.total_allocations - s.total_deallocations == (uint64_t)s.allocation_count;
}

static fl_allocator *make(fl_allocator_type type)
{
    fl_allocator_config cfg = {0};
    cfg.type = type;
    cfg.buffer = arena;
    cfg.size = sizeof arena;
    cfg.block_size = 48;
    fl_allocator *a = 0;
    return fl_allocator_create(&cfg, &a) == FL_OK ? a : 0;
}

static size_t random_size(fl_allocator_type type)
{
    if (type == FL_ALLOCATOR_POOL) return 1 + next_random() % 48u;
    uint32_t r = next_random();
    return 1 + (r % 4u == 0 ? r % 4096u : r % 200u);
}

/* One randomized run. Frees go to a random block, except on the stack (the top only) and
 * the linear allocator (which releases by rewinding to a mark taken at the start). */
static void randomized_run(fl_allocator_type type)
{
    fl_allocator *a = make(type);
    EXPECT(a != 0);
    live_count = 0;
    uint32_t next_id = 1;
    fl_marker start = fl_allocator_mark(a);
    for (int op = 0; op < FS_OPS; op++) {
        int want_alloc = live_count == 0 || (live_count < MAX_LIVE && next_random() % 100u < 55u);
        if (want_alloc) {
            size_t alignment = (size_t)1 << (next_random() % 6u); /* 1..32 */
            if (type == FL_ALLOCATOR_POOL && alignment > FL_ALIGN_DEFAULT) alignment = FL_ALIGN_DEFAULT;
            live_block b = {0, random_size(type), next_id++};
            void *p = 0;
            fl_status st = fl_allocator_allocate(a, b.size, alignment, &p);
            EXPECT(st == FL_OK || st == FL_ERR_OUT_OF_MEMORY);
            if (st != FL_OK) continue;
            EXPECT(((uintptr_t)p & (alignment - 1)) == 0);
            b.ptr = p;
            fill(&b);
            live[live_count++] = b;
        } else if (type == FL_ALLOCATOR_LINEAR) {
            for (int i = 0; i < live_count; i++) EXPECT(intact(&live[i]));
            EXPECT(fl_allocator_rewind(a, start) == FL_OK);
            live_count = 0;
        } else {
            int victim = type == FL_ALLOCATOR_STACK ? live_count - 1 : (int)(next_random() % (uint32_t)live_count);
            EXPECT(intact(&live[victim]));
            if (type == FL_ALLOCATOR_STACK && victim > 0) /* not the top: refused, nothing changes */
                EXPECT(fl_allocator_deallocate(a, live[victim - 1].ptr) == FL_ERR_INVALID_STATE);
            EXPECT(fl_allocator_deallocate(a, live[victim].ptr) == FL_OK);
            if (type != FL_ALLOCATOR_STACK) /* freeing it again is refused */
                EXPECT(fl_allocator_deallocate(a, live[victim].ptr) == FL_ERR_INVALID_PARAMETERS);
            live[victim] = live[--live_count];
        }
        if (op % 500 == 0) {
            EXPECT(fl_allocator_validate(a) == FL_OK);
            EXPECT(stats_hold(a));
        }
    }
    for (int i = 0; i < live_count; i++) EXPECT(intact(&live[i]));
    EXPECT(fl_allocator_validate(a) == FL_OK);
    EXPECT(stats_hold(a));
    fl_allocator_reset(a);
    live_count = 0;
    EXPECT(stats_hold(a));
    EXPECT(fl_allocator_validate(a) == FL_OK);
    static unsigned char outside[16];
    EXPECT(fl_allocator_deallocate(a, outside) == FL_ERR_INVALID_PARAMETERS);
    fl_allocator_destroy(a);
}

/* With no operating system, the platform table has a page size and nothing else, and
 * whatever needs more fails cleanly. */
static void platform_paths_fail_cleanly(void)
{
    const fl_platform_hooks *p = fl_platform_default();
    EXPECT(p != 0 && p->page_size != 0 && p->page_size(p->user) == 4096);
    EXPECT(p->map_pages == 0 && p->unmap_pages == 0 && p->release_pages == 0);
    EXPECT(p->heap_alloc == 0 && p->heap_free == 0);
    EXPECT(p->lock_init == 0 && p->lock_acquire == 0 && p->lock_release == 0 && p->lock_destroy == 0);
    EXPECT(p->cond_init == 0 && p->cond_wait == 0 && p->cond_broadcast == 0 && p->cond_destroy == 0);
    EXPECT(p->shared_map == 0 && p->shared_unmap == 0);
    EXPECT(p->system_memory == 0 && p->physical_memory == 0 && p->now_ns == 0 && p->pressure_stall == 0);

    fl_allocator_config cfg = {0};
    fl_allocator *a = 0;
    cfg.type = FL_ALLOCATOR_FREELIST;
    cfg.size = 65536; /* no buffer: pages would be needed */
    EXPECT(fl_allocator_create(&cfg, &a) == FL_ERR_NOT_SUPPORTED && a == 0);
    cfg.type = FL_ALLOCATOR_POOL;
    cfg.block_size = 64;
    EXPECT(fl_allocator_create(&cfg, &a) == FL_ERR_NOT_SUPPORTED && a == 0);
    cfg.type = FL_ALLOCATOR_SYSTEM;
    cfg.block_size = 0;
    EXPECT(fl_allocator_create(&cfg, &a) == FL_ERR_NOT_SUPPORTED && a == 0);
    cfg.type = FL_ALLOCATOR_FREELIST;
    cfg.buffer = arena;
    cfg.size = sizeof arena;
    cfg.thread_safe = 1; /* no locks here */
    EXPECT(fl_allocator_create(&cfg, &a) == FL_ERR_PLATFORM && a == 0);
}

/* ---- the memory interface as a console port uses it ------------------------------------- */

/* A Dreamcast-shaped interface in miniature: main-RAM types carved from a backing block,
 * Video and Audio in blocks of their own standing in for VRAM (pvr_mem_malloc) and sound
 * RAM - docs/porting.md's recipe, with no platform hook called at all. */
static _Alignas(64) unsigned char console_main_ram[160u * 1024u];
static _Alignas(64) unsigned char console_vram[64u * 1024u];
static _Alignas(64) unsigned char console_sound_ram[32u * 1024u];

static int within(const void *p, const unsigned char *block, size_t size)
{
    return (uintptr_t)p >= (uintptr_t)block && (uintptr_t)p < (uintptr_t)block + size;
}

static void console_interface(void)
{
    fl_memory_config c;
    EXPECT(fl_memory_config_default(FL_PLATFORM_DREAMCAST, &c) == FL_OK);
    EXPECT(!c.os_pressure && !c.thread_safe);
    for (unsigned t = 0; t < FL_MEMORY_TYPE_COUNT; t++) c.capacity[t] = 0;
    c.capacity[FL_MEMORY_SYSTEM] = 40u * 1024u;
    c.capacity[FL_MEMORY_POOL] = 16u * 1024u;
    c.capacity[FL_MEMORY_TEMPORARY] = 16u * 1024u;
    c.capacity[FL_MEMORY_STACK] = 8u * 1024u;
    c.capacity[FL_MEMORY_NETWORK] = 8u * 1024u;
    c.capacity[FL_MEMORY_VIDEO] = sizeof console_vram;
    c.capacity[FL_MEMORY_AUDIO] = sizeof console_sound_ram;
    for (unsigned i = 0; i < FL_POOL_CLASS_MAX; i++) c.pool_classes[i] = i < 4 ? (size_t)16 << i : 0; /* 16..128 */
    c.emergency_reserve = 4u * 1024u;
    c.max_allocation = 0;
    c.total_pressure.low = c.total_pressure.medium = c.total_pressure.high = c.total_pressure.critical = 0;
    c.region_memory[FL_MEMORY_VIDEO] = console_vram;
    c.region_memory[FL_MEMORY_AUDIO] = console_sound_ram;
    size_t need = 0;
    EXPECT(fl_memory_backing_size(&c, &need) == FL_OK && need <= sizeof console_main_ram);
    c.backing_memory = console_main_ram;
    c.backing_size = need;
    fl_memory *m = 0;
    EXPECT(fl_memory_create(&c, &m) == FL_OK && m != 0);

    fl_allocation texture, voice, object, frame;
    EXPECT(fl_memory_allocate_typed(m, 8192, FL_MEMORY_VIDEO, FL_ALIGN_GPU, 0, &texture) == FL_OK);
    EXPECT(within(texture.ptr, console_vram, sizeof console_vram) && ((uintptr_t)texture.ptr & (FL_ALIGN_GPU - 1)) == 0);
    EXPECT(fl_memory_allocate_typed(m, 4096, FL_MEMORY_AUDIO, 32, 0, &voice) == FL_OK);
    EXPECT(within(voice.ptr, console_sound_ram, sizeof console_sound_ram));
    EXPECT(fl_memory_allocate_typed(m, 48, FL_MEMORY_SYSTEM, 0, 0, &object) == FL_OK);
    EXPECT(within(object.ptr, console_main_ram, sizeof console_main_ram));
    fl_marker mark = fl_memory_mark(m, FL_MEMORY_TEMPORARY);
    EXPECT(fl_memory_allocate_typed(m, 1000, FL_MEMORY_TEMPORARY, 0, 0, &frame) == FL_OK);
    EXPECT(fl_memory_rewind(m, FL_MEMORY_TEMPORARY, mark) == FL_OK);

    /* Video is full past its 64 KiB: a console does not fall back into main RAM. */
    fl_allocation big;
    EXPECT(fl_memory_allocate_typed(m, sizeof console_vram, FL_MEMORY_VIDEO, 0, 0, &big) == FL_ERR_OUT_OF_MEMORY);
    fl_pressure_info info;
    EXPECT(fl_memory_get_pressure(m, FL_MEMORY_VIDEO, &info) == FL_OK && info.total_bytes <= sizeof console_vram);
    /* No OS here: the OS signal is off, and gc_hint has nobody to tell. */
    EXPECT(fl_memory_poll_os_pressure(m, 0) == FL_ERR_NOT_SUPPORTED);
    EXPECT(fl_memory_gc_hint(m) == FL_OK);

    EXPECT(fl_memory_deallocate(m, texture.ptr) == FL_OK);
    EXPECT(fl_memory_deallocate(m, voice.ptr) == FL_OK);
    EXPECT(fl_memory_deallocate(m, object.ptr) == FL_OK);
    EXPECT(fl_memory_deallocate(m, object.ptr) != FL_OK); /* twice: refused */
    EXPECT(fl_memory_validate(m) == FL_OK);
    fl_memory_stats st;
    EXPECT(fl_memory_get_stats(m, &st) == FL_OK && st.used_bytes == 0);
    fl_memory_destroy(m);

    /* With os_pressure asked of a platform without readings: refused, not invented (the
     * host's default table has them). */
    c.os_pressure = 1;
    EXPECT(fl_memory_create(&c, &m) == FL_OK);
#if defined(FLI_FREESTANDING)
    EXPECT(fl_memory_poll_os_pressure(m, 0) == FL_ERR_PLATFORM);
#else
    EXPECT(fl_memory_poll_os_pressure(m, 0) == FL_OK);
#endif
    fl_memory_destroy(m);
}

static void run(const char *name, void (*check)(void))
{
    int before = failures;
    check();
    if (failures == before) checks_passed++;
    else checks_failed++;
    say(failures == before ? "ok   " : "FAIL ");
    say(name);
    say("\n");
}

static void linear_run(void) { randomized_run(FL_ALLOCATOR_LINEAR); }
static void stack_run(void) { randomized_run(FL_ALLOCATOR_STACK); }
static void pool_run(void) { randomized_run(FL_ALLOCATOR_POOL); }
static void buddy_run(void) { randomized_run(FL_ALLOCATOR_BUDDY); }
static void freelist_run(void) { randomized_run(FL_ALLOCATOR_FREELIST); }

int fs_main(void)
{
    say("flight-memory freestanding allocator test (");
    say_number((unsigned long)(sizeof(void *) * 8u));
    say("-bit pointers)\n");
    run("linear", linear_run);
    run("stack", stack_run);
    run("pool", pool_run);
    run("buddy", buddy_run);
    run("freelist", freelist_run);
    run("memory interface, console layout", console_interface);
#if defined(FLI_FREESTANDING)
    run("platform paths fail cleanly", platform_paths_fail_cleanly);
#else
    (void)platform_paths_fail_cleanly; /* the host has pages, a heap and locks */
#endif
    say_number((unsigned long)checks_passed);
    say(" passed, ");
    say_number((unsigned long)checks_failed);
    say(" failed\n");
    return checks_failed == 0 ? 0 : 1;
}
