// PeerAdapters.swift — which allocator a run drives (`--allocator`), for each program family: the
// reference adapters, or a real peer's (issue 11). Also the oracle each peer can be checked with: the
// family's full oracle less what the peer cannot show (invariant walkers of our own structures, pool
// statistics of a C heap), each left out by name in ``PeerAdapters/oracle(for:family:)``.

import AllocUnderTest
import Oracle

public enum PeerAdapters {
  /// The families `kind` runs.
  public static func families(of kind: PeerKind) -> [ProgramFamily] {
    switch kind {
    case .reference: ProgramFamily.allCases
    case .cpython, .glibc, .jemalloc: [.pymalloc]
    case .cpythonDebug: [.domains]
    case .mimalloc: [.heaps]
    }
  }

  /// The oracle for `family` on `kind`, starting from `base` (the family's full oracle, or what the user
  /// asked for): rules the peer cannot answer are removed, never weakened.
  public static func oracle(for kind: PeerKind, family: ProgramFamily, base: OracleConfig) -> OracleConfig {
    var o = base
    switch kind {
    case .reference:
      break
    case .cpythonDebug:
      // D5: a release libpython has no PYMEM_DEBUG_SERIALNO, so its blocks carry no serial number to check.
      // D1–D4 and D6–D8 read the real process (bytes, the fatal line of a forked child, the allocator name);
      // D4 only where freed bytes stay readable (pool blocks: glibc writes its own words into freed chunks).
      o.rules.remove(.serialBumped)
    case .cpython:
      // obmalloc.c's arena and pool lists are static in libpython: no invariant walker (PM*) runs on it.
      o.invariants = []
      o.invariantsEvery = 0
    case .glibc, .jemalloc:
      // A C heap: no pools (O9–O13 need them), no invariants; jemalloc serves ≤ 8-byte requests 8-aligned.
      o.rules.subtract(RuleID.allCases.filter { $0.isPymallocOnly || $0 == .ownershipKept })
      o.invariants = []
      o.invariantsEvery = 0
      if kind == .jemalloc { o.geometry.tinyAlignment = 8 }
    case .mimalloc:
      // libmimalloc's structures are its own: no invariant walker. Its API cannot answer three questions,
      // so the rules built on them are left out (LibMimallocAdapter says which query each needs):
      // - O7 and H2 ask whether a block is still allocated; outside a visit of its (live) heap nothing says;
      // - H6 counts blocks in use over every page, abandoned ones included; no call sees abandoned pages;
      // - H7 counts segments and mapped bytes; a release libmimalloc keeps no such count.
      o.rules.subtract([.reallocFreesOld, .destroyFreesAll, .noBlockLost, .footprintBounded])
      // Where 2.0.9 differs from the reference on purpose (Documentation/MimallocVersions.md), by row:
      // V1: small power-of-two aligned requests are only 128-aligned.
      o.geometry.smallPowerOfTwoAlignedCap = 128
      // V8: alignment 0 passes 2.0.9's power-of-two test, so small power-of-two sizes get a block.
      o.geometry.acceptsZeroAlignmentForSmallPowerOfTwo = true
      o.invariants = []
      o.invariantsEvery = 0
    }
    return o
  }

  /// A fresh adapter of `kind` for `family`, or why it cannot be had. `arenaFaults` / `rawFaults` apply where
  /// the peer's mmaps or RAW calls pass through us (reference; cpython: arenas and RAW).
  public static func make(_ kind: PeerKind, family: ProgramFamily, arenaFaults: FaultPlan = .never,
                          rawFaults: FaultPlan = .never) throws(PeerUnavailable) -> AllocatorAdapter {
    guard families(of: kind).contains(family) else {
      throw PeerUnavailable(peer: kind, reason: "it runs \(families(of: kind).map { "\($0.rawValue)-family" }.joined(separator: " and ")) programs, not \(family.rawValue)-family ones")
    }
    switch kind {
    case .reference:
      switch family {
      case .pymalloc: return PymallocAdapter(arenaFaults: arenaFaults, rawFaults: rawFaults)
      case .heaps: return MimallocAdapter(faults: arenaFaults)
      case .domains: return DomainsAdapter()
      }
    case .cpython: return try CPythonAdapter(arenaFaults: arenaFaults, rawFaults: rawFaults)
    case .glibc, .jemalloc: return try CHeapAdapter(kind)
    case .mimalloc: return try LibMimallocAdapter()
    case .cpythonDebug: return try CPythonDebugAdapter()
    }
  }
}
