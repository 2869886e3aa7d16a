// Entry.swift — the `fuzz-pymalloc-diff` libFuzzer executable: input format and assertions are those of
// ``PymallocDiffTarget`` (Sources/FuzzTargets/PymallocDiff.swift): pymalloc family v1 programs run on the
// reference and on CPython 3.11's real pymalloc, every oracle rule on each and X1–X4 between them.
// Build: swift build --sanitize=fuzzer --product fuzz-pymalloc-diff. No main (libFuzzer's calls this entry);
// the buffer pointer libFuzzer hands over is copied at once.

import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPymallocDiff(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  PymallocDiffTarget.target.testOneInput(size == 0 ? [] : unsafe Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
