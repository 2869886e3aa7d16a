// HostCommand.swift — `alloc-check host`: runs a Python script (or `-m module`, `-c code`) in CPython 3.11
// embedded by alloc-check-host (Sources/AllocCheckHost/host.c), its object allocator served by the
// reference pymalloc with the oracle checking every call, or by CPython's own pymalloc — or both, one after
// the other, with the figures side by side. Optionally records every call as a pymalloc-family program.
// The host writes a key=value report under .fuzz/host/; this command prints it for people.
// Exit: 1 on a violation, 2 on bad input or a host that cannot start, else the script's exit status.

import ArgumentParser
import Foundation
import Harness

struct HostCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "host",
    abstract: "Run Python code in CPython 3.11 with its object allocator on the reference pymalloc (oracle on).",
    discussion: """
      Examples:
        alloc-check host -- scripts/workloads/dict_phases.py
        alloc-check host --allocator both -- -m test test_dict
        alloc-check host --allocator cpython --record .fuzz/traces/startup.txt -- -S -c pass
      Needs .build/release/alloc-check-host and liballoccheck-ref.so next to alloc-check:
        swift build -c release --product alloc-check-host && swift build -c release --product alloccheck-ref
      A violation stops the interpreter with the rule, the call index and the Python stack that made the call.
      Subprocesses the script starts run the stock /usr/bin/python3.11 (--python), not the reference.
      """)

  @Option(help: "What serves the domains: reference (the Swift pymalloc, oracle on), cpython (its own pymalloc), or both (cpython, then reference, compared).")
  var allocator: String = "reference"
  @Option(help: "Domains to serve: obj, or obj,mem.") var domains: String = "obj"
  @Option(help: "Oracle on the reference: on (every call checked, invariants around it, every invariant and the statistics on the cadence), calls (each call's own rules and the model only: no invariants or statistics), off (calls only counted).")
  var oracle: String = "on"
  @Option(name: .customLong("bug"), help: "Seed a bug into the reference (alloc-check bugs), to see a violation stop the interpreter.")
  var bugs: [String] = []
  @Option(help: "Switch the --bug on at this call index, or main+K: K calls after interpreter start-up is over (so it strikes in the script).")
  var bugFrom: String?
  @Option(help: "Record every call as a pymalloc-family program: the text form to this .txt path, the binary form beside it (.bin).")
  var record: String?
  @Option(help: "Record from this call index on (0: the first call of start-up), or from main: the first call after interpreter start-up.")
  var recordFrom: String = "0"
  @Option(help: "Record at most this many calls (default: to the end).") var recordCount: Int?
  @Flag(help: "Overwrite an existing --record file.") var force = false
  @Option(help: "sys.executable of the embedded interpreter (what subprocesses run).") var python = "/usr/bin/python3.11"
  @Argument(parsing: .captureForPassthrough, help: "python3.11's arguments: SCRIPT.py [ARGS], -m MODULE [ARGS], -c CODE.")
  var arguments: [String] = []

  /// Option checks, in run() so a bad option is one line and exit 2 like every command's.
  func checkOptions() throws {
    guard ["reference", "cpython", "both"].contains(allocator) else {
      throw CLIError.usage("host: --allocator must be reference, cpython or both, not \"\(allocator)\"")
    }
    guard ["obj", "obj,mem"].contains(domains) else { throw CLIError.usage("host: --domains must be obj or obj,mem") }
    guard ["on", "calls", "off"].contains(oracle) else { throw CLIError.usage("host: --oracle must be on, calls or off") }
    if let record {
      guard record.hasSuffix(".txt") else { throw CLIError.usage("host: --record takes a .txt path (the binary twin goes beside it as .bin)") }
      if !force && FileManager.default.fileExists(atPath: record) {
        throw CLIError.usage("host: \(record) exists; --force overwrites it")
      }
      if (recordFrom != "main" && (Int(recordFrom) ?? -1) < 0) || (recordCount ?? 1) <= 0 { throw CLIError.usage("host: --record-from takes a call index ≥ 0 or main, --record-count a count ≥ 1") }
      if allocator == "both" { throw CLIError.usage("host: --record records one run: give --allocator reference or cpython") }
    }
    if bugFrom != nil && bugs.isEmpty { throw CLIError.usage("host: --bug-from needs a --bug") }
    if let b = bugFrom, !(b == "main" || (b.hasPrefix("main+") && Int(b.dropFirst(5)) != nil)) && (Int(b) ?? -1) < 0 {
      throw CLIError.usage("host: --bug-from takes a call index ≥ 0, main or main+K")
    }
    if record == nil && (recordFrom != "0" || recordCount != nil) { throw CLIError.usage("host: --record-from and --record-count need --record") }
    if !bugs.isEmpty && allocator == "cpython" { throw CLIError.usage("host: --bug seeds the reference; --allocator cpython runs CPython's own") }
    if pythonArguments.isEmpty { throw CLIError.usage("host: nothing to run: give a script (alloc-check host -- SCRIPT.py) or -m MODULE / -c CODE") }
  }

  var pythonArguments: [String] { arguments.first == "--" ? Array(arguments.dropFirst()) : arguments }

  func run() throws {
    try checkOptions()
    let dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    let host = dir.appendingPathComponent("alloc-check-host").path
    let library = dir.appendingPathComponent("liballoccheck-ref.so").path
    for needed in [host, library] where !FileManager.default.isExecutableFile(atPath: needed) && !FileManager.default.fileExists(atPath: needed) {
      throw CLIError.usage("host: \(needed) is missing; build it: swift build -c release --product alloc-check-host && swift build -c release --product alloccheck-ref")
    }
    try FileManager.default.createDirectory(atPath: ".fuzz/host", withIntermediateDirectories: true)
    let runs = allocator == "both" ? ["cpython", "reference"] : [allocator]
    Console.parameters("host", [
      ("run", pythonArguments.joined(separator: " ")),
      ("allocator", runs.map { $0 == "reference" ? "reference pymalloc (\(library)), oracle \(oracle)" : "CPython 3.11's pymalloc (counted)" }
        .joined(separator: "; then ")),
      ("domains", domains),
      ("bugs", bugs.isEmpty ? "none" : bugs.joined(separator: ", ")),
      ("record", record.map { "\($0) and \(binaryTwin($0))" } ?? "no"),
    ])
    var results: [HostReport] = []
    for which in runs {
      let report = try runHost(host, library: library, allocator: which)
      Console.out(report.summary)
      results.append(report)
      if report.violation != nil { break }
    }
    if results.count == 2 { Console.out(HostReport.comparison(results[0], results[1])) }
    if let v = results.first(where: { $0.violation != nil }) {
      Console.out("FAIL: \(v.violation!)")
      throw ExitCode(1)
    }
    let code = results.last?.exitStatus ?? 0
    if code != 0 { throw ExitCode(code) }
  }

  func binaryTwin(_ text: String) -> String { String(text.dropLast(4)) + ".bin" }

  func absolute(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
  }

  private func runHost(_ host: String, library: String, allocator which: String) throws -> HostReport {
    // Absolute: the script may change the working directory before the host writes at exit.
    let reportPath = absolute(".fuzz/host/report-\(which).txt")
    try? FileManager.default.removeItem(atPath: reportPath)
    var env = ProcessInfo.processInfo.environment
    env["ALLOC_CHECK_HOST_ALLOCATOR"] = which
    env["ALLOC_CHECK_HOST_DOMAINS"] = domains
    var options = oracle == "off" ? ["checks=off"] : oracle == "calls" ? ["invariants=off", "stats=off"] : []
    if !bugs.isEmpty { options.append("bug=" + bugs.joined(separator: "+")) }
    if let bugFrom { options.append("bug-from=\(bugFrom)") }
    env["ALLOC_CHECK_HOST_OPTIONS"] = options.joined(separator: ",")
    env["ALLOC_CHECK_HOST_REPORT"] = reportPath
    env["ALLOC_CHECK_HOST_LIB"] = library
    env["ALLOC_CHECK_HOST_PYTHON"] = python
    if let record {
      env["ALLOC_CHECK_HOST_RECORD"] = absolute(record)
      env["ALLOC_CHECK_HOST_RECORD_BIN"] = absolute(binaryTwin(record))
      env["ALLOC_CHECK_HOST_RECORD_FROM"] = recordFrom
      if let recordCount { env["ALLOC_CHECK_HOST_RECORD_COUNT"] = "\(recordCount)" }
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: host)
    p.arguments = pythonArguments
    p.environment = env
    try p.run()
    p.waitUntilExit()
    let status = p.terminationReason == .uncaughtSignal ? 128 + Int(p.terminationStatus) : Int(p.terminationStatus)
    if status == 71 { throw CLIError.usage("host: alloc-check-host could not start (its message is above)") }
    guard let text = try? String(contentsOfFile: reportPath, encoding: .utf8), !text.isEmpty else {
      throw CLIError.usage("host: alloc-check-host (\(which)) exited with status \(status) and wrote no report (a crash, or os._exit in the script)")
    }
    return HostReport(text: text, which: which, exitStatus: status == 70 ? 1 : Int32(status))
  }
}

/// The host's key=value report, read back.
struct HostReport {
  var values: [String: String] = [:]
  var traceback: String = ""
  let which: String
  let exitStatus: Int32

  init(text: String, which: String, exitStatus: Int32) {
    self.which = which
    self.exitStatus = exitStatus
    var inTraceback = false
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      if line == "traceback<<" { inTraceback = true; continue }
      if line == ">>traceback" { inTraceback = false; continue }
      if inTraceback { traceback += line + "\n"; continue }
      guard let eq = line.firstIndex(of: "=") else { continue }
      values[String(line[..<eq])] = String(line[line.index(after: eq)...])
    }
  }

  func int(_ key: String) -> Int { Int(values[key] ?? "") ?? 0 }
  var wall: Double { Double(values["host_wall_seconds"] ?? "") ?? 0 }
  var violation: String? {
    guard values["verdict"] == "violation" else { return nil }
    return "\(values["rule"] ?? "?") at call \(values["op"] ?? "?"): \(values["detail"] ?? "")"
  }

  var summary: String {
    var lines: [String] = []
    let name = which == "reference" ? "reference pymalloc" : "CPython's pymalloc"
    lines.append("host \(which): \(name), Python exit status \(exitStatus), \(String(format: "%.2f", wall)) s")
    lines.append("  calls:  \(grouped(int("host_calls"))) (\(grouped(int("host_mallocs"))) malloc, \(grouped(int("host_callocs"))) calloc, "
                 + "\(grouped(int("host_reallocs"))) realloc, \(grouped(int("host_frees"))) free)")
    lines.append("  blocks: peak \(grouped(int("host_peak_live"))) live, \(grouped(int("host_live"))) still live at exit")
    lines.append("  arenas: peak \(int("arenas_peak")), allocated \(int("arenas_allocated")), returned to the OS \(int("arenas_returned")), mapped at exit \(int("arenas_current"))")
    if which == "reference" {
      let verdict = values["verdict"] ?? "?"
      lines.append("  oracle: \(verdict == "ok" ? "ok, 0 violations" : verdict) (\(grouped(int("walks"))) whole invariant walks, "
                   + "\(grouped(int("stats_checks"))) statistics checks, \(grouped(int("sweeps"))) ownership sweeps)")
      if let v = violation { lines.append("  violation: \(v)") }
      if !traceback.isEmpty { lines.append("  Python stack at the call:\n" + traceback.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")) }
    }
    if let r = values["record_ops"] {
      lines.append("  record: \(grouped(Int(r) ?? 0)) ops (\(values["record_skipped"] ?? "0") left out), binary form: \(values["record_binary"] ?? "?")")
    }
    return lines.joined(separator: "\n")
  }

  static func comparison(_ c: HostReport, _ r: HostReport) -> String {
    func row(_ name: String, _ h: HostReport) -> String {
      name.padding(toLength: 11, withPad: " ", startingAt: 0)
        + [grouped(h.int("host_calls")), grouped(h.int("host_peak_live")), "\(h.int("arenas_peak"))", "\(h.int("arenas_returned"))",
           String(format: "%.2f", h.wall)].map { $0.leftPadded(14) }.joined()
    }
    let ratio = c.wall > 0 ? String(format: "%.1f", r.wall / c.wall) : "-"
    return """
      compared:       \(["calls", "peak live", "arenas peak", "returned", "wall s"].map { $0.leftPadded(14) }.joined())
        \(row("cpython", c))
        \(row("reference", r))
        wall time reference / cpython: \(ratio)×
      """
  }
}

func grouped(_ n: Int) -> String {
  let digits = String(n.magnitude)
  var out = ""
  for (i, ch) in digits.enumerated() {
    if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
    out.append(ch)
  }
  return (n < 0 ? "-" : "") + out
}

extension String {
  func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
