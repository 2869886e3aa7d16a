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

  /// nil: an aligned request is owed the alignment it asked for. Set for libmimalloc 2.0.9
  /// (Documentation/MimallocVersions.md, row V1): `mi_heap_malloc_aligned(n, a)` with n a power of two and
  /// a ≤ n ≤ 1024 takes the plain small path, whose pages start 384 bytes in (v2.0.9 src/segment.c
  /// `_mi_segment_page_start_from_slice`), so such a request is owed only min(a, this).
  public var smallPowerOfTwoAlignedCap: Int? = nil
  /// Set for libmimalloc 2.0.9 (MimallocVersions.md, row V8): its aligned fast path tests alignment 0 with
  /// `_mi_is_power_of_two`, which is true for 0, so `mi_heap_malloc_aligned(h, n, 0)` with n 0 or a power of
  /// two up to 1024 returns a block (2.1.2 refuses alignment 0 first). O8 then does not require NULL there.
  public var acceptsZeroAlignmentForSmallPowerOfTwo = false

  /// Is this aligned request one the V8 fast path serves?
  public func servesZeroAlignment(size n: UInt64, alignment: UInt64?) -> Bool {
    acceptsZeroAlignmentForSmallPowerOfTwo && alignment == 0 && n <= 1024 && n & (n &- 1) == 0
  }

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

  /// The alignment an aligned request of n bytes asking for `asked` is owed.
  public func owedAlignment(asked: UInt64, size n: UInt64) -> Int {
    if let cap = smallPowerOfTwoAlignedCap, n <= 1024, n >= asked, n & (n &- 1) == 0 { return min(Int(asked), cap) }
    return Int(asked)
  }

  /// Is a request of n bytes one that the pools serve?
  public func isSmall(_ n: UInt64) -> Bool { n >= 1 && n <= UInt64(smallThreshold) }
  public func sizeClass(_ n: UInt64) -> Int { Int((n - 1) / UInt64(alignment)) }
  public func blockSize(_ c: Int) -> Int { (c + 1) * alignment }
  public func blocksPerPool(_ c: Int) -> Int { (poolSize - poolOverhead) / blockSize(c) }
}
