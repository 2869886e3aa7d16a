// StatsRules.swift — rules on the allocator's statistics after an op: O9 they match the model's live
// blocks, O10 they are self-consistent, O11 memory is given back.

public enum StatsRules {
  /// O9: for every class, blocks in use = live pool blocks whose request falls in that class (for a block
  /// resized in place: its original request); and bytes in
  /// allocated blocks = Σ in-use × block size.
  public static func matchModel(opIndex: Int, _ s: StatsSnapshot, _ live: LiveBlocks, _ g: SmallObjectGeometry) -> Violation? {
    // The model's per-class counts, kept as blocks come and go (``LiveBlocks/countClasses(_:)``); a model
    // without them is counted here.
    var expected = live.classCounts
    if expected.count != g.classCount {
      expected = Array(repeating: 0, count: g.classCount)
      for b in live.blocks where b.small && g.isSmall(b.classRequest) { expected[g.sizeClass(b.classRequest)] += 1 }
    }
    return matchModel(opIndex: opIndex, s, classCounts: expected, g)
  }

  /// O9 against per-class counts of the live pool blocks (a model that keeps them itself: the host's).
  public static func matchModel(opIndex: Int, _ s: StatsSnapshot, classCounts expected: [Int], _ g: SmallObjectGeometry) -> Violation? {
    for row in s.classes where row.sizeClass < expected.count && row.blocksInUse != expected[row.sizeClass] {
      return Violation(opIndex: opIndex, .statsMatchModel,
        "class \(row.sizeClass) (\(row.blockSize) bytes): stats say \(row.blocksInUse) blocks in use, the program holds \(expected[row.sizeClass])")
    }
    let bytes = expected.enumerated().reduce(0) { $0 + $1.element * g.blockSize($1.offset) }
    if s.bytesInAllocatedBlocks != bytes {
      return Violation(opIndex: opIndex, .statsMatchModel,
        "# bytes in allocated blocks is \(s.bytesInAllocatedBlocks), the program's pool blocks take \(bytes)")
    }
    return nil
  }

  /// O10: pools × blocks/pool = in use + available; 0 < pools ≤ in use or both 0; the used pools of the
  /// classes are the used pools of the arenas; every arena's pools add up; Total = arenas × ARENA_SIZE.
  public static func consistent(opIndex: Int, _ s: StatsSnapshot, _ g: SmallObjectGeometry) -> Violation? {
    func v(_ d: String) -> Violation { Violation(opIndex: opIndex, .statsConsistent, d) }
    for r in s.classes {
      let bpp = g.blocksPerPool(r.sizeClass)
      if r.pools * bpp != r.blocksInUse + r.availableBlocks {
        return v("class \(r.sizeClass): \(r.pools) pools × \(bpp) blocks ≠ \(r.blocksInUse) in use + \(r.availableBlocks) available")
      }
      if r.pools > r.blocksInUse || (r.pools == 0) != (r.blocksInUse == 0) {
        return v("class \(r.sizeClass): \(r.pools) pools for \(r.blocksInUse) blocks in use")
      }
    }
    let classPools = s.classes.reduce(0) { $0 + $1.pools }
    let arenaPools = s.arenas.reduce(0) { $0 + $1.usedPools }
    if classPools != arenaPools { return v("size classes use \(classPools) pools, arenas hold \(arenaPools) used pools") }
    for (i, a) in s.arenas.enumerated() where a.usedPools + a.freePools > a.totalPools {
      return v("arena #\(i): \(a.usedPools) used + \(a.freePools) free pools > \(a.totalPools)")
    }
    if s.arenas.count != s.arenasCurrent { return v("\(s.arenas.count) arenas walked, \(s.arenasCurrent) current") }
    if s.totalBytes != s.arenasCurrent * g.arenaSize {
      return v("Total \(s.totalBytes) ≠ \(s.arenasCurrent) arenas × \(g.arenaSize)")
    }
    return nil
  }

  /// O11: at most one arena has no used pool (pymalloc keeps one wholly free arena, bpo-37257, and returns
  /// the others); hence with no pool block live, at most one arena is mapped.
  public static func memoryGivenBack(opIndex: Int, _ s: StatsSnapshot, _ live: LiveBlocks) -> Violation? {
    memoryGivenBack(opIndex: opIndex, s, smallLive: live.smallCount)
  }

  /// O11 given how many pool blocks are live.
  public static func memoryGivenBack(opIndex: Int, _ s: StatsSnapshot, smallLive: Int) -> Violation? {
    let idle = s.arenas.reduce(0) { $0 + ($1.usedPools == 0 ? 1 : 0) }
    if idle > 1 {
      return Violation(opIndex: opIndex, .memoryGivenBack,
        "\(idle) arenas hold no used pool; all but one should have been returned to the OS (\(s.arenasCurrent) arenas mapped)")
    }
    if smallLive == 0 && s.arenasCurrent > 1 {
      return Violation(opIndex: opIndex, .memoryGivenBack, "no pool block is live but \(s.arenasCurrent) arenas stay mapped")
    }
    return nil
  }
}
