// HeapRules.swift — the heaps-family rules H1–H7 (first-class heaps, logical threads, cross-thread
// frees, abandonment). Pure functions over what the executor observed; each says which bug it catches
// in ``RuleID``. The executor decides when each runs (Executor+Heaps.swift).

public enum HeapRules {
  /// H1: `containing` (the live heaps whose contains-block says yes for `b`) is exactly `[b.home]`; for an
  /// orphan (home nil) at most one heap, and not a first-class one.
  public static func membership(opIndex: Int, _ b: ModelBlock, containing: [HeapIdentity]) -> Violation? {
    if let home = b.home {
      guard containing != [home] else { return nil }
      return Violation(opIndex: opIndex, .heapMembership,
        "p\(b.id) at \(hexString(b.address)) belongs to \(home) but is contained by [\(containing.map(\.description).joined(separator: ", "))]")
    }
    let madeOnes = containing.filter { if case .made = $0 { true } else { false } }
    guard containing.count > 1 || !madeOnes.isEmpty else { return nil }
    return Violation(opIndex: opIndex, .heapMembership,
      "p\(b.id) at \(hexString(b.address)) (its thread exited) is contained by [\(containing.map(\.description).joined(separator: ", "))]; "
        + "expected at most one heap and never a heap_new heap, which must not reclaim abandoned segments")
  }

  /// H2: after destroying `heap`, none of `destroyed` is allocated and every block in `survivors` still is.
  /// `allocated(b)` is the allocator's answer (nil when it cannot tell: unmapped counts as freed).
  public static func destroyFreesAll(opIndex: Int, heap: HeapIdentity, destroyed: [ModelBlock], survivors: [ModelBlock],
                                     allocated: (ModelBlock) -> Bool?) -> Violation? {
    if let b = destroyed.first(where: { allocated($0) == true }) {
      return Violation(opIndex: opIndex, .destroyFreesAll,
        "p\(b.id) at \(hexString(b.address)) of \(heap) is still allocated after heap_destroy(\(heap)) (\(destroyed.count) blocks destroyed)")
    }
    if let b = survivors.first(where: { allocated($0) == false }) {
      return Violation(opIndex: opIndex, .destroyFreesAll,
        "heap_destroy(\(heap)) freed p\(b.id) at \(hexString(b.address)), which belongs to \(b.home.map(\.description) ?? "an exited thread")")
    }
    return nil
  }

  /// H3: after heap_delete, every moved block is contained by the backing heap `backing`.
  public static func deleteMovesToBacking(opIndex: Int, deleted: HeapIdentity, backing: HeapIdentity, moved: [ModelBlock],
                                          containedByBacking: (ModelBlock) -> Bool) -> Violation? {
    guard let b = moved.first(where: { !containedByBacking($0) }) else { return nil }
    return Violation(opIndex: opIndex, .deleteMovesToBacking,
      "after heap_delete(\(deleted)) p\(b.id) at \(hexString(b.address)) is not in the backing heap \(backing)")
  }

  /// H4: the visit of `heap` reported `reported` (block start, block size); `expected` are the model's live
  /// blocks in that heap with their usable sizes. Each expected block must lie in exactly one reported
  /// block that ends where its usable bytes end (aligned pointers sit inside their block), and nothing
  /// else may be reported.
  public static func visitExact(opIndex: Int, heap: HeapIdentity, expected: [(block: ModelBlock, usable: Int)],
                                reported: [(start: Int, size: Int)]) -> Violation? {
    let sorted = reported.sorted { $0.start < $1.start }
    var matched = Array(repeating: false, count: sorted.count)
    for (b, usable) in expected {
      var lo = 0, hi = sorted.count
      while lo < hi {
        let mid = (lo + hi) / 2
        if sorted[mid].start <= b.address { lo = mid + 1 } else { hi = mid }
      }
      let i = lo - 1
      guard i >= 0, sorted[i].start + sorted[i].size > b.address, !matched[i] else {
        return Violation(opIndex: opIndex, .visitExact,
          "heap_visit(\(heap)) did not report live p\(b.id) at \(hexString(b.address)) (\(reported.count) blocks reported, \(expected.count) live)")
      }
      guard sorted[i].start + sorted[i].size == b.address + usable else {
        return Violation(opIndex: opIndex, .visitExact,
          "heap_visit(\(heap)) reported p\(b.id)'s block [\(hexString(sorted[i].start)), +\(sorted[i].size)) but its usable size is \(usable)")
      }
      matched[i] = true
    }
    if let extra = matched.firstIndex(of: false) {
      return Violation(opIndex: opIndex, .visitExact,
        "heap_visit(\(heap)) reported \(hexString(sorted[extra].start)) (+\(sorted[extra].size)), which no live block of the heap occupies")
    }
    return nil
  }

  /// H5: `used` blocks in use in `heap`, `live` of them held by the program. Never fewer used than live;
  /// equal right after the owner collected with force.
  public static func remoteFreesReclaimed(opIndex: Int, heap: HeapIdentity, used: Int, live: Int, afterForcedCollect: Bool) -> Violation? {
    if used < live {
      return Violation(opIndex: opIndex, .remoteFreesReclaimed, "\(heap) counts \(used) blocks in use but the program holds \(live) of its blocks")
    }
    if afterForcedCollect && used != live {
      return Violation(opIndex: opIndex, .remoteFreesReclaimed,
        "after a forced collect \(heap) still counts \(used) blocks in use; the program holds \(live) (\(used - live) frees never reclaimed)")
    }
    return nil
  }

  /// H6: `inUse` blocks in use over all pages (abandoned ones too) against `live` held by the program;
  /// `settled` once everything was freed and every thread collected.
  public static func noBlockLost(opIndex: Int, inUse: Int, live: Int, settled: Bool) -> Violation? {
    if inUse < live {
      return Violation(opIndex: opIndex, .noBlockLost, "\(inUse) blocks in use over all pages, but the program holds \(live)")
    }
    if settled && inUse != live {
      return Violation(opIndex: opIndex, .noBlockLost,
        "\(inUse - live) blocks still counted in use after every block was freed and every thread collected (lost frees)")
    }
    return nil
  }

  /// H7: after everything was freed, every thread quiescent and collected: no segment and no mapped byte.
  public static func footprintBounded(opIndex: Int, segments: Int, mappedBytes: Int) -> Violation? {
    guard segments != 0 || mappedBytes != 0 else { return nil }
    return Violation(opIndex: opIndex, .footprintBounded,
      "\(segments) segments (\(mappedBytes) bytes) still mapped after every block was freed and every thread collected")
  }
}
