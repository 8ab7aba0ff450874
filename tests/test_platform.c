/*
 * The platform layer (src/platform/, include/flight/memory.h "Platform hooks"):
 * - every hook of the default (POSIX) table really does its job: pages zeroed, aligned and
 *   released back to zeroes; heap alignment; locks that exclude; condition variables that
 *   time out no earlier than asked and wake on a broadcast; shared memory a forked child
 *   writes into; sane machine facts; a monotonic clock; the pressure-stall reading;
 * - the freestanding table has a page size and nothing else, and the wrappers answer for
 *   each missing hook as the contract says;
 * - the test fake (tests/fake_platform.h) counts and fails calls as asked;
 * - allocators use the table they were created with: a missing capability is the status
 *   the contract names, and no allocator leaks anything on the fake after destroy, even
 *   when creation fails at each of its platform calls in turn.
 */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"
#include "platform_caps.h"

#include "core/core.h"
#include "fake_platform.h"
#include "platform/platform.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
#define MS ((uint64_t)1000000) /* nanoseconds */

static const fl_platform_hooks *host(void) { return fl_platform_default(); }

static int all_bytes_are(const void *p, size_t n, unsigned char value)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != value) return 0;
    return 1;
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

static int message_has(const char *what) { return strstr(fl_last_error()->message, what) != NULL; }

/* ---- the default table ------------------------------------------------------------------- */

static void test_default_table_is_complete(void)
{
    SKIP_UNLESS(CAPS_POSIX_TABLE,
                "fl_platform_default() is not the POSIX table here (test_platform_emscripten checks this one)");
    const fl_platform_hooks *p = host();
    CHECK(p != NULL && p == fl_platform_default());
    CHECK(fli_platform_or_default(NULL) == p);
    CHECK(fli_platform_or_default(fli_platform_freestanding()) == fli_platform_freestanding());
    CHECK(p->page_size && p->map_pages && p->unmap_pages && p->release_pages);
    CHECK(p->heap_alloc && p->heap_free);
    CHECK(p->lock_init && p->lock_acquire && p->lock_release && p->lock_destroy);
    CHECK(p->cond_init && p->cond_wait && p->cond_broadcast && p->cond_destroy);
    CHECK(p->shared_map && p->shared_unmap);
    CHECK(p->system_memory && p->physical_memory && p->now_ns && p->pressure_stall);
    CHECK(fli_has_pages(p) && fli_has_heap(p) && fli_has_locks(p) && fli_has_conds(p) && fli_has_shared(p));
}

static void test_pages(void)
{
    SKIP_UNLESS(CAPS_POSIX_TABLE,
                "fl_platform_default() is not the POSIX table here (test_platform_emscripten checks this one)");
    const fl_platform_hooks *p = host();
    size_t page = fli_page_size(p);
    CHECK(fli_is_pow2(page) && page >= 1024);
    CHECK_EQ_SIZE(page, (size_t)sysconf(_SC_PAGESIZE));

    /* Zeroed, page-aligned and writable; several mappings are distinct. */
    unsigned char *a = (unsigned char *)fli_map_pages(p, 4 * page);
    unsigned char *b = (unsigned char *)fli_map_pages(p, 8 * MIB);
    CHECK(a != NULL && b != NULL && a != b);
    CHECK(fli_is_aligned(a, page) && fli_is_aligned(b, page));
    CHECK(all_bytes_are(a, 4 * page, 0));
    for (size_t i = 0; i < 8 * MIB; i += page) CHECK(b[i] == 0 && b[i + page - 1] == 0);
    memset(a, 0x5A, 4 * page);
    memset(b, 0xC3, 8 * MIB);

    /* release_pages: the middle two pages read zero, their neighbours keep their bytes, and
     * the range stays mapped and writable. */
    CHECK(fli_release_pages(p, a + page, 2 * page));
    CHECK(all_bytes_are(a, page, 0x5A));
    CHECK(all_bytes_are(a + page, 2 * page, 0));
    CHECK(all_bytes_are(a + 3 * page, page, 0x5A));
    memset(a + page, 0x11, 2 * page);
    CHECK(all_bytes_are(a + page, 2 * page, 0x11));
    CHECK(fli_release_pages(p, b, 8 * MIB));
    CHECK(all_bytes_are(b, 8 * MIB, 0));

    fli_unmap_pages(p, a, 4 * page);
    fli_unmap_pages(p, b, 8 * MIB);

    /* An impossible size is refused with NULL, not a crash. */
    if (sizeof(size_t) == 8) CHECK(fli_map_pages(p, fli_align_down(SIZE_MAX / 2, page)) == NULL);
}

static void test_heap(void)
{
    const fl_platform_hooks *p = host();
    static const size_t sizes[] = {1, 24, 1000, 70000};
    for (size_t alignment = sizeof(void *); alignment <= FL_ALIGN_MAX; alignment *= 2) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            unsigned char *block = (unsigned char *)fli_heap_alloc(p, sizes[k], alignment);
            CHECK(block != NULL);
            CHECK_MSG(fli_is_aligned(block, alignment), "%p not aligned to %zu", (void *)block, alignment);
            harness_fill(block, sizes[k], alignment + k);
            CHECK(harness_pattern_ok(block, sizes[k], alignment + k));
            fli_heap_free(p, block);
        }
    }
}

/* ---- locks and condition variables ---------------------------------------------------------- */

typedef struct shared_state {
    const fl_platform_hooks *p;
    fli_lock lock;
    fli_cond cond;
    int flag;
    int waiting;
    long counter;
    int woken, timed_out;
} shared_state;

enum { COUNTING_THREADS = 4, COUNTING_ROUNDS = 50000 };

static void *count_under_lock(void *arg)
{
    shared_state *s = (shared_state *)arg;
    for (int i = 0; i < COUNTING_ROUNDS; i++) {
        fli_lock_acquire(s->p, &s->lock);
        long v = s->counter; /* a read-modify-write that loses updates without the lock */
        s->counter = v + 1;
        fli_lock_release(s->p, &s->lock);
    }
    return NULL;
}

static void test_lock_excludes(void)
{
    shared_state s;
    memset(&s, 0, sizeof s);
    s.p = host();
    CHECK(fli_lock_init(s.p, &s.lock));
    pthread_t threads[COUNTING_THREADS];
    for (int t = 0; t < COUNTING_THREADS; t++) CHECK(pthread_create(&threads[t], NULL, count_under_lock, &s) == 0);
    for (int t = 0; t < COUNTING_THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
    CHECK(s.counter == (long)COUNTING_THREADS * COUNTING_ROUNDS);
    fli_lock_destroy(s.p, &s.lock);
}

/* Waits (lock held) until cond_wait answers false; the time it took, in nanoseconds. A true
 * answer without a broadcast is a spurious wake-up, which the contract allows. */
static uint64_t time_a_lonely_wait(shared_state *s, uint32_t timeout_ms, int *spurious)
{
    uint64_t start = fli_now_ns(s->p);
    *spurious = 0;
    while (fli_cond_wait(s->p, &s->cond, &s->lock, timeout_ms) && *spurious < 100) (*spurious)++;
    return fli_now_ns(s->p) - start;
}

static void test_cond_times_out(void)
{
    shared_state s;
    memset(&s, 0, sizeof s);
    s.p = host();
    CHECK(fli_lock_init(s.p, &s.lock));
    CHECK(fli_cond_init(s.p, &s.cond));
    fli_lock_acquire(s.p, &s.lock);
    static const uint32_t timeouts[] = {0, 1, 50, 999, 1100};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        int spurious = 0;
        uint64_t took = time_a_lonely_wait(&s, timeouts[i], &spurious);
        CHECK(spurious < 100);
        CHECK_MSG(took >= timeouts[i] * MS, "a %u ms wait returned after %llu ns", (unsigned)timeouts[i],
                  (unsigned long long)took);
        CHECK_MSG(took < timeouts[i] * MS + 5000 * MS, "a %u ms wait took %llu ns", (unsigned)timeouts[i],
                  (unsigned long long)took);
    }
    fli_lock_release(s.p, &s.lock);
    fli_cond_destroy(s.p, &s.cond);
    fli_lock_destroy(s.p, &s.lock);
}

static void *wait_for_flag(void *arg)
{
    shared_state *s = (shared_state *)arg;
    fli_lock_acquire(s->p, &s->lock);
    s->waiting++;
    while (!s->flag) {
        if (!fli_cond_wait(s->p, &s->cond, &s->lock, 20000)) {
            s->timed_out++;
            break;
        }
    }
    if (s->flag) s->woken++;
    fli_lock_release(s->p, &s->lock);
    return NULL;
}

static void test_cond_broadcast_wakes_every_waiter(void)
{
    enum { WAITERS = 3 };
    shared_state s;
    memset(&s, 0, sizeof s);
    s.p = host();
    CHECK(fli_lock_init(s.p, &s.lock));
    CHECK(fli_cond_init(s.p, &s.cond));
    pthread_t threads[WAITERS];
    for (int t = 0; t < WAITERS; t++) CHECK(pthread_create(&threads[t], NULL, wait_for_flag, &s) == 0);
    /* Until every waiter is inside its wait (it releases the lock only there). */
    for (;;) {
        fli_lock_acquire(s.p, &s.lock);
        int waiting = s.waiting;
        fli_lock_release(s.p, &s.lock);
        if (waiting == WAITERS) break;
        sleep_ms(1);
    }
    sleep_ms(20);
    uint64_t start = fli_now_ns(s.p);
    fli_lock_acquire(s.p, &s.lock);
    s.flag = 1;
    fli_cond_broadcast(s.p, &s.cond);
    fli_lock_release(s.p, &s.lock);
    for (int t = 0; t < WAITERS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
    uint64_t took = fli_now_ns(s.p) - start;
    CHECK(s.woken == WAITERS && s.timed_out == 0);
    CHECK_MSG(took < 10000 * MS, "waking took %llu ns", (unsigned long long)took); /* far below 20 s */
    fli_cond_destroy(s.p, &s.cond);
    fli_lock_destroy(s.p, &s.lock);
}

/* ---- shared memory -------------------------------------------------------------------------- */

static void test_shared_map_across_fork(void)
{
    SKIP_UNLESS(CAPS_POSIX_TABLE && CAPS_FORK,
                "no shared memory between processes (shared_map is NULL) and no fork()");
    const fl_platform_hooks *p = host();
    size_t size = 3 * fli_page_size(p) + 100; /* not a page multiple: any size is allowed */
    unsigned char *m = (unsigned char *)fli_shared_map(p, size);
    unsigned char *other = (unsigned char *)fli_shared_map(p, size);
    CHECK(m != NULL && other != NULL && m != other);
    CHECK(all_bytes_are(m, size, 0));
    CHECK(fli_shared_map(p, 0) == NULL);

    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        printf("shared_map: fork is unavailable here (%s); the cross-process check is skipped\n", strerror(errno));
    } else if (child == 0) {
        harness_fill(m, size, 0xF02C);
        _exit(0);
    } else {
        int status = 0;
        CHECK(waitpid(child, &status, 0) == child);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK(harness_pattern_ok(m, size, 0xF02C));
        CHECK(all_bytes_are(other, size, 0)); /* a separate object */
    }
    fli_shared_unmap(p, m, size);
    fli_shared_unmap(p, other, size);
}

/* ---- machine facts and time ---------------------------------------------------------------- */

static void test_machine_facts(void)
{
    const fl_platform_hooks *p = host();
    uint64_t physical = fli_physical_memory(p);
    CHECK(physical > 0);
    CHECK(physical % fli_page_size(p) == 0);

    /* The machine's RAM as /proc/meminfo says it, read here independently (and not
     * compared with sysconf: qemu-user truncates a 32-bit guest's sysinfo to 4 GiB). */
    unsigned long long meminfo_kb = 0;
    FILE *meminfo = fopen("/proc/meminfo", "r");
    if (meminfo != NULL) {
        if (fscanf(meminfo, "MemTotal: %llu kB", &meminfo_kb) != 1) meminfo_kb = 0;
        fclose(meminfo);
    }
    uint64_t available = 0, total = 0;
    bool known = fli_system_memory(p, &available, &total);
    CHECK(known || meminfo_kb == 0); /* Linux always knows */
    if (known) {
        CHECK(available > 0 && available <= total);
        CHECK(total >= 16 * (uint64_t)MIB);
        /* A container's limit, or the machine's RAM. */
        if (meminfo_kb != 0) CHECK(total <= (uint64_t)meminfo_kb * 1024u);
        printf("system memory: %llu of %llu bytes available; physical %llu\n", (unsigned long long)available,
               (unsigned long long)total, (unsigned long long)physical);
    }

    double pct = -1.0;
    bool stall = fli_pressure_stall(p, &pct);
    int psi = open("/proc/pressure/memory", O_RDONLY);
    if (psi >= 0) {
        char probe[8];
        ssize_t got = read(psi, probe, sizeof probe); /* PSI may be compiled in but disabled */
        close(psi);
        if (got > 0) CHECK(stall);
    }
    if (stall) {
        CHECK(pct >= 0.0 && pct <= 100.0);
        printf("memory pressure stall (some avg10): %.2f%%\n", pct);
    } else {
        CHECK(pct == -1.0); /* nothing written */
        printf("memory pressure stall: not available here\n");
    }
}

static void test_clock_is_monotonic(void)
{
    const fl_platform_hooks *p = host();
    uint64_t previous = fli_now_ns(p);
    CHECK(previous > 0);
    for (int i = 0; i < 100000; i++) {
        uint64_t now = fli_now_ns(p);
        CHECK(now >= previous);
        previous = now;
    }
    uint64_t before = fli_now_ns(p);
    sleep_ms(30);
    uint64_t slept = fli_now_ns(p) - before;
    CHECK_MSG(slept >= 30 * MS && slept < 5000 * MS, "30 ms of sleep measured as %llu ns", (unsigned long long)slept);
}

/* ---- the freestanding table ----------------------------------------------------------------- */

static void test_freestanding_table(void)
{
    const fl_platform_hooks *p = fli_platform_freestanding();
    CHECK(p != NULL && p != host());
    CHECK(p->page_size != NULL && fli_page_size(p) == 4096);
    CHECK(!p->map_pages && !p->unmap_pages && !p->release_pages);
    CHECK(!p->heap_alloc && !p->heap_free);
    CHECK(!p->lock_init && !p->lock_acquire && !p->lock_release && !p->lock_destroy);
    CHECK(!p->cond_init && !p->cond_wait && !p->cond_broadcast && !p->cond_destroy);
    CHECK(!p->shared_map && !p->shared_unmap);
    CHECK(!p->system_memory && !p->physical_memory && !p->now_ns && !p->pressure_stall);
    CHECK(!fli_has_pages(p) && !fli_has_heap(p) && !fli_has_locks(p) && !fli_has_conds(p) && !fli_has_shared(p));

    /* The wrappers answer for every missing hook. */
    unsigned char page[64];
    memset(page, 7, sizeof page);
    fli_lock lock;
    fli_cond cond;
    CHECK(fli_map_pages(p, 4096) == NULL);
    fli_unmap_pages(p, page, sizeof page); /* nothing happens */
    CHECK(!fli_release_pages(p, page, sizeof page) && all_bytes_are(page, sizeof page, 7));
    CHECK(fli_heap_alloc(p, 16, 16) == NULL);
    fli_heap_free(p, page);
    CHECK(!fli_lock_init(p, &lock));
    CHECK(!fli_cond_init(p, &cond));
    CHECK(!fli_cond_wait(p, &cond, &lock, 1000));
    CHECK(fli_shared_map(p, 4096) == NULL);
    fli_shared_unmap(p, page, sizeof page);
    uint64_t available = 11, total = 22;
    CHECK(!fli_system_memory(p, &available, &total) && available == 11 && total == 22);
    CHECK(fli_physical_memory(p) == 0 && fli_now_ns(p) == 0);
    double pct = 3.0;
    CHECK(!fli_pressure_stall(p, &pct) && pct == 3.0);

    /* A table without even a page size: the wrapper assumes the common 4 KiB. */
    fl_platform_hooks empty;
    memset(&empty, 0, sizeof empty);
    CHECK(fli_page_size(&empty) == FL_ALIGN_PAGE);
}

/* Allocators over the freestanding table: buffers work, the rest is refused by name. */
static void test_allocators_on_freestanding_table(void)
{
    static _Alignas(64) unsigned char arena[64 * 1024];
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.platform = fli_platform_freestanding();
    cfg.type = FL_ALLOCATOR_BUDDY;
    cfg.size = 64 * KIB;
    fl_allocator *a = NULL;
    CHECK_STATUS(fl_allocator_create(&cfg, &a), FL_ERR_NOT_SUPPORTED);
    CHECK(a == NULL && message_has("no pages") && message_has("65536") && message_has("pass a buffer"));
    cfg.type = FL_ALLOCATOR_SYSTEM;
    cfg.size = 0;
    CHECK_STATUS(fl_allocator_create(&cfg, &a), FL_ERR_NOT_SUPPORTED);
    CHECK(a == NULL);

    cfg.type = FL_ALLOCATOR_BUDDY;
    cfg.buffer = arena;
    cfg.size = sizeof arena;
    cfg.thread_safe = true;
    CHECK_STATUS(fl_allocator_create(&cfg, &a), FL_ERR_PLATFORM);
    CHECK(a == NULL && message_has("without locks"));
    cfg.thread_safe = false;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    void *block = NULL;
    CHECK_OK(fl_allocator_allocate(a, 1000, 0, &block));
    CHECK(fl_allocator_owns(a, block));
    CHECK_OK(fl_allocator_deallocate(a, block));
    CHECK_OK(fl_allocator_validate(a));
    fl_allocator_destroy(a);
}

/* ---- the fake ------------------------------------------------------------------------------- */

static void test_fake_counts_every_hook(void)
{
    SKIP_UNLESS(CAPS_POSIX_TABLE, "needs a default table with every hook; the Web's has no release_pages, "
                                  "shared memory or pressure stall");
    fake_platform f;
    fake_platform_init(&f, host());
    const fl_platform_hooks *p = &f.hooks;
    CHECK(p->user == &f);
    for (int h = 0; h < FAKE_HOOK_COUNT; h++) CHECK(fake_calls(&f, (fake_hook)h) == 0);

    size_t page = fli_page_size(p);
    void *pages = fli_map_pages(p, 2 * page);
    CHECK(pages != NULL && fake_live_map_bytes(&f) == 2 * page);
    CHECK(fli_release_pages(p, pages, page));
    void *block = fli_heap_alloc(p, 100, 64);
    CHECK(block != NULL && fake_live_heap_blocks(&f) == 1);
    fli_lock lock;
    fli_cond cond;
    CHECK(fli_lock_init(p, &lock) && fake_live_locks(&f) == 1);
    CHECK(fli_cond_init(p, &cond) && fake_live_conds(&f) == 1);
    fli_lock_acquire(p, &lock);
    (void)fli_cond_wait(p, &cond, &lock, 1); /* times out, or wakes spuriously */
    fli_cond_broadcast(p, &cond);
    fli_lock_release(p, &lock);
    void *shared = fli_shared_map(p, 5000);
    CHECK(shared != NULL && fake_live_shared_bytes(&f) == 5000);
    uint64_t available = 0, total = 0;
    (void)fli_system_memory(p, &available, &total);
    CHECK(fli_physical_memory(p) == fli_physical_memory(host()));
    CHECK(fli_now_ns(p) > 0);
    double pct = 0.0;
    (void)fli_pressure_stall(p, &pct);
    CHECK(!fake_live_clean(&f));

    fli_shared_unmap(p, shared, 5000);
    fli_cond_destroy(p, &cond);
    fli_lock_destroy(p, &lock);
    fli_heap_free(p, block);
    fli_unmap_pages(p, pages, 2 * page);
    CHECK(fake_live_clean(&f));

    /* Exactly one call of every hook, none of them failed. */
    for (int h = 0; h < FAKE_HOOK_COUNT; h++) {
        CHECK_MSG(fake_calls(&f, (fake_hook)h) == 1, "hook %d called %zu times", h,
                  fake_calls(&f, (fake_hook)h));
        CHECK(fake_failures(&f, (fake_hook)h) == 0);
    }
    CHECK_EQ_SIZE(fake_fallible_calls(&f), 9);

    /* A fake over a table that lacks hooks lacks them too. */
    fake_platform bare;
    fake_platform_init(&bare, fli_platform_freestanding());
    CHECK(bare.hooks.page_size != NULL && bare.hooks.map_pages == NULL && bare.hooks.lock_init == NULL);
    CHECK(bare.hooks.now_ns == NULL && bare.hooks.pressure_stall == NULL);
    CHECK(fli_page_size(&bare.hooks) == 4096 && fake_calls(&bare, FAKE_PAGE_SIZE) == 1);
}

static void test_fake_fails_on_demand(void)
{
    fake_platform f;
    fake_platform_init(&f, host());
    const fl_platform_hooks *p = &f.hooks;
    size_t page = fli_page_size(p);

    /* The 2nd map from now fails, once. */
    fake_fail_nth(&f, FAKE_MAP_PAGES, 2);
    void *first = fli_map_pages(p, page);
    void *second = fli_map_pages(p, page);
    void *third = fli_map_pages(p, page);
    CHECK(first != NULL && second == NULL && third != NULL);
    CHECK(fake_calls(&f, FAKE_MAP_PAGES) == 3 && fake_failures(&f, FAKE_MAP_PAGES) == 1);
    CHECK_EQ_SIZE(fake_live_map_bytes(&f), 2 * page);
    fli_unmap_pages(p, first, page);
    fli_unmap_pages(p, third, page);

    /* From the 1st on, until disarmed. */
    fake_fail_from(&f, FAKE_HEAP_ALLOC, 1);
    for (int i = 0; i < 5; i++) CHECK(fli_heap_alloc(p, 32, 16) == NULL);
    fake_fail_nth(&f, FAKE_HEAP_ALLOC, 0);
    void *block = fli_heap_alloc(p, 32, 16);
    CHECK(block != NULL && fake_failures(&f, FAKE_HEAP_ALLOC) == 5);
    fli_heap_free(p, block);

    /* Every refusable hook refuses the way the contract allows. */
    fli_lock lock;
    fli_cond cond;
    fake_fail_from(&f, FAKE_ANY_FALLIBLE, 1);
    uint64_t available = 5, total = 6;
    double pct = 7.0;
    CHECK(fli_map_pages(p, page) == NULL && fli_heap_alloc(p, 8, 8) == NULL);
    CHECK(!fli_lock_init(p, &lock) && !fli_cond_init(p, &cond));
    CHECK(fli_shared_map(p, page) == NULL);
    CHECK(!fli_system_memory(p, &available, &total) && available == 5 && total == 6);
    CHECK(fli_physical_memory(p) == 0);
    CHECK(!fli_pressure_stall(p, &pct) && pct == 7.0);
    CHECK(fli_page_size(p) == page && fli_now_ns(p) > 0); /* these cannot fail */
    fake_disarm_all(&f);
    CHECK(fli_lock_init(p, &lock) && fli_cond_init(p, &cond));
    fli_lock_acquire(p, &lock);
    fake_fail_nth(&f, FAKE_COND_WAIT, 1);
    uint64_t start = fli_now_ns(p);
    CHECK(!fli_cond_wait(p, &cond, &lock, 10000)); /* "timed out" at once */
    CHECK(fli_now_ns(p) - start < 5000 * MS);
    fli_lock_release(p, &lock);
    fli_cond_destroy(p, &cond);
    fli_lock_destroy(p, &lock);

    /* The n-th fallible call, whichever hook it is. */
    fake_fail_nth(&f, FAKE_ANY_FALLIBLE, 3);
    void *a = fli_map_pages(p, page);         /* 1 */
    void *b = fli_heap_alloc(p, 64, 16);      /* 2 */
    bool locked = fli_lock_init(p, &lock);    /* 3: fails */
    void *c = fli_heap_alloc(p, 64, 16);      /* 4 */
    CHECK(a != NULL && b != NULL && !locked && c != NULL);
    fli_unmap_pages(p, a, page);
    fli_heap_free(p, b);
    fli_heap_free(p, c);
    CHECK(fake_live_clean(&f));
}

/* ---- allocators on the fake ------------------------------------------------------------------ */

static void config_for(fl_allocator_config *cfg, fl_allocator_type type, const fake_platform *f, bool thread_safe)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->type = type;
    cfg->platform = &f->hooks;
    cfg->thread_safe = thread_safe;
    cfg->size = type == FL_ALLOCATOR_SYSTEM ? 64 * MIB : 256 * KIB; /* a budget: no physical_memory call */
    cfg->block_size = type == FL_ALLOCATOR_POOL ? 48 : 0;
}

static void test_allocator_uses_its_table(void)
{
    fake_platform f;
    fake_platform_init(&f, host());
    fl_allocator_config cfg;
    config_for(&cfg, FL_ALLOCATOR_BUDDY, &f, true);
    fl_allocator *a = NULL;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    CHECK(fake_calls(&f, FAKE_MAP_PAGES) == 1 && fake_calls(&f, FAKE_LOCK_INIT) == 1);
    CHECK_EQ_SIZE(fake_live_map_bytes(&f), 256 * KIB);
    /* Every call of a thread-safe allocator takes its lock through the table. */
    size_t acquired = fake_calls(&f, FAKE_LOCK_ACQUIRE);
    void *block = NULL;
    CHECK_OK(fl_allocator_allocate(a, 100, 0, &block));
    CHECK_OK(fl_allocator_deallocate(a, block));
    CHECK_EQ_SIZE(fake_calls(&f, FAKE_LOCK_ACQUIRE), acquired + 2);
    CHECK_EQ_SIZE(fake_calls(&f, FAKE_LOCK_RELEASE), acquired + 2);
    fl_allocator_destroy(a);
    CHECK(fake_live_clean(&f));
    CHECK(fake_calls(&f, FAKE_UNMAP_PAGES) == 1 && fake_calls(&f, FAKE_LOCK_DESTROY) == 1);

    /* The system allocator: heap, pages and the machine's memory, all from its table. */
    config_for(&cfg, FL_ALLOCATOR_SYSTEM, &f, false);
    cfg.size = 0;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    CHECK(fake_calls(&f, FAKE_PHYSICAL_MEMORY) == 1);
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    uint64_t physical = fli_physical_memory(host());
    CHECK(s.total_capacity == (physical > (uint64_t)(SIZE_MAX / 2) ? SIZE_MAX / 2 : (size_t)physical));
    CHECK_OK(fl_allocator_allocate(a, 100, 0, &block));
    CHECK(fake_live_heap_blocks(&f) == 1);
    CHECK_OK(fl_allocator_allocate(a, MIB, 0, &block));
    CHECK_EQ_SIZE(fake_live_map_bytes(&f), fli_page_size(host()) + MIB);
    fl_allocator_destroy(a);
    CHECK(fake_live_clean(&f));
}

static void test_missing_capabilities(void)
{
    static _Alignas(64) unsigned char arena[64 * 1024];
    fake_platform f;
    fl_allocator_config cfg;
    fl_allocator *a = NULL;

    /* No pages: buffer-less creation is not supported (and says why); a buffer works. */
    fake_platform_init(&f, host());
    f.hooks.map_pages = NULL;
    config_for(&cfg, FL_ALLOCATOR_POOL, &f, false);
    CHECK_STATUS(fl_allocator_create(&cfg, &a), FL_ERR_NOT_SUPPORTED);
    CHECK(a == NULL && message_has("no pages"));
    config_for(&cfg, FL_ALLOCATOR_SYSTEM, &f, false);
    CHECK_STATUS(fl_allocator_create(&cfg, &a), FL_ERR_NOT_SUPPORTED);
    CHECK(a == NULL && message_has("no pages"));
    config_for(&cfg, FL_ALLOCATOR_POOL, &f, false);
    cfg.buffer = arena;
    cfg.size = sizeof arena;
    CHECK_OK(fl_allocator_create(&cfg, &a));
    fl_allocator_destroy(a);
    /* Size 0 is still bad input first. */
    config_for(&cfg, FL_ALLOCATOR_POOL, &f, false);
    cfg.size = 0;
    CHECK_STATUS(fl_allocator_create(&cfg, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(fake_live_clean(&f));

    /* No heap: no system allocator; the control page it was given goes back. */
    fake_platform_init(&f, host());
    f.hooks.heap_free = NULL;
    config_for(&cfg, FL_ALLOCATOR_SYSTEM, &f, false);
    a = NULL;
    CHECK_STATUS(fl_allocator_create(&cfg, &a), FL_ERR_NOT_SUPPORTED);
    CHECK(a == NULL && message_has("no heap"));
    CHECK(fake_live_clean(&f));
    config_for(&cfg, FL_ALLOCATOR_BUDDY, &f, false); /* the others do not need one */
    CHECK_OK(fl_allocator_create(&cfg, &a));
    fl_allocator_destroy(a);

    /* No locks: thread_safe is FL_ERR_PLATFORM before anything is mapped. */
    fake_platform_init(&f, host());
    f.hooks.lock_release = NULL;
    config_for(&cfg, FL_ALLOCATOR_BUDDY, &f, true);
    a = NULL;
    CHECK_STATUS(fl_allocator_create(&cfg, &a), FL_ERR_PLATFORM);
    CHECK(a == NULL && message_has("without locks"));
    CHECK(fake_calls(&f, FAKE_MAP_PAGES) == 0);
    config_for(&cfg, FL_ALLOCATOR_BUDDY, &f, false);
    CHECK_OK(fl_allocator_create(&cfg, &a));
    fl_allocator_destroy(a);

    /* A lock the platform refuses to make: FL_ERR_PLATFORM, and the pages go back. */
    fake_platform_init(&f, host());
    fake_fail_nth(&f, FAKE_LOCK_INIT, 1);
    config_for(&cfg, FL_ALLOCATOR_SYSTEM, &f, true);
    a = NULL;
    CHECK_STATUS(fl_allocator_create(&cfg, &a), FL_ERR_PLATFORM);
    CHECK(a == NULL && message_has("could not create a lock"));
    CHECK(fake_live_clean(&f));
    CHECK(fake_calls(&f, FAKE_MAP_PAGES) == 1 && fake_calls(&f, FAKE_UNMAP_PAGES) == 1);
}

/* Creates, uses and destroys one allocator; the fake must be clean afterwards. */
static fl_status use_once(fake_platform *f, fl_allocator_type type, bool thread_safe)
{
    fl_allocator_config cfg;
    config_for(&cfg, type, f, thread_safe);
    fl_allocator *a = NULL;
    fl_status status = fl_allocator_create(&cfg, &a);
    if (status != FL_OK) return status;
    void *blocks[40];
    size_t n = 0;
    for (size_t i = 0; i < 40; i++) {
        /* Pools take <= 48 bytes; the system gets some page-mapped blocks too. */
        size_t size = type == FL_ALLOCATOR_POOL ? 1 + i : type == FL_ALLOCATOR_SYSTEM && i % 10 == 9 ? 300 * KIB : 16 + i * 40;
        if (fl_allocator_allocate(a, size, 0, &blocks[n]) == FL_OK) n++;
    }
    if (n > 1) (void)fl_allocator_deallocate(a, blocks[n - 1]);
    fl_allocator_destroy(a);
    return FL_OK;
}

static void test_allocators_leak_nothing(void)
{
    static const fl_allocator_type types[] = {FL_ALLOCATOR_LINEAR, FL_ALLOCATOR_STACK,    FL_ALLOCATOR_POOL,
                                              FL_ALLOCATOR_BUDDY,  FL_ALLOCATOR_FREELIST, FL_ALLOCATOR_SYSTEM};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        for (int thread_safe = 0; thread_safe <= 1; thread_safe++) {
            fake_platform f;
            fake_platform_init(&f, host());
            fl_status status = use_once(&f, types[t], thread_safe != 0);
            CHECK_MSG(fake_live_clean(&f), "%s (thread_safe %d) left %zu mapped bytes, %zu heap blocks, %zu locks",
                      fl_allocator_type_str(types[t]), thread_safe, fake_live_map_bytes(&f),
                      fake_live_heap_blocks(&f), fake_live_locks(&f));
            if (status != FL_OK) {
                /* A strategy not built yet in this tree: nothing more to fail. */
                CHECK_STATUS(status, FL_ERR_NOT_SUPPORTED);
                printf("leak check: %s cannot be created yet (%s)\n", fl_allocator_type_str(types[t]),
                       fl_last_error()->message);
                continue;
            }

            /* The calls a successful creation makes, then each of them failing in turn. */
            fl_allocator_config cfg;
            config_for(&cfg, types[t], &f, thread_safe != 0);
            size_t before = fake_fallible_calls(&f);
            fl_allocator *a = NULL;
            CHECK_OK(fl_allocator_create(&cfg, &a));
            size_t calls = fake_fallible_calls(&f) - before;
            fl_allocator_destroy(a);
            CHECK(calls >= 1 + (size_t)thread_safe); /* the pages, and the lock */
            for (size_t k = 1; k <= calls + 1; k++) {
                fake_fail_nth(&f, FAKE_ANY_FALLIBLE, (long)k);
                a = NULL;
                status = fl_allocator_create(&cfg, &a);
                fake_disarm_all(&f);
                if (k <= calls) {
                    CHECK_MSG(status == FL_ERR_OUT_OF_MEMORY || status == FL_ERR_PLATFORM,
                              "%s: failing platform call %zu of %zu gave %s", fl_allocator_type_str(types[t]), k,
                              calls, fl_status_str(status));
                    CHECK(a == NULL);
                } else {
                    CHECK_OK(status);
                    CHECK_OK(fl_allocator_validate(a));
                    fl_allocator_destroy(a);
                }
                CHECK_MSG(fake_live_clean(&f), "%s: failing call %zu of %zu leaked", fl_allocator_type_str(types[t]),
                          k, calls);
            }

            /* Allocation-time refusals (the system allocator's heap and pages) leak nothing
             * either, and destroy gives back what did succeed. */
            CHECK_OK(fl_allocator_create(&cfg, &a));
            void *block = NULL;
            for (long k = 1; k <= 4; k++) {
                fake_fail_nth(&f, FAKE_ANY_FALLIBLE, k);
                for (int i = 0; i < 6; i++)
                    (void)fl_allocator_allocate(a, types[t] == FL_ALLOCATOR_POOL ? 40 : (i % 3 == 2 ? 300 * KIB : 40), 0,
                                                &block);
            }
            fake_disarm_all(&f);
            CHECK_OK(fl_allocator_validate(a));
            fl_allocator_destroy(a);
            CHECK(fake_live_clean(&f));
        }
    }
}

int main(void)
{
    RUN(test_default_table_is_complete);
    RUN(test_pages);
    RUN(test_heap);
    RUN(test_lock_excludes);
    RUN(test_cond_times_out);
    RUN(test_cond_broadcast_wakes_every_waiter);
    RUN(test_shared_map_across_fork);
    RUN(test_machine_facts);
    RUN(test_clock_is_monotonic);
    RUN(test_freestanding_table);
    RUN(test_allocators_on_freestanding_table);
    RUN(test_fake_counts_every_hook);
    RUN(test_fake_fails_on_demand);
    RUN(test_allocator_uses_its_table);
    RUN(test_missing_capabilities);
    RUN(test_allocators_leak_nothing);
    return harness_finish();
}
