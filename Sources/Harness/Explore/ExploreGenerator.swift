// ExploreGenerator.swift — small heaps-family programs for schedule exploration (`alloc-check explore
// --generate`, issue 14). The property generators (HeapsProgramGenerator) write long programs in which
// barriers (spawn, exit, heap_new …) come often; exploration wants the opposite: a few threads started
// once, then a short body of ops that really run concurrently and meet inside mimalloc's cross-thread free
// protocol. So a program here is
//
//   spawn × (K − 1); each thread allocates 2–4 blocks of the program's size (so they share pages);
//   a body of ops on random threads: mostly frees of a block another thread allocated (the remote push,
//   and — once a page is full — the DELAYED_FREEING hand-off to the owner's heap), local frees, mallocs
//   and tagged heap_mallocs of the same size (the owner drains its delayed list), collects, quiescent
//   points, now and then a thread exiting with blocks (abandonment; later frees go into its segment and a
//   forced collect reclaims it) or a short heap_new … heap_destroy/delete episode.
//
// One size per program, drawn from small bins (many blocks a page) to 16 KiB (4 a page, full pages soon).
// Every op goes through the property generator's builder (ProgramState), so programs are always valid.
// Deterministic for a seed; `ops` counts the ops that run (thread switches not counted).

import AllocUnderTest

public struct ExploreGenerator: Sendable {
  /// Logical threads at the start (t0 included), 2…8.
  public var threads: Int
  /// Ops that run (every op but `thread(tK)`), at least the setup's.
  public var ops: Int

  public init(threads: Int = 3, ops: Int = 14) {
    self.threads = threads
    self.ops = ops
  }

  public static let sizes: [UInt64] = [16, 32, 48, 64, 128, 1024, 4096, 16384]

  public func generate(seed: UInt64) -> Program {
    var rng = SeededRandom(seed: seed)
    var g = Body(size: Self.sizes.randomElement(using: &rng)!)
    for _ in 1..<max(threads, 1) { g.emit(.spawn) }
    for t in g.b.state.liveThreads {
      g.switchTo(t)
      for _ in 0..<Int.random(in: 2...4, using: &rng) { g.allocate(&rng) }
    }
    while g.running < ops { g.step(&rng) }
    return Program(g.b.ops)
  }

  /// The builder and who allocated each block.
  struct Body {
    var b = HeapsProgramGenerator.Builder(profile: .crossThread)
    let size: UInt64
    /// Allocating thread of each block id.
    var owner: [Int: Int] = [:]
    /// Ops emitted that run (not thread switches).
    var running = 0

    init(size: UInt64) { self.size = size }

    @discardableResult
    mutating func emit(_ op: Op) -> Bool {
      let before = b.ops.count
      let thread = b.state.current
      b.emit(op)
      guard b.ops.count > before else { return false }
      if op.isAllocating { owner[b.state.blocksDefined - 1] = thread }
      if op.kind != .switchThread { running += 1 }
      return true
    }

    mutating func switchTo(_ t: Int) {
      if b.state.current != t { emit(.switchThread(ThreadRef(t))) }
    }

    mutating func allocate(_ rng: inout SeededRandom) {
      // Mostly the backing (mem) heap, so the blocks of a thread share its pages; now and then a tagged heap.
      if Int.random(in: 0..<6, using: &rng) == 0 {
        emit(.heapMalloc(.tagged([.object, .gc, .mem].randomElement(using: &rng)!), size: size))
      } else {
        emit(.malloc(size: size))
      }
    }

    mutating func step(_ rng: inout SeededRandom) {
      switchTo(b.state.liveThreads.randomElement(using: &rng)!)
      let me = b.state.current
      let foreign = b.live.filter { owner[$0] != me }
      let own = b.live.filter { owner[$0] == me }
      switch Int.random(in: 0..<100, using: &rng) {
      case ..<48 where !foreign.isEmpty: emit(.free(BlockRef(foreign.randomElement(using: &rng)!)))
      case ..<55 where !own.isEmpty: emit(.free(BlockRef(own.randomElement(using: &rng)!)))
      case ..<72: allocate(&rng)
      case ..<80: emit(.collect(force: Int.random(in: 0..<3, using: &rng) == 0))
      case ..<85: emit(.heapCollect(.tagged([.object, .gc, .mem].randomElement(using: &rng)!), force: Bool.random(using: &rng)))
      case ..<89: emit(.quiescent)
      case ..<94 where me != 0 && !own.isEmpty: emit(.exitThread)  // abandons the segment holding `own`
      case ..<96 where b.state.liveThreadCount < 4: emit(.spawn)
      case ..<100:
        guard emit(.heapNew) else { return allocate(&rng) }
        let h = HeapRef.made(b.state.liveHeaps(ownedBy: me).last!)
        emit(.heapMalloc(h, size: size))
        emit(Bool.random(using: &rng) ? .heapDestroy(h) : .heapDelete(h))
      default: allocate(&rng)
      }
    }
  }
}
