// MemoryAccess.swift — the one door through which code outside AllocUnderTest (the harness, which has
// strict memory safety on and no pointers) reads and writes block contents by integer address. The
// caller must know the range is a live block it owns: the executor checks ownership (O13) first.

public enum MemoryAccess {
  /// Copies `count` bytes at `address`. Precondition: the range is mapped and readable.
  public static func readUnchecked(address: Int, count: Int) -> [UInt8] {
    guard count > 0, let p = UnsafeRawPointer(bitPattern: address) else { return [] }
    return Array(UnsafeRawBufferPointer(start: p, count: count))
  }

  /// Writes `bytes` at `address`. Precondition: the range is a live block the caller owns.
  public static func writeUnchecked(address: Int, bytes: [UInt8]) {
    guard !bytes.isEmpty, let p = UnsafeMutableRawPointer(bitPattern: address) else { return }
    bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
  }

  /// A zeroed buffer of `count` bytes that no allocator under test made: the harness's "foreign pointer"
  /// for misuse ops (domains family). Give it back with ``freeForeign(_:count:)``.
  public static func allocateForeign(count: Int) -> Int {
    let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
    p.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
    return Int(bitPattern: p)
  }

  /// Frees a buffer from ``allocateForeign(count:)``.
  public static func freeForeign(_ address: Int) {
    UnsafeMutableRawPointer(bitPattern: address)?.deallocate()
  }
}

extension MemoryAccess {
  /// The 8 bytes at `address` as one word (any alignment). The stress runner's canary read: no array per
  /// call. Precondition: as ``readUnchecked(address:count:)``.
  public static func loadWordUnchecked(address: Int) -> UInt64 {
    guard let p = UnsafeRawPointer(bitPattern: address) else { return 0 }
    return unsafe p.loadUnaligned(as: UInt64.self)
  }

  /// Stores `value` in the 8 bytes at `address` (any alignment). Precondition: as ``writeUnchecked(address:bytes:)``.
  public static func storeWordUnchecked(address: Int, _ value: UInt64) {
    guard let p = UnsafeMutableRawPointer(bitPattern: address) else { return }
    unsafe p.storeBytes(of: value, as: UInt64.self)
  }
}

extension MemoryAccess {
  /// Writes bytes [from, to) of a pattern given a word at a time (`word(k)` = bytes 8k ..< 8k + 8,
  /// little-endian) into the block at `address`: the executor's canary fill, with no array per call.
  /// Precondition: as ``writeUnchecked(address:bytes:)`` for [address + from, address + to).
  @inlinable
  public static func fillPattern(address: Int, from: Int, to: Int, word: (Int) -> UInt64) {
    guard to > from, let base = UnsafeMutableRawPointer(bitPattern: address) else { return }
    var i = from
    // Head up to a word boundary of the pattern, then whole words, then the tail.
    while i < to && i & 7 != 0 {
      unsafe base.storeBytes(of: UInt8(truncatingIfNeeded: word(i >> 3) >> UInt64(8 * (i & 7))), toByteOffset: i, as: UInt8.self)
      i += 1
    }
    while i + 8 <= to {
      unsafe (base + i).storeBytes(of: word(i >> 3), as: UInt64.self)
      i += 8
    }
    if i < to {
      let w = word(i >> 3)
      while i < to {
        unsafe base.storeBytes(of: UInt8(truncatingIfNeeded: w >> UInt64(8 * (i & 7))), toByteOffset: i, as: UInt8.self)
        i += 1
      }
    }
  }

  /// The offset of the first byte in [0, count) at `address` that differs from the pattern (`word` as in
  /// ``fillPattern(address:from:to:word:)``), or nil when all match. Precondition: as
  /// ``readUnchecked(address:count:)``.
  @inlinable
  public static func firstPatternMismatch(address: Int, count: Int, word: (Int) -> UInt64) -> Int? {
    guard count > 0, let base = UnsafeRawPointer(bitPattern: address) else { return nil }
    var i = 0
    // Four words per test while they all match (one branch per 32 bytes, which the compiler can vectorise);
    // the word loop below finds the first differing byte.
    while i + 32 <= count {
      let k = i >> 3
      let d0 = unsafe base.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ word(k)
      let d1 = unsafe base.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self) ^ word(k + 1)
      let d2 = unsafe base.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self) ^ word(k + 2)
      let d3 = unsafe base.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self) ^ word(k + 3)
      if (d0 | d1 | d2 | d3) != 0 { break }
      i += 32
    }
    while i + 8 <= count {
      let w = word(i >> 3)
      let got = unsafe base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
      if got != w { return i + (got ^ w).trailingZeroBitCount / 8 }
      i += 8
    }
    if i < count {
      let w = word(i >> 3)
      while i < count {
        if unsafe base.load(fromByteOffset: i, as: UInt8.self) != UInt8(truncatingIfNeeded: w >> UInt64(8 * (i & 7))) { return i }
        i += 1
      }
    }
    return nil
  }

  /// The offset of the first non-zero byte in [0, count) at `address`, or nil. Precondition: as
  /// ``readUnchecked(address:count:)``.
  @inlinable
  public static func firstNonZero(address: Int, count: Int) -> Int? {
    firstByte(address: address, count: count, otherThan: 0)
  }

  /// The offset of the first byte in [0, count) at `address` that is not `value`, or nil; compared a word
  /// at a time. Precondition: as ``readUnchecked(address:count:)``.
  @inlinable
  public static func firstByte(address: Int, count: Int, otherThan value: UInt8) -> Int? {
    guard count > 0, let base = UnsafeRawPointer(bitPattern: address) else { return nil }
    let pattern = UInt64(value) &* 0x0101_0101_0101_0101
    var i = 0
    while i + 8 <= count {
      let got = unsafe base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
      if got != pattern { return i + (got ^ pattern).trailingZeroBitCount / 8 }
      i += 8
    }
    while i < count {
      if unsafe base.load(fromByteOffset: i, as: UInt8.self) != value { return i }
      i += 1
    }
    return nil
  }
}
