// Entry.swift — the `fuzz-domains-ops` libFuzzer executable: input format and assertions are those of
// ``DomainsOpsTarget`` (Sources/FuzzTargets/DomainsOps.swift): bytes decoded as domains family v1 op programs
// (PyMem domains, debug hooks, misuse ops), the domain rules D1–D8 checked, a violation traps with its rule
// id and op index. Seeded bugs: ALLOC_CHECK_BUGS=name,… .
// Build: swift build --sanitize=fuzzer --product fuzz-domains-ops --scratch-path .build-fuzz
// No main: libFuzzer's main() calls this entry. The buffer pointer is copied at once.

import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDomainsOps(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  DomainsOpsTarget.target.testOneInput(size == 0 ? [] : unsafe Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
