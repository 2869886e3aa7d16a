// ControlledRun.swift — the controlled scheduler (issue 14): runs N tasks on N OS threads of which exactly
// one runs at any time. Each thread holds the baton until its next yield point (an atomic step of the
// mimalloc reference's shared state, a spin-wait, an op boundary — AllocUnderTest's `Interleaving`), where
// the ``Picker`` decides who runs next; a switch hands the baton over with two semaphores (the new
// thread's signal, the old one's wait), which also orders every memory access of the old thread before the
// new one's. Determinism: every decision depends only on the picker and on state the baton holder sees;
// no decision depends on OS timing, so a schedule replays exactly (ExploreTests checks the step trace).

import AllocUnderTest
import Dispatch
import Foundation

final class ControlledRun: InterleavingController, @unchecked Sendable {
  // @unchecked: every mutable field is touched only by the thread holding the baton (one at a time, each
  // hand-over through a semaphore), or by the starting thread before the first and after the last one.
  private var picker: any Picker
  private let semaphores: [DispatchSemaphore]
  private let done = DispatchSemaphore(value: 0)
  private var finished: [Bool]
  /// A task at an op boundary whose op may not start yet waits on this condition (nil: free to run).
  private var gates: [(() -> Bool)?]
  private var current: Int? = nil
  /// Steps so far (every decision is a step).
  private(set) var steps = 0
  /// The steps where the pick differed from the default, in order.
  private(set) var switchPoints: [SwitchPoint] = []
  /// Every decision, when recording (the exhaustive search branches on them; tests compare them).
  private(set) var decisions: [(Decision, Int)] = []
  private let recordDecisions: Bool
  /// Past this many steps the run is declared livelocked (a task spins for a state no task will ever
  /// make: with a seeded lost update, a page can stay in DELAYED_FREEING for good): every task that
  /// reaches a yield point after that is parked for good (its OS thread is leaked, never resumed), gates
  /// open, and the run ends. The allocator is then unusable until reset.
  private let stepLimit: Int
  private(set) var livelocked = false

  init(tasks: Int, picker: any Picker, recordDecisions: Bool, stepLimit: Int = 20_000) {
    self.picker = picker
    semaphores = (0..<tasks).map { _ in DispatchSemaphore(value: 0) }
    finished = Array(repeating: false, count: tasks)
    gates = Array(repeating: nil, count: tasks)
    self.recordDecisions = recordDecisions
    self.stepLimit = stepLimit
  }

  /// Runs `body(task)` for every task on its own thread under the scheduler; returns when all are done.
  /// Tasks must call ``opBoundary(_:ready:)`` before each op.
  func run(_ body: @escaping @Sendable (Int) -> Void) {
    Interleaving.begin()
    defer { Interleaving.end() }
    for t in semaphores.indices {
      let thread = Thread { [self] in
        Interleaving.control(currentThreadBy: self)
        semaphores[t].wait()
        body(t)
        finish(t)
        Interleaving.control(currentThreadBy: nil)
      }
      thread.stackSize = 1 << 20
      thread.start()
    }
    let first = decide(.op)
    current = first
    semaphores[first].signal()
    done.wait()
  }

  /// The hook: a controlled thread reached an atomic step or a spin-wait.
  func yieldPoint(_ kind: YieldKind) { handOver(kind) }

  /// Before each op of `task`: a yield point; the task waits here until `ready()` holds.
  func opBoundary(_ task: Int, ready: @escaping () -> Bool) {
    if !ready() { gates[task] = ready }
    handOver(.op)
    gates[task] = nil
  }

  private func handOver(_ kind: YieldKind) {
    let me = current!
    if steps >= stepLimit { livelocked = true }
    if livelocked { park(me) }
    let next = decide(kind)
    guard next != me else { return }
    current = next
    semaphores[next].signal()
    semaphores[me].wait()
  }

  private func finish(_ task: Int) {
    finished[task] = true
    if finished.allSatisfy({ $0 }) {
      done.signal()
      return
    }
    let next = decide(.op)
    current = next
    semaphores[next].signal()
  }

  /// A livelocked run: `task` stops here for good; the others go on until they finish or stop here too.
  private func park(_ task: Int) -> Never {
    finish(task)
    while true { DispatchSemaphore(value: 0).wait() }
  }

  private func enabled() -> [Int] {
    finished.indices.filter { !finished[$0] && (livelocked || (gates[$0]?() ?? true)) }
  }

  private func decide(_ kind: YieldKind) -> Int {
    steps += 1
    let live = current.flatMap { finished[$0] ? nil : $0 }
    let d = Decision(step: steps, current: live, kind: kind, enabled: enabled())
    precondition(!d.enabled.isEmpty, "ControlledRun: no task can run (an op waits for one that never comes)")
    let pick = livelocked ? d.defaultPick : picker.pick(d)
    if pick != d.defaultPick { switchPoints.append(SwitchPoint(step: steps, thread: pick)) }
    if recordDecisions { decisions.append((d, pick)) }
    return pick
  }
}
