/* The specification's setup_platform_pressure_thresholds: which thresholds each profile
 * applies, by total memory, read back through the interface. */
#include "example_util.h"

#define MB(x) ((double)(x) / (1024.0 * 1024.0))

static void setup_platform_pressure_thresholds(fl_platform platform)
{
    fl_memory_config config;
    MUST(fl_memory_config_default(platform, &config));
    fl_memory *memory;
    MUST(fl_memory_create(&config, &memory));
    fl_memory_stats stats;
    MUST(fl_memory_get_stats(memory, &stats));
    size_t total = stats.total_bytes;
    printf("%-9s %8.1f MB: ", fl_platform_str(platform), MB(total));
    if (total <= 32u * 1024 * 1024) {
        printf("Constrained memory thresholds applied (Medium at %.0f MB free, High at %.0f MB free)\n",
               MB(config.total_pressure.medium), MB(config.total_pressure.high));
        EXPECT(config.total_pressure.medium == 8u * 1024 * 1024 && config.total_pressure.high == 2u * 1024 * 1024);
    } else if (total <= 128u * 1024 * 1024) {
        printf("Moderate memory thresholds applied (Medium at %.0f MB free)\n", MB(config.total_pressure.medium));
    } else {
        printf("Relaxed memory thresholds applied (the specification's ratio table)\n");
    }
    fl_pressure_info all;
    MUST(fl_memory_get_pressure(memory, FL_MEMORY_ALL_TYPES, &all));
    EXPECT(all.level == FL_PRESSURE_NONE);
    fl_memory_destroy(memory);
}

int main(void)
{
    for (int p = FL_PLATFORM_HOST; p <= FL_PLATFORM_DESKTOP; p++) setup_platform_pressure_thresholds((fl_platform)p);
    return 0;
}
