// HeapsPropertyTests.swift — generated heaps-family programs (several logical threads, first-class heaps,
// cross-thread frees, abandonment, reclaim, QSBR) against the full heap oracle on the correct reference
// mimalloc. Run count and seed as in PropertyTests (ALLOC_CHECK_PROGRAMS, ALLOC_CHECK_SEED); every failure
// prints the seed, the replay command and the shrunk multi-thread program.

import AllocUnderTest
import Harness
import Oracle
import PropertyBased
import Testing

@Suite("Heaps properties")
struct HeapsPropertyTests {
  @Test("generated multi-thread programs of every profile keep every rule and invariant",
        arguments: HeapsProgramGenerator.Profile.allCases)
  func generatedPrograms(_ profile: HeapsProgramGenerator.Profile) {
    let adapter = MimallocAdapter()
    let seed = propertySeed ^ UInt64(HeapsProgramGenerator.Profile.allCases.firstIndex(of: profile)! + 1) << 32
    print("heaps property seed \(FailureReport.hex(seed)) (profile \(profile)), \(programCount) programs of 200 ops")
    let generator = HeapsProgramGenerator(length: 200, profile: profile)
    guard let hit = BugHunt.search(seed: seed, programs: programCount, generator: generator, adapter: adapter,
                                   oracle: .heaps) else { return }
    let f = BugHunt.shrink(seed: hit.seed, generator: generator, program: hit.program, violation: hit.violation,
                           adapter: adapter, oracle: .heaps)
    Issue.record("\(FailureReport.render(f))")
  }

  @Test("any byte string decodes to a heaps program that keeps every rule (PropertyBased generation and shrinking)")
  func fuzzBytes() async {
    let adapter = MimallocAdapter()
    await propertyCheck(count: programCount, input: Gen.uint8().array(of: 0...400)) { bytes in
      let program = OpDecoder.decodeHeaps(bytes)
      let verdict = Executor.run(program, on: adapter, config: ExecutorConfig(oracle: .heaps))
      #expect(verdict.passed, "\(verdict.violation.map { "\($0)" } ?? "")\n\(ProgramText.render(program, family: "heaps"))")
    }
  }
}
