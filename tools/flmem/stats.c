/*
 * flmem stats --json: creates a profile, runs a small representative workload (a bit of
 * every type, tagged allocations, a frame's temporary memory) and prints
 * fl_memory_dump_json's document while that memory is live, so every section has content.
 */
#include "flmem.h"

#include <stdlib.h>

static void to_stdout(const char *text, size_t length, void *user)
{
    (void)user;
    fwrite(text, 1, length, stdout);
}

int flmem_stats_json(fl_platform platform)
{
    fl_memory_config config;
    fl_memory *m;
    void *backing;
    fl_status st = flmem_create_profile(platform, &config, &m, &backing);
    if (st != FL_OK) {
        fprintf(stderr, "flmem stats: cannot create the %s profile: %s\n", fl_platform_str(platform),
                fl_last_error()->message);
        return FLMEM_EXIT_FAIL;
    }
    /* Up to 64 live allocations: for each type a few blocks of a few sizes. */
    void *live[64];
    size_t n = 0;
    static const char *const tags[FL_MEMORY_TYPE_COUNT] = {"mesh",     "texture",  "sound", "packet",
                                                           "ipc",      "scratch",  "stack", "entity"};
    for (unsigned t = 0; t < (unsigned)FL_MEMORY_TYPE_COUNT; t++) {
        fl_memory_stats ts;
        if (fl_memory_get_type_stats(m, (fl_memory_type)t, &ts) != FL_OK || ts.total_bytes == 0) continue;
        for (unsigned k = 0; k < 4 && n < 64; k++) {
            size_t size = (size_t)t == FL_MEMORY_POOL ? (size_t)24 << k : ts.total_bytes / (64u << k);
            fl_alloc_request req = fl_make_allocation_request(size, (fl_memory_type)t, 0, FL_FLAG_NONE);
            req.tag = tags[t];
            fl_allocation a;
            if (fl_memory_allocate_request(m, &req, &a) == FL_OK) live[n++] = a.ptr;
        }
    }
    int rc = fl_memory_dump_json(m, to_stdout, NULL) == FL_OK ? 0 : FLMEM_EXIT_FAIL;
    /* Free newest first, so the Stack region's LIFO order holds. */
    while (n > 0) (void)fl_memory_deallocate(m, live[--n]);
    if (fflush(stdout) != 0) rc = FLMEM_EXIT_FAIL;
    fl_memory_destroy(m);
    free(backing);
    return rc;
}
