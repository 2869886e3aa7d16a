// CadenceTests.swift — issue 12's incremental oracle: between two whole walks (``WalkCadence/growing``),
// each op checks the structures around what it touched (``Pymalloc/checkInvariants(around:)``), and the
// whole walk runs whenever the mapping changes. These tests show that this catches each seeded invariant
// bug at the very op the walk after every op catches it, and that the cadence is what it says. The second
// suite covers the other cheap paths of the oracle: the sweep cadence, the canary pattern and PM2's loop test.

import AllocUnderTest
import Harness
import Oracle
import Testing

@Suite("Cadence: local invariant checks between whole walks")
struct CadenceTests {
  @Test("growing cadence: 4 walks in the first 16 ops, then 4 per doubling; fixed: every op")
  func intervals() {
    let g = WalkCadence.growing
    #expect((0..<15).allSatisfy { g.interval(after: $0) == 4 })
    #expect(g.interval(after: 15) == 4 && g.interval(after: 63) == 16 && g.interval(after: 127) == 32 && g.interval(after: 4095) == 1024)
    var o = OracleConfig.full
    #expect((0..<16).filter { o.walks(every: 1, after: $0) } == [3, 7, 11, 15])
    let walks = (0..<4096).count { o.walks(every: 1, after: $0) }
    #expect(walks == 4 + 4 * 8, "\(walks) walks in 4096 ops")  // ops 0..<16, then 16..<32 … 2048..<4096 (op 4095 last)
    #expect((0..<64).count { o.walks(every: 1, after: $0) } == 12)  // a 64-op fuzz input: 4 + 4 + 4, op 63 the last
    o.cadence = .fixed
    #expect((0..<4096).allSatisfy { o.walks(every: 1, after: $0) })
    #expect(!o.walks(every: 0, after: 7))
  }

  @Test("RuleBits holds exactly the rules of its set", arguments: [Set<RuleID>(), Set(RuleID.allCases), [.canary, .sameDiagnostic]])
  func ruleBits(_ rules: Set<RuleID>) {
    #expect(Set(RuleID.allCases.map(\.ordinal)).count == RuleID.allCases.count && RuleID.allCases.allSatisfy { $0.ordinal < 64 })
    let bits = RuleBits(rules)
    #expect(RuleID.allCases.allSatisfy { bits.contains($0) == rules.contains($0) })
  }

  @Test("each seeded pymalloc invariant bug is caught at the same op with the growing cadence, and with whole walks only where the mapping changes, as with a walk after every op",
        arguments: QualityCase.all.filter { $0.check.hasPrefix("PM") })
  func sameOp(_ c: QualityCase) throws {
    try expectCaughtAtSameOp(check: c.check, bug: c.bug.rawValue, adapter: PymallocAdapter(bugs: [c.bug]), oracle: c.oracle,
                             plan: huntPlan, seed: 0xCADE_0000)
  }

  @Test("the local check alone sees a broken pool: a freed block lost from its pool's free list")
  func localCheckFails() {
    let p = Pymalloc(bugs: [.loseFreedBlock])
    let blocks = (0..<5).map { _ in p.malloc(24)! }  // blocks 0…4 of one pool
    p.free(blocks[1])  // the pool's free list was empty: this one is pushed
    #expect(p.checkInvariants(around: Int(bitPattern: blocks[0])).isEmpty)
    p.free(blocks[3])  // the bug drops block 3 of a pool (index % 7 == 3): counted free, not on the list
    let found = p.checkInvariants(around: Int(bitPattern: blocks[0]))
    #expect(found.contains { $0.id == "PM2" }, "\(found)")
  }
}

@Suite("Oracle speed: sweep cadence, canary pattern, free-list loop by step count")
struct OracleSpeedTests {
  /// The sweeps a program of `n` ops gets with `live` blocks live throughout.
  static func sweeps(_ o: OracleConfig, ops n: Int, live: Int) -> [Int] {
    var since = 0
    var at: [Int] = []
    for i in 0..<n {
      since += 1
      if o.sweepDue(after: i, since: since, live: live) { at.append(i); since = 0 }
    }
    return at
  }

  @Test("sweeps: every 32 ops up to op 128, then at most 4 per doubling; every live/8 ops when more are live; fixed: every 32")
  func sweepCadence() {
    var o = OracleConfig.full
    let growing = Self.sweeps(o, ops: 4096, live: 0)
    #expect(Array(growing.prefix(4)) == [31, 63, 95, 127])
    for k in 8..<12 {  // doublings 2^(k-1) ..< 2^k from op 128 on
      let inside = growing.count { $0 + 1 > 1 << (k - 1) && $0 + 1 <= 1 << k }
      #expect(inside >= 2 && inside <= 4, "\(inside) sweeps in ops \(1 << (k - 1))..<\(1 << k)")
    }
    #expect(Self.sweeps(o, ops: 64, live: 800).count == 0)  // 800 live: every 100 ops at the most
    #expect(Self.sweeps(o, ops: 200, live: 800) == [99, 199])
    o.cadence = .fixed
    #expect(Self.sweeps(o, ops: 4096, live: 0).count == 128)
    o.sweepEvery = 0
    #expect(Self.sweeps(o, ops: 4096, live: 0).isEmpty)
  }

  @Test("the canary pattern has no zero byte, differs word to word and block to block, and Canary.bytes spells it")
  func canaryPattern() {
    for seed in [UInt64(0), 1, 0xDEAD_BEEF, .max] {
      let p = Canary.Pattern(seed: seed), q = Canary.Pattern(seed: seed &+ 1)
      let words = (0..<4096).map(p.word)
      #expect(words.allSatisfy { w in (0..<8).allSatisfy { (w >> (8 * UInt64($0))) & 0xFF != 0 } })
      #expect(Set(words).count == words.count, "a word repeats within one block")
      #expect((0..<4096).allSatisfy { p.word($0) != q.word($0) && p.word($0) != q.word($0 + 1) })
      let bytes = Canary.bytes(seed: seed, from: 3, to: 21)
      #expect(bytes == (3..<21).map { UInt8(truncatingIfNeeded: p.word($0 / 8) >> (8 * UInt64($0 % 8))) })
    }
  }

  @Test("PM2 finds a looping free list by counting steps against the carved slots")
  func freeListLoop() throws {
    let adapter = PymallocAdapter()
    let a = try #require(adapter.malloc(40)), b = try #require(adapter.malloc(40))
    adapter.free(a)
    adapter.free(b)  // free list: b → a → …
    #expect(adapter.checkInvariants().isEmpty)
    MemoryAccess.storeWordUnchecked(address: a, UInt64(UInt(bitPattern: b)))  // a → b: b → a → b → …
    let found = adapter.checkInvariants()
    #expect(found.contains { $0.id == "PM2" && $0.detail.contains("loops") }, "\(found)")
    #expect(adapter.checkInvariants(around: b).contains { $0.id == "PM2" && $0.detail.contains("loops") })
    MemoryAccess.storeWordUnchecked(address: a, 0)  // leave a list the reset can walk
    adapter.reset()
  }
}

/// Hunts `plan` from `seed` with a whole walk after every op for a program on which `check` catches `bug`, then
/// requires the same violation at the same op (1) under the growing cadence and (2) with no cadence walks at
/// all — after every op only the local check, and the whole walk only where the mapping or the structure epoch
/// moved, after thread and heap ops, and at the end — which is what shows the local check catches it.
func expectCaughtAtSameOp<G: ProgramGenerating>(check: String, bug: String, adapter: AllocatorAdapter, oracle: OracleConfig,
                                                plan: [(generator: G, programs: Int)], seed: UInt64) throws {
  var fixed = oracle
  fixed.cadence = .fixed
  var hit: (seed: UInt64, program: Program, violation: Violation)? = nil
  for (g, n) in plan where hit == nil {
    hit = BugHunt.search(seed: seed, programs: n, generator: g, adapter: adapter, oracle: fixed) { $0.rule == check }
  }
  let found = try #require(hit, "\(check) never caught \(bug) with a walk after every op")
  var growing = oracle
  growing.cadence = .growing
  var local = oracle
  local.invariantsEvery = 1 << 40
  for (name, o) in [("growing", growing), ("local", local)] {
    let v = Executor.run(found.program, on: adapter, config: ExecutorConfig(oracle: o, runSeed: found.seed)).violation
    #expect(v?.rule == check && v?.opIndex == found.violation.opIndex,
            "\(bug): every op caught it at op \(found.violation.opIndex); \(name): \(v.map { "\($0.rule) at op \($0.opIndex)" } ?? "not caught")")
  }
  print("[cadence \(check) ← \(bug)] op \(found.violation.opIndex) of \(found.program.ops.count): \(found.violation.detail)")
}
