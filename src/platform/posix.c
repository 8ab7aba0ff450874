/* The POSIX backend of platform.h: mmap for pages, the C library's heap, pthread mutexes. */
#define _GNU_SOURCE 1
#include "platform.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

_Static_assert(sizeof(pthread_mutex_t) <= FLI_LOCK_BYTES, "FLI_LOCK_BYTES too small for pthread_mutex_t");
_Static_assert(_Alignof(pthread_mutex_t) <= _Alignof(fli_lock), "fli_lock under-aligned for pthread_mutex_t");

size_t fli_page_size(void)
{
    static size_t cached;
    if (cached == 0) {
        long page = sysconf(_SC_PAGESIZE);
        cached = page > 0 ? (size_t)page : 4096u;
    }
    return cached;
}

/* Test accounting and fault injection (platform.h): live totals, and countdowns that are
 * negative when disarmed. */
static atomic_size_t pages_live;
static atomic_size_t heap_live;
static atomic_long pages_countdown = -1;
static atomic_long heap_countdown = -1;

/* True when an armed countdown reaches this call: it fails once and disarms. */
static bool injected_failure(atomic_long *countdown)
{
    long left = atomic_load_explicit(countdown, memory_order_relaxed);
    while (left >= 0) {
        if (atomic_compare_exchange_weak(countdown, &left, left - 1)) return left == 0;
    }
    return false;
}

void *fli_pages_map(size_t size)
{
    if (injected_failure(&pages_countdown)) return NULL;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    atomic_fetch_add_explicit(&pages_live, size, memory_order_relaxed);
    return p;
}

void fli_pages_unmap(void *pages, size_t size)
{
    if (munmap(pages, size) == 0) atomic_fetch_sub_explicit(&pages_live, size, memory_order_relaxed);
}

void *fli_heap_alloc(size_t size, size_t alignment)
{
    void *p = NULL;
    if (injected_failure(&heap_countdown)) return NULL;
    if (posix_memalign(&p, alignment, size) != 0) return NULL;
    atomic_fetch_add_explicit(&heap_live, 1, memory_order_relaxed);
    return p;
}

void fli_heap_free(void *block)
{
    if (block == NULL) return;
    atomic_fetch_sub_explicit(&heap_live, 1, memory_order_relaxed);
    free(block);
}

size_t fli_pages_live_bytes(void) { return atomic_load_explicit(&pages_live, memory_order_relaxed); }
size_t fli_heap_live_blocks(void) { return atomic_load_explicit(&heap_live, memory_order_relaxed); }
void fli_pages_fail_after(long successes) { atomic_store(&pages_countdown, successes < 0 ? -1 : successes); }
void fli_heap_fail_after(long successes) { atomic_store(&heap_countdown, successes < 0 ? -1 : successes); }

bool fli_lock_init(fli_lock *lock)
{
    return pthread_mutex_init((pthread_mutex_t *)(void *)lock->storage.bytes, NULL) == 0;
}

void fli_lock_acquire(fli_lock *lock) { pthread_mutex_lock((pthread_mutex_t *)(void *)lock->storage.bytes); }
void fli_lock_release(fli_lock *lock) { pthread_mutex_unlock((pthread_mutex_t *)(void *)lock->storage.bytes); }
void fli_lock_destroy(fli_lock *lock) { pthread_mutex_destroy((pthread_mutex_t *)(void *)lock->storage.bytes); }

uint64_t fli_physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return 0;
    return (uint64_t)pages * (uint64_t)page;
}
