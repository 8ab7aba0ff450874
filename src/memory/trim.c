/*
 * fl_memory_trim / fl_memory_gc_hint: giving the physical memory of free pages back to the
 * platform (release_pages keeps the range mapped; later reads see zeroes).
 *
 * Only regions the interface mapped itself are trimmed: backing memory belongs to the
 * caller, and a heap region's blocks belong to the platform. The Shared region is not
 * either: release_pages drops private pages, while shared pages belong to the shared
 * object (other processes may map them) and would neither be freed nor read back zero. Each region's allocator walks
 * its blocks; for every free block, the whole pages strictly inside it, past its first
 * TRIM_MARGIN bytes and before its last TRIM_MARGIN bytes, are released.
 *
 * The margin is what makes this safe without the allocators' help: every allocator keeps
 * what it stores in a free block within the block's first and last few words (the free
 * list: header, two links, footer; the buddy and the pool: their list links; linear and
 * stack: nothing above their top), so the released pages hold no bookkeeping. Pool blocks
 * smaller than a page plus two margins give nothing back; a trim operation in the
 * allocators themselves (a pool returning its untouched tail, say) would do better.
 */
#include "memory_internal.h"

#define TRIM_MARGIN ((size_t)64)

typedef struct trim_walk {
    const fli_os *os;
    size_t page;
    size_t released;
} trim_walk;

static void trim_block(const void *block, size_t size, bool used, void *user)
{
    trim_walk *w = user;
    if (used || size <= 2 * TRIM_MARGIN) return;
    uintptr_t start = (uintptr_t)block + TRIM_MARGIN, end = (uintptr_t)block + size - TRIM_MARGIN;
    uintptr_t lo = fli_align_up_addr(start, w->page), hi = end & ~(uintptr_t)(w->page - 1);
    if (lo >= hi || lo < start) return;
    fli_os_release(w->os, (void *)lo, (size_t)(hi - lo));
    w->released += (size_t)(hi - lo);
}

fl_status fl_memory_trim(fl_memory *m, size_t *released)
{
    if (m == NULL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_trim: the memory interface is NULL");
    trim_walk w = {&m->os, 0, 0};
    if (fli_os_can_release(&m->os)) {
        fli_mem_lock(m);
        for (unsigned i = 0; i < FLI_REGION_COUNT; i++) {
            const fli_region *r = &m->regions[i];
            if (!r->present || r->mapping == NULL || i == FL_MEMORY_SHARED) continue;
            /* Asked only here: with backing memory the platform hears nothing at all. */
            if (w.page == 0) w.page = fli_os_page_size(&m->os);
            for (unsigned c = 0; c < r->class_count; c++) (void)r->cls[c].a->ops->walk(r->cls[c].a, trim_block, &w);
            if (r->a) (void)r->a->ops->walk(r->a, trim_block, &w);
        }
        fli_mem_unlock(m);
    }
    if (released) *released = w.released;
    return FL_OK;
}

fl_status fl_memory_gc_hint(fl_memory *m) { return fl_memory_trim(m, NULL); }
