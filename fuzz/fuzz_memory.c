/*
 * libFuzzer target for the memory interface (fl_memory_*), against a reference model.
 *
 * The first input bytes build a configuration (fuzz/README.md): a small capacity per type
 * (or none), the strategy of each type (AUTO or any of the six), an emergency reserve,
 * max_allocation, max_records, thread_safe, pressure hysteresis (an eighth of each
 * capacity, or none), and either the platform's pages or a caller block (backing_memory,
 * sized by fl_memory_backing_size). A configuration create refuses
 * must be refused with FL_ERR_INVALID_PARAMETERS and *out untouched; then the input ends.
 *
 * Each following byte picks an operation: allocate (the three entry points; sizes from 1
 * byte to hostile ones near SIZE_MAX, alignments 0..FL_ALIGN_MAX and bad ones, every
 * type, flag bit, preferred allocator and bad values of each, tags, FL_FLAG_RELOCATABLE
 * with and without a callback), free of live, freed, interior and foreign pointers,
 * reallocate (grow, shrink, bad pointers), mark and rewind of every type with kept, zero
 * and forged markers, pointer queries, statistics of every kind, trim and gc_hint, JSON
 * dump, pressure callbacks registered and unregistered (the callback frees model blocks
 * from inside the interface's call: re-entry), defragmentation (fm_op_defragment).
 *
 * The model (fm_state) holds every live allocation: address, usable size, region, the
 * order it was made in and a pattern seed. Checks: the status of every call whose outcome
 * the contract fixes (bad input is exactly FL_ERR_INVALID_PARAMETERS; a live pointer frees
 * with FL_OK, or FL_ERR_INVALID_STATE below a stack's top); for the others (OK, out of
 * memory, not supported) the result is checked for what it claims: alignment, usable size,
 * no overlap with any live block, FL_FLAG_ZERO contents, is_valid_pointer. After EVERY step:
 * fl_memory_validate is FL_OK, allocation_count and the lifetime counters equal the
 * model's, used + free == total, the per-type statistics add up to the global ones. Every
 * live block carries a byte pattern checked before it is freed or moved, after trim and
 * at the end; the bytes of live blocks stay poisoned for AddressSanitizer while the
 * library runs, so the interface touching a live payload is caught at once.
 *
 * Complexity: the model is a plain array (at most FM_MAX_LIVE blocks, linear scans): the
 * interface's own costs dominate at these sizes.
 */
#include "fuzz_model.h"

#define FM_MAX_LIVE 384u
#define FM_MARKERS 8u
#define FM_REGIONS 24u

typedef struct fm_block {
    uintptr_t ptr;
    size_t usable;
    int region; /* index in fm_state.regions, -1: platform heap */
    fl_memory_type type;
    fl_allocator_type allocator;
    uint64_t seq; /* allocation order */
    uint8_t seed;
    const char *tag;
} fm_block;

typedef struct fm_marker {
    fl_marker mk;
    fl_memory_type type;
    uint64_t seq;
    bool clean; /* nothing in the region was freed or rewound since: the rewind is exact */
} fm_marker;

typedef struct fm_state {
    fl_memory *m;
    fz_input in;
    fm_block b[FM_MAX_LIVE];
    size_t n;
    uint64_t seq, allocs, frees, failed;
    fl_memory_region regions[FM_REGIONS];
    size_t nregions;
    fm_marker markers[FM_MARKERS];
    size_t nmarkers;
    uintptr_t grave[FZ_GRAVE];
    unsigned graves;
    uint32_t callbacks[4];
    unsigned callback_budget; /* blocks the pressure callback may still free this step */
    unsigned step;
    size_t max_allocation;
    bool in_call;
} fm_state;

static fm_state S;
static const char *const fm_tags[4] = {NULL, "textures", "level/geometry", "a \"quoted\" tag\n"};

/* ---- patterns ------------------------------------------------------------------------------ */

static uint8_t fm_byte(const fm_block *b, size_t i) { return (uint8_t)(b->seed + i * 131u + (i >> 8)); }

static void fm_fill(const fm_block *b)
{
    FZ_UNPOISON(b->ptr, b->usable);
    uint8_t *p = (uint8_t *)b->ptr;
    for (size_t i = 0; i < b->usable; i++) p[i] = fm_byte(b, i);
    FZ_POISON(b->ptr, b->usable);
}

static void fm_verify(const fm_block *b, const char *when)
{
    FZ_UNPOISON(b->ptr, b->usable);
    const uint8_t *p = (const uint8_t *)b->ptr;
    for (size_t i = 0; i < b->usable; i++)
        FZ_CHECK(p[i] == fm_byte(b, i), "%s: byte %zu of the %zu-byte block %p is %u, the pattern says %u", when, i,
                 b->usable, (void *)b->ptr, p[i], fm_byte(b, i));
    FZ_POISON(b->ptr, b->usable);
}

static void fm_verify_all(const char *when)
{
    for (size_t i = 0; i < S.n; i++) fm_verify(&S.b[i], when);
}

/* ---- the model ------------------------------------------------------------------------------ */

static long fm_find(uintptr_t p)
{
    for (size_t i = 0; i < S.n; i++)
        if (S.b[i].ptr == p) return (long)i;
    return -1;
}

static int fm_region_of(uintptr_t p)
{
    for (size_t i = 0; i < S.nregions; i++) {
        uintptr_t base = (uintptr_t)S.regions[i].base;
        if (base != 0 && p >= base && p - base < S.regions[i].size) return (int)i;
    }
    return -1;
}

static int fm_region_of_type(fl_memory_type t)
{
    for (size_t i = 0; i < S.nregions; i++)
        if (S.regions[i].type == t && strcmp(S.regions[i].name, "Emergency reserve") != 0) return (int)i;
    return -1;
}

/* A stack region's blocks free only from the top: the live one with the highest address. */
static bool fm_is_stack_top(const fm_block *b)
{
    if (b->allocator != FL_ALLOCATOR_STACK) return true;
    for (size_t i = 0; i < S.n; i++)
        if (S.b[i].region == b->region && S.b[i].ptr > b->ptr) return false;
    return true;
}

static void fm_taint(int region)
{
    for (size_t i = 0; i < S.nmarkers; i++)
        if (fm_region_of_type(S.markers[i].type) == region) S.markers[i].clean = false;
}

static void fm_bury(uintptr_t p) { S.grave[S.graves++ % FZ_GRAVE] = p; }

/* Drops block i from the model (its memory already went back). */
static void fm_forget(size_t i)
{
    FZ_UNPOISON(S.b[i].ptr, S.b[i].usable);
    fm_bury(S.b[i].ptr);
    fm_taint(S.b[i].region);
    S.b[i] = S.b[--S.n];
}

static void fm_add(const fl_allocation *a, size_t requested, const char *tag, bool zero)
{
    FZ_CHECK(a->ptr != NULL && a->size >= requested, "allocation %p of %zu usable bytes for a %zu-byte request", a->ptr,
             a->size, requested);
    FZ_CHECK(a->alignment != 0 && ((uintptr_t)a->ptr & (a->alignment - 1)) == 0, "%p is not aligned to %zu", a->ptr,
             a->alignment);
    uintptr_t p = (uintptr_t)a->ptr;
    for (size_t i = 0; i < S.n; i++)
        FZ_CHECK(p + a->size <= S.b[i].ptr || S.b[i].ptr + S.b[i].usable <= p,
                 "new block %p+%zu overlaps live block %p+%zu", a->ptr, a->size, (void *)S.b[i].ptr, S.b[i].usable);
    fm_block *b = &S.b[S.n++];
    b->ptr = p;
    b->usable = a->size;
    b->region = fm_region_of(p);
    b->type = a->type;
    b->allocator = a->allocator;
    b->seq = ++S.seq;
    b->seed = (uint8_t)(S.seq * 37u);
    b->tag = tag;
    if (b->allocator != FL_ALLOCATOR_SYSTEM)
        FZ_CHECK(b->region >= 0, "block %p of allocator %s lies in no region", a->ptr,
                 fl_allocator_type_str(b->allocator));
    if (zero) {
        const uint8_t *q = (const uint8_t *)p;
        for (size_t i = 0; i < requested; i++)
            FZ_CHECK(q[i] == 0, "FL_FLAG_ZERO block %p: byte %zu of %zu is %u", a->ptr, i, requested, q[i]);
    }
    fm_fill(b);
}

/* ---- re-entry: pressure and relocation callbacks ------------------------------------------- */

/* Frees the newest freeable blocks from inside the interface's call (it runs the callback
 * outside its lock, so this is allowed), keeping the model in step. */
static void fm_on_pressure(fl_pressure_level level, const fl_pressure_info *info, void *user)
{
    (void)user;
    FZ_CHECK(level >= FL_PRESSURE_LOW && level <= FL_PRESSURE_CRITICAL && info != NULL, "pressure callback level %d",
             (int)level);
    while (S.callback_budget > 0 && S.n > 0) {
        size_t pick = S.n;
        uint64_t newest = 0;
        for (size_t i = 0; i < S.n; i++)
            /* Not stack blocks: the allocation whose pressure rise runs this callback may
             * already sit on top of a stack, and the model learns of it only on return. */
            if (S.b[i].seq > newest && S.b[i].allocator != FL_ALLOCATOR_STACK) newest = S.b[i].seq, pick = i;
        if (pick == S.n) break;
        S.callback_budget--;
        fm_verify(&S.b[pick], "pressure callback, before free");
        FZ_UNPOISON(S.b[pick].ptr, S.b[pick].usable);
        fl_status st = fl_memory_deallocate(S.m, (void *)S.b[pick].ptr);
        fz_record(S.step, "callback free", S.b[pick].ptr, S.b[pick].usable, 0, FL_OK, st);
        FZ_CHECK(st == FL_OK, "a pressure callback's free of live %p: %s", (void *)S.b[pick].ptr, fl_status_str(st));
        S.frees++;
        fm_forget(pick);
    }
}

/* A move defragmentation reports is followed in the model. */
static void fm_on_relocate(void *old_ptr, void *new_ptr, size_t size, void *user)
{
    (void)user;
    long i = fm_find((uintptr_t)old_ptr);
    FZ_CHECK(i >= 0, "relocation of %p, which is not a live block", old_ptr);
    /* size: the block's usable size before the move (a free-list block may have grown in an
     * earlier move), so at least what the model patterned. */
    FZ_CHECK(size >= S.b[i].usable, "relocation of %zu bytes, the block has %zu", size, S.b[i].usable);
    S.b[i].ptr = (uintptr_t)new_ptr;
    S.b[i].region = fm_region_of((uintptr_t)new_ptr);
    fm_verify(&S.b[i], "after relocation");
}

/* ---- decoders ------------------------------------------------------------------------------- */

static size_t fm_size(fz_input *in)
{
    switch (fz_u8(in) % 16u) {
    case 0: return 0;
    case 1: return SIZE_MAX - fz_u8(in);
    case 2: return SIZE_MAX - FL_ALIGN_MAX - 1u + fz_u8(in) % 3u; /* the rounding limit, either side */
    case 3: return 1u + fz_u32(in) % (1u << 20);
    case 4:
    case 5: return 1u + fz_u16(in) % 8192u;
    case 6: return S.max_allocation ? S.max_allocation + (fz_u8(in) % 3u) - 1u : 1u + fz_u16(in);
    default: return 1u + fz_u8(in);
    }
}

static size_t fm_alignment(fz_input *in)
{
    uint8_t v = fz_u8(in);
    if (v < 160) return v % 4u ? (size_t)1 << (v % 8u) : 0;
    if (v < 240) return (size_t)1 << (v % 17u); /* up to FL_ALIGN_MAX */
    static const size_t bad[4] = {3, 24, FL_ALIGN_MAX * 2u, SIZE_MAX};
    return bad[v % 4u];
}

static fl_memory_type fm_type(fz_input *in)
{
    uint8_t v = fz_u8(in);
    if (v < 248) return (fl_memory_type)(v % FL_MEMORY_TYPE_COUNT);
    return v & 1u ? FL_MEMORY_TYPE_COUNT : (fl_memory_type)(200 + v);
}

static fl_memory_flags fm_flags(fz_input *in)
{
    uint8_t v = fz_u8(in);
    if (v >= 250) return (fl_memory_flags)1u << (6u + v % 26u);
    if (v & 0x80u) return (fl_memory_flags)(v & FL_FLAG_ALL);
    return (fl_memory_flags)(v & (FL_FLAG_ZERO | FL_FLAG_TEMPORARY)); /* mostly routable */
}

static fl_allocator_type fm_allocator(fz_input *in)
{
    uint8_t v = fz_u8(in);
    if (v < 192) return FL_ALLOCATOR_AUTO;
    if (v < 252) return (fl_allocator_type)(v % FL_ALLOCATOR_TYPE_COUNT);
    return v & 1u ? FL_ALLOCATOR_TYPE_COUNT : (fl_allocator_type)77;
}

/* A pointer to probe: live, a live one +-1, freed, foreign, NULL-adjacent. */
static uintptr_t fm_probe(fz_input *in)
{
    static unsigned char foreign[32];
    uint8_t v = fz_u8(in);
    uint16_t pick = fz_u16(in);
    switch (v % 6u) {
    case 0: return S.n ? S.b[pick % S.n].ptr : (uintptr_t)foreign;
    case 1: return S.n ? S.b[pick % S.n].ptr + 1u : (uintptr_t)foreign + 1u;
    case 2: return S.n ? S.b[pick % S.n].ptr - 1u : (uintptr_t)foreign;
    case 3: return S.grave[pick % FZ_GRAVE] ? S.grave[pick % FZ_GRAVE] : (uintptr_t)foreign;
    case 4: return S.nregions ? (uintptr_t)S.regions[pick % S.nregions].base + pick : (uintptr_t)foreign;
    default: return (uintptr_t)foreign + (pick % 16u);
    }
}

/* ---- operations ----------------------------------------------------------------------------- */

static bool fm_bad_request(size_t size, size_t alignment, fl_memory_type type, fl_memory_flags flags,
                           fl_allocator_type pref, bool has_callback)
{
    return size == 0 || size > SIZE_MAX - FL_ALIGN_MAX || (alignment & (alignment - 1)) != 0 ||
           alignment > FL_ALIGN_MAX || (unsigned)type >= FL_MEMORY_TYPE_COUNT || (flags & ~FL_FLAG_ALL) != 0 ||
           ((unsigned)pref >= FL_ALLOCATOR_TYPE_COUNT && pref != FL_ALLOCATOR_AUTO) ||
           ((flags & FL_FLAG_RELOCATABLE) && !has_callback) || (S.max_allocation && size > S.max_allocation);
}

static void fm_op_allocate(unsigned how)
{
    fz_input *in = &S.in;
    size_t size = fm_size(in);
    size_t alignment = fm_alignment(in);
    fl_memory_type type = FL_MEMORY_SYSTEM;
    fl_memory_flags flags = 0;
    fl_allocator_type pref = FL_ALLOCATOR_AUTO;
    const char *tag = NULL;
    bool callback = false, waited = false;
    fl_allocation out;
    memset(&out, 0x5A, sizeof out);
    out.ptr = FZ_PTR_UNTOUCHED;
    uint64_t failed_before = S.failed;
    fl_status st;
    const char *what;
    if (how == 0) {
        what = "allocate";
        st = fl_memory_allocate(S.m, size, alignment, &out);
    } else if (how == 1) {
        what = "allocate_typed";
        type = fm_type(in);
        flags = fm_flags(in);
        st = fl_memory_allocate_typed(S.m, size, type, alignment, flags, &out);
        callback = false;
    } else {
        what = "allocate_request";
        type = fm_type(in);
        flags = fm_flags(in);
        pref = fm_allocator(in);
        uint8_t extra = fz_u8(in);
        tag = fm_tags[extra % 4u];
        callback = (extra & 4u) != 0;
        if (extra & 8u) flags |= FL_FLAG_RELOCATABLE;
        fl_alloc_request req = fl_make_allocation_request(size, type, alignment, flags);
        req.preferred_allocator = pref;
        req.allow_fallback = (extra & 16u) != 0;
        req.tag = tag;
        req.on_relocate = callback ? fm_on_relocate : NULL;
        req.timeout_ms = extra & 32u ? 5u : 0u;
        waited = req.timeout_ms != 0;
        st = fl_memory_allocate_request(S.m, &req, &out);
    }
    bool bad = fm_bad_request(size, alignment, type, flags, pref, callback);
    fz_record(S.step, what, 0, size, alignment, bad ? FL_ERR_INVALID_PARAMETERS : FZ_SKIP, st);
    if (bad) {
        FZ_CHECK(st == FL_ERR_INVALID_PARAMETERS, "%s(size %zu, alignment %zu, type %d, flags %#x, allocator %d): %s",
                 what, size, alignment, (int)type, (unsigned)flags, (int)pref, fl_status_str(st));
    } else {
        /* A request with a timeout that nobody satisfies (one thread here) ends in Timeout on
         * a thread-safe interface; the others fail at once. */
        FZ_CHECK(st == FL_OK || st == FL_ERR_OUT_OF_MEMORY || st == FL_ERR_NOT_SUPPORTED ||
                     (waited && st == FL_ERR_TIMEOUT),
                 "%s(size %zu, alignment %zu, type %d): unexpected %s", what, size, alignment, (int)type,
                 fl_status_str(st));
    }
    if (st != FL_OK) {
        FZ_CHECK(out.ptr == FZ_PTR_UNTOUCHED, "a failed %s wrote out.ptr", what);
        if (st == FL_ERR_OUT_OF_MEMORY || st == FL_ERR_TIMEOUT) S.failed = failed_before + 1;
        return;
    }
    S.allocs++;
    size_t want_align = alignment ? alignment : FL_ALIGN_DEFAULT;
    FZ_CHECK(out.alignment == want_align, "%s reported alignment %zu for %zu", what, out.alignment, want_align);
    /* A System request may be served by the Pool, Temporary or Stack region (main memory). */
    if (how == 1 && type != FL_MEMORY_SYSTEM)
        FZ_CHECK(out.type == type, "allocate_typed served type %d for %d", (int)out.type, (int)type);
    FZ_CHECK(fl_memory_is_valid_pointer(S.m, out.ptr), "a fresh allocation %p is not a valid pointer", out.ptr);
    fm_add(&out, size, tag, (flags & FL_FLAG_ZERO) != 0);
    if (tag != NULL) {
        const char *got = NULL;
        fl_status ts = fl_memory_get_allocation_tag(S.m, out.ptr, &got);
        FZ_CHECK(ts == FL_OK || ts == FL_ERR_INVALID_PARAMETERS, "get_allocation_tag: %s", fl_status_str(ts));
        FZ_CHECK(ts != FL_OK || got == tag, "tag of %p is %p, the request gave %p", out.ptr, (const void *)got,
                 (const void *)tag);
    }
}

/* Frees p, whatever it is; the model says what must happen. */
static void fm_op_free(uintptr_t p, const char *what)
{
    long i = fm_find(p);
    fl_status want = FL_ERR_INVALID_PARAMETERS;
    if (p == 0) want = FL_ERR_INVALID_PARAMETERS;
    else if (i >= 0) {
        want = fm_is_stack_top(&S.b[i]) ? FL_OK : FL_ERR_INVALID_STATE;
        fm_verify(&S.b[i], "before free");
        FZ_UNPOISON(S.b[i].ptr, S.b[i].usable);
    }
    fl_status st = fl_memory_deallocate(S.m, (void *)p);
    fz_record(S.step, what, p, 0, 0, want, st);
    FZ_CHECK(st == want, "%s of %p: %s, expected %s", what, (void *)p, fl_status_str(st), fl_status_str(want));
    if (i >= 0 && st == FL_OK) {
        S.frees++;
        fm_forget((size_t)i);
    } else if (i >= 0) {
        FZ_POISON(S.b[i].ptr, S.b[i].usable);
    }
}

static void fm_op_reallocate(void)
{
    fz_input *in = &S.in;
    uintptr_t p = fm_probe(in);
    size_t size = fz_u8(in) & 1u ? fm_size(in) : 1u + fz_u16(in) % 2048u;
    long i = fm_find(p);
    bool bad_size = size == 0 || size > SIZE_MAX - FL_ALIGN_MAX || (S.max_allocation && size > S.max_allocation);
    fl_allocation out;
    memset(&out, 0x5A, sizeof out);
    out.ptr = FZ_PTR_UNTOUCHED;
    if (i >= 0) {
        fm_verify(&S.b[i], "before reallocate");
        FZ_UNPOISON(S.b[i].ptr, S.b[i].usable); /* the interface copies it */
    }
    uint64_t failed_before = S.failed;
    S.callback_budget = 0; /* the old block must survive a failure: no frees from callbacks */
    fl_status st = fl_memory_reallocate(S.m, (void *)p, size, &out);
    fz_record(S.step, "reallocate", p, size, 0, (i < 0 || bad_size) ? FL_ERR_INVALID_PARAMETERS : FZ_SKIP, st);
    if (i < 0 || bad_size) {
        FZ_CHECK(st == FL_ERR_INVALID_PARAMETERS, "reallocate(%p, %zu): %s, expected InvalidParameters", (void *)p,
                 size, fl_status_str(st));
        if (i >= 0) FZ_POISON(S.b[i].ptr, S.b[i].usable);
        return;
    }
    fm_block old = S.b[i];
    if (size <= old.usable) {
        FZ_CHECK(st == FL_OK && out.ptr == (void *)old.ptr && out.size == old.usable,
                 "reallocate(%p, %zu) within its %zu usable bytes: %s, %p", (void *)p, size, old.usable,
                 fl_status_str(st), out.ptr);
        FZ_POISON(old.ptr, old.usable);
        return;
    }
    FZ_CHECK(st == FL_OK || st == FL_ERR_OUT_OF_MEMORY || st == FL_ERR_NOT_SUPPORTED ||
                 (st == FL_ERR_INVALID_STATE && old.allocator == FL_ALLOCATOR_STACK),
             "reallocate(%p, %zu): unexpected %s", (void *)p, size, fl_status_str(st));
    if (st != FL_OK) {
        FZ_CHECK(out.ptr == FZ_PTR_UNTOUCHED, "a failed reallocate wrote out.ptr");
        FZ_CHECK(fl_memory_is_valid_pointer(S.m, (void *)old.ptr), "a failed reallocate freed %p", (void *)old.ptr);
        FZ_POISON(old.ptr, old.usable);
        fm_verify(&S.b[i], "after a failed reallocate");
        /* A Stack block never moves (docs/errors.md, "reallocate below a stack's top"): the
         * refusal comes before any trial allocation, so the counters stay exactly the model's
         * (fm_after_step checks them). */
        FZ_CHECK(st != FL_ERR_INVALID_STATE || old.allocator == FL_ALLOCATOR_STACK,
                 "InvalidState from reallocate of a non-Stack block");
        if (st == FL_ERR_OUT_OF_MEMORY) {
            fl_memory_stats s;
            (void)fl_memory_get_stats(S.m, &s);
            S.failed = s.failed_allocations; /* counted for the type whose route failed */
            FZ_CHECK(S.failed >= failed_before, "failed_allocations went down");
        }
        return;
    }
    FZ_CHECK(out.ptr != (void *)old.ptr, "a moving reallocate returned the same pointer");
    FZ_CHECK(!fl_memory_is_valid_pointer(S.m, (void *)old.ptr) || fm_find((uintptr_t)out.ptr) >= 0,
             "reallocate left the old block %p valid", (void *)old.ptr);
    /* The old bytes moved: check them at the new place before the model forgets them. */
    const uint8_t *q = (const uint8_t *)out.ptr;
    for (size_t k = 0; k < old.usable; k++)
        FZ_CHECK(q[k] == fm_byte(&old, k), "reallocate lost byte %zu of %zu", k, old.usable);
    S.allocs++;
    S.frees++;
    fm_forget((size_t)i);
    fm_add(&out, size, old.tag, false);
}

static void fm_op_mark(void)
{
    fl_memory_type t = fm_type(&S.in);
    fl_marker mk = fl_memory_mark(S.m, t);
    fz_record(S.step, "mark", 0, (size_t)t, mk.offset, -2, -2);
    int r = (unsigned)t < FL_MEMORY_TYPE_COUNT ? fm_region_of_type(t) : -1;
    if (r < 0 || (S.regions[r].allocator != FL_ALLOCATOR_LINEAR && S.regions[r].allocator != FL_ALLOCATOR_STACK)) {
        FZ_CHECK(mk.offset == 0 && mk.count == 0 && mk.last == 0, "mark of type %d without a linear/stack region",
                 (int)t);
        return;
    }
    fm_marker *slot = &S.markers[S.nmarkers < FM_MARKERS ? S.nmarkers++ : (size_t)(S.seq % FM_MARKERS)];
    slot->mk = mk;
    slot->type = t;
    slot->seq = S.seq;
    slot->clean = true;
}

/* Rewind: a kept marker (exact when nothing in its region was freed since it was taken),
 * the zero marker (everything) or a forged one (refused, or frees only newer blocks). */
static void fm_op_rewind(void)
{
    fz_input *in = &S.in;
    uint8_t v = fz_u8(in);
    fl_memory_type t;
    fl_marker mk = {0, 0, 0};
    uint64_t since = 0;
    bool exact = true, forged = false;
    if (v % 3u == 0 && S.nmarkers) {
        fm_marker *k = &S.markers[fz_u8(in) % S.nmarkers];
        t = k->type;
        mk = k->mk;
        since = k->seq;
        exact = k->clean;
    } else if (v % 3u == 1) {
        t = fm_type(in);
    } else {
        t = fm_type(in);
        mk.offset = fz_u32(in) % 65536u;
        mk.count = fz_u8(in);
        mk.last = fz_u32(in) % 65536u;
        forged = true;
        exact = false; /* accepted or not, it may free only blocks of that region */
    }
    int r = (unsigned)t < FL_MEMORY_TYPE_COUNT ? fm_region_of_type(t) : -1;
    bool frame = r >= 0 && (S.regions[r].allocator == FL_ALLOCATOR_LINEAR ||
                            S.regions[r].allocator == FL_ALLOCATOR_STACK);
    for (size_t i = 0; i < S.n; i++) FZ_UNPOISON(S.b[i].ptr, S.b[i].usable); /* re-poisoned below */
    fl_status st = fl_memory_rewind(S.m, t, mk);
    int want = (unsigned)t >= FL_MEMORY_TYPE_COUNT ? FL_ERR_INVALID_PARAMETERS
               : !frame                              ? FL_ERR_NOT_SUPPORTED
               : (forged || !exact)                  ? FZ_SKIP
                                                     : FL_OK;
    fz_record(S.step, forged ? "rewind forged" : "rewind", mk.offset, (size_t)t, since, want, st);
    if (want != FZ_SKIP) FZ_CHECK(st == (fl_status)want, "rewind of type %d: %s, expected %s", (int)t,
                                  fl_status_str(st), fl_status_str((fl_status)want));
    else FZ_CHECK(st == FL_OK || st == FL_ERR_INVALID_PARAMETERS, "rewind: unexpected %s", fl_status_str(st));
    /* Which blocks went: exactly the region's blocks newer than the marker when exact; a
     * subset of them otherwise; none on failure. */
    for (size_t i = 0; i < S.n;) {
        fm_block *b = &S.b[i];
        bool gone = !fl_memory_is_valid_pointer(S.m, (void *)b->ptr);
        bool should = st == FL_OK && b->region == r && b->seq > since;
        if (st != FL_OK || exact) {
            FZ_CHECK(gone == should, "after rewind (%s) block %p (seq %llu, region %d; marker seq %llu, region %d) is %s",
                     fl_status_str(st), (void *)b->ptr, (unsigned long long)b->seq, b->region,
                     (unsigned long long)since, r, gone ? "gone" : "still live");
        } else {
            FZ_CHECK(!gone || should, "a rewind of region %d freed %p (region %d, seq %llu)", r, (void *)b->ptr,
                     b->region, (unsigned long long)b->seq);
        }
        if (gone) {
            S.frees++;
            fm_forget(i);
        } else {
            i++;
        }
    }
    for (size_t i = 0; i < S.n; i++) FZ_POISON(S.b[i].ptr, S.b[i].usable);
    /* Markers above this rewind's point are stale now; they are kept (rewinding to them
     * must be refused, or release only newer blocks of the region: never cut one). */
    if (st == FL_OK && r >= 0) fm_taint(r);
}

static void fm_op_query(void)
{
    uintptr_t p = fm_probe(&S.in);
    long i = fm_find(p);
    bool valid = fl_memory_is_valid_pointer(S.m, (void *)p);
    fz_record(S.step, "is_valid_pointer", p, (size_t)valid, 0, -2, -2);
    FZ_CHECK(valid == (i >= 0), "is_valid_pointer(%p) is %d, the model says %d", (void *)p, (int)valid, (int)(i >= 0));
    fl_allocation info;
    memset(&info, 0x5A, sizeof info);
    fl_status st = fl_memory_get_allocation_info(S.m, (void *)p, &info);
    FZ_CHECK(st == (i >= 0 ? FL_OK : FL_ERR_INVALID_PARAMETERS), "get_allocation_info(%p): %s", (void *)p,
             fl_status_str(st));
    if (i >= 0)
        FZ_CHECK(info.ptr == (void *)p && info.size == S.b[i].usable && info.type == S.b[i].type &&
                     info.allocator == S.b[i].allocator,
                 "get_allocation_info(%p): size %zu type %d allocator %d, the model has %zu %d %d", (void *)p,
                 info.size, (int)info.type, (int)info.allocator, S.b[i].usable, (int)S.b[i].type,
                 (int)S.b[i].allocator);
}

static void fm_json_sink(const char *text, size_t length, void *user)
{
    size_t *total = (size_t *)user;
    if (*total == 0 && length) FZ_CHECK(text[0] == '{', "the JSON dump starts with '%c'", text[0]);
    *total += length;
}

static void fm_op_stats(void)
{
    uint8_t v = fz_u8(&S.in);
    if (v % 4u == 0) {
        size_t total = 0;
        FZ_CHECK(fl_memory_dump_json(S.m, fm_json_sink, &total) == FL_OK && total > 2, "dump_json");
    } else if (v % 4u == 1) {
        fl_memory_type t = fm_type(&S.in);
        fl_pressure_info pi;
        fl_status st = fl_memory_get_pressure(S.m, t, &pi);
        FZ_CHECK(st == ((unsigned)t <= FL_MEMORY_TYPE_COUNT ? FL_OK : FL_ERR_INVALID_PARAMETERS),
                 "get_pressure(%d): %s", (int)t, fl_status_str(st));
    } else {
        for (int a = 0; a <= FL_ALLOCATOR_TYPE_COUNT; a++) {
            fl_allocator_stats as;
            fl_status st = fl_memory_get_allocator_stats(S.m, (fl_allocator_type)a, &as);
            FZ_CHECK(st == FL_OK || st == FL_ERR_NOT_SUPPORTED || (a == FL_ALLOCATOR_TYPE_COUNT &&
                                                                   st == FL_ERR_INVALID_PARAMETERS),
                     "get_allocator_stats(%d): %s", a, fl_status_str(st));
            if (st == FL_OK)
                FZ_CHECK(as.used_bytes + as.free_bytes == as.total_capacity, "allocator %d: used + free != capacity",
                         a);
        }
    }
}

static void fm_op_trim(void)
{
    size_t released = 0;
    uint8_t v = fz_u8(&S.in);
    fl_status st = v & 1u ? fl_memory_gc_hint(S.m) : fl_memory_trim(S.m, &released);
    fz_record(S.step, v & 1u ? "gc_hint" : "trim", 0, released, 0, FL_OK, st);
    FZ_CHECK(st == FL_OK, "trim: %s", fl_status_str(st));
    fm_verify_all("after trim"); /* trim must give back free pages only */
}

static void fm_op_pressure_callback(void)
{
    uint8_t v = fz_u8(&S.in);
    unsigned slot = v % 4u;
    if (S.callbacks[slot]) {
        fl_status st = fl_memory_unregister_pressure_callback(S.m, S.callbacks[slot]);
        FZ_CHECK(st == FL_OK, "unregister %u: %s", S.callbacks[slot], fl_status_str(st));
        S.callbacks[slot] = 0;
        st = fl_memory_unregister_pressure_callback(S.m, 0xFFFFFFF0u + slot);
        FZ_CHECK(st == FL_ERR_INVALID_PARAMETERS, "unregister of an unknown id: %s", fl_status_str(st));
        return;
    }
    fl_pressure_level at = (fl_pressure_level)(1 + (v >> 2) % 4u);
    fl_status st = fl_memory_register_pressure_callback(S.m, at, fm_on_pressure, NULL, &S.callbacks[slot]);
    FZ_CHECK(st == FL_OK && S.callbacks[slot] != 0, "register_pressure_callback: %s", fl_status_str(st));
}

/* Defragmentation's progress: never decreasing, within [0, 1]; the callback re-enters the
 * interface (statistics), as the contract allows. */
static void fm_on_progress(size_t moved, size_t total, double progress, void *user)
{
    (void)moved;
    (void)total;
    double *last = user;
    FZ_CHECK(progress >= *last && progress <= 1.0, "defragment progress %g after %g", progress, *last);
    *last = progress;
    fl_memory_stats g;
    FZ_CHECK(fl_memory_get_stats(S.m, &g) == FL_OK, "get_stats from a progress callback");
}

/* fl_memory_defragment: relocatable blocks move (fm_on_relocate follows them in the model
 * and checks their bytes at the new place), the others stay; progress ends at exactly 1.0;
 * the counts do not change (a move is neither an allocation nor a free: fm_after_step). */
static void fm_op_defragment(void)
{
    for (size_t i = 0; i < S.n; i++) FZ_UNPOISON(S.b[i].ptr, S.b[i].usable); /* the interface copies them */
    uintptr_t before[FM_MAX_LIVE];
    bool movable[FM_MAX_LIVE];
    for (size_t i = 0; i < S.n; i++) {
        before[i] = S.b[i].ptr;
        fl_allocation info;
        movable[i] = fl_memory_get_allocation_info(S.m, (void *)S.b[i].ptr, &info) == FL_OK &&
                     (info.flags & FL_FLAG_RELOCATABLE);
    }
    double last = 0.0;
    fl_defrag_result res;
    fl_status st = fl_memory_defragment(S.m, fm_on_progress, &last, &res);
    fz_record(S.step, "defragment", 0, 0, 0, FL_OK, st);
    FZ_CHECK(st == FL_OK, "defragment: %s", fl_status_str(st));
    FZ_CHECK(last == 1.0, "defragment progress ended at %g", last);
    size_t moved = 0;
    for (size_t i = 0; i < S.n; i++) {
        if (S.b[i].ptr != before[i]) moved++;
        FZ_CHECK(movable[i] || S.b[i].ptr == before[i], "a block without FL_FLAG_RELOCATABLE moved from %p",
                 (void *)before[i]);
    }
    FZ_CHECK(moved == res.allocations_moved, "defragment says %zu moved, the model saw %zu", res.allocations_moved,
             moved);
    /* A free-list block may grow in a move (the hole's rest too small to stand alone joins
     * it; its usable size never shrinks): the model takes the size the interface now
     * reports, the new bytes patterned like the others. */
    for (size_t i = 0; i < S.n; i++) {
        if (S.b[i].ptr == before[i]) continue;
        fl_allocation info;
        FZ_CHECK(fl_memory_get_allocation_info(S.m, (void *)S.b[i].ptr, &info) == FL_OK,
                 "get_allocation_info of moved block %p", (void *)S.b[i].ptr);
        FZ_CHECK(info.size >= S.b[i].usable, "a move shrank %p from %zu to %zu usable bytes", (void *)S.b[i].ptr,
                 S.b[i].usable, info.size);
        if (info.size > S.b[i].usable) {
            uint8_t *q = (uint8_t *)S.b[i].ptr;
            FZ_UNPOISON(q, info.size);
            for (size_t k = S.b[i].usable; k < info.size; k++) q[k] = fm_byte(&S.b[i], k);
            S.b[i].usable = info.size;
        }
    }
    fm_verify_all("after defragment");
}

/* ---- after every step ---------------------------------------------------------------------- */

static void fm_after_step(void)
{
    fl_status v = fl_memory_validate(S.m);
    FZ_CHECK(v == FL_OK, "fl_memory_validate: %s after step %u", fl_status_str(v), S.step);
    fl_memory_stats g, sum;
    memset(&sum, 0, sizeof sum);
    FZ_CHECK(fl_memory_get_stats(S.m, &g) == FL_OK, "get_stats");
    FZ_CHECK(g.allocation_count == S.n, "allocation_count %zu, the model has %zu live", g.allocation_count, S.n);
    FZ_CHECK(g.total_allocations == S.allocs && g.total_deallocations == S.frees,
             "lifetime allocations/deallocations %llu/%llu, the model's %llu/%llu",
             (unsigned long long)g.total_allocations, (unsigned long long)g.total_deallocations,
             (unsigned long long)S.allocs, (unsigned long long)S.frees);
    FZ_CHECK(g.failed_allocations == S.failed, "failed_allocations %llu, the model's %llu",
             (unsigned long long)g.failed_allocations, (unsigned long long)S.failed);
    FZ_CHECK(g.used_bytes + g.free_bytes == g.total_bytes && g.peak_used_bytes >= g.used_bytes,
             "used %zu + free %zu vs total %zu, peak %zu", g.used_bytes, g.free_bytes, g.total_bytes,
             g.peak_used_bytes);
    FZ_CHECK(g.fragmentation_pct >= 0.0 && g.fragmentation_pct <= 100.0 && g.allocation_efficiency >= 0.0 &&
                 g.allocation_efficiency <= 1.0,
             "fragmentation %g %%, efficiency %g", g.fragmentation_pct, g.allocation_efficiency);
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        fl_memory_stats s;
        FZ_CHECK(fl_memory_get_type_stats(S.m, (fl_memory_type)t, &s) == FL_OK, "get_type_stats(%d)", t);
        sum.total_bytes += s.total_bytes;
        sum.used_bytes += s.used_bytes;
        sum.allocation_count += s.allocation_count;
        sum.total_allocations += s.total_allocations;
        sum.total_deallocations += s.total_deallocations;
    }
    FZ_CHECK(sum.total_bytes == g.total_bytes && sum.used_bytes == g.used_bytes &&
                 sum.allocation_count == g.allocation_count && sum.total_allocations == g.total_allocations &&
                 sum.total_deallocations == g.total_deallocations,
             "per-type statistics do not add up to the global ones");
}

/* ---- configuration ------------------------------------------------------------------------- */

static size_t fm_capacity(fz_input *in)
{
    uint8_t v = fz_u8(in);
    if (v % 4u == 0) return 0;
    if (v % 4u == 1) return fz_u16(in); /* often too small for the strategy: refused */
    return 4096u + (size_t)fz_u16(in) * 2u;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(&S, 0, sizeof S);
    fz_trace_count = 0;
    S.in.data = data;
    S.in.size = size;
    fz_input *in = &S.in;

    fl_memory_config cfg;
    FZ_CHECK(fl_memory_config_default(FL_PLATFORM_DREAMCAST, &cfg) == FL_OK, "config_default");
    uint8_t flags = fz_u8(in);
    for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
        cfg.capacity[t] = fm_capacity(in);
        uint8_t s = fz_u8(in);
        cfg.strategy[t] = s < 200 ? FL_ALLOCATOR_AUTO : (fl_allocator_type)(s % (FL_ALLOCATOR_TYPE_COUNT + 1u));
    }
    if (cfg.capacity[FL_MEMORY_SYSTEM] == 0 && !(flags & 0x40u)) cfg.capacity[FL_MEMORY_SYSTEM] = 64u * 1024u;
    cfg.emergency_reserve = flags & 2u ? (size_t)fz_u8(in) * 64u : 0;
    cfg.max_allocation = flags & 4u ? (size_t)fz_u16(in) : 0;
    cfg.max_records = flags & 8u ? 1u + fz_u8(in) % 8u : 0;
    cfg.thread_safe = (flags & 1u) != 0;
    if (flags & 0x20u) {
        /* Pressure hysteresis of an eighth of each capacity (and of their sum): no input
         * byte is read for it, so older inputs keep their meaning. validate() checks the
         * held levels and their bands after every operation. */
        size_t sum = 0;
        for (int t = 0; t < FL_MEMORY_TYPE_COUNT; t++) {
            cfg.pressure[t].hysteresis = cfg.capacity[t] / 8u;
            sum += cfg.capacity[t];
        }
        cfg.total_pressure.hysteresis = sum / 8u;
    }
    void *backing = NULL;
    if (flags & 0x10u) {
        size_t need = 0;
        if (fl_memory_backing_size(&cfg, &need) == FL_OK && need <= (64u << 20)) {
            backing = aligned_alloc(64, (need + 63u) & ~(size_t)63u);
            cfg.backing_memory = backing;
            cfg.backing_size = need;
        }
    }
    fl_memory *m = (fl_memory *)FZ_PTR_UNTOUCHED;
    fl_status st = fl_memory_create(&cfg, &m);
    fz_record(0, "create", 0, flags, cfg.capacity[0], FZ_SKIP, st);
    if (st != FL_OK) {
        if (fz_verbose_flag > 0) fprintf(stderr, "    create refused: %s\n", fl_last_error()->message);
        FZ_CHECK(st == FL_ERR_INVALID_PARAMETERS, "create: %s", fl_status_str(st));
        FZ_CHECK(m == (fl_memory *)FZ_PTR_UNTOUCHED, "a failed create wrote *out");
        free(backing);
        return 0;
    }
    S.m = m;
    S.max_allocation = cfg.max_allocation;
    S.nregions = fl_memory_get_regions(m, S.regions, FM_REGIONS);
    FZ_CHECK(S.nregions <= FM_REGIONS, "%zu regions", S.nregions);
    fm_after_step();

    while (fz_more(in) && S.step < FZ_MAX_STEPS) {
        S.step++;
        S.callback_budget = 4;
        unsigned op = fz_u8(in) % 32u;
        if (op < 12) {
            if (S.n < FM_MAX_LIVE) fm_op_allocate(op % 3u);
        } else if (op < 18) {
            uint16_t pick = fz_u16(in);
            fm_op_free(S.n ? S.b[pick % S.n].ptr : (uintptr_t)0, "free live");
        } else if (op == 18) {
            fm_op_free(S.grave[fz_u8(in) % FZ_GRAVE], "free freed");
        } else if (op == 19) {
            fm_op_free(fm_probe(in), "free probe");
        } else if (op < 22) {
            if (S.n < FM_MAX_LIVE) fm_op_reallocate();
        } else if (op == 22) {
            fm_op_mark();
        } else if (op == 23) {
            fm_op_rewind();
        } else if (op == 24 || op == 25) {
            fm_op_query();
        } else if (op == 26) {
            fm_op_stats();
        } else if (op == 27) {
            fm_op_trim();
        } else if (op == 28) {
            fm_op_pressure_callback();
        } else if (op == 29) {
            fm_op_defragment();
        } else {
            fm_verify_all("verify");
        }
        fm_after_step();
    }

    fm_verify_all("at the end");
    for (size_t i = 0; i < S.n; i++) FZ_UNPOISON(S.b[i].ptr, S.b[i].usable);
    fl_memory_destroy(m); /* live allocations die with it; LeakSanitizer checks the heap ones */
    free(backing);
    return 0;
}
