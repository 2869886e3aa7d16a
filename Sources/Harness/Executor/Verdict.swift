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
  /// Every allocating op during which the platform layer injected a fault, in op order (FaultSweep.swift).
  public var faults: [FaultEvent] = []
  public var passed: Bool { violation == nil }
}

/// An allocating op during which an injected fault fired, and what the op returned.
public struct FaultEvent: Sendable, Equatable {
  public var opIndex: Int
  /// The op returned NULL.
  public var returnedNull: Bool
  /// The request belongs in a pool (1…512 bytes, not a realloc of a raw block): pymalloc falls back to the
  /// raw allocator when it cannot get an arena, so a single fault there must not surface as NULL.
  public var poolSized: Bool
  /// Domains family: the fault hit a misuse op's probe allocation; the run stopped there (nothing judged).
  public var inMisuse: Bool
  public init(opIndex: Int, returnedNull: Bool, poolSized: Bool, inMisuse: Bool = false) {
    self.opIndex = opIndex
    self.returnedNull = returnedNull
    self.poolSized = poolSized
    self.inMisuse = inMisuse
  }
}
