/*
 * Defragmentation: fl_memory_defragment and fl_memory_defragment_allocator move the
 * allocations made with FL_FLAG_RELOCATABLE toward the start of their region, so the free
 * space between them merges.
 *
 * What may move is what the interface knows: every relocatable allocation has a record
 * (registry.c) with its size and its owner's on_relocate. Plain allocations have none and
 * never move; they are the fixed obstacles the moves flow around.
 *
 * A region is compacted by relocating its relocatable allocations one at a time in
 * increasing address order with the allocator's own primitive (fl_allocator_relocate's
 * op: the lowest free place below that holds it). Address order is what makes one pass
 * enough: everything below the current allocation is already as low as it goes, so each
 * move fills the lowest hole, and the freed space joins the free space above. The records
 * sit in a hash table, so the order comes from batches: one pass over the table's slots
 * collects the DEFRAG_BATCH lowest relocatable addresses above a cursor (insertion into a
 * small sorted array on the stack; no memory of its own, nothing for a Dreamcast to pay).
 *
 *   region:  [A][x][ B ][  free  ][C][x][ D ][  free  ]     A..D relocatable, x fixed
 *   after:   [A][x][ B ][C][ D ][x][     free          ]
 *                        (C and D moved down; x never moves, so D lands in the hole before it)
 *
 * One move, with the interface's lock held (fli_relocate_locked, which the free-list and
 * buddy allocator handles' fl_allocator_relocate also use, for any of their allocations):
 *   1. the record is looked up again (another thread may have freed the allocation since
 *      the batch was taken); no relocatable record: skipped;
 *   2. the allocator moves it: free list and in-band buddy copy the bytes themselves; an
 *      external (Video/Audio) buddy moves only its bookkeeping and the interface copies the
 *      bytes with the configuration's relocate_copy (memmove, or a console's DMA);
 *   3. counters follow (a free-list block may grow by a few bytes: used and peak of the
 *      type, the whole, the strategy's handle and the reserve), the record moves to the
 *      new address with its new usable size, pressure is updated and waiters are woken.
 * Then, with the lock released: the owner's on_relocate(old, new, size), the progress
 * callback, and the pressure callbacks the move queued. So every callback may call back
 * into the interface; and other threads are never held off for more than one move.
 *
 * Progress: total = the bytes of the relocatable allocations in the call's regions when
 * it starts; after each allocation examined, fn(moved bytes, total, examined / total),
 * which never decreases; the last call has exactly 1.0 (examined == total gives it,
 * otherwise one last call is made).
 */
#include "memory_internal.h"

#define DEFRAG_BATCH 64u

static void copy_memmove(void *dst, const void *src, size_t size, void *user)
{
    (void)user;
    memmove(dst, src, size);
}

void fli_defrag_setup(fl_memory *m, const fl_memory_config *cfg)
{
    m->relocate_copy = cfg->relocate_copy ? cfg->relocate_copy : copy_memmove;
    m->relocate_copy_user = cfg->relocate_copy_user;
}

/* A region whose allocator can move allocations: free list and buddy. */
static bool can_move(const fli_region *r) { return r->present && r->a != NULL && r->a->ops->relocate != NULL; }

static bool in_range(const fli_region *r, uintptr_t p)
{
    return p >= (uintptr_t)r->base && p - (uintptr_t)r->base < r->size;
}

/* What the result's before/after describe: the whole interface (fl_memory_get_stats) or
 * one strategy (fl_memory_get_allocator_stats). */
typedef struct scope {
    bool whole;
    fl_allocator_type strategy;
} scope;

/* Largest free block and fragmentation (percent), computed as the statistics reads do. */
static void shape_locked(const fl_memory *m, const scope *sc, size_t *largest, double *pct)
{
    size_t big = 0, fragmented = 0, free_bytes;
    for (unsigned i = 0; i < FLI_REGION_COUNT; i++) {
        const fli_region *r = &m->regions[i];
        if (!r->present || (!sc->whole && r->strategy != sc->strategy)) continue;
        fragmented += fli_region_fragmented(r);
        if (i == FLI_RESERVE) continue; /* only critical requests reach it */
        size_t l = fli_region_largest(r);
        if (l > big) big = l;
    }
    *largest = big;
    if (sc->whole) {
        free_bytes = m->total_capacity - m->total_used;
        double p = free_bytes ? 100.0 * (double)fragmented / (double)free_bytes : 0.0;
        *pct = p < 0.0 ? 0.0 : p > 100.0 ? 100.0 : p;
    } else {
        const fl_allocator *v = &m->views[sc->strategy].base;
        free_bytes = v->capacity - v->counters.used_bytes;
        /* The ratio rounded to a double first, as fl_memory_get_allocator_stats stores it, so
         * 100 * that ratio is the same number on x87 too (excess precision). */
        double ratio = free_bytes ? (double)fragmented / (double)free_bytes : 0.0;
        *pct = 100.0 * ratio;
    }
}

/* Bytes of the relocatable allocations in the regions of `mask`. */
static size_t relocatable_bytes(const fl_memory *m, uint32_t mask)
{
    size_t total = 0;
    for (size_t i = 0; i < m->record_slots && m->record_count != 0; i++) {
        const fli_record *rec = &m->records[i];
        if (rec->ptr == NULL || !(rec->flags & FL_FLAG_RELOCATABLE)) continue;
        for (unsigned k = 0; k < FLI_REGION_COUNT; k++)
            if (((mask >> k) & 1u) && in_range(&m->regions[k], (uintptr_t)rec->ptr)) total += rec->size;
    }
    return total;
}

/* The (up to DEFRAG_BATCH) lowest addresses of relocatable allocations in [from, to),
 * ascending, in out; returns how many. */
static unsigned next_batch(const fl_memory *m, uintptr_t from, uintptr_t to, uintptr_t *out)
{
    unsigned n = 0;
    for (size_t i = 0; i < m->record_slots && m->record_count != 0; i++) {
        const fli_record *rec = &m->records[i];
        uintptr_t p = (uintptr_t)rec->ptr;
        if (p == 0 || p < from || p >= to || !(rec->flags & FL_FLAG_RELOCATABLE)) continue;
        if (n == DEFRAG_BATCH && p >= out[n - 1]) continue;
        unsigned j = n < DEFRAG_BATCH ? n++ : n - 1; /* full: the largest drops out */
        while (j > 0 && out[j - 1] > p) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = p;
    }
    return n;
}

/* A move to report once the lock is released. */
typedef struct relocation {
    fl_relocate_fn fn;
    void *user;
    void *old_ptr, *new_ptr;
    size_t size;
} relocation;

/* Counts region r's allocator going from used0 to used1 bytes by a move (not an
 * allocation nor a free): used and peak everywhere they are kept. */
static void account_move(fl_memory *m, const fli_region *r, size_t used0, size_t used1)
{
    fli_tally *t = &m->types[r->type];
    t->used = t->used - used0 + used1;
    if (t->used > t->peak) t->peak = t->used;
    m->total_used = m->total_used - used0 + used1;
    if (m->total_used > m->total_peak) m->total_peak = m->total_used;
    fli_count_move(&m->views[r->strategy].base.counters, used0, used1);
    if (r->reserve) m->reserve_used = m->reserve_used - used0 + used1;
    m->dirty |= r->bit;
    m->summary_valid = false;
}

fl_status fli_relocate_locked(fl_memory *m, fli_region *r, void *ptr, void **out, fli_pending *pending)
{
    fl_allocator *a = r->a;
    size_t used0 = a->counters.used_bytes, size = 0;
    void *moved = ptr;
    fl_status st;
    if (a->external_memory) {
        st = a->ops->usable_size(a, ptr, &size); /* refuses what is not a live allocation */
        if (st == FL_OK) st = fli_buddy_relocate_external(a, ptr, &moved);
        /* The old block still holds the bytes (the buddy writes nothing there). */
        if (st == FL_OK && moved != ptr) m->relocate_copy(moved, ptr, size, m->relocate_copy_user);
    } else {
        /* Memory checkers: the move reads the whole usable block, a debug guard's poisoned
         * tail included (debug.c), and closes nothing of it behind. */
        if (FLI_POISONING_ON && a->ops->usable_size(a, ptr, &size) == FL_OK) FLI_OPEN(ptr, size);
        st = a->ops->relocate(a, ptr, &moved);
    }
    if (st != FL_OK) return st;
    *out = moved;
    if (moved == ptr) return FL_OK;
    account_move(m, r, used0, a->counters.used_bytes);

    fli_record *rec = m->record_count ? fli_registry_find(m, ptr) : NULL;
    if (rec != NULL) {
        fli_record saved = *rec;
        fli_registry_remove(m, ptr);
        rec = fli_registry_insert(m, moved);
        *rec = saved;
        rec->ptr = moved;
        if (a->ops->usable_size(a, moved, &rec->size) != FL_OK) rec->size = saved.size; /* cannot happen: live */
        /* A guarded block's tail is closed again at its new place, as debug.c made it. */
        if (m->guard != 0 && rec->size >= rec->requested + m->guard)
            FLI_POISON((unsigned char *)moved + rec->requested, rec->size - rec->requested);
    }
    fli_pressure_update(m, r->type, pending);
    fli_wake_waiters(m); /* the freed place may be what a waiting request needs */
    return FL_OK;
}

/* Moves the relocatable allocation at ptr in region r, if it is still one (lock held).
 * *examined gets its size (0: no such allocation any more); ev->new_ptr stays NULL when
 * it did not move. */
static fl_status move_locked(fl_memory *m, fli_region *r, void *ptr, size_t *examined, relocation *ev,
                             fli_pending *pending)
{
    *examined = 0;
    memset(ev, 0, sizeof *ev);
    const fli_record *rec = m->record_count ? fli_registry_find(m, ptr) : NULL;
    if (rec == NULL || !(rec->flags & FL_FLAG_RELOCATABLE)) return FL_OK;
    relocation found = {rec->on_relocate, rec->relocate_user, ptr, NULL, rec->size};
    *examined = rec->size;
    void *moved = ptr;
    fl_status st = fli_relocate_locked(m, r, ptr, &moved, pending);
    if (st != FL_OK || moved == ptr) return st;
    *ev = found;
    ev->new_ptr = moved;
    return FL_OK;
}

typedef struct run {
    fl_memory *m;
    fl_defrag_progress_fn fn;
    void *user;
    size_t total, examined, moved_bytes, moved_count;
    bool ended; /* a progress of 1.0 was reported */
} run;

static void report(run *w)
{
    if (w->fn == NULL) return;
    double progress = w->examined >= w->total ? 1.0 : (double)w->examined / (double)w->total;
    w->ended = progress == 1.0;
    w->fn(w->moved_bytes, w->total, progress, w->user);
}

/* Compacts region r: batches of addresses in order, one move per lock hold. */
static fl_status compact_region(run *w, fli_region *r)
{
    fl_memory *m = w->m;
    uintptr_t from = (uintptr_t)r->base, to = from + r->size;
    for (;;) {
        uintptr_t batch[DEFRAG_BATCH];
        fli_mem_lock(m);
        unsigned n = next_batch(m, from, to, batch);
        fli_mem_unlock(m);
        for (unsigned k = 0; k < n; k++) {
            size_t examined;
            relocation ev;
            fli_pending pending;
            pending.count = 0;
            fli_mem_lock(m);
            fl_status st = move_locked(m, r, (void *)batch[k], &examined, &ev, &pending);
            fli_mem_unlock(m);
            if (st != FL_OK) return st;
            if (ev.new_ptr != NULL) {
                w->moved_bytes += ev.size;
                w->moved_count++;
                if (ev.fn) ev.fn(ev.old_ptr, ev.new_ptr, ev.size, ev.user);
            }
            if (examined != 0) {
                w->examined += examined;
                report(w);
            }
            if (pending.count) fli_pressure_dispatch(m, &pending);
        }
        /* A short batch was the rest of the region (allocations made meanwhile may stay). */
        if (n < DEFRAG_BATCH) return FL_OK;
        from = batch[n - 1] + 1;
    }
}

static fl_status defragment(fl_memory *m, uint32_t mask, const scope *sc, fl_defrag_progress_fn fn, void *user,
                            fl_defrag_result *out)
{
    fl_defrag_result res;
    memset(&res, 0, sizeof res);
    run w;
    memset(&w, 0, sizeof w);
    w.m = m;
    w.fn = fn;
    w.user = user;
    fli_mem_lock(m);
    shape_locked(m, sc, &res.largest_free_before, &res.fragmentation_before);
    w.total = relocatable_bytes(m, mask);
    fli_mem_unlock(m);

    for (unsigned i = 0; i < FLI_REGION_COUNT; i++) {
        if (!((mask >> i) & 1u)) continue;
        fl_status st = compact_region(&w, &m->regions[i]);
        if (st != FL_OK) return st;
    }

    res.bytes_moved = w.moved_bytes;
    res.allocations_moved = w.moved_count;
    fli_mem_lock(m);
    shape_locked(m, sc, &res.largest_free_after, &res.fragmentation_after);
    m->defrag_runs++; /* for fl_memory_dump_json */
    m->defrag_allocations += res.allocations_moved;
    m->defrag_bytes += res.bytes_moved;
    m->last_defrag = res;
    m->has_last_defrag = true;
    fli_mem_unlock(m);
    if (fn != NULL && !w.ended) fn(w.moved_bytes, w.total, 1.0, user);
    if (out != NULL) *out = res;
    return FL_OK;
}

/* ---- public ------------------------------------------------------------------------------ */

fl_status fl_memory_defragment(fl_memory *m, fl_defrag_progress_fn fn, void *user, fl_defrag_result *out)
{
    if (m == NULL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_defragment: the memory interface is NULL");
    uint32_t mask = 0;
    for (unsigned i = 0; i < FLI_REGION_COUNT; i++)
        if (can_move(&m->regions[i])) mask |= (uint32_t)1 << i;
    scope sc = {true, FL_ALLOCATOR_FREELIST};
    return defragment(m, mask, &sc, fn, user, out);
}

fl_status fl_memory_defragment_allocator(fl_memory *m, fl_allocator_type t, fl_defrag_progress_fn fn, void *user,
                                         fl_defrag_result *out)
{
    if (m == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_defragment_allocator: the memory interface is NULL");
    if ((unsigned)t >= FL_ALLOCATOR_TYPE_COUNT)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "allocator type %d is not a strategy", (int)t);
    uint32_t mask = 0;
    bool movable = false;
    for (unsigned i = 0; i < FLI_REGION_COUNT; i++) {
        const fli_region *r = &m->regions[i];
        if (!r->present || r->strategy != t) continue;
        mask |= (uint32_t)1 << i;
        movable = can_move(r);
    }
    if (mask == 0)
        return fli_fail(FL_ERR_NOT_SUPPORTED, "no region of this memory interface uses the %s strategy",
                        fl_allocator_type_str(t));
    if (!movable)
        return fli_fail(FL_ERR_NOT_SUPPORTED,
                        "a %s allocator cannot move its allocations (the free list and the buddy defragment)",
                        fl_allocator_type_str(t));
    scope sc = {false, t};
    return defragment(m, mask, &sc, fn, user, out);
}
