/*
 * flight-memory: control-block layouts. NOT API.
 *
 * This header exists so that <flight/memory_fast.h> can inline the common case of a pool
 * or linear allocation into the caller. Everything here is the library's private state:
 * the layout may change with any version (including patch releases), nothing here may be
 * written by a program, and only memory_fast.h may read it. Programs include
 * <flight/memory.h> (and, optionally, <flight/memory_fast.h>), never this file directly.
 *
 * It is also the one definition the library itself compiles against (src/allocators/
 * allocator.h, pool.c, linear.c include it), so that the inline code and the library can
 * never disagree about an offset. A program and the library it links must come from the
 * same version: the inline code is compiled into the program.
 *
 * Compiles as C11 and as C++ (no flexible array member: the pool's bitmap is found just
 * after its control block, see fli_pool_bitmap).
 */
#ifndef FLIGHT_DETAIL_ALLOCATORS_H
#define FLIGHT_DETAIL_ALLOCATORS_H

#include <flight/memory.h>

/* memcpy for the pool's free-list links, which a block aligned to less than a pointer
 * holds unaligned. The builtin needs no <string.h> (absent in freestanding builds). */
#if defined(__GNUC__) || defined(__clang__)
#define FLI_DETAIL_MEMCPY __builtin_memcpy
#else
#include <string.h>
#define FLI_DETAIL_MEMCPY memcpy
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Exact running statistics, updated with plain adds on every allocate and free. */
typedef struct fli_counters {
    size_t used_bytes;      /* consumed by live allocations: payload + header + padding */
    size_t peak_used_bytes;
    size_t allocation_count;
    uint64_t total_allocations, total_deallocations, failed_allocations;
    uint64_t requested_bytes; /* summed over every allocation since create or reset */
    uint64_t consumed_bytes;
} fli_counters;

/*
 * The counters' updates, shared by every strategy and by the inline paths. The writes are
 * ordered around the peak's branch so that no two adjacent counters are written in the
 * same basic block: compilers merge such pairs into one vector add, which takes more
 * instructions and, when the next free writes one half of the pair, stalls the following
 * allocation on a failed store-to-load forward.
 */
static inline void fli_count_allocation(fli_counters *c, size_t requested, size_t consumed)
{
    c->used_bytes += consumed;
    c->allocation_count++;
    c->requested_bytes += requested;
    if (c->used_bytes > c->peak_used_bytes) c->peak_used_bytes = c->used_bytes;
    c->total_allocations++;
    c->consumed_bytes += consumed;
}

static inline void fli_count_deallocation(fli_counters *c, size_t consumed)
{
    c->used_bytes -= consumed;
    c->allocation_count--;
    c->total_deallocations++;
}

/* Bulk release of `count` allocations consuming `consumed` bytes (rewind). */
static inline void fli_count_bulk_release(fli_counters *c, size_t count, size_t consumed)
{
    c->used_bytes -= consumed;
    c->allocation_count -= count;
    c->total_deallocations += count;
}

/* Room for the platform's lock (src/platform/platform.h's fli_lock: the same members, so
 * the same size and alignment; allocator.c checks that at compile time). */
typedef union fli_lock_storage {
    void *pointer_alignment;
    uint64_t word_alignment;
    long double float_alignment;
    unsigned char bytes[FL_SYNC_STORAGE_BYTES];
} fli_lock_storage;

struct fli_allocator_ops; /* the strategy's operations: src/allocators/allocator.h */

/* Values of fl_allocator.fast_kind. */
#define FLI_FAST_NONE 0u
#define FLI_FAST_LINEAR 1u
#define FLI_FAST_POOL 2u

/* The first member of every strategy's control block. */
struct fl_allocator {
    const struct fli_allocator_ops *ops;
    const char *name;
    fl_allocator_type type;
    bool thread_safe;
    /* FLI_FAST_POOL or FLI_FAST_LINEAR for a pool or linear allocator that fl_allocator_create
     * made without a lock, FLI_FAST_NONE (0) for everything else: the one byte the inline
     * paths test before they touch anything else. 0 is "none" so that a base built elsewhere
     * and zeroed (the memory interface's views) never takes a fast path. */
    uint8_t fast_kind;
    const fl_platform_hooks *platform; /* cfg->platform or the default: every OS call */
    size_t capacity; /* bytes the strategy manages: used + free, fixed at create */
    /* [pages, pages + pages_size): the whole memory the allocator was built in, control
     * block included; it came from the platform at create iff owns_pages (then destroy
     * unmaps it). Free blocks inside are poisoned for memory checkers (core/poison.h), so
     * destroy opens all of it before the caller gets it back. */
    void *pages;
    size_t pages_size;
    /* cfg->managed was set: the allocator never reads or writes the bytes it hands out, so
     * it cannot move them either (relocate is FL_ERR_NOT_SUPPORTED). Set by create. */
    bool external_memory;
    bool owns_pages;
    fli_counters counters;
    fli_lock_storage lock;
};

/* The pool's control block (src/allocators/pool.c explains every field and invariant). Its
 * bitmap, one bit per block in 32-bit words, starts right after it: fli_pool_bitmap. */
typedef struct fli_pool {
    struct fl_allocator base;
    unsigned char *first;     /* block 0 */
    unsigned char *free_head; /* the block freed last (below the watermark), or NULL */
    size_t stride;            /* bytes per block: what every allocation consumes */
    size_t block_count;       /* n */
    size_t watermark;         /* blocks [watermark, n) are untouched since create or reset */
    size_t block_alignment;   /* every block's, and the most any request may ask for */
    /* stride when block_alignment >= FL_ALIGN_DEFAULT, else 0: a request of alignment 0
     * (the default) and size s fits a block exactly when s - 1 < default_limit, so the
     * common request needs one comparison. */
    size_t default_limit;
    size_t inverse;           /* (stride >> shift) * inverse == 1 modulo 2^N */
    unsigned shift;           /* trailing zero bits of stride */
    /* The pool's statistics take fewer stores than fli_count_allocation's (every block
     * consumes the stride, so most counters follow from two): allocate adds to
     * base.counters.total_allocations and requested_bytes, free to total_deallocations,
     * and the rest is derived when read (pool.c, pool_counters); base.counters.used_bytes,
     * allocation_count, peak_used_bytes and consumed_bytes stay 0. On a W1-style loop the
     * stores, not the instructions, were what the counters cost. The peak costs nothing
     * on the hot path: since the last reset it is the watermark (pool.c, "The peak"). */
    size_t peak_before_reset; /* most blocks live at once from create to the last reset */
    uint64_t taken_at_reset;  /* total_allocations at the last reset (consumed bytes since) */
} fli_pool;

/* sizeof(fli_pool) is a multiple of its alignment, which is at least a uint32_t's. */
static inline uint32_t *fli_pool_bitmap(fli_pool *p) { return (uint32_t *)(void *)(p + 1); }
static inline const uint32_t *fli_pool_const_bitmap(const fli_pool *p)
{
    return (const uint32_t *)(const void *)(p + 1);
}

/* Block `index`'s bit: bit index % 32 of bitmap word index / 32 (1 = allocated). */
#define FLI_POOL_WORD_BITS 32u
static inline uint32_t fli_pool_bit(size_t index) { return (uint32_t)1u << (index % FLI_POOL_WORD_BITS); }

/*
 * The index of the block that starts `offset` bytes after the first one, or a value >=
 * block_count when no block starts there (offset past the blocks, inside a block, or a
 * "negative" offset wrapped around): one multiply and one rotation, no division. Proof in
 * pool.c ("block_index"); every size_t offset is answered exactly.
 */
static inline size_t fli_pool_block_index(const fli_pool *p, size_t offset)
{
    const unsigned bits = (unsigned)(sizeof(size_t) * 8u);
    size_t x = offset * p->inverse;
    /* Rotate right by shift (< bits); the masked left count keeps shift 0 defined. */
    return (x >> p->shift) | (x << ((bits - p->shift) & (bits - 1u)));
}

/* The free-list link a free block holds in its first bytes: the next free block or NULL,
 * maybe unaligned (a block may be aligned to less than a pointer). */
static inline unsigned char *fli_pool_next_free(const unsigned char *block)
{
    unsigned char *next;
    FLI_DETAIL_MEMCPY(&next, block, sizeof next);
    return next;
}

/* True when a request of `size` bytes aligned to `alignment` (0: the default; otherwise a
 * power of two, or any value when it exceeds the block's alignment) fits a block, size 0
 * excluded. With a constant alignment 0 this is one comparison. */
static inline bool fli_pool_fits(const fli_pool *p, size_t size, size_t alignment)
{
    if (alignment == 0) return size - 1u < p->default_limit;
    return size - 1u < p->stride && alignment <= p->block_alignment && (alignment & (alignment - 1u)) == 0;
}

/* Counts one allocation of `size` bytes: two adds (see fli_pool's counters). */
static inline void fli_pool_count_take(fli_pool *p, size_t size)
{
    fli_counters *c = &p->base.counters;
    c->total_allocations++;
    c->requested_bytes += size;
}

/* Hands out the head of the free list (free_head != NULL): unlinks it, marks it allocated,
 * counts it. The caller has checked size and alignment against the block's. */
static inline unsigned char *fli_pool_take_head(fli_pool *p, size_t size)
{
    unsigned char *block = p->free_head;
    p->free_head = fli_pool_next_free(block);
    size_t index = fli_pool_block_index(p, (size_t)((uintptr_t)block - (uintptr_t)p->first));
    fli_pool_bitmap(p)[index / FLI_POOL_WORD_BITS] |= fli_pool_bit(index);
    fli_pool_count_take(p, size);
    return block;
}

/* Frees the block at `ptr` when it is a live block of this pool and answers true; answers
 * false, with nothing changed, for anything else (foreign, interior, free, NULL). */
static inline bool fli_pool_give_back(fli_pool *p, void *ptr)
{
    size_t index = fli_pool_block_index(p, (size_t)((uintptr_t)ptr - (uintptr_t)p->first));
    /* Blocks at or above the watermark are never live (and their bits may be stale). */
    if (index >= p->watermark) return false;
    uint32_t *word = fli_pool_bitmap(p) + index / FLI_POOL_WORD_BITS;
    uint32_t bit = fli_pool_bit(index);
    /* Flip the bit, then look at it: set now means it was clear, a free block (a double
     * free). Fewer instructions than a test and a separate clear. */
    uint32_t flipped = *word ^ bit;
    if ((flipped & bit) != 0) return false;
    *word = flipped;
    FLI_DETAIL_MEMCPY(ptr, &p->free_head, sizeof p->free_head);
    p->free_head = (unsigned char *)ptr;
    p->base.counters.total_deallocations++;
    return true;
}

/* The linear allocator's control block (src/allocators/linear.c). */
typedef struct fli_linear {
    struct fl_allocator base; /* first: the public handle points here */
    unsigned char *start;     /* the bump region: base.capacity bytes */
    size_t top;               /* bytes in use; the next allocation starts at start + top */
    size_t last;              /* payload offset of the last allocation, when last_known */
    size_t last_begin;        /* `top` before the last allocation: where its padding began */
    bool last_known;
} fli_linear;

/* Bytes from the top to the next multiple of `alignment` (a power of two). */
static inline size_t fli_linear_pad(const fli_linear *l, size_t alignment)
{
    return (size_t)((uintptr_t)0 - (uintptr_t)(l->start + l->top)) & (alignment - 1u);
}

/* The allocation of `size` bytes after `pad` bytes of padding, which the caller has checked
 * fit in the room left: moves the top, remembers it as the last allocation, counts it. */
static inline void *fli_linear_bump(fli_linear *l, size_t size, size_t pad)
{
    size_t begin = l->top;
    l->last_begin = begin;
    l->last = begin + pad;
    l->last_known = true;
    l->top = begin + pad + size;
    fli_count_allocation(&l->base.counters, size, pad + size);
    return l->start + begin + pad;
}

#ifdef __cplusplus
}
#endif

#endif /* FLIGHT_DETAIL_ALLOCATORS_H */
