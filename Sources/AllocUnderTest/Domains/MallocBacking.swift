// MallocBacking.swift — `MALLOC_ALLOC`: `_PyMem_RawMalloc/Calloc/Realloc/Free` (Objects/obmalloc.c) over a
// ``RawAllocator`` (glibc behind a fault plan). Owns the size-0 rules: malloc(0) and realloc(p, 0) ask for
// 1 byte, calloc with a zero argument asks for calloc(1, 1), "because some systems return NULL for 0".
//
// For the model's no-wild-reads rule it keeps the address ranges of its live blocks
// (``readableRange(around:)``), and an optional quarantine: the last `quarantine` freed blocks stay
// allocated and readable, so a double free reads back 0xDD bytes instead of glibc's free-list words
// (a documented deviation from real glibc, off by default). Not thread-safe: a ``PyMemDomains`` is confined
// to one thread (the model holds the GIL). Invariant: `live ∪ quarantined` = the ranges' lower bounds.

/// C malloc as CPython's RAW default allocator.
public final class MallocBacking: BlockAllocator {
  public let system: RawAllocator
  let bugs: Set<DomainBug>
  /// Bases of blocks handed out and not freed. Invariant: `live ∩ quarantined = ∅`.
  private var live = Set<Int>()
  /// `[base, base + size asked)` of every live or quarantined block.
  private var ranges = AddressRanges()
  /// Freed blocks not yet given back to `system`, oldest first. Invariant: `count ≤ quarantineLimit`.
  private var quarantined: [UnsafeMutableRawPointer] = []
  private var quarantinedSet = Set<Int>()
  public let quarantineLimit: Int

  public init(system: RawAllocator, quarantine: Int = 0, bugs: Set<DomainBug> = []) {
    require(quarantine >= 0, "MallocBacking: quarantine must be ≥ 0")
    self.system = system
    self.quarantineLimit = quarantine
    self.bugs = bugs
  }

  deinit { drainQuarantine() }

  public var identity: AllocatorIdentity { .malloc }

  /// Blocks handed out and not freed.
  public var liveBlocks: Int { live.count }

  public func malloc(_ size: UInt) -> UnsafeMutableRawPointer? {
    guard size <= UInt(Int.max) else { return nil }  // rare: only reachable by a direct call; C malloc fails too
    let n = size == 0 && !bugs.contains(.rawSizeZeroNotOne) ? 1 : Int(size)
    return adopt(system.malloc(n), size: n)
  }

  public func calloc(_ nelem: UInt, _ elsize: UInt) -> UnsafeMutableRawPointer? {
    if (nelem == 0 || elsize == 0) && !bugs.contains(.rawSizeZeroNotOne) { return adopt(system.calloc(1, 1), size: 1) }
    let (total, overflow) = nelem.multipliedReportingOverflow(by: elsize)
    guard !overflow, total <= UInt(Int.max) else { return nil }  // C calloc's overflow check
    return adopt(system.calloc(Int(nelem), Int(elsize)), size: Int(total))
  }

  public func realloc(_ p: UnsafeMutableRawPointer?, _ size: UInt) -> UnsafeMutableRawPointer? {
    guard let p else { return malloc(size) }
    require(live.contains(p.address), "MallocBacking.realloc(\(hexAddress(UInt(p.address)))): not a live block")
    guard size <= UInt(Int.max) else { return nil }
    let n = size == 0 && !bugs.contains(.rawSizeZeroNotOne) ? 1 : Int(size)
    guard let q = system.realloc(p, n) else {
      // Failure, or glibc's realloc(p, 0), which frees p and returns NULL (only reachable with the bug).
      if n == 0 { disown(p.address) }
      return nil
    }
    disown(p.address)
    return adopt(q, size: n)
  }

  public func free(_ p: UnsafeMutableRawPointer?) {
    guard let p else { return }
    require(live.remove(p.address) != nil,
            "MallocBacking.free(\(hexAddress(UInt(p.address)))): not a live block (freed twice, or not from here)")
    guard quarantineLimit > 0 else {
      ranges.remove(startingAt: p.address)
      system.free(p)  // usual
      return
    }
    quarantined.append(p)
    quarantinedSet.insert(p.address)
    if quarantined.count > quarantineLimit {
      let oldest = quarantined.removeFirst()
      quarantinedSet.remove(oldest.address)
      ranges.remove(startingAt: oldest.address)
      system.free(oldest)
    }
  }

  public func usableSize(_ p: UnsafeMutableRawPointer) -> Int { system.usableSize(p) }

  /// The block (live or quarantined) containing `address`, as `[base, base + size asked)`; nil otherwise
  /// (a freed block's memory belongs to glibc again and may even be unmapped).
  public func readableRange(around address: Int) -> Range<Int>? { ranges.containing(address) }

  /// Gives every quarantined block back to the system allocator.
  public func drainQuarantine() {
    for p in quarantined {
      ranges.remove(startingAt: p.address)
      system.free(p)
    }
    quarantined.removeAll()
    quarantinedSet.removeAll()
  }

  /// Back to an empty backing for the next state of its ``PyMemDomains`` (``PyMemDomains/reset(allocator:)``):
  /// the quarantine given back to the system allocator (as ``deinit`` does); blocks still live — a run that
  /// stopped at a fatal error leaves some — are forgotten, not freed, as when the instance is dropped.
  func reset() {
    drainQuarantine()
    live.removeAll(keepingCapacity: true)
    ranges = AddressRanges()
  }

  private func adopt(_ p: UnsafeMutableRawPointer?, size: Int) -> UnsafeMutableRawPointer? {
    guard let p else { return nil }
    live.insert(p.address)
    ranges.insert(p.address..<(p.address + max(size, 1)))
    return p
  }

  private func disown(_ address: Int) {
    live.remove(address)
    ranges.remove(startingAt: address)
  }
}
