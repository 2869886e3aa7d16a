// HeapsAdapter.swift — the extra interface the heaps family needs (issue 3): logical threads, first-class
// heaps and the queries the heap rules H1–H7 ask. An allocator with per-thread heaps (the reference
// mimalloc today; libmimalloc later) conforms. Threads and heaps are named by the program's own ids
// (t0 is the main thread; `spawn` returns the next thread id, `heapNew` the next heap id), and every call
// runs on the current logical thread. `malloc`/`calloc`/`realloc`/`free` of ``AllocatorAdapter`` use the
// current thread's mem (backing) heap.

import Oracle

public protocol HeapsAdapter: AllocatorAdapter {
  /// Starts a logical thread (with its four CPython heaps); returns its id (1, 2, … in spawn order).
  func spawnThread() -> Int
  /// Makes thread `id` current. Precondition: alive.
  func switchThread(_ id: Int)
  /// The current thread exits; t0 becomes current. Precondition: current is not t0.
  func exitThread()
  /// mi_heap_new on the current thread; returns its id (0, 1, … in creation order).
  func heapNew() -> Int
  func heapDestroy(_ heap: Int)
  func heapDelete(_ heap: Int)
  func heapCollect(_ heap: HeapRef, force: Bool)
  /// Every in-use block of the heap as (block start, block size), by mi_heap_visit_blocks.
  func heapVisit(_ heap: HeapRef) -> [(start: Int, size: Int)]
  func heapMalloc(_ heap: HeapRef, _ n: UInt64) -> Int?
  func heapMallocAligned(_ heap: HeapRef, _ n: UInt64, alignment: UInt64) -> Int?
  /// mi_collect on the current thread (t0 with force: reclaim every abandoned segment).
  func collect(force: Bool)
  func quiescent()
  /// The current thread's id.
  var currentThread: Int { get }

  /// The live heaps whose contains-block answers yes for `address`.
  func heapsContaining(_ address: Int) -> [HeapIdentity]
  /// Does heap `heap` contain the block at `address`?
  func heapContains(_ heap: HeapIdentity, _ address: Int) -> Bool
  /// Blocks in use in the pages of `heap` (Σ page used, not-yet-collected cross-thread frees included).
  func heapUsedBlocks(_ heap: HeapIdentity) -> Int
  /// Blocks in use over every page, abandoned ones included.
  var blocksInUse: Int { get }
  /// Segments currently mapped.
  var segmentCount: Int { get }
  /// End of a run: every live thread passes a quiescent point and collects every heap with force (the
  /// main thread last, reclaiming abandoned segments), repeated until QSBR lets every empty page go.
  func settle()
}

extension HeapRef {
  /// The heap this ref names when `thread` is current.
  public func identity(on thread: Int) -> HeapIdentity {
    switch self {
    case .tagged(let tag): .tagged(thread: thread, tag: tag.rawValue)
    case .made(let id): .made(id)
    }
  }
}
