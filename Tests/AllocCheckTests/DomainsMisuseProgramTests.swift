// DomainsMisuseProgramTests.swift — issue 4's "for each misuse kind, a generated program shows the
// predicted message equal to the produced one": for every misuse kind of the domains family, programs of
// the misuse profile forced to that kind are generated and run through the executor; the misuse's
// predicted diagnostic (``MisusePrediction``) and the hooks' produced one are printed and must be equal.
// A kind whose prediction is a wild read (a foreign pointer: CPython reads memory nobody vouches for) has
// no exact message to compare; that is asserted and counted explicitly, never passed silently.

import AllocUnderTest
import Harness
import Oracle
import Testing

@Suite("Domains misuse programs: predicted diagnostic == produced diagnostic")
struct DomainsMisuseProgramTests {
  @Test("each misuse kind, from a generated program through the executor", arguments: DomainsProgramGenerator.misuseKinds)
  func predictedEqualsProduced(_ kind: Op.Kind) throws {
    let adapter = DomainsAdapter()
    let generator = DomainsProgramGenerator(length: 12, profile: .misuse, misuseKind: kind)
    var statuses: [MisuseComparison.Status: Int] = [:]
    var fatalShown = false
    var shown = 0
    for k in 0..<40 {
      let seed = BugHunt.programSeed(0x4D15_05E0 + UInt64(kind.rawValue), k)
      let program = generator.generate(seed: seed)
      let verdict = DomainsExecutor.run(program, on: adapter, config: ExecutorConfig(oracle: .domains, runSeed: seed))
      #expect(verdict.passed, "seed \(FailureReport.hex(seed)): \(String(describing: verdict.violation))\n\(ProgramText.render(program, family: "domains"))")
      let mine = verdict.misuses.filter { $0.call.contains(kind.name) }
      #expect(!mine.isEmpty, "seed \(FailureReport.hex(seed)): no \(kind.name) was run\n\(ProgramText.render(program, family: "domains"))")
      for m in mine {
        statuses[m.status, default: 0] += 1
        if m.status == .compared { #expect(m.predicted.hasPrefix(m.produced) || m.predicted == m.produced, "\(m)") }
        let isFatal = m.produced.hasPrefix("Fatal Python error")
        // Print the first comparison, and the first fatal one if the first was not.
        if shown == 0 || (isFatal && !fatalShown) {
          shown += 1
          fatalShown = fatalShown || isFatal
          print("[\(kind.name)] seed \(FailureReport.hex(seed)), \(m.status.rawValue): \(m.call)\n  predicted: \(m.predicted)\n  produced:  \(m.produced)")
          if k == 0 || isFatal { print(ProgramText.render(program, family: "domains", comments: ["seed: \(FailureReport.hex(seed))"])) }
        }
      }
    }
    print("[\(kind.name)] 40 programs: compared \(statuses[.compared] ?? 0), wild read (no exact comparison possible) "
      + "\(statuses[.wildRead] ?? 0), outside the model \(statuses[.outsideModel] ?? 0)")
    switch kind {
    case .writeAfterFree:
      #expect(statuses[.compared] == 40, "the hooks never check data bytes: predicted and produced 'no fatal error'")
    default:
      #expect(fatalShown, "\(kind.name): no program showed a predicted fatal message equal to the produced one")
      #expect((statuses[.compared] ?? 0) >= 30)
    }
  }
}

@Suite("Domains misuse: the wrappers' size check comes before the hooks")
struct DomainsWrapperOrderTests {
  /// fuzz-domains-ops' first find (corpus/domains/regressions/fuzz-D1-realloc-freed-oversize): realloc of a
  /// freed block to a size above PY_SSIZE_T_MAX never reaches the hooks.
  @Test("realloc of a freed block: above PY_SSIZE_T_MAX nothing is detected; at 2^62 the hooks report bad ID")
  func reallocFreedOversize() throws {
    let subject = try MisuseSubject(domain: .raw, size: 0, configuration: "debug", mallocQuarantine: 16)
    guard case .undetected = MisusePrediction.predict(.reallocFreed(size: UInt(Int.max) + 1), on: subject) else {
      Issue.record("a size above PY_SSIZE_T_MAX is refused by PyMem_RawRealloc before the hooks"); return
    }
    guard case .fatal(let line, _, _) = MisusePrediction.predict(.reallocFreed(size: 1 << 62), on: subject) else {
      Issue.record("2^62 reaches the hooks, which read the freed header"); return
    }
    #expect(line.hasPrefix("Fatal Python error: _PyMem_DebugRawRealloc: bad ID"))
    for (size, fatal) in [(UInt64(Int.max) + 1, false), (1 << 62, true)] as [(UInt64, Bool)] {
      let program = Program([.domain(.configure(.debug)), .domain(.malloc(.raw, size: 0)), .domain(.reallocFreed(BlockRef(0), size: size))])
      let verdict = DomainsExecutor.run(program, on: DomainsAdapter())
      #expect(verdict.passed, "\(String(describing: verdict.violation))")
      #expect(verdict.misuses.first?.produced.hasPrefix("Fatal Python error") == fatal, "\(verdict.misuses)")
      print("realloc_freed(p0, \(size)): predicted \(verdict.misuses[0].predicted); produced \(verdict.misuses[0].produced)")
    }
  }
}
