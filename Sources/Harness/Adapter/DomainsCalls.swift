// DomainsCalls.swift — what ``DomainsExecutor`` drives in a domains-family run, whichever domains carry it:
// the PyMem entry points by address, configuration, D7's installed-context check and the memory a check may
// read (``DomainsCalls``; the reference ``PyMemDomains`` conforms here, ``CPythonDebugAdapter`` for the
// real libpython), and ``ProducedFatal``, a fatal error of the hooks as the executor compares it. Calls
// that may end in a fatal error do not go through ``DomainsCalls``: the executor hands them to
// ``DomainsAdapter/risky(_:)`` as a ``DomainCall``, which each adapter runs its own way.

import AllocUnderTest

public protocol DomainsCalls: AnyObject {
  /// `_PyMem_SetupAllocators(name)` ("" = the build default).
  func setupAllocators(_ name: String) throws
  func setupDebugHooks()
  func currentAllocatorName() -> String?
  /// The domains whose installed table's `ctx` is not that domain's own debug context (D7).
  func domainsOffTheirDebugContext() -> [PyMemDomain]
  func mallocAddress(_ domain: PyMemDomain, _ n: UInt64) -> Int?
  func callocAddress(_ domain: PyMemDomain, _ nelem: UInt64, _ elsize: UInt64) -> Int?
  func reallocAddress(_ domain: PyMemDomain, _ address: Int?, _ n: UInt64) -> Int?
  func freeAddress(_ domain: PyMemDomain, _ address: Int?)
  /// A range around `address` that is mapped and may be read (freed memory included), or nil.
  func readableRange(around address: Int) -> Range<Int>?
  /// The harness vouches that `range` is its own readable buffer (a foreign pointer's surroundings).
  func vouchReadable(_ range: Range<Int>)
  func forgetVouched()
}

extension PyMemDomains: DomainsCalls {
  public func domainsOffTheirDebugContext() -> [PyMemDomain] {
    PyMemDomain.allCases.filter { getAllocator($0) !== debugContext($0) }
  }
}

/// A fatal error as the executor sees it: the line D1 compares, and everything that was printed with it.
public struct ProducedFatal: Sendable, Hashable {
  /// "Fatal Python error: <func>: <msg>" decoded like test_mem.py; for a process that died before printing
  /// one, a bracketed note saying how it ended.
  public var fatalLine: String
  /// The whole diagnostic: the block dump, the fatal line and what follows (the runtime state line …).
  public var stderrText: String
  /// Reference only: the model stopped where CPython would read memory nobody vouches for.
  public var involvesWildRead: Bool
  /// Real process only: it died inside the dump (SIGSEGV/SIGBUS) before printing a fatal line.
  public var diedInDump: Bool
  /// Real process only: how the child ended ("SIGABRT", "SIGSEGV", "exit 0"); nil for the reference.
  public var status: String?

  public init(fatalLine: String, stderrText: String, involvesWildRead: Bool = false, diedInDump: Bool = false,
              status: String? = nil) {
    self.fatalLine = fatalLine
    self.stderrText = stderrText
    self.involvesWildRead = involvesWildRead
    self.diedInDump = diedInDump
    self.status = status
  }

  /// The reference hooks' error.
  public init(_ error: PyFatalError) {
    self.init(fatalLine: error.fatalLine, stderrText: error.stderrText, involvesWildRead: error.involvesWildRead)
  }
}
