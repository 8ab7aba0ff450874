/*
 * A deliberately buggy program: each mode makes one mistake a game could make with memory
 * from flight-memory, or (mode "clean") none. tests/checkers/run_checker.sh runs it under
 * AddressSanitizer or Valgrind memcheck and checks that the tool reports the mistake (and,
 * for "clean", that it reports nothing): the allocators' poisoning (src/core/poison.h) is
 * what lets the tools see inside our blocks, which they otherwise take for one large live
 * object.
 *
 * Every bad access goes through a volatile pointer, so the compiler keeps it.
 */
#include <flight/memory.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static unsigned char arena[1 << 16];

static fl_allocator *make(fl_allocator_type type, size_t block)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.type = type;
    cfg.buffer = arena;
    cfg.size = sizeof arena;
    cfg.block_size = block;
    fl_allocator *a = NULL;
    if (fl_allocator_create(&cfg, &a) != FL_OK) {
        fprintf(stderr, "create failed: %s\n", fl_last_error()->message);
        return NULL;
    }
    return a;
}

static void *take(fl_allocator *a, size_t size)
{
    void *p = NULL;
    if (fl_allocator_allocate(a, size, 0, &p) != FL_OK) fprintf(stderr, "allocate failed\n");
    memset(p, 1, size);
    return p;
}

static int read_at(const void *p, size_t offset)
{
    const volatile unsigned char *v = (const volatile unsigned char *)p;
    return v[offset];
}

/* One mistake with an allocator on its own: take `size` bytes (and a neighbour of the same
 * size after them, so that a freed block is not the last), maybe free them, then read the
 * byte at `offset` from the allocation. */
typedef struct allocator_mistake {
    const char *mode;
    fl_allocator_type type;
    size_t block;
    size_t size;
    bool neighbour;
    bool freed;
    ptrdiff_t offset;
} allocator_mistake;

static const allocator_mistake mistakes[] = {
    /* 40 bytes asked of a pool of 64-byte blocks: byte 48 is inside the block. */
    {"pool-overread", FL_ALLOCATOR_POOL, 64, 40, false, false, 48},
    /* A freed pool block is in the free list. */
    {"pool-use-after-free", FL_ALLOCATOR_POOL, 64, 64, true, true, 16},
    {"buddy-use-after-free", FL_ALLOCATOR_BUDDY, 0, 256, false, true, 128},
    /* One past the end, nothing allocated after it. */
    {"linear-overflow", FL_ALLOCATOR_LINEAR, 0, 100, false, false, 100},
    {"stack-use-after-pop", FL_ALLOCATOR_STACK, 0, 64, false, true, 8},
    /* 33 bytes asked of the free list get a 48-byte block (40 usable): byte 36 is in the
     * block's slack. */
    {"freelist-overread", FL_ALLOCATOR_FREELIST, 0, 33, false, false, 36},
    /* The first word of a freed block: where the free list keeps its link. */
    {"freelist-use-after-free", FL_ALLOCATOR_FREELIST, 0, 256, true, true, 0},
    /* The word before an allocation is its block header. */
    {"freelist-header-read", FL_ALLOCATOR_FREELIST, 0, 64, false, false, -(ptrdiff_t)sizeof(size_t)},
};

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "clean";
    int sink = 0;
    fprintf(stderr, "buggy: mode %s\n", mode);
    const allocator_mistake *mistake = NULL;
    for (unsigned i = 0; i < sizeof mistakes / sizeof mistakes[0]; i++)
        if (strcmp(mode, mistakes[i].mode) == 0) mistake = &mistakes[i];
    if (mistake != NULL) {
        fl_allocator *a = make(mistake->type, mistake->block);
        unsigned char *p = take(a, mistake->size);
        if (mistake->neighbour) (void)take(a, mistake->size);
        if (mistake->freed) fl_allocator_deallocate(a, p);
        sink += read_at(p + mistake->offset, 0);
        fl_allocator_destroy(a);
    } else if (strcmp(mode, "memory-heap-overflow") == 0) {
        /* Through the memory interface, no debug option: one byte past the usable size of a
         * System block of the free list is the next block's header. */
        fl_memory_config cfg;
        fl_memory_config_default(FL_PLATFORM_DREAMCAST, &cfg);
        fl_memory *m = NULL;
        if (fl_memory_create(&cfg, &m) != FL_OK) return 2;
        fl_allocation al;
        if (fl_memory_allocate_typed(m, 4000, FL_MEMORY_SYSTEM, 0, 0, &al) != FL_OK) return 2;
        if (al.allocator != FL_ALLOCATOR_FREELIST) return 2;
        memset(al.ptr, 1, al.size);
        sink += read_at(al.ptr, al.size);
        fl_memory_destroy(m);
    } else if (strcmp(mode, "memory-pool-overflow") == 0) {
        /* Through the memory interface: past a 64-byte pool block into the next (free) one. */
        fl_memory_config cfg;
        fl_memory_config_default(FL_PLATFORM_DREAMCAST, &cfg);
        fl_memory *m = NULL;
        if (fl_memory_create(&cfg, &m) != FL_OK) return 2;
        fl_allocation al;
        if (fl_memory_allocate_typed(m, 64, FL_MEMORY_POOL, 0, 0, &al) != FL_OK) return 2;
        memset(al.ptr, 1, al.size);
        sink += read_at(al.ptr, al.size + 8);
        fl_memory_destroy(m);
    } else if (strcmp(mode, "memory-heap-use-after-free") == 0) {
        /* A System block of the free list, freed with FL_DEBUG_FILL: it waits in the debug
         * quarantine, poisoned by the interface, before the free list takes it back (and
         * poisons it too). */
        fl_memory_config cfg;
        fl_memory_config_default(FL_PLATFORM_DREAMCAST, &cfg);
        cfg.debug = FL_DEBUG_FILL;
        fl_memory *m = NULL;
        if (fl_memory_create(&cfg, &m) != FL_OK) return 2;
        fl_allocation al;
        if (fl_memory_allocate_typed(m, 4000, FL_MEMORY_SYSTEM, 0, 0, &al) != FL_OK) return 2;
        if (al.allocator != FL_ALLOCATOR_FREELIST) return 2;
        memset(al.ptr, 1, al.size);
        fl_memory_deallocate(m, al.ptr);
        sink += read_at(al.ptr, 100);
        fl_memory_destroy(m);
    } else if (strcmp(mode, "clean") == 0) {
        /* Every allocator used correctly, the bookkeeping walked: no report expected. */
        static const fl_allocator_type types[] = {FL_ALLOCATOR_POOL, FL_ALLOCATOR_LINEAR, FL_ALLOCATOR_STACK,
                                                  FL_ALLOCATOR_BUDDY, FL_ALLOCATOR_FREELIST};
        for (unsigned t = 0; t < sizeof types / sizeof types[0]; t++) {
            fl_allocator *a = make(types[t], 48);
            void *ps[64];
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < 64; i++) {
                    ps[i] = take(a, (size_t)(1 + (i * 7) % 48));
                    sink += read_at(ps[i], 0);
                    /* Asking the usable size opens the block's tail; the contents written
                     * stay defined (memcheck would report the branch below otherwise). */
                    size_t usable = 0;
                    if (fl_allocator_usable_size(a, ps[i], &usable) == FL_OK && read_at(ps[i], 0) == 1) sink++;
                }
                if (fl_allocator_validate(a) != FL_OK) return 3;
                for (int i = 63; i >= 0; i -= (types[t] == FL_ALLOCATOR_STACK ? 1 : 2)) fl_allocator_deallocate(a, ps[i]);
                if (fl_allocator_validate(a) != FL_OK) return 3;
                fl_marker mk = fl_allocator_mark(a);
                (void)mk;
                fl_allocator_reset(a);
            }
            fl_allocator_destroy(a);
            sink += arena[100]; /* the buffer is the caller's again */
        }
        fl_memory_config cfg;
        fl_memory_config_default(FL_PLATFORM_DREAMCAST, &cfg);
        fl_memory *m = NULL;
        if (fl_memory_create(&cfg, &m) != FL_OK) return 2;
        fl_allocation al[32];
        for (int i = 0; i < 32; i++) {
            if (fl_memory_allocate(m, (size_t)(8 + i * 40), 0, &al[i]) != FL_OK) return 2;
            memset(al[i].ptr, 2, al[i].size);
        }
        if (fl_memory_validate(m) != FL_OK) return 3;
        for (int i = 0; i < 32; i++) fl_memory_deallocate(m, al[i].ptr);
        fl_memory_destroy(m);
        /* Every debug option (guards and quarantine poisoned by the interface) used correctly. */
        cfg.debug = FL_DEBUG_ALL;
        if (fl_memory_create(&cfg, &m) != FL_OK) return 0; /* FLMEM_DEBUG=OFF */
        for (int round = 0; round < 4; round++) {
            for (int i = 0; i < 32; i++) {
                fl_memory_type t = i % 3 == 0 ? FL_MEMORY_SYSTEM : i % 3 == 1 ? FL_MEMORY_POOL : FL_MEMORY_VIDEO;
                if (fl_memory_allocate_typed(m, (size_t)(8 + i * 60), t, 0, 0, &al[i]) != FL_OK) return 2;
                memset(al[i].ptr, 3, al[i].size);
            }
            if (fl_memory_validate(m) != FL_OK) return 3;
            for (int i = 0; i < 32; i += 2) fl_memory_deallocate(m, al[i].ptr);
            if (fl_memory_validate(m) != FL_OK) return 3;
            for (int i = 1; i < 32; i += 2) fl_memory_deallocate(m, al[i].ptr);
        }
        fl_memory_debug_flush(m);
        if (fl_memory_validate(m) != FL_OK) return 3;
        fl_memory_destroy(m);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("buggy: finished (%d)\n", sink);
    return 0;
}
