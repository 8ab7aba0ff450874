/*
 * The memory interface's internal contract: the control block, regions, counters, and the
 * small door to the platform every file of src/memory/ goes through.
 *
 * Files, one concern each:
 *   memory.c    create/destroy, the layout of regions and metadata, get_regions
 *   profiles.c  the platform profiles (fl_memory_config_default) and config checks
 *   route.c     requests: routing, fallback, reserve, reallocate, deallocate, pointer queries
 *   track.c     exact liveness for linear and stack regions (two bitmaps), mark/rewind
 *   stats.c     statistics reads and fl_memory_validate
 *   pressure.c  levels, callbacks, get_pressure, the OS signal (os_pressure), gc_hint's hook
 *   registry.c  per-allocation records for tagged / relocatable allocations
 *   views.c     the allocator handles of fl_memory_get_allocator
 *   trim.c      fl_memory_trim / gc_hint
 *   sizing.c    the sizing helper
 *   wait.c      requests that wait for memory (timeout_ms): the condition variable
 *   defrag.c    fl_memory_defragment: moving relocatable allocations down
 *   debug.c     debug options: guards, fills, quarantine, call sites, leak reports
 *
 * Locking: with thread_safe, every public entry takes m->lock once and calls the regions'
 * allocators through their ops directly (the allocators are created without locks of
 * their own). Functions named *_locked expect the lock held (or thread_safe false).
 * Pressure callbacks are collected in an fli_pending while the lock is held and run after
 * it is released (fli_pressure_dispatch). A request waiting for memory sleeps on
 * m->space_freed with m->lock; whatever frees memory calls fli_wake_waiters under the lock.
 */
#ifndef FLI_MEMORY_INTERNAL_H
#define FLI_MEMORY_INTERNAL_H

#include "../allocators/allocator.h"

/* Regions: one per memory type, then the emergency reserve (a free list of type System). */
#define FLI_RESERVE ((unsigned)FL_MEMORY_TYPE_COUNT)
#define FLI_REGION_COUNT ((unsigned)FL_MEMORY_TYPE_COUNT + 1u)
/* Pressure levels are kept per type and, at index FL_MEMORY_TYPE_COUNT, for the whole. */
#define FLI_LEVEL_COUNT ((unsigned)FL_MEMORY_TYPE_COUNT + 1u)

/* A pool region is cut into at most this many equal chunks; a table maps each chunk to
 * the class its first byte belongs to, so finding a pointer's class is one load (and one
 * compare when a class boundary falls inside the chunk). */
#define FLI_POOL_CHUNKS 256u
/* Sizes up to FLI_POOL_LUT_STEP * FLI_POOL_LUT find their class in a table. */
#define FLI_POOL_LUT 256u
#define FLI_POOL_LUT_SHIFT 4u
#define FLI_POOL_MIXED 0xFFu /* default_class: look the class up (more than FL_POOL_CLASS_MAX) */
#define FLI_NO_CLASS 0xFFu

/* Region buffers inside backing memory start on this boundary. */
#define FLI_REGION_ALIGN ((size_t)64)

#define FLI_DEFAULT_RECORDS ((size_t)256)

/* ---- the platform door -----------------------------------------------------------------
 * Everything the interface asks of the platform goes through the hooks table it was
 * created with (config.platform, or fl_platform_default()), kept in fl_memory.os, with
 * platform.h's wrappers, which answer for missing hooks. */

typedef struct fli_os {
    const fl_platform_hooks *hooks; /* never NULL */
} fli_os;

static inline size_t fli_os_page_size(const fli_os *os) { return fli_page_size(os->hooks); }
static inline void *fli_os_map(const fli_os *os, size_t size) { return fli_map_pages(os->hooks, size); }
static inline void fli_os_unmap(const fli_os *os, void *pages, size_t size) { fli_unmap_pages(os->hooks, pages, size); }
static inline bool fli_os_can_release(const fli_os *os) { return os->hooks->release_pages != NULL; }
static inline void fli_os_release(const fli_os *os, void *pages, size_t size) { (void)fli_release_pages(os->hooks, pages, size); }
static inline bool fli_os_lock_init(const fli_os *os, fli_lock *lock) { return fli_lock_init(os->hooks, lock); }
static inline void fli_os_lock(const fli_os *os, fli_lock *lock) { fli_lock_acquire(os->hooks, lock); }
static inline void fli_os_unlock(const fli_os *os, fli_lock *lock) { fli_lock_release(os->hooks, lock); }
static inline void fli_os_lock_destroy(const fli_os *os, fli_lock *lock) { fli_lock_destroy(os->hooks, lock); }
static inline uint64_t fli_os_physical_memory(const fli_os *os) { return fli_physical_memory(os->hooks); }
/* The Shared region's memory: an operating-system shared-memory object, mapped shared. */
static inline void *fli_os_shared_map(const fli_os *os, size_t size) { return fli_shared_map(os->hooks, size); }
static inline void fli_os_shared_unmap(const fli_os *os, void *memory, size_t size)
{
    fli_shared_unmap(os->hooks, memory, size);
}

/* ---- counters ----------------------------------------------------------------------- */

/* Exact running statistics of one memory type, or of the whole interface. */
typedef struct fli_tally {
    size_t total; /* what the allocators can hand out; fixed at create */
    size_t used, peak, count;
    uint64_t allocations, deallocations, failed;
    uint64_t requested, consumed;
} fli_tally;

static inline void fli_tally_alloc(fli_tally *t, size_t requested, size_t consumed)
{
    t->used += consumed;
    if (t->used > t->peak) t->peak = t->used;
    t->count++;
    t->allocations++;
    t->requested += requested;
    t->consumed += consumed;
}

static inline void fli_tally_free(fli_tally *t, size_t count, size_t released)
{
    t->used -= released;
    t->count -= count;
    t->deallocations += count;
}

/* ---- regions -------------------------------------------------------------------------- */

typedef struct fli_pool_class {
    fl_allocator *a;
    unsigned char *start; /* the class's buffer; it ends where the next one starts */
    size_t block;         /* block size = stride = what one allocation consumes and may use */
    size_t align;         /* every block's alignment: the largest a request may ask */
} fli_pool_class;

/* Exact liveness in a linear or stack region: one bit per granule where a live allocation
 * starts, one where it ends (track.c). */
typedef struct fli_track {
    size_t *starts, *ends;
    size_t words;           /* of each bitmap */
    uintptr_t origin;       /* address of granule 0 */
    uintptr_t alloc_start;  /* the allocator's first byte: allocations lie in [start, start + used) */
    uintptr_t alloc_end;    /* alloc_start + capacity */
    size_t overhead;        /* header bytes the allocator puts before a payload */
} fli_track;

/* The granule of linear and stack regions: every request is rounded up to it and aligned
 * to at least it, so allocation starts and ends fall on granule boundaries. */
#define FLI_GRANULE (FL_ALIGN_DEFAULT > (size_t)16 ? FL_ALIGN_DEFAULT : (size_t)16)

typedef struct fli_region {
    bool present;
    bool reserve;               /* the emergency reserve */
    uint32_t bit;               /* 1 << its index, for fl_memory.dirty */
    size_t cached_largest;      /* fli_region_largest and _fragmented as of the last read */
    size_t cached_fragmented;
    fl_memory_type type;        /* the reserve: FL_MEMORY_SYSTEM */
    fl_allocator_type strategy;
    fl_memory_flags caps;
    unsigned char *base;        /* [base, base + size): the region's buffer; NULL for the heap */
    size_t size;
    void *mapping;              /* pages to unmap at destroy (NULL with backing memory) */
    size_t mapping_size;
    fl_allocator *a;            /* every strategy but the pool */
    /* pool */
    unsigned class_count;
    unsigned chunk_shift;
    size_t largest_block;
    fli_pool_class cls[FL_POOL_CLASS_MAX];
    uint8_t chunk_class[FLI_POOL_CHUNKS];
    uint8_t size_class[FLI_POOL_LUT]; /* smallest class with block >= ((i + 1) << LUT_SHIFT) */
    /* With the default alignment, the class pool_class_for answers for every size of bucket
     * i (class_count: none), or FLI_POOL_MIXED when the bucket's sizes get different ones:
     * the common request finds its class in one load. */
    uint8_t default_class[FLI_POOL_LUT];
    /* linear and stack */
    fli_track track;
} fli_region;

/* ---- records (registry.c) ---------------------------------------------------------------- */

typedef struct fli_record {
    void *ptr; /* NULL: empty slot */
    size_t size, requested, alignment;
    const char *tag;
    fl_relocate_fn on_relocate;
    void *relocate_user;
    fl_memory_flags flags;
    fl_memory_type type;
    fl_allocator_type allocator;
    const char *file; /* call site (fl_memory_allocate_request_at), or NULL */
    unsigned line;
} fli_record;

/* ---- debug options (debug.c) --------------------------------------------------------------- */

/* A freed block waiting in the quarantine (FL_DEBUG_FILL): still allocated in its region,
 * filled with FL_DEBUG_FREE_BYTE, its record's facts kept for the report. */
typedef struct fli_quarantined {
    void *ptr; /* NULL: empty */
    size_t size, requested;
    const char *tag, *file;
    unsigned line;
    fl_memory_type type;
} fli_quarantined;

/* Debug options are compiled out with FLI_NO_DEBUG (CMake -DFLMEM_DEBUG=OFF): the test
 * is then a constant and every debug branch disappears. */
#if defined(FLI_NO_DEBUG)
#define FLI_DEBUG_ON(m) false
#else
#define FLI_DEBUG_ON(m) FLI_UNLIKELY((m)->debug != 0)
#endif

/* ---- pressure (pressure.c) ---------------------------------------------------------------- */

typedef struct fli_callback {
    uint32_t id; /* 0: free slot */
    fl_pressure_level level;
    fl_pressure_fn fn;
    void *user;
} fli_callback;

typedef struct fli_event {
    fl_pressure_level from;
    fl_pressure_info info;
} fli_event;

/* Rises noticed under the lock, delivered after it (a call changes at most a few levels). */
typedef struct fli_pending {
    unsigned count;
    fli_event events[2u * FLI_LEVEL_COUNT];
} fli_pending;

/* ---- the allocator handles (views.c) ------------------------------------------------------ */

typedef struct fli_view {
    struct fl_allocator base; /* counters: the sum over the strategy's regions */
    fl_memory *m;
} fli_view;

/* ---- the control block ----------------------------------------------------------------- */

struct fl_memory {
    fli_os os;
    bool thread_safe;
    fli_lock lock;
    fl_platform profile;
    size_t max_allocation;
    fl_memory_type fallback[FL_MEMORY_TYPE_COUNT];

    fli_region regions[FLI_REGION_COUNT];
    /* Regions with an address range, in the order deallocate compares them. */
    uint8_t lookup[FLI_REGION_COUNT];
    unsigned lookup_count;
    /* Regions served by the platform heap: ownership asked of their allocator. */
    uint8_t heap_regions[FLI_REGION_COUNT];
    unsigned heap_count;

    fli_tally types[FL_MEMORY_TYPE_COUNT];
    /* The whole interface: capacity, and used bytes and their peak (the peak of the sum is
     * not the sum of the peaks). Its other counters are the types' summed when read. */
    size_t total_capacity, total_used, total_peak;
    size_t reserve_used; /* bytes of the reserve in use (part of types[System].used) */
    /* Statistics reads cache what only the allocators know (each region's largest free
     * block and fragmented bytes) and the global summary; every change marks its region
     * dirty (one OR), and a read recomputes only what changed. */
    uint32_t dirty;
    bool summary_valid;
    fl_memory_stats summary;

    /* pressure: index FL_MEMORY_TYPE_COUNT is the whole interface. budget[i] is the level
     * the used bytes give (with hysteresis, it depends on the way they came: pressure.c);
     * level[i] is what callers see, the higher of it and the OS level. */
    fl_pressure_level level[FLI_LEVEL_COUNT];
    fl_pressure_level budget[FLI_LEVEL_COUNT];
    size_t hysteresis[FLI_LEVEL_COUNT];
    /* The ordinary used bytes for which level[i] stays what it is: [band_lo, band_hi]. A
     * raised level has an empty band, so the next change recomputes it. */
    size_t band_lo[FLI_LEVEL_COUNT], band_hi[FLI_LEVEL_COUNT];
    size_t threshold[FLI_LEVEL_COUNT][4]; /* available bytes at or below which Low.. Critical start */
    size_t pressure_total[FLI_LEVEL_COUNT]; /* capacity ordinary requests can use */
    fli_callback callbacks[FL_PRESSURE_CALLBACK_MAX];
    unsigned callback_count;
    /* The OS pressure signal (pressure.c): each present level is max(budget level,
     * os_sample.level). os_countdown counts changes of used bytes down to the next clock check
     * (it stays huge without os_pressure); os_due_ns is when a sample is next due. */
    bool os_enabled;
    uint32_t os_countdown;
    uint64_t os_interval_ns, os_due_ns;
    fl_os_pressure os_sample;
    uint32_t next_callback_id;

    fli_view views[FL_ALLOCATOR_TYPE_COUNT];

    fli_record *records;
    size_t record_slots; /* a power of two, at least twice record_max */
    size_t record_max, record_count;

    void *control_mapping; /* NULL with backing memory */
    size_t control_size;

    /* Waiting for memory (wait.c). waiters counts threads asleep in fli_wait_locked, so
     * that freeing costs one compare while nobody waits. */
    fli_cond space_freed;
    bool has_cond;         /* space_freed was made: destroy it */
    bool can_wait;         /* thread_safe, a condition variable and a clock */
    size_t waiters;

    /* Defragmentation (defrag.c): the byte copy of external (Video/Audio buddy) regions. */
    fl_copy_fn relocate_copy; /* never NULL */
    void *relocate_copy_user;

    /* What waiting and defragmentation did, for fl_memory_dump_json (json.c); updated
     * under the lock, once per wait or per defragmentation call (nothing on a hot path). */
    uint64_t waited, waited_served, waited_timeouts;
    uint64_t defrag_runs, defrag_allocations, defrag_bytes;
    bool has_last_defrag;
    fl_defrag_result last_defrag;

    /* debug options (debug.c); debug == 0 keeps every path as without them */
    uint32_t debug;
    size_t guard; /* FL_DEBUG_GUARD_BYTES with FL_DEBUG_GUARDS, else 0 */
    fl_debug_report_fn debug_report;
    void *debug_user;
    uint64_t debug_overruns, debug_writes_after_free, debug_unrecorded;
    unsigned quarantine_next;
    fli_quarantined quarantine[FL_DEBUG_QUARANTINE];
};

/* ---- shared internal functions ---------------------------------------------------------- */

static inline void fli_mem_lock(fl_memory *m)
{
    if (m->thread_safe) fli_os_lock(&m->os, &m->lock);
}

static inline void fli_mem_unlock(fl_memory *m)
{
    if (m->thread_safe) fli_os_unlock(&m->os, &m->lock);
}

/* The calling thread's last error message, copied (to quote it in a new one). */
#define FLI_WHY_BYTES 160
static inline void fli_copy_message(char *why)
{
    const char *msg = fl_last_error()->message;
    size_t n = 0;
    while (msg[n] != '\0' && n + 1 < FLI_WHY_BYTES) {
        why[n] = msg[n];
        n++;
    }
    why[n] = '\0';
}

/* Counts one allocation served by region r everywhere: its type, the whole interface, its
 * strategy's handle, and the reserve. Plain adds. */
static inline void fli_account_alloc(fl_memory *m, const fli_region *r, size_t requested, size_t consumed)
{
    fli_tally_alloc(&m->types[r->type], requested, consumed);
    m->total_used += consumed;
    if (m->total_used > m->total_peak) m->total_peak = m->total_used;
    fli_count_allocation(&m->views[r->strategy].base.counters, requested, consumed);
    if (FLI_UNLIKELY(r->reserve)) m->reserve_used += consumed;
    m->dirty |= r->bit;
}

/* Counts `count` allocations of region r freed, giving `released` bytes back. */
static inline void fli_account_free(fl_memory *m, const fli_region *r, size_t count, size_t released)
{
    fli_tally_free(&m->types[r->type], count, released);
    m->total_used -= released;
    fli_count_bulk_release(&m->views[r->strategy].base.counters, count, released);
    if (FLI_UNLIKELY(r->reserve)) m->reserve_used -= released;
    m->dirty |= r->bit;
}

/* Records the table holds: max_records, or its default (larger with debug options, which
 * record every allocation). */
static inline size_t fli_max_records(const fl_memory_config *cfg)
{
    if (cfg->max_records) return cfg->max_records;
    return cfg->debug ? FL_DEBUG_RECORDS : FLI_DEFAULT_RECORDS;
}

/* profiles.c */
fl_allocator_type fli_default_strategy(fl_memory_type type);
fl_status fli_check_config(const fl_memory_config *cfg);

/* route.c: the region that owns ptr (an address range compare, or the heap regions'
 * ownership table), or NULL. *cls gets the pool class (FLI_NO_CLASS for other strategies). */
fli_region *fli_region_of(fl_memory *m, const void *ptr, unsigned *cls);
/* Usable size of the live allocation at ptr in region r; FL_ERR_INVALID_PARAMETERS when
 * ptr does not start one. */
fl_status fli_live_size(fl_memory *m, fli_region *r, unsigned cls, const void *ptr, size_t *size);

/* Restricted routing used by the allocator handles: only regions of `strategy`. */
fl_status fli_route_strategy(fl_memory *m, fl_allocator_type strategy, size_t size, size_t alignment,
                             void **out);
fl_status fli_free_strategy(fl_memory *m, fl_allocator_type strategy, void *ptr);

/* track.c */
size_t fli_track_bytes(size_t region_size);
/* Sets the tracker of a fresh allocator up over zeroed storage of fli_track_bytes(region_size). */
void fli_track_init(fli_track *t, size_t *storage, size_t region_size, const fl_allocator *a);
static inline size_t fli_track_index(const fli_track *t, const void *p)
{
    return (size_t)(((uintptr_t)p - t->origin) / FLI_GRANULE);
}
static inline bool fli_track_live(const fli_track *t, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (a < t->alloc_start || a >= t->alloc_end || (a & (FLI_GRANULE - 1)) != 0) return false;
    size_t i = fli_track_index(t, p);
    return (t->starts[i / FLI_SIZE_BITS] >> (i % FLI_SIZE_BITS)) & 1u;
}
/* Sets the start bit of an allocation at p and the end bit of its last granule (inline:
 * every linear and stack allocation and free runs these). */
static inline void fli_track_mark(fli_track *t, const void *p, size_t size)
{
    size_t i = fli_track_index(t, p), j = fli_track_index(t, (const unsigned char *)p + size - 1);
    t->starts[i / FLI_SIZE_BITS] |= (size_t)1 << (i % FLI_SIZE_BITS);
    t->ends[j / FLI_SIZE_BITS] |= (size_t)1 << (j % FLI_SIZE_BITS);
}
static inline void fli_track_forget(fli_track *t, const void *p)
{
    size_t i = fli_track_index(t, p);
    t->starts[i / FLI_SIZE_BITS] &= ~((size_t)1 << (i % FLI_SIZE_BITS));
}
size_t fli_track_size(const fli_track *t, const void *p);
/* Clears every bit in [from, to) (addresses); returns how many starts were set. */
size_t fli_track_release(fli_track *t, uintptr_t from, uintptr_t to);
/* True when `at` lies strictly inside a live allocation (a marker there would cut it). */
bool fli_track_splits(const fli_track *t, uintptr_t at);
/* For a stack region: true when `mark` (below the top) is exactly a state of this stack. */
bool fli_track_stack_marker_ok(const fli_track *t, fl_marker mark);
/* For a linear region: false when `mark` counts fewer allocations than are live below it. */
bool fli_track_linear_count_ok(const fli_track *t, fl_marker mark);
size_t fli_track_count(const fli_track *t);
size_t fli_region_used(const fli_region *r);
size_t fli_region_largest(const fli_region *r);
size_t fli_region_capacity(const fli_region *r);
/* Bulk release of a linear/stack region back to `mark` ({0}: all) with every counter,
 * record and level updated. */
fl_status fli_rewind_locked(fl_memory *m, fli_region *r, fl_marker mark, fli_pending *pending);
/* Bulk release of any region (the handles' reset). */
void fli_reset_region_locked(fl_memory *m, fli_region *r, fli_pending *pending);

/* stats.c */
void fli_fill_stats(const fl_memory *m, const fli_tally *t, size_t largest, size_t fragmented, fl_memory_stats *out);
/* Free bytes of region r that are not in its largest free block (0 for pools). */
size_t fli_region_fragmented(const fli_region *r);

/* pressure.c */
void fli_pressure_setup(fl_memory *m, const fl_memory_config *cfg);
void fli_pressure_recompute(fl_memory *m, unsigned index, fli_pending *pending);
/* Every FLI_OS_CHECK_EVERY changes of used bytes: samples the OS if its interval passed. */
#define FLI_OS_CHECK_EVERY 64u
void fli_pressure_os_tick(fl_memory *m, fli_pending *pending);
/* fl_memory_gc_hint's part: a fresh OS sample (with os_pressure), then the platform's hook. */
void fli_pressure_gc_hint(fl_memory *m);
/* After a type's used bytes changed: its level and the whole interface's, two compares each
 * while they stay inside their bands. */
static inline void fli_pressure_update(fl_memory *m, fl_memory_type type, fli_pending *pending)
{
    size_t used = m->types[type].used - (type == FL_MEMORY_SYSTEM ? m->reserve_used : 0);
    if (FLI_UNLIKELY(used < m->band_lo[type] || used > m->band_hi[type])) fli_pressure_recompute(m, type, pending);
    used = m->total_used - m->reserve_used;
    if (FLI_UNLIKELY(used < m->band_lo[FL_MEMORY_TYPE_COUNT] || used > m->band_hi[FL_MEMORY_TYPE_COUNT]))
        fli_pressure_recompute(m, FL_MEMORY_TYPE_COUNT, pending);
    if (FLI_UNLIKELY(--m->os_countdown == 0)) fli_pressure_os_tick(m, pending);
}
void fli_pressure_raise(fl_memory *m, fl_memory_type type, fli_pending *pending);
void fli_pressure_dispatch(fl_memory *m, fli_pending *pending);
/* The pressure state's invariants, for fl_memory_validate. */
fl_status fli_pressure_validate(const fl_memory *m);
void fli_pressure_info(const fl_memory *m, unsigned index, fl_pressure_info *out);

/* registry.c */
size_t fli_registry_slots(size_t max_records);
fli_record *fli_registry_find(fl_memory *m, const void *ptr);
fli_record *fli_registry_insert(fl_memory *m, void *ptr);
void fli_registry_remove(fl_memory *m, const void *ptr);
void fli_registry_remove_range(fl_memory *m, uintptr_t from, uintptr_t to);
void fli_registry_remove_region(fl_memory *m, const fli_region *r);
fl_status fli_registry_validate(fl_memory *m);

/* debug.c (called only when FLI_DEBUG_ON(m)) */
/* A request as served: records it (every allocation gets one while room is left), writes
 * the fill and the guard. Under the lock. */
void fli_debug_fresh(fl_memory *m, const fli_region *r, void *ptr, size_t requested, size_t usable,
                     fl_memory_flags flags, bool has_record);
/* Before ptr (live in region r) is freed: checks its guard; with FL_DEBUG_FILL moves it to
 * the quarantine and returns true (the caller then frees nothing: a block leaving the
 * quarantine is freed through fli_debug_release). Refuses quarantined pointers (double
 * free): *st gets the failure and true is returned. Under the lock. */
bool fli_debug_on_free(fl_memory *m, fli_region *r, unsigned cls, void *ptr, fl_status *st, fli_pending *pending);
/* Keeps the call site in ptr's record, if it has one. */
void fli_debug_set_site(fl_memory *m, void *ptr, const char *file, unsigned line);
/* What a caller sees of the live block at ptr whose allocator size is *size: with guards,
 * the request (*size lowered); a quarantined ptr is refused (freed). */
fl_status fli_debug_shown(fl_memory *m, const void *ptr, size_t *size);
/* Is ptr in the quarantine (a freed pointer)? */
bool fli_debug_quarantined(const fl_memory *m, const void *ptr);
/* Guards and quarantine fills of everything live, for fl_memory_validate. */
fl_status fli_debug_validate(fl_memory *m);
/* A region's blocks are released in bulk: forget its quarantined blocks. */
void fli_debug_forget_region(fl_memory *m, const fli_region *r);
/* fl_memory_destroy: the leak report (FL_DEBUG_LEAKS_AT_DESTROY). */
void fli_debug_destroy(fl_memory *m);
/* The interface's free of one block, debug hooks aside (route.c). */
fl_status fli_free_block_locked(fl_memory *m, fli_region *r, unsigned cls, void *ptr, fli_pending *pending);

/* views.c */
void fli_views_init(fl_memory *m);

/* wait.c: set up at create (after the lock), torn down at destroy. */
void fli_wait_setup(fl_memory *m);
void fli_wait_teardown(fl_memory *m);
typedef struct fli_deadline {
    uint64_t at_ns; /* on the platform's now_ns clock */
} fli_deadline;
void fli_wait_start(const fl_memory *m, uint32_t timeout_ms, fli_deadline *d);
/* Sleeps (lock held, released while asleep) until woken or the deadline; true when woken
 * before it (the caller retries, then waits again), false once the deadline has passed. */
bool fli_wait_locked(fl_memory *m, const fli_deadline *d);
void fli_wake_all(fl_memory *m);
/* After memory came back (lock held): wakes the waiting requests, if there are any. */
static inline void fli_wake_waiters(fl_memory *m)
{
    if (FLI_UNLIKELY(m->waiters != 0)) fli_wake_all(m);
}

/* defrag.c */
void fli_defrag_setup(fl_memory *m, const fl_memory_config *cfg);
/* Moves the live allocation at ptr of region r (free list or buddy) down as the
 * allocator's relocate does, bytes, counters, record, pressure and waiters included (lock
 * held); *out = ptr when it stays. FL_ERR_INVALID_PARAMETERS when ptr starts no live
 * allocation of r. Calls no callback. */
fl_status fli_relocate_locked(fl_memory *m, fli_region *r, void *ptr, void **out, fli_pending *pending);

/* src/allocators/buddy.c: an external buddy's relocate without the byte copy (the old
 * block keeps the bytes; the caller copies the usable size from old to *out). */
fl_status fli_buddy_relocate_external(fl_allocator *a, void *ptr, void **out);

#endif /* FLI_MEMORY_INTERNAL_H */
