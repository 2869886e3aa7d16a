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
