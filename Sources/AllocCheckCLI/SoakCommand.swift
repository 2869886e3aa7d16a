// SoakCommand.swift — `alloc-check soak`, the long property run. A stress runner, not a benchmark: its
// ops/s is progress only (measure with `alloc-check bench`). Workload it models (style R39):
// - generated programs of 50, 300, 2000 and 6000 ops, each with the size profile its seed picks
//   (class boundaries, uniform small, one or two classes, mixed with raw and impossible sizes);
// - every 4th program `.arenaChurn` at 5000 ops: several arenas mapped, re-sorted and released;
// - the full oracle (every rule, every invariant after every op) and the teardown frees.
// Program k uses ``BugHunt/programSeed(_:_:)`` (seed, k), so a soak is one long ``BugHunt`` hunt, and
// any program replays on its own. The first violation is shrunk, saved and reported; Ctrl-C stops after
// the current program and prints how to resume.

import AllocUnderTest
import ArgumentParser
import Foundation
import Harness
import Oracle

struct SoakCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "soak",
    abstract: "Generate and check programs until a time or count is reached, a rule breaks, or Ctrl-C.",
    discussion: "Without --for or --programs it runs until Ctrl-C, which stops it after the current program and "
      + "prints how to resume. Not a benchmark; see alloc-check bench.")

  @Option(help: "Soak seed (decimal or 0x-hex); default: a fresh one, printed first.") var seed: String?
  @Option(name: .customLong("for"), help: "Run for this long: 90s, 10m, 8h, 1h30m.") var duration: String?
  @Option(help: "Run this many programs.") var programs: String?
  @Option(help: "Start at program K of the soak (to resume an interrupted one).") var start: String?
  @Option(help: "Ops per program (default: cycle 50, 300, 2000, 6000 and arenaChurn at 5000).") var length: String?
  @Option(help: "Size profile of every program (default: the seed picks, plus arenaChurn every 4th).") var profile: String?
  @Option(name: .customLong("bug"), help: "Switch on a seeded pymalloc bug (repeatable).") var bugs: [String] = []
  @Option(help: "Allocator: reference (default), or a real one running the pymalloc family: cpython, glibc, jemalloc.")
  var allocator: String = "reference"
  @Option(help: "Folder for the shrunk failing program.") var out: String = "crashes"
  @Option(help: "Longest time to spend shrinking a failure (Ctrl-C also stops it and keeps the best so far).")
  var shrinkTime: String = "3m"

  func run() throws {
    let seed = try self.seed.map { s throws(CLIError) in try CLISupport.parseSeed(s) } ?? SeededRandom.freshSeed()
    let limit = try programs.map { p throws(CLIError) in try CLISupport.parseCount(p, option: "--programs") }
    let duration = try self.duration.map { d throws(CLIError) in try CLISupport.parseDuration(d) }
    guard limit == nil || duration == nil else { throw CLIError.usage("soak: give --for or --programs, not both") }
    let first = start.map { Int($0) ?? -1 } ?? 0
    guard first >= 0 else { throw CLIError.usage("soak: bad value \"\(start!)\" for --start; expected a program number ≥ 0") }
    let schedule = Schedule(length: try length.map { l throws(CLIError) in try CLISupport.parseCount(l, option: "--length") },
                            profile: try profile.map { p throws(CLIError) in try CLISupport.parseProfile(p) })
    var bugs: [PymallocBug] = []
    for name in self.bugs {
      let bug = try CLISupport.parseBug(name)
      if !bugs.contains(bug) { bugs.append(bug) }
    }

    guard let peer = PeerKind(rawValue: allocator), PeerAdapters.families(of: peer).contains(.pymalloc) else {
      throw CLIError.usage("soak: unknown allocator \"\(allocator)\"; soak runs pymalloc-family programs on reference, cpython, glibc or jemalloc")
    }
    if peer != .reference && !bugs.isEmpty { throw CLIError.usage("soak: --bug seeds the reference; --allocator \(allocator) runs the real one") }
    let shrinkLimit = try CLISupport.parseDuration(shrinkTime)
    let stop = limit.map { "\($0) programs" } ?? duration.map { "after \(CLISupport.spell($0))" } ?? "Ctrl-C"
    Console.parameters("soak", [
      ("seed", hex(seed)), ("programs", "from \(first), until \(stop)"), ("lengths", schedule.description),
      ("allocator", peer == .reference ? "pymalloc, bugs: " + (bugs.isEmpty ? "none" : bugs.map(\.rawValue).joined(separator: ", "))
        : "\(peer.rawValue) (real, \(peer.libraryFile ?? ""))"),
      ("checks", peer == .reference ? "all, invariants after every op, teardown frees" : "all the peer can answer, teardown frees"),
      ("on failure", "shrink (at most 3000 attempts, \(CLISupport.spell(shrinkLimit))), save to \(out)/, exit 1"),
      ("rerun", command(seed: seed, start: first, limit: limit, duration: duration, bugs: bugs)),
    ])
    Console.out("not a benchmark: ops/s below is progress only (alloc-check bench measures)")

    Interrupt.install()
    let clock = ContinuousClock()
    let began = clock.now
    var lastProgress = began
    var done = 0
    var ops = 0
    let adapter: AllocatorAdapter = peer == .reference ? PymallocAdapter(bugs: Set(bugs))
      : try PeerCheck.require { () throws(PeerUnavailable) in try PeerAdapters.make(peer, family: .pymalloc) }
    let oracle = PeerAdapters.oracle(for: peer, family: .pymalloc, base: .full)
    var k = first
    while !Interrupt.requested {
      if let limit, done >= limit { break }
      if let duration, clock.now - began >= duration { break }
      let generator = schedule.generator(forProgram: k)
      let hit = BugHunt.search(seed: seed, indices: k..<(k + 1), generator: generator,
                               adapter: adapter, oracle: oracle, progress: { _, n in ops += n })
      done += 1
      if let hit {
        Console.out(summary(done, ops, violations: 1, clock.now - began))
        try report(hit, program: k, soakSeed: seed, generator: generator, adapter: adapter, oracle: oracle, bugs: bugs,
                   shrinkLimit: shrinkLimit)
      }
      k += 1
      if clock.now - lastProgress >= .seconds(2) {
        lastProgress = clock.now
        let elapsed = lastProgress - began
        Console.err("soak: \(CLISupport.spell(.seconds(Int64(elapsed.seconds)))) elapsed, \(done) programs, \(ops) ops "
                    + "(\(rate(ops, elapsed)) ops/s), 0 violations")
      }
    }
    let elapsed = clock.now - began
    if Interrupt.requested {
      Console.out("soak: interrupted (Ctrl-C) after program \(k - 1); nothing was lost")
      Console.out(summary(done, ops, violations: 0, elapsed))
      let remaining = limit.map { $0 - done }
      Console.out("resume: " + command(seed: seed, start: k, limit: remaining, duration: duration, bugs: bugs))
    } else {
      Console.out(summary(done, ops, violations: 0, elapsed))
    }
  }

  func summary(_ programs: Int, _ ops: Int, violations: Int, _ elapsed: Duration) -> String {
    let secs = elapsed.seconds
    let shown = secs < 10 ? String(format: "%.1f", secs) : String(Int(secs.rounded()))
    return "soak: \(programs) program\(programs == 1 ? "" : "s"), \(ops) ops, \(violations) violation\(violations == 1 ? "" : "s") in \(shown) s "
      + "(\(rate(ops, elapsed)) ops/s)"
  }

  /// Shrinks the failing program (``ShrinkSession``, at most 3000 attempts), saves it under --out, prints
  /// ``FailureReport/render(_:bug:savedTo:traceLines:maxProgramLines:)`` and exits 1. ``BugHunt/shrink(seed:generator:program:violation:adapter:oracle:maxAttempts:)``
  /// with no attempts left only builds the ``Finding`` (its final traced run): its own shrink loop has no
  /// time limit, and takes most of an hour on a failure that needs several arenas.
  func report(_ hit: (seed: UInt64, program: Program, violation: Violation), program k: Int, soakSeed: UInt64,
              generator: ProgramGenerator, adapter: AllocatorAdapter, oracle: OracleConfig, bugs: [PymallocBug],
              shrinkLimit: Duration) throws -> Never {
    Console.out("soak: program \(k) (seed \(hex(hit.seed)), \(hit.program.ops.count) ops) broke \(hit.violation.rule) "
                + "at op \(hit.violation.opIndex); shrinking (at most 3000 attempts, \(CLISupport.spell(shrinkLimit)))…")
    let session = ShrinkSession(adapter: adapter, runSeed: hit.seed, oracle: oracle, maxAttempts: 3000, timeLimit: shrinkLimit)
    let outcome = session.shrink(hit.program, hit.violation)
    var finding = BugHunt.shrink(seed: hit.seed, generator: generator, program: outcome.program, violation: outcome.violation,
                                 adapter: adapter, oracle: oracle, maxAttempts: 0)
    finding.program = hit.program
    finding.violation = hit.violation
    finding.shrinkAttempts = outcome.attempts
    if let why = outcome.cutShort { Console.out("soak: shrinking stopped early (\(why)); the minimize command below goes on") }
    try ProgramFiles.makeDirectory(out)
    let path = (out.hasSuffix("/") ? out : out + "/") + "soak-\(String(soakSeed, radix: 16))-\(k).txt"
    try ProgramFiles.write(FailureReport.programText(finding), to: path)
    // FailureReport takes one bug name; several are joined so that its " --bug <name>" repeats.
    let bug = bugs.isEmpty ? nil : bugs.map(\.rawValue).joined(separator: " --bug ")
    Console.out(FailureReport.render(finding, bug: bug, savedTo: path))
    throw ExitCode(1)
  }

  /// The command that reruns this soak (from program `start`).
  func command(seed: UInt64, start: Int, limit: Int?, duration: Duration?, bugs: [PymallocBug]) -> String {
    var cmd = "swift run -c release alloc-check soak --seed \(hex(seed))"
    if start > 0 { cmd += " --start \(start)" }
    if let limit { cmd += " --programs \(limit)" }
    if let duration { cmd += " --for \(CLISupport.spell(duration))" }
    if let length { cmd += " --length \(length)" }
    if let profile { cmd += " --profile \(profile)" }
    cmd += bugs.map { " --bug \($0.rawValue)" }.joined()
    if allocator != "reference" { cmd += " --allocator \(allocator)" }
    if out != "crashes" { cmd += " --out \(out)" }
    if shrinkTime != "3m" { cmd += " --shrink-time \(shrinkTime)" }
    return cmd
  }

  /// Which generator program k uses.
  struct Schedule: CustomStringConvertible {
    var length: Int?
    var profile: ProgramGenerator.SizeProfile?
    static let lengths = [50, 300, 2000, 6000]
    static let churn = ProgramGenerator(length: 5000, profile: .arenaChurn)

    /// --length and --profile fix what they name; otherwise lengths cycle, and with neither given every
    /// 4th program is an arena churn (the cycle continues over the other three).
    func generator(forProgram k: Int) -> ProgramGenerator {
      if length == nil && profile == nil && k % 4 == 3 { return Self.churn }
      let cycled = Self.lengths[(length == nil && profile == nil ? k - k / 4 : k) % Self.lengths.count]
      return ProgramGenerator(length: length ?? cycled, profile: profile)
    }

    var description: String {
      switch (length, profile) {
      case (nil, nil): "cycle 50, 300, 2000, 6000 (profile picked per seed); every 4th: arenaChurn at 5000"
      case (let l?, nil): "\(l) ops, profile picked per seed"
      case (nil, let p?): "cycle 50, 300, 2000, 6000, profile \(p)"
      case (let l?, let p?): "\(l) ops, profile \(p)"
      }
    }
  }
}
