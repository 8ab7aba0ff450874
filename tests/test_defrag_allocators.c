/* fl_allocator_relocate, the allocator-level defragmentation primitive (free list and
 * buddy; every other type answers FL_ERR_NOT_SUPPORTED): compaction of a fragmented heap
 * block by block in address order, exact statistics against a model after every move,
 * contents preserved, the overlapping slide, the absorbed tail, kept alignment, the buddy
 * coalescing after a move, no-op moves, bad input, threads, and a randomized run mixing
 * allocate, free and relocate against a reference model. */
#include "harness.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The free list's geometry (freelist.c), recomputed to predict block sizes. */
#define W sizeof(size_t)
#define G (2 * W > FL_ALIGN_DEFAULT ? 2 * W : FL_ALIGN_DEFAULT)
#define MIN_BLOCK ((2 * W + 2 * sizeof(void *) + G - 1) & ~(G - 1))

static size_t round_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }

/* Free-list block size of a request of n bytes with alignment <= G. */
static size_t fl_block_of(size_t n)
{
    size_t b = round_up(n + W, G);
    return b < MIN_BLOCK ? MIN_BLOCK : b;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) abort();
    return p;
}

static fl_allocator *make(fl_allocator_type type, void *buffer, size_t size, bool thread_safe)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = type;
    cfg.buffer = buffer;
    cfg.size = size;
    cfg.thread_safe = thread_safe;
    if (type == FL_ALLOCATOR_POOL) cfg.block_size = 64;
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a));
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

static size_t usable_of(const fl_allocator *a, const void *p)
{
    size_t n = 0;
    CHECK_OK(fl_allocator_usable_size(a, p, &n));
    return n;
}


/* ---- walk capture ------------------------------------------------------------------------ */

typedef struct walked {
    uintptr_t start;
    size_t size;
    bool used;
} walked;

typedef struct walk_log {
    walked *blocks;
    size_t count, capacity;
} walk_log;

static void record(const void *block, size_t size, bool used, void *user)
{
    walk_log *log = (walk_log *)user;
    if (log->count < log->capacity) {
        walked w = {(uintptr_t)block, size, used};
        log->blocks[log->count] = w;
    }
    log->count++;
}

static walk_log walk_of(const fl_allocator *a)
{
    static walked storage[1 << 16];
    walk_log log = {storage, 0, sizeof storage / sizeof storage[0]};
    CHECK_OK(fl_allocator_walk(a, record, &log));
    CHECK(log.count <= log.capacity);
    return log;
}

/* The used blocks' allocation pointers, in address order: block + allocation_overhead. */
static size_t live_pointers(const fl_allocator *a, void **out, size_t max)
{
    size_t overhead = stats_of(a).allocation_overhead, n = 0;
    walk_log log = walk_of(a);
    for (size_t i = 0; i < log.count; i++) {
        if (!log.blocks[i].used) continue;
        CHECK(n < max);
        void *p = (void *)(log.blocks[i].start + overhead);
        /* The documented rule: that pointer is a live allocation of the whole block. */
        CHECK_EQ_SIZE(usable_of(a, p), log.blocks[i].size - overhead);
        out[n++] = p;
    }
    return n;
}

/* ---- the model -------------------------------------------------------------------------- */

typedef struct live_block {
    unsigned char *p;
    size_t size;      /* bytes asked for and patterned */
    size_t consumed;  /* usable + allocation_overhead */
    size_t alignment; /* asked for (0: default) */
    uint64_t id;
} live_block;

/* qsort order of live blocks: by address. */
static int by_address(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t)((const live_block *)x)->p, b = (uintptr_t)((const live_block *)y)->p;
    return a < b ? -1 : a > b;
}

typedef struct model {
    live_block *blocks;
    size_t count, capacity;
    size_t used, peak, overhead;
    uint64_t allocations, deallocations, next_id;
} model;

static model model_new(const fl_allocator *a, size_t capacity)
{
    model m;
    memset(&m, 0, sizeof m);
    m.blocks = (live_block *)xmalloc(capacity * sizeof *m.blocks);
    m.capacity = capacity;
    m.overhead = stats_of(a).allocation_overhead;
    return m;
}

static void model_free_storage(model *m) { free(m->blocks); }

static void model_check_stats(const fl_allocator *a, const model *m)
{
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.allocation_count, m->count);
    CHECK_EQ_SIZE(s.used_bytes, m->used);
    CHECK_EQ_SIZE(s.peak_used_bytes, m->peak);
    CHECK(s.total_allocations == m->allocations);
    CHECK(s.total_deallocations == m->deallocations);
    harness_check_stats_identities(a);
}

/* Allocates, patterns and records a block; false on out of memory (nothing recorded). */
static bool model_allocate(fl_allocator *a, model *m, size_t size, size_t alignment)
{
    void *p = NULL;
    fl_status st = fl_allocator_allocate(a, size, alignment, &p);
    if (st == FL_ERR_OUT_OF_MEMORY) return false;
    CHECK_OK(st);
    CHECK(m->count < m->capacity);
    if (alignment) CHECK(((uintptr_t)p & (alignment - 1)) == 0);
    live_block b = {(unsigned char *)p, size, usable_of(a, p) + m->overhead, alignment, m->next_id++};
    harness_fill(p, size, b.id);
    m->blocks[m->count++] = b;
    m->used += b.consumed;
    if (m->used > m->peak) m->peak = m->used;
    m->allocations++;
    return true;
}

static void model_free(fl_allocator *a, model *m, size_t i)
{
    live_block *b = &m->blocks[i];
    CHECK_MSG(harness_pattern_ok(b->p, b->size, b->id), "block %p (id %llu) was damaged", (void *)b->p,
              (unsigned long long)b->id);
    CHECK_OK(fl_allocator_deallocate(a, b->p));
    m->used -= b->consumed;
    m->deallocations++;
    m->blocks[i] = m->blocks[--m->count];
}

static size_t model_find(const model *m, const void *p)
{
    for (size_t i = 0; i < m->count; i++)
        if (m->blocks[i].p == p) return i;
    CHECK(!"pointer not in the model");
    return 0;
}

/* Relocates block i and checks everything a move promises. Returns whether it moved. */
static bool model_relocate(fl_allocator *a, model *m, size_t i)
{
    live_block *b = &m->blocks[i];
    size_t old_usable = b->consumed - m->overhead;
    fl_allocator_stats before = stats_of(a);
    void *moved = NULL;
    CHECK_OK(fl_allocator_relocate(a, b->p, &moved));
    CHECK(moved != NULL);
    fl_allocator_stats after = stats_of(a);
    CHECK(after.allocation_efficiency == before.allocation_efficiency); /* lifetime sums unchanged */
    if (moved == b->p) {
        CHECK(stats_equal(&before, &after)); /* a no-op changes nothing at all */
        CHECK(harness_pattern_ok(b->p, b->size, b->id));
        return false;
    }
    CHECK((uintptr_t)moved < (uintptr_t)b->p); /* only ever down */
    /* The old pointer is no live allocation any more (free, or inside the moved block). */
    size_t dummy;
    CHECK_STATUS(fl_allocator_usable_size(a, b->p, &dummy), FL_ERR_INVALID_PARAMETERS);
    CHECK_MSG(harness_pattern_ok(moved, b->size, b->id), "moved block %p -> %p (id %llu) lost its bytes",
              (void *)b->p, moved, (unsigned long long)b->id);
    size_t usable = usable_of(a, moved);
    CHECK(usable >= old_usable);
    if (b->alignment) CHECK(((uintptr_t)moved & (b->alignment - 1)) == 0);
    m->used = m->used - b->consumed + usable + m->overhead;
    if (m->used > m->peak) m->peak = m->used;
    b->consumed = usable + m->overhead;
    b->p = (unsigned char *)moved;
    return true;
}

/* Relocates every live block in increasing address order (pointers collected by walk),
 * validating after each move. Returns the number moved. */
static size_t compact_all(fl_allocator *a, model *m)
{
    void **order = (void **)xmalloc((m->count + 1) * sizeof *order);
    size_t n = live_pointers(a, order, m->count + 1);
    CHECK_EQ_SIZE(n, m->count);
    size_t moved = 0;
    for (size_t k = 0; k < n; k++) {
        if (model_relocate(a, m, model_find(m, order[k]))) moved++;
        CHECK_OK(fl_allocator_validate(a));
        model_check_stats(a, m);
    }
    free(order);
    return moved;
}

/* Allocates sizes from `sizes` (cycled) until the allocator is full, then frees every
 * other block in address order. */
static void fragment(fl_allocator *a, model *m, const size_t *sizes, size_t n_sizes)
{
    for (size_t k = 0; m->count < m->capacity; k++)
        if (!model_allocate(a, m, sizes[k % n_sizes], 0)) break;
    /* Fill what is left with the smallest size so no free block remains at either end. */
    while (m->count < m->capacity && model_allocate(a, m, 1, 0)) {
    }
    qsort(m->blocks, m->count, sizeof *m->blocks, by_address);
    for (size_t k = m->count; k-- > 0;)
        if (k % 2 == 0) model_free(a, m, k);
    CHECK_OK(fl_allocator_validate(a));
    model_check_stats(a, m);
}

/* ---- which types relocate --------------------------------------------------------------- */

static void test_not_supported_types(void)
{
    static const fl_allocator_type types[] = {FL_ALLOCATOR_LINEAR, FL_ALLOCATOR_STACK, FL_ALLOCATOR_POOL,
                                              FL_ALLOCATOR_SYSTEM};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        size_t size = 1 << 16;
        void *buffer = types[t] == FL_ALLOCATOR_SYSTEM ? NULL : xmalloc(size);
        fl_allocator *a = make(types[t], buffer, types[t] == FL_ALLOCATOR_SYSTEM ? 0 : size, false);
        void *p = NULL, *q = NULL;
        CHECK_OK(fl_allocator_allocate(a, 32, 0, &p));
        CHECK_OK(fl_allocator_allocate(a, 32, 0, &q));
        fl_allocator_stats before = stats_of(a);
        CHECK(!before.supports_defrag);
        void *out = (void *)&out;
        CHECK_STATUS(fl_allocator_relocate(a, q, &out), FL_ERR_NOT_SUPPORTED);
        CHECK(out == (void *)&out);
        fl_allocator_stats after = stats_of(a);
        CHECK(stats_equal(&before, &after));
        CHECK_OK(fl_allocator_validate(a));
        fl_allocator_destroy(a);
        free(buffer);
    }
    /* The two that do. */
    void *buffer = xmalloc(1 << 16);
    fl_allocator *a = make(FL_ALLOCATOR_FREELIST, buffer, 1 << 16, false);
    CHECK(stats_of(a).supports_defrag);
    fl_allocator_destroy(a);
    a = make(FL_ALLOCATOR_BUDDY, buffer, 1 << 16, false);
    CHECK(stats_of(a).supports_defrag);
    fl_allocator_destroy(a);
    free(buffer);
}

/* A buddy managing external memory never touches it: it cannot move bytes there. */
static void test_external_buddy_not_supported(void)
{
    size_t managed_size = 1 << 14;
    unsigned char *managed = (unsigned char *)xmalloc(managed_size + 4096);
    unsigned char *base = (unsigned char *)(((uintptr_t)managed + 4095) & ~(uintptr_t)4095);
    memset(base, 0xA5, managed_size);
    size_t control_size = fl_buddy_control_size(managed_size, 64);
    CHECK(control_size > 0);
    void *control = xmalloc(control_size + FL_ALIGN_DEFAULT);
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_BUDDY;
    cfg.buffer = control;
    cfg.size = control_size + FL_ALIGN_DEFAULT;
    cfg.managed = base;
    cfg.managed_size = managed_size;
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    void *p[4];
    for (int i = 0; i < 4; i++) CHECK_OK(fl_allocator_allocate(a, 64, 0, &p[i]));
    CHECK_OK(fl_allocator_deallocate(a, p[0]));
    fl_allocator_stats before = stats_of(a);
    CHECK(!before.supports_defrag);
    void *out = NULL;
    CHECK_STATUS(fl_allocator_relocate(a, p[3], &out), FL_ERR_NOT_SUPPORTED);
    CHECK(out == NULL);
    fl_allocator_stats after = stats_of(a);
    CHECK(stats_equal(&before, &after));
    for (size_t i = 0; i < managed_size; i++) CHECK(base[i] == 0xA5);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
    free(control);
    free(managed);
}

/* ---- bad input -------------------------------------------------------------------------- */

static void bad_inputs(fl_allocator_type type)
{
    size_t size = 1 << 16;
    void *buffer = xmalloc(size);
    fl_allocator *a = make(type, buffer, size, false);
    void *p = NULL, *q = NULL, *r = NULL, *gone = NULL;
    CHECK_OK(fl_allocator_allocate(a, 256, 0, &p));
    CHECK_OK(fl_allocator_allocate(a, 256, 0, &gone));
    CHECK_OK(fl_allocator_allocate(a, 256, 0, &q));
    CHECK_OK(fl_allocator_allocate(a, 256, 0, &r));
    CHECK_OK(fl_allocator_deallocate(a, gone));
    fl_allocator_stats before = stats_of(a);
    char foreign[64];
    void *const sentinel = (void *)&foreign[1];
    void *const bad[] = {
        foreign,                         /* not this allocator's memory */
        (unsigned char *)q + 1,          /* interior, unaligned */
        (unsigned char *)q + 64,         /* interior, on a granule / block boundary */
        gone,                            /* already freed */
        (unsigned char *)buffer + size,  /* one past the buffer */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *out = sentinel;
        CHECK_STATUS(fl_allocator_relocate(a, bad[i], &out), FL_ERR_INVALID_PARAMETERS);
        CHECK(out == sentinel);
        fl_allocator_stats after = stats_of(a);
        CHECK(stats_equal(&before, &after));
    }
    void *out = sentinel;
    CHECK_STATUS(fl_allocator_relocate(NULL, q, &out), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_relocate(a, NULL, &out), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_relocate(a, q, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK(out == sentinel);
    fl_allocator_stats after = stats_of(a);
    CHECK(stats_equal(&before, &after));
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
    free(buffer);
}

static void test_bad_inputs_freelist(void) { bad_inputs(FL_ALLOCATOR_FREELIST); }
static void test_bad_inputs_buddy(void) { bad_inputs(FL_ALLOCATOR_BUDDY); }

/* ---- compaction ------------------------------------------------------------------------- */

/* Free list: fragment a full heap, relocate every block in address order. Each block lands
 * right after the previous one (packed from the first block), and at the end the walk is
 * all used blocks then exactly one free block; a request that failed before now fits. */
static void test_freelist_compaction(void)
{
    size_t size = 1 << 20;
    void *buffer = xmalloc(size);
    fl_allocator *a = make(FL_ALLOCATOR_FREELIST, buffer, size, false);
    model m = model_new(a, 20000);
    static const size_t sizes[] = {24, 100, 7, 300, 64, 1000, 16, 129, 48, 600, 8, 250};
    fragment(a, &m, sizes, sizeof sizes / sizeof sizes[0]);

    fl_allocator_stats s = stats_of(a);
    size_t want = s.free_bytes / 2; /* far above any hole */
    CHECK(s.largest_free_block < want);
    void *big = NULL;
    CHECK_STATUS(fl_allocator_allocate(a, want, 0, &big), FL_ERR_OUT_OF_MEMORY);

    uintptr_t cursor = walk_of(a).blocks[0].start;
    void **order = (void **)xmalloc(m.count * sizeof *order);
    size_t n = live_pointers(a, order, m.count);
    CHECK_EQ_SIZE(n, m.count);
    size_t moved = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = model_find(&m, order[k]);
        if (model_relocate(a, &m, i)) moved++;
        /* Packed: the block now starts where the previous one ends. */
        CHECK((uintptr_t)m.blocks[i].p - W == cursor);
        cursor += m.blocks[i].consumed;
        CHECK_OK(fl_allocator_validate(a));
        model_check_stats(a, &m);
    }
    free(order);
    CHECK(moved > n / 2);

    walk_log log = walk_of(a);
    CHECK_EQ_SIZE(log.count, m.count + 1);
    for (size_t i = 0; i < m.count; i++) CHECK(log.blocks[i].used);
    CHECK(!log.blocks[m.count].used);
    s = stats_of(a);
    CHECK_EQ_SIZE(log.blocks[m.count].size, s.free_bytes);
    CHECK_EQ_SIZE(s.largest_free_block, s.free_bytes - W);
    CHECK(s.fragmentation_ratio == 0.0);
    for (size_t i = 0; i < m.count; i++) CHECK(harness_pattern_ok(m.blocks[i].p, m.blocks[i].size, m.blocks[i].id));

    /* A second pass has nothing left to do. */
    CHECK_EQ_SIZE(compact_all(a, &m), 0);
    CHECK(model_allocate(a, &m, want, 0));
    CHECK_OK(fl_allocator_validate(a));
    model_check_stats(a, &m);
    while (m.count) model_free(a, &m, m.count - 1);
    model_check_stats(a, &m);
    model_free_storage(&m);
    fl_allocator_destroy(a);
    free(buffer);
}

/* Buddy, equal blocks: every other one freed, a pass packs the live ones into the lowest
 * units and the free half coalesces. */
static void test_buddy_compaction_equal_blocks(void)
{
    size_t size = 1 << 18;
    void *buffer = xmalloc(size);
    fl_allocator *a = make(FL_ALLOCATOR_BUDDY, buffer, size, false);
    model m = model_new(a, 8192);
    static const size_t sizes[] = {64};
    fragment(a, &m, sizes, 1);
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.largest_free_block, 64);
    void *big = NULL;
    CHECK_STATUS(fl_allocator_allocate(a, 128, 0, &big), FL_ERR_OUT_OF_MEMORY);

    CHECK(compact_all(a, &m) > 0);
    walk_log log = walk_of(a);
    size_t used_seen = 0;
    bool free_seen = false;
    for (size_t i = 0; i < log.count; i++) {
        if (log.blocks[i].used) {
            CHECK(!free_seen); /* every used block before every free one */
            used_seen++;
        } else {
            free_seen = true;
        }
    }
    CHECK_EQ_SIZE(used_seen, m.count);
    s = stats_of(a);
    CHECK(s.largest_free_block >= s.free_bytes / 4);
    for (size_t i = 0; i < m.count; i++) CHECK(harness_pattern_ok(m.blocks[i].p, m.blocks[i].size, m.blocks[i].id));
    CHECK(model_allocate(a, &m, s.largest_free_block, 0));
    CHECK_OK(fl_allocator_validate(a));
    model_check_stats(a, &m);
    model_free_storage(&m);
    fl_allocator_destroy(a);
    free(buffer);
}

/* Buddy, mixed sizes: the largest free block grows and a request that failed fits. */
static void test_buddy_compaction_mixed(void)
{
    size_t size = 1 << 18;
    void *buffer = xmalloc(size);
    fl_allocator *a = make(FL_ALLOCATOR_BUDDY, buffer, size, false);
    model m = model_new(a, 8192);
    static const size_t sizes[] = {64, 100, 40, 256, 64, 500, 64, 1000, 120, 64, 2000, 30};
    fragment(a, &m, sizes, sizeof sizes / sizeof sizes[0]);
    fl_allocator_stats before = stats_of(a);
    size_t want = 4 * before.largest_free_block;
    void *big = NULL;
    CHECK_STATUS(fl_allocator_allocate(a, want, 0, &big), FL_ERR_OUT_OF_MEMORY);
    CHECK(compact_all(a, &m) > 0);
    fl_allocator_stats after = stats_of(a);
    CHECK_MSG(after.largest_free_block >= want, "largest free %zu before, %zu after", before.largest_free_block,
              after.largest_free_block);
    CHECK(after.fragmentation_ratio < before.fragmentation_ratio);
    for (size_t i = 0; i < m.count; i++) CHECK(harness_pattern_ok(m.blocks[i].p, m.blocks[i].size, m.blocks[i].id));
    CHECK(model_allocate(a, &m, want, 0));
    CHECK_OK(fl_allocator_validate(a));
    model_check_stats(a, &m);
    model_free_storage(&m);
    fl_allocator_destroy(a);
    free(buffer);
}

/* ---- single moves ------------------------------------------------------------------------ */

/* Fills what is left of a free list with one allocation, so no free block is below. */
static void *fill_rest(fl_allocator *a)
{
    fl_allocator_stats s = stats_of(a);
    void *p = NULL;
    CHECK(s.largest_free_block > 0);
    CHECK_OK(fl_allocator_allocate(a, s.largest_free_block, 0, &p));
    CHECK_EQ_SIZE(stats_of(a).free_bytes, 0);
    return p;
}

/* Nothing free below, or only holes too small: FL_OK, the same pointer, nothing changed
 * (model_relocate checks the statistics are identical for a no-op). */
static void test_no_lower_space_freelist(void)
{
    size_t size = 1 << 14;
    void *buffer = xmalloc(size);
    fl_allocator *a = make(FL_ALLOCATOR_FREELIST, buffer, size, false);
    model m = model_new(a, 64);
    /* Allocations are cut from the end of the free block: later ones sit lower. */
    model_allocate(a, &m, 1000, 0); /* B */
    model_allocate(a, &m, 16, 0);   /* sep */
    model_allocate(a, &m, 16, 0);   /* h */
    model_allocate(a, &m, 16, 0);   /* x */
    CHECK_EQ_SIZE(m.count, 4);
    CHECK(model_allocate(a, &m, stats_of(a).largest_free_block, 0)); /* the rest, lowest */
    CHECK_EQ_SIZE(stats_of(a).free_bytes, 0);
    qsort(m.blocks, m.count, sizeof *m.blocks, by_address);
    /* A full heap: nothing moves, lowest to highest. */
    for (size_t i = 0; i < m.count; i++) CHECK(!model_relocate(a, &m, i));
    model_check_stats(a, &m);
    /* Free h: a hole too small for B and not next to it. */
    unsigned char *b = m.blocks[4].p, *sep = m.blocks[3].p;
    model_free(a, &m, 2);
    CHECK(!model_relocate(a, &m, model_find(&m, b)));
    /* ...but sep, right after it, slides into it. */
    size_t i = model_find(&m, sep);
    CHECK(model_relocate(a, &m, i));
    CHECK((uintptr_t)m.blocks[i].p == (uintptr_t)sep - fl_block_of(16));
    /* Nothing free below the lowest block. */
    qsort(m.blocks, m.count, sizeof *m.blocks, by_address);
    CHECK(!model_relocate(a, &m, 0));
    CHECK_OK(fl_allocator_validate(a));
    model_check_stats(a, &m);
    model_free_storage(&m);
    fl_allocator_destroy(a);
    free(buffer);
}

static void test_no_lower_space_buddy(void)
{
    size_t size = 1 << 14;
    void *buffer = xmalloc(size);
    fl_allocator *a = make(FL_ALLOCATOR_BUDDY, buffer, size, false);
    model m = model_new(a, 1024);
    /* A full area of 64-byte blocks (unit i = the i-th lowest): nothing moves. */
    while (model_allocate(a, &m, 64, 0)) {
    }
    CHECK_EQ_SIZE(stats_of(a).free_bytes, 0);
    qsort(m.blocks, m.count, sizeof *m.blocks, by_address);
    for (size_t i = 0; i < m.count; i++) CHECK(!model_relocate(a, &m, i));
    unsigned char *u0 = m.blocks[0].p, *u1 = m.blocks[1].p, *big = m.blocks[4].p;
    /* Units 4..7 become one order-2 block, then unit 0 a hole of order 0. */
    for (size_t k = 8; k-- > 4;) model_free(a, &m, k);
    CHECK(model_allocate(a, &m, 256, 0));
    CHECK(m.blocks[m.count - 1].p == big);
    model_free(a, &m, 0);
    /* Only an order-0 hole below the order-2 block: it stays. */
    CHECK(!model_relocate(a, &m, model_find(&m, big)));
    /* A 64-byte block above it takes the hole. */
    size_t i = model_find(&m, u1);
    CHECK(model_relocate(a, &m, i));
    CHECK(m.blocks[i].p == u0);
    CHECK_OK(fl_allocator_validate(a));
    model_check_stats(a, &m);
    model_free_storage(&m);
    fl_allocator_destroy(a);
    free(buffer);
}

/* Free list: a block slides down into the small free block just before it; the copy
 * overlaps (the block is far larger than the distance). */
static void test_freelist_slide_overlaps(void)
{
    size_t size = 1 << 14;
    void *buffer = xmalloc(size);
    fl_allocator *a = make(FL_ALLOCATOR_FREELIST, buffer, size, false);
    /* Cut from the end of the free block: later allocations sit lower. */
    void *y = NULL, *b = NULL, *p = NULL, *x = NULL;
    CHECK_OK(fl_allocator_allocate(a, 16, 0, &y));
    CHECK_OK(fl_allocator_allocate(a, 1000, 0, &b));
    CHECK_OK(fl_allocator_allocate(a, 16, 0, &p));
    CHECK_OK(fl_allocator_allocate(a, 16, 0, &x));
    CHECK((uintptr_t)x < (uintptr_t)p && (uintptr_t)p < (uintptr_t)b && (uintptr_t)b < (uintptr_t)y);
    fill_rest(a);
    harness_fill(b, 1000, 77);
    size_t usable = usable_of(a, b);
    CHECK_OK(fl_allocator_deallocate(a, p));
    fl_allocator_stats before = stats_of(a);
    void *moved = NULL;
    CHECK_OK(fl_allocator_relocate(a, b, &moved));
    CHECK((uintptr_t)moved == (uintptr_t)b - fl_block_of(16)); /* down by the free block's size */
    CHECK(harness_pattern_ok(moved, 1000, 77));
    CHECK_EQ_SIZE(usable_of(a, moved), usable);
    fl_allocator_stats after = stats_of(a);
    CHECK(stats_equal(&before, &after)); /* same block size: nothing to count */
    /* The freed space is now just before y. */
    walk_log log = walk_of(a);
    bool found = false;
    for (size_t i = 0; i + 1 < log.count; i++)
        if (!log.blocks[i].used) {
            CHECK(log.blocks[i + 1].start + W == (uintptr_t)y);
            CHECK_EQ_SIZE(log.blocks[i].size, fl_block_of(16));
            found = true;
        }
    CHECK(found);
    CHECK_OK(fl_allocator_validate(a));
    /* Now x is below the moved block and nothing is free below x. */
    CHECK_OK(fl_allocator_relocate(a, x, &moved));
    CHECK(moved == x);
    fl_allocator_destroy(a);
    free(buffer);
}

/* Free list: a hole of one granule more than the block. Where a granule is less than the
 * minimum block (64-bit, 32-bit ARM/MIPS) the rest cannot stand alone and is taken too:
 * usable size and used_bytes grow by a granule, and as the hole is the untouched rest of
 * the initial free block (no free happened) used_bytes was at its peak, which follows it
 * up. Where a granule is a whole minimum block (i686), the rest stays a free block. */
static void test_freelist_absorbed_tail_raises_peak(void)
{
    size_t size = 1 << 14;
    void *buffer = xmalloc(size);
    fl_allocator *a = make(FL_ALLOCATOR_FREELIST, buffer, size, false);
    size_t capacity = stats_of(a).total_capacity, block = 4 * G, sep_block = fl_block_of(16);
    bool absorbed = G < MIN_BLOCK;
    size_t grown = absorbed ? G : 0;
    void *b = NULL, *sep = NULL, *filler = NULL;
    CHECK_OK(fl_allocator_allocate(a, block - W, 0, &b)); /* at the top */
    CHECK_OK(fl_allocator_allocate(a, 16, 0, &sep));
    /* Leaves exactly block + G free at the start of the area. */
    size_t filler_block = capacity - block - sep_block - (block + G);
    CHECK_OK(fl_allocator_allocate(a, filler_block - W, 0, &filler));
    fl_allocator_stats before = stats_of(a);
    CHECK_EQ_SIZE(before.free_bytes, block + G);
    CHECK_EQ_SIZE(before.peak_used_bytes, before.used_bytes);
    harness_fill(b, block - W, 5);
    void *moved = NULL;
    CHECK_OK(fl_allocator_relocate(a, b, &moved));
    CHECK((uintptr_t)moved < (uintptr_t)filler);
    CHECK(harness_pattern_ok(moved, block - W, 5));
    CHECK_EQ_SIZE(usable_of(a, moved), block + grown - W);
    fl_allocator_stats after = stats_of(a);
    CHECK_EQ_SIZE(after.used_bytes, before.used_bytes + grown);
    CHECK_EQ_SIZE(after.peak_used_bytes, after.used_bytes);
    CHECK_EQ_SIZE(after.free_bytes, block + G - grown); /* b's old block (+ the rest) */
    CHECK_EQ_SIZE(walk_of(a).count, absorbed ? 4 : 5);
    CHECK_EQ_SIZE(after.allocation_count, before.allocation_count);
    CHECK(after.total_allocations == before.total_allocations);
    CHECK(after.total_deallocations == before.total_deallocations);
    CHECK(after.allocation_efficiency == before.allocation_efficiency);
    harness_check_stats_identities(a);
    CHECK_OK(fl_allocator_validate(a));
    /* Freed, the block gives back what it consumes now. */
    CHECK_OK(fl_allocator_deallocate(a, moved));
    CHECK_EQ_SIZE(stats_of(a).used_bytes, before.used_bytes - block);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
    free(buffer);
}

/* Free list: over-aligned blocks keep their pointer's alignment (capped at FL_ALIGN_MAX). */
static void test_freelist_keeps_alignment(void)
{
    size_t size = 1 << 20;
    void *buffer = xmalloc(size);
    fl_allocator *a = make(FL_ALLOCATOR_FREELIST, buffer, size, false);
    model m = model_new(a, 8192);
    static const size_t aligns[] = {0, 256, 0, 64, 0, 4096, 32, 0};
    for (size_t k = 0; m.count < m.capacity; k++) {
        size_t al = aligns[k % 8];
        if (!model_allocate(a, &m, 40 + (k * 37) % 700, al)) break;
    }
    qsort(m.blocks, m.count, sizeof *m.blocks, by_address);
    for (size_t k = m.count; k-- > 0;)
        if (k % 3 != 1) model_free(a, &m, k);
    void **order = (void **)xmalloc(m.count * sizeof *order);
    size_t n = live_pointers(a, order, m.count), moved = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = model_find(&m, order[k]);
        uintptr_t old = (uintptr_t)m.blocks[i].p;
        uintptr_t natural = old & (~old + 1);
        size_t kept = m.blocks[i].alignment > G ? (natural > FL_ALIGN_MAX ? FL_ALIGN_MAX : (size_t)natural) : G;
        if (model_relocate(a, &m, i)) moved++;
        CHECK_MSG(((uintptr_t)m.blocks[i].p & (kept - 1)) == 0, "block %p asked %zu moved to %p",
                  (void *)old, m.blocks[i].alignment, (void *)m.blocks[i].p);
        CHECK_OK(fl_allocator_validate(a));
        model_check_stats(a, &m);
    }
    CHECK(moved > n / 2);
    free(order);
    model_free_storage(&m);
    fl_allocator_destroy(a);
    free(buffer);
}

/* Buddy: moving a block into a lower hole frees its old place, which coalesces with its
 * free buddy. Units 0..3 of a full area: free 0 and 3, move 2 -> 0, then 2+3 merge. */
static void test_buddy_move_lets_old_buddy_coalesce(void)
{
    size_t size = 1 << 14;
    void *buffer = xmalloc(size);
    fl_allocator *a = make(FL_ALLOCATOR_BUDDY, buffer, size, false);
    model m = model_new(a, 1024);
    while (model_allocate(a, &m, 64, 0)) {
    }
    qsort(m.blocks, m.count, sizeof *m.blocks, by_address);
    CHECK(m.count >= 4);
    unsigned char *u0 = m.blocks[0].p, *u2 = m.blocks[2].p;
    model_free(a, &m, 3); /* unit 3 */
    model_free(a, &m, 0); /* unit 0: the last block takes index 0 in the model */
    CHECK_EQ_SIZE(stats_of(a).largest_free_block, 64);
    size_t i = model_find(&m, u2);
    CHECK(model_relocate(a, &m, i));
    CHECK(m.blocks[i].p == u0);
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.largest_free_block, 128);
    walk_log log = walk_of(a);
    CHECK(log.blocks[0].used && log.blocks[0].size == 64);
    CHECK(log.blocks[1].used && log.blocks[1].size == 64);
    CHECK(!log.blocks[2].used && log.blocks[2].size == 128);
    CHECK(log.blocks[2].start == (uintptr_t)u2);
    CHECK_OK(fl_allocator_validate(a));
    model_check_stats(a, &m);
    model_free_storage(&m);
    fl_allocator_destroy(a);
    free(buffer);
}

/* Buddy: a larger free block below is split, the block takes its lowest part. */
static void test_buddy_splits_larger_hole(void)
{
    size_t size = 1 << 14;
    void *buffer = xmalloc(size);
    fl_allocator *a = make(FL_ALLOCATOR_BUDDY, buffer, size, false);
    model m = model_new(a, 1024);
    while (model_allocate(a, &m, 64, 0)) {
    }
    qsort(m.blocks, m.count, sizeof *m.blocks, by_address);
    unsigned char *u0 = m.blocks[0].p, *last = m.blocks[m.count - 1].p;
    for (size_t k = 4; k-- > 0;) model_free(a, &m, k); /* units 0..3: one order-2 block */
    CHECK_EQ_SIZE(stats_of(a).largest_free_block, 256);
    size_t i = model_find(&m, last);
    CHECK(model_relocate(a, &m, i));
    CHECK(m.blocks[i].p == u0);
    walk_log log = walk_of(a);
    CHECK(log.blocks[0].used && log.blocks[0].size == 64);
    CHECK(!log.blocks[1].used && log.blocks[1].size == 64);
    CHECK(!log.blocks[2].used && log.blocks[2].size == 128);
    CHECK_OK(fl_allocator_validate(a));
    model_check_stats(a, &m);
    model_free_storage(&m);
    fl_allocator_destroy(a);
    free(buffer);
}

/* ---- threads ---------------------------------------------------------------------------- */

typedef struct thread_arg {
    fl_allocator *a;
    uint64_t seed;
    int failures;
} thread_arg;

static void *hammer(void *p)
{
    thread_arg *t = (thread_arg *)p;
    harness_rng rng = {t->seed};
    enum { SLOTS = 64 };
    unsigned char *ptr[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    uint64_t ids[SLOTS] = {0};
    uint64_t ops = harness_scaled(20000);
    for (uint64_t op = 0; op < ops; op++) {
        size_t s = harness_range(&rng, 0, SLOTS - 1);
        unsigned what = (unsigned)harness_range(&rng, 0, 2);
        if (ptr[s] == NULL) {
            size_t n = harness_range(&rng, 1, 300);
            void *q = NULL;
            if (fl_allocator_allocate(t->a, n, 0, &q) != FL_OK) continue;
            ptr[s] = (unsigned char *)q;
            len[s] = n;
            ids[s] = t->seed * 1000003u + op;
            harness_fill(q, n, ids[s]);
        } else if (what == 0) {
            if (!harness_pattern_ok(ptr[s], len[s], ids[s])) t->failures++;
            if (fl_allocator_deallocate(t->a, ptr[s]) != FL_OK) t->failures++;
            ptr[s] = NULL;
        } else {
            void *q = NULL;
            if (fl_allocator_relocate(t->a, ptr[s], &q) != FL_OK) {
                t->failures++;
                continue;
            }
            ptr[s] = (unsigned char *)q;
            if (!harness_pattern_ok(ptr[s], len[s], ids[s])) t->failures++;
        }
    }
    for (size_t s = 0; s < SLOTS; s++)
        if (ptr[s]) {
            if (!harness_pattern_ok(ptr[s], len[s], ids[s])) t->failures++;
            if (fl_allocator_deallocate(t->a, ptr[s]) != FL_OK) t->failures++;
        }
    return NULL;
}

static void threads(fl_allocator_type type)
{
    size_t size = 1 << 18;
    void *buffer = xmalloc(size);
    fl_allocator *a = make(type, buffer, size, true);
    enum { THREADS = 4 };
    pthread_t tid[THREADS];
    thread_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i].a = a;
        args[i].seed = 0x1234u + (uint64_t)i;
        args[i].failures = 0;
        CHECK(pthread_create(&tid[i], NULL, hammer, &args[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(tid[i], NULL);
    for (int i = 0; i < THREADS; i++) CHECK(args[i].failures == 0);
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
    free(buffer);
}

static void test_threads_freelist(void) { threads(FL_ALLOCATOR_FREELIST); }
static void test_threads_buddy(void) { threads(FL_ALLOCATOR_BUDDY); }

/* ---- randomized against the model -------------------------------------------------------- */

static void randomized(fl_allocator_type type, uint64_t seed)
{
    size_t size = 1 << 18;
    void *buffer = xmalloc(size);
    fl_allocator *a = make(type, buffer, size, false);
    model m = model_new(a, 8192);
    harness_rng rng = harness_rng_seeded(type == FL_ALLOCATOR_BUDDY ? "defrag buddy" : "defrag freelist", seed);
    uint64_t ops = harness_scaled(200000), moves = 0, passes = 0;
    for (uint64_t op = 0; op < ops; op++) {
        unsigned roll = (unsigned)harness_range(&rng, 0, 99);
        if (roll < 45) {
            size_t n = harness_range(&rng, 1, harness_range(&rng, 0, 7) == 0 ? 4000 : 300);
            size_t al = 0;
            if (harness_range(&rng, 0, 19) == 0) al = (size_t)1 << harness_range(&rng, 0, 9);
            model_allocate(a, &m, n, al);
        } else if (roll < 80) {
            if (m.count) model_free(a, &m, harness_range(&rng, 0, m.count - 1));
        } else if (m.count) {
            if (model_relocate(a, &m, harness_range(&rng, 0, m.count - 1))) moves++;
        }
        model_check_stats(a, &m);
        if (op % 2000 == 0) CHECK_OK(fl_allocator_validate(a));
        if (op % 25000 == 12345) {
            /* A whole pass, then everything is as low as it goes. */
            compact_all(a, &m);
            CHECK_EQ_SIZE(compact_all(a, &m), 0);
            bool over_aligned = false;
            for (size_t i = 0; i < m.count; i++) over_aligned |= m.blocks[i].alignment > G;
            fl_allocator_stats s = stats_of(a);
            if (type == FL_ALLOCATOR_FREELIST && !over_aligned && s.free_bytes > 0)
                CHECK_EQ_SIZE(s.largest_free_block, s.free_bytes - W);
            passes++;
        }
    }
    for (size_t i = 0; i < m.count; i++) CHECK(harness_pattern_ok(m.blocks[i].p, m.blocks[i].size, m.blocks[i].id));
    CHECK_OK(fl_allocator_validate(a));
    CHECK(moves > 0);
    while (m.count) model_free(a, &m, m.count - 1);
    model_check_stats(a, &m);
    CHECK_OK(fl_allocator_validate(a));
    printf("  %llu ops, %llu moves, %llu full passes\n", (unsigned long long)ops, (unsigned long long)moves,
           (unsigned long long)passes);
    model_free_storage(&m);
    fl_allocator_destroy(a);
    free(buffer);
}

static void test_randomized_freelist(void) { randomized(FL_ALLOCATOR_FREELIST, 20240611u); }
static void test_randomized_buddy(void) { randomized(FL_ALLOCATOR_BUDDY, 20240612u); }

int main(void)
{
    RUN(test_not_supported_types);
    RUN(test_external_buddy_not_supported);
    RUN(test_bad_inputs_freelist);
    RUN(test_bad_inputs_buddy);
    RUN(test_freelist_compaction);
    RUN(test_buddy_compaction_equal_blocks);
    RUN(test_buddy_compaction_mixed);
    RUN(test_no_lower_space_freelist);
    RUN(test_no_lower_space_buddy);
    RUN(test_freelist_slide_overlaps);
    RUN(test_freelist_absorbed_tail_raises_peak);
    RUN(test_freelist_keeps_alignment);
    RUN(test_buddy_move_lets_old_buddy_coalesce);
    RUN(test_buddy_splits_larger_hole);
    RUN(test_threads_freelist);
    RUN(test_threads_buddy);
    RUN(test_randomized_freelist);
    RUN(test_randomized_buddy);
    return harness_finish();
}
