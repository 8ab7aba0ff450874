/* The inline fast paths of <flight/memory_fast.h>, and the pool and linear fast case inside
 * fl_allocator_allocate/deallocate: the same results, statistics, refusals and messages as
 * the strategies' own code, with and without a lock, and never without the lock when one
 * is asked for.
 *
 * Every check runs the same operation in four "lanes", each an allocator of its own in a
 * buffer of its own (same size, same alignment, so that offsets agree):
 *   0 call          fl_allocator_* on an allocator without a lock (allocator.c's fast case)
 *   1 inline        the memory_fast.h functions on an allocator without a lock
 *   2 locked        fl_allocator_* on a thread_safe allocator (the strategy's own code)
 *   3 inline-locked the memory_fast.h functions on a thread_safe allocator
 * and then compares, lane by lane: the status, the pointer (as an offset into the lane's
 * buffer), that `out` is untouched on failure, the message (addresses inside the buffer as
 * offsets), every statistic, and the lock traffic of lanes 2 and 3. */
#include "fake_platform.h"
#include "harness.h"

#include <flight/memory_fast.h>

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define LANES 4
#define BUFFER_BYTES ((size_t)64 << 10)
#define MAX_LIVE 8192

enum { KIND_POOL, KIND_LINEAR };

typedef struct lane {
    fl_allocator *a;
    unsigned char *buf;
    bool fast;
} lane;

typedef struct lanes {
    lane l[LANES];
    int kind;
    fake_platform fake[2]; /* the locked lanes' platforms: their lock traffic is compared */
} lanes;

static unsigned char *buffers_raw;
static unsigned char *buffers; /* LANES buffers of BUFFER_BYTES, each aligned to FL_ALIGN_MAX */
static unsigned char foreign_bytes[64];

static unsigned char *buffer_of(int i) { return buffers + (size_t)i * BUFFER_BYTES; }

static size_t lane_bytes = BUFFER_BYTES; /* the buffer size lanes_create gives */

static fl_allocator_config config_for(int kind, size_t block_size, size_t block_alignment)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = kind == KIND_POOL ? FL_ALLOCATOR_POOL : FL_ALLOCATOR_LINEAR;
    cfg.name = "lane"; /* the same name everywhere, so that messages compare */
    cfg.size = lane_bytes;
    cfg.block_size = block_size;
    cfg.block_alignment = block_alignment;
    return cfg;
}

static void lanes_create(lanes *ls, int kind, size_t block_size, size_t block_alignment)
{
    memset(ls, 0, sizeof *ls);
    ls->kind = kind;
    for (int i = 0; i < LANES; i++) {
        fl_allocator_config cfg = config_for(kind, block_size, block_alignment);
        cfg.buffer = buffer_of(i);
        cfg.thread_safe = i >= 2;
        if (cfg.thread_safe) {
            fake_platform_init(&ls->fake[i - 2], fl_platform_default());
            cfg.platform = &ls->fake[i - 2].hooks;
        }
        ls->l[i].buf = buffer_of(i);
        ls->l[i].fast = i == 1 || i == 3;
        CHECK_OK(fl_allocator_create(&cfg, &ls->l[i].a));
    }
}

static void lanes_destroy(lanes *ls)
{
    for (int i = 0; i < LANES; i++) fl_allocator_destroy(ls->l[i].a);
    CHECK(fake_live_clean(&ls->fake[0]) && fake_live_clean(&ls->fake[1]));
}

/* Pointers travel between lanes as offsets into the lane's buffer; these stand for the
 * pointers that are the same in every lane. */
#define OFF_NULL ((size_t)-1)
#define OFF_FOREIGN ((size_t)-2)

static void *pointer_in(const lane *l, size_t offset)
{
    if (offset == OFF_NULL) return NULL;
    if (offset == OFF_FOREIGN) return foreign_bytes + 8;
    return l->buf + offset;
}

/* The last error's message with every address inside the lane's buffer written as an
 * offset ("@123"), so that the four lanes' messages can be compared. */
static void normalized_message(const lane *l, char *out, size_t cap)
{
    const char *m = fl_last_error()->message;
    size_t n = 0;
    while (*m && n + 24 < cap) {
        if (m[0] == '0' && m[1] == 'x') {
            char *end = NULL;
            unsigned long long v = strtoull(m + 2, &end, 16);
            uintptr_t b = (uintptr_t)l->buf;
            if ((uintptr_t)v >= b && (uintptr_t)v <= b + BUFFER_BYTES)
                n += (size_t)snprintf(out + n, cap - n, "@%zu", (size_t)((uintptr_t)v - b));
            else
                n += (size_t)snprintf(out + n, cap - n, "0x%llx", v);
            m = end;
        } else {
            out[n++] = *m++;
        }
    }
    out[n] = '\0';
}

typedef struct outcome {
    fl_status status;
    size_t offset; /* of the pointer returned, when FL_OK */
    char message[320];
    fl_allocator_stats stats;
    size_t acquires;
} outcome;

static size_t acquires_of(lanes *ls, int i)
{
    return i >= 2 ? fake_calls(&ls->fake[i - 2], FAKE_LOCK_ACQUIRE) : 0;
}

/* Compares lane i's outcome with lane 0's (and the lock traffic of the locked lanes). */
static void compare_outcomes(lanes *ls, const outcome *o)
{
    for (int i = 1; i < LANES; i++) {
        CHECK_MSG(o[i].status == o[0].status, "lane %d: %s, lane 0: %s", i, fl_status_str(o[i].status),
                  fl_status_str(o[0].status));
        if (o[0].status == FL_OK)
            CHECK_MSG(o[i].offset == o[0].offset, "lane %d gave offset %zu, lane 0 %zu", i, o[i].offset,
                      o[0].offset);
        else
            CHECK_MSG(strcmp(o[i].message, o[0].message) == 0, "lane %d: '%s'\n  lane 0: '%s'", i, o[i].message,
                      o[0].message);
        CHECK_MSG(memcmp(&o[i].stats, &o[0].stats, sizeof o[0].stats) == 0, "lane %d statistics differ", i);
    }
    /* The inline functions on a locked allocator lock exactly as the calls do. */
    CHECK_EQ_SIZE(o[3].acquires, o[2].acquires);
    (void)ls;
}

static void finish_outcome(lanes *ls, int i, fl_status st, outcome *o)
{
    o->status = st;
    o->message[0] = '\0';
    if (st != FL_OK) normalized_message(&ls->l[i], o->message, sizeof o->message);
    o->acquires = acquires_of(ls, i); /* before get_stats, which locks too */
    fl_allocator_get_stats(ls->l[i].a, &o->stats);
}

/* One allocation in every lane; returns lane 0's status and, when FL_OK, the offset. */
static fl_status lanes_allocate(lanes *ls, size_t size, size_t alignment, bool null_out, size_t *offset)
{
    outcome o[LANES];
    for (int i = 0; i < LANES; i++) {
        lane *l = &ls->l[i];
        void *sentinel = foreign_bytes, *p = sentinel;
        void **out = null_out ? NULL : &p;
        size_t before = acquires_of(ls, i);
        fl_status st;
        if (!l->fast)
            st = fl_allocator_allocate(l->a, size, alignment, out);
        else if (ls->kind == KIND_POOL)
            st = fl_pool_allocate_fast(l->a, size, alignment, out);
        else
            st = fl_linear_allocate_fast(l->a, size, alignment, out);
        finish_outcome(ls, i, st, &o[i]);
        o[i].acquires -= before;
        if (st == FL_OK) {
            CHECK(p != sentinel && (unsigned char *)p >= l->buf && (unsigned char *)p < l->buf + BUFFER_BYTES);
            o[i].offset = (size_t)((unsigned char *)p - l->buf);
        } else {
            CHECK(p == sentinel); /* out is not written on failure */
        }
    }
    compare_outcomes(ls, o);
    if (offset != NULL) *offset = o[0].offset;
    return o[0].status;
}

/* One free in every lane (pool: fl_pool_deallocate_fast in the inline lanes; the linear
 * allocator has no inline free, every lane calls fl_allocator_deallocate). */
static fl_status lanes_deallocate(lanes *ls, size_t offset)
{
    outcome o[LANES];
    for (int i = 0; i < LANES; i++) {
        lane *l = &ls->l[i];
        void *ptr = pointer_in(l, offset);
        size_t before = acquires_of(ls, i);
        fl_status st = l->fast && ls->kind == KIND_POOL ? fl_pool_deallocate_fast(l->a, ptr)
                                                         : fl_allocator_deallocate(l->a, ptr);
        finish_outcome(ls, i, st, &o[i]);
        o[i].acquires -= before;
        o[i].offset = 0;
    }
    compare_outcomes(ls, o);
    return o[0].status;
}

/* A NULL allocator through each entry point: the same refusal as the calls. */
static void test_null_allocator(void)
{
    void *p = foreign_bytes;
    CHECK_STATUS(fl_allocator_allocate(NULL, 8, 0, &p), FL_ERR_INVALID_PARAMETERS);
    char want[256];
    snprintf(want, sizeof want, "%s", fl_last_error()->message);
    CHECK_STATUS(fl_pool_allocate_fast(NULL, 8, 0, &p), FL_ERR_INVALID_PARAMETERS);
    CHECK(strcmp(fl_last_error()->message, want) == 0);
    CHECK_STATUS(fl_linear_allocate_fast(NULL, 8, 0, &p), FL_ERR_INVALID_PARAMETERS);
    CHECK(strcmp(fl_last_error()->message, want) == 0);
    CHECK(p == foreign_bytes);
    CHECK_STATUS(fl_allocator_deallocate(NULL, foreign_bytes), FL_ERR_INVALID_PARAMETERS);
    snprintf(want, sizeof want, "%s", fl_last_error()->message);
    CHECK_STATUS(fl_pool_deallocate_fast(NULL, foreign_bytes), FL_ERR_INVALID_PARAMETERS);
    CHECK(strcmp(fl_last_error()->message, want) == 0);
}

/* Every refusal of a pool, in every lane, with nothing changed. */
static void test_pool_refusals(void)
{
    lanes ls;
    lanes_create(&ls, KIND_POOL, 40, 16); /* stride 48 */
    size_t off[4];
    for (int i = 0; i < 4; i++) CHECK_OK(lanes_allocate(&ls, 40, 0, false, &off[i]));
    CHECK_OK(lanes_deallocate(&ls, off[1])); /* one block on the free list */
    fl_allocator_stats before;
    fl_allocator_get_stats(ls.l[0].a, &before);

    /* Arguments: out NULL, size 0, a bad alignment, too big for the block. */
    CHECK_STATUS(lanes_allocate(&ls, 8, 0, true, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(lanes_allocate(&ls, 0, 0, false, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(lanes_allocate(&ls, 8, 3, false, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(lanes_allocate(&ls, 8, (size_t)1 << 17, false, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(lanes_allocate(&ls, 49, 0, false, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(lanes_allocate(&ls, 8, 32, false, NULL), FL_ERR_INVALID_PARAMETERS);
    /* Pointers: NULL, foreign, the control block, interior, past the end, double free. */
    CHECK_STATUS(lanes_deallocate(&ls, OFF_NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(lanes_deallocate(&ls, OFF_FOREIGN), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(lanes_deallocate(&ls, 0), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(lanes_deallocate(&ls, off[0] + 1), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(lanes_deallocate(&ls, off[2] + 47), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(lanes_deallocate(&ls, BUFFER_BYTES - 1), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(lanes_deallocate(&ls, off[1]), FL_ERR_INVALID_PARAMETERS); /* on the free list */
    CHECK_STATUS(lanes_deallocate(&ls, off[3] + 48), FL_ERR_INVALID_PARAMETERS); /* never handed out */
    CHECK(strstr(fl_last_error()->message, "double free") != NULL);
    fl_allocator_stats after;
    fl_allocator_get_stats(ls.l[0].a, &after);
    CHECK(memcmp(&before, &after, sizeof before) == 0);

    /* Alignments the block satisfies, then the pool exhausted: OOM counted alike. */
    CHECK_OK(lanes_allocate(&ls, 48, 16, false, &off[1]));
    size_t got = 0, last = 0;
    while (lanes_allocate(&ls, 1, 1, false, &last) == FL_OK) got++;
    CHECK_STATUS(lanes_allocate(&ls, 1, 0, false, NULL), FL_ERR_OUT_OF_MEMORY);
    fl_allocator_get_stats(ls.l[0].a, &after);
    CHECK_EQ_SIZE(after.failed_allocations, 2);
    CHECK_EQ_SIZE(after.allocation_count, 4 + got);
    /* A full pool frees and serves again through the inline path's free list. */
    CHECK_OK(lanes_deallocate(&ls, last));
    CHECK_OK(lanes_allocate(&ls, 17, 0, false, &off[0]));
    CHECK_EQ_SIZE(off[0], last);
    for (int i = 0; i < LANES; i++) CHECK_OK(fl_allocator_validate(ls.l[i].a));
    lanes_destroy(&ls);
}

/* Blocks aligned to less than the default: alignment 0 (FL_ALIGN_DEFAULT) is refused by
 * every path, explicit alignments up to the block's are served. */
static void test_pool_small_alignment(void)
{
    lanes ls;
    lanes_create(&ls, KIND_POOL, 12, 4); /* stride 12 */
    size_t off = 0;
    CHECK_STATUS(lanes_allocate(&ls, 8, 0, false, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "exceeds the pool's block alignment") != NULL);
    CHECK_OK(lanes_allocate(&ls, 12, 4, false, &off));
    CHECK_OK(lanes_allocate(&ls, 1, 1, false, NULL));
    CHECK_OK(lanes_deallocate(&ls, off));
    CHECK_OK(lanes_allocate(&ls, 3, 2, false, NULL)); /* from the free list */
    CHECK_STATUS(lanes_allocate(&ls, 3, 8, false, NULL), FL_ERR_INVALID_PARAMETERS);
    lanes_destroy(&ls);
}

/* The linear allocator: refusals, OOM, and the inline allocation as the last one (freeable,
 * sized) and under marks. */
static void test_linear_paths(void)
{
    lanes ls;
    lane_bytes = BUFFER_BYTES - 8; /* the region ends 8-aligned: see the padding check below */
    lanes_create(&ls, KIND_LINEAR, 0, 0);
    lane_bytes = BUFFER_BYTES;
    size_t a = 0, b = 0;
    CHECK_STATUS(lanes_allocate(&ls, 8, 0, true, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(lanes_allocate(&ls, 0, 0, false, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(lanes_allocate(&ls, 8, 24, false, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(lanes_allocate(&ls, 8, (size_t)1 << 17, false, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_OK(lanes_allocate(&ls, 3, 1, false, &a));
    CHECK_OK(lanes_allocate(&ls, 100, 64, false, &b));
    CHECK_EQ_SIZE(b % 64, 0);
    for (int i = 0; i < LANES; i++) {
        size_t usable = 0;
        CHECK_OK(fl_allocator_usable_size(ls.l[i].a, ls.l[i].buf + b, &usable));
        CHECK_EQ_SIZE(usable, 100);
    }
    CHECK_STATUS(lanes_deallocate(&ls, b + 1), FL_ERR_INVALID_PARAMETERS); /* inside the last */
    CHECK_OK(lanes_deallocate(&ls, b));                                    /* gives its bytes back */
    CHECK_OK(lanes_deallocate(&ls, a)); /* the last one is no longer known: accepted, kept */
    fl_marker marks[LANES];
    for (int i = 0; i < LANES; i++) marks[i] = fl_allocator_mark(ls.l[i].a);
    CHECK_OK(lanes_allocate(&ls, 1000, 0, false, NULL));
    CHECK_OK(lanes_allocate(&ls, 1000, 256, false, NULL));
    for (int i = 0; i < LANES; i++) CHECK_OK(fl_allocator_rewind(ls.l[i].a, marks[i]));
    CHECK_OK(lanes_allocate(&ls, 10, 0, false, NULL));
    /* Out of memory: counted alike, nothing changed. */
    CHECK_STATUS(lanes_allocate(&ls, BUFFER_BYTES, 0, false, NULL), FL_ERR_OUT_OF_MEMORY);
    size_t got = 0;
    while (lanes_allocate(&ls, 4000, 32, false, NULL) == FL_OK) got++;
    CHECK(got > 5);
    fl_allocator_stats s;
    fl_allocator_get_stats(ls.l[1].a, &s);
    CHECK_EQ_SIZE(s.failed_allocations, 2);
    /* Three bytes left at an odd address: the padding alone does not fit a larger alignment. */
    CHECK_OK(lanes_allocate(&ls, s.free_bytes - 3, 1, false, NULL));
    CHECK_STATUS(lanes_allocate(&ls, 1, 256, false, NULL), FL_ERR_OUT_OF_MEMORY);
    CHECK_OK(lanes_allocate(&ls, 3, 1, false, NULL));
    CHECK_STATUS(lanes_allocate(&ls, 1, 1, false, NULL), FL_ERR_OUT_OF_MEMORY);
    for (int i = 0; i < LANES; i++) CHECK_OK(fl_allocator_validate(ls.l[i].a));
    lanes_destroy(&ls);
}

/* On any other allocator the inline functions are the calls: a pool's on a linear
 * allocator and the other way round, and both on a free list. */
static void test_other_types(void)
{
    static const fl_allocator_type types[] = {FL_ALLOCATOR_LINEAR, FL_ALLOCATOR_POOL, FL_ALLOCATOR_FREELIST,
                                              FL_ALLOCATOR_STACK, FL_ALLOCATOR_BUDDY};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        fl_allocator *x = NULL, *y = NULL;
        fl_allocator_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.type = types[t];
        cfg.name = "other";
        cfg.size = BUFFER_BYTES;
        cfg.block_size = 64;
        cfg.buffer = buffer_of(0);
        CHECK_OK(fl_allocator_create(&cfg, &x));
        cfg.buffer = buffer_of(1);
        CHECK_OK(fl_allocator_create(&cfg, &y));
        for (int k = 0; k < 3; k++) {
            void *p = NULL, *q = NULL;
            /* The pool's function on a linear allocator, the linear one's elsewhere. */
            CHECK_OK(fl_allocator_allocate(x, 40, 0, &p));
            if (types[t] == FL_ALLOCATOR_POOL)
                CHECK_OK(fl_linear_allocate_fast(y, 40, 0, &q));
            else
                CHECK_OK(fl_pool_allocate_fast(y, 40, 0, &q));
            CHECK_EQ_SIZE((unsigned char *)p - buffer_of(0), (unsigned char *)q - buffer_of(1));
            fl_status sx = fl_allocator_deallocate(x, (unsigned char *)p + 1);
            fl_status sy = fl_pool_deallocate_fast(y, (unsigned char *)q + 1);
            CHECK(sx == sy);
            if (k == 2) {
                CHECK_OK(fl_allocator_deallocate(x, p));
                CHECK_OK(fl_pool_deallocate_fast(y, q));
            }
        }
        fl_allocator_stats sx, sy;
        fl_allocator_get_stats(x, &sx);
        fl_allocator_get_stats(y, &sy);
        CHECK(memcmp(&sx, &sy, sizeof sx) == 0);
        CHECK_OK(fl_allocator_validate(y));
        fl_allocator_destroy(x);
        fl_allocator_destroy(y);
    }
}

/* A thread_safe pool: every inline call locks once, exactly like the call it stands for. */
static void test_locked_allocators_lock(void)
{
    for (int kind = KIND_POOL; kind <= KIND_LINEAR; kind++) {
        static fake_platform fake;
        fake_platform_init(&fake, fl_platform_default());
        fl_allocator_config cfg = config_for(kind, 64, 0);
        cfg.buffer = buffer_of(0);
        cfg.thread_safe = true;
        cfg.platform = &fake.hooks;
        fl_allocator *a = NULL;
        CHECK_OK(fl_allocator_create(&cfg, &a));
        size_t acquired = fake_calls(&fake, FAKE_LOCK_ACQUIRE);
        for (int i = 0; i < 100; i++) {
            void *p = NULL;
            fl_status st = kind == KIND_POOL ? fl_pool_allocate_fast(a, 64, 0, &p)
                                             : fl_linear_allocate_fast(a, 64, 0, &p);
            CHECK_OK(st);
            CHECK_EQ_SIZE(fake_calls(&fake, FAKE_LOCK_ACQUIRE), ++acquired);
            if (kind == KIND_POOL) {
                CHECK_OK(fl_pool_deallocate_fast(a, p));
                CHECK_EQ_SIZE(fake_calls(&fake, FAKE_LOCK_ACQUIRE), ++acquired);
            }
        }
        CHECK_EQ_SIZE(fake_calls(&fake, FAKE_LOCK_RELEASE), acquired);
        fl_allocator_destroy(a);
        CHECK(fake_live_clean(&fake));
    }
}

/* ---- threads --------------------------------------------------------------------------- */

#define THREADS 4

typedef struct worker {
    fl_allocator *a;
    uint64_t seed;
    size_t ops, bad;
} worker;

static void *hammer(void *arg)
{
    worker *w = (worker *)arg;
    harness_rng rng = {w->seed};
    void *live[32];
    uint64_t ids[32];
    size_t count = 0;
    for (size_t k = 0; k < w->ops; k++) {
        if (count < 32 && (count == 0 || harness_next(&rng) % 2 == 0)) {
            void *p = NULL;
            if (fl_pool_allocate_fast(w->a, 48, 0, &p) != FL_OK) continue;
            ids[count] = w->seed * 1000003u + k;
            harness_fill(p, 48, ids[count]);
            live[count++] = p;
        } else {
            size_t i = (size_t)(harness_next(&rng) % count);
            if (!harness_pattern_ok(live[i], 48, ids[i])) w->bad++;
            if (fl_pool_deallocate_fast(w->a, live[i]) != FL_OK) w->bad++;
            /* Interior pointers are refused (a second free could race with another thread
             * that got the block meanwhile; the lanes above test double frees). */
            if (fl_pool_deallocate_fast(w->a, ids[i] % 2 ? (unsigned char *)live[i] + 8 : NULL) !=
                FL_ERR_INVALID_PARAMETERS)
                w->bad++;
            live[i] = live[--count];
            ids[i] = ids[count];
        }
    }
    for (size_t i = 0; i < count; i++)
        if (fl_pool_deallocate_fast(w->a, live[i]) != FL_OK) w->bad++;
    return NULL;
}

static void test_threads(void)
{
    fl_allocator_config cfg = config_for(KIND_POOL, 48, 0);
    cfg.buffer = buffer_of(0);
    cfg.thread_safe = true;
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    worker w[THREADS];
    pthread_t t[THREADS];
    harness_rng seeds = harness_rng_seeded("test_threads", 0xFA57);
    for (int i = 0; i < THREADS; i++) {
        w[i].a = a;
        w[i].seed = harness_next(&seeds);
        w[i].ops = (size_t)harness_scaled(50000);
        w[i].bad = 0;
        CHECK(pthread_create(&t[i], NULL, hammer, &w[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) CHECK(pthread_join(t[i], NULL) == 0);
    for (int i = 0; i < THREADS; i++) CHECK_EQ_SIZE(w[i].bad, 0);
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    CHECK_EQ_SIZE(s.allocation_count, 0);
    CHECK_EQ_SIZE(s.used_bytes, 0);
    CHECK(s.total_allocations == s.total_deallocations && s.total_allocations > 0);
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
}

/* ---- randomized model tests -------------------------------------------------------------- */

typedef struct live_block {
    size_t offset, size;
    uint64_t id;
} live_block;

static live_block model[MAX_LIVE];

/* Every lane's copy of block m carries the pattern of its id. */
static void fill_lanes(lanes *ls, const live_block *m)
{
    for (int i = 0; i < LANES; i++) harness_fill(ls->l[i].buf + m->offset, m->size, m->id);
}

static void check_lanes(lanes *ls, const live_block *m)
{
    for (int i = 0; i < LANES; i++)
        CHECK_MSG(harness_pattern_ok(ls->l[i].buf + m->offset, m->size, m->id), "lane %d: block at %zu overwritten",
                  i, m->offset);
}

static void validate_lanes(lanes *ls)
{
    for (int i = 0; i < LANES; i++) {
        CHECK_OK(fl_allocator_validate(ls->l[i].a));
        harness_check_stats_identities(ls->l[i].a);
    }
}

/* An alignment argument: mostly 0, sometimes any power of two, rarely a bad one. */
static size_t random_alignment(harness_rng *rng)
{
    uint64_t r = harness_next(rng) % 100;
    if (r < 70) return 0;
    if (r < 98) return (size_t)1 << harness_range(rng, 0, 8);
    return r == 98 ? 24 : (size_t)1 << 17;
}

/* A pool request's alignment: 0, a power of two up to twice the block's, rarely a bad one. */
static size_t pool_alignment(harness_rng *rng, size_t block_alignment)
{
    uint64_t r = harness_next(rng) % 100;
    if (r < 50) return 0;
    if (r < 97) {
        unsigned bits = 0;
        while (((size_t)1 << bits) < block_alignment) bits++;
        return (size_t)1 << harness_range(rng, 0, bits + 1);
    }
    return r == 97 ? 24 : (size_t)1 << 17;
}

static void test_pool_model(void)
{
    static const size_t block_sizes[] = {1, 24, 64, 100};
    static const size_t aligns[] = {0, 8, 32, 1};
    harness_rng rng = harness_rng_seeded("test_pool_model", 0x9001F00Du);
    uint64_t ops = harness_scaled(1000000), next_id = 1;
    uint64_t per_config = ops / 4 + 1;
    for (size_t c = 0; c < 4; c++) {
        lanes ls;
        size_t block_alignment = aligns[c];
        lane_bytes = 8192; /* a few hundred blocks: the model fills the pool often */
        lanes_create(&ls, KIND_POOL, block_sizes[c], block_alignment);
        lane_bytes = BUFFER_BYTES;
        size_t real_align = block_alignment ? block_alignment : FL_ALIGN_DEFAULT;
        size_t stride = block_sizes[c] < sizeof(void *) ? sizeof(void *) : block_sizes[c];
        stride = (stride + real_align - 1) & ~(real_align - 1);
        fl_allocator_stats s;
        fl_allocator_get_stats(ls.l[0].a, &s);
        size_t n = s.total_capacity / stride, count = 0, freed_offset = OFF_NULL;
        CHECK(n > 0 && n <= MAX_LIVE && s.total_capacity == n * stride);
        for (uint64_t k = 0; k < per_config; k++) {
            uint64_t r = harness_next(&rng) % 1000;
            if (r < 600) {
                /* Allocate: the model says whether it must succeed. */
                size_t size = harness_next(&rng) % 50 == 0 ? harness_range(&rng, 0, stride + 2)
                                                           : harness_range(&rng, 1, stride);
                size_t alignment = pool_alignment(&rng, real_align);
                size_t want_align = alignment ? alignment : FL_ALIGN_DEFAULT;
                bool valid = size >= 1 && size <= stride && (want_align & (want_align - 1)) == 0 &&
                             want_align <= real_align;
                size_t off = 0;
                fl_status st = lanes_allocate(&ls, size, alignment, false, &off);
                fl_status expected = !valid ? FL_ERR_INVALID_PARAMETERS : count == n ? FL_ERR_OUT_OF_MEMORY : FL_OK;
                CHECK_MSG(st == expected, "allocate(%zu, %zu) with %zu of %zu live: %s, expected %s", size,
                          alignment, count, n, fl_status_str(st), fl_status_str(expected));
                if (st == FL_OK) {
                    CHECK_EQ_SIZE(off % real_align, 0);
                    live_block *m = &model[count++];
                    m->offset = off;
                    m->size = size; /* the request: memory checkers keep the rest of the block closed */
                    m->id = next_id++;
                    fill_lanes(&ls, m);
                }
            } else if (r < 720) {
                if (count == 0) continue;
                size_t i = (size_t)(harness_next(&rng) % count);
                check_lanes(&ls, &model[i]);
                CHECK_OK(lanes_deallocate(&ls, model[i].offset));
                freed_offset = model[i].offset;
                model[i] = model[--count];
            } else if (r < 990) {
                /* A pointer no free may accept. */
                size_t off;
                switch (harness_next(&rng) % 5) {
                case 0: /* interior */
                    off = count ? model[harness_next(&rng) % count].offset + harness_range(&rng, 1, stride - 1) : 1;
                    break;
                case 1: off = harness_range(&rng, 0, 64); break; /* the control block */
                case 2: off = harness_next(&rng) % 2 ? OFF_NULL : OFF_FOREIGN; break;
                case 3: off = 8192 - 1 - harness_range(&rng, 0, 3); break;
                default: off = freed_offset; break; /* freed last, or never: NULL */
                }
                bool live = false;
                for (size_t i = 0; i < count && !live; i++) live = model[i].offset == off;
                if (live) continue; /* a freed block handed out again */
                CHECK_STATUS(lanes_deallocate(&ls, off), FL_ERR_INVALID_PARAMETERS);
            } else if (r < 999) {
                if (count == 0) continue;
                size_t i = (size_t)(harness_next(&rng) % count);
                for (int l = 0; l < LANES; l++) {
                    size_t usable = 0;
                    CHECK_OK(fl_allocator_usable_size(ls.l[l].a, ls.l[l].buf + model[i].offset, &usable));
                    CHECK_EQ_SIZE(usable, stride);
                }
            } else {
                for (size_t i = 0; i < count; i++) check_lanes(&ls, &model[i]);
                for (int l = 0; l < LANES; l++) fl_allocator_reset(ls.l[l].a);
                count = 0;
                freed_offset = OFF_NULL;
            }
            fl_allocator_get_stats(ls.l[1].a, &s);
            CHECK_EQ_SIZE(s.allocation_count, count);
            CHECK_EQ_SIZE(s.used_bytes, count * stride);
            if (k % 4096 == 0) validate_lanes(&ls);
        }
        for (size_t i = 0; i < count; i++) check_lanes(&ls, &model[i]);
        validate_lanes(&ls);
        fl_allocator_get_stats(ls.l[1].a, &s);
        /* The model reached the full pool. */
        CHECK_MSG(s.failed_allocations > 0 || per_config < 50000, "config %zu: %zu of %zu live, %llu allocations", c,
                  count, n, (unsigned long long)s.total_allocations);
        lanes_destroy(&ls);
    }
}

static void test_linear_model(void)
{
    harness_rng rng = harness_rng_seeded("test_linear_model", 0x11EA2u);
    uint64_t ops = harness_scaled(1000000), next_id = 1;
    lanes ls;
    lanes_create(&ls, KIND_LINEAR, 0, 0);
    /* The region's start, from a first one-byte allocation that is then given back. */
    size_t start = 0;
    CHECK_OK(lanes_allocate(&ls, 1, 1, false, &start));
    CHECK_OK(lanes_deallocate(&ls, start));
    fl_allocator_stats s;
    fl_allocator_get_stats(ls.l[0].a, &s);
    size_t capacity = s.total_capacity, top = 0, count = 0;
    bool last_known = false;
    size_t last_begin = 0; /* top before the last allocation, when last_known */
    fl_marker marks[LANES];
    size_t mark_top = 0, mark_count = 0;
    bool marked = false, full = false;
    for (uint64_t k = 0; k < ops; k++) {
        uint64_t r = full ? 999 : harness_next(&rng) % 1000; /* full: reset now */
        if (r < 600) {
            size_t size = harness_next(&rng) % 100 == 0 ? harness_range(&rng, 0, 3000) : harness_range(&rng, 1, 300);
            size_t alignment = random_alignment(&rng);
            size_t a = alignment ? alignment : FL_ALIGN_DEFAULT;
            bool valid = size >= 1 && (a & (a - 1)) == 0 && a <= FL_ALIGN_MAX;
            size_t here = start + top, pad = valid ? (a - here % a) % a : 0;
            bool fits = pad <= capacity - top && size <= capacity - top - pad;
            size_t off = 0;
            fl_status st = lanes_allocate(&ls, size, alignment, false, &off);
            fl_status expected = !valid ? FL_ERR_INVALID_PARAMETERS : !fits ? FL_ERR_OUT_OF_MEMORY : FL_OK;
            CHECK_MSG(st == expected, "allocate(%zu, %zu) at top %zu: %s, expected %s", size, alignment, top,
                      fl_status_str(st), fl_status_str(expected));
            full = st == FL_ERR_OUT_OF_MEMORY && harness_next(&rng) % 4 == 0; /* then reset, sometimes */
            if (st == FL_OK) {
                CHECK_EQ_SIZE(off, here + pad);
                CHECK(count < MAX_LIVE);
                live_block *m = &model[count++];
                m->offset = off;
                m->size = size;
                m->id = next_id++;
                fill_lanes(&ls, m);
                last_begin = top;
                last_known = true;
                top += pad + size;
            }
        } else if (r < 800) {
            if (count == 0) continue;
            /* The last allocation (its bytes come back) or an older one (accepted, kept). */
            bool newest = harness_next(&rng) % 2 == 0;
            size_t i = newest ? count - 1 : (size_t)(harness_next(&rng) % count);
            check_lanes(&ls, &model[i]);
            CHECK_OK(lanes_deallocate(&ls, model[i].offset));
            if (i == count - 1 && last_known) {
                top = last_begin;
                count--;
                last_known = false;
            }
        } else if (r < 900) {
            /* Refused: inside the last allocation, outside the used span, NULL, foreign. */
            size_t off;
            switch (harness_next(&rng) % 3) {
            case 0:
                if (!last_known || model[count - 1].size < 2) continue;
                off = model[count - 1].offset + harness_range(&rng, 1, model[count - 1].size - 1);
                break;
            case 1: off = start + top + harness_range(&rng, 0, 100); break;
            default: off = harness_next(&rng) % 2 ? OFF_NULL : OFF_FOREIGN; break;
            }
            if (off != OFF_NULL && off != OFF_FOREIGN && off >= BUFFER_BYTES) continue;
            CHECK_STATUS(lanes_deallocate(&ls, off), FL_ERR_INVALID_PARAMETERS);
        } else if (r < 950) {
            for (int i = 0; i < LANES; i++) marks[i] = fl_allocator_mark(ls.l[i].a);
            mark_top = top;
            mark_count = count;
            marked = true;
            last_known = false; /* a mark forgets the last allocation */
        } else if (r < 990 && marked && mark_top <= top && mark_count <= count) {
            for (size_t i = mark_count; i < count; i++) check_lanes(&ls, &model[i]);
            for (int i = 0; i < LANES; i++) CHECK_OK(fl_allocator_rewind(ls.l[i].a, marks[i]));
            top = mark_top;
            count = mark_count;
            last_known = false;
        } else if (r >= 997) {
            for (size_t i = 0; i < count; i++) check_lanes(&ls, &model[i]);
            for (int i = 0; i < LANES; i++) fl_allocator_reset(ls.l[i].a);
            top = count = 0;
            last_known = marked = full = false;
        }
        fl_allocator_get_stats(ls.l[1].a, &s);
        CHECK_EQ_SIZE(s.used_bytes, top);
        CHECK_EQ_SIZE(s.allocation_count, count);
        if (k % 4096 == 0) validate_lanes(&ls);
    }
    validate_lanes(&ls);
    fl_allocator_get_stats(ls.l[1].a, &s);
    CHECK(s.failed_allocations > 0 || ops < 50000); /* the full region was reached */
    lanes_destroy(&ls);
}

int main(void)
{
    buffers_raw = malloc(LANES * BUFFER_BYTES + FL_ALIGN_MAX);
    if (buffers_raw == NULL) return 1;
    buffers = buffers_raw + (FL_ALIGN_MAX - (uintptr_t)buffers_raw % FL_ALIGN_MAX) % FL_ALIGN_MAX;
    RUN(test_null_allocator);
    RUN(test_pool_refusals);
    RUN(test_pool_small_alignment);
    RUN(test_linear_paths);
    RUN(test_other_types);
    RUN(test_locked_allocators_lock);
    RUN(test_threads);
    RUN(test_pool_model);
    RUN(test_linear_model);
    free(buffers_raw);
    return harness_finish();
}
