// MutateCommand.swift — `alloc-check mutate`: mutation testing of Sources/AllocUnderTest (issue 15 part 2).
// Mutants come from ``Mutator`` (seeded sample under --cap); each runs in a copy of the package's sources
// at .fuzz/mutants/work with its own scratch path .fuzz/mutants/build (the user's .build is never touched):
// the mutated file is written, the build is incremental (one file of AllocUnderTest changed), tier 1 is
// `alloc-check mutant-check` of that build, and only its survivors go to tier 2, the property and quality
// suites of the same build. Results go one JSON line at a time to .fuzz/mutants/results.jsonl (resume: run
// the same command again), the report to .fuzz/mutants/report.md and report.json. Equivalent mutants are
// listed with their reasons in Documentation/mutants-equivalent.txt.

import ArgumentParser
import Foundation
import Harness

struct MutateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mutate",
    abstract: "Mutation testing of Sources/AllocUnderTest: build each mutant, run tier 1 and tier 2 checks, report.",
    discussion: MutationOperator.allCases.map { "\($0.rawValue): \($0.summary)" }.joined(separator: "\n")
      + "\nKill rate = (killed + timed out) / (mutants − equivalent − did not build). See Documentation/Mutants.md.")

  @Option(help: "Comma list of files or folders under Sources/AllocUnderTest.") var files: String = "Pymalloc,Mimalloc"
  @Option(help: "Run at most N mutants, sampled with --seed.") var cap: String?
  @Option(help: "Sampling seed (default: a fresh one, printed).") var seed: String?
  @Option(help: "Time limit of each check tier (and of a build: 4 times it).") var timeLimit: String = "5m"
  @Option(help: "Time box of each tier-1 hunt (a family and a method).") var each: String = "2s"
  @Flag(help: "Print the mutants (id and diff) and stop.") var list = false
  @Option(help: "Run only this mutant id (repeatable).") var only: [String] = []
  @Flag(help: "Also mutate seeded-bug code (reached only with a seeded bug on).") var includeBugCode = false
  @Flag(help: "Skip tier 2 (the test suites): tier-1 survivors are reported as survivors.") var noTier2 = false
  @Flag(help: "Only rewrite the report from the recorded results.") var reportOnly = false
  @Option(help: "Equivalent mutants: a file of `ID<TAB>reason` lines.") var equivalents: String = "Documentation/mutants-equivalent.txt"

  static let root = "Sources/AllocUnderTest"
  static let dir = ".fuzz/mutants"
  /// Seeded-bug catalogues: not allocator code (their mutants only rename or renumber bugs).
  static let excludedFiles: Set<String> = ["Pymalloc/SeededBug.swift", "Mimalloc/MimallocBug.swift"]

  func run() throws {
    let paths = try Self.sourceFiles(files.split(separator: ",").map(String.init))
    var all: [Mutant] = []
    for p in paths {
      let text = try String(contentsOfFile: Self.root + "/" + p, encoding: .utf8)
      all += Mutator.mutants(of: text, file: p, includeBugCode: includeBugCode)
    }
    let capN = try cap.map { c throws(CLIError) in try CLISupport.parseCount(c, option: "--cap") }
    let seedV = try seed.map { s throws(CLIError) in try CLISupport.parseSeed(s) } ?? SeededRandom.freshSeed()
    var chosen = Mutator.sample(all, cap: capN, seed: seedV)
    if !only.isEmpty {
      chosen = all.filter { only.contains($0.id) }
      for id in only where !chosen.contains(where: { $0.id == id }) { throw CLIError.usage("mutate: no mutant \"\(id)\" (see --list)") }
    }
    let perOp = Dictionary(grouping: all, by: { $0.op.rawValue }).map { "\($0.key) \($0.value.count)" }.sorted().joined(separator: ", ")
    let eq = EquivalentList(text: (try? String(contentsOfFile: equivalents, encoding: .utf8)) ?? "")
    if list {
      for m in chosen { Console.out("\(m.id)\(eq.reason(for: m).map { "  [equivalent: \($0)]" } ?? "")\n\(m.diff)\n") }
      Console.out("mutate: \(chosen.count) of \(all.count) mutants in \(paths.count) files (\(perOp)); seed \(hex(seedV))")
      return
    }
    let limit = Double(try CLISupport.parseDuration(timeLimit).components.seconds)
    try FileManager.default.createDirectory(atPath: Self.dir, withIntermediateDirectories: true)
    let fingerprint = try Self.fingerprint()
    let runner = MutationRun(sourcesRoot: Self.dir + "/work/" + Self.root, resultsPath: Self.dir + "/results.jsonl",
                             fingerprint: fingerprint, equivalents: eq)
    var done = runner.recorded()
    Console.parameters("mutate", [
      ("mutants", "\(chosen.count) of \(all.count) in \(paths.count) files (\(perOp))"),
      ("seed", hex(seedV) + (capN.map { " (cap \($0))" } ?? "")),
      ("already done", "\(chosen.filter { done[$0.id] != nil }.count) (\(runner.resultsPath), checks fingerprint \(fingerprint))"),
      ("work copy", "\(Self.dir)/work, scratch path \(Self.dir)/build (incremental debug build with -O)"),
      ("tier 1", "alloc-check mutant-check: property, soak and faults hunts of \(each) per family, the committed corpus"),
      ("tier 2", noTier2 ? "off" : "swift test --filter (property and quality suites of the file's families)"),
      ("time limit", "\(timeLimit) per tier, \(CLISupport.spell(.seconds(Int64(limit * 4)))) per build"),
      ("rerun", "alloc-check mutate --files \(files)" + (capN.map { " --cap \($0)" } ?? "") + " --seed \(hex(seedV))"),
    ])
    if reportOnly { return try writeReport(chosen, done, seed: seedV, total: all.count) }

    try Self.syncWorkCopy()
    Interrupt.install()
    // In an order drawn from the seed, not file order: an interrupted run is still a uniform sample.
    let todo = chosen.filter { done[$0.id] == nil }.sorted { Mutator.lineHash(hex(seedV) + $0.id) < Mutator.lineHash(hex(seedV) + $1.id) }
    let steps = Self.steps(limit: limit, each: each, tier2: !noTier2)
    let began = Date()
    var inconclusive = 0
    for (i, m) in todo.enumerated() {
      if Interrupt.requested { break }
      let r: MutantResult
      do {
        r = try runner.run(m, steps: steps, interrupted: { Interrupt.requested })
      } catch MutationError.interrupted {
        break
      } catch MutationError.inconclusive(let why) {
        inconclusive += 1
        Console.err("[\(chosen.count - todo.count + i + 1)/\(chosen.count)] \(why)")
        continue
      }
      done[m.id] = r
      let elapsed = Date().timeIntervalSince(began)
      let eta = elapsed / Double(i + 1) * Double(todo.count - i - 1)
      let what = r.status == .killed ? "killed (tier \(r.tier ?? 0): \(r.detail ?? ""))" : r.status.rawValue + (r.detail.map { " (\($0.prefix(120)))" } ?? "")
      // Progress on stderr, unbuffered (stdout to a file is flushed only at exit).
      Console.err("[\(chosen.count - todo.count + i + 1)/\(chosen.count)] \(m.id) \(what); build \(Int(r.buildSeconds)) s, checks "
                  + "\(Int(r.checkSeconds)) s; ETA \(CLISupport.spell(.seconds(Int64(eta))))")
      if r.status == .survived { Console.err(m.diff) }
    }
    try writeReport(chosen, done, seed: seedV, total: all.count)
    if inconclusive > 0 {
      Console.out("mutate: \(inconclusive) mutant(s) not judged (a build past its time limit; the machine may be loaded). Rerun the same command to try them again, perhaps with a larger --time-limit")
    }
    if Interrupt.requested { Console.out("mutate: interrupted; the work copy is restored and nothing was lost. Resume: rerun the same command") }
  }

  func writeReport(_ chosen: [Mutant], _ done: [String: MutantResult], seed: UInt64, total: Int) throws {
    let results = chosen.compactMap { done[$0.id] }
    let header = "# Mutation run\n\n\(results.count) of \(chosen.count) sampled mutants done (of \(total) in `\(files)`), seed "
      + "\(hex(seed)); `alloc-check mutate --files \(files)\(cap.map { " --cap \($0)" } ?? "") --seed \(hex(seed))`.\n\n"
    let md = MutationReport.markdown(results, header: header)
    try ProgramFiles.write(md, to: Self.dir + "/report.md")
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(results).write(to: URL(fileURLWithPath: Self.dir + "/report.json"))
    Console.out(md)
    Console.out("wrote \(Self.dir)/report.md and \(Self.dir)/report.json")
  }

  /// The .swift files under the given files or folders of Sources/AllocUnderTest, sorted, catalogues aside.
  static func sourceFiles(_ items: [String]) throws -> [String] {
    var out: [String] = []
    let fm = FileManager.default
    for item in items {
      let path = root + "/" + item
      var isDir: ObjCBool = false
      guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
        throw CLIError.usage("mutate: no \(path) (run from the repository root; --files names files or folders under \(root))")
      }
      if isDir.boolValue {
        let names = (fm.enumerator(atPath: path)?.compactMap { $0 as? String } ?? []).filter { $0.hasSuffix(".swift") }
        out += names.map { item + "/" + $0 }.filter { !excludedFiles.contains($0) }
      } else {
        out.append(item)
      }
    }
    return Array(Set(out)).sorted()
  }

  /// FNV-1a (64 bits) over the paths and contents of Sources/ and Tests/: which checks judged a survivor.
  static func fingerprint() throws -> String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for top in ["Sources", "Tests"] {
      for f in (FileManager.default.enumerator(atPath: top)?.compactMap { $0 as? String } ?? []).sorted() {
        let p = top + "/" + f
        guard let data = FileManager.default.contents(atPath: p) else { continue }
        for b in Array(p.utf8) + [0] + Array(data) { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
      }
    }
    return String(h, radix: 16)
  }

  /// Makes .fuzz/mutants/work a copy of Package.swift, Sources/ and Tests/, writing only files whose
  /// content differs (unchanged files keep their times, so the build stays incremental) and removing
  /// files gone from the repository; corpus/ is linked, not copied.
  static func syncWorkCopy() throws {
    let fm = FileManager.default
    let work = dir + "/work"
    try fm.createDirectory(atPath: work, withIntermediateDirectories: true)
    for f in ["Package.swift", "Package.resolved"] where fm.fileExists(atPath: f) {
      try copyIfChanged(f, work + "/" + f)
    }
    for top in ["Sources", "Tests"] {
      let files = Set((fm.enumerator(atPath: top)?.compactMap { $0 as? String } ?? []).filter { f in
        var d: ObjCBool = false
        return fm.fileExists(atPath: top + "/" + f, isDirectory: &d) && !d.boolValue
      })
      for f in files { try copyIfChanged(top + "/" + f, work + "/" + top + "/" + f) }
      for f in fm.enumerator(atPath: work + "/" + top)?.compactMap({ $0 as? String }) ?? [] {
        var d: ObjCBool = false
        if fm.fileExists(atPath: work + "/" + top + "/" + f, isDirectory: &d), !d.boolValue, !files.contains(f) {
          try fm.removeItem(atPath: work + "/" + top + "/" + f)
        }
      }
    }
    if !fm.fileExists(atPath: work + "/corpus") {
      try fm.createSymbolicLink(atPath: work + "/corpus", withDestinationPath: "../../../corpus")
    }
  }

  static func copyIfChanged(_ from: String, _ to: String) throws {
    let fm = FileManager.default
    let data = fm.contents(atPath: from)
    if let data, fm.contents(atPath: to) != data {
      try fm.createDirectory(atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      try data.write(to: URL(fileURLWithPath: to))
    }
  }

  /// The families whose programs reach a file's code: its own and the domains (which sit on both).
  static func families(_ m: Mutant) -> [String] {
    m.file.hasPrefix("Pymalloc/") ? ["pymalloc", "domains"] : m.file.hasPrefix("Mimalloc/") ? ["heaps", "domains"] : ["pymalloc", "heaps", "domains"]
  }

  /// Tier 2's test filter: the property and quality suites of the file's families.
  static func testFilter(_ m: Mutant) -> String {
    var suites = ["DomainsPropertyTests", "DomainsQualityTests", "MutantKillTests"]
    // The families' property and quality suites, then their unit suites (each a few seconds; they pin
    // policy and output no generated program looks at, such as the stats text or the reclaim order).
    if !m.file.hasPrefix("Mimalloc/") {
      suites += ["AllocCheckTests.PropertyTests", "AllocCheckTests.QualityTests", "PymallocPolicyTests", "DebugMallocStatsTests",
                 "PymallocScenarioTests"]
    }
    if !m.file.hasPrefix("Pymalloc/") {
      suites += ["HeapsPropertyTests", "HeapsQualityTests", "MimallocBugTests", "MimallocAbandonTests", "MimallocHeapTests",
                 "MimallocBinTests", "MimallocLocalInvariantTests", "MimallocCrossThreadTests", "MimallocRandomTests"]
    }
    return suites.joined(separator: "|")
  }

  /// The build and both tiers as subprocesses of the work copy (nice, with time limits, output in logs/).
  static func steps(limit: Double, each: String, tier2: Bool) -> MutationSteps {
    let work = dir + "/work"
    let flags = ["-c", "debug", "-Xswiftc", "-O", "--package-path", work, "--scratch-path", dir + "/build"]
    let env = ["SWIFT_BACKTRACE": "enable=no", "SWIFT_DETERMINISTIC_HASHING": "1"]
    let logs = dir + "/logs"
    try? FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
    func log(_ m: Mutant, _ step: String) -> String {
      logs + "/" + m.id.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: ":", with: "_") + "." + step + ".log"
    }
    return MutationSteps(
      build: { m in
        let r = Subprocess.run(["nice", "swift", "build", "--product", "alloc-check"] + flags, log: log(m, "build"), timeout: limit * 4, env: env)
        if r.timedOut { return .timedOut }
        return r.status == 0 ? .passed : .failed(Subprocess.firstLine(log(m, "build"), containing: "error:") ?? "exit \(r.status)")
      },
      tier1: { m in
        let r = Subprocess.run(["nice", dir + "/build/debug/alloc-check", "mutant-check", "--families", families(m).joined(separator: ","),
                                "--each", each], log: log(m, "tier1"), timeout: limit, env: env)
        return Subprocess.verdict(r, log: log(m, "tier1"), marker: "KILLED ")
      },
      tier2: { m in
        guard tier2 else { return .passed }
        let b = Subprocess.run(["nice", "swift", "build", "--build-tests"] + flags, log: log(m, "build-tests"), timeout: limit * 4, env: env)
        // The mutant already compiled in the CLI build; a test build this slow is the machine, not a kill.
        if b.timedOut { return .inconclusive("the test build ran past its time limit") }
        guard b.status == 0 else { return .failed("test build failed: " + (Subprocess.firstLine(log(m, "build-tests"), containing: "error:") ?? "")) }
        let r = Subprocess.run(["nice", "swift", "test", "--skip-build", "--filter", testFilter(m)] + flags, log: log(m, "tier2"),
                               timeout: limit, env: env)
        return Subprocess.verdict(r, log: log(m, "tier2"), marker: "✘ Test ")
      })
  }
}
