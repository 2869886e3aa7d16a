// TSanVisibleMutex.swift — ``TSanVisibleMutex``: `Synchronization.Mutex` plus one atomic word whose
// acquire load (first thing inside the lock) and release store (last thing) make every hand-off of the
// lock visible to ThreadSanitizer. Every lock shared by real threads (the mimalloc reference's registry,
// abandoned pool, QSBR clock and transition log; the page source; the stress runner's slots) is one.
//
// Why: on Linux, `Mutex._lock`/`_unlock` are inlined into our code (so TSan sees their uncontended CAS),
// but the contended paths `_lockSlow`/`_unlockSlow` live in the toolchain's uninstrumented
// libswiftSynchronization.so and hand the lock over through the kernel (priority-inheritance futex). TSan
// then sees no release/acquire pair between two critical sections and reports the protected data as
// racing — a false positive, shown by scripts/stress-tsan before this type existed, and by a 20-line
// program (4 threads appending to a `Mutex<[Int]>`: TSan exit 66; with the edge below: 0 reports). The
// edge costs one uncontended atomic load and store per critical section; it adds no ordering a mutex does
// not already give, so it hides no real race. No suppression needed. Helgrind and DRD have the same blind
// spot (they model pthread locks only); the same edge is given to them as a happens-before annotation.
import Synchronization

/// A `Mutex` whose hand-offs ThreadSanitizer can see. Same `withLock` as `Mutex`.
public final class TSanVisibleMutex<Value>: Sendable {
  private let mutex: Mutex<Value>
  /// Written last in each critical section (release) and read first in the next (acquire): the pair TSan
  /// needs. Inside the lock, so the load always reads the previous holder's store.
  private let edge = Atomic<UInt>(0)

  public init(_ value: sending Value) { mutex = Mutex(value) }

  @inline(__always)
  public func withLock<Result>(_ body: (inout sending Value) -> sending Result) -> sending Result {
    mutex.withLock { value in
      HappensBefore.after(HappensBefore.key(self))  // the same edge for Helgrind and DRD (Valgrind.swift)
      _ = edge.load(ordering: .acquiring)  // pairs with the previous holder's releasing store below
      defer {
        edge.store(0, ordering: .releasing)  // pairs with the next holder's acquiring load
        HappensBefore.before(HappensBefore.key(self))
      }
      return body(&value)
    }
  }
}
