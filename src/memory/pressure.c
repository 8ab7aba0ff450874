/*
 * Pressure levels and callbacks.
 *
 * Each type's level, and the whole interface's (index FL_MEMORY_TYPE_COUNT), is a function
 * of its available bytes: what ordinary requests can still get (capacity minus used, the
 * emergency reserve left out). Four thresholds in bytes, fixed at create, say where Low,
 * Medium, High and Critical start (available <= threshold); levels are tested from
 * Critical down. Without absolute thresholds in the configuration they come from the
 * specification's ratio table: 50 %, 25 %, 10 % and 5 % of the capacity.
 *
 * Every call that changes a type's used bytes recomputes that type's level and the whole
 * interface's: four compares each. A rise is queued in the caller's fli_pending (under the
 * lock); fli_pressure_dispatch runs after the lock is released and calls each callback
 * registered at a level L with from < L <= to, once per rise. A request about to fail
 * raises its types to Critical first (fli_pressure_raise): the callbacks above the current
 * level run, and the next call that changes the type recomputes its real level.
 *
 * Callbacks live in a fixed table of FL_PRESSURE_CALLBACK_MAX slots. Dispatch reads each
 * slot under the lock and calls it without, so a callback may allocate, free, register
 * and unregister; a callback unregistered by another thread while dispatch holds its copy
 * may still run once.
 */
#include "memory_internal.h"

static const unsigned ratio_percent[4] = {50, 25, 10, 5}; /* Low, Medium, High, Critical */

static void thresholds_from(const fl_pressure_thresholds *p, size_t capacity, size_t out[4])
{
    if (p->low == 0 && p->medium == 0 && p->high == 0 && p->critical == 0) {
        for (unsigned i = 0; i < 4; i++) {
            /* capacity * pct / 100 without overflowing size_t */
            out[i] = capacity / 100 * ratio_percent[i] + capacity % 100 * ratio_percent[i] / 100;
        }
        return;
    }
    out[0] = p->low;
    out[1] = p->medium;
    out[2] = p->high;
    out[3] = p->critical;
    /* A level without a threshold (0) starts where the next higher one does: levels are
     * tested from Critical down, so this changes no answer and keeps the bands ordered. */
    for (int i = 2; i >= 0; i--)
        if (out[i] < out[i + 1]) out[i] = out[i + 1];
}

static size_t used_ordinary(const fl_memory *m, unsigned index)
{
    if (index == FL_MEMORY_TYPE_COUNT) return m->total_used - m->reserve_used;
    return m->types[index].used - (index == FL_MEMORY_SYSTEM ? m->reserve_used : 0);
}

static inline fl_pressure_level level_of(const fl_memory *m, unsigned index)
{
    size_t total = m->pressure_total[index];
    if (total == 0) return FL_PRESSURE_NONE;
    size_t available = total - used_ordinary(m, index);
    const size_t *t = m->threshold[index];
    if (available <= t[3]) return FL_PRESSURE_CRITICAL;
    if (available <= t[2]) return FL_PRESSURE_HIGH;
    if (available <= t[1]) return FL_PRESSURE_MEDIUM;
    if (available <= t[0]) return FL_PRESSURE_LOW;
    return FL_PRESSURE_NONE;
}

fl_pressure_level fli_pressure_level_now(const fl_memory *m, unsigned index) { return level_of(m, index); }

void fli_pressure_info(const fl_memory *m, unsigned index, fl_pressure_info *out)
{
    size_t total = m->pressure_total[index];
    size_t used = total ? used_ordinary(m, index) : 0;
    out->level = m->level[index];
    out->type = (fl_memory_type)index;
    out->total_bytes = total;
    out->available_bytes = total - used;
    out->pressure_ratio = total ? (double)used / (double)total : 0.0;
}

/* The smallest ordinary used bytes at which index reaches `level` (level >= Low). */
static size_t start_of(const fl_memory *m, unsigned index, unsigned level)
{
    size_t total = m->pressure_total[index], threshold = m->threshold[index][level - 1];
    return threshold >= total ? 0 : total - threshold;
}

/* The band of used bytes over which the level of index stays `level`. */
static void set_band(fl_memory *m, unsigned index, fl_pressure_level level)
{
    if (m->pressure_total[index] == 0) {
        m->band_lo[index] = 0;
        m->band_hi[index] = SIZE_MAX;
        return;
    }
    /* level_of is monotonic in used: level L holds from start_of(L) to start_of(L + 1) - 1. */
    m->band_lo[index] = level == FL_PRESSURE_NONE ? 0 : start_of(m, index, (unsigned)level);
    m->band_hi[index] = level == FL_PRESSURE_CRITICAL ? SIZE_MAX : start_of(m, index, (unsigned)level + 1) - 1;
}

void fli_pressure_setup(fl_memory *m, const fl_memory_config *cfg)
{
    size_t sum = 0;
    for (unsigned t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        size_t total = m->types[t].total;
        if (t == FL_MEMORY_SYSTEM && m->regions[FLI_RESERVE].present)
            total -= fli_region_capacity(&m->regions[FLI_RESERVE]);
        m->pressure_total[t] = total;
        thresholds_from(&cfg->pressure[t], total, m->threshold[t]);
        sum += total;
    }
    m->pressure_total[FL_MEMORY_TYPE_COUNT] = sum;
    thresholds_from(&cfg->total_pressure, sum, m->threshold[FL_MEMORY_TYPE_COUNT]);
    for (unsigned i = 0; i < FLI_LEVEL_COUNT; i++) {
        m->level[i] = level_of(m, i);
        set_band(m, i, m->level[i]);
    }
}

static void queue(fl_memory *m, unsigned index, fl_pressure_level from, fli_pending *pending)
{
    if (m->callback_count == 0 || pending->count >= sizeof pending->events / sizeof pending->events[0]) return;
    fli_event *e = &pending->events[pending->count++];
    e->from = from;
    fli_pressure_info(m, index, &e->info);
}

void fli_pressure_recompute(fl_memory *m, unsigned index, fli_pending *pending)
{
    fl_pressure_level now = level_of(m, index), before = m->level[index];
    m->level[index] = now;
    set_band(m, index, now);
    if (now > before) queue(m, index, before, pending);
}

void fli_pressure_raise(fl_memory *m, fl_memory_type type, fli_pending *pending)
{
    fl_pressure_level before = m->level[type];
    if (before == FL_PRESSURE_CRITICAL || m->pressure_total[type] == 0) return;
    m->level[type] = FL_PRESSURE_CRITICAL;
    /* An empty band: the next change of this type's used bytes recomputes the real level. */
    m->band_lo[type] = SIZE_MAX;
    m->band_hi[type] = 0;
    queue(m, (unsigned)type, before, pending);
}

void fli_pressure_dispatch(fl_memory *m, fli_pending *pending)
{
    for (unsigned e = 0; e < pending->count; e++) {
        const fli_event *ev = &pending->events[e];
        for (unsigned i = 0; i < FL_PRESSURE_CALLBACK_MAX; i++) {
            fli_mem_lock(m);
            fli_callback cb = m->callbacks[i];
            fli_mem_unlock(m);
            if (cb.id != 0 && ev->from < cb.level && cb.level <= ev->info.level) cb.fn(ev->info.level, &ev->info, cb.user);
        }
    }
    pending->count = 0;
}

/* ---- public -------------------------------------------------------------------------------- */

fl_status fl_memory_register_pressure_callback(fl_memory *m, fl_pressure_level at_least, fl_pressure_fn fn, void *user,
                                               uint32_t *out_id)
{
    if (m == NULL || fn == NULL || out_id == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_register_pressure_callback: %s is NULL",
                        m == NULL ? "the memory interface" : fn == NULL ? "the callback" : "out_id");
    if ((unsigned)at_least < FL_PRESSURE_LOW || (unsigned)at_least > FL_PRESSURE_CRITICAL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "pressure level %d cannot be risen to: register at Low..Critical",
                        (int)at_least);
    fli_mem_lock(m);
    unsigned slot = FL_PRESSURE_CALLBACK_MAX;
    for (unsigned i = 0; i < FL_PRESSURE_CALLBACK_MAX; i++)
        if (m->callbacks[i].id == 0) {
            slot = i;
            break;
        }
    if (slot == FL_PRESSURE_CALLBACK_MAX) {
        fli_mem_unlock(m);
        return fli_fail(FL_ERR_OUT_OF_MEMORY, "all %u pressure callback slots are taken", FL_PRESSURE_CALLBACK_MAX);
    }
    /* Ids grow and skip 0 and any id still registered, so a stale id never matches a newer
     * registration until 2^32 registrations have passed. */
    uint32_t id;
    bool taken;
    do {
        id = m->next_callback_id++;
        taken = id == 0;
        for (unsigned i = 0; i < FL_PRESSURE_CALLBACK_MAX && !taken; i++) taken = m->callbacks[i].id == id;
    } while (taken);
    fli_callback *cb = &m->callbacks[slot];
    cb->id = id;
    cb->level = at_least;
    cb->fn = fn;
    cb->user = user;
    m->callback_count++;
    fli_mem_unlock(m);
    *out_id = id;
    return FL_OK;
}

fl_status fl_memory_unregister_pressure_callback(fl_memory *m, uint32_t id)
{
    if (m == NULL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "the memory interface is NULL");
    if (id == 0) return fli_fail(FL_ERR_INVALID_PARAMETERS, "0 is never a pressure callback id");
    fli_mem_lock(m);
    for (unsigned i = 0; i < FL_PRESSURE_CALLBACK_MAX; i++) {
        if (m->callbacks[i].id != id) continue;
        memset(&m->callbacks[i], 0, sizeof m->callbacks[i]);
        m->callback_count--;
        fli_mem_unlock(m);
        return FL_OK;
    }
    fli_mem_unlock(m);
    return fli_fail(FL_ERR_INVALID_PARAMETERS, "no pressure callback has id %u", (unsigned)id);
}

fl_status fl_memory_get_pressure(fl_memory *m, fl_memory_type t, fl_pressure_info *out)
{
    if (m == NULL || out == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_get_pressure: %s is NULL",
                        m ? "out" : "the memory interface");
    if ((unsigned)t > FL_MEMORY_TYPE_COUNT)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "memory type %d is not a memory type (nor FL_MEMORY_ALL_TYPES)",
                        (int)t);
    fli_mem_lock(m);
    fli_pressure_info(m, (unsigned)t, out);
    fli_mem_unlock(m);
    return FL_OK;
}
