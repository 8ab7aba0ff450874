/* Shared by the memory interface examples: report a failed call and exit non-zero, so
 * that each example doubles as a test (examples/CMakeLists.txt runs every one). */
#ifndef FLMEM_EXAMPLE_UTIL_H
#define FLMEM_EXAMPLE_UTIL_H

#include <flight/memory.h>

#include <stdio.h>
#include <stdlib.h>

static inline void example_fail(const char *what)
{
    const fl_error *e = fl_last_error();
    fprintf(stderr, "%s failed: %s (%s)\n", what, e->message, fl_status_str(e->category));
    exit(1);
}

/* Runs a call that must succeed. */
#define MUST(call)                                                                                 \
    do {                                                                                           \
        if ((call) != FL_OK) example_fail(#call);                                                  \
    } while (0)

/* A condition the example relies on. */
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);                    \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* "Get memory interface from platform": the profile of the machine we run on. */
static inline fl_memory *example_memory(fl_platform platform)
{
    fl_memory_config config;
    fl_memory *memory = NULL;
    MUST(fl_memory_config_default(platform, &config));
    MUST(fl_memory_create(&config, &memory));
    return memory;
}

#endif
