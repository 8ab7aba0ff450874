/* The stack allocator against a reference model: random pushes, pops, LIFO violations, bad
 * pointers, nested marks, rewinds (valid and stale) and resets. The model predicts every
 * pointer and statistic exactly; each live block carries a byte pattern checked before it
 * dies, and every full check walks the blocks in address order against the model. */
#include "harness.h"
#include "core/poison.h"

#define W (sizeof(size_t))
#define ARENA_BYTES ((size_t)64 << 10)
#define MAX_MARKS 16

static _Alignas(64) unsigned char arena[ARENA_BYTES];

typedef struct block {
    unsigned char *ptr;
    size_t size, rounded, begin; /* begin: where its padding starts */
    uint64_t id;
} block;

typedef struct model {
    unsigned char *start;
    size_t capacity, top, peak;
    block *blocks; /* live blocks, bottom first */
    size_t n;
    fl_marker marks[MAX_MARKS]; /* valid markers, oldest first */
    int n_marks;
    fl_marker stale[MAX_MARKS]; /* markers the stack went below */
    int n_stale;
    uint64_t allocs, frees, failed;
    uint64_t requested, consumed;
} model;

static size_t last_offset(const model *m) { return m->n ? (size_t)(m->blocks[m->n - 1].ptr - m->start) : 0; }

static void check_against_model(const fl_allocator *a, const model *m)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    size_t room = m->capacity - m->top;
    CHECK_EQ_SIZE(s.used_bytes, m->top);
    CHECK_EQ_SIZE(s.free_bytes, room);
    CHECK_EQ_SIZE(s.largest_free_block, room > W ? room - W : 0);
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
    FLI_OPEN(b->ptr, b->rounded); /* dead blocks are poisoned for memory checkers: look anyway */
    CHECK_MSG(harness_pattern_ok(b->ptr, b->rounded, b->id), "block %llu", (unsigned long long)b->id);
}

typedef struct walk_check {
    const model *m;
    size_t i;
    int bad;
    bool saw_free;
} walk_check;

static void on_block(const void *start, size_t size, bool used, void *user)
{
    walk_check *c = (walk_check *)user;
    const model *m = c->m;
    if (!used) {
        if (c->saw_free || c->i != m->n || start != m->start + m->top || size != m->capacity - m->top) c->bad++;
        c->saw_free = true;
        return;
    }
    if (c->i >= m->n) {
        c->bad++;
        return;
    }
    const block *b = &m->blocks[c->i++];
    size_t end = c->i < m->n ? m->blocks[c->i].begin : m->top;
    if (start != m->start + b->begin || size != end - b->begin) c->bad++;
}

static void full_check(const fl_allocator *a, const model *m)
{
    CHECK_OK(fl_allocator_validate(a));
    harness_check_stats_identities(a);
    check_against_model(a, m);
    for (size_t i = 0; i < m->n; i++) check_block(&m->blocks[i]);
    walk_check c = {m, 0, 0, false};
    CHECK_OK(fl_allocator_walk(a, on_block, &c));
    CHECK(c.bad == 0 && c.i == m->n && c.saw_free == (m->top < m->capacity));
    CHECK_OK(fl_allocator_validate(a)); /* the walk restored every header */
}

/* Markers above the new top are stale from now on. */
static void retire_marks_above(model *m)
{
    while (m->n_marks > 0 && m->marks[m->n_marks - 1].offset > m->top) {
        if (m->n_stale < MAX_MARKS) m->stale[m->n_stale++] = m->marks[m->n_marks - 1];
        m->n_marks--;
    }
}

static void drop_blocks_from(model *m, size_t keep)
{
    for (size_t i = keep; i < m->n; i++) check_block(&m->blocks[i]);
    m->frees += m->n - keep;
    m->top = keep < m->n ? m->blocks[keep].begin : m->top;
    m->n = keep;
}

static void model_rewind(fl_allocator *a, model *m, int i)
{
    fl_marker mk = m->marks[i];
    CHECK_OK(fl_allocator_rewind(a, mk));
    drop_blocks_from(m, mk.count);
    CHECK_EQ_SIZE(m->top, mk.offset);
    CHECK_EQ_SIZE(last_offset(m), mk.last);
    retire_marks_above(m);
}

static void model_reset(fl_allocator *a, model *m)
{
    fl_allocator_reset(a);
    drop_blocks_from(m, 0);
    m->top = 0;
    m->n_marks = 0;
    m->n_stale = 0;
    m->requested = m->consumed = 0;
}

/* Would rewind accept this stale marker? Only if an allocation begins at its offset and
 * links to its last (or it equals the state). Returns false when it must be refused. */
static bool stale_could_pass(const model *m, fl_marker mk)
{
    if (mk.offset > m->top || mk.count > m->n) return false;
    if (mk.offset == m->top) return mk.count == m->n && mk.last == last_offset(m);
    if (mk.offset == 0) return true;
    for (size_t i = 0; i < m->n; i++)
        if (m->blocks[i].begin == mk.offset) return i > 0 && (size_t)(m->blocks[i - 1].ptr - m->start) == mk.last;
    /* No allocation begins there: the word read is payload, which the model fills with
     * patterns; those can mimic a header only by chance, so leave that case alone. */
    return true;
}

static void test_stack_against_model(void)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_STACK;
    cfg.buffer = arena;
    cfg.size = ARENA_BYTES;
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a));

    model m;
    memset(&m, 0, sizeof m);
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    m.capacity = s.total_capacity;
    m.blocks = (block *)malloc((m.capacity / (2 * W)) * sizeof(block));
    CHECK(m.blocks != NULL);
    void *first = NULL;
    CHECK_OK(fl_allocator_allocate(a, 1, 1, &first));
    m.start = (unsigned char *)first - W;
    CHECK_OK(fl_allocator_deallocate(a, first));
    m.allocs = m.frees = 1;
    m.peak = 2 * W;
    m.requested = 1;
    m.consumed = 2 * W;

    harness_rng rng = harness_rng_seeded("stack model", 0x57AC4u);
    uint64_t ops = harness_scaled(1000000);
    uint64_t next_id = 1, lifo_refusals = 0, stale_refusals = 0;
    for (uint64_t op = 0; op < ops; op++) {
        unsigned roll = (unsigned)(harness_next(&rng) % 1000);
        if (roll < 520) { /* push */
            size_t size = harness_next(&rng) % 16 == 0 ? harness_range(&rng, 1, 4096) : harness_range(&rng, 1, 96);
            unsigned shift = harness_next(&rng) % 64 == 0 ? (unsigned)harness_range(&rng, 7, 16)
                                                          : (unsigned)harness_range(&rng, 0, 6);
            size_t align = (size_t)1 << shift;
            if (harness_next(&rng) % 50 == 0) { /* exactly the promised largest block */
                fl_allocator_get_stats(a, &s);
                if (s.largest_free_block == 0) continue;
                size = s.largest_free_block;
                align = 1;
            }
            uintptr_t eff = align < W ? W : align;
            uintptr_t here = (uintptr_t)(m.start + m.top);
            uintptr_t payload = (here + W + eff - 1) & ~(eff - 1);
            size_t rounded = (size + W - 1) / W * W;
            size_t need = (size_t)(payload - here) + rounded;
            void *p = NULL;
            fl_status st = fl_allocator_allocate(a, size, align, &p);
            if (need <= m.capacity - m.top) {
                CHECK_OK(st);
                CHECK((uintptr_t)p == payload);
                block b = {(unsigned char *)p, size, rounded, m.top, next_id++};
                size_t usable = 0; /* asking opens the rounded tail for memory checkers */
                CHECK_OK(fl_allocator_usable_size(a, p, &usable));
                CHECK_EQ_SIZE(usable, rounded);
                harness_fill(p, rounded, b.id);
                m.blocks[m.n++] = b;
                m.top += need;
                if (m.top > m.peak) m.peak = m.top;
                m.allocs++;
                m.requested += size;
                m.consumed += need;
            } else {
                CHECK_STATUS(st, FL_ERR_OUT_OF_MEMORY);
                m.failed++;
                check_against_model(a, &m);
                if (m.n_marks > 0 && harness_next(&rng) % 4 != 0)
                    model_rewind(a, &m, (int)harness_range(&rng, 0, (size_t)m.n_marks - 1));
                else if (harness_next(&rng) % 2)
                    model_reset(a, &m);
                else
                    while (m.n > 0 && m.top + 8192 > m.capacity) { /* pop a few */
                        CHECK_OK(fl_allocator_deallocate(a, m.blocks[m.n - 1].ptr));
                        drop_blocks_from(&m, m.n - 1);
                        retire_marks_above(&m);
                    }
            }
        } else if (roll < 780) { /* pop */
            if (m.n == 0) continue;
            block *b = &m.blocks[m.n - 1];
            size_t n = 0;
            CHECK_OK(fl_allocator_usable_size(a, b->ptr, &n));
            CHECK_EQ_SIZE(n, b->rounded);
            CHECK_OK(fl_allocator_deallocate(a, b->ptr));
            drop_blocks_from(&m, m.n - 1);
            retire_marks_above(&m);
        } else if (roll < 810) { /* LIFO violation: refused, nothing changes */
            if (m.n < 2) continue;
            block *b = &m.blocks[harness_range(&rng, 0, m.n - 2)];
            CHECK_STATUS(fl_allocator_deallocate(a, b->ptr), FL_ERR_INVALID_STATE);
            size_t n = 0;
            CHECK_STATUS(fl_allocator_usable_size(a, b->ptr, &n), FL_ERR_NOT_SUPPORTED);
            lifo_refusals++;
            check_against_model(a, &m);
        } else if (roll < 830) { /* pointers that are no allocation */
            unsigned char *top = m.start + m.top;
            CHECK_STATUS(fl_allocator_deallocate(a, top), FL_ERR_INVALID_PARAMETERS);
            CHECK_STATUS(fl_allocator_deallocate(a, m.start - 1), FL_ERR_INVALID_PARAMETERS);
            if (m.n > 0) {
                block *b = &m.blocks[m.n - 1];
                CHECK_STATUS(fl_allocator_deallocate(a, b->ptr + 1), FL_ERR_INVALID_PARAMETERS);
                CHECK_STATUS(fl_allocator_deallocate(a, b->ptr - W), FL_ERR_INVALID_PARAMETERS);
                if (b->rounded > W) CHECK_STATUS(fl_allocator_deallocate(a, b->ptr + W), FL_ERR_INVALID_PARAMETERS);
            }
            check_against_model(a, &m);
        } else if (roll < 880) { /* mark */
            if (m.n_marks == MAX_MARKS) continue;
            fl_marker mk = fl_allocator_mark(a);
            CHECK_EQ_SIZE(mk.offset, m.top);
            CHECK_EQ_SIZE(mk.count, m.n);
            CHECK_EQ_SIZE(mk.last, last_offset(&m));
            m.marks[m.n_marks++] = mk;
        } else if (roll < 920) { /* rewind to a valid marker */
            if (m.n_marks == 0) continue;
            model_rewind(a, &m, (int)harness_range(&rng, 0, (size_t)m.n_marks - 1));
        } else if (roll < 940) { /* a stale marker is refused when it no longer fits the chain */
            if (m.n_stale == 0) continue;
            int i = (int)harness_range(&rng, 0, (size_t)m.n_stale - 1);
            fl_marker mk = m.stale[i];
            m.stale[i] = m.stale[--m.n_stale];
            if (stale_could_pass(&m, mk)) continue;
            CHECK_STATUS(fl_allocator_rewind(a, mk), FL_ERR_INVALID_PARAMETERS);
            stale_refusals++;
            check_against_model(a, &m);
        } else if (roll < 942) {
            model_reset(a, &m);
        } else {
            check_against_model(a, &m);
        }
        if (op % 4096 == 0) full_check(a, &m);
    }
    full_check(a, &m);
    printf("stack model: %llu ops, %llu pushes, %llu failed, %llu LIFO refusals, %llu stale markers refused\n",
           (unsigned long long)ops, (unsigned long long)m.allocs, (unsigned long long)m.failed,
           (unsigned long long)lifo_refusals, (unsigned long long)stale_refusals);
    free(m.blocks);
    fl_allocator_destroy(a);
}

int main(void)
{
    RUN(test_stack_against_model);
    return harness_finish();
}
