/*
 * fl_memory_dump_json: the interface's whole state as one JSON document (schema in
 * docs/json.md), written through a caller callback so the library itself never prints.
 *
 * Everything but the live allocations, the regions' bookkeeping place and the waiting and
 * defragmentation counters comes from the public reading calls (stats, regions, allocator
 * handles, pressure), so the JSON says exactly what a program could read. The
 * records (tagged and relocatable allocations) are summed by tag under the interface's
 * lock, with a fixed table on the stack: no allocation anywhere, O(records * tags).
 * Numbers are written by hand (no printf in the library): integers exactly, ratios with
 * six decimals.
 */
#include "memory_internal.h"

/* Distinct tags reported; the rest are summed under "(other tags)". */
#define FLI_JSON_TAGS 64u

typedef struct fli_json {
    fl_json_write_fn write;
    void *user;
} fli_json;

static size_t json_strlen(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') n++;
    return n;
}

static void put(const fli_json *j, const char *text) { j->write(text, json_strlen(text), j->user); }

static void put_u64(const fli_json *j, uint64_t v)
{
    char digits[24];
    size_t n = sizeof digits;
    do {
        digits[--n] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0);
    j->write(digits + n, sizeof digits - n, j->user);
}

/* A finite value >= 0 with six decimals (ratios and percentages); anything else is 0. */
static void put_double(const fli_json *j, double v)
{
    if (!(v >= 0.0) || v > 1e15) v = 0.0; /* NaN fails the first test */
    uint64_t scaled = (uint64_t)(v * 1000000.0 + 0.5);
    put_u64(j, scaled / 1000000u);
    char frac[8];
    uint64_t f = scaled % 1000000u;
    frac[0] = '.';
    for (int i = 6; i >= 1; i--) {
        frac[i] = (char)('0' + (int)(f % 10u));
        f /= 10u;
    }
    j->write(frac, 7, j->user);
}

/* A JSON string: quotes, backslashes and control characters escaped; NULL is null. */
static void put_string(const fli_json *j, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (s == NULL) {
        put(j, "null");
        return;
    }
    put(j, "\"");
    size_t start = 0, i = 0;
    for (; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20u && c != '"' && c != '\\') continue;
        if (i > start) j->write(s + start, i - start, j->user);
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15u]};
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            j->write(esc, 2, j->user);
        } else {
            j->write(esc, 6, j->user);
        }
        start = i + 1;
    }
    if (i > start) j->write(s + start, i - start, j->user);
    put(j, "\"");
}

static void key(const fli_json *j, const char *name)
{
    put_string(j, name);
    put(j, ": ");
}

static void field_u64(const fli_json *j, const char *name, uint64_t v, bool last)
{
    key(j, name);
    put_u64(j, v);
    if (!last) put(j, ", ");
}

static void field_double(const fli_json *j, const char *name, double v, bool last)
{
    key(j, name);
    put_double(j, v);
    if (!last) put(j, ", ");
}

static void put_memory_stats(const fli_json *j, const fl_memory_stats *s)
{
    put(j, "{");
    field_u64(j, "total_bytes", s->total_bytes, false);
    field_u64(j, "used_bytes", s->used_bytes, false);
    field_u64(j, "free_bytes", s->free_bytes, false);
    field_u64(j, "peak_used_bytes", s->peak_used_bytes, false);
    field_u64(j, "allocation_count", s->allocation_count, false);
    field_u64(j, "total_allocations", s->total_allocations, false);
    field_u64(j, "total_deallocations", s->total_deallocations, false);
    field_u64(j, "failed_allocations", s->failed_allocations, false);
    field_double(j, "fragmentation_pct", s->fragmentation_pct, false);
    field_u64(j, "largest_free_block", s->largest_free_block, false);
    field_double(j, "allocation_efficiency", s->allocation_efficiency, true);
    put(j, "}");
}

static void put_pressure(const fli_json *j, const fl_pressure_info *p)
{
    put(j, "{");
    key(j, "level");
    put_string(j, fl_pressure_level_str(p->level));
    put(j, ", ");
    field_u64(j, "available_bytes", p->available_bytes, false);
    field_u64(j, "total_bytes", p->total_bytes, false);
    field_double(j, "pressure_ratio", p->pressure_ratio, true);
    put(j, "}");
}

static void put_flags(const fli_json *j, fl_memory_flags caps)
{
    static const char *const names[] = {"cacheable", "zero", "dma_capable", "temporary", "critical", "relocatable"};
    put(j, "[");
    bool first = true;
    for (unsigned b = 0; b < sizeof names / sizeof names[0]; b++) {
        if ((caps & (1u << b)) == 0) continue;
        if (!first) put(j, ", ");
        put_string(j, names[b]);
        first = false;
    }
    put(j, "]");
}

typedef struct fli_tag_sum {
    const char *tag; /* NULL: the "(other tags)" line */
    uint64_t count, bytes;
} fli_tag_sum;

static bool same_tag(const char *a, const char *b)
{
    if (a == b) return true;
    if (a == NULL || b == NULL) return false;
    size_t i = 0;
    while (a[i] != '\0' && a[i] == b[i]) i++;
    return a[i] == b[i];
}

/* Sums the live records by tag (untagged relocatable allocations under "(untagged)").
 * Returns the number of lines in sums; *other gets what did not fit. */
static unsigned collect_tags(fl_memory *m, fli_tag_sum *sums, fli_tag_sum *other)
{
    unsigned n = 0;
    other->tag = NULL;
    other->count = other->bytes = 0;
    fli_mem_lock(m);
    for (size_t i = 0; i < m->record_slots; i++) {
        const fli_record *r = &m->records[i];
        if (r->ptr == NULL) continue;
        const char *tag = r->tag != NULL ? r->tag : "(untagged)";
        unsigned k = 0;
        while (k < n && !same_tag(sums[k].tag, tag)) k++;
        fli_tag_sum *s = other;
        if (k < n) {
            s = &sums[k];
        } else if (n < FLI_JSON_TAGS) {
            s = &sums[n++];
            s->tag = tag;
            s->count = s->bytes = 0;
        }
        s->count++;
        s->bytes += r->size;
    }
    fli_mem_unlock(m);
    return n;
}

/* Whether the region starting at base keeps its allocator's bookkeeping outside it. */
static bool region_external(fl_memory *m, const void *base)
{
    for (unsigned i = 0; i < FLI_REGION_COUNT; i++) {
        const fli_region *r = &m->regions[i];
        if (r->present && r->a != NULL && base != NULL && (const void *)r->base == base) return r->a->external_memory;
    }
    return false;
}

/* Waiting (timeout_ms) and defragmentation since create: counters copied under the lock. */
static void put_activity(const fli_json *j, fl_memory *m)
{
    fli_mem_lock(m);
    bool can_wait = m->can_wait, has_last = m->has_last_defrag;
    uint64_t waiting_now = m->waiters, waited = m->waited, served = m->waited_served, timeouts = m->waited_timeouts;
    uint64_t runs = m->defrag_runs, moved = m->defrag_allocations, bytes = m->defrag_bytes;
    fl_defrag_result last = m->last_defrag;
    fli_mem_unlock(m);
    put(j, "\"waiting\": {\"available\": ");
    put(j, can_wait ? "true, " : "false, ");
    field_u64(j, "waiting_now", waiting_now, false);
    field_u64(j, "requests_waited", waited, false);
    field_u64(j, "served_after_waiting", served, false);
    field_u64(j, "timed_out", timeouts, true);
    put(j, "},\n  \"defragmentation\": {");
    field_u64(j, "runs", runs, false);
    field_u64(j, "allocations_moved", moved, false);
    field_u64(j, "bytes_moved", bytes, false);
    key(j, "last");
    if (!has_last) {
        put(j, "null}");
        return;
    }
    put(j, "{");
    field_u64(j, "bytes_moved", last.bytes_moved, false);
    field_u64(j, "allocations_moved", last.allocations_moved, false);
    field_u64(j, "largest_free_before", last.largest_free_before, false);
    field_u64(j, "largest_free_after", last.largest_free_after, false);
    field_double(j, "fragmentation_before", last.fragmentation_before, false);
    field_double(j, "fragmentation_after", last.fragmentation_after, true);
    put(j, "}}");
}

fl_status fl_memory_dump_json(fl_memory *m, fl_json_write_fn write, void *user)
{
    if (m == NULL || write == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_dump_json: %s is NULL", m == NULL ? "m" : "write");
    const fli_json jv = {write, user}, *j = &jv;
    fl_memory_stats stats;
    fl_status st = fl_memory_get_stats(m, &stats);
    if (st != FL_OK) return st;

    put(j, "{\n  \"schema\": \"flight-memory/1\", ");
    key(j, "version");
    put_string(j, "0.1.0");
    put(j, ", ");
    key(j, "profile");
    put_string(j, fl_platform_str(m->profile));
    put(j, ", ");
    key(j, "thread_safe");
    put(j, m->thread_safe ? "true" : "false");
    put(j, ",\n  \"stats\": ");
    put_memory_stats(j, &stats);

    fl_pressure_info pressure;
    st = fl_memory_get_pressure(m, FL_MEMORY_ALL_TYPES, &pressure);
    if (st != FL_OK) return st;
    put(j, ",\n  \"pressure\": ");
    put_pressure(j, &pressure);

    /* The last OS sample (null without os_pressure): read, never taken here. */
    put(j, ",\n  \"os_pressure\": ");
    if (!m->os_enabled) {
        put(j, "null");
    } else {
        fli_mem_lock(m);
        fl_os_pressure os = m->os_sample;
        fli_mem_unlock(m);
        put(j, "{");
        key(j, "level");
        put_string(j, fl_pressure_level_str(os.level));
        put(j, ", ");
        key(j, "memory_known");
        put(j, os.memory_known ? "true, " : "false, ");
        key(j, "stall_known");
        put(j, os.stall_known ? "true, " : "false, ");
        field_u64(j, "os_available_bytes", os.available_bytes, false);
        field_u64(j, "os_total_bytes", os.total_bytes, false);
        field_double(j, "stall_pct", os.stall_pct, false);
        field_u64(j, "sampled_ns", os.sampled_ns, true);
        put(j, "}");
    }

    /* Every type, present or not, so a reader finds all eight keys. */
    put(j, ",\n  \"types\": {");
    for (unsigned t = 0; t < (unsigned)FL_MEMORY_TYPE_COUNT; t++) {
        fl_memory_stats ts;
        fl_pressure_info tp;
        st = fl_memory_get_type_stats(m, (fl_memory_type)t, &ts);
        if (st == FL_OK) st = fl_memory_get_pressure(m, (fl_memory_type)t, &tp);
        if (st != FL_OK) return st;
        put(j, t == 0 ? "\n    " : ",\n    ");
        key(j, fl_memory_type_str((fl_memory_type)t));
        put(j, "{\"present\": ");
        put(j, m->regions[t].present ? "true" : "false");
        put(j, ", \"stats\": ");
        put_memory_stats(j, &ts);
        put(j, ", \"pressure\": ");
        put_pressure(j, &tp);
        put(j, "}");
    }
    put(j, "\n  },\n  \"regions\": [");
    fl_memory_region regions[FLI_REGION_COUNT];
    size_t count = fl_memory_get_regions(m, regions, FLI_REGION_COUNT);
    for (size_t i = 0; i < count && i < FLI_REGION_COUNT; i++) {
        const fl_memory_region *r = &regions[i];
        put(j, i == 0 ? "\n    {" : ",\n    {");
        key(j, "name");
        put_string(j, r->name);
        put(j, ", ");
        key(j, "type");
        put_string(j, fl_memory_type_str(r->type));
        put(j, ", ");
        key(j, "allocator");
        put_string(j, fl_allocator_type_str(r->allocator));
        put(j, ", ");
        field_u64(j, "base", (uint64_t)(uintptr_t)r->base, false);
        field_u64(j, "size", r->size, false);
        key(j, "capabilities");
        put_flags(j, r->capabilities);
        /* Where the allocator's bookkeeping lives: "outside" for a Video/Audio buddy in
         * external mode (its map in the control part), "inside" for the others. */
        put(j, ", ");
        key(j, "bookkeeping");
        put_string(j, region_external(m, r->base) ? "outside" : "inside");
        put(j, "}");
    }
    put(j, "\n  ],\n  \"allocators\": [");
    fl_allocator_type kinds[FL_ALLOCATOR_TYPE_COUNT];
    size_t kind_count = fl_memory_get_available_allocators(m, kinds, FL_ALLOCATOR_TYPE_COUNT);
    for (size_t i = 0; i < kind_count && i < (size_t)FL_ALLOCATOR_TYPE_COUNT; i++) {
        fl_allocator_stats as;
        st = fl_memory_get_allocator_stats(m, kinds[i], &as);
        if (st != FL_OK) return st;
        put(j, i == 0 ? "\n    {" : ",\n    {");
        key(j, "allocator");
        put_string(j, fl_allocator_type_str(kinds[i]));
        put(j, ", ");
        field_u64(j, "total_capacity", as.total_capacity, false);
        field_u64(j, "used_bytes", as.used_bytes, false);
        field_u64(j, "free_bytes", as.free_bytes, false);
        field_u64(j, "peak_used_bytes", as.peak_used_bytes, false);
        field_u64(j, "allocation_count", as.allocation_count, false);
        field_u64(j, "allocation_overhead", as.allocation_overhead, false);
        field_double(j, "fragmentation_ratio", as.fragmentation_ratio, false);
        field_u64(j, "largest_free_block", as.largest_free_block, false);
        field_double(j, "allocation_efficiency", as.allocation_efficiency, false);
        key(j, "supports_defrag");
        put(j, as.supports_defrag ? "true, " : "false, ");
        field_u64(j, "total_allocations", as.total_allocations, false);
        field_u64(j, "total_deallocations", as.total_deallocations, false);
        field_u64(j, "failed_allocations", as.failed_allocations, true);
        put(j, "}");
    }
    put(j, "\n  ],\n  \"live_by_tag\": [");
    fli_tag_sum sums[FLI_JSON_TAGS], other;
    unsigned tags = collect_tags(m, sums, &other);
    for (unsigned i = 0; i <= tags; i++) {
        const fli_tag_sum *s = i < tags ? &sums[i] : &other;
        if (i == tags && other.count == 0) break;
        put(j, i == 0 ? "\n    {" : ",\n    {");
        key(j, "tag");
        put_string(j, s->tag != NULL ? s->tag : "(other tags)");
        put(j, ", ");
        field_u64(j, "count", s->count, false);
        field_u64(j, "bytes", s->bytes, true);
        put(j, "}");
    }
    put(j, "\n  ],\n  ");
    put_activity(j, m);
    put(j, "\n}\n");
    return FL_OK;
}

/* ---- the leak report (fl_memory_dump_leaks_json) ------------------------------------------ */

typedef struct fli_leak_json {
    const fli_json *j;
    unsigned groups;
    size_t bytes;
} fli_leak_json;

static void put_leak(const fl_leak *leak, void *user)
{
    fli_leak_json *lj = user;
    const fli_json *j = lj->j;
    put(j, lj->groups++ ? ", {" : "{");
    key(j, "tag");
    put_string(j, leak->tag);
    put(j, ", ");
    key(j, "type");
    put_string(j, fl_memory_type_str(leak->type));
    put(j, ", ");
    field_u64(j, "count", leak->count, false);
    field_u64(j, "bytes", leak->bytes, false);
    key(j, "recorded");
    put(j, leak->recorded ? "true}" : "false}");
    lj->bytes += leak->bytes;
}

fl_status fl_memory_dump_leaks_json(fl_memory *m, fl_json_write_fn write, void *user)
{
    if (m == NULL || write == NULL)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "fl_memory_dump_leaks_json: %s is NULL",
                        m ? "the write callback" : "the memory interface");
    fli_json j = {write, user};
    fli_leak_json lj = {&j, 0, 0};
    size_t live = 0;
    put(&j, "{");
    key(&j, "leaks");
    put(&j, "[");
    fl_status st = fl_memory_report_leaks(m, put_leak, &lj, &live);
    if (st != FL_OK) return st; /* cannot happen: m and the callback are set */
    put(&j, "], ");
    field_u64(&j, "live_allocations", live, false);
    field_u64(&j, "recorded_bytes", lj.bytes, true);
    put(&j, "}");
    return FL_OK;
}
