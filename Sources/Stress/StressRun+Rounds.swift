// StressRun+Rounds.swift — the main thread's part of a stress run: rounds of lane threads with progress
// and the round-end checks (S5, S6), then the teardown in phases separated by joins (slots and orphans,
// each thread's own blocks, owner collects S3 and exits, the final collect S4, the ledgers S2).

import AllocUnderTest
import Foundation
import Synchronization

extension StressRun {
  /// Runs `parameters` on `allocator` from the calling thread (which only waits, prints and checks).
  /// `progress` gets a line every `progressEvery`; `shouldStop` is polled (Ctrl-C): the run then ends its
  /// round early and still tears down and checks. Nonisolated: the lane threads start from here.
  public nonisolated static func run(_ parameters: StressParameters, allocator: any StressAllocator,
                                     progressEvery: Duration = .seconds(3),
                                     progress: (String) -> Void = { _ in },
                                     onFailure: @escaping @Sendable (StressFailure) -> Void = { _ in },
                                     shouldStop: () -> Bool = { false }) -> StressResult {
    let run = StressRun(parameters, allocator: allocator, onFailure: onFailure)
    return run.drive(progressEvery: progressEvery, progress: progress, shouldStop: shouldStop)
  }

  /// S5's bound for the peaks so far.
  func footprintBound(peakLive: Int) -> Int { 2 * peakLive + allocator.footprintSlack(threads: parameters.threads) }

  private func drive(progressEvery: Duration, progress: (String) -> Void, shouldStop: () -> Bool) -> StressResult {
    let p = parameters
    var result = StressResult(parameters: p)
    result.notChecked = allocator.notChecked
    let lanes = (0..<p.threads).map { StressLane(index: $0, state: newLaneState(lane: $0)) }
    var lastProgress = ContinuousClock.now
    var started = 0
    while !stop.load(ordering: .relaxed) {
      if let total = p.operations, started >= total { break }
      if let limit = p.duration, ContinuousClock.now - began >= limit { break }
      let roundOps = min(p.roundOperations, (p.operations ?? Int.max) - started)
      allocator.mainThreadWaiting()
      let group = DispatchGroup()
      for lane in lanes {
        let quota = roundOps / p.threads + (lane.index < roundOps % p.threads ? 1 : 0)
        startLane(lane, quota: quota, group: group)
      }
      while group.wait(timeout: .now() + .milliseconds(25)) == .timedOut {
        allocator.mainThreadWaiting()
        if shouldStop() && !stop.load(ordering: .relaxed) {
          result.interrupted = true
          stop.store(true, ordering: .relaxed)
        }
        if ContinuousClock.now - lastProgress >= progressEvery {
          lastProgress = .now
          progress(progressLine(round: result.rounds + 1))
        }
      }
      HappensBefore.after(HappensBefore.key(group))  // the join, for Helgrind/DRD
      if shouldStop() { result.interrupted = true }
      started += roundOps
      result.rounds += 1
      if !failures.withLock({ $0.isEmpty }) { break }
      roundEndChecks(round: result.rounds)
      progress("stress: round \(result.rounds) done: \(allocator.roundSummary()), \(Self.mib(allocator.mappedBytes)) MiB mapped, "
               + "\(liveBlocks.load(ordering: .relaxed)) live blocks (\(Self.mib(liveBytes.load(ordering: .relaxed))) MiB)")
      if result.interrupted { break }
    }
    result.operations = opsDone.load(ordering: .relaxed)
    result.seconds = elapsed
    if failures.withLock({ $0.isEmpty }) { tearDown(lanes, &result) }
    for lane in lanes {
      lane.state.withLock { s in
        let c = s.counters
        result.mallocs += c.mallocs
        result.frees += c.frees
        result.crossThreadFrees += c.crossThreadFrees
        result.handedOver += c.handedOver
        result.orphaned += c.orphaned
        result.churns += c.churns
        result.failedMallocs += c.failedMallocs
        result.failedMallocSizes += c.failedMallocSizes
        result.canaryChecks += c.canaryChecks
        result.teardownFrees += c.teardownFrees
      }
    }
    result.peakLiveBytes = peakLive.load(ordering: .relaxed)
    result.peakMappedBytes = allocator.peakMappedBytes
    result.footprintBound = footprintBound(peakLive: result.peakLiveBytes)
    result.failures = failures.withLock { $0 }
    return result
  }

  func progressLine(round: Int) -> String {
    let ops = opsDone.load(ordering: .relaxed)
    let secs = elapsed
    let mib = Double(allocator.mappedBytes) / 1_048_576
    return "stress: \(Int(secs)) s, \(ops) ops (\(secs > 0 ? Int(Double(ops) / secs) : 0) ops/s), "
      + "\(liveBlocks.load(ordering: .relaxed)) live blocks, \(String(format: "%.1f", mib)) MiB mapped, round \(round)"
  }

  /// Quiescent (every lane thread joined): S6 invariants and S5 footprint.
  private func roundEndChecks(round: Int) {
    let violations = allocator.checkInvariants()
    if !violations.isEmpty && allocator.notChecked["S6"] == nil {
      fail("S6 invariants", "after round \(round): " + violations.prefix(3).joined(separator: "; "))
    }
    checkFootprint(when: "after round \(round)")
  }

  private func checkFootprint(when: String) {
    let live = peakLive.load(ordering: .relaxed)
    let mapped = allocator.peakMappedBytes
    let bound = footprintBound(peakLive: live)
    if mapped > bound && allocator.notChecked["S5"] == nil {
      fail("S5 footprint", "\(when): peak mapped \(mapped) B > bound \(bound) B (2 × peak live \(live) B + slack "
           + "\(allocator.footprintSlack(threads: parameters.threads)) B)")
    }
  }

  /// Phases, each ended by a join, so each check sees a quiescent allocator.
  private func tearDown(_ lanes: [StressLane], _ result: inout StressResult) {
    // 1. The main thread (its own worker and ledger) frees what sits in the slots and the orphans: remote
    //    frees into live threads' pages and into abandoned segments.
    var mainLedger = StressLedger(lanes: parameters.threads)
    var mainCounters = LaneCounters()
    let mainWorker = allocator.makeWorker()
    var leftovers = slots.compactMap { $0.exchange(nil) }
    leftovers += orphans.withLock { o in defer { o = [] }; return o }
    for b in leftovers where free(b, by: mainWorker, ledger: &mainLedger, &mainCounters) { mainCounters.teardownFrees += 1 }
    mainWorker.exit()
    guard failures.withLock({ $0.isEmpty }) else { return }
    // 2. Each thread frees its own blocks (on its own OS thread: local frees, and remote ones for blocks
    //    it received).
    onLaneThreads(lanes) { [self] lane, s in
      if s.worker == nil { s.worker = allocator.makeWorker() }
      for b in s.kept where free(b, by: s.worker!, ledger: &s.ledger, &s.counters) { s.counters.teardownFrees += 1 }
      s.kept = []
    }
    guard failures.withLock({ $0.isEmpty }) else { return }
    // 3. Every free is done: each owner's collect must bring its heaps to 0 blocks (S3); then it exits.
    let left = Atomic<Int>(0)
    let measured = Atomic<Bool>(false)
    onLaneThreads(lanes) { _, s in
      if let n = s.worker?.collectAndCount() {
        _ = left.wrappingAdd(n, ordering: .relaxed)  // relaxed: summed; the join orders the read below
        measured.store(true, ordering: .relaxed)
      }
      s.worker?.exit()
      s.worker = nil
    }
    if measured.load(ordering: .relaxed) {
      result.ownerCollectLeft = left.load(ordering: .relaxed)
      if result.ownerCollectLeft != 0 {
        fail("S3 owner collect", "after every block was freed, the owners' collects left \(result.ownerCollectLeft!) blocks in their heaps")
      }
    }
    // 4. S2: every id freed exactly once.
    let ledgers = lanes.map { lane in lane.state.withLock { $0.ledger } } + [mainLedger]
    let allocated = lanes.map { lane in lane.state.withLock { $0.nextSequence } }
    let verdict = StressLedger.merge(ledgers, allocated: allocated)
    result.freedIds = verdict.freed
    result.lostBlocks = verdict.lost
    result.freedTwice = verdict.freedTwice
    result.unknownIds = verdict.unknown
    if verdict.lost + verdict.freedTwice + verdict.unknown > 0 {
      fail("S2 accounting", "\(verdict.lost) lost (e.g. \(verdict.lostExamples.map(hexId))), \(verdict.freedTwice) freed twice "
           + "(e.g. \(verdict.twiceExamples.map(hexId))), \(verdict.unknown) freed but never allocated")
    }
    // 5. S4 + S6: the main thread's forced collect reclaims the abandoned segments; everything is zero.
    checkFootprint(when: "at the end")
    let t = allocator.teardown()
    result.teardown = t
    result.teardownFrees += mainCounters.teardownFrees
    result.canaryChecks += mainCounters.canaryChecks
    let zero = t.blocksInUse == 0 && t.segments == 0 && t.mappedBytes == t.allowedMappedBytes && t.abandonedAfter == 0 && t.rawBlocks == 0
    if !zero && allocator.notChecked["S4"] == nil {
      fail("S4 return to zero", "after the final collect: \(t.blocksInUse) blocks in use, \(t.segments) segments/arenas "
           + "(\(t.abandonedAfter) abandoned, \(t.abandonedBefore) before the collect), \(t.mappedBytes) B mapped (\(t.allowedMappedBytes) allowed), "
           + "\(t.rawBlocks) raw blocks")
    }
    if !t.invariantViolations.isEmpty && allocator.notChecked["S6"] == nil {
      fail("S6 invariants", "after teardown: " + t.invariantViolations.prefix(3).joined(separator: "; "))
    }
  }

  static func mib(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }

  private func hexId(_ id: UInt64) -> String { "\(StressLedger.lane(of: id)):\(StressLedger.sequence(of: id))" }
}
