// PymallocAdapter.swift — drives the reference ``Pymalloc`` (OBJ domain of a release build) through
// ``AllocatorAdapter``, with optional fault plans for arenas (mmap) and the raw allocator, and seeded bugs.

import AllocUnderTest
import Oracle

public final class PymallocAdapter: PlacementReporting {
  public let allocator: Pymalloc
  public var name: String { "pymalloc" }
  /// Differential mode: `reset()` frees the blocks still held (oldest first) instead of starting afresh, so
  /// the reference keeps the same history as CPython's real pymalloc, whose state lives as long as the
  /// process (its last free arena and cached pools stay; see CPythonAdapter).
  public let persistent: Bool
  /// Persistent mode: blocks handed out and not yet freed.
  private var live = LiveAddresses()
  /// The two fault injectors, held directly: ``injectedFaults`` is read around every allocating op.
  private let arenaInjector: FaultInjector
  private let rawInjector: FaultInjector

  public init(bugs: Set<PymallocBug> = [], arenaFaults: FaultPlan = .never, rawFaults: FaultPlan = .never,
              pages: PageSource? = nil, persistent: Bool = false) {
    // Two released arenas are kept for reuse: a reset per fuzz input then costs no mmap, munmap and page
    // faults on the arena it maps again (MmapPageSource: recycling; what the allocator sees is unchanged).
    allocator = Pymalloc(pages: pages ?? MmapPageSource(faults: arenaFaults, recycle: 2), raw: SystemRawAllocator(faults: rawFaults),
                         bugs: bugs)
    self.persistent = persistent
    arenaInjector = allocator.pages.faults
    rawInjector = allocator.raw.faults
  }

  private func track(_ a: Int?) -> Int? { persistent ? live.record(a) : a }

  public func malloc(_ n: UInt64) -> Int? { track(allocator.mallocAddress(n)) }
  public func calloc(_ c: UInt64, _ s: UInt64) -> Int? { track(allocator.callocAddress(c, s)) }
  public func realloc(_ a: Int?, _ n: UInt64) -> Int? {
    guard let r = allocator.reallocAddress(a, n) else { return nil }
    return persistent ? live.moved(from: a, to: r) : r
  }
  public func free(_ a: Int?) {
    if persistent { live.forget(a) }
    allocator.freeAddress(a)
  }
  public func placement(of a: Int) -> BlockPlacement? {
    allocator.placement(of: a).map { BlockPlacement(arena: $0.arenaIndex, pool: $0.pool, offset: $0.offset) }
  }
  public func usableSize(_ a: Int) -> Int { allocator.usableSizeAddress(a) }
  public func ownsSmall(_ a: Int) -> Bool { allocator.owns(a) }
  public func isAllocated(_ a: Int) -> Bool? {
    switch allocator.blockState(a) {
    case .allocated: true
    case .free: false
    case .notOwned: nil
    }
  }
  public var injectedFaults: Int { arenaInjector.injected + rawInjector.injected }
  public var mappedBytes: Int { allocator.pages.mappedBytes }

  public func snapshot() -> StatsSnapshot? {
    let s = allocator.stats()
    return StatsSnapshot(
      classes: s.classes.map {
        .init(sizeClass: $0.sizeClass, blockSize: $0.blockSize, pools: $0.pools, blocksInUse: $0.blocksInUse,
              availableBlocks: $0.availableBlocks)
      },
      arenas: s.arenas.map { .init(usedPools: $0.usedPools, freePools: $0.freePools, totalPools: $0.totalPools) },
      arenasCurrent: s.arenasCurrent, bytesInAllocatedBlocks: s.bytesInAllocatedBlocks, totalBytes: s.totalBytes)
  }
  public func statsText() -> String? { allocator.debugMallocStats() }
  public func checkInvariants() -> [(id: String, detail: String)] { allocator.checkInvariants().map { ($0.id, $0.detail) } }
  public func checkInvariants(around address: Int) -> [(id: String, detail: String)] {
    allocator.checkInvariants(around: address).map { ($0.id, $0.detail) }
  }
  /// Constant: pymalloc's only changes beyond one pool and its arena's lists are arenas mapped and unmapped,
  /// which the executor sees in ``mappedBytes``.
  public var structureEpoch: Int? { 0 }
  /// Fresh allocator state and fault counters (so `.nth(k)` means the k-th call of this run).
  public func reset() {
    if persistent {
      for a in live.drain() { allocator.freeAddress(a) }
    } else {
      allocator.reset()
    }
    arenaInjector.resetCounts()
    rawInjector.resetCounts()
  }
}
