// OpEncoder+Domains.swift — ``OpEncoder/encodeDomains(_:)``, the inverse of
// ``OpDecoder/decodeDomains(_:maxOps:)`` for valid programs: canonical bytes (tag `kind − 16`, domain bytes
// 0–2, the shortest size field, refs and misused blocks as list positions).

import AllocUnderTest

extension OpEncoder {
  /// The canonical domains-family bytes of `program`: `decodeDomains(encodeDomains(p)) == p`.
  ///
  /// Preconditions: `program` is valid and of the domains family, and fewer than 65,535 blocks are live at once.
  public static func encodeDomains(_ program: Program) -> [UInt8] {
    var bytes: [UInt8] = []
    var live = Program.LiveList(capacity: program.ops.count)
    var state = ProgramState()

    func appendRef(_ ref: BlockRef?) {
      guard let ref else {
        SizeTable.appendLittleEndian(UInt64(OpDecoder.nullRef), byteCount: 2, into: &bytes)
        return
      }
      SizeTable.appendLittleEndian(UInt64(live.position(of: ref.id)), byteCount: 2, into: &bytes)
    }
    func appendBlock(_ ref: BlockRef) {
      let position = state.misusableBlocks.firstIndex(of: ref.id)!
      SizeTable.appendLittleEndian(UInt64(position), byteCount: 2, into: &bytes)
    }
    func size(_ n: UInt64) { SizeTable.encodeSizeField(n, into: &bytes) }

    for (index, op) in program.ops.enumerated() {
      guard case .domain(let d) = op else { preconditionFailure("encodeDomains: \(op.kind.name) is not a domains-family op") }
      bytes.append(d.kind.rawValue - 16)
      switch d {
      case .configure(let c): bytes.append(c.rawValue)
      case .setupDebugHooks: break
      case .malloc(let dom, let n), .mallocWithoutGIL(let dom, let n):
        bytes.append(UInt8(dom.rawValue))
        size(n)
      case .calloc(let dom, let c, let n):
        bytes.append(UInt8(dom.rawValue))
        size(c)
        size(n)
      case .realloc(let dom, let ref, let n):
        bytes.append(UInt8(dom.rawValue))
        appendRef(ref)
        size(n)
      case .free(let dom, let ref):
        bytes.append(UInt8(dom.rawValue))
        appendRef(ref)
      case .writePastEnd(let ref, let count, let value), .writeBeforeStart(let ref, let count, let value):
        appendBlock(ref)
        bytes.append(count - 1)
        bytes.append(value)
      case .writeAfterFree(let ref, let offset, let value):
        appendBlock(ref)
        size(offset)
        bytes.append(value)
      case .doubleFree(let ref):
        appendBlock(ref)
      case .freeWrongDomain(let ref, let other):
        appendBlock(ref)
        let own = state.domains.blocks[ref.id]!.domain
        let others = PyMemDomain.allCases.filter { $0 != own && state.domains.sameBacking($0, own) }
        bytes.append(UInt8(others.firstIndex(of: other)!))
      case .freeForeign(let dom):
        bytes.append(UInt8(dom.rawValue))
      case .reallocFreed(let ref, let n):
        appendBlock(ref)
        size(n)
      }
      OpDecoder.track(op, state: &state, live: &live, index: index)
    }
    return bytes
  }
}
