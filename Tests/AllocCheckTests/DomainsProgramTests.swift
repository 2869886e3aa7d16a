// DomainsProgramTests.swift — the domains family's op programs: the "domains family v1" binary format
// (golden vector + round trips), the text form of the configuration, clean-call and misuse ops, the
// validity rules of ProgramState+Domains.swift (one test per error kind), the decoder's repairs, and
// shrinking. Like the other golden vectors, the golden bytes here must never change.

import AllocUnderTest
import Oracle
import Testing

@testable import Harness

private func p(_ id: Int) -> BlockRef { BlockRef(id) }

@Suite("Domains-family op programs")
struct DomainsProgramTests {
  // MARK: Golden vector — never edit; add new ones.

  static let goldenBytes = hexBytes(
    """
    00 05
    01
    02 02 03
    03 00 f0 03 00 f0 08 00
    04 01 ff ff f0 58 02
    06 00 00 00 78
    05 02 00 00
    07 00 00 07 41
    08 00 00 04 11
    02 02 03
    09 00 00
    0b 01
    02 01 06
    0c 00 00 06
    0d 01 f0 0a 00
    """)

  static let goldenText = """
    # alloc-check program v1
    # family: domains
    configure(pymalloc_debug)
    setup_debug_hooks()
    p0 = PyObject_Malloc(16)
    p1 = PyMem_RawCalloc(3, 8)
    p2 = PyMem_Realloc(NULL, 600)
    write_past_end(p0, 1, 0x78)
    PyObject_Free(p0)
    write_before_start(p1, 8, 0x41)
    write_after_free(p2, 17, 0x11)
    p3 = PyObject_Malloc(16)
    double_free(p3)
    free_foreign(mem)
    p4 = PyMem_Malloc(32)
    realloc_freed(p4, 32)
    malloc_without_gil(mem, 10)

    """

  @Test("golden vector: bytes ↔ program ↔ text")
  func golden() throws {
    let program = try ProgramText.parse(Self.goldenText)
    #expect(program.isValid)
    let bytes = OpEncoder.encodeDomains(program)
    #expect(OpDecoder.decodeDomains(Self.goldenBytes) == program)
    #expect(bytes == Self.goldenBytes, "encoded: \(bytes.map { String($0, radix: 16) }.joined(separator: " "))")
    #expect(ProgramText.render(program, family: "domains") == Self.goldenText.trimmingSuffixNewlines() + "\n")
  }

  // MARK: Validity (ProgramState+Domains.swift)

  /// The first rule `ops` break, applied in order.
  private func error(_ ops: [DomainOp]) -> ProgramError.Kind? {
    do { try Program(ops.map { .domain($0) }).validate() } catch { return error.kind }
    return nil
  }

  @Test("each domains validity rule rejects what it must")
  func validity() {
    let hooks = DomainOp.configure(.debug)
    #expect(error([.malloc(.mem, size: 8), .configure(.mallocDebug)]) == .configureTooLate)
    #expect(error([.malloc(.mem, size: 8), .setupDebugHooks]) == .configureTooLate)
    #expect(error([.malloc(.mem, size: 2_000_000)]) == .sizeNotAllowed(2_000_000))
    #expect(error([.malloc(.mem, size: DomainSizes.refusedFrom)]) == nil)
    #expect(error([.calloc(.raw, count: 1 << 20, size: 1 << 20)]) == .sizeNotAllowed(1 << 40))
    #expect(error([.malloc(.mem, size: 8), .free(.obj, p(0))]) == .wrongDomain(p(0), owner: "MEM", called: "OBJ"))
    #expect(error([.malloc(.mem, size: 8), .doubleFree(p(0))]) == .misuseWithoutHooks)
    #expect(error([.mallocWithoutGIL(.obj, size: 8)]) == .misuseWithoutHooks)
    #expect(error([hooks, .malloc(.mem, size: DomainSizes.refusedFrom), .doubleFree(p(0))]) == .misuseOfNullBlock(p(0)))
    for (ops, what) in [([hooks, .malloc(.mem, size: 8), .writePastEnd(p(0), count: 9, byte: 0)], "write past the pad"),
                        ([hooks, .malloc(.mem, size: 8), .writeBeforeStart(p(0), count: 17, byte: 0)], "write before the header"),
                        ([hooks, .malloc(.mem, size: 8), .writeAfterFree(p(0), offset: 8, byte: 0)], "write after free outside N"),
                        ([hooks, .malloc(.raw, size: 8), .freeWrongDomain(p(0), .mem)], "wrong domain across backings"),
                        ([hooks, .malloc(.mem, size: 8), .freeWrongDomain(p(0), .mem)], "wrong domain that is its own"),
                        ([hooks, .malloc(.mem, size: 8), .writePastEnd(p(0), count: 1, byte: 0), .doubleFree(p(0))],
                         "a second misuse of a written block")] as [([DomainOp], String)] {
      guard case .misuseOperand? = error(ops) else { Issue.record("\(what) must be rejected: \(ops)"); continue }
    }
    #expect(error([.configure(.mallocDebug), .malloc(.raw, size: 8), .freeWrongDomain(p(0), .mem)]) == nil)
    #expect(error([.configure(.pymalloc), .setupDebugHooks, .malloc(.mem, size: 8), .doubleFree(p(0))]) == nil)
    #expect(throws: ProgramError.self) {
      try Program([.domain(.free(.mem, nil)), .malloc(size: 8), .domain(.free(.mem, p(0)))]).validate()
    }
  }

  // MARK: Decoder repairs

  @Test("the decoder never rejects: invalid ops decode as PyMem_Free(NULL), sizes are folded, calls follow the block's domain")
  func repairs() {
    // A misuse without hooks → PyMem_Free(NULL).
    #expect(OpDecoder.decodeDomains([0x09, 0x00, 0x00]).ops == [.domain(.free(.mem, nil))])
    // configure after a call → PyMem_Free(NULL).
    #expect(OpDecoder.decodeDomains([0x02, 0x01, 0x03, 0x00, 0x04]).ops.last == .domain(.free(.mem, nil)))
    // A size above 1 MiB and below 2^62 is folded modulo 2^20 + 1.
    let folded = OpDecoder.decodeDomains([0x02, 0x01, 0xfc, 0x00, 0x00, 0x20, 0x00]).ops
    #expect(folded == [.domain(.malloc(.mem, size: 0x20_0000 % (DomainSizes.maxBlock + 1)))])
    // PyObject_Free of a MEM block decodes as PyMem_Free.
    #expect(OpDecoder.decodeDomains([0x02, 0x01, 0x03, 0x05, 0x02, 0x00, 0x00]).ops.last == .domain(.free(.mem, p(0))))
  }

  @Test("random bytes decode to valid programs that round-trip")
  func randomBytes() {
    var rng = SeededRandom(seed: 0xD0D0)
    for _ in 0..<500 {
      let bytes = (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
      let program = OpDecoder.decodeDomains(bytes)
      #expect(program.isValid && program.isDomainsFamily)
      #expect(OpDecoder.decodeDomains(OpEncoder.encodeDomains(program)) == program)
      #expect((try? ProgramText.parse(ProgramText.render(program, family: "domains"))) == program)
    }
  }

  // MARK: Shrinking

  @Test("a failing misuse program shrinks to the misuse and its block; every candidate stays valid")
  func shrinking() {
    let program = DomainsProgramGenerator(length: 60, profile: .misuse, misuseKind: .doubleFree).generate(seed: 7)
    let buggy = DomainsAdapter(bugs: [.idNotChecked, .leadingPadNotChecked])
    let failing = DomainsExecutor.run(program, on: buggy)
    #expect(failing.violation?.rule == RuleID.diagnosticPredicted.rawValue, "\(String(describing: failing.violation))")
    let result = Shrinker.shrink(program, maxAttempts: 300) { candidate in
      #expect(candidate.isValid)
      return DomainsExecutor.run(candidate, on: buggy).violation?.rule == "D1"
    }
    #expect(result.program.ops.count <= 3, "\(ProgramText.render(result.program, family: "domains"))")
    print("shrunk \(program.ops.count) → \(result.program.ops.count) ops:\n\(ProgramText.render(result.program, family: "domains"))")
  }
}

extension String {
  fileprivate func trimmingSuffixNewlines() -> String {
    var s = self
    while s.hasSuffix("\n") { s.removeLast() }
    return s
  }
}

@Suite("Domains family on the command line")
struct DomainsCLITests {
  @Test("a text with domain ops is a domains program; binary bytes decode as the family asked for; domain bugs parse")
  func families() throws {
    let tagged = Array("# alloc-check program v1\n# family: domains\nconfigure(debug)\n".utf8)
    #expect(try CLISupport.loadProgram(tagged, name: "a.txt").family == .domains)
    let untagged = Array("# alloc-check program v1\np0 = PyObject_Malloc(16)\nPyObject_Free(p0)\n".utf8)
    let loaded = try CLISupport.loadProgram(untagged, name: "b.txt")
    #expect(loaded.family == .domains && loaded.kind == .text)
    let bytes: [UInt8] = [0x00, 0x05, 0x02, 0x02, 0x03]
    #expect(try CLISupport.loadProgram(bytes, name: "c.bin", family: .domains).program.ops
      == [.domain(.configure(.pymallocDebug)), .domain(.malloc(.obj, size: 16))])
    #expect(try CLISupport.parseFamily("domains") == .domains)
    #expect(ProgramFamily.domains.fullOracle == .domains)
    #expect(try CLISupport.parseAnyBug("idNotChecked") == .domain(.idNotChecked))
    #expect(try CLISupport.parseAnyBug("idNotChecked").family == .domains)
    #expect(try CLISupport.parseAnyBug("idNotChecked").caughtBy == "D1")
    #expect(try CLISupport.parseDomainsProfile("misuse") == .misuse)
    #expect(throws: CLIError.self) { try CLISupport.parseDomainsProfile("nope") }
  }

  @Test("a DomainsAdapter reset in place gives each program the verdict, misuse lines and serial numbers of a fresh one")
  func resetInPlaceIsFresh() {
    // One adapter for every program (as a fuzz process and the hunts use it), against a new one per program:
    // configurations change between programs, misuses stop runs with blocks still live, and serial numbers
    // must start over (the dumps name "call #N").
    let reused = DomainsAdapter()
    var programs = 0, misuses = 0
    for profile in DomainsProgramGenerator.Profile.allCases {
      let generator = DomainsProgramGenerator(length: 40, profile: profile)
      for k in 0..<12 {
        let program = generator.generate(seed: BugHunt.programSeed(0x5E5E7, k))
        let config = ExecutorConfig(oracle: .domains, runSeed: UInt64(k))
        let fresh = DomainsAdapter()
        let expected = Executor.run(program, on: fresh, config: config)
        let got = Executor.run(program, on: reused, config: config)
        #expect(got.violation == expected.violation && got.opsExecuted == expected.opsExecuted, "\(profile) program \(k)")
        #expect(got.misuses.map(Self.withoutAddresses) == expected.misuses.map(Self.withoutAddresses), "\(profile) program \(k)")
        #expect(reused.produced.map { Self.serialsAndFatalLine($0) } == fresh.produced.map { Self.serialsAndFatalLine($0) },
                "\(profile) program \(k)")
        #expect(reused.domains.currentAllocatorName() == fresh.domains.currentAllocatorName())
        programs += 1
        misuses += expected.misuses.count
      }
    }
    #expect(programs == 36 && misuses > 0)
  }

  /// A misuse comparison less its dump text, which prints addresses (the dump's serials are compared apart).
  static func withoutAddresses(_ m: MisuseComparison) -> [String] {
    ["\(m.opIndex)", m.call, m.predicted, m.produced, "\(m.status)"]
  }

  /// The parts of a fatal error that do not depend on addresses: its line and every serial number in the dump.
  static func serialsAndFatalLine(_ f: ProducedFatal) -> [String] {
    [f.fatalLine] + f.stderrText.split(separator: "\n").filter { $0.contains("call #") }.map(String.init)
  }

  @Test("Executor.run hands a DomainsAdapter's program to the domains executor (what run, shrink and the fuzz targets call)")
  func dispatch() throws {
    let program = try ProgramText.parse("""
      # alloc-check program v1
      configure(malloc_debug)
      p0 = PyMem_Malloc(16)
      free_wrong_domain(p0, raw)
      """)
    let clean = Executor.run(program, on: DomainsAdapter(), config: ExecutorConfig(oracle: .domains))
    #expect(clean.passed && clean.misuses.count == 1)
    #expect(clean.misuses.first?.produced == "Fatal Python error: _PyMem_DebugRawFree: bad ID: Allocated using API 'm', verified using API 'r'")
    let buggy = Executor.run(program, on: DomainsAdapter(bugs: [.idNotChecked]), config: ExecutorConfig(oracle: .domains))
    #expect(buggy.violation?.rule == "D1" && buggy.violation?.opIndex == 2, "\(String(describing: buggy.violation))")
  }
}
