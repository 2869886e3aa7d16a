// Schedule.swift — what a controlled run's scheduler decides, and how it is written down (issue 14).
// At every yield point (an atomic step of the mimalloc reference's shared state, a spin-wait, or the
// boundary between two ops) the scheduler picks the task that runs next among the enabled ones. The
// *default* pick keeps the current task running (a spin-wait hands over to the next enabled task in
// turn; a finished or blocked task to the lowest enabled one). A schedule is one of:
//
//   random:SEED            uniform random walk: every pick uniform among the enabled tasks
//   pct:D:K:SEED           PCT (Burckhardt et al., ASPLOS 2010): random task priorities, D−1 priority
//                          change points among the first K steps; the highest-priority enabled task runs
//   switches:12t1,40t0     explicit: at step 12 switch to t1, at step 40 to t0; default picks elsewhere
//   switches:none          no switch at all (the default picks only)
//
// Every run records its switch points (the steps where the pick differed from the default), so a run of
// any strategy can also be replayed from its `switches:` form; the exhaustive search enumerates those.

import AllocUnderTest

/// At step `step`, run task (logical thread) `thread` instead of the default pick.
public struct SwitchPoint: Hashable, Sendable {
  public var step: Int
  public var thread: Int
  public init(step: Int, thread: Int) {
    self.step = step
    self.thread = thread
  }
}

public enum Schedule: Hashable, Sendable, CustomStringConvertible {
  case random(seed: UInt64)
  case pct(depth: Int, steps: Int, seed: UInt64)
  case switches([SwitchPoint])

  public var description: String {
    switch self {
    case .random(let seed): "random:\(FailureReport.hex(seed))"
    case .pct(let d, let k, let seed): "pct:\(d):\(k):\(FailureReport.hex(seed))"
    case .switches(let points):
      "switches:" + (points.isEmpty ? "none" : points.map { "\($0.step)t\($0.thread)" }.joined(separator: ","))
    }
  }

  /// Parses the text form above; the error names what is wrong.
  public static func parse(_ text: String) throws(ScheduleError) -> Schedule {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    func number(_ s: String, _ what: String) throws(ScheduleError) -> UInt64 {
      let v = s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s)
      guard let v else { throw ScheduleError(text: text, why: "\(what) '\(s)' is not a number") }
      return v
    }
    switch parts.first {
    case "random":
      guard parts.count == 2 else { throw ScheduleError(text: text, why: "expected random:SEED") }
      return .random(seed: try number(parts[1], "seed"))
    case "pct":
      guard parts.count == 4 else { throw ScheduleError(text: text, why: "expected pct:DEPTH:STEPS:SEED") }
      let d = try number(parts[1], "depth"), k = try number(parts[2], "steps")
      guard d >= 1, d <= 64 else { throw ScheduleError(text: text, why: "depth must be 1…64") }
      guard k >= 1, k <= 1 << 30 else { throw ScheduleError(text: text, why: "steps must be 1…2^30") }
      return .pct(depth: Int(d), steps: Int(k), seed: try number(parts[3], "seed"))
    case "switches":
      guard parts.count == 2 else { throw ScheduleError(text: text, why: "expected switches:STEPtTHREAD,… or switches:none") }
      if parts[1] == "none" { return .switches([]) }
      var points: [SwitchPoint] = []
      for item in parts[1].split(separator: ",", omittingEmptySubsequences: false) {
        let halves = item.split(separator: "t", omittingEmptySubsequences: false)
        guard halves.count == 2, let step = Int(halves[0]), let thread = Int(halves[1]), step >= 0, thread >= 0 else {
          throw ScheduleError(text: text, why: "'\(item)' is not STEPtTHREAD (e.g. 12t1)")
        }
        if let last = points.last, last.step >= step {
          throw ScheduleError(text: text, why: "switch steps must increase (\(last.step) then \(step))")
        }
        points.append(SwitchPoint(step: step, thread: thread))
      }
      return .switches(points)
    default:
      throw ScheduleError(text: text, why: "expected random:SEED, pct:DEPTH:STEPS:SEED or switches:…")
    }
  }
}

public struct ScheduleError: Error, Equatable, CustomStringConvertible {
  public var text: String
  public var why: String
  public var description: String { "bad schedule '\(text)': \(why)" }
}

/// One decision: the step number, the task that was running (nil at the start or when it finished or
/// blocked), the kind of yield point, and the tasks that could run.
struct Decision {
  var step: Int
  var current: Int?
  var kind: YieldKind
  var enabled: [Int]

  /// The pick a schedule without a switch point here makes.
  var defaultPick: Int {
    guard let current, enabled.contains(current) else { return enabled[0] }
    if kind == .spin, enabled.count > 1 { return enabled.first { $0 > current } ?? enabled[0] }
    return current
  }
  /// Would picking `t` preempt a task that could go on (the exhaustive search's bound counts these)?
  func preempts(_ t: Int) -> Bool {
    guard let current, enabled.contains(current), t != current else { return false }
    return kind != .spin  // a spinning task gives way anyway
  }
}

/// A strategy, instantiated from a ``Schedule`` for one run.
protocol Picker {
  mutating func pick(_ d: Decision) -> Int
}

struct SwitchPicker: Picker {
  var points: [SwitchPoint]
  var next = 0
  mutating func pick(_ d: Decision) -> Int {
    while next < points.count, points[next].step < d.step { next += 1 }
    if next < points.count, points[next].step == d.step, d.enabled.contains(points[next].thread) {
      return points[next].thread
    }
    return d.defaultPick
  }
}

struct RandomPicker: Picker {
  var rng: SeededRandom
  mutating func pick(_ d: Decision) -> Int {
    var choices = d.enabled
    if d.kind == .spin, let c = d.current, choices.count > 1 { choices.removeAll { $0 == c } }
    return choices[Int(rng.next() % UInt64(choices.count))]
  }
}

/// PCT: task t starts with a distinct random priority ≥ depth; at the i-th change point (a random step
/// among the first `steps`), the running task drops to priority depth − i (below every initial one). A
/// spinning task drops below everything so far, so the task it waits for can run.
struct PCTPicker: Picker {
  var priority: [Int: Int] = [:]
  var changeAt: [Int: Int] = [:]
  var rng: SeededRandom
  let depth: Int
  var lowest: Int

  init(depth: Int, steps: Int, seed: UInt64, tasks: [Int]) {
    rng = SeededRandom(seed: seed)
    self.depth = depth
    var order = tasks
    for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
    for (rank, t) in order.enumerated() { priority[t] = depth + rank }
    for i in 1..<max(depth, 1) { changeAt[Int(rng.next() % UInt64(steps)) + 1] = depth - i }
    lowest = 0
  }

  mutating func pick(_ d: Decision) -> Int {
    if let c = d.current {
      if let p = changeAt[d.step] { priority[c] = p; lowest = min(lowest, p) }
      if d.kind == .spin, d.enabled.count > 1 { lowest -= 1; priority[c] = lowest }
    }
    return d.enabled.max { priority[$0, default: 0] < priority[$1, default: 0] }!
  }

  /// The probability PCT's theorem guarantees for one run to hit a given bug of depth `depth` in a program
  /// of `tasks` threads and `steps` steps: 1 / (n · k^(d−1)).
  static func guarantee(tasks: Int, steps: Int, depth: Int) -> Double {
    1 / (Double(tasks) * pow(Double(steps), Double(depth - 1)))
  }
}

private func pow(_ x: Double, _ n: Double) -> Double {
  var r = 1.0
  for _ in 0..<Int(n) { r *= x }
  return r
}
