// Program+Removal.swift — deleting ops from a ``Program`` without breaking the id rule:
// ``Program/removingOps(at:)`` and ``Program/removingAllocation(_:)``. Both drop the transitive closure of
// dependents of every id they remove and renumber the rest canonically, so a valid input gives a valid
// output. The ``Shrinker`` is built on them.

extension Program {
  /// Removes the ops at `indices`, plus every op that uses an id defined by a removed op (transitively:
  /// a removed `p5 = realloc(p2, n)` takes every later use of p5 with it). The survivors are
  /// renumbered canonically.
  ///
  /// Removing a consumer (a free or realloc) only makes its ref live for longer, so the result is valid
  /// whenever `self` is. Indices outside `ops.indices` are ignored.
  ///
  /// Subtle: dependents always come after the op they depend on, so one forward pass that marks the ids
  /// of every dropped allocating op as dead finds the whole closure.
  public func removingOps(at indices: some Collection<Int>) -> Program {
    let removed = Set(indices)
    var dead = Set<Int>()  // old ids defined by dropped ops
    var renamed: [Int: Int] = [:]  // old id -> new id, for kept allocating ops
    var oldID = 0
    var kept: [Op] = []
    kept.reserveCapacity(ops.count)
    for (index, op) in ops.enumerated() {
      let usesDead = op.usedRef.map { dead.contains($0.id) || renamed[$0.id] == nil } ?? false
      if removed.contains(index) || usesDead {
        if op.isAllocating { dead.insert(oldID) }
      } else {
        kept.append(op.mappingRef { BlockRef(renamed[$0.id]!) })
        if op.isAllocating { renamed[oldID] = renamed.count }
      }
      if op.isAllocating { oldID += 1 }
    }
    return Program(kept)
  }

  /// Removes the op that defines `ref` and, transitively, every op that uses it or an id defined by
  /// such an op. Returns `self` unchanged when the program does not define `ref`.
  public func removingAllocation(_ ref: BlockRef) -> Program {
    guard let index = definingOpIndex(of: ref) else { return self }
    return removingOps(at: CollectionOfOne(index))
  }
}
