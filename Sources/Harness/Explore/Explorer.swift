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
  /// A generated program (``ExploreGenerator``): the seed it was drawn from.
  public var programSeed: UInt64? = nil
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

/// What ``Explorer/exploreGenerated(_:programs:seed:_:progress:)`` did.
public struct GeneratedReport: Sendable {
  public var programs = 0
  public var schedules = 0
  public var seconds = 0.0
  public var maxSteps = 0
  /// Ops that run, summed over the programs explored.
  public var runningOps = 0
  public var failure: ExploreFailure? = nil
}

public struct GeneratedProgress: Sendable {
  public var programs: Int
  public var schedules: Int
  public var seconds: Double
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

  /// Shrinks the failing *program* (before its schedule): the project's ``Shrinker`` drops ops and threads
  /// (a removed spawn takes its thread's ops with it) while the failure persists, where a candidate fails
  /// if (1) the failing schedule itself, (2) the switch points of the last failing run (where they still
  /// apply: a step past the end or a thread that cannot run is ignored) or (3) a re-search of up to
  /// `research` schedules of `o`'s strategy gives a violation of the same rule. Returns the failure on the
  /// smallest program, with the schedule that made it fail (the input unchanged if nothing smaller fails),
  /// and the candidates tried.
  public func shrinkProgram(_ failure: ExploreFailure, _ o: ExploreOptions, research: Int = 100,
                            maxAttempts: Int = 400) -> (failure: ExploreFailure, attempts: Int) {
    let rule = failure.run.violation?.rule
    var best = failure
    var searchOptions = o
    searchOptions.schedules = research
    searchOptions.seconds = nil
    let result = Shrinker.shrink(failure.program.parallel.program, maxAttempts: maxAttempts) { candidate in
      let p = ExploreProgram(name: failure.program.name, program: candidate)
      var tried: [Schedule] = []
      for s in [failure.schedule, .switches(best.run.switchPoints)] where !tried.contains(s) {
        tried.append(s)
        let run = executor.run(p.parallel, schedule: s)
        if run.violation?.rule == rule {
          best = ExploreFailure(program: p, schedule: s, run: run, scheduleNumber: failure.scheduleNumber,
                                programSeed: failure.programSeed)
          return true
        }
      }
      guard research > 0, var found = explore([p], searchOptions).failure, found.run.violation?.rule == rule else { return false }
      found.scheduleNumber = failure.scheduleNumber
      found.programSeed = failure.programSeed
      best = found
      return true
    }
    // `best` is the last candidate that failed, which the shrinker kept: its result.
    guard result.improvements > 0 else { return (failure, result.attempts) }
    assert(best.program.parallel.program == result.program)
    return (best, result.attempts)
  }

  /// Explores `programs` generated programs (program k from `BugHunt.programSeed(seed, k)`), each under
  /// `o` (`o.schedules` schedules per program; its `seconds` bound the whole run), and stops at the first
  /// violation, which carries its program's seed.
  public func exploreGenerated(_ generator: ExploreGenerator, programs: Int, seed: UInt64, _ o: ExploreOptions,
                               progress: (GeneratedProgress) -> Void = { _ in }) -> GeneratedReport {
    let clock = ContinuousClock()
    let start = clock.now
    var report = GeneratedReport()
    var lastProgress = start
    func elapsed() -> Double { (clock.now - start).seconds }
    for k in 0..<programs {
      if let limit = o.seconds, elapsed() >= limit { break }
      let programSeed = BugHunt.programSeed(seed, k)
      let p = ExploreProgram(name: "gen-" + FailureReport.hex(programSeed), program: generator.generate(seed: programSeed))
      var each = o
      each.seed = Canary.mix(o.seed ^ programSeed)
      each.seconds = o.seconds.map { max($0 - elapsed(), 0.001) }
      let r = explore([p], each)
      report.programs += 1
      report.schedules += r.schedules
      report.maxSteps = max(report.maxSteps, r.maxSteps)
      report.runningOps += p.parallel.stepCount
      if var f = r.failure {
        f.programSeed = programSeed
        report.failure = f
        break
      }
      if clock.now - lastProgress >= .seconds(1) {
        lastProgress = clock.now
        progress(GeneratedProgress(programs: report.programs, schedules: report.schedules, seconds: elapsed()))
      }
    }
    report.seconds = elapsed()
    return report
  }

  /// PCT's guarantee for one run on a program of `tasks` threads and `steps` steps at depth `depth`.
  public static func pctGuarantee(tasks: Int, steps: Int, depth: Int) -> Double {
    PCTPicker.guarantee(tasks: tasks, steps: steps, depth: depth)
  }
}
