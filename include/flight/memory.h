/*
 * flight-memory: the public contract.
 *
 * One header for the whole library. It compiles as C11 and as C++ and is the C form of
 * ../shared/spec/API.md: every name the specification fixes is here with its meaning.
 *
 * Conventions used by every function below
 * - Fallible calls return fl_status (FL_OK is 0) and write results through an out-pointer.
 *   On failure the out-pointer is not written and nothing the library owns has changed.
 * - The calling thread's last failure is described by fl_last_error(): a category and a
 *   message that names the offending value ("alignment 24 is not a power of two").
 * - Bad input never corrupts state and never aborts: NULL where a pointer is required,
 *   size 0, sizes whose rounding overflows size_t, alignments that are not a power of two
 *   or exceed FL_ALIGN_MAX, unknown enum values and foreign, interior or already freed
 *   pointers are answered with FL_ERR_INVALID_PARAMETERS.
 * - The library never prints and never calls abort().
 */
#ifndef FLIGHT_MEMORY_H
#define FLIGHT_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_VERSION_MAJOR 0
#define FL_VERSION_MINOR 1
#define FL_VERSION_PATCH 0

/* ---------------------------------------------------------------------------------------
 * Status and errors
 * ------------------------------------------------------------------------------------- */

typedef enum fl_status {
    FL_OK = 0,
    FL_ERR_OUT_OF_MEMORY,      /* the request is valid but no memory can serve it now */
    FL_ERR_INVALID_PARAMETERS, /* the call's arguments are wrong; nothing changed */
    FL_ERR_PLATFORM,           /* the operating system or platform hook refused */
    FL_ERR_NOT_SUPPORTED,      /* valid, but this allocator or platform cannot do it */
    FL_ERR_TIMEOUT,            /* waited for memory for the request's timeout_ms, in vain */
    FL_ERR_INVALID_STATE       /* the call is not allowed now (non-LIFO free, corruption) */
} fl_status;

/* The calling thread's last failure. `message` is never NULL; it stays valid until the
 * next failing call on the same thread. Successful calls do not clear it. */
typedef struct fl_error {
    fl_status category;
    const char *message;
} fl_error;

const fl_error *fl_last_error(void);

/* Static names for every enum value ("OutOfMemory", "Video", "Buddy", ...); "Unknown" for
 * anything else. Never NULL. */
const char *fl_status_str(fl_status status);

/* ---------------------------------------------------------------------------------------
 * Enumerations (values as in the specification)
 * ------------------------------------------------------------------------------------- */

typedef enum fl_memory_type {
    FL_MEMORY_SYSTEM = 0, /* general purpose */
    FL_MEMORY_VIDEO,      /* GPU-accessible */
    FL_MEMORY_AUDIO,      /* audio buffers, DMA capable */
    FL_MEMORY_NETWORK,    /* network packet buffers */
    FL_MEMORY_SHARED,     /* inter-process shared memory */
    FL_MEMORY_TEMPORARY,  /* scratch / per-frame memory */
    FL_MEMORY_STACK,      /* scoped, LIFO allocations */
    FL_MEMORY_POOL,       /* fixed-size objects */
    FL_MEMORY_TYPE_COUNT
} fl_memory_type;

typedef enum fl_allocator_type {
    FL_ALLOCATOR_LINEAR = 0, /* bump pointer, O(1), bulk free */
    FL_ALLOCATOR_STACK,      /* LIFO, O(1) */
    FL_ALLOCATOR_POOL,       /* fixed-size blocks, O(1), no fragmentation */
    FL_ALLOCATOR_BUDDY,      /* power-of-two blocks, O(log n), low fragmentation */
    FL_ALLOCATOR_FREELIST,   /* general purpose heap, O(1) good fit */
    FL_ALLOCATOR_SYSTEM,     /* the platform's own allocator */
    FL_ALLOCATOR_TYPE_COUNT,
    FL_ALLOCATOR_AUTO = 0xFF /* let the memory interface choose */
} fl_allocator_type;

/* Alignments are size_t powers of two. 0 means the platform default, FL_ALIGN_DEFAULT. */
#define FL_ALIGN_NONE ((size_t)1)
#define FL_ALIGN_WORD ((size_t)4)
#define FL_ALIGN_SIMD ((size_t)16)
#define FL_ALIGN_CACHE ((size_t)32)
#define FL_ALIGN_GPU ((size_t)256)
#define FL_ALIGN_PAGE ((size_t)4096)
/* What alignment 0 means: the platform's strictest fundamental alignment. */
#ifdef __cplusplus
#define FL_ALIGN_DEFAULT ((size_t)alignof(max_align_t))
#else
#define FL_ALIGN_DEFAULT ((size_t)_Alignof(max_align_t))
#endif
/* The largest alignment any call accepts. */
#define FL_ALIGN_MAX ((size_t)65536)

typedef uint32_t fl_memory_flags;
#define FL_FLAG_NONE ((fl_memory_flags)0)
#define FL_FLAG_CACHEABLE ((fl_memory_flags)1u << 0)
#define FL_FLAG_ZERO ((fl_memory_flags)1u << 1)        /* contents zeroed */
#define FL_FLAG_DMA_CAPABLE ((fl_memory_flags)1u << 2)
#define FL_FLAG_TEMPORARY ((fl_memory_flags)1u << 3)   /* short-lived: a frame allocator may serve it */
#define FL_FLAG_CRITICAL ((fl_memory_flags)1u << 4)    /* may draw on the emergency reserve */
#define FL_FLAG_RELOCATABLE ((fl_memory_flags)1u << 5) /* defragmentation may move it */
#define FL_FLAG_ALL ((fl_memory_flags)0x3Fu)

typedef enum fl_pressure_level {
    FL_PRESSURE_NONE = 0, /* > 50 % available */
    FL_PRESSURE_LOW,      /* 25 - 50 % */
    FL_PRESSURE_MEDIUM,   /* 10 - 25 % */
    FL_PRESSURE_HIGH,     /* 5 - 10 % */
    FL_PRESSURE_CRITICAL  /* < 5 % */
} fl_pressure_level;

typedef enum fl_platform {
    FL_PLATFORM_HOST = 0, /* detected from the running machine */
    FL_PLATFORM_DREAMCAST,
    FL_PLATFORM_PSP,
    FL_PLATFORM_WEB,
    FL_PLATFORM_DESKTOP
} fl_platform;

const char *fl_memory_type_str(fl_memory_type type);
const char *fl_allocator_type_str(fl_allocator_type type);
const char *fl_pressure_level_str(fl_pressure_level level);
const char *fl_platform_str(fl_platform platform);

/* ---------------------------------------------------------------------------------------
 * Data
 * ------------------------------------------------------------------------------------- */

typedef struct fl_allocation {
    void *ptr;
    size_t size; /* usable bytes, >= requested */
    size_t alignment;
    fl_memory_type type;
    fl_allocator_type allocator;
    fl_memory_flags flags;
} fl_allocation;

typedef void (*fl_relocate_fn)(void *old_ptr, void *new_ptr, size_t size, void *user);

typedef struct fl_alloc_request {
    size_t size;
    size_t alignment;
    fl_memory_type preferred_type;
    fl_memory_flags flags;
    fl_allocator_type preferred_allocator; /* FL_ALLOCATOR_AUTO by default */
    uint32_t timeout_ms;                   /* 0: fail at once when memory is short */
    bool allow_fallback;                   /* another type/allocator may serve it */
    const char *tag;                       /* optional owner label, kept for reports */
    fl_relocate_fn on_relocate;            /* with FL_FLAG_RELOCATABLE */
    void *relocate_user;
} fl_alloc_request;

typedef struct fl_memory_stats {
    size_t total_bytes, used_bytes, free_bytes, peak_used_bytes;
    size_t allocation_count; /* live allocations */
    uint64_t total_allocations, total_deallocations, failed_allocations;
    double fragmentation_pct;     /* 0..100: 100 * (1 - largest_free_block / free_bytes) */
    size_t largest_free_block;    /* an allocation of this size, alignment 1, succeeds */
    double allocation_efficiency; /* 0..1: bytes requested / bytes consumed */
} fl_memory_stats;

/*
 * Statistics of one allocator. Exact at every moment:
 * - used_bytes + free_bytes == total_capacity. used_bytes counts every byte live
 *   allocations consume: their payload, their header and any alignment padding.
 * - largest_free_block: an allocation of exactly this many bytes with alignment 1 succeeds
 *   right now (0 when none would).
 * - fragmentation_ratio: 1 - largest_free_block / free_bytes (0 when free_bytes is 0).
 * - allocation_efficiency: bytes requested / bytes consumed, over every allocation served
 *   since creation or the last reset (1 when none was).
 * - allocation_overhead: bookkeeping bytes one allocation carries in the managed memory
 *   (header words; the pool's 0).
 */
typedef struct fl_allocator_stats {
    size_t total_capacity, used_bytes, free_bytes, peak_used_bytes, allocation_count;
    size_t allocation_overhead; /* bookkeeping bytes per allocation */
    double fragmentation_ratio; /* 0..1 */
    size_t largest_free_block;
    double allocation_efficiency;
    bool supports_defrag;
    /* Added beyond API.md: lifetime counters of calls that succeeded or failed. */
    uint64_t total_allocations, total_deallocations, failed_allocations;
} fl_allocator_stats;

typedef struct fl_pressure_info {
    fl_pressure_level level;
    fl_memory_type type; /* the type whose pressure changed */
    size_t available_bytes, total_bytes;
    double pressure_ratio; /* used / total, 0..1 */
} fl_pressure_info;

typedef struct fl_memory_region {
    const char *name;
    fl_memory_type type;
    void *base;
    size_t size;
    fl_allocator_type allocator;
    fl_memory_flags capabilities;
} fl_memory_region;

typedef struct fl_defrag_result {
    size_t bytes_moved, allocations_moved;
    size_t largest_free_before, largest_free_after;
    double fragmentation_before, fragmentation_after; /* percent */
} fl_defrag_result;

/* ---------------------------------------------------------------------------------------
 * Platform hooks
 *
 * Every contact with the operating system goes through one of these tables. The library
 * ships one for the platform it is built for (fl_platform_default(): POSIX, or the
 * freestanding one that has no pages, heap or locks); a game or a test may pass its own
 * through the configs' `platform` field (NULL: the default), e.g. to take a console's
 * VRAM allocator, to count calls, or to fail them on demand.
 *
 * Rules for every hook, which the library relies on:
 * - `user` is the table's own `user` field, passed back unchanged.
 * - A NULL hook means the platform lacks the capability: no pages (allocators need a
 *   buffer), no heap (no system allocator), no locks (thread_safe is FL_ERR_PLATFORM), no
 *   condition variables (timeouts fail at once), no shared memory (the Shared type has
 *   capacity 0), no system memory reading (no OS pressure signal).
 * - map_pages(size): size a non-zero multiple of page_size(); zeroed, page-aligned,
 *   read-write memory or NULL. unmap_pages takes back exactly what map returned.
 *   release_pages(p, size) gives the physical memory of whole mapped pages back while
 *   keeping the range mapped (reads then see zeroes).
 * - heap_alloc(size, alignment): size > 0, alignment a power of two >= sizeof(void *);
 *   NULL when refused. heap_free takes exactly what heap_alloc returned.
 * - lock_* / cond_* work on caller storage of FL_SYNC_STORAGE_BYTES bytes aligned like a
 *   pointer and a 64-bit integer. init returns false when it cannot make one; the others
 *   cannot fail. cond_wait returns false when timeout_ms passed without a broadcast
 *   (spurious wake-ups are allowed: the library re-checks its condition).
 * - shared_map(size): size bytes of an operating-system shared-memory object (mode 0600),
 *   mapped shared, so that a forked child writes into the same memory; NULL when refused.
 * - system_memory(&available, &total): the machine's (or its container's) available and
 *   total bytes right now; false when unknown.
 * - now_ns: a monotonic clock in nanoseconds.
 * - pressure_stall(&pct) (added after the table above was fixed, hence last): the share
 *   of recent wall time, in percent 0..100, in which some task waited for memory (Linux
 *   pressure stall information, /proc/pressure/memory "some avg10": a 10-second average);
 *   false when the platform has no such signal. A rising value warns before available
 *   memory runs out.
 * - A table is used by pointer: it must outlive every object created with it.
 * ------------------------------------------------------------------------------------- */

#define FL_SYNC_STORAGE_BYTES 64

typedef struct fl_platform_hooks {
    void *user;
    size_t (*page_size)(void *user);
    void *(*map_pages)(void *user, size_t size);
    void (*unmap_pages)(void *user, void *pages, size_t size);
    void (*release_pages)(void *user, void *pages, size_t size);
    void *(*heap_alloc)(void *user, size_t size, size_t alignment);
    void (*heap_free)(void *user, void *block);
    bool (*lock_init)(void *user, void *lock);
    void (*lock_acquire)(void *user, void *lock);
    void (*lock_release)(void *user, void *lock);
    void (*lock_destroy)(void *user, void *lock);
    bool (*cond_init)(void *user, void *cond);
    bool (*cond_wait)(void *user, void *cond, void *lock, uint32_t timeout_ms);
    void (*cond_broadcast)(void *user, void *cond);
    void (*cond_destroy)(void *user, void *cond);
    void *(*shared_map)(void *user, size_t size);
    void (*shared_unmap)(void *user, void *memory, size_t size);
    bool (*system_memory)(void *user, uint64_t *available, uint64_t *total);
    uint64_t (*physical_memory)(void *user);
    uint64_t (*now_ns)(void *user);
    bool (*pressure_stall)(void *user, double *some_avg10_pct);
} fl_platform_hooks;

/* The table of the platform this library was built for. Never NULL. */
const fl_platform_hooks *fl_platform_default(void);

/* ---------------------------------------------------------------------------------------
 * Allocators on their own
 *
 * Every strategy runs inside memory the caller provides: fl_allocator_create places the
 * allocator's control block at the (aligned) start of `buffer` and manages the rest, with
 * no call to malloc or the operating system. With buffer NULL the allocator takes `size`
 * bytes of pages from the platform instead and returns them at destroy.
 *
 * Complexity: linear, stack and pool are O(1) in every call; the free list is O(1) on
 * allocate and free (two-level segregated fit with bitmaps, no loop over blocks); buddy
 * is O(log(capacity / min_block)). validate and walk visit every block.
 * ------------------------------------------------------------------------------------- */

typedef struct fl_allocator fl_allocator;

typedef struct fl_allocator_config {
    fl_allocator_type type;
    const char *name; /* kept by pointer; NULL: the type's name */
    void *buffer;     /* NULL: take `size` bytes from the platform */
    size_t size;      /* bytes of `buffer`, control block included */
    size_t block_size, block_alignment; /* pool: every block's size and alignment (0: default) */
    size_t min_block;                   /* buddy: smallest block, a power of two >= 8 (0: 64) */
    bool thread_safe;                   /* serialise every call with a lock of its own */
    const fl_platform_hooks *platform;  /* NULL: fl_platform_default(); kept by pointer
                                           (added beyond API.md) */
    /* Memory managed from outside (added beyond API.md; for VRAM or sound RAM the CPU must
     * not write headers into). When managed is non-NULL, the allocator hands out blocks of
     * exactly [managed, managed + managed_size) and keeps every byte of its bookkeeping in
     * buffer/size (which then holds only the control block); it never reads or writes the
     * managed memory. Buddy only; other types answer FL_ERR_NOT_SUPPORTED.
     * - The buddy manages managed_size / min_block whole blocks from `managed` on (a tail
     *   smaller than min_block is not used); buffer/size must hold
     *   fl_buddy_control_size(managed_size, min_block) bytes after aligning the buffer to
     *   FL_ALIGN_DEFAULT, and must not overlap the managed memory. buffer NULL: that many
     *   bytes (pass them as size) come from platform pages.
     * - Blocks are aligned to min(their size, FL_ALIGN_PAGE, the alignment of `managed`
     *   itself); a larger alignment request is FL_ERR_INVALID_PARAMETERS naming the limit
     *   (so on a base aligned to less than FL_ALIGN_DEFAULT, ask for alignment 1 explicitly).
     * - managed_size 0 with managed set, or managed_size set with managed NULL, is
     *   FL_ERR_INVALID_PARAMETERS; so is a control buffer that is too small (the message
     *   names the bytes needed) or a block count above 2^32 - 1 (use a larger min_block). */
    void *managed;
    size_t managed_size;
} fl_allocator_config;

/* The control buffer size (`size`, for a buffer aligned to FL_ALIGN_DEFAULT) a buddy
 * allocator needs to manage managed_size bytes of external memory with this min_block (0:
 * the default, 64): the control block plus 9 bytes per block of min_block (1 state byte,
 * two 32-bit free-list links). 0 when no allocator can be made from these values
 * (min_block not a power of two >= 8, managed_size below min_block, more than 2^32 - 1
 * blocks); fl_last_error() then says why. */
size_t fl_buddy_control_size(size_t managed_size, size_t min_block);

/* A checkpoint of a linear or stack allocator. {0} means "empty": rewinding to it frees
 * everything. Beyond API.md's `offset` (bytes in use at the mark), a marker also carries
 * the live allocation count and (stack) the newest allocation at the mark, so that rewind
 * is O(1). A marker is valid until the allocator is rewound or reset below it. */
typedef struct fl_marker {
    size_t offset;
    size_t count;
    size_t last;
} fl_marker;

/*
 * Creates an allocator. Fails with FL_ERR_INVALID_PARAMETERS when cfg or out is NULL, the
 * type is unknown or FL_ALLOCATOR_AUTO, the buffer is too small to hold the control block
 * and one allocation, or a type-specific parameter is wrong (pool block_size 0, buddy
 * min_block not a power of two, a buffer given to the system allocator); with
 * FL_ERR_PLATFORM or FL_ERR_OUT_OF_MEMORY when the platform cannot provide the memory;
 * with FL_ERR_NOT_SUPPORTED when buffer is NULL and the platform has no pages, (system)
 * the platform has no heap, or `managed` is set for a type other than the buddy; with
 * FL_ERR_PLATFORM when thread_safe is asked of a platform without locks.
 *
 * The system allocator takes its blocks from the platform's heap: `buffer` must be NULL
 * and `size` is its budget (0: no budget other than the platform's).
 */
fl_status fl_allocator_create(const fl_allocator_config *cfg, fl_allocator **out);

/* Releases the allocator (and, with buffer NULL at create, its pages). NULL is ignored.
 * Live allocations die with it. */
void fl_allocator_destroy(fl_allocator *a);

/* Returns `size` usable bytes aligned to `alignment` (0: FL_ALIGN_DEFAULT) in *out.
 * FL_ERR_OUT_OF_MEMORY when no free block can serve it; FL_ERR_INVALID_PARAMETERS for
 * size 0, a bad alignment, or (pool) a size or alignment larger than the block's.
 * <flight/memory_fast.h> (optional) has inline versions of this call and of
 * fl_allocator_deallocate for pools and linear allocators, with the same contract. */
fl_status fl_allocator_allocate(fl_allocator *a, size_t size, size_t alignment, void **out);

/* Frees an allocation. Foreign, interior and already freed pointers are
 * FL_ERR_INVALID_PARAMETERS (where the allocator can tell: the pool, buddy, free list and
 * system always can). The stack frees only its top: anything else is FL_ERR_INVALID_STATE.
 * The linear allocator frees only its last allocation; any other of its pointers is
 * accepted and nothing happens (its bytes come back at reset or rewind). */
fl_status fl_allocator_deallocate(fl_allocator *a, void *ptr);

/* Frees every allocation at once. O(1) for linear, stack and pool; the others rebuild
 * their free structure. */
void fl_allocator_reset(fl_allocator *a);

/* True iff ptr points into memory this allocator manages; for the system allocator, whose
 * memory is the platform's, iff ptr is the start of one of its live blocks. O(1) (the
 * system allocator: an expected-O(1) hash lookup). */
bool fl_allocator_owns(const fl_allocator *a, const void *ptr);

/* The usable size of the live allocation starting at ptr (added beyond API.md). */
fl_status fl_allocator_usable_size(const fl_allocator *a, const void *ptr, size_t *out);

const char *fl_allocator_name(const fl_allocator *a);
fl_allocator_type fl_allocator_kind(const fl_allocator *a);

/* Fills *out; O(1). With a or out NULL, nothing happens (*out is zeroed when a is NULL). */
void fl_allocator_get_stats(const fl_allocator *a, fl_allocator_stats *out);

/* Walks the whole structure and checks every invariant the allocator relies on (listed at
 * the top of its source file). FL_OK, or FL_ERR_INVALID_STATE with the first broken one
 * named in fl_last_error(). */
fl_status fl_allocator_validate(const fl_allocator *a);

/* Calls fn once per block: its start, its size in bytes (header included), and whether it
 * is in use; in address order except for the system allocator, whose blocks are the
 * platform's. The linear allocator, which does not track single allocations, reports its
 * used span and its free span. fn must not call back into the allocator. (added beyond
 * API.md) */
typedef void (*fl_walk_fn)(const void *block, size_t size, bool used, void *user);
fl_status fl_allocator_walk(const fl_allocator *a, fl_walk_fn fn, void *user);

/* Linear and stack only: a checkpoint, and a return to it that frees everything allocated
 * since. Other types: mark returns {0} and rewind is FL_ERR_NOT_SUPPORTED. A marker above
 * the current top (from a rewound-away state) is FL_ERR_INVALID_PARAMETERS. */
fl_marker fl_allocator_mark(fl_allocator *a);
fl_status fl_allocator_rewind(fl_allocator *a, fl_marker m);

#ifdef __cplusplus
}
#endif

#endif /* FLIGHT_MEMORY_H */
