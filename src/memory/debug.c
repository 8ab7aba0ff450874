/*
 * Debug options of the memory interface (fl_memory_config.debug; user guide:
 * docs/debugging.md): guard bytes after allocations, fill patterns, a quarantine that
 * catches writes after free, records for every allocation, call sites, leak reports.
 *
 * Everything here runs only when the interface was created with debug options (route.c
 * tests FLI_DEBUG_ON(m), a constant false when FLI_NO_DEBUG compiled them out), under the
 * interface's lock, and touches no allocator internals: it works on what a caller could
 * see (the bytes of an allocation) plus the record table of registry.c.
 *
 * Layout of an allocation with FL_DEBUG_GUARDS (route.c asks the region for
 * requested + FL_DEBUG_GUARD_BYTES):
 *
 *   ptr                      ptr + requested            ptr + requested + G     ptr + usable
 *   | payload (caller's)     | guard: G x 0xFD           | slack (not checked)    |
 *
 * The record keeps `requested`, so the guard is found again at free and by validate.
 * Memory checkers (core/poison.h) see the guard and the slack poisoned, so ASan or
 * memcheck stop an overrun at the faulting instruction; without them the guard is checked
 * when the block is freed or validated.
 *
 * Quarantine (FL_DEBUG_FILL), for regions whose freed blocks the allocator reuses at once
 * (pool, free list, buddy, system): a freed block is filled with 0xDD, poisoned for memory
 * checkers and kept allocated in a ring of FL_DEBUG_QUARANTINE slots; the block pushed out
 * of the ring has its fill checked and is then really freed. Linear and stack regions hand
 * freed memory out again only after a rewind or a pop, so they get the fill only.
 *
 * Cost: O(1) per allocation and free besides writing/checking the block's bytes (guard
 * and fill are O(size)); validate adds O(records * G + quarantine * block size); the leak
 * report is O(records * distinct tags) with a fixed table of FLI_LEAK_TAGS tags.
 */
#include "memory_internal.h"

#define FLI_LEAK_TAGS 64u

static bool same_string(const char *a, const char *b)
{
    if (a == b) return true;
    if (a == NULL || b == NULL) return false;
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* ---- reports ----------------------------------------------------------------------------- */

static void report(fl_memory *m, fl_debug_event event, const void *ptr, size_t requested, size_t offset,
                   const char *tag, fl_memory_type type, const char *file, unsigned line)
{
    const char *what = event == FL_DEBUG_OVERRUN ? "overrun" : "write after free";
    /* The message goes through the error formatter (the library has no printf): it is
     * the calling thread's last error too, which validate then returns. */
    (void)fli_fail(FL_ERR_INVALID_STATE, "%s: byte %zu of the %zu-byte %s allocation %p (tag %s, allocated at %s:%u) changed",
                   what, offset, requested, fl_memory_type_str(type), ptr, tag ? tag : "none",
                   file ? file : "unknown", line);
    if (event == FL_DEBUG_OVERRUN)
        m->debug_overruns++;
    else
        m->debug_writes_after_free++;
    if (m->debug_report == NULL) return;
    fl_debug_report r;
    r.event = event;
    r.ptr = ptr;
    r.size = requested;
    r.offset = offset;
    r.count = 1;
    r.tag = tag;
    r.type = type;
    r.file = file;
    r.line = line;
    r.message = fl_last_error()->message;
    m->debug_report(&r, m->debug_user);
}

/* The first byte of [p, p + n) that is not `value`, or n. The range may be poisoned for
 * memory checkers: it is opened to look, and closed again when `close`. */
static size_t first_changed(const unsigned char *p, size_t n, unsigned value, bool close)
{
    FLI_OPEN(p, n);
    size_t i = 0;
    while (i < n && p[i] == (unsigned char)value) i++;
    if (close) FLI_POISON(p, n);
    return i;
}

static bool check_guard(fl_memory *m, const fli_record *rec)
{
    if (m->guard == 0) return true;
    const unsigned char *g = (const unsigned char *)rec->ptr + rec->requested;
    size_t bad = first_changed(g, m->guard, FL_DEBUG_GUARD_BYTE, true);
    if (bad == m->guard) return true;
    report(m, FL_DEBUG_OVERRUN, rec->ptr, rec->requested, rec->requested + bad, rec->tag, rec->type, rec->file,
           rec->line);
    return false;
}

static bool check_quarantined(fl_memory *m, const fli_quarantined *q, bool close)
{
    size_t bad = first_changed((const unsigned char *)q->ptr, q->size, FL_DEBUG_FREE_BYTE, close);
    if (bad == q->size) return true;
    report(m, FL_DEBUG_WRITE_AFTER_FREE, q->ptr, q->requested, bad, q->tag, q->type, q->file, q->line);
    return false;
}

/* ---- allocate --------------------------------------------------------------------------- */

void fli_debug_fresh(fl_memory *m, const fli_region *r, void *ptr, size_t requested, size_t usable,
                     fl_memory_flags flags, bool has_record)
{
    if (!has_record) {
        if (m->record_count < m->record_max) {
            fli_record *rec = fli_registry_insert(m, ptr);
            rec->size = usable;
            rec->requested = requested;
            rec->alignment = FL_ALIGN_DEFAULT;
            rec->flags = flags;
            rec->type = r->type;
            rec->allocator = r->strategy;
            has_record = true;
        } else {
            m->debug_unrecorded++;
        }
    }
    unsigned char *p = (unsigned char *)ptr;
    /* Without a record nothing could find the guard again: such a block is served whole. */
    size_t shown = m->guard && has_record ? requested : usable;
    if (flags & FL_FLAG_ZERO)
        memset(p, 0, shown);
    else if (m->debug & FL_DEBUG_FILL)
        memset(p, (int)FL_DEBUG_ALLOC_BYTE, shown);
    if (m->guard && has_record) {
        memset(p + requested, (int)FL_DEBUG_GUARD_BYTE, m->guard);
        FLI_POISON(p + requested, usable - requested); /* memory checkers stop overruns at once */
    }
}

void fli_debug_set_site(fl_memory *m, void *ptr, const char *file, unsigned line)
{
    fli_record *rec = m->record_count ? fli_registry_find(m, ptr) : NULL;
    if (rec) {
        rec->file = file;
        rec->line = line;
    }
}

/* ---- free --------------------------------------------------------------------------------- */

bool fli_debug_quarantined(const fl_memory *m, const void *ptr)
{
    for (unsigned i = 0; i < FL_DEBUG_QUARANTINE; i++)
        if (m->quarantine[i].ptr == ptr) return true;
    return false;
}

/* The oldest quarantined block leaves: its fill is checked, then its allocator frees it. */
static void evict(fl_memory *m, fli_quarantined *q, fli_pending *pending)
{
    if (q->ptr == NULL) return;
    void *ptr = q->ptr;
    (void)check_quarantined(m, q, false); /* left open: its allocator takes it back now */
    q->ptr = NULL;
    unsigned cls;
    fli_region *r = fli_region_of(m, ptr, &cls);
    if (r) (void)fli_free_block_locked(m, r, cls, ptr, pending); /* live: cannot fail */
}

bool fli_debug_on_free(fl_memory *m, fli_region *r, unsigned cls, void *ptr, fl_status *st, fli_pending *pending)
{
    bool fill = (m->debug & FL_DEBUG_FILL) != 0; /* the quarantine is empty without it */
    if (fill && fli_debug_quarantined(m, ptr)) {
        *st = fli_fail(FL_ERR_INVALID_PARAMETERS, "double free: %p was already freed (it waits in the debug quarantine)",
                       ptr);
        return true;
    }
    size_t live;
    if (fli_live_size(m, r, cls, ptr, &live) != FL_OK) return false; /* the plain path says why */
    fli_record *rec = m->record_count ? fli_registry_find(m, ptr) : NULL;
    if (rec == NULL) return false; /* made without a record: nothing to check */
    (void)check_guard(m, rec);
    unsigned char *p = (unsigned char *)ptr;
    /* The guard and slack were poisoned for memory checkers; the allocator may write its
     * bookkeeping there when it frees (and poisons again what it knows to be free). */
    FLI_OPEN(p, live);
    if (!fill) return false;
    if (r->strategy == FL_ALLOCATOR_LINEAR || r->strategy == FL_ALLOCATOR_STACK) {
        /* Filled only when the free will succeed: a stack frees nothing but its top. */
        if (r->strategy == FL_ALLOCATOR_STACK &&
            (uintptr_t)p + live != r->track.alloc_start + r->a->counters.used_bytes)
            return false;
        FLI_OPEN(p, live);
        memset(p, (int)FL_DEBUG_FREE_BYTE, live);
        return false;
    }
    fli_quarantined *q = &m->quarantine[m->quarantine_next];
    m->quarantine_next = (m->quarantine_next + 1u) % FL_DEBUG_QUARANTINE;
    fli_quarantined fresh = {ptr, live, rec->requested, rec->tag, rec->file, rec->line, rec->type};
    fli_registry_remove(m, ptr); /* rec is gone now */
    FLI_OPEN(p, live);
    memset(p, (int)FL_DEBUG_FREE_BYTE, live);
    FLI_POISON(p, live); /* memory checkers report any access from now on */
    evict(m, q, pending);
    *q = fresh;
    *st = FL_OK;
    return true;
}

void fli_debug_forget_region(fl_memory *m, const fli_region *r)
{
    unsigned cls;
    for (unsigned i = 0; i < FL_DEBUG_QUARANTINE; i++) {
        fli_quarantined *q = &m->quarantine[i];
        if (q->ptr && fli_region_of(m, q->ptr, &cls) == r) {
            FLI_OPEN(q->ptr, q->size); /* the allocator's reset may write anywhere */
            q->ptr = NULL;
        }
    }
    /* Guards and slack of live blocks were poisoned by the interface, not the allocator. */
    for (size_t i = 0; i < m->record_slots; i++) {
        const fli_record *rec = &m->records[i];
        if (rec->ptr && fli_region_of(m, rec->ptr, &cls) == r) FLI_OPEN(rec->ptr, rec->size);
    }
}

fl_status fli_debug_shown(fl_memory *m, const void *ptr, size_t *size)
{
    if ((m->debug & FL_DEBUG_FILL) && fli_debug_quarantined(m, ptr))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%p was freed (it waits in the debug quarantine)", ptr);
    const fli_record *rec = m->guard && m->record_count ? fli_registry_find(m, ptr) : NULL;
    if (rec && rec->size >= rec->requested + m->guard) *size = rec->requested;
    return FL_OK;
}

fl_status fl_memory_debug_flush(fl_memory *m)
{
    if (m == NULL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_debug_flush: the memory interface is NULL");
    if (!FLI_DEBUG_ON(m)) return FL_OK;
    fli_pending pending;
    pending.count = 0;
    fli_mem_lock(m);
    for (unsigned i = 0; i < FL_DEBUG_QUARANTINE; i++) evict(m, &m->quarantine[i], &pending);
    m->quarantine_next = 0;
    fli_mem_unlock(m);
    if (pending.count) fli_pressure_dispatch(m, &pending);
    return FL_OK;
}

fl_status fl_memory_debug_counts(fl_memory *m, fl_debug_counts *out)
{
    if (m == NULL || out == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_debug_counts: %s is NULL",
                        m ? "out" : "the memory interface");
    fli_mem_lock(m);
    out->overruns = m->debug_overruns;
    out->writes_after_free = m->debug_writes_after_free;
    out->unrecorded = m->debug_unrecorded;
    fli_mem_unlock(m);
    return FL_OK;
}

/* ---- validate ------------------------------------------------------------------------------- */

fl_status fli_debug_validate(fl_memory *m)
{
    bool ok = true;
    char first[FLI_WHY_BYTES];
    first[0] = '\0';
    for (size_t i = 0; i < m->record_slots; i++) {
        const fli_record *rec = &m->records[i];
        if (rec->ptr == NULL || rec->size < rec->requested + m->guard) continue; /* no guard written */
        if (!check_guard(m, rec) && ok) {
            ok = false;
            fli_copy_message(first);
        }
    }
    for (unsigned i = 0; i < FL_DEBUG_QUARANTINE; i++) {
        if (m->quarantine[i].ptr && !check_quarantined(m, &m->quarantine[i], true) && ok) {
            ok = false;
            fli_copy_message(first);
        }
    }
    return ok ? FL_OK : fli_fail(FL_ERR_INVALID_STATE, "%s", first);
}

/* ---- leak report ------------------------------------------------------------------------------- */

typedef struct fli_leaks {
    fl_leak groups[FLI_LEAK_TAGS + 1u + 2u * FL_MEMORY_TYPE_COUNT];
    unsigned count;
    size_t live;
} fli_leaks;

static fl_leak *tag_group(fli_leaks *l, unsigned *tags, const fli_record *rec)
{
    for (unsigned i = 0; i < *tags; i++)
        if (same_string(l->groups[i].tag, rec->tag)) return &l->groups[i];
    unsigned at = *tags < FLI_LEAK_TAGS ? (*tags)++ : FLI_LEAK_TAGS;
    fl_leak *g = &l->groups[at];
    if (g->count == 0) {
        g->tag = at < FLI_LEAK_TAGS ? rec->tag : "(other tags)";
        g->type = rec->type;
        g->recorded = true;
    }
    return g;
}

/* Under the lock: every live allocation, grouped (fl_memory_report_leaks). */
static void collect_leaks(fl_memory *m, fli_leaks *l)
{
    memset(l, 0, sizeof *l);
    fl_leak *untagged = &l->groups[FLI_LEAK_TAGS + 1u];
    fl_leak *unrecorded = untagged + FL_MEMORY_TYPE_COUNT;
    size_t recorded[FL_MEMORY_TYPE_COUNT] = {0}, held[FL_MEMORY_TYPE_COUNT] = {0};
    unsigned tags = 0;
    for (size_t i = 0; i < m->record_slots; i++) {
        const fli_record *rec = &m->records[i];
        if (rec->ptr == NULL) continue;
        fl_leak *g = rec->tag ? tag_group(l, &tags, rec) : &untagged[rec->type];
        g->count++;
        g->bytes += rec->requested;
        recorded[rec->type]++;
    }
    for (unsigned i = 0; i < FL_DEBUG_QUARANTINE; i++)
        if (m->quarantine[i].ptr) held[m->quarantine[i].type]++;
    for (unsigned t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        untagged[t].type = unrecorded[t].type = (fl_memory_type)t;
        untagged[t].recorded = true;
        unrecorded[t].count = m->types[t].count - recorded[t] - held[t];
        l->live += m->types[t].count - held[t];
    }
    /* Compact: the non-empty groups, tags first, in order. */
    unsigned n = 0;
    for (unsigned i = 0; i < sizeof l->groups / sizeof l->groups[0]; i++)
        if (l->groups[i].count != 0) l->groups[n++] = l->groups[i];
    l->count = n;
}

fl_status fl_memory_report_leaks(fl_memory *m, fl_leak_fn fn, void *user, size_t *count)
{
    if (m == NULL || fn == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_report_leaks: %s is NULL",
                        m ? "the callback" : "the memory interface");
    fli_leaks l;
    fli_mem_lock(m);
    collect_leaks(m, &l);
    fli_mem_unlock(m);
    for (unsigned i = 0; i < l.count; i++) fn(&l.groups[i], user);
    if (count) *count = l.live;
    return FL_OK;
}

void fli_debug_destroy(fl_memory *m)
{
    if (!(m->debug & FL_DEBUG_LEAKS_AT_DESTROY) || m->debug_report == NULL) return;
    fli_leaks l;
    collect_leaks(m, &l);
    for (unsigned i = 0; i < l.count; i++) {
        const fl_leak *g = &l.groups[i];
        (void)fli_fail(FL_ERR_INVALID_STATE, "leak: %zu %s allocation%s (%s) of %zu bytes%s still live at destroy",
                       g->count, fl_memory_type_str(g->type), g->count == 1 ? "" : "s", g->tag ? g->tag : "untagged",
                       g->bytes, g->recorded ? "" : " (no record: bytes unknown)");
        fl_debug_report r;
        memset(&r, 0, sizeof r);
        r.event = FL_DEBUG_LEAK;
        r.size = g->bytes;
        r.count = g->count;
        r.tag = g->tag;
        r.type = g->type;
        r.message = fl_last_error()->message;
        m->debug_report(&r, m->debug_user);
    }
}
