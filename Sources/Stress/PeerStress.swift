// PeerStress.swift — real allocators under the stress runner (issue 11): CPython 3.11's pymalloc behind one
// lock (the GIL, as in PymallocStress), and glibc's or jemalloc's heap called from every thread directly (they
// are thread-safe). The runner's canaries (S1) and accounting (S2) apply to both; what needs the reference's
// internals is skipped by name (``StressAllocator/notChecked``): a C heap has no count of blocks in use, no
// mapping of its own and no invariant walker (S4, S5, S6); CPython's pymalloc has no walker (S6), but its
// arenas come from our page source and its statistics count its blocks, so S4 and S5 run on it.
// libmimalloc's conformance (its own threads calling the library) is LibMimallocStress.

import AllocUnderTest
import Harness

/// glibc or jemalloc.
public final class CHeapStress: StressAllocator, @unchecked Sendable {
  // @unchecked: `heap` is immutable after init and the C heap is thread-safe.
  let heap: CHeapPeer
  public init(_ kind: PeerKind) throws(PeerUnavailable) { heap = try CHeapPeer.shared(kind) }
  public var name: String { "\(heap.kind.rawValue) (real, thread-safe)" }
  public func makeWorker() -> any StressWorker { CHeapStressWorker(heap) }
  public var mappedBytes: Int { 0 }
  public var peakMappedBytes: Int { 0 }
  public func countsInFootprint(_ size: Int) -> Bool { false }
  public func footprintSlack(threads: Int) -> Int { 0 }
  public func mainThreadWaiting() {}
  public func roundSummary() -> String { "\(heap.kind.rawValue): no structures to summarise" }
  public func checkInvariants() -> [String] { [] }
  public func teardown() -> StressTeardown { StressTeardown() }
  public var notChecked: [String: String] {
    ["S4": "the C heap does not count its blocks in use",
     "S5": "the C heap maps memory itself, unseen by our page source",
     "S6": "no invariant walker of a C heap"]
  }
}

final class CHeapStressWorker: StressWorker {
  let heap: CHeapPeer
  init(_ heap: CHeapPeer) { self.heap = heap }
  func malloc(_ size: Int, choice: UInt64) -> Int? { heap.malloc(UInt64(max(size, 1))) }
  func free(_ address: Int) { heap.free(address) }
  func quiescent() {}
  func collectAndCount() -> Int? { nil }
  func exit() {}
}

/// CPython's real pymalloc, every call under one lock (the GIL).
public final class CPythonStress: StressAllocator, @unchecked Sendable {
  // @unchecked: the adapter is only touched under `gil`.
  private let gil: TSanVisibleMutex<CPythonAdapter>
  private let pages: MmapPageSource

  public init() throws(PeerUnavailable) {
    let pages = MmapPageSource()
    self.pages = pages
    gil = TSanVisibleMutex(try CPythonAdapter(pages: pages))
  }

  public var name: String { "cpython (real pymalloc, one lock)" }
  public func makeWorker() -> any StressWorker { CPythonStressWorker(self) }
  public var mappedBytes: Int { pages.stats.mappedBytes }
  public var peakMappedBytes: Int { pages.stats.peakMappedBytes }
  public func countsInFootprint(_ size: Int) -> Bool { size <= 512 }
  /// As for the reference pymalloc: 32 partly used pools and one arena being carved.
  public func footprintSlack(threads: Int) -> Int { 2 << 20 }
  public func mainThreadWaiting() {}
  public func roundSummary() -> String {
    gil.withLock { a in
      let s = a.snapshot()
      return "\(s?.arenasCurrent ?? 0) arenas, \(s?.classes.reduce(0) { $0 + $1.blocksInUse } ?? 0) small blocks in use"
    }
  }
  public func checkInvariants() -> [String] { [] }
  public var notChecked: [String: String] { ["S6": "obmalloc.c's lists are static in libpython: no walker"] }

  func malloc(_ n: Int) -> Int? { gil.withLock { $0.malloc(UInt64(n)) } }
  func free(_ address: Int) { gil.withLock { $0.free(address) } }

  public func teardown() -> StressTeardown {
    var t = StressTeardown()
    gil.withLock { a in
      guard let s = a.snapshot() else { return }
      t.blocksInUse = s.classes.reduce(0) { $0 + $1.blocksInUse }
      let empty = s.arenas.filter { $0.usedPools == 0 }.count
      t.segments = s.arenas.count - empty
      t.allowedMappedBytes = min(empty, 1) * PymallocLayout.arenaSize  // bpo-37257: the last free arena stays
    }
    t.mappedBytes = pages.stats.mappedBytes
    // The kept free arena may come from an earlier user's page source (CPython's state outlives adapters);
    // then none of ours is mapped, and none may be.
    t.allowedMappedBytes = min(t.allowedMappedBytes, t.mappedBytes)
    return t
  }
}

final class CPythonStressWorker: StressWorker {
  let allocator: CPythonStress
  init(_ allocator: CPythonStress) { self.allocator = allocator }
  func malloc(_ size: Int, choice: UInt64) -> Int? { allocator.malloc(size) }
  func free(_ address: Int) { allocator.free(address) }
  func quiescent() {}
  func collectAndCount() -> Int? { nil }
  func exit() {}
}
