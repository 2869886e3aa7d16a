// MimallocAdapter.swift — drives the reference ``Mimalloc`` through ``AllocatorAdapter`` and
// ``HeapsAdapter``: logical threads are ``MiThread``s driven from the one OS thread the executor runs on,
// so cross-thread frees, abandonment and reclaim replay exactly. Threads and heap_new heaps are kept in
// arrays indexed by the program's own ids; plain malloc/calloc/realloc/free use the current thread's mem
// (backing) heap, as PyMem_* does in the free-threaded build.

import AllocUnderTest
import Oracle

public final class MimallocAdapter: HeapsAdapter {
  public let allocator: Mimalloc
  public var name: String { "mimalloc" }
  /// Logical threads by program id (t0 = the allocator's main thread); dead ones stay, marked by `isAlive`.
  private var threads: [MiThread] = []
  /// heap_new heaps by program id.
  private var made: [Heap] = []
  public private(set) var currentThread = 0

  /// The page source keeps four released regions of up to 64 MiB (``MmapPageSource`` recycling): a reset per
  /// run (a fuzz input) takes its 32 MiB segments back (one or more per logical thread), zeroed where touched, instead of mapping and
  /// faulting in fresh ones.
  public init(bugs: Set<MimallocBug> = [], faults: FaultPlan = .never) {
    allocator = Mimalloc(pages: MmapPageSource(faults: faults, recycle: 4), bugs: bugs)
    // One OS thread drives every logical thread: a fresh page need not force the whole walk (its local
    // check covers it; Mimalloc+StructureEpoch.swift).
    allocator.localFreshPages = true
    threads = [allocator.mainThread]
  }

  private var current: MiThread { threads[currentThread] }
  private func heap(_ r: HeapRef) -> Heap {
    switch r {
    case .tagged(let tag): current.heap(tag)
    case .made(let id): made[id]
    }
  }
  private func heap(_ ident: HeapIdentity) -> Heap? {
    switch ident {
    case .tagged(let t, let tag): threads[t].isAlive ? threads[t].heap(HeapTag(rawValue: tag)!) : nil
    case .made(let id): made[id].isAlive ? made[id] : nil
    }
  }
  /// Every live heap with its identity: tagged heaps thread by thread, then heap_new heaps. Cached (H1's
  /// sweep asks every heap about every block); dropped by every op that makes or ends a thread or heap.
  private var liveHeaps: [(HeapIdentity, Heap)] {
    if let cached = liveHeapsCache { return cached }
    var out: [(HeapIdentity, Heap)] = []
    for (t, thread) in threads.enumerated() where thread.isAlive {
      for tag in HeapTag.allCases { out.append((.tagged(thread: t, tag: tag.rawValue), thread.heap(tag))) }
    }
    for (id, h) in made.enumerated() where h.isAlive { out.append((.made(id), h)) }
    liveHeapsCache = out
    return out
  }
  private var liveHeapsCache: [(HeapIdentity, Heap)]? = nil

  // MARK: AllocatorAdapter (current thread, mem heap)

  public func malloc(_ n: UInt64) -> Int? { current.backing.malloc(n) }
  public func calloc(_ c: UInt64, _ s: UInt64) -> Int? { current.backing.calloc(c, s) }
  public func realloc(_ a: Int?, _ n: UInt64) -> Int? { current.backing.realloc(a, n) }
  public func free(_ a: Int?) { current.free(a) }
  public func usableSize(_ a: Int) -> Int { allocator.usableSize(a) }
  public func ownsSmall(_ a: Int) -> Bool { allocator.owns(a) }
  public func isAllocated(_ a: Int) -> Bool? {
    switch allocator.blockState(a) {
    case .allocated: true
    case .free: false
    case .notOwned: nil
    }
  }
  public var injectedFaults: Int { allocator.pages.faults.injected }
  public var mappedBytes: Int { allocator.pages.mappedBytes }
  public func snapshot() -> StatsSnapshot? { nil }
  public func statsText() -> String? { nil }
  public func checkInvariants() -> [(id: String, detail: String)] { allocator.checkInvariants().map { ($0.id, $0.detail) } }
  public func checkInvariantsBetweenOps() -> [(id: String, detail: String)] {
    allocator.checkInvariants(reusingPassedPages: true).map { ($0.id, $0.detail) }
  }
  public func checkInvariants(around address: Int) -> [(id: String, detail: String)] {
    allocator.checkInvariants(around: address).map { ($0.id, $0.detail) }
  }
  public var structureEpoch: Int? { allocator.structureEpoch }

  public func reset() {
    allocator.reset()
    allocator.pages.faults.resetCounts()
    threads = [allocator.mainThread]
    made = []
    currentThread = 0
    liveHeapsCache = nil
  }

  // MARK: HeapsAdapter

  public func spawnThread() -> Int {
    threads.append(allocator.newThread())
    liveHeapsCache = nil
    return threads.count - 1
  }
  public func switchThread(_ id: Int) { currentThread = id }
  public func exitThread() {
    current.exit()
    liveHeapsCache = nil
    currentThread = 0
  }
  public func heapNew() -> Int {
    made.append(current.heapNew())
    liveHeapsCache = nil
    return made.count - 1
  }
  public func heapDestroy(_ id: Int) {
    made[id].destroy()
    liveHeapsCache = nil
  }
  public func heapDelete(_ id: Int) {
    made[id].delete()
    liveHeapsCache = nil
  }
  public func heapCollect(_ r: HeapRef, force: Bool) { heap(r).collect(force: force) }
  public func heapVisit(_ r: HeapRef) -> [(start: Int, size: Int)] {
    var out: [(start: Int, size: Int)] = []
    _ = heap(r).visitBlocks(all: true) { _, block, size in
      if let block { out.append((block, size)) }
      return true
    }
    return out
  }
  public func heapMalloc(_ r: HeapRef, _ n: UInt64) -> Int? { heap(r).malloc(n) }
  public func heapMallocAligned(_ r: HeapRef, _ n: UInt64, alignment: UInt64) -> Int? {
    guard alignment <= UInt64(Int.max) else { return nil }
    return heap(r).mallocAligned(n, alignment: Int(alignment))
  }
  public func collect(force: Bool) { current.collect(force: force) }
  public func quiescent() { current.quiescent() }

  /// In `liveHeaps` order; the address is looked up once for all heaps (the sweep asks about every block).
  public func heapsContaining(_ address: Int) -> [HeapIdentity] {
    let block = allocator.lookup(address)
    var out: [HeapIdentity] = []
    for (ident, heap) in liveHeaps where heap.contains(block) { out.append(ident) }
    return out
  }
  public func heapContains(_ ident: HeapIdentity, _ address: Int) -> Bool { heap(ident)?.contains(address) ?? false }
  public func heapUsedBlocks(_ ident: HeapIdentity) -> Int { heap(ident)?.usedBlocks() ?? 0 }
  public var blocksInUse: Int { allocator.stats().blocksInUse }
  public var segmentCount: Int { allocator.stats().segments }

  /// Every live thread quiescent, then every live heap collected with force, the main thread last (its
  /// forced collect reclaims abandoned segments); three rounds, so pages whose QSBR goal was set in one
  /// round are freed in the next.
  public func settle() {
    for _ in 0..<3 {
      for thread in threads where thread.isAlive { thread.quiescent() }
      for (ident, h) in liveHeaps.reversed() where ident != .tagged(thread: 0, tag: 0) { h.collect(force: true) }
      allocator.mainThread.collect(force: true)
      for tag in HeapTag.allCases { allocator.mainThread.heap(tag).collect(force: true) }
    }
  }
}
