// DomainRules.swift — the domains-family rules D1–D8 (PyMem domains and debug hooks, issue 4). Pure
// functions over bytes and strings the executor observed (DomainsExecutor.swift decides when each runs).
// The predicted fatal lines of D1 come from `MisusePrediction` in AllocUnderTest, which the Oracle must not
// import: the executor asks it and passes the line here as a plain string.

/// The debug hooks' byte values (Include/internal/pycore_pymem.h), repeated here so the oracle needs no
/// allocator import.
public enum HookBytes {
  public static let clean: UInt8 = 0xCD
  public static let dead: UInt8 = 0xDD
  public static let forbidden: UInt8 = 0xFD
  public static let rawID = UInt8(ascii: "r")
}

public enum DomainRules {
  /// D1: `produced` (the fatal lines of one call, in order) is exactly `[predicted]`, or empty when
  /// `predicted` is nil (the call must pass the hooks silently).
  public static func diagnostic(opIndex: Int, call: String, predicted: String?, produced: [String]) -> Violation? {
    let expected = predicted.map { [$0] } ?? []
    guard produced != expected else { return nil }
    let said = produced.isEmpty ? "no fatal error" : produced.map { "\"\($0)\"" }.joined(separator: " then ")
    return Violation(opIndex: opIndex, .diagnosticPredicted,
      "\(call): predicted \(predicted.map { "\"\($0)\"" } ?? "no fatal error"), the hooks produced \(said)")
  }

  /// D2: `header` is p[-16..<0], `trailer` p[N..<N+8]; `raw` (when the block fell back to RAW under
  /// pymalloc) is the enclosing RAW header and trailing pad with the size RAW was asked for.
  public static func layout(opIndex: Int, block: String, requested: UInt64, apiID: UInt8, header: [UInt8],
                            trailer: [UInt8], raw: (header: [UInt8], trailer: [UInt8], size: UInt64)? = nil) -> Violation? {
    func check(_ what: String, _ h: [UInt8], _ t: [UInt8], _ n: UInt64, _ id: UInt8) -> String? {
      let size = h.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
      if size != n { return "\(what) size field reads \(size) (bytes \(hexBytes(h.prefix(8)))), expected \(n) big-endian" }
      if h[8] != id { return "\(what) API id is \(hexBytes([h[8]])), expected \(hexBytes([id]))" }
      if let i = h[9...].firstIndex(where: { $0 != HookBytes.forbidden }) {
        return "\(what) leading pad byte p[\(i - 16)] is \(hexBytes([h[i]])), expected fd"
      }
      if let i = t.firstIndex(where: { $0 != HookBytes.forbidden }) {
        return "\(what) trailing pad byte \(i) is \(hexBytes([t[i]])), expected fd (pad: \(hexBytes(t)))"
      }
      return nil
    }
    if let why = check("\(block)'s", header, trailer, requested, apiID) {
      return Violation(opIndex: opIndex, .hookLayout, why)
    }
    if let raw, let why = check("the RAW block around \(block) (pymalloc's fallback must nest inside RAW):",
                                raw.header, raw.trailer, raw.size, HookBytes.rawID) {
      return Violation(opIndex: opIndex, .hookLayout, why)
    }
    return nil
  }

  /// D3: every byte of `data` is `expected` (0xCD after malloc and realloc growth, 0 after calloc).
  public static func freshFill(opIndex: Int, block: String, what: String, data: [UInt8], expected: UInt8) -> Violation? {
    guard let i = data.firstIndex(where: { $0 != expected }) else { return nil }
    return Violation(opIndex: opIndex, .freshFill,
      "\(block): \(what) byte \(i) of \(data.count) is \(hexBytes([data[i]])), expected \(hexBytes([expected]))")
  }

  /// D4: every byte of `bytes` (the freed block from `firstOffset` relative to p) is 0xDD.
  public static func deadFill(opIndex: Int, block: String, firstOffset: Int, bytes: [UInt8]) -> Violation? {
    guard let i = bytes.firstIndex(where: { $0 != HookBytes.dead }) else { return nil }
    return Violation(opIndex: opIndex, .deadFill,
      "\(block) after free: byte p[\(firstOffset + i)] is \(hexBytes([bytes[i]])), expected dd (dead)")
  }

  /// D5: `serial` is above `previous`, the largest serial seen before (nil: none yet).
  public static func serialBumped(opIndex: Int, block: String, serial: UInt64, previous: UInt64?) -> Violation? {
    guard let previous, serial <= previous else { return nil }
    return Violation(opIndex: opIndex, .serialBumped, "\(block) has serial \(serial), not above the previous \(previous)")
  }

  /// D6: `actual` equals `expected` (the bytes the program wrote), checked `when`.
  public static func contentKept(opIndex: Int, block: String, when: String, expected: [UInt8], actual: [UInt8]) -> Violation? {
    let common = min(expected.count, actual.count)
    guard let i = (0..<common).first(where: { expected[$0] != actual[$0] }) ?? (expected.count == actual.count ? nil : common)
    else { return nil }
    let got = i < actual.count ? hexBytes([actual[i]]) : "nothing"
    return Violation(opIndex: opIndex, .contentKept,
      "\(block) \(when): byte \(i) of \(expected.count) is \(got), the program wrote \(i < expected.count ? hexBytes([expected[i]]) : "nothing")")
  }

  /// D7: the allocator name the domains report is `expected`, and no domain's installed table has a
  /// context other than its own debug context when hooked (`notOwnContext` lists those that do:
  /// `PyMem_GetAllocator(d).ctx != &_PyMem_Debug.d`).
  public static func allocatorName(opIndex: Int, expected: String, actual: String?, notOwnContext: [String] = []) -> Violation? {
    if actual != expected {
      return Violation(opIndex: opIndex, .allocatorName,
        "_PyMem_GetCurrentAllocatorName() is \(actual.map { "\"\($0)\"" } ?? "NULL (not a known table)"), expected \"\(expected)\"")
    }
    guard !notOwnContext.isEmpty else { return nil }
    return Violation(opIndex: opIndex, .allocatorName,
      "the name is \"\(expected)\", but PyMem_GetAllocator(\(notOwnContext.joined(separator: ", "))).ctx is not that domain's debug context "
        + "(a second layer of hooks)")
  }

  /// D8: the call returned NULL iff its request is refused.
  public static func nullIffRefused(opIndex: Int, call: @autoclosure () -> String, refused: Bool, gotNull: Bool) -> Violation? {
    guard refused != gotNull else { return nil }
    let call = call()  // spelled only for a violation: the rule runs on every allocation
    return Violation(opIndex: opIndex, .nullIffRefused,
      refused ? "\(call) returned a block for a request that must be refused" : "\(call) returned NULL for a request that must succeed")
  }

  static func hexBytes(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
  }
}
