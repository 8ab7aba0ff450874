/*
 * The buddy allocator: power-of-two blocks from `min_block` up, split on allocate and
 * coalesced with their buddy on free.
 *
 * Complexity: allocate and deallocate are O(log(capacity / min_block)): one bit scan
 * finds the smallest non-empty order that fits, then at most one split per order on the
 * way down, or one merge per order on the way up. owns, usable_size and largest_free are
 * O(1). walk visits every block; validate and reset touch every min_block unit. relocate
 * is O(free blocks), see "Relocation" below.
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
 * live ones in O(1).
 *
 * Free blocks: one doubly linked list per order, and `nonempty`, a bitmap with bit k set
 * iff list k is non-empty, so "the smallest order >= k with a free block" and "the
 * largest free block" are bit scans. A link is a 32-bit unit index (NO_UNIT for none),
 * never a pointer, so the same code serves two places for the links:
 *
 *   link word of unit u:  links[u << link_shift] = next,  links[(u << link_shift) + 1] = prev
 *
 * - in-band (cfg->managed NULL): links is the area itself seen as 32-bit words and
 *   link_shift = log2(min_block / 4): the two words at the start of each FREE block. They
 *   are the only bytes the allocator ever writes inside the area.
 * - external (cfg->managed set, for VRAM or sound RAM the CPU must not scribble into):
 *   links is a side array of 2 words per unit in the control buffer, link_shift = 1. The
 *   allocator then never reads or writes a byte of the managed memory.
 *
 * Memory layout, in-band (the caller's buffer, or platform pages):
 *
 *   memory                                                         memory + size
 *   | buddy (control block) | map: units bytes | pad | area: units * min_block | tail |
 *                                                    ^ aligned to area_align
 *
 * Memory layout, external:
 *
 *   memory (buffer, or platform pages)                             memory + size
 *   | buddy (control block) | links: 2 * units uint32 | map: units bytes | unused |
 *   managed                                   managed + managed_size
 *   | area: units * min_block | tail < min_block |      (never read, never written)
 *
 *   area = [ top-level 2^k3 units ][ 2^k2 ][ 2^k1 ]...   k3 > k2 > k1: the set bits of units
 *
 * In-band, any buffer size works: units is the largest count for which the control block,
 * the map, the alignment pad and the area all fit (init solves for it); what is left over
 * is the pad (< area_align) and a tail that cannot pay for one more unit and its map byte.
 * External, units = managed_size / min_block and the control buffer must hold
 * fl_buddy_control_size() bytes. Either way units must fit a 32-bit index. The area is cut
 * into top-level blocks of decreasing power-of-two sizes, the binary representation of
 * units, so every top-level block starts at an offset that is a multiple of its own size;
 * so does every block split from it. A block of order k at unit offset u has its buddy at
 * u ^ 2^k. reset rebuilds this in O(units) (it clears the map).
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
 * lies past the map's end (caller data in-band, the rest of the control buffer external).
 *
 * Alignment. area_align = min(largest top-level block, FL_ALIGN_PAGE, base alignment),
 * where the base alignment is FL_ALIGN_PAGE in-band (the pad buys it, wasting at most
 * 4095 bytes of the buffer) and, external, the managed base's own alignment (its lowest
 * set address bit): the range is taken exactly as given. Every block of size s is then
 * aligned to min(s, area_align) in absolute address terms. An allocation asks for the
 * block of size max(size, alignment, min_block) rounded up to a power of two; an
 * alignment above area_align could only be honoured by luck of placement, never by
 * construction, so it is FL_ERR_INVALID_PARAMETERS (the message names the limit). That
 * includes alignment 0 (FL_ALIGN_DEFAULT) on a managed base aligned to less. A size
 * larger than the largest block is a valid request no block can serve: OUT_OF_MEMORY.
 *
 * min_block: 0 means 64 bytes. Otherwise a power of two, at least 8, small enough that one
 * block fits. In-band a free block holds its two 32-bit links; external keeps the same
 * floor because a smaller unit would cost more bookkeeping (9 bytes) than it holds.
 *
 * Relocation (defragmentation, fl_allocator_relocate): a live block of order k at unit u
 * moves to the lowest-addressed free block of order >= k below u, split down to order k
 * keeping its lowest part (as allocate does). Only a block of order >= k can take it: a
 * k-aligned run of free units is always one free block (they would have coalesced), and
 * any free block starting below u ends at or before u (blocks tile, u is a block start).
 * Every block of order k is aligned to min(its size, area_align), which is what the
 * allocation needed, so the move keeps the alignment and the usable size; used_bytes does
 * not change. The bytes are copied (the blocks are disjoint), then the old block is freed
 * exactly as by deallocate, so it coalesces with its old buddy when that one is free.
 * The search scans the free lists (O(free blocks); the lists are unordered), and
 * `free_floor`, a unit with no free block below it, answers at once for blocks that have
 * nothing free below them: deallocate lowers it to the merged block (one compare; a split
 * in allocate only frees upper halves), and each relocate scan sets it to the exact lowest
 * free unit. An external buddy never moves bytes (allocator.c refuses it).
 *
 * Statistics: consumed = the block's size (min_block << order), requested = the size
 * asked for; used_bytes is the sum of live block sizes. largest_free_block is the size of
 * the highest non-empty order. fragmentation is the default 1 - largest / free.
 *
 * Invariants (validate checks every one):
 * - area_align is min(largest block, page, base alignment) and the area is aligned to it;
 * - walking the map from unit 0 by block sizes visits block heads only and ends exactly at
 *   units: the blocks tile the area; every unit inside a block holds 0;
 * - every block's unit offset is a multiple of its size in units, and it fits the area;
 * - no free block has a free buddy of the same order it could merge with;
 * - list k holds only unit indices below units that head free blocks of order k, with
 *   consistent prev links, and as many elements as the walk found free blocks of order k
 *   (so every one of them is listed); in both modes, wherever the links live;
 * - bit k of nonempty is set iff list k is non-empty; no bit above the top order;
 * - the used blocks' sizes sum to counters.used_bytes and their number is
 *   counters.allocation_count;
 * - no free block starts below free_floor (<= units).
 */
#include "allocator.h"


#define BUDDY_DEFAULT_MIN_BLOCK ((size_t)64)
/* Two 32-bit links per free block (in-band); the same floor external, see the top. */
#define BUDDY_MIN_BLOCK_FLOOR ((size_t)8)
/* units < 2^32, so orders are 0..31 and `nonempty` is one 32-bit word. */
#define BUDDY_ORDERS 32u
#define NO_UNIT UINT32_MAX

#define MAP_HEAD 0x80u
#define MAP_USED 0x40u
#define MAP_ORDER 0x3Fu

typedef struct buddy {
    fl_allocator base;
    unsigned char *map;   /* units bytes, outside the area */
    unsigned char *area;  /* aligned to area_align */
    uint32_t *links;      /* unit u's next/prev at links[u << link_shift] and the word after */
    size_t units;         /* the area is units * min_block bytes; units <= UINT32_MAX */
    size_t min_block;
    size_t area_align;
    unsigned min_shift;   /* log2(min_block) */
    unsigned link_shift;  /* in-band log2(min_block / 4), external 1 */
    unsigned top_order;   /* order of the largest (first) top-level block */
    bool external;        /* the area is cfg->managed; links and map in the control buffer */
    uint32_t nonempty;    /* bit k: free_lists[k] is non-empty */
    size_t free_floor;    /* a unit with no free block below it (relocate's shortcut) */
    uint32_t free_lists[BUDDY_ORDERS]; /* head unit of each order, NO_UNIT when empty */
} buddy;

/* External mode: the side links start right after the control block. sizeof(buddy) is a
 * multiple of its alignment, which is at least uint32_t's (it holds uint32_t members), and
 * the control block starts aligned to FL_ALIGN_DEFAULT: the words are aligned. */
#define EXTERNAL_LINKS_OFFSET sizeof(buddy)

/* ---- small helpers ------------------------------------------------------------------- */

/* True iff x fits a 32-bit index. Two shifts, not one by 32 (undefined for a 32-bit
 * size_t) and no comparison with UINT32_MAX (always false there, and gcc says so). */
static inline bool fits_u32(size_t x) { return (x >> 16 >> 16) == 0; }

/* The link words of a unit. In-band they are the first 8 bytes of its (free) block; the
 * area is aligned to area_align >= min_block >= 8 and a block starts at a multiple of
 * min_block from it, so the address is 8-aligned and the uint32_t access is sound on every
 * target (no unaligned word can arise). External they are two words of the side array. */
static inline uint32_t *links_of(const buddy *b, uint32_t unit)
{
    return b->links + ((size_t)unit << b->link_shift);
}

static inline void *block_at(const buddy *b, size_t unit) { return b->area + (unit << b->min_shift); }

static inline void list_push(buddy *b, uint32_t unit, unsigned order)
{
    uint32_t *link = links_of(b, unit);
    uint32_t head = b->free_lists[order];
    link[0] = head;
    link[1] = NO_UNIT;
    if (head != NO_UNIT) links_of(b, head)[1] = unit;
    b->free_lists[order] = unit;
    b->nonempty |= (uint32_t)1 << order;
}

static inline void list_unlink(buddy *b, uint32_t unit, unsigned order)
{
    const uint32_t *link = links_of(b, unit);
    uint32_t next = link[0], prev = link[1];
    if (prev != NO_UNIT)
        links_of(b, prev)[0] = next;
    else
        b->free_lists[order] = next;
    if (next != NO_UNIT) links_of(b, next)[1] = prev;
    if (b->free_lists[order] == NO_UNIT) b->nonempty &= ~((uint32_t)1 << order);
}

/* Lays the free top-level blocks out: the binary representation of units, largest first. */
static void build_initial(buddy *b)
{
    memset(b->map, 0, b->units);
    for (unsigned k = 0; k < BUDDY_ORDERS; k++) b->free_lists[k] = NO_UNIT;
    b->nonempty = 0;
    b->free_floor = 0;
    size_t unit = 0;
    for (unsigned k = b->top_order + 1; k-- > 0;) {
        if (!(b->units & ((size_t)1 << k))) continue;
        b->map[unit] = (unsigned char)(MAP_HEAD | k);
        list_push(b, (uint32_t)unit, k);
        unit += (size_t)1 << k;
    }
}

/* The area alignment: min(largest top-level block, page, the base's own alignment). */
static size_t area_alignment(size_t units, unsigned min_shift, size_t base_align)
{
    size_t largest = ((size_t)1 << fli_log2_floor(units)) << min_shift;
    size_t align = largest < FL_ALIGN_PAGE ? largest : FL_ALIGN_PAGE;
    return align < base_align ? align : base_align;
}

/* The alignment of an external area's base: its lowest set address bit, capped at a page
 * (area_alignment caps at a page anyway; capping first keeps it in a size_t). */
static size_t base_alignment(const void *base)
{
    uintptr_t addr = (uintptr_t)base;
    uintptr_t low = addr & (~addr + 1);
    return low == 0 || low >= FL_ALIGN_PAGE ? FL_ALIGN_PAGE : (size_t)low;
}

/* Bytes an external control buffer needs for `units` units: control block, 8 bytes of
 * links and 1 map byte per unit. False when that overflows size_t. */
static bool external_control_bytes(size_t units, size_t *out)
{
    if (units > (SIZE_MAX - EXTERNAL_LINKS_OFFSET) / 9u) return false;
    *out = EXTERNAL_LINKS_OFFSET + units * 9u;
    return true;
}

/* ---- init ---------------------------------------------------------------------------- */

static fl_status check_min_block(size_t min_block, bool external)
{
    if (!fli_is_pow2(min_block))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "buddy min_block %zu is not a power of two", min_block);
    if (min_block < BUDDY_MIN_BLOCK_FLOOR && external)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "buddy min_block %zu is below %zu: smaller blocks cost more bookkeeping than they hold",
                        min_block, BUDDY_MIN_BLOCK_FLOOR);
    if (min_block < BUDDY_MIN_BLOCK_FLOOR)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "buddy min_block %zu is below %zu: a free block holds two 32-bit links", min_block,
                        BUDDY_MIN_BLOCK_FLOOR);
    return FL_OK;
}

/* Fills the fields both modes share and lays out the free blocks. */
static void finish_init(buddy *b, size_t units, size_t min_block, fl_allocator **out)
{
    b->units = units;
    b->min_block = min_block;
    b->min_shift = fli_log2_floor(min_block);
    b->top_order = fli_log2_floor(units);
    b->base.capacity = units << b->min_shift;
    build_initial(b);
    *out = &b->base;
}

static fl_status init_in_band(void *memory, size_t size, size_t min_block, fl_allocator **out)
{
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
        size_t align = area_alignment(units, min_shift, FL_ALIGN_PAGE);
        size_t pad = (size_t)(fli_align_up_addr(map_addr + units, align) - (map_addr + units));
        if (pad <= avail - units * (min_block + 1)) break;
    }
    if (units == 0)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "buffer of %zu bytes holds no %zu-byte buddy block after the control block", size,
                        min_block);
    if (!fits_u32(units))
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "buffer of %zu bytes makes %zu units of %zu bytes, above the 32-bit unit index: "
                        "use a larger min_block",
                        size, units, min_block);

    buddy *b = (buddy *)memory;
    memset(b, 0, sizeof *b);
    b->map = (unsigned char *)map_addr;
    b->area_align = area_alignment(units, min_shift, FL_ALIGN_PAGE);
    b->area = (unsigned char *)fli_align_up_addr(map_addr + units, b->area_align);
    /* Word address of block u: (area + u * min_block) / 4 = links + (u << link_shift). */
    b->links = (uint32_t *)(void *)b->area;
    b->link_shift = min_shift - 2u;
    finish_init(b, units, min_block, out);
    return FL_OK;
}

static fl_status init_external(void *memory, size_t size, const fl_allocator_config *cfg, size_t min_block,
                               fl_allocator **out)
{
    uintptr_t managed = (uintptr_t)cfg->managed;
    size_t managed_size = cfg->managed_size;
    if (managed_size == 0)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "managed memory %p of 0 bytes", cfg->managed);
    /* The last managed byte; a range that wraps around the address space is no range. */
    if (managed_size - 1u > UINTPTR_MAX - managed)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "managed memory %p of %zu bytes wraps around the address space",
                        cfg->managed, managed_size);
    uintptr_t managed_last = managed + (managed_size - 1u);
    unsigned min_shift = fli_log2_floor(min_block);
    size_t units = managed_size >> min_shift;
    if (units == 0)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "managed memory of %zu bytes holds no %zu-byte buddy block",
                        managed_size, min_block);
    if (!fits_u32(units))
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "managed memory of %zu bytes makes %zu units of %zu bytes, above the 32-bit unit index: "
                        "use a larger min_block",
                        managed_size, units, min_block);
    size_t need;
    if (!external_control_bytes(units, &need))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "the control block for %zu units of %zu bytes overflows size_t",
                        units, min_block);
    if (size < need)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "control buffer of %zu bytes (after alignment) is too small: %zu units of %zu bytes need "
                        "%zu bytes (fl_buddy_control_size)",
                        size, units, min_block, need);
    /* The bookkeeping would land in the memory it promises not to touch. */
    uintptr_t first = (uintptr_t)memory, last = first + (size - 1u);
    if (first <= managed_last && managed <= last)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "control buffer %p of %zu bytes overlaps the managed memory %p of %zu bytes", memory, size,
                        cfg->managed, managed_size);

    buddy *b = (buddy *)memory;
    memset(b, 0, sizeof *b);
    b->links = (uint32_t *)(void *)((unsigned char *)memory + EXTERNAL_LINKS_OFFSET);
    b->map = (unsigned char *)(b->links + 2u * units);
    b->area = (unsigned char *)cfg->managed;
    b->area_align = area_alignment(units, min_shift, base_alignment(cfg->managed));
    b->link_shift = 1u;
    b->external = true;
    finish_init(b, units, min_block, out);
    return FL_OK;
}

static fl_status buddy_init(void *memory, size_t size, const fl_allocator_config *cfg, fl_allocator **out)
{
    size_t min_block = cfg->min_block ? cfg->min_block : BUDDY_DEFAULT_MIN_BLOCK;
    bool external = cfg->managed != NULL;
    fl_status status = check_min_block(min_block, external);
    if (status != FL_OK) return status;
    return external ? init_external(memory, size, cfg, min_block, out) : init_in_band(memory, size, min_block, out);
}

size_t fl_buddy_control_size(size_t managed_size, size_t min_block)
{
    if (min_block == 0) min_block = BUDDY_DEFAULT_MIN_BLOCK;
    if (check_min_block(min_block, true) != FL_OK) return 0;
    size_t units = managed_size >> fli_log2_floor(min_block);
    if (units == 0) {
        (void)fli_fail(FL_ERR_INVALID_PARAMETERS, "managed memory of %zu bytes holds no %zu-byte buddy block",
                       managed_size, min_block);
        return 0;
    }
    if (!fits_u32(units)) {
        (void)fli_fail(FL_ERR_INVALID_PARAMETERS,
                       "managed memory of %zu bytes makes %zu units of %zu bytes, above the 32-bit unit index",
                       managed_size, units, min_block);
        return 0;
    }
    size_t need = 0;
    if (!external_control_bytes(units, &need)) {
        (void)fli_fail(FL_ERR_INVALID_PARAMETERS, "the control block for %zu units of %zu bytes overflows size_t",
                       units, min_block);
        return 0;
    }
    return need;
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

    uint32_t fitting = b->nonempty & ~(((uint32_t)1 << order) - 1u);
    if (FLI_UNLIKELY(fitting == 0))
        return fli_fail(FL_ERR_OUT_OF_MEMORY, "%s: no free block of %zu bytes for %zu bytes (largest free %zu)",
                        a->name, b->min_block << order, size, buddy_largest_free(a));
    unsigned k = fli_ctz32(fitting);

    uint32_t unit = b->free_lists[k];
    list_unlink(b, unit, k);
    /* Split down: keep the lower half, give the upper half back to its order's list. */
    while (k > order) {
        k--;
        uint32_t upper = unit + ((uint32_t)1 << k);
        b->map[upper] = (unsigned char)(MAP_HEAD | k);
        list_push(b, upper, k);
    }
    b->map[unit] = (unsigned char)(MAP_HEAD | MAP_USED | order);
    fli_count_allocation(&a->counters, size, b->min_block << order);
    *out = block_at(b, unit);
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

/* Frees the block of `order` at `unit` (its map byte still says used): deallocate and the
 * old place of a relocated block. */
static inline void release_block(buddy *b, uint32_t unit, unsigned order)
{
    /* Coalesce up while the buddy is a free block of the same order and the merged block
     * stays inside the area (that rule keeps the top-level blocks apart, see the top). */
    while (order < b->top_order) {
        uint32_t mate = unit ^ ((uint32_t)1 << order);
        uint32_t low = unit < mate ? unit : mate;
        if ((size_t)low + ((size_t)2 << order) > b->units) break;
        if (b->map[mate] != (MAP_HEAD | order)) break;
        list_unlink(b, mate, order);
        b->map[unit < mate ? mate : unit] = 0; /* the upper half is interior now */
        unit = low;
        order++;
    }
    b->map[unit] = (unsigned char)(MAP_HEAD | order);
    list_push(b, unit, order);
    if (unit < b->free_floor) b->free_floor = unit;
}

static fl_status buddy_deallocate(fl_allocator *a, void *ptr)
{
    buddy *b = (buddy *)a;
    size_t found = 0;
    fl_status status = live_block_unit(b, ptr, &found);
    if (FLI_UNLIKELY(status != FL_OK)) return status;

    uint32_t unit = (uint32_t)found; /* < units <= UINT32_MAX */
    unsigned order = b->map[unit] & MAP_ORDER;
    fli_count_deallocation(&a->counters, b->min_block << order);
    release_block(b, unit, order);
    return FL_OK;
}

/* ---- relocation ------------------------------------------------------------------------ */

/* The lowest free block of order >= `order` below `below` (NO_UNIT when none; *found_order
 * gets its order). Scans every list, so it also sets the floor to the lowest free unit. */
static uint32_t lowest_free_block(buddy *b, size_t below, unsigned order, unsigned *found_order)
{
    uint32_t best = NO_UNIT;
    size_t lowest = b->units;
    for (unsigned k = 0; k <= b->top_order; k++) {
        for (uint32_t u = b->free_lists[k]; u != NO_UNIT; u = links_of(b, u)[0]) {
            if (u < lowest) lowest = u;
            if (k >= order && u < below && u < best) {
                best = u;
                *found_order = k;
            }
        }
    }
    b->free_floor = lowest;
    return best;
}

static fl_status buddy_relocate(fl_allocator *a, void *ptr, void **out)
{
    buddy *b = (buddy *)a;
    size_t found = 0;
    fl_status status = live_block_unit(b, ptr, &found);
    if (status != FL_OK) return status;
    if (b->external) /* allocator.c refuses these first; the bytes are not ours to touch */
        return fli_fail(FL_ERR_NOT_SUPPORTED, "%s: an external buddy never touches its managed memory", a->name);
    uint32_t unit = (uint32_t)found;
    unsigned order = b->map[unit] & MAP_ORDER, k = 0;
    uint32_t target = NO_UNIT;
    /* Nothing free below it, or no free block large enough anywhere: no scan. */
    if (found > b->free_floor && (b->nonempty >> order) != 0) target = lowest_free_block(b, found, order, &k);
    if (target == NO_UNIT) {
        *out = ptr;
        return FL_OK;
    }
    list_unlink(b, target, k);
    while (k > order) { /* split down, keeping the lower half: the lowest place */
        k--;
        uint32_t upper = target + ((uint32_t)1 << k);
        b->map[upper] = (unsigned char)(MAP_HEAD | k);
        list_push(b, upper, k);
    }
    b->map[target] = (unsigned char)(MAP_HEAD | MAP_USED | order);
    memcpy(block_at(b, target), ptr, b->min_block << order);
    release_block(b, unit, order);
    *out = block_at(b, target);
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
    size_t unit = 0;
    fl_status status = live_block_unit(b, ptr, &unit);
    if (status != FL_OK) return status;
    *out = b->min_block << (b->map[unit] & MAP_ORDER);
    return FL_OK;
}

static size_t buddy_largest_free(const fl_allocator *a)
{
    const buddy *b = (const buddy *)a;
    return b->nonempty ? b->min_block << fli_log2_floor32(b->nonempty) : 0;
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
        fn(block_at(b, unit), b->min_block << order, (state & MAP_USED) != 0, user);
        unit += (size_t)1 << order;
    }
    return FL_OK;
}

/* ---- validate ------------------------------------------------------------------------ */

/* Follows every free list by its unit indices. A link is read only once its unit is known
 * to head a free block of the list's order, so a corrupt index never makes validate read
 * outside the area (in-band) or the side array (external), nor follow a cycle forever. */
static fl_status validate_lists(const buddy *b, const size_t *free_per_order)
{
    const char *name = b->base.name;
    const char *where = b->external ? "side" : "in-band";
    for (unsigned k = 0; k < BUDDY_ORDERS; k++) {
        uint32_t head = b->free_lists[k];
        bool bit = (b->nonempty >> k) & 1u;
        FLI_VALIDATE(bit == (head != NO_UNIT), "%s: nonempty bit %u is %d but list %u is %s", name, k, (int)bit, k,
                     head != NO_UNIT ? "non-empty" : "empty");
        if (k > b->top_order) {
            FLI_VALIDATE(head == NO_UNIT, "%s: list %u above the top order %u is not empty", name, k, b->top_order);
            continue;
        }
        size_t count = 0;
        uint32_t prev = NO_UNIT;
        for (uint32_t u = head; u != NO_UNIT; prev = u, u = links_of(b, u)[0]) {
            FLI_VALIDATE(u < b->units, "%s: list %u (%s links) holds unit %u, outside the area of %zu units", name,
                         k, where, (unsigned)u, b->units);
            FLI_VALIDATE(b->map[u] == (MAP_HEAD | k),
                         "%s: list %u holds unit %u whose map byte is %u, not a free block of order %u", name, k,
                         (unsigned)u, (unsigned)b->map[u], k);
            FLI_VALIDATE(links_of(b, u)[1] == prev, "%s: list %u: unit %u has a wrong prev link (%s links)", name,
                         k, (unsigned)u, where);
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
    FLI_VALIDATE(b->units > 0 && fits_u32(b->units) && a->capacity == b->units << b->min_shift,
                 "%s: capacity %zu is not %zu units", name, a->capacity, b->units);
    FLI_VALIDATE(b->top_order == fli_log2_floor(b->units), "%s: top order %u does not match %zu units", name,
                 b->top_order, b->units);
    size_t base_align = b->external ? base_alignment(b->area) : FL_ALIGN_PAGE;
    FLI_VALIDATE(b->area_align == area_alignment(b->units, b->min_shift, base_align) &&
                     fli_is_aligned(b->area, b->area_align),
                 "%s: area %p is not aligned to %zu", name, (const void *)b->area, b->area_align);
    /* Where the links live: the area itself, or the side array right after the control block. */
    const void *links = b->external ? (const void *)((const unsigned char *)b + EXTERNAL_LINKS_OFFSET) : b->area;
    FLI_VALIDATE((const void *)b->links == links && b->link_shift == (b->external ? 1u : b->min_shift - 2u),
                 "%s: the %s links are misplaced (%p, shift %u)", name, b->external ? "side" : "in-band",
                 (const void *)b->links, b->link_shift);

    size_t free_per_order[BUDDY_ORDERS];
    memset(free_per_order, 0, sizeof free_per_order);
    size_t used_bytes = 0, used_count = 0, lowest_free = b->units;
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
            if (unit < lowest_free) lowest_free = unit;
            size_t mate = unit ^ span;
            size_t low = unit < mate ? unit : mate;
            bool mergeable = low + 2 * span <= b->units && b->map[mate] == (MAP_HEAD | order);
            FLI_VALIDATE(!mergeable, "%s: free blocks at units %zu and %zu of order %u were not coalesced", name,
                         unit, mate, order);
        }
        unit += span;
    }
    FLI_VALIDATE(unit == b->units, "%s: blocks end at unit %zu, not at %zu", name, unit, b->units);
    FLI_VALIDATE(b->free_floor <= lowest_free, "%s: the free floor %zu is above the free block at unit %zu", name,
                 b->free_floor, lowest_free);
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
    .relocate = buddy_relocate,
    .allocation_overhead = 0,
    .supports_defrag = true,
};
