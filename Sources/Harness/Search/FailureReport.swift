// FailureReport.swift — how a failure is shown to a person: the rule and op, the seed, the commands that
// replay and minimize it, the shrunk program in the text form, and the end of its trace (style R36).

import Oracle

public enum FailureReport {
  /// The command that regenerates and reruns exactly this program.
  public static func replayCommand(_ f: Finding, bug: String? = nil) -> String {
    var cmd = "swift run -c release alloc-check run --seed \(hex(f.seed)) --length \(f.length)"
    if f.family != "pymalloc" { cmd += " --family \(f.family)" }
    if let p = f.profile { cmd += " --profile \(p)" }
    if let bug { cmd += " --bug \(bug)" }
    return cmd
  }

  /// A multi-line report; `savedTo` names the file holding the shrunk program, if it was written.
  public static func render(_ f: Finding, bug: String? = nil, savedTo: String? = nil, traceLines: Int = 12,
                            maxProgramLines: Int = 120) -> String {
    var out = "VIOLATION \(f.shrunkViolation.rule) (\(RuleID(rawValue: f.shrunkViolation.rule)?.title ?? "allocator invariant"))\n"
    out += "  at op \(f.violation.opIndex) of the generated program: \(f.violation.detail)\n"
    out += "  seed: \(hex(f.seed))  length: \(f.length)\n"
    out += "  replay:   \(replayCommand(f, bug: bug))\n"
    if let savedTo {
      out += "  shrunk:   swift run -c release alloc-check run \(savedTo)\(bug.map { " --bug \($0)" } ?? "")\n"
      out += "  minimize: swift run -c release alloc-check shrink \(savedTo)\(bug.map { " --bug \($0)" } ?? "")\n"
    }
    out += "shrunk from \(f.program.ops.count) to \(f.shrunk.ops.count) ops in \(f.shrinkAttempts) attempts; "
    out += "it fails at op \(f.shrunkViolation.opIndex): \(f.shrunkViolation.detail)\n"
    out += programText(f, maxLines: maxProgramLines) + "\n"
    out += "trace (last \(traceLines) ops):\n" + renderTrace(f.trace.suffix(traceLines))
    return out
  }

  /// The shrunk program in the text form, with the seed and the rule as comments. With `maxLines`, a
  /// longer program keeps its first and last lines around a note (the saved file always has all of it).
  public static func programText(_ f: Finding, maxLines: Int = .max) -> String {
    let text = ProgramText.render(f.shrunk, family: f.family, comments: [
      "seed: \(hex(f.seed))",
      "violates: \(f.shrunkViolation.rule) at op \(f.shrunkViolation.opIndex): \(f.shrunkViolation.detail)",
    ])
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    guard lines.count > maxLines else { return text }
    let half = maxLines / 2
    return (lines.prefix(half) + ["# … \(lines.count - maxLines) more lines (the replay command regenerates them) …"]
      + lines.suffix(half)).joined(separator: "\n")
  }

  public static func renderTrace(_ lines: some Sequence<TraceLine>) -> String {
    lines.map { "  #\($0.opIndex)  \($0.text.padding(to: 34))\($0.result)\n" }.joined()
  }

  public static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
}

extension String {
  func padding(to n: Int) -> String { count >= n ? self + " " : self + String(repeating: " ", count: n - count) }
}
