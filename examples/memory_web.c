/* The specification's web_optimization_example: on a memory-constrained platform (under
 * 128 MB), a short-lived 1 MB request hinted FL_FLAG_TEMPORARY with a quick timeout, used
 * and freed at once; then a GC hint. */
#include "example_util.h"

static void web_optimization_example(fl_memory *memory)
{
    fl_memory_stats stats;
    if (fl_memory_get_stats(memory, &stats) == FL_OK && stats.total_bytes < 128u * 1024 * 1024) {
        printf("Memory constrained platform detected (%zu MB)\n", stats.total_bytes / (1024 * 1024));

        fl_alloc_request request = fl_make_allocation_request(1024 * 1024, FL_MEMORY_SYSTEM, FL_ALIGN_NONE,
                                                              FL_FLAG_TEMPORARY);
        request.timeout_ms = 1000; /* quick timeout for web */
        fl_allocation result;
        if (fl_memory_allocate_request(memory, &request, &result) == FL_OK) {
            printf("1 MB served by %s (%s)\n", fl_allocator_type_str(result.allocator),
                   fl_memory_type_str(result.type));
            EXPECT(result.allocator == FL_ALLOCATOR_LINEAR);
            MUST(fl_memory_deallocate(memory, result.ptr)); /* use immediately and free quickly */
        } else {
            example_fail("temporary request");
        }
    } else {
        example_fail("the Web profile should be constrained");
    }
    size_t released = 0;
    MUST(fl_memory_trim(memory, &released));
    printf("gc hint gave back %zu bytes\n", released);
}

int main(void)
{
    fl_memory *memory = example_memory(FL_PLATFORM_WEB);
    web_optimization_example(memory);
    fl_memory_destroy(memory);
    return 0;
}
