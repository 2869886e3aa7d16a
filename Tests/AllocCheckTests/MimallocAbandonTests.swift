// MimallocAbandonTests.swift — thread exit, abandonment and reclaim (spec mimalloc.md §6.2–§6.4,
// cpython-memory.md §5.3, §5.7) and CPython's QSBR-delayed page freeing (§5.4): blocks freed into an
// abandoned segment are not lost, reclaim routes pages by tag, `noReclaim` heaps never adopt a dead
// thread's segment, and QSBR pages wait for every live thread's quiescent point.
import Testing

@testable import AllocUnderTest

@Suite("Mimalloc abandonment")
struct MimallocAbandonTests {
  @Test("a thread exits holding blocks, another frees half, a third reclaims; nothing is lost")
  func exitFreeReclaim() throws {
    let mi = Mimalloc()
    let a = mi.newThread()
    let b = mi.newThread()
    let c = mi.newThread()
    var blocks: [(Int, UInt8)] = []
    for i in 0..<300 {
      let size = [24, 100, 1000, 5000][i % 4]
      let p = try #require(a.backing.malloc(UInt64(size)))
      MemoryAccess.writeUnchecked(address: p, bytes: [UInt8(i % 251), 0x5A])
      blocks.append((p, UInt8(i % 251)))
    }
    let large = try #require(a.backing.malloc(200_000))
    let huge = try #require(a.backing.malloc(20 << 20))
    a.exit()
    var s = mi.stats()
    #expect(s.abandonedSegments == 2 && s.blocksInUse == 302 && mi.heapOwning(blocks[0].0) == nil)
    expectClean(mi, "after exit")

    for (p, _) in blocks.prefix(150) { b.free(p) }
    b.free(huge)
    s = mi.stats()
    #expect(s.blocksInUse == 302, "frees into an abandoned segment wait on the page lists (§6.4)")
    expectClean(mi, "after remote frees into abandoned segments")

    let fresh = try #require(c.backing.malloc(24))  // c has no span: it reclaims
    s = mi.stats()
    #expect(s.abandonedSegments == 0 && s.hugeSegments == 0, "\(s)")
    #expect(s.blocksInUse == 150 + 1 + 1, "150 survivors, the large block, c's new block")
    for (p, tag) in blocks.suffix(150) {
      #expect(MemoryAccess.readUnchecked(address: p, count: 2) == [tag, 0x5A])
      #expect(mi.heapOwning(p) === c.backing && mi.blockState(p) == .allocated)
    }
    #expect(mi.heapOwning(large) === c.backing)
    expectClean(mi, "after reclaim")

    for (p, _) in blocks.suffix(150) { b.free(p) }
    b.free(large)
    c.free(fresh)
    c.collect(force: false)
    #expect(mi.stats().blocksInUse == 0 && c.backing.usedBlocks() == 0)
    c.exit()
    b.exit()
    mi.mainThread.collect(force: true)
    #expect(mi.stats().segments == 0 && mi.pages.stats.mappedBytes == 0)
    expectClean(mi)
  }

  @Test("reclaim routes each page to the reclaiming thread's heap with the same tag (gh-113742)")
  func reclaimByTag() throws {
    let mi = Mimalloc()
    let a = mi.newThread()
    var byTag: [HeapTag: Int] = [:]
    for tag in HeapTag.allCases {
      let p = try #require(a.heap(tag).malloc(64))
      byTag[tag] = p
    }
    a.exit()
    let main = mi.mainThread
    main.quiescent()
    main.collect(force: true)  // the main thread's forced collect reclaims everything
    for (tag, p) in byTag { #expect(mi.heapOwning(p) === main.heap(tag), "tag \(tag)") }
    expectClean(mi)
    for p in byTag.values { main.free(p) }
    expectClean(mi)
  }

  @Test("a noReclaim heap never adopts a dead thread's segment, so destroying it keeps the dead thread's blocks")
  func noReclaimHeapNeverReclaims() throws {
    let mi = Mimalloc()
    let dead = mi.newThread()
    let orphans = try (0..<10).map { _ in try #require(dead.backing.malloc(64)) }
    dead.exit()
    let u = mi.newThread()  // no segments yet: any allocation of its backing heap would reclaim
    let h = u.heapNew()
    let p = try #require(h.malloc(64))
    #expect(mi.stats().abandonedSegments == 1, "the new heap mapped a fresh segment instead")
    h.destroy()
    for o in orphans { #expect(mi.blockState(o) == .allocated && mi.heapOwning(o) == nil) }
    #expect(mi.blockState(p) != .allocated)
    expectClean(mi)
  }

  @Test("QSBR: an empty OBJECT page stays until every live thread passed a quiescent point")
  func qsbrDelaysPageFree() throws {
    let mi = Mimalloc()
    let t = mi.newThread()
    let other = mi.newThread()
    let h = t.heap(.object)
    let p = try #require(h.malloc(64))
    t.free(p)
    h.collect(force: false)
    #expect(mi.stats().pages == 1 && mi.stats().qsbrParkedPages == 1, "parked, not freed")
    t.quiescent()
    h.collect(force: false)
    #expect(mi.stats().pages == 1, "the other threads have not been quiescent yet")
    for thread in [t, other, mi.mainThread] { thread.quiescent() }
    h.collect(force: false)
    #expect(mi.stats().pages == 0 && mi.stats().qsbrParkedPages == 0)
    expectClean(mi, "after the goal")

    // A parked page is still usable for its own size class; reuse clears its goal.
    let q = try #require(h.malloc(64))
    t.free(q)
    h.collect(force: false)
    let page = try #require(mi._page(containing: q))
    #expect(page.qsbrGoal != 0)
    let r = try #require(h.malloc(64))
    #expect(mi._page(containing: r) === page && page.qsbrGoal == 0 && mi.stats().qsbrParkedPages == 0)
    t.free(r)
    expectClean(mi)
    // MEM pages never wait.
    let m = try #require(t.backing.malloc(64))
    t.free(m)
    t.collect(force: false)
    #expect(mi._page(containing: m) == nil)
  }

  @Test("an exiting thread abandons its QSBR-parked pages with their goal; reclaim frees them once safe")
  func qsbrAbandoned() throws {
    let mi = Mimalloc()
    let t = mi.newThread()
    let p = try #require(t.heap(.gc).malloc(128))
    t.free(p)
    t.heap(.gc).collect(force: false)
    t.exit()
    #expect(mi.stats().abandonedPages == 1)
    expectClean(mi, "after exit")
    mi.mainThread.collect(force: true)  // main has not been quiescent since the goal: not safe yet
    #expect(mi.stats().pages == 1 && mi.heapOwning(p) === mi.mainThread.heap(.gc))
    mi.mainThread.quiescent()
    mi.mainThread.heap(.gc).collect(force: true)
    #expect(mi.stats().pages == 0 && mi.stats().segments == 0)
    expectClean(mi)
  }

  @Test("thread exit deletes its mi_heap_new heaps first: their live blocks move to the backing heap")
  func exitDeletesNewHeaps() throws {
    let mi = Mimalloc()
    let t = mi.newThread()
    let h = t.heapNew()
    let p = try #require(h.malloc(300))
    t.exit()
    #expect(!h.isAlive && mi.stats().abandonedPages == 1 && mi.blockState(p) == .allocated)
    mi.mainThread.free(p)
    mi.mainThread.collect(force: true)
    #expect(mi.stats().segments == 0)
    expectClean(mi)
  }
}
