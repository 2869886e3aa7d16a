// Types.swift — the design document of the mimalloc reference allocator (mimalloc 2.1.2 as vendored by
// CPython 3.13, release build, no padding, no secure mode): glossary, geometry constants and the small
// public value types. Facts: mimalloc v2.1.2 include/mimalloc/types.h, src/init.c, src/segment.c.
// Guarded by ``Mimalloc/checkInvariants()`` (MI1–MI7) and the MimallocBinTests table tests.

// Glossary
//   block    — what malloc hands out. A free block keeps the link to the next free block in its first
//              word (`MiBlock.next`); there are no block headers.
//   page     — a mimalloc page (NOT an OS page): a run of slices holding blocks of one size. Described by a
//              ``MiPage`` object; its blocks live in the segment's mapped memory. "OS page" = 4 KiB.
//   slice    — 64 KiB, the unit in which a segment is cut into pages and free spans.
//   segment  — 32 MiB of mapped memory aligned to 32 MiB (huge segments: sized to need), owned by one
//              thread (`threadId`, 0 = abandoned). Slice 0 is the info slice (segment header).
//   span     — a run of free slices of one segment, kept in the owning thread's span queues.
//   heap     — a set of 75 page queues (73 size bins, 73 = large/huge, 74 = full) owned by one thread.
//   thread   — ``MiThread``, the `mi_tld_t` of one PyThreadState: its heaps, span queues, QSBR state.
//
//   segment (32 MiB, 32 MiB aligned)
//   ┌────────────┬──────────────┬──────────────────────────┬──────────────┬─────┐
//   │ info slice │ small page   │ medium page (8 slices)   │ free span    │ ... │   512 slices of 64 KiB
//   └────────────┴──────────────┴──────────────────────────┴──────────────┴─────┘
//   info slice: [0:8] Unmanaged<MiSegment>, [64 + 8·i] Unmanaged<MiPage> covering slice i (0 = none)
//   page area: slice start + startOffset(bsize); block k at pageStart + k·bsize, k < reserved

/// Geometry and policy constants of 64-bit mimalloc 2.1.2 (include/mimalloc/types.h unless noted).
enum MiConst {
  /// `MI_SEGMENT_SLICE_SHIFT` (13 + 3): a slice is 64 KiB.
  static let sliceShift = 16
  static let sliceSize = 1 << sliceShift
  /// `MI_SEGMENT_SHIFT` (slice shift + 9): a segment is 32 MiB, aligned to its size.
  static let segmentShift = 25
  static let segmentSize = 1 << segmentShift
  static let segmentMask = UInt(segmentSize - 1)
  /// `MI_SLICES_PER_SEGMENT` (the header comment's 1024 is stale).
  static let slicesPerSegment = segmentSize / sliceSize
  /// `segment_info_slices`: sizeof(mi_segment_t) is 41 304 bytes in a release build, so one slice.
  static let infoSlices = 1
  static let smallPageSize = sliceSize
  static let mediumPageSize = 8 * sliceSize
  /// `MI_SMALL_OBJ_SIZE_MAX` = small page / 4 (the "8 KiB" comment is stale).
  static let smallObjSizeMax = smallPageSize / 4
  /// `MI_MEDIUM_OBJ_SIZE_MAX` = medium page / 4.
  static let mediumObjSizeMax = mediumPageSize / 4
  static let mediumObjWSizeMax = mediumObjSizeMax / 8
  /// `MI_LARGE_OBJ_SIZE_MAX` = segment / 2.
  static let largeObjSizeMax = segmentSize / 2
  /// `MI_SMALL_SIZE_MAX` (mimalloc.h): bound of the `pages_free_direct` fast path.
  static let smallSizeMax = 1024
  /// `MI_MAX_ALIGN_SIZE`.
  static let maxAlignSize = 16
  /// `MI_BIN_HUGE`, `MI_BIN_FULL`; `pages[]` has 75 queues.
  static let binHuge = 73
  static let binFull = 74
  static let queueCount = 75
  /// `MI_ALIGNMENT_MAX`: larger alignments get a dedicated huge segment.
  static let alignmentMax = segmentSize / 2
  /// `MI_MAX_ALIGN_GUARANTEE`: blocks up to this size are naturally aligned (2.0.9, 2.1.2).
  static let maxAlignGuarantee = 128
  /// page.c `MI_MAX_EXTEND_SIZE` / `MI_MIN_EXTEND` (non-secure).
  static let maxExtendSize = 4096
  static let minExtend = 4
  /// page.c `MI_RETIRE_CYCLES` and `MI_MAX_RETIRE_SIZE`.
  static let retireCycles = 16
  static let maxRetireSize = mediumObjSizeMax
  /// `MI_SEGMENT_BIN_MAX`: span queues are bins 0...35.
  static let segmentBinMax = 35
  /// options.c `max_segment_reclaim` default.
  static let maxSegmentReclaim = 8
  /// `_mi_abandoned_collect` pop limits (segment.c).
  static let abandonedCollectTries = 1024
  static let abandonedCollectForcedTries = 16 * 1024
  /// `_mi_page_try_use_delayed_free`: yields before the owner gives up on a page in state 1.
  static let delayedFreeYields = 4
  /// `PTRDIFF_MAX`: larger requests fail (2.1.2 `mi_find_page`).
  static let maxAllocSize = UInt64(Int.max)
  /// Byte offset of the slice table inside the info slice (after the back-reference word).
  static let sliceTableOffset = 64
}

/// CPython's four per-thread-state heaps (`_Py_mimalloc_heap_id`, Include/internal/pycore_mimalloc.h).
/// The heap tag equals the id (Objects/obmalloc.c `tstate_mimalloc_bind`).
public enum HeapTag: Int, Sendable, CaseIterable, Codable {
  /// `_Py_MIMALLOC_HEAP_MEM`: PyMem_*; the thread's backing heap; no QSBR.
  case mem = 0
  /// `_Py_MIMALLOC_HEAP_OBJECT`: non-GC objects; pages freed only after QSBR.
  case object = 1
  /// `_Py_MIMALLOC_HEAP_GC`: GC objects without pre-header; QSBR.
  case gc = 2
  /// `_Py_MIMALLOC_HEAP_GC_PRE`: GC objects with a pre-header; QSBR.
  case gcPre = 3
}

/// What the oracle asks about an address (``Mimalloc/blockState(_:)``).
public enum MiBlockState: Sendable, Equatable {
  /// Inside a used page, below `capacity`, and on none of the page's or heaps' free lists.
  case allocated
  /// On a free list (`free`, `localFree`, the page's thread-free list or a heap's delayed list), at or
  /// beyond `capacity`, or inside a free span of a live segment.
  case free
  /// Not inside the page area of any live segment.
  case notOwned
}

/// `mi_heap_area_t`: one page as ``Heap/visitBlocks(all:_:)`` reports it. Sizes in bytes except `used`.
public struct HeapArea: Sendable, Equatable {
  /// Address of the page's first block (`page_start`).
  public var blocks: Int
  /// `reserved · bsize`.
  public var reserved: Int
  /// `capacity · bsize`.
  public var committed: Int
  /// Blocks in use, exact: the page's thread-free list is collected first (CPython's `_mi_heap_area_init`).
  public var used: Int
  /// Usable block size (release build: equals `fullBlockSize`).
  public var blockSize: Int
  public var fullBlockSize: Int
}

/// The two low bits of `xthread_free` (`mi_delayed_t`). One state per paragraph (R11):
///
/// `useDelayedFree` (0): initial state of every page. The next remote free must notify the owning heap by
/// pushing its block on the heap's `thread_delayed_free` list instead of the page list. Moves to 1 (remote
/// freer's CAS), to 3 (owner abandons or destroys).
///
/// `delayedFreeing` (1): transient; a remote thread is pushing onto the heap list. The owner must not
/// retarget `xheap`, tear down the heap or change the state; it yields and retries. Moves to 2 (the same
/// remote freer, after its push).
///
/// `noDelayedFree` (2): the heap has been notified; further remote frees go to the page's own list. Moves to
/// 0 (owner, before collecting the page in `_mi_free_delayed_block`, or `_mi_page_queue_append` in absorb),
/// to 3 (owner abandons or destroys).
///
/// `neverDelayedFree` (3): sticky; no usable owning heap (abandoned page, heap destroyed or abandoned).
/// Remote frees always go to the page list. Only reclaim moves it back to 0, after `xheap` is set.
enum DelayedState: UInt, Sendable, CustomStringConvertible {
  case useDelayedFree = 0
  case delayedFreeing = 1
  case noDelayedFree = 2
  case neverDelayedFree = 3

  var description: String { "\(rawValue)" }
}
