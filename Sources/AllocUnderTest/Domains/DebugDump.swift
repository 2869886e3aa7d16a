// DebugDump.swift — `_PyObject_DebugDumpAddress` (Objects/obmalloc.c) plus the "Enable tracemalloc" line of
// `_PyMem_DumpTraceback` (Modules/_tracemalloc.c, tracing off), rendered as a value: the exact bytes CPython
// writes to stderr (the API id is printed raw with %c, so a 0xDD id is one 0xDD byte). Where CPython would
// read memory the model cannot vouch for (a bogus size after corruption), the dump stops and records the
// ``WildRead`` instead of crashing. Entry point: ``DebugDump/render(_:serialNumbers:)``. Pure.

/// The text of one block dump.
public struct DebugDump: Sendable, Hashable {
  /// Exactly what CPython writes, up to ``wildRead`` if that is set.
  public var bytes: [UInt8]
  /// Set when the dump stopped before a read CPython would make (which may print garbage or crash).
  public var wildRead: WildRead?

  /// ``bytes`` decoded the way CPython's test_mem.py decodes stderr (`decode('ascii', 'replace')`): every
  /// byte ≥ 0x80 becomes U+FFFD.
  public var text: String { asciiReplacing(bytes) }

  /// `_PyObject_DebugDumpAddress(p)` for the block `view` describes.
  static func render(_ view: DebugBlockView, serialNumbers: Bool) -> DebugDump {
    var out = DumpWriter()
    do throws(WildRead) {
      try dump(view, serialNumbers: serialNumbers, into: &out)
      return DebugDump(bytes: out.bytes, wildRead: nil)
    } catch {
      return DebugDump(bytes: out.bytes, wildRead: error)
    }
  }

  private static func dump(_ view: DebugBlockView, serialNumbers: Bool, into out: inout DumpWriter)
    throws(WildRead) {
    let sst = DebugLayout.sst
    let fd = DebugLayout.forbiddenByte
    out.put("Debug memory block at address p=\(pointerText(view.p)):")
    let id = try view.byte(-sst, .apiID)  // read before printing: one fprintf prints " API '%c'\n"
    out.put(" API '")
    out.put(byte: id)
    out.put("'\n")

    let n = try view.requestedSize()
    out.put("    \(n) bytes originally requested\n")

    // "In case this is nuts, check the leading pad bytes first."
    out.put("    The \(sst - 1) pad bytes at p-\(sst - 1) are ")
    var leading: [UInt8] = []
    for i in 1...(sst - 1) { leading.append(try view.byte(-i, .leadingPad)) }  // leading[i-1] = p[-i]
    if leading.allSatisfy({ $0 == fd }) {
      out.put("FORBIDDENBYTE, as expected.\n")
    } else {
      out.put("not all FORBIDDENBYTE (0x\(hex2(fd))):\n")
      for i in stride(from: sst - 1, through: 1, by: -1) {
        let b = leading[i - 1]
        out.put("        at p-\(i): 0x\(hex2(b))\(b != fd ? " *** OUCH" : "")\n")
      }
      out.put("    Because memory is corrupted at the start, the count of bytes requested\n"
        + "       may be bogus, and checking the trailing pad bytes may segfault.\n")
    }

    let tail = try view.tailOffset(n)
    out.put("    The \(sst) pad bytes at tail=\(pointerText(view.address(tail) ?? 0)) are ")
    var trailing: [UInt8] = []
    for i in 0..<sst { trailing.append(try view.byte(tail + i, .trailingPad)) }
    if trailing.allSatisfy({ $0 == fd }) {
      out.put("FORBIDDENBYTE, as expected.\n")
    } else {
      out.put("not all FORBIDDENBYTE (0x\(hex2(fd))):\n")
      for (i, b) in trailing.enumerated() {
        out.put("        at tail+\(i): 0x\(hex2(b))\(b != fd ? " *** OUCH" : "")\n")
      }
    }

    if serialNumbers {
      let serial = try view.bigEndianWord(tail + sst, .serial)
      out.put("    The block was made by call #\(serial) to debug malloc/realloc.\n")
    }

    if n > 0 {
      // Up to 8 bytes at the start, then " ..." if more than 8 remain, then up to 8 at the end.
      out.put("    Data at p:")
      var q = 0
      while q < tail && q < 8 {
        out.put(" \(hex2(try view.byte(q, .data)))")
        q += 1
      }
      if q < tail {
        if tail - q > 8 {
          out.put(" ...")
          q = tail - 8
        }
        while q < tail {
          out.put(" \(hex2(try view.byte(q, .data)))")
          q += 1
        }
      }
      out.put("\n")
    }
    out.put("\n")
    out.put("Enable tracemalloc to get the memory block allocation traceback\n\n")
  }
}

/// Accumulates stderr bytes.
private struct DumpWriter {
  var bytes: [UInt8] = []
  mutating func put(_ s: String) { bytes.append(contentsOf: s.utf8) }
  mutating func put(byte: UInt8) { bytes.append(byte) }
}

/// `%02x`.
func hex2(_ b: UInt8) -> String {
  let digits = Array("0123456789abcdef")
  return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}

/// glibc's `%p`: "0x" and lowercase hex without padding; "(nil)" for NULL.
func pointerText(_ address: Int) -> String {
  address == 0 ? "(nil)" : "0x" + String(UInt(bitPattern: address), radix: 16)
}

/// Decodes like Python's `bytes.decode('ascii', 'replace')`.
public func asciiReplacing(_ bytes: [UInt8]) -> String {
  String(String.UnicodeScalarView(bytes.map { $0 < 0x80 ? Unicode.Scalar($0) : "\u{FFFD}" }))
}
