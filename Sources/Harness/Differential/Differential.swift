// Differential.swift — one program on the reference and on a real allocator, side by side (issue 11): each
// side runs under its own oracle with ``ExecutorConfig/observe`` on, then their observations are compared in
// order and the first pair that differs is the divergence, reported like a violation (an X rule, the op,
// both values). A side that breaks its own rule first is reported as that side's violation instead.
// Entry points: ``Differential/run(_:reference:peer:referenceOracle:peerOracle:runSeed:)`` and
// ``Differential/compare(_:_:peerName:)``. No state of its own.

import Oracle

/// What a differential run found.
public struct DifferentialVerdict: Sendable {
  public var reference: Verdict
  public var peer: Verdict
  public var peerName: String
  /// The first observation that differs, as a violation of its X rule.
  public var divergence: Violation?
  /// Observations compared (equal ones, plus the differing one).
  public var compared: Int

  /// The earliest problem: a divergence, or either side's own violation (at the same op, the own rule wins:
  /// it says more than "they differ").
  public var failure: (side: String, violation: Violation)? {
    var found: [(String, Violation)] = []
    if let v = reference.violation { found.append(("reference", v)) }
    if let v = peer.violation { found.append((peerName, v)) }
    if let d = divergence { found.append(("differential", d)) }
    return found.min { a, b in
      a.1.opIndex != b.1.opIndex ? a.1.opIndex < b.1.opIndex : (a.0 != "differential" && b.0 == "differential")
    }.map { (side: $0.0, violation: $0.1) }
  }
  public var passed: Bool { failure == nil }
}

public enum Differential {
  /// Runs `program` on `reference`, then on `peer` (each reset first, as ``Executor/run(_:on:config:)``
  /// does), and compares what they did.
  public static func run(_ program: Program, reference: AllocatorAdapter, peer: AllocatorAdapter,
                         referenceOracle: OracleConfig, peerOracle: OracleConfig, runSeed: UInt64 = 0) -> DifferentialVerdict {
    let r = Executor.run(program, on: reference, config: ExecutorConfig(oracle: referenceOracle, runSeed: runSeed, observe: true))
    let p = Executor.run(program, on: peer, config: ExecutorConfig(oracle: peerOracle, runSeed: runSeed, observe: true))
    let (divergence, compared) = compare(r.observations, p.observations, peerName: peer.name)
    return DifferentialVerdict(reference: r, peer: p, peerName: peer.name, divergence: divergence, compared: compared)
  }

  /// The first position where the two lists differ, as a violation of the reference observation's rule
  /// (both values in the detail); a list that ends early is no divergence (that side stopped on a violation
  /// of its own, which the verdict reports).
  public static func compare(_ a: [Observation], _ b: [Observation], peerName: String) -> (Violation?, compared: Int) {
    for k in 0..<min(a.count, b.count) where a[k] != b[k] {
      let x = a[k], y = b[k]
      guard x.rule == y.rule, x.opIndex == y.opIndex else {
        return (Violation(opIndex: min(x.opIndex, y.opIndex), x.rule,
                          "the reference observed \(x.rule) at op \(x.opIndex) (\(summary(x.value))) where \(peerName) observed \(y.rule) at op \(y.opIndex) (\(summary(y.value)))"), k + 1)
      }
      return (Violation(opIndex: x.opIndex, x.rule, difference(x.value, y.value, peerName: peerName)), k + 1)
    }
    return (nil, min(a.count, b.count))
  }

  /// "reference: … ; peer: …"; for multi-line values (the statistics text) only the first differing line.
  static func difference(_ a: String, _ b: String, peerName: String) -> String {
    guard a.contains("\n") || b.contains("\n") else { return "reference: \(a); \(peerName): \(b)" }
    let la = a.split(separator: "\n", omittingEmptySubsequences: false)
    let lb = b.split(separator: "\n", omittingEmptySubsequences: false)
    let k = (0..<min(la.count, lb.count)).first { la[$0] != lb[$0] } ?? min(la.count, lb.count)
    let line = { (l: [Substring]) in k < l.count ? "\"\(l[k])\"" : "(no line)" }
    return "line \(k + 1) of the text differs: reference \(line(la)); \(peerName) \(line(lb))"
  }

  static func summary(_ s: String) -> String { s.contains("\n") ? String(s.prefix { $0 != "\n" }) + " …" : s }
}
