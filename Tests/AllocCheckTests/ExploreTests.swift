// ExploreTests.swift — the controlled scheduler and the schedule explorer (Sources/Harness/Explore, issue
// 14): a schedule replays exactly (same schedule → same trace and switch points, for every schedule form),
// the exhaustive search and PCT each find a seeded race inside a small fixed budget, the correct reference
// passes a fixed budget of every strategy, the parallel reading of a program keeps its dependencies, and
// bad schedule texts are refused with their reason. Budgets are a few hundred schedules (well under a
// second each); the 100 000-schedule runs are `alloc-check explore`'s job.

import AllocUnderTest
import Harness
import Testing

@Suite("Schedule exploration")
struct ExploreTests {
  static let remoteFrees = ExploreScenarios.all.first { $0.name == "remote-frees" }!

  @Test("every built-in scenario parses as a heaps-family program with at least two threads")
  func scenarios() {
    #expect(ExploreScenarios.all.count == ExploreScenarios.texts.count)
    for s in ExploreScenarios.all { #expect(s.parallel.tasks.count >= 2, "\(s.name)") }
  }

  @Test("the same schedule gives the same trace and switch points, for each schedule form",
        arguments: ["random:0x5eed", "pct:3:36:0x71c18690ee42c90b", "switches:10t2,19t0,35t1", "switches:none"])
  func replayIsExact(_ text: String) throws {
    let schedule = try Schedule.parse(text)
    let executor = ScheduledExecutor()
    let first = executor.run(Self.remoteFrees.parallel, schedule: schedule)
    let second = executor.run(Self.remoteFrees.parallel, schedule: schedule)
    #expect(first.trace == second.trace)
    #expect(first.steps == second.steps)
    #expect(first.switchPoints == second.switchPoints)
    // The recorded switch points replay the run too.
    let again = executor.run(Self.remoteFrees.parallel, schedule: .switches(first.switchPoints))
    #expect(again.trace == first.trace)
    #expect(first.violation == nil)
  }

  @Test("different schedules interleave differently (the scheduler is not stuck in program order)")
  func schedulesDiffer() {
    let executor = ScheduledExecutor()
    let traces = Set((0..<20).map { executor.run(Self.remoteFrees.parallel, schedule: .random(seed: UInt64($0))).trace })
    #expect(traces.count > 5)
  }

  @Test("a lost update inside the remote free is found within a small fixed budget",
        arguments: [(MimallocBug.remoteFreeWithoutCAS, ExploreStrategy.exhaustive), (.remoteFreeWithoutCAS, .pct),
                    (.delayedFreeingLostUpdate, .exhaustive), (.delayedFreeingLostUpdate, .pct)])
  func raceFound(_ bug: MimallocBug, _ strategy: ExploreStrategy) throws {
    let explorer = Explorer(bugs: [bug])
    let report = explorer.explore([Self.remoteFrees], ExploreOptions(strategy: strategy, schedules: 400, seed: 1))
    let failure = try #require(report.failure, "\(bug) not found by \(strategy) in 400 schedules")
    #expect(["H6", "MI2", "livelock"].contains(failure.run.violation?.rule ?? ""), "\(String(describing: failure.run.violation))")
    // No switch point, no race: the default schedule alone passes (the bug needs an interleaving).
    #expect(failure.run.switchPoints.count >= 1)
    // The printed schedule replays the failure exactly.
    let replay = ScheduledExecutor(bugs: [bug]).run(Self.remoteFrees.parallel, schedule: failure.schedule)
    #expect(replay.violation == failure.run.violation)
    #expect(replay.trace == failure.run.trace)
    // The shrunk schedule has no more switch points and still fails with the same rule.
    let shrunk = explorer.shrinkSchedule(failure)
    guard case .switches(let points) = shrunk.schedule else { Issue.record("not a switches schedule"); return }
    #expect(points.count <= failure.run.switchPoints.count)
    #expect(shrunk.run.violation?.rule == failure.run.violation?.rule)
  }

  @Test("the correct reference passes a fixed budget of each strategy", arguments: ExploreStrategy.allCases)
  func referencePasses(_ strategy: ExploreStrategy) {
    let report = Explorer().explore(ExploreScenarios.all, ExploreOptions(strategy: strategy, preemptionBound: 1, schedules: 300, seed: 7))
    #expect(report.failure == nil, "\(String(describing: report.failure?.run.violation)) under \(String(describing: report.failure?.schedule))")
    #expect(report.schedules >= 300 || report.exhausted)
  }

  @Test("the parallel reading waits for the block's maker and for barriers")
  func dependencies() throws {
    let program = try ProgramText.parse("""
      # alloc-check program v1
      # family: heaps
      t1 = spawn()
      thread(t1)
      p0 = malloc(16)
      thread(t0)
      free(p0)
      h0 = heap_new()
      """)
    let p = ParallelProgram(program)
    #expect(p.tasks.count == 2)
    #expect(p.tasks[0].map(\.index) == [0, 4, 5])
    #expect(p.tasks[1].map(\.index) == [2])
    // Every schedule runs the free after the malloc: no violation in any of them.
    let report = Explorer().explore([ExploreProgram(name: "dep", program: program)], ExploreOptions(strategy: .exhaustive, preemptionBound: 2, schedules: 1000))
    #expect(report.failure == nil && report.exhausted)
  }

  @Test("a bad schedule text is refused with its reason")
  func badSchedules() throws {
    for (text, why) in [("bogus:1", "expected random"), ("pct:0:10:1", "depth"), ("switches:5t1,3t0", "increase"),
                        ("switches:x", "STEPtTHREAD"), ("random:zz", "not a number")] {
      #expect(throws: ScheduleError.self) { try Schedule.parse(text) }
      do { _ = try Schedule.parse(text) } catch { #expect(error.description.contains(why), "\(text): \(error)") }
    }
    #expect(try Schedule.parse("switches:12t1,40t0") == .switches([SwitchPoint(step: 12, thread: 1), SwitchPoint(step: 40, thread: 0)]))
    #expect(try Schedule.parse("\(Schedule.pct(depth: 3, steps: 36, seed: 0xab))") == .pct(depth: 3, steps: 36, seed: 0xab))
  }

  @Test("PCT's printed guarantee is 1/(n·k^(d−1))")
  func pctGuarantee() {
    #expect(Explorer.pctGuarantee(tasks: 3, steps: 36, depth: 3) == 1.0 / (3 * 36 * 36))
    #expect(Explorer.pctGuarantee(tasks: 2, steps: 10, depth: 1) == 0.5)
  }
}
