// Heap+Collect.swift — heap collection in its three modes, delete (absorb into the backing heap) and
// destroy (§5, §6.2; v2.1.2 src/heap.c `mi_heap_collect_ex`, `mi_heap_page_collect`, `mi_heap_delete`,
// `mi_heap_absorb`, `mi_heap_destroy`, `_mi_heap_page_destroy`; CPython's QSBR hooks in collect).
// Guarded by MI4 (no heap list left behind), MI6 and MI7.

/// `mi_collect_t`.
enum CollectMode: Int, Comparable {
  case normal, force, abandon
  static func < (a: CollectMode, b: CollectMode) -> Bool { a.rawValue < b.rawValue }
}

extension Heap {
  /// `mi_heap_collect(heap, force)`: free every empty page, collect remote frees and retired pages, free
  /// empty abandoned segments. A forced collect of the main thread's backing heap first reclaims every
  /// abandoned segment (2.1.2 release: only for MI_FORCE).
  public func collect(force: Bool) {
    requireUsable("collect")
    collect(mode: force ? .force : .normal)
  }

  /// `mi_heap_collect_ex`. Abandon mode (thread exit): every page to state 3 first (waiting out 1), then
  /// the delayed list is drained completely — after which no heap list refers to these pages — then each
  /// page is freed if empty or abandoned.
  func collect(mode: CollectMode) {
    mimalloc.structuresChanged()
    let force = mode >= .force
    if mode == .force && thread.isMain && isBacking && !noReclaim {
      thread.reclaimAll(into: self)
    }
    if mode == .abandon {
      forEachPage { page, _ in page.useDelayedFree(.neverDelayedFree, overrideNever: false, site: .abandon) }
    }
    delayedFreeAll()
    collectRetired(force: force)
    collectQSBR()
    forEachPage { page, q in
      page.collectFree(force: force)
      if page.allFree {
        if !maybeFreePage(page, q, force: force) && mode == .abandon { pageAbandon(page, queueIndex(of: page)) }
      } else if mode == .abandon {
        pageAbandon(page, q)
      }
    }
    thread.abandonedCollect(into: self, force: mode == .force)
  }

  /// `mi_heap_delete`: a non-backing heap's pages (with their live blocks) move to the backing heap; then
  /// the heap is gone. Deleting the backing heap is refused (use ``MiThread/exit()``). Deleting one of the
  /// thread's OBJECT/GC/GC_PRE heaps is allowed, as upstream; `MiThread.heap(tag)` then returns the dead
  /// heap, and using it traps.
  public func delete() {
    requireUsable("delete")
    require(!isBacking, "delete of a backing heap: upstream abandons its pages; use MiThread.exit()")
    mimalloc.structuresChanged()
    thread.backing.absorb(self)
    thread.forget(self)
  }

  /// `mi_heap_destroy`: only for `noReclaim` heaps (else it falls back to `delete`): every page is freed at
  /// once, live blocks included. No other thread may free into the heap afterwards.
  public func destroy() {
    requireUsable("destroy")
    guard noReclaim else {
      delete()
      return
    }
    mimalloc.structuresChanged()
    let skipFull = has(.destroySkipsFullPages)
    forEachPage { page, q in
      if skipFull && q == MiConst.binFull { return }  // seeded: full pages stay, their blocks "live" on
      // `_mi_heap_page_destroy`: no more delayed frees into this heap, pretend all free, free the page.
      page.useDelayedFree(.neverDelayedFree, overrideNever: false, site: .destroy)
      page.used = 0
      queueRemove(page, q)
      page.setHeap(nil)
      thread.segmentPageFree(page)
    }
    _ = takeDelayedFree()  // `mi_heap_reset_pages`: whatever remote frees were queued die with the heap
    pageRetiredMin = MiConst.binFull
    pageRetiredMax = 0
    thread.forget(self)
  }

  /// `mi_heap_absorb(self, from)`: drain `from`'s delayed list partially, append each of its queues to ours
  /// (retargeting each page and waiting out state 1), drain the rest of its list, reset it.
  func absorb(_ from: Heap) {
    guard from.pageCount > 0 || from.delayedFreeHead != 0 else { return }
    let seeded204 = has(.deleteLosesDelayedFrees)
    if !seeded204 { from.delayedFreePartial() }
    for q in 0..<MiConst.queueCount {
      let moved = appendQueue(q, from: from)
      pageCount += moved
      from.pageCount -= moved
    }
    if !seeded204 { from.delayedFreeAll() }  // seeded #204: neither drain happens …
    _ = from.takeDelayedFree()  // … and `mi_heap_reset_pages` drops the list
    from.pageRetiredMin = MiConst.binFull
    from.pageRetiredMax = 0
  }
}
