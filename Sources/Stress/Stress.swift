// Stress.swift — the real-thread stress runner's workload description (style R39) and parameters, shared
// with the command line so they print the same way everywhere. The runner: StressRun.swift; the allocators
// it drives: StressAllocator.swift; block accounting: StressLedger.swift. Command: `alloc-check stress`.
//
// Workload (modelled on mimalloc's test/test-stress.c, spec mimalloc.md §8.2, plus churn and bounds):
// - T OS threads ("lanes"), each driving its own allocator thread state (mimalloc: a `MiThread` from
//   `Mimalloc.newThread()`; pymalloc: one lock around the allocator, as CPython's GIL);
// - sizes small-biased with a large tail (``SizeMix``); each block carries a canary derived from its id,
//   checked before every free (S1);
// - after a malloc, with chance 1/4 the block is exchanged with a random slot of a shared transfer array;
//   what comes back is freed later by this thread (a cross-thread free);
// - churn: a thread exits holding its blocks (they become orphans that other threads free, into abandoned
//   segments) and a new OS thread with a fresh thread state takes its place;
// - rounds: all threads join every `roundOperations` ops; the main thread then checks invariants (MI*,
//   PM*) and the footprint bound (S5) on a quiescent allocator;
// - teardown: slots and orphans freed from the main thread, each thread frees its blocks, then each owner
//   collects and must hold 0 blocks (S3), threads exit, the main thread's forced collect reclaims the
//   abandoned segments and everything returns to zero (S4); every id freed exactly once (S2).
// Not a benchmark: ops/s is progress (but `alloc-check stress` is the project's command for the rates).

/// Which allocator the runner drives.
public enum StressAllocatorKind: String, CaseIterable, Sendable {
  /// The mimalloc reference: one `MiThread` per OS thread, lock-free cross-thread frees.
  case mimalloc
  /// The pymalloc reference behind one `Mutex` (the GIL model: pymalloc is not thread-safe).
  case pymalloc
}

/// Block size distribution. Every choice is one draw of the lane's seeded stream.
public enum SizeMix: String, CaseIterable, Sendable {
  /// 70 % 8…128 B, 20 % 129 B…1 KiB, 8 % 1…16 KiB, 1.8 % 16…128 KiB, 0.2 % 128 KiB…1 MiB (mimalloc large
  /// pages; pymalloc sends everything above 512 B to the raw allocator).
  case mixed
  /// 8…512 B only, 80 % at most 128 B (pymalloc's whole range; mimalloc small pages only).
  case small

  /// A size for the draw `r`.
  public func size(_ r: UInt64) -> Int {
    let pick = Int(r % 1000)
    let x = Int(truncatingIfNeeded: (r >> 16) & 0xFFFF_FFFF)
    func within(_ lo: Int, _ hi: Int) -> Int { lo + x % (hi - lo + 1) }
    switch self {
    case .mixed:
      if pick < 700 { return within(8, 128) }
      if pick < 900 { return within(129, 1024) }
      if pick < 980 { return within(1025, 16 << 10) }
      if pick < 998 { return within((16 << 10) + 1, 128 << 10) }
      return within((128 << 10) + 1, 1 << 20)
    case .small:
      return pick < 800 ? within(8, 128) : within(129, 512)
    }
  }

  public var description: String {
    switch self {
    case .mixed: "mixed (70% 8-128 B, 20% -1 KiB, 8% -16 KiB, 1.8% -128 KiB, 0.2% -1 MiB)"
    case .small: "small (80% 8-128 B, 20% 129-512 B)"
    }
  }
}

/// Parameters of a stress run, printed first by every run (style R39). Every random choice comes from
/// `seed`: lane i's generation g draws from ``StressParameters/laneSeed(lane:generation:)``.
public struct StressParameters: Sendable, Equatable, CustomStringConvertible {
  public var allocator: StressAllocatorKind = .mimalloc
  public var threads: Int
  /// Total ops (one malloc or one free each) over all threads; nil with a duration.
  public var operations: Int?
  /// Run for this long instead (whole rounds: the last one finishes after the limit).
  public var duration: Duration?
  public var seed: UInt64
  public var sizes: SizeMix = .mixed
  /// Shared transfer slots (test-stress: 1000).
  public var slots = 1000
  /// A thread exits holding its blocks after a random count of its ops in [N/2, 3N/2]; 0 = never.
  public var churnEvery = 50_000
  /// Blocks one thread keeps at most (it frees instead of allocating at the cap).
  public var liveBlocks = 2000
  /// Ops of all threads between two joins (round-end checks).
  public var roundOperations = 1_000_000
  /// Seeded bug names (MimallocBug or PymallocBug raw values).
  public var bugs: [String] = []
  /// Test hook (a broken runner, for S2's proof): a block taken out of a transfer slot is dropped, never
  /// freed — every hand-over that meets a full slot loses one block.
  package var _loseHandOvers = false

  public init(threads: Int, operations: Int?, seed: UInt64) {
    self.threads = threads
    self.operations = operations
    self.seed = seed
  }

  /// The stream of lane `lane` in its `generation` (0 for the first thread, +1 per churn).
  public func laneSeed(lane: Int, generation: Int) -> UInt64 {
    StressMath.mix(seed ^ StressMath.mix(UInt64(lane) << 32 | UInt64(generation)))
  }

  public var description: String {
    let stop = operations.map { "ops=\($0)" } ?? duration.map { "for=\($0)" } ?? "ops=?"
    return "allocator=\(allocator.rawValue) threads=\(threads) \(stop) seed=0x\(String(seed, radix: 16)) sizes=\(sizes.rawValue) "
      + "slots=\(slots) churn-every=\(churnEvery) live=\(liveBlocks) round=\(roundOperations) (not a benchmark)"
  }
}

/// The mixing function of every derived seed and canary (splitmix64's finaliser).
public enum StressMath {
  public static func mix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
