/*
 * The WEB profile on a real wasm heap (Emscripten, under node). This program is linked with
 * a small heap cap (FLMEM_TEST_WEB_HEAP_MAX, tests/CMakeLists.txt) and a --pre-js
 * (tests/web_gc_hint.js) that sets Module.flightMemoryGcHint to record its calls:
 * - fl_memory_config_default(WEB) scales its budget to the heap's maximum: every figure at
 *   most the full profile's, a whole number of 64 KiB wasm pages, within one page of
 *   full * heap max / (4/3 of the full budget), and an interface from it can be created;
 * - the OS level follows the heap: it rises as the memory in use grows toward the cap (the
 *   program mallocs outside the interface, like the rest of a game would), pressure
 *   callbacks run on that rise, and the JavaScript hook hears of it (High or Critical);
 * - fl_memory_gc_hint calls the hook with the interface's level; with no hook set it is a
 *   no-op; from a worker thread the call reaches the main thread's Module (queued there,
 *   run when the main thread processes its queue); freeing the memory brings the level
 *   back down.
 */
#include "harness.h"

#include "platform/platform.h"

#include <emscripten/emscripten.h>
#include <emscripten/heap.h>
#include <emscripten/threading.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)

/* EM_JS, not EM_ASM: the suite builds with -std=c11, where EM_ASM is refused. */
EM_JS(int, hint_count, (void), { return Module['flightMemoryGcHints'].length; })
EM_JS(int, hint_last, (void), {
    var h = Module['flightMemoryGcHints'];
    return h.length ? h[h.length - 1] : -1;
})
EM_JS(void, hide_hook, (void), {
    Module['savedHint'] = Module['flightMemoryGcHint'];
    delete Module['flightMemoryGcHint'];
})
EM_JS(void, restore_hook, (void), { Module['flightMemoryGcHint'] = Module['savedHint']; })

static void test_profile_follows_heap(void)
{
    size_t heap_max = emscripten_get_heap_max();
    CHECK_EQ_SIZE(heap_max, (size_t)FLMEM_TEST_WEB_HEAP_MAX);
    fl_memory_config c;
    CHECK_OK(fl_memory_config_default(FL_PLATFORM_WEB, &c));
    CHECK(c.os_pressure && c.strategy[FL_MEMORY_SYSTEM] == FL_ALLOCATOR_SYSTEM);
    /* The full profile's figures (docs/platforms.md) and the share this heap gets. */
    static const struct {
        fl_memory_type t;
        size_t full;
    } full[] = {{FL_MEMORY_SYSTEM, 64 * MIB},   {FL_MEMORY_POOL, 8 * MIB},  {FL_MEMORY_TEMPORARY, 8 * MIB},
                {FL_MEMORY_STACK, 1 * MIB},     {FL_MEMORY_NETWORK, 2 * MIB}, {FL_MEMORY_VIDEO, 16 * MIB},
                {FL_MEMORY_AUDIO, 4 * MIB}};
    double share = (double)heap_max / (103.0 * (double)MIB * 4.0 / 3.0);
    CHECK(share < 1.0);
    size_t sum = 0;
    for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
        size_t cap = c.capacity[full[i].t];
        double want = (double)full[i].full * share;
        CHECK_MSG(cap % (64 * KIB) == 0 && cap <= full[i].full && cap > 0, "%s: %zu",
                  fl_memory_type_str(full[i].t), cap);
        CHECK_MSG((double)cap <= want && (double)cap > want - (double)(64 * KIB) - 1.0, "%s: %zu for %.0f",
                  fl_memory_type_str(full[i].t), cap, want);
        sum += cap;
    }
    CHECK(sum <= heap_max / 4 * 3);
    CHECK(c.emergency_reserve > 0 && c.emergency_reserve < c.capacity[FL_MEMORY_SYSTEM]);
    CHECK(c.total_pressure.low >= c.total_pressure.medium && c.total_pressure.medium >= c.total_pressure.high &&
          c.total_pressure.high >= c.total_pressure.critical && c.total_pressure.critical > 0);
    CHECK(c.max_allocation > 0 && c.max_allocation < 32 * MIB);
    printf("WEB profile for a %zu MiB heap: System %zu KiB, Video %zu KiB, Pool %zu KiB, total %zu KiB\n",
           heap_max / MIB, c.capacity[FL_MEMORY_SYSTEM] / KIB, c.capacity[FL_MEMORY_VIDEO] / KIB,
           c.capacity[FL_MEMORY_POOL] / KIB, sum / KIB);
    fl_memory *m = NULL;
    CHECK_OK(fl_memory_create(&c, &m));
    fl_allocation a;
    CHECK_OK(fl_memory_allocate_typed(m, 1 * MIB, FL_MEMORY_SYSTEM, 0, 0, &a));
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    fl_memory_destroy(m);
}

typedef struct seen {
    unsigned calls, whole;
    fl_pressure_level highest;
} seen;

static void on_rise(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    seen *s = (seen *)user;
    s->calls++;
    if (info->type == FL_MEMORY_ALL_TYPES) s->whole++;
    if (level > s->highest) s->highest = level;
}

static void test_pressure_follows_growth(void)
{
    fl_memory_config c;
    CHECK_OK(fl_memory_config_default(FL_PLATFORM_WEB, &c));
    fl_memory *m = NULL;
    CHECK_OK(fl_memory_create(&c, &m));
    fl_os_pressure os;
    CHECK_OK(fl_memory_poll_os_pressure(m, &os));
    CHECK(os.memory_known && !os.stall_known && os.total_bytes == FLMEM_TEST_WEB_HEAP_MAX);
    fl_pressure_level start = os.level;
    printf("start: %llu of %llu bytes available, OS level %s\n", (unsigned long long)os.available_bytes,
           (unsigned long long)os.total_bytes, fl_pressure_level_str(os.level));
    CHECK(start < FL_PRESSURE_HIGH);

    seen s = {0, 0, FL_PRESSURE_NONE};
    uint32_t id;
    CHECK_OK(fl_memory_register_pressure_callback(m, FL_PRESSURE_HIGH, on_rise, &s, &id));
    int hints = hint_count();

    /* The rest of the program grows the heap toward its cap, 256 KiB at a time, polling as
     * a game would once per frame; the level must not fall while memory only grows. */
    enum { MAX_BLOCKS = 1024 };
    static void *blocks[MAX_BLOCKS];
    size_t n = 0;
    fl_pressure_level last = start;
    while (n < MAX_BLOCKS) {
        void *b = malloc(256 * KIB);
        if (b == NULL) break;
        memset(b, 1, 256 * KIB); /* touched, so nothing can be lazily left out */
        blocks[n++] = b;
        CHECK_OK(fl_memory_poll_os_pressure(m, &os));
        CHECK(os.level >= last);
        last = os.level;
        if (os.level == FL_PRESSURE_CRITICAL) break;
    }
    printf("after %zu blocks of 256 KiB: %llu bytes available, OS level %s, heap %zu MiB\n", n,
           (unsigned long long)os.available_bytes, fl_pressure_level_str(os.level), emscripten_get_heap_size() / MIB);
    CHECK(os.level == FL_PRESSURE_CRITICAL);
    CHECK(os.available_bytes <= os.total_bytes / 50);
    fl_pressure_info info;
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_ALL_TYPES, &info));
    CHECK(info.level == FL_PRESSURE_CRITICAL);
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_POOL, &info));
    CHECK(info.level == FL_PRESSURE_CRITICAL && info.available_bytes == info.total_bytes);
    /* Callbacks at High ran once per present level (seven types and the whole: once each,
     * High -> Critical is no second rise past High); the host heard of the rise to High and
     * the rise to Critical (one call when one sample did both), the last with Critical. */
    CHECK_MSG(s.whole == 1 && s.calls == 8 && s.highest >= FL_PRESSURE_HIGH, "%u calls, %u whole, highest %s", s.calls,
              s.whole, fl_pressure_level_str(s.highest));
    CHECK(hint_count() > hints && hint_count() <= hints + 2);
    CHECK(hint_last() == (int)FL_PRESSURE_CRITICAL);

    /* Explicit gc_hint: the hook hears the current level. */
    hints = hint_count();
    CHECK_OK(fl_memory_gc_hint(m));
    CHECK(hint_count() == hints + 1 && hint_last() == (int)FL_PRESSURE_CRITICAL);
    /* No hook set: nothing happens (and nothing breaks). */
    hide_hook();
    CHECK_OK(fl_memory_gc_hint(m));
    CHECK(hint_count() == hints + 1);
    restore_hook();

    /* Freed: malloc reuses the room, so available comes back and the level falls. */
    for (size_t i = 0; i < n; i++) free(blocks[i]);
    CHECK_OK(fl_memory_poll_os_pressure(m, &os));
    CHECK(os.level <= start);
    CHECK_OK(fl_memory_gc_hint(m));
    CHECK(hint_last() == (int)os.level);
    CHECK_OK(fl_memory_get_pressure(m, FL_MEMORY_ALL_TYPES, &info));
    CHECK(info.level == os.level);
    CHECK_OK(fl_memory_unregister_pressure_callback(m, id));
    fl_memory_destroy(m);
}

static void *gc_hint_thread(void *arg)
{
    CHECK_OK(fl_memory_gc_hint((fl_memory *)arg));
    return NULL;
}

/* A worker's hint is proxied to the main thread, where the host set its hook. */
static void test_hint_from_worker(void)
{
    if (!emscripten_has_threading_support()) {
        printf("SKIPPED test_hint_from_worker: built without -pthread\n");
        return;
    }
    fl_memory_config c;
    CHECK_OK(fl_memory_config_default(FL_PLATFORM_WEB, &c));
    fl_memory *m = NULL;
    CHECK_OK(fl_memory_create(&c, &m));
    int before = hint_count();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, gc_hint_thread, m) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    /* Queued for the main thread (a blocking join may already have run it). */
    emscripten_main_thread_process_queued_calls();
    CHECK(hint_count() == before + 1);
    fl_memory_destroy(m);
}

int main(void)
{
    RUN(test_profile_follows_heap);
    RUN(test_pressure_follows_growth);
    RUN(test_hint_from_worker);
    return harness_finish();
}
