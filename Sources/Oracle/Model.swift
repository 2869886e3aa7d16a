// Model.swift — the oracle's deliberately simple model: the set of live blocks, each with the program
// name that holds it, its address range, requested size, canary seed and whether the pools serve it.
// An address-sorted index answers overlap and neighbour questions in O(log n).

/// A heap the heaps family can name: one of a logical thread's four CPython heaps (tag 0 mem … 3 gc_pre),
/// or the first-class heap `h<id>`.
public enum HeapIdentity: Hashable, Sendable, CustomStringConvertible {
  case tagged(thread: Int, tag: Int)
  case made(Int)

  public var description: String {
    switch self {
    case .tagged(let t, let tag): "t\(t).\(["mem", "object", "gc", "gc_pre"][tag])"
    case .made(let id): "h\(id)"
    }
  }
}

/// One block the program holds.
public struct ModelBlock: Sendable, Equatable, Hashable {
  /// The program name (p<id>) that currently holds the block.
  public var id: Int
  public var address: Int
  public var requested: UInt64
  public var canarySeed: UInt64
  /// Served from a pymalloc pool (true) or by the raw allocator (false).
  public var small: Bool
  /// The request that chose the block's size class: its first request, kept by in-place reallocs.
  public var classRequest: UInt64
  /// Heaps family: the heap that holds the block; nil once its thread exited (an orphan) — and always
  /// nil in the pymalloc family.
  public var home: HeapIdentity? = nil
  /// Made by an aligned allocation, or a realloc of such a block: its usable size (and so whether a realloc
  /// stays in place, in its heap) depends on where the page's blocks start, which differs between mimalloc
  /// versions (MimallocVersions.md V6; the differential stops comparing at a realloc of such a block).
  public var aligned = false

  public init(id: Int, address: Int, requested: UInt64, canarySeed: UInt64, small: Bool, classRequest: UInt64? = nil) {
    self.id = id
    self.address = address
    self.requested = requested
    self.canarySeed = canarySeed
    self.small = small
    self.classRequest = classRequest ?? requested
  }
  /// Bytes the harness fills with canary and checks: the request, capped at ``canaryCap``.
  public var length: Int { Int(min(requested, UInt64(canaryCap))) }
  /// End of the range the block claims (at least one byte, for the overlap rule).
  public var end: Int { address + max(Int(min(requested, 1 << 47)), 1) }
  /// Canary coverage limit, so multi-megabyte raw blocks stay cheap to check.
  public static let canaryCap = 1 << 16
  public var canaryCap: Int { Self.canaryCap }
}

/// Live blocks by id, plus an address-sorted index, and per size class the small blocks the program holds.
///
/// Storage is flat, for the per-op cost: the blocks sit densely in one array (a removal moves the last one
/// into the hole), an id maps to its slot through an array indexed by id (ids are handed out in order, so it
/// stays as long as the program), and no Dictionary hashes anything per op.
public struct LiveBlocks: Sendable {
  /// The live blocks, in no particular order.
  public private(set) var blocks: [ModelBlock] = []
  /// Slot in `blocks` of each id, −1 when the id is not live.
  private var slotOfID: [Int32] = []
  /// (address, id), sorted by address.
  private var sorted: [(address: Int, id: Int)] = []
  /// Geometry whose size classes ``classCounts`` counts by (set by ``countClasses(_:)``), or nil.
  private var geometry: SmallObjectGeometry? = nil
  /// Per size class: the small blocks whose class request falls in it (statistics rule O9 reads this
  /// instead of walking every block). Empty unless ``countClasses(_:)`` was called.
  public private(set) var classCounts: [Int] = []

  public init() {}

  /// Keeps ``classCounts`` by `geometry`'s size classes from now on (call before the first insert).
  public mutating func countClasses(_ geometry: SmallObjectGeometry) {
    precondition(blocks.isEmpty, "LiveBlocks.countClasses: call it before the first insert")
    self.geometry = geometry
    classCounts = Array(repeating: 0, count: geometry.classCount)
  }

  /// Live pool blocks per size class of `g` (by class request): the kept ``classCounts`` when they are
  /// by `g`'s classes, else counted now.
  public func classCounts(in g: SmallObjectGeometry) -> [Int] {
    if classCounts.count == g.classCount { return classCounts }
    var counts = Array(repeating: 0, count: g.classCount)
    for b in blocks where b.small && g.isSmall(b.classRequest) { counts[g.sizeClass(b.classRequest)] += 1 }
    return counts
  }

  public var count: Int { blocks.count }
  public var isEmpty: Bool { blocks.isEmpty }
  public subscript(id: Int) -> ModelBlock? {
    guard id >= 0, id < slotOfID.count, slotOfID[id] >= 0 else { return nil }
    return blocks[Int(slotOfID[id])]
  }
  /// Every live block, by address.
  public var all: [ModelBlock] { sorted.map { blocks[Int(slotOfID[$0.id])] } }
  /// Live blocks served from pools (kept as blocks come and go).
  public private(set) var smallCount = 0

  private func lowerBound(_ address: Int) -> Int {
    var lo = 0, hi = sorted.count
    while lo < hi {
      let mid = (lo + hi) / 2
      if sorted[mid].address < address { lo = mid + 1 } else { hi = mid }
    }
    return lo
  }

  /// A live block whose range intersects [address, address + max(length, 1)), if any.
  public func overlapping(address: Int, length: Int) -> ModelBlock? {
    let end = address + max(min(length, 1 << 47), 1)
    let i = lowerBound(address)
    if i < sorted.count, sorted[i].address < end { return self[sorted[i].id] }
    if i > 0, let prev = self[sorted[i - 1].id], prev.end > address { return prev }
    return nil
  }

  /// The live blocks just below and just above `address` (skipping blocks at exactly that address).
  public func neighbourPair(of address: Int) -> (below: ModelBlock?, above: ModelBlock?) {
    let i = lowerBound(address)
    let below = i > 0 ? self[sorted[i - 1].id] : nil
    var j = i
    while j < sorted.count && sorted[j].address == address { j += 1 }
    return (below, j < sorted.count ? self[sorted[j].id] : nil)
  }

  public mutating func insert(_ b: ModelBlock) {
    precondition(self[b.id] == nil, "model: p\(b.id) defined twice")
    if b.id >= slotOfID.count { slotOfID.append(contentsOf: repeatElement(-1, count: b.id + 1 - slotOfID.count)) }
    slotOfID[b.id] = Int32(blocks.count)
    blocks.append(b)
    sorted.insert((b.address, b.id), at: lowerBound(b.address))
    if b.small { smallCount += 1 }
    countClass(of: b, by: 1)
  }

  @discardableResult
  public mutating func remove(id: Int) -> ModelBlock? {
    guard let b = self[id] else { return nil }
    let slot = Int(slotOfID[id])
    let last = blocks.count - 1
    if slot != last {
      blocks[slot] = blocks[last]
      slotOfID[blocks[slot].id] = Int32(slot)
    }
    blocks.removeLast()
    slotOfID[id] = -1
    var i = lowerBound(b.address)
    while i < sorted.count && sorted[i].id != id { i += 1 }
    if i < sorted.count { sorted.remove(at: i) }
    if b.small { smallCount -= 1 }
    countClass(of: b, by: -1)
    return b
  }

  private mutating func countClass(of b: ModelBlock, by delta: Int) {
    guard let g = geometry, b.small, g.isSmall(b.classRequest) else { return }
    classCounts[g.sizeClass(b.classRequest)] += delta
  }

  /// Sets the heap that holds live block `id` (heap_delete, thread exit).
  public mutating func setHome(id: Int, _ home: HeapIdentity?) {
    guard id >= 0, id < slotOfID.count, slotOfID[id] >= 0 else { return }
    blocks[Int(slotOfID[id])].home = home
  }

  /// Gives a live block a new program name (a failed realloc: the new name holds the old block).
  public mutating func rename(id: Int, to newID: Int) {
    guard var b = remove(id: id) else { return }
    b.id = newID
    insert(b)
  }
}
