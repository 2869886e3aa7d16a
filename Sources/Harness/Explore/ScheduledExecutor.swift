// ScheduledExecutor.swift — runs a ``ParallelProgram`` on the reference mimalloc under one ``Schedule`` of
// the controlled scheduler, and judges it (issue 14).
//
// The model while threads run: a block leaves the live set when the op freeing it *starts* (no one else
// may name it after that) and joins it when the op allocating it *returns*; every allocation result is
// checked against that set by the allocation rules (O8 O1 O3 O2: the same memory handed out twice shows
// as an overlap). Whole-allocator checks need a quiescent allocator, so they run once all threads are
// done: the invariant walks (MI1–MI7, MI3 from the transition log), every live block still owned (O13),
// then a teardown frees every live block from t0, settles every thread (quiescent, forced collects) and
// checks that no block is lost (H6) and the footprint is bounded (H7), and walks the invariants again.

import AllocUnderTest
import Oracle

/// The outcome of one scheduled run.
public struct ScheduledRun: Sendable {
  public var violation: Violation?
  /// Decisions taken (yield points reached, op boundaries included).
  public var steps: Int
  /// Where the picks differed from the default: the run's `switches:` form.
  public var switchPoints: [SwitchPoint]
  /// The run hit the step limit (a livelock; its violation says so).
  public var livelocked: Bool
  /// What happened, in order: op starts and results (addresses as offsets in their segment, so two runs
  /// compare equal whatever addresses the OS gave), then the checks.
  public var trace: [String]
  /// With ``ScheduledExecutor/recordsHistory``: the run's malloc, calloc, realloc and free ops as a history.
  public var history: [HistoryOp] = []
}

public final class ScheduledExecutor: @unchecked Sendable {
  // @unchecked: the adapter is driven by one thread at a time (the controlled scheduler's baton holder, or
  // the caller before and after the threads run).
  public let adapter: MimallocAdapter
  let rules = RuleBits(OracleConfig.heaps.rules)

  /// Linearizability (Harness/Linearize): malloc, calloc, realloc and free run through a
  /// ``HistoryRecorder`` and the run checks nothing itself (no allocation rule, no final check), so that the
  /// history's check stands alone; O13 still stops a free of a block whose page is gone.
  public var recordsHistory = false

  public init(bugs: Set<MimallocBug> = []) {
    adapter = MimallocAdapter(bugs: bugs)
  }

  /// Runs on `adapter` (reset before every run): the schedule fuzz target reuses one per process.
  public init(adapter: MimallocAdapter) {
    self.adapter = adapter
  }

  /// Runs `program` from a fresh allocator under `schedule`.
  public func run(_ program: ParallelProgram, schedule: Schedule) -> ScheduledRun {
    let picker: any Picker =
      switch schedule {
      case .random(let seed): RandomPicker(rng: SeededRandom(seed: seed))
      case .pct(let d, let k, let seed): PCTPicker(depth: d, steps: k, seed: seed, tasks: Array(program.tasks.indices))
      case .switches(let points): SwitchPicker(points: points)
      }
    return run(program, picker: picker, recordDecisions: false).result
  }

  /// The run and, when `recordDecisions`, every decision with its pick (for the exhaustive search).
  func run(_ program: ParallelProgram, picker: any Picker, recordDecisions: Bool) -> (result: ScheduledRun, decisions: [(Decision, Int)]) {
    adapter.reset()
    let state = RunState(tasks: program.tasks.count)
    let control = ControlledRun(tasks: program.tasks.count, picker: picker, recordDecisions: recordDecisions)
    let recorder = recordsHistory ? HistoryRecorder(program) : nil
    control.run { [self] task in
      for step in program.tasks[task] {
        control.opBoundary(task) { state.stopped || step.needs.allSatisfy { state.completed[$0.task] >= $0.count } }
        if state.stopped || control.livelocked { break }
        state.trace.append("t\(task) starts op \(step.index): \(ProgramText.renderLine(step.op, definedName: step.defines.map { "p\($0)" }))")
        let result = recorder.map { recorded(step, $0, state) } ?? perform(step, state)
        state.trace.append("t\(task) op \(step.index): \(result)")
        state.completed[task] += 1
      }
    }
    if control.livelocked {
      state.fail(Violation(opIndex: program.program.ops.count, rule: "livelock",
                           detail: "no progress after \(control.steps) steps: a thread spins for a state no thread will make"))
    } else if state.violation == nil && recorder == nil {
      finalChecks(end: program.program.ops.count, state)
    }
    if let v = state.violation { state.trace.append("violation: \(v)") }
    let result = ScheduledRun(violation: state.violation, steps: control.steps, switchPoints: control.switchPoints,
                              livelocked: control.livelocked, trace: state.trace, history: recorder?.history ?? [])
    return (result, control.decisions)
  }

  /// An op under ``recordsHistory``: the recorder runs malloc, calloc, realloc and free (after O13 for a
  /// free or realloc); the rest runs as usual.
  private func recorded(_ step: ParallelProgram.Step, _ recorder: HistoryRecorder, _ s: RunState) -> String {
    guard HistoryRecorder.records(step.op) else { return perform(step, s) }
    adapter.switchThread(step.thread)
    if let ref = step.op.usedRef, let a = recorder.address(ofBlock: ref.id), !adapter.ownsSmall(a),
       let v = ContentRules.ownershipKept(opIndex: step.index, ModelBlock(id: ref.id, address: a, requested: 0, canarySeed: 0, small: true),
                                          ownedNow: false) {
      s.fail(v)
      return "not run: \(v.rule)"
    }
    return recorder.perform(step, on: adapter)
  }

  /// Runs one op; returns its result for the trace.
  private func perform(_ step: ParallelProgram.Step, _ s: RunState) -> String {
    let t = step.thread
    adapter.switchThread(t)
    let mem = HeapIdentity.tagged(thread: t, tag: HeapTag.mem.rawValue)
    switch step.op {
    case .malloc(let n):
      return allocated(step, .malloc, n, adapter.malloc(n), home: mem, s)
    case .calloc(let c, let n):
      let (total, overflow) = c.multipliedReportingOverflow(by: n)
      return allocated(step, .calloc(count: c, size: n), overflow ? .max : total, adapter.calloc(c, n), home: mem, s)
    case .realloc(let ref, let n):
      let old = ref.flatMap { s.live.remove(id: $0.id) }
      if let old, let v = lostOwnership(step, old) { s.fail(v); return "not run: \(v.rule)" }
      let a = adapter.realloc(old?.address, n)
      if a == nil, let old { s.live.insert(old) }  // a failed realloc leaves the block alone
      // Resized in place, the block stays in its heap (a heap_destroy frees it there), as the executor models it.
      let home = old.map { $0.address == a } == true ? old!.home : mem
      return allocated(step, .realloc(old: old), n, a, home: home, s)
    case .free(let ref):
      let b = ref.flatMap { s.live.remove(id: $0.id) }
      if let b, let v = lostOwnership(step, b) { s.fail(v); return "not run: \(v.rule)" }
      adapter.free(b?.address)
    case .spawn:
      return "t\(adapter.spawnThread())"
    case .exitThread:
      adapter.exitThread()
      for b in s.live.all where b.home.map({ Self.belongs($0, toThread: t) }) ?? false { s.live.setHome(id: b.id, nil) }
    case .heapNew:
      return "h\(adapter.heapNew())"
    case .heapDestroy(let r):
      let doomed = s.live.all.filter { $0.home == r.identity(on: t) }
      adapter.heapDestroy(r.madeID!)
      for b in doomed { s.live.remove(id: b.id) }
    case .heapDelete(let r):
      let moved = s.live.all.filter { $0.home == r.identity(on: t) }
      adapter.heapDelete(r.madeID!)
      for b in moved { s.live.setHome(id: b.id, mem) }
    case .heapCollect(let r, let force):
      adapter.heapCollect(r, force: force)
    case .heapVisit(let r):
      return "\(adapter.heapVisit(r).count) blocks"
    case .heapMalloc(let r, let n):
      return allocated(step, .malloc, n, adapter.heapMalloc(r, n), home: r.identity(on: t), s)
    case .heapMallocAligned(let r, let n, let alignment):
      return allocated(step, .malloc, n, adapter.heapMallocAligned(r, n, alignment: alignment), home: r.identity(on: t), s,
                       alignment: alignment)
    case .collect(let force):
      adapter.collect(force: force)
    case .quiescent:
      adapter.quiescent()
    case .switchThread, .domain:
      preconditionFailure("ScheduledExecutor: \(step.op) is not run by a task")
    }
    return "done"
  }

  /// O13 before a block is freed or resized: a corrupted allocator may have given its page back already
  /// (a block counted free twice empties the page early); freeing it then would stop the process.
  private func lostOwnership(_ step: ParallelProgram.Step, _ b: ModelBlock) -> Violation? {
    ContentRules.ownershipKept(opIndex: step.index, b, ownedNow: adapter.ownsSmall(b.address))
  }

  private static func belongs(_ home: HeapIdentity, toThread t: Int) -> Bool {
    if case .tagged(let owner, _) = home { return owner == t }
    return false
  }

  private func allocated(_ step: ParallelProgram.Step, _ kind: AllocationFacts.Kind, _ requested: UInt64, _ address: Int?,
                         home: HeapIdentity?, _ s: RunState, alignment: UInt64? = nil) -> String {
    var facts = AllocationFacts(opIndex: step.index, kind: kind, requested: requested, address: address,
                                usable: address.map { adapter.usableSize($0) },
                                servedSmall: address.map { adapter.ownsSmall($0) } ?? false, faultFired: false)
    facts.alignment = alignment
    if s.violation == nil,
       let v = AllocationRules.result(facts, OracleConfig.heaps.geometry, rules: rules, overlapping: { a, n in
         s.live.overlapping(address: a, length: Int(clamping: n)).map { ($0.id, $0.address, $0.requested) }
       }) {
      s.fail(v)
    }
    let result = "p\(step.defines!) = \(address.map(Self.segmentOffset) ?? "NULL")"
    guard let a = address, requested <= UInt64(Int.max) else { return result }
    var block = ModelBlock(id: step.defines!, address: a, requested: requested, canarySeed: 0, small: facts.servedSmall)
    block.home = home
    block.aligned = alignment != nil
    if s.live[block.id] == nil { s.live.insert(block) }
    return result
  }

  /// An address as "segment offset", the same in every run of a schedule.
  static func segmentOffset(_ a: Int) -> String { "seg+" + String(a & ((1 << 25) - 1), radix: 16) }

  /// The quiescent checks after the threads: invariants, ownership, teardown, settle, invariants again.
  private func finalChecks(end: Int, _ s: RunState) {
    if invariantsFail(end, s, when: "after the threads") { return }
    for b in s.live.all {
      if let v = ContentRules.ownershipKept(opIndex: end, b, ownedNow: adapter.ownsSmall(b.address)) { return s.fail(v) }
    }
    adapter.switchThread(0)
    for b in s.live.all {
      adapter.free(b.address)
      s.live.remove(id: b.id)
    }
    s.trace.append("teardown: every live block freed from t0")
    if invariantsFail(end, s, when: "after the teardown") { return }
    adapter.settle()
    s.trace.append("settled: \(adapter.blocksInUse) blocks in use, \(adapter.segmentCount) segments")
    if let v = HeapRules.noBlockLost(opIndex: end, inUse: adapter.blocksInUse, live: 0, settled: true) { return s.fail(v) }
    if let v = HeapRules.footprintBounded(opIndex: end, segments: adapter.segmentCount, mappedBytes: adapter.mappedBytes) {
      return s.fail(v)
    }
    _ = invariantsFail(end, s, when: "after settling")
  }

  private func invariantsFail(_ end: Int, _ s: RunState, when: String) -> Bool {
    guard let first = adapter.checkInvariants().first else { return false }
    s.fail(Violation(opIndex: end, rule: first.id, detail: "\(first.detail) (\(when))"))
    return true
  }
}

/// What the tasks of one run share; touched only by the baton holder (or the starter, before and after).
final class RunState: @unchecked Sendable {
  var live = LiveBlocks()
  var completed: [Int]
  var violation: Violation? = nil
  /// Set by the first violation: no op starts after it (ops already running finish).
  var stopped = false
  var trace: [String] = []

  init(tasks: Int) { completed = Array(repeating: 0, count: tasks) }

  func fail(_ v: Violation) {
    guard violation == nil else { return }
    violation = v
    stopped = true
  }
}
