/*
 * The contract of each replaced function, checked in a program that runs under
 * LD_PRELOAD=libflightmem-override.so (CTest sets it): the override must be the one
 * answering (its diagnostics are found with dlsym and its statistics move), and each
 * function keeps the C library's promises: alignment, zeroing, contents preserved by
 * realloc, usable size, errors (EINVAL / ENOMEM), and several threads at once.
 */
#define _GNU_SOURCE
#include <flight/memory.h>

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
#define CHECK(c)                                                                                  \
    do {                                                                                          \
        if (!(c)) {                                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);                 \
            failures++;                                                                           \
        }                                                                                         \
    } while (0)

static int (*override_active)(void);
static fl_status (*override_stats)(fl_memory_stats *);
static size_t (*override_foreign_frees)(void);

static void resolve(const char *name, void *fn, size_t size)
{
    void *sym = dlsym(RTLD_DEFAULT, name);
    memcpy(fn, &sym, size);
}

static int aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

/* Volatile sizes keep the compiler from folding the calls away or warning about them. */
static volatile size_t zero = 0, huge = SIZE_MAX - 4096, half = SIZE_MAX / 2;
/* Called through volatile pointers where the test does on purpose what the compiler warns
 * about (an overflowing product, a pointer used after a realloc that failed, a pointer
 * that is not the heap's). */
static void *(*volatile v_calloc)(size_t, size_t) = calloc;
static void *(*volatile v_realloc)(void *, size_t) = realloc;
static void *(*volatile v_reallocarray)(void *, size_t, size_t) = reallocarray;
static void *(*volatile v_malloc)(size_t) = malloc; /* clang elides an unused malloc */
static void (*volatile v_free)(void *) = free;
static void *(*volatile v_aligned_alloc)(size_t, size_t) = aligned_alloc;
static void *(*volatile v_memalign)(size_t, size_t) = memalign;

static void test_malloc_free(void)
{
    fl_memory_stats before, after;
    CHECK(override_stats(&before) == FL_OK);
    unsigned char *p = malloc(100);
    CHECK(p != NULL && aligned(p, _Alignof(max_align_t)));
    CHECK(override_stats(&after) == FL_OK);
    CHECK(after.allocation_count == before.allocation_count + 1); /* served by the interface */
    memset(p, 0xAB, 100);
    CHECK(malloc_usable_size(p) >= 100);
    free(p);
    CHECK(override_stats(&after) == FL_OK);
    CHECK(after.allocation_count == before.allocation_count);
    void *z = malloc(zero); /* a unique pointer that free takes */
    CHECK(z != NULL);
    free(z);
    free(NULL);
    errno = 0;
    CHECK(v_malloc(huge) == NULL);
    CHECK(errno == ENOMEM);
    /* Large blocks go to the System region and come back. */
    void *big = malloc((size_t)64 << 20);
    CHECK(big != NULL);
    if (big) memset(big, 1, (size_t)64 << 20);
    free(big);
}

static void test_calloc(void)
{
    /* Dirty a block, free it, and check calloc zeroes what it gets back. */
    for (int round = 0; round < 50; round++) {
        size_t n = 1 + (size_t)round * 37;
        unsigned char *d = malloc(n * 8);
        CHECK(d != NULL);
        memset(d, 0xFF, n * 8);
        free(d);
        unsigned char *c = calloc(n, 8);
        CHECK(c != NULL);
        size_t nonzero = 0;
        for (size_t i = 0; c && i < n * 8; i++) nonzero += c[i] != 0;
        CHECK(nonzero == 0);
        free(c);
    }
    errno = 0;
    CHECK(v_calloc(half, 4) == NULL); /* n * size overflows */
    CHECK(errno == ENOMEM);
}

static void test_realloc(void)
{
    unsigned char *p = NULL;
    size_t size = 0;
    /* Grow and shrink through many sizes; the common prefix must survive every move. */
    for (size_t next = 1; next < ((size_t)1 << 22); next = next * 3 + 1) {
        unsigned char *q = realloc(p, next);
        CHECK(q != NULL);
        if (q == NULL) break;
        for (size_t i = 0; i < size && i < next; i++)
            if (q[i] != (unsigned char)(i * 7 + 1)) {
                CHECK(!"realloc lost contents");
                break;
            }
        for (size_t i = 0; i < next; i++) q[i] = (unsigned char)(i * 7 + 1);
        p = q;
        size = next;
    }
    unsigned char *s = realloc(p, 10);
    CHECK(s != NULL);
    for (size_t i = 0; s && i < 10; i++) CHECK(s[i] == (unsigned char)(i * 7 + 1));
    CHECK(malloc_usable_size(s) >= 10);
    /* realloc(p, 0) frees and returns NULL (glibc's behaviour). */
    CHECK(realloc(s, zero) == NULL);
    /* A failed realloc leaves the block untouched. */
    unsigned char *k = malloc(32);
    CHECK(k != NULL);
    memset(k, 0x5A, 32);
    errno = 0;
    CHECK(v_realloc(k, huge) == NULL);
    CHECK(errno == ENOMEM);
    for (int i = 0; k && i < 32; i++) CHECK(k[i] == 0x5A);
    CHECK(malloc_usable_size(k) >= 32);
    free(k);
    void *r = reallocarray(NULL, 10, 10);
    CHECK(r != NULL);
    free(r);
    CHECK(v_reallocarray(NULL, half, 3) == NULL);
}

static void test_aligned(void)
{
    for (size_t a = sizeof(void *); a <= 65536; a *= 2) {
        void *p = NULL;
        CHECK(posix_memalign(&p, a, 123) == 0);
        CHECK(p != NULL && aligned(p, a));
        CHECK(malloc_usable_size(p) >= 123);
        free(p);
        void *q = aligned_alloc(a, a * 2);
        CHECK(q != NULL && aligned(q, a));
        free(q);
        void *m = memalign(a, 5);
        CHECK(m != NULL && aligned(m, a));
        free(m);
    }
    void *p = (void *)&p;
    CHECK(posix_memalign(&p, 24, 8) == EINVAL);
    CHECK(p == (void *)&p); /* untouched on failure */
    CHECK(posix_memalign(&p, 2, 8) == EINVAL); /* not a multiple of sizeof(void *) */
    errno = 0;
    CHECK(v_aligned_alloc(48, 96) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(v_memalign(3, 8) == NULL && errno == EINVAL);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *v = valloc(10);
    CHECK(v != NULL && aligned(v, page));
    free(v);
    void *pv = pvalloc(10);
    CHECK(pv != NULL && aligned(pv, page) && malloc_usable_size(pv) >= page);
    free(pv);
}

static void test_foreign(void)
{
    /* Neither the interface's nor the bootstrap arena's: ignored and counted, not a crash. */
    static _Alignas(16) unsigned char not_heap[64];
    size_t before = override_foreign_frees();
    v_free(not_heap + 16);
    CHECK(override_foreign_frees() == before + 1);
    CHECK(malloc_usable_size(not_heap + 16) == 0);
    errno = 0;
    CHECK(v_realloc(not_heap + 16, 100) == NULL && errno == ENOMEM);
}

#define THREADS 4
static void *hammer(void *arg)
{
    unsigned x = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    void *live[64] = {0};
    size_t sizes[64] = {0};
    int bad = 0;
    for (int i = 0; i < 100000; i++) {
        x = x * 1103515245u + 12345u;
        unsigned slot = (x >> 8) % 64;
        if (live[slot]) {
            unsigned char *b = live[slot];
            for (size_t k = 0; k < sizes[slot]; k++) bad += b[k] != (unsigned char)(slot + sizes[slot]);
            free(live[slot]);
            live[slot] = NULL;
        } else {
            sizes[slot] = 1 + (x >> 16) % 2000;
            live[slot] = (x & 1) ? malloc(sizes[slot]) : calloc(1, sizes[slot]);
            if (live[slot]) memset(live[slot], (int)(slot + sizes[slot]) & 0xFF, sizes[slot]);
            else bad++;
        }
    }
    for (int s = 0; s < 64; s++) free(live[s]);
    return (void *)(uintptr_t)bad;
}

static void test_threads(void)
{
    fl_memory_stats before, after;
    CHECK(override_stats(&before) == FL_OK);
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++) CHECK(pthread_create(&t[i], NULL, hammer, (void *)i) == 0);
    for (int i = 0; i < THREADS; i++) {
        void *bad = NULL;
        pthread_join(t[i], &bad);
        CHECK(bad == NULL);
    }
    CHECK(override_stats(&after) == FL_OK);
    /* Thread stacks' TLS may stay allocated; the test's own blocks are all back. */
    CHECK(after.total_allocations >= before.total_allocations + THREADS * 1000);
}

int main(void)
{
    resolve("flmem_override_active", &override_active, sizeof override_active);
    resolve("flmem_override_stats", &override_stats, sizeof override_stats);
    resolve("flmem_override_foreign_frees", &override_foreign_frees, sizeof override_foreign_frees);
    if (override_active == NULL || override_stats == NULL || override_foreign_frees == NULL) {
        fprintf(stderr, "test_override_contract: run me with LD_PRELOAD=libflightmem-override.so\n");
        return 1;
    }
    CHECK(override_active() == 1);
    test_malloc_free();
    test_calloc();
    test_realloc();
    test_aligned();
    test_foreign();
    test_threads();
    fl_memory_stats st;
    CHECK(override_stats(&st) == FL_OK);
    printf("override: %llu allocations served, peak %zu bytes, %zu foreign frees\n",
           (unsigned long long)st.total_allocations, st.peak_used_bytes, override_foreign_frees());
    if (failures) {
        fprintf(stderr, "test_override_contract: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_override_contract: ok\n");
    return 0;
}
