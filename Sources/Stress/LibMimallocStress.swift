// LibMimallocStress.swift — the real libmimalloc (2.0.9) under the stress runner: lane threads call
// `mi_malloc`/`mi_free` directly on their own OS threads (no baton), so cross-thread frees, thread exits
// (abandonment at every churn and round end) and reclaim are the library's own, racing for real. Checked:
// S1 canaries and S2 accounting. Not checked (``LibMimallocStress/notChecked``): S3, because a lane moves to
// a new OS thread every round and libmimalloc's heaps belong to OS threads, so no owner heap survives to be
// counted; S4, S5 and S6, which need segment counts, mapped bytes and invariant walkers the library does
// not expose. The teardown still reports, for information, the blocks and segments the main thread holds
// after its forced collect reclaimed every abandoned segment. Entry point: ``LibMimallocStress/init()``.

import AllocUnderTest

public final class LibMimallocStress: StressAllocator {
  public let lib: LibMimalloc
  public var name: String { "libmimalloc \(lib.versionString) (real threads)" }

  /// Claims libmimalloc's main thread for the run (its forced collect is the teardown's).
  public init() throws(PeerUnavailable) {
    let lib = try LibMimalloc.shared()
    guard lib.holder.claim("libmimalloc stress") else {
      throw PeerUnavailable(peer: .mimalloc, reason: "libmimalloc's main thread is in use by \(lib.holder.holderName ?? "another user") in this process")
    }
    self.lib = lib
  }

  deinit { lib.holder.release() }

  public func makeWorker() -> any StressWorker { LibMimallocStressWorker(lib) }
  public var mappedBytes: Int { 0 }
  public var peakMappedBytes: Int { 0 }
  public func countsInFootprint(_ size: Int) -> Bool { true }
  public func footprintSlack(threads: Int) -> Int { 0 }
  public func mainThreadWaiting() {}
  public func roundSummary() -> String { "libmimalloc keeps its structures to itself" }
  public func checkInvariants() -> [String] { [] }

  public var notChecked: [String: String] {
    [
      "S3": "libmimalloc's heaps belong to OS threads, and a lane moves to a new OS thread every round: no owner heap is left to count",
      "S4": "no segment, abandoned-segment or mapped-byte count is exposed by a release libmimalloc",
      "S5": "mapped bytes are not observable (the library maps through its own OS layer)",
      "S6": "no invariant walker over the library's structures",
    ]
  }

  /// The main thread's forced collect (every abandoned segment reclaimed into its backing heap), then what
  /// its heap still holds: blocks in use and the segments its used pages lie in (information only).
  public func teardown() -> StressTeardown {
    let lib = lib
    let areas = lib.main.run { () -> [HeapArea] in
      lib.collect(force: true)
      return lib.visit(lib.backingHeap(), allBlocks: false).areas
    }
    var t = StressTeardown()
    t.blocksInUse = areas.reduce(0) { $0 + $1.used }
    t.segments = Set(areas.filter { $0.used > 0 }.map { $0.blocks & ~(Self.segmentSize - 1) }).count
    return t
  }

  /// `MI_SEGMENT_SIZE` of 2.0.9 on 64-bit (spec mimalloc.md §1.1): segments are aligned to it.
  static let segmentSize = 32 << 20
}

/// Whatever OS thread calls it: allocations come from that thread's default heap, so a worker that moves to
/// a new OS thread moves with it (2.0.9 has no heap tags: `choice` is ignored).
final class LibMimallocStressWorker: StressWorker {
  let lib: LibMimalloc
  init(_ lib: LibMimalloc) { self.lib = lib }
  func malloc(_ size: Int, choice: UInt64) -> Int? { lib.malloc(UInt64(size)) }
  func free(_ address: Int) { lib.free(address) }
  func quiescent() {}
  func collectAndCount() -> Int? { nil }
  /// The OS thread's own end runs `_mi_thread_done`; nothing to do before it.
  func exit() {}
}
