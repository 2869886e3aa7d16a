// StressCommand.swift — `alloc-check stress`: the real-thread stress runner of the Stress library (its
// workload and checks S1–S6 are listed in Sources/Stress/Stress.swift and StressRun.swift). Prints the
// parameters and seed first, a progress line to stderr every few seconds, then the figures; on a failed
// check exits 1 with the reason and the replay command. scripts/stress-tsan and scripts/stress-bugs use it.

import AllocUnderTest
import ArgumentParser
import Foundation
import Harness
import Stress

struct StressCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stress",
    abstract: "Real OS threads allocate, hand blocks to each other and free them; check canaries, accounting and teardown.",
    discussion: """
      Workload: mimalloc's test-stress (transfer slots, canaries) plus thread churn and bounded footprint.
      Checks: S1 canary, S2 every block freed exactly once, S3 owner collect reclaims cross-thread frees,
      S4 everything back to zero after teardown, S5 peak mapped <= 2 x peak live + slack, S6 invariants.
      Every random choice comes from the printed seed (thread i's stream from seed + i); the interleaving
      of real threads is not reproducible. Exit 0 pass, 1 a check failed, 2 bad input.
      Counts take k/M suffixes (10M). Run it under TSan with scripts/stress-tsan.
      """)

  @Option(help: "reference (the Swift models; see --model), or a real allocator: mimalloc (libmimalloc 2.0.9, per-thread heaps), cpython (CPython 3.11's pymalloc behind one lock), glibc or jemalloc.")
  var allocator = "reference"
  @Option(help: "Which reference allocator: mimalloc (one MiThread per OS thread) or pymalloc (one lock, the GIL).") var model = "mimalloc"
  @Option(help: "OS threads working at once.") var threads = 4
  @Option(help: "Total ops (mallocs + frees) over all threads (default 1M unless --for).") var ops: String?
  @Option(name: .customLong("for"), help: "Run whole rounds for this long instead: 90s, 10m, 1h.") var duration: String?
  @Option(help: "Seed (decimal or 0x-hex); default: a fresh one, printed first.") var seed: String?
  @Option(help: "Size mix: mixed (small-biased, tail to 1 MiB) or small (8-512 B).") var sizes = "mixed"
  @Option(help: "Shared transfer slots.") var slots = 1000
  @Option(help: "A thread exits holding its blocks after ~N of its ops and is replaced; 0: never.") var churnEvery = 50_000
  @Option(help: "Blocks one thread keeps at most.") var live = 2000
  @Option(help: "Ops of all threads per round (joins and checks between rounds).") var roundOps = "1M"
  @Option(name: .customLong("bug"), help: "Switch on a seeded bug of the chosen allocator (repeatable).") var bugs: [String] = []
  @Option(help: "Seconds between progress lines on stderr.") var progress = 3
  @Option(help: "mimalloc's delayed-state transition log for MI3: on, or off (its global lock orders threads and hides races from TSan).")
  var transitionLog = "on"
  @Option(help: "mimalloc heaps used: mem+object (OBJECT uses QSBR), or mem (no QSBR lock: for TSan bug checks).")
  var heaps = "mem+object"

  func run() throws {
    guard let peer = PeerKind(rawValue: allocator), peer != .cpythonDebug else {
      throw CLIError.usage("stress: unknown allocator \"\(allocator)\"; expected reference, mimalloc, cpython, glibc or jemalloc"
        + (allocator == "pymalloc" ? " (the pymalloc reference is --model pymalloc)" : ""))
    }
    guard let kind = StressAllocatorKind(rawValue: model) else {
      throw CLIError.usage("stress: unknown model \"\(model)\"; expected mimalloc or pymalloc")
    }
    if peer != .reference && !bugs.isEmpty { throw CLIError.usage("stress: --bug seeds the reference; --allocator \(allocator) runs the real one") }
    guard let mix = SizeMix(rawValue: sizes) else { throw CLIError.usage("stress: unknown size mix \"\(sizes)\"; expected mixed or small") }
    guard threads >= 1, threads <= 256 else { throw CLIError.usage("stress: --threads must be 1…256") }
    guard slots >= 1, live >= 1, churnEvery >= 0, progress >= 1 else {
      throw CLIError.usage("stress: --slots, --live and --progress must be ≥ 1, --churn-every ≥ 0")
    }
    guard ops == nil || duration == nil else { throw CLIError.usage("stress: give --ops or --for, not both") }
    let seed = try self.seed.map { s throws(CLIError) in try CLISupport.parseSeed(s) } ?? SeededRandom.freshSeed()
    var p = StressParameters(threads: threads, operations: nil, seed: seed)
    p.allocator = kind
    p.sizes = mix
    p.slots = slots
    p.churnEvery = churnEvery
    p.liveBlocks = live
    p.roundOperations = try Self.count(roundOps, "--round-ops")
    p.bugs = bugs
    if let duration { p.duration = try CLISupport.parseDuration(duration) } else { p.operations = try Self.count(ops ?? "1M", "--ops") }

    let alloc: any StressAllocator
    switch (peer, kind) {
    case (.mimalloc, _):
      alloc = try PeerCheck.require { () throws(PeerUnavailable) in try LibMimallocStress() }
    case (.cpython, _):
      alloc = try PeerCheck.require { () throws(PeerUnavailable) in try CPythonStress() }
    case (.glibc, _), (.jemalloc, _):
      alloc = try PeerCheck.require { () throws(PeerUnavailable) in try CHeapStress(peer) }
    case (_, .mimalloc):
      guard transitionLog == "on" || transitionLog == "off" else { throw CLIError.usage("stress: --transition-log is on or off") }
      guard heaps == "mem" || heaps == "mem+object" else { throw CLIError.usage("stress: --heaps is mem+object or mem") }
      alloc = MimallocStress(bugs: Set(try bugs.map { name throws(CLIError) in
        guard let b = MimallocBug(rawValue: name) else { throw CLIError.usage("stress: \"\(name)\" is not a mimalloc bug (alloc-check bugs lists them)") }
        return b
      }), recordsTransitions: transitionLog == "on", memOnly: heaps == "mem")
    case (_, .pymalloc):
      alloc = PymallocStress(bugs: Set(try bugs.map { name throws(CLIError) in
        guard let b = PymallocBug(rawValue: name) else { throw CLIError.usage("stress: \"\(name)\" is not a pymalloc bug (alloc-check bugs lists them)") }
        return b
      }))
    }

    let replay = command(p)
    Console.parameters("stress", [
      ("seed", hex(seed)), ("allocator", alloc.name + ", bugs: " + (bugs.isEmpty ? "none" : bugs.joined(separator: ", "))),
      ("threads", "\(threads), churn: " + (churnEvery == 0 ? "none" : "each exits holding its blocks after ~\(churnEvery) of its ops")),
      ("stop", p.operations.map { "after \($0) ops" } ?? "after \(duration!) (whole rounds)"),
      ("sizes", mix.description), ("slots", "\(slots) transfer slots, 1 in 4 mallocs handed over"),
      ("live", "at most \(live) blocks per thread"), ("rounds", "\(p.roundOperations) ops each, then invariants + footprint"),
      ("footprint", "peak mapped ≤ 2 × peak live + \(alloc.footprintSlack(threads: threads) >> 20) MiB"),
      ("replay", replay),
    ])
    Console.out("not a benchmark: ops/s is progress; thread i draws from seed + i, but the interleaving of real threads is not reproducible")

    Interrupt.install()
    let result = StressRun.run(p, allocator: alloc, progressEvery: .seconds(Int64(progress)),
                               progress: { Console.err($0) },
                               onFailure: { Console.err("stress: FAIL \($0) (printed at once: corruption may crash the run; replay: \(replay))") },
                               shouldStop: { Interrupt.requested })
    Console.out(summary(result))
    if result.interrupted { Console.out("stress: interrupted (Ctrl-C) after \(result.operations) ops; the teardown and its checks ran") }
    guard result.passed else {
      for f in result.failures { Console.out("FAIL \(f)") }
      Console.out("replay: \(replay)")
      Console.out("note: the replay repeats every thread's op stream (same seed), not the interleaving; a race may need several runs")
      throw ExitCode(1)
    }
    Console.out("stress: ok")
  }

  func summary(_ r: StressResult) -> String {
    let t = r.teardown
    var lines = [
      "stress: \(r.operations) ops in \(String(format: "%.2f", r.seconds)) s (\(r.opsPerSecond) ops/s), \(r.rounds) rounds, \(threads) threads",
      "  mallocs \(r.mallocs) (\(r.failedMallocs) NULL\(r.failedMallocSizes.isEmpty ? "" : ", sizes \(r.failedMallocSizes.prefix(4).map(String.init).joined(separator: " "))")), frees \(r.frees) (\(r.crossThreadFrees) cross-thread), handed over \(r.handedOver), "
        + "churns \(r.churns) (\(r.orphaned) blocks orphaned), teardown frees \(r.teardownFrees)",
      "  S1 canaries checked \(r.canaryChecks), \(r.failures.filter { $0.check.hasPrefix("S1") }.count) bad",
      "  S2 ids freed \(r.freedIds), lost \(r.lostBlocks), freed twice \(r.freedTwice), never allocated \(r.unknownIds)",
      "  S3 owner collect left " + (r.ownerCollectLeft.map { "\($0) blocks" } ?? "(not measured: one shared allocator, or no per-thread count)"),
    ]
    for (check, reason) in r.notChecked.sorted(by: { $0.key < $1.key }) { lines.append("  \(check) skipped: \(reason)") }
    if r.notChecked["S4"] != nil {
    } else if let t {
      lines.append("  S4 after final collect: \(t.blocksInUse) blocks in use, \(t.segments) segments/arenas in use, \(t.mappedBytes) B mapped"
                   + (t.allowedMappedBytes > 0 ? " (\(t.allowedMappedBytes) B allowed: one empty arena kept, bpo-37257), " : ", ")
                   + "abandoned segments \(t.abandonedBefore) → \(t.abandonedAfter)")
    } else {
      lines.append("  S4 not reached (an earlier check failed)")
    }
    if r.notChecked["S5"] == nil {
    lines.append("  S5 peak mapped \(mib(r.peakMappedBytes)) MiB, peak live \(mib(r.peakLiveBytes)) MiB, ratio "
                 + String(format: "%.2f", r.footprintRatio) + ", bound \(mib(r.footprintBound)) MiB")
    }
    return lines.joined(separator: "\n")
  }

  func mib(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }

  /// The command that reruns this stress run.
  func command(_ p: StressParameters) -> String {
    var cmd = "swift run -c release alloc-check stress --allocator \(allocator)\(allocator == "reference" ? " --model \(model)" : "") --threads \(threads)"
    if let ops = p.operations { cmd += " --ops \(ops)" } else if let duration { cmd += " --for \(duration)" }
    cmd += " --seed \(hex(p.seed))"
    if sizes != "mixed" { cmd += " --sizes \(sizes)" }
    if slots != 1000 { cmd += " --slots \(slots)" }
    if churnEvery != 50_000 { cmd += " --churn-every \(churnEvery)" }
    if live != 2000 { cmd += " --live \(live)" }
    if p.roundOperations != 1_000_000 { cmd += " --round-ops \(p.roundOperations)" }
    if transitionLog != "on" { cmd += " --transition-log \(transitionLog)" }
    if heaps != "mem+object" { cmd += " --heaps \(heaps)" }
    cmd += bugs.map { " --bug \($0)" }.joined()
    return cmd
  }

  /// A count ≥ 1, with an optional k (×1000) or M (×1 000 000) suffix.
  static func count(_ text: String, _ option: String) throws(CLIError) -> Int {
    var digits = text
    var scale = 1
    if text.hasSuffix("k") { scale = 1000; digits.removeLast() } else if text.hasSuffix("M") { scale = 1_000_000; digits.removeLast() }
    guard let n = Int(digits), n >= 1, n <= Int.max / scale else { throw CLIError.badCount(option: option, text) }
    return n * scale
  }
}
