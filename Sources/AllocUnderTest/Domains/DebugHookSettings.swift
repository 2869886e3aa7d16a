// DebugHookSettings.swift — what the three debug-hook contexts of one ``PyMemDomains`` share: the build
// (which GIL message, whether realloc erases), PYMEM_DEBUG_SERIALNO and the `serialno` counter (a static
// in Objects/obmalloc.c, one per instance here), the injectable "GIL held" predicate and fatal handler,
// and the seeded bugs. Entry points: ``DebugHookSettings/gilMessage``, ``DebugHookSettings/report(_:)``.
// Invariant: `serialno` only grows, by one per successful debug malloc/calloc/realloc (with serials on),
// until ``PyMemDomains/reset(allocator:)`` starts it over.

/// Shared state and policy of the debug hooks of one ``PyMemDomains``.
public final class DebugHookSettings {
  public let build: PyBuild
  /// `PYMEM_DEBUG_SERIALNO`: a serial number after the trailing pad (off in CPython by default).
  public let serialNumbers: Bool
  /// `serialno`: calls of debug malloc/calloc/realloc so far (`bumpserialno`), when ``serialNumbers``.
  public internal(set) var serialno: UInt = 0
  /// `PyGILState_Check()` (3.11–3.13) / "a thread state is attached" (3.14): the caller holds the GIL.
  public var gilHeld: () -> Bool = { true }
  /// Receives every fatal error; by default prints CPython's text and aborts.
  public var onFatal: FatalHandler = PyFatalError.printAndAbort
  let bugs: Set<DomainBug>
  /// Model-only: the readable range containing an address, according to every backing of the instance
  /// (set by ``PyMemDomains``). Lets a hook read the header of another domain's block, as CPython does.
  var knownMemory: (Int) -> Range<Int>? = { _ in nil }

  init(build: PyBuild, serialNumbers: Bool, bugs: Set<DomainBug>) {
    self.build = build
    self.serialNumbers = serialNumbers
    self.bugs = bugs
  }

  /// `PYMEM_DEBUG_EXTRA_BYTES`.
  public var extraBytes: Int { DebugLayout.extraBytes(serialNumbers: serialNumbers) }

  /// The text of `_PyMem_DebugCheckGIL`: 3.14 free-threaded builds ask for an attached thread state
  /// (gh-127314), every other build for the GIL.
  public var gilMessage: String { Self.gilMessage(for: build) }

  public static func gilMessage(for build: PyBuild) -> String {
    if build.version >= .v3_14 && build.freeThreaded {
      return "Python memory allocator called without an active thread state. "
        + "Are you trying to call it inside of a Py_BEGIN_ALLOW_THREADS block?"
    }
    return "Python memory allocator called without holding the GIL"
  }

  /// Realloc erases and saves the block ends around the wrapped realloc only in GIL builds
  /// (`#ifndef Py_GIL_DISABLED` in `_PyMem_DebugRawRealloc`, 3.13+).
  var reallocErases: Bool { !build.freeThreaded }

  /// `bumpserialno`, returning the new number.
  func bumpSerial() -> UInt {
    if !bugs.contains(.serialNotBumped) { serialno += 1 }
    return serialno
  }

  func report(_ error: PyFatalError) { onFatal(error) }
}
