// HostModel.swift — the live-block model of ``CallOracle``, built for a long-running caller: an interpreter
// makes millions of calls with a few hundred thousand blocks live, so no query may cost O(live) (the fuzz
// model, ``LiveBlocks``, keeps a sorted array whose insert moves O(live) entries: fine for 4,096-op programs,
// not for a Python run). Blocks are found by start address in a dictionary. Overlap (O2) is answered by two
// indexes: pool blocks (at most 512 bytes) mark every granule (16 bytes; 8 for mimalloc's 8-byte blocks) they
// cover, so a new block asks its own granules; raw blocks, few and possibly huge, sit in an address-sorted
// array searched in O(log n). A raw block is compared with pool blocks only in the MiB regions that hold one.

import Oracle

/// One block the caller holds, as ``CallOracle`` knows it.
public struct HostBlock: Sendable, Equatable {
  /// The k-th allocation of the run (counting from 0) that made it: `p<k>` in a recorded program.
  public var id: Int
  public var address: Int
  public var requested: UInt64
  /// Served from the small-object allocator's own memory (pymalloc: a pool; mimalloc: a segment).
  public var small: Bool
  /// The request that chose the block's size class (kept by an in-place realloc), for statistics rule O9.
  public var classRequest: UInt64
  /// The first-class heap that made it (mimalloc heap ABI), or 0 for the default heap.
  public var heap: Int = 0

  /// End of the range the block claims (at least one byte).
  public var end: Int { address + max(Int(min(requested, 1 << 47)), 1) }
}

struct HostModel {
  private(set) var byAddress: [Int: HostBlock] = [:]
  /// Granule index → start of the small block covering it.
  private var covered: [Int: Int] = [:]
  /// Raw blocks as (start, end), sorted by start.
  private var raw: [(start: Int, end: Int)] = []
  /// MiB region → live small blocks touching it.
  private var smallRegions: [Int: Int] = [:]
  let granuleShift: Int
  let geometry: SmallObjectGeometry
  /// Live small blocks per size class of ``geometry`` (by class request).
  private(set) var classCounts: [Int]
  private(set) var smallCount = 0

  init(geometry: SmallObjectGeometry, granuleShift: Int) {
    self.geometry = geometry
    self.granuleShift = granuleShift
    classCounts = Array(repeating: 0, count: geometry.classCount)
  }

  var count: Int { byAddress.count }
  subscript(address: Int) -> HostBlock? { byAddress[address] }

  /// A live block intersecting [address, address + max(length, 1)), if any.
  func overlapping(address: Int, length: UInt64, small: Bool) -> HostBlock? {
    let end = address + max(Int(min(length, 1 << 47)), 1)
    if let r = rawOverlapping(address, end) { return byAddress[r] }
    if small || end - address <= 4096 {
      for g in (address >> granuleShift)...((end - 1) >> granuleShift) {
        if let s = covered[g] { return byAddress[s] }
      }
      return nil
    }
    // A big block: only regions holding a small block can hide one.
    for region in (address >> 20)...((end - 1) >> 20) where smallRegions[region, default: 0] > 0 {
      let lo = max(address, region << 20), hi = min(end, (region + 1) << 20)
      for g in (lo >> granuleShift)...((hi - 1) >> granuleShift) {
        if let s = covered[g] { return byAddress[s] }
      }
    }
    return nil
  }

  private func rawLowerBound(_ address: Int) -> Int {
    var lo = 0, hi = raw.count
    while lo < hi {
      let mid = (lo + hi) / 2
      if raw[mid].start < address { lo = mid + 1 } else { hi = mid }
    }
    return lo
  }

  /// Start of a raw block intersecting [start, end).
  private func rawOverlapping(_ start: Int, _ end: Int) -> Int? {
    let i = rawLowerBound(start)
    if i < raw.count, raw[i].start < end { return raw[i].start }
    if i > 0, raw[i - 1].end > start { return raw[i - 1].start }
    return nil
  }

  mutating func insert(_ b: HostBlock) {
    byAddress[b.address] = b
    if b.small {
      for g in (b.address >> granuleShift)...((b.end - 1) >> granuleShift) { covered[g] = b.address }
      for region in (b.address >> 20)...((b.end - 1) >> 20) { smallRegions[region, default: 0] += 1 }
      smallCount += 1
      if geometry.isSmall(b.classRequest) { classCounts[geometry.sizeClass(b.classRequest)] += 1 }
    } else {
      raw.insert((b.address, b.end), at: rawLowerBound(b.address))
    }
  }

  @discardableResult
  mutating func remove(address: Int) -> HostBlock? {
    guard let b = byAddress.removeValue(forKey: address) else { return nil }
    if b.small {
      for g in (b.address >> granuleShift)...((b.end - 1) >> granuleShift) where covered[g] == b.address {
        covered.removeValue(forKey: g)
      }
      for region in (b.address >> 20)...((b.end - 1) >> 20) {
        let n = smallRegions[region, default: 0] - 1
        if n > 0 { smallRegions[region] = n } else { smallRegions.removeValue(forKey: region) }
      }
      smallCount -= 1
      if geometry.isSmall(b.classRequest) { classCounts[geometry.sizeClass(b.classRequest)] -= 1 }
    } else {
      var i = rawLowerBound(b.address)
      while i < raw.count && raw[i].start == b.address && raw[i].end != b.end { i += 1 }
      if i < raw.count && raw[i].start == b.address { raw.remove(at: i) }
    }
    return b
  }

  /// Every live block (unordered).
  var all: Dictionary<Int, HostBlock>.Values { byAddress.values }
}
