// DifferentialTests.swift — the reference pymalloc against CPython 3.11's real one (issue 11): the committed
// corpus and generated programs agree observation for observation, and each differential rule X1–X4 catches
// its seeded fidelity bug, which no single-allocator rule catches. CPython's pymalloc keeps its state for
// the life of a process, so each case runs in an exit test (a fresh child process), as `alloc-check diff`
// runs each program in a forked child. Also the comparison itself, on hand-made observation lists.

import AllocUnderTest
import Foundation
import Harness
import Oracle
import Testing

@Suite("Differential: reference vs CPython 3.11's pymalloc")
struct DifferentialTests {
  @Test("the first differing observation is the divergence, with both values; a shorter list is none")
  func compare() {
    let a = [Observation(opIndex: 0, rule: .sameOutcome, value: "pool block"), Observation(opIndex: 0, rule: .samePlacement, value: "arena 0 pool 0 +48")]
    var b = a
    #expect(Differential.compare(a, b, peerName: "cpython").0 == nil)
    b[1].value = "arena 0 pool 1 +48"
    let (v, compared) = Differential.compare(a, b, peerName: "cpython")
    #expect(v?.rule == "X2" && compared == 2 && v?.detail == "reference: arena 0 pool 0 +48; cpython: arena 0 pool 1 +48")
    #expect(Differential.compare(a, Array(a.prefix(1)), peerName: "cpython").0 == nil)
  }

  @Test("the corpus and 30 generated programs agree with CPython", .enabled(if: PeerAvailability.shouldRun(.cpython)))
  func agrees() async {
    await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
      let pair = try PymallocDifferential()
      var programs = PeerAvailability.pymallocCorpus.map { ($0.0, $0.1, UInt64(0)) }
      for k in 0..<30 {
        let seed = 0xD1FF_0000 + UInt64(k)
        programs.append(("seed \(seed)", ProgramGenerator(length: 250).generate(seed: seed), seed))
      }
      for (name, p, seed) in programs {
        let v = pair.run(p, runSeed: seed)
        if let f = v.failure {
          FileHandle.standardError.write(Data("\(name): \(f.side) \(f.violation)\n".utf8))
          exit(1)
        }
      }
    }
  }

  @Test("each fidelity bug is caught by its differential rule and by no single-allocator rule",
        .enabled(if: PeerAvailability.shouldRun(.cpython)),
        arguments: PymallocBug.allCases.filter(\.isFidelityBug))
  func fidelityBugCaught(_ bug: PymallocBug) async {
    let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { [bug] in
      let pair = try PymallocDifferential(bugs: [bug])
      let alone = PymallocAdapter(bugs: [bug])
      for k in 0..<200 {
        let seed = 0xF1DE_0000 + UInt64(k)
        let program = ProgramGenerator(length: 200).generate(seed: seed)
        if let v = Executor.run(program, on: alone, config: ExecutorConfig(oracle: .full, runSeed: seed)).violation {
          FileHandle.standardError.write(Data("a single-allocator rule caught \(bug): \(v)\n".utf8))
          exit(2)
        }
        if let f = pair.run(program, runSeed: seed).failure {
          FileHandle.standardError.write(Data("caught \(f.side) \(f.violation.rule) at op \(f.violation.opIndex) of seed \(seed): \(f.violation.detail)\n".utf8))
          exit(f.side == "differential" && f.violation.rule == bug.caughtBy ? 0 : 3)
        }
      }
      FileHandle.standardError.write(Data("\(bug) not caught in 200 programs\n".utf8))
      exit(4)
    }
    let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    #expect(message.contains("caught differential \(bug.caughtBy)"), "stderr: \(message)")
  }
}
