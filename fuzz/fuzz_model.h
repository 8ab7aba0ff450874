/*
 * What every allocator fuzz target shares (fuzz/fuzz_<allocator>.c): the input reader, the
 * reference model of live blocks, the operation driver and every check.
 *
 * A target decodes its configuration from the first input bytes, creates the allocator
 * and hands the rest of the input to fz_run(). Each following byte picks an operation
 * (allocate with decoded sizes and alignments, hostile ones included; free of live,
 * freed, interior and foreign pointers; usable_size; owns; reset; mark and rewind with
 * true, stale and forged markers; walk; stats; relocate, the defragmentation primitive)
 * whose arguments come from the next bytes.
 * Before a call the target's oracle (an fz_target) says what the call must return, from
 * the model and the contract the allocator's header comment states; after it the driver
 * checks, and after EVERY step it runs fl_allocator_validate and compares the statistics
 * with the model exactly. A mismatch prints what happened (the check, the library's last
 * error and the last operations) and ends in __builtin_trap(), which libFuzzer reports as
 * a crash.
 *
 * Memory checks beyond the model, under AddressSanitizer: every live block's usable bytes
 * are poisoned while the allocator runs (the driver unpoisons them only to write or check
 * its pattern), so an allocator that reads or writes a live block's payload is reported
 * on the spot. A target may also keep all of its managed memory poisoned (the buddy's
 * external mode, which promises never to touch it). Poison is lifted before memory goes
 * back (free, reset, rewind, destroy), so no stale poison outlives a block.
 *
 * The model (fz_model) keeps the live blocks sorted by address: overlap checks and
 * pointer classification are binary searches. For linear and stack, address order is
 * allocation order. A block's `begin` is the allocator's used_bytes before it (the top,
 * where its padding starts, for linear and stack), `consumed` the used_bytes it added.
 *
 * Reproduce a failure: run the fuzzer binary with the crashing file as its argument;
 * FLMEM_FUZZ_VERBOSE=1 prints every operation as it runs (fuzz/README.md).
 */
#ifndef FLMEM_FUZZ_MODEL_H
#define FLMEM_FUZZ_MODEL_H

#include <flight/memory.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(FZ_ASAN)
#define FZ_ASAN 1
#endif
#if defined(FZ_ASAN)
#include <sanitizer/asan_interface.h>
#define FZ_POISON(p, n) __asan_poison_memory_region((const volatile void *)(p), (n))
#define FZ_UNPOISON(p, n) __asan_unpoison_memory_region((const volatile void *)(p), (n))
#else
#define FZ_POISON(p, n) ((void)(p), (void)(n))
#define FZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define FZ_MAX_STEPS 4096u /* operations per input */
#define FZ_TRACE 24u       /* operations printed when a check fails */
#define FZ_GRAVE 16u       /* recently freed pointers kept for double frees */
#define FZ_MARKERS 8u      /* markers kept for (stale) rewinds */
#define FZ_WORD sizeof(size_t)
#define FZ_SKIP (-1) /* an oracle cannot tell what the call would do: it is not made */

/* What failed calls must leave in their out-parameters: nothing written. */
#define FZ_PTR_UNTOUCHED ((void *)(uintptr_t)0x5A5A5A50u)
#define FZ_SIZE_UNTOUCHED ((size_t)0x5A5A5A5Au)

/* ---- input ------------------------------------------------------------------------------ */

/* Reads past the end give zeroes, so every input is a complete program. */
typedef struct fz_input {
    const uint8_t *data;
    size_t size, pos;
} fz_input;

static inline bool fz_more(const fz_input *in) { return in->pos < in->size; }
static inline uint8_t fz_u8(fz_input *in) { return in->pos < in->size ? in->data[in->pos++] : 0; }
static inline uint16_t fz_u16(fz_input *in)
{
    uint16_t lo = fz_u8(in);
    return (uint16_t)(lo | (uint16_t)(fz_u8(in) << 8));
}
static inline uint32_t fz_u32(fz_input *in)
{
    uint32_t lo = fz_u16(in);
    return lo | (uint32_t)fz_u16(in) << 16;
}
static inline uint64_t fz_u64(fz_input *in)
{
    uint64_t lo = fz_u32(in);
    return lo | (uint64_t)fz_u32(in) << 32;
}

/* ---- trace and failure ---------------------------------------------------------------------- */

typedef struct fz_event {
    unsigned step;
    const char *what;
    uintptr_t p;
    size_t x, y;
    int expected, got; /* fl_status values; FZ_SKIP when not called, -2 when not a status */
} fz_event;

static fz_event fz_trace[FZ_TRACE];
static unsigned fz_trace_count;
static int fz_verbose_flag = -1;

static inline const char *fz_status_name(int s)
{
    if (s == FZ_SKIP) return "skipped";
    if (s < 0) return "-";
    return fl_status_str((fl_status)s);
}

static inline void fz_print_event(const fz_event *e)
{
    fprintf(stderr, "    step %u: %-22s p=%p x=%zu y=%zu expected %s, got %s\n", e->step, e->what, (void *)e->p,
            e->x, e->y, fz_status_name(e->expected), fz_status_name(e->got));
}

static inline void fz_record(unsigned step, const char *what, uintptr_t p, size_t x, size_t y, int expected, int got)
{
    fz_event *e = &fz_trace[fz_trace_count++ % FZ_TRACE];
    e->step = step;
    e->what = what;
    e->p = p;
    e->x = x;
    e->y = y;
    e->expected = expected;
    e->got = got;
    if (fz_verbose_flag < 0) fz_verbose_flag = getenv("FLMEM_FUZZ_VERBOSE") != NULL;
    if (fz_verbose_flag) fz_print_event(e);
}

__attribute__((noreturn, format(printf, 3, 4))) static inline void fz_fail(const char *file, int line,
                                                                           const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    fprintf(stderr, "\n==== flight-memory fuzz: the allocator disagrees with the model (%s:%d)\n    ", file, line);
    vfprintf(stderr, format, ap);
    va_end(ap);
    const fl_error *e = fl_last_error();
    fprintf(stderr, "\n    library's last error: %s: %s\n    last operations, oldest first:\n",
            fl_status_str(e->category), e->message);
    unsigned n = fz_trace_count < FZ_TRACE ? fz_trace_count : FZ_TRACE;
    for (unsigned i = fz_trace_count - n; i != fz_trace_count; i++) fz_print_event(&fz_trace[i % FZ_TRACE]);
    fflush(stderr);
    __builtin_trap();
}

#define FZ_CHECK(cond, ...)                                                                     \
    do {                                                                                        \
        if (!(cond)) fz_fail(__FILE__, __LINE__, __VA_ARGS__);                                  \
    } while (0)

/* ---- the reference model ------------------------------------------------------------------ */

typedef struct fz_block {
    uintptr_t ptr;
    size_t size;     /* requested */
    size_t usable;   /* what usable_size said at allocate: the pattern covers all of it */
    size_t consumed; /* what used_bytes grew by */
    size_t begin;    /* used_bytes before it (linear, stack: the offset its padding starts at) */
    uint64_t id;
    bool zombie; /* linear: freed by the caller, still counted until reset or rewind */
    size_t alignment; /* the request's, resolved (0 -> FL_ALIGN_DEFAULT) */
} fz_block;

typedef struct fz_model {
    fz_block *blocks; /* sorted by ptr */
    size_t count, cap;
    size_t used, peak;
    uint64_t total_allocations, total_deallocations, failed_allocations;
    uint64_t requested, consumed; /* since create or the last reset */
    uint64_t next_id;
} fz_model;

/* First block at or above p. */
static inline size_t fz_lower_bound(const fz_model *m, uintptr_t p)
{
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->blocks[mid].ptr < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The live block starting exactly at p, or -1. */
static inline long fz_find(const fz_model *m, uintptr_t p)
{
    size_t i = fz_lower_bound(m, p);
    return i < m->count && m->blocks[i].ptr == p ? (long)i : -1;
}

/* The pattern loops run over every live byte: libFuzzer's comparison tracing there would
 * cost most of the run and tell it nothing about the allocator. */
#if defined(__clang__)
#define FZ_NO_COVERAGE __attribute__((noinline, no_sanitize("coverage")))
#else
#define FZ_NO_COVERAGE
#endif

static inline uint8_t fz_pattern_byte(uint64_t id, size_t i)
{
    return (uint8_t)(((id * 131u) ^ (id >> 7)) + i * 7u + (i >> 8)) ^ 0x5Au;
}

FZ_NO_COVERAGE static void fz_fill(const fz_block *b)
{
    unsigned char *p = (unsigned char *)b->ptr;
    FZ_UNPOISON(p, b->usable);
    for (size_t i = 0; i < b->usable; i++) p[i] = fz_pattern_byte(b->id, i);
    FZ_POISON(p, b->usable);
}

/* Index of the first byte of b that breaks its pattern, or b->usable. */
FZ_NO_COVERAGE static size_t fz_first_bad_byte(const fz_block *b)
{
    const unsigned char *p = (const unsigned char *)b->ptr;
    size_t i = 0;
    while (i < b->usable && p[i] == fz_pattern_byte(b->id, i)) i++;
    return i;
}

static inline void fz_verify(const fz_block *b, const char *when)
{
    const unsigned char *p = (const unsigned char *)b->ptr;
    FZ_UNPOISON(p, b->usable);
    size_t i = fz_first_bad_byte(b);
    FZ_CHECK(i == b->usable,
             "%s: block %llu at %p (size %zu, usable %zu): byte %zu is 0x%02x, the pattern says 0x%02x", when,
             (unsigned long long)b->id, (void *)b->ptr, b->size, b->usable, i, i < b->usable ? p[i] : 0u,
             fz_pattern_byte(b->id, i));
    FZ_POISON(p, b->usable);
}

/* ---- targets and the driver's context ---------------------------------------------------------- */

typedef struct fz_ctx fz_ctx;

/* What an allocate must do. On FL_OK: used_bytes grows by a value in [consumed_min,
 * consumed_max]; ptr and usable are exact when non-zero. */
typedef struct fz_expect {
    fl_status status;
    size_t consumed_min, consumed_max;
    uintptr_t ptr;
    size_t usable;
} fz_expect;

static inline fz_expect fz_expect_status(fl_status s)
{
    fz_expect e = {s, 0, 0, 0, 0};
    return e;
}

static inline fz_expect fz_expect_ok(size_t consumed_min, size_t consumed_max, uintptr_t ptr, size_t usable)
{
    fz_expect e = {FL_OK, consumed_min, consumed_max, ptr, usable};
    return e;
}

typedef enum fz_effect {
    FZ_NONE,   /* nothing changes */
    FZ_REMOVE, /* the block at *index is freed */
    FZ_ZOMBIE  /* linear: the block at *index stays counted, the caller gave it up */
} fz_effect;

typedef enum fz_frag {
    FZ_FRAG_DEFAULT, /* 1 - largest_free / free_bytes */
    FZ_FRAG_ZERO,
    FZ_FRAG_FREELIST /* 1 - (largest_free + W) / free_bytes */
} fz_frag;

/* One allocator's oracle. `live` is the model index of the block starting at p, or -1. */
typedef struct fz_target {
    const char *name;
    fl_allocator_type type;
    bool in_area;        /* blocks lie in [area_lo, area_hi); owns() is area membership */
    bool address_order;  /* walk reports blocks in address order, tiling the area */
    bool walk_per_block; /* one used walk block per live allocation (linear: one used span) */
    fz_frag frag;
    size_t overhead; /* allocation_overhead */
    bool defrag;     /* supports_defrag: the type relocates and the memory is in-band */
    /* Called with size > 0 and a resolved alignment (a power of two <= FL_ALIGN_MAX). */
    fz_expect (*expect_allocate)(const fz_ctx *c, size_t size, size_t alignment);
    fl_status (*expect_free)(const fz_ctx *c, uintptr_t p, long live, fz_effect *effect, long *index);
    fl_status (*expect_usable)(const fz_ctx *c, uintptr_t p, long live, size_t *value);
    bool (*largest_free_ok)(const fz_ctx *c, size_t largest);
    /* After create, before the first check: learns and checks the geometry (capacity and
     * area are known). May be NULL. */
    void (*learn)(fz_ctx *c);
    /* After a walk (c->walked sorted by address, c->stats current): what only the blocks
     * themselves can confirm, e.g. largest_free_block against the largest free block.
     * May be NULL. */
    void (*check_walk)(const fz_ctx *c);
    void (*check_block)(const fz_ctx *c, const fz_block *b); /* placement rules; may be NULL */
    /* Markers (linear, stack); NULL for the others (mark {0}, rewind NOT_SUPPORTED). */
    fl_marker (*expect_mark)(const fz_ctx *c);
    /* Status or FZ_SKIP; *reads_payload when rewind may legitimately read words inside
     * live blocks to judge the marker (the stack's best-effort check of stale offsets). */
    int (*expect_rewind)(const fz_ctx *c, fl_marker m, size_t *keep, bool *reads_payload);
} fz_target;

typedef struct fz_walked {
    uintptr_t at;
    size_t size;
    bool used;
} fz_walked;

struct fz_ctx {
    const fz_target *t;
    fl_allocator *a;
    fz_input in;
    fz_model m;
    fl_allocator_stats stats; /* after the last step: what the next operation starts from */
    const char *name;         /* the name create was given (NULL: the type's) */
    uintptr_t area_lo, area_hi;
    size_t capacity;
    uintptr_t control; /* the allocator's control block: never one of its blocks */
    bool last_known;   /* linear: its last allocation can be freed for real */
    bool keep_all_poisoned; /* the driver never unpoisons memory the allocator gets back */
    uintptr_t grave[FZ_GRAVE];
    unsigned grave_count;
    fl_marker markers[FZ_MARKERS];
    unsigned marker_count;
    fz_walked *walked;
    size_t walked_count, walked_cap;
    unsigned step;
};

static inline const fz_block *fz_top(const fz_ctx *c) { return c->m.count ? &c->m.blocks[c->m.count - 1] : NULL; }

static inline void fz_grave_add(fz_ctx *c, uintptr_t p) { c->grave[c->grave_count++ % FZ_GRAVE] = p; }

static inline void fz_model_insert(fz_ctx *c, const fz_block *b)
{
    fz_model *m = &c->m;
    size_t i = fz_lower_bound(m, b->ptr);
    if (i > 0) {
        const fz_block *prev = &m->blocks[i - 1];
        FZ_CHECK(b->ptr - prev->ptr >= prev->usable,
                 "new block %p (%zu usable bytes) overlaps live block %llu at %p (%zu usable bytes)", (void *)b->ptr,
                 b->usable, (unsigned long long)prev->id, (void *)prev->ptr, prev->usable);
    }
    if (i < m->count) {
        const fz_block *next = &m->blocks[i];
        FZ_CHECK(next->ptr > b->ptr && next->ptr - b->ptr >= b->usable,
                 "new block %p (%zu usable bytes) overlaps live block %llu at %p", (void *)b->ptr, b->usable,
                 (unsigned long long)next->id, (void *)next->ptr);
    }
    if (m->count == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->blocks = (fz_block *)realloc(m->blocks, m->cap * sizeof *m->blocks);
        if (m->blocks == NULL) abort();
    }
    memmove(&m->blocks[i + 1], &m->blocks[i], (m->count - i) * sizeof *m->blocks);
    m->blocks[i] = *b;
    m->count++;
}

/* Forgets blocks [from, from + n): they died through a free or a bulk release. */
static inline void fz_model_drop(fz_ctx *c, size_t from, size_t n)
{
    fz_model *m = &c->m;
    if (n == 0) return;
    for (size_t i = from; i < from + n; i++) {
        m->used -= m->blocks[i].consumed;
        fz_grave_add(c, m->blocks[i].ptr);
    }
    memmove(&m->blocks[from], &m->blocks[from + n], (m->count - from - n) * sizeof *m->blocks);
    m->count -= n;
    m->total_deallocations += n;
}

/* The memory of blocks [from, from + n) goes back to the allocator. */
static inline void fz_give_back(const fz_ctx *c, size_t from, size_t n)
{
    for (size_t i = from; i < from + n; i++) {
        const fz_block *b = &c->m.blocks[i];
        fz_verify(b, "before the allocator takes it back");
        if (!c->keep_all_poisoned) FZ_UNPOISON(b->ptr, b->usable);
    }
}

/* ---- decoding hostile arguments --------------------------------------------------------------- */

static inline size_t fz_size(fz_ctx *c)
{
    fz_input *in = &c->in;
    size_t cap = c->capacity;
    switch (fz_u8(in) % 16) {
    case 0: return 0;
    case 1:
    case 2:
    case 3: return 1u + fz_u8(in) % 64u;
    case 4:
    case 5: return 1u + fz_u16(in) % 512u;
    case 6: return 1u + fz_u16(in) % 8192u;
    case 7: return 1u + (size_t)(fz_u32(in) % (cap < UINT32_MAX ? (uint32_t)cap : UINT32_MAX));
    case 8: {
        size_t d = fz_u8(in);
        return cap > d ? cap - d : 1u;
    }
    case 9: return cap + fz_u8(in);
    case 10: return SIZE_MAX - fz_u8(in);
    case 11: return SIZE_MAX / 2 - 128u + fz_u8(in);
    case 12: {
        size_t v = (size_t)1 << (fz_u8(in) % (sizeof(size_t) * 8u));
        unsigned k = fz_u8(in) % 3u;
        return k == 0 ? v - 1u : k == 1 ? v : v + 1u;
    }
    case 13: return c->stats.largest_free_block + fz_u8(in) % 5u - 2u; /* may wrap: hostile too */
    case 14: return (size_t)fz_u64(in);
    default: return c->stats.free_bytes + fz_u8(in) % 5u - 2u;
    }
}

/* 0, powers of two up to FL_ALIGN_MAX, and the bad ones: above it, not powers of two. */
static inline size_t fz_alignment(fz_input *in)
{
    switch (fz_u8(in) % 16) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5: return 0;
    case 6:
    case 7:
    case 8: return (size_t)1 << (fz_u8(in) % 6u);
    case 9:
    case 10: return (size_t)1 << (fz_u8(in) % 17u);
    case 11: return (size_t)1 << (17u + fz_u8(in) % (sizeof(size_t) * 8u - 17u));
    case 12: {
        size_t v = 3u + fz_u8(in) % 253u;
        return (v & (v - 1)) == 0 ? v + 1u : v;
    }
    case 13: return ((size_t)fz_u32(in) << 1) | 3u; /* odd and >= 3 */
    case 14: return SIZE_MAX - fz_u8(in);
    default: return fz_u8(in) & 1u ? FL_ALIGN_MAX : 2u * FL_ALIGN_MAX;
    }
}

static const unsigned char fz_foreign_object[64];

/* A pointer to probe free/usable_size/owns with: live, interior, one past, freed, inside
 * the area at random, just outside it, the control block, foreign, wild. Every kind reads
 * the same bytes whatever the model holds: [kind] [u16 block index] [kind's argument]. */
static inline uintptr_t fz_probe(fz_ctx *c)
{
    fz_input *in = &c->in;
    unsigned kind = fz_u8(in) % 13u;
    uint16_t pick = fz_u16(in);
    const fz_block *b = c->m.count ? &c->m.blocks[pick % c->m.count] : NULL;
    switch (kind) {
    case 0: return b ? b->ptr : c->area_lo;
    case 1: {
        uint16_t into = fz_u16(in);
        return b ? b->ptr + (b->usable > 1 ? 1u + into % (b->usable - 1u) : 1u) : c->area_lo + 1u;
    }
    case 2: return b ? b->ptr + b->usable : c->area_hi;
    case 3: return c->grave[fz_u8(in) % FZ_GRAVE]; /* 0 while the slot is unused */
    case 4: {
        uint32_t at = fz_u32(in);
        return c->area_lo + (c->capacity ? at % c->capacity : 0u);
    }
    case 5: return c->area_lo - 1u - fz_u8(in);
    case 6: return c->area_hi + fz_u8(in);
    case 7: return c->control;
    case 8: return (uintptr_t)&fz_foreign_object[fz_u8(in) % sizeof fz_foreign_object];
    case 9: return (uintptr_t)fz_u64(in);
    case 10: return UINTPTR_MAX - fz_u8(in);
    case 11: {
        size_t back = FZ_WORD * (1u + fz_u8(in) % 4u);
        return b ? b->ptr - back : c->area_lo;
    }
    default: {
        size_t ahead = FZ_WORD * (1u + fz_u8(in) % 4u);
        return b ? b->ptr + ahead : c->area_lo + FZ_WORD;
    }
    }
}

/* ---- checks after every step ------------------------------------------------------------------- */

static inline void fz_check_stats(fz_ctx *c)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(c->a, &s);
    const fz_model *m = &c->m;
    FZ_CHECK(s.total_capacity == c->capacity, "capacity changed from %zu to %zu", c->capacity, s.total_capacity);
    FZ_CHECK(s.used_bytes + s.free_bytes == s.total_capacity && s.used_bytes <= s.total_capacity,
             "used %zu + free %zu != capacity %zu", s.used_bytes, s.free_bytes, s.total_capacity);
    FZ_CHECK(s.used_bytes == m->used, "used_bytes %zu, the model has %zu", s.used_bytes, m->used);
    FZ_CHECK(s.allocation_count == m->count, "allocation_count %zu, the model has %zu live blocks",
             s.allocation_count, m->count);
    FZ_CHECK(s.peak_used_bytes == m->peak, "peak_used_bytes %zu, the model's peak is %zu", s.peak_used_bytes, m->peak);
    FZ_CHECK(s.total_allocations == m->total_allocations && s.total_deallocations == m->total_deallocations &&
                 s.failed_allocations == m->failed_allocations,
             "lifetime counters %llu/%llu/%llu (allocations/deallocations/failed), the model's %llu/%llu/%llu",
             (unsigned long long)s.total_allocations, (unsigned long long)s.total_deallocations,
             (unsigned long long)s.failed_allocations, (unsigned long long)m->total_allocations,
             (unsigned long long)m->total_deallocations, (unsigned long long)m->failed_allocations);
    FZ_CHECK(s.allocation_overhead == c->t->overhead, "allocation_overhead %zu, expected %zu", s.allocation_overhead,
             c->t->overhead);
    FZ_CHECK(s.largest_free_block <= s.free_bytes, "largest free block %zu exceeds the free bytes %zu",
             s.largest_free_block, s.free_bytes);
    FZ_CHECK(c->t->largest_free_ok(c, s.largest_free_block), "largest_free_block %zu is wrong (used %zu of %zu)",
             s.largest_free_block, s.used_bytes, s.total_capacity);
    double frag = 0.0;
    if (c->t->frag == FZ_FRAG_DEFAULT && s.free_bytes)
        frag = 1.0 - (double)s.largest_free_block / (double)s.free_bytes;
    if (c->t->frag == FZ_FRAG_FREELIST && s.free_bytes && s.largest_free_block)
        frag = 1.0 - (double)(s.largest_free_block + FZ_WORD) / (double)s.free_bytes;
    if (frag < 0.0) frag = 0.0;
    FZ_CHECK(s.fragmentation_ratio == frag && frag <= 1.0, "fragmentation %.17g, expected %.17g",
             s.fragmentation_ratio, frag);
    double eff = m->consumed ? (double)m->requested / (double)m->consumed : 1.0;
    FZ_CHECK(s.allocation_efficiency == eff && eff <= 1.0, "efficiency %.17g, expected %.17g (%llu / %llu)",
             s.allocation_efficiency, eff, (unsigned long long)m->requested, (unsigned long long)m->consumed);
    FZ_CHECK(s.supports_defrag == c->t->defrag, "supports_defrag is %d, expected %d", (int)s.supports_defrag,
             (int)c->t->defrag);
    c->stats = s;
}

static inline void fz_after_step(fz_ctx *c)
{
    fl_status v = fl_allocator_validate(c->a);
    FZ_CHECK(v == FL_OK, "validate returned %s after step %u", fl_status_str(v), c->step);
    fz_check_stats(c);
}

static void fz_walk_collect(const void *block, size_t size, bool used, void *user)
{
    fz_ctx *c = (fz_ctx *)user;
    if (c->walked_count == c->walked_cap) {
        c->walked_cap = c->walked_cap ? 2 * c->walked_cap : 256;
        c->walked = (fz_walked *)realloc(c->walked, c->walked_cap * sizeof *c->walked);
        if (c->walked == NULL) abort();
    }
    fz_walked w = {(uintptr_t)block, size, used};
    c->walked[c->walked_count++] = w;
}

static int fz_walked_order(const void *x, const void *y)
{
    uintptr_t a = ((const fz_walked *)x)->at, b = ((const fz_walked *)y)->at;
    return a < b ? -1 : a > b;
}

/* The walk agrees with the model: blocks inside the area, in order and tiling it when the
 * allocator says so, used sizes summing to used_bytes, every live block inside a used walk
 * block of its own. */
static inline void fz_check_walk(fz_ctx *c)
{
    c->walked_count = 0;
    fl_status st = fl_allocator_walk(c->a, fz_walk_collect, c);
    fz_record(c->step, "walk", 0, c->walked_count, 0, FL_OK, st);
    FZ_CHECK(st == FL_OK, "walk returned %s", fl_status_str(st));
    const fz_target *t = c->t;
    if (!t->address_order && c->walked_count > 1) qsort(c->walked, c->walked_count, sizeof *c->walked, fz_walked_order);
    size_t used = 0, used_blocks = 0, total = 0;
    for (size_t i = 0; i < c->walked_count; i++) {
        const fz_walked *w = &c->walked[i];
        FZ_CHECK(w->size > 0, "walk block %zu at %p has size 0", i, (void *)w->at);
        if (t->in_area)
            FZ_CHECK(w->at >= c->area_lo && w->at < c->area_hi && w->size <= c->area_hi - w->at,
                     "walk block %p of %zu bytes leaves the area [%p, %p)", (void *)w->at, w->size,
                     (void *)c->area_lo, (void *)c->area_hi);
        if (i > 0) {
            const fz_walked *p = &c->walked[i - 1];
            FZ_CHECK(w->at > p->at && w->at - p->at >= p->size, "walk blocks %p (%zu bytes) and %p overlap",
                     (void *)p->at, p->size, (void *)w->at);
            if (t->address_order)
                FZ_CHECK(w->at == p->at + p->size, "walk leaves a gap between %p (+%zu) and %p", (void *)p->at,
                         p->size, (void *)w->at);
        }
        if (w->used) {
            used += w->size;
            used_blocks++;
        }
        total += w->size;
    }
    FZ_CHECK(used == c->m.used, "walk's used blocks sum to %zu bytes, the model has %zu", used, c->m.used);
    if (t->address_order) {
        FZ_CHECK(c->walked_count > 0 && c->walked[0].at == c->area_lo && total == c->capacity,
                 "walk covers %zu bytes from %p, the area is %zu from %p", total,
                 (void *)(c->walked_count ? c->walked[0].at : 0), c->capacity, (void *)c->area_lo);
    }
    if (t->walk_per_block)
        FZ_CHECK(used_blocks == c->m.count, "walk reports %zu used blocks, the model has %zu", used_blocks, c->m.count);
    /* Both sorted: each live block is in the walk block found for it, a distinct one. */
    size_t w = 0;
    long last = -1;
    for (size_t i = 0; i < c->m.count; i++) {
        const fz_block *b = &c->m.blocks[i];
        while (w < c->walked_count && c->walked[w].at + c->walked[w].size <= b->ptr) w++;
        FZ_CHECK(w < c->walked_count && c->walked[w].at <= b->ptr && c->walked[w].used &&
                     b->ptr + b->usable <= c->walked[w].at + c->walked[w].size,
                 "live block %llu at %p (%zu bytes) is not inside a used walk block", (unsigned long long)b->id,
                 (void *)b->ptr, b->usable);
        if (t->walk_per_block)
            FZ_CHECK((long)w != last, "live blocks %llu and the one before share walk block %p",
                     (unsigned long long)b->id, (void *)c->walked[w].at);
        last = (long)w;
    }
    if (t->check_walk) t->check_walk(c);
}

/* The largest free block the last walk reported (0 when none is free). */
static inline size_t fz_walk_largest_free(const fz_ctx *c)
{
    size_t largest = 0;
    for (size_t i = 0; i < c->walked_count; i++)
        if (!c->walked[i].used && c->walked[i].size > largest) largest = c->walked[i].size;
    return largest;
}

static inline void fz_verify_all(const fz_ctx *c)
{
    for (size_t i = 0; i < c->m.count; i++) fz_verify(&c->m.blocks[i], "pattern check");
}

/* ---- operations ----------------------------------------------------------------------------- */

static inline void fz_op_allocate(fz_ctx *c, size_t size, size_t alignment, const char *what)
{
    bool bad_alignment = alignment != 0 && ((alignment & (alignment - 1)) != 0 || alignment > FL_ALIGN_MAX);
    size_t resolved = alignment ? alignment : FL_ALIGN_DEFAULT;
    fz_expect e = size == 0 || bad_alignment ? fz_expect_status(FL_ERR_INVALID_PARAMETERS)
                                             : c->t->expect_allocate(c, size, resolved);
    void *out = FZ_PTR_UNTOUCHED;
    fl_status st = fl_allocator_allocate(c->a, size, alignment, &out);
    fz_record(c->step, what, st == FL_OK ? (uintptr_t)out : 0, size, alignment, (int)e.status, (int)st);
    FZ_CHECK(st == e.status, "allocate(size %zu, alignment %zu) returned %s, the model expected %s", size, alignment,
             fl_status_str(st), fl_status_str(e.status));
    if (st != FL_OK) {
        FZ_CHECK(out == FZ_PTR_UNTOUCHED, "a failed allocate wrote %p to *out", out);
        if (st == FL_ERR_OUT_OF_MEMORY) c->m.failed_allocations++;
        return;
    }
    uintptr_t p = (uintptr_t)out;
    FZ_CHECK(p != 0 && (p & (resolved - 1)) == 0, "allocate(%zu, %zu) returned %p, not aligned to %zu", size,
             alignment, out, resolved);
    FZ_CHECK(e.ptr == 0 || p == e.ptr, "allocate(%zu, %zu) returned %p, the model expected %p", size, alignment, out,
             (void *)e.ptr);
    fl_allocator_stats s;
    fl_allocator_get_stats(c->a, &s);
    size_t consumed = s.used_bytes - c->m.used;
    FZ_CHECK(s.used_bytes > c->m.used && consumed >= e.consumed_min && consumed <= e.consumed_max,
             "allocate(%zu, %zu) took used bytes from %zu to %zu; the model expected +[%zu, %zu]", size, alignment,
             c->m.used, s.used_bytes, e.consumed_min, e.consumed_max);
    size_t usable = FZ_SIZE_UNTOUCHED;
    fl_status us = fl_allocator_usable_size(c->a, out, &usable);
    FZ_CHECK(us == FL_OK && usable >= size, "usable_size of the new block %p returned %s and %zu (size %zu)", out,
             fl_status_str(us), usable, size);
    FZ_CHECK(e.usable == 0 || usable == e.usable, "usable size %zu of %p, the model expected %zu", usable, out,
             e.usable);
    if (c->t->in_area)
        FZ_CHECK(p >= c->area_lo && p < c->area_hi && usable <= c->area_hi - p,
                 "block %p of %zu usable bytes leaves the area [%p, %p)", out, usable, (void *)c->area_lo,
                 (void *)c->area_hi);
    fz_block b = {p, size, usable, consumed, c->m.used, c->m.next_id++, false, resolved};
    if (c->t->check_block) c->t->check_block(c, &b);
    fz_model_insert(c, &b);
    fz_model *m = &c->m;
    m->used += consumed;
    if (m->used > m->peak) m->peak = m->used;
    m->total_allocations++;
    m->requested += size;
    m->consumed += consumed;
    c->last_known = true;
    fz_fill(&b);
}

static inline void fz_op_free(fz_ctx *c, uintptr_t p, const char *what)
{
    long live = fz_find(&c->m, p), index = live;
    fz_effect effect = FZ_NONE;
    fl_status e = p == 0 ? FL_ERR_INVALID_PARAMETERS : c->t->expect_free(c, p, live, &effect, &index);
    if (effect == FZ_ZOMBIE) fz_verify(&c->m.blocks[index], "before free");
    if (effect == FZ_REMOVE) fz_give_back(c, (size_t)index, 1);
    fl_status st = fl_allocator_deallocate(c->a, (void *)p);
    fz_record(c->step, what, p, live >= 0 ? c->m.blocks[live].size : 0, (size_t)effect, (int)e, (int)st);
    FZ_CHECK(st == e, "deallocate(%p) returned %s, the model expected %s (%s)", (void *)p, fl_status_str(st),
             fl_status_str(e), live >= 0 ? "a live block" : "not a live block's start");
    if (st != FL_OK) return;
    if (effect == FZ_REMOVE) {
        fz_model_drop(c, (size_t)index, 1);
        c->last_known = false;
    } else if (effect == FZ_ZOMBIE) {
        c->m.blocks[index].zombie = true;
    }
}

/* Relocation (fl_allocator_relocate): the buddy and the free list move a live block of
 * their own memory to a lower address (or leave it, *new_ptr == ptr); every other case
 * is refused with nothing changed. A move keeps the block's bytes and its identity in the
 * model (same id, so the same pattern), changes used_bytes by the difference in consumed
 * bytes only (the counters and the efficiency do not move), and frees the old place. */
static inline void fz_op_relocate(fz_ctx *c, uintptr_t p, const char *what)
{
    long i = fz_find(&c->m, p);
    bool live = i >= 0 && !c->m.blocks[i].zombie;
    fl_status e = p == 0              ? FL_ERR_INVALID_PARAMETERS
                  : !c->t->defrag     ? FL_ERR_NOT_SUPPORTED
                  : live              ? FL_OK
                                      : FL_ERR_INVALID_PARAMETERS;
    if (e == FL_OK) {
        fz_verify(&c->m.blocks[i], "before relocate");
        FZ_UNPOISON(c->m.blocks[i].ptr, c->m.blocks[i].usable); /* the allocator copies it */
    }
    void *np = FZ_PTR_UNTOUCHED;
    fl_status st = fl_allocator_relocate(c->a, (void *)p, &np);
    fz_record(c->step, what, p, st == FL_OK ? (size_t)(uintptr_t)np : 0, 0, (int)e, (int)st);
    FZ_CHECK(st == e, "relocate(%p) returned %s, the model expected %s", (void *)p, fl_status_str(st),
             fl_status_str(e));
    if (st != FL_OK) {
        FZ_CHECK(np == FZ_PTR_UNTOUCHED, "a failed relocate wrote %p to *new_ptr", np);
        return;
    }
    fz_block old = c->m.blocks[i];
    uintptr_t q = (uintptr_t)np;
    fl_allocator_stats s;
    fl_allocator_get_stats(c->a, &s);
    FZ_CHECK(q != 0 && q <= p, "relocate(%p) moved the block up, to %p", (void *)p, np);
    if (q == p) {
        FZ_CHECK(s.used_bytes == c->m.used, "relocate(%p) stayed but used bytes went from %zu to %zu", (void *)p,
                 c->m.used, s.used_bytes);
        FZ_POISON(old.ptr, old.usable);
        return;
    }
    /* A move never weakens the alignment the caller asked for. */
    FZ_CHECK((q & (old.alignment - 1u)) == 0, "relocated block %p is not aligned to the %zu its request asked for",
             np, old.alignment);
    size_t usable = FZ_SIZE_UNTOUCHED;
    FZ_CHECK(fl_allocator_usable_size(c->a, np, &usable) == FL_OK && usable >= old.usable,
             "relocated block %p: usable %zu, it had %zu", np, usable, old.usable);
    FZ_CHECK(s.used_bytes >= c->m.used, "relocate shrank used bytes from %zu to %zu", c->m.used, s.used_bytes);
    fz_block moved = old;
    moved.ptr = q;
    fz_verify(&moved, "the bytes a relocation copied"); /* old.usable bytes, same id */
    moved.usable = usable;
    moved.consumed = old.consumed + (s.used_bytes - c->m.used);
    if (c->t->in_area)
        FZ_CHECK(q >= c->area_lo && usable <= c->area_hi - q, "relocated block %p of %zu bytes leaves the area", np,
                 usable);
    if (c->t->check_block) c->t->check_block(c, &moved);
    fz_model *m = &c->m;
    memmove(&m->blocks[i], &m->blocks[i + 1], (m->count - (size_t)i - 1) * sizeof *m->blocks);
    m->count--;
    fz_grave_add(c, p);
    fz_model_insert(c, &moved);
    m->used = s.used_bytes;
    if (m->used > m->peak) m->peak = m->used;
    c->last_known = false;
    fz_fill(&moved);
}

static inline void fz_op_usable(fz_ctx *c, uintptr_t p)
{
    long live = fz_find(&c->m, p);
    size_t want = 0;
    fl_status e = p == 0 ? FL_ERR_INVALID_PARAMETERS : c->t->expect_usable(c, p, live, &want);
    size_t got = FZ_SIZE_UNTOUCHED;
    fl_status st = fl_allocator_usable_size(c->a, (const void *)p, &got);
    fz_record(c->step, "usable_size", p, want, got, (int)e, (int)st);
    FZ_CHECK(st == e, "usable_size(%p) returned %s, the model expected %s", (void *)p, fl_status_str(st),
             fl_status_str(e));
    FZ_CHECK(st == FL_OK ? got == want : got == FZ_SIZE_UNTOUCHED, "usable_size(%p) gave %zu, the model expected %zu",
             (void *)p, got, st == FL_OK ? want : FZ_SIZE_UNTOUCHED);
}

static inline void fz_op_owns(fz_ctx *c, uintptr_t p)
{
    bool want = p != 0 && (c->t->in_area ? p >= c->area_lo && p < c->area_hi : fz_find(&c->m, p) >= 0);
    bool got = fl_allocator_owns(c->a, (const void *)p);
    fz_record(c->step, "owns", p, want, got, -2, -2);
    FZ_CHECK(got == want, "owns(%p) is %d, the model says %d (area [%p, %p))", (void *)p, (int)got, (int)want,
             (void *)c->area_lo, (void *)c->area_hi);
}

static inline void fz_op_reset(fz_ctx *c)
{
    fz_give_back(c, 0, c->m.count);
    fl_allocator_reset(c->a);
    fz_record(c->step, "reset", 0, c->m.count, 0, -2, -2);
    fz_model_drop(c, 0, c->m.count);
    c->m.requested = 0;
    c->m.consumed = 0;
    c->last_known = false;
}

static inline void fz_op_mark(fz_ctx *c)
{
    fl_marker want = {0, 0, 0};
    if (c->t->expect_mark) want = c->t->expect_mark(c);
    fl_marker got = fl_allocator_mark(c->a);
    fz_record(c->step, "mark", 0, got.offset, got.count, -2, -2);
    FZ_CHECK(got.offset == want.offset && got.count == want.count && got.last == want.last,
             "mark gave {%zu, %zu, %zu}, the model expected {%zu, %zu, %zu}", got.offset, got.count, got.last,
             want.offset, want.count, want.last);
    c->markers[c->marker_count++ % FZ_MARKERS] = got;
    if (c->t->expect_mark) c->last_known = false; /* a mark is a floor: linear forgets its last block */
}

static inline void fz_op_rewind(fz_ctx *c, fl_marker m, const char *what)
{
    size_t keep = 0;
    bool reads_payload = false;
    int e = c->t->expect_rewind ? c->t->expect_rewind(c, m, &keep, &reads_payload) : (int)FL_ERR_NOT_SUPPORTED;
    if (e == FZ_SKIP) {
        fz_record(c->step, what, 0, m.offset, m.count, FZ_SKIP, FZ_SKIP);
        return;
    }
    if (e == FL_OK) fz_give_back(c, keep, c->m.count - keep);
    if (reads_payload)
        for (size_t i = 0; i < c->m.count; i++) FZ_UNPOISON(c->m.blocks[i].ptr, c->m.blocks[i].usable);
    fl_status st = fl_allocator_rewind(c->a, m);
    if (reads_payload)
        for (size_t i = 0; i < c->m.count; i++) FZ_POISON(c->m.blocks[i].ptr, c->m.blocks[i].usable);
    fz_record(c->step, what, (uintptr_t)m.last, m.offset, m.count, e, (int)st);
    FZ_CHECK((int)st == e, "rewind({%zu, %zu, %zu}) returned %s, the model expected %s", m.offset, m.count, m.last,
             fl_status_str(st), fz_status_name(e));
    if (st != FL_OK) return;
    fz_model_drop(c, keep, c->m.count - keep);
    c->last_known = false;
}

/* A marker that may be true, stale or forged: a kept one, the current state's, or either
 * of them bent, or pure noise. */
static inline fl_marker fz_forged_marker(fz_ctx *c)
{
    fz_input *in = &c->in;
    fl_marker m = {0, 0, 0};
    uint8_t from_kept = fz_u8(in), pick = fz_u8(in);
    if ((from_kept & 1u) && c->marker_count)
        m = c->markers[pick % (c->marker_count < FZ_MARKERS ? c->marker_count : FZ_MARKERS)];
    else if (c->t->expect_mark)
        m = c->t->expect_mark(c);
    size_t d = 1u + fz_u8(in) % (2u * FZ_WORD);
    switch (fz_u8(in) % 12) {
    case 0: m.offset += d; break;
    case 1: m.offset -= d; break;
    case 2: m.count++; break;
    case 3: m.count--; break;
    case 4: m.last += d; break;
    case 5: m.last -= d; break;
    case 6: m.offset = (size_t)fz_u64(in); break;
    case 7: m.count = (size_t)fz_u64(in); break;
    case 8: m.last = (size_t)fz_u64(in); break;
    case 9: m.offset = m.count = m.last = SIZE_MAX; break;
    case 10: {
        /* A block boundary that is not this marker's. */
        uint16_t i = fz_u16(in);
        if (c->m.count) m.offset = c->m.blocks[i % c->m.count].begin;
        break;
    }
    default: {
        size_t offset = (size_t)fz_u16(in);
        size_t count = fz_u8(in) % 8u;
        m.offset = offset;
        m.count = count;
        m.last = (size_t)fz_u16(in);
        break;
    }
    }
    return m;
}

/* Calls with NULL or missing arguments: each refused, nothing changed. */
static inline void fz_op_null_arguments(fz_ctx *c)
{
    void *out = FZ_PTR_UNTOUCHED;
    size_t n = FZ_SIZE_UNTOUCHED;
    void *some = c->m.count ? (void *)c->m.blocks[0].ptr : (void *)c->area_lo;
    fz_record(c->step, "null arguments", 0, 0, 0, -2, -2);
    FZ_CHECK(fl_allocator_allocate(NULL, 8, 0, &out) == FL_ERR_INVALID_PARAMETERS && out == FZ_PTR_UNTOUCHED,
             "allocate on a NULL allocator");
    FZ_CHECK(fl_allocator_allocate(c->a, 8, 0, NULL) == FL_ERR_INVALID_PARAMETERS, "allocate with out NULL");
    FZ_CHECK(fl_allocator_deallocate(NULL, some) == FL_ERR_INVALID_PARAMETERS, "deallocate on a NULL allocator");
    FZ_CHECK(fl_allocator_deallocate(c->a, NULL) == FL_ERR_INVALID_PARAMETERS, "deallocate(NULL)");
    FZ_CHECK(fl_allocator_usable_size(NULL, some, &n) == FL_ERR_INVALID_PARAMETERS && n == FZ_SIZE_UNTOUCHED,
             "usable_size on a NULL allocator");
    FZ_CHECK(fl_allocator_usable_size(c->a, NULL, &n) == FL_ERR_INVALID_PARAMETERS && n == FZ_SIZE_UNTOUCHED,
             "usable_size(NULL)");
    FZ_CHECK(fl_allocator_usable_size(c->a, some, NULL) == FL_ERR_INVALID_PARAMETERS, "usable_size with out NULL");
    FZ_CHECK(!fl_allocator_owns(NULL, some) && !fl_allocator_owns(c->a, NULL), "owns with NULL");
    FZ_CHECK(fl_allocator_validate(NULL) == FL_ERR_INVALID_PARAMETERS, "validate(NULL)");
    FZ_CHECK(fl_allocator_walk(NULL, fz_walk_collect, c) == FL_ERR_INVALID_PARAMETERS &&
                 fl_allocator_walk(c->a, NULL, c) == FL_ERR_INVALID_PARAMETERS,
             "walk with NULL");
    fl_marker zero = {0, 0, 0};
    FZ_CHECK(fl_allocator_rewind(NULL, zero) == FL_ERR_INVALID_PARAMETERS, "rewind(NULL)");
    fl_marker m = fl_allocator_mark(NULL);
    FZ_CHECK(m.offset == 0 && m.count == 0 && m.last == 0, "mark(NULL) is not {0}");
    fl_allocator_stats s;
    memset(&s, 0xA5, sizeof s);
    fl_allocator_get_stats(NULL, &s);
    FZ_CHECK(s.total_capacity == 0 && s.used_bytes == 0 && s.allocation_count == 0, "get_stats(NULL) is not zeroed");
    fl_allocator_get_stats(c->a, NULL);
    fl_allocator_reset(NULL);
    fl_allocator_destroy(NULL);
    const char *name = fl_allocator_name(c->a);
    FZ_CHECK(name != NULL && strcmp(name, c->name ? c->name : fl_allocator_type_str(c->t->type)) == 0,
             "name is \"%s\"", name ? name : "(null)");
    FZ_CHECK(fl_allocator_kind(c->a) == c->t->type && fl_allocator_kind(NULL) == FL_ALLOCATOR_AUTO,
             "kind is %d", (int)fl_allocator_kind(c->a));
}

/* The contract of largest_free_block: that many bytes at alignment 1 succeed, one more
 * does not (the oracle says how it fails). */
static inline void fz_op_largest(fz_ctx *c, bool one_more)
{
    size_t largest = c->stats.largest_free_block;
    size_t size = one_more ? largest + 1u : largest;
    bool must_succeed = !one_more && largest > 0;
    fz_op_allocate(c, size, 1, one_more ? "allocate largest+1" : "allocate largest");
    /* fz_op_allocate checked the oracle; these are the contract's own words. */
    fl_allocator_stats s;
    fl_allocator_get_stats(c->a, &s);
    if (one_more)
        FZ_CHECK(s.total_allocations == c->stats.total_allocations,
                 "an allocation of largest_free_block + 1 = %zu bytes succeeded", size);
    else if (must_succeed)
        FZ_CHECK(s.total_allocations == c->stats.total_allocations + 1u,
                 "an allocation of largest_free_block = %zu bytes failed", size);
}

/* ---- the run ------------------------------------------------------------------------------ */

/* Creates the allocator. want: the status create must return, or FZ_SKIP when it may be
 * FL_OK or FL_ERR_INVALID_PARAMETERS (a buffer near the minimum size). False when it
 * (rightly) failed: the input ends there. */
static inline bool fz_start(fz_ctx *c, const fz_target *t, const fl_allocator_config *cfg, int want,
                            const fz_input *in)
{
    memset(c, 0, sizeof *c);
    c->t = t;
    c->in = *in;
    c->name = cfg->name;
    fz_trace_count = 0;
    fl_allocator *a = (fl_allocator *)FZ_PTR_UNTOUCHED;
    fl_status st = fl_allocator_create(cfg, &a);
    fz_record(0, "create", (uintptr_t)cfg->buffer, cfg->size, cfg->type, want, (int)st);
    if (want == FZ_SKIP)
        FZ_CHECK(st == FL_OK || st == FL_ERR_INVALID_PARAMETERS, "create returned %s", fl_status_str(st));
    else
        FZ_CHECK((int)st == want, "create returned %s, expected %s", fl_status_str(st), fz_status_name(want));
    if (st != FL_OK) {
        FZ_CHECK(a == (fl_allocator *)FZ_PTR_UNTOUCHED, "a failed create wrote *out");
        return false;
    }
    c->a = a;
    c->control = (uintptr_t)a;
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    FZ_CHECK(s.total_capacity > 0 && s.used_bytes == 0 && s.allocation_count == 0 && s.peak_used_bytes == 0 &&
                 s.total_allocations == 0 && s.failed_allocations == 0 && s.allocation_efficiency == 1.0,
             "a new allocator's statistics are not empty (capacity %zu, used %zu)", s.total_capacity, s.used_bytes);
    c->capacity = s.total_capacity;
    if (t->in_area) {
        c->walked_count = 0;
        FZ_CHECK(fl_allocator_walk(a, fz_walk_collect, c) == FL_OK && c->walked_count > 0, "walk of a new allocator");
        c->area_lo = c->walked[0].at;
        c->area_hi = c->area_lo + c->capacity;
    }
    c->stats = s;
    if (t->learn) t->learn(c);
    fz_after_step(c);
    if (t->in_area) fz_check_walk(c);
    return true;
}

static inline void fz_run(fz_ctx *c)
{
    fz_input *in = &c->in;
    while (fz_more(in) && c->step < FZ_MAX_STEPS) {
        c->step++;
        unsigned op = fz_u8(in) % 32u;
        if (op < 10) {
            size_t size = fz_size(c);
            fz_op_allocate(c, size, fz_alignment(in), "allocate");
        } else if (op == 10 || op == 11) {
            fz_op_largest(c, op == 11);
        } else if (op < 17) {
            uint16_t pick = fz_u16(in);
            fz_op_free(c, c->m.count ? c->m.blocks[pick % c->m.count].ptr : c->area_lo, "free live");
        } else if (op == 17) {
            fz_op_free(c, c->grave[fz_u8(in) % FZ_GRAVE], "free freed");
        } else if (op == 18 || op == 19) {
            fz_op_free(c, fz_probe(c), "free probe");
        } else if (op == 20) {
            fz_op_usable(c, fz_probe(c));
        } else if (op == 21) {
            fz_op_owns(c, fz_probe(c));
        } else if (op == 22) {
            if (fz_u8(in) & 1u)
                fz_op_reset(c);
            else
                fz_verify_all(c);
        } else if (op == 23) {
            fz_op_mark(c);
        } else if (op == 24) {
            fl_marker m = {0, 0, 0};
            uint8_t pick = fz_u8(in);
            if (c->marker_count) m = c->markers[pick % (c->marker_count < FZ_MARKERS ? c->marker_count : FZ_MARKERS)];
            fz_op_rewind(c, m, "rewind kept marker");
        } else if (op == 25) {
            fz_op_rewind(c, fz_forged_marker(c), "rewind forged marker");
        } else if (op == 26) {
            fz_check_walk(c);
        } else if (op == 27) {
            uint16_t pick = fz_u16(in);
            fz_op_usable(c, c->m.count ? c->m.blocks[pick % c->m.count].ptr : c->area_lo);
        } else if (op == 28) {
            fz_op_null_arguments(c);
        } else if (op == 31) {
            uint16_t pick = fz_u16(in);
            uintptr_t p = fz_u8(in) % 4u && c->m.count ? c->m.blocks[pick % c->m.count].ptr : fz_probe(c);
            fz_op_relocate(c, p, "relocate");
        } else {
            fz_op_allocate(c, 1u + fz_u8(in), 0, "allocate small");
        }
        fz_after_step(c);
    }
}

/* Final checks, then the allocator goes away with every poison lifted. */
static inline void fz_finish(fz_ctx *c)
{
    fz_verify_all(c);
    fz_check_walk(c);
    for (size_t i = 0; i < c->m.count; i++) FZ_UNPOISON(c->m.blocks[i].ptr, c->m.blocks[i].usable);
    fl_allocator_destroy(c->a);
    free(c->m.blocks);
    free(c->walked);
    memset(c, 0, sizeof *c);
}

/* A caller buffer of `size` bytes starting `misalign` bytes past a 16-byte boundary; the
 * bytes around it are poisoned, so the allocator cannot step outside unnoticed. */
typedef struct fz_buffer {
    unsigned char *raw, *data;
    size_t raw_size, size, misalign;
} fz_buffer;

static inline fz_buffer fz_buffer_make(size_t size, size_t misalign)
{
    fz_buffer b;
    /* aligned_alloc: `misalign` is then exact, whatever the C library's malloc alignment. */
    b.raw_size = (misalign + size + 16u) & ~(size_t)15u;
    b.raw = (unsigned char *)aligned_alloc(16, b.raw_size);
    if (b.raw == NULL) abort();
    b.data = b.raw + misalign;
    b.size = size;
    b.misalign = misalign;
    FZ_POISON(b.raw, misalign);
    FZ_POISON(b.data + size, b.raw_size - misalign - size);
    return b;
}

static inline void fz_buffer_free(fz_buffer *b)
{
    FZ_UNPOISON(b->raw, b->raw_size);
    free(b->raw);
    b->raw = b->data = NULL;
}

/* Buffer sizes: mostly small (fast runs, many states per second), sometimes tiny (below
 * what create accepts) or up to 320 KiB. */
static inline size_t fz_buffer_size(fz_input *in)
{
    switch (fz_u8(in) % 8) {
    case 0: return fz_u8(in);
    case 1:
    case 2:
    case 3: return 256u + fz_u16(in) % 4096u;
    case 4:
    case 5:
    case 6: return 4096u + fz_u16(in);
    default: return 65536u + fz_u32(in) % (256u * 1024u);
    }
}

/* The configuration every caller-buffer type shares: flags (thread_safe, a name, platform
 * pages instead of a buffer), the buffer's size and its misalignment. */
static inline void fz_config_common(fz_input *in, fl_allocator_type type, fl_allocator_config *cfg, fz_buffer *buf)
{
    memset(cfg, 0, sizeof *cfg);
    memset(buf, 0, sizeof *buf);
    cfg->type = type;
    uint8_t flags = fz_u8(in);
    cfg->thread_safe = (flags & 1u) != 0;
    cfg->name = flags & 2u ? "fuzz arena" : NULL;
    size_t size = fz_buffer_size(in);
    size_t misalign = fz_u8(in) % 16u;
    cfg->size = size;
    if (((flags >> 2) & 7u) != 7u) {
        *buf = fz_buffer_make(size, misalign);
        cfg->buffer = buf->data;
    }
}

/* The control block lies in the caller's buffer (or the platform's pages): never a block. */
static inline void fz_set_control(fz_ctx *c, const fz_buffer *buf)
{
    if (buf->data) c->control = (uintptr_t)buf->data;
}

/* Bad configurations every target's type must refuse with exactly this status. */
static inline void fz_bad_creates(fl_allocator_type type)
{
    fl_allocator *out = (fl_allocator *)FZ_PTR_UNTOUCHED;
    unsigned char buffer[64];
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = type;
    FZ_CHECK(fl_allocator_create(NULL, &out) == FL_ERR_INVALID_PARAMETERS, "create(NULL cfg)");
    FZ_CHECK(fl_allocator_create(&cfg, NULL) == FL_ERR_INVALID_PARAMETERS, "create(NULL out)");
    cfg.type = (fl_allocator_type)99;
    FZ_CHECK(fl_allocator_create(&cfg, &out) == FL_ERR_INVALID_PARAMETERS, "create with type 99");
    cfg.type = FL_ALLOCATOR_AUTO;
    FZ_CHECK(fl_allocator_create(&cfg, &out) == FL_ERR_INVALID_PARAMETERS, "create with type AUTO");
    cfg.type = type;
    cfg.managed = buffer;
    cfg.managed_size = sizeof buffer;
    fl_status want = type == FL_ALLOCATOR_BUDDY ? FL_ERR_INVALID_PARAMETERS : FL_ERR_NOT_SUPPORTED;
    cfg.buffer = NULL; /* buddy: a NULL control buffer with size 0 cannot be mapped */
    cfg.size = 0;
    if (type == FL_ALLOCATOR_BUDDY) cfg.managed_size = 0; /* managed set, size 0 */
    FZ_CHECK(fl_allocator_create(&cfg, &out) == want, "create with managed memory on a %s allocator",
             fl_allocator_type_str(type));
    cfg.managed = NULL;
    cfg.managed_size = sizeof buffer;
    FZ_CHECK(fl_allocator_create(&cfg, &out) == FL_ERR_INVALID_PARAMETERS, "create with managed_size but no memory");
    FZ_CHECK(out == (fl_allocator *)FZ_PTR_UNTOUCHED, "a failed create wrote *out");
}

#endif /* FLMEM_FUZZ_MODEL_H */
