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
    let clock = ContinuousClock()
    let began = clock.now
    var lastProgress = began
    var attempts = 0
    var smallest = program.ops.count
    var cutShort: String?
    func stage(_ start: Program, _ o: OracleConfig) -> Program {
      Shrinker.shrink(start, maxAttempts: max(maxAttempts - attempts, 0)) { candidate in
        // Out of time or interrupted: every further candidate "passes", so the shrinker ends at once.
        if Interrupt.requested { cutShort = "Ctrl-C"; return false }
        if clock.now - began > timeLimit { cutShort = "time limit \(CLISupport.spell(timeLimit))"; return false }
        attempts += 1
        let fails = verdict(candidate, o).violation?.rule == violation.rule
        if fails { smallest = min(smallest, candidate.ops.count) }
        if clock.now - lastProgress >= .seconds(5) {
          lastProgress = clock.now
          Console.err("shrinking: \(program.ops.count) → \(smallest) ops, \(attempts) attempts, "
                      + "\(CLISupport.spell(.seconds(Int64((lastProgress - began).seconds)))) (limit \(CLISupport.spell(timeLimit)))")
        }
        return fails
      }.program
    }
    let focused = Self.focus(on: violation.rule, geometry: oracle.geometry)
    let first = stage(program, focused)
    if let v = verdict(first, oracle).violation, v.rule == violation.rule {
      return Outcome(program: first, violation: v, attempts: attempts, cutShort: cutShort)
    }
    Console.err("shrinking: under all checks the focused result stops elsewhere; shrinking again under all checks")
    let second = stage(program, oracle)
    let v = verdict(second, oracle).violation ?? violation
    return Outcome(program: second, violation: v, attempts: attempts, cutShort: cutShort)
  }
}
