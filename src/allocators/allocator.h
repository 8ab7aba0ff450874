/*
 * The internal contract every allocation strategy implements, and the control-block
 * header they all start with.
 *
 * allocator.c owns everything the strategies have in common: argument checks, the
 * optional lock, taking and returning platform pages, and the statistics identities. A
 * strategy file (linear.c, stack.c, pool.c, buddy.c, freelist.c, system.c) only lays out
 * its memory and moves blocks; its operations are called with valid arguments and with the
 * lock held:
 * - size > 0; alignment a power of two in [1, FL_ALIGN_MAX] (0 already resolved);
 *   pointers non-NULL.
 * - allocate/deallocate/reset/rewind keep `base.counters` exact through the helpers
 *   below, or keep fewer of them and derive the rest in `counters` (the pool); a failing
 *   operation changes nothing and reports why with fli_fail(). Whoever reads an
 *   allocator's used bytes, live count, peak or consumed bytes asks fli_allocator_counters.
 */
#ifndef FLI_ALLOCATOR_H
#define FLI_ALLOCATOR_H

#include "../core/core.h"
#include "../platform/platform.h"
#include "../core/poison.h"

/* The control-block header every strategy starts with (struct fl_allocator) and the
 * counters in it are defined in the installed, not-API header below, together with the
 * pool's and the linear allocator's control blocks, so that <flight/memory_fast.h> can
 * inline their common case. One definition each, used by the library and the inline code. */
#include <flight/detail/allocators.h>

typedef struct fli_allocator_ops fli_allocator_ops;

struct fli_allocator_ops {
    /* Builds the strategy inside [memory, memory + size): `memory` is aligned to
     * FL_ALIGN_DEFAULT; the control block (starting with struct fl_allocator) goes first.
     * Fills base.capacity; allocator.c fills the rest of the base after init succeeds.
     * cfg->platform is resolved (never NULL) and is what base.platform will be.
     * FL_ERR_INVALID_PARAMETERS when the config or the size cannot work. */
    fl_status (*init)(void *memory, size_t size, const fl_allocator_config *cfg, fl_allocator **out);
    fl_status (*allocate)(fl_allocator *a, size_t size, size_t alignment, void **out);
    fl_status (*deallocate)(fl_allocator *a, void *ptr);
    /* Frees every live allocation. Whatever base.counters still counts live afterwards,
     * allocator.c counts as freed; a strategy that counts the frees itself (the pool, whose
     * live count is derived; the interface's handles) leaves nothing there. */
    void (*reset)(fl_allocator *a);
    /* NULL: base.counters is exact. Otherwise the full counters, derived from what the
     * strategy keeps (every field exact, as fli_count_* would have kept them). */
    fli_counters (*counters)(const fl_allocator *a);
    bool (*owns)(const fl_allocator *a, const void *ptr);
    fl_status (*usable_size)(const fl_allocator *a, const void *ptr, size_t *out);
    size_t (*largest_free)(const fl_allocator *a); /* what an alignment-1 request can get */
    /* NULL: 1 - largest_free / free_bytes. A pool answers 0: any free block serves any
     * request it accepts, so its free space is never fragmented. */
    double (*fragmentation)(const fl_allocator *a);
    fl_status (*validate)(const fl_allocator *a);
    fl_status (*walk)(const fl_allocator *a, fl_walk_fn fn, void *user);
    fl_marker (*mark)(fl_allocator *a);                /* NULL: not supported */
    fl_status (*rewind)(fl_allocator *a, fl_marker m); /* NULL: not supported */
    void (*destroy)(fl_allocator *a);                  /* NULL: nothing to release */
    /* Moves the live allocation at ptr to the lowest free place below it that holds it
     * with the alignment it may need, copies its bytes, frees the old block and keeps the
     * counters with fli_count_move; *out = ptr when no such place exists (FL_OK). A bad
     * ptr changes nothing (FL_ERR_INVALID_PARAMETERS). NULL: not supported. Never called
     * for an allocator with external_memory. */
    fl_status (*relocate)(fl_allocator *a, void *ptr, void **out);
    size_t allocation_overhead; /* header bytes per allocation */
    bool supports_defrag;       /* true iff relocate is set */
    /* true: allocate counts its own FL_ERR_OUT_OF_MEMORY answers in failed_allocations,
     * under the lock that guards its counters (the memory interface's handles, whose lock
     * is the interface's, not the handle's); allocator.c then does not. */
    bool counts_failures;
};

extern const fli_allocator_ops fli_linear_ops;
extern const fli_allocator_ops fli_stack_ops;
extern const fli_allocator_ops fli_pool_ops;
extern const fli_allocator_ops fli_buddy_ops;
extern const fli_allocator_ops fli_freelist_ops;
extern const fli_allocator_ops fli_system_ops;

/* The counters of `a`, exact: base.counters, or what the strategy derives (allocator.c). */
fli_counters fli_allocator_counters(const fl_allocator *a);

/* fli_count_allocation, fli_count_deallocation and fli_count_bulk_release: in the detail
 * header above, so that the inline paths count exactly as the strategies do. */

/* A live allocation moved (relocate): not an allocation nor a free, so only the bytes it
 * consumes change; the peak follows when they grow. The lifetime sums (requested and
 * consumed bytes, hence allocation_efficiency) describe allocations as served: unchanged. */
static inline void fli_count_move(fli_counters *c, size_t old_consumed, size_t new_consumed)
{
    c->used_bytes = c->used_bytes - old_consumed + new_consumed;
    if (c->used_bytes > c->peak_used_bytes) c->peak_used_bytes = c->used_bytes;
}

#endif /* FLI_ALLOCATOR_H */
