/* The README's short example, kept here so the test suite compiles and runs it. */
#include <flight/memory.h>
#include <stdio.h>

static unsigned char heap_memory[1 << 20];

int main(void)
{
    fl_allocator_config cfg = {0};
    cfg.type = FL_ALLOCATOR_FREELIST;        /* the general-purpose heap */
    cfg.buffer = heap_memory;
    cfg.size = sizeof heap_memory;

    fl_allocator *heap;
    if (fl_allocator_create(&cfg, &heap) != FL_OK) {
        fprintf(stderr, "%s\n", fl_last_error()->message);
        return 1;
    }
    void *mesh;
    if (fl_allocator_allocate(heap, 4096, FL_ALIGN_SIMD, &mesh) != FL_OK)
        fprintf(stderr, "%s\n", fl_last_error()->message);   /* e.g. out of memory: a normal outcome */

    fl_allocator_stats s;
    fl_allocator_get_stats(heap, &s);                  /* O(1), exact: used + free == capacity */
    printf("%zu of %zu bytes used, largest free block %zu\n", s.used_bytes, s.total_capacity,
           s.largest_free_block);

    fl_allocator_deallocate(heap, mesh);
    fl_allocator_destroy(heap);
    return 0;
}
