// LinearizabilityTests.swift — the linearizability check of parallel histories (issue 14; Oracle/Linearize,
// Harness/Linearize): the checker refuses hand-written histories no order explains (two live blocks
// overlapping, a free before any allocation of its block, a realloc that lost the contents, a stamp
// overwritten) and accepts ones that need an order other than response order; its memoization keeps a
// refused history of 12 concurrent ops to thousands of states, not 12! orders; seeded races of the reference
// mimalloc are caught by the check alone (the executor's own rules off) under the controlled scheduler,
// with the failing schedule replaying; the correct reference passes a fixed budget under the scheduler and on
// real threads, and libmimalloc on real threads. Budgets are small (the long runs: `alloc-check linearize`).

import AllocUnderTest
import Foundation
import Harness
import Oracle
import Testing

@Suite("Linearizability")
struct LinearizabilityTests {
  static let a = 0x1000, b = 0x2000

  static func malloc(_ t: Int, _ n: UInt64, _ r: Int?, _ from: Int, _ to: Int, usable: Int? = nil, stamp: UInt64? = nil) -> HistoryOp {
    HistoryOp(thread: t, call: .malloc(size: n), result: r, usable: usable ?? Int(n), stampWritten: stamp, invoked: from, returned: to)
  }
  static func free(_ t: Int, _ address: Int, _ from: Int, _ to: Int, stamp: UInt64? = nil) -> HistoryOp {
    HistoryOp(thread: t, call: .free(address: address), stampRead: stamp, invoked: from, returned: to)
  }

  @Test("two concurrent mallocs whose blocks overlap, both live: no order explains it")
  func overlapRefused() {
    let v = Linearizability.check([Self.malloc(1, 32, Self.a, 1, 4), Self.malloc(2, 32, Self.a + 16, 2, 5)])
    #expect(!v.isLinearizable)
    #expect(v.refusals.contains { $0.why.contains("overlaps the live block") })
  }

  @Test("a free that returned before its block was allocated is refused; a free overlapping the malloc is not")
  func freeBeforeAllocation() {
    let early = Linearizability.check([Self.free(1, Self.a, 1, 2), Self.malloc(2, 32, Self.a, 3, 4)])
    #expect(!early.isLinearizable)
    #expect(early.refusals.contains { $0.why.contains("not a live block") })
    let concurrent = Linearizability.check([Self.free(1, Self.a, 1, 4), Self.malloc(2, 32, Self.a, 2, 3)])
    #expect(concurrent.order == [1, 0])
  }

  @Test("a history that needs an order other than response order (a long malloc placed first)")
  func nonTrivialOrder() {
    // t1's malloc runs [1, 10]; t2 frees its block at [2, 3]; t3 gets the same address at [4, 5]. Only
    // malloc(t1), free(t2), malloc(t3) works — by response order the free would come first.
    let ok = [Self.malloc(1, 32, Self.a, 1, 10), Self.free(2, Self.a, 2, 3), Self.malloc(3, 32, Self.a, 4, 5)]
    #expect(Linearizability.check(ok).order == [0, 1, 2])
    // The same with t1's malloc invoked after the free returned: no order.
    var late = ok
    late[0].invoked = 6
    #expect(!Linearizability.check(late).isLinearizable)
    // And when t3's malloc returned before t1's was invoked, t3's block is live when t1's comes: overlap.
    let reused = [Self.malloc(3, 32, Self.a, 1, 2), Self.malloc(1, 32, Self.a, 3, 4), Self.free(2, Self.a, 5, 6)]
    #expect(!Linearizability.check(reused).isLinearizable)
  }

  @Test("the sequential model's other rules each refuse: usable size, NULL, realloc contents, foreign writes")
  func modelRules() {
    #expect(!Linearizability.check([Self.malloc(0, 40, Self.a, 1, 2, usable: 32)]).isLinearizable)
    #expect(!Linearizability.check([Self.malloc(0, 40, nil, 1, 2)]).isLinearizable)
    #expect(Linearizability.check([Self.malloc(0, 1 << 40, nil, 1, 2)]).isLinearizable)
    let made = Self.malloc(0, 32, Self.a, 1, 2, stamp: 7)
    let kept = HistoryOp(thread: 1, call: .realloc(address: Self.a, size: 64), result: Self.b, usable: 64, stampRead: 7, invoked: 3, returned: 4)
    #expect(Linearizability.check([made, kept]).isLinearizable)
    var lost = kept
    lost.stampRead = 0
    #expect(Linearizability.check([made, lost]).refusals.contains { $0.why.contains("did not keep the contents") })
    #expect(!Linearizability.check([made, Self.free(1, Self.a, 3, 4, stamp: 9)]).isLinearizable)
    #expect(Linearizability.check([made, Self.free(1, Self.a, 3, 4, stamp: 7)]).isLinearizable)
    let notLive = HistoryOp(thread: 1, call: .realloc(address: Self.b, size: 64), result: Self.b, usable: 64, invoked: 3, returned: 4)
    #expect(!Linearizability.check([made, notLive]).isLinearizable)
  }

  @Test("memoization: a refused history of 12 concurrent mallocs searches thousands of states, not 12! orders")
  func memoized() {
    var h = (0..<11).map { Self.malloc($0 % 4, 32, Self.a + 64 * $0, 1 + $0, 100) }
    h.append(Self.malloc(3, 32, Self.a + 64 * 5, 50, 101))  // the same block as the sixth: always an overlap
    let v = Linearizability.check(h)
    #expect(!v.isLinearizable)
    #expect(v.statesVisited > 0 && v.statesVisited <= 1 << 12, "\(v.statesVisited) states")
  }

  @Test("the readable history marks the ops that could not come next and draws their intervals")
  func rendering() {
    let h = [Self.malloc(1, 32, Self.a, 1, 4), Self.malloc(2, 32, Self.a, 2, 5)]
    let lines = HistoryText.render(h, marking: [1])
    #expect(lines == ["  t1 |[=] | malloc(32) -> a+0x0 usable 32", "* t2 | [=]| malloc(32) -> a+0x0 usable 32"])
  }

  @Test("generated programs are reproducible from their seed, parallel, with cross-thread frees")
  func generated() {
    let p = LinearizePrograms.generate(seed: 5, threads: 3, opsPerThread: 4)
    #expect(p == LinearizePrograms.generate(seed: 5, threads: 3, opsPerThread: 4))
    #expect(ParallelProgram(p).tasks.count == 3)
    #expect(RealThreadHistoryRun.unsupported(ParallelProgram(p)) == nil)
    var crossFrees = 0
    for seed in 0..<20 as Range<UInt64> {
      let par = ParallelProgram(LinearizePrograms.generate(seed: seed, threads: 3, opsPerThread: 4))
      let maker = Dictionary(uniqueKeysWithValues: par.tasks.joined().compactMap { s in s.defines.map { ($0, s.thread) } })
      crossFrees += par.tasks.joined().count { s in s.op.usedRef.map { maker[$0.id] != s.thread } ?? false }
    }
    #expect(crossFrees >= 20)
  }

  @Test("the built-in scenarios parse and run on real threads")
  func scenarios() throws {
    for s in LinearizePrograms.scenarios {
      let p = try #require(LinearizePrograms.scenario(s.name), "\(s.name)")
      #expect(ParallelProgram(p).tasks.count >= 2)
      #expect(RealThreadHistoryRun.unsupported(ParallelProgram(p)) == nil)
    }
  }

  @Test("a seeded race of the cross-thread free is caught by the linearizability check alone, and replays",
        arguments: [MimallocBug.remoteFreeWithoutCAS, .delayedFreeingLostUpdate])
  func raceCaught(_ bug: MimallocBug) throws {
    var o = LinearizeOptions()
    o.schedules = 1000
    o.strategy = .random
    o.seed = 1
    let program = LinearizeProgram(name: "remote-frees-reuse", seed: nil, program: try #require(LinearizePrograms.scenario("remote-frees-reuse")))
    let report = Linearizer(o).controlled(bugs: [bug], given: [program])
    let f = try #require(report.failure, "\(bug) not caught in \(report.histories) histories (\(report.livelocked) livelocked)")
    let verdict = try #require(f.verdict)
    #expect(!verdict.isLinearizable, "stopped: \(String(describing: f.stopped))")
    #expect(f.stopped == nil)
    // Without the bug the same program and schedule pass.
    let schedule = try #require(f.schedule)
    #expect(Linearizer(o).controlled(bugs: [], given: [program], schedule: schedule).failure == nil)
    // With it, the printed schedule fails again.
    let replay = Linearizer(o).controlled(bugs: [bug], given: [program], schedule: schedule)
    #expect(replay.failure?.verdict?.isLinearizable == false)
  }

  @Test("the correct reference passes a fixed budget under the controlled scheduler (pct and random)",
        arguments: [ExploreStrategy.pct, .random])
  func referencePassesControlled(_ strategy: ExploreStrategy) {
    var o = LinearizeOptions()
    o.programs = 15
    o.schedules = 20
    o.strategy = strategy
    o.seed = 3
    let report = Linearizer(o).controlled(bugs: [])
    #expect(report.failure == nil, "\(report.failure.map { Linearizer.describe($0).joined(separator: "\n") } ?? "")")
    #expect(report.histories == 300)
  }

  @Test("the correct reference passes on real threads, and a block handed out twice is caught there too")
  func referencePassesRealThreads() {
    var o = LinearizeOptions()
    o.programs = 30
    o.schedules = 10
    o.threads = 4
    let report = Linearizer(o).realThreads(ReferenceHistoryTarget())
    #expect(report.failure == nil, "\(report.failure.map { Linearizer.describe($0).joined(separator: "\n") } ?? "")")
    #expect(report.histories == 300)
    // A target whose malloc hands out the same block to every thread (a broken wrapper) is caught.
    let broken = Linearizer(o).realThreads(SameBlockTarget())
    #expect(broken.failure?.verdict?.isLinearizable == false)
  }

  @Test("libmimalloc 2.0.9 passes on real threads", .enabled(if: LibMimallocPeer.runnable))
  func libmimallocPasses() throws {
    var o = LinearizeOptions()
    o.programs = 30
    o.schedules = 10
    let report = Linearizer(o).realThreads(try LibMimallocHistoryTarget())
    #expect(report.failure == nil, "\(report.failure.map { Linearizer.describe($0).joined(separator: "\n") } ?? "")")
    #expect(report.histories == 300)
  }
}

/// A broken target: every malloc and calloc answers the same 4 KiB buffer, free does nothing.
private final class SameBlockTarget: HistoryTarget {
  let buffer = MemoryAccess.allocateForeign(count: 4096)
  var name: String { "one block for all" }
  deinit { MemoryAccess.freeForeign(buffer) }
  func makeThreads(_ count: Int) -> [any HistoryThreadHeap] { (0..<count).map { _ in SameBlockHeap(buffer) } }
  func endRun(leftover: [Int]) {}
}

private final class SameBlockHeap: HistoryThreadHeap {
  let buffer: Int
  init(_ buffer: Int) { self.buffer = buffer }
  func malloc(_ n: UInt64) -> Int? { buffer }
  func calloc(_ count: UInt64, _ size: UInt64) -> Int? { buffer }
  func realloc(_ address: Int?, _ n: UInt64) -> Int? { buffer }
  func free(_ address: Int?) {}
  func usableSize(_ address: Int) -> Int { 4096 }
  func collect(force: Bool) {}
  func finish() {}
}
