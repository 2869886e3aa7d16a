// PageQueue.swift — a heap's 75 page queues (`mi_page_queue_t pages[75]`; v2.1.2 src/page-queue.c):
// which queue a page belongs in, push at the front, unlink, move to the end of another queue, and append a
// whole queue of another heap (`_mi_page_queue_append`, used by heap delete). No `pages_free_direct`: the
// fast path reads the first page of the size queue directly, which is what that array caches.
// Guarded by MI6 (a page is in exactly the queue it should be, links consistent, counts match).

/// One queue: pages linked through `MiPage.next`/`prev`; `blockSize` is the static table's size.
struct MiPageQueue {
  var first: MiPage?
  var last: MiPage?
  let blockSize: Int
}

extension Heap {
  /// `mi_page_queue_of`: 74 if `inFull`, 73 for large and huge pages, else `bin(blockSize)`.
  func queueIndex(of page: MiPage) -> Int {
    if page.inFull { return MiConst.binFull }
    return page.isLargeOrHuge ? MiConst.binHuge : SizeClass.bin(page.blockSize)
  }

  /// The size queue for a request of `size` bytes (≤ 128 KiB).
  func queueIndex(forSize size: Int) -> Int {
    let bin = SizeClass.bin(size)
    // Seeded `binOffByOne`: a request one byte above a bin's lower neighbour goes one bin too low.
    if has(.binOffByOne), bin > 8, bin < MiConst.binHuge, size == SizeClass.blockSize(ofBin: bin - 1) + 1 {
      return bin - 1
    }
    if has(.binRoundsUpAtBoundary), size == 80 || size == 112 {
      return bin + 1
    }
    return bin
  }

  /// `mi_page_queue_push`: at the front; `inFull` follows the queue; `pageCount += 1`.
  func queuePushFront(_ page: MiPage, _ q: Int) {
    mimalloc.structuresChanged()
    page.inFull = q == MiConst.binFull
    page.prev = nil
    page.next = queues[q].first
    if let n = page.next { n.prev = page } else { queues[q].last = page }
    queues[q].first = page
    pageCount += 1
  }

  /// `mi_page_queue_remove`: unlink; `inFull` cleared; `pageCount −= 1`.
  func queueRemove(_ page: MiPage, _ q: Int) {
    mimalloc.structuresChanged()
    unlink(page, q)
    page.inFull = false
    pageCount -= 1
  }

  /// `mi_page_queue_enqueue_from`: move `page` from queue `from` to the end of queue `to`.
  func queueMoveToEnd(_ page: MiPage, from: Int, to: Int) {
    mimalloc.structuresChanged()
    unlink(page, from)
    page.prev = queues[to].last
    page.next = nil
    if let l = page.prev { l.next = page } else { queues[to].first = page }
    queues[to].last = page
    page.inFull = to == MiConst.binFull
  }

  private func unlink(_ page: MiPage, _ q: Int) {
    if let p = page.prev { p.next = page.next } else if queues[q].first === page { queues[q].first = page.next }
    if let n = page.next { n.prev = page.prev } else if queues[q].last === page { queues[q].last = page.prev }
    page.next = nil
    page.prev = nil
  }

  /// `_mi_page_queue_append(heap, pq, append)`: move every page of `other`'s queue `q` to the end of ours.
  /// Each page first gets its new `xheap`, then waits out state 1 and goes to state 0 (not overriding 3),
  /// so afterwards only this heap receives delayed frees for it (fix of #204). Returns the pages moved.
  func appendQueue(_ q: Int, from other: Heap) -> Int {
    mimalloc.structuresChanged()
    var count = 0
    var page = other.queues[q].first
    while let p = page {
      if !has(.deleteKeepsOldXHeap) { p.setHeap(self) }  // seeded: stays on the deleted heap
      if !has(.deleteLosesDelayedFrees) {  // seeded #204: no wait, no state reset
        p.useDelayedFree(.useDelayedFree, overrideNever: false, site: .absorb)
      }
      count += 1
      page = p.next
    }
    guard let first = other.queues[q].first else { return 0 }
    first.prev = queues[q].last
    if let l = queues[q].last { l.next = first } else { queues[q].first = first }
    queues[q].last = other.queues[q].last
    other.queues[q].first = nil
    other.queues[q].last = nil
    return count
  }

  /// The pages of queue `q`, front to back, at most `limit` of them.
  func pages(inQueue q: Int, limit: Int = Int.max) -> [MiPage] {
    var out: [MiPage] = []
    var p = queues[q].first
    while let page = p, out.count < limit { out.append(page); p = page.next }
    return out
  }

  /// `mi_heap_visit_pages` over queues 0…74 (the full queue included). The next page is read before
  /// `body` runs, so `body` may free or move the page it gets.
  func forEachPage(_ body: (MiPage, Int) -> Void) {
    for q in 0..<MiConst.queueCount {
      var page = queues[q].first
      while let p = page {
        page = p.next
        body(p, q)
      }
    }
  }
}
