// PlatformTests.swift — the platform layer: ``MmapPageSource``, ``FaultPlan``/``FaultInjector``,
// ``SystemRawAllocator`` and the errno → trap mapping of `Syscalls.swift`.
//
// The tests read and write the memory they are given, so they hold raw pointers; everything else in the test
// target goes through the allocators' typed APIs. Crash tests use exit tests and check the trap message.
import Testing

@testable import AllocUnderTest

#if canImport(Glibc)
import Glibc
#endif

private let KiB = 1 << 10
private let MiB = 1 << 20

/// True iff every byte of `[base, base + count)` equals `value`.
private func allBytes(_ base: UnsafeMutableRawPointer, _ count: Int, equal value: UInt8) -> Bool {
  UnsafeMutableRawBufferPointer(start: base, count: count).allSatisfy { $0 == value }
}

private func fill(_ base: UnsafeMutableRawPointer, _ count: Int, with value: UInt8) {
  base.initializeMemory(as: UInt8.self, repeating: value, count: count)
}

@Suite("Platform layer")
struct PlatformTests {
  // MARK: MmapPageSource

  @Test("reserve gives zeroed, writable memory aligned as asked", arguments: [4096, 1 << 20, 4 << 20])
  func reserveGivesZeroedWritableAlignedMemory(alignment: Int) throws {
    let source = MmapPageSource()
    let bytes = 2 * MiB
    let base = try #require(source.reserve(bytes: bytes, alignment: alignment))
    #expect(UInt(bitPattern: base) % UInt(alignment) == 0, "base \(base) is not \(alignment)-aligned")
    #expect(allBytes(base, bytes, equal: 0))
    // Write a distinct value into every page (first and last byte), then read all of them back.
    let view = UnsafeMutableRawBufferPointer(start: base, count: bytes)
    let page = MmapPageSource.pageSize
    for start in stride(from: 0, to: bytes, by: page) {
      view[start] = UInt8(truncatingIfNeeded: start / page + 1)
      view[start + page - 1] = 0xAB
    }
    let readBack = stride(from: 0, to: bytes, by: page).allSatisfy { start in
      view[start] == UInt8(truncatingIfNeeded: start / page + 1) && view[start + page - 1] == 0xAB
    }
    #expect(readBack)
    #expect(source.stats.mappedBytes == bytes)
    source.release(base, bytes: bytes)
    #expect(source.stats.mappedBytes == 0)
    #expect(source.stats.failedUnmaps == 0 && source.stats.strandedBytes == 0)
  }

  @Test("recycling: a released region comes back zeroed, counted, and under the fault plan")
  func recycledRegionsAreZeroedAndCounted() throws {
    let source = MmapPageSource(faults: .nth(3, errno: ENOMEM), recycle: 1)
    let bytes = 1 * MiB
    let a = try #require(source.reserve(bytes: bytes, alignment: 4096))  // call 1
    fill(a, 3 * MmapPageSource.pageSize + 17, with: 0x5A)  // dirty four pages, the last partly
    fill(a + bytes - 8, 8, with: 0x77)                     // and the last page
    source.release(a, bytes: bytes)
    #expect(source.stats.mappedBytes == 0 && source.stats.releaseCalls == 1)
    let b = try #require(source.reserve(bytes: bytes, alignment: 4096))  // call 2: the kept region
    #expect(b == a, "the released region was not reused")
    #expect(allBytes(b, bytes, equal: 0), "a recycled region must read as zero, like a fresh mapping")
    #expect(source.stats.mappedBytes == bytes && source.stats.reserveCalls == 2)
    source.release(b, bytes: bytes)
    // Call 3 is the planned failure: nothing is handed out, the region stays in the bin for call 4.
    #expect(source.reserve(bytes: bytes, alignment: 4096) == nil)
    #expect(source.faults.injected == 1 && source.stats.failedReserves == 1 && source.stats.mappedBytes == 0)
    let c = try #require(source.reserve(bytes: bytes, alignment: 4096))  // call 4
    #expect(c == a)
    source.release(c, bytes: bytes)
    // Another size is a fresh mapping, and with the bin full its release unmaps it.
    let d = try #require(source.reserve(bytes: 2 * MiB, alignment: 4096))  // call 5
    #expect(d != a)
    source.release(d, bytes: 2 * MiB)
    #expect(source.stats.mappedBytes == 0 && source.stats.releaseCalls == 4 && source.stats.reserveCalls == 5)
  }

  @Test("stats track mapped and peak bytes; alignment slack is not counted")
  func statsTrackMappedAndPeakBytes() throws {
    let source = MmapPageSource()
    let a = try #require(source.reserve(bytes: 1 * MiB, alignment: 4096))
    let b = try #require(source.reserve(bytes: 256 * KiB, alignment: 1 * MiB))
    let c = try #require(source.reserve(bytes: 64 * KiB, alignment: 16 * KiB))
    let peak = 1 * MiB + 256 * KiB + 64 * KiB
    #expect(source.stats.mappedBytes == peak)
    #expect(source.stats.peakMappedBytes == peak)

    source.release(b, bytes: 256 * KiB)
    #expect(source.stats.mappedBytes == 1 * MiB + 64 * KiB)
    #expect(source.stats.peakMappedBytes == peak)

    let d = try #require(source.reserve(bytes: 128 * KiB, alignment: 4 * MiB))
    #expect(source.stats.mappedBytes == 1 * MiB + 64 * KiB + 128 * KiB)
    #expect(source.stats.peakMappedBytes == peak, "a smaller total must not raise the peak")

    source.release(a, bytes: 1 * MiB)
    source.release(c, bytes: 64 * KiB)
    source.release(d, bytes: 128 * KiB)
    #expect(source.stats == PageSourceStats(
      mappedBytes: 0, peakMappedBytes: peak, reserveCalls: 4, releaseCalls: 4, failedReserves: 0))
  }

  @Test("`.nth(k)` fails exactly the k-th reserve and no other")
  func nthFailsExactlyTheKthReserve() {
    var totalFailures = 0
    for k in 1...5 {
      let source = MmapPageSource(faults: .nth(k, errno: ENOMEM))
      var failedCalls: [Int] = []
      var held: [UnsafeMutableRawPointer] = []
      for call in 1...6 {
        // Alternate the single-mmap path and the over-map path: each is one counted sys_mmap call.
        let alignment = call.isMultiple(of: 2) ? 4096 : 1 * MiB
        if let base = source.reserve(bytes: 64 * KiB, alignment: alignment) {
          held.append(base)
        } else {
          failedCalls.append(call)
        }
      }
      #expect(failedCalls == [k], "plan .nth(\(k))")
      #expect(source.faults.calls == 6 && source.faults.injected == 1)
      #expect(source.stats.failedReserves == 1 && source.stats.reserveCalls == 6)
      #expect(source.stats.mappedBytes == 5 * 64 * KiB)
      #expect(source.lastError == SystemError(errno: ENOMEM, call: "sys_mmap(length:injector:)"))
      totalFailures += failedCalls.count
      for base in held { source.release(base, bytes: 64 * KiB) }
    }
    #expect(totalFailures == 5)
  }

  @Test("`.always(ENOMEM)` makes every reserve return nil")
  func alwaysMakesEveryReserveNil() {
    let source = MmapPageSource(faults: .always(errno: ENOMEM))
    let results = [4096, 16 * KiB, 1 * MiB, 4 * MiB].map { source.reserve(bytes: 256 * KiB, alignment: $0) }
    #expect(results.allSatisfy { $0 == nil })
    #expect(source.stats == PageSourceStats(reserveCalls: 4, failedReserves: 4))
    #expect(source.faults.calls == 4 && source.faults.injected == 4)
  }

  @Test("`.everyNth(3)` fails reserves 3, 6 and 9")
  func everyNthFailsEveryThirdReserve() {
    let source = MmapPageSource(faults: .everyNth(3, errno: ENOMEM))
    var failedCalls: [Int] = []
    var held: [UnsafeMutableRawPointer] = []
    for call in 1...10 {
      if let base = source.reserve(bytes: 16 * KiB, alignment: 4096) {
        held.append(base)
      } else {
        failedCalls.append(call)
      }
    }
    #expect(failedCalls == [3, 6, 9])
    #expect(source.stats.failedReserves == 3 && source.faults.injected == 3)
    for base in held { source.release(base, bytes: 16 * KiB) }
    #expect(source.stats.mappedBytes == 0)
  }

  @Test("an mmap errno other than ENOMEM gives nil and is recorded, without trapping")
  func otherMmapErrnoIsRecorded() throws {
    let source = MmapPageSource(faults: .nth(1, errno: EAGAIN))
    #expect(source.reserve(bytes: 64 * KiB, alignment: 4096) == nil)
    #expect(source.lastError?.errno == EAGAIN)
    let base = try #require(source.reserve(bytes: 64 * KiB, alignment: 4096), "the plan fires only once")
    source.release(base, bytes: 64 * KiB)
  }

  @Test("an impossible size fails with ENOMEM from the kernel or the overflow check, never a trap")
  func impossibleSizeFailsWithENOMEM() {
    let page = MmapPageSource.pageSize
    let huge = (Int.max / page) * page
    let source = MmapPageSource()
    #expect(source.reserve(bytes: huge, alignment: 4096) == nil)  // the kernel: length > TASK_SIZE
    #expect(source.lastError?.errno == ENOMEM)
    #expect(source.faults.calls == 1)
    #expect(source.reserve(bytes: huge, alignment: 1 * MiB) == nil)  // huge + alignment overflows
    #expect(source.lastError?.errno == ENOMEM)
    #expect(source.faults.calls == 1, "the overflow is caught before sys_mmap, so it is not a counted call")
    #expect(source.stats.failedReserves == 2 && source.stats.mappedBytes == 0)
  }

  @Test("decommit zeroes the range, keeps the rest, and leaves it mapped and writable")
  func decommitZeroesTheRange() throws {
    let source = MmapPageSource()
    let bytes = 256 * KiB
    let base = try #require(source.reserve(bytes: bytes, alignment: 4096))
    fill(base, bytes, with: 0x5A)
    source.decommit(base + 64 * KiB, bytes: 128 * KiB)
    #expect(allBytes(base, 64 * KiB, equal: 0x5A))
    #expect(allBytes(base + 64 * KiB, 128 * KiB, equal: 0))
    #expect(allBytes(base + 192 * KiB, 64 * KiB, equal: 0x5A))
    fill(base + 64 * KiB, 128 * KiB, with: 0xC3)
    #expect(allBytes(base + 64 * KiB, 128 * KiB, equal: 0xC3))
    #expect(source.stats.decommitCalls == 1 && source.stats.mappedBytes == bytes)
    source.release(base, bytes: bytes)
  }

  // MARK: FaultPlan and FaultInjector

  @Test("a FaultInjector keeps counting when its plan changes, and resetCounts starts over")
  func injectorCountsAcrossPlanChanges() {
    let injector = FaultInjector()
    #expect((1...3).map { _ in injector.nextFailure() } == [nil, nil, nil])
    injector.plan = .nth(injector.calls + 1, errno: ENOMEM)
    #expect(injector.nextFailure() == ENOMEM)
    #expect(injector.nextFailure() == nil)
    #expect(injector.calls == 5 && injector.injected == 1)
    injector.resetCounts()
    #expect(injector.calls == 0 && injector.injected == 0)
    #expect(injector.plan == .nth(4, errno: ENOMEM), "resetCounts keeps the plan")
    #expect((1...5).map { _ in injector.nextFailure() } == [nil, nil, nil, ENOMEM, nil])
  }

  @Test("fault plans and system errors print as readable text")
  func plansAndErrorsPrintReadably() {
    #expect(FaultPlan.never.description == ".never")
    #expect(FaultPlan.always(errno: ENOMEM).description == ".always(errno: ENOMEM)")
    #expect(FaultPlan.nth(2, errno: EAGAIN).description == ".nth(2, errno: EAGAIN)")
    #expect(FaultPlan.everyNth(3, errno: 999).description == ".everyNth(3, errno: errno 999)")
    #expect(SystemError(errno: ENOMEM, call: "sys_mmap(length:injector:)").description
              == "sys_mmap(length:injector:) failed: ENOMEM (Cannot allocate memory)")
  }

  // MARK: SystemRawAllocator

  @Test("SystemRawAllocator with `.nth(2)` fails the second malloc only")
  func rawNthFailsTheSecondMallocOnly() {
    let heap = SystemRawAllocator(faults: .nth(2, errno: ENOMEM))
    let blocks = (1...5).map { _ in heap.malloc(32) }
    #expect(blocks.map { $0 == nil } == [false, true, false, false, false])
    #expect(heap.faults.calls == 5 && heap.faults.injected == 1)
    #expect(heap.liveBlocks == 4)
    for block in blocks { heap.free(block) }
    #expect(heap.liveBlocks == 0)
  }

  @Test("a failed realloc leaves the block live and its contents intact")
  func failedReallocKeepsTheBlock() throws {
    let heap = SystemRawAllocator()
    let p = try #require(heap.malloc(64))
    for i in 0..<64 { p.storeBytes(of: UInt8(i), toByteOffset: i, as: UInt8.self) }
    heap.faults.plan = .nth(heap.faults.calls + 1, errno: ENOMEM)
    #expect(heap.realloc(p, 64 * KiB) == nil)
    #expect((0..<64).allSatisfy { p.load(fromByteOffset: $0, as: UInt8.self) == UInt8($0) })
    #expect(heap.liveBlocks == 1)
    #expect(heap.usableSize(p) >= 64)
    // The plan has fired; a real realloc now moves the block and keeps its first 64 bytes.
    let q = try #require(heap.realloc(p, 64 * KiB))
    #expect((0..<64).allSatisfy { q.load(fromByteOffset: $0, as: UInt8.self) == UInt8($0) })
    #expect(heap.usableSize(q) >= 64 * KiB)
    #expect(heap.liveBlocks == 1)
    heap.free(q)
    #expect(heap.liveBlocks == 0)
  }

  @Test("calloc whose count × size overflows returns nil; calloc memory is zeroed")
  func callocOverflowReturnsNil() throws {
    let heap = SystemRawAllocator()
    #expect(heap.calloc(Int.max / 2 + 1, 4) == nil)
    #expect(heap.calloc(1 << 40, 1 << 40) == nil)
    #expect(heap.liveBlocks == 0)
    #expect(heap.faults.calls == 2, "overflowing calls still count for the fault plan")
    let zeroed = try #require(heap.calloc(100, 8))
    #expect(allBytes(zeroed, 800, equal: 0))
    heap.free(zeroed)
  }

  @Test("liveBlocks counts successful malloc, calloc and realloc(nil) minus frees of non-nil pointers")
  func liveBlocksCounting() throws {
    let heap = SystemRawAllocator()
    let a = try #require(heap.malloc(0), "glibc's malloc(0) returns a unique pointer")
    let b = try #require(heap.malloc(0))
    #expect(a != b)
    let c = try #require(heap.calloc(3, 5))
    let d = try #require(heap.realloc(nil, 100))
    #expect(heap.liveBlocks == 4)
    #expect(heap.malloc(Int.max) == nil)  // glibc refuses; nothing new is live
    heap.free(nil)
    #expect(heap.liveBlocks == 4)
    let e = try #require(heap.realloc(d, 10_000))
    #expect(heap.liveBlocks == 4, "a moving realloc replaces the block")
    heap.free(a)
    #expect(heap.liveBlocks == 3)
    #expect(heap.realloc(c, 0) == nil, "glibc's realloc(p, 0) frees p")
    #expect(heap.liveBlocks == 2)
    heap.free(b)
    heap.free(e)
    #expect(heap.liveBlocks == 0)
  }

  // MARK: Traps

  @Test("munmap of a misaligned address traps with EINVAL")
  func munmapOfMisalignedAddressTraps() async {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      // `try?` so that only a trap, not a thrown SystemError, counts as a failing exit.
      guard let base = try? sys_mmap(length: 8192, injector: FaultInjector()) else { return }
      try? sys_munmap(base + 1, length: 4096)
    }
    let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    #expect(message.contains("munmap(") && message.contains("failed with EINVAL"), "stderr: \(message)")
  }

  @Test("releasing a region twice traps")
  func doubleReleaseTraps() async {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      let source = MmapPageSource()
      guard let base = source.reserve(bytes: 64 * KiB, alignment: 4096) else { return }
      source.release(base, bytes: 64 * KiB)
      source.release(base, bytes: 64 * KiB)
    }
    let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    #expect(message.contains("not a live region of this MmapPageSource"), "stderr: \(message)")
  }

  @Test("freeing a raw block twice traps")
  func rawDoubleFreeTraps() async {
    let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      let heap = SystemRawAllocator()
      let p = heap.malloc(16)
      heap.free(p)
      heap.free(p)
    }
    let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    #expect(message.contains("not a live block of this SystemRawAllocator"), "stderr: \(message)")
  }

  @Test("a fault plan that can never fire as written traps")
  func invalidPlanTraps() async {
    await #expect(processExitsWith: .failure) {
      _ = FaultInjector(.nth(0, errno: ENOMEM))  // "call numbers are 1-based, so n must be ≥ 1"
    }
  }
}
