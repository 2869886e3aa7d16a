// BugHunt+Domains.swift — the hunt and the shrink of BugHunt.swift for the domains family, whose programs
// run on ``DomainsExecutor`` over a ``DomainsAdapter`` instead of an ``AllocatorAdapter``. Same seeds, same
// ``Finding``, same shrinker.

import Oracle

extension DomainsProgramGenerator: ProgramGenerating {
  public var family: String { "domains" }
  public var profileName: String? { profile.map { "\($0)" } }
}

extension BugHunt {
  /// Runs programs `indices` of the hunt from `seed` on `adapter`; returns the first whose violation `accept`s.
  public static func search(seed: UInt64, indices: Range<Int>, generator: some ProgramGenerating, domains adapter: DomainsAdapter,
                            oracle: OracleConfig, accept: (Violation) -> Bool = { _ in true },
                            progress: (Int, Int) -> Void = { _, _ in }) -> (seed: UInt64, program: Program, violation: Violation)? {
    for k in indices {
      let s = programSeed(seed, k)
      let program = generator.generate(seed: s)
      let verdict = DomainsExecutor.run(program, on: adapter, config: ExecutorConfig(oracle: oracle, runSeed: s, recordTrace: false))
      progress(k, verdict.opsExecuted)
      if let v = verdict.violation, accept(v) { return (s, program, v) }
    }
    return nil
  }

  /// Shrinks `program` while it still breaks `violation.rule` on `adapter`, then reruns it with a trace.
  public static func shrink(seed: UInt64, generator: some ProgramGenerating, program: Program, violation: Violation,
                            domains adapter: DomainsAdapter, oracle: OracleConfig, maxAttempts: Int = 2_000) -> Finding {
    let result = Shrinker.shrink(program, maxAttempts: maxAttempts) { candidate in
      let v = DomainsExecutor.run(candidate, on: adapter, config: ExecutorConfig(oracle: oracle, runSeed: seed, recordTrace: false))
      return v.violation?.rule == violation.rule
    }
    let final = DomainsExecutor.run(result.program, on: adapter, config: ExecutorConfig(oracle: oracle, runSeed: seed))
    return Finding(seed: seed, length: generator.length, family: generator.family, profile: generator.profileName,
                   program: program, violation: violation, shrunk: result.program, shrunkViolation: final.violation ?? violation,
                   shrinkAttempts: result.attempts, trace: final.trace)
  }
}
