/*
 * Internal helpers shared by every part of the library: the last-error machinery, the
 * validate macro, and the alignment and bit arithmetic the allocators are built from.
 * Nothing here touches the operating system.
 */
#ifndef FLI_CORE_H
#define FLI_CORE_H

#include <flight/memory.h>

#include <stdint.h>

/* memcpy and friends: from the C library, or (freestanding builds, which have no
 * <string.h>) from src/platform/freestanding.c. Every file uses them through here. */
#if defined(FLI_FREESTANDING)
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int value, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#else
#include <string.h>
#endif

/* Thread-local storage for the last error. A freestanding build without TLS support
 * defines FLI_NO_THREAD_LOCAL and gets one shared slot. */
#if defined(FLI_NO_THREAD_LOCAL)
#define FLI_THREAD_LOCAL
#else
#define FLI_THREAD_LOCAL _Thread_local
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FLI_LIKELY(x) __builtin_expect(!!(x), 1)
#define FLI_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FLI_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
/* For the failure halves of hot functions: kept out of line and out of the way, so that
 * the hot half needs no stack frame for the message's arguments. */
#define FLI_COLD __attribute__((noinline, cold))
#define FLI_NOINLINE __attribute__((noinline))
/* For a hot body shared by a plain and a checked entry point: inlined into both, so the
 * plain one keeps its single call. */
#define FLI_ALWAYS_INLINE __attribute__((always_inline))
#else
#define FLI_LIKELY(x) (x)
#define FLI_UNLIKELY(x) (x)
#define FLI_PRINTF_LIKE(f, a)
#define FLI_COLD
#define FLI_NOINLINE
#define FLI_ALWAYS_INLINE
#endif

/*
 * Records `status` and a message as the calling thread's last error and returns `status`,
 * so a failing check reads `return fli_fail(FL_ERR_..., "...", ...);`.
 * The format understands %s, %d, %u, %zu, %llu, %p and %%: the library has no printf.
 */
FLI_COLD fl_status fli_fail(fl_status status, const char *format, ...) FLI_PRINTF_LIKE(2, 3);

/* For validate(): fail with FL_ERR_INVALID_STATE, naming the broken invariant. */
#define FLI_VALIDATE(cond, ...)                                                                  \
    do {                                                                                       \
        if (!(cond)) return fli_fail(FL_ERR_INVALID_STATE, __VA_ARGS__);                       \
    } while (0)

/* ---- alignment and size arithmetic ---------------------------------------------------- */

static inline bool fli_is_pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* Rounds x up to a multiple of the power of two `align`; false when that overflows. */
static inline bool fli_align_up_checked(size_t x, size_t align, size_t *out)
{
    size_t mask = align - 1;
    if (x > SIZE_MAX - mask) return false;
    *out = (x + mask) & ~mask;
    return true;
}

/* Rounds x up to a multiple of `align` (a power of two); the caller knows it cannot overflow. */
static inline size_t fli_align_up(size_t x, size_t align) { return (x + align - 1) & ~(align - 1); }
static inline size_t fli_align_down(size_t x, size_t align) { return x & ~(align - 1); }

static inline uintptr_t fli_align_up_addr(uintptr_t x, size_t align)
{
    return (x + (uintptr_t)(align - 1)) & ~(uintptr_t)(align - 1);
}

static inline bool fli_is_aligned(const void *p, size_t align)
{
    return ((uintptr_t)p & (uintptr_t)(align - 1)) == 0;
}

/* ---- bit scans on size_t (x != 0) ------------------------------------------------------ */

/* Bytes are 8 bits on every target; <limits.h> is not reachable in freestanding builds. */
#define FLI_SIZE_BITS ((unsigned)(sizeof(size_t) * 8u))

/* Index of the highest set bit: floor(log2(x)). */
static inline unsigned fli_log2_floor(size_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    if (sizeof(size_t) == sizeof(unsigned long long))
        return FLI_SIZE_BITS - 1u - (unsigned)__builtin_clzll((unsigned long long)x);
    return FLI_SIZE_BITS - 1u - (unsigned)__builtin_clzl((unsigned long)x);
#else
    unsigned r = 0;
    while (x >>= 1) r++;
    return r;
#endif
}

/* Index of the lowest set bit of a 32-bit word (x != 0). */
static inline unsigned fli_ctz32(uint32_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctz(x);
#else
    unsigned r = 0;
    while (!(x & 1u)) { x >>= 1; r++; }
    return r;
#endif
}

/* Index of the highest set bit of a 32-bit word (x != 0). */
static inline unsigned fli_log2_floor32(uint32_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return 31u - (unsigned)__builtin_clz(x);
#else
    unsigned r = 0;
    while (x >>= 1) r++;
    return r;
#endif
}

/* ---- argument checks shared by every public entry point ------------------------------- */

/* The failure half of fli_check_alignment, out of line: records why `alignment` is bad. */
FLI_COLD fl_status fli_fail_alignment(size_t alignment);

/* Resolves alignment 0 to FL_ALIGN_DEFAULT and rejects non-powers of two and values above
 * FL_ALIGN_MAX, with a message naming the value. Inline: it is on every allocation path. */
static inline fl_status fli_check_alignment(size_t alignment, size_t *resolved)
{
    if (FLI_LIKELY(alignment == 0)) {
        *resolved = FL_ALIGN_DEFAULT;
        return FL_OK;
    }
    if (FLI_UNLIKELY((alignment & (alignment - 1)) != 0 || alignment > FL_ALIGN_MAX))
        return fli_fail_alignment(alignment);
    *resolved = alignment;
    return FL_OK;
}

#endif /* FLI_CORE_H */
