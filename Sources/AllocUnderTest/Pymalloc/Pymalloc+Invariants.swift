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
  /// Marks of one carved pool during a whole walk (``checkInvariants()``).
  private static let onUsedListMark: UInt8 = 1
  private static let onFreePoolsMark: UInt8 = 2

  @inline(never)
  public func checkInvariants() -> [InvariantViolation] {
    var out: [InvariantViolation] = []
    func fail(_ id: String, _ detail: String) { if out.count < 20 { out.append(.init(id: id, detail: detail)) } }
    let live = arenas.indices.filter { arenas[$0].address != nil }
    // One mark byte per pool slot of every descriptor (slot k of arena a at a · MAX_POOLS + k): list
    // memberships are flags here, not sets, so the walk hashes nothing.
    let slots = PymallocLayout.maxPoolsInArena
    var marks = [UInt8](repeating: 0, count: arenas.count * slots)

    // PM2: every carved pool — count, free-list shape, carving offsets.
    // Equation: |free list| == carved − count, carved = (nextoffset − 48) / size.
    for a in live {
      for k in 0..<arenas[a].carvedCount { checkPool(arenas[a].carvedPool(k), arena: a, fail: fail) }
    }

    // PM3: used pools are exactly the carved pools with 0 < count and a free block, each on its class list;
    // empty pools are exactly those on their arena's freepools list.
    for c in 0..<PymallocLayout.sizeClassCount {
      let head = usedPools.head(c)
      var p = head.nextpool
      var steps = 0
      while let pool = p, pool != head, steps < 1 << 16 {
        steps += 1
        guard let slot = carvedSlot(of: pool) else { fail("PM3", "usedpools[\(c)] links \(hex(pool.address)), not a carved pool"); break }
        if pool.nextpool?.prevpool != pool { fail("PM3", "usedpools[\(c)]: back link broken at \(hex(pool.address))") }
        if Int(pool.szidx) != c { fail("PM3", "pool \(hex(pool.address)) of class \(pool.szidx) on usedpools[\(c)]") }
        if marks[slot] & Self.onUsedListMark != 0 { fail("PM3", "pool \(hex(pool.address)) twice on used lists"); break }
        marks[slot] |= Self.onUsedListMark
        p = pool.nextpool
      }
    }
    for a in live {
      let arena = arenas[a]
      let first = arena.firstPool!.address
      let carved = arena.carvedCount
      // The free-pool list: each link a carved pool of this arena, and no longer than the arena's pools
      // (a longer walk repeats a pool: the list loops).
      var onFree = 0
      var p = arena.freepools
      while let pool = p {
        let k = (pool.address - first) / PymallocLayout.poolSize
        guard pool.address >= first, (pool.address - first) % PymallocLayout.poolSize == 0, k < carved else {
          fail("PM3", "arena \(a) freepools links \(hex(pool.address))"); break
        }
        guard marks[a * slots + k] & Self.onFreePoolsMark == 0 else {
          fail("PM3", "arena \(a) freepools loops at \(hex(pool.address))"); break
        }
        marks[a * slots + k] |= Self.onFreePoolsMark
        onFree += 1
        p = pool.nextpool
      }
      for k in 0..<carved {
        let pool = arena.carvedPool(k)
        let mark = marks[a * slots + k]
        let used = pool.count > 0 && pool.freeblock != nil
        if used != (mark & Self.onUsedListMark != 0) {
          fail("PM3", "pool \(hex(pool.address)) count \(pool.count) full=\(pool.freeblock == nil): on used list \(!used)")
        }
        if (pool.count == 0) != (mark & Self.onFreePoolsMark != 0) {
          fail("PM3", "pool \(hex(pool.address)) count \(pool.count): on arena \(a) freepools \(pool.count != 0)")
        }
      }
      // nfreepools == |freepools| + uncarved pools.
      let uncarved = (first + arena.ntotalpools * PymallocLayout.poolSize - arena.poolAddress!.address) / PymallocLayout.poolSize
      if arena.nfreepools != onFree + uncarved {
        fail("PM4", "arena \(a) nfreepools \(arena.nfreepools) != cached \(onFree) + uncarved \(uncarved)")
      }
    }

    checkArenaLists(fail: fail)
    checkArenaMap(live: live, fail: fail)

    checkCounters(liveCount: live.count, fail: fail)
    return out
  }

  /// The mark slot (arena · MAX_POOLS + pool number) of the carved pool at `pool`, or nil when no arena has
  /// carved a pool there. The pool's own arena index is tried first, then every arena (it may be corrupt).
  private func carvedSlot(of pool: PoolRef) -> Int? {
    func slot(in a: Int) -> Int? {
      guard let first = arenas[a].firstPool?.address else { return nil }
      let off = pool.address - first
      guard off >= 0, off % PymallocLayout.poolSize == 0, off / PymallocLayout.poolSize < arenas[a].carvedCount else { return nil }
      return a * PymallocLayout.maxPoolsInArena + off / PymallocLayout.poolSize
    }
    let hint = pool.arenaIndex
    if hint >= 0, hint < arenas.count, let s = slot(in: hint) { return s }
    for a in arenas.indices { if let s = slot(in: a) { return s } }
    return nil
  }

  /// PM7: the arena counters agree with the structures (`live`: descriptors with an address).
  func checkCounters(liveCount: Int, fail: (String, String) -> Void) {
    if narenasCurrentlyAllocated != liveCount {
      fail("PM7", "narenas_currently_allocated \(narenasCurrentlyAllocated) != \(liveCount) arenas with an address")
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

  /// PM4 (unused and usable lists, order, nfp2lasta) and PM5 (at most one wholly free arena, the tail).
  /// Runs after every op (``checkInvariants(around:)``), so it keeps its flags in one byte per descriptor on
  /// the stack and allocates nothing unless it fails.
  ///
  /// `nfp2lastaEntries`: the nfp2lasta entries to check (the local check: those one op can have changed);
  /// nil checks all of them.
  func checkArenaLists(nfp2lastaEntries: Range<Int>? = nil, fail: (String, String) -> Void) {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: arenas.count) { marks in
      marks.initialize(repeating: 0)
      checkArenaLists(marks: marks, nfp2lastaEntries: nfp2lastaEntries, fail: fail)
    }
  }

  private func checkArenaLists(marks: UnsafeMutableBufferPointer<UInt8>, nfp2lastaEntries: Range<Int>?,
                               fail: (String, String) -> Void) {
    let onUnusedMark: UInt8 = 1, onUsableMark: UInt8 = 2
    var u = unusedArenaObjects
    while let i = u {
      guard i >= 0 && i < arenas.count, marks[i] & onUnusedMark == 0 else { fail("PM4", "unused arena list broken at \(i)"); break }
      marks[i] |= onUnusedMark
      u = arenas[i].nextArena
    }
    for i in arenas.indices where (arenas[i].address == nil) != (marks[i] & onUnusedMark != 0) {
      fail("PM4", "descriptor \(i): address nil = \(arenas[i].address == nil) but on unused list = \(marks[i] & onUnusedMark != 0)")
    }
    // The usable list: linked both ways, every entry live, sorted by nfreepools.
    var onUsable = 0
    var prev: Int? = nil
    var cur = usableArenas
    while let i = cur {
      guard i >= 0 && i < arenas.count, marks[i] & onUsableMark == 0 else { fail("PM4", "usable arena list broken at \(i)"); break }
      guard arenas[i].address != nil else { fail("PM4", "usable arena \(i) has no address"); break }
      if arenas[i].prevArena != prev { fail("PM4", "usable arena \(i) prev \(String(describing: arenas[i].prevArena)) != \(String(describing: prev))") }
      marks[i] |= onUsableMark
      onUsable += 1
      if let x = prev, arenas[x].nfreepools > arenas[i].nfreepools {
        fail("PM4", "usable_arenas not sorted: arena \(x) has \(arenas[x].nfreepools) free pools before arena \(i) with \(arenas[i].nfreepools)")
      }
      prev = i
      cur = arenas[i].nextArena
    }
    let tail = prev
    var withFreePools = 0, missing = false
    var whollyFree = 0, whollyFreeIsTail = true
    for i in arenas.indices where arenas[i].address != nil {
      if arenas[i].nfreepools > 0 {
        withFreePools += 1
        if marks[i] & onUsableMark == 0 { missing = true }
      }
      if arenas[i].nfreepools == arenas[i].ntotalpools {
        whollyFree += 1
        if i != tail { whollyFreeIsTail = false }
      }
    }
    if onUsable != withFreePools || missing {
      fail("PM4", "usable_arenas holds \(usableOrder()) but arenas with free pools are \(arenas.indices.filter { arenas[$0].address != nil && arenas[$0].nfreepools > 0 })")
    }
    // nfp2lasta[k] is the rightmost usable arena with k free pools (none for k = 0): the last occurrence of
    // each count along the list, kept in a stack buffer (−1: none).
    withUnsafeTemporaryAllocation(of: Int.self, capacity: nfp2lasta.count) { rightmost in
      rightmost.initialize(repeating: -1)
      var c = usableArenas
      var steps = 0
      while let i = c, i >= 0, i < arenas.count, steps < onUsable {
        if arenas[i].nfreepools > 0 && arenas[i].nfreepools < rightmost.count { rightmost[arenas[i].nfreepools] = i }
        steps += 1
        c = arenas[i].nextArena
      }
      let checked = nfp2lastaEntries?.clamped(to: nfp2lasta.indices) ?? nfp2lasta.indices
      for k in checked where nfp2lasta[k] != (rightmost[k] < 0 ? nil : rightmost[k]) {
        fail("PM4", "nfp2lasta[\(k)] = \(String(describing: nfp2lasta[k])), rightmost with \(k) free pools is \(String(describing: rightmost[k] < 0 ? nil : Optional(rightmost[k])))")
      }
    }
    if whollyFree > 1 || (whollyFree == 1 && !whollyFreeIsTail) {
      fail("PM5", "wholly free arenas \(arenas.indices.filter { arenas[$0].address != nil && arenas[$0].nfreepools == arenas[$0].ntotalpools }) (at most one, the tail \(String(describing: tail)))")
    }
  }

  /// The usable list's descriptor indices in list order (bounded), for messages.
  private func usableOrder() -> [Int] {
    var order: [Int] = []
    var cur = usableArenas
    while let i = cur, i >= 0, i < arenas.count, order.count <= arenas.count {
      order.append(i)
      cur = arenas[i].nextArena
    }
    return order
  }

  /// PM6: the radix tree's non-zero entries are exactly those the live arenas imply.
  private func checkArenaMap(live: [Int], fail: (String, String) -> Void) {
    // The windows the live arenas imply, as (window, coverage) sorted by window: an arena covers the tail of
    // its own window and, when not window aligned, the head of the next. Two arenas may share a window.
    var implied: [(window: UInt, coverage: ArenaCoverage)] = []
    implied.reserveCapacity(2 * live.count)
    for a in live {
      let base = UInt(bitPattern: arenas[a].address!.address)
      let window = base & ~UInt(PymallocLayout.arenaSize - 1)
      let tail = Int32(base & UInt(PymallocLayout.arenaSize - 1))
      implied.append((window, ArenaCoverage(tailHi: tail == 0 ? -1 : tail, tailLo: 0)))
      if tail != 0 { implied.append((window &+ UInt(PymallocLayout.arenaSize), ArenaCoverage(tailHi: 0, tailLo: tail))) }
    }
    implied.sort { $0.window < $1.window }
    var merged: [(window: UInt, coverage: ArenaCoverage)] = []
    merged.reserveCapacity(implied.count)
    for entry in implied {
      if let last = merged.last, last.window == entry.window {
        if entry.coverage.tailHi != 0 { merged[merged.count - 1].coverage.tailHi = entry.coverage.tailHi }
        if entry.coverage.tailLo != 0 { merged[merged.count - 1].coverage.tailLo = entry.coverage.tailLo }
      } else {
        merged.append(entry)
      }
    }
    // Each implied window holds what it should, and no other window is covered (the map counts its
    // non-zero entries as it writes them; the scan that lists them runs only to name the culprits).
    let allRight = merged.allSatisfy { arenaMap.coverage(at: $0.window) == $0.coverage }
    if !allRight || arenaMap.nonZeroCount != merged.count {
      var expected: [UInt: ArenaCoverage] = [:]
      for e in merged { expected[e.window] = e.coverage }
      var actual: [UInt: ArenaCoverage] = [:]
      for (w, c) in arenaMap.nonZeroEntries() { actual[w] = c }
      let extra = Set(actual.keys).union(expected.keys).filter { actual[$0] != expected[$0] }.sorted().prefix(3).map { hex(Int(bitPattern: $0)) }
      fail("PM6", "arena map has \(arenaMap.nonZeroCount) covered windows, live arenas imply \(expected.count); differing windows \(extra)")
    }
  }
}

func hex(_ v: Int) -> String { "0x" + String(UInt(bitPattern: v), radix: 16) }
