// Page.swift — ``MiPage``, the `mi_page_t` of one slice run: its fields and invariants, page init, lazy
// free-list extension (`mi_page_extend_free`), popping a block (`_mi_page_malloc`) and collecting the
// local and remote free lists (`_mi_page_free_collect`, §3.5). The remote-free word itself and the delayed
// states live in ThreadFree.swift. Guarded by MI1 (counts), MI2 (lists), MI4 (states) and MI6 (queues).
//
// A page object is created once per starting slice index of a segment and reused: while its span is free
// it describes that free span (`blockSize == 0`, linked into a span queue through `next`/`prev`); while used
// it describes a page (`blockSize > 0`, linked into one heap queue through the same `next`/`prev`).
import Synchronization

/// One page (or free span) of a segment. `@unchecked Sendable`: owner-only fields are touched only by the
/// thread owning the segment (hand-offs go through the abandoned pool's mutex); the cross-thread fields are
/// the atomics `xthreadFree` and `xheap`; the constant-while-used fields (`blockSize`, `pageStart`) are
/// written before any block of the page is handed out.
final class MiPage: @unchecked Sendable {
  let segment: MiSegment
  /// Index of the first slice of this span in its segment (≥ `MiConst.infoSlices`).
  let sliceIndex: Int
  /// Length of the span in slices (used page or free span).
  var sliceCount = 0
  /// 0 iff this describes a free span; else the block size in bytes (a large or huge page's whole area).
  var blockSize = 0
  /// True iff the free span is linked in its owner's span queue (spans of abandoned and huge segments are not).
  var inSpanQueue = false

  /// Address of block 0: slice start + `SizeClass.pageStartOffset`.
  var pageStart: UInt = 0
  /// Bytes from `pageStart` to the end of the span.
  var areaSize = 0
  /// Blocks that fit in the area. Invariant (MI1): `reserved == areaSize / blockSize`.
  var reserved = 0
  /// Blocks threaded into free lists so far. Invariant (MI1): `used ≤ capacity ≤ reserved`.
  var capacity = 0
  /// Blocks handed out, *including* blocks sitting on `xthreadFree` and on a heap delayed list.
  /// Invariant (MI1), at every owner-side operation boundary:
  ///     capacity == used + |free| + |localFree|
  /// and the live count is `used − |threadFree| − (#blocks of this page on delayed lists)`.
  var used = 0
  /// Allocation list (owner only). MI2: every block lies in the area, below capacity, at a multiple of
  /// `blockSize`; the lists `free`, `localFree`, thread-free and the delayed lists are pairwise disjoint.
  var free: UInt = 0
  /// Blocks freed by the owner, not allocatable until `free` runs dry (`_mi_page_free_collect`).
  var localFree: UInt = 0
  /// The page's memory was zero when the page was set up (never used since the segment was mapped).
  var isZeroInit = false
  /// Blocks on `free` are zero after their link word.
  var freeIsZero = false
  /// In its heap's full queue (74). Invariant (MI6): inFull ⇔ the page is in queue 74.
  var inFull = false
  /// Some block was handed out at an interior aligned address (`mallocAligned` moved the pointer).
  var hasAligned = false
  /// Retirement countdown in fresh-page events (§3.7); 0 = not retired.
  var retireExpire = 0

  /// Remote-free list head | 2-bit ``DelayedState`` (see ThreadFree.swift for every operation on it).
  let xthreadFree = SharedWord(0)
  /// The owning ``Heap`` as `Unmanaged` bits, 0 when abandoned or free (see ThreadFree.swift).
  let xheap = SharedWord(0)

  /// Heap-queue or span-queue links (owner only).
  var next: MiPage?
  var prev: MiPage?

  // CPython additions (Include/internal/mimalloc/mimalloc/types.h): tag, use_qsbr, qsbr_goal, qsbr_node.
  var tag: HeapTag = .mem
  var useQSBR = false
  /// QSBR goal set when the page emptied (0 = none); see QSBR.swift.
  var qsbrGoal: UInt64 = 0
  /// The thread whose QSBR page list holds this page, if any (`qsbr_node` linked).
  var qsbrListOwner: MiThread?

  /// Scratch of the invariant walks (Mimalloc+Invariants.swift); meaningful only while a field's serial
  /// equals the running walk's ``Mimalloc/walkSerial``.
  var walkMarks = PageWalkMarks()
  /// ``checkKey`` when MI1/MI2/MI4 last passed on this page with none of its blocks on a delayed list; nil
  /// after a failure, and from set-up or clearing on (``Mimalloc/checkInvariants(reusingPassedPages:)``).
  var passedCheck: PageCheckKey?

  init(segment: MiSegment, sliceIndex: Int) {
    self.segment = segment
    self.sliceIndex = sliceIndex
  }

  var isUsed: Bool { blockSize > 0 }
  /// Every field MI1, MI2 and MI4 read (the list heads, counts, geometry, the remote word with its state,
  /// the owning heap). The lists' links live in the free blocks and change only with a head or a count.
  var checkKey: PageCheckKey {
    PageCheckKey(free: free, localFree: localFree, remote: xthreadFree.load(ordering: .relaxed),
                 heapBits: xheap.load(ordering: .relaxed), pageStart: pageStart, used: used, capacity: capacity,
                 reserved: reserved, blockSize: blockSize, areaSize: areaSize)
  }
  /// This object as the slice table stores it (``SegmentInfo/pageBits(atSlice:)``).
  var unmanagedBits: UInt { UInt(bitPattern: unsafe Unmanaged.passUnretained(self).toOpaque()) }
  /// Address of the first byte of the span.
  var spanStart: UInt { segment.base + UInt(sliceIndex << MiConst.sliceShift) }
  /// `mi_page_all_free`.
  var allFree: Bool { used == 0 }
  /// `mi_page_immediate_available`.
  var hasFree: Bool { free != 0 }
  /// Large and huge pages live in queue 73 and hold one block.
  var isLargeOrHuge: Bool { blockSize > MiConst.mediumObjSizeMax }

  /// The block containing `address` (`_mi_page_ptr_unalign`); identity for a block start.
  func blockStart(of address: UInt) -> UInt {
    let offset = address &- pageStart
    return pageStart + offset - offset % UInt(blockSize)
  }

  /// Is `address` a block start inside this page's first `limit` blocks?
  func isBlock(_ address: UInt, below limit: Int) -> Bool {
    guard address >= pageStart else { return false }
    let offset = address - pageStart
    return offset % UInt(blockSize) == 0 && offset / UInt(blockSize) < UInt(limit)
  }

  /// `mi_page_init`: turn this freshly allocated span into a page of `bsize` blocks for `heap`, then
  /// extend the free list once. The heap pointer is published first (release, see ThreadFree.swift).
  func setUp(heap: Heap, blockSize bsize: Int, legacyStartOffset: Bool) {
    setHeap(heap)
    passedCheck = nil
    blockSize = bsize
    let offset = SizeClass.pageStartOffset(blockSize: bsize, legacy384: legacyStartOffset)
    pageStart = spanStart + UInt(offset)
    areaSize = sliceCount * MiConst.sliceSize - offset
    reserved = areaSize / bsize
    Memcheck.createPool(pageStart, inaccessible: reserved * bsize)
    capacity = 0
    used = 0
    free = 0
    localFree = 0
    freeIsZero = isZeroInit
    inFull = false
    hasAligned = false
    retireExpire = 0
    tag = heap.tag
    useQSBR = heap.pageUseQSBR
    qsbrGoal = 0
    extendFree()
  }

  /// `mi_page_extend_free`: thread min(reserved − capacity, max(4096 / bsize, 4)) more blocks, in
  /// increasing address order, in front of `free`. Only called with `free` and `localFree` empty.
  func extendFree() {
    guard capacity < reserved else { return }
    let bsize = blockSize
    let maxExtend = max(bsize >= MiConst.maxExtendSize ? MiConst.minExtend : MiConst.maxExtendSize / bsize,
                        MiConst.minExtend)
    let extend = min(reserved - capacity, maxExtend)
    let first = pageStart + UInt(capacity * bsize)
    for k in 0..<extend {
      let block = MiBlock(first + UInt(k * bsize))
      block.next = k == extend - 1 ? free : block.address + UInt(bsize)
    }
    free = first
    capacity += extend
  }

  /// `_mi_page_malloc`: pop the first free block (precondition: `free != 0`). With `zero`, clear the
  /// link word if the block is known zero, else the whole block (the full block, not the request: #63).
  func popBlock(zero: Bool, skipZeroingRecycled: Bool) -> UInt {
    let block = MiBlock(free)
    free = block.next
    Memcheck.allocated(block.address, size: blockSize, pool: pageStart)
    used += 1
    if zero {
      // The link word only when the rest is known zero (a plain store: the block is no longer free).
      block.zero(count: freeIsZero || skipZeroingRecycled ? MemoryLayout<UInt>.size : blockSize)
      if freeIsZero { Memcheck.defined(block.address, size: blockSize) }  // fresh pages read as zero
    }
    if qsbrGoal != 0 { clearQSBR() }  // reused before its QSBR goal: no longer waiting (gh-145615 fix)
    return block.address
  }

  /// `_mi_page_free_collect(page, force)` (§3.5): detach the remote list into `localFree` (count ≤ capacity,
  /// else the list is dropped as corrupt), then move `localFree` to `free` if `free` is empty, or — only when
  /// forced — splice it in front of `free`.
  func collectFree(force: Bool) {
    if force || threadFreeLooksNonEmpty { collectThreadFree() }
    guard localFree != 0 else { return }
    if free == 0 {
      free = localFree
    } else if force {
      var tail = MiBlock(localFree)
      var steps = 0
      while tail.next != 0 && steps < capacity { tail = MiBlock(tail.next); steps += 1 }
      tail.next = free
      free = localFree
    } else {
      return
    }
    localFree = 0
    freeIsZero = false
    // Seeded gh-145615 (part 2): CPython 3.13 cleared the QSBR goal on any collection of `localFree`,
    // including heap visits and collects, not only when the page is reused.
    if qsbrGoal != 0 && segment.owner.has(.qsbrParkedPageLeak) { clearQSBR() }
  }

  /// `_mi_page_thread_free_collect`: take the remote list and prepend it to `localFree`, `used −= count`.
  /// A list longer than `capacity`, or one leaving the page, is corrupt (a concurrent double free): it is
  /// dropped and counted, as upstream drops it with EFAULT "corrupted thread-free list".
  private func collectThreadFree() {
    let head = takeThreadFree()
    guard head != 0 else { return }
    var count = 1
    var tail = head
    while true {
      guard isBlock(tail, below: capacity) else { segment.owner.noteCorruptThreadFreeList(); return }
      let next = MiBlock(tail).next
      if next == 0 { break }
      count += 1
      if count > capacity { segment.owner.noteCorruptThreadFreeList(); return }
      tail = next
    }
    MiBlock(tail).next = localFree
    localFree = head
    used -= count
  }

  /// Back to the zeroed free-span state (`mi_segment_page_clear`): every field from `capacity` on.
  func clearPageFields() {
    if pageStart != 0 { Memcheck.destroyPool(pageStart, size: reserved * blockSize) }
    passedCheck = nil
    blockSize = 0
    pageStart = 0
    areaSize = 0
    reserved = 0
    capacity = 0
    used = 0
    free = 0
    localFree = 0
    freeIsZero = false
    isZeroInit = false
    inFull = false
    hasAligned = false
    retireExpire = 0
    resetThreadFreeWord()
    setHeap(nil)
    next = nil
    prev = nil
    clearQSBR()
    useQSBR = false
  }
}

/// What MI1, MI2 and MI4 read of one page (``MiPage/checkKey``).
struct PageCheckKey: Equatable {
  let free: UInt, localFree: UInt, remote: UInt, heapBits: UInt, pageStart: UInt
  let used: Int, capacity: Int, reserved: Int, blockSize: Int, areaSize: Int
}
