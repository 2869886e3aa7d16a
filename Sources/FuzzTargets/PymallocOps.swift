// PymallocOps.swift — the pymalloc op-sequence fuzz target (`fuzz-pymalloc-ops`, corpus `corpus/pymalloc/`).
// Input format: any byte string, decoded with the frozen "pymalloc family v1" format
// (Documentation/ProgramFormat.md, ``OpDecoder/decodePymalloc(_:maxOps:)``): tag byte t (t & 3: malloc,
// calloc, realloc, free), size fields by table index / u16 / u32 / u64, refs as live-list positions; at most
// 4096 ops. Every byte string is a valid program (free consumes its pointer, so no double free can be spelled).
// Asserts: the whole program, then the teardown frees, run on a fresh ``PymallocAdapter`` through the
// ``Executor`` with every oracle rule (O1–O13) and every invariant (PM2–PM7) after every op; a violation traps
// with `alloc-check: <rule> at op <index> (<op>): <detail>` so libFuzzer saves the input.
// Seeded bugs: `ALLOC_CHECK_BUGS=name,name` (see `alloc-check bugs`) switches them on in the fuzz binary.

import AllocUnderTest
import Harness
import Oracle

public enum PymallocOpsTarget {
  /// Most ops decoded from one input: bounds the time one input can take.
  public static let maxOps = 4096

  /// The registry entry: everything `alloc-check fuzz`, `repro`, `minimize`, `merge`, the corpus tools and
  /// the fuzz executable need to know about this target.
  public static let target = FuzzTarget(
    name: "pymalloc",
    product: "fuzz-pymalloc-ops",
    summary: "pymalloc op programs (family v1) against every oracle rule and invariant",
    family: "pymalloc",
    bugNames: PymallocBug.allCases.map(\.rawValue),
    decode: { OpDecoder.decodePymalloc($0, maxOps: maxOps) },
    encode: { OpEncoder.encodePymalloc($0) },
    makeAdapter: { names in bugs(names).map { PymallocAdapter(bugs: $0) } },
    dictionary: PymallocDictionary.entries,
    seeds: PymallocSeeds.programs
  )

  /// The pymalloc bugs `names` spell, or nil if one is unknown.
  static func bugs(_ names: [String]) -> Set<PymallocBug>? {
    var bugs: Set<PymallocBug> = []
    for name in names {
      guard let bug = PymallocBug(rawValue: name) else { return nil }
      bugs.insert(bug)
    }
    return bugs
  }

  /// Runs one input on `adapter` (reused across inputs: `Executor.run` resets it); returns the first
  /// violation, nil when every rule holds.
  public static func run(_ bytes: [UInt8], on adapter: AllocatorAdapter) -> Violation? {
    target.run(bytes, on: adapter)
  }

  /// The libFuzzer body: traps on a violation so the input is saved as a crash.
  public static func fuzzOne(_ bytes: [UInt8], on adapter: AllocatorAdapter) {
    target.fuzzOne(bytes, on: adapter)
  }
}
