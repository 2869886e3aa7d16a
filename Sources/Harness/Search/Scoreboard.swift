// Scoreboard.swift — the kill matrix of issue 15 part 1 (first version: the in-process methods). For every
// seeded bug of every family and every method, a hunt from a clean start under a time box: programs are
// generated from the seed and run on the buggy allocator until one breaks any check; the cell records
// whether it was caught, the time to detect, the rule that fired, how many programs it took and the length
// of the failure shrunk (by rule, with a bounded number of attempts). A random method runs several seeds and
// the cell keeps the median time (an uncaught seed counts as the whole time box).
//
// Methods here: `property` (the quality suites' hunt: short and medium programs of every profile), `soak`
// (the soak schedule's longer programs), `faults` (FaultSweep over short programs: every mmap and C-heap
// call failed in turn — the only method that reaches a bug living on a failure path) and `explore` (PCT
// schedules of the built-in parallel scenarios on the controlled scheduler; mimalloc bugs only). The
// methods that need other processes or builds (libFuzzer, the differential, real-thread stress, TSan,
// Valgrind) are run by the CLI (AllocCheckCLI/ScoreExternal.swift) into the same cells.

import AllocUnderTest
import Foundation
import Oracle

/// A seeded bug of any family, as the scoreboard runs it.
public struct ScoreBug: Sendable {
  public var name: String
  public var family: ProgramFamily
  /// The check that exists to catch it (its quality-suite rule), or "—".
  public var expected: String
  public var bug: SeededBug

  /// Every seeded bug: pymalloc, then mimalloc, then the domains.
  public static var all: [ScoreBug] {
    PymallocBug.allCases.map { ScoreBug(name: $0.rawValue, family: .pymalloc, expected: $0.caughtBy, bug: .pymalloc($0)) }
      + MimallocBug.allCases.map { ScoreBug(name: $0.rawValue, family: .heaps, expected: $0.caughtBy, bug: .mimalloc($0)) }
      + DomainBug.allCases.map { ScoreBug(name: $0.rawValue, family: .domains, expected: CLISupport.domainRule(of: $0) ?? "—",
                                          bug: .domain($0)) }
  }

  var subject: FaultSubject {
    switch bug {
    case .pymalloc(let b): FaultSubject(family: family, pymallocBugs: [b])
    case .mimalloc(let b): FaultSubject(family: family, mimallocBugs: [b])
    case .domain(let b): FaultSubject(family: family, domainBugs: [b])
    }
  }
}

/// A detection method the scoreboard can run in process.
public enum ScoreMethod: String, CaseIterable, Sendable {
  case property, soak, faults, explore

  /// Why the method cannot reach `bug`, or nil when it can.
  public func notApplicable(to bug: ScoreBug) -> String? {
    self == .explore && bug.family != .heaps ? "explore runs the reference mimalloc" : nil
  }

  /// Program `k` of a hunt with seed `seed` for `family`.
  func program(_ family: ProgramFamily, seed: UInt64, k: Int) -> Program {
    let s = BugHunt.programSeed(seed, k)
    switch (self, family) {
    case (.property, .pymalloc):
      return (k % 8 == 7 ? ProgramGenerator(length: 6000, profile: .arenaChurn) : ProgramGenerator(length: k % 2 == 0 ? 40 : 300)).generate(seed: s)
    case (.soak, .pymalloc):
      let lengths = [50, 300, 2000, 6000]
      return (k % 4 == 3 ? ProgramGenerator(length: 5000, profile: .arenaChurn) : ProgramGenerator(length: lengths[k % 4])).generate(seed: s)
    case (.faults, .pymalloc):
      return ProgramGenerator(length: 100).generate(seed: s)
    case (.property, .heaps):
      let profiles = HeapsProgramGenerator.Profile.allCases
      return HeapsProgramGenerator(length: k % 2 == 0 ? 80 : 400, profile: profiles[k % profiles.count]).generate(seed: s)
    case (.soak, .heaps):
      return HeapsProgramGenerator(length: k % 2 == 0 ? 400 : 1500).generate(seed: s)
    case (.faults, .heaps):
      return HeapsProgramGenerator(length: 100).generate(seed: s)
    case (.property, .domains):
      return DomainsProgramGenerator(length: k % 2 == 0 ? 40 : 120).generate(seed: s)
    case (.soak, .domains):
      return DomainsProgramGenerator(length: k % 2 == 0 ? 300 : 1000).generate(seed: s)
    case (.faults, .domains):
      return DomainsProgramGenerator(length: 60).generate(seed: s)
    case (.explore, _):
      preconditionFailure("explore hunts run the built-in scenarios, not generated programs")
    }
  }
}

/// One hunt: a bug, a method, a seed.
public struct ScoreHunt: Sendable, Codable {
  public var caught: Bool
  public var seconds: Double
  public var programs: Int
  public var rule: String?
  public var shrunkOps: Int?
  /// The seed of the program that caught it (its canary run seed too).
  public var programSeed: UInt64?

  public init(caught: Bool, seconds: Double, programs: Int, rule: String?, shrunkOps: Int?, programSeed: UInt64?) {
    self.caught = caught
    self.seconds = seconds
    self.programs = programs
    self.rule = rule
    self.shrunkOps = shrunkOps
    self.programSeed = programSeed
  }
}

/// One cell of the matrix: every seed of a bug under a method.
public struct ScoreCell: Sendable, Codable {
  public var bug: String
  public var family: String
  public var expected: String
  public var method: String
  public var timeBox: Double
  public var hunts: [ScoreHunt]
  /// Why the method was not run on this bug (it cannot reach it, or its tool is missing); nil when it ran.
  public var notRun: String?

  public init(bug: String, family: String, expected: String, method: String, timeBox: Double, hunts: [ScoreHunt],
              notRun: String? = nil) {
    self.bug = bug
    self.family = family
    self.expected = expected
    self.method = method
    self.timeBox = timeBox
    self.hunts = hunts
    self.notRun = notRun
  }

  public var caughtCount: Int { hunts.filter(\.caught).count }
  /// Median time to detect over the seeds (an uncaught seed counts as the time box); nil when most missed.
  public var medianSeconds: Double? {
    guard caughtCount * 2 > hunts.count else { return nil }
    let times = hunts.map { $0.caught ? $0.seconds : timeBox }.sorted()
    return times[times.count / 2]
  }
  /// The rule most hunts reported.
  public var rule: String? {
    let rules = hunts.compactMap(\.rule)
    return Dictionary(grouping: rules, by: { $0 }).max { $0.value.count < $1.value.count }?.key
  }
  public var shrunkOps: Int? { hunts.compactMap(\.shrunkOps).min() }
}

public enum Scoreboard {
  /// Hunts `bug` with `method` from `seed` for at most `timeBox` seconds.
  public static func hunt(_ bug: ScoreBug, _ method: ScoreMethod, seed: UInt64, timeBox: Double, shrinkAttempts: Int = 300) -> ScoreHunt {
    hunt(bug.subject, method, seed: seed, timeBox: timeBox, shrinkAttempts: shrinkAttempts)
  }

  /// Hunts on `subject`'s allocator (seeded bugs or none: the mutation run's tier 1 hunts the plain one).
  public static func hunt(_ subject: FaultSubject, _ method: ScoreMethod, seed: UInt64, timeBox: Double, shrinkAttempts: Int = 300) -> ScoreHunt {
    let start = Date()
    if method == .explore { return exploreHunt(subject, seed: seed, timeBox: timeBox) }
    var k = 0
    let family = subject.family
    let adapter = subject.makeAdapter(failing: nil, call: 1)  // no fault: the subject's allocator
    while Date().timeIntervalSince(start) < timeBox {
      let program = method.program(family, seed: seed, k: k)
      let s = BugHunt.programSeed(seed, k)
      k += 1
      if method == .faults {
        let r = FaultSweep.sweep(program, subject, runSeed: s)
        let rule = r.baseline?.rule ?? r.failures.first?.rule
        if let rule {
          return ScoreHunt(caught: true, seconds: Date().timeIntervalSince(start), programs: k, rule: rule, shrunkOps: nil, programSeed: s)
        }
        continue
      }
      let oracle = family.fullOracle
      let v = Executor.run(program, on: adapter, config: ExecutorConfig(oracle: oracle, runSeed: s, recordTrace: false))
      guard let violation = v.violation else { continue }
      let seconds = Date().timeIntervalSince(start)
      // The shrink gets the time box too (a 6000-op program replays in a fraction of a second per attempt):
      // past it every candidate is refused, so the shrinker stops where it got.
      let deadline = Date().addingTimeInterval(timeBox)
      let shrunk = Shrinker.shrink(program, maxAttempts: shrinkAttempts) { candidate in
        Date() < deadline
          && Executor.run(candidate, on: adapter, config: ExecutorConfig(oracle: oracle, runSeed: s, recordTrace: false)).violation?.rule == violation.rule
      }
      return ScoreHunt(caught: true, seconds: seconds, programs: k, rule: violation.rule, shrunkOps: shrunk.program.ops.count, programSeed: s)
    }
    return ScoreHunt(caught: false, seconds: Date().timeIntervalSince(start), programs: k, rule: nil, shrunkOps: nil, programSeed: nil)
  }

  /// PCT schedules (depth 3) of the built-in scenarios on the reference mimalloc with the subject's bugs, until one
  /// breaks a check or the time box ends. `programs` counts schedules; nothing is shrunk (the explorer
  /// shrinks schedules, and the scenarios are already short).
  static func exploreHunt(_ subject: FaultSubject, seed: UInt64, timeBox: Double) -> ScoreHunt {
    guard subject.family == .heaps else {
      return ScoreHunt(caught: false, seconds: 0, programs: 0, rule: nil, shrunkOps: nil, programSeed: nil)
    }
    let start = Date()
    let report = Explorer(bugs: subject.mimallocBugs).explore(ExploreScenarios.all,
                                               ExploreOptions(strategy: .pct, schedules: .max, seconds: timeBox, seed: seed))
    let seconds = Date().timeIntervalSince(start)
    guard let f = report.failure else {
      return ScoreHunt(caught: false, seconds: seconds, programs: report.schedules, rule: nil, shrunkOps: nil, programSeed: nil)
    }
    return ScoreHunt(caught: true, seconds: seconds, programs: report.schedules, rule: f.run.violation?.rule ?? "?",
                     shrunkOps: f.program.parallel.program.ops.count, programSeed: seed)
  }

  /// The Markdown table: a row per bug, a column per method; then the kill rate per method.
  public static func markdown(_ cells: [ScoreCell], methods: [String], notRun: [String]) -> String {
    var out = "| bug | family | its check | " + methods.joined(separator: " | ") + " |\n"
    out += "|---|---|---|" + methods.map { _ in "---|" }.joined() + "\n"
    var order: [String] = []
    for c in cells where !order.contains(c.bug) { order.append(c.bug) }
    for bug in order {
      let row = cells.filter { $0.bug == bug }
      guard let first = row.first else { continue }
      out += "| \(bug) | \(first.family) | \(first.expected) | "
      out += methods.map { m in row.first { $0.method == m }.map(cellText) ?? "" }.joined(separator: " | ") + " |\n"
    }
    out += "\nKill rate (caught by a majority of seeds within the time box), over the bugs the method can reach and "
      + "over all bugs:\n\n"
    for m in methods {
      let all = cells.filter { $0.method == m }
      let col = all.filter { $0.notRun == nil }
      let killed = col.filter { $0.medianSeconds != nil }.count
      out += "- \(m): \(killed)/\(col.count) (\(col.isEmpty ? 0 : killed * 100 / col.count) %) of the bugs it ran on; "
        + "\(killed)/\(all.count) of all\n"
    }
    let any = Set(cells.filter { $0.medianSeconds != nil }.map(\.bug)).count
    out += "- any method: \(any)/\(order.count)\n"
    var reasons: [String] = []
    for m in methods {
      for why in Set(cells.filter { $0.method == m }.compactMap(\.notRun)).sorted() {
        let n = cells.filter { $0.method == m && $0.notRun == why }.count
        reasons.append("- \(m) on \(n) bug\(n == 1 ? "" : "s"): \(why)")
      }
    }
    if !reasons.isEmpty { out += "\nn/a — not run on a bug:\n\n" + reasons.joined(separator: "\n") + "\n" }
    if !notRun.isEmpty { out += "\nNot run at all: \(notRun.joined(separator: ", ")).\n" }
    return out
  }

  /// One cell as the table shows it.
  public static func cellText(_ c: ScoreCell) -> String {
    if c.notRun != nil { return "n/a" }
    let n = c.hunts.count
    guard let t = c.medianSeconds else { return c.caughtCount == 0 ? "— (\(n)×\(Int(c.timeBox)) s)" : "\(c.caughtCount)/\(n) seeds" }
    var s = "✓ " + (t < 0.01 ? "<0.01" : String(format: "%.2f", t)) + " s"
    if let r = c.rule { s += " \(r)" }
    if let o = c.shrunkOps { s += ", \(o) ops" }
    if c.caughtCount < n { s += " (\(c.caughtCount)/\(n))" }
    return s
  }
}
