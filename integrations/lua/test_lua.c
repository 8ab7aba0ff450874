/*
 * Lua 5.4 inside a budgeted region: real scripts that allocate far more than the budget
 * in total (tables, strings, closures, coroutines) complete with the right results, the
 * region's peak stays within the budget, the pressure callback's collections run (a
 * script that stops Lua's own collector survives only because of them and of Lua's
 * emergency collection), and a script that truly needs more than the budget fails with a
 * Lua memory error after which the state is still usable.
 */
#include "fl_lua.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

static int failures;
#define CHECK(c)                                                                                  \
    do {                                                                                          \
        if (!(c)) {                                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);                 \
            failures++;                                                                           \
        }                                                                                         \
    } while (0)

#define BUDGET ((size_t)2 << 20)

/* Runs chunk and returns its status; the first result (if any) as a string in out. */
static int run(lua_State *L, const char *chunk, char *out, size_t cap)
{
    int top = lua_gettop(L);
    int s = luaL_loadstring(L, chunk);
    if (s == LUA_OK) s = lua_pcall(L, 0, 1, 0);
    const char *r = lua_tostring(L, -1);
    snprintf(out, cap, "%s", r ? r : "(nil)");
    if (s != LUA_OK) fprintf(stderr, "  lua: status %d: %s\n", s, out);
    lua_settop(L, top);
    return s;
}

static const struct script {
    const char *name, *code, *expect;
} scripts[] = {
    {"tables",
     "local sum = 0\n"
     "for round = 1, 60 do\n"
     "  local t = {}\n"
     "  for i = 1, 5000 do t[i] = {i, i * 2, name = 'n' .. i} end\n"
     "  for i = 1, #t do sum = sum + t[i][2] end\n"
     "end\n"
     "return tostring(sum)",
     "1500300000"},
    {"strings",
     "local n = 0\n"
     "for round = 1, 200 do\n"
     "  local parts = {}\n"
     "  for i = 1, 500 do parts[#parts + 1] = string.rep(string.char(65 + i % 26), i % 40) .. i end\n"
     "  local s = table.concat(parts, ',')\n"
     "  n = n + #s + #s:upper():gsub('A', 'aa')\n"
     "end\n"
     "return tostring(n)",
     NULL},
    {"closures",
     "local total = 0\n"
     "for round = 1, 300 do\n"
     "  local fs = {}\n"
     "  for i = 1, 1000 do local k = i; fs[i] = function(x) return x + k end end\n"
     "  for i = 1, #fs do total = total + fs[i](round) end\n"
     "end\n"
     "return tostring(total)",
     "195300000"},
    {"coroutines",
     "local acc = 0\n"
     "for round = 1, 400 do\n"
     "  local co = coroutine.wrap(function() for i = 1, 200 do coroutine.yield({i}) end end)\n"
     "  for i = 1, 200 do acc = acc + co()[1] end\n"
     "end\n"
     "return tostring(acc)",
     "8040000"},
    /* Lua's own collector stopped: only the pressure hook and the emergency collection keep
     * this within 2 MiB while it makes ~60 MiB of garbage. */
    {"collector stopped",
     "collectgarbage('stop')\n"
     "local keep = {}\n"
     "for i = 1, 2000 do keep[i] = ('k'):rep(100) .. i end\n"
     "local c = 0\n"
     "for i = 1, 300000 do local s = ('g'):rep(150) .. i; c = c + #s end\n"
     "return tostring(c + #keep)",
     NULL},
};

static void test_scripts(void)
{
    fl_memory *mem = NULL;
    CHECK(fl_lua_memory_create(BUDGET, &mem) == FL_OK);
    if (mem == NULL) return;
    fl_lua_context ctx;
    CHECK(fl_lua_context_init(&ctx, mem, FL_MEMORY_SYSTEM) == FL_OK);
    lua_State *L = fl_lua_newstate(&ctx);
    CHECK(L != NULL);
    if (L == NULL) return;
    luaL_openlibs(L);

    /* The expected values the scripts cannot be checked against literally: computed by the
     * same script in an unbudgeted state with the C library's allocator. */
    lua_State *ref = luaL_newstate();
    luaL_openlibs(ref);
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        char got[128], want[128];
        size_t before = ctx.bytes_requested;
        int s = run(L, scripts[i].code, got, sizeof got);
        CHECK(s == LUA_OK);
        if (scripts[i].expect) snprintf(want, sizeof want, "%s", scripts[i].expect);
        else CHECK(run(ref, scripts[i].code, want, sizeof want) == LUA_OK);
        if (strcmp(got, want) != 0) fprintf(stderr, "  %s: got %s, want %s\n", scripts[i].name, got, want);
        CHECK(strcmp(got, want) == 0);
        size_t churn = ctx.bytes_requested - before;
        printf("%-18s result %-12s allocated %6zu KiB in total (budget %zu KiB)\n", scripts[i].name, got,
               churn >> 10, BUDGET >> 10);
        CHECK(churn > 2 * BUDGET); /* the scripts really allocate more than the budget */
        CHECK(fl_memory_validate(mem) == FL_OK);
    }
    lua_close(ref);

    fl_memory_stats st;
    CHECK(fl_memory_get_type_stats(mem, FL_MEMORY_SYSTEM, &st) == FL_OK);
    printf("peak %zu of %zu bytes; %zu pressure calls, %zu collections by the hook, %zu failed "
           "allocations (answered by Lua's emergency collection)\n",
           st.peak_used_bytes, st.total_bytes, ctx.pressure_calls, ctx.collections, ctx.failed_allocations);
    CHECK(st.peak_used_bytes <= st.total_bytes);
    CHECK(st.total_bytes <= BUDGET);
    CHECK(ctx.pressure_calls > 0);
    CHECK(ctx.collections > 0);

    /* A pending collection runs from the program's own safe point, too. */
    ctx.gc_pending = 1;
    CHECK(fl_lua_collect_if_pending(&ctx) == 1);
    CHECK(fl_lua_collect_if_pending(&ctx) == 0);

    fl_lua_close(&ctx);
    CHECK(fl_memory_get_type_stats(mem, FL_MEMORY_SYSTEM, &st) == FL_OK);
    CHECK(st.allocation_count == 0); /* lua_close gave every block back */
    CHECK(st.used_bytes == 0);
    fl_memory_destroy(mem);
}

static void test_too_big(void)
{
    fl_memory *mem = NULL;
    CHECK(fl_lua_memory_create(BUDGET, &mem) == FL_OK);
    if (mem == NULL) return;
    fl_lua_context ctx;
    CHECK(fl_lua_context_init(&ctx, mem, FL_MEMORY_SYSTEM) == FL_OK);
    lua_State *L = fl_lua_newstate(&ctx);
    CHECK(L != NULL);
    if (L == NULL) return;
    luaL_openlibs(L);
    char got[128];
    /* Everything stays reachable: no collection can help. */
    int s = run(L, "local t = {} for i = 1, 1e7 do t[i] = ('x'):rep(64) .. i end return #t", got, sizeof got);
    CHECK(s == LUA_ERRMEM);
    CHECK(strstr(got, "not enough memory") != NULL);
    s = run(L, "local t = {} t[1] = ('y'):rep(3 * 1024 * 1024) return #t[1]", got, sizeof got);
    CHECK(s == LUA_ERRMEM);
    /* The state survives and works on. */
    s = run(L, "local t = {} for i = 1, 1000 do t[i] = i * i end return tostring(t[1000])", got, sizeof got);
    CHECK(s == LUA_OK);
    CHECK(strcmp(got, "1000000") == 0);
    CHECK(ctx.failed_allocations > 0);
    CHECK(fl_memory_validate(mem) == FL_OK);
    fl_memory_stats st;
    CHECK(fl_memory_get_type_stats(mem, FL_MEMORY_SYSTEM, &st) == FL_OK);
    CHECK(st.peak_used_bytes <= st.total_bytes);
    fl_lua_close(&ctx);
    CHECK(fl_memory_get_type_stats(mem, FL_MEMORY_SYSTEM, &st) == FL_OK);
    CHECK(st.allocation_count == 0);
    fl_memory_destroy(mem);
}

static void test_bad_input(void)
{
    fl_lua_context ctx;
    fl_memory *mem = NULL;
    CHECK(fl_lua_context_init(NULL, NULL, FL_MEMORY_SYSTEM) == FL_ERR_INVALID_PARAMETERS);
    CHECK(fl_lua_memory_create(BUDGET, &mem) == FL_OK);
    CHECK(fl_lua_context_init(&ctx, mem, FL_MEMORY_TYPE_COUNT) == FL_ERR_INVALID_PARAMETERS);
    CHECK(fl_lua_newstate(NULL) == NULL);
    CHECK(fl_lua_collect_if_pending(NULL) == 0);
    fl_lua_close(NULL);
    /* A type without a region: the state cannot be made. */
    CHECK(fl_lua_context_init(&ctx, mem, FL_MEMORY_VIDEO) == FL_OK);
    CHECK(fl_lua_newstate(&ctx) == NULL);
    fl_memory_destroy(mem);
}

int main(void)
{
    test_bad_input();
    test_scripts();
    test_too_big();
    if (failures) {
        fprintf(stderr, "test_lua: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_lua: ok\n");
    return 0;
}
