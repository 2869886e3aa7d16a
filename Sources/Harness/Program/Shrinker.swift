// Shrinker.swift — test-case reduction for op programs: ``Shrinker/shrink(_:maxAttempts:stillFails:)``
// returns the smallest failing ``Program`` it can reach, as a ``ShrinkResult``. Four passes run in turn
// until none improves (or the attempt budget runs out): chunk deletion, allocation deletion, op
// simplification and number shrinking (domains family: values its size and misuse rules reject are skipped). Every candidate is built by a validity-preserving edit
// (``Program/removingOps(at:)``, ``Program/removingAllocation(_:)``, or a same-shape op swap) and is
// re-checked with ``Program/isValid`` before the predicate sees it. Deterministic: no randomness.

/// What a shrink run produced.
public struct ShrinkResult: Hashable, Sendable {
  /// The smallest failing program found; the input itself if nothing smaller failed.
  public var program: Program
  /// Calls made to `stillFails` (never more than `maxAttempts`).
  public var attempts: Int
  /// Candidates that still failed and were kept.
  public var improvements: Int
}

/// Reduces a failing program while a predicate keeps failing.
public struct Shrinker {
  /// Shrinks `program`, which is assumed to fail (it is not re-checked).
  ///
  /// Passes, repeated to a fixed point: (1) delete chunks of n/2, n/4 … 1 ops (plus dependents), scanning
  /// from the end and then from the start; (2) delete each allocation with its dependents; (3) simplify
  /// ops: `calloc(c, s)` → `malloc(c·s)` when c·s fits, `realloc(NULL, n)` → `malloc(n)`, and
  /// `realloc(pK, n)` → `malloc(n)` (pK then simply stays live); (4) shrink each number, trying 0, 1, the
  /// largest ``SizeTable`` value below it, n/2, n − 1 and keeping the first that still fails.
  ///
  /// A candidate is kept only if it still fails and is strictly smaller in the order of
  /// ``Program/shrinkKey`` (ops, then requested bytes, then op complexity, then the sum of all numbers),
  /// so the result is never larger than the input and the loop always ends.
  public static func shrink(
    _ program: Program,
    maxAttempts: Int = 20_000,
    stillFails: (Program) -> Bool
  ) -> ShrinkResult {
    var state = State(current: program, maxAttempts: maxAttempts)
    while !state.exhausted {
      let before = state.improvements
      state.deleteChunks(stillFails)
      state.deleteAllocations(stillFails)
      state.simplifyOps(stillFails)
      state.shrinkNumbers(stillFails)
      if state.improvements == before { break }
    }
    return ShrinkResult(program: state.current, attempts: state.attempts, improvements: state.improvements)
  }

  /// The shrink loop's state; each pass is one method.
  struct State {
    var current: Program
    let maxAttempts: Int
    var attempts = 0
    var improvements = 0

    init(current: Program, maxAttempts: Int) {
      self.current = current
      self.maxAttempts = maxAttempts
    }

    var exhausted: Bool { attempts >= maxAttempts }

    /// Tries `candidate`: keeps it iff it is valid, smaller than `current`, the budget allows one more
    /// call, and it still fails.
    mutating func attempt(_ candidate: Program, _ stillFails: (Program) -> Bool) -> Bool {
      guard !exhausted, candidate.shrinkKey < current.shrinkKey else { return false }
      guard candidate.isValid else {
        assertionFailure("shrinker built an invalid candidate: \(candidate)")
        return false
      }
      attempts += 1
      guard stillFails(candidate) else { return false }
      current = candidate
      improvements += 1
      return true
    }

    /// Pass 1. Ops before a removed window are never changed by the removal (dependents always come
    /// later), so the backward scan continues just below the window either way.
    mutating func deleteChunks(_ stillFails: (Program) -> Bool) {
      var chunk = max(current.ops.count / 2, 1)
      while chunk >= 1, !current.ops.isEmpty, !exhausted {
        var end = current.ops.count
        while end > 0, !exhausted {
          let start = max(end - chunk, 0)
          _ = attempt(current.removingOps(at: start..<end), stillFails)
          end = start
        }
        var start = 0
        while start < current.ops.count, !exhausted {
          let range = start..<min(start + chunk, current.ops.count)
          if !attempt(current.removingOps(at: range), stillFails) { start += chunk }
        }
        chunk /= 2
      }
    }

    /// Pass 2. Runs from the last id down: removing pK renumbers only ids above K.
    mutating func deleteAllocations(_ stillFails: (Program) -> Bool) {
      var id = current.allocationCount - 1
      while id >= 0, !exhausted {
        _ = attempt(current.removingAllocation(BlockRef(id)), stillFails)
        id = min(id - 1, current.allocationCount - 1)
      }
    }

    /// Pass 3. Each swap keeps an allocating op allocating, so no id moves. A swap that changes which heap
    /// holds a block can make a later heap op invalid; the candidate is then repaired (see
    /// ``Program/repaired()``), which only ever drops ops.
    mutating func simplifyOps(_ stillFails: (Program) -> Bool) {
      for index in current.ops.indices where !exhausted {
        let simpler: Op
        switch current.ops[index] {
        case .calloc(let count, let size):
          let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
          if overflow { continue }
          simpler = .malloc(size: bytes)
        case .realloc(_, let size):
          simpler = .malloc(size: size)
        case .heapMallocAligned(let h, let size, _):
          simpler = .heapMalloc(h, size: size)
        case .heapMalloc(_, let size):
          simpler = .malloc(size: size)
        case .domain(.calloc(let d, let count, let size)):
          guard let bytes = DomainSizes.product(count, size) else { continue }
          simpler = .domain(.malloc(d, size: bytes))
        case .domain(.realloc(let d, _, let size)):
          simpler = .domain(.malloc(d, size: size))
        default:
          continue
        }
        guard index < current.ops.count else { break }
        var candidate = current
        candidate.ops[index] = simpler
        _ = attempt(candidate.isValid ? candidate : candidate.repaired(), stillFails)
      }
    }

    /// Pass 4. For each numeric field, the first candidate value that still fails wins.
    mutating func shrinkNumbers(_ stillFails: (Program) -> Bool) {
      for index in current.ops.indices where !exhausted {
        for field in current.ops[index].fields.indices where !exhausted {
          let n = current.ops[index].fields[field]
          for value in Self.smallerValues(than: n) {
            var candidate = current
            candidate.ops[index] = current.ops[index].replacingField(field, with: value)
            // The domains family bounds some numbers (sizes, misuse counts, offsets): skip values it rejects.
            if candidate.ops[index].kind.isDomainKind && !candidate.isValid { continue }
            if attempt(candidate, stillFails) || exhausted { break }
          }
        }
      }
    }

    /// 0, 1, the largest table value below n, n/2, n − 1: distinct, below n, in that order.
    static func smallerValues(than n: UInt64) -> [UInt64] {
      var values: [UInt64] = []
      for value in [0, 1, SizeTable.largestValue(below: n), n / 2, n &- 1].compactMap({ $0 })
      where value < n && !values.contains(value) {
        values.append(value)
      }
      return values
    }
  }
}

/// The order the shrinker decreases, compared lexicographically.
public struct ShrinkKey: Comparable, Hashable, Sendable {
  /// Number of ops.
  public var ops: Int
  /// Bytes requested: malloc and realloc sizes plus calloc count × size (exact per op; the sum saturates).
  public var requestedBytes: UInt128
  /// malloc 0, calloc 1, realloc 1 (+1 with a non-NULL ref), free 0 (+1 with a non-NULL ref).
  public var complexity: Int
  /// Sum of every numeric operand.
  public var fieldSum: UInt128

  public static func < (lhs: ShrinkKey, rhs: ShrinkKey) -> Bool {
    (lhs.ops, lhs.requestedBytes, lhs.complexity, lhs.fieldSum)
      < (rhs.ops, rhs.requestedBytes, rhs.complexity, rhs.fieldSum)
  }
}

extension Program {
  /// This program's position in the shrink order; see ``ShrinkKey``.
  public var shrinkKey: ShrinkKey {
    var key = ShrinkKey(ops: ops.count, requestedBytes: 0, complexity: 0, fieldSum: 0)
    for op in ops {
      switch op {
      case .malloc(let size):
        key.requestedBytes = saturatingSum(key.requestedBytes, UInt128(size))
      case .calloc(let count, let size):
        key.requestedBytes = saturatingSum(key.requestedBytes, UInt128(count) * UInt128(size))
        key.complexity += 1
      case .realloc(let ref, let size):
        key.requestedBytes = saturatingSum(key.requestedBytes, UInt128(size))
        key.complexity += ref == nil ? 1 : 2
      case .free(let ref):
        key.complexity += ref == nil ? 0 : 1
      case .heapMalloc(let h, let size):
        key.requestedBytes = saturatingSum(key.requestedBytes, UInt128(size))
        key.complexity += h.madeID == nil ? 1 : 2
      case .heapMallocAligned(let h, let size, _):
        key.requestedBytes = saturatingSum(key.requestedBytes, UInt128(size))
        key.complexity += h.madeID == nil ? 2 : 3
      case .spawn, .switchThread, .exitThread, .heapNew, .heapDestroy, .heapDelete, .heapCollect, .heapVisit, .collect,
        .quiescent:
        key.complexity += 1
      case .domain(let d):
        switch d {
        case .malloc(_, let n), .realloc(_, _, let n), .reallocFreed(_, let n), .mallocWithoutGIL(_, let n):
          key.requestedBytes = saturatingSum(key.requestedBytes, UInt128(n))
        case .calloc(_, let c, let n):
          key.requestedBytes = saturatingSum(key.requestedBytes, UInt128(c) * UInt128(n))
        default: break
        }
        // Clean calls as in the other families; a misuse or configuration step is one more.
        key.complexity += (d.operand == nil ? 0 : 1) + (d.kind == .domainCalloc || d.kind == .domainRealloc || d.isMisuse ? 1 : 0)
      }
      key.fieldSum += op.fields.reduce(UInt128(0)) { $0 + UInt128($1) }
    }
    return key
  }
}

/// `a + b`, or UInt128.max if that overflows (two calloc(2⁶⁴−1, 2⁶⁴−1) requests do).
private func saturatingSum(_ a: UInt128, _ b: UInt128) -> UInt128 {
  let (sum, overflow) = a.addingReportingOverflow(b)
  return overflow ? .max : sum
}
