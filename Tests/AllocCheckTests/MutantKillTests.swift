// MutantKillTests.swift — checks added for mutants that survived `alloc-check mutate` (Documentation/Mutants.md),
// each shown failing on the broken state its mutant makes, and passing on the reference.

import Testing

@testable import AllocUnderTest

@Suite("Mutant kills: checks added for surviving mutants")
struct MutantKillTests {
  /// Segment.swift:112 `count: slices - infoSlices` → `slices + infoSlices` left a fresh segment's free span
  /// hanging past the segment's end; MI7 walked the spans from the start only and never looked at where
  /// they stop.
  @Test("MI7: the spans of a segment end exactly at its end (a free span overhanging it is caught)")
  func spansEndAtSegmentEnd() throws {
    let mi = Mimalloc()
    let p = try #require(mi.mainThread.backing.malloc(100))
    #expect(mi.checkInvariants().isEmpty)
    let segment = try #require(mi.liveSegments.first)
    var last: MiPage?
    segment.forEachSpan { last = $0 }
    let span = try #require(last)
    #expect(!span.isUsed && span.sliceIndex + span.sliceCount == segment.segmentSlices)
    span.sliceCount += 2 * MiConst.infoSlices  // the mutant's span
    let found = mi.checkInvariants()
    #expect(found.contains { $0.id == "MI7" && $0.detail.contains("spans end at slice") }, "\(found)")
    span.sliceCount -= 2 * MiConst.infoSlices
    #expect(mi.checkInvariants().isEmpty)
    mi.mainThread.free(p)
  }

  // Abandoned-segment reclaim policy (Abandon.swift, mimalloc 2.1.2 `mi_segment_try_reclaim` and
  // `mi_segment_check_free`). A wrong policy breaks no safety rule — every block survives whichever thread
  // adopts the segment — so these scenarios pin *which* abandoned segment a request reclaims and *when*.
  // They killed the survivors Abandon.swift:91 (`abandonedVisits = 1` → 2), :146 (a freed span's size test
  // negated), :147 (the "page of this size with room" test negated, or its `&&` made `||`) and :122 (a
  // reclaimed right page reported as none).

  /// The 32 MiB segment a block lies in.
  private static func segmentBase(_ p: Int) -> Int { p & ~Int(MiConst.segmentMask) }

  /// 16 MiB, the largest block that still takes a large page from a segment's spans (256 slices); a
  /// segment holding one has 255 free slices left, so it can never serve a second.
  private static let largeBlock = MiConst.largeObjSizeMax

  /// The end of each reclaim scenario: `thread` frees `blocks` and exits, the main thread's forced collect
  /// reclaims and frees what is left, and nothing stays mapped.
  private static func releaseAll(_ blocks: [Int], by thread: MiThread, in mi: Mimalloc,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
    for p in blocks { thread.free(p) }
    thread.exit()
    mi.mainThread.collect(force: true)
    #expect(mi.stats().segments == 0, sourceLocation: sourceLocation)
    expectClean(mi, sourceLocation: sourceLocation)
  }

  /// A thread that maps `n` segments, each holding one 16 MiB block (and, in the first, a 64-byte block too,
  /// returned as `small`), then exits: `n` abandoned segments, none with room for another 16 MiB page.
  private static func abandon(_ mi: Mimalloc, segments n: Int, small: Bool = false) throws -> (held: [Int], small: Int?) {
    let a = mi.newThread()
    let s = small ? try #require(a.backing.malloc(64)) : nil
    var held: [Int] = []
    for _ in 0..<n { held.append(try #require(a.backing.malloc(UInt64(largeBlock)))) }
    #expect(Set(held.map(segmentBase)).count == n && s.map { segmentBase($0) == segmentBase(held[0]) } ?? true)
    a.exit()
    #expect(mi.stats().abandonedSegments == n)
    return (held, s)
  }

  @Test("reclaim: a segment with no room is adopted on its 4th visit (abandoning counts as the 1st), 8 visits per request")
  func reclaimOnFourthVisit() throws {
    let mi = Mimalloc()
    let held = try Self.abandon(mi, segments: 8).held
    let b = mi.newThread()
    // b's spans never fit another 16 MiB page, so each request visits the pool: 8 pops
    // (`max_segment_reclaim`), one per segment. After the first request each segment has 2 visits, after the
    // second 3: none is adopted. The third request is each one's 4th visit: all eight are adopted.
    var mine: [Int] = []
    for request in 1...3 {
      mine.append(try #require(b.backing.malloc(UInt64(Self.largeBlock))))
      let adopted = held.filter { mi.heapOwning($0) === b.backing }.count
      #expect(adopted == (request < 3 ? 0 : 8) && mi.stats().abandonedSegments == 8 - adopted,
              "request \(request): \(adopted) of 8 adopted; \(mi.stats())")
    }
    #expect(Set(mine.map(Self.segmentBase)).isDisjoint(with: held.map(Self.segmentBase)), "no room: never served from them")
    expectClean(mi, "after the forced reclaims")
    Self.releaseAll(held + mine, by: b, in: mi)
  }

  @Test("reclaim: a page freed during the visit makes room only if its span fits the request")
  func freedSpanTooSmallIsNoRoom() throws {
    let mi = Mimalloc()
    let (held, small) = try Self.abandon(mi, segments: 4, small: true)
    let b = mi.newThread()
    b.free(try #require(small))  // waits on the abandoned page's thread-free list
    #expect(mi.stats().blocksInUse == 5)
    let mine = try #require(b.backing.malloc(UInt64(Self.largeBlock)))
    // 8 pops visit each segment twice (3 visits with the abandon: none is forced). The visit collects the
    // 64-byte page and clears it: a 1-slice span (the 16 MiB page is its neighbour), no room for a 256-slice
    // page, so that segment stays abandoned like the other three.
    #expect(mi.stats().blocksInUse == 5, "the small block's free was collected: 4 held blocks and b's")
    #expect(mi.stats().abandonedSegments == 4 && held.allSatisfy { mi.heapOwning($0) == nil },
            "a freed 1-slice span is no room for a 256-slice page: \(mi.stats())")
    #expect(!held.map(Self.segmentBase).contains(Self.segmentBase(mine)))
    expectClean(mi, "after the visits")
    Self.releaseAll([mine] + held, by: b, in: mi)
  }

  @Test("reclaim: a full abandoned segment with a page of the requested size that has room is adopted, and serves the request")
  func pageWithRoomIsReclaimed() throws {
    let mi = Mimalloc()
    let a = mi.newThread()
    let b = mi.newThread()
    // Fill a's segment to its last slice: 7 one-slice small pages, then large pages of 256 + 128 + 64 +
    // 32 + 16 + 8 slices (511 = 32 MiB / 64 KiB minus the segment's info slice).
    var held: [Int] = []
    for size in [16, 32, 48, 64, 80, 96, 112] { held.append(try #require(a.backing.malloc(UInt64(size)))) }
    for slices in [256, 128, 64, 32, 16, 8] {
      held.append(try #require(a.backing.malloc(UInt64(slices * MiConst.sliceSize))))
    }
    let base = Self.segmentBase(held[0])
    #expect(held.allSatisfy { Self.segmentBase($0) == base } && mi.stats().segments == 1, "one segment, no free span")
    a.exit()
    let mine = try #require(b.backing.malloc(64))
    #expect(Self.segmentBase(mine) == base, "the 64-byte page of the abandoned segment has room: b reclaims it")
    #expect(mi.stats().abandonedSegments == 0 && mi.stats().segments == 1, "\(mi.stats())")
    #expect(mi.heapOwning(held[0]) === b.backing)
    expectClean(mi, "after the reclaim")
    Self.releaseAll(held + [mine], by: b, in: mi)
  }

  /// Heap+Collect.swift:35, `collectQSBR()` dropped from a heap's collect, survived: the collect's own page
  /// walk frees that heap's safe parked pages anyway. But CPython's `_PyMem_mi_heap_collect_qsbr` walks the
  /// *thread's* list of parked pages, so collecting one QSBR heap also frees the parked pages of the thread's
  /// other heaps.
  @Test("QSBR: collecting one heap frees the thread's safe parked pages of its other heaps")
  func collectFreesThreadsParkedPages() throws {
    let mi = Mimalloc()
    let t = mi.newThread()
    let gc = t.heap(.gc)
    let p = try #require(gc.malloc(64))
    t.free(p)
    gc.collect(force: false)
    #expect(mi.stats().pages == 1 && mi.stats().qsbrParkedPages == 1, "parked: \(mi.stats())")
    for thread in [t, mi.mainThread] { thread.quiescent() }
    t.heap(.object).collect(force: false)
    #expect(mi.stats().pages == 0 && mi.stats().qsbrParkedPages == 0,
            "the OBJECT heap's collect frees the GC heap's parked page once every thread was quiescent: \(mi.stats())")
    expectClean(mi)
  }

  /// Heap+Aligned.swift:23, `size <= 1024 && alignment <= size` → `||`, survived: the "next free block happens
  /// to be aligned" shortcut of `mi_heap_malloc_zero_aligned_at` is only for sizes ≤ `MI_SMALL_SIZE_MAX`;
  /// above that, mimalloc over-allocates size + alignment − 1, which lands in a larger size class.
  @Test("aligned: above 1024 bytes no aligned free block is taken from the size's own page; the request over-allocates")
  func alignedShortcutOnlySmall() throws {
    let mi = Mimalloc()
    let h = mi.mainThread.backing
    let plain = try #require(h.malloc(1100))
    let page = try #require(mi._page(containing: plain))
    // 1280-byte blocks from a slice-aligned page start: every block, the next free one too, is 256-aligned.
    #expect(page.blockSize == 1280 && page.hasFree && page.free & 255 == 0)
    let aligned = try #require(h.mallocAligned(1100, alignment: 256))
    #expect(aligned & 255 == 0)
    #expect(mi._page(containing: aligned) !== page && mi.usableSize(aligned) >= 1100,
            "1100 + 255 bytes come from the 1536-byte class, not the 1280-byte page: usable \(mi.usableSize(aligned))")
    mi.mainThread.free(aligned)
    mi.mainThread.free(plain)
    expectClean(mi)
  }

  /// Mimalloc+SegmentInvariants.swift:74, the MI7 report for a pooled segment whose abandoned-page count is
  /// not its used count, dropped, survived: no seeded bug reaches that state (the other MI7 checks fire first
  /// for each of them). Here the state is made by hand.
  @Test("MI7: a pooled segment whose abandoned count is not its used count is caught")
  func pooledSegmentAbandonedCount() throws {
    let mi = Mimalloc()
    let a = mi.newThread()
    let blocks = try (0..<2).map { _ in try #require(a.backing.malloc(64)) } + [try #require(a.backing.malloc(5000))]
    a.exit()
    #expect(mi.stats().abandonedSegments == 1 && mi.checkInvariants().isEmpty)
    let segment = try #require(mi.liveSegments.first)
    #expect(segment.used == 2 && segment.abandoned == 2, "two pages, both abandoned")
    segment.abandoned -= 1  // the broken state: one page of a pooled segment not counted as abandoned
    let found = mi.checkInvariants()
    #expect(found.contains { $0.id == "MI7" && $0.detail.contains("abandoned with used 2, abandoned 1") }, "\(found)")
    segment.abandoned += 1
    #expect(mi.checkInvariants().isEmpty)
    for p in blocks { mi.mainThread.free(p) }
    mi.mainThread.collect(force: true)
    #expect(mi.stats().segments == 0)
    expectClean(mi)
  }

  /// SizeClass.swift:75, `mi_slice_bin`'s bit scan off by one, survived: free spans were filed and searched
  /// with the same wrong function, so every request still found room (some in a fresh segment). 2.1.2's
  /// `mi_slice_bin8` pinned: exact up to 8 slices, then four bins per doubling, never decreasing (the search
  /// walks the bins upward from the request's own, so a span filed lower than a smaller span is never found).
  @Test("span bins follow mi_slice_bin: exact up to 8 slices, then 4 bins per doubling, monotonic")
  func spanBins() {
    let pinned = [(1, 1), (8, 8), (9, 8), (11, 9), (13, 10), (16, 11), (17, 12), (24, 13), (32, 15), (33, 16), (64, 19),
                  (65, 20), (128, 23), (129, 24), (256, 27), (257, 28), (511, 31), (512, 31)]
    for (slices, bin) in pinned { #expect(SizeClass.spanBin(slices) == bin, "spanBin(\(slices))") }
    let bins = (1...MiConst.slicesPerSegment).map(SizeClass.spanBin)
    #expect(zip(bins, bins.dropFirst()).allSatisfy { $0 <= $1 } && bins.last! <= MiConst.segmentBinMax)
  }

  /// Pymalloc+Invariants.swift:71, PM3's per-pool pass starting at pool 1 instead of 0, survived: the seeded
  /// bugs that break list membership do it in other pools too, or another rule fires first. An arena's first
  /// pool, in use but missing from its class's used list, is caught by that pass alone.
  @Test("PM3: an arena's first pool in use but missing from its used list is caught")
  func firstPoolMissingFromUsedList() throws {
    let heap = Pymalloc()
    let p = try #require(heap.malloc(16))
    #expect(heap.checkInvariants().isEmpty)
    let head = heap.usedPools.head(PymallocLayout.sizeClass(of: 16))
    let pool = try #require(head.nextpool)
    #expect(pool.address == p.address - 48, "the block is the first of the arena's first pool")
    head.nextpool = head  // the broken state: an empty used list while the pool has free blocks
    head.prevpool = head
    let found = heap.checkInvariants()
    #expect(found.contains { $0.id == "PM3" && $0.detail.contains("on used list false") }, "\(found)")
    head.nextpool = pool
    head.prevpool = pool
    #expect(heap.checkInvariants().isEmpty)
    heap.free(p)
    #expect(heap.checkInvariants().isEmpty)
  }

  /// Pymalloc+Invariants.swift:226, `steps += 1` → `+= 0` in PM4's nfp2lasta walk, survived: the walk's bound
  /// only matters on a usable-arena list with a cycle, which no seeded bug makes. With it, checkInvariants()
  /// reports the cycle and returns; without it, the walk goes round for ever (the run times out).
  @Test("PM4: a usable-arena list that loops on itself is reported, and the check returns")
  func usableArenaCycle() throws {
    let heap = Pymalloc()
    let p = try #require(heap.malloc(16))
    let a = try #require(heap.usableArenas)
    #expect(heap.arenas[a].nextArena == nil && heap.checkInvariants().isEmpty)
    heap.arenas[a].nextArena = a  // the broken state: the only usable arena links to itself
    let found = heap.checkInvariants()
    #expect(found.contains { $0.id == "PM4" && $0.detail.contains("usable arena list broken at \(a)") }, "\(found)")
    heap.arenas[a].nextArena = nil
    #expect(heap.checkInvariants().isEmpty)
    heap.free(p)
  }

  /// ThreadFree.swift:243, the happens-after of taking the delayed-free list keyed `field: 2` instead of 1,
  /// survived both tiers: the key exists only for Helgrind and DRD, and the suite's Helgrind stress runs saw
  /// the lost edge in 1 of 7 tries (the round joins order most pushes before the take). Recorded edges pin it:
  /// every happens-after of a cross-thread free must follow a happens-before on the same key.
  @Test("Helgrind edges: every happens-after of a cross-thread free (delayed and thread-free) has its happens-before")
  func happensBeforeKeysPair() throws {
    try #require(HappensBefore.recorderAvailable, "build the tests with -D AC_TEST_HOOKS (scripts/test does) or in debug")
    let recorder = HappensBefore.Recorder()
    let mi = Mimalloc()
    let a = mi.newThread()
    let b = mi.newThread()
    // Only our objects' keys count (tests beside this one record into the recorder too).
    var keys = Set<UInt>()
    func addKeys(_ object: AnyObject) { for f in 0..<4 { keys.insert(HappensBefore.key(object, field: UInt(f))) } }
    addKeys(a.backing)
    addKeys(b.backing)
    try HappensBefore.recording(into: recorder) {
      // A full page (in the full queue: its remote frees go to the heap's delayed list) and a page with room
      // (remote frees go to the page's thread-free list); b frees into both, then a collects.
      let blocks = try (0..<1100).map { _ in try #require(a.backing.malloc(64)) }
      let fullPage = try #require(mi._page(containing: blocks[0]))
      #expect(fullPage.inFull, "1100 blocks of 64 bytes: the first page filled and went to the full queue")
      for segment in mi.liveSegments { segment.forEachSpan { addKeys($0) } }
      b.free(blocks[0])
      b.free(blocks[1099])
      a.backing.collect(force: false)
      for p in blocks.dropFirst().dropLast() { a.free(p) }
      a.backing.collect(force: true)
    }
    #expect(recorder.befores(among: keys).contains(HappensBefore.key(a.backing, field: 1)), "the delayed free was annotated")
    #expect(recorder.befores(among: keys).count >= 2, "and a thread-free push too")
    #expect(recorder.unmatchedAfters(among: keys).isEmpty, "an after without its before: \(recorder.unmatchedAfters(among: keys).map { hex(Int($0)) })")
    a.exit()
    b.exit()
    mi.mainThread.collect(force: true)
    expectClean(mi)
  }
}
