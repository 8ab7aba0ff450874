/*
 * The clock and what the bench derives from it: the timer's own overhead (subtracted from
 * W4's per-allocation samples), pinning to one CPU, medians and latency percentiles.
 */
#define _GNU_SOURCE /* clock_gettime, sched_setaffinity, sched_getcpu */

#include "bench.h"

#include <string.h>

#ifdef __linux__
#include <sched.h>
#endif

const char *const bench_pct_names[BENCH_PCT_COUNT] = {"p50", "p90", "p99", "p99.9", "p99.99", "max"};

/* The quantiles of the percentile columns, nearest rank (BENCH_PMAX is the maximum). */
static const double pct_quantiles[BENCH_PCT_COUNT - 1] = {0.50, 0.90, 0.99, 0.999, 0.9999};

/* Timed samples are "read clock, do one thing, read clock": the difference includes about
 * one clock read. The median of many back-to-back pairs estimates that share. */
double bench_timer_overhead_ns(void)
{
    enum { PAIRS = 200001 };
    static uint32_t samples[PAIRS];
    for (size_t i = 0; i < PAIRS; i++) {
        uint64_t t0 = bench_now_ns();
        uint64_t t1 = bench_now_ns();
        samples[i] = (uint32_t)(t1 - t0);
    }
    double pct[BENCH_PCT_COUNT];
    bench_percentiles(samples, PAIRS, pct);
    return pct[BENCH_P50];
}

double bench_timer_resolution_ns(void)
{
    struct timespec res;
    if (clock_getres(CLOCK_MONOTONIC, &res) != 0) return 0.0;
    return (double)res.tv_sec * 1e9 + (double)res.tv_nsec;
}

/* Pins the process to the CPU it runs on now, so that the scheduler does not move a
 * measurement between caches mid-way. Linux only; elsewhere nothing happens. */
int bench_pin_to_one_cpu(void)
{
#ifdef __linux__
    int cpu = sched_getcpu();
    if (cpu < 0) return -1;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) return -1;
    return cpu;
#else
    return -1;
#endif
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *values, size_t count)
{
    if (count == 0) return 0.0;
    qsort(values, count, sizeof *values, compare_double);
    if (count % 2 == 1) return values[count / 2];
    return 0.5 * (values[count / 2 - 1] + values[count / 2]);
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Sorting millions of samples per replay would cost more than the replay, so the samples
 * are counted in a histogram of 1 ns buckets below HISTOGRAM_NS (where nearly all of them
 * fall) and only the rare slower ones are kept and sorted. The result is exact. */
#define HISTOGRAM_NS 65536u

void bench_percentiles(const uint32_t *samples, size_t count, double out[BENCH_PCT_COUNT])
{
    memset(out, 0, BENCH_PCT_COUNT * sizeof *out);
    if (count == 0) return;
    uint32_t *histogram = calloc(HISTOGRAM_NS, sizeof *histogram);
    uint32_t *slow = malloc(count * sizeof *slow);
    if (histogram == NULL || slow == NULL) {
        fprintf(stderr, "flmem_bench: out of memory for the percentile histogram\n");
        free(histogram);
        free(slow);
        exit(1);
    }
    size_t slow_count = 0;
    uint32_t largest = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t v = samples[i];
        if (v > largest) largest = v;
        if (v < HISTOGRAM_NS)
            histogram[v]++;
        else
            slow[slow_count++] = v;
    }
    qsort(slow, slow_count, sizeof *slow, compare_u32);
    size_t fast_count = count - slow_count;

    for (size_t q = 0; q < BENCH_PCT_COUNT - 1; q++) {
        /* Nearest rank: the smallest sample with at least ceil(q * count) samples <= it. */
        double exact = pct_quantiles[q] * (double)count;
        size_t rank = (size_t)exact;
        if ((double)rank < exact) rank++;
        if (rank == 0) rank = 1;
        if (rank > fast_count) {
            out[q] = (double)slow[rank - fast_count - 1];
            continue;
        }
        size_t seen = 0;
        for (uint32_t v = 0; v < HISTOGRAM_NS; v++) {
            seen += histogram[v];
            if (seen >= rank) {
                out[q] = (double)v;
                break;
            }
        }
    }
    out[BENCH_PMAX] = (double)largest;
    free(histogram);
    free(slow);
}
