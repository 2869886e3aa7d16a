// DomainCall.swift — one call into the PyMem domains that the debug hooks may stop with a fatal error (a
// misuse, or the free or realloc that checks an earlier one), as a value, so whoever runs it can decide
// how: the reference runs it in process and captures the error; the real libpython runs it in a forked
// child (``CPythonDomains/runForked(_:)``), since CPython aborts. No state.

public enum DomainCall: Sendable, Hashable, CustomStringConvertible {
  /// `…Free(p)` through the domain.
  case free(PyMemDomain, Int?)
  /// `…Realloc(p, n)` through the domain.
  case realloc(PyMemDomain, Int?, UInt64)
  /// Allocate `n` bytes through the domain and free that block again (what notices a write after free).
  case mallocThenFree(PyMemDomain, UInt64)
  /// Allocate `n` bytes through the domain with the GIL released; a block it returns is freed again with
  /// the GIL held.
  case mallocWithoutGIL(PyMemDomain, UInt64)

  public var description: String {
    func hex(_ a: Int?) -> String { a.map { "0x" + String(UInt(bitPattern: $0), radix: 16) } ?? "NULL" }
    switch self {
    case .free(let d, let a): return "\(d.functionPrefix + "Free")(\(hex(a)))"
    case .realloc(let d, let a, let n): return "\(d.functionPrefix + "Realloc")(\(hex(a)), \(n))"
    case .mallocThenFree(let d, let n): return "\(d.functionPrefix + "Free")(\(d.functionPrefix + "Malloc")(\(n)))"
    case .mallocWithoutGIL(let d, let n): return "\(d.functionPrefix + "Malloc")(\(n)) without the GIL"
    }
  }
}
