// MimallocBinTests.swift — the size-class table of mimalloc 2.1.2 (spec mimalloc.md §1.3–§1.5): every bin's
// block size, every request-range boundary of §1.4, usable size == bin size for n = 0…131072, the large/huge
// usable sizes of the 2.1.2 column, and the `reserved` examples of §1.5.
import Testing

@testable import AllocUnderTest

/// §1.4: (bin, block bytes, first request, last request) for bins 1…52.
private let binTable: [(bin: Int, size: Int, low: Int, high: Int)] = [
  (1, 8, 0, 8), (2, 16, 9, 16), (4, 32, 17, 32), (6, 48, 33, 48), (8, 64, 49, 64),
  (9, 80, 65, 80), (10, 96, 81, 96), (11, 112, 97, 112), (12, 128, 113, 128),
  (13, 160, 129, 160), (14, 192, 161, 192), (15, 224, 193, 224), (16, 256, 225, 256),
  (17, 320, 257, 320), (18, 384, 321, 384), (19, 448, 385, 448), (20, 512, 449, 512),
  (21, 640, 513, 640), (22, 768, 641, 768), (23, 896, 769, 896), (24, 1024, 897, 1024),
  (25, 1280, 1025, 1280), (26, 1536, 1281, 1536), (27, 1792, 1537, 1792), (28, 2048, 1793, 2048),
  (29, 2560, 2049, 2560), (30, 3072, 2561, 3072), (31, 3584, 3073, 3584), (32, 4096, 3585, 4096),
  (33, 5120, 4097, 5120), (34, 6144, 5121, 6144), (35, 7168, 6145, 7168), (36, 8192, 7169, 8192),
  (37, 10240, 8193, 10240), (38, 12288, 10241, 12288), (39, 14336, 12289, 14336), (40, 16384, 14337, 16384),
  (41, 20480, 16385, 20480), (42, 24576, 20481, 24576), (43, 28672, 24577, 28672), (44, 32768, 28673, 32768),
  (45, 40960, 32769, 40960), (46, 49152, 40961, 49152), (47, 57344, 49153, 57344), (48, 65536, 57345, 65536),
  (49, 81920, 65537, 81920), (50, 98304, 81921, 98304), (51, 114688, 98305, 114688), (52, 131072, 114689, 131072),
]

@Suite("Mimalloc bins")
struct MimallocBinTests {
  @Test("the static queue table: bins 0…74 in words, 73 and 74 mark the huge and full queues")
  func queueTable() {
    var words: [Int] = [1, 1, 2, 3, 4, 5, 6, 7, 8]
    var base = 8
    while words.count < 73 {
      for k in 1...4 { words.append(base + k * base / 4) }
      base *= 2
    }
    #expect(words.count == 73)
    for bin in 0..<73 {
      #expect(SizeClass.blockSize(ofBin: bin) == words[bin] * 8, "bin \(bin)")
    }
    #expect(SizeClass.blockSize(ofBin: 72) == 524288 * 8)
    #expect(SizeClass.blockSize(ofBin: 73) == 131_080)
    #expect(SizeClass.blockSize(ofBin: 74) == 131_088)
  }

  @Test("every bin's request range of §1.4, boundaries included; bins 0, 3, 5, 7 are never produced")
  func requestRanges() {
    for row in binTable {
      #expect(SizeClass.bin(row.low) == row.bin, "n = \(row.low)")
      #expect(SizeClass.bin(row.high) == row.bin, "n = \(row.high)")
      #expect(SizeClass.blockSize(ofBin: row.bin) == row.size)
    }
    #expect(SizeClass.bin(131_073) == MiConst.binHuge)
    var produced = Set<Int>()
    for n in 0...131_072 { produced.insert(SizeClass.bin(n)) }
    #expect(produced == Set(binTable.map(\.bin)))
  }

  @Test("usable size equals the bin block size for every n = 0…131072")
  func usableEqualsBinSize() throws {
    let mi = Mimalloc()
    let heap = mi.mainThread.backing
    var live: [Int] = []
    for n in 0...131_072 {
      let p = try #require(heap.malloc(UInt64(n)))
      let expected = SizeClass.blockSize(ofBin: SizeClass.bin(n))
      if mi.usableSize(p) != expected { Issue.record("n = \(n): usable \(mi.usableSize(p)) != \(expected)") }
      live.append(p)
      if live.count == 64 {
        live.forEach { mi.mainThread.free($0) }
        live.removeAll(keepingCapacity: true)
      }
    }
    live.forEach { mi.mainThread.free($0) }
    #expect(mi.checkInvariants().isEmpty)
  }

  @Test("large and huge usable sizes of the 2.1.2 column: a large page's whole slice run is its block")
  func largeAndHugeSizes() throws {
    let rows: [(n: UInt64, usable: Int)] = [
      (131_073, 196_608), (200_000, 262_144), (524_289, 1_048_576), (1_048_577, 1_572_864),
      (16_777_216, 16_777_216), (16_777_217, 17_825_792), (33_554_433, 37_748_736), (67_108_872, 71_303_168),
    ]
    let mi = Mimalloc()
    let thread = mi.mainThread
    for row in rows {
      let p = try #require(thread.backing.malloc(row.n))
      #expect(mi.usableSize(p) == row.usable, "n = \(row.n)")
      thread.free(p)
    }
    #expect(mi.checkInvariants().isEmpty)
  }

  @Test("reserved blocks per page (§1.5): 8 B → 8189, 48 → 1362, 1024 → 64, 16 KiB → 4, 20 KiB → 25, 128 KiB → 4")
  func reservedExamples() throws {
    let mi = Mimalloc()
    for (n, reserved) in [(8, 8189), (48, 1362), (1024, 64), (16_384, 4), (20_480, 25), (131_072, 4)] {
      let p = try #require(mi.mainThread.backing.malloc(UInt64(n)))
      let page = try #require(mi._page(containing: p))
      #expect(page.reserved == reserved, "bsize \(n)")
      #expect(page.capacity == min(reserved, max(4096 / n, 4)), "first extension of bsize \(n)")
      mi.mainThread.free(p)
    }
  }

  @Test("2.0.9's start offset 384 (#700) gives 8144 blocks of 8 B and 63 of 1 KiB")
  func legacyStartOffset() {
    let offset8 = SizeClass.pageStartOffset(blockSize: 8, legacy384: true)
    let offset1k = SizeClass.pageStartOffset(blockSize: 1024, legacy384: true)
    #expect((MiConst.sliceSize - offset8) / 8 == 8144)
    #expect((MiConst.sliceSize - offset1k) / 1024 == 63)
    #expect(SizeClass.pageStartOffset(blockSize: 256) % 256 == 0)
    #expect(SizeClass.pageStartOffset(blockSize: 256, legacy384: true) % 256 == 128)
  }

  @Test("good OS sizes and page slices of large blocks")
  func largePageSlices() {
    #expect(SizeClass.goodOSAllocSize(131_073) == 135_168)
    #expect(SizeClass.pageSlices(blockSize: 135_168) == 3)
    #expect(SizeClass.pageSlices(blockSize: 589_824) == 16)
    #expect(SizeClass.pageSlices(blockSize: 16_384) == 1)
    #expect(SizeClass.pageSlices(blockSize: 20_480) == 8)
    #expect(SizeClass.spanBin(1) == 1 && SizeClass.spanBin(8) == 8 && SizeClass.spanBin(511) <= MiConst.segmentBinMax)
  }
}
