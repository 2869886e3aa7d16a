// PropertyTests.swift — generated programs against the full oracle on the correct reference allocator.
// Run count: ALLOC_CHECK_PROGRAMS (default quick; set e.g. 20000 for an overnight run). Every failure
// prints the seed, the replay command and the shrunk program.

import AllocUnderTest
import Foundation
import Harness
import Oracle
import PropertyBased
import Testing

/// How many generated programs each property runs: ALLOC_CHECK_PROGRAMS, else 60 in the optimised build
/// that `scripts/test` and CI use, 10 in a debug `swift test` (the oracle is ~20× slower unoptimised).
#if DEBUG
let defaultProgramCount = 10
#else
let defaultProgramCount = 60
#endif
let programCount = ProcessInfo.processInfo.environment["ALLOC_CHECK_PROGRAMS"].flatMap(Int.init) ?? defaultProgramCount
/// The hunt seed: ALLOC_CHECK_SEED if set (to replay), else fresh; printed either way.
let propertySeed: UInt64 = ProcessInfo.processInfo.environment["ALLOC_CHECK_SEED"].flatMap { UInt64($0.replacingOccurrences(of: "0x", with: ""), radix: 16) }
  ?? SeededRandom.freshSeed()

@Suite("Pymalloc properties")
struct PropertyTests {
  @Test("generated programs of every profile keep every oracle rule and invariant", arguments: [20, 200, 1200])
  func generatedPrograms(length: Int) {
    let adapter = PymallocAdapter()
    print("property seed \(FailureReport.hex(propertySeed)) (replay with ALLOC_CHECK_SEED=\(FailureReport.hex(propertySeed))), \(programCount) programs of \(length) ops")
    let generator = ProgramGenerator(length: length)
    var oracle = OracleConfig.full
    #if DEBUG
    if length > 500 { oracle.invariantsEvery = 8 }
    #endif
    guard let hit = BugHunt.search(seed: propertySeed ^ UInt64(length), programs: programCount, generator: generator,
                                   adapter: adapter, oracle: oracle) else { return }
    let f = BugHunt.shrink(seed: hit.seed, generator: generator, program: hit.program, violation: hit.violation,
                           adapter: adapter, oracle: oracle)
    Issue.record("\(FailureReport.render(f))")
  }

  @Test("arena-sized churn (several arenas mapped, re-sorted and released) keeps every rule")
  func arenaChurn() {
    let adapter = PymallocAdapter()
    var oracle = OracleConfig.full
    #if DEBUG
    oracle.invariantsEvery = 50  // an unoptimised walk of three full arenas costs tens of milliseconds
    oracle.statsEvery = 5
    #else
    oracle.invariantsEvery = 7
    #endif
    let generator = ProgramGenerator(length: 7000, profile: .arenaChurn)
    guard let hit = BugHunt.search(seed: propertySeed, programs: max(1, programCount / 30), generator: generator,
                                   adapter: adapter, oracle: oracle) else { return }
    let f = BugHunt.shrink(seed: hit.seed, generator: generator, program: hit.program, violation: hit.violation,
                           adapter: adapter, oracle: oracle, maxAttempts: 100)
    Issue.record("\(FailureReport.render(f))")
  }

  @Test("any byte string decodes to a program that keeps every rule (PropertyBased generation and shrinking)")
  func fuzzBytes() async {
    let adapter = PymallocAdapter()
    await propertyCheck(count: programCount * 2, input: Gen.uint8().array(of: 0...600)) { bytes in
      let program = OpDecoder.decodePymalloc(bytes)
      let verdict = Executor.run(program, on: adapter)
      #expect(verdict.passed, "\(verdict.violation.map { "\($0)" } ?? "")\n\(ProgramText.render(program))")
    }
  }
}
