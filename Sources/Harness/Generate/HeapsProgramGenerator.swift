// HeapsProgramGenerator.swift — seeded generation of valid heaps-family programs (issue 3): several
// logical threads handing blocks to each other (cross-thread frees), first-class heaps made, used,
// visited, collected, deleted and destroyed, threads exiting while they hold blocks (abandonment) and
// new threads allocating afterwards (reclaim), QSBR quiescent points. Every op is drawn among those
// ``ProgramState`` accepts where it stands, so the result is always valid. Deterministic for a seed.

import AllocUnderTest

public struct HeapsProgramGenerator: Sendable {
  /// What the program stresses.
  public enum Profile: CaseIterable, Sendable {
    /// Two to four threads; blocks mostly freed by a thread other than their allocator.
    case crossThread
    /// First-class heaps: heap_new, heap_malloc, visit, collect, delete, destroy.
    case heapLifecycle
    /// Threads exit holding blocks; others free them and new threads (and their heaps) allocate.
    case abandonment
    /// CPython's object/gc heaps and quiescent points: pages held back by QSBR.
    case qsbr
    /// Everything, with sizes up to huge.
    case mixed
    /// One or two of the biggest small sizes (4–16 blocks a page): pages fill and go to the full queue,
    /// then empty again through local and cross-thread frees, visits, destroys and QSBR.
    case fullPages
    /// Episodes: a thread allocates and exits holding blocks; a fresh thread makes a heap_new heap,
    /// allocates from it first (its thread has no segment yet, so it looks for an abandoned one), and
    /// destroys or deletes it.
    case reclaim
  }

  public var length: Int
  /// nil: each program picks a profile at random.
  public var profile: Profile?
  public init(length: Int, profile: Profile? = nil) {
    self.length = length
    self.profile = profile
  }

  /// Request sizes around mimalloc 2.1.2's bin edges (block sizes 8, 16, 32, 48, 64, then four per power
  /// of two up to 128 KiB): each edge − 1, the edge, + 1.
  public static let binEdges: [UInt64] = {
    var edges: [UInt64] = [8, 16, 32, 48, 64]
    var p: UInt64 = 64
    while p < 131_072 {
      edges += [p + p / 4, p + p / 2, p + 3 * p / 4, 2 * p]
      p *= 2
    }
    return edges.flatMap { [$0 - 1, $0, $0 + 1] }
  }()

  /// The program for `seed`.
  public func generate(seed: UInt64) -> Program {
    var rng = SeededRandom(seed: seed)
    return generate(&rng)
  }

  public func generate(_ rng: inout SeededRandom) -> Program {
    let chosen = Profile.allCases.randomElement(using: &rng)!
    var b = Builder(profile: profile ?? chosen)
    let big: [UInt64] = [4096, 8192, 12288, 16384, 16384]
    b.fewSizes = [big.randomElement(using: &rng)!, big.randomElement(using: &rng)!]
    while b.ops.count < length { b.step(&rng) }
    return Program(b.ops)
  }

  /// One program under construction: the ops so far and their static state.
  struct Builder {
    let profile: Profile
    /// fullPages: the sizes of this program.
    var fewSizes: [UInt64] = []
    var ops: [Op] = []
    var state = ProgramState()
    /// Live block ids, kept in step with `state`.
    var live: [Int] = []

    init(profile: Profile) { self.profile = profile }

    mutating func emit(_ op: Op) {
      let dying = op.kind == .heapDestroy ? state.blocksByHome[.made(op.usedHeap!.madeID!)] ?? [] : []
      guard (try? state.apply(op, at: ops.count)) != nil else { return }
      if let used = op.usedRef { live.removeAll { $0 == used.id } }
      if !dying.isEmpty { live.removeAll { dying.contains($0) } }
      if op.isAllocating { live.append(state.blocksDefined - 1) }
      ops.append(op)
    }

    func size(_ rng: inout SeededRandom) -> UInt64 {
      if profile == .fullPages { return fewSizes.randomElement(using: &rng)! - UInt64.random(in: 0...15, using: &rng) }
      let r = Int.random(in: 0..<1000, using: &rng)
      switch r {
      case ..<700: return HeapsProgramGenerator.binEdges.prefix(90).randomElement(using: &rng)!  // ≤ ~4 KiB
      case ..<900: return UInt64.random(in: 0...1100, using: &rng)
      case ..<975: return HeapsProgramGenerator.binEdges.randomElement(using: &rng)!  // up to 128 KiB (medium)
      case ..<990 where profile == .mixed: return [131_073, 200_000, 524_289, 1_048_577].randomElement(using: &rng)!
      case ..<995 where profile == .mixed: return [16_777_217, 33_554_433].randomElement(using: &rng)!  // huge
      case ..<1000 where profile == .mixed: return [1 << 48, 1 << 56, UInt64(Int.max) + 1, UInt64.max].randomElement(using: &rng)!
      default: return UInt64.random(in: 1...256, using: &rng)
      }
    }

    func heap(_ rng: inout SeededRandom) -> HeapRef {
      let mine = state.liveHeaps(ownedBy: state.current)
      if profile == .fullPages {  // stay on one heap so its pages fill
        if let h = mine.last, Int.random(in: 0..<10, using: &rng) < 7 { return .made(h) }
        return .tagged([.object, .object, .gc, .mem].randomElement(using: &rng)!)
      }
      if !mine.isEmpty, profile == .heapLifecycle || Bool.random(using: &rng) {
        return .made(mine.randomElement(using: &rng)!)
      }
      switch profile {
      case .qsbr: return .tagged([.object, .gc, .gcPre, .mem].randomElement(using: &rng)!)
      default: return .tagged(HeapTag.allCases.randomElement(using: &rng)!)
      }
    }

    /// Weights per op family for this profile: (allocate, free, thread, heap, collect/qsbr).
    var weights: [Int] {
      switch profile {
      case .crossThread: [45, 40, 12, 1, 2]
      case .heapLifecycle: [40, 30, 4, 22, 4]
      case .abandonment: [40, 30, 20, 6, 4]
      case .qsbr: [40, 35, 10, 3, 12]
      case .mixed: [40, 32, 12, 10, 6]
      case .fullPages: [60, 15, 5, 12, 8]
      case .reclaim: [0, 0, 0, 0, 0]  // scripted: see `episode`
      }
    }

    mutating func step(_ rng: inout SeededRandom) {
      if profile == .reclaim { return episode(&rng) }
      if profile == .qsbr || profile == .fullPages, Int.random(in: 0..<12, using: &rng) == 0 { return fillAndDrain(&rng) }
      let w = weights
      var r = Int.random(in: 0..<w.reduce(0, +), using: &rng)
      var family = 0
      while r >= w[family] { r -= w[family]; family += 1 }
      switch family {
      case 0: allocate(&rng)
      case 1: free(&rng)
      case 2: threadOp(&rng)
      case 3: heapOp(&rng)
      default: maintenance(&rng)
      }
    }

    mutating func allocate(_ rng: inout SeededRandom) {
      let n = size(&rng)
      switch Int.random(in: 0..<20, using: &rng) {
      case ..<8 where profile != .fullPages: emit(.malloc(size: n))
      case ..<9: emit(.calloc(count: UInt64.random(in: 1...4, using: &rng), size: max(1, n / 4)))
      case ..<10: emit(.realloc(live.randomElement(using: &rng).map { BlockRef($0) }, size: n))
      case ..<18: emit(.heapMalloc(heap(&rng), size: n))
      default:
        let alignment: UInt64 = Int.random(in: 0..<12, using: &rng) == 0 ? 24 : 1 << UInt64.random(in: 3...13, using: &rng)
        emit(.heapMallocAligned(heap(&rng), size: n, alignment: alignment))
      }
    }

    mutating func free(_ rng: inout SeededRandom) {
      guard !live.isEmpty else { return allocate(&rng) }
      // Cross-thread frees come from freeing on whatever thread is current; threads switch often.
      emit(.free(BlockRef(live.randomElement(using: &rng)!)))
    }

    mutating func threadOp(_ rng: inout SeededRandom) {
      let threads = state.liveThreads
      switch Int.random(in: 0..<10, using: &rng) {
      case ..<3 where threads.count < 4 || profile == .abandonment: emit(.spawn)
      case ..<7: emit(.switchThread(ThreadRef(threads.randomElement(using: &rng)!)))
      default:
        if state.current != 0, profile == .abandonment || profile == .mixed || Int.random(in: 0..<3, using: &rng) == 0 {
          emit(.exitThread)
        } else {
          emit(.switchThread(ThreadRef(threads.randomElement(using: &rng)!)))
        }
      }
    }

    mutating func heapOp(_ rng: inout SeededRandom) {
      let mine = state.liveHeaps(ownedBy: state.current)
      switch Int.random(in: 0..<10, using: &rng) {
      case ..<3: emit(.heapNew)
      case ..<5: emit(.heapVisit(heap(&rng)))
      case ..<6: emit(.heapCollect(heap(&rng), force: Bool.random(using: &rng)))
      case ..<8: if let h = mine.randomElement(using: &rng) { emit(.heapDestroy(.made(h))) } else { emit(.heapNew) }
      default: if let h = mine.randomElement(using: &rng) { emit(.heapDelete(.made(h))) } else { emit(.heapNew) }
      }
    }

    /// reclaim: one episode (see ``Profile/reclaim``), with random counts, sizes and cross-thread frees.
    mutating func episode(_ rng: inout SeededRandom) {
      // A thread allocates, gives some blocks away to t0, and exits holding the rest.
      if state.liveThreadCount >= ProgramState.maxLiveThreads - 1 { emit(.switchThread(.main)) }
      emit(.spawn)
      let donor = state.threadAlive.count - 1
      emit(.switchThread(ThreadRef(donor)))
      let firstOfDonor = state.blocksDefined
      for _ in 0..<Int.random(in: 1...12, using: &rng) {
        emit(Bool.random(using: &rng) ? .malloc(size: size(&rng)) : .heapMalloc(.tagged(HeapTag.allCases.randomElement(using: &rng)!), size: size(&rng)))
      }
      if Int.random(in: 0..<4, using: &rng) == 0 { emit(.malloc(size: 16_777_217)) }  // a huge block changes hands too
      emit(.exitThread)
      // t0 frees some of the orphans: frees into an abandoned segment (mimalloc.md §6.4).
      let orphans = (firstOfDonor..<state.blocksDefined).filter { state.isLive(block: $0) }
      for b in orphans where Int.random(in: 0..<3, using: &rng) == 0 { emit(.free(BlockRef(b))) }
      // A fresh thread's first allocation comes from a heap_new heap.
      emit(.spawn)
      emit(.switchThread(ThreadRef(state.threadAlive.count - 1)))
      emit(.heapNew)
      let h = state.liveHeaps(ownedBy: state.current).last!
      for _ in 0..<Int.random(in: 1...6, using: &rng) { emit(.heapMalloc(.made(h), size: size(&rng))) }
      if Bool.random(using: &rng) { emit(.heapVisit(.made(h))) }
      emit(Int.random(in: 0..<3, using: &rng) == 0 ? .heapDelete(.made(h)) : .heapDestroy(.made(h)))
      if Bool.random(using: &rng) { emit(.exitThread) } else { emit(.switchThread(.main)) }
      if Int.random(in: 0..<3, using: &rng) == 0 { emit(.collect(force: true)) }
    }

    /// qsbr, fullPages: fill a page of one heap (a few more blocks than a page holds), free most of them
    /// from another thread, and let the owner collect — pages go full, empty remotely, and are parked for
    /// QSBR or freed.
    mutating func fillAndDrain(_ rng: inout SeededRandom) {
      let owner = state.current
      let h = heap(&rng)
      let n: UInt64 = [4096, 8192, 16384].randomElement(using: &rng)!
      let first = state.blocksDefined
      for _ in 0..<(Int(65_536 / n) + Int.random(in: 1...3, using: &rng)) { emit(.heapMalloc(h, size: n)) }
      let mine = (first..<state.blocksDefined).filter { state.isLive(block: $0) }
      let others = state.liveThreads.filter { $0 != owner }
      if let other = others.randomElement(using: &rng) { emit(.switchThread(ThreadRef(other))) } else {
        emit(.spawn)
        emit(.switchThread(ThreadRef(state.threadAlive.count - 1)))
      }
      for b in mine where Int.random(in: 0..<5, using: &rng) != 0 { emit(.free(BlockRef(b))) }
      emit(.switchThread(ThreadRef(owner)))
      emit(Bool.random(using: &rng) ? .heapCollect(h, force: Bool.random(using: &rng)) : .collect(force: false))
      if Bool.random(using: &rng) { emit(.quiescent) }
    }

    mutating func maintenance(_ rng: inout SeededRandom) {
      switch Int.random(in: 0..<4, using: &rng) {
      case 0: emit(.collect(force: Bool.random(using: &rng)))
      case 1: emit(.heapCollect(heap(&rng), force: true))
      default: emit(.quiescent)
      }
    }
  }
}
