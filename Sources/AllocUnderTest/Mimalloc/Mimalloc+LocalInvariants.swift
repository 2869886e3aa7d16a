// Mimalloc+LocalInvariants.swift — `checkInvariants(around:)`: the invariants one malloc, free or realloc at
// `address` could have broken, without walking every heap and segment. The executor runs it after each op
// between two whole walks (``checkInvariants()``, on the oracle's cadence and always at the end), and the
// whole walk instead whenever ``structureEpoch`` moved: every change beyond the touched page (a page
// entering or leaving a queue, a segment mapped, abandoned or reclaimed, a delayed list drained, …) bumps
// it (Mimalloc+StructureEpoch.swift), so between bumps an op changes only its page, that page's heap's
// delayed list and the transition log. Cost: the page's free blocks, its heap's delayed list, its queue,
// its segment's spans, the abandoned pool and the live threads' span queues.
//
// Ids and messages as in the whole walk: MI1, MI2 (page lists, and the delayed list of the page's heap), MI4
// for the touched page; MI3; MI6 for the queue the page sits in (the heap's page_count needs every queue:
// the whole walk checks it, and only queue changes, which bump the epoch, move it); MI7 for its segment.
// After a quiet fresh page (``Mimalloc/localFreshPages``): also MI6 for every queue of its heap and MI7 for
// every live segment.

extension Mimalloc {
  @inline(never)
  public func checkInvariants(around address: Int) -> [InvariantViolation] {
    var sink = ViolationSink()
    let p = UInt(bitPattern: address)
    // A fresh page carved and queued without moving the epoch (Mimalloc+StructureEpoch.swift): covered here
    // only when it is the page at `address` (usual: the block just handed out); otherwise the whole walk.
    var freshHeap: Heap? = nil
    if !freshPages.isEmpty {
      let fresh = freshPages
      guard fresh.count == 1, let page = livePage(containing: p), page === fresh[0], let heap = page.heap, heap.isAlive,
            heap.thread.isAlive else {
        return checkInvariants()
      }
      freshPages.removeAll(keepingCapacity: true)
      freshHeap = heap
    }
    guard let segment = liveSegment(containing: p) else {
      checkTransitions(sink: &sink)
      return sink.found
    }
    let serial = nextWalkSerial()
    let page = livePage(containing: p)
    if let page {
      // MI2 for the delayed list the op could have pushed on (a remote free notifying the page's heap),
      // and the blocks of this page on it for MI2/MI4.
      var delayed: [DelayedBlock] = []
      if let heap = page.heap, heap.isAlive, heap.thread.isAlive {
        var onDelayed = Set<UInt>()
        walkDelayedList(of: heap, onDelayed: &onDelayed, sink: &sink) { if $0.page === page { delayed.append($0) } }
      }
      checkPage(page, delayed: delayed[...], sink: &sink)
    }
    checkTransitions(sink: &sink)
    if let page { checkQueue(holding: page, serial: serial, sink: &sink) }
    let threads = self.threads
    markPoolAndSpanQueues(threads: threads, serial: serial)
    checkSegment(segment, threads: threads, serial: serial, sink: &sink)
    if let heap = freshHeap {
      // After a fresh page: MI7 for every segment (the span-queue links it rewrote may belong to any segment
      // of the thread), and MI6 for every queue of its heap, with a serial of its own (the queue checked
      // above is stamped already).
      for other in liveSegments where other !== segment {
        checkSegment(other, threads: threads, serial: serial, sink: &sink)
      }
      checkQueues(of: heap, serial: nextWalkSerial(), sink: &sink)
    }
    return sink.found
  }

  /// MI6 for the queue `page` sits in: found by following its back links to the front and asking which of
  /// its heap's queues starts there. A used page of an owned segment in no live heap's queue is reported as
  /// the whole walk reports it.
  private func checkQueue(holding page: MiPage, serial: UInt64, sink: inout ViolationSink) {
    func notQueued() {
      if !page.segment.isAbandoned {
        sink.fail("MI6", "used page \(hex(Int(bitPattern: page.spanStart))) of an owned segment is in no live heap's queue")
      }
    }
    guard let heap = page.heap, heap.isAlive, heap.thread.isAlive else { return notQueued() }
    var front = page
    var steps = 0
    while let prev = front.prev, steps <= heap.pageCount {  // a longer way back loops: MI6 below finds it
      front = prev
      steps += 1
    }
    let queues = heap.queues
    guard let q = queues.firstIndex(where: { $0.first === front }) else { return notQueued() }
    checkQueue(heap, q, queues[q], serial: serial, sink: &sink)
    if page.walkMarks.queued != serial { notQueued() }
  }
}
