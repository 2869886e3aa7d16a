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
import Synchronization

extension Mimalloc {
  /// Grows whenever structures beyond one page changed (see above). Relaxed: compare it only while
  /// no operation is in flight.
  public var structureEpoch: Int { structureEpochCounter.load(ordering: .relaxed) }

  /// Record a change beyond the touched page.
  @inline(__always) func structuresChanged() { structureEpochCounter.wrappingAdd(1, ordering: .relaxed) }
}
