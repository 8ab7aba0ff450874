#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/*.bin: a handful of small hand-made inputs
per target, spelled in the byte language fuzz_model.h decodes, so the fuzzer starts from
inputs that already reach every operation (and, for buddy and pool, every config branch).

Usage: python3 fuzz/make_seeds.py    (rewrites the corpus directories; deterministic)
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def u16(v):
    return list(struct.pack("<H", v & 0xFFFF))


def u32(v):
    return list(struct.pack("<I", v & 0xFFFFFFFF))


# ---- configuration (fz_config_common): flags, buffer size, misalignment ------------------
FLAG_THREAD_SAFE, FLAG_NAME, FLAG_PAGES = 1, 2, 0x1C


def buffer_size(n):
    """fz_buffer_size: exact encodings for the ranges it decodes."""
    if n < 256:
        return [0, n]
    if n < 256 + 4096:
        return [1] + u16(n - 256)
    if n < 4096 + 65536:
        return [4] + u16(n - 4096)
    return [7] + u32(n - 65536)


def common(size, flags=0, misalign=0):
    return [flags] + buffer_size(size) + [misalign]


# ---- sizes (fz_size) and alignments (fz_alignment) ---------------------------------------
def size(n):
    if n == 0:
        return [0]
    if n <= 64:
        return [1, n - 1]
    if n <= 512:
        return [4] + u16(n - 1)
    return [6] + u16(n - 1)


SIZE_CAPACITY = [8, 0]
SIZE_HUGE = [10, 0]  # SIZE_MAX
SIZE_HALF = [11, 128]  # SIZE_MAX / 2
SIZE_WILD = [14] + [0xFF] * 8
SIZE_NEAR_LARGEST = [13, 3]  # largest_free_block + 1
ALIGN_DEFAULT = [0]
ALIGN_24 = [12, 21]  # not a power of two
ALIGN_TOO_BIG = [15, 0]  # 2 * FL_ALIGN_MAX
ALIGN_SIZE_MAX = [14, 0]


def align(log2):
    return [9, log2]  # 1 << log2, up to 2^16


# ---- operations (fz_run: op byte % 32) -----------------------------------------------------
def alloc(sz, al=ALIGN_DEFAULT):
    return [0] + sz + al


def alloc_small(n):
    return [29, n - 1]


LARGEST, LARGEST_PLUS_ONE = [10], [11]


def free_live(i):
    return [12] + u16(i)


def free_freed(i=0):
    return [17, i]


def probe(kind, index=0, arg=0):
    """fz_probe: [kind] [u16 live-block index] [argument]. Kinds: 0 live, 1 interior (u16
    offset), 2 one past, 3 freed (u8 slot), 4 random in the area (u32), 5 below it (u8),
    6 above it (u8), 7 control block, 8 foreign object (u8), 9 wild (u64), 10 top of the
    address space (u8), 11 words before a block (u8), 12 words into a block (u8)."""
    b = [kind] + u16(index)
    if kind == 1:
        b += u16(arg)
    elif kind == 4:
        b += u32(arg)
    elif kind == 9:
        b += [0x41] * 8
    elif kind in (3, 5, 6, 8, 10, 11, 12):
        b += [arg & 0xFF]
    return b


def free_probe(*p):
    return [18] + probe(*p)


def usable_probe(*p):
    return [20] + probe(*p)


def owns_probe(*p):
    return [21] + probe(*p)


RESET, VERIFY, MARK, WALK, NULLS = [22, 1], [22, 0], [23], [26], [28]


def rewind_kept(i=0):
    return [24, i]


def rewind_forged(kind, arg=0, kept=None):
    """fz_forged_marker: [from kept?] [kept index] [delta] [kind] [kind's argument]; from a
    kept marker or the current state; kind 0/1 offset +/-, 2/3 count +/-, 4/5 last +/-,
    9 all SIZE_MAX, 10 a block's begin (u16 index)."""
    b = [25, 1 if kept is not None else 0, kept or 0, arg, kind]
    if kind in (6, 7, 8):
        b += [0x22] * 8
    elif kind == 10:
        b += u16(1)
    elif kind == 11:
        b += u16(64) + [1] + u16(8)
    return b


def usable_live(i):
    return [27] + u16(i)


def probes_everywhere():
    ops = []
    for k in range(13):
        ops += free_probe(k, 1, 5)
        ops += usable_probe(k, 0, 2)
        ops += owns_probe(k, 0, 1)
    return ops


def basic_ops():
    ops = alloc(size(24)) + alloc(size(100), align(6)) + alloc(size(1), align(0)) + alloc(size(300), align(4))
    ops += alloc_small(48) + WALK + usable_live(1) + usable_live(3) + owns_probe(1, 0, 7)
    ops += free_live(2) + free_live(0) + free_freed(0) + WALK + alloc(size(64)) + NULLS + VERIFY
    return ops


def hostile_ops():
    ops = alloc(size(0)) + alloc(SIZE_HUGE) + alloc(SIZE_HALF) + alloc(SIZE_WILD) + alloc(SIZE_CAPACITY)
    ops += alloc(size(16), ALIGN_24) + alloc(size(16), ALIGN_TOO_BIG) + alloc(size(16), ALIGN_SIZE_MAX)
    ops += alloc(size(8), align(16)) + alloc(size(40), align(12)) + alloc_small(8) + alloc_small(200)
    ops += probes_everywhere() + free_live(0) + free_freed(0) + free_freed(0) + WALK
    return ops


def relocate_live(i):
    """op 31: [u16 live-block index] [mode: not a multiple of 4 picks a live block]."""
    return [31] + u16(i) + [1]


def relocate_probe(*p):
    return [31] + u16(0) + [0] + probe(*p)


def fill_ops():
    ops = []
    for i in range(40):
        ops += alloc_small(1 + (i * 37) % 250)
    ops += LARGEST + LARGEST_PLUS_ONE + alloc(SIZE_NEAR_LARGEST) + WALK
    # Holes, then compaction: relocate the live blocks in increasing address order (the
    # model keeps them sorted), then hostile relocations: interior, freed, foreign.
    for i in (1, 4, 6):
        ops += free_live(i)
    for i in range(28):
        ops += relocate_live(i)
    ops += relocate_probe(1, 0, 3) + relocate_probe(3) + relocate_probe(8, 0, 4) + WALK
    for i in range(0, 40, 3):
        ops += free_live(i % 20)
    ops += LARGEST + WALK + RESET + LARGEST + LARGEST_PLUS_ONE + WALK
    return ops


def marker_ops():
    ops = MARK + alloc(size(16)) + alloc(size(33), align(5)) + MARK + alloc(size(7)) + alloc(size(200), align(7))
    ops += MARK + alloc_small(10) + rewind_kept(1) + WALK + alloc(size(50)) + rewind_kept(2) + rewind_kept(0)
    ops += alloc(size(16)) + alloc(size(16)) + MARK + free_live(1) + rewind_forged(0, 3) + rewind_forged(1, 7)
    ops += rewind_forged(2, 0) + rewind_forged(3, 0) + rewind_forged(4, 8) + rewind_forged(5, 1)
    ops += rewind_forged(9) + rewind_forged(10) + rewind_forged(0, 0, kept=0) + rewind_kept(3)
    ops += RESET + rewind_kept(1) + rewind_kept(2) + MARK + rewind_forged(2, 0, kept=4) + WALK
    return ops


def lifo_ops():
    ops = []
    for n in (8, 24, 64, 5, 130):
        ops += alloc(size(n), align(n % 9))
    ops += free_live(0) + free_live(4) + free_live(3) + usable_live(2) + usable_live(0)
    ops += free_probe(11, 2, 0) + free_probe(12, 1, 1) + rewind_forged(11) + free_live(2) + free_live(1) + free_live(0) + WALK
    return ops


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    for name, data in seeds.items():
        with open(os.path.join(d, name + ".bin"), "wb") as f:
            f.write(bytes(data))


def caller_buffer_seeds(extra):
    seeds = {
        "basic": common(4096) + basic_ops(),
        "hostile": common(2000, FLAG_NAME, 5) + hostile_ops(),
        "fill": common(3000, FLAG_THREAD_SAFE) + fill_ops(),
        "pages": common(20000, FLAG_PAGES | FLAG_NAME) + basic_ops() + fill_ops(),
        "tiny": common(40) + alloc_small(1) + LARGEST,
    }
    seeds.update(extra)
    return seeds


def pool_config(block_size_enc, block_align_enc):
    return block_size_enc + block_align_enc


def main():
    write("linear", caller_buffer_seeds({"markers": common(4096, 0, 3) + marker_ops()}))
    write("stack", caller_buffer_seeds({"markers": common(4096, 0, 8) + marker_ops(),
                                        "lifo": common(2048) + lifo_ops()}))
    write("freelist", caller_buffer_seeds({"lifo": common(70000) + lifo_ops() + fill_ops()}))

    # pool: block_size then block_alignment after the common bytes (fuzz_pool.c).
    bs24, bs_zero, bs_big = [5] + u16(23), [0], [8, 0]
    al_default, al_64, al_bad = [0], [3, 6], [7, 10]
    write("pool", {
        "basic": common(4096) + bs24 + al_default + basic_ops(),
        "aligned": common(8192, FLAG_THREAD_SAFE, 7) + bs24 + al_64 + fill_ops(),
        "hostile": common(3000, FLAG_NAME) + [1, 5] + al_default + hostile_ops(),
        "small_blocks": common(300) + [1, 0] + [3, 0] + fill_ops(),
        "bad_size": common(4096) + bs_zero + al_default,
        "bad_align": common(4096) + bs24 + al_bad,
        "overflow": common(4096) + bs_big + al_64,
    })

    # buddy: mode byte (bit 0: external) first (fuzz_buddy.c).
    mb_default, mb_8, mb_16, mb_bad = [0], [2, 0], [2, 1], [9, 3]
    write("buddy", {
        "in_band": [0] + common(8192) + mb_default + basic_ops(),
        "in_band_small_units": [0] + common(5000, FLAG_THREAD_SAFE) + mb_8 + fill_ops(),
        "in_band_hostile": [0] + common(70000, FLAG_NAME) + mb_16 + hostile_ops(),
        "in_band_bad_min_block": [0] + common(4096) + mb_bad,
        # external: flags, managed size, base offset index, min_block, control misalign, control kind
        "external": [1, 0] + buffer_size(8192) + [0] + mb_default + [0, 4] + basic_ops(),
        "external_odd_base": [1, 0] + buffer_size(3000) + [1] + mb_8 + [3, 5] + fill_ops(),
        "external_base_8": [1, FLAG_NAME] + buffer_size(4096) + [2] + mb_16 + [0, 3, 10, 0] + hostile_ops(),
        "external_pages": [1, FLAG_THREAD_SAFE] + buffer_size(10000) + [5] + mb_default + [0, 1] + basic_ops(),
        "external_short": [1, 0] + buffer_size(4096) + [0] + mb_default + [9, 0],
        "external_overlap": [1, 0] + buffer_size(4096) + [3] + mb_default + [0, 2],
        # 15 bytes at page + 1 (one unit of 8); the control buffer given at the same address
        # lands, once aligned, one past the range: adjacent, not overlapping, so accepted.
        "external_adjacent": [1, 0] + buffer_size(15) + [1] + mb_8 + [0, 2] + fill_ops(),
    })

    # system: flags (bits 2..5: 0 buffer given, 1 budget 0), then the budget (fuzz_system.c).
    def budget(n):
        return u32(n - 4096)
    write("system", {
        "basic": [0x08] + budget(1 << 20) + basic_ops(),
        "hostile": [0x08 | FLAG_NAME] + budget(300000) + hostile_ops(),
        "fill": [0x08 | FLAG_THREAD_SAFE] + budget(8192) + fill_ops(),
        "large": [0x08] + budget(2 << 20) + alloc(size(4000), align(13)) + alloc([7] + u32(300000))
        + alloc(size(100), align(16)) + WALK + usable_live(0) + usable_live(1) + free_live(1) + RESET,
        "buffer_given": [0x00] + budget(4096),
        "no_budget": [0x04] + budget(4096),
    })


# ---- the memory interface (fuzz_memory.c) ------------------------------------------------
# Configuration: flags (1 thread_safe, 2 reserve, 4 max_allocation, 8 max_records,
# 0x10 backing_memory, 0x40 no default System), then per type a capacity ([0] none,
# [2]+u16(k): 4096 + 2k bytes) and a strategy byte (< 200 AUTO; s >= 200: s % 7, where 6
# is no strategy at all: create refuses it).
M_TS, M_RESERVE, M_MAXALLOC, M_RECORDS, M_BACKING = 1, 2, 4, 8, 0x10
SYSTEM, VIDEO, AUDIO, NETWORK, SHARED, TEMPORARY, STACK, POOL = range(8)


def m_cap(nbytes, strategy=None):
    enc = [0] if nbytes == 0 else [2] + u16((nbytes - 4096) // 2)
    if strategy is None:
        return enc + [0]
    return enc + [next(s for s in range(200, 256) if s % 7 == strategy)]


def m_config(flags, caps, reserve=None, max_alloc=None, records=None):
    out = [flags]
    for c in caps:
        out += m_cap(*c) if isinstance(c, tuple) else m_cap(c)
    if flags & M_RESERVE:
        out += [reserve]
    if flags & M_MAXALLOC:
        out += u16(max_alloc)
    if flags & M_RECORDS:
        out += [records]
    return out


def m_size(n):
    if n <= 256:
        return [7, n - 1]
    return [4] + u16(n - 1)


M_ALIGN0, M_ALIGN16 = [0], [174]  # below 160: v % 4 != 0 gives 1 << (v % 8), else 0
M_ALIGN4096 = [165]   # 160..239: 1 << (v % 17)


def m_alloc(n, al=M_ALIGN0):
    return [0] + m_size(n) + al


def m_typed(n, t, flags=0, al=M_ALIGN0):
    return [1] + m_size(n) + al + [t, flags]


def m_request(n, t, flags=0, pref=0, extra=0, al=M_ALIGN0):
    return [2] + m_size(n) + al + [t, flags, pref, extra]


def m_free_live(i):
    return [12] + u16(i)


M_FREE_FREED = [18, 0]


def m_probe(kind, i=0):
    return [kind] + u16(i)


def m_realloc_live(i, n):
    return [20] + m_probe(0, i) + [0] + u16(n - 1)


def m_mark(t):
    return [22, t]


def m_rewind_kept(i=0):
    return [23, 0, i]


def m_rewind_zero(t):
    return [23, 1, t]


M_STATS = [26, 0, 26, 2, 26, 1, 0]
M_TRIM = [27, 0, 27, 1]
M_VERIFY = [30]


def memory_seeds():
    dc = [(65536,), (32768,), (16384,), 0, 0, (16384,), (16384,), (32768,)]
    basic = (m_alloc(100) + m_alloc(3000, M_ALIGN16) + m_typed(64, POOL) + m_typed(5000, VIDEO, 0, M_ALIGN4096)
             + m_typed(200, AUDIO) + m_free_live(0) + M_FREE_FREED + m_realloc_live(0, 900) + [24] + m_probe(0)
             + [25] + m_probe(1) + [19] + m_probe(2) + M_STATS + M_TRIM + M_VERIFY + [29])
    frames = (m_mark(TEMPORARY) + m_typed(100, TEMPORARY) + m_typed(300, TEMPORARY) + m_mark(TEMPORARY)
              + m_typed(50, TEMPORARY) + m_rewind_kept(1) + m_rewind_kept(0) + m_mark(STACK) + m_typed(40, STACK)
              + m_typed(80, STACK) + m_free_live(0) + m_rewind_kept(0) + m_rewind_zero(TEMPORARY)
              + m_request(64, SYSTEM, 8, 0, 0) + m_request(64, SYSTEM, 0, 1, 0) + m_request(64, SYSTEM, 0, 5, 0)
              + [23, 2, TEMPORARY] + u32(16) + [1] + u32(0))
    hostile = ([0, 1, 0, 0, 2, 1, 0, 0, 4] + u16(0xFFFF) + [0, 7, 0, 255] + m_typed(10, 8) + m_typed(10, 255)
               + [1, 7, 9, 0, 0, 255] + m_request(10, 0, 0x20, 0, 0) + m_request(10, 0, 0x20, 0, 4)
               + m_request(10, 0, 0, 255, 0) + m_realloc_live(0, 1) + [20, 5, 0, 0, 0] + u16(1)
               + [22, 255] + [23, 1, 255] + [19] + m_probe(4, 7) + M_STATS)
    pressure = ([28, 4] + [28, 13] + sum((m_alloc(900) for _ in range(24)), [])
                + m_request(2000, SYSTEM, 0x10, 0, 16) + [28, 0] + M_STATS)
    records = (m_request(32, SYSTEM, 0, 0, 1) + m_request(32, SYSTEM, 0, 0, 2) + m_request(32, SYSTEM, 0x20, 0, 12)
               + m_realloc_live(0, 700) + [24] + m_probe(0) + m_free_live(0) + M_STATS)
    strategies = [(65536, 5), (32768, 4), (16384, 3), (16384, 1), 0, (16384, 0), (65536, 2), (32768, 1)]
    write("memory", {
        "dreamcast_basic": m_config(0, dc) + basic,
        "backing_thread_safe": m_config(M_TS | M_BACKING, dc) + basic + frames,
        "frames": m_config(0, dc) + frames,
        "hostile": m_config(M_MAXALLOC, dc, max_alloc=20000) + hostile,
        "pressure": m_config(M_RESERVE, [(8192,), 0, 0, 0, 0, 0, 0, 0], reserve=16) + pressure,
        "records": m_config(M_RECORDS, dc, records=2) + records,
        "strategies": m_config(0, strategies) + basic + frames,
        "shared": m_config(0, [(16384,), 0, 0, 0, (16384,), 0, 0, 0]) + m_typed(100, SHARED) + M_TRIM + M_STATS,
    })


if __name__ == "__main__":
    main()
    memory_seeds()
