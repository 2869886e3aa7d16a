// PymallocAdapter.swift — drives the reference ``Pymalloc`` (OBJ domain of a release build) through
// ``AllocatorAdapter``, with optional fault plans for arenas (mmap) and the raw allocator, and seeded bugs.

import AllocUnderTest
import Oracle

public final class PymallocAdapter: AllocatorAdapter {
  public let allocator: Pymalloc
  public var name: String { "pymalloc" }

  public init(bugs: Set<PymallocBug> = [], arenaFaults: FaultPlan = .never, rawFaults: FaultPlan = .never) {
    allocator = Pymalloc(pages: MmapPageSource(faults: arenaFaults), raw: SystemRawAllocator(faults: rawFaults),
                         bugs: bugs)
  }

  public func malloc(_ n: UInt64) -> Int? { allocator.mallocAddress(n) }
  public func calloc(_ c: UInt64, _ s: UInt64) -> Int? { allocator.callocAddress(c, s) }
  public func realloc(_ a: Int?, _ n: UInt64) -> Int? { allocator.reallocAddress(a, n) }
  public func free(_ a: Int?) { allocator.freeAddress(a) }
  public func usableSize(_ a: Int) -> Int { allocator.usableSizeAddress(a) }
  public func ownsSmall(_ a: Int) -> Bool { allocator.owns(a) }
  public func isAllocated(_ a: Int) -> Bool? {
    switch allocator.blockState(a) {
    case .allocated: true
    case .free: false
    case .notOwned: nil
    }
  }
  public var injectedFaults: Int { allocator.pages.faults.injected + allocator.raw.faults.injected }
  public var mappedBytes: Int { allocator.pages.stats.mappedBytes }

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
  /// Fresh allocator state and fault counters (so `.nth(k)` means the k-th call of this run).
  public func reset() {
    allocator.reset()
    allocator.pages.faults.resetCounts()
    allocator.raw.faults.resetCounts()
  }
}
