// TraceBenchTests.swift — the trace benchmark's decode and replay (Harness/Bench): a pre-decoded program
// replayed on the reference pymalloc places every pool block where the executor places it and frees
// everything; on the reference mimalloc it leaves no block in use. Each check is shown to fail on a
// deliberately wrong decode (a dropped free, a changed size). The timings themselves are not tested (R7).

import AllocUnderTest
import Harness
import Oracle
import Testing

/// Records, for every block a replay gets, its placement as the executor's X2 observation spells it.
private final class PlacementLog {
  var lines: [String] = []
}

private struct RecordingPymalloc: TraceAllocator {
  let adapter: PymallocAdapter
  let log: PlacementLog
  var inner: ReferencePymallocTrace { ReferencePymallocTrace(adapter.allocator) }
  func note(_ a: Int) -> Int {
    if a != 0, adapter.ownsSmall(a), let p = adapter.placement(of: a) { log.lines.append("\(p), usable \(adapter.usableSize(a))") }
    return a
  }
  func malloc(_ n: UInt64) -> Int { note(inner.malloc(n)) }
  func calloc(_ count: UInt64, _ size: UInt64) -> Int { note(inner.calloc(count, size)) }
  func realloc(_ address: Int, _ n: UInt64) -> Int { note(inner.realloc(address, n)) }
  func mallocAligned(_ n: UInt64, alignment: UInt64) -> Int { inner.mallocAligned(n, alignment: alignment) }
  func free(_ address: Int) { inner.free(address) }
}

@Suite("Trace benchmark")
struct TraceBenchTests {
  static let noChecks = OracleConfig(rules: [], invariants: [], invariantsEvery: 0, sweepEvery: 0, statsEvery: 0)

  /// What is wrong with replaying `trace` (decoded from `program`) on a fresh reference pymalloc: placements
  /// that differ from the executor's, and blocks left allocated. Empty iff the replay is faithful.
  static func pymallocProblems(_ program: Program, _ trace: Trace) -> [String] {
    let run = Executor.run(program, on: PymallocAdapter(), config: ExecutorConfig(oracle: noChecks, recordTrace: false, observe: true))
    let expected = run.observations.filter { $0.rule == .samePlacement }.map(\.value)
    let adapter = PymallocAdapter()
    let log = PlacementLog()
    var slots = [Int](repeating: 0, count: trace.slotCount)
    TraceReplay.run([trace], on: RecordingPymalloc(adapter: adapter, log: log), slots: &slots)
    var problems: [String] = []
    // The executor stops comparing at a request above 1 GiB (the OS decides): compare up to there.
    if run.observations.contains(where: { $0.value.hasPrefix("not compared") }) { log.lines = Array(log.lines.prefix(expected.count)) }
    let common = min(expected.count, log.lines.count)
    if let k = (0..<common).first(where: { expected[$0] != log.lines[$0] }) ?? (expected.count != log.lines.count ? common : nil) {
      problems.append("placement \(k): executor \(k < expected.count ? expected[k] : "none"), replay \(k < log.lines.count ? log.lines[k] : "none")")
    }
    let left = adapter.allocator.allocatedBlocks
    if left != 0 { problems.append("\(left) blocks still allocated after the replay") }
    return problems
  }

  static func pymallocPrograms() -> [Program] {
    let g = ProgramGenerator(length: 300)
    return (0..<12).map { g.generate(seed: BugHunt.programSeed(0x7ace, $0)) }
  }

  @Test("a pre-decoded pymalloc program places every pool block where the executor does and frees them all")
  func pymallocReplayMatchesExecutor() {
    for (k, p) in Self.pymallocPrograms().enumerated() {
      #expect(Self.pymallocProblems(p, Trace(p)) == [], "program \(k)")
    }
  }

  @Test("a decode that drops a free leaves a block allocated, and one that changes a size moves a block")
  func wrongDecodesAreCaught() throws {
    let p = try #require(Self.pymallocPrograms().first { Trace($0).steps.contains { $0.kind == .free && $0.source >= 0 } })
    var dropped = Trace(p)
    let f = try #require(dropped.steps.firstIndex { $0.kind == .free && $0.source >= 0 })
    dropped.steps.remove(at: f)
    #expect(Self.pymallocProblems(p, dropped).contains { $0.contains("still allocated") })

    var resized = Trace(p)
    let m = try #require(resized.steps.firstIndex { $0.kind == .malloc && $0.a >= 1 && $0.a <= 256 })
    resized.steps[m].a += 256  // another size class: another pool
    #expect(Self.pymallocProblems(p, resized).contains { $0.hasPrefix("placement") })
  }

  @Test("decode: a failed realloc renames its block, huge heaps requests are skipped, teardown releases the rest")
  func decodeShape() throws {
    let p = try ProgramText.parse("""
      # alloc-check program v1
      p0 = malloc(24)
      p1 = realloc(p0, 100)
      p2 = malloc(2199023255552)
      p3 = calloc(2, 8)
      p4 = realloc(p3, 2199023255552)
      free(p1)
      """)
    let t = Trace(p)
    #expect(t.slotCount == 5)
    #expect(t.steps.map(\.kind) == [.malloc, .realloc, .malloc, .calloc, .realloc, .free, .release, .release])
    #expect(t.steps[1].source == 0 && t.steps[1].slot == 1)
    #expect(t.steps.suffix(2).map(\.source) == [2, 4], "p2 and p4 are held at the end; p0 and p3 were consumed")
    let heaps = Trace(p, family: .heaps)
    #expect(heaps.steps.map(\.kind) == [.malloc, .realloc, .calloc, .rename, .free, .release, .release])

    // Replayed: p4's realloc fails (2 TiB), so slot 4 holds p3's block, which the teardown frees.
    let ref = Pymalloc()
    var slots = [Int](repeating: 0, count: t.slotCount)
    TraceReplay.run([t], on: ReferencePymallocTrace(ref), slots: &slots)
    #expect(slots[3] == 0 && slots[4] != 0 && ref.allocatedBlocks == 0)
  }

  @Test("a pre-decoded heaps program on the reference mimalloc leaves no block in use; a dropped free does")
  func heapsReplayFreesEverything() throws {
    let g = HeapsProgramGenerator(length: 300)
    let traces = (0..<8).map { Trace(g.generate(seed: BugHunt.programSeed(0x4ea9, $0)), family: .heaps) }
    func blocksLeft(_ trace: Trace) -> Int {
      let m = Mimalloc()
      let t0 = m.mainThread
      var slots = [Int](repeating: 0, count: trace.slotCount)
      TraceReplay.run([trace], on: ReferenceMimallocTrace(heap: t0.backing, thread: t0), slots: &slots)
      return m.stats().blocksInUse
    }
    for (k, t) in traces.enumerated() { #expect(blocksLeft(t) == 0, "program \(k)") }
    var dropped = try #require(traces.first { $0.steps.contains { $0.kind == .free && $0.source >= 0 } })
    let f = try #require(dropped.steps.firstIndex { $0.kind == .free && $0.source >= 0 })
    dropped.steps.remove(at: f)
    #expect(blocksLeft(dropped) == 1)
  }
}
