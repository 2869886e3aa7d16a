// ScoreCommand.swift — `alloc-check score`: the kill matrix of every seeded bug against every detection
// method. The in-process methods (property, soak, faults, explore: ``Scoreboard``) run here; the process
// methods (fuzz, diff, stress, tsan, valgrind: ``ExternalScore``) are built first (the fuzz binaries, the
// TSan build) and then run one process per hunt under a hard deadline (ScoreProcess.swift). Prints a row
// per bug as it goes, writes the table as Markdown and JSON under .fuzz/score/ after every bug (an
// interrupted run keeps what it measured), and with `--write-doc` into Documentation/Scoreboard.md.

import AllocUnderTest
import ArgumentParser
import Foundation
import Harness

/// A method of either kind, in the order the user named it.
enum AnyScoreMethod: Equatable {
  case inProcess(ScoreMethod)
  case external(ExternalScoreMethod)

  var name: String {
    switch self {
    case .inProcess(let m): m.rawValue
    case .external(let m): m.rawValue
    }
  }
  static var all: [AnyScoreMethod] { ScoreMethod.allCases.map { .inProcess($0) } + ExternalScoreMethod.allCases.map { .external($0) } }
  static func named(_ name: String) -> AnyScoreMethod? { all.first { $0.name == name } }

  /// Defaults that keep the full board within an hour (ExternalScoreMethod's reasons).
  var defaultBox: Double {
    switch self {
    case .inProcess: 3
    case .external(let m): m.defaultBox
    }
  }
  var defaultSeeds: Int {
    switch self {
    case .inProcess: 3
    case .external(let m): m.defaultSeeds
    }
  }
  func notApplicable(to bug: ScoreBug) -> String? {
    switch self {
    case .inProcess(let m): m.notApplicable(to: bug)
    case .external(let m): m.notApplicable(to: bug)
    }
  }
}

struct ScoreCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "score",
    abstract: "Kill matrix: which detection method catches which seeded bug, how fast, by which rule.",
    discussion: """
      Methods: \(AnyScoreMethod.all.map(\.name).joined(separator: ", ")) (default: all). property, soak, faults and \
      explore run in this process; fuzz runs the libFuzzer binaries (built here into .build-fuzz), diff runs \
      `alloc-check diff` against the real allocator, stress the real-thread runner, tsan its TSan build (built \
      here into .build-tsan), valgrind the runner under memcheck. Default time box and seeds per method: \
      \(AnyScoreMethod.all.map { "\($0.name) \(Int($0.defaultBox)) s × \($0.defaultSeeds)" }.joined(separator: ", ")); \
      a cell stops at the seed after which no majority of seeds could catch the bug. The whole default board takes \
      about an hour on two shared cores. A method that cannot reach a bug shows n/a, with the reason \
      under the table. Logs of the process hunts: .fuzz/score/logs/.
      """)

  @Option(help: "Time box of every hunt (one bug, one method, one seed), e.g. 10s; default: per method (see above).")
  var forEach: String?
  @Option(help: "Time boxes of some methods: fuzz=20s,tsan=30s.") var box: String?
  @Option(help: "Comma list of methods, or all.") var methods: String = "all"
  @Option(help: "Comma list of bug names (default: every seeded bug; see alloc-check bugs).") var bugs: String?
  @Option(help: "Seeds per cell for every method (the cell keeps the median time); default: per method.") var seeds: String?
  @Option(help: "Seeds of some methods: stress=3,valgrind=2.") var seedsFor: String?
  @Option(help: "First seed (seed i of a cell is this + i).") var seed: String = "0x5C0E"
  @Flag(help: "Also write the table into Documentation/Scoreboard.md.") var writeDoc = false

  func run() throws {
    let chosen = try parseMethods()
    var boxes = Dictionary(uniqueKeysWithValues: chosen.map { ($0.name, $0.defaultBox) })
    var seedCounts = Dictionary(uniqueKeysWithValues: chosen.map { ($0.name, $0.defaultSeeds) })
    if let forEach {
      let all = Double(try CLISupport.parseDuration(forEach).components.seconds)
      for m in chosen { boxes[m.name] = all }
    }
    if let seeds {
      let n = try CLISupport.parseCount(seeds, option: "--seeds")
      for m in chosen { seedCounts[m.name] = n }
    }
    for (m, text) in try Self.assignments(box, option: "--box", methods: chosen) {
      boxes[m] = Double(try CLISupport.parseDuration(text).components.seconds)
    }
    for (m, text) in try Self.assignments(seedsFor, option: "--seeds-for", methods: chosen) {
      seedCounts[m] = try CLISupport.parseCount(text, option: "--seeds-for \(m)")
    }
    let first = try CLISupport.parseSeed(seed)
    let all = try chosenBugs()
    try FuzzWorkspace.requirePackageRoot()

    let runner = ScoreProcess(paths: ExternalScorePaths(allocCheck: Bundle.main.executablePath ?? CommandLine.arguments[0]))
    var unavailable: [String: String] = [:]  // method → why it cannot run at all here
    let external = chosen.compactMap { if case .external(let m) = $0 { m } else { nil } }
    for m in external {
      if let why = try runner.prepare(m, families: Set(all.map(\.family))) { unavailable[m.rawValue] = why }
    }
    var worst = 0.0
    for bug in all {
      for m in chosen where m.notApplicable(to: bug) == nil && unavailable[m.name] == nil {
        let b = boxes[m.name]!
        worst += Double(seedCounts[m.name]!) * (m.isExternal ? m.externalDeadline(b) : b)
      }
    }
    Console.parameters("score", [
      ("bugs", "\(all.count)"),
      ("methods", chosen.map { "\($0.name) \(Int(boxes[$0.name]!)) s × \(seedCounts[$0.name]!)" }.joined(separator: ", ")),
      ("first seed", "\(hex(first)) (seed i of a cell is this + i)"),
      ("worst case", "\(Int(worst / 60)) min (every hunt to its deadline)"),
    ] + unavailable.sorted { $0.key < $1.key }.map { ("not run: \($0.key)", $0.value) })

    let start = Date()
    var cells: [ScoreCell] = []
    for (i, bug) in all.enumerated() {
      for m in chosen {
        let b = boxes[m.name]!
        var cell = ScoreCell(bug: bug.name, family: bug.family.rawValue, expected: bug.expected, method: m.name, timeBox: b, hunts: [])
        if let why = m.notApplicable(to: bug) ?? unavailable[m.name] {
          cell.notRun = why
        } else {
          let n = seedCounts[m.name]!
          for j in 0..<n {
            let s = first &+ UInt64(j)
            switch m {
            case .inProcess(let method): cell.hunts.append(Scoreboard.hunt(bug, method, seed: s, timeBox: b))
            case .external(let method): cell.hunts.append(try runner.hunt(method, bug, seed: s, box: b))
            }
            // Decided: even if every seed left caught it, no majority would. (A caught cell runs every seed, for its median.)
            if (cell.caughtCount + n - 1 - j) * 2 <= n { break }
          }
        }
        cells.append(cell)
      }
      let row = cells.suffix(chosen.count).map { "\($0.method) \(Scoreboard.cellText($0))" }.joined(separator: "; ")
      Console.err("score: \(i + 1)/\(all.count) \(bug.name): \(row) (\(Int(Date().timeIntervalSince(start))) s)")
      try write(cells, chosen: chosen, boxes: boxes, seedCounts: seedCounts, first: first, seconds: Date().timeIntervalSince(start),
                unavailable: unavailable, final: false)
    }
    try write(cells, chosen: chosen, boxes: boxes, seedCounts: seedCounts, first: first, seconds: Date().timeIntervalSince(start),
              unavailable: unavailable, final: true)
  }

  /// Writes .fuzz/score/score.{md,json} (after every bug, so an interrupted run keeps its rows); the last
  /// call also prints the table and, with --write-doc, writes the Documentation page.
  private func write(_ cells: [ScoreCell], chosen: [AnyScoreMethod], boxes: [String: Double], seedCounts: [String: Int],
                     first: UInt64, seconds: Double, unavailable: [String: String], final: Bool) throws {
    let bugCount = Set(cells.map(\.bug)).count
    let header = "Seeded bugs × detection methods: \(bugCount) bugs, \(chosen.count) methods ("
      + chosen.map { "\($0.name) \(Int(boxes[$0.name]!)) s × \(seedCounts[$0.name]!) seed\(seedCounts[$0.name]! == 1 ? "" : "s")" }.joined(separator: ", ")
      + "), seeds from \(hex(first)); \(String(format: "%.0f", seconds)) s in all. A cell: caught (✓) with the median time "
      + "to detect (a process method's time includes its start-up), the rule that fired and the shrunk program's length; "
      + "— when most seeds missed (a cell stops once no majority can catch it: — (2×3 s) ran 2 seeds); n/a when the "
      + "method cannot reach the bug.\n\n"
    let table = Scoreboard.markdown(cells, methods: chosen.map(\.name), notRun: unavailable.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" })
    try FileManager.default.createDirectory(atPath: ".fuzz/score", withIntermediateDirectories: true)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(cells).write(to: URL(fileURLWithPath: ".fuzz/score/score.json"))
    try ProgramFiles.write(header + table, to: ".fuzz/score/score.md")
    guard final else { return }
    Console.out(header + table)
    Console.out("wrote .fuzz/score/score.md and .fuzz/score/score.json")
    if writeDoc {
      let args = CommandLine.arguments.dropFirst().filter { $0 != "--write-doc" }.joined(separator: " ")
      let doc = "# Scoreboard\n\nWhich detection method catches which seeded bug, and how fast (issue 15). Regenerate with\n"
        + "`swift build -c release --product alloc-check && .build/release/alloc-check \(args) --write-doc`\n"
        + "(last run \(ISO8601DateFormatter().string(from: Date())), 2 shared cores).\n\n" + header + table
      try ProgramFiles.write(doc, to: "Documentation/Scoreboard.md")
      Console.out("wrote Documentation/Scoreboard.md")
    }
  }

  private func parseMethods() throws -> [AnyScoreMethod] {
    if methods == "all" { return AnyScoreMethod.all }
    var chosen: [AnyScoreMethod] = []
    for name in methods.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
      guard let m = AnyScoreMethod.named(name) else {
        throw CLIError.usage("score: unknown method \"\(name)\"; expected all or a comma list of \(AnyScoreMethod.all.map(\.name).joined(separator: ", "))")
      }
      if !chosen.contains(m) { chosen.append(m) }
    }
    guard !chosen.isEmpty else { throw CLIError.usage("score: --methods names no method") }
    return chosen
  }

  private func chosenBugs() throws -> [ScoreBug] {
    guard let bugs else { return ScoreBug.all }
    let names = bugs.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    for name in names where !ScoreBug.all.contains(where: { $0.name == name }) {
      throw CLIError.usage("score: unknown bug \"\(name)\" (see alloc-check bugs)")
    }
    return ScoreBug.all.filter { names.contains($0.name) }
  }

  /// `m=value,m=value` of an option, each m one of the chosen methods.
  static func assignments(_ text: String?, option: String, methods: [AnyScoreMethod]) throws -> [(String, String)] {
    guard let text else { return [] }
    return try text.split(separator: ",").map { pair throws(CLIError) -> (String, String) in
      let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      guard parts.count == 2, !parts[1].isEmpty else { throw .usage("score: \(option) takes method=value pairs, not \"\(pair)\"") }
      guard methods.contains(where: { $0.name == parts[0] }) else {
        throw .usage("score: \(option) names \"\(parts[0])\", which is not among the methods run (\(methods.map(\.name).joined(separator: ", ")))")
      }
      return (parts[0], parts[1])
    }
  }
}

extension AnyScoreMethod {
  var isExternal: Bool { if case .external = self { true } else { false } }
  func externalDeadline(_ box: Double) -> Double {
    if case .external(let m) = self { m.deadline(box: box) } else { box }
  }
}
