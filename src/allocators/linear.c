/*
 * The linear (bump) allocator: every allocation moves one offset forward; memory comes
 * back in bulk with reset or rewind, plus the one allocation made last.
 *
 * Complexity: O(1) in every call (walk and validate included: there is nothing to visit).
 *
 * Memory layout (the caller's buffer, aligned to FL_ALIGN_DEFAULT by allocator.c):
 *
 *   +------------------+----------------------------------+------------------------+
 *   | linear_allocator |  pad | A | pad | B |  ...  | last  |       free span        |
 *   +------------------+----------------------------------+------------------------+
 *   ^memory            ^start                             ^start+top       start+capacity^
 *
 * No header per allocation (allocation_overhead 0). An allocation consumes its alignment
 * padding plus its size, so used_bytes is exactly `top`, and the free span is one piece:
 * largest_free_block == free_bytes and the fragmentation is always 0.
 *
 * Freeing. Only the allocation made last can give its bytes back (its padding included):
 * the allocator remembers where it and its padding begin. That memory is one level deep:
 * after the last allocation is freed, the one below it is unknown and freeing it is
 * accepted as a no-op. Freeing any other pointer in [start, top) likewise succeeds and does
 * nothing: the allocation stays counted as live (used_bytes, allocation_count) until reset
 * or a rewind below it. Pointers outside [start, top) and pointers inside the last
 * allocation but not at its start are FL_ERR_INVALID_PARAMETERS.
 *
 * Markers. mark() returns {offset = top, count = live allocations, last = 0} and forgets
 * the last allocation, so that no free can take `top` below a marker: a marker then stays
 * valid until a rewind or reset goes below it. rewind() rejects (with nothing changed) every
 * marker that cannot come from this state: above the top or the count, an offset and a
 * count that disagree (each allocation consumes at least one byte), or a marker at the
 * current top with a different count. A stale marker that passes these checks (the
 * allocator was rewound below it and grew back) is the caller's error and is not detected.
 *
 * Invariants (validate):
 * - start != NULL, top <= capacity, counters.used_bytes == top;
 * - allocation_count <= top (each allocation consumes >= 1 byte), and count == 0 iff top == 0;
 * - when the last allocation is known: last_begin <= last < top, last - last_begin
 *   < FL_ALIGN_MAX (it is alignment padding), and count >= 1.
 */
#include "allocator.h"

/* The control block, fli_linear, is defined in include/flight/detail/allocators.h, where
 * <flight/memory_fast.h> reads it to inline the common allocation. */
typedef fli_linear linear_allocator;

static linear_allocator *as_linear(fl_allocator *a) { return (linear_allocator *)a; }
static const linear_allocator *as_const_linear(const fl_allocator *a) { return (const linear_allocator *)a; }

static fl_status linear_init(void *memory, size_t size, const fl_allocator_config *cfg, fl_allocator **out)
{
    (void)cfg;
    /* One byte of region is the smallest allocation the allocator can then serve. */
    if (size <= sizeof(linear_allocator))
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "buffer of %zu bytes is too small: the linear control block alone takes %zu", size,
                        sizeof(linear_allocator));
    linear_allocator *l = (linear_allocator *)memory;
    l->start = (unsigned char *)memory + sizeof(linear_allocator);
    l->top = 0;
    l->last = 0;
    l->last_begin = 0;
    l->last_known = false;
    l->base.capacity = size - sizeof(linear_allocator);
    FLI_POISON(l->start, l->base.capacity); /* memory checkers: everything above top is free */
    *out = &l->base;
    return FL_OK;
}

static FLI_COLD fl_status refuse_allocation(const linear_allocator *l, size_t size, size_t alignment, size_t pad)
{
    return fli_fail(FL_ERR_OUT_OF_MEMORY,
                    "%s: %zu bytes aligned to %zu do not fit in the %zu bytes left (%zu of padding)", l->base.name,
                    size, alignment, l->base.capacity - l->top, pad);
}

static fl_status linear_allocate(fl_allocator *a, size_t size, size_t alignment, void **out)
{
    linear_allocator *l = as_linear(a);
    size_t pad = fli_linear_pad(l, alignment);
    size_t room = a->capacity - l->top;
    if (FLI_UNLIKELY(pad > room || size > room - pad)) return refuse_allocation(l, size, alignment, pad);
    *out = fli_linear_bump(l, size, pad); /* the inline path's code too */
    FLI_UNPOISON(*out, size); /* the padding stays poisoned */
    return FL_OK;
}

/* Offset of ptr within [start, top), or false when ptr is not below the top. */
static bool live_offset(const linear_allocator *l, const void *ptr, size_t *offset)
{
    uintptr_t p = (uintptr_t)ptr, s = (uintptr_t)l->start;
    if (p < s || p - s >= l->top) return false;
    *offset = (size_t)(p - s);
    return true;
}

static fl_status linear_deallocate(fl_allocator *a, void *ptr)
{
    linear_allocator *l = as_linear(a);
    size_t offset;
    if (!live_offset(l, ptr, &offset))
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "%s: %p is not a live allocation (the used span is %p + %zu bytes)", a->name, ptr,
                        (void *)l->start, l->top);
    if (l->last_known && offset == l->last) {
        /* The last allocation: its padding and payload end exactly at top. */
        fli_count_deallocation(&a->counters, l->top - l->last_begin);
        FLI_POISON(l->start + l->last_begin, l->top - l->last_begin);
        l->top = l->last_begin;
        l->last_known = false;
        return FL_OK;
    }
    if (l->last_known && offset >= l->last_begin)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "%s: %p lies inside the last allocation %p (or its padding) but is not its start",
                        a->name, ptr, (void *)(l->start + l->last));
    /* An older allocation: accepted, and its bytes wait for reset or rewind. */
    return FL_OK;
}

static void linear_reset(fl_allocator *a)
{
    linear_allocator *l = as_linear(a);
    FLI_POISON(l->start, l->top);
    l->top = 0;
    l->last_known = false;
}

static bool linear_owns(const fl_allocator *a, const void *ptr)
{
    const linear_allocator *l = as_const_linear(a);
    uintptr_t p = (uintptr_t)ptr, s = (uintptr_t)l->start;
    return p >= s && p - s < a->capacity;
}

static fl_status linear_usable_size(const fl_allocator *a, const void *ptr, size_t *out)
{
    const linear_allocator *l = as_const_linear(a);
    size_t offset;
    if (!live_offset(l, ptr, &offset))
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "%s: %p is not a live allocation (the used span is %p + %zu bytes)", a->name, ptr,
                        (void *)l->start, l->top);
    if (l->last_known && offset == l->last) {
        *out = l->top - l->last;
        return FL_OK;
    }
    if (l->last_known && offset >= l->last_begin)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "%s: %p lies inside the last allocation %p (or its padding) but is not its start",
                        a->name, ptr, (void *)(l->start + l->last));
    return fli_fail(FL_ERR_NOT_SUPPORTED,
                    "%s: a linear allocator keeps no sizes; only its last allocation's size is known", a->name);
}

static size_t linear_largest_free(const fl_allocator *a) { return a->capacity - as_const_linear(a)->top; }

static fl_status linear_validate(const fl_allocator *a)
{
    const linear_allocator *l = as_const_linear(a);
    const fli_counters *c = &a->counters;
    FLI_VALIDATE(l->start != NULL, "%s: the region start is NULL", a->name);
    FLI_VALIDATE(l->top <= a->capacity, "%s: top %zu is past the capacity %zu", a->name, l->top, a->capacity);
    FLI_VALIDATE(c->used_bytes == l->top, "%s: used bytes %zu differ from top %zu", a->name, c->used_bytes,
                 l->top);
    FLI_VALIDATE(c->allocation_count <= l->top, "%s: %zu live allocations cannot fit in %zu bytes", a->name,
                 c->allocation_count, l->top);
    FLI_VALIDATE((c->allocation_count == 0) == (l->top == 0), "%s: %zu live allocations with top %zu", a->name,
                 c->allocation_count, l->top);
    if (l->last_known) {
        FLI_VALIDATE(l->last_begin <= l->last && l->last < l->top,
                     "%s: last allocation at %zu (begun at %zu) is not below top %zu", a->name, l->last,
                     l->last_begin, l->top);
        FLI_VALIDATE(l->last - l->last_begin < FL_ALIGN_MAX, "%s: last allocation has %zu bytes of padding",
                     a->name, l->last - l->last_begin);
        FLI_VALIDATE(c->allocation_count >= 1, "%s: a last allocation is known but none is live", a->name);
    }
    return FL_OK;
}

static fl_status linear_walk(const fl_allocator *a, fl_walk_fn fn, void *user)
{
    const linear_allocator *l = as_const_linear(a);
    /* No sizes are kept: the used span stands for every allocation it holds. */
    if (l->top > 0) fn(l->start, l->top, true, user);
    if (l->top < a->capacity) fn(l->start + l->top, a->capacity - l->top, false, user);
    return FL_OK;
}

static fl_marker linear_mark(fl_allocator *a)
{
    linear_allocator *l = as_linear(a);
    fl_marker m = {l->top, a->counters.allocation_count, 0};
    /* A mark is a floor: freeing the allocation below it must not move top under it. */
    l->last_known = false;
    return m;
}

static fl_status linear_rewind(fl_allocator *a, fl_marker m)
{
    linear_allocator *l = as_linear(a);
    size_t count = a->counters.allocation_count;
    if (m.offset > l->top || m.count > count)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "%s: marker (offset %zu, count %zu) is above the current top %zu with %zu allocations",
                        a->name, m.offset, m.count, l->top, count);
    /* Each allocation consumes at least one byte, below and above the mark alike. */
    if (m.last != 0 || m.count > m.offset || (m.count == 0) != (m.offset == 0) ||
        count - m.count > l->top - m.offset || (m.offset == l->top) != (m.count == count))
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "%s: marker (offset %zu, count %zu, last %zu) was not made by mark() on this state "
                        "(top %zu, %zu allocations)",
                        a->name, m.offset, m.count, m.last, l->top, count);
    fli_count_bulk_release(&a->counters, count - m.count, l->top - m.offset);
    FLI_POISON(l->start + m.offset, l->top - m.offset);
    l->top = m.offset;
    l->last_known = false;
    return FL_OK;
}

const fli_allocator_ops fli_linear_ops = {
    .init = linear_init,
    .allocate = linear_allocate,
    .deallocate = linear_deallocate,
    .reset = linear_reset,
    .owns = linear_owns,
    .usable_size = linear_usable_size,
    .largest_free = linear_largest_free,
    .fragmentation = NULL, /* largest_free == free_bytes: the formula gives 0 */
    .validate = linear_validate,
    .walk = linear_walk,
    .mark = linear_mark,
    .rewind = linear_rewind,
    .destroy = NULL,
    .allocation_overhead = 0,
    .supports_defrag = false,
};
