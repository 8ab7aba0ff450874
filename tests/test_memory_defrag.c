/*
 * fl_memory_defragment and fl_memory_defragment_allocator (src/memory/defrag.c): a region
 * fragmented with relocatable blocks until a large request fails is compacted, after which
 * the same request succeeds; every block keeps its contents; on_relocate runs once per
 * moved block with the right old/new/size, after the bytes are in place and outside the
 * lock (it calls back into the interface); plain blocks never move; progress never
 * decreases and ends at exactly 1.0; the result's fields match the statistics before and
 * after; counters, identities and fl_memory_validate hold; pointer queries follow the
 * move. The Video/Audio buddy regions keep their bookkeeping outside the region and copy
 * through the configuration's relocate_copy. Unsupported strategies and bad input, and a
 * randomized run against a model with a defragmentation every few thousand operations,
 * and defragmentations while two other threads allocate and free plain blocks in the same
 * regions (run under ThreadSanitizer too: the file starts threads).
 */
#define _POSIX_C_SOURCE 200809L /* fork, waitpid */

#include "memory_test_util.h"
#include "platform_caps.h"

#include <pthread.h>
#if CAPS_FORK
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

/* ---- blocks the tests own ------------------------------------------------------------- */

typedef struct block {
    void *ptr;
    size_t size; /* as allocated (the bytes on_relocate reports) */
    uint64_t id;
    bool relocatable;
    bool live;
    size_t moves;
} block;

/* Every on_relocate call, in order. */
#define LOG_MAX 4096
typedef struct move_event {
    void *old_ptr, *new_ptr;
    size_t size;
    block *b;
} move_event;

static struct {
    fl_memory *m;
    move_event events[LOG_MAX];
    size_t count;
    bool check_bytes; /* the pattern must already be at new (bytes in place before the call) */
    block *free_in_callback; /* this block is freed by its own on_relocate */
} relog;

static void on_move(void *old_ptr, void *new_ptr, size_t size, void *user)
{
    block *b = user;
    CHECK(relog.count < LOG_MAX);
    relog.events[relog.count++] = (move_event){old_ptr, new_ptr, size, b};
    CHECK(b->ptr == old_ptr);
    /* The usable size before this move: what was allocated, or more once an earlier move
     * grew a free-list block by a few bytes (get_allocation_info says the same). */
    CHECK(size >= b->size && size - b->size <= 64);
    CHECK((uintptr_t)new_ptr < (uintptr_t)old_ptr); /* compaction moves down */
    if (relog.check_bytes) CHECK(harness_pattern_ok(new_ptr, b->size, b->id));
    b->ptr = new_ptr;
    b->moves++;
    if (relog.m != NULL) {
        /* Outside the lock: the interface answers (a thread-safe one would deadlock). */
        CHECK(fl_memory_is_valid_pointer(relog.m, new_ptr));
        if (b == relog.free_in_callback) {
            CHECK_OK(fl_memory_deallocate(relog.m, new_ptr));
            b->live = false;
        }
    }
}

/* Every progress call, in order. */
#define PROGRESS_MAX 4096
static struct {
    size_t moved[PROGRESS_MAX], total[PROGRESS_MAX];
    double progress[PROGRESS_MAX];
    size_t count;
    fl_memory *m; /* when set, the callback reads statistics (outside the lock) */
} prog;

static void on_progress(size_t moved, size_t total, double progress, void *user)
{
    CHECK(user == &prog);
    CHECK(prog.count < PROGRESS_MAX);
    prog.moved[prog.count] = moved;
    prog.total[prog.count] = total;
    prog.progress[prog.count] = progress;
    prog.count++;
    if (prog.m != NULL) {
        fl_memory_stats s;
        CHECK_OK(fl_memory_get_stats(prog.m, &s));
    }
}

static void reset_logs(fl_memory *m)
{
    memset(&relog, 0, sizeof relog);
    memset(&prog, 0, sizeof prog);
    relog.m = m;
    relog.check_bytes = true;
    prog.m = m;
}

/* Progress: never decreasing, totals constant, ends at exactly 1.0 with moved == the
 * result's bytes. */
static void check_progress(size_t total, const fl_defrag_result *res)
{
    CHECK(prog.count >= 1);
    for (size_t i = 0; i < prog.count; i++) {
        CHECK_EQ_SIZE(prog.total[i], total);
        CHECK(prog.progress[i] >= 0.0 && prog.progress[i] <= 1.0);
        if (i > 0) {
            CHECK(prog.progress[i] >= prog.progress[i - 1]);
            CHECK(prog.moved[i] >= prog.moved[i - 1]);
        }
    }
    CHECK(prog.progress[prog.count - 1] == 1.0);
    CHECK_EQ_SIZE(prog.moved[prog.count - 1], res->bytes_moved);
}

/* 100 * ratio as a double (a double variable drops x87's excess precision; the library
 * stores its percentage the same way). */
static double percent(double ratio)
{
    double p = 100.0 * ratio;
    return p;
}

/* The result against the on_relocate log. */
static void check_result_against_log(const fl_defrag_result *res)
{
    size_t bytes = 0;
    for (size_t i = 0; i < relog.count; i++) bytes += relog.events[i].size;
    CHECK_EQ_SIZE(res->allocations_moved, relog.count);
    CHECK_EQ_SIZE(res->bytes_moved, bytes);
}

static fl_status allocate_block(fl_memory *m, block *b, size_t size, fl_memory_type type, bool relocatable, uint64_t id)
{
    fl_alloc_request r = fl_make_allocation_request(size, type, 0, relocatable ? FL_FLAG_RELOCATABLE : 0);
    if (relocatable) {
        r.on_relocate = on_move;
        r.relocate_user = b;
    }
    fl_allocation a;
    fl_status st = fl_memory_allocate_request(m, &r, &a);
    if (st != FL_OK) return st;
    b->ptr = a.ptr;
    b->size = a.size;
    b->id = id;
    b->relocatable = relocatable;
    b->live = true;
    b->moves = 0;
    harness_fill(a.ptr, a.size, id);
    return FL_OK;
}

static size_t live_relocatable_bytes(const block *blocks, size_t n, fl_memory_type type, fl_memory *m)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!blocks[i].live || !blocks[i].relocatable) continue;
        fl_allocation info;
        CHECK_OK(fl_memory_get_allocation_info(m, blocks[i].ptr, &info));
        if (info.type == type) total += info.size; /* the record's size: grown by earlier moves, if any */
    }
    return total;
}

/* Every live block: its contents, and the queries name it by its current pointer. */
static void check_blocks(fl_memory *m, const block *blocks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const block *b = &blocks[i];
        if (!b->live) continue;
        CHECK_MSG(harness_pattern_ok(b->ptr, b->size, b->id), "block %zu (id %llu) lost its contents", i,
                  (unsigned long long)b->id);
        fl_allocation info;
        CHECK_OK(fl_memory_get_allocation_info(m, b->ptr, &info));
        CHECK(info.ptr == b->ptr && info.size >= b->size);
        CHECK(((info.flags & FL_FLAG_RELOCATABLE) != 0) == b->relocatable);
        CHECK((uintptr_t)b->ptr % info.alignment == 0);
    }
}

/* The old pointers of the moves are no longer allocations, unless a later move put a
 * block there. */
static void check_old_pointers(fl_memory *m, const block *blocks, size_t n)
{
    for (size_t e = 0; e < relog.count; e++) {
        void *old = relog.events[e].old_ptr;
        bool reused = false;
        for (size_t i = 0; i < n; i++) reused = reused || (blocks[i].live && blocks[i].ptr == old);
        CHECK(fl_memory_is_valid_pointer(m, old) == reused);
        if (!reused) {
            fl_allocation info;
            CHECK_STATUS(fl_memory_get_allocation_info(m, old, &info), FL_ERR_INVALID_PARAMETERS);
        }
    }
}

/* Defragmentation moves nothing that counts: only used bytes may grow (free list). */
static void check_counts_kept(const fl_memory_stats *before, const fl_memory_stats *after)
{
    CHECK(after->allocation_count == before->allocation_count);
    CHECK(after->total_allocations == before->total_allocations);
    CHECK(after->total_deallocations == before->total_deallocations);
    CHECK(after->failed_allocations == before->failed_allocations);
    CHECK(after->used_bytes >= before->used_bytes);
    CHECK(after->used_bytes - before->used_bytes <= 64 * after->allocation_count); /* a few bytes each at most */
    CHECK(after->allocation_efficiency == before->allocation_efficiency);
}

/* ---- the free list (System) ------------------------------------------------------------- */

#define SYS_BLOCKS 400

static void test_free_list_compaction(void)
{
    fl_memory_config c = small_config();
    c.thread_safe = true; /* the callbacks call in: they must run outside the lock */
    c.max_records = 1024;
    fl_memory *m = make_memory(&c);
    static block blocks[SYS_BLOCKS];
    memset(blocks, 0, sizeof blocks);
    harness_rng rng = harness_rng_seeded("free list compaction", 424242u);

    /* Fill System: the first three and one in the middle are plain (they must not move). */
    size_t n = 0;
    while (n < SYS_BLOCKS) {
        bool fixed = n < 3 || n == 40;
        size_t size = harness_range(&rng, 1 * KIB, 12 * KIB);
        if (allocate_block(m, &blocks[n], size, FL_MEMORY_SYSTEM, !fixed, n + 1) != FL_OK) break;
        n++;
    }
    while (n < SYS_BLOCKS && allocate_block(m, &blocks[n], 300, FL_MEMORY_SYSTEM, true, n + 1) == FL_OK) n++;
    CHECK(n > 60 && n < SYS_BLOCKS);
    void *fixed_at[SYS_BLOCKS];
    for (size_t i = 0; i < n; i++) fixed_at[i] = blocks[i].ptr;

    /* Free every other relocatable block: holes of at most 12 KiB each. */
    for (size_t i = 3; i < n; i += 2) {
        if (!blocks[i].relocatable) continue;
        CHECK_OK(fl_memory_deallocate(m, blocks[i].ptr));
        blocks[i].live = false;
    }
    fl_memory_stats before;
    CHECK_OK(fl_memory_get_stats(m, &before));
    fl_memory_stats sys_before;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_SYSTEM, &sys_before));
    CHECK(sys_before.free_bytes > 300 * KIB);
    const size_t large = 200 * KIB;
    fl_allocation big;
    CHECK_STATUS(fl_memory_allocate_typed(m, large, FL_MEMORY_SYSTEM, 0, 0, &big), FL_ERR_OUT_OF_MEMORY);
    CHECK_OK(fl_memory_get_stats(m, &before)); /* that failure counted */

    size_t total = live_relocatable_bytes(blocks, n, FL_MEMORY_SYSTEM, m);
    reset_logs(m);
    fl_defrag_result res;
    memset(&res, 0xEE, sizeof res);
    CHECK_OK(fl_memory_defragment_allocator(m, FL_ALLOCATOR_FREELIST, on_progress, &prog, &res));
    relog.m = NULL;
    prog.m = NULL;

    /* Moves: once each, relocatable only, the right old/new/size (on_move checked them). */
    CHECK(relog.count > 10);
    for (size_t i = 0; i < n; i++) {
        CHECK(blocks[i].moves <= 1);
        if (!blocks[i].relocatable) CHECK(blocks[i].ptr == fixed_at[i] && blocks[i].moves == 0);
    }
    check_result_against_log(&res);
    check_progress(total, &res);
    CHECK(prog.count >= relog.count); /* one report per relocatable allocation examined */
    check_blocks(m, blocks, n);
    check_old_pointers(m, blocks, n);

    /* The result's shape is the strategy's statistics, before and after. */
    CHECK(res.largest_free_after > res.largest_free_before);
    CHECK(res.fragmentation_after < res.fragmentation_before);
    fl_allocator_stats fls;
    CHECK_OK(fl_memory_get_allocator_stats(m, FL_ALLOCATOR_FREELIST, &fls));
    CHECK_EQ_SIZE(res.largest_free_after, fls.largest_free_block);
    CHECK(res.fragmentation_after == percent(fls.fragmentation_ratio));
    CHECK(res.largest_free_after >= large);

    fl_memory_stats after;
    CHECK_OK(fl_memory_get_stats(m, &after));
    check_counts_kept(&before, &after);
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);

    /* The request that failed now succeeds. */
    CHECK_OK(fl_memory_allocate_typed(m, large, FL_MEMORY_SYSTEM, 0, 0, &big));
    harness_fill(big.ptr, big.size, 999999);
    check_blocks(m, blocks, n);
    CHECK_OK(fl_memory_deallocate(m, big.ptr));

    /* A second pass finds everything as low as it goes. */
    reset_logs(m);
    CHECK_OK(fl_memory_defragment(m, on_progress, &prog, &res));
    CHECK_EQ_SIZE(res.allocations_moved, 0);
    CHECK_EQ_SIZE(relog.count, 0);
    CHECK(prog.progress[prog.count - 1] == 1.0);

    for (size_t i = 0; i < n; i++)
        if (blocks[i].live) CHECK_OK(fl_memory_deallocate(m, blocks[i].ptr));
    CHECK_OK(fl_memory_get_stats(m, &after));
    CHECK_EQ_SIZE(after.used_bytes, 0);
    CHECK_EQ_SIZE(after.allocation_count, 0);
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

/* The whole interface's result matches fl_memory_get_stats, and the callbacks may free and
 * allocate: here one block frees itself from its own on_relocate. */
static void test_whole_interface_and_reentrant_callbacks(void)
{
    fl_memory_config c = small_config();
    c.thread_safe = true;
    fl_memory *m = make_memory(&c);
    static block blocks[64];
    memset(blocks, 0, sizeof blocks);
    for (size_t i = 0; i < 32; i++) CHECK_OK(allocate_block(m, &blocks[i], 8 * KIB, FL_MEMORY_SYSTEM, true, 500 + i));
    for (size_t i = 32; i < 44; i++) CHECK_OK(allocate_block(m, &blocks[i], 4 * KIB, FL_MEMORY_NETWORK, true, 500 + i));
    for (size_t i = 0; i < 44; i += 2) {
        CHECK_OK(fl_memory_deallocate(m, blocks[i].ptr));
        blocks[i].live = false;
    }
    fl_memory_stats before;
    CHECK_OK(fl_memory_get_stats(m, &before));
    reset_logs(m);
    relog.free_in_callback = &blocks[33]; /* the first live Network block moves, then frees itself */
    fl_defrag_result res;
    CHECK_OK(fl_memory_defragment(m, on_progress, &prog, &res));
    relog.m = NULL;
    prog.m = NULL;
    CHECK_EQ_SIZE(res.largest_free_before, before.largest_free_block);
    CHECK(res.fragmentation_before == before.fragmentation_pct);
    fl_memory_stats after;
    CHECK_OK(fl_memory_get_stats(m, &after));
    CHECK_EQ_SIZE(res.largest_free_after, after.largest_free_block);
    CHECK(res.fragmentation_after == after.fragmentation_pct);
    CHECK(!blocks[33].live && blocks[33].moves == 1);
    CHECK(after.allocation_count == before.allocation_count - 1);
    CHECK(after.total_deallocations == before.total_deallocations + 1);
    /* Both free-list regions were compacted (System and Network). */
    size_t sys_moves = 0, net_moves = 0;
    for (size_t i = 0; i < relog.count; i++) {
        fl_allocation info;
        block *b = relog.events[i].b;
        if (!b->live) {
            net_moves++;
            continue;
        }
        CHECK_OK(fl_memory_get_allocation_info(m, b->ptr, &info));
        if (info.type == FL_MEMORY_SYSTEM) sys_moves++;
        if (info.type == FL_MEMORY_NETWORK) net_moves++;
    }
    CHECK(sys_moves > 0 && net_moves > 0);
    check_result_against_log(&res);
    check_blocks(m, blocks, 44);
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
    for (size_t i = 0; i < 44; i++)
        if (blocks[i].live) CHECK_OK(fl_memory_deallocate(m, blocks[i].ptr));
    fl_memory_destroy(m);
}

/* ---- the buddy in external mode (Video, Audio) ----------------------------------------------- */

static size_t copies, copied_bytes;
static void counting_copy(void *dst, const void *src, size_t size, void *user)
{
    CHECK(user == &copies);
    CHECK((uintptr_t)dst + size <= (uintptr_t)src || (uintptr_t)src + size <= (uintptr_t)dst); /* disjoint */
    copies++;
    copied_bytes += size;
    memcpy(dst, src, size);
}

/* Video and Audio keep no byte of bookkeeping in their memory: whatever the blocks held
 * stays, however they are split, freed and merged. */
static void test_video_bookkeeping_outside(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    fl_memory_type types[2] = {FL_MEMORY_VIDEO, FL_MEMORY_AUDIO};
    for (int k = 0; k < 2; k++) {
        fl_memory_type t = types[k];
        fl_memory_stats s;
        CHECK_OK(fl_memory_get_type_stats(m, t, &s));
        CHECK_EQ_SIZE(s.total_bytes, c.capacity[t]); /* the whole region is usable memory */
        fl_allocation whole;
        CHECK_OK(fl_memory_allocate_typed(m, c.capacity[t], t, 0, 0, &whole));
        memset(whole.ptr, 0x3C, whole.size);
        CHECK_OK(fl_memory_deallocate(m, whole.ptr));
        fl_allocation parts[64];
        size_t unit = c.capacity[t] / 64;
        for (int i = 0; i < 64; i++) CHECK_OK(fl_memory_allocate_typed(m, unit, t, 0, 0, &parts[i]));
        for (int i = 0; i < 64; i += 2) CHECK_OK(fl_memory_deallocate(m, parts[i].ptr));
        for (int i = 0; i < 64; i += 4) CHECK_OK(fl_memory_allocate_typed(m, unit, t, 0, 0, &parts[i]));
        for (int i = 0; i < 64; i++)
            if (i % 2 == 1 || i % 4 == 0) CHECK_OK(fl_memory_deallocate(m, parts[i].ptr));
        CHECK_OK(fl_memory_allocate_typed(m, c.capacity[t], t, 0, 0, &whole));
        const unsigned char *bytes = whole.ptr;
        for (size_t i = 0; i < whole.size; i++) CHECK(bytes[i] == 0x3C);
        CHECK_OK(fl_memory_deallocate(m, whole.ptr));
    }
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

static void test_buddy_compaction_through_copy_hook(void)
{
    fl_memory_config c = small_config();
    c.relocate_copy = counting_copy;
    c.relocate_copy_user = &copies;
    fl_memory *m = make_memory(&c);
    copies = copied_bytes = 0;
    static block blocks[96];
    memset(blocks, 0, sizeof blocks);
    /* Video (256 KiB, 256-byte units): 64 blocks of 4 KiB, block 1 plain. */
    for (size_t i = 0; i < 64; i++) CHECK_OK(allocate_block(m, &blocks[i], 4 * KIB, FL_MEMORY_VIDEO, i != 1, 10 + i));
    /* Audio (128 KiB): 32 blocks of 4 KiB. */
    for (size_t i = 64; i < 96; i++) CHECK_OK(allocate_block(m, &blocks[i], 4 * KIB, FL_MEMORY_AUDIO, true, 10 + i));
    void *fixed = blocks[1].ptr;
    for (size_t i = 2; i < 96; i += 2) {
        CHECK_OK(fl_memory_deallocate(m, blocks[i].ptr));
        blocks[i].live = false;
    }
    fl_allocation big;
    CHECK_STATUS(fl_memory_allocate_typed(m, 64 * KIB, FL_MEMORY_VIDEO, 0, 0, &big), FL_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(fl_memory_allocate_typed(m, 32 * KIB, FL_MEMORY_AUDIO, 0, 0, &big), FL_ERR_OUT_OF_MEMORY);
    fl_allocator_stats bs;
    CHECK_OK(fl_memory_get_allocator_stats(m, FL_ALLOCATOR_BUDDY, &bs));
    fl_memory_stats before;
    CHECK_OK(fl_memory_get_stats(m, &before));
    size_t total = live_relocatable_bytes(blocks, 96, FL_MEMORY_VIDEO, m) +
                   live_relocatable_bytes(blocks, 96, FL_MEMORY_AUDIO, m);

    reset_logs(m);
    fl_defrag_result res;
    CHECK_OK(fl_memory_defragment_allocator(m, FL_ALLOCATOR_BUDDY, on_progress, &prog, &res));
    relog.m = NULL;
    prog.m = NULL;
    check_result_against_log(&res);
    check_progress(total, &res);
    CHECK_EQ_SIZE(res.largest_free_before, bs.largest_free_block);
    CHECK(res.fragmentation_before == percent(bs.fragmentation_ratio));
    CHECK_OK(fl_memory_get_allocator_stats(m, FL_ALLOCATOR_BUDDY, &bs));
    CHECK_EQ_SIZE(res.largest_free_after, bs.largest_free_block);
    CHECK(res.fragmentation_after == percent(bs.fragmentation_ratio));
    /* Every byte went through the hook (the buddy never touches Video/Audio memory). */
    CHECK_EQ_SIZE(copies, res.allocations_moved);
    CHECK_EQ_SIZE(copied_bytes, res.bytes_moved);
    CHECK(res.allocations_moved > 20);
    CHECK(blocks[1].ptr == fixed && blocks[1].moves == 0);
    check_blocks(m, blocks, 96);
    check_old_pointers(m, blocks, 96);
    fl_memory_stats after;
    CHECK_OK(fl_memory_get_stats(m, &after));
    check_counts_kept(&before, &after);
    CHECK_EQ_SIZE(after.used_bytes, before.used_bytes); /* buddy blocks keep their size */
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);

    fl_allocation v, a;
    CHECK_OK(fl_memory_allocate_typed(m, 64 * KIB, FL_MEMORY_VIDEO, 0, 0, &v));
    CHECK_OK(fl_memory_allocate_typed(m, 32 * KIB, FL_MEMORY_AUDIO, 0, 0, &a));
    CHECK_OK(fl_memory_deallocate(m, v.ptr));
    CHECK_OK(fl_memory_deallocate(m, a.ptr));

    /* The free list's moves do not use the hook: its allocator copies its own bytes. */
    size_t hook_calls = copies;
    block s[8];
    for (size_t i = 0; i < 8; i++) CHECK_OK(allocate_block(m, &s[i], 2 * KIB, FL_MEMORY_SYSTEM, true, 900 + i));
    for (size_t i = 0; i < 8; i += 2) {
        CHECK_OK(fl_memory_deallocate(m, s[i].ptr));
        s[i].live = false;
    }
    reset_logs(NULL);
    CHECK_OK(fl_memory_defragment(m, NULL, NULL, &res));
    CHECK(res.allocations_moved > 0);
    CHECK_EQ_SIZE(copies, hook_calls);
    check_blocks(m, s, 8);
    for (size_t i = 1; i < 8; i += 2) CHECK_OK(fl_memory_deallocate(m, s[i].ptr));
    for (size_t i = 0; i < 96; i++)
        if (blocks[i].live) CHECK_OK(fl_memory_deallocate(m, blocks[i].ptr));
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

/* The free-list and buddy handles relocate one allocation on request, record included. */
static void test_allocator_handles_relocate(void)
{
    fl_memory_config c = small_config();
    c.relocate_copy = counting_copy;
    c.relocate_copy_user = &copies;
    fl_memory *m = make_memory(&c);
    copies = copied_bytes = 0;
    const fl_allocator_type all[] = {FL_ALLOCATOR_LINEAR, FL_ALLOCATOR_STACK, FL_ALLOCATOR_POOL, FL_ALLOCATOR_BUDDY,
                                     FL_ALLOCATOR_FREELIST};
    for (size_t i = 0; i < 5; i++) {
        fl_allocator_stats st;
        CHECK_OK(fl_memory_get_allocator_stats(m, all[i], &st));
        CHECK(st.supports_defrag == (all[i] == FL_ALLOCATOR_BUDDY || all[i] == FL_ALLOCATOR_FREELIST));
    }
    fl_allocator *buddy, *freelist, *pool;
    CHECK_OK(fl_memory_get_allocator(m, FL_ALLOCATOR_BUDDY, &buddy));
    CHECK_OK(fl_memory_get_allocator(m, FL_ALLOCATOR_FREELIST, &freelist));
    CHECK_OK(fl_memory_get_allocator(m, FL_ALLOCATOR_POOL, &pool));

    /* Video (external buddy): a tagged plain block moves into the hole below it. */
    fl_alloc_request r = fl_make_allocation_request(4 * KIB, FL_MEMORY_VIDEO, 0, 0);
    r.tag = "tex";
    fl_allocation a, b;
    CHECK_OK(fl_memory_allocate_request(m, &r, &a));
    CHECK_OK(fl_memory_allocate_request(m, &r, &b));
    harness_fill(b.ptr, b.size, 4242);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    fl_memory_stats before;
    CHECK_OK(fl_memory_get_stats(m, &before));
    void *moved = NULL;
    CHECK_OK(fl_allocator_relocate(buddy, b.ptr, &moved));
    CHECK(moved == a.ptr);
    CHECK_EQ_SIZE(copies, 1);
    CHECK(harness_pattern_ok(moved, b.size, 4242));
    CHECK(!fl_memory_is_valid_pointer(m, b.ptr) && fl_memory_is_valid_pointer(m, moved));
    const char *tag = NULL;
    CHECK_OK(fl_memory_get_allocation_tag(m, moved, &tag));
    CHECK(tag != NULL && strcmp(tag, "tex") == 0);
    fl_memory_stats after;
    CHECK_OK(fl_memory_get_stats(m, &after));
    check_counts_kept(&before, &after);
    void *again = NULL;
    CHECK_OK(fl_allocator_relocate(buddy, moved, &again)); /* as low as it goes */
    CHECK(again == moved && copies == 1);

    /* System (free list): the same through its handle. */
    fl_allocation x, y;
    CHECK_OK(fl_memory_allocate_typed(m, 3000, FL_MEMORY_SYSTEM, 0, 0, &x));
    CHECK_OK(fl_memory_allocate_typed(m, 3000, FL_MEMORY_SYSTEM, 0, 0, &y));
    harness_fill(y.ptr, y.size, 4343);
    CHECK_OK(fl_memory_deallocate(m, x.ptr));
    CHECK_OK(fl_allocator_relocate(freelist, y.ptr, &moved));
    CHECK((uintptr_t)moved < (uintptr_t)y.ptr);
    CHECK(harness_pattern_ok(moved, y.size, 4343));
    CHECK_EQ_SIZE(copies, 1); /* the free list copies its own bytes */
    CHECK_OK(fl_memory_validate(m));

    /* Bad input changes nothing: foreign, freed, another strategy's, a pool's. */
    int local;
    CHECK_UNCHANGED(m, fl_allocator_relocate(freelist, &local, &again), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_allocator_relocate(freelist, y.ptr, &again), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_allocator_relocate(buddy, b.ptr, &again), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_allocator_relocate(freelist, a.ptr, &again), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_allocator_relocate(buddy, (unsigned char *)a.ptr + 256, &again), FL_ERR_INVALID_PARAMETERS);
    fl_allocation p;
    CHECK_OK(fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &p));
    CHECK_UNCHANGED(m, fl_allocator_relocate(pool, p.ptr, &again), FL_ERR_NOT_SUPPORTED);
    CHECK_OK(fl_memory_deallocate(m, p.ptr));
    CHECK_OK(fl_memory_deallocate(m, moved));
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
    fl_memory_destroy(m);
}

/* In backing memory too (the Dreamcast way): external control in the control part, the
 * Video region page-aligned, defragmentation with the default memmove copy. */
static void test_buddy_in_backing_memory(void)
{
    fl_memory_config c = small_config();
    size_t need;
    CHECK_OK(fl_memory_backing_size(&c, &need));
    unsigned char *raw = malloc(need + 1);
    CHECK(raw != NULL);
    c.backing_memory = raw + 1; /* deliberately misaligned */
    c.backing_size = need;
    fl_memory *m = make_memory(&c);
    fl_memory_region regions[16];
    size_t n = fl_memory_get_regions(m, regions, 16);
    for (size_t i = 0; i < n; i++)
        if (regions[i].type == FL_MEMORY_VIDEO) CHECK((uintptr_t)regions[i].base % FL_ALIGN_PAGE == 0);
    fl_memory_stats v;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_VIDEO, &v));
    CHECK_EQ_SIZE(v.total_bytes, c.capacity[FL_MEMORY_VIDEO]);
    CHECK_EQ_SIZE(v.largest_free_block, c.capacity[FL_MEMORY_VIDEO]);
    static block blocks[16];
    for (size_t i = 0; i < 16; i++)
        CHECK_OK(allocate_block(m, &blocks[i], 16 * KIB, FL_MEMORY_VIDEO, true, 70 + i));
    fl_allocation gpu;
    CHECK_STATUS(fl_memory_allocate_typed(m, 16 * KIB, FL_MEMORY_VIDEO, FL_ALIGN_PAGE, 0, &gpu), FL_ERR_OUT_OF_MEMORY);
    for (size_t i = 0; i < 16; i += 2) {
        CHECK_OK(fl_memory_deallocate(m, blocks[i].ptr));
        blocks[i].live = false;
    }
    reset_logs(NULL);
    fl_defrag_result res;
    CHECK_OK(fl_memory_defragment(m, NULL, NULL, &res));
    CHECK_EQ_SIZE(res.allocations_moved, 8); /* block 1 goes to 0, 3 to 1's old place, ... */
    check_blocks(m, blocks, 16);
    CHECK_OK(fl_memory_allocate_typed(m, 128 * KIB, FL_MEMORY_VIDEO, FL_ALIGN_PAGE, 0, &gpu));
    CHECK((uintptr_t)gpu.ptr % FL_ALIGN_PAGE == 0);
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
    free(raw);
}

/* ---- what never moves, and what is not supported ----------------------------------------- */

static void test_nothing_to_move(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    /* Relocatable allocations in regions that cannot move anything are not examined. */
    block p, t;
    CHECK_OK(allocate_block(m, &p, 48, FL_MEMORY_POOL, true, 1));
    CHECK_OK(allocate_block(m, &t, 1000, FL_MEMORY_TEMPORARY, true, 2));
    fl_memory_stats before;
    CHECK_OK(fl_memory_get_stats(m, &before));
    reset_logs(NULL);
    fl_defrag_result res;
    CHECK_OK(fl_memory_defragment(m, on_progress, &prog, &res));
    CHECK_EQ_SIZE(prog.count, 1);
    CHECK(prog.moved[0] == 0 && prog.total[0] == 0 && prog.progress[0] == 1.0);
    CHECK(res.bytes_moved == 0 && res.allocations_moved == 0);
    CHECK_EQ_SIZE(res.largest_free_before, before.largest_free_block);
    CHECK_EQ_SIZE(res.largest_free_after, before.largest_free_block);
    CHECK(res.fragmentation_before == res.fragmentation_after);
    CHECK_EQ_SIZE(relog.count, 0);
    check_blocks(m, &p, 1);
    check_blocks(m, &t, 1);
    /* fn and out are optional. */
    CHECK_OK(fl_memory_defragment(m, NULL, NULL, NULL));
    CHECK_OK(fl_memory_defragment_allocator(m, FL_ALLOCATOR_BUDDY, NULL, NULL, NULL));
    fl_memory_stats after;
    CHECK_OK(fl_memory_get_stats(m, &after));
    CHECK(stats_equal(&before, &after));
    fl_memory_destroy(m);
}

static void test_not_supported_and_bad_input(void)
{
    fl_memory_config c = small_config();
    c.strategy[FL_MEMORY_NETWORK] = FL_ALLOCATOR_SYSTEM; /* a platform-heap region */
    fl_memory *m = make_memory(&c);
    block b;
    CHECK_OK(allocate_block(m, &b, 2000, FL_MEMORY_SYSTEM, true, 3));
    fl_defrag_result res;
    memset(&res, 0x5A, sizeof res);
    fl_defrag_result untouched = res;
    const fl_allocator_type cannot[] = {FL_ALLOCATOR_LINEAR, FL_ALLOCATOR_STACK, FL_ALLOCATOR_POOL, FL_ALLOCATOR_SYSTEM};
    for (size_t i = 0; i < 4; i++) {
        CHECK_UNCHANGED(m, fl_memory_defragment_allocator(m, cannot[i], on_progress, &prog, &res), FL_ERR_NOT_SUPPORTED);
        CHECK(message_has(fl_allocator_type_str(cannot[i])));
    }
    fl_memory_destroy(m);

    /* A strategy no region uses. */
    c = small_config();
    m = make_memory(&c);
    CHECK_UNCHANGED(m, fl_memory_defragment_allocator(m, FL_ALLOCATOR_SYSTEM, NULL, NULL, &res), FL_ERR_NOT_SUPPORTED);
    CHECK(message_has("no region"));
    /* Bad input. */
    CHECK_STATUS(fl_memory_defragment(NULL, NULL, NULL, &res), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_defragment_allocator(NULL, FL_ALLOCATOR_BUDDY, NULL, NULL, &res), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_defragment_allocator(m, FL_ALLOCATOR_AUTO, NULL, NULL, &res), FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_defragment_allocator(m, FL_ALLOCATOR_TYPE_COUNT, NULL, NULL, &res),
                    FL_ERR_INVALID_PARAMETERS);
    CHECK_UNCHANGED(m, fl_memory_defragment_allocator(m, (fl_allocator_type)-1, NULL, NULL, &res),
                    FL_ERR_INVALID_PARAMETERS);
    CHECK(memcmp(&res, &untouched, sizeof res) == 0);
    /* Relocatable still needs its callback. */
    fl_alloc_request r = fl_make_allocation_request(100, FL_MEMORY_SYSTEM, 0, FL_FLAG_RELOCATABLE);
    fl_allocation a;
    CHECK_UNCHANGED(m, fl_memory_allocate_request(m, &r, &a), FL_ERR_INVALID_PARAMETERS);
    /* A bad buddy_min_block is refused at create, naming the region. */
    c.buddy_min_block[FL_MEMORY_VIDEO] = 100;
    fl_memory *bad = NULL;
    CHECK_STATUS(fl_memory_create(&c, &bad), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("Video") && message_has("100"));
    c.buddy_min_block[FL_MEMORY_VIDEO] = 4;
    CHECK_STATUS(fl_memory_create(&c, &bad), FL_ERR_INVALID_PARAMETERS);
    fl_memory_destroy(m);
}

/* The Dreamcast profile's Video and Audio bookkeeping (in main RAM) stays small. */
static void test_console_bookkeeping_cost(void)
{
    fl_memory_config c;
    CHECK_OK(fl_memory_config_default(FL_PLATFORM_DREAMCAST, &c));
    CHECK_EQ_SIZE(c.buddy_min_block[FL_MEMORY_VIDEO], 1 * KIB);
    CHECK_EQ_SIZE(c.buddy_min_block[FL_MEMORY_AUDIO], 1 * KIB);
    size_t video = fl_buddy_control_size(8 * MIB, c.buddy_min_block[FL_MEMORY_VIDEO]);
    size_t audio = fl_buddy_control_size(2 * MIB, c.buddy_min_block[FL_MEMORY_AUDIO]);
    CHECK(video + audio < 96 * KIB);
    size_t need;
    CHECK_OK(fl_memory_backing_size(&c, &need));
    c.buddy_min_block[FL_MEMORY_VIDEO] = 0; /* 256: four times the units, four times the cost */
    c.buddy_min_block[FL_MEMORY_AUDIO] = 0;
    size_t finer;
    CHECK_OK(fl_memory_backing_size(&c, &finer));
    CHECK(finer > need + 200 * KIB);
    CHECK_OK(fl_memory_config_default(FL_PLATFORM_PSP, &c));
    CHECK_EQ_SIZE(c.buddy_min_block[FL_MEMORY_VIDEO], 1 * KIB);
}

/* ---- randomized, against a model ---------------------------------------------------------- */

#define MODEL_MAX 600

static void test_randomized(void)
{
    fl_memory_config c = small_config();
    c.max_records = 1024;
    c.capacity[FL_MEMORY_SYSTEM] = 2 * MIB;
    fl_memory *m = make_memory(&c);
    static block blocks[MODEL_MAX];
    memset(blocks, 0, sizeof blocks);
    harness_rng rng = harness_rng_seeded("defrag randomized", 77001u);
    const fl_memory_type types[] = {FL_MEMORY_SYSTEM, FL_MEMORY_VIDEO, FL_MEMORY_AUDIO, FL_MEMORY_NETWORK};
    uint64_t ops = harness_scaled(200000), next_id = 1;
    size_t live = 0, defrags = 0, moved = 0;
    for (uint64_t op = 0; op < ops; op++) {
        size_t i = harness_range(&rng, 0, MODEL_MAX - 1);
        block *b = &blocks[i];
        if (b->live) {
            CHECK(harness_pattern_ok(b->ptr, b->size, b->id));
            CHECK_OK(fl_memory_deallocate(m, b->ptr));
            b->live = false;
            live--;
        } else {
            fl_memory_type t = types[harness_range(&rng, 0, 3)];
            size_t size = harness_range(&rng, 300, t == FL_MEMORY_NETWORK ? 3000 : 9000);
            bool relocatable = harness_range(&rng, 0, 3) != 0;
            fl_status st = allocate_block(m, b, size, t, relocatable, next_id++);
            CHECK(st == FL_OK || st == FL_ERR_OUT_OF_MEMORY);
            if (st == FL_OK) live++;
        }
        if (op % 4000 == 3999) {
            memory_snapshot before = snapshot(m);
            void *fixed[MODEL_MAX];
            for (size_t k = 0; k < MODEL_MAX; k++) fixed[k] = blocks[k].ptr;
            reset_logs(NULL);
            relog.check_bytes = true;
            fl_defrag_result res;
            CHECK_OK(fl_memory_defragment(m, on_progress, &prog, &res));
            defrags++;
            moved += res.allocations_moved;
            check_result_against_log(&res);
            CHECK(prog.progress[prog.count - 1] == 1.0);
            CHECK_EQ_SIZE(res.largest_free_before, before.global.largest_free_block);
            for (size_t k = 0; k < MODEL_MAX; k++)
                if (blocks[k].live && !blocks[k].relocatable) CHECK(blocks[k].ptr == fixed[k]);
            for (size_t k = 0; k < MODEL_MAX; k++) blocks[k].moves = 0;
            memory_snapshot after = snapshot(m);
            check_counts_kept(&before.global, &after.global);
            CHECK_OK(fl_memory_validate(m));
            check_blocks(m, blocks, MODEL_MAX);
            check_identities(m);
            fl_memory_stats g;
            CHECK_OK(fl_memory_get_stats(m, &g));
            CHECK_EQ_SIZE(g.allocation_count, live);
        }
    }
    printf("defrag randomized: %llu ops, %zu defragmentations, %zu moves\n", (unsigned long long)ops, defrags, moved);
    CHECK(ops < 4000 || moved > 0);
    for (size_t k = 0; k < MODEL_MAX; k++)
        if (blocks[k].live) CHECK_OK(fl_memory_deallocate(m, blocks[k].ptr));
    fl_memory_stats g;
    CHECK_OK(fl_memory_get_stats(m, &g));
    CHECK_EQ_SIZE(g.used_bytes, 0);
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

/* ---- the Shared region --------------------------------------------------------------------- */

/* Shared is a free list inside an OS shared-memory object: its relocatable blocks compact
 * like System's, and a child forked afterwards writes through a moved block's new address
 * what the parent then reads (the new place is shared memory too). */
static void test_shared_region(void)
{
    SKIP_UNLESS(fli_has_shared(fl_platform_default()), "no shared_map here: the Shared type has capacity 0");
    fl_memory_config c = small_config();
    c.capacity[FL_MEMORY_SHARED] = 256 * KIB;
    c.max_records = 256;
    fl_memory *m = make_memory(&c);
    static block blocks[40];
    memset(blocks, 0, sizeof blocks);
    for (size_t i = 0; i < 40; i++) CHECK_OK(allocate_block(m, &blocks[i], 3000 + 100 * i, FL_MEMORY_SHARED, true, 500 + i));
    for (size_t i = 0; i < 40; i += 2) {
        CHECK_OK(fl_memory_deallocate(m, blocks[i].ptr));
        blocks[i].live = false;
    }
    size_t total = live_relocatable_bytes(blocks, 40, FL_MEMORY_SHARED, m);
    reset_logs(m);
    fl_defrag_result res;
    CHECK_OK(fl_memory_defragment(m, on_progress, &prog, &res));
    relog.m = NULL;
    prog.m = NULL;
    check_result_against_log(&res);
    check_progress(total, &res);
    CHECK(res.allocations_moved >= 10);
    check_blocks(m, blocks, 40);
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
#if CAPS_FORK
    block *moved = NULL;
    for (size_t i = 0; i < 40 && moved == NULL; i++)
        if (blocks[i].live && blocks[i].moves == 1) moved = &blocks[i];
    CHECK(moved != NULL);
    if (moved != NULL) {
        fflush(stdout);
        pid_t child = fork();
        CHECK(child >= 0);
        if (child == 0) {
            harness_fill(moved->ptr, moved->size, 9090);
            _exit(0);
        }
        int status = 0;
        CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK(harness_pattern_ok(moved->ptr, moved->size, 9090)); /* the child's bytes, at the new address */
        moved->id = 9090;
    }
#endif
    for (size_t i = 0; i < 40; i++)
        if (blocks[i].live) CHECK_OK(fl_memory_deallocate(m, blocks[i].ptr));
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

/* ---- other threads meanwhile ------------------------------------------------------------ */

/* A thread that allocates and frees plain (never relocatable) blocks in System and Video,
 * checking each block's pattern at the address it was given before freeing it: a block
 * that moved, or bytes a move overwrote, would show. Counts its own errors (CHECK's
 * counter is not for several threads). */
#define WORKER_LIVE 24
typedef struct worker {
    fl_memory *m;
    uint64_t seed, ops, errors, served;
} worker;

static void *worker_main(void *p)
{
    worker *w = p;
    harness_rng rng = harness_rng_seeded("defrag worker", w->seed);
    void *ptr[WORKER_LIVE] = {0};
    size_t size[WORKER_LIVE] = {0};
    uint64_t id[WORKER_LIVE] = {0};
    for (uint64_t op = 0; op < w->ops; op++) {
        size_t k = harness_range(&rng, 0, WORKER_LIVE - 1);
        if (ptr[k] != NULL) {
            if (!harness_pattern_ok(ptr[k], size[k], id[k])) w->errors++;
            if (fl_memory_deallocate(w->m, ptr[k]) != FL_OK) w->errors++;
            ptr[k] = NULL;
            continue;
        }
        fl_memory_type t = harness_range(&rng, 0, 1) ? FL_MEMORY_SYSTEM : FL_MEMORY_VIDEO;
        fl_allocation a;
        fl_status st = fl_memory_allocate_typed(w->m, harness_range(&rng, 64, 4000), t, 0, 0, &a);
        if (st == FL_ERR_OUT_OF_MEMORY) continue;
        if (st != FL_OK || (a.flags & FL_FLAG_RELOCATABLE)) {
            w->errors++;
            continue;
        }
        ptr[k] = a.ptr;
        size[k] = a.size;
        id[k] = (w->seed << 40) + op;
        harness_fill(a.ptr, a.size, id[k]);
        w->served++;
    }
    for (size_t k = 0; k < WORKER_LIVE; k++) {
        if (ptr[k] == NULL) continue;
        if (!harness_pattern_ok(ptr[k], size[k], id[k])) w->errors++;
        if (fl_memory_deallocate(w->m, ptr[k]) != FL_OK) w->errors++;
    }
    return NULL;
}

/* Defragmentations on this thread while two others allocate and free plain blocks: the
 * relocatable blocks (this thread's) keep their contents and end where on_relocate said,
 * progress is monotonic to 1.0 in every call, plain blocks never move, and the statistics
 * are exact at the end. */
static void test_concurrent_with_other_threads(void)
{
    fl_memory_config c = small_config();
    c.thread_safe = true;
    c.max_records = 1024;
    fl_memory *m = make_memory(&c);
    static block blocks[160];
    memset(blocks, 0, sizeof blocks);
    harness_rng rng = harness_rng_seeded("defrag concurrent", 5150u);
    uint64_t next_id = 1;
    for (size_t i = 0; i < 160; i++) {
        fl_memory_type t = i < 110 ? FL_MEMORY_SYSTEM : FL_MEMORY_VIDEO;
        CHECK_OK(allocate_block(m, &blocks[i], harness_range(&rng, 512, 5000), t, true, next_id++));
    }
    for (size_t i = 0; i < 160; i += 2) {
        CHECK_OK(fl_memory_deallocate(m, blocks[i].ptr));
        blocks[i].live = false;
    }

    worker w[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (worker){m, (uint64_t)i + 1, harness_scaled(40000), 0, 0};
        CHECK(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
    }
    size_t runs = 0, moved = 0;
    for (int round = 0; round < 12; round++) {
        size_t total = live_relocatable_bytes(blocks, 160, FL_MEMORY_SYSTEM, m) +
                       live_relocatable_bytes(blocks, 160, FL_MEMORY_VIDEO, m);
        reset_logs(m);
        fl_defrag_result res;
        CHECK_OK(fl_memory_defragment(m, on_progress, &prog, &res));
        runs++;
        moved += res.allocations_moved;
        check_result_against_log(&res);
        check_progress(total, &res);
        check_blocks(m, blocks, 160);
        /* Churn of this thread's own: a few blocks go, a few come, so the next pass has
         * holes to fill. */
        for (int k = 0; k < 10; k++) {
            block *b = &blocks[harness_range(&rng, 0, 159)];
            if (b->live) {
                CHECK(harness_pattern_ok(b->ptr, b->size, b->id));
                CHECK_OK(fl_memory_deallocate(m, b->ptr));
                b->live = false;
            } else {
                fl_memory_type ty = b < &blocks[110] ? FL_MEMORY_SYSTEM : FL_MEMORY_VIDEO;
                fl_status st = allocate_block(m, b, harness_range(&rng, 512, 5000), ty, true, next_id++);
                CHECK(st == FL_OK || st == FL_ERR_OUT_OF_MEMORY);
            }
        }
    }
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        CHECK_MSG(w[i].errors == 0, "worker %d: %llu errors", i, (unsigned long long)w[i].errors);
        CHECK(w[i].served > 0);
    }
    printf("concurrent defrag: %zu runs, %zu moves, workers served %llu + %llu\n", runs, moved,
           (unsigned long long)w[0].served, (unsigned long long)w[1].served);
    CHECK(moved > 0);
    check_blocks(m, blocks, 160);
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
    size_t live = 0;
    for (size_t i = 0; i < 160; i++) live += blocks[i].live;
    fl_memory_stats g;
    CHECK_OK(fl_memory_get_stats(m, &g));
    CHECK_EQ_SIZE(g.allocation_count, live); /* the workers freed all of theirs */
    for (size_t i = 0; i < 160; i++)
        if (blocks[i].live) CHECK_OK(fl_memory_deallocate(m, blocks[i].ptr));
    CHECK_OK(fl_memory_get_stats(m, &g));
    CHECK_EQ_SIZE(g.used_bytes, 0);
    fl_memory_destroy(m);
}

int main(void)
{
    RUN(test_free_list_compaction);
    RUN(test_whole_interface_and_reentrant_callbacks);
    RUN(test_video_bookkeeping_outside);
    RUN(test_buddy_compaction_through_copy_hook);
    RUN(test_allocator_handles_relocate);
    RUN(test_buddy_in_backing_memory);
    RUN(test_nothing_to_move);
    RUN(test_not_supported_and_bad_input);
    RUN(test_console_bookkeeping_cost);
    RUN(test_randomized);
    RUN(test_concurrent_with_other_threads);
    RUN(test_shared_region);
    return harness_finish();
}
