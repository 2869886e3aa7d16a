// Mimalloc+Invariants.swift — `checkInvariants()`: the walkers of spec mimalloc.md §4.6, reporting broken
// structure as ``InvariantViolation`` values (id + numbers), never trapping. Walks are bounded and every
// link is range-checked before it is followed, so corruption yields a violation, not a crash. Call it with
// no operation in flight (states 1 and half-done pushes are then bugs). Ids, level and cost (R29): see
// ``checkInvariants()``. The per-id walkers: Mimalloc+PageInvariants.swift (MI1, MI2, MI4),
// +QueueInvariants.swift (MI6), +SegmentInvariants.swift (MI7); the check around one address, run between
// two whole walks: Mimalloc+LocalInvariants.swift.
//
// The executor runs a whole walk after many ops (4 in the first 16, then 4 per doubling, and every op that moved
// ``Mimalloc/structureEpoch``), and it almost never fails, so the passing path is kept
// cheap: message text is built only for a reported violation (``ViolationSink``), list memberships are
// stamps on the pages and segments (``PageWalkMarks``, serial per walk) instead of sets, block marks live on
// the stack, no walk builds arrays of spans, heaps or threads, and each segment's spans are visited once
// (pages, queue membership and MI7 together, each part reporting into its own sink so the order of the
// report stays: delayed lists and pages, transitions, queues, segments).

/// Collects a walk's violations: the first 20, each detail built only when kept.
struct ViolationSink {
  private(set) var found: [InvariantViolation] = []
  /// Every failure reported, kept or not.
  private(set) var failures = 0

  mutating func fail(_ id: String, _ detail: @autoclosure () -> String) {
    failures += 1
    if found.count < 20 { found.append(.init(id: id, detail: detail())) }
  }

  /// The first 20 of `parts`' violations, part by part: what one sink fed in this order would hold.
  static func report(_ parts: ViolationSink...) -> [InvariantViolation] {
    Array(parts.lazy.flatMap(\.found).prefix(20))
  }
}

/// A block on a live heap's delayed-free list, with the used page holding it (MI2, MI4).
struct DelayedBlock {
  unowned(unsafe) let page: MiPage
  unowned(unsafe) let heap: Heap
  let block: UInt
}

/// What the running walk learned about one page (``MiPage/walkMarks``). A field counts only while its serial
/// equals the walk's (``Mimalloc/walkSerial``), so nothing needs clearing between walks.
struct PageWalkMarks {
  /// Serial of the walk that found the page in a heap queue (MI6: in two queues, or a loop).
  var queued: UInt64 = 0
  /// Serial of the walk that found the free span in a span queue, and the bin it was in (MI7).
  var spanQueued: UInt64 = 0
  var spanBin = 0
  /// Serial of the walk whose sorted delayed-block table holds this page's blocks at `delayed` (MI2, MI4).
  var delayedSerial: UInt64 = 0
  var delayed: Range<Int> = 0..<0
}

extension Mimalloc {
  /// The invariant walkers. Ids, level and cost (R29):
  ///   MI1 page counts (I1): capacity == used + |free| + |localFree|, used ≤ capacity ≤ reserved,
  ///       reserved == area / bsize                                  L1, O(used pages + free blocks)
  ///   MI2 lists (I2): every free/local/remote/delayed block in its page, below capacity, at a block
  ///       boundary; lists acyclic and pairwise disjoint             L2, O(free blocks + delayed blocks)
  ///   MI3 transitions (I3): every recorded delayed-state change is one §4.2 allows     L1, O(forbidden)
  ///   MI4 notification (I4): no page in state 1; state 2 ⇒ a block of the page on its heap's delayed list;
  ///       for a used page, xheap nil ⇔ state 3                       L2, O(used pages + delayed blocks)
  ///   MI6 queues (I6): each live heap's queues are consistent lists of its own used pages, in_full ⇔ queue
  ///       74, else the queue of the block size; a QSBR-parked page is never in queue 74 (gh-145615);
  ///       page_count matches; no page in two queues; every used page of an owned segment is queued in its
  ///       heap                                                        L1, O(used pages)
  ///   MI7 segments (I7): spans tile the segment, used == used spans, abandoned ≤ used; thread id 0 ⇔ in the
  ///       abandoned pool ⇒ every page abandoned (xheap nil, state 3); else owned by a live thread whose heaps
  ///       own its pages, no abandoned pages; free spans queued iff normal and owned, in the right bin; the
  ///       slice table names exactly the used pages                      L1, O(segments × 512)
  /// (MI5, the liveness property I5, is not a state check; the oracle's H5/H7 cover it.)
  ///
  /// `reusingPassedPages`: skip MI1/MI2/MI4 of a page whose fields (``MiPage/checkKey``) are what they were
  /// when its last check passed and which has no block on a delayed list, now or then. Every write the
  /// allocator makes to a page's lists moves a head, a count or the remote word, so such a page is
  /// unchanged — unless something wrote into one of its free blocks from outside the page (a wild store).
  /// The executor's walks between ops reuse; the walks at the end of a program and of its teardown do not,
  /// so such a store is still reported, at the end.
  @inline(never)
  public func checkInvariants(reusingPassedPages: Bool = false) -> [InvariantViolation] {
    var pages = ViolationSink(), transitions = ViolationSink(), queues = ViolationSink(), segments = ViolationSink()
    freshPages.removeAll(keepingCapacity: true)  // this walk sees everything they changed
    let serial = nextWalkSerial()
    let live = liveSegments
    let threads = self.threads

    // MI2 (delayed lists) first: which blocks of which page sit on which heap's list.
    let delayed = collectDelayedBlocks(threads: threads, serial: serial, sink: &pages)
    checkTransitions(sink: &transitions)
    // MI6's queue walks stamp every queued page; the pool and span queues stamp MI7's memberships.
    checkQueues(threads: threads, serial: serial, sink: &queues)
    markPoolAndSpanQueues(threads: threads, serial: serial)

    // One pass over every segment's spans: MI7, and for each used page MI1, MI2 (page lists), MI4 and
    // MI6's "queued somewhere" for pages of owned segments.
    for segment in live {
      let owned = !segment.isAbandoned
      checkSegment(segment, threads: threads, serial: serial, sink: &segments) { page in
        let marks = page.walkMarks
        let onDelayed = marks.delayedSerial == serial ? delayed[marks.delayed] : []
        if !(reusingPassedPages && onDelayed.isEmpty && page.passedCheck == page.checkKey) {
          checkPage(page, delayed: onDelayed, sink: &pages)
        }
        if owned && marks.queued != serial {
          queues.fail("MI6", "used page \(hex(Int(bitPattern: page.spanStart))) of an owned segment is in no live heap's queue")
        }
      }
    }
    return ViolationSink.report(pages, transitions, queues, segments)
  }

  /// A fresh serial for the page and segment stamps of one walk.
  func nextWalkSerial() -> UInt64 {
    walkSerial += 1
    return walkSerial
  }

  /// MI3: the forbidden transitions recorded so far.
  func checkTransitions(sink: inout ViolationSink) {
    for t in transitions.forbidden { sink.fail("MI3", "forbidden delayed-state transition \(t)") }
  }

  /// MI2 for every live heap's delayed list (each block in a used page, below capacity, on one list only).
  /// Returns the blocks sorted by page, list order kept within a page, and stamps each page with its range.
  private func collectDelayedBlocks(threads: [MiThread], serial: UInt64, sink: inout ViolationSink) -> [DelayedBlock] {
    var delayed: [DelayedBlock] = []
    var onDelayed = Set<UInt>()  // stays empty (no allocation) while every list is empty, the usual case
    for thread in threads where thread.isAlive {
      for heap in thread.heaps {
        walkDelayedList(of: heap, onDelayed: &onDelayed, sink: &sink) { delayed.append($0) }
      }
    }
    guard !delayed.isEmpty else { return [] }
    let sorted = delayed.enumerated()
      .sorted { ($0.element.page.spanStart, $0.offset) < ($1.element.page.spanStart, $1.offset) }
      .map(\.element)
    var start = 0
    for k in sorted.indices where k + 1 == sorted.count || sorted[k + 1].page !== sorted[k].page {
      sorted[k].page.walkMarks.delayedSerial = serial
      sorted[k].page.walkMarks.delayed = start..<(k + 1)
      start = k + 1
    }
    return sorted
  }

  /// Walks `heap`'s delayed list, reporting MI2 for a link outside every used page's first `capacity`
  /// blocks and for a block already seen (`onDelayed`), and hands each valid block to `body`.
  func walkDelayedList(of heap: Heap, onDelayed: inout Set<UInt>, sink: inout ViolationSink,
                       _ body: (DelayedBlock) -> Void) {
    var b = heap.delayedFreeHead
    var steps = 0
    while b != 0 {
      guard steps < 1 << 22, let page = livePage(containing: b), page.isBlock(b, below: page.capacity) else {
        sink.fail("MI2", "heap \(heap.serial) delayed list reaches \(hex(Int(bitPattern: b))), not a block below capacity")
        break
      }
      guard onDelayed.insert(b).inserted else { sink.fail("MI2", "block \(hex(Int(bitPattern: b))) twice on delayed lists"); break }
      body(DelayedBlock(page: page, heap: heap, block: b))
      b = MiBlock(b).next
      steps += 1
    }
  }
}
