/* The POSIX backend of platform.h: mmap for pages, the C library's heap, pthread mutexes. */
#define _GNU_SOURCE 1
#include "platform.h"

#include <pthread.h>
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

void *fli_pages_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void fli_pages_unmap(void *pages, size_t size) { munmap(pages, size); }

void *fli_heap_alloc(size_t size, size_t alignment)
{
    void *p = NULL;
    return posix_memalign(&p, alignment, size) == 0 ? p : NULL;
}

void fli_heap_free(void *block) { free(block); }

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
