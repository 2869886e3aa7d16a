// Program.swift — ``Program``, a straight-line list of ``Op``s over implicitly numbered blocks, and the
// queries that follow from the id rule: ``Program/allocationCount``, ``Program/definedID(at:)``,
// ``Program/liveRefs()``. Validity is checked by ``Program/validate()`` (Program+Validation.swift);
// removals that keep a program valid are in Program+Removal.swift; the live list shared by the binary
// decoder and encoder is `Program.LiveList` (Program+LiveList.swift).

/// A straight-line op program.
///
/// Id rule: the k-th allocating op (malloc, calloc, realloc; counting from 0) defines `p<k>`.
/// `free(pK)` and `realloc(pK, n)` consume pK. A program is *valid* iff every ref names an id that an
/// earlier op defined and that no earlier op consumed. Ids are implicit, so a valid program is always
/// canonically numbered: there is exactly one valid spelling of each program.
public struct Program: Hashable, Sendable {
  public var ops: [Op]

  public init(_ ops: [Op] = []) { self.ops = ops }

  /// Number of ids the program defines: the count of allocating ops.
  public var allocationCount: Int { ops.count(where: \.isAllocating) }

  /// The id defined by the op at `opIndex`, or nil when that op is a free.
  /// Precondition: `ops.indices.contains(opIndex)`.
  public func definedID(at opIndex: Int) -> BlockRef? {
    precondition(ops.indices.contains(opIndex), "op index \(opIndex) out of range 0..<\(ops.count)")
    guard ops[opIndex].isAllocating else { return nil }
    return BlockRef(ops[..<opIndex].count(where: \.isAllocating))
  }

  /// The index of the op that defines `ref`, or nil if the program defines fewer ids.
  public func definingOpIndex(of ref: BlockRef) -> Int? {
    guard ref.id >= 0 else { return nil }
    var next = 0
    for (index, op) in ops.enumerated() where op.isAllocating {
      if next == ref.id { return index }
      next += 1
    }
    return nil
  }

  /// The ids defined at each op index (nil for frees), computed in one pass.
  public var definedIDs: [BlockRef?] {
    var next = 0
    return ops.map { op in
      guard op.isAllocating else { return nil }
      defer { next += 1 }
      return BlockRef(next)
    }
  }

  /// Ids still unconsumed after the last op, in definition order: what a run must free at teardown.
  public func liveRefs() -> [BlockRef] {
    var consumed = Set<BlockRef>()
    for op in ops {
      if let used = op.usedRef { consumed.insert(used) }
    }
    return (0..<allocationCount).map(BlockRef.init(id:)).filter { !consumed.contains($0) }
  }
}
