/* The free-list allocator against a reference model: >= harness_scaled(1000000) random
 * allocations and frees (sizes log-uniform 1 B .. 64 KiB, random alignments up to
 * FL_ALIGN_MAX), phases that fill the heap to out-of-memory and drain it, a byte pattern in
 * every block checked before it is freed, and periodic full checks: validate, statistics
 * against the model, every live pointer still live with its size, largest_free exact. */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define W sizeof(size_t)
#define G (2 * W > FL_ALIGN_DEFAULT ? 2 * W : FL_ALIGN_DEFAULT)
#define MIN_BLOCK ((2 * W + 2 * sizeof(void *) + G - 1) & ~(G - 1))
#define MAX_LIVE 65536
/* Blocks up to 2 * EDGE bytes carry a full pattern, larger ones their first and last EDGE
 * bytes (overlaps in the middle are caught by the live-pointer check at each validation). */
#define EDGE 512

typedef struct model_block {
    unsigned char *ptr;
    size_t size, usable, alignment;
    uint64_t id;
} model_block;

static model_block live[MAX_LIVE];
static size_t live_count, model_used;

static void pattern_fill(unsigned char *p, size_t n, uint64_t id)
{
    if (n <= 2 * EDGE) {
        harness_fill(p, n, id);
    } else {
        harness_fill(p, EDGE, id);
        harness_fill(p + n - EDGE, EDGE, id ^ 0xF00Du);
    }
}

static int pattern_ok(const unsigned char *p, size_t n, uint64_t id)
{
    if (n <= 2 * EDGE) return harness_pattern_ok(p, n, id);
    return harness_pattern_ok(p, EDGE, id) && harness_pattern_ok(p + n - EDGE, EDGE, id ^ 0xF00Du);
}

static fl_allocator_stats stats_of(const fl_allocator *a)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    return s;
}

/* Log-uniform in [1, 65536]: a random power of two, then uniform up to the next one. */
static size_t random_size(harness_rng *rng)
{
    unsigned bits = (unsigned)harness_range(rng, 0, 16);
    size_t lo = (size_t)1 << bits;
    size_t hi = bits == 16 ? lo : 2 * lo - 1;
    return harness_range(rng, lo, hi);
}

static size_t random_alignment(harness_rng *rng)
{
    uint64_t r = harness_range(rng, 0, 99);
    if (r < 60) return 0;
    if (r < 90) return (size_t)1 << harness_range(rng, 0, 8);
    return (size_t)1 << harness_range(rng, 9, 16);
}

static void free_one(fl_allocator *a, size_t i)
{
    model_block *b = &live[i];
    CHECK_MSG(pattern_ok(b->ptr, b->size, b->id), "block %p (%zu bytes, id %llu) was overwritten", (void *)b->ptr,
              b->size, (unsigned long long)b->id);
    size_t before = stats_of(a).used_bytes;
    CHECK_OK(fl_allocator_deallocate(a, b->ptr));
    CHECK_EQ_SIZE(before - stats_of(a).used_bytes, b->usable + W);
    model_used -= b->usable + W;
    live[i] = live[--live_count];
}

static void allocate_one(fl_allocator *a, harness_rng *rng, uint64_t id)
{
    size_t n = random_size(rng), alignment = random_alignment(rng);
    fl_allocator_stats before = stats_of(a);
    unsigned char *p = NULL;
    void *out = NULL;
    fl_status status = fl_allocator_allocate(a, n, alignment, &out);
    if (status == FL_ERR_OUT_OF_MEMORY) {
        /* Never for a request largest_free promises; and nothing changed but the count. */
        if (alignment <= G) CHECK_MSG(n > before.largest_free_block, "%zu bytes refused, largest_free %zu", n,
                                      before.largest_free_block);
        fl_allocator_stats now = stats_of(a);
        CHECK(now.failed_allocations == before.failed_allocations + 1);
        CHECK_EQ_SIZE(now.used_bytes, before.used_bytes);
        CHECK_EQ_SIZE(now.allocation_count, before.allocation_count);
        CHECK_EQ_SIZE(now.largest_free_block, before.largest_free_block);
        return;
    }
    CHECK_OK(status);
    p = (unsigned char *)out;
    size_t effective = alignment ? alignment : FL_ALIGN_DEFAULT;
    CHECK_MSG(((uintptr_t)p & (effective - 1)) == 0, "%p not aligned to %zu", out, effective);
    size_t usable = 0;
    CHECK_OK(fl_allocator_usable_size(a, p, &usable));
    CHECK(usable >= n);
    size_t consumed = stats_of(a).used_bytes - before.used_bytes;
    CHECK_EQ_SIZE(consumed, usable + W);
    /* The block is the request's own block plus at most a tail too small to split. */
    size_t own = (n + W + G - 1) & ~(G - 1);
    if (own < MIN_BLOCK) own = MIN_BLOCK;
    CHECK_MSG(consumed >= own && consumed - own <= MIN_BLOCK - G, "%zu bytes aligned %zu consumed %zu", n,
              alignment, consumed);
    pattern_fill(p, n, id);
    model_block b = {p, n, usable, alignment, id};
    live[live_count++] = b;
    model_used += consumed;
}

/* largest_free is exact: that many bytes at alignment 1 succeed, one more fail. (Freeing
 * the probe may reorder a list and raise largest_free, hence a fresh look each time.) */
static void check_largest_free(fl_allocator *a)
{
    fl_allocator_stats s = stats_of(a);
    void *p = NULL;
    if (s.largest_free_block > 0) {
        CHECK_MSG(fl_allocator_allocate(a, s.largest_free_block, 1, &p) == FL_OK, "largest_free %zu failed",
                  s.largest_free_block);
        CHECK_OK(fl_allocator_deallocate(a, p));
    }
    fl_allocator_stats again = stats_of(a);
    CHECK(again.largest_free_block >= s.largest_free_block);
    CHECK_STATUS(fl_allocator_allocate(a, again.largest_free_block + 1, 1, &p), FL_ERR_OUT_OF_MEMORY);
    fl_allocator_stats now = stats_of(a);
    CHECK_EQ_SIZE(now.largest_free_block, again.largest_free_block);
    CHECK_EQ_SIZE(now.used_bytes, s.used_bytes);
}

/* Bad frees of pointers near live blocks change nothing. */
static void check_bad_frees(fl_allocator *a, harness_rng *rng)
{
    if (live_count == 0) return;
    model_block *b = &live[harness_range(rng, 0, live_count - 1)];
    fl_allocator_stats before = stats_of(a);
    unsigned char *bad[] = {b->ptr + 1, b->ptr - W, b->ptr + (b->usable >= G ? G : 1), b->ptr + b->usable / 2 + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool is_live = false;
        for (size_t k = 0; k < live_count && !is_live; k++) is_live = live[k].ptr == bad[i];
        if (is_live) continue;
        CHECK_STATUS(fl_allocator_deallocate(a, bad[i]), FL_ERR_INVALID_PARAMETERS);
    }
    fl_allocator_stats now = stats_of(a);
    CHECK(memcmp(&now, &before, sizeof now) == 0);
}

static void check_against_model(fl_allocator *a)
{
    CHECK_OK(fl_allocator_validate(a));
    harness_check_stats_identities(a);
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.allocation_count, live_count);
    CHECK_EQ_SIZE(s.used_bytes, model_used);
    /* Every model pointer is a live block of its recorded size: with validate's tiling
     * and live-bit checks this means the model's blocks are distinct and disjoint. */
    for (size_t i = 0; i < live_count; i++) {
        size_t usable = 0;
        CHECK_OK(fl_allocator_usable_size(a, live[i].ptr, &usable));
        CHECK_EQ_SIZE(usable, live[i].usable);
    }
}

static void test_model(void)
{
    size_t size = 16u << 20;
    void *buffer = malloc(size);
    CHECK(buffer != NULL);
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_FREELIST;
    cfg.buffer = buffer;
    cfg.size = size;
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    fl_allocator_stats fresh = stats_of(a);
    live_count = 0;
    model_used = 0;

    harness_rng rng = harness_rng_seeded("freelist model", 0xF1EE1157);
    uint64_t ops = harness_scaled(1000000);
    uint64_t ooms = 0, full_drains = 0;
    unsigned alloc_percent = 50;
    uint64_t phase_end = 0;
    for (uint64_t op = 0; op < ops; op++) {
        /* Phases of random length and bias: fill towards out-of-memory, hover, drain. */
        if (op == phase_end) {
            alloc_percent = (unsigned)harness_range(&rng, 30, 75);
            phase_end = op + harness_range(&rng, 2000, 30000);
        }
        bool allocate = live_count == 0 || (live_count < MAX_LIVE && harness_range(&rng, 0, 99) < alloc_percent);
        if (allocate) {
            uint64_t failed = stats_of(a).failed_allocations;
            allocate_one(a, &rng, op);
            ooms += stats_of(a).failed_allocations - failed;
        } else {
            free_one(a, harness_range(&rng, 0, live_count - 1));
            if (live_count == 0) {
                full_drains++;
                CHECK_EQ_SIZE(stats_of(a).largest_free_block, fresh.largest_free_block);
            }
        }
        if (op % 997 == 0) check_largest_free(a);
        if (op % 4999 == 0) check_bad_frees(a, &rng);
        if (op % 4096 == 0) check_against_model(a);
    }
    check_against_model(a);
    printf("freelist model: %llu ops, %llu out of memory, %llu full drains, %zu live at the end\n",
           (unsigned long long)ops, (unsigned long long)ooms, (unsigned long long)full_drains, live_count);
    if (ops >= 100000) CHECK(ooms > 0); /* the phases do reach a full heap */

    /* Free the rest in random order: everything merges back into the first block. */
    while (live_count > 0) free_one(a, harness_range(&rng, 0, live_count - 1));
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_EQ_SIZE(s.largest_free_block, fresh.largest_free_block);
    CHECK(s.fragmentation_ratio == 0.0);
    CHECK(s.total_allocations == s.total_deallocations);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
    free(buffer);
}

int main(void)
{
    RUN(test_model);
    return harness_finish();
}
