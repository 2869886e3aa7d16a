// ShrinkSession.swift — shrinking a failing program in bounded time, for `soak` and `shrink`. Stage 1 runs
// ``Shrinker/shrink(_:maxAttempts:stillFails:)`` under an oracle that checks only the broken rule (O11
// alone runs ~20× faster than the full oracle; an invariant alone ~2.5×). Stage 2 confirms the result under
// the oracle that found the failure; if another rule fires first there, it shrinks the original again
// under that oracle. Both stages share one attempt budget and one deadline, print progress to stderr
// every ~5 s, and stop early on Ctrl-C (``Interrupt``), keeping the smallest failing program so far.

import Harness
import Oracle

struct ShrinkSession {
  let adapter: AllocatorAdapter
  let runSeed: UInt64
  /// The oracle the failure was found under; the result fails under it with the same rule.
  let oracle: OracleConfig
  let maxAttempts: Int
  let timeLimit: Duration

  struct Outcome {
    var program: Program
    /// The violation of `program` under ``ShrinkSession/oracle``.
    var violation: Violation
    var attempts: Int
    /// Why shrinking stopped before a fixed point, if it did ("time limit 3m", "Ctrl-C").
    var cutShort: String?
  }

  /// The oracle that checks only `rule`: an oracle rule alone, or one invariant id alone.
  static func focus(on rule: String, geometry: SmallObjectGeometry = .pymalloc) -> OracleConfig {
    var o: OracleConfig = RuleID(rawValue: rule).map { .only($0) } ?? .onlyInvariant(rule)
    o.geometry = geometry
    return o
  }

  func verdict(_ p: Program, _ o: OracleConfig) -> Verdict {
    Executor.run(p, on: adapter, config: ExecutorConfig(oracle: o, runSeed: runSeed, recordTrace: false))
  }

  /// Shrinks `program`, which breaks `violation.rule` under ``oracle``.
  func shrink(_ program: Program, _ violation: Violation) -> Outcome {
    var budget = ShrinkBudget(limit: timeLimit, originalOps: program.ops.count)
    func stage(_ start: Program, _ o: OracleConfig) -> Program {
      Shrinker.shrink(start, maxAttempts: max(maxAttempts - budget.tried, 0)) { candidate in
        guard budget.allows() else { return false }
        let fails = verdict(candidate, o).violation?.rule == violation.rule
        budget.record(candidate, fails: fails)
        return fails
      }.program
    }
    let focused = Self.focus(on: violation.rule, geometry: oracle.geometry)
    let first = stage(program, focused)
    if let v = verdict(first, oracle).violation, v.rule == violation.rule {
      return Outcome(program: first, violation: v, attempts: budget.tried, cutShort: budget.cutShort)
    }
    Console.err("shrinking: under all checks the focused result stops elsewhere; shrinking again under all checks")
    let second = stage(program, oracle)
    let v = verdict(second, oracle).violation ?? violation
    return Outcome(program: second, violation: v, attempts: budget.tried, cutShort: budget.cutShort)
  }
}

/// The time limit, Ctrl-C and progress line of one shrink (``ShrinkSession``, `diff`). Past the limit or after
/// Ctrl-C every further candidate is to count as passing, so the shrinker ends at once with the smallest
/// failing program so far.
struct ShrinkBudget {
  let limit: Duration
  let originalOps: Int
  private let clock = ContinuousClock()
  private let began: ContinuousClock.Instant
  private var lastProgress: ContinuousClock.Instant
  /// Candidates run so far.
  private(set) var tried = 0
  private(set) var smallest: Int
  /// Why shrinking stopped before a fixed point, if it did ("time limit 3m", "Ctrl-C").
  private(set) var cutShort: String?

  init(limit: Duration, originalOps: Int) {
    self.limit = limit
    self.originalOps = originalOps
    began = clock.now
    lastProgress = began
    smallest = originalOps
  }

  /// Whether another candidate may run; false, with ``cutShort`` set, past the limit or after Ctrl-C.
  mutating func allows() -> Bool {
    if Interrupt.requested { cutShort = "Ctrl-C" }
    if clock.now - began > limit { cutShort = "time limit \(CLISupport.spell(limit))" }
    return cutShort == nil
  }

  /// Counts one candidate run; prints progress to stderr every ~5 s.
  mutating func record(_ candidate: Program, fails: Bool) {
    tried += 1
    if fails { smallest = min(smallest, candidate.ops.count) }
    guard clock.now - lastProgress >= .seconds(5) else { return }
    lastProgress = clock.now
    Console.err("shrinking: \(originalOps) → \(smallest) ops, \(tried) attempts, "
                + "\(CLISupport.spell(.seconds(Int64((lastProgress - began).seconds)))) (limit \(CLISupport.spell(limit)))")
  }
}
