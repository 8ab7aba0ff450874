/*
 * flmem_bench: flags, the run's header, the workloads in order, the exit status.
 *
 *   flmem_bench [--quick] [--reps N] [--workload W1|W2|W3|W4|W5|threads|reads|all[,...]]
 *               [--csv FILE] [--seed N] [--no-pin] [--only LABEL[,...]] [--live-mib N]
 *               [--ops N]
 *
 * Exit status: 0 whether or not targets are met (this is a measurement, not a test); 1 on a
 * real error (an allocator returned a misaligned pointer, failed a free or validate, handed
 * out overlapping blocks, or the bench itself ran out of memory); 2 on a bad flag.
 */
#define _GNU_SOURCE /* strcasecmp, strtok_r */

#include "bench.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_SEED 0x5EEDF1E5u
#define DEFAULT_REPS 5
#define QUICK_REPS 3

static void usage(FILE *out)
{
    fprintf(out,
            "usage: flmem_bench [options]\n"
            "  --quick            scaled-down op counts and arenas (CI smoke run, a few seconds)\n"
            "  --reps N           measured replays per allocator, 1..64 (default %d, --quick %d)\n"
            "  --workload LIST    W1, W2, W3, W4, W5 (footprint), threads, reads (fl_memory\n"
            "                     statistics reads) or all, comma-separated (default all)\n"
            "  --live-mib N       W3/W4/W5 live set of N MiB instead of 64 (scaling runs)\n"
            "  --ops N            W3/W4/W5 replacements instead of 5 M\n"
            "  --csv FILE         also write machine-readable rows to FILE\n"
            "  --seed N           seed of the op sequences (default 0x%x)\n"
            "  --no-pin           do not pin the process to one CPU\n"
            "  --only LABELS      measure only these rows, e.g. pool,pool-inline,%s (ratios need %s)\n"
            "  --help             this text\n",
            DEFAULT_REPS, QUICK_REPS, (unsigned)DEFAULT_SEED, BENCH_LIBC_LABEL, BENCH_LIBC_LABEL);
}

static bool parse_workloads(const char *text, unsigned *out)
{
    char copy[128];
    if (strlen(text) >= sizeof copy) return false;
    strcpy(copy, text);
    unsigned mask = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (strcasecmp(item, "all") == 0) mask |= BENCH_ALL;
        else if (strcasecmp(item, "W1") == 0) mask |= BENCH_W1;
        else if (strcasecmp(item, "W2") == 0) mask |= BENCH_W2;
        else if (strcasecmp(item, "W3") == 0) mask |= BENCH_W3;
        else if (strcasecmp(item, "W4") == 0) mask |= BENCH_W4;
        else if (strcasecmp(item, "W5") == 0) mask |= BENCH_W5;
        else if (strcasecmp(item, "threads") == 0) mask |= BENCH_THREADS;
        else if (strcasecmp(item, "reads") == 0) mask |= BENCH_STATS;
        else return false;
    }
    *out = mask;
    return mask != 0;
}

bool bench_selected(const bench_config *cfg, const char *label)
{
    if (cfg->only == NULL) return true;
    size_t n = strlen(label);
    for (const char *item = cfg->only; *item;) {
        const char *end = strchr(item, ',');
        size_t len = end ? (size_t)(end - item) : strlen(item);
        if (len == n && strncmp(item, label, n) == 0) return true;
        if (end == NULL) break;
        item = end + 1;
    }
    return false;
}

static bool parse_u64(const char *text, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno != 0 || end == text || *end != '\0') return false;
    *out = (uint64_t)v;
    return true;
}

/* 0: parsed; 1: --help; 2: bad flag (already reported). */
static int parse_flags(int argc, char **argv, bench_config *cfg, const char **csv_path)
{
    bool reps_given = false;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t number = 0;
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(flag, "--quick") == 0) {
            cfg->quick = true;
        } else if (strcmp(flag, "--no-pin") == 0) {
            cfg->pin = false;
        } else if (strcmp(flag, "--reps") == 0 && value && parse_u64(value, &number) && number >= 1 &&
                   number <= 64) {
            cfg->reps = (int)number;
            reps_given = true;
            i++;
        } else if (strcmp(flag, "--workload") == 0 && value && parse_workloads(value, &cfg->workloads)) {
            i++;
        } else if (strcmp(flag, "--csv") == 0 && value) {
            *csv_path = value;
            i++;
        } else if (strcmp(flag, "--only") == 0 && value && *value) {
            cfg->only = value;
            i++;
        } else if (strcmp(flag, "--live-mib") == 0 && value && parse_u64(value, &number) && number >= 1 &&
                   number <= ((uint64_t)SIZE_MAX >> 24)) {
            cfg->w3_live_mib = (size_t)number;
            i++;
        } else if (strcmp(flag, "--ops") == 0 && value && parse_u64(value, &number) && number >= 1 &&
                   number <= UINT32_MAX) {
            cfg->w3_ops = number;
            i++;
        } else if (strcmp(flag, "--seed") == 0 && value && parse_u64(value, &number)) {
            cfg->seed = number;
            i++;
        } else {
            fprintf(stderr, "flmem_bench: bad or incomplete flag '%s'%s%s\n", flag, value ? " " : "",
                    value ? value : "");
            usage(stderr);
            return 2;
        }
    }
    if (cfg->quick && !reps_given) cfg->reps = QUICK_REPS;
    return 0;
}

int main(int argc, char **argv)
{
    bench_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.reps = DEFAULT_REPS;
    cfg.workloads = BENCH_ALL;
    cfg.seed = DEFAULT_SEED;
    cfg.pin = true;
    const char *csv_path = NULL;
    int parsed = parse_flags(argc, argv, &cfg, &csv_path);
    if (parsed != 0) return parsed == 1 ? 0 : 2;

    if (csv_path != NULL) {
        cfg.csv = fopen(csv_path, "w");
        if (cfg.csv == NULL) {
            fprintf(stderr, "flmem_bench: cannot write %s: %s\n", csv_path, strerror(errno));
            return 1;
        }
        bench_report_csv_header(cfg.csv);
    }

    int cpu = cfg.pin ? bench_pin_to_one_cpu() : -1;
    cfg.timer_overhead_ns = bench_timer_overhead_ns();
    uint64_t started = bench_now_ns();

    printf("flmem_bench (flight-memory %d.%d.%d): seed 0x%llx, %d replays + 1 warm-up per row%s\n",
           FL_VERSION_MAJOR, FL_VERSION_MINOR, FL_VERSION_PATCH, (unsigned long long)cfg.seed, cfg.reps,
           cfg.quick ? ", --quick (scaled-down counts)" : "");
    if (cpu >= 0)
        printf("pinned to CPU %d; ", cpu);
    else
        printf("not pinned; ");
    printf("clock CLOCK_MONOTONIC, resolution %.0f ns, overhead of a read pair %.0f ns (subtracted in W4 only)\n",
           bench_timer_resolution_ns(), cfg.timer_overhead_ns);
    printf("n/a: the allocator is not available in this build\n");
    fflush(stdout);

    /* Tables are large-ish: static so that main's stack stays small. */
    static bench_table w1, w2, w3, w4, w5, threads;
    bool error = false;
    if (cfg.workloads & BENCH_W1) {
        error |= !bench_w1(&cfg, &w1);
        bench_report_table(&cfg, &w1);
        bench_report_csv(cfg.csv, &w1);
        error |= bench_table_has_error(&w1);
    }
    if (cfg.workloads & BENCH_W2) {
        error |= !bench_w2(&cfg, &w2);
        bench_report_table(&cfg, &w2);
        bench_report_csv(cfg.csv, &w2);
        error |= bench_table_has_error(&w2);
    }
    if (cfg.workloads & (BENCH_W3 | BENCH_W4 | BENCH_W5)) {
        bench_table *t3 = (cfg.workloads & BENCH_W3) ? &w3 : NULL;
        bench_table *t4 = (cfg.workloads & BENCH_W4) ? &w4 : NULL;
        bench_table *t5 = (cfg.workloads & BENCH_W5) ? &w5 : NULL;
        error |= !bench_w3_w4(&cfg, t3, t4, t5);
        for (int i = 0; i < 3; i++) {
            bench_table *t = i == 0 ? t3 : i == 1 ? t4 : t5;
            if (t == NULL) continue;
            bench_report_table(&cfg, t);
            bench_report_csv(cfg.csv, t);
            error |= bench_table_has_error(t);
        }
    }

    if (cfg.workloads & BENCH_THREADS) {
        error |= !bench_threads(&cfg, &threads);
        bench_report_table(&cfg, &threads);
        bench_report_csv(cfg.csv, &threads);
        error |= bench_table_has_error(&threads);
    }

    if (cfg.workloads & BENCH_STATS) error |= !bench_memory_reads(&cfg);

    double seconds = (double)(bench_now_ns() - started) / 1e9;
    printf("\ntotal %.1f s%s\n", seconds, error ? "; ERRORS above (exit status 1)" : "");
    if (cfg.csv != NULL && fclose(cfg.csv) != 0) {
        fprintf(stderr, "flmem_bench: writing %s failed\n", csv_path);
        error = true;
    }
    return error ? 1 : 0;
}
