// Canary.swift — the byte pattern the harness writes into every live block and checks later (rule O4).
// The pattern depends on the block's seed and the byte's position, so a realloc'd block keeps the same
// pattern for its prefix and the harness can extend it.

public enum Canary {
  /// Seed of the block a program names p<id>, derived from the run seed so different runs differ.
  public static func seed(forBlock id: Int, runSeed: UInt64) -> UInt64 {
    mix(runSeed &+ UInt64(truncatingIfNeeded: id) &* 0x9E37_79B9_7F4A_7C15)
  }

  /// Bytes [from, to) of the pattern for `seed`. No zero byte (``Pattern``), so calloc checks and canary
  /// checks cannot confuse each other.
  public static func bytes(seed: UInt64, from: Int = 0, to: Int) -> [UInt8] {
    guard to > from else { return [] }
    var out = [UInt8]()
    out.reserveCapacity(to - from)
    var i = from
    while i < to {
      // One word gives bytes 8k ..< 8k + 8 (little-endian); take the ones inside [from, to).
      let w = word(seed: seed, index: i / 8)
      let end = min(to, (i / 8 + 1) * 8)
      while i < end {
        out.append(UInt8(truncatingIfNeeded: w >> (8 * UInt64(i % 8))))
        i += 1
      }
    }
    return out
  }

  /// Bytes 8·index ..< 8·index + 8 of the pattern as one little-endian word (``Pattern/word(_:)``).
  @inlinable @inline(__always)
  public static func word(seed: UInt64, index: Int) -> UInt64 { Pattern(seed: seed).word(index) }

  /// One block's pattern: word k is (base XOR k·step) with the high bit of every byte set, base and step
  /// drawn from the block's seed by splitmix64 (step odd). No byte is ever zero, so calloc checks and canary
  /// checks cannot confuse each other, and a pointer or a zeroed word written into a block never matches.
  /// Two blocks differ in every word but by chance (2^-56), and a copy shifted by whole words does not match
  /// either. A word costs a multiply, so filling and checking run near memory speed, where hashing every
  /// word cost four times as much.
  public struct Pattern: Sendable {
    public let base: UInt64
    public let step: UInt64
    @inlinable @inline(__always)
    public init(seed: UInt64) {
      base = Canary.mix(seed)
      step = Canary.mix(seed ^ 0x5851_F42D_4C95_7F2D) | 1
    }
    @inlinable @inline(__always)
    public func word(_ index: Int) -> UInt64 {
      (base ^ (UInt64(truncatingIfNeeded: index) &* step)) | 0x8080_8080_8080_8080
    }
  }

  /// splitmix64 finaliser.
  @inlinable @inline(__always)
  public static func mix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
