/* Uses the installed library from C: one allocator over a static buffer. */
#include <flight/memory.h>
#include <stdio.h>

static unsigned char arena[1 << 16];

int main(void)
{
    fl_allocator_config cfg = {0};
    cfg.type = FL_ALLOCATOR_LINEAR;
    cfg.buffer = arena;
    cfg.size = sizeof arena;
    fl_allocator *a = NULL;
    if (fl_allocator_create(&cfg, &a) != FL_OK) {
        fprintf(stderr, "create: %s\n", fl_last_error()->message);
        return 1;
    }
    void *p = NULL;
    int ok = fl_allocator_allocate(a, 100, FL_ALIGN_CACHE, &p) == FL_OK && ((size_t)p % 32) == 0;
    fl_allocator_destroy(a);
    printf("consumer_c: %s\n", ok ? "ok" : "failed");
    return ok ? 0 : 1;
}
