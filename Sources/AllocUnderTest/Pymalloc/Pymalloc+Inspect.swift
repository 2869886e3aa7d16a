// Pymalloc+Inspect.swift — read-only questions the harness asks about one address: is this block
// currently handed out? Used by oracle rule O7 (a moving realloc must free the old block). Never trusts
// the address: it is checked with the arena map before any pool memory is read.

/// What pymalloc's structures say about an address.
public enum PymallocBlockState: Sendable, Equatable {
  /// Inside a carved pool, on a block boundary, not on the free list and below nextoffset.
  case allocated
  /// Inside an arena but free (on the free list, never carved, or in an empty/uncarved pool).
  case free
  /// Not inside any arena: the raw allocator's (or nobody's).
  case notOwned
}

extension Pymalloc {
  public func blockState(_ address: Int) -> PymallocBlockState {
    guard owns(address) else { return .notOwned }
    guard let a = arenas.firstIndex(where: { arena in
      guard let b = arena.address else { return false }
      return address >= b.address && address < b.address + PymallocLayout.arenaSize
    }), let end = arenas[a].poolAddress, let first = arenas[a].firstPool else { return .free }
    guard address >= first.address && address < end.address else { return .free }
    let pool = PoolRef(UnsafeMutableRawPointer(bitPattern: address & ~PymallocLayout.poolSizeMask)!)
    guard pool.count > 0, Int(pool.szidx) < PymallocLayout.sizeClassCount else { return .free }
    var off = address - pool.address
    if has(.misalignTinyBlocks) && off & 15 == 8 { off -= 8 }
    guard off >= PymallocLayout.poolOverhead, off < pool.nextoffset else { return .free }
    var b = pool.freeblock
    var steps = 0
    while let block = b, steps <= PymallocLayout.blocksPerPool(ofClass: 0) {
      if block.address == pool.address + off { return .free }
      let o = block.address - pool.address
      guard o >= PymallocLayout.poolOverhead && o < PymallocLayout.poolSize else { break }
      b = FreeLink.next(of: block)
      steps += 1
    }
    return .allocated
  }
}

extension Pymalloc {
  /// Where a pool block sits, in terms the real obmalloc also records: its pool header's arenaindex, the
  /// pool's slot in the arena (0 = first pool-aligned address), and the block's offset in the pool. nil for a
  /// block outside every arena. The differential compares these with CPython's (rule X2).
  public func placement(of address: Int) -> (arenaIndex: Int, pool: Int, offset: Int)? {
    guard owns(address), let p = UnsafeMutableRawPointer(bitPattern: address) else { return nil }
    let pool = PoolRef(containing: p)
    guard let arena = arenas[pool.arenaIndex].address?.address else { return nil }
    let first = (arena + PymallocLayout.poolSizeMask) & ~PymallocLayout.poolSizeMask
    return (pool.arenaIndex, (pool.address - first) / PymallocLayout.poolSize, address - pool.address)
  }
}
