// Layout.swift — the design document of the pymalloc reference allocator: geometry constants, the
// arena → pool → block picture and the size-class table. Everything here is a fact of CPython 3.11–3.14
// `Objects/obmalloc.c` / `Include/internal/pycore_obmalloc.h` on 64-bit Linux with the radix tree on.
// Guarded by: ``Pymalloc/checkInvariants()`` (PM2–PM7) and the LayoutAssertions tests.
//
//   arena (1 MiB, from the PageSource; base only OS-page aligned, so usually one pool is lost)
//   ┌────────┬──────────────┬──────────────┬─────┬──────────────┬──────────────┐
//   │ lost   │ pool 0       │ pool 1       │ ... │ pool 62/63   │ (uncarved)   │
//   └────────┴──────────────┴──────────────┴─────┴──────────────┴──────────────┘
//   pool (16 KiB, 16 KiB aligned):
//   ┌──────────────┬─────────┬─────────┬─────┬─────────┬───────┐
//   │ header (48B) │ block 0 │ block 1 │ ... │ block k │ waste │   block k at pool + 48 + k·size
//   └──────────────┴─────────┴─────────┴─────┴─────────┴───────┘
//
// Size classes: request n in 1...512 → class (n − 1) >> 4, block size (class + 1) << 4,
// blocks per pool (16384 − 48) / size:
//   class  0..7 : 16 32 48 64 80 96 112 128      → 1021 510 340 255 204 170 145 127
//   class  8..15: 144 160 176 192 208 224 240 256 → 113 102 92 85 78 72 68 63
//   class 16..23: 272 288 304 320 336 352 368 384 → 60 56 53 51 48 46 44 42
//   class 24..31: 400 416 432 448 464 480 496 512 → 40 39 37 36 35 34 32 31

/// Geometry of the 64-bit pymalloc (obmalloc.c: ALIGNMENT, SMALL_REQUEST_THRESHOLD, ARENA_BITS, POOL_BITS).
public enum PymallocLayout {
  /// `ALIGNMENT`: every small block and every size class step.
  public static let alignment = 16
  public static let alignmentShift = 4
  /// `SMALL_REQUEST_THRESHOLD`: larger requests (and 0) go to the raw allocator.
  public static let smallRequestThreshold = 512
  /// `NB_SMALL_SIZE_CLASSES`.
  public static let sizeClassCount = 32
  /// `ARENA_SIZE` (USE_LARGE_ARENAS, 3.10+, bpo-37448).
  public static let arenaSize = 1 << 20
  /// `POOL_SIZE` (USE_LARGE_POOLS, 3.10+).
  public static let poolSize = 1 << 14
  public static let poolSizeMask = poolSize - 1
  /// `MAX_POOLS_IN_ARENA`.
  public static let maxPoolsInArena = arenaSize / poolSize
  /// `POOL_OVERHEAD`: sizeof(struct pool_header) rounded up to ALIGNMENT.
  public static let poolOverhead = 48
  /// `DUMMY_SIZE_IDX`: stamped on a freshly carved pool so its first use always initialises it.
  public static let dummySizeIndex: UInt32 = 0xffff
  /// `INITIAL_ARENA_OBJECTS`: first length of the arena-descriptor vector; it then doubles.
  public static let initialArenaObjects = 16
  /// `PY_SSIZE_T_MAX`: public wrappers return NULL above it.
  public static let maxRequest = UInt64(Int.max)

  /// Size class of a small request (1...512).
  @inline(__always) public static func sizeClass(of n: Int) -> Int { (n - 1) >> alignmentShift }
  /// `INDEX2SIZE`.
  @inline(__always) public static func blockSize(ofClass c: Int) -> Int { (c + 1) << alignmentShift }
  /// `NUMBLOCKS`.
  @inline(__always) public static func blocksPerPool(ofClass c: Int) -> Int {
    (poolSize - poolOverhead) / blockSize(ofClass: c)
  }
}
