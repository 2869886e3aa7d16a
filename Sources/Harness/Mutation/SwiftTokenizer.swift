// SwiftTokenizer.swift — a small Swift lexer for the mutator (issue 15 part 2): identifiers, numbers,
// operators and punctuation, each with its line, byte range and whether whitespace (or a comment) touches
// it on either side. Comments are skipped; a string literal (plain, multi-line, raw, with interpolations
// nested to any depth) is one opaque token, so nothing inside a comment or a string is ever mutated.
// Swift's rule that a binary operator has whitespace on both sides (or on neither) is what tells
// `a < b` from `Array<Int>`: the mutator only touches operators spaced on both sides.

/// One token of a Swift source file.
public struct SwiftToken: Sendable, Equatable {
  public enum Kind: Sendable, Equatable { case identifier, number, string, op, punct }
  public var kind: Kind
  public var text: String
  /// 1-based line of the token's first byte.
  public var line: Int
  /// Byte range in the file's UTF-8.
  public var start: Int
  public var end: Int
  /// Whitespace, a comment or the start of the file comes right before / right after the token.
  public var spaceBefore: Bool
  public var spaceAfter: Bool

  /// An operator with whitespace on both sides: Swift reads it as binary, never as a generic bracket.
  public var isSpacedOperator: Bool { kind == .op && spaceBefore && spaceAfter }
}

/// Splits Swift source into ``SwiftToken``s.
public enum SwiftTokenizer {
  static let operatorBytes = Set("/=-+!*%<>&|^~?".utf8)
  static let punctBytes = Set("()[]{},:;@\\".utf8)

  public static func tokenize(_ source: String) -> [SwiftToken] {
    let b = Array(source.utf8)
    var tokens: [SwiftToken] = []
    var i = 0
    var line = 1
    var space = true  // the file start counts as whitespace
    func isIdentStart(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || c == 36 || c >= 0x80 }
    func isIdent(_ c: UInt8) -> Bool { isIdentStart(c) || (c >= 48 && c <= 57) }
    func at(_ k: Int) -> UInt8 { k < b.count ? b[k] : 0 }
    func push(_ kind: SwiftToken.Kind, _ from: Int, _ to: Int, line startLine: Int) {
      if !tokens.isEmpty && space { tokens[tokens.count - 1].spaceAfter = true }
      let text = String(decoding: b[from..<to], as: UTF8.self)
      tokens.append(SwiftToken(kind: kind, text: text, line: startLine, start: from, end: to, spaceBefore: space, spaceAfter: false))
      space = false
    }
    /// Skips a string literal starting at `k` (at its first quote, after any `#`s); returns the index past it.
    func skipString(_ k0: Int, hashes: Int) -> Int {
      var k = k0
      let multi = at(k) == 34 && at(k + 1) == 34 && at(k + 2) == 34
      k += multi ? 3 : 1
      while k < b.count {
        let c = b[k]
        if c == 10 { line += 1 }
        if c == 92 {  // backslash: an escape only when followed by the literal's hashes
          var h = 0
          while h < hashes && at(k + 1 + h) == 35 { h += 1 }
          if h == hashes {
            let after = k + 1 + hashes
            if at(after) == 40 { k = skipInterpolation(after + 1); continue }
            k = after + 1
            continue
          }
        }
        if c == 34 {
          let closes = multi ? (at(k + 1) == 34 && at(k + 2) == 34) : true
          if closes {
            let q = k + (multi ? 3 : 1)
            var h = 0
            while h < hashes && at(q + h) == 35 { h += 1 }
            if h == hashes { return q + hashes }
          }
        }
        k += 1
      }
      return k
    }
    /// Skips the code of `\( … )` from just after its `(`; returns the index past the closing `)`.
    func skipInterpolation(_ k0: Int) -> Int {
      var k = k0
      var depth = 1
      while k < b.count {
        let c = b[k]
        if c == 10 { line += 1 }
        if c == 34 { k = skipString(k, hashes: 0); continue }
        if c == 40 { depth += 1 } else if c == 41 {
          depth -= 1
          if depth == 0 { return k + 1 }
        }
        k += 1
      }
      return k
    }

    while i < b.count {
      let c = b[i]
      if c == 32 || c == 9 || c == 13 || c == 10 {
        if c == 10 { line += 1 }
        space = true
        i += 1
        continue
      }
      if c == 47 && at(i + 1) == 47 {  // line comment
        while i < b.count && b[i] != 10 { i += 1 }
        space = true
        continue
      }
      if c == 47 && at(i + 1) == 42 {  // block comment, nested
        var depth = 0
        repeat {
          if at(i) == 47 && at(i + 1) == 42 { depth += 1; i += 2 } else if at(i) == 42 && at(i + 1) == 47 { depth -= 1; i += 2 } else {
            if at(i) == 10 { line += 1 }
            i += 1
          }
        } while depth > 0 && i < b.count
        space = true
        continue
      }
      let startLine = line
      if c == 34 || (c == 35 && (at(i + 1) == 34 || at(i + 1) == 35)) {  // string, raw string
        var hashes = 0
        var k = i
        while at(k) == 35 { hashes += 1; k += 1 }
        if at(k) == 34 {
          let end = skipString(k, hashes: hashes)
          push(.string, i, end, line: startLine)
          i = end
          continue
        }
      }
      if isIdentStart(c) || c == 35 {  // identifiers, keywords, #directives
        var k = i + 1
        while k < b.count && isIdent(b[k]) { k += 1 }
        push(.identifier, i, k, line: startLine)
        i = k
        continue
      }
      if c == 96 {  // `escaped identifier`
        var k = i + 1
        while k < b.count && b[k] != 96 && b[k] != 10 { k += 1 }
        push(.identifier, i, min(k + 1, b.count), line: startLine)
        i = min(k + 1, b.count)
        continue
      }
      if c >= 48 && c <= 57 {
        var k = i + 1
        let radix = c == 48 && (at(k) == 120 || at(k) == 98 || at(k) == 111)
        if radix { k += 1 }
        while k < b.count && (isIdent(b[k]) || (b[k] == 46 && !radix && at(k + 1) >= 48 && at(k + 1) <= 57)) {
          if !radix && (b[k] == 101 || b[k] == 69) && (at(k + 1) == 45 || at(k + 1) == 43) { k += 1 }  // 1e-5
          k += 1
        }
        push(.number, i, k, line: startLine)
        i = k
        continue
      }
      if operatorBytes.contains(c) || (c == 46 && (at(i + 1) == 46 || operatorBytes.contains(at(i + 1)))) {
        // Maximal munch; dots only in an operator that starts with a dot (`..<`, `...`).
        let dotted = c == 46
        var k = i + 1
        while k < b.count && (operatorBytes.contains(b[k]) || (dotted && b[k] == 46)) {
          if b[k] == 47 && (at(k + 1) == 47 || at(k + 1) == 42) { break }  // a comment starts
          k += 1
        }
        push(.op, i, k, line: startLine)
        i = k
        continue
      }
      push(.punct, i, i + 1, line: startLine)  // ( ) [ ] { } , : ; @ . \ and anything unknown
      i += 1
    }
    if !tokens.isEmpty { tokens[tokens.count - 1].spaceAfter = true }
    return tokens
  }
}
