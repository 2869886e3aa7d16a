// DomainOp.swift — the ops of the domains family (issue 4): CPython's PyMem domains on top of the
// allocators. ``DomainOp`` holds configuration (`configure(NAME)`, `setup_debug_hooks()`), the clean calls
// of each domain (`PyMem_RawMalloc` … `PyObject_Free`) and the misuse ops, which are valid only where the
// debug hooks are on (``ProgramState`` decides). ``DomainConfiguration`` is the PYTHONMALLOC name;
// ``DomainSizes`` the size rule that keeps every run fast and every failure predictable.
//
// Misuse ops that need a freed block free it themselves first (`double_free(p3)` = free p3 through its
// domain, then free it again), so a program never holds a dead name and the freed memory's state is the one
// right after that free. A misuse whose predicted outcome is a fatal error ends the run there (CPython
// aborts); the executor (DomainsExecutor.swift) compares prediction and outcome.

import AllocUnderTest

/// A `PYTHONMALLOC` value a domains-family program can start with (release build: no mimalloc).
public enum DomainConfiguration: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
  case `default` = 0, malloc = 1, pymalloc = 2, debug = 3, mallocDebug = 4, pymallocDebug = 5

  /// The name given to `_PyMem_SetupAllocators` ("" for the build default).
  public var pythonMalloc: String {
    switch self {
    case .default: ""
    case .malloc: "malloc"
    case .pymalloc: "pymalloc"
    case .debug: "debug"
    case .mallocDebug: "malloc_debug"
    case .pymallocDebug: "pymalloc_debug"
    }
  }

  /// The spelling in the text form: the PYTHONMALLOC name, `default` for the build default.
  public var description: String { self == .default ? "default" : pythonMalloc }

  /// Do the debug hooks sit on all three domains after this configuration (release build)?
  public var hooked: Bool { [.debug, .mallocDebug, .pymallocDebug].contains(self) }

  /// `_PyMem_GetCurrentAllocatorName()` right after this configuration on a release build.
  public var currentName: String {
    switch self {
    case .default, .pymalloc: "pymalloc"
    case .malloc: "malloc"
    case .debug, .pymallocDebug: "pymalloc_debug"
    case .mallocDebug: "malloc_debug"
    }
  }

  /// Does pymalloc back `domain` (MEM and OBJ under the pymalloc names and the default)?
  public func pymallocBacks(_ domain: PyMemDomain) -> Bool {
    domain != .raw && ![.malloc, .mallocDebug].contains(self)
  }
}

/// The size rule of the domains family. A block is at most ``maxBlock`` bytes (the hooks fill and the
/// executor writes every byte, so a size must be cheap), or the request is one every allocator refuses at
/// once (``refusedFrom`` and up: glibc has no such address range; above PY_SSIZE_T_MAX the wrappers refuse
/// it). Sizes in between are invalid: they would succeed lazily and cost gigabytes of fill.
public enum DomainSizes {
  public static let maxBlock: UInt64 = 1 << 20
  public static let refusedFrom: UInt64 = 1 << 62

  /// True iff a request of `n` bytes is allowed in a domains program.
  public static func allowed(_ n: UInt64) -> Bool { n <= maxBlock || n >= refusedFrom }
  /// True iff a request of `n` bytes must give NULL.
  public static func refused(_ n: UInt64) -> Bool { n >= refusedFrom }
  /// calloc's byte count, `nil` when the product overflows (refused by the wrappers).
  public static func product(_ count: UInt64, _ size: UInt64) -> UInt64? {
    let (p, overflow) = count.multipliedReportingOverflow(by: size)
    return overflow ? nil : p
  }
  /// A calloc request is allowed iff its product is (an overflowing product is refused: allowed).
  public static func allowedCalloc(_ count: UInt64, _ size: UInt64) -> Bool { product(count, size).map(allowed) ?? true }
  public static func refusedCalloc(_ count: UInt64, _ size: UInt64) -> Bool { product(count, size).map(refused) ?? true }
}

extension PyMemDomain {
  /// The C function a domain op names in the text form: `PyMem_RawMalloc`, `PyObject_Free`, …
  public func function(_ call: String) -> String { functionPrefix + call }
}

/// One op of the domains family. Block refs follow the usual rule: allocating calls define the next
/// `p<k>`; `free`/`realloc` and the freeing misuses consume their block.
public enum DomainOp: Hashable, Sendable {
  /// `configure(NAME)`: `_PyMem_SetupAllocators(NAME)`; only before the first domain call.
  case configure(DomainConfiguration)
  /// `setup_debug_hooks()`: `PyMem_SetupDebugHooks()`; only before the first domain call.
  case setupDebugHooks
  case malloc(PyMemDomain, size: UInt64)
  case calloc(PyMemDomain, count: UInt64, size: UInt64)
  /// Through `domain`, which must be the block's own.
  case realloc(PyMemDomain, BlockRef?, size: UInt64)
  /// Through `domain`, which must be the block's own.
  case free(PyMemDomain, BlockRef?)
  // Misuse ops (hooks on, the block non-NULL).
  /// `write_past_end(pK, count, byte)`: `p[N ..< N+count] = byte`, count 1…8 (within the trailing pad).
  case writePastEnd(BlockRef, count: UInt8, byte: UInt8)
  /// `write_before_start(pK, count, byte)`: `p[-count ..< 0] = byte`, count 1…16 (within the header).
  case writeBeforeStart(BlockRef, count: UInt8, byte: UInt8)
  /// `write_after_free(pK, offset, byte)`: free pK, then `p[offset] = byte` (offset < N).
  case writeAfterFree(BlockRef, offset: UInt64, byte: UInt8)
  /// `double_free(pK)`: free pK through its domain, then again.
  case doubleFree(BlockRef)
  /// `free_wrong_domain(pK, DOMAIN)`: free pK through another domain that has the same backing.
  case freeWrongDomain(BlockRef, PyMemDomain)
  /// `free_foreign(DOMAIN)`: free a pointer this interpreter never made.
  case freeForeign(PyMemDomain)
  /// `realloc_freed(pK, n)`: free pK, then realloc it.
  case reallocFreed(BlockRef, size: UInt64)
  /// `malloc_without_gil(DOMAIN, n)`: a malloc while the GIL is released; the harness frees any result.
  case mallocWithoutGIL(PyMemDomain, size: UInt64)

  public var kind: Op.Kind {
    switch self {
    case .configure: .configure
    case .setupDebugHooks: .setupDebugHooks
    case .malloc: .domainMalloc
    case .calloc: .domainCalloc
    case .realloc: .domainRealloc
    case .free: .domainFree
    case .writePastEnd: .writePastEnd
    case .writeBeforeStart: .writeBeforeStart
    case .writeAfterFree: .writeAfterFree
    case .doubleFree: .doubleFree
    case .freeWrongDomain: .freeWrongDomain
    case .freeForeign: .freeForeign
    case .reallocFreed: .reallocFreed
    case .mallocWithoutGIL: .mallocWithoutGIL
    }
  }

  /// The domain an op calls through (the block's own for block misuses: nil, the block decides).
  public var domain: PyMemDomain? {
    switch self {
    case .malloc(let d, _), .calloc(let d, _, _), .realloc(let d, _, _), .free(let d, _), .freeForeign(let d),
      .mallocWithoutGIL(let d, _):
      d
    default: nil
    }
  }

  /// Any block operand (read, written or consumed).
  public var operand: BlockRef? {
    switch self {
    case .realloc(_, let r, _), .free(_, let r): r
    case .writePastEnd(let r, _, _), .writeBeforeStart(let r, _, _), .writeAfterFree(let r, _, _), .doubleFree(let r),
      .freeWrongDomain(let r, _), .reallocFreed(let r, _):
      r
    default: nil
    }
  }

  /// The block operand this op consumes (all but the two write misuses, which leave the block live).
  public var consumed: BlockRef? {
    switch self {
    case .writePastEnd, .writeBeforeStart: nil
    default: operand
    }
  }

  public var isMisuse: Bool { kind.rawValue >= Op.Kind.writePastEnd.rawValue }

  /// Numeric operands in source order (bytes and counts included).
  public var fields: [UInt64] {
    switch self {
    case .malloc(_, let n), .realloc(_, _, let n), .reallocFreed(_, let n), .mallocWithoutGIL(_, let n): [n]
    case .calloc(_, let c, let n): [c, n]
    case .writePastEnd(_, let c, let b), .writeBeforeStart(_, let c, let b): [UInt64(c), UInt64(b)]
    case .writeAfterFree(_, let o, let b): [o, UInt64(b)]
    default: []
    }
  }

  public func replacingField(_ index: Int, with v: UInt64) -> DomainOp {
    switch (self, index) {
    case (.malloc(let d, _), 0): .malloc(d, size: v)
    case (.realloc(let d, let r, _), 0): .realloc(d, r, size: v)
    case (.reallocFreed(let r, _), 0): .reallocFreed(r, size: v)
    case (.mallocWithoutGIL(let d, _), 0): .mallocWithoutGIL(d, size: v)
    case (.calloc(let d, _, let n), 0): .calloc(d, count: v, size: n)
    case (.calloc(let d, let c, _), 1): .calloc(d, count: c, size: v)
    case (.writePastEnd(let r, _, let b), 0): .writePastEnd(r, count: UInt8(truncatingIfNeeded: v), byte: b)
    case (.writePastEnd(let r, let c, _), 1): .writePastEnd(r, count: c, byte: UInt8(truncatingIfNeeded: v))
    case (.writeBeforeStart(let r, _, let b), 0): .writeBeforeStart(r, count: UInt8(truncatingIfNeeded: v), byte: b)
    case (.writeBeforeStart(let r, let c, _), 1): .writeBeforeStart(r, count: c, byte: UInt8(truncatingIfNeeded: v))
    case (.writeAfterFree(let r, _, let b), 0): .writeAfterFree(r, offset: v, byte: b)
    case (.writeAfterFree(let r, let o, _), 1): .writeAfterFree(r, offset: o, byte: UInt8(truncatingIfNeeded: v))
    default: preconditionFailure("op \(self) has no numeric field \(index)")
    }
  }

  /// The same op with its block operand renamed; nil when `block` returns nil.
  public func renaming(_ block: (BlockRef) -> BlockRef?) -> DomainOp? {
    guard let old = operand else { return self }
    guard let new = block(old) else { return nil }
    switch self {
    case .realloc(let d, _, let n): return .realloc(d, new, size: n)
    case .free(let d, _): return .free(d, new)
    case .writePastEnd(_, let c, let b): return .writePastEnd(new, count: c, byte: b)
    case .writeBeforeStart(_, let c, let b): return .writeBeforeStart(new, count: c, byte: b)
    case .writeAfterFree(_, let o, let b): return .writeAfterFree(new, offset: o, byte: b)
    case .doubleFree: return .doubleFree(new)
    case .freeWrongDomain(_, let d): return .freeWrongDomain(new, d)
    case .reallocFreed(_, let n): return .reallocFreed(new, size: n)
    default: return self
    }
  }

  /// The text form's call: `PyMem_RawMalloc(16)`, `write_past_end(p0, 1, 0x78)`, `configure(pymalloc_debug)`.
  public var text: String {
    func r(_ ref: BlockRef?) -> String { ref.map(\.description) ?? "NULL" }
    func x(_ b: UInt8) -> String { "0x" + (b < 16 ? "0" : "") + String(b, radix: 16) }
    switch self {
    case .configure(let c): return "configure(\(c))"
    case .setupDebugHooks: return "setup_debug_hooks()"
    case .malloc(let d, let n): return "\(d.function("Malloc"))(\(n))"
    case .calloc(let d, let c, let n): return "\(d.function("Calloc"))(\(c), \(n))"
    case .realloc(let d, let ref, let n): return "\(d.function("Realloc"))(\(r(ref)), \(n))"
    case .free(let d, let ref): return "\(d.function("Free"))(\(r(ref)))"
    case .writePastEnd(let ref, let c, let b): return "write_past_end(\(ref), \(c), \(x(b)))"
    case .writeBeforeStart(let ref, let c, let b): return "write_before_start(\(ref), \(c), \(x(b)))"
    case .writeAfterFree(let ref, let o, let b): return "write_after_free(\(ref), \(o), \(x(b)))"
    case .doubleFree(let ref): return "double_free(\(ref))"
    case .freeWrongDomain(let ref, let d): return "free_wrong_domain(\(ref), \(d.textName))"
    case .freeForeign(let d): return "free_foreign(\(d.textName))"
    case .reallocFreed(let ref, let n): return "realloc_freed(\(ref), \(n))"
    case .mallocWithoutGIL(let d, let n): return "malloc_without_gil(\(d.textName), \(n))"
    }
  }
}

extension PyMemDomain {
  /// The operand spelling in misuse ops: `raw`, `mem`, `obj`.
  public var textName: String {
    switch self {
    case .raw: "raw"
    case .mem: "mem"
    case .obj: "obj"
    }
  }
}
