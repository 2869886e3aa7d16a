// LibFuzzerStatus.swift — reading libFuzzer's output, line by line, for `alloc-check fuzz` progress and the
// run record: status lines (`#4096 pulse cov: 1047 ft: 5768 corp: 182/289Kb lim: 4096 exec/s: 312 rss: 55Mb`),
// the final `stat::` lines (-print_final_stats=1), where a crash input was written, and our own trap line.

/// One status line of a libFuzzer process.
public struct LibFuzzerStatus: Equatable, Sendable {
  /// Inputs executed so far by this process (`#N`).
  public var execs: Int
  /// `INITED`, `NEW`, `REDUCE`, `pulse`, `DONE`, `RELOAD`.
  public var event: String
  public var cov: Int
  public var ft: Int
  public var corpusUnits: Int
  public var execPerSec: Int
  public var rssMB: Int

  public init(execs: Int, event: String, cov: Int, ft: Int, corpusUnits: Int, execPerSec: Int, rssMB: Int) {
    self.execs = execs
    self.event = event
    self.cov = cov
    self.ft = ft
    self.corpusUnits = corpusUnits
    self.execPerSec = execPerSec
    self.rssMB = rssMB
  }
}

public enum LibFuzzerOutput {
  /// A status line, or nil for any other line.
  public static func status(_ line: Substring) -> LibFuzzerStatus? {
    guard line.first == "#" else { return nil }
    let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
    guard words.count >= 3, let execs = Int(words[0].dropFirst()) else { return nil }
    func after(_ key: String) -> Substring? {
      guard let i = words.firstIndex(where: { $0 == key }), i + 1 < words.count else { return nil }
      return words[i + 1]
    }
    guard let cov = after("cov:").flatMap({ Int($0) }) else { return nil }
    let units = after("corp:").flatMap { Int($0.prefix { $0 != "/" }) } ?? 0
    let rss = after("rss:").flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
    return LibFuzzerStatus(execs: execs, event: String(words[1]), cov: cov, ft: after("ft:").flatMap { Int($0) } ?? 0,
                           corpusUnits: units, execPerSec: after("exec/s:").flatMap { Int($0) } ?? 0, rssMB: rss)
  }

  /// `stat::number_of_executed_units: 1234` → ("number_of_executed_units", 1234).
  public static func finalStat(_ line: Substring) -> (name: String, value: Int)? {
    guard line.hasPrefix("stat::") else { return nil }
    let parts = line.dropFirst(6).split(separator: ":", maxSplits: 1)
    guard parts.count == 2, let v = Int(parts[1].trimmingPrefix(" ")) else { return nil }
    return (String(parts[0]), v)
  }

  /// The path in `… Test unit written to PATH` (crash, timeout, oom and leak artifacts alike).
  public static func artifactPath(_ line: Substring) -> String? {
    guard let r = line.range(of: "Test unit written to ") else { return nil }
    let path = line[r.upperBound...].prefix { $0 != " " }
    return path.isEmpty ? nil : String(path)
  }

  /// Our trap reason, from `… Fatal error: alloc-check: O5 at op 3 (calloc): …`.
  public static func trapReason(_ line: Substring) -> String? {
    guard let r = line.range(of: "alloc-check: ") else { return nil }
    guard line.contains("Fatal error") else { return nil }
    return String(line[r.lowerBound...])
  }
}
