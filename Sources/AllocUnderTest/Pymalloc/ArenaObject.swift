// ArenaObject.swift — the arena descriptor (struct arena_object) and its states.
// Descriptors live in a vector that starts at 16 entries and doubles; lists link them by index.
// Guarded by PM4/PM5/PM7 in ``Pymalloc/checkInvariants()``.
//
// States, one per paragraph:
//
// *unused*: `address == nil`. On the singly linked `unusedArenaObjects` list (via `nextArena`); every
// other field is meaningless. Invariant: a descriptor is on that list iff its address is nil.
//
// *usable*: `address != nil` and `nfreepools > 0`. On the doubly linked `usableArenas` list, which is
// sorted by `nfreepools` ascending; `nfp2lasta[k]` is the rightmost usable arena with k free pools.
//
// *full*: `address != nil` and `nfreepools == 0`. On no list; `nextArena`/`prevArena` are meaningless.
// Freeing a block that empties one of its pools moves it back to *usable* (Case 2 of insertToFreePool).

struct ArenaObject {
  /// Base returned by the page source; nil means "this descriptor has no arena".
  var address: UnsafeMutableRawPointer? = nil
  /// Next pool-aligned address never carved. Invariant: base ≤ poolAddress ≤ base + ARENA_SIZE.
  var poolAddress: UnsafeMutableRawPointer? = nil
  /// nfreepools == |freepools| + (pools not yet carved).
  var nfreepools = 0
  /// 64, or 63 when the base is not pool aligned.
  var ntotalpools = 0
  /// Singly linked (via nextpool) list of empty pools, LIFO.
  var freepools: PoolRef? = nil
  var nextArena: Int? = nil
  var prevArena: Int? = nil

  /// Bytes lost because the base is not pool aligned (0 or POOL_SIZE).
  var alignmentLoss: Int {
    guard let a = address else { return 0 }
    return a.address & PymallocLayout.poolSizeMask == 0 ? 0 : PymallocLayout.poolSize
  }
  /// First pool base of the arena.
  var firstPool: UnsafeMutableRawPointer? {
    guard let a = address else { return nil }
    let excess = a.address & PymallocLayout.poolSizeMask
    return excess == 0 ? a : a + (PymallocLayout.poolSize - excess)
  }
  /// How many pools have been carved (the walks index them with ``carvedPool(_:)``, allocating nothing).
  var carvedCount: Int {
    guard let first = firstPool, let end = poolAddress else { return 0 }
    return (end - first) / PymallocLayout.poolSize
  }
  /// The `k`-th carved pool. Precondition: 0 ≤ k < ``carvedCount``.
  func carvedPool(_ k: Int) -> PoolRef { PoolRef(firstPool! + k * PymallocLayout.poolSize) }
}
