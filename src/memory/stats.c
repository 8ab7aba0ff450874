/*
 * Statistics reads and fl_memory_validate.
 *
 * The counters (memory_internal.h, fli_tally) are kept by every call with plain adds, so
 * a read copies them and adds what only the allocators know right now: the largest free
 * block and the fragmented bytes of each region, each an O(1) question to the allocator
 * (a pool region asks its classes from the largest down, and stops at the first with a
 * free block). No read visits blocks.
 *
 * fl_memory_validate is the opposite: it visits everything, and checks that the counters
 * are what the allocators, the liveness bitmaps and the records say they must be.
 */
#include "memory_internal.h"

size_t fli_region_capacity(const fli_region *r)
{
    if (r->strategy != FL_ALLOCATOR_POOL) return r->a->capacity;
    size_t sum = 0;
    for (unsigned c = 0; c < r->class_count; c++) sum += r->cls[c].a->capacity;
    return sum;
}

size_t fli_region_used(const fli_region *r)
{
    if (r->strategy != FL_ALLOCATOR_POOL) return r->a->counters.used_bytes;
    size_t sum = 0;
    for (unsigned c = 0; c < r->class_count; c++) sum += fli_allocator_counters(r->cls[c].a).used_bytes;
    return sum;
}

/* The largest request of alignment 1 the region serves now, as the interface asks it. */
size_t fli_region_largest(const fli_region *r)
{
    switch (r->strategy) {
    case FL_ALLOCATOR_POOL:
        for (unsigned c = r->class_count; c-- > 0;) {
            const fl_allocator *a = r->cls[c].a;
            if (a->ops->largest_free(a) != 0) return r->cls[c].block; /* it has a free block */
        }
        return 0;
    case FL_ALLOCATOR_LINEAR:
    case FL_ALLOCATOR_STACK: {
        /* The next payload: past the allocator's header, on a granule boundary; the size
         * must be a whole number of granules ending by the region's end. */
        const fli_track *t = &r->track;
        uintptr_t next = t->alloc_start + r->a->counters.used_bytes + t->overhead;
        uintptr_t payload = fli_align_up_addr(next, FLI_GRANULE);
        if (payload < next || payload >= t->alloc_end) return 0;
        return fli_align_down((size_t)(t->alloc_end - payload), FLI_GRANULE);
    }
    default: return r->a->ops->largest_free(r->a);
    }
}

size_t fli_region_fragmented(const fli_region *r)
{
    if (r->strategy == FL_ALLOCATOR_POOL) return 0; /* any free block serves any request its class takes */
    size_t free_bytes = r->a->capacity - r->a->counters.used_bytes, largest = fli_region_largest(r);
    return free_bytes > largest ? free_bytes - largest : 0;
}

void fli_fill_stats(const fl_memory *m, const fli_tally *t, size_t largest, size_t fragmented, fl_memory_stats *out)
{
    (void)m;
    memset(out, 0, sizeof *out);
    out->total_bytes = t->total;
    out->used_bytes = t->used;
    out->free_bytes = t->total - t->used;
    out->peak_used_bytes = t->peak;
    out->allocation_count = t->count;
    out->total_allocations = t->allocations;
    out->total_deallocations = t->deallocations;
    out->failed_allocations = t->failed;
    out->largest_free_block = largest;
    double pct = out->free_bytes ? 100.0 * (double)fragmented / (double)out->free_bytes : 0.0;
    out->fragmentation_pct = pct < 0.0 ? 0.0 : pct > 100.0 ? 100.0 : pct;
    out->allocation_efficiency = t->consumed ? (double)t->requested / (double)t->consumed : 1.0;
}

/* Brings the cached shape of every changed region up to date. */
static void refresh(fl_memory *m)
{
    uint32_t dirty = m->dirty;
    if (FLI_LIKELY(dirty == 0)) return;
    for (unsigned i = 0; i < FLI_REGION_COUNT; i++) {
        fli_region *r = &m->regions[i];
        if (!(dirty & (1u << i)) || !r->present) continue;
        size_t largest = fli_region_largest(r);
        r->cached_largest = largest;
        if (r->strategy == FL_ALLOCATOR_POOL) {
            r->cached_fragmented = 0; /* any free block serves any request its class takes */
        } else {
            size_t free_bytes = r->a->capacity - r->a->counters.used_bytes;
            r->cached_fragmented = free_bytes > largest ? free_bytes - largest : 0;
        }
    }
    m->dirty = 0;
    m->summary_valid = false;
}

/* A type's largest block (never the reserve's) and fragmented bytes (the reserve's too),
 * from the cache. */
static void type_shape(const fl_memory *m, unsigned t, size_t *largest, size_t *fragmented)
{
    *largest = 0;
    *fragmented = 0;
    const fli_region *r = &m->regions[t];
    if (!r->present) return;
    *largest = r->cached_largest;
    *fragmented = r->cached_fragmented;
    if (t == FL_MEMORY_SYSTEM && m->regions[FLI_RESERVE].present) *fragmented += m->regions[FLI_RESERVE].cached_fragmented;
}

static void summarise(fl_memory *m)
{
    size_t largest = 0, fragmented = 0;
    fli_tally total;
    memset(&total, 0, sizeof total);
    for (unsigned t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        size_t l, f;
        type_shape(m, t, &l, &f);
        if (l > largest) largest = l;
        fragmented += f;
        const fli_tally *y = &m->types[t];
        total.count += y->count;
        total.allocations += y->allocations;
        total.deallocations += y->deallocations;
        total.failed += y->failed;
        total.requested += y->requested;
        total.consumed += y->consumed;
    }
    total.total = m->total_capacity;
    total.used = m->total_used;
    total.peak = m->total_peak;
    fli_fill_stats(m, &total, largest, fragmented, &m->summary);
    m->summary_valid = true;
}

fl_status fl_memory_get_stats(fl_memory *m, fl_memory_stats *out)
{
    if (m == NULL || out == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_get_stats: %s is NULL", m ? "out" : "the memory interface");
    fli_mem_lock(m);
    refresh(m);
    if (FLI_UNLIKELY(!m->summary_valid)) summarise(m);
    *out = m->summary;
    fli_mem_unlock(m);
    return FL_OK;
}

fl_status fl_memory_get_type_stats(fl_memory *m, fl_memory_type t, fl_memory_stats *out)
{
    if (m == NULL || out == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_get_type_stats: %s is NULL",
                        m ? "out" : "the memory interface");
    if ((unsigned)t >= FL_MEMORY_TYPE_COUNT)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "memory type %d is not a memory type", (int)t);
    fli_mem_lock(m);
    refresh(m);
    size_t largest, fragmented;
    type_shape(m, (unsigned)t, &largest, &fragmented);
    fli_fill_stats(m, &m->types[t], largest, fragmented, out);
    fli_mem_unlock(m);
    return FL_OK;
}

/* ---- validate -------------------------------------------------------------------------------- */

/* Live allocations of region r as the interface counts them. */
static size_t region_count(const fli_region *r)
{
    if (r->strategy == FL_ALLOCATOR_LINEAR || r->strategy == FL_ALLOCATOR_STACK) return fli_track_count(&r->track);
    if (r->strategy != FL_ALLOCATOR_POOL) return r->a->counters.allocation_count;
    size_t n = 0;
    for (unsigned c = 0; c < r->class_count; c++) n += fli_allocator_counters(r->cls[c].a).allocation_count;
    return n;
}

static fl_status validate_tally(const fli_tally *t, const char *what)
{
    FLI_VALIDATE(t->used <= t->total, "%s: used %zu exceeds total %zu", what, t->used, t->total);
    FLI_VALIDATE(t->peak >= t->used, "%s: peak %zu below used %zu", what, t->peak, t->used);
    FLI_VALIDATE(t->allocations - t->deallocations == (uint64_t)t->count,
                 "%s: %zu live but %llu allocations and %llu deallocations", what, t->count,
                 (unsigned long long)t->allocations, (unsigned long long)t->deallocations);
    return FL_OK;
}

static fl_status validate_region(fl_memory *m, const fli_region *r, size_t *used, size_t *count)
{
    const char *name = fl_memory_type_str(r->type);
    if (r->strategy == FL_ALLOCATOR_POOL) {
        for (unsigned c = 0; c < r->class_count; c++) {
            fl_status st = fl_allocator_validate(r->cls[c].a);
            if (st != FL_OK) return st;
            fli_counters k = fli_allocator_counters(r->cls[c].a);
            FLI_VALIDATE(k.used_bytes == k.allocation_count * r->cls[c].block,
                         "%s pool class %u: used bytes are not whole blocks", name, c);
        }
    } else {
        fl_status st = fl_allocator_validate(r->a);
        if (st != FL_OK) return st;
    }
    *used = fli_region_used(r);
    *count = region_count(r);
    if (r->strategy == FL_ALLOCATOR_LINEAR || r->strategy == FL_ALLOCATOR_STACK) {
        const fli_track *t = &r->track;
        uintptr_t top = t->alloc_start + r->a->counters.used_bytes;
        /* No allocation may start at or above the top: it would be free memory. */
        size_t first_free = (size_t)((top - t->origin + FLI_GRANULE - 1) / FLI_GRANULE);
        for (size_t w = first_free / FLI_SIZE_BITS; w < t->words; w++) {
            size_t word = t->starts[w];
            if (w == first_free / FLI_SIZE_BITS) word &= ~(((size_t)1 << (first_free % FLI_SIZE_BITS)) - 1);
            FLI_VALIDATE(word == 0, "%s region: a live start bit in word %zu lies above the top (granule %zu)", name,
                         w, first_free);
        }
        if (r->strategy == FL_ALLOCATOR_STACK)
            FLI_VALIDATE(*count == r->a->counters.allocation_count,
                         "%s region: %zu live starts but the stack holds %zu allocations", name, *count,
                         r->a->counters.allocation_count);
        else
            FLI_VALIDATE(*count <= r->a->counters.allocation_count,
                         "%s region: %zu live starts but the linear allocator counts %zu", name, *count,
                         r->a->counters.allocation_count);
    }
    (void)m;
    return FL_OK;
}

static fl_status validate_locked(fl_memory *m)
{
    size_t type_used[FL_MEMORY_TYPE_COUNT] = {0}, type_count[FL_MEMORY_TYPE_COUNT] = {0};
    size_t view_used[FL_ALLOCATOR_TYPE_COUNT] = {0}, view_count[FL_ALLOCATOR_TYPE_COUNT] = {0};
    for (unsigned i = 0; i < FLI_REGION_COUNT; i++) {
        const fli_region *r = &m->regions[i];
        if (!r->present) continue;
        size_t used = 0, count = 0;
        fl_status st = validate_region(m, r, &used, &count);
        if (st != FL_OK) return st;
        type_used[r->type] += used;
        type_count[r->type] += count;
        view_used[r->strategy] += used;
        view_count[r->strategy] += count;
        if (!(m->dirty & r->bit))
            FLI_VALIDATE(r->cached_largest == fli_region_largest(r),
                         "%s region: the cached largest free block %zu is stale (%zu)", fl_memory_type_str(r->type),
                         r->cached_largest, fli_region_largest(r));
        if (i == FLI_RESERVE)
            FLI_VALIDATE(m->reserve_used == used, "the reserve holds %zu bytes but %zu are counted", used,
                         m->reserve_used);
    }
    fli_tally sum;
    memset(&sum, 0, sizeof sum);
    for (unsigned t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        const fli_tally *y = &m->types[t];
        const char *name = fl_memory_type_str((fl_memory_type)t);
        fl_status st = validate_tally(y, name);
        if (st != FL_OK) return st;
        FLI_VALIDATE(y->used == type_used[t], "%s: %zu bytes counted used, the allocators hold %zu", name, y->used,
                     type_used[t]);
        FLI_VALIDATE(y->count == type_count[t], "%s: %zu allocations counted live, the regions hold %zu", name,
                     y->count, type_count[t]);
        sum.total += y->total;
        sum.used += y->used;
        sum.count += y->count;
        sum.allocations += y->allocations;
        sum.deallocations += y->deallocations;
        sum.failed += y->failed;
        sum.requested += y->requested;
        sum.consumed += y->consumed;
    }
    FLI_VALIDATE(sum.total == m->total_capacity && sum.used == m->total_used,
                 "the types' capacity %zu and used %zu do not add up to the total %zu and %zu", sum.total, sum.used,
                 m->total_capacity, m->total_used);
    FLI_VALIDATE(m->total_peak >= m->total_used, "total peak %zu below used %zu", m->total_peak, m->total_used);
    for (unsigned s = 0; s < FL_ALLOCATOR_TYPE_COUNT; s++) {
        const fli_counters *c = &m->views[s].base.counters;
        const char *name = fl_allocator_type_str((fl_allocator_type)s);
        FLI_VALIDATE(c->used_bytes == view_used[s] && c->allocation_count == view_count[s],
                     "%s handle: counts %zu bytes / %zu live, its regions %zu / %zu", name, c->used_bytes,
                     c->allocation_count, view_used[s], view_count[s]);
        FLI_VALIDATE(c->total_allocations - c->total_deallocations == (uint64_t)c->allocation_count,
                     "%s handle: live count does not match its allocations and deallocations", name);
    }
    fl_status st = fli_pressure_validate(m);
    if (st == FL_OK) st = fli_registry_validate(m);
    if (st == FL_OK && FLI_DEBUG_ON(m)) st = fli_debug_validate(m);
    return st;
}

fl_status fl_memory_validate(fl_memory *m)
{
    if (m == NULL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_validate: the memory interface is NULL");
    fli_mem_lock(m);
    fl_status st = validate_locked(m);
    fli_mem_unlock(m);
    return st;
}
