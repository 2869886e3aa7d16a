// Heap.swift — ``Heap``, the `mi_heap_t` of one thread: its page queues, its atomic delayed-free list and
// the public allocation entry points (`mi_heap_malloc`, `mi_heap_zalloc`, `mi_heap_calloc`). The slow path
// is Heap+Alloc.swift, page transitions PageLifecycle.swift, the rest Heap+Aligned, +Realloc, +Collect,
// +Visit. Guarded by MI6 (queues) and MI7 (segment ownership) in ``Mimalloc/checkInvariants()``.
//
// Only the owning thread calls a heap's allocation, collect, delete and destroy (precondition, as in
// mimalloc); any thread frees its blocks through its own ``MiThread/free(_:)``.
import Synchronization

/// One heap. `@unchecked Sendable`: owner-only state except `threadDelayedFree`, an atomic (ThreadFree.swift).
public final class Heap: @unchecked Sendable {
  /// CPython's heap id (0…3); `heapNew` heaps have tag 0 (`.mem`).
  public let tag: HeapTag
  /// `mi_heap_new` heaps: never reclaim abandoned segments (the reference honours it; see MimallocBug).
  public let noReclaim: Bool
  /// The thread whose tld this heap belongs to.
  public unowned let thread: MiThread
  /// `thread.id`, kept here so the invariant walks compare owners without a checked `unowned` load (an
  /// atomic retain and release per page).
  let threadId: UInt
  /// The allocator this heap belongs to. `unowned(unsafe)`: the ``Mimalloc`` instance outlives every use of
  /// its threads, heaps and segments (it owns them all: a program drops them before the allocator). A method
  /// call through it still retains and releases the allocator, so the hot seeded-bug tests go through
  /// ``bugWord`` instead (``has(_:)``).
  unowned(unsafe) let mimalloc: Mimalloc
  /// The allocator's ``Mimalloc/bugWord``, read by ``has(_:)`` without retaining the allocator.
  let bugWord: UnsafePointer<UInt64>
  /// CPython `page_use_qsbr`: true for the object, GC and GC-pre heaps of a thread state.
  let pageUseQSBR: Bool
  /// A number unique within the ``Mimalloc`` instance, for stats.
  public let serial: Int
  /// `pages[75]`. MI6: `pageCount == Σ` queue lengths.
  var queues: [MiPageQueue]
  var pageCount = 0
  /// Bin range that may hold retired pages (`page_retired_min/max`; empty when min > max).
  var pageRetiredMin = MiConst.binFull
  var pageRetiredMax = 0
  /// `thread_delayed_free`: blocks freed by other threads into pages that were in state 0. Atomic; every
  /// operation is a helper in ThreadFree.swift.
  let threadDelayedFree = SharedWord(0)
  /// False once deleted, destroyed, abandoned with its thread, or dropped by `Mimalloc.reset()`.
  public internal(set) var isAlive = true

  init(thread: MiThread, tag: HeapTag, noReclaim: Bool, pageUseQSBR: Bool, serial: Int) {
    self.thread = thread
    threadId = thread.id
    self.mimalloc = thread.mimalloc
    bugWord = unsafe UnsafePointer(thread.mimalloc.bugWord)
    self.tag = tag
    self.noReclaim = noReclaim
    self.pageUseQSBR = pageUseQSBR
    self.serial = serial
    queues = (0..<MiConst.queueCount).map { MiPageQueue(blockSize: SizeClass.blockSize(ofBin: $0)) }
  }

  /// Is the allocator's seeded `bug` on? As ``Mimalloc/has(_:)``, without a retain of the allocator: this
  /// is tested on every allocation and in the oracle's every `contains` question.
  @inline(__always) func has(_ bug: MimallocBug) -> Bool { MimallocBug.isOn(bug, in: unsafe bugWord.pointee) }

  /// `mi_heap_is_backing`.
  var isBacking: Bool { thread.backing === self }

  func requireUsable(_ what: StaticString) {
    require(isAlive, "\(what) on a dead heap (deleted, destroyed, its thread exited, or Mimalloc.reset())")
  }

  // MARK: Public allocation entry points

  /// `mi_heap_malloc(heap, n)`: nil above PTRDIFF_MAX or when memory cannot be had. `malloc(0)` returns a
  /// unique block of usable size 8.
  public func malloc(_ n: UInt64) -> Int? {
    requireUsable("malloc")
    guard n <= MiConst.maxAllocSize else { return nil }
    return allocate(size: Int(n), zero: false).map { Int(bitPattern: $0) }
  }

  /// `mi_heap_zalloc(heap, n)`: as malloc, the whole block zeroed.
  public func zalloc(_ n: UInt64) -> Int? {
    requireUsable("zalloc")
    guard n <= MiConst.maxAllocSize else { return nil }
    return allocate(size: Int(n), zero: true).map { Int(bitPattern: $0) }
  }

  /// `mi_heap_calloc(heap, count, size)`: nil when `count · size` overflows (`mi_count_size_overflow`).
  public func calloc(_ count: UInt64, _ size: UInt64) -> Int? {
    requireUsable("calloc")
    let (total, overflow) = count.multipliedReportingOverflow(by: size)
    guard !overflow else { return nil }
    return zalloc(total)
  }

  /// `_mi_heap_malloc_zero`: the fast path (`pages_free_direct` ≡ the first page of the size queue) for
  /// requests ≤ 1024 bytes, else the generic path.
  func allocate(size: Int, zero: Bool) -> UInt? {
    if size <= MiConst.smallSizeMax, let page = queues[queueIndex(forSize: size)].first, page.hasFree {
      return pop(page, zero: zero)  // usual
    }
    return mallocGeneric(size: size, zero: zero, hugeAlignment: 0)
  }

  /// `_mi_page_malloc` with this allocator's seeded bugs applied.
  func pop(_ page: MiPage, zero: Bool) -> UInt {
    page.popBlock(zero: zero, skipZeroingRecycled: has(.callocSkipsZeroingRecycled))
  }
}
