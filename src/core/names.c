/* Static names of every enumeration value, "Unknown" for anything else. */
#include "core.h"

const char *fl_status_str(fl_status status)
{
    switch (status) {
    case FL_OK: return "Ok";
    case FL_ERR_OUT_OF_MEMORY: return "OutOfMemory";
    case FL_ERR_INVALID_PARAMETERS: return "InvalidParameters";
    case FL_ERR_PLATFORM: return "PlatformError";
    case FL_ERR_NOT_SUPPORTED: return "NotSupported";
    case FL_ERR_TIMEOUT: return "Timeout";
    case FL_ERR_INVALID_STATE: return "InvalidState";
    }
    return "Unknown";
}

const char *fl_memory_type_str(fl_memory_type type)
{
    switch (type) {
    case FL_MEMORY_SYSTEM: return "System";
    case FL_MEMORY_VIDEO: return "Video";
    case FL_MEMORY_AUDIO: return "Audio";
    case FL_MEMORY_NETWORK: return "Network";
    case FL_MEMORY_SHARED: return "Shared";
    case FL_MEMORY_TEMPORARY: return "Temporary";
    case FL_MEMORY_STACK: return "Stack";
    case FL_MEMORY_POOL: return "Pool";
    case FL_MEMORY_TYPE_COUNT: break;
    }
    return "Unknown";
}

const char *fl_allocator_type_str(fl_allocator_type type)
{
    switch (type) {
    case FL_ALLOCATOR_LINEAR: return "Linear";
    case FL_ALLOCATOR_STACK: return "Stack";
    case FL_ALLOCATOR_POOL: return "Pool";
    case FL_ALLOCATOR_BUDDY: return "Buddy";
    case FL_ALLOCATOR_FREELIST: return "FreeList";
    case FL_ALLOCATOR_SYSTEM: return "System";
    case FL_ALLOCATOR_AUTO: return "Auto";
    case FL_ALLOCATOR_TYPE_COUNT: break;
    }
    return "Unknown";
}

const char *fl_pressure_level_str(fl_pressure_level level)
{
    switch (level) {
    case FL_PRESSURE_NONE: return "None";
    case FL_PRESSURE_LOW: return "Low";
    case FL_PRESSURE_MEDIUM: return "Medium";
    case FL_PRESSURE_HIGH: return "High";
    case FL_PRESSURE_CRITICAL: return "Critical";
    }
    return "Unknown";
}

const char *fl_platform_str(fl_platform platform)
{
    switch (platform) {
    case FL_PLATFORM_HOST: return "Host";
    case FL_PLATFORM_DREAMCAST: return "Dreamcast";
    case FL_PLATFORM_PSP: return "PSP";
    case FL_PLATFORM_WEB: return "Web";
    case FL_PLATFORM_DESKTOP: return "Desktop";
    }
    return "Unknown";
}
