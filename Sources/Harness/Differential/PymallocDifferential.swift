// PymallocDifferential.swift — the reference pymalloc beside CPython 3.11's real one (`diff --peer cpython`).
// Both get arenas from an ``ArenaPlacementSource`` (the same pool alignment for the k-th arena on both
// sides, and each side's arenas in a window inside one 16 GiB stretch, so the arena-map node counts that
// the statistics print agree too) and the same fault plans, and both keep their state from run to run:
// CPython's pymalloc cannot be reset (its state is libpython's static data), so the reference is run
// persistently too (``PymallocAdapter/persistent``) and the two histories stay the same as long as they
// agree. Once they diverge, later runs in
// the same process start from different states: the command line runs each program in a child process.

import AllocUnderTest
import Oracle

public final class PymallocDifferential {
  public let reference: PymallocAdapter
  public let peer: CPythonAdapter
  public let referenceOracle: OracleConfig
  public let peerOracle: OracleConfig

  /// Fails if libpython cannot be loaded, or if its pymalloc already holds arenas in this process (another
  /// user ran before: its history is not the fresh reference's). `windows`: where each side's arenas go
  /// (tests give the two sides different ones to show what X4 sees when mmap scatters them).
  public init(bugs: Set<PymallocBug> = [], arenaFaults: FaultPlan = .never, rawFaults: FaultPlan = .never,
              oracle: OracleConfig = .full,
              windows: (reference: ArenaPlacementSource.WindowPlacement, peer: ArenaPlacementSource.WindowPlacement)
                = (.inOneMapSpan, .inOneMapSpan)) throws(PeerUnavailable) {
    let peer = try CPythonAdapter(rawFaults: rawFaults, pages: ArenaPlacementSource(faults: arenaFaults, window: windows.peer))
    guard peer.peer.liveArenas == 0 else {
      throw PeerUnavailable(peer: .cpython, reason: "its pymalloc already holds \(peer.peer.liveArenas) arena(s) in this process, so its state is not a fresh reference's; run the differential in a process of its own")
    }
    self.peer = peer
    reference = PymallocAdapter(bugs: bugs, rawFaults: rawFaults, pages: ArenaPlacementSource(faults: arenaFaults, window: windows.reference),
                                persistent: true)
    referenceOracle = oracle
    peerOracle = PeerAdapters.oracle(for: .cpython, family: .pymalloc, base: oracle)
  }

  public func run(_ program: Program, runSeed: UInt64 = 0) -> DifferentialVerdict {
    Differential.run(program, reference: reference, peer: peer, referenceOracle: referenceOracle, peerOracle: peerOracle,
                     runSeed: runSeed)
  }
}
