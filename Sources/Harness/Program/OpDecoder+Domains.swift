// OpDecoder+Domains.swift — ``OpDecoder/decodeDomains(_:maxOps:)``: any byte string as a valid program of
// the "domains family v1" format (Documentation/ProgramFormat.md): the PyMem domains, the debug hooks and
// the misuse ops. Same field layer as the other families (``FieldReader``); validity is ``ProgramState``'s.

import AllocUnderTest

extension OpDecoder {
  /// Number of domains-family kinds: a tag byte `t` names kind `16 + t % 14`.
  public static let domainKindCount: UInt8 = 14

  /// Decodes `bytes` as the domains family v1. Operands that must name something pick it modulo what
  /// exists, and an op that cannot be valid where it stands decodes as `PyMem_Free(NULL)` after reading
  /// its fields (a misuse without hooks or without a non-NULL live block, `configure` after a call, a
  /// `free_wrong_domain` with no other domain of the same backing, `write_after_free` on a 0-byte block).
  /// Sizes the family does not allow are taken modulo 2^20 + 1; a calloc whose product is not allowed
  /// becomes `calloc(1, size mod 2^20 + 1)`; a clean realloc/free goes through its block's own domain.
  /// Total: every byte string gives a valid program.
  public static func decodeDomains(_ bytes: some Collection<UInt8>, maxOps: Int = Int.max) -> Program {
    domainsBody(bytes, maxOps: maxOps)
  }

  /// The same for an array (the fuzz targets' input), specialized here.
  public static func decodeDomains(_ bytes: [UInt8], maxOps: Int = Int.max) -> Program {
    domainsBody(bytes, maxOps: maxOps)
  }

  @inline(__always)
  static func domainsBody(_ bytes: some Collection<UInt8>, maxOps: Int) -> Program {
    let opLimit = max(maxOps, 0)
    var input = FieldReader(bytes.makeIterator())
    var live = Program.LiveList(capacity: min(bytes.count, opLimit))
    var state = ProgramState()
    var ops: [Op] = []
    let noOp = DomainOp.free(.mem, nil)

    func domain() -> PyMemDomain { PyMemDomain(rawValue: Int(input.byte() % 3))! }
    func size() -> UInt64 {
      let n = input.size()
      return DomainSizes.allowed(n) ? n : n % (DomainSizes.maxBlock + 1)
    }
    /// A misusable block (two bytes LE over ``ProgramState/misusableBlocks``), or nil.
    func block() -> BlockRef? {
      let v = Int(UInt16(input.byte()) | UInt16(input.byte()) << 8)
      let blocks = state.misusableBlocks
      return blocks.isEmpty ? nil : BlockRef(blocks[v % blocks.count])
    }
    func owner(_ ref: BlockRef?, or d: PyMemDomain) -> PyMemDomain { ref.flatMap { state.domains.blocks[$0.id]?.domain } ?? d }

    while ops.count < opLimit, let tag = input.tag() {
      let kind = Op.Kind(rawValue: 16 + tag % domainKindCount)!
      let hooked = state.domains.hooked
      var op: DomainOp
      switch kind {
      case .configure:
        let c = DomainConfiguration(rawValue: input.byte() % 6)!
        op = state.domains.callsMade ? noOp : .configure(c)
      case .setupDebugHooks:
        op = state.domains.callsMade ? noOp : .setupDebugHooks
      case .domainMalloc:
        let d = domain()
        op = .malloc(d, size: size())
      case .domainCalloc:
        let d = domain()
        let c = input.size()
        let n = input.size()
        op = DomainSizes.allowedCalloc(c, n) ? .calloc(d, count: c, size: n) : .calloc(d, count: 1, size: n % (DomainSizes.maxBlock + 1))
      case .domainRealloc:
        let d = domain()
        let ref = input.ref(live)
        op = .realloc(owner(ref, or: d), ref, size: size())
      case .domainFree:
        let d = domain()
        let ref = input.ref(live)
        op = .free(owner(ref, or: d), ref)
      case .writePastEnd:
        let ref = block()
        let count = 1 + input.byte() % 8
        let value = input.byte()
        op = ref.map { .writePastEnd($0, count: count, byte: value) } ?? noOp
      case .writeBeforeStart:
        let ref = block()
        let count = 1 + input.byte() % 16
        let value = input.byte()
        op = ref.map { .writeBeforeStart($0, count: count, byte: value) } ?? noOp
      case .writeAfterFree:
        let ref = block()
        let offset = input.size()
        let value = input.byte()
        let n = ref.flatMap { state.domains.blocks[$0.id]?.size } ?? 0
        op = n == 0 ? noOp : .writeAfterFree(ref!, offset: offset % n, byte: value)
      case .doubleFree:
        op = block().map { .doubleFree($0) } ?? noOp
      case .freeWrongDomain:
        let ref = block()
        let b = Int(input.byte())
        op = noOp
        if let ref, let own = state.domains.blocks[ref.id]?.domain {
          let others = PyMemDomain.allCases.filter { $0 != own && state.domains.sameBacking($0, own) }
          if !others.isEmpty { op = .freeWrongDomain(ref, others[b % others.count]) }
        }
      case .freeForeign:
        op = .freeForeign(domain())
      case .reallocFreed:
        let ref = block()
        let n = size()
        op = ref.map { .reallocFreed($0, size: n) } ?? noOp
      case .mallocWithoutGIL:
        let d = domain()
        op = .mallocWithoutGIL(d, size: size())
      default:
        preconditionFailure("\(kind.name) is not a domains-family kind")
      }
      if op.isMisuse && !hooked { op = noOp }
      track(.domain(op), state: &state, live: &live, index: ops.count)
      ops.append(.domain(op))
    }
    return Program(ops)
  }
}
