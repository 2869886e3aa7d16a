// SmallObjectGeometry.swift — the oracle's own, independent statement of pymalloc's size classes (written
// from the spec, not imported from AllocUnderTest, so a wrong constant there cannot hide itself here).

/// Size classes and pool/arena sizes of 64-bit pymalloc, as the model expects them.
public struct SmallObjectGeometry: Sendable, Equatable {
  public var alignment = 16
  public var smallThreshold = 512
  public var poolSize = 16_384
  public var poolOverhead = 48
  public var arenaSize = 1_048_576
  public var classCount: Int { smallThreshold / alignment }

  /// Alignment owed to requests of at most 8 bytes: pymalloc 16 (its smallest class is 16 bytes),
  /// mimalloc 8 (its bin 1 holds 8-byte blocks; `MI_MAX_ALIGN_SIZE` applies from 9 bytes up).
  public var tinyAlignment = 16

  public init() {}
  public static let pymalloc = SmallObjectGeometry()
  /// mimalloc 2.1.2, 64-bit release: only the alignment facts matter (the pool fields are pymalloc's and
  /// the rules that use them are off in the heaps family).
  public static let mimalloc: SmallObjectGeometry = {
    var g = SmallObjectGeometry()
    g.tinyAlignment = 8
    return g
  }()

  /// The alignment every result for an n-byte request must have.
  public func requiredAlignment(_ n: UInt64) -> Int { n <= 8 ? tinyAlignment : alignment }

  /// Is a request of n bytes one that the pools serve?
  public func isSmall(_ n: UInt64) -> Bool { n >= 1 && n <= UInt64(smallThreshold) }
  public func sizeClass(_ n: UInt64) -> Int { Int((n - 1) / UInt64(alignment)) }
  public func blockSize(_ c: Int) -> Int { (c + 1) * alignment }
  public func blocksPerPool(_ c: Int) -> Int { (poolSize - poolOverhead) / blockSize(c) }
}
