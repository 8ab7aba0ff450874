/* The specification's typed_allocation_example: 4 MiB of video memory aligned for the GPU,
 * and a 64 KiB DMA-capable audio buffer. Run with the Dreamcast profile, where those are
 * the PowerVR's VRAM and the AICA's sound RAM. */
#include "example_util.h"

static void typed_allocation_example(fl_memory *memory)
{
    fl_allocation video;
    if (fl_memory_allocate_typed(memory, 4 * 1024 * 1024, FL_MEMORY_VIDEO, FL_ALIGN_GPU, FL_FLAG_NONE, &video) ==
        FL_OK) {
        printf("Video memory allocated: %p (%s, %s)\n", video.ptr, fl_memory_type_str(video.type),
               fl_allocator_type_str(video.allocator));
        EXPECT(video.type == FL_MEMORY_VIDEO && (uintptr_t)video.ptr % FL_ALIGN_GPU == 0);
        /* use for GPU resources... */
        MUST(fl_memory_deallocate(memory, video.ptr));
    } else {
        example_fail("video allocation");
    }

    fl_allocation audio;
    if (fl_memory_allocate_typed(memory, 64 * 1024, FL_MEMORY_AUDIO, FL_ALIGN_CACHE, FL_FLAG_DMA_CAPABLE, &audio) ==
        FL_OK) {
        printf("Audio buffer allocated: %p (flags 0x%x)\n", audio.ptr, (unsigned)audio.flags);
        EXPECT(audio.type == FL_MEMORY_AUDIO && (audio.flags & FL_FLAG_DMA_CAPABLE));
        /* use for audio streaming... */
        MUST(fl_memory_deallocate(memory, audio.ptr));
    } else {
        example_fail("audio allocation");
    }
}

int main(void)
{
    fl_memory *memory = example_memory(FL_PLATFORM_DREAMCAST);
    typed_allocation_example(memory);
    fl_memory_destroy(memory);
    memory = example_memory(FL_PLATFORM_HOST); /* the same code on the machine at hand */
    typed_allocation_example(memory);
    fl_memory_destroy(memory);
    return 0;
}
