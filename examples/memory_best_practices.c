/* The specification's best practices, in C: the right allocator for each lifetime, pressure
 * monitoring on small machines, the right memory type, and graceful failure. */
#include "example_util.h"

typedef struct sprite {
    float x, y;
    uint32_t frame;
} sprite;

static void on_pressure(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    (void)info;
    (void)user;
    printf("pressure: %s\n", fl_pressure_level_str(level));
}

int main(void)
{
    fl_memory *memory = example_memory(FL_PLATFORM_PSP);

    /* 1. Choose the right allocator: pools for objects with a known size, linear for frame
     *    data, the general heap for the rest. */
    fl_allocation sprites, frame_memory, general_buffer;
    MUST(fl_memory_allocate_typed(memory, sizeof(sprite), FL_MEMORY_POOL, 0, 0, &sprites));
    MUST(fl_memory_allocate_typed(memory, 256 * 1024, FL_MEMORY_TEMPORARY, 0, 0, &frame_memory));
    MUST(fl_memory_allocate(memory, 100 * 1024, 0, &general_buffer));
    EXPECT(sprites.allocator == FL_ALLOCATOR_POOL && frame_memory.allocator == FL_ALLOCATOR_LINEAR);
    EXPECT(general_buffer.allocator == FL_ALLOCATOR_FREELIST);

    /* 2. Monitor memory pressure on constrained platforms. */
    fl_memory_stats stats;
    MUST(fl_memory_get_stats(memory, &stats));
    uint32_t id = 0;
    if (stats.total_bytes < 64u * 1024 * 1024)
        MUST(fl_memory_register_pressure_callback(memory, FL_PRESSURE_MEDIUM, on_pressure, NULL, &id));

    /* 3. Use appropriate memory types: GPU resources in Video memory, audio in Audio memory. */
    fl_allocation texture_buffer, audio_buffer;
    MUST(fl_memory_allocate_typed(memory, 512 * 1024, FL_MEMORY_VIDEO, 0, 0, &texture_buffer));
    MUST(fl_memory_allocate_typed(memory, 64 * 1024, FL_MEMORY_AUDIO, FL_ALIGN_CACHE, FL_FLAG_DMA_CAPABLE,
                                  &audio_buffer));

    /* 4. Handle allocation failures gracefully: a smaller size, then streaming. */
    size_t requested = 16u * 1024 * 1024;
    fl_allocation result;
    bool ok = fl_memory_allocate(memory, requested, 0, &result) == FL_OK;
    if (!ok) ok = fl_memory_allocate(memory, requested / 2, 0, &result) == FL_OK;
    if (!ok) ok = fl_memory_allocate(memory, requested / 4, 0, &result) == FL_OK;
    printf("large buffer: %s\n", ok ? "allocated" : "use streaming instead");
    if (ok) MUST(fl_memory_deallocate(memory, result.ptr));

    MUST(fl_memory_deallocate(memory, audio_buffer.ptr));
    MUST(fl_memory_deallocate(memory, texture_buffer.ptr));
    MUST(fl_memory_deallocate(memory, general_buffer.ptr));
    MUST(fl_memory_rewind(memory, FL_MEMORY_TEMPORARY, (fl_marker){0, 0, 0}));
    MUST(fl_memory_deallocate(memory, sprites.ptr));
    if (id != 0) MUST(fl_memory_unregister_pressure_callback(memory, id));
    MUST(fl_memory_validate(memory));
    fl_memory_destroy(memory);
    return 0;
}
