/*
 * A thread_safe memory interface under 8 threads (issue #3, "Threads"): each runs
 * harness_scaled(200000) random operations - typed and untyped allocations of random
 * sizes, alignments and flags (pool sizes, FL_FLAG_TEMPORARY, FL_FLAG_ZERO, FL_FLAG_CRITICAL,
 * tagged requests with fallback), frees of its own blocks and of blocks other threads
 * handed off, reallocations, pointer queries, statistics and pressure reads, and now and
 * then a full validate - while pressure callbacks fire on whichever thread caused a rise.
 *
 * Every block carries a byte pattern derived from its id, checked before it is freed or
 * moved (a block handed to another thread is checked there). Each thread counts what its
 * calls did; after the join, with everything freed, the interface's statistics must equal
 * those counts exactly: per type allocations and deallocations, failures, used 0, count 0.
 *
 * Also built with ThreadSanitizer (scripts/test.sh, stage "tsan"; CTest label "threads").
 */
#include "memory_test_util.h"
#include "platform_caps.h"

#include <pthread.h>

#define WANTED_THREADS 8
#define THREADS (WANTED_THREADS < CAPS_THREADS_MAX ? WANTED_THREADS : CAPS_THREADS_MAX)
#define OWN_MAX 96        /* blocks a thread holds at most */
#define HANDOFF_SLOTS 256 /* blocks in transit between threads */
#define SIZE_MAX_TEST (32 * KIB)
#define TYPES FL_MEMORY_TYPE_COUNT

/* Patterns: a block of id k holds source[(k & 255) ...]: one memcpy to fill, one memcmp to
 * check (sanitizers see one range access instead of one per byte). */
static unsigned char source[SIZE_MAX_TEST + 256];
static const unsigned char zeroes[SIZE_MAX_TEST];

typedef struct block {
    void *ptr;
    size_t size; /* bytes that carry the pattern (the usable size) */
    uint64_t id;
    fl_memory_type type;
} block;

/* Blocks given up by one thread for another to free: guarded by its own mutex, which
 * also orders the giver's pattern writes before the taker's reads. */
typedef struct handoff {
    pthread_mutex_t lock;
    block slot[HANDOFF_SLOTS];
    size_t count;
} handoff;

typedef struct counts {
    uint64_t allocations[TYPES], deallocations[TYPES];
    uint64_t failed;   /* FL_ERR_OUT_OF_MEMORY answers */
    uint64_t moves;    /* reallocations that moved the block */
    uint64_t handed, taken, reads, validates;
} counts;

typedef struct worker {
    fl_memory *m;
    handoff *h;
    unsigned index;
    uint64_t ops;
    counts c;
    block own[OWN_MAX];
    size_t own_count;
    uint64_t next_id;
    bool failed;
    char why[320];
} worker;

static atomic_uint_fast64_t pressure_low_calls, pressure_critical_calls;

/* Records the first failure of a thread and leaves its loop (CHECK jumps only on main). */
#define WCHECK(w, cond, ...)                                                                        \
    do {                                                                                            \
        if (!(cond) && !(w)->failed) {                                                              \
            (w)->failed = true;                                                                     \
            int at_ = snprintf((w)->why, sizeof (w)->why, "thread %u, line %d: %s: ", (w)->index,  \
                               __LINE__, #cond);                                                    \
            if (at_ > 0 && (size_t)at_ < sizeof (w)->why)                                           \
                snprintf((w)->why + at_, sizeof (w)->why - (size_t)at_, __VA_ARGS__);              \
        }                                                                                           \
        if ((w)->failed) return;                                                                    \
    } while (0)

static void fill(const block *b) { memcpy(b->ptr, source + (b->id & 255u), b->size); }
static bool intact(const block *b, size_t n) { return memcmp(b->ptr, source + (b->id & 255u), n) == 0; }

static size_t random_size(harness_rng *rng)
{
    unsigned r = (unsigned)harness_range(rng, 0, 99);
    if (r < 70) return harness_range(rng, 1, 256);   /* pool classes */
    if (r < 95) return harness_range(rng, 257, 4096);
    return harness_range(rng, 4097, SIZE_MAX_TEST);
}

/* Frees b after checking its pattern, counting it under its type. */
static void free_block(worker *w, const block *b)
{
    WCHECK(w, intact(b, b->size), "block %p (%zu bytes, id %llu) lost its pattern", b->ptr, b->size,
           (unsigned long long)b->id);
    fl_status st = fl_memory_deallocate(w->m, b->ptr);
    WCHECK(w, st == FL_OK, "deallocate %p: %s: %s", b->ptr, fl_status_str(st), fl_last_error()->message);
    w->c.deallocations[b->type]++;
}

static void drop_own(worker *w, size_t i)
{
    w->own[i] = w->own[--w->own_count];
}

static void op_allocate(worker *w, harness_rng *rng)
{
    size_t size = random_size(rng);
    size_t align = (size_t)1 << harness_range(rng, 0, 8); /* 1 .. 256 */
    fl_memory_flags flags = harness_range(rng, 0, 3) == 0 ? FL_FLAG_ZERO : FL_FLAG_NONE;
    fl_allocation a;
    fl_status st;
    switch (harness_range(rng, 0, 8)) {
    case 0: st = fl_memory_allocate(w->m, size, align, &a); flags = FL_FLAG_NONE; break;
    case 1: st = fl_memory_allocate_typed(w->m, harness_range(rng, 1, 256), FL_MEMORY_POOL, 16, flags, &a); break;
    case 2: st = fl_memory_allocate_typed(w->m, size, FL_MEMORY_SYSTEM, align, flags, &a); break;
    case 3:
        st = fl_memory_allocate_typed(w->m, size, FL_MEMORY_SYSTEM, align, flags | FL_FLAG_TEMPORARY, &a);
        break;
    case 4: st = fl_memory_allocate_typed(w->m, size, FL_MEMORY_NETWORK, align, flags, &a); break;
    case 5:
        st = fl_memory_allocate_typed(w->m, size, harness_range(rng, 0, 1) ? FL_MEMORY_VIDEO : FL_MEMORY_AUDIO, align,
                                      flags, &a);
        break;
    case 6: st = fl_memory_allocate_typed(w->m, size, FL_MEMORY_SYSTEM, align, flags | FL_FLAG_CRITICAL, &a); break;
    case 7:
        if (harness_range(rng, 0, 1)) {
            /* through a strategy's handle (the pool's, or the buddy's of Video and Audio):
             * routed and counted like any request */
            bool pool = harness_range(rng, 0, 1) != 0;
            fl_allocator *handle;
            st = fl_memory_get_allocator(w->m, pool ? FL_ALLOCATOR_POOL : FL_ALLOCATOR_BUDDY, &handle);
            WCHECK(w, st == FL_OK, "get_allocator: %s", fl_last_error()->message);
            void *p = NULL;
            st = fl_allocator_allocate(handle, pool ? harness_range(rng, 1, 256) : size, pool ? 16 : align, &p);
            if (st == FL_OK) st = fl_memory_get_allocation_info(w->m, p, &a);
            flags = FL_FLAG_NONE;
            break;
        }
        /* fall through */
    default: {
        fl_alloc_request req = fl_make_allocation_request(size, FL_MEMORY_NETWORK, align, flags);
        req.allow_fallback = true;
        req.tag = "threads";
        st = fl_memory_allocate_request(w->m, &req, &a);
        break;
    }
    }
    if (st == FL_ERR_OUT_OF_MEMORY) {
        w->c.failed++;
        return;
    }
    WCHECK(w, st == FL_OK, "allocate %zu aligned %zu: %s: %s", size, align, fl_status_str(st),
           fl_last_error()->message);
    WCHECK(w, a.size >= 1 && ((uintptr_t)a.ptr & (a.alignment - 1)) == 0, "%p not aligned to %zu", a.ptr,
           a.alignment);
    if (flags & FL_FLAG_ZERO) WCHECK(w, memcmp(a.ptr, zeroes, a.size < SIZE_MAX_TEST ? a.size : SIZE_MAX_TEST) == 0,
                                     "FL_FLAG_ZERO block %p is not zeroed", a.ptr);
    block *b = &w->own[w->own_count++];
    b->ptr = a.ptr;
    b->size = a.size < SIZE_MAX_TEST ? a.size : SIZE_MAX_TEST;
    b->id = (uint64_t)w->index << 40 | w->next_id++;
    b->type = a.type;
    fill(b);
    w->c.allocations[a.type]++;
}

static void op_free_own(worker *w, harness_rng *rng)
{
    size_t i = harness_range(rng, 0, w->own_count - 1);
    block b = w->own[i];
    drop_own(w, i);
    free_block(w, &b);
}

static void op_hand_off(worker *w, harness_rng *rng)
{
    size_t i = harness_range(rng, 0, w->own_count - 1);
    block b = w->own[i];
    drop_own(w, i);
    pthread_mutex_lock(&w->h->lock);
    bool placed = w->h->count < HANDOFF_SLOTS;
    if (placed) w->h->slot[w->h->count++] = b;
    pthread_mutex_unlock(&w->h->lock);
    if (placed)
        w->c.handed++;
    else
        free_block(w, &b);
}

static void op_take(worker *w, harness_rng *rng)
{
    block b;
    pthread_mutex_lock(&w->h->lock);
    bool got = w->h->count > 0;
    if (got) {
        size_t i = harness_range(rng, 0, w->h->count - 1);
        b = w->h->slot[i];
        w->h->slot[i] = w->h->slot[--w->h->count];
    }
    pthread_mutex_unlock(&w->h->lock);
    if (!got) return;
    w->c.taken++;
    free_block(w, &b);
}

static void op_reallocate(worker *w, harness_rng *rng)
{
    size_t i = harness_range(rng, 0, w->own_count - 1);
    block *b = &w->own[i];
    size_t new_size = harness_range(rng, 0, 3) == 0 ? harness_range(rng, 1, b->size) : random_size(rng);
    WCHECK(w, intact(b, b->size), "block %p lost its pattern before reallocate", b->ptr);
    fl_allocation a;
    fl_status st = fl_memory_reallocate(w->m, b->ptr, new_size, &a);
    if (st == FL_ERR_OUT_OF_MEMORY) {
        w->c.failed++;
        WCHECK(w, intact(b, b->size), "a failed reallocate changed block %p", b->ptr);
        return;
    }
    WCHECK(w, st == FL_OK, "reallocate %p to %zu: %s: %s", b->ptr, new_size, fl_status_str(st),
           fl_last_error()->message);
    WCHECK(w, a.size >= new_size, "reallocate gave %zu bytes for %zu", a.size, new_size);
    size_t kept = b->size < new_size ? b->size : new_size;
    block moved = {a.ptr, a.size < SIZE_MAX_TEST ? a.size : SIZE_MAX_TEST, b->id, a.type};
    WCHECK(w, intact(&moved, kept), "reallocate lost the first %zu bytes of block %llu", kept,
           (unsigned long long)b->id);
    if (a.ptr != b->ptr) {
        w->c.moves++;
        w->c.allocations[a.type]++;
        w->c.deallocations[b->type]++;
    } else {
        WCHECK(w, a.type == b->type, "an in-place reallocate changed the type");
    }
    *b = moved;
    fill(b);
}

static void op_query(worker *w, harness_rng *rng)
{
    const block *b = &w->own[harness_range(rng, 0, w->own_count - 1)];
    fl_allocation info;
    fl_status st = fl_memory_get_allocation_info(w->m, b->ptr, &info);
    WCHECK(w, st == FL_OK, "get_allocation_info %p: %s", b->ptr, fl_last_error()->message);
    WCHECK(w, info.ptr == b->ptr && info.type == b->type && info.size >= b->size, "info of %p: type %d, size %zu",
           b->ptr, (int)info.type, info.size);
    WCHECK(w, fl_memory_is_valid_pointer(w->m, b->ptr), "%p is live", b->ptr);
    WCHECK(w, !fl_memory_is_valid_pointer(w->m, (char *)b->ptr + 1), "%p + 1 is interior", b->ptr);
}

static void op_stats(worker *w, harness_rng *rng)
{
    fl_memory_stats s;
    fl_memory_type t = (fl_memory_type)harness_range(rng, 0, TYPES - 1);
    fl_status st = harness_range(rng, 0, 1) ? fl_memory_get_stats(w->m, &s) : fl_memory_get_type_stats(w->m, t, &s);
    WCHECK(w, st == FL_OK, "stats: %s", fl_last_error()->message);
    if (harness_range(rng, 0, 3) == 0) {
        fl_allocator_stats a;
        fl_allocator_type kind = harness_range(rng, 0, 1) ? FL_ALLOCATOR_POOL : FL_ALLOCATOR_BUDDY;
        st = fl_memory_get_allocator_stats(w->m, kind, &a);
        WCHECK(w, st == FL_OK && a.used_bytes + a.free_bytes == a.total_capacity, "%s handle stats: %s",
               fl_allocator_type_str(kind), fl_last_error()->message);
    }
    WCHECK(w, s.used_bytes + s.free_bytes == s.total_bytes && s.peak_used_bytes >= s.used_bytes,
           "used %zu + free %zu != total %zu (peak %zu)", s.used_bytes, s.free_bytes, s.total_bytes,
           s.peak_used_bytes);
    WCHECK(w, s.total_allocations - s.total_deallocations == (uint64_t)s.allocation_count,
           "%llu allocations - %llu deallocations != %zu live", (unsigned long long)s.total_allocations,
           (unsigned long long)s.total_deallocations, s.allocation_count);
    WCHECK(w, s.largest_free_block <= s.free_bytes, "largest %zu above free %zu", s.largest_free_block, s.free_bytes);
    w->c.reads++;
}

static void op_pressure(worker *w, harness_rng *rng)
{
    fl_pressure_info p;
    fl_memory_type t = (fl_memory_type)harness_range(rng, 0, TYPES); /* TYPES: the whole interface */
    fl_status st = fl_memory_get_pressure(w->m, t, &p);
    WCHECK(w, st == FL_OK, "pressure: %s", fl_last_error()->message);
    WCHECK(w, p.available_bytes <= p.total_bytes && (unsigned)p.level <= FL_PRESSURE_CRITICAL,
           "available %zu of %zu, level %d", p.available_bytes, p.total_bytes, (int)p.level);
    w->c.reads++;
}

static void run_ops(worker *w)
{
    harness_rng rng = {0xC0FFEEu + 7919u * w->index};
    for (uint64_t k = 0; k < w->ops && !w->failed; k++) {
        unsigned r = (unsigned)harness_range(&rng, 0, 99);
        if (w->own_count == 0 && r >= 35 && r < 68) r = 0; /* nothing of its own: allocate */
        if (w->own_count == 0 && r >= 78 && r < 88) r = 0;
        if (w->own_count == 0 && r >= 97) r = 0;
        if (w->own_count == OWN_MAX && r < 35) r = 40; /* full: free */
        if (r < 35)
            op_allocate(w, &rng);
        else if (r < 60)
            op_free_own(w, &rng);
        else if (r < 68)
            op_hand_off(w, &rng);
        else if (r < 78)
            op_take(w, &rng);
        else if (r < 88)
            op_reallocate(w, &rng);
        else if (r < 93)
            op_stats(w, &rng);
        else if (r < 97)
            op_pressure(w, &rng);
        else
            op_query(w, &rng);
        /* Now and then one thread checks everything, while the others keep going. */
        if (w->index == 0 && k % 25000 == 24999) {
            fl_status st = fl_memory_validate(w->m);
            WCHECK(w, st == FL_OK, "validate: %s", fl_last_error()->message);
            w->c.validates++;
        }
    }
    while (w->own_count > 0 && !w->failed) op_free_own(w, &rng);
}

static void *thread_main(void *arg)
{
    run_ops(arg);
    return NULL;
}

/* Pressure callbacks run on the thread whose call raised the level, outside the lock: the
 * Critical one reads the statistics (which take the lock) to prove it. */
static void on_low(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    (void)level;
    (void)info;
    (void)user;
    atomic_fetch_add(&pressure_low_calls, 1);
}

static void on_critical(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    fl_memory_stats s;
    (void)level;
    (void)info;
    if (fl_memory_get_stats((fl_memory *)user, &s) == FL_OK) atomic_fetch_add(&pressure_critical_calls, 1);
}

static void test_threads_stress(void)
{
    for (size_t i = 0; i < sizeof source; i++) source[i] = harness_pattern_byte(i >> 8, i);
    fl_memory_config c = small_config();
    c.thread_safe = true;
    /* Small enough that some requests fail and pressure rises and falls (the failures are
     * counted exactly too), large enough that most succeed. */
    c.capacity[FL_MEMORY_SYSTEM] = 1 * MIB;
    c.emergency_reserve = 64 * KIB;
    c.capacity[FL_MEMORY_POOL] = 256 * KIB;
    c.capacity[FL_MEMORY_TEMPORARY] = 256 * KIB;
    c.capacity[FL_MEMORY_NETWORK] = 128 * KIB;
    c.capacity[FL_MEMORY_VIDEO] = 256 * KIB;
    c.capacity[FL_MEMORY_AUDIO] = 128 * KIB;
    c.max_records = 1024;
    fl_memory *m = make_memory(&c);
    uint32_t low_id, critical_id;
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_LOW, on_low, NULL, &low_id));
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_CRITICAL, on_critical, m, &critical_id));

    static handoff h;
    CHECK(pthread_mutex_init(&h.lock, NULL) == 0);
    h.count = 0;
    static worker w[THREADS];
    pthread_t t[THREADS];
    uint64_t ops = harness_scaled(200000);
    printf("threads: %d threads x %llu operations\n", THREADS, (unsigned long long)ops);
    for (unsigned i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].m = m;
        w[i].h = &h;
        w[i].index = i;
        w[i].ops = ops;
        CHECK(pthread_create(&t[i], NULL, thread_main, &w[i]) == 0);
    }
    counts total;
    memset(&total, 0, sizeof total);
    bool failed = false;
    for (unsigned i = 0; i < THREADS; i++) {
        CHECK(pthread_join(t[i], NULL) == 0);
        if (w[i].failed) {
            fprintf(stderr, "%s\n", w[i].why);
            failed = true;
        }
        for (unsigned k = 0; k < TYPES; k++) {
            total.allocations[k] += w[i].c.allocations[k];
            total.deallocations[k] += w[i].c.deallocations[k];
        }
        total.failed += w[i].c.failed;
        total.moves += w[i].c.moves;
        total.handed += w[i].c.handed;
        total.taken += w[i].c.taken;
        total.reads += w[i].c.reads;
        total.validates += w[i].c.validates;
    }
    CHECK(!failed);

    /* What is still in transit, freed here (counted as the main thread's). */
    worker main_thread;
    memset(&main_thread, 0, sizeof main_thread);
    main_thread.m = m;
    for (size_t i = 0; i < h.count; i++) free_block(&main_thread, &h.slot[i]);
    CHECK_MSG(!main_thread.failed, "%s", main_thread.why);
    for (unsigned k = 0; k < TYPES; k++) total.deallocations[k] += main_thread.c.deallocations[k];
    CHECK(total.handed == total.taken + h.count);
    pthread_mutex_destroy(&h.lock);

    /* Freed Temporary bytes come back at a rewind ({0}: all; nothing is live there). */
    fl_marker all = {0, 0, 0};
    CHECK_OK(fl_memory_rewind(m, FL_MEMORY_TEMPORARY, all));
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);

    uint64_t allocations = 0, deallocations = 0;
    for (unsigned k = 0; k < TYPES; k++) {
        fl_memory_stats s;
        CHECK_OK(fl_memory_get_type_stats(m, (fl_memory_type)k, &s));
        CHECK_MSG(s.total_allocations == total.allocations[k] && s.total_deallocations == total.deallocations[k],
                  "%s: the interface counts %llu / %llu, the threads %llu / %llu", fl_memory_type_str((fl_memory_type)k),
                  (unsigned long long)s.total_allocations, (unsigned long long)s.total_deallocations,
                  (unsigned long long)total.allocations[k], (unsigned long long)total.deallocations[k]);
        CHECK_EQ_SIZE(s.used_bytes, 0);
        CHECK_EQ_SIZE(s.allocation_count, 0);
        allocations += total.allocations[k];
        deallocations += total.deallocations[k];
    }
    fl_memory_stats g;
    CHECK_OK(fl_memory_get_stats(m, &g));
    CHECK_EQ_SIZE(g.used_bytes, 0);
    CHECK_EQ_SIZE(g.allocation_count, 0);
    CHECK(g.total_allocations == allocations && g.total_deallocations == deallocations);
    CHECK_MSG(g.failed_allocations == total.failed, "failed: the interface counts %llu, the threads %llu",
              (unsigned long long)g.failed_allocations, (unsigned long long)total.failed);
    CHECK(g.peak_used_bytes > 0);
    /* Every strategy's handle agrees with the regions it covers. */
    fl_allocator_type used[FL_ALLOCATOR_TYPE_COUNT];
    size_t n = fl_memory_get_available_allocators(m, used, FL_ALLOCATOR_TYPE_COUNT);
    for (size_t i = 0; i < n; i++) {
        fl_allocator_stats a;
        CHECK_OK(fl_memory_get_allocator_stats(m, used[i], &a));
        CHECK_EQ_SIZE(a.used_bytes, 0);
        CHECK_EQ_SIZE(a.allocation_count, 0);
    }
    CHECK_OK(fl_memory_unregister_pressure_callback(m, low_id));
    CHECK_OK(fl_memory_unregister_pressure_callback(m, critical_id));
    printf("threads: %llu allocations (%llu moved by reallocate), %llu out of memory, %llu handed between threads, "
           "%llu reads, %llu validates, pressure callbacks %llu Low+ / %llu Critical\n",
           (unsigned long long)allocations, (unsigned long long)total.moves, (unsigned long long)total.failed,
           (unsigned long long)total.handed, (unsigned long long)total.reads, (unsigned long long)total.validates,
           (unsigned long long)atomic_load(&pressure_low_calls), (unsigned long long)atomic_load(&pressure_critical_calls));
    CHECK(allocations > ops); /* the mix really allocated */
    fl_memory_destroy(m);
}

/* ---- failures through a handle ------------------------------------------------------------- */

/* Requests that fail through a strategy's handle are counted in that handle's statistics,
 * under the interface's lock like everything else: threads failing at once lose no count,
 * and readers see no torn counter. */
typedef struct failer {
    fl_allocator *handle;
    fl_memory *m;
    uint64_t tries, failures, errors;
} failer;

static void *fail_repeatedly(void *arg)
{
    failer *f = arg;
    for (uint64_t i = 0; i < f->tries; i++) {
        void *p;
        fl_status st = fl_allocator_allocate(f->handle, 64 * KIB, 0, &p);
        if (st == FL_ERR_OUT_OF_MEMORY)
            f->failures++;
        else
            f->errors++;
        fl_allocator_stats s;
        if ((i & 7) == 0 && fl_memory_get_allocator_stats(f->m, FL_ALLOCATOR_BUDDY, &s) != FL_OK) f->errors++;
    }
    return NULL;
}

static void test_handle_failures_counted(void)
{
    fl_memory_config c = small_config();
    c.thread_safe = true;
    fl_memory *m = make_memory(&c);
    fl_allocator *buddy;
    CHECK_OK(fl_memory_get_allocator(m, FL_ALLOCATOR_BUDDY, &buddy));
    /* Fill both buddy regions (Video and Audio) with 32 KiB blocks. */
    void *blocks[64];
    size_t n = 0;
    while (n < 64 && fl_allocator_allocate(buddy, 32 * KIB, 0, &blocks[n]) == FL_OK) n++;
    CHECK(n > 0 && n < 64);
    fl_allocator_stats before;
    CHECK_OK(fl_memory_get_allocator_stats(m, FL_ALLOCATOR_BUDDY, &before));
    enum { FAILERS = THREADS < 4 ? THREADS : 4 };
    failer f[FAILERS];
    pthread_t t[FAILERS];
    for (int i = 0; i < FAILERS; i++) {
        f[i] = (failer){buddy, m, harness_scaled(20000), 0, 0};
        CHECK(pthread_create(&t[i], NULL, fail_repeatedly, &f[i]) == 0);
    }
    uint64_t failures = 0;
    for (int i = 0; i < FAILERS; i++) {
        CHECK(pthread_join(t[i], NULL) == 0);
        CHECK(f[i].errors == 0);
        failures += f[i].failures;
    }
    fl_allocator_stats after;
    CHECK_OK(fl_memory_get_allocator_stats(m, FL_ALLOCATOR_BUDDY, &after));
    CHECK_MSG(after.failed_allocations == before.failed_allocations + failures,
              "the buddy handle counts %llu failures, the threads saw %llu",
              (unsigned long long)(after.failed_allocations - before.failed_allocations), (unsigned long long)failures);
    for (size_t i = 0; i < n; i++) CHECK_OK(fl_allocator_deallocate(buddy, blocks[i]));
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

int main(void)
{
    RUN(test_threads_stress);
    RUN(test_handle_failures_counted);
    return harness_finish();
}
