/*
 * The platform profiles (fl_memory_config_default) and the checks every configuration
 * passes before fl_memory_create lays it out. docs/platforms.md gives each number and its
 * source; the comments here say only what the code relies on.
 *
 * Main RAM on the consoles is shared by System (with the emergency reserve), Pool,
 * Temporary, Stack and Network (and Audio on the PSP): their capacities add up to the
 * budget the profile leaves the interface after the game's own image, static data and
 * thread stacks.
 */
#include "memory_internal.h"

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)

static const fl_memory_type default_fallback[FL_MEMORY_TYPE_COUNT] = {
    [FL_MEMORY_SYSTEM] = FL_MEMORY_TYPE_COUNT,   /* general memory has nowhere else to go */
    [FL_MEMORY_VIDEO] = FL_MEMORY_SYSTEM,        /* hosts: video memory is ordinary RAM */
    [FL_MEMORY_AUDIO] = FL_MEMORY_SYSTEM,
    [FL_MEMORY_NETWORK] = FL_MEMORY_SYSTEM,
    [FL_MEMORY_SHARED] = FL_MEMORY_TYPE_COUNT,   /* other memory is not shared */
    [FL_MEMORY_TEMPORARY] = FL_MEMORY_SYSTEM,
    [FL_MEMORY_STACK] = FL_MEMORY_SYSTEM,
    [FL_MEMORY_POOL] = FL_MEMORY_SYSTEM,
};

fl_allocator_type fli_default_strategy(fl_memory_type type)
{
    switch (type) {
    case FL_MEMORY_VIDEO:
    case FL_MEMORY_AUDIO: return FL_ALLOCATOR_BUDDY; /* no header in front of a block */
    case FL_MEMORY_TEMPORARY: return FL_ALLOCATOR_LINEAR;
    case FL_MEMORY_STACK: return FL_ALLOCATOR_STACK;
    case FL_MEMORY_POOL: return FL_ALLOCATOR_POOL;
    case FL_MEMORY_SYSTEM:
    case FL_MEMORY_NETWORK:
    case FL_MEMORY_SHARED:
    case FL_MEMORY_TYPE_COUNT: break;
    }
    return FL_ALLOCATOR_FREELIST;
}

/* What every profile starts from: default strategies and fallbacks, no capacity. */
static void base_profile(fl_platform platform, fl_memory_config *c)
{
    memset(c, 0, sizeof *c);
    c->profile = platform;
    for (unsigned t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        c->strategy[t] = FL_ALLOCATOR_AUTO;
        c->fallback[t] = default_fallback[t];
        c->capabilities[t] = FL_FLAG_CACHEABLE | FL_FLAG_DMA_CAPABLE;
    }
}

/* A console: main-RAM types cacheable and DMA-capable, VRAM and sound RAM DMA only, and
 * nothing falls back out of or into video or sound memory. */
static void console_memories(fl_memory_config *c, bool audio_in_main_ram)
{
    c->capabilities[FL_MEMORY_VIDEO] = FL_FLAG_DMA_CAPABLE;
    c->fallback[FL_MEMORY_VIDEO] = FL_MEMORY_TYPE_COUNT;
    if (!audio_in_main_ram) {
        c->capabilities[FL_MEMORY_AUDIO] = FL_FLAG_DMA_CAPABLE;
        c->fallback[FL_MEMORY_AUDIO] = FL_MEMORY_TYPE_COUNT;
    } else {
        c->strategy[FL_MEMORY_AUDIO] = FL_ALLOCATOR_FREELIST; /* plain main RAM: no need for buddy */
    }
    /* The specification's thresholds for machines of 32 MiB or less, counted over every
     * type: Medium at 8 MiB free, High at 2 MiB free; Low at 12 MiB, Critical when what is
     * left is no more than the emergency reserve. */
    c->total_pressure.low = 12 * MIB;
    c->total_pressure.medium = 8 * MIB;
    c->total_pressure.high = 2 * MIB;
    c->total_pressure.critical = 512 * KIB;
}

static void dreamcast(fl_memory_config *c)
{
    /* 16 MiB SDRAM: 12 MiB for the interface (see docs/platforms.md for the split). */
    c->capacity[FL_MEMORY_SYSTEM] = 6 * MIB; /* with the 512 KiB emergency reserve */
    c->capacity[FL_MEMORY_POOL] = 3 * MIB;
    c->capacity[FL_MEMORY_TEMPORARY] = 2 * MIB;
    c->capacity[FL_MEMORY_STACK] = 512 * KIB;
    c->capacity[FL_MEMORY_NETWORK] = 512 * KIB;
    c->capacity[FL_MEMORY_VIDEO] = 8 * MIB; /* PowerVR2 VRAM */
    c->capacity[FL_MEMORY_AUDIO] = 2 * MIB; /* AICA sound RAM */
    c->emergency_reserve = 512 * KIB;
    c->max_allocation = 4 * MIB;
    /* The VRAM and sound RAM buddies keep 9 bytes of bookkeeping per block in main RAM:
     * 1 KiB blocks make that 72 + 18 KiB (256-byte ones would cost 288 + 72 KiB). */
    c->buddy_min_block[FL_MEMORY_VIDEO] = 1 * KIB;
    c->buddy_min_block[FL_MEMORY_AUDIO] = 1 * KIB;
    console_memories(c, false);
}

static void psp(fl_memory_config *c)
{
    /* 32 MiB main RAM, 24 MiB of it for the game: 20 MiB for the interface. */
    c->capacity[FL_MEMORY_SYSTEM] = 8 * MIB;
    c->capacity[FL_MEMORY_POOL] = 3 * MIB;
    c->capacity[FL_MEMORY_TEMPORARY] = 3 * MIB;
    c->capacity[FL_MEMORY_STACK] = 1 * MIB;
    c->capacity[FL_MEMORY_NETWORK] = 1 * MIB;
    c->capacity[FL_MEMORY_AUDIO] = 4 * MIB; /* in main RAM */
    c->capacity[FL_MEMORY_VIDEO] = 2 * MIB; /* eDRAM of the GE, frame buffers included */
    c->emergency_reserve = 512 * KIB;
    c->max_allocation = 8 * MIB;
    c->buddy_min_block[FL_MEMORY_VIDEO] = 1 * KIB; /* 18 KiB of main RAM for the eDRAM's buddy */
    console_memories(c, true);
}

/* x * num / den for x, num <= den: no overflow where x * num would (den > 0). */
static size_t scale_by(size_t x, uint64_t num, uint64_t den)
{
    return (size_t)((uint64_t)x / den * num + (uint64_t)x % den * num / den);
}

/* The WEB figures below are for a heap of at least WEB_FULL_HEAP bytes; the budget is at
 * most three quarters of the heap's maximum (static data, the stack and JavaScript-side
 * mallocs live in the same linear memory), so a smaller MAXIMUM_MEMORY (or a fixed
 * INITIAL_MEMORY without growth) scales every figure down by heap max / WEB_FULL_HEAP,
 * each rounded down to a 64 KiB wasm page (at least one). */
#define WEB_FULL_BUDGET ((uint64_t)103 * MIB) /* the sum of the capacities below */
#define WEB_FULL_HEAP (WEB_FULL_BUDGET * 4u / 3u)
#define WEB_GRAIN ((size_t)64 * KIB)

static void web(fl_memory_config *c)
{
    /* The System type takes heap blocks on demand (wasm memory grows) up to its cap. */
    c->strategy[FL_MEMORY_SYSTEM] = FL_ALLOCATOR_SYSTEM;
    c->capacity[FL_MEMORY_SYSTEM] = 64 * MIB;
    c->capacity[FL_MEMORY_POOL] = 8 * MIB;
    c->capacity[FL_MEMORY_TEMPORARY] = 8 * MIB;
    c->capacity[FL_MEMORY_STACK] = 1 * MIB;
    c->capacity[FL_MEMORY_NETWORK] = 2 * MIB;
    c->capacity[FL_MEMORY_VIDEO] = 16 * MIB; /* staging for WebGL uploads */
    c->capacity[FL_MEMORY_AUDIO] = 4 * MIB;
    c->strategy[FL_MEMORY_AUDIO] = FL_ALLOCATOR_FREELIST;
    c->emergency_reserve = 1 * MIB;
    c->max_allocation = 32 * MIB;
    c->total_pressure.low = 48 * MIB;
    c->total_pressure.medium = 24 * MIB;
    c->total_pressure.high = 8 * MIB;
    c->total_pressure.critical = 2 * MIB;
    /* The heap's maximum: Emscripten's physical_memory (0 elsewhere when unknown; on other
     * platforms the machine's RAM, which only a tiny machine makes matter). */
    uint64_t heap_max = fli_physical_memory(fl_platform_default());
    if (heap_max == 0 || heap_max >= WEB_FULL_HEAP) return;
    size_t *sizes[] = {&c->capacity[FL_MEMORY_SYSTEM],  &c->capacity[FL_MEMORY_POOL],
                       &c->capacity[FL_MEMORY_TEMPORARY], &c->capacity[FL_MEMORY_STACK],
                       &c->capacity[FL_MEMORY_NETWORK], &c->capacity[FL_MEMORY_VIDEO],
                       &c->capacity[FL_MEMORY_AUDIO],   &c->emergency_reserve,
                       &c->max_allocation,              &c->total_pressure.low,
                       &c->total_pressure.medium,       &c->total_pressure.high,
                       &c->total_pressure.critical};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t v = scale_by(*sizes[i], heap_max, WEB_FULL_HEAP) & ~(WEB_GRAIN - 1);
        *sizes[i] = v != 0 ? v : WEB_GRAIN;
    }
    /* The reserve must stay below the System capacity (both at least one grain). */
    if (c->emergency_reserve >= c->capacity[FL_MEMORY_SYSTEM]) c->capacity[FL_MEMORY_SYSTEM] += WEB_GRAIN;
}

/* Budgets as fractions of the System capacity s (HOST and DESKTOP). */
static void scaled_host(fl_memory_config *c, size_t s)
{
    c->capacity[FL_MEMORY_SYSTEM] = s;
    c->capacity[FL_MEMORY_POOL] = s / 8;
    c->capacity[FL_MEMORY_TEMPORARY] = s / 16;
    c->capacity[FL_MEMORY_STACK] = s / 64;
    c->capacity[FL_MEMORY_NETWORK] = s / 32;
    c->capacity[FL_MEMORY_VIDEO] = s / 4;
    c->capacity[FL_MEMORY_AUDIO] = s / 16;
    c->emergency_reserve = s / 64;
    /* Audio buffers are KiB-sized: 256-byte units keep the buddy's bookkeeping (9 bytes a
     * unit, in the control part) at 1/28 of the region instead of 1/7. */
    c->buddy_min_block[FL_MEMORY_AUDIO] = 256;
    /* Operating-system shared memory, where the platform has it (a 4 GiB System gets
     * 32 MiB; see docs/platforms.md for why it stays small). */
    if (fli_has_shared(fl_platform_default())) c->capacity[FL_MEMORY_SHARED] = s / 128;
    c->thread_safe = true;
    c->os_pressure = true; /* the machine is shared with other programs */
}

static void desktop(fl_memory_config *c)
{
    /* 1 GiB of System on 64-bit targets, a quarter of that where size_t has 32 bits. */
    size_t s = sizeof(size_t) >= 8 ? 1024 * MIB : 256 * MIB;
    scaled_host(c, s);
}

static void host(fl_memory_config *c)
{
    fli_os os = {fl_platform_default()};
    uint64_t physical = fli_os_physical_memory(&os);
    if (physical == 0) physical = (uint64_t)4 << 30; /* unknown: assume a 4 GiB machine */
    uint64_t cap = sizeof(size_t) >= 8 ? (uint64_t)4 << 30 : (uint64_t)512 << 20;
    uint64_t s = physical / 4;
    if (s > cap) s = cap;
    if (s < 64u * MIB) s = 64u * MIB;
    /* Whole MiB, so that every fraction below is a whole number of pages. */
    scaled_host(c, (size_t)(s & ~(uint64_t)(MIB - 1)));
}

fl_status fl_memory_config_default(fl_platform platform, fl_memory_config *out)
{
    if (out == NULL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_config_default: out is NULL");
    switch (platform) {
    case FL_PLATFORM_HOST: base_profile(platform, out); host(out); return FL_OK;
    case FL_PLATFORM_DREAMCAST: base_profile(platform, out); dreamcast(out); return FL_OK;
    case FL_PLATFORM_PSP: base_profile(platform, out); psp(out); return FL_OK;
    case FL_PLATFORM_WEB:
        base_profile(platform, out);
        web(out);
        out->os_pressure = true; /* the heap against its maximum */
        return FL_OK;
    case FL_PLATFORM_DESKTOP: base_profile(platform, out); desktop(out); return FL_OK;
    }
    return fli_fail(FL_ERR_INVALID_PARAMETERS, "platform %d is not a known profile", (int)platform);
}

/* ---- checks every configuration passes ------------------------------------------------ */

/* Non-zero thresholds must not increase from Low to Critical; a 0 leaves that level
 * without a threshold of its own (it starts where the next higher level does). The
 * hysteresis may not exceed `capacity`, the bytes the thresholds apply to (the type's, or
 * the sum of them for total). */
static fl_status check_thresholds(const fl_pressure_thresholds *p, size_t capacity, const char *what)
{
    if (p->hysteresis > capacity)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "%s pressure hysteresis %zu exceeds its capacity %zu: its levels could never fall", what,
                        p->hysteresis, capacity);
    const size_t t[4] = {p->low, p->medium, p->high, p->critical};
    bool ordered = true;
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            if (t[i] != 0 && t[j] > t[i]) ordered = false;
    if (!ordered)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "%s pressure thresholds must not increase from Low to Critical (%zu, %zu, %zu, %zu)", what,
                        p->low, p->medium, p->high, p->critical);
    return FL_OK;
}

fl_status fli_check_config(const fl_memory_config *c)
{
    if ((unsigned)c->profile > (unsigned)FL_PLATFORM_DESKTOP)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "profile %d is not a known platform", (int)c->profile);
    bool any = false;
    size_t capacity_sum = 0;
    for (unsigned t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        const char *name = fl_memory_type_str((fl_memory_type)t);
        unsigned s = (unsigned)c->strategy[t];
        if (s >= FL_ALLOCATOR_TYPE_COUNT && c->strategy[t] != FL_ALLOCATOR_AUTO)
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "strategy %u of the %s type is not an allocator type", s, name);
        if (c->capabilities[t] & ~(FL_FLAG_CACHEABLE | FL_FLAG_DMA_CAPABLE))
            return fli_fail(FL_ERR_INVALID_PARAMETERS,
                            "capabilities %u of the %s type: only FL_FLAG_CACHEABLE and FL_FLAG_DMA_CAPABLE describe memory",
                            (unsigned)c->capabilities[t], name);
        if ((unsigned)c->fallback[t] > (unsigned)FL_MEMORY_TYPE_COUNT)
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "fallback %d of the %s type is not a memory type", (int)c->fallback[t],
                            name);
        fl_status st = check_thresholds(&c->pressure[t], c->capacity[t], name);
        if (st != FL_OK) return st;
        if (c->capacity[t] == 0) continue;
        capacity_sum = c->capacity[t] > SIZE_MAX - capacity_sum ? SIZE_MAX : capacity_sum + c->capacity[t];
        any = true;
        fl_allocator_type strategy = c->strategy[t] == FL_ALLOCATOR_AUTO ? fli_default_strategy((fl_memory_type)t)
                                                                           : c->strategy[t];
        /* The Shared region is served inside its shared mapping; heap blocks are private. */
        if (t == FL_MEMORY_SHARED && strategy == FL_ALLOCATOR_SYSTEM)
            return fli_fail(FL_ERR_INVALID_PARAMETERS,
                            "the Shared type cannot use the System strategy: the platform heap is not shared "
                            "between processes");
        if (strategy == FL_ALLOCATOR_SYSTEM && c->backing_memory != NULL)
            return fli_fail(FL_ERR_INVALID_PARAMETERS,
                            "the %s type uses the System strategy (the platform heap), which backing_memory excludes",
                            name);
    }
    if (!any) return fli_fail(FL_ERR_INVALID_PARAMETERS, "no memory type has a capacity");
    fl_status st = check_thresholds(&c->total_pressure, capacity_sum, "total");
    if (st != FL_OK) return st;

    size_t previous = 0;
    for (unsigned i = 0; i < FL_POOL_CLASS_MAX && c->pool_classes[i] != 0; i++) {
        if (c->pool_classes[i] < sizeof(void *))
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "pool class %u: block size %zu is below a pointer (%zu)", i,
                            c->pool_classes[i], sizeof(void *));
        if (c->pool_classes[i] <= previous)
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "pool class %u: block size %zu does not ascend from %zu", i,
                            c->pool_classes[i], previous);
        if (c->pool_classes[i] > (SIZE_MAX >> 4))
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "pool class %u: block size %zu is too large", i,
                            c->pool_classes[i]);
        previous = c->pool_classes[i];
    }

    if (c->emergency_reserve != 0) {
        if (c->capacity[FL_MEMORY_SYSTEM] == 0)
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "an emergency reserve of %zu bytes needs a System type",
                            c->emergency_reserve);
        if (c->emergency_reserve >= c->capacity[FL_MEMORY_SYSTEM])
            return fli_fail(FL_ERR_INVALID_PARAMETERS,
                            "the emergency reserve (%zu bytes) must be smaller than the System capacity (%zu)",
                            c->emergency_reserve, c->capacity[FL_MEMORY_SYSTEM]);
    }
    if (c->debug & ~(uint32_t)FL_DEBUG_ALL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "debug options %u include unknown bits", (unsigned)c->debug);
#if defined(FLI_NO_DEBUG)
    if (c->debug != 0)
        return fli_fail(FL_ERR_NOT_SUPPORTED, "debug options %u were compiled out (FLMEM_DEBUG=OFF)", (unsigned)c->debug);
#endif
    if (c->max_records > (SIZE_MAX / 4) / sizeof(fli_record))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "max_records %zu is too large", c->max_records);
    return FL_OK;
}
