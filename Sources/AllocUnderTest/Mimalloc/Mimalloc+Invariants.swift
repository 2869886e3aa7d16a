// Mimalloc+Invariants.swift — `checkInvariants()`: the walkers of spec mimalloc.md §4.6, reporting broken
// structure as ``InvariantViolation`` values (id + numbers), never trapping. Walks are bounded and every
// link is range-checked before it is followed, so corruption yields a violation, not a crash. Call it with
// no operation in flight (states 1 and half-done pushes are then bugs). Ids, level and cost (R29): see
// ``checkInvariants()``.

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
  @inline(never)
  public func checkInvariants() -> [InvariantViolation] {
    var out: [InvariantViolation] = []
    func fail(_ id: String, _ detail: String) { if out.count < 20 { out.append(.init(id: id, detail: detail)) } }
    let segments = liveSegments
    let liveThreads = threads.filter(\.isAlive)
    let liveHeaps = liveThreads.flatMap(\.heaps)

    // MI2 (delayed lists) first: which blocks of which page sit on which heap's list.
    var delayed: [ObjectIdentifier: [(heap: Heap, block: UInt)]] = [:]
    var onDelayed = Set<UInt>()
    for heap in liveHeaps {
      var b = heap.delayedFreeHead
      var steps = 0
      while b != 0 {
        guard steps < 1 << 22, let page = livePage(containing: b), page.isBlock(b, below: page.capacity) else {
          fail("MI2", "heap \(heap.serial) delayed list reaches \(hex(Int(bitPattern: b))), not a block below capacity")
          break
        }
        guard onDelayed.insert(b).inserted else { fail("MI2", "block \(hex(Int(bitPattern: b))) twice on delayed lists"); break }
        delayed[ObjectIdentifier(page), default: []].append((heap, b))
        b = MiBlock(b).next
        steps += 1
      }
    }

    // MI1, MI2 (page lists), MI4 per used page.
    for segment in segments {
      for page in segment.spans where page.isUsed {
        checkPage(page, delayed: delayed[ObjectIdentifier(page)] ?? [], fail: fail)
      }
    }

    // MI3.
    for t in transitions.forbidden { fail("MI3", "forbidden delayed-state transition \(t)") }

    checkQueues(liveThreads: liveThreads, segments: segments, fail: fail)
    checkSegments(segments, liveThreads: liveThreads, fail: fail)
    return out
  }

  /// MI1, MI2 and MI4 for one used page.
  private func checkPage(_ page: MiPage, delayed: [(heap: Heap, block: UInt)], fail: (String, String) -> Void) {
    let name = "page \(hex(Int(bitPattern: page.pageStart))) bsize \(page.blockSize)"
    guard page.blockSize > 1, page.reserved == page.areaSize / page.blockSize,
          page.used >= 0, page.used <= page.capacity, page.capacity <= page.reserved else {
      fail("MI1", "\(name): used \(page.used), capacity \(page.capacity), reserved \(page.reserved), area \(page.areaSize)")
      return
    }
    // Fields hoisted into locals: this loop visits every free block.
    let start = page.pageStart
    let bsize = UInt(page.blockSize)
    let capacity = page.capacity
    let end = start + UInt(capacity) * bsize
    var mark = [UInt8](repeating: 0, count: capacity)  // 0 none, 1 free, 2 localFree, 3 remote, 4 delayed
    var counts = [0, 0, 0, 0]
    var listsOK = true
    for (kind, head) in [(1, page.free), (2, page.localFree), (3, page.threadFreeHead)] {
      var b = head
      while b != 0 {
        guard b >= start, b < end, (b - start) % bsize == 0 else {
          fail("MI2", "\(name): list \(kind) reaches \(hex(Int(bitPattern: b))), not a block below capacity \(capacity)")
          listsOK = false
          break
        }
        let i = Int((b - start) / bsize)
        guard mark[i] == 0 else {
          fail("MI2", "\(name): block \(i) on list \(kind) is already on list \(mark[i]) (cycle or shared block)")
          listsOK = false
          break
        }
        mark[i] = UInt8(kind)
        counts[kind - 1] += 1
        b = MiBlock(b).next
      }
    }
    for (_, block) in delayed {
      let i = Int((block - page.pageStart) / UInt(page.blockSize))
      if mark[i] != 0 { fail("MI2", "\(name): delayed block \(i) is also on list \(mark[i])"); listsOK = false }
      mark[i] = 4
    }
    if listsOK && page.capacity != page.used + counts[0] + counts[1] {
      fail("MI1", "\(name): capacity \(page.capacity) != used \(page.used) + |free| \(counts[0]) + |localFree| \(counts[1])")
    }
    // MI4.
    let state = page.delayedState
    let heap = page.heap
    if state == .delayedFreeing { fail("MI4", "\(name): in state 1 with no free in flight") }
    if state == .noDelayedFree && !delayed.contains(where: { $0.heap === heap }) {
      fail("MI4", "\(name): state 2 but none of its blocks is on its heap's delayed list")
    }
    if (heap == nil) != (state == .neverDelayedFree) {
      fail("MI4", "\(name): xheap \(heap == nil ? "nil" : "set") but state \(state)")
    }
  }

  /// MI6: every live heap's queues.
  private func checkQueues(liveThreads: [MiThread], segments: [MiSegment], fail: (String, String) -> Void) {
    var queued = Set<ObjectIdentifier>()
    for thread in liveThreads {
      for heap in thread.heaps {
        var total = 0
        for q in 0..<MiConst.queueCount {
          var prev: MiPage? = nil
          var p = heap.queues[q].first
          while let page = p {
            guard queued.insert(ObjectIdentifier(page)).inserted else {
              fail("MI6", "heap \(heap.serial) queue \(q): page \(hex(Int(bitPattern: page.spanStart))) is in another queue too")
              break
            }
            if page.prev !== prev { fail("MI6", "heap \(heap.serial) queue \(q): broken back link") }
            if !page.isUsed || page.segment.isReleased {
              fail("MI6", "heap \(heap.serial) queue \(q): holds a free span or a page of a released segment")
            } else {
              if page.heap !== heap {
                fail("MI6", "heap \(heap.serial) queue \(q): page's xheap is heap \(page.heap.map { "\($0.serial)" } ?? "nil")")
              }
              let expected = page.isLargeOrHuge ? MiConst.binHuge : SizeClass.bin(page.blockSize)
              if page.inFull != (q == MiConst.binFull) || (!page.inFull && q != expected) {
                fail("MI6", "heap \(heap.serial): page bsize \(page.blockSize) inFull \(page.inFull) in queue \(q) (size queue \(expected))")
              }
              if page.qsbrGoal != 0 && q == MiConst.binFull {
                fail("MI6", "heap \(heap.serial): QSBR-parked page bsize \(page.blockSize) in the full queue (gh-145615)")
              }
            }
            total += 1
            prev = page
            p = page.next
          }
          if heap.queues[q].last !== prev { fail("MI6", "heap \(heap.serial) queue \(q): last is not the tail") }
        }
        if total != heap.pageCount { fail("MI6", "heap \(heap.serial): page_count \(heap.pageCount) != \(total) queued") }
      }
    }
    for segment in segments where !segment.isAbandoned {
      for page in segment.spans where page.isUsed && !queued.contains(ObjectIdentifier(page)) {
        fail("MI6", "used page \(hex(Int(bitPattern: page.spanStart))) of an owned segment is in no live heap's queue")
      }
    }
  }

  /// MI7: segments, ownership, spans and the slice table.
  private func checkSegments(_ segments: [MiSegment], liveThreads: [MiThread], fail: (String, String) -> Void) {
    let pool = Set(abandonedPool.all.map(ObjectIdentifier.init))
    var spanQueued: [ObjectIdentifier: Int] = [:]  // span → bin it is queued in
    for thread in liveThreads {
      for bin in 0...MiConst.segmentBinMax {
        for span in thread.spans.spans(inBin: bin, limit: 1 << 16) { spanQueued[ObjectIdentifier(span)] = bin }
      }
    }
    for segment in segments {
      let name = "segment \(hex(Int(bitPattern: segment.base)))"
      let tid = segment.ownerId
      let owner = liveThreads.first { $0.id == tid }
      var usedSpans = 0
      var abandonedPages = 0
      var i = MiConst.infoSlices
      for span in segment.spans {
        if span.sliceIndex != i || span.sliceCount <= 0 { fail("MI7", "\(name): spans do not tile at slice \(i)"); break }
        let range = span.sliceIndex..<min(span.sliceIndex + span.sliceCount, segment.sliceEntries)
        if span.isUsed {
          usedSpans += 1
          if span.heap == nil { abandonedPages += 1 }
          if range.contains(where: { segment.info.page(atSlice: $0) !== span }) {
            fail("MI7", "\(name): slice table does not name the used page at slice \(span.sliceIndex)")
          }
          if let heap = span.heap, tid != 0, heap.thread.id != tid {
            fail("MI7", "\(name) (thread \(tid)): page at slice \(span.sliceIndex) belongs to a heap of thread \(heap.thread.id)")
          }
        } else {
          if range.contains(where: { segment.info.page(atSlice: $0) != nil }) {
            fail("MI7", "\(name): slice table names a page inside the free span at slice \(span.sliceIndex)")
          }
          let shouldQueue = !segment.isHuge && tid != 0
          let bin = spanQueued[ObjectIdentifier(span)]
          if shouldQueue != (bin != nil) || (bin != nil && bin != SizeClass.spanBin(span.sliceCount)) {
            fail("MI7", "\(name): free span at slice \(span.sliceIndex) × \(span.sliceCount) queued in bin \(bin.map(String.init) ?? "none")")
          }
        }
        i = span.sliceIndex + span.sliceCount
      }
      if usedSpans != segment.used { fail("MI7", "\(name): used \(segment.used) != \(usedSpans) used spans") }
      if segment.abandoned > segment.used { fail("MI7", "\(name): abandoned \(segment.abandoned) > used \(segment.used)") }
      if tid == 0 {
        if !pool.contains(ObjectIdentifier(segment)) { fail("MI7", "\(name): thread id 0 but not in the abandoned pool") }
        if segment.abandoned != segment.used || abandonedPages != segment.used {
          fail("MI7", "\(name): abandoned with used \(segment.used), abandoned \(segment.abandoned), heap-less pages \(abandonedPages)")
        }
      } else {
        if pool.contains(ObjectIdentifier(segment)) {
          fail("MI7", "\(name): in the abandoned pool but owned by thread \(tid)")
        }
        if owner == nil || segment.ownerThread !== owner {
          fail("MI7", "\(name): owned by thread \(tid), which is not alive (or not its span owner)")
        }
        if segment.abandoned != 0 || abandonedPages != 0 {
          fail("MI7", "\(name): owned by thread \(tid) but \(segment.abandoned) abandoned, \(abandonedPages) heap-less pages")
        }
      }
    }
  }
}
