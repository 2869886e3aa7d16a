// MimallocHeapTests.swift — the single-thread API of the mimalloc reference against upstream's test-api.c
// scenarios (spec mimalloc.md §8.1) and the §3.9 / §5 probes: malloc(0), nomem, calloc overflow, large
// blocks, aligned1…aligned12 (within a modest address-space budget), realloc, heap destroy/delete, visits,
// containment, collection and retirement. checkInvariants() must be empty after each.
import Testing

@testable import AllocUnderTest

/// Records every invariant violation as a test issue.
func expectClean(_ mi: Mimalloc, _ when: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
  let v = mi.checkInvariants()
  #expect(v.isEmpty, "\(when): \(v.map(\.description).joined(separator: "; "))", sourceLocation: sourceLocation)
}

private let MiB = 1 << 20

@Suite("Mimalloc heaps")
struct MimallocHeapTests {
  @Test("malloc(0) gives distinct blocks of usable size 8; free(nil) is harmless")
  func mallocZero() throws {
    let mi = Mimalloc()
    let t = mi.mainThread
    let a = try #require(t.backing.malloc(0))
    let b = try #require(t.backing.malloc(0))
    #expect(a != b && mi.usableSize(a) == 8 && mi.usableSize(b) == 8)
    t.free(nil)
    t.free(a)
    t.free(b)
    expectClean(mi)
  }

  @Test("nomem and overflow: malloc(PTRDIFF_MAX + 1), calloc overflow, and ~2^62 bytes are nil")
  func noMemory() {
    let mi = Mimalloc()
    let heap = mi.mainThread.backing
    #expect(heap.malloc(UInt64(Int.max) + 1) == nil)
    #expect(heap.malloc(UInt64.max) == nil)
    #expect(heap.calloc(UInt64.max / 1000 + 2, 1000) == nil)
    #expect(heap.calloc(1 << 40, 1 << 40) == nil)
    #expect(heap.malloc(UInt64(Int.max)) == nil)
    #expect(heap.malloc(1 << 62) == nil)
    #expect(mi.stats().segments <= 1)
    expectClean(mi)
  }

  @Test("calloc(0, 1000) has usable size ≤ 16; calloc zeroes a recycled block")
  func callocZero() throws {
    let mi = Mimalloc()
    let t = mi.mainThread
    let p = try #require(t.backing.calloc(0, 1000))
    #expect(mi.usableSize(p) == 8)
    let q = try #require(t.backing.malloc(200))
    MemoryAccess.writeUnchecked(address: q, bytes: [UInt8](repeating: 0xAB, count: 200))
    t.free(q)
    // The freed block sits on local_free; allocate until it comes back through calloc.
    var got: [Int] = []
    var recycled = false
    for _ in 0..<64 {
      let r = try #require(t.backing.calloc(1, 200))
      #expect(MemoryAccess.readUnchecked(address: r, count: 224).allSatisfy { $0 == 0 })
      if r == q { recycled = true }
      got.append(r)
    }
    #expect(recycled)
    got.forEach(t.free)
    t.free(p)
    expectClean(mi)
  }

  @Test("malloc-large: 67108872 bytes (UBSAN #543/#544) lives in a 68 MiB huge segment, freed at once")
  func mallocLarge() throws {
    let mi = Mimalloc()
    let t = mi.mainThread
    let before = mi.pages.stats.mappedBytes
    let p = try #require(t.backing.malloc(67_108_872))
    #expect(mi.usableSize(p) == 71_303_168)
    #expect(mi.stats().hugeSegments == 1)
    MemoryAccess.writeUnchecked(address: p + 67_108_871, bytes: [1])
    t.free(p)
    #expect(mi.stats().hugeSegments == 0 && mi.pages.stats.mappedBytes == before)
    expectClean(mi)
  }

  @Test("aligned1–5, 7, 10, 12 and the natural-alignment fast path")
  func alignedBasics() throws {
    let mi = Mimalloc()
    let t = mi.mainThread
    let h = t.backing
    var live: [Int] = []
    func aligned(_ n: UInt64, _ a: Int) throws -> Int {
      let p = try #require(h.mallocAligned(n, alignment: a))
      #expect(p % a == 0, "(\(n), \(a)) → \(hex(p))")
      #expect(mi.usableSize(p) >= Int(n))
      live.append(p)
      return p
    }
    _ = try aligned(32, 32)  // aligned1
    _ = try aligned(48, 32)  // aligned2
    _ = try aligned(48, 32); _ = try aligned(48, 32)  // aligned3
    for _ in 0..<8 { _ = try aligned(8, 16) }  // aligned4
    let p5 = try aligned(4097, 4096)  // aligned5
    #expect(mi.usableSize(p5) >= 4097 && mi.usableSize(p5) < 16000)
    _ = try aligned(1024, 16 * MiB)  // aligned7
    _ = try aligned(0x100, 0x100)  // aligned12 (#602/#700)
    for _ in 0..<20 { _ = try aligned(256, 256); _ = try aligned(512, 512); _ = try aligned(1024, 1024) }
    #expect(h.mallocAligned(8, alignment: 24) == nil && h.mallocAligned(8, alignment: 0) == nil)
    expectClean(mi, "after allocation")
    var a10: [Int] = []  // aligned10: (43 + align, align), freed in reverse
    var align = 2
    while align <= 1024 {
      let p = try #require(h.mallocAligned(UInt64(43 + align), alignment: align))
      #expect(p % align == 0)
      a10.append(p)
      align *= 2
    }
    a10.reversed().forEach(t.free)
    live.forEach(t.free)
    t.collect(force: true)
    #expect(mi.stats().blocksInUse == 0)
    expectClean(mi)
  }

  @Test("aligned6/8/9: every power-of-two alignment up to 1 MiB, and 16/32/64/128/256 MiB alignments")
  func alignedLarge() throws {
    let mi = Mimalloc()
    let t = mi.mainThread
    let h = t.backing
    var align = 1
    while align <= MiB {  // aligned6 (13·align, 8 allocations each), within a budget
      var ps: [Int] = []
      for _ in 0..<8 {
        let p = try #require(h.mallocAligned(UInt64(13 * align), alignment: align))
        #expect(p % align == 0 && mi.usableSize(p) >= 13 * align)
        ps.append(p)
      }
      ps.forEach(t.free)
      align *= 2
    }
    for n in [1, 2, 4, 8, 16] {  // aligned8
      let a = n * 16 * MiB
      let p = try #require(h.mallocAligned(1024, alignment: a))
      #expect(p % a == 0 && mi.usableSize(p) >= 1024, "alignment \(n)·16 MiB")
      expectClean(mi, "aligned8 n=\(n)")
      t.free(p)
    }
    for shift in 0...25 {  // aligned9, sizes up to 32 MiB
      for size in [8, 512, MiB, 16 * MiB, 16 * MiB + 1, 32 * MiB, 0] {
        let a = 1 << shift
        let p = try #require(h.mallocAligned(UInt64(size), alignment: a))
        #expect(p % a == 0 && mi.usableSize(p) >= size)
        t.free(p)
      }
    }
    t.collect(force: true)
    #expect(mi.stats().segments == 0 && mi.pages.stats.mappedBytes == 0)
    expectClean(mi)
  }

  @Test("§3.9 probes: (2048, 2048) → 4096 usable, (4096, 4096) → 8192, (4097, 4096) → 8192, (1024, 32 MiB) → 65536")
  func alignedProbes() throws {
    let mi = Mimalloc()
    let h = mi.mainThread.backing
    for (n, a, usable) in [(2048, 2048, 4096), (4096, 4096, 8192), (4097, 4096, 8192), (1024, 32 * MiB, 65536)] {
      let p = try #require(h.mallocAligned(UInt64(n), alignment: a))
      #expect(p % a == 0)
      #expect(mi.usableSize(p) == usable, "(\(n), \(a))")
      #expect(mi.blockState(p) == .allocated && h.contains(p))
      mi.mainThread.free(p)
      #expect(mi.blockState(p) != .allocated)
    }
    expectClean(mi)
  }

  @Test("realloc: NULL, size 0 (#725), keep within half, move and copy")
  func realloc() throws {
    let mi = Mimalloc()
    let h = mi.mainThread.backing
    let a = try #require(h.realloc(nil, 4))
    let b = try #require(h.realloc(nil, 0))
    #expect(mi.usableSize(b) == 8)
    let c = try #require(h.realloc(a, 0))
    #expect(c != a && MemoryAccess.readUnchecked(address: c, count: 1) == [0])
    let p = try #require(h.malloc(100))
    MemoryAccess.writeUnchecked(address: p, bytes: Array(0..<100))
    let q = try #require(h.realloc(p, 60))
    #expect(q == p, "100 → 60 keeps the block (60 ≥ 112/2)")
    let r = try #require(h.realloc(q, 40))
    #expect(r != q, "60 → 40 moves (40 < 112/2)")
    #expect(MemoryAccess.readUnchecked(address: r, count: 40) == Array(0..<40))
    #expect(mi.blockState(q) == .free)
    let s = try #require(h.realloc(r, 5000))
    #expect(MemoryAccess.readUnchecked(address: s, count: 40) == Array(0..<40))
    [b, c, s].forEach(mi.mainThread.free)
    #expect(h.usedBlocks() == 0)
    expectClean(mi)
  }

  @Test("heap_destroy: a new heap's blocks all die; heap_delete: they survive in the backing heap")
  func destroyAndDelete() throws {
    let mi = Mimalloc()
    let t = mi.mainThread
    let h1 = t.heapNew()
    #expect(h1.noReclaim && h1.tag == .mem && h1 !== t.backing)
    let p1 = try #require(h1.malloc(4))
    let p2 = try #require(h1.malloc(4))
    let big = try #require(h1.malloc(300_000))
    MemoryAccess.writeUnchecked(address: p1, bytes: [1, 2, 3, 4])
    #expect(h1.contains(p1) && !t.backing.contains(p1) && mi.heapOwning(p2) === h1)
    h1.destroy()
    #expect(!h1.isAlive)
    for p in [p1, p2, big] { #expect(mi.blockState(p) != .allocated) }
    expectClean(mi, "after destroy")

    let h2 = t.heapNew()
    let q1 = try #require(h2.malloc(4))
    let q2 = try #require(h2.malloc(40_000))
    h2.delete()
    #expect(!h2.isAlive && t.backing.contains(q1) && t.backing.contains(q2))
    #expect(mi.blockState(q1) == .allocated)
    MemoryAccess.writeUnchecked(address: q1, bytes: [9, 9, 9, 9])
    t.free(q1)
    t.free(q2)
    #expect(t.backing.usedBlocks() == 0)
    expectClean(mi)
  }

  @Test("malloc_aligned11 (#587): a 33554426-byte aligned block is contained in its heap, destroy frees it")
  func hugeContained() throws {
    let mi = Mimalloc()
    let h = mi.mainThread.heapNew()
    let p = try #require(h.mallocAligned(33_554_426, alignment: 8))
    #expect(h.contains(p) && h.checkOwned(p) && mi.heapOwning(p) === h)
    h.destroy()
    #expect(mi.stats().hugeSegments == 0)
    expectClean(mi)
  }

  @Test("visit: 9 live 24-byte blocks → area {reserved 65440, committed 4096, used 9, block 32}; full queue visited")
  func visit() throws {
    let mi = Mimalloc()
    let t = mi.mainThread
    let h = t.heapNew()
    let blocks = try (0..<9).map { _ in try #require(h.malloc(24)) }
    var areas: [HeapArea] = []
    var seen: [Int] = []
    var sizes = Set<Int>()
    let completed = h.visitBlocks(all: true) { area, block, size in
      if let block { seen.append(block); sizes.insert(size) } else { areas.append(area) }
      return true
    }
    #expect(completed && sizes == [32])
    #expect(areas == [HeapArea(blocks: areas.first?.blocks ?? 0, reserved: 65440, committed: 4096, used: 9,
                               blockSize: 32, fullBlockSize: 32)])
    #expect(Set(seen) == Set(blocks))
    // Fill a page of 16 KiB blocks (4 per page) so one page sits in the full queue, then visit again.
    let big = try (0..<5).map { _ in try #require(h.malloc(16_000)) }
    seen = []
    _ = h.visitBlocks(all: true) { _, block, _ in
      if let block { seen.append(block) }
      return true
    }
    #expect(Set(seen) == Set(blocks + big))
    #expect(!h.visitBlocks(all: false) { _, _, _ in false })
    h.destroy()
    expectClean(mi)
  }

  @Test("retirement: the only page of a size stays 17 fresh-page events, then goes; collect frees it at once")
  func retirement() throws {
    let mi = Mimalloc()
    let t = mi.mainThread
    let h = t.backing
    let p = try #require(h.malloc(64))
    t.free(p)
    #expect(mi.stats().pages == 1, "retired, not freed")
    let page = try #require(mi._page(containing: p))
    #expect(page.retireExpire == 17)
    h.collect(force: false)
    #expect(mi.stats().pages == 0 && mi.stats().segments == 0, "the empty segment goes back too")
    expectClean(mi)
  }

  @Test("full queue: a page with no free block moves to queue 74 and comes back on a local free")
  func fullQueue() throws {
    let mi = Mimalloc()
    let t = mi.mainThread
    let h = t.backing
    let blocks = try (0..<5).map { _ in try #require(h.malloc(16_384)) }  // 4 per small page
    let first = try #require(mi._page(containing: blocks[0]))
    #expect(first.inFull && h.queues[MiConst.binFull].first === first)
    expectClean(mi, "one full page")
    t.free(blocks[1])
    #expect(!first.inFull && h.queues[SizeClass.bin(16_384)].last === first)
    blocks.forEach { if $0 != blocks[1] { t.free($0) } }
    h.collect(force: true)
    #expect(mi.stats().pages == 0)
    expectClean(mi)
  }

  @Test("reset is cheap: a thousand fresh runs, each mapping and unmapping a segment")
  func resetIsCheap() throws {
    let mi = Mimalloc()
    let clock = ContinuousClock()
    let elapsed = try clock.measure {
      for _ in 0..<1000 {
        let t = mi.mainThread
        let p = try #require(t.backing.malloc(100))
        let other = mi.newThread()
        other.free(p)
        mi.reset()
      }
    }
    print("Mimalloc.reset: 1000 runs in \(elapsed)")
    #expect(mi.pages.stats.mappedBytes == 0 && mi.stats().segments == 0)
    #expect(elapsed < .seconds(5))
  }
}
