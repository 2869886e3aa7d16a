// RulesCommand.swift — `alloc-check rules`: every oracle ``RuleID`` with its level, cost, title and the bug
// class it catches (from the doc comments in RuleID.swift; exhaustive switch), then pymalloc's invariant
// ids PM2–PM7 (``CLISupport/pymallocInvariants``), each with the seeded bug that proves it can fail.

import AllocUnderTest
import ArgumentParser
import Harness
import Oracle

struct RulesCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rules", abstract: "List the oracle rules (pymalloc O*, heaps H*, domains D*) and the invariant checks (ids for --checks).")

  func run() {
    var text = "alloc-check rules: \(RuleID.allCases.count) oracle rules, \(CLISupport.pymallocInvariants.count) pymalloc invariants\n"
    text += "oracle rules (level, cost):\n"
    for rule in RuleID.allCases {
      let (level, cost, catches) = Self.facts(rule)
      text += "  \(rule.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0)) \(level) \(cost.padding(toLength: 18, withPad: " ", startingAt: 0))"
        + "\(rule.title); catches \(catches)\(Self.bugs(rule.rawValue))\n"
    }
    text += "pymalloc invariants (checkInvariants(), after every op by default):\n"
    for (id, meaning) in CLISupport.pymallocInvariants {
      text += "  \(id.padding(toLength: 4, withPad: " ", startingAt: 0)) \(meaning)\(Self.bugs(id))\n"
    }
    text += "mimalloc invariants (heaps family; checkInvariants() after every op by default):\n"
    for (id, meaning) in CLISupport.mimallocInvariants {
      text += "  \(id.padding(toLength: 4, withPad: " ", startingAt: 0)) \(meaning)\(Self.bugs(id))\n"
    }
    text += "domain checks of AllocUnderTest's own tests (DomainBug.caughtBy; the D rules above catch them from programs):\n"
    for check in Set(DomainBug.allCases.map { String($0.caughtBy.prefix(3)) }).sorted() {
      let names = DomainBug.allCases.filter { $0.caughtBy.hasPrefix(check) }.map(\.rawValue)
      text += "  \(check.padding(toLength: 4, withPad: " ", startingAt: 0)) [bug: \(names.joined(separator: ", "))]\n"
    }
    Console.out(text)
  }

  /// " [bug: name]" for the seeded bugs that must be caught by `id`.
  static func bugs(_ id: String) -> String {
    var names = PymallocBug.allCases.filter { $0.caughtBy == id }.map(\.rawValue)
      + MimallocBug.allCases.filter { $0.caughtBy == id }.map(\.rawValue)
      + DomainBug.allCases.filter { CLISupport.domainRule(of: $0) == id }.map(\.rawValue)
    if id == "PM5" { names.append(PymallocBug.neverReleaseArenas.rawValue) }  // the quality suite's extra case
    return names.isEmpty ? "" : " [bug: \(names.joined(separator: ", "))]"
  }

  static func facts(_ rule: RuleID) -> (level: String, cost: String, catches: String) {
    switch rule {
    case .alignment: ("L1", "O(1)", "pointer arithmetic slips in carving")
    case .nonOverlap: ("L1", "O(log n)", "a block handed out twice, bad carving")
    case .usableSize: ("L1", "O(1)", "size-class off-by-one")
    case .canary: ("L2", "O(bytes)", "the allocator writing into live blocks")
    case .callocZeroed: ("L1", "O(bytes)", "reuse of a dirty block without memset")
    case .reallocPrefix: ("L1", "O(bytes)", "a move without copy")
    case .reallocFreesOld: ("L1", "O(pool)", "leaks in realloc")
    case .nilOnlyWhereAllowed: ("L1", "O(1)", "spurious failures and missing size checks")
    case .statsMatchModel: ("L2", "O(classes)", "lost or double-counted blocks, stats miscounts")
    case .statsConsistent: ("L2", "O(classes+arenas)", "stats and pool accounting bugs")
    case .memoryGivenBack: ("L2", "O(arenas)", "arenas never returned to the OS")
    case .routing: ("L1", "O(1)", "small/raw fallback slips")
    case .ownershipKept: ("L2", "O(live)", "an arena released while it still holds blocks")
    case .heapMembership: ("L2", "O(heaps)", "pages under the wrong heap, reclaim into a heap_new heap")
    case .destroyFreesAll: ("L2", "O(live)", "destroy leaking pages or freeing foreign blocks")
    case .deleteMovesToBacking: ("L2", "O(moved)", "pages left pointing at a deleted heap")
    case .visitExact: ("L2", "O(heap)", "heap walks that skip a queue or report free blocks")
    case .remoteFreesReclaimed: ("L2", "O(live)", "dropped cross-thread frees")
    case .noBlockLost: ("L2", "O(1)", "frees lost in abandoned segments")
    case .footprintBounded: ("L2", "O(1)", "leaked pages and segments (QSBR holds, abandonment)")
    case .diagnosticPredicted: ("L1", "O(1)", "hooks that skip a check (API id, pads, GIL) or check in the wrong order")
    case .hookLayout: ("L1", "O(1)", "header and pad slips, a pymalloc fallback that bypasses RAW")
    case .freshFill: ("L1", "O(N)", "missing 0xCD fills, calloc filled like malloc")
    case .deadFill: ("L1", "O(N)", "a free that leaves the block as it was")
    case .serialBumped: ("L1", "O(1)", "a serial number that is never bumped")
    case .contentKept: ("L2", "O(N)", "a failed realloc that leaves its erased bytes dead")
    case .allocatorName: ("L1", "O(1)", "debug hooks installed twice")
    case .nullIffRefused: ("L1", "O(1)", "RAW passing size 0 to C (realloc(p, 0) frees p)")
    case .sameOutcome: ("L1", "O(1)", "a changed in-place realloc threshold or routing limit (fidelity)")
    case .samePlacement: ("L1", "O(1)", "a changed free-list or pool-reuse order (fidelity)")
    case .sameArenas: ("L2", "O(arenas)", "a changed arena release or ordering policy (fidelity)")
    case .sameStatistics: ("L2", "O(classes)", "a stats printer that drifts from CPython's (fidelity)")
    case .sameUsableSize: ("L1", "O(1)", "a changed bin table or size rounding (fidelity)")
    case .sameHeapWalk: ("L2", "O(heap)", "a heap walk or destroy/delete that differs from libmimalloc (fidelity)")
    case .sameDiagnostic: ("L1", "O(dump)", "a hook message, check order or dump format CPython does not print (fidelity)")
    }
  }
}
