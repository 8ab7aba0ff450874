/*
 * flmem: the flight-memory command-line tool. One concern per file:
 *   main.c    argument parsing and the sub-commands' dispatch
 *   demo.c    the simulated game session (`flmem demo`), recording a flmem_session
 *   report.c  the self-contained HTML report of a recorded session (`--report`)
 *   stats.c   `flmem stats --json`: a small workload, then fl_memory_dump_json
 *   size.c    `flmem size`: the sizing helper for planning a console memory map
 * The tool uses only the public API (include/flight/memory.h).
 */
#ifndef FLMEM_H
#define FLMEM_H

#include <flight/memory.h>
#include <stdio.h>

/* Exit codes: 0 success, 1 the run failed, 2 bad command line. */
#define FLMEM_EXIT_FAIL 1
#define FLMEM_EXIT_USAGE 2

#define FLMEM_MAX_SAMPLES 1024u
#define FLMEM_MAX_EVENTS 256u
#define FLMEM_MAX_SNAPSHOTS 6u
#define FLMEM_MAX_REGIONS 16u
#define FLMEM_BUCKETS 512u

/* Memory used per type at one moment. */
typedef struct flmem_sample {
    double t; /* simulated seconds */
    size_t used[FL_MEMORY_TYPE_COUNT];
} flmem_sample;

/* One pressure rise, as a callback saw it, and what the demo's manager did about it. */
typedef struct flmem_event {
    double t;
    unsigned level_index;
    fl_pressure_level level;
    fl_memory_type type; /* FL_MEMORY_ALL_TYPES for the interface as a whole */
    size_t available, total;
    char action[96];
} flmem_event;

/* A heap map: a region's blocks merged into runs of the same state, or (when there are
 * too many runs to draw) the used share of FLMEM_BUCKETS equal slices. */
typedef struct flmem_run {
    size_t offset, size;
    int used;
} flmem_run;

typedef struct flmem_heapmap {
    char name[48];
    fl_memory_type type;
    fl_allocator_type allocator;
    size_t size, used;
    size_t run_count, run_cap;
    flmem_run *runs;                  /* NULL when bucketed */
    float bucket_used[FLMEM_BUCKETS]; /* used share of each slice, 0..1 */
    int bucketed;
} flmem_heapmap;

typedef struct flmem_snapshot {
    char label[80];
    int defrag_pair; /* 0; 1: before the defragmentation the report pairs; 2: after it */
    size_t map_count;
    flmem_heapmap maps[FLMEM_MAX_REGIONS];
} flmem_snapshot;

/* A defragmentation between two levels (fl_memory_defragment), and its check. */
typedef struct flmem_defrag {
    double t;
    unsigned after_level; /* index of the level that just unloaded */
    fl_defrag_result result;
    unsigned long long progress_calls;
    double last_progress;
    size_t verified; /* moved caches whose contents were checked at their new address */
} flmem_defrag;

/* The request with a timeout the demo makes once, at the last level's load. */
typedef struct flmem_wait {
    int done;
    int threaded;   /* the interface is thread_safe and the host has threads: another thread frees */
    size_t size;    /* bytes of Video asked for */
    unsigned timeout_ms;
    fl_status status;
    double waited_ms; /* wall time the request took */
    double t;
} flmem_wait;

typedef struct flmem_session {
    fl_platform platform;
    unsigned seconds, levels;
    char level_names[8][32];
    size_t total[FL_MEMORY_TYPE_COUNT]; /* pressure capacity per type (0: absent) */
    /* Used bytes at which Low, Medium, High and Critical start, per type (0: none). */
    size_t band_start[FL_MEMORY_TYPE_COUNT][4];
    size_t sample_count;
    flmem_sample samples[FLMEM_MAX_SAMPLES];
    size_t event_count, events_dropped;
    flmem_event events[FLMEM_MAX_EVENTS];
    size_t snapshot_count;
    flmem_snapshot snapshots[FLMEM_MAX_SNAPSHOTS];
    /* the final tables */
    fl_memory_stats global;
    fl_memory_stats types[FL_MEMORY_TYPE_COUNT];
    size_t allocator_count;
    fl_allocator_type allocators[FL_ALLOCATOR_TYPE_COUNT];
    fl_allocator_stats allocator_stats[FL_ALLOCATOR_TYPE_COUNT];
    size_t defrag_count;
    flmem_defrag defrags[8];
    flmem_wait wait;
    unsigned long long frames, failed_requests, cache_freed, evicted;
    char skipped[160]; /* steps of the issue not run yet, and why ("" when none) */
} flmem_session;

typedef struct flmem_demo_options {
    fl_platform platform;
    unsigned seconds;
    const char *report; /* NULL: none */
    unsigned seed;
} flmem_demo_options;

int flmem_demo(const flmem_demo_options *o);
int flmem_report_write(const flmem_session *s, const char *path);
int flmem_stats_json(fl_platform platform);
int flmem_size(fl_platform platform, int argc, char **argv);

/* Shared helpers (main.c). */
int flmem_parse_platform(const char *text, fl_platform *out);
int flmem_parse_type(const char *text, size_t length, fl_memory_type *out);
int flmem_parse_bytes(const char *text, size_t *out);
/* "1.50 MiB" into buf. */
const char *flmem_bytes_str(size_t bytes, char *buf, size_t cap);
/* The interface for a platform's profile (Dreamcast and PSP inside one backing block,
 * as on the machine). *backing gets the block to free after fl_memory_destroy. */
/* with_loader: turn thread_safe on when the platform has locks and condition variables (the
 * demo's loader thread frees memory a waiting request gets). */
fl_status flmem_create_profile(fl_platform platform, bool with_loader, fl_memory_config *config, fl_memory **out,
                               void **backing);

#endif
