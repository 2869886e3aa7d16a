// Entry.swift — the `fuzz-heaps-ops` libFuzzer executable: input format and assertions are those of
// ``HeapsOpsTarget`` (Sources/FuzzTargets/HeapsOps.swift): bytes decoded as heaps family v1 op programs
// (logical threads and heaps on the reference mimalloc), the heap oracle and every MI invariant checked, a
// violation traps with its rule id and op index. Seeded bugs: ALLOC_CHECK_BUGS=name,… .
// Build: swift build --sanitize=fuzzer --product fuzz-heaps-ops --scratch-path .build-fuzz
// No main: libFuzzer's main() calls this entry. The buffer pointer is copied at once.

import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHeapsOps(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  HeapsOpsTarget.target.testOneInput(size == 0 ? [] : unsafe Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
