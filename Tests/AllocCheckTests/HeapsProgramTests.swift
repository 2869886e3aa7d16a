// HeapsProgramTests.swift — the heaps family of op programs (issue 3): the frozen "heaps family v1" binary
// format (golden vector + round trips), the text form of the thread and heap ops, the validity rules of
// ProgramState (one test per error kind), repair after removals, and shrinking of multi-thread programs.
// Like the pymalloc golden vector, the golden bytes here must never change.

import AllocUnderTest
import Oracle
import Testing

@testable import Harness

private func t(_ id: Int) -> ThreadRef { ThreadRef(id) }

@Suite("Heaps-family op programs")
struct HeapsProgramTests {
  // MARK: Golden vector — never edit; add new ones.

  static let goldenBytes = hexBytes(
    """
    04
    00 f0 18 00
    05 01
    07
    0c 04 f0 64 00
    0d 01 30 08
    03 00 00
    0b 04
    0a 02 01
    08 00
    0e 00
    0f
    06
    03 00 00
    0e 01
    """)

  static let goldenText = """
    # alloc-check program v1
    # family: heaps
    t1 = spawn()
    p0 = malloc(24)
    thread(t1)
    h0 = heap_new()
    p1 = heap_malloc(h0, 100)
    p2 = heap_malloc_aligned(object, 256, 256)
    free(p0)
    heap_visit(h0)
    heap_collect(gc, force)
    heap_destroy(h0)
    collect()
    quiescent()
    exit()
    free(p2)
    collect(force)

    """

  @Test("golden heaps bytes decode to the golden text, and the text encodes back to them")
  func golden() throws {
    let decoded = OpDecoder.decodeHeaps(Self.goldenBytes)
    #expect(ProgramText.render(decoded, family: "heaps") == Self.goldenText)
    let parsed = try ProgramText.parse(Self.goldenText)
    #expect(parsed == decoded)
    #expect(OpEncoder.encodeHeaps(parsed) == Self.goldenBytes)
  }

  @Test("generated programs of every profile are valid and survive encode → decode and render → parse",
        arguments: HeapsProgramGenerator.Profile.allCases)
  func roundTrips(_ profile: HeapsProgramGenerator.Profile) throws {
    for seed in UInt64(1)...40 {
      let program = HeapsProgramGenerator(length: 300, profile: profile).generate(seed: seed)
      try program.validate()
      #expect(OpDecoder.decodeHeaps(OpEncoder.encodeHeaps(program)) == program, "seed \(seed)")
      #expect(try ProgramText.parse(ProgramText.render(program, family: "heaps")) == program, "seed \(seed)")
    }
  }

  @Test("every byte string decodes to a valid program that re-encodes to bytes decoding the same")
  func decoderIsTotal() throws {
    var rng = SeededRandom(seed: 0xB17E5)
    for _ in 0..<300 {
      let bytes = (0..<Int.random(in: 0...600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
      let program = OpDecoder.decodeHeaps(bytes)
      try program.validate()
      #expect(OpDecoder.decodeHeaps(OpEncoder.encodeHeaps(program)) == program)
    }
  }

  @Test("undecodable choices fall back: exit on t0, destroy without a heap_new heap")
  func fallbacks() {
    #expect(OpDecoder.decodeHeaps([0x06]).ops == [.quiescent])
    #expect(OpDecoder.decodeHeaps([0x08, 0x00, 0x0F]).ops == [.heapNew, .quiescent])  // the heap byte is read anyway
    #expect(OpDecoder.decodeHeaps([0x04, 0x05, 0x01, 0x06, 0x05, 0x07]).ops
      == [.spawn, .switchThread(t(1)), .exitThread, .switchThread(t(0))])
  }

  // MARK: Validity

  @Test("each thread and heap rule rejects its misuse with a precise reason", arguments: [
    ([Op.exitThread], "exit on t0"),
    ([.switchThread(t(1))], "t1 is used before any spawn"),
    ([.spawn, .switchThread(t(1)), .exitThread, .switchThread(t(1))], "t1 is used after it exited at op 2"),
    ([.heapMalloc(.made(0), size: 1)], "h0 is used before any heap_new"),
    ([.heapNew, .heapDestroy(.made(0)), .heapVisit(.made(0))], "h0 is used after op 1 ended it"),
    ([.spawn, .heapNew, .switchThread(t(1)), .heapCollect(.made(0), force: true)], "h0 belongs to t0 but t1 is current"),
    ([.heapDelete(.tagged(.object))], "object is a thread's own heap"),
    ([.heapNew, .heapMalloc(.made(0), size: 8), .heapDestroy(.made(0)), .free(BlockRef(0))], "p0 is used after op 2 consumed it"),
    ([.spawn, .switchThread(t(1)), .heapNew, .exitThread, .switchThread(t(0)), .heapVisit(.made(0))], "h0 is used after op 3 ended it"),
  ] as [([Op], String)])
  func rules(_ ops: [Op], _ fragment: String) {
    #expect(throws: ProgramError.self) { try Program(ops).validate() }
    do { try Program(ops).validate() } catch { #expect(error.message.contains(fragment), "\(error.message)") }
  }

  @Test("the live-thread limit holds")
  func threadLimit() throws {
    let ok = Program(Array(repeating: .spawn, count: ProgramState.maxLiveThreads - 1))
    try ok.validate()
    let tooMany = Program(ok.ops + [.spawn])
    #expect(throws: ProgramError.self) { try tooMany.validate() }
  }

  @Test("blocks of a deleted heap move to the backing heap; a thread's exit orphans its blocks")
  func homes() throws {
    var s = ProgramState()
    let ops: [Op] = [.spawn, .switchThread(t(1)), .heapNew, .heapMalloc(.made(0), size: 8), .heapDelete(.made(0)),
                     .heapMalloc(.tagged(.gc), size: 8), .exitThread]
    for (i, op) in ops.enumerated() {
      try s.apply(op, at: i)
      if i == 4 { #expect(s.blockHome[0] == .tagged(thread: 1, .mem)) }
    }
    #expect(s.blockHome[0] == .orphan && s.blockHome[1] == .orphan && s.current == 0)
  }

  @Test("the parser names the line of a heap misuse")
  func parserRules() {
    let text = """
      # alloc-check program v1
      t1 = spawn()
      h0 = heap_new()
      thread(t1)
      p0 = heap_malloc(h0, 24)
      """
    #expect {
      try ProgramText.parse(text)
    } throws: { error in
      let e = error as! ProgramTextError
      return e.line == 5 && e.message.contains("h0 belongs to t0 but t1 is current")
    }
  }

  // MARK: Repair and shrinking

  @Test("removing a spawn, a heap_new or a thread switch drops exactly the ops that depended on it")
  func repair() throws {
    let program = try ProgramText.parse("""
      # alloc-check program v1
      t1 = spawn()
      p0 = malloc(8)
      thread(t1)
      h0 = heap_new()
      p1 = heap_malloc(h0, 16)
      free(p0)
      heap_destroy(h0)
      p2 = malloc(32)
      """)
    // Without the spawn: the switch goes, and everything runs on t0.
    #expect(program.removingOps(at: [0]).ops == [.malloc(size: 8), .heapNew, .heapMalloc(.made(0), size: 16), .free(BlockRef(0)),
                                                 .heapDestroy(.made(0)), .malloc(size: 32)])
    // Without heap_new: its malloc and its destroy go.
    #expect(program.removingOps(at: [3]).ops == [.spawn, .malloc(size: 8), .switchThread(t(1)), .free(BlockRef(0)), .malloc(size: 32)])
    // A valid program is its own repair.
    #expect(program.repaired() == program)
  }

  @Test("a cross-thread free shrinks to four ops")
  func shrinkCrossThread() {
    /// "Fails" iff some block is freed by a thread other than the one that allocated it.
    func crossThreadFree(_ p: Program) -> Bool {
      var owner: [Int: Int] = [:]
      var s = ProgramState()
      for (i, op) in p.ops.enumerated() {
        if let r = op.usedRef, case .free = op, let o = owner[r.id], o != s.current { return true }
        if op.isAllocating { owner[s.blocksDefined] = s.current }
        try? s.apply(op, at: i)
      }
      return false
    }
    let start = (UInt64(1)...50).lazy.map { HeapsProgramGenerator(length: 200, profile: .crossThread).generate(seed: $0) }
      .first(where: crossThreadFree)!
    let shrunk = Shrinker.shrink(start, stillFails: crossThreadFree).program
    #expect(shrunk.ops == [.spawn, .malloc(size: 0), .switchThread(t(1)), .free(BlockRef(0))]
      || shrunk.ops == [.malloc(size: 0), .spawn, .switchThread(t(1)), .free(BlockRef(0))],
      "\(ProgramText.render(shrunk, family: "heaps"))")
  }
}

@Suite("Heaps family on the command line")
struct HeapsCLITests {
  @Test("a text names its family; binary bytes decode as the family asked for; a bad family name is refused")
  func families() throws {
    let text = Array("# alloc-check program v1\n# family: heaps\nt1 = spawn()\n".utf8)
    #expect(try CLISupport.loadProgram(text, name: "a.txt").family == .heaps)
    let untagged = Array("# alloc-check program v1\nh0 = heap_new()\n".utf8)
    #expect(try CLISupport.loadProgram(untagged, name: "b.txt").family == .heaps)
    let bytes: [UInt8] = [0x04, 0x05, 0x01]
    #expect(try CLISupport.loadProgram(bytes, name: "c.bin", family: .heaps).program.ops == [.spawn, .switchThread(ThreadRef(1))])
    #expect(try CLISupport.loadProgram(bytes, name: "c.bin").program.ops.allSatisfy(\.kind.isPymallocKind))
    #expect(throws: CLIError.unknownFamily("nope")) { try CLISupport.parseFamily("nope") }
    #expect(try CLISupport.parseAnyBug("reclaimIntoNoReclaimHeap") == .mimalloc(.reclaimIntoNoReclaimHeap))
    #expect(try CLISupport.parseAnyBug("misalignTinyBlocks").family == .pymalloc)
  }

  /// The reclaim hazard as `alloc-check shrink` printed it (8 ops, two logical threads): it replays from
  /// its text to the same violation with the bug on, and passes with it off.
  @Test("the shrunk reclaim-hazard program replays from its text")
  func reclaimHazardReplays() throws {
    let program = try ProgramText.parse("""
      # alloc-check program v1
      # family: heaps
      t1 = spawn()
      thread(t1)
      p0 = heap_malloc(gc_pre, 0)
      p1 = malloc(0)
      exit()
      h0 = heap_new()
      p2 = heap_malloc(h0, 0)
      heap_destroy(h0)
      """)
    let buggy = Executor.run(program, on: MimallocAdapter(bugs: [.reclaimIntoNoReclaimHeap]), config: ExecutorConfig(oracle: .heaps))
    #expect(buggy.violation?.rule == "H1" || buggy.violation?.rule == "H2", "\(String(describing: buggy.violation))")
    #expect(Executor.run(program, on: MimallocAdapter(), config: ExecutorConfig(oracle: .heaps)).passed)
  }
}
