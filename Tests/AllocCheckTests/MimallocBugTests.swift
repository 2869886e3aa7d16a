// MimallocBugTests.swift — every seeded ``MimallocBug`` changes behaviour in a small direct scenario: the
// scenario's detector (the invariant id of `caughtBy` for MI* bugs, a hand-written stand-in for the oracle
// rule otherwise) fires with the bug on and stays silent with it off. The harness's quality suite proves
// the real oracle rules catch them; these tests pin that each switch does something.
import Testing

@testable import AllocUnderTest

private let MiB = 1 << 20

/// Runs `scenario` on a fresh allocator; true when the bug's check fires.
private typealias Scenario = @Sendable (Mimalloc) throws -> Bool

/// True when `checkInvariants()` reports `id`.
private func reports(_ mi: Mimalloc, _ id: String) -> Bool { mi.checkInvariants().contains { $0.id == id } }

/// `n` blocks of `size` from `heap`.
private func blocks(_ heap: Heap, _ n: Int, _ size: UInt64) throws -> [Int] {
  try (0..<n).map { _ in try #require(heap.malloc(size)) }
}

private func scenario(for bug: MimallocBug) -> Scenario {
  switch bug {
  case .usedNotDecremented:
    return { mi in
      let t = mi.mainThread
      let b = try blocks(t.backing, 2, 48)
      t.free(b[0])
      return reports(mi, "MI1")
    }
  case .blockPushedTwice:
    return { mi in
      let t = mi.mainThread
      let b = try blocks(t.backing, 2, 96)
      t.free(b[0])
      return reports(mi, "MI2")
    }
  case .delayedStateSkipped:
    return { mi in
      let b = try blocks(mi.mainThread.backing, 2, 32)
      mi.newThread().free(b[0])
      return reports(mi, "MI3")
    }
  case .ownerResetsNeverDelayed:
    return { mi in
      let t = mi.newThread()
      let b = try blocks(t.backing, 2, 32)
      mi.mainThread.free(b[0])  // state 0: onto t's delayed list
      t.exit()  // abandon: pages → 3, then the drain
      return reports(mi, "MI3")
    }
  case .noDelayedWithoutNotify:
    return { mi in
      let b = try blocks(mi.mainThread.backing, 2, 32)
      mi.newThread().free(b[0])
      return reports(mi, "MI4")
    }
  case .unfullForgetsFlag:
    return { mi in
      let t = mi.mainThread
      let b = try blocks(t.backing, 5, 16_384)
      t.free(b[0])
      return reports(mi, "MI6")
    }
  case .abandonKeepsThreadId:
    return { mi in
      let t = mi.newThread()
      _ = try blocks(t.backing, 1, 64)
      t.exit()
      return reports(mi, "MI7")
    }
  case .remoteFreeToWrongList:
    return { mi in
      let b = try blocks(mi.mainThread.backing, 2, 32)
      mi.newThread().free(b[1])
      return reports(mi, "MI1")
    }
  case .remoteFreeDropped:  // H5: after the owner collects, usedBlocks == live blocks
    return { mi in
      let owner = mi.newThread()
      let b = try blocks(owner.backing, 3, 32)
      let remote = mi.newThread()
      remote.free(b[0])
      remote.free(b[1])
      owner.collect(force: false)
      return owner.backing.usedBlocks() != 1
    }
  case .destroySkipsFullPages:  // H2: after destroy none of the heap's blocks is allocated
    return { mi in
      let h = mi.mainThread.heapNew()
      let b = try blocks(h, 5, 16_384)
      h.destroy()
      return b.contains { mi.blockState($0) == .allocated }
    }
  case .visitSkipsFullQueue:  // H4: visit reports exactly the live blocks
    return { mi in
      let h = mi.mainThread.heapNew()
      let b = try blocks(h, 5, 16_384)
      var seen: [Int] = []
      _ = h.visitBlocks(all: true) { _, block, _ in
        if let block { seen.append(block) }
        return true
      }
      return Set(seen) != Set(b)
    }
  case .abandonedNeverReclaimed:  // H7: all freed and collected ⇒ nothing mapped
    return { mi in
      let t = mi.newThread()
      let b = try blocks(t.backing, 3, 64)
      t.exit()
      b.forEach(mi.mainThread.free)
      mi.mainThread.quiescent()
      mi.mainThread.collectAll(force: true)
      return mi.stats().segments != 0 || mi.pages.stats.mappedBytes != 0
    }
  case .binOffByOne:  // O3: usable ≥ request
    return { mi in
      let p = try #require(mi.mainThread.backing.malloc(65))
      return mi.usableSize(p) < 65
    }
  case .binRoundsUpAtBoundary:  // X5 (fidelity): a request of exactly a bin's size gets the next bin's block
    return { mi in
      let p = try #require(mi.mainThread.backing.malloc(80))
      return mi.usableSize(p) != 80
    }
  case .deleteKeepsOldXHeap:  // H3: after delete the backing heap contains the blocks
    return { mi in
      let t = mi.mainThread
      let h = t.heapNew()
      let p = try #require(h.malloc(64))
      h.delete()
      return !t.backing.contains(p)
    }
  case .containsAnyHeapOfThread:  // H1: a block is contained by exactly its heap
    return { mi in
      let t = mi.mainThread
      let h = t.heapNew()
      let p = try #require(t.backing.malloc(64))
      return h.contains(p)
    }
  case .callocSkipsZeroingRecycled:  // O5: calloc'ed bytes are zero
    return { mi in
      let t = mi.mainThread
      let q = try #require(t.backing.malloc(200))
      MemoryAccess.writeUnchecked(address: q, bytes: [UInt8](repeating: 0xAB, count: 200))
      t.free(q)
      var dirty = false
      for _ in 0..<64 {
        let r = try #require(t.backing.calloc(1, 200))
        if MemoryAccess.readUnchecked(address: r, count: 200).contains(where: { $0 != 0 }) { dirty = true }
      }
      return dirty
    }
  case .alignedIgnoresAlignment:  // O1: alignment honoured
    return { mi in
      let ps = try (0..<4).map { _ in try #require(mi.mainThread.backing.mallocAligned(100, alignment: 4096)) }
      return ps.contains { $0 % 4096 != 0 }
    }
  case .reclaimIntoNoReclaimHeap:  // H2: destroy frees the heap's blocks and nothing else
    return { mi in
      let dead = mi.newThread()
      let orphans = try blocks(dead.backing, 10, 64)
      dead.exit()
      let h = mi.newThread().heapNew()
      _ = try #require(h.malloc(64))
      h.destroy()
      return orphans.contains { mi.blockState($0) != .allocated }
    }
  case .startOffset384:  // O1: the natural-alignment fast path
    return { mi in
      let p = try #require(mi.mainThread.backing.mallocAligned(256, alignment: 256))
      return p % 256 != 0
    }
  case .hugeNotContained:  // H1: a huge block is contained by its heap (#587, test malloc_aligned11)
    return { mi in
      let h = mi.mainThread.heapNew()
      let p = try #require(h.mallocAligned(33_554_426, alignment: 8))
      return !h.contains(p)
    }
  case .sliceCountTruncated:  // O3: a non-nil result is usable ≥ request
    return { mi in
      let n = (UInt64(1) << 48) + 100 * UInt64(MiConst.sliceSize)
      guard let p = mi.mainThread.backing.malloc(n) else { return false }
      return UInt64(mi.usableSize(p)) < n
    }
  case .deleteLosesDelayedFrees:  // H5: remote frees queued on the deleted heap are reclaimed
    return { mi in
      let owner = mi.newThread()
      let h = owner.heapNew()
      let b = try blocks(h, 10, 48)
      mi.newThread().free(b[0])  // onto h's delayed list
      h.delete()
      owner.collect(force: false)
      return owner.backing.usedBlocks() != 9
    }
  case .qsbrParkedPageLeak:  // MI6: a parked page is never in the full queue
    return { mi in
      let t = mi.newThread()
      let h = t.heap(.object)
      let b = try blocks(h, 5, 16_384)  // the first page is full and in queue 74
      let remote = mi.newThread()
      b.prefix(4).forEach(remote.free)
      _ = try #require(h.malloc(20_000))  // the drain empties the full page: retire → QSBR park
      return reports(mi, "MI6")
    }
  case .reclaimOnFreeAfterExit:  // H7: all freed and collected ⇒ nothing mapped
    return { mi in
      let a = mi.newThread()
      let b = try blocks(a.backing, 3, 64)
      a.exit()
      let late = mi.newThread()
      late.exit()
      b.forEach(late.free)  // frees from a thread that already exited
      mi.mainThread.quiescent()
      mi.mainThread.collectAll(force: true)
      return mi.stats().segments != 0
    }
  case .abandonedHugeFreeLost:  // H6: all freed and collected ⇒ no block in use
    return { mi in
      let a = mi.newThread()
      let huge = try #require(a.backing.malloc(UInt64(16 * MiB + 1)))
      a.exit()
      mi.mainThread.free(huge)  // into the abandoned huge segment
      mi.mainThread.quiescent()
      mi.mainThread.collect(force: true)
      mi.mainThread.collectAll(force: true)
      return mi.stats().blocksInUse != 0
    }
  case .remoteFreeWithoutCAS, .delayedFreeingLostUpdate:
    preconditionFailure("\(bug): a race, no deterministic scenario (excluded above; StressTests or ExploreTests shows it)")
  }
}

@Suite("Mimalloc seeded bugs")
struct MimallocBugTests {
  /// Races (``MimallocBug/needsRealThreads``) have no deterministic scenario: StressTests shows them.
  @Test("each seeded bug trips its check; the reference does not",
        arguments: MimallocBug.allCases.filter { !$0.needsRealThreads })
  func seededBugChangesBehaviour(_ bug: MimallocBug) throws {
    let run = scenario(for: bug)
    let reference = Mimalloc()
    #expect(try !run(reference), "\(bug): the reference trips the check")
    if !bug.caughtBy.hasPrefix("MI") { #expect(reference.checkInvariants().isEmpty, "\(reference.checkInvariants())") }
    let broken = Mimalloc(bugs: [bug])
    #expect(try run(broken), "\(bug) (caught by \(bug.caughtBy)): no effect in its scenario")
  }

  @Test("MI3 reports the forbidden transition it saw, with its site")
  func mi3Detail() throws {
    let mi = Mimalloc(bugs: [.delayedStateSkipped])
    let b = try blocks(mi.mainThread.backing, 1, 32)
    mi.newThread().free(b[0])
    let v = mi.checkInvariants().filter { $0.id == "MI3" }
    #expect(v.count == 1 && v[0].detail.contains("0 → 2 at remoteFree"), "\(v)")
  }

  @Test("every case names a check id and upstream cases name their issue")
  func caughtByIds() {
    let ids: Set<String> = ["MI1", "MI2", "MI3", "MI4", "MI6", "MI7",
                            "O1", "O2", "O3", "O4", "O5", "O6", "O7", "O8", "H1", "H2", "H3", "H4", "H5", "H6", "H7",
                            "S1", "S2", "S3", "S4", "S5", "S6",  // the stress runner's checks (races only)
                            "X5"]  // fidelity: the differential against libmimalloc (DifferentialTests)
    for bug in MimallocBug.allCases { #expect(ids.contains(bug.caughtBy), "\(bug)") }
    #expect(MimallocBug.allCases.filter { $0.upstreamIssue != nil }.count >= 6)
    #expect(Set(MimallocBug.allCases.map(\.caughtBy)).isSuperset(of: ["MI1", "MI2", "MI3", "MI4", "MI6", "MI7"]))
  }
}
