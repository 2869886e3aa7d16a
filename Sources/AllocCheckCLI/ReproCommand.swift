// ReproCommand.swift — `alloc-check repro`: one fuzz input (crash file, corpus entry, or a program text)
// through the normal executor, no sanitizer: prints the program in the text form, the verdict (rule, op
// index, detail, end of the trace) and exits 1 on a violation, 0 when it passes. `--emit-test` writes it as
// a regression entry `corpus/<target>/regressions/<name>.bin` + `.txt` twin, which the corpus replay test then
// runs forever (it must pass on the correct allocator: emit it once the bug is fixed, or from a --bug run).

import ArgumentParser
import Foundation
import FuzzTargets
import Harness
import Oracle
import AllocUnderTest

struct ReproCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "repro",
    abstract: "Replay a fuzz input through the executor: print the program and the verdict (exit 1 on a violation).",
    discussion: "With --emit-test, also save it under corpus/<target>/regressions/ (bin + text twin), replayed by swift test.")

  @Argument(help: "Fuzz input (binary bytes) or program text.") var file: String
  @Option(help: "Fuzz target (default: from the path, else the only one).") var target: String?
  @Option(name: .customLong("bug"), help: "Switch on a seeded bug, as the fuzz run had it (repeatable).") var bugs: [String] = []
  @Flag(help: "Write the input as a regression entry in corpus/<target>/regressions/.") var emitTest = false
  @Option(help: "File stem of the regression entry (default: <rule>-<op>-<hash> or pass-<hash>).") var name: String?
  @Flag(help: "Print the whole trace.") var trace = false
  @Option(help: "Replay on a real allocator instead of the target's reference one: cpython, glibc, jemalloc (pymalloc family), mimalloc (heaps), cpython-debug (domains).")
  var allocator: String = "reference"

  func run() throws {
    let t = try FuzzWorkspace.target(for: file, explicit: target)
    let bugs = try FuzzWorkspace.bugs(self.bugs, for: t)
    let bytes = try ProgramFiles.read(file)
    if t.scheduled != nil { return try runScheduled(t, bytes: bytes, bugs: bugs) }
    let loaded = try CLISupport.loadProgram(bytes, name: file)
    let program = loaded.kind == .binary ? t.decode(bytes) : loaded.program
    guard let peer = PeerKind(rawValue: allocator) else {
      throw CLIError.usage("repro: unknown allocator \"\(allocator)\"; expected " + PeerKind.allCases.map(\.rawValue).joined(separator: ", "))
    }
    if peer != .reference && !bugs.isEmpty { throw CLIError.usage("repro: --bug seeds the reference; --allocator \(allocator) runs the real one") }
    if peer != .reference && t.differential { throw CLIError.usage("repro: \(t.name) already runs a real peer; give no --allocator") }
    let family = ProgramFamily(rawValue: t.family) ?? .pymalloc
    let adapter: AllocatorAdapter
    var oracle = t.oracle
    if peer == .reference {
      guard let a = t.makeAdapter(bugs) else { throw CLIError.usage("repro: cannot make the \(t.name) adapter") }
      adapter = a
    } else {
      guard PeerAdapters.families(of: peer).contains(family) else {
        throw CLIError.usage("repro: --allocator \(allocator) does not run \(family.rawValue)-family programs")
      }
      adapter = try PeerCheck.require { () throws(PeerUnavailable) in try PeerAdapters.make(peer, family: family) }
      oracle = PeerAdapters.oracle(for: peer, family: family, base: t.oracle)
    }
    Console.parameters("repro", [
      ("input", "\(file) (\(loaded.kind == .binary ? "\(bytes.count) bytes, decoded" : "text"), \(program.ops.count) ops)"),
      ("target", "\(t.name) (\(t.product)), the executor without sanitizer"),
      ("allocator", peer == .reference ? adapter.name : "\(peer.rawValue) (real)"),
      ("bugs", bugs.isEmpty ? "none" : bugs.joined(separator: ", ")),
      ("checks", peer == .reference ? "all (every rule after every op; invariants around each op, whole walks on the cadence)" : "all the peer can answer"),
    ])
    let verdict = Executor.run(program, on: adapter, config: ExecutorConfig(oracle: oracle, runSeed: loaded.seedComment ?? 0))
    let text = ProgramText.render(program, family: t.family, comments: ["from \(file)"])
    Console.out("program (\(program.ops.count) ops):\n" + abbreviated(text, maxLines: 200, note: "alloc-check decode prints all of it"))
    if emitTest { try emit(t, bytes: loaded.kind == .binary ? bytes : t.encode(program), verdict: verdict, bugs: bugs) }
    guard let v = verdict.violation else {
      Console.out("verdict: PASS (\(verdict.opsExecuted) ops with the teardown frees)")
      return
    }
    let kind = v.opIndex < program.ops.count ? program.ops[v.opIndex].kind.name : "teardown free"
    Console.out("verdict: " + describe(v, programLength: program.ops.count))
    Console.out("  rule: \(v.rule)  op index: \(v.opIndex) (\(kind))  detail: \(v.detail)")
    let shown = trace ? verdict.trace[...] : verdict.trace.suffix(RunCommand.traceTail)
    Console.out("trace (\(trace ? "all" : "last \(shown.count)") ops):\n" + FailureReport.renderTrace(shown))
    let flags = bugs.map { " --bug \($0)" }.joined()
    Console.out("minimize: swift run -c release alloc-check minimize \(file)\(flags)")
    throw ExitCode(1)
  }

  /// A schedule target's input (heaps-schedule): its program, its schedule, the run under it with the trace,
  /// and the `alloc-check run … --schedule` line that replays it from the program's text (written under
  /// .fuzz/<target>/repro/). Exit 1 on a violation.
  func runScheduled(_ t: FuzzTarget, bytes: [UInt8], bugs: [String]) throws {
    guard CLISupport.programFileKind(bytes) == .binary else {
      throw CLIError.usage("repro: \(t.name) replays binary inputs (a schedule and a program); for a program text use alloc-check run FILE --schedule …")
    }
    guard allocator == "reference" else { throw CLIError.usage("repro: \(t.name) runs the reference mimalloc only; give no --allocator") }
    guard let adapter = t.makeAdapter(bugs), let (schedule, run) = t.runScheduled(bytes, on: adapter) else {
      throw CLIError.usage("repro: cannot make the \(t.name) adapter")
    }
    let program = t.decode(bytes)
    let textPath = LibFuzzerArguments.workDir(t.name) + "/repro/" + (file as NSString).lastPathComponent + ".txt"
    try ProgramFiles.makeDirectory((textPath as NSString).deletingLastPathComponent)
    try ProgramFiles.write(ProgramText.render(program, family: t.family, comments: ["from \(file)"] + t.inputComments(bytes)), to: textPath)
    Console.parameters("repro", [
      ("input", "\(file) (\(bytes.count) bytes, decoded: \(program.ops.count) ops, \(ParallelProgram(program).tasks.count) threads)"),
      ("target", "\(t.name) (\(t.product)), the controlled scheduler without sanitizer"),
      ("schedule", "\(schedule)"), ("bugs", bugs.isEmpty ? "none" : bugs.joined(separator: ", ")),
    ])
    Console.out("program (\(program.ops.count) ops, saved as \(textPath)):\n" + ProgramText.render(program, family: t.family))
    let flags = bugs.map { " --bug \($0)" }.joined()
    let shown = trace ? run.trace[...] : run.trace.suffix(24)
    Console.out("""
      schedule: \(schedule) (\(run.steps) steps; as switches: \(Schedule.switches(run.switchPoints)))
      trace (\(trace ? "all" : "last \(shown.count)") lines):
      \(shown.map { "  " + $0 }.joined(separator: "\n"))
      replay: alloc-check run \(textPath)\(flags) --schedule \(schedule)
      """)
    if emitTest { try emit(t, bytes: bytes, violation: run.violation, bugs: bugs) }
    guard let v = run.violation else {
      Console.out("verdict: PASS")
      return
    }
    Console.out("verdict: " + describe(v, programLength: program.ops.count))
    Console.out("explore (shrinks program, then schedule): alloc-check explore \(textPath)\(flags) --strategy pct")
    throw ExitCode(1)
  }

  func emit(_ t: FuzzTarget, bytes: [UInt8], verdict: Verdict, bugs: [String]) throws {
    try emit(t, bytes: bytes, violation: verdict.violation, bugs: bugs)
  }

  func emit(_ t: FuzzTarget, bytes: [UInt8], violation: Violation?, bugs: [String]) throws {
    let program = t.decode(bytes)
    let hash = String(format: "%08x", PNG.crc32(t.canonicalBytes(bytes)))
    let stem = name ?? violation.map { v in
      "\(v.rule)-\(v.opIndex < program.ops.count ? program.ops[v.opIndex].kind.name : "teardown")-\(hash)"
    } ?? "pass-\(hash)"
    let dir = FuzzWorkspace.regressionsDir(t)
    try ProgramFiles.makeDirectory(dir)
    var origin = ["regression from \((file as NSString).lastPathComponent)"]
    if let v = violation {
      origin.append("broke \(v.rule) at op \(v.opIndex) with bugs: \(bugs.isEmpty ? "none" : bugs.joined(separator: ",")): \(v.detail)")
    }
    for f in FuzzCorpusFiles.regressionFiles(t, bytes: bytes, stem: stem, origin: origin) {
      try ProgramFiles.write(f.bytes, to: dir + "/" + f.name)
      Console.out("wrote \(dir)/\(f.name)")
    }
    if let clean = t.makeAdapter([]), let v = t.run(t.canonicalBytes(bytes), on: clean) {
      Console.err("repro: note: the entry breaks \(v.rule) on the allocator without seeded bugs, so swift test fails until the bug is fixed")
    } else {
      Console.out("the entry passes on the allocator without seeded bugs; swift test replays it from now on (Corpus replay suite)")
    }
  }
}
