// ProgramTextError.swift — ``ProgramTextError``, everything ``ProgramText/parse(_:)`` can reject, each
// case carrying what it found and (in its description) what was expected. Every message starts with
// "line N" (1-based) and quotes the offending line, so a corpus file that stops parsing is fixed by
// reading one message.

/// A rejected program text: where, the line as written, and why.
public struct ProgramTextError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Kind: Hashable, Sendable {
    /// The first non-blank line is not `# alloc-check program v1` (or the text is blank).
    case missingHeader
    /// The call names no known op.
    case unknownOp(String)
    /// A numeric operand is not decimal digits or `0x` + hex digits.
    case badNumber(String)
    /// A numeric operand is above UInt64.max.
    case overflow(String)
    /// A block name is not `p<digits>` (or `NULL` where a ref is allowed).
    case badName(String)
    /// A ref names a block no earlier line defined.
    case useBeforeDefinition(String)
    /// A ref names a block that the line `consumedOnLine` already freed or realloc'd.
    case useAfterConsume(String, consumedOnLine: Int)
    /// A line defines a name that line `firstLine` already defined.
    case redefinition(String, firstLine: Int)
    /// An allocating op is written without `pN = `.
    case missingName(Op.Kind)
    /// An op that returns nothing (free, thread, heap_destroy, …) is written with `name = `.
    case unexpectedName(String, kind: Op.Kind)
    /// Generic syntax error: `expected` was needed where `found` is.
    case expected(String, found: String)
    /// Text after the closing parenthesis that is neither blank nor a `#` comment.
    case trailingJunk(String)
    /// The op breaks a thread or heap rule of ``ProgramState`` (the message says which).
    case invalid(String)
  }

  /// 1-based line number in the parsed text.
  public var line: Int
  /// The line as written (without its newline).
  public var text: String
  public var kind: Kind

  public var description: String {
    "line \(line) (\"\(text)\"): \(message)"
  }

  /// The reason alone, without position.
  public var message: String {
    switch kind {
    case .missingHeader:
      "expected the header \"\(ProgramText.header)\" as the first non-blank line"
    case .unknownOp(let name):
      "unknown op \"\(name)\"; expected malloc, calloc, realloc or free (heaps family: spawn, thread, exit, heap_new, heap_destroy, heap_delete, heap_collect, heap_visit, heap_malloc, heap_malloc_aligned, collect, quiescent; domains family: configure, setup_debug_hooks, PyMem_RawMalloc … PyObject_Free, write_past_end, write_before_start, write_after_free, double_free, free_wrong_domain, free_foreign, realloc_freed, malloc_without_gil)"
    case .badNumber(let token):
      "bad number \"\(token)\"; expected decimal digits or 0x followed by hex digits"
    case .overflow(let token):
      "number \"\(token)\" overflows; expected at most 18446744073709551615 (UInt64.max)"
    case .badName(let token):
      "bad block name \"\(token)\"; expected p<digits> (or NULL as a ref)"
    case .useBeforeDefinition(let name):
      "\(name) is used before any line defines it; expected a name defined on an earlier line"
    case .useAfterConsume(let name, let consumedOnLine):
      "\(name) is used after line \(consumedOnLine) freed or realloc'd it; expected a live block"
    case .redefinition(let name, let firstLine):
      "\(name) is already defined on line \(firstLine); expected a fresh name"
    case .missingName(let kind):
      "\(kind.name) returns \(kind == .spawn ? "a thread" : kind == .heapNew ? "a heap" : "a block"); expected \"\(kind == .spawn ? "tN" : kind == .heapNew ? "hN" : "pN") = \(kind.name)(…)\""
    case .unexpectedName(let name, let kind):
      "\(kind.name) returns nothing; expected \"\(kind.name)(…)\" without \"\(name) = \""
    case .expected(let expected, let found):
      "expected \(expected), found \(found.isEmpty ? "end of line" : "\"\(found)\"")"
    case .invalid(let message):
      message
    case .trailingJunk(let rest):
      "trailing text \"\(rest)\" after the call; expected end of line or a # comment"
    }
  }
}
