/* The specification's memory_statistics_example: the whole interface's statistics, then
 * the Video type's. */
#include "example_util.h"

#define MB(x) ((x) / (1024 * 1024))

static void memory_statistics_example(fl_memory *memory)
{
    fl_memory_stats stats;
    if (fl_memory_get_stats(memory, &stats) == FL_OK) {
        printf("Memory Statistics:\n");
        printf("  Total: %zu MB\n", MB(stats.total_bytes));
        printf("  Used: %zu MB\n", MB(stats.used_bytes));
        printf("  Free: %zu MB\n", MB(stats.free_bytes));
        printf("  Peak: %zu MB\n", MB(stats.peak_used_bytes));
        printf("  Allocations: %zu\n", stats.allocation_count);
        printf("  Fragmentation: %.2f%%\n", stats.fragmentation_pct);
        printf("  Largest free block: %zu KB\n", stats.largest_free_block / 1024);
        printf("  Efficiency: %.1f%%\n", stats.allocation_efficiency * 100.0);
        EXPECT(stats.used_bytes + stats.free_bytes == stats.total_bytes);
    }

    fl_memory_stats video;
    if (fl_memory_get_type_stats(memory, FL_MEMORY_VIDEO, &video) == FL_OK) {
        printf("\nVideo Memory:\n");
        printf("  Used: %zu MB\n", MB(video.used_bytes));
        printf("  Free: %zu MB\n", MB(video.free_bytes));
    }
}

int main(void)
{
    fl_memory *memory = example_memory(FL_PLATFORM_DREAMCAST);
    /* Something to count: a texture, a few sprites, a frame's scratch. */
    fl_allocation texture, scratch, sprite;
    MUST(fl_memory_allocate_typed(memory, 1024 * 1024, FL_MEMORY_VIDEO, FL_ALIGN_GPU, 0, &texture));
    MUST(fl_memory_allocate_typed(memory, 200 * 1024, FL_MEMORY_TEMPORARY, 0, 0, &scratch));
    for (int i = 0; i < 100; i++) MUST(fl_memory_allocate(memory, 48, 0, &sprite));
    memory_statistics_example(memory);
    fl_memory_stats stats;
    MUST(fl_memory_get_stats(memory, &stats));
    EXPECT(stats.allocation_count == 102);
    fl_memory_destroy(memory);
    return 0;
}
