// DomainsOps.swift — the domains-family fuzz target (`fuzz-domains-ops`, corpus `corpus/domains/`): CPython's
// PyMem domains and debug hooks over malloc and pymalloc, with misuse ops. Input format: any byte string,
// decoded with the "domains family v1" format (Documentation/ProgramFormat.md,
// ``OpDecoder/decodeDomains(_:maxOps:)``): kind `16 + tag % 14` (configure, setup_debug_hooks, the four
// PyMem calls of a domain byte, eight misuse kinds); block operands are taken modulo what is live, and an op
// that cannot be valid decodes as `PyMem_Free(NULL)`, so every byte string is a valid program; at most 1024 ops.
// Asserts: on a fresh ``DomainsAdapter`` (serial numbers on, C-heap quarantine) the domain rules D1–D8 after
// every op, including "the fatal line the hooks print is the one ``MisusePrediction`` predicts" for every
// misuse; a violation traps with `alloc-check: <rule> at op <index> (<op>): <detail>`.
// Seeded bugs: `ALLOC_CHECK_BUGS=name,…` (the domain part of `alloc-check bugs`).

import AllocUnderTest
import Harness
import Oracle

public enum DomainsOpsTarget {
  /// Most ops decoded from one input.
  public static let maxOps = 1024

  public static let target: FuzzTarget = {
    var t = FuzzTarget(
      name: "domains",
      product: "fuzz-domains-ops",
      summary: "domains-family op programs (PyMem domains, debug hooks, misuse) against the domain rules D1-D8",
      family: "domains",
      bugNames: DomainBug.allCases.map(\.rawValue),
      decode: { OpDecoder.decodeDomains($0, maxOps: maxOps) },
      encode: { OpEncoder.encodeDomains($0) },
      makeAdapter: { names in
        var bugs: Set<DomainBug> = []
        for name in names {
          guard let bug = DomainBug(rawValue: name) else { return nil }
          bugs.insert(bug)
        }
        return DomainsAdapter(bugs: bugs)
      },
      dictionary: DomainsSeeds.dictionary,
      seeds: DomainsSeeds.programs
    )
    t.oracle = .domains
    return t
  }()
}

/// The representative programs behind `corpus/domains/` and the target's libFuzzer dictionary.
enum DomainsSeeds {
  static func parse(_ text: String) -> Program {
    do { return try ProgramText.parse("# alloc-check program v1\n" + text) } catch { preconditionFailure("\(error)") }
  }

  static var programs: [(name: String, comment: String, program: Program)] {
    [
      ("clean-every-domain", "Hooked pymalloc: every domain's calls, blocks in pools and through RAW, realloc across the 512 edge.",
       parse("""
         configure(pymalloc_debug)
         p0 = PyMem_RawMalloc(16)
         p1 = PyMem_Malloc(480)
         p2 = PyObject_Malloc(481)
         p3 = PyObject_Calloc(3, 8)
         p4 = PyMem_Realloc(p1, 600)
         p5 = PyObject_Realloc(p2, 16)
         p6 = PyMem_RawRealloc(p0, 0)
         PyObject_Free(p3)
         PyMem_Free(p4)
         PyObject_Free(p5)
         PyMem_RawFree(p6)
         """)),
      ("edges-without-hooks", "No hooks: size 0 in every domain, RAW realloc to 0, refused sizes and a refused realloc.",
       parse("""
         configure(malloc)
         p0 = PyMem_RawMalloc(0)
         p1 = PyMem_RawRealloc(p0, 0)
         p2 = PyMem_Malloc(0)
         p3 = PyObject_Calloc(0, 16)
         p4 = PyMem_Malloc(9223372036854775808)
         p5 = PyMem_Realloc(p2, 4611686018427387904)
         p6 = PyObject_Calloc(4294967296, 4294967296)
         PyMem_RawFree(p1)
         PyMem_Free(p5)
         """)),
      ("setup-hooks-later", "setup_debug_hooks() on plain pymalloc, then a realloc refused under the hooks (data restored).",
       parse("""
         configure(pymalloc)
         setup_debug_hooks()
         p0 = PyMem_Malloc(100)
         p1 = PyMem_Realloc(p0, 4611686018427387904)
         p2 = PyMem_Realloc(p1, 200)
         PyMem_Free(p2)
         """)),
      ("misuse-overrun", "test_buffer_overflow: one byte past the end, caught by the free.",
       parse("""
         configure(debug)
         p0 = PyObject_Malloc(16)
         write_past_end(p0, 1, 0x78)
         PyObject_Free(p0)
         """)),
      ("misuse-underrun", "The API id overwritten: a bad ID at the next realloc.",
       parse("""
         configure(malloc_debug)
         p0 = PyMem_Malloc(200)
         write_before_start(p0, 8, 0x41)
         p1 = PyMem_Realloc(p0, 300)
         """)),
      ("misuse-double-free", "A pool block freed twice: its id byte reads 0xDD.",
       parse("""
         configure(pymalloc_debug)
         p0 = PyMem_Malloc(16)
         double_free(p0)
         """)),
      ("misuse-wrong-domain", "test_api_misuse: PyMem_Malloc then PyMem_RawFree on one C heap.",
       parse("""
         configure(malloc_debug)
         p0 = PyMem_Malloc(16)
         free_wrong_domain(p0, raw)
         """)),
      ("misuse-without-gil", "test_pymem_malloc_without_gil: PyObject_Malloc with the GIL released; RAW is exempt.",
       parse("""
         configure(debug)
         malloc_without_gil(raw, 10)
         malloc_without_gil(obj, 10)
         """)),
      ("misuse-after-free", "A write into a freed block, a realloc of a freed block, a foreign pointer.",
       parse("""
         configure(debug)
         p0 = PyMem_RawMalloc(32)
         write_after_free(p0, 3, 0x00)
         p1 = PyObject_Malloc(32)
         realloc_freed(p1, 64)
         free_foreign(mem)
         """)),
    ]
  }

  static var dictionary: [(comment: String, bytes: [UInt8])] {
    [
      ("configure(pymalloc_debug)", [0x00, 0x05]), ("configure(malloc_debug)", [0x00, 0x04]), ("configure(debug)", [0x00, 0x03]),
      ("setup_debug_hooks()", [0x01]), ("PyObject_Malloc(16)", [0x02, 0x02, 0x03]), ("PyMem_Malloc(481)", [0x02, 0x01, 0xF0, 0xE1, 0x01]),
      ("PyMem_RawCalloc(1, 16)", [0x03, 0x00, 0x01, 0x03]), ("PyMem_Realloc(first, 600)", [0x04, 0x01, 0x00, 0x00, 0xF0, 0x58, 0x02]),
      ("PyMem_Free(first)", [0x05, 0x01, 0x00, 0x00]), ("write_past_end(first, 1, 'x')", [0x06, 0x00, 0x00, 0x00, 0x78]),
      ("write_before_start(first, 8, 'A')", [0x07, 0x00, 0x00, 0x07, 0x41]), ("write_after_free(first, 0, 0)", [0x08, 0x00, 0x00, 0x00, 0x00]),
      ("double_free(first)", [0x09, 0x00, 0x00]), ("free_wrong_domain(first, other)", [0x0A, 0x00, 0x00, 0x00]),
      ("free_foreign(mem)", [0x0B, 0x01]), ("realloc_freed(first, 16)", [0x0C, 0x00, 0x00, 0x03]),
      ("malloc_without_gil(obj, 16)", [0x0D, 0x02, 0x03]),
    ]
  }
}
