// CallRecorder.swift — turns a stream of real allocator calls into a pymalloc-family op program, in both
// serialized forms at once (Documentation/ProgramFormat.md): the text form line by line, and the binary
// form the fuzz targets read. Blocks are named as programs name them: the k-th allocating call defines
// `p<k>`; a free or realloc names the block by the address the caller passes.
//
// The binary ref field is the block's position in the live list (ids not yet consumed, in definition
// order), found in O(log n) with a Fenwick tree over ids. It is two bytes, so a ref past position 65,534
// cannot be written: the binary form then stops at that call (``binaryStoppedAt``) and the text form goes on.
//
// Calls a program cannot express are written as comments and left out: a free or realloc of an address
// the recorder never saw handed out (a block made before recording began, or by another allocator).

import Oracle

/// Writes the bytes it is given somewhere (a file, an array); called in order.
public typealias RecordSink = ([UInt8]) -> Void

public final class CallRecorder {
  private let text: RecordSink
  private let binary: RecordSink?
  private var textBuffer: [UInt8] = []
  private var binaryBuffer: [UInt8] = []
  /// Address → id of the live block there.
  private var idAt: [Int: Int] = [:]
  /// Fenwick tree over ids: 1 where the id is live.
  private var tree: [Int32] = [0]
  private var nextID = 0
  public private(set) var ops = 0
  /// Calls left out (comments in the text form).
  public private(set) var skipped = 0
  /// The op index at which the binary form had to stop, with why; nil while it is complete.
  public private(set) var binaryStoppedAt: (op: Int, why: String)? = nil
  public private(set) var peakLive = 0

  /// `comments` go under the text header (what was recorded, how to replay it).
  public init(text: @escaping RecordSink, binary: RecordSink?, comments: [String] = []) {
    self.text = text
    self.binary = binary
    var head = [ProgramText.header, "\(ProgramText.familyPrefix) pymalloc"]
    head += comments.map { "# " + $0 }
    textBuffer.append(contentsOf: Array((head.joined(separator: "\n") + "\n").utf8))
  }

  public func malloc(_ n: UInt64, result: Int?) { allocating(.malloc(size: n), result: result) }
  public func calloc(_ count: UInt64, _ size: UInt64, result: Int?) { allocating(.calloc(count: count, size: size), result: result) }

  public func realloc(_ address: Int?, _ n: UInt64, result: Int?) {
    guard let address else { return allocating(.realloc(nil, size: n), result: result) }
    guard let old = idAt[address] else {
      skip("realloc(\(hexString(address)), \(n)) of an address not handed out while recording")
      return
    }
    let position = positionOf(old)
    emit(.realloc(BlockRef(old), size: n), refPosition: position)
    consume(old, at: address)
    // A failed realloc leaves the old block where it was; the new id names it (ProgramFormat.md).
    define(at: result ?? (n == 0 ? nil : address))
  }

  public func free(_ address: Int?) {
    guard let address else {
      emit(.free(nil), refPosition: nil)
      return
    }
    guard let id = idAt[address] else {
      skip("free(\(hexString(address))) of an address not handed out while recording")
      return
    }
    emit(.free(BlockRef(id)), refPosition: positionOf(id))
    consume(id, at: address)
  }

  /// Writes what is buffered. Call at the end (and whenever the caller wants the files current).
  public func flush() {
    if !textBuffer.isEmpty { text(textBuffer); textBuffer.removeAll(keepingCapacity: true) }
    if let binary, !binaryBuffer.isEmpty { binary(binaryBuffer); binaryBuffer.removeAll(keepingCapacity: true) }
  }

  // MARK: -

  private func allocating(_ op: Op, result: Int?) {
    emit(op, refPosition: nil)
    define(at: result)
  }

  private func emit(_ op: Op, refPosition: Int?) {
    let line = ProgramText.renderLine(op, definedID: op.isAllocating ? BlockRef(nextID) : nil)
    textBuffer.append(contentsOf: Array(line.utf8))
    textBuffer.append(0x0A)
    if binaryStoppedAt == nil {
      if let p = refPosition, p >= 0xFFFF {
        binaryStoppedAt = (ops, "its ref is at live-list position \(p), past the binary format's 65,534")
      } else {
        binaryBuffer.append(op.kind.rawValue)
        switch op {
        case .malloc(let n): SizeTable.encodeSizeField(n, into: &binaryBuffer)
        case .calloc(let c, let s):
          SizeTable.encodeSizeField(c, into: &binaryBuffer)
          SizeTable.encodeSizeField(s, into: &binaryBuffer)
        case .realloc(_, let n):
          appendRef(refPosition)
          SizeTable.encodeSizeField(n, into: &binaryBuffer)
        case .free: appendRef(refPosition)
        default: preconditionFailure("CallRecorder: only pymalloc-family ops")
        }
      }
    }
    ops += 1
    if textBuffer.count >= 1 << 16 || binaryBuffer.count >= 1 << 16 { flush() }
  }

  private func appendRef(_ position: Int?) {
    let v = UInt16(position ?? 0xFFFF)
    binaryBuffer.append(UInt8(v & 0xFF))
    binaryBuffer.append(UInt8(v >> 8))
  }

  /// The first few calls left out are named in comments where they happened; ``finish()`` counts the rest.
  private func skip(_ why: String) {
    skipped += 1
    if skipped <= Self.skipsNamed { textBuffer.append(contentsOf: Array("# not recorded: \(why)\n".utf8)) }
  }
  static let skipsNamed = 5

  /// The closing comment (how many calls were left out), then everything buffered is written.
  public func finish() {
    if skipped > Self.skipsNamed {
      textBuffer.append(contentsOf: Array("# \(skipped) calls left out in all: frees and reallocs of blocks made before recording began\n".utf8))
    }
    flush()
  }

  /// The next id is defined; the block at `address` (if any) carries it.
  private func define(at address: Int?) {
    let id = nextID
    nextID += 1
    growTree(to: id + 1)
    // The live list is static: an allocation that returned NULL still appends its id (ProgramFormat.md),
    // which then stays, as nothing can name it to free it.
    add(id, 1)
    if let address { idAt[address] = id }
    if idAt.count > peakLive { peakLive = idAt.count }
  }

  private func consume(_ id: Int, at address: Int) {
    idAt.removeValue(forKey: address)
    add(id, -1)
  }

  // Fenwick tree (1-based inside `tree`).
  private func growTree(to count: Int) {
    guard count >= tree.count else { return }
    let old = tree
    var size = max(tree.count * 2, 1024)
    while size <= count { size *= 2 }
    tree = Array(repeating: 0, count: size)
    // Rebuild from the live ids (O(size)), amortized over the doublings.
    for i in 1..<old.count {
      let single = liveBit(old, i)
      if single != 0 { addTo(&tree, i, single) }
    }
  }

  private func liveBit(_ t: [Int32], _ i: Int) -> Int32 {
    prefix(t, i) - prefix(t, i - 1)
  }

  private func prefix(_ t: [Int32], _ i: Int) -> Int32 {
    var s: Int32 = 0, k = i
    while k > 0 { s += t[k]; k -= k & -k }
    return s
  }

  private func addTo(_ t: inout [Int32], _ i: Int, _ d: Int32) {
    var k = i
    while k < t.count { t[k] += d; k += k & -k }
  }

  private func add(_ id: Int, _ d: Int32) { addTo(&tree, id + 1, d) }

  /// Live ids below `id`.
  private func positionOf(_ id: Int) -> Int { Int(prefix(tree, id)) }
}
