// Executor.swift — runs an op program against an ``AllocatorAdapter`` and the oracle, op by op, and stops
// at the first violation. One executor serves tests, fuzz targets and the command line.
// Per op: perform it, check the allocation rules on its result, check the touched block's contents, then
// ownership of every live pool block (O13, before any other byte is read) when memory was unmapped, the
// touched block's address neighbours (O4), the allocator invariants around the touched blocks, and on the
// oracle's cadence (``WalkCadence``) the whole-allocator walks: every invariant, statistics (O9–O11),
// every canary. At the end: every check, then (by default) a teardown that frees every block still held,
// checked the same way, so "memory given back" is judged on an empty program.

import Oracle

public struct ExecutorConfig: Sendable {
  public var oracle: OracleConfig
  /// Seeds the canary patterns; printed with every failure.
  public var runSeed: UInt64
  /// Free every still-live block after the program (ops numbered after the program's).
  public var teardown: Bool
  public var recordTrace: Bool
  /// Record the facts the differential compares (``Observation``); off except under ``Differential``.
  public var observe: Bool

  public init(oracle: OracleConfig = .full, runSeed: UInt64 = 0, teardown: Bool = true, recordTrace: Bool = true,
              observe: Bool = false) {
    self.oracle = oracle
    self.runSeed = runSeed
    self.teardown = teardown
    self.recordTrace = recordTrace
    self.observe = observe
  }
}

public struct Executor {
  let adapter: AllocatorAdapter
  /// The same adapter when it has threads and heaps (heaps family), else nil.
  let heaps: HeapsAdapter?
  let config: ExecutorConfig
  /// The program's static state (current thread, live threads and heaps); see ``ProgramState``.
  var statics = ProgramState()
  /// ``OracleConfig/rules`` as bits (set by `run`): the per-op rule tests hash nothing.
  var rules = RuleBits([])
  var live = LiveBlocks()
  var trace: [TraceLine] = []
  var observations: [Observation] = []
  /// The differential stopped comparing (heaps: a realloc of an aligned block, V6); see Executor+Observe.
  var observationsStopped = false
  /// Allocating ops during which a fault fired (rare: only under a fault plan).
  var faultEvents: [FaultEvent] = []
  var ops = 0

  /// Resets `adapter`, runs `program` on it and returns the verdict.
  ///
  /// Preconditions: `program` is valid, and uses heaps-family ops only if `adapter` is a ``HeapsAdapter``.
  /// A ``DomainsAdapter`` runs its (domains-family) program on ``DomainsExecutor`` instead.
  public static func run(_ program: Program, on adapter: AllocatorAdapter, config: ExecutorConfig = .init()) -> Verdict {
    if let domains = adapter as? DomainsAdapter { return DomainsExecutor.run(program, on: domains, config: config) }
    if let differential = adapter as? DifferentialAdapter { return differential.run(program, config: config) }
    precondition(!program.ops.contains { $0.kind.isDomainKind }, "a domains-family program runs on a DomainsAdapter")
    precondition(program.isPymallocFamily || adapter is HeapsAdapter,
                 "a heaps-family program needs an allocator with threads and heaps; \(adapter.name) has none")
    adapter.reset()
    var e = Executor(adapter: adapter, heaps: adapter as? HeapsAdapter, config: config)
    e.rules = RuleBits(config.oracle.rules)
    e.lastStructureEpoch = adapter.structureEpoch
    if e.heaps == nil, e.rules.contains(.statsMatchModel) { e.live.countClasses(config.oracle.geometry) }
    let violation = e.runAll(program)
    var verdict = Verdict(violation: violation, trace: e.trace, opsExecuted: e.ops)
    verdict.observations = e.observations
    verdict.faults = e.faultEvents
    return verdict
  }

  private mutating func runAll(_ program: Program) -> Violation? {
    var nextID = 0
    for (i, op) in program.ops.enumerated() {
      ops += 1
      var defined: Int? = nil
      if op.isAllocating {
        defined = nextID
        nextID += 1
      }
      let v = op.kind.isPymallocKind ? step(i, op, defines: defined) : heapStep(i, op, defines: defined)
      // The static state (current thread, heap owners) matters only to heaps-family ops; a pymalloc-family
      // program was validated where it was made (decoder, parser, generator), and its ops look up refs in
      // `live`, so replaying the checks per op here would only cost time (Set and Dictionary work per op).
      if heaps != nil {
        do { try statics.apply(op, at: i) } catch { preconditionFailure("Executor.run: invalid program: \(error)") }
      }
      if let v { return v }
      if let v = afterOp(i, touched: touchedAddress) { return v }
    }
    let end = program.ops.count
    // Every block at the end of the program (unless the cadence swept after the last op).
    if lastSweepAt != end - 1, let v = sweep(opIndex: max(end - 1, 0)) { return v }
    // Every walk at the end of the program, and again at the end of the teardown.
    if let v = finalChecks(opIndex: max(end - 1, 0)) { return v }
    guard config.teardown else { return nil }
    movedFrom = nil
    walkAfterOp = false
    let held = live.all.sorted(by: { $0.id < $1.id })
    for (k, b) in held.enumerated() {
      ops += 1
      let i = end + k
      if let v = freeBlock(i, b, teardown: true) { return v }
      if let v = afterOp(i, touched: b.address) { return v }
    }
    if heaps != nil, let v = settledChecks(opIndex: end + held.count) { return v }
    return finalChecks(opIndex: end + held.count)
  }

  private mutating func finalChecks(opIndex: Int) -> Violation? {
    if let v = invariants(opIndex) { return v }
    return statsRules(opIndex)
  }

  /// Address of the block the last op touched, for the neighbour check.
  var touchedAddress: Int? = nil
  /// Where a realloc moved its block from (that pool or page changed too), for the local invariants.
  var movedFrom: Int? = nil
  /// The last op changed structures no single address names (a heap destroyed, a thread exited, a
  /// collect): the invariants walk the whole allocator after it.
  var walkAfterOp = false
  /// Mapped bytes after the previous op; a drop triggers the ownership sweep.
  var lastMappedBytes = 0
  /// ``AllocatorAdapter/structureEpoch`` after the previous op; a change triggers the whole walk.
  var lastStructureEpoch: Int? = nil
  /// Ops since the last full canary sweep.
  var opsSinceSweep = 0
  /// The op after which the cadence last swept every block, if any.
  var lastSweepAt: Int? = nil
}
