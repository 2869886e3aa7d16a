// DifferentialTests.swift — the reference pymalloc against CPython 3.11's real one (issue 11): the committed
// corpus and generated programs agree observation for observation, and each differential rule X1–X4 catches
// its seeded fidelity bug, which no single-allocator rule catches. CPython's pymalloc keeps its state for
// the life of a process, so each case runs in an exit test (a fresh child process), as `alloc-check diff`
// runs each program in a forked child. Also the comparison itself, on hand-made observation lists.

import AllocUnderTest
import Foundation
import Harness
import Oracle
import Testing

@Suite("Differential: reference vs CPython 3.11's pymalloc")
struct DifferentialTests {
  @Test("the first differing observation is the divergence, with both values; a shorter list is none")
  func compare() {
    let a = [Observation(opIndex: 0, rule: .sameOutcome, value: "pool block"), Observation(opIndex: 0, rule: .samePlacement, value: "arena 0 pool 0 +48")]
    var b = a
    #expect(Differential.compare(a, b, peerName: "cpython").0 == nil)
    b[1].value = "arena 0 pool 1 +48"
    let (v, compared) = Differential.compare(a, b, peerName: "cpython")
    #expect(v?.rule == "X2" && compared == 2 && v?.detail == "reference: arena 0 pool 0 +48; cpython: arena 0 pool 1 +48")
    #expect(Differential.compare(a, Array(a.prefix(1)), peerName: "cpython").0 == nil)
  }

  @Test("the corpus and 30 generated programs agree with CPython", .enabled(if: PeerAvailability.shouldRun(.cpython)))
  func agrees() async {
    await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
      let pair = try PymallocDifferential()
      var programs = PeerAvailability.pymallocCorpus.map { ($0.0, $0.1, UInt64(0)) }
      for k in 0..<30 {
        let seed = 0xD1FF_0000 + UInt64(k)
        programs.append(("seed \(seed)", ProgramGenerator(length: 250).generate(seed: seed), seed))
      }
      for (name, p, seed) in programs {
        let v = pair.run(p, runSeed: seed)
        if let f = v.failure {
          FileHandle.standardError.write(Data("\(name): \(f.side) \(f.violation)\n".utf8))
          exit(1)
        }
      }
    }
  }

  /// 4,000 malloc(512): the third arena is mapped at op 3,937 (31 blocks a pool; 64 pools in arena 0, which
  /// is pool-aligned, 63 in arena 1, which is not).
  static let threeArenas = Program(Array(repeating: .malloc(size: 512), count: 4_000))

  @Test("X4 sees the arena map's node count: arenas on either side of a 16 GiB line on one side only diverge",
        .enabled(if: PeerAvailability.shouldRun(.cpython)))
  func mapLineDiverges() async {
    let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
      // Where mmap put each side's arenas decided this before the differential placed them (a CI run of the
      // committed traces diverged so): here the reference's third arena starts a new 16 GiB stretch.
      let pair = try PymallocDifferential(windows: (reference: .mapLineAtSlot(2), peer: .inOneMapSpan))
      let f = pair.run(Self.threeArenas).failure
      FileHandle.standardError.write(Data("\(f.map { "\($0.side) \($0.violation.rule) at op \($0.violation.opIndex): \($0.violation.detail)" } ?? "agreed")\n".utf8))
      exit(f?.side == "differential" && f?.violation.rule == "X4" && f?.violation.opIndex == 3_937 ? 0 : 1)
    }
    let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    #expect(message.contains("# arena map bot nodes              =                    2"), "stderr: \(message)")
  }

  @Test("with the same placement on both sides, arenas across a 16 GiB line agree (2 bottom nodes each)",
        .enabled(if: PeerAvailability.shouldRun(.cpython)))
  func mapLineAgrees() async {
    await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
      let pair = try PymallocDifferential(windows: (reference: .mapLineAtSlot(2), peer: .mapLineAtSlot(2)))
      if let f = pair.run(Self.threeArenas).failure {
        FileHandle.standardError.write(Data("\(f.side) \(f.violation)\n".utf8))
        exit(1)
      }
      let text = pair.peer.statsText() ?? ""
      exit(text.contains("# arena map bot nodes              =                    2") && text == pair.reference.statsText() ? 0 : 2)
    }
  }

  @Test("each fidelity bug is caught by its differential rule and by no single-allocator rule",
        .enabled(if: PeerAvailability.shouldRun(.cpython)),
        arguments: PymallocBug.allCases.filter(\.isFidelityBug))
  func fidelityBugCaught(_ bug: PymallocBug) async {
    let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { [bug] in
      let pair = try PymallocDifferential(bugs: [bug])
      let alone = PymallocAdapter(bugs: [bug])
      for k in 0..<200 {
        let seed = 0xF1DE_0000 + UInt64(k)
        let program = ProgramGenerator(length: 200).generate(seed: seed)
        if let v = Executor.run(program, on: alone, config: ExecutorConfig(oracle: .full, runSeed: seed)).violation {
          FileHandle.standardError.write(Data("a single-allocator rule caught \(bug): \(v)\n".utf8))
          exit(2)
        }
        if let f = pair.run(program, runSeed: seed).failure {
          FileHandle.standardError.write(Data("caught \(f.side) \(f.violation.rule) at op \(f.violation.opIndex) of seed \(seed): \(f.violation.detail)\n".utf8))
          exit(f.side == "differential" && f.violation.rule == bug.caughtBy ? 0 : 3)
        }
      }
      FileHandle.standardError.write(Data("\(bug) not caught in 200 programs\n".utf8))
      exit(4)
    }
    let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    #expect(message.contains("caught differential \(bug.caughtBy)"), "stderr: \(message)")
  }
}

/// Exit-test bodies shared by the heaps and domains cases: run programs on a pair, print the first failure.
enum DifferentialRun {
  /// Runs every program; exits 1 with the failure on stderr if one does not agree.
  static func expectAgreement(_ pair: DifferentialPair, _ programs: [(String, Program)]) -> Never {
    var compared = 0
    for (name, p) in programs {
      let v = pair.run(p, runSeed: 0)
      compared += v.compared
      if let f = v.failure {
        FileHandle.standardError.write(Data("\(name): \(f.side) \(f.violation)\n".utf8))
        exit(1)
      }
    }
    FileHandle.standardError.write(Data("\(programs.count) programs agree, \(compared) observations compared\n".utf8))
    exit(0)
  }

  /// Exits 0 if some program fails with `rule` on the differential side, else 3 (another failure) or 4.
  static func expectCaught(_ pair: DifferentialPair, _ programs: [Program], rule: String) -> Never {
    for (k, p) in programs.enumerated() {
      if let f = pair.run(p, runSeed: 0).failure {
        FileHandle.standardError.write(Data("caught \(f.side) \(f.violation.rule) at op \(f.violation.opIndex) of program \(k): \(f.violation.detail)\n".utf8))
        exit(f.side == "differential" && f.violation.rule == rule ? 0 : 3)
      }
    }
    FileHandle.standardError.write(Data("not caught in \(programs.count) programs\n".utf8))
    exit(4)
  }

  static func corpus(_ folder: String) -> [(String, Program)] {
    Corpus.files.filter { $0.hasPrefix(folder + "/") && $0.hasSuffix(".txt") }.compactMap { f in (try? Corpus.program(f)).map { (f, $0) } }
  }
}

@Suite("Differential: reference vs libmimalloc 2.0.9 and CPython's debug hooks")
struct PeerDifferentialTests {
  @Test("the heaps corpus and 140 generated programs agree with libmimalloc (X1, X5, X6)", .enabled(if: PeerAvailability.shouldRun(.mimalloc)))
  func heapsAgree() async {
    await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
      var programs = DifferentialRun.corpus("heaps") + DifferentialRun.corpus("heaps-diff")
      for profile in HeapsProgramGenerator.Profile.allCases {
        for s in UInt64(1)...20 { programs.append(("\(profile) \(s)", HeapsProgramGenerator(length: 150, profile: profile).generate(seed: s))) }
      }
      DifferentialRun.expectAgreement(try HeapsDifferential(), programs)
    }
  }

  @Test("binRoundsUpAtBoundary passes every single-allocator rule and is caught by X5", .enabled(if: PeerAvailability.shouldRun(.mimalloc)))
  func heapsFidelityBug() async {
    let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
      let programs = (UInt64(1)...100).map { HeapsProgramGenerator(length: 150).generate(seed: 0xB1_0000 + $0) }
      let alone = MimallocAdapter(bugs: [.binRoundsUpAtBoundary])
      for p in programs where Executor.run(p, on: alone, config: ExecutorConfig(oracle: .heaps)).violation != nil { exit(2) }
      DifferentialRun.expectCaught(try HeapsDifferential(bugs: [.binRoundsUpAtBoundary]), programs, rule: "X5")
    }
    let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    #expect(message.contains("caught differential X5"), "stderr: \(message)")
  }

  @Test("the domains corpus and 150 misuse programs give CPython's dump text byte for byte (X7)",
        .enabled(if: PeerAvailability.shouldRun(.cpythonDebug)))
  func domainsAgree() async {
    await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
      var programs = DifferentialRun.corpus("domains")
      for s in UInt64(1)...150 { programs.append(("misuse \(s)", DomainsProgramGenerator(length: 40, profile: .misuse).generate(seed: s))) }
      DifferentialRun.expectAgreement(try DomainsDifferential(), programs)
    }
  }

  @Test("a reference configured with serial numbers, unlike a release libpython, is caught by X7 alone",
        .enabled(if: PeerAvailability.shouldRun(.cpythonDebug)))
  func domainsFidelity() async {
    let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
      let programs = (UInt64(1)...60).map { DomainsProgramGenerator(length: 40, profile: .misuse).generate(seed: $0) }
      let pair = try DomainsDifferential(referenceOptions: PyMemOptions(serialNumbers: true, mallocQuarantine: 16))
      DifferentialRun.expectCaught(pair, programs, rule: "X7")
    }
    let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    #expect(message.contains("caught differential X7"), "stderr: \(message)")
  }
}

@Suite("Differential: the comparison of heap walks")
struct HeapWalkDifferentialTests {
  @Test("X6 catches a peer whose heap walk leaves a block out (its own H4 switched off)")
  func x6Catches() throws {
    let program = try ProgramText.parse("""
      # alloc-check program v1
      # family: heaps
      h0 = heap_new()
      p0 = heap_malloc(h0, 24)
      p1 = heap_malloc(h0, 40)
      heap_visit(h0)
      """)
    var peerOracle = OracleConfig.heaps
    peerOracle.rules.remove(.visitExact)
    // On the reference H4 would catch such a walk first, which is why X6 has no fidelity bug of the
    // reference: H4 is the stronger check on each side.
    let v = Differential.run(program, reference: MimallocAdapter(), peer: BrokenPeer(MimallocAdapter(), dropsLastVisited: true), referenceOracle: .heaps,
                             peerOracle: peerOracle)
    #expect(v.failure?.side == "differential" && v.divergence?.rule == "X6" && v.divergence?.opIndex == 3,
            "\(v.failure.map { "\($0.side) \($0.violation)" } ?? "no failure")")
    // With the same program on two sound allocators there is nothing to report.
    let same = Differential.run(program, reference: MimallocAdapter(), peer: MimallocAdapter(), referenceOracle: .heaps, peerOracle: .heaps)
    #expect(same.passed && same.compared > 0)
  }
}
