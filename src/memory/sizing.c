/*
 * The sizing helper: how large a region must be for its strategy's worst case, so that a
 * 16 MiB machine can be budgeted before it ships. Pure arithmetic: no memory is touched.
 *
 * Inputs: P = peak live bytes (requested sizes), L = largest request, S = smallest request.
 * At most n = ceil(P / S) allocations are live at once. Each strategy's bound (the header
 * of fl_memory_size_region says which results they come from):
 *
 *   LINEAR   P + n * (G - 1) + G             every request rounded to the granule G
 *   STACK    P + n * (2G - 1 + W) + G         plus a header word W and up to G of padding
 *   POOL     n * B + n / 8 + 1 + PAGE         one class of block B = L: n blocks, bitmap, pad
 *   BUDDY    (r + 1) * N units of U bytes     N = what live blocks consume, in units, rounded
 *                                             up to a multiple of 2^r; 2^r units = L rounded
 *                                             to a power of two (Knuth's bound); + map, pad
 *   FREELIST C + (n + 1) * 2K + K             C = consumed live bytes, K = the largest
 *                                             request's block: a free list coalesces, so at
 *                                             most n + 1 free blocks exist, and a request
 *                                             fails only when each is smaller than about
 *                                             2K (its size-class rounding included)
 *   SYSTEM   P + n * G                        the platform heap's own slack is its own
 *
 * Every bound then adds the allocator's bookkeeping that lives in the region: a fixed
 * FIXED_BOOKKEEPING for control blocks and alignment pads, plus the free list's live-block
 * bitmap (1/64 of its area at most) and the buddy's state map (1/U of its area).
 */
#include "memory_internal.h"

#define FIXED_BOOKKEEPING ((size_t)16384)
#define BUDDY_UNIT ((size_t)64)         /* the buddy's default smallest block */
#define PER_BLOCK_OVERHEAD ((size_t)64) /* a free-list block: header, rounding, minimum size */

typedef struct calc {
    size_t value;
    bool overflow;
} calc;

static void add(calc *c, size_t x)
{
    if (c->value > SIZE_MAX - x) c->overflow = true;
    else c->value += x;
}

static size_t mul(calc *c, size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a) {
        c->overflow = true;
        return 0;
    }
    return a * b;
}

static size_t round_pow2(calc *c, size_t x)
{
    size_t p = 1;
    while (p < x) {
        if (p > SIZE_MAX / 2) {
            c->overflow = true;
            return 0;
        }
        p *= 2;
    }
    return p;
}

fl_status fl_memory_size_region(fl_allocator_type strategy, size_t peak_live_bytes, size_t largest_allocation,
                                size_t smallest_allocation, size_t *capacity)
{
    if (capacity == NULL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_size_region: capacity is NULL");
    if ((unsigned)strategy >= FL_ALLOCATOR_TYPE_COUNT)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "allocator type %d is not a strategy", (int)strategy);
    if (peak_live_bytes == 0 || largest_allocation == 0)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "peak_live_bytes and largest_allocation must not be 0");
    size_t smallest = smallest_allocation ? smallest_allocation : 1;
    if (smallest > largest_allocation)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "smallest_allocation %zu exceeds largest_allocation %zu", smallest,
                        largest_allocation);
    if (largest_allocation > peak_live_bytes)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "largest_allocation %zu exceeds peak_live_bytes %zu",
                        largest_allocation, peak_live_bytes);

    const size_t G = FLI_GRANULE, W = sizeof(size_t), P = peak_live_bytes, L = largest_allocation;
    size_t n = P / smallest + (P % smallest != 0);
    calc c = {0, false};
    switch (strategy) {
    case FL_ALLOCATOR_LINEAR:
        add(&c, P);
        add(&c, mul(&c, n, G - 1));
        add(&c, G);
        break;
    case FL_ALLOCATOR_STACK:
        add(&c, P);
        add(&c, mul(&c, n, 2 * G - 1 + W));
        add(&c, G);
        break;
    case FL_ALLOCATOR_POOL:
        add(&c, mul(&c, n, L < sizeof(void *) ? sizeof(void *) : L));
        add(&c, n / 8 + 1);
        add(&c, FL_ALIGN_PAGE);
        break;
    case FL_ALLOCATOR_BUDDY: {
        /* Live blocks consume at most 2s + U each (a power of two, at least one unit). */
        calc consumed = {0, false};
        add(&consumed, mul(&consumed, P, 2));
        add(&consumed, mul(&consumed, n, BUDDY_UNIT));
        size_t top = round_pow2(&c, L < BUDDY_UNIT ? BUDDY_UNIT : L) / BUDDY_UNIT; /* 2^r units */
        unsigned r = fli_log2_floor(top);
        size_t units = consumed.value / BUDDY_UNIT + 1;
        units = (units + top - 1) / top * top;
        if (consumed.overflow) c.overflow = true;
        size_t area = mul(&c, mul(&c, units, (size_t)r + 1), BUDDY_UNIT);
        add(&c, area);
        add(&c, area / BUDDY_UNIT); /* the state map */
        add(&c, FL_ALIGN_PAGE);     /* the area's alignment pad */
        break;
    }
    case FL_ALLOCATOR_FREELIST: {
        size_t K = L;
        add(&c, P);
        add(&c, mul(&c, n, PER_BLOCK_OVERHEAD));
        calc k = {K, false};
        add(&k, PER_BLOCK_OVERHEAD);
        if (k.overflow) c.overflow = true;
        add(&c, mul(&c, n + 1, mul(&c, k.value, 2)));
        add(&c, k.value);
        add(&c, c.value / 64); /* the live-block bitmap */
        break;
    }
    case FL_ALLOCATOR_SYSTEM:
        add(&c, P);
        add(&c, mul(&c, n, G));
        break;
    case FL_ALLOCATOR_TYPE_COUNT:
    case FL_ALLOCATOR_AUTO: break;
    }
    add(&c, FIXED_BOOKKEEPING);
    if (c.overflow)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "the %s bound for %zu live bytes (largest %zu, smallest %zu) does not fit in size_t",
                        fl_allocator_type_str(strategy), P, L, smallest);
    *capacity = c.value;
    return FL_OK;
}
