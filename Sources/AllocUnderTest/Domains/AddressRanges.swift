// AddressRanges.swift — a sorted set of disjoint address ranges with "which range contains this address?"
// in O(log n) (insert and remove are O(n) moves, fine for the live-block counts of tests and fuzzing).
// Used by ``MallocBacking`` to vouch for memory it handed out, so the debug hooks can read a header that
// belongs to another domain's block (test_api_misuse) without ever reading unknown memory.
// Invariant: `ranges` is sorted by lower bound and no two ranges overlap (asserted on insert).

struct AddressRanges {
  private(set) var ranges: [Range<Int>] = []

  /// Index of the first range whose lower bound is > `address`.
  private func upperIndex(_ address: Int) -> Int {
    var lo = 0, hi = ranges.count
    while lo < hi {
      let mid = (lo + hi) / 2
      if ranges[mid].lowerBound <= address { lo = mid + 1 } else { hi = mid }
    }
    return lo
  }

  /// The range containing `address`, if any.
  func containing(_ address: Int) -> Range<Int>? {
    let i = upperIndex(address)
    guard i > 0, ranges[i - 1].contains(address) else { return nil }
    return ranges[i - 1]
  }

  mutating func insert(_ range: Range<Int>) {
    let i = upperIndex(range.lowerBound)
    require((i == 0 || ranges[i - 1].upperBound <= range.lowerBound)
      && (i == ranges.count || range.upperBound <= ranges[i].lowerBound),
      "AddressRanges: \(range) overlaps a range already present")
    ranges.insert(range, at: i)
  }

  /// Removes the range that starts at `lowerBound`; returns it.
  @discardableResult
  mutating func remove(startingAt lowerBound: Int) -> Range<Int>? {
    let i = upperIndex(lowerBound)
    guard i > 0, ranges[i - 1].lowerBound == lowerBound else { return nil }
    return ranges.remove(at: i - 1)
  }

  var count: Int { ranges.count }
}
