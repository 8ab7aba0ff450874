/*
 * Per-allocation records: what the interface remembers about allocations that carry a tag
 * or FL_FLAG_RELOCATABLE (for reports, get_allocation_info and, later, defragmentation).
 * Plain allocations have none: their path never touches this table, and deallocate looks
 * here only while at least one record is live.
 *
 * An open-addressing table with linear probing, keyed by pointer, in memory fixed at
 * create (the control part): record_slots is a power of two at least twice max_records,
 * so the load stays at or below one half and a probe ends after a couple of slots on
 * average. Deletion shifts the following entries back (no tombstones), so lookups never
 * degrade however many inserts and deletes pass.
 *
 * Invariant (fli_registry_validate): every live entry is reachable from its home slot
 * through occupied slots only, the entry count is record_count, and each entry names the
 * start of a live allocation of its size.
 */
#include "memory_internal.h"

size_t fli_registry_slots(size_t max_records)
{
    size_t slots = 4;
    while (slots < 2 * max_records) slots *= 2;
    return slots;
}

static size_t home(const fl_memory *m, const void *ptr)
{
    /* Fibonacci hashing of the address without its low (alignment) bits. */
    uint64_t h = (uint64_t)((uintptr_t)ptr >> 3) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (m->record_slots - 1);
}

fli_record *fli_registry_find(fl_memory *m, const void *ptr)
{
    size_t mask = m->record_slots - 1;
    for (size_t i = home(m, ptr);; i = (i + 1) & mask) {
        fli_record *r = &m->records[i];
        if (r->ptr == ptr) return r;
        if (r->ptr == NULL) return NULL;
    }
}

fli_record *fli_registry_insert(fl_memory *m, void *ptr)
{
    size_t mask = m->record_slots - 1;
    size_t i = home(m, ptr);
    while (m->records[i].ptr != NULL) i = (i + 1) & mask;
    fli_record *r = &m->records[i];
    memset(r, 0, sizeof *r);
    r->ptr = ptr;
    m->record_count++;
    return r;
}

/* Empties slot i and moves back any later entry of the same cluster whose home slot does
 * not lie cyclically in (i, j]: it would become unreachable otherwise. */
static void remove_slot(fl_memory *m, size_t i)
{
    size_t mask = m->record_slots - 1;
    size_t j = i;
    for (;;) {
        m->records[i].ptr = NULL;
        for (;;) {
            j = (j + 1) & mask;
            if (m->records[j].ptr == NULL) {
                m->record_count--;
                return;
            }
            size_t k = home(m, m->records[j].ptr);
            bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
            if (!stays) break;
        }
        m->records[i] = m->records[j];
        i = j;
    }
}

void fli_registry_remove(fl_memory *m, const void *ptr)
{
    size_t mask = m->record_slots - 1;
    for (size_t i = home(m, ptr);; i = (i + 1) & mask) {
        if (m->records[i].ptr == ptr) {
            remove_slot(m, i);
            return;
        }
        if (m->records[i].ptr == NULL) return;
    }
}

void fli_registry_remove_range(fl_memory *m, uintptr_t from, uintptr_t to)
{
    for (size_t i = 0; i < m->record_slots && m->record_count != 0;) {
        uintptr_t p = (uintptr_t)m->records[i].ptr;
        if (p != 0 && p >= from && p < to)
            remove_slot(m, i); /* slot i may now hold a moved entry: look at it again */
        else
            i++;
    }
}

void fli_registry_remove_region(fl_memory *m, const fli_region *r)
{
    for (size_t i = 0; i < m->record_slots && m->record_count != 0;) {
        unsigned cls;
        void *p = m->records[i].ptr;
        if (p != NULL && fli_region_of(m, p, &cls) == r)
            remove_slot(m, i);
        else
            i++;
    }
}

fl_status fli_registry_validate(fl_memory *m)
{
    size_t mask = m->record_slots - 1, count = 0;
    for (size_t i = 0; i < m->record_slots; i++) {
        fli_record *rec = &m->records[i];
        if (rec->ptr == NULL) continue;
        count++;
        for (size_t j = home(m, rec->ptr); j != i; j = (j + 1) & mask)
            FLI_VALIDATE(m->records[j].ptr != NULL, "record of %p in slot %zu is unreachable from its home slot",
                         rec->ptr, i);
        unsigned cls;
        fli_region *r = fli_region_of(m, rec->ptr, &cls);
        FLI_VALIDATE(r != NULL, "record of %p names memory this interface does not own", rec->ptr);
        size_t size;
        FLI_VALIDATE(fli_live_size(m, r, cls, rec->ptr, &size) == FL_OK, "record of %p names no live allocation",
                     rec->ptr);
        FLI_VALIDATE(size == rec->size, "record of %p says %zu bytes, the region %zu", rec->ptr, rec->size, size);
        FLI_VALIDATE(rec->type == r->type && rec->allocator == r->strategy, "record of %p names the wrong region",
                     rec->ptr);
    }
    FLI_VALIDATE(count == m->record_count, "%zu records in the table, %zu counted", count, m->record_count);
    return FL_OK;
}
