// BenchFuzz.swift — bench's fuzz-target table (issue 12 part 4): executions per second of each fuzz
// target's own body (``FuzzTarget/run(_:on:)``: decode, reset, run, teardown, under the target's oracle at
// its cadence) on a fixed input set — generated programs of 64 and of 512 ops, encoded in the target's format
// — and the same inputs with no checks, for the cost of the oracle per input. In-process and without
// libFuzzer's coverage instrumentation, so a fuzz binary runs slower by that instrumentation; the set and
// the seeds are fixed, so two builds compare on the same inputs. A measurement, not a test (style R7).

import Foundation
import FuzzTargets
import Harness
import Oracle

extension BenchCommand {
  /// One row's inputs: the bytes of `count` generated programs of `length` ops for `target`'s family.
  static func fuzzInputs(_ target: FuzzTarget, length: Int, count: Int, seed: UInt64) -> [[UInt8]] {
    let generator: any ProgramGenerating =
      switch target.family {
      case "heaps": HeapsProgramGenerator(length: length)
      case "domains": DomainsProgramGenerator(length: length)
      default: ProgramGenerator(length: length)
      }
    return (0..<count).map { k in target.encode(generator.generate(seed: BugHunt.programSeed(seed, k))) }
  }

  /// The table: for each target, 64-op and 512-op inputs, exec/s with the target's oracle and with none
  /// (median of `repeats` interleaved timings each), and the ratio.
  func fuzzTable(seed: UInt64, repeats: Int, only names: [String]?) {
    var none = OracleConfig(rules: [], invariants: [], invariantsEvery: 0, sweepEvery: 0, statsEvery: 0)
    Console.out("fuzz targets: each target's input body in process (decode + reset + run + teardown), no libFuzzer "
                + "instrumentation; median of \(repeats) interleaved runs")
    Console.out("target          ops/input  inputs   exec/s (oracle)   µs/input   exec/s (no checks)   oracle cost")
    // The differential targets (a forked child per pymalloc-diff input; real threads for heaps-diff) run
    // only when named: at a few exec/s, five repetitions of their inputs would take minutes. So does the
    // schedule target (heaps-schedule: one OS thread per logical thread per input; its inputs here carry the
    // default schedule).
    for target in FuzzTargets.all where names?.contains(target.name) ?? (!target.differential && target.scheduled == nil) {
      // The differential targets hold a real library for the process: made here, released at the end of
      // this iteration, before the next user.
      guard let adapter = target.makeAdapter([]) else {
        Console.out(target.name.padding(toLength: 16, withPad: " ", startingAt: 0) + "skipped: its real allocator cannot be loaded")
        continue
      }
      none.geometry = target.oracle.geometry
      var bare = target
      bare.oracle = none
      for (length, count) in [(64, 400), (512, 50)] {
        let inputs = Self.fuzzInputs(target, length: length, count: count, seed: seed)
        // Warm-up: page in the code and the first arenas.
        for bytes in inputs.prefix(10) { _ = target.run(bytes, on: adapter) }
        var full: [Double] = [], cheap: [Double] = []
        var violations = 0
        for r in 0..<repeats {
          // Alternate which runs first, so drift hits both alike.
          for pass in (ProcessInfo.processInfo.environment["BENCH_PASS"].map { [Int($0)!] } ?? (r % 2 == 0 ? [0, 1] : [1, 0])) {
            let t = pass == 0 ? target : bare
            let clock = ContinuousClock()
            let d = clock.measure {
              for bytes in inputs where t.run(bytes, on: adapter) != nil { violations += pass == 0 ? 1 : 0 }
            }
            (pass == 0 ? { full.append(Double(count) / d.seconds) } : { cheap.append(Double(count) / d.seconds) })()
          }
        }
        let f = TraceBench.median(full), c = TraceBench.median(cheap)
        Console.out(target.name.padding(toLength: 16, withPad: " ", startingAt: 0) + pad(String(length), 9)
                    + pad(String(count), 8) + pad(String(Int(f.rounded())), 18) + pad(String(format: "%.1f", 1e6 / f), 11)
                    + pad(String(Int(c.rounded())), 21) + pad(String(format: "%.2f×", c / f), 14)
                    + (violations > 0 ? "   (\(violations / repeats) inputs with a violation)" : ""))
      }
    }
  }
}
