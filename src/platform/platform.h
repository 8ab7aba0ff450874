/*
 * The only door to the operating system. Everything outside src/platform/ reaches pages,
 * heaps, locks and machine facts through these functions and nothing else; one backend
 * file per platform implements them (posix.c, freestanding.c).
 *
 * Preconditions and promises, for every backend:
 * - fli_pages_map(size): size is a non-zero multiple of fli_page_size(). Returns zeroed,
 *   page-aligned, readable and writable memory, or NULL (the OS refused or the platform has
 *   no pages). fli_pages_unmap takes back exactly a pointer and size that map returned.
 * - fli_heap_alloc(size, alignment): size > 0; alignment a power of two, at least
 *   sizeof(void *). Returns NULL when the platform heap is exhausted or absent.
 *   fli_heap_free takes exactly a pointer heap_alloc returned.
 * - fli_lock_*: a non-recursive mutual-exclusion lock held for short sections. init
 *   returns false when the platform cannot make one; acquire/release never fail on a
 *   lock init accepted; destroy takes an unheld lock.
 * - fli_physical_memory(): bytes of RAM the machine has, 0 when unknown.
 * - None of these sets the last error: the caller says what failed.
 */
#ifndef FLI_PLATFORM_H
#define FLI_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for the platform's lock object (pthread_mutex_t is 40 bytes on x86-64 glibc). */
#define FLI_LOCK_BYTES 64

typedef struct fli_lock {
    union {
        void *pointer_alignment;
        uint64_t word_alignment;
        long double float_alignment;
        unsigned char bytes[FLI_LOCK_BYTES];
    } storage;
} fli_lock;

size_t fli_page_size(void);
void *fli_pages_map(size_t size);
void fli_pages_unmap(void *pages, size_t size);

void *fli_heap_alloc(size_t size, size_t alignment);
void fli_heap_free(void *block);

bool fli_lock_init(fli_lock *lock);
void fli_lock_acquire(fli_lock *lock);
void fli_lock_release(fli_lock *lock);
void fli_lock_destroy(fli_lock *lock);

uint64_t fli_physical_memory(void);

/*
 * Accounting and fault injection, for tests (added with the system allocator). Counted
 * over the whole process with atomics; they cost one relaxed atomic per call.
 * - fli_pages_live_bytes: bytes fli_pages_map returned that fli_pages_unmap has not taken.
 * - fli_heap_live_blocks: blocks fli_heap_alloc returned that fli_heap_free has not taken.
 * - fli_pages_fail_after(n) / fli_heap_fail_after(n): after n more successful calls, the
 *   next call returns NULL (once), as if the platform refused. Negative n disarms.
 */
size_t fli_pages_live_bytes(void);
size_t fli_heap_live_blocks(void);
void fli_pages_fail_after(long successes);
void fli_heap_fail_after(long successes);

#endif /* FLI_PLATFORM_H */
