// SeededRandom.swift — the suite's one PRNG (xoshiro256**, seeded through splitmix64). Every random choice
// in generators, soak runs and quality searches comes from one of these, created from a printed seed.

import Oracle

public struct SeededRandom: RandomNumberGenerator, Sendable {
  private var s: (UInt64, UInt64, UInt64, UInt64)
  public let seed: UInt64

  public init(seed: UInt64) {
    self.seed = seed
    var x = seed
    func next() -> UInt64 { x &+= 0x9E37_79B9_7F4A_7C15; return Canary.mix(x &- 0x9E37_79B9_7F4A_7C15) }
    s = (next(), next(), next(), next())
    if s == (0, 0, 0, 0) { s.0 = 1 }
  }

  public mutating func next() -> UInt64 {
    let result = rotl(s.1 &* 5, 7) &* 9
    let t = s.1 << 17
    s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
    s.2 ^= t
    s.3 = rotl(s.3, 45)
    return result
  }

  private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

  /// A fresh seed from the system, for runs that were not given one (it is printed before use).
  public static func freshSeed() -> UInt64 { UInt64.random(in: 0...UInt64.max) }
}
