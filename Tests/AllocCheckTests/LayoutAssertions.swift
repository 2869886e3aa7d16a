// LayoutAssertions.swift — every layout assumption of the pymalloc reference allocator, pinned in one place
// (habit R30): the geometry constants of spec §1.1, the 32-row size-class table of spec §1.2, the pool
// header offsets of §1.3, and the radix-tree node sizes of §1.7. Each `#expect` says what would break if the
// number moved, so a failure here explains itself before any behavioural test does.
import Testing

@testable import AllocUnderTest

/// Spec §1.2, 64-bit, 16 KiB pools: (class, block size, blocks per pool, quantization waste per pool).
private let sizeClassTable: [(sizeClass: Int, size: Int, blocks: Int, waste: Int)] = [
  (0, 16, 1021, 0), (1, 32, 510, 16), (2, 48, 340, 16), (3, 64, 255, 16),
  (4, 80, 204, 16), (5, 96, 170, 16), (6, 112, 145, 96), (7, 128, 127, 80),
  (8, 144, 113, 64), (9, 160, 102, 16), (10, 176, 92, 144), (11, 192, 85, 16),
  (12, 208, 78, 112), (13, 224, 72, 208), (14, 240, 68, 16), (15, 256, 63, 208),
  (16, 272, 60, 16), (17, 288, 56, 208), (18, 304, 53, 224), (19, 320, 51, 16),
  (20, 336, 48, 208), (21, 352, 46, 144), (22, 368, 44, 144), (23, 384, 42, 208),
  (24, 400, 40, 336), (25, 416, 39, 112), (26, 432, 37, 352), (27, 448, 36, 208),
  (28, 464, 35, 96), (29, 480, 34, 16), (30, 496, 32, 464), (31, 512, 31, 464),
]

@Suite("Layout assertions")
struct LayoutAssertions {
  @Test("geometry constants are the 64-bit radix-tree build's (spec §1.1)")
  func geometryConstants() {
    typealias L = PymallocLayout
    #expect(L.alignment == 16, "ALIGNMENT: block addresses and the class step; O1 alignment rule would be wrong")
    #expect(L.alignmentShift == 4 && 1 << L.alignmentShift == L.alignment, "ALIGNMENT_SHIFT must be log2(ALIGNMENT)")
    #expect(L.smallRequestThreshold == 512, "SMALL_REQUEST_THRESHOLD: 513-byte requests would stop going raw")
    #expect(L.sizeClassCount == 32, "NB_SMALL_SIZE_CLASSES = 512/16; the usedpools table and stats rows assume 32")
    #expect(L.sizeClassCount == L.smallRequestThreshold / L.alignment, "class count must be threshold / alignment")
    #expect(L.arenaSize == 1_048_576, "ARENA_SIZE 1 MiB: the radix tree's 20 low bits and the stats Total assume it")
    #expect(L.poolSize == 16_384, "POOL_SIZE 16 KiB: POOL_ADDR masking and every blocks/pool figure assume it")
    #expect(L.poolSizeMask == 16_383, "POOL_SIZE_MASK: PoolRef(containing:) would find the wrong header")
    #expect(L.maxPoolsInArena == 64, "MAX_POOLS_IN_ARENA: nfp2lasta length and arena free-pool counts assume 64")
    #expect(L.poolOverhead == 48, "POOL_OVERHEAD: block k would no longer sit at pool + 48 + k·size")
    #expect(L.poolOverhead % L.alignment == 0, "POOL_OVERHEAD must keep block 0 16-byte aligned")
    #expect(L.dummySizeIndex == 0xffff, "DUMMY_SIZE_IDX: a freshly carved pool must never match a real class")
    #expect(L.initialArenaObjects == 16, "INITIAL_ARENA_OBJECTS: the descriptor vector starts at 16 and doubles")
    #expect(L.maxRequest == UInt64(Int.max), "PY_SSIZE_T_MAX: malloc/realloc above it must return NULL")
  }

  @Test("the 32-row size-class table: block size, blocks per pool and waste (spec §1.2)")
  func sizeClassTableRows() {
    #expect(sizeClassTable.count == PymallocLayout.sizeClassCount)
    for row in sizeClassTable {
      let c = row.sizeClass
      #expect(PymallocLayout.blockSize(ofClass: c) == row.size, "INDEX2SIZE(\(c)): usable size and stats rows break")
      #expect(PymallocLayout.blocksPerPool(ofClass: c) == row.blocks,
              "NUMBLOCKS(\(c)): 'avail blocks' in the stats and the pool-full point break")
      let waste = PymallocLayout.poolSize - PymallocLayout.poolOverhead - row.blocks * row.size
      #expect(waste == row.waste, "class \(c): 'bytes lost to quantization' would not match CPython's")
      #expect(waste >= 0 && waste < row.size, "class \(c): one more block would fit, so blocks/pool is wrong")
    }
  }

  @Test("every request 1...512 maps to class (n − 1) >> 4, whose block is the smallest that fits")
  func requestToClass() {
    for n in 1...PymallocLayout.smallRequestThreshold {
      let c = PymallocLayout.sizeClass(of: n)
      let size = PymallocLayout.blockSize(ofClass: c)
      #expect(c == (n - 1) / 16, "request \(n): wrong class, so usable size / realloc 75 % rule break")
      #expect(size >= n && size - n < 16, "request \(n) → class \(c) (\(size) B): not the tightest class")
    }
    #expect(PymallocLayout.sizeClass(of: 512) == 31, "512 must be the last class; 513 must go raw")
  }

  @Test("pool header fields sit at CPython's offsets inside the 48-byte POOL_OVERHEAD")
  func poolHeaderOffsets() {
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 48, alignment: 16)
    defer { buffer.deallocate() }
    buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 48)
    let pool = PoolRef(buffer)
    pool.count = 0x0101_0101
    pool.freeblock = UnsafeMutableRawPointer(bitPattern: 0x1111_1110)
    pool.nextpool = PoolRef(UnsafeMutableRawPointer(bitPattern: 0x2222_2220)!)
    pool.prevpool = PoolRef(UnsafeMutableRawPointer(bitPattern: 0x3333_3330)!)
    pool.arenaIndex = 0x4444
    pool.szidx = 0x55
    pool.nextoffset = 0x6666
    pool.maxnextoffset = 0x7777
    func word(_ offset: Int) -> UInt64 { buffer.load(fromByteOffset: offset, as: UInt64.self) }
    func half(_ offset: Int) -> UInt32 { buffer.load(fromByteOffset: offset, as: UInt32.self) }
    #expect(half(0) == 0x0101_0101, "ref.count at 0: stats and frees read the wrong count")
    #expect(word(8) == 0x1111_1110, "freeblock at 8")
    #expect(word(16) == 0x2222_2220, "nextpool at 16 = two pointers in: the usedpools phantom-head trick breaks")
    #expect(word(24) == 0x3333_3330, "prevpool at 24: the usedpools phantom-head trick breaks")
    #expect(half(32) == 0x4444, "arenaindex at 32")
    #expect(half(36) == 0x55, "szidx at 36")
    #expect(half(40) == 0x6666, "nextoffset at 40")
    #expect(half(44) == 0x7777, "maxnextoffset at 44: the header would spill past POOL_OVERHEAD")
  }

  @Test("a free-list link fits in the smallest block")
  func freeLinkFits() {
    #expect(MemoryLayout<UnsafeMutableRawPointer?>.size == 8, "the free-block link is one machine word")
    #expect(MemoryLayout<UnsafeMutableRawPointer?>.size <= PymallocLayout.blockSize(ofClass: 0),
            "a 16-byte free block must hold its link; calloc zeroing and the debug pads assume the rest is spare")
  }

  @Test("ArenaCoverage is two Int32s, 8 bytes: bottom nodes are 16,384 × 8 = 131,072 bytes")
  func arenaCoverageLayout() {
    #expect(MemoryLayout<ArenaCoverage>.size == 8, "arena_coverage_t {int32 tail_hi, tail_lo}: 8 bytes")
    #expect(MemoryLayout<ArenaCoverage>.stride == 8, "bottom-node indexing assumes an 8-byte stride")
    #expect(MemoryLayout<ArenaCoverage>.alignment == 4, "calloc'd bottom nodes need only 4-byte alignment")
  }

  @Test("radix-tree levels cover 64 address bits and nodes are 262,144 / 262,144 / 131,072 bytes")
  func arenaMapNodeSizes() {
    #expect(2 * ArenaMap.interiorBits + ArenaMap.bottomBits + 20 == 64,
            "top + mid + bottom + ARENA_BITS must be 64 (bpo-45526); otherwise high addresses alias")
    #expect(ArenaMap.nodeEntries == 32_768 && ArenaMap.bottomEntries == 16_384, "entries per node (2^15, 2^14)")
    #expect(ArenaMap.rootBytes == 262_144, "'# bytes lost to arena map root' would differ from CPython's")
    #expect(ArenaMap.midBytes == 262_144, "'# bytes lost to arena map mid' per node would differ")
    #expect(ArenaMap.bottomBytes == 131_072, "'# bytes lost to arena map bot' per node would differ")
    #expect(ArenaMap.bottomBytes == ArenaMap.bottomEntries * MemoryLayout<ArenaCoverage>.stride,
            "bottom-node byte size must be entries × sizeof(arena_coverage_t)")
  }

  @Test("nfp2lasta has MAX_POOLS_IN_ARENA + 1 slots and the descriptor vector starts at 16")
  func arenaBookkeepingSizes() throws {
    let heap = Pymalloc()
    #expect(heap.nfp2lasta.count == 65, "nfp2lasta[0...64]: an arena with 64 free pools would index past the end")
    #expect(heap.arenas.isEmpty, "a fresh instance owns no descriptor")
    let p = try #require(heap.malloc(UInt64(1)))
    #expect(heap.arenas.count == 16, "INITIAL_ARENA_OBJECTS: first new_arena grows the vector to 16")
    let a = try #require(heap.arenas[0].address)
    let pools = heap.arenas[0].ntotalpools
    #expect(pools == (a.address % PymallocLayout.poolSize == 0 ? 64 : 63),
            "an arena loses exactly one pool iff its base is not 16 KiB aligned")
    heap.free(p)
  }
}
