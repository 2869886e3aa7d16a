// StressRun.swift — ``StressRun/run(_:allocator:progressEvery:progress:onFailure:shouldStop:)``: real OS threads
// ("lanes") driving one allocator, in rounds, then the teardown; the workload is listed in Stress.swift.
// Checks, by id (each shown to fail by StressTests / scripts/stress-bugs):
//   S1 canary: every block's canary (word 0 and the last word, derived from its id) intact before its free
//   S2 accounting: every id allocated is freed exactly once (``StressLedger``: 0 lost, 0 freed twice)
//   S3 owner collect: after every block is freed, each thread's collect leaves 0 blocks in its heaps
//   S4 return to zero: after the threads exit and the main thread's forced collect, 0 blocks in use,
//      0 abandoned segments, 0 segments/arenas, 0 mapped bytes
//   S5 footprint: peak mapped ≤ 2 × peak live + slack (``StressAllocator/footprintSlack(threads:)``), at
//      every round end and at the end
//   S6 invariants: `checkInvariants()` (MI1–MI7 / PM*) empty at every round end and after teardown
// Threads start only from the nonisolated functions here (never from main-actor code: Swift 6 traps).

import AllocUnderTest
import Foundation
import Harness
import Synchronization

/// A check that failed, when and how far into the run.
public struct StressFailure: Sendable, Equatable, CustomStringConvertible {
  public var check: String
  public var detail: String
  public var afterOperations: Int
  public var afterSeconds: Double
  public var description: String {
    "\(check) failed after \(afterOperations) ops, \(String(format: "%.2f", afterSeconds)) s: \(detail)"
  }
}

/// Counts from one run.
public struct StressResult: Sendable {
  public var parameters: StressParameters
  public var operations = 0
  public var seconds = 0.0
  public var rounds = 0
  public var mallocs = 0, frees = 0, crossThreadFrees = 0, handedOver = 0, orphaned = 0, churns = 0
  public var failedMallocs = 0
  /// Sizes of the first few NULL mallocs (not a check: the reference returns NULL when mmap fails).
  public var failedMallocSizes: [Int] = []
  public var canaryChecks = 0
  /// Frees done by the teardown (slots and orphans from the main thread, kept blocks by their threads).
  public var teardownFrees = 0
  public var freedIds = 0, lostBlocks = 0, freedTwice = 0, unknownIds = 0
  /// Blocks the owners' collects left in their heaps (nil: not measured, e.g. pymalloc).
  public var ownerCollectLeft: Int?
  public var peakLiveBytes = 0, peakMappedBytes = 0, footprintBound = 0
  public var teardown: StressTeardown?
  /// Checks skipped because the allocator cannot be held to them (``StressAllocator/notChecked``).
  public var notChecked: [String: String] = [:]
  public var failures: [StressFailure] = []
  public var interrupted = false

  public var passed: Bool { failures.isEmpty }
  public var opsPerSecond: Int { seconds > 0 ? Int((Double(operations) / seconds).rounded()) : 0 }
  /// Peak mapped over peak live bytes (S5 prints it).
  public var footprintRatio: Double { peakLiveBytes > 0 ? Double(peakMappedBytes) / Double(peakLiveBytes) : 0 }
}

/// A shared transfer slot (test-stress's `transfer[]`): exchanged under its own lock, which also orders the
/// block's canary writes before the taker's reads.
final class TransferSlot: Sendable {
  let cell = TSanVisibleMutex<HeldBlock?>(nil)
  func exchange(_ block: HeldBlock?) -> HeldBlock? { cell.withLock { old in defer { old = block }; return old } }
}

/// One OS thread's worth of state; moves to a new OS thread on churn and at each round (one at a time:
/// the lock is held for the whole round, uncontended, and orders the hand-over).
final class StressLane: Sendable {
  let index: Int
  let state: TSanVisibleMutex<LaneState>
  init(index: Int, state: consuming sending LaneState) {
    self.index = index
    self.state = TSanVisibleMutex(state)
  }
}

struct LaneCounters {
  var mallocs = 0, frees = 0, crossThreadFrees = 0, handedOver = 0, orphaned = 0, churns = 0, failedMallocs = 0
  var canaryChecks = 0, teardownFrees = 0
  var failedMallocSizes: [Int] = []
}

struct LaneState {
  var worker: (any StressWorker)?
  var generation = 0
  var rng: SeededRandom
  var kept: [HeldBlock] = []
  var nextSequence: UInt64 = 0
  var ledger: StressLedger
  var opsUntilChurn = Int.max
  var counters = LaneCounters()
}

/// The runner's shared state: parameters, allocator, slots, orphans, counters, failures.
public final class StressRun: Sendable {
  let parameters: StressParameters
  let allocator: any StressAllocator
  let slots: [TransferSlot]
  /// Blocks of threads that exited holding them; any thread frees them.
  let orphans = TSanVisibleMutex<[HeldBlock]>([])
  /// Blocks in `orphans`, read relaxed before taking the lock (a hint: the lock decides). Keeps lanes off
  /// the shared lock while there are no orphans, so the lock's hand-offs do not order every thread's work
  /// after every other's (which would hide missing orderings from TSan).
  let orphanCount = Atomic<Int>(0)
  /// Relaxed counters for progress and footprint: each is only summed or maxed, never used to order data.
  let opsDone = Atomic<Int>(0)
  let liveBlocks = Atomic<Int>(0)
  let liveBytes = Atomic<Int>(0)
  let peakLive = Atomic<Int>(0)
  /// Set by the first failure or an interrupt; lanes poll it (relaxed: it only ends loops early).
  let stop = Atomic<Bool>(false)
  let failures = TSanVisibleMutex<[StressFailure]>([])
  let began = ContinuousClock.now
  let canarySalt: UInt64
  /// Told about each failure at once, on the thread that saw it: memory corruption may crash the process
  /// (an allocator trap on another thread) before the main thread prints the result.
  let onFailure: @Sendable (StressFailure) -> Void

  init(_ parameters: StressParameters, allocator: any StressAllocator,
       onFailure: @escaping @Sendable (StressFailure) -> Void = { _ in }) {
    self.parameters = parameters
    self.allocator = allocator
    self.onFailure = onFailure
    slots = (0..<max(1, parameters.slots)).map { _ in TransferSlot() }
    canarySalt = StressMath.mix(parameters.seed ^ 0xC0FF_EE00_CA4A_2100)
  }

  var elapsed: Double { (ContinuousClock.now - began).seconds }

  func fail(_ check: String, _ detail: String) {
    let f = StressFailure(check: check, detail: detail, afterOperations: opsDone.load(ordering: .relaxed),
                          afterSeconds: elapsed)
    let first = failures.withLock { f0 in
      defer { if f0.count < 8 { f0.append(f) } }
      return f0.isEmpty
    }
    stop.store(true, ordering: .relaxed)
    if first { onFailure(f) }
  }

  // MARK: canaries (S1)

  func canary(_ id: UInt64) -> UInt64 { StressMath.mix(id ^ canarySalt) }

  func writeCanary(_ b: HeldBlock) {
    let c = canary(b.id)
    MemoryAccess.storeWordUnchecked(address: b.address, c)
    if b.size >= 16 { MemoryAccess.storeWordUnchecked(address: b.address + b.size - 8, c ^ UInt64(b.size)) }
  }

  /// nil when intact, else what differs.
  func canaryDamage(_ b: HeldBlock) -> String? {
    let c = canary(b.id)
    let head = MemoryAccess.loadWordUnchecked(address: b.address)
    if head != c { return "word 0 is 0x\(String(head, radix: 16)), expected 0x\(String(c, radix: 16))" }
    if b.size >= 16 {
      let tail = MemoryAccess.loadWordUnchecked(address: b.address + b.size - 8)
      if tail != c ^ UInt64(b.size) { return "last word is 0x\(String(tail, radix: 16)), expected 0x\(String(c ^ UInt64(b.size), radix: 16))" }
    }
    return nil
  }

  func describe(_ b: HeldBlock) -> String {
    "block id \(StressLedger.lane(of: b.id)):\(StressLedger.sequence(of: b.id)) at 0x\(String(b.address, radix: 16)), \(b.size) B"
  }

  // MARK: one lane

  func churnDraw(_ rng: inout SeededRandom) -> Int {
    let n = parameters.churnEvery
    return n <= 0 ? Int.max : n / 2 + Int(rng.next() % UInt64(n + 1))
  }

  func newLaneState(lane: Int) -> LaneState {
    var s = LaneState(rng: SeededRandom(seed: parameters.laneSeed(lane: lane, generation: 0)),
                      ledger: StressLedger(lanes: parameters.threads))
    s.opsUntilChurn = churnDraw(&s.rng)
    return s
  }

  private func account(_ size: Int, _ sign: Int) {
    _ = liveBlocks.wrappingAdd(sign, ordering: .relaxed)
    guard allocator.countsInFootprint(size) else { return }
    let now = liveBytes.wrappingAdd(sign * size, ordering: .relaxed).newValue
    if sign > 0 && now > peakLive.load(ordering: .relaxed) { _ = peakLive.max(now, ordering: .relaxed) }
  }

  /// S1 then S2, then the free. False if a check failed (the block is then left alone: it may be live).
  @discardableResult
  func free(_ b: HeldBlock, by worker: any StressWorker, ledger: inout StressLedger, _ c: inout LaneCounters) -> Bool {
    c.canaryChecks += 1
    if let damage = canaryDamage(b) {
      fail("S1 canary", "\(describe(b)): \(damage)")
      return false
    }
    guard ledger.noteFreed(b.id) else {
      fail("S2 accounting", "\(describe(b)) freed twice")
      return false
    }
    worker.free(b.address)
    account(b.size, -1)
    return true
  }

  /// Runs `quota` ops of `lane`; returns the ops left when its thread exits early (churn) so that a new
  /// OS thread continues, nil when the quota is done or the run stops.
  func runLane(_ s: inout LaneState, lane: Int, quota: Int) -> Int? {
    if s.worker == nil { s.worker = allocator.makeWorker() }
    let worker = s.worker!
    let p = parameters
    var done = 0
    var unpublished = 0
    defer { _ = opsDone.wrappingAdd(unpublished, ordering: .relaxed) }
    while done < quota {
      if done & 255 == 0 {
        worker.quiescent()
        _ = opsDone.wrappingAdd(unpublished, ordering: .relaxed)
        unpublished = 0
        if stop.load(ordering: .relaxed) { return nil }
      }
      s.opsUntilChurn -= 1
      if s.opsUntilChurn <= 0 {
        churn(&s, lane: lane)
        return quota - done
      }
      let r = s.rng.next()
      done += 1
      unpublished += 1
      if s.kept.count < p.liveBlocks && (s.kept.isEmpty || (r >> 5) & 1 == 0) {
        // malloc, then with chance 1/4 hand the block over through a random slot
        let size = p.sizes.size(s.rng.next())
        s.counters.mallocs += 1
        guard let address = worker.malloc(size, choice: r >> 8) else {
          s.counters.failedMallocs += 1
          if s.counters.failedMallocSizes.count < 4 { s.counters.failedMallocSizes.append(size) }
          continue
        }
        let b = HeldBlock(address: address, id: StressLedger.id(lane: lane, sequence: s.nextSequence), size: size)
        s.nextSequence += 1
        writeCanary(b)
        account(size, +1)
        if (r >> 9) & 3 == 0 {
          s.counters.handedOver += 1
          if let got = slots[Int((r >> 12) % UInt64(slots.count))].exchange(b), !p._loseHandOvers { s.kept.append(got) }
        } else {
          s.kept.append(b)
        }
      } else {
        // free a kept block or, with chance 1/16, an orphan of an exited thread
        var b: HeldBlock
        if (r >> 6) & 15 == 0, loadOrphanHint() > 0, let orphan = takeOrphan() {
          b = orphan
        } else if !s.kept.isEmpty {
          let i = Int((r >> 12) % UInt64(s.kept.count))
          b = s.kept[i]
          s.kept[i] = s.kept[s.kept.count - 1]
          s.kept.removeLast()
        } else {
          continue
        }
        s.counters.frees += 1
        if StressLedger.lane(of: b.id) != lane { s.counters.crossThreadFrees += 1 }
        if !free(b, by: worker, ledger: &s.ledger, &s.counters) { return nil }
      }
    }
    return nil
  }

  /// The relaxed accesses of `orphanCount`, kept out of line so scripts/valgrind/{helgrind,drd}.supp can name
  /// them: Helgrind and DRD see a relaxed atomic as a plain access (TSan checks it for real).
  @inline(never) func loadOrphanHint() -> Int { orphanCount.load(ordering: .relaxed) }
  @inline(never) func storeOrphanHint(_ count: Int) { orphanCount.store(count, ordering: .relaxed) }

  func takeOrphan() -> HeldBlock? {
    orphans.withLock { o in
      defer { storeOrphanHint(o.count) }
      return o.popLast()
    }
  }

  /// The thread exits holding its blocks (they become orphans); the lane's next generation gets a fresh
  /// thread state and stream.
  func churn(_ s: inout LaneState, lane: Int) {
    let held = s.kept
    s.kept = []
    orphans.withLock { o in
      o.append(contentsOf: held)
      storeOrphanHint(o.count)  // a hint only, see `orphanCount`
    }
    s.counters.orphaned += held.count
    s.counters.churns += 1
    s.worker?.exit()
    s.worker = nil
    s.generation += 1
    s.rng = SeededRandom(seed: parameters.laneSeed(lane: lane, generation: s.generation))
    s.opsUntilChurn = churnDraw(&s.rng)
  }

  // MARK: threads

  /// Starts an OS thread running `quota` ops of `lane`; on churn it starts the replacement before leaving.
  func startLane(_ lane: StressLane, quota: Int, group: DispatchGroup) {
    group.enter()
    let thread = Thread { [self] in
      let left = lane.state.withLock { runLane(&$0, lane: lane.index, quota: quota) }
      if let left { startLane(lane, quota: left, group: group) }
      HappensBefore.before(HappensBefore.key(group))  // the join, for Helgrind/DRD (DispatchGroup is futex-based)
      group.leave()
    }
    thread.stackSize = 4 << 20
    thread.start()
  }

  /// One OS thread per lane running `body` on its state; returns when all have finished.
  func onLaneThreads(_ lanes: [StressLane], _ body: @escaping @Sendable (Int, inout LaneState) -> Void) {
    let group = DispatchGroup()
    for lane in lanes {
      group.enter()
      let thread = Thread {
        lane.state.withLock { body(lane.index, &$0) }
        HappensBefore.before(HappensBefore.key(group))
        group.leave()
      }
      thread.stackSize = 4 << 20
      thread.start()
    }
    group.wait()
    HappensBefore.after(HappensBefore.key(group))
  }
}
