// DomainsProgramGenerator.swift — seeded generation of valid domains-family programs (issue 4): a
// configuration (any PYTHONMALLOC name, sometimes followed by `setup_debug_hooks()`), clean traffic through
// the three domains with sizes around pymalloc's 512-byte edge under the hooks' 32 extra bytes, realloc
// across that edge and to refused sizes, and — in the misuse profile — exactly one misuse of a chosen or
// random kind. Every op is checked by ``ProgramState`` before it is kept. Deterministic for a seed.

import AllocUnderTest

public struct DomainsProgramGenerator: Sendable {
  public enum Profile: CaseIterable, Sendable {
    /// Every configuration, clean calls only.
    case clean
    /// A hooked configuration, clean calls, and one misuse (of ``misuseKind``, or of a random kind).
    case misuse
    /// Sizes at the edges that matter to the domains: 0, the pool edge with and without hooks, refused
    /// sizes, and realloc across them (RAW realloc to 0 included).
    case edges
  }

  public var length: Int
  /// nil: each program picks a profile at random.
  public var profile: Profile?
  /// The misuse kind of the misuse profile (nil: random).
  public var misuseKind: Op.Kind?

  public init(length: Int, profile: Profile? = nil, misuseKind: Op.Kind? = nil) {
    self.length = length
    self.profile = profile
    self.misuseKind = misuseKind
  }

  /// The misuse kinds, in kind order.
  public static let misuseKinds: [Op.Kind] = Op.Kind.allCases.filter { $0.rawValue >= Op.Kind.writePastEnd.rawValue }

  /// Ordinary sizes: small, the hooked pool edge (480 + 32 = 512), the plain edge (512), larger.
  static let sizes: [UInt64] = [1, 8, 16, 24, 32, 100, 255, 479, 480, 481, 512, 513, 600, 1000, 4096, 70_000]
  /// Sizes the family allows that every allocator refuses (above PY_SSIZE_T_MAX, or no address space).
  static let refused: [UInt64] = [DomainSizes.refusedFrom, UInt64(Int.max) + 1]

  public func generate(seed: UInt64) -> Program {
    var rng = SeededRandom(seed: seed)
    let chosen = Profile.allCases.randomElement(using: &rng)!
    let p = profile ?? chosen
    var b = Builder(rng: rng)
    let hookedConfigs = DomainConfiguration.allCases.filter(\.hooked)
    b.add(.configure(p == .misuse ? hookedConfigs.randomElement(using: &b.rng)! : DomainConfiguration.allCases.randomElement(using: &b.rng)!))
    if b.chance(4) { b.add(.setupDebugHooks) }
    let misuseAt = p == .misuse ? Int.random(in: min(3, length / 2)...max(3, length / 2), using: &b.rng) : -1
    while b.ops.count < length {
      if b.ops.count >= misuseAt && misuseAt >= 0 && !b.misused {
        b.misuse(misuseKind ?? Self.misuseKinds.randomElement(using: &b.rng)!)
        continue
      }
      b.cleanOp(edges: p == .edges)
    }
    return Program(b.ops)
  }

  struct Builder {
    var rng: SeededRandom
    var ops: [Op] = []
    var state = ProgramState()
    var misused = false

    init(rng: SeededRandom) { self.rng = rng }

    mutating func chance(_ oneIn: Int) -> Bool { Int.random(in: 0..<oneIn, using: &rng) == 0 }
    mutating func domain() -> PyMemDomain { PyMemDomain.allCases.randomElement(using: &rng)! }
    mutating func size(edges: Bool) -> UInt64 {
      if chance(edges ? 6 : 40) { return DomainsProgramGenerator.refused.randomElement(using: &rng)! }
      if chance(edges ? 4 : 20) { return 0 }
      return DomainsProgramGenerator.sizes.randomElement(using: &rng)!
    }

    /// Appends `op` if the checker accepts it; returns whether it did.
    @discardableResult
    mutating func add(_ op: DomainOp) -> Bool {
      do { try state.apply(.domain(op), at: ops.count) } catch { return false }
      ops.append(.domain(op))
      return true
    }

    var liveBlocks: [Int] { state.domains.blocks.keys.filter { state.isLive(block: $0) } }

    mutating func cleanOp(edges: Bool) {
      let live = liveBlocks
      let roll = Int.random(in: 0..<10, using: &rng)
      if live.isEmpty || roll < 4 {
        let d = domain()
        if chance(4) {
          add(.calloc(d, count: UInt64.random(in: 0...8, using: &rng), size: size(edges: edges) % 600))
        } else {
          add(.malloc(d, size: size(edges: edges)))
        }
      } else if roll < 7 {
        let id = live.randomElement(using: &rng)!
        add(.free(state.domains.blocks[id]!.domain, BlockRef(id)))
      } else {
        let id = live.randomElement(using: &rng)!
        let d = state.domains.blocks[id]!.domain
        let n = edges && d == .raw && chance(3) ? 0 : size(edges: edges)
        add(.realloc(d, BlockRef(id), size: n))
      }
    }

    /// One misuse of `kind` (after making a block for it if none is misusable), then the misused block's check.
    mutating func misuse(_ kind: Op.Kind) {
      misused = true
      if state.misusableBlocks.isEmpty || chance(2) || state.domains.blocks[state.misusableBlocks.last!]!.size == 0 {
        add(.malloc(domain(), size: DomainsProgramGenerator.sizes.randomElement(using: &rng)!))
      }
      let id = state.misusableBlocks.last!
      let facts = state.domains.blocks[id]!
      let ref = BlockRef(id)
      let byte = [0x00, 0x41, 0x78, 0xFD, 0xEE, facts.domain.apiID].randomElement(using: &rng)!
      let op: DomainOp
      switch kind {
      case .writePastEnd: op = .writePastEnd(ref, count: UInt8.random(in: 1...8, using: &rng), byte: byte)
      case .writeBeforeStart: op = .writeBeforeStart(ref, count: [1, 3, 7, 8, 9, 16].randomElement(using: &rng)!, byte: byte)
      case .writeAfterFree: op = .writeAfterFree(ref, offset: UInt64.random(in: 0..<max(facts.size, 1), using: &rng), byte: byte)
      case .doubleFree: op = .doubleFree(ref)
      case .freeWrongDomain:
        let others = PyMemDomain.allCases.filter { $0 != facts.domain && state.domains.sameBacking($0, facts.domain) }
        // Under pymalloc-backed names RAW has no partner: misuse a MEM/OBJ block instead.
        if others.isEmpty {
          add(.malloc(.mem, size: 16))
          let partner = state.misusableBlocks.last!
          op = .freeWrongDomain(BlockRef(partner), .obj)
        } else {
          op = .freeWrongDomain(ref, others.randomElement(using: &rng)!)
        }
      case .freeForeign: op = .freeForeign(domain())
      case .reallocFreed: op = .reallocFreed(ref, size: DomainsProgramGenerator.sizes.randomElement(using: &rng)!)
      case .mallocWithoutGIL: op = .mallocWithoutGIL(domain(), size: DomainsProgramGenerator.sizes.randomElement(using: &rng)!)
      default: preconditionFailure("\(kind.name) is not a misuse kind")
      }
      add(op)
      // A write misuse is noticed (or not) by the block's next free or realloc: make it soon.
      if kind == .writePastEnd || kind == .writeBeforeStart {
        if chance(3) { add(.realloc(facts.domain, ref, size: DomainsProgramGenerator.sizes.randomElement(using: &rng)!)) }
        else { add(.free(facts.domain, ref)) }
      }
    }
  }
}
