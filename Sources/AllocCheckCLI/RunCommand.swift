// RunCommand.swift — `alloc-check run`: one program (a file, or generated from --seed/--length/--profile
// exactly as ``FailureReport/replayCommand(_:bug:)`` prints it) through ``Executor/run(_:on:config:)`` on
// the family's adapter; prints the program, then (domains family) each misuse's predicted and produced
// diagnostic, then PASS or the violation and the end of the trace.

import ArgumentParser
import Harness

struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run one program against its allocator (pymalloc, or mimalloc for the heaps family) and the oracle (exit 1 on a violation).",
    discussion: "Programs of up to \(RunCommand.fullListingLimit) ops are printed whole; longer ones as the last "
      + "\(RunCommand.windowOps) ops before the failure.")

  static let fullListingLimit = 80
  static let windowOps = 20
  static let traceTail = 12

  @OptionGroup var source: ProgramSourceOptions
  @OptionGroup var allocator: AllocatorOptions
  @Flag(help: "Print the whole trace, not only its end.") var trace = false
  @Option(help: "Also write the program in the text form to this path (e.g. to shrink or encode it).") var save: String?
  @Option(help: "Run the heaps-family program in parallel under this schedule of the controlled scheduler, as alloc-check explore prints it (random:SEED, pct:D:K:SEED, switches:12t1,…).")
  var schedule: String?

  func run() throws {
    let src = try source.resolve(command: "run")
    let alloc = try allocator.resolve().adapted(to: src.family)
    if let schedule { return try runScheduled(src, alloc, schedule) }
    Console.parameters("run", [("program", src.origin), ("run seed", "\(hex(src.runSeed)) (\(src.runSeedNote))")] + alloc.rows)

    if let save {
      try ProgramFiles.write(ProgramText.render(src.program, family: src.family.rawValue, comments: ["seed: \(hex(src.runSeed))", "from: \(src.origin)"]), to: save)
      Console.out("wrote the program to \(save)")
    }
    let verdict = Executor.run(src.program, on: try alloc.makeAdapter(for: src.family),
                               config: ExecutorConfig(oracle: alloc.oracle, runSeed: src.runSeed))
    let ops = src.program.ops
    if ops.count <= Self.fullListingLimit {
      Console.out("program (\(ops.count) ops):\n" + ProgramText.render(src.program, family: src.family.rawValue))
    } else {
      let end = min(verdict.violation?.opIndex ?? ops.count - 1, ops.count - 1) + 1
      let start = max(0, end - Self.windowOps)
      let which = verdict.violation == nil ? "the last \(end - start)" : "the \(end - start) up to the failing op"
      Console.out("program (\(ops.count) ops; \(which)):\n" + listing(src.program, start..<end))
    }

    for m in verdict.misuses {
      Console.out("misuse at op \(m.opIndex) (\(m.status.rawValue)): \(m.call)\n  predicted: \(m.predicted)\n  produced:  \(m.produced)"
        + (m.dumpMayCrash ? "\n  (CPython may crash in the dump before printing this line: the dump reads a changed or freed size field)" : ""))
    }
    if let stop = verdict.trace.last, stop.text == "# run stopped" { Console.out("run stopped: \(stop.result)") }
    guard let v = verdict.violation else {
      if trace { Console.out("trace:\n" + FailureReport.renderTrace(verdict.trace)) }
      let teardown = verdict.opsExecuted - ops.count
      if teardown < 0 { Console.out("PASS (stopped after \(verdict.opsExecuted) of \(ops.count) ops, where CPython aborts)"); return }
      Console.out("PASS (\(verdict.opsExecuted) ops: \(ops.count) in the program, \(teardown) teardown free\(teardown == 1 ? "" : "s"))")
      return
    }
    Console.out(describe(v, programLength: ops.count))
    let shown = trace ? verdict.trace[...] : verdict.trace.suffix(Self.traceTail)
    Console.out("trace (\(trace ? "all" : "last \(shown.count)") ops):\n" + FailureReport.renderTrace(shown))
    throw ExitCode(1)
  }
}

extension RunCommand {
  /// `--schedule`: the program as a ``ParallelProgram`` on the reference mimalloc, one schedule, every line
  /// of its trace.
  func runScheduled(_ src: ProgramSourceOptions.Resolved, _ alloc: AllocatorOptions.Resolved, _ text: String) throws {
    let schedule: Schedule
    do { schedule = try Schedule.parse(text) } catch { throw CLIError.usage("run: \(error)") }
    guard src.family == .heaps, alloc.peer == .reference, alloc.arenaFaults == .never else {
      throw CLIError.usage("run: --schedule runs heaps-family programs on the reference mimalloc, without faults")
    }
    Console.parameters("run", [("program", src.origin), ("schedule", "\(schedule)")] + alloc.rows)
    let result = ScheduledExecutor(bugs: Set(alloc.mimallocBugs)).run(ParallelProgram(src.program), schedule: schedule)
    Console.out("trace (\(result.steps) steps, \(result.switchPoints.count) switches: \(Schedule.switches(result.switchPoints))):\n"
                + result.trace.map { "  " + $0 }.joined(separator: "\n"))
    guard let v = result.violation else {
      Console.out("PASS (\(src.program.ops.count) ops in parallel, \(result.steps) steps)")
      return
    }
    Console.out(describe(v, programLength: src.program.ops.count))
    throw ExitCode(1)
  }
}
