// MutantCheckCommand.swift — `alloc-check mutant-check`, the mutation run's tier 1 (issue 15 part 2): the
// fast kill check that `alloc-check mutate` runs on each mutant's own build. For each family asked, a
// ``Scoreboard`` hunt on the plain allocator (no seeded bug) per in-process method — property and soak
// programs under the full oracle, fault sweeps (every mmap and C-heap call failed in turn) — then the
// committed corpus of the family's fuzz targets. The first failure prints one `KILLED …` line and exits 1;
// a crash of the allocator ends the process (the caller reports the signal).

import ArgumentParser
import Foundation
import FuzzTargets
import Harness

struct MutantCheckCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mutant-check",
    abstract: "Tier 1 of alloc-check mutate: hunt every family on the plain allocator; exit 1 on the first failure.",
    shouldDisplay: false)

  @Option(help: "Comma list of families: pymalloc, heaps, domains.") var families: String = "pymalloc,heaps,domains"
  @Option(help: "Time box of each hunt (a family and a method), e.g. 2s.") var each: String = "2s"
  @Option(help: "Hunt seed.") var seed: String = "0x3A7A"
  @Flag(help: "Skip the committed corpus replay.") var noCorpus = false

  func run() throws {
    let chosen = try families.split(separator: ",").map { f throws(CLIError) in try CLISupport.parseFamily(String(f)) }
    let box = Double(try CLISupport.parseDuration(each).components.seconds)
    let s = try CLISupport.parseSeed(seed)
    for family in chosen {
      for method in ScoreMethod.allCases where method != .explore || family == .heaps {
        let h = Scoreboard.hunt(FaultSubject(family: family), method, seed: s, timeBox: box, shrinkAttempts: 0)
        if h.caught {
          Console.out("KILLED rule \(h.rule ?? "?") (\(family.rawValue) \(method.rawValue), program seed \(h.programSeed.map(hex) ?? "?"))")
          throw ExitCode(1)
        }
        Console.out("mutant-check: \(family.rawValue) \(method.rawValue): \(h.programs) programs, nothing fired")
      }
    }
    if noCorpus { return }
    for t in FuzzTargets.all where !t.differential && chosen.map(\.rawValue).contains(t.family) {
      var n = 0
      for name in FuzzWorkspace.committedInputs(t, preferText: false) {
        let bytes = try ProgramFiles.read(FuzzWorkspace.corpusDir(t) + "/" + name)
        let program = name.hasSuffix(".bin") ? bytes : t.encode(try CLISupport.loadProgram(bytes, name: name).program)
        guard let adapter = t.makeAdapter([]) else { continue }
        if let v = t.run(program, on: adapter) {
          Console.out("KILLED rule \(v.rule) (corpus \(t.name)/\(name), op \(v.opIndex))")
          throw ExitCode(1)
        }
        n += 1
      }
      Console.out("mutant-check: corpus \(t.name): \(n) inputs, nothing fired")
    }
  }
}
