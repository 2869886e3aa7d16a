// Interleaving.swift — yield points for a controlled scheduler (issue 14). The mimalloc reference routes
// every atomic access of its shared state through ``SharedWord`` (Mimalloc/SharedWord.swift), which calls
// ``Interleaving/point(_:)`` first; its spin-waits call ``Interleaving/spin()``. A scheduler (Harness's
// `ControlledRun`) registers itself as the ``InterleavingController`` of the OS threads it runs; at each
// yield point such a thread hands the decision "who runs next" to it, so exactly one thread runs at a time
// and the order of every atomic step is the scheduler's choice.
//
// Cost outside a scheduler: one load of a module-level word and a branch that is never taken (the word
// is 0 unless some scheduler is running in the process). Only while one runs does a yield point look up
// the calling thread's controller (a pthread key); threads it does not control (a concurrent test's, the
// scheduler's own) find none and go on.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What a thread is about to do at a yield point.
public enum YieldKind: UInt8, Sendable, CustomStringConvertible {
  /// An atomic load, store, compare-exchange of shared allocator state.
  case load, store, cas
  /// A spin-wait iteration (`mi_atomic_yield`): the thread waits for another one to make progress, so a
  /// scheduler must let another thread run (else it would spin forever).
  case spin
  /// The scheduler's own point between two whole operations.
  case op

  public var description: String {
    switch self {
    case .load: "load"
    case .store: "store"
    case .cas: "cas"
    case .spin: "spin"
    case .op: "op"
    }
  }
}

/// A controlled scheduler, as the threads it runs see it.
public protocol InterleavingController: AnyObject, Sendable {
  /// Called by a controlled thread at a yield point, before the step; returns when the thread may go on.
  func yieldPoint(_ kind: YieldKind)
}

/// Number of controllers running in the process: written under `registrationLock`, read plainly on the
/// hot path (a stale 0 only means a thread a scheduler started a moment ago is not yet controlled, which
/// cannot happen: the scheduler registers before it starts its threads). Module-level and constant-
/// initialised, so reading it needs no lazy-initialisation check.
nonisolated(unsafe) var interleavingControllers = 0

public enum Interleaving {
  private static let registrationLock = Mutex(())
  private static let key: pthread_key_t = {
    var key = pthread_key_t()
    let rc = unsafe pthread_key_create(&key, nil)
    require(rc == 0, "pthread_key_create failed: \(rc)")
    return key
  }()

  /// A yield point before an atomic step of shared state.
  @inline(__always) public static func point(_ kind: YieldKind) {
    if _slowPath(interleavingControllers != 0) { controlledPoint(kind) }
  }

  /// A spin-wait iteration: under a scheduler a yield point of kind `.spin`, else `sched_yield`.
  @inline(__always) public static func spin() {
    if _slowPath(interleavingControllers != 0), controlledPoint(.spin) { return }
    _ = sched_yield()
  }

  /// Widens a seeded race window for real threads (`sched_yield`); nothing under a scheduler, where the
  /// atomic step that follows is a yield point anyway.
  @inline(__always) public static func widenWindow() {
    if interleavingControllers == 0 { _ = sched_yield() }
  }

  /// Hands the decision to the calling thread's controller, if it has one; true iff it had.
  @inline(never) @discardableResult
  static func controlledPoint(_ kind: YieldKind) -> Bool {
    guard let raw = unsafe pthread_getspecific(key) else { return false }
    let controller = unsafe Unmanaged<AnyObject>.fromOpaque(raw).takeUnretainedValue()
    (controller as! any InterleavingController).yieldPoint(kind)
    return true
  }

  /// A scheduler starts: yield points begin asking for a controller. Pair with ``end()``.
  public static func begin() { registrationLock.withLock { _ in interleavingControllers += 1 } }
  /// A scheduler is done (all its threads finished).
  public static func end() { registrationLock.withLock { _ in interleavingControllers -= 1 } }

  /// Makes `controller` the controller of the calling thread (nil: none). The controller must outlive the
  /// registration (it is held unretained).
  public static func control(currentThreadBy controller: (any InterleavingController)?) {
    let raw = controller.map { unsafe Unmanaged.passUnretained($0 as AnyObject).toOpaque() }
    let rc = unsafe pthread_setspecific(key, raw)
    require(rc == 0, "pthread_setspecific failed: \(rc)")
  }
}
