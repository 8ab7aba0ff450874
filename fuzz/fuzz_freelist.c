/*
 * libFuzzer target: the free-list allocator (two-level segregated fit) against the
 * reference model (fuzz_model.h).
 *
 * The oracle restates the contract at the top of src/allocators/freelist.c, with its
 * geometry: W = sizeof(size_t), granule G = max(2W, FL_ALIGN_DEFAULT), MIN_BLOCK = header
 * + two links + footer rounded up to G. (Should those constants change there, change them
 * here.) A request's block is max(round_up(size + W, G), MIN_BLOCK); an alignment above G
 * searches for block + alignment - G + MIN_BLOCK. Allocate succeeds iff that search size
 * is at most the head of the highest non-empty list, which is largest_free_block + W
 * (largest_free_block is exact by contract; the search takes that head when nothing
 * fits otherwise); a request above capacity - W is FL_ERR_INVALID_PARAMETERS when adding
 * the header and padding would overflow size_t, else FL_ERR_OUT_OF_MEMORY. A block
 * consumes between its size and its size + MIN_BLOCK - G (a tail too small to stand
 * alone stays in it); usable_size is always the block minus its header word. Exactly the
 * live payload pointers free.
 */
#include "fuzz_model.h"

#define W FZ_WORD
#define G (2u * W > FL_ALIGN_DEFAULT ? 2u * W : FL_ALIGN_DEFAULT)
#define MIN_BLOCK ((2u * W + 2u * sizeof(void *) + G - 1u) & ~(G - 1u))

static size_t block_for(size_t size)
{
    size_t need = (size + W + G - 1u) & ~(G - 1u);
    return need < MIN_BLOCK ? MIN_BLOCK : need;
}

static fz_expect freelist_allocate(const fz_ctx *c, size_t size, size_t alignment)
{
    if (size > c->capacity - W) {
        size_t pad = W + (alignment > G ? alignment : G) + MIN_BLOCK;
        return fz_expect_status(size > SIZE_MAX - pad ? FL_ERR_INVALID_PARAMETERS : FL_ERR_OUT_OF_MEMORY);
    }
    size_t need = block_for(size);
    size_t search = alignment <= G ? need : need + alignment - G + MIN_BLOCK;
    size_t head = c->stats.largest_free_block ? c->stats.largest_free_block + W : 0;
    if (search > head) return fz_expect_status(FL_ERR_OUT_OF_MEMORY);
    return fz_expect_ok(need, need + MIN_BLOCK - G, 0, 0);
}

static fl_status freelist_free(const fz_ctx *c, uintptr_t p, long live, fz_effect *effect, long *index)
{
    (void)c, (void)p;
    if (live < 0) return FL_ERR_INVALID_PARAMETERS;
    *effect = FZ_REMOVE;
    *index = live;
    return FL_OK;
}

static fl_status freelist_usable(const fz_ctx *c, uintptr_t p, long live, size_t *value)
{
    (void)p;
    if (live < 0) return FL_ERR_INVALID_PARAMETERS;
    *value = c->m.blocks[live].usable;
    return FL_OK;
}

/* Exact in the states the model can name: the whole area free, or none of it. Otherwise
 * some free block's payload: a multiple of G less W, at least MIN_BLOCK - W. */
static bool freelist_largest_ok(const fz_ctx *c, size_t largest)
{
    if (c->m.count == 0) return largest == c->capacity - W;
    if (c->m.used == c->capacity) return largest == 0; /* free bytes are free blocks */
    return largest != 0 && (largest + W) % G == 0 && largest + W >= MIN_BLOCK;
}

static void freelist_check_block(const fz_ctx *c, const fz_block *b)
{
    (void)c;
    FZ_CHECK(b->usable == b->consumed - W && b->ptr % G == 0,
             "free-list block %p: usable %zu, consumed %zu (W %zu), payload not %zu-aligned", (void *)b->ptr,
             b->usable, b->consumed, W, (size_t)G);
}

/* largest_free_block + W is the head of the highest non-empty list: no larger than the
 * largest free block M, and in M's size class (below SL_COUNT * G one class per granule,
 * above it 32 classes per power of two), so at least that class's lower bound. */
static void freelist_check_walk(const fz_ctx *c)
{
    size_t m = fz_walk_largest_free(c), largest = c->stats.largest_free_block;
    if (m == 0) {
        FZ_CHECK(largest == 0, "largest_free_block %zu with no free block", largest);
        return;
    }
    size_t lower = m;
    if (m >= 32u * G) {
        unsigned l = 0;
        while ((m >> l) > 1u) l++;
        lower = m & ~(((size_t)1 << (l - 5u)) - 1u);
    }
    FZ_CHECK(largest != 0 && largest + W <= m && largest + W >= lower,
             "largest_free_block %zu: the largest free block is %zu (its size class starts at %zu)", largest, m,
             lower);
}

static const fz_target freelist_target = {
    .name = "freelist",
    .type = FL_ALLOCATOR_FREELIST,
    .in_area = true,
    .address_order = true,
    .walk_per_block = true,
    .frag = FZ_FRAG_FREELIST,
    .defrag = true,
    .overhead = W,
    .expect_allocate = freelist_allocate,
    .expect_free = freelist_free,
    .expect_usable = freelist_usable,
    .largest_free_ok = freelist_largest_ok,
    .check_block = freelist_check_block,
    .check_walk = freelist_check_walk,
    .expect_mark = NULL,
    .expect_rewind = NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool bad_creates_done;
    if (!bad_creates_done) {
        fz_bad_creates(FL_ALLOCATOR_FREELIST);
        bad_creates_done = true;
    }
    fz_input in = {data, size, 0};
    fl_allocator_config cfg;
    fz_buffer buf;
    fz_config_common(&in, FL_ALLOCATOR_FREELIST, &cfg, &buf);
    fz_ctx c;
    if (fz_start(&c, &freelist_target, &cfg, FZ_SKIP, &in)) {
        fz_set_control(&c, &buf);
        FZ_CHECK(c.capacity % G == 0 && c.capacity >= MIN_BLOCK, "free-list capacity %zu", c.capacity);
        fz_run(&c);
        fz_finish(&c);
    }
    if (buf.raw) fz_buffer_free(&buf);
    return 0;
}
