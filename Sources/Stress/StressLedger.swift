// StressLedger.swift — exact block accounting without a shared lock (checks S2): every block id is
// (lane << 40 | sequence) and each lane allocates sequences 0, 1, 2, … in order; whoever frees a block sets
// its bit in *its own* ledger (one per lane, plus the main thread's). Merging the ledgers at the end finds
// every id freed twice (a bit set in two ledgers, or twice in one — seen at once) and every id never freed
// (lost). Cost: one bit per block per ledger, growing with the run (8 MiB per ledger at 64 M blocks).

/// A block the runner holds: where, which, how big.
public struct HeldBlock: Sendable, Equatable {
  public var address: Int
  public var id: UInt64
  public var size: Int
}

/// One freer's record of the ids it freed.
struct StressLedger: Sendable {
  /// bits[lane][sequence / 64], bit sequence % 64.
  private(set) var bits: [[UInt64]]

  init(lanes: Int) { bits = Array(repeating: [], count: lanes) }

  static func id(lane: Int, sequence: UInt64) -> UInt64 { UInt64(lane) << 40 | sequence }
  static func lane(of id: UInt64) -> Int { Int(id >> 40) }
  static func sequence(of id: UInt64) -> UInt64 { id & (1 << 40 - 1) }

  /// Records that `id` was freed; false if this ledger had already recorded it (a double free).
  mutating func noteFreed(_ id: UInt64) -> Bool {
    let lane = Self.lane(of: id)
    let seq = Int(Self.sequence(of: id))
    let word = seq >> 6
    if bits[lane].count <= word { bits[lane].append(contentsOf: repeatElement(0, count: word + 1 - bits[lane].count)) }
    let mask = UInt64(1) << UInt64(seq & 63)
    defer { bits[lane][word] |= mask }
    return bits[lane][word] & mask == 0
  }

  /// What merging every ledger finds, given how many blocks each lane allocated.
  struct Verdict: Sendable, Equatable {
    var freed = 0
    var lost = 0
    var freedTwice = 0
    /// Freed ids no lane ever allocated (a sequence past the lane's count).
    var unknown = 0
    /// A few example ids of each problem.
    var lostExamples: [UInt64] = []
    var twiceExamples: [UInt64] = []
  }

  static func merge(_ ledgers: [StressLedger], allocated: [UInt64]) -> Verdict {
    var v = Verdict()
    for lane in allocated.indices {
      let words = max((Int(allocated[lane]) + 63) >> 6, ledgers.map { $0.bits[lane].count }.max() ?? 0)
      for w in 0..<words {
        var seen: UInt64 = 0
        for ledger in ledgers where w < ledger.bits[lane].count {
          let b = ledger.bits[lane][w]
          let twice = seen & b
          if twice != 0 {
            v.freedTwice += twice.nonzeroBitCount
            if v.twiceExamples.count < 4 { v.twiceExamples.append(id(lane: lane, sequence: UInt64(w * 64 + twice.trailingZeroBitCount))) }
          }
          seen |= b
        }
        v.freed += seen.nonzeroBitCount
        let base = w * 64
        let allocatedHere = max(0, min(64, Int(allocated[lane]) - base))
        let expected: UInt64 = allocatedHere == 64 ? ~0 : (UInt64(1) << UInt64(allocatedHere)) - 1
        let missing = expected & ~seen
        let extra = seen & ~expected
        v.lost += missing.nonzeroBitCount
        v.unknown += extra.nonzeroBitCount
        if missing != 0 && v.lostExamples.count < 4 {
          v.lostExamples.append(id(lane: lane, sequence: UInt64(base + missing.trailingZeroBitCount)))
        }
      }
    }
    return v
  }
}
