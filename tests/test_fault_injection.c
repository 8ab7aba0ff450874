/*
 * Fault injection: every OS call the memory interface makes, failed in turn.
 *
 * A phase is one thing a game does: create an interface (HOST, DESKTOP, DREAMCAST with
 * backing memory and a compact profile with every kind of region, the platform heap and
 * OS shared memory among them; each thread_safe off and on), allocate through a region
 * served by the platform heap (small blocks from heap_alloc, large ones from map_pages,
 * and the slot table that grows through map_pages), gc_hint and trim, and destroy. A first
 * run counts the fallible platform calls the phase makes (tests/fake_platform.h: page
 * map, heap, shared memory, lock and condition creation, memory queries); then the phase
 * runs again once per call site N, with the N-th call refused. Each refusal must:
 *   - give a clean error: FL_ERR_OUT_OF_MEMORY or FL_ERR_PLATFORM with a message, *out
 *     untouched (create), every statistic unchanged and validate FL_OK (allocate); or be
 *     absorbed (the call was optional: the phase still succeeds, and says so in the tally);
 *   - leak nothing: after destroy the fake's live pages, heap blocks, shared bytes, locks
 *     and condition variables are back to zero;
 *   - leave the interface usable: the same request without a fault succeeds, and a create
 *     after a refused create works.
 * The program prints the tally (phase x hook -> call sites, outcomes) that docs/errors.md
 * quotes. Complexity: quadratic in the calls of a phase (a few dozen at most).
 */
#include "memory_test_util.h"

#include <stdio.h>
#include <stdlib.h>

static fake_platform fake;

/* ---- the tally ------------------------------------------------------------------------------ */

#define TALLY_ROWS 64

typedef struct tally_row {
    char phase[48];
    fake_hook hook;
    unsigned sites;
    unsigned oom, platform, absorbed;
} tally_row;

static tally_row tally[TALLY_ROWS];
static unsigned tally_count, tally_sites, tally_outcomes;

static const char *hook_name(fake_hook h)
{
    static const char *const names[FAKE_HOOK_COUNT] = {
        "page_size",   "map_pages",   "unmap_pages",    "release_pages", "heap_alloc",    "heap_free",
        "lock_init",   "lock_acquire", "lock_release",  "lock_destroy",  "cond_init",     "cond_wait",
        "cond_broadcast", "cond_destroy", "shared_map", "shared_unmap",  "system_memory", "physical_memory",
        "now_ns",      "pressure_stall"};
    return (unsigned)h < FAKE_HOOK_COUNT ? names[h] : "?";
}

static void tally_add(const char *phase, fake_hook hook, fl_status st)
{
    tally_row *row = NULL;
    for (unsigned i = 0; i < tally_count; i++)
        if (strcmp(tally[i].phase, phase) == 0 && tally[i].hook == hook) row = &tally[i];
    if (row == NULL) {
        CHECK(tally_count < TALLY_ROWS);
        row = &tally[tally_count++];
        memset(row, 0, sizeof *row);
        snprintf(row->phase, sizeof row->phase, "%s", phase);
        row->hook = hook;
    }
    row->sites++;
    tally_sites++;
    if (st == FL_OK) row->absorbed++;
    else if (st == FL_ERR_OUT_OF_MEMORY) row->oom++;
    else row->platform++;
}

/* The hook the fake refused since its counters were reset. */
static fake_hook failed_hook(void)
{
    for (int i = 0; i < FAKE_HOOK_COUNT; i++)
        if (fake_failures(&fake, (fake_hook)i)) return (fake_hook)i;
    return FAKE_HOOK_COUNT;
}

/* ---- configurations --------------------------------------------------------------------- */

typedef struct scenario {
    const char *name;
    fl_memory_config cfg;
    void *backing;
} scenario;

static scenario make_scenario(const char *name, fl_platform profile, bool thread_safe, bool backed)
{
    scenario s;
    memset(&s, 0, sizeof s);
    s.name = name;
    if ((int)profile < 0) {
        s.cfg = small_config();
        /* The platform heap (System strategy) and OS shared memory as well. */
        s.cfg.strategy[FL_MEMORY_NETWORK] = FL_ALLOCATOR_SYSTEM;
        s.cfg.capacity[FL_MEMORY_NETWORK] = 2 * MIB;
        s.cfg.capacity[FL_MEMORY_SHARED] = 64 * KIB;
    } else {
        CHECK_OK(fl_memory_config_default(profile, &s.cfg));
    }
    s.cfg.thread_safe = thread_safe;
    if (backed) {
        size_t need = 0;
        CHECK_OK(fl_memory_backing_size(&s.cfg, &need));
        s.backing = malloc(need);
        CHECK(s.backing != NULL);
        s.cfg.backing_memory = s.backing;
        s.cfg.backing_size = need;
    }
    s.cfg.platform = &fake.hooks;
    return s;
}

/* A usable interface: it allocates, frees, validates; then it goes and nothing is left. */
static void check_usable_and_destroy(fl_memory *m)
{
    fl_allocation a;
    CHECK_OK(fl_memory_allocate(m, 200, 0, &a));
    memset(a.ptr, 0x42, 200);
    CHECK_OK(fl_memory_validate(m));
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    check_identities(m);
    fl_memory_destroy(m);
    CHECK_MSG(fake_live_clean(&fake), "left: %zu mapped bytes, %zu heap blocks, %zu shared bytes, %zu locks, %zu conds",
              fake_live_map_bytes(&fake), fake_live_heap_blocks(&fake), fake_live_shared_bytes(&fake),
              fake_live_locks(&fake), fake_live_conds(&fake));
}

/* ---- create --------------------------------------------------------------------------------- */

static void walk_create(scenario *s)
{
    fake_platform_init(&fake, fl_platform_default());
    fl_memory *m = NULL;
    CHECK_OK(fl_memory_create(&s->cfg, &m));
    size_t sites = fake_fallible_calls(&fake);
    check_usable_and_destroy(m);
    char phase[48];
    snprintf(phase, sizeof phase, "create %s", s->name);
    printf("  %-44s %zu fallible calls\n", phase, sites);
    for (size_t n = 1; n <= sites; n++) {
        fake_platform_init(&fake, fl_platform_default());
        fake_fail_nth(&fake, FAKE_ANY_FALLIBLE, (long)n);
        fl_memory *out = (fl_memory *)(uintptr_t)0x5A5A5A50u;
        fl_status st = fl_memory_create(&s->cfg, &out);
        fake_hook hook = failed_hook();
        CHECK_MSG(hook != FAKE_HOOK_COUNT, "call %zu of %zu was not refused", n, sites);
        tally_add(phase, hook, st);
        tally_outcomes++;
        if (st != FL_OK) {
            CHECK_MSG(st == FL_ERR_OUT_OF_MEMORY || st == FL_ERR_PLATFORM, "%s, call %zu (%s): %s", phase, n,
                      hook_name(hook), fl_status_str(st));
            CHECK(fl_last_error()->category == st && fl_last_error()->message[0] != '\0');
            CHECK(out == (fl_memory *)(uintptr_t)0x5A5A5A50u);
            CHECK_MSG(fake_live_clean(&fake), "%s, call %zu (%s) refused: %zu mapped bytes, %zu heap blocks, "
                      "%zu shared bytes, %zu locks left", phase, n, hook_name(hook), fake_live_map_bytes(&fake),
                      fake_live_heap_blocks(&fake), fake_live_shared_bytes(&fake), fake_live_locks(&fake));
            /* Usable: the platform recovers, the next create works. */
            fake_disarm_all(&fake);
            CHECK_OK(fl_memory_create(&s->cfg, &out));
        }
        fake_disarm_all(&fake);
        check_usable_and_destroy(out);
    }
}

static void test_create_every_profile(void)
{
    static const struct {
        const char *name;
        int profile; /* -1: the compact profile with every region kind */
        bool backed;
    } cases[] = {
        {"HOST", FL_PLATFORM_HOST, false},
        {"DESKTOP", FL_PLATFORM_DESKTOP, false},
        {"DREAMCAST+backing", FL_PLATFORM_DREAMCAST, true},
        {"DREAMCAST", FL_PLATFORM_DREAMCAST, false},
        {"compact+heap+shared", -1, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int ts = 0; ts < 2; ts++) {
            char name[40];
            snprintf(name, sizeof name, "%s %s", cases[i].name, ts ? "thread_safe" : "single");
            scenario s = make_scenario(name, (fl_platform)cases[i].profile, ts != 0, cases[i].backed);
            walk_create(&s);
            free(s.backing);
        }
    }
}

/* ---- allocate through the platform heap ---------------------------------------------------- */

/* Sizes that reach every path of the System strategy: heap blocks, an over-aligned heap
 * block, page mappings, and enough live blocks to grow the slot table. */
#define HEAP_STEPS 48
static size_t heap_size(unsigned i) { return i % 7 == 3 ? 64 * KIB + i * 100 : 40 + i * 24; }
static size_t heap_alignment(unsigned i) { return i % 5 == 4 ? 4096 : 0; }

/* once: only the N-th call is refused (the interface's retry after raising pressure may
 * then succeed: absorbed); sticky: the N-th and every later call until the step returns
 * (the step must fail cleanly). */
static void walk_allocate(bool thread_safe, bool sticky)
{
    char phase[48];
    snprintf(phase, sizeof phase, "allocate heap %s %s", thread_safe ? "thread_safe" : "single",
             sticky ? "sticky" : "once");
    scenario s = make_scenario(phase, (fl_platform)-1, thread_safe, false);
    /* First run: how many fallible calls each step makes. */
    fake_platform_init(&fake, fl_platform_default());
    fl_memory *m = NULL;
    CHECK_OK(fl_memory_create(&s.cfg, &m));
    size_t before = fake_fallible_calls(&fake);
    void *live[HEAP_STEPS];
    for (unsigned i = 0; i < HEAP_STEPS; i++) {
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_typed(m, heap_size(i), FL_MEMORY_NETWORK, heap_alignment(i), 0, &a));
        CHECK(a.allocator == FL_ALLOCATOR_SYSTEM);
        live[i] = a.ptr;
    }
    size_t sites = fake_fallible_calls(&fake) - before;
    CHECK(sites >= HEAP_STEPS);
    for (unsigned i = 0; i < HEAP_STEPS; i++) CHECK_OK(fl_memory_deallocate(m, live[HEAP_STEPS - 1 - i]));
    check_usable_and_destroy(m);

    for (size_t n = 1; n <= sites; n++) {
        fake_platform_init(&fake, fl_platform_default());
        CHECK_OK(fl_memory_create(&s.cfg, &m));
        if (sticky)
            fake_fail_from(&fake, FAKE_ANY_FALLIBLE, (long)n);
        else
            fake_fail_nth(&fake, FAKE_ANY_FALLIBLE, (long)n);
        unsigned made = 0;
        bool refused = false;
        for (unsigned i = 0; i < HEAP_STEPS; i++) {
            memory_snapshot snap = snapshot(m);
            fl_allocation a;
            memset(&a, 0x5A, sizeof a);
            size_t failures = 0;
            for (int h = 0; h < FAKE_HOOK_COUNT; h++) failures += fake_failures(&fake, (fake_hook)h);
            fl_status st = fl_memory_allocate_typed(m, heap_size(i), FL_MEMORY_NETWORK, heap_alignment(i), 0, &a);
            size_t after = 0;
            for (int h = 0; h < FAKE_HOOK_COUNT; h++) after += fake_failures(&fake, (fake_hook)h);
            if (after != failures) { /* this step met the refusal */
                refused = true;
                fake_disarm_all(&fake);
                CHECK_MSG(!sticky || st != FL_OK, "%s: call %zu refused for good, yet the step succeeded", phase, n);
                fake_hook hook = failed_hook();
                tally_add(phase, hook, st);
                tally_outcomes++;
                if (st != FL_OK) {
                    CHECK_MSG(st == FL_ERR_OUT_OF_MEMORY, "%s, call %zu (%s): %s", phase, n, hook_name(hook),
                              fl_status_str(st));
                    CHECK(fl_last_error()->message[0] != '\0');
                    /* Nothing changed but the failure counter of the type. */
                    memory_snapshot now = snapshot(m);
                    CHECK(now.global.used_bytes == snap.global.used_bytes &&
                          now.global.allocation_count == snap.global.allocation_count &&
                          now.global.total_allocations == snap.global.total_allocations &&
                          now.global.failed_allocations == snap.global.failed_allocations + 1);
                    CHECK_OK(fl_memory_validate(m));
                    /* Usable: the same request goes through now. */
                    st = fl_memory_allocate_typed(m, heap_size(i), FL_MEMORY_NETWORK, heap_alignment(i), 0, &a);
                    CHECK_OK(st);
                }
            } else {
                CHECK_OK(st);
            }
            live[made++] = a.ptr;
            memset(a.ptr, (int)i, heap_size(i));
        }
        CHECK_MSG(refused, "%s: call %zu was never reached", phase, n);
        CHECK_OK(fl_memory_validate(m));
        for (unsigned i = 0; i < made; i++) CHECK_OK(fl_memory_deallocate(m, live[i]));
        check_usable_and_destroy(m);
    }
}

static void test_allocate_heap_region(void)
{
    for (int sticky = 0; sticky < 2; sticky++) {
        walk_allocate(false, sticky != 0);
        walk_allocate(true, sticky != 0);
    }
}

/* ---- gc_hint, trim, destroy, pressure ------------------------------------------------------- */

/* These make no fallible call today; the walk proves it (a site found later is walked). */
static void walk_maintenance(const char *name, fl_platform profile, bool thread_safe)
{
    char phase[48];
    scenario s = make_scenario(name, profile, thread_safe, false);
    static const char *const what[4] = {"gc_hint", "trim", "get_pressure", "destroy"};
    for (int w = 0; w < 4; w++) {
        snprintf(phase, sizeof phase, "%s %s", what[w], name);
        fake_platform_init(&fake, fl_platform_default());
        fl_memory *m = NULL;
        CHECK_OK(fl_memory_create(&s.cfg, &m));
        fl_allocation keep;
        CHECK_OK(fl_memory_allocate(m, 3000, 0, &keep));
        size_t before = fake_fallible_calls(&fake);
        size_t released = 0;
        fl_pressure_info pi;
        if (w == 0) CHECK_OK(fl_memory_gc_hint(m));
        if (w == 1) CHECK_OK(fl_memory_trim(m, &released));
        if (w == 2) CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_ALL_TYPES, &pi));
        if (w == 3) fl_memory_destroy(m);
        size_t sites = fake_fallible_calls(&fake) - before;
        if (w != 3) check_usable_and_destroy(m);
        CHECK(fake_live_clean(&fake));
        printf("  %-44s %zu fallible calls\n", phase, sites);
        for (size_t n = 1; n <= sites; n++) {
            fake_platform_init(&fake, fl_platform_default());
            CHECK_OK(fl_memory_create(&s.cfg, &m));
            CHECK_OK(fl_memory_allocate(m, 3000, 0, &keep));
            fake_fail_nth(&fake, FAKE_ANY_FALLIBLE, (long)n);
            fl_status st = FL_OK;
            if (w == 0) st = fl_memory_gc_hint(m);
            if (w == 1) st = fl_memory_trim(m, &released);
            if (w == 2) st = fl_memory_get_pressure(m, FL_MEMORY_ALL_TYPES, &pi);
            if (w == 3) fl_memory_destroy(m);
            tally_add(phase, failed_hook(), st);
            tally_outcomes++;
            CHECK_OK(st); /* none of them may fail for want of an OS answer */
            fake_disarm_all(&fake);
            if (w != 3) {
                CHECK_OK(fl_memory_validate(m));
                check_usable_and_destroy(m);
            }
            CHECK(fake_live_clean(&fake));
        }
    }
    free(s.backing);
}

static void test_maintenance(void)
{
    walk_maintenance("HOST single", FL_PLATFORM_HOST, false);
    walk_maintenance("DESKTOP thread_safe", FL_PLATFORM_DESKTOP, true);
    walk_maintenance("compact+heap+shared", (fl_platform)-1, true);
}

/* ---- the report ---------------------------------------------------------------------------- */

static void test_print_tally(void)
{
    printf("\nfault injection: phase x refused hook -> call sites (outcomes)\n");
    printf("  %-44s %-15s %5s %5s %5s %5s\n", "phase", "hook", "sites", "OOM", "PLAT", "OK");
    for (unsigned i = 0; i < tally_count; i++)
        printf("  %-44s %-15s %5u %5u %5u %5u\n", tally[i].phase, hook_name(tally[i].hook), tally[i].sites,
               tally[i].oom, tally[i].platform, tally[i].absorbed);
    printf("  total: %u refused calls walked, %u outcomes checked (clean error or absorbed, no leak, usable)\n",
           tally_sites, tally_outcomes);
    CHECK(tally_sites > 0 && tally_sites == tally_outcomes);
}

int main(void)
{
    RUN(test_create_every_profile);
    RUN(test_allocate_heap_region);
    RUN(test_maintenance);
    RUN(test_print_tally);
    return harness_finish();
}
