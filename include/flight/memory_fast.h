/*
 * flight-memory: optional inline fast paths for the pool and the linear allocator.
 *
 * Opt-in: include this header (after or instead of <flight/memory.h>) where a pool or a
 * linear allocator is on a hot loop. Each function below has exactly the contract of the
 * fl_allocator_* call it names: the same results, statuses, last-error messages and
 * statistics, for every allocator and every argument. The common case is inlined into the
 * caller; everything else (another allocator type, a thread_safe allocator, NULL
 * arguments, a size or alignment the block cannot take, an empty free list, a refused
 * pointer, a full linear allocator) is handed, untouched, to the fl_allocator_* function,
 * which decides and reports as usual. In particular:
 * - thread_safe allocators never take the inline path: their calls lock as always;
 * - double, interior and foreign frees are refused with nothing changed: the inline free
 *   runs the pool's own O(1) check (block index below the watermark, allocated bit set)
 *   and leaves every other pointer to fl_allocator_deallocate, which names the problem.
 *
 * What is inlined:
 * - fl_pool_allocate_fast: a block from the pool's free list (blocks freed since create
 *   or reset). A pool's first pass over never-used blocks goes through the call.
 * - fl_pool_deallocate_fast: every free of a live block.
 * - fl_linear_allocate_fast: every allocation that fits.
 *
 * The inline code reads the allocators' control blocks (<flight/detail/allocators.h>, not
 * API): it is compiled into your program, so the program must be built against the
 * headers of the library version it links. Compiles as C11 and as C++.
 */
#ifndef FLIGHT_MEMORY_FAST_H
#define FLIGHT_MEMORY_FAST_H

#include <flight/memory.h>
#include <flight/detail/allocators.h>

#if defined(__GNUC__) || defined(__clang__)
#define FLI_FAST_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define FLI_FAST_LIKELY(x) (x)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* fl_allocator_allocate(a, size, alignment, out), inlined when `a` is a pool without a
 * lock, the request fits its blocks and a freed block is waiting. */
static inline fl_status fl_pool_allocate_fast(fl_allocator *a, size_t size, size_t alignment, void **out)
{
    /* Separate tests: each compiles to one compare and branch. */
    if (FLI_FAST_LIKELY(a != NULL)) {
        if (FLI_FAST_LIKELY(a->fast_kind == FLI_FAST_POOL)) {
            fli_pool *p = (fli_pool *)(void *)a;
            if (FLI_FAST_LIKELY(out != NULL)) {
                if (FLI_FAST_LIKELY(fli_pool_fits(p, size, alignment))) {
                    if (FLI_FAST_LIKELY(p->free_head != NULL)) {
                        *out = fli_pool_take_head(p, size);
                        return FL_OK;
                    }
                }
            }
        }
    }
    return fl_allocator_allocate(a, size, alignment, out);
}

/* fl_allocator_deallocate(a, ptr), inlined when `a` is a pool without a lock and ptr is
 * one of its live blocks. */
static inline fl_status fl_pool_deallocate_fast(fl_allocator *a, void *ptr)
{
    if (FLI_FAST_LIKELY(a != NULL)) {
        if (FLI_FAST_LIKELY(a->fast_kind == FLI_FAST_POOL)) {
            /* The check refuses NULL too: no pool block starts at address 0. */
            if (FLI_FAST_LIKELY(fli_pool_give_back((fli_pool *)(void *)a, ptr))) return FL_OK;
        }
    }
    return fl_allocator_deallocate(a, ptr);
}

/* fl_allocator_allocate(a, size, alignment, out), inlined when `a` is a linear allocator
 * without a lock and the request fits. */
static inline fl_status fl_linear_allocate_fast(fl_allocator *a, size_t size, size_t alignment, void **out)
{
    if (FLI_FAST_LIKELY(a != NULL)) {
        if (FLI_FAST_LIKELY(a->fast_kind == FLI_FAST_LINEAR)) {
            fli_linear *l = (fli_linear *)(void *)a;
            size_t align = alignment != 0 ? alignment : FL_ALIGN_DEFAULT;
            if (FLI_FAST_LIKELY(out != NULL)) {
                if (FLI_FAST_LIKELY(size != 0)) {
                    if (FLI_FAST_LIKELY((align & (align - 1u)) == 0 && align <= FL_ALIGN_MAX)) {
                        size_t pad = fli_linear_pad(l, align);
                        size_t room = l->base.capacity - l->top;
                        if (FLI_FAST_LIKELY(pad <= room && size <= room - pad)) {
                            *out = fli_linear_bump(l, size, pad);
                            return FL_OK;
                        }
                    }
                }
            }
        }
    }
    return fl_allocator_allocate(a, size, alignment, out);
}

#ifdef __cplusplus
}
#endif

#endif /* FLIGHT_MEMORY_FAST_H */
