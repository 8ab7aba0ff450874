/* The buddy allocator against a reference model: random operations in patterns (random
 * mix, fill until full then drain, LIFO, sweeps, resets), every live block tracked with its
 * size, block size and id, a byte pattern in each checked before it is freed, and a unit
 * ownership map proving that no two live blocks overlap. The model predicts every block
 * size, used_bytes, the count, the efficiency, and when an allocation must succeed (a free
 * block of the needed size exists: largest_free_block >= it) or must fail. */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct live_block {
    unsigned char *ptr;
    size_t size, block;
    uint64_t id;
} live_block;

typedef struct model {
    fl_allocator *a;
    size_t min_block, capacity, area_align;
    unsigned char *area;
    uint32_t *owner; /* per unit: 0 free, else (id & 0xFFFFFFFF) | 1 of the block covering it */
    live_block *live;
    size_t n_live, max_live;
    size_t used;
    double requested, consumed; /* since create or the last reset */
    uint64_t next_id, ops, allocs, frees, ooms;
} model;

static void first_block(const void *block, size_t size, bool used, void *user)
{
    (void)size;
    (void)used;
    unsigned char **area = (unsigned char **)user;
    if (*area == NULL) *area = (unsigned char *)(uintptr_t)block;
}

static size_t pow2_at_least(size_t x)
{
    size_t p = 1;
    while (p < x) p *= 2;
    return p;
}

static uint32_t tag_of(uint64_t id) { return (uint32_t)id | 1u; }

/* Patterns cover the first and last 128 bytes: enough to catch any overlap or stray write
 * the ownership map does not, at a cost that keeps a million ops fast. */
static void stamp(const live_block *b)
{
    size_t head = b->size < 128 ? b->size : 128;
    harness_fill(b->ptr, head, b->id);
    if (b->size > 256) harness_fill(b->ptr + b->size - 128, 128, ~b->id);
}

static int stamp_ok(const live_block *b)
{
    size_t head = b->size < 128 ? b->size : 128;
    if (!harness_pattern_ok(b->ptr, head, b->id)) return 0;
    if (b->size > 256 && !harness_pattern_ok(b->ptr + b->size - 128, 128, ~b->id)) return 0;
    return 1;
}

static void mark_units(model *m, const live_block *b, uint32_t value)
{
    size_t first = (size_t)(b->ptr - m->area) / m->min_block;
    size_t count = b->block / m->min_block;
    for (size_t u = first; u < first + count; u++) {
        CHECK_MSG(value == 0 ? m->owner[u] == tag_of(b->id) : m->owner[u] == 0,
                  "unit %zu owned by %u while %s block %llu", u, (unsigned)m->owner[u],
                  value ? "placing" : "freeing", (unsigned long long)b->id);
        m->owner[u] = value;
    }
}

static void compare_stats(model *m)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(m->a, &s);
    CHECK_EQ_SIZE(s.allocation_count, m->n_live);
    CHECK_EQ_SIZE(s.used_bytes, m->used);
    CHECK_EQ_SIZE(s.total_capacity, m->capacity);
    double eff = m->consumed > 0 ? m->requested / m->consumed : 1.0;
    CHECK(s.allocation_efficiency > eff - 1e-9 && s.allocation_efficiency < eff + 1e-9);
    CHECK((s.largest_free_block & (s.largest_free_block - 1)) == 0);
    CHECK(s.largest_free_block % m->min_block == 0);
    harness_check_stats_identities(m->a);
}

static void model_open(model *m, void *buffer, size_t size, size_t min_block, size_t max_live)
{
    memset(m, 0, sizeof *m);
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_BUDDY;
    cfg.buffer = buffer;
    cfg.size = size;
    cfg.min_block = min_block;
    CHECK_OK(fl_allocator_create(&cfg, &m->a));
    m->min_block = min_block;
    fl_allocator_stats s;
    fl_allocator_get_stats(m->a, &s);
    m->capacity = s.total_capacity;
    size_t units = m->capacity / min_block;
    size_t top = 1;
    while (top <= units / 2) top *= 2;
    m->area_align = top * min_block < FL_ALIGN_PAGE ? top * min_block : FL_ALIGN_PAGE;
    CHECK_OK(fl_allocator_walk(m->a, first_block, &m->area));
    CHECK(m->area != NULL && ((uintptr_t)m->area & (m->area_align - 1)) == 0);
    m->owner = (uint32_t *)calloc(units, sizeof *m->owner);
    m->live = (live_block *)malloc(max_live * sizeof *m->live);
    CHECK(m->owner && m->live);
    m->max_live = max_live;
    m->next_id = 1;
}

static void model_close(model *m)
{
    fl_allocator_destroy(m->a);
    free(m->owner);
    free(m->live);
}

/* One allocation; the model says whether it must succeed. */
static void model_allocate(model *m, size_t size, size_t align)
{
    if (m->n_live == m->max_live) return;
    size_t asked = align;
    if (align == 0) align = FL_ALIGN_DEFAULT;
    size_t need = size > align ? size : align;
    size_t block = pow2_at_least(need < m->min_block ? m->min_block : need);
    fl_allocator_stats before;
    fl_allocator_get_stats(m->a, &before);
    void *p = NULL;
    fl_status st = fl_allocator_allocate(m->a, size, asked, &p);
    m->ops++;
    if (block > before.largest_free_block) {
        CHECK_STATUS(st, FL_ERR_OUT_OF_MEMORY);
        fl_allocator_stats after;
        fl_allocator_get_stats(m->a, &after);
        CHECK(after.failed_allocations == before.failed_allocations + 1);
        CHECK_EQ_SIZE(after.used_bytes, before.used_bytes);
        CHECK_EQ_SIZE(after.largest_free_block, before.largest_free_block);
        m->ooms++;
        return;
    }
    CHECK_MSG(st == FL_OK, "%zu bytes (block %zu) refused with largest free %zu", size, block,
              before.largest_free_block);
    CHECK(((uintptr_t)p & (align - 1)) == 0);
    size_t natural = block < m->area_align ? block : m->area_align;
    CHECK(((uintptr_t)p & (natural - 1)) == 0);
    size_t usable = 0;
    CHECK_OK(fl_allocator_usable_size(m->a, p, &usable));
    CHECK_EQ_SIZE(usable, block);
    CHECK((unsigned char *)p >= m->area && (size_t)((unsigned char *)p - m->area) + block <= m->capacity);
    live_block b = {(unsigned char *)p, size, block, m->next_id++};
    mark_units(m, &b, tag_of(b.id));
    stamp(&b);
    m->live[m->n_live++] = b;
    m->used += block;
    m->requested += (double)size;
    m->consumed += (double)block;
    m->allocs++;
}

static void model_free(model *m, size_t index)
{
    live_block b = m->live[index];
    CHECK_MSG(stamp_ok(&b), "block %llu at %p lost its pattern", (unsigned long long)b.id, (void *)b.ptr);
    CHECK_OK(fl_allocator_deallocate(m->a, b.ptr));
    m->ops++;
    mark_units(m, &b, 0);
    m->live[index] = m->live[--m->n_live];
    m->used -= b.block;
    m->frees++;
}

/* Bad frees of a live block's interior and a double free: refused, nothing changes. */
static void model_bad_frees(model *m, harness_rng *rng)
{
    fl_allocator_stats before, after;
    fl_allocator_get_stats(m->a, &before);
    if (m->n_live > 0) {
        live_block *b = &m->live[harness_range(rng, 0, m->n_live - 1)];
        size_t off = harness_range(rng, 1, b->block - 1);
        unsigned char *ptr = b->ptr;
        CHECK_STATUS(fl_allocator_deallocate(m->a, ptr + off), FL_ERR_INVALID_PARAMETERS);
        fl_allocator_get_stats(m->a, &after);
        CHECK_EQ_SIZE(after.used_bytes, before.used_bytes);
        model_free(m, (size_t)(b - m->live));
        fl_allocator_get_stats(m->a, &before);
        CHECK_STATUS(fl_allocator_deallocate(m->a, ptr), FL_ERR_INVALID_PARAMETERS);
    }
    CHECK_STATUS(fl_allocator_deallocate(m->a, m->area - 1), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_deallocate(m->a, m->area + m->capacity), FL_ERR_INVALID_PARAMETERS);
    fl_allocator_get_stats(m->a, &after);
    CHECK_EQ_SIZE(after.used_bytes, before.used_bytes);
    CHECK_EQ_SIZE(after.allocation_count, before.allocation_count);
    CHECK_EQ_SIZE(after.largest_free_block, before.largest_free_block);
    CHECK(after.total_deallocations == before.total_deallocations);
}

static size_t random_size(harness_rng *rng, unsigned mode)
{
    switch (mode) {
    case 0: return harness_range(rng, 1, 128);                   /* small objects */
    case 1: return harness_range(rng, 1, 2048);                  /* medium */
    case 2: return (size_t)1 << harness_range(rng, 0, 14);       /* exact powers of two */
    default: {
        uint64_t r = harness_next(rng) % 100;                      /* mostly small, rare big */
        if (r < 80) return harness_range(rng, 1, 256);
        if (r < 98) return harness_range(rng, 257, 8192);
        return harness_range(rng, 8193, 200000);
    }
    }
}

static size_t random_alignment(harness_rng *rng, size_t area_align)
{
    uint64_t r = harness_next(rng) % 16;
    if (r < 10) return 0; /* the default */
    size_t align = (size_t)1 << harness_range(rng, 0, 12);
    return align <= area_align ? align : area_align;
}

static void check_everything(model *m)
{
    CHECK_OK(fl_allocator_validate(m->a));
    compare_stats(m);
}

static void drain_all(model *m, harness_rng *rng, size_t initial_largest)
{
    while (m->n_live > 0) model_free(m, harness_range(rng, 0, m->n_live - 1));
    fl_allocator_stats s;
    fl_allocator_get_stats(m->a, &s);
    CHECK_EQ_SIZE(s.largest_free_block, initial_largest);
    CHECK_EQ_SIZE(s.used_bytes, 0);
}

static void run_model(const char *name, uint64_t seed, size_t buffer_size, size_t offset, size_t min_block,
                      uint64_t target_ops)
{
    unsigned char *raw = (unsigned char *)malloc(buffer_size + offset + 64);
    CHECK(raw != NULL);
    model m;
    model_open(&m, raw + offset, buffer_size, min_block, 200000);
    fl_allocator_stats s0;
    fl_allocator_get_stats(m.a, &s0);
    harness_rng rng = harness_rng_seeded(name, seed);
    uint64_t next_check = 0;
    while (m.ops < target_ops) {
        unsigned pattern = (unsigned)(harness_next(&rng) % 6);
        unsigned mode = (unsigned)(harness_next(&rng) % 4);
        uint64_t steps = harness_range(&rng, 100, 5000);
        switch (pattern) {
        case 0: /* random mix, slightly allocation-heavy */
        case 1:
            for (uint64_t i = 0; i < steps; i++) {
                if (m.n_live > 0 && harness_next(&rng) % 100 < 45)
                    model_free(&m, harness_range(&rng, 0, m.n_live - 1));
                else
                    model_allocate(&m, random_size(&rng, mode), random_alignment(&rng, m.area_align));
            }
            break;
        case 2: { /* fill until the model sees failures, then drain in random order */
            uint64_t fails = m.ooms;
            while (m.ooms < fails + 8 && m.n_live < m.max_live)
                model_allocate(&m, random_size(&rng, mode), random_alignment(&rng, m.area_align));
            check_everything(&m);
            drain_all(&m, &rng, s0.largest_free_block);
            break;
        }
        case 3: /* LIFO: push a run, pop it back */
            for (uint64_t i = 0; i < steps / 2; i++)
                model_allocate(&m, random_size(&rng, mode), random_alignment(&rng, m.area_align));
            for (uint64_t i = 0; i < steps / 2 && m.n_live > 0; i++) model_free(&m, m.n_live - 1);
            break;
        case 4: /* sweep: free every other live block (holes), then refill */
            for (size_t i = m.n_live; i-- > 0;)
                if (i % 2 == 0) model_free(&m, i);
            for (uint64_t i = 0; i < steps / 4; i++)
                model_allocate(&m, random_size(&rng, 0), random_alignment(&rng, m.area_align));
            break;
        default: /* bad frees, and now and then a reset */
            model_bad_frees(&m, &rng);
            if (harness_next(&rng) % 8 == 0) {
                fl_allocator_reset(m.a);
                m.ops++;
                memset(m.owner, 0, (m.capacity / m.min_block) * sizeof *m.owner);
                m.n_live = 0;
                m.used = 0;
                m.requested = m.consumed = 0;
                fl_allocator_stats s;
                fl_allocator_get_stats(m.a, &s);
                CHECK_EQ_SIZE(s.largest_free_block, s0.largest_free_block);
            }
            break;
        }
        if (m.ops >= next_check) {
            check_everything(&m);
            next_check = m.ops + 2048;
        }
    }
    check_everything(&m);
    drain_all(&m, &rng, s0.largest_free_block);
    check_everything(&m);
    printf("%s: %llu ops (%llu allocations, %llu frees, %llu expected OOMs), capacity %zu\n", name,
           (unsigned long long)m.ops, (unsigned long long)m.allocs, (unsigned long long)m.frees,
           (unsigned long long)m.ooms, m.capacity);
    CHECK(m.ooms > 0 && m.allocs > target_ops / 3);
    model_close(&m);
    free(raw);
}

static void test_model_default_min_block(void)
{
    run_model("buddy model (min_block 64, 1000003-byte buffer)", 0xB0DDA11, 1000003, 5, 64,
              harness_scaled(1000000));
}

static void test_model_small_min_block(void)
{
    run_model("buddy model (min_block 2 pointers, 300017-byte buffer)", 0x5EED2, 300017, 24, 2 * sizeof(void *),
              harness_scaled(250000));
}

int main(void)
{
    RUN(test_model_default_min_block);
    RUN(test_model_small_min_block);
    return harness_finish();
}
