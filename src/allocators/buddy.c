/*
 * The buddy allocator: power-of-two blocks from `min_block` up, split on allocate and
 * coalesced with their buddy on free.
 *
 * Complexity: allocate and deallocate are O(log(capacity / min_block)): one bit scan
 * finds the smallest non-empty order that fits, then at most one split per order on the
 * way down, or one merge per order on the way up. owns, usable_size and largest_free are
 * O(1). walk visits every block; validate and reset touch every min_block unit.
 *
 * No bookkeeping sits in front of a block: an allocation is exactly its block, so video
 * or audio memory can be handed out without a header eating into its alignment
 * (allocation_overhead is 0). What the allocator knows about a block lives in a state map
 * outside the managed area, one byte per min_block unit:
 *
 *     bit 7  HEAD   a block starts at this unit
 *     bit 6  USED   that block is allocated
 *     0..5   ORDER  its size is min_block << ORDER
 *
 * Every unit that does not start a block holds 0, so a pointer is the start of a live
 * block iff its unit's byte has HEAD and USED set: interior pointers, pointers to free
 * blocks and pointers to blocks that were freed and merged away are all told apart from
 * live ones in O(1). The only bytes written inside the area are the two list links at the
 * start of each FREE block.
 *
 * Memory layout (the caller's buffer, or platform pages):
 *
 *   memory                                                         memory + size
 *   | buddy (control block) | map: units bytes | pad | area: units * min_block | tail |
 *                                                    ^ aligned to area_align
 *
 *   area = [ top-level 2^k3 units ][ 2^k2 ][ 2^k1 ]...   k3 > k2 > k1: the set bits of units
 *
 * Any buffer size works. units is the largest count for which the control block, the map,
 * the alignment pad and the area all fit (init solves for it); what is left over is the
 * pad (< area_align) and a tail that cannot pay for one more unit and its map byte. The
 * area is cut into top-level blocks of decreasing power-of-two sizes, the binary
 * representation of units, so every top-level block starts at an offset that is a
 * multiple of its own size; so does every block split from it. A block of order k at unit
 * offset u has its buddy at u ^ 2^k. reset rebuilds this in O(units) (it clears the map).
 *
 * Why "merge only if the merged block lies entirely within the area" is the right rule:
 * a block inside a top-level block of order K has order k < K, and its buddy differs from
 * it only in bit k < K, so the pair and the merged block lie inside that top-level block.
 * A top-level block of order k starts at P = units with bits 0..k cleared (only larger
 * bits before it), so its merged block would be [P, P + 2^(k+1)), but units < P + 2^(k+1)
 * because bit k is its own and the bits below k sum to less than 2^k. So the rule rejects
 * exactly the merges that would cross the decomposition, and a fully freed area always
 * returns to it: largest_free is back to min_block << (highest bit of units). It is also
 * what keeps the map read in bounds: a top-level block's buddy unit is smaller blocks or
 * lies past the area, where the "map byte" would be the caller's pad or data.
 *
 * area_align = min(largest top-level block, FL_ALIGN_PAGE). The pad that buys it wastes
 * at most area_align - 1 <= 4095 bytes of the buffer. Every block of size s is then
 * aligned to min(s, area_align) in absolute address terms. An allocation asks for the
 * block of size max(size, alignment, min_block) rounded up to a power of two; an
 * alignment above area_align could only be honoured by luck of placement, never by
 * construction, so it is FL_ERR_INVALID_PARAMETERS (the message names the limit). A size
 * larger than the largest block is a valid request no block can serve: FL_ERR_OUT_OF_MEMORY.
 *
 * min_block: 0 means 64 bytes. Otherwise a power of two, at least 2 * sizeof(void *) (a
 * free block holds two list links), small enough that one block fits.
 *
 * Free blocks: one doubly linked list per order, the links in the free block itself, and
 * `nonempty`, a bitmap with bit k set iff list k is non-empty, so "the smallest order >= k
 * with a free block" and "the largest free block" are bit scans.
 *
 * Statistics: consumed = the block's size (min_block << order), requested = the size
 * asked for; used_bytes is the sum of live block sizes. largest_free_block is the size of
 * the highest non-empty order. fragmentation is the default 1 - largest / free.
 *
 * Invariants (validate checks every one):
 * - the area start is aligned to area_align, and area_align = min(largest block, page);
 * - walking the map from unit 0 by block sizes visits block heads only and ends exactly at
 *   units: the blocks tile the area; every unit inside a block holds 0;
 * - every block's unit offset is a multiple of its size in units, and it fits the area;
 * - no free block has a free buddy of the same order it could merge with;
 * - list k holds only free blocks of order k, with consistent prev links, and as many
 *   elements as the walk found free blocks of order k (so every one of them is listed);
 * - bit k of nonempty is set iff list k is non-empty; no bit above the top order;
 * - the used blocks' sizes sum to counters.used_bytes and their number is
 *   counters.allocation_count.
 */
#include "allocator.h"

#include <string.h>

#define BUDDY_DEFAULT_MIN_BLOCK ((size_t)64)

#define MAP_HEAD 0x80u
#define MAP_USED 0x40u
#define MAP_ORDER 0x3Fu

typedef struct buddy_node {
    struct buddy_node *next, *prev;
} buddy_node;

typedef struct buddy {
    fl_allocator base;
    unsigned char *map;   /* units bytes, outside the area */
    unsigned char *area;  /* aligned to area_align */
    size_t units;         /* the area is units * min_block bytes */
    size_t min_block;
    unsigned min_shift;   /* log2(min_block) */
    unsigned top_order;   /* order of the largest (first) top-level block */
    size_t area_align;
    size_t nonempty;      /* bit k: free_lists[k] is non-empty */
    buddy_node *free_lists[FLI_SIZE_BITS];
} buddy;

/* ---- small helpers ------------------------------------------------------------------- */

static inline buddy_node *node_at(const buddy *b, size_t unit)
{
    /* Blocks are aligned to at least min_block >= 2 * sizeof(void *): the cast is sound. */
    return (buddy_node *)(void *)(b->area + (unit << b->min_shift));
}

static inline size_t unit_of(const buddy *b, const void *p)
{
    return (size_t)((const unsigned char *)p - b->area) >> b->min_shift;
}

static inline void list_push(buddy *b, size_t unit, unsigned order)
{
    buddy_node *n = node_at(b, unit);
    buddy_node *head = b->free_lists[order];
    n->prev = NULL;
    n->next = head;
    if (head) head->prev = n;
    b->free_lists[order] = n;
    b->nonempty |= (size_t)1 << order;
}

static inline void list_unlink(buddy *b, buddy_node *n, unsigned order)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        b->free_lists[order] = n->next;
    if (n->next) n->next->prev = n->prev;
    if (b->free_lists[order] == NULL) b->nonempty &= ~((size_t)1 << order);
}

/* Lays the free top-level blocks out: the binary representation of units, largest first. */
static void build_initial(buddy *b)
{
    memset(b->map, 0, b->units);
    memset(b->free_lists, 0, sizeof b->free_lists);
    b->nonempty = 0;
    size_t unit = 0;
    for (unsigned k = b->top_order + 1; k-- > 0;) {
        if (!(b->units & ((size_t)1 << k))) continue;
        b->map[unit] = (unsigned char)(MAP_HEAD | k);
        list_push(b, unit, k);
        unit += (size_t)1 << k;
    }
}

/* The area alignment for a given unit count: min(largest top-level block, page). */
static size_t area_alignment(size_t units, unsigned min_shift)
{
    size_t largest = ((size_t)1 << fli_log2_floor(units)) << min_shift;
    return largest < FL_ALIGN_PAGE ? largest : FL_ALIGN_PAGE;
}

/* ---- init ---------------------------------------------------------------------------- */

static fl_status buddy_init(void *memory, size_t size, const fl_allocator_config *cfg, fl_allocator **out)
{
    size_t min_block = cfg->min_block ? cfg->min_block : BUDDY_DEFAULT_MIN_BLOCK;
    if (!fli_is_pow2(min_block))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "buddy min_block %zu is not a power of two", min_block);
    if (min_block < 2 * sizeof(void *))
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "buddy min_block %zu is below %zu: a free block holds two links", min_block,
                        2 * sizeof(void *));
    if (size <= sizeof(buddy))
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "buffer of %zu bytes cannot hold the %zu-byte buddy control block", size, sizeof(buddy));

    /* Solve for units: control + units (map) + pad(units) + units * min_block <= size.
     * Without the pad the answer is avail / (min_block + 1); the pad is under 4096 bytes
     * and each unit given back frees min_block + 1 of them, so the loop steps back at most
     * 4096 / (min_block + 1) + 1 times. Fitting only gets easier as units shrink (the pad
     * never grows), so the first fit is the largest. */
    unsigned min_shift = fli_log2_floor(min_block);
    uintptr_t map_addr = (uintptr_t)memory + sizeof(buddy);
    size_t avail = size - sizeof(buddy);
    size_t units = avail / (min_block + 1);
    for (; units > 0; units--) {
        size_t align = area_alignment(units, min_shift);
        size_t pad = (size_t)(fli_align_up_addr(map_addr + units, align) - (map_addr + units));
        if (pad <= avail - units * (min_block + 1)) break;
    }
    if (units == 0)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "buffer of %zu bytes holds no %zu-byte buddy block after the control block", size,
                        min_block);

    buddy *b = (buddy *)memory;
    memset(b, 0, sizeof *b);
    b->map = (unsigned char *)(map_addr);
    b->area_align = area_alignment(units, min_shift);
    b->area = (unsigned char *)fli_align_up_addr(map_addr + units, b->area_align);
    b->units = units;
    b->min_block = min_block;
    b->min_shift = min_shift;
    b->top_order = fli_log2_floor(units);
    b->base.capacity = units << min_shift;
    build_initial(b);
    *out = &b->base;
    return FL_OK;
}

static size_t buddy_largest_free(const fl_allocator *a);

/* ---- allocate / deallocate --------------------------------------------------------------- */

static fl_status buddy_allocate(fl_allocator *a, size_t size, size_t alignment, void **out)
{
    buddy *b = (buddy *)a;
    if (FLI_UNLIKELY(alignment > b->area_align))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: alignment %zu exceeds the %zu this buddy guarantees",
                        a->name, alignment, b->area_align);
    size_t need = size > alignment ? size : alignment;
    size_t max_block = b->min_block << b->top_order;
    if (FLI_UNLIKELY(need > max_block))
        return fli_fail(FL_ERR_OUT_OF_MEMORY, "%s: %zu bytes exceed the largest block, %zu bytes", a->name, size,
                        max_block);
    /* need <= max_block, so the rounded-up order is at most top_order: no overflow. */
    unsigned order = need <= b->min_block ? 0u : fli_log2_floor(need - 1) + 1u - b->min_shift;

    size_t fitting = b->nonempty & ~(((size_t)1 << order) - 1);
    if (FLI_UNLIKELY(fitting == 0))
        return fli_fail(FL_ERR_OUT_OF_MEMORY, "%s: no free block of %zu bytes for %zu bytes (largest free %zu)",
                        a->name, b->min_block << order, size, buddy_largest_free(a));
    unsigned k = fli_log2_floor(fitting & (~fitting + 1)); /* lowest set bit */

    buddy_node *n = b->free_lists[k];
    list_unlink(b, n, k);
    size_t unit = unit_of(b, n);
    /* Split down: keep the lower half, give the upper half back to its order's list. */
    while (k > order) {
        k--;
        size_t upper = unit + ((size_t)1 << k);
        b->map[upper] = (unsigned char)(MAP_HEAD | k);
        list_push(b, upper, k);
    }
    b->map[unit] = (unsigned char)(MAP_HEAD | MAP_USED | order);
    fli_count_allocation(&a->counters, size, b->min_block << order);
    *out = n;
    return FL_OK;
}

/* The unit of the live block starting at ptr, or a failure naming why ptr is not one. */
static fl_status live_block_unit(const buddy *b, const void *ptr, size_t *unit_out)
{
    const unsigned char *p = (const unsigned char *)ptr;
    if ((uintptr_t)p < (uintptr_t)b->area || (uintptr_t)p - (uintptr_t)b->area >= b->base.capacity)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: pointer %p is not in this buddy's area", b->base.name, ptr);
    size_t offset = (size_t)((uintptr_t)p - (uintptr_t)b->area);
    if (offset & (b->min_block - 1))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: pointer %p is inside a block (offset %zu)", b->base.name,
                        ptr, offset);
    size_t unit = offset >> b->min_shift;
    unsigned state = b->map[unit];
    if (!(state & MAP_HEAD))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: pointer %p is inside a block or was freed and merged",
                        b->base.name, ptr);
    if (!(state & MAP_USED))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: pointer %p is a free block (already freed?)",
                        b->base.name, ptr);
    *unit_out = unit;
    return FL_OK;
}

static fl_status buddy_deallocate(fl_allocator *a, void *ptr)
{
    buddy *b = (buddy *)a;
    size_t unit;
    fl_status status = live_block_unit(b, ptr, &unit);
    if (FLI_UNLIKELY(status != FL_OK)) return status;

    unsigned order = b->map[unit] & MAP_ORDER;
    fli_count_deallocation(&a->counters, b->min_block << order);
    /* Coalesce up while the buddy is a free block of the same order and the merged block
     * stays inside the area (that rule keeps the top-level blocks apart, see the top). */
    while (order < b->top_order) {
        size_t mate = unit ^ ((size_t)1 << order);
        size_t low = unit < mate ? unit : mate;
        if (low + ((size_t)2 << order) > b->units) break;
        if (b->map[mate] != (MAP_HEAD | order)) break;
        list_unlink(b, node_at(b, mate), order);
        b->map[unit < mate ? mate : unit] = 0; /* the upper half is interior now */
        unit = low;
        order++;
    }
    b->map[unit] = (unsigned char)(MAP_HEAD | order);
    list_push(b, unit, order);
    return FL_OK;
}

/* ---- queries ------------------------------------------------------------------------- */

static void buddy_reset(fl_allocator *a) { build_initial((buddy *)a); }

static bool buddy_owns(const fl_allocator *a, const void *ptr)
{
    const buddy *b = (const buddy *)a;
    return (uintptr_t)ptr >= (uintptr_t)b->area && (uintptr_t)ptr - (uintptr_t)b->area < a->capacity;
}

static fl_status buddy_usable_size(const fl_allocator *a, const void *ptr, size_t *out)
{
    const buddy *b = (const buddy *)a;
    size_t unit;
    fl_status status = live_block_unit(b, ptr, &unit);
    if (status != FL_OK) return status;
    *out = b->min_block << (b->map[unit] & MAP_ORDER);
    return FL_OK;
}

static size_t buddy_largest_free(const fl_allocator *a)
{
    const buddy *b = (const buddy *)a;
    return b->nonempty ? b->min_block << fli_log2_floor(b->nonempty) : 0;
}

static fl_status buddy_walk(const fl_allocator *a, fl_walk_fn fn, void *user)
{
    const buddy *b = (const buddy *)a;
    for (size_t unit = 0; unit < b->units;) {
        unsigned state = b->map[unit];
        if (!(state & MAP_HEAD))
            return fli_fail(FL_ERR_INVALID_STATE, "%s: unit %zu should start a block", a->name, unit);
        unsigned order = state & MAP_ORDER;
        if (order > b->top_order)
            return fli_fail(FL_ERR_INVALID_STATE, "%s: unit %zu has order %u above the top", a->name, unit, order);
        fn(b->area + (unit << b->min_shift), b->min_block << order, (state & MAP_USED) != 0, user);
        unit += (size_t)1 << order;
    }
    return FL_OK;
}

/* ---- validate ------------------------------------------------------------------------ */

static fl_status validate_lists(const buddy *b, const size_t *free_per_order)
{
    const char *name = b->base.name;
    for (unsigned k = 0; k < FLI_SIZE_BITS; k++) {
        const buddy_node *head = b->free_lists[k];
        bool bit = (b->nonempty >> k) & 1u;
        FLI_VALIDATE(bit == (head != NULL), "%s: nonempty bit %u is %d but list %u is %s", name, k, (int)bit, k,
                     head ? "non-empty" : "empty");
        if (k > b->top_order) {
            FLI_VALIDATE(head == NULL, "%s: list %u above the top order %u is not empty", name, k, b->top_order);
            continue;
        }
        size_t count = 0;
        const buddy_node *prev = NULL;
        for (const buddy_node *n = head; n; prev = n, n = n->next) {
            FLI_VALIDATE(buddy_owns(&b->base, n), "%s: list %u holds %p, outside the area", name, k, (const void *)n);
            size_t offset = (size_t)((uintptr_t)n - (uintptr_t)b->area);
            FLI_VALIDATE((offset & (b->min_block - 1)) == 0, "%s: list %u holds %p, not at a unit start", name, k,
                         (const void *)n);
            FLI_VALIDATE(b->map[offset >> b->min_shift] == (MAP_HEAD | k),
                         "%s: list %u holds %p whose map byte is %u, not a free block of order %u", name, k,
                         (const void *)n, (unsigned)b->map[offset >> b->min_shift], k);
            FLI_VALIDATE(n->prev == prev, "%s: list %u: %p has a wrong prev link", name, k, (const void *)n);
            /* Bounds the walk even if the links form a cycle. */
            FLI_VALIDATE(count < free_per_order[k], "%s: list %u holds more than the %zu free blocks of its order",
                         name, k, free_per_order[k]);
            count++;
        }
        FLI_VALIDATE(count == free_per_order[k], "%s: list %u has %zu blocks but the map has %zu free of order %u",
                     name, k, count, free_per_order[k], k);
    }
    return FL_OK;
}

static fl_status buddy_validate(const fl_allocator *a)
{
    const buddy *b = (const buddy *)a;
    const char *name = a->name;
    FLI_VALIDATE(b->units > 0 && a->capacity == b->units << b->min_shift, "%s: capacity %zu is not %zu units",
                 name, a->capacity, b->units);
    FLI_VALIDATE(b->top_order == fli_log2_floor(b->units), "%s: top order %u does not match %zu units", name,
                 b->top_order, b->units);
    FLI_VALIDATE(b->area_align == area_alignment(b->units, b->min_shift) && fli_is_aligned(b->area, b->area_align),
                 "%s: area %p is not aligned to %zu", name, (const void *)b->area, b->area_align);

    size_t free_per_order[FLI_SIZE_BITS];
    memset(free_per_order, 0, sizeof free_per_order);
    size_t used_bytes = 0, used_count = 0;
    size_t unit = 0;
    while (unit < b->units) {
        unsigned state = b->map[unit];
        FLI_VALIDATE(state & MAP_HEAD, "%s: unit %zu (where a block should start) has map byte %u", name, unit,
                     state);
        unsigned order = state & MAP_ORDER;
        FLI_VALIDATE(order <= b->top_order, "%s: block at unit %zu has order %u above the top order %u", name,
                     unit, order, b->top_order);
        size_t span = (size_t)1 << order;
        FLI_VALIDATE((unit & (span - 1)) == 0 && span <= b->units - unit,
                     "%s: block at unit %zu of order %u is misaligned or leaves the area", name, unit, order);
        for (size_t i = unit + 1; i < unit + span; i++)
            FLI_VALIDATE(b->map[i] == 0, "%s: unit %zu inside the block at unit %zu has map byte %u", name, i, unit,
                         (unsigned)b->map[i]);
        if (state & MAP_USED) {
            used_bytes += b->min_block << order;
            used_count++;
        } else {
            free_per_order[order]++;
            size_t mate = unit ^ span;
            size_t low = unit < mate ? unit : mate;
            bool mergeable = low + 2 * span <= b->units && b->map[mate] == (MAP_HEAD | order);
            FLI_VALIDATE(!mergeable, "%s: free blocks at units %zu and %zu of order %u were not coalesced", name,
                         unit, mate, order);
        }
        unit += span;
    }
    FLI_VALIDATE(unit == b->units, "%s: blocks end at unit %zu, not at %zu", name, unit, b->units);
    FLI_VALIDATE(used_bytes == a->counters.used_bytes, "%s: used blocks hold %zu bytes but the counters say %zu",
                 name, used_bytes, a->counters.used_bytes);
    FLI_VALIDATE(used_count == a->counters.allocation_count,
                 "%s: %zu used blocks but the counters say %zu allocations", name, used_count,
                 a->counters.allocation_count);
    return validate_lists(b, free_per_order);
}

const fli_allocator_ops fli_buddy_ops = {
    .init = buddy_init,
    .allocate = buddy_allocate,
    .deallocate = buddy_deallocate,
    .reset = buddy_reset,
    .owns = buddy_owns,
    .usable_size = buddy_usable_size,
    .largest_free = buddy_largest_free,
    .fragmentation = NULL,
    .validate = buddy_validate,
    .walk = buddy_walk,
    .mark = NULL,
    .rewind = NULL,
    .destroy = NULL,
    .allocation_overhead = 0,
    .supports_defrag = false,
};
