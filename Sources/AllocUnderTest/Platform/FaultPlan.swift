// FaultPlan.swift — the fault-injection vocabulary of the platform layer.
//
// A ``FaultPlan`` says which calls of one kind should fail and with which errno; a ``FaultInjector`` counts
// the calls of one source (one ``MmapPageSource`` or one ``SystemRawAllocator``, never a global) and answers
// ``FaultInjector/nextFailure()`` once per call. "OOM at every mmap" is then a loop over `n` in
// `.nth(n, errno: ENOMEM)`. Modeled on swift-system's `Mocking.swift` and NIO's allocator hooks (R21).
// No `checkInvariants()`: the only invariant, `injected ≤ calls`, holds by construction under one lock.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Which calls should fail. Call numbers are 1-based and count every call the injector has seen since it
/// was created or last ``FaultInjector/resetCounts()``, whatever the plan was at the time.
public enum FaultPlan: Sendable, Equatable, CustomStringConvertible {
  /// No call fails.
  case never
  /// Every call fails with `errno`.
  case always(errno: Int32)
  /// Only the n-th call (1-based) fails. Requires n ≥ 1.
  case nth(Int, errno: Int32)
  /// Calls n, 2n, 3n, … fail. Requires n ≥ 1; `.everyNth(1, …)` behaves like `.always`.
  case everyNth(Int, errno: Int32)

  /// The errno call number `call` (1-based) must fail with, or nil if it should go through.
  public func failure(atCall call: Int) -> Int32? {
    switch self {
    case .never: nil
    case .always(let code): code
    case .nth(let n, let code): call == n ? code : nil
    case .everyNth(let n, let code): call % n == 0 ? code : nil
    }
  }

  /// `.nth(2, errno: ENOMEM)`, spelled as the Swift expression that builds it.
  public var description: String {
    switch self {
    case .never: ".never"
    case .always(let code): ".always(errno: \(SystemError.errnoName(code)))"
    case .nth(let n, let code): ".nth(\(n), errno: \(SystemError.errnoName(code)))"
    case .everyNth(let n, let code): ".everyNth(\(n), errno: \(SystemError.errnoName(code)))"
    }
  }

  /// Traps on a plan that could never fire as written (n < 1) or that fakes a non-error (errno ≤ 0).
  fileprivate func validate() {
    switch self {
    case .never:
      break
    case .always(let code):
      require(code > 0, "FaultPlan \(self): errno must be positive")
    case .nth(let n, let code), .everyNth(let n, let code):
      require(n >= 1, "FaultPlan \(self): call numbers are 1-based, so n must be ≥ 1")
      require(code > 0, "FaultPlan \(self): errno must be positive")
    }
  }
}

/// Counts calls and decides failures; one per source, never global.
///
/// Thread-safe: the plan and both counters live under one `Mutex`, so with several threads the n-th call is
/// the n-th to take the lock.
public final class FaultInjector: Sendable {
  private struct State {
    var plan: FaultPlan
    /// Calls seen since creation or the last `resetCounts()`.
    var calls = 0
    /// Calls that were told to fail. Invariant: injected ≤ calls.
    var injected = 0
  }

  private let state: TSanVisibleMutex<State>
  /// ``injected``, mirrored where the locked state changes it: the executor reads it around every allocating
  /// op, and an atomic load there costs no lock, retain or release.
  private let injectedMirror = Atomic<Int>(0)

  public init(_ plan: FaultPlan = .never) {
    plan.validate()
    state = TSanVisibleMutex(State(plan: plan))
  }

  /// The current plan. Setting it does not reset ``calls``, so `.nth(calls + 1, …)` fails the next call.
  public var plan: FaultPlan {
    get { state.withLock { $0.plan } }
    set {
      newValue.validate()
      state.withLock { $0.plan = newValue }
    }
  }

  /// Calls counted by ``nextFailure()`` since creation or the last ``resetCounts()``.
  public var calls: Int { state.withLock { $0.calls } }

  /// How many of those calls were made to fail.
  public var injected: Int { injectedMirror.load(ordering: .acquiring) }

  /// Counts one call; returns the errno to fake, or nil to let the call through.
  public func nextFailure() -> Int32? {
    state.withLock { s in
      s.calls += 1
      guard let code = s.plan.failure(atCall: s.calls) else { return nil }  // usual: no fault
      s.injected += 1
      injectedMirror.store(s.injected, ordering: .releasing)
      return code
    }
  }

  /// Zeroes ``calls`` and ``injected``; the plan stays.
  public func resetCounts() {
    state.withLock { s in
      s.calls = 0
      s.injected = 0
      injectedMirror.store(0, ordering: .releasing)
    }
  }
}
