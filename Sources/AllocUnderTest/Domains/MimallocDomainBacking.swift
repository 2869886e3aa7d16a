// MimallocDomainBacking.swift — `MIMALLOC_ALLOC` and `MIMALLOC_OBJALLOC` (Objects/obmalloc.c,
// `_PyMem_MiMalloc` … `_PyObject_MiFree`) over the reference ``Mimalloc``: what `PYTHONMALLOC=mimalloc` /
// `mimalloc_debug` and the free-threaded defaults install in MEM and OBJ. Entry point:
// ``ReferenceMimallocProvider``, passed as `mimalloc:` to ``PyMemDomains/init(build:allocator:options:system:pages:mimalloc:bugs:pymallocBugs:)``.
// No state of its own beyond which thread state it allocates on; guarded by ``Mimalloc/checkInvariants()``.
//
// Which heap serves a call (spec §2.2, §5.2):
//   free-threaded build: MEM → the thread state's `MEM` heap (`heaps[_Py_MIMALLOC_HEAP_MEM]`);
//                        OBJ → its `current_object_heap` (the `OBJECT` heap unless the GC switched it).
//   GIL build (3.13+ with `PYTHONMALLOC=mimalloc`): both call plain `mi_malloc`, i.e. the calling thread's
//                        default heap. The reference has no untagged default heap; the thread's backing heap
//                        (tag MEM, no QSBR) plays that part — same page policy, same free path.
// Free is always `mi_free` (the owning page decides), realloc `mi_heap_realloc` on the same heap as malloc.

/// Supplies mimalloc backings that allocate on one thread state of a reference ``Mimalloc``.
/// A ``PyMemDomains`` is confined to one thread (the model holds the GIL), so one ``MiThread`` is enough:
/// the interpreter's main thread state unless another is given.
public final class ReferenceMimallocProvider: MimallocBackingProvider {
  public let mimalloc: Mimalloc
  public let thread: MiThread
  /// Which heap `PyObject_Malloc` uses in the free-threaded build (`current_object_heap`); the GC points it
  /// at `GC` or `GC_PRE` while it allocates objects of those kinds. Read on every OBJ call.
  public var currentObjectHeap: HeapTag = .object

  public init(mimalloc: Mimalloc = Mimalloc(), thread: MiThread? = nil) {
    self.mimalloc = mimalloc
    self.thread = thread ?? mimalloc.mainThread
  }

  public func backing(for heap: MimallocHeap, build: PyBuild, raw: RawAllocator) -> any BlockAllocator {
    MimallocDomainBacking(provider: self, heap: heap, freeThreaded: build.freeThreaded)
  }
}

/// One of mimalloc's two function tables as a domain backing.
public final class MimallocDomainBacking: BlockAllocator {
  let provider: ReferenceMimallocProvider
  public let heap: MimallocHeap
  public let freeThreaded: Bool

  init(provider: ReferenceMimallocProvider, heap: MimallocHeap, freeThreaded: Bool) {
    self.provider = provider
    self.heap = heap
    self.freeThreaded = freeThreaded
  }

  public var identity: AllocatorIdentity { heap == .mem ? .mimalloc : .mimallocObject }

  var mimalloc: Mimalloc { provider.mimalloc }

  /// The heap a malloc/calloc/realloc of this table runs on now.
  var target: Heap {
    guard freeThreaded else { return provider.thread.backing }  // GIL build: plain mi_malloc
    return provider.thread.heap(heap == .mem ? .mem : provider.currentObjectHeap)
  }

  public func malloc(_ size: UInt) -> UnsafeMutableRawPointer? {
    pointer(target.malloc(UInt64(size)))  // sizes above PTRDIFF_MAX fail inside mimalloc
  }

  public func calloc(_ nelem: UInt, _ elsize: UInt) -> UnsafeMutableRawPointer? {
    pointer(target.calloc(UInt64(nelem), UInt64(elsize)))  // overflow → nil inside mimalloc
  }

  public func realloc(_ p: UnsafeMutableRawPointer?, _ size: UInt) -> UnsafeMutableRawPointer? {
    pointer(target.realloc(p.map { Int(bitPattern: $0) }, UInt64(size)))
  }

  public func free(_ p: UnsafeMutableRawPointer?) {
    guard let p else { return }
    provider.thread.free(Int(bitPattern: p))
  }

  public func usableSize(_ p: UnsafeMutableRawPointer) -> Int { mimalloc.usableSize(Int(bitPattern: p)) }

  /// The block area of the used page holding `address`: a mimalloc page stays mapped while it is in use, so
  /// any block of it (live or freed) can be read. nil outside every used page — including a page the
  /// free retired and whose segment was given back, which CPython would read as wild memory.
  public func readableRange(around address: Int) -> Range<Int>? {
    guard address > 0, let page = mimalloc.livePage(containing: UInt(bitPattern: address)) else { return nil }
    let start = Int(bitPattern: page.pageStart)
    return start..<(start + page.reserved * page.blockSize)
  }

  /// `debug_offset` of the block's page as `tstate_mimalloc_bind` sets it with the debug hooks enabled
  /// (the only callers are the hooks): 0 for MEM pages, `offsetof(PyObject, ob_type)` 24 + 16 = 40 for
  /// OBJECT and GC pages, 40 + 16 = 56 for GC_PRE pages. GIL builds have no offsets.
  public func debugFillOffset(ofBlockAt base: UnsafeMutableRawPointer) -> Int {
    guard freeThreaded, let page = mimalloc.livePage(containing: UInt(bitPattern: Int(bitPattern: base))) else {
      return 0
    }
    switch page.tag {
    case .mem: return 0
    case .object, .gc: return 40
    case .gcPre: return 56
    }
  }

  private func pointer(_ address: Int?) -> UnsafeMutableRawPointer? {
    address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
  }
}
