// FuzzWorkspace.swift — where the fuzz commands keep things, and the steps they share: picking targets from
// the registry (``FuzzTargets``), building a fuzz binary (`swift build -c release --sanitize=fuzzer` in
// `.build-fuzz`), proving it really fuzzes (`-runs=1000` must print `Done 1000 runs`), staging the committed
// seeds as libFuzzer inputs, and starting libFuzzer processes with the environment they need.
//
// Layout (relative to the package root; `.fuzz/` and `crashes/` are not committed):
//   corpus/<target>/            committed seeds (.bin + .txt twins), <target>.dict, regressions/ (kept forever)
//   .fuzz/<target>/corpus/      the working corpus libFuzzer grows (`merge` minimizes it)
//   .fuzz/<target>/seeds/       the committed seeds and regressions as bytes, rebuilt each run (read-only input)
//   .fuzz/runs/<id>/            one run: run.json, samples.csv, coverage.png, one log per libFuzzer process
//   crashes/<target>/           every crash input (crash-<sha1>) with its decoded .txt twin and verdict

import Foundation
import FuzzTargets
import Harness

enum FuzzWorkspace {
  static let scratch = ".build-fuzz"
  static let root = ".fuzz"
  static var runsDir: String { root + "/runs" }
  static func workCorpus(_ t: FuzzTarget) -> String { "\(root)/\(t.name)/corpus" }
  static func stagedSeeds(_ t: FuzzTarget) -> String { "\(root)/\(t.name)/seeds" }
  static func corpusDir(_ t: FuzzTarget) -> String { "corpus/\(t.name)" }
  static func regressionsDir(_ t: FuzzTarget) -> String { "corpus/\(t.name)/regressions" }
  static func dictionary(_ t: FuzzTarget) -> String { "corpus/\(t.name)/\(FuzzCorpusFiles.dictionaryName(t))" }
  static func crashesDir(_ t: FuzzTarget) -> String { LibFuzzerArguments.crashesDir(t.name) }
  static func binary(_ t: FuzzTarget) -> String { "\(scratch)/release/\(t.product)" }

  /// The environment of every libFuzzer process: Swift's backtracer off (else it takes the signal and
  /// libFuzzer writes no crash file), deterministic hashing, the seeded bugs.
  static func environment(bugs: [String]) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    env["SWIFT_BACKTRACE"] = "enable=no"
    env["SWIFT_DETERMINISTIC_HASHING"] = "1"
    env["ALLOC_CHECK_BUGS"] = bugs.joined(separator: ",")
    return env
  }

  /// The commands run from the package root: it must hold Package.swift and corpus/.
  static func requirePackageRoot() throws(CLIError) {
    let fm = FileManager.default
    guard fm.fileExists(atPath: "Package.swift"), fm.fileExists(atPath: "corpus") else {
      throw .usage("run the fuzz commands from the alloc-check package root (no Package.swift and corpus/ here: \(fm.currentDirectoryPath))")
    }
  }

  /// `names` (short or product names), or every target for `all` / no names.
  static func targets(_ names: [String], all: Bool) throws(CLIError) -> [FuzzTarget] {
    if all || names.isEmpty { return FuzzTargets.all }
    var out: [FuzzTarget] = []
    for n in names {
      guard let t = FuzzTargets.named(n) else {
        throw .usage("unknown fuzz target \"\(n)\"; targets: \(FuzzTargets.all.map(\.name).joined(separator: ", "))")
      }
      if !out.contains(where: { $0.name == t.name }) { out.append(t) }
    }
    return out
  }

  /// The target a file belongs to: `--target`, else a `corpus/<t>/`, `crashes/<t>/` or `.fuzz/…/<t>/` path
  /// component, else the only target.
  static func target(for file: String, explicit: String?) throws(CLIError) -> FuzzTarget {
    if let explicit { return try targets([explicit], all: false)[0] }
    let parts = file.split(separator: "/").map(String.init)
    for p in parts.reversed() { if let t = FuzzTargets.named(p) { return t } }
    if FuzzTargets.all.count == 1 { return FuzzTargets.all[0] }
    throw .usage("cannot tell which fuzz target \(file) belongs to; give --target")
  }

  /// Validated seeded bugs for `target`.
  static func bugs(_ names: [String], for target: FuzzTarget) throws(CLIError) -> [String] {
    for n in names where !target.bugNames.contains(n) {
      throw .usage("unknown bug \"\(n)\" for target \(target.name); valid bugs: \(target.bugNames.joined(separator: ", "))")
    }
    return names
  }

  /// The `swift build` arguments of a fuzz binary. Coverage is edges + 8-bit counters + PC table, without
  /// `trace-cmp`: comparison hooks made every op's oracle checks 2.4× slower (40 vs 15 exec/s over the same
  /// 320-input corpus, `-runs=0`, same coverage reached), and the dictionary supplies the format's values.
  /// scripts/fuzz-build and the OSS-Fuzz build.sh use the same flags.
  static func buildArguments(_ product: String) -> [String] {
    ["build", "-c", "release", "--sanitize=fuzzer", "-Xswiftc", "-sanitize-coverage=edge,inline-8bit-counters,pc-table",
     "--product", product, "--scratch-path", scratch]
  }

  /// Builds the fuzz binaries of `targets` (one `swift build` per product; SwiftPM skips what is up to date).
  static func build(_ targets: [FuzzTarget]) throws {
    for t in targets {
      Console.err("fuzz build: swift \(buildArguments(t.product).joined(separator: " "))")
      let status = try runForeground("swift", buildArguments(t.product))
      guard status == 0 else { throw CLIError.usage("fuzz build of \(t.product) failed (exit \(status)); see the output above") }
    }
  }

  /// Runs `binary -runs=1000` on an empty corpus and requires `Done 1000 runs`: a binary linked without
  /// libFuzzer's driver exits at once and silently fuzzes nothing.
  static func checkFuzzes(_ t: FuzzTarget) throws {
    let dir = NSTemporaryDirectory() + "alloc-check-fuzzes-\(getpid())-\(t.name)"
    try? FileManager.default.removeItem(atPath: dir)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // A crash input goes to crashes/<target>/, never into the working directory (libFuzzer's default).
    try makeArtifactDirectories(t)
    let (status, output) = try runCapturing(binary(t), LibFuzzerArguments.proof(target: t.name, corpus: dir),
                                            env: environment(bugs: []))
    guard status == 0, output.contains("Done 1000 runs") else {
      throw CLIError.usage("\(binary(t)) does not fuzz (exit \(status), no \"Done 1000 runs\"): was it built with --sanitize=fuzzer? "
                           + "Last output: \(output.suffix(300))")
    }
  }

  /// Makes the directories every libFuzzer argument vector's `-artifact_prefix` names (libFuzzer does not).
  static func makeArtifactDirectories(_ t: FuzzTarget) throws {
    for d in LibFuzzerArguments.artifactDirectories(target: t.name) {
      try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    }
  }

  /// The committed inputs of `t` (seeds and regressions), as paths relative to its corpus folder, sorted:
  /// every `.bin` and `.txt`, and of a twin pair (the same program as bytes and as text) only the `.txt` when
  /// `preferText`, else only the `.bin`.
  static func committedInputs(_ t: FuzzTarget, preferText: Bool) -> [String] {
    let files = (FileManager.default.enumerator(atPath: corpusDir(t))?.compactMap { $0 as? String } ?? []).sorted()
    let (kept, twin) = preferText ? (".txt", ".bin") : (".bin", ".txt")
    return files.filter { f in
      f.hasSuffix(kept) || (f.hasSuffix(twin) && !files.contains(String(f.dropLast(4)) + kept))
    }
  }

  /// Writes every committed seed and regression of `t` as bytes into `.fuzz/<t>/seeds/` (text files are
  /// encoded; a .txt whose .bin twin exists is skipped). Returns the number of inputs staged.
  @discardableResult
  static func stageSeeds(_ t: FuzzTarget) throws -> Int {
    let dir = stagedSeeds(t)
    let fm = FileManager.default
    try? fm.removeItem(atPath: dir)
    try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var n = 0
    for f in committedInputs(t, preferText: false) {
      let bytes = try ProgramFiles.read(corpusDir(t) + "/" + f)
      let input = f.hasSuffix(".bin") ? bytes : t.encode(try CLISupport.loadProgram(bytes, name: f).program)
      try ProgramFiles.write(input, to: dir + "/" + f.replacingOccurrences(of: "/", with: "__"))
      n += 1
    }
    return n
  }

  static func fileCount(_ dir: String) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: dir).count) ?? 0
  }

  /// Runs a command with the terminal's stdout/stderr; returns its exit status.
  static func runForeground(_ tool: String, _ args: [String], env: [String: String]? = nil) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [tool] + args
    if let env { p.environment = env }
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
  }

  /// Runs a command with stdout and stderr into a temporary file; returns the status and the output.
  static func runCapturing(_ tool: String, _ args: [String], env: [String: String]? = nil) throws -> (Int32, String) {
    let log = NSTemporaryDirectory() + "alloc-check-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: log) }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tool.contains("/") ? tool : "/usr/bin/env")
    p.arguments = tool.contains("/") ? args : [tool] + args
    if let env { p.environment = env }
    p.standardOutput = handle
    p.standardError = handle
    try p.run()
    p.waitUntilExit()
    try? handle.close()
    return (p.terminationStatus, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
  }
}
