// RuleBits.swift — a set of rules as one 64-bit word, for the executor's per-op "is this rule on?" tests:
// ``OracleConfig/rules`` is a `Set<RuleID>`, whose lookups hash the rule's name (a String) each time.

extension RuleID {
  /// The rule's bit in ``RuleBits`` (declaration order; the switch is exhaustive, so a new rule needs one).
  @inlinable
  public var ordinal: Int {
    switch self {
    case .alignment: 0
    case .nonOverlap: 1
    case .usableSize: 2
    case .canary: 3
    case .callocZeroed: 4
    case .reallocPrefix: 5
    case .reallocFreesOld: 6
    case .nilOnlyWhereAllowed: 7
    case .statsMatchModel: 8
    case .statsConsistent: 9
    case .memoryGivenBack: 10
    case .routing: 11
    case .ownershipKept: 12
    case .heapMembership: 13
    case .destroyFreesAll: 14
    case .deleteMovesToBacking: 15
    case .visitExact: 16
    case .remoteFreesReclaimed: 17
    case .noBlockLost: 18
    case .footprintBounded: 19
    case .diagnosticPredicted: 20
    case .hookLayout: 21
    case .freshFill: 22
    case .deadFill: 23
    case .serialBumped: 24
    case .contentKept: 25
    case .allocatorName: 26
    case .nullIffRefused: 27
    case .sameOutcome: 28
    case .samePlacement: 29
    case .sameArenas: 30
    case .sameStatistics: 31
    case .sameUsableSize: 32
    case .sameHeapWalk: 33
    case .sameDiagnostic: 34
    }
  }
}

/// The rules of a `Set<RuleID>` as bits: `contains` is one mask test.
public struct RuleBits: Sendable, Equatable {
  public let bits: UInt64

  public init(_ rules: Set<RuleID>) {
    bits = rules.reduce(0) { $0 | 1 << UInt64($1.ordinal) }
  }

  @inlinable
  public func contains(_ rule: RuleID) -> Bool { bits & (1 << UInt64(rule.ordinal)) != 0 }

}
