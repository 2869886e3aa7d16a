// Verdict.swift — what one run of a program produces: the first violation (if any), the trace, and the
// numbers. Rendering for people lives in FailureReport.swift.

import Oracle

/// One executed op, for people.
public struct TraceLine: Sendable, Equatable {
  public var opIndex: Int
  /// The op in the text form (teardown frees are marked).
  public var text: String
  /// "→ 0x… pool class 3", "→ NULL", "ok".
  public var result: String
}

public struct Verdict: Sendable {
  public var violation: Violation?
  public var trace: [TraceLine]
  /// Ops executed, teardown frees included.
  public var opsExecuted: Int
  /// Domains family: every misuse op with its predicted and produced diagnostic (DomainsExecutor.swift).
  public var misuses: [MisuseComparison] = []
  /// With ``ExecutorConfig/observe``: the facts the differential compares, in op order.
  public var observations: [Observation] = []
  public var passed: Bool { violation == nil }
}
