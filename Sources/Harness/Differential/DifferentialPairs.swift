// DifferentialPairs.swift — which real peer each family is compared with, and the factory for the pairs.

import AllocUnderTest
import Oracle

public enum DifferentialPairs {
  public static func peers(for family: ProgramFamily) -> [PeerKind] {
    switch family {
    case .pymalloc: [.cpython]
    case .heaps: [.mimalloc]
    case .domains: [.cpythonDebug]
    }
  }

  public static func make(_ kind: PeerKind, family: ProgramFamily, bugs: [SeededBug] = [], arenaFaults: FaultPlan = .never,
                          rawFaults: FaultPlan = .never) throws(PeerUnavailable) -> DifferentialPair {
    switch (family, kind) {
    case (.pymalloc, .cpython):
      let b = Set(bugs.compactMap { if case .pymalloc(let b) = $0 { b } else { nil } })
      return try PymallocDifferential(bugs: b, arenaFaults: arenaFaults, rawFaults: rawFaults)
    case (.heaps, .mimalloc):
      return try HeapsDifferential(bugs: Set(bugs.compactMap { if case .mimalloc(let b) = $0 { b } else { nil } }))
    case (.domains, .cpythonDebug):
      return try DomainsDifferential(bugs: Set(bugs.compactMap { if case .domain(let b) = $0 { b } else { nil } }))
    default:
      // heaps (mimalloc) and domains (cpython-debug) pairs: added by their peer branches.
      throw PeerUnavailable(peer: kind, reason: "no \(family.rawValue)-family differential with \(kind.rawValue) yet")
    }
  }
}
