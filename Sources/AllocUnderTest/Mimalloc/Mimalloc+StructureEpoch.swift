// Mimalloc+StructureEpoch.swift — the structure epoch: a counter bumped wherever an operation changes more
// than the page it returned or freed into. The executor reads it around every op: unchanged, the check
// around the touched address (``Mimalloc/checkInvariants(around:)``: that page, its queue, its heap's
// delayed list, its segment) covers everything the op could have broken; changed, it runs the whole walk.
//
// Conservative on purpose (a spurious bump costs one whole walk, a missing one a late report). Bumped by:
//   a page pushed on, removed from or moved between heap queues, or a queue appended (PageQueue.swift:
//     fresh, full, unfull, freed, abandoned, reclaimed, absorbed pages);
//   a page QSBR-parked or taken off its thread's QSBR list (QSBR.swift);
//   a span carved or freed, a page cleared, a segment mapped, freed or released (Segment.swift);
//   a page abandoned, a segment abandoned, checked for free pages or reclaimed (Abandon.swift);
//   a heap's delayed-free list drained with blocks on it (ThreadFree.swift);
//   a heap collected, deleted or destroyed (Heap+Collect.swift), its blocks visited (Heap+Visit.swift);
//   a thread or heap made, a heap forgotten, a thread exited, the allocator reset.
// Not bumped: popping a block, extending or collecting the free lists of the page handed out, a local or
// remote free that leaves its page in its queue (a retired page stays queued), a heap-list push of a
// remote free (the local check walks that heap's list).
//
// Fresh pages (``Mimalloc/localFreshPages``, opt-in on one OS thread): carving a page from the thread's span
// queues (``carveFreshPage(_:)``) and pushing it on its heap's queue (``queueFreshPage(_:_:)``) is quiet and
// recorded in ``Mimalloc/freshPages`` instead. Subtle: what those steps write is the page itself, the
// remainder span split off (same segment), the span-queue links of the spans beside the two in their bins
// (any segment of the thread), the segment's slice table and counts, and one queue and the page count of
// the page's heap. The local check after such a page (Mimalloc+LocalInvariants.swift) therefore adds MI6
// over every queue of that heap and MI7 over every live segment to its usual page, queue and segment —
// everything but the pages and heaps the steps do not write — and runs the whole walk instead when the
// record is not exactly one page holding the checked address. Any other change in the same op still bumps.
import Synchronization

extension Mimalloc {
  /// Grows whenever structures beyond one page changed (see above). Relaxed: compare it only while
  /// no operation is in flight.
  public var structureEpoch: Int { structureEpochCounter.load(ordering: .relaxed) }

  /// Record a change beyond the touched page.
  @inline(__always) func structuresChanged() {
    if quietFreshPage { return }  // rare: a fresh page carved or queued with localFreshPages on
    structureEpochCounter.wrappingAdd(1, ordering: .relaxed)
  }

  /// Runs `carve` (the thread's span queues handing out one page) quietly when ``localFreshPages`` is on and
  /// no fresh page is recorded yet, and records the page it returns. A second fresh page before a check
  /// bumps the epoch as usual (the record holds at most one page).
  func carveFreshPage(_ carve: () -> MiPage?) -> MiPage? {
    guard localFreshPages && freshPages.isEmpty else { return carve() }
    quietFreshPage = true
    let page = carve()
    quietFreshPage = false
    if let page {
      freshPages.append(page)
      unqueuedFreshPage = page
    }
    return page
  }

  /// Runs `push` (queueing `page` on its heap) quietly iff `page` is the one ``carveFreshPage(_:)`` just
  /// recorded.
  /// Subtle: with ``localFreshPages`` off (real threads) it writes nothing shared: every thread's
  /// ``structuresChanged()`` reads ``quietFreshPage``, so a write here from one thread races with them.
  func queueFreshPage(_ page: MiPage, _ push: () -> Void) {
    guard localFreshPages else { return push() }
    let quiet = unqueuedFreshPage === page
    unqueuedFreshPage = nil
    quietFreshPage = quiet
    push()
    quietFreshPage = false
  }
}
