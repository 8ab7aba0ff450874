/* The pool allocator: fixed-size blocks, O(1), zero overhead, exact capacity, and every
 * wrong pointer refused without touching the free list (src/allocators/pool.c). */
#include "harness.h"
#include "core/poison.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define ARENA_BYTES ((size_t)4 << 20)

static unsigned char *arena_raw;
static unsigned char *arena; /* aligned to FL_ALIGN_MAX, ARENA_BYTES long */

static size_t align_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }
static uintptr_t align_up_addr(uintptr_t x, size_t a) { return (x + (uintptr_t)(a - 1)) & ~(uintptr_t)(a - 1); }

static size_t expected_stride(size_t block_size, size_t align)
{
    return align_up(block_size < sizeof(void *) ? sizeof(void *) : block_size, align);
}

static fl_status make_pool(void *buffer, size_t size, size_t block_size, size_t align, fl_allocator **out)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_POOL;
    cfg.buffer = buffer;
    cfg.size = size;
    cfg.block_size = block_size;
    cfg.block_alignment = align;
    return fl_allocator_create(&cfg, out);
}

static fl_allocator_stats stats_of(const fl_allocator *a)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    return s;
}

static int stats_same(const fl_allocator_stats *x, const fl_allocator_stats *y)
{
    return memcmp(x, y, sizeof *x) == 0; /* get_stats zeroes the padding first */
}

/* One allocation that must succeed, as a byte pointer. */
static unsigned char *take(fl_allocator *a, size_t size, size_t align)
{
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, size, align, &p));
    return (unsigned char *)p;
}

static int message_has(const char *what) { return strstr(fl_last_error()->message, what) != NULL; }

/* ---- the layout oracle: an independent computation of the block count --------------------- */

/* Control-block bytes before the bitmap, measured once from a pool with alignment 1, where
 * block 0 starts right after the bitmap. */
static size_t header_bytes;

static size_t bitmap_bytes(size_t n) { return (n + 31) / 32 * 4; }

/* Offset from memory of block 0 when the pool holds n blocks. */
static size_t oracle_first(uintptr_t memory, size_t n, size_t align)
{
    return (size_t)(align_up_addr(memory + header_bytes + bitmap_bytes(n), align) - memory);
}

/* The largest block count, scanning bitmap word counts (not the binary search pool.c does). */
static size_t oracle_count(uintptr_t memory, size_t size, size_t stride, size_t align)
{
    size_t best = 0;
    for (size_t words = 1; 32 * (words - 1) <= size / stride; words++) {
        size_t first = (size_t)(align_up_addr(memory + header_bytes + 4 * words, align) - memory);
        if (first > size) break;
        size_t count = (size - first) / stride;
        if (count > 32 * words) count = 32 * words;
        if (count > best) best = count;
    }
    return best;
}

static void test_measure_header(void)
{
    fl_allocator *a = NULL;
    CHECK_OK(make_pool(arena, 4096, 8, 1, &a));
    size_t stride = expected_stride(8, 1);
    size_t n = stats_of(a).total_capacity / stride;
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 8, 1, &p));
    header_bytes = (size_t)((unsigned char *)p - arena) - bitmap_bytes(n);
    /* The base header plus the pool's fields: more than a few words, far less than a page. */
    CHECK(header_bytes >= 8 * sizeof(void *) && header_bytes < 1024);
    CHECK_EQ_SIZE(n, oracle_count((uintptr_t)arena, 4096, stride, 1));
    fl_allocator_destroy(a);
}

/* ---- configuration ------------------------------------------------------------------------ */

static void test_config_errors(void)
{
    fl_allocator *a = NULL;
    CHECK_STATUS(make_pool(arena, 4096, 0, 0, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("block_size 0"));
    CHECK_STATUS(make_pool(arena, 4096, 16, 3, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("3") && message_has("power of two"));
    CHECK_STATUS(make_pool(arena, 4096, 16, 24, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("24"));
    CHECK_STATUS(make_pool(arena, ARENA_BYTES, 16, FL_ALIGN_MAX * 2, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("131072"));
    CHECK_STATUS(make_pool(arena, 4096, SIZE_MAX, 16, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("overflows"));
    CHECK_STATUS(make_pool(arena, 4096, SIZE_MAX - 10, 1, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(make_pool(arena, ARENA_BYTES, SIZE_MAX / 2, 16, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("holds no block"));
    CHECK_STATUS(make_pool(arena, 64, 8, 8, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("buffer of 64 bytes holds no block of 8"));
    CHECK(a == NULL);

    /* The smallest buffer that holds one block, exactly. */
    static const size_t sizes[] = {1, 8, 24, 100};
    static const size_t aligns[] = {1, 8, 64, 4096};
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++) {
            size_t stride = expected_stride(sizes[i], aligns[j]);
            size_t minimum = oracle_first((uintptr_t)arena, 1, aligns[j]) + stride;
            CHECK_STATUS(make_pool(arena, minimum - 1, sizes[i], aligns[j], &a), FL_ERR_INVALID_PARAMETERS);
            CHECK(message_has("holds no block"));
            CHECK_OK(make_pool(arena, minimum, sizes[i], aligns[j], &a));
            CHECK_EQ_SIZE(stats_of(a).total_capacity, stride);
            fl_allocator_destroy(a);
        }

    /* Alignment 0 is FL_ALIGN_DEFAULT. */
    CHECK_OK(make_pool(arena, 4096, 5, 0, &a));
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 5, FL_ALIGN_DEFAULT, &p));
    CHECK_EQ_SIZE(stats_of(a).used_bytes, expected_stride(5, FL_ALIGN_DEFAULT));
    CHECK_STATUS(fl_allocator_allocate(a, 5, FL_ALIGN_DEFAULT * 2, &p), FL_ERR_INVALID_PARAMETERS);
    fl_allocator_destroy(a);
}

/* Capacity is exactly n * stride for the largest n that fits, and block i sits at
 * first + i * stride, for many sizes, alignments and buffer placements. */
static void test_capacity_exact(void)
{
    static const size_t block_sizes[] = {1, 3, 8, 24, 100, 1000};
    static const size_t aligns[] = {1, 2, 8, 16, 64, 256, 4096};
    static const size_t offsets[] = {0, 16, 48, 4096 - 16, 5}; /* 5: allocator.c skips to 16 */
    static const size_t sizes[] = {300, 1001, 4099, 20000 + 7};
    size_t cases = 0;
    for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++)
        for (size_t b = 0; b < sizeof block_sizes / sizeof block_sizes[0]; b++)
            for (size_t al = 0; al < sizeof aligns / sizeof aligns[0]; al++)
                for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                    unsigned char *buffer = arena + offsets[o];
                    uintptr_t memory = align_up_addr((uintptr_t)buffer, FL_ALIGN_DEFAULT);
                    size_t size = sizes[s] - (size_t)(memory - (uintptr_t)buffer);
                    size_t stride = expected_stride(block_sizes[b], aligns[al]);
                    size_t n = oracle_count(memory, size, stride, aligns[al]);
                    fl_allocator *a = NULL;
                    fl_status st = make_pool(buffer, sizes[s], block_sizes[b], aligns[al], &a);
                    if (n == 0) {
                        CHECK_STATUS(st, FL_ERR_INVALID_PARAMETERS);
                        continue;
                    }
                    CHECK_OK(st);
                    cases++;
                    fl_allocator_stats stats = stats_of(a);
                    CHECK_EQ_SIZE(stats.total_capacity, n * stride);
                    CHECK_EQ_SIZE(stats.largest_free_block, stride);
                    /* n fits, n + 1 does not. */
                    CHECK(oracle_first(memory, n, aligns[al]) + n * stride <= size);
                    CHECK(oracle_first(memory, n + 1, aligns[al]) + (n + 1) * stride > size);
                    unsigned char *first = (unsigned char *)memory + oracle_first(memory, n, aligns[al]);
                    for (size_t i = 0; i < n; i++) {
                        void *p = NULL;
                        CHECK_OK(fl_allocator_allocate(a, block_sizes[b] < stride ? block_sizes[b] : stride, 1, &p));
                        CHECK(p == first + i * stride);
                    }
                    CHECK(first + n * stride <= (unsigned char *)memory + size);
                    void *p = NULL;
                    CHECK_STATUS(fl_allocator_allocate(a, 1, 1, &p), FL_ERR_OUT_OF_MEMORY);
                    CHECK_OK(fl_allocator_validate(a));
                    fl_allocator_destroy(a);
                }
    CHECK(cases > 500);
}

/* ---- alignment ---------------------------------------------------------------------------- */

static unsigned log2_of(size_t x)
{
    unsigned r = 0;
    while (x >>= 1) r++;
    return r;
}

/* Every block of a pool with block_alignment A is aligned to A, for A = 1 .. FL_ALIGN_MAX,
 * and requests for any alignment up to A succeed while 2A is refused. */
static void test_all_alignments(void)
{
    for (size_t align = 1; align <= FL_ALIGN_MAX; align *= 2) {
        size_t block_sizes[] = {1, align, align + 1, align * 3 / 2 + 1};
        for (size_t b = 0; b < 4; b++) {
            size_t stride = expected_stride(block_sizes[b], align);
            fl_allocator *a = NULL;
            CHECK_OK(make_pool(arena + 16, 1024 + align + 6 * stride, block_sizes[b], align, &a));
            size_t n = stats_of(a).total_capacity / stride;
            CHECK(n >= 5 && stats_of(a).total_capacity == n * stride);
            for (size_t i = 0; i < n; i++) {
                void *p = NULL;
                size_t want = (size_t)1 << (i % (log2_of(align) + 1));
                CHECK_OK(fl_allocator_allocate(a, 1 + (i * 7) % stride, want, &p));
                CHECK_MSG(((uintptr_t)p & (align - 1)) == 0, "block %p not aligned to %zu", p, align);
                CHECK(fl_allocator_owns(a, p));
            }
            fl_allocator_stats before = stats_of(a);
            void *p = &p;
            if (align < FL_ALIGN_MAX) {
                CHECK_STATUS(fl_allocator_allocate(a, 1, align * 2, &p), FL_ERR_INVALID_PARAMETERS);
                char both[80];
                snprintf(both, sizeof both, "alignment %zu exceeds the pool's block alignment %zu", align * 2, align);
                CHECK(message_has(both));
            }
            CHECK_STATUS(fl_allocator_allocate(a, stride + 1, 1, &p), FL_ERR_INVALID_PARAMETERS);
            char both[80];
            snprintf(both, sizeof both, "size %zu exceeds the pool's block size %zu", stride + 1, stride);
            CHECK(message_has(both));
            CHECK(p == (void *)&p);
            fl_allocator_stats after = stats_of(a);
            CHECK(stats_same(&before, &after));
            CHECK_OK(fl_allocator_validate(a));
            fl_allocator_destroy(a);
        }
    }
}

/* block_size 1 gives blocks of one pointer (the free-list link lives in a free block); an
 * odd stride with alignment 1 puts links at odd addresses, which must still work. */
static void test_tiny_and_odd_blocks(void)
{
    static const size_t block_sizes[] = {1, 9, 13};
    for (size_t b = 0; b < 3; b++) {
        fl_allocator *a = NULL;
        CHECK_OK(make_pool(arena + 16, 2048, block_sizes[b], 1, &a));
        size_t stride = expected_stride(block_sizes[b], 1);
        CHECK_EQ_SIZE(stats_of(a).total_capacity % stride, 0);
        size_t n = stats_of(a).total_capacity / stride;
        void *blocks[512];
        CHECK(n <= 512 && n > 50);
        for (int round = 0; round < 3; round++) {
            for (size_t i = 0; i < n; i++) {
                CHECK_OK(fl_allocator_allocate(a, i % 2 ? 1 : stride, 1, &blocks[i]));
                size_t usable = 0;
                CHECK_OK(fl_allocator_usable_size(a, blocks[i], &usable));
                CHECK_EQ_SIZE(usable, stride);
                harness_fill(blocks[i], stride, i + 1000u * (size_t)round);
            }
            void *p = NULL;
            CHECK_STATUS(fl_allocator_allocate(a, 1, 1, &p), FL_ERR_OUT_OF_MEMORY);
            CHECK_STATUS(fl_allocator_allocate(a, stride + 1, 1, &p), FL_ERR_INVALID_PARAMETERS);
            CHECK_STATUS(fl_allocator_allocate(a, 1, 2, &p), FL_ERR_INVALID_PARAMETERS);
            /* Free odd ones then even ones: links land at every (odd) address. */
            for (size_t i = 1; i < n; i += 2) {
                CHECK(harness_pattern_ok(blocks[i], stride, i + 1000u * (size_t)round));
                CHECK_OK(fl_allocator_deallocate(a, blocks[i]));
            }
            CHECK_OK(fl_allocator_validate(a));
            for (size_t i = 0; i < n; i += 2) {
                CHECK(harness_pattern_ok(blocks[i], stride, i + 1000u * (size_t)round));
                CHECK_OK(fl_allocator_deallocate(a, blocks[i]));
            }
            CHECK_OK(fl_allocator_validate(a));
            CHECK_EQ_SIZE(stats_of(a).used_bytes, 0);
        }
        fl_allocator_destroy(a);
    }
    CHECK_EQ_SIZE(expected_stride(1, 1), sizeof(void *));
}

/* ---- wrong pointers ----------------------------------------------------------------------- */

static void expect_refused(fl_allocator *a, void *ptr, const char *why)
{
    fl_allocator_stats before = stats_of(a);
    CHECK_STATUS(fl_allocator_deallocate(a, ptr), FL_ERR_INVALID_PARAMETERS);
    CHECK_MSG(message_has(why), "wanted '%s' in '%s'", why, fl_last_error()->message);
    size_t usable = 12345;
    CHECK_STATUS(fl_allocator_usable_size(a, ptr, &usable), FL_ERR_INVALID_PARAMETERS);
    CHECK_EQ_SIZE(usable, 12345);
    fl_allocator_stats after = stats_of(a);
    CHECK(stats_same(&before, &after));
    CHECK_OK(fl_allocator_validate(a));
}

static void test_wrong_pointers(void)
{
    static const size_t block_sizes[] = {24, 32, 100};
    for (size_t b = 0; b < 3; b++) {
        fl_allocator *a = NULL;
        CHECK_OK(make_pool(arena, 16384, block_sizes[b], 4, &a));
        size_t stride = expected_stride(block_sizes[b], 4);
        size_t n = stats_of(a).total_capacity / stride;
        CHECK(n > 100);
        unsigned char *blocks[40];
        for (size_t i = 0; i < 40; i++) blocks[i] = take(a, stride, 4);
        unsigned char *first = blocks[0];
        for (size_t i = 0; i < 40; i += 3) CHECK_OK(fl_allocator_deallocate(a, blocks[i]));

        int local = 0;
        expect_refused(a, &local, "not owned");
        expect_refused(a, arena, "not owned");                           /* the control block */
        expect_refused(a, first - 1, "not owned");                       /* the bitmap's end */
        expect_refused(a, first + n * stride, "not owned");              /* one past the end */
        expect_refused(a, first + n * stride + stride, "not owned");
        CHECK(!fl_allocator_owns(a, &local) && !fl_allocator_owns(a, arena));
        CHECK(!fl_allocator_owns(a, first - 1) && !fl_allocator_owns(a, first + n * stride));
        CHECK(fl_allocator_owns(a, first) && fl_allocator_owns(a, first + n * stride - 1));

        expect_refused(a, blocks[1] + 1, "interior pointer");
        expect_refused(a, blocks[1] + stride / 2, "interior pointer");
        expect_refused(a, blocks[1] + stride - 1, "interior pointer");
        expect_refused(a, blocks[3] + 4, "interior pointer");             /* a freed block's inside */
        expect_refused(a, first + n * stride - 1, "interior pointer");   /* last byte of the pool */

        expect_refused(a, blocks[3], "double free");                      /* on the free list */
        expect_refused(a, blocks[0], "double free");
        expect_refused(a, first + 100 * stride, "double free");           /* never handed out */
        expect_refused(a, first + (n - 1) * stride, "double free");
        CHECK(fl_allocator_owns(a, blocks[3]));

        /* Nothing was corrupted: every live block frees, then the whole pool refills. */
        for (size_t i = 0; i < 40; i++)
            if (i % 3 != 0) CHECK_OK(fl_allocator_deallocate(a, blocks[i]));
        CHECK_EQ_SIZE(stats_of(a).allocation_count, 0);
        unsigned char *lowest = NULL;
        for (size_t i = 0; i < n; i++) {
            unsigned char *p = NULL;
            p = take(a, 1, 1);
            CHECK((size_t)(p - first) % stride == 0 && (size_t)(p - first) < n * stride);
            if (lowest == NULL || p < lowest) lowest = p;
        }
        CHECK(lowest == first);
        void *p = NULL;
        CHECK_STATUS(fl_allocator_allocate(a, 1, 1, &p), FL_ERR_OUT_OF_MEMORY);
        CHECK_OK(fl_allocator_validate(a));
        CHECK_EQ_SIZE(stats_of(a).used_bytes, n * stride);
        fl_allocator_destroy(a);
    }
}

/* Every byte offset around the pool, for strides that are and are not powers of two: only
 * block starts are accepted, which exercises the division-free block index everywhere. */
static void test_block_index_every_offset(void)
{
    static const size_t configs[][2] = {{8, 8},   {12, 4},  {20, 4},  {24, 8},  {40, 8},   {56, 8},
                                        {100, 4}, {9, 1},   {13, 1},  {255, 1}, {96, 32},  {192, 64},
                                        {3, 1},   {64, 64}, {80, 16}, {7, 1},   {768, 256}, {12288, 4096}};
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        size_t stride = expected_stride(configs[c][0], configs[c][1]);
        fl_allocator *a = NULL;
        CHECK_OK(make_pool(arena, stride * 40 + 8192, configs[c][0], configs[c][1], &a));
        size_t n = stats_of(a).total_capacity / stride;
        unsigned char *first = NULL;
        first = take(a, 1, 1);
        for (size_t i = 1; i < n; i++) {
            void *p = NULL;
            CHECK_OK(fl_allocator_allocate(a, 1, 1, &p));
        }
        fl_allocator_stats before = stats_of(a);
        for (unsigned char *q = first - 64; q < first + n * stride + 64; q++) {
            size_t usable = 0;
            bool inside = q >= first && q < first + n * stride;
            bool start = inside && (size_t)(q - first) % stride == 0;
            CHECK(fl_allocator_owns(a, q) == inside);
            CHECK_STATUS(fl_allocator_usable_size(a, q, &usable), start ? FL_OK : FL_ERR_INVALID_PARAMETERS);
            if (start) CHECK_EQ_SIZE(usable, stride);
            if (!start) CHECK_STATUS(fl_allocator_deallocate(a, q), FL_ERR_INVALID_PARAMETERS);
        }
        fl_allocator_stats after = stats_of(a);
        CHECK(stats_same(&before, &after));
        for (size_t i = 0; i < n; i++) CHECK_OK(fl_allocator_deallocate(a, first + i * stride));
        CHECK_OK(fl_allocator_validate(a));
        fl_allocator_destroy(a);
    }
}

/* ---- lifetime: exhaust, free, refill, reset ------------------------------------------------ */

static int compare_pointers(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t) * (void *const *)x, b = (uintptr_t) * (void *const *)y;
    return a < b ? -1 : a > b;
}

static void test_exhaust_and_refill(void)
{
    harness_rng rng = harness_rng_seeded("test_exhaust_and_refill", 0x9001);
    fl_allocator *a = NULL;
    CHECK_OK(make_pool(arena, 24 * 1024, 48, 16, &a));
    size_t stride = 48, n = stats_of(a).total_capacity / stride;
    static void *blocks[1024], *again[1024];
    CHECK(n > 300 && n <= 1024);
    for (size_t i = 0; i < n; i++) CHECK_OK(fl_allocator_allocate(a, 40, 16, &blocks[i]));
    qsort(blocks, n, sizeof blocks[0], compare_pointers);
    for (int round = 0; round < 4; round++) {
        /* Out of memory: a clean failure, counted, *out untouched, nothing else changes. */
        fl_allocator_stats before = stats_of(a);
        CHECK_EQ_SIZE(before.largest_free_block, 0);
        CHECK_EQ_SIZE(before.free_bytes, 0);
        void *p = &p;
        CHECK_STATUS(fl_allocator_allocate(a, 1, 1, &p), FL_ERR_OUT_OF_MEMORY);
        CHECK(p == (void *)&p);
        CHECK(message_has("in use"));
        fl_allocator_stats after = stats_of(a);
        CHECK(after.failed_allocations == before.failed_allocations + 1);
        after.failed_allocations = before.failed_allocations;
        CHECK(stats_same(&before, &after));

        /* Free in a random order, then take them all back. */
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = harness_range(&rng, 0, i);
            void *t = blocks[i];
            blocks[i] = blocks[j];
            blocks[j] = t;
        }
        for (size_t i = 0; i < n; i++) {
            CHECK_OK(fl_allocator_deallocate(a, blocks[i]));
            if (i % 97 == 0) CHECK_OK(fl_allocator_validate(a));
        }
        CHECK_EQ_SIZE(stats_of(a).used_bytes, 0);
        CHECK_EQ_SIZE(stats_of(a).largest_free_block, stride);
        CHECK_OK(fl_allocator_validate(a));
        for (size_t i = 0; i < n; i++) {
            CHECK_OK(fl_allocator_allocate(a, 1 + i % stride, 1, &again[i]));
            /* LIFO: the last freed block comes back first. */
            if (i == 0) CHECK(again[0] == blocks[n - 1]);
        }
        qsort(blocks, n, sizeof blocks[0], compare_pointers);
        qsort(again, n, sizeof again[0], compare_pointers);
        CHECK(memcmp(blocks, again, n * sizeof blocks[0]) == 0);
        CHECK_OK(fl_allocator_validate(a));
    }
    CHECK(stats_of(a).failed_allocations == 4);
    fl_allocator_destroy(a);
}

static void test_reset(void)
{
    fl_allocator *a = NULL;
    CHECK_OK(make_pool(arena, 8192, 16, 16, &a));
    size_t stride = 16, n = stats_of(a).total_capacity / stride;
    unsigned char *blocks[70];
    for (size_t i = 0; i < 70; i++) blocks[i] = take(a, 8, 8);
    for (size_t i = 10; i < 15; i++) CHECK_OK(fl_allocator_deallocate(a, blocks[i]));
    fl_allocator_stats before = stats_of(a);
    CHECK(before.allocation_efficiency == 0.5);
    fl_allocator_reset(a);
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK_EQ_SIZE(s.free_bytes, n * stride);
    CHECK_EQ_SIZE(s.peak_used_bytes, 70 * stride);
    CHECK(s.total_deallocations == 70 && s.total_allocations == 70);
    CHECK(s.allocation_efficiency == 1.0);
    CHECK_EQ_SIZE(s.largest_free_block, stride);
    CHECK_OK(fl_allocator_validate(a));

    /* Pointers from before the reset are all free now, whatever their stale bits say. */
    expect_refused(a, blocks[5], "double free");
    expect_refused(a, blocks[40], "double free");
    expect_refused(a, blocks[69], "double free");
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 16, 1, &p));
    CHECK(p == blocks[0]); /* the list was emptied, the watermark restarts at block 0 */
    expect_refused(a, blocks[5], "double free");
    expect_refused(a, blocks[31], "double free");
    expect_refused(a, blocks[33], "double free");
    CHECK_OK(fl_allocator_deallocate(a, p));
    CHECK_OK(fl_allocator_validate(a));

    /* The whole pool is there again. */
    for (size_t i = 0; i < n; i++) {
        unsigned char *q = NULL;
        q = take(a, 16, 16);
        CHECK(q == blocks[0] + i * stride); /* block 0 from the list, then the watermark's */
    }
    CHECK_STATUS(fl_allocator_allocate(a, 16, 16, &p), FL_ERR_OUT_OF_MEMORY);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_reset(a);
    CHECK_OK(fl_allocator_validate(a));
    CHECK_EQ_SIZE(stats_of(a).used_bytes, 0);
    fl_allocator_destroy(a);
}

/* ---- statistics, walk, validate ------------------------------------------------------------ */

static void test_stats(void)
{
    fl_allocator *a = NULL;
    CHECK_OK(make_pool(arena, 4096, 20, 16, &a));
    size_t stride = 32, n = stats_of(a).total_capacity / stride;
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.allocation_overhead, 0);
    CHECK(s.fragmentation_ratio == 0.0 && !s.supports_defrag);
    CHECK(s.allocation_efficiency == 1.0);
    CHECK(fl_allocator_kind(a) == FL_ALLOCATOR_POOL && strcmp(fl_allocator_name(a), "Pool") == 0);
    void *x = NULL, *y = NULL, *z = NULL;
    CHECK_OK(fl_allocator_allocate(a, 10, 0, &x));
    CHECK_OK(fl_allocator_allocate(a, 20, 4, &y));
    CHECK_OK(fl_allocator_allocate(a, 32, 16, &z));
    s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 3 * stride);
    CHECK_EQ_SIZE(s.allocation_count, 3);
    volatile double efficiency = 62.0 / 96.0; /* rounded to double, also on x87 */
    CHECK(s.allocation_efficiency == efficiency);
    CHECK(s.fragmentation_ratio == 0.0);
    CHECK_EQ_SIZE(s.largest_free_block, stride);
    harness_check_stats_identities(a);
    CHECK_OK(fl_allocator_deallocate(a, y));
    s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 2 * stride);
    CHECK_EQ_SIZE(s.peak_used_bytes, 3 * stride);
    CHECK(s.total_allocations == 3 && s.total_deallocations == 1);
    CHECK(s.fragmentation_ratio == 0.0); /* a hole below the watermark is not fragmentation */

    fl_marker m = fl_allocator_mark(a);
    CHECK(m.offset == 0 && m.count == 0 && m.last == 0);
    CHECK_STATUS(fl_allocator_rewind(a, m), FL_ERR_NOT_SUPPORTED);

    /* Full: nothing is free, largest 0. */
    for (size_t i = 2; i < n; i++) CHECK_OK(fl_allocator_allocate(a, 1, 1, &y));
    s = stats_of(a);
    CHECK_EQ_SIZE(s.free_bytes, 0);
    CHECK_EQ_SIZE(s.largest_free_block, 0);
    CHECK(s.fragmentation_ratio == 0.0);
    harness_check_stats_identities(a);
    fl_allocator_destroy(a);

    /* From platform pages. */
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_POOL;
    cfg.size = 1 << 16;
    cfg.block_size = 64;
    cfg.name = "pages";
    CHECK_OK(fl_allocator_create(&cfg, &a));
    CHECK(strcmp(fl_allocator_name(a), "pages") == 0);
    s = stats_of(a);
    CHECK(s.total_capacity > 60000 && s.total_capacity % 64 == 0);
    CHECK_OK(fl_allocator_allocate(a, 64, FL_ALIGN_DEFAULT, &x));
    CHECK_STATUS(fl_allocator_allocate(a, 64, FL_ALIGN_DEFAULT * 2, &x), FL_ERR_INVALID_PARAMETERS);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
}

typedef struct walk_log {
    const unsigned char *next;
    size_t stride, blocks, used;
    const unsigned char *live[8];
    int ordered, sized, flags;
} walk_log;

static void on_block(const void *block, size_t size, bool used, void *user)
{
    walk_log *w = (walk_log *)user;
    if (w->next != NULL && block != w->next) w->ordered = 0;
    if (size != w->stride) w->sized = 0;
    bool expect = false;
    for (int i = 0; i < 8; i++)
        if (w->live[i] == block) expect = true;
    if (expect != used) w->flags = 0;
    w->next = (const unsigned char *)block + size;
    w->blocks++;
    w->used += used;
}

static void test_walk(void)
{
    fl_allocator *a = NULL;
    CHECK_OK(make_pool(arena, 4096, 40, 8, &a));
    size_t stride = 40, n = stats_of(a).total_capacity / stride;
    unsigned char *blocks[10];
    for (size_t i = 0; i < 10; i++) blocks[i] = take(a, 40, 8);
    CHECK_OK(fl_allocator_deallocate(a, blocks[2]));
    CHECK_OK(fl_allocator_deallocate(a, blocks[5]));
    CHECK_OK(fl_allocator_deallocate(a, blocks[9]));
    walk_log w = {NULL, stride, 0, 0, {blocks[0], blocks[1], blocks[3], blocks[4], blocks[6], blocks[7], blocks[8], NULL},
                  1, 1, 1};
    CHECK_OK(fl_allocator_walk(a, on_block, &w));
    CHECK(w.ordered && w.sized && w.flags);
    CHECK_EQ_SIZE(w.blocks, n);
    CHECK_EQ_SIZE(w.used, 7);
    CHECK(w.next == blocks[0] + n * stride);
    CHECK_STATUS(fl_allocator_walk(a, NULL, NULL), FL_ERR_INVALID_PARAMETERS);

    fl_allocator_reset(a);
    walk_log empty = {NULL, stride, 0, 0, {NULL}, 1, 1, 1};
    CHECK_OK(fl_allocator_walk(a, on_block, &empty));
    CHECK(empty.ordered && empty.sized && empty.flags);
    CHECK_EQ_SIZE(empty.blocks, n);
    CHECK_EQ_SIZE(empty.used, 0);
    fl_allocator_destroy(a);
}

/* A use-after-free write into a free block's link: validate names it; the pool recovers
 * once the link is restored. */
static void test_validate_detects_corruption(void)
{
    fl_allocator *a = NULL;
    CHECK_OK(make_pool(arena, 4096, 24, 8, &a));
    unsigned char *blocks[10];
    for (size_t i = 0; i < 10; i++) blocks[i] = take(a, 24, 8);
    CHECK_OK(fl_allocator_deallocate(a, blocks[2]));
    CHECK_OK(fl_allocator_deallocate(a, blocks[5]));
    CHECK_OK(fl_allocator_deallocate(a, blocks[7])); /* list: 7 -> 5 -> 2 */
    unsigned char saved[sizeof(void *)];
    FLI_OPEN(blocks[7], sizeof saved); /* a free block's link, poisoned for memory checkers */
    memcpy(saved, blocks[7], sizeof saved);

    struct {
        void *link;
        const char *why;
    } cases[] = {
        {arena_raw, "outside"},       {blocks[9] + 24, "outside"}, /* above the watermark */
        {blocks[4] + 3, "not a block start"}, {blocks[7], "cycle"},
        {blocks[0], "allocated"},     {NULL, "free list holds 1 blocks but 3"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        FLI_OPEN(blocks[7], sizeof(void *));
        memcpy(blocks[7], &cases[c].link, sizeof(void *));
        CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
        CHECK_MSG(message_has(cases[c].why), "wanted '%s' in '%s'", cases[c].why, fl_last_error()->message);
        FLI_OPEN(blocks[7], sizeof saved);
        memcpy(blocks[7], saved, sizeof saved);
        CHECK_OK(fl_allocator_validate(a));
    }
    fl_allocator_destroy(a);
}

/* ---- threads -------------------------------------------------------------------------------- */

typedef struct worker {
    fl_allocator *a;
    unsigned id;
    uint64_t ops, allocations;
    int failures;
} worker;

static void *worker_run(void *arg)
{
    worker *w = (worker *)arg;
    harness_rng rng = {0x5EED0000u + w->id};
    void *live[32];
    uint64_t ids[32];
    size_t count = 0;
    for (uint64_t op = 0; op < w->ops; op++) {
        if (count < 32 && (count == 0 || harness_next(&rng) % 2 == 0)) {
            void *p = NULL;
            if (fl_allocator_allocate(w->a, 64, 16, &p) != FL_OK) {
                w->failures++;
                continue;
            }
            ids[count] = ((uint64_t)w->id << 40) | op;
            harness_fill(p, 64, ids[count]);
            live[count++] = p;
            w->allocations++;
        } else {
            size_t i = (size_t)(harness_next(&rng) % count);
            if (!harness_pattern_ok(live[i], 64, ids[i])) w->failures++;
            if (fl_allocator_deallocate(w->a, live[i]) != FL_OK) w->failures++;
            live[i] = live[--count];
            ids[i] = ids[count];
        }
    }
    while (count > 0) {
        count--;
        if (!harness_pattern_ok(live[count], 64, ids[count])) w->failures++;
        if (fl_allocator_deallocate(w->a, live[count]) != FL_OK) w->failures++;
    }
    return NULL;
}

static void test_threads(void)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_POOL;
    cfg.buffer = arena;
    cfg.size = 64 * 1024;
    cfg.block_size = 64;
    cfg.block_alignment = 16;
    cfg.thread_safe = true;
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    enum { THREADS = 4 };
    worker workers[THREADS];
    pthread_t threads[THREADS];
    for (unsigned t = 0; t < THREADS; t++) {
        workers[t] = (worker){a, t, harness_scaled(50000), 0, 0};
        CHECK(pthread_create(&threads[t], NULL, worker_run, &workers[t]) == 0);
    }
    uint64_t allocations = 0;
    for (unsigned t = 0; t < THREADS; t++) {
        CHECK(pthread_join(threads[t], NULL) == 0);
        CHECK(workers[t].failures == 0);
        allocations += workers[t].allocations;
    }
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK(s.total_allocations == allocations && s.total_deallocations == allocations);
    CHECK(s.peak_used_bytes <= THREADS * 32 * 64);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
}

int main(void)
{
    arena_raw = (unsigned char *)malloc(ARENA_BYTES + FL_ALIGN_MAX);
    if (arena_raw == NULL) return 1;
    arena = (unsigned char *)align_up_addr((uintptr_t)arena_raw, FL_ALIGN_MAX);
    RUN(test_measure_header);
    RUN(test_config_errors);
    RUN(test_capacity_exact);
    RUN(test_all_alignments);
    RUN(test_tiny_and_odd_blocks);
    RUN(test_wrong_pointers);
    RUN(test_block_index_every_offset);
    RUN(test_exhaust_and_refill);
    RUN(test_reset);
    RUN(test_stats);
    RUN(test_walk);
    RUN(test_validate_detects_corruption);
    RUN(test_threads);
    free(arena_raw);
    return harness_finish();
}
