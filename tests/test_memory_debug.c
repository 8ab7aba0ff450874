/* The memory interface's debug options (src/memory/debug.c, docs/debugging.md): guard
 * bytes and their reports with tag, size and call site, fill patterns and the quarantine's
 * write-after-free check, double frees of quarantined blocks, full records and the leak
 * report (callback, destroy, JSON), and the statistics identities with all of it on. */
#include "harness.h"
#include "memory_test_util.h"
#include "core/poison.h"

#include <string.h>

#if defined(FLI_ASAN)
/* ASan stops the deliberate overruns below at once (the guard and the quarantine are
 * poisoned): those checks run in the other builds. */
#define DELIBERATE_BUGS 0
#else
#define DELIBERATE_BUGS 1
#endif

typedef struct reports {
    int count[3];
    fl_debug_report last;
    char message[256];
    char tag[64];
    size_t leak_count, leak_bytes;
} reports;

static void on_report(const fl_debug_report *r, void *user)
{
    reports *rs = user;
    rs->count[r->event]++;
    rs->last = *r;
    snprintf(rs->message, sizeof rs->message, "%s", r->message);
    snprintf(rs->tag, sizeof rs->tag, "%s", r->tag ? r->tag : "(null)");
    rs->last.message = rs->message;
    rs->last.tag = rs->tag;
    if (r->event == FL_DEBUG_LEAK) {
        rs->leak_count += r->count;
        rs->leak_bytes += r->size;
    }
}

static void on_report_leak_noop(const fl_leak *leak, void *user)
{
    (void)leak;
    (void)user;
}

static fl_memory *make_debug(uint32_t debug, reports *rs)
{
    fl_memory_config c = small_config();
    c.debug = debug;
    c.debug_report = on_report;
    c.debug_user = rs;
    memset(rs, 0, sizeof *rs);
    return make_memory(&c);
}

static const fl_memory_type every_type[] = {FL_MEMORY_SYSTEM, FL_MEMORY_POOL, FL_MEMORY_TEMPORARY,
                                            FL_MEMORY_STACK,  FL_MEMORY_NETWORK, FL_MEMORY_VIDEO};

/* A one-byte overrun in every kind of region: validate fails, the report names the tag,
 * the size, the first bad byte and the call site; the free still succeeds and reports. */
static void test_guard_reports_overrun(void)
{
    for (size_t i = 0; i < sizeof every_type / sizeof every_type[0]; i++) {
        reports rs;
        fl_memory *m = make_debug(FL_DEBUG_GUARDS, &rs);
        fl_alloc_request req = fl_make_allocation_request(40, every_type[i], 0, FL_FLAG_NONE);
        req.tag = "enemy";
        fl_allocation a;
        unsigned line = __LINE__ + 1;
        CHECK_OK(FL_MEMORY_ALLOCATE_HERE(m, &req, &a));
        CHECK_EQ_SIZE(a.size, 40); /* exactly the request: the guard follows */
        fl_allocation info;
        CHECK_OK(fl_memory_get_allocation_info(m, a.ptr, &info));
        CHECK_EQ_SIZE(info.size, 40);
        memset(a.ptr, 7, a.size);
        CHECK_OK(fl_memory_validate(m));
        check_identities(m);
        fl_memory_stats s;
        CHECK_OK(fl_memory_get_type_stats(m, a.type, &s));
        CHECK(s.used_bytes >= 40 + FL_DEBUG_GUARD_BYTES); /* the guard is overhead */
        CHECK(s.allocation_efficiency < 1.0);
        if (DELIBERATE_BUGS) {
            ((unsigned char *)a.ptr)[42] = 0; /* two bytes past the end */
            CHECK_STATUS(fl_memory_validate(m), FL_ERR_INVALID_STATE);
            CHECK(message_has("overrun"));
            CHECK(rs.count[FL_DEBUG_OVERRUN] == 1);
            CHECK(rs.last.ptr == a.ptr && rs.last.size == 40 && rs.last.offset == 42);
            CHECK(strcmp(rs.tag, "enemy") == 0 && rs.last.type == a.type);
            CHECK(rs.last.file != NULL && strcmp(rs.last.file, __FILE__) == 0 && rs.last.line == line);
            CHECK(strstr(rs.message, "enemy") != NULL && strstr(rs.message, "40-byte") != NULL);
            CHECK_OK(fl_memory_deallocate(m, a.ptr));
            CHECK(rs.count[FL_DEBUG_OVERRUN] == 2);
            fl_debug_counts dc;
            CHECK_OK(fl_memory_debug_counts(m, &dc));
            CHECK(dc.overruns == 2 && dc.writes_after_free == 0);
        } else {
            CHECK_OK(fl_memory_deallocate(m, a.ptr));
        }
        CHECK_OK(fl_memory_debug_flush(m));
        CHECK_OK(fl_memory_validate(m));
        fl_memory_destroy(m);
    }
}

/* Fresh bytes read FL_DEBUG_ALLOC_BYTE (or 0 with FL_FLAG_ZERO); a freed pool block waits
 * in the quarantine: it is no longer valid, a second free is refused, a write into it is
 * found by validate and when it leaves. */
static void test_fill_and_quarantine(void)
{
    reports rs;
    fl_memory *m = make_debug(FL_DEBUG_FILL | FL_DEBUG_GUARDS, &rs);
    fl_allocation a, z;
    CHECK_OK(fl_memory_allocate_typed(m, 24, FL_MEMORY_POOL, 0, FL_FLAG_NONE, &a));
    for (size_t i = 0; i < a.size; i++) CHECK(((unsigned char *)a.ptr)[i] == FL_DEBUG_ALLOC_BYTE);
    CHECK_OK(fl_memory_allocate_typed(m, 100, FL_MEMORY_SYSTEM, 0, FL_FLAG_ZERO, &z));
    for (size_t i = 0; i < z.size; i++) CHECK(((unsigned char *)z.ptr)[i] == 0);
    fl_memory_stats before;
    CHECK_OK(fl_memory_get_stats(m, &before));
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    /* Quarantined: still counted, but no longer a valid pointer. */
    fl_memory_stats after;
    CHECK_OK(fl_memory_get_stats(m, &after));
    CHECK_EQ_SIZE(after.allocation_count, before.allocation_count);
    CHECK(!fl_memory_is_valid_pointer(m, a.ptr));
    CHECK_UNCHANGED(m, fl_memory_deallocate(m, a.ptr), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("double free"));
    CHECK_OK(fl_memory_validate(m));
    if (DELIBERATE_BUGS) {
        ((unsigned char *)a.ptr)[5] = 1; /* a write after free */
        CHECK_STATUS(fl_memory_validate(m), FL_ERR_INVALID_STATE);
        CHECK(message_has("write after free"));
        CHECK(rs.count[FL_DEBUG_WRITE_AFTER_FREE] == 1 && rs.last.offset == 5 && rs.last.size == 24);
    }
    /* FL_DEBUG_QUARANTINE more frees push it out: checked again, then really freed. */
    fl_allocation more[FL_DEBUG_QUARANTINE];
    for (unsigned i = 0; i < FL_DEBUG_QUARANTINE; i++)
        CHECK_OK(fl_memory_allocate_typed(m, 24, FL_MEMORY_POOL, 0, FL_FLAG_NONE, &more[i]));
    for (unsigned i = 0; i < FL_DEBUG_QUARANTINE; i++) CHECK_OK(fl_memory_deallocate(m, more[i].ptr));
    if (DELIBERATE_BUGS) CHECK(rs.count[FL_DEBUG_WRITE_AFTER_FREE] == 2);
    CHECK_OK(fl_memory_validate(m));
    CHECK_OK(fl_memory_deallocate(m, z.ptr));
    CHECK_OK(fl_memory_debug_flush(m));
    CHECK_OK(fl_memory_get_stats(m, &after));
    CHECK_EQ_SIZE(after.allocation_count, 0);
    CHECK_EQ_SIZE(after.used_bytes, 0);
    check_identities(m);
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

/* Everything on through a random mix of every type, reallocate, rewind and handle resets:
 * validate and the statistics identities hold throughout, and nothing is reported. */
static void test_everything_on_stays_consistent(void)
{
    reports rs;
    fl_memory *m = make_debug(FL_DEBUG_ALL, &rs);
    harness_rng rng = harness_rng_seeded("debug mix", 0xDEB6);
    void *live[256];
    size_t n = 0;
    uint64_t ops = harness_scaled(20000);
    for (uint64_t op = 0; op < ops; op++) {
        uint64_t roll = harness_next(&rng) % 100;
        if (roll < 55 && n < 256) {
            fl_memory_type t = every_type[harness_next(&rng) % 6];
            if (t == FL_MEMORY_STACK || t == FL_MEMORY_TEMPORARY) t = FL_MEMORY_SYSTEM;
            fl_alloc_request req = fl_make_allocation_request(1 + harness_next(&rng) % 300, t, 0, FL_FLAG_NONE);
            req.tag = (harness_next(&rng) % 2) ? "mix" : NULL;
            req.allow_fallback = true;
            fl_allocation a;
            if (fl_memory_allocate_request(m, &req, &a) == FL_OK) {
                memset(a.ptr, 3, a.size);
                live[n++] = a.ptr;
            }
        } else if (roll < 65 && n > 0) {
            size_t i = harness_next(&rng) % n;
            fl_allocation a;
            if (fl_memory_reallocate(m, live[i], 1 + harness_next(&rng) % 600, &a) == FL_OK) {
                memset(a.ptr, 4, a.size);
                live[i] = a.ptr;
            }
        } else if (roll < 68) {
            fl_allocation a;
            if (fl_memory_allocate_typed(m, 64, FL_MEMORY_TEMPORARY, 0, FL_FLAG_NONE, &a) == FL_OK)
                memset(a.ptr, 5, a.size);
            if (harness_next(&rng) % 8 == 0) CHECK_OK(fl_memory_rewind(m, FL_MEMORY_TEMPORARY, (fl_marker){0, 0, 0}));
        } else if (n > 0) {
            size_t i = harness_next(&rng) % n;
            CHECK_OK(fl_memory_deallocate(m, live[i]));
            live[i] = live[--n];
        }
        if (op % 997 == 0) {
            CHECK_OK(fl_memory_validate(m));
            check_identities(m);
        }
    }
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
    size_t count = 0;
    CHECK_OK(fl_memory_report_leaks(m, on_report_leak_noop, NULL, &count));
    fl_memory_stats s;
    CHECK_OK(fl_memory_get_type_stats(m, FL_MEMORY_TEMPORARY, &s));
    CHECK_EQ_SIZE(count, n + s.allocation_count);
    /* A handle reset drops the pool's quarantined blocks with everything else. */
    fl_allocator *pool = NULL;
    CHECK_OK(fl_memory_get_allocator(m, FL_ALLOCATOR_POOL, &pool));
    fl_allocator_reset(pool);
    CHECK_OK(fl_memory_validate(m));
    fl_allocator *heap = NULL; /* the free list too, with guards and quarantined blocks in it */
    CHECK_OK(fl_memory_get_allocator(m, FL_ALLOCATOR_FREELIST, &heap));
    fl_allocator_reset(heap);
    CHECK_OK(fl_memory_validate(m));
    check_identities(m);
    CHECK(rs.count[FL_DEBUG_OVERRUN] == 0 && rs.count[FL_DEBUG_WRITE_AFTER_FREE] == 0);
    fl_memory_destroy(m);
}

/* ---- leak reports ------------------------------------------------------------------------ */

typedef struct leak_list {
    fl_leak g[32];
    unsigned n;
} leak_list;

static void collect(const fl_leak *leak, void *user)
{
    leak_list *l = user;
    if (l->n < 32) l->g[l->n++] = *leak;
}

static const fl_leak *find_group(const leak_list *l, const char *tag, fl_memory_type type, bool recorded)
{
    for (unsigned i = 0; i < l->n; i++) {
        const fl_leak *g = &l->g[i];
        bool same = tag ? (g->tag && strcmp(g->tag, tag) == 0) : (g->tag == NULL && g->type == type);
        if (same && g->recorded == recorded) return g;
    }
    return NULL;
}

static void make_leaks(fl_memory *m, void **keep)
{
    /* Two tags spelled by different pointers (compared as strings), untagged in two types. */
    static const char enemy2[] = "enemy";
    fl_alloc_request req = fl_make_allocation_request(100, FL_MEMORY_SYSTEM, 0, FL_FLAG_NONE);
    fl_allocation a;
    req.tag = "enemy";
    CHECK_OK(fl_memory_allocate_request(m, &req, &a));
    keep[0] = a.ptr;
    req.tag = enemy2;
    req.size = 50;
    CHECK_OK(fl_memory_allocate_request(m, &req, &a));
    keep[1] = a.ptr;
    req.tag = "sound \"bank\"";
    req.size = 7;
    req.preferred_type = FL_MEMORY_AUDIO;
    CHECK_OK(fl_memory_allocate_request(m, &req, &a));
    keep[2] = a.ptr;
    CHECK_OK(fl_memory_allocate_typed(m, 30, FL_MEMORY_POOL, 0, FL_FLAG_NONE, &a));
    keep[3] = a.ptr;
    CHECK_OK(fl_memory_allocate_typed(m, 300, FL_MEMORY_NETWORK, 0, FL_FLAG_NONE, &a));
    keep[4] = a.ptr;
    CHECK_OK(fl_memory_allocate_typed(m, 20, FL_MEMORY_NETWORK, 0, FL_FLAG_NONE, &a));
    CHECK_OK(fl_memory_deallocate(m, a.ptr)); /* freed: not a leak */
}

/* With full records every allocation is in its group with its requested bytes. */
static void test_leak_report_complete(void)
{
    reports rs;
    fl_memory *m = make_debug(FL_DEBUG_RECORD_ALL, &rs);
    void *keep[5];
    make_leaks(m, keep);
    leak_list l;
    memset(&l, 0, sizeof l);
    size_t live = 0;
    CHECK_OK(fl_memory_report_leaks(m, collect, &l, &live));
    CHECK_EQ_SIZE(live, 5);
    const fl_leak *g = find_group(&l, "enemy", FL_MEMORY_SYSTEM, true);
    CHECK(g != NULL && g->count == 2 && g->bytes == 150);
    g = find_group(&l, "sound \"bank\"", FL_MEMORY_AUDIO, true);
    CHECK(g != NULL && g->count == 1 && g->bytes == 7 && g->type == FL_MEMORY_AUDIO);
    g = find_group(&l, NULL, FL_MEMORY_POOL, true);
    CHECK(g != NULL && g->count == 1 && g->bytes == 30);
    g = find_group(&l, NULL, FL_MEMORY_NETWORK, true);
    CHECK(g != NULL && g->count == 1 && g->bytes == 300);
    CHECK(l.n == 4); /* nothing unrecorded */
    CHECK_STATUS(fl_memory_report_leaks(m, NULL, NULL, NULL), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_report_leaks(NULL, collect, &l, NULL), FL_ERR_INVALID_PARAMETERS);
    for (int i = 0; i < 5; i++) CHECK_OK(fl_memory_deallocate(m, keep[i]));
    memset(&l, 0, sizeof l);
    CHECK_OK(fl_memory_report_leaks(m, collect, &l, &live));
    CHECK(live == 0 && l.n == 0);
    fl_memory_destroy(m);
}

/* Without debug options untagged allocations have no record: counted per type, bytes 0. */
static void test_leak_report_without_debug(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    void *keep[5];
    make_leaks(m, keep);
    leak_list l;
    memset(&l, 0, sizeof l);
    size_t live = 0;
    CHECK_OK(fl_memory_report_leaks(m, collect, &l, &live));
    CHECK_EQ_SIZE(live, 5);
    const fl_leak *g = find_group(&l, "enemy", FL_MEMORY_SYSTEM, true);
    CHECK(g != NULL && g->count == 2 && g->bytes == 150);
    g = find_group(&l, NULL, FL_MEMORY_NETWORK, false);
    CHECK(g != NULL && g->count == 1 && g->bytes == 0);
    g = find_group(&l, NULL, FL_MEMORY_POOL, false);
    CHECK(g != NULL && g->count == 1);
    fl_memory_destroy(m);
}

typedef struct text {
    char buf[4096];
    size_t n;
} text;

static void append(const char *s, size_t length, void *user)
{
    text *t = user;
    if (t->n + length < sizeof t->buf) {
        memcpy(t->buf + t->n, s, length);
        t->n += length;
        t->buf[t->n] = '\0';
    }
}

static void test_leak_json_and_destroy_report(void)
{
    reports rs;
    fl_memory *m = make_debug(FL_DEBUG_RECORD_ALL | FL_DEBUG_LEAKS_AT_DESTROY, &rs);
    void *keep[5];
    make_leaks(m, keep);
    text t;
    memset(&t, 0, sizeof t);
    CHECK_OK(fl_memory_dump_leaks_json(m, append, &t));
    CHECK(strncmp(t.buf, "{\"leaks\": [{", 12) == 0);
    CHECK(strstr(t.buf, "{\"tag\": \"enemy\", \"type\": \"Pool\", \"count\": 2, \"bytes\": 150, \"recorded\": true}") != NULL);
    CHECK(strstr(t.buf, "\"tag\": \"sound \\\"bank\\\"\"") != NULL); /* escaped */
    CHECK(strstr(t.buf, "{\"tag\": null, \"type\": \"Network\", \"count\": 1, \"bytes\": 300") != NULL);
    CHECK(strstr(t.buf, "\"live_allocations\": 5, \"recorded_bytes\": 487}") != NULL);
    CHECK_STATUS(fl_memory_dump_leaks_json(m, NULL, NULL), FL_ERR_INVALID_PARAMETERS);
    fl_memory_destroy(m);
    CHECK(rs.count[FL_DEBUG_LEAK] == 4);
    CHECK_EQ_SIZE(rs.leak_count, 5);
    CHECK_EQ_SIZE(rs.leak_bytes, 487);
}

/* The allocator handles see the request too: usable_size is the request with guards, a
 * quarantined pointer is freed. */
static void test_handles(void)
{
    reports rs;
    fl_memory *m = make_debug(FL_DEBUG_GUARDS | FL_DEBUG_FILL, &rs);
    fl_allocator *heap = NULL;
    CHECK_OK(fl_memory_get_allocator(m, FL_ALLOCATOR_FREELIST, &heap));
    void *p = NULL;
    CHECK_OK(fl_allocator_allocate(heap, 1000, 0, &p));
    size_t usable = 0;
    CHECK_OK(fl_allocator_usable_size(heap, p, &usable));
    CHECK_EQ_SIZE(usable, 1000);
    memset(p, 1, usable);
    CHECK_OK(fl_memory_validate(m));
    CHECK_OK(fl_allocator_deallocate(heap, p));
    CHECK_STATUS(fl_allocator_usable_size(heap, p, &usable), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_allocator_deallocate(heap, p), FL_ERR_INVALID_PARAMETERS);
    CHECK(rs.count[FL_DEBUG_OVERRUN] == 0);
    fl_memory_destroy(m);
}

/* Config checks: unknown debug bits are refused. */
static void test_debug_config(void)
{
    fl_memory_config c = small_config();
    c.debug = 1u << 20;
    fl_memory *m = NULL;
    CHECK_STATUS(fl_memory_create(&c, &m), FL_ERR_INVALID_PARAMETERS);
    CHECK(m == NULL);
    fl_debug_counts dc;
    CHECK_STATUS(fl_memory_debug_counts(NULL, &dc), FL_ERR_INVALID_PARAMETERS);
    CHECK_STATUS(fl_memory_debug_flush(NULL), FL_ERR_INVALID_PARAMETERS);
    fl_alloc_request req = fl_make_allocation_request(8, FL_MEMORY_SYSTEM, 0, FL_FLAG_NONE);
    fl_allocation a;
    CHECK_STATUS(fl_memory_allocate_request_at(NULL, &req, __FILE__, __LINE__, &a), FL_ERR_INVALID_PARAMETERS);
}

/* A full record table does not fail untagged debug allocations: they are counted. */
static void test_record_table_full(void)
{
    reports rs;
    fl_memory_config c = small_config();
    c.debug = FL_DEBUG_GUARDS;
    c.max_records = 4;
    c.debug_report = on_report;
    c.debug_user = &rs;
    memset(&rs, 0, sizeof rs);
    fl_memory *m = make_memory(&c);
    void *p[6];
    for (int i = 0; i < 6; i++) {
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_typed(m, 1000, FL_MEMORY_SYSTEM, 0, FL_FLAG_NONE, &a)); /* above the pools */
        p[i] = a.ptr;
        CHECK(a.size >= 1000);
    }
    fl_debug_counts dc;
    CHECK_OK(fl_memory_debug_counts(m, &dc));
    CHECK(dc.unrecorded == 2);
    CHECK_OK(fl_memory_validate(m));
    size_t live = 0;
    leak_list l;
    memset(&l, 0, sizeof l);
    CHECK_OK(fl_memory_report_leaks(m, collect, &l, &live));
    CHECK_EQ_SIZE(live, 6);
    const fl_leak *g = find_group(&l, NULL, FL_MEMORY_SYSTEM, false);
    CHECK(g != NULL && g->count == 2);
    for (int i = 0; i < 6; i++) CHECK_OK(fl_memory_deallocate(m, p[i]));
    check_identities(m);
    fl_memory_destroy(m);
}

/* A build with -DFLMEM_DEBUG=OFF refuses every debug option; the leak report remains. */
static bool debug_compiled_in(void)
{
    fl_memory_config c = small_config();
    c.debug = FL_DEBUG_GUARDS;
    fl_memory *m = NULL;
    fl_status st = fl_memory_create(&c, &m);
    fl_memory_destroy(m);
    return st != FL_ERR_NOT_SUPPORTED;
}

/* Defragmentation with every debug option on: relocatable blocks move with their guards
 * (the record keeps the requested size), the quarantine's blocks stay put, validate finds
 * no damage, nothing is reported, and every block's contents survive. */
static void on_moved(void *old_ptr, void *new_ptr, size_t size, void *user)
{
    (void)old_ptr;
    (void)size;
    void **slot = user;
    *slot = new_ptr;
}

static void test_defragment_with_debug(void)
{
    reports rs;
    fl_memory *m = make_debug(FL_DEBUG_GUARDS | FL_DEBUG_FILL | FL_DEBUG_RECORD_ALL, &rs);
    enum { N = 24 };
    void *blocks[N];
    size_t n = 0;
    for (; n < N; n++) {
        fl_alloc_request req = fl_make_allocation_request(200 + 8 * n, FL_MEMORY_SYSTEM, 0, FL_FLAG_RELOCATABLE);
        req.on_relocate = on_moved;
        req.relocate_user = &blocks[n];
        req.tag = "movable";
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_request(m, &req, &a));
        blocks[n] = a.ptr;
        memset(a.ptr, (int)(n + 1), 200 + 8 * n);
    }
    /* Free every other block: holes below the survivors (some wait in the quarantine). */
    for (size_t i = 0; i < N; i += 2) {
        CHECK_OK(fl_memory_deallocate(m, blocks[i]));
        blocks[i] = NULL;
    }
    fl_defrag_result res;
    CHECK_OK(fl_memory_defragment(m, NULL, NULL, &res));
    CHECK(res.allocations_moved > 0);
    CHECK_OK(fl_memory_validate(m));
    CHECK(rs.count[FL_DEBUG_OVERRUN] == 0 && rs.count[FL_DEBUG_WRITE_AFTER_FREE] == 0);
    check_identities(m);
    for (size_t i = 1; i < N; i += 2) {
        const unsigned char *p = blocks[i];
        bool intact = true;
        for (size_t k = 0; k < 200 + 8 * i; k++) intact = intact && p[k] == (unsigned char)(i + 1);
        CHECK_MSG(intact, "block %zu changed in the move", i);
        fl_allocation info;
        CHECK_OK(fl_memory_get_allocation_info(m, blocks[i], &info));
        CHECK_EQ_SIZE(info.size, 200 + 8 * i); /* still the request: its guard moved with it */
        CHECK_OK(fl_memory_deallocate(m, blocks[i]));
    }
    CHECK_OK(fl_memory_validate(m));
    fl_memory_destroy(m);
}

int main(void)
{
    if (!debug_compiled_in()) {
        printf("debug options compiled out (FLMEM_DEBUG=OFF): only the plain leak report is tested\n");
        RUN(test_leak_report_without_debug);
        return harness_finish();
    }
    RUN(test_guard_reports_overrun);
    RUN(test_fill_and_quarantine);
    RUN(test_everything_on_stays_consistent);
    RUN(test_leak_report_complete);
    RUN(test_leak_report_without_debug);
    RUN(test_leak_json_and_destroy_report);
    RUN(test_handles);
    RUN(test_debug_config);
    RUN(test_record_table_full);
    RUN(test_defragment_with_debug);
    return harness_finish();
}
