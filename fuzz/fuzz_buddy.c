/*
 * libFuzzer target: the buddy allocator against the reference model (fuzz_model.h), in
 * both of its modes:
 * - in-band: the caller's buffer holds the control block, the state map and the area;
 * - external (cfg.managed): blocks come from a separate managed range the allocator
 *   promises never to read or write. The whole managed range stays poisoned for
 *   AddressSanitizer (the driver lifts the poison only to write or check a live block's
 *   pattern), so any access by the allocator is reported. Its base alignment is fuzzed
 *   (from 1 to a page) and so is the control buffer: exactly fl_buddy_control_size(), one
 *   byte short, larger, from platform pages, or overlapping the managed range.
 *
 * The oracle restates the contract at the top of src/allocators/buddy.c: area_align =
 * min(largest top-level block, page, the base's alignment); an alignment above it is
 * FL_ERR_INVALID_PARAMETERS; a block is max(size, alignment, min_block) rounded up to a
 * power of two; larger than the largest block, or larger than largest_free_block (the
 * highest free order), is FL_ERR_OUT_OF_MEMORY; blocks sit at multiples of their size
 * from the area's start; exactly the live block starts free.
 */
#include "fuzz_model.h"

static size_t buddy_min_block, buddy_max_block, buddy_area_align, buddy_base_align;
static uintptr_t buddy_managed; /* external mode: the managed range's start and size */
static size_t buddy_managed_size;

static void buddy_learn(fz_ctx *c);

static size_t pow2_ceil(size_t x)
{
    size_t p = 1;
    while (p < x) p <<= 1;
    return p;
}

static fz_expect buddy_allocate(const fz_ctx *c, size_t size, size_t alignment)
{
    if (alignment > buddy_area_align) return fz_expect_status(FL_ERR_INVALID_PARAMETERS);
    size_t need = size > alignment ? size : alignment;
    if (need > buddy_max_block) return fz_expect_status(FL_ERR_OUT_OF_MEMORY);
    size_t block = need <= buddy_min_block ? buddy_min_block : pow2_ceil(need);
    if (block > c->stats.largest_free_block) return fz_expect_status(FL_ERR_OUT_OF_MEMORY);
    return fz_expect_ok(block, block, 0, block);
}

static fl_status buddy_free(const fz_ctx *c, uintptr_t p, long live, fz_effect *effect, long *index)
{
    (void)c, (void)p;
    if (live < 0) return FL_ERR_INVALID_PARAMETERS;
    *effect = FZ_REMOVE;
    *index = live;
    return FL_OK;
}

static fl_status buddy_usable(const fz_ctx *c, uintptr_t p, long live, size_t *value)
{
    (void)p;
    if (live < 0) return FL_ERR_INVALID_PARAMETERS;
    *value = c->m.blocks[live].usable;
    return FL_OK;
}

/* A power of two from min_block to the largest block, or 0 exactly when nothing is free;
 * the whole largest block when nothing is live. */
static bool buddy_largest_ok(const fz_ctx *c, size_t largest)
{
    if (c->m.count == 0) return largest == buddy_max_block;
    if (c->m.used == c->capacity) return largest == 0;
    return largest >= buddy_min_block && largest <= buddy_max_block && (largest & (largest - 1)) == 0 &&
           largest <= c->capacity - c->m.used;
}

static void buddy_check_block(const fz_ctx *c, const fz_block *b)
{
    size_t block = b->usable, align = block < buddy_area_align ? block : buddy_area_align;
    FZ_CHECK((b->ptr - c->area_lo) % block == 0 && b->ptr % align == 0,
             "buddy block %p of %zu bytes is not at a multiple of its size from the area %p or not aligned to %zu",
             (void *)b->ptr, block, (void *)c->area_lo, align);
}

/* The highest free order is the largest free block. */
static void buddy_check_walk(const fz_ctx *c)
{
    size_t largest = fz_walk_largest_free(c);
    FZ_CHECK(c->stats.largest_free_block == largest, "largest_free_block %zu, the largest free block walked is %zu",
             c->stats.largest_free_block, largest);
}

static const fz_target buddy_target = {
    .name = "buddy",
    .type = FL_ALLOCATOR_BUDDY,
    .in_area = true,
    .address_order = true,
    .walk_per_block = true,
    .frag = FZ_FRAG_DEFAULT,
    .defrag = true,
    .overhead = 0,
    .expect_allocate = buddy_allocate,
    .expect_free = buddy_free,
    .expect_usable = buddy_usable,
    .largest_free_ok = buddy_largest_ok,
    .learn = buddy_learn,
    .check_walk = buddy_check_walk,
    .check_block = buddy_check_block,
    .expect_mark = NULL,
    .expect_rewind = NULL,
};

static size_t decode_min_block(fz_input *in)
{
    switch (fz_u8(in) % 10) {
    case 0:
    case 1: return 0; /* the default, 64 */
    case 2:
    case 3:
    case 4:
    case 5:
    case 6: return (size_t)8 << (fz_u8(in) % 7u);
    case 7: return (size_t)8 << (fz_u8(in) % 10u);
    case 8: return (size_t)1 << (fz_u8(in) % 3u); /* 1, 2, 4: below the floor */
    default: return 9u + 2u * (size_t)(fz_u8(in) % 60u); /* odd: not a power of two */
    }
}

/* The managed range of external mode: `size` bytes at `offset` past a page boundary, in
 * an allocation reaching at least `reach` bytes from the range's start (room for a control
 * buffer that starts there too). All of it poisoned: the allocator may touch none of it. */
typedef struct managed_range {
    unsigned char *raw, *base;
    size_t raw_size;
} managed_range;

static managed_range managed_make(size_t size, size_t offset, size_t reach)
{
    managed_range r;
    r.raw_size = (offset + (size > reach ? size : reach) + 4095u) & ~(size_t)4095u;
    r.raw = (unsigned char *)aligned_alloc(4096, r.raw_size);
    if (r.raw == NULL) abort();
    r.base = r.raw + offset;
    FZ_POISON(r.raw, r.raw_size);
    return r;
}

static void managed_free(managed_range *r)
{
    FZ_UNPOISON(r->raw, r->raw_size);
    free(r->raw);
}

static size_t lowest_bit_capped(uintptr_t a)
{
    uintptr_t low = a & (~a + 1u);
    return low == 0 || low >= 4096u ? 4096u : (size_t)low;
}

/* Fills the oracle's geometry from the created allocator; checks the area's placement. */
static void buddy_learn(fz_ctx *c)
{
    size_t units = c->capacity / buddy_min_block;
    FZ_CHECK(units > 0 && units * buddy_min_block == c->capacity, "buddy capacity %zu is not whole units of %zu",
             c->capacity, buddy_min_block);
    if (buddy_managed)
        FZ_CHECK(c->area_lo == buddy_managed && c->capacity == buddy_managed_size / buddy_min_block * buddy_min_block,
                 "external buddy area %p + %zu, managed %p + %zu (min_block %zu)", (void *)c->area_lo, c->capacity,
                 (void *)buddy_managed, buddy_managed_size, buddy_min_block);
    size_t top = 1;
    while (top <= units / 2) top <<= 1;
    buddy_max_block = top * buddy_min_block;
    size_t align = buddy_max_block < 4096u ? buddy_max_block : 4096u;
    buddy_area_align = align < buddy_base_align ? align : buddy_base_align;
    FZ_CHECK(c->area_lo % buddy_area_align == 0, "buddy area %p is not aligned to %zu", (void *)c->area_lo,
             buddy_area_align);
}

static void run_in_band(fz_input *in)
{
    fl_allocator_config cfg;
    fz_buffer buf;
    fz_config_common(in, FL_ALLOCATOR_BUDDY, &cfg, &buf);
    cfg.min_block = decode_min_block(in);
    size_t min_block = cfg.min_block ? cfg.min_block : 64u;
    int want = FZ_SKIP;
    if ((min_block & (min_block - 1)) != 0 || min_block < 8u || (cfg.buffer == NULL && cfg.size == 0))
        want = FL_ERR_INVALID_PARAMETERS;
    buddy_min_block = min_block;
    buddy_base_align = 4096u;
    buddy_managed = 0;
    fz_ctx c;
    if (fz_start(&c, &buddy_target, &cfg, want, in)) {
        fz_set_control(&c, &buf);
        fz_run(&c);
        fz_finish(&c);
    }
    if (buf.raw) fz_buffer_free(&buf);
}

static void run_external(fz_input *in)
{
    static const size_t offsets[8] = {0, 1, 8, 16, 24, 64, 512, 4096u - 32u};
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_BUDDY;
    uint8_t flags = fz_u8(in);
    cfg.thread_safe = (flags & 1u) != 0;
    cfg.name = flags & 2u ? "fuzz vram" : NULL;
    size_t managed_size = fz_buffer_size(in);
    size_t offset = offsets[fz_u8(in) % 8u];
    cfg.min_block = decode_min_block(in);
    size_t min_block = cfg.min_block ? cfg.min_block : 64u;
    size_t need = fl_buddy_control_size(managed_size, cfg.min_block);
    bool bad_min = (min_block & (min_block - 1)) != 0 || min_block < 8u;
    FZ_CHECK((need == 0) == (bad_min || managed_size < min_block),
             "fl_buddy_control_size(%zu, %zu) = %zu", managed_size, cfg.min_block, need);
    int want = need == 0 || managed_size == 0 ? FL_ERR_INVALID_PARAMETERS : FL_OK;

    /* The control buffer: exact, one byte short, larger, platform pages, or starting at the
     * managed range's first byte. */
    size_t misalign = fz_u8(in) % 16u;
    size_t skip = (FL_ALIGN_DEFAULT - misalign % FL_ALIGN_DEFAULT) % FL_ALIGN_DEFAULT;
    unsigned kind = fz_u8(in) % 8u;
    managed_range range = managed_make(managed_size, offset, kind == 2 ? need + 64u : 0);
    cfg.managed = range.base;
    cfg.managed_size = managed_size;
    fz_buffer buf;
    memset(&buf, 0, sizeof buf);
    bool pages = false;
    switch (kind) {
    case 0:
        cfg.size = need + skip - (need ? 1u : 0u);
        if (need) want = FL_ERR_INVALID_PARAMETERS;
        break;
    case 1:
        cfg.size = need;
        pages = true;
        if (need == 0) want = FL_ERR_INVALID_PARAMETERS; /* size 0 and no buffer */
        break;
    case 2: {
        /* Overlap, unless aligning the buffer to FL_ALIGN_DEFAULT moves it past the range's
         * end (a range shorter than that shift): then it is a valid, adjacent buffer, and
         * its bytes past the range are the allocator's to write. */
        cfg.buffer = range.base;
        cfg.size = need + 64u;
        size_t shift = (FL_ALIGN_DEFAULT - offset % FL_ALIGN_DEFAULT) % FL_ALIGN_DEFAULT;
        if (need == 0 || shift < managed_size)
            want = FL_ERR_INVALID_PARAMETERS;
        else
            FZ_UNPOISON(range.base + managed_size, cfg.size - managed_size);
        break;
    }
    case 3: cfg.size = need + skip + fz_u16(in); break;
    default: cfg.size = need + skip; break;
    }
    if (cfg.buffer == NULL && !pages) {
        buf = fz_buffer_make(cfg.size, misalign);
        cfg.buffer = buf.data;
    }
    buddy_min_block = min_block;
    buddy_base_align = lowest_bit_capped((uintptr_t)range.base);
    buddy_managed = (uintptr_t)range.base;
    buddy_managed_size = managed_size;
    /* External memory: the allocator cannot move what it does not own the bytes of. */
    fz_target external_target = buddy_target;
    external_target.defrag = false;
    fz_ctx c;
    if (fz_start(&c, &external_target, &cfg, want, in)) {
        fz_set_control(&c, &buf);
        c.keep_all_poisoned = true;
        fz_run(&c);
        fz_finish(&c);
    }
    if (buf.raw) fz_buffer_free(&buf);
    managed_free(&range);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool bad_creates_done;
    if (!bad_creates_done) {
        fz_bad_creates(FL_ALLOCATOR_BUDDY);
        bad_creates_done = true;
    }
    fz_input in = {data, size, 0};
    if (fz_u8(&in) & 1u)
        run_external(&in);
    else
        run_in_band(&in);
    return 0;
}
