// StressTests.swift — the real-thread stress runner (Sources/Stress): the reference allocators pass every
// check (S1–S6) on short runs, and each check fails on a deliberately broken allocator or runner: a seeded
// MimallocBug per check, the `_loseHandOvers` runner hook for S2, the ledger's merge on hand-made ledgers.
// Runs are tens of thousands of ops (well under a second each). Races (remoteFreeWithoutCAS) and the TSan
// bite are nondeterministic and live in scripts/stress-bugs, which retries with other seeds.

import AllocUnderTest
import Foundation
import Harness
import Testing

@testable import Stress

/// A short run: `threads` lanes, 40k ops in rounds of 20k, each thread churning after ~1000 of its ops.
private func run(_ allocator: any StressAllocator, threads: Int, ops: Int = 40_000, seed: UInt64 = 0x57E5,
                 configure: (inout StressParameters) -> Void = { _ in }) -> StressResult {
  var p = StressParameters(threads: threads, operations: ops, seed: seed)
  p.churnEvery = 1000
  p.roundOperations = 20_000
  configure(&p)
  return StressRun.run(p, allocator: allocator)
}

/// The check ids (S1…S6) that failed.
private func failed(_ r: StressResult) -> Set<String> { Set(r.failures.map { String($0.check.prefix(2)) }) }

/// A seeded bug and the check that must catch it in a short run.
struct StressBugCase: Sendable, CustomTestStringConvertible {
  var bug: MimallocBug
  var check: String
  var threads: Int
  var testDescription: String { "\(check) catches \(bug.rawValue)" }
}

@Suite("Stress runner")
struct StressTests {
  @Test("mimalloc heaps on 4 real threads pass S1–S6: nothing lost, owners collect to 0, all back to zero")
  func mimallocReferencePasses() {
    let r = run(MimallocStress(bugs: []), threads: 4)
    #expect(r.passed, "\(r.failures)")
    #expect(r.operations == 40_000 && r.rounds == 2)
    #expect(r.crossThreadFrees > 0 && r.handedOver > 0 && r.churns > 0 && r.orphaned > 0)
    #expect(r.freedIds == r.mallocs - r.failedMallocs && r.lostBlocks == 0 && r.freedTwice == 0)
    #expect(r.canaryChecks == r.freedIds)
    #expect(r.ownerCollectLeft == 0)
    let t = r.teardown
    #expect(t?.blocksInUse == 0 && t?.segments == 0 && t?.mappedBytes == 0 && t?.abandonedAfter == 0, "\(String(describing: t))")
    #expect(r.peakMappedBytes <= r.footprintBound && r.peakLiveBytes > 0)
  }

  @Test("pymalloc behind one lock on 4 real threads passes; one empty arena may stay (bpo-37257)")
  func pymallocReferencePasses() {
    let r = run(PymallocStress(bugs: []), threads: 4)
    #expect(r.passed, "\(r.failures)")
    #expect(r.crossThreadFrees > 0 && r.lostBlocks == 0 && r.freedTwice == 0)
    #expect(r.teardown?.blocksInUse == 0 && r.teardown?.segments == 0 && r.teardown?.rawBlocks == 0)
    #expect((r.teardown?.mappedBytes ?? -1) <= PymallocLayout.arenaSize)
  }

  static let bugCases: [StressBugCase] = [
    // (c) a block handed back to the free list while still live: the next holder overwrites its canary.
    StressBugCase(bug: .blockPushedTwice, check: "S1", threads: 1),
    // A remote free lost: the owners' collects cannot bring `used` to 0, nothing returns to zero.
    StressBugCase(bug: .remoteFreeDropped, check: "S3", threads: 2),
    StressBugCase(bug: .remoteFreeDropped, check: "S4", threads: 2),
    // (d) abandoned segments never reclaimed: every churned thread's segments stay mapped.
    StressBugCase(bug: .abandonedNeverReclaimed, check: "S5", threads: 2),
    // (b) the delayed-free state skipped: MI3 sees 0 → 2 at the first round end.
    StressBugCase(bug: .delayedStateSkipped, check: "S6", threads: 2),
    // (a, plain load + store onto the owner-only list): MI1 at the round end (TSan also: scripts/stress-bugs).
    StressBugCase(bug: .remoteFreeToWrongList, check: "S6", threads: 2),
  ]

  /// The exit status of a child run whose expected check fired (0 would be a pass, 1 a trap's default).
  static let caughtStatus: Int32 = 3

  /// Each run is in its own process (a Swift Testing exit test): a seeded corruption on real threads can make
  /// the allocator fault before a check sees it, which in process would end the whole test run. The child
  /// exits 3 when the expected check fired and 0 when not; a child killed by a signal is retried with the
  /// next seed (at most 4), as scripts/stress-bugs does.
  @Test("each check catches its seeded mimalloc bug in a short real-thread run", arguments: bugCases)
  func checkCatchesBug(_ c: StressBugCase) async {
    var crashes: [String] = []
    for attempt in UInt64(0)..<4 {
      let status = await Self.childRun(bug: c.bug.rawValue, check: c.check, threads: c.threads, seed: 0x57E5 + attempt)
      guard let status else { return }  // exited 0: the issue is recorded
      if status == .exitCode(Self.caughtStatus) { return }
      crashes.append("seed \(0x57E5 + attempt): \(status)")
    }
    Issue.record("\(c.bug): every child crashed before \(c.check) could fire: \(crashes)")
  }

  /// One run in a child process: its exit status, or nil when it exited 0 (then the issue is recorded).
  static func childRun(bug: String, check: String, threads: Int, seed: UInt64) async -> ExitStatus? {
    let result = await #expect(processExitsWith: .failure, observing: [\.exitStatus],
                               "\(bug): the child exits 3 when \(check) fires, 0 when every check passes") {
      [bug, check, threads, seed] in
      let r = run(MimallocStress(bugs: [MimallocBug(rawValue: bug)!]), threads: threads, seed: seed)
      exit(failed(r).contains(check) && !r.passed ? StressTests.caughtStatus : 0)
    }
    return result?.exitStatus
  }

  @Test("S2 catches a runner that drops blocks it takes out of a transfer slot")
  func lostHandOversCaught() {
    let r = run(MimallocStress(bugs: []), threads: 2) { $0._loseHandOvers = true }
    #expect(failed(r).contains("S2"), "\(r.failures)")
    #expect(r.lostBlocks > 0 && r.freedTwice == 0)
    #expect(failed(r).contains("S4"))  // the dropped blocks are still allocated
  }

  @Test("S2 merge: lost, freed twice (in two ledgers or one) and never-allocated ids are all counted")
  func ledgerMerge() {
    var a = StressLedger(lanes: 2)
    var b = StressLedger(lanes: 2)
    var firstTimes = 0
    for s in 0..<100 as Range<UInt64> where s != 7 { if a.noteFreed(StressLedger.id(lane: 0, sequence: s)) { firstTimes += 1 } }
    #expect(firstTimes == 99)
    let once = b.noteFreed(StressLedger.id(lane: 0, sequence: 42))  // also in a: freed twice
    let again = b.noteFreed(StressLedger.id(lane: 0, sequence: 42))  // the same ledger sees it at once
    #expect(once && !again)
    let inRange = b.noteFreed(StressLedger.id(lane: 1, sequence: 0))
    let outOfRange = b.noteFreed(StressLedger.id(lane: 1, sequence: 5))  // lane 1 allocated only 3
    #expect(inRange && outOfRange)
    let v = StressLedger.merge([a, b], allocated: [100, 3])
    #expect(v.lost == 3 && v.lostExamples.first == StressLedger.id(lane: 0, sequence: 7))  // 0:7, 1:1, 1:2
    #expect(v.freedTwice == 1 && v.twiceExamples == [StressLedger.id(lane: 0, sequence: 42)])
    #expect(v.unknown == 1)
    let clean = StressLedger.merge([a], allocated: [100, 0])
    #expect(clean.lost == 1 && clean.freedTwice == 0 && clean.unknown == 0 && clean.freed == 99)
  }

  @Test("size mixes stay in range, small-biased, and each lane's stream depends only on seed, lane, generation")
  func sizesAndStreams() {
    let p = StressParameters(threads: 2, operations: 1, seed: 9)
    var small = 0
    var rng = SeededRandom(seed: p.laneSeed(lane: 1, generation: 0))
    for _ in 0..<10_000 {
      let s = SizeMix.mixed.size(rng.next())
      #expect(s >= 8 && s <= 1 << 20)
      if s <= 128 { small += 1 }
      let t = SizeMix.small.size(rng.next())
      #expect(t >= 8 && t <= 512)
    }
    #expect(small > 6500 && small < 7500)
    #expect(p.laneSeed(lane: 1, generation: 0) != p.laneSeed(lane: 0, generation: 0))
    #expect(p.laneSeed(lane: 1, generation: 1) != p.laneSeed(lane: 1, generation: 0))
    #expect(StressParameters(threads: 8, operations: 5, seed: 9).laneSeed(lane: 1, generation: 0) == p.laneSeed(lane: 1, generation: 0))
  }
}
