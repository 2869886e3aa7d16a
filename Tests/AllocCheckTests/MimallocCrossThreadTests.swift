// MimallocCrossThreadTests.swift — the cross-thread free protocol of the mimalloc reference (spec
// mimalloc.md §4): the observed delayed-free sequence of §4.3 step by step, remote frees into a full page,
// heap delete while remote frees are queued (#204), and a smoke test on real OS threads that must end with
// zero blocks in use. checkInvariants() must be empty after each.
import Foundation
import Synchronization
import Testing

@testable import AllocUnderTest

@Suite("Mimalloc cross-thread free")
struct MimallocCrossThreadTests {
  @Test("§4.3 observed sequence: free #1 → state 2 on the heap list, #2 → page list, drain → state 0, #3 → heap list")
  func observedSequence() throws {
    let mi = Mimalloc()
    let owner = mi.newThread()
    let remote = mi.newThread()
    let h = owner.backing
    let b = try (0..<3).map { _ in UInt(bitPattern: try #require(h.malloc(24))) }
    let page = try #require(mi._page(containing: Int(bitPattern: b[0])))
    #expect(page.used == 3 && page.delayedState == .useDelayedFree)

    remote.free(Int(bitPattern: b[0]))
    #expect(page.delayedState == .noDelayedFree && page.threadFreeHead == 0)
    #expect(h.delayedFreeHead == b[0] && page.used == 3)
    expectClean(mi, "after remote free #1")

    remote.free(Int(bitPattern: b[1]))
    #expect(page.delayedState == .noDelayedFree && page.threadFreeHead == b[1] && h.delayedFreeHead == b[0])
    #expect(page.used == 3)

    h.delayedFreePartial()  // what the owner's next generic allocation or collect does first
    #expect(page.delayedState == .useDelayedFree && page.threadFreeHead == 0 && h.delayedFreeHead == 0)
    #expect(page.used == 1)
    expectClean(mi, "after the owner's drain")

    remote.free(Int(bitPattern: b[2]))
    #expect(page.delayedState == .noDelayedFree && h.delayedFreeHead == b[2])
    let log = mi.transitions.recent.filter { $0.page == Int(bitPattern: page.spanStart) }
    #expect(log.map { "\($0.from)→\($0.to) \($0.site.rawValue)" } == [
      "0→1 remoteFree", "1→2 remoteFreeDone", "2→0 delayedFreeBlock", "0→1 remoteFree", "1→2 remoteFreeDone",
    ])
    owner.collect(force: false)
    #expect(h.usedBlocks() == 0)
    expectClean(mi)
  }

  @Test("a remote free into a full page notifies the heap, and the owner's drain moves the page out of the full queue")
  func remoteFreeIntoFullPage() throws {
    let mi = Mimalloc()
    let owner = mi.newThread()
    let remote = mi.newThread()
    let h = owner.backing
    let blocks = try (0..<5).map { _ in try #require(h.malloc(16_384)) }
    let full = try #require(mi._page(containing: blocks[0]))
    #expect(full.inFull)
    remote.free(blocks[2])
    #expect(h.delayedFreeHead == UInt(bitPattern: blocks[2]) && full.inFull)
    _ = try #require(h.malloc(20_000))  // any generic allocation drains the delayed list first
    #expect(!full.inFull && full.used == 3)
    expectClean(mi)
  }

  @Test("heap delete while remote frees sit on its delayed list (#204): nothing is lost")
  func deleteWithQueuedRemoteFrees() throws {
    let mi = Mimalloc()
    let owner = mi.newThread()
    let remote = mi.newThread()
    let h = owner.heapNew()
    let blocks = try (0..<100).map { _ in try #require(h.malloc(48)) }
    for p in blocks.prefix(50) { remote.free(p) }
    #expect(h.delayedFreeHead != 0)
    h.delete()
    #expect(owner.backing.usedBlocks() == 50)
    for p in blocks.suffix(50) { remote.free(p) }
    owner.collect(force: false)
    #expect(owner.backing.usedBlocks() == 0 && mi.stats().blocksInUse == 0)
    expectClean(mi)
  }

  @Test("real OS threads: allocate, hand blocks over through a shared array, free remotely, exit; nothing left")
  func realThreadsSmoke() throws {
    let mi = Mimalloc()
    let report = runRealThreads(mi, threads: 4, operations: 4000)
    print("Mimalloc real threads: \(report)")
    #expect(report.corruptCanaries == 0)
    mi.mainThread.quiescent()
    mi.mainThread.collect(force: true)
    for tag in HeapTag.allCases { mi.mainThread.heap(tag).collect(force: true) }
    let s = mi.stats()
    #expect(s.blocksInUse == 0 && s.abandonedSegments == 0, "\(s)")
    #expect(s.segments == 0 && mi.pages.stats.mappedBytes == 0, "\(s)")
    expectClean(mi)
  }
}

/// A few numbers from ``runRealThreads(_:threads:operations:)``.
struct RealThreadsReport: CustomStringConvertible {
  var allocations = 0
  var handedOver = 0
  var corruptCanaries = 0
  var description: String { "\(allocations) allocations, \(handedOver) handed over, \(corruptCanaries) bad canaries" }
}

/// Blocks waiting for another thread to free them.
private final class Exchange: Sendable {
  let blocks = Mutex<[(address: Int, size: Int)]>([])
  let report = Mutex(RealThreadsReport())
}

/// Starts `threads` OS threads, each driving its own ``MiThread``: random sizes (8 B … 20 KiB, sometimes
/// 200 KiB) in the MEM and OBJECT heaps, a canary in each block, a quarter handed to the shared array and
/// freed by whichever thread takes it; each thread frees what it kept and exits. Then the main thread frees
/// what is left in the array. Returns when every thread has joined.
nonisolated func runRealThreads(_ mi: Mimalloc, threads: Int, operations: Int) -> RealThreadsReport {
  let exchange = Exchange()
  let workers = (0..<threads).map { _ in mi.newThread() }
  let group = DispatchGroup()
  for (index, worker) in workers.enumerated() {
    group.enter()
    let thread = Thread {
      var rng = UInt64(0x9E37_79B9_7F4A_7C15) &* UInt64(index + 1)
      func next() -> UInt64 {
        rng &+= 0x9E37_79B9_7F4A_7C15
        var z = rng
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
      }
      var kept: [(address: Int, size: Int)] = []
      var local = RealThreadsReport()
      func check(_ b: (address: Int, size: Int)) {
        let bytes = MemoryAccess.readUnchecked(address: b.address, count: min(b.size, 16))
        if bytes != [UInt8](repeating: UInt8(truncatingIfNeeded: b.size), count: min(b.size, 16)) { local.corruptCanaries += 1 }
      }
      for op in 0..<operations {
        let r = next()
        let size = r % 100 == 0 ? 200_000 : Int(8 + (r >> 8) % 20_000)
        let heap = worker.heap(r & 1 == 0 ? .mem : .object)
        if let p = heap.malloc(UInt64(size)) {
          MemoryAccess.writeUnchecked(address: p, bytes: [UInt8](repeating: UInt8(truncatingIfNeeded: size), count: min(size, 16)))
          local.allocations += 1
          if (r >> 40) % 4 == 0 {
            exchange.blocks.withLock { $0.append((p, size)) }
            local.handedOver += 1
          } else {
            kept.append((p, size))
          }
        }
        if (r >> 20) % 3 == 0, let b = exchange.blocks.withLock({ $0.popLast() }) {
          check(b)
          worker.free(b.address)
        }
        if (r >> 24) % 2 == 0, !kept.isEmpty {
          let b = kept.remove(at: Int((r >> 32) % UInt64(kept.count)))
          check(b)
          worker.free(b.address)
        }
        if op % 256 == 0 { worker.quiescent() }
      }
      for b in kept { check(b); worker.free(b.address) }
      worker.exit()
      exchange.report.withLock { r in
        r.allocations += local.allocations
        r.handedOver += local.handedOver
        r.corruptCanaries += local.corruptCanaries
      }
      group.leave()
    }
    thread.start()
  }
  group.wait()
  let leftovers = exchange.blocks.withLock { b in defer { b = [] }; return b }
  for b in leftovers { mi.mainThread.free(b.address) }
  return exchange.report.withLock { $0 }
}
