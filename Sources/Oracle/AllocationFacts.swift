// AllocationFacts.swift — what the executor observed about one malloc/calloc/realloc, handed to the
// allocation rules (O1 O2 O3 O8 O12). Plain values: the oracle never touches memory itself.

public struct AllocationFacts: Sendable, Equatable {
  public enum Kind: Sendable, Equatable {
    case malloc
    case calloc(count: UInt64, size: UInt64)
    /// `old` is the model block being resized, nil for realloc(NULL, n).
    case realloc(old: ModelBlock?)
  }
  public var opIndex: Int
  public var kind: Kind
  /// malloc/realloc: n; calloc: count × size (UInt64.max when it overflows 64 bits).
  public var requested: UInt64
  /// The result; nil for NULL.
  public var address: Int?
  /// What the allocator says it can use of the result.
  public var usable: Int?
  /// The pools own the result (pymalloc's address_in_range).
  public var servedSmall: Bool
  /// The platform layer injected a failure during this op.
  public var faultFired: Bool
  /// Aligned allocation: the alignment asked for.
  public var alignment: UInt64? = nil

  public init(opIndex: Int, kind: Kind, requested: UInt64, address: Int?, usable: Int?, servedSmall: Bool,
              faultFired: Bool) {
    self.opIndex = opIndex
    self.kind = kind
    self.requested = requested
    self.address = address
    self.usable = usable
    self.servedSmall = servedSmall
    self.faultFired = faultFired
  }

  /// Aligned allocation with an alignment that is not a power of two (NULL is the only answer).
  public var hasInvalidAlignment: Bool {
    guard let a = alignment else { return false }
    return a == 0 || a & (a &- 1) != 0
  }

  /// calloc whose count × size exceeds PY_SSIZE_T_MAX.
  public var isOverflowingCalloc: Bool {
    guard case .calloc(let c, let s) = kind else { return false }
    return s != 0 && c > UInt64(Int.max) / s
  }
}
