// Entry.swift — the `fuzz-heaps-diff` libFuzzer executable: input format and assertions are those of
// ``HeapsDiffTarget`` (Sources/FuzzTargets/HeapsDiff.swift): heaps family v1 programs run on the
// reference mimalloc and on libmimalloc 2.0.9, every heap rule on each and X1, X5, X6 between them.
// Build: swift build --sanitize=fuzzer --product fuzz-heaps-diff. No main (libFuzzer's calls this entry);
// the buffer pointer libFuzzer hands over is copied at once.

import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHeapsDiff(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  HeapsDiffTarget.target.testOneInput(size == 0 ? [] : unsafe Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
