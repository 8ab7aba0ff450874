/*
 * The system strategy against a reference model: random allocations and frees of every
 * size class and alignment under a budget, swinging between many and few live blocks so
 * the ownership table grows and shrinks. The model knows what each block must consume,
 * so it predicts every budget refusal and the exact statistics; every block carries a
 * byte pattern checked before it is freed.
 */
#include "harness.h"

#include "fake_platform.h"
#include "platform/platform.h"

#include <stdlib.h>
#include <string.h>

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
#define BUDGET (64 * MIB)
#define MAX_LIVE 24000
#define PATTERN_EDGE 64 /* bytes checked at each end of a block too large to fill */

/* The allocator calls the platform through this fake, which counts live blocks and pages. */
static fake_platform fake;

static size_t host_page_size(void) { return fli_page_size(fl_platform_default()); }

typedef struct model_block {
    void *ptr;
    size_t size, consumed;
    uint64_t id;
} model_block;

typedef struct model {
    model_block *blocks;
    size_t live, used, peak;
    uint64_t requested, consumed, allocations, deallocations, failed;
} model;

static size_t large_threshold(void)
{
    return host_page_size() > 256 * KIB ? host_page_size() : 256 * KIB;
}

/* system.c's accounting (its header comment): rounded heap size, or the whole mapping. */
static size_t expected_consumed(size_t size, size_t alignment, int *mapped)
{
    size_t page = host_page_size();
    if (alignment == 0) alignment = FL_ALIGN_DEFAULT;
    *mapped = !(size < large_threshold() && alignment < page);
    if (!*mapped) {
        size_t heap_alignment = alignment < sizeof(void *) ? sizeof(void *) : alignment;
        return (size + heap_alignment - 1) / heap_alignment * heap_alignment;
    }
    return (size + page - 1) / page * page + (alignment > page ? alignment - page : 0);
}

static void fill_block(const model_block *b)
{
    if (b->size <= 2 * PATTERN_EDGE) {
        harness_fill(b->ptr, b->size, b->id);
        return;
    }
    harness_fill(b->ptr, PATTERN_EDGE, b->id);
    harness_fill((char *)b->ptr + b->size - PATTERN_EDGE, PATTERN_EDGE, ~b->id);
}

static int block_intact(const model_block *b)
{
    if (b->size <= 2 * PATTERN_EDGE) return harness_pattern_ok(b->ptr, b->size, b->id);
    return harness_pattern_ok(b->ptr, PATTERN_EDGE, b->id) &&
           harness_pattern_ok((const char *)b->ptr + b->size - PATTERN_EDGE, PATTERN_EDGE, ~b->id);
}

static size_t random_size(harness_rng *rng)
{
    size_t r = harness_range(rng, 0, 999);
    if (r < 700) return harness_range(rng, 1, 256);
    if (r < 940) return harness_range(rng, 257, 8 * KIB);
    if (r < 990) return harness_range(rng, 8 * KIB + 1, 256 * KIB - 1);
    return harness_range(rng, 256 * KIB, 3 * MIB);
}

static size_t random_alignment(harness_rng *rng)
{
    size_t r = harness_range(rng, 0, 99);
    if (r < 60) return 0;
    if (r < 97) return (size_t)1 << harness_range(rng, 0, 8);
    return (size_t)1 << harness_range(rng, 9, 16); /* up to FL_ALIGN_MAX */
}

static void check_against_model(const fl_allocator *a, const model *m)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    CHECK_EQ_SIZE(s.allocation_count, m->live);
    CHECK_EQ_SIZE(s.used_bytes, m->used);
    CHECK_EQ_SIZE(s.free_bytes, BUDGET - m->used);
    CHECK_EQ_SIZE(s.peak_used_bytes, m->peak);
    CHECK(s.total_allocations == m->allocations);
    CHECK(s.total_deallocations == m->deallocations);
    CHECK(s.failed_allocations == m->failed);
    double efficiency = m->consumed ? (double)m->requested / (double)m->consumed : 1.0;
    CHECK(s.allocation_efficiency - efficiency < 1e-12 && efficiency - s.allocation_efficiency < 1e-12);
    harness_check_stats_identities(a);
}

static void model_allocate(fl_allocator *a, model *m, harness_rng *rng, uint64_t id)
{
    size_t size = random_size(rng), alignment = random_alignment(rng);
    int mapped = 0;
    size_t consumed = expected_consumed(size, alignment, &mapped);
    void *p = NULL;
    fl_status status = fl_allocator_allocate(a, size, alignment, &p);
    if (m->used + consumed > BUDGET) {
        /* The model says the budget refuses: exactly that, and nothing else moves. */
        CHECK_STATUS(status, FL_ERR_OUT_OF_MEMORY);
        m->failed++;
        return;
    }
    CHECK_OK(status);
    size_t a_mask = (alignment ? alignment : FL_ALIGN_DEFAULT) - 1;
    CHECK_MSG(((uintptr_t)p & a_mask) == 0, "%p not aligned to %zu", p, a_mask + 1);
    model_block *b = &m->blocks[m->live++];
    b->ptr = p;
    b->size = size;
    b->consumed = consumed;
    b->id = id;
    fill_block(b);
    m->used += consumed;
    if (m->used > m->peak) m->peak = m->used;
    m->requested += size;
    m->consumed += consumed;
    m->allocations++;
    if ((id & 31) == 0) {
        size_t usable = 0;
        CHECK_OK(fl_allocator_usable_size(a, p, &usable));
        if (mapped) CHECK(usable >= size && usable <= consumed);
        else CHECK_EQ_SIZE(usable, consumed);
    }
}

static void model_free(fl_allocator *a, model *m, harness_rng *rng, uint64_t op)
{
    size_t k = harness_range(rng, 0, m->live - 1);
    model_block b = m->blocks[k];
    CHECK_MSG(block_intact(&b), "block %p (%zu bytes, id %llu) was overwritten", b.ptr, b.size,
              (unsigned long long)b.id);
    if ((op & 255) == 0 && b.size > 1) {
        /* An interior pointer is refused and changes nothing. (Not one past the end: an
         * adjacent mapping may start there.) */
        fl_allocator_stats before, after;
        fl_allocator_get_stats(a, &before);
        CHECK_STATUS(fl_allocator_deallocate(a, (char *)b.ptr + 1 + op % (b.size - 1)), FL_ERR_INVALID_PARAMETERS);
        fl_allocator_get_stats(a, &after);
        CHECK(memcmp(&before, &after, sizeof before) == 0);
    }
    CHECK_OK(fl_allocator_deallocate(a, b.ptr));
    m->blocks[k] = m->blocks[--m->live];
    m->used -= b.consumed;
    m->deallocations++;
    if ((op & 15) == 0) {
        /* Freed and not reissued yet (nothing allocated since): a double free. */
        CHECK(!fl_allocator_owns(a, b.ptr));
        CHECK_STATUS(fl_allocator_deallocate(a, b.ptr), FL_ERR_INVALID_PARAMETERS);
    }
}

static void test_model(void)
{
    harness_rng rng = harness_rng_seeded("system model", 0x5E5A11C0FFEEull);
    uint64_t ops = harness_scaled(1000000);
    size_t pages_before = fake_live_map_bytes(&fake), heap_before = fake_live_heap_blocks(&fake);
    model m;
    memset(&m, 0, sizeof m);
    m.blocks = (model_block *)calloc(MAX_LIVE, sizeof *m.blocks);
    CHECK(m.blocks != NULL);

    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_SYSTEM;
    cfg.size = BUDGET;
    cfg.platform = &fake.hooks;
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a));

    size_t target = 0;
    for (uint64_t op = 1; op <= ops; op++) {
        /* Swing between a crowd (the table grows) and a handful (it shrinks back). */
        if (op % 60000 == 1) target = (op / 60000) % 2 == 0 ? MAX_LIVE - 100 : 50;
        int grow = m.live < target ? harness_range(&rng, 0, 99) < 70 : harness_range(&rng, 0, 99) < 30;
        if (m.live == 0 || (grow && m.live < MAX_LIVE))
            model_allocate(a, &m, &rng, op);
        else
            model_free(a, &m, &rng, op);

        if (op % 4096 == 0) {
            CHECK_OK(fl_allocator_validate(a));
            check_against_model(a, &m);
        }
        if (op % 333333 == 0) {
            fl_allocator_reset(a);
            m.deallocations += m.live;
            m.live = 0;
            m.used = 0;
            m.requested = m.consumed = 0;
            CHECK_EQ_SIZE(fake_live_heap_blocks(&fake), heap_before);
            CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages_before + host_page_size());
        }
    }
    CHECK_OK(fl_allocator_validate(a));
    check_against_model(a, &m);
    while (m.live > 0) model_free(a, &m, &rng, 1);
    CHECK_OK(fl_allocator_validate(a));
    check_against_model(a, &m);
    CHECK_EQ_SIZE(fake_live_heap_blocks(&fake), heap_before);
    CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages_before + host_page_size()); /* table back inline */
    fl_allocator_destroy(a);
    CHECK_EQ_SIZE(fake_live_map_bytes(&fake), pages_before);
    CHECK(fake_live_clean(&fake));
    printf("system model: %llu ops, peak %zu bytes in use, %llu budget refusals\n", (unsigned long long)ops,
           m.peak, (unsigned long long)m.failed);
    free(m.blocks);
}

int main(void)
{
    fake_platform_init(&fake, fl_platform_default());
    RUN(test_model);
    return harness_finish();
}
