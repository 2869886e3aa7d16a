// SizeTable.swift — the frozen size table T and the size-field byte coding of the "pymalloc family v1"
// binary format. Owns ``SizeTable/pymallocV1`` and the two halves of a size field:
// `SizeTable.decodeSizeField(_:)` (used by ``OpDecoder``) and `SizeTable.encodeSizeField(_:into:)`
// (used by ``OpEncoder``). Documentation/ProgramFormat.md prints the table.
//
// Stability: this table is part of the corpus format. Changing one entry silently changes what every
// committed corpus file means, so the table is frozen; a new table needs a new family (see the format doc).

/// The size table of the pymalloc family, and the byte coding of one size field.
///
/// A size field starts with one byte `b`:
///
///     b < 108          T[b]                          (one byte in all)
///     108 ≤ b < 0xF0   1 + (b − 108) × 4             (one byte in all; decode only, 1…525 step 4)
///     0xF0 … 0xFB      next 2 bytes, little-endian UInt16
///     0xFC … 0xFD      next 4 bytes, little-endian UInt32
///     0xFE … 0xFF      next 8 bytes, little-endian UInt64
public enum SizeTable {
  /// T: 0, 1, then 16k−1, 16k, 16k+1 for k in 1...32 (every pymalloc size-class edge for 16-byte
  /// alignment, CPython `Objects/obmalloc.c` ALIGNMENT/SMALL_REQUEST_THRESHOLD = 512), then large
  /// round sizes that cross the small/large boundary and arena sizes, then the overflow edges.
  ///
  /// Invariant: `pymallocV1.count == 108` and the entries are pairwise distinct.
  public static let pymallocV1: [UInt64] = {
    var table: [UInt64] = [0, 1]
    for k in UInt64(1)...32 {
      table += [16 * k - 1, 16 * k, 16 * k + 1]
    }
    table += [1000, 4096, 16384, 65536, 262_144, 1_048_576, 4_194_304]
    table += [0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF]
    return table
  }()

  /// First lead byte of the "1 + 4·(b − 108)" range; equals `pymallocV1.count`.
  static let firstStepByte: UInt8 = 108
  /// Lead bytes `0xF0…0xFB` announce a UInt16, `0xFC…0xFD` a UInt32, `0xFE…0xFF` a UInt64.
  static let u16Byte: UInt8 = 0xF0
  static let u32Byte: UInt8 = 0xFC
  static let u64Byte: UInt8 = 0xFE

  /// Index of each table value, for the encoder.
  static let indexOfValue: [UInt64: UInt8] = {
    var index: [UInt64: UInt8] = [:]
    for (i, value) in pymallocV1.enumerated() { index[value] = UInt8(i) }
    return index
  }()

  /// The largest table value strictly below `n`, if any (the shrinker's "round down to an edge").
  public static func largestValue(below n: UInt64) -> UInt64? {
    pymallocV1.filter { $0 < n }.max()
  }

  /// Decodes one size field. `next()` yields the following byte, or 0 past the end of the input.
  static func decodeSizeField(_ next: () -> UInt8) -> UInt64 {
    let lead = next()
    switch lead {
    case ..<firstStepByte: return pymallocV1[Int(lead)]
    case ..<u16Byte: return 1 + UInt64(lead - firstStepByte) * 4
    case ..<u32Byte: return littleEndian(byteCount: 2, next)
    case ..<u64Byte: return littleEndian(byteCount: 4, next)
    default: return littleEndian(byteCount: 8, next)
    }
  }

  /// Appends the canonical size field for `size`: the table index if `size` is in T, else the
  /// narrowest of u16 / u32 / u64.
  static func encodeSizeField(_ size: UInt64, into bytes: inout [UInt8]) {
    if let index = indexOfValue[size] {
      bytes.append(index)
    } else if size <= UInt64(UInt16.max) {
      bytes.append(u16Byte)
      appendLittleEndian(size, byteCount: 2, into: &bytes)
    } else if size <= UInt64(UInt32.max) {
      bytes.append(u32Byte)
      appendLittleEndian(size, byteCount: 4, into: &bytes)
    } else {
      bytes.append(u64Byte)
      appendLittleEndian(size, byteCount: 8, into: &bytes)
    }
  }

  static func littleEndian(byteCount: Int, _ next: () -> UInt8) -> UInt64 {
    var value: UInt64 = 0
    for shift in stride(from: 0, to: 8 * byteCount, by: 8) {
      value |= UInt64(next()) << UInt64(shift)
    }
    return value
  }

  static func appendLittleEndian(_ value: UInt64, byteCount: Int, into bytes: inout [UInt8]) {
    for shift in stride(from: 0, to: 8 * byteCount, by: 8) {
      bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
    }
  }
}
