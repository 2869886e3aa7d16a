// OpDecoder.swift — the only place fuzz bytes become ops: ``OpDecoder/decodePymalloc(_:maxOps:)`` turns
// any byte string into a valid ``Program`` of the "pymalloc family v1" format. It never rejects input:
// reads past the end count as 0, tags ignore their upper six bits, and refs are taken modulo the live
// count, so a free uses up its pointer the way Hypothesis's `consumes` does. The inverse is ``OpEncoder``;
// the byte layout is drawn in Documentation/ProgramFormat.md and frozen there.

/// Decodes fuzz bytes into op programs.
///
/// Op layout (`[x]` is one byte, `size` a size field of ``SizeTable``, `ref` two bytes LE):
///
///     [tag & 3 == 0]  size           malloc(size)
///     [tag & 3 == 1]  size  size     calloc(count, size)
///     [tag & 3 == 2]  ref   size     realloc(ref, size)
///     [tag & 3 == 3]  ref            free(ref)
///
/// Ref field `v`: NULL iff `v == 0xFFFF` or no id is live; otherwise `live[v % live.count]`, where `live`
/// lists the unconsumed ids in definition order before this op.
public enum OpDecoder {
  /// The ref-field value that always means NULL.
  public static let nullRef: UInt16 = 0xFFFF

  /// Decodes `bytes` until a tag byte is needed and none is left, or `maxOps` ops have been decoded.
  /// Total: accepts every byte string, never traps, and always returns a valid program.
  public static func decodePymalloc(_ bytes: some Collection<UInt8>, maxOps: Int = Int.max) -> Program {
    let opLimit = max(maxOps, 0)
    var input = bytes.makeIterator()
    var live = Program.LiveList(capacity: min(bytes.count, opLimit))
    var ops: [Op] = []
    ops.reserveCapacity(min(bytes.count, opLimit))

    // Field bytes past the end read as 0.
    func nextByte() -> UInt8 { input.next() ?? 0 }
    func size() -> UInt64 { SizeTable.decodeSizeField(nextByte) }
    func ref() -> BlockRef? {
      let v = UInt16(nextByte()) | UInt16(nextByte()) << 8
      guard v != nullRef, !live.isEmpty else { return nil }
      return BlockRef(live.id(at: Int(v) % live.count))
    }

    while ops.count < opLimit, let tag = input.next() {
      let kind = Op.Kind(rawValue: tag & 3)!  // all four values of tag & 3 are kinds
      let op: Op
      switch kind {
      case .malloc:
        op = .malloc(size: size())
      case .calloc:
        let count = size()
        op = .calloc(count: count, size: size())
      case .realloc:
        let old = ref()
        op = .realloc(old, size: size())
      case .free:
        op = .free(ref())
      }
      if let used = op.usedRef { live.remove(used.id) }
      if op.isAllocating { live.appendNext() }
      ops.append(op)
    }
    return Program(ops)
  }
}
