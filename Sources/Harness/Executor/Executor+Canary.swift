// Executor+Canary.swift — the block-content checks a word at a time: fill a block with its canary, and O4,
// O5, O6 as a fast comparison against memory (``MemoryAccess``); only a mismatch copies the bytes and
// asks ``ContentRules`` for the violation and its message. The pattern is ``Canary/word(seed:index:)``;
// ``Canary/bytes(seed:from:to:)`` is the same pattern byte by byte (the model, and the messages).

import AllocUnderTest
import Oracle

extension Executor {
  /// Writes bytes [from, block.length) of `b`'s canary into the block.
  func fillCanary(_ b: ModelBlock, from: Int = 0) {
    let pattern = Canary.Pattern(seed: b.canarySeed)
    MemoryAccess.fillPattern(address: b.address, from: from, to: b.length) { pattern.word($0) }
  }

  /// O4 on one live block (owned: the caller checked O13).
  func canaryCheck(_ i: Int, _ b: ModelBlock) -> Violation? {
    let pattern = Canary.Pattern(seed: b.canarySeed)
    guard MemoryAccess.firstPatternMismatch(address: b.address, count: b.length, word: { pattern.word($0) }) != nil
    else { return nil }
    return ContentRules.canary(opIndex: i, b, adapter.read(b.address, count: b.length))
  }

  /// Bytes at each end of a neighbour that the per-op neighbour check compares (``edgeCanaryCheck(_:_:)``).
  static let neighbourEdge = 64

  /// O4 on the two ends of a live block: its first and last ``neighbourEdge`` bytes (all of it when it is
  /// short). What an op on an address neighbour can break without breaking an allocation rule is a
  /// contiguous run from the touched block into this one (an overrun reaches the neighbour's head first, an
  /// underrun its tail) or the allocator's own words at a block's start (a free-list link written into the
  /// wrong slot): both land in an end. The middle is compared when the block itself is freed or resized, at
  /// every full sweep and at the end of the program. A mismatch is reported by the whole-block check.
  func edgeCanaryCheck(_ i: Int, _ b: ModelBlock) -> Violation? {
    let edge = Self.neighbourEdge
    guard b.length > 2 * edge else { return canaryCheck(i, b) }
    let pattern = Canary.Pattern(seed: b.canarySeed)
    let tail = (b.length - edge) & ~7  // word aligned, so the pattern's word k stays word k
    if MemoryAccess.firstPatternMismatch(address: b.address, count: edge, word: { pattern.word($0) }) != nil
      || MemoryAccess.firstPatternMismatch(address: b.address + tail, count: b.length - tail,
                                           word: { pattern.word($0 + tail >> 3) }) != nil {
      return canaryCheck(i, b)
    }
    return nil
  }

  /// O5 on the first `count` bytes of a calloc block.
  func callocCheck(_ i: Int, id: Int, _ address: Int, count: Int) -> Violation? {
    guard MemoryAccess.firstNonZero(address: address, count: count) != nil else { return nil }
    return ContentRules.callocZeroed(opIndex: i, id: id, adapter.read(address, count: count))
  }

  /// O6: the first `kept` bytes at the realloc result `address` are `old`'s canary.
  func reallocPrefixCheck(_ i: Int, old: ModelBlock, newRequested: UInt64, _ address: Int, kept: Int) -> Violation? {
    let pattern = Canary.Pattern(seed: old.canarySeed)
    guard MemoryAccess.firstPatternMismatch(address: address, count: kept, word: { pattern.word($0) }) != nil
    else { return nil }
    return ContentRules.reallocPrefix(opIndex: i, old: old, newRequested: newRequested, adapter.read(address, count: kept))
  }
}
