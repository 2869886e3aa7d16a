// DiffCommand.swift — `alloc-check diff`: programs on the reference and on a real allocator side by side
// (``Differential``), stopping at the first divergence or violation, which is reported like one (rule, op,
// both values, replay command) and shrunk. Each program, and each shrink candidate, runs in a forked child
// of a parent that never runs one, so every run starts from the same peer state (CPython's pymalloc keeps
// its arenas for the life of a process). Input: FILE, a directory (its *.txt programs of the family), or
// --seed/--length with --count for a generated set (seeds S, S+1, …).

import AllocUnderTest
import ArgumentParser
import Foundation
import Harness
import Oracle

struct DiffCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "diff",
    abstract: "Compare the reference allocator with a real one op by op (exit 1 at the first divergence).",
    discussion: "Peers: cpython (pymalloc family), mimalloc (heaps family), cpython-debug (domains family). A peer that cannot be loaded is skipped (exit 0), or fails under CI=true.")

  @Argument(help: "A program file, or a directory whose *.txt programs of the family are run.") var file: String?
  @Option(help: "Seed of the generated program (with --count: the first seed).") var seed: String?
  @Option(help: "Ops in each generated program.") var length: String?
  @Option(help: "Size profile of the generated programs (default: each seed picks one).") var profile: String?
  @Option(help: "Program family: pymalloc (default), heaps or domains.") var family: String?
  @Option(help: "Generated programs to run (seeds S, S+1, …).") var count: String = "1"
  @Option(help: "The real allocator: cpython (default for pymalloc), mimalloc (heaps), cpython-debug (domains).") var peer: String?
  @Option(name: .customLong("bug"), help: "Seed a (fidelity) bug into the reference side (repeatable; see alloc-check bugs).") var bugs: [String] = []
  @Option(help: "Fault plan for arena mmaps, on both sides: never, always, nth:K, every:N.") var arenaFaults = "never"
  @Option(help: "Fault plan for RAW-domain calls, on both sides.") var rawFaults = "never"
  @Flag(help: "Report a failure without shrinking it.") var noShrink = false
  @Option(help: "Longest time to spend shrinking a failure (Ctrl-C also stops it and keeps the smallest so far).")
  var shrinkTime = "5m"
  @Option(help: "Where a shrunk failing program is written.") var out = "crashes/diff"

  func run() throws {
    let fam = try family.map { f throws(CLIError) in try CLISupport.parseFamily(f) } ?? .pymalloc
    let peerKind = try Self.peer(peer, family: fam)
    let arena = try CLISupport.parseFaultPlan(arenaFaults)
    let raw = try CLISupport.parseFaultPlan(rawFaults)
    var seeded: [SeededBug] = []
    for b in bugs { seeded.append(try CLISupport.parseAnyBug(b)) }
    if let wrong = seeded.first(where: { $0.family != fam }) { throw CLIError.usage("diff: --bug \(wrong.name) is not a \(fam.rawValue)-family bug") }
    let shrinkLimit = try CLISupport.parseDuration(shrinkTime)
    let programs = try loadPrograms(fam)
    let flags = bugs.map { " --bug \($0)" }.joined() + (arena == .never ? "" : " --arena-faults \(arenaFaults)")
      + (raw == .never ? "" : " --raw-faults \(rawFaults)")
    Console.parameters("diff", [("programs", programs.origin), ("peer", "\(peerKind.rawValue) (\(peerKind.libraryFile ?? ""))"),
                                ("reference bugs", bugs.isEmpty ? "none" : bugs.joined(separator: ", ")),
                                ("faults", "arena mmaps \(arenaFaults), RAW \(rawFaults) (both sides)"),
                                ("isolation", fam == .pymalloc ? "each program in a forked child" : "in process (no state carried between runs)")])
    let pair = try PeerCheck.require { () throws(PeerUnavailable) in
      try Self.makePair(peerKind, family: fam, bugs: seeded, arenaFaults: arena, rawFaults: raw)
    }
    let clock = ContinuousClock()
    let start = clock.now
    var lastProgress = start
    var compared = 0, ops = 0
    for (k, item) in programs.items.enumerated() {
      let outcome = Self.isolated(pair, item.program, runSeed: item.runSeed)
      compared += outcome.compared
      ops += outcome.referenceOps
      if !outcome.passed {
        try report(outcome, item, pair: pair, flags: flags, shrinkLimit: shrinkLimit)
        throw ExitCode(1)
      }
      if clock.now - lastProgress > .seconds(3) {
        lastProgress = clock.now
        Console.err("diff: \(k + 1)/\(programs.items.count) programs agree, \(compared) observations compared, \(CLISupport.spell(.seconds(Int64((clock.now - start).seconds))))")
      }
    }
    let t = clock.now - start
    Console.out("PASS: \(programs.items.count) program\(programs.items.count == 1 ? "" : "s"), \(ops) ops each side, \(compared) observations compared, 0 divergences, 0 violations (\(String(format: "%.1f", t.seconds)) s)")
  }

  static func peer(_ name: String?, family: ProgramFamily) throws(CLIError) -> PeerKind {
    let kind: PeerKind
    if let name {
      guard let k = PeerKind(rawValue: name), k != .reference else { throw .usage("diff: unknown peer \"\(name)\"; expected cpython, mimalloc or cpython-debug") }
      kind = k
    } else {
      kind = family == .pymalloc ? .cpython : family == .heaps ? .mimalloc : .cpythonDebug
    }
    guard DifferentialPairs.peers(for: family).contains(kind) else {
      throw .usage("diff: the \(family.rawValue) family is compared with " + DifferentialPairs.peers(for: family).map(\.rawValue).joined(separator: " or ") + ", not \(kind.rawValue)")
    }
    return kind
  }

  static func makePair(_ kind: PeerKind, family: ProgramFamily, bugs: [SeededBug], arenaFaults: FaultPlan,
                       rawFaults: FaultPlan) throws(PeerUnavailable) -> DifferentialPair {
    try DifferentialPairs.make(kind, family: family, bugs: bugs, arenaFaults: arenaFaults, rawFaults: rawFaults)
  }

  /// One differential run in a child process (when the pair needs it); a child that dies is reported as the
  /// peer's crash.
  static func isolated(_ pair: DifferentialPair, _ program: Program, runSeed: UInt64) -> DifferentialOutcome {
    guard pair.needsIsolation else { return DifferentialOutcome(pair.run(program, runSeed: runSeed)) }
    switch ForkedRun.run({ DifferentialOutcome(pair.run(program, runSeed: runSeed)).encoded }) {
    case .success(let bytes):
      return DifferentialOutcome(decoding: bytes) ?? DifferentialOutcome(crash: "unreadable result from the child", pair: pair)
    case .failure(let f):
      return DifferentialOutcome(crash: f.description, pair: pair)
    }
  }

  struct Item {
    var program: Program
    var runSeed: UInt64
    var name: String
    var replay: String
  }

  func loadPrograms(_ fam: ProgramFamily) throws -> (items: [Item], origin: String) {
    if let file {
      guard seed == nil || count == "1", length == nil else { throw CLIError.usage("diff: give FILE or --seed/--length, not both") }
      var isDir: ObjCBool = false
      if FileManager.default.fileExists(atPath: file, isDirectory: &isDir), isDir.boolValue {
        let paths = (FileManager.default.enumerator(atPath: file)?.compactMap { $0 as? String } ?? [])
          .filter { $0.hasSuffix(".txt") }.sorted().map { file + "/" + $0 }
        var items: [Item] = []
        for p in paths {
          let loaded = try CLISupport.loadProgram(ProgramFiles.read(p), name: p, family: fam)
          guard loaded.family == fam else { continue }
          items.append(Item(program: loaded.program, runSeed: loaded.seedComment ?? 0, name: p, replay: p))
        }
        guard !items.isEmpty else { throw CLIError.usage("diff: \(file) holds no \(fam.rawValue)-family *.txt program") }
        return (items, "\(items.count) \(fam.rawValue)-family programs under \(file)")
      }
      let r = try ProgramSourceOptions.resolve(file: file, seed: seed, length: nil, profile: nil, family: fam.rawValue, command: "diff")
      return ([Item(program: r.program, runSeed: r.runSeed, name: file, replay: file)], r.origin)
    }
    guard let seed, let length else { throw CLIError.usage("diff: give a program FILE or directory, or --seed S and --length L") }
    let first = try CLISupport.parseSeed(seed)
    let n = try CLISupport.parseCount(count, option: "--count")
    var items: [Item] = []
    for k in 0..<n {
      let s = first &+ UInt64(k)
      let r = try ProgramSourceOptions.resolve(file: nil, seed: "\(s)", length: length, profile: profile, family: fam.rawValue, command: "diff")
      items.append(Item(program: r.program, runSeed: s, name: "seed \(hex(s))",
                        replay: "--family \(fam.rawValue) --seed \(hex(s)) --length \(length)" + (profile.map { " --profile \($0)" } ?? "")))
    }
    return (items, "\(n) generated \(fam.rawValue)-family programs, seeds \(hex(first))…\(hex(first &+ UInt64(n - 1))), length \(length)")
  }

  func report(_ o: DifferentialOutcome, _ item: Item, pair: DifferentialPair, flags: String, shrinkLimit: Duration) throws {
    let rule = o.rule ?? "?"
    let title = RuleID(rawValue: rule)?.title ?? "allocator invariant"
    let side = o.side == "differential" ? "DIVERGENCE" : "VIOLATION on the \(o.side ?? "?") side"
    Console.out("\(side) \(rule) (\(title)) at op \(o.opIndex ?? -1) of \(item.name): \(o.detail ?? "")")
    Console.out("replay: alloc-check diff \(item.replay)\(flags)")
    guard !noShrink else { return }
    Console.out("shrinking (each candidate in its own child process; at most 2000 attempts, \(CLISupport.spell(shrinkLimit)), Ctrl-C keeps the smallest so far) …")
    // Each candidate of a long program costs a whole differential run (seconds for a committed trace), so
    // the time limit, not the attempt budget, is what ends a long shrink: past it, and after Ctrl-C, every
    // further candidate counts as passing and the shrinker returns the smallest failing program so far.
    Interrupt.install()
    var budget = ShrinkBudget(limit: shrinkLimit, originalOps: item.program.ops.count)
    let shrunk = Shrinker.shrink(item.program, maxAttempts: 2_000) { candidate in
      guard budget.allows() else { return false }
      let c = Self.isolated(pair, candidate, runSeed: item.runSeed)
      let fails = c.rule == o.rule && c.side == o.side
      budget.record(candidate, fails: fails)
      return fails
    }
    if let cutShort = budget.cutShort {
      Console.out("shrinking stopped early (\(cutShort)); the program below is the smallest failing one so far")
    }
    let final = Self.isolated(pair, shrunk.program, runSeed: item.runSeed)
    let text = ProgramText.render(shrunk.program, family: pair.family.rawValue, comments: [
      "seed: \(hex(item.runSeed))",
      "diverges: \(final.rule ?? rule) at op \(final.opIndex ?? -1) (\(final.side ?? "")): \(final.detail ?? "")",
      "shrunk from \(item.name) (\(item.program.ops.count) ops); replay: alloc-check diff FILE\(flags)",
    ])
    try ProgramFiles.makeDirectory(out)
    let path = "\(out)/\(pair.family.rawValue)-\(rule)-\(hex(item.runSeed)).txt"
    try ProgramFiles.write(text, to: path)
    // A long program is left in the file: printed, it would push the verdict out of a CI log's tail.
    let shown = shrunk.program.ops.count <= 60 ? text : "(\(shrunk.program.ops.count) ops: see the file)\n"
    Console.out("shrunk to \(shrunk.program.ops.count) ops in \(budget.tried) attempts\n" + shown + "wrote \(path)\n"
                + "\(final.rule ?? rule) at op \(final.opIndex ?? -1) (\(final.side ?? "")): \(final.detail ?? "")\n"
                + "replay: alloc-check diff \(path)\(flags)")
  }
}

extension DifferentialOutcome {
  init(crash: String, pair: DifferentialPair) {
    self.init(decoding: Array("\(pair.peerName)\ncrash\n\n\(crash)\n0\n0\n0".utf8))!
  }
}
