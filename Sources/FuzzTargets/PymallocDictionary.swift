// PymallocDictionary.swift — the libFuzzer dictionary of the pymalloc target (`corpus/pymalloc/pymalloc.dict`,
// written by `alloc-check seeds pymalloc`): whole ops in their canonical bytes, so mutations splice in
// meaningful calls instead of random tags. Format of the bytes: Documentation/ProgramFormat.md.

import Harness

enum PymallocDictionary {
  static var entries: [(comment: String, bytes: [UInt8])] {
    var out: [(comment: String, bytes: [UInt8])] = [
      ("NULL ref", [0xFF, 0xFF]),
      ("free(NULL)", [0x03, 0xFF, 0xFF]),
      ("free(first live)", [0x03, 0x00, 0x00]),
      ("free(second live)", [0x03, 0x01, 0x00]),
      ("realloc(NULL, 48)", [0x02, 0xFF, 0xFF, 0x09]),
      ("u16 size lead", [0xF0]),
      ("u32 size lead", [0xFC]),
      ("u64 size lead", [0xFE]),
    ]
    let table = SizeTable.pymallocV1
    // One malloc per class boundary entry and the big and impossible sizes; calloc and realloc of a few.
    for (index, size) in table.enumerated() {
      out.append(("malloc(\(size))", [0x00, UInt8(index)]))
    }
    for size: UInt64 in [16, 17, 256, 512, 513, 4096] {
      let i = UInt8(table.firstIndex(of: size)!)
      out.append(("calloc(1, \(size))", [0x01, 0x01, i]))
      out.append(("realloc(first live, \(size))", [0x02, 0x00, 0x00, i]))
    }
    out.append(("calloc overflow 2^32 × 2^32", [0x01, 0xFE, 0, 0, 0, 0, 1, 0, 0, 0, 0xFE, 0, 0, 0, 0, 1, 0, 0, 0]))
    return out
  }

}
