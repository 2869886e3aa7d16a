// MutationRun.swift — runs mutants (issue 15 part 2): for each, the mutated file is written into the work
// copy of the package, built incrementally, checked by tier 1 (a fast kill check: generated programs of
// every family under the full oracle, fault sweeps and the committed corpus) and, if it survives, by
// tier 2 (the property and quality suites); then the file is restored. The steps are closures
// (``MutationSteps``), so tests drive the loop with stubs. Every finished mutant is appended to a JSON-lines
// results file at once: an interrupted run loses nothing and resumes where it stopped.

import Foundation

public enum MutantStatus: String, Codable, Sendable, CaseIterable {
  case killed
  case survived
  case timedOut = "timed out"
  case didNotBuild = "did not build"
  case equivalent
}

/// The outcome of a build or a check.
public enum StepOutcome: Sendable, Equatable {
  case passed
  /// The check failed: what fired (a rule, a test, a crash).
  case failed(String)
  case timedOut
  /// The step could not judge the mutant (the package or its tests took longer than the build limit to
  /// compile, which says more about the machine's load than about the mutant): nothing is recorded, and a
  /// rerun tries the mutant again.
  case inconclusive(String)
}

/// One finished mutant.
public struct MutantResult: Codable, Sendable, Equatable {
  public var mutant: Mutant
  public var status: MutantStatus
  /// 1 or 2 for a kill; nil otherwise.
  public var tier: Int?
  /// What killed it (rule, test or crash), why it did not build, or the equivalence reason.
  public var detail: String?
  public var buildSeconds: Double
  public var checkSeconds: Double
  /// Fingerprint of the checks (sources and tests, the mutated files aside) it was judged by.
  public var fingerprint: String

  public init(mutant: Mutant, status: MutantStatus, tier: Int?, detail: String?, buildSeconds: Double, checkSeconds: Double,
              fingerprint: String) {
    self.mutant = mutant
    self.status = status
    self.tier = tier
    self.detail = detail
    self.buildSeconds = buildSeconds
    self.checkSeconds = checkSeconds
    self.fingerprint = fingerprint
  }
}

/// The steps of one mutant, given the work copy with the mutant written in.
public struct MutationSteps {
  public var build: (Mutant) -> StepOutcome
  public var tier1: (Mutant) -> StepOutcome
  public var tier2: (Mutant) -> StepOutcome

  public init(build: @escaping (Mutant) -> StepOutcome, tier1: @escaping (Mutant) -> StepOutcome,
              tier2: @escaping (Mutant) -> StepOutcome) {
    self.build = build
    self.tier1 = tier1
    self.tier2 = tier2
  }
}

/// Equivalent mutants with their reasons, read from a text file: `ID<TAB>reason` a line, `#` comments.
/// An entry matches by full id, or by the id without its line number (lines above may have moved).
public struct EquivalentList: Sendable {
  public var reasons: [String: String] = [:]

  public init() {}

  public init(text: String) {
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      let parts = line.split(separator: "\t", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      guard parts.count == 2, !parts[0].isEmpty else { continue }
      reasons[parts[0]] = parts[1]
      let m = Mutant(id: parts[0], file: "", line: 0, op: .relational, original: "", mutated: "", edits: [], bugCode: false)
      reasons[m.lineFreeKey] = reasons[m.lineFreeKey] ?? parts[1]
    }
  }

  public func reason(for m: Mutant) -> String? { reasons[m.id] ?? reasons[m.lineFreeKey] }
}

/// The mutation loop over one work copy.
public struct MutationRun {
  /// The work copy's mutated sources root (mutant files are relative to it).
  public var sourcesRoot: String
  /// The JSON-lines results file.
  public var resultsPath: String
  public var fingerprint: String
  public var equivalents: EquivalentList

  public init(sourcesRoot: String, resultsPath: String, fingerprint: String, equivalents: EquivalentList) {
    self.sourcesRoot = sourcesRoot
    self.resultsPath = resultsPath
    self.fingerprint = fingerprint
    self.equivalents = equivalents
  }

  /// Results already recorded that still hold: kills and build failures always (a new check cannot undo
  /// them), survivors and time-outs only under the same fingerprint; the last record of an id wins.
  public func recorded() -> [String: MutantResult] {
    guard let text = try? String(contentsOfFile: resultsPath, encoding: .utf8) else { return [:] }
    var out: [String: MutantResult] = [:]
    let decoder = JSONDecoder()
    for line in text.split(separator: "\n") {
      guard let r = try? decoder.decode(MutantResult.self, from: Data(line.utf8)) else { continue }
      let lasting = r.status == .killed || r.status == .didNotBuild
      if lasting || r.fingerprint == fingerprint { out[r.mutant.id] = r } else { out[r.mutant.id] = nil }
    }
    return out
  }

  /// Runs one mutant: writes it, builds, checks, restores the file (also when a step throws), records it.
  /// When `interrupted()` turns true during the steps (Ctrl-C also stops the child processes), nothing is
  /// recorded: the file is restored and ``MutationError/interrupted`` thrown.
  public func run(_ m: Mutant, steps: MutationSteps, interrupted: () -> Bool = { false }) throws -> MutantResult {
    if let why = equivalents.reason(for: m) {
      let r = MutantResult(mutant: m, status: .equivalent, tier: nil, detail: why, buildSeconds: 0, checkSeconds: 0, fingerprint: fingerprint)
      try append(r)
      return r
    }
    let path = sourcesRoot + "/" + m.file
    let original = try String(contentsOfFile: path, encoding: .utf8)
    guard original.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(m.line - 1).first.map(String.init) == m.original else {
      throw MutationError.stale("\(m.id): line \(m.line) of \(m.file) is no longer the line this mutant was made from")
    }
    try m.apply(to: original).write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? original.write(toFile: path, atomically: true, encoding: .utf8) }
    let t0 = Date()
    let built = steps.build(m)
    let buildSeconds = Date().timeIntervalSince(t0)
    var result = MutantResult(mutant: m, status: .survived, tier: nil, detail: nil, buildSeconds: buildSeconds, checkSeconds: 0,
                              fingerprint: fingerprint)
    switch built {
    case .failed(let why):
      result.status = .didNotBuild
      result.detail = why
    case .timedOut, .inconclusive:
      if interrupted() { throw MutationError.interrupted }
      throw MutationError.inconclusive("\(m.id): the build ran past its time limit; nothing recorded, a rerun tries it again")
    case .passed:
      let t1 = Date()
      for (tier, step) in [(1, steps.tier1), (2, steps.tier2)] {
        let outcome = step(m)
        switch outcome {
        case .passed: continue
        case .failed(let what):
          result.status = .killed
          result.detail = what
        case .timedOut:
          result.status = .timedOut
          result.detail = "tier \(tier) ran past its time limit"
        case .inconclusive(let why):
          if interrupted() { throw MutationError.interrupted }
          throw MutationError.inconclusive("\(m.id): tier \(tier): \(why); nothing recorded, a rerun tries it again")
        }
        result.tier = tier
        break
      }
      result.checkSeconds = Date().timeIntervalSince(t1)
    }
    if interrupted() { throw MutationError.interrupted }
    try append(result)
    return result
  }

  func append(_ r: MutantResult) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    var line = try encoder.encode(r)
    line.append(10)
    if !FileManager.default.fileExists(atPath: resultsPath) {
      _ = FileManager.default.createFile(atPath: resultsPath, contents: nil)
    }
    guard let h = FileHandle(forWritingAtPath: resultsPath) else { throw MutationError.io("cannot write \(resultsPath)") }
    defer { try? h.close() }
    try h.seekToEnd()
    try h.write(contentsOf: line)
    try h.synchronize()
  }
}

public enum MutationError: Error, CustomStringConvertible {
  case stale(String)
  case io(String)
  case interrupted
  /// A step could not judge the mutant (``StepOutcome/inconclusive(_:)``); nothing was recorded.
  case inconclusive(String)
  public var description: String {
    switch self {
    case .stale(let s), .io(let s), .inconclusive(let s): s
    case .interrupted: "interrupted"
    }
  }
}

/// The Markdown and JSON report of a set of results.
public enum MutationReport {
  public struct Tally: Codable, Sendable, Equatable {
    public var total = 0
    public var killedTier1 = 0
    public var killedTier2 = 0
    public var timedOut = 0
    public var survived = 0
    public var equivalent = 0
    public var didNotBuild = 0
    public var killed: Int { killedTier1 + killedTier2 }
    /// Kills and time-outs over the mutants that built and are not equivalent.
    public var killRate: Double? {
      let valid = total - equivalent - didNotBuild
      return valid > 0 ? Double(killed + timedOut) / Double(valid) : nil
    }
    public var rateText: String { killRate.map { String(format: "%.0f %%", $0 * 100) } ?? "—" }

    mutating func add(_ r: MutantResult) {
      total += 1
      switch r.status {
      case .killed: if r.tier == 2 { killedTier2 += 1 } else { killedTier1 += 1 }
      case .timedOut: timedOut += 1
      case .survived: survived += 1
      case .equivalent: equivalent += 1
      case .didNotBuild: didNotBuild += 1
      }
    }
  }

  public static func tally(_ results: [MutantResult], by key: (MutantResult) -> String) -> [(String, Tally)] {
    var out: [String: Tally] = [:]
    for r in results { out[key(r), default: Tally()].add(r) }
    return out.sorted { $0.key < $1.key }
  }

  /// The directory of a mutant's file (`Pymalloc`, `Mimalloc`, …).
  public static func directory(_ r: MutantResult) -> String { String(r.mutant.file.split(separator: "/").first ?? "") }

  public static func markdown(_ results: [MutantResult], header: String) -> String {
    var all = Tally()
    for r in results { all.add(r) }
    var out = header
    out += "| | mutants | killed (tier 1) | killed (tier 2) | timed out | survived | equivalent | did not build | kill rate |\n"
    out += "|---|---|---|---|---|---|---|---|---|\n"
    func row(_ name: String, _ t: Tally) -> String {
      "| \(name) | \(t.total) | \(t.killedTier1) | \(t.killedTier2) | \(t.timedOut) | \(t.survived) | \(t.equivalent) | \(t.didNotBuild) | \(t.rateText) |\n"
    }
    out += row("**all**", all)
    for (d, t) in tally(results, by: directory) { out += row(d + "/", t) }
    for (o, t) in tally(results, by: { $0.mutant.op.rawValue }) { out += row("`\(o)`", t) }
    out += "\nKill rate = (killed + timed out) / (mutants − equivalent − did not build).\n"
    let kills = tally(results.filter { $0.status == .killed }, by: { "tier \($0.tier ?? 1): " + killer($0.detail) })
    if !kills.isEmpty {
      out += "\nWhat killed them:\n\n"
      for (k, t) in kills { out += "- \(k): \(t.total)\n" }
    }
    let survivors = results.filter { $0.status == .survived }
    out += "\n## Survivors (\(survivors.count))\n\n"
    for r in survivors { out += "`\(r.mutant.id)`\n```diff\n\(r.mutant.diff)\n```\n\n" }
    let timed = results.filter { $0.status == .timedOut }
    if !timed.isEmpty {
      out += "## Timed out (\(timed.count))\n\n"
      for r in timed { out += "`\(r.mutant.id)` (\(r.detail ?? ""))\n```diff\n\(r.mutant.diff)\n```\n\n" }
    }
    let eq = results.filter { $0.status == .equivalent }
    if !eq.isEmpty {
      out += "## Equivalent (\(eq.count))\n\n"
      for r in eq { out += "- `\(r.mutant.id)`: \(r.detail ?? "")\n" }
    }
    return out
  }

  /// The kind of what killed a mutant, for the summary: the rule (`PM3`, `MI1`, `D4`…), `crash` or a test.
  public static func killer(_ detail: String?) -> String {
    guard let d = detail else { return "?" }
    if d.hasPrefix("crash") { return "crash" }
    if d.hasPrefix("rule ") { return String(d.split(separator: " ").dropFirst().first ?? "") }
    return d.split(separator: " ").first.map(String.init) ?? d
  }
}
