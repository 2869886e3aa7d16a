// Program+LiveList.swift — `Program.LiveList`: the ordered list of unconsumed ids that gives ref fields
// their meaning in the binary format. ``OpDecoder`` maps a ref field `v` to `live[v % live.count]`;
// ``OpEncoder`` maps a ref back to its position. A Fenwick tree over "is id k live" makes both
// directions O(log n), so a long fuzz input that frees from the front never costs O(n²).

extension Program {
  /// Unconsumed ids in definition order, with O(log n) indexing and position lookup.
  ///
  /// Invariant: `count == live.count(where: { $0 })`, and `tree` is the Fenwick tree (1-based) of the
  /// 0/1 array `live`, so `prefix(k)` is the number of live ids below k.
  struct LiveList {
    private var live: [Bool] = []
    private var tree: [Int]
    private(set) var count = 0

    /// `capacity` bounds the number of ids ever appended (trap beyond it).
    init(capacity: Int) {
      tree = Array(repeating: 0, count: max(capacity, 0) + 1)
      live.reserveCapacity(max(capacity, 0))
    }

    var isEmpty: Bool { count == 0 }

    /// Appends the next id (ids are appended in order 0, 1, 2, …) and returns it.
    @discardableResult
    mutating func appendNext() -> Int {
      let id = live.count
      precondition(id + 1 < tree.count, "LiveList capacity \(tree.count - 1) exceeded")
      live.append(true)
      add(1, at: id)
      count += 1
      return id
    }

    func contains(_ id: Int) -> Bool { live.indices.contains(id) && live[id] }

    /// Consumes `id`. Precondition: `contains(id)`.
    mutating func remove(_ id: Int) {
      precondition(contains(id), "p\(id) is not live")
      live[id] = false
      add(-1, at: id)
      count -= 1
    }

    /// The id at 0-based `position` in the list. Precondition: `position < count`.
    func id(at position: Int) -> Int {
      precondition(position >= 0 && position < count, "live-list position \(position) out of 0..<\(count)")
      // Binary lifting: find the largest 1-based prefix with fewer than position+1 live ids.
      var node = 0
      var remaining = position + 1
      var step = 1
      while step * 2 < tree.count { step *= 2 }
      while step > 0 {
        if node + step < tree.count && tree[node + step] < remaining {
          node += step
          remaining -= tree[node]
        }
        step /= 2
      }
      return node  // 1-based node+1 holds the answer, i.e. 0-based id `node`
    }

    /// The 0-based position of live `id` in the list. Precondition: `contains(id)`.
    func position(of id: Int) -> Int {
      precondition(contains(id), "p\(id) is not live")
      return prefix(id)
    }

    /// Number of live ids among 0..<k.
    private func prefix(_ k: Int) -> Int {
      var sum = 0
      var node = k
      while node > 0 {
        sum += tree[node]
        node -= node & -node
      }
      return sum
    }

    private mutating func add(_ delta: Int, at id: Int) {
      var node = id + 1
      while node < tree.count {
        tree[node] += delta
        node += node & -node
      }
    }
  }
}
