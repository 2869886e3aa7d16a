// ProgramState.swift — the one place that decides which ops are valid where: ``ProgramState`` replays a
// program's *static* effects (no allocator involved) — the current thread, which threads and first-class
// heaps are alive and who owns each heap, which blocks are live and which heap holds each — and
// ``ProgramState/apply(_:at:)`` throws the first broken rule as a ``ProgramError``. Validation,
// repair after a removal, the decoders, the text parser and the generators all go through it.
//
// Rules (each op runs on the current thread `cur`):
// - a block ref names a live block (defined earlier, not freed, realloc'd or destroyed with its heap);
// - `thread(tK)` names a live thread; `exit` is not allowed on t0; at most ``maxLiveThreads`` live;
// - a heap operand `hK` names a live first-class heap owned by `cur`; tagged heaps (mem, object, gc,
//   gc_pre) always name `cur`'s own; `heap_destroy` and `heap_delete` take first-class heaps only.

import AllocUnderTest

/// Where a live block lives, as far as the program text can tell.
public enum BlockHome: Hashable, Sendable {
  /// One of a live thread's four CPython heaps.
  case tagged(thread: Int, HeapTag)
  /// A live first-class heap.
  case made(Int)
  /// Its thread exited: the block sits in an abandoned segment, or in whichever heap reclaimed it —
  /// never a first-class heap (those do not reclaim).
  case orphan
}

/// The static state of a program between two ops.
public struct ProgramState: Sendable {
  /// More live logical threads than this is invalid (each costs segments; 32 covers every interleaving
  /// the oracle cares about).
  public static let maxLiveThreads = 32
  /// More live heap_new heaps on one thread than this is invalid (a heap operand is one byte).
  public static let maxLiveHeapsPerThread = 64

  public private(set) var current = 0
  public private(set) var threadAlive: [Bool] = [true]
  /// Owner thread of each first-class heap, by heap id.
  public private(set) var heapOwner: [Int] = []
  /// Op index that ended each heap (destroy, delete, or its thread's exit); nil while alive.
  public private(set) var heapEndedAt: [Int?] = []
  /// Home of each block id; nil once consumed.
  public private(set) var blockHome: [BlockHome?] = []
  /// Op index that consumed each block id (−1 while it is live), by id.
  private var consumedAt: [Int] = []
  /// Op index at which each dead thread exited.
  private var exitedAt: [Int: Int] = [:]
  /// Live blocks by home, so destroy and exit cost O(blocks moved). Thread 0's tagged heaps are not listed:
  /// t0 never exits and tagged heaps are never destroyed or deleted, so nothing asks for their blocks — and
  /// the pymalloc and domains families, whose every block lives there, pay no hashing per op.
  public private(set) var blocksByHome: [BlockHome: Set<Int>] = [:]
  /// The domains family's static facts (ProgramState+Domains.swift).
  public internal(set) var domains = DomainStatics()

  public init() {}

  public var liveThreadCount: Int { threadAlive.count(where: { $0 }) }
  /// Live threads in id order.
  public var liveThreads: [Int] { threadAlive.indices.filter { threadAlive[$0] } }
  /// Live first-class heaps owned by `thread`, in id order.
  public func liveHeaps(ownedBy thread: Int) -> [Int] {
    heapOwner.indices.filter { heapOwner[$0] == thread && heapEndedAt[$0] == nil }
  }
  public func isLive(block id: Int) -> Bool { blockHome.indices.contains(id) && blockHome[id] != nil }
  /// Number of block ids defined so far.
  public var blocksDefined: Int { blockHome.count }

  /// Checks `op` (the op at `index` of its program) against the state and applies it.
  /// Throws without changing anything when the op is invalid here.
  public mutating func apply(_ op: Op, at index: Int) throws(ProgramError) {
    try check(op, at: index)
    if case .domain(let d) = op { return applyDomain(d, at: index) }
    if let used = op.usedRef { consume(used.id, at: index) }
    switch op {
    case .malloc, .calloc, .realloc:
      define(home: .tagged(thread: current, .mem))
    case .heapMalloc(let h, _), .heapMallocAligned(let h, _, _):
      define(home: home(of: h))
    case .spawn:
      threadAlive.append(true)
    case .switchThread(let t):
      current = t.id
    case .exitThread:
      exitCurrent(at: index)
    case .heapNew:
      heapOwner.append(current)
      heapEndedAt.append(nil)
    case .heapDestroy(let h):
      for b in blocksByHome[.made(h.madeID!)] ?? [] { consume(b, at: index) }
      heapEndedAt[h.madeID!] = index
    case .heapDelete(let h):
      move(from: .made(h.madeID!), to: .tagged(thread: current, .mem))
      heapEndedAt[h.madeID!] = index
    case .free, .heapCollect, .heapVisit, .collect, .quiescent:
      break
    case .domain:
      preconditionFailure("applyDomain handles domain ops")
    }
  }

  /// Throws the first rule `op` breaks at `index`.
  public func check(_ op: Op, at index: Int) throws(ProgramError) {
    func fail(_ kind: ProgramError.Kind) -> ProgramError { ProgramError(opIndex: index, kind: kind) }
    if let ref = op.operandRef {
      guard ref.id >= 0, ref.id < blockHome.count else { throw fail(.undefinedRef(ref)) }
      if blockHome[ref.id] == nil { throw fail(.consumedRef(ref, consumedAt: consumedAt[ref.id])) }
      if (domains.blocks[ref.id] != nil) != op.kind.isDomainKind { throw fail(.familyMix(ref)) }
    }
    if case .domain(let d) = op { try checkDomain(d, at: index) }
    if let t = op.usedThread {
      guard t.id >= 0, t.id < threadAlive.count else { throw fail(.undefinedThread(t)) }
      guard threadAlive[t.id] else { throw fail(.deadThread(t, exitedAt: exitedAt[t.id] ?? -1)) }
    }
    if let h = op.usedHeap {
      switch h {
      case .tagged:
        if op.kind == .heapDestroy || op.kind == .heapDelete { throw fail(.notFirstClass(h)) }
      case .made(let id):
        guard id >= 0, id < heapOwner.count else { throw fail(.undefinedHeap(id)) }
        if let ended = heapEndedAt[id] { throw fail(.deadHeap(id, endedAt: ended)) }
        guard heapOwner[id] == current else {
          throw fail(.notHeapOwner(heap: id, owner: ThreadRef(heapOwner[id]), current: ThreadRef(current)))
        }
      }
    }
    if op.kind == .exitThread, current == 0 { throw fail(.exitOfMainThread) }
    if op.kind == .spawn, liveThreadCount >= Self.maxLiveThreads { throw fail(.tooManyThreads(Self.maxLiveThreads)) }
    if op.kind == .heapNew, liveHeaps(ownedBy: current).count >= Self.maxLiveHeapsPerThread {
      throw fail(.tooManyHeaps(Self.maxLiveHeapsPerThread))
    }
  }

  private func home(of h: HeapRef) -> BlockHome {
    switch h {
    case .tagged(let tag): .tagged(thread: current, tag)
    case .made(let id): .made(id)
    }
  }

  mutating func define(home: BlockHome) {
    blockHome.append(home)
    consumedAt.append(-1)
    if Self.isListed(home) { blocksByHome[home, default: []].insert(blockHome.count - 1) }
  }

  mutating func consume(_ id: Int, at index: Int) {
    if let home = blockHome[id], Self.isListed(home) { blocksByHome[home]?.remove(id) }
    blockHome[id] = nil
    consumedAt[id] = index
  }

  private mutating func move(from: BlockHome, to: BlockHome) {
    guard let moving = blocksByHome.removeValue(forKey: from), !moving.isEmpty else { return }
    for b in moving { blockHome[b] = to }
    if Self.isListed(to) { blocksByHome[to, default: []].formUnion(moving) }
  }

  /// Is a block of `home` kept in ``blocksByHome``? Every home but thread 0's tagged heaps.
  private static func isListed(_ home: BlockHome) -> Bool {
    if case .tagged(thread: 0, _) = home { return false }
    return true
  }

  /// `_mi_thread_done`: first-class heaps end (their blocks go to the backing heap), then every block of the
  /// thread's heaps becomes an orphan; t0 becomes current.
  private mutating func exitCurrent(at index: Int) {
    let t = current
    for h in liveHeaps(ownedBy: t) {
      move(from: .made(h), to: .orphan)
      heapEndedAt[h] = index
    }
    for tag in HeapTag.allCases { move(from: .tagged(thread: t, tag), to: .orphan) }
    threadAlive[t] = false
    exitedAt[t] = index
    current = 0
  }
}
