/*
 * The free-list allocator: the library's general-purpose heap inside one caller buffer.
 *
 * Strategy: a two-level segregated fit (the TLSF family). Free blocks sit in one of
 * SL_COUNT lists per power of two of size ("first level"), each list covering an equal
 * slice of that power of two ("second level"); two bitmaps say which lists are non-empty,
 * so finding a fitting list is two bit scans. Freed blocks merge with free neighbours at
 * once (boundary tags), so no two free blocks are ever adjacent.
 *
 * Complexity: allocate, deallocate, usable_size, owns, largest_free: O(1), no loop over
 * blocks. validate and walk: O(blocks + area / (G * 8 * sizeof(size_t))). reset:
 * O(area / G / 8) to clear the live-block bitmap. relocate: O(blocks between the free
 * floor and the block), see "Relocation" below.
 *
 * Words: W = sizeof(size_t); granule G = max(2 * W, FL_ALIGN_DEFAULT) (16 on x86-64 and
 * i686, 8 on 32-bit ARM/MIPS). Every block size is a multiple of G and every payload is
 * G-aligned, so requests with alignment <= G need no padding.
 *
 * A block, `h` = its header address (h + W is G-aligned):
 *
 *   allocated:  h: [ size | PREV_FREE? | ALIGNED? ] [ payload ........................... ]
 *   free:       h: [ size | FREE       ] [ next free ][ prev free ][ ...... ][ size (footer) ]
 *                  <------------------------------- size --------------------------------->
 *
 *   - size (bits above 2) counts the header: the next block's header is at h + size.
 *   - FREE (bit 0): this block is free. PREV_FREE (bit 1): the block just before is free,
 *     so its size is in the word just before h (its footer) and h - that size is its start.
 *     ALIGNED (bit 2, allocated blocks only): the request asked for an alignment above G,
 *     so a move must keep the payload's alignment (see Relocation). G >= 8 keeps the
 *     three low bits of every size zero for the flags.
 *   - An allocated block carries one word of overhead; the footer and the links live in
 *     the payload of free blocks only. Minimum block MIN_BLOCK = header + 2 links + footer
 *     rounded up to G (32 bytes on 64-bit, 16 on 32-bit).
 *
 * The caller's buffer (start aligned to FL_ALIGN_DEFAULT):
 *
 *   [ control block: struct freelist, list heads (first levels * SL_COUNT) ]
 *   [ live-block bitmap: 1 bit per granule of the area, in size_t words      ]
 *   [ pad so first + W is G-aligned ]
 *   first: [ block ][ block ] ... [ block ]  sentinel: [ 0 | PREV_FREE? ]  [ < G spare ]
 *          <------------ base.capacity ------------>
 *
 *   base.capacity = the bytes blocks can occupy (the first free block at init, its header
 *   included), so used_bytes (allocated block sizes, headers included) + free bytes (free
 *   block sizes) == capacity at every moment. The control block, the bitmap and the
 *   sentinel word are not part of it. The sentinel is a permanently allocated header of
 *   size 0: the last block's "next" always exists and is never free, so coalescing never
 *   runs off the end; the first block never has PREV_FREE, so it never runs off the start.
 *
 * Exact invalid-free detection: the live-block bitmap has one bit per granule of the area
 * (1 bit per G bytes: 1/128 of the area when G = 16, 1/64 when G = 8). The bit of a live
 * block's payload granule is set on allocate and cleared on free, so deallocate and
 * usable_size accept exactly the payload pointers of live blocks, in O(1), in every
 * build: foreign, interior and already freed pointers are refused before anything changes.
 *
 * Size classes (class_index): sizes below SMALL = SL_COUNT * G map linearly, one list per
 * granule (first level 0), so every small list holds a single size. From SMALL up, a size
 * s with l = floor(log2 s) goes to first level l - log2(SMALL) + 1 and second level given
 * by the SL_LOG2 bits below its top bit: each list spans 2^(l - SL_LOG2) bytes. The two
 * ranges meet without a gap because SMALL's lists also step by G. On 64-bit: G = 16,
 * MIN_BLOCK = 32, SMALL = 512; a 16 MiB heap uses 16 first levels (512 lists).
 * The number of first levels is chosen at init for the largest capacity: each costs
 * SL_COUNT heads, one too few caps the capacity at what the lists can index.
 *
 * allocate: the request's block size is rounded up to the next class boundary
 * (search_index, less than 1/32 of the size) so that every block of the list found by the
 * two bit scans fits, and the list's head is taken. When no such list exists it also
 * tries the head of the request's own class, which lets a request as large as the largest
 * free block succeed. The allocation is cut from the END of the chosen block: the free
 * remainder keeps its address, header and list position, and when its class is unchanged
 * (carving small blocks off a large one) no list is touched at all. Alignments above G
 * search for size + alignment - G + MIN_BLOCK and cut from the front: the leading gap
 * (0 or >= MIN_BLOCK bytes) and the tail go back as free blocks.
 *
 * deallocate: check the live bit, merge with the free neighbours (boundary tags). A merged
 * block that stays in its class keeps the list position of the neighbour it grew from
 * (merging into the previous block: nothing moves; into the next: it takes the next's
 * place); otherwise it is moved to its new list.
 *
 * Within a list a block is pushed at the head unless the head is larger, in which case
 * it goes second: equal sizes stay LIFO (cache-warm), and the head of the top list
 * tends to be its largest block, which is what largest_free reports.
 *
 * largest_free = (head of the highest non-empty list) - W: exactly the largest
 * alignment-1 request that succeeds (see freelist_largest_free). fragmentation =
 * 1 - (largest_free + W) / free bytes: the share of free bytes outside the block that
 * request would use, 0 for a single free block.
 *
 * Relocation (defragmentation, fl_allocator_relocate): a live block B of S bytes moves to
 * the lowest-addressed free block H below it that can take it, found by a physical walk.
 * The payload must stay aligned to G, or, when B is ALIGNED, to its current alignment
 * capped at FL_ALIGN_MAX (the requested alignment is not stored, only that it exceeded G;
 * the payload has at least that alignment, so keeping it never weakens the request). A
 * leading gap goes back as a free block (0 or >= MIN_BLOCK, as in allocate_aligned).
 *   - H just before B (B has PREV_FREE): B slides down into H + B, the copy overlaps
 *     (memmove); the top |H| bytes (minus any gap) are freed and merge with B's free
 *     successor:   [ H free ][ B ][ next ]  ->  [ B' ][ free ........ ]
 *   - H further down: B is carved from H like an allocation (block_take), copied
 *     (memcpy, no overlap), and freed as by deallocate (block_release).
 * The new block is S bytes, or up to MIN_BLOCK - G more when H's rest is too small to
 * stand alone: usable size never shrinks, and used_bytes changes by that difference.
 * The walk does not start at the first block but at `free_floor`, a block start below
 * which no free block exists: deallocate lowers it to the freed block (one compare),
 * allocations only consume free space (it stays a lower bound, and block starts it may
 * point to survive every carve), and relocate raises it to the first free block its walk
 * meets. So a pass relocating every block in address order walks O(1) blocks per call:
 * blocks below the floor answer at once, and above it the floor is the free block right
 * before the next block, into which it slides. The pass leaves the used blocks packed
 * from `first` and one free block at the end (when no block is ALIGNED).
 *
 * Invariants (validate checks all of them):
 *   - blocks tile [first, sentinel) exactly: each size a multiple of G, >= MIN_BLOCK; the
 *     sentinel header is 0 with FREE clear;
 *   - each block's PREV_FREE equals the FREE bit of the block before it (0 for the first);
 *     no two adjacent blocks are free; a free block's footer equals its size;
 *   - every free block is in exactly the list its size maps to, and every list entry is a
 *     free block of the area with consistent prev/next links (a head's prev link is not
 *     kept: heads[] tells the head, so taking one never writes to its successor); the
 *     counts agree;
 *   - first-level bit f set <=> sl_bitmap[f] != 0; second-level bit set <=> list non-empty;
 *   - the live-block bitmap has exactly the payload granules of allocated blocks set;
 *   - allocated block sizes sum to counters.used_bytes, their number to allocation_count;
 *   - ALIGNED is set on allocated blocks only (never on free blocks or the sentinel);
 *   - free_floor is the start of a block or the sentinel, and no free block lies below it.
 * validate proves list membership in linear time by briefly marking list entries in the
 * live-block bitmap (then clearing them), so it writes to the control block while it runs.
 *
 * Hardening (compile-time, CMake -DFLMEM_HARDEN_FREELIST=ON; off by default): the two
 * links of a free block are stored XOR a per-heap secret (heap_secret), so a stray write
 * after free leaves a link that decodes to garbage, and every block is checked before it
 * leaves a list ("safe unlinking", links_intact): it is free, and its neighbours in the
 * list are free blocks of the area that point back at it (a head has no predecessor to
 * check). allocate checks the block it takes; deallocate and relocate check the free
 * neighbours they merge with (footer, header and links) before anything changes, and
 * refuse with FL_ERR_INVALID_STATE; list_insert never writes through a head's broken link;
 * validate reports the break. Cost: README, "Hardening" (callgrind on W3).
 *
 * Memory checkers (core/poison.h; ASan builds, and runs under Valgrind memcheck): every
 * byte of the area is poisoned except the requested bytes of live allocations: free blocks
 * whole (links and footer included), and each allocated block's header and tail slack. So
 * a read past a request, a write into a header, or any use after free is reported, the
 * free list's own links included. The allocator reads and writes headers, footers and
 * links only through accessors (header_of, set_header, footer_before, block_set_footer,
 * next_of, prev_of, set_next, set_prev) that ASan does not check (FLI_NO_ASAN); under
 * memcheck each operation silences the tool while it runs (fli_quiet_begin). allocate
 * opens the request, deallocate poisons the freed block whole (a merge only joins poisoned
 * neighbours, so nothing else changes), relocate opens the moved block in full (the
 * request is not kept) and poisons its old place, reset poisons the area. Natively this
 * costs one test per allocate and per deallocate in builds with memcheck support
 * (FLMEM_VALGRIND, ~3 instructions per pair on W3) and nothing otherwise.
 *
 * Statistics: consumed = block size (header and tail slack included, alignment gaps are
 * returned as free blocks), requested = size asked, allocation_overhead = W. A relocation
 * changes used_bytes by the new block size minus the old (0, or up to MIN_BLOCK - G more).
 */
#include "allocator.h"

#include <stddef.h>

/* ---- geometry ----------------------------------------------------------------------- */

#define WORD sizeof(size_t)
#define GRANULE (2 * WORD > FL_ALIGN_DEFAULT ? 2 * WORD : FL_ALIGN_DEFAULT)
#define GRANULE_LOG2 (GRANULE == 8 ? 3u : GRANULE == 16 ? 4u : GRANULE == 32 ? 5u : 6u)

/* Header + next + prev + footer, rounded to G: the smallest block that can be free. */
#define MIN_BLOCK ((2 * WORD + 2 * sizeof(void *) + GRANULE - 1) & ~(GRANULE - 1))

/* 32 lists per first level, on 32-bit targets too: one 32-bit second-level bitmap each,
 * and a search rounds a request up by less than 1/32 (3 %) of its size. 16 lists would
 * halve the heads (a 32-bit control block is small either way) but double that slack. */
#define SL_LOG2 5u
#define SL_COUNT (1u << SL_LOG2)
/* Below SMALL sizes map one list per granule; from SMALL on, the lists of a power of two
 * step by 2^(l - SL_LOG2) >= G, so SMALL = SL_COUNT * G is where the two meet. */
#define SMALL_LOG2 (SL_LOG2 + GRANULE_LOG2)
#define SMALL ((size_t)1 << SMALL_LOG2)

/* Bits of a size_t word of the live-block bitmap. */
#define WORD_BITS_LOG2 (FLI_SIZE_BITS == 64 ? 6u : 5u)

#define FLAG_FREE ((size_t)1)
#define FLAG_PREV_FREE ((size_t)2)
#define FLAG_ALIGNED ((size_t)4)
#define SIZE_MASK (~(size_t)(GRANULE - 1))

_Static_assert(((size_t)1 << GRANULE_LOG2) == GRANULE, "granule must be a power of two in [8, 64]");
_Static_assert(GRANULE >= 8, "three low header bits must be free for flags");
_Static_assert((1u << WORD_BITS_LOG2) == FLI_SIZE_BITS, "size_t must have 32 or 64 bits");
_Static_assert(MIN_BLOCK < SMALL, "the smallest block must be in the linear range");

typedef struct fl_block fl_block;
struct fl_block {
    size_t header_word;  /* size | FLAG_FREE | FLAG_PREV_FREE | FLAG_ALIGNED: header_of() */
    uintptr_t next_link; /* these two exist only while the block is free: the list's next and */
    uintptr_t prev_link; /* previous block, XOR the heap's secret when hardened (link_key) */
};
_Static_assert(offsetof(fl_block, next_link) == sizeof(size_t), "links must start at the payload");

/* Hardened free lists (CMake -DFLMEM_HARDEN_FREELIST=ON, see "Hardening" at the top). */
#ifdef FLMEM_HARDEN_FREELIST
#define HARDENED 1
#else
#define HARDENED 0
#endif

typedef struct freelist {
    struct fl_allocator base;
    size_t fl_bitmap;        /* bit f: sl_bitmap[f] != 0 */
    size_t max_request;      /* capacity - W: no larger request can fit */
    uintptr_t first;         /* header address of the first block */
    uintptr_t first_payload; /* first + W: granule 0 of the live-block bitmap */
    fl_block *sentinel;      /* at first + capacity */
#if HARDENED
    uintptr_t secret;        /* XORed into every stored free-list link */
#endif
    uintptr_t free_floor;    /* a block start (or the sentinel) with no free block below */
    size_t *live;            /* the live-block bitmap, right after the heads */
    size_t live_words;
    size_t list_count;       /* first levels * SL_COUNT */
    /* One entry per possible first level, even those beyond list_count, so that a
     * rounded-up search index can be looked up without a bounds check: it reads 0. */
    uint32_t sl_bitmap[FLI_SIZE_BITS];
    fl_block *heads[]; /* list_count heads, index = first level * SL_COUNT + second level */
} freelist;

/* ---- small helpers ------------------------------------------------------------------ */

static inline fl_block *block_at(uintptr_t address) { return (fl_block *)address; }
static inline fl_block *block_after(const fl_block *b, size_t size) { return block_at((uintptr_t)b + size); }
static inline void *block_payload(const fl_block *b) { return (void *)((uintptr_t)b + WORD); }
static inline fl_block *block_of_payload(const void *p) { return block_at((uintptr_t)p - WORD); }

/* The words of the blocks themselves (headers, footers, links) are read and written only
 * through these accessors. With a memory checker watching, the whole area except the
 * requested bytes of live allocations is poisoned ("Memory checkers" at the top): ASan
 * does not check these functions (FLI_NO_ASAN), and memcheck is silenced around each
 * operation (fli_quiet_begin). Natively they are plain loads and stores. */
static inline FLI_NO_ASAN size_t header_of(const fl_block *b) { return b->header_word; }
static inline FLI_NO_ASAN void set_header(fl_block *b, size_t header) { b->header_word = header; }
static inline size_t block_size(const fl_block *b) { return header_of(b) & SIZE_MASK; }
/* The word just before a block: the previous block's footer when that block is free. */
static inline FLI_NO_ASAN size_t footer_before(const fl_block *b) { return *(const size_t *)((uintptr_t)b - WORD); }
static inline FLI_NO_ASAN void block_set_footer(fl_block *b, size_t size)
{
    *(size_t *)((uintptr_t)b + size - WORD) = size;
}
static inline void clear_prev_free(fl_block *b) { set_header(b, header_of(b) & ~FLAG_PREV_FREE); }

/* Index of the lowest set bit of a non-zero size_t. */
static inline unsigned lowest_bit(size_t x) { return fli_log2_floor(x & (0 - x)); }

/* The list a free block of `size` (>= MIN_BLOCK) belongs to. max(l, SMALL_LOG2) through
 * the OR folds the linear range into the same formula: below SMALL it gives size / G. */
static inline size_t class_index(size_t size)
{
    unsigned l = fli_log2_floor(size | SMALL);
    return ((size_t)(l - SMALL_LOG2) << SL_LOG2) + (size >> (l - SL_LOG2));
}

/* The first list whose every block holds `size`: size rounded up to its class boundary.
 * Below SMALL classes are exact (size is a multiple of G), so nothing moves there. One bit
 * scan: when the rounding carries into the next power of two the second-level part
 * becomes 2 * SL_COUNT, which is exactly that power's first class. */
static inline size_t search_index(size_t size)
{
    unsigned l = fli_log2_floor(size | SMALL);
    size_t rounded = size + ((size_t)1 << (l - SL_LOG2)) - 1;
    return ((size_t)(l - SMALL_LOG2) << SL_LOG2) + (rounded >> (l - SL_LOG2));
}

/* Whether sizes a <= b share a class: the bits from b's top bit down to its class step
 * agree (below SMALL: the granule counts agree). One bit scan instead of two indexes. */
static inline bool same_class(size_t a, size_t b)
{
    unsigned l = fli_log2_floor(b | SMALL);
    return ((a ^ b) >> (l - SL_LOG2)) == 0;
}

/* Block size serving `size` payload bytes; the caller has checked size <= max_request. */
static inline size_t block_size_for(size_t size)
{
    size_t need = (size + WORD + GRANULE - 1) & SIZE_MASK;
    return need < MIN_BLOCK ? MIN_BLOCK : need;
}

/* ---- free lists --------------------------------------------------------------------- */

/* ---- free-list links ----------------------------------------------------------------- */

#if HARDENED
#define LINK_KEY(f) ((f)->secret)
#else
#define LINK_KEY(f) ((void)(f), (uintptr_t)0) /* folded away: links are plain pointers */
#endif

static inline FLI_NO_ASAN fl_block *next_of(const freelist *f, const fl_block *b)
{
    return (fl_block *)(b->next_link ^ LINK_KEY(f));
}
static inline FLI_NO_ASAN fl_block *prev_of(const freelist *f, const fl_block *b)
{
    return (fl_block *)(b->prev_link ^ LINK_KEY(f));
}
static inline FLI_NO_ASAN void set_next(const freelist *f, fl_block *b, const fl_block *next)
{
    b->next_link = (uintptr_t)next ^ LINK_KEY(f);
}
static inline FLI_NO_ASAN void set_prev(const freelist *f, fl_block *b, const fl_block *prev)
{
    b->prev_link = (uintptr_t)prev ^ LINK_KEY(f);
}

/* A decoded link is NULL or a free block of the area (hardened builds check before use). */
static inline bool link_target_ok(const freelist *f, const fl_block *p)
{
    if (p == NULL) return true;
    uintptr_t offset = (uintptr_t)p - f->first;
    return offset < f->base.capacity && (offset & (GRANULE - 1)) == 0 && (header_of(p) & FLAG_FREE) != 0;
}

/* Safe unlinking: b (about to leave list `index`) is free, its successor is a free block of
 * the area that points back at it, and unless b is the list's head (whose prev link is not
 * kept, see list_pop_head) so is its predecessor. A link overwritten in a freed block (a
 * write after free, or an attack) fails this before the unlink could write through it. */
static inline bool links_intact(const freelist *f, const fl_block *b, size_t index)
{
    if (!(header_of(b) & FLAG_FREE)) return false;
    const fl_block *next = next_of(f, b);
    if (!link_target_ok(f, next) || (next != NULL && prev_of(f, next) != b)) return false;
    if (f->heads[index] == b) return true;
    const fl_block *prev = prev_of(f, b);
    return prev != NULL && link_target_ok(f, prev) && next_of(f, prev) == b;
}

static FLI_COLD fl_status links_corrupted(const freelist *f, const fl_block *b)
{
    return fli_fail(FL_ERR_INVALID_STATE,
                    "%s: the free-list links of free block %p are corrupted (written after it was freed?); "
                    "refused, nothing changed",
                    f->base.name, (const void *)b);
}

static inline void list_mark_empty(freelist *f, size_t index)
{
    size_t fl = index >> SL_LOG2;
    uint32_t sl_map = f->sl_bitmap[fl] & ~(1u << (index & (SL_COUNT - 1)));
    f->sl_bitmap[fl] = sl_map;
    /* Without a branch: whether a level empties is data-dependent and mispredicts often. */
    f->fl_bitmap &= ~((size_t)(sl_map == 0) << fl);
}

static inline void list_insert(freelist *f, fl_block *b, size_t size, size_t index)
{
    fl_block *head = f->heads[index];
    if (head == NULL) {
        set_next(f, b, NULL);
        set_prev(f, b, NULL);
        f->heads[index] = b;
        f->sl_bitmap[index >> SL_LOG2] |= 1u << (index & (SL_COUNT - 1));
        f->fl_bitmap |= (size_t)1 << (index >> SL_LOG2);
    } else if (block_size(head) > size &&
               (!HARDENED || (link_target_ok(f, next_of(f, head)) &&
                              (next_of(f, head) == NULL || prev_of(f, next_of(f, head)) == head)))) {
        /* Keep the larger head: it is what largest_free and the own-class retry look at.
         * Hardened, a head whose next link is broken is not written through: b goes first,
         * and the break is refused when that block is unlinked (or found by validate). */
        fl_block *next = next_of(f, head);
        set_next(f, b, next);
        set_prev(f, b, head);
        if (next) set_prev(f, next, b);
        set_next(f, head, b);
    } else {
        set_next(f, b, head);
        set_prev(f, b, NULL);
        set_prev(f, head, b);
        f->heads[index] = b;
    }
}

/* Puts `to` where `from` is in list `index`: a free block that grew downwards (merged with
 * the block before it) but kept its class costs no bitmap work and no re-insert. */
static inline void list_replace(freelist *f, const fl_block *from, fl_block *to, size_t index)
{
    fl_block *next = next_of(f, from);
    set_next(f, to, next);
    if (next) set_prev(f, next, to);
    if (f->heads[index] == from) {
        f->heads[index] = to;
        return;
    }
    fl_block *prev = prev_of(f, from);
    set_prev(f, to, prev);
    set_next(f, prev, to);
}

/* A list's head is told by heads[], not by its prev link (see list_pop_head). */
static inline void list_remove(freelist *f, fl_block *b, size_t index)
{
    fl_block *next = next_of(f, b);
    if (f->heads[index] == b) {
        f->heads[index] = next;
        if (next == NULL) list_mark_empty(f, index);
        return;
    }
    fl_block *prev = prev_of(f, b);
    set_next(f, prev, next);
    if (next) set_prev(f, next, prev);
}

/* Unlinks b, the head of list `index`. The new head's prev link is left as it was (stale):
 * nothing reads a head's prev link, and not writing it spares a cache line (the next
 * block's) that the allocation has no other use for. */
static inline void list_pop_head(freelist *f, const fl_block *b, size_t index)
{
    fl_block *next = next_of(f, b);
    f->heads[index] = next;
    if (next == NULL) list_mark_empty(f, index);
}

/* The rounded class is above every non-empty list: the head of need's own class may still
 * be large enough (always so for a request of exactly the largest free block). */
static fl_block *find_in_own_class(const freelist *f, size_t need, size_t *index)
{
    size_t own = class_index(need);
    if ((f->sl_bitmap[own >> SL_LOG2] >> (own & (SL_COUNT - 1))) & 1u) {
        fl_block *head = f->heads[own];
        if (block_size(head) >= need) {
            *index = own;
            return head;
        }
    }
    return NULL;
}

/* A free block of at least `need` bytes, the head of list *index, or NULL. O(1): two bit
 * scans for a list whose every block fits, else the head of need's own class. */
static inline fl_block *find_free(const freelist *f, size_t need, size_t *index)
{
    size_t wanted = search_index(need);
    size_t fl = wanted >> SL_LOG2;
    uint32_t sl_map = f->sl_bitmap[fl] & (~0u << (wanted & (SL_COUNT - 1)));
    if (sl_map == 0) {
        size_t fl_map = f->fl_bitmap & (~(size_t)1 << fl);
        if (FLI_UNLIKELY(fl_map == 0)) return find_in_own_class(f, need, index);
        fl = lowest_bit(fl_map);
        sl_map = f->sl_bitmap[fl];
    }
    *index = (fl << SL_LOG2) + fli_ctz32(sl_map);
    return f->heads[*index];
}

/* ---- live-block bitmap -------------------------------------------------------------- */

static inline size_t live_bit_index(const freelist *f, const fl_block *b)
{
    return ((uintptr_t)b + WORD - f->first_payload) >> GRANULE_LOG2;
}

static inline void live_set(freelist *f, const fl_block *b)
{
    size_t i = live_bit_index(f, b);
    f->live[i >> WORD_BITS_LOG2] |= (size_t)1 << (i & (FLI_SIZE_BITS - 1));
}

static inline bool live_test(const freelist *f, size_t i)
{
    return (f->live[i >> WORD_BITS_LOG2] >> (i & (FLI_SIZE_BITS - 1))) & 1u;
}

/* Why `ptr` is not a live payload: sets the last error and returns its status. */
static fl_status refuse_pointer(const freelist *f, const void *ptr, const char *what)
{
    uintptr_t offset = (uintptr_t)ptr - f->first_payload;
    if (offset >= f->base.capacity)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: pointer %p is not inside the %zu-byte area of %s at %p",
                        what, ptr, f->base.capacity, f->base.name, (void *)f->first);
    if ((offset & (GRANULE - 1)) != 0)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: pointer %p points inside a block of %s (not %zu-aligned)",
                        what, ptr, f->base.name, (size_t)GRANULE);
    return fli_fail(FL_ERR_INVALID_PARAMETERS,
                    "%s: pointer %p is not a live allocation of %s (interior pointer or already freed)", what, ptr,
                    f->base.name);
}

/* The live-bitmap position of payload `ptr`; false when ptr is not a live payload. Three
 * predictable tests: inside the area, on a granule, bit set. */
static inline bool live_lookup(const freelist *f, const void *ptr, size_t **word, size_t *bit)
{
    uintptr_t offset = (uintptr_t)ptr - f->first_payload;
    if (FLI_UNLIKELY(offset >= f->base.capacity || (offset & (GRANULE - 1)) != 0)) return false;
    size_t i = offset >> GRANULE_LOG2;
    *word = &f->live[i >> WORD_BITS_LOG2];
    *bit = (size_t)1 << (i & (FLI_SIZE_BITS - 1));
    return (**word & *bit) != 0;
}

/* ---- taking and giving back blocks -------------------------------------------------- */

/* Turns free block b (already off its list, `size` bytes) into an allocation of `need`
 * bytes: the tail goes back as a free block when it can stand alone. Returns the size. */
static inline size_t block_take(freelist *f, fl_block *b, size_t size, size_t need, size_t prev_flag)
{
    size_t rest = size - need;
    if (rest >= MIN_BLOCK) {
        /* The block after the tail keeps PREV_FREE: it followed a free block already. */
        fl_block *tail = block_after(b, need);
        set_header(tail, rest | FLAG_FREE);
        block_set_footer(tail, rest);
        list_insert(f, tail, rest, class_index(rest));
        size = need;
    } else {
        clear_prev_free(block_after(b, size));
    }
    set_header(b, size | prev_flag);
    live_set(f, b);
    return size;
}

/* The fast path's carve: b (`size` bytes) is the head of list `index`. The allocation is
 * cut from b's END, so the free remainder keeps its address, header and list links: when
 * its class does not change (the common case when small blocks come off a large one) no
 * list is touched, and freeing the allocation later merges it back into the remainder in
 * place. Returns the allocated block; *consumed gets its size. */
static inline fl_block *block_take_head(freelist *f, fl_block *b, size_t size, size_t need, size_t index,
                                        size_t *consumed)
{
    size_t rest = size - need;
    if (rest >= MIN_BLOCK) {
        fl_block *taken = block_after(b, rest);
        if (!same_class(rest, size)) {
            list_pop_head(f, b, index);
            list_insert(f, b, rest, class_index(rest));
        }
        set_header(b, rest | FLAG_FREE); /* b was free, so its predecessor is not */
        block_set_footer(b, rest);
        set_header(taken, need | FLAG_PREV_FREE);
        clear_prev_free(block_after(taken, need));
        live_set(f, taken);
        *consumed = need;
        return taken;
    }
    list_pop_head(f, b, index);
    clear_prev_free(block_after(b, size));
    set_header(b, size);
    live_set(f, b);
    *consumed = size;
    return b;
}

/* Frees the live block b (its live bit already cleared), merging with free neighbours.
 * A merged block whose class did not change keeps (or takes over) its list position. */
static inline void block_release(freelist *f, fl_block *b, size_t size)
{
    size_t header = header_of(b);
    fl_block *next = block_after(b, size);
    size_t next_header = header_of(next);
    if (header & FLAG_PREV_FREE) {
        size_t prev_size = footer_before(b);
        fl_block *prev = block_at((uintptr_t)b - prev_size);
        size += prev_size;
        if (next_header & FLAG_FREE) {
            size_t next_size = next_header & SIZE_MASK;
            list_remove(f, next, class_index(next_size));
            size += next_size;
        } else {
            set_header(next, next_header | FLAG_PREV_FREE);
        }
        if (!same_class(prev_size, size)) {
            list_remove(f, prev, class_index(prev_size));
            list_insert(f, prev, size, class_index(size));
        }
        set_header(prev, size | FLAG_FREE); /* the block before a free block is never free */
        block_set_footer(prev, size);
        return;
    }
    if (next_header & FLAG_FREE) {
        size_t next_size = next_header & SIZE_MASK, next_index = class_index(next_size);
        size += next_size;
        if (same_class(next_size, size)) {
            list_replace(f, next, b, next_index); /* before the footer write below */
        } else {
            list_remove(f, next, next_index);
            list_insert(f, b, size, class_index(size));
        }
        set_header(b, size | FLAG_FREE);
        block_set_footer(b, size);
        return;
    }
    set_header(next, next_header | FLAG_PREV_FREE);
    set_header(b, size | FLAG_FREE);
    block_set_footer(b, size);
    list_insert(f, b, size, class_index(size));
}

/* ---- operations --------------------------------------------------------------------- */

/* A request too large to fit: overflowing ones are invalid, the others out of memory. */
static fl_status refuse_large(const freelist *f, size_t size, size_t alignment)
{
    size_t pad = WORD + (alignment > GRANULE ? alignment : GRANULE) + MIN_BLOCK;
    if (size > SIZE_MAX - pad)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "size %zu with alignment %zu overflows size_t once header and padding are added", size,
                        alignment);
    return fli_fail(FL_ERR_OUT_OF_MEMORY, "%s: %zu bytes (alignment %zu) cannot fit in its %zu-byte area",
                    f->base.name, size, alignment, f->base.capacity);
}

static fl_status out_of_memory(const freelist *f, size_t size, size_t alignment, size_t need)
{
    return fli_fail(FL_ERR_OUT_OF_MEMORY,
                    "%s: no free block of %zu bytes for %zu bytes aligned to %zu (%zu of %zu bytes in use)",
                    f->base.name, need, size, alignment, f->base.counters.used_bytes, f->base.capacity);
}

/* Alignment above G: take a block with room for the worst leading gap, give the gap back
 * as a free block (0 or >= MIN_BLOCK bytes) and trim the tail like any allocation. */
static fl_status allocate_aligned(freelist *f, size_t size, size_t alignment, void **out)
{
    size_t need = block_size_for(size);
    /* The payload's gap to the next aligned address is a multiple of G below alignment;
     * a gap under MIN_BLOCK is widened by one alignment, so the worst is
     * alignment - G + MIN_BLOCK (alignment >= 2G >= MIN_BLOCK keeps the widened gap valid). */
    size_t search = need + alignment - GRANULE + MIN_BLOCK;
    size_t index;
    fl_block *b = find_free(f, search, &index);
    if (b == NULL) return out_of_memory(f, size, alignment, search);
    if (HARDENED && FLI_UNLIKELY(!links_intact(f, b, index))) return links_corrupted(f, b);
    list_remove(f, b, index);
    size_t block = block_size(b);

    uintptr_t payload = (uintptr_t)block_payload(b);
    size_t gap = (size_t)(fli_align_up_addr(payload, alignment) - payload);
    if (gap != 0 && gap < MIN_BLOCK) gap += alignment;
    size_t prev_flag = 0;
    if (gap != 0) {
        /* b's predecessor is allocated (b was free), so the gap block has no PREV_FREE. */
        set_header(b, gap | FLAG_FREE);
        block_set_footer(b, gap);
        list_insert(f, b, gap, class_index(gap));
        b = block_after(b, gap);
        block -= gap;
        prev_flag = FLAG_PREV_FREE;
    }
    size_t consumed = block_take(f, b, block, need, prev_flag);
    set_header(b, header_of(b) | FLAG_ALIGNED); /* a move must keep this payload's alignment */
    fli_count_allocation(&f->base.counters, size, consumed);
    *out = block_payload(b);
    return FL_OK;
}

static inline FLI_ALWAYS_INLINE fl_status allocate_block(freelist *f, size_t size, size_t alignment, void **out)
{
    if (FLI_UNLIKELY(size > f->max_request)) return refuse_large(f, size, alignment);
    if (FLI_UNLIKELY(alignment > GRANULE)) return allocate_aligned(f, size, alignment, out);

    size_t need = block_size_for(size);
    size_t index;
    fl_block *b = find_free(f, need, &index);
    if (FLI_UNLIKELY(b == NULL)) return out_of_memory(f, size, alignment, need);
    if (HARDENED && FLI_UNLIKELY(!links_intact(f, b, index))) return links_corrupted(f, b);
    size_t consumed;
    b = block_take_head(f, b, block_size(b), need, index, &consumed);
    fli_count_allocation(&f->base.counters, size, consumed);
    *out = block_payload(b);
    return FL_OK;
}

/* A memory checker watches: the new allocation is opened for exactly the requested bytes.
 * Its header and tail slack stay poisoned, as every free byte already is. */
static FLI_NOINLINE fl_status allocate_watched(freelist *f, size_t size, size_t alignment, void **out)
{
    int quiet = fli_quiet_begin();
    fl_status status = allocate_block(f, size, alignment, out);
    fli_quiet_end(quiet);
    if (status == FL_OK) FLI_UNPOISON(*out, size);
    return status;
}

static fl_status freelist_allocate(fl_allocator *a, size_t size, size_t alignment, void **out)
{
    freelist *f = (freelist *)a;
    if (FLI_UNLIKELY(FLI_POISONING_ON)) return allocate_watched(f, size, alignment, out); /* asked once per call */
    return allocate_block(f, size, alignment, out);
}

/* Hardened: the free neighbours live block b merges with are intact (their footer, header
 * and links), checked before anything changes. NULL when they are; else the broken one. */
static inline const fl_block *broken_neighbour(const freelist *f, const fl_block *b, size_t size)
{
    const fl_block *next = block_after(b, size);
    if ((header_of(next) & FLAG_FREE) && !links_intact(f, next, class_index(block_size(next)))) return next;
    if (header_of(b) & FLAG_PREV_FREE) {
        size_t prev_size = footer_before(b);
        uintptr_t below = (uintptr_t)b - f->first;
        if (prev_size < MIN_BLOCK || prev_size > below || (prev_size & (GRANULE - 1)) != 0) return b;
        const fl_block *prev = block_at((uintptr_t)b - prev_size);
        if (block_size(prev) != prev_size || !links_intact(f, prev, class_index(prev_size))) return prev;
    }
    return NULL;
}

static inline FLI_ALWAYS_INLINE fl_status deallocate_block(freelist *f, void *ptr)
{
    size_t *word, bit;
    if (FLI_UNLIKELY(!live_lookup(f, ptr, &word, &bit))) return refuse_pointer(f, ptr, "deallocate");
    if (HARDENED) {
        const fl_block *broken = broken_neighbour(f, block_of_payload(ptr), block_size(block_of_payload(ptr)));
        if (FLI_UNLIKELY(broken != NULL)) return links_corrupted(f, broken);
    }
    *word &= ~bit;
    fl_block *b = block_of_payload(ptr);
    size_t size = block_size(b);
    fli_count_deallocation(&f->base.counters, size);
    /* A merge with a free block before b starts at or above the floor already. */
    if ((uintptr_t)b < f->free_floor) f->free_floor = (uintptr_t)b;
    block_release(f, b, size);
    return FL_OK;
}

/* A memory checker watches: the freed block is poisoned whole, header included (a merge
 * only joins it to neighbours that are poisoned already). */
static FLI_NOINLINE fl_status deallocate_watched(freelist *f, void *ptr)
{
    int quiet = fli_quiet_begin();
    size_t *word, bit, size = 0;
    if (live_lookup(f, ptr, &word, &bit)) size = block_size(block_of_payload(ptr));
    fl_status status = deallocate_block(f, ptr);
    fli_quiet_end(quiet);
    if (status == FL_OK) FLI_POISON(block_of_payload(ptr), size);
    return status;
}

static fl_status freelist_deallocate(fl_allocator *a, void *ptr)
{
    freelist *f = (freelist *)a;
    if (FLI_UNLIKELY(FLI_POISONING_ON)) return deallocate_watched(f, ptr); /* asked once per call */
    return deallocate_block(f, ptr);
}

static fl_status freelist_usable_size(const fl_allocator *a, const void *ptr, size_t *out)
{
    const freelist *f = (const freelist *)a;
    size_t *word, bit;
    if (!live_lookup(f, ptr, &word, &bit)) return refuse_pointer(f, ptr, "usable_size");
    int quiet = fli_quiet_begin();
    *out = block_size(block_of_payload(ptr)) - WORD;
    fli_quiet_end(quiet);
    return FL_OK;
}

static bool freelist_owns(const fl_allocator *a, const void *ptr)
{
    const freelist *f = (const freelist *)a;
    return (uintptr_t)ptr - f->first < f->base.capacity;
}

/* ---- relocation ---------------------------------------------------------------------- */

/* The alignment b's payload must keep when it moves: G, or for an over-aligned request its
 * current alignment capped at FL_ALIGN_MAX (at least what was asked, see the top). */
static size_t kept_alignment(const fl_block *b)
{
    if (!(header_of(b) & FLAG_ALIGNED)) return GRANULE;
    uintptr_t p = (uintptr_t)block_payload(b);
    uintptr_t low = p & (~p + 1); /* p != 0: its lowest set bit */
    return low >= FL_ALIGN_MAX ? FL_ALIGN_MAX : (size_t)low;
}

/* The leading gap before a block placed at h with its payload aligned to `align`: 0 or
 * >= MIN_BLOCK bytes, so that it can be a free block (as in allocate_aligned). */
static size_t placement_gap(uintptr_t h, size_t align)
{
    if (align <= GRANULE) return 0;
    uintptr_t payload = h + WORD;
    size_t gap = (size_t)(fli_align_up_addr(payload, align) - payload);
    if (gap != 0 && gap < MIN_BLOCK) gap += align;
    return gap;
}

/* Gives [h, h + gap) back as a free block; h's predecessor is allocated (h was free). */
static void free_gap(freelist *f, fl_block *h, size_t gap)
{
    if (gap == 0) return;
    set_header(h, gap | FLAG_FREE);
    block_set_footer(h, gap);
    list_insert(f, h, gap, class_index(gap));
}

/* The lowest free block below b that can take b's `size` bytes aligned to `align` (*hole,
 * NULL when none; *gap gets the leading gap). Walks from the floor and raises it to the
 * first free block met, or to b when there is none (b is a block start with no free block
 * below). A walk that does not land on b exactly means broken headers: INVALID_STATE. */
static fl_status lowest_hole(freelist *f, const fl_block *b, size_t size, size_t align, fl_block **hole,
                             size_t *gap)
{
    bool floor_set = false;
    fl_block *x = block_at(f->free_floor);
    while ((uintptr_t)x < (uintptr_t)b) {
        size_t room = block_size(x);
        if (room < MIN_BLOCK || room > (size_t)((uintptr_t)b - (uintptr_t)x)) break; /* corrupt */
        if (header_of(x) & FLAG_FREE) {
            if (!floor_set) {
                f->free_floor = (uintptr_t)x;
                floor_set = true;
            }
            size_t g = placement_gap((uintptr_t)x, align);
            /* Just before b, b's own bytes add to the room; the new start must still be lower. */
            if (block_after(x, room) == b ? g < room : g + size <= room) {
                *hole = x;
                *gap = g;
                return FL_OK;
            }
        }
        x = block_after(x, room);
    }
    if (x != b)
        return fli_fail(FL_ERR_INVALID_STATE, "%s: the walk from the free floor misses block %p (broken headers)",
                        f->base.name, (const void *)b);
    if (!floor_set) f->free_floor = (uintptr_t)b;
    *hole = NULL;
    return FL_OK;
}

/* Moves live block `ptr` (its live bit at word/bit) to the lowest hole that takes it. */
static fl_status relocate_block(freelist *f, void *ptr, size_t *word, size_t bit, void **out)
{
    fl_block *b = block_of_payload(ptr);
    size_t size = block_size(b), aligned = header_of(b) & FLAG_ALIGNED, gap = 0;
    fl_block *hole = NULL;
    if ((uintptr_t)b > f->free_floor) {
        fl_status status = lowest_hole(f, b, size, kept_alignment(b), &hole, &gap);
        if (status != FL_OK) return status;
    }
    if (hole == NULL) {
        *out = ptr; /* nothing free below it: already as low as it goes */
        return FL_OK;
    }
    if (HARDENED) {
        const fl_block *broken = !links_intact(f, hole, class_index(block_size(hole))) ? hole
                                                                                        : broken_neighbour(f, b, size);
        if (broken != NULL) return links_corrupted(f, broken);
    }
    *word &= ~bit;
    size_t room = block_size(hole), consumed = size;
    list_remove(f, hole, class_index(room));
    fl_block *moved = block_after(hole, gap);
    if (block_after(hole, room) == b) {
        /* Slide down by room - gap bytes. Every header below is written after the copy:
         * the new block's tail overlaps the old payload. Memory checkers: the copy reads
         * and writes poisoned bytes (the hole, the old block's slack), opened first. */
        FLI_OPEN(block_payload(moved), (size_t)((uintptr_t)b + size - (uintptr_t)block_payload(moved)));
        memmove(block_payload(moved), ptr, size - WORD);
        free_gap(f, hole, gap);
        size_t rest = room - gap; /* [moved + size, b + size) is left over */
        if (rest >= MIN_BLOCK) {
            fl_block *tail = block_after(moved, size);
            set_header(tail, rest); /* as an allocated block after an allocated one, freed now */
            block_release(f, tail, rest);
        } else {
            consumed += rest; /* b's successor keeps PREV_FREE clear: b was allocated */
        }
        set_header(moved, consumed | (gap ? FLAG_PREV_FREE : 0) | aligned);
        live_set(f, moved);
    } else {
        free_gap(f, hole, gap);
        consumed = block_take(f, moved, room - gap, size, gap ? FLAG_PREV_FREE : 0);
        set_header(moved, header_of(moved) | aligned);
        FLI_OPEN(block_payload(moved), size - WORD);
        FLI_OPEN(ptr, size - WORD);
        memcpy(block_payload(moved), ptr, size - WORD);
        block_release(f, b, size);
    }
    fli_count_move(&f->base.counters, size, consumed);
    /* Memory checkers: the old place is free memory now; the new block is open in full
     * (the request's size is not kept, so its slack cannot be told apart). */
    FLI_POISON(b, size);
    FLI_OPEN(block_payload(moved), consumed - WORD);
    *out = block_payload(moved);
    return FL_OK;
}

static fl_status freelist_relocate(fl_allocator *a, void *ptr, void **out)
{
    freelist *f = (freelist *)a;
    size_t *word, bit;
    if (!live_lookup(f, ptr, &word, &bit)) return refuse_pointer(f, ptr, "relocate");
    int quiet = fli_quiet_begin();
    fl_status status = relocate_block(f, ptr, word, bit, out);
    fli_quiet_end(quiet);
    return status;
}

/* The largest alignment-1 request that succeeds now. Let H be the head of the highest
 * non-empty list C. A request's block size n is served by the rounded search iff n <= the
 * lower bound of C (every block of C fits it), and otherwise (n in C's range) by the
 * own-class retry iff n <= H. H >= C's lower bound, so every n <= H succeeds and n = H + G
 * does not (its rounded class and its own class hold nothing that large). Payload: H - W. */
static size_t freelist_largest_free(const fl_allocator *a)
{
    const freelist *f = (const freelist *)a;
    if (f->fl_bitmap == 0) return 0;
    size_t fl = fli_log2_floor(f->fl_bitmap);
    size_t index = (fl << SL_LOG2) + fli_log2_floor32(f->sl_bitmap[fl]);
    int quiet = fli_quiet_begin();
    size_t largest = block_size(f->heads[index]) - WORD;
    fli_quiet_end(quiet);
    return largest;
}

/* Free bytes outside the block largest_free would use. A single free block counts as 0:
 * its header is part of free_bytes and of the block, not a loss. */
static double freelist_fragmentation(const fl_allocator *a)
{
    const freelist *f = (const freelist *)a;
    size_t free_bytes = f->base.capacity - f->base.counters.used_bytes;
    if (free_bytes == 0 || f->fl_bitmap == 0) return 0.0;
    size_t largest = freelist_largest_free(a) + WORD;
    return 1.0 - (double)largest / (double)free_bytes;
}

/* The one-free-block state: shared by init and reset. Clearing the live bitmap costs
 * O(area / G / 8) bytes of memset. */
static void freelist_rebuild(freelist *f)
{
    f->fl_bitmap = 0;
    memset(f->sl_bitmap, 0, sizeof f->sl_bitmap);
    memset(f->heads, 0, f->list_count * sizeof f->heads[0]);
    memset(f->live, 0, f->live_words * sizeof f->live[0]);
    fl_block *b = block_at(f->first);
    set_header(b, f->base.capacity | FLAG_FREE);
    block_set_footer(b, f->base.capacity);
    set_header(f->sentinel, FLAG_PREV_FREE);
    f->free_floor = f->first;
    list_insert(f, b, f->base.capacity, class_index(f->base.capacity));
    /* Memory checkers: every block byte is free, the sentinel header too (only the
     * accessors touch them). */
    FLI_POISON((void *)f->first, f->base.capacity + WORD);
}

static void freelist_reset(fl_allocator *a)
{
    int quiet = fli_quiet_begin();
    freelist_rebuild((freelist *)a);
    fli_quiet_end(quiet);
}

/* Where everything goes for a given number of first levels. */
typedef struct layout {
    uintptr_t live, first;
    size_t live_words, capacity, list_count;
} layout;

/* The largest block size `levels` first levels can index: every class below fl = levels. */
static size_t level_limit(size_t levels)
{
    unsigned top = (unsigned)levels + SMALL_LOG2 - 1; /* sizes below 2^top */
    return top >= FLI_SIZE_BITS ? SIZE_MAX & SIZE_MASK : ((size_t)1 << top) - GRANULE;
}

/* Control block with `levels` first levels of heads, then the live bitmap, sized for every
 * granule after its own start (more than the area needs by 1/(8G) of it, in exchange for
 * a layout in one pass), then the blocks. False when no minimum block fits. */
static bool layout_for(uintptr_t start, uintptr_t end, size_t levels, layout *out)
{
    size_t list_count = levels * SL_COUNT;
    size_t control = offsetof(freelist, heads) + list_count * sizeof(fl_block *);
    if (control >= (size_t)(end - start)) return false;
    uintptr_t live = fli_align_up_addr(start + control, WORD);
    if (live >= end) return false;
    size_t room = (size_t)(end - live);
    size_t live_words = ((room >> GRANULE_LOG2) + FLI_SIZE_BITS - 1) >> WORD_BITS_LOG2;
    if (live_words >= room / WORD) return false;
    /* first + W must be G-aligned so that every payload is. */
    uintptr_t first = fli_align_up_addr(live + live_words * WORD + WORD, GRANULE) - WORD;
    if (first >= end || (size_t)(end - first) < MIN_BLOCK + WORD) return false;
    size_t capacity = (size_t)(end - first - WORD) & SIZE_MASK;
    if (capacity > level_limit(levels)) capacity = level_limit(levels);
    /* Keeps every size the search computes (up to capacity + FL_ALIGN_MAX, rounded up by
     * 1/32) far from overflowing; only reachable with more than half the address space. */
    if (capacity > (SIZE_MAX >> 1)) capacity = (SIZE_MAX >> 1) & SIZE_MASK;
    out->live = live;
    out->first = first;
    out->live_words = live_words;
    out->capacity = capacity;
    out->list_count = list_count;
    return true;
}

#if HARDENED
/* The heap's link secret: the control block's, the configuration's and a stack address
 * (randomised by ASLR where the OS has it), mixed (the splitmix64 finaliser). No OS call:
 * a heap in backing memory makes none after create. Not a cryptographic secret: it stops
 * blind and accidental overwrites of links (a write after free stores a value that decodes
 * to garbage), not an attacker who can read the heap. */
static uintptr_t heap_secret(const freelist *f, const fl_allocator_config *cfg)
{
    volatile unsigned char here = 0;
    uint64_t x = (uint64_t)(uintptr_t)f ^ ((uint64_t)(uintptr_t)&here << 17) ^ ((uint64_t)(uintptr_t)cfg << 29);
    x += 0x9E3779B97F4A7C15u;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
    x ^= x >> 31;
    /* Low bits set: a link decoded with the wrong key is misaligned and fails at once. */
    return (uintptr_t)x | (GRANULE - 1);
}
#endif

/* Picks the number of first levels that leaves the largest capacity: each level costs
 * SL_COUNT heads, and a level too few clamps the capacity to what the lists can index.
 * The first level that does not clamp is the last worth trying. This keeps small heaps'
 * control blocks small and makes every buffer larger than a working one work too. */
static fl_status freelist_init(void *memory, size_t size, const fl_allocator_config *cfg, fl_allocator **out)
{
    (void)cfg;
    uintptr_t start = (uintptr_t)memory;
    if (size > UINTPTR_MAX - start)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "buffer of %zu bytes at %p wraps around the address space", size,
                        memory);
    uintptr_t end = start + size;
    layout best, candidate;
    if (!layout_for(start, end, 1, &best)) {
        size_t needed = offsetof(freelist, heads) + SL_COUNT * sizeof(fl_block *) + 2 * WORD + GRANULE + MIN_BLOCK;
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "buffer of %zu bytes is too small for a free list: it needs about %zu bytes", size, needed);
    }
    for (size_t levels = 2; best.capacity == level_limit(levels - 1) && levels <= FLI_SIZE_BITS; levels++) {
        if (!layout_for(start, end, levels, &candidate)) break;
        if (candidate.capacity > best.capacity) best = candidate;
        if (candidate.capacity < level_limit(levels)) break;
    }

    freelist *f = (freelist *)memory;
    memset(f, 0, offsetof(freelist, heads));
    f->base.capacity = best.capacity;
    f->max_request = best.capacity - WORD;
    f->first = best.first;
    f->first_payload = best.first + WORD;
    f->sentinel = block_at(best.first + best.capacity);
    f->live = (size_t *)best.live;
    f->live_words = best.live_words;
    f->list_count = best.list_count;
#if HARDENED
    f->secret = heap_secret(f, cfg);
#endif
    freelist_rebuild(f);
    *out = &f->base;
    return FL_OK;
}

/* ---- walking and checking ----------------------------------------------------------- */

static fl_status freelist_walk(const fl_allocator *a, fl_walk_fn fn, void *user)
{
    const freelist *f = (const freelist *)a;
    for (const fl_block *b = block_at(f->first); b != f->sentinel;) {
        int quiet = fli_quiet_begin(); /* for the header only: fn's own accesses are the caller's */
        size_t header = header_of(b);
        fli_quiet_end(quiet);
        size_t size = header & SIZE_MASK;
        if (size < MIN_BLOCK || size > (size_t)((uintptr_t)f->sentinel - (uintptr_t)b))
            return fli_fail(FL_ERR_INVALID_STATE, "%s: block %p has a broken size %zu", f->base.name, (const void *)b,
                            size);
        fn(b, size, !(header & FLAG_FREE), user);
        b = block_after(b, size);
    }
    return FL_OK;
}

static unsigned popcount_word(size_t x)
{
    unsigned n = 0;
    for (; x != 0; x &= x - 1) n++;
    return n;
}

/* Physical walk: tiling, flags, footers, live bits, totals. Fills the free-block count. */
static fl_status validate_blocks(const freelist *f, size_t *free_count)
{
    size_t used = 0, free_bytes = 0, live = 0, frees = 0;
    bool prev_free = false, floor_seen = f->free_floor == (uintptr_t)f->sentinel;
    uintptr_t end = (uintptr_t)f->sentinel;
    const fl_block *b = block_at(f->first);
    while ((uintptr_t)b != end) {
        if ((uintptr_t)b == f->free_floor) floor_seen = true;
        size_t size = block_size(b), header = header_of(b);
        FLI_VALIDATE(size >= MIN_BLOCK && size <= end - (uintptr_t)b,
                     "%s: block %p has size %zu (minimum %zu, %zu bytes left before the sentinel)", f->base.name,
                     (const void *)b, size, (size_t)MIN_BLOCK, (size_t)(end - (uintptr_t)b));
        FLI_VALIDATE(!(header & FLAG_PREV_FREE) == !prev_free, "%s: block %p says previous free %u but it is %u",
                     f->base.name, (const void *)b, (unsigned)!!(header & FLAG_PREV_FREE), (unsigned)prev_free);
        bool is_free = (header & FLAG_FREE) != 0;
        bool bit = live_test(f, live_bit_index(f, b));
        if (is_free) {
            FLI_VALIDATE(!prev_free, "%s: free blocks are adjacent at %p", f->base.name, (const void *)b);
            FLI_VALIDATE(footer_before(block_after(b, size)) == size, "%s: free block %p of %zu bytes has footer %zu",
                         f->base.name, (const void *)b, size, footer_before(block_after(b, size)));
            FLI_VALIDATE(!bit, "%s: free block %p is marked live", f->base.name, (const void *)b);
            FLI_VALIDATE(!(header & FLAG_ALIGNED), "%s: free block %p has the aligned flag", f->base.name,
                         (const void *)b);
            FLI_VALIDATE(floor_seen, "%s: free block %p lies below the free floor %p", f->base.name,
                         (const void *)b, (void *)f->free_floor);
            free_bytes += size;
            frees++;
        } else {
            FLI_VALIDATE(bit, "%s: allocated block %p is not marked live", f->base.name, (const void *)b);
            used += size;
            live++;
        }
        prev_free = is_free;
        b = block_after(b, size);
    }
    FLI_VALIDATE(floor_seen, "%s: the free floor %p is not a block start", f->base.name, (void *)f->free_floor);
    FLI_VALIDATE(block_size(f->sentinel) == 0 && !(header_of(f->sentinel) & (FLAG_FREE | FLAG_ALIGNED)),
                 "%s: the sentinel header is %zu", f->base.name, header_of(f->sentinel));
    FLI_VALIDATE(!(header_of(f->sentinel) & FLAG_PREV_FREE) == !prev_free,
                 "%s: the sentinel's previous-free flag disagrees with the last block", f->base.name);
    FLI_VALIDATE(used == f->base.counters.used_bytes, "%s: allocated blocks hold %zu bytes, counters say %zu",
                 f->base.name, used, f->base.counters.used_bytes);
    FLI_VALIDATE(live == f->base.counters.allocation_count, "%s: %zu allocated blocks, counters say %zu",
                 f->base.name, live, f->base.counters.allocation_count);
    FLI_VALIDATE(used + free_bytes == f->base.capacity, "%s: blocks cover %zu bytes of a %zu-byte area",
                 f->base.name, used + free_bytes, f->base.capacity);
    size_t bits = 0;
    for (size_t w = 0; w < f->live_words; w++) bits += popcount_word(f->live[w]);
    FLI_VALIDATE(bits == live, "%s: %zu live bits set for %zu allocated blocks (a stray bit)", f->base.name, bits,
                 live);
    *free_count = frees;
    return FL_OK;
}

/* Bitmaps agree with the heads; every list entry is a free block of the area, in the list
 * its size maps to, with consistent links. Counts entries (bounded, so a cycle stops). */
static fl_status validate_lists(const freelist *f, size_t free_count, size_t *entries)
{
    size_t count = 0;
    for (size_t fl = 0; fl < FLI_SIZE_BITS; fl++) {
        bool fl_bit = (f->fl_bitmap >> fl) & 1u;
        FLI_VALIDATE(fl_bit == (f->sl_bitmap[fl] != 0), "%s: first-level bit %zu is %u but its lists say %u",
                     f->base.name, fl, (unsigned)fl_bit, (unsigned)(f->sl_bitmap[fl] != 0));
        FLI_VALIDATE(f->sl_bitmap[fl] == 0 || fl < (f->list_count >> SL_LOG2),
                     "%s: second-level bitmap %zu is set beyond the last first level", f->base.name, fl);
    }
    for (size_t index = 0; index < f->list_count; index++) {
        const fl_block *head = f->heads[index];
        bool sl_bit = (f->sl_bitmap[index >> SL_LOG2] >> (index & (SL_COUNT - 1))) & 1u;
        FLI_VALIDATE(sl_bit == (head != NULL), "%s: list %zu has bit %u but head %p", f->base.name, index,
                     (unsigned)sl_bit, (const void *)head);
        const fl_block *prev = NULL;
        for (const fl_block *e = head; e != NULL; prev = e, e = next_of(f, e)) {
            uintptr_t at = (uintptr_t)e;
            FLI_VALIDATE(at - f->first < f->base.capacity && ((at + WORD) & (GRANULE - 1)) == 0,
                         "%s: list %zu holds %p, not a block address of the area", f->base.name, index,
                         (const void *)e);
            FLI_VALIDATE(header_of(e) & FLAG_FREE, "%s: list %zu holds allocated block %p", f->base.name, index,
                         (const void *)e);
            /* A head's prev link is not kept (list_pop_head); every other entry's is exact. */
            FLI_VALIDATE(e == head || prev_of(f, e) == prev, "%s: block %p in list %zu links back to %p, not %p",
                         f->base.name, (const void *)e, index, (const void *)prev_of(f, e), (const void *)prev);
            size_t size = block_size(e);
            FLI_VALIDATE(size >= MIN_BLOCK && size <= f->base.capacity && class_index(size) == index,
                         "%s: block %p of %zu bytes is in list %zu, its size maps to list %zu", f->base.name,
                         (const void *)e, size, index, class_index(size));
            FLI_VALIDATE(++count <= free_count, "%s: the lists hold more than the %zu free blocks (a cycle?)",
                         f->base.name, free_count);
        }
    }
    *entries = count;
    return FL_OK;
}

/* Both membership directions, exactly and in linear time, by marking: each list entry's
 * live bit (clear for every free block) is set while the physical walk checks that every
 * free block is marked, then the marks are cleared again. Entries are distinct (a repeat
 * finds its bit already set) and as many as the free blocks, and every free block is
 * marked, so the lists hold exactly the free blocks. */
static fl_status validate_membership(const freelist *f)
{
    size_t *live = f->live; /* the control block is the caller's writable memory */
    size_t marked = 0;
    fl_status status = FL_OK;
    for (size_t index = 0; index < f->list_count && status == FL_OK; index++) {
        for (const fl_block *e = f->heads[index]; e != NULL; e = next_of(f, e)) {
            size_t i = live_bit_index(f, e);
            if (live_test(f, i)) {
                status = fli_fail(FL_ERR_INVALID_STATE, "%s: block %p appears twice in the free lists", f->base.name,
                                  (const void *)e);
                break;
            }
            live[i >> WORD_BITS_LOG2] |= (size_t)1 << (i & (FLI_SIZE_BITS - 1));
            marked++;
        }
    }
    if (status == FL_OK) {
        for (const fl_block *b = block_at(f->first); b != f->sentinel; b = block_after(b, block_size(b))) {
            if ((header_of(b) & FLAG_FREE) && !live_test(f, live_bit_index(f, b))) {
                status = fli_fail(FL_ERR_INVALID_STATE, "%s: free block %p of %zu bytes is in no free list",
                                  f->base.name, (const void *)b, block_size(b));
                break;
            }
        }
    }
    /* Unmark exactly the entries marked above, in the same order. */
    for (size_t index = 0; index < f->list_count && marked > 0; index++) {
        for (const fl_block *e = f->heads[index]; e != NULL && marked > 0; e = next_of(f, e), marked--) {
            size_t i = live_bit_index(f, e);
            live[i >> WORD_BITS_LOG2] &= ~((size_t)1 << (i & (FLI_SIZE_BITS - 1)));
        }
    }
    return status;
}

static fl_status validate_heap(const freelist *f)
{
    FLI_VALIDATE(f->first + WORD == f->first_payload && (f->first_payload & (GRANULE - 1)) == 0,
                 "%s: the first payload %p is not %zu-aligned", f->base.name, (void *)f->first_payload,
                 (size_t)GRANULE);
    FLI_VALIDATE((uintptr_t)f->sentinel == f->first + f->base.capacity && f->max_request == f->base.capacity - WORD,
                 "%s: the area bounds are corrupt", f->base.name);
    FLI_VALIDATE(class_index(f->base.capacity) < f->list_count, "%s: %zu lists cannot index a %zu-byte block",
                 f->base.name, f->list_count, f->base.capacity);
    size_t free_count = 0, entries = 0;
    fl_status status = validate_blocks(f, &free_count);
    if (status != FL_OK) return status;
    status = validate_lists(f, free_count, &entries);
    if (status != FL_OK) return status;
    FLI_VALIDATE(entries == free_count, "%s: %zu free blocks but %zu list entries", f->base.name, free_count, entries);
    return validate_membership(f);
}

static fl_status freelist_validate(const fl_allocator *a)
{
    int quiet = fli_quiet_begin();
    fl_status status = validate_heap((const freelist *)a);
    fli_quiet_end(quiet);
    return status;
}

const fli_allocator_ops fli_freelist_ops = {
    .init = freelist_init,
    .allocate = freelist_allocate,
    .deallocate = freelist_deallocate,
    .reset = freelist_reset,
    .owns = freelist_owns,
    .usable_size = freelist_usable_size,
    .largest_free = freelist_largest_free,
    .fragmentation = freelist_fragmentation,
    .validate = freelist_validate,
    .walk = freelist_walk,
    .mark = NULL,
    .rewind = NULL,
    .destroy = NULL,
    .relocate = freelist_relocate,
    .allocation_overhead = sizeof(size_t),
    .supports_defrag = true,
};
