/*
 * libFuzzer target: the system allocator against the reference model (fuzz_model.h).
 *
 * Its blocks are the platform's, so the model checks what the allocator promises about
 * them: aligned, not overlapping each other, exactly accounted against the budget. The
 * budget (capacity) is fuzzed between 4 KiB and 2 MiB so that every accepted request can
 * be written in full; a create with a buffer must fail, one with budget 0 gets the
 * machine's memory and is only created and destroyed.
 *
 * The oracle restates the contract at the top of src/allocators/system.c: below the
 * large threshold (max(256 KiB, page)) and with an alignment below the page, a block
 * consumes size rounded up to max(alignment, sizeof(void *)) from the heap, all of it
 * usable; otherwise whole pages plus alignment - page extra for alignments above a page,
 * usable from the aligned block to the mapping's end. A block that would take used_bytes
 * past the budget is FL_ERR_OUT_OF_MEMORY; largest_free_block is the remaining budget
 * rounded down to a word (to a page from the threshold on). Exactly the live block starts
 * free, are owned and have a usable size.
 */
#include "fuzz_model.h"

#define LARGE_THRESHOLD ((size_t)256 * 1024)

static size_t system_page, system_threshold;

static fz_expect system_allocate(const fz_ctx *c, size_t size, size_t alignment)
{
    size_t consumed, extra = 0, heap_align = alignment < sizeof(void *) ? sizeof(void *) : alignment;
    bool mapped = !(size < system_threshold && alignment < system_page);
    if (!mapped) {
        consumed = (size + heap_align - 1u) & ~(heap_align - 1u);
    } else {
        extra = alignment > system_page ? alignment - system_page : 0;
        if (size > SIZE_MAX - (system_page - 1u)) return fz_expect_status(FL_ERR_OUT_OF_MEMORY);
        consumed = (size + system_page - 1u) & ~(system_page - 1u);
        if (consumed > SIZE_MAX - extra) return fz_expect_status(FL_ERR_OUT_OF_MEMORY);
        consumed += extra;
    }
    if (consumed > c->capacity - c->m.used) return fz_expect_status(FL_ERR_OUT_OF_MEMORY);
    /* A mapped block's usable bytes start where its alignment put it: 0..extra in. */
    return fz_expect_ok(consumed, consumed, 0, mapped ? 0 : consumed);
}

static fl_status system_free(const fz_ctx *c, uintptr_t p, long live, fz_effect *effect, long *index)
{
    (void)c, (void)p;
    if (live < 0) return FL_ERR_INVALID_PARAMETERS;
    *effect = FZ_REMOVE;
    *index = live;
    return FL_OK;
}

static fl_status system_usable(const fz_ctx *c, uintptr_t p, long live, size_t *value)
{
    (void)p;
    if (live < 0) return FL_ERR_INVALID_PARAMETERS;
    *value = c->m.blocks[live].usable;
    return FL_OK;
}

static bool system_largest_ok(const fz_ctx *c, size_t largest)
{
    size_t left = c->capacity - c->m.used;
    size_t unit = left < system_threshold ? sizeof(void *) : system_page;
    return largest == (left & ~(unit - 1u));
}

static void system_check_block(const fz_ctx *c, const fz_block *b)
{
    (void)c;
    if (b->usable == b->consumed) return; /* a heap block, or a mapped one at its mapping's start */
    size_t head = b->consumed - b->usable;
    FZ_CHECK(b->usable < b->consumed && head % system_page == 0 && b->consumed % system_page == 0,
             "system block %p: usable %zu of %zu consumed bytes is not the tail of whole pages", (void *)b->ptr,
             b->usable, b->consumed);
}

static const fz_target system_target = {
    .name = "system",
    .type = FL_ALLOCATOR_SYSTEM,
    .in_area = false,
    .address_order = false,
    .walk_per_block = true,
    .frag = FZ_FRAG_ZERO,
    .overhead = 0,
    .expect_allocate = system_allocate,
    .expect_free = system_free,
    .expect_usable = system_usable,
    .largest_free_ok = system_largest_ok,
    .check_block = system_check_block,
    .expect_mark = NULL,
    .expect_rewind = NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool bad_creates_done;
    if (!bad_creates_done) {
        fz_bad_creates(FL_ALLOCATOR_SYSTEM);
        const fl_platform_hooks *platform = fl_platform_default();
        system_page = platform->page_size ? platform->page_size(platform->user) : FL_ALIGN_PAGE;
        system_threshold = system_page > LARGE_THRESHOLD ? system_page : LARGE_THRESHOLD;
        bad_creates_done = true;
    }
    fz_input in = {data, size, 0};
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = FL_ALLOCATOR_SYSTEM;
    uint8_t flags = fz_u8(&in);
    cfg.thread_safe = (flags & 1u) != 0;
    cfg.name = flags & 2u ? "fuzz heap" : NULL;
    cfg.size = 4096u + fz_u32(&in) % (2u << 20);
    unsigned char some_buffer[256];
    int want = FL_OK;
    switch ((flags >> 2) & 15u) {
    case 0:
        cfg.buffer = some_buffer; /* the system allocator takes no buffer */
        cfg.size = sizeof some_buffer;
        want = FL_ERR_INVALID_PARAMETERS;
        break;
    case 1: cfg.size = 0; break; /* the machine's memory: create and destroy only */
    default: break;
    }
    fz_ctx c;
    if (fz_start(&c, &system_target, &cfg, want, &in)) {
        if (cfg.size != 0) fz_run(&c);
        fz_finish(&c);
    }
    return 0;
}
