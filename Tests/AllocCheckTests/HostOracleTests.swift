// HostOracleTests.swift — the oracle and the recorder behind the C ABI (issue 13): ``CallOracle`` catches
// every seeded pymalloc bug its rules can see (every check but the canary, O4: the caller owns the bytes),
// with only that check on; the O(1) model answers overlap like the fuzz model; a call the caller must not
// make is C1 and never reaches the allocator; ``CallRecorder`` writes a program that parses and decodes back
// to the calls it saw, and stops its binary form, saying why, where the format cannot name a block.

import AllocUnderTest
import Harness
import Oracle
import Testing

/// Drives `oracle` with the calls of `program` (a pymalloc-family program), as a C caller would: block
/// names become the addresses the calls returned. Returns the first violation, after ``CallOracle/finish()``.
/// Like a caller, it writes into what it gets: a new block's bytes (past what a realloc kept) are set to a
/// pattern of its id. At the end it frees what it still holds (the executor's teardown), then finishes.
func replayCalls(_ program: Program, on oracle: CallOracle) -> Violation? {
  var address: [Int: Int] = [:]
  var size: [Int: Int] = [:]
  var next = 0
  func use(_ a: Int?, _ n: UInt64, from kept: Int = 0) {
    address[next] = a
    size[next] = Int(min(n, 4096))
    if let a, size[next]! > kept {
      MemoryAccess.writeUnchecked(address: a + kept, bytes: (kept..<size[next]!).map { UInt8(truncatingIfNeeded: $0 &+ next &* 31) })
    }
    next += 1
  }
  for op in program.ops {
    switch op {
    case .malloc(let n): use(oracle.malloc(n), n)
    case .calloc(let c, let s): use(oracle.calloc(c, s), c.multipliedReportingOverflow(by: s).overflow ? 0 : c * s)
    case .realloc(let r, let n):
      let old = r.flatMap { address.removeValue(forKey: $0.id) }
      let kept = r.flatMap { size[$0.id] } ?? 0
      let a = oracle.realloc(old, n)
      use(a ?? (n == 0 ? nil : old), a == nil ? 0 : n, from: min(kept, Int(min(n, 4096))))
    case .free(let r): oracle.free(r.flatMap { address.removeValue(forKey: $0.id) })
    default: Issue.record("replayCalls: \(op) is not a pymalloc-family op")
    }
    if oracle.violation != nil { return oracle.violation }
  }
  for id in address.keys.sorted() {
    oracle.free(address[id]!)
    if oracle.violation != nil { return oracle.violation }
  }
  return oracle.finish()
}

/// The bugs the call oracle must catch: every non-fidelity pymalloc bug except the canary's.
let hostQualityCases = QualityCase.all.filter { $0.check != RuleID.canary.rawValue }

@Suite("Host oracle: the C ABI's per-call checks")
struct HostOracleTests {
  @Test("each check alone catches its seeded bug in calls, and the same calls pass without the bug", arguments: hostQualityCases)
  func caught(_ c: QualityCase) throws {
    // A program the executor's check catches (the quality suite's hunt), replayed as calls.
    let seed: UInt64 = 0x5EED_0000 + UInt64(PymallocBug.allCases.firstIndex(of: c.bug)!)
    var found: (seed: UInt64, program: Program, violation: Violation)?
    for (g, n) in huntPlan where found == nil {
      var oracle = c.oracle
      if g.length > 1000 {
        if oracle.invariantsEvery > 0 { oracle.invariantsEvery = 25 }
        oracle.statsEvery = 25
      }
      found = BugHunt.search(seed: seed, programs: n, generator: g, adapter: PymallocAdapter(bugs: [c.bug]), oracle: oracle) { $0.rule == c.check }
    }
    let hit = try #require(found, "the hunt found no program for \(c.bug.rawValue)")
    let buggy = CallOracle(adapter: PymallocAdapter(bugs: [c.bug]), oracle: c.oracle)
    let caught = replayCalls(hit.program, on: buggy)
    #expect(caught?.rule == c.check, "\(c.check) did not catch \(c.bug.rawValue) in the calls of program \(FailureReport.hex(hit.seed)) (\(hit.program.ops.count) ops): \(String(describing: caught))")
    let clean = CallOracle(adapter: PymallocAdapter(), oracle: .full)
    let passed = replayCalls(hit.program, on: clean) == nil
    #expect(passed, "the same calls fail without the bug: \(String(describing: clean.violation))")
  }

  @Test("generated programs pass the full call oracle, and it counts what it saw")
  func cleanRuns() {
    for k in 0..<20 {
      let program = ProgramGenerator(length: k < 18 ? 400 : 5000, profile: k >= 18 ? .arenaChurn : nil).generate(seed: 0xC0DE + UInt64(k))
      let o = CallOracle(adapter: PymallocAdapter(), oracle: .full)
      let passed = replayCalls(program, on: o) == nil
      #expect(passed, "program \(k): \(String(describing: o.violation))")
      #expect(o.counts.calls >= program.ops.count)
      #expect(o.counts.live == 0 && o.modelCount == 0)
      #expect(o.counts.walks > 0 && o.counts.statsChecks > 0)
    }
  }

  @Test("a free or realloc of an address not handed out is C1, and never reaches the allocator")
  func callerError() throws {
    let adapter = PymallocAdapter()
    let o = CallOracle(adapter: adapter, oracle: .full)
    var seen: [Violation] = []
    o.onViolation = { seen.append($0) }
    let p = try #require(o.malloc(40))
    o.free(p)
    o.free(p)  // a double free: the raw allocator or the pool would be corrupted; the oracle stops it
    #expect(seen.map(\.rule) == [CallOracle.callerError])
    #expect(seen.first?.opIndex == 2)
    #expect(adapter.isAllocated(p) == false)
    let o2 = CallOracle(adapter: PymallocAdapter(), oracle: .full)
    #expect(o2.realloc(0x1000, 8) == nil)
    #expect(o2.violation?.rule == CallOracle.callerError)
  }

  @Test("without checks, calls are only counted")
  func unchecked() throws {
    let o = CallOracle(adapter: PymallocAdapter(bugs: [.statsOverCountClass3]), oracle: .full, config: CallOracleConfig(checks: false))
    let program = ProgramGenerator(length: 400).generate(seed: 7)
    let passed = replayCalls(program, on: o) == nil
    #expect(passed)
    #expect(o.counts.calls >= program.ops.count && o.modelCount == 0)
  }

  @Test("O2 through the model: small blocks by granule, raw blocks by address, and a raw block across small ones")
  func overlapModel() throws {
    // A fake allocator that hands out whatever the test says.
    final class Scripted: AllocatorAdapter {
      var next: [Int] = []
      var small = true
      var name: String { "scripted" }
      func malloc(_ n: UInt64) -> Int? { next.removeFirst() }
      func calloc(_ c: UInt64, _ s: UInt64) -> Int? { next.removeFirst() }
      func realloc(_ a: Int?, _ n: UInt64) -> Int? { next.removeFirst() }
      func free(_ a: Int?) {}
      func usableSize(_ a: Int) -> Int { 1 << 20 }
      func ownsSmall(_ a: Int) -> Bool { small }
      func isAllocated(_ a: Int) -> Bool? { nil }
      var injectedFaults: Int { 0 }
      func snapshot() -> StatsSnapshot? { nil }
      func statsText() -> String? { nil }
      func checkInvariants() -> [(id: String, detail: String)] { [] }
      var mappedBytes: Int { 0 }
      func reset() {}
    }
    func oracle() -> (CallOracle, Scripted) {
      let s = Scripted()
      return (CallOracle(adapter: s, oracle: .only(.nonOverlap)), s)
    }
    // Two small blocks side by side: fine; one starting inside a live one: O2.
    var (o, s) = oracle()
    s.next = [0x10000, 0x10030, 0x10040]
    _ = o.malloc(48); _ = o.malloc(16)
    #expect(o.violation == nil)
    _ = o.malloc(32)  // [0x10040, +32) starts inside none… but the 16-byte block ends at 0x10040: fine
    #expect(o.violation == nil)
    (o, s) = oracle()
    s.next = [0x10000, 0x10020]
    _ = o.malloc(48); _ = o.malloc(16)  // starts inside [0x10000, +48)
    #expect(o.violation?.rule == "O2")
    // Raw blocks: a small block inside a raw one, and a big raw block over small ones.
    (o, s) = oracle()
    s.small = false
    s.next = [0x200000]
    _ = o.malloc(100_000)
    s.small = true
    s.next = [0x200000 + 50_000]
    _ = o.malloc(16)
    #expect(o.violation?.rule == "O2")
    (o, s) = oracle()
    s.next = [0x400000 + 700_000]
    _ = o.malloc(64)
    s.small = false
    s.next = [0x400000]
    _ = o.malloc(2_000_000)
    #expect(o.violation?.rule == "O2", "a 2 MB raw block over a live small block")
    // Freed blocks leave the model: the same address again is fine.
    (o, s) = oracle()
    s.next = [0x10000, 0x10000]
    let a = o.malloc(48)
    o.free(a)
    _ = o.malloc(48)
    #expect(o.violation == nil)
  }

  @Test("the recorder's text and binary forms are the calls it saw")
  func recorderRoundTrip() throws {
    for k in 0..<10 {
      let program = ProgramGenerator(length: 500).generate(seed: 0x7ACE + UInt64(k))
      var text: [UInt8] = [], binary: [UInt8] = []
      let r = CallRecorder(text: { text += $0 }, binary: { binary += $0 }, comments: ["test"])
      let adapter = PymallocAdapter()
      var address: [Int: Int] = [:]
      var next = 0
      // What the recorder can know: a block whose allocation returned NULL is named NULL where it is used.
      var expected = Program()
      for op in program.ops {
        switch op {
        case .malloc(let n): let a = adapter.malloc(n); r.malloc(n, result: a); address[next] = a; next += 1; expected.ops.append(op)
        case .calloc(let c, let s): let a = adapter.calloc(c, s); r.calloc(c, s, result: a); address[next] = a; next += 1; expected.ops.append(op)
        case .realloc(let ref, let n):
          let old = ref.flatMap { address[$0.id] }
          let a = adapter.realloc(old, n)
          r.realloc(old, n, result: a)
          address[next] = a ?? (n == 0 ? nil : old)
          next += 1
          expected.ops.append(.realloc(old == nil ? nil : ref, size: n))
        case .free(let ref):
          let a = ref.flatMap { address[$0.id] }
          adapter.free(a)
          r.free(a)
          expected.ops.append(.free(a == nil ? nil : ref))
        default: break
        }
      }
      r.flush()
      let parsed = try ProgramText.parse(String(decoding: text, as: UTF8.self))
      let textSame = parsed == expected, binarySame = OpDecoder.decodePymalloc(binary) == expected
      #expect(textSame, "program \(k): the text form differs (\(parsed.ops.count) ops parsed, \(expected.ops.count) recorded)")
      #expect(binarySame, "program \(k): the binary form differs")
      #expect(r.binaryStoppedAt == nil && r.skipped == 0)
    }
  }

  @Test("the recorder leaves out what a program cannot say, and stops the binary form past live position 65,534")
  func recorderLimits() throws {
    var text: [UInt8] = [], binary: [UInt8] = []
    let r = CallRecorder(text: { text += $0 }, binary: { binary += $0 })
    r.free(0x1234)  // never handed out while recording
    #expect(r.skipped == 1 && r.ops == 0)
    for k in 0..<70_000 { r.malloc(16, result: 0x100000 + 16 * k) }
    r.free(0x100000)  // position 0: fine
    #expect(r.binaryStoppedAt == nil)
    r.free(0x100000 + 16 * 69_999)  // position 69,998
    let stop = try #require(r.binaryStoppedAt)
    #expect(stop.op == 70_001)
    r.flush()
    let parsed = try ProgramText.parse(String(decoding: text, as: UTF8.self))
    #expect(parsed.ops.count == 70_002)
    #expect(OpDecoder.decodePymalloc(binary).ops.count == 70_001, "the binary form holds every op before the stop")
  }
}
