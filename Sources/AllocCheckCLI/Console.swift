// Console.swift — output for the command line: results to stdout, progress and errors to stderr, both
// unbuffered (so soak progress and a Ctrl-C summary appear at once and in order), plus the number
// formats every command shares. Files are in ProgramFiles.swift.

import Foundation
import Harness

enum Console {
  /// One or more lines to stdout.
  static func out(_ text: String = "") { write(FileHandle.standardOutput, text) }
  /// One or more lines to stderr (progress, warnings).
  static func err(_ text: String) { write(FileHandle.standardError, text) }

  /// Bad input: `alloc-check: <message>` on stderr, exit code 2.
  static func fail(_ message: String) -> Never {
    err("alloc-check: \(message)")
    exit(2)
  }

  private static func write(_ handle: FileHandle, _ text: String) {
    handle.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
  }

  /// `key:` padded to a column, then the value: the parameter block every command prints first.
  static func parameters(_ command: String, _ rows: [(String, String)]) {
    let width = (rows.map(\.0.count).max() ?? 0) + 2
    var text = "alloc-check \(command)\n"
    for (key, value) in rows { text += "  " + (key + ":").padding(toLength: width, withPad: " ", startingAt: 0) + value + "\n" }
    out(text)
  }
}

/// `n / seconds`, rounded, or 0 for a zero interval.
func rate(_ n: Int, _ d: Duration) -> Int { d.seconds > 0 ? Int((Double(n) / d.seconds).rounded()) : 0 }

func hex(_ v: UInt64) -> String { FailureReport.hex(v) }
