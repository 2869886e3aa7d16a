// CrashTriage.swift — what a saved fuzz input means, found by running it through the normal executor
// (no sanitizer): its verdict, and a ``CrashSignature`` (rule id + the kind of the op it broke at) by
// which `alloc-check fuzz` and `report` de-duplicate crashes.

import Harness
import Oracle

/// Crashes with the same signature are taken to be the same bug.
public struct CrashSignature: Hashable, Sendable, Codable, CustomStringConvertible {
  public var rule: String
  /// `malloc`, `calloc`, `realloc`, `free`, `teardown free`; `none` when the input passes (a timeout or OOM,
  /// or a crash only the sanitizer saw).
  public var opKind: String
  public var description: String { "\(rule) at \(opKind)" }

  public init(rule: String, opKind: String) {
    self.rule = rule
    self.opKind = opKind
  }
}

public struct CrashVerdict: Sendable {
  public var program: Program
  public var violation: Violation?
  public var signature: CrashSignature
  /// The one-line reason, as the fuzz binary traps with it.
  public var line: String
}

public enum CrashTriage {
  /// Runs `bytes` of `target` on `adapter` (made with the run's bugs).
  public static func triage(_ target: FuzzTarget, _ bytes: [UInt8], on adapter: AllocatorAdapter) -> CrashVerdict {
    let program = target.decode(bytes)
    let violation: Violation?
    let passLine: String
    var suffix = ""
    if let (schedule, run) = target.runScheduled(bytes, on: adapter) {
      violation = run.violation
      passLine = "passes under schedule \(schedule) (\(run.steps) steps)"
      suffix = " [schedule \(schedule)]"
    } else {
      let verdict = Executor.run(program, on: adapter, config: ExecutorConfig(oracle: target.oracle, recordTrace: false))
      violation = verdict.violation
      passLine = "passes under the executor (\(verdict.opsExecuted) ops)"
    }
    guard let v = violation else {
      return CrashVerdict(program: program, violation: nil, signature: CrashSignature(rule: "pass", opKind: "none"), line: passLine)
    }
    let kind = v.opIndex < program.ops.count ? program.ops[v.opIndex].kind.name : "teardown free"
    return CrashVerdict(program: program, violation: v, signature: CrashSignature(rule: v.rule, opKind: kind),
                        line: target.trapMessage(v, program: program) + suffix)
  }
}
