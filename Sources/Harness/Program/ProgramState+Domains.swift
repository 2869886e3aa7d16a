// ProgramState+Domains.swift — the validity rules of the domains family, inside the one checker
// (``ProgramState``): what the program text alone says about each domain block (its domain, its size, and
// whether its request is refused so the name holds NULL) and whether the debug hooks are on.
//
// Rules:
// - `configure` and `setup_debug_hooks` only before the first domain call (CPython: before the first
//   allocation, or blocks would be freed by the wrong table);
// - every size is at most ``DomainSizes/maxBlock`` or at least ``DomainSizes/refusedFrom``;
// - a clean realloc/free goes through the block's own domain;
// - misuse ops only while the hooks are on, on a non-NULL block: `write_past_end` count 1…8,
//   `write_before_start` count 1…16, `write_after_free` offset < N, `free_wrong_domain` through another
//   domain with the same backing (so a hook bug that lets the block through corrupts nothing); a block a
//   write misuse touched takes no further misuse.

import AllocUnderTest

/// What the text says about one domain block.
public struct DomainBlockFacts: Hashable, Sendable {
  public var domain: PyMemDomain
  /// N, the size asked for (for a failed realloc: the old block's, which the new name holds).
  public var size: UInt64
  /// The request is refused, so the name holds NULL.
  public var isNull: Bool
}

/// Domain block facts by block id: an array indexed by id (ids are dense, 0, 1, 2, … in definition order), so
/// the lookups of the decoder, ``ProgramState/check(_:at:)`` and the executor — one or two per op — hash
/// nothing. Reads like the dictionary it replaces: nil for an id with no facts.
public struct DomainBlockTable: Hashable, Sendable {
  /// Facts at each id; no trailing nil (so equal tables are equal arrays).
  private var facts: [DomainBlockFacts?] = []

  public init() {}

  public subscript(id: Int) -> DomainBlockFacts? {
    get { id >= 0 && id < facts.count ? facts[id] : nil }
    set {
      precondition(id >= 0, "DomainBlockTable: negative block id \(id)")
      if id >= facts.count {
        guard newValue != nil else { return }
        facts.append(contentsOf: repeatElement(nil, count: id - facts.count + 1))
      }
      facts[id] = newValue
      while facts.last == .some(nil) { facts.removeLast() }
    }
  }

  /// The ids with facts, ascending.
  public var keys: [Int] { facts.indices.filter { facts[$0] != nil } }
}

/// The domains family's part of ``ProgramState``.
public struct DomainStatics: Hashable, Sendable {
  public var configuration: DomainConfiguration = .default
  /// `setup_debug_hooks()` ran.
  public var hooksAdded = false
  /// A domain call (anything but configure/setup) ran.
  public var callsMade = false
  /// Facts of every domain block ever defined, by id.
  public var blocks = DomainBlockTable()
  /// Blocks a write misuse touched: their next free or realloc is the check, and no other misuse may
  /// name them (two misuses of one block would make one prediction depend on the other).
  public var written: Set<Int> = []

  public init() {}

  /// The debug hooks are on all three domains.
  public var hooked: Bool { configuration.hooked || hooksAdded }
  /// `_PyMem_GetCurrentAllocatorName()` as CPython would answer now.
  public var expectedAllocatorName: String {
    let name = configuration.currentName
    return hooksAdded && !name.hasSuffix("_debug") ? name + "_debug" : name
  }
  /// Do `a` and `b` have the same backing under the configuration?
  public func sameBacking(_ a: PyMemDomain, _ b: PyMemDomain) -> Bool {
    configuration.pymallocBacks(a) == configuration.pymallocBacks(b)
  }
}

extension ProgramState {
  /// Live, non-NULL domain blocks in id order (``DomainBlockTable/keys`` ascends): what a misuse can name.
  public var misusableBlocks: [Int] {
    domains.blocks.keys.filter { isLive(block: $0) && domains.blocks[$0]?.isNull == false && !domains.written.contains($0) }
  }

  /// Throws the first domains-family rule `op` breaks (refs were checked by ``check(_:at:)``).
  func checkDomain(_ op: DomainOp, at index: Int) throws(ProgramError) {
    func fail(_ kind: ProgramError.Kind) -> ProgramError { ProgramError(opIndex: index, kind: kind) }
    let facts = op.operand.flatMap { domains.blocks[$0.id] }
    switch op {
    case .configure, .setupDebugHooks:
      if domains.callsMade { throw fail(.configureTooLate) }
    case .malloc(_, let n), .mallocWithoutGIL(_, let n):
      if !DomainSizes.allowed(n) { throw fail(.sizeNotAllowed(n)) }
    case .calloc(_, let c, let n):
      if !DomainSizes.allowedCalloc(c, n) { throw fail(.sizeNotAllowed(DomainSizes.product(c, n)!)) }
    case .realloc(let d, let ref, let n):
      if !DomainSizes.allowed(n) { throw fail(.sizeNotAllowed(n)) }
      if let ref, let facts, facts.domain != d {
        throw fail(.wrongDomain(ref, owner: facts.domain.description, called: d.description))
      }
    case .free(let d, let ref):
      if let ref, let facts, facts.domain != d {
        throw fail(.wrongDomain(ref, owner: facts.domain.description, called: d.description))
      }
    case .reallocFreed(_, let n):
      if !DomainSizes.allowed(n) { throw fail(.sizeNotAllowed(n)) }
    default:
      break
    }
    guard op.isMisuse else { return }
    guard domains.hooked else { throw fail(.misuseWithoutHooks) }
    if let ref = op.operand, facts?.isNull != false { throw fail(.misuseOfNullBlock(ref)) }
    if let ref = op.operand, domains.written.contains(ref.id) {
      throw fail(.misuseOperand("\(ref) was already misused by a write; only its next free or realloc may follow"))
    }
    switch op {
    case .writePastEnd(_, let count, _):
      if !(1...8).contains(count) { throw fail(.misuseOperand("write_past_end writes 1…8 bytes (the trailing pad), not \(count)")) }
    case .writeBeforeStart(_, let count, _):
      if !(1...16).contains(count) { throw fail(.misuseOperand("write_before_start writes 1…16 bytes (the header), not \(count)")) }
    case .writeAfterFree(let ref, let offset, _):
      if offset >= facts!.size { throw fail(.misuseOperand("write_after_free offset \(offset) is outside \(ref)'s \(facts!.size) bytes")) }
    case .freeWrongDomain(let ref, let other):
      if other == facts!.domain { throw fail(.misuseOperand("free_wrong_domain needs a domain other than \(ref)'s own")) }
      if !domains.sameBacking(other, facts!.domain) {
        throw fail(.misuseOperand("free_wrong_domain: \(other) has another backing than \(facts!.domain) under \(domains.configuration)"))
      }
    default:
      break
    }
  }

  /// Applies a checked domain op.
  mutating func applyDomain(_ op: DomainOp, at index: Int) {
    switch op {
    case .configure(let c):
      domains.configuration = c
      domains.hooksAdded = false
      return
    case .setupDebugHooks:
      domains.hooksAdded = true
      return
    default:
      domains.callsMade = true
    }
    let old = op.operand.flatMap { domains.blocks[$0.id] }
    if op.kind == .writePastEnd || op.kind == .writeBeforeStart, let ref = op.operand { domains.written.insert(ref.id) }
    if let used = op.consumed { consume(used.id, at: index) }
    let defined: DomainBlockFacts?
    switch op {
    case .malloc(let d, let n): defined = DomainBlockFacts(domain: d, size: n, isNull: DomainSizes.refused(n))
    case .calloc(let d, let c, let n):
      defined = DomainBlockFacts(domain: d, size: DomainSizes.product(c, n) ?? .max, isNull: DomainSizes.refusedCalloc(c, n))
    case .realloc(let d, _, let n):
      // A refused realloc leaves the old block valid; the new name holds it (as in the other families).
      if DomainSizes.refused(n), let old { defined = old } else {
        defined = DomainBlockFacts(domain: d, size: n, isNull: DomainSizes.refused(n))
      }
    default: defined = nil
    }
    if let defined {
      define(home: .tagged(thread: 0, .mem))
      domains.blocks[blocksDefined - 1] = defined
      // A refused realloc of a written block hands the same (written) block to the new name.
      if case .realloc(_, let ref?, let n) = op, DomainSizes.refused(n), domains.written.contains(ref.id) {
        domains.written.insert(blocksDefined - 1)
      }
    }
  }
}
