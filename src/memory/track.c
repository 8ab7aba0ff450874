/*
 * Exact liveness for the linear and stack regions, and their bulk release (mark/rewind).
 *
 * A linear allocator does not remember its allocations and a stack allocator can only
 * name its top one, but fl_memory_deallocate, is_valid_pointer and get_allocation_info
 * must be exact for them too. So the interface asks these allocators for sizes that are
 * multiples of the granule G (FLI_GRANULE) at alignments of at least G: every allocation
 * starts and ends on a granule boundary, and two bitmaps with one bit per granule say
 *
 *   starts: a live allocation starts here        (set on allocate, cleared on free)
 *   ends:   the last granule of an allocation    (set on allocate, cleared when its
 *                                                 bytes are reused: free of the newest
 *                                                 allocation, rewind)
 *
 *   granule:   0   1   2   3   4   5   6   7
 *   starts:    1   0   0   1   0   0   0   0     A = granules 0-2, B = granule 3
 *   ends:      0   0   1   1   0   0   0   0
 *
 * A pointer is live iff its granule's start bit is set; its usable size runs to the first
 * end bit at or after it. An end bit left behind by a free that returned no bytes (an
 * older linear allocation) lies outside every live allocation until its bytes are
 * reused, and reuse happens only through a rewind or a free of the newest allocation,
 * both of which clear the bits of the released range. Cost: 2 bits per G bytes (1/64 of
 * the region for G = 16); allocate and free touch one word of each map.
 *
 * The released range of a rewind is read from the allocator's counters: both allocators
 * keep used_bytes == top and hand out [start, start + top), so a rewind from used u0 to u1
 * releases exactly [start + u1, start + u0). `start` is learnt once, from the free span a
 * fresh allocator's walk reports.
 */
#include "memory_internal.h"

#define BITS FLI_SIZE_BITS

static size_t words_for(size_t region_size) { return (region_size / FLI_GRANULE + 2 + BITS - 1) / BITS; }

size_t fli_track_bytes(size_t region_size) { return 2 * words_for(region_size) * sizeof(size_t); }

static void first_free_span(const void *block, size_t size, bool used, void *user)
{
    (void)size;
    uintptr_t *start = user;
    if (!used && *start == 0) *start = (uintptr_t)block;
}

void fli_track_init(fli_track *t, size_t *storage, size_t region_size, const fl_allocator *a)
{
    uintptr_t start = 0;
    a->ops->walk(a, first_free_span, &start);
    t->words = words_for(region_size);
    t->starts = storage;
    t->ends = storage + t->words;
    t->alloc_start = start;
    t->alloc_end = start + a->capacity;
    t->origin = start & ~(uintptr_t)(FLI_GRANULE - 1);
    t->overhead = a->ops->allocation_overhead;
}

/* fli_track_mark and fli_track_forget are inline in memory_internal.h. */

size_t fli_track_size(const fli_track *t, const void *p)
{
    size_t i = fli_track_index(t, p), w = i / BITS;
    size_t word = t->ends[w] & ~(((size_t)1 << (i % BITS)) - 1);
    while (word == 0) word = t->ends[++w]; /* a live allocation always has its end bit */
    size_t j = w * BITS + (size_t)fli_log2_floor(word & (~word + 1));
    return (j - i + 1) * FLI_GRANULE;
}

static unsigned popcount(size_t x)
{
    unsigned n = 0;
    for (; x != 0; x &= x - 1) n++;
    return n;
}

/* Clears bits [lo, hi) of both maps; returns how many start bits were set. */
static size_t clear_range(fli_track *t, size_t lo, size_t hi)
{
    size_t count = 0;
    while (lo < hi) {
        size_t w = lo / BITS, bit = lo % BITS;
        size_t span = BITS - bit < hi - lo ? BITS - bit : hi - lo;
        size_t mask = (span == BITS ? ~(size_t)0 : (((size_t)1 << span) - 1)) << bit;
        count += popcount(t->starts[w] & mask);
        t->starts[w] &= ~mask;
        t->ends[w] &= ~mask;
        lo += span;
    }
    return count;
}

size_t fli_track_release(fli_track *t, uintptr_t from, uintptr_t to)
{
    if (to <= from) return 0;
    /* Granules whose first byte lies in [from, to). */
    size_t lo = (size_t)((from - t->origin + FLI_GRANULE - 1) / FLI_GRANULE);
    size_t hi = (size_t)((to - t->origin + FLI_GRANULE - 1) / FLI_GRANULE);
    return clear_range(t, lo, hi);
}

/* The live allocation with the highest start below `at` (false: none). Cost: a backward
 * scan of the start map from `at` (rewinds only; O(region / G / word bits) at worst). */
static bool last_live_below(const fli_track *t, uintptr_t at, uintptr_t *begin)
{
    size_t i = fli_track_index(t, (const void *)(at - 1)), w = i / BITS, bit = i % BITS;
    size_t word = t->starts[w] & (bit == BITS - 1 ? ~(size_t)0 : (((size_t)1 << (bit + 1)) - 1));
    while (word == 0) {
        if (w == 0) return false;
        word = t->starts[--w];
    }
    *begin = t->origin + (w * BITS + fli_log2_floor(word)) * FLI_GRANULE;
    return true;
}

/* Only the last live allocation below `at` can contain both at - 1 and at. */
bool fli_track_splits(const fli_track *t, uintptr_t at)
{
    if (at <= t->alloc_start || at >= t->alloc_end) return false;
    uintptr_t begin;
    if (!last_live_below(t, at, &begin)) return false;
    return begin < at && at < begin + fli_track_size(t, (const void *)begin);
}

/* A stack's state below its top is fully known here: the allocations tile [0, top), so a
 * marker {offset, count, last} below the top is one of this state's exactly when the live
 * allocation just below offset ends at offset, has its payload at `last`, and `count`
 * live allocations lie below it ({0, 0, 0}: none). The stack itself can only check this
 * on a best-effort basis (it reads a few words that may be stale bytes). */
/* Live allocations starting in granules [0, below). */
static size_t starts_below(const fli_track *t, size_t below)
{
    size_t n = 0;
    for (size_t w = 0; w * BITS < below; w++) {
        size_t word = t->starts[w];
        if ((w + 1) * BITS > below) word &= ((size_t)1 << (below - w * BITS)) - 1;
        n += popcount(word);
    }
    return n;
}

/* A linear marker's count is the allocations live when it was taken; those still live
 * below its offset can only be fewer. More means the marker is stale or forged (the
 * allocator would take its count and disagree with the bitmaps from then on). */
bool fli_track_linear_count_ok(const fli_track *t, fl_marker mark)
{
    if (mark.offset == 0 || mark.offset > t->alloc_end - t->alloc_start) return true;
    uintptr_t at = t->alloc_start + mark.offset;
    size_t below = (size_t)((at - t->origin + FLI_GRANULE - 1) / FLI_GRANULE);
    return starts_below(t, below) <= mark.count;
}

bool fli_track_stack_marker_ok(const fli_track *t, fl_marker mark)
{
    if (mark.offset == 0) return mark.count == 0 && mark.last == 0;
    if (mark.offset > t->alloc_end - t->alloc_start) return false;
    uintptr_t at = t->alloc_start + mark.offset, begin;
    if (!last_live_below(t, at, &begin)) return false;
    if (begin != t->alloc_start + mark.last || begin + fli_track_size(t, (const void *)begin) != at) return false;
    size_t below = fli_track_index(t, (const void *)begin) + 1, n = 0; /* start bits [0, below) */
    for (size_t w = 0; w * BITS < below; w++) {
        size_t word = t->starts[w];
        if ((w + 1) * BITS > below) word &= ((size_t)1 << (below - w * BITS)) - 1;
        n += popcount(word);
    }
    return n == mark.count;
}

size_t fli_track_count(const fli_track *t)
{
    size_t n = 0;
    for (size_t w = 0; w < t->words; w++) n += popcount(t->starts[w]);
    return n;
}

/* ---- bulk release ---------------------------------------------------------------------- */

/* Counts `count` allocations and `released` bytes of region r as freed everywhere, and
 * wakes the requests waiting for memory. */
static void account_bulk(fl_memory *m, fli_region *r, size_t count, size_t released, fli_pending *pending)
{
    fli_account_free(m, r, count, released);
    fli_pressure_update(m, r->type, pending);
    fli_wake_waiters(m); /* requests waiting for memory (wait.c) */
}

fl_status fli_rewind_locked(fl_memory *m, fli_region *r, fl_marker mark, fli_pending *pending)
{
    fl_allocator *a = r->a;
    size_t used0 = a->counters.used_bytes;
    /* The allocator checks a marker against its top and counts, not against allocation
     * boundaries it does not keep: a forged marker whose counts agree may point inside a
     * live allocation, and releasing from there would cut it in two (and leave a start
     * bit without its end bit). The bitmaps know the boundaries. */
    if (mark.offset != 0 && mark.offset < used0 && fli_track_splits(&r->track, r->track.alloc_start + mark.offset))
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "marker offset %zu lies inside a live allocation of the %s region: it is not a marker of "
                        "this state",
                        mark.offset, fl_memory_type_str(r->type));
    if (r->strategy == FL_ALLOCATOR_LINEAR && mark.offset < used0 && !fli_track_linear_count_ok(&r->track, mark))
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "marker (offset %zu, count %zu) counts fewer allocations than are live below it in the %s "
                        "region (stale or forged)",
                        mark.offset, mark.count, fl_memory_type_str(r->type));
    if (r->strategy == FL_ALLOCATOR_STACK && mark.offset < used0 && !fli_track_stack_marker_ok(&r->track, mark))
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "marker (offset %zu, count %zu, last %zu) is not a state of the %s region's stack below its "
                        "top %zu (stale or forged)",
                        mark.offset, mark.count, mark.last, fl_memory_type_str(r->type), used0);
    fl_status st = a->ops->rewind(a, mark);
    if (st != FL_OK) return st;
    size_t used1 = a->counters.used_bytes;
    uintptr_t from = r->track.alloc_start + used1, to = r->track.alloc_start + used0;
    size_t count = fli_track_release(&r->track, from, to);
    if (m->record_count) fli_registry_remove_range(m, from, to);
    account_bulk(m, r, count, used0 - used1, pending);
    return FL_OK;
}

void fli_reset_region_locked(fl_memory *m, fli_region *r, fli_pending *pending)
{
    if (r->strategy == FL_ALLOCATOR_LINEAR || r->strategy == FL_ALLOCATOR_STACK) {
        fl_marker empty = {0, 0, 0};
        (void)fli_rewind_locked(m, r, empty, pending); /* {0} is always accepted */
        return;
    }
    if (FLI_DEBUG_ON(m)) fli_debug_forget_region(m, r);
    if (m->record_count) fli_registry_remove_region(m, r);
    size_t count = 0, used = 0;
    for (unsigned c = 0; c < r->class_count; c++) {
        fl_allocator *a = r->cls[c].a;
        fli_counters before = fli_allocator_counters(a);
        count += before.allocation_count;
        used += before.used_bytes;
        fl_allocator_reset(a);
    }
    if (r->a) {
        fli_counters before = fli_allocator_counters(r->a);
        count += before.allocation_count;
        used += before.used_bytes;
        fl_allocator_reset(r->a);
    }
    account_bulk(m, r, count, used, pending);
}

/* ---- the public frame API ---------------------------------------------------------------- */

static fl_status frame_region(fl_memory *m, fl_memory_type t, fli_region **out)
{
    if (m == NULL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "the memory interface is NULL");
    if ((unsigned)t >= FL_MEMORY_TYPE_COUNT)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "memory type %d is not a memory type", (int)t);
    fli_region *r = &m->regions[t];
    if (!r->present) return fli_fail(FL_ERR_NOT_SUPPORTED, "the %s type has no region here", fl_memory_type_str(t));
    if (r->strategy != FL_ALLOCATOR_LINEAR && r->strategy != FL_ALLOCATOR_STACK)
        return fli_fail(FL_ERR_NOT_SUPPORTED, "the %s type is served by a %s allocator, which has no markers",
                        fl_memory_type_str(t), fl_allocator_type_str(r->strategy));
    *out = r;
    return FL_OK;
}

fl_marker fl_memory_mark(fl_memory *m, fl_memory_type t)
{
    fl_marker mark = {0, 0, 0};
    fli_region *r = NULL;
    if (frame_region(m, t, &r) != FL_OK) return mark;
    fli_mem_lock(m);
    mark = r->a->ops->mark(r->a);
    fli_mem_unlock(m);
    return mark;
}

fl_status fl_memory_rewind(fl_memory *m, fl_memory_type t, fl_marker mark)
{
    fli_region *r = NULL;
    fl_status st = frame_region(m, t, &r);
    if (st != FL_OK) return st;
    fli_pending pending;
    pending.count = 0;
    fli_mem_lock(m);
    st = fli_rewind_locked(m, r, mark, &pending);
    fli_mem_unlock(m);
    fli_pressure_dispatch(m, &pending);
    return st;
}
