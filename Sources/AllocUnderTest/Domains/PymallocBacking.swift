// PymallocBacking.swift — `PYMALLOC_ALLOC`: `_PyObject_Malloc/Calloc/Realloc/Free` (Objects/obmalloc.c)
// installed in MEM and OBJ, i.e. the reference ``Pymalloc`` whose raw fallback is the RAW *domain*
// (``RawDomainForwarder``), not C malloc: under debug hooks a MEM request over 512 − 24 bytes carries two
// headers, `[size N+24 'r' FD×7][size N 'm' FD×7] data [FD×8][FD×8]` (spec §3.7).
// Guarded by ``Pymalloc/checkInvariants()``; this file adds no state.

/// pymalloc as a domain backing.
public final class PymallocBacking: BlockAllocator {
  public let pymalloc: Pymalloc

  public init(_ pymalloc: Pymalloc) { self.pymalloc = pymalloc }

  public var identity: AllocatorIdentity { .pymalloc }

  public func malloc(_ size: UInt) -> UnsafeMutableRawPointer? { pymalloc.malloc(UInt64(size)) }
  public func calloc(_ nelem: UInt, _ elsize: UInt) -> UnsafeMutableRawPointer? {
    pymalloc.calloc(UInt64(nelem), UInt64(elsize))
  }
  public func realloc(_ p: UnsafeMutableRawPointer?, _ size: UInt) -> UnsafeMutableRawPointer? {
    pymalloc.realloc(p, UInt64(size))
  }
  public func free(_ p: UnsafeMutableRawPointer?) { pymalloc.free(p) }
  public func usableSize(_ p: UnsafeMutableRawPointer) -> Int { pymalloc.usableSize(p) }

  /// The whole arena for an address inside one (arenas are mapped in full while they are allocated, so even a
  /// freed block can be read); otherwise whatever the raw fallback allocator knows.
  public func readableRange(around address: Int) -> Range<Int>? {
    if pymalloc.owns(address) {
      for arena in pymalloc.arenas {
        guard let base = arena.address?.address else { continue }
        if address >= base && address < base + PymallocLayout.arenaSize {
          return base..<(base + PymallocLayout.arenaSize)
        }
      }
      return nil
    }
    return (pymalloc.raw as? RawDomainForwarder)?.readableRange(around: address)
  }
}
