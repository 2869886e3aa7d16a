// ProgramText+Parser.swift — the grammar of one op line of the text form, and the name tables that map
// human names to canonical ids: `ProgramText.Parser`. ``ProgramText/parseDocument(_:)`` feeds it every
// line that is not blank, the header or a comment. Thread and heap rules are checked by ``ProgramState``;
// every error is a ``ProgramTextError`` with its line.
//
//     line  := [ name "=" ] call [ "#" comment ]      (spaces and tabs anywhere between tokens)
//     call  := "malloc(" num ")" | "calloc(" num "," num ")" | "realloc(" ref "," num ")" | "free(" ref ")"
//            | "spawn()" | "thread(" thread ")" | "exit()" | "heap_new()" | "heap_destroy(" heap ")"
//            | "heap_delete(" heap ")" | "heap_collect(" heap [ "," "force" ] ")" | "heap_visit(" heap ")"
//            | "heap_malloc(" heap "," num ")" | "heap_malloc_aligned(" heap "," num "," num ")"
//            | "collect(" [ "force" ] ")" | "quiescent()"
//            | "configure(" config ")" | "setup_debug_hooks()" | api "Malloc(" num ")" | api "Calloc(" num "," num ")"
//            | api "Realloc(" ref "," num ")" | api "Free(" ref ")" | "write_past_end(" ref "," num "," num ")"
//            | "write_before_start(" ref "," num "," num ")" | "write_after_free(" ref "," num "," num ")"
//            | "double_free(" ref ")" | "free_wrong_domain(" ref "," domain ")" | "free_foreign(" domain ")"
//            | "realloc_freed(" ref "," num ")" | "malloc_without_gil(" domain "," num ")"
//     api   := "PyMem_Raw" | "PyMem_" | "PyObject_"    domain := "raw" | "mem" | "obj"
//     config := "default" | "malloc" | "pymalloc" | "debug" | "malloc_debug" | "pymalloc_debug"
//     ref   := "p" digits | "NULL"    thread := "t" digits    heap := "h" digits | "mem" | "object" | "gc" | "gc_pre"
//     num   := digits | "0x" hexdigits

import AllocUnderTest

extension ProgramText {
  /// Accumulates ops line by line; names are bound to ids in definition order.
  struct Parser {
    struct Binding {
      var id: Int
      var definedOnLine: Int
      var consumedOnLine: Int?
    }

    private(set) var ops: [Op] = []
    private var names: [String: Binding] = [:]
    /// Thread and heap names: canonical id and defining line (t0 is predefined, "line 0").
    private var threadNames: [String: (id: Int, line: Int)] = ["t0": (0, 0)]
    private var heapNames: [String: (id: Int, line: Int)] = [:]
    private var nextID = 0
    private var state = ProgramState()

    /// Parses one op line and appends its op. Nothing is bound or consumed if the line throws.
    mutating func parseOpLine(_ line: String, lineNumber: Int) throws(ProgramTextError) {
      var scan = LineScanner(line)
      func fail(_ kind: ProgramTextError.Kind) -> ProgramTextError {
        ProgramTextError(line: lineNumber, text: line, kind: kind)
      }

      // `name = op(` or `op(`.
      var word = scan.word()
      var definedName: String?
      if scan.take("=") {
        guard isBlockName(word) || isName(word, prefix: "t") || isName(word, prefix: "h") else { throw fail(.badName(word)) }
        if let earlier = names[word] { throw fail(.redefinition(word, firstLine: earlier.definedOnLine)) }
        if let earlier = threadNames[word] ?? heapNames[word] { throw fail(.redefinition(word, firstLine: earlier.line)) }
        definedName = word
        word = scan.word()
      }
      let call = Self.domainCall(word)
      guard let kind = call?.kind ?? Op.Kind.allCases.first(where: { $0.name == word && !$0.name.hasPrefix("domain_") }) else {
        throw fail(word.isEmpty ? .expected("an op name", found: scan.rest) : .unknownOp(word))
      }
      let definesSomething = kind.isAllocating || kind == .spawn || kind == .heapNew
      if definesSomething, definedName == nil { throw fail(.missingName(kind)) }
      if !definesSomething, let definedName { throw fail(.unexpectedName(definedName, kind: kind)) }
      if let definedName {
        let prefix: Character = kind == .spawn ? "t" : kind == .heapNew ? "h" : "p"
        guard definedName.first == prefix else { throw fail(.badName(definedName)) }
      }
      guard scan.take("(") else { throw fail(.expected("\"(\" after \(call == nil ? kind.name : word)", found: scan.rest)) }

      // Operands, in source order; refs are resolved but not consumed until the line is complete.
      func number() throws(ProgramTextError) -> UInt64 {
        let token = scan.word()
        switch Self.parseNumber(token) {
        case .some(.some(let value)): return value
        case .some(.none): throw fail(.overflow(token))
        case .none: throw fail(token.isEmpty ? .expected("a number", found: scan.rest) : .badNumber(token))
        }
      }
      func ref() throws(ProgramTextError) -> (name: String, id: Int)? {
        let token = scan.word()
        if token == "NULL" { return nil }
        guard isBlockName(token) else {
          throw fail(token.isEmpty ? .expected("a block name or NULL", found: scan.rest) : .badName(token))
        }
        guard let binding = names[token] else { throw fail(.useBeforeDefinition(token)) }
        if let consumed = binding.consumedOnLine { throw fail(.useAfterConsume(token, consumedOnLine: consumed)) }
        return (token, binding.id)
      }
      func thread() throws(ProgramTextError) -> ThreadRef {
        let token = scan.word()
        guard isName(token, prefix: "t") else {
          throw fail(token.isEmpty ? .expected("a thread name t<digits>", found: scan.rest) : .badName(token))
        }
        guard let id = threadNames[token]?.id else { throw fail(.useBeforeDefinition(token)) }
        return ThreadRef(id)
      }
      func heap() throws(ProgramTextError) -> HeapRef {
        let token = scan.word()
        if let tag = HeapTag.allCases.first(where: { $0.textName == token }) { return .tagged(tag) }
        guard isName(token, prefix: "h") else {
          throw fail(token.isEmpty ? .expected("a heap (h<digits>, mem, object, gc or gc_pre)", found: scan.rest) : .badName(token))
        }
        guard let id = heapNames[token]?.id else { throw fail(.useBeforeDefinition(token)) }
        return .made(id)
      }
      func comma() throws(ProgramTextError) {
        guard scan.take(",") else { throw fail(.expected("\",\"", found: scan.rest)) }
      }
      /// An optional `force` word (after a comma when `afterComma`).
      func force(afterComma: Bool) throws(ProgramTextError) -> Bool {
        if afterComma, !scan.take(",") { return false }
        let token = scan.word()
        if token == "force" { return true }
        if token.isEmpty && !afterComma { return false }
        throw fail(.expected("force", found: token.isEmpty ? scan.rest : token))
      }

      func byte() throws(ProgramTextError) -> UInt8 {
        let n = try number()
        guard n <= 0xFF else { throw fail(.expected("a byte value 0…255", found: "\(n)")) }
        return UInt8(n)
      }
      func domain() throws(ProgramTextError) -> PyMemDomain {
        let token = scan.word()
        guard let d = PyMemDomain.allCases.first(where: { $0.textName == token }) else {
          throw fail(.expected("a domain (raw, mem or obj)", found: token.isEmpty ? scan.rest : token))
        }
        return d
      }
      /// A block operand of a misuse: a live `pK`, never NULL.
      func block() throws(ProgramTextError) -> (name: String, id: Int) {
        guard let r = try ref() else { throw fail(.expected("a block name (a misuse needs a block)", found: "NULL")) }
        return r
      }

      let op: Op
      var used: (name: String, id: Int)?
      switch kind {
      case .malloc:
        op = .malloc(size: try number())
      case .calloc:
        let count = try number()
        try comma()
        op = .calloc(count: count, size: try number())
      case .realloc:
        used = try ref()
        try comma()
        op = .realloc(used.map { BlockRef($0.id) }, size: try number())
      case .free:
        used = try ref()
        op = .free(used.map { BlockRef($0.id) })
      case .spawn: op = .spawn
      case .switchThread: op = .switchThread(try thread())
      case .exitThread: op = .exitThread
      case .heapNew: op = .heapNew
      case .heapDestroy: op = .heapDestroy(try heap())
      case .heapDelete: op = .heapDelete(try heap())
      case .heapCollect:
        let h = try heap()
        op = .heapCollect(h, force: try force(afterComma: true))
      case .heapVisit: op = .heapVisit(try heap())
      case .heapMalloc:
        let h = try heap()
        try comma()
        op = .heapMalloc(h, size: try number())
      case .heapMallocAligned:
        let h = try heap()
        try comma()
        let size = try number()
        try comma()
        op = .heapMallocAligned(h, size: size, alignment: try number())
      case .collect: op = .collect(force: try force(afterComma: false))
      case .quiescent: op = .quiescent
      case .configure:
        let token = scan.word()
        guard let c = DomainConfiguration.allCases.first(where: { $0.description == token }) else {
          throw fail(.expected("a PYTHONMALLOC name (default, malloc, pymalloc, debug, malloc_debug, pymalloc_debug)",
                               found: token.isEmpty ? scan.rest : token))
        }
        op = .domain(.configure(c))
      case .setupDebugHooks: op = .domain(.setupDebugHooks)
      case .domainMalloc: op = .domain(.malloc(call!.domain, size: try number()))
      case .domainCalloc:
        let count = try number()
        try comma()
        op = .domain(.calloc(call!.domain, count: count, size: try number()))
      case .domainRealloc:
        used = try ref()
        try comma()
        op = .domain(.realloc(call!.domain, used.map { BlockRef($0.id) }, size: try number()))
      case .domainFree:
        used = try ref()
        op = .domain(.free(call!.domain, used.map { BlockRef($0.id) }))
      case .writePastEnd, .writeBeforeStart, .writeAfterFree:
        let b = try block()
        try comma()
        let n = try number()
        try comma()
        let value = try byte()
        let r = BlockRef(b.id)
        switch kind {
        case .writePastEnd: op = .domain(.writePastEnd(r, count: UInt8(clamping: n), byte: value))
        case .writeBeforeStart: op = .domain(.writeBeforeStart(r, count: UInt8(clamping: n), byte: value))
        default:
          used = b
          op = .domain(.writeAfterFree(r, offset: n, byte: value))
        }
      case .doubleFree:
        used = try block()
        op = .domain(.doubleFree(BlockRef(used!.id)))
      case .freeWrongDomain:
        used = try block()
        try comma()
        op = .domain(.freeWrongDomain(BlockRef(used!.id), try domain()))
      case .freeForeign: op = .domain(.freeForeign(try domain()))
      case .reallocFreed:
        used = try block()
        try comma()
        op = .domain(.reallocFreed(BlockRef(used!.id), size: try number()))
      case .mallocWithoutGIL:
        let d = try domain()
        try comma()
        op = .domain(.mallocWithoutGIL(d, size: try number()))
      }
      guard scan.take(")") else { throw fail(.expected("\")\"", found: scan.rest)) }
      let rest = scan.rest
      guard rest.isEmpty || rest.hasPrefix("#") else { throw fail(.trailingJunk(rest)) }
      do { try state.apply(op, at: ops.count) } catch { throw fail(.invalid(error.message)) }

      if let used { names[used.name]?.consumedOnLine = lineNumber }
      if op.kind == .heapDestroy {  // the heap's blocks die with it
        for (name, binding) in names where binding.consumedOnLine == nil && !state.isLive(block: binding.id) {
          names[name]?.consumedOnLine = lineNumber
        }
      }
      if let definedName {
        switch kind {
        case .spawn: threadNames[definedName] = (state.threadAlive.count - 1, lineNumber)
        case .heapNew: heapNames[definedName] = (state.heapOwner.count - 1, lineNumber)
        default:
          names[definedName] = Binding(id: nextID, definedOnLine: lineNumber)
          nextID += 1
        }
      }
      ops.append(op)
    }

    /// `PyMem_RawMalloc` … `PyObject_Free`: the domains family's clean calls by their C names.
    static func domainCall(_ word: String) -> (kind: Op.Kind, domain: PyMemDomain)? {
      for d in PyMemDomain.allCases {
        for (call, kind) in [("Malloc", Op.Kind.domainMalloc), ("Calloc", .domainCalloc), ("Realloc", .domainRealloc),
                             ("Free", .domainFree)] where word == d.function(call) {
          return (kind, d)
        }
      }
      return nil
    }

    private func isName(_ token: String, prefix: Character) -> Bool {
      token.count > 1 && token.first == prefix && token.dropFirst().allSatisfy { ("0"..."9").contains($0) }
    }

    private func isBlockName(_ token: String) -> Bool { isName(token, prefix: "p") }

    /// nil: not a number; `.some(nil)`: a well-formed number above UInt64.max.
    static func parseNumber(_ token: String) -> UInt64?? {
      var digits = Substring(token)
      var radix: UInt64 = 10
      if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
        digits = digits.dropFirst(2)
        radix = 16
      }
      guard !digits.isEmpty else { return nil }
      var value: UInt64 = 0
      var overflowed = false
      for character in digits {
        guard let digit = character.hexDigitValue, UInt64(digit) < radix, character.isASCII else { return nil }
        let (shifted, o1) = value.multipliedReportingOverflow(by: radix)
        let (sum, o2) = shifted.addingReportingOverflow(UInt64(digit))
        overflowed = overflowed || o1 || o2
        value = sum
      }
      return .some(overflowed ? nil : value)
    }
  }

  /// Splits a line into words (runs of characters other than blanks and `=(),#`) and punctuation.
  struct LineScanner {
    private let characters: [Character]
    private var position = 0

    init(_ line: String) { characters = Array(line) }

    /// Skips blanks, then takes the next word; "" if the next character is punctuation or the end.
    mutating func word() -> String {
      skipBlanks()
      let start = position
      while position < characters.count, !Self.isDelimiter(characters[position]) { position += 1 }
      return String(characters[start..<position])
    }

    /// Skips blanks, then takes `punctuation` if it comes next.
    mutating func take(_ punctuation: Character) -> Bool {
      skipBlanks()
      guard position < characters.count, characters[position] == punctuation else { return false }
      position += 1
      return true
    }

    /// What is left after skipping blanks, with trailing blanks trimmed.
    var rest: String { String(ProgramText.trimmed(String(characters[position...]))) }

    private mutating func skipBlanks() {
      while position < characters.count, Self.isBlank(characters[position]) { position += 1 }
    }

    private static func isBlank(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" }
    private static func isDelimiter(_ c: Character) -> Bool { isBlank(c) || "=(),#".contains(c) }
  }
}
