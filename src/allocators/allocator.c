/*
 * The public allocator API: argument checks, the optional per-instance lock, platform
 * pages for allocators created without a buffer, and statistics assembled from the
 * running counters. Every OS contact goes through the allocator's own platform table
 * (cfg->platform, or the default), kept in base.platform. The strategies behind `ops`
 * see only valid arguments (allocator.h).
 */
#include "allocator.h"

static const fli_allocator_ops *ops_for_type(fl_allocator_type type)
{
    switch (type) {
    case FL_ALLOCATOR_LINEAR: return &fli_linear_ops;
    case FL_ALLOCATOR_STACK: return &fli_stack_ops;
    case FL_ALLOCATOR_POOL: return &fli_pool_ops;
    case FL_ALLOCATOR_BUDDY: return &fli_buddy_ops;
    case FL_ALLOCATOR_FREELIST: return &fli_freelist_ops;
    case FL_ALLOCATOR_SYSTEM: return &fli_system_ops;
    case FL_ALLOCATOR_TYPE_COUNT:
    case FL_ALLOCATOR_AUTO: break;
    }
    return NULL;
}

/* The base keeps its lock as fli_lock_storage (flight/detail/allocators.h, which cannot see
 * platform.h): the same members as fli_lock's storage, hence the same size and alignment. */
_Static_assert(sizeof(fli_lock_storage) == sizeof(fli_lock) && _Alignof(fli_lock_storage) == _Alignof(fli_lock),
               "fli_lock_storage must hold a platform lock");

static fli_lock *lock_of(const fl_allocator *a)
{
    return (fli_lock *)(void *)&((fl_allocator *)(uintptr_t)a)->lock;
}

static void lock_if_shared(const fl_allocator *a)
{
    if (a->thread_safe) fli_lock_acquire(a->platform, lock_of(a));
}

static void unlock_if_shared(const fl_allocator *a)
{
    if (a->thread_safe) fli_lock_release(a->platform, lock_of(a));
}

/* The memory a new allocator lives in: the caller's buffer, aligned, or platform pages. */
typedef struct placement {
    void *memory;
    size_t size;
    void *pages; /* non-NULL when mapped here */
    size_t pages_size;
} placement;

/* cfg->platform is resolved. Nothing is mapped unless FL_OK is returned. */
static fl_status place_allocator(const fl_allocator_config *cfg, placement *out)
{
    const fl_platform_hooks *platform = cfg->platform;
    memset(out, 0, sizeof *out);
    if (cfg->type == FL_ALLOCATOR_SYSTEM) {
        if (cfg->buffer != NULL)
            return fli_fail(FL_ERR_INVALID_PARAMETERS,
                            "the system allocator takes its memory from the platform: buffer must be NULL");
        if (!fli_has_pages(platform))
            return fli_fail(FL_ERR_NOT_SUPPORTED,
                            "the platform has no pages: the system allocator needs one for its control block");
        /* Its control block gets a page of its own; `size` is the budget, not a buffer. */
        out->pages_size = fli_page_size(platform);
    } else if (cfg->buffer == NULL) {
        if (cfg->size == 0)
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "size 0: an allocator needs memory to manage");
        if (!fli_has_pages(platform))
            return fli_fail(FL_ERR_NOT_SUPPORTED,
                            "no buffer was given and the platform has no pages to map %zu bytes from: pass a buffer",
                            cfg->size);
        if (!fli_align_up_checked(cfg->size, fli_page_size(platform), &out->pages_size))
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "size %zu overflows when rounded to pages", cfg->size);
    } else {
        uintptr_t start = fli_align_up_addr((uintptr_t)cfg->buffer, FL_ALIGN_DEFAULT);
        size_t skipped = (size_t)(start - (uintptr_t)cfg->buffer);
        if (cfg->size <= skipped)
            return fli_fail(FL_ERR_INVALID_PARAMETERS, "buffer of %zu bytes is too small", cfg->size);
        out->memory = (void *)start;
        out->size = cfg->size - skipped;
        return FL_OK;
    }
    out->pages = fli_map_pages(platform, out->pages_size);
    if (out->pages == NULL)
        return fli_fail(FL_ERR_OUT_OF_MEMORY, "the platform could not map %zu bytes", out->pages_size);
    out->memory = out->pages;
    out->size = out->pages_size;
    return FL_OK;
}

fl_status fl_allocator_create(const fl_allocator_config *cfg, fl_allocator **out)
{
    if (cfg == NULL || out == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_allocator_create: %s is NULL", cfg ? "out" : "cfg");
    const fli_allocator_ops *ops = ops_for_type(cfg->type);
    if (ops == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "allocator type %d is not a strategy that can be created",
                        (int)cfg->type);
    /* The strategies see the table they will run on, never NULL. */
    fl_allocator_config resolved = *cfg;
    resolved.platform = fli_platform_or_default(cfg->platform);
    const fl_platform_hooks *platform = resolved.platform;
    if (cfg->thread_safe && !fli_has_locks(platform))
        return fli_fail(FL_ERR_PLATFORM, "thread_safe was asked of a platform without locks");

    /* Memory managed without touching it: only the buddy keeps all its bookkeeping outside. */
    if (cfg->managed != NULL && cfg->type != FL_ALLOCATOR_BUDDY)
        return fli_fail(FL_ERR_NOT_SUPPORTED,
                        "a %s allocator keeps bookkeeping in its memory: only the buddy takes managed memory",
                        fl_allocator_type_str(cfg->type));
    if (cfg->managed != NULL && cfg->managed_size == 0)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "managed memory %p of 0 bytes", cfg->managed);
    if (cfg->managed == NULL && cfg->managed_size != 0)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "managed_size %zu given without managed memory",
                        cfg->managed_size);

    placement where;
    fl_status status = place_allocator(&resolved, &where);
    if (status != FL_OK) return status;

    fl_allocator *a = NULL;
    status = ops->init(where.memory, where.size, &resolved, &a);
    if (status == FL_OK) {
        a->platform = platform; /* before anything that may call ops->destroy */
        if (cfg->thread_safe && !fli_lock_init(platform, lock_of(a))) {
            if (ops->destroy) ops->destroy(a);
            FLI_OPEN(where.memory, where.size);
            status = fli_fail(FL_ERR_PLATFORM, "the platform could not create a lock");
        }
    }
    if (status != FL_OK) {
        if (where.pages) fli_unmap_pages(platform, where.pages, where.pages_size);
        return status;
    }
    a->ops = ops;
    a->name = cfg->name ? cfg->name : fl_allocator_type_str(cfg->type);
    a->type = cfg->type;
    a->thread_safe = cfg->thread_safe;
    /* The inline paths (flight/memory_fast.h) never run where a lock is needed. */
    /* Nor where a memory checker watches: they cannot poison (core/poison.h). */
    a->fast_kind = (uint8_t)FLI_FAST_NONE;
    bool fast = !cfg->thread_safe && !FLI_POISONING_ON;
    if (fast && cfg->type == FL_ALLOCATOR_POOL) a->fast_kind = (uint8_t)FLI_FAST_POOL;
    if (fast && cfg->type == FL_ALLOCATOR_LINEAR) a->fast_kind = (uint8_t)FLI_FAST_LINEAR;
    a->pages = where.memory;
    a->pages_size = where.size;
    a->owns_pages = where.pages != NULL;
    a->external_memory = cfg->managed != NULL;
    memset(&a->counters, 0, sizeof a->counters);
    *out = a;
    return FL_OK;
}

void fl_allocator_destroy(fl_allocator *a)
{
    if (a == NULL) return;
    /* Copied out first: the control block may live in the pages unmapped last. */
    const fl_platform_hooks *platform = a->platform;
    void *pages = a->pages;
    size_t pages_size = a->pages_size;
    bool a_owns_pages = a->owns_pages;
    if (a->ops->destroy) a->ops->destroy(a);
    /* The caller's buffer (or the pages) goes back whole and accessible. */
    FLI_OPEN(pages, pages_size);
    if (a->thread_safe) fli_lock_destroy(platform, lock_of(a));
    if (a_owns_pages) fli_unmap_pages(platform, pages, pages_size);
}

/* The cold halves of allocate and deallocate, out of line so that the hot halves below are
 * a few instructions with no stack frame of their own. */
static FLI_COLD fl_status allocate_refused(const fl_allocator *a, size_t size, size_t alignment, void **out)
{
    if (a == NULL || out == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_allocator_allocate: %s is NULL", a ? "out" : "allocator");
    if (size == 0) return fli_fail(FL_ERR_INVALID_PARAMETERS, "size 0 is not an allocation");
    return fli_fail_alignment(alignment);
}

static FLI_COLD fl_status allocate_failed(fl_allocator *a, fl_status status)
{
    if (status == FL_ERR_OUT_OF_MEMORY && !a->ops->counts_failures) a->counters.failed_allocations++;
    return status;
}

/* Not cold: thread-safe allocators take this path on every call. */
static FLI_NOINLINE fl_status allocate_locked(fl_allocator *a, size_t size, size_t align, void **out)
{
    lock_if_shared(a);
    fl_status status = a->ops->allocate(a, size, align, out);
    if (status == FL_ERR_OUT_OF_MEMORY && !a->ops->counts_failures) a->counters.failed_allocations++;
    unlock_if_shared(a);
    return status;
}

fl_status fl_allocator_allocate(fl_allocator *a, size_t size, size_t alignment, void **out)
{
    /* One test and branch per check (a combined condition compiles to a chain of setcc). */
    if (FLI_UNLIKELY(a == NULL)) return allocate_refused(a, size, alignment, out);
    if (FLI_UNLIKELY(out == NULL)) return allocate_refused(a, size, alignment, out);
    /* The common case of a pool without a lock, without the indirect call: the code
     * <flight/memory_fast.h> inlines. fli_pool_fits refuses size 0 and any alignment that is
     * not a power of two up to the block's, so it can come before the general checks. */
    if (a->fast_kind == FLI_FAST_POOL) {
        fli_pool *p = (fli_pool *)a;
        if (FLI_LIKELY(fli_pool_fits(p, size, alignment) && p->free_head != NULL)) {
            *out = fli_pool_take_head(p, size);
            return FL_OK;
        }
    }
    /* fli_check_alignment's rules, with 0 the default alignment. */
    if (FLI_UNLIKELY(size == 0)) return allocate_refused(a, size, alignment, out);
    size_t align = FL_ALIGN_DEFAULT;
    if (alignment != 0) {
        if (FLI_UNLIKELY((alignment & (alignment - 1)) != 0 || alignment > FL_ALIGN_MAX))
            return allocate_refused(a, size, alignment, out);
        align = alignment;
    }
    /* The same for a linear allocator without a lock. */
    if (a->fast_kind == FLI_FAST_LINEAR) {
        fli_linear *l = (fli_linear *)a;
        size_t pad = fli_linear_pad(l, align), room = a->capacity - l->top;
        if (FLI_LIKELY(pad <= room && size <= room - pad)) {
            *out = fli_linear_bump(l, size, pad);
            return FL_OK;
        }
    }
    if (FLI_UNLIKELY(a->thread_safe)) return allocate_locked(a, size, align, out);
    fl_status status = a->ops->allocate(a, size, align, out);
    if (FLI_UNLIKELY(status != FL_OK)) return allocate_failed(a, status);
    return FL_OK;
}

static FLI_COLD fl_status deallocate_refused(const fl_allocator *a)
{
    return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_allocator_deallocate: %s is NULL", a ? "pointer" : "allocator");
}

static FLI_NOINLINE fl_status deallocate_locked(fl_allocator *a, void *ptr)
{
    lock_if_shared(a);
    fl_status status = a->ops->deallocate(a, ptr);
    unlock_if_shared(a);
    return status;
}

fl_status fl_allocator_deallocate(fl_allocator *a, void *ptr)
{
    if (FLI_UNLIKELY(a == NULL)) return deallocate_refused(a);
    /* A pool's live block, without the indirect call (as in <flight/memory_fast.h>); the
     * pool's check refuses NULL too, so that test can wait. */
    if (a->fast_kind == FLI_FAST_POOL && FLI_LIKELY(fli_pool_give_back((fli_pool *)a, ptr)))
        return FL_OK;
    if (FLI_UNLIKELY(ptr == NULL)) return deallocate_refused(a);
    if (FLI_UNLIKELY(a->thread_safe)) return deallocate_locked(a, ptr);
    return a->ops->deallocate(a, ptr);
}

void fl_allocator_reset(fl_allocator *a)
{
    if (a == NULL) return;
    lock_if_shared(a);
    a->ops->reset(a);
    /* What the strategy's reset left counted live is freed now (see ops->reset). */
    fli_count_bulk_release(&a->counters, a->counters.allocation_count, a->counters.used_bytes);
    a->counters.requested_bytes = 0;
    a->counters.consumed_bytes = 0;
    unlock_if_shared(a);
}

bool fl_allocator_owns(const fl_allocator *a, const void *ptr)
{
    if (a == NULL || ptr == NULL) return false;
    lock_if_shared(a);
    bool owned = a->ops->owns(a, ptr);
    unlock_if_shared(a);
    return owned;
}

fl_status fl_allocator_usable_size(const fl_allocator *a, const void *ptr, size_t *out)
{
    if (a == NULL || ptr == NULL || out == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_allocator_usable_size: %s is NULL",
                        a == NULL ? "allocator" : ptr == NULL ? "pointer" : "out");
    lock_if_shared(a);
    fl_status status = a->ops->usable_size(a, ptr, out);
    /* Memory checkers: an allocation is open exactly to its request; asking for the usable
     * size is asking to use it, so that much opens (core/poison.h), its contents kept
     * defined for memcheck. */
    if (status == FL_OK) FLI_EXTEND(ptr, *out);
    unlock_if_shared(a);
    return status;
}

const char *fl_allocator_name(const fl_allocator *a) { return a ? a->name : "Unknown"; }

fl_allocator_type fl_allocator_kind(const fl_allocator *a) { return a ? a->type : FL_ALLOCATOR_AUTO; }

fli_counters fli_allocator_counters(const fl_allocator *a)
{
    return a->ops->counters ? a->ops->counters(a) : a->counters;
}

void fl_allocator_get_stats(const fl_allocator *a, fl_allocator_stats *out)
{
    if (out == NULL) return;
    memset(out, 0, sizeof *out);
    if (a == NULL) return;
    lock_if_shared(a);
    const fli_counters counters = fli_allocator_counters(a), *c = &counters;
    out->total_capacity = a->capacity;
    out->used_bytes = c->used_bytes;
    out->free_bytes = a->capacity - c->used_bytes;
    out->peak_used_bytes = c->peak_used_bytes;
    out->allocation_count = c->allocation_count;
    out->allocation_overhead = a->ops->allocation_overhead;
    out->largest_free_block = a->ops->largest_free(a);
    if (a->ops->fragmentation)
        out->fragmentation_ratio = a->ops->fragmentation(a);
    else
        out->fragmentation_ratio =
            out->free_bytes ? 1.0 - (double)out->largest_free_block / (double)out->free_bytes : 0.0;
    if (out->fragmentation_ratio < 0.0) out->fragmentation_ratio = 0.0;
    out->allocation_efficiency =
        c->consumed_bytes ? (double)c->requested_bytes / (double)c->consumed_bytes : 1.0;
    out->supports_defrag = a->ops->supports_defrag && !a->external_memory;
    out->total_allocations = c->total_allocations;
    out->total_deallocations = c->total_deallocations;
    out->failed_allocations = c->failed_allocations;
    unlock_if_shared(a);
}

fl_status fl_allocator_validate(const fl_allocator *a)
{
    if (a == NULL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_allocator_validate: allocator is NULL");
    lock_if_shared(a);
    const fli_counters counters = fli_allocator_counters(a), *c = &counters;
    fl_status status = FL_OK;
    if (c->used_bytes > a->capacity)
        status = fli_fail(FL_ERR_INVALID_STATE, "%s: used bytes %zu exceed the capacity %zu", a->name,
                          c->used_bytes, a->capacity);
    else if (c->peak_used_bytes < c->used_bytes)
        status = fli_fail(FL_ERR_INVALID_STATE, "%s: peak %zu is below used %zu", a->name,
                          c->peak_used_bytes, c->used_bytes);
    else if (c->total_allocations - c->total_deallocations != (uint64_t)c->allocation_count)
        status = fli_fail(FL_ERR_INVALID_STATE, "%s: %zu live allocations but %llu made and %llu freed",
                          a->name, c->allocation_count, (unsigned long long)c->total_allocations,
                          (unsigned long long)c->total_deallocations);
    else
        status = a->ops->validate(a);
    unlock_if_shared(a);
    return status;
}

fl_status fl_allocator_walk(const fl_allocator *a, fl_walk_fn fn, void *user)
{
    if (a == NULL || fn == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_allocator_walk: %s is NULL", a ? "callback" : "allocator");
    lock_if_shared(a);
    fl_status status = a->ops->walk(a, fn, user);
    unlock_if_shared(a);
    return status;
}

fl_status fl_allocator_relocate(fl_allocator *a, void *ptr, void **new_ptr)
{
    if (a == NULL || ptr == NULL || new_ptr == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_allocator_relocate: %s is NULL",
                        a == NULL ? "allocator" : ptr == NULL ? "pointer" : "new_ptr");
    if (a->ops->relocate == NULL)
        return fli_fail(FL_ERR_NOT_SUPPORTED, "%s: a %s allocator cannot move its allocations", a->name,
                        fl_allocator_type_str(a->type));
    if (a->external_memory)
        return fli_fail(FL_ERR_NOT_SUPPORTED,
                        "%s: it never touches the managed memory it hands out, so it cannot move bytes there",
                        a->name);
    lock_if_shared(a);
    fl_status status = a->ops->relocate(a, ptr, new_ptr);
    unlock_if_shared(a);
    return status;
}

fl_marker fl_allocator_mark(fl_allocator *a)
{
    fl_marker m = {0, 0, 0};
    if (a == NULL || a->ops->mark == NULL) return m;
    lock_if_shared(a);
    m = a->ops->mark(a);
    unlock_if_shared(a);
    return m;
}

fl_status fl_allocator_rewind(fl_allocator *a, fl_marker m)
{
    if (a == NULL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_allocator_rewind: allocator is NULL");
    if (a->ops->rewind == NULL)
        return fli_fail(FL_ERR_NOT_SUPPORTED, "%s: a %s allocator has no markers", a->name,
                        fl_allocator_type_str(a->type));
    lock_if_shared(a);
    fl_status status = a->ops->rewind(a, m);
    unlock_if_shared(a);
    return status;
}
