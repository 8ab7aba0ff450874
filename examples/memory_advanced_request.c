/* The specification's advanced_allocation_example: a full request (2 MiB of System memory,
 * page aligned, cacheable and zeroed, preferring the buddy allocator, a 5 s timeout, and
 * fallback allowed), then what actually served it. */
#include "example_util.h"

static void advanced_allocation_example(fl_memory *memory)
{
    fl_alloc_request request = fl_make_allocation_request(2 * 1024 * 1024, FL_MEMORY_SYSTEM, FL_ALIGN_PAGE,
                                                          FL_FLAG_CACHEABLE | FL_FLAG_ZERO);
    request.preferred_allocator = FL_ALLOCATOR_BUDDY;
    request.timeout_ms = 5000; /* accepted; waiting for memory is not implemented yet */
    request.allow_fallback = true;

    fl_allocation allocation;
    if (fl_memory_allocate_request(memory, &request, &allocation) != FL_OK) example_fail("advanced allocation");
    printf("Advanced allocation successful:\n");
    printf("  Size: %zu bytes\n", allocation.size);
    printf("  Type: %s\n", fl_memory_type_str(allocation.type));
    printf("  Allocator: %s\n", fl_allocator_type_str(allocation.allocator));
    printf("  Flags: 0x%x\n", (unsigned)allocation.flags);

    /* Memory is guaranteed to be zero-initialized. */
    const unsigned char *bytes = allocation.ptr;
    for (size_t i = 0; i < allocation.size; i++) EXPECT(bytes[i] == 0);
    EXPECT((uintptr_t)allocation.ptr % FL_ALIGN_PAGE == 0);
    EXPECT(allocation.flags & FL_FLAG_ZERO);

    MUST(fl_memory_deallocate(memory, allocation.ptr));
}

int main(void)
{
    fl_memory *memory = example_memory(FL_PLATFORM_HOST);
    advanced_allocation_example(memory);
    fl_memory_destroy(memory);
    return 0;
}
