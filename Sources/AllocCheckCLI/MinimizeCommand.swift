// MinimizeCommand.swift — `alloc-check minimize`: shrinks a crashing fuzz input at the op level with the
// project's shrinker (``ShrinkSession``: the smallest program that still breaks the same rule), optionally
// after libFuzzer's byte-level `-minimize_crash=1`, and writes the result as canonical bytes (`FILE.min`)
// plus its text twin (`FILE.min.txt`); prints the program. Exit 1 when the input breaks a rule, 0 when not.

import ArgumentParser
import Foundation
import FuzzTargets
import Harness

struct MinimizeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "minimize", abstract: "Shrink a crashing fuzz input to the fewest ops that break the same rule.")

  @Argument(help: "Crashing fuzz input (bytes) or program text.") var file: String
  @Option(help: "Fuzz target (default: from the path, else the only one).") var target: String?
  @Option(name: .customLong("bug"), help: "Seeded bug the crash was found with (repeatable).") var bugs: [String] = []
  @Option(help: "Where to write the minimized bytes (default: FILE.min; the text twin gets .txt).") var out: String?
  @Option(help: "First run libFuzzer's -minimize_crash=1 for this long (e.g. 30s); needs the fuzz build.") var libfuzzer: String?
  @Option(help: "Most candidate programs to try.") var maxAttempts: String = "20000"
  @Option(help: "Longest time for the op-level shrink.") var maxTime: String = "10m"

  func run() throws {
    let t = try FuzzWorkspace.target(for: file, explicit: target)
    let bugs = try FuzzWorkspace.bugs(self.bugs, for: t)
    let budget = try CLISupport.parseCount(maxAttempts, option: "--max-attempts")
    let limit = try CLISupport.parseDuration(maxTime)
    let path = out ?? file + ".min"
    var bytes = try ProgramFiles.read(file)
    let loaded = try CLISupport.loadProgram(bytes, name: file)
    if loaded.kind == .text { bytes = t.encode(loaded.program) }
    guard t.scheduled == nil else {
      throw CLIError.usage("minimize: \(t.name) inputs carry a schedule; alloc-check repro \(file) writes the program, and alloc-check explore PROGRAM --bug … shrinks program and schedule")
    }
    guard let adapter = t.makeAdapter(bugs) else { throw CLIError.usage("minimize: cannot make the \(t.name) adapter") }
    Console.parameters("minimize", [("input", "\(file) (\(bytes.count) bytes, \(t.decode(bytes).ops.count) ops)"),
                                    ("target", t.name), ("bugs", bugs.isEmpty ? "none" : bugs.joined(separator: ", ")),
                                    ("output", "\(path) and \(path).txt")])
    if let libfuzzer {
      let seconds = Int(try CLISupport.parseDuration(libfuzzer).components.seconds)
      bytes = try libFuzzerMinimize(t, bytes: bytes, seconds: seconds, bugs: bugs)
    }
    let program = t.decode(bytes)
    let run = { (p: Program) in Executor.run(p, on: adapter, config: ExecutorConfig(oracle: t.oracle, recordTrace: false)) }
    guard let violation = run(program).violation else {
      Console.out("the input passes: nothing to minimize")
      return
    }
    Console.out("before: \(program.ops.count) ops; " + describe(violation, programLength: program.ops.count))
    Interrupt.install()
    let outcome = ShrinkSession(adapter: adapter, runSeed: 0, oracle: t.oracle, maxAttempts: budget, timeLimit: limit)
      .shrink(program, violation)
    let after = outcome.violation
    Console.out("after:  \(outcome.program.ops.count) ops in \(outcome.attempts) attempts"
                + (outcome.cutShort.map { " (stopped early: \($0))" } ?? "") + "; " + describe(after, programLength: outcome.program.ops.count))
    let minimized = t.encode(outcome.program)
    let flags = bugs.map { " --bug \($0)" }.joined()
    let text = ProgramText.render(outcome.program, family: t.family, comments: [
      "minimized from \(file) (\(program.ops.count) ops)",
      "violates: \(after.rule) at op \(after.opIndex): \(after.detail)",
      "repro: scripts/repro \(path)\(flags)",
    ])
    try ProgramFiles.write(minimized, to: path)
    try ProgramFiles.write(text, to: path + ".txt")
    Console.out(abbreviated(text, maxLines: 84, note: "the file has all of it"))
    Console.out("wrote \(path) (\(minimized.count) bytes) and \(path).txt\nrepro: scripts/repro \(path)\(flags)")
    throw ExitCode(1)
  }

  /// libFuzzer's own crash minimization (`-minimize_crash=1`), with the seeded bugs on; the original when it
  /// finds nothing smaller.
  func libFuzzerMinimize(_ t: FuzzTarget, bytes: [UInt8], seconds: Int, bugs: [String]) throws -> [UInt8] {
    let input = NSTemporaryDirectory() + "alloc-check-minimize-\(getpid())"
    let output = input + ".out"
    try ProgramFiles.write(bytes, to: input)
    defer { try? FileManager.default.removeItem(atPath: input); try? FileManager.default.removeItem(atPath: output) }
    Console.err("minimize: \(FuzzWorkspace.binary(t)) -minimize_crash=1 -max_total_time=\(seconds)")
    try FuzzWorkspace.makeArtifactDirectories(t)
    let (_, log) = try FuzzWorkspace.runCapturing(FuzzWorkspace.binary(t),
                                                  LibFuzzerArguments.minimize(target: t.name, seconds: seconds, input: input, output: output),
                                                  env: FuzzWorkspace.environment(bugs: bugs))
    guard let smaller = try? ProgramFiles.read(output), !smaller.isEmpty, smaller.count < bytes.count else {
      Console.err("minimize: libFuzzer found nothing smaller (\(log.split(separator: "\n").last ?? ""))")
      return bytes
    }
    Console.out("libFuzzer: \(bytes.count) → \(smaller.count) bytes")
    return smaller
  }
}
