// DebugCheck.swift — `_PyMem_DebugCheckAddress` (Objects/obmalloc.c) as a checker that returns a value
// (style R27): the API id, then the leading pad from p-7 upward, then the trailing pad at p+N — that order,
// because a corrupt start makes N (and so the trailing read) nonsense. Used by free and realloc of every
// domain. A read the model cannot vouch for ends the check as ``DebugCheckFailure/wildRead(_:)``.
// Entry point: ``DebugCheck/check(_:expecting:bugs:)``. Pure function over the block's bytes.

/// Why `_PyMem_DebugCheckAddress` would call `Py_FatalError`.
public enum DebugCheckFailure: Sendable, Hashable {
  /// `p[-8]` is not this domain's id: "bad ID: Allocated using API '<found>', verified using API '<expected>'".
  case badID(found: UInt8, expected: UInt8)
  /// One of `p[-7..-1]` is not 0xFD: "bad leading pad byte".
  case badLeadingPad
  /// One of `p[N..N+7]` is not 0xFD: "bad trailing pad byte".
  case badTrailingPad
  /// Model-only: CPython would read memory here that nobody vouches for (see ``WildRead``).
  case wildRead(WildRead)
}

enum DebugCheck {
  /// The first failing check of `_PyMem_DebugCheckAddress`, or nil if the block looks intact.
  @inline(never)
  static func check(_ view: DebugBlockView, expecting id: UInt8, bugs: Set<DomainBug>) -> DebugCheckFailure? {
    do throws(WildRead) {
      if bugs.contains(.padsCheckedBeforeID) {
        if let failure = try checkLeadingPad(view, bugs) { return failure }
        if let failure = try checkTrailingPad(view, bugs) { return failure }
        return try checkID(view, id, bugs)
      }
      // Case 1: the id byte; Case 2: the leading pad; Case 3: the size field and the trailing pad.
      if let failure = try checkID(view, id, bugs) { return failure }
      if let failure = try checkLeadingPad(view, bugs) { return failure }
      return try checkTrailingPad(view, bugs)
    } catch {
      return .wildRead(error)
    }
  }

  private static func checkID(_ view: DebugBlockView, _ id: UInt8, _ bugs: Set<DomainBug>) throws(WildRead)
    -> DebugCheckFailure? {
    let found = try view.byte(-DebugLayout.sst, .apiID)
    return found != id && !bugs.contains(.idNotChecked) ? .badID(found: found, expected: id) : nil
  }

  private static func checkLeadingPad(_ view: DebugBlockView, _ bugs: Set<DomainBug>) throws(WildRead)
    -> DebugCheckFailure? {
    guard !bugs.contains(.leadingPadNotChecked) else { return nil }
    for i in stride(from: DebugLayout.leadingPadCount, through: 1, by: -1)
    where try view.byte(-i, .leadingPad) != DebugLayout.forbiddenByte {
      return .badLeadingPad
    }
    return nil
  }

  private static func checkTrailingPad(_ view: DebugBlockView, _ bugs: Set<DomainBug>) throws(WildRead)
    -> DebugCheckFailure? {
    guard !bugs.contains(.trailingPadNotChecked) else { return nil }
    let tail = try view.tailOffset(try view.requestedSize())
    for i in 0..<DebugLayout.trailingPadCount where try view.byte(tail + i, .trailingPad) != DebugLayout.forbiddenByte {
      return .badTrailingPad
    }
    return nil
  }
}
