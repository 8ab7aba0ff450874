/* The specification's allocator_management_example: the pool allocator's handle, its
 * statistics, a direct allocation from it, and the list of allocators this interface uses. */
#include "example_util.h"

static void allocator_management_example(fl_memory *memory)
{
    fl_allocator *pool;
    if (fl_memory_get_allocator(memory, FL_ALLOCATOR_POOL, &pool) == FL_OK) {
        printf("Pool allocator: %s\n", fl_allocator_name(pool));
        fl_allocator_stats stats;
        MUST(fl_memory_get_allocator_stats(memory, FL_ALLOCATOR_POOL, &stats));
        printf("  Capacity: %zu bytes\n", stats.total_capacity);
        printf("  Block size overhead: %zu bytes\n", stats.allocation_overhead);
        printf("  Fragmentation: %.1f%%\n", stats.fragmentation_ratio * 100.0);
        printf("  Supports defrag: %s\n", stats.supports_defrag ? "Yes" : "No");

        /* Use the allocator directly: counted by the interface like any allocation. */
        void *block;
        if (fl_allocator_allocate(pool, 256, 16, &block) == FL_OK) {
            EXPECT(fl_memory_is_valid_pointer(memory, block));
            MUST(fl_allocator_deallocate(pool, block));
        } else {
            example_fail("direct pool allocation");
        }
    } else {
        example_fail("fl_memory_get_allocator(Pool)");
    }

    fl_allocator_type available[FL_ALLOCATOR_TYPE_COUNT];
    size_t count = fl_memory_get_available_allocators(memory, available, FL_ALLOCATOR_TYPE_COUNT);
    printf("\nAvailable allocators:\n");
    for (size_t i = 0; i < count && i < FL_ALLOCATOR_TYPE_COUNT; i++)
        printf("  %s\n", fl_allocator_type_str(available[i]));
    EXPECT(count >= 4);

    fl_memory_region regions[FL_MEMORY_TYPE_COUNT + 1];
    size_t n = fl_memory_get_regions(memory, regions, FL_MEMORY_TYPE_COUNT + 1);
    printf("\nRegions:\n");
    for (size_t i = 0; i < n && i <= FL_MEMORY_TYPE_COUNT; i++)
        printf("  %-18s %-8s %10zu bytes\n", regions[i].name, fl_allocator_type_str(regions[i].allocator),
               regions[i].size);
}

int main(void)
{
    fl_memory *memory = example_memory(FL_PLATFORM_HOST);
    allocator_management_example(memory);
    fl_memory_destroy(memory);
    return 0;
}
