/*
 * The stack allocator: allocations are freed in the reverse order of their making (LIFO),
 * one at a time or in bulk back to a marker.
 *
 * Complexity: O(1) in every call except validate and walk, which visit every allocation.
 *
 * Memory layout. W = sizeof(size_t). The region starts and ends on a multiple of W and
 * every payload is rounded up to W, so `top` is always a multiple of W. One allocation:
 *
 *        begin                            payload (start + offset, aligned to max(a, W))
 *          v                                  v
 *   ... ---+--------------------+-------------+------------------------+--- ...
 *          | padding p          |   header    | payload, rounded to W  |
 *          | (p % W == 0; when  |   (1 word)  |                        |
 *          |  p > 0 its first   |             |                        |
 *          |  and last words    |             |                        |
 *          |  hold p | 2)       |             |                        |
 *   ... ---+--------------------+-------------+------------------------+--- ...
 *                                                                      ^ next begin (or top)
 *
 * The header holds the offset (from the region start) of the previous allocation's payload,
 * 0 when there is none (real payloads sit at >= W: a header precedes them), with bit 0
 * set when p > 0. The padding, when present, is at least one word, so storing p in it costs
 * nothing: the allocation carries exactly one word of bookkeeping (allocation_overhead W).
 * p sits just before the header (so a free finds where the allocation begins) and at the
 * padding's start (so a rewind can find the header of the allocation that begins at a
 * marker's offset); with p == W the two are the same word. A padding word carries bit 1
 * (PAD_TAG), which no header has, so the first word of an allocation tells which it is.
 * The control block keeps `last`, the offset of the top allocation's payload; freeing it
 * reads its header to restore `top` (= begin) and `last` (= previous). Requests aligned
 * below W are served aligned to W, which satisfies them.
 *
 * An allocation consumes p + W + its rounded size, and allocations tile [0, top) with no
 * gap, so counters.used_bytes == top. The free span [top, capacity) is one piece: an
 * alignment-1 request needs no padding, only its header, so largest_free_block is
 * capacity - top - W (0 when that is not positive) and the fragmentation is reported as 0.
 *
 * Markers are {offset = top, count, last}; a marker stays valid until the stack is popped
 * or rewound below it. rewind() checks in O(1), reading at most five words, that a marker is
 * one of this stack's: word-aligned, not above the top or the count, equal to the state when
 * it is at the current top; otherwise the allocation that begins at its offset must link
 * down to its `last`, whose own header must decode sanely. So a marker whose offset no
 * longer starts an allocation (the stack was popped below it and grew differently) is
 * refused, unless the payload now covering that offset still holds the old header's bytes:
 * stale markers are caught on a best-effort basis only. The count is only bounds-checked
 * (each allocation takes >= 2 words): a marker with a forged count but a true offset and
 * last is not detected (validate then fails).
 *
 * Memory checkers (core/poison.h): [top, capacity) is poisoned; a live allocation's padding
 * and header words are accessible (the allocator reads them), its payload exactly to the
 * request. A marker's words are checked for poison before they are trusted.
 *
 * Invariants (validate): the header chain from `last` down to 0 has strictly decreasing,
 * word-aligned payload offsets; every header's reserved bits are 0; every padding length is
 * a non-zero multiple of W below FL_ALIGN_MAX that fits before its header, stored tagged in
 * the padding's first and last words; each payload is at least one word and ends where the next
 * allocation begins (the top one at `top`); the bottom allocation begins at 0; the chain
 * length equals counters.allocation_count; the consumed bytes sum to counters.used_bytes ==
 * top <= capacity; top == 0 iff last == 0.
 */
#include "allocator.h"


#define WORD (sizeof(size_t))
#define PAD_FLAG ((size_t)1) /* in a header: a padding word precedes it */
#define PAD_TAG ((size_t)2)  /* in a padding word: marks it as one (headers keep bit 1 clear) */
/* Header bits that must be clear: a previous offset is a multiple of WORD (>= 4). */
#define HEADER_RESERVED ((WORD - 1) & ~PAD_FLAG)

typedef struct stack_allocator {
    struct fl_allocator base; /* first: the public handle points here */
    unsigned char *start;     /* the region, WORD-aligned, base.capacity bytes (a multiple of WORD) */
    size_t top;               /* bytes in use: the next allocation begins at start + top */
    size_t last;              /* payload offset of the top allocation; 0 when the stack is empty */
} stack_allocator;

static stack_allocator *as_stack(fl_allocator *a) { return (stack_allocator *)a; }
static const stack_allocator *as_const_stack(const fl_allocator *a) { return (const stack_allocator *)a; }

/* Words are copied, not dereferenced through a cast, so no alignment assumption reaches
 * the compiler; a memcpy of one word compiles to a single load or store. */
static size_t word_at(const stack_allocator *s, size_t offset)
{
    size_t w;
    memcpy(&w, s->start + offset, sizeof w);
    return w;
}

static void set_word(const stack_allocator *s, size_t offset, size_t value)
{
    /* The words live in the managed region, not in the (maybe const) control block. */
    memcpy(s->start + offset, &value, sizeof value);
}

/* Where the allocation whose payload is at `payload` (header `header`) begins. Trusted. */
static size_t begin_of(const stack_allocator *s, size_t payload, size_t header)
{
    size_t begin = payload - WORD;
    if (header & PAD_FLAG) begin -= word_at(s, payload - 2 * WORD) & ~PAD_TAG;
    return begin;
}

/* Decodes a padding word: a tagged, non-zero multiple of WORD below FL_ALIGN_MAX. */
static bool padding_length(size_t word, size_t *pad)
{
    *pad = word & ~PAD_TAG;
    return (word & (WORD - 1)) == PAD_TAG && *pad != 0 && *pad < FL_ALIGN_MAX;
}

static fl_status stack_init(void *memory, size_t size, const fl_allocator_config *cfg, fl_allocator **out)
{
    (void)cfg;
    uintptr_t base = (uintptr_t)memory;
    uintptr_t start = fli_align_up_addr(base + sizeof(stack_allocator), WORD);
    size_t control = (size_t)(start - base);
    /* The smallest useful region holds one header and one word of payload. */
    if (size < control || fli_align_down(size - control, WORD) < 2 * WORD)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "buffer of %zu bytes is too small: the stack control block takes %zu and one "
                        "allocation %zu",
                        size, control, 2 * WORD);
    stack_allocator *s = (stack_allocator *)memory;
    s->start = (unsigned char *)start;
    s->top = 0;
    s->last = 0;
    s->base.capacity = fli_align_down(size - control, WORD);
    FLI_POISON(s->start, s->base.capacity); /* memory checkers: [top, capacity) is free */
    *out = &s->base;
    return FL_OK;
}

static fl_status stack_allocate(fl_allocator *a, size_t size, size_t alignment, void **out)
{
    stack_allocator *s = as_stack(a);
    size_t rounded;
    if (FLI_UNLIKELY(!fli_align_up_checked(size, WORD, &rounded)))
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: size %zu overflows when rounded to the word size %zu",
                        a->name, size, WORD);
    size_t align = alignment < WORD ? WORD : alignment;
    /* Padding that puts the payload (one header word past top) on `align`; a multiple of
     * WORD since start, top and align all are. Unsigned wrap keeps the residue exact. */
    uintptr_t payload_addr = (uintptr_t)(s->start + s->top) + WORD;
    size_t pad = (size_t)((uintptr_t)0 - payload_addr) & (align - 1);
    size_t room = a->capacity - s->top;
    if (FLI_UNLIKELY(pad > room || room - pad < WORD || rounded > room - pad - WORD))
        return fli_fail(FL_ERR_OUT_OF_MEMORY,
                        "%s: %zu bytes aligned to %zu need %zu of padding, a %zu-byte header and %zu of "
                        "payload; %zu bytes are left",
                        a->name, size, alignment, pad, WORD, rounded, room);
    size_t payload = s->top + pad + WORD;
    /* Padding words and header stay accessible while the allocation lives (the allocator
     * reads them); the payload exactly to the request. */
    FLI_UNPOISON(s->start + s->top, pad + WORD + size);
    if (pad != 0) {
        set_word(s, s->top, pad | PAD_TAG);
        set_word(s, payload - 2 * WORD, pad | PAD_TAG);
    }
    set_word(s, payload - WORD, s->last | (pad != 0 ? PAD_FLAG : 0));
    s->last = payload;
    s->top = payload + rounded;
    fli_count_allocation(&a->counters, size, pad + WORD + rounded);
    *out = s->start + payload;
    return FL_OK;
}

/* Why `ptr` is not the top allocation: FL_ERR_INVALID_STATE when it can be a live allocation
 * below the top, FL_ERR_INVALID_PARAMETERS when it cannot be an allocation at all. */
static fl_status not_the_top(const stack_allocator *s, const void *ptr)
{
    const fl_allocator *a = &s->base;
    uintptr_t p = (uintptr_t)ptr, st = (uintptr_t)s->start;
    if (p < st || p - st >= s->top)
        return fli_fail(FL_ERR_INVALID_PARAMETERS, "%s: %p is not a live allocation (the used span is %p + %zu bytes)",
                        a->name, ptr, (void *)s->start, s->top);
    size_t offset = (size_t)(p - st);
    if ((offset & (WORD - 1)) != 0)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "%s: %p is not word-aligned, so it is no allocation's start", a->name, ptr);
    /* top > 0, so there is a top allocation; anything inside its span but its payload is
     * padding, header or interior. */
    size_t top_begin = begin_of(s, s->last, word_at(s, s->last - WORD));
    if (offset >= top_begin)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "%s: %p lies inside the top allocation %p but is not its start", a->name, ptr,
                        (void *)(s->start + s->last));
    return FL_ERR_INVALID_STATE;
}

static fl_status stack_deallocate(fl_allocator *a, void *ptr)
{
    stack_allocator *s = as_stack(a);
    if (FLI_UNLIKELY(s->top == 0 || ptr != (void *)(s->start + s->last))) {
        fl_status why = not_the_top(s, ptr);
        if (why != FL_ERR_INVALID_STATE) return why;
        return fli_fail(FL_ERR_INVALID_STATE, "%s: %p is not the top allocation %p: a stack frees in LIFO order",
                        a->name, ptr, (void *)(s->start + s->last));
    }
    size_t header = word_at(s, s->last - WORD);
    size_t begin = begin_of(s, s->last, header);
    fli_count_deallocation(&a->counters, s->top - begin);
    FLI_POISON(s->start + begin, s->top - begin);
    s->top = begin;
    s->last = header & ~PAD_FLAG;
    return FL_OK;
}

static void stack_reset(fl_allocator *a)
{
    stack_allocator *s = as_stack(a);
    FLI_POISON(s->start, s->top);
    s->top = 0;
    s->last = 0;
}

static bool stack_owns(const fl_allocator *a, const void *ptr)
{
    const stack_allocator *s = as_const_stack(a);
    uintptr_t p = (uintptr_t)ptr, st = (uintptr_t)s->start;
    return p >= st && p - st < a->capacity;
}

static fl_status stack_usable_size(const fl_allocator *a, const void *ptr, size_t *out)
{
    const stack_allocator *s = as_const_stack(a);
    if (s->top != 0 && ptr == (const void *)(s->start + s->last)) {
        *out = s->top - s->last;
        return FL_OK;
    }
    fl_status why = not_the_top(s, ptr);
    if (why != FL_ERR_INVALID_STATE) return why;
    /* Only the allocation above knows where this one ends, and nothing leads to it in O(1). */
    return fli_fail(FL_ERR_NOT_SUPPORTED, "%s: only the top allocation's size is known; %p is below it", a->name,
                    ptr);
}

static size_t stack_largest_free(const fl_allocator *a)
{
    size_t room = a->capacity - as_const_stack(a)->top;
    return room > WORD ? room - WORD : 0;
}

/* The free space is one span; the header word a request needs is overhead, not holes. */
static double stack_fragmentation(const fl_allocator *a)
{
    (void)a;
    return 0.0;
}

/* Follows the header chain from the top, checking every link before trusting it. */
static fl_status check_chain(const stack_allocator *s)
{
    const fl_allocator *a = &s->base;
    const fli_counters *c = &a->counters;
    FLI_VALIDATE(s->start != NULL && ((uintptr_t)s->start & (WORD - 1)) == 0, "%s: region start %p is not word-aligned",
                 a->name, (void *)s->start);
    FLI_VALIDATE((a->capacity & (WORD - 1)) == 0, "%s: capacity %zu is not a multiple of %zu", a->name,
                 a->capacity, WORD);
    FLI_VALIDATE(s->top <= a->capacity && (s->top & (WORD - 1)) == 0,
                 "%s: top %zu is past the capacity %zu or not word-aligned", a->name, s->top, a->capacity);
    FLI_VALIDATE((s->top == 0) == (s->last == 0), "%s: top %zu with top allocation at %zu", a->name, s->top,
                 s->last);
    FLI_VALIDATE(c->used_bytes == s->top, "%s: used bytes %zu differ from top %zu", a->name, c->used_bytes, s->top);

    size_t end = s->top, cur = s->last, count = 0, consumed = 0;
    while (cur != 0) {
        FLI_VALIDATE(count < c->allocation_count, "%s: more allocations in the chain than the %zu counted", a->name,
                     c->allocation_count);
        FLI_VALIDATE((cur & (WORD - 1)) == 0 && cur >= WORD && cur < end && end - cur >= WORD,
                     "%s: allocation %zu at payload offset %zu does not fit below %zu", a->name, count, cur, end);
        size_t header = word_at(s, cur - WORD);
        FLI_VALIDATE((header & HEADER_RESERVED) == 0, "%s: header of the allocation at %zu has reserved bits set (%zu)",
                     a->name, cur, header);
        size_t pad = 0;
        if (header & PAD_FLAG) {
            FLI_VALIDATE(cur >= 2 * WORD, "%s: allocation at %zu has no room for its padding word", a->name, cur);
            size_t word = word_at(s, cur - 2 * WORD);
            FLI_VALIDATE(padding_length(word, &pad) && pad <= cur - WORD,
                         "%s: allocation at %zu has a bad padding word %zu", a->name, cur, word);
            FLI_VALIDATE(word_at(s, cur - WORD - pad) == word,
                         "%s: allocation at %zu: the padding's first word %zu differs from its last %zu", a->name,
                         cur, word_at(s, cur - WORD - pad), word);
        }
        size_t begin = cur - WORD - pad;
        size_t prev = header & ~PAD_FLAG;
        if (prev == 0)
            FLI_VALIDATE(begin == 0, "%s: the bottom allocation at %zu begins at %zu, not 0", a->name, cur, begin);
        else
            FLI_VALIDATE(prev < begin && begin - prev >= WORD,
                         "%s: allocation at %zu links to %zu, which does not end below its start %zu", a->name,
                         cur, prev, begin);
        consumed += end - begin;
        count++;
        end = begin;
        cur = prev;
    }
    FLI_VALIDATE(end == 0, "%s: the chain ends at %zu, not at the region start", a->name, end);
    FLI_VALIDATE(count == c->allocation_count, "%s: %zu allocations in the chain, %zu counted", a->name, count,
                 c->allocation_count);
    FLI_VALIDATE(consumed == c->used_bytes, "%s: allocations consume %zu bytes, %zu counted", a->name, consumed,
                 c->used_bytes);
    return FL_OK;
}

static fl_status stack_validate(const fl_allocator *a) { return check_chain(as_const_stack(a)); }

/*
 * Reports every allocation (padding, header and payload as one block) in address order,
 * then the free span. The chain only links downward, so walk reverses it in place first
 * (pointer reversal: no memory needed) and restores each header on the way up, before
 * calling fn for that block. The chain is checked before anything is written.
 */
static fl_status stack_walk(const fl_allocator *a, fl_walk_fn fn, void *user)
{
    const stack_allocator *s = as_const_stack(a);
    fl_status status = check_chain(s);
    if (status != FL_OK) return status;

    size_t cur = s->last, above = 0;
    while (cur != 0) {
        size_t header = word_at(s, cur - WORD);
        set_word(s, cur - WORD, above | (header & PAD_FLAG));
        above = cur;
        cur = header & ~PAD_FLAG;
    }
    /* `above` is now the bottom allocation; each header names the allocation above it. */
    size_t below = 0;
    cur = above;
    while (cur != 0) {
        size_t header = word_at(s, cur - WORD);
        size_t next = header & ~PAD_FLAG;
        size_t begin = begin_of(s, cur, header);
        set_word(s, cur - WORD, below | (header & PAD_FLAG));
        size_t end = next != 0 ? begin_of(s, next, word_at(s, next - WORD)) : s->top;
        fn(s->start + begin, end - begin, true, user);
        below = cur;
        cur = next;
    }
    if (s->top < a->capacity) fn(s->start + s->top, a->capacity - s->top, false, user);
    return FL_OK;
}

static fl_marker stack_mark(fl_allocator *a)
{
    stack_allocator *s = as_stack(a);
    fl_marker m = {s->top, a->counters.allocation_count, s->last};
    return m;
}

/* A word a marker claims is a header or a padding word: false when it cannot be one because
 * memory checkers see it poisoned (live bookkeeping words never are; a stale marker may
 * point into the unrequested tail of a payload). Without a checker, word_at. */
static bool peek_word(const stack_allocator *s, size_t offset, size_t *w)
{
    if (FLI_IS_POISONED(s->start + offset, WORD)) return false;
    *w = word_at(s, offset);
    return true;
}

/* Does the allocation beginning at `begin` (< top) link down to the payload at `last`? Its
 * first word is its header or, when it is padded, a tagged padding word. */
static bool links_down_to(const stack_allocator *s, size_t begin, size_t last)
{
    if (s->top - begin < 2 * WORD) return false;
    size_t first, pad, w1, w2;
    if (!peek_word(s, begin, &first)) return false;
    if (!(first & PAD_TAG)) return first == last;
    if (!padding_length(first, &pad) || pad > s->top - begin - 2 * WORD) return false;
    return peek_word(s, begin + pad, &w1) && peek_word(s, begin + pad - WORD, &w2) && w1 == (last | PAD_FLAG) &&
           w2 == first;
}

/* Can `m` be a marker of this stack's current state? O(1): it reads at most five words. */
static fl_status check_marker(const stack_allocator *s, fl_marker m)
{
    const fl_allocator *a = &s->base;
    size_t count = a->counters.allocation_count;
    if (m.offset > s->top || m.count > count)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "%s: marker (offset %zu, count %zu) is above the current top %zu with %zu allocations",
                        a->name, m.offset, m.count, s->top, count);
    /* Every allocation consumes at least a header and a word: count * 2W cannot overflow. */
    bool sane = ((m.offset | m.last) & (WORD - 1)) == 0 && m.count * 2 * WORD <= m.offset &&
                (count - m.count) * 2 * WORD <= s->top - m.offset && (m.offset == s->top) == (m.count == count) &&
                (m.offset != s->top || m.last == s->last);
    if (sane && m.offset < s->top && m.offset != 0) sane = links_down_to(s, m.offset, m.last);
    if (sane && m.last == 0) sane = m.offset == 0 && m.count == 0;
    if (sane && m.last != 0) {
        sane = m.count >= 1 && m.last < m.offset && m.offset - m.last >= WORD;
        size_t header = 0, padword = 0;
        sane = sane && peek_word(s, m.last - WORD, &header);
        size_t pad = 0;
        if (sane && (header & HEADER_RESERVED) != 0) sane = false;
        if (sane && (header & PAD_FLAG)) {
            sane = m.last >= 2 * WORD;
            sane = sane && peek_word(s, m.last - 2 * WORD, &padword) && padding_length(padword, &pad) &&
                   pad <= m.last - WORD;
        }
        if (sane) {
            size_t begin = m.last - WORD - pad, prev = header & ~PAD_FLAG;
            sane = prev == 0 ? begin == 0 && m.count == 1 : prev < begin && begin - prev >= WORD && m.count >= 2;
        }
    }
    if (!sane)
        return fli_fail(FL_ERR_INVALID_PARAMETERS,
                        "%s: marker (offset %zu, count %zu, last %zu) was not made by mark() on this stack "
                        "(top %zu, %zu allocations, top allocation at %zu)",
                        a->name, m.offset, m.count, m.last, s->top, count, s->last);
    return FL_OK;
}

static fl_status stack_rewind(fl_allocator *a, fl_marker m)
{
    stack_allocator *s = as_stack(a);
    fl_status status = check_marker(s, m);
    if (status != FL_OK) return status;
    fli_count_bulk_release(&a->counters, a->counters.allocation_count - m.count, s->top - m.offset);
    FLI_POISON(s->start + m.offset, s->top - m.offset);
    s->top = m.offset;
    s->last = m.last;
    return FL_OK;
}

const fli_allocator_ops fli_stack_ops = {
    .init = stack_init,
    .allocate = stack_allocate,
    .deallocate = stack_deallocate,
    .reset = stack_reset,
    .owns = stack_owns,
    .usable_size = stack_usable_size,
    .largest_free = stack_largest_free,
    .fragmentation = stack_fragmentation,
    .validate = stack_validate,
    .walk = stack_walk,
    .mark = stack_mark,
    .rewind = stack_rewind,
    .destroy = NULL,
    .allocation_overhead = WORD,
    .supports_defrag = false,
};
