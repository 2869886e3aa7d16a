// HeapsOps.swift — the heaps-family fuzz target (`fuzz-heaps-ops`, corpus `corpus/heaps/`): logical threads,
// first-class heaps, cross-thread frees, abandonment, reclaim and QSBR on the reference mimalloc.
// Input format: any byte string, decoded with the "heaps family v1" format (Documentation/ProgramFormat.md,
// ``OpDecoder/decodeHeaps(_:maxOps:)``): tag & 15 picks one of 16 op kinds (malloc … free, spawn, thread,
// exit, heap_new/destroy/delete/collect/visit, heap_malloc[_aligned], collect, quiescent); thread and heap
// operands are taken modulo what is live, so every byte string is a valid program; at most 2048 ops.
// Asserts: the program, the teardown frees and the settle (every thread quiescent and collected) run on a
// fresh ``MimallocAdapter`` with the heaps oracle (O1–O8, O13, H1–H7) and every invariant (MI1–MI7) after
// every op; a violation traps with `alloc-check: <rule> at op <index> (<op>): <detail>`.
// Seeded bugs: `ALLOC_CHECK_BUGS=name,…` (the mimalloc half of `alloc-check bugs`).

import AllocUnderTest
import Harness
import Oracle

public enum HeapsOpsTarget {
  /// Most ops decoded from one input (heap ops cost more than pymalloc's).
  public static let maxOps = 2048

  public static let target: FuzzTarget = {
    var t = FuzzTarget(
      name: "heaps",
      product: "fuzz-heaps-ops",
      summary: "heaps-family op programs (logical threads, heaps) on mimalloc against the heap oracle and MI invariants",
      family: "heaps",
      bugNames: MimallocBug.allCases.map(\.rawValue),
      decode: { OpDecoder.decodeHeaps($0, maxOps: maxOps) },
      encode: { OpEncoder.encodeHeaps($0) },
      makeAdapter: { names in bugs(names).map { MimallocAdapter(bugs: $0) } },
      dictionary: HeapsSeeds.dictionary,
      seeds: HeapsSeeds.programs
    )
    t.oracle = .heaps
    return t
  }()

  /// The mimalloc bugs `names` spell, or nil if one is unknown.
  static func bugs(_ names: [String]) -> Set<MimallocBug>? {
    var bugs: Set<MimallocBug> = []
    for name in names {
      guard let bug = MimallocBug(rawValue: name) else { return nil }
      bugs.insert(bug)
    }
    return bugs
  }
}

/// The representative programs behind `corpus/heaps/` and the target's libFuzzer dictionary.
enum HeapsSeeds {
  static func parse(_ text: String) -> Program {
    do { return try ProgramText.parse("# alloc-check program v1\n" + text) } catch { preconditionFailure("\(error)") }
  }

  static var programs: [(name: String, comment: String, program: Program)] {
    [
      ("cross-thread-free", "Blocks of several bins allocated on t0 and freed on t1 (the xthread_free path), then reused.",
       parse("""
         p0 = malloc(24)
         p1 = heap_malloc(object, 1024)
         p2 = heap_malloc(gc, 16384)
         t1 = spawn()
         thread(t1)
         free(p0)
         free(p1)
         free(p2)
         thread(t0)
         collect(force)
         p3 = malloc(24)
         """)),
      ("heap-lifecycle", "A heap_new heap: malloc, aligned malloc, visit, collect, delete into the backing heap; a second destroyed.",
       parse("""
         h0 = heap_new()
         p0 = heap_malloc(h0, 100)
         p1 = heap_malloc_aligned(h0, 256, 256)
         heap_visit(h0)
         heap_collect(h0, force)
         heap_delete(h0)
         h1 = heap_new()
         p2 = heap_malloc(h1, 70000)
         p3 = heap_malloc(h1, 8)
         heap_destroy(h1)
         free(p0)
         """)),
      ("abandon-reclaim", "t1 exits holding blocks; t0 frees one into the abandoned segment; t2 allocates and reclaims.",
       parse("""
         t1 = spawn()
         thread(t1)
         p0 = malloc(48)
         p1 = heap_malloc(object, 48)
         exit()
         free(p0)
         t2 = spawn()
         thread(t2)
         p2 = heap_malloc(object, 48)
         h0 = heap_new()
         p3 = heap_malloc(h0, 48)
         heap_destroy(h0)
         collect(force)
         """)),
      ("qsbr-fill-and-drain", "A page of the object heap filled, emptied from another thread, collected; pages wait for quiescence.",
       parse("""
         p0 = heap_malloc(object, 16384)
         p1 = heap_malloc(object, 16384)
         p2 = heap_malloc(object, 16384)
         p3 = heap_malloc(object, 16384)
         p4 = heap_malloc(object, 16384)
         t1 = spawn()
         thread(t1)
         free(p0)
         free(p1)
         free(p2)
         free(p3)
         quiescent()
         thread(t0)
         heap_collect(object)
         quiescent()
         """)),
      ("sizes-and-alignments", "Bin edges, medium, large and huge sizes, impossible sizes, and aligned requests.",
       parse("""
         p0 = malloc(0)
         p1 = malloc(8)
         p2 = malloc(9)
         p3 = malloc(131073)
         p4 = malloc(16777217)
         p5 = malloc(9223372036854775808)
         p6 = calloc(4294967296, 4294967296)
         p7 = heap_malloc_aligned(mem, 4097, 4096)
         p8 = heap_malloc_aligned(gc_pre, 1024, 16777216)
         p9 = heap_malloc_aligned(mem, 16, 24)
         """)),
    ]
  }

  static var dictionary: [(comment: String, bytes: [UInt8])] {
    [
      ("spawn", [0x04]), ("thread(t1)", [0x05, 0x01]), ("thread(t0)", [0x05, 0x00]), ("exit", [0x06]),
      ("heap_new", [0x07]), ("heap_destroy(first)", [0x08, 0x00]), ("heap_delete(first)", [0x09, 0x00]),
      ("heap_collect(h0, force)", [0x0A, 0x04, 0x01]), ("heap_visit(h0)", [0x0B, 0x04]),
      ("heap_malloc(h0, 16)", [0x0C, 0x04, 0x03]), ("heap_malloc(object, 16384)", [0x0C, 0x01, 0x6A]),
      ("heap_malloc_aligned(mem, 256, 256)", [0x0D, 0x00, 0x30, 0x08]), ("collect(force)", [0x0E, 0x01]),
      ("quiescent", [0x0F]), ("free(first live)", [0x03, 0x00, 0x00]), ("malloc(16)", [0x00, 0x03]),
    ]
  }
}
