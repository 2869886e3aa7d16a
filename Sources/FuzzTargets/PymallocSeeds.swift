// PymallocSeeds.swift — the representative programs behind the generated seeds of `corpus/pymalloc/`
// (written by `alloc-check seeds pymalloc` as `<name>.bin` + `<name>.txt` twins; the corpus replay test
// checks the committed files still equal these). Together with the hand-written seeds (every-op-kind,
// class-boundaries, impossible-sizes, pool-fill) they reach every op kind in every form, both sides of
// every size-class boundary through every op kind, each size-field width, and arena release.

import Harness

enum PymallocSeeds {
  static var programs: [(name: String, comment: String, program: Program)] {
    [
      ("calloc-every-class", "calloc on both sides of every size-class boundary (count × size), each freed at once.",
       callocEveryClass),
      ("realloc-across-classes", "One block grown and shrunk through every class (in place and moving), then to raw and back.",
       reallocAcrossClasses),
      ("size-field-widths", "Sizes written as table entries, u16, u32 and u64 fields (also for calloc counts).",
       sizeFieldWidths),
      ("reuse-after-free", "Free the middle of three blocks in several classes and allocate again: the freed block comes back.",
       reuseAfterFree),
      ("two-arenas", "2,100 blocks of 512 bytes fill one arena and start a second; the teardown frees both.",
       twoArenas),
    ]
  }

  /// The request sizes on both sides of every pymalloc size-class boundary: 16k − 1, 16k, 16k + 1.
  static var boundarySizes: [UInt64] {
    var sizes: [UInt64] = []
    for k: UInt64 in 1...32 { sizes += [16 * k - 1, 16 * k, 16 * k + 1] }
    return sizes
  }

  static var callocEveryClass: Program {
    var ops: [Op] = []
    var id = 0
    for s in boundarySizes {
      ops.append(.calloc(count: 1, size: s))
      ops.append(.calloc(count: s, size: 1))
      ops.append(.free(BlockRef(id)))
      id += 2
    }
    return Program(ops)
  }

  static var reallocAcrossClasses: Program {
    var ops: [Op] = [.malloc(size: 1)]
    var id = 0
    for s in boundarySizes + [513, 4096, 100, 8] {
      ops.append(.realloc(BlockRef(id), size: s))
      id += 1
    }
    ops.append(.realloc(nil, size: 48))
    ops.append(.free(BlockRef(id)))
    return Program(ops)
  }

  static var sizeFieldWidths: Program {
    Program([
      .malloc(size: 600), .malloc(size: 0xFFFF), .malloc(size: 70_000), .malloc(size: 1 << 33),
      .calloc(count: 600, size: 2), .calloc(count: 70_000, size: 1), .calloc(count: 1 << 33, size: 1 << 33),
      .realloc(BlockRef(0), size: 300), .free(BlockRef(1)), .free(nil),
    ])
  }

  static var reuseAfterFree: Program {
    var ops: [Op] = []
    var id = 0
    for s: UInt64 in [8, 64, 96, 200, 512] {
      ops += [.malloc(size: s), .malloc(size: s), .malloc(size: s), .free(BlockRef(id + 1)), .malloc(size: s)]
      id += 4
    }
    return Program(ops)
  }

  static var twoArenas: Program { Program(Array(repeating: .malloc(size: 512), count: 2100)) }
}
