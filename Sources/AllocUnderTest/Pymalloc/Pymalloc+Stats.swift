// Pymalloc+Stats.swift — statistics as `_PyObject_DebugMallocStats` computes them: a walk over every
// allocated arena and carved pool (not running counters), so printing the stats also audits the
// structures. Rendering to CPython's exact text: DebugMallocStats.swift.
// Guarded by PM7 (counters vs structures) in ``Pymalloc/checkInvariants()``.

/// One row of the size-class table.
public struct PymallocClassStats: Sendable, Equatable {
  public var sizeClass: Int
  public var blockSize: Int
  /// Pools of this class with at least one allocated block (empty cached pools count as unused).
  public var pools: Int
  public var blocksInUse: Int
  /// pools × blocks/pool − blocksInUse (includes blocks not carved yet).
  public var availableBlocks: Int
}

/// Per-arena view, for the "memory given back" rule.
public struct PymallocArenaStats: Sendable, Equatable {
  public var usedPools: Int
  public var freePools: Int
  public var totalPools: Int
}

/// Everything `sys._debugmallocstats()` prints in its pymalloc section, as numbers.
public struct PymallocStats: Sendable, Equatable {
  /// All 32 classes, in order (rows with zero pools are not printed).
  public var classes: [PymallocClassStats]
  public var arenas: [PymallocArenaStats]
  public var arenasAllocatedTotal: Int
  public var arenasHighwater: Int
  public var arenasCurrent: Int
  public var unusedPools: Int
  public var arenaAlignmentBytes: Int
  public var arenaMapMidNodes: Int
  public var arenaMapBottomNodes: Int

  public var arenasReclaimed: Int { arenasAllocatedTotal - arenasCurrent }
  public var bytesInAllocatedBlocks: Int { classes.reduce(0) { $0 + $1.blocksInUse * $1.blockSize } }
  public var bytesInAvailableBlocks: Int { classes.reduce(0) { $0 + $1.availableBlocks * $1.blockSize } }
  public var poolHeaderBytes: Int { classes.reduce(0) { $0 + $1.pools * PymallocLayout.poolOverhead } }
  public var quantizationBytes: Int {
    classes.reduce(0) { $0 + $1.pools * ((PymallocLayout.poolSize - PymallocLayout.poolOverhead) % $1.blockSize) }
  }
  /// The first "Total": equals arenasCurrent × ARENA_SIZE when the structures are sound.
  public var totalBytes: Int {
    bytesInAllocatedBlocks + bytesInAvailableBlocks + unusedPools * PymallocLayout.poolSize + poolHeaderBytes
      + quantizationBytes + arenaAlignmentBytes
  }
}

extension Pymalloc {
  /// Walks every allocated arena and carved pool, as `_PyObject_DebugMallocStats` does.
  public func stats() -> PymallocStats {
    var classes = (0..<PymallocLayout.sizeClassCount).map {
      PymallocClassStats(sizeClass: $0, blockSize: PymallocLayout.blockSize(ofClass: $0), pools: 0,
                         blocksInUse: 0, availableBlocks: 0)
    }
    var perArena: [PymallocArenaStats] = []
    var current = 0, unused = 0, alignment = 0
    for a in arenas where a.address != nil {
      current += 1
      unused += a.nfreepools
      alignment += a.alignmentLoss
      var used = 0
      for k in 0..<a.carvedCount {
        let pool = a.carvedPool(k)
        guard pool.count > 0 else { continue }
        let c = Int(pool.szidx)
        guard c < PymallocLayout.sizeClassCount else { continue }
        used += 1
        classes[c].pools += 1
        classes[c].blocksInUse += Int(pool.count)
        classes[c].availableBlocks += PymallocLayout.blocksPerPool(ofClass: c) - Int(pool.count)
      }
      perArena.append(PymallocArenaStats(usedPools: used, freePools: a.nfreepools, totalPools: a.ntotalpools))
    }
    if has(.statsOverCountClass3) && classes[3].pools > 0 { classes[3].blocksInUse += 1 }
    if has(.statsExtraPoolClass0) && classes[0].pools > 0 { classes[0].pools += 1 }
    return PymallocStats(
      classes: classes, arenas: perArena, arenasAllocatedTotal: ntimesArenaAllocated,
      arenasHighwater: narenasHighwater, arenasCurrent: current, unusedPools: unused,
      arenaAlignmentBytes: alignment, arenaMapMidNodes: arenaMap.midNodes.count,
      arenaMapBottomNodes: arenaMap.bottomNodes.count)
  }

  /// The pymalloc section of `sys._debugmallocstats()`, byte for byte in CPython's layout.
  public func debugMallocStats() -> String {
    DebugMallocStats.render(stats(), misreportQuantization: bugs.contains(.statsQuantizationWrong))
  }
}
