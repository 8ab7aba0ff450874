/*
 * The freestanding platform table, for consoles and bare metal (Dreamcast, PSP homebrew
 * without an OS allocator, and our SH-4 tests): there is no operating system, so the table
 * has a page size and nothing else (include/flight/memory.h, "Platform hooks"):
 * - no pages and no heap: allocators live in memory the game hands over (a buffer each);
 *   creating one without a buffer, or a system allocator, is FL_ERR_NOT_SUPPORTED;
 * - no locks: asking for a thread-safe allocator is FL_ERR_PLATFORM rather than an
 *   unprotected one handed out in silence; no condition variables: timeouts fail at once;
 * - no shared memory, no clock, no memory facts: no operating-system pressure signal.
 * A port that has some of these (a console SDK's VRAM allocator, a tick counter) passes
 * its own table through the configs' `platform` field.
 *
 * In a freestanding build (FLI_FREESTANDING) this file is the backend: it answers
 * fl_platform_default() and defines the C library's string functions the compiler may
 * emit calls to, since nothing links a C library. Hosted builds compile it too, for the
 * table alone (fli_platform_freestanding), so the host's tests can check it.
 */
#include "platform.h"

#include "../core/core.h"

/* 4 KiB is the MMU page of SH-4 and of most targets: allocators round buffers to it. */
static size_t freestanding_page_size(void *user)
{
    (void)user;
    return 4096;
}

static const fl_platform_hooks freestanding_hooks = {
    .user = NULL,
    .page_size = freestanding_page_size,
    /* Every other hook: absent. Designated initialisers leave them NULL. */
};

const fl_platform_hooks *fli_platform_freestanding(void) { return &freestanding_hooks; }

#if defined(FLI_FREESTANDING)

const fl_platform_hooks *fl_platform_default(void) { return &freestanding_hooks; }

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

#endif /* FLI_FREESTANDING */
