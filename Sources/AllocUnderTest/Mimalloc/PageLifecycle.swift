// PageLifecycle.swift — where a used page lives and what moves it (v2.1.2 src/page.c `mi_page_to_full`,
// `_mi_page_unfull`, `_mi_page_retire`, `_mi_heap_collect_retired`, `_mi_page_free`, `_mi_page_abandon`).
// One state per paragraph (R11). Guarded by MI6 (queue membership, `inFull`) and MI7.

/// The states of a used page, one per paragraph (R11).
///
/// In a size queue: `xheap` = its heap, `inFull` false, queue `bin(bsize)` (73 for large/huge). Fresh and
/// reclaimed pages enter at the front, unfulled pages at the end. Allocation takes blocks from it. Leaves
/// by toFull (no free block, no room to extend), retire/free (all blocks free), or abandon.
///
/// Full: in queue 74, `inFull` true. Never scanned by allocation. Leaves only by `unfull` (a local free,
/// including one made while draining the heap's delayed list — why every page must notify its heap), to the
/// end of its size queue; or, when that free empties it, by retire → free.
///
/// Retired: in its size queue as the only page, all blocks free, `retireExpire` > 0 counting down
/// fresh-page events (`collectRetired`); taken again for allocation (expire reset to 0) or freed at 0.
///
/// QSBR-parked (CPython, heaps with `page_use_qsbr`): all free, kept in its size queue with a goal and on
/// the thread's QSBR list until every live thread passed a quiescent point (QSBR.swift); reused or freed.
///
/// Abandoned: no queue, `xheap` nil, state 3; its segment counts it in `abandoned` (Abandon.swift).
///
/// Freed: back to a free span of its segment; all page fields zeroed, state 0, in no queue.
extension Heap {
  /// `mi_page_to_full`: append to the full queue, then collect once more in case a remote free raced with
  /// the move.
  func toFull(_ page: MiPage, _ q: Int) {
    guard !page.inFull else { return }
    queueMoveToEnd(page, from: q, to: MiConst.binFull)
    page.collectFree(force: false)
  }

  /// `_mi_page_unfull`: from the full queue to the end of its size queue.
  func unfull(_ page: MiPage) {
    guard page.inFull else { return }
    page.inFull = false
    let q = queueIndex(of: page)
    page.inFull = true
    queueMoveToEnd(page, from: MiConst.binFull, to: q)
    if has(.unfullForgetsFlag) { page.inFull = true }  // seeded: in a size queue, flag still set
  }

  /// `_mi_page_retire`: the page's last block was freed locally. The only page of a normal size queue
  /// (bsize ≤ 128 KiB) is kept for 17 fresh-page events (bsize ≤ 16 KiB) or 5 (2.1.2 adds 1 to
  /// MI_RETIRE_CYCLES 16 and 16/4); any other page is freed now (or QSBR-parked).
  func retire(_ page: MiPage) {
    page.hasAligned = false
    let q = queueIndex(of: page)
    if page.blockSize <= MiConst.maxRetireSize && q < MiConst.binHuge {
      if queues[q].first === page && queues[q].last === page {
        page.retireExpire = 1 + (page.blockSize <= MiConst.smallObjSizeMax ? MiConst.retireCycles : MiConst.retireCycles / 4)
        pageRetiredMin = min(pageRetiredMin, q)
        pageRetiredMax = max(pageRetiredMax, q)
        return
      }
    }
    maybeFreePage(page, q, force: false)
  }

  /// `_mi_heap_collect_retired`: count down the front page of each queue in the retired range; free it at
  /// 0 (or when forced); a page that got used again is no longer retired.
  func collectRetired(force: Bool) {
    var low = MiConst.binFull
    var high = 0
    if pageRetiredMin <= pageRetiredMax {
      for q in pageRetiredMin...pageRetiredMax {
        guard let page = queues[q].first, page.retireExpire != 0 else { continue }
        if page.allFree {
          page.retireExpire -= 1
          if force || page.retireExpire == 0 {
            maybeFreePage(page, q, force: force)
          } else {
            low = min(low, q)
            high = max(high, q)
          }
        } else {
          page.retireExpire = 0
        }
      }
    }
    pageRetiredMin = low
    pageRetiredMax = high
  }

  /// `_mi_page_free`: unlink, drop the heap, give the span back to the segment (which may free or abandon
  /// the whole segment). Precondition: all blocks free, state not 1.
  func pageFree(_ page: MiPage, _ q: Int) {
    page.hasAligned = false
    queueRemove(page, q)
    page.setHeap(nil)
    thread.segmentPageFree(page)
  }

  /// `_mi_page_abandon`: the thread is done but the page still has live blocks (state is already 3).
  func pageAbandon(_ page: MiPage, _ q: Int) {
    queueRemove(page, q)
    page.setHeap(nil)
    if page.qsbrListOwner != nil {  // keep the goal, leave the exiting thread's list
      let goal = page.qsbrGoal
      page.clearQSBR()
      page.qsbrGoal = goal
    }
    thread.segmentPageAbandon(page)
  }
}
