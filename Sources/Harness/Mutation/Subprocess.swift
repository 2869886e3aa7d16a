// Subprocess.swift — a child process with a time limit and its output in a log file: the mutation run's
// build and check steps, and the scoreboard's process hunts. Past the limit the whole process tree gets
// SIGTERM, then SIGKILL.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process with a time limit, its output in a log file (the mutation run's steps and the
/// scoreboard's process hunts).
public enum Subprocess {
  public struct Result: Sendable {
    public var status: Int32
    public var signaled: Bool
    public var timedOut: Bool
    /// False when the process could not be started at all (status 127 then).
    public var launched = true
    /// Wall time from start to exit (or to the kill).
    public var seconds = 0.0
  }

  /// Runs `args` (the first a path, or a name looked up through /usr/bin/env) with `env` over this process's
  /// environment; past `timeout` seconds it and every process it started get SIGTERM, and SIGKILL 5 s later.
  public static func run(_ args: [String], log: String, timeout: Double, env: [String: String]) -> Result {
    let p = Process()
    if let tool = args.first, tool.contains("/") {
      p.executableURL = URL(fileURLWithPath: tool)
      p.arguments = Array(args.dropFirst())
    } else {
      p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      p.arguments = args
    }
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let out = FileHandle(forWritingAtPath: log)
    p.standardOutput = out
    p.standardError = out
    defer { try? out?.close() }
    let start = Date()
    do { try p.run() } catch { return Result(status: 127, signaled: false, timedOut: false, launched: false) }
    let deadline = start.addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(20_000) }  // 20 ms: the scoreboard reads the time as time to detect
    if p.isRunning {
      // The whole tree: `swift test` runs the tests in a child, which outlives a killed parent (and, holding
      // the log open, kept waitUntilExit from returning: a hung test stalled the mutation run).
      let tree = [p.processIdentifier] + descendants(of: p.processIdentifier)
      for pid in tree { kill(pid, SIGTERM) }
      let grace = Date().addingTimeInterval(5)
      while p.isRunning && Date() < grace { usleep(20_000) }
      for pid in tree + descendants(of: p.processIdentifier) { kill(pid, SIGKILL) }
      p.waitUntilExit()
      return Result(status: -1, signaled: true, timedOut: true, seconds: Date().timeIntervalSince(start))
    }
    p.waitUntilExit()
    return Result(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal, timedOut: false,
                  seconds: Date().timeIntervalSince(start))
  }

  /// Every live descendant of `pid` (children first), read from /proc: pid and parent pid of each process.
  public static func descendants(of pid: Int32) -> [Int32] {
    var parent: [Int32: Int32] = [:]
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
      guard let child = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")") else { continue }
      // "pid (comm) state ppid …": comm may hold spaces or parentheses, so read after the last ')'.
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      if fields.count > 1, let ppid = Int32(fields[1]) { parent[child] = ppid }
    }
    var out: [Int32] = []
    var frontier = [pid]
    while let p = frontier.popLast() {
      let kids = parent.filter { $0.value == p }.map(\.key).sorted()
      out += kids
      frontier += kids
    }
    return out
  }

  /// Passed on exit 0; killed by the first line holding `marker`, or by a crash (signal, or a trap's exit).
  public static func verdict(_ r: Result, log: String, marker: String) -> StepOutcome {
    if r.timedOut { return .timedOut }
    if r.status == 0 && !r.signaled { return .passed }
    if let line = firstLine(log, containing: marker) {
      let text = line.range(of: marker).map { String(line[$0.lowerBound...]) } ?? line
      return .failed(marker == "KILLED " ? String(text.dropFirst(marker.count)) : "test " + text.dropFirst(marker.count).prefix(160))
    }
    let fatal = firstLine(log, containing: "Fatal error") ?? firstLine(log, containing: "fatal error") ?? firstLine(log, containing: "error:")
    return .failed("crash (\(r.signaled ? "signal" : "exit") \(r.status)\(r.signaled && r.status == 4 ? ": a Swift trap" : ""))" + (fatal.map { ": " + $0.prefix(160) } ?? ""))
  }

  public static func firstLine(_ log: String, containing s: String) -> String? {
    guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return nil }
    return text.split(separator: "\n").first { $0.contains(s) }.map { $0.trimmingCharacters(in: .whitespaces) }
  }
}
