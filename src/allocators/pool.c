/*
 * The pool: fixed-size blocks inside the caller's memory.
 *
 * Every block has the same stride (block_size rounded up to a multiple of block_alignment,
 * and at least one pointer, because a free block holds the free-list link). Blocks carry
 * no header: allocation_overhead is 0. A bitmap with one bit per block (1 = allocated)
 * lets a free tell a live block from a free one in O(1), so double frees and foreign or
 * interior pointers are refused before the free list is touched.
 *
 * Memory checkers (core/poison.h): free blocks are poisoned whole, a live block is
 * accessible for exactly the bytes its request asked for; the link is opened around each
 * read or write of it.
 *
 * Complexity: allocate, deallocate, owns, usable_size, reset O(1); create O(log(size /
 * stride)) arithmetic (a search for the exact block count, touching no block); validate
 * and walk O(blocks).
 *
 * Layout (memory is aligned to FL_ALIGN_DEFAULT by allocator.c):
 *
 *   memory                                first = align_up(.., block_alignment)
 *   |                                     |
 *   v                                     v
 *   +--------------+---------------+------+----------+----------+-----+------------+------+
 *   | fli_pool     | bitmap: n bits| pad  | block 0  | block 1  | ... | block n-1  | tail |
 *   | (base first) | in u32 words  |      |  stride  |  stride  |     |   stride   | <    |
 *   +--------------+---------------+------+----------+----------+-----+------------+------+
 *                                         |<------ capacity = n * stride ------->|
 *
 * n is the largest count for which control block + bitmap(n) + padding + n * stride fits
 * in the size given; `tail` is shorter than what one more block (and its bit) would need.
 *
 * Free blocks come in two kinds, so that create and reset need not visit the blocks:
 * - blocks below the watermark that were freed: an intrusive LIFO list whose link is the
 *   first pointer-sized bytes of the block (read and written with memcpy, since a block
 *   aligned to less than a pointer may hold it unaligned);
 * - blocks at or above the watermark: never handed out since create or reset; allocate
 *   takes the watermark block when the list is empty.
 * The bitmap is meaningful only below the watermark; reset just sets the watermark to 0 and
 * empties the list (O(1)). Stale bits are cleared a word at a time when the watermark
 * enters a new word, so bits of the watermark's own word at or above it are always zero.
 *
 * Invariants (validate checks each):
 * - 0 < n, watermark <= n, capacity == n * stride, stride >= sizeof(void *), stride a
 *   multiple of block_alignment, the first block aligned to it and past the bitmap;
 *   (stride >> shift) is odd and times `inverse` is 1 modulo 2^N (see block_index);
 *   default_limit is stride when block_alignment >= FL_ALIGN_DEFAULT, else 0;
 * - no bit at or above the watermark is set in words the watermark has reached;
 * - popcount(bits below the watermark) == total_allocations - total_deallocations (the
 *   live count; used bytes are that times the stride, see pool_counters), the peak
 *   (below) lies between it and n, and the counters the pool derives are never written;
 * - the free list (followed for at most watermark steps, so a cycle is caught) links only
 *   block starts below the watermark whose bit is clear, and its length is
 *   watermark - popcount: free-list length + (n - watermark) + popcount == n.
 *
 * The peak: since the last reset, the most blocks live at once is the watermark, so the
 * hot path keeps no peak. Blocks below the watermark are live or on the free list, so
 * live <= watermark always; and the watermark only moves when the list is empty, i.e.
 * when every block below it is live, and the block it hands out makes live == watermark.
 * Reset folds it into peak_before_reset; the peak since create is the larger of the two.
 *
 * The control block (fli_pool) and the common allocate and free (fli_pool_take_head,
 * fli_pool_give_back) are in include/flight/detail/allocators.h, shared with allocator.c
 * and with <flight/memory_fast.h>, which inline them: one copy of the checks that refuse
 * double, interior and foreign frees.
 */
#include "allocator.h"


typedef fli_pool pool;

#define POOL_HEADER_BYTES (sizeof(pool)) /* the bitmap follows: fli_pool_bitmap */
#define WORD_BITS FLI_POOL_WORD_BITS

static inline pool *as_pool(fl_allocator *a) { return (pool *)a; }
static inline const pool *as_const_pool(const fl_allocator *a) { return (const pool *)a; }

/* Bytes of bitmap for n blocks, whole words. n <= SIZE_MAX / sizeof(void *): no overflow. */
static inline size_t bitmap_bytes(size_t n) { return ((n + (WORD_BITS - 1)) / WORD_BITS) * sizeof(uint32_t); }

static inline uint32_t bit_of(size_t index) { return fli_pool_bit(index); }

/* The free-list link a free block holds in its first bytes (maybe unaligned: memcpy). A
 * free block is poisoned whole for memory checkers: the link is opened around the read. */
static inline unsigned char *next_free(const unsigned char *block)
{
    unsigned char *next;
    FLI_OPEN(block, sizeof(unsigned char *));
    memcpy(&next, block, sizeof(unsigned char *));
    FLI_POISON(block, sizeof(unsigned char *));
    return next;
}

static inline bool is_allocated(const pool *p, size_t index)
{
    return index < p->watermark && (fli_pool_const_bitmap(p)[index / WORD_BITS] & bit_of(index)) != 0;
}

/*
 * Block index from any offset, without a division (fli_pool_block_index in the detail
 * header): q = rotate_right(offset * inverse, shift) (mod 2^N, N = bits of size_t).
 *
 * stride = d << shift with d odd; an odd d has an inverse modulo 2^N. Then q < n holds
 * exactly when offset == q * stride for that q, so that one comparison tells a block start
 * from everything else (past the blocks, inside a block, below the first block: the
 * subtraction wraps around to a large offset), on 32 and 64 bits alike:
 *   - low `shift` bits of offset not all zero: the product keeps the lowest set bit where it
 *     was (inverse is odd), and the rotation moves it to bit N - shift or above, so
 *     q >= 2^(N - shift) > n (n * d * 2^shift <= SIZE_MAX gives n < 2^(N - shift));
 *   - otherwise offset = y << shift and q = y * inverse mod 2^(N - shift). Any q < n gives
 *     q * d < n * d < 2^(N - shift), so q * d == y exactly (both lie below 2^(N - shift) and
 *     agree modulo it): offset == q * stride. Conversely a block start q * stride gives q.
 * When stride is a power of two, d is 1, inverse is 1 and this is a rotation. A fixed-point
 * reciprocal (multiply-high then shift) would need a product twice as wide as size_t to be
 * exact over every offset, which portable C11 does not have on 64 bits.
 */
static inline size_t block_index(const pool *p, size_t offset) { return fli_pool_block_index(p, offset); }

/* Offsets are pointer differences taken modulo 2^N: a wider uintptr_t would alias. */
_Static_assert(sizeof(uintptr_t) <= sizeof(size_t), "pointer differences must fit in size_t");

/* The inverse of an odd d modulo 2^N by Newton's iteration: d * d == 1 (mod 8) gives 3 good
 * bits and each step doubles them, so 6 steps cover size_t up to 192 bits. */
static size_t odd_inverse(size_t d)
{
    size_t x = d;
    for (int i = 0; i < 6; i++) x *= (size_t)2 - d * x;
    return x;
}

/* Offset from `memory` of the end of block n-1 when the pool holds n blocks, or false when
 * that would not fit in size_t. `memory` matters when block_alignment exceeds its own. */
static bool layout_end(uintptr_t memory, size_t n, size_t stride, size_t align, size_t *first_offset,
                       size_t *end_offset)
{
    size_t offset = POOL_HEADER_BYTES + bitmap_bytes(n);
    size_t misalign = (size_t)((memory + (uintptr_t)offset) & (uintptr_t)(align - 1));
    size_t pad = misalign ? align - misalign : 0;
    if (offset > SIZE_MAX - pad) return false;
    offset += pad;
    size_t blocks = n * stride; /* callers keep n <= size / stride */
    if (offset > SIZE_MAX - blocks) return false;
    *first_offset = offset;
    *end_offset = offset + blocks;
    return true;
}

static bool layout_fits(uintptr_t memory, size_t size, size_t n, size_t stride, size_t align, size_t *first_offset)
{
    size_t end;
    return layout_end(memory, n, stride, align, first_offset, &end) && end <= size;
}

static fl_status pool_init(void *memory, size_t size, const fl_allocator_config *cfg, fl_allocator **out)
{
    size_t align = cfg->block_alignment ? cfg->block_alignment : FL_ALIGN_DEFAULT;
    if (cfg->block_size == 0)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "pool block_size 0: a pool needs blocks of at least 1 byte");
    if (!fli_is_pow2(align))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "pool block_alignment %zu is not a power of two", align);
    if (align > FL_ALIGN_MAX)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "pool block_alignment %zu exceeds the largest alignment %zu",
                        align, FL_ALIGN_MAX);
    size_t stride;
    size_t at_least = cfg->block_size < sizeof(void *) ? sizeof(void *) : cfg->block_size;
    if (!fli_align_up_checked(at_least, align, &stride))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "pool block_size %zu overflows when rounded to alignment %zu",
                        cfg->block_size, align);

    /* The end of the layout grows strictly with n, so a binary search over
     * [0, (size - header) / stride] finds the largest n that fits, exactly. */
    uintptr_t base = (uintptr_t)memory;
    size_t lo = 0, hi = size > POOL_HEADER_BYTES ? (size - POOL_HEADER_BYTES) / stride : 0;
    size_t first_offset = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (layout_fits(base, size, mid, stride, align, &first_offset))
            lo = mid;
        else
            hi = mid - 1;
    }
    size_t n = lo;
    /* The search's last probe may have been n + 1: lay out n again for its first_offset. */
    if (n == 0 || !layout_fits(base, size, n, stride, align, &first_offset))
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "buffer of %zu bytes holds no block of %zu bytes aligned to %zu (control block %zu bytes)",
                        size, stride, align, (size_t)POOL_HEADER_BYTES);

    pool *p = (pool *)memory;
    memset(p, 0, POOL_HEADER_BYTES);
    p->first = (unsigned char *)memory + first_offset;
    p->free_head = NULL;
    p->stride = stride;
    p->block_count = n;
    p->watermark = 0; /* the bitmap stays as it is: nothing below the watermark yet */
    p->block_alignment = align;
    p->default_limit = align >= FL_ALIGN_DEFAULT ? stride : 0;
    p->shift = 0;
    while (((stride >> p->shift) & 1u) == 0) p->shift++; /* stride > 0: ends */
    p->inverse = odd_inverse(stride >> p->shift);
    p->base.capacity = n * stride;
    FLI_POISON(p->first, p->base.capacity); /* every block is free */
    *out = &p->base;
    return FL_OK;
}

/* The failures of pool_allocate, out of line: the hot path keeps no frame for them. */
static FLI_COLD fl_status refuse_allocation(const pool *p, size_t size, size_t alignment)
{
    if (size > p->stride)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: size %zu exceeds the pool's block size %zu", p->base.name,
                        size, p->stride);
    if (alignment > p->block_alignment)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: alignment %zu exceeds the pool's block alignment %zu",
                        p->base.name, alignment, p->block_alignment);
    return fli_fail(FL_ERR_OUT_OF_MEMORY, "%s: all %zu blocks of %zu bytes are in use", p->base.name,
                    p->block_count, p->stride);
}

/* A block never handed out since create or reset, or NULL when none is left. */
static unsigned char *take_from_watermark(pool *p, size_t *index)
{
    if (FLI_UNLIKELY(p->watermark >= p->block_count)) return NULL;
    size_t i = p->watermark++;
    /* Entering a word: its bits are stale from before a reset; none of them is live. */
    if (i % WORD_BITS == 0) fli_pool_bitmap(p)[i / WORD_BITS] = 0;
    *index = i;
    return p->first + i * p->stride;
}

static fl_status pool_allocate(fl_allocator *a, size_t size, size_t alignment, void **out)
{
    pool *p = as_pool(a);
    /* size > 0 and alignment a power of two: allocator.c checked them. */
    if (FLI_UNLIKELY(size > p->stride || alignment > p->block_alignment)) return refuse_allocation(p, size, alignment);
    if (FLI_LIKELY(p->free_head != NULL)) {
        if (FLI_LIKELY(!FLI_POISONING_ON)) {
            *out = fli_pool_take_head(p, size); /* the inline path's code too */
            return FL_OK;
        }
        /* A memory checker watches: open the link the take reads, then leave exactly the
         * requested bytes open. One test on the common path instead of three. */
        FLI_OPEN(p->free_head, sizeof(unsigned char *));
        unsigned char *block = fli_pool_take_head(p, size);
        FLI_POISON(block, sizeof(unsigned char *));
        FLI_UNPOISON(block, size);
        *out = block;
        return FL_OK;
    }
    size_t index = 0;
    unsigned char *block = take_from_watermark(p, &index);
    if (FLI_UNLIKELY(block == NULL)) return refuse_allocation(p, size, alignment);
    fli_pool_bitmap(p)[index / WORD_BITS] |= bit_of(index);
    fli_pool_count_take(p, size);
    FLI_UNPOISON(block, size); /* exactly what was asked: the rest of the block stays poisoned */
    *out = block;
    return FL_OK;
}

/* Why ptr is not a live block of this pool (INVALID_PARAMETERS), for free and usable_size:
 * foreign, interior, or a block start that is free (`what` names that last case). */
static FLI_COLD fl_status refuse_pointer(const pool *p, const void *ptr, const char *what)
{
    uintptr_t first = (uintptr_t)p->first, addr = (uintptr_t)ptr;
    if (addr < first || addr - first >= (uintptr_t)p->base.capacity)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: pointer %p is not owned by this pool (blocks span %p..%p)",
                        p->base.name, (void *)(uintptr_t)ptr, (void *)p->first,
                        (void *)(p->first + p->base.capacity));
    size_t offset = (size_t)(addr - first);
    size_t index = block_index(p, offset);
    if (index >= p->block_count)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "%s: interior pointer %p: offset %zu from the first block is not a multiple of the block "
                        "size %zu",
                        p->base.name, (void *)(uintptr_t)ptr, offset, p->stride);
    return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: %s: block %zu at %p is not allocated", p->base.name, what, index,
                    (void *)(uintptr_t)ptr);
}

/* The index of the live block that starts at ptr, or a value >= the watermark when ptr is
 * anything else (blocks at or above the watermark are never live). */
static inline size_t live_index(const pool *p, const void *ptr)
{
    size_t index = block_index(p, (size_t)((uintptr_t)ptr - (uintptr_t)p->first));
    if (index < p->watermark && (fli_pool_const_bitmap(p)[index / WORD_BITS] & bit_of(index)) != 0) return index;
    return SIZE_MAX;
}

static fl_status pool_deallocate(fl_allocator *a, void *ptr)
{
    pool *p = as_pool(a);
    /* Memory checkers: a live block may be open for fewer bytes than the link the free
     * writes into it, so open those (only for a live block: anything else is refused
     * untouched), and poison the whole block once it is free. */
    bool watched = FLI_POISONING_ON; /* asked once per call */
    if (FLI_UNLIKELY(watched) && live_index(p, ptr) != SIZE_MAX) FLI_OPEN(ptr, sizeof p->free_head);
    /* fli_pool_give_back refuses foreign and interior pointers with one comparison (the
     * block index is below the watermark only for block starts) and free blocks with the
     * bit: the inline path runs the same code. */
    if (FLI_LIKELY(fli_pool_give_back(p, ptr))) {
        if (FLI_UNLIKELY(watched)) FLI_POISON(ptr, p->stride);
        return FL_OK;
    }
    return refuse_pointer(p, ptr, "double free");
}

/* The most blocks live at once since create (see "The peak" at the top). */
static size_t peak_live(const pool *p)
{
    return p->watermark > p->peak_before_reset ? p->watermark : p->peak_before_reset;
}

static void pool_reset(fl_allocator *a)
{
    pool *p = as_pool(a);
    /* The bitmap is not cleared: it counts only below the watermark, and allocate clears
     * each word as the watermark enters it. */
    p->peak_before_reset = peak_live(p);
    p->watermark = 0;
    p->free_head = NULL;
    FLI_POISON(p->first, a->capacity);
    /* Every live block is freed: the counters pool_counters derives from follow. */
    a->counters.total_deallocations = a->counters.total_allocations;
    p->taken_at_reset = a->counters.total_allocations;
}

/* The full counters from the ones the pool keeps (fli_pool): every block consumes the
 * stride, so used, peak and consumed bytes are block counts times it. */
static fli_counters pool_counters(const fl_allocator *a)
{
    const pool *p = as_const_pool(a);
    fli_counters c = a->counters;
    c.allocation_count = (size_t)(c.total_allocations - c.total_deallocations);
    c.used_bytes = c.allocation_count * p->stride;
    c.peak_used_bytes = peak_live(p) * p->stride;
    c.consumed_bytes = (c.total_allocations - p->taken_at_reset) * p->stride;
    return c;
}

static bool pool_owns(const fl_allocator *a, const void *ptr)
{
    const pool *p = as_const_pool(a);
    uintptr_t addr = (uintptr_t)ptr, first = (uintptr_t)p->first;
    return addr >= first && addr - first < (uintptr_t)a->capacity;
}

static fl_status pool_usable_size(const fl_allocator *a, const void *ptr, size_t *out)
{
    const pool *p = as_const_pool(a);
    if (live_index(p, ptr) == SIZE_MAX) return refuse_pointer(p, ptr, "not a live allocation");
    *out = p->stride;
    return FL_OK;
}

static size_t pool_largest_free(const fl_allocator *a)
{
    const pool *p = as_const_pool(a);
    return (p->free_head != NULL || p->watermark < p->block_count) ? p->stride : 0;
}

/* Free space in a pool is never fragmented: every free block serves every request the pool
 * accepts (size <= stride, alignment <= block_alignment), so free bytes are all usable. */
static double pool_fragmentation(const fl_allocator *a)
{
    (void)a;
    return 0.0;
}

static unsigned popcount32(uint32_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_popcount(x);
#else
    unsigned c = 0;
    for (; x != 0; x &= x - 1) c++;
    return c;
#endif
}

static fl_status pool_validate(const fl_allocator *a)
{
    const pool *p = as_const_pool(a);
    const char *name = a->name;
    size_t n = p->block_count, stride = p->stride, w = p->watermark;
    FLI_VALIDATE(n > 0 && w <= n, "%s: watermark %zu beyond the %zu blocks", name, w, n);
    FLI_VALIDATE(stride >= sizeof(void *) && fli_is_pow2(p->block_alignment) && stride % p->block_alignment == 0,
                 "%s: stride %zu is not a multiple of the block alignment %zu holding a pointer", name, stride,
                 p->block_alignment);
    FLI_VALIDATE(stride <= SIZE_MAX / n && a->capacity == n * stride, "%s: capacity %zu is not %zu blocks of %zu",
                 name, a->capacity, n, stride);
    FLI_VALIDATE(fli_is_aligned(p->first, p->block_alignment) &&
                     p->first >= (const unsigned char *)p + POOL_HEADER_BYTES + bitmap_bytes(n),
                 "%s: first block %p is misaligned or overlaps the bitmap", name, (void *)p->first);
    size_t odd = stride >> p->shift;
    FLI_VALIDATE(p->default_limit == (p->block_alignment >= FL_ALIGN_DEFAULT ? stride : 0),
                 "%s: default_limit %zu should be %zu", name, p->default_limit,
                 p->block_alignment >= FL_ALIGN_DEFAULT ? stride : (size_t)0);
    FLI_VALIDATE(p->shift < FLI_SIZE_BITS && (odd & 1u) && odd << p->shift == stride && odd * p->inverse == 1,
                 "%s: stride %zu has a wrong shift %u or inverse", name, stride, p->shift);

    /* Bits below the watermark; the watermark's own word must be clear from it upwards. */
    size_t live_words = (w + WORD_BITS - 1) / WORD_BITS;
    size_t allocated = 0;
    for (size_t i = 0; i < live_words; i++) allocated += popcount32(fli_pool_const_bitmap(p)[i]);
    if (w % WORD_BITS != 0) {
        uint32_t above = ~(bit_of(w) - 1u);
        FLI_VALIDATE((fli_pool_const_bitmap(p)[w / WORD_BITS] & above) == 0,
                     "%s: a block at or above the watermark %zu is marked allocated", name, w);
    }
    const fli_counters *c = &a->counters;
    uint64_t live = c->total_allocations - c->total_deallocations;
    FLI_VALIDATE(allocated == live, "%s: bitmap holds %zu allocated blocks, counters %llu made and %llu freed", name,
                 allocated, (unsigned long long)c->total_allocations, (unsigned long long)c->total_deallocations);
    FLI_VALIDATE(p->peak_before_reset <= n, "%s: peak of %zu live blocks before the reset is above %zu", name,
                 p->peak_before_reset, n);
    uint64_t since_reset = c->total_allocations - p->taken_at_reset;
    FLI_VALIDATE(p->taken_at_reset <= c->total_allocations && c->requested_bytes <= since_reset * stride,
                 "%s: %llu requested bytes exceed the %llu allocations since the reset", name,
                 (unsigned long long)c->requested_bytes, (unsigned long long)since_reset);
    FLI_VALIDATE(c->used_bytes == 0 && c->allocation_count == 0 && c->peak_used_bytes == 0 && c->consumed_bytes == 0,
                 "%s: counters the pool derives (pool_counters) were written", name);

    /* Every block below the watermark is either allocated or on the list, once. */
    size_t expected = w - allocated, listed = 0;
    for (const unsigned char *node = p->free_head; node != NULL; listed++) {
        FLI_VALIDATE(listed < expected, "%s: free list longer than the %zu free blocks below the watermark (a cycle?)",
                     name, expected);
        uintptr_t addr = (uintptr_t)node, first = (uintptr_t)p->first;
        FLI_VALIDATE(addr >= first && addr - first < (uintptr_t)w * stride,
                     "%s: free-list entry %zu (%p) points outside the blocks below the watermark", name, listed,
                     (void *)(uintptr_t)node);
        size_t offset = (size_t)(addr - first), index = block_index(p, offset);
        FLI_VALIDATE(index < n && index * stride == offset, "%s: free-list entry %zu (%p) is not a block start",
                     name, listed, (void *)(uintptr_t)node);
        FLI_VALIDATE(!is_allocated(p, index), "%s: free-list entry %zu is block %zu, which is allocated", name,
                     listed, index);
        node = next_free(node);
    }
    FLI_VALIDATE(listed == expected, "%s: free list holds %zu blocks but %zu below the watermark are free", name,
                 listed, expected);
    return FL_OK;
}

static fl_status pool_walk(const fl_allocator *a, fl_walk_fn fn, void *user)
{
    const pool *p = as_const_pool(a);
    const unsigned char *block = p->first;
    for (size_t i = 0; i < p->block_count; i++, block += p->stride) fn(block, p->stride, is_allocated(p, i), user);
    return FL_OK;
}

const fli_allocator_ops fli_pool_ops = {
    .init = pool_init,
    .allocate = pool_allocate,
    .deallocate = pool_deallocate,
    .reset = pool_reset,
    .counters = pool_counters,
    .owns = pool_owns,
    .usable_size = pool_usable_size,
    .largest_free = pool_largest_free,
    .fragmentation = pool_fragmentation,
    .validate = pool_validate,
    .walk = pool_walk,
    .mark = NULL,
    .rewind = NULL,
    .destroy = NULL,
    .allocation_overhead = 0,
    .supports_defrag = false,
};
