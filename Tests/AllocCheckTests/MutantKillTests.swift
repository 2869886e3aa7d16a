// MutantKillTests.swift — checks added for mutants that survived `alloc-check mutate` (Documentation/Mutants.md),
// each shown failing on the broken state its mutant makes, and passing on the reference.

import Testing

@testable import AllocUnderTest

@Suite("Mutant kills: checks added for surviving mutants")
struct MutantKillTests {
  /// Segment.swift:112 `count: slices - infoSlices` → `slices + infoSlices` left a fresh segment's free span
  /// hanging past the segment's end; MI7 walked the spans from the start only and never looked at where
  /// they stop.
  @Test("MI7: the spans of a segment end exactly at its end (a free span overhanging it is caught)")
  func spansEndAtSegmentEnd() throws {
    let mi = Mimalloc()
    let p = try #require(mi.mainThread.backing.malloc(100))
    #expect(mi.checkInvariants().isEmpty)
    let segment = try #require(mi.liveSegments.first)
    var last: MiPage?
    segment.forEachSpan { last = $0 }
    let span = try #require(last)
    #expect(!span.isUsed && span.sliceIndex + span.sliceCount == segment.segmentSlices)
    span.sliceCount += 2 * MiConst.infoSlices  // the mutant's span
    let found = mi.checkInvariants()
    #expect(found.contains { $0.id == "MI7" && $0.detail.contains("spans end at slice") }, "\(found)")
    span.sliceCount -= 2 * MiConst.infoSlices
    #expect(mi.checkInvariants().isEmpty)
    mi.mainThread.free(p)
  }
}
