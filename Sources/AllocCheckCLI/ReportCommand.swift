// ReportCommand.swift — `alloc-check report`: the morning summary of a fuzz run (the latest, or --run DIR),
// from its record (`run.json`) and samples (`samples.csv`): per target the time, executions, exec/s,
// coverage and corpus growth over time, crashes de-duplicated by rule and op kind with their repro commands,
// and a PNG plot of coverage against seconds (one line per target) written to `<run>/coverage.png`.

import ArgumentParser
import Foundation
import FuzzTargets
import Harness

struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report", abstract: "Summarize the last fuzz run and plot its coverage over time (PNG).")

  @Option(name: .customLong("run"), help: "Run folder (default: the latest under .fuzz/runs).") var runFolder: String?
  @Option(help: "Where to write the plot (default: <run>/coverage.png).") var plot: String?

  func run() throws {
    let dir = try runDirectory()
    let data = try ProgramFiles.read(dir + "/run.json")
    let record: FuzzRunRecord
    do { record = try JSONDecoder().decode(FuzzRunRecord.self, from: Data(data)) } catch {
      throw CLIError.unreadableFile(path: dir + "/run.json", reason: "not a fuzz run record: \(error)")
    }
    let csv = (try? ProgramFiles.read(dir + "/samples.csv")).map { String(decoding: $0, as: UTF8.self) } ?? ""
    let samples = csv.split(separator: "\n").dropFirst().compactMap(FuzzSample.init(csvLine:))

    var out = "fuzz run \(record.id): \(record.state), \(Int(record.elapsedSeconds)) s of \(CLISupport.spell(.seconds(Int64(record.requestedSeconds)))) "
      + "requested, \(record.jobs) job\(record.jobs == 1 ? "" : "s"), seed \(hex(record.seed)), bugs: "
      + (record.bugs.isEmpty ? "none" : record.bugs.joined(separator: ", ")) + "\n  started \(record.started); rerun: \(record.command)\n"
    for t in record.targets {
      out += "\n\(t.name) (\(t.product), \(t.jobs) job\(t.jobs == 1 ? "" : "s"), \(t.processes) process\(t.processes == 1 ? "" : "es"))\n"
      out += "  time \(Int(t.seconds)) s, executions \(t.execs), \(Int(t.execPerSec.rounded())) exec/s (oracle on: every rule after every op, invariants around each op and whole walks on the cadence)\n"
      out += "  coverage: cov \(t.cov), ft \(t.ft); corpus \(t.corpusStart) → \(t.corpusEnd) inputs (+\(t.corpusEnd - t.corpusStart))\n"
      let mine = samples.filter { $0.target == t.name }
      if mine.count >= 2 {
        out += "  over time:   " + checkpoints(mine).map { s in "\(Int(s.seconds))s cov \(s.cov) corpus \(s.corpus)" }.joined(separator: " | ") + "\n"
      }
      if t.crashes.isEmpty {
        out += "  crashes: none\n"
      } else {
        out += "  crashes: \(t.crashes.count) distinct (by rule and op kind), \(t.crashes.map { $0.duplicates + 1 }.reduce(0, +)) inputs saved\n"
        for c in t.crashes {
          out += "    \(c.signature.rule) at \(c.signature.opKind), first after \(Int(c.foundAfter)) s"
            + (c.duplicates > 0 ? " (+\(c.duplicates) more inputs)" : "") + ": \(c.line)\n      repro: \(c.repro)\n"
        }
      }
      out += "  logs: \(t.logs.joined(separator: " "))\n"
    }
    let png = plot ?? dir + "/coverage.png"
    let series = record.targets.map { t in
      LinePlot.Series(name: t.name, points: samples.filter { $0.target == t.name }.map { (x: $0.seconds, y: Double($0.cov)) })
    }
    let image = LinePlot(title: "coverage over time, run \(record.id)", xLabel: "seconds", yLabel: "cov (libfuzzer edges)",
                         series: series).render()
    try ProgramFiles.write(PNG.encode(image), to: png)
    out += "\ncoverage plot: \(png) (\(image.width)×\(image.height), cov against seconds, one line per target)"
    Console.out(out)
  }

  /// The samples nearest 0, ¼, ½, ¾ and the end of the run.
  func checkpoints(_ s: [FuzzSample]) -> [FuzzSample] {
    let end = s.last!.seconds
    var picked: [FuzzSample] = []
    for f in [0.0, 0.25, 0.5, 0.75, 1.0] {
      let target = end * f
      let best = s.min { abs($0.seconds - target) < abs($1.seconds - target) }!
      if picked.last?.seconds != best.seconds { picked.append(best) }
    }
    return picked
  }

  func runDirectory() throws(CLIError) -> String {
    if let runFolder { return runFolder.hasSuffix("/") ? String(runFolder.dropLast()) : runFolder }
    let latest = FuzzWorkspace.runsDir + "/latest"
    guard let bytes = try? ProgramFiles.read(latest) else {
      throw .usage("report: no fuzz run yet (no \(latest)); start one with alloc-check fuzz --all --for 10m")
    }
    let id = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return FuzzWorkspace.runsDir + "/" + id
  }
}
