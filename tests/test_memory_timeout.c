/*
 * Requests that wait for memory (fl_alloc_request.timeout_ms, src/memory/wait.c): a
 * waiter is woken by another thread's free and succeeds long before its timeout; with
 * nobody freeing it fails with FL_ERR_TIMEOUT after at least its timeout; the pressure
 * callbacks and their retry come first; 0, a single-threaded interface, a platform
 * without condition variables or clock, and a size no region could ever hold fail at once
 * with FL_ERR_OUT_OF_MEMORY; rewind, record frees and defragmentation wake waiters too;
 * nobody is woken (no broadcast) when nobody waits; the statistics stay exact.
 *
 * Time is read from the platform's own now_ns (the clock the interface measures its
 * deadlines on); the thread that frees first waits until the waiter is really asleep
 * (the fake platform counts cond_wait calls).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include "memory_test_util.h"
#include "platform_caps.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

static fake_platform fake;

static uint64_t now_ns(void)
{
    const fl_platform_hooks *p = fl_platform_default();
    return p->now_ns(p->user);
}

static double ms_since(uint64_t start) { return (double)(now_ns() - start) / 1e6; }

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Polls until `n` threads have gone to sleep in cond_wait (at most 10 s). */
static bool wait_for_sleepers(size_t n)
{
    for (int i = 0; i < 10000; i++) {
        if (fake_calls(&fake, FAKE_COND_WAIT) >= n) return true;
        sleep_ms(1);
    }
    return false;
}

/* A thread thread-safe interfaces are built on: the fake over the real table. */
static fl_memory_config waiting_config(void)
{
    fake_platform_init(&fake, fl_platform_default());
    fl_memory_config c = small_config();
    c.thread_safe = true;
    c.platform = &fake.hooks;
    return c;
}

typedef struct waiter {
    fl_memory *m;
    fl_alloc_request req;
    fl_status status;
    fl_allocation a;
    uint64_t start, end;
    char message[160];
} waiter;

static void *wait_thread(void *p)
{
    waiter *w = p;
    w->start = now_ns();
    w->status = fl_memory_allocate_request(w->m, &w->req, &w->a);
    w->end = now_ns();
    if (w->status != FL_OK) {
        strncpy(w->message, fl_last_error()->message, sizeof w->message - 1);
        w->message[sizeof w->message - 1] = '\0';
    }
    return NULL;
}

static void start_tagged_waiter(waiter *w, pthread_t *t, fl_memory *m, size_t size, fl_memory_type type,
                                uint32_t timeout, const char *tag)
{
    memset(w, 0, sizeof *w);
    w->m = m;
    w->req = fl_make_allocation_request(size, type, 0, 0);
    w->req.timeout_ms = timeout;
    w->req.tag = tag;
    w->status = FL_ERR_INVALID_STATE; /* not run yet */
    CHECK(pthread_create(t, NULL, wait_thread, w) == 0);
}

static void start_waiter(waiter *w, pthread_t *t, fl_memory *m, size_t size, fl_memory_type type, uint32_t timeout)
{
    start_tagged_waiter(w, t, m, size, type, timeout, NULL);
}

static fl_memory_stats type_stats(fl_memory *m, fl_memory_type t)
{
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_type_stats(m, t, &s));
    return s;
}

/* ---- woken by a free ---------------------------------------------------------------------- */

static void test_waiter_woken_by_free(void)
{
    fl_memory_config c = waiting_config();
    fl_memory *m = make_memory(&c);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_COND_INIT), 1);
    fl_allocation big;
    CHECK_OK(fl_memory_allocate_typed(m, 700 * KIB, FL_MEMORY_SYSTEM, 0, 0, &big));
    fl_allocation probe;
    CHECK_STATUS(fl_memory_allocate_typed(m, 500 * KIB, FL_MEMORY_SYSTEM, 0, 0, &probe), FL_ERR_OUT_OF_MEMORY);
    fl_memory_stats before = type_stats(m, FL_MEMORY_SYSTEM);
    CHECK(before.failed_allocations == 1);

    waiter w;
    pthread_t t;
    start_waiter(&w, &t, m, 500 * KIB, FL_MEMORY_SYSTEM, 2000);
    CHECK(wait_for_sleepers(1));
    sleep_ms(50);
    /* Asleep, not polling: in those 50 ms it did not come back for another cond_wait. */
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_COND_WAIT), 1);
    uint64_t freed_at = now_ns();
    CHECK_OK(fl_memory_deallocate(m, big.ptr));
    pthread_join(t, NULL);

    CHECK_MSG(w.status == FL_OK, "waiter: %s (%s)", fl_status_str(w.status), w.message);
    CHECK(w.end >= freed_at);                  /* served only once the memory came back */
    double waited = (double)(w.end - w.start) / 1e6;
    CHECK_MSG(waited < 1000.0, "the waiter took %.1f ms of its 2000", waited); /* well before its timeout */
    CHECK(waited >= 40.0);                      /* it really waited for the free */
    CHECK(fake_calls(&fake, FAKE_COND_BROADCAST) >= 1);
    CHECK(w.a.size >= 500 * KIB && w.a.type == FL_MEMORY_SYSTEM);
    harness_fill(w.a.ptr, w.a.size, 7);
    CHECK(harness_pattern_ok(w.a.ptr, w.a.size, 7));

    /* Exact: one more allocation, no more failures. */
    fl_memory_stats after = type_stats(m, FL_MEMORY_SYSTEM);
    CHECK(after.failed_allocations == before.failed_allocations);
    CHECK(after.total_allocations == before.total_allocations + 1);
    CHECK(after.total_deallocations == before.total_deallocations + 1);
    CHECK_EQ_SIZE(after.allocation_count, 1);
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
    CHECK_OK(fl_memory_deallocate(m, w.a.ptr));
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake)); /* the condition variable is destroyed too */
}

/* One free can satisfy several waiters: every one is woken (broadcast). */
static void test_every_waiter_woken(void)
{
    fl_memory_config c = waiting_config();
    fl_memory *m = make_memory(&c);
    fl_allocation big;
    CHECK_OK(fl_memory_allocate_typed(m, 900 * KIB, FL_MEMORY_SYSTEM, 0, 0, &big));
    waiter w[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) start_waiter(&w[i], &t[i], m, 250 * KIB, FL_MEMORY_SYSTEM, 2000);
    CHECK(wait_for_sleepers(3));
    sleep_ms(20);
    CHECK_OK(fl_memory_deallocate(m, big.ptr));
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 3; i++) {
        CHECK_MSG(w[i].status == FL_OK, "waiter %d: %s (%s)", i, fl_status_str(w[i].status), w[i].message);
        CHECK((double)(w[i].end - w[i].start) / 1e6 < 1000.0);
    }
    fl_memory_stats s = type_stats(m, FL_MEMORY_SYSTEM);
    CHECK(s.failed_allocations == 0 && s.allocation_count == 3 && s.total_allocations == 4);
    CHECK_OK(fl_memory_validate(m));
    for (int i = 0; i < 3; i++) CHECK_OK(fl_memory_deallocate(m, w[i].a.ptr));
    check_identities(m);
    fl_memory_destroy(m);
    CHECK(fake_live_clean(&fake));
}

/* ---- the timeout -------------------------------------------------------------------------- */

static void test_timeout_expires(void)
{
    fl_memory_config c = waiting_config();
    fl_memory *m = make_memory(&c);
    fl_allocation big;
    CHECK_OK(fl_memory_allocate_typed(m, 700 * KIB, FL_MEMORY_SYSTEM, 0, 0, &big));
    fl_memory_stats sys0 = type_stats(m, FL_MEMORY_SYSTEM), all0;
    CHECK_OK(fl_memory_get_stats(m, &all0));

    fl_alloc_request r = fl_make_allocation_request(500 * KIB, FL_MEMORY_SYSTEM, 0, 0);
    r.timeout_ms = 150;
    fl_allocation out;
    memset(&out, 0xCD, sizeof out);
    fl_allocation untouched = out;
    uint64_t start = now_ns();
    clock_t cpu0 = clock();
    CHECK_STATUS(fl_memory_allocate_request(m, &r, &out), FL_ERR_TIMEOUT);
    double took = ms_since(start);
    /* No busy loop: the 150 ms were slept in a handful of cond_waits (one, but for
     * spurious wake-ups), and cost the process far less than 150 ms of CPU (where clock()
     * measures CPU time: platform_caps.h). */
    double cpu_ms = 1000.0 * (double)(clock() - cpu0) / CLOCKS_PER_SEC;
    CHECK_MSG(fake_calls(&fake, FAKE_COND_WAIT) <= 3, "%zu cond_waits in one timeout", fake_calls(&fake, FAKE_COND_WAIT));
    if (CAPS_CPU_CLOCK) CHECK_MSG(cpu_ms < 50.0, "the wait used %.1f ms of CPU", cpu_ms);
    CHECK_MSG(took >= 150.0, "timed out after %.1f ms of 150", took);
    CHECK_MSG(took < 150.0 + 3000.0, "timed out after %.1f ms of 150", took); /* generous: loaded machines */
    CHECK(message_has("150 ms"));
    CHECK(fl_last_error()->category == FL_ERR_TIMEOUT);
    CHECK(memcmp(&out, &untouched, sizeof out) == 0);
    CHECK(fake_calls(&fake, FAKE_COND_WAIT) >= 1);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_COND_BROADCAST), 0); /* nobody freed */

    /* Counted once, as a failure of its type, and nothing else changed. */
    fl_memory_stats sys1 = type_stats(m, FL_MEMORY_SYSTEM), all1;
    CHECK_OK(fl_memory_get_stats(m, &all1));
    CHECK(sys1.failed_allocations == sys0.failed_allocations + 1);
    CHECK(all1.failed_allocations == all0.failed_allocations + 1);
    CHECK(sys1.total_allocations == sys0.total_allocations && sys1.used_bytes == sys0.used_bytes);
    CHECK(all1.allocation_count == all0.allocation_count && all1.used_bytes == all0.used_bytes);
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);

    /* The same request, with a thread that frees half way through a long timeout. */
    waiter w;
    pthread_t t;
    size_t waits = fake_calls(&fake, FAKE_COND_WAIT);
    start_waiter(&w, &t, m, 500 * KIB, FL_MEMORY_SYSTEM, 5000);
    CHECK(wait_for_sleepers(waits + 1));
    CHECK_OK(fl_memory_deallocate(m, big.ptr));
    pthread_join(t, NULL);
    CHECK(w.status == FL_OK);
    CHECK((double)(w.end - w.start) / 1e6 < 2500.0); /* woken, not served by the last try at 5 s */
    CHECK_OK(fl_memory_deallocate(m, w.a.ptr));
    CHECK(type_stats(m, FL_MEMORY_SYSTEM).failed_allocations == sys0.failed_allocations + 1);
    fl_memory_destroy(m);
}

/* ---- pressure comes first ------------------------------------------------------------------ */

static fl_memory *pressure_m;
static void *pressure_victim;
static size_t pressure_calls, waits_seen_by_callback;

static void free_victim(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    (void)level;
    (void)info;
    (void)user;
    pressure_calls++;
    waits_seen_by_callback = fake_calls(&fake, FAKE_COND_WAIT);
    if (pressure_victim) {
        CHECK_OK(fl_memory_deallocate(pressure_m, pressure_victim)); /* allowed: outside the lock */
        pressure_victim = NULL;
    }
}

static void test_pressure_callbacks_run_before_waiting(void)
{
    fl_memory_config c = waiting_config();
    fl_memory *m = make_memory(&c);
    pressure_m = m;
    uint32_t id;
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_CRITICAL, free_victim, NULL, &id));
    fl_allocation big;
    CHECK_OK(fl_memory_allocate_typed(m, 700 * KIB, FL_MEMORY_SYSTEM, 0, 0, &big));

    /* The callback frees enough: served by the retry, no waiting at all. */
    pressure_victim = big.ptr;
    pressure_calls = 0;
    fl_alloc_request r = fl_make_allocation_request(500 * KIB, FL_MEMORY_SYSTEM, 0, 0);
    r.timeout_ms = 2000;
    fl_allocation a;
    uint64_t start = now_ns();
    CHECK_OK(fl_memory_allocate_request(m, &r, &a));
    CHECK(ms_since(start) < 1000.0);
    CHECK_EQ_SIZE(pressure_calls, 1);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_COND_WAIT), 0);
    CHECK(type_stats(m, FL_MEMORY_SYSTEM).failed_allocations == 0);

    /* The callback frees nothing: it still runs first, once, then the request waits. */
    pressure_calls = 0;
    r.timeout_ms = 60;
    fl_allocation b;
    start = now_ns();
    CHECK_STATUS(fl_memory_allocate_request(m, &r, &b), FL_ERR_TIMEOUT);
    CHECK(ms_since(start) >= 60.0);
    CHECK_EQ_SIZE(pressure_calls, 1);
    CHECK_EQ_SIZE(waits_seen_by_callback, 0);
    CHECK(fake_calls(&fake, FAKE_COND_WAIT) >= 1);
    CHECK(type_stats(m, FL_MEMORY_SYSTEM).failed_allocations == 1);
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    CHECK_OK(fl_memory_unregister_pressure_callback(m, id));
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

/* ---- failing at once ---------------------------------------------------------------------- */

/* `r` must fail with OUT_OF_MEMORY without sleeping, counted once. */
static void check_fails_at_once(fl_memory *m, const fl_alloc_request *r)
{
    fl_memory_stats before = type_stats(m, r->preferred_type);
    size_t waits = fake_calls(&fake, FAKE_COND_WAIT);
    fl_allocation a;
    uint64_t start = now_ns();
    CHECK_STATUS(fl_memory_allocate_request(m, r, &a), FL_ERR_OUT_OF_MEMORY);
    CHECK(ms_since(start) < 500.0);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_COND_WAIT), waits);
    CHECK(type_stats(m, r->preferred_type).failed_allocations == before.failed_allocations + 1);
}

static void test_fails_at_once_when_waiting_cannot_help(void)
{
    fl_memory_config c = waiting_config();
    fl_memory *m = make_memory(&c);
    fl_allocation big;
    CHECK_OK(fl_memory_allocate_typed(m, 700 * KIB, FL_MEMORY_SYSTEM, 0, 0, &big));
    fl_alloc_request r = fl_make_allocation_request(500 * KIB, FL_MEMORY_SYSTEM, 0, 0);
    r.timeout_ms = 0; /* 0: fail at once */
    check_fails_at_once(m, &r);
    /* Larger than any region of its route could ever hold. */
    r = fl_make_allocation_request(2 * MIB, FL_MEMORY_SYSTEM, 0, 0);
    r.timeout_ms = 5000;
    check_fails_at_once(m, &r);
    r = fl_make_allocation_request(2 * MIB, FL_MEMORY_SYSTEM, 0, FL_FLAG_CRITICAL); /* the reserve neither */
    r.timeout_ms = 5000;
    check_fails_at_once(m, &r);
    CHECK_OK(fl_memory_deallocate(m, big.ptr));
    fl_memory_destroy(m);

    /* Not thread-safe: no other thread may free meanwhile. */
    c = waiting_config();
    c.thread_safe = false;
    m = make_memory(&c);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_COND_INIT), 0);
    CHECK_OK(fl_memory_allocate_typed(m, 700 * KIB, FL_MEMORY_SYSTEM, 0, 0, &big));
    r = fl_make_allocation_request(500 * KIB, FL_MEMORY_SYSTEM, 0, 0);
    r.timeout_ms = 5000;
    check_fails_at_once(m, &r);
    fl_memory_destroy(m);

    /* A platform without condition variables (the freestanding one), one whose cond_init
     * refuses, and one without a clock: the interface works, requests do not wait. */
    for (int variant = 0; variant < 3; variant++) {
        c = waiting_config();
        if (variant == 0) fake.hooks.cond_init = NULL;
        if (variant == 1) fake_fail_nth(&fake, FAKE_COND_INIT, 1);
        if (variant == 2) fake.hooks.now_ns = NULL;
        m = make_memory(&c);
        CHECK_OK(fl_memory_allocate_typed(m, 700 * KIB, FL_MEMORY_SYSTEM, 0, 0, &big));
        check_fails_at_once(m, &r);
        CHECK_OK(fl_memory_deallocate(m, big.ptr));
        CHECK_OK(fl_memory_validate(m));
        fl_memory_destroy(m);
        CHECK(fake_live_clean(&fake));
    }

    /* The freestanding table itself (a console's): no locks, so no thread-safe interface,
     * and a single-threaded one fails a timeout request at once. */
    c = small_config();
    c.platform = fli_platform_freestanding();
    size_t need;
    CHECK_OK(fl_memory_backing_size(&c, &need));
    void *block = malloc(need);
    CHECK(block != NULL);
    c.backing_memory = block;
    c.backing_size = need;
    c.thread_safe = true;
    fl_memory *none = NULL;
    CHECK_STATUS(fl_memory_create(&c, &none), FL_ERR_PLATFORM);
    c.thread_safe = false;
    m = make_memory(&c);
    CHECK_OK(fl_memory_allocate_typed(m, 700 * KIB, FL_MEMORY_SYSTEM, 0, 0, &big));
    check_fails_at_once(m, &r);
    fl_memory_destroy(m);
    free(block);
}

/* Freeing, rewinding and resetting wake nobody while nobody waits. */
static void test_no_broadcast_without_waiters(void)
{
    fl_memory_config c = waiting_config();
    fl_memory *m = make_memory(&c);
    fl_allocation a;
    for (int i = 0; i < 100; i++) {
        CHECK_OK(fl_memory_allocate_typed(m, 100 + (size_t)i, FL_MEMORY_SYSTEM, 0, 0, &a));
        CHECK_OK(fl_memory_deallocate(m, a.ptr));
        CHECK_OK(fl_memory_allocate_typed(m, 64, FL_MEMORY_TEMPORARY, 0, 0, &a));
    }
    CHECK_OK(fl_memory_rewind(m, FL_MEMORY_TEMPORARY, (fl_marker){0, 0, 0}));
    fl_allocator *h;
    CHECK_OK(fl_memory_get_allocator(m, FL_ALLOCATOR_FREELIST, &h));
    fl_allocator_reset(h);
    CHECK_OK(fl_memory_defragment(m, NULL, NULL, NULL));
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_COND_BROADCAST), 0);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_COND_WAIT), 0);
    fl_memory_destroy(m);
    CHECK_EQ_SIZE(fake_calls(&fake, FAKE_COND_DESTROY), 1);
    CHECK(fake_live_clean(&fake));
}

/* ---- other wake-ups ------------------------------------------------------------------------ */

static void test_woken_by_rewind_and_record_free(void)
{
    fl_memory_config c = waiting_config();
    c.max_records = 2;
    fl_memory *m = make_memory(&c);

    /* A frame region full until the frame is rewound. */
    fl_allocation frame;
    CHECK_OK(fl_memory_allocate_typed(m, 200 * KIB, FL_MEMORY_TEMPORARY, 0, 0, &frame));
    waiter w;
    pthread_t t;
    start_waiter(&w, &t, m, 100 * KIB, FL_MEMORY_TEMPORARY, 2000);
    CHECK(wait_for_sleepers(1));
    CHECK_OK(fl_memory_rewind(m, FL_MEMORY_TEMPORARY, (fl_marker){0, 0, 0}));
    pthread_join(t, NULL);
    CHECK(w.status == FL_OK && w.a.type == FL_MEMORY_TEMPORARY);
    CHECK((double)(w.end - w.start) / 1e6 < 1000.0);

    /* The record table is full: a tagged request waits for a tagged allocation's free. */
    fl_alloc_request tagged = fl_make_allocation_request(64, FL_MEMORY_SYSTEM, 0, 0);
    tagged.tag = "texture";
    fl_allocation x, y;
    CHECK_OK(fl_memory_allocate_request(m, &tagged, &x));
    CHECK_OK(fl_memory_allocate_request(m, &tagged, &y));
    size_t waits = fake_calls(&fake, FAKE_COND_WAIT);
    start_tagged_waiter(&w, &t, m, 64, FL_MEMORY_SYSTEM, 2000, "late");
    CHECK(wait_for_sleepers(waits + 1));
    CHECK_OK(fl_memory_deallocate(m, x.ptr));
    pthread_join(t, NULL);
    CHECK_MSG(w.status == FL_OK, "%s (%s)", fl_status_str(w.status), w.message);
    CHECK((double)(w.end - w.start) / 1e6 < 1000.0);
    const char *tag = NULL;
    CHECK_OK(fl_memory_get_allocation_tag(m, w.a.ptr, &tag));
    CHECK(tag != NULL && strcmp(tag, "late") == 0);
    CHECK_OK(fl_memory_validate(m));
    CHECK_OK(fl_memory_deallocate(m, y.ptr));
    CHECK_OK(fl_memory_deallocate(m, w.a.ptr));
    check_identities(m);
    fl_memory_destroy(m);
}

/* Defragmentation makes free space contiguous: a waiter for a large block is woken. */
typedef struct tracked {
    void *ptr;
    size_t size;
    uint64_t id;
} tracked;

static void follow(void *old_ptr, void *new_ptr, size_t size, void *user)
{
    tracked *b = user;
    CHECK(b->ptr == old_ptr && b->size == size);
    b->ptr = new_ptr;
}

static void test_woken_by_defragmentation(void)
{
    fl_memory_config c = waiting_config();
    fl_memory *m = make_memory(&c);
    enum { N = 24 };
    tracked blocks[N];
    for (int i = 0; i < N; i++) {
        fl_alloc_request r = fl_make_allocation_request(32 * KIB, FL_MEMORY_SYSTEM, 0, FL_FLAG_RELOCATABLE);
        r.on_relocate = follow;
        r.relocate_user = &blocks[i];
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_request(m, &r, &a));
        blocks[i].ptr = a.ptr;
        blocks[i].size = a.size;
        blocks[i].id = (uint64_t)i + 100;
        harness_fill(a.ptr, a.size, blocks[i].id);
    }
    for (int i = 0; i < N; i += 2) { /* 32 KiB holes between live blocks */
        CHECK_OK(fl_memory_deallocate(m, blocks[i].ptr));
        blocks[i].ptr = NULL;
    }
    fl_memory_stats s = type_stats(m, FL_MEMORY_SYSTEM);
    CHECK(s.largest_free_block < 300 * KIB && s.free_bytes > 500 * KIB);
    waiter w;
    pthread_t t;
    start_waiter(&w, &t, m, 300 * KIB, FL_MEMORY_SYSTEM, 3000);
    CHECK(wait_for_sleepers(1));
    fl_defrag_result res;
    CHECK_OK(fl_memory_defragment(m, NULL, NULL, &res));
    pthread_join(t, NULL);
    CHECK_MSG(w.status == FL_OK, "%s (%s)", fl_status_str(w.status), w.message);
    CHECK((double)(w.end - w.start) / 1e6 < 2000.0);
    CHECK(res.allocations_moved > 0);
    CHECK(fake_calls(&fake, FAKE_COND_BROADCAST) >= 1);
    for (int i = 1; i < N; i += 2) CHECK(harness_pattern_ok(blocks[i].ptr, blocks[i].size, blocks[i].id));
    CHECK_OK(fl_memory_validate(m));
    for (int i = 1; i < N; i += 2) CHECK_OK(fl_memory_deallocate(m, blocks[i].ptr));
    CHECK_OK(fl_memory_deallocate(m, w.a.ptr));
    check_identities(m);
    fl_memory_destroy(m);
}

int main(void)
{
    RUN(test_waiter_woken_by_free);
    RUN(test_every_waiter_woken);
    RUN(test_timeout_expires);
    RUN(test_pressure_callbacks_run_before_waiting);
    RUN(test_fails_at_once_when_waiting_cannot_help);
    RUN(test_no_broadcast_without_waiters);
    RUN(test_woken_by_rewind_and_record_free);
    RUN(test_woken_by_defragmentation);
    return harness_finish();
}
