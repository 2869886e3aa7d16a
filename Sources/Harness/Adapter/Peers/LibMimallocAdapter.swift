// LibMimallocAdapter.swift — the `mimalloc` peer: heaps-family programs on the real libmimalloc (2.0.9), one
// OS thread per logical thread. t0 runs on ``LibMimalloc/main`` (mimalloc's main thread); `spawn` starts a
// ``BatonThread``; every call runs on the current thread's OS thread while the executor waits, so a program
// stays deterministic, cross-thread frees are real, and `exit` really ends the pthread (mimalloc's
// `_mi_thread_done` deletes its heaps and abandons its segments). Read-only queries (contains, usable size,
// in-region) run on the executor's thread while every baton thread is parked (the hand-off orders writes).
// CPython's four heaps per thread (2.0.9 has no tags): mem = the thread's backing heap (it absorbs deleted
// heaps, as CPython's MEM heap does); object, gc, gc_pre = three `mi_heap_new` heaps made when the thread
// starts. Their `mi_heap_t` structs are blocks of the backing heap (v2.0.9 src/heap.c `mi_heap_new_in_arena`),
// so visits and used counts of a backing heap leave out exactly those. Unanswerable queries and 2.0.9's
// differences: ``PeerAdapters/oracle(for:family:base:)``, Documentation/MimallocVersions.md.
// Requests above 1 GiB (``plausibleRequestLimit``) are refused here without a call: libmimalloc 2.0.9 serves
// them from the OS and its calloc touches every page (calloc(65536, 65536) took 5 s of kernel time, and a fuzz
// input holding one hung the heaps-diff target past its timeout). A refusal is one of the two outcomes the
// oracle allows there (O8), and the differential stops comparing at such a request anyway.

import AllocUnderTest
import Oracle

public final class LibMimallocAdapter: HeapsAdapter {
  public let lib: LibMimalloc
  public var name: String { "mimalloc-\(lib.versionString)" }

  /// One logical thread: its OS thread and its four heaps (mem, object, gc, gc_pre).
  struct PeerThread {
    var baton: BatonThread
    var heaps: [LibMimalloc.Heap]
    var alive = true
  }
  /// A heap_new heap: its handle, owner thread and whether it still exists.
  struct MadeHeap {
    var heap: LibMimalloc.Heap
    var owner: Int
    var alive = true
  }
  private var threads: [PeerThread] = []
  private var made: [MadeHeap] = []
  public private(set) var currentThread = 0
  /// Blocks handed out and not freed: address → the heap it was taken from (nil once its thread exited).
  /// Only for ``reset()``, which frees what a stopped run left behind.
  private var handedOut: [Int: LibMimalloc.Heap?] = [:]

  /// Claims the process's libmimalloc main thread (one adapter at a time).
  public init() throws(PeerUnavailable) {
    let lib = try LibMimalloc.shared()
    guard lib.holder.claim("libmimalloc adapter") else {
      throw PeerUnavailable(peer: .mimalloc, reason: "libmimalloc's main thread is in use by \(lib.holder.holderName ?? "another adapter") in this process")
    }
    self.lib = lib
    threads = [PeerThread(baton: lib.main, heaps: lib.main.run { Self.cpythonHeaps(lib) })]
  }

  deinit {
    reset()
    let lib = self.lib
    let heaps = threads[0].heaps
    lib.main.run { for h in heaps.dropFirst() { lib.heapDelete(h) } }
    lib.holder.release()
  }

  /// The calling thread's four CPython heaps: its backing heap, then three new ones.
  private static func cpythonHeaps(_ lib: LibMimalloc) -> [LibMimalloc.Heap] {
    let backing = lib.backingHeap()
    return [backing] + (1...3).map { _ in
      guard let h = lib.heapNew() else { preconditionFailure("libmimalloc: mi_heap_new returned NULL") }
      return h
    }
  }

  private var current: PeerThread { threads[currentThread] }
  /// Runs `body` on the current logical thread's OS thread.
  private func onCurrent<T>(_ body: () -> T) -> T { current.baton.run(body) }

  private func handle(_ r: HeapRef) -> LibMimalloc.Heap {
    switch r {
    case .tagged(let tag): current.heaps[tag.rawValue]
    case .made(let id): made[id].heap
    }
  }
  private func handle(_ ident: HeapIdentity) -> LibMimalloc.Heap? {
    switch ident {
    case .tagged(let t, let tag): threads.indices.contains(t) && threads[t].alive ? threads[t].heaps[tag] : nil
    case .made(let id): made.indices.contains(id) && made[id].alive ? made[id].heap : nil
    }
  }
  /// Every live heap with its identity.
  private var liveHeaps: [(HeapIdentity, LibMimalloc.Heap)] {
    var out: [(HeapIdentity, LibMimalloc.Heap)] = []
    for (t, thread) in threads.enumerated() where thread.alive {
      for (tag, h) in thread.heaps.enumerated() { out.append((.tagged(thread: t, tag: tag), h)) }
    }
    for (id, m) in made.enumerated() where m.alive { out.append((.made(id), m.heap)) }
    return out
  }

  /// The `mi_heap_t` structs that are blocks of thread `t`'s backing heap: its other tagged heaps and its
  /// live heap_new heaps.
  private func heapStructs(ofThread t: Int) -> Set<Int> {
    var s = Set(threads[t].heaps.dropFirst().map(\.address))
    for m in made where m.alive && m.owner == t { s.insert(m.heap.address) }
    return s
  }
  /// The thread whose backing heap `h` is, if it is one.
  private func backingOwner(_ h: LibMimalloc.Heap) -> Int? {
    threads.indices.first { threads[$0].alive && threads[$0].heaps[0] == h }
  }
  private func owner(of ident: HeapIdentity) -> Int {
    switch ident {
    case .tagged(let t, _): t
    case .made(let id): made[id].owner
    }
  }

  private func track(_ a: Int?, in h: LibMimalloc.Heap) -> Int? {
    if let a { handedOut[a] = h }
    return a
  }

  // MARK: AllocatorAdapter (current thread, mem heap)

  /// A request the adapter refuses without calling the library (see the header).
  private static func refused(_ n: UInt64) -> Bool { n > plausibleRequestLimit }
  private static func refused(_ c: UInt64, _ s: UInt64) -> Bool {
    let (total, overflow) = c.multipliedReportingOverflow(by: s)
    return !overflow && refused(total)  // an overflowing product the library refuses at once itself
  }

  public func malloc(_ n: UInt64) -> Int? {
    if Self.refused(n) { return nil }
    let (lib, h) = (lib, current.heaps[0])
    return track(onCurrent { lib.heapMalloc(h, n) }, in: h)
  }
  public func calloc(_ c: UInt64, _ s: UInt64) -> Int? {
    if Self.refused(c, s) { return nil }
    let (lib, h) = (lib, current.heaps[0])
    return track(onCurrent { lib.heapCalloc(h, c, s) }, in: h)
  }
  public func realloc(_ a: Int?, _ n: UInt64) -> Int? {
    if Self.refused(n) { return nil }  // the old block stays, as on any failure
    let (lib, h) = (lib, current.heaps[0])
    guard let r = onCurrent({ lib.heapRealloc(h, a, n) }) else { return nil }  // on failure the old block stays
    if let a, a != r { handedOut[a] = nil }
    if a != r { handedOut[r] = h }
    return r
  }
  public func free(_ a: Int?) {
    if let a { handedOut[a] = nil }
    let lib = lib
    onCurrent { lib.free(a) }
  }
  public func usableSize(_ a: Int) -> Int { lib.usableSize(a) }
  /// Inside a live mimalloc segment (`mi_is_in_heap_region`): the "owned" of O13 for mimalloc.
  public func ownsSmall(_ a: Int) -> Bool { lib.isInHeapRegion(a) }
  /// libmimalloc has no allocated-or-free query outside a visit; O7 and H2 are left out for this peer.
  public func isAllocated(_ a: Int) -> Bool? { nil }
  public var injectedFaults: Int { 0 }
  /// Not observable (the library maps through its own OS layer); H7 is left out for this peer.
  public var mappedBytes: Int { 0 }
  public func snapshot() -> StatsSnapshot? { nil }
  public func statsText() -> String? { nil }
  public func checkInvariants() -> [(id: String, detail: String)] { [] }

  /// Ends every spawned thread (mimalloc abandons their segments), deletes t0's heap_new heaps, has t0
  /// reclaim every abandoned segment (a forced collect on the main thread), frees what a stopped run left
  /// behind — only blocks a visit of t0's heaps still shows, so nothing already gone (destroyed with its
  /// heap) is freed twice — and collects again. t0's four heaps stay.
  public func reset() {
    for t in threads.indices.dropFirst() where threads[t].alive { threads[t].baton.finish() }
    let lib = lib
    let t0 = threads[0]
    let doomed = made.filter { $0.alive && $0.owner == 0 }.map(\.heap)
    let structs = Set(t0.heaps.dropFirst().map(\.address))
    let leftovers = handedOut
    lib.main.run {
      for h in doomed { lib.heapDelete(h) }
      lib.collect(force: true)
      var found: [Int] = []
      for h in t0.heaps {
        found += lib.visit(h, allBlocks: true).blocks.map(\.start).filter { leftovers[$0] != nil && !structs.contains($0) }
      }
      for a in found { lib.free(a) }
      lib.collect(force: true)
    }
    threads = [t0]
    made = []
    currentThread = 0
    handedOut = [:]
  }

  // MARK: HeapsAdapter

  public func spawnThread() -> Int {
    let baton = BatonThread(name: "mimalloc-t\(threads.count)")
    let lib = lib
    threads.append(PeerThread(baton: baton, heaps: baton.run { Self.cpythonHeaps(lib) }))
    return threads.count - 1
  }
  public func switchThread(_ id: Int) { currentThread = id }
  /// The pthread returns: `_mi_thread_done` deletes its heap_new heaps (object, gc, gc_pre and the program's)
  /// into the backing heap and abandons what is still used.
  public func exitThread() {
    let t = currentThread
    threads[t].baton.finish()
    threads[t].alive = false
    for id in made.indices where made[id].owner == t { made[id].alive = false }
    for (a, h) in handedOut where h.map({ threads[t].heaps.contains($0) || madeHandles(ownedBy: t).contains($0) }) == true {
      handedOut[a] = .some(nil)
    }
    currentThread = 0
  }
  private func madeHandles(ownedBy t: Int) -> Set<LibMimalloc.Heap> { Set(made.filter { $0.owner == t }.map(\.heap)) }

  public func heapNew() -> Int {
    let lib = lib
    guard let h = onCurrent({ lib.heapNew() }) else { preconditionFailure("libmimalloc: mi_heap_new returned NULL") }
    made.append(MadeHeap(heap: h, owner: currentThread))
    return made.count - 1
  }
  public func heapDestroy(_ id: Int) {
    let (lib, h) = (lib, made[id].heap)
    onCurrent { lib.heapDestroy(h) }
    made[id].alive = false
    for (a, home) in handedOut where home == h { handedOut[a] = nil }
  }
  public func heapDelete(_ id: Int) {
    let (lib, h, backing) = (lib, made[id].heap, current.heaps[0])
    onCurrent { lib.heapDelete(h) }
    made[id].alive = false
    for (a, home) in handedOut where home == h { handedOut[a] = backing }
  }
  public func heapCollect(_ r: HeapRef, force: Bool) {
    let (lib, h) = (lib, handle(r))
    onCurrent { lib.heapCollect(h, force: force) }
  }
  /// Every allocated block of the heap (`mi_heap_visit_blocks` with all blocks), less the heap structs.
  public func heapVisit(_ r: HeapRef) -> [(start: Int, size: Int)] {
    let (lib, h) = (lib, handle(r))
    let structs = backingOwner(h).map { heapStructs(ofThread: $0) } ?? []
    return onCurrent { () -> [(start: Int, size: Int)] in
      lib.heapCollect(h, force: false)
      return lib.visit(h, allBlocks: true).blocks
    }.filter { !structs.contains($0.start) }
  }
  public func heapMalloc(_ r: HeapRef, _ n: UInt64) -> Int? {
    if Self.refused(n) { return nil }
    let (lib, h) = (lib, handle(r))
    return track(onCurrent { lib.heapMalloc(h, n) }, in: h)
  }
  public func heapMallocAligned(_ r: HeapRef, _ n: UInt64, alignment: UInt64) -> Int? {
    if Self.refused(n) { return nil }
    let (lib, h) = (lib, handle(r))
    return track(onCurrent { lib.heapMallocAligned(h, n, alignment: alignment) }, in: h)
  }
  /// `mi_collect(force)` on the current thread (its default heap is its backing heap; on t0 with force,
  /// every abandoned segment is reclaimed first).
  public func collect(force: Bool) {
    let lib = lib
    onCurrent { lib.collect(force: force) }
  }
  /// No-op: QSBR is CPython's (2.1.2 as CPython patches it); 2.0.9 frees empty pages at once.
  public func quiescent() {}

  public func heapsContaining(_ address: Int) -> [HeapIdentity] {
    liveHeaps.filter { lib.heapContains($0.1, address) }.map(\.0)
  }
  public func heapContains(_ ident: HeapIdentity, _ address: Int) -> Bool {
    handle(ident).map { lib.heapContains($0, address) } ?? false
  }
  /// Σ `page->used` over the heap's areas (a visit without blocks, on the owner's thread), less the heap
  /// structs a backing heap holds.
  public func heapUsedBlocks(_ ident: HeapIdentity) -> Int {
    guard let h = handle(ident) else { return 0 }
    let lib = lib
    let structs = backingOwner(h).map { heapStructs(ofThread: $0) } ?? []
    let used = threads[owner(of: ident)].baton.run { lib.visit(h, allBlocks: false) }.areas.reduce(0) { $0 + $1.used }
    return used - structs.count { lib.heapContains(h, $0) }
  }
  /// Not observable (no API counts blocks of abandoned pages): −1; H6 is left out for this peer.
  public var blocksInUse: Int { -1 }
  /// Not observable (no segment count in a release libmimalloc): −1; H7 is left out for this peer.
  public var segmentCount: Int { -1 }

  /// Every spawned live thread collects each of its heaps with force, then t0 does (its forced `mi_collect`
  /// reclaims every abandoned segment), twice, so pages freed into reclaimed segments go too.
  public func settle() {
    let lib = lib
    for _ in 0..<2 {
      for t in threads.indices.dropFirst() where threads[t].alive {
        let heaps = threads[t].heaps + made.filter { $0.alive && $0.owner == t }.map(\.heap)
        threads[t].baton.run { for h in heaps.reversed() { lib.heapCollect(h, force: true) } }
      }
      let heaps = threads[0].heaps + made.filter { $0.alive && $0.owner == 0 }.map(\.heap)
      lib.main.run {
        lib.collect(force: true)
        for h in heaps.dropFirst() { lib.heapCollect(h, force: true) }
      }
    }
  }
}
