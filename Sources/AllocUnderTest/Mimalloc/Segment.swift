// Segment.swift — ``MiSegment``, the `mi_segment_t` of one mapping: creation from the ``PageSource``
// (normal 32 MiB segments and huge segments sized to need, `mi_segment_alloc`), the slice bookkeeping
// (span allocate, span free with coalescing, page clear: v2.1.2 src/segment.c `mi_segment_span_allocate`,
// `mi_segment_span_free`, `mi_segment_span_free_coalesce`, `mi_segment_page_clear`) and release.
// Abandonment and reclaim are in Abandon.swift. Guarded by MI7 in ``Mimalloc/checkInvariants()``.
//
// Spans tile slices 1..<segmentSlices: walking from slice 1 by `sliceCount` visits every used page and
// free span once. No segment cache: an empty segment goes straight back to the page source.
import Synchronization

final class MiSegment: @unchecked Sendable {
  /// `unowned(unsafe)`, as ``Heap``'s `mimalloc` (the allocator outlives every use of its segments).
  unowned(unsafe) let owner: Mimalloc
  /// 32 MiB aligned start of the segment (its info slice).
  let base: UInt
  /// The region the page source gave us (≥ the segment: a huge alignment may need a prefix), released as is.
  let region: UnsafeMutableRawPointer
  let regionBytes: Int
  /// `MI_SEGMENT_HUGE`: one page, sized to need (`segmentSlices` may exceed 512).
  let isHuge: Bool
  let segmentSlices: Int
  /// Valid slice-table entries: min(segmentSlices, 512).
  let sliceEntries: Int
  /// Owning thread id; 0 means abandoned. Relaxed loads on every free (`mi_free` compares it with the
  /// caller's id: only the owner can see its own id, so a stale value never makes a free wrongly local);
  /// stores are releasing (2.1.2 assigns the `_Atomic` field, a seq_cst store; 2.1.7 uses release) and the
  /// ownership hand-off itself is ordered by the abandoned pool's mutex.
  let threadId: SharedWord
  /// Whose span queues hold this segment's free spans; nil while abandoned (owner-side mirror of threadId).
  var ownerThread: MiThread?
  /// Used pages (the info slice is not counted). MI7: == number of used spans.
  var used = 0
  /// Pages whose owner thread is gone. MI7: `abandoned ≤ used`; threadId == 0 ⇒ abandoned == used.
  var abandoned = 0
  /// Reclaim attempts that passed this segment over (§6.3); reclaim is forced after 3.
  var abandonedVisits = 0
  /// Set once the memory went back to the page source.
  var isReleased = false
  /// The invariant walk with this serial found the segment in the abandoned pool (Mimalloc+Invariants.swift).
  var walkPooled: UInt64 = 0
  /// Page objects by first slice index (created on first use, reused).
  private var pageObjects: [MiPage?]
  /// For the last slice of every span: the index of its first slice (`slice_offset` of the last entry).
  private var firstOfSpanEndingAt: [Int32]
  /// Bit i set iff slice i has been part of a used page since the segment was mapped (memory not zero).
  private var dirty: [UInt64]

  var info: SegmentInfo { SegmentInfo(base: base) }
  var end: UInt { base + UInt(segmentSlices) * UInt(MiConst.sliceSize) }
  var isAbandoned: Bool { ownerId == 0 }

  /// `segment->thread_id` as `mi_free` reads it. Relaxed: a thread only ever compares it with its own id,
  /// and only it stores its own id, so "equal" is decided by its own earlier store; other threads' stores
  /// (abandon, reclaim) can only make it unequal. Inspectors run quiescent.
  var ownerId: UInt { threadId.load(ordering: .relaxed) }

  /// Publish a new owner (0 on abandon, the reclaimer's id on reclaim). Release, pairing with nothing on
  /// the free path (see `ownerId`); the ownership hand-off itself is ordered by the abandoned pool's mutex.
  func storeOwnerId(_ id: UInt) { threadId.store(id, ordering: .releasing) }

  private init(owner: Mimalloc, base: UInt, region: UnsafeMutableRawPointer, regionBytes: Int,
               isHuge: Bool, slices: Int, threadId: UInt) {
    self.owner = owner
    self.base = base
    self.region = region
    self.regionBytes = regionBytes
    self.isHuge = isHuge
    segmentSlices = slices
    sliceEntries = min(slices, MiConst.slicesPerSegment)
    self.threadId = SharedWord(threadId)
    pageObjects = Array(repeating: nil, count: sliceEntries)
    firstOfSpanEndingAt = Array(repeating: -1, count: sliceEntries)
    dirty = Array(repeating: 0, count: (sliceEntries + 63) / 64)
  }

  /// `mi_segment_alloc`: a normal segment (`hugeBytes == 0`; its slices 1…511 become one free span in
  /// `thread`'s queues) or a huge one holding one page of at least `hugeBytes` bytes, whose block address
  /// can be aligned to `pageAlignment` (> 16 MiB) at `base + 32 MiB` (`mi_segment_os_alloc`'s align offset).
  /// Returns nil when the page source refuses or the size overflows.
  static func allocate(owner: Mimalloc, thread: MiThread, hugeBytes: Int, pageAlignment: Int) -> (MiSegment, MiPage?)? {
    let info = MiConst.infoSlices * MiConst.sliceSize
    var slices = MiConst.slicesPerSegment
    if hugeBytes > 0 {
      let extra = pageAlignment > 0 ? MiConst.segmentSize - info : 0
      let (a, o1) = hugeBytes.addingReportingOverflow(extra)
      let (b, o2) = a.addingReportingOverflow(info)
      guard !o1, !o2, let bytes = alignUp(b, MiConst.sliceSize) else { return nil }
      slices = bytes / MiConst.sliceSize
      if owner.has(.sliceCountTruncated) {
        // Seeded #876 / gh-117755: the slice count of an enormous request is stored in 32 bits.
        slices = max(Int(UInt32(truncatingIfNeeded: slices)), MiConst.infoSlices + 1)
      }
    }
    let (segmentBytes, o3) = slices.multipliedReportingOverflow(by: MiConst.sliceSize)
    let prefix = pageAlignment > MiConst.segmentSize ? pageAlignment - MiConst.segmentSize : 0
    let (regionBytes, o4) = segmentBytes.addingReportingOverflow(prefix)
    guard !o3, !o4, let region = owner.pages.reserve(bytes: regionBytes, alignment: MiConst.segmentSize) else {
      return nil
    }
    var base = UInt(bitPattern: region)
    if prefix > 0 {  // the block point base + 32 MiB must be a multiple of pageAlignment
      let a = UInt(pageAlignment)
      base = ((base + UInt(MiConst.segmentSize) + a - 1) & ~(a - 1)) - UInt(MiConst.segmentSize)
    }
    let segment = MiSegment(owner: owner, base: base, region: region, regionBytes: regionBytes,
                            isHuge: hugeBytes > 0, slices: slices, threadId: thread.id)
    owner.structuresChanged()
    segment.info.setSegment(segment)
    segment.ownerThread = thread
    owner.register(segment)
    if hugeBytes == 0 {
      segment.spanFree(at: MiConst.infoSlices, count: slices - MiConst.infoSlices)
      return (segment, nil)
    }
    let page = segment.spanAllocate(at: MiConst.infoSlices, count: slices - MiConst.infoSlices)
    if pageAlignment > 0 {
      // `mi_segment_huge_page_alloc`: give back the unused prefix before the aligned block (keep the first
      // OS page, which holds the block's link word).
      let start = page.spanStart + 4096
      let aligned = base + UInt(MiConst.segmentSize)
      if aligned > start { segment.info.decommit(start..<aligned, in: owner.pages) }
    }
    return (segment, page)
  }

  /// The used page containing `address` (lock-free: reads the slice table), or nil for a free span.
  /// Precondition: `address` lies in this segment's first 32 MiB window, past the info slice.
  func page(containing address: UInt) -> MiPage? {
    let index = min(Int((address - base) >> UInt(MiConst.sliceShift)), sliceEntries - 1)
    return info.page(atSlice: index)
  }

  /// The span (used page or free span) starting at slice `i`, for owner-side walks.
  func span(at i: Int) -> MiPage {
    if let p = pageObjects[i] { return p }
    let p = MiPage(segment: self, sliceIndex: i)
    pageObjects[i] = p
    return p
  }

  /// Every span in slice order (used pages and free spans), each exactly once. Lazy (no array is built):
  /// each step reads the current span's length, so the body must not re-tile the segment (unqueueing a
  /// span is fine).
  var spans: Spans { Spans(segment: self) }

  /// `spans` as a callback over one read of the page objects, for the invariant walks: each span is lent
  /// to `body` without the retain and release an iterator's element costs.
  func forEachSpan(_ body: (MiPage) -> Void) {
    let objects = pageObjects
    var i = MiConst.infoSlices
    while i < sliceEntries {
      let s = objects[i] ?? span(at: i)  // every span start has its object; a corrupt length may not
      body(s)
      i += Swift.max(s.sliceCount, 1)
    }
  }

  struct Spans: Sequence, IteratorProtocol {
    unowned(unsafe) let segment: MiSegment
    var i = MiConst.infoSlices

    mutating func next() -> MiPage? {
      guard i < segment.sliceEntries else { return nil }
      let s = segment.span(at: i)
      i += Swift.max(s.sliceCount, 1)
      return s
    }
  }

  /// The span whose last slice is `i`, for coalescing with a following span.
  private func span(endingAt i: Int) -> MiPage? {
    let first = firstOfSpanEndingAt[i]
    return first >= MiConst.infoSlices ? pageObjects[Int(first)] : nil
  }

  /// `mi_segment_span_allocate`: turn slices `i..<i+count` into a used page (block size set later by
  /// `MiPage.setUp`), write the slice table, `used += 1`.
  func spanAllocate(at i: Int, count: Int) -> MiPage {
    owner.structuresChanged()
    let page = span(at: i)
    page.sliceCount = count
    page.blockSize = 1  // "used, not yet initialised" until setUp
    page.next = nil
    page.prev = nil
    let last = min(i + count, sliceEntries)
    page.isZeroInit = !(i..<last).contains { dirty[$0 / 64] & (1 << ($0 % 64)) != 0 }
    for s in i..<last { dirty[s / 64] |= 1 << (s % 64) }
    firstOfSpanEndingAt[last - 1] = Int32(i)
    info.setPage(page, slices: i..<last)
    used += 1
    return page
  }

  /// `mi_segment_span_free`: slices `i..<i+count` become one free span, queued in the owner's span queues
  /// unless the segment is huge or abandoned.
  func spanFree(at i: Int, count: Int) {
    owner.structuresChanged()
    let span = span(at: i)
    span.sliceCount = count
    span.blockSize = 0
    span.next = nil
    span.prev = nil
    let last = min(i + count, sliceEntries) - 1
    if last >= i { firstOfSpanEndingAt[last] = Int32(i) }
    if !isHuge, let thread = ownerThread { thread.spans.push(span) }
  }

  /// Unlink a free span from its owner's span queue, if it is queued.
  func removeFromSpanQueue(_ span: MiPage) {
    if span.inSpanQueue { ownerThread?.spans.remove(span) }
  }

  /// `mi_segment_page_clear`: the page's fields are zeroed, its slice-table entries cleared, and its span
  /// merged with free neighbours (`mi_segment_span_free_coalesce`); `used −= 1`. Returns the merged span.
  @discardableResult
  func pageClear(_ page: MiPage) -> MiPage {
    owner.structuresChanged()
    page.clearPageFields()
    info.setPage(nil, slices: page.sliceIndex..<min(page.sliceIndex + page.sliceCount, sliceEntries))
    used -= 1
    if isHuge { return page }  // one page per huge segment: nothing to merge or queue
    var start = page.sliceIndex
    var count = page.sliceCount
    let nextIndex = start + count
    if nextIndex < sliceEntries {
      let next = span(at: nextIndex)
      if !next.isUsed {
        removeFromSpanQueue(next)
        count += next.sliceCount
      }
    }
    if start > MiConst.infoSlices, let prev = span(endingAt: start - 1), !prev.isUsed {
      removeFromSpanQueue(prev)
      count += prev.sliceCount
      start = prev.sliceIndex
    }
    spanFree(at: start, count: count)
    return span(at: start)
  }

  /// `mi_segment_free`: drop the free spans from the span queues and give the memory back.
  func free() {
    for s in spans where !s.isUsed { removeFromSpanQueue(s) }
    release()
  }

  /// Unregister and unmap. Page objects are dropped (they hold the segment strongly); stale references
  /// elsewhere keep the objects but see `isReleased`.
  func release() {
    guard !isReleased else { return }
    owner.structuresChanged()
    owner.unregister(self)
    releaseMemory(to: owner.pages)
  }

  /// Unmap without touching `owner` (which may be deinitialising: its unowned reference is then invalid).
  func releaseMemory(to pages: PageSource) {
    guard !isReleased else { return }
    isReleased = true
    for case let p? in pageObjects where p.isUsed && p.pageStart != 0 && p.sliceIndex >= MiConst.infoSlices {
      Memcheck.destroyPool(p.pageStart, size: p.reserved * p.blockSize)  // pools of pages still in use
    }
    for p in pageObjects { p?.next = nil; p?.prev = nil; p?.qsbrListOwner = nil }
    pageObjects = []
    firstOfSpanEndingAt = []
    ownerThread = nil
    pages.release(region, bytes: regionBytes)
  }
}
