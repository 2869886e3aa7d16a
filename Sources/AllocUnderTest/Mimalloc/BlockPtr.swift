// BlockPtr.swift — the only place of Mimalloc/ that does pointer arithmetic or touches mapped memory
// (R18): ``MiBlock`` reads and writes a block's link word and contents; ``SegmentInfo`` reads and writes
// the info slice (the back reference to the segment object and the slice table used by the lock-free
// pointer → segment → page lookup of `mi_free`). Guarded by MI2 (links) and MI7 (slice table).
//
// Addresses are `UInt`, 0 meaning NULL. A user address becomes a ``MiBlock`` only after the segment and
// page lookup (``MiSegment/page(containing:)``) and, for interior pointers, `MiPage.blockStart(of:)`.

/// A block address the allocator derived itself (from a page area or a free list).
struct MiBlock: Equatable {
  let address: UInt

  init(_ address: UInt) { self.address = address }

  private var raw: UnsafeMutableRawPointer { unsafe UnsafeMutableRawPointer(bitPattern: address)! }

  /// The free-list link in the first word (`mi_block_t.next`; not encoded: no MI_ENCODE_FREELIST). Only for
  /// free blocks: memcheck sees the word opened for the access and closed again (Platform/Valgrind.swift).
  var next: UInt {
    get { Memcheck.linkWord(address) { unsafe raw.load(as: UInt.self) } }
    nonmutating set { Memcheck.linkWord(address) { unsafe raw.storeBytes(of: newValue, as: UInt.self) } }
  }

  /// `next` without the memcheck annotation, for the invariant walks' hot loop when Valgrind is not
  /// running (``Memcheck/active`` false: the annotation is a no-op then anyway).
  var nextWithoutMemcheck: UInt { unsafe raw.load(as: UInt.self) }

  /// Zeroes `count` bytes from the block start.
  func zero(count: Int) { unsafe raw.initializeMemory(as: UInt8.self, repeating: 0, count: count) }

  /// Copies `count` bytes from `source` to this block.
  func copy(from source: MiBlock, count: Int) {
    guard count > 0 else { return }
    unsafe raw.copyMemory(from: source.raw, byteCount: count)
  }

  /// Writes one byte at `offset` (realloc(p, 0)'s zeroed first byte, #725).
  func storeByte(_ value: UInt8, at offset: Int) { unsafe raw.storeBytes(of: value, toByteOffset: offset, as: UInt8.self) }
}

/// The info slice (slice 0) of a segment, at the segment base.
///
/// Layout: `[0:8]` the `Unmanaged<MiSegment>` opaque pointer (unretained; the ``Mimalloc`` registry owns the
/// object); `[64 + 8·i : 72 + 8·i]` the `Unmanaged<MiPage>` of the used page covering slice i, or 0.
/// Invariant: entry i names page P iff P is used and `P.sliceIndex ≤ i < P.sliceIndex + P.sliceCount`
/// (i < `sliceEntries`). Entries are written by the owner before any block of P is handed out, so a remote
/// freer that got the block through any synchronising hand-off reads them without a data race.
struct SegmentInfo {
  let base: UInt

  private var raw: UnsafeMutableRawPointer { unsafe UnsafeMutableRawPointer(bitPattern: base)! }

  /// The 32 MiB window holding `address`: `(p − 1)` rounded down, so a huge block that starts exactly at a
  /// segment boundary still maps to its own segment (2.1.2 `_mi_ptr_segment`).
  static func containing(_ address: UInt) -> SegmentInfo {
    SegmentInfo(base: (address &- 1) & ~MiConst.segmentMask)
  }

  /// The segment object recorded in the first word.
  var segment: MiSegment? {
    let bits = unsafe raw.load(as: UInt.self)
    guard let p = unsafe UnsafeRawPointer(bitPattern: bits) else { return nil }
    return unsafe Unmanaged<MiSegment>.fromOpaque(p).takeUnretainedValue()
  }

  func setSegment(_ segment: MiSegment) {
    let bits = UInt(bitPattern: unsafe Unmanaged.passUnretained(segment).toOpaque())
    unsafe raw.storeBytes(of: bits, as: UInt.self)
  }

  /// Slice-table entry `i` (precondition: i < `MiConst.slicesPerSegment`).
  func page(atSlice i: Int) -> MiPage? {
    let bits = unsafe raw.load(fromByteOffset: MiConst.sliceTableOffset + 8 * i, as: UInt.self)
    guard let p = unsafe UnsafeRawPointer(bitPattern: bits) else { return nil }
    return unsafe Unmanaged<MiPage>.fromOpaque(p).takeUnretainedValue()
  }

  /// Give the OS pages of `range` (page-aligned, inside this segment) back to `pages`; they read as zero.
  func decommit(_ range: Range<UInt>, in pages: PageSource) {
    unsafe pages.decommit(UnsafeMutableRawPointer(bitPattern: range.lowerBound)!, bytes: Int(range.upperBound - range.lowerBound))
  }

  /// Slice-table entry `i` as raw bits, to compare with ``MiPage/unmanagedBits`` (checks: no retain).
  func pageBits(atSlice i: Int) -> UInt {
    unsafe raw.load(fromByteOffset: MiConst.sliceTableOffset + 8 * i, as: UInt.self)
  }

  func setPage(_ page: MiPage?, slices range: Range<Int>) {
    let bits = page.map { UInt(bitPattern: unsafe Unmanaged.passUnretained($0).toOpaque()) } ?? 0
    for i in range { unsafe raw.storeBytes(of: bits, toByteOffset: MiConst.sliceTableOffset + 8 * i, as: UInt.self) }
  }
}
