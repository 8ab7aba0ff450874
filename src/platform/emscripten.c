/*
 * The Web platform table (Emscripten, wasm32), include/flight/memory.h "Platform hooks".
 *
 * A WebAssembly instance owns one linear memory that can only grow: it starts at
 * INITIAL_MEMORY, grows (with ALLOW_MEMORY_GROWTH) in 64 KiB wasm pages up to
 * MAXIMUM_MEMORY, and never hands a byte back to the browser. There is no mmap that can
 * give memory back, so everything comes from the C library's malloc inside that memory:
 *
 *   address 0                                  sbrk(0)                    heap max
 *   | static data, stack | malloc's arena: live and free chunks |  room to grow   |
 *                        '------- grows to the right ---------->'                 '
 *
 * - pages: 4 KiB-aligned blocks from aligned_alloc, cleared (a recycled block is not
 *   zero). The page size is FL_ALIGN_PAGE, not the 64 KiB wasm page: nothing is mapped,
 *   so coarser units would only waste memory in every page-rounded buffer. unmap frees
 *   the block back to malloc, which reuses it (the instance keeps the memory).
 *   release_pages is absent (NULL): no physical memory can be given back, and the contract
 *   lets a platform say so (fli_release_pages answers false, the bytes stay as they were).
 * - heap: posix_memalign/free.
 * - locks and condition variables: pthreads when the program is built with -pthread
 *   (__EMSCRIPTEN_PTHREADS__: SharedArrayBuffer and Web Workers), with timed waits on
 *   CLOCK_MONOTONIC. Without -pthread Emscripten's pthread functions are stubs that neither
 *   exclude nor wait, so the hooks are NULL: thread_safe is then FL_ERR_PLATFORM rather
 *   than a lock that does nothing.
 * - shared memory between processes: none (NULL); pressure stall: none (NULL).
 * - physical memory: emscripten_get_heap_max(), the most the linear memory may ever be
 *   (MAXIMUM_MEMORY with growth, else the fixed INITIAL_MEMORY) - the WEB profile's budget.
 * - system memory: total = the heap max; available = total - in use, where in use is the
 *   memory below the break that malloc cannot hand out again:
 *       in use = sbrk(0) - mallinfo().fordblks
 *   (static data, the stack, live malloc chunks and malloc's own overhead; free chunks
 *   inside the arena count as available because malloc reuses them). Available therefore
 *   shrinks as the program allocates and the break climbs toward the cap, and recovers when
 *   blocks are freed - pressure rises as growth approaches MAXIMUM_MEMORY. mallinfo walks
 *   dlmalloc's chunks (O(chunks), under malloc's lock): it is meant for a pressure poll,
 *   not for every allocation. A program linked with -sMALLOC=none has no mallinfo.
 * - time: emscripten_get_now() (performance.now(), milliseconds as a double, monotonic and
 *   the same clock in every worker) in nanoseconds.
 */
/* sbrk is a BSD function, posix_memalign and clock_gettime POSIX: beyond strict C11. */
#define _GNU_SOURCE 1
#include "platform.h"

#include <emscripten/emscripten.h>
#include <emscripten/heap.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__EMSCRIPTEN_PTHREADS__)
#include <pthread.h>
#include <time.h>
#endif

/* ---- pages ------------------------------------------------------------------------------ */

static size_t web_page_size(void *user)
{
    (void)user;
    return FL_ALIGN_PAGE;
}

static void *web_map_pages(void *user, size_t size)
{
    (void)user;
    /* size is a multiple of the page size, as aligned_alloc wants a multiple of alignment. */
    void *p = aligned_alloc(FL_ALIGN_PAGE, size);
    if (p != NULL) memset(p, 0, size);
    return p;
}

static void web_unmap_pages(void *user, void *pages, size_t size)
{
    (void)user;
    (void)size;
    free(pages);
}

/* ---- heap ------------------------------------------------------------------------------- */

static void *web_heap_alloc(void *user, size_t size, size_t alignment)
{
    (void)user;
    void *p = NULL;
    return posix_memalign(&p, alignment, size) == 0 ? p : NULL;
}

static void web_heap_free(void *user, void *block)
{
    (void)user;
    free(block);
}

/* ---- locks and condition variables (only with -pthread) --------------------------------- */

#if defined(__EMSCRIPTEN_PTHREADS__)

_Static_assert(sizeof(pthread_mutex_t) <= FL_SYNC_STORAGE_BYTES, "FL_SYNC_STORAGE_BYTES too small for pthread_mutex_t");
_Static_assert(sizeof(pthread_cond_t) <= FL_SYNC_STORAGE_BYTES, "FL_SYNC_STORAGE_BYTES too small for pthread_cond_t");
_Static_assert(_Alignof(pthread_mutex_t) <= _Alignof(fli_sync_storage), "lock storage under-aligned");
_Static_assert(_Alignof(pthread_cond_t) <= _Alignof(fli_sync_storage), "condition storage under-aligned");

static pthread_mutex_t *as_mutex(void *storage) { return (pthread_mutex_t *)storage; }
static pthread_cond_t *as_cond(void *storage) { return (pthread_cond_t *)storage; }

static bool web_lock_init(void *user, void *lock)
{
    (void)user;
    return pthread_mutex_init(as_mutex(lock), NULL) == 0;
}

static void web_lock_acquire(void *user, void *lock)
{
    (void)user;
    pthread_mutex_lock(as_mutex(lock));
}

static void web_lock_release(void *user, void *lock)
{
    (void)user;
    pthread_mutex_unlock(as_mutex(lock));
}

static void web_lock_destroy(void *user, void *lock)
{
    (void)user;
    pthread_mutex_destroy(as_mutex(lock));
}

static bool web_cond_init(void *user, void *cond)
{
    (void)user;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) return false;
    bool ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 && pthread_cond_init(as_cond(cond), &attr) == 0;
    pthread_condattr_destroy(&attr);
    return ok;
}

static bool web_cond_wait(void *user, void *cond, void *lock, uint32_t timeout_ms)
{
    (void)user;
    struct timespec deadline;
    if (clock_gettime(CLOCK_MONOTONIC, &deadline) != 0) return false;
    deadline.tv_sec += (time_t)(timeout_ms / 1000u);
    deadline.tv_nsec += (long)(timeout_ms % 1000u) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    /* Only ETIMEDOUT says the time is up; 0 is a wake-up the caller re-checks. */
    return pthread_cond_timedwait(as_cond(cond), as_mutex(lock), &deadline) == 0;
}

static void web_cond_broadcast(void *user, void *cond)
{
    (void)user;
    pthread_cond_broadcast(as_cond(cond));
}

static void web_cond_destroy(void *user, void *cond)
{
    (void)user;
    pthread_cond_destroy(as_cond(cond));
}

#define WEB_LOCK(hook) hook
#else
/* Single-threaded build: no threads to exclude, so no locks to offer. */
#define WEB_LOCK(hook) NULL
#endif /* __EMSCRIPTEN_PTHREADS__ */

/* ---- machine facts and time ------------------------------------------------------------- */

static uint64_t web_physical_memory(void *user)
{
    (void)user;
    return (uint64_t)emscripten_get_heap_max();
}

static bool web_system_memory(void *user, uint64_t *available, uint64_t *total)
{
    (void)user;
    uint64_t max = (uint64_t)emscripten_get_heap_max();
    void *brk = sbrk(0);
    if (max == 0 || brk == (void *)-1) return false;
    /* mallinfo's fields are int; on a heap past 2 GiB they read back modulo 2^32. */
    struct mallinfo info = mallinfo();
    uint64_t below_break = (uint64_t)(uintptr_t)brk;
    uint64_t reusable = (uint64_t)(unsigned)info.fordblks;
    uint64_t in_use = below_break > reusable ? below_break - reusable : 0;
    *total = max;
    *available = max > in_use ? max - in_use : 0;
    return true;
}

static uint64_t web_now_ns(void *user)
{
    (void)user;
    /* Milliseconds since the page (or node process) started; a double holds them to well
     * below a microsecond for centuries. */
    return (uint64_t)(emscripten_get_now() * 1e6);
}

/* ---- the table -------------------------------------------------------------------------- */

static const fl_platform_hooks web_hooks = {
    .user = NULL,
    .page_size = web_page_size,
    .map_pages = web_map_pages,
    .unmap_pages = web_unmap_pages,
    .release_pages = NULL, /* the linear memory never shrinks */
    .heap_alloc = web_heap_alloc,
    .heap_free = web_heap_free,
    .lock_init = WEB_LOCK(web_lock_init),
    .lock_acquire = WEB_LOCK(web_lock_acquire),
    .lock_release = WEB_LOCK(web_lock_release),
    .lock_destroy = WEB_LOCK(web_lock_destroy),
    .cond_init = WEB_LOCK(web_cond_init),
    .cond_wait = WEB_LOCK(web_cond_wait),
    .cond_broadcast = WEB_LOCK(web_cond_broadcast),
    .cond_destroy = WEB_LOCK(web_cond_destroy),
    .shared_map = NULL, /* no processes to share with */
    .shared_unmap = NULL,
    .system_memory = web_system_memory,
    .physical_memory = web_physical_memory,
    .now_ns = web_now_ns,
    .pressure_stall = NULL,
};

const fl_platform_hooks *fl_platform_default(void) { return &web_hooks; }
