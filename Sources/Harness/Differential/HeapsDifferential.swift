// HeapsDifferential.swift — the reference mimalloc (2.1.2 as CPython vendors it) beside libmimalloc 2.0.9
// (`diff --family heaps`). Compared per op: the outcome (X1), the usable size of every block not made by an
// aligned allocation (X5; aligned ones depend on page start offsets that differ by version, V6 of
// Documentation/MimallocVersions.md), and each heap_visit's program blocks of that heap (X6; orphans left
// out, V7). Nothing here depends on history (bins, not addresses), so no persistence is needed, and the
// peer's logical threads are real OS threads: a forked child would lose them, so these runs stay in process.

import AllocUnderTest
import Oracle

public final class HeapsDifferential: DifferentialPair {
  public let reference: MimallocAdapter
  public let peer: LibMimallocAdapter
  public let referenceOracle: OracleConfig
  public let peerOracle: OracleConfig
  public var family: ProgramFamily { .heaps }
  public var peerName: String { peer.name }
  public var needsIsolation: Bool { false }

  public init(bugs: Set<MimallocBug> = [], oracle: OracleConfig = .heaps) throws(PeerUnavailable) {
    peer = try LibMimallocAdapter()
    reference = MimallocAdapter(bugs: bugs)
    referenceOracle = oracle
    peerOracle = PeerAdapters.oracle(for: .mimalloc, family: .heaps, base: oracle)
  }

  public func run(_ program: Program, runSeed: UInt64) -> DifferentialVerdict {
    Differential.run(program, reference: reference, peer: peer, referenceOracle: referenceOracle, peerOracle: peerOracle,
                     runSeed: runSeed)
  }

  /// This pair as an adapter (its own calls are the reference side's).
  public var adapter: DifferentialAdapter { DifferentialAdapter(self, reference: reference) }
}
