// DifferentialAdapter.swift — a ``DifferentialPair`` dressed as an ``AllocatorAdapter``, so every tool that
// runs a program on an adapter (the fuzz targets, `repro`, `minimize`, crash triage) runs the differential
// instead: ``Executor/run(_:on:config:)`` hands it to ``DifferentialAdapter/run(_:config:)``, whose verdict's
// violation is the first divergence or either side's own violation (its detail names the side). Its own
// malloc … free are the reference side's, for tools that only poke at an adapter.

import AllocUnderTest
import Oracle

public final class DifferentialAdapter: AllocatorAdapter {
  public let pair: DifferentialPair
  private let reference: AllocatorAdapter

  public init(_ pair: DifferentialPair, reference: AllocatorAdapter) {
    self.pair = pair
    self.reference = reference
  }

  public var name: String { "\(pair.family.rawValue)-diff(\(pair.peerName))" }

  /// Runs `program` on both sides; the verdict carries the reference side's trace and op count.
  public func run(_ program: Program, config: ExecutorConfig) -> Verdict {
    let d = pair.run(program, runSeed: config.runSeed)
    var v = d.reference
    v.violation = d.failure.map { f in
      f.side == "differential" ? f.violation
        : Violation(opIndex: f.violation.opIndex, rule: f.violation.rule, detail: "(\(f.side) side) \(f.violation.detail)")
    }
    return v
  }

  public func malloc(_ n: UInt64) -> Int? { reference.malloc(n) }
  public func calloc(_ c: UInt64, _ s: UInt64) -> Int? { reference.calloc(c, s) }
  public func realloc(_ a: Int?, _ n: UInt64) -> Int? { reference.realloc(a, n) }
  public func free(_ a: Int?) { reference.free(a) }
  public func usableSize(_ a: Int) -> Int { reference.usableSize(a) }
  public func ownsSmall(_ a: Int) -> Bool { reference.ownsSmall(a) }
  public func isAllocated(_ a: Int) -> Bool? { reference.isAllocated(a) }
  public var injectedFaults: Int { reference.injectedFaults }
  public func snapshot() -> StatsSnapshot? { reference.snapshot() }
  public func statsText() -> String? { reference.statsText() }
  public func checkInvariants() -> [(id: String, detail: String)] { reference.checkInvariants() }
  public var mappedBytes: Int { reference.mappedBytes }
  public func reset() { reference.reset() }
}

extension PymallocDifferential {
  /// This pair as an adapter (its malloc … free are the reference side's).
  public var adapter: DifferentialAdapter { DifferentialAdapter(self, reference: reference) }
}
