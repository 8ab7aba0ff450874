/* The error model and the enum names: API.md "Conventions". */
#include "harness.h"

#include <string.h>

static void test_status_names(void)
{
    CHECK(strcmp(fl_status_str(FL_OK), "Ok") == 0);
    CHECK(strcmp(fl_status_str(FL_ERR_OUT_OF_MEMORY), "OutOfMemory") == 0);
    CHECK(strcmp(fl_status_str(FL_ERR_INVALID_PARAMETERS), "InvalidParameters") == 0);
    CHECK(strcmp(fl_status_str(FL_ERR_PLATFORM), "PlatformError") == 0);
    CHECK(strcmp(fl_status_str(FL_ERR_NOT_SUPPORTED), "NotSupported") == 0);
    CHECK(strcmp(fl_status_str(FL_ERR_TIMEOUT), "Timeout") == 0);
    CHECK(strcmp(fl_status_str(FL_ERR_INVALID_STATE), "InvalidState") == 0);
    CHECK(strcmp(fl_status_str((fl_status)99), "Unknown") == 0);
    CHECK(strcmp(fl_status_str((fl_status)-1), "Unknown") == 0);
}

static void test_enum_names(void)
{
    static const char *types[] = {"System", "Video", "Audio", "Network", "Shared", "Temporary", "Stack", "Pool"};
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) CHECK(strcmp(fl_memory_type_str((fl_memory_type)t), types[t]) == 0);
    CHECK(strcmp(fl_memory_type_str(FL_MEMORY_TYPE_COUNT), "Unknown") == 0);
    CHECK(strcmp(fl_memory_type_str((fl_memory_type)200), "Unknown") == 0);

    static const char *allocators[] = {"Linear", "Stack", "Pool", "Buddy", "FreeList", "System"};
    for (int t = 0; t < FL_ALLOCATOR_TYPE_COUNT; t++)
        CHECK(strcmp(fl_allocator_type_str((fl_allocator_type)t), allocators[t]) == 0);
    CHECK(strcmp(fl_allocator_type_str(FL_ALLOCATOR_AUTO), "Auto") == 0);
    CHECK(strcmp(fl_allocator_type_str((fl_allocator_type)77), "Unknown") == 0);

    static const char *levels[] = {"None", "Low", "Medium", "High", "Critical"};
    for (int l = 0; l <= FL_PRESSURE_CRITICAL; l++)
        CHECK(strcmp(fl_pressure_level_str((fl_pressure_level)l), levels[l]) == 0);
    CHECK(strcmp(fl_pressure_level_str((fl_pressure_level)5), "Unknown") == 0);

    static const char *platforms[] = {"Host", "Dreamcast", "PSP", "Web", "Desktop"};
    for (int p = 0; p <= FL_PLATFORM_DESKTOP; p++) CHECK(strcmp(fl_platform_str((fl_platform)p), platforms[p]) == 0);
    CHECK(strcmp(fl_platform_str((fl_platform)9), "Unknown") == 0);
}

static void test_alignment_constants(void)
{
    CHECK(FL_ALIGN_NONE == 1 && FL_ALIGN_WORD == 4 && FL_ALIGN_SIMD == 16);
    CHECK(FL_ALIGN_CACHE == 32 && FL_ALIGN_GPU == 256 && FL_ALIGN_PAGE == 4096);
    CHECK(FL_ALIGN_DEFAULT >= sizeof(void *));
    CHECK((FL_ALIGN_DEFAULT & (FL_ALIGN_DEFAULT - 1)) == 0);
}

static void test_errors_name_the_value(void)
{
    fl_allocator_config cfg;
    memset(&cfg, 0, sizeof cfg);
    fl_allocator *a = NULL;
    CHECK_STATUS(fl_allocator_create(NULL, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(fl_last_error()->category == FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "cfg") != NULL);
    CHECK(a == NULL);

    cfg.type = (fl_allocator_type)42;
    CHECK_STATUS(fl_allocator_create(&cfg, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "42") != NULL);
    cfg.type = FL_ALLOCATOR_AUTO;
    CHECK_STATUS(fl_allocator_create(&cfg, &a), FL_ERR_INVALID_PARAMETERS);
    CHECK(strstr(fl_last_error()->message, "255") != NULL);
    CHECK(a == NULL);
}

static void test_null_allocator_calls(void)
{
    void *p = NULL;
    CHECK_STATUS(fl_allocator_allocate(NULL, 16, 0, &p), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_deallocate(NULL, &p), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_validate(NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_rewind(NULL, fl_allocator_mark(NULL)), FL_ERR_INVALID_PARAMETERS);
    CHECK(!fl_allocator_owns(NULL, &p));
    CHECK(strcmp(fl_allocator_name(NULL), "Unknown") == 0);
    CHECK(fl_allocator_kind(NULL) == FL_ALLOCATOR_AUTO);
    fl_allocator_stats s;
    memset(&s, 0xAB, sizeof s);
    fl_allocator_get_stats(NULL, &s);
    CHECK(s.total_capacity == 0 && s.used_bytes == 0);
    fl_allocator_reset(NULL);
    fl_allocator_destroy(NULL);
}

int main(void)
{
    RUN(test_status_names);
    RUN(test_enum_names);
    RUN(test_alignment_constants);
    RUN(test_errors_name_the_value);
    RUN(test_null_allocator_calls);
    return harness_finish();
}
