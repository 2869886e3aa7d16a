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
      // One mix gives the 8 bytes of word i / 8; take the ones inside [from, to).
      let word = mix(seed &+ UInt64(i / 8))
      let end = min(to, (i / 8 + 1) * 8)
      while i < end {
        let v = UInt8(truncatingIfNeeded: word >> (8 * UInt64(i % 8)))
        out.append(v == 0 ? 0xA5 : v)
        i += 1
      }
    }
    return out
  }

  /// splitmix64 finaliser.
  public static func mix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
