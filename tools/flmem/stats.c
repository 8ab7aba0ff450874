/*
 * flmem stats --json: creates a profile, runs a small representative workload (a bit of
 * every type, tagged allocations, a frame's temporary memory, relocatable blocks compacted by
 * fl_memory_defragment) and prints
 * fl_memory_dump_json's document while that memory is live, so every section has content.
 */
#include "flmem.h"

#include <stdlib.h>

static void to_stdout(const char *text, size_t length, void *user)
{
    (void)user;
    fwrite(text, 1, length, stdout);
}

/* on_relocate: the slot holding the allocation's address follows it. */
static void follow(void *old_ptr, void *new_ptr, size_t size, void *user)
{
    (void)old_ptr;
    (void)size;
    *(void **)user = new_ptr;
}

int flmem_stats_json(fl_platform platform)
{
    fl_memory_config config;
    fl_memory *m;
    void *backing;
    fl_status st = flmem_create_profile(platform, false, &config, &m, &backing);
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
    /* A few relocatable Video blocks (every profile has a Video buddy; the Web's System is
     * the platform heap, which cannot move anything), every other one freed, then a
     * defragmentation: the document's "defragmentation" section has a real last result. */
    void *movable[8];
    size_t movable_count = 0;
    for (unsigned k = 0; k < 8 && n + 8 < 64; k++) {
        fl_alloc_request req = fl_make_allocation_request(16384, FL_MEMORY_VIDEO, 0, FL_FLAG_RELOCATABLE);
        req.tag = "asset";
        req.on_relocate = follow;
        req.relocate_user = &movable[movable_count];
        fl_allocation a;
        if (fl_memory_allocate_request(m, &req, &a) == FL_OK) movable[movable_count++] = a.ptr;
    }
    for (size_t k = 0; k + 1 < movable_count; k += 2) { /* the lower of each pair: a hole below the other */
        size_t low = (uintptr_t)movable[k] < (uintptr_t)movable[k + 1] ? k : k + 1;
        (void)fl_memory_deallocate(m, movable[low]);
        movable[low] = NULL;
    }
    if (fl_memory_defragment(m, NULL, NULL, NULL) != FL_OK)
        fprintf(stderr, "flmem stats: defragmentation failed: %s\n", fl_last_error()->message);
    for (size_t k = 0; k < movable_count; k++)
        if (movable[k] != NULL) live[n++] = movable[k];
    int rc = fl_memory_dump_json(m, to_stdout, NULL) == FL_OK ? 0 : FLMEM_EXIT_FAIL;
    /* Free newest first, so the Stack region's LIFO order holds. */
    while (n > 0) (void)fl_memory_deallocate(m, live[--n]);
    if (fflush(stdout) != 0) rc = FLMEM_EXIT_FAIL;
    fl_memory_destroy(m);
    free(backing);
    return rc;
}
