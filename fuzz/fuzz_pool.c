/*
 * libFuzzer target: the pool against the reference model (fuzz_model.h).
 *
 * The configuration is fuzzed too: block_size (0, small, large, overflowing) and
 * block_alignment (0, powers of two, not powers of two, above FL_ALIGN_MAX); create must
 * refuse the bad ones with FL_ERR_INVALID_PARAMETERS. The oracle restates the contract at
 * the top of src/allocators/pool.c: stride = max(block_size, sizeof(void *)) rounded up to
 * the block alignment; a request larger than the stride or aligned above the blocks is
 * FL_ERR_INVALID_PARAMETERS; allocate succeeds iff fewer than capacity / stride blocks
 * are live, and every block starts a whole number of strides into the area; exactly the
 * live block starts free, everything else is FL_ERR_INVALID_PARAMETERS.
 */
#include "fuzz_model.h"

static size_t pool_stride, pool_blocks, pool_alignment;

static fz_expect pool_allocate(const fz_ctx *c, size_t size, size_t alignment)
{
    if (size > pool_stride || alignment > pool_alignment) return fz_expect_status(FL_ERR_INVALID_PARAMETERS);
    if (c->m.count == pool_blocks) return fz_expect_status(FL_ERR_OUT_OF_MEMORY);
    return fz_expect_ok(pool_stride, pool_stride, 0, pool_stride);
}

static fl_status pool_free(const fz_ctx *c, uintptr_t p, long live, fz_effect *effect, long *index)
{
    (void)c, (void)p;
    if (live < 0) return FL_ERR_INVALID_PARAMETERS;
    *effect = FZ_REMOVE;
    *index = live;
    return FL_OK;
}

static fl_status pool_usable(const fz_ctx *c, uintptr_t p, long live, size_t *value)
{
    (void)c, (void)p;
    if (live < 0) return FL_ERR_INVALID_PARAMETERS;
    *value = pool_stride;
    return FL_OK;
}

static bool pool_largest_ok(const fz_ctx *c, size_t largest)
{
    return largest == (c->m.count < pool_blocks ? pool_stride : 0);
}

static void pool_check_block(const fz_ctx *c, const fz_block *b)
{
    FZ_CHECK((b->ptr - c->area_lo) % pool_stride == 0 && b->ptr % pool_alignment == 0,
             "pool block %p is not a block start (area %p, stride %zu, alignment %zu)", (void *)b->ptr,
             (void *)c->area_lo, pool_stride, pool_alignment);
}

static void pool_learn(fz_ctx *c)
{
    pool_blocks = c->capacity / pool_stride;
    FZ_CHECK(pool_blocks > 0 && c->capacity == pool_blocks * pool_stride && c->area_lo % pool_alignment == 0,
             "pool of %zu bytes at %p is not whole blocks of %zu aligned to %zu", c->capacity, (void *)c->area_lo,
             pool_stride, pool_alignment);
}

static const fz_target pool_target = {
    .name = "pool",
    .type = FL_ALLOCATOR_POOL,
    .in_area = true,
    .address_order = true,
    .walk_per_block = true,
    .frag = FZ_FRAG_ZERO,
    .overhead = 0,
    .expect_allocate = pool_allocate,
    .expect_free = pool_free,
    .expect_usable = pool_usable,
    .largest_free_ok = pool_largest_ok,
    .learn = pool_learn,
    .check_block = pool_check_block,
    .expect_mark = NULL,
    .expect_rewind = NULL,
};

static size_t decode_block_size(fz_input *in)
{
    switch (fz_u8(in) % 12) {
    case 0: return 0;
    case 1:
    case 2:
    case 3:
    case 4: return 1u + fz_u8(in) % 32u;
    case 5:
    case 6: return 1u + fz_u16(in) % 512u;
    case 7: return 1u + fz_u16(in) % 8192u;
    case 8: return SIZE_MAX - fz_u8(in);
    case 9: return (size_t)1 << (fz_u8(in) % (sizeof(size_t) * 8u));
    case 10: return (size_t)fz_u64(in);
    default: return 1u + fz_u16(in);
    }
}

static size_t decode_block_alignment(fz_input *in)
{
    switch (fz_u8(in) % 10) {
    case 0:
    case 1:
    case 2: return 0;
    case 3:
    case 4:
    case 5: return (size_t)1 << (fz_u8(in) % 7u);
    case 6: return (size_t)1 << (fz_u8(in) % 17u);
    case 7: return 3u + 2u * (size_t)(fz_u8(in) % 100u); /* odd: never a power of two */
    case 8: return 2u * FL_ALIGN_MAX;
    default: return SIZE_MAX - fz_u8(in);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool bad_creates_done;
    if (!bad_creates_done) {
        fz_bad_creates(FL_ALLOCATOR_POOL);
        bad_creates_done = true;
    }
    fz_input in = {data, size, 0};
    fl_allocator_config cfg;
    fz_buffer buf;
    fz_config_common(&in, FL_ALLOCATOR_POOL, &cfg, &buf);
    cfg.block_size = decode_block_size(&in);
    cfg.block_alignment = decode_block_alignment(&in);

    /* What create must say, in the order pool_init checks (all one status). */
    size_t align = cfg.block_alignment ? cfg.block_alignment : FL_ALIGN_DEFAULT;
    size_t at_least = cfg.block_size < sizeof(void *) ? sizeof(void *) : cfg.block_size;
    int want = FZ_SKIP;
    if (cfg.buffer == NULL && cfg.size == 0)
        want = FL_ERR_INVALID_PARAMETERS;
    else if (cfg.block_size == 0 || (align & (align - 1)) != 0 || align > FL_ALIGN_MAX ||
             at_least > SIZE_MAX - (align - 1))
        want = FL_ERR_INVALID_PARAMETERS;
    pool_alignment = align;
    pool_stride = (at_least + align - 1) & ~(align - 1);

    fz_ctx c;
    if (fz_start(&c, &pool_target, &cfg, want, &in)) {
        fz_set_control(&c, &buf);
        fz_run(&c);
        fz_finish(&c);
    }
    if (buf.raw) fz_buffer_free(&buf);
    return 0;
}
