// AllocationRules.swift — rules checked on every allocation result: O1 alignment, O2 non-overlap,
// O3 usable size, O8 NULL only where allowed, O12 small/raw routing. Each is a small pure function.

/// Requests above this many bytes (1 GiB) may legitimately fail even without an injected fault: Linux refuses
/// what it cannot back with RAM and swap, and these machines are shared (24 GiB, other jobs running).
public let plausibleRequestLimit: UInt64 = 1 << 30

public enum AllocationRules {
  /// O1: every non-NULL result is aligned to what the geometry owes its request (16; mimalloc 8 for ≤ 8
  /// bytes), and at least to the alignment an aligned allocation asked for.
  public static func alignment(_ f: AllocationFacts, _ g: SmallObjectGeometry) -> Violation? {
    guard let a = f.address else { return nil }
    var need = g.requiredAlignment(f.requested)
    if let asked = f.alignment, !f.hasInvalidAlignment, asked <= 1 << 40 { need = max(need, g.owedAlignment(asked: asked, size: f.requested)) }
    guard a % need != 0 else { return nil }
    return Violation(opIndex: f.opIndex, .alignment, "result \(hexString(a)) is not \(need)-byte aligned (mod \(a % need))")
  }

  /// A live block as O2 names it.
  public typealias LiveBlockName = (id: Int, address: Int, requested: UInt64)

  /// O8, O1, O12, O3, O2 on one result, in that order, each when `rules` has it. `overlapping(address,
  /// length)` is the caller's model answering O2: a live block intersecting the new one (the fuzz model,
  /// ``LiveBlocks``, or the host's).
  public static func result(_ f: AllocationFacts, _ g: SmallObjectGeometry, rules: RuleBits,
                            overlapping: (Int, UInt64) -> LiveBlockName?) -> Violation? {
    if rules.contains(.nilOnlyWhereAllowed), let v = nilOnlyWhereAllowed(f, g) { return v }
    if rules.contains(.alignment), let v = alignment(f, g) { return v }
    if rules.contains(.routing), let v = routing(f, g) { return v }
    if rules.contains(.usableSize), let v = usableSize(f) { return v }
    if rules.contains(.nonOverlap), let a = f.address { return nonOverlap(f, other: overlapping(a, f.requested)) }
    return nil
  }

  /// O2: the new block [a, a + max(n, 1)) intersects no live block (the realloc'd one already removed).
  public static func nonOverlap(_ f: AllocationFacts, _ live: LiveBlocks) -> Violation? {
    guard let a = f.address else { return nil }
    return nonOverlap(f, other: live.overlapping(address: a, length: Int(clamping: f.requested)).map { ($0.id, $0.address, $0.requested) })
  }

  /// O2 given the live block the model found intersecting the new one, if any.
  public static func nonOverlap(_ f: AllocationFacts, other: LiveBlockName?) -> Violation? {
    guard let a = f.address, let other else { return nil }
    return Violation(opIndex: f.opIndex, .nonOverlap,
      "new block [\(hexString(a)), +\(f.requested)) overlaps live p\(other.id) [\(hexString(other.address)), +\(other.requested)) — the same memory handed out twice")
  }

  /// O3: usable size ≥ request.
  public static func usableSize(_ f: AllocationFacts) -> Violation? {
    guard f.address != nil, let u = f.usable, UInt64(max(u, 0)) < f.requested else { return nil }
    return Violation(opIndex: f.opIndex, .usableSize, "usable size \(u) < requested \(f.requested)")
  }

  /// O8: NULL only for an impossible request (above PY_SSIZE_T_MAX, overflowing calloc, beyond what any
  /// machine has — for an aligned request, size plus alignment — or an alignment that is not a power of
  /// two) or when a fault was injected; and NULL *always* for the size limits and a bad alignment.
  public static func nilOnlyWhereAllowed(_ f: AllocationFacts, _ g: SmallObjectGeometry = .pymalloc) -> Violation? {
    let invalidAlignment = f.hasInvalidAlignment && !g.servesZeroAlignment(size: f.requested, alignment: f.alignment)
    let mustFail = f.requested > UInt64(Int.max) || f.isOverflowingCalloc || invalidAlignment
    if mustFail, let a = f.address {
      let why = f.hasInvalidAlignment ? "alignment \(f.alignment!) is not a power of two" : "above PY_SSIZE_T_MAX or overflowing"
      return Violation(opIndex: f.opIndex, .nilOnlyWhereAllowed,
        "request of \(f.requested) bytes (\(why)) returned \(hexString(a)) instead of NULL")
    }
    // An aligned request may need its size plus its alignment (mimalloc over-allocates, or maps a dedicated
    // segment for alignments above 16 MiB), so a NULL is plausible once that sum passes the limit.
    let (withAlignment, overflow) = f.requested.addingReportingOverflow(f.alignment ?? 0)
    let demand = overflow ? UInt64.max : withAlignment
    if f.address == nil && !mustFail && !f.faultFired && demand <= plausibleRequestLimit {
      return Violation(opIndex: f.opIndex, .nilOnlyWhereAllowed,
        "NULL for a \(f.requested)-byte request with no injected failure")
    }
    return nil
  }

  /// O12: 1…512 bytes from the pools unless a fault was injected (then the raw fallback may serve it);
  /// 0 and > 512 from the raw allocator; realloc of a raw block stays raw (never adopted by the pools).
  public static func routing(_ f: AllocationFacts, _ g: SmallObjectGeometry) -> Violation? {
    guard let a = f.address else { return nil }
    var expectSmall = g.isSmall(f.requested)
    var rawRealloc: ModelBlock? = nil
    if case .realloc(let old?) = f.kind, !old.small {
      expectSmall = false
      rawRealloc = old
    }
    if expectSmall && !f.servedSmall && f.faultFired { return nil }
    guard expectSmall != f.servedSmall else { return nil }
    // The reason is spelled only for a violation: this rule runs on every allocation.
    let why = rawRealloc.map { "realloc of raw block p\($0.id) must stay raw (foreign blocks are never adopted)" }
      ?? (expectSmall ? "a \(f.requested)-byte request belongs in a pool" : "a \(f.requested)-byte request belongs to the raw allocator")
    return Violation(opIndex: f.opIndex, .routing, "\(why), but \(hexString(a)) is \(f.servedSmall ? "a pool block" : "not in any arena")")
  }
}

/// 0x-prefixed lowercase hex.
public func hexString(_ v: Int) -> String { "0x" + String(UInt(bitPattern: v), radix: 16) }
