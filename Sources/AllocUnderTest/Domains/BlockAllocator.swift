// BlockAllocator.swift — what a PyMem domain is backed by: `PyMemAllocatorEx` ({ctx, malloc, calloc,
// realloc, free}, Include/cpython/pymem.h) as a Swift protocol, plus the identity that stands in for
// CPython's comparison of function pointers (`pymemallocator_eq` in Objects/obmalloc.c).
//
// Conformers: ``MallocBacking`` (`MALLOC_ALLOC`), ``PymallocBacking`` (`PYMALLOC_ALLOC`), ``DebugHooks``
// (`PYDBG*_ALLOC`), ``PyMemAllocatorTable`` (closures, for user hooks). A mimalloc backing plugs in through
// ``MimallocBackingProvider``. No state here, so no invariants.

/// A C-style allocator installed in a domain. Sizes are `size_t`; the public wrappers (``PyMemDomains``)
/// have already refused sizes above `PY_SSIZE_T_MAX`, but an allocator may still be called directly
/// (for example by a hook above it) and must then answer nil rather than trap.
public protocol BlockAllocator: AnyObject {
  /// Which upstream function table this is, for `_PyMem_GetCurrentAllocatorName`.
  var identity: AllocatorIdentity { get }
  func malloc(_ size: UInt) -> UnsafeMutableRawPointer?
  func calloc(_ nelem: UInt, _ elsize: UInt) -> UnsafeMutableRawPointer?
  /// nil `p` is malloc. On nil (failure) `p` is still live and unchanged.
  func realloc(_ p: UnsafeMutableRawPointer?, _ size: UInt) -> UnsafeMutableRawPointer?
  /// nil is a no-op.
  func free(_ p: UnsafeMutableRawPointer?)
  /// Bytes usable in the live block `p`.
  func usableSize(_ p: UnsafeMutableRawPointer) -> Int
  /// Model-only (CPython has no such question): a range of addresses that contains `address` and is known
  /// to be mapped and readable because this allocator (or one below it) handed it out — a live block, an
  /// arena; nil when nothing is known. The debug hooks read headers and pads only inside such a range, so
  /// where CPython would read wild memory the model reports a value instead of crashing.
  func readableRange(around address: Int) -> Range<Int>?
  /// Model of `fill_mem_debug` (obmalloc.c, free-threaded OBJ blocks): how many leading bytes of the block
  /// at `base` the debug fills must leave alone (mimalloc's `debug_offset`). 0 for every backing but
  /// free-threaded mimalloc.
  func debugFillOffset(ofBlockAt base: UnsafeMutableRawPointer) -> Int
}

extension BlockAllocator {
  public var identity: AllocatorIdentity { .custom(String(describing: Self.self)) }
  public func readableRange(around address: Int) -> Range<Int>? { nil }
  public func debugFillOffset(ofBlockAt base: UnsafeMutableRawPointer) -> Int { 0 }
}

/// Names the upstream function tables that `_PyMem_GetCurrentAllocatorName` compares against.
public enum AllocatorIdentity: Hashable, Sendable, CustomStringConvertible {
  /// `MALLOC_ALLOC`: `_PyMem_RawMalloc` & co. (C malloc, size 0 → 1).
  case malloc
  /// `PYMALLOC_ALLOC`: `_PyObject_Malloc` & co.
  case pymalloc
  /// `MIMALLOC_ALLOC`: `_PyMem_MiMalloc` & co. (the MEM heap).
  case mimalloc
  /// `MIMALLOC_OBJALLOC`: `_PyObject_MiMalloc` & co. (the thread's current object heap).
  case mimallocObject
  /// `PYDBGRAW_ALLOC` / `PYDBGMEM_ALLOC` / `PYDBGOBJ_ALLOC`: the debug functions with the context of
  /// that domain (`&_PyRuntime.allocators.debug.<domain>`).
  case debugHooks(PyMemDomain)
  /// Anything else (user hooks, tracemalloc-like wrappers).
  case custom(String)

  public var description: String {
    switch self {
    case .malloc: "malloc"
    case .pymalloc: "pymalloc"
    case .mimalloc: "mimalloc"
    case .mimallocObject: "mimalloc (object heap)"
    case .debugHooks(let d): "debug hooks (\(d))"
    case .custom(let name): name
    }
  }
}

/// Which mimalloc heap a backing serves: `_Py_MIMALLOC_HEAP_MEM` for MEM, the thread's current object heap
/// for OBJ (obmalloc.c, `_PyMem_MiMalloc` vs `_PyObject_MiMalloc`).
public enum MimallocHeap: Sendable, Hashable, Codable {
  case mem
  case object
}

/// The plug-in point for the mimalloc reference allocator (built elsewhere). Until one is given,
/// configurations that need mimalloc fail with ``PyMemConfigError/backingNotAvailable(name:backing:)``.
public protocol MimallocBackingProvider: AnyObject {
  /// The allocator for one heap kind. Its ``BlockAllocator/identity`` should be ``AllocatorIdentity/mimalloc``
  /// for `.mem` and ``AllocatorIdentity/mimallocObject`` for `.object`, so allocator names come out right.
  /// Its raw fallback (if any) must go through `raw`, the RAW domain.
  func backing(for heap: MimallocHeap, build: PyBuild, raw: RawAllocator) -> any BlockAllocator
}
