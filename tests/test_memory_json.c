/* fl_memory_dump_json (src/memory/json.c): bad input, the document's sections and numbers,
 * string escaping, the tag summary (and its overflow line), and that dumping changes
 * nothing. The tool's ctest (tools/flmem/tests/check_json.py) also parses it with Python. */
#include "memory_test_util.h"

typedef struct sink {
    char text[65536];
    size_t length, calls;
    bool overflow;
} sink;

static void into_sink(const char *text, size_t length, void *user)
{
    sink *s = user;
    s->calls++;
    if (s->length + length >= sizeof s->text) {
        s->overflow = true;
        return;
    }
    memcpy(s->text + s->length, text, length);
    s->length += length;
    s->text[s->length] = '\0';
}

/* The unsigned number after "key": in text (the first occurrence after `from`). */
static unsigned long long number_after(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    CHECK(p != NULL);
    if (p == NULL) return 0;
    p += strlen(key);
    while (*p == ' ' || *p == ':' || *p == '"') p++;
    return strtoull(p, NULL, 10);
}

/* Brackets and braces balance outside strings, and no raw control character sits in one. */
static bool balanced(const char *t)
{
    int depth = 0;
    bool in_string = false;
    for (; *t; t++) {
        if (in_string) {
            if ((unsigned char)*t < 0x20) return false;
            if (*t == '\\') t++;
            else if (*t == '"') in_string = false;
            continue;
        }
        if (*t == '"') in_string = true;
        else if (*t == '{' || *t == '[') depth++;
        else if (*t == '}' || *t == ']') {
            if (--depth < 0) return false;
        }
    }
    return depth == 0 && !in_string;
}

static void test_bad_input(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    sink s = {0};
    memory_snapshot before = snapshot(m);
    CHECK_STATUS(fl_memory_dump_json(NULL, into_sink, &s), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("m is NULL"));
    CHECK_STATUS(fl_memory_dump_json(m, NULL, &s), FL_ERR_INVALID_PARAMETERS);
    CHECK(message_has("write is NULL"));
    CHECK_EQ_SIZE(s.calls, 0);
    memory_snapshot after = snapshot(m);
    CHECK(snapshot_equal(&before, &after));
    fl_memory_destroy(m);
}

static void test_document(void)
{
    fl_memory_config c = small_config();
    fl_memory *m = make_memory(&c);
    fl_alloc_request req = fl_make_allocation_request(1000, FL_MEMORY_SYSTEM, 0, FL_FLAG_NONE);
    req.tag = "mesh \"hero\"\n\\";
    fl_allocation a, b, p;
    CHECK_OK(fl_memory_allocate_request(m, &req, &a));
    CHECK_OK(fl_memory_allocate_request(m, &req, &b));
    CHECK_OK(fl_memory_allocate_typed(m, 40, FL_MEMORY_POOL, 0, FL_FLAG_NONE, &p));
    memory_snapshot before = snapshot(m);
    sink *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    CHECK_OK(fl_memory_dump_json(m, into_sink, s));
    CHECK(!s->overflow);
    CHECK(s->calls > 10);
    CHECK(balanced(s->text));
    memory_snapshot after = snapshot(m);
    CHECK(snapshot_equal(&before, &after)); /* reading changed nothing */
    CHECK(strstr(s->text, "\"schema\": \"flight-memory/1\"") != NULL);
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        char key[40];
        snprintf(key, sizeof key, "\"%s\": {\"present\"", fl_memory_type_str((fl_memory_type)t));
        CHECK(strstr(s->text, key) != NULL);
    }
    /* the global numbers are the interface's */
    CHECK(number_after(s->text, "\"used_bytes\"") == before.global.used_bytes);
    CHECK(number_after(s->text, "\"allocation_count\"") == 3);
    CHECK(number_after(s->text, "\"total_bytes\"") == before.global.total_bytes);
    /* the tag, escaped, with both allocations summed */
    const char *tag = strstr(s->text, "{\"tag\": \"mesh \\\"hero\\\"\\u000a\\\\\"");
    CHECK(tag != NULL);
    if (tag != NULL) {
        CHECK(number_after(tag, "\"count\"") == 2);
        CHECK(number_after(tag, "\"bytes\"") == a.size + b.size);
    }
    CHECK(strstr(s->text, "\"allocator\": \"Pool\"") != NULL);
    CHECK(strstr(s->text, "\"level\": \"") != NULL);
    CHECK_OK(fl_memory_deallocate(m, p.ptr));
    CHECK_OK(fl_memory_deallocate(m, b.ptr));
    CHECK_OK(fl_memory_deallocate(m, a.ptr));
    free(s);
    fl_memory_destroy(m);
}

/* More distinct tags than the summary lists: the rest are summed in one line. */
static void test_many_tags(void)
{
    fl_memory_config c = small_config();
    c.max_records = 100;
    fl_memory *m = make_memory(&c);
    static char names[70][8];
    void *ptrs[70];
    for (int i = 0; i < 70; i++) {
        snprintf(names[i], sizeof names[i], "t%d", i);
        fl_alloc_request req = fl_make_allocation_request(16, FL_MEMORY_SYSTEM, 0, FL_FLAG_NONE);
        req.tag = names[i];
        fl_allocation a;
        CHECK_OK(fl_memory_allocate_request(m, &req, &a));
        ptrs[i] = a.ptr;
    }
    sink *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    CHECK_OK(fl_memory_dump_json(m, into_sink, s));
    CHECK(balanced(s->text));
    const char *other = strstr(s->text, "\"(other tags)\"");
    CHECK(other != NULL);
    if (other != NULL) CHECK(number_after(other, "\"count\"") == 6);
    for (int i = 69; i >= 0; i--) CHECK_OK(fl_memory_deallocate(m, ptrs[i]));
    free(s);
    fl_memory_destroy(m);
}

int main(void)
{
    RUN(test_bad_input);
    RUN(test_document);
    RUN(test_many_tags);
    return harness_finish();
}
