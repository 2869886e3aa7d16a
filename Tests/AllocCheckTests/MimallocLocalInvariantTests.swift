// MimallocLocalInvariantTests.swift — issue 12's incremental oracle on the reference mimalloc: between two
// whole walks each op checks its page, queue and segment (``Mimalloc/checkInvariants(around:)``), and the
// whole walk runs whenever the structure epoch moved (a change beyond the touched page). These tests show
// the local check fails on its own, the epoch stays put on the plain paths and moves on the structural ones,
// and each seeded MI bug is caught at the very op the walk after every op catches it — with the growing
// cadence, and with no cadence walks at all (whole walks only where the epoch, the mapping or a thread or
// heap op asks for one).

import AllocUnderTest
import Harness
import Oracle
import Testing

@Suite("Mimalloc local invariants: the check around one address and the structure epoch")
struct MimallocLocalInvariantTests {
  @Test("the local check alone sees a broken page: MI1 (used not decremented), MI2 (a block pushed twice), MI4 (a remote free without notification)",
        arguments: [(MimallocBug.usedNotDecremented, 48, "MI1"), (.blockPushedTwice, 96, "MI2"), (.noDelayedWithoutNotify, 64, "MI4")])
  func localCheckFails(_ bug: MimallocBug, _ size: UInt64, _ id: String) throws {
    let m = Mimalloc(bugs: [bug])
    let heap = m.mainThread.backing
    let blocks = try (0..<5).map { _ in try #require(heap.malloc(size)) }  // blocks 0…4 of one page
    #expect(m.checkInvariants(around: blocks[0]).isEmpty)
    let epoch = m.structureEpoch
    // MI4's bug is on the remote path: another thread frees.
    let freer = bug == .noDelayedWithoutNotify ? m.newThread() : m.mainThread
    let afterSpawn = m.structureEpoch
    freer.free(blocks[3])
    #expect(m.structureEpoch == afterSpawn, "a free that leaves its page queued must not need the whole walk")
    #expect(afterSpawn == epoch || bug == .noDelayedWithoutNotify)
    let found = m.checkInvariants(around: blocks[0])
    #expect(found.contains { $0.id == id }, "\(found)")
    #expect(m.checkInvariants().contains { $0.id == id })
  }

  @Test("the structure epoch: still for a block popped from a queued page and a free into it; moves for a fresh page, a freed page, a collect, a heap made")
  func epoch() throws {
    let m = Mimalloc()
    let thread = m.mainThread
    let heap = thread.backing
    var e = m.structureEpoch
    func moved() -> Bool { defer { e = m.structureEpoch }; return m.structureEpoch != e }
    let a = try #require(heap.malloc(32))
    #expect(moved(), "a fresh page (and segment) for the first 32-byte block")
    let b = try #require(heap.malloc(32))
    #expect(!moved(), "a block of the page already at the front of its queue")
    thread.free(b)
    #expect(!moved(), "a local free that leaves the page in use")
    let big = try #require(heap.malloc(200_000))
    #expect(moved(), "a large block gets its own page")
    thread.free(big)
    #expect(moved(), "freeing a large block frees its page")
    thread.free(a)
    #expect(!moved(), "the last block of the only page of a small queue retires it in place")
    heap.collect(force: true)
    #expect(moved())
    _ = thread.heapNew()
    #expect(moved())
    #expect(m.checkInvariants().isEmpty)
  }

  @Test("each seeded mimalloc invariant bug is caught at the same op with the growing cadence, and with whole walks only where the epoch moves, as with a walk after every op",
        arguments: HeapsQualityCase.all.filter { $0.check.hasPrefix("MI") })
  func sameOp(_ c: HeapsQualityCase) throws {
    let seed: UInt64 = 0xCADE_1000 + UInt64(MimallocBug.allCases.firstIndex(of: c.bug)!)
    try expectCaughtAtSameOp(check: c.check, bug: c.bug.rawValue, adapter: MimallocAdapter(bugs: [c.bug]), oracle: c.oracle,
                             plan: heapsHuntPlan, seed: seed)
  }
}
