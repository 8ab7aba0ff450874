/* The free-list allocator (src/allocators/freelist.c): every promise of its header comment,
 * bad input for every entry point, and a quick multi-threaded run. The randomized model
 * test is test_freelist_model.c. */
#include "harness.h"

#include "core/poison.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The geometry the allocator documents, recomputed here so the tests can check it. */
#define W sizeof(size_t)
#define G (2 * W > FL_ALIGN_DEFAULT ? 2 * W : FL_ALIGN_DEFAULT)
#define MIN_BLOCK ((2 * W + 2 * sizeof(void *) + G - 1) & ~(G - 1))

static size_t round_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }

/* The block size a request of n bytes with alignment <= G consumes. */
static size_t expected_block(size_t n)
{
    size_t b = round_up(n + W, G);
    return b < MIN_BLOCK ? MIN_BLOCK : b;
}

static void *buffer_of(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL) abort();
    return p;
}

static fl_allocator *make(void *buffer, size_t size, bool thread_safe)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_FREELIST;
    cfg.buffer = buffer;
    cfg.size = size;
    cfg.thread_safe = thread_safe;
    fl_allocator *a = NULL;
    if (fl_allocator_create(&cfg, &a) != FL_OK) return NULL;
    return a;
}

static fl_allocator_stats stats_of(const fl_allocator *a)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    return s;
}

static int stats_equal(const fl_allocator_stats *x, const fl_allocator_stats *y)
{
    return memcmp(x, y, sizeof *x) == 0;
}

/* ---- walk capture ---------------------------------------------------------------------- */

typedef struct walked {
    const void *start;
    size_t size;
    bool used;
} walked;

typedef struct walk_log {
    walked blocks[4096];
    size_t count, total, free_total, largest_free_block;
    uintptr_t end; /* where the last block walked ends */
    int ordered;
} walk_log;

static void record(const void *block, size_t size, bool used, void *user)
{
    walk_log *log = (walk_log *)user;
    if (log->count > 0 && log->end != (uintptr_t)block) log->ordered = 0;
    log->end = (uintptr_t)block + size;
    if (log->count < sizeof log->blocks / sizeof log->blocks[0]) {
        walked w = {block, size, used};
        log->blocks[log->count] = w;
    }
    log->count++;
    log->total += size;
    if (!used) {
        log->free_total += size;
        if (size > log->largest_free_block) log->largest_free_block = size;
    }
}

static walk_log walk_log_storage;

static walk_log *walk_of(const fl_allocator *a)
{
    walk_log *log = &walk_log_storage;
    memset(log, 0, sizeof *log);
    log->ordered = 1;
    CHECK_OK(fl_allocator_walk(a, record, log));
    return log;
}

static void shuffle(void **items, size_t n, harness_rng *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = harness_range(rng, 0, i - 1);
        void *t = items[i - 1];
        items[i - 1] = items[j];
        items[j] = t;
    }
}

/* ---- creation and geometry --------------------------------------------------------------- */

static void test_fresh_heap(void)
{
    static const size_t sizes[] = {4096, 65536, 1u << 20, 3u << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t size = sizes[k];
        void *buffer = buffer_of(size);
        fl_allocator *a = make(buffer, size, false);
        CHECK(a != NULL);
        fl_allocator_stats s = stats_of(a);
        CHECK(s.total_capacity > 0 && s.total_capacity < size);
        CHECK_EQ_SIZE(s.total_capacity % G, 0);
        CHECK_EQ_SIZE(s.used_bytes, 0);
        CHECK_EQ_SIZE(s.free_bytes, s.total_capacity);
        CHECK_EQ_SIZE(s.allocation_count, 0);
        CHECK_EQ_SIZE(s.allocation_overhead, sizeof(size_t));
        CHECK_EQ_SIZE(s.largest_free_block, s.total_capacity - W);
        CHECK(s.fragmentation_ratio == 0.0);
        CHECK(s.allocation_efficiency == 1.0);
        CHECK(s.supports_defrag);
        harness_check_stats_identities(a);
        CHECK_OK(fl_allocator_validate(a));

        /* One free block covering the whole capacity. */
        walk_log *log = walk_of(a);
        CHECK_EQ_SIZE(log->count, 1);
        CHECK_EQ_SIZE(log->blocks[0].size, s.total_capacity);
        CHECK(!log->blocks[0].used);

        /* The bitmap (1 bit per granule) and control block are outside the capacity. */
        size_t bitmap = s.total_capacity / (8 * G);
        CHECK(size - s.total_capacity >= bitmap);
        CHECK(size - s.total_capacity <= bitmap + 8192);

        /* Exactly the whole block's payload can be taken, and then nothing. */
        void *p = NULL, *q = NULL;
        CHECK_OK(fl_allocator_allocate(a, s.largest_free_block, 1, &p));
        fl_allocator_stats full = stats_of(a);
        CHECK_EQ_SIZE(full.used_bytes, s.total_capacity);
        CHECK_EQ_SIZE(full.free_bytes, 0);
        CHECK_EQ_SIZE(full.largest_free_block, 0);
        CHECK(full.fragmentation_ratio == 0.0);
        CHECK_STATUS(fl_allocator_allocate(a, 1, 0, &q), FL_ERR_OUT_OF_MEMORY);
        CHECK(q == NULL);
        CHECK_OK(fl_allocator_validate(a));
        CHECK_OK(fl_allocator_deallocate(a, p));
        CHECK_EQ_SIZE(stats_of(a).largest_free_block, s.total_capacity - W);
        CHECK_OK(fl_allocator_validate(a));
        fl_allocator_destroy(a);
        free(buffer);
    }
}

static void test_tiny_buffers(void)
{
    unsigned char *buffer = (unsigned char *)buffer_of(8192);
    size_t smallest_working = 0, previous_capacity = 0;
    for (size_t size = 1; size <= 4096; size += 1 + size / 64) {
        fl_allocator_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.type = FL_ALLOCATOR_FREELIST;
        cfg.buffer = buffer + 1; /* misaligned on purpose: create aligns it */
        cfg.size = size;
        fl_allocator *a = (fl_allocator *)(uintptr_t)0x1;
        fl_status status = fl_allocator_create(&cfg, &a);
        if (status != FL_OK) {
            CHECK_STATUS(status, FL_ERR_INVALID_PARAMETERS);
            CHECK(a == (fl_allocator *)(uintptr_t)0x1); /* out untouched on failure */
            CHECK(smallest_working == 0);                /* every larger size works too */
            continue;
        }
        if (smallest_working == 0) smallest_working = size;
        fl_allocator_stats s = stats_of(a);
        CHECK(s.total_capacity >= MIN_BLOCK);
        /* More buffer never means (noticeably) less capacity, across list-level steps too:
         * at most one granule lost when the bitmap grows by a word. */
        CHECK_MSG(s.total_capacity + G >= previous_capacity, "size %zu: capacity %zu after %zu", size,
                  s.total_capacity, previous_capacity);
        previous_capacity = s.total_capacity;
        CHECK((uintptr_t)a >= (uintptr_t)cfg.buffer);
        CHECK((uintptr_t)a + s.total_capacity <= (uintptr_t)cfg.buffer + size);
        void *p = NULL;
        CHECK_OK(fl_allocator_allocate(a, 1, 0, &p));
        CHECK((uintptr_t)p > (uintptr_t)a && (uintptr_t)p + 1 <= (uintptr_t)cfg.buffer + size);
        CHECK_OK(fl_allocator_validate(a));
        CHECK_OK(fl_allocator_deallocate(a, p));
        CHECK_EQ_SIZE(stats_of(a).largest_free_block, s.total_capacity - W);
        fl_allocator_destroy(a);
    }
    CHECK(smallest_working > 0);
    /* A small heap pays only for the lists it can use: one first level of heads. */
    CHECK(smallest_working <= 512 + 32 * sizeof(void *) + MIN_BLOCK + 4 * G);
    free(buffer);
}

static void test_platform_pages(void)
{
    fl_allocator *a = make(NULL, 1u << 20, false);
    CHECK(a != NULL);
    CHECK(stats_of(a).total_capacity > (1u << 20) - (1u << 20) / (8 * G) - 4096);
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 1000, 0, &p));
    memset(p, 0xCD, 1000);
    CHECK_OK(fl_allocator_deallocate(a, p));
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
}

/* ---- sizes, headers, alignment ------------------------------------------------------------- */

static void test_header_overhead(void)
{
    size_t size = 1u << 20;
    void *buffer = buffer_of(size);
    fl_allocator *a = make(buffer, size, false);
    CHECK(a != NULL);
    for (size_t n = 1; n <= 2000; n++) {
        size_t before = stats_of(a).used_bytes;
        void *p = NULL;
        CHECK_OK(fl_allocator_allocate(a, n, 0, &p));
        CHECK(((uintptr_t)p & (G - 1)) == 0);
        fl_allocator_stats s = stats_of(a);
        CHECK_EQ_SIZE(s.used_bytes - before, expected_block(n));
        size_t usable = 0;
        CHECK_OK(fl_allocator_usable_size(a, p, &usable));
        CHECK_EQ_SIZE(usable, expected_block(n) - W);
        CHECK(usable >= n);
        memset(p, 0x5A, usable);
        /* When n + W fills whole granules the only overhead is the one header word. */
        if ((n + W) % G == 0 && n + W >= MIN_BLOCK) CHECK_EQ_SIZE(s.used_bytes - before, n + W);
        CHECK_OK(fl_allocator_deallocate(a, p));
        CHECK_EQ_SIZE(stats_of(a).used_bytes, before);
    }
    /* On 64-bit: 56 bytes take a 64-byte block, 8 bytes of header. */
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 4 * G - W, 0, &p));
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 4 * G);
    CHECK_EQ_SIZE(s.used_bytes - (4 * G - W), sizeof(size_t));
    CHECK_EQ_SIZE(s.allocation_count, 1);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_reset(a);
    /* Efficiency counts requested over consumed since the reset. */
    CHECK_OK(fl_allocator_allocate(a, 4 * G - W, 0, &p));
    CHECK(stats_of(a).allocation_efficiency == (double)(4 * G - W) / (double)(4 * G));
    fl_allocator_destroy(a);
    free(buffer);
}

static void test_alignment(void)
{
    size_t size = 8u << 20;
    void *buffer = buffer_of(size);
    fl_allocator *a = make(buffer, size, false);
    CHECK(a != NULL);
    size_t initial = stats_of(a).largest_free_block;
    harness_rng rng = harness_rng_seeded("freelist alignment", 0xA11A);
    static const size_t requests[] = {1, 7, 8, 16, 24, 100, 1000, 4096, 5000, 65536};
    void *live[512];
    size_t count = 0;
    for (size_t alignment = 1; alignment <= FL_ALIGN_MAX; alignment *= 2) {
        for (size_t r = 0; r < sizeof requests / sizeof requests[0]; r++) {
            size_t n = requests[r];
            /* A small allocation in between leaves free space at varied offsets. */
            void *spacer = NULL;
            CHECK_OK(fl_allocator_allocate(a, harness_range(&rng, 1, 300), 0, &spacer));
            live[count++] = spacer;
            size_t before = stats_of(a).used_bytes;
            void *p = NULL;
            CHECK_OK(fl_allocator_allocate(a, n, alignment, &p));
            live[count++] = p;
            CHECK_MSG(((uintptr_t)p & (alignment - 1)) == 0, "%p not aligned to %zu", p, alignment);
            CHECK(((uintptr_t)p & (G - 1)) == 0);
            size_t consumed = stats_of(a).used_bytes - before;
            size_t usable = 0;
            CHECK_OK(fl_allocator_usable_size(a, p, &usable));
            CHECK_EQ_SIZE(usable, consumed - W);
            CHECK(usable >= n);
            /* Alignment costs nothing in consumed bytes: the leading gap goes back as a
             * free block. What the block holds beyond the unaligned request's block is a
             * tail too small to stand alone as a free block (< MIN_BLOCK - G + 1 bytes),
             * which is below every alignment > G. */
            size_t extra = consumed - expected_block(n);
            CHECK_MSG(extra <= MIN_BLOCK - G, "extra %zu for %zu bytes aligned %zu", extra, n, alignment);
            if (alignment > G) CHECK(extra < alignment);
            memset(p, 0x77, usable);
        }
        CHECK_OK(fl_allocator_validate(a));
        harness_check_stats_identities(a);
        /* Free half now, so later alignments meet a fragmented heap. */
        shuffle(live, count, &rng);
        for (size_t i = count / 2; i < count; i++) CHECK_OK(fl_allocator_deallocate(a, live[i]));
        count /= 2;
        CHECK_OK(fl_allocator_validate(a));
    }
    shuffle(live, count, &rng);
    for (size_t i = 0; i < count; i++) CHECK_OK(fl_allocator_deallocate(a, live[i]));
    CHECK_EQ_SIZE(stats_of(a).largest_free_block, initial);
    CHECK_EQ_SIZE(walk_of(a)->count, 1);
    CHECK_OK(fl_allocator_validate(a));

    /* Largest alignment on a fresh heap: the leading gap becomes a free block. */
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 100, FL_ALIGN_MAX, &p));
    CHECK(((uintptr_t)p & (FL_ALIGN_MAX - 1)) == 0);
    walk_log *log = walk_of(a);
    CHECK(log->count >= 2 && log->count <= 3);
    if (log->blocks[0].used) {
        CHECK((uintptr_t)log->blocks[0].start + W == (uintptr_t)p); /* no gap was needed */
    } else {
        CHECK(log->blocks[0].size >= MIN_BLOCK);
        CHECK(log->blocks[1].used && (uintptr_t)log->blocks[1].start + W == (uintptr_t)p);
    }
    CHECK_OK(fl_allocator_deallocate(a, p));
    CHECK_EQ_SIZE(walk_of(a)->count, 1);
    fl_allocator_destroy(a);
    free(buffer);
}

/* ---- splitting and coalescing --------------------------------------------------------------- */

static int by_address(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t) * (void *const *)x, b = (uintptr_t) * (void *const *)y;
    return a < b ? -1 : a > b;
}

static void test_split_and_neighbours(void)
{
    size_t size = 1u << 16;
    void *buffer = buffer_of(size);
    fl_allocator *a = make(buffer, size, false);
    CHECK(a != NULL);
    fl_allocator_stats fresh = stats_of(a);
    void *p[5];
    for (int i = 0; i < 5; i++) CHECK_OK(fl_allocator_allocate(a, 1000, 0, &p[i]));
    /* Consecutive allocations from one free block are adjacent (in either direction). */
    qsort(p, 5, sizeof p[0], by_address);
    size_t block = expected_block(1000);
    for (int i = 1; i < 5; i++) CHECK((uintptr_t)p[i] - (uintptr_t)p[i - 1] == block);
    /* The big remainder is one free block beside them; everything is accounted for. */
    walk_log *log = walk_of(a);
    CHECK(log->ordered);
    CHECK_EQ_SIZE(log->count, 6);
    CHECK_EQ_SIZE(log->free_total, fresh.total_capacity - 5 * block);

    /* A freed hole is reused by a smaller request (good fit, not the big remainder), and
     * the rest of the hole stays free beside it. */
    CHECK_OK(fl_allocator_deallocate(a, p[1]));
    void *q = NULL;
    CHECK_OK(fl_allocator_allocate(a, 500, 0, &q));
    CHECK((uintptr_t)q >= (uintptr_t)p[1] && (uintptr_t)q < (uintptr_t)p[2]);
    log = walk_of(a);
    CHECK_EQ_SIZE(log->count, 7);
    size_t hole_free = 0, hole_used = 0;
    for (size_t i = 0; i < log->count; i++) {
        uintptr_t at = (uintptr_t)log->blocks[i].start;
        if (at + W < (uintptr_t)p[1] || at + W >= (uintptr_t)p[2]) continue;
        if (log->blocks[i].used)
            hole_used += log->blocks[i].size;
        else
            hole_free += log->blocks[i].size;
    }
    CHECK_EQ_SIZE(hole_used, expected_block(500));
    CHECK_EQ_SIZE(hole_free, block - expected_block(500));
    CHECK_OK(fl_allocator_deallocate(a, q));
    CHECK_OK(fl_allocator_validate(a));
    CHECK_EQ_SIZE(walk_of(a)->count, 6); /* the hole merged back into one block */

    /* Free 1 and 3, then 2: the three merge into one block at once. */
    CHECK_OK(fl_allocator_deallocate(a, p[3]));
    CHECK_EQ_SIZE(walk_of(a)->count, 6);
    CHECK_OK(fl_allocator_deallocate(a, p[2]));
    log = walk_of(a);
    CHECK_EQ_SIZE(log->count, 4); /* remainder, p0, merged 1-3, p4 (in address order) */
    bool merged = false;
    for (size_t i = 0; i < log->count; i++)
        if (!log->blocks[i].used && (uintptr_t)log->blocks[i].start + W == (uintptr_t)p[1])
            merged = log->blocks[i].size == 3 * block;
    CHECK(merged);
    CHECK_OK(fl_allocator_validate(a));

    /* The outer two merge with their free neighbours: back to the fresh heap. */
    CHECK_OK(fl_allocator_deallocate(a, p[4]));
    CHECK_EQ_SIZE(walk_of(a)->count, 3);
    CHECK_OK(fl_allocator_deallocate(a, p[0]));
    log = walk_of(a);
    CHECK_EQ_SIZE(log->count, 1);
    CHECK_EQ_SIZE(log->blocks[0].size, fresh.total_capacity);
    CHECK_EQ_SIZE(stats_of(a).largest_free_block, fresh.largest_free_block);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
    free(buffer);
}

static void test_coalescing_random_order(void)
{
    size_t size = 4u << 20;
    void *buffer = buffer_of(size);
    fl_allocator *a = make(buffer, size, false);
    CHECK(a != NULL);
    fl_allocator_stats fresh = stats_of(a);
    harness_rng rng = harness_rng_seeded("freelist coalescing", 0xC0A1);
    static void *live[20000];
    for (int round = 0; round < 4; round++) {
        size_t count = 0;
        for (;;) {
            size_t n = (size_t)1 << harness_range(&rng, 0, 14);
            n = harness_range(&rng, n, 2 * n);
            void *p = NULL;
            size_t alignment = round == 3 ? (size_t)1 << harness_range(&rng, 0, 12) : 0;
            fl_status status = fl_allocator_allocate(a, n, alignment, &p);
            if (status == FL_ERR_OUT_OF_MEMORY) break;
            CHECK_OK(status);
            live[count++] = p;
            if (count == sizeof live / sizeof live[0]) break;
        }
        CHECK(count > 100);
        CHECK_OK(fl_allocator_validate(a));
        shuffle(live, count, &rng);
        for (size_t i = 0; i < count; i++) {
            CHECK_OK(fl_allocator_deallocate(a, live[i]));
            if (i % 97 == 0) CHECK_OK(fl_allocator_validate(a));
        }
        fl_allocator_stats s = stats_of(a);
        CHECK_EQ_SIZE(s.used_bytes, 0);
        CHECK_EQ_SIZE(s.largest_free_block, fresh.largest_free_block);
        CHECK(s.fragmentation_ratio == 0.0);
        CHECK_EQ_SIZE(walk_of(a)->count, 1);
        CHECK_OK(fl_allocator_validate(a));
    }
    fl_allocator_destroy(a);
    free(buffer);
}

/* largest_free is exact: that many bytes at alignment 1 succeed, one more fails. */
static void test_largest_free_exact(void)
{
    size_t size = 2u << 20;
    void *buffer = buffer_of(size);
    fl_allocator *a = make(buffer, size, false);
    CHECK(a != NULL);
    harness_rng rng = harness_rng_seeded("freelist largest_free", 0x1A76E);
    static void *live[4096];
    size_t count = 0;
    for (int state = 0; state < 400; state++) {
        int steps = (int)harness_range(&rng, 1, 40);
        for (int k = 0; k < steps; k++) {
            if (count > 0 && (count == 4096 || harness_range(&rng, 0, 99) < 45)) {
                size_t i = harness_range(&rng, 0, count - 1);
                CHECK_OK(fl_allocator_deallocate(a, live[i]));
                live[i] = live[--count];
            } else {
                size_t n = (size_t)1 << harness_range(&rng, 0, 16);
                n = harness_range(&rng, n / 2 + 1, n);
                void *p = NULL;
                fl_status status = fl_allocator_allocate(a, n, 0, &p);
                if (status == FL_OK)
                    live[count++] = p;
                else
                    CHECK_STATUS(status, FL_ERR_OUT_OF_MEMORY);
            }
        }
        fl_allocator_stats s = stats_of(a);
        walk_log *log = walk_of(a);
        if (log->largest_free_block == 0) {
            CHECK_EQ_SIZE(s.largest_free_block, 0);
            continue;
        }
        /* Never far below the largest free block: at most one class (1/32) below it. */
        CHECK(s.largest_free_block + W <= log->largest_free_block);
        CHECK_MSG((s.largest_free_block + W) * 33 / 32 + G >= log->largest_free_block,
                  "largest_free %zu, largest free block %zu", s.largest_free_block, log->largest_free_block);
        CHECK(s.fragmentation_ratio >= 0.0 && s.fragmentation_ratio < 1.0);

        /* One more byte fails and changes nothing but the failure count; exactly that many
         * succeed (the +1 probe goes first: freeing the exact one may reorder a list). */
        void *p = NULL;
        CHECK_STATUS(fl_allocator_allocate(a, s.largest_free_block + 1, 1, &p), FL_ERR_OUT_OF_MEMORY);
        fl_allocator_stats after = stats_of(a);
        CHECK(after.failed_allocations == s.failed_allocations + 1);
        after.failed_allocations = s.failed_allocations;
        CHECK(stats_equal(&after, &s));
        CHECK_MSG(fl_allocator_allocate(a, s.largest_free_block, 1, &p) == FL_OK, "largest_free %zu failed",
                  s.largest_free_block);
        CHECK_OK(fl_allocator_deallocate(a, p));
        if (state % 50 == 0) CHECK_OK(fl_allocator_validate(a));
    }
    fl_allocator_destroy(a);
    free(buffer);
}

/* ---- bad input -------------------------------------------------------------------------------- */

static void test_invalid_pointers(void)
{
    size_t size = 1u << 16;
    unsigned char *buffer = (unsigned char *)buffer_of(size);
    fl_allocator *a = make(buffer, size, false);
    void *other_buffer = buffer_of(size);
    fl_allocator *other = make(other_buffer, size, false);
    CHECK(a != NULL && other != NULL);
    void *p = NULL, *q = NULL, *big = NULL, *foreign = NULL;
    CHECK_OK(fl_allocator_allocate(a, 64, 0, &p));
    CHECK_OK(fl_allocator_allocate(a, 64, 0, &q));
    CHECK_OK(fl_allocator_allocate(a, 1000, 0, &big));
    CHECK_OK(fl_allocator_allocate(other, 64, 0, &foreign));
    int on_stack = 0;
    void *heap = malloc(64);
    CHECK(heap != NULL);

    unsigned char *bp = (unsigned char *)big;
    void *bad[] = {
        &on_stack, heap, foreign, (void *)a, buffer, buffer + size - 1, buffer + size, (void *)(uintptr_t)1,
        (void *)(uintptr_t)(SIZE_MAX - 15), (unsigned char *)p + 1, (unsigned char *)p - W, (unsigned char *)p - 1,
        (unsigned char *)p + G, bp + G, bp + 2 * G, bp + 512, bp + 992, (unsigned char *)q - G,
    };
    fl_allocator_stats before = stats_of(a);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(fl_allocator_deallocate(a, bad[i]), FL_ERR_INVALID_PARAMETERS);
        CHECK(fl_last_error()->category == FL_ERR_INVALID_PARAMETERS);
        size_t usable = 12345;
        CHECK_STATUS(fl_allocator_usable_size(a, bad[i], &usable), FL_ERR_INVALID_PARAMETERS);
        CHECK_EQ_SIZE(usable, 12345);
        fl_allocator_stats now = stats_of(a);
        CHECK(stats_equal(&now, &before));
    }
    CHECK(strstr(fl_last_error()->message, "usable_size") != NULL);
    CHECK_OK(fl_allocator_validate(a));

    /* Double free: the second is refused and changes nothing. */
    CHECK_OK(fl_allocator_deallocate(a, p));
    before = stats_of(a);
    CHECK_STATUS(fl_allocator_deallocate(a, p), FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "already freed") != NULL);
    size_t usable = 0;
    CHECK_STATUS(fl_allocator_usable_size(a, p, &usable), FL_ERR_INVALID_PARAMETERS);
    fl_allocator_stats now = stats_of(a);
    CHECK(stats_equal(&now, &before));
    /* The freed block merged with nothing (q is live after it): still refused once q goes. */
    CHECK_OK(fl_allocator_deallocate(a, q));
    CHECK_STATUS(fl_allocator_deallocate(a, q), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_deallocate(a, p), FL_ERR_INVALID_PARAMETERS);

    /* NULL arguments are refused by the dispatcher before the strategy runs. */
    CHECK_STATUS(fl_allocator_deallocate(a, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_usable_size(a, big, NULL), FL_ERR_INVALID_PARAMETERS);
    void *out = NULL;
    CHECK_STATUS(fl_allocator_allocate(a, 0, 0, &out), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 16, 3, &out), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 16, FL_ALIGN_MAX * 2, &out), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 16, 0, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_walk(a, NULL, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK(out == NULL);
    CHECK_STATUS(fl_allocator_rewind(a, fl_allocator_mark(a)), FL_ERR_NOT_SUPPORTED);

    /* owns: the managed area only. */
    CHECK(fl_allocator_owns(a, big));
    CHECK(fl_allocator_owns(a, bp + 999));
    CHECK(!fl_allocator_owns(a, &on_stack));
    CHECK(!fl_allocator_owns(a, foreign));
    CHECK(!fl_allocator_owns(a, (void *)a)); /* the control block is not allocatable memory */
    CHECK(!fl_allocator_owns(a, buffer + size));
    CHECK(!fl_allocator_owns(a, NULL));

    CHECK_OK(fl_allocator_usable_size(a, big, &usable));
    CHECK_EQ_SIZE(usable, expected_block(1000) - W);
    CHECK_OK(fl_allocator_deallocate(a, big));
    CHECK_OK(fl_allocator_validate(a));
    free(heap);
    fl_allocator_destroy(other);
    free(other_buffer);
    fl_allocator_destroy(a);
    free(buffer);
}

static void test_out_of_memory_is_clean(void)
{
    size_t size = 16384;
    void *buffer = buffer_of(size);
    fl_allocator *a = make(buffer, size, false);
    CHECK(a != NULL);
    void *p = NULL;
    size_t count = 0;
    fl_status status;
    while ((status = fl_allocator_allocate(a, 100, 0, &p)) == FL_OK) count++;
    CHECK_STATUS(status, FL_ERR_OUT_OF_MEMORY);
    CHECK(count > 10);
    fl_allocator_stats before = stats_of(a);
    for (size_t alignment = 0; alignment <= 4096; alignment = alignment ? alignment * 4 : 1) {
        void *q = (void *)(uintptr_t)0x1;
        CHECK_STATUS(fl_allocator_allocate(a, before.largest_free_block + 1, alignment, &q), FL_ERR_OUT_OF_MEMORY);
        CHECK(fl_last_error()->category == FL_ERR_OUT_OF_MEMORY);
        CHECK(q == (void *)(uintptr_t)0x1);
        fl_allocator_stats now = stats_of(a);
        CHECK(now.failed_allocations == before.failed_allocations + 1);
        before.failed_allocations = now.failed_allocations;
        CHECK(stats_equal(&now, &before));
    }
    CHECK_OK(fl_allocator_validate(a));
    harness_check_stats_identities(a);
    fl_allocator_destroy(a);
    free(buffer);
}

static void test_huge_requests(void)
{
    size_t size = 1u << 16;
    void *buffer = buffer_of(size);
    fl_allocator *a = make(buffer, size, false);
    CHECK(a != NULL);
    size_t capacity = stats_of(a).total_capacity;
    size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - W, SIZE_MAX - G, SIZE_MAX - 64, SIZE_MAX - 65536,
                     SIZE_MAX - 200000, SIZE_MAX / 2 + 1, SIZE_MAX / 2, SIZE_MAX / 32, capacity, capacity - W + 1,
                     size};
    size_t alignments[] = {0, 1, G, 64, 4096, FL_ALIGN_MAX};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        for (size_t k = 0; k < sizeof alignments / sizeof alignments[0]; k++) {
            fl_allocator_stats before = stats_of(a);
            void *p = (void *)(uintptr_t)0x1;
            fl_status status = fl_allocator_allocate(a, huge[i], alignments[k], &p);
            CHECK_MSG(status == FL_ERR_OUT_OF_MEMORY || status == FL_ERR_INVALID_PARAMETERS,
                      "size %zu alignment %zu gave %s", huge[i], alignments[k], fl_status_str(status));
            if (huge[i] <= SIZE_MAX / 2) CHECK_STATUS(status, FL_ERR_OUT_OF_MEMORY);
            if (huge[i] >= SIZE_MAX - W) CHECK_STATUS(status, FL_ERR_INVALID_PARAMETERS);
            CHECK(p == (void *)(uintptr_t)0x1);
            fl_allocator_stats now = stats_of(a);
            if (status == FL_ERR_OUT_OF_MEMORY) now.failed_allocations--;
            CHECK(stats_equal(&now, &before));
        }
    }
    /* The largest request that fits, and with a large alignment the gap makes it fail. */
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, capacity - W, 0, &p));
    CHECK_OK(fl_allocator_deallocate(a, p));
    CHECK_STATUS(fl_allocator_allocate(a, capacity - W, FL_ALIGN_MAX, &p), FL_ERR_OUT_OF_MEMORY);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
    free(buffer);
}

/* ---- reset, walk, validate -------------------------------------------------------------------- */

static void test_reset(void)
{
    size_t size = 1u << 18;
    void *buffer = buffer_of(size);
    fl_allocator *a = make(buffer, size, false);
    CHECK(a != NULL);
    fl_allocator_stats fresh = stats_of(a);
    void *p[50];
    for (int i = 0; i < 50; i++) CHECK_OK(fl_allocator_allocate(a, (size_t)(i * 37 + 1), (size_t)1 << (i % 10), &p[i]));
    for (int i = 0; i < 50; i += 3) CHECK_OK(fl_allocator_deallocate(a, p[i]));
    fl_allocator_reset(a);
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK_EQ_SIZE(s.largest_free_block, fresh.largest_free_block);
    CHECK(s.fragmentation_ratio == 0.0);
    CHECK(s.total_allocations == s.total_deallocations);
    CHECK(s.peak_used_bytes > 0);
    CHECK_OK(fl_allocator_validate(a));
    CHECK_EQ_SIZE(walk_of(a)->count, 1);
    /* Pointers from before the reset are no longer live. */
    fl_allocator_stats before = stats_of(a);
    for (int i = 1; i < 50; i += 3) CHECK_STATUS(fl_allocator_deallocate(a, p[i]), FL_ERR_INVALID_PARAMETERS);
    fl_allocator_stats now = stats_of(a);
    CHECK(stats_equal(&now, &before));
    void *q = NULL;
    CHECK_OK(fl_allocator_allocate(a, 100, 0, &q));
    CHECK_OK(fl_allocator_deallocate(a, q));
    fl_allocator_destroy(a);
    free(buffer);
}

static void test_walk(void)
{
    size_t size = 1u << 18;
    void *buffer = buffer_of(size);
    fl_allocator *a = make(buffer, size, false);
    CHECK(a != NULL);
    void *p[100];
    for (int i = 0; i < 100; i++) CHECK_OK(fl_allocator_allocate(a, (size_t)(i * 13 + 1), 0, &p[i]));
    for (int i = 0; i < 100; i += 2) CHECK_OK(fl_allocator_deallocate(a, p[i]));
    walk_log *log = walk_of(a);
    fl_allocator_stats s = stats_of(a);
    CHECK(log->ordered);
    CHECK_EQ_SIZE(log->total, s.total_capacity);
    CHECK_EQ_SIZE(log->free_total, s.free_bytes);
    size_t used = 0, used_count = 0;
    for (size_t i = 0; i < log->count; i++) {
        if (!log->blocks[i].used) continue;
        used++;
        used_count += log->blocks[i].size;
        bool found = false;
        for (int k = 1; k < 100; k += 2)
            if ((uintptr_t)log->blocks[i].start + W == (uintptr_t)p[k]) found = true;
        CHECK(found);
    }
    CHECK_EQ_SIZE(used, 50);
    CHECK_EQ_SIZE(used_count, s.used_bytes);
    fl_allocator_destroy(a);
    free(buffer);
}

static void test_validate_detects_corruption(void)
{
    size_t size = 1u << 16;
    void *buffer = buffer_of(size);
    fl_allocator *a = make(buffer, size, false);
    CHECK(a != NULL);
    void *p = NULL, *q = NULL, *r = NULL;
    CHECK_OK(fl_allocator_allocate(a, 200, 0, &p));
    CHECK_OK(fl_allocator_allocate(a, 200, 0, &q));
    CHECK_OK(fl_allocator_allocate(a, 200, 0, &r));
    CHECK_OK(fl_allocator_deallocate(a, q));
    CHECK_OK(fl_allocator_validate(a));

    size_t *p_header = (size_t *)(void *)((unsigned char *)p - W);
    size_t *q_footer = (size_t *)(void *)((unsigned char *)r - 2 * W);
    size_t *q_next = (size_t *)q; /* the free block's next link */
    size_t *targets[] = {p_header, q_footer, q_next, (size_t *)(void *)((unsigned char *)q - W),
                         (size_t *)(void *)((unsigned char *)r - W)};
    /* Headers, footers and links are poisoned for memory checkers: this test writes them. */
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) FLI_OPEN(targets[i], sizeof(size_t));
    size_t values[] = {*p_header + G, *q_footer + G, (size_t)(uintptr_t)p, 0, *targets[4] & ~(size_t)2};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        size_t saved = *targets[i];
        *targets[i] = values[i];
        CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
        CHECK(fl_last_error()->category == FL_ERR_INVALID_STATE);
        *targets[i] = saved;
        CHECK_OK(fl_allocator_validate(a));
    }
    fl_allocator_destroy(a);
    free(buffer);
}

/* ---- threads ------------------------------------------------------------------------------------ */

typedef struct worker {
    fl_allocator *a;
    uint64_t seed;
    int errors;
} worker;

static void *worker_run(void *arg)
{
    worker *w = (worker *)arg;
    harness_rng rng = {w->seed};
    void *live[128];
    size_t sizes[128];
    uint64_t ids[128];
    size_t count = 0;
    uint64_t ops = harness_scaled(40000);
    for (uint64_t op = 0; op < ops; op++) {
        if (count > 0 && (count == 128 || harness_range(&rng, 0, 1))) {
            size_t i = harness_range(&rng, 0, count - 1);
            if (!harness_pattern_ok(live[i], sizes[i], ids[i])) w->errors++;
            if (fl_allocator_deallocate(w->a, live[i]) != FL_OK) w->errors++;
            count--;
            live[i] = live[count];
            sizes[i] = sizes[count];
            ids[i] = ids[count];
        } else {
            size_t n = harness_range(&rng, 1, (size_t)1 << harness_range(&rng, 0, 12));
            void *p = NULL;
            fl_status status = fl_allocator_allocate(w->a, n, (size_t)1 << harness_range(&rng, 0, 7), &p);
            if (status == FL_ERR_OUT_OF_MEMORY) continue;
            if (status != FL_OK) {
                w->errors++;
                continue;
            }
            ids[count] = op * 8 + w->seed;
            harness_fill(p, n, ids[count]);
            live[count] = p;
            sizes[count++] = n;
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (!harness_pattern_ok(live[i], sizes[i], ids[i])) w->errors++;
        if (fl_allocator_deallocate(w->a, live[i]) != FL_OK) w->errors++;
    }
    return NULL;
}

static void test_threads(void)
{
    size_t size = 4u << 20;
    void *buffer = buffer_of(size);
    fl_allocator *a = make(buffer, size, true);
    CHECK(a != NULL);
    size_t initial = stats_of(a).largest_free_block;
    enum { THREADS = 4 };
    pthread_t threads[THREADS];
    worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i].a = a;
        workers[i].seed = 1000u + (uint64_t)i;
        workers[i].errors = 0;
        CHECK(pthread_create(&threads[i], NULL, worker_run, &workers[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK_EQ_SIZE(workers[i].errors, 0);
    }
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_EQ_SIZE(s.largest_free_block, initial);
    CHECK(s.total_allocations > 0);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
    free(buffer);
}

int main(void)
{
    RUN(test_fresh_heap);
    RUN(test_tiny_buffers);
    RUN(test_platform_pages);
    RUN(test_header_overhead);
    RUN(test_alignment);
    RUN(test_split_and_neighbours);
    RUN(test_coalescing_random_order);
    RUN(test_largest_free_exact);
    RUN(test_invalid_pointers);
    RUN(test_out_of_memory_is_clean);
    RUN(test_huge_requests);
    RUN(test_reset);
    RUN(test_walk);
    RUN(test_validate_detects_corruption);
    RUN(test_threads);
    return harness_finish();
}
