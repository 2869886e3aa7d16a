// ContentRules.swift — rules about block contents, which the executor reads for the oracle:
// O4 canary intact, O5 calloc zeroed, O6 realloc keeps the prefix, O7 moving realloc frees the old block,
// O13 live pool blocks stay owned (checked before any of their bytes is read).

public enum ContentRules {
  /// O4: `bytes` (the first `requested` bytes of the block) equal the canary the harness wrote.
  public static func canary(opIndex: Int, _ b: ModelBlock, _ bytes: [UInt8]) -> Violation? {
    let expected = Canary.bytes(seed: b.canarySeed, to: b.length)
    guard let i = firstDifference(bytes, expected) else { return nil }
    return Violation(opIndex: opIndex, .canary,
      "p\(b.id) at \(hexString(b.address)) (\(b.requested) bytes): byte \(i) is \(hexByte(bytes, i)), canary wrote \(hexByte(expected, i)) — something wrote into a live block")
  }

  /// O5: the first `requested` bytes of a calloc block are zero.
  public static func callocZeroed(opIndex: Int, id: Int, _ bytes: [UInt8]) -> Violation? {
    guard let i = bytes.firstIndex(where: { $0 != 0 }) else { return nil }
    return Violation(opIndex: opIndex, .callocZeroed, "calloc block p\(id): byte \(i) of \(bytes.count) is \(hexByte(bytes, i)), not 0")
  }

  /// O6: after realloc, the first min(old, new) bytes are the old block's canary.
  public static func reallocPrefix(opIndex: Int, old: ModelBlock, newRequested: UInt64, _ bytes: [UInt8]) -> Violation? {
    let n = Int(min(UInt64(old.length), newRequested, UInt64(ModelBlock.canaryCap)))
    let expected = Canary.bytes(seed: old.canarySeed, to: n)
    guard let i = firstDifference(bytes, expected) else { return nil }
    return Violation(opIndex: opIndex, .reallocPrefix,
      "realloc of p\(old.id) (\(old.requested) → \(newRequested) bytes): byte \(i) is \(hexByte(bytes, i)), was \(hexByte(expected, i))")
  }

  /// O7: a realloc that moved the block left the old block not allocated (`oldAllocated` nil = unknown).
  public static func reallocFreesOld(opIndex: Int, old: ModelBlock, newAddress: Int, oldAllocated: Bool?) -> Violation? {
    guard newAddress != old.address, oldAllocated == true else { return nil }
    return Violation(opIndex: opIndex, .reallocFreesOld,
      "realloc moved p\(old.id) from \(hexString(old.address)) to \(hexString(newAddress)) but the old block is still allocated")
  }

  /// O13: a pool block the program still holds is inside a live arena.
  public static func ownershipKept(opIndex: Int, _ b: ModelBlock, ownedNow: Bool) -> Violation? {
    guard b.small, !ownedNow else { return nil }
    return Violation(opIndex: opIndex, .ownershipKept,
      "live pool block p\(b.id) at \(hexString(b.address)) is no longer inside any arena (arena released under it)")
  }

  /// Index of the first differing byte (or of the shorter end), nil when equal. An equality fast path and a
  /// plain indexed loop: this runs over every live block's bytes on each sweep.
  private static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
    if a == b { return nil }
    let n = min(a.count, b.count)
    var i = 0
    while i < n && a[i] == b[i] { i += 1 }
    return i
  }
  private static func hexByte(_ a: [UInt8], _ i: Int) -> String {
    i < a.count ? "0x" + String(a[i], radix: 16) : "missing"
  }
}
