// LinearizeCommand.swift — `alloc-check linearize`: small parallel programs (generated from a seed, or a
// FILE) run many times, and each run's history of malloc/calloc/realloc/free (invocation, response,
// result) is checked against the sequential heap model over every order consistent with real time
// (Harness/Linearize, Oracle/Linearize). Under the controlled scheduler on the reference mimalloc (default;
// replayable: `--schedule`), or with --real-threads on the reference or the real libmimalloc. Progress
// every second on stderr; PASS with histories/s and the check's own rate, or the history as intervals,
// why no order fits, and the replay line (exit 1); bad input exits 2.

import ArgumentParser
import AllocUnderTest
import Harness

struct LinearizeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "linearize",
    abstract: "Check that parallel malloc/calloc/realloc/free histories are linearizable (exit 1 on one that is not).",
    discussion: """
      Each generated program has --threads threads (t0 spawns the others) and --ops ops per thread: malloc, \
      calloc, realloc and free (mostly of other threads' blocks) and collect. Each program runs --schedules \
      times: under the controlled scheduler on the reference mimalloc (PCT depth 3 or random schedules; the \
      first is the default schedule), or with --real-threads on real OS threads of --target reference or \
      libmimalloc. A history is linearizable if its ops can be put in one order, consistent with real time \
      (an op that returned before another was invoked comes first), that the sequential model accepts: \
      no result overlaps a live block, usable size ≥ request, free and realloc only of live blocks, \
      realloc keeps the contents (a stamp word), no one else writes into a live block.
      """)

  @Argument(help: "A heaps-family program file instead of generated ones (malloc, calloc, realloc, free, collect, spawn …).") var file: String?
  @Option(help: "A built-in program instead of generated ones: \(LinearizePrograms.scenarios.map(\.name).joined(separator: ", ")).") var scenario: String?
  @Option(help: "Threads per generated program, 2…4.") var threads: String = "3"
  @Option(help: "Ops per thread of a generated program, 1…16.") var ops: String = "4"
  @Option(help: "Generated programs.") var programs: String = "100"
  @Option(help: "Runs (schedules, or real-thread runs) per program.") var schedules: String = "100"
  @Option(help: "Controlled schedules: pct (depth 3) or random.") var strategy: String = "pct"
  @Option(help: "Replay one schedule (with FILE): random:SEED, pct:D:K:SEED or switches:….") var schedule: String?
  @Option(help: "reference (the Swift mimalloc) or libmimalloc (2.0.9, --real-threads only).") var target: String = "reference"
  @Flag(help: "Run on real OS threads, all at once, instead of the controlled scheduler.") var realThreads = false
  @Option(name: .customLong("for"), help: "Stop after this many seconds.") var seconds: String?
  @Option(help: "Seed of the programs and schedules (decimal or 0x-hex).") var seed: String = "1"
  @Option(help: "Seed a mimalloc bug of the reference (repeatable); see alloc-check bugs.") var bug: [String] = []

  func run() throws {
    var o = LinearizeOptions()
    o.threads = try CLISupport.parseCount(threads, option: "--threads")
    guard (2...4).contains(o.threads) else { throw CLIError.usage("linearize: --threads must be 2…4, not \(o.threads)") }
    o.opsPerThread = try CLISupport.parseCount(ops, option: "--ops")
    guard (1...16).contains(o.opsPerThread) else { throw CLIError.usage("linearize: --ops must be 1…16, not \(o.opsPerThread)") }
    o.programs = try CLISupport.parseCount(programs, option: "--programs")
    o.schedules = try CLISupport.parseCount(schedules, option: "--schedules")
    guard o.programs >= 1, o.schedules >= 1 else { throw CLIError.usage("linearize: --programs and --schedules must be at least 1") }
    guard let strategy = ExploreStrategy(rawValue: strategy), strategy != .exhaustive else {
      throw CLIError.usage("linearize: unknown strategy '\(strategy)'; expected pct or random")
    }
    o.strategy = strategy
    o.seconds = try seconds.map { s throws(CLIError) -> Double in
      guard let v = Double(s), v > 0, v.isFinite else { throw CLIError.usage("linearize: --for takes seconds > 0, not '\(s)'") }
      return v
    }
    o.seed = try CLISupport.parseSeed(seed)
    var bugs: [MimallocBug] = []
    for name in bug {
      guard case .mimalloc(let b) = try CLISupport.parseAnyBug(name) else {
        throw CLIError.usage("linearize: --bug \(name) is not a mimalloc bug (the reference mimalloc is seeded)")
      }
      bugs.append(b)
    }
    guard ["reference", "libmimalloc"].contains(target) else {
      throw CLIError.usage("linearize: unknown target '\(target)'; expected reference or libmimalloc")
    }
    if target == "libmimalloc" && !realThreads { throw CLIError.usage("linearize: --target libmimalloc needs --real-threads") }
    if target == "libmimalloc" && !bugs.isEmpty { throw CLIError.usage("linearize: --bug seeds the reference, not libmimalloc") }
    let replay = try schedule.map { text throws(CLIError) -> Schedule in
      guard file != nil || scenario != nil else { throw CLIError.usage("linearize: --schedule replays one program; give FILE or --scenario") }
      guard !realThreads else { throw CLIError.usage("linearize: --schedule is for the controlled scheduler, not --real-threads") }
      do { return try Schedule.parse(text) } catch { throw CLIError.usage("linearize: \(error)") }
    }
    if replay != nil { o.schedules = 1 }
    if file != nil && scenario != nil { throw CLIError.usage("linearize: give FILE or --scenario, not both") }
    let scenarioPrograms = try scenario.map { name throws(CLIError) -> [LinearizeProgram] in
      guard let p = LinearizePrograms.scenario(name) else {
        throw CLIError.usage("linearize: unknown scenario '\(name)'; expected " + LinearizePrograms.scenarios.map(\.name).joined(separator: ", "))
      }
      return [LinearizeProgram(name: name, seed: nil, program: p)]
    }
    let given = try scenarioPrograms ?? file.map { path throws -> [LinearizeProgram] in
      let loaded = try CLISupport.loadProgram(ProgramFiles.read(path), name: path, family: .heaps)
      guard loaded.family == .heaps else {
        throw CLIError.usage("linearize: \(path) is a \(loaded.family.rawValue)-family program; linearize runs heaps-family ones")
      }
      let p = LinearizeProgram(name: path, seed: nil, program: loaded.program)
      if realThreads, let why = RealThreadHistoryRun.unsupported(ParallelProgram(p.program)) { throw CLIError.usage("linearize: \(path): \(why)") }
      if p.program.ops.count(where: HistoryRecorder.records) > 64 {
        throw CLIError.usage("linearize: \(path) has more than 64 malloc/calloc/realloc/free ops (the check takes at most 64)")
      }
      return [p]
    }

    let linearizer = Linearizer(o)
    let mode = realThreads ? "real OS threads" : "controlled scheduler, " + (replay.map { "schedule \($0)" } ?? (strategy == .pct ? "pct (depth 3)" : "random walk"))
    Console.parameters("linearize", [
      ("programs", file ?? scenario ?? "\(o.programs) generated, \(o.threads) threads × \(o.opsPerThread) ops"),
      ("runs", "\(o.schedules) per program" + (o.seconds.map { " or \($0) s" } ?? "")),
      ("mode", mode), ("seed", FailureReport.hex(o.seed)),
      ("allocator", target == "libmimalloc" ? "libmimalloc" : "mimalloc (reference), bugs: " + (bugs.isEmpty ? "none" : bugs.map(\.rawValue).joined(separator: ", "))),
    ])
    let progress = { (p: LinearizeProgress) in
      Console.err("linearize: \(p.programs) programs, \(p.histories) histories, \(Int(Double(p.histories) / max(p.seconds, 1e-9))) /s, \(String(format: "%.0f", p.seconds)) s")
    }
    let report: LinearizeReport
    if realThreads {
      if target == "libmimalloc" {
        let t = try PeerCheck.require { () throws(PeerUnavailable) in try LibMimallocHistoryTarget() }
        report = linearizer.realThreads(t, given: given, progress: progress)
      } else {
        report = linearizer.realThreads(ReferenceHistoryTarget(bugs: Set(bugs)), given: given, progress: progress)
      }
    } else {
      report = linearizer.controlled(bugs: Set(bugs), given: given, schedule: replay, progress: progress)
    }
    let rate = String(format: "%.2f s, %.0f histories/s; the check alone: %.3f s, %.0f histories/s, %d states searched (%.1f ops per history)",
                      report.seconds, Double(report.histories) / max(report.seconds, 1e-9), report.checkSeconds,
                      Double(report.histories) / max(report.checkSeconds, 1e-9), report.statesVisited,
                      Double(report.ops) / Double(max(report.histories, 1)))
    let livelocks = report.livelocked == 0 ? "" : "; \(report.livelocked) runs livelocked (not judged: their histories are incomplete)"
    guard let f = report.failure ?? report.firstLivelock else {
      Console.out("PASS: \(report.programs) programs, \(report.histories) histories, every one linearizable; \(rate)")
      return
    }
    if report.failure == nil {
      Console.out("FAIL: every judged history linearizable, but\(livelocks.dropFirst()); \(rate)")
      Console.out("first livelock: history \(f.historyNumber) (run \(f.run) of program \(f.program.name)); alloc-check explore reports such runs")
      let path = try saved(f.program)
      Console.out("replay: alloc-check run \(path)\(bugs.map { " --bug \($0.rawValue)" }.joined()) --schedule \(f.schedule.map { "\($0)" } ?? "?")")
      throw ExitCode(1)
    }
    let path = try saved(f.program)
    let bugFlags = bugs.map { " --bug \($0.rawValue)" }.joined()
    let what = f.verdict?.isLinearizable == false ? "NOT LINEARIZABLE" : "run stopped (\(f.stopped?.rule ?? "?"))"
    Console.out("FAIL: \(what): history \(f.historyNumber) (run \(f.run) of program \(f.program.name)); \(rate)\(livelocks)")
    for line in Linearizer.describe(f) { Console.out(line) }
    if let s = f.schedule {
      Console.out("replay: alloc-check linearize \(path)\(bugFlags) --schedule \(s)")
      Console.out("replay (every rule of explore): alloc-check run \(path)\(bugFlags) --schedule \(s)")
    } else {
      Console.out("rerun (real threads do not replay step for step): alloc-check linearize \(path) --real-threads --target \(target)\(bugFlags) --schedules \(o.schedules)")
    }
    throw ExitCode(1)
  }

  /// The failing program's file: FILE itself, or the generated program written under crashes/.
  private func saved(_ p: LinearizeProgram) throws -> String {
    if let file { return file }
    try ProgramFiles.makeDirectory("crashes")
    if let text = LinearizePrograms.scenarioText(p.name) {
      let path = "crashes/linearize-\(p.name).txt"
      try ProgramFiles.write(text, to: path)
      return path
    }
    let path = "crashes/\(p.name).txt"
    let comments = ["linearize: generated from seed \(p.seed.map(FailureReport.hex) ?? "?") (\(threads) threads × \(ops) ops)"]
    try ProgramFiles.write(ProgramText.render(p.program, family: "heaps", comments: comments), to: path)
    return path
  }
}

