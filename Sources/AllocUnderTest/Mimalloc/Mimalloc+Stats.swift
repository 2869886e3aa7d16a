// Mimalloc+Stats.swift — ``MimallocStats``: a snapshot computed by walking the live segments, their used
// pages, the abandoned pool and every live heap (R31: printing stats audits the structures it walks).
// Exact, no cached counters. Needs a quiescent allocator. Cross-checked by MI6/MI7.

/// A snapshot of one ``Mimalloc``.
public struct MimallocStats: Sendable, Equatable {
  /// One live heap's share.
  public struct HeapUsage: Sendable, Equatable {
    public var thread: UInt
    public var tag: HeapTag
    public var serial: Int
    public var noReclaim: Bool
    /// Σ page.used over the heap's pages (``Heap/usedBlocks()``).
    public var usedBlocks: Int
    public var pages: Int
  }

  /// Live segments (normal and huge) and the huge ones among them.
  public var segments = 0
  public var hugeSegments = 0
  /// Segments with thread id 0 (in the abandoned pool) and the used pages in them.
  public var abandonedSegments = 0
  public var abandonedPages = 0
  /// Used pages in all live segments.
  public var pages = 0
  /// Σ page.used over every used page (abandoned included): blocks handed out and not yet collected back.
  public var blocksInUse = 0
  /// Σ page.used · block size.
  public var bytesInUse = 0
  /// `blocksInUse` per queue index of the page's size (0…73; large and huge pages count in 73).
  public var blocksInUseByBin: [Int] = Array(repeating: 0, count: MiConst.binHuge + 1)
  /// The page source's mapped bytes.
  public var mappedBytes = 0
  /// Live threads (the main thread included).
  public var threadsAlive = 0
  /// Pages parked on some thread's QSBR list.
  public var qsbrParkedPages = 0
  /// Every live heap, by thread then serial.
  public var heaps: [HeapUsage] = []
}

extension Mimalloc {
  /// Walks the structures; see ``MimallocStats``.
  public func stats() -> MimallocStats {
    var s = MimallocStats()
    for segment in liveSegments {
      s.segments += 1
      if segment.isHuge { s.hugeSegments += 1 }
      let abandoned = segment.isAbandoned
      if abandoned { s.abandonedSegments += 1 }
      for page in segment.spans where page.isUsed {
        s.pages += 1
        if abandoned { s.abandonedPages += 1 }
        s.blocksInUse += page.used
        s.bytesInUse += page.used * page.blockSize
        s.blocksInUseByBin[page.isLargeOrHuge ? MiConst.binHuge : SizeClass.bin(page.blockSize)] += page.used
      }
    }
    s.mappedBytes = pages.stats.mappedBytes
    for thread in threads where thread.isAlive {
      s.threadsAlive += 1
      s.qsbrParkedPages += thread.qsbrPages.count
      for heap in thread.heaps.sorted(by: { $0.serial < $1.serial }) {
        s.heaps.append(.init(thread: thread.id, tag: heap.tag, serial: heap.serial, noReclaim: heap.noReclaim,
                             usedBlocks: heap.usedBlocks(), pages: heap.pageCount))
      }
    }
    return s
  }
}
