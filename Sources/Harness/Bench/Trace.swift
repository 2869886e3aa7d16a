// Trace.swift — a program pre-decoded for the trace benchmark (issue 12): ``Trace``, a flat array of
// ``TraceStep``s over numbered slots, which ``TraceReplay`` runs on an allocator with nothing else in the
// loop. Entry point: ``Trace/init(_:)``. No invariants of its own; `TraceBenchTests` checks that a replay
// places every block where the executor does and frees them all.
//
// Decoding keeps what every allocator of a family can do on one thread and one heap:
// - malloc, calloc, realloc, free as they are; `heap_malloc` as malloc and `heap_malloc_aligned` as an
//   aligned malloc when its alignment is a power of two (other alignments, and every request above
//   ``Trace/maxRequest``, are not replayed: the slot stays NULL, as after a failed allocation);
// - thread, heap, collect and QSBR ops are dropped (a heaps program runs on t0's backing heap);
// - the teardown: every block no free consumed is released, lowest id first, as the executor's teardown
//   frees what a program still holds (a realloc that failed leaves its old block in the old slot; a block
//   destroyed with its heap is released here).

/// One allocator call of a pre-decoded program. Slot k holds block `p<k>` (0 = NULL).
public struct TraceStep: Sendable, Equatable {
  public enum Kind: UInt8, Sendable {
    /// `slot = malloc(a)`.
    case malloc
    /// `slot = calloc(a, b)`.
    case calloc
    /// `slot = realloc(source, a)`; on success the source slot becomes NULL, on failure it keeps its block.
    case realloc
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

  /// Requests above 1 GiB are not replayed (as in the differential: the OS grants or refuses them, and
  /// libmimalloc maps with MAP_NORESERVE, so their cost says nothing about the allocator).
  public static let maxRequest: UInt64 = 1 << 30

  /// Decodes a pymalloc- or heaps-family program (domains ops are dropped like thread ops).
  public init(_ program: Program) {
    var steps: [TraceStep] = []
    var slot: Int32 = 0
    var freed = Set<Int>()
    func ref(_ r: BlockRef?) -> Int32 { r.map { Int32($0.id) } ?? -1 }
    for op in program.ops {
      let step: TraceStep?
      switch op {
      case .malloc(let n), .heapMalloc(_, let n):
        step = n <= Self.maxRequest ? TraceStep(kind: .malloc, slot: slot, source: -1, a: n, b: 0) : nil
      case .calloc(let count, let size):
        let (total, overflow) = count.multipliedReportingOverflow(by: size)
        step = !overflow && total <= Self.maxRequest ? TraceStep(kind: .calloc, slot: slot, source: -1, a: count, b: size) : nil
      case .realloc(let r, let n):
        step = n <= Self.maxRequest ? TraceStep(kind: .realloc, slot: slot, source: ref(r), a: n, b: 0) : nil
      case .heapMallocAligned(_, let n, let alignment):
        let powerOfTwo = alignment != 0 && alignment & (alignment - 1) == 0
        step = powerOfTwo && n <= Self.maxRequest
          ? TraceStep(kind: .mallocAligned, slot: slot, source: -1, a: n, b: alignment) : nil
      case .free(let r):
        if let r { freed.insert(r.id) }
        step = TraceStep(kind: .free, slot: -1, source: ref(r), a: 0, b: 0)
      default:
        step = nil
      }
      if let step { steps.append(step) }
      if op.isAllocating { slot += 1 }
    }
    for k in 0..<Int(slot) where !freed.contains(k) {
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
