// CPythonAdapter.swift — the `cpython` peer: pymalloc-family programs on CPython 3.11's real obmalloc
// (``CPythonPymalloc``), checked by every generic oracle rule the real allocator lets us observe:
// O1–O8 and O12 on each result, O13 through the arenas our arena allocator mapped, O4/O5/O6 on the real
// bytes, O7 from the real pool headers, and O9–O11 from `_PyObject_DebugMallocStats` (parsed) plus a walk
// of the pool headers for the per-arena rows. It has no invariant walker (obmalloc.c's lists are static).
//
// The library's state lives as long as the process: `reset()` frees every block this adapter handed out, so
// the next run starts with no block live, but CPython keeps its last wholly-free arena (bpo-37257) and its
// cached pools. One adapter holds the library at a time (``CPythonPymalloc/holder``).

import AllocUnderTest
import Oracle

public final class CPythonAdapter: PlacementReporting {
  public let peer: CPythonPymalloc
  public let pages: PageSource
  public var name: String { "cpython" }
  /// Blocks handed out and not yet freed, freed oldest first by `reset()`.
  private var live = LiveAddresses()

  /// Claims the process's CPython pymalloc. `pages` serves its arenas (with `arenaFaults` when it is made
  /// here); `rawFaults` applies to its RAW-domain calls.
  public init(arenaFaults: FaultPlan = .never, rawFaults: FaultPlan = .never, pages: PageSource? = nil) throws(PeerUnavailable) {
    let peer = try CPythonPymalloc.shared()
    guard peer.holder.claim("cpython adapter") else {
      throw PeerUnavailable(peer: .cpython, reason: "libpython3.11's pymalloc is in use by \(peer.holder.holderName ?? "another adapter") in this process")
    }
    self.peer = peer
    self.pages = pages ?? MmapPageSource(faults: arenaFaults)
    peer.rawFaults.plan = rawFaults
    peer.pages = self.pages
    peer.installTables()
    // An earlier user (a domains program on the real hooks) may have left pool blocks: O9 counts only ours.
    peer.freeLeftoverBlocks()
  }

  deinit {
    freeEverything()
    peer.rawFaults.plan = .never
    peer.holder.release()
  }

  public func malloc(_ n: UInt64) -> Int? { live.record(peer.malloc(n)) }
  public func calloc(_ c: UInt64, _ s: UInt64) -> Int? { live.record(peer.calloc(c, s)) }
  public func realloc(_ a: Int?, _ n: UInt64) -> Int? {
    guard let r = peer.realloc(a, n) else { return nil }  // on failure the old block stays live
    return live.moved(from: a, to: r)
  }
  public func free(_ a: Int?) {
    live.forget(a)
    peer.free(a)
  }
  public func usableSize(_ a: Int) -> Int { peer.usableSize(a) }
  public func ownsSmall(_ a: Int) -> Bool { peer.owns(a) }
  public func isAllocated(_ a: Int) -> Bool? { peer.isAllocated(a) }
  public var injectedFaults: Int { pages.faults.injected + peer.rawFaults.injected }
  public var mappedBytes: Int { peer.liveArenas * PymallocLayout.arenaSize }

  /// The class rows and counters from `_PyObject_DebugMallocStats`; one arena row per live arena from its
  /// pool headers (used = carved with count > 0; free = the rest of its pool slots).
  public func snapshot() -> StatsSnapshot? {
    let parsed = DebugMallocStats.parse(peer.statsText())
    var rows = (0..<PymallocLayout.sizeClassCount).map {
      StatsSnapshot.SizeClassRow(sizeClass: $0, blockSize: PymallocLayout.blockSize(ofClass: $0), pools: 0, blocksInUse: 0,
                                 availableBlocks: 0)
    }
    for r in parsed.rows where r.count == 5 && r[0] >= 0 && r[0] < rows.count {
      rows[r[0]] = .init(sizeClass: r[0], blockSize: r[1], pools: r[2], blocksInUse: r[3], availableBlocks: r[4])
    }
    // In descriptor order, as the reference lists them: the arenaindex in the first pool slot's header (an
    // arena always has its first pool carved: new_arena runs only to hand out a pool at once).
    let ordered = peer.arenaBases.sorted { peer.arenaIndex(ofArena: $0) < peer.arenaIndex(ofArena: $1) }
    let arenas = ordered.map { base -> StatsSnapshot.ArenaRow in
      let pools = peer.pools(ofArena: base)
      let used = pools.filter { $0.carved && $0.count > 0 }.count
      return .init(usedPools: used, freePools: pools.count - used, totalPools: pools.count)
    }
    return StatsSnapshot(classes: rows, arenas: arenas, arenasCurrent: parsed.values["# arenas allocated current"] ?? -1,
                         bytesInAllocatedBlocks: parsed.values["# bytes in allocated blocks"] ?? -1,
                         totalBytes: parsed.values["Total"] ?? -1)
  }
  public func statsText() -> String? { peer.statsText() }
  public func placement(of a: Int) -> BlockPlacement? { peer.placement(of: a).map { BlockPlacement(arena: $0.arenaIndex, pool: $0.pool, offset: $0.offset) } }
  public func checkInvariants() -> [(id: String, detail: String)] { [] }

  /// Frees what this adapter still holds (oldest first) and zeroes the fault counters; CPython's arenas
  /// and pool caches stay as CPython leaves them.
  public func reset() {
    freeEverything()
    pages.faults.resetCounts()
    peer.rawFaults.resetCounts()
    peer.pages = pages
    peer.installTables()
  }

  private func freeEverything() { for a in live.drain() { peer.free(a) } }
}
