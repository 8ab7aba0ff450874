/* Pressure levels and callbacks (src/memory/pressure.c): the ratio table and absolute
 * thresholds, per type and for the whole interface; callbacks once per rise, outside the
 * lock (they may allocate, free, register, unregister); the raise-and-retry before a
 * request fails; bad input; hysteresis (a level that falls only past a margin). */
#include "memory_test_util.h"

/* One pool class of 64-byte blocks and nothing else: used bytes move in exact steps. */
static fl_memory_config pool_only(size_t capacity, bool thread_safe)
{
    fl_memory_config c = small_config();
    memset(c.capacity, 0, sizeof c.capacity);
    memset(c.pool_classes, 0, sizeof c.pool_classes);
    c.pool_classes[0] = 64;
    c.capacity[FL_MEMORY_POOL] = capacity;
    c.emergency_reserve = 0;
    c.thread_safe = thread_safe;
    return c;
}

static fl_pressure_level expected_level(size_t available, size_t total, const size_t thr[4])
{
    if (total == 0) return FL_PRESSURE_NONE;
    if (available <= thr[3]) return FL_PRESSURE_CRITICAL;
    if (available <= thr[2]) return FL_PRESSURE_HIGH;
    if (available <= thr[1]) return FL_PRESSURE_MEDIUM;
    if (available <= thr[0]) return FL_PRESSURE_LOW;
    return FL_PRESSURE_NONE;
}

static void ratio_thresholds(size_t total, size_t thr[4])
{
    static const size_t pct[4] = {50, 25, 10, 5};
    for (int i = 0; i < 4; i++) thr[i] = total / 100 * pct[i] + total % 100 * pct[i] / 100;
}

static void test_ratio_levels(void)
{
    fl_memory_config c = pool_only(64 * KIB, false);
    fl_memory *m = make_memory(&c);
    fl_pressure_info p;
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_POOL, &p));
    CHECK(p.level == FL_PRESSURE_NONE && p.type == FL_MEMORY_POOL);
    size_t total = p.total_bytes, thr[4];
    CHECK(total > 60 * KIB && total <= 64 * KIB);
    ratio_thresholds(total, thr);
    fl_pressure_level seen = FL_PRESSURE_NONE;
    void *held[1024];
    size_t n = 0;
    fl_allocation a;
    while (fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &a) == FL_OK) {
        held[n++] = a.ptr;
        CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_POOL, &p));
        CHECK_EQ_SIZE(p.available_bytes, total - n * 64);
        CHECK_EQ_SIZE(p.total_bytes, total);
        CHECK(p.level == expected_level(p.available_bytes, total, thr));
        CHECK(p.level >= seen); /* monotonic while filling */
        double ratio = (double)(n * 64) / (double)total;
        CHECK(p.pressure_ratio > ratio - 1e-12 && p.pressure_ratio < ratio + 1e-12);
        seen = p.level;
        /* The whole interface has only this type here: same level. */
        fl_pressure_info all;
        CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_ALL_TYPES, &all));
        CHECK(all.type == FL_MEMORY_ALL_TYPES && all.level == p.level && all.available_bytes == p.available_bytes);
    }
    CHECK(seen == FL_PRESSURE_CRITICAL);
    while (n > 0) {
        CHECK_OK(fl_memory_deallocate(m, held[--n]));
        CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_POOL, &p));
        CHECK(p.level == expected_level(p.available_bytes, total, thr));
    }
    CHECK(p.level == FL_PRESSURE_NONE);
    /* A type without a region: None, 0 bytes. */
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_VIDEO, &p));
    CHECK(p.level == FL_PRESSURE_NONE && p.total_bytes == 0 && p.available_bytes == 0 && p.pressure_ratio == 0.0);
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

static void test_absolute_thresholds(void)
{
    fl_memory_config c = pool_only(64 * KIB, false);
    c.capacity[FL_MEMORY_NETWORK] = 64 * KIB;
    c.pressure[FL_MEMORY_POOL].low = 40000;
    c.pressure[FL_MEMORY_POOL].medium = 20000;
    c.pressure[FL_MEMORY_POOL].high = 8000;
    c.pressure[FL_MEMORY_POOL].critical = 2000;
    c.total_pressure.medium = 90000; /* over both types: Medium at 90000 available, no Low */
    fl_memory *m = make_memory(&c);
    const size_t thr[4] = {40000, 20000, 8000, 2000};
    fl_pressure_info p, all;
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_ALL_TYPES, &all));
    size_t total_all = all.total_bytes;
    fl_allocation a;
    while (fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &a) == FL_OK) {
        CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_POOL, &p));
        CHECK(p.level == expected_level(p.available_bytes, p.total_bytes, thr));
        CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_ALL_TYPES, &all));
        CHECK_EQ_SIZE(all.total_bytes, total_all);
        CHECK(all.level == (all.available_bytes <= 90000 ? FL_PRESSURE_MEDIUM : FL_PRESSURE_NONE));
    }
    CHECK(p.level == FL_PRESSURE_CRITICAL);
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

/* ---- callbacks ------------------------------------------------------------------------ */

typedef struct recorder {
    int calls[5];          /* per registered level */
    int by_type[FL_MEMORY_TYPE_COUNT + 1];
    fl_pressure_level last_level;
    fl_pressure_info last;
} recorder;

static recorder rec_low, rec_medium, rec_high;

static void record(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    recorder *r = user;
    r->calls[level]++;
    r->by_type[info->type]++;
    r->last_level = level;
    r->last = *info;
    CHECK(info->level == level);
    CHECK(info->available_bytes <= info->total_bytes);
}

static int total(const recorder *r) { return r->calls[0] + r->calls[1] + r->calls[2] + r->calls[3] + r->calls[4]; }

/* Allocates 64-byte blocks until the Pool type's level is `level`. */
static void fill_to(fl_memory *m, fl_pressure_level level, void **held, size_t *n)
{
    fl_pressure_info p;
    for (;;) {
        CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_POOL, &p));
        if (p.level >= level) return;
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &a));
        held[(*n)++] = a.ptr;
    }
}

static void drain_to(fl_memory *m, fl_pressure_level level, void **held, size_t *n)
{
    fl_pressure_info p;
    for (;;) {
        CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_POOL, &p));
        if (p.level <= level) return;
        CHECK(*n > 0);
        CHECK_OK(fl_memory_deallocate(m, held[--*n]));
    }
}

static void test_callbacks_once_per_rise(void)
{
    fl_memory_config c = pool_only(64 * KIB, true);
    fl_memory *m = make_memory(&c);
    memset(&rec_low, 0, sizeof rec_low);
    memset(&rec_medium, 0, sizeof rec_medium);
    memset(&rec_high, 0, sizeof rec_high);
    uint32_t id_low, id_medium, id_high;
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_LOW, record, &rec_low, &id_low));
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_MEDIUM, record, &rec_medium, &id_medium));
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_HIGH, record, &rec_high, &id_high));
    CHECK(id_low != 0 && id_medium != 0 && id_high != 0 && id_low != id_medium && id_medium != id_high);
    void *held[1100];
    size_t n = 0;
    fill_to(m, FL_PRESSURE_MEDIUM, held, &n);
    /* Pool and the whole interface both rose: each callback hears both. */
    CHECK(rec_low.by_type[FL_MEMORY_POOL] == 1 && rec_low.by_type[FL_MEMORY_ALL_TYPES] == 1);
    CHECK(rec_medium.by_type[FL_MEMORY_POOL] == 1 && total(&rec_high) == 0);
    CHECK(rec_medium.last_level == FL_PRESSURE_MEDIUM);
    /* Staying at Medium: nothing more. */
    for (int i = 0; i < 5; i++) {
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &a));
        held[n++] = a.ptr;
        CHECK_OK(fl_memory_deallocate(m, held[--n]));
    }
    CHECK(total(&rec_low) == 2 && total(&rec_medium) == 2);
    fill_to(m, FL_PRESSURE_HIGH, held, &n);
    CHECK(total(&rec_high) == 2 && total(&rec_medium) == 2 && total(&rec_low) == 2);
    /* Falling to Low fires nothing; rising again to Medium fires Medium (not Low: it never
     * fell below Low). */
    drain_to(m, FL_PRESSURE_LOW, held, &n);
    CHECK(total(&rec_medium) == 2);
    fill_to(m, FL_PRESSURE_MEDIUM, held, &n);
    CHECK(rec_medium.by_type[FL_MEMORY_POOL] == 2 && rec_low.by_type[FL_MEMORY_POOL] == 1);
    /* Down to None and straight to Critical in one call: each callback once, level Critical. */
    while (n > 0) CHECK_OK(fl_memory_deallocate(m, held[--n]));
    CHECK_OK(fl_memory_unregister_pressure_callback(m, id_low));
    CHECK_STATUS(fl_memory_unregister_pressure_callback(m, id_low), FL_ERR_INVALID_PARAMETERS);
    fl_memory_destroy(m);

    fl_memory_config c2 = pool_only(64 * KIB, true);
    c2.capacity[FL_MEMORY_NETWORK] = 256 * KIB;
    m = make_memory(&c2);
    memset(&rec_medium, 0, sizeof rec_medium);
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_MEDIUM, record, &rec_medium, &id_medium));
    fl_memory_stats net;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_NETWORK, &net));
    fl_allocation big;
    CHECK_OK(fl_memory_allocate_typed(m, net.largest_free_block, FL_MEMORY_NETWORK, 1, 0, &big));
    CHECK(rec_medium.by_type[FL_MEMORY_NETWORK] == 1 && rec_medium.last_level >= FL_PRESSURE_MEDIUM);
    CHECK(rec_medium.calls[FL_PRESSURE_CRITICAL] >= 1);
    CHECK(rec_medium.last.type == FL_MEMORY_NETWORK || rec_medium.last.type == FL_MEMORY_ALL_TYPES);
    CHECK_OK(fl_memory_deallocate(m, big.ptr));
    fl_memory_destroy(m);
}

/* A callback that uses the interface: allocates, frees, registers, unregisters itself. */
typedef struct busy {
    fl_memory *m;
    uint32_t self, other;
    int calls;
} busy;

static void noop_callback(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    (void)level; (void)info; (void)user;
}

static void busy_callback(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    (void)level; (void)info;
    busy *b = user;
    b->calls++;
    fl_allocation a;
    CHECK_OK(fl_memory_allocate_typed(b->m, 32, FL_MEMORY_NETWORK, 0, 0, &a));
    CHECK_OK(fl_memory_deallocate(b->m, a.ptr));
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_stats(b->m, &s));
    CHECK_OK(fl_memory_validate(b->m));
    if (b->other == 0) CHECK_OK(fl_memory_register_pressure_callback(b->m, FL_PRESSURE_LOW, noop_callback, NULL, &b->other));
    CHECK_OK(fl_memory_unregister_pressure_callback(b->m, b->self));
}

static void test_callbacks_reenter(void)
{
    fl_memory_config c = pool_only(64 * KIB, true);
    c.capacity[FL_MEMORY_NETWORK] = 64 * KIB;
    fl_memory *m = make_memory(&c);
    busy b = {m, 0, 0, 0};
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_LOW, busy_callback, &b, &b.self));
    void *held[1100];
    size_t n = 0;
    fill_to(m, FL_PRESSURE_LOW, held, &n);
    CHECK(b.calls == 1); /* it unregistered itself during the first call */
    CHECK(b.other != 0);
    CHECK_OK(fl_memory_unregister_pressure_callback(m, b.other));
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

/* A cache the game keeps in pool blocks, which it frees under pressure. */
typedef struct cache {
    fl_memory *m;
    void *blocks[64];
    size_t count;
    int calls;
    fl_pressure_level heard;
    bool release;
} cache;

static void release_cache(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    (void)info;
    cache *k = user;
    k->calls++;
    k->heard = level;
    if (!k->release) return;
    while (k->count > 0) CHECK_OK(fl_memory_deallocate(k->m, k->blocks[--k->count]));
}

static void test_raise_and_retry(void)
{
    fl_memory_config c = pool_only(64 * KIB, true);
    fl_memory *m = make_memory(&c);
    cache k;
    memset(&k, 0, sizeof k);
    k.m = m;
    k.release = true;
    fl_allocation a;
    for (int i = 0; i < 64; i++) {
        CHECK_OK(fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &a));
        k.blocks[k.count++] = a.ptr;
    }
    uint32_t id;
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_CRITICAL, release_cache, &k, &id));
    void *held[1100];
    size_t n = 0;
    while (fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &a) == FL_OK) {
        held[n++] = a.ptr;
        if (k.count == 0) break; /* the callback ran when Critical was reached */
    }
    CHECK(k.calls >= 1);
    /* Full again: one more request raises nothing new (the level already is Critical). */
    CHECK_OK(fl_memory_unregister_pressure_callback(m, id));
    while (fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &a) == FL_OK) held[n++] = a.ptr;
    fl_memory_stats s0, s1;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_POOL, &s0));
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_HIGH, release_cache, &k, &id));
    int calls = k.calls;
    CHECK_STATUS(fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &a), FL_ERR_OUT_OF_MEMORY);
    CHECK(k.calls == calls);
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_POOL, &s1));
    CHECK(s1.failed_allocations == s0.failed_allocations + 1); /* counted once */
    CHECK_OK(fl_memory_deallocate(m, held[--n]));
    CHECK_OK(fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &a));
    held[n++] = a.ptr;
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);

    /* A request that would fail raises its type's pressure first: the callback frees the
     * cache it holds, and the retry succeeds. */
    fl_memory_config c2 = small_config();
    m = make_memory(&c2);
    memset(&k, 0, sizeof k);
    k.m = m;
    k.release = true;
    CHECK_OK(fl_memory_allocate_typed(m, 30 * KIB, FL_MEMORY_NETWORK, 0, 0, &a));
    k.blocks[k.count++] = a.ptr;
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_HIGH, release_cache, &k, &id));
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_NETWORK, &s0));
    CHECK_OK(fl_memory_allocate_typed(m, 50 * KIB, FL_MEMORY_NETWORK, 0, 0, &a));
    CHECK(k.calls == 1 && k.heard == FL_PRESSURE_CRITICAL && k.count == 0);
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_NETWORK, &s1));
    CHECK(s1.failed_allocations == s0.failed_allocations);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    CHECK_OK(fl_memory_unregister_pressure_callback(m, id));
    /* A request too large for a type under no pressure still raises it (to Critical), once:
     * the next failure calls nobody until the type's level changes. */
    memset(&k, 0, sizeof k);
    k.m = m;
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_MEDIUM, release_cache, &k, &id));
    CHECK_STATUS(fl_memory_allocate_typed(m, 1 * MIB, FL_MEMORY_NETWORK, 0, 0, &a), FL_ERR_OUT_OF_MEMORY);
    CHECK(k.calls == 1 && k.heard == FL_PRESSURE_CRITICAL);
    CHECK_STATUS(fl_memory_allocate_typed(m, 1 * MIB, FL_MEMORY_NETWORK, 0, 0, &a), FL_ERR_OUT_OF_MEMORY);
    CHECK(k.calls == 1);
    fl_pressure_info p;
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_NETWORK, &p));
    CHECK(p.level == FL_PRESSURE_CRITICAL);
    CHECK_OK(fl_memory_allocate_typed(m, 16, FL_MEMORY_NETWORK, 0, 0, &a)); /* a change: the real level again */
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_NETWORK, &p));
    CHECK(p.level == FL_PRESSURE_NONE);
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

static void test_bad_input_and_table(void)
{
    fl_memory_config c = pool_only(64 * KIB, false);
    fl_memory *m = make_memory(&c);
    uint32_t id, ids[FL_PRESSURE_CALLBACK_MAX];
    fl_pressure_info p;
    CHECK_STATUS(fl_memory_register_pressure_callback(NULL, FL_PRESSURE_LOW, noop_callback, NULL, &id),
                 FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_register_pressure_callback(m, FL_PRESSURE_LOW, NULL, NULL, &id), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_register_pressure_callback(m, FL_PRESSURE_LOW, noop_callback, NULL, NULL),
                 FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_register_pressure_callback(m, FL_PRESSURE_NONE, noop_callback, NULL, &id),
                 FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_register_pressure_callback(m, (fl_pressure_level)5, noop_callback, NULL, &id),
                 FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_unregister_pressure_callback(m, 0), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_unregister_pressure_callback(m, 12345), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("12345"));
    CHECK_STATUS(fl_memory_unregister_pressure_callback(NULL, 1), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_pressure(NULL, FL_MEMORY_POOL, &p), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_pressure(m, FL_MEMORY_POOL, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_get_pressure(m, (fl_memory_type)(FL_MEMORY_TYPE_COUNT + 1), &p), FL_ERR_INVALID_PARAMETERS);
    for (int i = 0; i < FL_PRESSURE_CALLBACK_MAX; i++) {
        CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_HIGH, noop_callback, NULL, &ids[i]));
        for (int j = 0; j < i; j++) CHECK(ids[j] != ids[i]);
    }
    CHECK_STATUS(fl_memory_register_pressure_callback(m, FL_PRESSURE_HIGH, noop_callback, NULL, &id),
                 FL_ERR_OUT_OF_MEMORY);
    CHECK_OK(fl_memory_unregister_pressure_callback(m, ids[7]));
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_HIGH, noop_callback, NULL, &id));
    CHECK(id != ids[7]); /* ids are not reused while registrations go on */
    fl_memory_destroy(m);
}

/* ---- hysteresis ------------------------------------------------------------------------ */

/* The level a model of fl_pressure_thresholds.hysteresis expects after a change: the table's
 * level when that is higher than the one held, else the held one as long as the available
 * bytes minus the margin still reach it, else as far down as they reach. */
static fl_pressure_level expected_held(fl_pressure_level held, size_t available, size_t total, const size_t thr[4],
                                       size_t margin)
{
    fl_pressure_level table = expected_level(available, total, thr);
    if (table >= held) return table;
    fl_pressure_level reach = expected_level(available > margin ? available - margin : 0, total, thr);
    return reach < held ? reach : held;
}

static void test_hysteresis(void)
{
    const size_t margin = 64 * 64; /* 64 blocks */
    fl_memory_config c = pool_only(64 * KIB, false);
    c.pressure[FL_MEMORY_POOL].low = 24000;
    c.pressure[FL_MEMORY_POOL].medium = 16000;
    c.pressure[FL_MEMORY_POOL].high = 8000;
    c.pressure[FL_MEMORY_POOL].critical = 2000;
    c.pressure[FL_MEMORY_POOL].hysteresis = margin;
    const size_t thr[4] = {24000, 16000, 8000, 2000};
    fl_memory *m = make_memory(&c);
    memset(&rec_low, 0, sizeof rec_low);
    uint32_t id;
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_LOW, record, &rec_low, &id));
    void *held[1100];
    size_t n = 0;
    fill_to(m, FL_PRESSURE_LOW, held, &n);
    CHECK(rec_low.by_type[FL_MEMORY_POOL] == 1);
    /* Around the threshold, one block either way: the level holds and nothing fires again
     * (with no margin each step back up would be a new rise and a new callback). */
    fl_pressure_info p;
    for (int i = 0; i < 20; i++) {
        CHECK_OK(fl_memory_deallocate(m, held[--n]));
        CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_POOL, &p));
        CHECK(p.available_bytes > thr[0] && p.level == FL_PRESSURE_LOW);
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &a));
        held[n++] = a.ptr;
        CHECK_OK(fl_memory_validate(m));
    }
    CHECK(rec_low.by_type[FL_MEMORY_POOL] == 1);
    /* It falls exactly when the available bytes pass threshold + margin. */
    for (;;) {
        CHECK_OK(fl_memory_deallocate(m, held[--n]));
        CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_POOL, &p));
        if (p.available_bytes > thr[0] + margin) {
            CHECK(p.level == FL_PRESSURE_NONE);
            break;
        }
        CHECK(p.level == FL_PRESSURE_LOW);
    }
    /* Fallen, it rises again at the threshold itself, and that rise is heard. */
    fill_to(m, FL_PRESSURE_LOW, held, &n);
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_POOL, &p));
    CHECK(p.available_bytes <= thr[0] && p.available_bytes + 64 > thr[0]);
    CHECK(rec_low.by_type[FL_MEMORY_POOL] == 2);

    /* A random walk over every level against the model, validate all along. */
    harness_rng rng = harness_rng_seeded("hysteresis walk", 0x4a11);
    fl_pressure_level model = p.level;
    size_t steps = 20000, refused = 0; /* not scaled: the walk must reach every level */
    unsigned seen = 0;
    for (size_t i = 0; i < steps; i++) {
        /* Drift up for 1,500 steps, then down, 3 steps in 4 the drift's way: every level
         * is crossed both ways many times, one block at a time, and the pool fills. */
        bool drift_up = (i / 1500) % 2 == 0;
        bool up = n == 0 || ((harness_next(&rng) & 3u) != 0) == drift_up;
        fl_allocation a;
        bool served = false;
        if (up) {
            served = fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &a) == FL_OK;
            if (served)
                held[n++] = a.ptr;
            else
                refused++;
        }
        if (!served && n > 0) CHECK_OK(fl_memory_deallocate(m, held[--n]));
        CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_POOL, &p));
        /* A refused request (a full pool) raised the level to Critical for its retry; the
         * free that followed it in this step recomputed it from the held level. */
        model = expected_held(model, p.available_bytes, p.total_bytes, thr, margin);
        CHECK(p.level == model);
        seen |= 1u << p.level;
        if (i % 1000 == 0) CHECK_OK(fl_memory_validate(m));
    }
    CHECK(seen == 0x1fu && refused > 0); /* every level, and a full pool, were reached */
    while (n > 0) CHECK_OK(fl_memory_deallocate(m, held[--n]));
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_POOL, &p));
    CHECK(p.level == FL_PRESSURE_NONE);
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);

    /* The table's levels (no absolute thresholds) take a margin too. */
    fl_memory_config t = pool_only(64 * KIB, false);
    t.pressure[FL_MEMORY_POOL].hysteresis = margin;
    m = make_memory(&t);
    n = 0;
    fill_to(m, FL_PRESSURE_LOW, held, &n);
    CHECK_OK(fl_memory_deallocate(m, held[--n]));
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_POOL, &p));
    CHECK(p.level == FL_PRESSURE_LOW && p.available_bytes > p.total_bytes / 2);
    while (n > 0) CHECK_OK(fl_memory_deallocate(m, held[--n]));
    fl_memory_destroy(m);

    /* A margin beyond the capacity could never let a level fall: refused, nothing made. */
    fl_memory_config bad = pool_only(64 * KIB, false);
    bad.pressure[FL_MEMORY_POOL].hysteresis = 64 * KIB + 1;
    fl_memory *none = NULL;
    CHECK_STATUS(fl_memory_create(&bad, &none), FL_ERR_INVALID_PARAMETERS);
    CHECK(none == NULL && message_has("hysteresis"));
    bad = pool_only(64 * KIB, false);
    bad.total_pressure.hysteresis = SIZE_MAX;
    CHECK_STATUS(fl_memory_create(&bad, &none), FL_ERR_INVALID_PARAMETERS);
    CHECK(none == NULL && message_has("total pressure hysteresis"));
}

int main(void)
{
    RUN(test_ratio_levels);
    RUN(test_absolute_thresholds);
    RUN(test_callbacks_once_per_rise);
    RUN(test_callbacks_reenter);
    RUN(test_raise_and_retry);
    RUN(test_bad_input_and_table);
    RUN(test_hysteresis);
    return harness_finish();
}
