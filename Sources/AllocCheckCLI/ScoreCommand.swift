// ScoreCommand.swift — `alloc-check score`: the kill matrix of every seeded bug against every in-process
// detection method (``Scoreboard``), printed and written as Markdown and JSON under .fuzz/score/; with
// `--write-doc` also into Documentation/Scoreboard.md (the page that keeps the latest table).

import ArgumentParser
import Foundation
import Harness

struct ScoreCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "score",
    abstract: "Kill matrix: which detection method catches which seeded bug, how fast, by which rule.",
    discussion: "Methods run here: \(ScoreMethod.allCases.map(\.rawValue).joined(separator: ", ")). fuzz, stress, tsan and "
      + "valgrind need their own builds (scripts/time-to-detect, scripts/stress-bugs) and are listed as not run.")

  @Option(help: "Time box of each hunt (one bug, one method, one seed), e.g. 10s or 1m.") var forEach: String = "10s"
  @Option(help: "Comma list of methods (property, soak, faults; fuzz, stress, tsan, valgrind are named as not run).")
  var methods: String = "property,soak,faults"
  @Option(help: "Comma list of bug names (default: every seeded bug; see alloc-check bugs).") var bugs: String?
  @Option(help: "Seeds per cell; the cell keeps the median time.") var seeds: String = "3"
  @Option(help: "First seed (seed i of a cell is this + i).") var seed: String = "0x5C0E"
  @Flag(help: "Also write the table into Documentation/Scoreboard.md.") var writeDoc = false

  func run() throws {
    let box = Double(try CLISupport.parseDuration(forEach).components.seconds)
    let n = try CLISupport.parseCount(seeds, option: "--seeds")
    let first = try CLISupport.parseSeed(seed)
    let inProcess = Set(ScoreMethod.allCases.map(\.rawValue))
    let outside = ["fuzz", "stress", "tsan", "valgrind"]
    var chosen: [ScoreMethod] = []
    var notRun: [String] = []
    for m in methods.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
      if let method = ScoreMethod(rawValue: m) { chosen.append(method) } else if outside.contains(m) { notRun.append(m) } else {
        throw CLIError.usage("score: unknown method \"\(m)\"; expected \((inProcess.sorted() + outside).joined(separator: ", "))")
      }
    }
    var all = ScoreBug.all
    if let bugs {
      let names = bugs.split(separator: ",").map(String.init)
      for name in names where !all.contains(where: { $0.name == name }) {
        throw CLIError.usage("score: unknown bug \"\(name)\" (see alloc-check bugs)")
      }
      all = all.filter { names.contains($0.name) }
    }
    Console.parameters("score", [
      ("bugs", "\(all.count)"), ("methods", chosen.map(\.rawValue).joined(separator: ", ") + (notRun.isEmpty ? "" : " (not run: \(notRun.joined(separator: ", ")))")),
      ("time box", "\(forEach) per hunt, \(n) seeds per cell from \(hex(first))"),
      ("worst case", "\(Int(box) * n * all.count * chosen.count) s"),
    ])
    let start = Date()
    var cells: [ScoreCell] = []
    for (i, bug) in all.enumerated() {
      for method in chosen {
        var hunts: [ScoreHunt] = []
        for j in 0..<n { hunts.append(Scoreboard.hunt(bug, method, seed: first &+ UInt64(j), timeBox: box)) }
        let cell = ScoreCell(bug: bug.name, family: bug.family.rawValue, expected: bug.expected, method: method.rawValue,
                             timeBox: box, hunts: hunts)
        cells.append(cell)
      }
      let row = cells.suffix(chosen.count).map { "\($0.method) \(Scoreboard.cellText($0))" }.joined(separator: "; ")
      Console.err("score: \(i + 1)/\(all.count) \(bug.name): \(row) (\(Int(Date().timeIntervalSince(start))) s)")
    }
    let seconds = Date().timeIntervalSince(start)
    let header = "Seeded bugs × detection methods: \(all.count) bugs, \(chosen.count) methods, time box \(forEach) per hunt, "
      + "\(n) seeds per cell from \(hex(first)); \(String(format: "%.0f", seconds)) s in all. A cell: caught (✓) with the median "
      + "time to detect, the rule that fired and the shrunk program's length; — when most seeds missed.\n\n"
    let table = Scoreboard.markdown(cells, methods: chosen.map(\.rawValue), notRun: notRun)
    Console.out(header + table)
    try FileManager.default.createDirectory(atPath: ".fuzz/score", withIntermediateDirectories: true)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(cells).write(to: URL(fileURLWithPath: ".fuzz/score/score.json"))
    try ProgramFiles.write(header + table, to: ".fuzz/score/score.md")
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
}
