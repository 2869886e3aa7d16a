// FuzzTarget.swift — one fuzz target as data (``FuzzTarget``) and the registry of all of them
// (``FuzzTargets/all``). Every tool reads the registry: the fuzz executables (a three-line
// `@_cdecl("LLVMFuzzerTestOneInput")` over ``FuzzTarget/testOneInput(_:)``), `alloc-check fuzz / repro /
// minimize / merge / report / seeds`, the corpus replay test and the OSS-Fuzz build. Adding a family is:
// a `<Family>Ops.swift` here with its ``FuzzTarget`` value, one line in ``FuzzTargets/all``, an executable
// target in Package.swift over `Entries/<Product>/Entry.swift`, and `alloc-check seeds <name>` for its corpus.
// No allocator state lives here except the fuzz executable's one reused adapter (``FuzzTarget/testOneInput(_:)``).

import Foundation
import Harness
import Oracle
import Synchronization

/// A fuzz target: how its bytes become a program, what it runs on, and its corpus.
public struct FuzzTarget: Sendable {
  /// Short name: the CLI argument, the corpus folder `corpus/<name>/` and its dictionary `<name>.dict`.
  public var name: String
  /// The SwiftPM product (and binary) name, `fuzz-<family>-ops`.
  public var product: String
  public var summary: String
  /// The binary family, written in the `# family:` line of text twins.
  public var family: String
  /// Seeded bug names the adapter accepts (`ALLOC_CHECK_BUGS`, `--bug`).
  public var bugNames: [String]
  /// Bytes to program; total (never rejects).
  public var decode: @Sendable ([UInt8]) -> Program
  /// Program to canonical bytes; `decode(encode(p)) == p` for valid programs.
  public var encode: @Sendable (Program) -> [UInt8]
  /// A fresh adapter with the named seeded bugs on, or nil if a name is unknown.
  public var makeAdapter: @Sendable ([String]) -> AllocatorAdapter?
  /// libFuzzer dictionary entries: (comment, bytes).
  public var dictionary: [(comment: String, bytes: [UInt8])]
  /// Representative programs for the committed seeds: (file stem, comment, program).
  public var seeds: [(name: String, comment: String, program: Program)]
  /// The oracle every input runs under.
  public var oracle: OracleConfig = .full
  /// A differential target (reference vs a real peer): its adapter holds libpython or libmimalloc, whose
  /// state lasts as long as the process, so in-process tests replay its corpus in a child process.
  public var differential: Bool
  /// A schedule target (``HeapsScheduleTarget``): the input also names a schedule of the controlled scheduler,
  /// and runs in parallel under it (ScheduledExecutor on the target's MimallocAdapter) instead of the executor.
  public var scheduled: ScheduledFormat? = nil

  public init(name: String, product: String, summary: String, family: String, bugNames: [String],
              decode: @escaping @Sendable ([UInt8]) -> Program, encode: @escaping @Sendable (Program) -> [UInt8],
              makeAdapter: @escaping @Sendable ([String]) -> AllocatorAdapter?,
              dictionary: [(comment: String, bytes: [UInt8])], seeds: [(name: String, comment: String, program: Program)],
              differential: Bool = false) {
    self.differential = differential
    self.name = name
    self.product = product
    self.summary = summary
    self.family = family
    self.bugNames = bugNames
    self.decode = decode
    self.encode = encode
    self.makeAdapter = makeAdapter
    self.dictionary = dictionary
    self.seeds = seeds
  }

  /// Runs one input through the executor (teardown on, no trace), or a schedule target's under its
  /// schedule; the first violation or nil.
  public func run(_ bytes: [UInt8], on adapter: AllocatorAdapter) -> Violation? {
    if let r = runScheduled(bytes, on: adapter) { return r.run.violation }
    return Executor.run(decode(bytes), on: adapter, config: ExecutorConfig(oracle: oracle, recordTrace: false)).violation
  }

  /// A schedule target's input, run in parallel under its schedule on `adapter` (a MimallocAdapter); nil for
  /// every other target.
  public func runScheduled(_ bytes: [UInt8], on adapter: AllocatorAdapter) -> (schedule: Schedule, run: ScheduledRun)? {
    guard let scheduled, let mimalloc = adapter as? MimallocAdapter else { return nil }
    let schedule = scheduled.split(bytes).schedule
    return (schedule, ScheduledExecutor(adapter: mimalloc).run(ParallelProgram(decode(bytes)), schedule: schedule))
  }

  /// The input's canonical bytes: its program re-encoded (behind its schedule's bytes, for a schedule target).
  public func canonicalBytes(_ bytes: [UInt8]) -> [UInt8] {
    let program = encode(decode(bytes))
    guard let scheduled else { return program }
    // encode puts the default schedule first: replace it by the input's own.
    let schedule = scheduled.split(bytes).schedule
    return (scheduled.header(schedule) ?? []) + Array(scheduled.split(program).program)
  }

  /// Comment lines for an input's text twin beyond its program: a schedule target's schedule.
  public func inputComments(_ bytes: [UInt8]) -> [String] {
    guard let scheduled else { return [] }
    let schedule = scheduled.split(bytes).schedule
    return ["schedule: \(schedule) (the program runs in parallel: alloc-check run THIS.txt --schedule \(schedule))"]
  }

  /// The one-line reason a fuzz binary traps with.
  public func trapMessage(_ v: Violation, program: Program) -> String {
    let op = v.opIndex < program.ops.count ? program.ops[v.opIndex].kind.name : "teardown free"
    return "alloc-check: \(v.rule) at op \(v.opIndex) (\(op)): \(v.detail)"
  }

  /// Runs one input and traps on a violation, so libFuzzer saves it.
  public func fuzzOne(_ bytes: [UInt8], on adapter: AllocatorAdapter) {
    let program = decode(bytes)
    if let (schedule, r) = runScheduled(bytes, on: adapter) {
      if let v = r.violation { fatalError(trapMessage(v, program: program) + " [schedule \(schedule)]") }
      return
    }
    if let v = Executor.run(program, on: adapter, config: ExecutorConfig(oracle: oracle, recordTrace: false)).violation {
      fatalError(trapMessage(v, program: program))
    }
  }

  /// The libFuzzer body of the fuzz executable: the first call makes the adapter (bugs from
  /// `ALLOC_CHECK_BUGS`, a comma list; an unknown name ends the process with status 2) and prints the setup
  /// once on stderr; every call reuses it.
  public func testOneInput(_ bytes: [UInt8]) {
    FuzzProcess.adapter.withLock { slot in
      if slot == nil { slot = FuzzProcess.start(self) }
      fuzzOne(bytes, on: slot!)
    }
  }
}

/// How a schedule target's input names its schedule (see ``HeapsScheduleTarget`` for the format).
public struct ScheduledFormat: Sendable {
  /// The schedule an input names, and its program's bytes.
  public var split: @Sendable ([UInt8]) -> (schedule: Schedule, program: ArraySlice<UInt8>)
  /// The bytes that name a schedule, before the program's (nil: no byte form for it).
  public var header: @Sendable (Schedule) -> [UInt8]?
}

/// The fuzz executable's process-wide state: one adapter, made on the first input.
enum FuzzProcess {
  static let adapter = Mutex<AllocatorAdapter?>(nil)

  /// The environment variable naming the seeded bugs of a fuzz process.
  static let bugsVariable = "ALLOC_CHECK_BUGS"

  static func start(_ target: FuzzTarget) -> AllocatorAdapter {
    let names = FuzzTargets.bugs(fromEnvironment: ProcessInfo.processInfo.environment[bugsVariable])
    guard let adapter = target.makeAdapter(names) else {
      FileHandle.standardError.write(Data("\(target.product): unknown bug in \(bugsVariable)=\(names.joined(separator: ",")); valid: \(target.bugNames.joined(separator: ", "))\n".utf8))
      exit(2)
    }
    FileHandle.standardError.write(Data("\(target.product): \(target.summary); bugs: \(names.isEmpty ? "none" : names.joined(separator: ","))\n".utf8))
    return adapter
  }
}

/// The registry.
public enum FuzzTargets {
  /// Every fuzz target, in the order `--all` runs them. One line per family.
  public static let all: [FuzzTarget] = [
    PymallocOpsTarget.target,
    HeapsOpsTarget.target,
    DomainsOpsTarget.target,
    PymallocDiffTarget.target,
    HeapsDiffTarget.target,
    HeapsScheduleTarget.target,
  ]

  /// The target called `name` (its short name or its product name).
  public static func named(_ name: String) -> FuzzTarget? {
    all.first { $0.name == name || $0.product == name }
  }

  /// The names in an `ALLOC_CHECK_BUGS` value (comma or space separated; empty means none).
  public static func bugs(fromEnvironment value: String?) -> [String] {
    (value ?? "").split { $0 == "," || $0 == " " }.map(String.init)
  }
}
