/*
 * libFuzzer target: the linear allocator against the reference model (fuzz_model.h).
 *
 * The oracle restates the contract at the top of src/allocators/linear.c: every pointer
 * and every consumed byte is predicted exactly (used_bytes is the top, an allocation
 * consumes its padding plus its size); only the last allocation frees for real, other
 * pointers below the top are accepted as no-ops (the block stays counted: a "zombie");
 * usable_size knows only the last allocation; mark forgets the last allocation; rewind
 * refuses every marker its O(1) checks can see is not of this state, and a marker that
 * passes them but does not match a block boundary (a stale one, the caller's error by the
 * contract) is not tried, since the model could not follow it.
 */
#include "fuzz_model.h"

static fz_expect linear_allocate(const fz_ctx *c, size_t size, size_t alignment)
{
    size_t top = c->m.used;
    uintptr_t here = c->area_lo + top;
    size_t pad = (size_t)((uintptr_t)0 - here) & (alignment - 1);
    size_t room = c->capacity - top;
    if (pad > room || size > room - pad) return fz_expect_status(FL_ERR_OUT_OF_MEMORY);
    return fz_expect_ok(pad + size, pad + size, here + pad, size);
}

/* Where p stands: outside the used span or inside the last allocation's padding or body
 * (INVALID_PARAMETERS), the last allocation (OK, *is_last), or an older pointer (OK). */
static fl_status linear_where(const fz_ctx *c, uintptr_t p, bool *is_last)
{
    *is_last = false;
    if (p < c->area_lo || p - c->area_lo >= c->m.used) return FL_ERR_INVALID_PARAMETERS;
    if (c->last_known) {
        const fz_block *last = fz_top(c);
        if (p == last->ptr) {
            *is_last = true;
            return FL_OK;
        }
        if (p - c->area_lo >= last->begin) return FL_ERR_INVALID_PARAMETERS;
    }
    return FL_OK;
}

static fl_status linear_free(const fz_ctx *c, uintptr_t p, long live, fz_effect *effect, long *index)
{
    bool is_last;
    fl_status st = linear_where(c, p, &is_last);
    if (st != FL_OK) return st;
    if (is_last) {
        *effect = FZ_REMOVE;
        *index = (long)c->m.count - 1;
    } else if (live >= 0) {
        *effect = FZ_ZOMBIE;
    }
    return FL_OK;
}

static fl_status linear_usable(const fz_ctx *c, uintptr_t p, long live, size_t *value)
{
    (void)live;
    bool is_last;
    fl_status st = linear_where(c, p, &is_last);
    if (st != FL_OK) return st;
    if (!is_last) return FL_ERR_NOT_SUPPORTED;
    *value = c->m.used - (p - c->area_lo);
    return FL_OK;
}

static bool linear_largest_ok(const fz_ctx *c, size_t largest) { return largest == c->capacity - c->m.used; }

static fl_marker linear_mark(const fz_ctx *c)
{
    fl_marker m = {c->m.used, c->m.count, 0};
    return m;
}

static int linear_rewind(const fz_ctx *c, fl_marker m, size_t *keep, bool *reads_payload)
{
    (void)reads_payload; /* linear's checks read no memory */
    size_t top = c->m.used, count = c->m.count;
    if (m.offset > top || m.count > count) return FL_ERR_INVALID_PARAMETERS;
    if (m.last != 0 || m.count > m.offset || (m.count == 0) != (m.offset == 0) || count - m.count > top - m.offset ||
        (m.offset == top) != (m.count == count))
        return FL_ERR_INVALID_PARAMETERS;
    if (m.offset == top) {
        *keep = count;
        return FL_OK;
    }
    /* A true boundary: block number m.count begins exactly at the offset. */
    if (c->m.blocks[m.count].begin == m.offset) {
        *keep = m.count;
        return FL_OK;
    }
    return FZ_SKIP;
}

static const fz_target linear_target = {
    .name = "linear",
    .type = FL_ALLOCATOR_LINEAR,
    .in_area = true,
    .address_order = true,
    .walk_per_block = false,
    .frag = FZ_FRAG_DEFAULT,
    .overhead = 0,
    .expect_allocate = linear_allocate,
    .expect_free = linear_free,
    .expect_usable = linear_usable,
    .largest_free_ok = linear_largest_ok,
    .check_block = NULL,
    .expect_mark = linear_mark,
    .expect_rewind = linear_rewind,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool bad_creates_done;
    if (!bad_creates_done) {
        fz_bad_creates(FL_ALLOCATOR_LINEAR);
        bad_creates_done = true;
    }
    fz_input in = {data, size, 0};
    fl_allocator_config cfg;
    fz_buffer buf;
    fz_config_common(&in, FL_ALLOCATOR_LINEAR, &cfg, &buf);
    fz_ctx c;
    if (fz_start(&c, &linear_target, &cfg, FZ_SKIP, &in)) {
        fz_set_control(&c, &buf);
        fz_run(&c);
        fz_finish(&c);
    }
    if (buf.raw) fz_buffer_free(&buf);
    return 0;
}
