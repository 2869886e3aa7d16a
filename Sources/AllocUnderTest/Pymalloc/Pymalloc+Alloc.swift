// Pymalloc+Alloc.swift — the allocation path: `pymalloc_alloc` (fast path from the first used pool of
// the class), `pymalloc_pool_extend`, `allocate_from_new_pool` and `new_arena` of obmalloc.c.
// Guarded by PM2–PM7 in ``Pymalloc/checkInvariants()``.

extension Pymalloc {
  /// `pymalloc_alloc`: a block for 1...512 bytes, or nil to make the caller fall back to the raw allocator.
  func smallAlloc(_ n: Int) -> UnsafeMutableRawPointer? {
    guard n > 0 && n <= PymallocLayout.smallRequestThreshold else { return nil }
    if has(.routeSmallToRaw) && (100...111).contains(n) { return nil }
    var c = PymallocLayout.sizeClass(of: n)
    if has(.sizeClassOffByOne) && n > 16 && (n - 1) % 16 == 0 { c -= 1 }

    let bp: UnsafeMutableRawPointer
    if let pool = usedPools.first(c) {
      // Usual: the class has a partially used pool; pop its free list.
      pool.count += 1
      bp = pool.freeblock!
      if has(.handOutBlockTwice) && c == 5 && pool.count == 3 { return bp }
      pool.freeblock = FreeLink.next(of: bp)
      if pool.freeblock == nil { extend(pool, class: c) }
    } else {
      // Rare: no used pool for this class.
      guard let b = allocateFromNewPool(class: c) else { return nil }
      bp = b
    }
    annotateAllocated(bp, class: c)
    if has(.misalignTinyBlocks) && n <= 8 { return bp + 8 }
    return bp
  }

  /// Memcheck: the block at `bp` of class `c` leaves its arena's pool (Platform/Valgrind.swift).
  @inline(__always)
  private func annotateAllocated(_ bp: UnsafeMutableRawPointer, class c: Int) {
    guard Memcheck.active, let arena = arenas[PoolRef(containing: bp).arenaIndex].address else { return }
    Memcheck.allocated(UInt(bitPattern: bp.address), size: PymallocLayout.blockSize(ofClass: c),
                       pool: UInt(bitPattern: arena.address))
  }

  /// `pymalloc_pool_extend`: the free list ran dry; carve the next virgin block, or unlink a full pool.
  private func extend(_ pool: PoolRef, class c: Int) {
    if pool.nextoffset <= pool.maxnextoffset {
      // There is room for another block: it becomes the one-element free list.
      let b = pool.block(atOffset: pool.nextoffset)
      pool.freeblock = b
      pool.nextoffset += PymallocLayout.blockSize(ofClass: c)
      FreeLink.setNext(of: b, to: nil)
      return
    }
    // The pool is full: it leaves its used list until one of its blocks is freed.
    UsedPools.unlink(pool)
  }

  /// `allocate_from_new_pool`: take a pool from the head of usableArenas (fewest free pools), reusing a
  /// cached empty pool before carving a new one, and make it the first used pool of class `c`.
  private func allocateFromNewPool(class c: Int) -> UnsafeMutableRawPointer? {
    if usableArenas == nil {
      guard let a = newArena() else { return nil }
      usableArenas = a
      arenas[a].nextArena = nil
      arenas[a].prevArena = nil
      nfp2lasta[arenas[a].nfreepools] = a
    }
    let a = usableArenas!
    // The head has the fewest free pools; after taking one it is the rightmost with nf − 1.
    let nf = arenas[a].nfreepools
    if nfp2lasta[nf] == a { nfp2lasta[nf] = nil }
    if nf > 1 { nfp2lasta[nf - 1] = a }

    let pool: PoolRef
    if let cached = arenas[a].freepools {
      // Cached empty pools are always preferred over carving.
      arenas[a].freepools = cached.nextpool
      pool = cached
    } else {
      let base = arenas[a].poolAddress!
      Memcheck.defined(UInt(bitPattern: base.address), size: PymallocLayout.poolOverhead)  // the pool header
      pool = PoolRef(base)
      pool.arenaIndex = a
      pool.szidx = PymallocLayout.dummySizeIndex
      arenas[a].poolAddress = base + PymallocLayout.poolSize
    }
    arenas[a].nfreepools -= 1
    if arenas[a].nfreepools == 0 {
      // The arena is now full: it leaves usableArenas.
      usableArenas = arenas[a].nextArena
      if let next = usableArenas { arenas[next].prevArena = nil }
    }

    usedPools.linkAtFront(pool, class: c)
    pool.count = 1
    if pool.szidx == UInt32(c) {
      // Reused for the same class: its free list is intact (an empty pool holds ≥ 2 carved blocks).
      let bp = pool.freeblock!
      pool.freeblock = FreeLink.next(of: bp)
      return bp
    }
    // Initialise: hand out block 0, put block 1 on the free list, carve nothing else yet.
    let size = PymallocLayout.blockSize(ofClass: c)
    pool.szidx = UInt32(c)
    let bp = pool.block(atOffset: PymallocLayout.poolOverhead)
    pool.nextoffset = PymallocLayout.poolOverhead + 2 * size
    pool.maxnextoffset = PymallocLayout.poolSize - size
    let second = bp + size
    pool.freeblock = second
    FreeLink.setNext(of: second, to: nil)
    return bp
  }

  /// `new_arena`: map 1 MiB and give it a descriptor (growing the descriptor vector 16, 32, 64, …).
  private func newArena() -> Int? {
    if unusedArenaObjects == nil {
      // Every descriptor is in use: double the vector and chain the new ones in index order.
      let old = arenas.count
      let new = old == 0 ? PymallocLayout.initialArenaObjects : old * 2
      for i in old..<new { arenas.append(ArenaObject(nextArena: i + 1 < new ? i + 1 : nil)) }
      unusedArenaObjects = old
    }
    let a = unusedArenaObjects!
    unusedArenaObjects = arenas[a].nextArena
    var address = pages.reserve(bytes: PymallocLayout.arenaSize, alignment: 4096)
    if let b = address, !arenaMap.mark(arenaBase: b, used: true, raw: raw) {
      // Rare: no memory for a radix node; give the arena back (seeded: forget it, still mapped).
      if !has(.radixFailureLeaksArena) { pages.release(b, bytes: PymallocLayout.arenaSize) }
      address = nil
    }
    guard let base = address else {
      // Rare: the OS said no; put the descriptor back.
      arenas[a].nextArena = unusedArenaObjects
      unusedArenaObjects = a
      return nil
    }
    arenas[a].address = base
    Memcheck.createPool(UInt(bitPattern: base.address), inaccessible: PymallocLayout.arenaSize)
    narenasCurrentlyAllocated += 1
    ntimesArenaAllocated += 1
    if narenasCurrentlyAllocated > narenasHighwater && !has(.highwaterNotUpdated) {
      narenasHighwater = narenasCurrentlyAllocated
    }
    arenas[a].freepools = nil
    arenas[a].nfreepools = PymallocLayout.maxPoolsInArena
    arenas[a].poolAddress = arenas[a].firstPool
    if base.address & PymallocLayout.poolSizeMask != 0 { arenas[a].nfreepools -= 1 }
    arenas[a].ntotalpools = arenas[a].nfreepools
    return a
  }
}
