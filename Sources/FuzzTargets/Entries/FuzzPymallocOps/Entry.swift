// Entry.swift — the `fuzz-pymalloc-ops` libFuzzer executable: input format and assertions are those of
// ``PymallocOpsTarget`` (Sources/FuzzTargets/PymallocOps.swift): bytes decoded as pymalloc family v1 op
// programs, every oracle rule and invariant checked, a violation traps with its rule id and op index.
// Seeded bugs: ALLOC_CHECK_BUGS=name,… . Build: swift build --sanitize=fuzzer --product fuzz-pymalloc-ops
// No main: libFuzzer's main() (linked by --sanitize=fuzzer) calls this entry. The buffer pointer is the one
// raw pointer outside AllocUnderTest: libFuzzer's C ABI hands one over, and it is copied at once.

import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPymallocOps(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  PymallocOpsTarget.target.testOneInput(size == 0 ? [] : unsafe Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
