// Heap+Alloc.swift — the generic allocation path (§3.2–§3.3, §3.8; v2.1.2 src/page.c `_mi_malloc_generic`,
// `mi_find_page`, `mi_find_free_page`, `mi_page_queue_find_free_ex`, `mi_page_fresh`,
// `mi_large_huge_page_alloc`; src/segment.c `_mi_segment_page_alloc`, `mi_segments_page_alloc`).
// Guarded by MI1 (page counts after extension) and MI6 (where fresh and full pages go).

extension Heap {
  /// `_mi_malloc_generic(heap, size, zero, huge_alignment)`: heartbeat, drain the delayed list (skipping
  /// contended blocks), find or make a page; on failure collect (forced) and try once more.
  func mallocGeneric(size: Int, zero: Bool, hugeAlignment: Int) -> UInt? {
    thread.heartbeat += 1  // `_mi_deferred_free`: no deferred-free callback is registered
    delayedFreePartial()
    var page = findPage(size: size, hugeAlignment: hugeAlignment)
    if page == nil {  // rare: out of memory, or a reclaim put the page in our queue
      collect(mode: .force)
      page = findPage(size: size, hugeAlignment: hugeAlignment)
    }
    guard let page, page.hasFree else { return nil }
    return pop(page, zero: zero)
  }

  /// `mi_find_page`: large and huge requests (> 128 KiB) and huge alignments get their own page.
  private func findPage(size: Int, hugeAlignment: Int) -> MiPage? {
    if size > MiConst.mediumObjSizeMax || hugeAlignment > 0 {
      return largeHugePageAlloc(size: size, pageAlignment: hugeAlignment)
    }
    return findFreePage(size: size)
  }

  /// `mi_find_free_page`: the first page of the size queue, once collected, else the queue walk.
  private func findFreePage(size: Int) -> MiPage? {
    let q = queueIndex(forSize: size)
    if let page = queues[q].first {
      page.collectFree(force: false)
      if page.hasFree {
        page.retireExpire = 0
        return page
      }
    }
    return queueFindFree(q, firstTry: true)
  }

  /// `mi_page_queue_find_free_ex`: walk queue `q` front to back; collect each page; take the first with a
  /// free block or room to extend; move completely full pages to the full queue on the way. Nothing found:
  /// QSBR-collect and retire-collect, then a fresh page at the front. A nil fresh page on the first try may
  /// mean the segment layer reclaimed a page of this size into the queue, so walk once more.
  private func queueFindFree(_ q: Int, firstTry: Bool) -> MiPage? {
    var page = queues[q].first
    while let p = page {
      let next = p.next
      p.collectFree(force: false)
      if p.hasFree { break }
      if p.capacity < p.reserved {
        p.extendFree()
        break
      }
      toFull(p, q)
      page = next
    }
    if let p = page {
      p.retireExpire = 0
      return p
    }
    collectQSBR()  // CPython: some parked pages may be safe to free now
    collectRetired(force: false)
    if let fresh = pageFresh(q) { return fresh }
    return firstTry ? queueFindFree(q, firstTry: false) : nil
  }

  /// `mi_page_fresh`: a new page of the queue's block size from the segment layer, at the queue's front.
  private func pageFresh(_ q: Int) -> MiPage? {
    let bsize = queues[q].blockSize
    guard let page = segmentPageAlloc(blockSize: bsize, pageAlignment: 0) else { return nil }
    page.setUp(heap: self, blockSize: bsize, legacyStartOffset: has(.startOffset384))
    mimalloc.queueFreshPage(page) { queuePushFront(page, q) }
    return page
  }

  /// `mi_large_huge_page_alloc`: the request rounded by `_mi_os_good_alloc_size`; large (≤ 16 MiB) from the
  /// thread's spans, huge (or huge-aligned) in a dedicated segment. Both sit in queue 73, so page init takes
  /// the page's whole area as the block (2.1.2: a large block's usable size is its slice run).
  private func largeHugePageAlloc(size: Int, pageAlignment: Int) -> MiPage? {
    guard let bsize = SizeClass.goodOSAllocSize(size) else { return nil }
    collectQSBR()  // CPython calls `_PyMem_mi_heap_collect_qsbr` before large/huge allocations
    guard let page = segmentPageAlloc(blockSize: bsize, pageAlignment: pageAlignment) else { return nil }
    let area = page.sliceCount * MiConst.sliceSize
    page.setUp(heap: self, blockSize: area, legacyStartOffset: false)
    mimalloc.queueFreshPage(page) { queuePushFront(page, MiConst.binHuge) }
    return page
  }

  /// `_mi_segment_page_alloc`: small (≤ 16 KiB, 1 slice), medium (≤ 128 KiB, 8 slices), large (≤ 16 MiB)
  /// from the spans; alignments above 16 MiB and blocks above 16 MiB get a huge segment.
  private func segmentPageAlloc(blockSize bsize: Int, pageAlignment: Int) -> MiPage? {
    if pageAlignment > MiConst.alignmentMax || bsize > MiConst.largeObjSizeMax {
      return MiSegment.allocate(owner: mimalloc, thread: thread, hugeBytes: bsize, pageAlignment: pageAlignment)?.1
    }
    return segmentsPageAlloc(slices: SizeClass.pageSlices(blockSize: bsize), blockSize: bsize)
  }

  /// `mi_segments_page_alloc`: best fit in the thread's spans; if none, reclaim an abandoned segment or
  /// map a new one (`mi_segment_reclaim_or_alloc`) and search again. Nil when out of memory, or when the
  /// reclaim already put a page of `bsize` with free room into one of our queues (the caller walks again).
  private func segmentsPageAlloc(slices: Int, blockSize bsize: Int) -> MiPage? {
    for _ in 0..<4 {
      if let page = mimalloc.carveFreshPage({ thread.spans.allocatePage(slices: slices) }) { return page }
      switch thread.reclaimOrAllocate(heap: self, slices: slices, blockSize: bsize) {
      case .reclaimedRightPage, .outOfMemory: return nil
      case .segmentWithSpace: continue
      }
    }
    return nil
  }
}
