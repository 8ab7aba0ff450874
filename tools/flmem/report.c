/*
 * The HTML report of a recorded session: one self-contained page (inline CSS and SVG, no
 * script, no network). Sections, each an SVG group with a stable id the tests look for:
 *   g#usage-<Type>      memory used per type over time, pressure levels as bands behind it
 *   table#events        every pressure event
 *   g#heapmap-<s>-<i>   heap map i of snapshot s: blocks to scale, free space visible
 *   table#type-stats, table#allocator-stats   the final tables
 */
#include "flmem.h"

#include <string.h>

static const char *const band_colors[4] = {"#fff7d6", "#ffe3b3", "#ffc9a8", "#ffadad"};
static const char *const type_colors[FL_MEMORY_TYPE_COUNT] = {"#3b6fb6", "#8e44ad", "#16a085", "#d35400",
                                                              "#7f8c8d", "#c0392b", "#2c3e50", "#27ae60"};

static void html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

#define CW 640.0 /* chart width */
#define CH 150.0 /* chart height */
#define ML 60.0  /* left margin */

static void usage_chart(FILE *f, const flmem_session *s, unsigned t)
{
    const char *name = fl_memory_type_str((fl_memory_type)t);
    double total = (double)s->total[t];
    double tmax = s->sample_count ? s->samples[s->sample_count - 1].t : 1.0;
    if (tmax <= 0) tmax = 1.0;
    char b[32];
    fprintf(f, "<figure><figcaption>%s &mdash; capacity %s</figcaption>\n", name,
            flmem_bytes_str(s->total[t], b, sizeof b));
    fprintf(f, "<svg class=\"chart\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "xmlns=\"http://www.w3.org/2000/svg\">\n", ML + CW + 10, CH + 30, ML + CW + 10, CH + 30);
    fprintf(f, "<g id=\"usage-%s\" class=\"usage\">\n<g class=\"pressure-bands\">\n", name);
    for (unsigned l = 0; l < 4; l++) {
        size_t start = s->band_start[t][l];
        if (start == 0) continue;
        size_t end = l < 3 && s->band_start[t][l + 1] > start ? s->band_start[t][l + 1] : s->total[t];
        double y0 = CH - CH * (double)end / total, y1 = CH - CH * (double)start / total;
        fprintf(f, "<rect class=\"band band-%s\" x=\"%.0f\" y=\"%.2f\" width=\"%.0f\" height=\"%.2f\" fill=\"%s\">"
                   "<title>%s pressure</title></rect>\n", fl_pressure_level_str((fl_pressure_level)(l + 1)), ML, y0,
                CW, y1 - y0, band_colors[l], fl_pressure_level_str((fl_pressure_level)(l + 1)));
        fprintf(f, "<text x=\"%.0f\" y=\"%.2f\" class=\"bandlabel\">%s</text>\n", ML + CW - 4, y1 - 2,
                fl_pressure_level_str((fl_pressure_level)(l + 1)));
    }
    fputs("</g>\n", f);
    fprintf(f, "<rect x=\"%.0f\" y=\"0\" width=\"%.0f\" height=\"%.0f\" class=\"frame\"/>\n", ML, CW, CH);
    fprintf(f, "<text x=\"%.0f\" y=\"10\" class=\"axis\">%s</text>", ML - 4, flmem_bytes_str(s->total[t], b, sizeof b));
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"axis\">0</text>\n", ML - 4, CH);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"taxis\">0 s</text><text x=\"%.0f\" y=\"%.0f\" "
               "class=\"taxis\">%.1f s</text>\n", ML, CH + 16, ML + CW - 20, CH + 16, tmax);
    fprintf(f, "<polyline class=\"used\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", type_colors[t]);
    for (size_t i = 0; i < s->sample_count; i++) {
        double used = (double)s->samples[i].used[t];
        if (used > total) used = total;
        fprintf(f, "%.1f,%.1f ", ML + CW * s->samples[i].t / tmax, CH - CH * used / total);
    }
    fputs("\"/>\n", f);
    /* pressure events of this type as ticks on the time axis */
    for (size_t i = 0; i < s->event_count; i++) {
        const flmem_event *e = &s->events[i];
        if ((unsigned)e->type != t) continue;
        double x = ML + CW * e->t / tmax;
        fprintf(f, "<line class=\"event\" x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#c0392b\" "
                   "stroke-dasharray=\"2,2\"><title>%.2fs %s</title></line>\n", x, x, CH, e->t,
                fl_pressure_level_str(e->level));
    }
    fputs("</g>\n</svg></figure>\n", f);
}

static void heapmap(FILE *f, const flmem_heapmap *h, size_t snap, size_t index)
{
    const double w = 800.0, hh = 26.0;
    char b[2][32];
    fprintf(f, "<figure><figcaption>%s (%s, %s): %s used of %s</figcaption>\n", h->name,
            fl_memory_type_str(h->type), fl_allocator_type_str(h->allocator), flmem_bytes_str(h->used, b[0], 32),
            flmem_bytes_str(h->size, b[1], 32));
    fprintf(f, "<svg class=\"heap\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "xmlns=\"http://www.w3.org/2000/svg\">\n", w, hh, w, hh);
    fprintf(f, "<g id=\"heapmap-%zu-%zu\" class=\"heapmap\">\n", snap, index);
    fprintf(f, "<rect class=\"free\" x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\"/>\n", w, hh);
    const char *color = type_colors[h->type];
    double scale = w / (double)h->size;
    if (!h->bucketed) {
        for (size_t i = 0; i < h->run_count; i++) {
            const flmem_run *r = &h->runs[i];
            if (!r->used) continue;
            double x = (double)r->offset * scale, rw = (double)r->size * scale;
            if (rw < 0.5) rw = 0.5;
            fprintf(f, "<rect class=\"block\" x=\"%.2f\" y=\"0\" width=\"%.2f\" height=\"%.0f\" fill=\"%s\">"
                       "<title>%zu bytes at +%zu</title></rect>\n", x, rw, hh, color, r->size, r->offset);
        }
    } else {
        /* Too many blocks to draw one by one: each slice shaded by the share in use. */
        double sw = w / FLMEM_BUCKETS;
        for (unsigned k = 0; k < FLMEM_BUCKETS; k++) {
            if (h->bucket_used[k] <= 0.0f) continue;
            fprintf(f, "<rect class=\"block\" x=\"%.2f\" y=\"0\" width=\"%.2f\" height=\"%.0f\" fill=\"%s\" "
                       "fill-opacity=\"%.2f\" stroke=\"none\"/>\n", k * sw, sw, hh, color,
                    h->bucket_used[k] > 1.0f ? 1.0 : (double)h->bucket_used[k]);
        }
    }
    fputs("</g>\n</svg></figure>\n", f);
}

static void stats_tables(FILE *f, const flmem_session *s)
{
    char b[4][32];
    fputs("<h2>Final statistics per memory type</h2>\n<table id=\"type-stats\"><tr><th>type</th><th>capacity</th>"
          "<th>used</th><th>peak</th><th>live</th><th>allocations</th><th>frees</th><th>failed</th>"
          "<th>fragmentation</th><th>largest free</th></tr>\n", f);
    for (unsigned t = 0; t <= (unsigned)FL_MEMORY_TYPE_COUNT; t++) {
        const fl_memory_stats *m = t < (unsigned)FL_MEMORY_TYPE_COUNT ? &s->types[t] : &s->global;
        if (m->total_bytes == 0) continue;
        fprintf(f, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%zu</td><td>%llu</td><td>%llu</td>"
                   "<td>%llu</td><td>%.1f %%</td><td>%s</td></tr>\n",
                t < (unsigned)FL_MEMORY_TYPE_COUNT ? fl_memory_type_str((fl_memory_type)t) : "<b>all</b>",
                flmem_bytes_str(m->total_bytes, b[0], 32), flmem_bytes_str(m->used_bytes, b[1], 32),
                flmem_bytes_str(m->peak_used_bytes, b[2], 32), m->allocation_count,
                (unsigned long long)m->total_allocations, (unsigned long long)m->total_deallocations,
                (unsigned long long)m->failed_allocations, m->fragmentation_pct,
                flmem_bytes_str(m->largest_free_block, b[3], 32));
    }
    fputs("</table>\n<h2>Final statistics per allocator</h2>\n<table id=\"allocator-stats\"><tr><th>allocator</th>"
          "<th>capacity</th><th>used</th><th>peak</th><th>live</th><th>allocations</th><th>failed</th>"
          "<th>fragmentation</th><th>efficiency</th><th>overhead</th></tr>\n", f);
    for (size_t i = 0; i < s->allocator_count; i++) {
        const fl_allocator_stats *a = &s->allocator_stats[i];
        fprintf(f, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%zu</td><td>%llu</td><td>%llu</td>"
                   "<td>%.1f %%</td><td>%.1f %%</td><td>%zu B</td></tr>\n", fl_allocator_type_str(s->allocators[i]),
                flmem_bytes_str(a->total_capacity, b[0], 32), flmem_bytes_str(a->used_bytes, b[1], 32),
                flmem_bytes_str(a->peak_used_bytes, b[2], 32), a->allocation_count,
                (unsigned long long)a->total_allocations, (unsigned long long)a->failed_allocations,
                100.0 * a->fragmentation_ratio, 100.0 * a->allocation_efficiency, a->allocation_overhead);
    }
    fputs("</table>\n", f);
}

int flmem_report_write(const flmem_session *s, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "flmem demo: cannot write the report %s\n", path);
        return FLMEM_EXIT_FAIL;
    }
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<title>flight-memory session: %s profile</title>\n<style>\n"
               "body{font-family:sans-serif;margin:2em;color:#222;max-width:1000px}\n"
               "figure{margin:0.8em 0}figcaption{font-weight:bold;font-size:0.9em;margin-bottom:0.2em}\n"
               ".frame{fill:none;stroke:#999}.axis{font-size:10px;text-anchor:end;fill:#555}\n"
               ".taxis{font-size:10px;fill:#555}.bandlabel{font-size:9px;text-anchor:end;fill:#a05}\n"
               ".free{fill:#eeeeee;stroke:#999}.block{stroke:#fff;stroke-width:0.6}\n"
               "table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}"
               "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child{text-align:left}\n"
               "#events td{text-align:left}\n"
               ".legend span{display:inline-block;padding:0 8px;margin-right:4px}\n"
               "</style></head><body>\n", fl_platform_str(s->platform));
    fprintf(f, "<h1>flight-memory: a %u-second session on the %s profile</h1>\n", s->seconds,
            fl_platform_str(s->platform));
    fprintf(f, "<p>%llu frames over %u levels (", s->frames, s->levels);
    for (unsigned l = 0; l < s->levels; l++) {
        if (l) fputs(", ", f);
        html_text(f, s->level_names[l]);
    }
    fprintf(f, "); %llu requests refused and survived, %llu cached assets freed by pressure callbacks, %llu streamed "
               "chunks evicted. Not shown yet: ", s->failed_requests, s->cache_freed, s->evicted);
    html_text(f, s->skipped);
    fputs(".</p>\n<h2>Memory used per type</h2>\n<p class=\"legend\">pressure bands: ", f);
    for (unsigned l = 0; l < 4; l++)
        fprintf(f, "<span style=\"background:%s\">%s</span>", band_colors[l],
                fl_pressure_level_str((fl_pressure_level)(l + 1)));
    fputs("; dashed lines: pressure events</p>\n", f);
    for (unsigned t = 0; t < (unsigned)FL_MEMORY_TYPE_COUNT; t++)
        if (s->total[t] != 0) usage_chart(f, s, t);

    fprintf(f, "<h2>Pressure events (%zu%s)</h2>\n<table id=\"events\"><tr><th>time</th><th>level</th>"
               "<th>memory</th><th>pressure</th><th>available</th><th>what the manager did</th></tr>\n",
            s->event_count, s->events_dropped ? ", more dropped" : "");
    char b[2][32];
    for (size_t i = 0; i < s->event_count; i++) {
        const flmem_event *e = &s->events[i];
        fprintf(f, "<tr><td>%.2f s</td><td>", e->t);
        html_text(f, s->level_names[e->level_index < 8 ? e->level_index : 0]);
        fprintf(f, "</td><td>%s</td><td>%s</td><td>%s of %s</td><td>",
                e->type == FL_MEMORY_ALL_TYPES ? "(all)" : fl_memory_type_str(e->type), fl_pressure_level_str(e->level),
                flmem_bytes_str(e->available, b[0], 32), flmem_bytes_str(e->total, b[1], 32));
        html_text(f, e->action);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);

    fputs("<h2>Heap maps</h2>\n<p>Each region drawn to scale, lowest address left: coloured blocks are in use, grey "
          "is free. Pools with more blocks than can be drawn show each slice shaded by its share in use.</p>\n", f);
    for (size_t k = 0; k < s->snapshot_count; k++) {
        fputs("<h3>", f);
        html_text(f, s->snapshots[k].label);
        fputs("</h3>\n", f);
        for (size_t i = 0; i < s->snapshots[k].map_count; i++) heapmap(f, &s->snapshots[k].maps[i], k, i);
    }
    stats_tables(f, s);
    fputs("</body></html>\n", f);
    if (fclose(f) != 0) {
        fprintf(stderr, "flmem demo: writing the report %s failed\n", path);
        return FLMEM_EXIT_FAIL;
    }
    return 0;
}
