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
 * - gc_hint(level) (added last, like pressure_stall): the interface asks the host to give
 *   memory back - from fl_memory_gc_hint (level: the interface's current level) and after
 *   a call that raised any level to High or Critical (level: the highest reached). It runs
 *   outside the interface's lock and must not call back into the interface that called
 *   it. NULL: nobody to tell. The Web table calls JavaScript's Module.flightMemoryGcHint.
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
    void (*gc_hint)(void *user, fl_pressure_level level);
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
 * API.md)
 * For the free list and the buddy, the allocation a used block holds starts at
 * block + allocation_overhead (fl_allocator_stats): one header word for the free list, 0
 * for the buddy. That is the pointer deallocate, usable_size and relocate take. */
typedef void (*fl_walk_fn)(const void *block, size_t size, bool used, void *user);
fl_status fl_allocator_walk(const fl_allocator *a, fl_walk_fn fn, void *user);

/*
 * Moves one live allocation to lower memory: the primitive defragmentation is built from
 * (added beyond API.md; fl_memory_defragment decides which allocations may move).
 *
 * The allocation starting at ptr goes to the lowest-addressed free place below ptr that
 * holds it with the alignment it may need; its bytes are copied (the ranges may overlap:
 * a block slides down into the free space just before it), the old block is freed and
 * merges with its free neighbours, and *new_ptr gets the new address. Only that one
 * allocation moves: pointers to every other allocation stay valid, so a caller can collect
 * the used blocks with fl_allocator_walk and relocate them in increasing address order.
 * When no such lower place exists, nothing changes and the call still succeeds with
 * *new_ptr == ptr: "already as low as it can go" is not an error, and a compaction loop
 * just compares the two pointers.
 *
 * - Free list: the new block is at least as large as the old (usable size never shrinks;
 *   it may grow by less than one minimum block when the rest of a hole is too small to
 *   stand alone). An allocation whose alignment was at most the free list's granule,
 *   max(2 * sizeof(size_t), FL_ALIGN_DEFAULT) (so every default alignment), may land on
 *   any block, all of which have that alignment; one made with a larger alignment keeps
 *   its pointer's current alignment, capped at FL_ALIGN_MAX (the free list remembers that
 *   a request was over-aligned, not by how much), so moving never weakens an alignment a
 *   caller asked for. Cost: a walk over the blocks between the
 *   lowest free block and ptr; relocating every allocation in increasing address order is
 *   O(blocks) in total and leaves the used blocks packed at the start of the area,
 *   followed by one free block (exactly so when no allocation was over-aligned).
 * - Buddy: the new block is a free block of the same order (split from a larger one when
 *   needed, keeping its lowest part), so usable size and alignment are unchanged; freeing
 *   the old block lets its buddy coalesce. Cost: O(free blocks). A buddy created with
 *   `managed` memory never touches those bytes: FL_ERR_NOT_SUPPORTED.
 * - Linear, stack (allocations cannot move), pool (its blocks are interchangeable: there
 *   is nothing to compact) and system (the platform owns placement): FL_ERR_NOT_SUPPORTED.
 *   fl_allocator_stats.supports_defrag says which allocators relocate.
 *
 * Statistics: a move is neither an allocation nor a free. allocation_count and the
 * total_allocations / total_deallocations counters do not change; used_bytes changes by
 * the difference in consumed bytes (0 for the buddy) and peak_used_bytes follows it up;
 * allocation_efficiency (lifetime requested / consumed) does not change.
 *
 * FL_ERR_INVALID_PARAMETERS for a, ptr or new_ptr NULL and for a pointer that is not the
 * start of a live allocation of this allocator (foreign, interior, already freed); every
 * failure leaves the allocator, its statistics and *new_ptr untouched. Like deallocate, a
 * move ends the old pointer's life: no thread may use the allocation during the call.
 */
fl_status fl_allocator_relocate(fl_allocator *a, void *ptr, void **new_ptr);

/* Linear and stack only: a checkpoint, and a return to it that frees everything allocated
 * since. Other types: mark returns {0} and rewind is FL_ERR_NOT_SUPPORTED. A marker above
 * the current top (from a rewound-away state) is FL_ERR_INVALID_PARAMETERS. */
fl_marker fl_allocator_mark(fl_allocator *a);
fl_status fl_allocator_rewind(fl_allocator *a, fl_marker m);

/* ---------------------------------------------------------------------------------------
 * The memory interface
 *
 * An fl_memory owns one region per memory type whose capacity is not 0. Each region is a
 * disjoint address range served by the strategy its profile names:
 *
 *   type        default strategy      notes
 *   System      free list             the emergency reserve is a second free list beside it
 *   Video       buddy                 bookkeeping outside the region (GPU memory)
 *   Audio       buddy                 likewise (sound RAM)
 *   Network     free list
 *   Shared      free list             inside an OS shared-memory object (see below)
 *   Temporary   linear                released in bulk with fl_memory_rewind
 *   Stack       stack                 LIFO; released in bulk with fl_memory_rewind
 *   Pool        pool                  one pool per size class (pool_classes)
 *
 * Every pointer any allocate call returns is released by fl_memory_deallocate alone: the
 * owner is found in O(1) from the address (at most one compare per region, then the pool
 * class from a table), and the owning allocator then checks the pointer exactly, so
 * foreign, interior and already freed pointers are refused with nothing changed.
 *
 * A Video or Audio region served by the buddy keeps every byte of its bookkeeping (the
 * buddy's state map and free-list links, 9 bytes per buddy_min_block unit) in the
 * interface's control part, never in the region: on a console that memory is VRAM or
 * sound RAM, written by DMA, that the CPU should not scribble headers into.
 *
 * Threads: with thread_safe every call takes one lock of the interface (the regions'
 * allocators have none of their own). Pressure, relocation and defragmentation progress
 * callbacks always run outside that lock. Without thread_safe the caller serialises all
 * calls. A request with timeout_ms waits on a condition variable of the interface (see
 * fl_memory_allocate_request).
 *
 * Shared: the Shared region is one mapping of an operating-system shared-memory object
 * (the platform's shared_map: memfd or shm_open, mode 0600, mapped shared), so a process
 * forked after an allocation reads and writes the same bytes. Allocate and free Shared
 * blocks in one process (the interface's lock and counters are that process's). Where the
 * platform has no shared_map, and with backing_memory (everything must live in the
 * caller's block, which is not shared), the Shared type has capacity 0 whatever the
 * configuration says; fl_memory_trim never releases its pages (they belong to the object).
 *
 * Console memory: config.region_memory[type] places a region in a block the game owns
 * (VRAM, sound RAM); the Video and Audio buddies keep their bookkeeping outside it.
 * ------------------------------------------------------------------------------------- */

typedef struct fl_memory fl_memory;

/* Use as the type of fl_memory_get_pressure to ask for the interface as a whole; pressure
 * callbacks receive it in fl_pressure_info.type for whole-interface transitions. */
#define FL_MEMORY_ALL_TYPES ((fl_memory_type)FL_MEMORY_TYPE_COUNT)

/* Most pool size classes a configuration can have. */
#define FL_POOL_CLASS_MAX 16

/* Most pressure callbacks registered at once. */
#define FL_PRESSURE_CALLBACK_MAX 32

/* A copy of `size` bytes from src to dst (fl_memory_config.relocate_copy). */
typedef void (*fl_copy_fn)(void *dst, const void *src, size_t size, void *user);

/*
 * Absolute pressure thresholds: the number of available bytes at or below which each level
 * starts. Levels are tested from Critical down; non-zero thresholds must not increase from
 * low to critical, and a 0 gives that level no threshold of its own (it starts where the
 * next higher level does). All four 0 means the specification's ratio table instead, as a
 * fraction of the type's (or the interface's) capacity: Low at <= 50 % available, Medium
 * <= 25 %, High <= 10 %, Critical <= 5 %.
 *
 * hysteresis (with either kind of threshold; at most the type's capacity, or the sum of
 * them for total_pressure): a level, once reached, falls only when the available bytes
 * climb more than this many bytes above the threshold that started it. Levels still rise
 * exactly at the thresholds. A game streaming around a threshold then gets one callback,
 * not one per crossing. 0 (every profile's default): levels fall as soon as the available
 * bytes are back above the threshold, the specification's table as it stands.
 */
typedef struct fl_pressure_thresholds {
    size_t low, medium, high, critical;
    size_t hysteresis;
} fl_pressure_thresholds;

/*
 * A platform profile: everything fl_memory_create needs. Start from
 * fl_memory_config_default() and change fields; docs/platforms.md gives every profile's
 * numbers and their sources.
 */
struct fl_debug_report; /* below, with the debug options */

typedef struct fl_memory_config {
    fl_platform profile;                  /* the profile these values came from (reports only) */

    /* Bytes of memory per type, bookkeeping of its allocators included (a region's
     * fl_memory_stats.total_bytes is therefore a little less). 0: the type does not exist
     * here. The System capacity includes the emergency reserve. */
    size_t capacity[FL_MEMORY_TYPE_COUNT];
    /* The strategy serving each type; FL_ALLOCATOR_AUTO: the default of the table above.
     * FL_ALLOCATOR_SYSTEM (the platform heap under a budget of `capacity` bytes, growing on
     * demand) is refused with backing_memory. */
    fl_allocator_type strategy[FL_MEMORY_TYPE_COUNT];
    /* What each type's memory can do (FL_FLAG_CACHEABLE, FL_FLAG_DMA_CAPABLE only). A
     * request naming one of those flags is served only by a region that has it. */
    fl_memory_flags capabilities[FL_MEMORY_TYPE_COUNT];
    /* With allow_fallback, the type tried after each type fails; FL_MEMORY_TYPE_COUNT (or a
     * type already tried) ends the chain. */
    fl_memory_type fallback[FL_MEMORY_TYPE_COUNT];

    /* Block sizes of the pool classes, ascending, each at least sizeof(void *), ended by 0
     * or by the end of the array. All 0: 16, 32, 64, 128, 256, 512, 1024, 2048. */
    size_t pool_classes[FL_POOL_CLASS_MAX];
    /* Bytes of the pool region given to each class; classes left at 0 share what the others
     * leave, equally. All 0: an equal split. */
    size_t pool_class_bytes[FL_POOL_CLASS_MAX];
    /* The smallest block of each type's region when its strategy is the buddy: a power of
     * two >= 8; 0: 256 (FL_ALIGN_GPU) for Video, 64 for the others. Every allocation rounds
     * up to a power-of-two multiple of it; a Video or Audio buddy keeps 9 bytes of
     * bookkeeping per block of this size in the control part (docs/platforms.md). */
    size_t buddy_min_block[FL_MEMORY_TYPE_COUNT];

    /* Absolute pressure thresholds per type and for the interface as a whole (whose
     * available bytes are the sum over the types). All 0: the ratio table. */
    fl_pressure_thresholds pressure[FL_MEMORY_TYPE_COUNT];
    fl_pressure_thresholds total_pressure;

    size_t emergency_reserve; /* held back for FL_FLAG_CRITICAL requests; part of capacity[System] */
    size_t max_allocation;    /* largest single request; 0: no limit */
    /* Allocations that carry a tag or FL_FLAG_RELOCATABLE keep a record (for reports and
     * defragmentation); this many can be live at once. 0: 256. */
    size_t max_records;
    bool thread_safe;

    /* Optional: the whole interface (control block, records, bitmaps, every region) lives
     * inside this block, and no call to the platform's memory functions or to malloc
     * follows fl_memory_create. fl_memory_backing_size() says how large it must be. */
    void *backing_memory;
    size_t backing_size;
    const fl_platform_hooks *platform; /* NULL: the platform the library was built for */

    /* How defragmentation copies an allocation in a region whose bookkeeping lives outside
     * it (the Video and Audio buddy regions; the other allocators move their own bytes):
     * NULL: memmove. A console may pass a DMA copy; it must have finished when it returns.
     * Called with the interface's lock held (it must not call the interface), with
     * disjoint ranges of `size` bytes. */
    fl_copy_fn relocate_copy;
    void *relocate_copy_user;

    /* The operating system's memory pressure (docs/platforms.md, "OS pressure"): with
     * os_pressure, every type's level (and the interface's) is the higher of its budget
     * level and the OS level, which the platform's system_memory and pressure_stall give.
     * The OS is sampled on slow paths only - fl_memory_poll_os_pressure, fl_memory_gc_hint,
     * and at most every os_pressure_interval_ms milliseconds (0: 250) checked once per 64
     * changes of used bytes - so fl_memory_get_pressure stays a read of cached levels.
     * The profiles turn it on for HOST, DESKTOP and WEB, off for the consoles. */
    bool os_pressure;
    uint32_t os_pressure_interval_ms;

    /* Optional, per type: memory the game owns that the type's region is placed in instead
     * of platform pages or backing_memory - the Dreamcast's VRAM from pvr_mem_malloc, sound
     * RAM, the PSP's eDRAM (docs/porting.md). At least capacity[t] bytes (System: minus the
     * emergency reserve, which stays in ordinary memory), writable by the CPU, and kept by
     * the game until fl_memory_destroy; never unmapped, trimmed or freed by the interface.
     * Not for a type using the System strategy, nor for Shared. NULL: the usual memory. */
    void *region_memory[FL_MEMORY_TYPE_COUNT];

    /* Debug options (added beyond API.md; docs/debugging.md): FL_DEBUG_* bits, 0 for none.
     * A build configured with -DFLMEM_DEBUG=OFF has none of them compiled in and refuses a
     * non-zero value with FL_ERR_NOT_SUPPORTED. debug_report receives every problem they
     * find (NULL: found problems are only counted, see fl_memory_debug_counts). */
    uint32_t debug;
    void (*debug_report)(const struct fl_debug_report *report, void *user);
    void *debug_user;
} fl_memory_config;

/*
 * Fills *out with the profile of `platform`:
 * - HOST: sized from the running machine's physical memory (System a quarter of it, capped
 *   at 4 GiB, or 512 MiB on 32-bit targets; the other types fractions of System).
 * - DREAMCAST: 12 MiB of the 16 MiB main RAM split between the main-RAM types, 8 MiB video
 *   RAM, 2 MiB sound RAM, 512 KiB emergency reserve, 4 MiB largest allocation.
 * - PSP: 20 MiB of the 24 MiB user main RAM (audio in main RAM), 2 MiB video RAM.
 * - WEB: System grows on demand from the heap up to a 64 MiB cap; other regions fixed;
 *   everything scaled down to fit 3/4 of a heap maximum below 137 MiB (docs/platforms.md).
 * - DESKTOP: fixed generous budgets, thread safe.
 * HOST, DESKTOP and WEB turn os_pressure on; DREAMCAST and PSP leave it off.
 * FL_ERR_INVALID_PARAMETERS for out NULL or an unknown platform.
 */
fl_status fl_memory_config_default(fl_platform platform, fl_memory_config *out);

/* How many bytes config->backing_memory must provide for this configuration (its
 * backing_memory and backing_size are ignored). Fails like fl_memory_create would on a
 * configuration that cannot work. */
fl_status fl_memory_backing_size(const fl_memory_config *config, size_t *out);

/*
 * Creates a memory interface. FL_ERR_INVALID_PARAMETERS when config or out is NULL, or the
 * configuration cannot work (message names the field): no type with capacity, an unknown
 * strategy, a capacity too small for its strategy, pool classes not ascending, thresholds
 * not ordered, an emergency reserve without a System region or not smaller than it,
 * backing_memory too small or with the System strategy, a Shared type with the System
 * strategy, or only a Shared capacity where the Shared type has capacity 0 (see above);
 * FL_ERR_OUT_OF_MEMORY or FL_ERR_PLATFORM when the platform refuses pages, shared memory
 * or a lock.
 */
fl_status fl_memory_create(const fl_memory_config *config, fl_memory **out);

/* Releases the interface and every region (live allocations die with it). NULL is ignored.
 * Live allocations at destroy are reported, not refused: the calling thread's
 * fl_last_error() becomes FL_ERR_INVALID_STATE, "... N allocations (B bytes) were still
 * live" (B: their used bytes); with none live the last error is left as it was. */
void fl_memory_destroy(fl_memory *mem);

/* A general-purpose allocation: type System with fallback allowed, FL_ALLOCATOR_AUTO.
 * Same as fl_memory_allocate_request with fl_make_allocation_request(size, FL_MEMORY_SYSTEM,
 * alignment, FL_FLAG_NONE) and allow_fallback = true. */
fl_status fl_memory_allocate(fl_memory *m, size_t size, size_t alignment, fl_allocation *out);

/* An allocation from one type, without fallback (FL_FLAG_RELOCATABLE needs a request with
 * on_relocate and is refused here). */
fl_status fl_memory_allocate_typed(fl_memory *m, size_t size, fl_memory_type type, size_t alignment,
                                   fl_memory_flags flags, fl_allocation *out);

/* A request with the given fields and the defaults: FL_ALLOCATOR_AUTO, timeout 0, no
 * fallback, no tag, no relocation callback. */
fl_alloc_request fl_make_allocation_request(size_t size, fl_memory_type type, size_t alignment,
                                            fl_memory_flags flags);

/*
 * The full request. Routing, for each type of the route (preferred_type, then with
 * allow_fallback its fallback chain), tries in order:
 *   1. with preferred_allocator set: the type's region if it uses that strategy; for a
 *      System request also the Pool, Temporary or Stack region when it uses that strategy
 *      (they are general-purpose main memory too);
 *   2. for a System request with FL_FLAG_TEMPORARY: the Temporary region if it is linear;
 *   3. for a System request whose size and alignment fit a pool class: the Pool region;
 *   4. the type's own region.
 * A full pool class overflows into the next larger class once. A region whose
 * capabilities lack a requested FL_FLAG_CACHEABLE / FL_FLAG_DMA_CAPABLE is skipped. When
 * every region of the route fails and the request has FL_FLAG_CRITICAL and its route
 * reached System, the emergency reserve serves it (no other request can use it). When
 * memory is still short, the pressure of each type of the route is raised to Critical
 * (callbacks run and may free memory) and the route is tried once more.
 *
 * Waiting (timeout_ms): when even that retry fails and timeout_ms is not 0, the request
 * waits, on a condition variable with the interface's lock, until another thread frees
 * memory (deallocate, reallocate, rewind, a handle's reset, or a defragmentation move
 * wake it; each wakes waiters only when there are some), tries the route again, and goes
 * back to waiting until it succeeds or timeout_ms have passed since it began to wait: then
 * FL_ERR_TIMEOUT. No busy loop: between wake-ups the thread sleeps. It fails at once with
 * FL_ERR_OUT_OF_MEMORY instead when waiting cannot help: the interface is not thread_safe
 * (no other thread may free meanwhile: a single-threaded program cannot be rescued by
 * waiting), the platform has no condition variables or no clock (freestanding), or the
 * size exceeds the capacity of every region the route could use.
 *
 * *out tells what served the request: ptr (aligned to `alignment`), size (usable bytes,
 * >= the request), alignment (the one asked for, 0 resolved to FL_ALIGN_DEFAULT), type and
 * allocator, and flags (the request's flags plus the region's capabilities).
 *
 * FL_ERR_INVALID_PARAMETERS (nothing changes, not counted as a failure): m, req or out
 * NULL, size 0 or too large to round, a bad alignment, an unknown type, allocator or flag
 * bit, FL_FLAG_RELOCATABLE without on_relocate, a size above max_allocation.
 * FL_ERR_NOT_SUPPORTED: no region of the route exists or has the requested capabilities.
 * FL_ERR_OUT_OF_MEMORY: every region of the route is full (counted in failed_allocations
 * of the preferred type), or the record table is full for a tagged or relocatable request.
 * FL_ERR_TIMEOUT: the same after waiting timeout_ms (counted once in failed_allocations).
 *
 * FL_FLAG_RELOCATABLE needs on_relocate: fl_memory_defragment may move the allocation and
 * then calls on_relocate(old, new, size, relocate_user) so its owner can update every
 * pointer it holds; an owner that was not told would keep a dangling pointer.
 */
fl_status fl_memory_allocate_request(fl_memory *m, const fl_alloc_request *req, fl_allocation *out);

/*
 * Resizes an allocation. When new_size fits in its usable size, it stays where it is (*out
 * describes it; shrinking returns no memory). Otherwise a new block is taken from the same
 * type (with its fallback chain), aligned to FL_ALIGN_DEFAULT (stricter alignments are not
 * carried over, as with C's realloc), the bytes are copied and the old block is freed; its
 * record (tag, relocation callback) moves with it. On failure the old block is untouched.
 */
fl_status fl_memory_reallocate(fl_memory *m, void *ptr, size_t new_size, fl_allocation *out);

/*
 * Frees an allocation made by any allocate call of this interface. FL_ERR_INVALID_PARAMETERS
 * for NULL and for foreign, interior or already freed pointers. A Stack-region pointer
 * that is not the top of its stack is FL_ERR_INVALID_STATE (free in LIFO order, or rewind).
 * In a Temporary (linear) region the bytes of anything but the newest allocation come back
 * only at fl_memory_rewind: until then they stay in used_bytes.
 */
fl_status fl_memory_deallocate(fl_memory *m, void *ptr);

/* True iff ptr is the start of a live allocation of this interface. Exact: freed, interior
 * and foreign pointers are false. */
bool fl_memory_is_valid_pointer(fl_memory *m, const void *ptr);

/* Describes the live allocation starting at ptr: usable size, type, allocator, and for
 * allocations with a record (tag or FL_FLAG_RELOCATABLE) the alignment and flags of the
 * request; for the others, alignment is the largest power of two (up to FL_ALIGN_MAX) the
 * address is a multiple of, and flags are the region's capabilities.
 * FL_ERR_INVALID_PARAMETERS exactly when fl_memory_is_valid_pointer is false. */
fl_status fl_memory_get_allocation_info(fl_memory *m, const void *ptr, fl_allocation *out);

/* The tag given with the allocation's request (NULL when it had none). Added beyond API.md. */
fl_status fl_memory_get_allocation_tag(fl_memory *m, const void *ptr, const char **out);

/* Checks every region's allocator (fl_allocator_validate), the per-type, per-strategy and
 * global counters against them, the records and the linear/stack bitmaps. FL_OK, or
 * FL_ERR_INVALID_STATE naming the first broken invariant. Visits every block. */
fl_status fl_memory_validate(fl_memory *m);

/*
 * Statistics, maintained on every call with plain adds; reading them is O(1) (a loop over
 * the types and pool classes, never over blocks). Exact at every moment:
 * - total_bytes: what the type's allocators can hand out (for System, its emergency
 *   reserve included); used_bytes: what live allocations consume (payload, headers,
 *   padding; in a linear region, freed allocations until a rewind); free = total - used.
 * - peak_used_bytes >= used_bytes; allocation_count = total_allocations -
 *   total_deallocations (a rewind counts one deallocation per live allocation it releases);
 *   failed_allocations counts FL_ERR_OUT_OF_MEMORY and FL_ERR_TIMEOUT answers. A
 *   defragmentation move is neither an allocation nor a free (used bytes follow a free
 *   list block that grows by a few bytes in the move).
 * - largest_free_block: a request of that size and alignment 1 to this type succeeds now
 *   (for System without FL_FLAG_CRITICAL, so the reserve is not in it); in the global
 *   stats, the largest over the types (a request typed to that type succeeds).
 * - fragmentation_pct: the free-byte-weighted mean of the allocators' own fragmentation,
 *   100 * (1 - largest free / free) each, so a type with one allocator follows API.md's
 *   formula; a pool's free blocks are never fragmented (0).
 * - allocation_efficiency: bytes requested / bytes consumed over every allocation served.
 * Per-type stats add up to the global ones.
 */
fl_status fl_memory_get_stats(fl_memory *m, fl_memory_stats *out);
fl_status fl_memory_get_type_stats(fl_memory *m, fl_memory_type t, fl_memory_stats *out);

/*
 * Pressure. Each type's level follows its available bytes (free bytes ordinary requests
 * can use: the System reserve is not available) against its thresholds; the interface's
 * level follows the sum over the types against total_pressure. A callback registered at
 * `at_least` (Low..Critical) is called when a level rises from below at_least to at_least
 * or above, once per rise: again only after the level fell below and rose again. It runs
 * on the thread whose call caused the rise, after the interface released its lock, so it
 * may allocate, free, register and unregister. info.type is the type whose level rose, or
 * FL_MEMORY_ALL_TYPES. Unregistering does not wait for a call already under way.
 * A request about to fail with FL_ERR_OUT_OF_MEMORY first raises each type of its route
 * to Critical (callbacks at levels above the current one run, once) and is tried again;
 * a raised level reads Critical until that type's used bytes next change.
 * Registering fails with FL_ERR_OUT_OF_MEMORY when FL_PRESSURE_CALLBACK_MAX are registered.
 * Ids are never 0.
 */
typedef void (*fl_pressure_fn)(fl_pressure_level level, const fl_pressure_info *info, void *user);
fl_status fl_memory_register_pressure_callback(fl_memory *m, fl_pressure_level at_least, fl_pressure_fn fn,
                                               void *user, uint32_t *out_id);
fl_status fl_memory_unregister_pressure_callback(fl_memory *m, uint32_t id);

/* The current pressure of type t (or FL_MEMORY_ALL_TYPES): O(1). A type without a region
 * reads as level None with 0 bytes. */
fl_status fl_memory_get_pressure(fl_memory *m, fl_memory_type t, fl_pressure_info *out);

/*
 * The operating system's side of pressure, as last sampled: its level (from the platform's
 * available / total bytes and its pressure stall, docs/platforms.md "OS pressure") and the
 * readings it came from. memory_known / stall_known say which readings the platform gave;
 * sampled_ns is the platform clock at the sample (0: never sampled).
 */
typedef struct fl_os_pressure {
    fl_pressure_level level;
    bool memory_known, stall_known;
    uint64_t available_bytes, total_bytes;
    double stall_pct;
    uint64_t sampled_ns;
} fl_os_pressure;

/* Samples the operating system's pressure now (whatever os_pressure_interval_ms says),
 * updates every level from it, runs the callbacks of any rise (after the lock, as usual),
 * and writes the sample to *out (which may be NULL). A few times a second at most: the
 * platform reads /proc files or walks the Web heap. FL_ERR_NOT_SUPPORTED when the
 * interface was created without os_pressure; FL_ERR_PLATFORM when the platform gave neither
 * reading (the OS level then stays what it was). */
fl_status fl_memory_poll_os_pressure(fl_memory *m, fl_os_pressure *out);
/* The last OS sample (no new one): O(1). FL_ERR_NOT_SUPPORTED without os_pressure. */
fl_status fl_memory_get_os_pressure(fl_memory *m, fl_os_pressure *out);

/* Gives memory back to the platform: the whole pages inside free space of every region the
 * interface mapped (none for backing_memory), through the platform's release_pages. The
 * bytes handed back are added to *released (which may be NULL); pages already released and
 * still unused are counted again. Without a release_pages hook nothing is released. */
fl_status fl_memory_trim(fl_memory *m, size_t *released);
/* The specification's gc_hint: fl_memory_trim(m, NULL), then (with os_pressure) a fresh OS
 * sample, then the platform's gc_hint hook with the interface's level (on the Web: the
 * JavaScript host's Module.flightMemoryGcHint). */
fl_status fl_memory_gc_hint(fl_memory *m);

/*
 * The allocator handle of a strategy: a view over every region that strategy serves (for
 * the pool, all its classes). Allocating through it routes like a request with that
 * preferred_allocator that no other strategy may serve, and is counted in the interface's
 * statistics; it frees only its own strategy's pointers; reset and rewind release its
 * regions in bulk. The handle belongs to the interface (fl_allocator_destroy on it does
 * nothing). The free-list and buddy handles relocate too (fl_allocator_relocate moves
 * any one of their allocations down, relocatable or not, with its record; no on_relocate
 * runs: the caller asked for that move), so their statistics say supports_defrag.
 * On a thread_safe interface shared by several threads, read its statistics
 * with fl_memory_get_allocator_stats (fl_allocator_get_stats on the handle reads without
 * the interface's lock) and reset it only while no other thread uses the interface.
 * FL_ERR_INVALID_PARAMETERS for an unknown strategy; FL_ERR_NOT_SUPPORTED when no region
 * uses it.
 */
fl_status fl_memory_get_allocator(fl_memory *m, fl_allocator_type t, fl_allocator **out);

/* The strategies in use, in enum order: writes up to cap of them and returns how many
 * there are (out may be NULL when cap is 0). */
size_t fl_memory_get_available_allocators(fl_memory *m, fl_allocator_type *out, size_t cap);

/* The statistics of every region a strategy serves, summed (largest_free_block: the
 * largest of them). Errors as fl_memory_get_allocator. */
fl_status fl_memory_get_allocator_stats(fl_memory *m, fl_allocator_type t, fl_allocator_stats *out);

/* The regions, in type order, then the emergency reserve (named "Emergency reserve", type
 * System): writes up to cap and returns how many there are. A region served by the
 * platform heap has base NULL and size = its budget. */
size_t fl_memory_get_regions(fl_memory *m, fl_memory_region *out, size_t cap);

/* Frame memory. mark returns a checkpoint of the region serving type t (which must be
 * linear or stack; otherwise, and for bad input, {0} and the last error says why); rewind
 * frees every allocation made in it since the mark ({0}: everything), after which their
 * pointers are no longer valid. rewind: FL_ERR_INVALID_PARAMETERS for an unknown type or a
 * marker that cannot be this region's, FL_ERR_NOT_SUPPORTED for a type without a linear
 * or stack region. */
fl_marker fl_memory_mark(fl_memory *m, fl_memory_type t);
fl_status fl_memory_rewind(fl_memory *m, fl_memory_type t, fl_marker mark);

/* Defragmentation progress: bytes moved so far, bytes to examine, the fraction examined
 * (see fl_memory_defragment). */
typedef void (*fl_defrag_progress_fn)(size_t moved, size_t total, double progress, void *user);

/*
 * Defragmentation: compacts the allocations made with FL_FLAG_RELOCATABLE toward the start
 * of their region, so that the free space between them merges into larger blocks.
 *
 * Regions: those served by the free list (System, Network, Shared, the emergency reserve,
 * any type configured so) and by the buddy (Video, Audio). fl_memory_defragment does all of
 * them and skips the others (linear, stack, pool and platform-heap regions cannot move
 * anything); fl_memory_defragment_allocator(m, t, ...) does the regions of strategy t only.
 * on_relocate runs in the calling process only: a relocatable Shared allocation whose
 * address another process holds would leave that process pointing at the old place.
 *
 * Moves: in each region, the relocatable allocations in increasing address order; each
 * goes to the lowest free place below it that holds it (fl_allocator_relocate: the free
 * list keeps the alignment and never shrinks the usable size, the buddy keeps the block).
 * Allocations without FL_FLAG_RELOCATABLE never move. In a Video or Audio buddy region,
 * whose bookkeeping lives outside it, the buddy moves only its bookkeeping and the
 * interface copies the bytes with config.relocate_copy (memmove by default).
 *
 * Callbacks, on the calling thread, outside the interface's lock: they may call any
 * function of the interface but destroy (allocate, free, even free the allocation just
 * moved, or register pressure callbacks).
 * - After each move, once the bytes are in place: the allocation's on_relocate(old, new,
 *   size, relocate_user), size = its usable size before the move (the bytes preserved).
 *   From then on the allocation is known by `new` only (deallocate, is_valid_pointer,
 *   get_allocation_info, the tag); `old` is no longer valid unless a later move put another
 *   allocation there, and its bytes may already be overwritten (a free-list block sliding
 *   down overlaps itself): use it only to find the object that pointed there.
 * - Then fn(moved, total, progress, user): moved = bytes of the allocations moved so far,
 *   total = bytes of the relocatable allocations in the call's regions at its start,
 *   progress = bytes examined / total: never decreasing, and exactly 1.0 in the last call
 *   (a call with nothing to examine reports (0, 0, 1.0) once).
 * Other threads may use the interface meanwhile, but no thread may touch an allocation
 * that may move until its on_relocate has run (or the call returned). Allocations made
 * during the call may or may not be compacted.
 *
 * Statistics: a move is neither an allocation nor a free (counts unchanged; used bytes
 * change only when a free-list block grows by a few bytes). Waiting requests are woken
 * after each move. *out (may be NULL): bytes_moved (the moved allocations' sizes, as
 * passed to on_relocate), allocations_moved; largest_free_before / _after and
 * fragmentation_before / _after (percent) are, for fl_memory_defragment, fl_memory_get_stats'
 * largest_free_block and fragmentation_pct at the start and at the end; for
 * fl_memory_defragment_allocator, the strategy's fl_memory_get_allocator_stats
 * largest_free_block and 100 * fragmentation_ratio.
 *
 * Cost: the relocatable allocations are taken from the record table in address order, 64
 * at a time (one pass over the table's slots per 64), plus each allocator's move (free
 * list: the blocks between the lowest free block and the allocation; buddy: its free
 * blocks).
 *
 * FL_ERR_INVALID_PARAMETERS: m NULL, t not a strategy (FL_ALLOCATOR_AUTO neither).
 * FL_ERR_NOT_SUPPORTED (_allocator): no region uses t, or t's allocator cannot move
 * allocations (linear, stack, pool, system). FL_ERR_INVALID_STATE: an allocator found its
 * structure broken (fl_memory_validate says where); moves made before stay made, *out is
 * not written. fn and out may be NULL.
 */
fl_status fl_memory_defragment(fl_memory *m, fl_defrag_progress_fn fn, void *user, fl_defrag_result *out);
fl_status fl_memory_defragment_allocator(fl_memory *m, fl_allocator_type t, fl_defrag_progress_fn fn, void *user,
                                         fl_defrag_result *out);

/*
 * The sizing helper: the capacity (as fl_memory_config.capacity counts it: bookkeeping
 * included) a region of `strategy` needs so that no sequence of requests can fail while
 * at most peak_live_bytes are live, no request is larger than largest_allocation nor
 * smaller than smallest_allocation (0: 1 byte), and alignments stay at or below
 * FL_ALIGN_DEFAULT. The worst-case bound used for each strategy (docs/platforms.md):
 * - LINEAR: every byte allocated since the last rewind counts (freed ones too), each
 *   request rounded up to FL_ALIGN_DEFAULT: peak + n * (FL_ALIGN_DEFAULT - 1) with
 *   n = peak / smallest requests at most.
 * - STACK: the same plus one header word and FL_ALIGN_DEFAULT of padding per request.
 * - POOL: for ONE class whose block size is largest_allocation (size it per class with
 *   pool_class_bytes): ceil(peak / smallest) blocks.
 * - BUDDY: requests round up to powers of two (at most doubling them), and a buddy system
 *   over sizes 1..2^r never needs more than (r + 1) times the live bytes (Knuth, TAOCP
 *   vol. 1, 2.5 exercise 41).
 * - FREELIST: a good-fit heap can be forced to hold about (largest / granule) times the
 *   live bytes (Robson's best-fit bound, TAOCP 2.5 exercise 42); that is the bound used,
 *   and why constrained profiles route small objects to pools and frame data to linear.
 * - SYSTEM: the platform heap's own worst case is unknown; peak + n * FL_ALIGN_DEFAULT.
 * FL_ERR_INVALID_PARAMETERS for an unknown strategy, peak or largest 0, smallest above
 * largest, largest above peak, or a bound that does not fit in size_t.
 */
fl_status fl_memory_size_region(fl_allocator_type strategy, size_t peak_live_bytes, size_t largest_allocation,
                                size_t smallest_allocation, size_t *capacity);

/* ---------------------------------------------------------------------------------------
 * Debugging (added beyond API.md; the user guide is docs/debugging.md)
 *
 * fl_memory_config.debug turns these on for one interface. They are compiled in by
 * default; -DFLMEM_DEBUG=OFF removes them (and their one branch on the allocation paths).
 * - FL_DEBUG_GUARDS: every allocation is followed by FL_DEBUG_GUARD_BYTES guard bytes
 *   (FL_DEBUG_GUARD_BYTE), checked when it is freed and by fl_memory_validate; the
 *   allocation's size (fl_allocation.size, get_allocation_info) is then exactly the
 *   request. The guard is bookkeeping: it counts in used_bytes like a header, so
 *   allocation_efficiency falls and a request may move to a larger pool class.
 * - FL_DEBUG_FILL: new allocations are filled with FL_DEBUG_ALLOC_BYTE (unless FL_FLAG_ZERO)
 *   and freed ones with FL_DEBUG_FREE_BYTE. Freed blocks of pool, free-list, buddy and
 *   system regions wait in a quarantine of FL_DEBUG_QUARANTINE blocks before their
 *   allocator gets them back; a block leaving it (or checked by validate) whose fill
 *   changed was written after it was freed. Quarantined blocks still count as used and
 *   live in every statistic until they leave (fl_memory_debug_flush empties it).
 * - FL_DEBUG_RECORD_ALL: every allocation gets a record (not only tagged ones), so the
 *   leak report is complete. Implied by GUARDS and FILL, which need the requested size.
 *   With debug on and max_records 0, the record table holds FL_DEBUG_RECORDS records; when
 *   it is full, untagged allocations still succeed without a record (not checked; counted).
 * - FL_DEBUG_LEAKS_AT_DESTROY: fl_memory_destroy reports every live allocation group
 *   (FL_DEBUG_LEAK events) through debug_report before releasing the memory.
 * Double and invalid frees are detected in every build, debug or not.
 * Call sites: fl_memory_allocate_request_at (and the FL_MEMORY_ALLOCATE_HERE macro, which
 * passes __FILE__ and __LINE__) keeps where an allocation was made in its record.
 * ------------------------------------------------------------------------------------- */

#define FL_DEBUG_GUARDS (1u << 0)
#define FL_DEBUG_FILL (1u << 1)
#define FL_DEBUG_RECORD_ALL (1u << 2)
#define FL_DEBUG_LEAKS_AT_DESTROY (1u << 3)
#define FL_DEBUG_ALL (FL_DEBUG_GUARDS | FL_DEBUG_FILL | FL_DEBUG_RECORD_ALL | FL_DEBUG_LEAKS_AT_DESTROY)

#define FL_DEBUG_GUARD_BYTES ((size_t)16)
#define FL_DEBUG_GUARD_BYTE 0xFDu
#define FL_DEBUG_ALLOC_BYTE 0xCDu
#define FL_DEBUG_FREE_BYTE 0xDDu
#define FL_DEBUG_QUARANTINE 32u
#define FL_DEBUG_RECORDS ((size_t)4096)

typedef enum fl_debug_event {
    FL_DEBUG_OVERRUN = 0,     /* a guard byte after the allocation changed */
    FL_DEBUG_WRITE_AFTER_FREE, /* a freed (quarantined) block's fill changed */
    FL_DEBUG_LEAK              /* fl_memory_destroy: a group of live allocations */
} fl_debug_event;

/* One problem found by a debug option. Pointers are valid only during the callback. */
typedef struct fl_debug_report {
    fl_debug_event event;
    const void *ptr;         /* the allocation (a leak group: NULL) */
    size_t size;             /* its requested bytes (a leak group: their sum) */
    size_t offset;           /* the first damaged byte, from ptr */
    size_t count;            /* a leak group: how many allocations; otherwise 1 */
    const char *tag;         /* the request's tag, or NULL */
    fl_memory_type type;
    const char *file;        /* the call site, when captured (NULL otherwise) */
    unsigned line;
    const char *message;     /* one line saying all of the above */
} fl_debug_report;

typedef void (*fl_debug_report_fn)(const fl_debug_report *report, void *user);

/* fl_memory_allocate_request, remembering the call site (file kept by pointer: pass a
 * string literal such as __FILE__). */
fl_status fl_memory_allocate_request_at(fl_memory *m, const fl_alloc_request *req, const char *file, unsigned line,
                                        fl_allocation *out);
#define FL_MEMORY_ALLOCATE_HERE(m, req, out) fl_memory_allocate_request_at((m), (req), __FILE__, __LINE__, (out))

/* A group of live allocations: one per tag (compared as strings), and the untagged ones
 * per memory type. `recorded` false: allocations without a record (untagged ones without
 * FL_DEBUG_RECORD_ALL, or beyond the record table): count is exact, bytes unknown (0). */
typedef struct fl_leak {
    const char *tag; /* NULL: untagged */
    fl_memory_type type; /* untagged groups; for a tag, the type of its first allocation */
    size_t count;
    size_t bytes; /* requested bytes */
    bool recorded;
} fl_leak;
typedef void (*fl_leak_fn)(const fl_leak *leak, void *user);

/* Every live allocation, grouped (tags first, in the order first met, at most 64 distinct
 * tags, the rest in one group tagged "(other tags)"; then untagged per type). fn runs
 * outside the interface's lock. *count (may be NULL) gets the number of live allocations.
 * Quarantined blocks are not live. FL_ERR_INVALID_PARAMETERS for m or fn NULL. */
fl_status fl_memory_report_leaks(fl_memory *m, fl_leak_fn fn, void *user, size_t *count);

/* Checks and releases every quarantined block now (FL_DEBUG_FILL). FL_OK without debug. */
fl_status fl_memory_debug_flush(fl_memory *m);

/* Problems the debug options found since create: overruns and writes after free. */
typedef struct fl_debug_counts {
    uint64_t overruns, writes_after_free;
    uint64_t unrecorded; /* allocations made without a record because the table was full */
} fl_debug_counts;
/* Reads the counts above. FL_ERR_INVALID_PARAMETERS for m or out NULL. */
fl_status fl_memory_debug_counts(fl_memory *m, fl_debug_counts *out);

/* Receives fl_memory_dump_json's text: `length` bytes (not NUL-terminated), in order. */
typedef void (*fl_json_write_fn)(const char *text, size_t length, void *user);

/* The leak report (fl_memory_report_leaks) as one JSON document (docs/json.md, "Leaks"),
 * written like fl_memory_dump_json. FL_ERR_INVALID_PARAMETERS for m or write NULL. */
fl_status fl_memory_dump_leaks_json(fl_memory *m, fl_json_write_fn write, void *user);

/*
 * The whole state of the interface as one JSON document (schema: docs/json.md): global
 * statistics and pressure, every type's statistics and pressure (all eight types, with
 * "present"), the regions (with where their bookkeeping lives), the allocator handles'
 * statistics, the live tagged or relocatable allocations summed by tag, what waiting
 * requests (timeout_ms) and defragmentation did since create (the last fl_defrag_result
 * included). The library never prints: the text is handed to
 * `write` in pieces (not NUL-terminated; `length` bytes each), in order. `write` runs outside
 * the interface's lock; it should not change the interface while the dump is under way.
 * Added beyond API.md. FL_ERR_INVALID_PARAMETERS for m or write NULL.
 */
fl_status fl_memory_dump_json(fl_memory *m, fl_json_write_fn write, void *user);

#ifdef __cplusplus
}
#endif

#endif /* FLIGHT_MEMORY_H */
