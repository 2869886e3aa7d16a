// CLISupport.swift — the pure, testable pieces of the `alloc-check` command line: parsing seeds, durations,
// fault plans, bug / profile / check names (``CLISupport``), telling a program text from fuzz bytes and
// loading either (``CLISupport/loadProgram(_:name:)``), and every bad-input message (``CLIError``).
// It lives in Harness because the test target cannot import an executable target; the CLI itself
// (Sources/AllocCheckCLI) only does I/O and printing. No state, so no `checkInvariants()`.

import AllocUnderTest
import Oracle

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bad input to the command line: one line each, printed after `alloc-check: ` with exit code 2.
public enum CLIError: Error, Equatable, CustomStringConvertible {
  case unreadableFile(path: String, reason: String)
  case unwritableFile(path: String, reason: String)
  case programText(path: String, ProgramTextError)
  case badSeed(String)
  case badDuration(String)
  case badFaultPlan(String)
  case badCount(option: String, String)
  case unknownBug(String)
  case unknownProfile(String)
  case unknownCheck(String)
  case unknownFamily(String)
  case usage(String)

  public var description: String {
    switch self {
    case .unreadableFile(let path, let reason): "cannot read \(path): \(reason)"
    case .unwritableFile(let path, let reason): "cannot write \(path): \(reason)"
    case .programText(let path, let error): "\(path): \(error)"
    case .badSeed(let text):
      "bad seed \"\(text)\"; expected decimal digits or 0x followed by hex digits, at most 64 bits"
    case .badDuration(let text):
      "bad duration \"\(text)\"; expected a whole number with a unit s, m or h (90s, 10m, 8h, 1h30m)"
    case .badFaultPlan(let text):
      "bad fault plan \"\(text)\"; expected never, always, nth:K or every:N (K, N ≥ 1; the errno is ENOMEM)"
    case .badCount(let option, let text): "bad value \"\(text)\" for \(option); expected a whole number ≥ 1"
    case .unknownBug(let name):
      "unknown bug \"\(name)\"; valid bugs: pymalloc: \(PymallocBug.allCases.map(\.rawValue).joined(separator: ", ")); "
        + "mimalloc (heaps family): \(MimallocBug.allCases.map(\.rawValue).joined(separator: ", ")); "
        + "domains (domains family): \(DomainBug.allCases.map(\.rawValue).joined(separator: ", "))"
    case .unknownFamily(let name):
      "unknown family \"\(name)\"; expected \(ProgramFamily.allCases.map(\.rawValue).joined(separator: " or "))"
    case .unknownProfile(let name):
      "unknown profile \"\(name)\"; valid profiles: \(CLISupport.profileNames.joined(separator: ", "))"
    case .unknownCheck(let id):
      "unknown check \"\(id)\"; expected all, none or a comma list of "
        + (RuleID.allCases.map(\.rawValue) + CLISupport.pymallocInvariants.map(\.id) + CLISupport.mimallocInvariants.map(\.id))
        .joined(separator: ", ")
    case .usage(let message): message
    }
  }
}

/// Which op family a program belongs to, and so which allocator runs it.
public enum ProgramFamily: String, CaseIterable, Sendable {
  /// malloc/calloc/realloc/free on the reference pymalloc.
  case pymalloc
  /// Logical threads and heaps on the reference mimalloc (issue 3).
  case heaps
  /// PyMem domains, debug hooks and misuse ops (issue 4).
  case domains

  /// The oracle that checks everything this family can break.
  public var fullOracle: OracleConfig {
    switch self {
    case .pymalloc: .full
    case .heaps: .heaps
    case .domains: .domains
    }
  }
}

/// A seeded bug of either reference allocator, by its command-line name.
public enum SeededBug: Hashable, Sendable {
  case pymalloc(PymallocBug)
  case mimalloc(MimallocBug)
  case domain(DomainBug)

  public var name: String {
    switch self {
    case .pymalloc(let b): b.rawValue
    case .mimalloc(let b): b.rawValue
    case .domain(let b): b.rawValue
    }
  }
  /// The check that catches the bug (a domain bug: the D rule that catches it from programs).
  public var caughtBy: String {
    switch self {
    case .pymalloc(let b): b.caughtBy
    case .mimalloc(let b): b.caughtBy
    case .domain(let b): CLISupport.domainRule(of: b) ?? b.caughtBy
    }
  }
  public var family: ProgramFamily {
    switch self {
    case .pymalloc: .pymalloc
    case .mimalloc: .heaps
    case .domain: .domains
    }
  }
}

public enum CLISupport {
  /// `pymalloc`, `heaps` or `domains`.
  public static func parseFamily(_ name: String) throws(CLIError) -> ProgramFamily {
    guard let f = ProgramFamily(rawValue: name) else { throw .unknownFamily(name) }
    return f
  }

  /// A pymalloc or mimalloc bug name.
  public static func parseAnyBug(_ name: String) throws(CLIError) -> SeededBug {
    if let b = PymallocBug(rawValue: name) { return .pymalloc(b) }
    if let b = MimallocBug(rawValue: name) { return .mimalloc(b) }
    if let b = DomainBug(rawValue: name) { return .domain(b) }
    throw .unknownBug(name)
  }

  /// The invariant ids `Mimalloc.checkInvariants()` reports (Mimalloc+Invariants.swift).
  public static let mimallocInvariants: [(id: String, meaning: String)] = [
    ("MI1", "page counts: capacity == used + |free| + |localFree|; used ≤ capacity ≤ reserved == area / block size"),
    ("MI2", "free lists: blocks inside their page at block boundaries below capacity; lists acyclic and disjoint"),
    ("MI3", "delayed-free transitions: every recorded transition is one mimalloc's state machine allows"),
    ("MI4", "notification: no page left delayed-freeing; no-delayed-free iff a block is on the heap list; xheap nil iff never"),
    ("MI6", "queues: in_full iff the full queue, page counts match, a QSBR-parked page is never in the full queue"),
    ("MI7", "segments: spans tile the segment, used/abandoned counts, thread id 0 iff abandoned, slice table"),
  ]

  // MARK: Numbers

  /// A seed in decimal or `0x` hex (`0X` too); the whole 64-bit range.
  public static func parseSeed(_ text: String) throws(CLIError) -> UInt64 {
    let t = text.lowercased()
    let hex = t.hasPrefix("0x")
    let digits = hex ? t.dropFirst(2) : t[...]
    // UInt64.init(_:radix:) also takes a sign ("+5", "-0"); a seed is digits only.
    guard digits.allSatisfy({ $0.isHexDigit && (hex || $0.isNumber) }),
      let value = UInt64(digits, radix: hex ? 16 : 10)
    else { throw .badSeed(text) }
    return value
  }

  /// A whole number ≥ 1 (program counts, lengths, attempt budgets).
  public static func parseCount(_ text: String, option: String) throws(CLIError) -> Int {
    guard let n = Int(text), n >= 1 else { throw .badCount(option: option, text) }
    return n
  }

  /// `90s`, `10m`, `8h` or a sum of them written largest first (`1h30m`), as whole seconds. Zero is
  /// rejected: a soak that runs for no time is a typo.
  public static func parseDuration(_ text: String) throws(CLIError) -> Duration {
    var seconds: Int64 = 0
    var digits = ""
    var lastUnit = Int64.max
    for ch in text {
      if ch.isASCII && ch.isNumber { digits.append(ch); continue }
      let unit: Int64
      switch ch {
      case "s": unit = 1
      case "m": unit = 60
      case "h": unit = 3600
      default: throw .badDuration(text)
      }
      guard let n = Int64(digits), unit < lastUnit else { throw .badDuration(text) }
      let (product, o1) = n.multipliedReportingOverflow(by: unit)
      let (sum, o2) = seconds.addingReportingOverflow(product)
      guard !o1, !o2 else { throw .badDuration(text) }
      seconds = sum
      digits = ""
      lastUnit = unit
    }
    guard digits.isEmpty, lastUnit != .max, seconds > 0 else { throw .badDuration(text) }
    return .seconds(seconds)
  }

  /// `1h30m`-style spelling of whole seconds (the inverse of ``parseDuration(_:)``).
  public static func spell(_ duration: Duration) -> String {
    let s = duration.components.seconds
    var out = ""
    if s >= 3600 { out += "\(s / 3600)h" }
    if s % 3600 >= 60 { out += "\(s % 3600 / 60)m" }
    if s % 60 != 0 || s == 0 { out += "\(s % 60)s" }
    return out
  }

  // MARK: Fault plans

  /// `never`, `always`, `nth:K` (only call K fails) or `every:N` (calls N, 2N, … fail); errno ENOMEM,
  /// the one error the allocators turn into a NULL result.
  public static func parseFaultPlan(_ text: String) throws(CLIError) -> FaultPlan {
    switch text {
    case "never": return .never
    case "always": return .always(errno: ENOMEM)
    default: break
    }
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2, let n = Int(parts[1]), n >= 1 else { throw .badFaultPlan(text) }
    switch parts[0] {
    case "nth": return .nth(n, errno: ENOMEM)
    case "every": return .everyNth(n, errno: ENOMEM)
    default: throw .badFaultPlan(text)
    }
  }

  /// The command-line spelling of `plan` (errno omitted: the command line only makes ENOMEM plans).
  public static func spell(_ plan: FaultPlan) -> String {
    switch plan {
    case .never: "never"
    case .always: "always"
    case .nth(let n, _): "nth:\(n)"
    case .everyNth(let n, _): "every:\(n)"
    }
  }

  // MARK: Names

  public static func parseBug(_ name: String) throws(CLIError) -> PymallocBug {
    guard let bug = PymallocBug(rawValue: name) else { throw .unknownBug(name) }
    return bug
  }

  /// Profile names as ``FailureReport/replayCommand(_:bug:)`` prints them (`arenaChurn`).
  public static var profileNames: [String] { ProgramGenerator.SizeProfile.allCases.map { "\($0)" } }

  /// Profiles of the domains family (`clean`, `misuse`, `edges`).
  public static func parseDomainsProfile(_ name: String) throws(CLIError) -> DomainsProgramGenerator.Profile {
    guard let p = DomainsProgramGenerator.Profile.allCases.first(where: { "\($0)" == name }) else {
      throw .usage("unknown domains-family profile \"\(name)\"; valid profiles: "
        + DomainsProgramGenerator.Profile.allCases.map { "\($0)" }.joined(separator: ", "))
    }
    return p
  }

  /// Profiles of the heaps family (`crossThread`, `fullPages`, …).
  public static func parseHeapsProfile(_ name: String) throws(CLIError) -> HeapsProgramGenerator.Profile {
    guard let p = HeapsProgramGenerator.Profile.allCases.first(where: { "\($0)" == name }) else {
      throw .usage("unknown heaps-family profile \"\(name)\"; valid profiles: "
        + HeapsProgramGenerator.Profile.allCases.map { "\($0)" }.joined(separator: ", "))
    }
    return p
  }

  public static func parseProfile(_ name: String) throws(CLIError) -> ProgramGenerator.SizeProfile {
    guard let p = ProgramGenerator.SizeProfile.allCases.first(where: { "\($0)" == name }) else {
      throw .unknownProfile(name)
    }
    return p
  }

  /// The invariant ids `Pymalloc.checkInvariants()` reports, with one line on what each walker checks
  /// (summarised from Pymalloc+Invariants.swift).
  public static let pymallocInvariants: [(id: String, meaning: String)] = [
    ("PM2", "pool internals: size index, maxnextoffset and arena index are right; |free list| == carved − count"),
    ("PM3", "pool lists: usedpools[c] holds exactly the class-c pools with 0 < count and a free block; "
      + "a pool is on its arena's freepools iff count == 0"),
    ("PM4", "arena lists: unused descriptors iff no memory; usable_arenas is exactly the arenas with free pools, "
      + "sorted by nfreepools, with nfp2lasta right; nfreepools == cached + uncarved"),
    ("PM5", "free-arena rule: at most one arena is wholly free, and it is the tail of usable_arenas"),
    ("PM6", "radix tree: the arena map's non-zero entries are exactly those the live arenas imply"),
    ("PM7", "counters: narenas_currently_allocated == live arenas; current ≤ highwater ≤ arenas ever allocated"),
  ]

  /// `all`, `none`, or a comma list of oracle rule ids (`O4`) and invariant ids (`PM2`). Listed invariants
  /// run after every op; with none listed the invariant walker is off.
  public static func parseChecks(_ text: String) throws(CLIError) -> OracleConfig {
    switch text {
    case "all": return .full
    case "none": return OracleConfig(rules: [], invariants: [], invariantsEvery: 0)
    default: break
    }
    var rules: Set<RuleID> = []
    var invariants: Set<String> = []
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
      let id = String(item.filter { $0 != " " }).uppercased()
      if let rule = RuleID(rawValue: id) {
        rules.insert(rule)
      } else if (pymallocInvariants + mimallocInvariants).contains(where: { $0.id == id }) {
        invariants.insert(id)
      } else {
        throw .unknownCheck(String(item))
      }
    }
    return OracleConfig(rules: rules, invariants: invariants, invariantsEvery: invariants.isEmpty ? 0 : 1)
  }

  /// `all`, `none` or the sorted id list of `config` (rules by number, then invariants).
  public static func spellChecks(_ config: OracleConfig) -> String {
    if config == .full { return "all" }
    let rules = config.rules.sorted { Int($0.rawValue.dropFirst())! < Int($1.rawValue.dropFirst())! }.map(\.rawValue)
    let invariants = config.invariantsEvery > 0 ? (config.invariants?.sorted() ?? ["PM*"]) : []
    let ids = rules + invariants
    return ids.isEmpty ? "none" : ids.joined(separator: ",")
  }

  // MARK: Program files

  /// What a program file holds.
  public enum ProgramFileKind: Equatable, Sendable {
    /// The versioned text form (``ProgramText``).
    case text
    /// "pymalloc family v1" bytes for ``OpDecoder/decodePymalloc(_:maxOps:)``.
    case binary
  }

  /// Text iff the first non-blank line starts with `# alloc-check program` (any version: the parser then
  /// names a wrong one), or the file is printable ASCII that calls an op, such as a program whose header was
  /// forgotten (the parser then says so with a line number, instead of the bytes decoding to nonsense).
  public static func programFileKind(_ bytes: [UInt8]) -> ProgramFileKind {
    let text = String(decoding: bytes, as: UTF8.self)
    let first = text.split(whereSeparator: \.isNewline).first { !ProgramText.trimmed($0).isEmpty }
    if let first, ProgramText.trimmed(first).hasPrefix("# alloc-check program") { return .text }
    let printable = bytes.allSatisfy { (0x20..<0x7F).contains($0) || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
    guard printable, !bytes.isEmpty else { return .binary }
    return ["malloc(", "calloc(", "realloc(", "free(", "Malloc(", "Free(", "configure("].contains { text.contains($0) } ? .text : .binary
  }

  /// A program read from a file.
  public struct LoadedProgram: Sendable {
    public var program: Program
    public var kind: ProgramFileKind
    /// The seed named by a `# seed: 0x…` comment (``FailureReport/programText(_:maxLines:)`` writes one): the run
    /// seed the program was found and shrunk with, so its canaries replay exactly.
    public var seedComment: UInt64?
    /// The family: a text's `# family:` line (heaps whenever it uses a thread or heap op), else the one asked for.
    public var family: ProgramFamily = .pymalloc
  }

  /// Parses `bytes` (a file called `name`) as a text program or decodes it as binary (of `family`, which a
  /// text's own `# family:` line overrides; see ``LoadedProgram/family``).
  public static func loadProgram(_ bytes: [UInt8], name: String, family: ProgramFamily = .pymalloc) throws(CLIError) -> LoadedProgram {
    switch programFileKind(bytes) {
    case .binary:
      let program = decode(bytes, family: family)
      return LoadedProgram(program: program, kind: .binary, seedComment: nil, family: family)
    case .text:
      let document: ProgramText.Document
      do {
        document = try ProgramText.parseDocument(String(decoding: bytes, as: UTF8.self))
      } catch {
        throw .programText(path: name, error)
      }
      let seed = document.comments.lazy.compactMap { c -> UInt64? in
        guard c.hasPrefix("seed:") else { return nil }
        return try? parseSeed(String(ProgramText.trimmed(c.dropFirst(5))))
      }.first
      var fileFamily = document.family.flatMap(ProgramFamily.init(rawValue:)) ?? family
      if !document.program.isPymallocFamily { fileFamily = document.program.isDomainsFamily ? .domains : .heaps }
      return LoadedProgram(program: document.program, kind: .text, seedComment: seed, family: fileFamily)
    }
  }

  /// `bytes` decoded with `family`'s binary format.
  public static func decode(_ bytes: [UInt8], family: ProgramFamily) -> Program {
    switch family {
    case .pymalloc: OpDecoder.decodePymalloc(bytes)
    case .heaps: OpDecoder.decodeHeaps(bytes)
    case .domains: OpDecoder.decodeDomains(bytes)
    }
  }

  /// The canonical bytes of a valid `program` of `family`.
  public static func encode(_ program: Program, family: ProgramFamily) -> [UInt8] {
    switch family {
    case .pymalloc: OpEncoder.encodePymalloc(program)
    case .heaps: OpEncoder.encodeHeaps(program)
    case .domains: OpEncoder.encodeDomains(program)
    }
  }

  /// The largest number of blocks live at once: ``OpEncoder/encodePymalloc(_:)`` can address at most 0xFFFF.
  public static func maxLiveBlocks(_ program: Program) -> Int {
    var live = 0
    var most = 0
    for op in program.ops {
      if op.usedRef != nil { live -= 1 }
      if op.isAllocating { live += 1 }
      most = max(most, live)
    }
    return most
  }
}
