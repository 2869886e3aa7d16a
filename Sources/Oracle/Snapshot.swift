// Snapshot.swift — what the oracle needs to know of an allocator's statistics, as plain numbers. Adapters
// convert their allocator's stats into this (pymalloc: `sys._debugmallocstats()` content).

public struct StatsSnapshot: Sendable, Equatable {
  public struct SizeClassRow: Sendable, Equatable {
    public var sizeClass: Int
    public var blockSize: Int
    public var pools: Int
    public var blocksInUse: Int
    public var availableBlocks: Int
    public init(sizeClass: Int, blockSize: Int, pools: Int, blocksInUse: Int, availableBlocks: Int) {
      self.sizeClass = sizeClass
      self.blockSize = blockSize
      self.pools = pools
      self.blocksInUse = blocksInUse
      self.availableBlocks = availableBlocks
    }
  }
  public struct ArenaRow: Sendable, Equatable {
    public var usedPools: Int
    public var freePools: Int
    public var totalPools: Int
    public init(usedPools: Int, freePools: Int, totalPools: Int) {
      self.usedPools = usedPools
      self.freePools = freePools
      self.totalPools = totalPools
    }
  }
  /// All size classes, in class order.
  public var classes: [SizeClassRow]
  public var arenas: [ArenaRow]
  public var arenasCurrent: Int
  public var bytesInAllocatedBlocks: Int
  /// The first "Total" line of the stats printout.
  public var totalBytes: Int

  public init(classes: [SizeClassRow], arenas: [ArenaRow], arenasCurrent: Int, bytesInAllocatedBlocks: Int,
              totalBytes: Int) {
    self.classes = classes
    self.arenas = arenas
    self.arenasCurrent = arenasCurrent
    self.bytesInAllocatedBlocks = bytesInAllocatedBlocks
    self.totalBytes = totalBytes
  }
}
