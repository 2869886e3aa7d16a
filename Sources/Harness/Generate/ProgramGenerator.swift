// ProgramGenerator.swift — seeded generation of valid pymalloc-family programs, shaped to reach the
// interesting states: size profiles biased to class boundaries, and alloc-heavy / free-heavy phases so
// pools fill and empty and arenas are created, sorted and released. Deterministic for a seed.

public struct ProgramGenerator: Sendable {
  /// How request sizes are drawn.
  public enum SizeProfile: CaseIterable, Sendable {
    /// Class boundaries and the other table values of the binary format.
    case boundaries
    /// Uniform in 1...512.
    case smallUniform
    /// One or two classes only: fills pools and arenas fast.
    case fewClasses
    /// Mostly small, sometimes 0, > 512 or impossible.
    case mixed
    /// 385…512 bytes (31–42 blocks a pool), filling first and emptying last: several arenas are mapped,
    /// re-sorted and released in one program of a few thousand ops.
    case arenaChurn
  }

  public var length: Int
  /// nil: each program picks a profile at random.
  public var profile: SizeProfile?
  public init(length: Int, profile: SizeProfile? = nil) {
    self.length = length
    self.profile = profile
  }

  /// The program for `seed` (the same seed always gives the same program).
  public func generate(seed: UInt64) -> Program {
    var rng = SeededRandom(seed: seed)
    return generate(&rng)
  }

  public func generate(_ rng: inout SeededRandom) -> Program {
    let chosen = SizeProfile.allCases.randomElement(using: &rng)!
    let profile = self.profile ?? chosen
    let classes = [Int.random(in: 0..<32, using: &rng), Int.random(in: 0..<32, using: &rng)]
    var live: [Int] = []
    var nextID = 0
    var ops: [Op] = []
    // Phases of 1/8 of the program: each phase picks how likely an allocation is.
    var pAlloc = 0.6
    func size(_ rng: inout SeededRandom) -> UInt64 {
      switch profile {
      case .boundaries: return SizeTable.pymallocV1.randomElement(using: &rng)!
      case .smallUniform: return UInt64.random(in: 1...512, using: &rng)
      case .fewClasses:
        let c = UInt64(classes.randomElement(using: &rng)!)
        return UInt64.random(in: (c * 16 + 1)...(c * 16 + 16), using: &rng)
      case .mixed:
        let r = Int.random(in: 0..<100, using: &rng)
        if r < 85 { return UInt64.random(in: 1...512, using: &rng) }
        if r < 97 { return [0, 513, 1000, 4096, 70_000].randomElement(using: &rng)! }
        return [UInt64(Int.max) + 1, UInt64.max, 1 << 50].randomElement(using: &rng)!
      case .arenaChurn: return UInt64.random(in: 385...512, using: &rng)
      }
    }
    let phase = max(1, length / 8)
    for k in 0..<length {
      if k % phase == 0 { pAlloc = [0.9, 0.75, 0.55, 0.35, 0.15].randomElement(using: &rng)! }
      if profile == .arenaChurn { pAlloc = k < length * 11 / 20 ? 0.97 : 0.06 }
      let r = Double.random(in: 0..<1, using: &rng)
      if live.isEmpty || r < pAlloc {
        let kind = Int.random(in: 0..<10, using: &rng)
        if kind < 7 || live.isEmpty && kind < 9 {
          ops.append(.malloc(size: size(&rng)))
        } else if kind < 9 {
          let s = size(&rng)
          let c = UInt64.random(in: 1...4, using: &rng)
          ops.append(.calloc(count: c, size: max(1, s / c)))
        } else {
          ops.append(.realloc(nil, size: size(&rng)))
        }
        live.append(nextID); nextID += 1
      } else {
        // arenaChurn frees mostly the oldest blocks, so whole arenas empty out (in a jittered order).
        let window = profile == .arenaChurn ? min(live.count, 48) : live.count
        let i = Int.random(in: 0..<window, using: &rng)
        let ref = BlockRef(id: live.remove(at: i))
        if Int.random(in: 0..<5, using: &rng) == 0 {
          ops.append(.realloc(ref, size: size(&rng)))
          live.append(nextID); nextID += 1
        } else {
          ops.append(.free(ref))
        }
      }
    }
    return Program(ops)
  }
}
