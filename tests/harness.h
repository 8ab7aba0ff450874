/*
 * The test harness: checks that report file, line and the library's last error, a seeded
 * random generator whose seed every randomized test prints, and the op-count scale that
 * lets emulated runs stay short (environment FLMEM_TEST_SCALE, default 1.0).
 *
 * A test file defines `static void test_x(void)` functions and ends with
 *     int main(void) { RUN(test_x); RUN(test_y); return harness_finish(); }
 * A failed check ends the current test function (the others still run) and makes the
 * program exit non-zero.
 */
#ifndef FLMEM_TEST_HARNESS_H
#define FLMEM_TEST_HARNESS_H

#include <flight/memory.h>

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_failures;
static int harness_passed;
static int harness_failed_tests;
static jmp_buf harness_bail;

static inline void harness_fail_at(const char *file, int line, const char *what)
{
    const fl_error *e = fl_last_error();
    fprintf(stderr, "%s:%d: check failed: %s\n    last error: %s: %s\n", file, line, what,
            fl_status_str(e->category), e->message);
    harness_failures++;
    longjmp(harness_bail, 1);
}

#define CHECK(cond)                                                                             \
    do {                                                                                        \
        if (!(cond)) harness_fail_at(__FILE__, __LINE__, #cond);                                \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                    \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                \
            harness_fail_at(__FILE__, __LINE__, #cond);                                         \
        }                                                                                       \
    } while (0)

#define CHECK_STATUS(expr, expected)                                                            \
    do {                                                                                        \
        fl_status check_status_ = (expr);                                                       \
        if (check_status_ != (expected)) {                                                      \
            fprintf(stderr, "    got %s, wanted %s\n", fl_status_str(check_status_),           \
                    fl_status_str(expected));                                                   \
            harness_fail_at(__FILE__, __LINE__, #expr " == " #expected);                        \
        }                                                                                       \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, FL_OK)

#define CHECK_EQ_SIZE(a, b)                                                                     \
    do {                                                                                        \
        size_t check_a_ = (size_t)(a), check_b_ = (size_t)(b);                                  \
        if (check_a_ != check_b_) {                                                             \
            fprintf(stderr, "    %zu != %zu\n", check_a_, check_b_);                            \
            harness_fail_at(__FILE__, __LINE__, #a " == " #b);                                  \
        }                                                                                       \
    } while (0)

/* Runs one test function; a failed check inside it jumps back here. */
static inline void harness_run(void (*test_fn)(void), const char *name)
{
    int before = harness_failures;
    if (setjmp(harness_bail) == 0) test_fn();
    if (harness_failures == before) {
        harness_passed++;
    } else {
        harness_failed_tests++;
        fprintf(stderr, "FAILED: %s\n", name);
    }
}
#define RUN(test_fn) harness_run(test_fn, #test_fn)

static inline int harness_finish(void)
{
    printf("%d passed, %d failed\n", harness_passed, harness_failed_tests);
    return harness_failed_tests == 0 ? 0 : 1;
}

/* ---- op-count scale -------------------------------------------------------------------- */

/* n scaled by FLMEM_TEST_SCALE (at least 1): randomized tests size their runs with it. */
static inline uint64_t harness_scaled(uint64_t n)
{
    const char *s = getenv("FLMEM_TEST_SCALE");
    double scale = s ? atof(s) : 1.0;
    if (scale <= 0.0) scale = 1.0;
    double v = (double)n * scale;
    return v < 1.0 ? 1u : (uint64_t)v;
}

/* ---- seeded random numbers (splitmix64) ------------------------------------------------- */

typedef struct harness_rng {
    uint64_t state;
} harness_rng;

/* Seeds from FLMEM_TEST_SEED when set (to replay a failure), else from `seed`; prints it. */
static inline harness_rng harness_rng_seeded(const char *what, uint64_t seed)
{
    const char *s = getenv("FLMEM_TEST_SEED");
    if (s) seed = strtoull(s, NULL, 0);
    printf("%s: seed %" PRIu64 " (replay with FLMEM_TEST_SEED=%" PRIu64 ")\n", what, seed, seed);
    harness_rng r = {seed};
    return r;
}

static inline uint64_t harness_next(harness_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline size_t harness_range(harness_rng *r, size_t lo, size_t hi)
{
    return lo + (size_t)(harness_next(r) % (uint64_t)(hi - lo + 1));
}

/* ---- content patterns: every live block carries bytes derived from its id --------------- */

static inline unsigned char harness_pattern_byte(uint64_t id, size_t i)
{
    return (unsigned char)((id * 131u + i * 7u + (i >> 8)) ^ 0x5Au);
}

static inline void harness_fill(void *p, size_t n, uint64_t id)
{
    unsigned char *b = (unsigned char *)p;
    for (size_t i = 0; i < n; i++) b[i] = harness_pattern_byte(id, i);
}

static inline int harness_pattern_ok(const void *p, size_t n, uint64_t id)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != harness_pattern_byte(id, i)) return 0;
    return 1;
}

/* ---- statistics identities every allocator must keep ------------------------------------ */

static inline void harness_check_stats_identities(const fl_allocator *a)
{
    fl_allocator_stats s;
    fl_allocator_get_stats(a, &s);
    CHECK_EQ_SIZE(s.used_bytes + s.free_bytes, s.total_capacity);
    CHECK(s.peak_used_bytes >= s.used_bytes);
    CHECK(s.largest_free_block <= s.free_bytes);
    CHECK(s.fragmentation_ratio >= 0.0 && s.fragmentation_ratio <= 1.0);
    CHECK(s.allocation_efficiency > 0.0 && s.allocation_efficiency <= 1.0);
    CHECK(s.total_allocations - s.total_deallocations == (uint64_t)s.allocation_count);
}

#endif /* FLMEM_TEST_HARNESS_H */
