// HeapsSchedule.swift — the schedule fuzz target (`fuzz-heaps-schedule-ops`, corpus `corpus/heaps-schedule/`,
// issue 14): an input is a schedule of the controlled scheduler followed by a small heaps-family program,
// which runs in parallel (ParallelProgram: each logical thread on its own OS thread, one at a time, switched
// at every atomic step of mimalloc's shared state) on the reference mimalloc under that schedule, judged by
// ScheduledExecutor (O8 O1 O3 O2 and O13 while the threads run; MI1–MI7, teardown, settle, H6, H7 after;
// a livelock is a violation). libFuzzer mutates the program and the schedule together, so it searches
// interleavings inside the cross-thread free protocol that `fuzz-heaps-ops` (each op atomic) cannot reach.
//
// Input format "heaps schedule v1" (every byte string is valid; missing bytes read as 0):
//   byte 0   k: k & 3 = 0 or 1: PCT, depth 1 + (k >> 2) & 3 (1…4), K = 16 · (1 + k >> 4) steps (16…256);
//            2: uniform random walk; 3: explicit switch points
//   PCT, random: bytes 1…4, the schedule's seed (UInt32, little-endian)
//   switches:    byte 1 = n, n % 9 switch points follow as (d, t) byte pairs: the step is the previous
//                one + 1 + d, the thread t % 8
//   then         a heaps family v1 program (OpDecoder.decodeHeaps), at most ``HeapsScheduleTarget/maxOps`` ops
// The schedule prints in its text form (`pct:3:64:0x2a`, `random:0x7`, `switches:12t1,…`), and a crash
// replays as `alloc-check repro FILE` (program, schedule, trace) or `alloc-check run PROGRAM --schedule S`.
// Seeded bugs: `ALLOC_CHECK_BUGS=name,…` (the mimalloc half of `alloc-check bugs`); the races
// remoteFreeWithoutCAS and delayedFreeingLostUpdate need an interleaving, which this target finds.

import AllocUnderTest
import Harness
import Oracle

public enum HeapsScheduleTarget {
  /// Most ops decoded from one input: parallel programs stay short (a schedule is worth more than length).
  public static let maxOps = 32
  /// The schedule of encoded seeds (``FuzzTarget/encode``): PCT depth 3 over the first 64 steps, seed 1.
  public static let defaultSchedule = Schedule.pct(depth: 3, steps: 64, seed: 1)

  public static let target: FuzzTarget = {
    var t = FuzzTarget(
      name: "heaps-schedule",
      product: "fuzz-heaps-schedule-ops",
      summary: "a schedule + a small parallel heaps program on mimalloc under the controlled scheduler (cross-thread free races)",
      family: "heaps",
      bugNames: MimallocBug.allCases.map(\.rawValue),
      decode: { OpDecoder.decodeHeaps(Array(split($0).program), maxOps: maxOps) },
      encode: { header(defaultSchedule)! + OpEncoder.encodeHeaps($0) },
      makeAdapter: { names in HeapsOpsTarget.bugs(names).map { MimallocAdapter(bugs: $0) } },
      dictionary: HeapsSeeds.dictionary,
      seeds: seeds
    )
    t.oracle = .heaps
    t.scheduled = ScheduledFormat(split: split, header: header)
    return t
  }()

  /// The schedule an input names, and its program's bytes.
  public static func split(_ bytes: [UInt8]) -> (schedule: Schedule, program: ArraySlice<UInt8>) {
    func byte(_ i: Int) -> UInt8 { i < bytes.count ? bytes[i] : 0 }
    func seed() -> UInt64 { (1...4).reduce(0) { $0 | UInt64(byte($1)) << (8 * UInt64($1 - 1)) } }
    let k = byte(0)
    switch k & 3 {
    case 2:
      return (.random(seed: seed()), bytes.dropFirst(5))
    case 3:
      let n = Int(byte(1) % 9)
      var step = 0
      var points: [SwitchPoint] = []
      for i in 0..<n {
        step += 1 + Int(byte(2 + 2 * i))
        points.append(SwitchPoint(step: step, thread: Int(byte(3 + 2 * i) % 8)))
      }
      return (.switches(points), bytes.dropFirst(2 + 2 * n))
    default:
      return (.pct(depth: 1 + Int((k >> 2) & 3), steps: 16 * (1 + Int(k >> 4)), seed: seed()), bytes.dropFirst(5))
    }
  }

  /// The bytes that name `schedule` (nil when the format cannot: a PCT depth above 4, K not a multiple of 16
  /// in 16…256, a seed above 2³² − 1, more than 8 switch points, gaps above 256 steps, threads above t7).
  public static func header(_ schedule: Schedule) -> [UInt8]? {
    func seed(_ s: UInt64) -> [UInt8]? { s <= UInt64(UInt32.max) ? (0..<4).map { UInt8(truncatingIfNeeded: s >> (8 * $0)) } : nil }
    switch schedule {
    case .pct(let d, let k, let s):
      guard (1...4).contains(d), k % 16 == 0, (16...256).contains(k), let bytes = seed(s) else { return nil }
      return [UInt8(k / 16 - 1) << 4 | UInt8(d - 1) << 2] + bytes
    case .random(let s):
      return seed(s).map { [2] + $0 }
    case .switches(let points):
      guard points.count <= 8 else { return nil }
      var out: [UInt8] = [3, UInt8(points.count)]
      var step = 0
      for p in points {
        guard p.step - step >= 1, p.step - step <= 256, (0..<8).contains(p.thread) else { return nil }
        out += [UInt8(p.step - step - 1), UInt8(p.thread)]
        step = p.step
      }
      return out
    }
  }

  /// An input from a schedule and a program (nil when the schedule has no byte form).
  public static func input(_ schedule: Schedule, _ program: Program) -> [UInt8]? {
    header(schedule).map { $0 + OpEncoder.encodeHeaps(program) }
  }

  /// The committed seeds: the explore scenarios (the cross-thread free protocol's races) and two heaps seeds
  /// with threads, under the default schedule.
  static var seeds: [(name: String, comment: String, program: Program)] {
    ExploreScenarios.all.map { ($0.name, "Explore scenario \($0.name) (Sources/Harness/Explore/ExploreScenarios.swift).", $0.parallel.program) }
      + HeapsSeeds.programs.filter { ["cross-thread-free", "abandon-reclaim"].contains($0.name) && $0.program.ops.count <= maxOps }
      .map { ("heaps-" + $0.name, $0.comment, $0.program) }
  }
}
