// Mimalloc+SegmentInvariants.swift — MI7: segments, ownership, spans and the slice table, for each live
// segment (the whole walk) or one (the local check). Pool and span-queue membership are stamps
// (``markPoolAndSpanQueues(threads:serial:)``) on the segments and free spans, set before the segment walks.
// The slice table is compared as raw bits (``SegmentInfo/pageBits(atSlice:)``): no object is retained.

extension Mimalloc {
  /// Stamps every segment in the abandoned pool, and every free span in a live thread's span queues with the
  /// bin it sits in (a span in two bins keeps the last).
  func markPoolAndSpanQueues(threads: [MiThread], serial: UInt64) {
    for segment in abandonedPool.all { segment.walkPooled = serial }
    for thread in threads where thread.isAlive {
      thread.spans.forEachQueuedSpan(limitPerBin: 1 << 16) { span, bin in
        span.walkMarks.spanQueued = serial
        span.walkMarks.spanBin = bin
      }
    }
  }

  /// MI7 for one segment; `markPoolAndSpanQueues` must have run with `serial`. `usedPage` sees every used
  /// span in slice order (spans that do not tile end MI7's walk, not the visit), for the whole walk's other
  /// per-page checks.
  func checkSegment(_ segment: MiSegment, threads: [MiThread], serial: UInt64, sink: inout ViolationSink,
                    usedPage: (MiPage) -> Void = { _ in }) {
    func name() -> String { "segment \(hex(Int(bitPattern: segment.base)))" }
    let info = segment.info
    let tid = segment.ownerId
    let owner = threads.first { $0.isAlive && $0.id == tid }
    var usedSpans = 0
    var abandonedPages = 0
    var i = MiConst.infoSlices
    var tiled = true
    segment.forEachSpan { span in
      if span.isUsed { usedPage(span) }
      guard tiled else { return }
      if span.sliceIndex != i || span.sliceCount <= 0 {
        sink.fail("MI7", "\(name()): spans do not tile at slice \(i)")
        tiled = false
        return
      }
      let range = span.sliceIndex..<min(span.sliceIndex + span.sliceCount, segment.sliceEntries)
      if span.isUsed {
        usedSpans += 1
        let heap = span.heap
        if heap == nil { abandonedPages += 1 }
        let bits = span.unmanagedBits
        if range.contains(where: { info.pageBits(atSlice: $0) != bits }) {
          sink.fail("MI7", "\(name()): slice table does not name the used page at slice \(span.sliceIndex)")
        }
        if let heap, tid != 0, heap.threadId != tid {
          sink.fail("MI7", "\(name()) (thread \(tid)): page at slice \(span.sliceIndex) belongs to a heap of thread \(heap.threadId)")
        }
      } else {
        if range.contains(where: { info.pageBits(atSlice: $0) != 0 }) {
          sink.fail("MI7", "\(name()): slice table names a page inside the free span at slice \(span.sliceIndex)")
        }
        let shouldQueue = !segment.isHuge && tid != 0
        let bin = span.walkMarks.spanQueued == serial ? span.walkMarks.spanBin : nil
        if shouldQueue != (bin != nil) || (bin != nil && bin != SizeClass.spanBin(span.sliceCount)) {
          sink.fail("MI7", "\(name()): free span at slice \(span.sliceIndex) × \(span.sliceCount) queued in bin \(bin.map(String.init) ?? "none")")
        }
      }
      i = span.sliceIndex + span.sliceCount
    }
    // The last span ends exactly at the segment's end (a span overhanging it would hand out memory past it).
    if tiled && i != segment.segmentSlices {
      sink.fail("MI7", "\(name()): spans end at slice \(i), not at the segment's end (slice \(segment.segmentSlices))")
    }
    if usedSpans != segment.used { sink.fail("MI7", "\(name()): used \(segment.used) != \(usedSpans) used spans") }
    if segment.abandoned > segment.used { sink.fail("MI7", "\(name()): abandoned \(segment.abandoned) > used \(segment.used)") }
    let pooled = segment.walkPooled == serial
    if tid == 0 {
      if !pooled { sink.fail("MI7", "\(name()): thread id 0 but not in the abandoned pool") }
      if segment.abandoned != segment.used || abandonedPages != segment.used {
        sink.fail("MI7", "\(name()): abandoned with used \(segment.used), abandoned \(segment.abandoned), heap-less pages \(abandonedPages)")
      }
    } else {
      if pooled { sink.fail("MI7", "\(name()): in the abandoned pool but owned by thread \(tid)") }
      if owner == nil || segment.ownerThread !== owner {
        sink.fail("MI7", "\(name()): owned by thread \(tid), which is not alive (or not its span owner)")
      }
      if segment.abandoned != 0 || abandonedPages != 0 {
        sink.fail("MI7", "\(name()): owned by thread \(tid) but \(segment.abandoned) abandoned, \(abandonedPages) heap-less pages")
      }
    }
  }
}
