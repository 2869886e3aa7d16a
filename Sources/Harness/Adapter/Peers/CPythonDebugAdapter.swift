// CPythonDebugAdapter.swift — the `cpython-debug` peer: domains-family programs on CPython 3.11's real
// PyMem domains and debug hooks (``CPythonDomains``), checked by D1–D8 like the reference, less D5 (no serial
// numbers in a release build; see ``PeerAdapters/oracle(for:family:base:)``). It is a ``DomainsAdapter``
// so ``Executor/run(_:on:config:)`` hands it to ``DomainsExecutor``; it overrides what the executor drives.
//
// Clean calls run in this process. A ``DomainCall`` (a misuse, or the free/realloc that checks one) runs
// first in a forked child, whose stderr and exit status are kept (``ProducedFatal``). If the child printed
// a fatal error, that is the run's outcome and the parent never makes the call (CPython aborted; the
// executor stops there). If the child returned quietly, the parent makes the same call itself: fork gave
// the child this process's exact libpython state, the call is deterministic on it, and the child has just
// shown that it returns, so redoing it costs one call and keeps the program going with real results (a
// realloc's new address) — where replaying the rest of the program in the child would need a second
// executor there. Every run starts from libpython's pristine tables; the library is claimed meanwhile.

import AllocUnderTest
import Oracle

public final class CPythonDebugAdapter: DomainsAdapter, DomainsCalls {
  public let peer: CPythonDomains
  private var log: [ProducedFatal] = []
  private var vouched: [Range<Int>] = []
  /// Children forked so far (each a call the hooks could have stopped).
  public private(set) var forks = 0
  /// Test hook: rewrites each produced fatal line (a broken wrapper D1 must catch).
  package var _corruptFatalLine: ((String) -> String)? = nil

  /// Claims the process's libpython3.11 and restores its pristine tables.
  public init() throws(PeerUnavailable) {
    let peer = try CPythonDomains.shared()
    guard peer.pymalloc.holder.claim("cpython-debug adapter") else {
      throw PeerUnavailable(peer: .cpythonDebug, reason: "libpython3.11 is in use by \(peer.pymalloc.holder.holderName ?? "another adapter") in this process")
    }
    self.peer = peer
    super.init(bugs: [], options: PyMemOptions())
    peer.restorePristine()
  }

  deinit {
    peer.pymalloc.installTables()
    peer.pymalloc.freeLeftoverBlocks()
    peer.pymalloc.holder.release()
  }

  override public var name: String { "cpython-debug" }
  override public var calls: any DomainsCalls { self }
  override public var produced: [ProducedFatal] { log }
  override public var producedCount: Int { log.count }
  override public var serialNumbers: Bool { false }
  override public var modelsWildReads: Bool { false }

  /// Pristine RAW/MEM/OBJ tables (no hooks), no pool block left from the last program, no fatal errors,
  /// nothing vouched for.
  override public func reset() {
    peer.restorePristine()
    peer.pymalloc.freeLeftoverBlocks()
    log = []
    vouched = []
  }

  @discardableResult
  override public func risky(_ call: DomainCall) -> Int? {
    forks += 1
    guard let outcome = peer.runForked(call) else {
      log.append(ProducedFatal(fatalLine: "[no child: fork failed for \(call)]", stderrText: "", status: nil))
      return nil
    }
    if outcome.returnedQuietly { return peer.runInProcess(call) }
    log.append(Self.fatal(from: outcome, corrupt: _corruptFatalLine))
    return nil
  }

  /// The child's outcome as the executor compares it.
  static func fatal(from o: ForkedOutcome, corrupt: ((String) -> String)?) -> ProducedFatal {
    if let line = o.pythonFatalLine {
      return ProducedFatal(fatalLine: corrupt?(line) ?? line, stderrText: o.stderrText, status: o.statusText)
    }
    let note = "[no fatal line: the child ended by \(o.statusText) after \(o.stderr.count) bytes of stderr]"
    let inDump = o.faulted && o.stderr.starts(with: Array("Debug memory block at address p=".utf8))
    return ProducedFatal(fatalLine: note, stderrText: o.stderrText, diedInDump: inDump, status: o.statusText)
  }

  // MARK: AllocatorAdapter (PyMem_* on MEM)

  override public func malloc(_ n: UInt64) -> Int? { peer.malloc(.mem, n) }
  override public func calloc(_ count: UInt64, _ size: UInt64) -> Int? { peer.calloc(.mem, count, size) }
  override public func realloc(_ address: Int?, _ n: UInt64) -> Int? { peer.realloc(.mem, address, n) }
  override public func free(_ address: Int?) { peer.free(.mem, address) }

  // MARK: DomainsCalls (libpython's own functions)

  public func setupAllocators(_ name: String) throws { try peer.setupAllocators(name) }
  public func setupDebugHooks() { peer.setupDebugHooks() }
  public func currentAllocatorName() -> String? { peer.currentAllocatorName() }
  public func domainsOffTheirDebugContext() -> [PyMemDomain] {
    PyMemDomain.allCases.filter { peer.installedContext($0) != peer.debugContexts[$0.rawValue] }
  }
  public func mallocAddress(_ domain: PyMemDomain, _ n: UInt64) -> Int? { peer.malloc(domain, n) }
  public func callocAddress(_ domain: PyMemDomain, _ nelem: UInt64, _ elsize: UInt64) -> Int? { peer.calloc(domain, nelem, elsize) }
  public func reallocAddress(_ domain: PyMemDomain, _ address: Int?, _ n: UInt64) -> Int? { peer.realloc(domain, address, n) }
  public func freeAddress(_ domain: PyMemDomain, _ address: Int?) { peer.free(domain, address) }
  /// A live pymalloc arena (its pool blocks stay readable after free) or a vouched buffer. glibc's blocks are
  /// never readable after free here: glibc writes its own words into them (or unmaps them).
  public func readableRange(around address: Int) -> Range<Int>? {
    peer.arenaRange(around: address) ?? vouched.first { $0.contains(address) }
  }
  public func vouchReadable(_ range: Range<Int>) { vouched.append(range) }
  public func forgetVouched() { vouched.removeAll() }
}
