// Pymalloc+Free.swift — the free path: `pymalloc_free`, `insert_to_usedpool` (a full pool gets a block
// back) and `insert_to_freepool` (a pool becomes empty), including the arena re-sort through nfp2lasta
// (bpo-37029) and the release rule that keeps the last wholly free arena (bpo-37257).
// Guarded by PM2–PM7 in ``Pymalloc/checkInvariants()``.

extension Pymalloc {
  /// `pymalloc_free` for a pointer that `owns` accepted.
  func smallFree(_ userPointer: UnsafeMutableRawPointer) {
    var p = userPointer
    if has(.misalignTinyBlocks) && p.address & 15 == 8 { p -= 8 }
    let pool = PoolRef(containing: p)
    require(pool.count > 0, "pymalloc: free of a block in a pool with no allocated block (double free?)")
    if Memcheck.active, let arena = arenas[pool.arenaIndex].address {  // usual: not under Valgrind
      Memcheck.freed(UInt(bitPattern: p.address), pool: UInt(bitPattern: arena.address))
    }
    if has(.freeScribblesOnNeighbour) && pool.offset(of: p) > PymallocLayout.poolOverhead {
      (p - pool.blockSize + 8).initializeMemory(as: UInt8.self, repeating: 0xAB, count: 8)
    }
    let lastfree = pool.freeblock
    pool.count -= 1
    if has(.loseFreedBlock) && lastfree != nil
      && (pool.offset(of: p) - PymallocLayout.poolOverhead) / pool.blockSize % 7 == 3 {
      if pool.count == 0 { insertToFreePool(pool) }
      return
    }
    if has(.freeListFIFO), var tail = lastfree {
      while let next = FreeLink.next(of: tail) { tail = next }
      FreeLink.setNext(of: tail, to: p)
      FreeLink.setNext(of: p, to: nil)
    } else {
      FreeLink.setNext(of: p, to: lastfree)
      pool.freeblock = p
    }
    if lastfree == nil {
      // The pool was full: put it back at the front of its class so the next request reuses this block.
      if !has(.fullPoolNotRelinked) { usedPools.linkAtFront(pool, class: Int(pool.szidx)) }
      return
    }
    if pool.count != 0 { return }  // usual: still partially used
    insertToFreePool(pool)
  }

  /// `insert_to_freepool`: `pool` just became empty. Numbered cases as in obmalloc.c.
  private func insertToFreePool(_ pool: PoolRef) {
    UsedPools.unlink(pool)
    let a = pool.arenaIndex
    pool.nextpool = arenas[a].freepools
    arenas[a].freepools = pool
    let nf = arenas[a].nfreepools
    let lastnf = nfp2lasta[nf]
    // If this arena was the rightmost with nf free pools, its left neighbour may inherit that role.
    if lastnf == a {
      if let p = arenas[a].prevArena, arenas[p].nfreepools == nf { nfp2lasta[nf] = p } else { nfp2lasta[nf] = nil }
    }
    arenas[a].nfreepools = nf + 1

    // Case 1: the arena is wholly free and is not the last usable arena (that one is kept, bpo-37257).
    let releaseAt = has(.releaseArenaWithUsedPool) ? arenas[a].ntotalpools - 1 : arenas[a].ntotalpools
    let keepsLast = !has(.releaseLastFreeArena)
    if nf + 1 >= releaseAt && (arenas[a].nextArena != nil || !keepsLast) && !has(.neverReleaseArenas) {
      let next = arenas[a].nextArena
      if let prev = arenas[a].prevArena { arenas[prev].nextArena = next } else { usableArenas = next }
      if let next { arenas[next].prevArena = arenas[a].prevArena }
      arenas[a].nextArena = unusedArenaObjects
      unusedArenaObjects = a
      let base = arenas[a].address!
      if !has(.radixNotUnmarked) { _ = arenaMap.mark(arenaBase: base, used: false, raw: raw) }
      Memcheck.destroyPool(UInt(bitPattern: base.address), size: PymallocLayout.arenaSize)
      pages.release(base, bytes: PymallocLayout.arenaSize)
      arenas[a].address = nil
      narenasCurrentlyAllocated -= 1
      return
    }
    // Case 2: the arena was full (on no list); it now has one free pool, the fewest possible: link at head.
    if nf + 1 == 1 {
      arenas[a].nextArena = usableArenas
      arenas[a].prevArena = nil
      if let u = usableArenas { arenas[u].prevArena = a }
      usableArenas = a
      if nfp2lasta[1] == nil { nfp2lasta[1] = a }
      return
    }
    if nfp2lasta[nf + 1] == nil { nfp2lasta[nf + 1] = a }
    // Case 4: it was the rightmost arena with nf free pools, so the order still holds.
    if lastnf == a || has(.skipArenaResort) { return }
    // Case 3: move it just after lastnf, the rightmost arena that still has nf free pools.
    let l = lastnf!
    if let prev = arenas[a].prevArena { arenas[prev].nextArena = arenas[a].nextArena } else {
      usableArenas = arenas[a].nextArena
    }
    if let next = arenas[a].nextArena { arenas[next].prevArena = arenas[a].prevArena }
    arenas[a].prevArena = l
    arenas[a].nextArena = arenas[l].nextArena
    if let next = arenas[a].nextArena { arenas[next].prevArena = a }
    arenas[l].nextArena = a
  }
}
