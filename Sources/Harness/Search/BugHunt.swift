// BugHunt.swift — generate seeded programs until one breaks a rule, then shrink it to a minimal program
// that breaks the same rule. Serves the property and quality suites and the `soak` command alike.
// Program k of a hunt with seed S uses seed `programSeed(S, k)`, so any one program replays on its own.

import Oracle

/// Something that turns a seed into a valid program of one family: ``ProgramGenerator`` (pymalloc) and
/// ``HeapsProgramGenerator`` (heaps).
public protocol ProgramGenerating: Sendable {
  var length: Int { get }
  /// The family name written in program texts and given to `--family`.
  var family: String { get }
  /// The profile given on the command line (`--profile`), nil when the seed picks one.
  var profileName: String? { get }
  func generate(seed: UInt64) -> Program
}

extension ProgramGenerator: ProgramGenerating {
  public var family: String { "pymalloc" }
  public var profileName: String? { profile.map { "\($0)" } }
}

extension HeapsProgramGenerator: ProgramGenerating {
  public var family: String { "heaps" }
  public var profileName: String? { profile.map { "\($0)" } }
}

/// A program that broke a rule, before and after shrinking.
public struct Finding: Sendable {
  /// The seed that generates `program` (also the canary run seed).
  public var seed: UInt64
  public var length: Int
  /// The program family ("pymalloc", "heaps").
  public var family: String
  public var profile: String?
  public var program: Program
  public var violation: Violation
  public var shrunk: Program
  public var shrunkViolation: Violation
  public var shrinkAttempts: Int
  public var trace: [TraceLine]
}

public enum BugHunt {
  /// Seed of program k of a hunt started from `seed`.
  public static func programSeed(_ seed: UInt64, _ k: Int) -> UInt64 { Canary.mix(seed ^ UInt64(k) &* 0xA24B_AED4_963E_E407) }

  /// Runs programs 0..<programs of the hunt from `seed`; returns the first whose violation `accept`s.
  /// `progress` is called after each program with (index, ops executed).
  public static func search(seed: UInt64, programs: Int, generator: some ProgramGenerating, adapter: AllocatorAdapter,
                            oracle: OracleConfig, accept: (Violation) -> Bool = { _ in true },
                            progress: (Int, Int) -> Void = { _, _ in }) -> (seed: UInt64, program: Program, violation: Violation)? {
    search(seed: seed, indices: 0..<programs, generator: generator, adapter: adapter, oracle: oracle, accept: accept,
           progress: progress)
  }

  /// Runs the programs with the given indices of the hunt from `seed` (a soak runs one index per call, so it
  /// can poll the clock and Ctrl-C between programs and still number them like one long hunt).
  public static func search(seed: UInt64, indices: Range<Int>, generator: some ProgramGenerating, adapter: AllocatorAdapter,
                            oracle: OracleConfig, accept: (Violation) -> Bool = { _ in true },
                            progress: (Int, Int) -> Void = { _, _ in }) -> (seed: UInt64, program: Program, violation: Violation)? {
    for k in indices {
      let s = programSeed(seed, k)
      let program = generator.generate(seed: s)
      let verdict = Executor.run(program, on: adapter, config: ExecutorConfig(oracle: oracle, runSeed: s, recordTrace: false))
      progress(k, verdict.opsExecuted)
      if let v = verdict.violation, accept(v) { return (s, program, v) }
    }
    return nil
  }

  /// Shrinks `program` while it still breaks `rule` (any op index), then reruns it with a trace.
  public static func shrink(seed: UInt64, generator: some ProgramGenerating, program: Program, violation: Violation,
                            adapter: AllocatorAdapter, oracle: OracleConfig, maxAttempts: Int = 2_000) -> Finding {
    let result = Shrinker.shrink(program, maxAttempts: maxAttempts) { candidate in
      let v = Executor.run(candidate, on: adapter, config: ExecutorConfig(oracle: oracle, runSeed: seed, recordTrace: false))
      return v.violation?.rule == violation.rule
    }
    let final = Executor.run(result.program, on: adapter, config: ExecutorConfig(oracle: oracle, runSeed: seed))
    return Finding(seed: seed, length: generator.length, family: generator.family, profile: generator.profileName,
                   program: program, violation: violation,
                   shrunk: result.program, shrunkViolation: final.violation ?? violation,
                   shrinkAttempts: result.attempts, trace: final.trace)
  }
}
