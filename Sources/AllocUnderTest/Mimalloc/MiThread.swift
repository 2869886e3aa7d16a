// MiThread.swift — ``MiThread``, the `mi_tld_t` of one CPython thread state (cpython-memory.md §5.1–§5.2,
// §5.7): its four tagged heaps (`tstate_mimalloc_bind`), `mi_heap_new` heaps, span queues, QSBR page list,
// and thread exit (`_mi_thread_done` / `_PyThreadState_ClearMimallocHeaps`). Guarded by MI6 and MI7.
//
// Thread identity is explicit: whoever calls through a `MiThread` acts as that thread. One OS thread may
// drive many `MiThread`s (logical threads) or each OS thread its own (real threads); a `MiThread` must never
// be driven by two OS threads at once, except `free`, which any OS thread may call through its own MiThread.

/// One thread's allocator state. `@unchecked Sendable`: only the thread driving it touches its fields.
public final class MiThread: @unchecked Sendable {
  /// Unique, nonzero (`_mi_thread_id`); 0 marks an abandoned segment.
  public let id: UInt
  /// `unowned(unsafe)`, as ``Heap``'s: read on every free; the ``Mimalloc`` instance outlives its threads' use.
  unowned(unsafe) let mimalloc: Mimalloc
  public let isMain: Bool
  /// False after ``exit()`` (or ``Mimalloc/reset()``).
  public internal(set) var isAlive = true
  /// `heaps[4]` of `_mimalloc_thread_state`, indexed by tag; `[0]` is the backing heap.
  private(set) var taggedHeaps: [Heap] = []
  /// `tld->heaps`: every live heap of this thread, newest first (heapNew pushes at the front).
  var heaps: [Heap] = []
  /// `tld->segments.spans`: free spans of the segments this thread owns.
  let spans = MiSpanQueues()
  /// `tld->heartbeat`: generic allocations so far.
  var heartbeat = 0
  /// `_mimalloc_thread_state.page_list`: pages parked for QSBR, oldest first.
  var qsbrPages: [MiPage] = []

  init(mimalloc: Mimalloc, id: UInt, isMain: Bool) {
    self.mimalloc = mimalloc
    self.id = id
    self.isMain = isMain
    taggedHeaps = HeapTag.allCases.map { tag in
      Heap(thread: self, tag: tag, noReclaim: false, pageUseQSBR: tag != .mem, serial: mimalloc.nextSerial())
    }
    heaps = taggedHeaps.reversed()
    mimalloc.qsbr.register(id)
  }

  /// CPython's heap for `tag` (MEM is the backing heap; OBJECT, GC, GC_PRE use QSBR).
  public func heap(_ tag: HeapTag) -> Heap { taggedHeaps[tag.rawValue] }

  /// `tld->heap_backing` (== `heap(.mem)`): never deleted; absorbs deleted heaps.
  public var backing: Heap { taggedHeaps[0] }

  /// `mi_heap_new()`: a heap of this thread with `no_reclaim`, tag 0, no QSBR, at the front of the list.
  public func heapNew() -> Heap {
    require(isAlive, "heapNew on exited MiThread \(id)")
    let heap = Heap(thread: self, tag: .mem, noReclaim: true, pageUseQSBR: false, serial: mimalloc.nextSerial())
    mimalloc.structuresChanged()
    heaps.insert(heap, at: 0)
    return heap
  }

  /// `mi_heap_free`: forget a deleted or destroyed heap.
  func forget(_ heap: Heap) {
    mimalloc.structuresChanged()
    heap.isAlive = false
    heaps.removeAll { $0 === heap }
  }

  /// QSBR quiescent point for this thread (`_Py_qsbr_quiescent_state`).
  public func quiescent() {
    require(isAlive, "quiescent on exited MiThread \(id)")
    mimalloc.qsbr.quiescent(id)
  }

  /// `mi_collect(force)` on the backing heap. On the main thread, a forced collect first reclaims every
  /// abandoned segment (`_mi_abandoned_reclaim_all`).
  public func collect(force: Bool) {
    require(isAlive, "collect on exited MiThread \(id)")
    backing.collect(force: force)
  }

  /// Every live heap of this thread collected, the backing heap first (so a forced collect on the main
  /// thread reclaims the abandoned segments before the other heaps run). Not an upstream entry point: one
  /// call for "collect the whole thread state". QSBR pages are freed only after every live thread passed a
  /// quiescent point *after* they were parked, so "nothing left mapped" takes: `collectAll` on every thread,
  /// `quiescent()` on every thread, `collectAll` on every thread.
  public func collectAll(force: Bool) {
    require(isAlive, "collectAll on exited MiThread \(id)")
    backing.collect(force: force)
    for heap in heaps where heap !== backing && heap.isAlive { heap.collect(force: force) }
  }

  /// Thread exit: every `mi_heap_new` heap is deleted (its pages move to the backing heap, `_mi_heap_done`),
  /// then each of the four tagged heaps is collected in abandon mode (`_PyThreadState_ClearMimallocHeaps`):
  /// empty pages are freed (or, QSBR permitting not, abandoned with their goal), the rest abandoned.
  /// The main thread never exits.
  public func exit() {
    require(isAlive, "MiThread \(id) exited twice")
    require(!isMain, "the main MiThread never exits")
    mimalloc.structuresChanged()
    for heap in heaps where heap.noReclaim { heap.delete() }
    for heap in taggedHeaps { heap.collect(mode: .abandon) }
    for heap in taggedHeaps { heap.isAlive = false }
    heaps.removeAll()
    for page in qsbrPages { page.qsbrListOwner = nil }  // none expected: abandon and free take them off
    qsbrPages.removeAll()
    spans.removeAll()
    isAlive = false
    mimalloc.qsbr.unregister(id)
  }
}
