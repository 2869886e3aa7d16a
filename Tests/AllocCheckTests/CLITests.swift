// CLITests.swift — the pure pieces of the `alloc-check` command line (``CLISupport``, ``CLIError``): seed,
// duration, fault-plan, name and check parsing, telling a program text from fuzz bytes, loading either,
// the one-line error texts, and the seed equation that lets `soak` number its programs like one hunt.
// The binary itself is never spawned here.

import AllocUnderTest
import Harness
import Oracle
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The error `body` throws, or nil.
private func error<T>(_ body: () throws(CLIError) -> T) -> CLIError? {
  do {
    _ = try body()
    return nil
  } catch {
    return error
  }
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("Command line")
struct CLITests {
  @Test("seeds are decimal or 0x-hex and cover all 64 bits")
  func seeds() throws {
    #expect(try CLISupport.parseSeed("0") == 0)
    #expect(try CLISupport.parseSeed("12345") == 12345)
    #expect(try CLISupport.parseSeed("0x1f") == 31)
    #expect(try CLISupport.parseSeed("0XFF") == 255)
    #expect(try CLISupport.parseSeed("18446744073709551615") == .max)
    #expect(try CLISupport.parseSeed("0xffffffffffffffff") == .max)
    #expect(try CLISupport.parseSeed(FailureReport.hex(0xdead_beef_0123)) == 0xdead_beef_0123)
    for bad in ["", "0x", "abc", "12a", "+5", "-0", "0x-1", "0x+1", "18446744073709551616", "0x1_0000_0000_0000_0000", " 1"] {
      #expect(error { () throws(CLIError) in try CLISupport.parseSeed(bad) } == .badSeed(bad), "\(bad)")
    }
  }

  @Test("durations take s, m and h, summed largest unit first")
  func durations() throws {
    #expect(try CLISupport.parseDuration("90s") == .seconds(90))
    #expect(try CLISupport.parseDuration("10m") == .seconds(600))
    #expect(try CLISupport.parseDuration("8h") == .seconds(28_800))
    #expect(try CLISupport.parseDuration("1h30m") == .seconds(5400))
    #expect(try CLISupport.parseDuration("1h0m5s") == .seconds(3605))
    for bad in ["", "10", "0s", "0h0m", "s", "10x", "1.5h", "30m1h", "1h1h", "-5s", "5 s", "99999999999999999999h"] {
      #expect(error { () throws(CLIError) in try CLISupport.parseDuration(bad) } == .badDuration(bad), "\(bad)")
    }
  }

  @Test("spelled durations parse back to themselves")
  func durationSpelling() throws {
    #expect(CLISupport.spell(.seconds(5400)) == "1h30m")
    #expect(CLISupport.spell(.seconds(59)) == "59s")
    #expect(CLISupport.spell(.seconds(0)) == "0s")
    for s: Int64 in [1, 59, 60, 61, 3599, 3600, 3661, 86_400, 100_000] {
      #expect(try CLISupport.parseDuration(CLISupport.spell(.seconds(s))) == .seconds(s))
    }
  }

  @Test("fault plans are never, always, nth:K and every:N, all with ENOMEM")
  func faultPlans() throws {
    #expect(try CLISupport.parseFaultPlan("never") == .never)
    #expect(try CLISupport.parseFaultPlan("always") == .always(errno: ENOMEM))
    #expect(try CLISupport.parseFaultPlan("nth:3") == .nth(3, errno: ENOMEM))
    #expect(try CLISupport.parseFaultPlan("every:2") == .everyNth(2, errno: ENOMEM))
    for bad in ["", "Never", "nth", "nth:", "nth:0", "every:-1", "every:x", "nth:3:4", "sometimes", "first:1", "nth: 3"] {
      #expect(error { () throws(CLIError) in try CLISupport.parseFaultPlan(bad) } == .badFaultPlan(bad), "\(bad)")
    }
    for text in ["never", "always", "nth:1", "nth:17", "every:1", "every:64"] {
      #expect(CLISupport.spell(try CLISupport.parseFaultPlan(text)) == text)
    }
  }

  @Test("every seeded bug parses by name; an unknown one lists them all")
  func bugNames() throws {
    for bug in PymallocBug.allCases { #expect(try CLISupport.parseBug(bug.rawValue) == bug) }
    let e = error { () throws(CLIError) in try CLISupport.parseBug("callocSkipZeroing") }
    #expect(e == .unknownBug("callocSkipZeroing"))
    let text = e?.description ?? ""
    #expect(text.hasPrefix("unknown bug \"callocSkipZeroing\"; valid bugs: pymalloc: misalignTinyBlocks, "))
    for bug in PymallocBug.allCases { #expect(text.contains(bug.rawValue)) }
  }

  @Test("profiles parse as FailureReport's replay command spells them")
  func profiles() throws {
    for profile in ProgramGenerator.SizeProfile.allCases {
      #expect(try CLISupport.parseProfile("\(profile)") == profile)
    }
    #expect(try CLISupport.parseProfile("arenaChurn") == .arenaChurn)
    #expect(error { () throws(CLIError) in try CLISupport.parseProfile("churn") } == .unknownProfile("churn"))
  }

  @Test("checks are all, none, or a list of rule and invariant ids")
  func checks() throws {
    #expect(try CLISupport.parseChecks("all") == .full)
    let none = try CLISupport.parseChecks("none")
    #expect(none.rules.isEmpty && !none.anyInvariants)
    let some = try CLISupport.parseChecks("O4,o5, PM2")
    #expect(some.rules == [.canary, .callocZeroed])
    #expect(some.invariants == ["PM2"] && some.invariantsEvery == 1)
    let rulesOnly = try CLISupport.parseChecks("O13")
    #expect(rulesOnly.rules == [.ownershipKept] && !rulesOnly.anyInvariants)
    #expect(CLISupport.spellChecks(try CLISupport.parseChecks("PM3,O10,O2")) == "O2,O10,PM3")
    #expect(CLISupport.spellChecks(.full) == "all")
    #expect(CLISupport.spellChecks(none) == "none")
    for text in ["all", "none", "O1,O13,PM7", "PM5"] {
      let config = try CLISupport.parseChecks(text)
      #expect(try CLISupport.parseChecks(CLISupport.spellChecks(config)) == config)
    }
    for bad in ["O14", "PM1", "O4,", "", "every"] {
      #expect(error { () throws(CLIError) in try CLISupport.parseChecks(bad) } != nil, "\(bad)")
    }
    #expect(error { () throws(CLIError) in try CLISupport.parseChecks("O4,PM9") } == .unknownCheck("PM9"))
  }

  @Test("a program text is told from fuzz bytes by its header, or by op calls when the header is missing")
  func fileKinds() {
    #expect(CLISupport.programFileKind(bytes("# alloc-check program v1\np0 = malloc(24)\n")) == .text)
    #expect(CLISupport.programFileKind(bytes("\n  \r\n# alloc-check program v1\r\n")) == .text)
    #expect(CLISupport.programFileKind(bytes("# alloc-check program v2\n")) == .text)
    #expect(CLISupport.programFileKind(bytes("# alloc-check program v1\n# violates: O3 — size ≥ 1\n")) == .text)
    #expect(CLISupport.programFileKind(bytes("p0 = malloc(24)\nfree(p0)\n")) == .text)
    #expect(CLISupport.programFileKind([]) == .binary)
    #expect(CLISupport.programFileKind([0x00, 0x18, 0x03, 0x00, 0x00]) == .binary)
    #expect(CLISupport.programFileKind(bytes("ABCD")) == .binary)
    #expect(CLISupport.programFileKind([0x23, 0xFF, 0xFF, 0x80]) == .binary)
  }

  @Test("loading a text keeps its seed comment; loading bytes decodes them")
  func loading() throws {
    let program = Program([.malloc(size: 24), .calloc(count: 2, size: 8), .free(BlockRef(0))])
    let text = ProgramText.render(program, comments: ["seed: 0x2a", "violates: O5 at op 1: not zero"])
    let loaded = try CLISupport.loadProgram(bytes(text), name: "a.txt")
    #expect(loaded.program == program && loaded.kind == .text && loaded.seedComment == 0x2a)
    #expect(try CLISupport.loadProgram(bytes(ProgramText.render(program)), name: "b.txt").seedComment == nil)
    let encoded = OpEncoder.encodePymalloc(program)
    let decoded = try CLISupport.loadProgram(encoded, name: "c.bin")
    #expect(decoded.kind == .binary && decoded.program == program && decoded.seedComment == nil)
  }

  @Test("a parse error names the file, the line number and the line")
  func parseErrorText() {
    let e = error { () throws(CLIError) in
      try CLISupport.loadProgram(bytes("# alloc-check program v1\np0 = malloc(24)\np1 = mallok(3)\n"), name: "crash.txt")
    }
    guard case .programText(let path, let inner) = e else {
      Issue.record("expected a program-text error, got \(String(describing: e))")
      return
    }
    #expect(path == "crash.txt" && inner.line == 3)
    #expect(e?.description.hasPrefix("crash.txt: line 3 (\"p1 = mallok(3)\"): unknown op \"mallok\"; expected malloc, calloc, realloc or free (heaps family: spawn,") == true)
    let headerless = error { () throws(CLIError) in try CLISupport.loadProgram(bytes("p0 = malloc(1)\n"), name: "h.txt") }
    #expect(headerless?.description.hasPrefix("h.txt: line 1 (\"p0 = malloc(1)\"): expected the header") == true)
  }

  @Test("error texts are one line each and say what was expected")
  func errorTexts() {
    let all: [CLIError] = [
      .unreadableFile(path: "x", reason: "no such file"), .unwritableFile(path: "d/x", reason: "denied"),
      .badSeed("q"), .badDuration("5"), .badFaultPlan("nth:0"), .badCount(option: "--length", "0"),
      .unknownBug("b"), .unknownProfile("p"), .unknownCheck("O99"), .usage("run: give a program FILE"),
    ]
    for e in all { #expect(!e.description.contains("\n") && !e.description.isEmpty, "\(e)") }
    #expect(CLIError.unreadableFile(path: "x.txt", reason: "no such file").description == "cannot read x.txt: no such file")
    #expect(CLIError.badCount(option: "--length", "0").description.contains("--length"))
    #expect(CLIError.unknownCheck("O99").description.contains("PM7"))
    #expect(CLIError.unknownProfile("p").description.hasSuffix("boundaries, smallUniform, fewClasses, mixed, arenaChurn"))
  }

  @Test("counts are whole numbers of at least 1")
  func counts() throws {
    #expect(try CLISupport.parseCount("50", option: "--programs") == 50)
    for bad in ["0", "-1", "", "1e3", "ten"] {
      #expect(error { () throws(CLIError) in try CLISupport.parseCount(bad, option: "--programs") }
        == .badCount(option: "--programs", bad))
    }
  }

  @Test("a one-index search runs program k of the hunt, the one the replay command regenerates")
  func soakSeeds() {
    let generator = ProgramGenerator(length: 300)
    let adapter = PymallocAdapter(bugs: [.callocSkipsZeroing])
    for k in 0..<40 {
      let hit = BugHunt.search(seed: 7, indices: k..<(k + 1), generator: generator,
                               adapter: adapter, oracle: .full)
      guard let hit else { continue }
      #expect(hit.seed == BugHunt.programSeed(7, k))
      #expect(hit.program == generator.generate(seed: hit.seed))
      return
    }
    Issue.record("no program of 40 broke O5 with callocSkipsZeroing")
  }

  @Test("the encoder's live-block limit is measured as the most blocks live at once")
  func maxLive() {
    #expect(CLISupport.maxLiveBlocks(Program()) == 0)
    let p = Program([.malloc(size: 1), .malloc(size: 2), .free(BlockRef(0)), .realloc(BlockRef(1), size: 3),
                     .realloc(nil, size: 4), .free(nil)])
    #expect(CLISupport.maxLiveBlocks(p) == 2)
  }
}
