// DomainBug.swift — deliberate defects in the domains and debug hooks, one per check, to prove each check
// can fail (the pymalloc equivalent is SeededBug.swift). Off by default; never on in a normal run.
// Check ids: DH1 layout bytes, DH2 check messages and order, DH3 realloc rules, DH4 GIL check only on
// MEM/OBJ (spec §7), DH5 pymalloc's fallback nests inside RAW, DH6 hooks installed once per domain,
// DM1 the raw size-0 rules, DM2 the PY_SSIZE_T_MAX limit of the public wrappers.

/// A named defect in ``PyMemDomains`` or ``DebugHooks``.
public enum DomainBug: String, CaseIterable, Sendable, Codable {
  /// DH2 bad ID: a block freed through another domain's API is accepted (test_api_misuse passes silently).
  case idNotChecked
  /// DH2 bad leading pad byte: an underrun into p[-7..-1] goes unnoticed.
  case leadingPadNotChecked
  /// DH2 bad trailing pad byte: an overrun into p[N..N+7] goes unnoticed (test_buffer_overflow).
  case trailingPadNotChecked
  /// DH2 order: the pads are checked before the API id, so a block with both faults reports a pad.
  case padsCheckedBeforeID
  /// DH1 dead bytes: free leaves the block as it was instead of filling it with 0xDD.
  case deadBytesNotWritten
  /// DH1 clean bytes: malloc leaves the data as the wrapped allocator gave it instead of 0xCD.
  case cleanBytesNotWritten
  /// DH1 calloc zeroed: MEM/OBJ calloc's data is filled with 0xCD like malloc's. (RAW is spared: pymalloc's
  /// radix-tree nodes come from RAW calloc and would turn into wild pointers, in CPython as here.)
  case callocFilledWithClean
  /// DH1 size field: N is stored little-endian instead of big-endian.
  case sizeLittleEndian
  /// DH1 trailing pad: only 7 forbidden bytes are written after the data.
  case shortTrailingPad
  /// DH1 serial number: `bumpserialno` never increments (only visible with serial numbers on).
  case serialNotBumped
  /// DH3 restore on failure: a failed realloc leaves the erased data bytes as 0xDD.
  case reallocNotRestoredOnFailure
  /// DH3 growth clean: bytes a realloc adds are not filled with 0xCD.
  case reallocGrowthNotClean
  /// DH4 GIL check: MEM/OBJ do not check the GIL.
  case gilNotChecked
  /// DH4 RAW exempt: RAW checks the GIL too (it must be callable without it).
  case gilCheckedOnRaw
  /// DH5 nesting: pymalloc falls back to C malloc directly instead of through the RAW domain.
  case pymallocFallbackBypassesRaw
  /// DH6 setup once: `setupDebugHooks` wraps a domain that is already hooked (two headers).
  case hooksInstalledTwice
  /// DM1 raw size 0: RAW passes malloc(0), calloc(0, n) and realloc(p, 0) to C unchanged.
  case rawSizeZeroNotOne
  /// DM2 size limit: the public wrappers pass sizes above PY_SSIZE_T_MAX to the installed allocator.
  case oversizeNotRejected

  /// The check id that must catch this bug.
  public var caughtBy: String {
    switch self {
    case .idNotChecked: "DH2 bad ID"
    case .leadingPadNotChecked: "DH2 bad leading pad byte"
    case .trailingPadNotChecked: "DH2 bad trailing pad byte"
    case .padsCheckedBeforeID: "DH2 order"
    case .deadBytesNotWritten: "DH1 dead bytes"
    case .cleanBytesNotWritten: "DH1 clean bytes"
    case .callocFilledWithClean: "DH1 calloc zeroed"
    case .sizeLittleEndian: "DH1 size field"
    case .shortTrailingPad: "DH1 trailing pad"
    case .serialNotBumped: "DH1 serial number"
    case .reallocNotRestoredOnFailure: "DH3 restore on failure"
    case .reallocGrowthNotClean: "DH3 growth clean"
    case .gilNotChecked: "DH4 GIL check"
    case .gilCheckedOnRaw: "DH4 RAW exempt"
    case .pymallocFallbackBypassesRaw: "DH5 nesting"
    case .hooksInstalledTwice: "DH6 setup once"
    case .rawSizeZeroNotOne: "DM1 raw size 0"
    case .oversizeNotRejected: "DM2 size limit"
    }
  }
}
