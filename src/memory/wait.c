/*
 * Requests that wait for memory (fl_alloc_request.timeout_ms).
 *
 * A request that still fails after the pressure callbacks had their chance sleeps on one
 * condition variable of the interface, m->space_freed, paired with the interface's lock
 * m->lock, and tries its route again each time it is woken, until it succeeds or its
 * deadline passes (route.c runs that loop; this file owns the sleeping and waking):
 *
 *   allocate:  lock .. route fails .. pressure retry fails .. [ wait .. retry ]* .. unlock
 *   free:      lock .. allocator frees .. if (waiters) broadcast .. unlock
 *
 * Nobody polls: a waiter sleeps until a broadcast or its deadline. Everything that gives
 * memory back (free_locked in route.c: deallocate, reallocate, the handles' frees; the
 * bulk releases in track.c: rewind and reset; a defragmentation move, which makes free
 * space contiguous) calls fli_wake_waiters under the lock: one compare of `waiters`, which
 * only waiters change and only under the lock, so a free costs nothing more while nobody
 * waits. Broadcast, not signal: one free may satisfy several waiters of different sizes,
 * and a woken waiter that still does not fit simply sleeps again.
 *
 * Deadline: timeout_ms from when the request begins to wait, on the platform's now_ns
 * clock; each sleep asks cond_wait for the time left rounded up to whole milliseconds, so
 * a waiter never gives up before its deadline. A cond_wait that reports a timeout ends
 * the wait (the contract says the time passed); spurious wake-ups are retried against the
 * clock.
 *
 * Waiting needs another thread to free memory, so it exists only on a thread_safe
 * interface whose platform has condition variables and a clock (can_wait); elsewhere
 * (freestanding, or single-threaded use) route.c fails at once with FL_ERR_OUT_OF_MEMORY.
 * trim and gc_hint wake nobody: they give pages to the platform, not space to requests.
 */
#include "memory_internal.h"

#define NS_PER_MS ((uint64_t)1000000)

void fli_wait_setup(fl_memory *m)
{
    m->waiters = 0;
    /* A platform that cannot make the condition variable only loses the waiting. */
    m->has_cond = m->thread_safe && fli_cond_init(m->os.hooks, &m->space_freed);
    m->can_wait = m->has_cond && m->os.hooks->now_ns != NULL;
}

void fli_wait_teardown(fl_memory *m)
{
    if (m->has_cond) fli_cond_destroy(m->os.hooks, &m->space_freed);
    m->has_cond = false;
    m->can_wait = false;
}

void fli_wait_start(const fl_memory *m, uint32_t timeout_ms, fli_deadline *d)
{
    d->at_ns = fli_now_ns(m->os.hooks) + (uint64_t)timeout_ms * NS_PER_MS;
}

bool fli_wait_locked(fl_memory *m, const fli_deadline *d)
{
    uint64_t now = fli_now_ns(m->os.hooks);
    if (now >= d->at_ns) return false;
    /* At most timeout_ms, so it fits the hook's 32 bits. */
    uint64_t ms = (d->at_ns - now + NS_PER_MS - 1) / NS_PER_MS;
    m->waiters++;
    bool woken = fli_cond_wait(m->os.hooks, &m->space_freed, &m->lock, (uint32_t)ms);
    m->waiters--;
    return woken && fli_now_ns(m->os.hooks) < d->at_ns;
}

void fli_wake_all(fl_memory *m) { fli_cond_broadcast(m->os.hooks, &m->space_freed); }
