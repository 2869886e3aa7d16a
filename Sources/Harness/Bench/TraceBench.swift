// TraceBench.swift — the trace benchmark (issue 12): the same pre-decoded programs (``Trace``) replayed on
// the reference allocator, the real one it models and glibc, single thread, no executor and no oracle.
// Each repetition times every allocator once, in a rotating order, so machine noise hits all alike; a row
// reports the median ns per step over the repetitions. Entry point: ``TraceBench/run(family:traces:repeats:)``.
// A measurement, not a test (style R7); `alloc-check bench --trace` prints it.
//
// Pymalloc family: reference ``Pymalloc`` | CPython 3.11's obmalloc | glibc. Heaps family: t0's backing
// heap of the reference ``Mimalloc`` | libmimalloc 2.0.9's main-thread backing heap (every call on
// ``LibMimalloc/main``) | glibc. Each allocator keeps its state across repetitions (no reset: the real ones
// cannot), and every trace frees all it allocates. A real peer that cannot be loaded or claimed is a skip.

import AllocUnderTest

public enum TraceBench {
  /// One allocator's figures: the median and every repetition's ns per step.
  public struct Row: Sendable {
    public var name: String
    public var nsPerStep: Double
    public var runs: [Double]
  }

  /// The table: the rows (reference first), the name of the real allocator the reference models, and the
  /// peers that were skipped with why.
  public struct Report: Sendable {
    public var rows: [Row]
    public var real: String
    public var skipped: [(name: String, reason: String)]
    public var steps: Int

    /// `row.nsPerStep / real.nsPerStep`, if the real allocator ran.
    public func ratio(_ row: Row) -> Double? {
      guard let r = rows.first(where: { $0.name == real }), r.nsPerStep > 0 else { return nil }
      return row.nsPerStep / r.nsPerStep
    }
  }

  /// A contestant: its name and one timed replay of every trace.
  struct Contestant {
    var name: String
    var replay: () -> Duration
  }

  /// Replays `traces` `repeats` times on each allocator of `family` (pymalloc or heaps).
  public static func run(family: ProgramFamily, traces: [Trace], repeats: Int) -> Report {
    precondition(family != .domains, "the trace benchmark replays pymalloc- and heaps-family programs")
    let slotCount = traces.map(\.slotCount).max() ?? 0
    let steps = traces.reduce(0) { $0 + $1.steps.count }
    var contestants: [Contestant] = []
    var skipped: [(String, String)] = []
    // Claims and objects that must outlive the timing; released when this function returns.
    var keep: [AnyObject] = []
    var release: [() -> Void] = []
    defer { for r in release.reversed() { r() } }

    func timed<A: TraceAllocator>(_ a: A) -> () -> Duration {
      var slots = [Int](repeating: 0, count: slotCount)
      return {
        let clock = ContinuousClock()
        return clock.measure { TraceReplay.run(traces, on: a, slots: &slots) }
      }
    }

    let real: String
    switch family {
    case .pymalloc, .domains:
      real = "cpython"
      let ref = Pymalloc()
      keep.append(ref)
      contestants.append(Contestant(name: "reference", replay: timed(ReferencePymallocTrace(ref))))
      do throws(PeerUnavailable) {
        let adapter = try CPythonAdapter()  // claims libpython and installs its tables; releases on deinit
        keep.append(adapter)
        contestants.append(Contestant(name: "cpython", replay: timed(CPythonPymallocTrace(adapter.peer))))
      } catch { skipped.append(("cpython", "\(error)")) }
    case .heaps:
      real = "libmimalloc"
      let ref = Mimalloc()
      keep.append(ref)
      let t0 = ref.mainThread
      contestants.append(Contestant(name: "reference", replay: timed(ReferenceMimallocTrace(heap: t0.backing, thread: t0))))
      do throws(PeerUnavailable) {
        let lib = try LibMimalloc.shared()
        if lib.holder.claim("trace bench") {
          release.append { lib.holder.release() }
          let heap = lib.main.run { lib.backingHeap() }
          let replay = timed(LibMimallocTrace(lib: lib, heap: heap))
          contestants.append(Contestant(name: "libmimalloc", replay: { lib.main.run(replay) }))
        } else {
          skipped.append(("libmimalloc", "its main thread is in use by \(lib.holder.holderName ?? "another user")"))
        }
      } catch { skipped.append(("libmimalloc", "\(error)")) }
    }
    do throws(PeerUnavailable) {
      contestants.append(Contestant(name: "glibc", replay: timed(CHeapTrace(try CHeapPeer.shared(.glibc)))))
    } catch { skipped.append(("glibc", "\(error)")) }

    // Warm-up: page in the code, map the first arenas and segments.
    for c in contestants { _ = c.replay() }
    var runs = Array(repeating: [Double](), count: contestants.count)
    for r in 0..<max(repeats, 1) {
      for k in 0..<contestants.count {
        let i = (k + r) % contestants.count  // rotate the order: no allocator always runs first
        runs[i].append(contestants[i].replay().nanoseconds / Double(max(steps, 1)))
      }
    }
    withExtendedLifetime(keep) {}
    let rows = zip(contestants, runs).map { c, r in Row(name: c.name, nsPerStep: median(r), runs: r) }
    return Report(rows: rows, real: real, skipped: skipped, steps: steps)
  }

  /// The median of `xs` (the mean of the middle two for an even count; 0 when empty).
  public static func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    guard !s.isEmpty else { return 0 }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
  }
}

extension Duration {
  /// Seconds as a Double, for rates and time boxes.
  public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }

  var nanoseconds: Double {
    let (s, a) = components
    return Double(s) * 1e9 + Double(a) / 1e9
  }
}
