// HostModel.swift — the live-block model of ``CallOracle``, built for a long-running caller: an interpreter
// makes millions of calls with a few hundred thousand blocks live, so no query may cost O(live) (the fuzz
// model, ``LiveBlocks``, keeps a sorted array whose insert moves O(live) entries: fine for 4,096-op programs,
// not for a Python run). Blocks are found by start address in a dictionary. Overlap (O2) is answered by two
// indexes: pool blocks (at most 512 bytes) mark every granule (16 bytes; 8 for mimalloc's 8-byte blocks) they
// cover in a flat table per MiB region (no hashing per granule; the last region used is cached), so a new
// block asks its own granules; raw blocks, few and possibly huge, sit in an address-sorted array searched in
// O(log n). A raw block is compared with pool blocks only in the MiB regions that hold one.

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

/// One MiB of address space: for each granule, the start of the small block covering it, as a granule offset
/// from the region's base (negative when the block starts in the region below), or ``none``.
final class GranuleRegion {
  static let none = Int32.min
  var cover: [Int32]
  /// Live small blocks touching the region.
  var blocks = 0
  init(granules: Int) { cover = Array(repeating: Self.none, count: granules) }
}

struct HostModel {
  private(set) var byAddress: [Int: HostBlock] = [:]
  /// MiB region number → its granule table.
  private var regions: [Int: GranuleRegion] = [:]
  private var lastRegion = Int.min
  private var lastTable: GranuleRegion? = nil
  /// Raw blocks as (start, end), sorted by start.
  private var raw: [(start: Int, end: Int)] = []
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

  private var granulesPerRegion: Int { 1 << (20 - granuleShift) }

  /// The table of MiB region `r` (made when `create`).
  private mutating func table(_ r: Int, create: Bool) -> GranuleRegion? {
    if r == lastRegion, let t = lastTable { return t }
    var t = regions[r]
    if t == nil && create {
      t = GranuleRegion(granules: granulesPerRegion)
      regions[r] = t
    }
    if let t {
      lastRegion = r
      lastTable = t
    }
    return t
  }

  private func peek(_ r: Int) -> GranuleRegion? { r == lastRegion ? lastTable : regions[r] }

  /// Start of the small block covering granule `g` (absolute granule index), if any.
  private func coverStart(_ g: Int) -> Int? {
    let r = g >> (20 - granuleShift)
    guard let t = peek(r) else { return nil }
    let v = t.cover[g & (granulesPerRegion - 1)]
    guard v != GranuleRegion.none else { return nil }
    return ((r << (20 - granuleShift)) + Int(v)) << granuleShift
  }

  /// A live block intersecting [address, address + max(length, 1)), if any.
  func overlapping(address: Int, length: UInt64, small: Bool) -> HostBlock? {
    let end = address + max(Int(min(length, 1 << 47)), 1)
    if let r = rawOverlapping(address, end) { return byAddress[r] }
    if small || end - address <= 4096 {
      for g in (address >> granuleShift)...((end - 1) >> granuleShift) {
        if let s = coverStart(g) { return byAddress[s] }
      }
      return nil
    }
    // A big block: only regions holding a small block can hide one.
    for region in (address >> 20)...((end - 1) >> 20) where (peek(region)?.blocks ?? 0) > 0 {
      let lo = max(address, region << 20), hi = min(end, (region + 1) << 20)
      for g in (lo >> granuleShift)...((hi - 1) >> granuleShift) {
        if let s = coverStart(g) { return byAddress[s] }
      }
    }
    return nil
  }

  /// Marks (or clears) the granules of small block `b`; counts it in each region it touches.
  private mutating func mark(_ b: HostBlock, on: Bool) {
    let first = b.address >> granuleShift, last = (b.end - 1) >> granuleShift
    let perRegion = 20 - granuleShift
    var g = first
    while g <= last {
      let r = g >> perRegion
      guard let t = table(r, create: on) else { g = (r + 1) << perRegion; continue }
      let base = r << perRegion
      let stop = min(last, base + granulesPerRegion - 1)
      let mine = Int32(first - base)
      for k in g...stop {
        if on { t.cover[k - base] = mine } else if t.cover[k - base] == mine { t.cover[k - base] = GranuleRegion.none }
      }
      t.blocks += on ? 1 : -1
      g = stop + 1
    }
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
      mark(b, on: true)
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
      mark(b, on: false)
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
