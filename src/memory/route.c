/*
 * Requests: routing to a region and an allocator, fallback, the emergency reserve, the
 * pressure retry; deallocate, reallocate and the exact pointer queries.
 *
 * A route is the ordered list of regions a request may be served by (plan_route): for
 * each type of the chain (the preferred type, then, with allow_fallback, the profile's
 * fallback types) the regions the rules of fl_memory_allocate_request name, each region
 * once. Typed requests without a preference or fallback (the common case) skip the
 * planning: their route is their type's region.
 *
 * Serving from a region (serve):
 * - pool: the smallest class whose block holds the size and whose alignment holds the
 *   request's; if that class is full, the next class once. Consumed = usable = block.
 * - linear / stack: size rounded up to the granule, alignment at least the granule
 *   (track.c), then the start and end bits are set.
 * - free list, buddy, system: the allocator's own answer; usable from its usable_size.
 * "Consumed" is always what the allocator's used_bytes grew by, so the interface's
 * counters stay equal to the sums of its allocators' (fl_memory_validate checks it).
 *
 * Hot path (a typed pool or free-list request): argument checks, one lock when
 * thread_safe, one class lookup, the allocator's O(1) allocate, three sets of plain adds
 * (type, total, strategy), and two pressure-level compares. No record is touched unless
 * the request carries a tag or FL_FLAG_RELOCATABLE.
 */
#include "memory_internal.h"

typedef struct fli_req {
    size_t size, align;
    fl_memory_type type;
    fl_memory_flags flags;
    fl_allocator_type pref;
    bool fallback;
    bool strict; /* only regions of `pref` (the allocator handles) */
    const char *tag;
    fl_relocate_fn on_relocate;
    void *relocate_user;
    uint32_t timeout_ms; /* 0: fail at once (only fl_memory_allocate_request sets it) */
    const char *file; /* call site (fl_memory_allocate_request_at), or NULL */
    unsigned line;
} fli_req;

typedef struct route_plan {
    unsigned count;
    uint8_t region[FLI_REGION_COUNT];
    bool reached_system; /* the emergency reserve may serve a critical request */
} route_plan;

typedef struct served {
    void *ptr;
    size_t usable, consumed;
    fli_region *r;
} served;

#define CAPABILITY_FLAGS (FL_FLAG_CACHEABLE | FL_FLAG_DMA_CAPABLE)

/* The few helpers of the common case are folded into their public callers: measured with
 * callgrind on 64-byte pool churn, calls and their register saves were a third of the
 * interface's instructions. */
#if defined(__GNUC__) || defined(__clang__)
#define HOT static inline __attribute__((always_inline))
#else
#define HOT static inline
#endif

/* ---- planning -------------------------------------------------------------------------- */

static void plan_add(const fl_memory *m, route_plan *p, unsigned *seen, unsigned index)
{
    if (!m->regions[index].present || (*seen & (1u << index))) return;
    *seen |= 1u << index;
    p->region[p->count++] = (uint8_t)index;
}

static bool uses(const fl_memory *m, unsigned index, fl_allocator_type strategy)
{
    return m->regions[index].present && m->regions[index].strategy == strategy;
}

static void plan_type(const fl_memory *m, const fli_req *q, route_plan *p, unsigned *seen, fl_memory_type t)
{
    bool general = t == FL_MEMORY_SYSTEM;
    if (q->pref != FL_ALLOCATOR_AUTO) {
        if (uses(m, t, q->pref)) plan_add(m, p, seen, t);
        if (general) {
            /* Pool, Temporary and Stack are main memory too: a System request may name them. */
            static const fl_memory_type siblings[] = {FL_MEMORY_POOL, FL_MEMORY_TEMPORARY, FL_MEMORY_STACK};
            for (unsigned i = 0; i < 3; i++)
                if (uses(m, siblings[i], q->pref)) plan_add(m, p, seen, siblings[i]);
        }
    }
    if (general && (q->flags & FL_FLAG_TEMPORARY) && uses(m, FL_MEMORY_TEMPORARY, FL_ALLOCATOR_LINEAR))
        plan_add(m, p, seen, FL_MEMORY_TEMPORARY);
    if (general && uses(m, FL_MEMORY_POOL, FL_ALLOCATOR_POOL) && q->size <= m->regions[FL_MEMORY_POOL].largest_block)
        plan_add(m, p, seen, FL_MEMORY_POOL);
    plan_add(m, p, seen, t);
    if (general && m->regions[t].present) p->reached_system = true;
}

static void plan_route(const fl_memory *m, const fli_req *q, route_plan *p)
{
    unsigned seen = 0;
    p->count = 0;
    p->reached_system = false;
    if (q->strict) {
        for (unsigned t = 0; t < FL_MEMORY_TYPE_COUNT; t++)
            if (uses(m, t, q->pref)) plan_add(m, p, &seen, t);
        return;
    }
    if (q->pref == FL_ALLOCATOR_AUTO && !q->fallback && q->type != FL_MEMORY_SYSTEM) {
        plan_add(m, p, &seen, q->type);
        return;
    }
    unsigned types_seen = 0;
    fl_memory_type t = q->type;
    while ((unsigned)t < FL_MEMORY_TYPE_COUNT && !(types_seen & (1u << t))) {
        types_seen |= 1u << t;
        plan_type(m, q, p, &seen, t);
        if (!q->fallback) break;
        t = m->fallback[t];
    }
}

/* ---- serving from one region -------------------------------------------------------------- */

HOT unsigned pool_class_for(const fli_region *r, size_t size, size_t align)
{
    size_t bucket = (size - 1) >> FLI_POOL_LUT_SHIFT;
    if (FLI_LIKELY(align == FL_ALIGN_DEFAULT && bucket < FLI_POOL_LUT)) {
        unsigned d = r->default_class[bucket];
        if (FLI_LIKELY(d != FLI_POOL_MIXED)) return d;
    }
    unsigned c = r->size_class[bucket < FLI_POOL_LUT ? bucket : FLI_POOL_LUT - 1];
    while (c < r->class_count && (r->cls[c].block < size || r->cls[c].align < align)) c++;
    return c;
}

/* A block of pool class k for the request, or false when the class is full (counted as
 * the pool's failure). The pool's own inline take (no indirect call) when it has a free
 * block and no memory checker watches (fast_kind); the class holds size and align. */
HOT bool take_from_class(fli_pool_class *k, size_t size, size_t align, served *s)
{
    fli_pool *fp = (fli_pool *)(void *)k->a;
    void *p;
    if (FLI_LIKELY(k->a->fast_kind == FLI_FAST_POOL && fp->free_head != NULL)) {
        p = fli_pool_take_head(fp, size);
    } else if (k->a->ops->allocate(k->a, size, align, &p) != FL_OK) {
        k->a->counters.failed_allocations++;
        return false;
    }
    s->ptr = p;
    s->usable = s->consumed = k->block;
    return true;
}

HOT fl_status serve_pool(fli_region *r, size_t size, size_t align, served *s)
{
    unsigned c = pool_class_for(r, size, align);
    if (FLI_UNLIKELY(c >= r->class_count)) return FL_ERR_OUT_OF_MEMORY;
    if (FLI_LIKELY(take_from_class(&r->cls[c], size, align, s))) return FL_OK;
    /* Full: the next larger class that holds the alignment, once. */
    while (++c < r->class_count && r->cls[c].align < align) {}
    if (c < r->class_count && take_from_class(&r->cls[c], size, align, s)) return FL_OK;
    return FL_ERR_OUT_OF_MEMORY;
}

static fl_status serve_tracked(fli_region *r, size_t size, size_t align, served *s)
{
    fl_allocator *a = r->a;
    size_t rounded = fli_align_up(size, FLI_GRANULE); /* sizes were checked against overflow */
    size_t granule_align = align > FLI_GRANULE ? align : FLI_GRANULE;
    /* A linear region without a lock or memory checker: the allocator's inline bump (no
     * indirect call), which consumes exactly the padding and the rounded size. When it
     * does not fit, the allocator's own allocate refuses and says why. */
    if (FLI_LIKELY(a->fast_kind == FLI_FAST_LINEAR)) {
        fli_linear *l = (fli_linear *)(void *)a;
        size_t pad = fli_linear_pad(l, granule_align), room = a->capacity - l->top;
        if (FLI_LIKELY(pad <= room && rounded <= room - pad)) {
            void *q = fli_linear_bump(l, rounded, pad);
            fli_track_mark(&r->track, q, rounded);
            s->ptr = q;
            s->usable = rounded;
            s->consumed = pad + rounded;
            return FL_OK;
        }
    }
    size_t used0 = a->counters.used_bytes;
    void *p;
    fl_status st = a->ops->allocate(a, rounded, granule_align, &p);
    if (st != FL_OK) {
        if (st == FL_ERR_OUT_OF_MEMORY) a->counters.failed_allocations++;
        return st;
    }
    fli_track_mark(&r->track, p, rounded);
    s->ptr = p;
    s->usable = rounded;
    s->consumed = a->counters.used_bytes - used0;
    return FL_OK;
}

static fl_status serve_general(fli_region *r, size_t size, size_t align, served *s)
{
    fl_allocator *a = r->a;
    size_t used0 = a->counters.used_bytes;
    void *p;
    fl_status st = a->ops->allocate(a, size, align, &p);
    if (st != FL_OK) {
        if (st == FL_ERR_OUT_OF_MEMORY) a->counters.failed_allocations++;
        return st;
    }
    if (a->ops->usable_size(a, p, &s->usable) != FL_OK) s->usable = size; /* cannot happen: p is live */
    s->ptr = p;
    s->consumed = a->counters.used_bytes - used0;
    return FL_OK;
}

HOT fl_status serve(fli_region *r, size_t size, size_t align, served *s)
{
    s->r = r;
    fl_status st;
    switch (r->strategy) {
    case FL_ALLOCATOR_POOL: st = serve_pool(r, size, align, s); break;
    case FL_ALLOCATOR_LINEAR:
    case FL_ALLOCATOR_STACK: st = serve_tracked(r, size, align, s); break;
    default: st = serve_general(r, size, align, s); break;
    }
    /* Memory checkers (core/poison.h): the allocator opened the bytes asked of it; the
     * interface promises every usable byte. */
    if (FLI_LIKELY(st == FL_OK)) FLI_UNPOISON(s->ptr, s->usable);
    return st;
}

/* Tries the route in order, then the reserve. FL_OK, FL_ERR_OUT_OF_MEMORY (some region
 * could have served it), or FL_ERR_NOT_SUPPORTED (none exists with the capabilities). */
static fl_status try_route(fl_memory *m, const fli_req *q, const route_plan *p, served *s)
{
    fl_memory_flags needed = q->flags & CAPABILITY_FLAGS;
    bool eligible = false;
    for (unsigned i = 0; i < p->count; i++) {
        fli_region *r = &m->regions[p->region[i]];
        if ((r->caps & needed) != needed) continue;
        eligible = true;
        if (serve(r, q->size, q->align, s) == FL_OK) return FL_OK;
    }
    fli_region *reserve = &m->regions[FLI_RESERVE];
    if ((q->flags & FL_FLAG_CRITICAL) && p->reached_system && reserve->present && (reserve->caps & needed) == needed) {
        if (serve(reserve, q->size, q->align, s) == FL_OK) return FL_OK;
    }
    return eligible ? FL_ERR_OUT_OF_MEMORY : FL_ERR_NOT_SUPPORTED;
}

static inline void account_allocation(fl_memory *m, const served *s, size_t requested, fli_pending *pending)
{
    fli_account_alloc(m, s->r, requested, s->consumed);
    fli_pressure_update(m, s->r->type, pending);
}

static void raise_route(fl_memory *m, const route_plan *p, fli_pending *pending)
{
    unsigned raised = 0;
    for (unsigned i = 0; i < p->count; i++) {
        fl_memory_type t = m->regions[p->region[i]].type;
        if (raised & (1u << t)) continue;
        raised |= 1u << t;
        fli_pressure_raise(m, t, pending);
    }
}

/* Whether region r could hold the request once enough is freed (a coarse bound: its
 * capacity, or the pool's largest class). */
static bool region_could_fit(const fli_region *r, const fli_req *q)
{
    fl_memory_flags needed = q->flags & CAPABILITY_FLAGS;
    if (!r->present || (r->caps & needed) != needed) return false;
    return q->size <= (r->strategy == FL_ALLOCATOR_POOL ? r->largest_block : fli_region_capacity(r));
}

/* Whether waiting can help: some region the request may use could hold it. */
static bool route_could_fit(const fl_memory *m, const fli_req *q, const route_plan *p)
{
    for (unsigned i = 0; i < p->count; i++)
        if (region_could_fit(&m->regions[p->region[i]], q)) return true;
    return (q->flags & FL_FLAG_CRITICAL) && p->reached_system && region_could_fit(&m->regions[FLI_RESERVE], q);
}

/* The whole request: route, pressure and one retry, waiting (timeout_ms), accounting,
 * record, zeroing. */
static fl_status route_planned(fl_memory *m, const fli_req *q, served *s);

static fl_status route(fl_memory *m, const fli_req *q, served *s) { return route_planned(m, q, s); }

static fl_status route_planned(fl_memory *m, const fli_req *q, served *s)
{
    /* Debug guards (debug.c): the region serves the request plus its guard bytes. */
    bool debug = FLI_DEBUG_ON(m);
    fli_req guarded;
    if (debug) {
        guarded = *q;
        guarded.size += m->guard; /* the size was checked to stay FL_ALIGN_MAX below SIZE_MAX */
    }
    const fli_req *tq = debug ? &guarded : q;
    route_plan plan;
    plan_route(m, tq, &plan); /* reads only what create fixed: no lock needed */
    bool needs_record = q->tag != NULL || (q->flags & FL_FLAG_RELOCATABLE);
    fli_pending pending;
    pending.count = 0;

    fli_mem_lock(m);
    bool table_full = needs_record && m->record_count >= m->record_max;
    fl_status st = table_full ? FL_ERR_OUT_OF_MEMORY : try_route(m, tq, &plan, s);
    if (FLI_UNLIKELY(st == FL_ERR_OUT_OF_MEMORY) && m->callback_count != 0) {
        /* Let the callbacks free memory, then try once more. */
        raise_route(m, &plan, &pending);
        fli_mem_unlock(m);
        fli_pressure_dispatch(m, &pending);
        pending.count = 0;
        fli_mem_lock(m);
        table_full = needs_record && m->record_count >= m->record_max;
        st = table_full ? FL_ERR_OUT_OF_MEMORY : try_route(m, tq, &plan, s);
    }
    if (FLI_UNLIKELY(st == FL_ERR_OUT_OF_MEMORY) && q->timeout_ms != 0 && m->can_wait &&
        (table_full || route_could_fit(m, tq, &plan))) {
        /* Sleep until another thread frees memory, try again, until the deadline (wait.c). */
        fli_deadline deadline;
        fli_wait_start(m, q->timeout_ms, &deadline);
        bool more;
        do {
            more = fli_wait_locked(m, &deadline);
            table_full = needs_record && m->record_count >= m->record_max;
            st = table_full ? FL_ERR_OUT_OF_MEMORY : try_route(m, tq, &plan, s);
        } while (st == FL_ERR_OUT_OF_MEMORY && more);
        if (st == FL_ERR_OUT_OF_MEMORY) st = FL_ERR_TIMEOUT;
        m->waited++; /* for fl_memory_dump_json */
        if (st == FL_OK) m->waited_served++;
        else if (st == FL_ERR_TIMEOUT) m->waited_timeouts++;
    }
    if (FLI_LIKELY(st == FL_OK)) {
        account_allocation(m, s, q->size, &pending);
        if (needs_record) {
            fli_record *rec = fli_registry_insert(m, s->ptr);
            rec->size = s->usable;
            rec->requested = q->size;
            rec->alignment = q->align;
            rec->tag = q->tag;
            rec->on_relocate = q->on_relocate;
            rec->relocate_user = q->relocate_user;
            rec->flags = q->flags;
            rec->type = s->r->type;
            rec->allocator = s->r->strategy;
            rec->file = q->file;
            rec->line = q->line;
        }
        if (debug) {
            fli_debug_fresh(m, s->r, s->ptr, q->size, s->usable, q->flags, needs_record);
            if (!needs_record && q->file) fli_debug_set_site(m, s->ptr, q->file, q->line);
        }
    } else if (st == FL_ERR_OUT_OF_MEMORY || st == FL_ERR_TIMEOUT) {
        fl_memory_type counted = plan.count ? m->regions[plan.region[0]].type : q->type;
        m->types[counted].failed++;
        m->summary_valid = false;
    }
    fli_mem_unlock(m);
    if (pending.count) fli_pressure_dispatch(m, &pending);

    if (FLI_UNLIKELY(st != FL_OK)) {
        if (st == FL_ERR_NOT_SUPPORTED)
            return fli_fail(st, "no %s region%s here%s", fl_memory_type_str(q->type),
                            q->fallback ? " or fallback region" : "",
                            (q->flags & CAPABILITY_FLAGS) ? " has the requested capabilities" : " exists");
        if (st == FL_ERR_TIMEOUT)
            return fli_fail(st, "no %s memory for %zu bytes aligned to %zu within the %u ms timeout%s",
                            fl_memory_type_str(q->type), q->size, q->align, (unsigned)q->timeout_ms,
                            table_full ? " (the record table stayed full)" : "");
        if (table_full)
            return fli_fail(st, "the record table is full (%zu tagged or relocatable allocations live)", m->record_max);
        return fli_fail(st, "no %s memory for %zu bytes aligned to %zu%s", fl_memory_type_str(q->type), q->size,
                        q->align, q->fallback ? " (fallback chain tried)" : "");
    }
    if ((q->flags & FL_FLAG_ZERO) && !debug) memset(s->ptr, 0, s->usable); /* debug: done by fli_debug_fresh */
    return FL_OK;
}

static void fill_allocation(const served *s, const fli_req *q, fl_allocation *out)
{
    out->ptr = s->ptr;
    out->size = s->usable;
    out->alignment = q->align;
    out->type = s->r->type;
    out->allocator = s->r->strategy;
    out->flags = q->flags | s->r->caps;
}

/* ---- public requests ------------------------------------------------------------------------ */

/* Every check of API.md's "bad input", in one place, with a message naming the value. The
 * fast path below only asks whether all of them pass. */
static fl_status check_request(const fl_memory *m, size_t size, size_t alignment, fl_memory_type type,
                               fl_memory_flags flags, fl_allocator_type pref, fl_relocate_fn on_relocate,
                               size_t *align)
{
    if (size == 0) return fli_fail(FL_ERR_INVALID_PARAMETERS, "size 0 is not an allocation");
    if (size > SIZE_MAX - FL_ALIGN_MAX)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "size %zu is too large to round up", size);
    fl_status st = fli_check_alignment(alignment, align);
    if (st != FL_OK) return st;
    if ((unsigned)type >= FL_MEMORY_TYPE_COUNT)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "memory type %d is not a memory type", (int)type);
    if (flags & ~FL_FLAG_ALL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "flags %u include unknown bits", (unsigned)flags);
    if ((unsigned)pref >= FL_ALLOCATOR_TYPE_COUNT && pref != FL_ALLOCATOR_AUTO)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "allocator type %d is not an allocator type", (int)pref);
    if ((flags & FL_FLAG_RELOCATABLE) && on_relocate == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "FL_FLAG_RELOCATABLE needs an on_relocate callback");
    if (m->max_allocation != 0 && size > m->max_allocation)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "size %zu exceeds this profile's max_allocation %zu", size,
                        m->max_allocation);
    return FL_OK;
}

/* True when a typed request passes every check (the common case, decided without calls). */
static inline bool plain_request_ok(const fl_memory *m, size_t size, size_t alignment, fl_memory_type type,
                                    fl_memory_flags flags, size_t *align)
{
    *align = alignment ? alignment : FL_ALIGN_DEFAULT;
    return size - 1 < SIZE_MAX - FL_ALIGN_MAX && (alignment & (alignment - 1)) == 0 && alignment <= FL_ALIGN_MAX &&
           (unsigned)type < FL_MEMORY_TYPE_COUNT && (flags & ~(FL_FLAG_ALL & ~FL_FLAG_RELOCATABLE)) == 0 &&
           (m->max_allocation == 0 || size <= m->max_allocation);
}

/* With debug guards, an allocation's size is its request (the record's), not the block's. */
static void shown_size(fl_memory *m, fl_allocation *out)
{
    fli_mem_lock(m);
    const fli_record *rec = m->record_count ? fli_registry_find(m, out->ptr) : NULL;
    if (rec && rec->size >= rec->requested + m->guard) out->size = rec->requested;
    fli_mem_unlock(m);
}

static fl_status allocate_core(fl_memory *m, const fli_req *q, fl_allocation *out)
{
    served s;
    fl_status st = route(m, q, &s);
    if (FLI_LIKELY(st == FL_OK)) {
        fill_allocation(&s, q, out);
        if (FLI_DEBUG_ON(m) && m->guard) shown_size(m, out);
    }
    return st;
}

/* The whole common case, from one region: no record, no capability requirement, served at
 * the first try. False: r cannot serve it now, and the general path (which raises
 * pressure and retries) takes over. */
HOT bool serve_plain(fl_memory *m, fli_region *r, size_t size, size_t align, fl_memory_flags flags,
                               fl_allocation *out)
{
    served s;
    fli_pending pending;
    pending.count = 0;
    fli_mem_lock(m);
    if (FLI_UNLIKELY(serve(r, size, align, &s) != FL_OK)) {
        fli_mem_unlock(m);
        return false;
    }
    fli_account_alloc(m, r, size, s.consumed);
    fli_pressure_update(m, r->type, &pending);
    fli_mem_unlock(m);
    if (FLI_UNLIKELY(pending.count)) fli_pressure_dispatch(m, &pending);
    if (flags & FL_FLAG_ZERO) memset(s.ptr, 0, s.usable);
    out->ptr = s.ptr;
    out->size = s.usable;
    out->alignment = align;
    out->type = r->type;
    out->allocator = r->strategy;
    out->flags = flags | r->caps;
    return true;
}

/* Routing rules 3 and 4 of a plain request (no preference, no capability, no record):
 * for System, the Pool region when the size fits a class, then the type's own region. */
HOT bool serve_plain_type(fl_memory *m, fl_memory_type type, size_t size, size_t align,
                                    fl_memory_flags flags, fl_allocation *out)
{
    if (type == FL_MEMORY_SYSTEM) {
        if (flags & FL_FLAG_TEMPORARY) return false; /* rule 2: the planner's job */
        fli_region *pool = &m->regions[FL_MEMORY_POOL];
        if (pool->strategy == FL_ALLOCATOR_POOL && pool->present && size <= pool->largest_block &&
            serve_plain(m, pool, size, align, flags, out))
            return true;
    }
    fli_region *r = &m->regions[type];
    return r->present && serve_plain(m, r, size, align, flags, out);
}

fl_alloc_request fl_make_allocation_request(size_t size, fl_memory_type type, size_t alignment, fl_memory_flags flags)
{
    fl_alloc_request r = {size, alignment, type, flags, FL_ALLOCATOR_AUTO, 0, false, NULL, NULL, NULL};
    return r;
}

/* fl_memory_allocate_request and its call-site form: every check, then the general path. */
static fl_status allocate_request_from(fl_memory *m, const fl_alloc_request *req, const char *file, unsigned line,
                                       fl_allocation *out, const char *function)
{
    if (FLI_UNLIKELY(m == NULL || req == NULL || out == NULL))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: %s is NULL", function,
                        m == NULL ? "the memory interface" : req == NULL ? "the request" : "out");
    size_t align = FL_ALIGN_DEFAULT;
    fl_status st = check_request(m, req->size, req->alignment, req->preferred_type, req->flags,
                                 req->preferred_allocator, req->on_relocate, &align);
    if (st != FL_OK) return st;
    fli_req q = {req->size,           align, req->preferred_type, req->flags,       req->preferred_allocator,
                 req->allow_fallback, false, req->tag,            req->on_relocate, req->relocate_user,
                 req->timeout_ms,     file,  line};
    return allocate_core(m, &q, out);
}

fl_status fl_memory_allocate_request(fl_memory *m, const fl_alloc_request *req, fl_allocation *out)
{
    return allocate_request_from(m, req, NULL, 0, out, "fl_memory_allocate_request");
}

fl_status fl_memory_allocate_request_at(fl_memory *m, const fl_alloc_request *req, const char *file, unsigned line,
                                        fl_allocation *out)
{
    return allocate_request_from(m, req, file, line, out, "fl_memory_allocate_request_at");
}

/* fl_memory_allocate_typed after its fast path declined: every check with its message, the
 * plain serve when the checks allow it, then the general path. Out of line, so that the
 * fast path keeps a small frame and few saved registers. */
static FLI_NOINLINE fl_status allocate_typed_checked(fl_memory *m, size_t size, fl_memory_type type,
                                                     size_t alignment, fl_memory_flags flags, fl_allocation *out)
{
    if (FLI_UNLIKELY(m == NULL || out == NULL))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_allocate_typed: %s is NULL",
                        m ? "out" : "the memory interface");
    size_t align = FL_ALIGN_DEFAULT;
    if (FLI_UNLIKELY(!plain_request_ok(m, size, alignment, type, flags, &align))) {
        fl_status st = check_request(m, size, alignment, type, flags, FL_ALLOCATOR_AUTO, NULL, &align);
        if (st != FL_OK) return st;
    }
    if (FLI_LIKELY(!(flags & CAPABILITY_FLAGS)) && !FLI_DEBUG_ON(m) && serve_plain_type(m, type, size, align, flags, out))
        return FL_OK;
    fli_req q = {size, align, type, flags, FL_ALLOCATOR_AUTO, false, false, NULL, NULL, NULL, 0, NULL, 0};
    return allocate_core(m, &q, out);
}

/* A plain request the fast path could not serve at once (full, pressure to raise, debug
 * options, capabilities): the general path, which also counts the failure. */
static FLI_NOINLINE fl_status allocate_typed_general(fl_memory *m, size_t size, fl_memory_type type, size_t align,
                                                     fl_memory_flags flags, fl_allocation *out)
{
    fli_req q = {size, align, type, flags, FL_ALLOCATOR_AUTO, false, false, NULL, NULL, NULL, 0, NULL, 0};
    return allocate_core(m, &q, out);
}

fl_status fl_memory_allocate_typed(fl_memory *m, size_t size, fl_memory_type type, size_t alignment,
                                   fl_memory_flags flags, fl_allocation *out)
{
    size_t align;
    if (FLI_LIKELY(m != NULL && out != NULL && plain_request_ok(m, size, alignment, type, flags, &align))) {
        if (FLI_LIKELY(!(flags & CAPABILITY_FLAGS)) && !FLI_DEBUG_ON(m) &&
            FLI_LIKELY(serve_plain_type(m, type, size, align, flags, out)))
            return FL_OK;
        return allocate_typed_general(m, size, type, align, flags, out);
    }
    return allocate_typed_checked(m, size, type, alignment, flags, out);
}

fl_status fl_memory_allocate(fl_memory *m, size_t size, size_t alignment, fl_allocation *out)
{
    if (FLI_UNLIKELY(m == NULL || out == NULL))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_allocate: %s is NULL", m ? "out" : "the memory interface");
    size_t align = FL_ALIGN_DEFAULT;
    if (FLI_UNLIKELY(!plain_request_ok(m, size, alignment, FL_MEMORY_SYSTEM, FL_FLAG_NONE, &align))) {
        fl_status st = check_request(m, size, alignment, FL_MEMORY_SYSTEM, FL_FLAG_NONE, FL_ALLOCATOR_AUTO, NULL, &align);
        if (st != FL_OK) return st;
    }
    if (FLI_LIKELY(!FLI_DEBUG_ON(m)) && serve_plain_type(m, FL_MEMORY_SYSTEM, size, align, FL_FLAG_NONE, out))
        return FL_OK;
    fli_req q = {size, align, FL_MEMORY_SYSTEM, FL_FLAG_NONE, FL_ALLOCATOR_AUTO, true, false, NULL, NULL, NULL, 0, NULL, 0};
    return allocate_core(m, &q, out);
}

fl_status fli_route_strategy(fl_memory *m, fl_allocator_type strategy, size_t size, size_t alignment, void **out)
{
    if (size > SIZE_MAX - FL_ALIGN_MAX)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "size %zu is too large to round up", size);
    if (m->max_allocation != 0 && size > m->max_allocation)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "size %zu exceeds this profile's max_allocation %zu", size,
                        m->max_allocation);
    fli_req q = {size, alignment, FL_MEMORY_SYSTEM, FL_FLAG_NONE, strategy, false, true, NULL, NULL, NULL, 0, NULL, 0};
    served s;
    fl_status st = route(m, &q, &s);
    if (st == FL_OK) *out = s.ptr;
    return st;
}

/* ---- ownership --------------------------------------------------------------------------- */

HOT fli_region *region_of(fl_memory *m, const void *ptr, unsigned *cls)
{
    uintptr_t p = (uintptr_t)ptr;
    *cls = FLI_NO_CLASS;
    for (unsigned i = 0; i < m->lookup_count; i++) {
        fli_region *r = &m->regions[m->lookup[i]];
        size_t offset = (size_t)(p - (uintptr_t)r->base);
        if (p < (uintptr_t)r->base || offset >= r->size) continue;
        if (r->strategy == FL_ALLOCATOR_POOL) {
            unsigned c = r->chunk_class[offset >> r->chunk_shift];
            while (c + 1 < r->class_count && p >= (uintptr_t)r->cls[c + 1].start) c++;
            *cls = c;
        }
        return r;
    }
    for (unsigned i = 0; i < m->heap_count; i++) {
        fli_region *r = &m->regions[m->heap_regions[i]];
        if (r->a->ops->owns(r->a, ptr)) return r;
    }
    return NULL;
}

fli_region *fli_region_of(fl_memory *m, const void *ptr, unsigned *cls) { return region_of(m, ptr, cls); }

fl_status fli_live_size(fl_memory *m, fli_region *r, unsigned cls, const void *ptr, size_t *size)
{
    (void)m;
    if (r->strategy == FL_ALLOCATOR_LINEAR || r->strategy == FL_ALLOCATOR_STACK) {
        if (!fli_track_live(&r->track, ptr))
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "%p is not the start of a live allocation of the %s region",
                            ptr, fl_memory_type_str(r->type));
        *size = fli_track_size(&r->track, ptr);
        return FL_OK;
    }
    fl_allocator *a = r->strategy == FL_ALLOCATOR_POOL ? r->cls[cls].a : r->a;
    return a->ops->usable_size(a, ptr, size);
}

static fl_status not_owned(const void *ptr)
{
    return fli_fail(FL_ERR_INVALID_PARAMETERS, "pointer %p is not owned by this memory interface", ptr);
}

/* Frees ptr, known to lie in region r, with every counter updated. */
HOT fl_status free_block(fl_memory *m, fli_region *r, unsigned cls, void *ptr, fli_pending *pending)
{
    size_t released;
    fl_status st;
    if (r->strategy == FL_ALLOCATOR_POOL) {
        fl_allocator *a = r->cls[cls].a;
        /* Inline give-back as in serve_pool; a refusal changes nothing, and the allocator's
         * own free then says why. */
        if (FLI_UNLIKELY(a->fast_kind != FLI_FAST_POOL || !fli_pool_give_back((fli_pool *)(void *)a, ptr))) {
            st = a->ops->deallocate(a, ptr);
            if (FLI_UNLIKELY(st != FL_OK)) return st;
        }
        released = r->cls[cls].block;
    } else if (r->strategy == FL_ALLOCATOR_LINEAR || r->strategy == FL_ALLOCATOR_STACK) {
        if (FLI_UNLIKELY(!fli_track_live(&r->track, ptr)))
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "%p is not the start of a live allocation of the %s region", ptr,
                            fl_memory_type_str(r->type));
        fl_allocator *a = r->a;
        size_t used0 = a->counters.used_bytes;
        st = a->ops->deallocate(a, ptr); /* stack: FL_ERR_INVALID_STATE unless ptr is the top */
        if (FLI_UNLIKELY(st != FL_OK)) return st;
        released = used0 - a->counters.used_bytes;
        fli_track_forget(&r->track, ptr);
        /* The newest allocation gave its bytes back: its end bit must not outlive them. */
        if (released)
            fli_track_release(&r->track, r->track.alloc_start + a->counters.used_bytes, r->track.alloc_start + used0);
    } else {
        fl_allocator *a = r->a;
        size_t used0 = a->counters.used_bytes;
        st = a->ops->deallocate(a, ptr);
        if (FLI_UNLIKELY(st != FL_OK)) return st;
        released = used0 - a->counters.used_bytes;
    }
    fli_account_free(m, r, 1, released);
    if (m->record_count) fli_registry_remove(m, ptr);
    fli_pressure_update(m, r->type, pending);
    fli_wake_waiters(m);
    return FL_OK;
}

fl_status fli_free_block_locked(fl_memory *m, fli_region *r, unsigned cls, void *ptr, fli_pending *pending)
{
    return free_block(m, r, cls, ptr, pending);
}

/* free_block behind the debug options' check (guards, fill, quarantine: debug.c). */
HOT fl_status free_locked(fl_memory *m, fli_region *r, unsigned cls, void *ptr, fli_pending *pending)
{
    fl_status st;
    if (FLI_DEBUG_ON(m) && fli_debug_on_free(m, r, cls, ptr, &st, pending)) return st;
    return free_block(m, r, cls, ptr, pending);
}

fl_status fl_memory_deallocate(fl_memory *m, void *ptr)
{
    if (FLI_UNLIKELY(m == NULL || ptr == NULL))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_deallocate: %s is NULL",
                        m ? "the pointer" : "the memory interface");
    fli_pending pending;
    pending.count = 0;
    fli_mem_lock(m);
    unsigned cls;
    fli_region *r = region_of(m, ptr, &cls);
    fl_status st = FLI_LIKELY(r != NULL) ? free_locked(m, r, cls, ptr, &pending) : not_owned(ptr);
    fli_mem_unlock(m);
    if (FLI_UNLIKELY(pending.count)) fli_pressure_dispatch(m, &pending);
    return st;
}

fl_status fli_free_strategy(fl_memory *m, fl_allocator_type strategy, void *ptr)
{
    fli_pending pending;
    pending.count = 0;
    fli_mem_lock(m);
    unsigned cls;
    fli_region *r = fli_region_of(m, ptr, &cls);
    fl_status st;
    if (r == NULL || r->strategy != strategy)
        st = fli_fail(FL_ERR_INVALID_PARAMETERS, "pointer %p was not allocated by the %s handle", ptr,
                      fl_allocator_type_str(strategy));
    else
        st = free_locked(m, r, cls, ptr, &pending);
    fli_mem_unlock(m);
    if (pending.count) fli_pressure_dispatch(m, &pending);
    return st;
}

/* ---- pointer queries -------------------------------------------------------------------- */

/* What get_allocation_info reports, from the region and the record if there is one. */
static fl_status describe_locked(fl_memory *m, const void *ptr, fl_allocation *out, const char **tag)
{
    unsigned cls;
    fli_region *r = fli_region_of(m, ptr, &cls);
    if (r == NULL) return not_owned(ptr);
    size_t size;
    fl_status st = fli_live_size(m, r, cls, ptr, &size);
    if (st != FL_OK) return st;
    if (FLI_DEBUG_ON(m) && (st = fli_debug_shown(m, ptr, &size)) != FL_OK) return st;
    const fli_record *rec = m->record_count ? fli_registry_find(m, ptr) : NULL;
    uintptr_t a = (uintptr_t)ptr;
    size_t natural = (size_t)(a & (~a + 1));
    out->ptr = (void *)(uintptr_t)ptr;
    out->size = size;
    out->type = r->type;
    out->allocator = r->strategy;
    out->alignment = rec ? rec->alignment : (natural == 0 || natural > FL_ALIGN_MAX ? FL_ALIGN_MAX : natural);
    out->flags = (rec ? rec->flags : 0) | r->caps;
    if (tag) *tag = rec ? rec->tag : NULL;
    return FL_OK;
}

bool fl_memory_is_valid_pointer(fl_memory *m, const void *ptr)
{
    if (m == NULL || ptr == NULL) return false;
    fl_allocation info;
    fli_mem_lock(m);
    bool valid = describe_locked(m, ptr, &info, NULL) == FL_OK;
    fli_mem_unlock(m);
    return valid;
}

fl_status fl_memory_get_allocation_info(fl_memory *m, const void *ptr, fl_allocation *out)
{
    if (m == NULL || ptr == NULL || out == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_get_allocation_info: %s is NULL",
                        m == NULL ? "the memory interface" : ptr == NULL ? "the pointer" : "out");
    fl_allocation info;
    fli_mem_lock(m);
    fl_status st = describe_locked(m, ptr, &info, NULL);
    fli_mem_unlock(m);
    if (st == FL_OK) *out = info;
    return st;
}

fl_status fl_memory_get_allocation_tag(fl_memory *m, const void *ptr, const char **out)
{
    if (m == NULL || ptr == NULL || out == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_get_allocation_tag: %s is NULL",
                        m == NULL ? "the memory interface" : ptr == NULL ? "the pointer" : "out");
    fl_allocation info;
    const char *tag = NULL;
    fli_mem_lock(m);
    fl_status st = describe_locked(m, ptr, &info, &tag);
    fli_mem_unlock(m);
    if (st == FL_OK) *out = tag;
    return st;
}

/* ---- reallocate ----------------------------------------------------------------------------- */

fl_status fl_memory_reallocate(fl_memory *m, void *ptr, size_t new_size, fl_allocation *out)
{
    if (m == NULL || ptr == NULL || out == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_reallocate: %s is NULL",
                        m == NULL ? "the memory interface" : ptr == NULL ? "the pointer" : "out");
    if (new_size == 0) return fli_fail(FL_ERR_INVALID_PARAMETERS, "size 0 is not an allocation (use deallocate)");
    if (new_size > SIZE_MAX - FL_ALIGN_MAX)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "size %zu is too large to round up", new_size);
    if (m->max_allocation != 0 && new_size > m->max_allocation)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "size %zu exceeds this profile's max_allocation %zu", new_size,
                        m->max_allocation);

    fl_allocation old;
    fli_record saved;
    bool has_record = false;
    fli_mem_lock(m);
    fl_status st = describe_locked(m, ptr, &old, NULL);
    if (st == FL_OK && m->record_count) {
        const fli_record *rec = fli_registry_find(m, ptr);
        if (rec) {
            saved = *rec;
            has_record = true;
        }
    }
    fli_mem_unlock(m);
    if (st != FL_OK) return st;
    /* With debug guards only an unchanged size stays: the guard sits right after the request. */
    if (new_size <= old.size && !(FLI_DEBUG_ON(m) && m->guard && new_size != old.size)) {
        *out = old;
        return FL_OK;
    }

    /* A Stack block cannot move: a stack frees only its top, and the new block would land
     * above the old one on the same stack. Refused here, before any trial allocation, so
     * nothing changes (statistics included). */
    if (old.allocator == FL_ALLOCATOR_STACK)
        return fli_fail(FL_ERR_INVALID_STATE,
                        "reallocate: the %zu-byte Stack block %p cannot grow to %zu bytes in place, and a stack "
                        "frees only its top, so it cannot move (free it and allocate anew)",
                        old.size, ptr, new_size);

    /* Move: a new block of the same type (and its fallbacks), then copy, then free. The
     * record is moved by hand below, so the new request carries no tag of its own. */
    fl_memory_flags keep = has_record ? (saved.flags & (CAPABILITY_FLAGS | FL_FLAG_CRITICAL)) : 0;
    fli_req q = {new_size, FL_ALIGN_DEFAULT, old.type, keep, FL_ALLOCATOR_AUTO, true, false, NULL, NULL, NULL, 0, NULL, 0};
    served s;
    st = route(m, &q, &s);
    if (st != FL_OK) return st;
    memcpy(s.ptr, ptr, old.size < new_size ? old.size : new_size); /* debug guards move on shrinking too */

    fli_pending pending;
    pending.count = 0;
    fli_mem_lock(m);
    unsigned cls;
    fli_region *r = fli_region_of(m, ptr, &cls);
    /* Another thread may have freed ptr meanwhile (the caller's race): then undo. */
    st = r ? free_locked(m, r, cls, ptr, &pending) : not_owned(ptr);
    if (st == FL_OK && has_record) {
        /* With debug options the new block has a record already (debug.c). */
        fli_record *rec = fli_registry_find(m, s.ptr);
        if (rec == NULL) rec = fli_registry_insert(m, s.ptr);
        *rec = saved;
        rec->ptr = s.ptr;
        rec->size = s.usable;
        rec->requested = new_size;
        rec->alignment = FL_ALIGN_DEFAULT;
        rec->type = s.r->type;
        rec->allocator = s.r->strategy;
    }
    if (st != FL_OK) {
        char why[FLI_WHY_BYTES]; /* the message buffer is about to be written again */
        fli_copy_message(why);
        r = fli_region_of(m, s.ptr, &cls);
        if (r) (void)free_locked(m, r, cls, s.ptr, &pending);
        st = fli_fail(st, "reallocate: %s", why);
    }
    fli_mem_unlock(m);
    if (pending.count) fli_pressure_dispatch(m, &pending);
    if (st != FL_OK) return st;
    fill_allocation(&s, &q, out);
    if (has_record) out->flags = saved.flags | s.r->caps;
    if (FLI_DEBUG_ON(m) && m->guard) shown_size(m, out);
    return FL_OK;
}
