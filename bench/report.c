/*
 * Printing: one plain-text table per workload, its checksum line and its target line, and
 * the same numbers as CSV rows (one row per workload, allocator and metric).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime in bench.h */

#include "bench.h"

#include <string.h>

/* The targets of issue #4 (the strictest of #2, #3 and #4): ratios to the C library's
 * median in the same run for the single allocators and for the same workloads through the
 * memory interface (with and without its lock); p99.99 allocation time over a pre-faulted
 * arena in W4; footprint (peak resident / peak live) in W5. */
typedef enum bench_target_kind { TARGET_RATIO, TARGET_P9999_NS, TARGET_FOOTPRINT } bench_target_kind;

typedef struct bench_target {
    const char *table;
    const char *allocator;
    bench_target_kind kind;
    double limit;
} bench_target;

static const bench_target targets[] = {
    {"W1", "pool", TARGET_RATIO, 0.40},
    {"W1", "pool-inline", TARGET_RATIO, 0.40},
    {"W2", "linear", TARGET_RATIO, 0.15},
    {"W2", "linear-inline", TARGET_RATIO, 0.15},
    {"W3", "freelist", TARGET_RATIO, 0.30},
    {"W4", "freelist", TARGET_P9999_NS, 500.0},
    {"W4", "fl_memory/system", TARGET_P9999_NS, 1000.0},
    {"W5", "freelist", TARGET_FOOTPRINT, 1.6},
    {"W5", "fl_memory/system", TARGET_FOOTPRINT, 1.7},
    {"W1", "fl_memory/pool", TARGET_RATIO, 0.50},
    {"W1", "fl_memory-mt/pool", TARGET_RATIO, 0.50},
    {"W2", "fl_memory/temp", TARGET_RATIO, 0.20},
    {"W2", "fl_memory-mt/temp", TARGET_RATIO, 0.20},
    {"W3", "fl_memory/system", TARGET_RATIO, 0.40},
    {"W3", "fl_memory-mt/system", TARGET_RATIO, 0.40},
};

static double mib(size_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

static const bench_row *libc_row(const bench_table *table, const char *workload)
{
    for (size_t i = 0; i < table->count; i++) {
        const bench_row *r = &table->rows[i];
        if (r->state == BENCH_ROW_OK && strcmp(r->allocator, BENCH_LIBC_LABEL) == 0 &&
            strcmp(r->workload, workload) == 0)
            return r;
    }
    return NULL;
}

static void print_unmeasured(const bench_row *row)
{
    printf("  %-11s %-19s %9s   %s\n", row->workload, row->allocator,
           row->state == BENCH_ROW_NA ? "n/a" : "ERROR", row->note);
}

static void print_pair_table(const bench_table *table)
{
    printf("  %-11s %-19s %9s %17s %7s %6s %10s\n", "workload", "allocator", "ns/pair", "min..max", "ratio",
           "OOMs", "arena MiB");
    for (size_t i = 0; i < table->count; i++) {
        const bench_row *row = &table->rows[i];
        if (row->state != BENCH_ROW_OK) {
            print_unmeasured(row);
            continue;
        }
        char range[32], ratio[16], arena[16];
        snprintf(range, sizeof range, "%.2f..%.2f", row->min_ns, row->max_ns);
        if (row->ratio >= 0.0)
            snprintf(ratio, sizeof ratio, "%.3f", row->ratio);
        else
            snprintf(ratio, sizeof ratio, "-");
        if (row->arena_bytes != 0)
            snprintf(arena, sizeof arena, "%.1f", mib(row->arena_bytes));
        else
            snprintf(arena, sizeof arena, "-");
        printf("  %-11s %-19s %9.2f %17s %7s %6llu %10s\n", row->workload, row->allocator, row->median_ns,
               range, ratio, (unsigned long long)row->ooms, arena);
    }
}

static void print_footprint_table(const bench_table *table)
{
    printf("  %-11s %-19s %10s %14s %14s %8s\n", "workload", "allocator", "footprint", "peak held MiB",
           "peak live MiB", "OOMs");
    for (size_t i = 0; i < table->count; i++) {
        const bench_row *row = &table->rows[i];
        if (row->state != BENCH_ROW_OK) {
            print_unmeasured(row);
            continue;
        }
        printf("  %-11s %-19s %10.3f %14.1f %14.1f %8llu\n", row->workload, row->allocator, row->footprint,
               mib(row->peak_held), mib(row->peak_live), (unsigned long long)row->ooms);
    }
}

static void print_latency_table(const bench_table *table)
{
    printf("  %-11s %-19s", "workload", "allocator");
    for (int p = 0; p < BENCH_PCT_COUNT; p++) printf(" %8s", bench_pct_names[p]);
    printf(" %17s %6s %10s\n", "p99.99 min..max", "OOMs", "arena MiB");
    for (size_t i = 0; i < table->count; i++) {
        const bench_row *row = &table->rows[i];
        if (row->state != BENCH_ROW_OK) {
            print_unmeasured(row);
            continue;
        }
        printf("  %-11s %-19s", row->workload, row->allocator);
        for (int p = 0; p < BENCH_PCT_COUNT; p++) printf(" %8.0f", row->pct_ns[p]);
        char range[32], arena[16];
        snprintf(range, sizeof range, "%.0f..%.0f", row->p9999_min_ns, row->p9999_max_ns);
        if (row->arena_bytes != 0)
            snprintf(arena, sizeof arena, "%.1f", mib(row->arena_bytes));
        else
            snprintf(arena, sizeof arena, "-");
        printf(" %17s %6llu %10s\n", range, (unsigned long long)row->ooms, arena);
    }
}

/* The checksum of each workload label: every allocator that ran without OOM matched it
 * (bench_table_finish turned any that did not into an error). */
static void print_checksums(const bench_table *table)
{
    printf("  checksum:");
    const char *last = "";
    for (size_t i = 0; i < table->count; i++) {
        const bench_row *row = &table->rows[i];
        if (strcmp(row->workload, last) == 0) continue;
        last = row->workload;
        const bench_row *ref = libc_row(table, row->workload);
        if (ref != NULL)
            printf(" %s 0x%llx", row->workload, (unsigned long long)ref->checksum);
        else
            printf(" %s -", row->workload);
    }
    printf(" (the same for every allocator that ran without OOM)\n");
}

static void print_targets(const bench_table *table)
{
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        const bench_target *target = &targets[t];
        if (strcmp(target->table, table->name) != 0) continue;
        bool latency = target->kind == TARGET_P9999_NS;
        if (latency)
            printf("  target %s: %s p99.99 <= %.0f ns:", table->name, target->allocator, target->limit);
        else if (target->kind == TARGET_FOOTPRINT)
            printf("  target %s: %s footprint <= %.2f:", table->name, target->allocator, target->limit);
        else
            printf("  target %s: %s ratio <= %.2f:", table->name, target->allocator, target->limit);
        bool any = false;
        for (size_t i = 0; i < table->count; i++) {
            const bench_row *row = &table->rows[i];
            if (strcmp(row->allocator, target->allocator) != 0) continue;
            if (any) printf(";");
            any = true;
            printf(" %s ", row->workload);
            double value = latency                              ? row->pct_ns[BENCH_P9999]
                           : target->kind == TARGET_FOOTPRINT ? row->footprint
                                                              : row->ratio;
            if (row->state == BENCH_ROW_NA)
                printf("n/a (not available)");
            else if (row->state == BENCH_ROW_ERROR)
                printf("n/a (error)");
            else if (value < 0.0)
                printf("n/a (no %s reference)", BENCH_LIBC_LABEL);
            else if (value <= target->limit)
                printf(latency ? "%.0f ns MET" : "%.3f MET", value);
            else if (latency)
                printf("%.0f ns MISSED by %.0f ns", value, value - target->limit);
            else
                printf("%.3f MISSED by %.3f", value, value - target->limit);
        }
        if (!any) printf(" n/a (not run)");
        printf("\n");
    }
}

void bench_report_table(const bench_config *cfg, const bench_table *table)
{
    if (table->name == NULL) return; /* the workload could not even start */
    printf("\n%s\n", table->title);
    if (table->latency)
        printf("  per-allocation ns: percentiles are medians over %d replays, max the largest of them\n", cfg->reps);
    else if (table->footprint)
        printf("  one replay per allocator; footprint = peak held / peak live (resident pages, so it counts\n"
               "  headers, padding, fragmentation and the allocator's own structures)\n");
    else
        printf("  ns per allocate+free pair: median (min..max) of %d replays after 1 warm-up; "
               "ratio = median / %s's median\n",
               cfg->reps, BENCH_LIBC_LABEL);
    if (table->latency)
        print_latency_table(table);
    else if (table->footprint)
        print_footprint_table(table);
    else
        print_pair_table(table);
    print_checksums(table);
    print_targets(table);
    fflush(stdout);
}

bool bench_table_has_error(const bench_table *table)
{
    for (size_t i = 0; i < table->count; i++)
        if (table->rows[i].state == BENCH_ROW_ERROR) return true;
    return false;
}

/* ---- CSV ------------------------------------------------------------------------------- */

void bench_report_csv_header(FILE *csv)
{
    fprintf(csv, "workload,allocator,metric,unit,median,min,max,ratio_to_%s,reps,ooms,checksum,arena_bytes,"
                 "state,note\n",
            BENCH_LIBC_LABEL);
}

static void csv_note(FILE *csv, const char *note)
{
    fputc('"', csv);
    for (const char *c = note; *c; c++) {
        if (*c == '"') fputc('"', csv); /* a quote inside a quoted field is doubled */
        fputc(*c, csv);
    }
    fputc('"', csv);
}

static void csv_row_unit(FILE *csv, const bench_row *row, const char *metric, const char *unit, double median,
                         double min, double max, double ratio)
{
    const char *state = row->state == BENCH_ROW_OK ? "ok" : row->state == BENCH_ROW_NA ? "n/a" : "error";
    fprintf(csv, "%s,%s,%s,%s,", row->workload, row->allocator, metric, unit);
    if (row->state == BENCH_ROW_OK) {
        fprintf(csv, "%.3f,", median);
        if (min >= 0.0) fprintf(csv, "%.3f,%.3f,", min, max);
        else fprintf(csv, ",,");
        if (ratio >= 0.0) fprintf(csv, "%.4f,", ratio);
        else fprintf(csv, ",");
        fprintf(csv, "%d,%llu,0x%llx,", row->reps, (unsigned long long)row->ooms,
                (unsigned long long)row->checksum);
    } else {
        fprintf(csv, ",,,,,,,");
    }
    fprintf(csv, "%zu,%s,", row->arena_bytes, state);
    csv_note(csv, row->note);
    fputc('\n', csv);
}

static void csv_row(FILE *csv, const bench_row *row, const char *metric, double median, double min,
                    double max, double ratio)
{
    csv_row_unit(csv, row, metric, "ns", median, min, max, ratio);
}

void bench_report_csv(FILE *csv, const bench_table *table)
{
    if (csv == NULL || table->name == NULL) return;
    for (size_t i = 0; i < table->count; i++) {
        const bench_row *row = &table->rows[i];
        if (table->footprint) {
            const bench_row *ref = libc_row(table, row->workload);
            double ratio = ref && ref->footprint > 0.0 && row->footprint >= 0.0 ? row->footprint / ref->footprint : -1.0;
            csv_row_unit(csv, row, "footprint", "ratio", row->footprint, -1.0, -1.0, ratio);
            csv_row_unit(csv, row, "peak_held", "bytes", (double)row->peak_held, -1.0, -1.0, -1.0);
            csv_row_unit(csv, row, "peak_live", "bytes", (double)row->peak_live, -1.0, -1.0, -1.0);
            continue;
        }
        if (!table->latency) {
            csv_row(csv, row, "ns_per_pair", row->median_ns, row->min_ns, row->max_ns, row->ratio);
            csv_row_unit(csv, row, "pairs_per_replay", "count", (double)row->pairs, -1.0, -1.0, -1.0);
            continue;
        }
        const bench_row *ref = libc_row(table, row->workload);
        for (int p = 0; p < BENCH_PCT_COUNT; p++) {
            double ratio = ref && ref->pct_ns[p] > 0.0 ? row->pct_ns[p] / ref->pct_ns[p] : -1.0;
            bool range = p == BENCH_P9999;
            csv_row(csv, row, bench_pct_names[p], row->pct_ns[p], range ? row->p9999_min_ns : -1.0,
                    range ? row->p9999_max_ns : -1.0, ratio);
        }
    }
    fflush(csv);
}
