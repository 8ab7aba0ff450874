/*
 * libflightmem-override.so: the C library's allocation functions served by a flight-memory
 * interface, for LD_PRELOAD (glibc documents which functions a replacement must provide:
 * malloc, free, calloc, realloc, and optionally aligned_alloc, malloc_usable_size,
 * memalign, posix_memalign, pvalloc, valloc; reallocarray is added because it is cheap).
 *
 * The interface: the HOST profile (fl_memory_config_default(FL_PLATFORM_HOST)) with only
 * the types malloc uses kept: System (a free list) and Pool (small System requests are
 * routed to its size classes). The System region is sized generously: half the machine's
 * physical memory, or FLMEM_OVERRIDE_BYTES if set (the pages are mapped lazily, so the
 * reservation costs address space, not memory). No emergency reserve (malloc has no
 * "critical" requests). When the regions are full, the functions fail as malloc does:
 * NULL (posix_memalign: ENOMEM) with errno ENOMEM; there is no fallback to another heap,
 * the budget is a budget. Alignments above FL_ALIGN_MAX (64 KiB), which the interface
 * does not serve, fail the same way (ENOMEM); malloc(0) returns a unique 1-byte block and
 * realloc(p, 0) frees p and returns NULL, as glibc does.
 *
 * Threads: one process-wide mutex serialises every call into the interface (created with
 * thread_safe off: the mutex is the only lock, so pthread_atfork can take it around fork
 * and the child never inherits it held by a thread that no longer exists).
 *
 * Bootstrap: the interface is created at the first call. Its creation maps pages (mmap)
 * and never calls malloc, but dlsym (used to find the C library's own functions) may call
 * calloc, and so may pthread_atfork. Calls made by the initialising thread while it
 * initialises are served from a static 256 KiB arena (bump allocation, never reused: its
 * blocks are a few small buffers that live for the whole process); other threads wait.
 * If the interface cannot be created (pages refused), every call is forwarded to the C
 * library's functions instead, found with dlsym(RTLD_NEXT).
 *
 * Foreign pointers: once this library is preloaded, glibc sends every allocation of the
 * program, of the C library itself and of the dynamic loader after its relocation through
 * the functions below, so a pointer that is neither the interface's nor the arena's is
 * either memory the dynamic loader took before relocation (from its own minimal
 * allocator, which the C library's free cannot take either) or an invalid/double free.
 * free ignores it (and counts it: flmem_override_foreign_frees()), realloc fails with
 * NULL/ENOMEM leaving it untouched (its size is unknown, so it cannot be copied), and
 * malloc_usable_size answers 0. Only in the forwarding mode (interface not created) do
 * foreign pointers go to the C library's functions, which made them.
 * The arena's blocks: free ignores them, realloc copies them into the interface.
 */
#define _GNU_SOURCE
#include <flight/memory.h>

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

enum { UNINIT, INITIALISING, READY, FORWARDING };

static fl_memory *g_mem;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int g_state = UNINIT;
static _Thread_local int t_initialising;
static atomic_size_t g_foreign_frees;

/* The C library's own functions, for the forwarding mode. */
static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static size_t (*real_usable)(void *);

/* ---- the bootstrap arena: each block is preceded by a 16-byte header holding its size -- */
#define ARENA_BYTES (256u * 1024u)
#define ARENA_HEADER 16u
static _Alignas(64) unsigned char g_arena[ARENA_BYTES];
static atomic_size_t g_arena_used;

static int in_arena(const void *p)
{
    uintptr_t a = (uintptr_t)p, base = (uintptr_t)g_arena;
    return a >= base && a < base + ARENA_BYTES;
}

static void *arena_alloc(size_t size, size_t align)
{
    if (align < ARENA_HEADER) align = ARENA_HEADER;
    if (size > ARENA_BYTES) return NULL;
    size_t old = atomic_load(&g_arena_used), start, end;
    do {
        start = (old + ARENA_HEADER + align - 1) & ~(align - 1);
        end = start + ((size + ARENA_HEADER - 1) & ~(size_t)(ARENA_HEADER - 1));
        if (end > ARENA_BYTES) return NULL;
    } while (!atomic_compare_exchange_weak(&g_arena_used, &old, end));
    memcpy(g_arena + start - ARENA_HEADER, &size, sizeof size);
    return g_arena + start;
}

static size_t arena_size(const void *p)
{
    size_t size;
    memcpy(&size, (const unsigned char *)p - ARENA_HEADER, sizeof size);
    return size;
}

/* ---- initialisation ------------------------------------------------------------------- */
static void fork_prepare(void) { pthread_mutex_lock(&g_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&g_lock); }
static void fork_child(void) { pthread_mutex_init(&g_lock, NULL); }

static size_t system_bytes(void)
{
    const char *env = getenv("FLMEM_OVERRIDE_BYTES");
    if (env != NULL && *env != '\0') {
        char *end;
        unsigned long long v = strtoull(env, &end, 0);
        if (*end == 'K' || *end == 'k') v <<= 10;
        else if (*end == 'M' || *end == 'm') v <<= 20;
        else if (*end == 'G' || *end == 'g') v <<= 30;
        if (v > 0 && v <= SIZE_MAX) return (size_t)v;
    }
    const fl_platform_hooks *os = fl_platform_default();
    uint64_t physical = os->physical_memory ? os->physical_memory(os->user) : 0;
    if (physical == 0) physical = (uint64_t)4 << 30;
    uint64_t s = physical / 2;
    if (sizeof(size_t) < 8 && s > ((uint64_t)1 << 30)) s = (uint64_t)1 << 30; /* 32-bit address space */
    return (size_t)(s & ~(uint64_t)((1u << 20) - 1));
}

/* dlsym returns an object pointer; POSIX guarantees it converts to a function pointer, ISO
 * C does not, so the bytes are copied (as POSIX's own rationale suggests). */
static void resolve(const char *name, void *fn, size_t size)
{
    void *sym = dlsym(RTLD_NEXT, name);
    memcpy(fn, &sym, size);
}

static void initialise(void)
{
    resolve("malloc", &real_malloc, sizeof real_malloc);
    resolve("free", &real_free, sizeof real_free);
    resolve("realloc", &real_realloc, sizeof real_realloc);
    resolve("posix_memalign", &real_posix_memalign, sizeof real_posix_memalign);
    resolve("malloc_usable_size", &real_usable, sizeof real_usable);

    fl_memory_config c;
    int ok = fl_memory_config_default(FL_PLATFORM_HOST, &c) == FL_OK;
    if (ok) {
        size_t s = system_bytes();
        size_t pool = c.capacity[FL_MEMORY_POOL];
        for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) c.capacity[t] = 0;
        c.capacity[FL_MEMORY_SYSTEM] = s;
        c.capacity[FL_MEMORY_POOL] = pool;
        c.emergency_reserve = 0;
        c.max_allocation = 0;
        c.thread_safe = false; /* g_lock serialises */
        ok = fl_memory_create(&c, &g_mem) == FL_OK;
    }
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    int forward = !ok && real_malloc && real_free && real_realloc && real_posix_memalign && real_usable;
    atomic_store(&g_state, ok ? READY : forward ? FORWARDING : READY);
}

/* READY (g_mem may still be NULL if even forwarding is impossible: then every call
 * fails), FORWARDING, or INITIALISING for the initialising thread's own nested calls. */
static int state(void)
{
    int s = atomic_load_explicit(&g_state, memory_order_acquire);
    if (s == READY || s == FORWARDING) return s;
    if (t_initialising) return INITIALISING;
    int expected = UNINIT;
    if (atomic_compare_exchange_strong(&g_state, &expected, INITIALISING)) {
        t_initialising = 1;
        initialise();
        t_initialising = 0;
    } else {
        while (atomic_load(&g_state) == INITIALISING) sched_yield();
    }
    return atomic_load(&g_state);
}

/* ---- the core, under g_lock ------------------------------------------------------------ */
static void *core_alloc(size_t size, size_t align)
{
    int s = state();
    if (s == INITIALISING) {
        void *p = arena_alloc(size ? size : 1, align);
        if (p == NULL) errno = ENOMEM;
        return p;
    }
    if (s == FORWARDING) {
        void *p = NULL;
        if (align <= sizeof(void *) * 2) return real_malloc(size ? size : 1);
        int e = real_posix_memalign(&p, align, size ? size : 1);
        if (e != 0) errno = e;
        return e ? NULL : p;
    }
    fl_allocation a;
    fl_status st = FL_ERR_OUT_OF_MEMORY;
    if (g_mem != NULL && align <= FL_ALIGN_MAX) {
        pthread_mutex_lock(&g_lock);
        st = fl_memory_allocate(g_mem, size ? size : 1, align, &a);
        pthread_mutex_unlock(&g_lock);
    }
    if (st != FL_OK) {
        errno = ENOMEM;
        return NULL;
    }
    return a.ptr;
}

static int is_power_of_two(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

EXPORT void *malloc(size_t size) { return core_alloc(size, 0); }

EXPORT void free(void *p)
{
    if (p == NULL || in_arena(p)) return;
    int s = state();
    if (s == FORWARDING) {
        real_free(p);
        return;
    }
    fl_status st = FL_ERR_INVALID_PARAMETERS;
    if (g_mem != NULL) {
        pthread_mutex_lock(&g_lock);
        st = fl_memory_deallocate(g_mem, p);
        pthread_mutex_unlock(&g_lock);
    }
    if (st != FL_OK) atomic_fetch_add(&g_foreign_frees, 1);
}

EXPORT void *calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = core_alloc(n * size, 0);
    if (p != NULL) memset(p, 0, n * size);
    return p;
}

EXPORT void *realloc(void *p, size_t size)
{
    if (p == NULL) return core_alloc(size, 0);
    if (size == 0) { /* as glibc: free and return NULL */
        free(p);
        return NULL;
    }
    if (in_arena(p)) {
        void *q = core_alloc(size, 0);
        if (q != NULL) {
            size_t old = arena_size(p);
            memcpy(q, p, old < size ? old : size);
        }
        return q;
    }
    int s = state();
    if (s == FORWARDING) return real_realloc(p, size);
    fl_allocation a;
    fl_status st = FL_ERR_INVALID_PARAMETERS;
    if (g_mem != NULL) {
        pthread_mutex_lock(&g_lock);
        st = fl_memory_reallocate(g_mem, p, size, &a);
        pthread_mutex_unlock(&g_lock);
    }
    if (st != FL_OK) {
        errno = ENOMEM; /* foreign pointer or region full: p is untouched */
        return NULL;
    }
    return a.ptr;
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n * size);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (!is_power_of_two(align) || align % sizeof(void *) != 0) return EINVAL;
    int saved = errno;
    void *p = core_alloc(size, align);
    if (p == NULL) {
        errno = saved; /* posix_memalign reports through its result, not errno */
        return ENOMEM;
    }
    *out = p;
    return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
    if (!is_power_of_two(align)) {
        errno = EINVAL;
        return NULL;
    }
    return core_alloc(size, align);
}

EXPORT void *memalign(size_t align, size_t size)
{
    if (!is_power_of_two(align)) {
        errno = EINVAL;
        return NULL;
    }
    return core_alloc(size, align);
}

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

EXPORT void *valloc(size_t size) { return core_alloc(size, page_size()); }

EXPORT void *pvalloc(size_t size)
{
    size_t page = page_size();
    if (size > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    return core_alloc(size ? (size + page - 1) & ~(page - 1) : page, page);
}

EXPORT size_t malloc_usable_size(void *p)
{
    if (p == NULL) return 0;
    if (in_arena(p)) return arena_size(p);
    int s = state();
    if (s == FORWARDING) return real_usable(p);
    fl_allocation a;
    fl_status st = FL_ERR_INVALID_PARAMETERS;
    if (g_mem != NULL) {
        pthread_mutex_lock(&g_lock);
        st = fl_memory_get_allocation_info(g_mem, p, &a);
        pthread_mutex_unlock(&g_lock);
    }
    return st == FL_OK ? a.size : 0;
}

/* ---- for tests and diagnostics (found with dlsym) --------------------------------------- */
EXPORT size_t flmem_override_foreign_frees(void) { return atomic_load(&g_foreign_frees); }

EXPORT int flmem_override_active(void) { return state() == READY && g_mem != NULL; }

EXPORT fl_status flmem_override_stats(fl_memory_stats *out)
{
    if (!flmem_override_active() || out == NULL) return FL_ERR_INVALID_STATE;
    pthread_mutex_lock(&g_lock);
    fl_status st = fl_memory_get_stats(g_mem, out);
    pthread_mutex_unlock(&g_lock);
    return st;
}

/* FLMEM_OVERRIDE_REPORT=1: one line on stderr at exit (snprintf into the stack and
 * write(2): no allocation while the process winds down). */
__attribute__((destructor)) static void report(void)
{
    const char *env = getenv("FLMEM_OVERRIDE_REPORT");
    fl_memory_stats st;
    if (env == NULL || *env == '\0' || flmem_override_stats(&st) != FL_OK) return;
    char line[256];
    int n = snprintf(line, sizeof line,
                     "flmem-override: %llu allocations, %zu live, peak %zu bytes, %llu failed, %zu foreign frees\n",
                     (unsigned long long)st.total_allocations, st.allocation_count, st.peak_used_bytes,
                     (unsigned long long)st.failed_allocations, flmem_override_foreign_frees());
    if (n > 0) (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
