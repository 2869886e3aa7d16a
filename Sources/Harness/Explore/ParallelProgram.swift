// ParallelProgram.swift — a heaps-family program read as a parallel one (issue 14). Each logical thread
// runs its own ops in program order, on its own OS thread, under the controlled scheduler; ops of
// different threads run concurrently except where the program says they cannot:
//
// - data: an op that uses block pK (free, realloc) starts after the op that made pK has returned;
// - barriers: spawn, exit, heap_new, heap_destroy, heap_delete and heap_visit start after every earlier
//   op has returned, and every later op starts after them (they change what the other ops may name:
//   threads, heaps, a heap's blocks, or — heap_visit — ask for a stable heap).
//
// `thread(tK)` only says whose ops follow. A sequential program (one thread) is its own parallel reading;
// the executor's sequential run is one schedule of it (the one that runs ops in program order).

public struct ParallelProgram: Sendable {
  /// One op as a task runs it.
  public struct Step: Sendable {
    /// Index in the program.
    public var index: Int
    public var op: Op
    /// The logical thread (task) that runs it.
    public var thread: Int
    /// The block id the op defines, if it allocates.
    public var defines: Int?
    /// Before it starts: for each (task, n), task must have finished its first n steps.
    var needs: [(task: Int, count: Int)]
  }

  public let program: Program
  /// Steps per task; task k is logical thread tK.
  public private(set) var tasks: [[Step]] = []

  public init(_ program: Program) {
    self.program = program
    var current = 0
    var nextBlock = 0
    var steps: [[Step]] = [[]]
    var definedBy: [Int: (task: Int, position: Int)] = [:]
    var lastBarrier: (task: Int, position: Int)? = nil
    for (i, op) in program.ops.enumerated() {
      if case .switchThread(let t) = op {
        current = t.id
        continue
      }
      var step = Step(index: i, op: op, thread: current, defines: nil, needs: [])
      if op.isAllocating {
        step.defines = nextBlock
        nextBlock += 1
      }
      if Self.isBarrier(op) {
        step.needs = steps.indices.map { (task: $0, count: steps[$0].count) }
      } else {
        if let b = lastBarrier { step.needs.append((b.task, b.position + 1)) }
        if let ref = op.usedRef, let d = definedBy[ref.id] { step.needs.append((d.task, d.position + 1)) }
      }
      let position = steps[current].count
      if let id = step.defines { definedBy[id] = (current, position) }
      if Self.isBarrier(op) { lastBarrier = (current, position) }
      steps[current].append(step)
      switch op {
      case .spawn:
        steps.append([])
      case .exitThread:
        current = 0
      default: break
      }
    }
    tasks = steps
  }

  static func isBarrier(_ op: Op) -> Bool {
    switch op {
    case .spawn, .exitThread, .heapNew, .heapDestroy, .heapDelete, .heapVisit: true
    default: false
    }
  }

  /// Ops that run (every op but `thread(tK)`).
  public var stepCount: Int { tasks.reduce(0) { $0 + $1.count } }
}
