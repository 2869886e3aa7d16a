// FuzzCommand.swift — `alloc-check fuzz`: the overnight libFuzzer run. Builds the fuzz binaries, checks each
// really fuzzes, stages the committed seeds, then runs `--jobs` libFuzzer processes (spread over the targets,
// sharing each target's working corpus) until `--for` is up, printing progress every 10 s from their status
// lines. A process that crashes is triaged through the normal executor, its input kept under
// `crashes/<target>/` with a decoded twin, and restarted for the time left (unless --until-crash). Ctrl-C is
// forwarded to every process; the corpus, logs and run record stay. Layout: FuzzWorkspace.swift.
// Exit: 0 no crash, 1 at least one crash (each listed with its repro command), 2 bad input or a failed build.

import ArgumentParser
import Foundation
import FuzzTargets
import Harness

struct FuzzCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fuzz",
    abstract: "Run the libFuzzer targets for a time box, growing their corpora and saving crashes.",
    discussion: """
      Targets: \(FuzzTargets.all.map { "\($0.name) (\($0.product))" }.joined(separator: ", ")).
      Working corpus .fuzz/<target>/corpus (the committed corpus/<target>/ seeds are read, never written);
      crashes go to crashes/<target>/; the run record, logs and plot to .fuzz/runs/<id>/ (alloc-check report).
      """)

  @Argument(help: "Targets to run (default: all).") var targets: [String] = []
  @Flag(help: "Run every target.") var all = false
  @Option(name: .customLong("for"), help: "How long: 90s, 10m, 8h.") var duration: String = "10m"
  @Option(help: "libFuzzer processes in all (default: the number of cores, at least one per target).") var jobs: String?
  @Option(help: "Seed of the run (libFuzzer -seed of job k is seed + k); default: a fresh one, printed.") var seed: String?
  @Option(name: .customLong("bug"), help: "Switch on a seeded bug in the fuzz processes (repeatable; see alloc-check bugs).")
  var bugs: [String] = []
  @Flag(help: "Stop every process at the first crash.") var untilCrash = false
  @Flag(help: "Start without the committed seeds (to time how long the fuzzer alone takes to find a seeded bug).")
  var noSeeds = false
  @Option(help: "Working corpus folder instead of .fuzz/<target>/corpus (one target only).") var corpus: String?
  @Flag(help: "Do not build; use the binaries in .build-fuzz as they are.") var noBuild = false
  @Option(help: "libFuzzer -max_len (bytes per input); auto: 4096, or the largest committed seed of the chosen targets rounded up to 1 KiB when that is more (libFuzzer cuts longer seeds). libFuzzer's length control still starts with short inputs.")
  var maxLen: String = "auto"
  @Option(help: "libFuzzer -timeout (seconds per input).") var timeout: String = "60"
  @Option(help: "Seconds between progress lines.") var every: String = "10"

  /// The default -max_len, chosen by measurement (scripts/time-to-detect, issue 12): 4096 bytes (about
  /// 1000–2000 ops) found the fuzz-found seeded bugs as fast as 256 or 1024, since libFuzzer's length
  /// control grows inputs from a few bytes and reaches a few hundred only after minutes; a longer committed
  /// seed raises it so that seed is not cut.
  static func autoMaxLen(_ targets: [FuzzTarget]) -> Int {
    let longest = targets.flatMap { t in t.seeds.map { t.encode($0.program).count } }.max() ?? 0
    return max(4096, (longest + 1023) / 1024 * 1024)
  }

  func run() throws {
    try FuzzWorkspace.requirePackageRoot()
    let chosen = try FuzzWorkspace.targets(targets, all: all)
    for t in chosen { _ = try FuzzWorkspace.bugs(bugs, for: t) }
    let total = try CLISupport.parseDuration(duration)
    let seconds = Int(total.components.seconds)
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let jobCount = max(try jobs.map { j throws(CLIError) in try CLISupport.parseCount(j, option: "--jobs") } ?? cores, chosen.count)
    let seed = try self.seed.map { s throws(CLIError) in try CLISupport.parseSeed(s) } ?? UInt64(UInt32.random(in: 1...UInt32.max))
    let maxLen = self.maxLen == "auto" ? Self.autoMaxLen(chosen) : try CLISupport.parseCount(self.maxLen, option: "--max-len")
    let timeout = try CLISupport.parseCount(self.timeout, option: "--timeout")
    let every = try CLISupport.parseCount(self.every, option: "--every")
    guard corpus == nil || chosen.count == 1 else { throw CLIError.usage("fuzz: --corpus needs exactly one target") }

    if !noBuild { try FuzzWorkspace.build(chosen) }
    for t in chosen { try FuzzWorkspace.checkFuzzes(t) }

    let id = Self.runID()
    let runDir = FuzzWorkspace.runsDir + "/" + id
    try ProgramFiles.makeDirectory(runDir)
    try ProgramFiles.write(id + "\n", to: FuzzWorkspace.runsDir + "/latest")
    var record = FuzzRunRecord(id: id, started: Self.iso(Date()), requestedSeconds: seconds, jobs: jobCount, seed: seed,
                               bugs: bugs, command: rerunCommand(seed: seed, jobs: jobCount), targets: [])
    for (k, t) in chosen.enumerated() {
      let staged = noSeeds ? 0 : try FuzzWorkspace.stageSeeds(t)
      let work = corpus ?? FuzzWorkspace.workCorpus(t)
      try ProgramFiles.makeDirectory(work)
      try ProgramFiles.makeDirectory(FuzzWorkspace.crashesDir(t))
      var entry = FuzzRunRecord.Target(name: t.name, product: t.product, jobs: jobCount / chosen.count + (k < jobCount % chosen.count ? 1 : 0))
      entry.corpus = work
      entry.corpusStart = FuzzWorkspace.fileCount(work)
      record.targets.append(entry)
      Console.err("fuzz: \(t.name): \(staged) committed seeds and regressions staged, working corpus \(entry.corpusStart) inputs")
    }
    Console.parameters("fuzz", [
      ("run", "\(id) (record: \(runDir)/run.json; alloc-check report)"),
      ("targets", record.targets.map { "\($0.name) ×\($0.jobs)" }.joined(separator: ", ")),
      ("time", CLISupport.spell(total) + (untilCrash ? ", or until the first crash" : "")),
      ("seed", hex(seed)), ("bugs", bugs.isEmpty ? "none" : bugs.joined(separator: ", ")),
      ("oracle", "every rule after every op, invariants around the touched blocks, whole walks on the growing cadence (the fuzz targets' oracle)"),
      ("libFuzzer", "-max_len=\(maxLen) -timeout=\(timeout) -detect_leaks=0, dictionary corpus/<target>/<target>.dict"),
      ("rerun", record.command),
    ])

    var campaign = Campaign(targets: chosen, record: record, runDir: runDir, bugs: bugs, seed: seed, maxLen: maxLen,
                            timeout: timeout, untilCrash: untilCrash, total: seconds, seeds: !noSeeds)
    Interrupt.install()
    try campaign.start()
    campaign.loop(every: every)
    campaign.finish()
    let crashes = campaign.record.targets.flatMap(\.crashes)
    if !crashes.isEmpty { throw ExitCode(1) }
  }

  static func runID() -> String {
    let f = DateFormatter()
    f.dateFormat = "yyyyMMdd-HHmmss"
    f.timeZone = TimeZone(identifier: "UTC")
    return f.string(from: Date())
  }

  static func iso(_ d: Date) -> String { ISO8601DateFormatter().string(from: d) }

  func rerunCommand(seed: UInt64, jobs: Int) -> String {
    var cmd = "swift run -c release alloc-check fuzz " + (targets.isEmpty ? "--all" : targets.joined(separator: " "))
    cmd += " --for \(duration) --jobs \(jobs) --seed \(hex(seed))"
    cmd += bugs.map { " --bug \($0)" }.joined()
    if untilCrash { cmd += " --until-crash" }
    if noSeeds { cmd += " --no-seeds" }
    if let corpus { cmd += " --corpus \(corpus)" }
    return cmd
  }
}
