// UsedPools.swift — the `usedpools` table: per size class, a circular doubly linked list of the
// partially used pools, with a phantom head. Owns list insertion/removal of used pools.
// Guarded by PM3 in ``Pymalloc/checkInvariants()``.
//
// As in obmalloc.c, each class owns only two pointer slots: the head of class c is a fake pool header
// placed so that its nextpool/prevpool fields (offsets 16 and 24) alias slots 2c and 2c+1. Reading the
// head's `nextpool` gives the first used pool, or the head itself when the class has none.

struct UsedPools {
  /// Two spare words in front so that the phantom header of class 0 stays inside the allocation.
  private let storage: UnsafeMutableRawPointer
  private static let slotCount = 2 + 2 * PymallocLayout.sizeClassCount

  init() {
    storage = UnsafeMutableRawPointer.allocate(
      byteCount: Self.slotCount * 8, alignment: PymallocLayout.alignment)
    reset()
  }

  func deallocate() { storage.deallocate() }

  /// Empties every class list (each head points at itself).
  func reset() {
    for c in 0..<PymallocLayout.sizeClassCount {
      let h = head(c)
      h.nextpool = h
      h.prevpool = h
    }
  }

  /// The phantom head of class `c`; its address is 16 bytes before slot 2c.
  func head(_ c: Int) -> PoolRef { PoolRef(storage + 16 * c) }

  /// First used pool of class `c`, or nil when the list is empty (`pool == pool->nextpool`).
  func first(_ c: Int) -> PoolRef? {
    let h = head(c)
    let p = h.nextpool!
    return p == h ? nil : p
  }

  /// Links `pool` at the front of class `c` (both for a new pool and for a full pool getting a block back).
  func linkAtFront(_ pool: PoolRef, class c: Int) {
    let h = head(c)
    let next = h.nextpool!
    pool.nextpool = next
    pool.prevpool = h
    next.prevpool = pool
    h.nextpool = pool
  }

  /// Unlinks `pool` from whatever used list it is on.
  static func unlink(_ pool: PoolRef) {
    let next = pool.nextpool!
    let prev = pool.prevpool!
    next.prevpool = prev
    prev.nextpool = next
  }
}
