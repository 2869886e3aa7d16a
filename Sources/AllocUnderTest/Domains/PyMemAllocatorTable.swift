// PyMemAllocatorTable.swift — a `PyMemAllocatorEx` made of closures, for hooks written inline (tests,
// harness): `{malloc, calloc, realloc, free}`, each receiving the table itself as its context the way C
// hooks receive `ctx`. A table that wraps another (``PyMemAllocatorTable/init(name:wrapping:malloc:calloc:
// realloc:free:)``) forwards ``BlockAllocator/usableSize(_:)`` and ``BlockAllocator/readableRange(around:)``
// to it, so debug hooks above keep their no-wild-reads knowledge. No state of its own.

/// A closure-based allocator table.
public final class PyMemAllocatorTable: BlockAllocator {
  public typealias Malloc = (PyMemAllocatorTable, UInt) -> UnsafeMutableRawPointer?
  public typealias Calloc = (PyMemAllocatorTable, UInt, UInt) -> UnsafeMutableRawPointer?
  public typealias Realloc = (PyMemAllocatorTable, UnsafeMutableRawPointer?, UInt) -> UnsafeMutableRawPointer?
  public typealias Free = (PyMemAllocatorTable, UnsafeMutableRawPointer?) -> Void

  public let name: String
  /// The allocator this table forwards to, if it is a hook (`hook.alloc` in _testcapi's hooks).
  public let inner: (any BlockAllocator)?
  private let mallocFn: Malloc
  private let callocFn: Calloc
  private let reallocFn: Realloc
  private let freeFn: Free

  public init(name: String, wrapping inner: (any BlockAllocator)? = nil, malloc: @escaping Malloc,
              calloc: @escaping Calloc, realloc: @escaping Realloc, free: @escaping Free) {
    self.name = name
    self.inner = inner
    mallocFn = malloc
    callocFn = calloc
    reallocFn = realloc
    freeFn = free
  }

  /// A hook that forwards every call to `inner` after telling `observe` about it.
  public convenience init(name: String, forwardingTo inner: any BlockAllocator,
                          observe: @escaping (PyMemAllocatorTable, PyMemCall) -> Void) {
    self.init(
      name: name, wrapping: inner,
      malloc: { t, n in observe(t, .malloc(n)); return inner.malloc(n) },
      calloc: { t, c, n in observe(t, .calloc(c, n)); return inner.calloc(c, n) },
      realloc: { t, p, n in observe(t, .realloc(p.map { Int(bitPattern: $0) }, n)); return inner.realloc(p, n) },
      free: { t, p in observe(t, .free(p.map { Int(bitPattern: $0) })); inner.free(p) })
  }

  public var identity: AllocatorIdentity { .custom(name) }
  public func malloc(_ size: UInt) -> UnsafeMutableRawPointer? { mallocFn(self, size) }
  public func calloc(_ nelem: UInt, _ elsize: UInt) -> UnsafeMutableRawPointer? { callocFn(self, nelem, elsize) }
  public func realloc(_ p: UnsafeMutableRawPointer?, _ size: UInt) -> UnsafeMutableRawPointer? {
    reallocFn(self, p, size)
  }
  public func free(_ p: UnsafeMutableRawPointer?) { freeFn(self, p) }
  public func usableSize(_ p: UnsafeMutableRawPointer) -> Int { inner?.usableSize(p) ?? 0 }
  public func readableRange(around address: Int) -> Range<Int>? { inner?.readableRange(around: address) }
  public func debugFillOffset(ofBlockAt base: UnsafeMutableRawPointer) -> Int {
    inner?.debugFillOffset(ofBlockAt: base) ?? 0
  }
}

/// One call seen by a hook, with pointers as addresses.
public enum PyMemCall: Sendable, Hashable {
  case malloc(UInt)
  case calloc(UInt, UInt)
  case realloc(Int?, UInt)
  case free(Int?)
}
