/* The specification's robust_memory_usage: every error category handled, a smaller
 * request when memory is short, and the pointer validated before use. Video memory on the
 * Dreamcast profile runs short on purpose. */
#include "example_util.h"

static int robust_memory_usage(fl_memory *memory, fl_memory_type type, size_t size)
{
    fl_allocation result;
    fl_status status = fl_memory_allocate_typed(memory, size, type, 0, FL_FLAG_NONE, &result);
    if (status != FL_OK) {
        const fl_error *error = fl_last_error();
        switch (error->category) {
        case FL_ERR_OUT_OF_MEMORY:
            fprintf(stderr, "Out of memory - trying smaller allocation\n");
            status = fl_memory_allocate_typed(memory, size / 2, type, 0, FL_FLAG_NONE, &result);
            break;
        case FL_ERR_INVALID_PARAMETERS: fprintf(stderr, "Invalid allocation parameters: %s\n", error->message); break;
        case FL_ERR_PLATFORM: fprintf(stderr, "Platform-specific error: %s\n", error->message); break;
        default: fprintf(stderr, "Unknown memory error: %s\n", error->message); break;
        }
    }
    if (status != FL_OK) return 0;

    void *ptr = result.ptr;
    if (!fl_memory_is_valid_pointer(memory, ptr)) {
        fprintf(stderr, "Invalid pointer returned from allocation!\n");
        exit(1);
    }
    fl_allocation info;
    if (fl_memory_get_allocation_info(memory, ptr, &info) == FL_OK)
        printf("Allocation validated: %zu bytes of %s memory\n", info.size, fl_memory_type_str(info.type));
    /* use memory safely... */
    MUST(fl_memory_deallocate(memory, ptr)); /* always clean up */
    return 1;
}

int main(void)
{
    fl_memory *memory = example_memory(FL_PLATFORM_DREAMCAST);
    EXPECT(robust_memory_usage(memory, FL_MEMORY_SYSTEM, 1024 * 1024));
    /* Hold 4 MiB of VRAM, then ask for 4 MiB more: short, so the example retries with 2. */
    fl_allocation held;
    MUST(fl_memory_allocate_typed(memory, 4 * 1024 * 1024, FL_MEMORY_VIDEO, 0, 0, &held));
    EXPECT(robust_memory_usage(memory, FL_MEMORY_VIDEO, 4 * 1024 * 1024));
    /* Above the profile's largest allocation: a parameter error, not a shortage. */
    EXPECT(!robust_memory_usage(memory, FL_MEMORY_SYSTEM, 5 * 1024 * 1024));
    /* A pointer the interface never gave out. */
    int local;
    EXPECT(fl_memory_deallocate(memory, &local) == FL_ERR_INVALID_PARAMETERS);
    printf("refused: %s\n", fl_last_error()->message);
    MUST(fl_memory_deallocate(memory, held.ptr));
    fl_memory_stats stats;
    MUST(fl_memory_get_stats(memory, &stats));
    printf("failed allocations: %llu\n", (unsigned long long)stats.failed_allocations);
    EXPECT(stats.failed_allocations == 1 && stats.allocation_count == 0);
    fl_memory_destroy(memory);
    return 0;
}
