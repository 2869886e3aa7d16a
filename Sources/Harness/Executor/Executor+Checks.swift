// Executor+Checks.swift — the checks after every op: O13 ownership of every live pool block (first, so
// nothing reads unmapped memory) when memory was unmapped, O4 on the touched block's neighbours, the
// allocator invariants around the touched blocks — or all of them, on the cadence, when the mapping changed,
// after thread and heap ops, or when the adapter's structure epoch moved — statistics rules O9–O11 on the
// cadence, and the periodic full canary sweep.

import Oracle

extension Executor {
  mutating func afterOp(_ i: Int, touched: Int?) -> Violation? {
    if config.observe { observeState(i) }
    // An arena can only vanish when the platform layer unmaps memory: sweep ownership then (and on the
    // sweep cadence), so the common op costs O(1) here instead of O(live blocks).
    let mapped = adapter.mappedBytes
    let o = config.oracle
    if o.sweepEvery > 0 { opsSinceSweep += 1 }
    let sweepDue = o.sweepDue(after: i, since: opsSinceSweep, live: live.count)
    if mapped < lastMappedBytes || sweepDue, let v = ownership(i) { return v }
    // An arena or segment came or went: structures beyond the touched ones changed (the radix tree, the
    // arena lists): the invariants walk everything.
    let mappingChanged = mapped != lastMappedBytes
    lastMappedBytes = mapped
    // The allocator changed structures beyond what the local check of the touched blocks covers (a page
    // changed queues, a segment was abandoned, …), or cannot tell: the invariants walk everything.
    let epoch = adapter.structureEpoch
    let structuresChanged = epoch == nil || epoch != lastStructureEpoch
    lastStructureEpoch = epoch
    if let t = touched, rules.contains(.canary) {
      let (below, above) = live.neighbourPair(of: t)
      if let b = below, let v = edgeCanaryCheck(i, b) { return v }
      if let b = above, let v = edgeCanaryCheck(i, b) { return v }
    }
    if o.walks(every: o.invariantsEvery, after: i)
      || ((walkAfterOp || mappingChanged || structuresChanged) && o.invariantsEvery > 0) {
      if let v = invariants(i, betweenOps: true) { return v }
    } else if o.invariantsEvery > 0 {
      if let t = touched, let v = localInvariants(i, around: t) { return v }
      if let m = movedFrom, let v = localInvariants(i, around: m) { return v }
    }
    if o.walks(every: o.statsEvery, after: i), let v = statsRules(i) { return v }
    if sweepDue {
      opsSinceSweep = 0
      lastSweepAt = i
      if let v = sweep(opIndex: i) { return v }
    }
    return nil
  }

  /// O13 for every live pool block. Without the rule, a block found unowned still stops the run (reading
  /// it could fault), reported under O13 so the cause is plain.
  func ownership(_ i: Int) -> Violation? {
    for b in live.blocks where b.small {
      if let v = ContentRules.ownershipKept(opIndex: i, b, ownedNow: adapter.ownsSmall(b.address)) { return v }
    }
    return nil
  }

  /// O4 over every live block; in the heaps family also H1 and H6's lower bound.
  func sweep(opIndex i: Int) -> Violation? {
    if rules.contains(.canary) {
      for b in live.all {
        if let v = canaryCheck(i, b) { return v }
      }
    }
    return heapSweep(i)
  }

  /// The whole walk; `betweenOps` (the walks after an op) lets the adapter reuse what is unchanged since
  /// it was last verified, the walks at the end do not.
  func invariants(_ i: Int, betweenOps: Bool = false) -> Violation? {
    guard config.oracle.anyInvariants || config.oracle.invariants == nil else { return nil }
    return adapter.invariantViolation(i, config.oracle, betweenOps: betweenOps)
  }

  /// The invariants of the structures around `address` (its pool and arena; its page and segment), between
  /// two whole walks.
  func localInvariants(_ i: Int, around address: Int) -> Violation? {
    guard config.oracle.anyInvariants || config.oracle.invariants == nil else { return nil }
    return adapter.invariantViolation(i, around: address, config.oracle)
  }

  func statsRules(_ i: Int) -> Violation? {
    guard rules.contains(.statsMatchModel) || rules.contains(.statsConsistent) || rules.contains(.memoryGivenBack),
          let s = adapter.snapshot() else { return nil }
    let g = config.oracle.geometry
    return StatsRules.check(opIndex: i, s, classCounts: live.classCounts(in: g), smallLive: live.smallCount, g, rules: rules)
  }
}
