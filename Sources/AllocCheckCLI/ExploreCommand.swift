// ExploreCommand.swift — `alloc-check explore`: runs parallel heaps-family programs (a FILE, the built-in
// scenarios of Harness/Explore/ExploreScenarios.swift, or with --generate small generated programs of
// Harness/Explore/ExploreGenerator.swift) on the reference mimalloc under many schedules of the controlled
// scheduler (Harness/Explore), with or without a seeded bug. Prints each program's shape and PCT's
// guarantee, progress every second on stderr, then PASS with the schedules run and schedules/s, or the
// violation with the schedule and the `alloc-check run … --schedule …` line that replays it (exit 1),
// after shrinking the program (ops and threads dropped while it still fails) and then the schedule.

import ArgumentParser
import Foundation
import AllocUnderTest
import Harness

struct ExploreCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "explore",
    abstract: "Explore thread interleavings of parallel heaps-family programs on the reference mimalloc (exit 1 on a violation).",
    discussion: """
      Each logical thread of the program runs its ops in order on its own OS thread; exactly one runs at a \
      time, and the scheduler picks who runs at every atomic step of mimalloc's shared state (the remote-free \
      list, the delayed-free state, the heap's delayed list, the segment's owner). Strategies: pct (PCT, depth \
      --depth), random (uniform random walk), exhaustive (every schedule with at most --preemptions \
      preemptions). Without FILE, the built-in scenarios: \
      \(ExploreScenarios.texts.map(\.name).joined(separator: ", ")); with --generate, --programs generated \
      programs of --threads threads and --ops ops (cross-thread frees, full pages, exits, heap episodes), each \
      under --schedules schedules. A failure is saved under crashes/, its program shrunk (ops and threads \
      dropped while a re-search of --research schedules still fails) and then its schedule.
      """)

  @Argument(help: "A heaps-family program file (text form); default: the built-in scenarios.") var file: String?
  @Option(help: "Only this built-in scenario.") var scenario: String?
  @Option(help: "pct, random or exhaustive.") var strategy: String = "pct"
  @Option(help: "PCT depth d (d − 1 priority change points), 1…64.") var depth: String = "3"
  @Option(help: "Exhaustive: at most this many preemptions per schedule, 0…4.") var preemptions: String = "2"
  @Option(help: "Stop after this many schedules (--generate: per program). Default 10000, with --generate 200.") var schedules: String?
  @Option(name: .customLong("for"), help: "Stop after this many seconds (whichever comes first).") var seconds: String?
  @Option(help: "Seed of the schedules (decimal or 0x-hex).") var seed: String = "1"
  @Option(help: "Seed a mimalloc bug (repeatable); see alloc-check bugs.") var bug: [String] = []
  @Flag(help: "Explore generated programs instead of FILE or the scenarios; --seed also draws the programs.") var generate = false
  @Option(help: "--generate: how many programs.") var programs: String = "100"
  @Option(help: "--generate: threads per program (t0 included), 2…8.") var threads: String = "3"
  @Option(help: "--generate: ops per program (thread switches not counted), 4…200.") var ops: String = "14"
  @Option(help: "Program shrinking: schedules re-searched per candidate program (0: only the failing schedule and its switch points).")
  var research: String = "100"
  @Flag(help: "Do not shrink a failure (program or schedule).") var noShrink = false

  func run() throws {
    guard let strategy = ExploreStrategy(rawValue: strategy) else {
      throw CLIError.usage("explore: unknown strategy '\(strategy)'; expected pct, random or exhaustive")
    }
    let depth = try CLISupport.parseCount(depth, option: "--depth")
    guard (1...64).contains(depth) else { throw CLIError.usage("explore: --depth must be 1…64, not \(depth)") }
    let bound = try CLISupport.parseCount(preemptions, option: "--preemptions")
    guard (0...4).contains(bound) else { throw CLIError.usage("explore: --preemptions must be 0…4, not \(bound)") }
    let count = try CLISupport.parseCount(schedules ?? (generate ? "200" : "10000"), option: "--schedules")
    guard count >= 1 else { throw CLIError.usage("explore: --schedules must be at least 1") }
    let limit = try seconds.map { s throws(CLIError) -> Double in
      guard let v = Double(s), v > 0, v.isFinite else { throw CLIError.usage("explore: --for takes seconds > 0, not '\(s)'") }
      return v
    }
    let seed = try CLISupport.parseSeed(seed)
    var bugs: [MimallocBug] = []
    for name in bug {
      guard case .mimalloc(let b) = try CLISupport.parseAnyBug(name) else {
        throw CLIError.usage("explore: --bug \(name) is not a mimalloc bug (explore runs the reference mimalloc)")
      }
      bugs.append(b)
    }
    let research = try CLISupport.parseCount(research, option: "--research")
    let generator = try generatorOptions()
    let programs = generator == nil ? try loadPrograms() : []

    let options = ExploreOptions(strategy: strategy, depth: depth, preemptionBound: bound, schedules: count,
                                 seconds: limit, seed: seed)
    let strategyText = switch strategy {
    case .pct: "pct, depth \(depth)"
    case .random: "random walk"
    case .exhaustive: "exhaustive, at most \(bound) preemption\(bound == 1 ? "" : "s")"
    }
    let programCount = try CLISupport.parseCount(self.programs, option: "--programs")
    Console.parameters("explore", [
      ("programs", generator.map { "\(programCount) generated (\($0.threads) threads, \($0.ops) ops each), program k from seed mix(\(hex(seed)), k)" }
        ?? programs.map(\.name).joined(separator: ", ")),
      ("strategy", strategyText), ("seed", hex(seed)),
      ("budget", "\(count) schedules" + (generator == nil ? "" : " per program") + (limit.map { " or \($0) s" } ?? "")),
      ("allocator", "mimalloc (reference), bugs: " + (bugs.isEmpty ? "none" : bugs.map(\.rawValue).joined(separator: ", "))),
    ])
    let explorer = Explorer(bugs: Set(bugs))
    let bugFlags = bugs.map { " --bug \($0.rawValue)" }.joined()
    if let generator {
      let report = explorer.exploreGenerated(generator, programs: programCount, seed: seed, options) { p in
        Console.err("explore: \(p.programs) programs, \(p.schedules) schedules, \(Int(Double(p.programs) / max(p.seconds, 1e-9))) programs/s, "
                    + "\(Int(Double(p.schedules) / max(p.seconds, 1e-9))) schedules/s, \(String(format: "%.0f", p.seconds)) s")
      }
      let rateText = String(format: "%.2f s, %.1f programs/s, %.0f schedules/s", report.seconds,
                            Double(report.programs) / max(report.seconds, 1e-9), Double(report.schedules) / max(report.seconds, 1e-9))
      guard let f = report.failure else {
        Console.out("PASS: \(report.programs) generated programs (\(report.runningOps) ops), \(report.schedules) schedules, "
                    + "no violation; longest \(report.maxSteps) steps; \(rateText)")
        return
      }
      let again = "alloc-check explore --generate --seed \(hex(seed)) --threads \(generator.threads) --ops \(generator.ops) "
        + "--programs \(report.programs) --schedules \(count) --strategy \(strategy.rawValue)"
        + (strategy == .pct ? " --depth \(depth)" : strategy == .exhaustive ? " --preemptions \(bound)" : "") + bugFlags
      Console.out("FAIL: generated program \(report.programs) (seed \(hex(f.programSeed ?? 0))), schedule \(f.scheduleNumber); \(rateText)")
      try reportFailure(f, explorer: explorer, options: options, research: research, bugFlags: bugFlags, again: again)
    }
    let report = explorer.explore(programs, options) { p in
      Console.err("explore: \(p.schedules) schedules, \(Int(Double(p.schedules) / max(p.seconds, 1e-9))) /s, "
                  + "longest \(p.maxSteps) steps, \(String(format: "%.0f", p.seconds)) s")
    }
    for shape in report.shapes {
      var line = "  \(shape.name): \(shape.tasks) threads, \(shape.steps) steps in the default schedule"
      if strategy == .pct {
        let g = Explorer.pctGuarantee(tasks: shape.tasks, steps: shape.steps, depth: depth)
        line += String(format: "; PCT finds a depth-%d bug with probability ≥ 1/(n·k^(d−1)) = 1/(%d·%d^%d) = %.2e per schedule",
                       depth, shape.tasks, shape.steps, depth - 1, g)
      }
      Console.out(line)
    }
    let rateText = String(format: "%.2f s, %.0f schedules/s", report.seconds, Double(report.schedules) / max(report.seconds, 1e-9))
    guard let f = report.failure else {
      let end = strategy == .exhaustive && report.exhausted ? "every schedule within the bound" : "budget spent"
      Console.out("PASS: \(report.schedules) schedules (\(end)), no violation; longest \(report.maxSteps) steps"
                  + (report.longest.map { " (\($0.program), \(String(describing: $0.schedule).prefix(120)))" } ?? "") + "; \(rateText)")
      return
    }
    Console.out("FAIL: schedule \(f.scheduleNumber) of program \(f.program.name); \(rateText)")
    try reportFailure(f, explorer: explorer, options: options, research: research, bugFlags: bugFlags, again: nil)
  }

  /// Prints a failure: the violation, the schedule and the replay line; then the program shrunk (unless
  /// --no-shrink) and saved beside it, and the schedule shrunk on it. Exits 1.
  private func reportFailure(_ f: ExploreFailure, explorer: Explorer, options: ExploreOptions, research: Int,
                             bugFlags: String, again: String?) throws -> Never {
    let path = try saved(f.program)
    let threads = { (p: ExploreProgram) in p.parallel.tasks.count }
    Console.out("""
      \(describe(f.run.violation!, programLength: f.program.parallel.program.ops.count))
      program: \(path) (\(f.program.parallel.stepCount) ops that run, \(threads(f.program)) threads)\(f.programSeed.map { ", generated from seed \(hex($0))" } ?? "")
      schedule: \(f.schedule) (\(f.run.steps) steps, \(f.run.switchPoints.count) switch points)
      as switches: \(Schedule.switches(f.run.switchPoints))
      replay: alloc-check run \(path)\(bugFlags) --schedule \(f.schedule)
      """ + (again.map { "\nexplore again: " + $0 } ?? ""))
    var last = f.run
    if !noShrink {
      Console.err("explore: shrinking the program (up to \(research) schedules re-searched per candidate) …")
      let (small, attempts) = explorer.shrinkProgram(f, options, research: research)
      // Always under crashes/ (a FILE given by the user may live in the committed corpus), named after the
      // program and the seeded bugs, so a run with another bug does not overwrite it.
      let stem = (URL(fileURLWithPath: path).lastPathComponent as NSString).deletingPathExtension
      let smallPath = "crashes/" + (path.hasPrefix("crashes/explore-") ? stem : "explore-" + stem + bugSuffix) + ".min.txt"
      try ProgramFiles.write(ProgramText.render(small.program.parallel.program, family: "heaps", comments: [
        "shrunk from \(path) by alloc-check explore (\(small.run.violation.map(\.rule) ?? "?"))",
      ]), to: smallPath)
      let shrunk = explorer.shrinkSchedule(small)
      Console.out("""
        shrunk program: \(f.program.parallel.stepCount) → \(small.program.parallel.stepCount) ops that run, \
        \(threads(f.program)) → \(threads(small.program)) threads (\(attempts) candidates), \(small.run.violation.map(\.rule) ?? "?") under \(small.schedule); saved \(smallPath)
        shrunk schedule: \(small.run.switchPoints.count) → \(shrunk.run.switchPoints.count) switch points (\(small.run.steps) → \(shrunk.run.steps) steps): \(shrunk.schedule) (\(shrunk.run.violation.map { "\($0.rule)" } ?? "?"))
        replay (shrunk): alloc-check run \(smallPath)\(bugFlags) --schedule \(shrunk.schedule)
        \(ProgramText.render(small.program.parallel.program, family: "heaps"))
        """)
      last = shrunk.run
    }
    Console.out("trace (last 16 lines):\n" + last.trace.suffix(16).map { "  " + $0 }.joined(separator: "\n"))
    throw ExitCode(1)
  }

  /// --generate's generator, or nil without --generate (its options then refused).
  private func generatorOptions() throws -> ExploreGenerator? {
    guard generate else { return nil }
    guard file == nil, scenario == nil else { throw CLIError.usage("explore: --generate takes no FILE or --scenario") }
    let k = try CLISupport.parseCount(threads, option: "--threads")
    guard (2...8).contains(k) else { throw CLIError.usage("explore: --threads must be 2…8, not \(k)") }
    let n = try CLISupport.parseCount(ops, option: "--ops")
    guard (4...200).contains(n) else { throw CLIError.usage("explore: --ops must be 4…200, not \(n)") }
    guard try CLISupport.parseCount(programs, option: "--programs") >= 1 else { throw CLIError.usage("explore: --programs must be at least 1") }
    return ExploreGenerator(threads: k, ops: n)
  }

  private func loadPrograms() throws -> [ExploreProgram] {
    if let file {
      guard scenario == nil else { throw CLIError.usage("explore: give FILE or --scenario, not both") }
      let loaded = try CLISupport.loadProgram(ProgramFiles.read(file), name: file, family: .heaps)
      guard loaded.family == .heaps else {
        throw CLIError.usage("explore: \(file) is a \(loaded.family.rawValue)-family program; explore runs heaps-family ones")
      }
      return [ExploreProgram(name: file, program: loaded.program)]
    }
    let all = ExploreScenarios.all
    guard let scenario else { return all }
    guard let one = all.first(where: { $0.name == scenario }) else {
      throw CLIError.usage("explore: unknown scenario '\(scenario)'; expected " + all.map(\.name).joined(separator: ", "))
    }
    return [one]
  }

  /// The failing program's file: the FILE itself, or the scenario or generated program written under crashes/.
  /// The seeded bugs in a saved file's name ("-remoteFreeWithoutCAS"), empty without one.
  private var bugSuffix: String { bug.map { "-" + $0 }.joined() }

  private func saved(_ p: ExploreProgram) throws -> String {
    if let file { return file }
    try ProgramFiles.makeDirectory("crashes")
    let path = "crashes/explore-\(p.name)\(bugSuffix).txt"
    let text = ExploreScenarios.fileText(p.name)
      ?? ProgramText.render(p.parallel.program, family: "heaps", comments: ["generated by alloc-check explore --generate (\(p.name))"])
    try ProgramFiles.write(text, to: path)
    return path
  }
}
