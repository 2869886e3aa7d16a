// DomainsPropertyTests.swift — generated domains-family programs (every PYTHONMALLOC configuration, the
// three domains, clean traffic, one misuse per program) against the domain rules D1–D8 on the correct
// domains and hooks: every program passes, every misuse's predicted diagnostic is the produced one. Also
// the codec laws of the family: decode(encode(p)) == p, parse(render(p)) == p, and any byte string decodes to
// a valid program that passes. Run count and seed as in PropertyTests (ALLOC_CHECK_PROGRAMS, ALLOC_CHECK_SEED).

import AllocUnderTest
import Harness
import Oracle
import PropertyBased
import Testing

@Suite("Domains properties")
struct DomainsPropertyTests {
  @Test("generated programs of every profile keep every domain rule", arguments: DomainsProgramGenerator.Profile.allCases)
  func generatedPrograms(_ profile: DomainsProgramGenerator.Profile) {
    let adapter = DomainsAdapter()
    let seed = propertySeed ^ UInt64(DomainsProgramGenerator.Profile.allCases.firstIndex(of: profile)! + 1) << 40
    print("domains property seed \(FailureReport.hex(seed)) (profile \(profile)), \(programCount) programs of 60 ops")
    let generator = DomainsProgramGenerator(length: 60, profile: profile)
    var misuses: [MisuseComparison.Status: Int] = [:]
    for k in 0..<programCount {
      let s = BugHunt.programSeed(seed, k)
      let program = generator.generate(seed: s)
      #expect(program.isValid && program.isDomainsFamily)
      let verdict = DomainsExecutor.run(program, on: adapter, config: ExecutorConfig(oracle: .domains, runSeed: s, recordTrace: false))
      for m in verdict.misuses { misuses[m.status, default: 0] += 1 }
      if let v = verdict.violation {
        let f = BugHunt.shrink(seed: s, generator: generator, program: program, violation: v, adapter: adapter, oracle: .domains)
        Issue.record("\(FailureReport.render(f))")
        return
      }
    }
    print("domains profile \(profile): misuses compared \(misuses[.compared] ?? 0), wild reads (not comparable) "
      + "\(misuses[.wildRead] ?? 0), outside the model \(misuses[.outsideModel] ?? 0)")
    if profile == .misuse { #expect((misuses[.compared] ?? 0) > programCount / 2, "most misuses must be compared exactly") }
  }

  @Test("decode(encode(p)) == p and parse(render(p)) == p for generated programs")
  func roundTrips() throws {
    for k in 0..<max(programCount, 50) {
      let profile = DomainsProgramGenerator.Profile.allCases[k % DomainsProgramGenerator.Profile.allCases.count]
      let program = DomainsProgramGenerator(length: 40, profile: profile).generate(seed: BugHunt.programSeed(propertySeed, k))
      let bytes = OpEncoder.encodeDomains(program)
      #expect(OpDecoder.decodeDomains(bytes) == program, "binary round trip, program \(k)")
      let text = ProgramText.render(program, family: "domains")
      #expect(try ProgramText.parse(text) == program, "text round trip:\n\(text)")
    }
  }

  @Test("any byte string decodes to a valid domains program that keeps every rule (PropertyBased generation and shrinking)")
  func fuzzBytes() async {
    let adapter = DomainsAdapter()
    await propertyCheck(count: programCount, input: Gen.uint8().array(of: 0...300)) { bytes in
      let program = OpDecoder.decodeDomains(bytes)
      #expect(program.isValid)
      #expect(OpDecoder.decodeDomains(OpEncoder.encodeDomains(program)) == program)
      let verdict = DomainsExecutor.run(program, on: adapter)
      #expect(verdict.passed, "\(verdict.violation.map { "\($0)" } ?? "")\n\(ProgramText.render(program, family: "domains"))")
    }
  }
}
