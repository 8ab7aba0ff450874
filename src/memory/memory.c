/*
 * Creating and destroying a memory interface: the layout of its control block, records,
 * bitmaps and regions, the allocators that serve each region, and get_regions.
 *
 * Layout. The control part is one block: the fl_memory struct, the record table, then the
 * liveness bitmaps of the linear and stack regions, each piece on a FLI_REGION_ALIGN
 * boundary. Each region is a separate buffer of exactly its capacity (the System region's
 * capacity minus the emergency reserve, which is a buffer of its own):
 *
 *   backing_memory:  | control | records | bitmaps | buddy ctl | region | ... | reserve |
 *                     (each piece aligned to FLI_REGION_ALIGN inside the caller's block;
 *                      a Video/Audio buddy region to FL_ALIGN_PAGE, see below)
 *   platform pages:  one mapping for the control part, one mapping per region
 *                    (a region served by the platform heap has no buffer at all)
 *
 * The Shared region is always a mapping of an operating-system shared-memory object
 * (the platform's shared_map), never pages of the caller's block: a process forked after
 * create sees the same bytes. Without a shared_map hook, or with backing memory (which
 * promises that everything lives in the caller's block), it is left out: the Shared type
 * then has capacity 0, whatever the configuration asked.
 *
 * A type with region_memory (VRAM, sound RAM the game got from its SDK) has its region in
 * that block instead: no mapping, no share of backing memory, nothing to unmap or trim.
 *
 * With backing memory nothing after this file's create calls the platform for memory: the
 * allocators get their buffers, and the interface's own lock is the only platform object
 * (thread_safe only).
 *
 * A pool region is cut into one buffer per size class, in class order (see pool_setup);
 * deallocate finds the class of a pointer through chunk_class (memory_internal.h).
 *
 * A Video or Audio region served by the buddy uses its external mode: the whole region
 * buffer is managed memory the buddy never reads or writes, and its control block, map and
 * links ("buddy ctl", fl_buddy_control_size bytes: 9 per buddy_min_block unit) sit in the
 * control part. The buddy aligns blocks to its base's own alignment, so such a region
 * starts on a page (its piece of backing memory carries the slack for that).
 */
#include "memory_internal.h"

/* Everything the layout decides before any memory is taken. */
typedef struct plan {
    size_t region_size[FLI_REGION_COUNT]; /* buffer bytes; 0: no buffer */
    fl_allocator_type strategy[FLI_REGION_COUNT];
    bool present[FLI_REGION_COUNT];
    size_t record_slots;
    size_t records_offset, tracks_offset[FLI_REGION_COUNT], control_bytes;
    bool external[FLI_REGION_COUNT];        /* a buddy with its bookkeeping in the control part */
    size_t min_block[FLI_REGION_COUNT];     /* buddy regions */
    size_t buddy_offset[FLI_REGION_COUNT], buddy_bytes[FLI_REGION_COUNT]; /* external: control */
    size_t region_offset[FLI_REGION_COUNT]; /* inside backing memory, after the control part */
    size_t backing_bytes;                   /* what backing_size must be (alignment slack included) */
} plan;

static bool add_checked(size_t *acc, size_t x)
{
    if (*acc > SIZE_MAX - x) return false;
    *acc += x;
    return true;
}

static bool add_aligned(size_t *acc, size_t x)
{
    size_t rounded;
    if (!fli_align_up_checked(x, FLI_REGION_ALIGN, &rounded)) return false;
    return add_checked(acc, rounded);
}

/* region_memory: the game's own block for a region (VRAM, sound RAM). It replaces the
 * region's pages or its share of backing_memory; the heap strategy has no buffer to give,
 * and Shared must be an OS shared-memory object. */
static fl_status check_region_memory(const fl_memory_config *cfg)
{
    for (unsigned t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        if (cfg->region_memory[t] == NULL) continue;
        const char *name = fl_memory_type_str((fl_memory_type)t);
        fl_allocator_type s = cfg->strategy[t] == FL_ALLOCATOR_AUTO ? fli_default_strategy((fl_memory_type)t)
                                                                    : cfg->strategy[t];
        if (cfg->capacity[t] == 0)
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "region_memory of the %s type is set but its capacity is 0", name);
        if (t == FL_MEMORY_SHARED || s == FL_ALLOCATOR_SYSTEM)
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "region_memory cannot serve the %s type: %s", name,
                            t == FL_MEMORY_SHARED ? "it must be operating-system shared memory"
                                                  : "its System strategy takes blocks from the platform heap");
    }
    return FL_OK;
}

/* `backed`: the layout is for backing memory (which leaves the Shared region out). */
static fl_status make_plan(const fl_memory_config *cfg, bool backed, plan *p)
{
    fl_status st = fli_check_config(cfg);
    if (st == FL_OK) st = check_region_memory(cfg);
    if (st != FL_OK) return st;
    memset(p, 0, sizeof *p);
    bool shared_ok = !backed && fli_has_shared(fli_platform_or_default(cfg->platform));
    bool any = false;
    for (unsigned t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        if (cfg->capacity[t] == 0 || (t == FL_MEMORY_SHARED && !shared_ok)) continue;
        any = true;
        p->present[t] = true;
        p->strategy[t] = cfg->strategy[t] == FL_ALLOCATOR_AUTO ? fli_default_strategy((fl_memory_type)t)
                                                               : cfg->strategy[t];
        p->region_size[t] = p->strategy[t] == FL_ALLOCATOR_SYSTEM ? 0 : cfg->capacity[t];
    }
    if (!any)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "no memory type has a capacity here: the Shared type's %zu bytes need operating-system "
                        "shared memory, which %s",
                        cfg->capacity[FL_MEMORY_SHARED],
                        backed ? "backing_memory leaves out" : "this platform does not provide");
    if (cfg->emergency_reserve != 0) {
        p->present[FLI_RESERVE] = true;
        p->strategy[FLI_RESERVE] = FL_ALLOCATOR_FREELIST;
        p->region_size[FLI_RESERVE] = cfg->emergency_reserve;
        if (p->region_size[FL_MEMORY_SYSTEM] != 0) p->region_size[FL_MEMORY_SYSTEM] -= cfg->emergency_reserve;
    }

    size_t max_records = fli_max_records(cfg);
    p->record_slots = fli_registry_slots(max_records);
    size_t at = 0;
    bool ok = add_aligned(&at, sizeof(struct fl_memory));
    p->records_offset = at;
    ok = ok && add_aligned(&at, p->record_slots * sizeof(fli_record));
    for (unsigned r = 0; r < FLI_REGION_COUNT && ok; r++) {
        if (!p->present[r] || (p->strategy[r] != FL_ALLOCATOR_LINEAR && p->strategy[r] != FL_ALLOCATOR_STACK)) continue;
        p->tracks_offset[r] = at;
        ok = add_aligned(&at, fli_track_bytes(p->region_size[r]));
    }
    for (unsigned r = 0; r < FL_MEMORY_TYPE_COUNT && ok; r++) {
        if (!p->present[r] || p->strategy[r] != FL_ALLOCATOR_BUDDY) continue;
        p->min_block[r] = cfg->buddy_min_block[r] ? cfg->buddy_min_block[r]
                                                  : r == FL_MEMORY_VIDEO ? FL_ALIGN_GPU : 0;
        if (r != FL_MEMORY_VIDEO && r != FL_MEMORY_AUDIO) continue;
        p->external[r] = true;
        p->buddy_bytes[r] = fl_buddy_control_size(p->region_size[r], p->min_block[r]);
        if (p->buddy_bytes[r] == 0) {
            char why[FLI_WHY_BYTES];
            fli_copy_message(why);
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "the %s region (%zu bytes) cannot be a buddy: %s",
                            fl_memory_type_str((fl_memory_type)r), p->region_size[r], why);
        }
        p->buddy_offset[r] = at;
        ok = add_aligned(&at, p->buddy_bytes[r]);
    }
    p->control_bytes = at;
    for (unsigned r = 0; r < FLI_REGION_COUNT && ok; r++) {
        p->region_offset[r] = at;
        bool external = r < FL_MEMORY_TYPE_COUNT && cfg->region_memory[r] != NULL; /* not in backing memory */
        if (p->region_size[r] != 0 && !external) ok = add_aligned(&at, p->region_size[r]);
        /* Room to start an external buddy's region on a page (create aligns it). */
        if (p->external[r] && !external) ok = ok && add_checked(&at, FL_ALIGN_PAGE - FLI_REGION_ALIGN);
    }
    /* The caller's block may start anywhere: room to align it. */
    ok = ok && add_checked(&at, FLI_REGION_ALIGN - 1);
    if (!ok) return fli_fail(FL_ERR_INVALID_PARAMETERS, "the capacities add up to more than size_t can hold");
    p->backing_bytes = at;
    return FL_OK;
}

fl_status fl_memory_backing_size(const fl_memory_config *config, size_t *out)
{
    if (config == NULL || out == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_backing_size: %s is NULL", config ? "out" : "config");
    fl_memory_config probe = *config;
    probe.backing_memory = NULL; /* the question is asked before the block exists */
    for (unsigned t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        fl_allocator_type s = probe.strategy[t] == FL_ALLOCATOR_AUTO ? fli_default_strategy((fl_memory_type)t)
                                                                     : probe.strategy[t];
        if (probe.capacity[t] != 0 && s == FL_ALLOCATOR_SYSTEM)
            return fli_fail(FL_ERR_INVALID_PARAMETERS,
                            "the %s type uses the System strategy (the platform heap), which backing_memory excludes",
                            fl_memory_type_str((fl_memory_type)t));
    }
    plan p;
    fl_status st = make_plan(&probe, true, &p);
    if (st != FL_OK) return st;
    *out = p.backing_bytes;
    return FL_OK;
}

/* ---- regions ------------------------------------------------------------------------- */

static const char *region_name(unsigned r)
{
    return r == FLI_RESERVE ? "Emergency reserve" : fl_memory_type_str((fl_memory_type)r);
}

static fl_status create_allocator(fl_memory *m, fl_allocator_type type, const char *name, void *buffer, size_t size,
                                  size_t block, size_t block_align, size_t min_block, void *managed,
                                  size_t managed_size, fl_allocator **out)
{
    fl_allocator_config ac;
    memset(&ac, 0, sizeof ac);
    ac.type = type;
    ac.name = name;
    ac.buffer = buffer;
    ac.size = size;
    ac.block_size = block;
    ac.block_alignment = block_align;
    ac.min_block = min_block;
    ac.managed = managed;
    ac.managed_size = managed_size;
    ac.thread_safe = false; /* the interface's lock covers every call */
    ac.platform = m->os.hooks;
    return fl_allocator_create(&ac, out);
}

static const size_t default_classes[] = {16, 32, 64, 128, 256, 512, 1024, 2048};

/* The largest power of two dividing x, at most FL_ALIGN_PAGE: a class's block alignment. */
static size_t block_alignment(size_t x)
{
    size_t low = x & (~x + 1);
    return low > FL_ALIGN_PAGE ? FL_ALIGN_PAGE : low;
}

/*
 * Cuts the pool region into one buffer per class, in class order: classes with a
 * pool_class_bytes entry get it (rounded down to FLI_REGION_ALIGN), the others share the
 * rest equally, and the last class also takes whatever rounding left over. Then builds the
 * two lookup tables: chunk -> class (pointer to class) and size -> class.
 */
static fl_status pool_setup(fl_memory *m, fli_region *r, const fl_memory_config *cfg)
{
    size_t classes[FL_POOL_CLASS_MAX];
    unsigned n = 0;
    while (n < FL_POOL_CLASS_MAX && cfg->pool_classes[n] != 0) {
        classes[n] = cfg->pool_classes[n];
        n++;
    }
    if (n == 0) {
        for (; n < sizeof default_classes / sizeof default_classes[0]; n++) classes[n] = default_classes[n];
    }
    size_t given = 0;
    unsigned shared = 0;
    for (unsigned c = 0; c < n; c++) {
        size_t b = fli_align_down(cfg->pool_class_bytes[c], FLI_REGION_ALIGN);
        if (cfg->pool_class_bytes[c] == 0) shared++;
        if (!add_checked(&given, b) || given > r->size)
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "pool_class_bytes add up to more than the %s capacity %zu",
                            region_name((unsigned)r->type), r->size);
    }
    size_t share = shared ? fli_align_down((r->size - given) / shared, FLI_REGION_ALIGN) : 0;
    size_t offset = 0;
    for (unsigned c = 0; c < n; c++) {
        size_t bytes = cfg->pool_class_bytes[c] ? fli_align_down(cfg->pool_class_bytes[c], FLI_REGION_ALIGN) : share;
        if (c == n - 1) bytes = r->size - offset;
        fli_pool_class *k = &r->cls[c];
        k->start = r->base + offset;
        k->block = classes[c];
        k->align = block_alignment(classes[c]);
        fl_status st = create_allocator(m, FL_ALLOCATOR_POOL, region_name((unsigned)r->type), k->start, bytes,
                                        k->block, k->align, 0, NULL, 0, &k->a);
        if (st != FL_OK) {
            char why[FLI_WHY_BYTES];
            fli_copy_message(why);
            return fli_fail(st, "pool class %u (%zu-byte blocks) gets %zu bytes of the %s region: %s", c, k->block,
                            bytes, region_name((unsigned)r->type), why);
        }
        r->class_count = c + 1;
        offset += bytes;
    }
    r->largest_block = classes[n - 1];

    /* chunk -> class of the chunk's first byte */
    unsigned shift = 0;
    while (((r->size - 1) >> shift) >= FLI_POOL_CHUNKS) shift++;
    r->chunk_shift = shift;
    unsigned c = 0;
    for (size_t k = 0; k < FLI_POOL_CHUNKS; k++) {
        size_t chunk_offset = k << shift;
        while (c + 1 < n && r->base + chunk_offset >= r->cls[c + 1].start) c++;
        r->chunk_class[k] = (uint8_t)c;
    }
    /* size bucket i holds sizes ((i << S), (i + 1) << S]: its smallest size's class */
    for (size_t i = 0; i < FLI_POOL_LUT; i++) {
        size_t smallest = (i << FLI_POOL_LUT_SHIFT) + 1;
        unsigned k = 0;
        while (k < n && r->cls[k].block < smallest) k++;
        r->size_class[i] = (uint8_t)k;
    }
    /* The answer is monotonic in the size (blocks grow with the class), so a bucket whose
     * smallest and largest sizes get the same class gets it for every size between. */
    for (size_t i = 0; i < FLI_POOL_LUT; i++) {
        size_t lo = (i << FLI_POOL_LUT_SHIFT) + 1, hi = (i + 1) << FLI_POOL_LUT_SHIFT;
        unsigned a = 0, b = 0;
        while (a < n && (r->cls[a].block < lo || r->cls[a].align < FL_ALIGN_DEFAULT)) a++;
        while (b < n && (r->cls[b].block < hi || r->cls[b].align < FL_ALIGN_DEFAULT)) b++;
        r->default_class[i] = (uint8_t)(a == b ? a : FLI_POOL_MIXED);
    }
    return FL_OK;
}

static fl_status region_setup(fl_memory *m, unsigned index, const plan *p, const fl_memory_config *cfg,
                              unsigned char *control)
{
    fli_region *r = &m->regions[index];
    r->present = true;
    r->reserve = index == FLI_RESERVE;
    r->bit = (uint32_t)1 << index;
    r->type = index == FLI_RESERVE ? FL_MEMORY_SYSTEM : (fl_memory_type)index;
    r->strategy = p->strategy[index];
    r->caps = cfg->capabilities[r->type];
    if (r->strategy == FL_ALLOCATOR_POOL) return pool_setup(m, r, cfg);

    /* A region on the platform heap has no buffer: its size is the budget. */
    size_t budget = r->size;
    if (r->strategy == FL_ALLOCATOR_SYSTEM)
        budget = cfg->capacity[index] - (index == FL_MEMORY_SYSTEM ? cfg->emergency_reserve : 0);
    /* Video memory holds textures and buffers: 256-byte units (FL_ALIGN_GPU) by default.
     * External buddies take their control buffer from the control part instead. */
    fl_status st;
    if (p->external[index]) {
        /* The buddy's blocks are aligned as its managed base is: a game's block (region_memory)
         * may start anywhere, so the buddy manages it from the first boundary of min(its
         * smallest block, a page), leaving less than one smallest block unused. */
        size_t unit = p->min_block[index] < FL_ALIGN_PAGE ? p->min_block[index] : FL_ALIGN_PAGE;
        unsigned char *managed = (unsigned char *)fli_align_up_addr((uintptr_t)r->base, unit);
        size_t skipped = (size_t)(managed - r->base);
        if (skipped >= r->size)
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "the %s region's %zu bytes hold no %zu-byte aligned block",
                            region_name(index), r->size, unit);
        st = create_allocator(m, r->strategy, region_name(index), control + p->buddy_offset[index],
                              p->buddy_bytes[index], 0, 0, p->min_block[index], managed, r->size - skipped, &r->a);
    } else
        st = create_allocator(m, r->strategy, region_name(index), r->base, budget, 0, 0, p->min_block[index], NULL,
                              0, &r->a);
    if (st != FL_OK) {
        char why[FLI_WHY_BYTES];
        fli_copy_message(why);
        return fli_fail(st, "the %s region (%zu bytes, %s strategy) cannot be created: %s", region_name(index), budget,
                        fl_allocator_type_str(r->strategy), why);
    }
    if (r->strategy == FL_ALLOCATOR_LINEAR || r->strategy == FL_ALLOCATOR_STACK)
        fli_track_init(&r->track, (size_t *)(void *)(control + p->tracks_offset[index]), r->size, r->a);
    return FL_OK;
}

static void release_regions(fl_memory *m)
{
    for (unsigned i = 0; i < FLI_REGION_COUNT; i++) {
        fli_region *r = &m->regions[i];
        for (unsigned c = 0; c < r->class_count; c++) fl_allocator_destroy(r->cls[c].a);
        if (r->a) fl_allocator_destroy(r->a);
        /* Memory checkers: debug guards and the quarantine poison blocks of every region, and
         * an external buddy's allocator does not own its region's bytes; the memory goes back
         * (to the platform, the caller's block, the game) open, or pages mapped again later
         * at the same address would stay poisoned. */
        if (r->base != NULL && r->size != 0) FLI_OPEN(r->base, r->size);
        if (r->mapping) FLI_OPEN(r->mapping, r->mapping_size);
        if (r->mapping && i == FL_MEMORY_SHARED)
            fli_os_shared_unmap(&m->os, r->mapping, r->mapping_size);
        else if (r->mapping)
            fli_os_unmap(&m->os, r->mapping, r->mapping_size);
        r->class_count = 0;
        r->a = NULL;
        r->mapping = NULL;
    }
}

/* Regions deallocate compares, most frequent first; and those only the heap can answer for. */
static void build_lookup(fl_memory *m)
{
    static const uint8_t order[FLI_REGION_COUNT] = {FL_MEMORY_POOL,    FL_MEMORY_SYSTEM,  FL_MEMORY_TEMPORARY,
                                                   FL_MEMORY_STACK,   FL_MEMORY_NETWORK, FL_MEMORY_AUDIO,
                                                   FL_MEMORY_VIDEO,   FL_MEMORY_SHARED,  (uint8_t)FLI_RESERVE};
    for (unsigned i = 0; i < FLI_REGION_COUNT; i++) {
        const fli_region *r = &m->regions[order[i]];
        if (!r->present) continue;
        if (r->base != NULL)
            m->lookup[m->lookup_count++] = order[i];
        else
            m->heap_regions[m->heap_count++] = order[i];
    }
}

static void tallies_setup(fl_memory *m)
{
    for (unsigned i = 0; i < FLI_REGION_COUNT; i++) {
        const fli_region *r = &m->regions[i];
        if (!r->present) continue;
        size_t capacity = fli_region_capacity(r);
        m->types[r->type].total += capacity;
        m->total_capacity += capacity;
    }
}

fl_status fl_memory_create(const fl_memory_config *config, fl_memory **out)
{
    if (config == NULL || out == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_create: %s is NULL", config ? "out" : "config");
    plan p;
    fl_status st = make_plan(config, config->backing_memory != NULL, &p);
    if (st != FL_OK) return st;

    fli_os os = {fli_platform_or_default(config->platform)};
    unsigned char *control;
    void *control_mapping = NULL;
    size_t control_mapping_size = 0;
    unsigned char *backing = NULL;
    if (config->backing_memory != NULL) {
        if (config->backing_size < p.backing_bytes)
            return fli_fail(FL_ERR_INVALID_PARAMETERS,
                            "backing_size %zu is below the %zu bytes this configuration needs (fl_memory_backing_size)",
                            config->backing_size, p.backing_bytes);
        backing = (unsigned char *)fli_align_up_addr((uintptr_t)config->backing_memory, FLI_REGION_ALIGN);
        control = backing;
        memset(control, 0, p.control_bytes); /* mapped pages come zeroed; the caller's block does not */
    } else {
        size_t page = fli_os_page_size(&os);
        if (!fli_align_up_checked(p.control_bytes, page, &control_mapping_size))
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "the control block of %zu bytes cannot be rounded to pages",
                            p.control_bytes);
        control_mapping = fli_os_map(&os, control_mapping_size);
        if (control_mapping == NULL)
            return fli_fail(FL_ERR_OUT_OF_MEMORY, "the platform could not map %zu bytes for the control block",
                            control_mapping_size);
        control = (unsigned char *)control_mapping;
    }

    fl_memory *m = (fl_memory *)(void *)control;
    m->os = os;
    m->control_mapping = control_mapping;
    m->control_size = control_mapping_size;
    m->profile = config->profile;
    m->max_allocation = config->max_allocation;
    memcpy(m->fallback, config->fallback, sizeof m->fallback);
    m->records = (fli_record *)(void *)(control + p.records_offset);
    m->record_slots = p.record_slots;
    m->record_max = fli_max_records(config);
    m->debug = config->debug; /* debug.c; FLI_NO_DEBUG builds refuse a non-zero value */
    m->guard = (config->debug & FL_DEBUG_GUARDS) ? FL_DEBUG_GUARD_BYTES : 0;
    m->debug_report = config->debug_report;
    m->debug_user = config->debug_user;
    m->next_callback_id = 1;

    /* Region buffers: carved from the backing block, or one mapping each. */
    for (unsigned i = 0; i < FLI_REGION_COUNT && st == FL_OK; i++) {
        if (!p.present[i] || p.region_size[i] == 0) continue;
        fli_region *r = &m->regions[i];
        r->size = p.region_size[i];
        if (i < FL_MEMORY_TYPE_COUNT && config->region_memory[i] != NULL) {
            r->base = (unsigned char *)config->region_memory[i]; /* the game's: never unmapped */
            continue;
        }
        if (backing) {
            r->base = backing + p.region_offset[i];
            if (p.external[i]) r->base = (unsigned char *)fli_align_up_addr((uintptr_t)r->base, FL_ALIGN_PAGE);
            continue;
        }
        size_t page = fli_os_page_size(&os), bytes;
        if (!fli_align_up_checked(r->size, page, &bytes)) {
            st = fli_fail(FL_ERR_INVALID_PARAMETERS, "the %s capacity %zu cannot be rounded to pages", region_name(i),
                          r->size);
            break;
        }
        bool shared = i == FL_MEMORY_SHARED;
        r->mapping = shared ? fli_os_shared_map(&os, bytes) : fli_os_map(&os, bytes);
        if (r->mapping == NULL) {
            st = fli_fail(FL_ERR_OUT_OF_MEMORY, "the platform could not map %zu bytes%s for the %s region", bytes,
                          shared ? " of shared memory" : "", region_name(i));
            break;
        }
        r->mapping_size = bytes;
        r->base = (unsigned char *)r->mapping;
    }
    for (unsigned i = 0; i < FLI_REGION_COUNT && st == FL_OK; i++)
        if (p.present[i]) st = region_setup(m, i, &p, config, control);
    if (st == FL_OK && config->thread_safe) {
        if (fli_os_lock_init(&os, &m->lock))
            m->thread_safe = true;
        else
            st = fli_fail(FL_ERR_PLATFORM, "the platform could not create a lock for a thread-safe interface");
    }
    if (st == FL_OK) fli_wait_setup(m);
    if (st != FL_OK) {
        release_regions(m);
        if (control_mapping) fli_os_unmap(&os, control_mapping, control_mapping_size);
        return st;
    }
    build_lookup(m);
    tallies_setup(m);
    m->dirty = (1u << FLI_REGION_COUNT) - 1; /* nothing is cached yet */
    fli_views_init(m);
    fli_pressure_setup(m, config);
    fli_defrag_setup(m, config);
    *out = m;
    return FL_OK;
}

void fl_memory_destroy(fl_memory *mem)
{
    if (mem == NULL) return;
    /* Live allocations are a leak in the caller, not a failure of destroy (everything is
     * released either way): they are reported through the calling thread's last error,
     * the one channel a void function has (docs/errors.md). */
    fl_memory_stats live;
    if (fl_memory_get_stats(mem, &live) == FL_OK && live.allocation_count != 0)
        (void)fli_fail(FL_ERR_INVALID_STATE, "fl_memory_destroy: %zu allocations (%zu bytes) were still live",
                       live.allocation_count, live.used_bytes);
    fli_os os = mem->os;
    void *control_mapping = mem->control_mapping;
    size_t control_size = mem->control_size;
    if (FLI_DEBUG_ON(mem)) fli_debug_destroy(mem);
    release_regions(mem);
    fli_wait_teardown(mem);
    if (mem->thread_safe) fli_os_lock_destroy(&os, &mem->lock);
    if (control_mapping) fli_os_unmap(&os, control_mapping, control_size);
}

size_t fl_memory_get_regions(fl_memory *m, fl_memory_region *out, size_t cap)
{
    if (m == NULL) return 0;
    size_t n = 0;
    for (unsigned i = 0; i < FLI_REGION_COUNT; i++) {
        const fli_region *r = &m->regions[i];
        if (!r->present) continue;
        if (out != NULL && n < cap) {
            fl_memory_region *o = &out[n];
            o->name = region_name(i);
            o->type = r->type;
            o->base = r->base;
            o->size = r->base ? r->size : r->a->capacity;
            o->allocator = r->strategy;
            o->capabilities = r->caps;
        }
        n++;
    }
    return n;
}
