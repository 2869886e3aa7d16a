// Pymalloc+Invariants.swift — `checkInvariants()`: O(arenas × pools + free blocks) walkers that report
// broken structure as values (rule id + numbers), never trapping, so fuzzers and tests can print them.
// Ids: PM2 pool internals, PM3 pool lists, PM4 arena lists and order, PM5 free-arena rule, PM6 radix
// tree, PM7 counters. The executor calls it after every op (configurable). Walks are bounded, and each
// link is range-checked before it is followed, so a corrupted list yields a violation, not a crash.

/// One broken invariant.
public struct InvariantViolation: Sendable, Equatable, CustomStringConvertible {
  public var id: String
  public var detail: String
  public var description: String { "\(id): \(detail)" }
}

extension Pymalloc {
  @inline(never)
  public func checkInvariants() -> [InvariantViolation] {
    var out: [InvariantViolation] = []
    func fail(_ id: String, _ detail: String) { if out.count < 20 { out.append(.init(id: id, detail: detail)) } }
    let live = arenas.indices.filter { arenas[$0].address != nil }

    // PM2: every carved pool — count, free-list shape, carving offsets.
    // Equation: |free list| == carved − count, carved = (nextoffset − 48) / size.
    for a in live {
      for pool in arenas[a].carvedPools { checkPool(pool, arena: a, fail: fail) }
    }

    // PM3: used pools are exactly the carved pools with 0 < count and a free block, each on its class list;
    // empty pools are exactly those on their arena's freepools list.
    var onUsedList = Set<Int>()
    for c in 0..<PymallocLayout.sizeClassCount {
      for pool in usedPools.pools(c, limit: 1 << 16) {
        guard isCarvedPool(pool.address) else { fail("PM3", "usedpools[\(c)] links \(hex(pool.address)), not a carved pool"); break }
        if pool.nextpool?.prevpool != pool { fail("PM3", "usedpools[\(c)]: back link broken at \(hex(pool.address))") }
        if Int(pool.szidx) != c { fail("PM3", "pool \(hex(pool.address)) of class \(pool.szidx) on usedpools[\(c)]") }
        if !onUsedList.insert(pool.address).inserted { fail("PM3", "pool \(hex(pool.address)) twice on used lists"); break }
      }
    }
    for a in live {
      var onFree = Set<Int>()
      var p = arenas[a].freepools
      while let pool = p, onFree.count <= PymallocLayout.maxPoolsInArena {
        guard arenas[a].carvedPools.contains(pool) else { fail("PM3", "arena \(a) freepools links \(hex(pool.address))"); break }
        onFree.insert(pool.address)
        p = pool.nextpool
      }
      for pool in arenas[a].carvedPools {
        let used = pool.count > 0 && pool.freeblock != nil
        if used != onUsedList.contains(pool.address) {
          fail("PM3", "pool \(hex(pool.address)) count \(pool.count) full=\(pool.freeblock == nil): on used list \(!used)")
        }
        if (pool.count == 0) != onFree.contains(pool.address) {
          fail("PM3", "pool \(hex(pool.address)) count \(pool.count): on arena \(a) freepools \(pool.count != 0)")
        }
      }
      // nfreepools == |freepools| + uncarved pools.
      let uncarved = (arenas[a].firstPool! + arenas[a].ntotalpools * PymallocLayout.poolSize - arenas[a].poolAddress!) / PymallocLayout.poolSize
      if arenas[a].nfreepools != onFree.count + uncarved {
        fail("PM4", "arena \(a) nfreepools \(arenas[a].nfreepools) != cached \(onFree.count) + uncarved \(uncarved)")
      }
    }

    checkArenaLists(live: live, fail: fail)
    checkArenaMap(live: live, fail: fail)

    checkCounters(live: live, fail: fail)
    return out
  }

  /// PM7: the arena counters agree with the structures (`live`: descriptors with an address).
  func checkCounters(live: [Int], fail: (String, String) -> Void) {
    if narenasCurrentlyAllocated != live.count {
      fail("PM7", "narenas_currently_allocated \(narenasCurrentlyAllocated) != \(live.count) arenas with an address")
    }
    if narenasHighwater < narenasCurrentlyAllocated || narenasHighwater > ntimesArenaAllocated {
      fail("PM7", "highwater \(narenasHighwater) outside [current \(narenasCurrentlyAllocated), total \(ntimesArenaAllocated)]")
    }
  }

  /// PM2 for one carved pool of arena `a`.
  func checkPool(_ pool: PoolRef, arena a: Int, fail: (String, String) -> Void) {
    let c = Int(pool.szidx)
    guard c < PymallocLayout.sizeClassCount else {
      fail("PM2", "pool \(hex(pool.address)) of arena \(a) has szidx \(pool.szidx)"); return
    }
    let size = PymallocLayout.blockSize(ofClass: c)
    let carved = (pool.nextoffset - PymallocLayout.poolOverhead) / size
    if pool.maxnextoffset != PymallocLayout.poolSize - size {
      fail("PM2", "pool \(hex(pool.address)) maxnextoffset \(pool.maxnextoffset) != \(PymallocLayout.poolSize - size)")
    }
    if pool.arenaIndex != a { fail("PM2", "pool \(hex(pool.address)) says arena \(pool.arenaIndex), is in \(a)") }
    guard let free = freeList(of: pool, size: size, fail: fail) else { return }
    if free != carved - Int(pool.count) {
      fail("PM2", "pool \(hex(pool.address)) class \(c): free list \(free) != carved \(carved) − count \(pool.count)")
    }
  }

  /// The length of `pool`'s free list, or nil (after reporting PM2) when a link leaves the carved blocks or
  /// the list loops. Every link lands on one of the `carved` block slots, so a list longer than that repeats
  /// a slot, and a singly linked list that repeats a node loops: a step count finds it, with no set.
  func freeList(of pool: PoolRef, size: Int, fail: (String, String) -> Void) -> Int? {
    let carved = (pool.nextoffset - PymallocLayout.poolOverhead) / size
    var count = 0
    var b = pool.freeblock
    while let block = b {
      let off = block.address - pool.address
      guard off >= PymallocLayout.poolOverhead, off < pool.nextoffset, (off - PymallocLayout.poolOverhead) % size == 0 else {
        fail("PM2", "pool \(hex(pool.address)) free list reaches offset \(off) (next offset \(pool.nextoffset), size \(size))")
        return nil
      }
      count += 1
      guard count <= carved else {
        fail("PM2", "pool \(hex(pool.address)) free list loops at offset \(off)"); return nil
      }
      b = FreeLink.next(of: block)
    }
    return count
  }

  private func isCarvedPool(_ address: Int) -> Bool {
    arenas.contains { a in
      guard let first = a.firstPool?.address, let end = a.poolAddress?.address else { return false }
      return address >= first && address < end && (address - first) % PymallocLayout.poolSize == 0
    }
  }

  /// PM4 (unused and usable lists, order, nfp2lasta) and PM5 (at most one wholly free arena, the tail).
  func checkArenaLists(live: [Int], fail: (String, String) -> Void) {
    // Flags by descriptor index, not sets: this runs after every op (checkInvariants(around:)).
    var onUnused = [Bool](repeating: false, count: arenas.count)
    var unusedCount = 0
    var u = unusedArenaObjects
    while let i = u {
      guard i >= 0 && i < arenas.count, !onUnused[i] else { fail("PM4", "unused arena list broken at \(i)"); break }
      onUnused[i] = true
      unusedCount += 1
      u = arenas[i].nextArena
    }
    for i in arenas.indices where (arenas[i].address == nil) != onUnused[i] {
      fail("PM4", "descriptor \(i): address nil = \(arenas[i].address == nil) but on unused list = \(onUnused[i])")
    }
    var order: [Int] = []
    order.reserveCapacity(live.count)
    var onUsable = [Bool](repeating: false, count: arenas.count)
    var prev: Int? = nil
    var cur = usableArenas
    while let i = cur {
      guard i >= 0 && i < arenas.count, !onUsable[i] else { fail("PM4", "usable arena list broken at \(i)"); break }
      guard arenas[i].address != nil else { fail("PM4", "usable arena \(i) has no address"); break }
      if arenas[i].prevArena != prev { fail("PM4", "usable arena \(i) prev \(String(describing: arenas[i].prevArena)) != \(String(describing: prev))") }
      onUsable[i] = true
      order.append(i)
      prev = i
      cur = arenas[i].nextArena
    }
    let expected = live.filter { arenas[$0].nfreepools > 0 }
    if order.count != expected.count || expected.contains(where: { !onUsable[$0] }) {
      fail("PM4", "usable_arenas holds \(order) but arenas with free pools are \(expected.sorted())")
    }
    for (x, y) in zip(order, order.dropFirst()) where arenas[x].nfreepools > arenas[y].nfreepools {
      fail("PM4", "usable_arenas not sorted: arena \(x) has \(arenas[x].nfreepools) free pools before arena \(y) with \(arenas[y].nfreepools)")
    }
    var rightmost = [Int?](repeating: nil, count: nfp2lasta.count)
    for i in order where arenas[i].nfreepools < rightmost.count { rightmost[arenas[i].nfreepools] = i }
    for k in nfp2lasta.indices where nfp2lasta[k] != (k == 0 ? nil : rightmost[k]) {
      fail("PM4", "nfp2lasta[\(k)] = \(String(describing: nfp2lasta[k])), rightmost with \(k) free pools is \(String(describing: rightmost[k]))")
    }
    let whollyFree = live.filter { arenas[$0].nfreepools == arenas[$0].ntotalpools }
    if whollyFree.count > 1 || (whollyFree.count == 1 && whollyFree[0] != order.last) {
      fail("PM5", "wholly free arenas \(whollyFree) (at most one, the tail \(String(describing: order.last)))")
    }
  }

  /// PM6: the radix tree's non-zero entries are exactly those the live arenas imply.
  private func checkArenaMap(live: [Int], fail: (String, String) -> Void) {
    var expected: [UInt: ArenaCoverage] = [:]
    for a in live {
      let base = UInt(bitPattern: arenas[a].address!.address)
      let window = base & ~UInt(PymallocLayout.arenaSize - 1)
      let tail = Int32(base & UInt(PymallocLayout.arenaSize - 1))
      expected[window, default: .init(tailHi: 0, tailLo: 0)].tailHi = tail == 0 ? -1 : tail
      if tail != 0 { expected[window &+ UInt(PymallocLayout.arenaSize), default: .init(tailHi: 0, tailLo: 0)].tailLo = tail }
    }
    // Each implied window holds what it should, and no other window is covered (the map counts its
    // non-zero entries as it writes them; the scan that lists them runs only to name the culprits).
    let wrong = expected.filter { arenaMap.coverage(at: $0.key) != $0.value }
    if !wrong.isEmpty || arenaMap.nonZeroCount != expected.count {
      var actual: [UInt: ArenaCoverage] = [:]
      for (w, c) in arenaMap.nonZeroEntries() { actual[w] = c }
      let extra = Set(actual.keys).union(expected.keys).filter { actual[$0] != expected[$0] }.sorted().prefix(3).map { hex(Int(bitPattern: $0)) }
      fail("PM6", "arena map has \(arenaMap.nonZeroCount) covered windows, live arenas imply \(expected.count); differing windows \(extra)")
    }
  }
}

func hex(_ v: Int) -> String { "0x" + String(UInt(bitPattern: v), radix: 16) }
