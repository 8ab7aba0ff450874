/*
 * The allocator handles of fl_memory_get_allocator: one fli_view per strategy, an
 * fl_allocator whose ops route into the interface instead of managing memory of their own.
 *
 * A view covers every region its strategy serves (for the pool, all the classes). Its
 * base.counters are the sum of those regions' counters, kept by route.c and track.c on
 * every allocation and free under the interface's lock, so fl_allocator_get_stats on the
 * handle and fl_memory_get_allocator_stats give the same numbers. base.capacity is fixed
 * at create. The emergency reserve is a free-list region: it is counted in the free-list
 * view, but the view never allocates from it (only FL_FLAG_CRITICAL requests may) and
 * its largest free block is not the view's.
 *
 * allocator.c calls these ops with the handle's own lock (there is none: thread_safe is
 * false on views) and has already checked the arguments. Ops that reach regions take the
 * interface lock themselves, except largest_free and fragmentation: allocator.c calls
 * them from fl_allocator_get_stats, which fl_memory_get_allocator_stats calls with the lock
 * held (the lock is not recursive).
 */
#include "memory_internal.h"

static fli_view *as_view(fl_allocator *a) { return (fli_view *)a; }
static const fli_view *as_const_view(const fl_allocator *a) { return (const fli_view *)a; }

/* The regions of a view's strategy; with_reserve says whether the reserve counts. */
static bool in_view(const fl_memory *m, unsigned i, fl_allocator_type s, bool with_reserve)
{
    const fli_region *r = &m->regions[i];
    return r->present && r->strategy == s && (with_reserve || i != FLI_RESERVE);
}

static fl_status view_init(void *memory, size_t size, const fl_allocator_config *cfg, fl_allocator **out)
{
    (void)memory; (void)size; (void)cfg; (void)out;
    return fli_fail(FL_ERR_NOT_SUPPORTED, "a memory interface's allocator handle cannot be created on its own");
}

static fl_status view_allocate(fl_allocator *a, size_t size, size_t alignment, void **out)
{
    fl_memory *m = as_view(a)->m;
    fl_status st = fli_route_strategy(m, a->type, size, alignment, out);
    if (FLI_UNLIKELY(st == FL_ERR_OUT_OF_MEMORY)) {
        /* Counted here, under the interface's lock (counts_failures): allocator.c would
         * count it with only the handle's lock, which views do not have. */
        fli_mem_lock(m);
        a->counters.failed_allocations++;
        fli_mem_unlock(m);
    }
    return st;
}

static fl_status view_deallocate(fl_allocator *a, void *ptr) { return fli_free_strategy(as_view(a)->m, a->type, ptr); }

static void view_reset(fl_allocator *a)
{
    fl_memory *m = as_view(a)->m;
    fli_pending pending;
    pending.count = 0;
    fli_mem_lock(m);
    for (unsigned i = 0; i < FLI_REGION_COUNT; i++)
        if (in_view(m, i, a->type, true)) fli_reset_region_locked(m, &m->regions[i], &pending);
    fli_mem_unlock(m);
    fli_pressure_dispatch(m, &pending);
}

static bool view_owns(const fl_allocator *a, const void *ptr)
{
    fl_memory *m = as_const_view(a)->m;
    fli_mem_lock(m);
    unsigned cls;
    const fli_region *r = fli_region_of(m, ptr, &cls);
    bool owned = r != NULL && r->strategy == a->type;
    fli_mem_unlock(m);
    return owned;
}

static fl_status view_usable_size(const fl_allocator *a, const void *ptr, size_t *out)
{
    fl_memory *m = as_const_view(a)->m;
    fli_mem_lock(m);
    unsigned cls;
    fli_region *r = fli_region_of(m, ptr, &cls);
    fl_status st = r != NULL && r->strategy == a->type
                       ? fli_live_size(m, r, cls, ptr, out)
                       : fli_fail(FL_ERR_INVALID_PARAMETERS, "pointer %p was not allocated by the %s handle", ptr,
                                  a->name);
    fli_mem_unlock(m);
    return st;
}

static size_t view_largest_free(const fl_allocator *a)
{
    const fl_memory *m = as_const_view(a)->m;
    size_t largest = 0;
    for (unsigned i = 0; i < FLI_REGION_COUNT; i++) {
        if (!in_view(m, i, a->type, false)) continue;
        size_t l = fli_region_largest(&m->regions[i]);
        if (l > largest) largest = l;
    }
    return largest;
}

static double view_fragmentation(const fl_allocator *a)
{
    const fl_memory *m = as_const_view(a)->m;
    size_t fragmented = 0, free_bytes = a->capacity - a->counters.used_bytes;
    for (unsigned i = 0; i < FLI_REGION_COUNT; i++)
        if (in_view(m, i, a->type, true)) fragmented += fli_region_fragmented(&m->regions[i]);
    return free_bytes ? (double)fragmented / (double)free_bytes : 0.0;
}

static fl_status view_validate(const fl_allocator *a) { return fl_memory_validate(as_const_view(a)->m); }

static fl_status view_walk(const fl_allocator *a, fl_walk_fn fn, void *user)
{
    fl_memory *m = as_const_view(a)->m;
    fl_status st = FL_OK;
    fli_mem_lock(m);
    for (unsigned i = 0; i < FLI_REGION_COUNT && st == FL_OK; i++) {
        if (!in_view(m, i, a->type, true)) continue;
        const fli_region *r = &m->regions[i];
        for (unsigned c = 0; c < r->class_count && st == FL_OK; c++) st = r->cls[c].a->ops->walk(r->cls[c].a, fn, user);
        if (r->a) st = r->a->ops->walk(r->a, fn, user);
    }
    fli_mem_unlock(m);
    return st;
}

/* Markers of a linear or stack handle are those of its first region (in type order). */
static fli_region *marker_region(fl_allocator *a)
{
    fl_memory *m = as_view(a)->m;
    for (unsigned i = 0; i < FL_MEMORY_TYPE_COUNT; i++)
        if (in_view(m, i, a->type, false)) return &m->regions[i];
    return NULL;
}

static fl_marker view_mark(fl_allocator *a)
{
    fl_memory *m = as_view(a)->m;
    fli_region *r = marker_region(a);
    fl_marker mark = {0, 0, 0};
    if (r == NULL) return mark;
    fli_mem_lock(m);
    mark = r->a->ops->mark(r->a);
    fli_mem_unlock(m);
    return mark;
}

static fl_status view_rewind(fl_allocator *a, fl_marker mark)
{
    fl_memory *m = as_view(a)->m;
    fli_region *r = marker_region(a);
    if (r == NULL) return fli_fail(FL_ERR_NOT_SUPPORTED, "the %s handle has no region", a->name);
    fli_pending pending;
    pending.count = 0;
    fli_mem_lock(m);
    fl_status st = fli_rewind_locked(m, r, mark, &pending);
    fli_mem_unlock(m);
    fli_pressure_dispatch(m, &pending);
    return st;
}

#define VIEW_OPS(name, mark_fn, rewind_fn, overhead)                                                                  \
    static const fli_allocator_ops name = {                                                                          \
        .init = view_init,                                                                                           \
        .allocate = view_allocate,                                                                                   \
        .deallocate = view_deallocate,                                                                               \
        .reset = view_reset,                                                                                         \
        .owns = view_owns,                                                                                           \
        .usable_size = view_usable_size,                                                                             \
        .largest_free = view_largest_free,                                                                           \
        .fragmentation = view_fragmentation,                                                                         \
        .validate = view_validate,                                                                                   \
        .walk = view_walk,                                                                                           \
        .mark = mark_fn,                                                                                             \
        .rewind = rewind_fn,                                                                                         \
        .destroy = NULL,                                                                                             \
        .allocation_overhead = overhead,                                                                             \
        .supports_defrag = false,                                                                                    \
        .counts_failures = true,                                                                                     \
    }

/* allocation_overhead: what each strategy's allocator reports (allocator.h); the linear
 * and stack regions also round to the granule, which is padding, not a header. */
VIEW_OPS(linear_view_ops, view_mark, view_rewind, 0);
VIEW_OPS(stack_view_ops, view_mark, view_rewind, sizeof(size_t));
VIEW_OPS(pool_view_ops, NULL, NULL, 0);
VIEW_OPS(buddy_view_ops, NULL, NULL, 0);
VIEW_OPS(freelist_view_ops, NULL, NULL, sizeof(size_t));
VIEW_OPS(system_view_ops, NULL, NULL, 0);

void fli_views_init(fl_memory *m)
{
    static const fli_allocator_ops *const ops[FL_ALLOCATOR_TYPE_COUNT] = {
        &linear_view_ops, &stack_view_ops, &pool_view_ops, &buddy_view_ops, &freelist_view_ops, &system_view_ops};
    for (unsigned s = 0; s < FL_ALLOCATOR_TYPE_COUNT; s++) {
        fli_view *v = &m->views[s];
        memset(v, 0, sizeof *v);
        v->m = m;
        v->base.ops = ops[s];
        v->base.type = (fl_allocator_type)s;
        v->base.name = fl_allocator_type_str((fl_allocator_type)s);
        v->base.thread_safe = false;
        for (unsigned i = 0; i < FLI_REGION_COUNT; i++)
            if (in_view(m, i, (fl_allocator_type)s, true)) v->base.capacity += fli_region_capacity(&m->regions[i]);
    }
}

/* ---- public ------------------------------------------------------------------------------- */

static fl_status check_strategy(fl_memory *m, fl_allocator_type t)
{
    if (m == NULL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "the memory interface is NULL");
    if ((unsigned)t >= FL_ALLOCATOR_TYPE_COUNT)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "allocator type %d is not a strategy", (int)t);
    for (unsigned i = 0; i < FLI_REGION_COUNT; i++)
        if (in_view(m, i, t, true)) return FL_OK;
    return fli_fail(FL_ERR_NOT_SUPPORTED, "no region of this memory interface uses the %s strategy",
                    fl_allocator_type_str(t));
}

fl_status fl_memory_get_allocator(fl_memory *m, fl_allocator_type t, fl_allocator **out)
{
    if (out == NULL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_get_allocator: out is NULL");
    fl_status st = check_strategy(m, t);
    if (st == FL_OK) *out = &m->views[t].base;
    return st;
}

size_t fl_memory_get_available_allocators(fl_memory *m, fl_allocator_type *out, size_t cap)
{
    if (m == NULL) return 0;
    size_t n = 0;
    for (unsigned s = 0; s < FL_ALLOCATOR_TYPE_COUNT; s++) {
        bool used = false;
        for (unsigned i = 0; i < FLI_REGION_COUNT && !used; i++) used = in_view(m, i, (fl_allocator_type)s, true);
        if (!used) continue;
        if (out != NULL && n < cap) out[n] = (fl_allocator_type)s;
        n++;
    }
    return n;
}

fl_status fl_memory_get_allocator_stats(fl_memory *m, fl_allocator_type t, fl_allocator_stats *out)
{
    if (out == NULL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_get_allocator_stats: out is NULL");
    fl_status st = check_strategy(m, t);
    if (st != FL_OK) return st;
    fli_mem_lock(m);
    fl_allocator_get_stats(&m->views[t].base, out);
    fli_mem_unlock(m);
    return FL_OK;
}
