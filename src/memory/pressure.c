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
 * Hysteresis (fl_pressure_thresholds.hysteresis = h bytes, 0 by default): a level L, once
 * reached, is held while the available bytes minus h still reach it, so it falls only
 * past its threshold + h; rising is unchanged. The level the used bytes give is then not a
 * function of them alone: budget[i] holds it, and budget_after moves it. Its band (below)
 * is just h lower at the bottom, so a change still costs two compares.
 *
 * Every call that changes a type's used bytes recomputes that type's level and the whole
 * interface's: four compares each. A rise is queued in the caller's fli_pending (under the
 * lock); fli_pressure_dispatch runs after the lock is released and calls each callback
 * registered at a level L with from < L <= to, once per rise. A request about to fail
 * raises its types to Critical first (fli_pressure_raise): the callbacks above the current
 * level run, and the next call that changes the type recomputes its real level.
 *
 * The OS signal (config os_pressure; docs/platforms.md "OS pressure"). The platform's
 * system_memory (available / total bytes: the machine, its cgroup, or the Web heap against
 * its maximum) and pressure_stall (Linux PSI "some avg10") give one OS level, the higher of
 *     available <= 20 % of total: Low, <= 10 %: Medium, <= 5 %: High, <= 2 %: Critical
 *     stall >= 5 %: Low, >= 10 %: Medium, >= 20 %: High, >= 40 %: Critical
 * and each present level (every type with a region, and the interface) is
 * max(budget level, OS level). Bands stay those of the budget level: between samples a
 * change of used bytes still costs two compares, and the OS part of a level changes only
 * when a sample does. Sampling reads /proc files or walks the Web heap, so it happens on
 * slow paths only: fl_memory_poll_os_pressure, fl_memory_gc_hint, and an automatic check
 * every FLI_OS_CHECK_EVERY changes of used bytes (a countdown in fli_pressure_update) that
 * reads the clock and samples when os_pressure_interval_ms has passed since the last
 * sample (a platform without a clock samples at every check). The first change of used
 * bytes after create samples at once. A level raised to Critical by a failing request
 * keeps reading Critical until its used bytes change, whatever the OS says meanwhile. A
 * sample that changes the OS level updates every present level and queues the rises like
 * any other; a sample for which the platform gives neither reading leaves the OS level as
 * it was.
 *
 * The platform's gc_hint hook (the Web: JavaScript's Module.flightMemoryGcHint) is called
 * after dispatch when any level of that call rose to High or Critical, once, with the
 * highest level reached, and by fl_memory_gc_hint.
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

/* The table's level at `used` ordinary bytes (past the total: none available). */
static inline fl_pressure_level level_at(const fl_memory *m, unsigned index, size_t used)
{
    size_t total = m->pressure_total[index];
    if (total == 0) return FL_PRESSURE_NONE;
    size_t available = used < total ? total - used : 0;
    const size_t *t = m->threshold[index];
    if (available <= t[3]) return FL_PRESSURE_CRITICAL;
    if (available <= t[2]) return FL_PRESSURE_HIGH;
    if (available <= t[1]) return FL_PRESSURE_MEDIUM;
    if (available <= t[0]) return FL_PRESSURE_LOW;
    return FL_PRESSURE_NONE;
}

static inline fl_pressure_level level_of(const fl_memory *m, unsigned index)
{
    return level_at(m, index, used_ordinary(m, index));
}

/* The level the used bytes hold when hysteresis[index] = h: the table's level at used + h,
 * the lowest a held level may fall to now (level_at is monotonic in used). */
static inline fl_pressure_level level_held(const fl_memory *m, unsigned index)
{
    size_t used = used_ordinary(m, index), h = m->hysteresis[index];
    return level_at(m, index, used > SIZE_MAX - h ? SIZE_MAX : used + h);
}

/* The budget level after a change of used bytes, from the one held before: the table's
 * level when that is higher (levels rise at the thresholds), else the held one as long as
 * used + h still reaches it, else as far down as used + h reaches. With h = 0 this is the
 * table's level. */
static fl_pressure_level budget_after(const fl_memory *m, unsigned index, fl_pressure_level before)
{
    fl_pressure_level table = level_of(m, index);
    if (table >= before) return table;
    fl_pressure_level held = level_held(m, index);
    return held < before ? held : before;
}

/* A present level is never below the OS level; a type without a region stays None. */
static inline fl_pressure_level effective(const fl_memory *m, unsigned index, fl_pressure_level budget)
{
    if (m->pressure_total[index] == 0) return FL_PRESSURE_NONE;
    return m->os_sample.level > budget ? m->os_sample.level : budget;
}

fl_status fli_pressure_validate(const fl_memory *m)
{
    for (unsigned i = 0; i < FLI_LEVEL_COUNT; i++) {
        fl_pressure_level budget = m->budget[i], table = level_of(m, i), held = level_held(m, i);
        FLI_VALIDATE(budget >= table && budget <= held,
                     "pressure of index %u: budget level %u outside what the used bytes allow (%u..%u)", i,
                     (unsigned)budget, (unsigned)table, (unsigned)held);
        /* The band is where the held level stays: the used bytes lie in it, or it is empty
         * (a level raised by a refused request, recomputed at the next change). */
        size_t used = m->pressure_total[i] ? used_ordinary(m, i) : 0;
        FLI_VALIDATE(m->band_lo[i] > m->band_hi[i] || (used >= m->band_lo[i] && used <= m->band_hi[i]),
                     "pressure of index %u: used bytes %zu outside the band %zu..%zu of their level", i, used,
                     m->band_lo[i], m->band_hi[i]);
        fl_pressure_level now = effective(m, i, budget);
        FLI_VALIDATE(m->level[i] == now || m->level[i] == FL_PRESSURE_CRITICAL,
                     "pressure level %u of index %u should be %u", (unsigned)m->level[i], i, (unsigned)now);
    }
    return FL_OK;
}

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
    /* level_at is monotonic in used: level L holds from start_of(L) to start_of(L + 1) - 1,
     * and with hysteresis h from start_of(L) - h (budget_after). */
    size_t lo = level == FL_PRESSURE_NONE ? 0 : start_of(m, index, (unsigned)level), h = m->hysteresis[index];
    m->band_lo[index] = lo > h ? lo - h : 0;
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
        m->hysteresis[t] = cfg->pressure[t].hysteresis;
        sum += total;
    }
    m->pressure_total[FL_MEMORY_TYPE_COUNT] = sum;
    thresholds_from(&cfg->total_pressure, sum, m->threshold[FL_MEMORY_TYPE_COUNT]);
    m->hysteresis[FL_MEMORY_TYPE_COUNT] = cfg->total_pressure.hysteresis;
    m->os_enabled = cfg->os_pressure;
    uint32_t ms = cfg->os_pressure_interval_ms != 0 ? cfg->os_pressure_interval_ms : 250u;
    m->os_interval_ns = (uint64_t)ms * 1000000u;
    m->os_due_ns = 0; /* the first check samples */
    m->os_countdown = m->os_enabled ? 1u : UINT32_MAX;
    memset(&m->os_sample, 0, sizeof m->os_sample);
    for (unsigned i = 0; i < FLI_LEVEL_COUNT; i++) {
        fl_pressure_level budget = level_of(m, i);
        m->budget[i] = budget;
        m->level[i] = effective(m, i, budget);
        set_band(m, i, budget);
    }
}

static void queue(fl_memory *m, unsigned index, fl_pressure_level from, fli_pending *pending)
{
    if ((m->callback_count == 0 && m->os.hooks->gc_hint == NULL) ||
        pending->count >= sizeof pending->events / sizeof pending->events[0])
        return;
    fli_event *e = &pending->events[pending->count++];
    e->from = from;
    fli_pressure_info(m, index, &e->info);
}

void fli_pressure_recompute(fl_memory *m, unsigned index, fli_pending *pending)
{
    fl_pressure_level budget = budget_after(m, index, m->budget[index]), before = m->level[index];
    fl_pressure_level now = effective(m, index, budget);
    m->budget[index] = budget;
    m->level[index] = now;
    set_band(m, index, budget);
    if (now > before) queue(m, index, before, pending);
}

/* ---- the OS signal ------------------------------------------------------------------------- */

static const unsigned os_available_pct[4] = {20, 10, 5, 2}; /* Low, Medium, High, Critical */
static const double os_stall_pct[4] = {5.0, 10.0, 20.0, 40.0};

static fl_pressure_level os_level_of(const fl_os_pressure *s)
{
    unsigned level = 0;
    for (unsigned i = 4; i-- > 0 && s->memory_known;) {
        /* total * pct / 100 without overflowing 64 bits */
        uint64_t t = s->total_bytes / 100u * os_available_pct[i] + s->total_bytes % 100u * os_available_pct[i] / 100u;
        if (s->available_bytes <= t) {
            level = i + 1;
            break;
        }
    }
    for (unsigned i = 4; i-- > 0 && s->stall_known;) {
        if (s->stall_pct >= os_stall_pct[i]) {
            if (i + 1 > level) level = i + 1;
            break;
        }
    }
    return (fl_pressure_level)level;
}

/* Takes a sample at platform time `now` and applies it; false when the platform gave
 * neither reading (nothing changes but the due time, so a refusing hook is asked again
 * only an interval later). */
static bool os_sample(fl_memory *m, uint64_t now, fli_pending *pending)
{
    const fl_platform_hooks *p = m->os.hooks;
    fl_os_pressure s;
    memset(&s, 0, sizeof s);
    s.memory_known = fli_system_memory(p, &s.available_bytes, &s.total_bytes) && s.total_bytes != 0;
    if (!s.memory_known) s.available_bytes = s.total_bytes = 0;
    if (s.available_bytes > s.total_bytes) s.available_bytes = s.total_bytes;
    s.stall_known = fli_pressure_stall(p, &s.stall_pct);
    if (!s.stall_known || !(s.stall_pct >= 0.0)) s.stall_pct = 0.0; /* NaN too */
    if (s.stall_pct > 100.0) s.stall_pct = 100.0;
    m->os_due_ns = now > UINT64_MAX - m->os_interval_ns ? UINT64_MAX : now + m->os_interval_ns;
    if (!s.memory_known && !s.stall_known) return false;
    s.sampled_ns = now;
    s.level = os_level_of(&s);
    fl_pressure_level old = m->os_sample.level;
    m->os_sample = s;
    if (s.level == old) return true;
    for (unsigned i = 0; i < FLI_LEVEL_COUNT; i++) {
        /* An empty band: raised to Critical by a failing request, left so until its used
         * bytes change (the public contract). */
        if (m->band_lo[i] > m->band_hi[i]) continue;
        fl_pressure_level before = m->level[i], now_level = effective(m, i, m->budget[i]);
        m->level[i] = now_level;
        if (now_level > before) queue(m, i, before, pending);
    }
    return true;
}

void fli_pressure_os_tick(fl_memory *m, fli_pending *pending)
{
    if (!m->os_enabled) {
        m->os_countdown = UINT32_MAX;
        return;
    }
    m->os_countdown = FLI_OS_CHECK_EVERY;
    uint64_t now = fli_now_ns(m->os.hooks);
    if (now >= m->os_due_ns || m->os.hooks->now_ns == NULL) (void)os_sample(m, now, pending);
}

void fli_pressure_gc_hint(fl_memory *m)
{
    fli_pending pending;
    pending.count = 0;
    fli_mem_lock(m);
    if (m->os_enabled) (void)os_sample(m, fli_now_ns(m->os.hooks), &pending);
    fl_pressure_level level = m->level[FL_MEMORY_TYPE_COUNT];
    fli_mem_unlock(m);
    if (pending.count) fli_pressure_dispatch(m, &pending);
    fli_gc_hint(m->os.hooks, level);
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
    /* The host hears of a rise to High or to Critical once per call, after the callbacks
     * (which may already have freed what they could). */
    fl_pressure_level highest = FL_PRESSURE_NONE;
    for (unsigned e = 0; e < pending->count; e++) {
        const fli_event *ev = &pending->events[e];
        if (ev->info.level >= FL_PRESSURE_HIGH && ev->info.level > ev->from && ev->info.level > highest)
            highest = ev->info.level;
    }
    if (highest != FL_PRESSURE_NONE) fli_gc_hint(m->os.hooks, highest);
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

fl_status fl_memory_poll_os_pressure(fl_memory *m, fl_os_pressure *out)
{
    if (m == NULL) return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_poll_os_pressure: the memory interface is NULL");
    if (!m->os_enabled)
        return fli_fail(FL_ERR_NOT_SUPPORTED, "this memory interface was created without os_pressure (profile %s)",
                        fl_platform_str(m->profile));
    fli_pending pending;
    pending.count = 0;
    fli_mem_lock(m);
    bool ok = os_sample(m, fli_now_ns(m->os.hooks), &pending);
    fl_os_pressure copy = m->os_sample;
    fli_mem_unlock(m);
    if (pending.count) fli_pressure_dispatch(m, &pending);
    if (!ok) {
        const fl_platform_hooks *p = m->os.hooks;
        return fli_fail(FL_ERR_PLATFORM,
                        "the platform gave no OS pressure reading (system_memory %s, pressure_stall %s); the OS level "
                        "stays %s",
                        p->system_memory ? "refused" : "absent", p->pressure_stall ? "refused" : "absent",
                        fl_pressure_level_str(copy.level));
    }
    if (out) *out = copy;
    return FL_OK;
}

fl_status fl_memory_get_os_pressure(fl_memory *m, fl_os_pressure *out)
{
    if (m == NULL || out == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_get_os_pressure: %s is NULL",
                        m ? "out" : "the memory interface");
    if (!m->os_enabled)
        return fli_fail(FL_ERR_NOT_SUPPORTED, "this memory interface was created without os_pressure (profile %s)",
                        fl_platform_str(m->profile));
    fli_mem_lock(m);
    *out = m->os_sample;
    fli_mem_unlock(m);
    return FL_OK;
}
