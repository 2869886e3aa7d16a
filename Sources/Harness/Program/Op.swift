// Op.swift — one step of an op program: ``Op`` (malloc, calloc, realloc, free) and ``BlockRef``, the
// implicit name `p<id>` of the block an allocating op returned. Owns the per-op facts every other
// program file relies on: ``Op/isAllocating``, ``Op/usedRef``, the numeric fields (``Op/fields``), and
// ``Op/mappingRef(_:)`` for renumbering. Whole-program rules (which ids exist, which are consumed) live
// in ``Program`` and `Program+Validation.swift`.

/// The name of a block returned by an allocating op. Ids are implicit: the k-th allocating op of a
/// program (counting from 0) defines `p<k>`. Prints as `p<id>`.
public struct BlockRef: Hashable, Sendable, Comparable, CustomStringConvertible {
  public var id: Int

  public init(id: Int) { self.id = id }
  public init(_ id: Int) { self.id = id }

  public static func < (lhs: BlockRef, rhs: BlockRef) -> Bool { lhs.id < rhs.id }

  public var description: String { "p\(id)" }
}

/// One allocator call. `malloc`, `calloc` and `realloc` are *allocating*: each defines the next id.
/// `free(pK)` and `realloc(pK, n)` *consume* pK; a `nil` ref is the NULL pointer, which consumes nothing.
public enum Op: Hashable, Sendable {
  case malloc(size: UInt64)
  case calloc(count: UInt64, size: UInt64)
  case realloc(BlockRef?, size: UInt64)
  case free(BlockRef?)

  /// The kind number used as the low two bits of a tag byte in the binary format.
  public enum Kind: UInt8, Hashable, Sendable, CaseIterable {
    case malloc = 0, calloc = 1, realloc = 2, free = 3

    /// True iff ops of this kind define a new id.
    public var isAllocating: Bool { self != .free }

    /// The canonical name, as written in the text form.
    public var name: String {
      switch self {
      case .malloc: "malloc"
      case .calloc: "calloc"
      case .realloc: "realloc"
      case .free: "free"
      }
    }
  }

  public var kind: Kind {
    switch self {
    case .malloc: .malloc
    case .calloc: .calloc
    case .realloc: .realloc
    case .free: .free
    }
  }

  /// True iff the op defines a new id (malloc, calloc, realloc — realloc even from NULL).
  public var isAllocating: Bool { kind.isAllocating }

  /// The block this op reads and consumes, or nil for malloc, calloc and NULL refs.
  public var usedRef: BlockRef? {
    switch self {
    case .malloc, .calloc: nil
    case .realloc(let ref, _), .free(let ref): ref
    }
  }

  /// The numeric operands in source order: `[size]`, `[count, size]`, `[size]` or `[]`.
  public var fields: [UInt64] {
    switch self {
    case .malloc(let size): [size]
    case .calloc(let count, let size): [count, size]
    case .realloc(_, let size): [size]
    case .free: []
    }
  }

  /// The same op with numeric operand `index` (an index into ``fields``) replaced by `value`.
  public func replacingField(_ index: Int, with value: UInt64) -> Op {
    switch (self, index) {
    case (.malloc, 0): .malloc(size: value)
    case (.calloc(_, let size), 0): .calloc(count: value, size: size)
    case (.calloc(let count, _), 1): .calloc(count: count, size: value)
    case (.realloc(let ref, _), 0): .realloc(ref, size: value)
    default: preconditionFailure("op \(self) has no numeric field \(index)")
    }
  }

  /// The same op with its used ref passed through `transform` (used to renumber after a removal).
  public func mappingRef(_ transform: (BlockRef) -> BlockRef) -> Op {
    switch self {
    case .malloc, .calloc: self
    case .realloc(let ref, let size): .realloc(ref.map(transform), size: size)
    case .free(let ref): .free(ref.map(transform))
    }
  }
}
