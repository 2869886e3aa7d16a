#!/usr/bin/env python3.11
"""Workload dict-phases: build big dicts, use them, drop them, repeat.

Each phase builds three dicts of the phase's size -- str keys -> int values,
int keys -> tuple values, tuple keys -> str values -- inserting in a shuffled
order, so the dicts grow through every resize step and every entry owns a few
small objects (short str, int beyond the small-int cache, small tuples).  The
phase then looks entries up, replaces a third of the values, deletes every
fifth key, copies one dict, verifies every surviving entry against values
recomputed from its index, and finally drops everything so that all memory
the phase used becomes free before the next phase starts with another size.

Standard library only; deterministic for a fixed seed.
Set WORKLOAD_STATS=1 to get sys._debugmallocstats() after each phase (stderr).
Set WORKLOAD_SCALE=x (0 < x <= 10, default 1) to scale the dict sizes by x.
"""

import gc
import os
import random
import sys

from workload_scale import read_scale, scale_note

SEED = 20231
# Entries per dict in each phase; different sizes so that each phase ends on
# different dict table sizes and needs a different amount of memory.
PHASE_SIZES = (80_000, 180_000, 30_000, 140_000, 50_000, 110_000)
MASK64 = (1 << 64) - 1
FNV_OFFSET = 0xCBF29CE484222325


def fold(acc, value):
    """Order-dependent 64-bit fold (FNV-1a style) of an int into acc."""
    return ((acc ^ (value & MASK64)) * 0x100000001B3) & MASK64



def str_key(i, salt):
    return f"k{i:07d}.{salt:03d}"


def int_value(i, salt):
    return 1_000_003 + i * 7919 + salt  # always outside the small-int cache


def big_key(i, salt):
    return (i * 2_654_435_761 + salt) & 0xFFFFFFFFFFFF


def tuple_value(i, salt):
    return (i + 1000, f"v{i % 9973:04d}", salt)


def tuple_key(i, salt):
    return (i, i % 97 + salt)


def str_value(i, salt):
    return f"s{i:x}-{i % 31}-{salt}"


def run_phase(rng, size):
    salt = rng.randrange(1000)
    order = list(range(size))
    rng.shuffle(order)

    d_str, d_int, d_tup = {}, {}, {}
    for i in order:
        d_str[str_key(i, salt)] = int_value(i, salt)
        d_int[big_key(i, salt)] = tuple_value(i, salt)
        d_tup[tuple_key(i, salt)] = str_value(i, salt)
    assert len(d_str) == len(d_int) == len(d_tup) == size, "duplicate keys"

    # Use: random lookups, each checked against a recomputed value.
    for _ in range(size // 8):
        i = rng.randrange(size)
        assert d_str[str_key(i, salt)] == int_value(i, salt)
        assert d_int[big_key(i, salt)] == tuple_value(i, salt)
        assert d_tup[tuple_key(i, salt)] == str_value(i, salt)

    # Replace a third of the int values (new objects in, old ones freed).
    for i in range(0, size, 3):
        d_str[str_key(i, salt)] = int_value(i, salt) * 3

    # Delete every fifth key from each dict.
    for i in range(0, size, 5):
        del d_str[str_key(i, salt)]
        del d_int[big_key(i, salt)]
        del d_tup[tuple_key(i, salt)]
    remaining = size - (size + 4) // 5
    assert len(d_str) == len(d_int) == len(d_tup) == remaining

    # A copy gets a fresh, compact table; it must compare equal.
    d_copy = dict(d_int)
    assert d_copy == d_int
    del d_copy

    # Verification, way 1: walk the dicts (insertion order must have been
    # kept through the deletions), check every entry, fold the values.
    acc_got = FNV_OFFSET
    for (i, m), s in d_tup.items():
        assert m == i % 97 + salt
        assert s == str_value(i, salt), (i, s)
        v = d_str[str_key(i, salt)]
        a, b, c = d_int[big_key(i, salt)]
        assert b == f"v{i % 9973:04d}" and c == salt, (i, b, c)
        acc_got = fold(fold(acc_got, v), a)
    # Way 2: the same fold from the shuffled indices alone, ints only.
    acc_expected = FNV_OFFSET
    sum_expected = 0
    for i in order:
        if i % 5:
            v = int_value(i, salt) * (3 if i % 3 == 0 else 1)
            sum_expected += v
            acc_expected = fold(fold(acc_expected, v), i + 1000)
    assert acc_got == acc_expected, (hex(acc_got), hex(acc_expected))
    assert sum(d_str.values()) == sum_expected

    inserted = 3 * size
    del d_str, d_int, d_tup, order
    gc.collect()
    return inserted, acc_got


def main():
    scale = read_scale("dict-phases")
    sizes = [max(1, round(size * scale)) for size in PHASE_SIZES]
    print(f"workload dict-phases: seed {SEED}")
    stats = os.environ.get("WORKLOAD_STATS") == "1"
    rng = random.Random(SEED)
    checksum = FNV_OFFSET
    inserted = 0
    gc.collect()
    blocks_before = sys.getallocatedblocks()
    for phase, size in enumerate(sizes):
        n, acc = run_phase(rng, size)
        inserted += n
        checksum = fold(checksum, acc)
        if stats:
            print(f"dict-phases: after phase {phase} (size {size}): "
                  f"{sys.getallocatedblocks()} blocks allocated", file=sys.stderr)
            sys._debugmallocstats()
    # Everything each phase built was dropped: nearly no blocks may remain.
    leaked = sys.getallocatedblocks() - blocks_before
    assert leaked < 2000, f"{leaked} blocks still allocated after all phases"
    print(f"workload dict-phases: {len(PHASE_SIZES)} phases, "
          f"{inserted:,} dict entries inserted, checksum {checksum:#018x}{scale_note(scale)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
