// LiveAddresses.swift — the blocks an adapter handed out and has not seen freed, in allocation order, for
// adapters whose allocator outlives a run (the real peers, the persistent reference): `reset()` frees what
// a run left behind, oldest first, so both sides of a differential free in the same order.

struct LiveAddresses {
  /// address → allocation number. Invariant: an address is here iff it was returned and not yet freed.
  private var order: [Int: Int] = [:]
  private var serial = 0

  /// Records a non-NULL result; returns it unchanged.
  mutating func record(_ a: Int?) -> Int? {
    if let a {
      serial += 1
      order[a] = serial
    }
    return a
  }

  mutating func forget(_ a: Int?) { if let a { order[a] = nil } }

  /// A successful realloc: the old block is gone, the new one is live.
  mutating func moved(from old: Int?, to new: Int) -> Int {
    forget(old)
    return record(new)!
  }

  /// Every recorded block, oldest first; the set is empty afterwards.
  mutating func drain() -> [Int] {
    defer { order = [:] }
    return order.sorted { $0.value < $1.value }.map(\.key)
  }
}
