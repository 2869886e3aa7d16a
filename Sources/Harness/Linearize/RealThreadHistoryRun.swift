// RealThreadHistoryRun.swift — a parallel program on real OS threads, all at once, for the linearizability
// check (issue 14): one OS thread per logical thread, started together behind a gate, each running its ops
// in order as fast as it can; an op that frees or resizes another thread's block spins until that block's
// maker has returned (the program's own dependency, ParallelProgram.swift). Invocation and response come
// from the recorder's shared atomic clock (sequentially consistent), so real-time order in the history is
// sound. Targets: the reference mimalloc (one `MiThread` per OS thread; non-main ones exit when their ops
// are done, so later frees land in abandoned segments) and the real libmimalloc 2.0.9 (each OS thread's
// default heap; its end runs `_mi_thread_done`). Programs may hold malloc, calloc, realloc, free, collect
// and the leading spawns only. Entry points: ``RealThreadHistoryRun/run(_:on:)``, ``HistoryTarget``.

import AllocUnderTest
import Dispatch
import Foundation
import Oracle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An allocator the real-thread runner can drive.
public protocol HistoryTarget: AnyObject {
  var name: String { get }
  /// Per task, its thread's heap, made on the caller's thread before the threads start.
  func makeThreads(_ count: Int) -> [any HistoryThreadHeap]
  /// After every thread is done: frees the blocks the program left live, then readies the next run.
  func endRun(leftover: [Int])
}

/// One thread's view, driven by one OS thread.
public protocol HistoryThreadHeap: HistoryHeap, Sendable {
  func collect(force: Bool)
  /// The thread's ops are done (the reference: a non-main thread exits).
  func finish()
}

public enum RealThreadHistoryRun {
  /// Why `program` cannot run on real threads, or nil.
  public static func unsupported(_ program: ParallelProgram) -> String? {
    let leadingSpawns = Set(program.tasks[0].prefix(while: \.op.isSpawn).map(\.index))
    for task in program.tasks {
      for step in task {
        switch step.op {
        case .malloc, .calloc, .realloc, .free, .collect: continue
        case .spawn where leadingSpawns.contains(step.index): continue
        default: return "op \(step.index) (\(ProgramText.renderLine(step.op, definedName: nil))): real threads run malloc, calloc, realloc, free, collect and leading spawns only"
        }
      }
    }
    return nil
  }

  /// Runs `program` once on real threads of `target`; returns its history.
  public static func run(_ program: ParallelProgram, on target: some HistoryTarget) -> [HistoryOp] {
    precondition(unsupported(program) == nil, "RealThreadHistoryRun: \(unsupported(program)!)")
    let recorder = HistoryRecorder(program)
    let heaps = target.makeThreads(program.tasks.count)
    let completed = program.tasks.map { _ in AtomicWord() }
    let ready = AtomicWord()
    let group = DispatchGroup()
    for (task, steps) in program.tasks.enumerated() {
      let heap = heaps[task]
      group.enter()
      let thread = Thread {
        ready.value.add(1, ordering: .sequentiallyConsistent)
        while ready.value.load(ordering: .sequentiallyConsistent) < completed.count { spin() }
        for step in steps {
          var spins = 0
          while !step.needs.allSatisfy({ completed[$0.task].value.load(ordering: .acquiring) >= $0.count }) {
            spins += 1
            if spins > 64 { sched_yield() } else { spin() }
          }
          switch step.op {
          case .collect(let force): heap.collect(force: force)
          case .spawn: break
          default: recorder.perform(step, on: heap)
          }
          completed[task].value.add(1, ordering: .releasing)
        }
        heap.finish()
        group.leave()
      }
      thread.stackSize = 1 << 20
      thread.start()
    }
    group.wait()
    target.endRun(leftover: program.program.liveRefs().compactMap { recorder.address(ofBlock: $0.id) })
    return recorder.history
  }

  @inline(never) private static func spin() {}
}

extension Op {
  var isSpawn: Bool { if case .spawn = self { true } else { false } }
}

// MARK: The reference mimalloc

public final class ReferenceHistoryTarget: HistoryTarget {
  public let mimalloc: Mimalloc
  public var name: String { "mimalloc (reference), real threads" }

  public init(bugs: Set<MimallocBug> = []) {
    mimalloc = Mimalloc(pages: MmapPageSource(recycle: 4), bugs: bugs)
  }

  public func makeThreads(_ count: Int) -> [any HistoryThreadHeap] {
    (0..<count).map { ReferenceThreadHeap(mimalloc, $0 == 0 ? mimalloc.mainThread : mimalloc.newThread()) }
  }

  public func endRun(leftover: [Int]) {
    for a in leftover { mimalloc.mainThread.free(a) }
    mimalloc.reset()
  }
}

final class ReferenceThreadHeap: HistoryThreadHeap, @unchecked Sendable {
  // @unchecked: driven by the one OS thread of its task.
  let mimalloc: Mimalloc
  let thread: MiThread
  init(_ mimalloc: Mimalloc, _ thread: MiThread) {
    self.mimalloc = mimalloc
    self.thread = thread
  }
  func malloc(_ n: UInt64) -> Int? { thread.backing.malloc(n) }
  func calloc(_ count: UInt64, _ size: UInt64) -> Int? { thread.backing.calloc(count, size) }
  func realloc(_ address: Int?, _ n: UInt64) -> Int? { thread.backing.realloc(address, n) }
  func free(_ address: Int?) { thread.free(address) }
  func usableSize(_ address: Int) -> Int { mimalloc.usableSize(address) }
  func collect(force: Bool) { thread.collect(force: force) }
  func finish() { if !thread.isMain { thread.exit() } }
}

// MARK: The real libmimalloc

public final class LibMimallocHistoryTarget: HistoryTarget {
  public let lib: LibMimalloc
  public var name: String { "libmimalloc \(lib.versionString), real threads" }

  public init() throws(PeerUnavailable) { lib = try LibMimalloc.shared() }

  public func makeThreads(_ count: Int) -> [any HistoryThreadHeap] { (0..<count).map { _ in LibMimallocThreadHeap(lib) } }

  public func endRun(leftover: [Int]) { for a in leftover { lib.free(a) } }
}

/// Calls on the calling OS thread's default heap.
final class LibMimallocThreadHeap: HistoryThreadHeap {
  let lib: LibMimalloc
  init(_ lib: LibMimalloc) { self.lib = lib }
  func malloc(_ n: UInt64) -> Int? { lib.malloc(n) }
  func calloc(_ count: UInt64, _ size: UInt64) -> Int? { lib.heapCalloc(lib.defaultHeap(), count, size) }
  func realloc(_ address: Int?, _ n: UInt64) -> Int? { lib.heapRealloc(lib.defaultHeap(), address, n) }
  func free(_ address: Int?) { lib.free(address) }
  func usableSize(_ address: Int) -> Int { lib.usableSize(address) }
  func collect(force: Bool) { lib.collect(force: force) }
  func finish() {}
}
