// MallocBacking.swift — `MALLOC_ALLOC`: `_PyMem_RawMalloc/Calloc/Realloc/Free` (Objects/obmalloc.c) over a
// ``RawAllocator`` (glibc behind a fault plan). Owns the size-0 rules: malloc(0) and realloc(p, 0) ask for
// 1 byte, calloc with a zero argument asks for calloc(1, 1), "because some systems return NULL for 0".
//
// For the model's no-wild-reads rule it keeps the set of live block bases (``readableRange(around:)``),
// and an optional quarantine: the last `quarantine` freed blocks stay allocated and readable, so a double
// free is read back as 0xDD bytes instead of glibc's free-list words (documented deviation, off by default).
// Not thread-safe: a ``PyMemDomains`` is confined to one thread (the model holds the GIL).

/// C malloc as CPython's RAW default allocator.
public final class MallocBacking: BlockAllocator {
  public let system: RawAllocator
  let bugs: Set<DomainBug>
  /// Bases of blocks handed out and not freed. Invariant: `live ∩ quarantined = ∅`.
  private var live = Set<Int>()
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
    return adopt(system.malloc(n))
  }

  public func calloc(_ nelem: UInt, _ elsize: UInt) -> UnsafeMutableRawPointer? {
    if (nelem == 0 || elsize == 0) && !bugs.contains(.rawSizeZeroNotOne) { return adopt(system.calloc(1, 1)) }
    guard nelem <= UInt(Int.max), elsize <= UInt(Int.max) else { return nil }  // C calloc's overflow check
    return adopt(system.calloc(Int(nelem), Int(elsize)))
  }

  public func realloc(_ p: UnsafeMutableRawPointer?, _ size: UInt) -> UnsafeMutableRawPointer? {
    guard let p else { return malloc(size) }
    require(live.contains(p.address), "MallocBacking.realloc(\(hexAddress(UInt(p.address)))): not a live block")
    guard size <= UInt(Int.max) else { return nil }
    let n = size == 0 && !bugs.contains(.rawSizeZeroNotOne) ? 1 : Int(size)
    guard let q = system.realloc(p, n) else {
      // Failure, or glibc's realloc(p, 0), which frees p and returns NULL (only reachable with the bug).
      if n == 0 { live.remove(p.address) }
      return nil
    }
    live.remove(p.address)
    return adopt(q)
  }

  public func free(_ p: UnsafeMutableRawPointer?) {
    guard let p else { return }
    require(live.remove(p.address) != nil,
            "MallocBacking.free(\(hexAddress(UInt(p.address)))): not a live block (freed twice, or not from here)")
    guard quarantineLimit > 0 else {
      system.free(p)  // usual
      return
    }
    quarantined.append(p)
    quarantinedSet.insert(p.address)
    if quarantined.count > quarantineLimit {
      let oldest = quarantined.removeFirst()
      quarantinedSet.remove(oldest.address)
      system.free(oldest)
    }
  }

  public func usableSize(_ p: UnsafeMutableRawPointer) -> Int { system.usableSize(p) }

  /// `[base, base + usable)` when `address` is the base of a live or quarantined block; nil otherwise (a
  /// freed block's memory belongs to glibc again and may be unmapped).
  public func readableRange(around address: Int) -> Range<Int>? {
    guard live.contains(address) || quarantinedSet.contains(address),
          let p = UnsafeMutableRawPointer(bitPattern: address) else { return nil }
    return address..<(address + system.usableSize(p))
  }

  /// Gives every quarantined block back to the system allocator.
  public func drainQuarantine() {
    for p in quarantined { system.free(p) }
    quarantined.removeAll()
    quarantinedSet.removeAll()
  }

  private func adopt(_ p: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let p else { return nil }
    live.insert(p.address)
    return p
  }
}
