// ArenaPlacementTests.swift — ``ArenaPlacementSource``, the page source of both sides of the pymalloc
// differential: two sources given the same calls place every arena at the same offset of a window that lies
// in one 16 GiB stretch of CPython's arena map, the lowest free slot first, pool-aligned and misaligned in
// turn, under the fault plan, with a fallback to mmap's placement. The differential case that shows why
// (X4 diverging on the arena map's node count when the two sides' arenas fall on either side of a 16 GiB
// line, as a CI run once saw) is in DifferentialTests.

import Testing

@testable import AllocUnderTest

#if canImport(Glibc)
import Glibc
#endif

@Suite("Arena placement for the differential")
struct ArenaPlacementTests {
  typealias Source = ArenaPlacementSource
  let arena = PymallocLayout.arenaSize

  /// Runs the same reserve/release script on `source`: reserves (r) and releases of the i-th reserved
  /// region (an Int), returning every region's offset from the window in the order reserved.
  func script(_ source: Source, _ steps: [Int?]) -> [Int] {
    var held: [UnsafeMutableRawPointer?] = []
    var offsets: [Int] = []
    for step in steps {
      if let i = step {
        source.release(held[i]!, bytes: arena)
        held[i] = nil
      } else {
        let p = source.reserve(bytes: arena, alignment: 4096)!
        held.append(p)
        offsets.append(Int(bitPattern: p) - source.windowBase!)
      }
    }
    for p in held.compactMap({ $0 }) { source.release(p, bytes: arena) }
    return offsets
  }

  @Test("two sources place the same calls' arenas at the same offsets, lowest free slot first, in one 16 GiB stretch")
  func sameGeometry() throws {
    let a = Source(), b = Source()
    let steps: [Int?] = [nil, nil, nil, nil, 1, 2, nil, nil, nil, 0, nil]
    let offsetsA = script(a, steps), offsetsB = script(b, steps)
    #expect(offsetsA == offsetsB)
    let stride = Source.slotStride, page = Int(getpagesize())
    // Reserves 0–3 take slots 0–3; releasing slots 1 and 2 lets reserves 4 and 5 take them back, lowest first;
    // reserve 6 goes to slot 4; releasing slot 0 lets reserve 7 take it. Odd reserves sit one page in.
    let slots = [0, 1, 2, 3, 1, 2, 4, 0]
    #expect(offsetsA == slots.enumerated().map { k, s in s * stride + (k % 2 == 0 ? 0 : page) })
    for source in [a, b] {
      let base = try #require(source.windowBase)
      #expect(base % arena == 0, "window at \(base) is not arena-aligned")
      let last = base + source.slotCount * stride - 1
      #expect(base / Source.mapSpan == last / Source.mapSpan, "the window crosses a 16 GiB line")
      #expect(source.slotCount == Source.defaultWindowBytes / stride)
      #expect(source.stats.mappedBytes == 0 && source.stats.reserveCalls == 8 && source.stats.releaseCalls == 8)
    }
  }

  @Test("a slot is zeroed, writable memory when handed out, and zeroed again when handed out after a release")
  func slotMemory() throws {
    let s = Source()
    let p = try #require(s.reserve(bytes: arena, alignment: 4096))
    let bytes = UnsafeMutableRawBufferPointer(start: p, count: arena)
    #expect(bytes.allSatisfy { $0 == 0 })
    bytes.initializeMemory(as: UInt8.self, repeating: 0xA5)
    s.decommit(p + 16_384, bytes: 16_384)
    #expect(bytes[16_384..<32_768].allSatisfy { $0 == 0 } && bytes[0] == 0xA5)
    s.release(p, bytes: arena)
    let q = try #require(s.reserve(bytes: arena, alignment: 4096))
    let again = UnsafeMutableRawBufferPointer(start: q, count: arena)
    #expect(Int(bitPattern: q) - Int(bitPattern: p) == Int(getpagesize()), "not the same slot, one page in")
    #expect(again.allSatisfy { $0 == 0 })
    s.release(q, bytes: arena)
  }

  @Test("a touch after release faults: the slot goes back to no access")
  func releasedSlotFaults() async {
    await #expect(processExitsWith: .signal(SIGSEGV)) {
      let s = Source()
      let p = s.reserve(bytes: PymallocLayout.arenaSize, alignment: 4096)!
      s.release(p, bytes: PymallocLayout.arenaSize)
      p.storeBytes(of: 1, as: UInt8.self)
    }
  }

  @Test("the fault plan counts one call per reserve: .nth(2) fails the second, whose slot the third then takes")
  func faultPlan() throws {
    let s = Source(faults: .nth(2, errno: ENOMEM))
    let p0 = try #require(s.reserve(bytes: arena, alignment: 4096))
    #expect(s.reserve(bytes: arena, alignment: 4096) == nil)
    let p2 = try #require(s.reserve(bytes: arena, alignment: 4096))
    // The failed call took no slot and no turn: the third call is the second reserve, one page in.
    #expect(Int(bitPattern: p2) - Int(bitPattern: p0) == Source.slotStride + Int(getpagesize()))
    #expect(s.faults.injected == 1 && s.stats.failedReserves == 1 && s.stats.reserveCalls == 3)
    s.release(p0, bytes: arena)
    s.release(p2, bytes: arena)
    #expect(s.stats.mappedBytes == 0)
  }

  @Test("a full window, a size that is not an arena's, or no window at all fall back to mmap's placement")
  func fallback() throws {
    let s = Source(windowBytes: 2 * Source.slotStride)
    let base = try #require(s.windowBase)
    let end = base + 2 * Source.slotStride
    let inside = (0..<2).map { _ in s.reserve(bytes: arena, alignment: 4096)! }
    let outside = try #require(s.reserve(bytes: arena, alignment: 4096))
    let other = try #require(s.reserve(bytes: 2 * arena, alignment: 4096))
    for p in inside { #expect((base..<end).contains(Int(bitPattern: p))) }
    for p in [outside, other] { #expect(!(base..<end).contains(Int(bitPattern: p))) }
    // Both kinds are usable and give back cleanly; a slot freed later is taken again first.
    UnsafeMutableRawBufferPointer(start: outside, count: arena).initializeMemory(as: UInt8.self, repeating: 1)
    s.release(inside[0], bytes: arena)
    let reused = try #require(s.reserve(bytes: arena, alignment: 4096))
    #expect((base..<end).contains(Int(bitPattern: reused)))
    for (p, n) in [(inside[1], arena), (outside, arena), (other, 2 * arena), (reused, arena)] { s.release(p, bytes: n) }
    #expect(s.stats.mappedBytes == 0)
    let none = Source(window: .none)
    #expect(none.windowBase == nil && none.slotCount == 0)
    let p = try #require(none.reserve(bytes: arena, alignment: 4096))
    none.release(p, bytes: arena)
  }

  @Test(".mapLineAtSlot(k) puts slot k exactly on a 16 GiB line (the test hook behind the X4 case)")
  func mapLine() throws {
    let s = Source(window: .mapLineAtSlot(2))
    let base = try #require(s.windowBase)
    #expect((base + 2 * Source.slotStride) % Source.mapSpan == 0)
  }

  @Test("releasing a region this source never gave traps")
  func strayRelease() async {
    await #expect(processExitsWith: .failure) {
      let s = Source()
      let p = s.reserve(bytes: PymallocLayout.arenaSize, alignment: 4096)!
      s.release(p + 4096, bytes: PymallocLayout.arenaSize)
    }
  }
}
