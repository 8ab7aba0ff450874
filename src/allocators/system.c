/*
 * The system strategy: blocks come from the platform (platform.h), and this file keeps the
 * accounts the other strategies keep, a budget, and an exact record of which pointers are
 * its live blocks.
 *
 * Every platform call goes through the allocator's own table, base.platform (a platform
 * without a heap cannot have a system allocator: create says FL_ERR_NOT_SUPPORTED).
 *
 * Where a block comes from:
 * - small: size < large_threshold (256 KiB, or the page size if that is bigger) and
 *   alignment < page size -> heap_alloc(round_up(size, a), a), a = max(alignment,
 *   sizeof(void *)). The size is rounded to the alignment so that a C11 aligned_alloc
 *   backend may serve it too; the caller may use every byte of the rounded size.
 * - large or page-aligned: anything else -> map_pages(round_up(size, page)). Alignment
 *   up to the page size comes free; a larger one (up to FL_ALIGN_MAX) maps alignment - page
 *   extra bytes and keeps the whole mapping, remembering how far into it the block starts
 *   (the platform contract unmaps only whole mappings, so there is no trimming).
 *
 * What the statistics mean here:
 * - consumed (per block) = the bytes asked of the platform: the rounded heap size, or the
 *   whole mapping. used_bytes = the sum of consumed over live blocks; requested = size.
 *   The platform's own headers are invisible to us and not counted.
 * - capacity = the budget: cfg->size, or with 0 the machine's physical memory (capped at
 *   SIZE_MAX / 2), or SIZE_MAX / 2 when the platform cannot tell. A block that would take
 *   used_bytes over the budget is FL_ERR_OUT_OF_MEMORY, and so is a platform refusal.
 * - largest_free = the largest alignment-1 request the remaining budget admits once rounded
 *   as above (budget left, rounded down to a word, or to a page past the threshold). The
 *   platform may still refuse it: the budget is a promise of ours, not of the machine.
 * - fragmentation 0: a budget is a number, not an address range; the heap's own
 *   fragmentation cannot be seen from here.
 * - allocation_overhead 0: the bookkeeping lives outside the blocks, in the table below,
 *   and outside the budget.
 *
 * Memory layout:
 *
 *   control page (allocator.c maps it, one page)      ownership table, when it outgrows
 *   +------------------+--------------------------+    the control page (map_pages)
 *   | system_allocator | inline slots [2^k]       |    +------------------------------+
 *   | (fl_allocator    | (the table while small)  |    | slots [capacity], power of 2 |
 *   |  first)          |                          |    +------------------------------+
 *   +------------------+--------------------------+
 *   slot = { block pointer (0: empty), consumed, head (block - mapping start), mapped }
 *
 * The table is open addressing with linear probing, keyed by the block pointer (Fibonacci
 * hash of the address). It doubles with a rehash before an insert would pass 70% load and
 * halves when a free leaves it below 1/8 (until it fits the control page again), so every
 * operation is amortized O(1). Deletion shifts later entries of the probe run back, so
 * there are no tombstones and a lookup stops at the first empty slot.
 *
 * Invariants (validate checks them all):
 * - capacity is a power of two >= the inline capacity; the slots live in the control page
 *   exactly when capacity == the inline capacity, in a mapping of table_bytes otherwise;
 * - live slots == count == counters.allocation_count, and count <= grow_at (70% load);
 * - the sum of consumed over live slots == counters.used_bytes <= capacity (the budget);
 * - every live slot is found by a lookup of its pointer (no empty slot between its home and
 *   it); heap slots: head 0, consumed a multiple of sizeof(void *); mapped slots: consumed
 *   a multiple of the page size, head < consumed, the mapping start page-aligned.
 */
#include "allocator.h"


/* Smallest block that goes straight to pages: big enough that a mapping's page rounding
 * and system call are cheap next to the block, as common C libraries also choose. */
#define SYSTEM_LARGE_THRESHOLD ((size_t)256 * 1024)

/* Fewest slots the control page must hold for the allocator to be worth creating. */
#define SYSTEM_MIN_INLINE_SLOTS 8

typedef struct system_slot {
    uintptr_t block; /* the caller's pointer; 0 marks an empty slot */
    size_t consumed; /* bytes asked of the platform: the heap size or the whole mapping */
    size_t head;     /* mapped: bytes from the mapping's start to the block; heap: 0 */
    bool mapped;     /* true: unmap_pages(block - head, consumed); false: heap_free */
} system_slot;

typedef struct system_allocator {
    fl_allocator base;
    system_slot *slots;
    size_t capacity;    /* slots, a power of two */
    unsigned shift;     /* home slot = (hash >> shift): 64 - log2(capacity) */
    size_t count;       /* live slots */
    size_t grow_at;     /* an insert at this count doubles the table first (70% load) */
    size_t shrink_at;   /* a free below this count halves a mapped table (1/8 load) */
    size_t table_bytes; /* bytes of the mapped table; 0 while the slots are inline */
    size_t inline_capacity;
    size_t page_size;
    size_t large_threshold;
    system_slot inline_slots[]; /* the rest of the control page */
} system_allocator;

/* ---- the ownership table ------------------------------------------------------------------ */

/* Fibonacci hashing: the top bits of the product mix every bit of the address, so the
 * always-zero low bits of aligned pointers do not matter. 64-bit on every target. */
static size_t home_slot(const system_allocator *s, uintptr_t block)
{
    return (size_t)(((uint64_t)block * UINT64_C(0x9E3779B97F4A7C15)) >> s->shift);
}

/* The slot holding `block`, or NULL. Linear probing without tombstones: stop at empty. */
static system_slot *table_find(const system_allocator *s, uintptr_t block)
{
    size_t mask = s->capacity - 1;
    for (size_t i = home_slot(s, block);; i = (i + 1) & mask) {
        system_slot *slot = &s->slots[i];
        if (slot->block == block) return slot;
        if (slot->block == 0) return NULL;
    }
}

/* Places an entry known to be absent; the table has room (count < capacity). */
static void table_place(system_allocator *s, const system_slot *entry)
{
    size_t mask = s->capacity - 1;
    size_t i = home_slot(s, entry->block);
    while (s->slots[i].block != 0) i = (i + 1) & mask;
    s->slots[i] = *entry;
}

/* Empties `slot` and moves back each later entry of its probe run whose home does not lie
 * cyclically in (hole, position]: those would otherwise be cut off from their home. */
static void table_remove(system_allocator *s, system_slot *slot)
{
    size_t mask = s->capacity - 1;
    size_t hole = (size_t)(slot - s->slots);
    for (size_t j = (hole + 1) & mask; s->slots[j].block != 0; j = (j + 1) & mask) {
        size_t home = home_slot(s, s->slots[j].block);
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            s->slots[hole] = s->slots[j];
            hole = j;
        }
    }
    memset(&s->slots[hole], 0, sizeof s->slots[hole]);
}

/* Load thresholds and the hash shift for a capacity; only resizes divide. */
static void table_set_shape(system_allocator *s, system_slot *slots, size_t capacity, size_t table_bytes)
{
    s->slots = slots;
    s->capacity = capacity;
    s->shift = 64u - fli_log2_floor(capacity);
    s->grow_at = capacity / 10 * 7 + capacity % 10 * 7 / 10;
    s->shrink_at = table_bytes ? capacity / 8 : 0;
    s->table_bytes = table_bytes;
}

/* Rehashes into `capacity` slots: the control page's when it fits, else a new mapping.
 * False, with nothing changed, when the platform refuses the pages. */
static bool table_resize(system_allocator *s, size_t capacity)
{
    system_slot *slots = s->inline_slots;
    size_t bytes = 0;
    if (capacity > s->inline_capacity) {
        if (capacity > SIZE_MAX / sizeof(system_slot) ||
            !fli_align_up_checked(capacity * sizeof(system_slot), s->page_size, &bytes))
            return false;
        slots = (system_slot *)fli_map_pages(s->base.platform, bytes);
        if (slots == NULL) return false;
    } else {
        /* Only a mapped table shrinks to here; old entries may linger in the page. */
        memset(slots, 0, capacity * sizeof *slots);
    }
    system_slot *old = s->slots;
    size_t old_capacity = s->capacity, old_bytes = s->table_bytes;
    table_set_shape(s, slots, capacity, bytes);
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].block != 0) table_place(s, &old[i]);
    if (old_bytes) fli_unmap_pages(s->base.platform, old, old_bytes);
    return true;
}

/* ---- blocks ------------------------------------------------------------------------------- */

static void release_block(const system_allocator *s, const system_slot *slot)
{
    if (slot->mapped)
        fli_unmap_pages(s->base.platform, (void *)(slot->block - slot->head), slot->consumed);
    else
        fli_heap_free(s->base.platform, (void *)slot->block);
}

/* Gives every block back and returns the table to the empty control-page slots. */
static void release_everything(system_allocator *s)
{
    for (size_t i = 0; i < s->capacity; i++)
        if (s->slots[i].block != 0) release_block(s, &s->slots[i]);
    if (s->table_bytes) fli_unmap_pages(s->base.platform, s->slots, s->table_bytes);
    memset(s->inline_slots, 0, s->inline_capacity * sizeof(system_slot));
    table_set_shape(s, s->inline_slots, s->inline_capacity, 0);
    s->count = 0;
}

/* ---- the strategy ------------------------------------------------------------------------- */

static fl_status system_init(void *memory, size_t size, const fl_allocator_config *cfg, fl_allocator **out)
{
    size_t room = size > sizeof(system_allocator) ? size - sizeof(system_allocator) : 0;
    if (room / sizeof(system_slot) < SYSTEM_MIN_INLINE_SLOTS)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "the system allocator's control block needs %zu bytes, it was given %zu",
                        sizeof(system_allocator) + SYSTEM_MIN_INLINE_SLOTS * sizeof(system_slot), size);
    const fl_platform_hooks *platform = cfg->platform;
    if (!fli_has_heap(platform))
        return fli_fail(FL_ERR_NOT_SUPPORTED, "the platform has no heap for a system allocator to take blocks from");
    system_allocator *s = (system_allocator *)memory;
    memset(s, 0, size);
    s->base.platform = platform; /* allocator.c sets it too; the table needs it from here on */

    size_t budget = cfg->size;
    if (budget == 0) {
        /* No budget given: the machine's memory, or half the address space if unknown. */
        uint64_t physical = fli_physical_memory(platform);
        budget = physical == 0 || physical > (uint64_t)(SIZE_MAX / 2) ? SIZE_MAX / 2 : (size_t)physical;
    }
    s->base.capacity = budget;
    s->page_size = fli_page_size(platform);
    s->large_threshold = s->page_size > SYSTEM_LARGE_THRESHOLD ? s->page_size : SYSTEM_LARGE_THRESHOLD;
    s->inline_capacity = (size_t)1 << fli_log2_floor(room / sizeof(system_slot));
    table_set_shape(s, s->inline_slots, s->inline_capacity, 0);
    *out = &s->base;
    return FL_OK;
}

static fl_status system_allocate(fl_allocator *a, size_t size, size_t alignment, void **out)
{
    system_allocator *s = (system_allocator *)a;
    system_slot entry = {0, 0, 0, false};
    size_t heap_alignment = alignment < sizeof(void *) ? sizeof(void *) : alignment;

    if (FLI_LIKELY(size < s->large_threshold && alignment < s->page_size)) {
        entry.consumed = fli_align_up(size, heap_alignment); /* below the threshold: no overflow */
    } else {
        entry.mapped = true;
        size_t extra = alignment > s->page_size ? alignment - s->page_size : 0;
        if (!fli_align_up_checked(size, s->page_size, &entry.consumed) || entry.consumed > SIZE_MAX - extra)
            return fli_fail(FL_ERR_OUT_OF_MEMORY, "%s: %zu bytes aligned to %zu exceed the address space",
                            a->name, size, alignment);
        entry.consumed += extra;
    }
    size_t left = a->capacity - a->counters.used_bytes;
    if (entry.consumed > left)
        return fli_fail(FL_ERR_OUT_OF_MEMORY, "%s: %zu bytes (%zu with rounding) would take used bytes %zu past the budget %zu",
                        a->name, size, entry.consumed, a->counters.used_bytes, a->capacity);

    if (FLI_LIKELY(!entry.mapped)) {
        void *block = fli_heap_alloc(a->platform, entry.consumed, heap_alignment);
        if (block == NULL)
            return fli_fail(FL_ERR_OUT_OF_MEMORY, "%s: the platform heap refused %zu bytes aligned to %zu",
                            a->name, entry.consumed, heap_alignment);
        entry.block = (uintptr_t)block;
    } else {
        void *pages = fli_map_pages(a->platform, entry.consumed);
        if (pages == NULL)
            return fli_fail(FL_ERR_OUT_OF_MEMORY, "%s: the platform refused to map %zu bytes", a->name,
                            entry.consumed);
        entry.block = fli_align_up_addr((uintptr_t)pages, alignment);
        entry.head = (size_t)(entry.block - (uintptr_t)pages);
    }

    /* The block exists before the table grows, so a refused growth gives it back. */
    if (FLI_UNLIKELY(s->count >= s->grow_at) && !table_resize(s, s->capacity * 2)) {
        release_block(s, &entry);
        return fli_fail(FL_ERR_OUT_OF_MEMORY, "%s: the ownership table could not grow past %zu slots",
                        a->name, s->capacity);
    }
    table_place(s, &entry);
    s->count++;
    fli_count_allocation(&a->counters, size, entry.consumed);
    *out = (void *)entry.block;
    return FL_OK;
}

static fl_status system_deallocate(fl_allocator *a, void *ptr)
{
    system_allocator *s = (system_allocator *)a;
    system_slot *slot = table_find(s, (uintptr_t)ptr);
    if (slot == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: %p is not the start of a live block (foreign, interior or freed)",
                        a->name, ptr);
    system_slot entry = *slot;
    table_remove(s, slot);
    s->count--;
    release_block(s, &entry);
    fli_count_deallocation(&a->counters, entry.consumed);
    /* A refused shrink leaves a larger, still correct table: nothing to report. */
    if (FLI_UNLIKELY(s->count < s->shrink_at)) (void)table_resize(s, s->capacity / 2);
    return FL_OK;
}

static void system_reset(fl_allocator *a) { release_everything((system_allocator *)a); }

static void system_destroy(fl_allocator *a) { release_everything((system_allocator *)a); }

static bool system_owns(const fl_allocator *a, const void *ptr)
{
    return table_find((const system_allocator *)a, (uintptr_t)ptr) != NULL;
}

static fl_status system_usable_size(const fl_allocator *a, const void *ptr, size_t *out)
{
    const system_slot *slot = table_find((const system_allocator *)a, (uintptr_t)ptr);
    if (slot == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: %p is not the start of a live block", a->name, ptr);
    *out = slot->consumed - slot->head;
    return FL_OK;
}

static size_t system_largest_free(const fl_allocator *a)
{
    const system_allocator *s = (const system_allocator *)a;
    size_t left = a->capacity - a->counters.used_bytes;
    /* Below the threshold a request rounds to words, from it on to pages. */
    return left < s->large_threshold ? fli_align_down(left, sizeof(void *)) : fli_align_down(left, s->page_size);
}

static double system_fragmentation(const fl_allocator *a)
{
    (void)a;
    return 0.0;
}

static fl_status system_validate(const fl_allocator *a)
{
    const system_allocator *s = (const system_allocator *)a;
    FLI_VALIDATE(fli_is_pow2(s->capacity) && s->capacity >= s->inline_capacity,
                 "%s: table capacity %zu is not a power of two >= %zu", a->name, s->capacity, s->inline_capacity);
    FLI_VALIDATE((s->table_bytes == 0) == (s->slots == s->inline_slots) &&
                     (s->table_bytes == 0) == (s->capacity == s->inline_capacity),
                 "%s: table of %zu slots in %zu mapped bytes is misplaced", a->name, s->capacity, s->table_bytes);
    FLI_VALIDATE(s->count == a->counters.allocation_count, "%s: table holds %zu blocks, counters say %zu",
                 a->name, s->count, a->counters.allocation_count);
    FLI_VALIDATE(s->count <= s->grow_at && s->grow_at * 10 <= s->capacity * 7,
                 "%s: %zu blocks in %zu slots pass the 70%% load limit %zu", a->name, s->count, s->capacity,
                 s->grow_at);

    size_t live = 0, used = 0;
    for (size_t i = 0; i < s->capacity; i++) {
        const system_slot *slot = &s->slots[i];
        if (slot->block == 0) continue;
        live++;
        used += slot->consumed;
        FLI_VALIDATE(table_find(s, slot->block) == slot, "%s: block %p in slot %zu is not found by lookup",
                     a->name, (void *)slot->block, i);
        if (slot->mapped) {
            FLI_VALIDATE(slot->consumed % s->page_size == 0 && slot->head < slot->consumed &&
                             fli_is_aligned((const void *)(slot->block - slot->head), s->page_size),
                         "%s: mapped block %p (%zu bytes, %zu in) is not whole pages", a->name,
                         (void *)slot->block, slot->consumed, slot->head);
        } else {
            FLI_VALIDATE(slot->head == 0 && slot->consumed != 0 && slot->consumed % sizeof(void *) == 0 &&
                             fli_is_aligned((const void *)slot->block, sizeof(void *)),
                         "%s: heap block %p of %zu bytes is malformed", a->name, (void *)slot->block,
                         slot->consumed);
        }
    }
    FLI_VALIDATE(live == s->count, "%s: %zu live slots, table count %zu", a->name, live, s->count);
    FLI_VALIDATE(used == a->counters.used_bytes, "%s: blocks consume %zu bytes, counters say %zu", a->name,
                 used, a->counters.used_bytes);
    return FL_OK;
}

/* Blocks in table order, each as the platform memory it holds: the mapping's start for a
 * mapped block (its head is like a header), so the sizes sum to used_bytes. */
static fl_status system_walk(const fl_allocator *a, fl_walk_fn fn, void *user)
{
    const system_allocator *s = (const system_allocator *)a;
    for (size_t i = 0; i < s->capacity; i++) {
        const system_slot *slot = &s->slots[i];
        if (slot->block != 0) fn((const void *)(slot->block - slot->head), slot->consumed, true, user);
    }
    return FL_OK;
}

const fli_allocator_ops fli_system_ops = {
    .init = system_init,
    .allocate = system_allocate,
    .deallocate = system_deallocate,
    .reset = system_reset,
    .owns = system_owns,
    .usable_size = system_usable_size,
    .largest_free = system_largest_free,
    .fragmentation = system_fragmentation,
    .validate = system_validate,
    .walk = system_walk,
    .mark = NULL,
    .rewind = NULL,
    .destroy = system_destroy,
    .allocation_overhead = 0,
    .supports_defrag = false,
};
