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
  @Option(help: "Program family: pymalloc (default), heaps (logical threads and heaps on the reference mimalloc) or domains (PyMem domains, debug hooks and misuse). A text file's '# family:' line sets it.")
  var family: String?

  /// A program ready to run, and how to describe it.
  struct Resolved {
    var program: Program
    /// Seeds the canary patterns: --seed, else a file's `# seed:` comment, else 0.
    var runSeed: UInt64
    /// "generated: seed 0x1, length 300, profile mixed" or "crash.txt (text, 12 ops)".
    var origin: String
    var runSeedNote: String
    var family: ProgramFamily
  }

  func resolve(command: String) throws(CLIError) -> Resolved {
    try Self.resolve(file: file, seed: seed, length: length, profile: profile, family: family, command: command)
  }

  static func resolve(file: String?, seed: String?, length: String?, profile: String?, family: String? = nil,
                      command: String) throws(CLIError) -> Resolved {
    let seed = try seed.map { s throws(CLIError) in try CLISupport.parseSeed(s) }
    let asked = try family.map { f throws(CLIError) in try CLISupport.parseFamily(f) }
    if let file {
      guard length == nil, profile == nil else {
        throw .usage("\(command): --length and --profile generate a program; give them without FILE")
      }
      let loaded = try CLISupport.loadProgram(ProgramFiles.read(file), name: file, family: asked ?? .pymalloc)
      if let asked, loaded.family != asked {
        throw .usage("\(command): \(file) is a \(loaded.family.rawValue)-family program, not \(asked.rawValue)")
      }
      let kind = loaded.kind == .text ? "text" : "binary, decoded"
      let runSeed = seed ?? loaded.seedComment ?? 0
      let note = seed != nil ? "--seed" : loaded.seedComment != nil ? "the file's '# seed:' comment" : "default"
      return Resolved(program: loaded.program, runSeed: runSeed,
                      origin: "\(file) (\(kind), \(loaded.family.rawValue) family, \(loaded.program.ops.count) ops)",
                      runSeedNote: note, family: loaded.family)
    }
    guard let seed, let length else {
      throw .usage("\(command): give a program FILE, or --seed S and --length L to generate one")
    }
    let count = try CLISupport.parseCount(length, option: "--length")
    let program: Program
    let profileName: String
    switch asked ?? .pymalloc {
    case .pymalloc:
      let p = try profile.map { p throws(CLIError) in try CLISupport.parseProfile(p) }
      program = ProgramGenerator(length: count, profile: p).generate(seed: seed)
      profileName = p.map { "\($0)" } ?? "picked by the seed"
    case .heaps:
      let p = try profile.map { p throws(CLIError) in try CLISupport.parseHeapsProfile(p) }
      program = HeapsProgramGenerator(length: count, profile: p).generate(seed: seed)
      profileName = p.map { "\($0)" } ?? "picked by the seed"
    case .domains:
      let p = try profile.map { p throws(CLIError) in try CLISupport.parseDomainsProfile(p) }
      program = DomainsProgramGenerator(length: count, profile: p).generate(seed: seed)
      profileName = p.map { "\($0)" } ?? "picked by the seed"
    }
    return Resolved(program: program, runSeed: seed,
                    origin: "generated: \((asked ?? .pymalloc).rawValue) family, seed \(hex(seed)), length \(count), profile \(profileName)",
                    runSeedNote: "the program seed", family: asked ?? .pymalloc)
  }
}

struct AllocatorOptions: ParsableArguments {
  @Option(name: .customLong("bug"), help: "Switch on a seeded pymalloc, mimalloc or domain bug (repeatable; see alloc-check bugs).")
  var bugs: [String] = []
  @Option(help: "Fault plan for arena mmaps: never, always, nth:K, every:N (errno ENOMEM).")
  var arenaFaults: String = "never"
  @Option(help: "Fault plan for the raw allocator (requests of 0 or > 512 bytes): never, always, nth:K, every:N.")
  var rawFaults: String = "never"
  @Option(help: "Checks in force: all, none, or a comma list such as O4,O5,PM2 (see alloc-check rules).")
  var checks: String = "all"
  @Option(help: "Allocator under test: reference (the Swift models, default), cpython (CPython 3.11's pymalloc), cpython-debug (its debug hooks; domains family), mimalloc (libmimalloc 2.0.9; heaps family), glibc or jemalloc (pymalloc family, generic rules).")
  var allocator: String = "reference"

  struct Resolved {
    var peer: PeerKind = .reference
    var bugs: [SeededBug]
    var arenaFaults: FaultPlan
    var rawFaults: FaultPlan
    var oracle: OracleConfig
    var family: ProgramFamily = .pymalloc

    /// pymalloc's seeded bugs (the heaps family has none of them).
    var pymallocBugs: [PymallocBug] { bugs.compactMap { if case .pymalloc(let b) = $0 { b } else { nil } } }
    var mimallocBugs: [MimallocBug] { bugs.compactMap { if case .mimalloc(let b) = $0 { b } else { nil } } }
    var domainBugs: [DomainBug] { bugs.compactMap { if case .domain(let b) = $0 { b } else { nil } } }

    func makeAdapter() -> PymallocAdapter {
      PymallocAdapter(bugs: Set(pymallocBugs), arenaFaults: arenaFaults, rawFaults: rawFaults)
    }

    /// The allocator of this run's family: the reference's (pymalloc, mimalloc, domains), or the peer's.
    /// A peer that cannot be loaded skips the command (exit 0) by hand and fails it under CI=true.
    func makeAdapter(for family: ProgramFamily) throws -> AllocatorAdapter {
      if peer != .reference {
        return try PeerCheck.require { () throws(PeerUnavailable) in
          try PeerAdapters.make(peer, family: family, arenaFaults: arenaFaults, rawFaults: rawFaults)
        }
      }
      return makeReferenceAdapter(for: family)
    }

    func makeReferenceAdapter(for family: ProgramFamily) -> AllocatorAdapter {
      switch family {
      case .pymalloc: makeAdapter()
      case .heaps: MimallocAdapter(bugs: Set(mimallocBugs), faults: arenaFaults)
      case .domains: DomainsAdapter(bugs: Set(domainBugs))
      }
    }

    /// The same options for a run of `family`: bugs of the other allocator are refused, and "all" checks
    /// mean that family's full oracle.
    func adapted(to family: ProgramFamily) throws(CLIError) -> Resolved {
      if let wrong = bugs.first(where: { $0.family != family }) {
        let owner = switch wrong.family {
        case .pymalloc: "pymalloc"
        case .heaps: "mimalloc (heaps family)"
        case .domains: "domain (domains family)"
        }
        throw .usage("--bug \(wrong.name) is a \(owner) bug; this is a \(family.rawValue)-family program")
      }
      if peer != .reference, !bugs.isEmpty {
        throw .usage("--bug seeds a bug into the reference allocators; --allocator \(peer.rawValue) runs the real one")
      }
      guard PeerAdapters.families(of: peer).contains(family) else {
        throw .usage("--allocator \(peer.rawValue) runs " + PeerAdapters.families(of: peer).map { "\($0.rawValue)-family" }.joined(separator: " and ")
          + " programs; this is a \(family.rawValue)-family program")
      }
      var r = self
      r.family = family
      if family == .heaps {
        if oracle == .full { r.oracle = .heaps } else { r.oracle.geometry = .mimalloc }
      }
      if family == .domains, oracle == .full { r.oracle = .domains }
      r.oracle = PeerAdapters.oracle(for: peer, family: family, base: r.oracle)
      return r
    }

    /// Rows for the parameter block.
    var rows: [(String, String)] {
      let reference = family == .heaps ? "mimalloc (heaps family)" : family == .domains ? "PyMem domains (domains family)" : "pymalloc"
      let name = peer == .reference ? reference : "\(peer.rawValue) (real, \(peer.libraryFile ?? "")), \(family.rawValue) family"
      return [("allocator", "\(name), bugs: " + (bugs.isEmpty ? "none" : bugs.map(\.name).joined(separator: ", "))),
              family == .domains ? ("faults", "none (serial numbers on, 16-block C-heap quarantine)") :
              family == .heaps ? ("faults", "segment mmaps \(CLISupport.spell(arenaFaults))")
                : ("faults", "arena mmaps \(CLISupport.spell(arenaFaults)), raw allocator \(CLISupport.spell(rawFaults))"),
              ("checks", oracle == PeerAdapters.oracle(for: peer, family: family, base: family.fullOracle) ? "all\(peer == .reference ? "" : " the peer can answer")" : CLISupport.spellChecks(oracle))]
    }

    /// The options that recreate this allocator and oracle, each with a leading space.
    var flags: String {
      var f = peer == .reference ? "" : " --allocator \(peer.rawValue)"
      f += bugs.map { " --bug \($0.name)" }.joined()
      if arenaFaults != .never { f += " --arena-faults \(CLISupport.spell(arenaFaults))" }
      if rawFaults != .never { f += " --raw-faults \(CLISupport.spell(rawFaults))" }
      if oracle != PeerAdapters.oracle(for: peer, family: family, base: family.fullOracle) { f += " --checks \(CLISupport.spellChecks(oracle))" }
      return f
    }
  }

  func resolve() throws(CLIError) -> Resolved {
    var bugs: [SeededBug] = []
    for name in self.bugs {
      let bug = try CLISupport.parseAnyBug(name)
      if !bugs.contains(bug) { bugs.append(bug) }
    }
    guard let peer = PeerKind(rawValue: allocator) else {
      throw .usage("unknown allocator \"\(allocator)\"; expected " + PeerKind.allCases.map(\.rawValue).joined(separator: ", "))
    }
    return Resolved(peer: peer, bugs: bugs, arenaFaults: try CLISupport.parseFaultPlan(arenaFaults),
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
    ?? (CLISupport.pymallocInvariants + CLISupport.mimallocInvariants).first { $0.id == v.rule }.map { String($0.meaning.prefix { $0 != ":" }) }
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
