// Abandon.swift — segments whose thread is gone (§6.2–§6.4; v2.1.2 src/segment.c `_mi_segment_page_free`,
// `_mi_segment_page_abandon`, `mi_segment_abandon`, `mi_segment_try_reclaim`, `mi_segment_check_free`,
// `mi_segment_reclaim`, `_mi_abandoned_reclaim_all`, `_mi_abandoned_collect`; CPython's per-interpreter
// `mi_abandoned_pool_t` and reclaim-by-tag, gh-113742). Guarded by MI7.
//
// Deviation: the pool is a `Mutex`-protected pair of stacks instead of 2.1.2's tagged lock-free stack plus
// visited list; with the lock, the `abandoned_readers` counter (which keeps a popped segment's memory mapped
// while a reader looks at `abandoned_next`) is unnecessary. The mutex also orders every ownership hand-off:
// the abandoning thread's writes happen before the reclaiming thread's reads.
import Synchronization

/// `mi_abandoned_pool_t`: abandoned segments (LIFO) and those visited but not taken.
final class AbandonedPool: @unchecked Sendable {
  private struct State {
    var abandoned: [MiSegment] = []
    var visited: [MiSegment] = []
  }

  private let state = TSanVisibleMutex(State())

  func push(_ segment: MiSegment) { state.withLock { $0.abandoned.append(segment) } }
  /// `mi_abandoned_visited_push`.
  func pushVisited(_ segment: MiSegment) { state.withLock { $0.visited.append(segment) } }

  /// `mi_abandoned_pop`: when the main stack is empty, the visited ones come back first
  /// (`mi_abandoned_visited_revisit`).
  func pop() -> MiSegment? {
    state.withLock { s in
      if s.abandoned.isEmpty {
        s.abandoned = s.visited
        s.visited = []
      }
      return s.abandoned.popLast()
    }
  }

  /// Take `segment` out of the pool if it is still there (reclaim-on-free). False if another thread has it.
  func remove(_ segment: MiSegment) -> Bool {
    state.withLock { s in
      if let i = s.abandoned.firstIndex(where: { $0 === segment }) { s.abandoned.remove(at: i); return true }
      if let i = s.visited.firstIndex(where: { $0 === segment }) { s.visited.remove(at: i); return true }
      return false
    }
  }

  /// `mi_abandoned_visited_revisit` (forced `_mi_abandoned_collect`).
  func revisit() { state.withLock { s in s.abandoned = s.visited + s.abandoned; s.visited = [] } }

  /// Every segment in the pool (for checks and stats).
  var all: [MiSegment] { state.withLock { $0.abandoned + $0.visited } }

  func removeAll() { state.withLock { $0 = State() } }
}

/// What `mi_segment_reclaim_or_alloc` achieved.
enum ReclaimOrAllocate {
  /// A page of the wanted block size with room came back into one of the heap's queues.
  case reclaimedRightPage
  /// The thread now owns a segment with a big enough free span (reclaimed or freshly mapped).
  case segmentWithSpace
  case outOfMemory
}

extension MiThread {
  /// `_mi_segment_page_free`: clear the page; an empty segment is freed; one holding only abandoned pages
  /// is abandoned.
  func segmentPageFree(_ page: MiPage) {
    let segment = page.segment
    segment.pageClear(page)
    if segment.used == 0 {
      segment.free()
    } else if segment.used == segment.abandoned {
      abandon(segment)
    }
  }

  /// `_mi_segment_page_abandon`: one more abandoned page; all pages abandoned → abandon the segment.
  func segmentPageAbandon(_ page: MiPage) {
    mimalloc.structuresChanged()
    let segment = page.segment
    segment.abandoned += 1
    if segment.used == segment.abandoned { abandon(segment) }
  }

  /// `mi_segment_abandon`: free spans leave our queues, thread id 0, first visit, onto the pool.
  private func abandon(_ segment: MiSegment) {
    mimalloc.structuresChanged()
    for s in segment.spans where !s.isUsed { segment.removeFromSpanQueue(s) }
    segment.ownerThread = nil
    if !mimalloc.has(.abandonKeepsThreadId) { segment.storeOwnerId(0) }
    segment.abandonedVisits = 1
    mimalloc.abandonedPool.push(segment)
  }

  /// `mi_segment_reclaim_or_alloc`: try to reclaim (never for a `noReclaim` heap, unlike upstream), else map
  /// a fresh segment.
  func reclaimOrAllocate(heap: Heap, slices: Int, blockSize bsize: Int) -> ReclaimOrAllocate {
    if !heap.noReclaim || mimalloc.has(.reclaimIntoNoReclaimHeap) {
      switch tryReclaim(heap: heap, slices: slices, blockSize: bsize) {
      case .reclaimedRightPage: return .reclaimedRightPage
      case .segmentWithSpace: return .segmentWithSpace
      case .outOfMemory: break  // nothing suitable: allocate
      }
    }
    return MiSegment.allocate(owner: mimalloc, thread: self, hugeBytes: 0, pageAlignment: 0) == nil
      ? .outOfMemory : .segmentWithSpace
  }

  /// `mi_segment_try_reclaim`: up to `max_segment_reclaim` (8) pops. An empty segment is reclaimed (which
  /// frees it); one with a big enough free span or a page of `bsize` with room is reclaimed and returned;
  /// one seen more than 3 times is reclaimed anyway; the rest go to the visited list.
  private func tryReclaim(heap: Heap, slices: Int, blockSize bsize: Int) -> ReclaimOrAllocate {
    guard !mimalloc.has(.abandonedNeverReclaimed) else { return .outOfMemory }
    for _ in 0..<MiConst.maxSegmentReclaim {
      guard let segment = mimalloc.abandonedPool.pop() else { break }
      segment.abandonedVisits += 1
      let hasRoom = checkFree(segment, slices: slices, blockSize: bsize)
      if segment.used == 0 {
        _ = reclaim(segment, into: heap, requestedBlockSize: 0)
      } else if hasRoom {
        let (kept, right) = reclaim(segment, into: heap, requestedBlockSize: bsize)
        if right { return .reclaimedRightPage }
        if kept { return .segmentWithSpace }
      } else if segment.abandonedVisits > 3 {
        _ = reclaim(segment, into: heap, requestedBlockSize: 0)
      } else {
        mimalloc.abandonedPool.pushVisited(segment)
      }
    }
    return .outOfMemory
  }

  /// `mi_segment_check_free`: collect every used page's remote frees; free pages that became empty (and
  /// are QSBR-safe); report whether a free span of `slices` or a page of `bsize` with room exists.
  private func checkFree(_ segment: MiSegment, slices: Int, blockSize bsize: Int) -> Bool {
    mimalloc.structuresChanged()  // collects the pages of a segment no op touched
    var hasRoom = false
    var i = MiConst.infoSlices
    while i < segment.sliceEntries {
      var span = segment.span(at: i)
      if span.isUsed {
        span.collectFree(force: false)
        if span.allFree && span.isSafeToFree {
          segment.abandoned -= 1
          span = segment.pageClear(span)
          if span.sliceCount >= slices { hasRoom = true }
        } else if span.blockSize == bsize && (span.used < span.reserved || span.threadFreeLooksNonEmpty) {
          hasRoom = true
        }
      } else if span.sliceCount >= slices {
        hasRoom = true
      }
      i = span.sliceIndex + max(span.sliceCount, 1)
    }
    return hasRoom
  }

  /// `mi_segment_reclaim`: this thread owns `segment` now; each used page goes to our heap with the same
  /// tag (CPython gh-113742) — or, seeded, to the requesting heap as in 2.1.2 — state 3 → 0 after `xheap`
  /// is set, is collected, and is freed if empty or pushed at the front of its size queue (even if full).
  /// Free spans join our span queues. Returns (segment still exists, a page of `requestedBlockSize` with room
  /// came back).
  func reclaim(_ segment: MiSegment, into heap: Heap, requestedBlockSize: Int) -> (kept: Bool, rightPage: Bool) {
    mimalloc.structuresChanged()
    segment.storeOwnerId(id)
    segment.ownerThread = self
    segment.abandonedVisits = 0
    var rightPage = false
    var i = MiConst.infoSlices
    while i < segment.sliceEntries {
      var span = segment.span(at: i)
      if span.isUsed {
        segment.abandoned -= 1
        let target = targetHeap(for: span, requestedBy: heap)
        span.setHeap(target)
        span.useDelayedFree(.useDelayedFree, overrideNever: true, site: .reclaim)
        span.collectFree(force: false)
        if span.allFree && span.isSafeToFree {
          span = segment.pageClear(span)
        } else {
          target.queuePushFront(span, target.queueIndex(of: span))
          pageReclaimed(span)
          // Only a page that landed in the requesting heap helps the caller's queue walk.
          if target === heap && requestedBlockSize == span.blockSize
            && (span.used < span.reserved || span.threadFreeLooksNonEmpty) {
            rightPage = true
          }
        }
      } else {
        span = segment.pageClear(asFreeSpan: span)
      }
      i = span.sliceIndex + max(span.sliceCount, 1)
    }
    if segment.used == 0 {
      segment.free()
      return (false, rightPage)
    }
    return (true, rightPage)
  }

  /// The heap a reclaimed page goes to. Reference: this thread's CPython heap with the page's tag, never a
  /// `noReclaim` heap. Seeded `reclaimIntoNoReclaimHeap`: upstream's rule — the requesting heap if its tag
  /// matches (2.1.2 has no tags: always the requesting heap), else the first heap of the list with the tag.
  private func targetHeap(for page: MiPage, requestedBy heap: Heap) -> Heap {
    if mimalloc.has(.reclaimIntoNoReclaimHeap) {
      if heap.tag == page.tag { return heap }
      return heaps.first { $0.tag == page.tag } ?? heap
    }
    return self.heap(page.tag)
  }

  /// `_mi_abandoned_reclaim_all`: reclaim every abandoned segment into `heap`'s thread.
  func reclaimAll(into heap: Heap) {
    guard !mimalloc.has(.abandonedNeverReclaimed) else { return }
    while let segment = mimalloc.abandonedPool.pop() {
      _ = reclaim(segment, into: heap, requestedBlockSize: 0)
    }
  }

  /// `_mi_abandoned_collect`: look at up to 1024 abandoned segments (16 Ki and a revisit when forced),
  /// freeing those that became empty; the rest go to the visited list.
  func abandonedCollect(into heap: Heap, force: Bool) {
    guard !mimalloc.has(.abandonedNeverReclaimed) else { return }
    if force { mimalloc.abandonedPool.revisit() }
    var tries = force ? MiConst.abandonedCollectForcedTries : MiConst.abandonedCollectTries
    var seen: [MiSegment] = []
    while tries > 0, let segment = mimalloc.abandonedPool.pop() {
      tries -= 1
      if seen.contains(where: { $0 === segment }) {  // came around again: everything was looked at
        mimalloc.abandonedPool.pushVisited(segment)
        break
      }
      _ = checkFree(segment, slices: 0, blockSize: 0)
      if segment.used == 0 {
        _ = reclaim(segment, into: heap, requestedBlockSize: 0)
      } else {
        seen.append(segment)
        mimalloc.abandonedPool.pushVisited(segment)
      }
    }
  }
}

extension MiSegment {
  /// A free span met during reclaim: coalesce it and put it in the (new) owner's queues.
  func pageClear(asFreeSpan span: MiPage) -> MiPage {
    if span.inSpanQueue { removeFromSpanQueue(span) }
    spanFree(at: span.sliceIndex, count: span.sliceCount)
    return span
  }
}
