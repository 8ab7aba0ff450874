/*
 * The freestanding backend of platform.h, for consoles and bare metal (Dreamcast, PSP
 * homebrew without an OS allocator, and our SH-4 tests): there is no operating system.
 * - No pages and no heap: allocators live in memory the game hands over (a buffer per
 *   allocator), so map/heap answer NULL and creating an allocator without a buffer fails
 *   cleanly with FL_ERR_OUT_OF_MEMORY.
 * - No locks: fli_lock_init answers false, so asking for a thread-safe allocator fails with
 *   FL_ERR_PLATFORM instead of silently giving an unprotected one.
 * - The C library's string functions the compiler may emit calls to (memcpy, memset,
 *   memmove, memcmp) are defined here, since a freestanding program links no libc.
 */
#include "platform.h"

#include "../core/core.h"

size_t fli_page_size(void) { return 4096; }

void *fli_pages_map(size_t size)
{
    (void)size;
    return NULL;
}

void fli_pages_unmap(void *pages, size_t size)
{
    (void)pages;
    (void)size;
}

void *fli_heap_alloc(size_t size, size_t alignment)
{
    (void)size;
    (void)alignment;
    return NULL;
}

void fli_heap_free(void *block) { (void)block; }

bool fli_lock_init(fli_lock *lock)
{
    (void)lock;
    return false;
}

/* Never reached: no lock is ever initialised on this platform. */
void fli_lock_acquire(fli_lock *lock) { (void)lock; }
void fli_lock_release(fli_lock *lock) { (void)lock; }
void fli_lock_destroy(fli_lock *lock) { (void)lock; }

uint64_t fli_physical_memory(void) { return 0; }

/* Byte loops are enough: the allocators copy and clear little (defragmentation and
 * FL_FLAG_ZERO are the big users, and a console port can supply tuned versions). */
void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        while (n--) d[n] = s[n];
    }
    return dst;
}

void *memset(void *dst, int value, size_t n)
{
    unsigned char *d = dst;
    while (n--) *d++ = (unsigned char)value;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y) return *x < *y ? -1 : 1;
    return 0;
}

/* Test accounting (platform.h): nothing is ever mapped or taken from a heap here, and
 * every such call already fails, so there is nothing to count or inject. */
size_t fli_pages_live_bytes(void) { return 0; }
size_t fli_heap_live_blocks(void) { return 0; }
void fli_pages_fail_after(long successes) { (void)successes; }
void fli_heap_fail_after(long successes) { (void)successes; }
