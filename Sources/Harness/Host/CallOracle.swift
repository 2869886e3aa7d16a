// CallOracle.swift — the oracle for calls that arrive one at a time from a real caller (the C ABI of the
// reference allocators, and through it the embedding host running CPython), not from an op program.
//
// The caller owns the block contents, so there are no canaries; everything else the executor checks on a
// result is checked here, on every call: O8 NULL only where allowed, O1 alignment, O12 routing, O3 usable
// size, O2 non-overlap with every live block, O5 calloc zeroes, O6 realloc keeps the caller's bytes (copied
// before the call, up to ``CallOracleConfig/contentCap``), O7 a moving realloc frees the old block, O13 the
// block is still owned before it is freed or resized. After each call the allocator's invariants around the
// touched addresses; on the growing cadence (``WalkCadence/growing``, so n calls cost O(log n) walks) every
// invariant and the statistics rules O9–O11 against the model; the whole invariant walk also after memory was
// mapped or unmapped (amortized: at most one per mapped KiB calls), and O13 over every live block after memory
// was unmapped (at most one sweep per live/8 calls) and on the cadence. ``finish()`` runs every walk.
//
// A call the caller should never make (freeing or resizing an address the allocator did not hand out, or
// already took back) is reported as C1 and not passed on: the allocator would trap or corrupt itself.
// The first violation is kept and handed to ``onViolation``; checking stops there (the calls still run).

import AllocUnderTest
import Oracle

public struct CallOracleConfig: Sendable {
  /// Check anything at all (off: calls are only counted).
  public var checks: Bool
  /// Invariants around each touched address, and every invariant on the cadence.
  public var invariants: Bool
  /// Statistics rules on the cadence and at the end.
  public var statistics: Bool
  /// Bytes of a block the content rules (O5, O6) compare at most.
  public var contentCap: Int

  public init(checks: Bool = true, invariants: Bool = true, statistics: Bool = true, contentCap: Int = 1 << 16) {
    self.checks = checks
    self.invariants = invariants
    self.statistics = statistics
    self.contentCap = contentCap
  }
}

/// The counters of a run, kept with or without checks.
public struct CallCounts: Sendable, Equatable {
  /// Calls seen (malloc, calloc, realloc and free, NULL frees included).
  public var calls = 0
  public var mallocs = 0, callocs = 0, reallocs = 0, frees = 0
  /// Blocks handed out and not yet freed, and the most there were at once.
  public var live = 0, peakLive = 0
  /// Whole invariant walks, statistics checks and ownership sweeps run.
  public var walks = 0, statsChecks = 0, sweeps = 0
}

public final class CallOracle {
  public let adapter: AllocatorAdapter
  public let config: CallOracleConfig
  let oracle: OracleConfig
  let rules: RuleBits
  var model: HostModel
  public private(set) var counts = CallCounts()
  public private(set) var violation: Violation? = nil
  /// Called once, with the first violation.
  public var onViolation: ((Violation) -> Void)? = nil
  private var checking: Bool
  private var nextID = 0
  private var lastMapped = 0
  private var sweepPending = false
  private var callsSinceSweep = 0

  /// `oracle` chooses the rules and geometry (``OracleConfig/full`` for pymalloc, ``OracleConfig/heaps``
  /// for mimalloc).
  public init(adapter: AllocatorAdapter, oracle: OracleConfig = .full, config: CallOracleConfig = .init()) {
    self.adapter = adapter
    self.oracle = oracle
    self.config = config
    rules = RuleBits(oracle.rules)
    model = HostModel(geometry: oracle.geometry, granuleShift: oracle.geometry.alignment == 16 && oracle.geometry.tinyAlignment == 16 ? 4 : 3)
    checking = config.checks
    lastMapped = adapter.mappedBytes
  }

  /// Live blocks the model holds (0 without checks).
  public var modelCount: Int { model.count }

  // MARK: Calls

  public func malloc(_ n: UInt64) -> Int? {
    counts.mallocs += 1
    return allocate(.malloc, requested: n) { adapter.malloc(n) }
  }

  public func calloc(_ count: UInt64, _ size: UInt64) -> Int? {
    counts.callocs += 1
    let (product, overflow) = count.multipliedReportingOverflow(by: size)
    return allocate(.calloc(count: count, size: size), requested: overflow ? .max : product) { adapter.calloc(count, size) }
  }

  /// An allocation through a first-class heap (the mimalloc ABI); `heap` is the caller's handle.
  public func heapAllocate(heap: Int, _ n: UInt64, _ call: () -> Int?) -> Int? {
    counts.mallocs += 1
    return allocate(.malloc, requested: n, heap: heap, call)
  }

  private func allocate(_ kind: AllocationFacts.Kind, requested: UInt64, heap: Int = 0, _ call: () -> Int?) -> Int? {
    let i = counts.calls
    counts.calls += 1
    let before = adapter.injectedFaults
    let a = call()
    if a != nil { born() }
    guard checking else { return a }
    let facts = AllocationFacts(opIndex: i, kind: kind, requested: requested, address: a,
                                usable: a.map { adapter.usableSize($0) }, servedSmall: a.map { adapter.ownsSmall($0) } ?? false,
                                faultFired: adapter.injectedFaults > before)
    if let v = resultRules(facts) { report(v); return a }
    if let a, requested <= UInt64(Int.max) {
      if case .calloc = kind, rules.contains(.callocZeroed), let v = callocCheck(i, a, requested) { report(v); return a }
      model.insert(HostBlock(id: nextID, address: a, requested: requested, small: facts.servedSmall, classRequest: requested, heap: heap))
    }
    nextID += 1
    after(i, touched: a)
    return a
  }

  public func realloc(_ address: Int?, _ n: UInt64) -> Int? {
    counts.reallocs += 1
    let i = counts.calls
    counts.calls += 1
    guard checking else {
      let r = adapter.realloc(address, n)
      if address == nil, r != nil { born() }
      return r
    }
    var old: HostBlock? = nil
    var saved: [UInt8] = []
    if let address {
      guard let b = model[address] else {
        report(Violation(opIndex: i, rule: Self.callerError, detail: "realloc(\(hexString(address)), \(n)) of an address the allocator did not hand out or already took back"))
        return nil
      }
      if let v = stillOwned(i, b) { report(v); return nil }
      old = b
      if rules.contains(.reallocPrefix) {
        saved = adapter.read(address, count: Int(min(min(b.requested, n), UInt64(config.contentCap))))
      }
    }
    let before = adapter.injectedFaults
    let a = adapter.realloc(address, n)
    if old == nil, a != nil { born() }
    let oldModel = old.map { ModelBlock(id: $0.id, address: $0.address, requested: $0.requested, canarySeed: 0, small: $0.small, classRequest: $0.classRequest) }
    let facts = AllocationFacts(opIndex: i, kind: .realloc(old: oldModel), requested: n, address: a,
                                usable: a.map { adapter.usableSize($0) }, servedSmall: a.map { adapter.ownsSmall($0) } ?? false,
                                faultFired: adapter.injectedFaults > before)
    guard let a else {
      if rules.contains(.nilOnlyWhereAllowed), let v = AllocationRules.nilOnlyWhereAllowed(facts, oracle.geometry) { report(v) }
      return nil  // the old block stays live, unchanged
    }
    if let old { model.remove(address: old.address) }
    if let v = resultRules(facts) { report(v); return a }
    guard n <= UInt64(Int.max) else { return a }
    if let old, let oldModel {
      if rules.contains(.reallocFreesOld),
         let v = ContentRules.reallocFreesOld(opIndex: i, old: oldModel, newAddress: a, oldAllocated: adapter.isAllocated(old.address)) {
        report(v)
        return a
      }
      if !saved.isEmpty, MemoryAccess.readUnchecked(address: a, count: saved.count) != saved {
        let now = MemoryAccess.readUnchecked(address: a, count: saved.count)
        let k = saved.indices.first { saved[$0] != now[$0] } ?? 0
        report(Violation(opIndex: i, .reallocPrefix,
                         "realloc(p\(old.id), \(n)) → \(hexString(a)): byte \(k) of the caller's \(saved.count) kept bytes is \(now[k]), was \(saved[k])"))
        return a
      }
    }
    let inPlace = old.map { $0.address == a && $0.small && facts.servedSmall } ?? false
    model.insert(HostBlock(id: nextID, address: a, requested: n, small: facts.servedSmall,
                           classRequest: inPlace ? old!.classRequest : n, heap: old?.heap ?? 0))
    nextID += 1
    after(i, touched: a, movedFrom: old.map(\.address).flatMap { $0 == a ? nil : $0 })
    return a
  }

  public func free(_ address: Int?) {
    counts.frees += 1
    let i = counts.calls
    counts.calls += 1
    guard let address else { adapter.free(nil); return }
    guard checking else {
      adapter.free(address)
      died()
      return
    }
    guard let b = model[address] else {
      report(Violation(opIndex: i, rule: Self.callerError, detail: "free(\(hexString(address))) of an address the allocator did not hand out or already took back"))
      return
    }
    if let v = stillOwned(i, b) { report(v); return }
    adapter.free(address)
    model.remove(address: address)
    died()
    after(i, touched: address)
  }

  /// The blocks of first-class heap `heap` are gone (mi_heap_destroy): the model forgets them. O(live).
  public func forgetHeap(_ heap: Int) {
    let gone = model.all.filter { $0.heap == heap }.map(\.address)
    for a in gone { model.remove(address: a) }
    counts.live -= gone.count
  }

  /// The blocks of first-class heap `heap` now belong to the default heap (mi_heap_delete).
  public func adoptHeap(_ heap: Int) {
    let moved = model.all.filter { $0.heap == heap }
    for var b in moved {
      model.remove(address: b.address)
      b.heap = 0
      model.insert(b)
    }
  }

  /// Every walk: invariants, statistics, ownership of every live block. Returns the first violation of the
  /// run (this one or an earlier one).
  @discardableResult
  public func finish() -> Violation? {
    guard checking else { return violation }
    let i = max(counts.calls - 1, 0)
    if let v = ownershipSweep(i) ?? wholeWalk(i) ?? statistics(i) { report(v) }
    return violation
  }

  /// The rule id of a call the caller must not make (not an allocator fault).
  public static let callerError = "C1"

  // MARK: Checks

  private func born() {
    counts.live += 1
    if counts.live > counts.peakLive { counts.peakLive = counts.live }
  }
  private func died() { counts.live -= 1 }

  private func report(_ v: Violation) {
    guard violation == nil else { return }
    violation = v
    checking = false
    onViolation?(v)
  }

  /// O8, O1, O12, O3, O2 on one result, in the executor's order.
  private func resultRules(_ f: AllocationFacts) -> Violation? {
    AllocationRules.result(f, oracle.geometry, rules: rules) { a, n in
      model.overlapping(address: a, length: n, small: f.servedSmall).map { ($0.id, $0.address, $0.requested) }
    }
  }

  private func callocCheck(_ i: Int, _ a: Int, _ requested: UInt64) -> Violation? {
    let count = Int(min(requested, UInt64(config.contentCap)))
    guard MemoryAccess.firstNonZero(address: a, count: count) != nil else { return nil }
    return ContentRules.callocZeroed(opIndex: i, id: nextID, adapter.read(a, count: count))
  }

  /// O13 for a block about to be freed or resized.
  private func stillOwned(_ i: Int, _ b: HostBlock) -> Violation? {
    guard b.small, rules.contains(.ownershipKept), !adapter.ownsSmall(b.address) else { return nil }
    return ContentRules.ownershipKept(opIndex: i, modelBlock(b), ownedNow: false)
  }

  private func modelBlock(_ b: HostBlock) -> ModelBlock {
    ModelBlock(id: b.id, address: b.address, requested: b.requested, canarySeed: 0, small: b.small, classRequest: b.classRequest)
  }

  private func after(_ i: Int, touched: Int?, movedFrom: Int? = nil) {
    callsSinceSweep += 1
    let mapped = adapter.mappedBytes
    if mapped < lastMapped { sweepPending = true }
    let mappingChanged = mapped != lastMapped
    lastMapped = mapped
    let cadence = oracle.walks(every: 1, after: i)
    if (sweepPending && callsSinceSweep >= model.smallCount / 8) || cadence, let v = ownershipSweep(i) { report(v); return }
    if config.invariants {
      // Memory mapped or unmapped (pymalloc: an arena; its radix-tree entries, PM6, are seen only by the
      // whole walk), or structures beyond the touched ones changed (mimalloc's epoch): a whole walk is due.
      // It costs O(heap), and a long run maps and unmaps arenas thousands of times, so it is amortized like
      // the ownership sweep: at most one per mapped KiB calls (a 1 MiB arena: 1,024 calls), the local check
      // still running after every call meanwhile.
      let epoch = adapter.structureEpoch
      if mappingChanged || (epoch != nil && epoch != lastEpoch) { walkPending = true }
      lastEpoch = epoch
      callsSinceWalk += 1
      if cadence || (walkPending && callsSinceWalk >= mapped >> 10) {
        if let v = wholeWalk(i) { report(v); return }
      }
      // Each optional address on its own: no array built per call.
      if let t = touched, let v = adapter.invariantViolation(i, around: t, oracle) { report(v); return }
      if let m = movedFrom, let v = adapter.invariantViolation(i, around: m, oracle) { report(v); return }
    }
    if cadence, let v = statistics(i) { report(v) }
  }
  private var lastEpoch: Int? = nil
  private var walkPending = false
  private var callsSinceWalk = 0

  private func ownershipSweep(_ i: Int) -> Violation? {
    sweepPending = false
    callsSinceSweep = 0
    counts.sweeps += 1
    guard rules.contains(.ownershipKept) else { return nil }
    for b in model.all where b.small && !adapter.ownsSmall(b.address) {
      return ContentRules.ownershipKept(opIndex: i, modelBlock(b), ownedNow: false)
    }
    return nil
  }

  private func wholeWalk(_ i: Int) -> Violation? {
    guard config.invariants else { return nil }
    walkPending = false
    callsSinceWalk = 0
    counts.walks += 1
    return adapter.invariantViolation(i, oracle)
  }

  private func statistics(_ i: Int) -> Violation? {
    guard config.statistics, rules.contains(.statsMatchModel) || rules.contains(.statsConsistent) || rules.contains(.memoryGivenBack),
          let s = adapter.snapshot() else { return nil }
    counts.statsChecks += 1
    return StatsRules.check(opIndex: i, s, classCounts: model.classCounts, smallLive: model.smallCount, oracle.geometry, rules: rules)
  }
}
