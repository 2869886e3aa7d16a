// HeapsQualityTests.swift — proof that every heap rule (H1–H7), every mimalloc invariant (MI*) and the
// shared rules the heaps family relies on can fail: each seeded ``MimallocBug`` — including the real
// upstream bugs of mimalloc.md §9 — is switched on, generated multi-thread programs run with *only its
// check* enabled, and the check must report it; the program must pass with the bug off, and the failure
// must shrink to a short multi-thread program whose text form replays to the same violation.

import AllocUnderTest
import Harness
import Oracle
import Testing

struct HeapsQualityCase: Sendable, CustomTestStringConvertible {
  var bug: MimallocBug
  var check: String
  var testDescription: String { "\(check) catches \(bug.rawValue)" }

  var oracle: OracleConfig {
    var o: OracleConfig = RuleID(rawValue: check).map { .only($0) } ?? .onlyInvariant(check)
    o.geometry = .mimalloc
    return o
  }

  /// Every reachable bug with the check it names, plus one a second check must catch too (its doc comment
  /// says "also"): H6 catches the abandoned-segment bug on its own as well as H7 does.
  static let all: [HeapsQualityCase] =
    MimallocBug.allCases.filter { unreachableFromPrograms[$0] == nil && !$0.isFidelityBug }.map { HeapsQualityCase(bug: $0, check: $0.caughtBy) }
    + [HeapsQualityCase(bug: .abandonedNeverReclaimed, check: "H6")]
}

/// Where the hunt looks: short programs of every profile first, then longer ones.
let heapsHuntPlan: [(generator: HeapsProgramGenerator, programs: Int)] =
  HeapsProgramGenerator.Profile.allCases.map { (HeapsProgramGenerator(length: 80, profile: $0), 12) }
  + HeapsProgramGenerator.Profile.allCases.map { (HeapsProgramGenerator(length: 400, profile: $0), 8) }
  + [(HeapsProgramGenerator(length: 1500, profile: .fullPages), 12)]

/// Bugs no valid program can reach, each with the reason; each is shown by a direct test of the allocator
/// (Mimalloc*Tests) instead, and named in the coverage test so the list cannot grow silently.
let unreachableFromPrograms: [MimallocBug: String] = [
  .reclaimOnFreeAfterExit: "needs a free on a thread after its exit (#944: TLS destructors after mi_thread_done); "
    + "heaps-family programs cannot express a dead thread freeing",
  .remoteFreeWithoutCAS: "a lost update between two OS threads; one OS thread driving logical threads never "
    + "interleaves inside a push (StressTests and scripts/stress-bugs show it on real threads; ExploreTests "
    + "under the controlled scheduler)",
  .delayedFreeingLostUpdate: "a lost update inside a remote free (between its two state transitions) and a "
    + "concurrent collect: only the controlled scheduler's interleavings show it (ExploreTests)",
]

@Suite("Heaps quality: each check catches its seeded bug")
struct HeapsQualityTests {
  @Test("every heap rule has a seeded mimalloc bug reachable from programs, and six are upstream bugs")
  func coverage() {
    let reachable = MimallocBug.allCases.filter { unreachableFromPrograms[$0] == nil && !$0.isFidelityBug }
    let checks = Set(HeapsQualityCase.all.map(\.check))
    let heapRules = Set(RuleID.allCases.filter(\.isHeapRule).map(\.rawValue))
    #expect(heapRules.isSubset(of: checks), "heap rules without a seeded bug: \(heapRules.subtracting(checks).sorted())")
    // Six of mimalloc.md §9's rows (mimalloc's own issues, or the no_reclaim probe), found from programs.
    #expect(reachable.count(where: { $0.upstreamIssue.map { $0.contains("mimalloc#") || $0.hasPrefix("probe") } ?? false }) >= 6)
    #expect(Set(unreachableFromPrograms.keys) == [.reclaimOnFreeAfterExit, .remoteFreeWithoutCAS, .delayedFreeingLostUpdate])
  }

  @Test("the check alone catches its bug in generated programs; the shrunk program replays from its text",
        arguments: HeapsQualityCase.all)
  func caught(_ c: HeapsQualityCase) throws {
    let buggy = MimallocAdapter(bugs: [c.bug])
    let seed: UInt64 = 0x4EA9_0000 + UInt64(MimallocBug.allCases.firstIndex(of: c.bug)!)
    var found: (seed: UInt64, program: Program, violation: Violation)?
    var generator = heapsHuntPlan[0].generator
    for (g, n) in heapsHuntPlan where found == nil {
      generator = g
      found = BugHunt.search(seed: seed, programs: n, generator: g, adapter: buggy, oracle: c.oracle) { $0.rule == c.check }
    }
    let hit = try #require(found, "\(c.check) never caught \(c.bug.rawValue) (hunt seed \(FailureReport.hex(seed)))")

    let clean = Executor.run(hit.program, on: MimallocAdapter(), config: ExecutorConfig(oracle: .heaps, runSeed: hit.seed))
    #expect(clean.passed, "program \(FailureReport.hex(hit.seed)) also fails without the bug: \(String(describing: clean.violation))")

    let finding = BugHunt.shrink(seed: hit.seed, generator: generator, program: hit.program, violation: hit.violation,
                                 adapter: buggy, oracle: c.oracle, maxAttempts: 400)
    #expect(finding.shrunkViolation.rule == c.check)
    // The printed program replays identically: parse its text and run it again.
    let text = FailureReport.programText(finding)
    let replayed = Executor.run(try ProgramText.parse(text), on: buggy, config: ExecutorConfig(oracle: c.oracle, runSeed: hit.seed))
    // Same rule at the same op (addresses in the detail differ from run to run).
    #expect(replayed.violation?.rule == finding.shrunkViolation.rule && replayed.violation?.opIndex == finding.shrunkViolation.opIndex)
    print("[\(c.check) ← \(c.bug.rawValue)]\n" + FailureReport.render(finding, bug: c.bug.rawValue, traceLines: 6))
  }
}
