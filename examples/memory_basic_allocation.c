/* The specification's basic_allocation_example: 1 KiB aligned to a cache line, used and
 * freed, with what served it printed. */
#include "example_util.h"

#include <string.h>

static void basic_allocation_example(fl_memory *memory)
{
    fl_allocation allocation;
    if (fl_memory_allocate(memory, 1024, FL_ALIGN_CACHE, &allocation) != FL_OK) {
        fprintf(stderr, "Allocation failed: %s\n", fl_last_error()->message);
        exit(1);
    }
    printf("Allocated %zu bytes at %p\n", allocation.size, allocation.ptr);
    printf("Alignment: %zu\n", allocation.alignment);
    printf("Allocator used: %s\n", fl_allocator_type_str(allocation.allocator));
    EXPECT(((uintptr_t)allocation.ptr % FL_ALIGN_CACHE) == 0 && allocation.size >= 1024);

    memset(allocation.ptr, 0, allocation.size); /* use the memory */

    if (fl_memory_deallocate(memory, allocation.ptr) != FL_OK) {
        fprintf(stderr, "Deallocation failed: %s\n", fl_last_error()->message);
        exit(1);
    }
}

int main(void)
{
    fl_memory *memory = example_memory(FL_PLATFORM_HOST);
    basic_allocation_example(memory);
    MUST(fl_memory_validate(memory));
    fl_memory_destroy(memory);
    return 0;
}
