#!/usr/bin/env python3.11
"""Workload small-lists: lists of many small objects, grown, sliced, sorted,
and freed in an order different from the one they were made in.

Each phase appends n elements one at a time to five lists: ints outside the
small-int cache, floats, 2-tuples, instances of a class with __slots__ and
instances of a plain class (with an instance __dict__).  It then slices the
lists, concatenates and extends them, packs runs of them into tuples built
from generators (each such tuple is resized as it grows), sorts them, and
frees the elements in an interleaved order: every other element first, then
a middle block, then the rest from the end, checking the survivors after
every step against values regenerated from the phase seed.  Phases use
different sizes.

Standard library only; deterministic for a fixed seed.
Set WORKLOAD_STATS=1 to get sys._debugmallocstats() after each phase (stderr).
Set WORKLOAD_SCALE=x (0 < x <= 10, default 1) to scale the list lengths by x.
"""

import gc
import itertools
import math
import operator
import os
import random
import sys

from workload_scale import read_scale, scale_note

SEED = 7411
PHASE_SIZES = (60_000, 150_000, 25_000, 110_000, 80_000)
MASK64 = (1 << 64) - 1


class Slotted:
    __slots__ = ("x", "k")

    def __init__(self, x, k):
        self.x = x
        self.k = k


class Plain:
    def __init__(self, k, a, f):
        self.k = k
        self.a = a
        self.f = f
        self.tag = None


def fold_all(acc, values):
    for v in values:
        acc = ((acc ^ (v & MASK64)) * 0x100000001B3) & MASK64
    return acc



def generate(seed, n):
    """The phase's raw values, as (int, float) pairs; used twice."""
    rng = random.Random(seed)
    return [(rng.randrange(1_000, 1 << 40), rng.random() * 1e6) for _ in range(n)]


def is_sorted(seq, key=None, reverse=False):
    if key is not None:
        seq = map(key, seq)
    op = operator.ge if reverse else operator.le
    return all(op(a, b) for a, b in itertools.pairwise(seq))


def run_phase(seed, n):
    made = 0
    rng = random.Random(seed)
    ints, floats, tuples, slotted, plain = [], [], [], [], []
    for k in range(n):
        a = rng.randrange(1_000, 1 << 40)
        f = rng.random() * 1e6
        ints.append(a)
        floats.append(f)
        tuples.append((a, k))
        slotted.append(Slotted(a, k))
        plain.append(Plain(k, a, f))
    made += 5 * n  # int, float, tuple, Slotted, Plain

    # The second way: regenerate the raw values from the seed.
    expected = generate(seed, n)
    exp_ints = [a for a, _ in expected]
    exp_floats = [f for _, f in expected]
    made += 3 * n  # (int, float) pairs
    assert len(ints) == len(floats) == len(tuples) == len(slotted) == len(plain) == n
    assert ints == exp_ints
    assert math.fsum(floats) == math.fsum(exp_floats)
    total = sum(exp_ints)

    # Slices and concatenation.
    evens, odds = ints[::2], ints[1::2]
    assert len(evens) + len(odds) == n and sum(evens) + sum(odds) == total
    middle = tuples[n // 4: 3 * n // 4]
    assert [t[1] for t in middle] == list(range(n // 4, 3 * n // 4))
    joined = evens + odds
    joined.extend(x + 1 for x in evens)  # growth by extend from a generator
    made += len(evens)
    assert sum(joined) == total + sum(evens) + len(evens)
    # Tuples built from generators (length unknown in advance): the tuple
    # object is resized, i.e. reallocated, as it grows past 10 items.
    packed = []
    j = 0
    while j < n:
        w = rng.randrange(1, 80)
        packed.append(tuple(x for x in ints[j:j + w]))
        j += w
    made += len(packed)
    assert sum(map(len, packed)) == n
    assert sum(sum(t) for t in packed) == total
    assert [x for t in packed for x in t] == exp_ints
    del evens, odds, middle, joined, packed

    # Sorting (merges allocate a temporary array; keys make tuples of keys).
    ints.sort()
    floats.sort(reverse=True)
    tuples.sort()
    slotted.sort(key=operator.attrgetter("x"))
    plain.sort(key=lambda p: (p.f, p.k))
    assert is_sorted(ints) and is_sorted(floats, reverse=True)
    assert is_sorted(tuples)
    assert is_sorted(slotted, key=operator.attrgetter("x"))
    assert is_sorted(plain, key=operator.attrgetter("f"))
    exp_sorted = sorted(exp_ints)
    assert ints == exp_sorted
    assert [s.x for s in slotted] == exp_sorted
    assert [t[0] for t in tuples] == exp_sorted

    # Mutate some instances: the plain ones get a new attribute value each.
    for p in plain[::3]:
        p.tag = f"t{p.k}"
    made += (n + 2) // 3

    # Free in an order different from creation and from sorted order.
    # 1. every other element
    del ints[::2]
    del slotted[1::2]
    del tuples[::2]
    del plain[1::2]
    del floats[2::3]
    assert ints == exp_sorted[1::2]
    assert [s.x for s in slotted] == exp_sorted[::2]
    assert sum(t[0] for t in tuples) == sum(exp_sorted[1::2])
    assert len(plain) == (n + 1) // 2 and len(floats) == n - n // 3
    exp_fdesc = sorted(exp_floats, reverse=True)
    del exp_fdesc[2::3]
    assert floats == exp_fdesc
    exp_plain = sorted(range(n), key=lambda k: (exp_floats[k], k))[::2]
    assert [p.k for p in plain] == exp_plain
    assert all(p.a == exp_ints[p.k] and p.tag in (None, f"t{p.k}") for p in plain)
    del exp_fdesc, exp_plain
    # 2. a middle block of what is left
    m = len(ints)
    lo, hi = m // 3, 2 * m // 3
    del ints[lo:hi]
    del slotted[lo:hi]
    assert ints == exp_sorted[1::2][:lo] + exp_sorted[1::2][hi:]
    # 3. the rest from the end, in chunks, checking the running sums
    remaining = sum(ints)
    while ints:
        chunk = ints[-997:]
        del ints[-997:]
        remaining -= sum(chunk)
        assert remaining == sum(ints)
    assert remaining == 0
    for lst in (slotted, tuples, plain, floats):
        while lst:
            lst.pop()
    for p in [Plain(k, k + 1000, 0.5) for k in range(1000)]:
        assert p.a - p.k == 1000
    made += 2000

    checksum = fold_all(0xCBF29CE484222325, exp_sorted[::97])
    del expected, exp_ints, exp_floats, exp_sorted
    gc.collect()
    return made, checksum


def main():
    scale = read_scale("small-lists")
    sizes = [max(1, round(n * scale)) for n in PHASE_SIZES]
    print(f"workload small-lists: seed {SEED}")
    stats = os.environ.get("WORKLOAD_STATS") == "1"
    master = random.Random(SEED)
    total_made = 0
    checksum = 0
    gc.collect()
    blocks_before = sys.getallocatedblocks()
    for phase, n in enumerate(sizes):
        made, cs = run_phase(master.randrange(1 << 32), n)
        total_made += made
        checksum = (checksum * 31 + cs) & MASK64
        if stats:
            print(f"small-lists: after phase {phase} (n {n}): "
                  f"{sys.getallocatedblocks()} blocks allocated", file=sys.stderr)
            sys._debugmallocstats()
    leaked = sys.getallocatedblocks() - blocks_before
    assert leaked < 2000, f"{leaked} blocks still allocated after all phases"
    print(f"workload small-lists: {len(PHASE_SIZES)} phases, "
          f"{total_made:,} objects made, checksum {checksum:#018x}{scale_note(scale)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
