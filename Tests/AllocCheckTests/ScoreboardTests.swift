// ScoreboardTests.swift — the kill matrix's hunt (Scoreboard.swift, `alloc-check score`) on a few bugs: a bug
// its method reaches is caught with its rule and a shrunk program; a fidelity bug (only the differential sees
// it) and a fault-path bug under the property method are not, within a short time box; the table counts the
// kill rate per method from the cells; the process methods' command lines and how each way a run ends reads.

import AllocUnderTest
import FuzzTargets
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
    #expect(md.contains("Not run at all: tsan."))
  }

  @Test("a method that cannot reach a bug shows n/a, with its reason, and is left out of its kill rate")
  func notApplicable() throws {
    let hit = ScoreHunt(caught: true, seconds: 0.5, programs: 3, rule: "H6", shrunkOps: 17, programSeed: 7)
    let cells = [
      ScoreCell(bug: "a", family: "pymalloc", expected: "O5", method: "explore", timeBox: 2, hunts: [], notRun: "explore runs the reference mimalloc"),
      ScoreCell(bug: "b", family: "heaps", expected: "S4", method: "explore", timeBox: 2, hunts: [hit]),
    ]
    let md = Scoreboard.markdown(cells, methods: ["explore"], notRun: [])
    #expect(md.contains("| a | pymalloc | O5 | n/a |") && md.contains("- explore: 1/1 (100 %) of the bugs it ran on; 1/2 of all"), "\(md)")
    #expect(md.contains("- explore on 1 bug: explore runs the reference mimalloc"), "\(md)")
    #expect(ScoreMethod.explore.notApplicable(to: try Self.bug("callocSkipsZeroing")) != nil)
    #expect(ScoreMethod.explore.notApplicable(to: try Self.bug("remoteFreeWithoutCAS")) == nil)
  }

  @Test("explore's hunt finds the race no single-threaded method sees, by H6, and misses nothing on a clean board")
  func exploreHunt() throws {
    let race = Scoreboard.hunt(try Self.bug("remoteFreeWithoutCAS"), .explore, seed: 1, timeBox: 10)
    #expect(race.caught && race.rule == "H6" && race.programs >= 1, "\(race)")
    let property = Scoreboard.hunt(try Self.bug("remoteFreeWithoutCAS"), .property, seed: 1, timeBox: 0.3)
    #expect(!property.caught, "logical threads run each op whole: the lost CAS never interleaves")
    let silent = Scoreboard.hunt(try Self.bug("binRoundsUpAtBoundary"), .explore, seed: 1, timeBox: 0.5)
    #expect(!silent.caught && silent.programs > 0, "a fidelity bug passes every schedule")
  }
}

@Suite("Scoreboard: the process methods' commands and verdicts")
struct ScoreExternalTests {
  static let paths = ExternalScorePaths(allocCheck: "/x/alloc-check")

  @Test("each process method's command: the binary, the bug, the seed, the time box, files under .fuzz/score")
  func commands() throws {
    let calloc = try ScoreboardTests.bug("callocSkipsZeroing")
    let fuzz = try #require(ExternalScore.command(.fuzz, calloc, seed: 0, box: 5.5, paths: Self.paths))
    #expect(fuzz.executable == ".build-fuzz/release/fuzz-pymalloc-ops" && fuzz.environment["ALLOC_CHECK_BUGS"] == "callocSkipsZeroing")
    #expect(fuzz.arguments.contains("-seed=1") && fuzz.arguments.contains("-max_total_time=6"), "libFuzzer's seed 0 means random")
    #expect(fuzz.arguments.filter { $0.hasPrefix("-artifact_prefix=.fuzz/score/fuzz/callocSkipsZeroing-0/") }.count == 1)
    #expect(fuzz.freshDirectories.allSatisfy { $0.hasPrefix(".fuzz/score/") } && fuzz.environment["SWIFT_BACKTRACE"] == "enable=no")
    for family in ProgramFamily.allCases {
      #expect(FuzzTargets.named(family.rawValue)?.product == ExternalScorePaths.fuzzProduct(family), "the registry's binary name")
    }
    let race = try ScoreboardTests.bug("remoteFreeWithoutCAS")
    let tsan = try #require(ExternalScore.command(.tsan, race, seed: 3, box: 10, paths: Self.paths))
    #expect(tsan.executable == ".build-tsan/debug/alloc-check" && tsan.environment["TSAN_OPTIONS"]?.contains("exitcode=66") == true)
    #expect(tsan.arguments.starts(with: ["stress", "--model", "mimalloc", "--bug", "remoteFreeWithoutCAS", "--seed", "3", "--for", "10s"]))
    let vg = try #require(ExternalScore.command(.valgrind, calloc, seed: 3, box: 8, paths: Self.paths))
    #expect(vg.executable == "valgrind" && vg.arguments.contains("--error-exitcode=99") && vg.arguments.contains("/x/alloc-check")
            && vg.arguments.contains("pymalloc"))
    let diff = try #require(ExternalScore.command(.diff, race, seed: 9, box: 4, paths: Self.paths))
    #expect(diff.arguments.starts(with: ["diff", "--family", "heaps", "--seed", "9"]) && diff.arguments.contains("--no-shrink"))
    // Reach: no stress model of the domains; pymalloc behind its one lock gives TSan nothing.
    let domain = try #require(ScoreBug.all.first { $0.family == .domains })
    for m in [ExternalScoreMethod.stress, .tsan, .valgrind] { #expect(ExternalScore.command(m, domain, seed: 1, box: 1, paths: Self.paths) == nil) }
    #expect(ExternalScore.command(.tsan, calloc, seed: 1, box: 1, paths: Self.paths) == nil)
    #expect(ExternalScore.command(.fuzz, domain, seed: 1, box: 1, paths: Self.paths) != nil)
  }

  @Test("every way a process hunt ends reads as caught (with its rule) or not")
  func verdicts() {
    func v(_ m: ExternalScoreMethod, _ status: Int32, signaled: Bool = false, timedOut: Bool = false, _ out: String) -> ExternalScoreOutcome {
      ExternalScore.classify(m, status: status, signaled: signaled, timedOut: timedOut, output: out)
    }
    let trap = "fuzz-pymalloc-ops: …\nFatal error: alloc-check: O5 at op 2 of 3\n==1== ERROR: libFuzzer: deadly signal\nstat::number_of_executed_units: 812\n"
    #expect(v(.fuzz, 1, trap) == ExternalScoreOutcome(caught: true, rule: "O5", executions: 812))
    #expect(v(.fuzz, 1, "Fatal error: load from misaligned raw pointer\n==1== ERROR: libFuzzer: deadly signal\n").rule
            == "trap: load from misaligned raw pointer")
    #expect(!v(.fuzz, 0, "Done 5000 runs in 6 second(s)\nstat::number_of_executed_units: 5000\n").caught)
    #expect(!v(.fuzz, 1, "==1== ERROR: libFuzzer: timeout after 60 seconds\n").caught, "libFuzzer's timeout is not a find")
    #expect(!v(.fuzz, 15, signaled: true, timedOut: true, trap).caught, "killed at the deadline")
    #expect(v(.diff, 1, "DIVERGENCE X2 (free-list order) at op 4 of seed 0x9: …\n") == ExternalScoreOutcome(caught: true, rule: "diff X2"))
    #expect(v(.diff, 1, "VIOLATION on the reference side MI2 (title) at op 1 of seed 0x9: …\n").rule == "MI2")
    #expect(!v(.diff, 1, "VIOLATION on the CPython 3.11 side O4 (title) at op 1\n").caught, "the peer's fault is not the bug's catch")
    #expect(!v(.diff, 0, "PASS: 1200 programs\n").caught)
    #expect(v(.stress, 1, "stress: FAIL S6 invariants after round 2 (printed at once…)\n").rule == "S6")
    #expect(v(.stress, 11, signaled: true, "no message\n").rule == "crash (signal 11)")
    #expect(!v(.stress, 0, "PASS\n").caught && !v(.stress, 2, "stress: --threads must be 1…256\n").caught, "bad input is no catch")
    #expect(v(.tsan, 66, "WARNING: ThreadSanitizer: data race (pid=1)\n").rule == "TSan race")
    #expect(v(.valgrind, 99, "==7== Memcheck\n==7== Invalid write of size 8\n==7==    at 0x1: f\n").rule == "memcheck: Invalid write of size 8")
    #expect(!v(.valgrind, 0, "==7== ERROR SUMMARY: 0 errors from 0 contexts\n").caught)
  }
}
