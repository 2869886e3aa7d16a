// OracleConfig.swift — which rules run and how often the expensive ones do. The quality suite turns on
// exactly one rule at a time to prove that rule alone catches its seeded bug.

public struct OracleConfig: Sendable, Equatable {
  /// Oracle rules in force.
  public var rules: Set<RuleID>
  /// Allocator invariant ids in force ("PM2"…); `nil` means all the allocator reports.
  public var invariants: Set<String>?
  /// Run the allocator's invariant walker after every this many ops (0 = never; the end always checks).
  public var invariantsEvery: Int
  /// Full canary sweep of every live block after every this many ops (32) — or, when more blocks are live,
  /// every live/8 ops, so a sweep costs O(1) block checks per op on average. Touched blocks and their
  /// address neighbours are checked after every op, and every block at the end of the program.
  public var sweepEvery: Int
  /// Compare statistics with the model after every this many ops.
  public var statsEvery: Int
  public var geometry: SmallObjectGeometry
  /// How `invariantsEvery` and `statsEvery` apply over a program: ``WalkCadence``.
  public var cadence: WalkCadence = .growing

  public init(rules: Set<RuleID> = Set(RuleID.allCases), invariants: Set<String>? = nil, invariantsEvery: Int = 1,
              sweepEvery: Int = 32, statsEvery: Int = 1, geometry: SmallObjectGeometry = .pymalloc) {
    self.rules = rules
    self.invariants = invariants
    self.invariantsEvery = invariantsEvery
    self.sweepEvery = sweepEvery
    self.statsEvery = statsEvery
    self.geometry = geometry
  }

  /// Every rule and invariant (the heap rules only act on heaps-family programs).
  public static let full = OracleConfig()
  /// The heaps family on mimalloc: every rule except pymalloc's pool statistics and routing, mimalloc's
  /// alignment facts, and every invariant.
  public static let heaps = OracleConfig(rules: Set(RuleID.allCases.filter { !$0.isPymallocOnly && !$0.isDomainRule }),
                                         geometry: .mimalloc)
  /// The domains family: the domain rules D1–D8 (the executor has no pool geometry or invariants there).
  public static let domains = OracleConfig(rules: Set(RuleID.allCases.filter(\.isDomainRule)), invariants: [],
                                           invariantsEvery: 0)
  /// Only `rule` (no invariants): proves the rule can fail on its own.
  public static func only(_ rule: RuleID) -> OracleConfig {
    OracleConfig(rules: [rule], invariants: [], invariantsEvery: 0)
  }
  /// Only the invariant `id` (no oracle rules).
  public static func onlyInvariant(_ id: String) -> OracleConfig {
    OracleConfig(rules: [], invariants: [id], invariantsEvery: 1)
  }

  /// Does the walk set to every `every` ops (invariants or statistics) run after op `i`?
  public func walks(every: Int, after i: Int) -> Bool {
    guard every > 0 else { return false }
    return (i + 1) % max(every, cadence.interval(after: i)) == 0
  }

  /// Is the full canary sweep (and the O13 pass over every live block) due after op `i`, `since` ops after
  /// the last one, with `live` blocks live? Every `sweepEvery` ops, or every live/8 ops when more blocks are
  /// live (O(1) block checks per op on average); on the growing cadence, from op 128 on at most 4 times per
  /// doubling of the program (the spacing is a quarter of the ops so far), so a long program pays O(log n)
  /// sweeps. Between sweeps every touched block and its address neighbours are checked.
  public func sweepDue(after i: Int, since: Int, live: Int) -> Bool {
    guard sweepEvery > 0 else { return false }
    let spacing = cadence == .fixed ? sweepEvery : max(sweepEvery, WalkCadence.doublingQuarter(after: i))
    return since >= max(spacing, live / 8)
  }

  public func wants(_ invariant: String) -> Bool { invariants?.contains(invariant) ?? true }
  public var anyInvariants: Bool { invariantsEvery > 0 && (invariants?.isEmpty != true) }
}

/// When the whole-allocator walks (invariants, statistics) run. Between walks, every op still checks what it
/// touched: its result, its block and address neighbours, and the allocator structures around it
/// (``AllocatorAdapter/checkInvariants(around:)``); every program and teardown ends with every walk.
public enum WalkCadence: Sendable, Equatable {
  /// After every `every` ops, however long the program.
  case fixed
  /// After every max(`every`, 4) ops for the first 16 ops, then at 4 evenly spaced ops per doubling of the
  /// program (after op i, i + 1 ≥ 16: every max(every, 2^⌊log2(i + 1)⌋ / 4) ops), so n ops cost O(log n)
  /// walks, each O(state), instead of n: the cost of the checks per op stays flat as programs grow. The local
  /// checks after every op see what the op changed, and a whole walk follows every op that changed more
  /// (mapping, structure epoch, thread and heap ops); the cadence walks are the backstop for what neither
  /// names. (Until issue 12's fourth round: every op for the first 15, then 8 per doubling — 32 walks in a
  /// 64-op fuzz input where there are now 12; CadenceTests shows every seeded invariant bug still caught at
  /// the op a walk after every op catches it.)
  case growing

  /// The spacing of walks around op `i` (1 = after every op).
  public func interval(after i: Int) -> Int {
    switch self {
    case .fixed: return 1
    case .growing:
      let top = Self.log2(i + 1)
      return top <= 3 ? 4 : 1 << (top - 2)
    }
  }

  /// A quarter of the doubling op `i` is in (2^⌊log2(i + 1)⌋ / 4, at least 1): the full canary sweep's
  /// spacing on the growing cadence, so at most 4 sweeps per doubling.
  public static func doublingQuarter(after i: Int) -> Int { max(1, (1 << log2(i + 1)) >> 2) }

  /// ⌊log2 n⌋ for n ≥ 1.
  static func log2(_ n: Int) -> Int { Int.bitWidth - 1 - n.leadingZeroBitCount }
}
