// ExecutorTests.swift — the executor's own behaviour: verdicts, traces, teardown, NULL bindings, faults.

import AllocUnderTest
import FuzzTargets
import Harness
import Oracle
import Testing

@Suite("Executor")
struct ExecutorTests {
  func program(_ text: String) throws -> Program { try ProgramText.parse("# alloc-check program v1\n" + text) }

  @Test("a correct program passes, and teardown frees what the program kept")
  func passAndTeardown() throws {
    let p = try program("p0 = malloc(24)\np1 = malloc(600)\nfree(p0)\n")
    let v = Executor.run(p, on: PymallocAdapter())
    #expect(v.passed)
    #expect(v.opsExecuted == 4, "3 program ops + 1 teardown free of p1")
    #expect(v.trace.last?.text == "free(p1)  # teardown")
    #expect(v.trace[1].result.contains("raw"), "600 bytes go to the raw allocator: \(v.trace[1].result)")
  }

  @Test("the first violation names the op, the rule and the numbers")
  func firstViolation() throws {
    let p = try program("p0 = malloc(16)\nfree(p0)\np1 = calloc(2, 8)\n")
    let v = Executor.run(p, on: PymallocAdapter(bugs: [.callocSkipsZeroing]))
    #expect(v.violation?.rule == "O5")
    #expect(v.violation?.opIndex == 2)
    #expect(v.violation?.detail.contains("p1") == true)
  }

  @Test("a failed realloc leaves the old block under the new name; impossible sizes give NULL")
  func failedRealloc() throws {
    let p = try program("p0 = malloc(40)\np1 = realloc(p0, 0x8000000000000000)\nfree(p1)\np2 = malloc(0xffffffffffffffff)\nfree(p2)\n")
    let v = Executor.run(p, on: PymallocAdapter())
    #expect(v.passed, "\(String(describing: v.violation))")
    #expect(v.trace[1].result == "→ NULL")
    #expect(v.trace[2].text == "free(p1)" && v.trace[2].result == "ok", "p1 holds p0's block after the failure")
  }

  @Test("when no arena can be had, small requests fall back to raw (allowed by O12 because a fault fired)")
  func arenaFaults() throws {
    let p = try program("p0 = malloc(24)\np1 = malloc(100)\nfree(p0)\nfree(p1)\n")
    let v = Executor.run(p, on: PymallocAdapter(arenaFaults: .always(errno: 12)))
    #expect(v.passed, "\(String(describing: v.violation))")
    #expect(v.trace[0].result.contains("raw"))
  }

  @Test("when the OS refuses everything, NULL is allowed; without a fault it is a violation")
  func nullOnlyWithFaults() throws {
    let p = try program("p0 = malloc(24)\n")
    let refused = Executor.run(p, on: PymallocAdapter(arenaFaults: .always(errno: 12), rawFaults: .always(errno: 12)))
    #expect(refused.passed)
    #expect(refused.trace[0].result == "→ NULL (injected fault)")
    let spurious = Executor.run(try program("p0 = malloc(256)\n"), on: PymallocAdapter(bugs: [.mallocFailsAt256]))
    #expect(spurious.violation?.rule == "O8")
  }

  @Test("the same program and seed give the same verdict and trace text (replays are exact)")
  func deterministic() {
    let g = ProgramGenerator(length: 300)
    let p = g.generate(seed: 42)
    #expect(p == g.generate(seed: 42))
    let a = Executor.run(p, on: PymallocAdapter(bugs: [.callocSkipsZeroing]), config: .init(runSeed: 42))
    let b = Executor.run(p, on: PymallocAdapter(bugs: [.callocSkipsZeroing]), config: .init(runSeed: 42))
    #expect(a.violation == b.violation)
    #expect(a.trace.map(\.text) == b.trace.map(\.text))
  }

  @Test("the fuzz entry runs a decoded input and reports the violation it finds")
  func fuzzEntry() {
    let program = try! ProgramText.parse("# alloc-check program v1\np0 = malloc(16)\nfree(p0)\np1 = calloc(1, 16)\n")
    let adapter = PymallocAdapter()
    #expect(PymallocOpsTarget.run(OpEncoder.encodePymalloc(program), on: adapter) == nil)
    #expect(PymallocOpsTarget.run([], on: adapter) == nil, "the empty input is the empty program")
    let v = PymallocOpsTarget.run(OpEncoder.encodePymalloc(program), on: PymallocAdapter(bugs: [.callocSkipsZeroing]))
    #expect(v?.rule == "O5" && v?.opIndex == 2)
  }

  @Test("the walkthrough's bytes decode to the program Documentation/Walkthrough.md says")
  func walkthroughBytes() {
    let p = OpDecoder.decodePymalloc([0x01, 0x21, 0x03, 0x00])
    #expect(p == Program([.calloc(count: 176, size: 16), .malloc(size: 0)]))
    #expect(Executor.run(p, on: PymallocAdapter()).passed)
  }
}
