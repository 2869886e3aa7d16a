// History.swift — what a parallel run of whole allocator ops leaves behind for the linearizability check
// (issue 14): per op, its thread, its call, its result, and the two instants that bound it — invocation
// and response, from one clock every thread reads (the controlled scheduler's step counter, or a shared
// atomic counter on real threads), so "A returned before B was invoked" is a fact about the run. Also the
// readable form of a history: one line per op as an interval over the run's event order.
// Entry points: ``HistoryOp``, ``HistoryOp/Call``, ``HistoryText/render(_:)``.

/// One whole op of a parallel run.
public struct HistoryOp: Hashable, Sendable {
  public enum Call: Hashable, Sendable {
    case malloc(size: UInt64)
    case calloc(count: UInt64, size: UInt64)
    /// `realloc(address, size)`; a NULL address is a malloc.
    case realloc(address: Int?, size: UInt64)
    case free(address: Int?)
  }

  /// The logical thread that ran it.
  public var thread: Int
  public var call: Call
  /// Allocating calls: the returned address, nil for NULL.
  public var result: Int?
  /// Allocating calls with a result: its usable size, read by the same thread right after the return.
  public var usable: Int?
  /// The stamp word (the block's second word) read from the block: for free, just before the call; for
  /// realloc, from the new block just after it (the old block's stamp, if realloc kept the contents). nil:
  /// a block under 16 bytes, or nothing was read.
  public var stampRead: UInt64?
  /// The stamp written into the new block right after the call (nil: a block under 16 bytes).
  public var stampWritten: UInt64?
  /// Clock values of the invocation and the response; `invoked < returned`.
  public var invoked: Int
  public var returned: Int
  /// What names the op in reports ("op 7", or "p3 = malloc(32)").
  public var label: String

  public init(thread: Int, call: Call, result: Int? = nil, usable: Int? = nil, stampRead: UInt64? = nil,
              stampWritten: UInt64? = nil, invoked: Int, returned: Int, label: String = "") {
    self.thread = thread
    self.call = call
    self.result = result
    self.usable = usable
    self.stampRead = stampRead
    self.stampWritten = stampWritten
    self.invoked = invoked
    self.returned = returned
    self.label = label
  }

  /// Bytes the call asked for (calloc: count × size, saturated).
  public var requested: UInt64 {
    switch call {
    case .malloc(let n), .realloc(_, let n): n
    case .calloc(let c, let n):
      c.multipliedReportingOverflow(by: n).overflow ? .max : c * n
    case .free: 0
    }
  }

  /// A precedes B in real time iff A returned before B was invoked.
  public func precedes(_ other: HistoryOp) -> Bool { returned < other.invoked }
}

/// The readable form of a history: ops sorted by invocation, each with its interval drawn over the run's
/// distinct event instants (so concurrency shows as overlapping bars), addresses as offsets from the lowest
/// address in the history.
public enum HistoryText {
  public static func render(_ ops: [HistoryOp], marking marked: Set<Int> = []) -> [String] {
    let instants = Array(Set(ops.flatMap { [$0.invoked, $0.returned] })).sorted()
    var rank: [Int: Int] = [:]
    for (i, t) in instants.enumerated() { rank[t] = i }
    let width = instants.count
    let base = ops.compactMap(\.result).min() ?? 0
    func addr(_ a: Int?) -> String {
      guard let a else { return "NULL" }
      return a >= base ? "a+0x" + String(a - base, radix: 16) : "0x" + String(UInt(bitPattern: a), radix: 16)
    }
    var lines: [String] = []
    for (i, op) in ops.enumerated().sorted(by: { $0.element.invoked < $1.element.invoked }) {
      let from = rank[op.invoked]!, to = rank[op.returned]!
      var bar = Array(repeating: Character(" "), count: width)
      for k in from...to { bar[k] = k == from ? "[" : (k == to ? "]" : "=") }
      let call: String
      switch op.call {
      case .malloc(let n): call = "malloc(\(n))"
      case .calloc(let c, let n): call = "calloc(\(c), \(n))"
      case .realloc(let a, let n): call = "realloc(\(addr(a)), \(n))"
      case .free(let a): call = "free(\(addr(a)))"
      }
      var result = ""
      if case .free = op.call {} else {
        result = " -> \(addr(op.result))" + (op.usable.map { " usable \($0)" } ?? "")
      }
      let stamp = op.stampRead.map { " read stamp 0x" + String($0, radix: 16) } ?? ""
      let mark = marked.contains(i) ? "*" : " "
      lines.append("\(mark) t\(op.thread) |\(String(bar))| \(call)\(result)\(stamp)"
                   + (op.label.isEmpty ? "" : "  (\(op.label))"))
    }
    return lines
  }
}
