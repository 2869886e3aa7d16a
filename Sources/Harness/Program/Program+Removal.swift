// Program+Removal.swift — deleting ops from a ``Program`` without breaking validity:
// ``Program/removingOps(at:)``, ``Program/removingAllocation(_:)`` and ``Program/repaired()``. All three
// replay the program through ``ProgramState``, drop every op that is no longer valid where it stands (an
// op using a block, thread or heap a dropped op defined; a heap op whose thread switch was removed; …),
// and renumber the survivors canonically, so any input gives a valid output. The ``Shrinker`` is built
// on them.

extension Program {
  /// Removes the ops at `indices`, then every op that became invalid (transitively: a removed
  /// `p5 = realloc(p2, n)` takes every later use of p5 with it). Survivors are renumbered canonically.
  /// Indices outside `ops.indices` are ignored.
  public func removingOps(at indices: some Collection<Int>) -> Program {
    repaired(dropping: Set(indices))
  }

  /// Removes the op that defines `ref` and, transitively, every op that depends on it. Returns `self`
  /// unchanged when the program does not define `ref`.
  public func removingAllocation(_ ref: BlockRef) -> Program {
    guard let index = definingOpIndex(of: ref) else { return self }
    return removingOps(at: CollectionOfOne(index))
  }

  /// The program with every invalid op dropped (see the file comment); a valid program is returned unchanged.
  public func repaired() -> Program { repaired(dropping: []) }

  /// Subtle: ids are implicit, so every op that *would* define an id advances the old counters whether it
  /// is kept or not; only kept ones get a new id, and a ref whose old id has no new one drops its op.
  private func repaired(dropping removed: Set<Int>) -> Program {
    var state = ProgramState()
    var blocks: [Int: Int] = [:], threads: [Int: Int] = [0: 0], heaps: [Int: Int] = [:]
    var oldBlock = 0, oldThread = 1, oldHeap = 0
    var kept: [Op] = []
    kept.reserveCapacity(ops.count)
    for (index, op) in ops.enumerated() {
      defer {
        if op.isAllocating { oldBlock += 1 }
        if op.definesThread { oldThread += 1 }
        if op.definesHeap { oldHeap += 1 }
      }
      guard !removed.contains(index),
        let renamed = op.renaming(block: { blocks[$0.id].map { BlockRef($0) } }, thread: { threads[$0.id].map(ThreadRef.init) },
                                  heap: { heaps[$0] })
      else { continue }
      do { try state.apply(renamed, at: kept.count) } catch { continue }
      if op.isAllocating { blocks[oldBlock] = state.blocksDefined - 1 }
      if op.definesThread { threads[oldThread] = state.threadAlive.count - 1 }
      if op.definesHeap { heaps[oldHeap] = state.heapOwner.count - 1 }
      kept.append(renamed)
    }
    return Program(kept)
  }
}
