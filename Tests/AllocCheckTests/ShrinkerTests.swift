// ShrinkerTests.swift — the validity-preserving removals (``Program/removingAllocation(_:)``,
// ``Program/removingOps(at:)``) and the ``Shrinker`` built on them: exact minimal results for known
// predicates, the attempt budget, determinism, and "never larger, never invalid" as a property.

import PropertyBased
import Testing

@testable import Harness

private func p(_ id: Int) -> BlockRef { BlockRef(id) }

/// A 200-op program decoded from seeded bytes.
private func randomProgram(seed: UInt64, ops: Int = 200) -> Program {
  var rng = SeededRandom(seed: seed)  // fixed for a seed, so these programs never change
  let bytes = (0..<(ops * 20)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
  return OpDecoder.decodePymalloc(bytes, maxOps: ops)
}

/// Bytes an op asks for: its size, or count × size for calloc (saturating).
private func requestedBytes(_ op: Op) -> UInt64 {
  switch op {
  case .malloc(let size), .realloc(_, let size), .heapMalloc(_, let size), .heapMallocAligned(_, let size, _): size
  case .calloc(let count, let size):
    count.multipliedReportingOverflow(by: size).overflow ? .max : count * size
  default: 0
  }
}

/// "Fails" iff some op requests at least 300 bytes.
private func hasLargeRequest(_ program: Program) -> Bool {
  program.ops.contains { requestedBytes($0) >= 300 }
}

/// "Fails" iff some block is allocated by malloc and later freed.
private func hasMallocThenFree(_ program: Program) -> Bool {
  var mallocIDs = Set<BlockRef>()
  for (op, id) in zip(program.ops, program.definedIDs) {
    if case .malloc = op, let id { mallocIDs.insert(id) }
    if case .free(let ref?) = op, mallocIDs.contains(ref) { return true }
  }
  return false
}

@Suite("Op program shrinker")
struct ShrinkerTests {
  static let chain = Program([
    .malloc(size: 1),  // p0
    .malloc(size: 2),  // p1
    .realloc(p(0), size: 3),  // p2
    .malloc(size: 4),  // p3
    .free(p(2)),
    .free(p(1)),
    .realloc(p(3), size: 5),  // p4
  ])

  @Test("removingAllocation drops the defining op and, transitively, its users")
  func removeAllocation() {
    #expect(
      Self.chain.removingAllocation(p(0))
        == Program([.malloc(size: 2), .malloc(size: 4), .free(p(0)), .realloc(p(1), size: 5)]))
    #expect(
      Self.chain.removingAllocation(p(3))
        == Program([.malloc(size: 1), .malloc(size: 2), .realloc(p(0), size: 3), .free(p(2)), .free(p(1))]))
    #expect(
      Self.chain.removingAllocation(p(4))
        == Program(Array(Self.chain.ops.dropLast())))
    #expect(Self.chain.removingAllocation(p(9)) == Self.chain)
    #expect(Self.chain.removingAllocation(p(-1)) == Self.chain)
  }

  @Test("removingOps of a consumer leaves its block live; of a realloc, removes the new block's users")
  func removeOps() {
    let withoutFree = Self.chain.removingOps(at: [4])
    #expect(withoutFree.isValid)
    #expect(withoutFree.liveRefs() == [p(2), p(4)])
    #expect(
      Self.chain.removingOps(at: [2])
        == Program([.malloc(size: 1), .malloc(size: 2), .malloc(size: 4), .free(p(1)), .realloc(p(2), size: 5)]))
    #expect(Self.chain.removingOps(at: [0, 1, 3]) == Program())
    #expect(Self.chain.removingOps(at: [-5, 99]) == Self.chain)
    #expect(Self.chain.removingOps(at: [Int]()) == Self.chain)
  }

  @Test("a large-request failure in a 200-op program shrinks to exactly p0 = malloc(300)")
  func shrinkToLargeRequest() throws {
    let program = randomProgram(seed: 0x5EED)
    #expect(program.ops.count == 200)
    try #require(hasLargeRequest(program))
    let result = Shrinker.shrink(program) { candidate in
      #expect(candidate.isValid)
      return hasLargeRequest(candidate)
    }
    #expect(result.program == Program([.malloc(size: 300)]))
    #expect(ProgramText.render(result.program).hasSuffix("\np0 = malloc(300)\n"))
    #expect(result.attempts <= 20_000)
    #expect(result.improvements > 0)
  }

  @Test("a use chain (malloc, then free of that block) keeps both ops")
  func shrinkUseChain() throws {
    let program = randomProgram(seed: 7)
    try #require(hasMallocThenFree(program))
    let result = Shrinker.shrink(program, stillFails: hasMallocThenFree)
    #expect(result.program == Program([.malloc(size: 0), .free(p(0))]))
  }

  @Test("maxAttempts bounds the calls to the predicate")
  func attemptBudget() {
    var calls = 0
    let result = Shrinker.shrink(randomProgram(seed: 3), maxAttempts: 25) { candidate in
      calls += 1
      return candidate.ops.count > 100
    }
    #expect(calls == 25)
    #expect(result.attempts == 25)
    var none = 0
    let untouched = Shrinker.shrink(randomProgram(seed: 3), maxAttempts: 0) { _ in
      none += 1
      return true
    }
    #expect(none == 0)
    #expect(untouched.program == randomProgram(seed: 3))
  }

  @Test("an always-failing predicate shrinks any program to the empty program")
  func alwaysFails() {
    let result = Shrinker.shrink(randomProgram(seed: 11)) { _ in true }
    #expect(result.program == Program())
    #expect(Shrinker.shrink(Program()) { _ in true }.attempts == 0)
  }

  @Test("simplification turns calloc and realloc into malloc when the failure allows")
  func simplifications() {
    let program = Program([.calloc(count: 3, size: 8), .realloc(nil, size: 5), .realloc(p(0), size: 9)])
    let result = Shrinker.shrink(program) { $0.ops.count == 3 && $0.ops.allSatisfy { requestedBytes($0) > 0 } }
    #expect(result.program == Program([.malloc(size: 1), .malloc(size: 1), .malloc(size: 1)]))
    let overflowing = Program([.calloc(count: .max, size: 2)])
    let kept = Shrinker.shrink(overflowing) { $0.ops.first.map { $0.kind == .calloc && $0.fields[0] > 1 } ?? false }
    #expect(kept.program == Program([.calloc(count: 2, size: 0)]))
  }

  @Test("shrinking is deterministic, never grows the program and never tries an invalid one")
  func shrinkProperty() async {
    await propertyCheck(count: 100, input: Gen.uint8().array(of: 1...300), Gen.uint64(in: 0...600)) {
      bytes, threshold in
      let program = OpDecoder.decodePymalloc(bytes)
      let fails: (Program) -> Bool = { candidate in
        candidate.ops.contains { requestedBytes($0) >= threshold }
      }
      guard fails(program) else { return }
      let first = Shrinker.shrink(program) { candidate in
        #expect(candidate.isValid)
        return fails(candidate)
      }
      #expect(first == Shrinker.shrink(program, stillFails: fails))
      #expect(first.program.shrinkKey <= program.shrinkKey)
      #expect(first.program.ops.count <= 1)
      #expect(fails(first.program))
    }
  }
}
