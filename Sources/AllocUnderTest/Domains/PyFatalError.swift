// PyFatalError.swift — a `Py_FatalError` of the debug hooks as a value: the function, the reason, the block
// dump that precedes it, and CPython's exact stderr bytes (`_Py_FatalErrorFunc` / `_Py_FatalErrorFormat` in
// Python/pylifecycle.c print "Fatal Python error: <func>: <msg>", then the runtime state). Tests capture it
// with a ``FatalHandler``; ``PyFatalError/printAndAbort(_:)``, the default, prints it and aborts (SIGABRT,
// exit status 134 in a shell, like CPython). Pure values plus that one side-effecting handler.

#if canImport(Glibc)
import Glibc
#endif

/// Receives every fatal error of the debug hooks. If it returns (capturing tests), the operation is
/// abandoned exactly where CPython would have aborted: nothing after that point happens (no fill, no free),
/// and malloc/calloc/realloc return nil.
public typealias FatalHandler = (PyFatalError) -> Void

/// What made the hooks stop.
public enum FatalReason: Sendable, Hashable {
  /// A failed `_PyMem_DebugCheckAddress` (or, model-only, a read it would make into unknown memory).
  case check(DebugCheckFailure)
  /// `_PyMem_DebugCheckGIL`: MEM/OBJ called without the GIL (3.14 free-threaded: without a thread state).
  case noGIL(message: String)
}

/// One fatal error of the debug hooks.
public struct PyFatalError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The C function that reports it: `_PyMem_DebugRawFree`/`_PyMem_DebugRawRealloc` for the checks (every
  /// domain), `_PyMem_DebugMalloc`/`Calloc`/`Realloc`/`Free` for the GIL check.
  public var function: String
  public var reason: FatalReason
  /// The `_PyObject_DebugDumpAddress` text printed before the fatal line (nil for the GIL check).
  public var dump: DebugDump?

  public init(function: String, reason: FatalReason, dump: DebugDump?) {
    self.function = function
    self.reason = reason
    self.dump = dump
  }

  /// The message after "<func>: " as CPython's bytes (the found id is printed raw with `%c`).
  public var messageBytes: [UInt8] {
    switch reason {
    case .check(.badID(let found, let expected)):
      Array("bad ID: Allocated using API '".utf8) + [found] + Array("', verified using API '".utf8) + [expected]
        + Array("'".utf8)
    case .check(.badLeadingPad): Array("bad leading pad byte".utf8)
    case .check(.badTrailingPad): Array("bad trailing pad byte".utf8)
    case .check(.wildRead(let wild)): Array("[model] \(wild)".utf8)
    case .noGIL(let message): Array(message.utf8)
    }
  }

  /// "Fatal Python error: <func>: <msg>" as CPython's bytes.
  public var fatalLineBytes: [UInt8] { Array("Fatal Python error: \(function): ".utf8) + messageBytes }

  /// The fatal line decoded like test_mem.py decodes stderr (bytes ≥ 0x80 become U+FFFD).
  public var fatalLine: String { asciiReplacing(fatalLineBytes) }

  /// True iff the model stopped where CPython would have read unknown memory (in the check or the dump):
  /// CPython's real output would then be unpredictable, possibly a SIGSEGV (status 139) instead.
  public var involvesWildRead: Bool {
    if case .check(.wildRead) = reason { return true }
    return dump?.wildRead != nil
  }

  /// Everything CPython writes to stderr, up to the runtime state line (the thread tracebacks that follow in
  /// CPython are not modelled). A dump cut short by a wild read says so on a line of its own.
  public var stderrBytes: [UInt8] {
    var out = dump?.bytes ?? []
    if let wild = dump?.wildRead { out += Array("[model: dump stopped: \(wild)]\n".utf8) }
    out += fatalLineBytes + Array("\nPython runtime state: initialized\n\n".utf8)
    return out
  }

  /// ``stderrBytes`` decoded like test_mem.py does.
  public var stderrText: String { asciiReplacing(stderrBytes) }

  public var description: String { fatalLine }

  /// The default handler: write ``stderrBytes`` to stderr and abort (SIGABRT), as `fatal_error_exit` does.
  public static func printAndAbort(_ error: PyFatalError) {
    let bytes = error.stderrBytes
    unsafe bytes.withUnsafeBytes { buffer in
      var offset = 0
      while offset < buffer.count {
        let written = unsafe write(2, buffer.baseAddress! + offset, buffer.count - offset)
        if written <= 0 { break }
        offset += written
      }
    }
    abort()
  }
}
