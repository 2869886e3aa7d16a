// StatsRules.swift — rules on the allocator's statistics after an op: O9 they match the model's live
// blocks, O10 they are self-consistent, O11 memory is given back.

public enum StatsRules {
  /// O9: for every class, blocks in use = live pool blocks whose request falls in that class (for a block
  /// resized in place: its original request); and bytes in
  /// allocated blocks = Σ in-use × block size.
  public static func matchModel(opIndex: Int, _ s: StatsSnapshot, _ live: LiveBlocks, _ g: SmallObjectGeometry) -> Violation? {
    matchModel(opIndex: opIndex, s, classCounts: live.classCounts(in: g), g)
  }

  /// O9, O10, O11 in that order, each when `rules` has it, against a model's per-class counts of live pool
  /// blocks (asked for only when O9 is on) and its number of live pool blocks.
  public static func check(opIndex: Int, _ s: StatsSnapshot, classCounts: @autoclosure () -> [Int], smallLive: Int,
                           _ g: SmallObjectGeometry, rules: RuleBits) -> Violation? {
    if rules.contains(.statsMatchModel), let v = matchModel(opIndex: opIndex, s, classCounts: classCounts(), g) { return v }
    if rules.contains(.statsConsistent), let v = consistent(opIndex: opIndex, s, g) { return v }
    if rules.contains(.memoryGivenBack), let v = memoryGivenBack(opIndex: opIndex, s, smallLive: smallLive) { return v }
    return nil
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
