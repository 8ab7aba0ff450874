/*
 * A tour of the six allocators, laid out the way a Dreamcast game could carve its 16 MB of
 * main RAM: a frame arena, a scope stack, a particle pool, a buddy heap for textures and a
 * general-purpose heap, all inside one static block, plus the platform's own allocator under
 * a budget. Each does a little of the work it is meant for; then the statistics of all six
 * are printed as a table. This is the README's first command until `flmem demo` exists.
 */
#include <flight/memory.h>

#include <stdio.h>
#include <string.h>

#define MIB ((size_t)1 << 20)

static unsigned char main_ram[16 * MIB];

typedef struct carve {
    fl_allocator_type type;
    const char *name;
    size_t size;
    size_t block_size; /* pool */
} carve;

static const carve layout[] = {
    {FL_ALLOCATOR_LINEAR, "frame arena", 2 * MIB, 0},
    {FL_ALLOCATOR_STACK, "scope stack", 1 * MIB, 0},
    {FL_ALLOCATOR_POOL, "particles", 1 * MIB, 64},
    {FL_ALLOCATOR_BUDDY, "textures", 4 * MIB, 0},
    {FL_ALLOCATOR_FREELIST, "general heap", 8 * MIB, 0},
    {FL_ALLOCATOR_SYSTEM, "platform heap", 4 * MIB, 0},
};
#define ALLOCATOR_COUNT (sizeof layout / sizeof layout[0])

static int fail(const char *what)
{
    const fl_error *e = fl_last_error();
    fprintf(stderr, "%s failed: %s (%s)\n", what, e->message, fl_status_str(e->category));
    return 1;
}

/* Ten frames of scratch memory, each released in bulk by rewinding to the frame's start. */
static int run_frames(fl_allocator *a)
{
    for (int frame = 0; frame < 10; frame++) {
        fl_marker start = fl_allocator_mark(a);
        for (int i = 0; i < 200; i++) {
            void *p;
            if (fl_allocator_allocate(a, 64 + (size_t)(i % 7) * 96, FL_ALIGN_SIMD, &p) != FL_OK) return fail("frame allocation");
            memset(p, frame, 64);
        }
        if (fl_allocator_rewind(a, start) != FL_OK) return fail("frame rewind");
    }
    void *kept; /* something that lives past the frames, so the table shows use */
    return fl_allocator_allocate(a, 48 * 1024, FL_ALIGN_CACHE, &kept) == FL_OK ? 0 : fail("level data");
}

/* Nested scopes: each pushes a few buffers and pops them in reverse. */
static int run_scopes(fl_allocator *a)
{
    void *outer, *inner[3];
    if (fl_allocator_allocate(a, 4096, FL_ALIGN_CACHE, &outer) != FL_OK) return fail("scope push");
    for (int i = 0; i < 3; i++)
        if (fl_allocator_allocate(a, 512u << i, 0, &inner[i]) != FL_OK) return fail("scope push");
    for (int i = 2; i >= 0; i--)
        if (fl_allocator_deallocate(a, inner[i]) != FL_OK) return fail("scope pop");
    return 0; /* `outer` stays: the stack still holds one scope */
}

/* Particles spawn and die; a third stays alive. */
static int run_particles(fl_allocator *a)
{
    static void *live[3000];
    for (int i = 0; i < 3000; i++)
        if (fl_allocator_allocate(a, 64, 0, &live[i]) != FL_OK) return fail("particle spawn");
    for (int i = 0; i < 3000; i++)
        if (i % 3 != 0 && fl_allocator_deallocate(a, live[i]) != FL_OK) return fail("particle death");
    return 0;
}

/* Textures of power-of-two sizes, GPU aligned; a few get unloaded. */
static int run_textures(fl_allocator *a)
{
    void *tex[12];
    for (int i = 0; i < 12; i++)
        if (fl_allocator_allocate(a, (size_t)8192 << (i % 5), FL_ALIGN_GPU, &tex[i]) != FL_OK) return fail("texture load");
    for (int i = 0; i < 12; i += 3)
        if (fl_allocator_deallocate(a, tex[i]) != FL_OK) return fail("texture unload");
    return 0;
}

/* Meshes, entities and strings of every size; half are freed again. */
static int run_general(fl_allocator *a)
{
    static void *objects[2000];
    size_t size = 24;
    for (int i = 0; i < 2000; i++) {
        size = (size * 1103515245u + 12345u) % 6000 + 16;
        if (fl_allocator_allocate(a, size, 0, &objects[i]) != FL_OK) return fail("object allocation");
    }
    for (int i = 0; i < 2000; i += 2)
        if (fl_allocator_deallocate(a, objects[i]) != FL_OK) return fail("object free");
    return 0;
}

static int run_platform(fl_allocator *a)
{
    void *blocks[8];
    for (int i = 0; i < 8; i++)
        if (fl_allocator_allocate(a, (size_t)100000 * (size_t)(i + 1), 0, &blocks[i]) != FL_OK) return fail("platform allocation");
    for (int i = 0; i < 8; i += 2)
        if (fl_allocator_deallocate(a, blocks[i]) != FL_OK) return fail("platform free");
    return 0;
}

static int (*const workloads[ALLOCATOR_COUNT])(fl_allocator *) = {
    run_frames, run_scopes, run_particles, run_textures, run_general, run_platform,
};

int main(void)
{
    fl_allocator *allocators[ALLOCATOR_COUNT] = {0};
    size_t offset = 0;
    int status = 0;

    for (size_t i = 0; i < ALLOCATOR_COUNT && status == 0; i++) {
        fl_allocator_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.type = layout[i].type;
        cfg.name = layout[i].name;
        cfg.size = layout[i].size;
        cfg.block_size = layout[i].block_size;
        if (cfg.type != FL_ALLOCATOR_SYSTEM) { /* the platform heap lives outside main_ram */
            cfg.buffer = main_ram + offset;
            offset += layout[i].size;
        }
        if (fl_allocator_create(&cfg, &allocators[i]) != FL_OK) status = fail(layout[i].name);
        else status = workloads[i](allocators[i]);
        if (status == 0 && fl_allocator_validate(allocators[i]) != FL_OK) status = fail("validate");
    }

    if (status == 0) {
        printf("flight-memory %d.%d.%d: six allocators in 16 MB of main RAM (+ a 4 MB platform budget)\n\n",
               FL_VERSION_MAJOR, FL_VERSION_MINOR, FL_VERSION_PATCH);
        printf("%-14s %-9s %10s %10s %10s %7s %10s %8s %6s %6s\n", "name", "strategy", "capacity", "used",
               "peak", "live", "largest", "overhead", "frag%", "eff%");
        for (size_t i = 0; i < ALLOCATOR_COUNT; i++) {
            fl_allocator_stats s;
            fl_allocator_get_stats(allocators[i], &s);
            printf("%-14s %-9s %10zu %10zu %10zu %7zu %10zu %8zu %6.1f %6.1f\n", fl_allocator_name(allocators[i]),
                   fl_allocator_type_str(fl_allocator_kind(allocators[i])), s.total_capacity, s.used_bytes,
                   s.peak_used_bytes, s.allocation_count, s.largest_free_block, s.allocation_overhead,
                   100.0 * s.fragmentation_ratio, 100.0 * s.allocation_efficiency);
        }
    }
    for (size_t i = 0; i < ALLOCATOR_COUNT; i++) fl_allocator_destroy(allocators[i]);
    return status;
}
