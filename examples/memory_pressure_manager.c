/*
 * The specification's MemoryManager: it registers for Medium pressure when created,
 * unregisters when destroyed, and answers each level as the specification's table
 * recommends. Here on the Dreamcast profile, a texture cache fills video memory until the
 * pressure callback tells the manager to let go of it.
 */
#include "example_util.h"

#define CACHE_MAX 64

typedef struct memory_manager {
    fl_memory *memory;
    uint32_t pressure_callback_id;
    void *texture_cache[CACHE_MAX];
    size_t cached;
    int medium_calls, high_calls, critical_calls;
} memory_manager;

static void free_texture_cache(memory_manager *mm, size_t keep)
{
    while (mm->cached > keep) MUST(fl_memory_deallocate(mm->memory, mm->texture_cache[--mm->cached]));
}
static void free_shader_cache(memory_manager *mm) { (void)mm; /* nothing cached in this demo */ }
static void free_all_caches(memory_manager *mm) { free_texture_cache(mm, 0); }
static void reduce_texture_quality(memory_manager *mm) { (void)mm; }
static void free_everything_possible(memory_manager *mm) { free_all_caches(mm); }
static void request_gc(memory_manager *mm) { MUST(fl_memory_gc_hint(mm->memory)); }

static void handle_memory_pressure(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    memory_manager *mm = user;
    printf("Memory pressure: %s (%s)\n", fl_pressure_level_str(level),
           info->type == FL_MEMORY_ALL_TYPES ? "all types" : fl_memory_type_str(info->type));
    printf("Available: %zu MB\n", info->available_bytes / (1024 * 1024));
    printf("Pressure ratio: %.1f%%\n", info->pressure_ratio * 100.0);
    switch (level) {
    case FL_PRESSURE_MEDIUM: /* free non-essential caches */
        mm->medium_calls++;
        free_shader_cache(mm);
        free_texture_cache(mm, mm->cached / 2);
        break;
    case FL_PRESSURE_HIGH: /* aggressive cleanup */
        mm->high_calls++;
        free_all_caches(mm);
        reduce_texture_quality(mm);
        break;
    case FL_PRESSURE_CRITICAL: /* emergency measures */
        mm->critical_calls++;
        free_everything_possible(mm);
        request_gc(mm);
        break;
    case FL_PRESSURE_NONE:
    case FL_PRESSURE_LOW: break;
    }
}

static void memory_manager_create(memory_manager *mm, fl_memory *memory)
{
    *mm = (memory_manager){0};
    mm->memory = memory;
    if (fl_memory_register_pressure_callback(memory, FL_PRESSURE_MEDIUM, handle_memory_pressure, mm,
                                             &mm->pressure_callback_id) != FL_OK)
        mm->pressure_callback_id = 0;
}

static void memory_manager_destroy(memory_manager *mm)
{
    if (mm->pressure_callback_id != 0) MUST(fl_memory_unregister_pressure_callback(mm->memory, mm->pressure_callback_id));
    free_all_caches(mm);
}

int main(void)
{
    fl_memory *memory = example_memory(FL_PLATFORM_DREAMCAST);
    memory_manager mm;
    memory_manager_create(&mm, memory);
    EXPECT(mm.pressure_callback_id != 0);

    /* Load 256 KiB textures into the cache until video memory runs short. */
    for (int i = 0; i < 60; i++) {
        fl_allocation texture;
        if (fl_memory_allocate_typed(memory, 256 * 1024, FL_MEMORY_VIDEO, FL_ALIGN_GPU, 0, &texture) != FL_OK) break;
        if (mm.cached < CACHE_MAX) mm.texture_cache[mm.cached++] = texture.ptr;
    }
    printf("manager heard Medium %d, High %d, Critical %d times; %zu textures cached\n", mm.medium_calls,
           mm.high_calls, mm.critical_calls, mm.cached);
    EXPECT(mm.medium_calls + mm.high_calls + mm.critical_calls > 0);
    fl_pressure_info video;
    MUST(fl_memory_get_pressure(memory, FL_MEMORY_VIDEO, &video));
    printf("video pressure now: %s, %zu KB available\n", fl_pressure_level_str(video.level),
           video.available_bytes / 1024);

    memory_manager_destroy(&mm);
    MUST(fl_memory_validate(memory));
    fl_memory_destroy(memory);
    return 0;
}
