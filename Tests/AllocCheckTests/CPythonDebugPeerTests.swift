// CPythonDebugPeerTests.swift — issue 11's `cpython-debug` peer: domains-family programs on CPython 3.11's
// real debug hooks (libpython3.11, no Py_Initialize; misuses in forked children) must pass D1–D8 (less D5)
// exactly as the reference does: the committed corpus/domains, generated programs of each profile, and
// each misuse kind with its real fatal line printed; plus a broken wrapper that D1 must catch. Needs
// Debian's libpython3.11: under CI=true a missing library fails the tests, elsewhere they are skipped.
// `ALLOC_CHECK_PEER_PROGRAMS=N` sets the programs per profile (default 60).

import AllocUnderTest
import Foundation
import Harness
import Oracle
import Testing

@Suite("cpython-debug peer: the real debug hooks against the predictions", .serialized)
struct CPythonDebugPeerTests {
  static let onCI = ProcessInfo.processInfo.environment["CI"] == "true"
  static let loads: Bool = (try? CPythonDomains.shared()) != nil
  /// Runs when the library loads, and always under CI (where `adapter()` then fails the test).
  static let enabled = onCI || loads
  static let oracle = PeerAdapters.oracle(for: .cpythonDebug, family: .domains, base: .domains)
  static let perProfile = Int(ProcessInfo.processInfo.environment["ALLOC_CHECK_PEER_PROGRAMS"] ?? "") ?? 60

  /// The adapter; waits (up to 60 s) while another suite's adapter holds the process's one libpython.
  static func adapter() throws -> CPythonDebugAdapter {
    try PeerAvailability.waitingForClaim { try #require(try PeerAdapters.make(.cpythonDebug, family: .domains) as? CPythonDebugAdapter) }
  }

  static func run(_ program: Program, on adapter: CPythonDebugAdapter, seed: UInt64 = 0) -> Verdict {
    Executor.run(program, on: adapter, config: ExecutorConfig(oracle: oracle, runSeed: seed))
  }

  static func failure(_ verdict: Verdict, _ program: Program, _ what: String) -> Comment {
    let violation = verdict.violation.map { "\($0)" } ?? ""
    let outputs = verdict.misuses.map { "\($0.call): \($0.producedFatal?.stderrText ?? "")" }.joined(separator: "\n")
    return Comment(rawValue: "\(what): \(violation)\n\(ProgramText.render(program, family: "domains"))\n\(outputs)")
  }

  @Test("D5 is left out by name; every other domain rule stays", .enabled(if: enabled))
  func oracleLeavesOutSerials() {
    #expect(Self.oracle.rules == OracleConfig.domains.rules.subtracting([.serialBumped]))
  }

  @Test("every committed corpus/domains program passes on the real hooks", .enabled(if: enabled))
  func corpus() throws {
    let adapter = try Self.adapter()
    let files = Corpus.files.filter { $0.hasPrefix("domains/") }
    #expect(files.count >= 10)
    for file in files {
      let program = try Corpus.program(file)
      let verdict = Self.run(program, on: adapter)
      #expect(verdict.passed, Self.failure(verdict, program, "corpus/\(file)"))
      for m in verdict.misuses {
        print("corpus/\(file) [\(m.status.rawValue)] \(m.call)\n  predicted: \(m.predicted)\n  produced:  \(m.produced)"
          + " (\(m.producedFatal?.status ?? "no child"))")
      }
    }
  }

  @Test("generated programs of each profile: no violation, predicted == produced", .enabled(if: enabled),
        arguments: DomainsProgramGenerator.Profile.allCases)
  func generated(_ profile: DomainsProgramGenerator.Profile) throws {
    let adapter = try Self.adapter()
    let generator = DomainsProgramGenerator(length: 16, profile: profile)
    var statuses: [MisuseComparison.Status: Int] = [:]
    let start = ContinuousClock.now
    for k in 0..<Self.perProfile {
      let seed = BugHunt.programSeed(0xC0DE_B06 + UInt64(DomainsProgramGenerator.Profile.allCases.firstIndex(of: profile)!), k)
      let program = generator.generate(seed: seed)
      let verdict = Self.run(program, on: adapter, seed: seed)
      #expect(verdict.passed, Self.failure(verdict, program, "\(profile) seed \(FailureReport.hex(seed))"))
      for m in verdict.misuses { statuses[m.status, default: 0] += 1 }
    }
    print("[cpython-debug \(profile)] \(Self.perProfile) programs in \(ContinuousClock.now - start), \(adapter.forks) forks; misuses: "
      + "compared \(statuses[.compared] ?? 0), died in dump \(statuses[.diedInDump] ?? 0), wild read \(statuses[.wildRead] ?? 0), "
      + "outside the model \(statuses[.outsideModel] ?? 0)")
  }

  @Test("each misuse kind: the real fatal line equals the predicted one", .enabled(if: enabled),
        arguments: DomainsProgramGenerator.misuseKinds)
  func misuseKind(_ kind: Op.Kind) throws {
    let adapter = try Self.adapter()
    let generator = DomainsProgramGenerator(length: 12, profile: .misuse, misuseKind: kind)
    var statuses: [MisuseComparison.Status: Int] = [:]
    var shown: Set<String> = []
    for k in 0..<40 {
      let seed = BugHunt.programSeed(0x4D15_05E0 + UInt64(kind.rawValue), k)
      let program = generator.generate(seed: seed)
      let verdict = Self.run(program, on: adapter, seed: seed)
      #expect(verdict.passed, Self.failure(verdict, program, "\(kind.name) seed \(FailureReport.hex(seed))"))
      for m in verdict.misuses where m.call.contains(kind.name) {
        statuses[m.status, default: 0] += 1
        if m.status == .compared { #expect(m.predicted.hasPrefix(m.produced) || m.predicted == m.produced, "\(m)") }
        if shown.insert("\(m.status) \(m.produced)").inserted {
          print("[cpython-debug \(kind.name)] \(m.status.rawValue): \(m.call)\n  predicted: \(m.predicted)\n  produced:  "
            + "\(m.produced) (\(m.producedFatal?.status ?? "no child"))")
        }
      }
    }
    print("[cpython-debug \(kind.name)] 40 programs: compared \(statuses[.compared] ?? 0), died in dump \(statuses[.diedInDump] ?? 0), "
      + "wild read \(statuses[.wildRead] ?? 0), outside the model \(statuses[.outsideModel] ?? 0)")
    #expect(statuses.values.reduce(0, +) > 0, "no \(kind.name) was run")
  }

  @Test("D1 catches a broken peer wrapper: a fatal line changed on its way back", .enabled(if: enabled))
  func d1CatchesBrokenWrapper() throws {
    let adapter = try Self.adapter()
    let program = try Corpus.program("domains/misuse-overrun.txt")
    #expect(Self.run(program, on: adapter).passed)
    adapter._corruptFatalLine = { $0.replacingOccurrences(of: "trailing", with: "leading") }
    let broken = Self.run(program, on: adapter)
    #expect(broken.violation?.rule == RuleID.diagnosticPredicted.rawValue, "\(String(describing: broken.violation))")
    print("broken wrapper: \(broken.violation.map { "\($0)" } ?? "not caught")")
  }

  @Test("the child's whole diagnostic is kept: dump, fatal line, runtime state; SIGABRT", .enabled(if: enabled))
  func capturedText() throws {
    let adapter = try Self.adapter()
    let program = try ProgramText.parse("""
      # alloc-check program v1
      # family: domains
      configure(debug)
      p0 = PyMem_Malloc(16)
      write_past_end(p0, 1, 0x78)
      """)
    let verdict = Self.run(program, on: adapter)
    #expect(verdict.passed, Self.failure(verdict, program, "overrun"))
    let fatal = try #require(verdict.misuses.first?.producedFatal)
    #expect(fatal.status == "SIGABRT")
    #expect(fatal.fatalLine == "Fatal Python error: _PyMem_DebugRawFree: bad trailing pad byte")
    for piece in ["Debug memory block at address p=0x", ": API 'm'\n", "    16 bytes originally requested\n",
                  "        at tail+0: 0x78 *** OUCH\n", "    Data at p: ",
                  "Enable tracemalloc to get the memory block allocation traceback\n\n",
                  "Fatal Python error: _PyMem_DebugRawFree: bad trailing pad byte\n"] {
      #expect(fatal.stderrText.contains(piece), "missing \(piece.debugDescription) in\n\(fatal.stderrText)")
    }
  }

  @Test("the real pool edge under hooks is N = 488 (N + 3·S = 512: no serial numbers), and the executor knows it",
        .enabled(if: enabled))
  func poolEdgeWithoutSerials() throws {
    let adapter = try Self.adapter()
    adapter.reset()
    try adapter.setupAllocators("debug")
    #expect(adapter.currentAllocatorName() == "pymalloc_debug")
    let pool = try #require(adapter.mallocAddress(.mem, 488))
    let nested = try #require(adapter.mallocAddress(.mem, 489))
    #expect(adapter.readableRange(around: pool) != nil, "488 + 24 = 512 bytes come from a pymalloc pool")
    #expect(adapter.readableRange(around: nested) == nil, "489 + 24 bytes fall back to RAW (glibc)")
    // RAW's header around MEM's: size 513 big-endian, 'r', 7 × 0xFD.
    #expect(MemoryAccess.readUnchecked(address: nested - 32, count: 16)
      == [0, 0, 0, 0, 0, 0, 2, 1, UInt8(ascii: "r")] + Array(repeating: 0xFD, count: 7))
    adapter.freeAddress(.mem, pool)
    adapter.freeAddress(.mem, nested)
    let program = try ProgramText.parse("""
      # alloc-check program v1
      # family: domains
      configure(debug)
      p0 = PyMem_Malloc(488)
      p1 = PyObject_Malloc(489)
      p2 = PyMem_Realloc(p0, 489)
      PyObject_Free(p1)
      write_past_end(p2, 1, 0x00)
      """)
    let verdict = Self.run(program, on: adapter)
    #expect(verdict.passed, Self.failure(verdict, program, "pool edge"))
    #expect(verdict.misuses.first?.produced == "Fatal Python error: _PyMem_DebugRawFree: bad trailing pad byte")
  }

  @Test("ForkedCall: a child that returns is quiet with exit 0; one that aborts after writing to fd 2 is SIGABRT with that text")
  func forkedCallOutcomes() throws {
    let quiet = try #require(ForkedCall.run {})
    #expect(quiet.returnedQuietly && quiet.statusText == "exit 0")
    let message: StaticString = "Fatal Python error: probe\n"
    let aborted = try #require(ForkedCall.run {
      _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
      abort()
    })
    #expect(aborted.signal == SIGABRT && !aborted.returnedQuietly)
    #expect(aborted.pythonFatalLine == "Fatal Python error: probe")
  }

  @Test("double free and realloc of a freed block from a full pool: the real bad-ID line equals the prediction",
        .enabled(if: enabled), arguments: ["double-free", "realloc-freed"])
  func freedBlockOfFullPool(_ kind: String) throws {
    let adapter = try Self.adapter()
    let program = try Corpus.program("domains/misuse-\(kind)-full-pool.txt")
    let verdict = Self.run(program, on: adapter)
    #expect(verdict.passed, Self.failure(verdict, program, kind))
    let m = try #require(verdict.misuses.first)
    #expect(m.status == .compared && m.produced == m.predicted && m.producedFatal?.status == "SIGABRT", "\(m)")
    #expect(m.produced.contains("bad ID: Allocated using API '\u{FFFD}'"), "\(m.produced)")
    print("[cpython-debug \(kind), full pool] \(m.status.rawValue): \(m.produced)")
  }

  // CI stop 16 failed here: the cpython stress run counted 1 block in use after its teardown. Two causes,
  // one test each: a domains program that ends holding pool blocks left them in the process's one pymalloc,
  // and CPythonDomains learnt the hooks' contexts by installing them in process, under whoever held it.
  @Test("a domains program's leftover pool blocks are freed before the next user of libpython counts")
  func leftoversFreedForNextUser() throws {
    // A violation ends the run where it is, before the teardown frees the blocks: here D1, from a wrapper
    // that changes the fatal line of the (aborting) free of p2.
    let program = try ProgramText.parse("""
      # alloc-check program v1
      # family: domains
      configure(pymalloc_debug)
      p0 = PyObject_Malloc(24)
      p1 = PyMem_Malloc(100)
      p2 = PyObject_Malloc(40)
      p3 = PyMem_RawMalloc(40)
      write_past_end(p2, 3, 0x41)
      PyObject_Free(p2)
      """)
    var heldByProgram = 0
    do {
      let adapter = try Self.adapter()
      adapter._corruptFatalLine = { $0 + " (changed)" }
      let verdict = Self.run(program, on: adapter)
      #expect(verdict.violation?.rule == "D1", Self.failure(verdict, program, "leftovers"))
      // The run ended holding three pool blocks (the RAW one is glibc's).
      heldByProgram = adapter.peer.pymalloc.allocatedBlocks().count
    }
    #expect(heldByProgram == 3)
    let next = try PeerAvailability.waitingForClaim { try CPythonAdapter() }
    let inUse = try #require(next.snapshot()).classes.reduce(0) { $0 + $1.blocksInUse }
    #expect(inUse == 0 && next.peer.allocatedBlocks().isEmpty, "\(inUse) blocks in use at claim")
    let a = try #require(next.malloc(24)), b = try #require(next.malloc(300))
    #expect(next.peer.allocatedBlocks() == [a, b].sorted())
    next.free(a)
    #expect(next.peer.allocatedBlocks() == [b])
    next.free(b)
  }

  @Test("the hooks' contexts, learnt in a forked child, are three distinct addresses; the holder's tables stay as they were")
  func contextsLearntOutOfProcess() throws {
    let peer = try CPythonDomains.shared()
    let holder = try PeerAvailability.waitingForClaim { try CPythonAdapter() }
    let before = (0...2).map { peer.pymalloc.table(Int32($0)) }
    let learnt = try peer.learnDebugContextsAgain()
    #expect((0...2).map { peer.pymalloc.table(Int32($0)) } == before)
    #expect(learnt == peer.debugContexts && Set(learnt).count == 3 && !learnt.contains(0), "\(learnt)")
    _ = holder
  }
}
