// Entry.swift — the `fuzz-heaps-schedule-ops` libFuzzer executable: input format and assertions are those of
// ``HeapsScheduleTarget`` (Sources/FuzzTargets/HeapsSchedule.swift): a schedule of the controlled scheduler
// and a small heaps program, run in parallel on the reference mimalloc under that schedule; a violation traps
// with its rule id, op index and schedule. Seeded bugs: ALLOC_CHECK_BUGS=name,… .
// Build: swift build --sanitize=fuzzer --product fuzz-heaps-schedule-ops --scratch-path .build-fuzz
// No main: libFuzzer's main() calls this entry. The buffer pointer is copied at once.

import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHeapsSchedule(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  HeapsScheduleTarget.target.testOneInput(size == 0 ? [] : unsafe Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
