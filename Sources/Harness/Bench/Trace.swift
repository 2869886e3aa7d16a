// Trace.swift — a program pre-decoded for the trace benchmark (issue 12): ``Trace``, a flat array of
// ``TraceStep``s over numbered slots, which ``TraceReplay`` runs on an allocator with nothing else in the
// loop. Entry point: ``Trace/init(_:)``. No invariants of its own; `TraceBenchTests` checks that a replay
// places every block where the executor does and frees them all.
//
// Decoding keeps what every allocator of a family can do on one thread and one heap:
// - malloc, calloc, realloc, free as they are; `heap_malloc` as malloc and `heap_malloc_aligned` as an
//   aligned malloc when its alignment is a power of two (other alignments are not replayed: the slot
//   stays NULL, as after a failed allocation); heaps family only: requests above ``Trace/heapsRequestLimit``
//   are not replayed either (a realloc then keeps its block, renamed);
// - thread, heap, collect and QSBR ops are dropped (a heaps program runs on t0's backing heap);
// - as in the executor, a failed realloc renames its old block to the new id;
// - the teardown: every block no free or realloc consumed is released, lowest id first, as the executor's
//   teardown frees what a program still holds (a block destroyed with its heap is released here).

/// One allocator call of a pre-decoded program. Slot k holds block `p<k>` (0 = NULL).
public struct TraceStep: Sendable, Equatable {
  public enum Kind: UInt8, Sendable {
    /// `slot = malloc(a)`.
    case malloc
    /// `slot = calloc(a, b)`.
    case calloc
    /// `slot = realloc(source, a)`, or the source's block if that fails; the source slot becomes NULL.
    case realloc
    /// A realloc not replayed: `slot = source`, the source slot becomes NULL (no allocator call).
    case rename
    /// `free(source)` (a NULL source frees NULL).
    case free
    /// `slot = malloc_aligned(a, alignment: b)`.
    case mallocAligned
    /// Teardown: `free(source)` if the slot still holds a block.
    case release
  }

  public var kind: Kind
  /// The slot the call defines, or −1.
  public var slot: Int32
  /// The slot the call reads, or −1 (NULL).
  public var source: Int32
  public var a: UInt64
  public var b: UInt64
}

/// A pre-decoded program: its steps and how many slots they use.
public struct Trace: Sendable, Equatable {
  public var steps: [TraceStep]
  public var slotCount: Int

  /// Heaps family: requests above 1 GiB are not replayed (as in the differential: the OS grants or refuses
  /// them, and libmimalloc maps with MAP_NORESERVE, so their cost says nothing about the allocator). The
  /// pymalloc family replays them: they fail at once (above PY_SSIZE_T_MAX) or are one raw call, and
  /// skipping one would change which pool blocks a realloc frees.
  public static let heapsRequestLimit: UInt64 = 1 << 30

  /// Decodes a pymalloc- or heaps-family program (domains ops are dropped like thread ops).
  public init(_ program: Program, family: ProgramFamily = .pymalloc) {
    let maxRequest = family == .heaps ? Self.heapsRequestLimit : .max
    var steps: [TraceStep] = []
    var slot: Int32 = 0
    var consumed = Set<Int>()
    func ref(_ r: BlockRef?) -> Int32 { r.map { Int32($0.id) } ?? -1 }
    for op in program.ops {
      let step: TraceStep?
      switch op {
      case .malloc(let n), .heapMalloc(_, let n):
        step = n <= maxRequest ? TraceStep(kind: .malloc, slot: slot, source: -1, a: n, b: 0) : nil
      case .calloc(let count, let size):
        let (total, overflow) = count.multipliedReportingOverflow(by: size)
        step = !overflow && total <= maxRequest ? TraceStep(kind: .calloc, slot: slot, source: -1, a: count, b: size) : nil
      case .realloc(let r, let n):
        if let r { consumed.insert(r.id) }
        step = TraceStep(kind: n <= maxRequest ? .realloc : .rename, slot: slot, source: ref(r), a: n, b: 0)
      case .heapMallocAligned(_, let n, let alignment):
        let powerOfTwo = alignment != 0 && alignment & (alignment - 1) == 0
        step = powerOfTwo && n <= maxRequest
          ? TraceStep(kind: .mallocAligned, slot: slot, source: -1, a: n, b: alignment) : nil
      case .free(let r):
        if let r { consumed.insert(r.id) }
        step = TraceStep(kind: .free, slot: -1, source: ref(r), a: 0, b: 0)
      default:
        step = nil
      }
      if let step { steps.append(step) }
      if op.isAllocating { slot += 1 }
    }
    for k in 0..<Int(slot) where !consumed.contains(k) {
      steps.append(TraceStep(kind: .release, slot: -1, source: Int32(k), a: 0, b: 0))
    }
    self.steps = steps
    slotCount = Int(slot)
  }

  public init(steps: [TraceStep], slotCount: Int) {
    self.steps = steps
    self.slotCount = slotCount
  }
}
