/*
 * Soak: a simulated game session on the DREAMCAST profile, all of it inside one block of
 * backing memory (no OS call after create), long enough for fragmentation to show.
 *
 * The session: a few game-global allocations at boot, then level after level. A level
 * loads (meshes and scripts in System, textures in Video, samples in Audio, entity and
 * string pools), plays FRAMES frames and unloads (everything it loaded, in random
 * order). Each frame: scratch memory from Temporary between a mark and a rewind, scoped
 * LIFO memory from Stack, entities spawned and despawned (Pool, small System requests),
 * a dynamic array grown with reallocate, and streaming: every few frames a chunk of
 * System data and a texture come in and the oldest chunk of a fixed window goes. Each
 * level also leaves one record behind (the previous level's is freed), so the allocators
 * never start a level from the state they were created in.
 *
 * Every level replays the same level: the same load requests and the same frames (their
 * generator restarts with the level), so what differs from one level to the next is only
 * the state the allocators carry over (where the records and the free space lie) and the
 * unload order (a session-wide generator): any growth of the footprint is creep.
 * Per level it prints the footprint (used bytes after loading, and the peak while
 * playing), what remains after unloading, and the fragmentation and largest free block of
 * System and Video. The assertions, from the second level to the last (the first warms
 * up: pool classes, the record table): what remains after unloading is the same, byte
 * for byte and block for block (no leak); the loaded footprint and the peak do not grow
 * by more than 2 %; System's and Video's largest free blocks after the last unload are
 * no worse than 90 % of the worst seen from the second level on (a level record left
 * mid-heap moves that figure back and forth; a trend down is creep); no request of the
 * session fails; validate passes after every level. Block contents carry a pattern at both ends, checked when freed.
 *
 * Length: FLMEM_SOAK_LEVELS levels (default 6) of 300 frames scaled by FLMEM_TEST_SCALE;
 * a long run: FLMEM_SOAK_LEVELS=200 FLMEM_TEST_SCALE=4 build/gcc/tests/test_soak.
 */
#include "memory_test_util.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_LEVEL_BLOCKS 4096
#define MAX_ENTITIES 2048
#define STREAM_WINDOW 12

typedef struct block {
    void *ptr;
    size_t size;
    uint64_t id;
} block;

static fl_memory *mem;
static uint64_t next_id;
static unsigned failures;

/* Patterns at both ends: cheap enough for hundreds of thousands of blocks. */
static void mark_block(block *b)
{
    b->id = ++next_id;
    size_t head = b->size < 32 ? b->size : 32;
    harness_fill(b->ptr, head, b->id);
    if (b->size > 64) harness_fill((unsigned char *)b->ptr + b->size - 32, 32, b->id ^ 0xFFu);
}

static void check_block(const block *b)
{
    size_t head = b->size < 32 ? b->size : 32;
    CHECK_MSG(harness_pattern_ok(b->ptr, head, b->id), "block %p (%zu bytes) lost its head", b->ptr, b->size);
    if (b->size > 64)
        CHECK_MSG(harness_pattern_ok((unsigned char *)b->ptr + b->size - 32, 32, b->id ^ 0xFFu),
                  "block %p (%zu bytes) lost its tail", b->ptr, b->size);
}

static bool take(size_t size, fl_memory_type type, block *out)
{
    fl_allocation a;
    fl_status st = fl_memory_allocate_typed(mem, size, type, 0, 0, &a);
    if (st != FL_OK) {
        failures++;
        fprintf(stderr, "    %s request of %zu bytes failed: %s\n", fl_memory_type_str(type), size,
                fl_last_error()->message);
        return false;
    }
    out->ptr = a.ptr;
    out->size = size;
    mark_block(out);
    return true;
}

static void give(block *b)
{
    check_block(b);
    CHECK_OK(fl_memory_deallocate(mem, b->ptr));
    b->ptr = NULL;
}

/* Log-uniform in [lo, hi]: many small, some large, as real assets are. */
static size_t log_size(harness_rng *r, size_t lo, size_t hi)
{
    unsigned bits_lo = 0, bits_hi = 0;
    while (((size_t)1 << bits_lo) < lo) bits_lo++;
    while (((size_t)1 << bits_hi) < hi) bits_hi++;
    unsigned b = (unsigned)harness_range(r, bits_lo, bits_hi);
    size_t base = (size_t)1 << b;
    size_t v = base + harness_range(r, 0, base - 1);
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- a level ----------------------------------------------------------------------------- */

typedef struct level {
    block loaded[MAX_LEVEL_BLOCKS];
    size_t nloaded;
    block entities[MAX_ENTITIES];
    size_t nentities;
    block stream[STREAM_WINDOW][2];
    size_t stream_next, nstream;
    block array;
} level;

static level lv;

static void load(void)
{
    harness_rng design = {0x5EED1E7E1ull}; /* the same level every time */
    lv.nloaded = 0;
    for (int i = 0; i < 48; i++) /* meshes and level data */
        if (take(log_size(&design, 4 * KIB, 96 * KIB), FL_MEMORY_SYSTEM, &lv.loaded[lv.nloaded])) lv.nloaded++;
    for (int i = 0; i < 300; i++) /* scripts, strings, tables: many go to the pools */
        if (take(log_size(&design, 24, 3 * KIB), FL_MEMORY_SYSTEM, &lv.loaded[lv.nloaded])) lv.nloaded++;
    for (int i = 0; i < 36; i++) /* textures */
        if (take(log_size(&design, 8 * KIB, 256 * KIB), FL_MEMORY_VIDEO, &lv.loaded[lv.nloaded])) lv.nloaded++;
    for (int i = 0; i < 24; i++) /* sound samples */
        if (take(log_size(&design, 4 * KIB, 64 * KIB), FL_MEMORY_AUDIO, &lv.loaded[lv.nloaded])) lv.nloaded++;
    for (int i = 0; i < 600; i++) /* pooled objects */
        if (take(log_size(&design, 16, 1 * KIB), FL_MEMORY_POOL, &lv.loaded[lv.nloaded])) lv.nloaded++;
    lv.nentities = 0;
    lv.nstream = lv.stream_next = 0;
    lv.array.ptr = NULL;
}

static void stream_step(harness_rng *r)
{
    if (lv.nstream == STREAM_WINDOW) { /* the oldest chunk goes */
        size_t oldest = lv.stream_next;
        give(&lv.stream[oldest][0]);
        give(&lv.stream[oldest][1]);
        lv.nstream--;
    }
    block *slot = lv.stream[lv.stream_next];
    if (!take(log_size(r, 16 * KIB, 64 * KIB), FL_MEMORY_SYSTEM, &slot[0])) return;
    if (!take(log_size(r, 16 * KIB, 128 * KIB), FL_MEMORY_VIDEO, &slot[1])) {
        give(&slot[0]);
        return;
    }
    lv.stream_next = (lv.stream_next + 1) % STREAM_WINDOW;
    lv.nstream++;
}

static void frame(harness_rng *r, unsigned f)
{
    /* Scratch memory for the frame. */
    fl_marker scratch = fl_memory_mark(mem, FL_MEMORY_TEMPORARY);
    unsigned temps = (unsigned)harness_range(r, 20, 60);
    for (unsigned i = 0; i < temps; i++) {
        block t;
        if (take(log_size(r, 64, 8 * KIB), FL_MEMORY_TEMPORARY, &t)) check_block(&t);
    }
    /* Scoped work: LIFO. */
    block scoped[8];
    unsigned depth = (unsigned)harness_range(r, 2, 8), made = 0;
    for (unsigned i = 0; i < depth; i++)
        if (take(log_size(r, 32, 4 * KIB), FL_MEMORY_STACK, &scoped[made])) made++;
    while (made) give(&scoped[--made]);
    CHECK_OK(fl_memory_rewind(mem, FL_MEMORY_TEMPORARY, scratch));

    /* Entities come and go. */
    unsigned churn = (unsigned)harness_range(r, 4, 24);
    for (unsigned i = 0; i < churn; i++) {
        if (lv.nentities > 0 && (lv.nentities == MAX_ENTITIES || harness_range(r, 0, 1))) {
            size_t k = harness_range(r, 0, lv.nentities - 1);
            give(&lv.entities[k]);
            lv.entities[k] = lv.entities[--lv.nentities];
        } else if (lv.nentities < 1200) {
            size_t size = harness_range(r, 0, 7) ? log_size(r, 16, 256) : log_size(r, 300, 2 * KIB);
            if (take(size, FL_MEMORY_SYSTEM, &lv.entities[lv.nentities])) lv.nentities++;
        }
    }

    /* A dynamic array grows (reallocate keeps its bytes) and is cleared now and then. */
    if (lv.array.ptr == NULL) {
        (void)take(256, FL_MEMORY_SYSTEM, &lv.array);
    } else if (lv.array.size < 48 * KIB && harness_range(r, 0, 3) == 0) {
        check_block(&lv.array);
        fl_allocation a;
        size_t grown = lv.array.size + lv.array.size / 2;
        if (fl_memory_reallocate(mem, lv.array.ptr, grown, &a) == FL_OK) {
            CHECK(harness_pattern_ok(a.ptr, 32, lv.array.id));
            lv.array.ptr = a.ptr;
            lv.array.size = grown;
            mark_block(&lv.array);
        } else {
            failures++;
        }
    } else if (lv.array.size >= 48 * KIB) {
        give(&lv.array);
    }

    if (f % 6 == 0) stream_step(r);
}

static void unload(harness_rng *r)
{
    /* In random order, as a resource manager's hash table would. */
    for (size_t i = lv.nloaded; i > 1; i--) {
        size_t j = harness_range(r, 0, i - 1);
        block t = lv.loaded[i - 1];
        lv.loaded[i - 1] = lv.loaded[j];
        lv.loaded[j] = t;
    }
    for (size_t i = 0; i < lv.nloaded; i++) give(&lv.loaded[i]);
    while (lv.nentities) give(&lv.entities[--lv.nentities]);
    for (size_t i = 0; i < STREAM_WINDOW && lv.nstream; i++) {
        size_t k = (lv.stream_next + STREAM_WINDOW - lv.nstream) % STREAM_WINDOW;
        give(&lv.stream[k][0]);
        give(&lv.stream[k][1]);
        lv.nstream--;
    }
    if (lv.array.ptr) give(&lv.array);
}

/* ---- the session ------------------------------------------------------------------------ */

typedef struct level_report {
    size_t loaded, peak, after_unload, count_after;
    double frag_system, frag_video;
    size_t largest_system, largest_video;
} level_report;

static size_t env_size(const char *name, size_t fallback)
{
    const char *s = getenv(name);
    return s && atol(s) > 0 ? (size_t)atol(s) : fallback;
}

static void test_game_session(void)
{
    size_t levels = env_size("FLMEM_SOAK_LEVELS", 6);
    unsigned frames = (unsigned)harness_scaled(300);
    if (levels < 3) levels = 3;
    fl_memory_config c;
    CHECK_OK(fl_memory_config_default(FL_PLATFORM_DREAMCAST, &c));
    size_t need = 0;
    CHECK_OK(fl_memory_backing_size(&c, &need));
    void *backing = malloc(need);
    CHECK(backing != NULL);
    c.backing_memory = backing;
    c.backing_size = need;
    mem = make_memory(&c);
    harness_rng r = harness_rng_seeded("soak", 20261124);
    printf("soak: DREAMCAST profile in %zu bytes of backing memory, %zu levels x %u frames\n", need, levels, frames);

    /* Boot: game-global state that lives for the whole session. */
    block globals[6];
    CHECK(take(256 * KIB, FL_MEMORY_SYSTEM, &globals[0]));   /* engine state */
    CHECK(take(64 * KIB, FL_MEMORY_SYSTEM, &globals[1]));    /* save data */
    CHECK(take(512 * KIB, FL_MEMORY_VIDEO, &globals[2]));    /* UI atlas, font */
    CHECK(take(128 * KIB, FL_MEMORY_AUDIO, &globals[3]));    /* UI sounds */
    CHECK(take(48 * KIB, FL_MEMORY_NETWORK, &globals[4]));   /* network buffers */
    CHECK(take(2 * KIB, FL_MEMORY_SYSTEM, &globals[5]));     /* the previous level's record */

    level_report *rep = (level_report *)calloc(levels, sizeof *rep);
    CHECK(rep != NULL);
    printf("  level  loaded KiB  peak KiB  after-unload KiB  System frag%% largest KiB  Video frag%% largest KiB\n");
    for (size_t l = 0; l < levels; l++) {
        harness_rng play = {0xF7A3E5ull}; /* the same frames every level */
        load();
        fl_memory_stats g, s, v;
        CHECK_OK(fl_memory_get_stats(mem, &g));
        rep[l].loaded = g.used_bytes;
        size_t peak = g.used_bytes;
        for (unsigned f = 0; f < frames; f++) {
            frame(&play, f);
            if (f == frames / 2) { /* mid-level: this level's record replaces the last one */
                block record;
                if (take(2 * KIB + l % 3 * 512, FL_MEMORY_SYSTEM, &record)) {
                    give(&globals[5]);
                    globals[5] = record;
                }
            }
            CHECK_OK(fl_memory_get_stats(mem, &g));
            if (g.used_bytes > peak) peak = g.used_bytes;
        }
        rep[l].peak = peak;
        CHECK_OK(fl_memory_validate(mem));
        unload(&r);
        CHECK_OK(fl_memory_validate(mem));
        CHECK_OK(fl_memory_get_stats(mem, &g));
        CHECK_OK(fl_memory_get_type_stats(mem, FL_MEMORY_SYSTEM, &s));
        CHECK_OK(fl_memory_get_type_stats(mem, FL_MEMORY_VIDEO, &v));
        rep[l].after_unload = g.used_bytes;
        rep[l].count_after = g.allocation_count;
        rep[l].frag_system = s.fragmentation_pct;
        rep[l].frag_video = v.fragmentation_pct;
        rep[l].largest_system = s.largest_free_block;
        rep[l].largest_video = v.largest_free_block;
        printf("  %5zu  %10zu  %8zu  %16zu  %12.2f %11zu  %11.2f %11zu\n", l + 1, rep[l].loaded / KIB,
               rep[l].peak / KIB, rep[l].after_unload / KIB, rep[l].frag_system, rep[l].largest_system / KIB,
               rep[l].frag_video, rep[l].largest_video / KIB);
        check_identities(mem);
    }

    /* No creep from the second level to the last. */
    const level_report *second = &rep[1], *last = &rep[levels - 1];
    CHECK_MSG(failures == 0, "%u requests of the session failed", failures);
    CHECK_MSG(last->count_after == second->count_after, "live blocks after unloading: %zu at level 2, %zu at the end",
              second->count_after, last->count_after);
    CHECK_MSG(last->after_unload <= second->after_unload + 1 * KIB,
              "bytes left after unloading crept from %zu to %zu", second->after_unload, last->after_unload);
    CHECK_MSG(last->loaded <= second->loaded + second->loaded / 50, "loaded footprint crept from %zu to %zu",
              second->loaded, last->loaded);
    CHECK_MSG(last->peak <= second->peak + second->peak / 50, "peak footprint crept from %zu to %zu", second->peak,
              last->peak);
    size_t worst_system = SIZE_MAX, worst_video = SIZE_MAX;
    for (size_t l = 1; l + 1 < levels; l++) {
        if (rep[l].largest_system < worst_system) worst_system = rep[l].largest_system;
        if (rep[l].largest_video < worst_video) worst_video = rep[l].largest_video;
    }
    CHECK_MSG(last->largest_system >= worst_system - worst_system / 10,
              "System's largest free block shrank to %zu (worst before: %zu)", last->largest_system, worst_system);
    CHECK_MSG(last->largest_video >= worst_video - worst_video / 10,
              "Video's largest free block shrank to %zu (worst before: %zu)", last->largest_video, worst_video);
    fl_memory_stats g;
    CHECK_OK(fl_memory_get_stats(mem, &g));
    CHECK(g.failed_allocations == 0);
    printf("soak: %llu allocations, %llu frees, peak %zu KiB of %zu KiB\n", (unsigned long long)g.total_allocations,
           (unsigned long long)g.total_deallocations, g.peak_used_bytes / KIB, g.total_bytes / KIB);

    for (int i = 0; i < 6; i++) give(&globals[i]);
    CHECK_OK(fl_memory_get_stats(mem, &g));
    CHECK_EQ_SIZE(g.allocation_count, 0);
    free(rep);
    fl_memory_destroy(mem);
    free(backing);
}

int main(void)
{
    RUN(test_game_session);
    return harness_finish();
}
