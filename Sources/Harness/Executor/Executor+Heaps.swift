// Executor+Heaps.swift — the heaps-family ops (logical threads, first-class heaps, collect, QSBR) and the
// heap rules they trigger: H1 on every new block and every sweep, H2 after heap_destroy, H3 after
// heap_delete, H4 on heap_visit, H5 after a forced collect, H6/H7 once the run is settled. The model side
// is two facts per block: which heap holds it (``ModelBlock/home``; nil once its thread exited) and its
// contents (the canaries the other rules check).

import AllocUnderTest
import Oracle

extension Executor {
  /// Runs one heaps-family op that is not malloc/calloc/realloc/free. `statics` still describes the state
  /// before the op.
  mutating func heapStep(_ i: Int, _ op: Op, defines id: Int?) -> Violation? {
    let h = heaps!  // run() checked that heaps-family programs get a HeapsAdapter
    let cur = statics.current
    touchedAddress = nil
    movedFrom = nil
    // Thread and heap ops change pages and segments no one address names (abandonment, reclaim, a heap's
    // pages, delayed frees): the invariants walk everything after them. Exceptions: ops that change nothing
    // (spawn, switch), and ops whose every change beyond their block moves the adapter's structure epoch
    // (heap_new, heap allocations, which name their block).
    walkAfterOp = true
    switch op {
    case .spawn:
      walkAfterOp = false  // a thread with empty heaps
      record(i, "t\(h.spawnThread()) = spawn()" + threadNote, "ok")
    case .switchThread(let t):
      walkAfterOp = false  // no structure changes
      h.switchThread(t.id)
      record(i, "thread(\(t))", "ok")
    case .exitThread:
      h.exitThread()
      var orphaned = 0
      for b in live.all where belongs(b, toThread: cur) {
        live.setHome(id: b.id, nil)
        orphaned += 1
      }
      record(i, "exit()" + threadNote, "ok, \(orphaned) blocks orphaned")
    case .heapNew:
      walkAfterOp = false  // an empty heap; adding it moves the structure epoch
      record(i, "h\(h.heapNew()) = heap_new()" + threadNote, "ok")
    case .heapDestroy(let r):
      let ident = r.identity(on: cur)
      let doomed = live.all.filter { $0.home == ident }
      h.heapDestroy(r.madeID!)
      for b in doomed { live.remove(id: b.id) }
      record(i, "heap_destroy(\(r))" + threadNote, "ok, \(doomed.count) blocks destroyed")
      if rules.contains(.destroyFreesAll),
        let v = HeapRules.destroyFreesAll(opIndex: i, heap: ident, destroyed: doomed, survivors: live.all,
                                          allocated: { adapter.isAllocated($0.address) }) {
        return v
      }
    case .heapDelete(let r):
      let ident = r.identity(on: cur)
      let backing = HeapIdentity.tagged(thread: cur, tag: HeapTag.mem.rawValue)
      let moved = live.all.filter { $0.home == ident }
      h.heapDelete(r.madeID!)
      for b in moved { live.setHome(id: b.id, backing) }
      record(i, "heap_delete(\(r))" + threadNote, "ok, \(moved.count) blocks moved to \(backing)")
      if rules.contains(.deleteMovesToBacking),
        let v = HeapRules.deleteMovesToBacking(opIndex: i, deleted: ident, backing: backing, moved: moved,
                                               containedByBacking: { h.heapContains(backing, $0.address) }) {
        return v
      }
    case .heapCollect(let r, let force):
      h.heapCollect(r, force: force)
      record(i, ProgramText.renderLine(op, definedName: nil) + threadNote, "ok")
      if force { return collected(i, r.identity(on: cur)) }
    case .heapVisit(let r):
      let ident = r.identity(on: cur)
      let reported = h.heapVisit(r)
      record(i, "heap_visit(\(r))" + threadNote, "\(reported.count) blocks")
      if config.observe { observeVisit(i, heap: ident, reported: reported) }
      if rules.contains(.visitExact) {
        let expected = blocks(in: ident).map { (block: $0, usable: adapter.usableSize($0.address)) }
        if let v = HeapRules.visitExact(opIndex: i, heap: ident, expected: expected, reported: reported) { return v }
      }
    case .heapMalloc(let r, let n):
      walkAfterOp = false
      let before = adapter.injectedFaults
      let a = h.heapMalloc(r, n)
      return allocated(i, id: id!, kind: .malloc, requested: n, address: a, fault: adapter.injectedFaults > before,
                       home: r.identity(on: cur), text: "p\(id!) = heap_malloc(\(r), \(n))")
    case .heapMallocAligned(let r, let n, let alignment):
      walkAfterOp = false
      let before = adapter.injectedFaults
      let a = h.heapMallocAligned(r, n, alignment: alignment)
      return allocated(i, id: id!, kind: .malloc, requested: n, address: a, fault: adapter.injectedFaults > before,
                       home: r.identity(on: cur), alignment: alignment,
                       text: "p\(id!) = heap_malloc_aligned(\(r), \(n), \(alignment))")
    case .collect(let force):
      h.collect(force: force)
      record(i, ProgramText.renderLine(op, definedName: nil) + threadNote, "ok")
      if force { return collected(i, .tagged(thread: cur, tag: HeapTag.mem.rawValue)) }
    case .quiescent:
      h.quiescent()
      record(i, "quiescent()" + threadNote, "ok")
    case .malloc, .calloc, .realloc, .free:
      preconditionFailure("heapStep: \(op.kind.name) is run by step")
    case .domain:
      preconditionFailure("heapStep: \(op.kind.name) is a domains-family op (DomainsExecutor runs it)")
    }
    return nil
  }

  /// " # t3" after a trace line run on a thread other than t0 (heaps family only).
  var threadNote: String { heaps != nil && statics.current != 0 ? "  # on t\(statics.current)" : "" }

  /// Does `b` live in one of `thread`'s heaps (its tagged heaps or its heap_new heaps)?
  func belongs(_ b: ModelBlock, toThread thread: Int) -> Bool {
    switch b.home {
    case .tagged(let t, _)?: t == thread
    case .made(let k)?: statics.heapOwner[k] == thread
    case nil: false
    }
  }

  /// The live blocks a heap must hold: those the model files under it, plus orphans it reclaimed.
  func blocks(in ident: HeapIdentity) -> [ModelBlock] {
    live.all.filter { $0.home == ident || ($0.home == nil && heaps!.heapContains(ident, $0.address)) }
  }

  /// H5 right after the owner of `ident` collected with force.
  func collected(_ i: Int, _ ident: HeapIdentity) -> Violation? {
    guard rules.contains(.remoteFreesReclaimed) else { return nil }
    return HeapRules.remoteFreesReclaimed(opIndex: i, heap: ident, used: heaps!.heapUsedBlocks(ident),
                                          live: blocks(in: ident).count, afterForcedCollect: true)
  }

  /// H1 for one block (nothing in the pymalloc family).
  func membership(_ i: Int, _ b: ModelBlock) -> Violation? {
    guard let h = heaps, rules.contains(.heapMembership) else { return nil }
    return HeapRules.membership(opIndex: i, b, containing: h.heapsContaining(b.address))
  }

  /// The heap part of a sweep: H1 for every live block, H6's lower bound.
  func heapSweep(_ i: Int) -> Violation? {
    guard let h = heaps else { return nil }
    for b in live.all { if let v = membership(i, b) { return v } }
    if rules.contains(.noBlockLost), let v = HeapRules.noBlockLost(opIndex: i, inUse: h.blocksInUse, live: live.count, settled: false) {
      return v
    }
    return nil
  }

  /// After teardown: settle every thread, then H6 (nothing counted in use) and H7 (nothing mapped).
  mutating func settledChecks(opIndex i: Int) -> Violation? {
    let h = heaps!
    h.settle()
    record(i, "# settle: every thread quiescent and collected", "\(h.blocksInUse) in use, \(h.segmentCount) segments")
    if rules.contains(.noBlockLost), let v = HeapRules.noBlockLost(opIndex: i, inUse: h.blocksInUse, live: live.count, settled: true) {
      return v
    }
    if rules.contains(.footprintBounded),
      let v = HeapRules.footprintBounded(opIndex: i, segments: h.segmentCount, mappedBytes: adapter.mappedBytes) {
      return v
    }
    return nil
  }
}
