// ExploreGeneratedTests.swift — issue 14's generated exploration and schedule fuzz target: the explore
// generator's programs are valid, deterministic and cross-thread; exploring generated programs finds each
// seeded race (remoteFreeWithoutCAS, delayedFreeingLostUpdate) in a small fixed budget, and the program
// shrinker then reduces the failing program to a few ops that still fail (replayed from the printed
// schedule); the correct reference passes a fixed generated budget; the heaps-schedule fuzz target's input
// format round-trips every schedule it can name, refuses (nil) the ones it cannot, decodes any bytes, and
// its body reports a seeded race under the right schedule and passes without the bug.

import AllocUnderTest
import FuzzTargets
import Harness
import Testing

@Suite("Generated exploration")
struct ExploreGeneratedTests {
  static let generator = ExploreGenerator(threads: 3, ops: 14)
  /// Seeds whose first programs hold each race (found with `alloc-check explore --generate --seed S`);
  /// the budget below is far smaller than the median the README gives.
  static let raceSeeds: [(MimallocBug, UInt64)] = [(.remoteFreeWithoutCAS, 37), (.delayedFreeingLostUpdate, 37)]

  @Test("generated programs are valid, deterministic, have the asked threads and ops, and free across threads")
  func generatorShape() {
    var crossThread = 0
    for k in 0..<50 {
      let seed = BugHunt.programSeed(9, k)
      let p = Self.generator.generate(seed: seed)
      #expect(p.isValid)
      #expect(p == Self.generator.generate(seed: seed))
      let parallel = ParallelProgram(p)
      #expect(parallel.tasks.count >= 3, "\(p)")
      #expect(parallel.stepCount >= 14)
      // A free run by a task other than the one that allocated the block.
      var maker: [Int: Int] = [:]
      for task in parallel.tasks {
        for step in task {
          if let d = step.defines { maker[d] = step.thread }
        }
      }
      if parallel.tasks.joined().contains(where: { s in
        if case .free(let r?) = s.op, let m = maker[r.id] { return m != s.thread }
        return false
      }) { crossThread += 1 }
    }
    #expect(crossThread >= 35, "only \(crossThread) of 50 programs free a block on another thread")
  }

  @Test("exploring generated programs finds a seeded race in a small budget, and the program shrinks",
        arguments: raceSeeds)
  func raceFoundAndShrunk(_ bug: MimallocBug, _ seed: UInt64) throws {
    let explorer = Explorer(bugs: [bug])
    let options = ExploreOptions(strategy: .pct, schedules: 200, seed: seed)
    let report = explorer.exploreGenerated(Self.generator, programs: 3, seed: seed, options)
    let failure = try #require(report.failure, "\(bug) not found in 3 generated programs × 200 schedules")
    let rule = try #require(failure.run.violation?.rule)
    #expect(["H6", "MI2", "MI4", "livelock"].contains(rule), "\(rule)")
    // The printed program seed regenerates the program; the printed schedule replays the failure.
    let seedOfProgram = try #require(failure.programSeed)
    #expect(Self.generator.generate(seed: seedOfProgram) == failure.program.parallel.program)
    let replay = ScheduledExecutor(bugs: [bug]).run(failure.program.parallel, schedule: failure.schedule)
    // Step for step (the last line, the violation, may name a page address, which differs between runs).
    #expect(replay.trace.dropLast() == failure.run.trace.dropLast())
    #expect(replay.violation?.rule == rule && replay.steps == failure.run.steps)
    // No interleaving, no race: the same program passes on the correct reference under that schedule.
    #expect(ScheduledExecutor().run(failure.program.parallel, schedule: failure.schedule).violation == nil)

    let (small, attempts) = explorer.shrinkProgram(failure, options, research: 60, maxAttempts: 200)
    #expect(attempts > 0)
    #expect(small.program.parallel.stepCount < failure.program.parallel.stepCount)
    #expect(small.program.parallel.stepCount <= 8, "\(ProgramText.render(small.program.parallel.program, family: "heaps"))")
    #expect(small.run.violation?.rule == rule)
    // The shrunk program fails again under its schedule, and the schedule then shrinks too.
    let again = ScheduledExecutor(bugs: [bug]).run(small.program.parallel, schedule: small.schedule)
    #expect(again.violation?.rule == rule)
    let shrunk = explorer.shrinkSchedule(small)
    #expect(shrunk.run.violation?.rule == rule)
    #expect(shrunk.run.switchPoints.count <= small.run.switchPoints.count)
  }

  @Test("the correct reference passes a fixed budget of generated programs")
  func referencePasses() {
    let report = Explorer().exploreGenerated(Self.generator, programs: 12, seed: 7, ExploreOptions(strategy: .pct, schedules: 60, seed: 7))
    #expect(report.failure == nil, "\(String(describing: report.failure?.run.violation)) in \(String(describing: report.failure?.programSeed))")
    #expect(report.programs == 12 && report.schedules == 12 * 60)
  }
}

@Suite("Schedule fuzz target")
struct HeapsScheduleTargetTests {
  static let t = HeapsScheduleTarget.target
  static let remoteFrees = ExploreScenarios.all.first { $0.name == "remote-frees" }!

  @Test("every schedule the format can name round-trips through its bytes", arguments: [
    "pct:1:16:0x0", "pct:3:64:0x1", "pct:4:256:0xffffffff", "random:0x2a", "switches:none", "switches:1t0,2t7,258t3",
  ])
  func roundTrip(_ text: String) throws {
    let schedule = try Schedule.parse(text)
    let header = try #require(HeapsScheduleTarget.header(schedule))
    let program = Self.remoteFrees.parallel.program
    let bytes = header + OpEncoder.encodeHeaps(program)
    let split = HeapsScheduleTarget.split(bytes)
    #expect(split.schedule == schedule)
    #expect(Self.t.decode(bytes) == program)
    #expect(Self.t.canonicalBytes(bytes) == bytes)
    #expect(Self.t.inputComments(bytes).first?.contains("\(schedule)") == true)
  }

  @Test("a schedule the format cannot name is refused (nil), and any bytes decode to a schedule and a valid program")
  func refusalsAndTotality() {
    for s: Schedule in [.pct(depth: 5, steps: 64, seed: 1), .pct(depth: 3, steps: 65, seed: 1), .pct(depth: 3, steps: 512, seed: 1),
                        .random(seed: 1 << 40), .switches([SwitchPoint(step: 300, thread: 1)]),
                        .switches([SwitchPoint(step: 3, thread: 8)]), .switches((1...9).map { SwitchPoint(step: $0, thread: 1) })] {
      #expect(HeapsScheduleTarget.header(s) == nil, "\(s)")
    }
    var rng = SeededRandom(seed: 3)
    for n in 0..<200 {
      let bytes = (0..<(n % 60)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
      let p = Self.t.decode(bytes)
      #expect(p.isValid && p.ops.count <= HeapsScheduleTarget.maxOps)
      // The split's schedule prints and parses back.
      let s = HeapsScheduleTarget.split(bytes).schedule
      #expect((try? Schedule.parse("\(s)")) == s)
    }
  }

  @Test("the target's body reports a seeded race under the schedule that shows it, and passes without the bug",
        arguments: [MimallocBug.remoteFreeWithoutCAS, .delayedFreeingLostUpdate])
  func findsSeededRace(_ bug: MimallocBug) throws {
    // A failing schedule from the explorer, shrunk to a few switch points (the byte form holds 8).
    let explorer = Explorer(bugs: [bug])
    let failure = try #require(explorer.explore([Self.remoteFrees], ExploreOptions(strategy: .exhaustive, schedules: 400)).failure)
    let schedule = explorer.shrinkSchedule(failure).schedule
    let bytes = try #require(HeapsScheduleTarget.input(schedule, Self.remoteFrees.parallel.program))
    let buggy = try #require(Self.t.makeAdapter([bug.rawValue]))
    let v = try #require(Self.t.run(bytes, on: buggy), "\(bug) not reported under \(schedule)")
    #expect(v.rule == failure.run.violation?.rule)
    let triage = CrashTriage.triage(Self.t, bytes, on: buggy)
    #expect(triage.line.hasPrefix("alloc-check: \(v.rule) at op ") && triage.line.contains("[schedule \(schedule)]"))
    let clean = try #require(Self.t.makeAdapter([]))
    #expect(Self.t.run(bytes, on: clean) == nil)
    // The committed seeds pass on the correct reference under their schedule.
    for seed in FuzzCorpusFiles.seedFiles(Self.t) where seed.name.hasSuffix(".bin") {
      #expect(Self.t.run(seed.bytes, on: clean) == nil, "\(seed.name)")
    }
  }
}
