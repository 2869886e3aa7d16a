// ScoreProcess.swift — the scoreboard's process hunts (``ExternalScore`` says which command and how its end
// reads): builds what a method needs before the first hunt, runs each hunt as a child process (``Subprocess``,
// shared with `alloc-check mutate`) with its output in .fuzz/score/logs/<method>/<bug>-<seed>.log, killed at
// the method's deadline, and for a libFuzzer catch decodes the crash input and shrinks it in this process, so
// the fuzz column reports a shrunk length like the in-process ones.

import AllocUnderTest
import Foundation
import FuzzTargets
import Harness

struct ScoreProcess {
  var paths: ExternalScorePaths

  /// Builds or checks what `method` needs for bugs of `families`. Returns why it cannot run here (the
  /// method is then shown as not run), or nil; a failed build is an error.
  func prepare(_ method: ExternalScoreMethod, families: Set<ProgramFamily>) throws -> String? {
    switch method {
    case .fuzz:
      let targets = ProgramFamily.allCases.filter(families.contains).compactMap { FuzzTargets.named($0.rawValue) }
      try FuzzWorkspace.build(targets)
      for t in targets where t.product != ExternalScorePaths.fuzzProduct(ProgramFamily(rawValue: t.name) ?? .pymalloc) {
        throw CLIError.usage("score: fuzz target \(t.name) is built as \(t.product), not as the scoreboard expects")
      }
      return nil
    case .diff:
      // One short program per family: a missing peer library makes `diff` skip (exit 0 without PASS).
      for family in families {
        let (status, out) = try FuzzWorkspace.runCapturing(paths.allocCheck, ["diff", "--family", family.rawValue, "--seed", "1", "--length", "5"])
        guard status == 0, out.contains("PASS") else {
          return "`alloc-check diff --family \(family.rawValue)` did not pass a clean program (exit \(status)): "
            + (out.split(separator: "\n").last.map(String.init) ?? "no output")
        }
      }
      return nil
    case .stress:
      return nil
    case .tsan:
      let args = ["build", "--sanitize=thread", "--scratch-path", ".build-tsan", "--product", "alloc-check"]
      Console.err("score: swift \(args.joined(separator: " "))")
      let status = try FuzzWorkspace.runForeground("swift", args)
      guard status == 0 else { throw CLIError.usage("score: the TSan build failed (exit \(status)); see the output above") }
      return nil
    case .valgrind:
      guard (try? FuzzWorkspace.runCapturing("valgrind", ["--version"]).0) == 0 else { return "valgrind is not installed (scripts/bootstrap)" }
      let (status, _) = try FuzzWorkspace.runCapturing(paths.allocCheck, ["valgrind-check", "--compiled-in"])
      return status == 0 ? nil : "alloc-check was built without valgrind/memcheck.h (scripts/bootstrap, then rebuild)"
    }
  }

  /// One hunt: the process from a clean start, its verdict, and for a fuzz catch the shrunk input's length.
  func hunt(_ method: ExternalScoreMethod, _ bug: ScoreBug, seed: UInt64, box: Double) throws -> ScoreHunt {
    guard let command = ExternalScore.command(method, bug, seed: seed, box: box, paths: paths) else {
      return ScoreHunt(caught: false, seconds: 0, programs: 0, rule: nil, shrunkOps: nil, programSeed: nil)
    }
    let fm = FileManager.default
    for dir in command.freshDirectories {
      try? fm.removeItem(atPath: dir)
      try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    let logDir = "\(paths.workDir)/logs/\(method.rawValue)"
    try fm.createDirectory(atPath: logDir, withIntermediateDirectories: true)
    let log = "\(logDir)/\(bug.name)-\(seed).log"
    let end = Subprocess.run([command.executable] + command.arguments, log: log, timeout: method.deadline(box: box),
                             env: command.environment)
    guard end.launched else { throw CLIError.usage("score: could not start \(command.executable) (see \(log))") }
    let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    let verdict = ExternalScore.classify(method, status: end.status, signaled: end.signaled, timedOut: end.timedOut, output: output)
    var shrunk: Int? = nil
    if verdict.caught, method == .fuzz, let prefix = command.artifactPrefix {
      shrunk = shrinkFuzzCrash(bug, directory: prefix, rule: verdict.rule, timeBox: box)
    }
    return ScoreHunt(caught: verdict.caught, seconds: verdict.caught ? end.seconds : min(end.seconds, box),
                     programs: verdict.executions ?? 1, rule: verdict.rule, shrunkOps: shrunk, programSeed: seed)
  }

  /// Decodes libFuzzer's crash input and shrinks it with the same rule on the bug's adapter.
  private func shrinkFuzzCrash(_ bug: ScoreBug, directory: String, rule: String?, timeBox: Double) -> Int? {
    guard let target = FuzzTargets.named(bug.family.rawValue),
          let name = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.first(where: { $0.hasPrefix("crash-") }),
          let bytes = FileManager.default.contents(atPath: directory + name),
          let adapter = target.makeAdapter([bug.name]) else { return nil }
    let program = target.decode([UInt8](bytes))
    let config = ExecutorConfig(oracle: target.oracle, recordTrace: false)
    guard let first = Executor.run(program, on: adapter, config: config).violation, rule == nil || rule == first.rule else {
      return nil  // the crash was not one of the oracle's rules (a trap in the allocator): nothing to shrink by
    }
    let deadline = Date().addingTimeInterval(timeBox)
    let result = Shrinker.shrink(program, maxAttempts: 300) { candidate in
      Date() < deadline && Executor.run(candidate, on: adapter, config: config).violation?.rule == first.rule
    }
    return result.program.ops.count
  }
}
