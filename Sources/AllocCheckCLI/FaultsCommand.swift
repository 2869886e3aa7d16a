// FaultsCommand.swift — `alloc-check faults`: exhaustive out-of-memory injection (``FaultSweep``). For each
// program (files, the committed corpus, or generated from a seed), a clean run counts the calls of every
// allocation site; then one run per site and call number fails exactly that call. Prints the sites and the
// verdict per site of each program, every failure with its replay command, progress on stderr every 2 s,
// and a summary; exit 1 on any failure (a clean run that already fails counts as one).

import AllocUnderTest
import ArgumentParser
import Foundation
import FuzzTargets
import Harness

struct FaultsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "faults",
    abstract: "Fail every mmap and raw-malloc call of each program in turn; check the oracle and F1–F3 (exit 1 on a failure).",
    discussion: FaultCheck.allCases.map { "\($0.rawValue): \($0.summary)" }.joined(separator: "\n")
      + "\nSites: mmap (pymalloc arenas, mimalloc segments), raw (the C heap: pymalloc's raw allocator and radix"
      + " nodes, the domains' malloc backing).")

  @Argument(help: "Program files (text or fuzz bytes).") var files: [String] = []
  @Flag(help: "Sweep every committed program in corpus/ (seeds and regressions of every fuzz target).") var corpus = false
  @Option(help: "Generate programs from this seed (program i uses seed + i).") var seed: String?
  @Option(help: "How many programs to generate with --seed.") var programs: String = "10"
  @Option(help: "Ops per generated program.") var length: String = "200"
  @Option(help: "Family of generated programs (and of binary FILEs): pymalloc, heaps or domains.") var family: String?
  @Option(help: "Only this site: mmap or raw.") var site: String?
  @Option(help: "Only this call number of --site (a replay: prints the trace).") var call: String?
  @Option(name: .customLong("bug"), help: "Switch on a seeded pymalloc, mimalloc or domain bug (repeatable).") var bugs: [String] = []
  @Flag(help: "Print every site of every program, not only failures and a line per program.") var verbose = false

  struct Item {
    var program: Program
    var family: ProgramFamily
    var origin: String
    /// The arguments that select this program for `run` (`FILE`, or `--seed … --length …`).
    var selector: String
    /// The same for `faults` (generated: `--programs 1` added).
    var faultsSelector: String
    var runSeed: UInt64
  }

  func run() throws {
    let asked = try family.map { f throws(CLIError) in try CLISupport.parseFamily(f) }
    let onlySite = try site.map { s throws(CLIError) -> FaultSite in
      guard let v = FaultSite(rawValue: s) else { throw CLIError.usage("faults: unknown site \"\(s)\"; expected mmap or raw") }
      return v
    }
    let onlyCall = try call.map { c throws(CLIError) in try CLISupport.parseCount(c, option: "--call") }
    if onlyCall != nil && onlySite == nil { throw CLIError.usage("faults: --call needs --site") }
    let seeded = try bugs.map { b throws(CLIError) in try CLISupport.parseAnyBug(b) }
    let pymallocBugs = Set(seeded.compactMap { if case .pymalloc(let b) = $0 { b } else { nil } })
    let mimallocBugs = Set(seeded.compactMap { if case .mimalloc(let b) = $0 { b } else { nil } })
    let domainBugs = Set(seeded.compactMap { if case .domain(let b) = $0 { b } else { nil } })
    let bugFlags = bugs.map { " --bug \($0)" }.joined()

    let items = try collect(asked)
    guard !items.isEmpty else { throw CLIError.usage("faults: give program FILEs, --corpus, or --seed S [--programs N]") }
    Console.parameters("faults", [
      ("programs", "\(items.count)" + (corpus ? " (corpus/)" : seed != nil ? " (generated)" : "")),
      ("sites", onlySite.map { $0.rawValue + (onlyCall.map { " call \($0)" } ?? "") } ?? "every site, every call"),
      ("bugs", bugs.isEmpty ? "none" : bugs.joined(separator: ", ")),
    ])

    let start = Date()
    var lastProgress = Date()
    var (runs, failures, nulls) = (0, 0, 0)
    var siteCalls: [FaultSite: Int] = [:]
    var pairs = 0
    for (n, item) in items.enumerated() {
      let subject = FaultSubject(family: item.family, pymallocBugs: pymallocBugs, mimallocBugs: mimallocBugs, domainBugs: domainBugs)
      if let s = onlySite, let k = onlyCall {
        runs += 1
        let clean = FaultSweep.count(item.program, subject, runSeed: item.runSeed)
        let (failure, verdict) = FaultSweep.runOnce(item.program, subject, site: s, call: k, runSeed: item.runSeed,
                                                    cleanNulls: clean.nullOps, cleanRawBlocks: clean.rawBlocksLeft, recordTrace: true)
        Console.out("\(item.origin): \(s.rawValue) call \(k) fails")
        Console.out("trace:\n" + FailureReport.renderTrace(verdict.trace))
        if let f = failure {
          failures += 1
          Console.out("FAIL \(f.rule)\(f.opIndex.map { " at op \($0)" } ?? ""): \(f.detail)")
        } else {
          Console.out("PASS (fault at op \(verdict.faults.first.map { "\($0.opIndex)" } ?? "?"), F1–F3 and every rule hold)")
        }
        continue
      }
      let result = FaultSweep.sweep(item.program, subject, runSeed: item.runSeed, sites: onlySite.map { [$0] }) { _, _ in
        if Date().timeIntervalSince(lastProgress) >= 2 {
          lastProgress = Date()
          Console.err("faults: program \(n + 1)/\(items.count), \(runs) runs done before it, \(failures) failures, "
                      + "\(Int(Date().timeIntervalSince(start))) s")
        }
      }
      if let v = result.baseline {
        failures += 1
        Console.out("\(item.origin): FAIL without any fault: \(v.rule) at op \(v.opIndex): \(v.detail)\n"
                    + "  replay: alloc-check run \(item.selector)\(bugFlags)")
        continue
      }
      runs += result.runs
      let counts = result.sites.map { "\($0.site.rawValue) \($0.calls) call\($0.calls == 1 ? "" : "s")" }.joined(separator: ", ")
      let programNulls = result.sites.reduce(0) { $0 + $1.nulls }
      nulls += programNulls
      for s in result.sites {
        siteCalls[s.site, default: 0] += s.calls
        if s.calls > 0 { pairs += 1 }
      }
      let bad = result.failures
      failures += bad.count
      Console.out("\(item.origin): \(counts); \(result.runs) runs, \(programNulls) NULL, "
                  + (bad.isEmpty ? "ok" : "\(bad.count) FAILED"))
      if verbose {
        for s in result.sites {
          Console.out("  \(s.site.rawValue): calls 1…\(s.calls): \(s.calls - s.failures.count) ok, \(s.nulls) surfaced as NULL")
        }
      }
      for f in bad.prefix(10) {
        Console.out("  FAIL \(f.site.rawValue) call \(f.call): \(f.rule)\(f.opIndex.map { " at op \($0)" } ?? ""): \(f.detail)\n"
                    + "    replay: alloc-check faults \(item.faultsSelector) --site \(f.site.rawValue) --call \(f.call)\(bugFlags)\n"
                    + "    verdict only: alloc-check run \(item.selector) \(f.site.runOption) nth:\(f.call)\(bugFlags)")
      }
      if bad.count > 10 { Console.out("  … and \(bad.count - 10) more failures") }
    }
    let seconds = Date().timeIntervalSince(start)
    if onlyCall != nil {
      Console.out("faults: \(runs) run\(runs == 1 ? "" : "s") replayed, \(failures) failures")
      if failures > 0 { throw ExitCode(1) }
      return
    }
    let perSite = FaultSite.allCases.compactMap { s in siteCalls[s].map { "\(s.rawValue) \($0)" } }.joined(separator: ", ")
    Console.out("faults: \(items.count) programs swept, "
                + "\(runs) runs, \(pairs) program×site pairs with calls (calls failed: \(perSite.isEmpty ? "none" : perSite)), "
                + "\(nulls) surfaced as NULL, \(failures) failures, \(String(format: "%.1f", seconds)) s")
    if failures > 0 { throw ExitCode(1) }
  }

  /// The programs to sweep, in order.
  private func collect(_ asked: ProgramFamily?) throws -> [Item] {
    var items: [Item] = []
    for f in files {
      let r = try ProgramSourceOptions.resolve(file: f, seed: nil, length: nil, profile: nil,
                                               family: asked?.rawValue, command: "faults")
      items.append(Item(program: r.program, family: r.family, origin: r.origin, selector: f, faultsSelector: f, runSeed: r.runSeed))
    }
    if corpus {
      try FuzzWorkspace.requirePackageRoot()
      for t in FuzzTargets.all {
        let dir = FuzzWorkspace.corpusDir(t)
        // Of a twin pair the text: the same program, and it replays without knowing the target's decoder.
        for name in FuzzWorkspace.committedInputs(t, preferText: true) {
          let path = dir + "/" + name
          let bytes = try ProgramFiles.read(path)
          let fam = try CLISupport.parseFamily(t.family)
          let program: Program
          let runSeed: UInt64
          if name.hasSuffix(".bin") {
            program = t.decode(bytes)
            runSeed = 0
          } else {
            let loaded = try CLISupport.loadProgram(bytes, name: path, family: fam)
            program = loaded.program
            runSeed = loaded.seedComment ?? 0
          }
          let selector = path + (fam == .pymalloc || name.hasSuffix(".txt") ? "" : " --family \(fam.rawValue)")
          items.append(Item(program: program, family: fam, origin: "\(path) (\(program.ops.count) ops)",
                            selector: selector, faultsSelector: selector, runSeed: runSeed))
        }
      }
    }
    if let seed {
      let first = try CLISupport.parseSeed(seed)
      let n = try CLISupport.parseCount(programs, option: "--programs")
      let fam = asked ?? .pymalloc
      for i in 0..<n {
        let s = first &+ UInt64(i)
        let r = try ProgramSourceOptions.resolve(file: nil, seed: hex(s), length: length, profile: nil,
                                                 family: fam.rawValue, command: "faults")
        let selector = "--seed \(hex(s)) --length \(length)" + (fam == .pymalloc ? "" : " --family \(fam.rawValue)")
        items.append(Item(program: r.program, family: fam, origin: r.origin, selector: selector,
                          faultsSelector: selector + " --programs 1", runSeed: r.runSeed))
      }
    }
    return items
  }
}
