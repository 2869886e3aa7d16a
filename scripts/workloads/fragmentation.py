#!/usr/bin/env python3.11
"""Workload fragmentation: one surviving object per arena-sized stride.

The scenario of Evan Jones' pymalloc arena measurements: allocate enough
small objects to fill many 1 MiB arenas, then drop all of them except one per
1 MiB of allocations.  With pymalloc each survivor keeps its whole arena
alive, so almost no memory can be given back to the OS although almost all
objects are dead.  The survivors are checked, a second batch of the same
size is allocated (it should reuse the free space in the held arenas) and
checked together with the survivors, and then everything is dropped.

Three rounds, with different kinds of objects and block sizes:
  str15   15-character ASCII str, 64 bytes each (sys.getsizeof) -> 64-byte blocks
  float   float, 24 bytes each                                  -> 32-byte blocks
  tuple2  2-tuple of cached small ints, 56 bytes each including
          the GC header (a GC-tracked container)                -> 64-byte blocks
The stride is 1 MiB divided by the block size, so that the objects kept are
about 1 MiB of allocations apart.

Standard library only; deterministic.  Set WORKLOAD_STATS=1 to get
sys._debugmallocstats() and the process RSS at each step (stderr).
Set WORKLOAD_SCALE=x (0 < x <= 10, default 1) to scale the number of objects
per round by x; the stride stays the same (one survivor per 1 MiB) and a
round never allocates less than MIN_ROUND_BYTES (8 MiB) per batch.
"""

import gc
import os
import sys
import zlib

from workload_scale import read_scale, scale_note

SEED = 0  # no randomness is used; printed for uniformity with the others
ARENA_SIZE = 1 << 20
ALIGNMENT = 16  # pymalloc's size-class granularity on 64-bit CPython 3.11
MIN_ROUND_BYTES = 8 * ARENA_SIZE  # lower bound per batch at small WORKLOAD_SCALE

STATS = os.environ.get("WORKLOAD_STATS") == "1"


def make_str(i):
    return f"{i:015d}"


def make_float(i):
    return i * 0.5 + 0.25  # exact in binary for every i used here


def make_tuple(i):
    return (i % 251, i // 251 % 251)  # small ints are cached: one block each


# name, maker, number of objects in the first batch
ROUNDS = (
    ("str15", make_str, 2_000_000),
    ("float", make_float, 3_600_000),
    ("tuple2", make_tuple, 2_000_000),
)



def block_size(obj):
    size = sys.getsizeof(obj)
    return (size + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def rss_kib():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except OSError:
        return -1


def report(label):
    if STATS:
        gc.collect()
        print(f"fragmentation: {label}: rss {rss_kib()} KiB, "
              f"{sys.getallocatedblocks()} blocks allocated", file=sys.stderr)
        sys._debugmallocstats()
        sys.stderr.flush()


def check_survivors(name, make, survivors, stride):
    for k, obj in enumerate(survivors):
        assert obj == make(k * stride), f"{name}: survivor {k} corrupted: {obj!r}"


def run_round(name, make, n, scale=1.0):
    block = block_size(make(n))
    stride = ARENA_SIZE // block
    # At least MIN_ROUND_BYTES of blocks, i.e. several arenas and survivors
    # (no effect at scale 1).
    n = max(round(n * scale), -(-MIN_ROUND_BYTES // block))
    made = 0

    objs = [make(i) for i in range(n)]
    made += n
    assert len(objs) == n
    report(f"{name}: {n} objects of {block} bytes allocated")

    survivors = objs[::stride]
    del objs  # frees everything but one object per `stride`
    expected_survivors = (n + stride - 1) // stride
    assert len(survivors) == expected_survivors
    check_survivors(name, make, survivors, stride)
    report(f"{name}: all but {len(survivors)} dropped (stride {stride})")

    # Allocate again; the new objects must not overwrite the survivors.
    again = [make(n + i) for i in range(n)]
    made += n
    check_survivors(name, make, survivors, stride)
    assert len(again) == n
    for i, obj in enumerate(again):
        assert obj == make(n + i), f"{name}: object {i} of batch 2 corrupted: {obj!r}"
    report(f"{name}: second batch of {n} allocated")

    crc = 0
    for obj in survivors:
        crc = zlib.crc32(repr(obj).encode("ascii"), crc)
    kept = len(survivors)
    del again, survivors
    gc.collect()
    report(f"{name}: everything dropped")
    return made, kept, crc


def main():
    scale = read_scale("fragmentation")
    print(f"workload fragmentation: seed {SEED}")
    gc.collect()
    blocks_before = sys.getallocatedblocks()
    total_made = 0
    total_kept = 0
    checksum = 0
    parts = []
    for name, make, n in ROUNDS:
        made, kept, crc = run_round(name, make, n, scale)
        total_made += made
        total_kept += kept
        checksum = zlib.crc32(crc.to_bytes(4, "little"), checksum)
        parts.append(f"{name} {kept}")
    leaked = sys.getallocatedblocks() - blocks_before
    assert leaked < 2000, f"{leaked} blocks still allocated after all rounds"
    print(f"workload fragmentation: {len(ROUNDS)} rounds, {total_made:,} objects made, "
          f"{total_kept} survivors kept ({', '.join(parts)}), checksum {checksum:#010x}"
          f"{scale_note(scale)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
