// OpEncoder.swift — ``OpEncoder/encodePymalloc(_:)``, the inverse of ``OpDecoder/decodePymalloc(_:maxOps:)``
// for valid programs: `decodePymalloc(encodePymalloc(p)) == p`. It writes canonical bytes (tag upper
// bits 0, the shortest size field, ref fields as live-list positions) so shrunk programs and seeds can
// be committed to the corpus as fuzzer inputs.

/// Encodes valid programs as "pymalloc family v1" bytes.
public enum OpEncoder {
  /// The canonical bytes of `program`.
  ///
  /// Preconditions: `program` is valid (``Program/validate()``), and every ref's position in the live
  /// list is below 0xFFFF (more than 65,535 simultaneously live blocks cannot be addressed).
  public static func encodePymalloc(_ program: Program) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(program.ops.count * 4)
    var live = Program.LiveList(capacity: program.ops.count)

    func appendRef(_ ref: BlockRef?) {
      guard let ref else {
        SizeTable.appendLittleEndian(UInt64(OpDecoder.nullRef), byteCount: 2, into: &bytes)
        return
      }
      precondition(live.contains(ref.id), "encodePymalloc: \(ref) is not live; the program is invalid")
      let position = live.position(of: ref.id)
      precondition(position < Int(OpDecoder.nullRef), "encodePymalloc: \(ref) is live-list entry \(position) ≥ 0xFFFF")
      SizeTable.appendLittleEndian(UInt64(position), byteCount: 2, into: &bytes)
    }

    for op in program.ops {
      bytes.append(op.kind.rawValue)
      switch op {
      case .malloc(let size):
        SizeTable.encodeSizeField(size, into: &bytes)
      case .calloc(let count, let size):
        SizeTable.encodeSizeField(count, into: &bytes)
        SizeTable.encodeSizeField(size, into: &bytes)
      case .realloc(let ref, let size):
        appendRef(ref)
        SizeTable.encodeSizeField(size, into: &bytes)
      case .free(let ref):
        appendRef(ref)
      }
      if let used = op.usedRef { live.remove(used.id) }
      if op.isAllocating { live.appendNext() }
    }
    return bytes
  }
}
