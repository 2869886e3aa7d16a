// PymallocScenarioTests.swift — whole-program stories about when pymalloc gives memory back to the OS
// (spec §1.6): Evan Jones' Python 2.5 arena freeing with the bpo-37257 keep-one rule, and the fragmentation
// that the same rule set allows (one live block pins a pool; one used pool pins an arena). Each test prints
// its before/after numbers so the test log reads as the story; the assertions pin the same numbers.
import Testing

@testable import AllocUnderTest

private let MiB = 1 << 20

/// `n` blocks of `size` bytes from `heap`, in allocation order.
private func allocateMany(_ heap: Pymalloc, _ n: Int, size: Int) throws -> [UnsafeMutableRawPointer] {
  var out: [UnsafeMutableRawPointer] = []
  out.reserveCapacity(n)
  for _ in 0..<n { out.append(try #require(heap.malloc(UInt64(size)))) }
  return out
}

/// One line for the log: arenas, mapped bytes, bytes in allocated blocks and their share of the mapping.
private func describe(_ heap: Pymalloc, _ when: String) -> (stats: PymallocStats, mapped: Int, ratio: Double) {
  let s = heap.stats()
  let mapped = heap.pages.stats.mappedBytes
  let ratio = mapped == 0 ? 0 : Double(s.bytesInAllocatedBlocks) / Double(mapped)
  print("\(when): arenas current \(s.arenasCurrent), total \(s.arenasAllocatedTotal), reclaimed \(s.arenasReclaimed), "
    + "highwater \(s.arenasHighwater); mapped \(mapped) B; in allocated blocks \(s.bytesInAllocatedBlocks) B "
    + "(\((ratio * 1_000_000).rounded() / 10_000) % of mapped); unused pools \(s.unusedPools)")
  return (s, mapped, ratio)
}

@Suite("Pymalloc scenarios")
struct PymallocScenarioTests {
  /// Before Python 2.5 pymalloc never returned an arena. Evan Jones' 2005–2006 work (merged for 2.5) frees an
  /// arena once every pool in it is empty, and keeps `usable_arenas` sorted so nearly empty arenas drain.
  /// Python 3.9 (bpo-37257) then keeps the *last* wholly free arena, so a loop allocating and freeing one
  /// object does not map and unmap 1 MiB per iteration.
  @Test("freeing 200,000 small objects returns all arenas but one; a 1-object loop does not thrash")
  func evanJonesArenaFreeing() throws {
    let heap = Pymalloc()
    let blocks = try allocateMany(heap, 200_000, size: 64)  // class 3: 255 blocks/pool → 785 pools
    let before = describe(heap, "Evan Jones: after 200,000 × malloc(64)")
    let arenas = before.stats.arenasCurrent
    #expect(before.stats.classes[3].pools == 785 && before.stats.classes[3].blocksInUse == 200_000)
    #expect(arenas == 13, "785 pools need 13 arenas of 63 or 64 pools")
    #expect(before.mapped == arenas * MiB && before.stats.arenasAllocatedTotal == arenas)

    blocks.forEach(heap.free)
    let after = describe(heap, "Evan Jones: after freeing all of them")
    #expect(after.stats.arenasCurrent == 1, "every wholly free arena but the last usable one is released")
    #expect(after.mapped == MiB, "13 MiB mapped shrinks to the one kept arena")
    #expect(after.stats.arenasReclaimed == arenas - 1 && after.stats.arenasAllocatedTotal == arenas)
    #expect(after.stats.arenasHighwater == arenas && after.stats.bytesInAllocatedBlocks == 0)
    #expect(heap.pages.stats.releaseCalls == arenas - 1)
    #expect(heap.checkInvariants().isEmpty)

    // bpo-37257: the kept arena is wholly free and the tail of usable_arenas, so it is never released here.
    let reserves = heap.pages.stats.reserveCalls
    for _ in 0..<10_000 {
      let p = try #require(heap.malloc(UInt64(64)))
      heap.free(p)
    }
    let loop = describe(heap, "Evan Jones: after 10,000 × (malloc(64); free)")
    #expect(loop.stats.arenasAllocatedTotal == arenas, "no arena was mapped per iteration (ntimes unchanged)")
    #expect(heap.pages.stats.reserveCalls == reserves && heap.pages.stats.releaseCalls == arenas - 1,
            "no mmap/munmap pair per iteration")
    #expect(loop.stats.arenasCurrent == 1 && loop.mapped == MiB)
  }

  /// Why the memory stays: a pool goes back to its arena only when its *last* block is freed (its count
  /// reaches 0), and an arena goes back to the OS only when *all* its pools are empty (Case 1 of
  /// insert_to_freepool). One surviving 64-byte block per pool therefore pins every pool, and so every arena,
  /// although ~99.6 % of the bytes in allocated blocks were freed. pymalloc never moves live blocks.
  @Test("one surviving block per pool pins every arena although ~99 % of the bytes are free")
  func fragmentationOnePerPool() throws {
    let heap = Pymalloc()
    let blocks = try allocateMany(heap, 200_000, size: 64)
    let full = describe(heap, "Fragmentation: 200,000 × 64 B live")
    var survivors: [Int: UnsafeMutableRawPointer] = [:]  // pool base → its first block
    for p in blocks {
      let pool = p.address & ~PymallocLayout.poolSizeMask
      if survivors[pool] == nil { survivors[pool] = p } else { heap.free(p) }
    }
    let pinned = describe(heap, "Fragmentation: one block kept per pool")
    #expect(survivors.count == 785)
    #expect(pinned.stats.arenasCurrent == full.stats.arenasCurrent, "no arena can go: each has used pools")
    #expect(pinned.mapped == full.mapped, "mapped bytes unchanged")
    #expect(pinned.stats.classes[3].pools == 785 && pinned.stats.classes[3].blocksInUse == 785,
            "no pool could go back either: each still has one block")
    #expect(pinned.stats.bytesInAllocatedBlocks == 785 * 64)
    #expect(full.ratio > 0.9 && pinned.ratio < 0.004, "from > 90 % of mapped in live blocks to < 0.4 %")

    survivors.values.forEach(heap.free)
    let drained = describe(heap, "Fragmentation: survivors freed")
    #expect(drained.stats.arenasCurrent == 1 && drained.mapped == MiB)
    #expect(heap.checkInvariants().isEmpty)
  }

  /// The coarser version: with one block per *arena*, all other pools are empty and cached in their arena's
  /// freepools list (counted as unused pools), but the arena still cannot be unmapped.
  @Test("one surviving block per arena still pins every arena; its other pools become unused pools")
  func fragmentationOnePerArena() throws {
    let heap = Pymalloc()
    let blocks = try allocateMany(heap, 200_000, size: 64)
    let full = describe(heap, "Fragmentation/arena: 200,000 × 64 B live")
    var survivors: [Int: UnsafeMutableRawPointer] = [:]  // arena index → one block
    for p in blocks {
      let a = PoolRef(containing: p).arenaIndex
      if survivors[a] == nil { survivors[a] = p } else { heap.free(p) }
    }
    let pinned = describe(heap, "Fragmentation/arena: one block kept per arena")
    let totalPools = heap.arenas.filter { $0.address != nil }.reduce(0) { $0 + $1.ntotalpools }
    #expect(survivors.count == full.stats.arenasCurrent)
    #expect(pinned.stats.arenasCurrent == full.stats.arenasCurrent && pinned.mapped == full.mapped)
    #expect(pinned.stats.classes[3].pools == survivors.count, "exactly one used pool per arena")
    #expect(pinned.stats.unusedPools == totalPools - survivors.count, "every other pool is cached as unused")
    #expect(pinned.ratio < 0.0001, "13 live blocks of 64 B in ~13 MiB")

    survivors.values.forEach(heap.free)
    let drained = describe(heap, "Fragmentation/arena: survivors freed")
    #expect(drained.stats.arenasCurrent == 1 && drained.mapped == MiB)
    #expect(heap.checkInvariants().isEmpty)
  }
}
