// SpanQueues.swift — a thread's free slice spans (`mi_segments_tld_t.spans[36]`), binned by length with
// `SizeClass.spanBin`, and the best-fit search that carves a page out of them (v2.1.2 src/segment.c
// `mi_span_queue_push/delete`, `mi_segments_page_find_and_allocate`, `mi_segment_slice_split`).
// Guarded by MI7: a free span is queued iff its segment is normal and owned, in the bin of its length.

/// A class, not a struct: carving a page re-enters the queues (`spanFree` of the remainder) while the
/// search is still running, which a mutating struct method could not allow.
final class MiSpanQueues {
  /// Heads and tails of the 36 bins; spans are linked through `MiPage.next`/`prev`.
  private(set) var first: [MiPage?] = Array(repeating: nil, count: MiConst.segmentBinMax + 1)
  private var last: [MiPage?] = Array(repeating: nil, count: MiConst.segmentBinMax + 1)

  /// Push at the front of the span's bin (upstream's "todo: or push to the end?" keeps the front).
  func push(_ span: MiPage) {
    let bin = SizeClass.spanBin(span.sliceCount)
    span.prev = nil
    span.next = first[bin]
    if let n = span.next { n.prev = span } else { last[bin] = span }
    first[bin] = span
    span.inSpanQueue = true
  }

  func remove(_ span: MiPage) {
    let bin = SizeClass.spanBin(span.sliceCount)
    if let p = span.prev { p.next = span.next } else if first[bin] === span { first[bin] = span.next }
    if let n = span.next { n.prev = span.prev } else if last[bin] === span { last[bin] = span.prev }
    span.next = nil
    span.prev = nil
    span.inSpanQueue = false
  }

  /// Calls `body` on every queued span with its bin, bin by bin, front to back, at most `limit` per bin
  /// (for checks; one read of the heads, most bins being empty).
  func forEachQueuedSpan(limitPerBin limit: Int, _ body: (MiPage, Int) -> Void) {
    let heads = first
    for bin in heads.indices where heads[bin] != nil {
      var s = heads[bin]
      var n = 0
      while let span = s, n < limit {
        body(span, bin)
        n += 1
        s = span.next
      }
    }
  }

  /// Drop every span (thread exit after every segment was abandoned or freed; reset).
  func removeAll() {
    for bin in first.indices {
      while let s = first[bin] { remove(s) }
    }
  }

  /// `mi_segments_page_find_and_allocate`: the first span, from the bin of `slices` upward, with at least
  /// `slices` slices; the rest is split off as a new free span. Returns the new used page, or nil.
  func allocatePage(slices: Int) -> MiPage? {
    for bin in SizeClass.spanBin(slices)...MiConst.segmentBinMax {
      var s = first[bin]
      while let span = s {
        if span.sliceCount >= slices {
          remove(span)
          let segment = span.segment
          if span.sliceCount > slices {
            let rest = span.sliceCount - slices
            span.sliceCount = slices
            segment.spanFree(at: span.sliceIndex + slices, count: rest)
          }
          return segment.spanAllocate(at: span.sliceIndex, count: slices)
        }
        s = span.next
      }
    }
    return nil
  }
}
