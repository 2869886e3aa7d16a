// PoolRef.swift — typed access to a pool header living in arena memory (struct pool_header), and to the
// free-block links stored in the first word of free blocks. The only file of Pymalloc that computes
// pool-header offsets. Guarded by PM2/PM3 in ``Pymalloc/checkInvariants()``.
//
// Header layout (64-bit offsets, as obmalloc.c):
//   [0:4] count  [8:16] freeblock  [16:24] nextpool  [24:32] prevpool
//   [32:36] arenaindex  [36:40] szidx  [40:44] nextoffset  [44:48] maxnextoffset
// nextpool/prevpool sit exactly two pointers after the start: UsedPools relies on it (see UsedPools.swift).

/// A pool header (or a `usedpools` phantom head, which only has valid next/prev fields).
struct PoolRef: Equatable, Hashable {
  let base: UnsafeMutableRawPointer

  init(_ base: UnsafeMutableRawPointer) { self.base = base }
  /// The pool containing `p` (`POOL_ADDR`).
  init(containing p: UnsafeMutableRawPointer) {
    base = UnsafeMutableRawPointer(bitPattern: UInt(bitPattern: p.address) & ~UInt(PymallocLayout.poolSizeMask))!
  }

  var address: Int { Int(bitPattern: base) }

  /// Number of allocated blocks. Invariant: count == blocks handed out and not yet freed.
  var count: UInt32 {
    get { base.load(fromByteOffset: 0, as: UInt32.self) }
    nonmutating set { base.storeBytes(of: newValue, toByteOffset: 0, as: UInt32.self) }
  }
  /// Head of the LIFO free-block list; nil iff the pool is full or (transiently) about to be extended.
  var freeblock: UnsafeMutableRawPointer? {
    get { base.load(fromByteOffset: 8, as: UnsafeMutableRawPointer?.self) }
    nonmutating set { base.storeBytes(of: newValue, toByteOffset: 8, as: UnsafeMutableRawPointer?.self) }
  }
  var nextpool: PoolRef? {
    get { base.load(fromByteOffset: 16, as: UnsafeMutableRawPointer?.self).map { PoolRef($0) } }
    nonmutating set { base.storeBytes(of: newValue?.base, toByteOffset: 16, as: UnsafeMutableRawPointer?.self) }
  }
  var prevpool: PoolRef? {
    get { base.load(fromByteOffset: 24, as: UnsafeMutableRawPointer?.self).map { PoolRef($0) } }
    nonmutating set { base.storeBytes(of: newValue?.base, toByteOffset: 24, as: UnsafeMutableRawPointer?.self) }
  }
  var arenaIndex: Int {
    get { Int(base.load(fromByteOffset: 32, as: UInt32.self)) }
    nonmutating set { base.storeBytes(of: UInt32(newValue), toByteOffset: 32, as: UInt32.self) }
  }
  /// Size class, or ``PymallocLayout/dummySizeIndex`` for a pool never initialised.
  var szidx: UInt32 {
    get { base.load(fromByteOffset: 36, as: UInt32.self) }
    nonmutating set { base.storeBytes(of: newValue, toByteOffset: 36, as: UInt32.self) }
  }
  /// Offset of the next never-used block. Invariant: every block below it was handed out at least once.
  var nextoffset: Int {
    get { Int(base.load(fromByteOffset: 40, as: UInt32.self)) }
    nonmutating set { base.storeBytes(of: UInt32(newValue), toByteOffset: 40, as: UInt32.self) }
  }
  /// Largest valid nextoffset: POOL_SIZE − block size.
  var maxnextoffset: Int {
    get { Int(base.load(fromByteOffset: 44, as: UInt32.self)) }
    nonmutating set { base.storeBytes(of: UInt32(newValue), toByteOffset: 44, as: UInt32.self) }
  }

  /// Block size of this pool's class (only meaningful once initialised).
  var blockSize: Int { PymallocLayout.blockSize(ofClass: Int(szidx)) }
  func block(atOffset offset: Int) -> UnsafeMutableRawPointer { base + offset }
  func offset(of block: UnsafeMutableRawPointer) -> Int { block - base }
}

/// The free-list link stored in the first word of a free block.
enum FreeLink {
  /// Reads the link of a free block (opened for memcheck just for this read).
  static func next(of block: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
    Memcheck.linkWord(UInt(bitPattern: block.address)) { block.load(as: UnsafeMutableRawPointer?.self) }
  }
  /// Writes the link of a free block (opened for memcheck just for this write).
  static func setNext(of block: UnsafeMutableRawPointer, to next: UnsafeMutableRawPointer?) {
    Memcheck.linkWord(UInt(bitPattern: block.address)) { block.storeBytes(of: next, as: UnsafeMutableRawPointer?.self) }
  }
}

extension UnsafeMutableRawPointer {
  var address: Int { Int(bitPattern: self) }
}
