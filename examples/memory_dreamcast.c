/*
 * The specification's dreamcast_optimization_example, the way it runs on the machine: the
 * whole interface inside one static block (no operating system, no malloc), sprites from
 * pools, and a frame buffer from the linear (frame) allocator released once per frame.
 */
#include "example_util.h"

typedef struct sprite {
    float x, y, u, v;
    uint32_t color, texture;
    uint16_t w, h;
} sprite;

/* The interface's share of the 16 MiB main RAM, plus VRAM and sound RAM, as one block
 * (on the console the Video and Audio regions would map onto VRAM and sound RAM). */
static unsigned char block[23u * 1024 * 1024];

static void dreamcast_optimization_example(fl_memory *memory)
{
    /* The specification's request: 1024 sprites in one allocation, preferring a pool. */
    fl_alloc_request sprite_pool_request = fl_make_allocation_request(1024 * sizeof(sprite), FL_MEMORY_SYSTEM,
                                                                      FL_ALIGN_CACHE, FL_FLAG_NONE);
    sprite_pool_request.preferred_allocator = FL_ALLOCATOR_POOL;
    fl_allocation sprite_pool;
    bool have_sprites = fl_memory_allocate_request(memory, &sprite_pool_request, &sprite_pool) == FL_OK;
    if (have_sprites)
        printf("1024 sprites in one block: %zu bytes from %s (larger than any pool class)\n", sprite_pool.size,
               fl_allocator_type_str(sprite_pool.allocator));

    /* What pools are for: one fixed-size block per sprite. */
    void *sprites[1024];
    fl_allocation one;
    for (int i = 0; i < 1024; i++) {
        MUST(fl_memory_allocate(memory, sizeof(sprite), FL_ALIGN_CACHE, &one));
        EXPECT(one.allocator == FL_ALLOCATOR_POOL);
        sprites[i] = one.ptr;
    }
    printf("1024 sprites one by one: %zu-byte %s blocks of the %s type\n", one.size,
           fl_allocator_type_str(one.allocator), fl_memory_type_str(one.type));

    /* Frame-based allocations: the linear allocator, released in bulk at the frame's end. */
    fl_alloc_request frame_buffer_request = fl_make_allocation_request(256 * 1024, FL_MEMORY_SYSTEM, FL_ALIGN_CACHE,
                                                                       FL_FLAG_NONE);
    frame_buffer_request.preferred_allocator = FL_ALLOCATOR_LINEAR;
    for (int frame = 0; frame < 3; frame++) {
        fl_marker start = fl_memory_mark(memory, FL_MEMORY_TEMPORARY);
        fl_allocation frame_buffer;
        MUST(fl_memory_allocate_request(memory, &frame_buffer_request, &frame_buffer));
        EXPECT(frame_buffer.allocator == FL_ALLOCATOR_LINEAR && frame_buffer.type == FL_MEMORY_TEMPORARY);
        MUST(fl_memory_rewind(memory, FL_MEMORY_TEMPORARY, start)); /* the frame's memory, all at once */
    }
    printf("Dreamcast-optimized allocation strategy applied\n");

    /* Cleanup */
    for (int i = 0; i < 1024; i++) MUST(fl_memory_deallocate(memory, sprites[i]));
    if (have_sprites) MUST(fl_memory_deallocate(memory, sprite_pool.ptr));
}

int main(void)
{
    fl_memory_config config;
    MUST(fl_memory_config_default(FL_PLATFORM_DREAMCAST, &config));
    size_t needed;
    MUST(fl_memory_backing_size(&config, &needed));
    printf("the Dreamcast profile needs %zu bytes of backing memory\n", needed);
    EXPECT(needed <= sizeof block);
    config.backing_memory = block;
    config.backing_size = sizeof block;
    fl_memory *memory;
    MUST(fl_memory_create(&config, &memory));
    dreamcast_optimization_example(memory);
    fl_memory_stats stats;
    MUST(fl_memory_get_stats(memory, &stats));
    EXPECT(stats.allocation_count == 0);
    MUST(fl_memory_validate(memory));
    fl_memory_destroy(memory);
    return 0;
}
