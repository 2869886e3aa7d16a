// DomainsAdapter.swift — what the domains family runs on: a ``PyMemDomains`` (a release build,
// `PYTHONMALLOC` unset) reset to its fresh state per run, with the options the domain rules rely on —
// serial numbers on (D5) and a C-heap quarantine, so a block freed a moment ago is still readable (D4) and a double free or realloc of
// it reads 0xDD instead of glibc's free-list words (predictable instead of a wild read) — and any seeded
// ``DomainBug``s. Fatal errors of the hooks are captured, never printed-and-aborted.
//
// It is an ``AllocatorAdapter`` so every tool that takes one (fuzz targets, `run`, `shrink`, the hunt) can
// hold it: ``Executor/run(_:on:config:)`` hands it to ``DomainsExecutor``, which drives ``calls``,
// ``risky(_:)`` and ``produced``; ``CPythonDebugAdapter`` overrides those four for the real libpython.
// Its own malloc … free are `PyMem_Malloc` … `PyMem_Free` (MEM); no pool, statistics or invariants.

import AllocUnderTest
import Oracle

public class DomainsAdapter: AllocatorAdapter {
  public let bugs: Set<DomainBug>
  public let options: PyMemOptions
  /// Fatal errors captured during the current run, in order.
  public private(set) var fatals: [PyFatalError] = []
  /// The instance every run uses (made once; ``reset()`` returns it to its fresh state).
  public let domains: PyMemDomains
  /// Arenas for every state: one source that keeps two released arenas, so the fresh state of each run (a
  /// fuzz input) maps and faults in no new arena (``MmapPageSource`` recycling).
  private let pages: MmapPageSource
  /// The C heap under RAW (its fault plan is the `raw` site of the fault sweep).
  private let system: SystemRawAllocator

  /// `arenaFaults` / `rawFaults`: plans for pymalloc's arena mmaps and for the C heap under RAW (the fault
  /// sweep; counts restart at every ``reset()``).
  /// `pymallocBugs`: seeded bugs of the pymalloc under MEM and OBJ (the fault sweep's fault-path bugs).
  public init(bugs: Set<DomainBug> = [], options: PyMemOptions = DomainsAdapter.defaultOptions,
              arenaFaults: FaultPlan = .never, rawFaults: FaultPlan = .never, pymallocBugs: Set<PymallocBug> = []) {
    self.bugs = bugs
    self.options = options
    pages = MmapPageSource(faults: arenaFaults, recycle: 2)
    system = SystemRawAllocator(faults: rawFaults)
    // "" (the build default) is always accepted
    domains = try! PyMemDomains(options: options, system: system, pages: pages, bugs: bugs, pymallocBugs: pymallocBugs)
    capture()
  }

  /// Dropping the domains frees pymalloc's radix nodes through RAW, which may be hooked; under a seeded hook
  /// bug that free can end in a fatal error, whose handler must not reach this adapter once it is gone
  /// (seen: `alloc-check score` dropping a hunt's adapter with sizeLittleEndian on, an unowned read of a
  /// destroyed object).
  deinit { domains.onFatal = { _ in } }

  /// Calls of the arena mmap and the C heap since the last reset (the fault sweep's two sites).
  public var faultCalls: (mmap: Int, raw: Int) { (pages.faults.calls, system.faults.calls) }
  /// Bytes mapped and C-heap blocks live right now (the fault sweep's F3 compares them with a clean run's).
  public var footprint: (mappedBytes: Int, rawBlocks: Int) { (pages.stats.mappedBytes, system.liveBlocks) }
  /// Whether `address` lies in one of pymalloc's arenas (nil: no pymalloc, or not the reference).
  public func inPymallocArena(_ address: Int) -> Bool? { domains.pymallocBacking?.pymalloc.owns(address) }

  /// Serial numbers on; 16 freed C-heap blocks stay readable.
  public static let defaultOptions = PyMemOptions(serialNumbers: true, mallocQuarantine: 16)

  public var name: String { bugs.isEmpty ? "domains" : "domains+" + bugs.map(\.rawValue).sorted().joined(separator: "+") }

  // MARK: What DomainsExecutor drives (overridden by CPythonDebugAdapter)

  /// The domains the executor calls.
  public var calls: any DomainsCalls { domains }
  /// Fatal errors of the current run, in order, as the executor compares them.
  public var produced: [ProducedFatal] { fatals.map(ProducedFatal.init) }
  /// How many fatal errors the hooks have produced: ``produced``'s count without building it (the executor
  /// reads it around every call).
  public var producedCount: Int { fatals.count }
  /// Hooked blocks carry a serial number (`PYMEM_DEBUG_SERIALNO`): 4·S extra bytes instead of 3·S.
  public var serialNumbers: Bool { options.serialNumbers }
  /// The domains stop at a read of unknown memory instead of performing it (``PyFatalError/involvesWildRead``).
  public var modelsWildReads: Bool { true }

  /// Runs a call the hooks may stop with a fatal error (captured in ``fatals``); malloc's or realloc's result.
  @discardableResult
  public func risky(_ call: DomainCall) -> Int? {
    switch call {
    case .free(let d, let a):
      domains.freeAddress(d, a)
      return nil
    case .realloc(let d, let a, let n):
      return domains.reallocAddress(d, a, n)
    case .mallocThenFree(let d, let n):
      let again = domains.mallocAddress(d, n)
      domains.freeAddress(d, again)
      return again
    case .mallocWithoutGIL(let d, let n):
      let before = fatals.count
      domains.gilHeld = { false }
      let a = domains.mallocAddress(d, n)
      domains.gilHeld = { true }
      if let a, fatals.count == before { domains.freeAddress(d, a) }
      return a
    }
  }

  /// The instance back to its fresh state (``PyMemDomains/reset(allocator:)``: the same objects, emptied),
  /// with fatal errors captured.
  public func reset() {
    try! domains.reset()  // "" (the build default) is always accepted
    fatals = []
    capture()
    pages.faults.resetCounts()
    system.faults.resetCounts()
  }

  private func capture() {
    domains.onFatal = { [unowned self] error in self.fatals.append(error) }
  }

  // MARK: AllocatorAdapter (PyMem_* on MEM; no pools, statistics or invariants of its own)

  public func malloc(_ n: UInt64) -> Int? { domains.mallocAddress(.mem, n) }
  public func calloc(_ count: UInt64, _ size: UInt64) -> Int? { domains.callocAddress(.mem, count, size) }
  public func realloc(_ address: Int?, _ n: UInt64) -> Int? { domains.reallocAddress(.mem, address, n) }
  public func free(_ address: Int?) { domains.freeAddress(.mem, address) }
  public func usableSize(_ address: Int) -> Int { 0 }
  public func ownsSmall(_ address: Int) -> Bool { false }
  public func isAllocated(_ address: Int) -> Bool? { nil }
  public var injectedFaults: Int { pages.faults.injected + system.faults.injected }
  public func snapshot() -> StatsSnapshot? { nil }
  public func statsText() -> String? { nil }
  public func checkInvariants() -> [(id: String, detail: String)] { [] }
  public var mappedBytes: Int { 0 }
}
