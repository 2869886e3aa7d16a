// Program+Validation.swift — the validity rule of ``Program`` as a checker: ``Program/validate()`` and
// its typed error ``ProgramError``. A program is valid iff ``ProgramState/apply(_:at:)`` accepts every op
// in order: every block ref names a live block, thread and heap operands name live threads and heaps the
// current thread may use. The decoders and the removals produce only valid programs; the tests and the
// shrinker use this checker to prove it.

/// Why a program is invalid: the first offending op and the rule it breaks.
public struct ProgramError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Kind: Hashable, Sendable {
    /// The ref names an id that no earlier op defined.
    case undefinedRef(BlockRef)
    /// The ref names an id that the op at `consumedAt` already freed, realloc'd or destroyed with its heap.
    case consumedRef(BlockRef, consumedAt: Int)
    /// A thread no earlier `spawn` defined.
    case undefinedThread(ThreadRef)
    /// A thread that exited at op `exitedAt`.
    case deadThread(ThreadRef, exitedAt: Int)
    /// `exit` while t0 is current; the main thread never exits.
    case exitOfMainThread
    /// A `spawn` beyond the live-thread limit.
    case tooManyThreads(Int)
    /// A `heap_new` beyond the per-thread limit of live first-class heaps.
    case tooManyHeaps(Int)
    /// A first-class heap no earlier `heap_new` defined.
    case undefinedHeap(Int)
    /// A first-class heap destroyed, deleted or orphaned by its thread's exit at op `endedAt`.
    case deadHeap(Int, endedAt: Int)
    /// A first-class heap used by a thread other than the one that made it.
    case notHeapOwner(heap: Int, owner: ThreadRef, current: ThreadRef)
    /// heap_destroy / heap_delete of a tagged heap (only heap_new heaps can end).
    case notFirstClass(HeapRef)
    // Domains family (ProgramState+Domains.swift).
    /// A domain op on a block of another family, or the reverse.
    case familyMix(BlockRef)
    /// `configure` or `setup_debug_hooks` after the first domain call.
    case configureTooLate
    /// A size the domains family does not allow (above 1 MiB and below 2^62).
    case sizeNotAllowed(UInt64)
    /// A clean call through a domain other than the block's own.
    case wrongDomain(BlockRef, owner: String, called: String)
    /// A misuse op where the debug hooks are off.
    case misuseWithoutHooks
    /// A misuse of a block that is NULL (its allocation is refused).
    case misuseOfNullBlock(BlockRef)
    /// A misuse operand out of its range (count, offset, other domain).
    case misuseOperand(String)
  }

  /// Index (0-based) of the offending op in ``Program/ops``.
  public var opIndex: Int
  public var kind: Kind

  public init(opIndex: Int, kind: Kind) {
    self.opIndex = opIndex
    self.kind = kind
  }

  public var description: String { "op \(opIndex): \(message)" }

  /// The reason alone, without position.
  public var message: String {
    switch kind {
    case .undefinedRef(let ref):
      "\(ref) is used before any op defines it"
    case .consumedRef(let ref, let consumedAt):
      "\(ref) is used after op \(consumedAt) consumed it (free, realloc or heap_destroy)"
    case .undefinedThread(let t):
      "\(t) is used before any spawn defines it"
    case .deadThread(let t, let exitedAt):
      "\(t) is used after it exited at op \(exitedAt)"
    case .exitOfMainThread:
      "exit on t0: the main thread never exits"
    case .tooManyThreads(let limit):
      "spawn would make more than \(limit) live threads"
    case .tooManyHeaps(let limit):
      "heap_new would give the current thread more than \(limit) live heaps"
    case .undefinedHeap(let h):
      "h\(h) is used before any heap_new defines it"
    case .deadHeap(let h, let endedAt):
      "h\(h) is used after op \(endedAt) ended it (destroy, delete or its thread's exit)"
    case .notHeapOwner(let h, let owner, let current):
      "h\(h) belongs to \(owner) but \(current) is current; only the creating thread may use a heap"
    case .notFirstClass(let h):
      "\(h) is a thread's own heap; only heap_new heaps can be destroyed or deleted"
    case .familyMix(let ref):
      "\(ref) belongs to another op family (domain ops and plain malloc/free cannot share blocks)"
    case .configureTooLate:
      "configure and setup_debug_hooks must come before the first domain call"
    case .sizeNotAllowed(let n):
      "size \(n) is neither at most 1 MiB nor at least 2^62 (a domains-family request must be cheap or refused)"
    case .wrongDomain(let ref, let owner, let called):
      "\(ref) was allocated through \(owner) but called through \(called) (use free_wrong_domain to misuse it)"
    case .misuseWithoutHooks:
      "misuse ops are valid only where the debug hooks are on (configure a *_debug name or setup_debug_hooks)"
    case .misuseOfNullBlock(let ref):
      "\(ref) is NULL (its request is refused), so it cannot be misused"
    case .misuseOperand(let why):
      why
    }
  }
}

extension Program {
  /// Throws the first violation of the validity rule, scanning ops in order.
  public func validate() throws(ProgramError) {
    var state = ProgramState()
    for (index, op) in ops.enumerated() { try state.apply(op, at: index) }
  }

  /// True iff ``validate()`` does not throw.
  public var isValid: Bool {
    do { try validate() } catch { return false }
    return true
  }

  /// True iff the program uses only the pymalloc family's ops (malloc, calloc, realloc, free).
  public var isPymallocFamily: Bool { ops.allSatisfy { $0.kind.isPymallocKind } }
  /// True iff the program uses only the domains family's ops (an empty program is in every family).
  public var isDomainsFamily: Bool { ops.allSatisfy { $0.kind.isDomainKind } }
}
