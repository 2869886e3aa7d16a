// Op.swift — one step of an op program: ``Op`` and the implicit names it uses: ``BlockRef`` (`p<k>`, the
// block an allocating op returned), ``ThreadRef`` (`t<k>`, a logical thread; t0 is the main thread) and
// ``HeapRef`` (a thread's CPython heap by tag, or `h<k>`, a first-class heap made by `heap_new`). Owns the
// per-op facts every other program file relies on: ``Op/isAllocating``, ``Op/usedRef``, ``Op/fields``,
// and the renumbering maps. Which ops are valid where (thread liveness, heap ownership, consumed blocks)
// is decided in one place, ``ProgramState`` (ProgramState.swift).
//
// Families: the pymalloc family uses malloc, calloc, realloc and free only; the heaps family adds the
// thread and heap ops (issue 3). Every op runs on the *current* logical thread (t0 until `thread(tK)`).
// ``HeapTag`` (mem, object, gc, gc_pre) is the allocator's own type, from AllocUnderTest.

import AllocUnderTest

/// The name of a block returned by an allocating op. Ids are implicit: the k-th allocating op of a
/// program (counting from 0) defines `p<k>`. Prints as `p<id>`.
public struct BlockRef: Hashable, Sendable, Comparable, CustomStringConvertible {
  public var id: Int

  public init(id: Int) { self.id = id }
  public init(_ id: Int) { self.id = id }

  public static func < (lhs: BlockRef, rhs: BlockRef) -> Bool { lhs.id < rhs.id }

  public var description: String { "p\(id)" }
}

/// A logical thread. t0 is the main thread, alive from the start and never exiting; the k-th `spawn`
/// (counting from 0) defines `t<k+1>`. Prints as `t<id>`.
public struct ThreadRef: Hashable, Sendable, Comparable, CustomStringConvertible {
  public var id: Int
  public init(_ id: Int) { self.id = id }
  public static let main = ThreadRef(0)
  public static func < (lhs: ThreadRef, rhs: ThreadRef) -> Bool { lhs.id < rhs.id }
  public var description: String { "t\(id)" }
}

extension HeapTag {
  /// The spelling in the text form: `mem`, `object`, `gc`, `gc_pre` (CPython's `_Py_MIMALLOC_HEAP_*` ids 0–3).
  public var textName: String {
    switch self {
    case .mem: "mem"
    case .object: "object"
    case .gc: "gc"
    case .gcPre: "gc_pre"
    }
  }
}

/// A heap as an op names it: a tagged heap of the *current* thread, or a first-class heap `h<k>` (the k-th
/// `heap_new` of the program, counting from 0), which only its creating thread may use.
public enum HeapRef: Hashable, Sendable, CustomStringConvertible {
  case tagged(HeapTag)
  case made(Int)

  public var madeID: Int? {
    if case .made(let id) = self { return id }
    return nil
  }

  public var description: String {
    switch self {
    case .tagged(let tag): tag.textName
    case .made(let id): "h\(id)"
    }
  }
}

/// One allocator call or harness step. Allocating ops (malloc, calloc, realloc, heap_malloc,
/// heap_malloc_aligned) each define the next block id; `spawn` defines the next thread, `heap_new` the next
/// heap. `free(pK)` and `realloc(pK, n)` consume pK; `heap_destroy(hK)` consumes every block hK holds.
public enum Op: Hashable, Sendable {
  case malloc(size: UInt64)
  case calloc(count: UInt64, size: UInt64)
  case realloc(BlockRef?, size: UInt64)
  case free(BlockRef?)
  // Heaps family: logical threads.
  /// Start a logical thread (a new CPython thread state with its four heaps). Does not switch to it.
  case spawn
  /// Make `ThreadRef` the current thread.
  case switchThread(ThreadRef)
  /// The current thread exits (its first-class heaps are deleted, its segments abandoned); t0 becomes current.
  case exitThread
  // Heaps family: heaps.
  case heapNew
  case heapDestroy(HeapRef)
  case heapDelete(HeapRef)
  case heapCollect(HeapRef, force: Bool)
  /// Walk the heap's blocks and compare them with the model.
  case heapVisit(HeapRef)
  case heapMalloc(HeapRef, size: UInt64)
  case heapMallocAligned(HeapRef, size: UInt64, alignment: UInt64)
  /// mi_collect on the current thread (forced on t0: also reclaims every abandoned segment).
  case collect(force: Bool)
  /// The current thread passes a QSBR quiescent point.
  case quiescent
  // Domains family: PyMem domains, debug hooks and misuse (DomainOp.swift).
  case domain(DomainOp)

  /// The kind number. In the pymalloc family it is the low two bits of a tag byte; the heaps family
  /// uses the low four bits (Documentation/ProgramFormat.md).
  public enum Kind: UInt8, Hashable, Sendable, CaseIterable {
    case malloc = 0, calloc = 1, realloc = 2, free = 3
    case spawn = 4, switchThread = 5, exitThread = 6, heapNew = 7, heapDestroy = 8, heapDelete = 9
    case heapCollect = 10, heapVisit = 11, heapMalloc = 12, heapMallocAligned = 13, collect = 14
    case quiescent = 15
    // Domains family (issue 4); the binary tag is `16 + tag % 14` (Documentation/ProgramFormat.md).
    case configure = 16, setupDebugHooks = 17, domainMalloc = 18, domainCalloc = 19, domainRealloc = 20
    case domainFree = 21, writePastEnd = 22, writeBeforeStart = 23, writeAfterFree = 24, doubleFree = 25
    case freeWrongDomain = 26, freeForeign = 27, reallocFreed = 28, mallocWithoutGIL = 29

    /// True iff ops of this kind define a new block id.
    public var isAllocating: Bool {
      switch self {
      case .malloc, .calloc, .realloc, .heapMalloc, .heapMallocAligned, .domainMalloc, .domainCalloc, .domainRealloc:
        true
      default: false
      }
    }

    /// Kinds of the pymalloc family.
    public var isPymallocKind: Bool { rawValue < 4 }
    /// Kinds of the domains family.
    public var isDomainKind: Bool { rawValue >= 16 }

    /// The canonical name, as written in the text form.
    public var name: String {
      switch self {
      case .malloc: "malloc"
      case .calloc: "calloc"
      case .realloc: "realloc"
      case .free: "free"
      case .spawn: "spawn"
      case .switchThread: "thread"
      case .exitThread: "exit"
      case .heapNew: "heap_new"
      case .heapDestroy: "heap_destroy"
      case .heapDelete: "heap_delete"
      case .heapCollect: "heap_collect"
      case .heapVisit: "heap_visit"
      case .heapMalloc: "heap_malloc"
      case .heapMallocAligned: "heap_malloc_aligned"
      case .collect: "collect"
      case .quiescent: "quiescent"
      case .configure: "configure"
      case .setupDebugHooks: "setup_debug_hooks"
      case .domainMalloc: "domain_malloc"
      case .domainCalloc: "domain_calloc"
      case .domainRealloc: "domain_realloc"
      case .domainFree: "domain_free"
      case .writePastEnd: "write_past_end"
      case .writeBeforeStart: "write_before_start"
      case .writeAfterFree: "write_after_free"
      case .doubleFree: "double_free"
      case .freeWrongDomain: "free_wrong_domain"
      case .freeForeign: "free_foreign"
      case .reallocFreed: "realloc_freed"
      case .mallocWithoutGIL: "malloc_without_gil"
      }
    }
  }

  public var kind: Kind {
    switch self {
    case .malloc: .malloc
    case .calloc: .calloc
    case .realloc: .realloc
    case .free: .free
    case .spawn: .spawn
    case .switchThread: .switchThread
    case .exitThread: .exitThread
    case .heapNew: .heapNew
    case .heapDestroy: .heapDestroy
    case .heapDelete: .heapDelete
    case .heapCollect: .heapCollect
    case .heapVisit: .heapVisit
    case .heapMalloc: .heapMalloc
    case .heapMallocAligned: .heapMallocAligned
    case .collect: .collect
    case .quiescent: .quiescent
    case .domain(let d): d.kind
    }
  }

  /// True iff the op defines a new block id (malloc, calloc, realloc — even from NULL — and the heap mallocs).
  public var isAllocating: Bool { kind.isAllocating }
  /// True iff the op defines a new thread id.
  public var definesThread: Bool { kind == .spawn }
  /// True iff the op defines a new heap id.
  public var definesHeap: Bool { kind == .heapNew }

  /// The block this op reads and consumes, or nil for ops without a block operand and NULL refs.
  public var usedRef: BlockRef? {
    switch self {
    case .realloc(let ref, _), .free(let ref): ref
    case .domain(let d): d.consumed
    default: nil
    }
  }

  /// Any block operand, consumed or not (the domains family's write misuses leave their block live).
  public var operandRef: BlockRef? {
    if case .domain(let d) = self { return d.operand }
    return usedRef
  }

  /// The heap operand, if the op has one.
  public var usedHeap: HeapRef? {
    switch self {
    case .heapDestroy(let h), .heapDelete(let h), .heapCollect(let h, _), .heapVisit(let h), .heapMalloc(let h, _),
      .heapMallocAligned(let h, _, _):
      h
    default: nil
    }
  }

  /// The thread operand, if the op has one.
  public var usedThread: ThreadRef? {
    if case .switchThread(let t) = self { return t }
    return nil
  }

  /// The numeric operands in source order (a force flag counts as 0 or 1).
  public var fields: [UInt64] {
    switch self {
    case .malloc(let size): [size]
    case .calloc(let count, let size): [count, size]
    case .realloc(_, let size): [size]
    case .heapMalloc(_, let size): [size]
    case .heapMallocAligned(_, let size, let alignment): [size, alignment]
    case .heapCollect(_, let force), .collect(let force): [force ? 1 : 0]
    case .domain(let d): d.fields
    default: []
    }
  }

  /// The same op with numeric operand `index` (an index into ``fields``) replaced by `value`.
  public func replacingField(_ index: Int, with value: UInt64) -> Op {
    switch (self, index) {
    case (.malloc, 0): .malloc(size: value)
    case (.calloc(_, let size), 0): .calloc(count: value, size: size)
    case (.calloc(let count, _), 1): .calloc(count: count, size: value)
    case (.realloc(let ref, _), 0): .realloc(ref, size: value)
    case (.heapMalloc(let h, _), 0): .heapMalloc(h, size: value)
    case (.heapMallocAligned(let h, _, let a), 0): .heapMallocAligned(h, size: value, alignment: a)
    case (.heapMallocAligned(let h, let n, _), 1): .heapMallocAligned(h, size: n, alignment: value)
    case (.heapCollect(let h, _), 0): .heapCollect(h, force: value != 0)
    case (.collect, 0): .collect(force: value != 0)
    case (.domain(let d), _): .domain(d.replacingField(index, with: value))
    default: preconditionFailure("op \(self) has no numeric field \(index)")
    }
  }

  /// The same op with its block ref passed through `transform` (used to renumber after a removal).
  public func mappingRef(_ transform: (BlockRef) -> BlockRef) -> Op {
    switch self {
    case .realloc(let ref, let size): .realloc(ref.map(transform), size: size)
    case .free(let ref): .free(ref.map(transform))
    case .domain(let d): .domain(d.renaming { transform($0) }!)
    default: self
    }
  }

  /// The same op with its block, thread and heap operands renamed; nil when a transform returns nil (the
  /// operand no longer exists).
  public func renaming(block: (BlockRef) -> BlockRef?, thread: (ThreadRef) -> ThreadRef?,
                       heap: (Int) -> Int?) -> Op? {
    func h(_ ref: HeapRef) -> HeapRef? {
      switch ref {
      case .tagged: ref
      case .made(let id): heap(id).map(HeapRef.made)
      }
    }
    switch self {
    case .realloc(let ref?, let size): return block(ref).map { .realloc($0, size: size) }
    case .free(let ref?): return block(ref).map { .free($0) }
    case .switchThread(let t): return thread(t).map { .switchThread($0) }
    case .heapDestroy(let r): return h(r).map { .heapDestroy($0) }
    case .heapDelete(let r): return h(r).map { .heapDelete($0) }
    case .heapCollect(let r, let force): return h(r).map { .heapCollect($0, force: force) }
    case .heapVisit(let r): return h(r).map { .heapVisit($0) }
    case .heapMalloc(let r, let size): return h(r).map { .heapMalloc($0, size: size) }
    case .heapMallocAligned(let r, let size, let a): return h(r).map { .heapMallocAligned($0, size: size, alignment: a) }
    case .domain(let d): return d.renaming(block).map { .domain($0) }
    default: return self
    }
  }
}
