// DebugBlock.swift — the only code of the debug hooks that does pointer arithmetic (style R18/R19).
// A pointer handed to free/realloc arrives as an ``UncheckedUserPointer``; it is read only through a
// ``DebugBlockView``, which refuses reads outside the range the wrapped allocator vouches for and reports
// them as a ``WildRead``; only after the checks pass does it become a writable ``DebugBlock``.
// Layout: DebugLayout.swift. No state beyond the addresses; nothing to guard.

/// A read the model refused because CPython would read memory nobody vouches for there (it may print
/// garbage or die with SIGSEGV, exit status 139).
public struct WildRead: Error, Sendable, Hashable, CustomStringConvertible {
  /// What was being read.
  public enum Field: String, Sendable, Hashable {
    case apiID = "the API id byte"
    case leadingPad = "the leading pad bytes"
    case size = "the size field"
    case trailingPad = "the trailing pad bytes"
    case serial = "the serial number"
    case data = "the data bytes"
  }
  public var address: Int
  public var field: Field

  public var description: String {
    "CPython would read \(field.rawValue) at \(hexAddress(UInt(bitPattern: address))), memory the model cannot "
      + "vouch for: its output here is unpredictable (garbage, or SIGSEGV)"
  }
}

/// A pointer passed in by a caller: nothing about it has been checked.
struct UncheckedUserPointer {
  let address: Int

  init(_ p: UnsafeMutableRawPointer) { address = Int(bitPattern: p) }

  /// Where the header would start if this were a debug block (`p - 2*SST`); nil if that underflows.
  var presumedBase: Int? { Self.presumedBase(of: address) }

  static func presumedBase(of address: Int) -> Int? {
    let (b, overflow) = address.subtractingReportingOverflow(DebugLayout.headerSize)
    return overflow || b <= 0 ? nil : b
  }
}

/// Read-only view of a presumed debug block, limited to `readable` (absolute addresses).
struct DebugBlockView {
  let p: Int
  let readable: Range<Int>?

  init(_ user: UncheckedUserPointer, readable: Range<Int>?) {
    p = user.address
    self.readable = readable
  }

  /// The address `offset` bytes from p, or nil on overflow.
  func address(_ offset: Int) -> Int? {
    let (a, overflow) = p.addingReportingOverflow(offset)
    return overflow ? nil : a
  }

  /// The byte at p + offset. Subtle: offsets come from a size field that may be corrupt, so the address is
  /// computed with overflow checks and compared with `readable` before anything is loaded.
  func byte(_ offset: Int, _ field: WildRead.Field) throws(WildRead) -> UInt8 {
    guard let a = address(offset), let range = readable, range.contains(a),
          let q = UnsafeRawPointer(bitPattern: a) else {
      throw WildRead(address: address(offset) ?? p, field: field)
    }
    return unsafe q.load(as: UInt8.self)
  }

  /// A big-endian size_t at p + offset (`read_size_t`).
  func bigEndianWord(_ offset: Int, _ field: WildRead.Field) throws(WildRead) -> UInt {
    var n: UInt = 0
    for i in 0..<DebugLayout.sst { n = n << 8 | UInt(try byte(offset + i, field)) }
    return n
  }

  /// `N`, the requested size in the header.
  func requestedSize() throws(WildRead) -> UInt { try bigEndianWord(-DebugLayout.headerSize, .size) }

  /// p + N as an offset usable with ``byte(_:_:)``, or a wild read if N cannot be an offset at all.
  func tailOffset(_ n: UInt) throws(WildRead) -> Int {
    guard n <= UInt(Int.max), address(Int(n)) != nil else { throw WildRead(address: p, field: .trailingPad) }
    return Int(n)
  }

  /// The writable block, for a view whose checks passed: nil (a wild read of `field`) unless the whole
  /// block, header to trailer (+ serial), lies inside `readable`. With every check on this always holds
  /// for the trailing pad; it matters when a seeded bug skipped a check and N may be nonsense.
  func checkedBlock(extraBytes: Int) throws(WildRead) -> DebugBlock {
    let n = try requestedSize()
    let tail = try tailOffset(n)
    let (endOffset, overflow) = tail.addingReportingOverflow(extraBytes - DebugLayout.headerSize)
    guard !overflow, let end = address(endOffset), let range = readable,
          range.contains(p - DebugLayout.headerSize), end <= range.upperBound,
          let base = UnsafeMutableRawPointer(bitPattern: p - DebugLayout.headerSize) else {
      throw WildRead(address: address(tail) ?? p, field: .trailingPad)
    }
    return DebugBlock(base: base)
  }
}

/// A debug block the hooks made or checked: `base` came from the wrapped allocator (or from a view whose
/// checks passed). Offsets are from `base`; data starts at ``DebugLayout/headerSize``.
struct DebugBlock {
  let base: UnsafeMutableRawPointer

  /// p, the pointer the caller sees.
  var userPointer: UnsafeMutableRawPointer { unsafe base + DebugLayout.headerSize }

  func fill(_ offset: Int, count: Int, with byte: UInt8) {
    guard count > 0 else { return }
    unsafe (base + offset).initializeMemory(as: UInt8.self, repeating: byte, count: count)
  }

  func load(_ offset: Int) -> UInt8 { unsafe base.load(fromByteOffset: offset, as: UInt8.self) }
  func store(_ byte: UInt8, at offset: Int) { unsafe base.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self) }

  func bytes(_ offset: Int, count: Int) -> [UInt8] {
    guard count > 0 else { return [] }
    return unsafe Array(UnsafeRawBufferPointer(start: base + offset, count: count))
  }

  func write(_ bytes: some Collection<UInt8>, at offset: Int) {
    var i = offset
    for b in bytes {
      store(b, at: i)
      i += 1
    }
  }

  /// `write_size_t`: most significant byte first (little-endian only with the seeded bug).
  func writeWord(_ n: UInt, at offset: Int, littleEndian: Bool = false) {
    for i in 0..<DebugLayout.sst {
      let shift = littleEndian ? 8 * i : 8 * (DebugLayout.sst - 1 - i)
      store(UInt8(truncatingIfNeeded: n >> UInt(shift)), at: offset + i)
    }
  }

  func readWord(at offset: Int) -> UInt {
    (0..<DebugLayout.sst).reduce(0) { $0 << 8 | UInt(load(offset + $1)) }
  }

  /// N from the header of a block whose header is known good.
  var requestedSize: Int { Int(readWord(at: 0)) }
}
