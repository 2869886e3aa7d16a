// OpEncoder.swift — ``OpEncoder/encodePymalloc(_:)``, the inverse of ``OpDecoder/decodePymalloc(_:maxOps:)``
// for valid programs: `decodePymalloc(encodePymalloc(p)) == p`; ``OpEncoder/encodeHeaps(_:)`` likewise for
// ``OpDecoder/decodeHeaps(_:maxOps:)``. It writes canonical bytes (tag upper
// bits 0, the shortest size field, ref fields as live-list positions) so shrunk programs and seeds can
// be committed to the corpus as fuzzer inputs.

import AllocUnderTest

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
    for op in program.ops {
      bytes.append(op.kind.rawValue)
      appendPymallocFields(op, live: live, into: &bytes)
      if let used = op.usedRef { live.remove(used.id) }
      if op.isAllocating { live.appendNext() }
    }
    return bytes
  }

  /// The canonical heaps-family bytes of `program`: `decodeHeaps(encodeHeaps(p)) == p`.
  ///
  /// Preconditions: `program` is valid, and no more than 65,535 blocks are live at once.
  public static func encodeHeaps(_ program: Program) -> [UInt8] {
    var bytes: [UInt8] = []
    var live = Program.LiveList(capacity: program.ops.count)
    var state = ProgramState()

    func appendHeap(_ h: HeapRef, madeOnly: Bool) {
      let mine = state.liveHeaps(ownedBy: state.current)
      switch h {
      case .tagged(let tag):
        precondition(!madeOnly, "encodeHeaps: \(h) cannot be destroyed or deleted")
        bytes.append(UInt8(tag.rawValue))
      case .made(let id):
        let position = mine.firstIndex(of: id)!
        bytes.append(UInt8(madeOnly ? position : HeapTag.allCases.count + position))
      }
    }
    func appendAlignment(_ a: UInt64) {
      if a != 0, a & (a - 1) == 0, a.trailingZeroBitCount < 26 {
        bytes.append(UInt8(a.trailingZeroBitCount))
      } else {
        bytes.append(0x40)
        SizeTable.encodeSizeField(a, into: &bytes)
      }
    }

    for (index, op) in program.ops.enumerated() {
      bytes.append(op.kind.rawValue)
      switch op {
      case .malloc, .calloc, .realloc, .free: appendPymallocFields(op, live: live, into: &bytes)
      case .spawn, .exitThread, .heapNew, .quiescent: break
      case .switchThread(let t): bytes.append(UInt8(state.liveThreads.firstIndex(of: t.id)!))
      case .heapDestroy(let h), .heapDelete(let h): appendHeap(h, madeOnly: true)
      case .heapCollect(let h, let force):
        appendHeap(h, madeOnly: false)
        bytes.append(force ? 1 : 0)
      case .heapVisit(let h): appendHeap(h, madeOnly: false)
      case .heapMalloc(let h, let size):
        appendHeap(h, madeOnly: false)
        SizeTable.encodeSizeField(size, into: &bytes)
      case .heapMallocAligned(let h, let size, let alignment):
        appendHeap(h, madeOnly: false)
        SizeTable.encodeSizeField(size, into: &bytes)
        appendAlignment(alignment)
      case .collect(let force): bytes.append(force ? 1 : 0)
      case .domain: preconditionFailure("encodeHeaps: \(op.kind.name) is a domains-family op (encodeDomains)")
      }
      OpDecoder.track(op, state: &state, live: &live, index: index)
    }
    return bytes
  }

  /// The fields of a malloc, calloc, realloc or free, spelled the same in both families: size fields and
  /// ref fields (the ref's position in `live`). Preconditions: the op is one of those four, its ref is
  /// live, and its position is below 0xFFFF.
  static func appendPymallocFields(_ op: Op, live: Program.LiveList, into bytes: inout [UInt8]) {
    func appendRef(_ ref: BlockRef?) {
      guard let ref else {
        SizeTable.appendLittleEndian(UInt64(OpDecoder.nullRef), byteCount: 2, into: &bytes)
        return
      }
      precondition(live.contains(ref.id), "encoder: \(ref) is not live; the program is invalid")
      let position = live.position(of: ref.id)
      precondition(position < Int(OpDecoder.nullRef), "encoder: \(ref) is live-list entry \(position) ≥ 0xFFFF")
      SizeTable.appendLittleEndian(UInt64(position), byteCount: 2, into: &bytes)
    }
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
    default:
      preconditionFailure("encoder: \(op.kind.name) is not a pymalloc-family op")
    }
  }
}
