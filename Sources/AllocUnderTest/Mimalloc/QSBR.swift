// QSBR.swift — CPython's QSBR-delayed page freeing for heaps with `page_use_qsbr` (cpython-memory.md §5.4;
// Objects/obmalloc.c `_PyMem_mi_page_maybe_free`, `_PyMem_mi_heap_collect_qsbr`, `_PyMem_mi_page_clear_qsbr`,
// `_PyMem_mi_page_is_safe_to_free`, `_PyMem_mi_page_reclaimed`; Python/qsbr.c), over a logical clock
// ``QSBRClock``: a goal advances the write sequence; a thread's `quiescent()` records the current sequence;
// a goal is reached when the minimum over live threads is ≥ it. Guarded by MI6 (parked pages stay queued).
//
// Deviation: CPython's `_Py_qsbr_deferred_advance` advances the write sequence only every 10th call; this
// model always advances (the brief's clock), so a goal is reached one quiescent round after it is set.
import Synchronization

/// Per-``Mimalloc`` QSBR state (`_qsbr_shared`): the write sequence and each live thread's last observed one.
final class QSBRClock: Sendable {
  private struct State {
    var writeSequence: UInt64 = 1  // QSBR_INITIAL; advanced by QSBR_INCR = 2
    var observed: [UInt: UInt64] = [:]
  }

  private let state = TSanVisibleMutex(State())

  /// A thread attaches having seen the current sequence.
  func register(_ thread: UInt) { state.withLock { $0.observed[thread] = $0.writeSequence } }
  /// A detached (exited) thread no longer holds goals back.
  func unregister(_ thread: UInt) { state.withLock { _ = $0.observed.removeValue(forKey: thread) } }
  /// `_Py_qsbr_quiescent_state`: the thread has seen everything written so far.
  func quiescent(_ thread: UInt) { state.withLock { $0.observed[thread] = $0.writeSequence } }
  /// `_Py_qsbr_advance`: a new goal.
  func advance() -> UInt64 { state.withLock { $0.writeSequence += 2; return $0.writeSequence } }
  /// `_Py_qsbr_poll`: every live thread has observed `goal`.
  func goalReached(_ goal: UInt64) -> Bool { state.withLock { ($0.observed.values.min() ?? .max) >= goal } }
  func reset() { state.withLock { $0 = State() } }
}

extension MiPage {
  /// `_PyMem_mi_page_clear_qsbr`: no goal, off its thread's list.
  func clearQSBR() {
    qsbrGoal = 0
    if let owner = qsbrListOwner {
      segment.owner.structuresChanged()
      owner.qsbrPages.removeAll { $0 === self }
      qsbrListOwner = nil
    }
  }

  /// `_PyMem_mi_page_is_safe_to_free`: no goal, or its goal reached.
  var isSafeToFree: Bool {
    !useQSBR || qsbrGoal == 0 || segment.owner.qsbr.goalReached(qsbrGoal)
  }
}

extension Heap {
  /// `_PyMem_mi_page_maybe_free(page, pq, force)`: free an all-free page now, unless it belongs to a QSBR
  /// heap and its goal is not reached: then (re)set a goal, list it on its thread and keep it queued.
  /// Returns true iff the page was freed.
  @discardableResult
  func maybeFreePage(_ page: MiPage, _ q: Int, force: Bool) -> Bool {
    guard page.useQSBR else {
      pageFree(page, q)
      return true
    }
    if page.qsbrGoal != 0 && mimalloc.qsbr.goalReached(page.qsbrGoal) {
      page.clearQSBR()
      pageFree(page, q)
      return true
    }
    mimalloc.structuresChanged()
    page.clearQSBR()
    page.retireExpire = 0
    page.qsbrGoal = mimalloc.qsbr.advance()
    thread.qsbrPages.append(page)  // the page's own thread (gh-145615 part 3), which is `self.thread`
    page.qsbrListOwner = thread
    // gh-145615 part 1: a page parked in the full queue would never be found for allocation; move it out.
    // The seeded `qsbrParkedPageLeak` keeps 3.13's behaviour.
    if page.inFull && !has(.qsbrParkedPageLeak) { unfull(page) }
    return false
  }

  /// `_PyMem_mi_heap_collect_qsbr`: walk the thread's parked pages in order; drop those in use again; stop
  /// at the first goal not reached; free the others.
  func collectQSBR() {
    guard pageUseQSBR else { return }
    while let page = thread.qsbrPages.first {
      if !page.allFree {
        page.clearQSBR()
        continue
      }
      guard mimalloc.qsbr.goalReached(page.qsbrGoal), let heap = page.heap else { return }
      page.clearQSBR()
      heap.pageFree(page, heap.queueIndex(of: page))
    }
  }
}

extension MiThread {
  /// `_PyMem_mi_page_reclaimed`: a reclaimed page with a goal is parked again on this thread if it is all
  /// free, else no longer waits.
  func pageReclaimed(_ page: MiPage) {
    guard page.qsbrGoal != 0 else { return }
    if page.allFree {
      page.retireExpire = 0
      qsbrPages.append(page)
      page.qsbrListOwner = self
    } else {
      page.qsbrGoal = 0
    }
  }
}
