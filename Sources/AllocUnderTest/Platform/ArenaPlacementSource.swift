// ArenaPlacementSource.swift — a ``PageSource`` that decides where each arena goes, so two allocators given
// two of these see the same arena geometry and print the same statistics while they behave alike. Used by
// the differential (reference vs CPython's real pymalloc), which compares both.
//
// Two things about an arena's address show in pymalloc's figures, and mmap decides both by luck:
// - Pool alignment: a base that is not on a 16 KiB pool boundary loses a pool (63 instead of 64), and
//   "# bytes lost to arena alignment" counts it. Here the k-th reserve (k = 0, 1, …) is pool-aligned when k
//   is even and one OS page past a pool boundary when k is odd: both cases, identically on both sides.
// - Arena-map nodes: CPython 3.11's radix tree gets one bottom node for each 16 GiB stretch of address space
//   that an arena has ever touched (``mapSpan``), and prints their count. Two arena sets that mmap scatters
//   on either side of a 16 GiB line give different counts (a CI run of the committed traces once diverged
//   on that, X4). Here every arena goes into a slot of one window of reserved address space that lies
//   inside one such stretch, the lowest free slot first; the window is aligned to 1 MiB (pymalloc's arena
//   size), so the k-th slot's address modulo the arena size is the same in every window.
// The window is address space only (no access, nothing committed); a slot is made read-write when it is
// handed out and is dropped back to no-access when released, so a touch after release faults. A request
// that is not arena-sized, a full window, or a window the OS refused falls back to an inner
// ``MmapPageSource`` (mmap's placement again). Either way the fault plan counts one call per reserve, and
// the counters count the bytes callers asked for, not the slack.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

public final class ArenaPlacementSource: PageSource, Sendable {
  public static let boundary = 16_384
  /// The address span of one bottom node of CPython 3.11's arena map on 64-bit: 2^(20 + 14) = 16 GiB.
  public static let mapSpan = 1 << 34
  /// The region size slots are made for (pymalloc's arena) and a slot's stride: the region plus the pool
  /// boundary of slack that the odd reserves' page offset needs.
  public static let slotRegionBytes = PymallocLayout.arenaSize
  public static let slotStride = PymallocLayout.arenaSize + boundary
  /// The default window: 1 GiB, 1,008 arenas.
  public static let defaultWindowBytes = 1 << 30

  /// Where the window goes (``inOneMapSpan`` for use; the others for tests).
  public enum WindowPlacement: Sendable, Equatable {
    /// Inside one 16 GiB stretch of the arena map, aligned to the arena size.
    case inOneMapSpan
    /// So that slot `k` starts exactly on a 16 GiB line: arenas in slots below `k` and from `k` on are
    /// covered by different bottom nodes of the arena map.
    case mapLineAtSlot(Int)
    /// No window: every region from the inner mmap source, where the kernel puts it.
    case none
  }

  private enum Placement {
    case slot(Int)
    /// Base and size of the inner source's region.
    case inner(UInt, Int)
  }

  private struct State {
    var reserves = 0
    var regions: [UInt: Placement] = [:]
    var occupied: [Bool]
    var stats = PageSourceStats()
    var lastError: SystemError?
  }

  private let inner: MmapPageSource
  /// The window's first slot and its reservation (whole, for deinit); 0 when there is none.
  private let windowStart: UInt
  private let reservation: (base: UInt, bytes: Int)
  public let slotCount: Int
  private let state: TSanVisibleMutex<State>

  /// A source whose reserves follow `faults`, with a window of `windowBytes` placed as `window` says.
  public init(faults: FaultPlan = .never, window: WindowPlacement = .inOneMapSpan,
              windowBytes: Int = ArenaPlacementSource.defaultWindowBytes) {
    inner = MmapPageSource(faults: faults)
    let slots = max(windowBytes / Self.slotStride, 0)
    var start: UInt = 0
    var reservation: (UInt, Int) = (0, 0)
    var error: SystemError?
    if slots > 0 && window != .none {
      do throws(SystemError) {
        (start, reservation) = try Self.reserveWindow(bytes: slots * Self.slotStride, window)
      } catch let e {
        error = e  // rare (RLIMIT_AS, or no hole near the requested line): mmap's placement for everything
      }
    }
    windowStart = start
    self.reservation = reservation
    slotCount = start == 0 ? 0 : slots
    var s = State(occupied: Array(repeating: false, count: slotCount))
    s.lastError = error
    state = TSanVisibleMutex(s)
  }

  deinit {
    guard reservation.bytes > 0, let base = unsafe UnsafeMutableRawPointer(bitPattern: reservation.base) else { return }
    unsafe try? sys_munmap(base, length: reservation.bytes)  // rare failure just leaves the range reserved
  }

  public var faults: FaultInjector { inner.faults }
  public var stats: PageSourceStats { state.withLock { $0.stats } }
  /// Why there is no window, if the OS refused one.
  public var lastError: SystemError? { state.withLock { $0.lastError } }

  /// The window's first slot address, for tests (nil when there is no window).
  public var windowBase: Int? { slotCount > 0 ? Int(windowStart) : nil }

  public func reserve(bytes: Int, alignment: Int) -> UnsafeMutableRawPointer? {
    let claim = state.withLock { s -> (k: Int, slot: Int?) in
      s.stats.reserveCalls += 1
      guard bytes == Self.slotRegionBytes, alignment <= Self.boundary, let i = s.occupied.firstIndex(of: false) else {
        return (s.reserves, nil)
      }
      s.occupied[i] = true
      return (s.reserves, i)
    }
    let offset = claim.k % 2 == 0 ? 0 : MmapPageSource.pageSize
    let placement: Placement
    let base: UnsafeMutableRawPointer
    if let i = claim.slot {
      let slotBase = unsafe UnsafeMutableRawPointer(bitPattern: windowStart + UInt(i * Self.slotStride))!
      do throws(SystemError) {
        // The call the mmap of a plain source would be: the plan counts it, and may fail it.
        if let injected = faults.nextFailure() { throw SystemError(errno: injected, call: "sys_mmap") }
        try unsafe sys_mapFixed(slotBase, length: Self.slotStride, accessible: true)
      } catch {
        state.withLock { s in
          s.occupied[i] = false
          s.stats.failedReserves += 1
          s.lastError = error
        }
        return nil
      }
      placement = .slot(i)
      base = unsafe slotBase + offset
    } else {
      let slack = Self.boundary
      guard let raw = unsafe inner.reserve(bytes: bytes + slack, alignment: max(alignment, Self.boundary)) else {
        state.withLock { $0.stats.failedReserves += 1 }
        return nil
      }
      placement = .inner(UInt(bitPattern: raw), bytes + slack)
      base = unsafe raw + offset
    }
    state.withLock { s in
      s.reserves += 1
      s.regions[UInt(bitPattern: base)] = placement
      s.stats.mappedBytes += bytes
      s.stats.peakMappedBytes = max(s.stats.peakMappedBytes, s.stats.mappedBytes)
    }
    return unsafe base
  }

  public func release(_ base: UnsafeMutableRawPointer, bytes: Int) {
    let entry = state.withLock { s -> Placement? in
      guard let e = s.regions.removeValue(forKey: UInt(bitPattern: base)) else { return nil }
      s.stats.releaseCalls += 1
      s.stats.mappedBytes -= bytes
      return e
    }
    switch entry {
    case nil:
      fatalError("release(\(hexAddress(UInt(bitPattern: base))), bytes: \(bytes)): not a live region of this ArenaPlacementSource")
    case .inner(let raw, let size)?:
      unsafe inner.release(UnsafeMutableRawPointer(bitPattern: raw)!, bytes: size)
    case .slot(let i)?:
      let slotBase = unsafe UnsafeMutableRawPointer(bitPattern: windowStart + UInt(i * Self.slotStride))!
      do throws(SystemError) {
        try unsafe sys_mapFixed(slotBase, length: Self.slotStride, accessible: false)
        state.withLock { $0.occupied[i] = false }
      } catch {
        // rare (vm.max_map_count): the slot stays mapped and is never handed out again.
        state.withLock { s in
          s.stats.failedUnmaps += 1
          s.stats.strandedBytes += Self.slotStride
          s.lastError = error
        }
      }
    }
  }

  public func decommit(_ base: UnsafeMutableRawPointer, bytes: Int) {
    let address = UInt(bitPattern: base)
    let inWindow = slotCount > 0 && address >= windowStart && address < windowStart + UInt(slotCount * Self.slotStride)
    state.withLock { $0.stats.decommitCalls += 1 }
    guard inWindow else { return unsafe inner.decommit(base, bytes: bytes) }
    let i = Int(address - windowStart) / Self.slotStride
    let live = state.withLock { $0.occupied[i] }
    require(live && address + UInt(bytes) <= windowStart + UInt((i + 1) * Self.slotStride),
            "decommit(\(hexAddress(address)), bytes: \(bytes)): the range is not inside one live region of this ArenaPlacementSource")
    do throws(SystemError) {
      try unsafe sys_madvise(base, length: bytes, advice: MADV_DONTNEED)
    } catch {
      unsafe base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)  // keep the promise: zero
      state.withLock { $0.lastError = error }
    }
  }

  /// Reserves address space for a window of `bytes` and returns its first slot address and the whole
  /// reservation (which may be larger, for ``WindowPlacement/mapLineAtSlot(_:)``).
  private static func reserveWindow(bytes: Int, _ window: WindowPlacement) throws(SystemError) -> (UInt, (UInt, Int)) {
    let arena = UInt(PymallocLayout.arenaSize)
    let span = UInt(mapSpan)
    switch window {
    case .inOneMapSpan, .none:
      // Twice the window plus an arena's alignment: a 16 GiB line crosses it at most once, and one side of
      // the line then has room for the whole window.
      let total = 2 * bytes + Int(arena)
      let raw = UInt(bitPattern: unsafe try sys_reserveSpace(length: total))
      let aligned = (raw + arena - 1) & ~(arena - 1)
      let line = (aligned / span + 1) * span
      let start = line >= aligned + UInt(bytes) ? aligned : line
      // Give back the head and tail; the window alone stays reserved.
      let head = Int(start - raw)
      let tail = total - head - bytes
      if head > 0 { unsafe try? sys_munmap(UnsafeMutableRawPointer(bitPattern: raw)!, length: head) }
      if tail > 0 { unsafe try? sys_munmap(UnsafeMutableRawPointer(bitPattern: start + UInt(bytes))!, length: tail) }
      return (start, (start, bytes))
    case .mapLineAtSlot(let k):
      // Ask for the window at a hint below a 16 GiB line far from the usual mappings (from 16 TiB up); the
      // kernel honours a hint whose range is free. A few lines are tried.
      let before = UInt(k * slotStride)
      for n in 1024..<1040 {
        let line = UInt(n) * span
        let hint = line - before
        let got = UInt(bitPattern: unsafe try sys_reserveSpace(length: bytes, hint: UnsafeMutableRawPointer(bitPattern: hint)))
        if got == hint { return (hint, (hint, bytes)) }
        unsafe try? sys_munmap(UnsafeMutableRawPointer(bitPattern: got)!, length: bytes)
      }
      throw SystemError(errno: EEXIST, call: "reserveWindow(mapLineAtSlot: \(k))")
    }
  }
}
