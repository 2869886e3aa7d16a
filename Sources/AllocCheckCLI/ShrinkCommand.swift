// ShrinkCommand.swift — `alloc-check shrink`: runs a program file, and if it breaks a rule, reduces it
// (``ShrinkSession``, over ``Shrinker/shrink(_:maxAttempts:stillFails:)``) to the smallest program that
// still breaks the same rule (any op) within an attempt and time budget, prints it and writes it next to
// the input (`FILE.min.txt`) in the text form.

import ArgumentParser
import Harness

struct ShrinkCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "shrink",
    abstract: "Shrink a failing program to a minimal one that breaks the same rule.",
    discussion: "Exit 1 when the program breaks a rule (it is shrunk and written), 0 when it passes.")

  @Argument(help: "Program file (text form or binary fuzz bytes).") var file: String
  @Option(help: "Canary run seed (default: the file's '# seed:' comment, else 0).") var seed: String?
  @Option(help: "Family of a binary FILE: pymalloc (default) or heaps; a text file names its own.") var family: String?
  @OptionGroup var allocator: AllocatorOptions
  @Option(help: "Where to write the shrunk program (default: FILE.min.txt).") var out: String?
  @Option(help: "Most candidate programs to try.") var maxAttempts: String = "20000"
  @Option(help: "Longest time to spend (Ctrl-C also stops and keeps the best so far): 90s, 10m, 1h.")
  var maxTime: String = "10m"

  func run() throws {
    let source = try ProgramSourceOptions.resolve(file: file, seed: seed, length: nil, profile: nil, family: family, command: "shrink")
    let alloc = try allocator.resolve().adapted(to: source.family)
    let budget = try CLISupport.parseCount(maxAttempts, option: "--max-attempts")
    let timeLimit = try CLISupport.parseDuration(maxTime)
    let path = out ?? file + ".min.txt"
    Console.parameters("shrink", [("program", source.origin), ("run seed", "\(hex(source.runSeed)) (\(source.runSeedNote))")]
                         + alloc.rows + [("budget", "at most \(budget) attempts, \(CLISupport.spell(timeLimit))"), ("output", path)])

    let adapter = try alloc.makeAdapter(for: source.family)
    func run(_ p: Program, trace: Bool = false) -> Verdict {
      Executor.run(p, on: adapter, config: ExecutorConfig(oracle: alloc.oracle, runSeed: source.runSeed, recordTrace: trace))
    }
    guard let violation = run(source.program).violation else {
      Console.out("program passes, nothing to shrink")
      return
    }
    Console.out("before: \(source.program.ops.count) ops; " + describe(violation, programLength: source.program.ops.count))
    Interrupt.install()
    let session = ShrinkSession(adapter: adapter, runSeed: source.runSeed, oracle: alloc.oracle, maxAttempts: budget,
                                timeLimit: timeLimit)
    let outcome = session.shrink(source.program, violation)
    let final = run(outcome.program, trace: true)
    let after = final.violation ?? outcome.violation
    Console.out("after:  \(outcome.program.ops.count) ops in \(outcome.attempts) attempts"
                + (outcome.cutShort.map { " (stopped early: \($0))" } ?? "") + "; "
                + describe(after, programLength: outcome.program.ops.count))
    let text = ProgramText.render(outcome.program, family: source.family.rawValue, comments: [
      "seed: \(hex(source.runSeed))",
      "violates: \(after.rule) at op \(after.opIndex): \(after.detail)",
      "shrunk from \(file) (\(source.program.ops.count) ops); run with:\(alloc.flags.isEmpty ? " no options" : alloc.flags)",
    ])
    let tail = final.trace.suffix(RunCommand.traceTail)
    Console.out(abbreviated(text, maxLines: RunCommand.fullListingLimit + 4, note: "the file has all of it")
                + "trace (last \(tail.count) ops):\n" + FailureReport.renderTrace(tail))
    try ProgramFiles.write(text, to: path)
    Console.out("wrote \(path)\nreplay: swift run -c release alloc-check run \(path)\(alloc.flags)")
    throw ExitCode(1)
  }
}
