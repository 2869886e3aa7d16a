// SeededBug.swift — deliberate defects the quality suite switches on, one per oracle rule and per
// invariant check, to prove each check can fail. Off by default; never on in a normal run.
// Each case names the check that must catch it (the quality tests use the same ids).

/// A named defect in the pymalloc reference allocator.
public enum PymallocBug: String, CaseIterable, Sendable, Codable {
  /// O1 alignment: requests of 1...8 bytes get a pointer 8 bytes into their 16-byte block.
  case misalignTinyBlocks
  /// O2 overlap: in class 5 (96 bytes) the third block of a pool is handed out twice.
  case handOutBlockTwice
  /// O3 usable size: requests 16k+1 (k ≥ 1) get the class one below (off-by-one size class).
  case sizeClassOffByOne
  /// O4 canary: freeing a block scribbles over bytes 8..<16 of the block just below it in the pool.
  case freeScribblesOnNeighbour
  /// O5 calloc zeroed: calloc of a small block skips the memset.
  case callocSkipsZeroing
  /// O6 realloc prefix: a moving realloc does not copy the old contents.
  case reallocSkipsCopy
  /// O7 realloc kills old: a moving realloc does not free the old block.
  case reallocKeepsOldBlock
  /// O8 nil only where allowed: malloc(256) fails although memory is available.
  case mallocFailsAt256
  /// O9 stats vs model: class 3 (64 bytes) reports one block more in use than it has.
  case statsOverCountClass3
  /// O10 stats consistency: num pools of class 0 is reported one too high.
  case statsExtraPoolClass0
  /// O11 memory given back (and PM5): a wholly free arena is never returned to the OS.
  case neverReleaseArenas
  /// O12 routing: requests of 100...111 bytes go to the raw allocator instead of a pool.
  case routeSmallToRaw
  /// O13 ownership: an arena is released when only one pool is still used (Case 1 off by one).
  case releaseArenaWithUsedPool
  /// PM2 pool internals: a freed block is counted but not pushed on its pool's free list.
  case loseFreedBlock
  /// PM3 pool lists: a full pool that gets a block back is not linked into usedpools.
  case fullPoolNotRelinked
  /// PM4 arena order: Case 3 of insert_to_freepool (re-sort after lastnf) is skipped.
  case skipArenaResort
  /// PM6 radix tree: a released arena is not unmarked in the arena map.
  case radixNotUnmarked
  /// PM7 counters: the arena highwater mark is never raised.
  case highwaterNotUpdated
  // Fidelity bugs: the reference stays self-consistent and passes every single-allocator rule; only the
  // differential against CPython's real pymalloc (rules X1–X4) sees that it no longer behaves like it.
  /// X1 same outcome: realloc keeps a shrinking block in place unless more than half (not a quarter) is wasted.
  case reallocShrinkThresholdHalf
  /// X2 same placement: a freed block goes to the tail of its pool's free list instead of the head.
  case freeListFIFO
  /// X3 same arenas: the last wholly free arena is released too (the thrashing bpo-37257 stopped).
  case releaseLastFreeArena
  /// X4 same statistics text: "bytes lost to quantization" is printed without the pool header.
  case statsQuantizationWrong
  // Fault-path bugs: harmless until a call to the OS or the raw allocator fails; only the exhaustive fault
  // sweep (`alloc-check faults`, checks F1–F3 in Harness/Search/FaultSweep.swift) reaches them.
  /// F2 outcome as CPython: a small request whose arena cannot be mapped returns NULL instead of falling
  /// back to the raw allocator.
  case arenaFailureReturnsNull
  /// F3 nothing left behind: when the radix-tree node for a new arena cannot be had, the arena is dropped
  /// without being unmapped (the mapping leaks).
  case radixFailureLeaksArena

  private static let bitTable: [PymallocBug: UInt64] =
    Dictionary(uniqueKeysWithValues: allCases.enumerated().map { ($1, UInt64(1) << UInt64($0)) })

  /// One bit per case, for ``Pymalloc``'s one-word bug test (24 cases: fits in 64 bits).
  var bit: UInt64 { Self.bitTable[self]! }

  static func bits(of bugs: Set<PymallocBug>) -> UInt64 { bugs.reduce(0) { $0 | $1.bit } }

  /// Caught only by the differential against the real CPython (its check is an X rule).
  public var isFidelityBug: Bool { caughtBy.hasPrefix("X") }

  /// Reached only when an injected fault fails a call (its check is an F rule of the fault sweep).
  public var isFaultPathBug: Bool { caughtBy.hasPrefix("F") }

  /// The oracle rule or invariant id that must catch this bug.
  public var caughtBy: String {
    switch self {
    case .misalignTinyBlocks: "O1"
    case .handOutBlockTwice: "O2"
    case .sizeClassOffByOne: "O3"
    case .freeScribblesOnNeighbour: "O4"
    case .callocSkipsZeroing: "O5"
    case .reallocSkipsCopy: "O6"
    case .reallocKeepsOldBlock: "O7"
    case .mallocFailsAt256: "O8"
    case .statsOverCountClass3: "O9"
    case .statsExtraPoolClass0: "O10"
    case .neverReleaseArenas: "O11"
    case .routeSmallToRaw: "O12"
    case .releaseArenaWithUsedPool: "O13"
    case .loseFreedBlock: "PM2"
    case .fullPoolNotRelinked: "PM3"
    case .skipArenaResort: "PM4"
    case .radixNotUnmarked: "PM6"
    case .highwaterNotUpdated: "PM7"
    case .reallocShrinkThresholdHalf: "X1"
    case .freeListFIFO: "X2"
    case .releaseLastFreeArena: "X3"
    case .statsQuantizationWrong: "X4"
    case .arenaFailureReturnsNull: "F2"
    case .radixFailureLeaksArena: "F3"
    }
  }
}
