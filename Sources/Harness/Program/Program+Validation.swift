// Program+Validation.swift — the validity rule of ``Program`` as a checker: ``Program/validate()`` and
// its typed error ``ProgramError``. Valid iff every ref names an id defined by an earlier op and not yet
// consumed (by a free or a realloc). The decoder and the removals produce only valid programs; the
// tests and the shrinker use this checker to prove it.

/// Why a program is invalid: the first offending op and the rule it breaks.
public struct ProgramError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Kind: Hashable, Sendable {
    /// The ref names an id that no earlier op defined.
    case undefinedRef(BlockRef)
    /// The ref names an id that the op at `consumedAt` already freed or realloc'd.
    case consumedRef(BlockRef, consumedAt: Int)
  }

  /// Index (0-based) of the offending op in ``Program/ops``.
  public var opIndex: Int
  public var kind: Kind

  public var description: String {
    switch kind {
    case .undefinedRef(let ref):
      "op \(opIndex): \(ref) is used before any op defines it"
    case .consumedRef(let ref, let consumedAt):
      "op \(opIndex): \(ref) is used after op \(consumedAt) consumed it (free or realloc)"
    }
  }
}

extension Program {
  /// Throws the first violation of the id rule, scanning ops in order.
  public func validate() throws(ProgramError) {
    var defined = 0
    var consumedAt: [BlockRef: Int] = [:]
    for (index, op) in ops.enumerated() {
      if let ref = op.usedRef {
        guard ref.id >= 0, ref.id < defined else {
          throw ProgramError(opIndex: index, kind: .undefinedRef(ref))
        }
        if let earlier = consumedAt[ref] {
          throw ProgramError(opIndex: index, kind: .consumedRef(ref, consumedAt: earlier))
        }
        consumedAt[ref] = index
      }
      if op.isAllocating { defined += 1 }
    }
  }

  /// True iff ``validate()`` does not throw.
  public var isValid: Bool {
    do { try validate() } catch { return false }
    return true
  }
}
