/*
 * Telling memory checkers about sub-allocations: AddressSanitizer's manual poisoning and
 * Valgrind memcheck's client requests, behind the macros every allocator uses.
 *
 * The allocators carve blocks out of one large buffer, which ASan and memcheck see as a
 * single live object: without help, a read past a pool block into its neighbour, or a
 * write into a freed block, is invisible to them. With these calls:
 *   FLI_POISON(p, n)        [p, p + n) is free: any access by the program is an error
 *                           (ASan: poisoned; memcheck: no access).
 *   FLI_UNPOISON(p, n)      [p, p + n) was just handed out: accessible, contents
 *                           undefined (memcheck then also reports reads of bytes never
 *                           written).
 *   FLI_OPEN(p, n)          the allocator itself is about to read or write its own
 *                           bookkeeping inside poisoned memory (a free-list link): make it
 *                           accessible and defined; close it again with FLI_POISON.
 *   FLI_EXTEND(p, n)        [p, p + n) of a live block becomes accessible; bytes that were
 *                           accessible keep their state (memcheck: stay defined).
 *   FLI_IS_POISONED(p, n)   true when some byte of [p, p + n) is poisoned (a cheap
 *                           "cannot be a live header" test; false without a checker).
 *
 * Compiled in:
 * - ASan: whenever the file is compiled with -fsanitize=address (__SANITIZE_ADDRESS__
 *   for gcc, __has_feature(address_sanitizer) for clang). Nothing to configure.
 * - memcheck: when FLI_VALGRIND is defined (CMake option FLMEM_VALGRIND, ON by default
 *   when <valgrind/memcheck.h> is found). A client request is an argument block and a
 *   special no-op instruction sequence that does nothing outside Valgrind, so one build
 *   runs both natively and under memcheck; natively the requests are skipped after one
 *   question whether memcheck runs (fli_under_memcheck). -DFLMEM_VALGRIND=OFF removes even
 *   that.
 * - Neither: every macro is an empty statement, and release builds pay nothing.
 *
 * Granularity: ASan tracks 8-byte granules, poisoned as a whole or by a suffix; a range
 * that starts inside a granule leaves that granule's head accessible, so a block aligned
 * to less than 8 bytes is protected from its first full granule on. Memcheck is exact to
 * the byte.
 */
#ifndef FLI_POISON_H
#define FLI_POISON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define FLI_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FLI_ASAN 1
#endif
#endif

#if defined(FLI_ASAN)
#include <sanitizer/asan_interface.h>
#endif
#if defined(FLI_VALGRIND) && !defined(FLI_FREESTANDING)
#include <valgrind/memcheck.h>
#include <stdatomic.h>
#define FLI_MEMCHECK 1

/* Is the Valgrind tool memcheck (not callgrind, cachegrind, helgrind...)? Only memcheck
 * answers its client requests: one byte made inaccessible is then reported as such (other
 * tools return the request's default, 0), and made accessible again. Asking only
 * RUNNING_ON_VALGRIND would run every request under callgrind too, where they do nothing
 * but add their argument blocks to the instruction counts the benchmarks measure. */
static inline int fli_probe_memcheck(void)
{
    if (!RUNNING_ON_VALGRIND) return 0;
    volatile unsigned char probe = 0;
    const void *at = (const void *)(uintptr_t)&probe;
    (void)VALGRIND_MAKE_MEM_NOACCESS(at, 1);
    VALGRIND_DISABLE_ERROR_REPORTING;
    int memcheck = VALGRIND_CHECK_MEM_IS_ADDRESSABLE(at, 1) != 0;
    VALGRIND_ENABLE_ERROR_REPORTING;
    (void)VALGRIND_MAKE_MEM_DEFINED(at, 1);
    return memcheck;
}

/* Whether the program runs under memcheck, asked once (per translation unit): otherwise
 * every request then costs one relaxed load and a branch instead of the request's
 * argument block and magic instruction sequence. Relaxed is enough: every thread that
 * asks gets the same answer. */
static inline int fli_under_memcheck(void)
{
    static atomic_int state; /* 0: not asked yet, 1: no, 2: yes */
    int s = atomic_load_explicit(&state, memory_order_relaxed);
    if (s == 1) return 0; /* the native answer first: one compare with memory */
    if (s == 0) {
        s = fli_probe_memcheck() ? 2 : 1;
        atomic_store_explicit(&state, s, memory_order_relaxed);
    }
    return s == 2;
}
#endif

/* True when this build tells some memory checker about sub-allocations. */
#if defined(FLI_ASAN) || defined(FLI_MEMCHECK)
#define FLI_POISONING 1
#endif

static inline void fli_poison(const void *p, size_t n)
{
#if defined(FLI_ASAN)
    __asan_poison_memory_region(p, n);
#endif
#if defined(FLI_MEMCHECK)
    if (fli_under_memcheck()) (void)VALGRIND_MAKE_MEM_NOACCESS(p, n);
#endif
    (void)p;
    (void)n;
}

static inline void fli_unpoison(const void *p, size_t n)
{
#if defined(FLI_ASAN)
    __asan_unpoison_memory_region(p, n);
#endif
#if defined(FLI_MEMCHECK)
    if (fli_under_memcheck()) (void)VALGRIND_MAKE_MEM_UNDEFINED(p, n);
#endif
    (void)p;
    (void)n;
}

static inline void fli_open(const void *p, size_t n)
{
#if defined(FLI_ASAN)
    __asan_unpoison_memory_region(p, n);
#endif
#if defined(FLI_MEMCHECK)
    if (fli_under_memcheck()) (void)VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
    (void)p;
    (void)n;
}

/* [p, p + n) becomes accessible while the bytes accessible already keep their state: for
 * memcheck, definedness (a live block's contents stay defined when its usable size opens
 * behind its request). The bytes from the first inaccessible one on become accessible and
 * undefined; a block is open as a prefix, so that is exactly its closed tail. */
static inline void fli_extend(const void *p, size_t n)
{
#if defined(FLI_ASAN)
    __asan_unpoison_memory_region(p, n);
#endif
#if defined(FLI_MEMCHECK)
    if (fli_under_memcheck()) {
        VALGRIND_DISABLE_ERROR_REPORTING;
        uintptr_t closed = (uintptr_t)VALGRIND_CHECK_MEM_IS_ADDRESSABLE(p, n);
        VALGRIND_ENABLE_ERROR_REPORTING;
        if (closed != 0) (void)VALGRIND_MAKE_MEM_UNDEFINED(closed, (uintptr_t)p + n - closed);
    }
#endif
    (void)p;
    (void)n;
}

static inline int fli_is_poisoned(const void *p, size_t n)
{
    int bad = 0;
#if defined(FLI_ASAN)
    if (__asan_region_is_poisoned((void *)(uintptr_t)p, n) != NULL) bad = 1;
#endif
#if defined(FLI_MEMCHECK)
    if (fli_under_memcheck()) {
        /* The check itself would report the bytes: silence it for this one question. */
        VALGRIND_DISABLE_ERROR_REPORTING;
        if (VALGRIND_CHECK_MEM_IS_ADDRESSABLE(p, n) != 0) bad = 1;
        VALGRIND_ENABLE_ERROR_REPORTING;
    }
#endif
    (void)p;
    (void)n;
    return bad;
}

/* Whether a memory checker watches this process: always in an ASan build, under Valgrind
 * in a memcheck build, never otherwise. The inline fast paths (flight/memory_fast.h) cannot
 * poison, so allocators are created without them while this is true. */
static inline int fli_poisoning_active(void)
{
#if defined(FLI_ASAN)
    return 1;
#elif defined(FLI_MEMCHECK)
    return fli_under_memcheck();
#else
    return 0;
#endif
}
#define FLI_POISONING_ON (fli_poisoning_active())

/* Bookkeeping kept inside poisoned memory (the free list's boundary tags and links, which
 * live in the blocks themselves): the allocator must read and write it without the tools
 * reporting the allocator.
 * - FLI_NO_ASAN on a function: ASan does not check that function's loads and stores (the
 *   rest of the allocator stays checked; such functions are not inlined into checked
 *   ones under ASan, which only costs ASan builds a call).
 * - fli_quiet_begin()/fli_quiet_end(q) around an operation: memcheck has no such
 *   attribute, so it stops reporting errors of this thread meanwhile. Memcheck treats bytes
 *   loaded from inaccessible memory as defined, so nothing undefined leaks out of the
 *   silenced span. Natively both are one question whether memcheck runs (none without
 *   FLI_MEMCHECK). */
#if defined(FLI_ASAN)
#define FLI_NO_ASAN __attribute__((no_sanitize_address))
#else
#define FLI_NO_ASAN
#endif

static inline int fli_quiet_begin(void)
{
#if defined(FLI_MEMCHECK)
    if (fli_under_memcheck()) {
        VALGRIND_DISABLE_ERROR_REPORTING;
        return 1;
    }
#endif
    return 0;
}

static inline void fli_quiet_end(int quiet)
{
#if defined(FLI_MEMCHECK)
    if (quiet) VALGRIND_ENABLE_ERROR_REPORTING;
#endif
    (void)quiet;
}

#if defined(FLI_POISONING)
#define FLI_POISON(p, n) fli_poison((p), (n))
#define FLI_UNPOISON(p, n) fli_unpoison((p), (n))
#define FLI_OPEN(p, n) fli_open((p), (n))
#define FLI_EXTEND(p, n) fli_extend((p), (n))
#define FLI_IS_POISONED(p, n) fli_is_poisoned((p), (n))
#else
/* The arguments are still evaluated (for nothing): no unused-variable warnings. */
#define FLI_POISON(p, n) ((void)(p), (void)(n))
#define FLI_UNPOISON(p, n) ((void)(p), (void)(n))
#define FLI_OPEN(p, n) ((void)(p), (void)(n))
#define FLI_EXTEND(p, n) ((void)(p), (void)(n))
#define FLI_IS_POISONED(p, n) ((void)(p), (void)(n), 0)
#endif

#endif /* FLI_POISON_H */
