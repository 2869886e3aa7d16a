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
