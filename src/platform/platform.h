/*
 * The library's side of the platform hooks (include/flight/memory.h, "Platform hooks").
 *
 * Everything outside src/platform/ reaches pages, heaps, locks, condition variables,
 * shared memory, clocks and machine facts through the per-instance table an object was
 * created with, and only through these wrappers. A wrapper answers for a missing (NULL)
 * hook the way the contract says a missing capability behaves, so callers test one
 * result instead of two:
 *
 *   wrapper                      hook NULL answers        otherwise
 *   fli_page_size                FL_ALIGN_PAGE            the hook (a power of two)
 *   fli_map_pages                NULL                     zeroed, page-aligned or NULL
 *   fli_unmap_pages              nothing                  unmaps
 *   fli_release_pages            false                    true (pages read back zero)
 *   fli_heap_alloc               NULL                     block or NULL
 *   fli_heap_free                nothing                  frees
 *   fli_lock_init                false (also when any     the hook
 *                                other lock hook is NULL)
 *   fli_cond_init                false (likewise)         the hook
 *   fli_cond_wait                false                    false on timeout
 *   fli_shared_map               NULL                     mapping or NULL
 *   fli_system_memory            false                    the hook
 *   fli_physical_memory          0                        bytes, 0 when unknown
 *   fli_now_ns                   0                        monotonic nanoseconds
 *   fli_pressure_stall           false                    the hook
 *   fli_gc_hint                  nothing                  tells the host
 *
 * Preconditions are the contract's (sizes non-zero page multiples for pages, heap
 * alignment a power of two >= sizeof(void *), lock/cond storage from the types below).
 * None of these sets the last error: the caller knows what it was doing and says so.
 * The backends (posix.c, freestanding.c) implement the hooks and fl_platform_default().
 */
#ifndef FLI_PLATFORM_H
#define FLI_PLATFORM_H

#include <flight/memory.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caller storage for a platform lock or condition variable: FL_SYNC_STORAGE_BYTES bytes
 * aligned at least like a pointer and a 64-bit integer, as the contract promises hooks. */
typedef union fli_sync_storage {
    void *pointer_alignment;
    uint64_t word_alignment;
    long double float_alignment;
    unsigned char bytes[FL_SYNC_STORAGE_BYTES];
} fli_sync_storage;

typedef struct fli_lock {
    fli_sync_storage storage;
} fli_lock;

typedef struct fli_cond {
    fli_sync_storage storage;
} fli_cond;

/* The freestanding table (freestanding.c), in every build: a page size and nothing else.
 * In freestanding builds it is also fl_platform_default(). */
const fl_platform_hooks *fli_platform_freestanding(void);

/* The table to use for a config's `platform` field: the default when NULL. */
static inline const fl_platform_hooks *fli_platform_or_default(const fl_platform_hooks *p)
{
    return p != NULL ? p : fl_platform_default();
}

/* ---- capabilities --------------------------------------------------------------------- */

/* Pages need map and unmap (release is optional): a table that maps but cannot unmap
 * would leak. The other capabilities likewise need every hook of their group. */
static inline bool fli_has_pages(const fl_platform_hooks *p)
{
    return p->map_pages != NULL && p->unmap_pages != NULL;
}

static inline bool fli_has_heap(const fl_platform_hooks *p)
{
    return p->heap_alloc != NULL && p->heap_free != NULL;
}

static inline bool fli_has_locks(const fl_platform_hooks *p)
{
    return p->lock_init != NULL && p->lock_acquire != NULL && p->lock_release != NULL &&
           p->lock_destroy != NULL;
}

static inline bool fli_has_conds(const fl_platform_hooks *p)
{
    return p->cond_init != NULL && p->cond_wait != NULL && p->cond_broadcast != NULL &&
           p->cond_destroy != NULL;
}

static inline bool fli_has_shared(const fl_platform_hooks *p)
{
    return p->shared_map != NULL && p->shared_unmap != NULL;
}

/* ---- pages ------------------------------------------------------------------------------ */

static inline size_t fli_page_size(const fl_platform_hooks *p)
{
    return p->page_size != NULL ? p->page_size(p->user) : FL_ALIGN_PAGE;
}

static inline void *fli_map_pages(const fl_platform_hooks *p, size_t size)
{
    return fli_has_pages(p) ? p->map_pages(p->user, size) : NULL;
}

static inline void fli_unmap_pages(const fl_platform_hooks *p, void *pages, size_t size)
{
    if (p->unmap_pages != NULL) p->unmap_pages(p->user, pages, size);
}

/* False when the platform cannot give physical pages back (the memory stays as it was). */
static inline bool fli_release_pages(const fl_platform_hooks *p, void *pages, size_t size)
{
    if (p->release_pages == NULL) return false;
    p->release_pages(p->user, pages, size);
    return true;
}

/* ---- heap ------------------------------------------------------------------------------- */

static inline void *fli_heap_alloc(const fl_platform_hooks *p, size_t size, size_t alignment)
{
    return fli_has_heap(p) ? p->heap_alloc(p->user, size, alignment) : NULL;
}

static inline void fli_heap_free(const fl_platform_hooks *p, void *block)
{
    if (p->heap_free != NULL) p->heap_free(p->user, block);
}

/* ---- locks and condition variables ------------------------------------------------------ */

static inline bool fli_lock_init(const fl_platform_hooks *p, fli_lock *lock)
{
    return fli_has_locks(p) && p->lock_init(p->user, lock->storage.bytes);
}

/* The next three take a lock fli_lock_init accepted, so the hooks exist. */
static inline void fli_lock_acquire(const fl_platform_hooks *p, fli_lock *lock)
{
    p->lock_acquire(p->user, lock->storage.bytes);
}

static inline void fli_lock_release(const fl_platform_hooks *p, fli_lock *lock)
{
    p->lock_release(p->user, lock->storage.bytes);
}

static inline void fli_lock_destroy(const fl_platform_hooks *p, fli_lock *lock)
{
    p->lock_destroy(p->user, lock->storage.bytes);
}

static inline bool fli_cond_init(const fl_platform_hooks *p, fli_cond *cond)
{
    return fli_has_conds(p) && p->cond_init(p->user, cond->storage.bytes);
}

/* Waits with `lock` held (released while waiting, held again on return). False when
 * timeout_ms passed; true may be spurious: the caller re-checks its condition. */
static inline bool fli_cond_wait(const fl_platform_hooks *p, fli_cond *cond, fli_lock *lock, uint32_t timeout_ms)
{
    return p->cond_wait != NULL && p->cond_wait(p->user, cond->storage.bytes, lock->storage.bytes, timeout_ms);
}

static inline void fli_cond_broadcast(const fl_platform_hooks *p, fli_cond *cond)
{
    p->cond_broadcast(p->user, cond->storage.bytes);
}

static inline void fli_cond_destroy(const fl_platform_hooks *p, fli_cond *cond)
{
    p->cond_destroy(p->user, cond->storage.bytes);
}

/* ---- shared memory ---------------------------------------------------------------------- */

static inline void *fli_shared_map(const fl_platform_hooks *p, size_t size)
{
    return fli_has_shared(p) ? p->shared_map(p->user, size) : NULL;
}

static inline void fli_shared_unmap(const fl_platform_hooks *p, void *memory, size_t size)
{
    if (p->shared_unmap != NULL) p->shared_unmap(p->user, memory, size);
}

/* ---- machine facts and time ------------------------------------------------------------- */

static inline bool fli_system_memory(const fl_platform_hooks *p, uint64_t *available, uint64_t *total)
{
    return p->system_memory != NULL && p->system_memory(p->user, available, total);
}

static inline uint64_t fli_physical_memory(const fl_platform_hooks *p)
{
    return p->physical_memory != NULL ? p->physical_memory(p->user) : 0;
}

static inline uint64_t fli_now_ns(const fl_platform_hooks *p)
{
    return p->now_ns != NULL ? p->now_ns(p->user) : 0;
}

static inline bool fli_pressure_stall(const fl_platform_hooks *p, double *some_avg10_pct)
{
    return p->pressure_stall != NULL && p->pressure_stall(p->user, some_avg10_pct);
}

/* Tells the host the interface wants memory back (outside any lock of the interface). */
static inline void fli_gc_hint(const fl_platform_hooks *p, fl_pressure_level level)
{
    if (p->gc_hint != NULL) p->gc_hint(p->user, level);
}

#endif /* FLI_PLATFORM_H */
