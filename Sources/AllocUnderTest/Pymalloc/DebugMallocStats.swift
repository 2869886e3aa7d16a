// DebugMallocStats.swift — renders ``PymallocStats`` in the exact text layout of the pymalloc section of
// CPython's `sys._debugmallocstats()` (obmalloc.c `_PyObject_DebugMallocStats`, `printone`), so a person
// can diff ours against a real Python's. Also parses that text back (tests, comparisons with a real run).

public enum DebugMallocStats {
  /// `printone`: label padded to 35 columns, '=', value right-aligned in 21 columns with thousands commas.
  public static func line(_ label: String, _ value: Int) -> String {
    let pad = max(0, 35 - label.utf8.count)
    let digits = String(value)
    var grouped = ""
    for (i, ch) in digits.reversed().enumerated() {
      if i > 0 && i % 3 == 0 { grouped.append(",") }
      grouped.append(ch)
    }
    let number = String(grouped.reversed())
    return label + String(repeating: " ", count: pad) + "="
      + String(repeating: " ", count: max(0, 21 - number.utf8.count)) + number + "\n"
  }

  private static func field(_ v: Int, _ width: Int) -> String {
    let s = String(v)
    return String(repeating: " ", count: max(0, width - s.utf8.count)) + s
  }

  /// `misreportQuantization` is the seeded bug ``PymallocBug/statsQuantizationWrong`` (the printed line only).
  public static func render(_ s: PymallocStats, misreportQuantization: Bool = false) -> String {
    var out = "Small block threshold = \(PymallocLayout.smallRequestThreshold), in "
      + "\(PymallocLayout.sizeClassCount) size classes.\n\n"
    out += "class   size   num pools   blocks in use  avail blocks\n"
    out += "-----   ----   ---------   -------------  ------------\n"
    for c in s.classes where c.pools > 0 {
      // printf "%5u %6u %11zu %15zu %13zu\n"
      out += field(c.sizeClass, 5) + " " + field(c.blockSize, 6) + " " + field(c.pools, 11) + " "
        + field(c.blocksInUse, 15) + " " + field(c.availableBlocks, 13) + "\n"
    }
    out += "\n"
    out += line("# arenas allocated total", s.arenasAllocatedTotal)
    out += line("# arenas reclaimed", s.arenasReclaimed)
    out += line("# arenas highwater mark", s.arenasHighwater)
    out += line("# arenas allocated current", s.arenasCurrent)
    out += line("\(s.arenasCurrent) arenas * \(PymallocLayout.arenaSize) bytes/arena",
                s.arenasCurrent * PymallocLayout.arenaSize)
    out += "\n"
    out += line("# bytes in allocated blocks", s.bytesInAllocatedBlocks)
    out += line("# bytes in available blocks", s.bytesInAvailableBlocks)
    out += line("\(s.unusedPools) unused pools * \(PymallocLayout.poolSize) bytes",
                s.unusedPools * PymallocLayout.poolSize)
    out += line("# bytes lost to pool headers", s.poolHeaderBytes)
    out += line("# bytes lost to quantization", misreportQuantization
                  ? s.classes.reduce(0) { $0 + $1.pools * (PymallocLayout.poolSize % $1.blockSize) } : s.quantizationBytes)
    out += line("# bytes lost to arena alignment", s.arenaAlignmentBytes)
    out += line("Total", s.totalBytes)
    out += "\n"
    out += "arena map counts\n"
    out += line("# arena map mid nodes", s.arenaMapMidNodes)
    out += line("# arena map bot nodes", s.arenaMapBottomNodes)
    out += "\n"
    let mid = ArenaMap.midBytes * s.arenaMapMidNodes
    let bot = ArenaMap.bottomBytes * s.arenaMapBottomNodes
    out += line("# bytes lost to arena map root", ArenaMap.rootBytes)
    out += line("# bytes lost to arena map mid", mid)
    out += line("# bytes lost to arena map bot", bot)
    out += line("Total", ArenaMap.rootBytes + mid + bot)
    return out
  }

  /// The numbers of a pymalloc section (ours or a real CPython's): class rows and `label = value` lines.
  public struct Parsed: Equatable, Sendable {
    public var rows: [[Int]] = []               // class, size, pools, in use, avail
    public var values: [String: Int] = [:]      // label (trimmed) → value; the two "Total"s as Total, Total#2
  }

  public static func parse(_ text: String) -> Parsed {
    var p = Parsed()
    for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
      let line = String(raw)
      let fields = line.split(separator: " ")
      if fields.count == 5, fields.allSatisfy({ Int($0) != nil }) {
        p.rows.append(fields.map { Int($0)! })
      } else if let eq = line.lastIndex(of: "=") {
        let label = line[..<eq].trimmingCharacters(in: " ")
        let number = line[line.index(after: eq)...].filter { $0 != "," && $0 != " " }
        guard let v = Int(number) else { continue }
        let key = p.values[label] == nil ? label : label + "#2"
        p.values[key] = v
      }
    }
    return p
  }
}

extension Substring {
  fileprivate func trimmingCharacters(in c: Character) -> String {
    var s = self
    while s.first == c { s.removeFirst() }
    while s.last == c { s.removeLast() }
    return String(s)
  }
}
