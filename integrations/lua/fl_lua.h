/*
 * flight-memory for Lua 5.4: a lua_Alloc that keeps a Lua state inside one memory type of
 * an fl_memory, so the state's heap has a hard budget (the type's region).
 *
 *   fl_lua_context ctx;
 *   fl_lua_context_init(&ctx, mem, FL_MEMORY_SYSTEM);
 *   lua_State *L = fl_lua_newstate(&ctx);   // lua_newstate(fl_lua_alloc, &ctx) + pressure
 *   ...                                     // scripts run inside the region
 *   fl_lua_close(&ctx);                     // lua_close + unregister
 *
 * Garbage collection under pressure, and why it is safe
 * - Lua 5.4 itself runs an emergency full collection when its allocator returns NULL
 *   (luaM_realloc_ calls luaC_fullgc(L, 1) and retries once), so a request the region
 *   cannot serve first frees garbage; only when that still does not help does the script
 *   get a "not enough memory" error (LUA_ERRMEM), never a crash.
 * - Before it comes to that, a pressure callback (registered at the level given, High by
 *   default) asks for a collection. The callback runs inside fl_memory_allocate, i.e.
 *   inside fl_lua_alloc, i.e. in the middle of a Lua allocation: calling lua_gc there
 *   would re-enter the collector while Lua's state is half updated. So the callback only
 *   sets a flag and arms a count hook (lua_sethook is documented as safe to call at any
 *   moment, even from a signal handler). The hook runs at the next instruction boundary
 *   of the main thread, a safe point, calls lua_gc(L, LUA_GCCOLLECT) and restores the hook
 *   the program had before. (A coroutine running at that moment reaches the collection
 *   when control comes back to the main thread; until then the emergency GC covers it.)
 * - fl_lua_collect_if_pending(ctx) runs a pending collection from the host program's own
 *   safe points (between two calls into Lua), for states that rarely execute Lua code.
 */
#ifndef FLIGHT_FL_LUA_H
#define FLIGHT_FL_LUA_H

#include <flight/memory.h>
#include <lua.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_lua_context {
    fl_memory *memory;
    fl_memory_type type;             /* the region the state lives in */
    fl_pressure_level gc_level;      /* pressure that asks for a collection (default High) */
    lua_State *L;                    /* set by fl_lua_newstate */
    uint32_t pressure_id;            /* 0 when no callback is registered */
    volatile int gc_pending;         /* set by the callback, cleared by the collection */
    /* The program's own hook, put back after the collection hook ran. */
    lua_Hook saved_hook;
    int saved_mask, saved_count;
    /* Counters for tests and reports. */
    size_t allocations, failed_allocations, pressure_calls, collections;
    size_t bytes_requested; /* sum of the sizes of successful allocations and resizes */
} fl_lua_context;

/* Fills ctx for memory m and type t (gc_level High). FL_ERR_INVALID_PARAMETERS for ctx or
 * m NULL or an unknown type. */
fl_status fl_lua_context_init(fl_lua_context *ctx, fl_memory *m, fl_memory_type t);

/* The lua_Alloc: ud is an fl_lua_context. nsize 0 frees; ptr NULL allocates from ctx's
 * type (no fallback to other types); otherwise fl_memory_reallocate, which leaves the old
 * block untouched on failure as Lua requires. Returns NULL when the region is full. */
void *fl_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* lua_newstate(fl_lua_alloc, ctx) plus the pressure callback. NULL when the state cannot
 * be made (region too small) or the callback cannot be registered. */
lua_State *fl_lua_newstate(fl_lua_context *ctx);

/* Runs the collection the pressure callback asked for, if any; returns 1 if it ran. Call
 * it only where calling into Lua is allowed (not from inside an allocator). */
int fl_lua_collect_if_pending(fl_lua_context *ctx);

/* lua_close on ctx->L and unregisters the callback. */
void fl_lua_close(fl_lua_context *ctx);

/* An fl_memory whose only region is a free-list System region of `budget` bytes (no
 * emergency reserve, thread safe off): the usual home of one Lua state. */
fl_status fl_lua_memory_create(size_t budget, fl_memory **out);

#ifdef __cplusplus
}
#endif

#endif /* FLIGHT_FL_LUA_H */
