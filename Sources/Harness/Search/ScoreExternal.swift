// ScoreExternal.swift — the scoreboard's methods that run in another process (issue 15 part 1): libFuzzer
// (`fuzz`), the differential against the real allocator (`diff`), the real-thread stress runner (`stress`),
// the stress runner's TSan build (`tsan`) and the stress runner under Valgrind's memcheck (`valgrind`).
// Here: which bugs each can reach, the exact command of one hunt (bug, seed, time box), and how its exit
// status and output become a verdict (caught, and by which rule). The CLI (ScoreCommand) builds what they
// need, starts the processes under a hard deadline and fills the same cells as the in-process methods.
// Pure functions, so the tests check each command line and each way a run can end.

import AllocUnderTest
import Foundation

/// A detection method that runs as its own process.
public enum ExternalScoreMethod: String, CaseIterable, Sendable {
  case fuzz, diff, stress, tsan, valgrind

  /// Why the method cannot reach `bug`, or nil when it can.
  public func notApplicable(to bug: ScoreBug) -> String? {
    switch (self, bug.family) {
    case (.stress, .domains), (.tsan, .domains), (.valgrind, .domains):
      return "the stress runner has no domains model"
    case (.tsan, .pymalloc):
      return "the pymalloc model runs behind one lock (the GIL): no race for TSan to see"
    default:
      return nil
    }
  }

  /// The default time box of one hunt, in seconds, and the default number of seeds per cell, chosen so the
  /// default scoreboard (every method, every bug) ends within an hour on two shared cores: the random
  /// in-process methods are fast and get three seeds; the process methods pay a start-up (Valgrind several
  /// seconds) and the slow tools get one.
  public var defaultBox: Double {
    switch self {
    case .fuzz: 5
    case .diff: 4
    case .stress: 4
    case .tsan: 10
    case .valgrind: 6
    }
  }
  public var defaultSeeds: Int {
    switch self {
    case .fuzz, .diff: 3
    case .stress: 2
    case .tsan, .valgrind: 1
    }
  }

  /// The process deadline: the box plus the start-up the tool needs (a run past it is killed, not caught).
  public func deadline(box: Double) -> Double {
    switch self {
    case .valgrind: box + 30
    case .tsan: box + 20
    default: box + 15
    }
  }
}

/// Where the binaries of the process methods are, relative to the package root.
public struct ExternalScorePaths: Sendable {
  /// The release `alloc-check` (diff, stress, and the program Valgrind runs).
  public var allocCheck: String
  /// The TSan build of `alloc-check`.
  public var tsanAllocCheck: String = ".build-tsan/debug/alloc-check"
  /// Where the fuzz binaries are (`<dir>/fuzz-<family>-ops`).
  public var fuzzBinDir: String = ".build-fuzz/release"
  /// Working files of the hunts (fuzz corpora, artifacts, logs).
  public var workDir: String = ".fuzz/score"

  public init(allocCheck: String) { self.allocCheck = allocCheck }

  public static func fuzzProduct(_ family: ProgramFamily) -> String { "fuzz-\(family.rawValue)-ops" }
}

/// One hunt as a process.
public struct ExternalScoreCommand: Sendable, Equatable {
  public var executable: String
  public var arguments: [String]
  /// Variables set on top of the caller's environment.
  public var environment: [String: String]
  /// Directories to create empty before the run (a fresh fuzz corpus, the artifact directory).
  public var freshDirectories: [String]
  /// Where the run's own crash input lands (fuzz), to shrink it afterwards.
  public var artifactPrefix: String?
}

/// How one process hunt ended.
public struct ExternalScoreOutcome: Sendable, Equatable {
  public var caught: Bool
  public var rule: String?
  /// Executions (fuzz: libFuzzer's own count), else nil.
  public var executions: Int?

  public init(caught: Bool, rule: String?, executions: Int? = nil) {
    self.caught = caught
    self.rule = rule
    self.executions = executions
  }
}

public enum ExternalScore {
  /// The environment every process hunt gets: Swift's backtracer off (else it takes the signal: libFuzzer
  /// writes no crash file and TSan's run crashes), deterministic hashing, and CPython's libpython needing
  /// static TLS room when it is loaded late (as scripts/time-to-detect sets it).
  static let baseEnvironment = ["SWIFT_BACKTRACE": "enable=no", "SWIFT_DETERMINISTIC_HASHING": "1",
                                "GLIBC_TUNABLES": "glibc.rtld.optional_static_tls=65536"]

  /// The model the stress runner seeds for `bug`.
  static func stressModel(_ bug: ScoreBug) -> String { bug.family == .pymalloc ? "pymalloc" : "mimalloc" }

  /// The command of one hunt of `bug` by `method` with `seed` and a time box of `box` seconds (nil when the
  /// method cannot reach the bug).
  public static func command(_ method: ExternalScoreMethod, _ bug: ScoreBug, seed: UInt64, box: Double,
                             paths: ExternalScorePaths) -> ExternalScoreCommand? {
    guard method.notApplicable(to: bug) == nil else { return nil }
    let seconds = max(1, Int(box.rounded(.up)))
    let tag = "\(bug.name)-\(seed)"
    var env = baseEnvironment
    let stressArgs = ["stress", "--model", stressModel(bug), "--bug", bug.name, "--seed", "\(seed)", "--for", "\(seconds)s",
                      "--progress", "3600"]
    switch method {
    case .fuzz:
      let target = bug.family.rawValue
      let dir = "\(paths.workDir)/fuzz/\(tag)"
      env["ALLOC_CHECK_BUGS"] = bug.name
      // libFuzzer's -seed is a 32-bit unsigned value and 0 means "pick one": keep it 1…2^31.
      let fuzzSeed = 1 + seed % 0x7fff_ffff
      return ExternalScoreCommand(
        executable: "\(paths.fuzzBinDir)/\(ExternalScorePaths.fuzzProduct(bug.family))",
        arguments: ["-seed=\(fuzzSeed)", "-max_total_time=\(seconds)", "-detect_leaks=0", "-print_final_stats=1",
                    "-max_len=4096", "-timeout=60", "-rss_limit_mb=8192", "-dict=corpus/\(target)/\(target).dict",
                    "-artifact_prefix=\(dir)/artifacts/", "\(dir)/corpus"],
        environment: env, freshDirectories: ["\(dir)/corpus", "\(dir)/artifacts"], artifactPrefix: "\(dir)/artifacts/")
    case .diff:
      // Generated programs, seeds S, S+1, …: more than the box can run, so the box ends the hunt.
      let length = bug.family == .domains ? 100 : 200
      return ExternalScoreCommand(
        executable: paths.allocCheck,
        arguments: ["diff", "--family", bug.family.rawValue, "--seed", "\(seed)", "--length", "\(length)",
                    "--count", "\(seconds * 400)", "--bug", bug.name, "--no-shrink"],
        environment: env, freshDirectories: [], artifactPrefix: nil)
    case .stress:
      return ExternalScoreCommand(executable: paths.allocCheck, arguments: stressArgs + ["--threads", "2", "--round-ops", "20k"],
                                  environment: env, freshDirectories: [], artifactPrefix: nil)
    case .tsan:
      env["TSAN_OPTIONS"] = "exitcode=66 halt_on_error=1 suppressions=scripts/tsan.supp"
      return ExternalScoreCommand(executable: paths.tsanAllocCheck, arguments: stressArgs + ["--threads", "4", "--round-ops", "20k", "--heaps", "mem"],
                                  environment: env, freshDirectories: [], artifactPrefix: nil)
    case .valgrind:
      env["AC_VALGRIND_TOOL"] = "memcheck"
      return ExternalScoreCommand(
        executable: "valgrind",
        arguments: ["--tool=memcheck", "--error-exitcode=99", "--leak-check=no",
                    "--suppressions=scripts/valgrind/memcheck.supp", paths.allocCheck] + stressArgs
                    + ["--threads", "2", "--round-ops", "5k"],  // short rounds: under Valgrind the first check comes sooner
        environment: env, freshDirectories: [], artifactPrefix: nil)
    }
  }

  /// The verdict of a process hunt from how it ended: `status` is the exit status, or the signal number when
  /// `signaled`; `timedOut` when the deadline killed it. A run killed at the deadline caught nothing.
  public static func classify(_ method: ExternalScoreMethod, status: Int32, signaled: Bool, timedOut: Bool,
                              output: String) -> ExternalScoreOutcome {
    if timedOut { return ExternalScoreOutcome(caught: false, rule: nil) }
    switch method {
    case .fuzz:
      let execs = statValue(output, "stat::number_of_executed_units")
      if let rule = capture(output, after: "alloc-check: ", before: " at op ") {
        return ExternalScoreOutcome(caught: true, rule: rule, executions: execs)
      }
      // A crash without the target's trap line (the allocator itself trapped, or a sanitizer report).
      if output.contains("ERROR: libFuzzer: deadly signal") || output.contains("ERROR: AddressSanitizer") {
        return ExternalScoreOutcome(caught: true, rule: crashRule(output, "crash"), executions: execs)
      }
      return ExternalScoreOutcome(caught: false, rule: nil, executions: execs)  // clean, or libFuzzer's timeout/OOM
    case .diff:
      guard !signaled else { return ExternalScoreOutcome(caught: true, rule: crashRule(output, "crash (signal \(status))")) }
      guard status == 1 else { return ExternalScoreOutcome(caught: false, rule: nil) }  // PASS (or the peer is missing: 0)
      if let rule = capture(output, after: "DIVERGENCE ", before: " ") { return ExternalScoreOutcome(caught: true, rule: "diff \(rule)") }
      if let rule = capture(output, after: "VIOLATION on the reference side ", before: " ") {
        return ExternalScoreOutcome(caught: true, rule: rule)
      }
      // The real allocator's side broke a rule: the bug is in the reference, so this is not its catch.
      return ExternalScoreOutcome(caught: false, rule: capture(output, after: "VIOLATION on the ", before: " (").map { "peer: \($0)" })
    case .stress, .tsan, .valgrind:
      if signaled { return ExternalScoreOutcome(caught: true, rule: crashRule(output, "crash (signal \(status))")) }
      if method == .tsan && status == 66 && output.contains("ThreadSanitizer") { return ExternalScoreOutcome(caught: true, rule: "TSan race") }
      if method == .valgrind && status == 99 {
        return ExternalScoreOutcome(caught: true, rule: "memcheck: " + (firstMemcheckError(output) ?? "error"))
      }
      if status == 1, let check = capture(output, after: "stress: FAIL ", before: " ") {
        return ExternalScoreOutcome(caught: true, rule: check)
      }
      // Any other non-zero exit is a crash of the runner under the bug (a trap in the allocator's own checks).
      if status != 0 && status != 2 { return ExternalScoreOutcome(caught: true, rule: crashRule(output, "crash (exit \(status))")) }
      return ExternalScoreOutcome(caught: false, rule: nil)
    }
  }

  /// A crash's rule: Swift's trap message when it printed one ("trap: load from misaligned raw pointer"),
  /// else `fallback`.
  static func crashRule(_ output: String, _ fallback: String) -> String {
    guard let message = capture(output, after: "Fatal error: ", before: "\n") else { return fallback }
    return "trap: " + message.prefix(48)
  }

  /// The text between the first `after` and the next `before` on the same line.
  static func capture(_ text: String, after: String, before: String) -> String? {
    guard let a = text.range(of: after) else { return nil }
    let rest = text[a.upperBound...].prefix { $0 != "\n" }
    let value = rest.range(of: before).map { rest[..<$0.lowerBound] } ?? rest
    let trimmed = value.trimmingCharacters(in: .whitespaces)
    return trimmed.isEmpty ? nil : String(trimmed)
  }

  /// libFuzzer's final `stat::NAME: VALUE` line.
  static func statValue(_ text: String, _ name: String) -> Int? {
    capture(text, after: name + ":", before: "\n").flatMap { Int($0) }
  }

  /// The kind of memcheck's first error ("Invalid write of size 8", "Conditional jump …").
  static func firstMemcheckError(_ text: String) -> String? {
    for line in text.split(separator: "\n") where line.hasPrefix("==") {
      guard let end = line.range(of: "== ", range: line.index(after: line.startIndex)..<line.endIndex) else { continue }
      let body = line[end.upperBound...]
      for kind in ["Invalid read", "Invalid write", "Invalid free", "Conditional jump", "Use of uninitialised",
                   "Syscall param", "Mismatched free", "Source and destination overlap"] where body.hasPrefix(kind) {
        return String(body.prefix(40))
      }
    }
    return nil
  }
}
