/*
 * The Lua 5.4 allocator adapter (fl_lua.h says how the collection under pressure is kept
 * out of the allocator call that noticed the pressure).
 *
 * Lua's lua_Alloc contract and how each case maps onto the memory interface:
 *   nsize == 0            free ptr (NULL allowed)          -> fl_memory_deallocate
 *   ptr == NULL           allocate nsize (osize: a tag)    -> fl_memory_allocate_typed
 *   otherwise             resize, keep contents            -> fl_memory_reallocate
 * A NULL return means "could not"; the old block must then be unchanged, which
 * fl_memory_reallocate guarantees. Shrinking never fails (it stays in place).
 */
#include "fl_lua.h"

#include <lauxlib.h>
#include <string.h>

fl_status fl_lua_context_init(fl_lua_context *ctx, fl_memory *m, fl_memory_type t)
{
    if (ctx == NULL || m == NULL || (unsigned)t >= (unsigned)FL_MEMORY_TYPE_COUNT)
        return FL_ERR_INVALID_PARAMETERS;
    memset(ctx, 0, sizeof *ctx);
    ctx->memory = m;
    ctx->type = t;
    ctx->gc_level = FL_PRESSURE_HIGH;
    return FL_OK;
}

void *fl_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    fl_lua_context *ctx = (fl_lua_context *)ud;
    fl_allocation a;
    (void)osize;
    if (nsize == 0) {
        if (ptr != NULL) (void)fl_memory_deallocate(ctx->memory, ptr);
        return NULL;
    }
    fl_status s = ptr == NULL
                      ? fl_memory_allocate_typed(ctx->memory, nsize, ctx->type, 0, FL_FLAG_NONE, &a)
                      : fl_memory_reallocate(ctx->memory, ptr, nsize, &a);
    if (s != FL_OK) {
        /* Lua now runs its emergency collection and asks once more. */
        ctx->failed_allocations++;
        return NULL;
    }
    ctx->allocations++;
    ctx->bytes_requested += nsize;
    return a.ptr;
}

/* Runs at an instruction boundary of the main thread: a point where the Lua API may be
 * called, unlike the allocator call in which the pressure was seen. */
static void collection_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    fl_lua_context *ctx = NULL;
    lua_getallocf(L, (void **)&ctx);
    lua_sethook(L, ctx->saved_hook, ctx->saved_mask, ctx->saved_count);
    (void)fl_lua_collect_if_pending(ctx);
}

static void on_pressure(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    fl_lua_context *ctx = (fl_lua_context *)user;
    (void)level;
    if (info->type != ctx->type && info->type != FL_MEMORY_ALL_TYPES) return;
    ctx->pressure_calls++;
    if (ctx->L == NULL || ctx->gc_pending) return;
    ctx->gc_pending = 1;
    /* Only flags and a hook here: no Lua call (we may be inside fl_lua_alloc). */
    if (lua_gethook(ctx->L) != collection_hook) {
        ctx->saved_hook = lua_gethook(ctx->L);
        ctx->saved_mask = lua_gethookmask(ctx->L);
        ctx->saved_count = lua_gethookcount(ctx->L);
    }
    lua_sethook(ctx->L, collection_hook, LUA_MASKCOUNT, 1);
}

int fl_lua_collect_if_pending(fl_lua_context *ctx)
{
    if (ctx == NULL || ctx->L == NULL || !ctx->gc_pending) return 0;
    ctx->gc_pending = 0;
    ctx->collections++;
    lua_gc(ctx->L, LUA_GCCOLLECT);
    return 1;
}

lua_State *fl_lua_newstate(fl_lua_context *ctx)
{
    if (ctx == NULL || ctx->memory == NULL) return NULL;
    lua_State *L = lua_newstate(fl_lua_alloc, ctx);
    if (L == NULL) return NULL;
    if (fl_memory_register_pressure_callback(ctx->memory, ctx->gc_level, on_pressure, ctx,
                                             &ctx->pressure_id) != FL_OK) {
        lua_close(L);
        return NULL;
    }
    ctx->L = L;
    return L;
}

void fl_lua_close(fl_lua_context *ctx)
{
    if (ctx == NULL) return;
    if (ctx->pressure_id != 0) (void)fl_memory_unregister_pressure_callback(ctx->memory, ctx->pressure_id);
    ctx->pressure_id = 0;
    if (ctx->L != NULL) lua_close(ctx->L);
    ctx->L = NULL;
    ctx->gc_pending = 0;
}

fl_status fl_lua_memory_create(size_t budget, fl_memory **out)
{
    fl_memory_config c;
    fl_status s = fl_memory_config_default(FL_PLATFORM_HOST, &c);
    if (s != FL_OK) return s;
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) c.capacity[t] = 0;
    c.capacity[FL_MEMORY_SYSTEM] = budget;
    c.strategy[FL_MEMORY_SYSTEM] = FL_ALLOCATOR_FREELIST;
    c.emergency_reserve = 0;
    c.max_allocation = 0;
    c.thread_safe = false;
    return fl_memory_create(&c, out);
}
