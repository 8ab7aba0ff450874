/* The linear allocator against a reference model: random allocations, last-frees, no-op
 * frees, bad frees, nested marks, rewinds and resets. The model predicts every pointer and
 * every statistic exactly; each live block carries a byte pattern checked before it dies. */
#include "harness.h"
#include "core/poison.h"

#define ARENA_BYTES ((size_t)32 << 10)
#define MAX_MARKS 16

static _Alignas(64) unsigned char arena[ARENA_BYTES];

typedef struct block {
    unsigned char *ptr;
    size_t size, begin; /* begin: the top before it, where its padding starts */
    uint64_t id;
} block;

typedef struct model {
    unsigned char *start;
    size_t capacity, top, peak;
    block *blocks; /* live blocks in address order */
    size_t n;
    bool last_known; /* blocks[n - 1] frees for real */
    fl_marker marks[MAX_MARKS];
    int n_marks;
    uint64_t allocs, frees, failed;
    uint64_t requested, consumed;
} model;

static void check_against_model(const fl_allocator *a, const model *m)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    CHECK_EQ_SIZE(s.used_bytes, m->top);
    CHECK_EQ_SIZE(s.free_bytes, m->capacity - m->top);
    CHECK_EQ_SIZE(s.largest_free_block, m->capacity - m->top);
    CHECK_EQ_SIZE(s.allocation_count, m->n);
    CHECK_EQ_SIZE(s.peak_used_bytes, m->peak);
    CHECK(s.total_allocations == m->allocs);
    CHECK(s.total_deallocations == m->frees);
    CHECK(s.failed_allocations == m->failed);
    CHECK(s.fragmentation_ratio == 0.0);
    double eff = m->consumed ? (double)m->requested / (double)m->consumed : 1.0;
    CHECK(s.allocation_efficiency == eff);
}

static void check_block(const block *b)
{
    FLI_OPEN(b->ptr, b->size); /* dead blocks are poisoned for memory checkers: look anyway */
    CHECK_MSG(harness_pattern_ok(b->ptr, b->size, b->id), "block %llu", (unsigned long long)b->id);
}

/* Blocks [keep, n) die: check their patterns, then forget them. */
static void drop_blocks_from(model *m, size_t keep)
{
    for (size_t i = keep; i < m->n; i++) check_block(&m->blocks[i]);
    m->n = keep;
}

typedef struct span_check {
    const void *expect_used;
    size_t used_size;
    int spans;
    int bad;
} span_check;

static void on_span(const void *block_start, size_t size, bool used, void *user)
{
    span_check *c = (span_check *)user;
    if (c->spans == 0 && used && (block_start != c->expect_used || size != c->used_size)) c->bad++;
    c->spans++;
}

static void full_check(const fl_allocator *a, const model *m)
{
    CHECK_OK(fl_allocator_validate(a));
    harness_check_stats_identities(a);
    check_against_model(a, m);
    for (size_t i = 0; i < m->n; i++) check_block(&m->blocks[i]);
    span_check c = {m->start, m->top, 0, 0};
    CHECK_OK(fl_allocator_walk(a, on_span, &c));
    CHECK(c.bad == 0);
    CHECK(c.spans == (m->top > 0) + (m->top < m->capacity));
}

static void model_rewind(fl_allocator *a, model *m, int i)
{
    fl_marker mk = m->marks[i];
    CHECK_OK(fl_allocator_rewind(a, mk));
    m->frees += m->n - mk.count;
    drop_blocks_from(m, mk.count);
    m->top = mk.offset;
    m->last_known = false;
    /* Markers above i are stale; those above the new top must be refused. */
    for (int j = i + 1; j < m->n_marks; j++) {
        if (m->marks[j].offset > m->top) CHECK_STATUS(fl_allocator_rewind(a, m->marks[j]), FL_ERR_INVALID_PARAMETERS);
    }
    m->n_marks = i + 1;
}

static void model_reset(fl_allocator *a, model *m)
{
    fl_allocator_reset(a);
    m->frees += m->n;
    drop_blocks_from(m, 0);
    m->top = 0;
    m->last_known = false;
    m->n_marks = 0;
    m->requested = m->consumed = 0;
}

static void test_linear_against_model(void)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_LINEAR;
    cfg.buffer = arena;
    cfg.size = ARENA_BYTES;
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a));

    model m;
    memset(&m, 0, sizeof m);
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    m.capacity = s.total_capacity;
    m.blocks = (block *)malloc(m.capacity * sizeof(block));
    CHECK(m.blocks != NULL);
    void *first = NULL;
    CHECK_OK(fl_allocator_allocate(a, 1, 1, &first));
    m.start = (unsigned char *)first;
    fl_allocator_reset(a);
    m.allocs = m.frees = 1;
    m.peak = 1;

    harness_rng rng = harness_rng_seeded("linear model", 0x11AEA5u);
    uint64_t ops = harness_scaled(1000000);
    uint64_t next_id = 1;
    for (uint64_t op = 0; op < ops; op++) {
        unsigned roll = (unsigned)(harness_next(&rng) % 1000);
        if (roll < 560) { /* allocate */
            size_t size = harness_next(&rng) % 16 == 0 ? harness_range(&rng, 1, 4096) : harness_range(&rng, 1, 96);
            unsigned shift = harness_next(&rng) % 64 == 0 ? (unsigned)harness_range(&rng, 7, 16)
                                                          : (unsigned)harness_range(&rng, 0, 6);
            size_t align = (size_t)1 << shift;
            uintptr_t here = (uintptr_t)(m.start + m.top);
            size_t pad = (size_t)(((here + align - 1) & ~(uintptr_t)(align - 1)) - here);
            void *p = NULL;
            fl_status st = fl_allocator_allocate(a, size, align, &p);
            if (pad + size <= m.capacity - m.top) {
                CHECK_OK(st);
                CHECK(p == m.start + m.top + pad);
                block b = {(unsigned char *)p, size, m.top, next_id++};
                harness_fill(p, size, b.id);
                m.blocks[m.n++] = b;
                m.top += pad + size;
                if (m.top > m.peak) m.peak = m.top;
                m.last_known = true;
                m.allocs++;
                m.requested += size;
                m.consumed += pad + size;
            } else {
                CHECK_STATUS(st, FL_ERR_OUT_OF_MEMORY);
                m.failed++;
                check_against_model(a, &m);
                /* Make room: back to a random marker, or everything. */
                if (m.n_marks > 0 && harness_next(&rng) % 4 != 0)
                    model_rewind(a, &m, (int)harness_range(&rng, 0, (size_t)m.n_marks - 1));
                else
                    model_reset(a, &m);
            }
        } else if (roll < 700) { /* free the newest block */
            if (m.n == 0) continue;
            block *b = &m.blocks[m.n - 1];
            check_block(b);
            CHECK_OK(fl_allocator_deallocate(a, b->ptr));
            if (m.last_known) {
                m.top = b->begin;
                m.n--;
                m.frees++;
                m.last_known = false;
            }
        } else if (roll < 780) { /* free an older block: accepted, nothing happens */
            if (m.n < 2) continue;
            block *b = &m.blocks[harness_range(&rng, 0, m.n - 2)];
            CHECK_OK(fl_allocator_deallocate(a, b->ptr));
        } else if (roll < 820) { /* bad frees change nothing */
            unsigned char *top = m.start + m.top;
            CHECK_STATUS(fl_allocator_deallocate(a, top), FL_ERR_INVALID_PARAMETERS);
            if (m.top + 1 < m.capacity)
                CHECK_STATUS(fl_allocator_deallocate(a, top + 1), FL_ERR_INVALID_PARAMETERS);
            CHECK_STATUS(fl_allocator_deallocate(a, m.start - 1), FL_ERR_INVALID_PARAMETERS);
            if (m.last_known && m.blocks[m.n - 1].size > 1)
                CHECK_STATUS(fl_allocator_deallocate(a, m.blocks[m.n - 1].ptr + 1), FL_ERR_INVALID_PARAMETERS);
            check_against_model(a, &m);
        } else if (roll < 870) { /* mark */
            if (m.n_marks == MAX_MARKS) continue;
            fl_marker mk = fl_allocator_mark(a);
            CHECK_EQ_SIZE(mk.offset, m.top);
            CHECK_EQ_SIZE(mk.count, m.n);
            CHECK_EQ_SIZE(mk.last, 0);
            m.marks[m.n_marks++] = mk;
            m.last_known = false;
        } else if (roll < 885) { /* rewind (rare enough that the region fills up) */
            if (m.n_marks == 0) continue;
            model_rewind(a, &m, (int)harness_range(&rng, 0, (size_t)m.n_marks - 1));
        } else if (roll < 886) {
            model_reset(a, &m);
        } else if (roll < 960) { /* usable size */
            if (m.n == 0) continue;
            size_t i = harness_range(&rng, 0, m.n - 1), got = 0;
            fl_status st = fl_allocator_usable_size(a, m.blocks[i].ptr, &got);
            if (m.last_known && i == m.n - 1) {
                CHECK_OK(st);
                CHECK_EQ_SIZE(got, m.blocks[i].size);
            } else {
                CHECK_STATUS(st, FL_ERR_NOT_SUPPORTED);
            }
        } else {
            check_against_model(a, &m);
        }
        if (op % 4096 == 0) full_check(a, &m);
    }
    full_check(a, &m);
    printf("linear model: %llu ops, %llu allocations, %llu failed\n", (unsigned long long)ops,
           (unsigned long long)m.allocs, (unsigned long long)m.failed);
    free(m.blocks);
    fl_allocator_destroy(a);
}

int main(void)
{
    RUN(test_linear_against_model);
    return harness_finish();
}
