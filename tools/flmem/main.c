/*
 * flmem: argument parsing and dispatch. Usage:
 *   flmem demo [--platform P] [--seconds N] [--report FILE.html] [--seed S]
 *   flmem stats --json [--platform P]
 *   flmem size [--platform P] --peak-live TYPE=BYTES ... [--largest TYPE=BYTES] [--smallest TYPE=BYTES]
 *   flmem bench [ARGS...]      (what scripts/bench.sh runs: the comparison driver over the
 *                               benchmark built beside flmem; --single: the benchmark alone)
 */
#define _POSIX_C_SOURCE 200809L
#include "flmem.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: flmem demo [--platform dreamcast|psp|web|desktop|host] [--seconds N] [--report FILE.html] "
               "[--seed S]\n"
               "       flmem stats --json [--platform P]\n"
               "       flmem size [--platform P] --peak-live TYPE=BYTES ... [--largest TYPE=BYTES] "
               "[--smallest TYPE=BYTES]\n"
               "       flmem bench [comparison arguments] | flmem bench --single [benchmark arguments]\n"
               "TYPE: system video audio network shared temporary stack pool; BYTES: 1048576, 512K, 12M, 1G\n");
}

int flmem_parse_platform(const char *text, fl_platform *out)
{
    static const struct {
        const char *name;
        fl_platform platform;
    } table[] = {{"dreamcast", FL_PLATFORM_DREAMCAST}, {"psp", FL_PLATFORM_PSP}, {"web", FL_PLATFORM_WEB},
                 {"desktop", FL_PLATFORM_DESKTOP},     {"host", FL_PLATFORM_HOST}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(text, table[i].name) == 0) {
            *out = table[i].platform;
            return 1;
        }
    }
    return 0;
}

int flmem_parse_type(const char *text, size_t length, fl_memory_type *out)
{
    for (unsigned t = 0; t < (unsigned)FL_MEMORY_TYPE_COUNT; t++) {
        const char *name = fl_memory_type_str((fl_memory_type)t);
        if (strlen(name) != length) continue;
        size_t i = 0;
        while (i < length && tolower((unsigned char)text[i]) == tolower((unsigned char)name[i])) i++;
        if (i == length) {
            *out = (fl_memory_type)t;
            return 1;
        }
    }
    return 0;
}

/* Decimal bytes with an optional K/M/G (binary) suffix, optionally followed by "iB" or "B". */
int flmem_parse_bytes(const char *text, size_t *out)
{
    if (!isdigit((unsigned char)text[0])) return 0;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0) return 0;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    if (shift != 0 && strcmp(end, "iB") == 0) end += 2;
    else if (strcmp(end, "B") == 0) end += 1;
    if (*end != '\0' || v == 0) return 0;
    if (v > ((unsigned long long)SIZE_MAX >> shift)) return 0;
    *out = (size_t)(v << shift);
    return 1;
}

const char *flmem_bytes_str(size_t bytes, char *buf, size_t cap)
{
    if (bytes >= (size_t)1 << 30) snprintf(buf, cap, "%.2f GiB", (double)bytes / (1024.0 * 1024.0 * 1024.0));
    else if (bytes >= (size_t)1 << 20) snprintf(buf, cap, "%.2f MiB", (double)bytes / (1024.0 * 1024.0));
    else if (bytes >= (size_t)1 << 10) snprintf(buf, cap, "%.1f KiB", (double)bytes / 1024.0);
    else snprintf(buf, cap, "%zu B", bytes);
    return buf;
}

fl_status flmem_create_profile(fl_platform platform, bool with_loader, fl_memory_config *config, fl_memory **out,
                               void **backing)
{
    *backing = NULL;
    fl_status st = fl_memory_config_default(platform, config);
    if (st != FL_OK) return st;
    /* A game that streams on a loader thread (a KallistiOS or pspsdk thread on a console)
     * turns thread_safe on: one uncontended lock per call buys frees from any thread and
     * requests that wait for them. */
    const fl_platform_hooks *os = fl_platform_default();
    if (with_loader && os->lock_init != NULL && os->cond_init != NULL && os->now_ns != NULL) config->thread_safe = true;
    if (platform == FL_PLATFORM_DREAMCAST || platform == FL_PLATFORM_PSP) {
        /* The consoles have no operating system to map pages from: the whole interface lives
         * in one block, as examples/memory_dreamcast.c shows (here from malloc, standing in
         * for the console's static RAM). */
        size_t needed;
        st = fl_memory_backing_size(config, &needed);
        if (st != FL_OK) return st;
        *backing = malloc(needed);
        if (*backing == NULL) return FL_ERR_OUT_OF_MEMORY;
        config->backing_memory = *backing;
        config->backing_size = needed;
    }
    st = fl_memory_create(config, out);
    if (st != FL_OK) {
        free(*backing);
        *backing = NULL;
    }
    return st;
}

static int need_platform(int argc, char **argv, int *i, fl_platform *platform)
{
    if (*i + 1 >= argc || !flmem_parse_platform(argv[*i + 1], platform)) {
        fprintf(stderr, "flmem: --platform needs one of dreamcast, psp, web, desktop, host%s%s\n",
                *i + 1 < argc ? "; got " : "", *i + 1 < argc ? argv[*i + 1] : "");
        return 0;
    }
    (*i)++;
    return 1;
}

static int parse_uint(const char *text, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || !isdigit((unsigned char)text[0]) || v > max) return 0;
    *out = (unsigned)v;
    return 1;
}

static int cmd_demo(int argc, char **argv)
{
    flmem_demo_options o = {FL_PLATFORM_DREAMCAST, 4, NULL, 1994};
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--platform") == 0) {
            if (!need_platform(argc, argv, &i, &o.platform)) return FLMEM_EXIT_USAGE;
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            if (!parse_uint(argv[++i], 3600, &o.seconds) || o.seconds == 0) {
                fprintf(stderr, "flmem: --seconds needs a whole number from 1 to 3600, got %s\n", argv[i]);
                return FLMEM_EXIT_USAGE;
            }
        } else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc) {
            o.report = argv[++i];
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            if (!parse_uint(argv[++i], UINT_MAX, &o.seed)) {
                fprintf(stderr, "flmem: --seed needs a whole number, got %s\n", argv[i]);
                return FLMEM_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "flmem demo: unknown or incomplete argument %s\n", argv[i]);
            usage(stderr);
            return FLMEM_EXIT_USAGE;
        }
    }
    return flmem_demo(&o);
}

static int cmd_stats(int argc, char **argv)
{
    fl_platform platform = FL_PLATFORM_HOST;
    int json = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--platform") == 0) {
            if (!need_platform(argc, argv, &i, &platform)) return FLMEM_EXIT_USAGE;
        } else {
            fprintf(stderr, "flmem stats: unknown argument %s\n", argv[i]);
            return FLMEM_EXIT_USAGE;
        }
    }
    if (!json) {
        fprintf(stderr, "flmem stats: only --json output exists; pass --json\n");
        return FLMEM_EXIT_USAGE;
    }
    return flmem_stats_json(platform);
}

static int cmd_size(int argc, char **argv)
{
    fl_platform platform = FL_PLATFORM_DREAMCAST;
    /* --platform may come anywhere; the rest goes to size.c as it is. */
    char **rest = malloc(sizeof *rest * (size_t)argc);
    if (rest == NULL) return FLMEM_EXIT_FAIL;
    int n = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--platform") == 0) {
            if (!need_platform(argc, argv, &i, &platform)) {
                free(rest);
                return FLMEM_EXIT_USAGE;
            }
        } else {
            rest[n++] = argv[i];
        }
    }
    int rc = flmem_size(platform, n, rest);
    free(rest);
    return rc;
}

/* The benchmark is its own program (bench/). flmem bench runs what scripts/bench.sh runs: the
 * comparison driver (scripts/bench_compare.py of the source tree this flmem was built from,
 * with python3) over the flmem_bench built beside flmem; with --single, or when the driver
 * or python3 is missing, flmem_bench itself (one process: flight-memory and glibc). */
#ifndef FLMEM_BENCH_DRIVER
#define FLMEM_BENCH_DRIVER ""
#endif
static int cmd_bench(char **argv)
{
    char path[4096];
    const char *slash = strrchr(argv[0], '/');
    size_t dir = slash != NULL ? (size_t)(slash - argv[0]) + 1 : 0;
    bool single = argv[2] != NULL && strcmp(argv[2], "--single") == 0;
    static const char *const names[] = {"../../bench/flmem_bench", "flmem_bench", "../bench/flmem_bench"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (dir + strlen(names[k]) + 1 > sizeof path) break;
        memcpy(path, argv[0], dir);
        strcpy(path + dir, names[k]);
        if (access(path, X_OK) != 0) continue;
        if (!single && FLMEM_BENCH_DRIVER[0] != '\0' && access(FLMEM_BENCH_DRIVER, R_OK) == 0) {
            /* python3 DRIVER --bench PATH ARGS...: argv[2..] follow; argv has room for three
             * more entries only in a copy. */
            size_t n = 0;
            while (argv[2 + n] != NULL) n++;
            char **args = calloc(n + 5, sizeof *args);
            if (args != NULL) {
                args[0] = (char *)"python3";
                args[1] = (char *)FLMEM_BENCH_DRIVER;
                args[2] = (char *)"--bench";
                args[3] = path;
                for (size_t i = 0; i < n; i++) args[4 + i] = argv[2 + i];
                execvp("python3", args);
                free(args);
                fprintf(stderr, "flmem bench: python3 not found: running the benchmark alone\n");
            }
        }
        char **rest = single ? argv + 2 : argv + 1;
        rest[0] = path;
        execv(path, rest);
    }
    fprintf(stderr, "flmem bench: the benchmark program (flmem_bench) was not found beside flmem; build it with "
                    "-DFLMEM_BUILD_BENCH=ON\n");
    return FLMEM_EXIT_FAIL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FLMEM_EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "demo") == 0) return cmd_demo(argc, argv);
    if (strcmp(argv[1], "stats") == 0) return cmd_stats(argc, argv);
    if (strcmp(argv[1], "size") == 0) return cmd_size(argc, argv);
    if (strcmp(argv[1], "bench") == 0) return cmd_bench(argv);
    fprintf(stderr, "flmem: unknown command %s\n", argv[1]);
    usage(stderr);
    return FLMEM_EXIT_USAGE;
}
