// Linearizability.swift — is a history of concurrent whole ops linearizable against the sequential heap
// model (issue 14)? Wing & Gong's search (J. Parallel Distrib. Comput. 1993): pick, among the ops not yet
// placed, one that no other unplaced op precedes in real time, apply it to the model, go on; backtrack when
// the model refuses. With Lowe's memoization (Lowe, "Testing for linearizability", CCPE 2017): a
// (placed set, model state) pair seen once is never searched again — two orders that placed the same ops
// and left the same live blocks have the same future — which keeps histories of a few dozen ops fast.
// Entry point: ``Linearizability/check(_:)``; at most 64 ops per history (the placed set is one word).

public struct LinearizabilityVerdict: Sendable {
  /// A legal order of all ops (indices into the history), or nil when there is none.
  public var order: [Int]?
  /// When there is none: the longest prefix of a legal order the search reached …
  public var longestPrefix: [Int] = []
  /// … and, after it, each op that could have come next with the model's reason for refusing it.
  public var refusals: [(op: Int, why: String)] = []
  /// (placed set, model) pairs searched: the work done.
  public var statesVisited = 0

  public var isLinearizable: Bool { order != nil }
}

public enum Linearizability {
  public static let maxOps = 64

  public static func check(_ history: [HistoryOp], from start: SequentialHeapModel = SequentialHeapModel()) -> LinearizabilityVerdict {
    precondition(history.count <= maxOps, "Linearizability.check: \(history.count) ops, at most \(maxOps)")
    var search = Search(history: history)
    var order: [Int] = []
    if search.run(placed: 0, model: start, order: &order) {
      var v = LinearizabilityVerdict(order: order)
      v.statesVisited = search.seen.count
      return v
    }
    var v = LinearizabilityVerdict(order: nil)
    v.longestPrefix = search.longest
    v.refusals = search.refusalsAtLongest
    v.statesVisited = search.seen.count
    return v
  }

  private struct Key: Hashable {
    var placed: UInt64
    var model: SequentialHeapModel
  }

  private struct Search {
    let history: [HistoryOp]
    let all: UInt64
    /// Op indices by invocation: the candidates for the next place are a prefix of the unplaced ones.
    let byInvocation: [Int]
    var seen = Set<Key>()
    var longest: [Int] = []
    var refusalsAtLongest: [(op: Int, why: String)] = []

    init(history: [HistoryOp]) {
      self.history = history
      all = history.count == 64 ? ~0 : (1 << UInt64(history.count)) - 1
      byInvocation = history.indices.sorted { history[$0].invoked < history[$1].invoked }
    }

    mutating func run(placed: UInt64, model: SequentialHeapModel, order: inout [Int]) -> Bool {
      if placed == all { return true }
      // The earliest response among unplaced ops: an op invoked after it must wait for that op.
      var firstReturn = Int.max
      for i in history.indices where placed & (1 << UInt64(i)) == 0 { firstReturn = min(firstReturn, history[i].returned) }
      var refusals: [(op: Int, why: String)] = []
      for i in byInvocation where placed & (1 << UInt64(i)) == 0 {
        if history[i].invoked > firstReturn { break }
        var next = model
        if let why = next.apply(history[i]) {
          refusals.append((i, why))
          continue
        }
        let key = Key(placed: placed | (1 << UInt64(i)), model: next)
        guard seen.insert(key).inserted else { continue }
        order.append(i)
        if run(placed: key.placed, model: next, order: &order) { return true }
        order.removeLast()
      }
      if order.count > longest.count || (longest.isEmpty && refusalsAtLongest.isEmpty) {
        longest = order
        refusalsAtLongest = refusals
      }
      return false
    }
  }
}
