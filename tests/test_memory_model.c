/*
 * The memory interface against a reference model: >= harness_scaled(1 000 000) random
 * operations over every type (allocate, typed, tagged requests, fallback, frees, LIFO stack
 * frees, reallocations, frame marks and rewinds, wrong frees), each live block carrying a
 * byte pattern checked before it goes, statistics compared with the model continuously and
 * fl_memory_validate every few thousand operations and after each phase.
 */
#include "memory_test_util.h"

#define MAX_LIVE 2048

typedef struct block {
    unsigned char *ptr;
    size_t size, usable;
    fl_memory_type type;
    uint64_t id, seq;
    const char *tag;
} block;

static block live[MAX_LIVE];
static size_t live_count;
static uint64_t next_id = 1, next_seq = 1;
static uint64_t model_allocs, model_frees, model_failed;
static size_t model_count[FL_MEMORY_TYPE_COUNT];
static size_t model_pool_bytes;
static uint64_t frame_mark_seq[FL_MEMORY_TYPE_COUNT];
static fl_marker frame_mark[FL_MEMORY_TYPE_COUNT];

static const char *const tags[] = {"textures", "sounds", "entities", "network"};

static void remember(const fl_allocation *a, size_t size, const char *tag)
{
    CHECK(live_count < MAX_LIVE);
    block *b = &live[live_count++];
    b->ptr = a->ptr;
    b->size = size;
    b->usable = a->size;
    b->type = a->type;
    b->id = next_id++;
    b->seq = next_seq++;
    b->tag = tag;
    harness_fill(b->ptr, b->usable, b->id);
    model_allocs++;
    model_count[a->type]++;
    if (a->type == FL_MEMORY_POOL) model_pool_bytes += a->size;
}

static void forget(size_t i)
{
    block *b = &live[i];
    model_count[b->type]--;
    if (b->type == FL_MEMORY_POOL) model_pool_bytes -= b->usable;
    model_frees++;
    live[i] = live[--live_count];
}

static void check_block(const block *b)
{
    CHECK_MSG(harness_pattern_ok(b->ptr, b->usable, b->id), "block %llu (%s, %zu bytes) was overwritten",
              (unsigned long long)b->id, fl_memory_type_str(b->type), b->usable);
}

/* The newest live block of the Stack type (the only one it may free). */
static long stack_top(void)
{
    long top = -1;
    for (size_t i = 0; i < live_count; i++)
        if (live[i].type == FL_MEMORY_STACK && (top < 0 || live[i].seq > live[top].seq)) top = (long)i;
    return top;
}

static void compare_with_model(fl_memory *m)
{
    fl_memory_stats g, t;
    CHECK_OK(fl_memory_get_stats(m, &g));
    CHECK_EQ_SIZE(g.allocation_count, live_count);
    CHECK(g.total_allocations == model_allocs && g.total_deallocations == model_frees);
    CHECK(g.failed_allocations == model_failed);
    for (int i = 0; i < FL_MEMORY_TYPE_COUNT; i++) {
        CHECK_OK(fl_memory_get_type_stats(m, (fl_memory_type)i, &t));
        CHECK_EQ_SIZE(t.allocation_count, model_count[i]);
        if (i == FL_MEMORY_POOL) CHECK_EQ_SIZE(t.used_bytes, model_pool_bytes);
    }
    check_identities(m);
}

static size_t random_size(harness_rng *rng, fl_memory_type t)
{
    if (t == FL_MEMORY_POOL) return harness_range(rng, 1, 256);
    unsigned r = (unsigned)harness_range(rng, 0, 99);
    if (r < 70) return harness_range(rng, 1, 256);
    if (r < 95) return harness_range(rng, 257, 4096);
    return harness_range(rng, 4097, 24 * 1024);
}

static fl_memory_type random_type(harness_rng *rng)
{
    static const fl_memory_type types[] = {FL_MEMORY_SYSTEM, FL_MEMORY_VIDEO, FL_MEMORY_AUDIO,   FL_MEMORY_NETWORK,
                                           FL_MEMORY_TEMPORARY, FL_MEMORY_STACK, FL_MEMORY_POOL, FL_MEMORY_POOL};
    return types[harness_range(rng, 0, 7)];
}

static void op_allocate(fl_memory *m, harness_rng *rng)
{
    fl_memory_type t = random_type(rng);
    size_t size = random_size(rng, t);
    size_t align = (size_t)1 << harness_range(rng, 0, 6);
    unsigned how = (unsigned)harness_range(rng, 0, 9);
    fl_allocation a;
    fl_status st;
    const char *tag = NULL;
    if (how < 6) {
        st = fl_memory_allocate_typed(m, size, t, align, how == 0 ? FL_FLAG_ZERO : 0, &a);
    } else if (how < 8) {
        st = fl_memory_allocate(m, size, align, &a);
    } else {
        fl_alloc_request r = fl_make_allocation_request(size, t == FL_MEMORY_STACK ? FL_MEMORY_SYSTEM : t, align,
                                                        how == 9 ? FL_FLAG_CRITICAL : 0);
        r.allow_fallback = t != FL_MEMORY_TEMPORARY; /* fallback out of Temporary would escape rewinds */
        r.tag = tag = tags[harness_range(rng, 0, 3)];
        st = fl_memory_allocate_request(m, &r, &a);
        if (st != FL_OK) tag = NULL;
    }
    if (st == FL_OK) {
        CHECK(a.size >= size && ((uintptr_t)a.ptr & (align - 1)) == 0);
        if (how == 0) {
            for (size_t i = 0; i < a.size; i++) CHECK(((unsigned char *)a.ptr)[i] == 0);
        }
        remember(&a, size, tag);
    } else {
        CHECK_STATUS(st, FL_ERR_OUT_OF_MEMORY);
        model_failed++;
    }
}

static void op_free(fl_memory *m, harness_rng *rng)
{
    if (live_count == 0) return;
    size_t i = harness_range(rng, 0, live_count - 1);
    if (live[i].type == FL_MEMORY_STACK) {
        long top = stack_top();
        if ((size_t)top != i) {
            fl_memory_stats before, after;
            CHECK_OK(fl_memory_get_stats(m, &before));
            CHECK_STATUS(fl_memory_deallocate(m, live[i].ptr), FL_ERR_INVALID_STATE);
            CHECK_OK(fl_memory_get_stats(m, &after));
            CHECK(stats_equal(&before, &after));
            i = (size_t)top;
        }
    }
    block b = live[i];
    check_block(&b);
    /* Popping the stack below its marker makes the marker stale (API.md): drop it. */
    if (b.type == FL_MEMORY_STACK && b.seq < frame_mark_seq[FL_MEMORY_STACK]) frame_mark_seq[FL_MEMORY_STACK] = 0;
    if (b.tag) {
        const char *tag = NULL;
        CHECK_OK(fl_memory_get_allocation_tag(m, b.ptr, &tag));
        CHECK(tag == b.tag);
    }
    if (b.usable > 1 && harness_range(rng, 0, 15) == 0)
        CHECK_STATUS(fl_memory_deallocate(m, b.ptr + 1), FL_ERR_INVALID_PARAMETERS);
    CHECK_OK(fl_memory_deallocate(m, b.ptr));
    forget(i);
    if (harness_range(rng, 0, 15) == 0) {
        CHECK(!fl_memory_is_valid_pointer(m, b.ptr));
        CHECK_STATUS(fl_memory_deallocate(m, b.ptr), FL_ERR_INVALID_PARAMETERS);
    }
}

static void op_reallocate(fl_memory *m, harness_rng *rng)
{
    if (live_count == 0) return;
    size_t i = harness_range(rng, 0, live_count - 1);
    block *b = &live[i];
    if (b->type == FL_MEMORY_STACK || b->type == FL_MEMORY_TEMPORARY) return;
    check_block(b);
    size_t new_size = random_size(rng, b->type == FL_MEMORY_POOL ? FL_MEMORY_SYSTEM : b->type);
    fl_allocation a;
    fl_status st = fl_memory_reallocate(m, b->ptr, new_size, &a);
    if (st != FL_OK) {
        CHECK_STATUS(st, FL_ERR_OUT_OF_MEMORY);
        model_failed++;
        check_block(b);
        return;
    }
    size_t kept = b->usable < new_size ? b->usable : new_size;
    CHECK(harness_pattern_ok(a.ptr, kept, b->id));
    if (a.ptr == b->ptr) {
        CHECK_EQ_SIZE(a.size, b->usable);
        return;
    }
    /* Moved: one allocation and one free, in the model too. */
    const char *tag = b->tag;
    forget(i);
    remember(&a, new_size, tag);
}

static void op_info(fl_memory *m, harness_rng *rng)
{
    if (live_count == 0) return;
    block *b = &live[harness_range(rng, 0, live_count - 1)];
    fl_allocation info;
    CHECK_OK(fl_memory_get_allocation_info(m, b->ptr, &info));
    CHECK_EQ_SIZE(info.size, b->usable);
    CHECK(info.type == b->type);
    CHECK(fl_memory_is_valid_pointer(m, b->ptr));
}

static void op_frame(fl_memory *m, harness_rng *rng)
{
    fl_memory_type t = harness_range(rng, 0, 1) ? FL_MEMORY_TEMPORARY : FL_MEMORY_STACK;
    if (frame_mark_seq[t] == 0 || harness_range(rng, 0, 2) == 0) {
        frame_mark[t] = fl_memory_mark(m, t);
        frame_mark_seq[t] = next_seq;
        return;
    }
    /* Rewind: every block of t made since the mark goes. */
    CHECK_OK(fl_memory_rewind(m, t, frame_mark[t]));
    for (size_t i = 0; i < live_count;) {
        if (live[i].type == t && live[i].seq >= frame_mark_seq[t]) {
            CHECK(!fl_memory_is_valid_pointer(m, live[i].ptr));
            forget(i);
        } else {
            i++;
        }
    }
    frame_mark_seq[t] = 0;
}

static unsigned pressure_calls;
static void count_pressure(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    (void)level; (void)info; (void)user;
    pressure_calls++;
}

static fl_memory_config model_config(void)
{
    fl_memory_config c = small_config();
    c.capacity[FL_MEMORY_SYSTEM] = 2 * MIB;
    c.capacity[FL_MEMORY_POOL] = 512 * KIB;
    c.capacity[FL_MEMORY_TEMPORARY] = 512 * KIB;
    c.capacity[FL_MEMORY_STACK] = 128 * KIB;
    c.capacity[FL_MEMORY_NETWORK] = 128 * KIB;
    c.capacity[FL_MEMORY_VIDEO] = 512 * KIB;
    c.capacity[FL_MEMORY_AUDIO] = 256 * KIB;
    c.max_records = 4096;
    return c;
}

static void run_phase(fl_memory *m, harness_rng *rng, uint64_t ops, unsigned free_bias)
{
    for (uint64_t op = 0; op < ops; op++) {
        unsigned r = (unsigned)harness_range(rng, 0, 99);
        if (live_count >= MAX_LIVE - 2 || r < free_bias) op_free(m, rng);
        else if (r < free_bias + 40) op_allocate(m, rng);
        else if (r < free_bias + 45) op_reallocate(m, rng);
        else if (r < free_bias + 48) op_frame(m, rng);
        else op_info(m, rng);
        if (op % 997 == 0) compare_with_model(m);
        if (op % 5000 == 0) CHECK_OK(fl_memory_validate(m));
    }
    CHECK_OK(fl_memory_validate(m));
    compare_with_model(m);
}

static void test_model(void)
{
    fl_memory_config c = model_config();
    fl_memory *m = make_memory(&c);
    uint32_t id;
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_MEDIUM, count_pressure, NULL, &id));
    harness_rng rng = harness_rng_seeded("memory model", 0xF11647);
    uint64_t total = harness_scaled(1000000);
    /* Phases: balanced, filling (pressure and failures), draining. */
    run_phase(m, &rng, total / 2, 40);
    run_phase(m, &rng, total / 4, 20);
    run_phase(m, &rng, total / 4, 60);
    printf("memory model: %llu allocations, %llu frees, %llu refused, %zu live, %u pressure calls\n",
           (unsigned long long)model_allocs, (unsigned long long)model_frees, (unsigned long long)model_failed,
           live_count, pressure_calls);
    CHECK(model_failed > 0 && pressure_calls > 0);
    while (live_count > 0) {
        long top = stack_top();
        size_t i = top >= 0 ? (size_t)top : live_count - 1;
        check_block(&live[i]);
        CHECK_OK(fl_memory_deallocate(m, live[i].ptr));
        forget(i);
    }
    compare_with_model(m);
    fl_memory_stats g;
    CHECK_OK(fl_memory_get_stats(m, &g));
    CHECK_EQ_SIZE(g.allocation_count, 0);
    CHECK_OK(fl_memory_rewind(m, FL_MEMORY_TEMPORARY, (fl_marker){0, 0, 0}));
    CHECK_OK(fl_memory_get_stats(m, &g));
    CHECK_EQ_SIZE(g.used_bytes, 0);
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

int main(void)
{
    RUN(test_model);
    return harness_finish();
}
