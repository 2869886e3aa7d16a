// SequentialHeapModel.swift — the sequential specification a parallel history is checked against
// (issue 14): malloc, calloc, realloc and free as one thread would see them, over the set of live blocks.
// Each op is applied whole, at its linearization point:
//
//   malloc(n), calloc(c, n)  a result overlaps no live block ([a, a + max(n, 1))), its usable size is ≥ n;
//                            NULL only for a request above `plausibleRequestLimit` (1 GiB)
//   realloc(p, n)            p is live; on success p leaves, the result joins as for malloc, and the
//                            result's stamp word is p's stamp when both are ≥ 16 bytes (contents kept);
//                            NULL (n ≤ 1 GiB: a violation) leaves p live
//   free(p)                  p is live (NULL: nothing), and its stamp word is still its stamp
//
// The stamp is the word the allocating op wrote into the block (its second word) right after it returned; another
// thread writing into a block it also holds shows as a stamp that is not the model's. Value type, Hashable:
// the linearizability search caches (linearized set, model) pairs.

public struct SequentialHeapModel: Hashable, Sendable {
  public struct Block: Hashable, Sendable {
    public var length: Int
    public var stamp: UInt64?
  }

  /// Live blocks by address.
  public private(set) var live: [Int: Block] = [:]

  public init() {}

  /// Applies `op` if the sequential specification allows it here; otherwise returns why not and leaves the
  /// model as it was.
  public mutating func apply(_ op: HistoryOp) -> String? {
    switch op.call {
    case .malloc, .calloc, .realloc(nil, _):
      if let why = allocationFails(op) { return why }
      insert(op)
    case .realloc(let old?, let n):
      guard let block = live[old] else { return "realloc of \(hex(old)), which is not a live block" }
      guard let result = op.result else {
        return n > plausibleRequestLimit ? nil : "realloc(\(n)) returned NULL for a request of at most 1 GiB"
      }
      live[old] = nil
      if let why = allocationFails(op) {
        live[old] = block
        return why
      }
      if let had = block.stamp, let read = op.stampRead, had != read {
        live[old] = block
        return "realloc to \(hex(result)) did not keep the contents: stamp \(hex(read)), the block held \(hex(had))"
      }
      insert(op)
    case .free(nil):
      return nil
    case .free(let a?):
      guard let block = live[a] else { return "free of \(hex(a)), which is not a live block" }
      if let had = block.stamp, let read = op.stampRead, had != read {
        return "free of \(hex(a)): stamp \(hex(read)) at its start, but its maker wrote \(hex(had)) (someone else wrote into it)"
      }
      live[a] = nil
    }
    return nil
  }

  /// The result rules of an allocating op against the live set (the op's old block already left it).
  private func allocationFails(_ op: HistoryOp) -> String? {
    let n = op.requested
    guard let a = op.result else {
      return n > plausibleRequestLimit ? nil : "returned NULL for a request of \(n) bytes"
    }
    if let usable = op.usable, UInt64(usable) < n { return "usable size \(usable) of \(hex(a)) is below the request \(n)" }
    let end = a + Self.length(n)
    for (b, block) in live where b < end && a < b + block.length {
      return "result \(hex(a))…\(hex(end)) overlaps the live block \(hex(b))…\(hex(b + block.length))"
    }
    return nil
  }

  private mutating func insert(_ op: HistoryOp) {
    guard let a = op.result else { return }
    live[a] = Block(length: Self.length(op.requested), stamp: op.stampWritten)
  }

  /// A block's extent in the model: its request, at least one byte.
  static func length(_ n: UInt64) -> Int { Int(max(1, min(n, 1 << 47))) }

  private func hex(_ a: Int) -> String { "0x" + String(UInt(bitPattern: a), radix: 16) }
  private func hex(_ w: UInt64) -> String { "0x" + String(w, radix: 16) }
}
