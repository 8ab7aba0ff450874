/* The buddy allocator (src/allocators/buddy.c): creation, the top-level decomposition of
 * any buffer size, split and coalesce, alignment, bad input, statistics, reset, walk,
 * validate and a quick multi-threaded run. Every one of those runs twice: in-band (the
 * allocator lives in the buffer and keeps its free-list links in free blocks) and external
 * (cfg.managed: the "buffer" a test passes becomes the managed memory and the control
 * block gets a buffer of its own). Then the external mode's own contract: bad new fields,
 * alignment taken from the managed base, and a managed range whose bytes never change.
 * The randomized model tests, including one over PROT_NONE memory, are test_buddy_model.c. */
#include "harness.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MB64 ((size_t)64)

/* Buffers come from malloc, 64 KiB aligned, so a test can place the allocator at an exact
 * offset from a known alignment. */
static unsigned char *big_buffer(size_t size)
{
    unsigned char *raw = (unsigned char *)malloc(size + 2 * 65536);
    CHECK(raw != NULL);
    return raw;
}

static unsigned char *aligned_in(unsigned char *raw, size_t offset)
{
    uintptr_t p = ((uintptr_t)raw + 65535u) & ~(uintptr_t)65535u;
    return (unsigned char *)p + offset;
}

/* ---- the two modes ----------------------------------------------------------------------- */

/* false: in-band, [buffer, buffer + size) holds everything. true: external, it is the
 * managed memory and make() gives the control block a malloc'd buffer of exactly
 * fl_buddy_control_size() bytes, filled with control_garbage first (init must not rely on
 * what was there). */
static bool external_mode;
static int control_garbage = 0xC3;

enum { MAX_MADE = 16 };
static struct made_allocator {
    fl_allocator *a;
    unsigned char *raw;     /* malloc'd, NULL in-band */
    unsigned char *control; /* the control buffer passed to create */
} made[MAX_MADE];

static void remember(fl_allocator *a, unsigned char *raw, unsigned char *control)
{
    for (size_t i = 0; i < MAX_MADE; i++)
        if (made[i].a == NULL) {
            made[i].a = a;
            made[i].raw = raw;
            made[i].control = control;
            return;
        }
    CHECK(!"more than MAX_MADE allocators alive");
}

/* The control buffer of an external allocator made here. */
static unsigned char *control_of(const fl_allocator *a)
{
    for (size_t i = 0; i < MAX_MADE; i++)
        if (made[i].a == a) return made[i].control;
    CHECK(!"not made here");
    return NULL;
}

static void drop(fl_allocator *a)
{
    for (size_t i = 0; i < MAX_MADE; i++)
        if (made[i].a == a) {
            fl_allocator_destroy(a);
            free(made[i].raw);
            made[i].a = NULL;
            return;
        }
    CHECK(!"not made here");
}

static fl_allocator *make_with(void *buffer, size_t size, size_t min_block, bool thread_safe)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_BUDDY;
    cfg.min_block = min_block;
    cfg.thread_safe = thread_safe;
    unsigned char *raw = NULL, *control = NULL;
    if (external_mode) {
        size_t need = fl_buddy_control_size(size, min_block);
        CHECK_MSG(need > 0, "no control size for %zu managed bytes", size);
        raw = (unsigned char *)malloc(need + FL_ALIGN_DEFAULT);
        CHECK(raw != NULL);
        control = (unsigned char *)(((uintptr_t)raw + FL_ALIGN_DEFAULT - 1) & ~(uintptr_t)(FL_ALIGN_DEFAULT - 1));
        memset(control, control_garbage, need);
        cfg.buffer = control;
        cfg.size = need;
        cfg.managed = buffer;
        cfg.managed_size = size;
    } else {
        cfg.buffer = buffer;
        cfg.size = size;
    }
    fl_allocator *a = NULL;
    fl_status st = fl_allocator_create(&cfg, &a);
    if (st != FL_OK) free(raw);
    CHECK_OK(st);
    CHECK(a != NULL);
    remember(a, raw, control);
    return a;
}

static fl_allocator *make(void *buffer, size_t size, size_t min_block)
{
    return make_with(buffer, size, min_block, false);
}

static fl_allocator_stats stats_of(const fl_allocator *a)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    return s;
}

static bool stats_equal(const fl_allocator_stats *x, const fl_allocator_stats *y)
{
    return x->total_capacity == y->total_capacity && x->used_bytes == y->used_bytes &&
           x->free_bytes == y->free_bytes && x->peak_used_bytes == y->peak_used_bytes &&
           x->allocation_count == y->allocation_count && x->largest_free_block == y->largest_free_block &&
           x->fragmentation_ratio == y->fragmentation_ratio &&
           x->allocation_efficiency == y->allocation_efficiency && x->total_allocations == y->total_allocations &&
           x->total_deallocations == y->total_deallocations && x->failed_allocations == y->failed_allocations;
}

/* ---- walk capture ------------------------------------------------------------------------ */

#define MAX_WALK 4096

typedef struct walk_log {
    size_t n;
    const unsigned char *start[MAX_WALK];
    size_t size[MAX_WALK];
    bool used[MAX_WALK];
} walk_log;

static void record_block(const void *block, size_t size, bool used, void *user)
{
    walk_log *w = (walk_log *)user;
    if (w->n < MAX_WALK) {
        w->start[w->n] = (const unsigned char *)block;
        w->size[w->n] = size;
        w->used[w->n] = used;
    }
    w->n++;
}

static walk_log the_walk;

static const walk_log *walk_of(const fl_allocator *a)
{
    memset(&the_walk, 0, sizeof the_walk);
    CHECK_OK(fl_allocator_walk(a, record_block, &the_walk));
    CHECK(the_walk.n <= MAX_WALK);
    return &the_walk;
}

static size_t highest_pow2(size_t x)
{
    size_t p = 1;
    while (p <= x / 2) p *= 2;
    return p;
}

static size_t lowest_bit(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    return (size_t)(x & (~x + 1));
}

/* The largest alignment the allocator guarantees: min(largest top-level block, page),
 * and external also the managed base's own alignment (in-band the pad buys a page, so the
 * area start must be at least that aligned). */
static size_t area_alignment(const fl_allocator *a, size_t min_block)
{
    size_t top = highest_pow2(stats_of(a).total_capacity / min_block) * min_block;
    size_t align = top < FL_ALIGN_PAGE ? top : FL_ALIGN_PAGE;
    const unsigned char *start = walk_of(a)->start[0];
    if (!external_mode) {
        CHECK_MSG(lowest_bit(start) >= align, "in-band area %p is not aligned to %zu", (const void *)start, align);
        return align;
    }
    return lowest_bit(start) < align ? lowest_bit(start) : align;
}

/* The walk of a fully free allocator is the binary representation of its units, largest
 * block first, contiguous, every block aligned to min(its size, the area alignment). */
static void check_initial_decomposition(const fl_allocator *a, size_t min_block)
{
    fl_allocator_stats s = stats_of(a);
    CHECK(s.total_capacity % min_block == 0);
    size_t units = s.total_capacity / min_block;
    size_t align = area_alignment(a, min_block);
    const walk_log *w = walk_of(a);
    size_t i = 0, covered = 0;
    for (size_t bit = highest_pow2(units); bit > 0; bit /= 2) {
        if (!(units & bit)) continue;
        CHECK(i < w->n);
        CHECK_EQ_SIZE(w->size[i], bit * min_block);
        CHECK(!w->used[i]);
        CHECK(w->start[i] == w->start[0] + covered);
        size_t need = w->size[i] < align ? w->size[i] : align;
        CHECK(((uintptr_t)w->start[i] & (need - 1)) == 0);
        covered += w->size[i];
        i++;
    }
    CHECK_EQ_SIZE(w->n, i);
    CHECK_EQ_SIZE(covered, s.total_capacity);
    CHECK_EQ_SIZE(s.largest_free_block, highest_pow2(units) * min_block);
    CHECK(fl_allocator_owns(a, w->start[0]));
    CHECK(fl_allocator_owns(a, w->start[0] + covered - 1));
    CHECK(!fl_allocator_owns(a, w->start[0] + covered));
    CHECK(!fl_allocator_owns(a, w->start[0] - 1));
}

/* ---- creation ------------------------------------------------------------------------------ */

static void test_create_defaults(void)
{
    unsigned char *raw = big_buffer(1 << 20);
    fl_allocator *a = make(aligned_in(raw, 0), 1 << 20, 0);
    fl_allocator_stats s = stats_of(a);
    CHECK(s.total_capacity % 64 == 0); /* the default min_block is 64 */
    CHECK_EQ_SIZE(s.allocation_overhead, 0);
    CHECK(s.supports_defrag == !external_mode); /* an external buddy never moves bytes */
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK(s.allocation_efficiency == 1.0);
    CHECK(fl_allocator_kind(a) == FL_ALLOCATOR_BUDDY);
    CHECK(strcmp(fl_allocator_name(a), "Buddy") == 0);
    check_initial_decomposition(a, 64);
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 1, 1, &p));
    size_t usable = 0;
    CHECK_OK(fl_allocator_usable_size(a, p, &usable));
    CHECK_EQ_SIZE(usable, 64);
    CHECK_EQ_SIZE(stats_of(a).used_bytes, 64);
    /* Map of 1 byte per 64-byte unit, control block and pad: the area is most of 1 MiB;
     * external, it is all of it. */
    CHECK(s.total_capacity >= (size_t)(1 << 20) / 65 * 64 - 8192);
    if (external_mode) CHECK_EQ_SIZE(s.total_capacity, (size_t)1 << 20);
    drop(a);
    free(raw);
}

/* A control buffer big enough for every failing external create below. */
static _Alignas(64) unsigned char spare_control[1 << 17];

static void expect_create_fails(void *buffer, size_t size, size_t min_block, const char *needle)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_BUDDY;
    cfg.buffer = buffer;
    cfg.size = size;
    cfg.min_block = min_block;
    if (external_mode) {
        cfg.buffer = spare_control;
        cfg.size = sizeof spare_control;
        cfg.managed = buffer;
        cfg.managed_size = size;
    }
    fl_allocator *a = (fl_allocator *)(uintptr_t)0x1234;
    CHECK_STATUS(fl_allocator_create(&cfg, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(a == (fl_allocator *)(uintptr_t)0x1234);
    CHECK_MSG(strstr(fl_last_error()->message, needle) != NULL, "message '%s' lacks '%s'",
              fl_last_error()->message, needle);
}

static void test_create_rejects_bad_config(void)
{
    unsigned char *raw = big_buffer(1 << 16);
    unsigned char *buf = aligned_in(raw, 0);
    expect_create_fails(buf, 1 << 16, 3, "3");
    expect_create_fails(buf, 1 << 16, 48, "48");
    expect_create_fails(buf, 1 << 16, 1000, "1000");
    expect_create_fails(buf, 1 << 16, 4, "below 8"); /* two 32-bit links need 8 bytes */
    expect_create_fails(buf, 1 << 16, 1, "below 8");
    if (!external_mode) {
        expect_create_fails(buf, 1 << 16, 4, "two 32-bit links");
        expect_create_fails(buf, 64, 0, "64");                       /* no room for the control block */
        expect_create_fails(buf, 1 << 16, (size_t)1 << 16, "65536"); /* no block fits */
    } else {
        expect_create_fails(buf, 63, 64, "holds no 64-byte"); /* managed memory below one block */
    }
    /* The smallest legal min_block, 8 bytes, works: a free block is just its two links. */
    fl_allocator *a = make(buf, 1 << 16, 8);
    void *p = NULL, *q = NULL;
    CHECK_OK(fl_allocator_allocate(a, 1, 1, &p));
    CHECK_OK(fl_allocator_allocate(a, 8, 8, &q));
    size_t usable = 0;
    CHECK_OK(fl_allocator_usable_size(a, p, &usable));
    CHECK_EQ_SIZE(usable, 8);
    CHECK((unsigned char *)q == (unsigned char *)p + 8); /* p's buddy */
    memset(q, 0xFF, 8); /* a used block is the caller's: all-ones looks like "no unit" links */
    CHECK_OK(fl_allocator_validate(a));
    CHECK_OK(fl_allocator_deallocate(a, p));
    CHECK_OK(fl_allocator_deallocate(a, q));
    check_initial_decomposition(a, 8);
    CHECK_OK(fl_allocator_validate(a));
    drop(a);
    /* Large min_blocks are fine while one block fits; the area is then page aligned. */
    a = make(buf, 1 << 16, 8192);
    CHECK_EQ_SIZE(stats_of(a).total_capacity % 8192, 0);
    CHECK(stats_of(a).total_capacity >= (external_mode ? 8 : 6) * 8192);
    CHECK_OK(fl_allocator_allocate(a, 1, FL_ALIGN_PAGE, &p));
    CHECK(((uintptr_t)p & 4095u) == 0);
    CHECK_OK(fl_allocator_validate(a));
    drop(a);
    free(raw);
}

/* buffer NULL: the memory (in-band) or the control block (external) comes from pages. */
static void test_platform_pages(void)
{
    unsigned char *raw = external_mode ? big_buffer(1 << 20) : NULL;
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_BUDDY;
    cfg.size = 1 << 20;
    cfg.min_block = 256;
    if (external_mode) {
        cfg.managed = aligned_in(raw, 0);
        cfg.managed_size = 1 << 20;
        cfg.size = fl_buddy_control_size(1 << 20, 256);
        CHECK_EQ_SIZE(cfg.size, fl_buddy_control_size(1 << 20, 256) ); /* stable */
        CHECK(cfg.size > 4096 * 9 && cfg.size < 4096 * 9 + 4096);
    }
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    check_initial_decomposition(a, 256);
    if (external_mode) CHECK(walk_of(a)->start[0] == cfg.managed);
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 100000, 16, &p));
    memset(p, 0xAB, 100000);
    CHECK_OK(fl_allocator_deallocate(a, p));
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
    free(raw);
}

/* ---- any buffer size: the largest power-of-two blocks that fit ------------------------------ */

/* The smallest buffer that holds one block, at a given address. */
static size_t smallest_buffer(unsigned char *buf, size_t min_block)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_BUDDY;
    cfg.buffer = buf;
    cfg.min_block = min_block;
    for (size_t size = 1; size < 65536; size++) {
        cfg.size = size;
        fl_allocator *a = NULL;
        if (fl_allocator_create(&cfg, &a) == FL_OK) {
            CHECK_EQ_SIZE(stats_of(a).total_capacity, min_block);
            fl_allocator_destroy(a);
            return size;
        }
        CHECK(fl_last_error()->category == FL_ERR_INVALID_PARAMETERS);
    }
    CHECK(!"no buffer below 64 KiB holds one block");
    return 0;
}

/* An allocator whose area is exactly `units` blocks of min_block (in-band: searching buffer
 * sizes; external: the managed size says it). */
static fl_allocator *make_units(unsigned char *buf, size_t units, size_t min_block)
{
    if (external_mode) {
        fl_allocator *a = make(buf, units * min_block + min_block - 1, min_block); /* the tail is unused */
        CHECK_EQ_SIZE(stats_of(a).total_capacity, units * min_block);
        CHECK(walk_of(a)->start[0] == buf);
        return a;
    }
    size_t base = smallest_buffer(buf, min_block);
    for (size_t size = base; size < base + (units + 1) * (min_block + 1) + 4096; size++) {
        fl_allocator *a = make(buf, size, min_block);
        if (stats_of(a).total_capacity == units * min_block) return a;
        drop(a);
    }
    CHECK(!"no buffer size gives that many units");
    return NULL;
}

/* External: the managed range is taken as given, at any address and of any size: exactly
 * size / min_block units from its first byte, aligned as its base allows. */
static void odd_managed_ranges(void)
{
    unsigned char *raw = big_buffer(2100000);
    static const size_t offsets[] = {0, 1, 8, 17, 24, 4000, 3 * 4096};
    static const size_t min_blocks[] = {64, 16, 256, 8};
    for (size_t mi = 0; mi < sizeof min_blocks / sizeof *min_blocks; mi++) {
        size_t mb = min_blocks[mi];
        for (size_t oi = 0; oi < sizeof offsets / sizeof *offsets; oi++) {
            unsigned char *buf = aligned_in(raw, offsets[oi]);
            static const size_t odd[] = {1000003, 2000001, 65537 + 4096, 3 * 4096 + 17};
            for (size_t k = 0; k < 40 + sizeof odd / sizeof *odd; k++) {
                size_t size = k < 40 ? mb + 7 * k * mb / 8 + k : odd[k - 40];
                fl_allocator *a = make(buf, size, mb);
                CHECK_EQ_SIZE(stats_of(a).total_capacity, size / mb * mb);
                CHECK(walk_of(a)->start[0] == buf);
                size_t top = highest_pow2(size / mb) * mb;
                size_t want = top < 4096 ? top : 4096;
                if (lowest_bit(buf) < want) want = lowest_bit(buf);
                CHECK_EQ_SIZE(area_alignment(a, mb), want);
                check_initial_decomposition(a, mb);
                CHECK_OK(fl_allocator_validate(a));
                drop(a);
            }
        }
    }
    free(raw);
}

static void test_odd_buffer_sizes(void)
{
    if (external_mode) {
        odd_managed_ranges();
        return;
    }
    unsigned char *raw = big_buffer(2100000);
    static const size_t offsets[] = {0, 1, 8, 17, 4000};
    static const size_t min_blocks[] = {64, 16, 256};
    for (size_t mi = 0; mi < sizeof min_blocks / sizeof *min_blocks; mi++) {
        size_t mb = min_blocks[mi];
        for (size_t oi = 0; oi < sizeof offsets / sizeof *offsets; oi++) {
            unsigned char *buf = aligned_in(raw, offsets[oi]);
            size_t base = smallest_buffer(buf, mb);
            /* The control block, map and pad take a fixed few hundred bytes: */
            CHECK(base < 2048 + mb);
            /* 3 * min_block + 17 past that, then every size in a window: each is cut into
             * the binary representation of its unit count. */
            fl_allocator *a = make(buf, base + 3 * mb + 17, mb);
            CHECK(stats_of(a).total_capacity >= 2 * mb); /* three units minus the map bytes */
            check_initial_decomposition(a, mb);
            drop(a);
            for (size_t size = base; size < base + 40 * mb; size += 7) {
                a = make(buf, size, mb);
                check_initial_decomposition(a, mb);
                CHECK_OK(fl_allocator_validate(a));
                drop(a);
            }
            static const size_t odd[] = {1000003, 2000001, 65537 + 4096, 3 * 4096 + 17};
            for (size_t k = 0; k < sizeof odd / sizeof *odd; k++) {
                a = make(buf, odd[k], mb);
                size_t cap = stats_of(a).total_capacity;
                /* The area and its map (one byte per unit, before it) lie inside the buffer. */
                const unsigned char *area = walk_of(a)->start[0];
                CHECK(area >= buf + cap / mb && area + cap <= buf + odd[k]);
                /* No unit is wasted beyond the map byte per unit, the control block and
                 * the page pad: the area is the largest that fits. */
                CHECK_MSG(cap + cap / mb + 4096 + 2048 + mb >= odd[k], "size %zu capacity %zu", odd[k], cap);
                CHECK(cap + cap / mb <= odd[k]);
                check_initial_decomposition(a, mb);
                CHECK_OK(fl_allocator_validate(a));
                drop(a);
            }
        }
    }
    free(raw);
}

static void test_decomposition_exact_example(void)
{
    /* Find a buffer whose area is exactly 11 units (8 + 2 + 1) and check the blocks. */
    unsigned char *raw = big_buffer(1 << 16);
    unsigned char *buf = aligned_in(raw, 0);
    fl_allocator *a = make_units(buf, 11, 64);
    const walk_log *w = walk_of(a);
    CHECK_EQ_SIZE(w->n, 3);
    CHECK_EQ_SIZE(w->size[0], 512);
    CHECK_EQ_SIZE(w->size[1], 128);
    CHECK_EQ_SIZE(w->size[2], 64);
    CHECK_EQ_SIZE(area_alignment(a, 64), 512);
    /* The 64-byte top-level block never merges with the 128-byte one: fill and drain. */
    void *p[11];
    size_t n = 0;
    while (n < 11 && fl_allocator_allocate(a, 64, 1, &p[n]) == FL_OK) n++;
    CHECK_EQ_SIZE(n, 11);
    CHECK_STATUS(fl_allocator_allocate(a, 1, 1, &p[0]), FL_ERR_OUT_OF_MEMORY);
    for (size_t i = 0; i < 11; i++) CHECK_OK(fl_allocator_deallocate(a, p[(i * 7) % 11]));
    check_initial_decomposition(a, 64);
    /* 256 bytes fit in the 512 block only; 128 picks the 128 block; 512 after 256 fails. */
    void *q = NULL, *r = NULL;
    CHECK_OK(fl_allocator_allocate(a, 128, 1, &q));
    CHECK(q == w->start[1]);
    CHECK_OK(fl_allocator_allocate(a, 200, 1, &r));
    CHECK(r == w->start[0]);
    CHECK_STATUS(fl_allocator_allocate(a, 512, 1, &q), FL_ERR_OUT_OF_MEMORY);
    CHECK_EQ_SIZE(stats_of(a).largest_free_block, 256);
    drop(a);
    free(raw);
}

/* The bytes around the map (the alignment pad) and inside blocks are the caller's and may
 * hold anything, including values that look like map entries of a free block: a top-level
 * block must still never merge past the end of the area. */
static void test_garbage_never_merges_past_the_area(void)
{
    unsigned char *raw = big_buffer(1 << 16);
    unsigned char *buf = aligned_in(raw, 0);
    static const size_t unit_counts[] = {11, 13, 7, 21, 3, 1, 63};
    for (size_t c = 0; c < sizeof unit_counts / sizeof *unit_counts; c++) {
        for (unsigned order = 0; order < 7; order++) {
            /* "Free block of this order" everywhere: in the buffer, and external in the
             * control buffer before create (whose map ends where the buffer does, so a read
             * past it would also be caught by ASan). */
            memset(buf, 0x80 | (int)order, 1 << 16);
            control_garbage = 0x80 | (int)order;
            fl_allocator *a = make_units(buf, unit_counts[c], 64);
            control_garbage = 0xC3;
            check_initial_decomposition(a, 64);
            static void *live[64];
            size_t n = 0;
            while (fl_allocator_allocate(a, 64, 1, &live[n]) == FL_OK) {
                memset(live[n], 0x80 | (int)order, 64);
                n++;
            }
            CHECK_EQ_SIZE(n, unit_counts[c]);
            for (size_t i = 0; i < n; i++) {
                CHECK_OK(fl_allocator_deallocate(a, live[n - 1 - i]));
                CHECK_OK(fl_allocator_validate(a));
            }
            check_initial_decomposition(a, 64);
            drop(a);
        }
    }
    free(raw);
}

/* ---- split and coalesce --------------------------------------------------------------------- */

static void test_split_and_coalesce(void)
{
    unsigned char *raw = big_buffer(1 << 16);
    unsigned char *buf = aligned_in(raw, 0);
    fl_allocator *a = make_units(buf, 16, 64);
    const unsigned char *area = walk_of(a)->start[0];
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 10, 1, &p));
    CHECK(p == area);
    /* One 64-byte block used, then its free buddies 64, 128, 256, 512 in address order. */
    const walk_log *w = walk_of(a);
    static const size_t expect[] = {64, 64, 128, 256, 512};
    CHECK_EQ_SIZE(w->n, 5);
    for (size_t i = 0; i < 5; i++) {
        CHECK_EQ_SIZE(w->size[i], expect[i]);
        CHECK(w->used[i] == (i == 0));
    }
    CHECK_EQ_SIZE(stats_of(a).largest_free_block, 512);
    void *q = NULL;
    CHECK_OK(fl_allocator_allocate(a, 64, 1, &q));
    CHECK(q == area + 64); /* the smallest free block that fits: the 64 buddy */
    CHECK_OK(fl_allocator_deallocate(a, p));
    CHECK_EQ_SIZE(walk_of(a)->n, 5); /* buddy q is in use: no merge */
    CHECK_OK(fl_allocator_validate(a));
    CHECK_OK(fl_allocator_deallocate(a, q));
    w = walk_of(a);
    CHECK_EQ_SIZE(w->n, 1);
    CHECK_EQ_SIZE(w->size[0], 1024);
    CHECK_OK(fl_allocator_validate(a));
    drop(a);
    free(raw);
}

static void test_largest_free_restored_after_random_frees(void)
{
    unsigned char *raw = big_buffer(1100000);
    /* In-band the pad aligns any start; external the base must allow alignments to 256. */
    unsigned char *buf = aligned_in(raw, external_mode ? 256 : 3);
    fl_allocator *a = make(buf, 1000003, 32);
    size_t initial = stats_of(a).largest_free_block;
    harness_rng rng = harness_rng_seeded("buddy random frees", 0xB0DD1);
    static void *live[40000];
    for (int round = 0; round < 20; round++) {
        size_t n = 0;
        for (;;) {
            size_t size = (round & 1) ? harness_range(&rng, 1, 300) : (size_t)1 << harness_range(&rng, 0, 16);
            size_t align = (size_t)1 << harness_range(&rng, 0, 8);
            if (fl_allocator_allocate(a, size, align, &live[n]) != FL_OK) break;
            CHECK(((uintptr_t)live[n] & (align - 1)) == 0);
            n++;
            CHECK(n < 40000);
        }
        CHECK(fl_last_error()->category == FL_ERR_OUT_OF_MEMORY);
        CHECK_OK(fl_allocator_validate(a));
        for (size_t i = n; i > 1; i--) { /* shuffle */
            size_t j = harness_range(&rng, 0, i - 1);
            void *t = live[i - 1];
            live[i - 1] = live[j];
            live[j] = t;
        }
        for (size_t i = 0; i < n; i++) CHECK_OK(fl_allocator_deallocate(a, live[i]));
        CHECK_EQ_SIZE(stats_of(a).largest_free_block, initial);
        CHECK_EQ_SIZE(stats_of(a).used_bytes, 0);
        check_initial_decomposition(a, 32);
        CHECK_OK(fl_allocator_validate(a));
    }
    drop(a);
    free(raw);
}

/* ---- alignment -------------------------------------------------------------------------------- */

static void test_alignment(void)
{
    unsigned char *raw = big_buffer(1 << 20);
    unsigned char *buf = aligned_in(raw, external_mode ? 0 : 40);
    fl_allocator *a = make(buf, 1 << 20, 64);
    CHECK_EQ_SIZE(area_alignment(a, 64), 4096);
    for (size_t align = 1; align <= 4096; align *= 2) {
        static const size_t sizes[] = {1, 63, 64, 65, 100, 1000, 5000};
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            void *p = NULL;
            CHECK_OK(fl_allocator_allocate(a, sizes[k], align, &p));
            CHECK_MSG(((uintptr_t)p & (align - 1)) == 0, "%p not aligned to %zu", p, align);
            size_t usable = 0, want = 64;
            CHECK_OK(fl_allocator_usable_size(a, p, &usable));
            while (want < sizes[k] || want < align) want *= 2;
            CHECK_EQ_SIZE(usable, want);
            /* The block is aligned to its own size (up to a page). */
            size_t natural = want < 4096 ? want : 4096;
            CHECK(((uintptr_t)p & (natural - 1)) == 0);
        }
    }
    CHECK_OK(fl_allocator_validate(a));
    /* Alignment 0 means FL_ALIGN_DEFAULT. */
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 1, 0, &p));
    CHECK(((uintptr_t)p & (FL_ALIGN_DEFAULT - 1)) == 0);

    /* Above the area alignment: INVALID_PARAMETERS naming the limit; nothing changes. */
    fl_allocator_stats before = stats_of(a);
    CHECK_STATUS(fl_allocator_allocate(a, 1, 8192, &p), FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "8192") && strstr(fl_last_error()->message, "4096"));
    CHECK_STATUS(fl_allocator_allocate(a, 100000, FL_ALIGN_MAX, &p), FL_ERR_INVALID_PARAMETERS);
    fl_allocator_stats after = stats_of(a);
    CHECK(stats_equal(&before, &after));
    drop(a);

    /* A small area's alignment is its largest top-level block. */
    a = make_units(buf, 5, 64);
    CHECK_EQ_SIZE(area_alignment(a, 64), 256);
    CHECK_OK(fl_allocator_allocate(a, 1, 256, &p));
    CHECK(((uintptr_t)p & 255u) == 0);
    CHECK_STATUS(fl_allocator_allocate(a, 1, 512, &p), FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "256") != NULL);
    drop(a);
    free(raw);
}

/* ---- bad input: right status, statistics unchanged ------------------------------------------ */

static void test_bad_frees_change_nothing(void)
{
    unsigned char *raw = big_buffer(1 << 16);
    unsigned char *buf = aligned_in(raw, 0);
    fl_allocator *a = make_units(buf, 16, 64);
    void *p = NULL, *q = NULL, *r = NULL;
    CHECK_OK(fl_allocator_allocate(a, 200, 1, &p)); /* 256-byte block at the area start */
    CHECK(p == walk_of(a)->start[0]);
    CHECK_OK(fl_allocator_allocate(a, 64, 1, &q));
    CHECK_OK(fl_allocator_allocate(a, 64, 1, &r));
    CHECK_OK(fl_allocator_deallocate(a, q)); /* r is q's buddy and in use: q stays a free head */
    fl_allocator_stats before = stats_of(a);
    unsigned char *pc = (unsigned char *)p;
    int local = 0;
    void *bad[] = {
        q,                 /* already freed, still a free block */
        pc + 1,            /* interior, not unit aligned */
        pc + 64,           /* interior, unit aligned */
        pc + 255,          /* last byte */
        &local,            /* foreign */
        (void *)a,         /* the control block: inside the buffer, not the area */
        pc - 1,            /* just before the area (p is the area start) */
        pc + 1024,         /* just past the area's end */
    };
    CHECK(!fl_allocator_owns(a, pc - 1));
    CHECK(!fl_allocator_owns(a, a));
    CHECK(!fl_allocator_owns(a, &local));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_STATUS(fl_allocator_deallocate(a, bad[i]), FL_ERR_INVALID_PARAMETERS);
        fl_allocator_stats after = stats_of(a);
        CHECK_MSG(stats_equal(&before, &after), "bad pointer %zu changed the statistics", i);
        size_t usable = 12345;
        CHECK_STATUS(fl_allocator_usable_size(a, bad[i], &usable), FL_ERR_INVALID_PARAMETERS);
        CHECK_EQ_SIZE(usable, 12345);
    }
    CHECK(strstr(fl_last_error()->message, "not in") != NULL);
    CHECK_STATUS(fl_allocator_deallocate(a, q), FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "free") != NULL);
    CHECK_STATUS(fl_allocator_deallocate(a, pc + 1), FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "inside") != NULL);
    CHECK_OK(fl_allocator_validate(a));

    /* A double free after the block merged away: the pointer is interior now. */
    CHECK_OK(fl_allocator_deallocate(a, r));
    before = stats_of(a);
    CHECK_STATUS(fl_allocator_deallocate(a, r), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_deallocate(a, q), FL_ERR_INVALID_PARAMETERS);
    fl_allocator_stats after = stats_of(a);
    CHECK(stats_equal(&before, &after));

    /* NULLs and other bad arguments reaching any function. */
    CHECK_STATUS(fl_allocator_deallocate(a, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 0, 1, &q), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 8, 3, &q), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 8, FL_ALIGN_MAX * 2, &q), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(a, 8, 1, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_usable_size(a, p, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_walk(a, NULL, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_walk(NULL, record_block, &the_walk), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_validate(NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_deallocate(NULL, p), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_allocate(NULL, 8, 1, &q), FL_ERR_INVALID_PARAMETERS);
    size_t usable = 7;
    CHECK_STATUS(fl_allocator_usable_size(NULL, p, &usable), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_usable_size(a, NULL, &usable), FL_ERR_INVALID_PARAMETERS);
    CHECK_EQ_SIZE(usable, 7);
    CHECK(!fl_allocator_owns(a, NULL));
    fl_marker m = fl_allocator_mark(a);
    CHECK(m.offset == 0 && m.count == 0 && m.last == 0);
    CHECK_STATUS(fl_allocator_rewind(a, m), FL_ERR_NOT_SUPPORTED);
    after = stats_of(a);
    CHECK(stats_equal(&before, &after));
    CHECK_OK(fl_allocator_validate(a));
    CHECK_OK(fl_allocator_deallocate(a, p));
    check_initial_decomposition(a, 64);
    drop(a);
    free(raw);
}

static int by_address(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t)*(void *const *)x, b = (uintptr_t)*(void *const *)y;
    return a < b ? -1 : a > b;
}

static void test_out_of_memory_is_clean(void)
{
    unsigned char *raw = big_buffer(1 << 16);
    unsigned char *buf = aligned_in(raw, 0);
    fl_allocator *a = make(buf, 1 << 16, 64);
    fl_allocator_stats s0 = stats_of(a);
    void *p = (void *)(uintptr_t)0x99;
    CHECK_STATUS(fl_allocator_allocate(a, s0.total_capacity + 1, 1, &p), FL_ERR_OUT_OF_MEMORY);
    CHECK(p == (void *)(uintptr_t)0x99);
    CHECK_STATUS(fl_allocator_allocate(a, SIZE_MAX, 1, &p), FL_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(fl_allocator_allocate(a, s0.largest_free_block + 1, 1, &p), FL_ERR_OUT_OF_MEMORY);
    fl_allocator_stats s1 = stats_of(a);
    CHECK_EQ_SIZE(s1.failed_allocations, 3);
    s1.failed_allocations = 0;
    CHECK(stats_equal(&s0, &s1));
    CHECK_OK(fl_allocator_validate(a));
    /* The largest free block is exactly allocatable. */
    CHECK_OK(fl_allocator_allocate(a, s0.largest_free_block, 1, &p));
    CHECK_OK(fl_allocator_deallocate(a, p));

    /* Fragmented: plenty free in total, no block big enough. */
    static void *live[2048];
    size_t n = 0;
    while (fl_allocator_allocate(a, 64, 1, &live[n]) == FL_OK) n++;
    CHECK_EQ_SIZE(n, s0.total_capacity / 64);
    qsort(live, n, sizeof *live, by_address); /* unit i is live[i]: free the even units */
    for (size_t i = 0; i < n; i += 2) CHECK_OK(fl_allocator_deallocate(a, live[i]));
    fl_allocator_stats s2 = stats_of(a);
    CHECK_EQ_SIZE(s2.largest_free_block, 64);
    CHECK(s2.free_bytes >= s0.total_capacity / 2 - 64);
    CHECK(s2.fragmentation_ratio > 0.9);
    CHECK_STATUS(fl_allocator_allocate(a, 65, 1, &p), FL_ERR_OUT_OF_MEMORY);
    CHECK(strstr(fl_last_error()->message, "128") != NULL); /* the block size it looked for */
    fl_allocator_stats s3 = stats_of(a);
    CHECK_EQ_SIZE(s3.failed_allocations, s2.failed_allocations + 1);
    s3.failed_allocations = s2.failed_allocations;
    CHECK(stats_equal(&s2, &s3));
    CHECK_OK(fl_allocator_validate(a));
    for (size_t i = 1; i < n; i += 2) CHECK_OK(fl_allocator_deallocate(a, live[i]));
    check_initial_decomposition(a, 64);
    drop(a);
    free(raw);
}

/* ---- statistics, reset, validate ---------------------------------------------------------------- */

static void test_statistics(void)
{
    unsigned char *raw = big_buffer(1 << 18);
    fl_allocator *a = make(aligned_in(raw, 0), 1 << 18, 64);
    fl_allocator_stats s0 = stats_of(a);
    void *p = NULL, *q = NULL, *r = NULL;
    CHECK_OK(fl_allocator_allocate(a, 100, 1, &p)); /* 128 */
    CHECK_OK(fl_allocator_allocate(a, 1, 1, &q));   /* 64 */
    CHECK_OK(fl_allocator_allocate(a, 4096, 1, &r)); /* 4096 */
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 128 + 64 + 4096);
    CHECK_EQ_SIZE(s.free_bytes, s0.total_capacity - s.used_bytes);
    CHECK_EQ_SIZE(s.allocation_count, 3);
    CHECK_EQ_SIZE(s.peak_used_bytes, s.used_bytes);
    double eff = (100.0 + 1.0 + 4096.0) / (128.0 + 64.0 + 4096.0); /* x87 keeps excess precision */
    CHECK(s.allocation_efficiency > eff - 1e-12 && s.allocation_efficiency < eff + 1e-12);
    CHECK(s.total_allocations == 3 && s.total_deallocations == 0);
    CHECK_EQ_SIZE(s.allocation_overhead, 0);
    double frag = 1.0 - (double)s.largest_free_block / (double)s.free_bytes;
    CHECK(s.fragmentation_ratio > frag - 1e-12 && s.fragmentation_ratio < frag + 1e-12);
    harness_check_stats_identities(a);
    CHECK_OK(fl_allocator_deallocate(a, r));
    s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 192);
    CHECK_EQ_SIZE(s.peak_used_bytes, 128 + 64 + 4096);
    CHECK(s.total_deallocations == 1);
    CHECK_OK(fl_allocator_validate(a));

    /* reset: everything free, the initial blocks back, lifetime counters kept. */
    fl_allocator_reset(a);
    s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK(s.allocation_efficiency == 1.0);
    CHECK(s.total_allocations == 3 && s.total_deallocations == 3);
    CHECK_EQ_SIZE(s.largest_free_block, s0.largest_free_block);
    check_initial_decomposition(a, 64);
    CHECK_OK(fl_allocator_validate(a));
    CHECK_STATUS(fl_allocator_deallocate(a, q), FL_ERR_INVALID_PARAMETERS); /* freed by reset */
    CHECK_OK(fl_allocator_allocate(a, 100, 1, &p));
    CHECK_OK(fl_allocator_validate(a));
    harness_check_stats_identities(a);
    drop(a);
    free(raw);
}

static void test_walk_reports_used_blocks(void)
{
    unsigned char *raw = big_buffer(1 << 16);
    fl_allocator *a = make(aligned_in(raw, 0), 1 << 16, 64);
    void *p[5];
    static const size_t sizes[] = {64, 300, 64, 1000, 5};
    for (size_t i = 0; i < 5; i++) CHECK_OK(fl_allocator_allocate(a, sizes[i], 1, &p[i]));
    const walk_log *w = walk_of(a);
    size_t used = 0, total = 0, found = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (i > 0) CHECK(w->start[i] == w->start[i - 1] + w->size[i - 1]);
        total += w->size[i];
        if (w->used[i]) {
            used += w->size[i];
            for (size_t k = 0; k < 5; k++)
                if (w->start[i] == p[k]) found++;
        }
    }
    CHECK_EQ_SIZE(found, 5);
    CHECK_EQ_SIZE(used, stats_of(a).used_bytes);
    CHECK_EQ_SIZE(total, stats_of(a).total_capacity);
    drop(a);
    free(raw);
}

/* The two 32-bit link words (next, prev unit index) of a free block: in-band the block's
 * first 8 bytes; external a side array right after the control block (its size is what
 * fl_buddy_control_size counts beyond 9 bytes per unit), 2 words per unit. */
static unsigned char *links_of_block(const fl_allocator *a, void *block, size_t managed_size, size_t min_block)
{
    if (!external_mode) return (unsigned char *)block;
    size_t units = managed_size / min_block;
    size_t header = fl_buddy_control_size(managed_size, min_block) - 9 * units;
    size_t unit = (size_t)((unsigned char *)block - walk_of(a)->start[0]) / min_block;
    return control_of(a) + header + unit * 8;
}

static void set_links(unsigned char *at, uint32_t next, uint32_t prev)
{
    uint32_t words[2] = {next, prev};
    memcpy(at, words, sizeof words);
}

/* validate must be able to fail: break a free block's list links (wherever they live),
 * then mend them. */
static void test_validate_detects_corruption(void)
{
    unsigned char *raw = big_buffer(1 << 16);
    fl_allocator *a = make_units(aligned_in(raw, 0), 16, 64);
    void *p = NULL, *q = NULL;
    CHECK_OK(fl_allocator_allocate(a, 64, 1, &p));
    CHECK_OK(fl_allocator_allocate(a, 64, 1, &q));
    CHECK_OK(fl_allocator_deallocate(a, p)); /* p is a free 64-byte block, alone in its list */
    CHECK_OK(fl_allocator_validate(a));
    CHECK(p == walk_of(a)->start[0]); /* unit 0; q is unit 1 */
    unsigned char *links = links_of_block(a, p, 16 * 64 + 63, 64);
    unsigned char saved[8];
    memcpy(saved, links, sizeof saved);
    uint32_t words[2];
    memcpy(words, saved, sizeof words);
    CHECK(words[0] == UINT32_MAX && words[1] == UINT32_MAX); /* alone: no next, no prev */
    set_links(links, 0, UINT32_MAX); /* next -> itself: a cycle */
    CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
    set_links(links, 1000, UINT32_MAX); /* past the 16 units */
    CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
    CHECK(strstr(fl_last_error()->message, "outside") != NULL);
    CHECK(strstr(fl_last_error()->message, external_mode ? "side" : "in-band") != NULL);
    set_links(links, 1, UINT32_MAX); /* a used block in a free list */
    CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
    CHECK(strstr(fl_last_error()->message, "map byte") != NULL);
    set_links(links, UINT32_MAX, 1);
    CHECK_STATUS(fl_allocator_validate(a), FL_ERR_INVALID_STATE);
    CHECK(strstr(fl_last_error()->message, "prev") != NULL);
    memcpy(links, saved, sizeof saved);
    CHECK_OK(fl_allocator_validate(a));
    if (external_mode) {
        /* The free block's own bytes mean nothing to an external buddy. */
        memset(p, 0xFF, 64);
        CHECK_OK(fl_allocator_validate(a));
        void *r = NULL;
        CHECK_OK(fl_allocator_allocate(a, 64, 1, &r));
        CHECK(r == p);
        CHECK_OK(fl_allocator_deallocate(a, r));
    }
    CHECK_OK(fl_allocator_deallocate(a, q));
    check_initial_decomposition(a, 64);
    drop(a);
    free(raw);
}

/* ---- threads ------------------------------------------------------------------------------------ */

typedef struct thread_job {
    fl_allocator *a;
    uint64_t seed;
    int failures;
} thread_job;

static void *hammer(void *arg)
{
    thread_job *job = (thread_job *)arg;
    harness_rng rng = {job->seed};
    enum { SLOTS = 64 };
    void *ptr[SLOTS] = {0};
    size_t size[SLOTS] = {0};
    uint64_t ops = harness_scaled(40000);
    for (uint64_t i = 0; i < ops; i++) {
        size_t s = harness_range(&rng, 0, SLOTS - 1);
        if (ptr[s]) {
            if (!harness_pattern_ok(ptr[s], size[s], job->seed + s)) job->failures++;
            if (fl_allocator_deallocate(job->a, ptr[s]) != FL_OK) job->failures++;
            ptr[s] = NULL;
        } else {
            size[s] = harness_range(&rng, 1, 2000);
            if (fl_allocator_allocate(job->a, size[s], 16, &ptr[s]) == FL_OK)
                harness_fill(ptr[s], size[s], job->seed + s);
            else
                ptr[s] = NULL;
        }
    }
    for (size_t s = 0; s < SLOTS; s++)
        if (ptr[s] && fl_allocator_deallocate(job->a, ptr[s]) != FL_OK) job->failures++;
    return NULL;
}

static void test_threads(void)
{
    unsigned char *raw = big_buffer(1 << 20);
    fl_allocator *a = make_with(aligned_in(raw, 0), 1 << 20, 0, true);
    size_t initial = stats_of(a).largest_free_block;
    enum { THREADS = 4 };
    pthread_t t[THREADS];
    thread_job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i].a = a;
        jobs[i].seed = 1000u * (uint64_t)(i + 1);
        jobs[i].failures = 0;
        CHECK(pthread_create(&t[i], NULL, hammer, &jobs[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) CHECK(pthread_join(t[i], NULL) == 0);
    for (int i = 0; i < THREADS; i++) CHECK_EQ_SIZE(jobs[i].failures, 0);
    fl_allocator_stats s = stats_of(a);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK(s.total_allocations == s.total_deallocations && s.total_allocations > 0);
    CHECK_EQ_SIZE(s.largest_free_block, initial);
    CHECK_OK(fl_allocator_validate(a));
    drop(a);
    free(raw);
}

/* ---- external mode: its own contract ---------------------------------------------------------- */

static fl_allocator_config external_config(void *control, size_t control_size, void *managed, size_t managed_size,
                                           size_t min_block)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_BUDDY;
    cfg.buffer = control;
    cfg.size = control_size;
    cfg.managed = managed;
    cfg.managed_size = managed_size;
    cfg.min_block = min_block;
    return cfg;
}

static void expect_config_fails(const fl_allocator_config *cfg, fl_status status, const char *needle)
{
    fl_allocator *a = (fl_allocator *)(uintptr_t)0x1234;
    CHECK_STATUS(fl_allocator_create(cfg, &a), status);
    CHECK(a == (fl_allocator *)(uintptr_t)0x1234);
    CHECK_MSG(strstr(fl_last_error()->message, needle) != NULL, "message '%s' lacks '%s'",
              fl_last_error()->message, needle);
}

static void expect_config_works(const fl_allocator_config *cfg)
{
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(cfg, &a));
    CHECK_OK(fl_allocator_validate(a));
    CHECK(fl_allocator_owns(a, cfg->managed));
    fl_allocator_destroy(a);
}

static void test_control_size(void)
{
    size_t header = fl_buddy_control_size(64, 64) - 9;
    CHECK(header > 0 && header < 1024);
    for (size_t k = 1; k < 100; k += 7)
        for (size_t r = 0; r < 64; r += 9) {
            CHECK_EQ_SIZE(fl_buddy_control_size(64 * k + r, 64), header + 9 * k);
            CHECK_EQ_SIZE(fl_buddy_control_size(64 * k + r, 0), header + 9 * k); /* 0: 64 */
            CHECK_EQ_SIZE(fl_buddy_control_size(8 * k + r % 8, 8), header + 9 * k);
        }
    CHECK_EQ_SIZE(fl_buddy_control_size(0, 64), 0);
    CHECK_EQ_SIZE(fl_buddy_control_size(63, 64), 0);
    CHECK(strstr(fl_last_error()->message, "63") != NULL);
    CHECK_EQ_SIZE(fl_buddy_control_size(4096, 48), 0);
    CHECK(strstr(fl_last_error()->message, "power of two") != NULL);
    CHECK_EQ_SIZE(fl_buddy_control_size(4096, 4), 0);
    CHECK(strstr(fl_last_error()->message, "below 8") != NULL);
    /* Too many units for a 32-bit index (64-bit) or a control size past SIZE_MAX (32-bit). */
    CHECK_EQ_SIZE(fl_buddy_control_size(SIZE_MAX, 8), 0);
    CHECK(fl_last_error()->category == FL_ERR_INVALID_PARAMETERS);
#if SIZE_MAX > 0xFFFFFFFFu
    CHECK_EQ_SIZE(fl_buddy_control_size((size_t)1 << 35, 8), 0); /* exactly 2^32 units */
    CHECK(strstr(fl_last_error()->message, "32-bit") != NULL);
    CHECK_EQ_SIZE(fl_buddy_control_size(((size_t)1 << 35) - 8, 8), header + 9 * (((size_t)1 << 32) - 1));
#endif
}

static void test_external_bad_config(void)
{
    unsigned char *raw = big_buffer(1 << 17);
    unsigned char *managed = aligned_in(raw, 0);
    size_t managed_size = 1 << 15;
    size_t need = fl_buddy_control_size(managed_size, 64);
    unsigned char *control_raw = (unsigned char *)malloc(need + 64);
    CHECK(control_raw != NULL);
    unsigned char *control =
        (unsigned char *)(((uintptr_t)control_raw + FL_ALIGN_DEFAULT - 1) & ~(uintptr_t)(FL_ALIGN_DEFAULT - 1));
    fl_allocator_config cfg = external_config(control, need, managed, managed_size, 64);
    expect_config_works(&cfg);

    /* Only the buddy can manage memory it never touches; asked before anything is placed
     * (the system allocator's own checks would say INVALID_PARAMETERS for the buffer). */
    static const fl_allocator_type others[] = {FL_ALLOCATOR_LINEAR, FL_ALLOCATOR_STACK, FL_ALLOCATOR_POOL,
                                               FL_ALLOCATOR_FREELIST, FL_ALLOCATOR_SYSTEM};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        fl_allocator_config other = cfg;
        other.type = others[i];
        other.block_size = 48;
        expect_config_fails(&other, FL_ERR_NOT_SUPPORTED, fl_allocator_type_str(others[i]));
        other.managed_size = 0;
        expect_config_fails(&other, FL_ERR_NOT_SUPPORTED, fl_allocator_type_str(others[i]));
        other.buffer = NULL;
        expect_config_fails(&other, FL_ERR_NOT_SUPPORTED, "managed");
    }
    fl_allocator_config bad = cfg;
    bad.type = FL_ALLOCATOR_AUTO;
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, "type");

    /* The two new fields go together. */
    bad = cfg;
    bad.managed_size = 0;
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, "0 bytes");
    bad = cfg;
    bad.managed = NULL;
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, "managed_size 32768");
    bad = cfg;
    bad.managed_size = 63;
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, "holds no 64-byte");
    bad.min_block = 48;
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, "48");

    /* The control buffer: exactly fl_buddy_control_size bytes after alignment. */
    char text[32];
    snprintf(text, sizeof text, "%zu", need);
    bad = cfg;
    bad.size = need - 1;
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, text);
    bad.size = 100;
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, text);
    bad.size = 1;
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, "too small");
    bad = cfg;
    bad.buffer = control + 1; /* create skips to the next FL_ALIGN_DEFAULT boundary */
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, text);
    bad.size = need + FL_ALIGN_DEFAULT - 1;
    expect_config_works(&bad);

    /* Bookkeeping inside the managed memory is what the mode exists to prevent. */
    bad = cfg;
    bad.buffer = managed + 4096;
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, "overlaps");
    bad.buffer = managed + managed_size - 16; /* straddles the end */
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, "overlaps");
    bad.buffer = managed + managed_size; /* right after: fine */
    expect_config_works(&bad);
    bad = cfg;
    bad.buffer = managed; /* right before: fine */
    bad.managed = managed + ((need + 63) & ~(size_t)63);
    expect_config_works(&bad);
    bad.managed = managed + ((need + 63) & ~(size_t)63) - 64;
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, "overlaps");

    /* A range past the end of the address space (never dereferenced). */
    bad = cfg;
    bad.managed = (void *)(UINTPTR_MAX - 4095u);
    bad.managed_size = 8192;
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, "wraps");
    bad.managed_size = 4096; /* the last page exactly: a range, unmapped but never touched */
    expect_config_works(&bad);
#if SIZE_MAX > 0xFFFFFFFFu
    /* More units than a 32-bit index holds, in both modes; nothing is touched. */
    bad = cfg;
    bad.managed = (void *)(uintptr_t)0x100000000000u;
    bad.managed_size = (size_t)1 << 35;
    bad.min_block = 8;
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, "32-bit");
    bad.min_block = 16; /* 2^31 units: fits, but needs 18 GiB of control */
    expect_config_fails(&bad, FL_ERR_INVALID_PARAMETERS, "too small");
    fl_allocator_config in_band;
    memset(&in_band, 0, sizeof in_band);
    in_band.type = FL_ALLOCATOR_BUDDY;
    in_band.buffer = control;
    in_band.size = (size_t)1 << 40;
    in_band.min_block = 8;
    expect_config_fails(&in_band, FL_ERR_INVALID_PARAMETERS, "32-bit");
#endif
    free(control_raw);
    free(raw);
}

static void test_external_alignment_from_base(void)
{
    unsigned char *raw = big_buffer(1 << 20);
    void *p = NULL;

    /* A base aligned to 8: every block is 8-aligned, nothing more is promised. */
    fl_allocator *a = make_units(aligned_in(raw, 24), 64, 64);
    CHECK_EQ_SIZE(area_alignment(a, 64), 8);
    CHECK_OK(fl_allocator_allocate(a, 1, 8, &p));
    CHECK(((uintptr_t)p & 7u) == 0);
    CHECK_OK(fl_allocator_allocate(a, 1000, 1, &p));
    fl_allocator_stats before = stats_of(a);
    CHECK_STATUS(fl_allocator_allocate(a, 1, 16, &p), FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "16") && strstr(fl_last_error()->message, "the 8 "));
    if (FL_ALIGN_DEFAULT > 8) /* alignment 0 is FL_ALIGN_DEFAULT */
        CHECK_STATUS(fl_allocator_allocate(a, 1, 0, &p), FL_ERR_INVALID_PARAMETERS);
    fl_allocator_stats after = stats_of(a);
    CHECK(stats_equal(&before, &after)); /* not an out-of-memory: failed_allocations unchanged */
    CHECK_OK(fl_allocator_validate(a));
    drop(a);

    /* An odd base: alignment 1 only, yet every block still works. */
    a = make_units(aligned_in(raw, 1), 16, 64);
    CHECK_EQ_SIZE(area_alignment(a, 64), 1);
    void *blocks[16];
    for (size_t i = 0; i < 16; i++) {
        CHECK_OK(fl_allocator_allocate(a, 64, 1, &blocks[i]));
        CHECK(((uintptr_t)blocks[i] & 63u) == 1u);
    }
    CHECK_STATUS(fl_allocator_allocate(a, 1, 2, &p), FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "the 1 ") != NULL);
    for (size_t i = 0; i < 16; i++) CHECK_OK(fl_allocator_deallocate(a, blocks[(i * 5) % 16]));
    check_initial_decomposition(a, 64);
    drop(a);

    /* A page-aligned base: a page, not more, whatever the block size. */
    a = make(aligned_in(raw, 5 * 4096), 1 << 19, 64);
    CHECK_EQ_SIZE(area_alignment(a, 64), 4096);
    CHECK_OK(fl_allocator_allocate(a, 1, 4096, &p));
    CHECK(((uintptr_t)p & 4095u) == 0);
    CHECK_STATUS(fl_allocator_allocate(a, 1, 8192, &p), FL_ERR_INVALID_PARAMETERS);
    drop(a);
    free(raw);
}

/* A small random workload over an allocator whose block contents the test never writes:
 * allocate, free, refused frees, usable_size, owns, walk, validate, reset. */
static void untouched_workload(fl_allocator *a, uint64_t seed, size_t area_align)
{
    harness_rng rng = harness_rng_seeded("buddy external workload", seed);
    enum { SLOTS = 96 };
    void *live[SLOTS] = {0};
    uint64_t ops = harness_scaled(30000);
    for (uint64_t i = 0; i < ops; i++) {
        size_t s = harness_range(&rng, 0, SLOTS - 1);
        if (live[s]) {
            if (harness_next(&rng) % 4 == 0) {
                size_t usable = 0;
                CHECK_OK(fl_allocator_usable_size(a, live[s], &usable));
                CHECK_STATUS(fl_allocator_deallocate(a, (unsigned char *)live[s] + usable - 1),
                             usable == 1 ? FL_OK : FL_ERR_INVALID_PARAMETERS);
            }
            CHECK_OK(fl_allocator_deallocate(a, live[s]));
            CHECK_STATUS(fl_allocator_deallocate(a, live[s]), FL_ERR_INVALID_PARAMETERS);
            live[s] = NULL;
        } else {
            size_t size = harness_range(&rng, 1, harness_next(&rng) % 8 ? 600 : 20000);
            size_t align = (size_t)1 << harness_range(&rng, 0, 12);
            if (align > area_align) align = area_align;
            if (fl_allocator_allocate(a, size, align, &live[s]) != FL_OK) live[s] = NULL;
            if (live[s]) CHECK(fl_allocator_owns(a, live[s]) && ((uintptr_t)live[s] & (align - 1)) == 0);
        }
        if (i % 1000 == 999) {
            CHECK_OK(fl_allocator_validate(a));
            walk_of(a);
            harness_check_stats_identities(a);
        }
        if (i % 9000 == 8999) {
            fl_allocator_reset(a);
            memset(live, 0, sizeof live);
        }
    }
    CHECK(stats_of(a).total_allocations > ops / 4);
    CHECK_OK(fl_allocator_validate(a));
}

/* External: managed memory full of a pattern, guard bytes around it, a workload: every
 * byte is as it was. In-band the same check must see the links the allocator writes
 * into free blocks, which shows the check can fail. */
static void test_external_never_writes_managed_memory(void)
{
    const size_t guard = 4096, managed_size = 300000;
    unsigned char *raw = big_buffer(guard + managed_size + guard);
    unsigned char *outer = aligned_in(raw, 0);
    unsigned char *managed = outer + guard;
    harness_fill(outer, guard + managed_size + guard, 0xFEED);
    bool was = external_mode;
    external_mode = true;
    fl_allocator *a = make(managed, managed_size, 16);
    untouched_workload(a, 0xE47E, area_alignment(a, 16));
    drop(a);
    external_mode = was;
    CHECK_MSG(harness_pattern_ok(outer, guard + managed_size + guard, 0xFEED),
              "the external buddy wrote into the memory it manages");

    /* In-band, on the same bytes: a split writes links into the area (compared with a
     * snapshot taken after create; overwriting the area would corrupt the free lists). */
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_BUDDY;
    cfg.buffer = managed;
    cfg.size = managed_size;
    cfg.min_block = 16;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    unsigned char *area = (unsigned char *)(uintptr_t)walk_of(a)->start[0];
    size_t capacity = stats_of(a).total_capacity;
    unsigned char *snapshot = (unsigned char *)malloc(capacity);
    CHECK(snapshot != NULL);
    memcpy(snapshot, area, capacity);
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(a, 16, 16, &p)); /* splits: links in every upper half */
    CHECK(memcmp(snapshot, area, capacity) != 0);
    fl_allocator_destroy(a);
    free(snapshot);
    free(raw);
}

static void run_both(void (*test_fn)(void), const char *name)
{
    char label[128];
    for (int mode = 0; mode < 2; mode++) {
        external_mode = mode == 1;
        snprintf(label, sizeof label, "%s (%s)", name, external_mode ? "external" : "in-band");
        harness_run(test_fn, label);
        memset(made, 0, sizeof made); /* a failed test may leave some behind: forget them */
    }
    external_mode = false;
}
#define RUN_BOTH(test_fn) run_both(test_fn, #test_fn)

int main(void)
{
    RUN_BOTH(test_create_defaults);
    RUN_BOTH(test_create_rejects_bad_config);
    RUN_BOTH(test_platform_pages);
    RUN_BOTH(test_odd_buffer_sizes);
    RUN_BOTH(test_decomposition_exact_example);
    RUN_BOTH(test_garbage_never_merges_past_the_area);
    RUN_BOTH(test_split_and_coalesce);
    RUN_BOTH(test_largest_free_restored_after_random_frees);
    RUN_BOTH(test_alignment);
    RUN_BOTH(test_bad_frees_change_nothing);
    RUN_BOTH(test_out_of_memory_is_clean);
    RUN_BOTH(test_statistics);
    RUN_BOTH(test_walk_reports_used_blocks);
    RUN_BOTH(test_validate_detects_corruption);
    RUN_BOTH(test_threads);
    RUN(test_control_size);
    RUN(test_external_bad_config);
    external_mode = true;
    RUN(test_external_alignment_from_base);
    external_mode = false;
    RUN(test_external_never_writes_managed_memory);
    return harness_finish();
}
