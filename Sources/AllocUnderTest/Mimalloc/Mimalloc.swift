// Mimalloc.swift — ``Mimalloc``, one "process" (a CPython interpreter) of the mimalloc reference: the page
// source, the live-segment registry, the threads, the abandoned pool, the QSBR clock, the transition log and
// the seeded bugs. Entry points: ``newThread()``, ``mainThread``, ``reset()``; inspection in
// Mimalloc+Inspect.swift, stats in Mimalloc+Stats.swift. Guarded by ``checkInvariants()`` (MI1–MI7).
//
// No globals: everything lives in the instance, so each fuzz input starts from a fresh or `reset()` one.
// Thread-safe parts: the registry, the pool, the QSBR clock and the log (each under its own `Mutex`), and
// the lock-free free path. `reset`, `stats`, `checkInvariants` and the inspectors need a quiescent allocator.
import Synchronization

public final class Mimalloc: @unchecked Sendable {
  /// Where segments come from (32 MiB aligned reservations).
  public let pages: PageSource
  /// Defects switched on by the quality suite. Change only while no thread is inside the allocator.
  public var bugs: Set<MimallocBug> { didSet { bugWord.pointee = MimallocBug.bits(of: bugs) } }
  /// ``bugs`` as one word, in memory of its own: a ``Heap`` tests a bug through this pointer
  /// (``Heap/has(_:)``), because a call on its `unowned(unsafe)` allocator retains and releases it first.
  /// Allocated in `init`, freed in `deinit`.
  let bugWord: UnsafeMutablePointer<UInt64>
  /// Record delayed-state transitions for MI3 (on by default; one mutex acquisition per transition).
  public var recordsTransitions = true
  /// The transitions recorded so far (MI3 reads its `forbidden` list).
  public let transitions = DelayedTransitionLog()

  let abandonedPool = AbandonedPool()
  let qsbr = QSBRClock()

  /// Counts the changes that reach beyond the page an operation touched (see Mimalloc+StructureEpoch.swift):
  /// a page entering, leaving or moving between queues, QSBR parking, a span carved or freed, a segment
  /// allocated, freed, abandoned or reclaimed, a delayed-free list drained, a collect, a heap made or gone.
  /// Between two such changes, ``checkInvariants(around:)`` sees everything an operation could break.
  /// Atomic (relaxed): real threads bump it concurrently; only quiescent readers compare it.
  let structureEpochCounter = Atomic<Int>(0)
  /// Opt-in, for a user on one OS thread (the harness's `MimallocAdapter`): a fresh page carved from its
  /// thread's span queues and pushed on its heap's queue does not move ``structureEpoch``; it is recorded in
  /// ``freshPages`` for the next ``checkInvariants(around:)``, which checks all it changed
  /// (Mimalloc+StructureEpoch.swift). Off (the default, and with real threads): such a page bumps the epoch.
  public var localFreshPages = false
  /// True while such a page is carved or queued: ``structuresChanged()`` then counts nothing.
  var quietFreshPage = false
  /// The page carved quietly whose queue push is still to come (the push is quiet only for it).
  var unqueuedFreshPage: MiPage? = nil
  /// The page carved and queued without moving the epoch since the last check, if any (at most one; either
  /// walk clears it).
  var freshPages: [MiPage] = []
  /// The serial of the last invariant walk; walks stamp pages and segments with it instead of building
  /// sets (Mimalloc+Invariants.swift). Touched only by the quiescent walks.
  var walkSerial: UInt64 = 0

  private struct Registry {
    /// Live segments by base address.
    var segments: [UInt: MiSegment] = [:]
    /// The huge ones among them (they may span several 32 MiB windows).
    var hugeSegments: [MiSegment] = []
    /// Every thread created since init / the last reset (exited ones included), creation order.
    var threads: [MiThread] = []
    var nextThreadId: UInt = 1
    var nextSerial = 0
    var corruptThreadFreeLists = 0
  }

  private let registry = TSanVisibleMutex(Registry())
  private var main: MiThread!

  public init(pages: PageSource = MmapPageSource(), bugs: Set<MimallocBug> = []) {
    self.pages = pages
    self.bugs = bugs
    bugWord = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    unsafe bugWord.initialize(to: MimallocBug.bits(of: bugs))
    main = makeThread(isMain: true)
  }

  deinit {
    releaseEverything()
    unsafe bugWord.deallocate()
  }

  /// The interpreter's main thread state: exists from init, never exits.
  public var mainThread: MiThread { main }

  /// A new thread state bound to its (logical or real) thread: four tagged heaps, a fresh id. Thread-safe.
  public func newThread() -> MiThread { makeThread(isMain: false) }

  private func makeThread(isMain: Bool) -> MiThread {
    let id = registry.withLock { r in
      defer { r.nextThreadId += 1 }
      return r.nextThreadId
    }
    let thread = MiThread(mimalloc: self, id: id, isMain: isMain)
    structuresChanged()
    registry.withLock { $0.threads.append(thread) }
    return thread
  }

  /// Every thread created since init or the last reset, exited ones included.
  public var threads: [MiThread] { registry.withLock { $0.threads } }

  /// Back to a fresh state: every segment unmapped, every thread and heap dead, a new main thread.
  /// Cost: one `release` per live segment plus dropping the objects. Not thread-safe.
  public func reset() {
    structuresChanged()
    freshPages.removeAll()
    unqueuedFreshPage = nil
    releaseEverything()
    abandonedPool.removeAll()
    qsbr.reset()
    transitions.clear()
    registry.withLock { $0 = Registry() }
    main = makeThread(isMain: true)
  }

  private func releaseEverything() {
    let (segments, threads) = registry.withLock { ($0.segments.values.map { $0 }, $0.threads) }
    for thread in threads {
      for heap in thread.heaps {
        heap.isAlive = false
        heap.queues = []
      }
      for heap in HeapTag.allCases.map(thread.heap) {
        heap.isAlive = false
        heap.queues = []
      }
      thread.heaps = []
      thread.qsbrPages = []
      thread.isAlive = false
    }
    registry.withLock { r in
      r.segments = [:]
      r.hugeSegments = []
    }
    for segment in segments { segment.releaseMemory(to: pages) }
  }

  // MARK: registry

  func register(_ segment: MiSegment) {
    registry.withLock { r in
      r.segments[segment.base] = segment
      if segment.isHuge { r.hugeSegments.append(segment) }
    }
  }

  func unregister(_ segment: MiSegment) {
    registry.withLock { r in
      r.segments.removeValue(forKey: segment.base)
      if segment.isHuge { r.hugeSegments.removeAll { $0 === segment } }
    }
  }

  /// Live segments, sorted by base.
  var liveSegments: [MiSegment] { registry.withLock { $0.segments.values.sorted { $0.base < $1.base } } }

  /// The live segment whose range `[base, end)` holds `address`, if any.
  func liveSegment(containing address: UInt) -> MiSegment? {
    registry.withLock { r in
      if let s = r.segments[address & ~MiConst.segmentMask], address < s.end { return s }
      return r.hugeSegments.first { address >= $0.base && address < $0.end }
    }
  }

  func nextSerial() -> Int { registry.withLock { r in defer { r.nextSerial += 1 }; return r.nextSerial } }

  func noteCorruptThreadFreeList() { registry.withLock { $0.corruptThreadFreeLists += 1 } }

  /// Remote lists dropped as corrupt (longer than the page's capacity or leaving the page; EFAULT upstream).
  public var corruptThreadFreeLists: Int { registry.withLock { $0.corruptThreadFreeLists } }

  var transitionLog: DelayedTransitionLog? { recordsTransitions ? transitions : nil }

  @inline(__always) func has(_ bug: MimallocBug) -> Bool { MimallocBug.isOn(bug, in: unsafe bugWord.pointee) }
}
