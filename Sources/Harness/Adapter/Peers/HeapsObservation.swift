// HeapsObservation.swift — what a heaps-family program lets one compare between two allocators (the
// differential of issue 11): per allocating op the usable size of its result or NULL, and per heap_visit the
// program blocks the visit reported. ``HeapsObservation/observe(_:on:)`` replays the program on any
// ``HeapsAdapter`` (the reference or the libmimalloc peer) without the oracle, then frees what is left.
// Addresses never appear in the result, so two allocators' observations compare with `==`.

import Oracle

public enum HeapsObservation {
  /// One observed op, by its index in the program.
  public enum Fact: Hashable, Sendable, CustomStringConvertible {
    /// An allocating op: the usable size of its result, or nil for NULL.
    case allocated(op: Int, block: Int, usable: Int?)
    /// A heap_visit: the live program blocks lying inside a reported block (ascending), and how many reported
    /// blocks hold no live program block.
    case visited(op: Int, blocks: [Int], foreign: Int)

    public var description: String {
      switch self {
      case .allocated(let op, let block, let usable): "op \(op): p\(block) \(usable.map { "usable \($0)" } ?? "NULL")"
      case .visited(let op, let blocks, let foreign):
        "op \(op): visit [\(blocks.map { "p\($0)" }.joined(separator: ", "))]" + (foreign > 0 ? " + \(foreign) foreign" : "")
      }
    }
  }

  /// Replays `program` (valid, heaps family) on `adapter` after a reset, frees every block still live, resets
  /// again, and returns the facts in program order.
  public static func observe(_ program: Program, on adapter: HeapsAdapter) -> [Fact] {
    adapter.reset()
    var state = ProgramState()
    var address: [Int: Int] = [:]  // live block id → address
    var facts: [Fact] = []
    var nextID = 0
    for (i, op) in program.ops.enumerated() {
      var result: Int?? = nil  // set for allocating ops
      switch op {
      case .malloc(let n): result = adapter.malloc(n)
      case .calloc(let c, let s): result = adapter.calloc(c, s)
      case .realloc(let ref, let n):
        let old = ref.flatMap { address[$0.id] }
        let r = adapter.realloc(old, n)
        result = .some(r)
        if r == nil, let old { address[nextID] = old }  // a failed realloc leaves the block, under the new name
      case .free(let ref): adapter.free(ref.flatMap { address[$0.id] })
      case .spawn: _ = adapter.spawnThread()
      case .switchThread(let t): adapter.switchThread(t.id)
      case .exitThread: adapter.exitThread()
      case .heapNew: _ = adapter.heapNew()
      case .heapDestroy(let h): adapter.heapDestroy(h.madeID!)
      case .heapDelete(let h): adapter.heapDelete(h.madeID!)
      case .heapCollect(let h, let force): adapter.heapCollect(h, force: force)
      case .heapVisit(let h): facts.append(visit(i, adapter.heapVisit(h), live: address))
      case .heapMalloc(let h, let n): result = adapter.heapMalloc(h, n)
      case .heapMallocAligned(let h, let n, let a): result = adapter.heapMallocAligned(h, n, alignment: a)
      case .collect(let force): adapter.collect(force: force)
      case .quiescent: adapter.quiescent()
      case .domain: preconditionFailure("HeapsObservation: domains-family op in a heaps program")
      }
      if let result {
        facts.append(.allocated(op: i, block: nextID, usable: result.map { adapter.usableSize($0) }))
        if let a = result { address[nextID] = a }
        nextID += 1
      }
      do { try state.apply(op, at: i) } catch { preconditionFailure("HeapsObservation: invalid program: \(error)") }
      address = address.filter { state.isLive(block: $0.key) }  // freed, realloc'd and destroyed blocks go
    }
    for (_, a) in address.sorted(by: { $0.key < $1.key }) { adapter.free(a) }
    adapter.reset()
    return facts
  }

  /// The live blocks inside the reported ones; reported blocks holding none count as foreign.
  private static func visit(_ i: Int, _ reported: [(start: Int, size: Int)], live: [Int: Int]) -> Fact {
    var inside: [Int] = []
    var foreign = 0
    for r in reported {
      let ids = live.filter { $0.value >= r.start && $0.value < r.start + max(r.size, 1) }.map(\.key)
      if ids.isEmpty { foreign += 1 }
      inside += ids
    }
    return .visited(op: i, blocks: inside.sorted(), foreign: foreign)
  }
}
