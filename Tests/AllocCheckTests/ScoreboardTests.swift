// ScoreboardTests.swift — the kill matrix's hunt (Scoreboard.swift, `alloc-check score`) on a few bugs: a bug
// its method reaches is caught with its rule and a shrunk program; a fidelity bug (only the differential sees
// it) and a fault-path bug under the property method are not, within a short time box; the table counts the
// kill rate per method from the cells.

import AllocUnderTest
import Harness
import Oracle
import Testing

@Suite("Scoreboard: the kill matrix's hunts and table")
struct ScoreboardTests {
  static func bug(_ name: String) throws -> ScoreBug { try #require(ScoreBug.all.first { $0.name == name }) }

  @Test("every seeded bug of the three families is on the board")
  func everyBug() {
    let names = Set(ScoreBug.all.map(\.name))
    #expect(names.count == PymallocBug.allCases.count + MimallocBug.allCases.count + DomainBug.allCases.count)
  }

  @Test("a reachable bug is caught with its rule and a shrunk program; unreachable ones are not")
  func hunts() throws {
    let calloc = Scoreboard.hunt(try Self.bug("callocSkipsZeroing"), .property, seed: 1, timeBox: 10)
    #expect(calloc.caught && calloc.rule == "O5" && (calloc.shrunkOps ?? 99) <= 5, "\(calloc)")
    let leak = Scoreboard.hunt(try Self.bug("radixFailureLeaksArena"), .faults, seed: 1, timeBox: 10)
    #expect(leak.caught && leak.rule == "F3", "\(leak)")
    let fidelity = Scoreboard.hunt(try Self.bug("freeListFIFO"), .property, seed: 1, timeBox: 0.3)
    #expect(!fidelity.caught && fidelity.programs > 0, "a fidelity bug passes every single-allocator rule")
    let faultPath = Scoreboard.hunt(try Self.bug("arenaFailureReturnsNull"), .property, seed: 1, timeBox: 0.3)
    #expect(!faultPath.caught, "without faults the fault-path bug is silent")
  }

  @Test("the table shows each cell and the kill rate per method")
  func table() {
    let hit = ScoreHunt(caught: true, seconds: 0.5, programs: 3, rule: "O5", shrunkOps: 3, programSeed: 7)
    let miss = ScoreHunt(caught: false, seconds: 2, programs: 40, rule: nil, shrunkOps: nil, programSeed: nil)
    let cells = [
      ScoreCell(bug: "a", family: "pymalloc", expected: "O5", method: "property", timeBox: 2, hunts: [hit, hit, miss]),
      ScoreCell(bug: "a", family: "pymalloc", expected: "O5", method: "faults", timeBox: 2, hunts: [miss, miss, hit]),
      ScoreCell(bug: "b", family: "heaps", expected: "H1", method: "property", timeBox: 2, hunts: [miss, miss, miss]),
      ScoreCell(bug: "b", family: "heaps", expected: "H1", method: "faults", timeBox: 2, hunts: [hit, hit, hit]),
    ]
    #expect(cells[0].medianSeconds == 0.5 && cells[1].medianSeconds == nil && cells[3].medianSeconds == 0.5)
    let md = Scoreboard.markdown(cells, methods: ["property", "faults"], notRun: ["tsan"])
    #expect(md.contains("| a | pymalloc | O5 | ✓ 0.50 s O5, 3 ops (2/3) | 1/3 seeds |"), "\(md)")
    #expect(md.contains("- property: 1/2 (50 %)") && md.contains("- faults: 1/2 (50 %)") && md.contains("- any method: 2/2"))
    #expect(md.contains("Not run by this version: tsan."))
  }
}
