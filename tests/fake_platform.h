/*
 * A platform table for tests: it wraps a real one (usually fl_platform_default()), counts
 * every call per hook, keeps live totals (mapped bytes, heap blocks, shared bytes, locks,
 * condition variables), and fails a chosen call on demand.
 *
 *     static fake_platform fake;
 *     fake_platform_init(&fake, fl_platform_default());
 *     cfg.platform = &fake.hooks;                 // the allocator calls through the fake
 *     fake_fail_nth(&fake, FAKE_MAP_PAGES, 2);    // the 2nd map_pages from now fails, once
 *     fake_fail_nth(&fake, FAKE_ANY_FALLIBLE, 3); // the 3rd fallible call, whichever hook
 *     ... fake_live_clean(&fake)                  // nothing mapped, allocated or held
 *
 * A hook the wrapped table lacks is NULL here too; a test removes a capability by setting
 * a hook of `hooks` to NULL. Failing means what the contract lets the hook do when refused:
 * NULL (map_pages, heap_alloc, shared_map), false (lock_init, cond_init, system_memory,
 * pressure_stall; cond_wait returns false at once, as if timed out), 0 (physical_memory).
 * The other hooks cannot fail and are only counted. Counters are atomics, so the fake may
 * serve a thread-safe allocator hammered by several threads. Header-only: every function
 * is static, each test program has its own copy.
 */
#ifndef FLMEM_TEST_FAKE_PLATFORM_H
#define FLMEM_TEST_FAKE_PLATFORM_H

#include <flight/memory.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef enum fake_hook {
    FAKE_PAGE_SIZE,
    FAKE_MAP_PAGES,
    FAKE_UNMAP_PAGES,
    FAKE_RELEASE_PAGES,
    FAKE_HEAP_ALLOC,
    FAKE_HEAP_FREE,
    FAKE_LOCK_INIT,
    FAKE_LOCK_ACQUIRE,
    FAKE_LOCK_RELEASE,
    FAKE_LOCK_DESTROY,
    FAKE_COND_INIT,
    FAKE_COND_WAIT,
    FAKE_COND_BROADCAST,
    FAKE_COND_DESTROY,
    FAKE_SHARED_MAP,
    FAKE_SHARED_UNMAP,
    FAKE_SYSTEM_MEMORY,
    FAKE_PHYSICAL_MEMORY,
    FAKE_NOW_NS,
    FAKE_PRESSURE_STALL,
    FAKE_GC_HINT,
    FAKE_HOOK_COUNT,
    /* For fake_fail_nth/fake_fail_from: counts calls of every fallible hook together. */
    FAKE_ANY_FALLIBLE = FAKE_HOOK_COUNT
} fake_hook;

/* An armed failure: `left` calls pass before the failing one (-1: disarmed). */
typedef struct fake_trigger {
    atomic_long left;
    atomic_bool sticky; /* true: every call from the failing one on fails */
} fake_trigger;

typedef struct fake_platform {
    fl_platform_hooks hooks; /* pass &fake.hooks as a config's platform */
    const fl_platform_hooks *real;
    atomic_size_t calls[FAKE_HOOK_COUNT];
    atomic_size_t failures[FAKE_HOOK_COUNT]; /* calls the fake made fail */
    fake_trigger triggers[FAKE_HOOK_COUNT + 1];
    atomic_size_t live_map_bytes, live_heap_blocks, live_shared_bytes, live_locks, live_conds;
    atomic_int last_gc_hint; /* the level of the last gc_hint call (-1: none yet) */
} fake_platform;

static inline bool fake_hook_fallible(fake_hook hook)
{
    switch (hook) {
    case FAKE_MAP_PAGES:
    case FAKE_HEAP_ALLOC:
    case FAKE_LOCK_INIT:
    case FAKE_COND_INIT:
    case FAKE_COND_WAIT:
    case FAKE_SHARED_MAP:
    case FAKE_SYSTEM_MEMORY:
    case FAKE_PHYSICAL_MEMORY:
    case FAKE_PRESSURE_STALL: return true;
    default: return false;
    }
}

/* True when this call is the armed one (or past it, sticky). */
static inline bool fake_trigger_fires(fake_trigger *t)
{
    long left = atomic_load(&t->left);
    while (left >= 0) {
        if (left == 0) {
            if (atomic_load(&t->sticky)) return true;
            if (atomic_compare_exchange_weak(&t->left, &left, -1)) return true;
        } else if (atomic_compare_exchange_weak(&t->left, &left, left - 1)) {
            return false;
        }
    }
    return false;
}

/* Counts a call of `hook`; true when the fake must make it fail. */
static inline bool fake_enter(fake_platform *f, fake_hook hook)
{
    atomic_fetch_add(&f->calls[hook], 1);
    if (!fake_hook_fallible(hook)) return false;
    /* Both triggers see the call, so each counts its own calls exactly. */
    bool fail = fake_trigger_fires(&f->triggers[hook]);
    if (fake_trigger_fires(&f->triggers[FAKE_ANY_FALLIBLE])) fail = true;
    if (fail) atomic_fetch_add(&f->failures[hook], 1);
    return fail;
}

/* The n-th call of `hook` (or FAKE_ANY_FALLIBLE) counted from now fails, once; 0 disarms. */
static inline void fake_fail_nth(fake_platform *f, fake_hook hook, long n)
{
    atomic_store(&f->triggers[hook].sticky, false);
    atomic_store(&f->triggers[hook].left, n > 0 ? n - 1 : -1);
}

/* The n-th call from now and every later one fail (n >= 1), until fake_fail_nth(.., 0). */
static inline void fake_fail_from(fake_platform *f, fake_hook hook, long n)
{
    atomic_store(&f->triggers[hook].sticky, true);
    atomic_store(&f->triggers[hook].left, n > 0 ? n - 1 : 0);
}

static inline void fake_disarm_all(fake_platform *f)
{
    for (int i = 0; i <= FAKE_HOOK_COUNT; i++) fake_fail_nth(f, (fake_hook)i, 0);
}

static inline size_t fake_calls(const fake_platform *f, fake_hook hook)
{
    return atomic_load(&((fake_platform *)(uintptr_t)f)->calls[hook]);
}

static inline size_t fake_failures(const fake_platform *f, fake_hook hook)
{
    return atomic_load(&((fake_platform *)(uintptr_t)f)->failures[hook]);
}

/* Calls of every fallible hook so far: the range FAKE_ANY_FALLIBLE's n runs over. */
static inline size_t fake_fallible_calls(const fake_platform *f)
{
    size_t n = 0;
    for (int i = 0; i < FAKE_HOOK_COUNT; i++)
        if (fake_hook_fallible((fake_hook)i)) n += fake_calls(f, (fake_hook)i);
    return n;
}

static inline size_t fake_live_map_bytes(const fake_platform *f)
{
    return atomic_load(&((fake_platform *)(uintptr_t)f)->live_map_bytes);
}

static inline size_t fake_live_heap_blocks(const fake_platform *f)
{
    return atomic_load(&((fake_platform *)(uintptr_t)f)->live_heap_blocks);
}

static inline size_t fake_live_shared_bytes(const fake_platform *f)
{
    return atomic_load(&((fake_platform *)(uintptr_t)f)->live_shared_bytes);
}

static inline size_t fake_live_locks(const fake_platform *f)
{
    return atomic_load(&((fake_platform *)(uintptr_t)f)->live_locks);
}

static inline size_t fake_live_conds(const fake_platform *f)
{
    return atomic_load(&((fake_platform *)(uintptr_t)f)->live_conds);
}

/* Nothing mapped, allocated, shared or initialised is left. */
static inline bool fake_live_clean(const fake_platform *f)
{
    return fake_live_map_bytes(f) == 0 && fake_live_heap_blocks(f) == 0 && fake_live_shared_bytes(f) == 0 &&
           fake_live_locks(f) == 0 && fake_live_conds(f) == 0;
}

/* ---- the hooks ------------------------------------------------------------------------- */

#define FAKE_SELF(user) ((fake_platform *)(user))
#define FAKE_REAL(f, hook) ((f)->real->hook)
#define FAKE_REAL_USER(f) ((f)->real->user)

static size_t fake_page_size(void *user)
{
    fake_platform *f = FAKE_SELF(user);
    (void)fake_enter(f, FAKE_PAGE_SIZE);
    return FAKE_REAL(f, page_size)(FAKE_REAL_USER(f));
}

static void *fake_map_pages(void *user, size_t size)
{
    fake_platform *f = FAKE_SELF(user);
    if (fake_enter(f, FAKE_MAP_PAGES)) return NULL;
    void *p = FAKE_REAL(f, map_pages)(FAKE_REAL_USER(f), size);
    if (p != NULL) atomic_fetch_add(&f->live_map_bytes, size);
    return p;
}

static void fake_unmap_pages(void *user, void *pages, size_t size)
{
    fake_platform *f = FAKE_SELF(user);
    (void)fake_enter(f, FAKE_UNMAP_PAGES);
    atomic_fetch_sub(&f->live_map_bytes, size);
    FAKE_REAL(f, unmap_pages)(FAKE_REAL_USER(f), pages, size);
}

static void fake_release_pages(void *user, void *pages, size_t size)
{
    fake_platform *f = FAKE_SELF(user);
    (void)fake_enter(f, FAKE_RELEASE_PAGES);
    FAKE_REAL(f, release_pages)(FAKE_REAL_USER(f), pages, size);
}

static void *fake_heap_alloc(void *user, size_t size, size_t alignment)
{
    fake_platform *f = FAKE_SELF(user);
    if (fake_enter(f, FAKE_HEAP_ALLOC)) return NULL;
    void *p = FAKE_REAL(f, heap_alloc)(FAKE_REAL_USER(f), size, alignment);
    if (p != NULL) atomic_fetch_add(&f->live_heap_blocks, 1);
    return p;
}

static void fake_heap_free(void *user, void *block)
{
    fake_platform *f = FAKE_SELF(user);
    (void)fake_enter(f, FAKE_HEAP_FREE);
    if (block != NULL) atomic_fetch_sub(&f->live_heap_blocks, 1);
    FAKE_REAL(f, heap_free)(FAKE_REAL_USER(f), block);
}

static bool fake_lock_init(void *user, void *lock)
{
    fake_platform *f = FAKE_SELF(user);
    if (fake_enter(f, FAKE_LOCK_INIT)) return false;
    if (!FAKE_REAL(f, lock_init)(FAKE_REAL_USER(f), lock)) return false;
    atomic_fetch_add(&f->live_locks, 1);
    return true;
}

static void fake_lock_acquire(void *user, void *lock)
{
    fake_platform *f = FAKE_SELF(user);
    (void)fake_enter(f, FAKE_LOCK_ACQUIRE);
    FAKE_REAL(f, lock_acquire)(FAKE_REAL_USER(f), lock);
}

static void fake_lock_release(void *user, void *lock)
{
    fake_platform *f = FAKE_SELF(user);
    (void)fake_enter(f, FAKE_LOCK_RELEASE);
    FAKE_REAL(f, lock_release)(FAKE_REAL_USER(f), lock);
}

static void fake_lock_destroy(void *user, void *lock)
{
    fake_platform *f = FAKE_SELF(user);
    (void)fake_enter(f, FAKE_LOCK_DESTROY);
    atomic_fetch_sub(&f->live_locks, 1);
    FAKE_REAL(f, lock_destroy)(FAKE_REAL_USER(f), lock);
}

static bool fake_cond_init(void *user, void *cond)
{
    fake_platform *f = FAKE_SELF(user);
    if (fake_enter(f, FAKE_COND_INIT)) return false;
    if (!FAKE_REAL(f, cond_init)(FAKE_REAL_USER(f), cond)) return false;
    atomic_fetch_add(&f->live_conds, 1);
    return true;
}

static bool fake_cond_wait(void *user, void *cond, void *lock, uint32_t timeout_ms)
{
    fake_platform *f = FAKE_SELF(user);
    if (fake_enter(f, FAKE_COND_WAIT)) return false;
    return FAKE_REAL(f, cond_wait)(FAKE_REAL_USER(f), cond, lock, timeout_ms);
}

static void fake_cond_broadcast(void *user, void *cond)
{
    fake_platform *f = FAKE_SELF(user);
    (void)fake_enter(f, FAKE_COND_BROADCAST);
    FAKE_REAL(f, cond_broadcast)(FAKE_REAL_USER(f), cond);
}

static void fake_cond_destroy(void *user, void *cond)
{
    fake_platform *f = FAKE_SELF(user);
    (void)fake_enter(f, FAKE_COND_DESTROY);
    atomic_fetch_sub(&f->live_conds, 1);
    FAKE_REAL(f, cond_destroy)(FAKE_REAL_USER(f), cond);
}

static void *fake_shared_map(void *user, size_t size)
{
    fake_platform *f = FAKE_SELF(user);
    if (fake_enter(f, FAKE_SHARED_MAP)) return NULL;
    void *p = FAKE_REAL(f, shared_map)(FAKE_REAL_USER(f), size);
    if (p != NULL) atomic_fetch_add(&f->live_shared_bytes, size);
    return p;
}

static void fake_shared_unmap(void *user, void *memory, size_t size)
{
    fake_platform *f = FAKE_SELF(user);
    (void)fake_enter(f, FAKE_SHARED_UNMAP);
    atomic_fetch_sub(&f->live_shared_bytes, size);
    FAKE_REAL(f, shared_unmap)(FAKE_REAL_USER(f), memory, size);
}

static bool fake_system_memory(void *user, uint64_t *available, uint64_t *total)
{
    fake_platform *f = FAKE_SELF(user);
    if (fake_enter(f, FAKE_SYSTEM_MEMORY)) return false;
    return FAKE_REAL(f, system_memory)(FAKE_REAL_USER(f), available, total);
}

static uint64_t fake_physical_memory(void *user)
{
    fake_platform *f = FAKE_SELF(user);
    if (fake_enter(f, FAKE_PHYSICAL_MEMORY)) return 0;
    return FAKE_REAL(f, physical_memory)(FAKE_REAL_USER(f));
}

static uint64_t fake_now_ns(void *user)
{
    fake_platform *f = FAKE_SELF(user);
    (void)fake_enter(f, FAKE_NOW_NS);
    return FAKE_REAL(f, now_ns)(FAKE_REAL_USER(f));
}

static bool fake_pressure_stall(void *user, double *some_avg10_pct)
{
    fake_platform *f = FAKE_SELF(user);
    if (fake_enter(f, FAKE_PRESSURE_STALL)) return false;
    return FAKE_REAL(f, pressure_stall)(FAKE_REAL_USER(f), some_avg10_pct);
}

/* Counted, and the level kept; a real table without the hook still gets this one only when
 * a test sets fake.hooks.gc_hint = fake_gc_hint itself. */
static void fake_gc_hint(void *user, fl_pressure_level level)
{
    fake_platform *f = FAKE_SELF(user);
    (void)fake_enter(f, FAKE_GC_HINT);
    atomic_store(&f->last_gc_hint, (int)level);
    if (f->real->gc_hint != NULL) FAKE_REAL(f, gc_hint)(FAKE_REAL_USER(f), level);
}

/* Wraps `real`: every hook it has is counted and can fail; the ones it lacks stay NULL.
 * Counters and triggers start at zero and disarmed. */
static inline void fake_platform_init(fake_platform *f, const fl_platform_hooks *real)
{
    memset(&f->hooks, 0, sizeof f->hooks);
    f->real = real;
    for (int i = 0; i < FAKE_HOOK_COUNT; i++) {
        atomic_init(&f->calls[i], 0);
        atomic_init(&f->failures[i], 0);
    }
    for (int i = 0; i <= FAKE_HOOK_COUNT; i++) {
        atomic_init(&f->triggers[i].left, -1);
        atomic_init(&f->triggers[i].sticky, false);
    }
    atomic_init(&f->live_map_bytes, 0);
    atomic_init(&f->live_heap_blocks, 0);
    atomic_init(&f->live_shared_bytes, 0);
    atomic_init(&f->live_locks, 0);
    atomic_init(&f->live_conds, 0);
    atomic_init(&f->last_gc_hint, -1);

    f->hooks.user = f;
#define FAKE_WRAP(hook)                                                                         \
    do {                                                                                        \
        if (real->hook != NULL) f->hooks.hook = fake_##hook;                                    \
    } while (0)
    FAKE_WRAP(page_size);
    FAKE_WRAP(map_pages);
    FAKE_WRAP(unmap_pages);
    FAKE_WRAP(release_pages);
    FAKE_WRAP(heap_alloc);
    FAKE_WRAP(heap_free);
    FAKE_WRAP(lock_init);
    FAKE_WRAP(lock_acquire);
    FAKE_WRAP(lock_release);
    FAKE_WRAP(lock_destroy);
    FAKE_WRAP(cond_init);
    FAKE_WRAP(cond_wait);
    FAKE_WRAP(cond_broadcast);
    FAKE_WRAP(cond_destroy);
    FAKE_WRAP(shared_map);
    FAKE_WRAP(shared_unmap);
    FAKE_WRAP(system_memory);
    FAKE_WRAP(physical_memory);
    FAKE_WRAP(now_ns);
    FAKE_WRAP(pressure_stall);
    FAKE_WRAP(gc_hint);
#undef FAKE_WRAP
}

#undef FAKE_SELF
#undef FAKE_REAL
#undef FAKE_REAL_USER

#endif /* FLMEM_TEST_FAKE_PLATFORM_H */
