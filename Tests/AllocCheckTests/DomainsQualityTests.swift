// DomainsQualityTests.swift — proof that every domain rule (D1–D8) can fail: each seeded ``DomainBug`` is
// switched on alone, generated domains-family programs run through the executor with *only its rule*
// (``CLISupport/domainRule(of:)``) enabled, and the rule must report it; the program must pass with the bug
// off, and the failure must shrink to a short program whose text form replays to the same violation. The
// one bug no program can reach is listed with its reason (``CLISupport/domainBugsUnreachable``) and stays
// covered by its direct test in DebugHookBugTests.

import AllocUnderTest
import Harness
import Oracle
import Testing

struct DomainsQualityCase: Sendable, CustomTestStringConvertible {
  var bug: DomainBug
  var rule: RuleID
  var testDescription: String { "\(rule.rawValue) catches \(bug.rawValue)" }

  static let all: [DomainsQualityCase] = DomainBug.allCases.compactMap { bug in
    CLISupport.domainRule(of: bug).flatMap(RuleID.init(rawValue:)).map { DomainsQualityCase(bug: bug, rule: $0) }
  }
}

/// Where the hunt looks: every profile, short programs first.
let domainsHuntPlan: [(generator: DomainsProgramGenerator, programs: Int)] =
  DomainsProgramGenerator.Profile.allCases.map { (DomainsProgramGenerator(length: 30, profile: $0), 40) }
  + DomainsProgramGenerator.Profile.allCases.map { (DomainsProgramGenerator(length: 120, profile: $0), 40) }

@Suite("Domains quality: each domain rule catches its seeded bug")
struct DomainsQualityTests {
  @Test("every domain rule has a seeded bug reachable from programs; the unreachable ones are listed with a reason")
  func coverage() {
    let covered = Set(DomainsQualityCase.all.map(\.rule))
    let domainRules = Set(RuleID.allCases.filter(\.isDomainRule))
    #expect(domainRules == covered, "domain rules without a seeded bug: \(domainRules.subtracting(covered).map(\.rawValue).sorted())")
    let unreachable = DomainBug.allCases.filter { CLISupport.domainRule(of: $0) == nil }
    #expect(unreachable == Array(CLISupport.domainBugsUnreachable.keys), "every bug without a rule has a written reason")
    #expect(unreachable == [.oversizeNotRejected])
    for bug in unreachable { print("[unreachable from programs] \(bug.rawValue): \(CLISupport.domainBugsUnreachable[bug]!)") }
  }

  @Test("the rule alone catches its bug in generated programs; the shrunk program replays from its text",
        arguments: DomainsQualityCase.all)
  func caught(_ c: DomainsQualityCase) throws {
    let buggy = DomainsAdapter(bugs: [c.bug])
    let oracle = OracleConfig.only(c.rule)
    let seed: UInt64 = 0xD0_0000 + UInt64(DomainBug.allCases.firstIndex(of: c.bug)!)
    var found: (seed: UInt64, program: Program, violation: Violation)?
    var generator = domainsHuntPlan[0].generator
    var tried = 0
    for (g, n) in domainsHuntPlan where found == nil {
      generator = g
      var last = 0
      found = BugHunt.search(seed: seed, indices: 0..<n, generator: g, adapter: buggy, oracle: oracle,
                             accept: { $0.rule == c.rule.rawValue }, progress: { k, _ in last = k })
      tried += found == nil ? n : last + 1
    }
    let hit = try #require(found, "\(c.rule.rawValue) never caught \(c.bug.rawValue) (hunt seed \(FailureReport.hex(seed)))")

    let clean = DomainsExecutor.run(hit.program, on: DomainsAdapter(), config: ExecutorConfig(oracle: .domains, runSeed: hit.seed))
    #expect(clean.passed, "program \(FailureReport.hex(hit.seed)) also fails without the bug: \(String(describing: clean.violation))")

    let finding = BugHunt.shrink(seed: hit.seed, generator: generator, program: hit.program, violation: hit.violation,
                                 adapter: buggy, oracle: oracle, maxAttempts: 400)
    #expect(finding.shrunkViolation.rule == c.rule.rawValue)
    let text = FailureReport.programText(finding)
    let replayed = DomainsExecutor.run(try ProgramText.parse(text), on: buggy, config: ExecutorConfig(oracle: oracle, runSeed: hit.seed))
    #expect(replayed.violation?.rule == finding.shrunkViolation.rule && replayed.violation?.opIndex == finding.shrunkViolation.opIndex)
    print("[\(c.rule.rawValue) ← \(c.bug.rawValue)] caught by program \(tried) of the hunt (profile \(generator.profileName ?? "-"), "
      + "length \(generator.length)); shrunk \(hit.program.ops.count) → \(finding.shrunk.ops.count) ops\n"
      + FailureReport.render(finding, bug: c.bug.rawValue, traceLines: 6))
  }
}
