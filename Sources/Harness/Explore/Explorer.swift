// Explorer.swift — schedule exploration (issue 14): runs parallel programs (ParallelProgram.swift) under
// many schedules of the controlled scheduler and stops at the first violation, which it reports with the
// schedule that replays it (`alloc-check run FILE --schedule …`).
//
// Strategies: `random` (uniform random walk, schedule i gets seed mix(S, i)), `pct` (PCT with depth d; its
// K is the step count of the program's default schedule, measured once), `exhaustive` (every schedule with
// at most B preemptions, depth-first over switch points: each run's decisions after its last switch point
// are branched on; a schedule is visited once, since two runs agree up to their first differing pick).
// Programs are taken in turn: schedule i runs program i mod count (exhaustive: one program's whole search
// after the other's).

import AllocUnderTest
import Oracle

public enum ExploreStrategy: String, CaseIterable, Sendable {
  case pct, random, exhaustive
}

public struct ExploreOptions: Sendable {
  public var strategy: ExploreStrategy
  /// PCT's depth d (d − 1 priority change points).
  public var depth: Int
  /// Exhaustive search: at most this many preemptions per schedule.
  public var preemptionBound: Int
  /// Stop after this many schedules …
  public var schedules: Int
  /// … or after this many seconds, whichever comes first (nil: no time limit).
  public var seconds: Double?
  public var seed: UInt64

  public init(strategy: ExploreStrategy = .pct, depth: Int = 3, preemptionBound: Int = 2, schedules: Int = 10_000,
              seconds: Double? = nil, seed: UInt64 = 1) {
    self.strategy = strategy
    self.depth = depth
    self.preemptionBound = preemptionBound
    self.schedules = schedules
    self.seconds = seconds
    self.seed = seed
  }
}

/// A named program to explore.
public struct ExploreProgram: Sendable {
  public var name: String
  public var parallel: ParallelProgram
  public init(name: String, program: Program) {
    self.name = name
    parallel = ParallelProgram(program)
  }
}

public struct ExploreFailure: Sendable {
  public var program: ExploreProgram
  public var schedule: Schedule
  public var run: ScheduledRun
  /// 1-based: the failing schedule was the n-th one run.
  public var scheduleNumber: Int
}

public struct ExploreReport: Sendable {
  public var schedules = 0
  public var seconds = 0.0
  public var failure: ExploreFailure? = nil
  /// Exhaustive: every schedule within the bound of every program was run.
  public var exhausted = false
  public var maxSteps = 0
  /// The schedule of the longest run, and its program's name.
  public var longest: (program: String, schedule: Schedule)? = nil
  /// Per program: (name, tasks, steps of the default schedule).
  public var shapes: [(name: String, tasks: Int, steps: Int)] = []
}

/// Progress of a long exploration, handed to the caller every second or so.
public struct ExploreProgress: Sendable {
  public var schedules: Int
  public var seconds: Double
  public var maxSteps: Int
}

public final class Explorer {
  public let executor: ScheduledExecutor

  public init(bugs: Set<MimallocBug> = []) { executor = ScheduledExecutor(bugs: bugs) }

  public func explore(_ programs: [ExploreProgram], _ o: ExploreOptions,
                      progress: (ExploreProgress) -> Void = { _ in }) -> ExploreReport {
    precondition(!programs.isEmpty, "Explorer: no program")
    let clock = ContinuousClock()
    let start = clock.now
    var report = ExploreReport()
    var lastProgress = start
    func elapsed() -> Double { (clock.now - start).seconds }
    func timeUp() -> Bool { report.schedules >= o.schedules || (o.seconds.map { elapsed() >= $0 } ?? false) }
    /// Counts one run; true when the exploration must stop (a failure, or the budget is spent).
    func account(_ p: ExploreProgram, _ schedule: Schedule, _ run: ScheduledRun) -> Bool {
      report.schedules += 1
      if run.steps > report.maxSteps {
        report.maxSteps = run.steps
        report.longest = (p.name, schedule)
      }
      if run.violation != nil {
        report.failure = ExploreFailure(program: p, schedule: schedule, run: run, scheduleNumber: report.schedules)
        return true
      }
      if clock.now - lastProgress >= .seconds(1) {
        lastProgress = clock.now
        progress(ExploreProgress(schedules: report.schedules, seconds: elapsed(), maxSteps: report.maxSteps))
      }
      return timeUp()
    }

    // Each program's shape, from its default schedule (which also runs it once).
    var steps: [Int] = []
    for p in programs {
      let run = executor.run(p.parallel, schedule: .switches([]))
      steps.append(run.steps)
      report.shapes.append((p.name, p.parallel.tasks.count, run.steps))
      if account(p, .switches([]), run) { report.seconds = elapsed(); return report }
    }

    switch o.strategy {
    case .random, .pct:
      var i = 0
      while !timeUp() {
        let k = i % programs.count
        let seed = Canary.mix(o.seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15)
        let schedule: Schedule =
          o.strategy == .random ? .random(seed: seed) : .pct(depth: o.depth, steps: max(steps[k], 1), seed: seed)
        if account(programs[k], schedule, executor.run(programs[k].parallel, schedule: schedule)) { break }
        i += 1
      }
    case .exhaustive:
      report.exhausted = true
      search: for p in programs {
        var stack: [[SwitchPoint]] = [[]]
        var first = true
        while let points = stack.popLast() {
          if timeUp() { report.exhausted = false; break search }
          let (run, decisions) = executor.run(p.parallel, picker: SwitchPicker(points: points), recordDecisions: true)
          if !first, account(p, .switches(points), run) {
            report.exhausted = false
            break search
          }
          first = false  // the default schedule was counted above
          let last = points.last?.step ?? 0
          var used = 0
          for (d, pick) in decisions where d.step <= last && d.preempts(pick) { used += 1 }
          for (d, pick) in decisions where d.step > last {
            // A spinning task is never picked again at its spin (it would only spin on: not fair, and an
            // endless supply of free branches).
            for alt in d.enabled where alt != pick && !(d.kind == .spin && alt == d.current)
              && used + (d.preempts(alt) ? 1 : 0) <= o.preemptionBound {
              stack.append(points + [SwitchPoint(step: d.step, thread: alt)])
            }
          }
        }
      }
    }
    report.seconds = elapsed()
    return report
  }

  /// Shrinks a failing schedule: starting from the run's switch points, drops each point whose removal
  /// keeps a violation of the same rule (one pass from the last point to the first, then again while any
  /// point went). Returns the shorter `switches:` schedule and its run.
  public func shrinkSchedule(_ failure: ExploreFailure) -> (schedule: Schedule, run: ScheduledRun) {
    let rule = failure.run.violation?.rule
    var points = failure.run.switchPoints
    var best = failure.run
    var changed = true
    while changed {
      changed = false
      for i in points.indices.reversed() {
        var fewer = points
        fewer.remove(at: i)
        let run = executor.run(failure.program.parallel, schedule: .switches(fewer))
        if let v = run.violation, v.rule == rule {
          points = run.switchPoints.count <= fewer.count ? run.switchPoints : fewer
          best = run
          changed = true
          break
        }
      }
    }
    return (.switches(points), best)
  }

  /// PCT's guarantee for one run on a program of `tasks` threads and `steps` steps at depth `depth`.
  public static func pctGuarantee(tasks: Int, steps: Int, depth: Int) -> Double {
    PCTPicker.guarantee(tasks: tasks, steps: steps, depth: depth)
  }
}
