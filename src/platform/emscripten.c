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
 * - gc_hint(level): calls Module.flightMemoryGcHint(level) in JavaScript when the host
 *   set one (level 0..4: None..Critical), on the main browser thread: directly when called
 *   there, else queued to it without waiting (a worker must not block on a main thread
 *   that may itself be waiting for the interface's lock). The host's answer - dropping
 *   caches, unloading assets, telling the user - cannot shrink the linear memory, but
 *   whatever it frees inside the instance is reused by malloc.
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
#include <emscripten/threading.h>
#include <pthread.h>
#include <time.h>

#include "pthread_sync.h"
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

/* ---- locks and condition variables (only with -pthread): pthread_sync.h ----------------- */

#if defined(__EMSCRIPTEN_PTHREADS__)
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

/* ---- the JavaScript host ------------------------------------------------------------------ */

/* Quoted property names survive closure's renaming. */
EM_JS(void, web_gc_hint_js, (int level), {
    if (typeof Module !== 'undefined' && typeof Module['flightMemoryGcHint'] === 'function')
        Module['flightMemoryGcHint'](level);
}) /* EM_JS ends its own definition: a ';' here would be an empty declaration */

#if defined(__EMSCRIPTEN_PTHREADS__)
static void web_gc_hint_main(int level) { web_gc_hint_js(level); }
#endif

static void web_gc_hint(void *user, fl_pressure_level level)
{
    (void)user;
#if defined(__EMSCRIPTEN_PTHREADS__)
    if (!emscripten_is_main_runtime_thread()) {
        /* The proxying call takes the function as a void *; C has no such conversion, so
         * the pointer's bytes are copied (wasm32 function pointers are table indices). */
        void (*fn)(int) = web_gc_hint_main;
        void *as_pointer;
        _Static_assert(sizeof fn == sizeof as_pointer, "function and object pointers differ in size");
        memcpy(&as_pointer, &fn, sizeof as_pointer);
        emscripten_async_run_in_main_runtime_thread_(EM_FUNC_SIG_VI, as_pointer, (int)level);
        return;
    }
#endif
    web_gc_hint_js((int)level);
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
    .lock_init = WEB_LOCK(fli_pthread_lock_init),
    .lock_acquire = WEB_LOCK(fli_pthread_lock_acquire),
    .lock_release = WEB_LOCK(fli_pthread_lock_release),
    .lock_destroy = WEB_LOCK(fli_pthread_lock_destroy),
    .cond_init = WEB_LOCK(fli_pthread_cond_init),
    .cond_wait = WEB_LOCK(fli_pthread_cond_wait),
    .cond_broadcast = WEB_LOCK(fli_pthread_cond_broadcast),
    .cond_destroy = WEB_LOCK(fli_pthread_cond_destroy),
    .shared_map = NULL, /* no processes to share with */
    .shared_unmap = NULL,
    .system_memory = web_system_memory,
    .physical_memory = web_physical_memory,
    .now_ns = web_now_ns,
    .pressure_stall = NULL,
    .gc_hint = web_gc_hint,
};

const fl_platform_hooks *fl_platform_default(void) { return &web_hooks; }
