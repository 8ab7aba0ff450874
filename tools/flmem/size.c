/*
 * flmem size: the sizing helper (fl_memory_size_region) for planning a console memory map.
 * For each --peak-live TYPE=BYTES it prints the capacity the type's region needs under the
 * profile's strategy so that no request sequence with at most that many live bytes fails,
 * next to the capacity the profile gives it. --largest TYPE=BYTES bounds the largest single
 * request (default: the profile's max_allocation, or the peak when smaller), --smallest the
 * smallest (default 1 byte, the worst case).
 */
#include "flmem.h"

#include <string.h>

/* The strategy serving each type when the profile says FL_ALLOCATOR_AUTO (memory.h's table). */
static fl_allocator_type strategy_of(const fl_memory_config *c, fl_memory_type t)
{
    static const fl_allocator_type defaults[FL_MEMORY_TYPE_COUNT] = {
        FL_ALLOCATOR_FREELIST, FL_ALLOCATOR_BUDDY,  FL_ALLOCATOR_BUDDY, FL_ALLOCATOR_FREELIST,
        FL_ALLOCATOR_FREELIST, FL_ALLOCATOR_LINEAR, FL_ALLOCATOR_STACK, FL_ALLOCATOR_POOL};
    return c->strategy[t] == FL_ALLOCATOR_AUTO ? defaults[t] : c->strategy[t];
}

/* TYPE=BYTES into the per-type table; 0 and a message when malformed. */
static int parse_pair(const char *option, const char *text, size_t values[FL_MEMORY_TYPE_COUNT])
{
    const char *eq = strchr(text, '=');
    fl_memory_type t;
    size_t bytes;
    if (eq == NULL || !flmem_parse_type(text, (size_t)(eq - text), &t)) {
        fprintf(stderr, "flmem size: %s needs TYPE=BYTES with TYPE one of system video audio network shared "
                        "temporary stack pool; got %s\n", option, text);
        return 0;
    }
    if (!flmem_parse_bytes(eq + 1, &bytes)) {
        fprintf(stderr, "flmem size: %s %s: %s is not a byte count above 0 (e.g. 65536, 512K, 12M)\n", option,
                text, eq + 1);
        return 0;
    }
    values[t] = bytes;
    return 1;
}

int flmem_size(fl_platform platform, int argc, char **argv)
{
    size_t peak[FL_MEMORY_TYPE_COUNT] = {0}, largest[FL_MEMORY_TYPE_COUNT] = {0},
           smallest[FL_MEMORY_TYPE_COUNT] = {0};
    int any = 0;
    for (int i = 0; i < argc; i += 2) {
        size_t *table = NULL;
        if (strcmp(argv[i], "--peak-live") == 0) table = peak;
        else if (strcmp(argv[i], "--largest") == 0) table = largest;
        else if (strcmp(argv[i], "--smallest") == 0) table = smallest;
        if (table == NULL || i + 1 >= argc) {
            fprintf(stderr, "flmem size: unknown or incomplete argument %s\n", argv[i]);
            return FLMEM_EXIT_USAGE;
        }
        if (!parse_pair(argv[i], argv[i + 1], table)) return FLMEM_EXIT_USAGE;
        any |= table == peak;
    }
    if (!any) {
        fprintf(stderr, "flmem size: give at least one --peak-live TYPE=BYTES\n");
        return FLMEM_EXIT_USAGE;
    }
    fl_memory_config c;
    if (fl_memory_config_default(platform, &c) != FL_OK) return FLMEM_EXIT_FAIL;
    printf("Sizing for the %s profile (worst case: no request sequence within these bounds can fail)\n\n",
           fl_platform_str(platform));
    printf("%-10s %-9s %12s %12s %12s %14s %14s  %s\n", "type", "strategy", "peak live", "largest", "smallest",
           "capacity need", "profile has", "fits");
    int rc = 0;
    for (unsigned t = 0; t < (unsigned)FL_MEMORY_TYPE_COUNT; t++) {
        if (peak[t] == 0) continue;
        fl_allocator_type s = strategy_of(&c, (fl_memory_type)t);
        size_t big = largest[t];
        if (big == 0) big = c.max_allocation != 0 && c.max_allocation < peak[t] ? c.max_allocation : peak[t];
        size_t small = smallest[t] != 0 ? smallest[t] : 1;
        size_t need;
        char b[5][32];
        if (fl_memory_size_region(s, peak[t], big, small, &need) != FL_OK) {
            fprintf(stderr, "flmem size: %s: %s\n", fl_memory_type_str((fl_memory_type)t),
                    fl_last_error()->message);
            rc = FLMEM_EXIT_USAGE;
            continue;
        }
        size_t have = c.capacity[t];
        printf("%-10s %-9s %12s %12s %12s %14s %14s  %s\n", fl_memory_type_str((fl_memory_type)t),
               fl_allocator_type_str(s), flmem_bytes_str(peak[t], b[0], sizeof b[0]),
               flmem_bytes_str(big, b[1], sizeof b[1]), flmem_bytes_str(small, b[2], sizeof b[2]),
               flmem_bytes_str(need, b[3], sizeof b[3]),
               have != 0 ? flmem_bytes_str(have, b[4], sizeof b[4]) : "(none)", need <= have ? "yes" : "NO");
        printf("%-10s %-9s %12zu %12zu %12zu %14zu %14zu\n", "", "(bytes)", peak[t], big, small, need, have);
    }
    printf("\nA free list's bound grows with largest/smallest; route small objects to pools and frame data to "
           "linear memory (docs/platforms.md).\n");
    return rc;
}
