// SharedOptions.swift — the option groups several commands share: where the program comes from
// (``ProgramSourceOptions``: FILE, or --seed/--length/--profile exactly as ``FailureReport`` prints them)
// and what it runs on (``AllocatorOptions``: seeded bugs, fault plans, checks). Each resolves its raw
// strings through ``CLISupport`` before the command prints anything, so bad input costs no work.

import AllocUnderTest
import ArgumentParser
import Harness
import Oracle

struct ProgramSourceOptions: ParsableArguments {
  @Argument(help: "Program file: the text form (first line '# alloc-check program v1') or binary fuzz bytes.")
  var file: String?
  @Option(help: "Seed of the generated program (decimal or 0x-hex); with FILE, the canary run seed.")
  var seed: String?
  @Option(help: "Ops in the generated program.")
  var length: String?
  @Option(help: "Size profile of the generated program (default: the seed picks one).")
  var profile: String?

  /// A program ready to run, and how to describe it.
  struct Resolved {
    var program: Program
    /// Seeds the canary patterns: --seed, else a file's `# seed:` comment, else 0.
    var runSeed: UInt64
    /// "generated: seed 0x1, length 300, profile mixed" or "crash.txt (text, 12 ops)".
    var origin: String
    var runSeedNote: String
  }

  func resolve(command: String) throws(CLIError) -> Resolved {
    try Self.resolve(file: file, seed: seed, length: length, profile: profile, command: command)
  }

  static func resolve(file: String?, seed: String?, length: String?, profile: String?,
                      command: String) throws(CLIError) -> Resolved {
    let seed = try seed.map { s throws(CLIError) in try CLISupport.parseSeed(s) }
    if let file {
      guard length == nil, profile == nil else {
        throw .usage("\(command): --length and --profile generate a program; give them without FILE")
      }
      let loaded = try ProgramFiles.loadProgram(file)
      let kind = loaded.kind == .text ? "text" : "binary, decoded"
      let runSeed = seed ?? loaded.seedComment ?? 0
      let note = seed != nil ? "--seed" : loaded.seedComment != nil ? "the file's '# seed:' comment" : "default"
      return Resolved(program: loaded.program, runSeed: runSeed, origin: "\(file) (\(kind), \(loaded.program.ops.count) ops)",
                      runSeedNote: note)
    }
    guard let seed, let length else {
      throw .usage("\(command): give a program FILE, or --seed S and --length L to generate one")
    }
    let count = try CLISupport.parseCount(length, option: "--length")
    let profile = try profile.map { p throws(CLIError) in try CLISupport.parseProfile(p) }
    let program = ProgramGenerator(length: count, profile: profile).generate(seed: seed)
    return Resolved(program: program, runSeed: seed,
                    origin: "generated: seed \(hex(seed)), length \(count), profile \(profile.map { "\($0)" } ?? "picked by the seed")",
                    runSeedNote: "the program seed")
  }
}

struct AllocatorOptions: ParsableArguments {
  @Option(name: .customLong("bug"), help: "Switch on a seeded pymalloc bug (repeatable; see alloc-check bugs).")
  var bugs: [String] = []
  @Option(help: "Fault plan for arena mmaps: never, always, nth:K, every:N (errno ENOMEM).")
  var arenaFaults: String = "never"
  @Option(help: "Fault plan for the raw allocator (requests of 0 or > 512 bytes): never, always, nth:K, every:N.")
  var rawFaults: String = "never"
  @Option(help: "Checks in force: all, none, or a comma list such as O4,O5,PM2 (see alloc-check rules).")
  var checks: String = "all"

  struct Resolved {
    var bugs: [PymallocBug]
    var arenaFaults: FaultPlan
    var rawFaults: FaultPlan
    var oracle: OracleConfig

    func makeAdapter() -> PymallocAdapter {
      PymallocAdapter(bugs: Set(bugs), arenaFaults: arenaFaults, rawFaults: rawFaults)
    }

    /// Rows for the parameter block.
    var rows: [(String, String)] {
      [("allocator", "pymalloc, bugs: " + (bugs.isEmpty ? "none" : bugs.map(\.rawValue).joined(separator: ", "))),
       ("faults", "arena mmaps \(CLISupport.spell(arenaFaults)), raw allocator \(CLISupport.spell(rawFaults))"),
       ("checks", CLISupport.spellChecks(oracle))]
    }

    /// The options that recreate this allocator and oracle, each with a leading space.
    var flags: String {
      var f = bugs.map { " --bug \($0.rawValue)" }.joined()
      if arenaFaults != .never { f += " --arena-faults \(CLISupport.spell(arenaFaults))" }
      if rawFaults != .never { f += " --raw-faults \(CLISupport.spell(rawFaults))" }
      if oracle != .full { f += " --checks \(CLISupport.spellChecks(oracle))" }
      return f
    }
  }

  func resolve() throws(CLIError) -> Resolved {
    var bugs: [PymallocBug] = []
    for name in self.bugs {
      let bug = try CLISupport.parseBug(name)
      if !bugs.contains(bug) { bugs.append(bug) }
    }
    return Resolved(bugs: bugs, arenaFaults: try CLISupport.parseFaultPlan(arenaFaults),
                    rawFaults: try CLISupport.parseFaultPlan(rawFaults), oracle: try CLISupport.parseChecks(checks))
  }
}

/// The text form of ops `range` of `program`, one `#i  op` line each, for listings of long programs.
func listing(_ program: Program, _ range: Range<Int>) -> String {
  let ids = program.definedIDs
  return range.map { "  #\($0)  \(ProgramText.renderLine(program.ops[$0], definedID: ids[$0]))\n" }.joined()
}

/// A violation in one line: rule, title, op (marked when it is a teardown free), detail.
func describe(_ v: Violation, programLength: Int) -> String {
  let title = RuleID(rawValue: v.rule)?.title
    ?? CLISupport.pymallocInvariants.first { $0.id == v.rule }.map { String($0.meaning.prefix { $0 != ":" }) }
    ?? "allocator invariant"
  let teardown = v.opIndex >= programLength ? " (teardown free)" : ""
  return "VIOLATION \(v.rule) (\(title)) at op \(v.opIndex)\(teardown): \(v.detail)"
}

/// `text` whole if it has at most `maxLines` lines, else its first and last `maxLines / 4` around a note.
func abbreviated(_ text: String, maxLines: Int, note: String) -> String {
  let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
  guard lines.count > maxLines else { return text }
  let keep = maxLines / 4
  return (lines.prefix(keep) + ["# … \(lines.count - 2 * keep) more lines (\(note)) …"] + lines.suffix(keep))
    .joined(separator: "\n")
}
