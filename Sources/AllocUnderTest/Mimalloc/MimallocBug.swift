// MimallocBug.swift — deliberate defects of the mimalloc reference, switched on by the quality suite: one
// per invariant id, the bug classes of the issue, and real upstream bugs of spec mimalloc.md §9 (the
// reference does the fixed thing; the case switches on upstream's behaviour). Off by default. Each case
// names the check that must catch it in `caughtBy` (MI* = ``Mimalloc/checkInvariants()``, O*/H* = oracle).

/// A named defect in the mimalloc reference allocator.
public enum MimallocBug: String, CaseIterable, Sendable, Codable {
  // MARK: one per invariant id

  /// MI1 page counts: a local free of a 48-byte block does not decrement `used`.
  case usedNotDecremented
  /// MI2 free lists: a local free of a 96-byte block pushes it on `localFree` twice (a one-block cycle).
  case blockPushedTwice
  /// MI3 transitions (also "delayed-free state skipped"): a remote freer in state 0 jumps straight to 2,
  /// skipping the DELAYED_FREEING state that keeps the owner from retargeting the page meanwhile.
  case delayedStateSkipped
  /// MI3 transitions: the owner's delayed-free drain overrides NEVER_DELAYED_FREE (3 → 0 outside reclaim),
  /// e.g. while a thread abandons its pages.
  case ownerResetsNeverDelayed
  /// MI4 notification: the remote freer sets state 2 but leaves its block on the page list instead of the
  /// heap's delayed list, so no heap list holds a block of that page.
  case noDelayedWithoutNotify
  /// MI6 queues: `_mi_page_unfull` moves the page to its size queue but leaves `in_full` set.
  case unfullForgetsFlag
  /// MI7 segments: an abandoned segment keeps its dead owner's thread id.
  case abandonKeepsThreadId

  // MARK: bug classes of the issue

  /// MI1 (cross-thread free pushed to the wrong list): a remote free pushes on the owner-only `localFree`
  /// list without touching `used`.
  case remoteFreeToWrongList
  /// H5 remote frees reclaimed: a remote free into a page already past state 0 is silently dropped.
  case remoteFreeDropped
  /// H2 destroy frees all of the heap's blocks: `mi_heap_destroy` skips the full queue, leaking its pages.
  case destroySkipsFullPages
  /// H4 visit reports exactly the live blocks: `mi_heap_visit_blocks` misses the full queue.
  case visitSkipsFullQueue
  /// H7 bounded footprint (and H6): abandoned segments are never reclaimed or collected.
  case abandonedNeverReclaimed
  /// O3 usable size ≥ request: a request one byte above a bin's lower neighbour (65, 97, 129, …) is served
  /// from the bin below.
  case binOffByOne
  /// H3 delete moves blocks to the backing heap (and H1): absorbed pages keep `xheap` on the deleted heap.
  case deleteKeepsOldXHeap
  /// H1 containment: `mi_heap_contains_block` answers for any heap of the owning thread.
  case containsAnyHeapOfThread
  /// O5 calloc zeroed: zeroing a block that is not known-zero clears only its link word.
  case callocSkipsZeroingRecycled
  /// O1 alignment: the over-allocate-and-round path of `mi_heap_malloc_aligned` returns the unrounded block.
  case alignedIgnoresAlignment

  // MARK: real upstream bugs (mimalloc.md §9, cpython-memory.md §5)

  /// H2 (also H1, O4) — probe hazard, 2.1.2 and 2.1.7, no upstream issue (oven-sh/bun PR #27786 hit the
  /// tag-routing variant): `no_reclaim` is not consulted by segment reclaim, so a `mi_heap_new` heap adopts
  /// a dead thread's abandoned segment and `mi_heap_destroy` then frees that thread's live blocks.
  case reclaimIntoNoReclaimHeap
  /// O1 — mimalloc #700 (#602), 2.0.9: page start offset 384 for 8…1024-byte blocks, so 256/512/1024-byte
  /// blocks are not naturally aligned and `mallocAligned(n, n)` via the natural-alignment fast path is not.
  case startOffset384
  /// H1 — mimalloc #587 (fixed 2.0.9): huge blocks are heap-less, `mi_heap_contains_block` says no.
  case hugeNotContained
  /// O3 — mimalloc #876 / PR #877, CPython gh-117755 (fixed 2.1.4): the slice count of an enormous request
  /// is kept in 32 bits, so a request of ≥ 2^48 bytes gets a tiny page.
  case sliceCountTruncated
  /// H5 (also H6) — mimalloc #204 / PR #205: heap delete neither retargets the pages' delayed state nor
  /// drains the old heap's delayed list, so remote frees queued there are lost (`used` never drops).
  case deleteLosesDelayedFrees
  /// MI6 — CPython gh-145615 (PR gh-145626, March 2026): a QSBR page parked while in the full queue stays
  /// there (allocation never scans the full queue, so that size class takes fresh pages instead), and any
  /// `local_free` collection (heap visits, collects) clears its goal. In CPython the page leaks until its
  /// thread collects or exits — a steady-state footprint leak that an explicit collect of every heap
  /// cleans up, so the end-state H7 cannot see it here; MI6 checks the fixed rule "a parked page is in
  /// its size queue, never the full queue".
  case qsbrParkedPageLeak
  /// H7 (also MI7) — mimalloc #944 (fixed 2.1.8): 2.1.4–2.1.7 reclaim an abandoned segment on the first free
  /// into it, even from a thread that already ran `mi_thread_done`; the dead thread then owns the segment,
  /// which is never abandoned, reclaimed or freed again.
  case reclaimOnFreeAfterExit
  /// H6 (also H7) — the class of mimalloc #691 (2.0.9; also #221, #363): huge blocks whose owner thread
  /// exited and that another thread frees. Upstream tripped an accounting assertion there; this case loses
  /// the free instead: a remote free into an abandoned huge segment is dropped, so the block stays counted
  /// in use and its segment is never freed.
  case abandonedHugeFreeLost

  // MARK: races only real threads show (the stress runner's `--bug`, scripts/stress-bugs)

  /// S4 (also S1) — a remote free pushes on the page's remote list with a plain atomic load and a plain
  /// atomic store instead of the CAS loop, so a concurrent push or the owner's detach in between is
  /// overwritten: a block is lost (`used` never drops) or handed out twice. The window is widened with one
  /// `sched_yield` between the load and the store (a 2-core machine rarely preempts inside a few
  /// instructions). Logical threads of the sequential executor cannot interleave there: no program run op by
  /// op and no direct scenario shows it; the controlled scheduler does (`alloc-check explore --bug
  /// remoteFreeWithoutCAS`: a yield point at the load and at the store).
  case remoteFreeWithoutCAS
  // Appended last: the quality hunts derive their seeds from each case's index.
  /// X5 same usable size (fidelity: only the differential against libmimalloc sees it): requests of exactly
  /// 80 or 112 bytes (the two bins whose block size is an odd multiple of 16) are served from the next bin
  /// up, 96 and 128 (usable size larger, still ≥ request and 16-aligned, so every single rule holds).
  case binRoundsUpAtBoundary
  /// H6 (also MI2) — a lost update between DELAYED_FREEING and a concurrent collect: the remote freer
  /// leaves state 1 for 2 with a load and a plain store of "the list it loaded | 2" instead of the CAS loop.
  /// A remote push between the load and the store is lost (`used` never drops: H6 once settled). If the
  /// owner collects the page (detaches its remote list) in the window instead, the store puts the detached
  /// blocks back: they are on the page's free list and on its remote list at once (MI2). Only an
  /// interleaving inside the free shows it: `alloc-check explore --bug delayedFreeingLostUpdate`.
  case delayedFreeingLostUpdate

  /// The oracle rule or invariant id that must catch this bug.
  public var caughtBy: String {
    switch self {
    case .usedNotDecremented, .remoteFreeToWrongList: "MI1"
    case .blockPushedTwice: "MI2"
    case .delayedStateSkipped, .ownerResetsNeverDelayed: "MI3"
    case .noDelayedWithoutNotify: "MI4"
    case .unfullForgetsFlag, .qsbrParkedPageLeak: "MI6"
    case .abandonKeepsThreadId: "MI7"
    case .remoteFreeDropped, .deleteLosesDelayedFrees: "H5"
    case .destroySkipsFullPages, .reclaimIntoNoReclaimHeap: "H2"
    case .visitSkipsFullQueue: "H4"
    case .abandonedNeverReclaimed, .reclaimOnFreeAfterExit: "H7"
    case .abandonedHugeFreeLost: "H6"
    case .binOffByOne, .sliceCountTruncated: "O3"
    case .binRoundsUpAtBoundary: "X5"
    case .deleteKeepsOldXHeap: "H3"
    case .containsAnyHeapOfThread, .hugeNotContained: "H1"
    case .callocSkipsZeroingRecycled: "O5"
    case .alignedIgnoresAlignment, .startOffset384: "O1"
    case .remoteFreeWithoutCAS: "S4"
    case .delayedFreeingLostUpdate: "H6"
    }
  }

  /// The upstream issue a case reproduces, if any.
  public var upstreamIssue: String? {
    switch self {
    case .reclaimIntoNoReclaimHeap: "probe (2.1.2/2.1.7), oven-sh/bun#27786"
    case .startOffset384: "microsoft/mimalloc#700"
    case .hugeNotContained: "microsoft/mimalloc#587"
    case .sliceCountTruncated: "microsoft/mimalloc#876, python/cpython#117755"
    case .deleteLosesDelayedFrees: "microsoft/mimalloc#204"
    case .qsbrParkedPageLeak: "python/cpython#145615"
    case .reclaimOnFreeAfterExit: "microsoft/mimalloc#944"
    case .abandonedHugeFreeLost: "microsoft/mimalloc#691 (class)"
    default: nil
    }
  }

  /// True for a race that only interleavings of real OS threads can show (the stress runner's checks,
  /// S1–S5 of ``Stress``, catch it); logical-thread programs and direct scenarios cannot.
  /// (``delayedFreeingLostUpdate`` has no stress expectation yet; the schedule explorer finds both.)
  public var needsRealThreads: Bool { self == .remoteFreeWithoutCAS || self == .delayedFreeingLostUpdate }
  /// Caught only by the differential against the real libmimalloc (its check is an X rule).
  public var isFidelityBug: Bool { caughtBy.hasPrefix("X") }

  private static let bitTable: [MimallocBug: UInt64] =
    Dictionary(uniqueKeysWithValues: allCases.enumerated().map { ($1, UInt64(1) << UInt64($0)) })

  var bit: UInt64 { Self.bitTable[self]! }

  static func bits(of bugs: Set<MimallocBug>) -> UInt64 { bugs.reduce(0) { $0 | $1.bit } }

  /// Is `bug` on in the word `bits` (``bits(of:)``)? One compare when no bug is on (every normal run).
  @inline(__always) static func isOn(_ bug: MimallocBug, in bits: UInt64) -> Bool { bits != 0 && bits & bug.bit != 0 }
}
