/* The pool against a reference model: random allocate / free / wrong-pointer / reset
 * sequences in phases (fill, drain, churn), every live block's bytes checked before it is
 * freed, statistics compared with the model, validate every few thousand operations. */
#include "harness.h"

#include <stdint.h>
#include <string.h>

typedef struct live_block {
    unsigned char *ptr;
    size_t size;
    uint64_t id;
} live_block;

typedef struct model {
    fl_allocator *a;
    unsigned char *first; /* block 0 */
    size_t stride, align, n;
    live_block *live; /* live[0..count) */
    size_t count, peak; /* peak: most blocks live at once since create, resets included */
    size_t *slot; /* per block: position in live + 1, 0 when free */
    uint64_t allocations, deallocations, failed, requested, consumed, next_id;
    unsigned char *last_freed; /* LIFO: the next allocation returns it */
    unsigned char *recent[16]; /* recently freed blocks, for double-free attempts */
    unsigned recent_at;
} model;

static size_t block_of(const model *m, const unsigned char *p)
{
    size_t offset = (size_t)(p - m->first);
    CHECK_MSG(p >= m->first && offset % m->stride == 0 && offset / m->stride < m->n, "%p is not a block start", (void *)p);
    return offset / m->stride;
}

/* x87 keeps quotients in 80 bits: round the expected ratio to a double before comparing. */
static int same_ratio(double got, uint64_t num, uint64_t den)
{
    volatile double want = den ? (double)num / (double)den : 1.0;
    return got == want;
}

static void compare_stats(const model *m)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(m->a, &s);
    CHECK_EQ_SIZE(s.allocation_count, m->count);
    CHECK_EQ_SIZE(s.used_bytes, m->count * m->stride);
    CHECK_EQ_SIZE(s.peak_used_bytes, m->peak * m->stride);
    CHECK_EQ_SIZE(s.total_capacity, m->n * m->stride);
    CHECK_EQ_SIZE(s.largest_free_block, m->count < m->n ? m->stride : 0);
    CHECK(s.total_allocations == m->allocations && s.total_deallocations == m->deallocations);
    CHECK(s.failed_allocations == m->failed);
    CHECK(s.fragmentation_ratio == 0.0);
    CHECK(same_ratio(s.allocation_efficiency, m->requested, m->consumed));
    harness_check_stats_identities(m->a);
}

static void check_refused(fl_status got)
{
    CHECK_STATUS(got, FL_ERR_INVALID_PARAMETERS);
}

static void model_allocate(model *m, harness_rng *rng)
{
    /* Mostly small requests (patterns stay cheap), sometimes the whole block. */
    size_t size = harness_next(rng) % 4 == 0 ? m->stride : harness_range(rng, 1, m->stride < 64 ? m->stride : 64);
    size_t align = (size_t)1 << harness_range(rng, 0, 20);
    if (align > m->align) align = m->align;
    if (harness_next(rng) % 8 == 0 && FL_ALIGN_DEFAULT <= m->align) align = 0;
    void *p = NULL;
    fl_status status = fl_allocator_allocate(m->a, size, align, &p);
    if (m->count == m->n) {
        CHECK_STATUS(status, FL_ERR_OUT_OF_MEMORY);
        m->failed++;
        return;
    }
    CHECK_OK(status);
    unsigned char *block = (unsigned char *)p;
    size_t index = block_of(m, block);
    CHECK_MSG(m->slot[index] == 0, "block %zu handed out twice", index);
    CHECK(((uintptr_t)block & (m->align - 1)) == 0);
    if (m->last_freed != NULL) CHECK(block == m->last_freed);
    m->last_freed = NULL;
    live_block b = {block, size, ++m->next_id};
    harness_fill(block, size, b.id);
    m->live[m->count] = b;
    m->slot[index] = ++m->count;
    if (m->count > m->peak) m->peak = m->count;
    m->allocations++;
    m->requested += size;
    m->consumed += m->stride;
}

static void model_free(model *m, size_t at)
{
    live_block b = m->live[at];
    CHECK_MSG(harness_pattern_ok(b.ptr, b.size, b.id), "block %p (id %llu) was overwritten", (void *)b.ptr,
              (unsigned long long)b.id);
    CHECK_OK(fl_allocator_deallocate(m->a, b.ptr));
    m->slot[block_of(m, b.ptr)] = 0;
    m->live[at] = m->live[--m->count];
    if (at < m->count) m->slot[block_of(m, m->live[at].ptr)] = at + 1;
    m->deallocations++;
    m->last_freed = b.ptr;
    m->recent[m->recent_at++ % 16] = b.ptr;
}

/* A wrong call of some kind: refused, and nothing changes. */
static void model_wrong(model *m, harness_rng *rng)
{
    fl_allocator_stats before, after;
    fl_allocator_get_stats(m->a, &before);
    void *p = NULL;
    int local = 0;
    switch (harness_next(rng) % 6) {
    case 0: { /* double free of a recently freed block that is still free */
        unsigned char *q = m->recent[harness_next(rng) % 16];
        if (q == NULL || m->slot[block_of(m, q)] != 0) return;
        check_refused(fl_allocator_deallocate(m->a, q));
        break;
    }
    case 1: /* interior pointer of a live block */
        if (m->count == 0) return;
        check_refused(fl_allocator_deallocate(m->a, m->live[harness_next(rng) % m->count].ptr +
                                                           harness_range(rng, 1, m->stride - 1)));
        break;
    case 2: /* foreign */
        check_refused(fl_allocator_deallocate(m->a, harness_next(rng) % 2 ? (void *)&local
                                                                             : (void *)(m->first - 1)));
        break;
    case 3: /* past the end */
        check_refused(fl_allocator_deallocate(m->a, m->first + m->n * m->stride + harness_range(rng, 0, 64)));
        break;
    case 4:
        check_refused(fl_allocator_allocate(m->a, m->stride + harness_range(rng, 1, 100), 1, &p));
        break;
    default:
        if (m->align >= FL_ALIGN_MAX) return;
        check_refused(fl_allocator_allocate(m->a, 1, m->align * 2, &p));
        break;
    }
    fl_allocator_get_stats(m->a, &after);
    CHECK(memcmp(&before, &after, sizeof before) == 0);
}

typedef struct walk_check {
    const model *m;
    size_t index, used, mismatches;
} walk_check;

static void on_block(const void *block, size_t size, bool used, void *user)
{
    walk_check *w = (walk_check *)user;
    const model *m = w->m;
    if (block != m->first + w->index * m->stride || size != m->stride || used != (m->slot[w->index] != 0))
        w->mismatches++;
    w->index++;
    w->used += used;
}

static void run_model(const char *what, size_t block_size, size_t align, size_t buffer_bytes, uint64_t ops,
                      uint64_t seed)
{
    harness_rng rng = harness_rng_seeded(what, seed);
    unsigned char *raw = (unsigned char *)malloc(buffer_bytes);
    CHECK(raw != NULL);
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_POOL;
    cfg.buffer = raw;
    cfg.size = buffer_bytes;
    cfg.block_size = block_size;
    cfg.block_alignment = align;
    model m;
    memset(&m, 0, sizeof m);
    CHECK_OK(fl_allocator_create(&cfg, &m.a));
    fl_allocator_stats s;
    fl_allocator_get_stats(m.a, &s);
    m.align = align;
    m.stride = s.largest_free_block;
    m.n = s.total_capacity / m.stride;
    CHECK(m.stride >= block_size && m.stride % align == 0 && m.n * m.stride == s.total_capacity);
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(m.a, 1, 1, &p)); /* block 0: learn where the blocks start */
    m.first = (unsigned char *)p;
    fl_allocator_reset(m.a);
    m.live = (live_block *)calloc(m.n, sizeof *m.live);
    m.slot = (size_t *)calloc(m.n, sizeof *m.slot);
    CHECK(m.live != NULL && m.slot != NULL);
    m.allocations = m.deallocations = 1; /* the probe, released by reset */
    m.peak = 1;

    unsigned alloc_percent = 50;
    uint64_t phase_left = 0, resets = 0, wrongs = 0, ooms = 0;
    for (uint64_t op = 0; op < ops; op++) {
        if (phase_left-- == 0) { /* fill, drain or churn for a while */
            static const unsigned mixes[] = {90, 10, 50, 60, 40};
            alloc_percent = mixes[harness_next(&rng) % 5];
            phase_left = harness_range(&rng, 50, 4 * m.n + 100);
        }
        uint64_t r = harness_next(&rng) % 1000;
        if (r == 0 && harness_next(&rng) % 64 == 0) {
            fl_allocator_reset(m.a);
            memset(m.slot, 0, m.n * sizeof *m.slot);
            m.deallocations += m.count;
            m.count = 0;
            m.requested = m.consumed = 0;
            m.last_freed = NULL;
            resets++;
        } else if (r < 10) {
            model_wrong(&m, &rng);
            wrongs++;
        } else if (r % 100 < alloc_percent || m.count == 0) {
            uint64_t failed = m.failed;
            model_allocate(&m, &rng);
            ooms += m.failed - failed;
        } else {
            model_free(&m, (size_t)(harness_next(&rng) % m.count));
        }
        if (op % 4096 == 0) {
            CHECK_OK(fl_allocator_validate(m.a));
            compare_stats(&m);
        }
        if (op % 65536 == 0) {
            walk_check w = {&m, 0, 0, 0};
            CHECK_OK(fl_allocator_walk(m.a, on_block, &w));
            CHECK(w.index == m.n && w.used == m.count && w.mismatches == 0);
        }
    }
    CHECK_OK(fl_allocator_validate(m.a));
    compare_stats(&m);
    while (m.count > 0) model_free(&m, m.count - 1);
    CHECK_OK(fl_allocator_validate(m.a));
    compare_stats(&m);
    printf("%s: %llu ops, %zu blocks of %zu, %llu allocations, %llu out of memory, %llu wrong calls, %llu resets\n",
           what, (unsigned long long)ops, m.n, m.stride, (unsigned long long)m.allocations,
           (unsigned long long)ooms, (unsigned long long)wrongs, (unsigned long long)resets);
    /* The run must have reached the interesting states. */
    CHECK(ops < 20000 || (ooms > 0 && m.allocations > ops / 4));
    fl_allocator_destroy(m.a);
    free(m.live);
    free(m.slot);
    free(raw);
}

static uint64_t share(unsigned percent) { return harness_scaled(1000000) * percent / 100 + 1; }

static void test_model_stride_24(void) { run_model("pool 24/8", 24, 8, 16 * 1024 + 3, share(20), 24); }
static void test_model_block_1(void) { run_model("pool 1/1", 1, 1, 4096, share(20), 1); }
static void test_model_odd_13(void) { run_model("pool 13/1", 13, 1, 8000, share(15), 13); }
static void test_model_100_64(void) { run_model("pool 100/64", 100, 64, 40 * 1024, share(20), 100); }
static void test_model_48_16(void) { run_model("pool 48/16", 48, 16, 64 * 1024, share(20), 48); }
static void test_model_page(void) { run_model("pool 4096/4096", 4096, 4096, 300 * 1024, share(5), 4096); }

int main(void)
{
    RUN(test_model_stride_24);
    RUN(test_model_block_1);
    RUN(test_model_odd_13);
    RUN(test_model_100_64);
    RUN(test_model_48_16);
    RUN(test_model_page);
    return harness_finish();
}
