// Uses the installed library from C++: the header must compile as C++ (extern "C").
#include <flight/memory.h>
#include <cstdio>
#include <vector>

int main()
{
    std::vector<unsigned char> arena(1 << 16);
    fl_allocator_config cfg{};
    cfg.type = FL_ALLOCATOR_LINEAR;
    cfg.buffer = arena.data();
    cfg.size = arena.size();
    fl_allocator *a = nullptr;
    if (fl_allocator_create(&cfg, &a) != FL_OK) {
        std::fprintf(stderr, "create: %s\n", fl_last_error()->message);
        return 1;
    }
    void *p = nullptr;
    bool ok = fl_allocator_allocate(a, 100, FL_ALIGN_DEFAULT, &p) == FL_OK;
    fl_allocator_destroy(a);
    std::printf("consumer_cxx: %s (%s)\n", ok ? "ok" : "failed", fl_allocator_type_str(FL_ALLOCATOR_BUDDY));
    return ok ? 0 : 1;
}
