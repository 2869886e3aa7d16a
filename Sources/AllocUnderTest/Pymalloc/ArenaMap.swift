// ArenaMap.swift — the ownership test `address_in_range` as CPython 3.10+ does it: a three-level radix
// tree over all 64 address bits (bpo-37448; top mask fixed by bpo-45521, all bits since bpo-45526).
// Owns marking/unmarking arenas and answering "is p inside a live arena?" without dereferencing p.
// Guarded by PM6 in ``Pymalloc/checkInvariants()``.
//
// Levels (64-bit): top 15 bits (shift 49, root in the instance), mid 15 bits (shift 34), bottom 14 bits
// (shift 20). A bottom entry covers one arena-sized, arena-aligned window with two Int32s. An arena at
// base b with tail = b mod ARENA_SIZE sets window(b).tailHi = tail (−1 when tail == 0) and, if tail != 0,
// window(b + ARENA_SIZE).tailLo = tail. Then p is owned iff, with t = p mod ARENA_SIZE in p's window,
// t < tailLo or (tailHi != 0 and t >= tailHi). Mid and bottom nodes come from the raw allocator (calloc),
// as PyMem_RawCalloc in obmalloc.c, and are never freed while the instance lives; a reset keeps the clean
// ones as spares for the next state.
// A class with its root in memory it allocates itself, held by a `let`: `contains`, called on every free
// and realloc, then reads three levels of C arrays with no exclusivity check and no buffer retain (issue 12).

#if canImport(Glibc)
import Glibc
#endif

struct ArenaCoverage: Equatable { var tailHi: Int32; var tailLo: Int32 }

final class ArenaMap {
  static let interiorBits = 15
  static let bottomBits = 14
  static let nodeEntries = 1 << interiorBits  // 32,768 pointers per root/mid node
  static let bottomEntries = 1 << bottomBits  // 16,384 coverages per bottom node
  /// sizeof(arena_map_root) / sizeof(arena_map_mid_t) / sizeof(arena_map_bot_t) on 64-bit.
  static let rootBytes = nodeEntries * 8
  static let midBytes = nodeEntries * 8
  static let bottomBytes = bottomEntries * 8

  /// The root node: `nodeEntries` mid-node pointers (nil: no mid node yet).
  private let root: UnsafeMutablePointer<UnsafeMutableRawPointer?>
  private var rootUsed: [Int] = []
  private(set) var midNodes: [UnsafeMutableRawPointer] = []
  private(set) var bottomNodes: [UnsafeMutableRawPointer] = []
  /// The (top, mid) indices of each of ``bottomNodes``, so PM6 walks only the bottom nodes that exist
  /// instead of every mid slot (32,768 per root entry, after every op when the fuzzer runs).
  private var bottomKeys: [(top: Int, mid: Int)] = []

  /// Bottom entries that are not all zero, kept by the one function that writes entries (``store(_:_:)``):
  /// PM6 compares it with what the live arenas imply, and looks each of those up, in O(arenas) where a scan
  /// of every bottom node reads 128 KiB per node (once per op in a fuzz run).
  private(set) var nonZeroCount = 0

  /// Nodes a reset left all zero, kept for the next instance state (``removeAll(raw:keepSpares:)``): a fresh
  /// state per fuzz input then does not calloc and fault in 384 KiB of nodes again. Taking one still counts
  /// as a raw calloc for the fault plan.
  private var spareMid: [UnsafeMutableRawPointer] = []
  private var spareBottom: [UnsafeMutableRawPointer] = []

  /// The root comes from `calloc`: 256 KiB that glibc maps already zero (nil), so a fresh instance — one per
  /// fuzz input in the domains family — touches only the pages of the entries it uses.
  init() {
    root = Glibc.calloc(Self.nodeEntries, MemoryLayout<UnsafeMutableRawPointer?>.stride)!
      .bindMemory(to: UnsafeMutableRawPointer?.self, capacity: Self.nodeEntries)
  }

  /// Only the root; the owner frees the nodes first with ``removeAll(raw:)``.
  deinit { Glibc.free(root) }

  private static func topIndex(_ a: UInt) -> Int { Int((a >> 49) & 0x7fff) }
  private static func midIndex(_ a: UInt) -> Int { Int((a >> 34) & 0x7fff) }
  private static func bottomIndex(_ a: UInt) -> Int { Int((a >> 20) & 0x3fff) }

  /// The bottom entry for address `a`, creating nodes when `create`; nil when absent or out of memory.
  private func entry(_ a: UInt, create: Bool, raw: RawAllocator) -> UnsafeMutablePointer<ArenaCoverage>? {
    let t = Self.topIndex(a)
    if root[t] == nil {
      guard create, let n = node(from: &spareMid, count: Self.nodeEntries, raw: raw) else { return nil }
      root[t] = n
      rootUsed.append(t)
      midNodes.append(n)
    }
    let mid = root[t]!.assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
    let m = Self.midIndex(a)
    if mid[m] == nil {
      guard create, let n = node(from: &spareBottom, count: Self.bottomEntries, raw: raw) else { return nil }
      mid[m] = n
      bottomNodes.append(n)
      bottomKeys.append((t, m))
    }
    return mid[m]!.assumingMemoryBound(to: ArenaCoverage.self) + Self.bottomIndex(a)
  }

  /// Writes one bottom entry, keeping ``nonZeroCount``.
  private func store(_ e: UnsafeMutablePointer<ArenaCoverage>, _ value: ArenaCoverage) {
    let zero = ArenaCoverage(tailHi: 0, tailLo: 0)
    nonZeroCount += (value != zero ? 1 : 0) - (e.pointee != zero ? 1 : 0)
    e.pointee = value
  }

  /// The bottom entry of the window holding `address`, all zero when no node covers it.
  func coverage(at address: UInt) -> ArenaCoverage {
    guard let midNode = root[Self.topIndex(address)],
          let bottom = midNode.assumingMemoryBound(to: UnsafeMutableRawPointer?.self)[Self.midIndex(address)]
    else { return ArenaCoverage(tailHi: 0, tailLo: 0) }
    return bottom.assumingMemoryBound(to: ArenaCoverage.self)[Self.bottomIndex(address)]
  }

  /// `arena_map_mark_used`. Returns false (and leaves nothing half-marked) when a node cannot be made.
  func mark(arenaBase base: UnsafeMutableRawPointer, used: Bool, raw: RawAllocator) -> Bool {
    let a = UInt(bitPattern: base.address)
    let tail = Int32(a & UInt(PymallocLayout.arenaSize - 1))
    guard let hi = entry(a, create: used, raw: raw) else { return !used }
    if tail == 0 {
      store(hi, ArenaCoverage(tailHi: used ? -1 : 0, tailLo: hi.pointee.tailLo))
      return true
    }
    store(hi, ArenaCoverage(tailHi: used ? tail : 0, tailLo: hi.pointee.tailLo))
    let next = a &+ UInt(PymallocLayout.arenaSize)
    guard let lo = entry(next, create: used, raw: raw) else {
      if used { store(hi, ArenaCoverage(tailHi: 0, tailLo: hi.pointee.tailLo)) }  // abort the whole mark
      return !used
    }
    store(lo, ArenaCoverage(tailHi: lo.pointee.tailHi, tailLo: used ? tail : 0))
    return true
  }

  /// `address_in_range` with the radix tree: is `address` inside a live arena? Never dereferences it.
  func contains(_ address: Int) -> Bool {
    let a = UInt(bitPattern: address)
    guard let midNode = root[Self.topIndex(a)] else { return false }
    guard let bottom = midNode.assumingMemoryBound(to: UnsafeMutableRawPointer?.self)[Self.midIndex(a)]
    else { return false }
    let e = bottom.assumingMemoryBound(to: ArenaCoverage.self)[Self.bottomIndex(a)]
    let t = Int32(a & UInt(PymallocLayout.arenaSize - 1))
    return t < e.tailLo || (e.tailHi != 0 && t >= e.tailHi)
  }

  /// Entries compared at once by ``nonZeroEntries()``, and that many entries' worth of zero bytes.
  private static let scanChunk = 512
  private static let zeroChunk = [UInt8](repeating: 0, count: scanChunk * 8)

  /// Every non-zero bottom entry as (window base address, coverage), for PM6.
  func nonZeroEntries() -> [(window: UInt, coverage: ArenaCoverage)] {
    var out: [(UInt, ArenaCoverage)] = []
    for (node, key) in zip(bottomNodes, bottomKeys) {
      let bottom = node.assumingMemoryBound(to: ArenaCoverage.self)
      for start in stride(from: 0, to: Self.bottomEntries, by: Self.scanChunk) {
        // Usual: the chunk is all zero, and one memcmp says so (entry by entry is 512 compares, each a call
        // into the coverage runtime in a fuzz build). Rare: a chunk holding an arena's window.
        let zero = Self.zeroChunk.withUnsafeBytes { memcmp(node + start * 8, $0.baseAddress!, Self.scanChunk * 8) == 0 }
        if zero { continue }
        for i in start..<start + Self.scanChunk where bottom[i] != ArenaCoverage(tailHi: 0, tailLo: 0) {
          out.append((UInt(key.top) << 49 | UInt(key.mid) << 34 | UInt(i) << 20, bottom[i]))
        }
      }
    }
    // Sorted by window, as the former walk over every root and mid slot produced them.
    return out.sorted { $0.0 < $1.0 }
  }

  /// A zeroed node of `count` words: a spare if there is one (the call counted by `raw`'s fault plan, as
  /// the calloc it stands for), else `raw.calloc`.
  private func node(from spares: inout [UnsafeMutableRawPointer], count: Int, raw: RawAllocator) -> UnsafeMutableRawPointer? {
    guard let spare = spares.popLast() else { return raw.calloc(count, 8) }
    if raw.faults.nextFailure() != nil {  // rare: an injected ENOMEM
      spares.append(spare)
      return nil
    }
    return spare
  }

  /// Forgets every node (a fresh interpreter state has none). With `keepSpares`, nodes that are all zero —
  /// every bottom entry back to zero because the owner unmarked each live arena first — are kept for
  /// reuse; otherwise (or when an entry is still set, as a bug that skips the unmark leaves it) they are
  /// freed.
  func removeAll(raw: RawAllocator, keepSpares: Bool = false) {
    let reuse = keepSpares && nonZeroCount == 0
    for (t, m) in bottomKeys { root[t]!.assumingMemoryBound(to: UnsafeMutableRawPointer?.self)[m] = nil }
    if reuse {
      spareBottom.append(contentsOf: bottomNodes)
      spareMid.append(contentsOf: midNodes)
    } else {
      for n in bottomNodes { raw.free(n) }
      for n in midNodes { raw.free(n) }
    }
    if !keepSpares { freeSpares(raw: raw) }
    for t in rootUsed { root[t] = nil }
    rootUsed.removeAll()
    midNodes.removeAll()
    bottomNodes.removeAll()
    bottomKeys.removeAll()
    nonZeroCount = 0
  }

  /// Nodes kept for reuse (still allocated from the raw allocator).
  var spareCount: Int { spareMid.count + spareBottom.count }

  /// Frees the kept spare nodes.
  func freeSpares(raw: RawAllocator) {
    for n in spareBottom { raw.free(n) }
    for n in spareMid { raw.free(n) }
    spareBottom.removeAll()
    spareMid.removeAll()
  }
}
