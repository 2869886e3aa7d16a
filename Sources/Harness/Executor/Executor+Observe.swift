// Executor+Observe.swift — what a run records for the differential (``ExecutorConfig/observe``): each
// result's outcome (X1), a pool block's placement (X2) or a heap block's usable size (X5), and after every
// op the arenas (X3) and the statistics text (X4) where the allocator has them. Values are written so that
// the reference and a real allocator print the same text when they behave alike: no absolute addresses.

import Oracle

/// One fact of one op, compared with the peer's fact at the same position (``Differential``).
public struct Observation: Sendable, Equatable {
  public var opIndex: Int
  /// The differential rule that compares it.
  public var rule: RuleID
  public var value: String
  public init(opIndex: Int, rule: RuleID, value: String) {
    self.opIndex = opIndex
    self.rule = rule
    self.value = value
  }
}

extension Executor {
  /// `moved`: for a realloc of a block, whether the result is at another address.
  /// `aligned`: the block came from an aligned allocation (its usable size is not compared, V6).
  mutating func observeResult(_ i: Int, _ address: Int?, moved: Bool?, aligned: Bool = false) {
    guard !observationsStopped else { return }
    guard let a = address else {
      observations.append(Observation(opIndex: i, rule: .sameOutcome, value: "NULL"))
      return
    }
    let how = moved.map { $0 ? ", moved" : ", in place" } ?? ""
    if heaps != nil {
      observations.append(Observation(opIndex: i, rule: .sameOutcome, value: "block" + how))
      if !aligned { observations.append(Observation(opIndex: i, rule: .sameUsableSize, value: "usable \(adapter.usableSize(a))")) }
      return
    }
    let small = adapter.ownsSmall(a)
    // Whether C's realloc moved a raw block depends on the C heap's neighbours, not on pymalloc: not compared.
    observations.append(Observation(opIndex: i, rule: .sameOutcome, value: small ? "pool block" + how : "raw block"))
    if small, let p = (adapter as? PlacementReporting)?.placement(of: a) {
      observations.append(Observation(opIndex: i, rule: .samePlacement, value: "\(p), usable \(adapter.usableSize(a))"))
    }
  }

  /// A heap_visit of `heap`: the program blocks it reported that the model files under that heap (orphans
  /// are left out: which heap a dead thread's blocks land in differs between versions, V7).
  mutating func observeVisit(_ i: Int, heap: HeapIdentity, reported: [(start: Int, size: Int)]) {
    guard !observationsStopped else { return }
    let ranges = reported.sorted { $0.start < $1.start }
    let ids = live.all.filter { b in
      b.home == heap && ranges.contains { b.address >= $0.start && b.address < $0.start + max($0.size, 1) }
    }.map(\.id).sorted()
    observations.append(Observation(opIndex: i, rule: .sameHeapWalk, value: "\(heap): [" + ids.map { "p\($0)" }.joined(separator: ", ") + "]"))
  }

  /// Ends the comparison at op `i` with one last observation saying why (both sides record it at the same op
  /// while they agree). Heaps: whether a realloc keeps an aligned block in place, and so in its heap, depends
  /// on a usable size that differs between mimalloc versions, and every later fact may follow from that.
  mutating func stopObserving(_ i: Int, because reason: String) {
    guard !observationsStopped else { return }
    observations.append(Observation(opIndex: i, rule: .sameOutcome, value: "not compared from here on: \(reason)"))
    observationsStopped = true
  }

  /// After op `i`: every arena's pools (X3) and the statistics text (X4), when the allocator keeps them.
  mutating func observeState(_ i: Int) {
    guard heaps == nil, let s = adapter.snapshot() else { return }
    let arenas = s.arenas.map { "\($0.usedPools)/\($0.freePools)/\($0.totalPools)" }.joined(separator: " ")
    observations.append(Observation(opIndex: i, rule: .sameArenas, value: "\(s.arenasCurrent) arenas (used/free/total pools): \(arenas)"))
    if let text = adapter.statsText() {
      observations.append(Observation(opIndex: i, rule: .sameStatistics, value: text))
    }
  }
}
