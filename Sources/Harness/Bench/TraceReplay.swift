// TraceReplay.swift — runs ``Trace``s on one allocator in a tight loop: ``TraceAllocator`` (the five calls
// a trace makes, addresses as Ints, 0 = NULL) and ``TraceReplay/run(_:on:slots:)``, generic so that each
// allocator gets its own specialised loop with no dispatch, no oracle, no canary writes. The conformances
// call each allocator's own API directly (not the adapters): the reference ``Pymalloc`` and ``Heap``, and
// the peers' function pointers (``CPythonPymalloc``, ``LibMimalloc``, ``CHeapPeer``).

import AllocUnderTest

/// An allocator a trace can be replayed on. NULL is 0 in both directions.
public protocol TraceAllocator {
  func malloc(_ n: UInt64) -> Int
  func calloc(_ count: UInt64, _ size: UInt64) -> Int
  func realloc(_ address: Int, _ n: UInt64) -> Int
  func mallocAligned(_ n: UInt64, alignment: UInt64) -> Int
  func free(_ address: Int)
}

public enum TraceReplay {
  /// Replays every trace in order on `allocator`; `slots` is scratch space of at least the largest slot
  /// count (kept by the caller so that timing loops allocate nothing). Returns the number of steps.
  @discardableResult
  public static func run<A: TraceAllocator>(_ traces: [Trace], on allocator: A, slots: inout [Int]) -> Int {
    var steps = 0
    for trace in traces {
      steps &+= run(trace, on: allocator, slots: &slots)
    }
    return steps
  }

  /// One trace; every block it allocates is freed by its own steps (the teardown releases).
  @inline(__always)
  static func run<A: TraceAllocator>(_ trace: Trace, on allocator: A, slots: inout [Int]) -> Int {
    precondition(slots.count >= trace.slotCount, "TraceReplay: \(slots.count) slots for a trace of \(trace.slotCount)")
    for k in 0..<trace.slotCount { slots[k] = 0 }
    for step in trace.steps {
      switch step.kind {
      case .malloc:
        slots[Int(step.slot)] = allocator.malloc(step.a)
      case .calloc:
        slots[Int(step.slot)] = allocator.calloc(step.a, step.b)
      case .realloc:
        var old = 0
        if step.source >= 0 {
          old = slots[Int(step.source)]
          slots[Int(step.source)] = 0
        }
        let r = allocator.realloc(old, step.a)
        slots[Int(step.slot)] = r != 0 ? r : old  // on failure the new name holds the old block
      case .rename:
        if step.source >= 0 {
          slots[Int(step.slot)] = slots[Int(step.source)]
          slots[Int(step.source)] = 0
        }
      case .mallocAligned:
        slots[Int(step.slot)] = allocator.mallocAligned(step.a, alignment: step.b)
      case .free:
        allocator.free(step.source < 0 ? 0 : slots[Int(step.source)])
      case .release:
        let a = slots[Int(step.source)]
        if a != 0 { allocator.free(a) }
      }
    }
    return trace.steps.count
  }
}

// MARK: The allocators

/// The reference pymalloc, through its own entry points (`PyObject_*` semantics).
public struct ReferencePymallocTrace: TraceAllocator {
  public let allocator: Pymalloc
  public init(_ allocator: Pymalloc) { self.allocator = allocator }
  public func malloc(_ n: UInt64) -> Int { allocator.mallocAddress(n) ?? 0 }
  public func calloc(_ count: UInt64, _ size: UInt64) -> Int { allocator.callocAddress(count, size) ?? 0 }
  public func realloc(_ address: Int, _ n: UInt64) -> Int { allocator.reallocAddress(address == 0 ? nil : address, n) ?? 0 }
  public func mallocAligned(_ n: UInt64, alignment: UInt64) -> Int { preconditionFailure("pymalloc has no aligned malloc") }
  public func free(_ address: Int) { allocator.freeAddress(address == 0 ? nil : address) }
}

/// CPython 3.11's PyObject_Malloc & co. (the caller holds ``CPythonPymalloc/holder``).
public struct CPythonPymallocTrace: TraceAllocator {
  public let peer: CPythonPymalloc
  public init(_ peer: CPythonPymalloc) { self.peer = peer }
  public func malloc(_ n: UInt64) -> Int { peer.malloc(n) ?? 0 }
  public func calloc(_ count: UInt64, _ size: UInt64) -> Int { peer.calloc(count, size) ?? 0 }
  public func realloc(_ address: Int, _ n: UInt64) -> Int { peer.realloc(address == 0 ? nil : address, n) ?? 0 }
  public func mallocAligned(_ n: UInt64, alignment: UInt64) -> Int { preconditionFailure("pymalloc has no aligned malloc") }
  public func free(_ address: Int) { peer.free(address == 0 ? nil : address) }
}

/// glibc's or jemalloc's heap as CPython's RAW domain uses it: a request of 0 bytes asks for 1.
public struct CHeapTrace: TraceAllocator {
  public let peer: CHeapPeer
  public init(_ peer: CHeapPeer) { self.peer = peer }
  public func malloc(_ n: UInt64) -> Int { peer.malloc(n == 0 ? 1 : n) ?? 0 }
  public func calloc(_ count: UInt64, _ size: UInt64) -> Int {
    (count == 0 || size == 0 ? peer.calloc(1, 1) : peer.calloc(count, size)) ?? 0
  }
  public func realloc(_ address: Int, _ n: UInt64) -> Int { peer.realloc(address == 0 ? nil : address, n == 0 ? 1 : n) ?? 0 }
  public func mallocAligned(_ n: UInt64, alignment: UInt64) -> Int { peer.alignedAlloc(n == 0 ? 1 : n, alignment: alignment) ?? 0 }
  public func free(_ address: Int) { peer.free(address == 0 ? nil : address) }
}

/// One heap of the reference mimalloc and the thread that owns it (frees are local).
public struct ReferenceMimallocTrace: TraceAllocator {
  public let heap: Heap
  public let thread: MiThread
  public init(heap: Heap, thread: MiThread) {
    self.heap = heap
    self.thread = thread
  }
  public func malloc(_ n: UInt64) -> Int { heap.malloc(n) ?? 0 }
  public func calloc(_ count: UInt64, _ size: UInt64) -> Int { heap.calloc(count, size) ?? 0 }
  public func realloc(_ address: Int, _ n: UInt64) -> Int { heap.realloc(address == 0 ? nil : address, n) ?? 0 }
  public func mallocAligned(_ n: UInt64, alignment: UInt64) -> Int {
    alignment > UInt64(Int.max) ? 0 : heap.mallocAligned(n, alignment: Int(alignment)) ?? 0
  }
  public func free(_ address: Int) { thread.free(address == 0 ? nil : address) }
}

/// One heap of libmimalloc; every call must run on that heap's thread (``LibMimalloc/main`` for t0's).
public struct LibMimallocTrace: TraceAllocator {
  public let lib: LibMimalloc
  public let heap: LibMimalloc.Heap
  public init(lib: LibMimalloc, heap: LibMimalloc.Heap) {
    self.lib = lib
    self.heap = heap
  }
  public func malloc(_ n: UInt64) -> Int { lib.heapMalloc(heap, n) ?? 0 }
  public func calloc(_ count: UInt64, _ size: UInt64) -> Int { lib.heapCalloc(heap, count, size) ?? 0 }
  public func realloc(_ address: Int, _ n: UInt64) -> Int { lib.heapRealloc(heap, address == 0 ? nil : address, n) ?? 0 }
  public func mallocAligned(_ n: UInt64, alignment: UInt64) -> Int { lib.heapMallocAligned(heap, n, alignment: alignment) ?? 0 }
  public func free(_ address: Int) { lib.free(address == 0 ? nil : address) }
}
