// MimallocDomainBackingTests.swift — the reference mimalloc as the MEM/OBJ backing of the PyMem domains
// (MimallocDomainBacking.swift): which heap each call lands in per build, the free-threaded debug fill
// offsets (spec §5.2), realloc under the hooks, the size limits, and a clean allocator afterwards.
// The test_mem.py classes under mimalloc run in TestMemParityTests; the name table in DomainConfigTests.
import Testing

@testable import AllocUnderTest

@Suite("Mimalloc domain backing")
struct MimallocDomainBackingTests {
  private func domains(_ build: PyBuild, _ name: String) throws -> (PyMemDomains, ReferenceMimallocProvider) {
    let provider = ReferenceMimallocProvider()
    return (try PyMemDomains(build: build, allocator: name, mimalloc: provider), provider)
  }

  private func tag(_ provider: ReferenceMimallocProvider, _ p: UnsafeMutableRawPointer) -> HeapTag? {
    provider.mimalloc.heapOwning(Int(bitPattern: p))?.tag
  }

  private func expectClean(_ provider: ReferenceMimallocProvider) {
    let mi = provider.mimalloc
    #expect(mi.stats().blocksInUse == 0, "\(mi.stats())")
    #expect(mi.checkInvariants().isEmpty, "\(mi.checkInvariants())")
  }

  @Test("free-threaded: MEM → the MEM heap, OBJ → current_object_heap (OBJECT, or GC when switched)")
  func freeThreadedHeaps() throws {
    let (d, provider) = try domains(.freeThreaded, "")
    let m = try #require(d.malloc(.mem, 48))
    let o = try #require(d.malloc(.obj, 48))
    #expect(tag(provider, m) == .mem)
    #expect(tag(provider, o) == .object)
    provider.currentObjectHeap = .gc
    let g = try #require(d.calloc(.obj, 3, 16))
    #expect(tag(provider, g) == .gc)
    let g2 = try #require(d.realloc(.obj, g, 4000))
    #expect(tag(provider, g2) == .gc, "mi_heap_realloc on the current object heap")
    for (domain, p) in [(PyMemDomain.mem, m), (.obj, o), (.obj, g2)] { d.free(domain, p) }
    expectClean(provider)
  }

  @Test("GIL build with PYTHONMALLOC=mimalloc: MEM and OBJ both use the thread's default (backing) heap")
  func gilBuildDefaultHeap() throws {
    let (d, provider) = try domains(.release, "mimalloc")
    let m = try #require(d.malloc(.mem, 48))
    let o = try #require(d.malloc(.obj, 48))
    #expect(tag(provider, m) == .mem && tag(provider, o) == .mem)
    #expect(provider.mimalloc.heapOwning(Int(bitPattern: o)) === provider.thread.backing)
    d.free(.mem, m)
    d.free(.obj, o)
    expectClean(provider)
  }

  /// Spec §5.2: with hooks, `debug_offset` is 40 for OBJECT/GC pages and 56 for GC_PRE, so a free keeps the
  /// first 24 (resp. 40) data bytes and fills the rest with 0xDD; MEM blocks are filled whole.
  @Test("free-threaded debug fills keep the first debug_offset − 16 data bytes of OBJ blocks",
        arguments: [(HeapTag.object, 24), (.gc, 24), (.gcPre, 40)])
  func debugFillOffsets(_ heap: HeapTag, _ kept: Int) throws {
    let (d, provider) = try domains(.freeThreaded, "debug")
    provider.currentObjectHeap = heap
    let p = try #require(d.malloc(.obj, 96))
    #expect(domainPeek(p, 0, kept) != [UInt8](repeating: 0xCD, count: kept), "clean fill skipped the kept bytes")
    #expect(domainPeek(p, kept, 96 - kept) == [UInt8](repeating: 0xCD, count: 96 - kept))
    domainPoke(p, 0, [UInt8](repeating: 0x41, count: 96))
    d.free(.obj, p)
    #expect(domainPeek(p, 0, kept) == [UInt8](repeating: 0x41, count: kept))
    #expect(domainPeek(p, kept, 96 - kept) == [UInt8](repeating: 0xDD, count: 96 - kept))
    let m = try #require(d.malloc(.mem, 96))
    #expect(domainPeek(m, 0, 96) == [UInt8](repeating: 0xCD, count: 96))
    d.free(.mem, m)
    #expect(domainPeek(m, 0, 96) == [UInt8](repeating: 0xDD, count: 96), "MEM pages have debug_offset 0")
    expectClean(provider)
  }

  @Test("realloc under mimalloc_debug moves across size classes, keeps the data and rewrites the header")
  func reallocUnderHooks() throws {
    let (d, provider) = try domains(.release, "mimalloc_debug")
    let p = try #require(d.malloc(.mem, 8))
    domainPoke(p, 0, Array("ABCDEFGH".utf8))
    let q = try #require(d.realloc(.mem, p, 5000))
    #expect(domainPeek(q, 0, 8) == Array("ABCDEFGH".utf8))
    #expect(domainPeek(q, 8, 16) == [UInt8](repeating: 0xCD, count: 16))
    #expect(domainPeek(q, -16, 8) == [0, 0, 0, 0, 0, 0, 0x13, 0x88], "size field 5000, big-endian")
    #expect(domainPeek(q, 5000, 8) == [UInt8](repeating: 0xFD, count: 8))
    d.free(.mem, q)
    expectClean(provider)
  }

  @Test("sizes mimalloc refuses come back nil: above PTRDIFF_MAX, calloc overflow")
  func sizeLimits() throws {
    let provider = ReferenceMimallocProvider()
    let backing = provider.backing(for: .mem, build: .freeThreaded, raw: SystemRawAllocator())
    #expect(backing.malloc(UInt(Int.max) + 1) == nil)
    #expect(backing.calloc(UInt(1) << 40, UInt(1) << 40) == nil)
    let p = try #require(backing.malloc(0), "mi_malloc(0) is a valid, distinct block")
    #expect(backing.usableSize(p) >= 8)
    backing.free(p)
    expectClean(provider)
  }
}
