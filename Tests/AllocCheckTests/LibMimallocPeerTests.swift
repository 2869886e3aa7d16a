// LibMimallocPeerTests.swift — the `mimalloc` peer (libmimalloc 2.0.9, real OS threads): the committed heaps
// corpus and generated programs of every profile pass the peer's oracle (the heaps oracle less what the
// library cannot answer, PeerAdapters.oracle), and a deliberately broken wrapper around the adapter is
// caught, so the peer path's checks can fail. Skipped where the library is missing, except under CI=true,
// where a missing peer fails. ALLOC_CHECK_PEER_PROGRAMS=N and ALLOC_CHECK_PEER_LENGTH=L run N generated
// programs of L ops per profile (default 40 of 150); ALLOC_CHECK_PEER_STRESS_OPS the stress run's ops.

import AllocUnderTest
import Foundation
import Harness
import Oracle
import Stress
import Testing

enum LibMimallocPeer {
  /// CI must have the peer; elsewhere the suite runs only if the library loads.
  static let runnable: Bool = ProcessInfo.processInfo.environment["CI"] == "true" || (try? LibMimalloc.shared()) != nil
  static let oracle = PeerAdapters.oracle(for: .mimalloc, family: .heaps, base: .heaps)
  static func adapter() throws -> HeapsAdapter {
    try PeerAvailability.waitingForClaim { try #require(try PeerAdapters.make(.mimalloc, family: .heaps) as? HeapsAdapter) }
  }
  static var programsPerProfile: Int {
    Int(ProcessInfo.processInfo.environment["ALLOC_CHECK_PEER_PROGRAMS"] ?? "") ?? 40
  }
  static var programLength: Int {
    Int(ProcessInfo.processInfo.environment["ALLOC_CHECK_PEER_LENGTH"] ?? "") ?? 150
  }
}

@Suite("libmimalloc peer", .serialized, .enabled(if: LibMimallocPeer.runnable))
struct LibMimallocPeerTests {
  @Test("the library is 2.0.9 and t0 runs on mimalloc's main thread")
  func loads() throws {
    let lib = try LibMimalloc.shared()
    #expect(lib.version == 209, "mi_version() = \(lib.version); Documentation/MimallocVersions.md describes 2.0.9")
    #expect(lib.mainIsLibraryMain)
    #expect(try LibMimallocPeer.adapter().name == "mimalloc-2.0.9")
  }

  @Test("each heaps corpus file passes the peer's oracle", arguments: Corpus.files.filter { $0.hasPrefix("heaps/") && $0.hasSuffix(".txt") })
  func corpus(_ file: String) throws {
    let adapter = try LibMimallocPeer.adapter()
    let verdict = Executor.run(try Corpus.program(file), on: adapter, config: ExecutorConfig(oracle: LibMimallocPeer.oracle))
    #expect(verdict.passed, "corpus/\(file): \(verdict.violation.map { "\($0)" } ?? "")\n\(verdict.trace.suffix(12).map { "\($0.text)  \($0.result)" }.joined(separator: "\n"))")
  }

  /// The fuzz input that hung heaps-diff in CI: libmimalloc's calloc of 4 GiB touches every page (seconds of
  /// kernel time). The adapter refuses requests above 1 GiB without calling the library, which O8 allows;
  /// 1 GiB itself is still served.
  @Test("requests above 1 GiB are refused without a call into the library; the oracle accepts the refusal")
  func hugeRequestsRefused() throws {
    let adapter = try LibMimallocPeer.adapter()
    let program = try ProgramText.parse("""
      # alloc-check program v1
      # family: heaps
      p0 = calloc(65536, 65536)
      p1 = malloc(2147483648)
      p2 = malloc(48)
      p3 = realloc(p2, 4294967296)
      """)
    let verdict = Executor.run(program, on: adapter, config: ExecutorConfig(oracle: LibMimallocPeer.oracle, recordTrace: true))
    #expect(verdict.passed, "\(verdict.violation.map { "\($0)" } ?? "")")
    let results = verdict.trace.map(\.result)
    #expect(results.prefix(2).allSatisfy { $0 == "→ NULL" } && results[3] == "→ NULL", "\(results)")
    #expect(adapter.calloc(65536, 65536) == nil && adapter.malloc(1 << 31) == nil)
    let gib = adapter.malloc(1 << 30)
    #expect(gib != nil)
    adapter.free(gib)
  }

  @Test("generated programs of every profile pass the peer's oracle", arguments: HeapsProgramGenerator.Profile.allCases)
  func generated(_ profile: HeapsProgramGenerator.Profile) throws {
    let adapter = try LibMimallocPeer.adapter()
    var failures: [String] = []
    let n = LibMimallocPeer.programsPerProfile
    for seed in UInt64(1)...UInt64(n) {
      let program = HeapsProgramGenerator(length: LibMimallocPeer.programLength, profile: profile).generate(seed: seed)
      let verdict = Executor.run(program, on: adapter, config: ExecutorConfig(oracle: LibMimallocPeer.oracle, runSeed: seed))
      if let v = verdict.violation { failures.append("seed \(seed): \(v)") }
    }
    print("libmimalloc peer: \(n) \(profile) programs of \(LibMimallocPeer.programLength) ops, \(failures.count) violations")
    #expect(failures.isEmpty, "\(failures.count) of \(n) \(profile) programs failed; first: \(failures.prefix(3))")
  }

  /// Row V3 of Documentation/MimallocVersions.md: 2.0.9 lets a `mi_heap_new` heap reclaim a dead thread's
  /// segment (src/segment.c `mi_segment_try_reclaim` never reads `no_reclaim`). t1 leaves two segments
  /// abandoned; t2's spawn reclaims one into its backing heap (the heap structs), and h0's first large block
  /// needs a span no segment of t2 has, so h0 takes the other, with t1's live blocks in it.
  @Test("H1 shows 2.0.9's reclaim into a mi_heap_new heap (row V3)")
  func reclaimHazardIsReal() throws {
    let program = try ProgramText.parse("""
      # alloc-check program v1
      # family: heaps
      t1 = spawn()
      thread(t1)
      p0 = malloc(12000000)
      p1 = malloc(12000000)
      p2 = malloc(12000000)
      exit()
      t2 = spawn()
      thread(t2)
      h0 = heap_new()
      p3 = heap_malloc(h0, 12000000)
      """)
    let v = Executor.run(program, on: try LibMimallocPeer.adapter(), config: ExecutorConfig(oracle: LibMimallocPeer.oracle)).violation
    print("libmimalloc peer, row V3: \(v.map { "\($0)" } ?? "no violation")")
    #expect(v?.rule == RuleID.heapMembership.rawValue, "\(v.map { "\($0)" } ?? "no violation")")
  }

  @Test("4 real threads on libmimalloc pass S1 and S2; S3–S6 are reported not checked; nothing is left in use")
  func stress() throws {
    let allocator = try PeerAvailability.waitingForClaim { try LibMimallocStress() }
    var p = StressParameters(threads: 4, operations: Int(ProcessInfo.processInfo.environment["ALLOC_CHECK_PEER_STRESS_OPS"] ?? "") ?? 40_000, seed: 0x57E5)
    p.churnEvery = 1000
    p.roundOperations = 20_000
    let r = StressRun.run(p, allocator: allocator)
    #expect(r.passed, "\(r.failures)")
    #expect(Set(r.notChecked.keys) == ["S3", "S4", "S5", "S6"])
    #expect(r.canaryChecks > 0 && r.crossThreadFrees > 0 && r.churns > 0, "canaries \(r.canaryChecks), cross-thread \(r.crossThreadFrees), churns \(r.churns)")
    #expect(r.teardown?.blocksInUse == 0, "main thread holds \(r.teardown?.blocksInUse ?? -1) blocks after reclaiming everything")
    print("libmimalloc stress: \(r.operations) ops in \(r.seconds) s, \(r.crossThreadFrees) cross-thread frees, \(r.churns) churns, "
          + "\(r.canaryChecks) canary checks, teardown \(r.teardown.map { "\($0.blocksInUse) blocks, \($0.segments) segments" } ?? "-")")
  }

  @Test("the differential's observations of the reference and the peer line up op by op")
  func observations() throws {
    let peer = try LibMimallocPeer.adapter()
    let reference = MimallocAdapter()
    var facts = 0, differing: [String] = []
    for profile in HeapsProgramGenerator.Profile.allCases {
      for seed in UInt64(1)...5 {
        let program = HeapsProgramGenerator(length: 150, profile: profile).generate(seed: seed)
        let (a, b) = (HeapsObservation.observe(program, on: reference), HeapsObservation.observe(program, on: peer))
        #expect(a.count == b.count, "\(profile) seed \(seed): \(a.count) facts on the reference, \(b.count) on the peer")
        facts += a.count
        for (x, y) in zip(a, b) where x != y { differing.append("\(profile) \(seed): reference \(x) / peer \(y)") }
      }
    }
    print("libmimalloc differential: \(facts) facts, \(differing.count) differ; first: \(differing.prefix(6))")
    #expect(facts > 0)
  }

  @Test("H5 catches a wrapper that drops frees")
  func droppedFreeIsCaught() throws {
    let program = try ProgramText.parse("""
      # alloc-check program v1
      # family: heaps
      p0 = malloc(24)
      t1 = spawn()
      thread(t1)
      free(p0)
      thread(t0)
      collect(force)
      """)
    let honest = try LibMimallocPeer.adapter()
    #expect(Executor.run(program, on: honest, config: ExecutorConfig(oracle: LibMimallocPeer.oracle)).passed)
    let broken = BrokenPeer(honest, dropFrees: true)
    let v = Executor.run(program, on: broken, config: ExecutorConfig(oracle: LibMimallocPeer.oracle)).violation
    #expect(v?.rule == RuleID.remoteFreesReclaimed.rawValue, "\(v.map { "\($0)" } ?? "no violation")")
  }

  @Test("H4 catches a wrapper that reports usable sizes 8 bytes short")
  func shortUsableSizeIsCaught() throws {
    let program = try ProgramText.parse("""
      # alloc-check program v1
      # family: heaps
      h0 = heap_new()
      p0 = heap_malloc(h0, 20)
      heap_visit(h0)
      """)
    var oracle = LibMimallocPeer.oracle
    oracle.rules.remove(.usableSize)  // O3 would see 24 − 8 < 20 first
    let broken = BrokenPeer(try LibMimallocPeer.adapter(), shortUsable: 8)
    let v = Executor.run(program, on: broken, config: ExecutorConfig(oracle: oracle)).violation
    #expect(v?.rule == RuleID.visitExact.rawValue, "\(v.map { "\($0)" } ?? "no violation")")
  }
}

/// A heaps adapter with one seeded lie: frees dropped, usable sizes reported short, or each heap walk
/// leaving out the last block it would report (DifferentialTests: X6 on a peer).
final class BrokenPeer: HeapsAdapter {
  let base: HeapsAdapter
  let dropFrees: Bool
  let shortUsable: Int
  let dropsLastVisited: Bool
  init(_ base: HeapsAdapter, dropFrees: Bool = false, shortUsable: Int = 0, dropsLastVisited: Bool = false) {
    self.base = base
    self.dropFrees = dropFrees
    self.shortUsable = shortUsable
    self.dropsLastVisited = dropsLastVisited
  }
  var name: String { "broken " + base.name }
  func malloc(_ n: UInt64) -> Int? { base.malloc(n) }
  func calloc(_ c: UInt64, _ s: UInt64) -> Int? { base.calloc(c, s) }
  func realloc(_ a: Int?, _ n: UInt64) -> Int? { base.realloc(a, n) }
  func free(_ a: Int?) { if !dropFrees { base.free(a) } }
  func usableSize(_ a: Int) -> Int { base.usableSize(a) - shortUsable }
  func ownsSmall(_ a: Int) -> Bool { base.ownsSmall(a) }
  func isAllocated(_ a: Int) -> Bool? { base.isAllocated(a) }
  var injectedFaults: Int { base.injectedFaults }
  func snapshot() -> StatsSnapshot? { base.snapshot() }
  func statsText() -> String? { base.statsText() }
  func checkInvariants() -> [(id: String, detail: String)] { base.checkInvariants() }
  var mappedBytes: Int { base.mappedBytes }
  func reset() { base.reset() }
  func spawnThread() -> Int { base.spawnThread() }
  func switchThread(_ id: Int) { base.switchThread(id) }
  func exitThread() { base.exitThread() }
  func heapNew() -> Int { base.heapNew() }
  func heapDestroy(_ heap: Int) { base.heapDestroy(heap) }
  func heapDelete(_ heap: Int) { base.heapDelete(heap) }
  func heapCollect(_ heap: HeapRef, force: Bool) { base.heapCollect(heap, force: force) }
  func heapVisit(_ heap: HeapRef) -> [(start: Int, size: Int)] { Array(base.heapVisit(heap).dropLast(dropsLastVisited ? 1 : 0)) }
  func heapMalloc(_ heap: HeapRef, _ n: UInt64) -> Int? { base.heapMalloc(heap, n) }
  func heapMallocAligned(_ heap: HeapRef, _ n: UInt64, alignment: UInt64) -> Int? { base.heapMallocAligned(heap, n, alignment: alignment) }
  func collect(force: Bool) { base.collect(force: force) }
  func quiescent() { base.quiescent() }
  var currentThread: Int { base.currentThread }
  func heapsContaining(_ address: Int) -> [HeapIdentity] { base.heapsContaining(address) }
  func heapContains(_ heap: HeapIdentity, _ address: Int) -> Bool { base.heapContains(heap, address) }
  func heapUsedBlocks(_ heap: HeapIdentity) -> Int { base.heapUsedBlocks(heap) }
  var blocksInUse: Int { base.blocksInUse }
  var segmentCount: Int { base.segmentCount }
  func settle() { base.settle() }
}
