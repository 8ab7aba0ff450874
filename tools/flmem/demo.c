/*
 * flmem demo: a simulated game session through the public API only.
 *
 * Four levels. Each loads textures into Video, sounds into Audio, meshes into System and
 * entities into the Pool, then plays frames at 60 per simulated second: temporary memory
 * marked and rewound every frame, particles born and dying in the pool, network packets
 * living a few frames, caches of decoded assets growing in System and Video. The third
 * level streams its world in without unloading, pushing memory into pressure; pressure
 * callbacks (the specification's MemoryManager) free caches, trim, and at Critical evict
 * the oldest streamed chunks. Everything is seeded: a run is the same every time; only the
 * pacing (about --seconds of wall time) uses the clock.
 *
 * The caches are FL_FLAG_RELOCATABLE (their on_relocate finds the entry in its list and
 * checks the bytes at the new place): after each level unloads, the caches it leaves
 * scattered are compacted with fl_memory_defragment, and the report pairs the heap maps
 * from before and after the one that follows the second level. Before the last level
 * loads, a request with a timeout waits for another thread to free Video memory (see
 * timeout_demo for the profiles where that cannot happen).
 */
#define _POSIX_C_SOURCE 200809L
#include "flmem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FPS 60u
#define MAX_LIVE 4096u

/* A list of live allocations, oldest first. */
typedef struct list {
    void *ptr[MAX_LIVE];
    size_t size[MAX_LIVE];
    unsigned born[MAX_LIVE]; /* frame */
    size_t count;
} list;

typedef struct demo {
    fl_memory *m;
    flmem_session *s;
    uint64_t rng;
    unsigned frame, level, per_level;
    int tty;
    int bar_shown;
    list textures, sounds, meshes, entities, particles, packets, streamed_sys, streamed_vid;
    list cache_sys, cache_vid;
    size_t frame_peak[FL_MEMORY_TYPE_COUNT]; /* Temporary and Stack: the most used within the frame */
    size_t max_allocation;                   /* the profile's, 0: none */
    int thread_safe;                         /* as created (flmem_create_profile) */
    size_t moved_ok, moved_bad;              /* caches moved by the running defragmentation */
} demo;

static uint32_t rnd(demo *d)
{
    /* xorshift64*: deterministic for a seed */
    d->rng ^= d->rng >> 12;
    d->rng ^= d->rng << 25;
    d->rng ^= d->rng >> 27;
    return (uint32_t)((d->rng * 2685821657736338717ull) >> 32);
}

static size_t between(demo *d, size_t lo, size_t hi) { return hi <= lo ? lo : lo + rnd(d) % (hi - lo + 1); }

static double now_t(const demo *d) { return (double)d->frame / FPS; }

static size_t type_total(const demo *d, fl_memory_type t) { return d->s->total[t]; }

static void clear_bar(demo *d)
{
    if (d->tty && d->bar_shown) {
        fputs("\r\033[K", stdout);
        d->bar_shown = 0;
    }
}

/* The byte a block taken at `frame` starts with (take writes it, on_relocate checks it). */
static unsigned char mark_byte(unsigned frame) { return (unsigned char)(frame & 0xFFu); }

/* What a relocatable list's on_relocate needs: its list, and the demo for the counters. */
typedef struct mover {
    demo *d;
    list *l;
} mover;

/* on_relocate of the caches: the entry follows its block, whose first bytes must already be
 * at the new address (the interface copies before it calls). Runs on the thread that
 * called fl_memory_defragment, outside the interface's lock. */
static void cache_moved(void *old_ptr, void *new_ptr, size_t size, void *user)
{
    mover *mv = user;
    list *l = mv->l;
    for (size_t i = 0; i < l->count; i++) {
        if (l->ptr[i] != old_ptr) continue;
        const unsigned char *p = new_ptr;
        size_t n = size < 64 ? size : 64, k = 0;
        while (k < n && p[k] == mark_byte(l->born[i])) k++;
        if (k == n) mv->d->moved_ok++;
        else mv->d->moved_bad++;
        l->ptr[i] = new_ptr;
        return;
    }
    mv->d->moved_bad++; /* a block the demo did not know: cannot happen */
}

/* Allocates into list l; 0 when the memory said no (counted, not fatal: that is the demo).
 * With `mv`, the block is relocatable and mv's list is l. */
static int take_ex(demo *d, list *l, size_t size, fl_memory_type type, const char *tag, mover *mv)
{
    if (l->count == MAX_LIVE || size == 0) return 0;
    fl_alloc_request req = fl_make_allocation_request(size, type, 0, mv ? FL_FLAG_RELOCATABLE : FL_FLAG_NONE);
    req.tag = tag;
    if (mv) {
        req.on_relocate = cache_moved;
        req.relocate_user = mv;
    }
    if (type == FL_MEMORY_POOL) req.allow_fallback = true; /* a full class may overflow */
    fl_allocation a;
    if (fl_memory_allocate_request(d->m, &req, &a) != FL_OK) {
        d->s->failed_requests++;
        return 0;
    }
    memset(a.ptr, mark_byte(d->frame), size < 64 ? size : 64); /* touch it, as a game would */
    l->ptr[l->count] = a.ptr;
    l->size[l->count] = a.size;
    l->born[l->count] = d->frame;
    l->count++;
    return 1;
}

static int take(demo *d, list *l, size_t size, fl_memory_type type, const char *tag)
{
    return take_ex(d, l, size, type, tag, NULL);
}

static mover cache_sys_mover, cache_vid_mover;

/* Frees the n oldest of l; returns the bytes given back. */
static size_t drop_oldest(demo *d, list *l, size_t n)
{
    size_t bytes = 0;
    if (n > l->count) n = l->count;
    for (size_t i = 0; i < n; i++) {
        if (fl_memory_deallocate(d->m, l->ptr[i]) != FL_OK)
            fprintf(stderr, "flmem demo: free failed: %s\n", fl_last_error()->message);
        bytes += l->size[i];
    }
    memmove(l->ptr, l->ptr + n, (l->count - n) * sizeof l->ptr[0]);
    memmove(l->size, l->size + n, (l->count - n) * sizeof l->size[0]);
    memmove(l->born, l->born + n, (l->count - n) * sizeof l->born[0]);
    l->count -= n;
    return bytes;
}

static void drop_all(demo *d, list *l) { (void)drop_oldest(d, l, l->count); }

/* ---- the pressure manager ------------------------------------------------------------- */

typedef struct watcher {
    demo *d;
    fl_pressure_level at;
} watcher;

static void on_pressure(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    const watcher *w = user;
    demo *d = w->d;
    /* A rise past several levels calls every callback it crosses: act once, in the one
     * registered at the level reached. */
    if (level != w->at) return;
    char action[96] = "watching";
    size_t freed = 0, n = 0;
    list *cache = info->type == FL_MEMORY_VIDEO ? &d->cache_vid : &d->cache_sys;
    if (level >= FL_PRESSURE_MEDIUM && info->type != FL_MEMORY_ALL_TYPES) {
        /* Medium: half the cache; High and above: all of it. */
        n = level == FL_PRESSURE_MEDIUM ? (cache->count + 1) / 2 : cache->count;
        freed = drop_oldest(d, cache, n);
        d->s->cache_freed += n;
        char b[32];
        if (n == 0) snprintf(action, sizeof action, "caches already empty");
        else snprintf(action, sizeof action, "freed %zu cached assets (%s)", n, flmem_bytes_str(freed, b, sizeof b));
    }
    if (level >= FL_PRESSURE_HIGH) (void)fl_memory_gc_hint(d->m);
    if (level == FL_PRESSURE_CRITICAL && info->type != FL_MEMORY_ALL_TYPES) {
        list *stream = info->type == FL_MEMORY_VIDEO ? &d->streamed_vid : &d->streamed_sys;
        size_t k = (stream->count + 3) / 4;
        char b[32];
        size_t bytes = drop_oldest(d, stream, k);
        d->s->evicted += k;
        size_t len = strlen(action);
        snprintf(action + len, sizeof action - len, "; evicted %zu streamed chunks (%s)", k,
                 flmem_bytes_str(bytes, b, sizeof b));
    }
    char avail[32], total[32];
    clear_bar(d);
    printf("  ! %6.2fs  pressure %-9s %-8s available %s of %s: %s\n", now_t(d),
           info->type == FL_MEMORY_ALL_TYPES ? "(all)" : fl_memory_type_str(info->type), fl_pressure_level_str(level),
           flmem_bytes_str(info->available_bytes, avail, sizeof avail),
           flmem_bytes_str(info->total_bytes, total, sizeof total), action);
    flmem_session *s = d->s;
    if (s->event_count == FLMEM_MAX_EVENTS) {
        s->events_dropped++;
        return;
    }
    flmem_event *e = &s->events[s->event_count++];
    e->t = now_t(d);
    e->level_index = d->level;
    e->level = level;
    e->type = info->type;
    e->available = info->available_bytes;
    e->total = info->total_bytes;
    snprintf(e->action, sizeof e->action, "%s", action);
}

/* ---- recording -------------------------------------------------------------------------- */

static void sample(demo *d)
{
    flmem_session *s = d->s;
    if (s->sample_count == FLMEM_MAX_SAMPLES) {
        /* Keep every other sample: the chart stays evenly spaced at half the resolution. */
        for (size_t i = 0; i < FLMEM_MAX_SAMPLES / 2; i++) s->samples[i] = s->samples[2 * i];
        s->sample_count = FLMEM_MAX_SAMPLES / 2;
    }
    flmem_sample *p = &s->samples[s->sample_count++];
    p->t = now_t(d);
    for (unsigned t = 0; t < (unsigned)FL_MEMORY_TYPE_COUNT; t++) {
        fl_memory_stats ts;
        p->used[t] = fl_memory_get_type_stats(d->m, (fl_memory_type)t, &ts) == FL_OK ? ts.used_bytes : 0;
        if (d->frame_peak[t] > p->used[t]) p->used[t] = d->frame_peak[t];
        d->frame_peak[t] = 0;
    }
}

typedef struct walker {
    flmem_heapmap *map;
    const unsigned char *base;
} walker;

static void on_block(const void *block, size_t size, bool used, void *user)
{
    walker *w = user;
    flmem_heapmap *h = w->map;
    const unsigned char *p = block;
    if (p < w->base || p >= w->base + h->size) return; /* another region of the same strategy */
    size_t off = (size_t)(p - w->base);
    if (size > h->size - off) size = h->size - off;
    if (used) h->used += size;
    /* the used share of every slice the block covers */
    double slice = (double)h->size / FLMEM_BUCKETS;
    if (used) {
        size_t a = off, end = off + size;
        while (a < end) {
            size_t k = (size_t)((double)a / slice);
            if (k >= FLMEM_BUCKETS) k = FLMEM_BUCKETS - 1;
            size_t slice_end = (size_t)((double)(k + 1) * slice);
            if (slice_end <= a) slice_end = a + 1;
            size_t b = end < slice_end ? end : slice_end;
            h->bucket_used[k] += (float)((double)(b - a) / slice);
            a = b;
        }
    }
    /* runs of one state; beyond run_cap the map is drawn from the slices */
    /* Free neighbours merge into one run; used blocks stay apart, so each is drawn. */
    if (h->run_count > 0 && !used && !h->runs[h->run_count - 1].used &&
        h->runs[h->run_count - 1].offset + h->runs[h->run_count - 1].size == off) {
        h->runs[h->run_count - 1].size += size;
    } else if (h->run_count < h->run_cap) {
        h->runs[h->run_count].offset = off;
        h->runs[h->run_count].size = size;
        h->runs[h->run_count].used = used;
        h->run_count++;
    } else {
        h->bucketed = 1;
    }
}

static flmem_snapshot *snapshot(demo *d, const char *label)
{
    flmem_session *s = d->s;
    if (s->snapshot_count == FLMEM_MAX_SNAPSHOTS) return NULL;
    flmem_snapshot *snap = &s->snapshots[s->snapshot_count++];
    snprintf(snap->label, sizeof snap->label, "%s", label);
    fl_memory_region regions[FLMEM_MAX_REGIONS];
    size_t n = fl_memory_get_regions(d->m, regions, FLMEM_MAX_REGIONS);
    if (n > FLMEM_MAX_REGIONS) n = FLMEM_MAX_REGIONS;
    snap->map_count = 0;
    for (size_t i = 0; i < n; i++) {
        const fl_memory_region *r = &regions[i];
        fl_allocator *a;
        if (r->base == NULL || fl_memory_get_allocator(d->m, r->allocator, &a) != FL_OK) continue;
        flmem_heapmap *h = &snap->maps[snap->map_count];
        memset(h, 0, sizeof *h);
        snprintf(h->name, sizeof h->name, "%s", r->name);
        h->type = r->type;
        h->allocator = r->allocator;
        h->size = r->size;
        h->run_cap = 600;
        h->runs = calloc(h->run_cap, sizeof *h->runs);
        if (h->runs == NULL) continue;
        walker w = {h, r->base};
        if (fl_allocator_walk(a, on_block, &w) != FL_OK) {
            free(h->runs);
            continue;
        }
        if (h->bucketed) {
            free(h->runs);
            h->runs = NULL;
            h->run_count = 0;
        }
        snap->map_count++;
    }
    return snap;
}

/* ---- the session ---------------------------------------------------------------------- */

static const char *const level_names[] = {"Training Grounds", "Harbor at Dusk", "Streaming Valley", "Boss Arena"};
#define LEVELS 4u
#define STREAMING_LEVEL 2u
#define PAIRED_LEVEL 1u

static void progress(demo *d, unsigned frame_in_level, unsigned frames)
{
    fl_memory_stats g;
    if (fl_memory_get_stats(d->m, &g) != FL_OK) return;
    fl_pressure_info p;
    (void)fl_memory_get_pressure(d->m, FL_MEMORY_ALL_TYPES, &p);
    char used[32], total[32];
    flmem_bytes_str(g.used_bytes, used, sizeof used);
    flmem_bytes_str(g.total_bytes, total, sizeof total);
    if (d->tty) {
        unsigned width = 30, filled = frames ? (frame_in_level * width + frames / 2) / frames : width;
        char bar[40];
        for (unsigned i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
        bar[width] = '\0';
        printf("\r\033[K  level %u/%u [%s] %6.2fs  used %s of %s  pressure %s", d->level + 1, LEVELS, bar, now_t(d),
               used, total, fl_pressure_level_str(p.level));
        fflush(stdout);
        d->bar_shown = 1;
    } else {
        printf("  %6.2fs  level %u/%u  frame %u/%u  used %s of %s  pressure %s\n", now_t(d), d->level + 1, LEVELS,
               frame_in_level, frames, used, total, fl_pressure_level_str(p.level));
    }
}

static void pace(struct timespec *next, unsigned seconds, unsigned total_frames)
{
    long step = (long)((double)seconds * 1e9 / total_frames);
    next->tv_nsec += step;
    while (next->tv_nsec >= 1000000000L) {
        next->tv_nsec -= 1000000000L;
        next->tv_sec++;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > next->tv_sec || (now.tv_sec == next->tv_sec && now.tv_nsec >= next->tv_nsec)) return;
    struct timespec wait = {next->tv_sec - now.tv_sec, next->tv_nsec - now.tv_nsec};
    if (wait.tv_nsec < 0) {
        wait.tv_nsec += 1000000000L;
        wait.tv_sec--;
    }
    nanosleep(&wait, NULL);
}

static void load_level(demo *d)
{
    size_t video = type_total(d, FL_MEMORY_VIDEO), audio = type_total(d, FL_MEMORY_AUDIO),
           sys = type_total(d, FL_MEMORY_SYSTEM);
    unsigned n = (unsigned)between(d, 6, 12);
    for (unsigned i = 0; video && i < n; i++) take(d, &d->textures, between(d, video / 48, video / 20), FL_MEMORY_VIDEO, "texture");
    n = (unsigned)between(d, 4, 8);
    for (unsigned i = 0; audio && i < n; i++) take(d, &d->sounds, between(d, audio / 40, audio / 14), FL_MEMORY_AUDIO, "sound");
    n = (unsigned)between(d, 20, 40);
    for (unsigned i = 0; sys && i < n; i++) take(d, &d->meshes, between(d, sys / 500, sys / 120), FL_MEMORY_SYSTEM, "mesh");
    n = (unsigned)between(d, 800, 1600);
    for (unsigned i = 0; type_total(d, FL_MEMORY_POOL) && i < n; i++)
        take(d, &d->entities, between(d, 48, 240), FL_MEMORY_POOL, NULL);
}

static void unload_level(demo *d)
{
    drop_all(d, &d->entities);
    drop_all(d, &d->meshes);
    drop_all(d, &d->sounds);
    drop_all(d, &d->textures);
    drop_all(d, &d->streamed_vid);
    drop_all(d, &d->streamed_sys);
    drop_all(d, &d->particles);
}

/* Frame memory is back to empty when a frame ends: remember how much the frame used. */
static void note_frame_peak(demo *d, fl_memory_type t)
{
    fl_memory_stats ts;
    if (fl_memory_get_type_stats(d->m, t, &ts) == FL_OK && ts.used_bytes > d->frame_peak[t])
        d->frame_peak[t] = ts.used_bytes;
}

static void play_frame(demo *d)
{
    /* Per-frame temporary memory: a few scratch buffers, all returned at once. */
    size_t temp = type_total(d, FL_MEMORY_TEMPORARY);
    if (temp != 0) {
        fl_marker mark = fl_memory_mark(d->m, FL_MEMORY_TEMPORARY);
        unsigned n = (unsigned)between(d, 3, 8);
        for (unsigned i = 0; i < n; i++) {
            fl_allocation a;
            if (fl_memory_allocate_typed(d->m, between(d, temp / 64, temp / 16), FL_MEMORY_TEMPORARY, 0, FL_FLAG_NONE,
                                         &a) != FL_OK)
                d->s->failed_requests++;
        }
        note_frame_peak(d, FL_MEMORY_TEMPORARY);
        if (fl_memory_rewind(d->m, FL_MEMORY_TEMPORARY, mark) != FL_OK)
            fprintf(stderr, "flmem demo: rewind failed: %s\n", fl_last_error()->message);
    }
    /* Scoped work on the Stack region: freed in LIFO order within the frame. */
    if (type_total(d, FL_MEMORY_STACK) != 0) {
        fl_allocation outer, inner;
        size_t stack = type_total(d, FL_MEMORY_STACK);
        if (fl_memory_allocate_typed(d->m, between(d, stack / 64, stack / 16), FL_MEMORY_STACK, 0, FL_FLAG_NONE,
                                     &outer) == FL_OK) {
            if (fl_memory_allocate_typed(d->m, between(d, 256, stack / 32), FL_MEMORY_STACK, 0, FL_FLAG_NONE,
                                         &inner) == FL_OK) {
                note_frame_peak(d, FL_MEMORY_STACK);
                (void)fl_memory_deallocate(d->m, inner.ptr);
            }
            (void)fl_memory_deallocate(d->m, outer.ptr);
        }
    }
    /* Particles: born in the pool, dying after their lifetime (oldest first). */
    if (type_total(d, FL_MEMORY_POOL) != 0) {
        unsigned born = (unsigned)between(d, 0, 24);
        for (unsigned i = 0; i < born; i++) take(d, &d->particles, 32, FL_MEMORY_POOL, NULL);
        size_t dead = 0;
        while (dead < d->particles.count && d->frame - d->particles.born[dead] > 45) dead++;
        (void)drop_oldest(d, &d->particles, dead);
    }
    /* Network packets live a few frames. */
    if (type_total(d, FL_MEMORY_NETWORK) != 0) {
        unsigned n = (unsigned)between(d, 1, 4);
        for (unsigned i = 0; i < n; i++) take(d, &d->packets, between(d, 64, 1500), FL_MEMORY_NETWORK, NULL);
        size_t old = 0;
        while (old < d->packets.count && d->frame - d->packets.born[old] > 5) old++;
        (void)drop_oldest(d, &d->packets, old);
    }
    /* Caches of decoded assets grow until pressure trims them. */
    if (d->frame % 4 == 0) {
        size_t sys = type_total(d, FL_MEMORY_SYSTEM), video = type_total(d, FL_MEMORY_VIDEO);
        if (sys && d->cache_sys.count < 200)
            take_ex(d, &d->cache_sys, between(d, sys / 400, sys / 150), FL_MEMORY_SYSTEM, "cache", &cache_sys_mover);
        if (video && d->cache_vid.count < 200)
            take_ex(d, &d->cache_vid, between(d, video / 300, video / 100), FL_MEMORY_VIDEO, "cache", &cache_vid_mover);
    }
    /* The streaming level pulls its world in and never lets go on its own. */
    if (d->level == STREAMING_LEVEL) {
        size_t sys = type_total(d, FL_MEMORY_SYSTEM), video = type_total(d, FL_MEMORY_VIDEO);
        if (sys && !take(d, &d->streamed_sys, between(d, sys / (2 * d->per_level), sys / d->per_level), FL_MEMORY_SYSTEM, "stream")) {
            d->s->evicted += d->streamed_sys.count ? 1 : 0;
            (void)drop_oldest(d, &d->streamed_sys, 1);
        }
        if (video && !take(d, &d->streamed_vid, between(d, video / (2 * d->per_level), video / d->per_level), FL_MEMORY_VIDEO, "stream")) {
            d->s->evicted += d->streamed_vid.count ? 1 : 0;
            (void)drop_oldest(d, &d->streamed_vid, 1);
        }
    }
}

/* ---- defragmentation and waiting ---------------------------------------------------------- */

typedef struct progress_log {
    unsigned long long calls;
    double last;
    int decreased;
} progress_log;

static void on_defrag_progress(size_t moved, size_t total, double progress, void *user)
{
    (void)moved;
    (void)total;
    progress_log *p = user;
    if (p->calls > 0 && progress < p->last) p->decreased = 1;
    p->last = progress;
    p->calls++;
}

/* After a level unloaded, the caches it leaves behind are scattered among the holes of its
 * data: compact them. `paired`: heap maps before and after go into the report as a pair. */
static int defragment_between_levels(demo *d, int paired)
{
    flmem_session *s = d->s;
    flmem_snapshot *before = NULL, *after = NULL;
    char label[80];
    snprintf(label, sizeof label, "%s unloaded: its caches scattered, before defragmentation", level_names[d->level]);
    if (paired) before = snapshot(d, label);
    progress_log log = {0, 0.0, 0};
    d->moved_ok = d->moved_bad = 0;
    fl_defrag_result r;
    if (fl_memory_defragment(d->m, on_defrag_progress, &log, &r) != FL_OK) {
        fprintf(stderr, "flmem demo: defragmentation failed: %s\n", fl_last_error()->message);
        return FLMEM_EXIT_FAIL;
    }
    snprintf(label, sizeof label, "After defragmentation: the caches packed toward each region's start");
    if (paired) after = snapshot(d, label);
    if (before != NULL && after != NULL) {
        before->defrag_pair = 1;
        after->defrag_pair = 2;
    }
    char moved[32], lb[32], la[32];
    clear_bar(d);
    printf("  ~ %6.2fs  defragmented after %s: %zu allocations (%s) moved, largest free %s -> %s, fragmentation "
           "%.1f%% -> %.1f%%; %zu moved caches verified at their new address; progress reached %.2f in %llu calls\n",
           now_t(d), level_names[d->level], r.allocations_moved, flmem_bytes_str(r.bytes_moved, moved, sizeof moved),
           flmem_bytes_str(r.largest_free_before, lb, sizeof lb), flmem_bytes_str(r.largest_free_after, la, sizeof la),
           r.fragmentation_before, r.fragmentation_after, d->moved_ok, log.last, log.calls);
    if (d->moved_bad != 0 || d->moved_ok != r.allocations_moved || log.decreased || log.last != 1.0) {
        fprintf(stderr, "flmem demo: defragmentation check failed: %zu moves reported, %zu verified, %zu bad, "
                        "progress %s, last %.3f\n", r.allocations_moved, d->moved_ok, d->moved_bad,
                log.decreased ? "decreased" : "monotonic", log.last);
        return FLMEM_EXIT_FAIL;
    }
    if (s->defrag_count < sizeof s->defrags / sizeof s->defrags[0]) {
        flmem_defrag *e = &s->defrags[s->defrag_count++];
        e->t = now_t(d);
        e->after_level = d->level;
        e->result = r;
        e->progress_calls = log.calls;
        e->last_progress = log.last;
        e->verified = d->moved_ok;
    }
    return 0;
}

/* The loader thread of timeout_demo: finishes with its staging buffer a little later. */
typedef struct loader {
    fl_memory *m;
    void *staging;
    unsigned delay_ms;
    fl_status status;
} loader;

static void *loader_main(void *p)
{
    loader *l = p;
    struct timespec wait = {0, (long)l->delay_ms * 1000000L};
    nanosleep(&wait, NULL);
    l->status = fl_memory_deallocate(l->m, l->staging);
    return NULL;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/*
 * Before the last level loads, Video is full of staging buffers and a texture request with
 * a timeout cannot be served at once.
 *
 * The demo plays a game that streams on a loader thread, so it runs every profile with
 * thread_safe on where the platform has threads (flmem_create_profile: on a Dreamcast a
 * KallistiOS thread, on a PSP a pspsdk one; the profiles ship with it off, and a game that
 * never frees from a second thread keeps it off and saves the lock). A loader thread frees
 * the largest staging buffer 50 ms later; the request, asleep on the interface's condition
 * variable meanwhile (no polling), is served then, long before its 2 s timeout. Whichever
 * thread gets there first, the statistics end the same (a request served after waiting is
 * no failure, and Video is already at Critical, so its pressure callbacks ran while the
 * buffers filled it), which keeps the session deterministic.
 *
 * Where the platform has no threads (a freestanding build), the interface is not
 * thread_safe: no second thread may free into it, and by contract a timeout there fails at
 * once (waiting could only wait for itself). The demo then shows that half of the
 * contract: the same request fails at once with OutOfMemory.
 */
static int timeout_demo(demo *d)
{
    flmem_wait *w = &d->s->wait;
    const fl_platform_hooks *os = fl_platform_default();
    w->threaded = d->thread_safe && os->cond_wait != NULL && os->now_ns != NULL;
    w->timeout_ms = w->threaded ? 2000u : 500u;
    w->t = now_t(d);
    void *staging[64];
    size_t n = 0;
    while (n < 64) { /* the largest free block each time: a handful of buffers fill the buddy */
        fl_memory_stats vs;
        if (fl_memory_get_type_stats(d->m, FL_MEMORY_VIDEO, &vs) != FL_OK) break;
        size_t want = vs.largest_free_block;
        if (d->max_allocation != 0 && want > d->max_allocation) want = d->max_allocation;
        fl_allocation a;
        if (want == 0 || fl_memory_allocate_typed(d->m, want, FL_MEMORY_VIDEO, 0, 0, &a) != FL_OK) break;
        if (n == 0) w->size = want;
        staging[n++] = a.ptr;
    }
    if (n == 0) return 0;
    fl_alloc_request req = fl_make_allocation_request(w->size, FL_MEMORY_VIDEO, 0, FL_FLAG_NONE);
    req.tag = "texture";
    req.timeout_ms = w->timeout_ms;
    loader l = {d->m, staging[0], 50, FL_OK};
    pthread_t thread;
    size_t first_kept = 0;
    if (w->threaded) {
        if (pthread_create(&thread, NULL, loader_main, &l) != 0) {
            fprintf(stderr, "flmem demo: cannot start the loader thread\n");
            w->threaded = 0;
        } else {
            first_kept = 1; /* the loader frees staging[0] */
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fl_allocation a;
    w->status = fl_memory_allocate_request(d->m, &req, &a);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char why[160];
    snprintf(why, sizeof why, "%s", w->status == FL_OK ? "" : fl_last_error()->message);
    if (first_kept) pthread_join(thread, NULL);
    w->waited_ms = ms_between(&t0, &t1);
    w->done = 1;
    int rc = 0;
    if (w->status == FL_OK && fl_memory_deallocate(d->m, a.ptr) != FL_OK) rc = FLMEM_EXIT_FAIL;
    for (size_t i = first_kept; i < n; i++)
        if (fl_memory_deallocate(d->m, staging[i]) != FL_OK) rc = FLMEM_EXIT_FAIL;
    char b[32];
    clear_bar(d);
    if (w->threaded)
        printf("  ~ %6.2fs  waited %.1f ms for %s of Video (timeout %u ms): %s once the loader thread freed its "
               "staging buffer\n", w->t, w->waited_ms, flmem_bytes_str(w->size, b, sizeof b), w->timeout_ms,
               w->status == FL_OK ? "served" : fl_status_str(w->status));
    else
        printf("  ~ %6.2fs  %s of Video with a %u ms timeout, Video full: %s at once (%.1f ms): the %s profile is not "
               "thread_safe, so no other thread can free memory meanwhile\n", w->t,
               flmem_bytes_str(w->size, b, sizeof b), w->timeout_ms, fl_status_str(w->status), w->waited_ms,
               fl_platform_str(d->s->platform));
    /* Served (threaded) or refused at once (not): anything else is a bug worth a failure. */
    if (w->threaded ? w->status != FL_OK || l.status != FL_OK : w->status != FL_ERR_OUT_OF_MEMORY) {
        fprintf(stderr, "flmem demo: the timeout request ended with %s: %s\n", fl_status_str(w->status), why);
        rc = FLMEM_EXIT_FAIL;
    }
    return rc;
}

/* Used bytes at which each level starts for type t: the profile's thresholds (available
 * bytes) or the ratio table. */
static void bands(flmem_session *s, const fl_memory_config *c, fl_memory_type t)
{
    const fl_pressure_thresholds *p = &c->pressure[t];
    size_t total = s->total[t];
    size_t thr[4] = {p->low, p->medium, p->high, p->critical};
    if (thr[0] == 0 && thr[1] == 0 && thr[2] == 0 && thr[3] == 0) {
        thr[0] = total / 2;
        thr[1] = total / 4;
        thr[2] = total / 10;
        thr[3] = total / 20;
    }
    for (int i = 2; i >= 0; i--)
        if (thr[i] == 0) thr[i] = thr[i + 1];
    for (unsigned i = 0; i < 4; i++) s->band_start[t][i] = thr[i] != 0 && thr[i] < total ? total - thr[i] : 0;
}

static void print_tables(const flmem_session *s)
{
    char b[6][32];
    printf("\nStatistics per memory type\n");
    printf("%-10s %11s %11s %11s %7s %8s %8s %7s %6s %11s\n", "type", "capacity", "used", "peak", "live", "allocs",
           "frees", "failed", "frag%", "largest");
    for (unsigned t = 0; t <= (unsigned)FL_MEMORY_TYPE_COUNT; t++) {
        const fl_memory_stats *m = t < (unsigned)FL_MEMORY_TYPE_COUNT ? &s->types[t] : &s->global;
        if (m->total_bytes == 0) continue;
        printf("%-10s %11s %11s %11s %7zu %8llu %8llu %7llu %6.1f %11s\n",
               t < (unsigned)FL_MEMORY_TYPE_COUNT ? fl_memory_type_str((fl_memory_type)t) : "(all)",
               flmem_bytes_str(m->total_bytes, b[0], 32), flmem_bytes_str(m->used_bytes, b[1], 32),
               flmem_bytes_str(m->peak_used_bytes, b[2], 32), m->allocation_count,
               (unsigned long long)m->total_allocations, (unsigned long long)m->total_deallocations,
               (unsigned long long)m->failed_allocations, m->fragmentation_pct,
               flmem_bytes_str(m->largest_free_block, b[3], 32));
    }
    printf("\nStatistics per allocator\n");
    printf("%-9s %11s %11s %11s %7s %8s %8s %6s %6s %9s\n", "allocator", "capacity", "used", "peak", "live", "allocs",
           "failed", "frag%", "eff%", "overhead");
    for (size_t i = 0; i < s->allocator_count; i++) {
        const fl_allocator_stats *a = &s->allocator_stats[i];
        printf("%-9s %11s %11s %11s %7zu %8llu %8llu %6.1f %6.1f %9zu\n", fl_allocator_type_str(s->allocators[i]),
               flmem_bytes_str(a->total_capacity, b[0], 32), flmem_bytes_str(a->used_bytes, b[1], 32),
               flmem_bytes_str(a->peak_used_bytes, b[2], 32), a->allocation_count,
               (unsigned long long)a->total_allocations, (unsigned long long)a->failed_allocations,
               100.0 * a->fragmentation_ratio, 100.0 * a->allocation_efficiency, a->allocation_overhead);
    }
}

static void finish_stats(demo *d)
{
    flmem_session *s = d->s;
    (void)fl_memory_get_stats(d->m, &s->global);
    for (unsigned t = 0; t < (unsigned)FL_MEMORY_TYPE_COUNT; t++)
        (void)fl_memory_get_type_stats(d->m, (fl_memory_type)t, &s->types[t]);
    s->allocator_count = fl_memory_get_available_allocators(d->m, s->allocators, FL_ALLOCATOR_TYPE_COUNT);
    for (size_t i = 0; i < s->allocator_count; i++)
        (void)fl_memory_get_allocator_stats(d->m, s->allocators[i], &s->allocator_stats[i]);
}

static void free_session(flmem_session *s)
{
    for (size_t i = 0; i < s->snapshot_count; i++)
        for (size_t k = 0; k < s->snapshots[i].map_count; k++) free(s->snapshots[i].maps[k].runs);
    free(s);
}

int flmem_demo(const flmem_demo_options *o)
{
    flmem_session *s = calloc(1, sizeof *s);
    demo *d = calloc(1, sizeof *d);
    if (s == NULL || d == NULL) {
        free(s);
        free(d);
        fprintf(stderr, "flmem demo: out of memory for the session record\n");
        return FLMEM_EXIT_FAIL;
    }
    fl_memory_config config;
    void *backing;
    fl_status st = flmem_create_profile(o->platform, true, &config, &d->m, &backing);
    if (st != FL_OK) {
        fprintf(stderr, "flmem demo: cannot create the %s profile: %s\n", fl_platform_str(o->platform),
                fl_last_error()->message);
        free(s);
        free(d);
        return FLMEM_EXIT_FAIL;
    }
    d->s = s;
    d->max_allocation = config.max_allocation;
    d->thread_safe = config.thread_safe;
    cache_sys_mover = (mover){d, &d->cache_sys};
    cache_vid_mover = (mover){d, &d->cache_vid};
    d->rng = 0x9E3779B97F4A7C15ull ^ o->seed;
    d->tty = isatty(fileno(stdout));
    s->platform = o->platform;
    s->seconds = o->seconds;
    s->levels = LEVELS;
    s->skipped[0] = '\0'; /* every step of the session runs */
    for (unsigned l = 0; l < LEVELS; l++) snprintf(s->level_names[l], sizeof s->level_names[l], "%s", level_names[l]);
    for (unsigned t = 0; t < (unsigned)FL_MEMORY_TYPE_COUNT; t++) {
        fl_pressure_info p;
        s->total[t] = fl_memory_get_pressure(d->m, (fl_memory_type)t, &p) == FL_OK ? p.total_bytes : 0;
        bands(s, &config, (fl_memory_type)t);
    }

    watcher watchers[4];
    for (unsigned i = 0; i < 4; i++) {
        watchers[i].d = d;
        watchers[i].at = (fl_pressure_level)(FL_PRESSURE_LOW + i);
        uint32_t id;
        if (fl_memory_register_pressure_callback(d->m, watchers[i].at, on_pressure, &watchers[i], &id) != FL_OK)
            fprintf(stderr, "flmem demo: cannot register a pressure callback: %s\n", fl_last_error()->message);
    }
    fl_memory_stats g;
    (void)fl_memory_get_stats(d->m, &g);
    char total[32];
    printf("flmem demo: a %u-second game session on the %s profile (%s managed, seed %u)\n", o->seconds,
           fl_platform_str(o->platform), flmem_bytes_str(g.total_bytes, total, sizeof total), o->seed);

    unsigned total_frames = o->seconds * FPS;
    unsigned per_level = total_frames / LEVELS > 8 ? total_frames / LEVELS : 8;
    total_frames = per_level * LEVELS;
    d->per_level = per_level;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    int failed = 0;
    for (d->level = 0; d->level < LEVELS && !failed; d->level++) {
        if (d->level == LEVELS - 1) failed = timeout_demo(d) != 0;
        clear_bar(d);
        printf("== level %u/%u: %s%s\n", d->level + 1, LEVELS, level_names[d->level],
               d->level == STREAMING_LEVEL ? " (streams its world in: watch the pressure)" : "");
        load_level(d);
        sample(d);
        for (unsigned f = 0; f < per_level; f++) {
            d->frame++;
            play_frame(d);
            sample(d);
            if (d->tty ? (f % 4 == 3 || f + 1 == per_level) : ((f + 1) % FPS == 0 || f + 1 == per_level))
                progress(d, f + 1, per_level);
            pace(&next, o->seconds, total_frames);
        }
        if (d->tty && d->bar_shown) { /* keep each level's finished bar on screen */
            putchar('\n');
            d->bar_shown = 0;
        }
        if (d->level == STREAMING_LEVEL) snapshot(d, "Streaming Valley at its end, before it unloads");
        if (d->level == LEVELS - 1) snapshot(d, "Boss Arena at its end: level data among the regrown caches");
        unload_level(d);
        sample(d);
        /* The pair of heap maps in the report: after the second level, whose caches have grown
         * for two levels (the streaming level's pressure callbacks free them all). */
        if (d->level + 1 < LEVELS && defragment_between_levels(d, d->level == PAIRED_LEVEL) != 0) failed = 1;
    }
    clear_bar(d);
    drop_all(d, &d->packets);
    snapshot(d, "End of the session (caches still live)");
    s->frames = d->frame;
    finish_stats(d);
    print_tables(s);
    printf("\n%llu frames, %llu requests refused (and survived), %llu cached assets freed by pressure callbacks, "
           "%llu streamed chunks evicted\n", s->frames, s->failed_requests, s->cache_freed, s->evicted);
    if (s->skipped[0] != '\0') printf("not shown yet: %s\n", s->skipped);
    drop_all(d, &d->cache_sys);
    drop_all(d, &d->cache_vid);
    int rc = failed ? FLMEM_EXIT_FAIL : 0;
    if (fl_memory_validate(d->m) != FL_OK) {
        fprintf(stderr, "flmem demo: validation failed: %s\n", fl_last_error()->message);
        rc = FLMEM_EXIT_FAIL;
    }
    (void)fl_memory_get_stats(d->m, &g);
    if (g.allocation_count != 0) {
        fprintf(stderr, "flmem demo: %zu allocations still live at the end\n", g.allocation_count);
        rc = FLMEM_EXIT_FAIL;
    }
    if (o->report != NULL && rc == 0) {
        rc = flmem_report_write(s, o->report);
        if (rc == 0) printf("report written to %s\n", o->report);
    }
    fl_memory_destroy(d->m);
    free(backing);
    free(d);
    free_session(s);
    return rc;
}
