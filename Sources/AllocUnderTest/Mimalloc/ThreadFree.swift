// ThreadFree.swift — the cross-thread free protocol (spec mimalloc.md §4; v2.1.2 src/alloc.c
// `_mi_free_block_mt`, src/page.c `_mi_page_try_use_delayed_free`, `_mi_page_thread_free_collect`,
// `_mi_heap_delayed_free_partial/_all`, alloc.c `_mi_free_delayed_block`). Every atomic operation on
// `page.xthreadFree`, `page.xheap` and `heap.threadDelayedFree` is a named helper in this file (R24), each
// with the ordering of §4.5 and a line on what it pairs with (R13). Guarded by MI3 (transition log) and MI4.
//
// Word layout of `xthreadFree`: bits 2…63 = address of the first remote-freed block (blocks are 8-aligned),
// bits 0…1 = ``DelayedState``. The list is linked through block first words (``MiBlock/next``); a pusher
// writes the link with a plain store *before* its releasing CAS, so the owner's acquiring detach sees it.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `mi_atomic_yield`: let the thread in state 1 finish its push (under a controlled scheduler: a spin
/// yield point, where the scheduler runs another thread).
@inline(__always) func miYield() { Interleaving.spin() }

extension MiPage {
  @inline(__always) static func listPart(_ word: UInt) -> UInt { word & ~3 }
  @inline(__always) static func statePart(_ word: UInt) -> DelayedState { DelayedState(rawValue: word & 3)! }

  /// The current delayed state. Relaxed: a snapshot for checks and tests, never used to decide a transition.
  var delayedState: DelayedState { Self.statePart(xthreadFree.load(ordering: .relaxed)) }

  /// The current remote list head (0 = empty). Relaxed snapshot, as `delayedState`.
  var threadFreeHead: UInt { Self.listPart(xthreadFree.load(ordering: .relaxed)) }

  /// `_mi_page_free_collect`'s quick test "the remote list looks non-empty". Relaxed on purpose: a stale
  /// answer only delays collection to the next call; the detach itself (`takeThreadFree`) acquires.
  var threadFreeLooksNonEmpty: Bool { threadFreeHead != 0 }

  // MARK: xheap

  /// `mi_page_set_heap`: publish the owning heap (nil when abandoned or freed). Release: pairs with the
  /// acquiring load a remote freer does in state 1 (`heapForDelayedFree`), so the heap object it then pushes
  /// to is fully set up.
  func setHeap(_ heap: Heap?) {
    let bits = heap.map { UInt(bitPattern: unsafe Unmanaged.passUnretained($0).toOpaque()) } ?? 0
    HappensBefore.before(xheapKey)  // Helgrind/DRD: the release of this store
    xheap.store(bits, ordering: .releasing)
  }

  /// `mi_page_heap` for the owner and for quiescent inspection. Relaxed: only the owning thread writes the
  /// field, so the owner reads its own latest store; inspectors run when no operation is in flight.
  var heap: Heap? { Self.heap(fromBits: xheap.load(ordering: .relaxed)) }

  /// `mi_page_heap` as the remote freer reads it in state 1. Acquire: pairs with the owner's releasing
  /// `setHeap`; the owner cannot change the field while the state is 1 (it waits in `useDelayedFree`).
  private var heapForDelayedFree: Heap? {
    let bits = xheap.load(ordering: .acquiring)
    HappensBefore.after(xheapKey)
    return Self.heap(fromBits: bits)
  }

  /// Happens-before keys (Platform/Valgrind.swift) for the two atomic words of this page.
  private var threadFreeKey: UInt { HappensBefore.key(self, field: 1) }
  private var xheapKey: UInt { HappensBefore.key(self, field: 2) }

  private static func heap(fromBits bits: UInt) -> Heap? {
    guard let p = unsafe UnsafeRawPointer(bitPattern: bits) else { return nil }
    return unsafe Unmanaged<Heap>.fromOpaque(p).takeUnretainedValue()
  }

  // MARK: the page's remote list and state

  /// Remote free, step 4 of §4.3 (`_mi_free_block_mt`): in state 0, CAS 0 → 1 *without* linking the block
  /// (returns true: the caller must notify the heap); otherwise link the block in front of the list keeping
  /// the state (returns false). Weak CAS, success release (pairs with the owner's acq_rel detach in
  /// `takeThreadFree` and its acquire load in `tryUseDelayedFree`), failure relaxed (the loop retries with
  /// the value it got).
  func pushThreadFree(_ block: MiBlock, skipDelayedFreeing: Bool, withoutExchange: Bool = false) -> Bool {
    var expected = xthreadFree.load(ordering: .relaxed)  // relaxed: the CAS validates it
    if withoutExchange {
      // Seeded `remoteFreeWithoutCAS`: load, (yield: widen the window), store — a lost update.
      let notify = Self.statePart(expected) == .useDelayedFree
      if !notify { block.next = Self.listPart(expected) }
      let desired = notify ? Self.listPart(expected) | 1 : block.address | Self.statePart(expected).rawValue
      Interleaving.widenWindow()
      xthreadFree.store(desired, ordering: .releasing)  // release: the link store above, as the CAS did
      if notify { record(from: .useDelayedFree, to: .delayedFreeing, site: .remoteFree) }
      return notify
    }
    while true {
      let state = Self.statePart(expected)
      let notify = state == .useDelayedFree
      let desired: UInt
      if notify {
        // Seeded `delayedStateSkipped`: jump straight to 2, which §4.2 forbids.
        desired = Self.listPart(expected) | (skipDelayedFreeing ? 2 : 1)
      } else {
        block.next = Self.listPart(expected)  // plain store, published by the releasing CAS below
        desired = block.address | state.rawValue
      }
      HappensBefore.before(threadFreeKey)  // Helgrind/DRD: the release of the CAS below
      let (exchanged, original) = xthreadFree.weakCompareExchange(
        expected: expected, desired: desired, successOrdering: .releasing, failureOrdering: .relaxed)
      if exchanged {
        if notify { record(from: .useDelayedFree, to: Self.statePart(desired), site: .remoteFree) }
        return notify
      }
      expected = original
    }
  }

  /// Remote free, end of step 5: state 1 → 2, keeping whatever list other remote freers pushed meanwhile
  /// (they preserve state 1). Weak CAS loop, success release (pairs with the owner's acquire load in
  /// `tryUseDelayedFree`, which waits while it sees 1), failure relaxed.
  func finishDelayedFreeing() {
    var expected = xthreadFree.load(ordering: .relaxed)
    if segment.owner.has(.delayedFreeingLostUpdate) {
      // Seeded: 1 → 2 as a load and a store. An owner's detach (collect) or another remote push between
      // the two is overwritten: detached blocks come back onto the list, pushed ones are lost.
      xthreadFree.store(Self.listPart(expected) | DelayedState.noDelayedFree.rawValue, ordering: .releasing)
      record(from: Self.statePart(expected), to: .noDelayedFree, site: .remoteFreeDone)
      return
    }
    while true {
      let desired = Self.listPart(expected) | DelayedState.noDelayedFree.rawValue
      HappensBefore.before(threadFreeKey)
      let (exchanged, original) = xthreadFree.weakCompareExchange(
        expected: expected, desired: desired, successOrdering: .releasing, failureOrdering: .relaxed)
      if exchanged {
        record(from: Self.statePart(expected), to: .noDelayedFree, site: .remoteFreeDone)
        return
      }
      expected = original
    }
  }

  /// Owner: detach the whole remote list, keeping the state bits (`_mi_page_thread_free_collect`). Weak CAS
  /// loop, acq_rel / acquire: acquires every remote pusher's releasing CAS (the release sequence of the
  /// word), so their link stores are visible; releases nothing of interest but is what upstream uses.
  func takeThreadFree() -> UInt {
    var expected = xthreadFree.load(ordering: .relaxed)
    while true {
      let desired = expected & 3
      let (exchanged, original) = xthreadFree.weakCompareExchange(
        expected: expected, desired: desired, successOrdering: .acquiringAndReleasing, failureOrdering: .acquiring)
      if exchanged {
        HappensBefore.after(threadFreeKey)  // Helgrind/DRD: the acquire of the CAS
        return Self.listPart(expected)
      }
      expected = original
    }
  }

  /// Page clear: back to the zeroed word (state 0, no list). Relaxed: the page has no live block, so no
  /// other thread can reach it; the next publication of this page goes through `setHeap` (release).
  func resetThreadFreeWord() { xthreadFree.store(0, ordering: .relaxed) }

  /// `_mi_page_try_use_delayed_free(page, delay, override_never)`: owner sets the state to `delay`.
  /// State 1 → yield and retry, giving up (false) after 4 yields; already `delay`, or 3 without
  /// `overrideNever` → nothing to do. Load acquire (pairs with the remote freer's releasing 1 → 2, so once we
  /// see 2 its heap push is visible and finished); weak CAS release/relaxed on the state bits.
  func tryUseDelayedFree(_ delay: DelayedState, overrideNever: Bool, site: DelayedTransition.Site) -> Bool {
    var yields = 0
    while true {
      let word = xthreadFree.load(ordering: .acquiring)
      HappensBefore.after(threadFreeKey)
      let old = Self.statePart(word)
      if old == .delayedFreeing {  // rare: a remote freer is between its two CASes
        if yields >= MiConst.delayedFreeYields { return false }
        yields += 1
        miYield()
        continue
      }
      if old == delay || (!overrideNever && old == .neverDelayedFree) { return true }
      let desired = Self.listPart(word) | delay.rawValue
      HappensBefore.before(threadFreeKey)
      let (exchanged, _) = xthreadFree.weakCompareExchange(
        expected: word, desired: desired, successOrdering: .releasing, failureOrdering: .relaxed)
      if exchanged {
        record(from: old, to: delay, site: site)
        return true
      }
    }
  }

  /// `_mi_page_use_delayed_free`: the owner waits out state 1, however long (heap delete, destroy, abandon).
  func useDelayedFree(_ delay: DelayedState, overrideNever: Bool, site: DelayedTransition.Site) {
    while !tryUseDelayedFree(delay, overrideNever: overrideNever, site: site) { miYield() }
  }

  private func record(from: DelayedState, to: DelayedState, site: DelayedTransition.Site) {
    guard from != to else { return }
    segment.owner.transitionLog?.record(
      DelayedTransition(page: Int(bitPattern: spanStart), from: from, to: to, site: site))
  }

  // MARK: the remote free

  /// `_mi_free_block_mt` (§4.3): free `block` of this page from a thread that does not own the segment
  /// (or any thread, when the segment is abandoned: thread id 0 never matches).
  func freeFromOtherThread(_ block: MiBlock) {
    let mi = segment.owner
    if mi.has(.remoteFreeToWrongList) {
      // Seeded: the remote freer pushes on the owner-only `localFree` list and leaves `used` alone.
      block.next = localFree
      localFree = block.address
      return
    }
    if mi.has(.remoteFreeDropped) && delayedState != .useDelayedFree { return }  // seeded: lost
    let skip = mi.has(.delayedStateSkipped)
    guard pushThreadFree(block, skipDelayedFreeing: skip, withoutExchange: mi.has(.remoteFreeWithoutCAS)) else { return }  // usual: pushed on the page list
    // State is now 1 (or 2 with the seeded skip): notify the heap.
    if mi.has(.noDelayedWithoutNotify) {
      // Seeded: the block goes on the page list and the state still becomes 2, so no heap list holds a
      // block of this page although the state says the heap was notified.
      _ = pushThreadFree(block, skipDelayedFreeing: false)
    } else if let heap = heapForDelayedFree {
      heap.pushDelayedFree(block)
    }
    if !skip { finishDelayedFreeing() }
  }
}

extension Heap {
  /// Push on `thread_delayed_free` (remote freer in state 1, and the owner re-pushing a block it could not
  /// free yet). Weak CAS loop, release (pairs with the owner's acq_rel `takeDelayedFree`, publishing the link
  /// stored just before) / relaxed.
  func pushDelayedFree(_ block: MiBlock) {
    var head = threadDelayedFree.load(ordering: .relaxed)
    while true {
      block.next = head
      HappensBefore.before(HappensBefore.key(self, field: 1))  // Helgrind/DRD: the release of the CAS
      let (exchanged, original) = threadDelayedFree.weakCompareExchange(
        expected: head, desired: block.address, successOrdering: .releasing, failureOrdering: .relaxed)
      if exchanged { return }
      head = original
    }
  }

  /// Owner: take the whole delayed list. Relaxed first load (the list is usually empty, so no exchange),
  /// then weak CAS to 0, acq_rel / acquire: acquires the pushers' releasing CASes.
  func takeDelayedFree() -> UInt {
    var head = threadDelayedFree.load(ordering: .relaxed)
    while head != 0 {
      let (exchanged, original) = threadDelayedFree.weakCompareExchange(
        expected: head, desired: 0, successOrdering: .acquiringAndReleasing, failureOrdering: .acquiring)
      if exchanged {
        HappensBefore.after(HappensBefore.key(self, field: 1))
        return head
      }
      head = original
    }
    return 0
  }

  /// Relaxed snapshot of the delayed list head, for quiescent inspection only.
  var delayedFreeHead: UInt { threadDelayedFree.load(ordering: .relaxed) }

  /// `_mi_heap_delayed_free_partial`: free every block on the delayed list whose page is not in state 1;
  /// re-push the others. Returns true iff everything was processed.
  @discardableResult
  func delayedFreePartial() -> Bool {
    var block = takeDelayedFree()
    if block != 0 { mimalloc.structuresChanged() }  // frees into pages no op touched
    var allFreed = true
    while block != 0 {
      let next = MiBlock(block).next  // read before the block is freed and relinked
      if !freeDelayedBlock(MiBlock(block)) {
        allFreed = false
        pushDelayedFree(MiBlock(block))
      }
      block = next
    }
    return allFreed
  }

  /// `_mi_heap_delayed_free_all`: drain until everything was processed, yielding between rounds.
  func delayedFreeAll() {
    while !delayedFreePartial() { miYield() }
  }

  /// `_mi_free_delayed_block`: (a) state → 0 so the page notifies its heap again — this must precede (b),
  /// or a remote free could land on the page list while the state is still 2 with no block on any heap
  /// list, and a full page would never be revisited; (b) collect the page so `used` is current; (c) free
  /// the block locally (retire or unfull).
  private func freeDelayedBlock(_ block: MiBlock) -> Bool {
    guard let segment = SegmentInfo.containing(block.address).segment,
          let page = segment.page(containing: block.address) else { return true }
    let overrideNever = has(.ownerResetsNeverDelayed)  // seeded: 3 → 0 outside reclaim
    guard page.tryUseDelayedFree(.useDelayedFree, overrideNever: overrideNever, site: .delayedFreeBlock) else {
      return false
    }
    page.collectFree(force: false)
    thread.freeLocal(page, block)
    return true
  }
}
