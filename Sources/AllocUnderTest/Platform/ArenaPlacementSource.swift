// ArenaPlacementSource.swift — a ``PageSource`` that decides where each region starts relative to a 16 KiB
// pool boundary, so two allocators given two of these see the same arena geometry. mmap puts a 1 MiB arena
// wherever the kernel likes; pymalloc loses a pool when the base is not pool-aligned (63 pools instead of
// 64), so the differential (reference vs CPython's real pymalloc) would diverge on luck. Here the k-th
// reserve (k = 0, 1, …) is pool-aligned when k is even and one OS page past a pool boundary when k is odd:
// both cases are exercised, identically on both sides. Regions come from an inner ``MmapPageSource``
// (its fault plan is this source's); the counters count the bytes callers asked for, not the slack.
import Synchronization

public final class ArenaPlacementSource: PageSource, Sendable {
  public static let boundary = 16_384
  private let inner: MmapPageSource
  /// Live regions: caller's base → (inner base, inner bytes); and this source's own counters.
  private let state = TSanVisibleMutex<(reserves: Int, regions: [UInt: (UInt, Int)], stats: PageSourceStats)>((0, [:], PageSourceStats()))

  public init(faults: FaultPlan = .never) { inner = MmapPageSource(faults: faults) }

  public var faults: FaultInjector { inner.faults }
  public var stats: PageSourceStats { state.withLock { $0.stats } }

  public func reserve(bytes: Int, alignment: Int) -> UnsafeMutableRawPointer? {
    let k = state.withLock { s in
      s.stats.reserveCalls += 1
      return s.reserves
    }
    let slack = Self.boundary
    guard let raw = unsafe inner.reserve(bytes: bytes + slack, alignment: max(alignment, Self.boundary)) else {
      state.withLock { $0.stats.failedReserves += 1 }
      return nil
    }
    let base = unsafe raw + (k % 2 == 0 ? 0 : MmapPageSource.pageSize)
    state.withLock { s in
      s.reserves += 1
      s.regions[UInt(bitPattern: base)] = (UInt(bitPattern: raw), bytes + slack)
      s.stats.mappedBytes += bytes
      s.stats.peakMappedBytes = max(s.stats.peakMappedBytes, s.stats.mappedBytes)
    }
    return unsafe base
  }

  public func release(_ base: UnsafeMutableRawPointer, bytes: Int) {
    let entry = state.withLock { s -> (UInt, Int)? in
      guard let e = s.regions.removeValue(forKey: UInt(bitPattern: base)) else { return nil }
      s.stats.releaseCalls += 1
      s.stats.mappedBytes -= bytes
      return e
    }
    require(entry != nil, "release(\(hexAddress(UInt(bitPattern: base))), bytes: \(bytes)): not a live region of this ArenaPlacementSource")
    unsafe inner.release(UnsafeMutableRawPointer(bitPattern: entry!.0)!, bytes: entry!.1)
  }

  public func decommit(_ base: UnsafeMutableRawPointer, bytes: Int) {
    state.withLock { $0.stats.decommitCalls += 1 }
    unsafe inner.decommit(base, bytes: bytes)
  }
}
