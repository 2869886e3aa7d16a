// DomainSlot.swift — one domain's current allocator (`_PyRuntime.allocators.standard.<domain>`) and the
// public wrappers in front of it: `PyMem_RawMalloc`/`PyMem_Malloc`/`PyObject_Malloc` & co. of
// Objects/obmalloc.c, which refuse sizes above `PY_SSIZE_T_MAX` before the allocator sees them.
// ``RawDomainForwarder`` lets pymalloc (a ``RawAllocator`` client) fall back through the RAW slot.
// No invariants beyond "the allocator is always set".

/// `PY_SSIZE_T_MAX` as a `size_t`.
let pySsizeTMax = UInt(Int.max)

/// A domain's installed allocator and its public entry points.
final class DomainSlot {
  let domain: PyMemDomain
  var allocator: any BlockAllocator
  let bugs: Set<DomainBug>

  init(_ domain: PyMemDomain, allocator: any BlockAllocator, bugs: Set<DomainBug>) {
    self.domain = domain
    self.allocator = allocator
    self.bugs = bugs
  }

  /// `PyMem_RawMalloc` & co.: "limit ourselves to PY_SSIZE_T_MAX bytes to prevent security holes".
  func malloc(_ size: UInt) -> UnsafeMutableRawPointer? {
    if size > pySsizeTMax && !bugs.contains(.oversizeNotRejected) { return nil }
    return allocator.malloc(size)
  }

  /// `PyMem_RawCalloc` & co.: nil iff `elsize != 0 && nelem > PY_SSIZE_T_MAX / elsize`.
  func calloc(_ nelem: UInt, _ elsize: UInt) -> UnsafeMutableRawPointer? {
    if elsize != 0 && nelem > pySsizeTMax / elsize && !bugs.contains(.oversizeNotRejected) { return nil }
    return allocator.calloc(nelem, elsize)
  }

  func realloc(_ p: UnsafeMutableRawPointer?, _ size: UInt) -> UnsafeMutableRawPointer? {
    if size > pySsizeTMax && !bugs.contains(.oversizeNotRejected) { return nil }
    return allocator.realloc(p, size)
  }

  func free(_ p: UnsafeMutableRawPointer?) { allocator.free(p) }
}

/// The RAW domain seen as a ``RawAllocator``: what pymalloc's fallback for 0-byte and > 512-byte requests
/// (and for small ones when no arena can be had) and its radix-tree nodes call, exactly as obmalloc.c calls
/// `PyMem_RawMalloc`/`PyMem_RawCalloc`/`PyMem_RawRealloc`/`PyMem_RawFree`. Under debug hooks such a block
/// therefore carries two headers (spec §3.7).
final class RawDomainForwarder: RawAllocator {
  let slot: DomainSlot
  /// The system allocator under RAW, whose fault plan this forwards (pymalloc never consults it directly).
  let system: RawAllocator
  private(set) var liveBlocks = 0

  init(slot: DomainSlot, system: RawAllocator) {
    self.slot = slot
    self.system = system
  }

  var faults: FaultInjector { system.faults }

  func malloc(_ size: Int) -> UnsafeMutableRawPointer? {
    require(size >= 0, "malloc(\(size)): negative size")
    return counted(slot.malloc(UInt(size)))
  }

  func calloc(_ count: Int, _ size: Int) -> UnsafeMutableRawPointer? {
    require(count >= 0 && size >= 0, "calloc(\(count), \(size)): negative count or size")
    return counted(slot.calloc(UInt(count), UInt(size)))
  }

  func realloc(_ p: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
    require(size >= 0, "realloc(_, \(size)): negative size")
    guard p != nil else { return counted(slot.realloc(nil, UInt(size))) }
    return slot.realloc(p, UInt(size))
  }

  func free(_ p: UnsafeMutableRawPointer?) {
    guard let p else { return }
    slot.free(p)
    liveBlocks -= 1
  }

  func usableSize(_ p: UnsafeMutableRawPointer) -> Int { slot.allocator.usableSize(p) }

  /// What the RAW domain's allocator knows about `address`.
  func readableRange(around address: Int) -> Range<Int>? { slot.allocator.readableRange(around: address) }

  /// A new state of the domains (``PyMemDomains/reset(allocator:)``): nothing given out yet.
  func resetCount() { liveBlocks = 0 }

  private func counted(_ p: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    if p != nil { liveBlocks += 1 }
    return p
  }
}
