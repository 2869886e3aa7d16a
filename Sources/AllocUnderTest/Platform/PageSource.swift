// PageSource.swift — the platform layer's one interface: where allocators get big aligned regions (R20).
//
// ``PageSource`` models CPython's `PyObjectArenaAllocator {alloc, free}` (Objects/obmalloc.c,
// `_PyObject_ArenaMmap` / `_PyObject_ArenaMunmap`) plus a decommit in the spirit of mimalloc's src/os.c
// `_mi_os_reset`. Allocators are generic over it and never call `mmap`; ``MmapPageSource`` is the Linux
// conformance. There is no `commit`: Linux commits an anonymous page on first touch, so a decommitted range
// is usable again at once and reads as zero. ``PageSourceStats`` holds the counters every source keeps.
// No `checkInvariants()`: conformers keep plain counters; their equations are on ``PageSourceStats``.

/// Counters of one ``PageSource``. With no call in flight:
/// `mappedBytes ≤ peakMappedBytes`, and `reserveCalls − failedReserves` = number of successful reserves.
public struct PageSourceStats: Sendable, Equatable {
  /// Bytes in regions handed out by `reserve` and not yet released. Alignment slack is not counted.
  public var mappedBytes: Int
  /// The largest value `mappedBytes` has had.
  public var peakMappedBytes: Int
  /// Every `reserve` call, successful or not.
  public var reserveCalls: Int
  /// Every `release` call.
  public var releaseCalls: Int
  /// `reserve` calls that returned nil (OS refusal, injected fault, or a size that overflows).
  public var failedReserves: Int
  /// Every `decommit` call.
  public var decommitCalls: Int
  /// `munmap` calls that failed with an errno that is not our bug (ENOMEM from splitting a mapping), so the
  /// bytes stayed mapped. Rare; nonzero only near `vm.max_map_count`.
  public var failedUnmaps: Int
  /// Bytes the OS still maps but no caller owns, because of ``failedUnmaps``. Zero unless that is nonzero.
  public var strandedBytes: Int

  public init(
    mappedBytes: Int = 0, peakMappedBytes: Int = 0, reserveCalls: Int = 0, releaseCalls: Int = 0,
    failedReserves: Int = 0, decommitCalls: Int = 0, failedUnmaps: Int = 0, strandedBytes: Int = 0
  ) {
    self.mappedBytes = mappedBytes
    self.peakMappedBytes = peakMappedBytes
    self.reserveCalls = reserveCalls
    self.releaseCalls = releaseCalls
    self.failedReserves = failedReserves
    self.decommitCalls = decommitCalls
    self.failedUnmaps = failedUnmaps
    self.strandedBytes = strandedBytes
  }
}

/// Where allocators get big aligned regions (model: CPython's PyObjectArenaAllocator {alloc, free}).
public protocol PageSource: AnyObject {
  /// Maps `bytes` (> 0, multiple of the OS page size) of zeroed read-write memory whose base is a multiple of
  /// `alignment` (a power of two ≥ 4096). Returns nil when the OS refuses (ENOMEM) or a fault is injected.
  ///
  /// Precondition: `bytes` and `alignment` as above (violations trap).
  func reserve(bytes: Int, alignment: Int) -> UnsafeMutableRawPointer?

  /// Unmaps a region returned by reserve (same base and size).
  ///
  /// Precondition: `base`/`bytes` are exactly one live region of this source; a double release traps.
  func release(_ base: UnsafeMutableRawPointer, bytes: Int)

  /// Give back physical pages but keep the range mapped (madvise DONTNEED); contents become zero.
  ///
  /// Precondition: `base` is page-aligned, `bytes` > 0 is a multiple of the page size, and the range lies
  /// inside one live region of this source.
  func decommit(_ base: UnsafeMutableRawPointer, bytes: Int)

  /// A snapshot of the counters.
  var stats: PageSourceStats { get }

  /// `stats.mappedBytes` alone: the executor reads it after every op (an unmapping triggers the ownership
  /// sweep), so a conformer may answer it without copying every counter under its lock.
  var mappedBytes: Int { get }

  /// The fault plan and call counts for this source's reserves (one counted call per `reserve`).
  var faults: FaultInjector { get }
}

extension PageSource {
  public var mappedBytes: Int { stats.mappedBytes }
}
