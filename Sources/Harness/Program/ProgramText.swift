// ProgramText.swift — the readable, versioned text form of a ``Program`` ("alloc-check program v1"):
// ``ProgramText/render(_:family:comments:)``, ``ProgramText/renderLine(_:definedID:)`` (also used by
// traces) and the entry points ``ProgramText/parse(_:)`` / ``ProgramText/parseDocument(_:)``. The line
// grammar lives in ProgramText+Parser.swift; its errors are ``ProgramTextError``.
//
//     # alloc-check program v1
//     # family: pymalloc
//     p0 = malloc(24)
//     free(p0)
//
// The heaps family adds lines such as `t1 = spawn()`, `thread(t1)`, `h0 = heap_new()`,
// `p1 = heap_malloc(h0, 24)`, `heap_destroy(h0)`, `exit()`; the domains family `configure(pymalloc_debug)`,
// `p0 = PyObject_Malloc(16)`, `write_past_end(p0, 1, 0x78)`, `PyObject_Free(p0)` (grammar in ProgramText+Parser.swift).

/// Render and parse the text form. `parse(render(p)) == p` for every valid program `p`.
public enum ProgramText {
  /// The version line; the first non-blank line of every program text.
  public static let header = "# alloc-check program v1"
  /// Prefix of the optional line naming the binary family the program belongs to.
  public static let familyPrefix = "# family:"

  /// A parsed text: the program plus what its comment lines said.
  public struct Document: Hashable, Sendable {
    public var program: Program
    /// The value of the first `# family: …` line, if any.
    public var family: String?
    /// Every other comment line, without its `#` and one following space, in file order.
    public var comments: [String]
  }

  /// The whole text: header, `# family: <family>`, one `# <comment>` line per comment line (a comment
  /// may span lines, and may already start with `#`), then one op per line, ending with a newline.
  public static func render(_ program: Program, family: String = "pymalloc", comments: [String] = []) -> String {
    var lines = [header, "\(familyPrefix) \(family)"]
    for comment in comments {
      for line in comment.split(separator: "\n", omittingEmptySubsequences: false) {
        lines.append(line.hasPrefix("#") ? String(line) : "# \(line)")
      }
    }
    var blocks = 0, threads = 1, heaps = 0
    for op in program.ops {
      var name: String?
      if op.isAllocating { name = "p\(blocks)"; blocks += 1 }
      if op.definesThread { name = "t\(threads)"; threads += 1 }
      if op.definesHeap { name = "h\(heaps)"; heaps += 1 }
      lines.append(renderLine(op, definedName: name))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// One op in canonical spelling: `p3 = realloc(p1, 100)`, `free(NULL)`. `definedID` is the id the
  /// op defines (nil for free; an allocating op rendered without one omits the `pN = ` part).
  public static func renderLine(_ op: Op, definedID: BlockRef?) -> String {
    renderLine(op, definedName: op.isAllocating ? definedID?.description : nil)
  }

  /// One op in canonical spelling, with `definedName = ` in front when given (`p3`, `t1`, `h0`).
  public static func renderLine(_ op: Op, definedName: String?) -> String {
    let call =
      switch op {
      case .malloc(let size): "malloc(\(size))"
      case .calloc(let count, let size): "calloc(\(count), \(size))"
      case .realloc(let ref, let size): "realloc(\(refText(ref)), \(size))"
      case .free(let ref): "free(\(refText(ref)))"
      case .spawn: "spawn()"
      case .switchThread(let t): "thread(\(t))"
      case .exitThread: "exit()"
      case .heapNew: "heap_new()"
      case .heapDestroy(let h): "heap_destroy(\(h))"
      case .heapDelete(let h): "heap_delete(\(h))"
      case .heapCollect(let h, let force): force ? "heap_collect(\(h), force)" : "heap_collect(\(h))"
      case .heapVisit(let h): "heap_visit(\(h))"
      case .heapMalloc(let h, let size): "heap_malloc(\(h), \(size))"
      case .heapMallocAligned(let h, let size, let alignment): "heap_malloc_aligned(\(h), \(size), \(alignment))"
      case .collect(let force): force ? "collect(force)" : "collect()"
      case .quiescent: "quiescent()"
      case .domain(let d): d.text
      }
    guard let definedName else { return call }
    return "\(definedName) = \(call)"
  }

  static func refText(_ ref: BlockRef?) -> String { ref.map(\.description) ?? "NULL" }

  /// Parses a program text. Names `p<digits>` may be numbered in any way; they are mapped to canonical
  /// ids in definition order. Throws the first error, with its 1-based line number.
  public static func parse(_ text: String) throws(ProgramTextError) -> Program {
    try parseDocument(text).program
  }

  /// Parses a program text, keeping its family line and comments.
  public static func parseDocument(_ text: String) throws(ProgramTextError) -> Document {
    var parser = Parser()
    var sawHeader = false
    var family: String?
    var comments: [String] = []
    var lineNumber = 0
    // "\r\n" is one Character in Swift, so it must be named as a separator of its own.
    for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
      lineNumber += 1
      let line = trimmed(rawLine)
      if line.isEmpty { continue }
      guard sawHeader else {
        guard line == header else {
          throw ProgramTextError(line: lineNumber, text: String(rawLine), kind: .missingHeader)
        }
        sawHeader = true
        continue
      }
      if line.hasPrefix("#") {
        if family == nil, line.hasPrefix(familyPrefix) {
          family = String(trimmed(line.dropFirst(familyPrefix.count)))
        } else {
          let body = line.dropFirst()
          comments.append(String(body.hasPrefix(" ") ? body.dropFirst() : body))
        }
        continue
      }
      try parser.parseOpLine(String(rawLine), lineNumber: lineNumber)
    }
    guard sawHeader else {
      throw ProgramTextError(line: max(lineNumber, 1), text: "", kind: .missingHeader)
    }
    return Document(program: Program(parser.ops), family: family, comments: comments)
  }
}

extension ProgramText {
  /// `text` without leading and trailing spaces, tabs and carriage returns.
  static func trimmed(_ text: some StringProtocol) -> Substring {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
    let all = text[...]
    guard let first = all.firstIndex(where: { !isSpace($0) }),
      let last = all.lastIndex(where: { !isSpace($0) })
    else { return Substring() }
    return Substring(all[first...last])
  }
}
