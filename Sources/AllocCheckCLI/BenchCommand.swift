// BenchCommand.swift — `alloc-check bench`: a measurement, not a test (style R7). Runs the same generated
// programs under three oracle settings — (a) full, (b) no invariant walks, (c) no checks — and prints
// programs/s, ops/s and the time ratios (a)/(c), (b)/(c) from this one run, then how many fresh allocator
// states per second a fuzz loop gets (reset + a one-malloc program). Meaningful only in a release build;
// (c) still pays for canary writes and for the O13 ownership pass after any op that unmapped memory, which
// the executor always does so that it never reads unmapped memory. With `--trace`, the trace benchmark
// follows (Harness/Bench/TraceBench.swift): the same programs pre-decoded into flat steps and replayed on
// the reference, the real allocator it models and glibc, with nothing else in the loop; `--trace-only`
// prints only that table.

import ArgumentParser
import Foundation
import AllocUnderTest
import FuzzTargets
import Harness
import Oracle

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure the oracle's cost: the same programs with full, invariant-free and no checks.",
    discussion: """
      A measurement, not a test. Run it with: swift run -c release alloc-check bench

      --trace adds the trace table: each program pre-decoded into flat malloc/calloc/realloc/free steps (heaps \
      family: t0's backing heap only, aligned mallocs kept, thread and heap ops dropped, requests above 1 GiB \
      not replayed there) and replayed with no executor and no oracle on the reference (Pymalloc or Mimalloc), the \
      real allocator (CPython 3.11's obmalloc or libmimalloc 2.0.9) and glibc: ns per step, the median of \
      --repeat interleaved runs, and the ratio to the real allocator. --trace-only prints only that table.
      """)

  @Option(help: "Seed of the program set (decimal or 0x-hex).") var seed: String = "1"
  @Option(help: "Number of programs.") var programs: String = "200"
  @Option(help: "Ops per program.") var length: String = "500"
  @Option(help: "Program family: pymalloc, heaps (multi-thread programs on the reference mimalloc) or domains (PyMem domains and hooks).") var family: String = "pymalloc"
  @Option(help: "Also time the same programs on real allocators: a comma list (cpython, glibc, jemalloc, mimalloc, cpython-debug) or all (every peer of the family; a missing one prints a skip).")
  var allocator: String?
  @Flag(help: "After the other sections, time the pre-decoded traces on the reference, the real allocator and glibc (pymalloc and heaps families).")
  var trace = false
  @Flag(help: "Print only the trace table.") var traceOnly = false
  @Flag(help: "Print only the fuzz-target table (exec/s of each fuzz target's body on fixed 64- and 512-op inputs).")
  var fuzzOnly = false
  @Option(help: "Fuzz-target table: a comma list of targets (default: pymalloc, heaps, domains; the differential targets only when named).")
  var targets: String?
  @Option(name: .customLong("repeat"), help: "Interleaved repetitions of every timed section (oracle cost, fuzz and trace tables), of which the median is reported.")
  var repeats: String = "5"

  func run() throws {
    let seed = try CLISupport.parseSeed(seed)
    let count = try CLISupport.parseCount(programs, option: "--programs")
    let length = try CLISupport.parseCount(length, option: "--length")
    let family = try CLISupport.parseFamily(family)
    let build = isDebugBuild ? "DEBUG — numbers are meaningless; use -c release" : "release"
    let allocatorName =
      switch family {
      case .pymalloc: "pymalloc, no bugs"
      case .heaps: "mimalloc (heaps family: logical threads), no bugs"
      case .domains: "PyMem domains and debug hooks (domains family), no bugs"
      }
    Console.parameters("bench", [("seed", hex(seed)), ("programs", "\(count) of length \(length), profile picked per seed"),
                                 ("allocator", allocatorName), ("build", build)])
    Console.out("a measurement, not a test: meant to be run with swift run -c release alloc-check bench")

    let generator: any ProgramGenerating =
      switch family {
      case .pymalloc: ProgramGenerator(length: length)
      case .heaps: HeapsProgramGenerator(length: length)
      case .domains: DomainsProgramGenerator(length: length)
      }
    let set = (0..<count).map { k in
      let s = BugHunt.programSeed(seed, k)
      return (seed: s, program: generator.generate(seed: s))
    }
    if trace || traceOnly {
      guard family != .domains else { throw CLIError.usage("bench: --trace replays pymalloc- and heaps-family programs") }
    }
    let repeatCount = try CLISupport.parseCount(repeats, option: "--repeat")
    if traceOnly { return traceTable(family: family, set: set, repeats: repeatCount) }
    let targetNames = targets.map { $0.split(separator: ",").map(String.init) }
    for name in targetNames ?? [] where FuzzTargets.named(name) == nil {
      throw CLIError.usage("bench: unknown fuzz target \"\(name)\"; expected a comma list of " + FuzzTargets.all.map(\.name).joined(separator: ", "))
    }
    if fuzzOnly { return fuzzTable(seed: seed, repeats: repeatCount, only: targetNames) }
    var noInvariants = family.fullOracle
    noInvariants.invariantsEvery = 0
    var none = OracleConfig(rules: [], invariants: [], invariantsEvery: 0, sweepEvery: 0, statsEvery: 0)
    none.geometry = family.fullOracle.geometry
    let configs: [(name: String, oracle: OracleConfig)] = [
      ("(a) full oracle", family.fullOracle),
      ("(b) no invariants", noInvariants),
      ("(c) no checks", none),
    ]
    let adapter: AllocatorAdapter =
      switch family {
      case .pymalloc: PymallocAdapter()
      case .heaps: MimallocAdapter()
      case .domains: DomainsAdapter()
      }
    if family == .heaps {
      let threads = set.map { $0.program.ops.count(where: { $0 == .spawn }) + 1 }
      Console.out("logical threads started per program (t0 included; at most 32 live at once): mean \(threads.reduce(0, +) / max(threads.count, 1)), max \(threads.max() ?? 1)")
    }
    // Warm-up: page in the code and the first arenas.
    for p in set.prefix(5) { _ = Executor.run(p.program, on: adapter, config: ExecutorConfig(oracle: configs[2].oracle, recordTrace: false)) }

    // Each config `repeatCount` times, interleaved (the order alternates), so drift on a shared machine hits
    // the three alike; the times are medians and the ratios are of medians.
    var times: [[Double]] = Array(repeating: [], count: configs.count)
    var ops = Array(repeating: 0, count: configs.count), violations = ops
    for r in 0..<repeatCount {
      for c in (r % 2 == 0 ? Array(configs.indices) : configs.indices.reversed()) {
        let oracle = configs[c].oracle
        let elapsed = ContinuousClock().measure {
          for p in set {
            let v = Executor.run(p.program, on: adapter, config: ExecutorConfig(oracle: oracle, runSeed: p.seed, recordTrace: false))
            if r == 0 {
              ops[c] += v.opsExecuted
              if !v.passed { violations[c] += 1 }
            }
          }
        }
        times[c].append(elapsed.seconds)
      }
    }
    Console.out("config                 time (s)   programs/s        ops/s   violations   (median of \(repeatCount) interleaved runs)")
    let medians = times.map(TraceBench.median)
    for c in configs.indices {
      let d = Duration.seconds(medians[c])
      Console.out(configs[c].name.padding(toLength: 20, withPad: " ", startingAt: 0)
                  + pad(String(format: "%.3f", medians[c]), 11) + pad(String(rate(count, d)), 13)
                  + pad(String(rate(ops[c], d)), 13) + pad(String(violations[c]), 13))
    }
    let perRun = (0..<repeatCount).map { String(format: "%.2f", times[0][$0] / times[2][$0]) }
    Console.out(String(format: "ratios (median times, this run): (a)/(c) = %.2f×, (b)/(c) = %.2f×", medians[0] / medians[2], medians[1] / medians[2])
                + "; (a)/(c) run by run: " + perRun.joined(separator: " "))

    // A fuzz input starts from a fresh state: reset (arenas unmapped, radix nodes freed) + one small malloc,
    // which maps a new arena and radix nodes again.
    let tiny = family == .domains ? Program([.domain(.malloc(.mem, size: 24))]) : Program([.malloc(size: 24)])
    let resets = 5_000
    let clock = ContinuousClock()
    let elapsed = clock.measure {
      for _ in 0..<resets { _ = Executor.run(tiny, on: adapter, config: ExecutorConfig(oracle: family.fullOracle, recordTrace: false)) }
    }
    Console.out("fresh states: \(resets) × (reset + malloc(24) + teardown, full oracle) in "
                + String(format: "%.3f s = %d per second", elapsed.seconds, rate(resets, elapsed)))
    fuzzTable(seed: seed, repeats: repeatCount, only: targetNames)
    if let allocator { try comparePeers(allocator, family: family, set: set, reference: adapter, noChecks: none) }
    if trace { traceTable(family: family, set: set, repeats: repeatCount) }
  }

  /// The trace benchmark: ns per step on each allocator (median of `repeats` interleaved runs) and the
  /// ratio to the real allocator the reference models.
  func traceTable(family: ProgramFamily, set: [(seed: UInt64, program: Program)], repeats: Int) {
    let traces = set.map { Trace($0.program, family: family) }
    let report = TraceBench.run(family: family, traces: traces, repeats: repeats)
    Console.out("trace replay: \(traces.count) programs pre-decoded into \(report.steps) steps, single thread, no executor, "
                + "no oracle; median of \(repeats) interleaved runs")
    Console.out("allocator          ns/step   vs \(report.real)   runs (ns/step)")
    for row in report.rows {
      let ratio = report.ratio(row).map { String(format: "%.2f×", $0) } ?? "—"
      Console.out(row.name.padding(toLength: 16, withPad: " ", startingAt: 0) + pad(String(format: "%.1f", row.nsPerStep), 9)
                  + pad(ratio, 9 + report.real.count) + "   " + row.runs.map { String(format: "%.1f", $0) }.joined(separator: " "))
    }
    for (name, reason) in report.skipped {
      Console.out("\(name.padding(toLength: 16, withPad: " ", startingAt: 0))   skipped: \(reason)")
    }
  }

  /// The same programs on the reference and on each real allocator asked for: ns per op with no checks and
  /// with the full oracle each can answer, and the ratio to the reference, all from this one run.
  func comparePeers(_ list: String, family: ProgramFamily, set: [(seed: UInt64, program: Program)],
                    reference: AllocatorAdapter, noChecks: OracleConfig) throws {
    let all = list == "all"
    var kinds: [PeerKind] = []
    for name in all ? PeerKind.allCases.filter({ $0 != .reference }).map(\.rawValue) : list.split(separator: ",").map(String.init) {
      guard let k = PeerKind(rawValue: name) else {
        throw CLIError.usage("bench: unknown allocator \"\(name)\"; expected all or a comma list of " + PeerKind.allCases.map(\.rawValue).joined(separator: ", "))
      }
      if k == .reference || (all && !PeerAdapters.families(of: k).contains(family)) { continue }
      guard PeerAdapters.families(of: k).contains(family) else { throw CLIError.usage("bench: \(name) does not run \(family.rawValue)-family programs") }
      kinds.append(k)
    }
    Console.out("allocators on the same \(set.count) programs (ns per op; the harness's own cost is in every row):")
    Console.out("allocator              no checks   vs ref   full oracle   vs ref")
    func time(_ a: AllocatorAdapter, _ o: OracleConfig) -> Double {
      let clock = ContinuousClock()
      var ops = 0
      let d = clock.measure {
        for p in set { ops += Executor.run(p.program, on: a, config: ExecutorConfig(oracle: o, runSeed: p.seed, recordTrace: false)).opsExecuted }
      }
      return d.seconds * 1e9 / Double(max(ops, 1))
    }
    let refNone = time(reference, noChecks), refFull = time(reference, family.fullOracle)
    Console.out(row("reference", refNone, 1, refFull, 1))
    for k in kinds {
      let adapter: AllocatorAdapter
      if all {
        do throws(PeerUnavailable) { adapter = try PeerAdapters.make(k, family: family) } catch {
          Console.out("\(k.rawValue.padding(toLength: 20, withPad: " ", startingAt: 0))   skipped: \(error)")
          continue
        }
      } else {
        adapter = try PeerCheck.require { () throws(PeerUnavailable) in try PeerAdapters.make(k, family: family) }
      }
      for p in set.prefix(5) { _ = Executor.run(p.program, on: adapter, config: ExecutorConfig(oracle: noChecks, recordTrace: false)) }
      let n = time(adapter, noChecks), f = time(adapter, PeerAdapters.oracle(for: k, family: family, base: family.fullOracle))
      Console.out(row(k.rawValue, n, n / refNone, f, f / refFull))
    }
  }

  private func row(_ name: String, _ none: Double, _ r1: Double, _ full: Double, _ r2: Double) -> String {
    name.padding(toLength: 20, withPad: " ", startingAt: 0) + pad(String(format: "%.0f", none), 12) + pad(String(format: "%.2f×", r1), 9)
      + pad(String(format: "%.0f", full), 14) + pad(String(format: "%.2f×", r2), 9)
  }

  /// True in a build where `assert` runs (debug), whose timings say nothing about the release build.
  private var isDebugBuild: Bool {
    var debug = false
    assert({ debug = true; return true }())
    return debug
  }

  func pad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
}
