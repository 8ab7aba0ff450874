/*
 * libFuzzer target: the stack allocator against the reference model (fuzz_model.h).
 *
 * The oracle restates the contract at the top of src/allocators/stack.c: payloads rounded
 * to a word W, one header word before each, padding only to reach alignments above W;
 * every pointer and consumed byte is predicted exactly. Only the top frees; a pointer
 * below the top allocation that could be an allocation (inside the used span, word
 * aligned, below the top allocation's first byte) is FL_ERR_INVALID_STATE, anything else
 * FL_ERR_INVALID_PARAMETERS. Markers: every check rewind makes without reading memory is
 * replayed here, and so is the header comparison at a block boundary; a marker whose
 * fate depends on payload bytes (an offset that is no boundary now) or that the contract
 * lets through with a wrong count is not tried.
 */
#include "fuzz_model.h"

#define W FZ_WORD

static fz_expect stack_allocate(const fz_ctx *c, size_t size, size_t alignment)
{
    if (size > SIZE_MAX - (W - 1)) return fz_expect_status(FL_ERR_INVALID_PARAMETERS);
    size_t rounded = (size + W - 1) & ~(W - 1);
    size_t align = alignment < W ? W : alignment;
    uintptr_t payload = c->area_lo + c->m.used + W;
    size_t pad = (size_t)((uintptr_t)0 - payload) & (align - 1);
    size_t room = c->capacity - c->m.used;
    if (pad > room || room - pad < W || rounded > room - pad - W) return fz_expect_status(FL_ERR_OUT_OF_MEMORY);
    return fz_expect_ok(pad + W + rounded, pad + W + rounded, payload + pad, rounded);
}

/* FL_OK for the top allocation; otherwise why it is not: INVALID_STATE when p could be an
 * allocation below the top, INVALID_PARAMETERS when it cannot be one. */
static fl_status stack_where(const fz_ctx *c, uintptr_t p)
{
    const fz_block *top = fz_top(c);
    if (top && p == top->ptr) return FL_OK;
    if (p < c->area_lo || p - c->area_lo >= c->m.used) return FL_ERR_INVALID_PARAMETERS;
    size_t offset = p - c->area_lo;
    if (offset % W != 0) return FL_ERR_INVALID_PARAMETERS;
    if (offset >= top->begin) return FL_ERR_INVALID_PARAMETERS;
    return FL_ERR_INVALID_STATE;
}

static fl_status stack_free(const fz_ctx *c, uintptr_t p, long live, fz_effect *effect, long *index)
{
    (void)live;
    fl_status st = stack_where(c, p);
    if (st == FL_OK) {
        *effect = FZ_REMOVE;
        *index = (long)c->m.count - 1;
    }
    return st;
}

static fl_status stack_usable(const fz_ctx *c, uintptr_t p, long live, size_t *value)
{
    (void)live;
    fl_status st = stack_where(c, p);
    if (st == FL_ERR_INVALID_STATE) return FL_ERR_NOT_SUPPORTED;
    if (st == FL_OK) *value = fz_top(c)->usable;
    return st;
}

static bool stack_largest_ok(const fz_ctx *c, size_t largest)
{
    size_t room = c->capacity - c->m.used;
    return largest == (room > W ? room - W : 0);
}

static void stack_check_block(const fz_ctx *c, const fz_block *b)
{
    FZ_CHECK(b->begin == c->m.used && b->usable % W == 0, "stack block %p: begin %zu, usable %zu", (void *)b->ptr,
             b->begin, b->usable);
}

static fl_marker stack_mark(const fz_ctx *c)
{
    const fz_block *top = fz_top(c);
    fl_marker m = {c->m.used, c->m.count, top ? top->ptr - c->area_lo : 0};
    return m;
}

/* The model block beginning at `offset`, or -1 (begins grow with the index). */
static long block_beginning_at(const fz_ctx *c, size_t offset)
{
    size_t lo = 0, hi = c->m.count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->m.blocks[mid].begin < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->m.count && c->m.blocks[lo].begin == offset ? (long)lo : -1;
}

/* Replays check_marker: the checks that read nothing, in its order; then, for an offset
 * strictly inside the used span, the first words of the allocation there (which, when the
 * offset is no block boundary now, are payload bytes: the outcome then depends on them). */
static int stack_rewind(const fz_ctx *c, fl_marker m, size_t *keep, bool *reads_payload)
{
    size_t top = c->m.used, count = c->m.count;
    size_t last = stack_mark(c).last;
    if (m.offset > top || m.count > count) return FL_ERR_INVALID_PARAMETERS;
    /* m.count <= count: the products cannot overflow. */
    if (((m.offset | m.last) & (W - 1)) != 0 || m.count * 2 * W > m.offset ||
        (count - m.count) * 2 * W > top - m.offset || (m.offset == top) != (m.count == count) ||
        (m.offset == top && m.last != last))
        return FL_ERR_INVALID_PARAMETERS;
    long k = -1;
    if (m.offset != 0 && m.offset < top) {
        k = block_beginning_at(c, m.offset);
        *reads_payload = k < 0;
    }
    /* Checked after the read, but refused whatever it found. */
    if (m.last == 0 && (m.offset != 0 || m.count != 0)) return FL_ERR_INVALID_PARAMETERS;
    if (m.last != 0 && (m.count < 1 || m.last >= m.offset || m.offset - m.last < W)) return FL_ERR_INVALID_PARAMETERS;
    if (m.offset == 0 || m.offset == top) {
        *keep = m.count;
        return FL_OK;
    }
    if (k < 0) return FZ_SKIP; /* payload bytes would decide */
    /* At a boundary the words read are the allocation's header (and padding words). */
    if (m.last != c->m.blocks[k - 1].ptr - c->area_lo) return FL_ERR_INVALID_PARAMETERS;
    if (k == 1 ? m.count != 1 : m.count < 2) return FL_ERR_INVALID_PARAMETERS;
    if (m.count != (size_t)k) return FZ_SKIP; /* a forged count the contract does not catch */
    *keep = (size_t)k;
    return FL_OK;
}

static const fz_target stack_target = {
    .name = "stack",
    .type = FL_ALLOCATOR_STACK,
    .in_area = true,
    .address_order = true,
    .walk_per_block = true,
    .frag = FZ_FRAG_ZERO,
    .overhead = W,
    .expect_allocate = stack_allocate,
    .expect_free = stack_free,
    .expect_usable = stack_usable,
    .largest_free_ok = stack_largest_ok,
    .check_block = stack_check_block,
    .expect_mark = stack_mark,
    .expect_rewind = stack_rewind,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool bad_creates_done;
    if (!bad_creates_done) {
        fz_bad_creates(FL_ALLOCATOR_STACK);
        bad_creates_done = true;
    }
    fz_input in = {data, size, 0};
    fl_allocator_config cfg;
    fz_buffer buf;
    fz_config_common(&in, FL_ALLOCATOR_STACK, &cfg, &buf);
    fz_ctx c;
    if (fz_start(&c, &stack_target, &cfg, FZ_SKIP, &in)) {
        fz_set_control(&c, &buf);
        FZ_CHECK(c.capacity % W == 0 && c.area_lo % W == 0, "stack region %p + %zu is not word-aligned",
                 (void *)c.area_lo, c.capacity);
        fz_run(&c);
        fz_finish(&c);
    }
    if (buf.raw) fz_buffer_free(&buf);
    return 0;
}
