// QualityTests.swift — proof that every oracle rule and every allocator invariant check can fail: for each
// check, the seeded bug it exists to catch is switched on, generated programs are run with *only that
// check* enabled, and the check must report it; the same program must pass with the bug off (no false
// alarm), and the failure must shrink to a small program that still breaks the same check.

import AllocUnderTest
import Harness
import Oracle
import Testing

struct QualityCase: Sendable, CustomTestStringConvertible {
  var bug: PymallocBug
  var check: String
  var testDescription: String { "\(check) catches \(bug.rawValue)" }

  static let all: [QualityCase] =
    PymallocBug.allCases.filter { !$0.isFidelityBug && !$0.isFaultPathBug }.map { QualityCase(bug: $0, check: $0.caughtBy) }
    + [QualityCase(bug: .neverReleaseArenas, check: "PM5")]

  var oracle: OracleConfig {
    if let rule = RuleID(rawValue: check) { return .only(rule) }
    return .onlyInvariant(check)
  }
}

/// Where the hunt looks, cheapest first: short programs of every profile, then arena-sized ones (a few
/// thousand 385–512-byte blocks map three arenas and empty them again).
let huntPlan: [(generator: ProgramGenerator, programs: Int)] = [
  (ProgramGenerator(length: 40), 40),
  (ProgramGenerator(length: 300), 30),
  (ProgramGenerator(length: 6000, profile: .arenaChurn), 3),
]

/// Shrink attempts for arena-sized programs (each replays thousands of ops): enough to show the program
/// shrinks, cheap enough for the debug build of `swift test`.
#if DEBUG
let longShrinkAttempts = 8
#else
let longShrinkAttempts = 40
#endif

@Suite("Quality: each check catches its seeded bug")
struct QualityTests {
  @Test("every seeded pymalloc bug names a check, and every pymalloc-family check has a seeded bug")
  func coverage() {
    let checks = Set(QualityCase.all.map(\.check))
    let wanted = Set(RuleID.allCases.filter { !$0.isHeapRule && !$0.isDomainRule && !$0.isDifferentialRule }.map(\.rawValue)).union(["PM2", "PM3", "PM4", "PM5", "PM6", "PM7"])
    #expect(checks == wanted, "checks without a seeded bug: \(wanted.subtracting(checks).sorted())")
  }

  @Test("the check alone catches its bug in generated programs, and the failure shrinks", arguments: QualityCase.all)
  func caught(_ c: QualityCase) throws {
    let buggy = PymallocAdapter(bugs: [c.bug])
    let seed: UInt64 = 0x5EED_0000 + UInt64(PymallocBug.allCases.firstIndex(of: c.bug)!)
    var found: (seed: UInt64, program: Program, violation: Violation)?
    var generator = huntPlan[0].generator
    var oracle = c.oracle
    for (g, n) in huntPlan where found == nil {
      generator = g
      // Arena-sized programs walk the invariants and the statistics every 25 ops instead of every op: the
      // check still fires, a few ops later, and a shrink attempt costs a 25th of the walks.
      if g.length > 1000 {
        if oracle.invariantsEvery > 0 { oracle.invariantsEvery = 25 }
        oracle.statsEvery = 25
      }
      found = BugHunt.search(seed: seed, programs: n, generator: g, adapter: buggy, oracle: oracle) { $0.rule == c.check }
    }
    let hit = try #require(found, "\(c.check) never caught \(c.bug.rawValue) (hunt seed \(FailureReport.hex(seed)))")

    // No false alarm: the same program passes every check when the bug is off (at the hunt's cadence).
    var everything = OracleConfig.full
    if hit.program.ops.count > 1000 {
      everything.invariantsEvery = 25
      everything.statsEvery = 25
    }
    let clean = Executor.run(hit.program, on: PymallocAdapter(), config: ExecutorConfig(oracle: everything, runSeed: hit.seed))
    #expect(clean.passed, "program \(FailureReport.hex(hit.seed)) also fails without the bug: \(String(describing: clean.violation))")

    let finding = BugHunt.shrink(seed: hit.seed, generator: generator, program: hit.program, violation: hit.violation,
                                 adapter: buggy, oracle: oracle, maxAttempts: hit.program.ops.count > 1000 ? longShrinkAttempts : 600)
    #expect(finding.shrunkViolation.rule == c.check)
    #expect(finding.shrunk.ops.count <= hit.program.ops.count)
    print("[\(c.check) ← \(c.bug.rawValue)]\n" + FailureReport.render(finding, bug: c.bug.rawValue, traceLines: 6))
  }
}
