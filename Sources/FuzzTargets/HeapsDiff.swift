// HeapsDiff.swift — the differential fuzz target `fuzz-heaps-diff` (corpus `corpus/heaps-diff/`): inputs are
// `fuzz-heaps-ops`'s (heaps family v1, the same op limit, so a crash decodes the same everywhere; each logical
// thread of the real side is an OS thread), and each runs on the reference mimalloc and on libmimalloc 2.0.9 (``HeapsDifferential``). Asserts:
// every heap rule each side can answer, then X1, X5 and X6 between them; the first failure traps with
// `alloc-check: <rule> at op <index> …`. No state carries from input to input that the observations see
// (bins and program ids, not addresses), so a crash file replays alone: `alloc-check diff FILE --family heaps`.
// Seeded bugs (`ALLOC_CHECK_BUGS`) go into the reference; binRoundsUpAtBoundary is the fidelity one.
// libmimalloc missing: the binary says so and exits 2 on its first input.

import AllocUnderTest
import Foundation
import Harness
import Oracle

public enum HeapsDiffTarget {
  public static let maxOps = HeapsOpsTarget.maxOps

  public static let target: FuzzTarget = {
    var t = FuzzTarget(
      name: "heaps-diff",
      product: "fuzz-heaps-diff",
      summary: "heaps-family programs on the reference mimalloc and on libmimalloc 2.0.9, compared op by op (X1, X5, X6)",
      family: "heaps",
      bugNames: MimallocBug.allCases.map(\.rawValue),
      decode: { OpDecoder.decodeHeaps($0, maxOps: maxOps) },
      encode: { OpEncoder.encodeHeaps($0) },
      makeAdapter: { names in
        guard let bugs = HeapsOpsTarget.bugs(names) else { return nil }
        do throws(PeerUnavailable) {
          return try HeapsDifferential(bugs: bugs).adapter
        } catch {
          FileHandle.standardError.write(Data("fuzz-heaps-diff: \(error)\n".utf8))
          return nil
        }
      },
      dictionary: HeapsSeeds.dictionary,
      seeds: HeapsSeeds.programs.filter { $0.program.ops.count <= maxOps },
      differential: true
    )
    t.oracle = .heaps
    return t
  }()
}
