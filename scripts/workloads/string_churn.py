#!/usr/bin/env python3.11
"""Workload string-churn: many short and some medium strings made and dropped.

A ring of WORKING_SET slots holds the live strings; each step makes one new
string by one of several operations (f-string / % / str.format formatting,
concatenation, repeated `s += t`, split + join, encode + decode, replace,
case changes, slicing) and stores it in the next slot, dropping the string that
was there, so the working set rotates continuously.  Strings are mostly short
(5-60 chars); about one in five is medium (100-400 chars).  Some contain
Latin-1, BMP and astral characters, so all three str storage kinds occur.
Encoded strings are also appended to a bytearray that is flushed to bytes
objects when it grows past 64 KiB.

Verification: every string's CRC-32 is recorded when it is made and
recomputed when it is evicted (and for the survivors at the end); the sum of
the CRCs at birth must equal the sum at death.  Every flushed bytes object's
CRC is compared with a CRC computed incrementally over the chunks appended.

Standard library only; deterministic for a fixed seed.
Set WORKLOAD_STATS=1 to get sys._debugmallocstats() at the end (stderr).
Set WORKLOAD_SCALE=x (0 < x <= 10, default 1) to scale the number of steps by x
(the working set and the flush size stay the same).
"""

import gc
import os
import random
import sys
import zlib

from workload_scale import read_scale, scale_note

SEED = 90210
STEPS = 800_000
WORKING_SET = 5_000
FLUSH_AT = 64 * 1024
MASK32 = 0xFFFFFFFF

SYLLABLES = ("ka", "lo", "mi", "nu", "re", "sta", "qui", "ve", "zor", "ex",
             "an", "tem", "po", "ri", "wu", "dy")
SPECIAL = ("grüße", "café", "Ωmega", "€uro", "数据", "𝄞clef", "naïve", "ñu")


def crc(s):
    return zlib.crc32(s.encode("utf-8"))



class Churn:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.words = []
        for _ in range(3000):
            n = self.rng.randrange(1, 4)
            self.words.append("".join(self.rng.choice(SYLLABLES) for _ in range(n)))
        self.words.extend(SPECIAL)
        self.ring = [None] * WORKING_SET
        self.ring_crc = [0] * WORKING_SET
        self.born = 0       # sum of CRCs of strings made
        self.died = 0       # sum of CRCs of strings evicted (recomputed)
        self.made = 0
        self.medium = 0
        self.buf = bytearray()
        self.buf_crc = 0
        self.flushed = []   # recent bytes objects, also a rotating set
        self.flushed_bytes = 0
        self.ops = (self.op_fstring, self.op_percent, self.op_format,
                    self.op_concat, self.op_iadd, self.op_split_join,
                    self.op_codec, self.op_replace, self.op_case, self.op_slice)

    # --- helpers -----------------------------------------------------
    def word(self):
        return self.rng.choice(self.words)

    def live(self):
        s = self.ring[self.rng.randrange(WORKING_SET)]
        return s if s is not None else self.word()

    # --- operations: each returns a new str -------------------------
    def op_fstring(self):
        n = self.rng.randrange(1 << 30)
        return f"{self.word()}-{n:09d}-{n / 7:.4f}"

    def op_percent(self):
        return "%s:%d/%x" % (self.word(), self.rng.randrange(10**6), self.rng.randrange(1 << 20))

    def op_format(self):
        w = self.word()
        return "{0:>{2}}|{1:<8}".format(w, self.rng.randrange(1000), len(w) + 6)

    def op_concat(self):
        return self.word() + "_" + self.word() + str(self.rng.randrange(100_000))

    def op_iadd(self):
        # Repeated in-place concatenation: the string is resized as it grows.
        target = self.rng.randrange(100, 401)
        s = ""
        while len(s) < target:
            s += self.word()
            s += " "
        return s[:target]

    def op_split_join(self):
        s = self.live()
        parts = s.split(" ") if " " in s else s.split("-")
        sep = next(c for c in "|/;\t\x00" if c not in s)
        joined = sep.join(reversed(parts))
        again = joined.split(sep)
        assert again[::-1] == parts, (s, joined)
        return joined

    def op_codec(self):
        s = self.live()
        for enc in ("utf-8", "utf-16-le", "utf-32"):
            b = s.encode(enc)
            assert b.decode(enc) == s, (enc, s)
        b = s.encode("utf-8")
        self.append_bytes(b)
        return b.hex()[:60] if len(b) > 30 else b.decode("utf-8") + "!"

    def op_replace(self):
        s = self.live()
        repl = self.rng.choice(("ä", "€", "𝄞", "@@"))
        if repl in s or "a" not in s:
            return s.replace(" ", "") + "#"
        r = s.replace("a", repl)
        assert r.replace(repl, "a") == s
        return r

    def op_case(self):
        s = self.word()
        return (s.upper() + s.title() + s.center(len(s) + 4, "*")).strip("*")

    def op_slice(self):
        s = self.live()
        if len(s) < 4:
            return s * 3
        i = self.rng.randrange(len(s) // 2)
        return s[i:] + s[:i]

    # --- bytes ------------------------------------------------------
    def append_bytes(self, b):
        self.buf += b
        self.buf_crc = zlib.crc32(b, self.buf_crc)
        if len(self.buf) >= FLUSH_AT:
            out = bytes(self.buf)
            assert len(out) == len(self.buf)
            assert zlib.crc32(out) == self.buf_crc, "bytearray contents changed"
            self.flushed.append(out)
            if len(self.flushed) > 8:
                old = self.flushed.pop(0)
                assert len(old) >= FLUSH_AT
            self.flushed_bytes += len(out)
            self.buf = bytearray()
            self.buf_crc = 0

    # --- the loop ---------------------------------------------------
    def step(self, i):
        s = self.rng.choice(self.ops)()
        c = crc(s)
        self.made += 1
        if len(s) >= 100:
            self.medium += 1
        self.born = (self.born + c) & MASK32
        slot = i % WORKING_SET
        old = self.ring[slot]
        if old is not None:
            oc = crc(old)
            assert oc == self.ring_crc[slot], f"string in slot {slot} changed"
            self.died = (self.died + oc) & MASK32
        self.ring[slot] = s
        self.ring_crc[slot] = c

    def finish(self):
        for slot, s in enumerate(self.ring):
            if s is not None:
                oc = crc(s)
                assert oc == self.ring_crc[slot], f"string in slot {slot} changed"
                self.died = (self.died + oc) & MASK32
        assert self.born == self.died, (hex(self.born), hex(self.died))
        for out in self.flushed:
            assert len(out) >= FLUSH_AT
        self.ring = None
        self.flushed = None


def main():
    scale = read_scale("string-churn")
    steps = max(1, round(STEPS * scale))
    print(f"workload string-churn: seed {SEED}")
    gc.collect()
    blocks_before = sys.getallocatedblocks()
    churn = Churn(SEED)
    for i in range(steps):
        churn.step(i)
    churn.finish()
    summary = (churn.made, churn.medium, churn.flushed_bytes, churn.born)
    if os.environ.get("WORKLOAD_STATS") == "1":
        sys._debugmallocstats()
    del churn
    gc.collect()
    leaked = sys.getallocatedblocks() - blocks_before
    assert leaked < 2000, f"{leaked} blocks still allocated"
    made, medium, flushed, checksum = summary
    print(f"workload string-churn: {made:,} strings made ({medium:,} medium), "
          f"{flushed:,} bytes flushed, checksum {checksum:#010x}{scale_note(scale)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
