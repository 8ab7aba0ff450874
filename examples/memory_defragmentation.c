/* The specification's defragmentation_example: a global defragmentation reporting its
 * progress, then one of the buddy allocator alone. Beforehand, textures in video memory
 * are allocated relocatable (each with an on_relocate that updates the texture's pointer)
 * and every other one is freed, so there is something to compact; afterwards every
 * surviving texture still holds its pixels, at its new address. */
#include "example_util.h"

#include <string.h>

#define TEXTURES 16
#define TEXTURE_BYTES (64 * 1024)

typedef struct texture {
    unsigned char *pixels; /* kept current by on_relocate */
    unsigned char shade;
} texture;

/* The owner learns the new address once the bytes are there. */
static void texture_moved(void *old_ptr, void *new_ptr, size_t size, void *user)
{
    texture *t = user;
    EXPECT(t->pixels == old_ptr && size >= TEXTURE_BYTES);
    t->pixels = new_ptr;
}

static void print_progress(size_t moved, size_t total, double progress, void *user)
{
    (void)user;
    printf("Defrag progress: %.1f%% (%zu/%zu bytes moved)\n", progress * 100.0, moved, total);
}

static void defragmentation_example(fl_memory *memory)
{
    /* Global defragmentation with progress callback. */
    fl_defrag_result result;
    if (fl_memory_defragment(memory, print_progress, NULL, &result) == FL_OK) {
        printf("Global defragmentation completed: %zu allocations, %zu bytes moved\n", result.allocations_moved,
               result.bytes_moved);
        printf("  largest free block %zu -> %zu bytes, fragmentation %.2f%% -> %.2f%%\n", result.largest_free_before,
               result.largest_free_after, result.fragmentation_before, result.fragmentation_after);
    }
    /* Defragment a specific allocator. */
    if (fl_memory_defragment_allocator(memory, FL_ALLOCATOR_BUDDY, NULL, NULL, NULL) == FL_OK)
        printf("Buddy allocator defragmentation completed\n");
}

int main(void)
{
    fl_memory *memory = example_memory(FL_PLATFORM_HOST);
    texture textures[TEXTURES];
    for (int i = 0; i < TEXTURES; i++) {
        fl_alloc_request request =
            fl_make_allocation_request(TEXTURE_BYTES, FL_MEMORY_VIDEO, FL_ALIGN_GPU, FL_FLAG_RELOCATABLE);
        request.on_relocate = texture_moved;
        request.relocate_user = &textures[i];
        request.tag = "texture";
        fl_allocation allocation;
        MUST(fl_memory_allocate_request(memory, &request, &allocation));
        textures[i].pixels = allocation.ptr;
        textures[i].shade = (unsigned char)(i * 13 + 1);
        memset(textures[i].pixels, textures[i].shade, TEXTURE_BYTES);
    }
    for (int i = 0; i < TEXTURES; i += 2) { /* unload every other texture: holes */
        MUST(fl_memory_deallocate(memory, textures[i].pixels));
        textures[i].pixels = NULL;
    }

    defragmentation_example(memory);

    for (int i = 1; i < TEXTURES; i += 2) {
        EXPECT(fl_memory_is_valid_pointer(memory, textures[i].pixels));
        for (size_t b = 0; b < TEXTURE_BYTES; b++) EXPECT(textures[i].pixels[b] == textures[i].shade);
        MUST(fl_memory_deallocate(memory, textures[i].pixels));
    }
    MUST(fl_memory_validate(memory));
    fl_memory_destroy(memory);
    return 0;
}
