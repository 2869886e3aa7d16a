// MimallocRandomTests.swift — seeded random programs over logical threads (one OS thread drives several
// MiThreads): allocations of every size class in every heap kind, local and remote frees, realloc,
// aligned allocation, heap delete/destroy, collects, quiescent points, thread exits and new threads.
// After every operation checkInvariants() must be empty; live blocks keep their canaries, never overlap,
// and are reported allocated with usable size ≥ request; at the end everything returns to the page source.
import Foundation
import Harness
import Testing

@testable import AllocUnderTest

extension SeededRandom {
  /// Uniform in 0..<n (the suite's PRNG, so a seed here means what it means everywhere).
  fileprivate mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

private struct Live {
  var address: Int
  var size: Int
  var canary: UInt8
  /// The heap whose blocks die with `destroy` (nil: not a heapNew heap).
  var heap: Heap?
}

/// One random program; returns the number of operations run.
private func runProgram(seed: UInt64, operations: Int) throws -> Int {
  let mi = Mimalloc()
  var rng = SeededRandom(seed: seed)
  var threads: [MiThread] = [mi.mainThread, mi.newThread(), mi.newThread()]
  var newHeaps: [Heap] = []
  var live: [Live] = []
  let sizes = [0, 1, 8, 24, 48, 64, 96, 100, 256, 512, 1000, 1024, 4000, 16_384, 20_000, 131_072, 200_000, 1 << 20]

  func pickThread() -> MiThread { threads[rng.below(threads.count)] }
  func write(_ b: Live) {
    MemoryAccess.writeUnchecked(address: b.address, bytes: [UInt8](repeating: b.canary, count: min(b.size, 32)))
  }
  func verify(_ b: Live, _ op: Int) {
    let n = min(b.size, 32)
    if MemoryAccess.readUnchecked(address: b.address, count: n) != [UInt8](repeating: b.canary, count: n) {
      Issue.record("seed \(seed) op \(op): canary of \(hex(b.address)) (size \(b.size)) overwritten")
    }
  }
  func allocate(_ op: Int) throws {
    let t = pickThread()
    let size = sizes[rng.below(sizes.count)] + (rng.below(3) == 0 ? rng.below(64) : 0)
    var heap = t.heap(HeapTag(rawValue: rng.below(4))!)
    var owner: Heap? = nil
    if let h = newHeaps.first(where: { $0.thread === t && $0.isAlive }), rng.below(4) == 0 {
      heap = h
      owner = h
    }
    let p: Int
    switch rng.below(10) {
    case 0: p = try #require(heap.mallocAligned(UInt64(size), alignment: 1 << rng.below(13)))
    case 1: p = try #require(heap.calloc(1, UInt64(size)))
    default: p = try #require(heap.malloc(UInt64(size)))
    }
    #expect(mi.usableSize(p) >= size, "seed \(seed) op \(op)")
    let b = Live(address: p, size: size, canary: UInt8(truncatingIfNeeded: op | 1), heap: owner)
    write(b)
    live.append(b)
  }

  var op = 0
  while op < operations {
    op += 1
    switch rng.below(20) {
    case 0...7:
      try allocate(op)
    case 8...12 where !live.isEmpty:  // free on a random (often foreign) thread
      let b = live.remove(at: rng.below(live.count))
      verify(b, op)
      pickThread().free(b.address)
    case 13 where !live.isEmpty:  // realloc on the owner's heap kind of a random thread
      let i = rng.below(live.count)
      verify(live[i], op)
      guard live[i].heap == nil else { continue }
      let t = pickThread()
      let n = sizes[rng.below(sizes.count)]
      let q = try #require(t.backing.realloc(live[i].address, UInt64(n)))
      live[i] = Live(address: q, size: min(n, live[i].size), canary: live[i].canary, heap: nil)
      live[i].size = n
      write(live[i])
    case 14:
      let t = pickThread()
      if rng.below(3) == 0 { newHeaps.append(t.heapNew()) } else { t.heap(HeapTag(rawValue: rng.below(4))!).collect(force: rng.below(2) == 0) }
    case 15 where !newHeaps.isEmpty:
      let h = newHeaps.remove(at: rng.below(newHeaps.count))
      guard h.isAlive else { continue }
      if rng.below(2) == 0 {
        h.destroy()
        live.removeAll { $0.heap === h }
      } else {
        h.delete()
        for i in live.indices where live[i].heap === h { live[i].heap = nil }
      }
    case 16:
      for t in threads { t.quiescent() }
    case 17 where threads.count > 2:  // a non-main thread exits; its heapNew blocks move to its backing heap
      let i = 1 + rng.below(threads.count - 1)
      let t = threads.remove(at: i)
      for j in live.indices where live[j].heap?.thread === t { live[j].heap = nil }
      t.exit()
    case 18:
      threads.append(mi.newThread())
    default:
      try allocate(op)
    }
    let v = mi.checkInvariants()
    if !v.isEmpty {
      Issue.record("seed \(seed) op \(op): \(v.map(\.description).joined(separator: "; "))")
      return op
    }
    if op % 50 == 0 {
      let sorted = live.sorted { $0.address < $1.address }
      for (a, b) in zip(sorted, sorted.dropFirst()) where a.address + max(a.size, 1) > b.address {
        Issue.record("seed \(seed) op \(op): blocks \(hex(a.address)) (\(a.size)) and \(hex(b.address)) overlap")
      }
      for b in live where mi.blockState(b.address) != .allocated {
        Issue.record("seed \(seed) op \(op): live block \(hex(b.address)) reported \(mi.blockState(b.address))")
      }
    }
  }
  for b in live {
    verify(b, op)
    pickThread().free(b.address)
  }
  for t in threads { t.collectAll(force: true) }
  for t in threads { t.quiescent() }
  for t in threads { t.collectAll(force: true) }
  let s = mi.stats()
  #expect(s.blocksInUse == 0 && s.segments == 0 && mi.pages.stats.mappedBytes == 0, "seed \(seed): \(s)")
  expectClean(mi, "seed \(seed) at the end")
  return op
}

/// `MIMALLOC_LONG_TESTS=<n>` runs n seeds of 2000 operations instead of the default 6 of 300 (R35).
private let longSeeds = ProcessInfo.processInfo.environment["MIMALLOC_LONG_TESTS"].flatMap { Int($0) }

@Suite("Mimalloc random programs")
struct MimallocRandomTests {
  @Test("random logical-thread programs keep every invariant and give everything back",
        arguments: 0..<(longSeeds ?? 6))
  func randomPrograms(_ seed: Int) throws {
    _ = try runProgram(seed: UInt64(seed) &* 0x2545_F491_4F6C_DD1D, operations: longSeeds == nil ? 300 : 2000)
  }
}
