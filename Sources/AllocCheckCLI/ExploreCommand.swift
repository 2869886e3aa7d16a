// ExploreCommand.swift — `alloc-check explore`: runs parallel heaps-family programs (a FILE, or the built-in
// scenarios of Harness/Explore/ExploreScenarios.swift) on the reference mimalloc under many schedules of
// the controlled scheduler (Harness/Explore), with or without a seeded bug. Prints each program's shape and
// PCT's guarantee, progress every second on stderr, then PASS with the schedules run and schedules/s, or
// the violation with the schedule and the `alloc-check run … --schedule …` line that replays it (exit 1).

import ArgumentParser
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
      \(ExploreScenarios.texts.map(\.name).joined(separator: ", ")).
      """)

  @Argument(help: "A heaps-family program file (text form); default: the built-in scenarios.") var file: String?
  @Option(help: "Only this built-in scenario.") var scenario: String?
  @Option(help: "pct, random or exhaustive.") var strategy: String = "pct"
  @Option(help: "PCT depth d (d − 1 priority change points), 1…64.") var depth: String = "3"
  @Option(help: "Exhaustive: at most this many preemptions per schedule, 0…4.") var preemptions: String = "2"
  @Option(help: "Stop after this many schedules.") var schedules: String = "10000"
  @Option(name: .customLong("for"), help: "Stop after this many seconds (whichever comes first).") var seconds: String?
  @Option(help: "Seed of the schedules (decimal or 0x-hex).") var seed: String = "1"
  @Option(help: "Seed a mimalloc bug (repeatable); see alloc-check bugs.") var bug: [String] = []

  func run() throws {
    guard let strategy = ExploreStrategy(rawValue: strategy) else {
      throw CLIError.usage("explore: unknown strategy '\(strategy)'; expected pct, random or exhaustive")
    }
    let depth = try CLISupport.parseCount(depth, option: "--depth")
    guard (1...64).contains(depth) else { throw CLIError.usage("explore: --depth must be 1…64, not \(depth)") }
    let bound = try CLISupport.parseCount(preemptions, option: "--preemptions")
    guard (0...4).contains(bound) else { throw CLIError.usage("explore: --preemptions must be 0…4, not \(bound)") }
    let count = try CLISupport.parseCount(schedules, option: "--schedules")
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
    let programs = try loadPrograms()

    let options = ExploreOptions(strategy: strategy, depth: depth, preemptionBound: bound, schedules: count,
                                 seconds: limit, seed: seed)
    let strategyText = switch strategy {
    case .pct: "pct, depth \(depth)"
    case .random: "random walk"
    case .exhaustive: "exhaustive, at most \(bound) preemption\(bound == 1 ? "" : "s")"
    }
    Console.parameters("explore", [
      ("programs", programs.map(\.name).joined(separator: ", ")),
      ("strategy", strategyText), ("seed", hex(seed)),
      ("budget", "\(count) schedules" + (limit.map { " or \($0) s" } ?? "")),
      ("allocator", "mimalloc (reference), bugs: " + (bugs.isEmpty ? "none" : bugs.map(\.rawValue).joined(separator: ", "))),
    ])
    let explorer = Explorer(bugs: Set(bugs))
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
    let path = try saved(f.program)
    let shrunk = explorer.shrinkSchedule(f)
    let bugFlags = bugs.map { " --bug \($0.rawValue)" }.joined()
    Console.out("""
      FAIL: schedule \(f.scheduleNumber) of program \(f.program.name) (\(f.run.steps) steps, \(f.run.switchPoints.count) switches); \(rateText)
      \(describe(f.run.violation!, programLength: f.program.parallel.program.ops.count))
      schedule: \(f.schedule)
      as switches: \(Schedule.switches(f.run.switchPoints))
      shrunk schedule: \(shrunk.schedule) (\(shrunk.run.violation.map { "\($0.rule)" } ?? "?"), \(shrunk.run.steps) steps)
      replay: alloc-check run \(path)\(bugFlags) --schedule \(f.schedule)
      replay (shrunk): alloc-check run \(path)\(bugFlags) --schedule \(shrunk.schedule)
      trace (last 16 lines):
      \(f.run.trace.suffix(16).map { "  " + $0 }.joined(separator: "\n"))
      """)
    throw ExitCode(1)
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

  /// The failing program's file: the FILE itself, or the scenario written under crashes/.
  private func saved(_ p: ExploreProgram) throws -> String {
    if let file { return file }
    try ProgramFiles.makeDirectory("crashes")
    let path = "crashes/explore-\(p.name).txt"
    try ProgramFiles.write(ExploreScenarios.fileText(p.name)!, to: path)
    return path
  }
}
