// Mutator.swift — the mutation operators of issue 15 part 2 over ``SwiftTokenizer``'s tokens: relational
// operators moved to a neighbour, integer constants off by one, whole simple statements dropped, if/guard
// conditions negated, `&&` ↔ `||`, `+` ↔ `-`. Each ``Mutant`` has a stable id (file, line, operator, an
// FNV-1a hash of the original line) and a readable diff. What is never mutated, and why:
// - comments and string literals (one opaque token each);
// - operators without whitespace on both sides (generic brackets, prefix and postfix operators);
// - the arguments of `require`, `precondition`, `assert`, `fatalError` and `Memcheck` calls (defensive
//   checks and Valgrind client requests: no behaviour of a correct allocator depends on them) and of
//   attributes (`@inline(__always)`);
// - seeded-bug code (unless asked): a block whose `if` condition needs `has(.bug)`, the other terms of an
//   `&&` chain holding `has(.bug)`, and the first branch of `has(.bug) ? a : b` — reached only with a seeded
//   bug switched on, which the quality suites already prove (see Documentation/Mutants.md).

import Foundation

/// A mutation operator; the raw value is the id's operator field.
public enum MutationOperator: String, CaseIterable, Codable, Sendable {
  case relational = "ror"
  case constantPlus = "const+1"
  case constantMinus = "const-1"
  case dropStatement = "drop"
  case negateCondition = "negate"
  case logical = "and-or"
  case arithmetic = "plus-minus"

  public var summary: String {
    switch self {
    case .relational: "< ↔ <=, > ↔ >=, == ↔ !=, === ↔ !== (spaced binary operators only)"
    case .constantPlus: "an integer literal n becomes n + 1"
    case .constantMinus: "an integer literal n > 0 becomes n − 1"
    case .dropStatement: "a whole one-line assignment, compound assignment or call is removed"
    case .negateCondition: "an if or guard condition c becomes !(c)"
    case .logical: "&& ↔ ||"
    case .arithmetic: "+ ↔ -, &+ ↔ &-, += ↔ -=, &+= ↔ &-= (not string concatenation)"
    }
  }
}

/// One mutant: a few byte edits to one file.
public struct Mutant: Codable, Sendable, Equatable {
  public struct Edit: Codable, Sendable, Equatable {
    public var start: Int
    public var end: Int
    public var text: String
  }
  public var id: String
  /// Path relative to the mutated sources root (e.g. `Pymalloc/Pymalloc+Free.swift`).
  public var file: String
  public var line: Int
  public var op: MutationOperator
  public var original: String
  public var mutated: String
  public var edits: [Edit]
  /// Inside seeded-bug code (generated only on request).
  public var bugCode: Bool

  /// The readable diff: the file and line, then the line before and after.
  public var diff: String { "--- \(file):\(line) (\(op.rawValue))\n-\(original)\n+\(mutated)" }

  /// `source` (the file this mutant was made from) with the edits applied.
  public func apply(to source: String) -> String {
    var bytes = Array(source.utf8)
    for e in edits.sorted(by: { $0.start > $1.start }) { bytes.replaceSubrange(e.start..<e.end, with: Array(e.text.utf8)) }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// `id` without its line number: the key an equivalents list still matches after lines above moved.
  public var lineFreeKey: String {
    let parts = id.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return id }
    return "\(parts[0]):\(parts[2]):\(parts[3])"
  }
}

/// Makes every mutant of a Swift file.
public enum Mutator {
  /// Calls whose arguments are never mutated (and which are never dropped).
  public static let skippedCallees: Set<String> = [
    "require", "precondition", "preconditionFailure", "assert", "assertionFailure", "fatalError", "Memcheck",
  ]
  static let keywords: Set<String> = [
    "let", "var", "return", "guard", "if", "else", "case", "default", "func", "init", "deinit", "defer", "throw",
    "break", "continue", "fallthrough", "switch", "for", "while", "repeat", "do", "import", "struct", "class",
    "enum", "extension", "protocol", "typealias", "static", "private", "public", "internal", "fileprivate",
    "final", "override", "mutating", "nonmutating", "try", "await", "unsafe", "in", "where", "get", "set",
    "super", "lazy", "weak", "unowned", "nonisolated", "package", "some", "any", "inout", "throws", "rethrows",
  ]
  static let relational = ["<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==", "===": "!==", "!==": "==="]
  static let arithmetic = ["+": "-", "-": "+", "&+": "&-", "&-": "&+", "+=": "-=", "-=": "+=", "&+=": "&-=", "&-=": "&+="]
  static let assignments: Set<String> = ["=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "&+=", "&-=", "&*=", "&<<=", "&>>="]

  /// FNV-1a (32 bits) of the trimmed line, 8 hex digits: the id's hash field, stable across runs and builds.
  public static func lineHash(_ line: String) -> String {
    var h: UInt32 = 0x811C_9DC5
    for byte in line.trimmingCharacters(in: .whitespaces).utf8 { h = (h ^ UInt32(byte)) &* 0x0100_0193 }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 8 - hex.count) + hex
  }

  enum ScopeKind { case initializer, control, function, valueBody, type, closure }
  struct Scope {
    var kind: ScopeKind
    var bugOnly: Bool
  }

  /// Every mutant of `source`; `file` is the path written into ids and diffs.
  public static func mutants(of source: String, file: String, includeBugCode: Bool = false) -> [Mutant] {
    let t = SwiftTokenizer.tokenize(source)
    guard !t.isEmpty else { return [] }
    let lines = source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var lineStart = [0]
    for l in lines { lineStart.append(lineStart[lineStart.count - 1] + l.utf8.count + 1) }

    // Matching brackets, the scope around each token, and the tokens no operator may touch.
    var match = [Int](repeating: -1, count: t.count)
    var stack: [Int] = []
    for (i, tok) in t.enumerated() where tok.kind == .punct {
      switch tok.text {
      case "(", "[", "{": stack.append(i)
      case ")", "]", "}": if let o = stack.popLast() { match[o] = i; match[i] = o }
      default: break
      }
    }
    var skipped = [Bool](repeating: false, count: t.count)
    var bugOnly = [Bool](repeating: false, count: t.count)
    var scopeAt = [Scope](repeating: Scope(kind: .type, bugOnly: false), count: t.count)
    var scopes: [Scope] = [Scope(kind: .type, bugOnly: false)]
    var headStart = 0  // first token of the current statement head
    for i in t.indices {
      let tok = t[i]
      scopeAt[i] = scopes[scopes.count - 1]
      if tok.kind == .punct && tok.text == "(" && match[i] > i {
        let callee = calleeChain(t, before: i)
        if callee.contains(where: skippedCallees.contains) || (callee.first.map { f in
          let k = i - (callee.count * 2 - 1) - 1
          return k >= 0 && t[k].text == "@" && !f.isEmpty
        } ?? false) {
          for k in i...match[i] { skipped[k] = true }
        }
      }
      if tok.kind == .punct && tok.text == "{" {
        let head = Array(t[headStart..<i])
        let scope = classify(head, inherited: scopes[scopes.count - 1].bugOnly)
        scopes.append(scope)
        headStart = i + 1
      } else if tok.kind == .punct && tok.text == "}" {
        if scopes.count > 1 { scopes.removeLast() }
        headStart = i + 1
      } else if tok.kind == .punct && tok.text == ";" {
        headStart = i + 1
      } else if i > 0 && t[i - 1].line < tok.line && endsStatement(t[i - 1]) && !continues(tok) {
        headStart = i
      }
      if scopes[scopes.count - 1].bugOnly { bugOnly[i] = true }
    }
    // Expression-level seeded-bug code, one logical line at a time (a line and the lines continuing it).
    var byLine: [Int: [Int]] = [:]
    for i in t.indices { byLine[t[i].line, default: []].append(i) }
    var logical: [[Int]] = []
    for line in byLine.keys.sorted() {
      let idx = byLine[line]!
      if let prev = logical.last?.last, !endsStatement(t[prev]) || continues(t[idx[0]]) {
        logical[logical.count - 1] += idx
      } else {
        logical.append(idx)
      }
    }
    for idx in logical { markBugSegments(t, idx, match: match, into: &bugOnly) }

    var out: [Mutant] = []
    var seen: [String: Int] = [:]
    func add(_ op: MutationOperator, line: Int, edits: [Mutant.Edit], bug: Bool) {
      let original = lines[line - 1]
      let base = lineStart[line - 1]
      var bytes = Array(original.utf8)
      for e in edits.sorted(by: { $0.start > $1.start }) {
        bytes.replaceSubrange((e.start - base)..<(e.end - base), with: Array(e.text.utf8))
      }
      let mutated = String(decoding: bytes, as: UTF8.self)
      let key = "\(file):\(line):\(op.rawValue)"
      let k = seen[key, default: 0]
      seen[key] = k + 1
      let id = "\(file):\(line):\(op.rawValue)\(k == 0 ? "" : "#\(k)"):\(lineHash(original))"
      out.append(Mutant(id: id, file: file, line: line, op: op, original: original, mutated: mutated, edits: edits, bugCode: bug))
    }
    func allowed(_ i: Int) -> Bool { !skipped[i] && (includeBugCode || !bugOnly[i]) && !isDirectiveLine(t, i) }

    for i in t.indices where allowed(i) {
      let tok = t[i]
      let edit = { (text: String) in [Mutant.Edit(start: tok.start, end: tok.end, text: text)] }
      if tok.kind == .op && tok.isSpacedOperator {
        if let r = relational[tok.text] { add(.relational, line: tok.line, edits: edit(r), bug: bugOnly[i]) }
        if tok.text == "&&" { add(.logical, line: tok.line, edits: edit("||"), bug: bugOnly[i]) }
        if tok.text == "||" { add(.logical, line: tok.line, edits: edit("&&"), bug: bugOnly[i]) }
        if let r = arithmetic[tok.text], !lineHasString(t, byLine[tok.line] ?? []) {
          add(.arithmetic, line: tok.line, edits: edit(r), bug: bugOnly[i])
        }
      }
      if tok.kind == .number, let (value, hex) = integerValue(tok.text), !(i > 0 && t[i - 1].text == "."),
         !(i + 1 < t.count && t[i + 1].text == "." && !t[i].spaceAfter) {
        if value < UInt64.max { add(.constantPlus, line: tok.line, edits: edit(spell(value + 1, hex: hex, like: tok.text)), bug: bugOnly[i]) }
        if value > 0 { add(.constantMinus, line: tok.line, edits: edit(spell(value - 1, hex: hex, like: tok.text)), bug: bugOnly[i]) }
      }
    }

    // Line-level operators: negated conditions and dropped statements.
    for line in byLine.keys.sorted() {
      let idx = byLine[line]!
      guard let first = idx.first else { continue }
      if let m = negation(t, idx, match: match), allowed(m.from) {
        add(.negateCondition, line: line, edits: [Mutant.Edit(start: t[m.from].start, end: t[m.from].start, text: "!("),
                                                   Mutant.Edit(start: t[m.to].end, end: t[m.to].end, text: ")")], bug: bugOnly[m.from])
      }
      if let drop = droppable(t, idx, match: match, scope: scopeAt[first]), allowed(first) {
        let lastTok = t[idx[idx.count - 1]]
        add(.dropStatement, line: line, edits: [Mutant.Edit(start: t[first].start, end: lastTok.end, text: drop)], bug: bugOnly[first])
      }
    }
    return out.sorted { ($0.line, $0.edits[0].start, $0.id) < ($1.line, $1.edits[0].start, $1.id) }
  }

  /// Identifiers of the callee chain `a.b.c` right before `(` at `i`, first to last ([] if none).
  static func calleeChain(_ t: [SwiftToken], before i: Int) -> [String] {
    var chain: [String] = []
    var k = i - 1
    while k >= 0 && t[k].kind == .identifier {
      chain.insert(t[k].text, at: 0)
      if k >= 2 && t[k - 1].text == "." && t[k - 2].kind == .identifier { k -= 2 } else { break }
    }
    return chain
  }

  static func isDirectiveLine(_ t: [SwiftToken], _ i: Int) -> Bool {
    var k = i
    while k > 0 && t[k - 1].line == t[i].line { k -= 1 }
    return t[k].text.hasPrefix("#")
  }

  static func lineHasString(_ t: [SwiftToken], _ idx: [Int]) -> Bool { idx.contains { t[$0].kind == .string } }

  /// A token after which a statement may end at a line break.
  static func endsStatement(_ tok: SwiftToken) -> Bool {
    switch tok.kind {
    case .identifier: return !["in", "return", "else", "if", "guard", "case", "let", "var", "where", "try", "await", "throw"].contains(tok.text)
    case .number, .string: return true
    case .punct: return [")", "]", "}", "{", ";"].contains(tok.text)
    case .op: return !tok.spaceAfter || tok.text == "!" || tok.text == "?"  // postfix
    }
  }

  /// The token (first on its line) continues the statement of the line before.
  static func continues(_ tok: SwiftToken) -> Bool {
    (tok.kind == .punct && tok.text == ".") || (tok.kind == .op && tok.spaceAfter && tok.text != "!")
  }

  /// A `has(.bug)` or `bugs.contains(.bug)` test starting at `k` (its first token).
  static func isBugTest(_ t: [SwiftToken], _ k: Int) -> Bool {
    guard k + 2 < t.count else { return false }
    if t[k].text == "has" && t[k + 1].text == "(" && t[k + 2].text == "." { return true }
    if k + 3 < t.count && t[k].text == "bugs" && t[k + 1].text == "." && t[k + 2].text == "contains" && t[k + 3].text == "(" { return true }
    return false
  }

  /// A bug test not under a `!` (`has(.x)`, `mimalloc.has(.x)`; not `!heap.has(.x)`).
  static func isPlainBugTest(_ t: [SwiftToken], _ k: Int) -> Bool {
    guard isBugTest(t, k) else { return false }
    var s = k
    while s >= 2 && t[s - 1].text == "." && t[s - 2].kind == .identifier { s -= 2 }
    return !(s > 0 && t[s - 1].text == "!")
  }

  /// The scope a `{` opens, from its statement head.
  static func classify(_ head: [SwiftToken], inherited: Bool) -> Scope {
    let words = head.filter { $0.kind == .identifier }.map(\.text)
    let firstWord = words.first { !["private", "public", "internal", "fileprivate", "static", "final", "override", "mutating", "nonisolated", "@", "package"].contains($0) }
    if ["if", "guard", "while", "for", "switch", "else", "repeat", "do", "defer", "case", "default"].contains(firstWord ?? "") {
      var bug = inherited
      if firstWord == "if" || (firstWord == "else" && words.dropFirst().first == "if") {
        let cond = Array(head.drop { $0.text != "if" }.dropFirst())
        bug = bug || conditionNeedsBug(cond)
      }
      return Scope(kind: .control, bugOnly: bug)
    }
    if words.contains("init") && !head.contains(where: { $0.text == "." }) { return Scope(kind: .initializer, bugOnly: inherited) }
    if words.contains("func") { return Scope(kind: head.contains { $0.text == "->" } ? .valueBody : .function, bugOnly: inherited) }
    if ["struct", "class", "enum", "extension", "protocol", "actor"].contains(where: words.contains) { return Scope(kind: .type, bugOnly: inherited) }
    if firstWord == "var" || firstWord == "get" || firstWord == "subscript" { return Scope(kind: .valueBody, bugOnly: inherited) }
    if firstWord == "set" { return Scope(kind: .function, bugOnly: inherited) }
    return Scope(kind: .closure, bugOnly: inherited)
  }

  /// The condition (top level) is an `&&` chain holding an un-negated bug test: true only with a seeded bug on.
  static func conditionNeedsBug(_ c: [SwiftToken]) -> Bool {
    var depth = 0
    var found = false
    for k in c.indices {
      let x = c[k].text
      if c[k].kind == .punct && (x == "(" || x == "[") { depth += 1 }
      if c[k].kind == .punct && (x == ")" || x == "]") { depth -= 1 }
      if depth == 0 && x == "||" { return false }  // a condition list's commas join like &&
      if depth == 0 && isPlainBugTest(c, k) { found = true }
    }
    return found
  }

  /// Marks, in one line's tokens, the terms `&&`-joined to an un-negated bug test and the first branch of
  /// `bugTest ? a : b`, at every bracket depth.
  static func markBugSegments(_ t: [SwiftToken], _ idx: [Int], match: [Int], into bugOnly: inout [Bool]) {
    guard idx.contains(where: { isBugTest(t, $0) }) else { return }
    // In an if/guard/while condition list the top-level commas join like &&.
    let conditionList = idx.prefix(3).contains { ["if", "guard", "while"].contains(t[$0].text) }
    func segment(_ from: Int, _ to: Int) {  // positions in idx, [from, to)
      var segStart = from
      var p = from
      var ternaryBug = -1  // position of a `?` whose condition segment needs a bug
      func close(_ end: Int) {
        let range = segStart..<end
        let hasBug = range.contains { q in
          isPlainBugTest(t, idx[q])
        }
        if hasBug {
          for q in range where !(t[idx[q]].text == "&&") { bugOnly[idx[q]] = true }
        }
        segStart = end + 1
      }
      while p < to {
        let tok = t[idx[p]]
        if tok.kind == .punct && (tok.text == "(" || tok.text == "[") {
          var q = p + 1
          var depth = 1
          while q < to && depth > 0 {
            let x = t[idx[q]]
            if x.kind == .punct && (x.text == "(" || x.text == "[") { depth += 1 }
            if x.kind == .punct && (x.text == ")" || x.text == "]") { depth -= 1 }
            q += 1
          }
          segment(p + 1, max(p + 1, q - 1))
          p = q
          continue
        }
        let splits = ["||", ",", "{", "}", "=", ":", "if", "guard", "while", "return", "else", "let", "var"]
        if (tok.kind == .op && tok.text == "?" && tok.isSpacedOperator) {
          let needs = (segStart..<p).contains { q in isPlainBugTest(t, idx[q]) }
          close(p)
          if needs { ternaryBug = p }
        } else if tok.text == "," && conditionList && from == 0 {
          // one term of the condition list: stays in the segment
        } else if splits.contains(tok.text) && (tok.kind != .op || tok.isSpacedOperator || tok.text == "||") {
          if tok.text == ":" && ternaryBug >= 0 {
            for q in (ternaryBug + 1)..<p { bugOnly[idx[q]] = true }
            ternaryBug = -1
            segStart = p + 1
          } else {
            close(p)
          }
        }
        p += 1
      }
      close(to)
    }
    segment(0, idx.count)
  }

  /// An `if`/`guard` condition on one line (no bindings, no condition list, no bug test): its first and
  /// last token.
  static func negation(_ t: [SwiftToken], _ idx: [Int], match: [Int]) -> (from: Int, to: Int)? {
    guard let ifPos = idx.firstIndex(where: { p in
      (t[p].text == "if" || t[p].text == "guard") && (p == idx[0] || t[p - 1].text == "else")
    }) else { return nil }
    let isGuard = t[idx[ifPos]].text == "guard"
    var p = ifPos + 1
    var depth = 0
    var end = -1
    while p < idx.count {
      let tok = t[idx[p]]
      if tok.kind == .punct && (tok.text == "(" || tok.text == "[") { depth += 1 }
      if tok.kind == .punct && (tok.text == ")" || tok.text == "]") { depth -= 1 }
      if depth == 0 {
        if isGuard ? tok.text == "else" : (tok.kind == .punct && tok.text == "{") { end = p; break }
        if tok.text == "," || tok.text == "let" || tok.text == "var" || tok.text == "case" || tok.text.hasPrefix("#") { return nil }
        if isBugTest(t, idx[p]) { return nil }
      }
      p += 1
    }
    guard end > ifPos + 1 else { return nil }
    return (idx[ifPos + 1], idx[end - 1])
  }

  /// The replacement of a droppable one-line statement ("" or `break` for a case's only statement), or nil.
  static func droppable(_ t: [SwiftToken], _ idx: [Int], match: [Int], scope: Scope) -> String? {
    let first = idx[0]
    let f = t[first]
    guard f.kind == .identifier, !keywords.contains(f.text) || f.text == "self", scope.kind != .initializer, scope.kind != .type else { return nil }
    if skippedCallees.contains(f.text) { return nil }
    let last = idx[idx.count - 1]
    // The whole statement is on this line: brackets balanced, nothing continues it before or after.
    for p in idx where t[p].kind == .punct && ["(", "[", "{", ")", "]", "}"].contains(t[p].text) {
      guard match[p] >= first && match[p] <= last else { return nil }
    }
    guard endsStatement(t[last]), t[last].text != "{" else { return nil }
    if last + 1 < t.count && continues(t[last + 1]) { return nil }
    if last + 1 < t.count && t[last + 1].text == "{" { return nil }
    var afterCaseLabel = false
    if first > 0 {
      let prev = t[first - 1]
      if prev.text == ":" {
        var k = first - 1
        while k > 0 && t[k - 1].line == prev.line { k -= 1 }
        guard t[k].text == "case" || t[k].text == "default" else { return nil }
        afterCaseLabel = true
      } else if !(prev.kind == .punct && ["{", "}", ";"].contains(prev.text)) && !endsStatement(prev) {
        return nil
      }
    }
    // Kind: an assignment or compound assignment at the top level, or a call.
    var depth = 0
    var assigns = false
    for p in idx {
      let tok = t[p]
      if tok.kind == .punct && ["(", "[", "{"].contains(tok.text) { depth += 1 }
      if tok.kind == .punct && [")", "]", "}"].contains(tok.text) { depth -= 1 }
      if depth == 0 && tok.kind == .op && assignments.contains(tok.text) && tok.isSpacedOperator { assigns = true }
    }
    let isCall = t[last].text == ")" && match[last] > first && t[match[last] - 1].kind == .identifier
    guard assigns || isCall else { return nil }
    // The only statement of a block: a value-returning body or closure would lose its value; a case needs one.
    let sole = first > 0 && (t[first - 1].text == "{" || afterCaseLabel)
      && (last + 1 >= t.count || t[last + 1].text == "}" || t[last + 1].text == "case" || t[last + 1].text == "default")
    if sole && afterCaseLabel { return "break" }
    if sole && (scope.kind == .valueBody || scope.kind == .closure) { return nil }
    return ""
  }

  /// An integer literal's value and whether it is hex (binary and octal literals are left alone).
  static func integerValue(_ text: String) -> (UInt64, Bool)? {
    let clean = text.replacingOccurrences(of: "_", with: "")
    if clean.hasPrefix("0x") { return UInt64(clean.dropFirst(2), radix: 16).map { ($0, true) } }
    if clean.hasPrefix("0b") || clean.hasPrefix("0o") { return nil }
    return UInt64(clean).map { ($0, false) }
  }

  static func spell(_ v: UInt64, hex: Bool, like text: String) -> String {
    guard hex else { return String(v) }
    let upper = text.dropFirst(2).contains { $0.isUppercase }
    let digits = String(v, radix: 16, uppercase: upper)
    return "0x" + digits
  }

  /// A seeded sample of at most `cap` mutants (all when there are fewer), in file and line order.
  public static func sample(_ all: [Mutant], cap: Int?, seed: UInt64) -> [Mutant] {
    guard let cap, cap < all.count else { return all }
    var rng = SeededRandom(seed: seed)
    var pool = all
    for i in stride(from: pool.count - 1, to: 0, by: -1) {
      let j = Int(rng.next() % UInt64(i + 1))
      pool.swapAt(i, j)
    }
    let chosen = Set(pool.prefix(cap).map(\.id))
    return all.filter { chosen.contains($0.id) }
  }
}
