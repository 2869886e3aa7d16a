// PymallocDiff.swift — the differential fuzz target `fuzz-pymalloc-diff` (corpus `corpus/pymalloc-diff/`):
// the input format is `fuzz-pymalloc-ops`'s (pymalloc family v1, the same op limit so a crash decodes the same
// everywhere), and each input runs on the reference pymalloc and on CPython 3.11's real
// one (``PymallocDifferential``). Asserts: every oracle rule on each side, then every differential rule
// X1–X4 between them; the first failure traps with `alloc-check: <rule> at op <index> …`.
// Both sides keep their state from input to input (CPython's pymalloc cannot be reset), so an input that
// crashes after a long run may need that history; `alloc-check diff FILE` replays it from a fresh process.
// Seeded bugs (`ALLOC_CHECK_BUGS`) go into the reference side: the fidelity bugs are the ones to try.
// libpython3.11 missing: the binary says so and exits 2 on its first input.

import AllocUnderTest
import Foundation
import Harness
import Oracle

public enum PymallocDiffTarget {
  public static let maxOps = PymallocOpsTarget.maxOps

  public static let target = FuzzTarget(
    name: "pymalloc-diff",
    product: "fuzz-pymalloc-diff",
    summary: "pymalloc op programs on the reference and on CPython 3.11's pymalloc, compared op by op (X1–X4)",
    family: "pymalloc",
    bugNames: PymallocBug.allCases.map(\.rawValue),
    decode: { OpDecoder.decodePymalloc($0, maxOps: maxOps) },
    encode: { OpEncoder.encodePymalloc($0) },
    makeAdapter: { names in
      guard let bugs = PymallocOpsTarget.bugs(names) else { return nil }
      do throws(PeerUnavailable) {
        return try PymallocDifferential(bugs: bugs).adapter
      } catch {
        FileHandle.standardError.write(Data("fuzz-pymalloc-diff: \(error)\n".utf8))
        return nil
      }
    },
    dictionary: PymallocDictionary.entries,
    seeds: PymallocSeeds.programs.filter { $0.program.ops.count <= maxOps },
    differential: true
  )
}
