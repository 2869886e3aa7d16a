// HistoryRecorder.swift — records the history of one parallel run for the linearizability check (issue 14):
// each malloc, calloc, realloc and free of a ``ParallelProgram`` runs through ``HistoryRecorder/perform(_:on:)``,
// which reads the shared clock at its invocation and at its response and writes and reads the blocks'
// stamps (Oracle/Linearize/SequentialHeapModel.swift). One recorder serves both runners: the controlled
// scheduler's (ScheduledExecutor, one OS thread at a time) and real OS threads at once
// (RealThreadHistoryRun.swift), so everything it shares is atomic: the clock, and each block's address
// (published by its maker, read by whoever frees it after the dependency wait). Per-thread logs are touched
// by their own thread only.

import AllocUnderTest
import Oracle
import Synchronization

/// What the recorder needs of an allocator, as seen from one thread.
public protocol HistoryHeap: AnyObject {
  func malloc(_ n: UInt64) -> Int?
  func calloc(_ count: UInt64, _ size: UInt64) -> Int?
  func realloc(_ address: Int?, _ n: UInt64) -> Int?
  func free(_ address: Int?)
  func usableSize(_ address: Int) -> Int
}

extension MimallocAdapter: HistoryHeap {}

public final class HistoryRecorder: Sendable {
  /// The clock: every invocation and response takes the next value.
  private let clock = Atomic<Int>(0)
  /// Per block id: its address once its maker returned (0: not yet, or NULL).
  private let addresses: [AtomicWord]
  /// Per block id: the bytes its maker asked for.
  private let requested: [UInt64]
  private let logs: [ThreadLog]

  public init(_ program: ParallelProgram) {
    var sizes: [UInt64] = []
    for op in program.program.ops where op.isAllocating {
      let n: UInt64 =
        switch op {
        case .malloc(let n), .realloc(_, let n), .heapMalloc(_, let n), .heapMallocAligned(_, let n, _): n
        case .calloc(let c, let n): c.multipliedReportingOverflow(by: n).overflow ? .max : c * n
        default: 0
        }
      sizes.append(n)
    }
    requested = sizes
    addresses = sizes.map { _ in AtomicWord() }
    logs = program.tasks.map { _ in ThreadLog() }
  }

  /// Ops the recorder runs itself; the others (spawn, collect, …) are the runner's.
  public static func records(_ op: Op) -> Bool {
    switch op {
    case .malloc, .calloc, .realloc, .free: true
    default: false
    }
  }

  /// The history so far (call once the threads are done).
  public var history: [HistoryOp] { logs.flatMap(\.ops) }

  /// The address block `id` was given (nil: not made yet, or NULL).
  public func address(ofBlock id: Int) -> Int? {
    let a = addresses[id].value.load(ordering: .acquiring)
    return a == 0 ? nil : a
  }

  /// Runs `step` (a recorded op) on `heap` as its thread; returns its result for a trace.
  @discardableResult
  public func perform(_ step: ParallelProgram.Step, on heap: some HistoryHeap) -> String {
    let argument = step.op.usedRef.flatMap { address(ofBlock: $0.id) }
    let argumentSize = step.op.usedRef.map { requested[$0.id] } ?? 0
    let invoked = tick()
    var op = HistoryOp(thread: step.thread, call: .free(address: nil), invoked: invoked, returned: invoked,
                       label: "op \(step.index): " + ProgramText.renderLine(step.op, definedName: step.defines.map { "p\($0)" }))
    switch step.op {
    case .malloc(let n):
      op.call = .malloc(size: n)
      op.result = heap.malloc(n)
    case .calloc(let c, let n):
      op.call = .calloc(count: c, size: n)
      op.result = heap.calloc(c, n)
    case .realloc(_, let n):
      op.call = .realloc(address: argument, size: n)
      op.result = heap.realloc(argument, n)
      if let r = op.result, argument != nil, argumentSize >= 16, n >= 16 { op.stampRead = MemoryAccess.loadWordUnchecked(address: r + Self.stampOffset) }
    case .free:
      op.call = .free(address: argument)
      if let a = argument, argumentSize >= 16 { op.stampRead = MemoryAccess.loadWordUnchecked(address: a + Self.stampOffset) }
      heap.free(argument)
    default:
      preconditionFailure("HistoryRecorder: \(step.op) is not a recorded op")
    }
    if let r = op.result, let id = step.defines {
      op.usable = heap.usableSize(r)
      if op.requested >= 16 {
        op.stampWritten = Self.stamp(step.index)
        MemoryAccess.storeWordUnchecked(address: r + Self.stampOffset, Self.stamp(step.index))
      }
      addresses[id].value.store(r, ordering: .releasing)
    }
    op.returned = tick()
    logs[step.thread].ops.append(op)
    if let id = step.defines { return "p\(id) = " + (op.result.map { "0x" + String($0, radix: 16) } ?? "NULL") }
    return "done"
  }

  private func tick() -> Int { clock.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue }

  /// Where a block's stamp lives: its second word. The first is the free-list link while a block is free, so
  /// a stamp there would turn a block handed out twice (still on a free list) into a wild pointer that
  /// crashes the allocator before the history could show the double hand-out.
  static let stampOffset = 8

  /// The stamp of the block made by op `index`: nonzero and distinct per op.
  static func stamp(_ index: Int) -> UInt64 { 0x5354_0000_0000_0000 | UInt64(index + 1) }
}

final class AtomicWord: Sendable {
  let value = Atomic<Int>(0)
}

/// One thread's ops, in its order. `@unchecked Sendable`: only its own thread appends, and the history is
/// read after every thread is done (joined, or the controlled run returned).
final class ThreadLog: @unchecked Sendable {
  var ops: [HistoryOp] = []
}
