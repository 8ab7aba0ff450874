/*
 * fl_memory_dump_json: the interface's whole state as one JSON document (schema in
 * docs/json.md), written through a caller callback so the library itself never prints.
 *
 * Everything but the live allocations comes from the public reading calls (stats, regions,
 * allocator handles, pressure), so the JSON says exactly what a program could read. The
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
    put(j, "\n  ]\n}\n");
    return FL_OK;
}
