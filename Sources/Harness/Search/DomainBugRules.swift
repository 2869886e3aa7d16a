// DomainBugRules.swift — which domains-family rule (D1–D8) catches each seeded ``DomainBug`` from generated
// programs, and which bug no program can reach (with the reason). ``DomainBug/caughtBy`` names the check of
// AllocUnderTest's own byte-level tests (DH1–DH6, DM1, DM2); this table is the program-level counterpart,
// used by the quality suite, `alloc-check bugs` and `alloc-check rules`.

import AllocUnderTest
import Oracle

extension CLISupport {
  /// The D rule that must catch `bug` in generated programs; nil for a bug no program can reach
  /// (``domainBugsUnreachable``).
  public static func domainRule(of bug: DomainBug) -> String? {
    let rule: RuleID? =
      switch bug {
      case .idNotChecked, .leadingPadNotChecked, .trailingPadNotChecked, .padsCheckedBeforeID, .gilNotChecked,
        .gilCheckedOnRaw:
        .diagnosticPredicted
      case .sizeLittleEndian, .shortTrailingPad, .pymallocFallbackBypassesRaw: .hookLayout
      case .cleanBytesNotWritten, .callocFilledWithClean, .reallocGrowthNotClean: .freshFill
      case .deadBytesNotWritten: .deadFill
      case .serialNotBumped: .serialBumped
      case .reallocNotRestoredOnFailure: .contentKept
      case .hooksInstalledTwice: .allocatorName
      case .rawSizeZeroNotOne: .nullIffRefused
      case .oversizeNotRejected: nil
      }
    return rule?.rawValue
  }

  /// Bugs no domains-family program can observe, each with the reason; each is still shown by its direct
  /// test (DebugHookBugTests).
  public static let domainBugsUnreachable: [DomainBug: String] = [
    .oversizeNotRejected: "every table under the wrappers refuses sizes above PY_SSIZE_T_MAX itself (the malloc backing's "
      + "own check, the hooks' `nbytes > PY_SSIZE_T_MAX - EXTRA` test), so the call returns NULL either way; only a "
      + "spy table installed with PyMem_SetAllocator sees the call reach it"
  ]
}
