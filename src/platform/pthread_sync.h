/*
 * Locks and condition variables on POSIX threads, for the platform backends that have them
 * (posix.c, and emscripten.c when built with -pthread): one implementation of the lock_* and
 * cond_* hooks, included by each backend's table. Every function is static: each backend
 * gets its own copy, and nothing here is part of the library's interface.
 *
 * The hooks work on caller storage of FL_SYNC_STORAGE_BYTES (platform.h), checked below to
 * hold a pthread_mutex_t and a pthread_cond_t. Condition deadlines are measured on
 * FLI_PTHREAD_WAIT_CLOCK: the monotonic clock, except where a condition variable cannot
 * choose its clock (macOS), which measures on the realtime one.
 */
#ifndef FLI_PTHREAD_SYNC_H
#define FLI_PTHREAD_SYNC_H

#include "platform.h"

#include <pthread.h>
#include <time.h>

_Static_assert(sizeof(pthread_mutex_t) <= FL_SYNC_STORAGE_BYTES, "FL_SYNC_STORAGE_BYTES too small for pthread_mutex_t");
_Static_assert(sizeof(pthread_cond_t) <= FL_SYNC_STORAGE_BYTES, "FL_SYNC_STORAGE_BYTES too small for pthread_cond_t");
_Static_assert(_Alignof(pthread_mutex_t) <= _Alignof(fli_sync_storage), "lock storage under-aligned");
_Static_assert(_Alignof(pthread_cond_t) <= _Alignof(fli_sync_storage), "condition storage under-aligned");

#if defined(__APPLE__)
#define FLI_PTHREAD_WAIT_CLOCK CLOCK_REALTIME
#else
#define FLI_PTHREAD_WAIT_CLOCK CLOCK_MONOTONIC
#endif

static pthread_mutex_t *fli_as_mutex(void *storage) { return (pthread_mutex_t *)storage; }
static pthread_cond_t *fli_as_cond(void *storage) { return (pthread_cond_t *)storage; }

/* The interface holds its lock for tens of nanoseconds per call. Where the C library has
 * one (glibc, with _GNU_SOURCE), an adaptive mutex spins a bounded while before it sleeps,
 * so that a thread meeting the lock held on another core does not pay a futex sleep and
 * wake-up (microseconds) for a wait of nanoseconds; elsewhere, the default mutex. */
static bool fli_pthread_lock_init(void *user, void *lock)
{
    (void)user;
#if defined(PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP)
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0) return false;
    bool ok = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP) == 0 &&
              pthread_mutex_init(fli_as_mutex(lock), &attr) == 0;
    pthread_mutexattr_destroy(&attr);
    return ok;
#else
    return pthread_mutex_init(fli_as_mutex(lock), NULL) == 0;
#endif
}

static void fli_pthread_lock_acquire(void *user, void *lock)
{
    (void)user;
    pthread_mutex_lock(fli_as_mutex(lock));
}

static void fli_pthread_lock_release(void *user, void *lock)
{
    (void)user;
    pthread_mutex_unlock(fli_as_mutex(lock));
}

static void fli_pthread_lock_destroy(void *user, void *lock)
{
    (void)user;
    pthread_mutex_destroy(fli_as_mutex(lock));
}

static bool fli_pthread_cond_init(void *user, void *cond)
{
    (void)user;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) return false;
    bool ok = true;
#if !defined(__APPLE__)
    ok = pthread_condattr_setclock(&attr, FLI_PTHREAD_WAIT_CLOCK) == 0;
#endif
    ok = ok && pthread_cond_init(fli_as_cond(cond), &attr) == 0;
    pthread_condattr_destroy(&attr);
    return ok;
}

static bool fli_pthread_cond_wait(void *user, void *cond, void *lock, uint32_t timeout_ms)
{
    (void)user;
    struct timespec deadline;
    if (clock_gettime(FLI_PTHREAD_WAIT_CLOCK, &deadline) != 0) return false;
    deadline.tv_sec += (time_t)(timeout_ms / 1000u);
    deadline.tv_nsec += (long)(timeout_ms % 1000u) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    /* Only ETIMEDOUT says the time is up; 0 is a wake-up the caller re-checks. */
    return pthread_cond_timedwait(fli_as_cond(cond), fli_as_mutex(lock), &deadline) == 0;
}

static void fli_pthread_cond_broadcast(void *user, void *cond)
{
    (void)user;
    pthread_cond_broadcast(fli_as_cond(cond));
}

static void fli_pthread_cond_destroy(void *user, void *cond)
{
    (void)user;
    pthread_cond_destroy(fli_as_cond(cond));
}

#endif /* FLI_PTHREAD_SYNC_H */
