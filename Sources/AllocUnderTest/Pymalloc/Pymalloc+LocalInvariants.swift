// Pymalloc+LocalInvariants.swift — `checkInvariants(around:)`: the invariants one op at `address` could
// have broken, without walking every arena. The executor runs it after each op between two whole walks
// (``checkInvariants()``, on the oracle's cadence and always at the end), and the whole walk whenever the
// arena count changes (PM6: the radix tree changes only then). Cost: the touched pool's free list, its
// class's used list, its arena's free-pool list, and the arena lists (one entry per arena).
//
// Ids as in the whole walk: PM2 for the touched pool, PM3 for its list memberships, PM4 for its arena's
// pool count and the arena lists, PM5, PM7's counters.

extension Pymalloc {
  @inline(never)
  public func checkInvariants(around address: Int) -> [InvariantViolation] {
    var out: [InvariantViolation] = []
    func fail(_ id: String, _ detail: String) { if out.count < 20 { out.append(.init(id: id, detail: detail)) } }
    var liveCount = 0
    var home: Int? = nil
    for k in arenas.indices {
      guard let base = arenas[k].address?.address else { continue }
      liveCount += 1
      if address >= base && address < base + PymallocLayout.arenaSize { home = k }
    }
    if let a = home { checkAround(address, arena: a, fail: fail) }
    // nfp2lasta: the entries around the touched arena's free-pool count k, k − 1 … k + 1 (one op moves it by
    // one pool at most; the whole walk reads every entry). A block outside the arenas changed no arena.
    let k = home.map { arenas[$0].nfreepools }
    checkArenaLists(nfp2lastaEntries: k.map { $0 - 1..<$0 + 2 } ?? 0..<0, fail: fail)
    checkCounters(liveCount: liveCount, fail: fail)
    return out
  }

  /// PM2–PM4 for the pool holding `address` in arena `a`, and the arena's own pool count.
  private func checkAround(_ address: Int, arena a: Int, fail: (String, String) -> Void) {
    let arena = arenas[a]
    guard let first = arena.firstPool?.address, let carvedEnd = arena.poolAddress?.address else { return }
    // The arena's free pools (at most its pool count; a longer walk is a loop), and whether the touched
    // pool is one of them.
    let poolAddress = address & ~PymallocLayout.poolSizeMask
    var onFree = 0
    var touchedOnFree = false
    var p = arena.freepools
    while let pool = p, onFree <= PymallocLayout.maxPoolsInArena {
      guard pool.address >= first, pool.address < carvedEnd, (pool.address - first) % PymallocLayout.poolSize == 0 else {
        fail("PM3", "arena \(a) freepools links \(hex(pool.address))"); break
      }
      onFree += 1
      if pool.address == poolAddress { touchedOnFree = true }
      p = pool.nextpool
    }
    let uncarved = (first + arena.ntotalpools * PymallocLayout.poolSize - carvedEnd) / PymallocLayout.poolSize
    if arena.nfreepools != onFree + uncarved {
      fail("PM4", "arena \(a) nfreepools \(arena.nfreepools) != cached \(onFree) + uncarved \(uncarved)")
    }
    guard poolAddress >= first, poolAddress < carvedEnd, let raw = UnsafeMutableRawPointer(bitPattern: poolAddress) else { return }
    let pool = PoolRef(raw)
    checkPool(pool, arena: a, fail: fail)
    let c = Int(pool.szidx)
    guard c < PymallocLayout.sizeClassCount else { return }
    let used = pool.count > 0 && pool.freeblock != nil
    let listed = isOnUsedList(pool, class: c, limit: PymallocLayout.maxPoolsInArena * max(arenas.count, 1) + 1)
    if used != listed {
      fail("PM3", "pool \(hex(pool.address)) count \(pool.count) full=\(pool.freeblock == nil): on used list \(listed)")
    }
    if listed, pool.nextpool?.prevpool != pool || pool.prevpool?.nextpool != pool {
      fail("PM3", "usedpools[\(c)]: links around \(hex(pool.address)) broken")
    }
    if (pool.count == 0) != touchedOnFree {
      fail("PM3", "pool \(hex(pool.address)) count \(pool.count): on arena \(a) freepools \(pool.count != 0)")
    }
  }

  /// Is `pool` on class `c`'s used list (walked front to back, at most `limit` links)?
  private func isOnUsedList(_ pool: PoolRef, class c: Int, limit: Int) -> Bool {
    let head = usedPools.head(c)
    var p = head.nextpool
    var steps = 0
    while let q = p, q != head, steps < limit {
      if q == pool { return true }
      steps += 1
      p = q.nextpool
    }
    return false
  }
}
