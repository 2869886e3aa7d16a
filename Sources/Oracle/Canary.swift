// Canary.swift — the byte pattern the harness writes into every live block and checks later (rule O4).
// The pattern depends on the block's seed and the byte's position, so a realloc'd block keeps the same
// pattern for its prefix and the harness can extend it.

public enum Canary {
  /// Seed of the block a program names p<id>, derived from the run seed so different runs differ.
  public static func seed(forBlock id: Int, runSeed: UInt64) -> UInt64 {
    mix(runSeed &+ UInt64(truncatingIfNeeded: id) &* 0x9E37_79B9_7F4A_7C15)
  }

  /// Bytes [from, to) of the pattern for `seed`. Never four zero bytes in a row, so calloc checks and
  /// canary checks cannot confuse each other.
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

  /// Bytes 8·index ..< 8·index + 8 of the pattern as one little-endian word: splitmix64 of seed + index with
  /// every zero byte replaced by 0xA5. The executor fills and checks blocks a word at a time with it.
  @inlinable @inline(__always)
  public static func word(seed: UInt64, index: Int) -> UInt64 {
    let x = mix(seed &+ UInt64(truncatingIfNeeded: index))
    // High bit of each byte of `zero` set exactly where x has a zero byte (no borrow between bytes).
    let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
    let zero = ~(((x & low7) &+ low7) | x | low7)
    let mask = (zero >> 7) &* 0xFF
    return x | (mask & 0xA5A5_A5A5_A5A5_A5A5)
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
