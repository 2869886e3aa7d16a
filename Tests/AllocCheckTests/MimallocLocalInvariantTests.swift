// MimallocLocalInvariantTests.swift — issue 12's incremental oracle on the reference mimalloc: between two
// whole walks each op checks its page, queue and segment (``Mimalloc/checkInvariants(around:)``), and the
// whole walk runs whenever the structure epoch moved (a change beyond the touched page). These tests show
// the local check fails on its own, the epoch stays put on the plain paths and moves on the structural ones,
// and each seeded MI bug is caught at the very op the walk after every op catches it — with the growing
// cadence, and with no cadence walks at all (whole walks only where the epoch, the mapping or a thread or
// heap op asks for one) — on the adapter, where a fresh page carved from a mapped segment is left to the
// local check (``Mimalloc/localFreshPages``), which then also checks its heap's every queue and every segment.

import Harness
import Oracle
import Testing

@testable import AllocUnderTest

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

  @Test("localFreshPages: a fresh page from a mapped segment keeps the epoch; the check around its block sees its heap's page count, and from elsewhere it walks everything")
  func freshPageIsLocal() throws {
    let m = Mimalloc()
    m.localFreshPages = true
    let heap = m.mainThread.backing
    _ = try #require(heap.malloc(32))  // maps the segment: the epoch moves
    #expect(m.checkInvariants().isEmpty)
    let e = m.structureEpoch
    let b = try #require(heap.malloc(1000))  // a fresh page of another size, carved from the same segment
    #expect(m.structureEpoch == e, "a fresh page carved from a mapped segment is left to the local check")
    #expect(m.checkInvariants(around: b).isEmpty)
    // Broken by hand where only a whole-heap check looks: the heap's page count. The check around the fresh
    // page's block catches it (without a fresh page, only the whole walk checks page_count).
    let c = try #require(heap.malloc(3000))
    #expect(m.structureEpoch == e)
    heap.pageCount += 1
    let found = m.checkInvariants(around: c)
    #expect(found.contains { $0.id == "MI6" && $0.detail.contains("page_count") }, "\(found)")
    heap.pageCount -= 1
    // The record names a page the checked address is not in: the whole walk runs instead, and sees it too.
    _ = try #require(heap.malloc(5000))
    heap.pageCount += 1
    #expect(m.checkInvariants(around: b).contains { $0.id == "MI6" && $0.detail.contains("page_count") })
    heap.pageCount -= 1
    #expect(m.checkInvariants().isEmpty)
    // Off (the default, and under real threads): the same kind of page moves the epoch.
    m.localFreshPages = false
    _ = try #require(heap.malloc(7000))
    #expect(m.structureEpoch != e)
  }

  @Test("between ops the whole walk reuses a page unchanged since it passed: a wild store into its free block is left to the end's walk; a write through its lists is checked again")
  func reusePassedPages() throws {
    let adapter = MimallocAdapter()
    let a = try #require(adapter.malloc(64))
    let b = try #require(adapter.malloc(64))
    adapter.free(b)  // b on the page's local free list
    #expect(adapter.checkInvariantsBetweenOps().isEmpty)  // checks the page and remembers it passed
    let link = MemoryAccess.loadWordUnchecked(address: b)
    MemoryAccess.storeWordUnchecked(address: b, 0x10)  // b's link leaves the page; no field of the page moved
    #expect(adapter.checkInvariantsBetweenOps().isEmpty, "no field moved: the walk between ops reuses the page")
    #expect(adapter.checkInvariants().contains { $0.id == "MI2" }, "the end-of-program walk checks every page")
    #expect(adapter.checkInvariantsBetweenOps().contains { $0.id == "MI2" }, "a failed page is not reused")
    MemoryAccess.storeWordUnchecked(address: b, link)
    #expect(adapter.checkInvariantsBetweenOps().isEmpty)
    MemoryAccess.storeWordUnchecked(address: b, 0x10)
    _ = try #require(adapter.malloc(64))  // pops from the free list: a head and the count move
    #expect(adapter.checkInvariantsBetweenOps().contains { $0.id == "MI2" }, "a page written through its lists is checked again")
    MemoryAccess.storeWordUnchecked(address: b, link)
    adapter.free(a)
    adapter.reset()
  }

  @Test("each seeded mimalloc invariant bug is caught at the same op with the growing cadence, and with whole walks only where the epoch moves, as with a walk after every op",
        arguments: HeapsQualityCase.all.filter { $0.check.hasPrefix("MI") })
  func sameOp(_ c: HeapsQualityCase) throws {
    let seed: UInt64 = 0xCADE_1000 + UInt64(MimallocBug.allCases.firstIndex(of: c.bug)!)
    try expectCaughtAtSameOp(check: c.check, bug: c.bug.rawValue, adapter: MimallocAdapter(bugs: [c.bug]), oracle: c.oracle,
                             plan: heapsHuntPlan, seed: seed)
  }
}
